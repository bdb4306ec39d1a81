//! The simulator's HTTP/1.1 server: one task per connection reads each request (httparse), hands the
//! simulator what it looks at — method, path, `Authorization`, the body read up to
//! `max_body_bytes` — and writes the answer with its length, in order.
//!
//! Keep-alive, pipelined requests, `Expect: 100-continue`, chunked request bodies, HTTP/1.0 and
//! `Connection: close` behave as RFC 9112 says. A request head it cannot read is answered 400 (431
//! beyond 64 KiB or 100 header fields; 408 when it is not whole within the header-read timeout) and
//! the connection closed; so is the connection after a body over the limit (answered 413 by the API's
//! own error) or a malformed chunked body (answered 400: a signed or overlong chunk size, chunk
//! extensions beyond 16 KiB in all, trailers beyond 16 KiB or 100 fields). HTTP/1.0 with
//! `Transfer-Encoding` is refused with 400 (RFC 9112 §6.1). A kept connection with no request within
//! the idle timeout, a body not whole or an answer not taken within as long, is closed. No size a client
//! sends is added or multiplied unchecked: the handler never panics on what it reads.
//! It stands in for a general-purpose server because the simulator answers one small JSON per
//! request, and at full load a general dispatcher was a tenth of its CPU.

use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf, Bytes, BytesMut};
use http::{Method, StatusCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, Sleep};

use super::BodyError;
use crate::units::http1::{self, Body, ChunkError, ChunkedDecoder, Role, Step};

/// The largest request head read (request line and header fields).
const MAX_HEAD: usize = 64 * 1024;
/// The most header fields in a request head.
const MAX_HEADERS: usize = 100;

/// What one connection may take: the largest body and how long the server waits for the client.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// The largest request body read (`max_body_bytes`).
    pub body: usize,
    /// A request head must be whole within this (from the accept, or its first byte on a kept
    /// connection).
    pub read_header: Duration,
    /// The longest wait for the client, each time: for the next request on a kept connection, for
    /// a request body to arrive whole, for the client to take an answer.
    pub idle: Duration,
}

/// What the simulator reads of a request.
#[derive(Debug)]
pub(crate) struct Req {
    method: Method,
    path: String,
    authorization: Option<String>,
    /// The first `Content-Type` field, when it is visible ASCII.
    content_type: Option<String>,
    body: Result<Bytes, BodyError>,
}

impl Req {
    #[cfg(test)]
    pub(crate) fn new(method: Method, path: &str, authorization: Option<&str>, body: Result<Bytes, BodyError>) -> Req {
        Req {
            method,
            path: path.to_string(),
            authorization: authorization.map(str::to_string),
            content_type: Some("application/json".into()),
            body,
        }
    }

    pub(crate) fn method(&self) -> &Method {
        &self.method
    }

    /// The request target's path, without the query.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// The first `Authorization` field, when it is visible ASCII.
    pub(crate) fn authorization(&self) -> Option<&str> {
        self.authorization.as_deref()
    }

    /// The first `Content-Type` field, when it is visible ASCII.
    pub(crate) fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// The body, when it was read whole.
    pub(crate) fn body(&self) -> Option<&Bytes> {
        self.body.as_ref().ok()
    }

    /// The body, or why it was not read.
    pub(crate) fn into_body(self) -> Result<Bytes, BodyError> {
        self.body
    }
}

/// The simulator's answer to one request.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
    /// The simulated service latency, sent in [`super::LATENCY_HEADER`].
    pub latency_us: u64,
}

/// A parsed request head.
#[derive(Debug)]
struct Head {
    method: Method,
    path: String,
    authorization: Option<String>,
    content_type: Option<String>,
    /// Bytes of the head, up to and including the empty line.
    len: usize,
    framing: Body,
    http10: bool,
    keep_alive: bool,
    expect_continue: bool,
}

/// Parse a request head at the start of `buf`: `Ok(None)` until it is complete.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, StatusCode> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut fields);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
        Err(_) => return Err(StatusCode::BAD_REQUEST),
    };
    let bad = StatusCode::BAD_REQUEST;
    let method = Method::from_bytes(req.method.unwrap_or_default().as_bytes()).map_err(|_| bad)?;
    let path = path_of(req.path.unwrap_or_default()).ok_or(bad)?;
    let http10 = req.version == Some(0);
    // The body's framing and the connection's fate, as the load path's client reads them too.
    let f = http1::framing(Role::Request, http10, req.headers.iter().map(|f| (f.name, f.value))).map_err(|_| bad)?;
    let (mut authorization, mut content_type, mut expect_continue) = (None, None, false);
    let visible = |v: &[u8]| v.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b));
    for f in req.headers.iter() {
        if f.name.eq_ignore_ascii_case("authorization") {
            if authorization.is_none() && visible(f.value) {
                authorization = std::str::from_utf8(f.value).ok().map(str::to_string);
            }
        } else if f.name.eq_ignore_ascii_case("content-type") {
            if content_type.is_none() && visible(f.value) {
                content_type = std::str::from_utf8(f.value).ok().map(str::to_string);
            }
        } else if f.name.eq_ignore_ascii_case("expect") {
            expect_continue = f.value.eq_ignore_ascii_case(b"100-continue");
        }
    }
    Ok(Some(Head {
        method,
        path,
        authorization,
        content_type,
        len,
        framing: f.body,
        http10,
        keep_alive: f.keep_alive,
        expect_continue: expect_continue && !http10,
    }))
}

/// The path of a request target: origin form (`/p?q`), absolute form (`http://host/p?q`) or `*`.
fn path_of(target: &str) -> Option<String> {
    if target.starts_with('/') || target == "*" {
        return Some(target.split('?').next().unwrap_or_default().to_string());
    }
    let uri: http::Uri = target.parse().ok()?;
    uri.scheme()?;
    Some(uri.path().to_string())
}

/// The peer closed the connection, it failed, or it kept the server waiting too long.
#[derive(Debug)]
struct Gone;

/// Why a connection ends without (another) answer.
#[derive(Debug)]
enum Ended {
    Gone,
    /// A head that cannot be read: answered with this status, then closed.
    Bad(StatusCode),
}

impl From<Gone> for Ended {
    fn from(_: Gone) -> Ended {
        Ended::Gone
    }
}

/// A connection and its one timer. The timer is moved only when a wait's deadline falls outside
/// what it already covers — it may ring up to `slack` after a deadline, never before — so a busy
/// connection moves it about once per `slack`, not once per request (moving a timer is work in the
/// runtime's timer wheel; a new timer per read was several per cent of the simulator's CPU).
struct Timed<S> {
    io: S,
    timer: Pin<Box<Sleep>>,
    slack: Duration,
}

impl<S> Timed<S> {
    /// `slack`: an eighth of the shortest timeout, at most 1 s.
    fn new(io: S, limits: &Limits) -> Timed<S> {
        let slack = (limits.read_header.min(limits.idle) / 8).min(Duration::from_secs(1));
        Timed { io, timer: Box::pin(tokio::time::sleep(Duration::from_secs(24 * 3600))), slack }
    }

    /// Make the timer ring at `until`, or at most `slack` later.
    fn arm(&mut self, until: Instant) {
        let at = self.timer.deadline();
        if at < until || at > until + self.slack {
            self.timer.as_mut().reset(until + self.slack);
        }
    }
}

impl<S: AsyncRead + Unpin> Timed<S> {
    /// Read more bytes into `buf`, waiting until `until` at most.
    async fn fill(&mut self, buf: &mut BytesMut, until: Instant) -> Result<(), Gone> {
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(8 * 1024);
        }
        self.arm(until);
        tokio::select! {
            biased;
            read = self.io.read_buf(buf) => match read {
                Ok(0) | Err(_) => Err(Gone),
                Ok(_) => Ok(()),
            },
            () = self.timer.as_mut() => Err(Gone),
        }
    }
}

impl<S: AsyncWrite + Unpin> Timed<S> {
    /// Write all of `bytes`, the client taking them within `idle`.
    async fn send(&mut self, bytes: &[u8], idle: Duration) -> Result<(), Gone> {
        self.arm(Instant::now() + idle);
        tokio::select! {
            biased;
            written = self.io.write_all(bytes) => written.map_err(|_| Gone),
            () = self.timer.as_mut() => Err(Gone),
        }
    }

    /// Close the sending side, waiting `idle` at most.
    async fn close(&mut self, idle: Duration) {
        let _ = tokio::time::timeout(idle, self.io.shutdown()).await;
    }
}

/// Whether the bytes of `buf` from `from` on may complete a head (an empty line ends it).
fn head_may_end(buf: &[u8], from: usize) -> bool {
    let tail = &buf[from.saturating_sub(2)..];
    tail.windows(2).any(|w| w == b"\n\n") || tail.windows(3).any(|w| w == b"\n\r\n")
}

/// Read the next request head (pipelined bytes first). `fresh`: the connection was just accepted,
/// and the header-read timeout runs from now; on a kept connection the idle timeout runs until the
/// first byte, the header-read timeout from there. A head is parsed again only when its end may have
/// arrived, so a head trickled byte by byte costs no more than one sent whole.
async fn next_head<S: AsyncRead + Unpin>(
    io: &mut Timed<S>,
    buf: &mut BytesMut,
    limits: &Limits,
    fresh: bool,
) -> Result<Head, Ended> {
    if !fresh && buf.is_empty() {
        io.fill(buf, Instant::now() + limits.idle).await?;
    }
    let deadline = Instant::now() + limits.read_header;
    let mut scanned = None;
    loop {
        if !buf.is_empty() && scanned.is_none_or(|from| head_may_end(buf, from)) {
            match parse_head(buf) {
                Ok(Some(head)) => return Ok(head),
                Ok(None) => {}
                Err(status) => return Err(Ended::Bad(status)),
            }
        }
        if buf.len() > MAX_HEAD {
            return Err(Ended::Bad(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE));
        }
        scanned = (!buf.is_empty()).then_some(buf.len());
        if io.fill(buf, deadline).await.is_err() {
            // Part of a head and then too slow: 408; nothing at all, or a closed connection: closed.
            return Err(match !buf.is_empty() && Instant::now() >= deadline {
                true => Ended::Bad(StatusCode::REQUEST_TIMEOUT),
                false => Ended::Gone,
            });
        }
    }
}

const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Read the body `head` announces, whole within the idle timeout (a body trickled slower is
/// abandoned: the connection closes unanswered). `Ok(Err(_))`: it was not read (too large, or its
/// chunked framing is broken), and the connection must close after the answer.
async fn read_body<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut Timed<S>,
    buf: &mut BytesMut,
    head: &Head,
    limits: &Limits,
) -> Result<Result<Bytes, BodyError>, Gone> {
    let until = Instant::now() + limits.idle;
    match head.framing {
        Body::None | Body::UntilClose => Ok(Ok(Bytes::new())),
        Body::Length(n) => {
            let Some(n) = usize::try_from(n).ok().filter(|&n| n <= limits.body) else {
                return Ok(Err(BodyError::TooLarge));
            };
            if head.expect_continue && buf.len() < n {
                io.send(CONTINUE, limits.idle).await?;
            }
            while buf.len() < n {
                buf.reserve(n - buf.len());
                io.fill(buf, until).await?;
            }
            Ok(Ok(buf.split_to(n).freeze()))
        }
        Body::Chunked => {
            if head.expect_continue && buf.is_empty() {
                io.send(CONTINUE, limits.idle).await?;
            }
            read_chunked(io, buf, limits.body, until).await
        }
    }
}

/// Read a chunked body of at most `limit` bytes ([`ChunkedDecoder`]: no overflow, caps on size lines,
/// extensions and trailers), waiting for the client until `until`.
async fn read_chunked<S: AsyncRead + Unpin>(
    io: &mut Timed<S>,
    buf: &mut BytesMut,
    limit: usize,
    until: Instant,
) -> Result<Result<Bytes, BodyError>, Gone> {
    let mut decoder = ChunkedDecoder::new(limit as u64);
    let mut body = BytesMut::new();
    loop {
        match decoder.step(buf) {
            Err(ChunkError::TooLarge) => return Ok(Err(BodyError::TooLarge)),
            Err(ChunkError::Malformed | ChunkError::TooLong) => return Ok(Err(BodyError::Malformed)),
            Ok(Step::Framing(n)) => buf.advance(n),
            Ok(Step::Data(n)) => body.extend_from_slice(&buf.split_to(n)),
            Ok(Step::Done(n)) => {
                buf.advance(n);
                return Ok(Ok(body.freeze()));
            }
            Ok(Step::NeedMore) => io.fill(buf, until).await?,
        }
    }
}

/// The `Date` field's value, formatted once a second.
#[derive(Default)]
struct DateCache {
    second: u64,
    text: String,
}

impl DateCache {
    fn now(&mut self) -> &str {
        let second = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if second != self.second || self.text.is_empty() {
            self.second = second;
            self.text = chrono::DateTime::from_timestamp(second as i64, 0)
                .map(|t| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
                .unwrap_or_default();
        }
        &self.text
    }
}

/// Serialise an answer: status line, `Content-Type`, the latency field, `Content-Length`, `Date`,
/// `Connection` when it differs from the version's default; no body to a HEAD request (`head_only`).
fn write_answer(out: &mut Vec<u8>, a: &Answer, http10: bool, head_only: bool, close: bool, date: &str) {
    use std::io::Write;
    let version = if http10 { "HTTP/1.0" } else { "HTTP/1.1" };
    let reason = a.status.canonical_reason().unwrap_or("");
    let _ = write!(
        out,
        "{version} {} {reason}\r\ncontent-type: application/json\r\n{}: {}\r\ncontent-length: {}\r\ndate: {date}\r\n",
        a.status.as_u16(),
        super::LATENCY_HEADER,
        a.latency_us,
        a.body.len()
    );
    match (http10, close) {
        (false, true) => out.extend_from_slice(b"connection: close\r\n"),
        (true, false) => out.extend_from_slice(b"connection: keep-alive\r\n"),
        _ => {}
    }
    out.extend_from_slice(b"\r\n");
    if !head_only {
        out.extend_from_slice(&a.body);
    }
}

/// Answer an unreadable request head with `status` and no body, then close.
async fn refuse<S: AsyncWrite + Unpin>(io: &mut Timed<S>, status: StatusCode, idle: Duration) {
    let line = format!(
        "HTTP/1.1 {} {}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    if io.send(line.as_bytes(), idle).await.is_ok() {
        io.close(idle).await;
    }
}

/// Serve requests on one connection until the peer closes it, a request asks to close it, it
/// cannot be read any further, or the client is too slow (`limits`). `answer` gives the
/// simulator's answer to each request.
pub(crate) async fn serve_connection<S, F, Fut>(io: S, limits: Limits, mut answer: F)
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnMut(Req) -> Fut,
    Fut: std::future::Future<Output = Answer>,
{
    let mut io = Timed::new(io, &limits);
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let mut out = Vec::with_capacity(1024);
    let mut date = DateCache::default();
    let mut fresh = true;
    loop {
        let head = match next_head(&mut io, &mut buf, &limits, fresh).await {
            Ok(head) => head,
            Err(Ended::Gone) => return,
            Err(Ended::Bad(status)) => return refuse(&mut io, status, limits.idle).await,
        };
        fresh = false;
        buf.advance(head.len);
        let Ok(body) = read_body(&mut io, &mut buf, &head, &limits).await else { return };
        // After a body left unread (or unreadable) the next request cannot be found.
        let close = !head.keep_alive || body.is_err();
        let (http10, head_only) = (head.http10, head.method == Method::HEAD);
        let req = Req {
            method: head.method,
            path: head.path,
            authorization: head.authorization,
            content_type: head.content_type,
            body,
        };
        let a = answer(req).await;
        out.clear();
        write_answer(&mut out, &a, http10, head_only, close, date.now());
        if io.send(&out, limits.idle).await.is_err() {
            return;
        }
        if close {
            io.close(limits.idle).await;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy as _;

    fn head(text: &str) -> Head {
        parse_head(text.as_bytes()).unwrap().unwrap()
    }

    #[test]
    fn heads_are_read_as_rfc_9112_frames_them() {
        let h = head(
            "POST /v23.0/1/messages?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\nAuthorization: Bearer t\r\n\r\n",
        );
        assert_eq!((h.method.as_str(), h.path.as_str()), ("POST", "/v23.0/1/messages"));
        assert_eq!((h.framing, h.keep_alive, h.http10), (Body::Length(12), true, false));
        assert_eq!(h.authorization.as_deref(), Some("Bearer t"));
        let h = head(
            "PUT http://sim:8080/v1/messages/abc HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n",
        );
        assert_eq!((h.path.as_str(), h.framing, h.keep_alive), ("/v1/messages/abc", Body::Chunked, false));
        let h = head("GET /v1/health HTTP/1.0\r\n\r\n");
        assert_eq!((h.http10, h.keep_alive, h.framing), (true, false, Body::None));
        assert!(head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
        assert!(head("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n").expect_continue);
        // Both: read as chunked, and the connection closed after the answer (RFC 9112 §6.3).
        let both = head("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n");
        assert_eq!((both.framing, both.keep_alive), (Body::Chunked, false));
        assert!(parse_head(b"POST / HTTP/1.1\r\nContent-Length: 1").unwrap().is_none(), "incomplete");
    }

    #[test]
    fn unreadable_heads_are_refused_with_their_status() {
        let bad = |t: &str| parse_head(t.as_bytes()).err();
        assert_eq!(
            bad("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            Some(StatusCode::BAD_REQUEST)
        );
        assert_eq!(bad("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), Some(StatusCode::BAD_REQUEST));
        assert_eq!(bad("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"), Some(StatusCode::BAD_REQUEST));
        assert_eq!(bad("NOT A REQUEST\r\n\r\n"), Some(StatusCode::BAD_REQUEST));
        let http10_te = "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(bad(http10_te), Some(StatusCode::BAD_REQUEST), "HTTP/1.0 framing with a transfer coding is faulty");
        let many: String = (0..101).map(|i| format!("x{i}: y\r\n")).collect();
        assert_eq!(bad(&format!("GET / HTTP/1.1\r\n{many}\r\n")), Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE));
    }

    /// Read a chunked body that is all in `bytes` (the connection has nothing more).
    async fn chunked(bytes: &[u8], limit: usize) -> Result<Bytes, BodyError> {
        let mut buf = BytesMut::from(bytes);
        let limits = Limits { body: limit, read_header: Duration::from_secs(5), idle: Duration::from_secs(5) };
        let until = Instant::now() + limits.idle;
        read_chunked(&mut Timed::new(&b""[..], &limits), &mut buf, limit, until).await.expect("the body is all there")
    }

    #[tokio::test]
    async fn chunk_sizes_never_wrap_and_extensions_and_trailers_are_capped() {
        let ok = chunked(b"2\r\nab\r\n1;x=y\r\nc\r\n0\r\nT: 1\r\n\r\n", 64).await;
        assert_eq!(ok, Ok(Bytes::from_static(b"abc")));
        // 2 + (2^64 - 2) wraps to 0 in unchecked arithmetic.
        assert_eq!(chunked(b"2\r\nab\r\nfffffffffffffffe\r\nxx", 1 << 20).await, Err(BodyError::TooLarge));
        assert_eq!(chunked(b"ffffffffffffffff\r\nxx", 1 << 20).await, Err(BodyError::TooLarge));
        // Past 2^64 − 1 in all, whatever the limit.
        assert_eq!(chunked(b"2\r\nab\r\nffffffffffffffff\r\n", usize::MAX).await, Err(BodyError::TooLarge));
        assert_eq!(chunked(b"+2\r\nab\r\n0\r\n\r\n", 64).await, Err(BodyError::Malformed));
        let ext = format!(";{}", "e".repeat(4000));
        let many: String = (0..5).map(|_| format!("1{ext}\r\nx\r\n")).collect();
        assert_eq!(chunked(format!("{many}0\r\n\r\n").as_bytes(), 64).await, Err(BodyError::Malformed));
        let fields: String = (0..=http1::MAX_TRAILER_FIELDS).map(|i| format!("t{i}: v\r\n")).collect();
        assert_eq!(chunked(format!("0\r\n{fields}\r\n").as_bytes(), 64).await, Err(BodyError::Malformed));
        let long = format!("0\r\nt: {}", "v".repeat(http1::MAX_TRAILERS));
        assert_eq!(chunked(long.as_bytes(), 64).await, Err(BodyError::Malformed));
        let lines: String = (0..80).map(|i| format!("t{i}: {}\r\n", "v".repeat(250))).collect();
        assert_eq!(chunked(format!("0\r\n{lines}\r\n").as_bytes(), 64).await, Err(BodyError::Malformed));
    }

    #[test]
    fn a_head_is_parsed_again_only_when_its_end_may_have_come() {
        assert!(!head_may_end(b"GET / HTTP/1.1\r\nHost: a\r\n", 0));
        // The new bytes (from the second argument on) finish the empty line.
        assert!(head_may_end(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 25));
        assert!(head_may_end(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 26));
        assert!(head_may_end(b"GET / HTTP/1.1\nHost: a\n\n", 23));
        assert!(!head_may_end(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27), "nothing new");
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 256, failure_persistence: None, ..Default::default() })]

        /// Chunked bodies made of hostile pieces (sizes near 2^64, signs, spaces, extensions, trailers,
        /// stray bytes) never panic the reader, and a body it returns is within the limit.
        #[test]
        fn hostile_chunked_bodies_never_panic(
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::prelude::any::<u64>().prop_map(|n| format!("{n:x}\r\n")),
                    (0u64..40).prop_map(|n| format!("{n:x}\r\n{}\r\n", "x".repeat(n as usize))),
                    proptest::prelude::Just("+5\r\nxxxxx\r\n".to_string()),
                    proptest::prelude::Just(" 5 ;a=b\r\n".to_string()),
                    proptest::prelude::Just("0\r\nT: v\r\n\r\n".to_string()),
                    "[ -~\r\n]{0,20}",
                ],
                0..8,
            ),
            limit in 0usize..200,
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
            let bytes = pieces.concat();
            let limits = Limits { body: limit, read_header: Duration::from_secs(5), idle: Duration::from_secs(5) };
            let got = rt.block_on(async {
                let mut buf = BytesMut::from(bytes.as_bytes());
                read_chunked(&mut Timed::new(&b""[..], &limits), &mut buf, limit, Instant::now() + limits.idle).await
            });
            if let Ok(Ok(body)) = got {
                proptest::prop_assert!(body.len() <= limit);
            }
        }
    }
}
