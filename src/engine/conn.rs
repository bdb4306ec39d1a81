//! The transport of the load path: one connection owned by one task (HTTP/1.1 by [`super::h1`], the
//! task itself reading and writing; HTTP/2 by hyper's connection-level API; plain or TLS via rustls),
//! driven on the task's own single-threaded runtime. Opening a connection (proxy, TLS) is
//! [`super::dial`]'s.
//! It sends a request, reads the response body up to a cap and reports an [`Outcome`] on failure.
//! Several tasks may share one HTTP/2 connection as streams ([`SharedH2`]). The phases of every
//! connection opened (DNS, TCP, TLS, the first request's time to first byte) are told to the caller;
//! a kept connection's requests read no clock for them.
//! It knows nothing of APIs: building requests and judging responses is the target's job.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ::http::uri::{Authority, Scheme};
use ::http::{HeaderValue, Request, Response, StatusCode, Uri};
use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http2;
use hyper_util::rt::TokioIo;

use super::EngineError;
use super::dial::Dialer;
use super::h1::{self, H1Error};
use crate::engine::metrics::{Outcome, Phase};
use crate::spec::HttpVersion;
use crate::spec::endpoint::Endpoint;
use crate::spec::net::Net;

/// Runs hyper's background futures (HTTP/2 streams) on the current thread's `LocalSet`.
#[derive(Clone, Copy, Debug)]
pub struct LocalExec;

impl<F> hyper::rt::Executor<F> for LocalExec
where
    F: Future + 'static,
{
    fn execute(&self, fut: F) {
        tokio::task::spawn_local(fut);
    }
}

/// A live connection (an HTTP/2 one with whether it has carried no request yet).
pub enum Conn {
    H1(Box<h1::Connection>),
    H2(http2::SendRequest<Full<Bytes>>, bool),
}

impl Conn {
    /// Known to be closed, before anything is written on it: an HTTP/1.1 connection the server closed
    /// (or reset, or sent bytes nobody asked for) while it was idle, looked at without waiting; an
    /// HTTP/2 one by its state.
    fn is_closed(&mut self) -> bool {
        match self {
            Conn::H1(c) => c.closed_while_idle(),
            Conn::H2(s, _) => s.is_closed(),
        }
    }
}

/// A response that was read: status and (when asked for) body bytes.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

/// Makes connections to one endpoint and sends requests over them.
#[derive(Clone)]
pub struct Connector {
    dialer: Dialer,
    version: HttpVersion,
    scheme: Scheme,
    authority: Authority,
    host_header: HeaderValue,
    /// Keep connections open between requests (else one connection per request).
    keepalive: bool,
}

impl Connector {
    /// A connector for `ep` whose connections go first to `addr` (see [`super::dial::resolve`]).
    pub fn new(addr: SocketAddr, ep: &Endpoint, net: &Net, version: HttpVersion) -> Result<Connector, EngineError> {
        let dialer = Dialer::new(addr, ep, net, version)?;
        let authority = ep.authority();
        Ok(Connector {
            scheme: if dialer.is_tls() { Scheme::HTTPS } else { Scheme::HTTP },
            dialer,
            version,
            authority: authority
                .parse()
                .map_err(|e| EngineError::Address(format!("bad authority {authority:?}: {e}")))?,
            host_header: HeaderValue::from_str(&authority)
                .map_err(|e| EngineError::Address(format!("bad host {authority:?}: {e}")))?,
            keepalive: true,
        })
    }

    /// With `keepalive = false`, every request gets a connection of its own, closed after its answer.
    pub fn with_keepalive(mut self, keepalive: bool) -> Connector {
        self.keepalive = keepalive;
        self
    }

    /// Open a connection; its driver runs as a local task. Must be called inside a `LocalSet`. Its DNS,
    /// TCP and TLS phases are told to `on` (once per connection, see [`Dialer::open`]).
    pub async fn connect(&self, on: &impl Fn(Phase, Duration)) -> Result<Conn, Outcome> {
        let stream = self.dialer.open(on).await?;
        match self.version {
            HttpVersion::Http1 => Ok(Conn::H1(Box::new(h1::Connection::new(stream)))),
            HttpVersion::Http2 => self.handshake(TokioIo::new(stream)).await,
        }
    }

    async fn handshake<I>(&self, io: I) -> Result<Conn, Outcome>
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
    {
        let (send, conn) = http2::Builder::new(LocalExec).handshake(io).await.map_err(|_| Outcome::Io)?;
        tokio::task::spawn_local(async move {
            let _ = conn.await;
        });
        Ok(Conn::H2(send, true))
    }

    /// Send the request `make` builds (origin-form URI) on `conn`, opening a connection first when
    /// there is none or the old one was closed by the server (found out before writing: a kept
    /// HTTP/1.1 connection is looked at without waiting, an HTTP/2 one by its state). At most once:
    /// the request goes out again on a new connection only when none of it was written, it reached a
    /// socket the server had already closed (HTTP/1.1), or the server said it processed none of it
    /// (HTTP/2, told to `on` as [`Phase::Resent`]). Once written, a close or reset before the answer is
    /// [`Outcome::ClosedAfterSend`], never a silent resend: the server may have acted on it. On any
    /// failure the connection is dropped, and without keep-alive after every request. The phases of a
    /// new connection (and its first request's time to first byte) are told to `on`.
    pub async fn send(
        &self,
        conn: &mut Option<Conn>,
        make: impl Fn() -> Request<Full<Bytes>>,
        raw: impl Fn() -> Option<Bytes>,
        max_body: u64,
        wants_body: impl Fn(StatusCode) -> bool,
        on: &impl Fn(Phase, Duration),
    ) -> Result<Reply, Outcome> {
        if conn.as_mut().is_none_or(|c| c.is_closed()) {
            *conn = Some(self.connect(on).await?);
        }
        if matches!(conn, Some(Conn::H1(_))) {
            let answer = self.send_h1(conn, (make, raw), max_body, &wants_body, on).await;
            self.after_request(conn);
            return answer;
        }
        let mut sent = self.request_timed(conn, make(), on).await;
        if let Err(f) = sent
            && f.may_resend(on)
        {
            *conn = Some(self.connect(on).await?);
            sent = self.request_timed(conn, make(), on).await;
        }
        match sent {
            // The connection is closed (without keep-alive) once the body was read.
            Ok(resp) => match read_body(resp, max_body, &wants_body).await {
                Ok(r) => {
                    self.after_request(conn);
                    Ok(r)
                }
                Err(o) => {
                    *conn = None;
                    Err(o)
                }
            },
            Err(f) => {
                *conn = None;
                Err(f.outcome())
            }
        }
    }

    /// [`Self::send`] on an HTTP/1.1 connection.
    async fn send_h1(
        &self,
        conn: &mut Option<Conn>,
        (make, raw): (impl Fn() -> Request<Full<Bytes>>, impl Fn() -> Option<Bytes>),
        max_body: u64,
        wants_body: &impl Fn(StatusCode) -> bool,
        on: &impl Fn(Phase, Duration),
    ) -> Result<Reply, Outcome> {
        let host = self.host_header.as_bytes();
        let once = async |conn: &mut Option<Conn>| {
            let Some(Conn::H1(c)) = conn else { return Err(H1Error::Broken) };
            // A new connection's first exchange is timed to its first byte (one clock read each way).
            let first = c.take_fresh().then(Instant::now);
            let answer = match (self.keepalive, raw()) {
                (true, Some(bytes)) => c.exchange_bytes(&bytes, false, max_body, wants_body).await,
                (true, None) => c.exchange(make(), host, max_body, wants_body).await,
                (false, _) => c.exchange(closing(make()), host, max_body, wants_body).await,
            };
            if let Some(t) = first
                && let Some(b) = c.first_byte()
            {
                on(Phase::Ttfb, b.saturating_duration_since(t));
            }
            answer
        };
        // A request goes out again on a new connection only when none of its bytes were written.
        let mut answer = once(conn).await;
        if matches!(answer, Err(H1Error::NotSent | H1Error::Unread)) {
            *conn = Some(self.connect(on).await?);
            answer = once(conn).await;
        }
        match answer {
            Ok(r) => {
                if !r.reusable {
                    *conn = None;
                }
                Ok(Reply { status: r.status, body: r.body })
            }
            Err(e) => {
                *conn = None;
                Err(match e {
                    H1Error::TooLarge => Outcome::BodyTooLarge,
                    H1Error::ClosedAfterSend => Outcome::ClosedAfterSend,
                    H1Error::Tls => Outcome::Tls,
                    // A second try that found its connection closed as well.
                    H1Error::NotSent | H1Error::Unread | H1Error::Broken => Outcome::Io,
                })
            }
        }
    }

    /// Send one request on `conn` and wait for the head of the answer.
    async fn request(&self, conn: &mut Option<Conn>, req: Request<Full<Bytes>>) -> Result<Response<Incoming>, Failure> {
        match conn.as_mut() {
            Some(Conn::H2(s, _)) => {
                let req = self.absolute(req)?;
                s.ready().await.map_err(|_| Failure::NotSent)?;
                s.try_send_request(req).await.map_err(|e| Failure::of(&e))
            }
            _ => Err(Failure::Broken),
        }
    }

    /// The request with this endpoint's scheme and authority (HTTP/2 needs an absolute URI).
    fn absolute(&self, mut req: Request<Full<Bytes>>) -> Result<Request<Full<Bytes>>, Failure> {
        let mut parts = req.uri().clone().into_parts();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        *req.uri_mut() = Uri::from_parts(parts).map_err(|_| Failure::Broken)?;
        Ok(req)
    }

    /// [`Self::request`], timing a new HTTP/2 connection's first request to its answer's head.
    async fn request_timed(
        &self,
        conn: &mut Option<Conn>,
        req: Request<Full<Bytes>>,
        on: &impl Fn(Phase, Duration),
    ) -> Result<Response<Incoming>, Failure> {
        let first = match conn.as_mut() {
            Some(Conn::H2(_, fresh)) => std::mem::replace(fresh, false).then(Instant::now),
            _ => None,
        };
        let r = self.request(conn, req).await;
        if let (Some(t), Ok(_)) = (first, &r) {
            on(Phase::Ttfb, t.elapsed());
        }
        r
    }

    /// Without keep-alive a connection carries one request.
    fn after_request(&self, conn: &mut Option<Conn>) {
        if !self.keepalive {
            *conn = None;
        }
    }

    /// Send the request `make` builds as a stream on `group`'s shared HTTP/2 connection, opening it
    /// when there is none or it was closed (one task opens it, the others wait for it). A stream not
    /// sent because the connection was closed meanwhile, or one the server said it processed none of,
    /// is sent once more on a new one (the latter counted as resent). `used` is set
    /// to the generation of the connection used, for [`SharedH2::retire`] on a timeout. A failed
    /// stream does not close the connection the other tasks use.
    pub async fn send_shared(
        &self,
        group: &SharedH2,
        used: &mut u64,
        make: impl Fn() -> Request<Full<Bytes>>,
        max_body: u64,
        wants_body: impl Fn(StatusCode) -> bool,
        on: &impl Fn(Phase, Duration),
    ) -> Result<Reply, Outcome> {
        let (g, s) = self.shared_sender(group, on).await?;
        *used = g;
        let mut answer = self.stream(group, s, make(), on).await;
        if let Err(f) = answer
            && f.may_resend(on)
        {
            group.retire(g);
            let (g, s) = self.shared_sender(group, on).await?;
            *used = g;
            answer = self.stream(group, s, make(), on).await;
        }
        match answer {
            Ok(resp) => read_body(resp, max_body, &wants_body).await,
            Err(f) => {
                if f != Failure::Broken {
                    group.retire(*used);
                }
                Err(f.outcome())
            }
        }
    }

    /// The group's open connection (generation, sender), or a new one.
    async fn shared_sender(
        &self,
        group: &SharedH2,
        on: &impl Fn(Phase, Duration),
    ) -> Result<(u64, http2::SendRequest<Full<Bytes>>), Outcome> {
        if let Some(open) = group.open() {
            return Ok(open);
        }
        let _opening = group.opening.lock().await;
        if let Some(open) = group.open() {
            return Ok(open);
        }
        match self.connect(on).await? {
            Conn::H2(s, _) => Ok((group.install(s.clone()), s)),
            Conn::H1(_) => Err(Outcome::Io),
        }
    }

    /// One stream on a shared connection, up to its answer's head; the connection's first is timed.
    async fn stream(
        &self,
        group: &SharedH2,
        mut s: http2::SendRequest<Full<Bytes>>,
        req: Request<Full<Bytes>>,
        on: &impl Fn(Phase, Duration),
    ) -> Result<Response<Incoming>, Failure> {
        let first = group.fresh.replace(false).then(Instant::now);
        let req = self.absolute(req)?;
        s.ready().await.map_err(|_| Failure::NotSent)?;
        let r = s.try_send_request(req).await.map_err(|e| Failure::of(&e))?;
        if let Some(t) = first {
            on(Phase::Ttfb, t.elapsed());
        }
        Ok(r)
    }
}

/// One HTTP/2 connection shared by a group of tasks (`streams_per_connection` of them), each sending
/// its requests as concurrent streams on a clone of the connection's sender (a cheap handle). Lives on
/// one load thread.
#[derive(Default)]
pub struct SharedH2 {
    current: RefCell<Option<(u64, http2::SendRequest<Full<Bytes>>)>>,
    generation: Cell<u64>,
    /// The current connection has carried no stream yet.
    fresh: Cell<bool>,
    /// Held by the task opening the next connection.
    opening: tokio::sync::Mutex<()>,
}

impl SharedH2 {
    /// A group starting with `conn` (opened before the run) when it is an HTTP/2 connection.
    pub fn new(conn: Option<Conn>) -> SharedH2 {
        let g = SharedH2::default();
        if let Some(Conn::H2(s, fresh)) = conn {
            g.install(s);
            g.fresh.set(fresh);
        }
        g
    }

    fn install(&self, s: http2::SendRequest<Full<Bytes>>) -> u64 {
        let g = self.generation.get() + 1;
        self.generation.set(g);
        *self.current.borrow_mut() = Some((g, s));
        self.fresh.set(true);
        g
    }

    fn open(&self) -> Option<(u64, http2::SendRequest<Full<Bytes>>)> {
        self.current.borrow().as_ref().filter(|(_, s)| !s.is_closed()).map(|(g, s)| (*g, s.clone()))
    }

    /// Stop handing out connection `gen` (it closed, or a request on it timed out): the next request
    /// opens a new one. Streams in flight on it go on.
    pub fn retire(&self, generation: u64) {
        let mut c = self.current.borrow_mut();
        if c.as_ref().is_some_and(|(g, _)| *g == generation) {
            *c = None;
        }
    }
}

/// The request with `Connection: close` (a connection used for one request).
fn closing(mut req: Request<Full<Bytes>>) -> Request<Full<Bytes>> {
    req.headers_mut().insert(::http::header::CONNECTION, HeaderValue::from_static("close"));
    req
}

/// Why an HTTP/2 request got no answer head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// Not sent: the connection was closed (or not ready) before the request went out.
    NotSent,
    /// Sent, and the server said it processed none of it: a stream above the last id of the server's
    /// graceful GOAWAY, or one it reset with REFUSED_STREAM (RFC 9113, 8.7).
    Unprocessed,
    /// Sent, then the connection was closed or reset before the answer's head.
    ClosedAfterSend,
    /// Anything else (an answer that is not HTTP, a protocol error).
    Broken,
}

impl Failure {
    fn of(e: &hyper::client::conn::TrySendError<Request<Full<Bytes>>>) -> Failure {
        if e.message().is_some() {
            return Failure::NotSent;
        }
        let e = e.error();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            if let Some(h2) = s.downcast_ref::<h2::Error>()
                && h2.is_remote()
            {
                let graceful_goaway = h2.is_go_away() && h2.reason() == Some(h2::Reason::NO_ERROR);
                let refused = h2.is_reset() && h2.reason() == Some(h2::Reason::REFUSED_STREAM);
                // Any other GOAWAY or reset from the server came after the request was sent.
                return if graceful_goaway || refused { Failure::Unprocessed } else { Failure::ClosedAfterSend };
            }
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                use std::io::ErrorKind::*;
                if matches!(io.kind(), ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof) {
                    return Failure::ClosedAfterSend;
                }
            }
            source = s.source();
        }
        if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
            return Failure::ClosedAfterSend;
        }
        Failure::Broken
    }

    /// Whether the request may go out again on a new connection: nothing of it was sent, or the
    /// server said it processed none of it — then it was written once already, and `on` is told
    /// ([`Phase::Resent`]).
    fn may_resend(self, on: &impl Fn(Phase, Duration)) -> bool {
        if self == Failure::Unprocessed {
            on(Phase::Resent, Duration::ZERO);
        }
        matches!(self, Failure::NotSent | Failure::Unprocessed)
    }

    fn outcome(self) -> Outcome {
        match self {
            Failure::ClosedAfterSend => Outcome::ClosedAfterSend,
            // Reached only when the second try failed the same way: the request never got an answer.
            Failure::NotSent | Failure::Unprocessed | Failure::Broken => Outcome::Io,
        }
    }
}

async fn read_body(resp: Response<Incoming>, max: u64, wants: &impl Fn(StatusCode) -> bool) -> Result<Reply, Outcome> {
    let (parts, mut body) = resp.into_parts();
    let keep = wants(parts.status);
    let mut buf = BytesMut::new();
    let mut total: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Outcome::Io)?;
        if let Ok(data) = frame.into_data() {
            total += data.len() as u64;
            if total > max {
                return Err(Outcome::BodyTooLarge);
            }
            if keep {
                buf.extend_from_slice(&data);
            }
        }
    }
    Ok(Reply { status: parts.status, body: buf.freeze() })
}
