//! A loopback HTTP server that answers a small JSON at once, except that every `PERIOD` it holds all
//! answers for `STALL` (default: 500 ms every 5 s). Used by `benches/peers.sh` to show coordinated
//! omission: an open-loop tester reports the stall, a closed-loop one hides most of it.
//!
//! `cargo run --release --example stall_server -- 127.0.0.1:18081 5s 500ms`

use std::convert::Infallible;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr: std::net::SocketAddr = args.next().unwrap_or_else(|| "127.0.0.1:18081".into()).parse()?;
    if !addr.ip().is_loopback() {
        return Err("the stall server listens on loopback only".into());
    }
    let period = humantime::parse_duration(&args.next().unwrap_or_else(|| "5s".into()))?;
    let stall = humantime::parse_duration(&args.next().unwrap_or_else(|| "500ms".into()))?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        println!("stall server on http://{addr}: holds answers for {stall:?} every {period:?}");
        let epoch = Instant::now();
        loop {
            let (sock, _) = tokio::select! {
                a = listener.accept() => a?,
                _ = tokio::signal::ctrl_c() => return Ok(()),
            };
            let _ = sock.set_nodelay(true);
            tokio::spawn(async move {
                let svc = service_fn(move |_req: Request<hyper::body::Incoming>| async move {
                    let into = Duration::from_nanos((epoch.elapsed().as_nanos() % period.as_nanos()) as u64);
                    if into < stall {
                        tokio::time::sleep(stall - into).await;
                    }
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"{\"ok\":true}"))))
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(sock), svc).await;
            });
        }
    })
}
