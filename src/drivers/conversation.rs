//! The conversation target: load on a user's WhatsApp bot. Request `n` is the first turn of
//! conversation `n`: the inbound message of user `recipients[n]` (a Cloud `messages` webhook, signed
//! with `X-Hub-Signature-256` as Meta signs it) POSTed to the bot's webhook endpoint; its latency is
//! how long the endpoint took to take it. The bot's replies reach the simulated Cloud API, whose
//! observer feeds the [`ConversationTracker`]: the time from the intended send time of each user
//! message to the bot's first reply is the conversation's own measure. In a scripted conversation
//! the next turns are posted by a [`Runner`] of the target's own, `think` after the bot's first reply
//! to the turn before.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::http::header::{CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT};
use ::http::{Method, Request, StatusCode, Uri};
use bytes::Bytes;
use http_body_util::Full;
use serde_json::{Value, json};

use super::base::{Base, target_base_methods};
use super::webhook::HookSecrets;
use crate::engine::metrics::Outcome;
use crate::engine::target::{Answer, Classified, Endpoint, Target};
use crate::spec::conversation::{ConversationSpec, TurnSpec};
use crate::spec::net::Net;
use crate::spec::recipients::Recipients;
use crate::spec::{TargetKind, TargetSpec};
use crate::webhook::conversation::{Answered, ConversationTracker, choices};
use crate::webhook::signature::{SIGNATURE_HEADER, Verifier};
use crate::webhook::{InboundMessage, cloud_inbound};

/// The identity of the user with the given phone digits.
pub type IdentityOf = dyn Fn(&str) -> Option<crate::webhook::UserIdentity> + Send + Sync;

/// What a conversation target is wired to: the tracker of its turns and replies, what to do when a
/// user writes (the simulator opens the user's window and counts the message against the number's
/// throughput), and the secrets the run uses with the bot.
#[derive(Clone)]
pub struct Wiring {
    pub tracker: Arc<ConversationTracker>,
    pub user_wrote: Arc<dyn Fn(&str) + Send + Sync>,
    /// A user's BSUID and username as the simulator knows them (the 2026 shapes), or `None`.
    pub identity: Arc<IdentityOf>,
    pub secrets: HookSecrets,
    /// The part of a sharded run this is (index, count): each shard's users are its own.
    pub shard: (u64, u64),
}

impl std::fmt::Debug for Wiring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Wiring { tracker, user_wrote, identity, secrets: <redacted> }")
    }
}

/// What a user writes in a turn: text, or a pick of the bot's last interactive message.
#[derive(Debug, Clone, PartialEq)]
pub enum Said {
    Text(String),
    /// `button_reply` or `list_reply`, with the picked id and title.
    Picked {
        kind: &'static str,
        id: String,
        title: String,
    },
}

/// Builds and signs the users' messages (shared by the target and its runner).
struct Writer {
    uri: Uri,
    headers: HeaderMap,
    signer: Verifier,
    spec: ConversationSpec,
    users: Arc<Recipients>,
    seed: u64,
    identity: Arc<IdentityOf>,
    shard: (u64, u64),
}

/// The user of conversation `conv` (numbered across the whole run) among `users` users, for shard
/// `(index, count)`: in a sharded run each shard writes from its own users (those whose place in the
/// list is `index` modulo `count`), so that two shards never hold one user's conversation at once.
pub fn user_index(conv: u64, users: u64, (index, count): (u64, u64)) -> u64 {
    let own = if count > 1 && index < users { (users - index).div_ceil(count) } else { 0 };
    match own {
        0 => conv % users.max(1),
        own => index + ((conv / count) % own) * count,
    }
}

impl Writer {
    fn user(&self, conv: u64) -> &str {
        self.users.get(user_index(conv, self.users.len() as u64, self.shard)).trim_start_matches('+')
    }

    fn message_id(&self, conv: u64, index: usize) -> String {
        format!("wamid.HBgMwabench{:08x}{conv:012x}{index:02x}", (self.seed as u32) ^ 0x5eed)
    }

    /// The signed body of turn `index` of conversation `conv`, saying `said`, and its signature.
    fn body(&self, conv: u64, index: usize, said: &Said) -> (Vec<u8>, String) {
        let m = InboundMessage {
            from: self.user(conv).to_string(),
            id: self.message_id(conv, index),
            timestamp: chrono::Utc::now().timestamp(),
            body: match said {
                Said::Text(t) => t.clone(),
                Said::Picked { .. } => String::new(),
            },
            user: (self.identity)(self.user(conv)),
            changed_from: None,
        };
        let s = &self.spec;
        let mut v = cloud_inbound(&s.waba_id, &s.phone_number_id, &s.display_phone_number, &m);
        if let (Said::Picked { kind, id, title }, Some(msg)) =
            (said, v.pointer_mut("/entry/0/changes/0/value/messages/0").and_then(Value::as_object_mut))
        {
            // Meta's shape of a user's answer to an interactive message.
            msg.remove("text");
            msg.insert("type".into(), json!("interactive"));
            let mut answer = serde_json::Map::new();
            answer.insert("type".into(), json!(kind));
            answer.insert((*kind).to_string(), json!({"id": id, "title": title}));
            msg.insert("interactive".into(), Value::Object(answer));
        }
        let body = serde_json::to_vec(&v).unwrap_or_default();
        let sig = self.signer.sign(&body);
        (body, sig)
    }

    /// The headers and signed body of turn `index` of conversation `conv`.
    fn signed(&self, conv: u64, index: usize, said: &Said) -> (HeaderMap, Vec<u8>) {
        let (body, sig) = self.body(conv, index, said);
        let mut headers = self.headers.clone();
        if let Ok(v) = HeaderValue::from_str(&sig) {
            headers.insert(SIGNATURE_HEADER, v);
        }
        (headers, body)
    }

    /// The request of turn `index` of conversation `conv`.
    fn request(&self, conv: u64, index: usize, said: &Said) -> Request<Full<Bytes>> {
        let (headers, body) = self.signed(conv, index, said);
        let mut req = Request::new(Full::new(Bytes::from(body)));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = self.uri.clone();
        *req.headers_mut() = headers;
        req
    }
}

/// What turn `turn` says, given the bot's last interactive message before it: its text, or the
/// button or row it chooses (by id or title, or any with "random", seeded by `key`). A choice the
/// message does not offer (or no interactive message at all) is typed as text, as a user would.
pub fn what_to_say(turn: &TurnSpec, last_interactive: Option<&Value>, key: u64) -> Said {
    let Some(wanted) = &turn.choose else { return Said::Text(turn.text.clone().unwrap_or_default()) };
    let Some(m) = last_interactive else { return Said::Text(wanted.clone()) };
    let options = choices(m);
    let kind = match m.pointer("/interactive/type").and_then(Value::as_str) {
        Some("list") => "list_reply",
        _ => "button_reply",
    };
    let picked = match wanted.as_str() {
        "random" if !options.is_empty() => options.get((key % options.len() as u64) as usize),
        w => options.iter().find(|(id, title)| id == w || title.eq_ignore_ascii_case(w)),
    };
    match picked {
        Some((id, title)) => Said::Picked { kind, id: id.clone(), title: title.clone() },
        None => Said::Text(wanted.clone()),
    }
}

pub struct ConversationTarget {
    base: Base,
    writer: Arc<Writer>,
    wiring: Wiring,
    runner: Option<Runner>,
}

impl ConversationTarget {
    pub fn new(spec: &TargetSpec, users: Arc<Recipients>, seed: u64, wiring: Wiring) -> Result<Self, String> {
        let url = spec.url.as_deref().ok_or("url (the bot's webhook endpoint) is required")?;
        let endpoint = Endpoint::parse(url)?;
        let uri = Uri::from_str(&endpoint.path_and_query).map_err(|e| format!("bad path: {e}"))?;
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(USER_AGENT, HeaderValue::from_static("facebookexternalua"));
        super::http::add_headers(&mut headers, spec)?;
        let secret = wiring.secrets.app_secret.as_deref().ok_or("a conversation target needs an app secret")?;
        if users.is_empty() {
            return Err("no users: [recipients] is empty".into());
        }
        let writer = Arc::new(Writer {
            uri,
            headers,
            signer: Verifier::new(secret),
            spec: spec.conversation_spec().into_owned(),
            users,
            seed,
            identity: wiring.identity.clone(),
            shard: wiring.shard,
        });
        Ok(ConversationTarget {
            base: Base::new(TargetKind::Conversation, spec, endpoint),
            writer,
            wiring,
            runner: None,
        })
    }

    /// Reach the bot with `net` (the profile's TLS, proxy and `connect_to`); a scripted conversation
    /// starts its runner of next turns, posting the same way with `timeout`.
    pub fn with_net(mut self, net: Arc<Net>, timeout: Duration) -> Result<Self, String> {
        self.base.net = net;
        if self.writer.spec.turns.len() > 1 {
            self.runner = Some(Runner::start(&self.base, self.writer.clone(), self.wiring.clone(), timeout)?);
        }
        Ok(self)
    }

    /// The user who writes conversation `conv`: a WhatsApp id (digits).
    pub fn user(&self, conv: u64) -> &str {
        self.writer.user(conv)
    }

    /// The id of turn `index` of conversation `conv` (unique in the run).
    pub fn message_id(&self, conv: u64, index: usize) -> String {
        self.writer.message_id(conv, index)
    }

    /// The first turn of conversation `conv`.
    fn first(&self, conv: u64) -> Said {
        let spec = &self.writer.spec;
        match spec.turns.first() {
            Some(turn) => what_to_say(turn, None, conv),
            None => Said::Text(spec.text(conv).to_string()),
        }
    }
}

impl Target for ConversationTarget {
    target_base_methods!(base);
    fn starting(&self, seq: u64, attempt: u32, intended: Instant) {
        if attempt == 1 {
            let user = self.user(seq);
            (self.wiring.user_wrote)(user);
            self.wiring.tracker.turn(user, &self.message_id(seq, 0), seq, 0, intended);
        }
    }
    fn request(&self, seq: u64) -> Request<Full<Bytes>> {
        self.writer.request(seq, 0, &self.first(seq))
    }
    fn classify(&self, a: &Answer<'_>) -> Classified {
        // Meta counts a webhook as delivered only when answered 200.
        if a.status == StatusCode::OK {
            return Classified::final_(Outcome::Ok);
        }
        Classified::final_(Outcome::Status(a.status.as_u16()))
    }
    fn ended(&self, seq: u64, outcome: Outcome) {
        // Not taken by the endpoint (or not known to be): the turn waits for no reply.
        if outcome != Outcome::Ok {
            self.wiring.tracker.not_delivered(self.user(seq), &self.message_id(seq, 0));
        }
    }
    fn recipient(&self, seq: u64) -> Option<String> {
        Some(self.user(seq).to_string())
    }
    fn extra(&self) -> Option<serde_json::Value> {
        let r = self.runner.as_ref()?;
        Some(json!({"conversation_runner": {"posted": r.posted(), "post_failures": r.failures()}}))
    }
}

/// Posts the next turns of scripted conversations: told by the tracker when a turn is answered, it
/// waits the next turn's `think` and posts it from its own thread (the load's threads only start
/// conversations). Its posts are counted in the tracker's turns, not in the target's requests.
struct Runner {
    counts: Arc<[std::sync::atomic::AtomicU64; 2]>,
    _thread: std::thread::JoinHandle<()>,
}

impl Runner {
    fn start(base: &Base, writer: Arc<Writer>, wiring: Wiring, timeout: Duration) -> Result<Runner, String> {
        let client = base
            .net
            .reqwest(&base.endpoint)
            .timeout(timeout)
            .user_agent("facebookexternalua")
            .build()
            .map_err(|e| format!("cannot build the client of the next turns: {e}"))?;
        let e = &base.endpoint;
        let host = if e.host.contains(':') { format!("[{}]", e.host) } else { e.host.clone() };
        let origin = format!("{}://{host}:{}", if e.tls { "https" } else { "http" }, e.port);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Answered>();
        let tracker = wiring.tracker.clone();
        let hook_tracker = tracker.clone();
        // Scheduled at once, so the run waits for the turn before it ends.
        tracker.on_answer(move |a| {
            hook_tracker.scheduled();
            if tx.send(a).is_err() {
                hook_tracker.unscheduled();
            }
        });
        let counts: Arc<[std::sync::atomic::AtomicU64; 2]> = Arc::default();
        let c = counts.clone();
        let thread = std::thread::Builder::new()
            .name("wabench-conversation".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
                rt.block_on(async move {
                    let post = Arc::new(Post { client, origin, writer, wiring, counts: c });
                    while let Some(a) = rx.recv().await {
                        tokio::spawn(post.clone().next_turn(a));
                    }
                });
            })
            .map_err(|e| format!("cannot start the conversation thread: {e}"))?;
        Ok(Runner { counts, _thread: thread })
    }

    fn posted(&self) -> u64 {
        self.counts[0].load(std::sync::atomic::Ordering::Relaxed)
    }

    fn failures(&self) -> u64 {
        self.counts[1].load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// What posting a next turn needs.
struct Post {
    client: reqwest::Client,
    origin: String,
    writer: Arc<Writer>,
    wiring: Wiring,
    /// Posted, and not taken by the endpoint.
    counts: Arc<[std::sync::atomic::AtomicU64; 2]>,
}

impl Post {
    /// The turn after `a`: due `think` after the answer; posted unless the run is over.
    async fn next_turn(self: Arc<Self>, a: Answered) {
        let tracker = &self.wiring.tracker;
        let index = a.index + 1;
        // A runner exists for scripts only: the next turn is the script's.
        let Some(turn) = self.writer.spec.turns.get(index) else {
            tracker.unscheduled();
            return;
        };
        let due = a.at + turn.think.0;
        tokio::time::sleep_until(due.into()).await;
        if tracker.is_closed() {
            tracker.unscheduled();
            return;
        }
        let said = what_to_say(turn, tracker.last_interactive(&a.user, &a.id).as_ref(), a.conv ^ index as u64);
        let id = self.writer.message_id(a.conv, index);
        (self.wiring.user_wrote)(&a.user);
        tracker.turn(&a.user, &id, a.conv, index, due);
        tracker.unscheduled();
        let (headers, body) = self.writer.signed(a.conv, index, &said);
        let url = format!("{}{}", self.origin, self.writer.uri);
        let sent = self.client.post(url).headers(headers).body(body).send().await;
        self.counts[0].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if !sent.is_ok_and(|r| r.status() == StatusCode::OK) {
            self.counts[1].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracker.not_delivered(&a.user, &id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(choose: &str) -> TurnSpec {
        TurnSpec { choose: Some(choose.into()), ..Default::default() }
    }

    #[test]
    fn each_shard_writes_from_users_of_its_own() {
        // 10 users, 3 shards: shard i's conversations are i, i+3, i+6, …
        for shard in 0..3u64 {
            let used: std::collections::BTreeSet<u64> =
                (0..60).map(|k| user_index(shard + 3 * k, 10, (shard, 3))).collect();
            assert!(used.iter().all(|u| u % 3 == shard && *u < 10), "shard {shard}: {used:?}");
            assert_eq!(used.len() as u64, (10 - shard).div_ceil(3), "every user of the shard takes turns");
        }
        // Unsharded: users in turn.
        assert_eq!(
            (0..12).map(|c| user_index(c, 10, (0, 1))).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
        );
        // More shards than users: the users are shared, as there is no other way.
        assert_eq!(user_index(7, 2, (5, 8)), 1);
    }

    #[test]
    fn a_turn_picks_a_button_or_row_by_id_or_title_and_types_what_is_not_offered() {
        let buttons = json!({"type": "interactive", "interactive": {"type": "button", "action": {"buttons": [
            {"type": "reply", "reply": {"id": "orders", "title": "Orders"}},
            {"type": "reply", "reply": {"id": "help", "title": "Support"}}]}}});
        let picked = |id: &str, title: &str| Said::Picked { kind: "button_reply", id: id.into(), title: title.into() };
        assert_eq!(what_to_say(&turn("orders"), Some(&buttons), 0), picked("orders", "Orders"));
        assert_eq!(what_to_say(&turn("support"), Some(&buttons), 0), picked("help", "Support"));
        assert_eq!(what_to_say(&turn("random"), Some(&buttons), 1), picked("help", "Support"));
        assert_eq!(what_to_say(&turn("Billing"), Some(&buttons), 0), Said::Text("Billing".into()));
        assert_eq!(what_to_say(&turn("Orders"), None, 0), Said::Text("Orders".into()));
        let list = json!({"type": "interactive", "interactive": {"type": "list", "action": {"sections": [
            {"rows": [{"id": "r1", "title": "First"}]}]}}});
        assert_eq!(
            what_to_say(&turn("r1"), Some(&list), 0),
            Said::Picked { kind: "list_reply", id: "r1".into(), title: "First".into() }
        );
        let text = TurnSpec { text: Some("hi".into()), ..Default::default() };
        assert_eq!(what_to_say(&text, Some(&list), 0), Said::Text("hi".into()));
    }
}
