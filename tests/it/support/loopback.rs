//! A loopback server on a thread and runtime of its own, with counters the test reads: requests
//! and connections accepted. [`spawn`] serves each accepted connection with a handler the test gives
//! (a fault, a hostile answer, an HTTP/2 server that ends connections); [`http`] answers each HTTP
//! request with a handler the test gives (a recording target, an OTLP receiver, a server that checks
//! a header). Every connection is served for a bounded time; dropping the server stops it and its
//! connections.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};

pub struct LoopServer {
    pub addr: SocketAddr,
    /// Requests the handler counted as received.
    pub requests: Arc<AtomicU64>,
    /// Connections accepted.
    pub accepted: Arc<AtomicU64>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for LoopServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Start a server on 127.0.0.1:0 whose `handle` serves each connection for at most `limit`, counting
/// requests in the counter it is given.
pub fn spawn<F, Fut>(limit: Duration, handle: F) -> LoopServer
where
    F: Fn(TcpStream, Arc<AtomicU64>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    spawn_on(SocketAddr::from(([127, 0, 0, 1], 0)), limit, handle)
}

/// As [`spawn`], listening on `at` (a loopback address); returns once it listens.
pub fn spawn_on<F, Fut>(at: SocketAddr, limit: Duration, handle: F) -> LoopServer
where
    F: Fn(TcpStream, Arc<AtomicU64>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let std_listener = std::net::TcpListener::bind(at).expect("bind loopback");
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let (requests, accepted) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    let (r, a) = (requests.clone(), accepted.clone());
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = TcpListener::from_std(std_listener).unwrap();
            let mut tasks = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    _ = &mut rx => break,
                    c = listener.accept() => {
                        let Ok((sock, _)) = c else { continue };
                        a.fetch_add(1, Ordering::Relaxed);
                        let served = handle(sock, r.clone());
                        tasks.spawn(async move {
                            let _ = tokio::time::timeout(limit, served).await;
                        });
                    }
                }
            }
            tasks.abort_all();
        });
    });
    LoopServer { addr, requests, accepted, stop: Some(tx), thread: Some(thread) }
}

/// The HTTP a server of [`http`] speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Http {
    /// HTTP/1.1.
    One,
    /// HTTP/2 over plain TCP (h2c, prior knowledge).
    Two,
}

/// How long [`http`] serves one connection at the most.
pub const HTTP_CONNECTION_LIMIT: Duration = Duration::from_secs(60);

/// Start an HTTP server on 127.0.0.1:0 answering each request with `answer(n, request)`, where `n`
/// numbers the requests from 0 in the order they arrived (and `requests` counts them).
pub fn http<F, Fut>(version: Http, answer: F) -> LoopServer
where
    F: Fn(u64, Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let answer = Arc::new(answer);
    spawn(HTTP_CONNECTION_LIMIT, move |sock, requests| {
        let answer = answer.clone();
        let svc = service_fn(move |req: Request<Incoming>| {
            let answered = answer(requests.fetch_add(1, Ordering::Relaxed), req);
            async move { Ok::<_, Infallible>(answered.await) }
        });
        async move {
            let io = TokioIo::new(sock);
            let _ = match version {
                Http::One => hyper::server::conn::http1::Builder::new().serve_connection(io, svc).await,
                Http::Two => {
                    hyper::server::conn::http2::Builder::new(TokioExecutor::new()).serve_connection(io, svc).await
                }
            };
        }
    })
}
