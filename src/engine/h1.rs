//! The load path's HTTP/1.1 client: one connection driven by the task that sends on it, with no
//! connection task, channel or header map in between.
//!
//! A closed-loop run spends most of its client CPU per request in the kernel (one `write`, one `read`);
//! what is left is the client's own work, and a general-purpose client (a connection task, a request
//! channel and a oneshot per request, a `HeaderMap` built for every answer, body frames) made that
//! three to four times wrk's. Here a request is serialised into a reused buffer and written at once,
//! the answer's head is parsed in place with `httparse` (only the status and the framing headers are
//! kept), and the body is read by its framing (`Content-Length`, chunked, or until close), up to a cap,
//! into memory only when the target asked for it.
//!
//! One request at a time per connection (no pipelining). A connection whose state is not known to be
//! clean (an answer not read to its end, `Connection: close`, a close-delimited body, extra bytes after
//! an answer) is not used again.

use std::io::Write as _;
use std::pin::Pin;
use std::task::{Context, Poll};

use ::http::{Method, Request, StatusCode};
use bytes::{Buf, Bytes, BytesMut};
use http_body_util::Full;
use hyper::body::Body as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use crate::units::http1::{self, Body, ChunkError, ChunkedDecoder, Role, Step};

/// Most headers an answer may have (as hyper's default).
const MAX_HEADERS: usize = 100;
/// Longest answer head read before giving up on it.
const MAX_HEAD: usize = 64 * 1024;
/// Most interim (1xx) answers read before the final one.
const MAX_INFORMATIONAL: usize = 16;
/// Read buffer size (grows for a longer head).
const READ_CHUNK: usize = 8 * 1024;

/// A plain or TLS stream.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Why an exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H1Error {
    /// Not one byte of the request was written: the connection was found closed (or failed) first.
    /// With [`H1Error::Unread`], the only failures after which the request may go out again on a new
    /// connection.
    NotSent,
    /// The request was written, but to a connection the server had already closed: its end of stream
    /// came first, and its system then reset the connection on the request's bytes, which no
    /// application read. Like [`H1Error::NotSent`], the request may go out again.
    Unread,
    /// The request was written (wholly or in part), then the connection was closed or reset before any
    /// byte of the answer arrived. The server may have acted on it.
    ClosedAfterSend,
    /// The answer was cut short, or is not HTTP/1.x, or broke its framing.
    Broken,
    /// The body is longer than the cap.
    TooLarge,
    /// The TLS session failed (e.g. the server refused the client's certificate after the handshake,
    /// as TLS 1.3 allows): no application saw the request.
    Tls,
}

/// An answer read to its end.
#[derive(Debug)]
pub struct H1Reply {
    pub status: StatusCode,
    pub body: Bytes,
    /// The connection may carry another request.
    pub reusable: bool,
}

/// One HTTP/1.1 connection.
pub struct Connection {
    io: Stream,
    write: Vec<u8>,
    read: BytesMut,
    /// No request was sent on it yet.
    fresh: bool,
    /// When the first byte of the answer arrived, while the first exchange is watched.
    first_byte: Option<std::time::Instant>,
    watch_first_byte: bool,
}

impl Connection {
    pub fn new(io: Stream) -> Connection {
        Connection {
            io,
            write: Vec::with_capacity(512),
            read: BytesMut::with_capacity(READ_CHUNK),
            fresh: true,
            first_byte: None,
            watch_first_byte: false,
        }
    }

    /// Whether no request was sent on this connection yet; the first call says so, and asks the next
    /// exchange to note when the first byte of its answer arrives ([`Self::first_byte`]). Only a new
    /// connection's first exchange reads the clock for it.
    pub fn take_fresh(&mut self) -> bool {
        let fresh = std::mem::replace(&mut self.fresh, false);
        self.watch_first_byte = fresh;
        fresh
    }

    /// When the first byte of the watched exchange's answer arrived (once).
    pub fn first_byte(&mut self) -> Option<std::time::Instant> {
        self.watch_first_byte = false;
        self.first_byte.take()
    }

    /// Send `req` (origin-form URI) with `host` as its Host header unless it has one, and read the
    /// answer to its end; the body is kept when `wants_body(status)`, and may be at most `max_body`
    /// bytes.
    pub async fn exchange(
        &mut self,
        req: Request<Full<Bytes>>,
        host: &[u8],
        max_body: u64,
        wants_body: &impl Fn(StatusCode) -> bool,
    ) -> Result<H1Reply, H1Error> {
        let head_only = req.method() == Method::HEAD;
        let mut out = std::mem::take(&mut self.write);
        serialize(&mut out, req, host);
        let answer = self.exchange_bytes(&out, head_only, max_body, wants_body).await;
        self.write = out;
        answer
    }

    /// Like [`Self::exchange`], for a request already serialised (request line, headers with Host,
    /// body): written as is. `head_only`: it is a HEAD request (the answer has no body).
    pub async fn exchange_bytes(
        &mut self,
        request: &[u8],
        head_only: bool,
        max_body: u64,
        wants_body: &impl Fn(StatusCode) -> bool,
    ) -> Result<H1Reply, H1Error> {
        self.write_request(request).await?;
        self.read.clear();
        let (status, framing, mut reusable) = self.read_head(head_only).await?;
        let keep = wants_body(status);
        let mut body = BytesMut::new();
        match framing {
            Body::None => {}
            Body::Length(n) => {
                if n > max_body {
                    return Err(H1Error::TooLarge);
                }
                self.read_exact_body(n, keep.then_some(&mut body)).await?;
            }
            Body::Chunked => self.read_chunked(max_body, keep.then_some(&mut body)).await?,
            Body::UntilClose => {
                reusable = false;
                self.read_until_close(max_body, keep.then_some(&mut body)).await?;
            }
        }
        // Bytes after the answer were never asked for: the connection's state is unknown.
        reusable &= self.read.is_empty();
        Ok(H1Reply { status, body: body.freeze(), reusable })
    }

    /// Write the whole request; a failure is [`H1Error::NotSent`] only while none of it was written.
    async fn write_request(&mut self, request: &[u8]) -> Result<(), H1Error> {
        let mut written = 0;
        while written < request.len() {
            match self.io.write(&request[written..]).await {
                Ok(n) if n > 0 => written += n,
                _ if written == 0 => return Err(H1Error::NotSent),
                _ => return Err(H1Error::ClosedAfterSend),
            }
        }
        // A TLS stream may hold the last record until flushed; a plain one flushes nothing.
        self.io.flush().await.map_err(|_| H1Error::ClosedAfterSend)
    }

    /// Whether this idle connection is known to be unusable before anything is written on it: the
    /// server closed or reset it, or sent bytes nobody asked for. Looks once without waiting (the
    /// readiness the runtime already holds, at most one non-blocking read); a close still on its way
    /// is not seen, and then the request written on it gets [`H1Error::ClosedAfterSend`].
    pub fn closed_while_idle(&mut self) -> bool {
        self.read.clear();
        if self.read.capacity() < READ_CHUNK {
            self.read.reserve(READ_CHUNK);
        }
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut buf = ReadBuf::uninit(self.read.spare_capacity_mut());
        // Ready means an end of stream, an error or unsolicited bytes: the connection's state is not clean.
        Pin::new(&mut self.io).poll_read(&mut cx, &mut buf).is_ready()
    }

    /// At the end of the stream, before any answer: whether the server's system has also reset the
    /// connection. A server that closed its socket (not only its sending half) resets the connection
    /// when bytes reach it; bytes it had read would not. An end of stream followed by that reset means
    /// the request reached a socket already closed. A reset still on its way (a long round trip) is
    /// not seen: then the request stays [`H1Error::ClosedAfterSend`].
    fn reset_after_close(&self) -> bool {
        let tcp = match &self.io {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref().0,
        };
        matches!(tcp.take_error(), Ok(Some(e)) if e.kind() == std::io::ErrorKind::ConnectionReset)
    }

    /// Read more bytes into the read buffer; 0 at the end of the stream.
    async fn fill(&mut self) -> std::io::Result<usize> {
        if self.read.capacity() - self.read.len() < 1024 {
            self.read.reserve(READ_CHUNK);
        }
        self.io.read_buf(&mut self.read).await
    }

    /// Read and parse the head of the final answer (1xx informational answers are skipped).
    async fn read_head(&mut self, head_only: bool) -> Result<(StatusCode, Body, bool), H1Error> {
        let mut received_any = false;
        let mut informational = 0;
        loop {
            // Uninitialised slots: no 3 KiB of empty headers written before every parse.
            let mut headers = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
            let mut resp = httparse::Response::new(&mut []);
            match httparse::ParserConfig::default().parse_response_with_uninit_headers(
                &mut resp,
                &self.read,
                &mut headers,
            ) {
                Ok(httparse::Status::Complete(len)) => {
                    let code = resp.code.unwrap_or(0);
                    let status = StatusCode::from_u16(code).map_err(|_| H1Error::Broken)?;
                    let role = Role::Response { status: code, to_head: head_only };
                    let http10 = resp.version == Some(0);
                    let framing = http1::framing(role, http10, resp.headers.iter().map(|h| (h.name, h.value)))
                        .map_err(|_| H1Error::Broken)?;
                    self.read.advance(len);
                    if (100..200).contains(&code) {
                        informational += 1;
                        // A protocol switch nobody asked for is not an HTTP/1.1 answer any more; an
                        // endless stream of interim answers is not one either.
                        if code == 101 || informational > MAX_INFORMATIONAL {
                            return Err(H1Error::Broken);
                        }
                        continue;
                    }
                    return Ok((status, framing.body, framing.keep_alive));
                }
                Ok(httparse::Status::Partial) => {
                    if self.read.len() > MAX_HEAD {
                        return Err(H1Error::Broken);
                    }
                }
                Err(_) => return Err(H1Error::Broken),
            }
            match self.fill().await {
                Ok(0) if !received_any && self.read.is_empty() => {
                    return Err(if self.reset_after_close() { H1Error::Unread } else { H1Error::ClosedAfterSend });
                }
                Err(e) if is_tls(&e) => return Err(H1Error::Tls),
                Err(_) if !received_any && self.read.is_empty() => return Err(H1Error::ClosedAfterSend),
                Ok(0) | Err(_) => return Err(H1Error::Broken),
                Ok(_) => {
                    received_any = true;
                    if self.watch_first_byte && self.first_byte.is_none() {
                        self.first_byte = Some(std::time::Instant::now());
                    }
                }
            }
        }
    }

    async fn read_exact_body(&mut self, mut left: u64, mut keep: Option<&mut BytesMut>) -> Result<(), H1Error> {
        loop {
            let take = (self.read.len() as u64).min(left) as usize;
            if take > 0 {
                if let Some(b) = keep.as_deref_mut() {
                    b.extend_from_slice(&self.read[..take]);
                }
                self.read.advance(take);
                left -= take as u64;
            }
            if left == 0 {
                return Ok(());
            }
            match self.fill().await {
                Ok(0) | Err(_) => return Err(H1Error::Broken),
                Ok(_) => {}
            }
        }
    }

    async fn read_until_close(&mut self, max: u64, mut keep: Option<&mut BytesMut>) -> Result<(), H1Error> {
        let mut total = 0u64;
        loop {
            total += self.read.len() as u64;
            if total > max {
                return Err(H1Error::TooLarge);
            }
            if let Some(b) = keep.as_deref_mut() {
                b.extend_from_slice(&self.read);
            }
            self.read.clear();
            match self.fill().await {
                Ok(0) => return Ok(()),
                Err(_) => return Err(H1Error::Broken),
                Ok(_) => {}
            }
        }
    }

    /// A chunked body, decoded by [`ChunkedDecoder`] (caps on size lines and trailers, no overflow).
    async fn read_chunked(&mut self, max: u64, mut keep: Option<&mut BytesMut>) -> Result<(), H1Error> {
        let mut decoder = ChunkedDecoder::new(max);
        loop {
            let step = decoder.step(&self.read).map_err(|e| match e {
                ChunkError::TooLarge => H1Error::TooLarge,
                ChunkError::Malformed | ChunkError::TooLong => H1Error::Broken,
            })?;
            match step {
                Step::Framing(n) => self.read.advance(n),
                Step::Data(n) => {
                    if let Some(b) = keep.as_deref_mut() {
                        b.extend_from_slice(&self.read[..n]);
                    }
                    self.read.advance(n);
                }
                Step::Done(n) => {
                    self.read.advance(n);
                    return Ok(());
                }
                Step::NeedMore => self.more().await?,
            }
        }
    }

    async fn more(&mut self) -> Result<(), H1Error> {
        match self.fill().await {
            Ok(0) | Err(_) => Err(H1Error::Broken),
            Ok(_) => Ok(()),
        }
    }
}

/// `req` as HTTP/1.1 bytes into `out` (cleared first): request line, Host unless given, the request's
/// headers, Content-Length when there is a body (or the method usually has one), the body.
pub fn serialize(out: &mut Vec<u8>, req: Request<Full<Bytes>>, host: &[u8]) {
    let (parts, mut body) = req.into_parts();
    out.clear();
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    match parts.uri.path_and_query() {
        Some(pq) => out.extend_from_slice(pq.as_str().as_bytes()),
        None => out.push(b'/'),
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if !parts.headers.contains_key(::http::header::HOST) {
        out.extend_from_slice(b"host: ");
        out.extend_from_slice(host);
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in &parts.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    // `Full` yields its one data frame at once, without waiting.
    let data = match Pin::new(&mut body).poll_frame(&mut Context::from_waker(std::task::Waker::noop())) {
        Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
        _ => Bytes::new(),
    };
    let usually_has_body = matches!(parts.method, Method::POST | Method::PUT | Method::PATCH);
    if (!data.is_empty() || usually_has_body) && !parts.headers.contains_key(::http::header::CONTENT_LENGTH) {
        let _ = write!(out, "content-length: {}\r\n", data.len());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&data);
}

/// Whether a read failed on the TLS session itself (an alert from the server, a bad record).
fn is_tls(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_of(req: Request<Full<Bytes>>) -> String {
        let mut out = Vec::new();
        serialize(&mut out, req, b"example.test:8080");
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn requests_are_written_as_http_1_1() {
        let req = Request::builder()
            .method("POST")
            .uri("/v23.0/123/messages?x=1")
            .header("authorization", "Bearer t")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(b"{\"a\":1}")))
            .unwrap();
        assert_eq!(
            bytes_of(req),
            "POST /v23.0/123/messages?x=1 HTTP/1.1\r\nhost: example.test:8080\r\nauthorization: Bearer t\r\n\
             content-type: application/json\r\ncontent-length: 7\r\n\r\n{\"a\":1}"
        );
        let get = Request::builder().uri("/").body(Full::new(Bytes::new())).unwrap();
        assert_eq!(bytes_of(get), "GET / HTTP/1.1\r\nhost: example.test:8080\r\n\r\n");
        let empty_post = Request::builder().method("POST").uri("/p").body(Full::new(Bytes::new())).unwrap();
        assert!(bytes_of(empty_post).ends_with("content-length: 0\r\n\r\n"));
        let own_host = Request::builder().uri("/").header("host", "other").body(Full::new(Bytes::new())).unwrap();
        assert_eq!(bytes_of(own_host), "GET / HTTP/1.1\r\nhost: other\r\n\r\n");
    }

    /// Serve `answer` (raw bytes) to one request on a loopback connection and exchange over it.
    async fn exchange_with(answer: &'static [u8], method: &str, max: u64) -> Result<H1Reply, H1Error> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let _ = s.read(&mut buf).await;
            for piece in answer.chunks(7) {
                // Several small writes: the parser must cope with any split.
                let _ = s.write_all(piece).await;
                let _ = s.flush().await;
            }
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut c = Connection::new(Stream::Plain(tcp));
        let req = Request::builder().method(method).uri("/").body(Full::new(Bytes::new())).unwrap();
        let r = c.exchange(req, b"h", max, &|_| true).await;
        server.await.unwrap();
        r
    }

    #[tokio::test]
    async fn answers_are_read_by_their_framing() {
        let r = exchange_with(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "GET", 1024).await.unwrap();
        assert_eq!((r.status.as_u16(), &r.body[..], r.reusable), (200, &b"hello"[..], true));

        let chunked = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n";
        let r = exchange_with(chunked, "GET", 1024).await.unwrap();
        assert_eq!((r.status.as_u16(), &r.body[..], r.reusable), (201, &b"abcde"[..], true));

        let close = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";
        let r = exchange_with(close, "GET", 1024).await.unwrap();
        assert_eq!((&r.body[..], r.reusable), (&b"ok"[..], false));

        let until_close = b"HTTP/1.0 200 OK\r\n\r\nall of it";
        let r = exchange_with(until_close, "GET", 1024).await.unwrap();
        assert_eq!((&r.body[..], r.reusable), (&b"all of it"[..], false));

        let informational = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
        let r = exchange_with(informational, "GET", 1024).await.unwrap();
        assert_eq!((r.status.as_u16(), r.body.len(), r.reusable), (204, 0, true));

        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
        let r = exchange_with(head, "HEAD", 1024).await.unwrap();
        assert_eq!((r.body.len(), r.reusable), (0, true));
    }

    #[tokio::test]
    async fn bad_answers_are_errors_not_panics() {
        let too_long = b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n";
        assert_eq!(exchange_with(too_long, "GET", 1024).await.unwrap_err(), H1Error::TooLarge);
        let too_long_chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n";
        assert_eq!(exchange_with(too_long_chunked, "GET", 1024).await.unwrap_err(), H1Error::TooLarge);
        let cut = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
        assert_eq!(exchange_with(cut, "GET", 1024).await.unwrap_err(), H1Error::Broken);
        assert_eq!(exchange_with(b"garbage\r\n\r\n", "GET", 1024).await.unwrap_err(), H1Error::Broken);
        let bad_chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        assert_eq!(exchange_with(bad_chunk, "GET", 1024).await.unwrap_err(), H1Error::Broken);
        let two_lengths = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab";
        assert_eq!(exchange_with(two_lengths, "GET", 1024).await.unwrap_err(), H1Error::Broken);
        assert_eq!(exchange_with(b"", "GET", 1024).await.unwrap_err(), H1Error::ClosedAfterSend);
        assert_eq!(exchange_with(b"HTTP/1.1 2", "GET", 1024).await.unwrap_err(), H1Error::Broken);
    }
}
