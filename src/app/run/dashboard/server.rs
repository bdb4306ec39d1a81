//! The dashboard's HTTP side: `GET /` the page, `GET /events` server-sent events (one snapshot a
//! second, and a last one when the run ends), `GET /state` one snapshot, `POST /control/pause`,
//! `/control/resume`, `/control/rate?value=N`, `/control/stop` answered in JSON. A thread of its own
//! with a header-read timeout, one request per connection (none idles) and a connection cap; it stops
//! when the run ends.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame};
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;

use super::access::{Access, Credentials};
use super::{Operator, Refused};

/// The page: markup, style and script in one file, nothing fetched from elsewhere.
pub const PAGE: &str = include_str!("page.html");

/// Connections served at once (a page holds one for its events).
const MAX_CONNECTIONS: usize = 64;

/// How long an event may wait for a client to read the ones before it.
const SLOW_READER: Duration = Duration::from_secs(30);

/// How often an event is sent.
const EVERY: Duration = Duration::from_secs(1);

type Reply = Response<BoxBody<Bytes, Infallible>>;

/// Bind `addr` and serve from a thread of its own until the run ends: the URL to open and the address.
pub fn serve(addr: SocketAddr, op: Arc<Operator>, access: Access) -> Result<(String, SocketAddr), String> {
    let listener = std::net::TcpListener::bind(addr).map_err(|e| format!("--dashboard {addr}: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let url = match &access.token {
        Some(t) => format!("http://{bound}/?token={t}"),
        None => format!("http://{bound}/"),
    };
    let access = Arc::new(access);
    std::thread::Builder::new()
        .name("wabench-dashboard".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(accept_until_ended(listener, op, access));
        })
        .map_err(|e| format!("cannot start the dashboard thread: {e}"))?;
    Ok((url, bound))
}

/// Accept connections until the run ends, then let the pages have their last event.
async fn accept_until_ended(listener: std::net::TcpListener, op: Arc<Operator>, access: Arc<Access>) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut ended = op.ended.subscribe();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = ended.wait_for(|e| *e) => break,
        };
        let Ok((sock, _)) = accepted else { continue };
        let Ok(slot) = slots.clone().try_acquire_owned() else { continue };
        let (op, access) = (op.clone(), access.clone());
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let (op, access) = (op.clone(), access.clone());
                async move { Ok::<_, Infallible>(route(req, &op, &access)) }
            });
            // One request per connection: none is left idle (an event stream is one long answer).
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(false)
                .header_read_timeout(Duration::from_secs(10))
                .timer(hyper_util::rt::TokioTimer::new())
                .serve_connection(TokioIo::new(sock), svc)
                .await;
            drop(slot);
        });
    }
    // The event streams send their last snapshot when they see the end.
    tokio::time::sleep(EVERY + Duration::from_millis(500)).await;
}

/// Answer one request.
fn route(req: Request<hyper::body::Incoming>, op: &Arc<Operator>, access: &Access) -> Reply {
    let query: Vec<(String, String)> =
        req.uri().query().map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    let find = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let header = |h: header::HeaderName| req.headers().get(h).and_then(|v| v.to_str().ok());
    let path = req.uri().path();
    let control = path.starts_with("/control/");
    let creds = Credentials {
        query_token: find("token"),
        authorization: header(header::AUTHORIZATION),
        host: header(header::HOST),
        origin: header(header::ORIGIN),
    };
    if let Err(why) = access.check(&creds, control) {
        let status = if access.token.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::FORBIDDEN };
        return json_reply(status, json!({ "ok": false, "error": why }));
    }
    match (req.method(), path) {
        (&Method::GET, "/") => page(),
        (&Method::GET, "/events") => events(op.clone()),
        (&Method::GET, "/state") => json_reply(StatusCode::OK, op.snapshot()),
        (&Method::POST, p) if control => act(op, &p["/control/".len()..], find("value")),
        (_, _) if control => json_reply(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({ "ok": false, "error": "control calls are POST requests" }),
        ),
        _ => json_reply(
            StatusCode::NOT_FOUND,
            json!({ "ok": false, "error": "not found: try /, /events, /state or POST /control/…" }),
        ),
    }
}

/// A control call: pause, resume, rate (with `value`), stop.
fn act(op: &Operator, what: &str, value: Option<&str>) -> Reply {
    let done = match what {
        "pause" => op.pause(),
        "resume" => op.resume(),
        "stop" => op.stop(),
        "rate" => match value.map(|v| v.trim().parse::<f64>()) {
            Some(Ok(v)) => op.rate(v),
            Some(Err(_)) => Err(Refused::Bad(format!("value={:?} is not a number", value.unwrap_or("")))),
            None => Err(Refused::Bad("give the new rate as ?value=N (requests/s)".into())),
        },
        other => {
            return json_reply(
                StatusCode::NOT_FOUND,
                json!({ "ok": false, "error": format!("no control {other:?}: pause, resume, rate or stop") }),
            );
        }
    };
    match done {
        Ok(o) => json_reply(
            StatusCode::OK,
            json!({ "ok": true, "action": what, "paused": o.paused, "rate": o.rate, "stopping": op.stopped() }),
        ),
        Err(Refused::Bad(e)) => json_reply(StatusCode::BAD_REQUEST, json!({ "ok": false, "error": e })),
        Err(Refused::Conflict(e)) => json_reply(StatusCode::CONFLICT, json!({ "ok": false, "error": e })),
    }
}

fn page() -> Reply {
    let mut r = Response::new(Full::new(Bytes::from_static(PAGE.as_bytes())).boxed());
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    // Nothing is loaded from elsewhere, and the page may only talk to this server.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn json_reply(status: StatusCode, v: serde_json::Value) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(format!("{v}\n"))).boxed());
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `text/event-stream`: a snapshot every second until the run ends (then a last one, named `end`).
fn events(op: Arc<Operator>) -> Reply {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    tokio::spawn(async move {
        let mut ended = op.ended.subscribe();
        let mut seq = 0u64;
        loop {
            let last = *ended.borrow_and_update();
            let name = if last { "end" } else { "snapshot" };
            let msg = format!("id: {seq}\nevent: {name}\ndata: {}\n\n", op.snapshot());
            // A client that stops reading is let go, and its connection with it.
            let sent = tokio::time::timeout(SLOW_READER, tx.send(Bytes::from(msg))).await;
            if !matches!(sent, Ok(Ok(()))) || last {
                return;
            }
            seq += 1;
            tokio::select! {
                _ = tokio::time::sleep(EVERY) => {}
                _ = ended.changed() => {}
            }
        }
    });
    let mut r = Response::new(Events { rx }.boxed());
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The body of an event stream: what the producing task sends, until it ends.
struct Events {
    rx: tokio::sync::mpsc::Receiver<Bytes>,
}

impl Body for Events {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx.poll_recv(cx).map(|m| m.map(|b| Ok(Frame::data(b))))
    }
}
