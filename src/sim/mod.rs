//! Embedded simulator of the WhatsApp Cloud API and On-Premises API: HTTP serving, shared state,
//! counters, and the public entry points (`serve`, `spawn_local`, `Sim`).
//!
//! One simulator serves one flavor. Responses follow Meta's documented shapes and error codes;
//! latency, limits, downtime and failing recipients follow [`SimConfig`], all seeded.

pub(crate) mod cap;
pub(crate) mod cloud;
pub(crate) mod content;
pub use crate::spec::sim as config;
pub(crate) mod deployment;
pub mod graph_proxy;
pub(crate) mod h1;
pub mod hooks;
pub mod identity;
pub(crate) mod message;
pub(crate) mod model;
pub(crate) mod onprem;
pub(crate) mod pair;
pub(crate) mod transient;
pub(crate) mod window;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

pub use config::{ConfigError, Flavor, SimConfig};

use crate::spec::recipients::is_bsuid;
use model::{LatencyModel, Recipients, request_key};

/// Response header carrying the simulated service latency in microseconds (excluding network).
pub const LATENCY_HEADER: &str = "x-sim-latency-us";

/// Snapshot of the simulator's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimStats {
    /// Requests received (all endpoints).
    pub requests: u64,
    /// Messages accepted for delivery.
    pub accepted: u64,
    /// Other successful requests (login, health, contacts, mark-as-read).
    pub other_ok: u64,
    /// Error responses by API error code.
    pub errors: BTreeMap<i64, u64>,
    /// Responses by HTTP status.
    pub http_status: BTreeMap<u16, u64>,
    /// Messages accepted and then failed (a `failed` status webhook), by error code: the
    /// asynchronous failure path (re-engagement, undeliverable, limits).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failed_later: BTreeMap<i64, u64>,
    /// Inbound user messages generated (`[simulator.inbound]`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub inbound: u64,
    /// Users whose BSUID changed (`identity.user_id_change_fraction`), each announced by a
    /// `user_changed_user_id` system message.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub user_id_changes: u64,
    /// Status webhooks posted for accepted messages (absent when webhooks are off).
    #[serde(default, skip_serializing_if = "hooks::HookStats::is_empty")]
    pub webhooks: hooks::HookStats,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl SimStats {
    /// Count of one error code.
    pub fn error_count(&self, code: i64) -> u64 {
        self.errors.get(&code).copied().unwrap_or(0)
    }
}

/// Error codes with a dedicated lock-free counter; any other code goes to a locked map.
const KNOWN_CODES: &[i64] = &[
    1, 2, 4, 10, 100, 190, 130429, 131000, 131008, 131009, 131026, 131047, 131048, 131049, 131053, 131056, 131057,
    131062, 132000, 132001, 132012, 132015, 132016, 470, 1000, 1001, 1005, 1006, 1008, 1009, 1013, 1014, 1015, 1016,
];

/// Counts by error code: a lock-free counter per known code, a locked map for the others.
#[derive(Debug)]
struct CodeCounts {
    known: Vec<AtomicU64>,
    other: Mutex<BTreeMap<i64, u64>>,
}

impl CodeCounts {
    fn new() -> Self {
        CodeCounts {
            known: KNOWN_CODES.iter().map(|_| AtomicU64::new(0)).collect(),
            other: Mutex::new(BTreeMap::new()),
        }
    }

    fn add(&self, code: i64) {
        match KNOWN_CODES.iter().position(|&k| k == code) {
            Some(i) => {
                self.known[i].fetch_add(1, Ordering::Relaxed);
            }
            None => {
                let mut m = self.other.lock().unwrap_or_else(|e| e.into_inner());
                *m.entry(code).or_insert(0) += 1;
            }
        }
    }

    fn snapshot(&self) -> BTreeMap<i64, u64> {
        let mut out = self.other.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for (code, c) in KNOWN_CODES.iter().zip(&self.known) {
            let n = c.load(Ordering::Relaxed);
            if n > 0 {
                out.insert(*code, n);
            }
        }
        out
    }
}

#[derive(Debug)]
struct Counters {
    requests: AtomicU64,
    accepted: AtomicU64,
    other_ok: AtomicU64,
    errors: CodeCounts,
    failed_later: CodeCounts,
    inbound: AtomicU64,
    user_id_changes: AtomicU64,
    status: Vec<AtomicU64>,
}

impl Counters {
    fn new() -> Self {
        Counters {
            requests: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            other_ok: AtomicU64::new(0),
            errors: CodeCounts::new(),
            failed_later: CodeCounts::new(),
            inbound: AtomicU64::new(0),
            user_id_changes: AtomicU64::new(0),
            status: (0..600).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn record(&self, reply: &Reply) {
        if let Some(c) = self.status.get(reply.status.as_u16() as usize) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        match reply.outcome {
            Outcome::Accepted => {
                self.accepted.fetch_add(1, Ordering::Relaxed);
            }
            Outcome::AcceptedFailing(code) => {
                self.accepted.fetch_add(1, Ordering::Relaxed);
                self.failed_later.add(code);
            }
            Outcome::Ok => {
                self.other_ok.fetch_add(1, Ordering::Relaxed);
            }
            // Counted by its HTTP status only.
            Outcome::NoBody => {}
            Outcome::Error(code) => self.errors.add(code),
        }
    }

    fn snapshot(&self) -> SimStats {
        let http_status = self
            .status
            .iter()
            .enumerate()
            .filter_map(|(s, c)| {
                let n = c.load(Ordering::Relaxed);
                (n > 0).then_some((s as u16, n))
            })
            .collect();
        SimStats {
            requests: self.requests.load(Ordering::Relaxed),
            accepted: self.accepted.load(Ordering::Relaxed),
            other_ok: self.other_ok.load(Ordering::Relaxed),
            errors: self.errors.snapshot(),
            http_status,
            failed_later: self.failed_later.snapshot(),
            inbound: self.inbound.load(Ordering::Relaxed),
            user_id_changes: self.user_id_changes.load(Ordering::Relaxed),
            webhooks: hooks::HookStats::default(),
        }
    }
}

/// What a request amounted to, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A message was accepted.
    Accepted,
    /// A message was accepted and will fail later with this code (a `failed` status webhook).
    AcceptedFailing(i64),
    /// Another request succeeded.
    Ok,
    /// An error with this API code.
    Error(i64),
    /// An error status without an API body (a transient 5xx).
    NoBody,
}

/// A response before the simulated delay.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
    pub outcome: Outcome,
    /// Queueing delay added on top of the sampled latency.
    pub queue_delay: Duration,
    /// The accepted message, when status webhooks are on: scheduled once the answer is released.
    pub accepted: Option<hooks::Accepted>,
}

impl Reply {
    pub fn new(status: StatusCode, body: impl Into<Bytes>, outcome: Outcome) -> Self {
        Reply { status, body: body.into(), outcome, queue_delay: Duration::ZERO, accepted: None }
    }
}

/// A request's context: its arrival number and random key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx {
    pub seq: u64,
    /// Its arrival number at this simulator (equals `seq` unless numbered otherwise).
    pub arrival: u64,
    pub key: u64,
}

/// A message send the simulator answered, as a conversation test sees it (Cloud flavor): who it went
/// to, the message it quotes, its content, and what became of it.
#[derive(Debug, Clone)]
pub struct SendSeen {
    /// `to` as given (a phone number or a group id), or `recipient`: the phone number behind a BSUID
    /// this simulator issued, else the id as given.
    pub to: String,
    /// `context.message_id`: the message it replies to, when it quotes one.
    pub context: Option<String>,
    /// The request body as sent (for what a turn expects of its reply).
    pub message: serde_json::Value,
    /// The error code it was refused with, or will fail with later (131047 outside the window, …).
    pub error: Option<i64>,
    /// When it arrived at the simulator.
    pub at: std::time::Instant,
    /// Who sent it: [`caller_of`] its bearer token (0 without one), so that the sends of two
    /// senders on one simulator are told apart without keeping a token.
    pub caller: u64,
}

/// The caller a bearer token stands for in [`SendSeen::caller`].
pub fn caller_of(token: &str) -> u64 {
    model::hash_bytes(0x00CA_11E4, token.as_bytes())
}

/// Called with every message send the simulator answers (see [`Sim::observe_sends`]).
pub type SendObserver = Arc<dyn Fn(SendSeen) + Send + Sync>;

/// State shared by all connections of one simulator.
#[derive(Debug)]
pub(crate) struct State {
    pub cfg: SimConfig,
    pub started: Instant,
    seq: AtomicU64,
    /// Request `n` is numbered `first + n * step` (see [`Sim::numbered`]).
    numbering: (u64, u64),
    pub latency: LatencyModel,
    pub recipients: Recipients,
    counters: Counters,
    pub cloud: cloud::CloudState,
    pub onprem: onprem::OnPremState,
    /// Customer service windows and the portfolio's messaging limit.
    pub conversations: window::Conversations,
    /// Status webhook sender, when a callback URL is configured.
    pub hooks: Option<hooks::Hooks>,
    /// The users' business-scoped user IDs and usernames (Cloud, 2026).
    pub identities: identity::Identities,
    /// Told of every message send, when a conversation test watches the replies.
    observer: std::sync::OnceLock<Observer>,
}

/// A [`SendObserver`] in the state (which is `Debug`).
struct Observer(SendObserver);

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SendObserver")
    }
}

impl State {
    /// Time since server start.
    pub fn elapsed(&self) -> Duration {
        Instant::now().saturating_duration_since(self.started)
    }

    /// A message to `digits` is accepted: the code it will fail with later, if any (in this
    /// order: the recipient rules, then the customer service window and the messaging limit).
    /// `reengagement` is the flavor's code (Cloud 131047, on-prem 470).
    pub fn failure_after_accept(
        &self,
        verdict: Option<i64>,
        digits: &str,
        template: bool,
        reengagement: i64,
    ) -> Option<i64> {
        verdict.or_else(|| match self.conversations.later(digits, template, self.elapsed()) {
            window::Later::Delivers => None,
            window::Later::ReEngagement => Some(reengagement),
            window::Later::OverLimit => Some(self.cfg.messaging_limit.over_limit_code),
        })
    }

    /// The user `from` wrote to the business (message `k` of the inbound generator): the window
    /// opens, the message takes its share of the number's capacity, and its webhook is posted.
    fn inbound_arrived(&self, from: &str, k: u64) {
        if self.cfg.flavor == Flavor::Cloud && self.bsuid_changes(from, k) {
            return;
        }
        self.user_wrote(from);
        if let Some(h) = &self.hooks {
            let phone = self.inbound_phone();
            let mut id = String::from("wamid.HBgLin");
            model::base64url(&model::mix64(self.cfg.seed ^ 0x1B0D ^ k).to_be_bytes(), &mut id);
            let timestamp = chrono::Utc::now().timestamp();
            let body = "Hello, I have a question about my order".to_string();
            // The On-Premises API predates BSUIDs: its users are known by number only.
            let user = match self.cfg.flavor {
                Flavor::Cloud => self.identities.of(from),
                Flavor::OnPrem => None,
            };
            let changed_from = None;
            h.inbound(
                crate::webhook::InboundMessage { from: from.to_string(), id, timestamp, body, user, changed_from },
                phone,
            );
        }
    }

    /// The user `from` wrote: the window opens, and the message takes its share of the number's
    /// capacity (Meta counts inbound and outbound together).
    fn user_wrote(&self, from: &str) {
        self.conversations.windows.user_wrote(from, self.elapsed());
        self.counters.inbound.fetch_add(1, Ordering::Relaxed);
        match self.cfg.flavor {
            Flavor::Cloud => cloud::inbound_takes_capacity(self, &self.inbound_phone()),
            Flavor::OnPrem => onprem::inbound_takes_capacity(self, from),
        }
    }

    /// The phone number id of the business number inbound events are addressed to.
    fn inbound_phone(&self) -> String {
        self.cfg
            .inbound
            .phone_number_id
            .clone()
            .or_else(|| self.cfg.webhooks.phone_number_id.clone())
            .unwrap_or_else(|| "100000000000001".into())
    }

    /// Event `k` of the inbound generator is, for a seeded `identity.user_id_change_fraction` of
    /// them, not a message but a BSUID change of the user `from`: the user gets a new BSUID and a
    /// `user_changed_user_id` system message is posted (Meta, system messages webhook reference;
    /// `spec::sim::identity`). No window opens: the user wrote nothing.
    fn bsuid_changes(&self, from: &str, k: u64) -> bool {
        let p = self.cfg.identity.user_id_change_fraction;
        let u =
            (model::mix64(self.cfg.seed ^ USER_ID_CHANGE_SALT ^ model::mix64(k)) >> 11) as f64 / (1u64 << 53) as f64;
        if p <= 0.0 || u >= p {
            return false;
        }
        let Some((previous, _)) = self.identities.change_user_id(from) else { return false };
        self.counters.user_id_changes.fetch_add(1, Ordering::Relaxed);
        if let Some(h) = &self.hooks {
            let mut id = String::from("wamid.HBgLsys");
            model::base64url(&model::mix64(self.cfg.seed ^ 0x5E5 ^ k).to_be_bytes(), &mut id);
            let m = crate::webhook::InboundMessage {
                from: from.to_string(),
                id,
                timestamp: chrono::Utc::now().timestamp(),
                body: String::new(),
                user: self.identities.of(from),
                changed_from: Some(previous),
            };
            h.inbound(m, self.inbound_phone());
        }
        true
    }

    /// True while a downtime window is open.
    pub fn down(&self) -> bool {
        !self.cfg.downtime.is_empty() && model::in_downtime(&self.cfg.downtime, self.elapsed())
    }
}

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// Larger than `max_body_bytes`.
    TooLarge,
    /// Its chunked framing is broken.
    Malformed,
}

/// A simulator instance: configuration, limits and counters. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Sim {
    state: Arc<State>,
}

impl Sim {
    /// Build a simulator from a configuration (validated). Its clock starts now.
    pub fn new(cfg: SimConfig) -> Result<Sim, ConfigError> {
        Self::numbered(cfg, 0, 1)
    }

    /// Like [`new`](Self::new), numbering its requests `first`, `first + step`, `first + 2·step`, …
    /// instead of 0, 1, 2, …: the simulator of shard i/N of a run numbers them i, i+N, … , so the
    /// shards' message ids never collide (their statuses may go to one receiver), and when requests
    /// arrive in the plan's order each message gets the id, and the seeded fate, it has in an
    /// unsharded run.
    pub fn numbered(cfg: SimConfig, first: u64, step: u64) -> Result<Sim, ConfigError> {
        cfg.validate()?;
        let state = State {
            started: Instant::now(),
            seq: AtomicU64::new(0),
            numbering: (first, step.max(1)),
            latency: LatencyModel::from_config(&cfg),
            recipients: Recipients::new(&cfg.recipients, cfg.seed),
            counters: Counters::new(),
            cloud: cloud::CloudState::new(&cfg)?,
            onprem: onprem::OnPremState::new(&cfg),
            conversations: window::Conversations::new(
                &cfg.service_window,
                &cfg.messaging_limit,
                &cfg.recipients,
                cfg.seed,
            ),
            hooks: hooks::Hooks::new(&cfg)?,
            identities: identity::Identities::new(&cfg.identity, cfg.seed),
            observer: std::sync::OnceLock::new(),
            cfg,
        };
        Ok(Sim { state: Arc::new(state) })
    }

    /// Call `f` with every message send this simulator answers from now on (Cloud flavor; accepted
    /// or refused, with the code it fails with): how a conversation test sees a bot's replies. Only
    /// the first observer set is kept; false when one was set before.
    pub fn observe_sends(&self, f: SendObserver) -> bool {
        self.state.observer.set(Observer(f)).is_ok()
    }

    /// The BSUID (and username) of the user with phone digits `digits`; `None` with BSUIDs off.
    pub fn identity_of(&self, digits: &str) -> Option<crate::webhook::UserIdentity> {
        self.state.identities.of(digits)
    }

    /// User `from` wrote to the business (a message posted to the bot by a conversation test, not by
    /// the simulator's own inbound generator): the user's customer service window opens and the
    /// message takes its share of the number's throughput, as Meta counts inbound and outbound
    /// together.
    pub fn user_wrote(&self, from: &str) {
        self.state.user_wrote(from);
    }

    /// The configuration in force.
    pub fn config(&self) -> &SimConfig {
        &self.state.cfg
    }

    /// Accepted messages whose status webhooks are not planned yet (0 without webhooks): with
    /// [`SimStats::webhooks`]' planned, posted and given-up counts, what is still to come.
    pub fn webhooks_unscheduled(&self) -> u64 {
        self.state.hooks.as_ref().map_or(0, hooks::Hooks::unscheduled)
    }

    /// Current counters.
    pub fn stats(&self) -> SimStats {
        let mut s = self.state.counters.snapshot();
        if let Some(h) = &self.state.hooks {
            s.webhooks = h.stats();
        }
        s
    }

    /// Serve on an already-bound listener until `shutdown` resolves, then close all connections.
    /// At most `server.max_connections` connections are served at once: one accepted beyond that
    /// is closed at once (its client sees the connection end, or reset if it had sent a request,
    /// instead of waiting unanswered),
    /// and one line on stderr says the cap was reached, again only after the count fell below 90 %.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut conns = JoinSet::new();
        let hooks = self.state.hooks.as_ref().and_then(hooks::Hooks::start);
        let inbound = (self.state.cfg.inbound.rate > 0.0).then(|| tokio::spawn(inbound_loop(self.state.clone())));
        let server = &self.state.cfg.server;
        let limits = h1::Limits {
            body: self.state.cfg.max_body_bytes,
            read_header: server.read_header_timeout,
            idle: server.idle_timeout,
        };
        let mut cap = cap::ConnectionCap::new(server.max_connections);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        while conns.try_join_next().is_some() {}
                        if !cap.admits(conns.len()) {
                            drop(stream);
                            continue;
                        }
                        let _ = stream.set_nodelay(true);
                        let state = self.state.clone();
                        conns.spawn(async move {
                            h1::serve_connection(stream, limits, |req| handle(&state, req)).await;
                        });
                    }
                    // Out of file descriptors and similar: back off briefly, keep serving.
                    Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                },
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
        conns.shutdown().await;
        if let Some(t) = inbound {
            t.abort();
        }
        if let Some(h) = hooks {
            h.stop().await;
        }
        Ok(())
    }
}

/// Salt of the inbound generator's BSUID changes.
const USER_ID_CHANGE_SALT: u64 = 0x1B0D_5EED_0000_0C4A;

/// Salt of the inbound generator's choice of users.
const INBOUND_SALT: u64 = 0x1B0D_5EED_0000_0001;

/// The inbound generator: message `k` is due `(k + 1) / rate` seconds after server start, from a
/// user chosen by a hash of the seed and `k`; at most `max_messages`.
async fn inbound_loop(state: Arc<State>) {
    let cfg = &state.cfg.inbound;
    // Recipients given as BSUIDs write as the users behind them; BSUIDs of no user of this
    // portfolio cannot write.
    let users: Vec<String> = cfg
        .users_or_default()
        .into_iter()
        .filter_map(|u| if is_bsuid(&u) { state.identities.resolve(&u) } else { Some(u) })
        .collect();
    if users.is_empty() {
        return;
    }
    for k in 0..cfg.max_messages {
        let at = Duration::try_from_secs_f64((k + 1) as f64 / cfg.rate).unwrap_or(Duration::MAX);
        let Some(due) = state.started.checked_add(at) else { return };
        tokio::time::sleep_until(due).await;
        let from = &users[(request_key(state.cfg.seed ^ INBOUND_SALT, k) % users.len() as u64) as usize];
        state.inbound_arrived(from, k);
    }
}

async fn handle(state: &State, req: h1::Req) -> h1::Answer {
    let (first, step) = state.numbering;
    let arrival = state.seq.fetch_add(1, Ordering::Relaxed);
    let seq = first.wrapping_add(arrival.wrapping_mul(step));
    state.counters.requests.fetch_add(1, Ordering::Relaxed);
    let ctx = Ctx { seq, arrival, key: request_key(state.cfg.seed, seq) };
    let watched = state.observer.get().and_then(|_| watched_send(state, &req));
    let failure = transient::of_request(state, &req, ctx);
    let reply = match failure.and_then(|t| transient::reply(state, t, ctx)) {
        Some(r) => r,
        None => match state.cfg.flavor {
            Flavor::Cloud => cloud::handle(state, req, ctx).await,
            Flavor::OnPrem => onprem::handle(state, req, ctx).await,
        },
    };
    state.counters.record(&reply);
    if let (Some(o), Some(w)) = (state.observer.get(), watched) {
        let mut seen = w.seen(&reply.outcome);
        // A reply sent to a user's BSUID (`recipient`) is one to the user behind it.
        seen.to = state.identities.resolve(&seen.to).unwrap_or(seen.to);
        o.0(seen);
    }
    let mut delay =
        if state.latency.is_zero() { reply.queue_delay } else { state.latency.sample(ctx.key) + reply.queue_delay };
    if failure == Some(transient::Transient::Stall) {
        delay += state.cfg.transient.stall_for;
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let (Some(h), Some(a)) = (&state.hooks, reply.accepted) {
        h.accepted(a);
    }
    h1::Answer { status: reply.status, body: reply.body, latency_us: delay.as_micros() as u64 }
}

/// A message send a conversation test watches, as it arrived (its outcome comes with the reply).
struct Watched {
    message: serde_json::Value,
    at: std::time::Instant,
    caller: u64,
}

impl Watched {
    fn seen(self, outcome: &Outcome) -> SendSeen {
        let field = |k: &str| self.message.get(k).and_then(serde_json::Value::as_str).map(str::to_string);
        let error = match outcome {
            Outcome::AcceptedFailing(code) | Outcome::Error(code) => Some(*code),
            // A transient 5xx without an API body: Meta's code for an unknown error.
            Outcome::NoBody => Some(1),
            Outcome::Accepted | Outcome::Ok => None,
        };
        SendSeen {
            to: field("to").or_else(|| field("recipient")).unwrap_or_default(),
            context: self.message.pointer("/context/message_id").and_then(|v| v.as_str()).map(str::to_string),
            error,
            at: self.at,
            caller: self.caller,
            message: self.message,
        }
    }
}

/// The send a request carries, when it is one a conversation test watches: a Cloud `POST …/messages`
/// whose body is a JSON object naming a recipient (a mark-as-read is not a reply).
fn watched_send(state: &State, req: &h1::Req) -> Option<Watched> {
    let at = std::time::Instant::now();
    if state.cfg.flavor != Flavor::Cloud || req.method() != http::Method::POST || !req.path().ends_with("/messages") {
        return None;
    }
    let message: serde_json::Value = serde_json::from_slice(req.body()?).ok()?;
    let names = |k: &str| message.get(k).is_some_and(serde_json::Value::is_string);
    let caller = bearer(req).map_or(0, caller_of);
    (names("to") || names("recipient")).then_some(Watched { message, at, caller })
}

/// Serve the simulator on an already-bound listener until `shutdown` resolves. Never binds by
/// itself. An invalid configuration is an `InvalidInput` error.
pub async fn serve(
    listener: TcpListener,
    cfg: SimConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sim = Sim::new(cfg).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    sim.serve(listener, shutdown).await
}

/// A simulator running on a task of the current runtime. Dropping it (or `stop`) shuts it down.
#[derive(Debug)]
pub struct SimHandle {
    /// Where it listens (127.0.0.1 and an ephemeral port).
    pub addr: SocketAddr,
    sim: Sim,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl SimHandle {
    /// Signal shutdown (does not wait for it).
    pub fn stop(mut self) {
        self.signal();
    }

    /// Signal shutdown and wait until every connection is closed.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        self.signal();
        match self.task.take() {
            Some(t) => t.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }

    /// Current counters.
    pub fn stats(&self) -> SimStats {
        self.sim.stats()
    }

    /// The simulator itself.
    pub fn sim(&self) -> &Sim {
        &self.sim
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn signal(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.signal();
    }
}

/// Bind 127.0.0.1:0, spawn the simulator on the current tokio runtime and return its handle.
pub async fn spawn_local(cfg: SimConfig) -> std::io::Result<SimHandle> {
    spawn_local_numbered(cfg, 0, 1).await
}

/// Like [`spawn_local`], numbering requests as [`Sim::numbered`] does.
pub async fn spawn_local_numbered(cfg: SimConfig, first: u64, step: u64) -> std::io::Result<SimHandle> {
    spawn_at(cfg, SocketAddr::from(([127, 0, 0, 1], 0)), first, step).await
}

/// Bind `listen`, spawn the simulator on the current tokio runtime (numbering requests as
/// [`Sim::numbered`] does) and return its handle.
pub async fn spawn_at(cfg: SimConfig, listen: SocketAddr, first: u64, step: u64) -> std::io::Result<SimHandle> {
    let sim = Sim::numbered(cfg, first, step).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let runner = sim.clone();
    let task = tokio::spawn(async move {
        runner
            .serve(listener, async move {
                let _ = rx.await;
            })
            .await
    });
    Ok(SimHandle { addr, sim, stop: Some(tx), task: Some(task) })
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), if any.
pub(crate) fn bearer(req: &h1::Req) -> Option<&str> {
    req.authorization()
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|t| !t.is_empty())
}
