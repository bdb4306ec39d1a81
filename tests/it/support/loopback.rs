//! A loopback server on a thread and runtime of its own, serving each accepted connection with a
//! handler the test gives (a fault, a hostile answer), with counters the test reads: requests the
//! handler counted and connections accepted. Dropping it stops the server and its connections.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
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
