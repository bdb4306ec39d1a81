//! The conversation target: load on a user's WhatsApp bot. Request `n` is the inbound message of
//! user `recipients[n]` (a Cloud `messages` webhook, signed with `X-Hub-Signature-256` as Meta signs
//! it) POSTed to the bot's webhook endpoint; its latency is how long the endpoint took to take it.
//! The bot's replies reach the simulated Cloud API, whose observer feeds the
//! [`ConversationTracker`]: the time from the intended send time of each user message to the bot's
//! first reply is the conversation's own measure.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use ::http::header::{CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT};
use ::http::{Method, Request, StatusCode, Uri};
use bytes::Bytes;
use http_body_util::Full;

use super::base::{Base, target_base_methods};
use super::webhook::HookSecrets;
use crate::engine::metrics::Outcome;
use crate::engine::target::{Answer, Classified, Endpoint, Target};
use crate::spec::conversation::ConversationSpec;
use crate::spec::net::Net;
use crate::spec::recipients::Recipients;
use crate::spec::{TargetKind, TargetSpec};
use crate::webhook::conversation::ConversationTracker;
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
}

impl std::fmt::Debug for Wiring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Wiring { tracker, user_wrote, identity, secrets: <redacted> }")
    }
}

pub struct ConversationTarget {
    base: Base,
    uri: Uri,
    headers: HeaderMap,
    signer: Verifier,
    spec: ConversationSpec,
    users: Arc<Recipients>,
    seed: u64,
    wiring: Wiring,
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
        Ok(ConversationTarget {
            base: Base::new(TargetKind::Conversation, spec, endpoint),
            uri,
            headers,
            signer: Verifier::new(secret),
            spec: spec.conversation_spec().into_owned(),
            users,
            seed,
            wiring,
        })
    }

    /// Reach the bot with `net` (the profile's TLS, proxy and `connect_to`).
    pub fn with_net(mut self, net: Arc<Net>) -> Self {
        self.base.net = net;
        self
    }

    /// The user who writes message `seq`: a WhatsApp id (digits).
    pub fn user(&self, seq: u64) -> &str {
        self.users.get(seq).trim_start_matches('+')
    }

    /// The id of user message `seq` (unique in the run).
    pub fn message_id(&self, seq: u64) -> String {
        format!("wamid.HBgMwabench{:08x}{seq:012x}", (self.seed as u32) ^ 0x5eed)
    }

    /// The signed body of user message `seq`, and its signature.
    pub fn body(&self, seq: u64) -> (Vec<u8>, String) {
        let m = InboundMessage {
            from: self.user(seq).to_string(),
            id: self.message_id(seq),
            timestamp: chrono::Utc::now().timestamp(),
            body: self.spec.text(seq).to_string(),
            user: (self.wiring.identity)(self.user(seq)),
            changed_from: None,
        };
        let s = &self.spec;
        let body = serde_json::to_vec(&cloud_inbound(&s.waba_id, &s.phone_number_id, &s.display_phone_number, &m))
            .unwrap_or_default();
        let sig = self.signer.sign(&body);
        (body, sig)
    }
}

impl Target for ConversationTarget {
    target_base_methods!(base);
    fn starting(&self, seq: u64, attempt: u32, intended: Instant) {
        if attempt == 1 {
            let user = self.user(seq);
            (self.wiring.user_wrote)(user);
            self.wiring.tracker.turn(user, &self.message_id(seq), intended);
        }
    }
    fn request(&self, seq: u64) -> Request<Full<Bytes>> {
        let (body, sig) = self.body(seq);
        let mut headers = self.headers.clone();
        if let Ok(v) = HeaderValue::from_str(&sig) {
            headers.insert(SIGNATURE_HEADER, v);
        }
        let mut req = Request::new(Full::new(Bytes::from(body)));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = self.uri.clone();
        *req.headers_mut() = headers;
        req
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
            self.wiring.tracker.not_delivered(self.user(seq), &self.message_id(seq));
        }
    }
    fn recipient(&self, seq: u64) -> Option<String> {
        Some(self.user(seq).to_string())
    }
}
