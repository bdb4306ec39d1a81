//! The transport of the load path: one connection owned by one task (HTTP/1.1 by [`super::h1`], the
//! task itself reading and writing; HTTP/2 by hyper's connection-level API; plain or TLS via rustls),
//! driven on the task's own single-threaded runtime. Opening a connection (proxy, TLS) is
//! [`super::dial`]'s.
//! It sends a request, reads the response body up to a cap and reports an [`Outcome`] on failure.
//! It knows nothing of APIs: building requests and judging responses is the target's job.

use std::future::Future;
use std::net::SocketAddr;

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
use crate::engine::metrics::Outcome;
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

/// A live connection.
pub enum Conn {
    H1(Box<h1::Connection>),
    H2(http2::SendRequest<Full<Bytes>>),
}

impl Conn {
    /// Known to be closed. An HTTP/1.1 connection closed by the server while idle is found out by the
    /// next request on it (answered as stale, and sent again on a new connection).
    fn is_closed(&self) -> bool {
        match self {
            Conn::H1(_) => false,
            Conn::H2(s) => s.is_closed(),
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
        })
    }

    /// Open a connection; its driver runs as a local task. Must be called inside a `LocalSet`.
    pub async fn connect(&self) -> Result<Conn, Outcome> {
        let stream = self.dialer.open().await?;
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
        Ok(Conn::H2(send))
    }

    /// Send the request `make` builds (origin-form URI) on `conn`, opening a connection first when
    /// there is none or the old one was closed by the server. When a connection kept from before turns
    /// out to be closed before any of the answer arrived (the server closed it while idle: keep-alive
    /// timeout, `Connection: close`, GOAWAY, or a close without notice racing this request), the request
    /// is sent once more on a new connection, as browsers do: no answer to it was received. On any
    /// failure the connection is dropped.
    pub async fn send(
        &self,
        conn: &mut Option<Conn>,
        make: impl Fn() -> Request<Full<Bytes>>,
        raw: impl Fn() -> Option<Bytes>,
        max_body: u64,
        wants_body: impl Fn(StatusCode) -> bool,
    ) -> Result<Reply, Outcome> {
        let kept = match conn {
            Some(c) if !c.is_closed() => true,
            _ => {
                *conn = Some(self.connect().await?);
                false
            }
        };
        if matches!(conn, Some(Conn::H1(_))) {
            return self.send_h1(conn, kept, (make, raw), max_body, &wants_body).await;
        }
        let sent = match self.request(conn, make()).await {
            Err(Failure::Stale) if kept => {
                *conn = Some(self.connect().await?);
                self.request(conn, make()).await
            }
            r => r,
        };
        match sent {
            Ok(resp) => match read_body(resp, max_body, &wants_body).await {
                Ok(r) => Ok(r),
                Err(o) => {
                    *conn = None;
                    Err(o)
                }
            },
            Err(_) => {
                *conn = None;
                Err(Outcome::Io)
            }
        }
    }

    /// [`Self::send`] on an HTTP/1.1 connection.
    async fn send_h1(
        &self,
        conn: &mut Option<Conn>,
        kept: bool,
        (make, raw): (impl Fn() -> Request<Full<Bytes>>, impl Fn() -> Option<Bytes>),
        max_body: u64,
        wants_body: &impl Fn(StatusCode) -> bool,
    ) -> Result<Reply, Outcome> {
        let host = self.host_header.as_bytes();
        let once = async |conn: &mut Option<Conn>| match (conn, raw()) {
            (Some(Conn::H1(c)), Some(bytes)) => c.exchange_bytes(&bytes, false, max_body, wants_body).await,
            (Some(Conn::H1(c)), None) => c.exchange(make(), host, max_body, wants_body).await,
            _ => Err(H1Error::Broken),
        };
        let mut answer = once(conn).await;
        if matches!(answer, Err(H1Error::Stale)) && kept {
            *conn = Some(self.connect().await?);
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
                Err(if e == H1Error::TooLarge { Outcome::BodyTooLarge } else { Outcome::Io })
            }
        }
    }

    /// Send one request on `conn` and wait for the head of the answer.
    async fn request(
        &self,
        conn: &mut Option<Conn>,
        mut req: Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, Failure> {
        match conn.as_mut() {
            Some(Conn::H2(s)) => {
                let mut parts = req.uri().clone().into_parts();
                parts.scheme = Some(self.scheme.clone());
                parts.authority = Some(self.authority.clone());
                *req.uri_mut() = Uri::from_parts(parts).map_err(|_| Failure::Broken)?;
                s.ready().await.map_err(|_| Failure::Stale)?;
                s.send_request(req).await.map_err(|e| Failure::of(&e))
            }
            _ => Err(Failure::Broken),
        }
    }
}

/// Why a request got no answer head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// The connection was closed or reset before any of the answer arrived.
    Stale,
    /// Anything else (an answer that is not HTTP, a protocol error).
    Broken,
}

impl Failure {
    fn of(e: &hyper::Error) -> Failure {
        if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
            return Failure::Stale;
        }
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                use std::io::ErrorKind::*;
                if matches!(io.kind(), ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof) {
                    return Failure::Stale;
                }
            }
            source = s.source();
        }
        Failure::Broken
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
