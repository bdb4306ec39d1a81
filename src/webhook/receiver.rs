//! HTTP endpoint receiving status webhooks: handshake, size cap, signature check, parsing, and
//! hand-off of statuses to the [`Tracker`] off the request path.
//!
//! Responses:
//! - `GET <path>?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C`: 200 with body `C` when
//!   `T` equals the configured verify token (compared in constant time), else 403.
//! - `POST <path>`: 413 when the body exceeds `max_body_bytes` (decided from `Content-Length`
//!   before reading, or while reading a chunked body, never buffering more than the cap);
//!   in Cloud mode (app secret set) 401 when `X-Hub-Signature-256` is missing and 403 when it is
//!   malformed or does not match the raw body; 400 when the body is not a webhook; otherwise 200.
//! - Other paths 404, other methods 405.
//!
//! A 200 means the webhook is recorded: accepted statuses go through a bounded queue to one
//! processing task ([`commit`](super::commit)) that applies them in groups, flushes the group (a
//! file sink writes it out) and only then lets the group's requests answer 200. When the write
//! fails they answer 503, so Meta delivers them again (counted as `write_failed`; one log line per
//! run of failures). When the queue is full the request waits for room (back-pressure, counted as
//! `backlog_waits`): no status is dropped silently, and a saturated sink shows up as webhook
//! response latency, which is what Meta's webhook-server requirement (median ≤ 250 ms) measures.
//! If processing has stopped, the answer is 503 so the sender retries.
//!
//! Bounded under load: at most `max_connections` connections are served, fewer when the process may
//! not open that many files (at the cap the receiver stops accepting until one closes, and says so
//! once); a malformed signature header is refused
//! before the body is read, and the signature is hashed while the body streams in; body bytes are
//! bounded per connection and across connections by a shared budget ([`body`](super::body)); a
//! client that stalls is cut at 30 s.
//!
//! The server is hyper's HTTP/1.1 connection API driven by our own accept loop rather than
//! axum: with the same handler, axum's router cost about 13 % more CPU per signed webhook
//! (14.3–15.8 µs vs 12.7–13.1 µs in three alternating runs of `benches/webhook_bench.sh`), and
//! the direct loop lets us set a header-read timeout and bound the shutdown drain, which
//! `axum::serve` does not expose. The endpoint has one path and two methods, so routing is a
//! string comparison.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{ALLOW, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Body;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Serialize;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use super::body::{self, Budget, Held, Refused};
use super::commit::{self, Batch, Sink};
use super::correlate::Tracker;
use super::model::{Status, parse_notification};
use super::signature::{Check, SIGNATURE_HEADER, SignatureError, Verifier};
use crate::units::Shutdown;

pub use crate::spec::webhook::{DEFAULT_BACKLOG, DEFAULT_MAX_BODY_BYTES};
/// How long a client may take to send request headers, and then the body.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long shutdown waits for in-flight requests before closing connections.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Default cap on connections served at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default budget of body bytes held across all connections (beyond each request's first
/// [`FREE_BYTES`](super::body::FREE_BYTES)).
pub const DEFAULT_BODY_BUDGET: usize = 32 * 1024 * 1024;
/// Largest read buffer of one connection (request head and body pieces).
const CONNECTION_BUFFER: usize = 16 * 1024;

/// Runtime settings of the receiver (secrets resolved).
#[derive(Clone)]
pub struct ReceiverConfig {
    /// Cloud mode when set: every POST must carry a valid `X-Hub-Signature-256`.
    /// `None` is on-prem mode (no signature; on-prem relies on TLS).
    pub app_secret: Option<Vec<u8>>,
    /// Token expected in the subscription handshake; `None` refuses every handshake.
    pub verify_token: Option<String>,
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// Request path of the endpoint.
    pub path: String,
    /// Capacity of the hand-off queue to the tracker, in webhooks.
    pub backlog: usize,
    /// Connections served at once; more wait (in the kernel's accept queue) until one closes.
    pub max_connections: usize,
    /// Body bytes held across all connections beyond each request's first few KiB (raised to
    /// `max_body_bytes` when smaller, so every accepted size can be read).
    pub body_budget: usize,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        Self {
            app_secret: None,
            verify_token: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            path: "/webhook".to_owned(),
            backlog: DEFAULT_BACKLOG,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            body_budget: DEFAULT_BODY_BUDGET,
        }
    }
}

impl std::fmt::Debug for ReceiverConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |set: bool| if set { "<set>" } else { "<none>" };
        f.debug_struct("ReceiverConfig")
            .field("app_secret", &redact(self.app_secret.is_some()))
            .field("verify_token", &redact(self.verify_token.is_some()))
            .field("max_body_bytes", &self.max_body_bytes)
            .field("path", &self.path)
            .field("backlog", &self.backlog)
            .field("max_connections", &self.max_connections)
            .field("body_budget", &self.body_budget)
            .finish()
    }
}

#[derive(Default)]
struct Counters {
    /// `value.errors` codes of accepted webhooks (a map under a lock: they are rare).
    errors_by_code: std::sync::Mutex<std::collections::BTreeMap<i64, u64>>,
    received: AtomicU64,
    statuses: AtomicU64,
    inbound_messages: AtomicU64,
    missing_signature: AtomicU64,
    bad_signature: AtomicU64,
    too_large: AtomicU64,
    malformed: AtomicU64,
    body_errors: AtomicU64,
    handshakes_ok: AtomicU64,
    handshakes_refused: AtomicU64,
    not_found: AtomicU64,
    method_not_allowed: AtomicU64,
    backlog_waits: AtomicU64,
    unavailable: AtomicU64,
    write_failed: AtomicU64,
    over_budget: AtomicU64,
    connection_cap: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Snapshot of the receiver's request counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ReceiverCounters {
    /// Webhooks accepted (answered 200).
    pub received: u64,
    /// Status objects handed to the tracker.
    pub statuses: u64,
    /// Inbound customer messages seen in accepted webhooks.
    pub inbound_messages: u64,
    /// POSTs without `X-Hub-Signature-256` in Cloud mode (401).
    pub missing_signature: u64,
    /// POSTs whose signature was malformed or did not match (403).
    pub bad_signature: u64,
    /// Bodies over the cap (413).
    pub too_large: u64,
    /// Bodies that were not a webhook (400).
    pub malformed: u64,
    /// Bodies that could not be read (client error or timeout).
    pub body_errors: u64,
    pub handshakes_ok: u64,
    pub handshakes_refused: u64,
    pub not_found: u64,
    pub method_not_allowed: u64,
    /// Webhooks that had to wait for room in the tracker queue.
    pub backlog_waits: u64,
    /// Webhooks answered 503 because processing had stopped.
    pub unavailable: u64,
    /// Webhooks answered 503 because their statuses could not be recorded (the write failed).
    pub write_failed: u64,
    /// Bodies answered 503 because the shared body budget had no room in time.
    pub over_budget: u64,
    /// Times the connection cap was reached (accepting paused until a connection closed).
    pub connection_cap: u64,
    /// Errors Meta reported in accepted webhooks' `value.errors` (about the account or number, not one
    /// message), by code.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub errors_by_code: std::collections::BTreeMap<i64, u64>,
}

impl Counters {
    fn snapshot(&self) -> ReceiverCounters {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ReceiverCounters {
            received: g(&self.received),
            statuses: g(&self.statuses),
            inbound_messages: g(&self.inbound_messages),
            errors_by_code: self.errors_by_code.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone(),
            missing_signature: g(&self.missing_signature),
            bad_signature: g(&self.bad_signature),
            too_large: g(&self.too_large),
            malformed: g(&self.malformed),
            body_errors: g(&self.body_errors),
            handshakes_ok: g(&self.handshakes_ok),
            handshakes_refused: g(&self.handshakes_refused),
            not_found: g(&self.not_found),
            method_not_allowed: g(&self.method_not_allowed),
            backlog_waits: g(&self.backlog_waits),
            unavailable: g(&self.unavailable),
            write_failed: g(&self.write_failed),
            over_budget: g(&self.over_budget),
            connection_cap: g(&self.connection_cap),
        }
    }
}

struct Shared {
    verifier: Option<Verifier>,
    verify_token: Option<String>,
    max_body: usize,
    path: String,
    counters: Arc<Counters>,
    queue: mpsc::Sender<Batch>,
    sink: Arc<dyn Sink>,
    budget: Budget,
}

type Resp = Response<Full<Bytes>>;

fn respond(status: StatusCode, body: &'static str) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r
}

/// A response after which the connection is closed (the request body was not read).
fn respond_close(status: StatusCode, body: &'static str) -> Resp {
    let mut r = respond(status, body);
    r.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    r
}

async fn handle<B>(shared: &Shared, req: Request<B>) -> Resp
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if req.uri().path() != shared.path {
        bump(&shared.counters.not_found);
        return respond_close(StatusCode::NOT_FOUND, "");
    }
    match *req.method() {
        Method::POST => notify(shared, req).await,
        Method::GET => handshake(shared, req.uri().query().unwrap_or("")),
        _ => {
            bump(&shared.counters.method_not_allowed);
            let mut r = respond_close(StatusCode::METHOD_NOT_ALLOWED, "");
            r.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, POST"));
            r
        }
    }
}

fn handshake(shared: &Shared, query: &str) -> Resp {
    let (mut mode, mut token, mut challenge) = (None, None, None);
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match percent_decode(k).as_deref() {
            Some("hub.mode") => &mut mode,
            Some("hub.verify_token") => &mut token,
            Some("hub.challenge") => &mut challenge,
            _ => continue,
        };
        *slot = percent_decode(v);
    }
    let token_ok = match (&shared.verify_token, &token) {
        (Some(expected), Some(given)) => bool::from(expected.as_bytes().ct_eq(given.as_bytes())),
        _ => false,
    };
    match (mode.as_deref(), challenge) {
        (Some("subscribe"), Some(challenge)) if token_ok => {
            bump(&shared.counters.handshakes_ok);
            let mut r = Response::new(Full::new(Bytes::from(challenge)));
            r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            r
        }
        _ => {
            bump(&shared.counters.handshakes_refused);
            respond(StatusCode::FORBIDDEN, "")
        }
    }
}

/// Decodes `application/x-www-form-urlencoded` text; `None` on a bad escape or invalid UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let well_formed = b
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == b'%')
        .all(|(i, _)| b.get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)));
    if !well_formed {
        return None;
    }
    percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8().ok().map(|c| c.into_owned())
}

async fn notify<B>(shared: &Shared, req: Request<B>) -> Resp
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match receive(shared, req).await {
        Ok(()) => respond(StatusCode::OK, ""),
        Err(refusal) => refusal.answer(),
    }
}

/// Why a notification was not recorded (its counter already bumped): the answer, and whether the
/// connection closes after it.
struct Refusal {
    status: StatusCode,
    close: bool,
}

impl Refusal {
    fn answer(self) -> Resp {
        if self.close { respond_close(self.status, "") } else { respond(self.status, "") }
    }
}

/// Counts `counter` and refuses with `status`.
fn refuse(counter: &AtomicU64, status: StatusCode, close: bool) -> Refusal {
    bump(counter);
    Refusal { status, close }
}

/// A notification's way in: headers screened, body read and parsed, statuses handed to processing
/// and recorded, the rest counted.
async fn receive<B>(shared: &Shared, req: Request<B>) -> Result<(), Refusal>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let counters = &shared.counters;
    let (declared, check) = screen_headers(shared, &req)?;
    let body = read_body(shared, req.into_body(), declared, check).await?;
    let received_at = Instant::now();
    let notification =
        parse_notification(&body.bytes).map_err(|_| refuse(&counters.malformed, StatusCode::BAD_REQUEST, false))?;
    drop(body);
    let n_statuses = notification.statuses.len() as u64;
    if n_statuses > 0 {
        hand_off(shared, notification.statuses, received_at).await?;
    }
    bump(&counters.received);
    counters.statuses.fetch_add(n_statuses, Ordering::Relaxed);
    counters.inbound_messages.fetch_add(notification.inbound_messages as u64, Ordering::Relaxed);
    if !notification.errors.is_empty() {
        let mut by_code = counters.errors_by_code.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for code in notification.errors {
            *by_code.entry(code).or_default() += 1;
        }
    }
    if notification.inbound_messages > 0 {
        shared.sink.inbound(notification.inbound_messages as u64);
    }
    if !notification.identities.is_empty() {
        shared.sink.identities(&notification.identities);
    }
    Ok(())
}

/// Before the body: the declared length within the cap (returned), and in Cloud mode a signature
/// header that can match some body (its check returned, to hash the body into).
fn screen_headers<B>(shared: &Shared, req: &Request<B>) -> Result<(Option<usize>, Option<Check>), Refusal> {
    let counters = &shared.counters;
    let declared = req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > shared.max_body as u64) {
        return Err(refuse(&counters.too_large, StatusCode::PAYLOAD_TOO_LARGE, true));
    }
    // A header that is not visible ASCII cannot be a valid signature.
    let signature = req.headers().get(SIGNATURE_HEADER).map(|v| v.to_str().unwrap_or("\u{0}"));
    let check = match (&shared.verifier, signature) {
        (None, _) => None,
        (Some(v), header) => match v.start(header) {
            Ok(check) => Some(check),
            Err(SignatureError::Missing) => {
                return Err(refuse(&counters.missing_signature, StatusCode::UNAUTHORIZED, true));
            }
            // Refused before the body is read: no valid body can match this header.
            Err(_) => return Err(refuse(&counters.bad_signature, StatusCode::FORBIDDEN, true)),
        },
    };
    Ok((declared.and_then(|n| usize::try_from(n).ok()), check))
}

/// The body, within the cap, the shared budget and the read timeout, its signature matched.
async fn read_body<B>(shared: &Shared, body: B, declared: Option<usize>, check: Option<Check>) -> Result<Held, Refusal>
where
    B: Body<Data = Bytes> + Unpin,
{
    let counters = &shared.counters;
    let deadline = tokio::time::Instant::now() + READ_TIMEOUT;
    body::read(body, declared, shared.max_body, check, &shared.budget, deadline).await.map_err(
        |refused| match refused {
            Refused::TooLarge => refuse(&counters.too_large, StatusCode::PAYLOAD_TOO_LARGE, true),
            Refused::Budget => refuse(&counters.over_budget, StatusCode::SERVICE_UNAVAILABLE, true),
            Refused::Timeout => refuse(&counters.body_errors, StatusCode::REQUEST_TIMEOUT, true),
            Refused::Broken => refuse(&counters.body_errors, StatusCode::BAD_REQUEST, true),
            Refused::Signature(_) => refuse(&counters.bad_signature, StatusCode::FORBIDDEN, false),
        },
    )
}

/// Queues `statuses` for processing (waiting for room when the queue is full) and waits until they
/// are recorded; refused when processing has stopped or the write failed.
async fn hand_off(shared: &Shared, statuses: Vec<Status>, received_at: Instant) -> Result<(), Refusal> {
    let counters = &shared.counters;
    let (recorded, answer) = oneshot::channel();
    let batch = Batch { statuses, received_at, recorded };
    let queued = match shared.queue.try_send(batch) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(batch)) => {
            bump(&counters.backlog_waits);
            shared.queue.send(batch).await.is_ok()
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    };
    match (queued, if queued { answer.await.ok() } else { None }) {
        (true, Some(true)) => Ok(()),
        (true, Some(false)) => Err(refuse(&counters.write_failed, StatusCode::SERVICE_UNAVAILABLE, false)),
        _ => Err(refuse(&counters.unavailable, StatusCode::SERVICE_UNAVAILABLE, false)),
    }
}

async fn serve_connection<S>(stream: S, shared: Arc<Shared>, closing: Shutdown)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(handle(&shared, req).await) }
    });
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(READ_TIMEOUT).max_buf_size(CONNECTION_BUFFER);
    let conn = builder.serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    let mut shutting_down = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => break,
            _ = closing.stopped(), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Serves webhooks on `listener` until `shutdown` completes, then stops accepting, lets
/// in-flight requests finish (up to 10 s), and returns once every accepted status has been
/// applied to `tracker`.
pub async fn serve(
    listener: TcpListener,
    cfg: ReceiverConfig,
    tracker: Tracker,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_counted(listener, cfg, Arc::new(tracker), None, Arc::default(), shutdown).await
}

/// Like [`serve`], handing statuses to any [`Sink`], over TLS when `tls` is given (HTTP/1.1 inside
/// it); returns the final request counters.
pub async fn serve_with(
    listener: TcpListener,
    cfg: ReceiverConfig,
    sink: Arc<dyn Sink>,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<ReceiverCounters> {
    let counters = Arc::<Counters>::default();
    serve_counted(listener, cfg, sink, tls.map(tokio_rustls::TlsAcceptor::from), counters.clone(), shutdown).await?;
    Ok(counters.snapshot())
}

/// How long a client may take to finish the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

async fn serve_counted(
    listener: TcpListener,
    cfg: ReceiverConfig,
    sink: Arc<dyn Sink>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    counters: Arc<Counters>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let (queue, batches) = mpsc::channel::<Batch>(cfg.backlog.max(1));
    let processor = tokio::spawn(commit::process(sink.clone(), batches));
    // Within the file descriptors left, so that the cap, not a failing accept, decides.
    let max_connections = super::accept::connection_cap(cfg.max_connections);
    let mut trouble = super::accept::AcceptTrouble::default();
    let shared = Arc::new(Shared {
        verifier: cfg.app_secret.as_deref().map(Verifier::new),
        verify_token: cfg.verify_token,
        max_body: cfg.max_body_bytes,
        path: cfg.path,
        counters,
        queue,
        sink,
        budget: Budget::new(cfg.body_budget.max(cfg.max_body_bytes)),
    });

    let closing = Shutdown::new();
    let mut conns = JoinSet::new();
    tokio::pin!(shutdown);
    let mut cap = CapEpisodes::default();
    loop {
        let full = cap.full(conns.len(), max_connections, &shared.counters);
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept(), if !full => match accepted {
                Ok((stream, _)) => {
                    if let Some(line) = trouble.accepted() {
                        eprintln!("{line}");
                    }
                    let _ = stream.set_nodelay(true);
                    spawn_connection(&mut conns, stream, tls.as_ref(), shared.clone(), closing.clone());
                }
                // Accept errors concern one connection or a momentary lack of resources
                // (e.g. file descriptors): pause, longer each time, instead of spinning; say so once.
                Err(e) => {
                    let (pause, line) = trouble.failed(&e);
                    if let Some(line) = line {
                        eprintln!("{line}");
                    }
                    tokio::time::sleep(pause).await;
                }
            },
        }
    }
    drop(listener);
    closing.stop();
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        conns.shutdown().await;
    }
    drop(shared);
    processor.await.map_err(io::Error::other)
}

/// Episodes of the connection cap: one counted each time the cap is reached after the open
/// connections fell a tenth below it, and logged at most once a minute (a burst of clients reaches
/// it again and again).
#[derive(Default)]
struct CapEpisodes {
    /// The cap was reached and not yet left by the margin.
    capped: bool,
    logged: Option<std::time::Instant>,
}

impl CapEpisodes {
    /// Whether `open` connections fill the cap of `max` (counting and logging an episode that starts).
    fn full(&mut self, open: usize, max: usize, counters: &Counters) -> bool {
        let full = open >= max;
        if full && !self.capped {
            self.capped = true;
            bump(&counters.connection_cap);
            if self.logged.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                self.logged = Some(std::time::Instant::now());
                eprintln!(
                    "wabench receiver: connection cap reached ({max} open): new connections wait until \
                     one closes (clients that stall are cut after {} s)",
                    READ_TIMEOUT.as_secs()
                );
            }
        } else if self.capped && open < max - max / 10 {
            self.capped = false;
        }
        full
    }
}

/// Serves an accepted connection as a task of `conns`, over TLS (after its handshake) when `tls`
/// is given.
fn spawn_connection(
    conns: &mut JoinSet<()>,
    stream: tokio::net::TcpStream,
    tls: Option<&tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
    closing: Shutdown,
) {
    match tls {
        None => {
            conns.spawn(serve_connection(stream, shared, closing));
        }
        Some(acceptor) => {
            let acceptor = acceptor.clone();
            conns.spawn(async move {
                // A client that fails or stalls the handshake only loses its connection.
                let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream));
                if let Ok(Ok(tls)) = handshake.await {
                    serve_connection(tls, shared, closing).await;
                }
            });
        }
    }
}

/// A receiver running in the background. Dropping the handle also stops the receiver (without
/// waiting); call [`ReceiverHandle::stop`] to wait until every accepted status is applied.
#[derive(Debug)]
pub struct ReceiverHandle {
    /// Address the receiver listens on.
    pub addr: SocketAddr,
    counters: Arc<Counters>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<io::Result<()>>,
}

impl std::fmt::Debug for Counters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.snapshot().fmt(f)
    }
}

impl ReceiverHandle {
    /// Current request counters.
    pub fn counters(&self) -> ReceiverCounters {
        self.counters.snapshot()
    }

    /// Stops accepting, drains in-flight requests and waits until every accepted status has
    /// reached the tracker.
    pub async fn stop(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.map_err(io::Error::other)?
    }
}

/// Starts a receiver on an already bound listener, as a task on the current tokio runtime.
pub fn spawn(listener: TcpListener, cfg: ReceiverConfig, tracker: Tracker) -> io::Result<ReceiverHandle> {
    let addr = listener.local_addr()?;
    let counters = Arc::<Counters>::default();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve_counted(listener, cfg, Arc::new(tracker), None, counters.clone(), async move {
        let _ = stopped.await;
    }));
    Ok(ReceiverHandle { addr, counters, stop: Some(stop), task })
}

/// Starts a receiver on `127.0.0.1` with an ephemeral port, in the background.
pub async fn spawn_local(cfg: ReceiverConfig, tracker: Tracker) -> io::Result<ReceiverHandle> {
    let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
    spawn(listener, cfg, tracker)
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn form_decoding() {
        assert_eq!(percent_decode("a+b%20c").as_deref(), Some("a b c"));
        assert_eq!(percent_decode("%e2%9c%93").as_deref(), Some("\u{2713}"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%ff"), None);
    }
}
