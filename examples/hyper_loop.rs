//! The transport comparison behind the load path's HTTP/1.1 client: a closed loop of N tasks on one
//! current-thread runtime, each owning one connection of hyper's connection-level client (a
//! connection task, a request channel and a header map per answer), for D seconds against a loopback
//! URL. Prints requests/s; `benches/client_choice.sh` runs it beside reqwest and wabench's own closed
//! loop (whose HTTP/1.1 connections are driven by the sending task itself, `engine::h1`) on the same
//! nginx.
//!
//! `cargo run --release --example hyper_loop -- http://127.0.0.1:18480/index.json 64 8`

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: hyper_loop URL [TASKS] [SECONDS]")?;
    let uri: http::Uri = url.parse()?;
    let host = uri.host().unwrap_or_default().to_string();
    if !(host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())) {
        return Err("the comparison only sends to loopback addresses".into());
    }
    let addr = format!("{host}:{}", uri.port_u16().unwrap_or(80));
    let authority = uri.authority().map(|a| a.to_string()).unwrap_or(host);
    let path = uri.path_and_query().map_or("/".to_string(), |p| p.to_string());
    let tasks: usize = args.next().map_or(Ok(64), |s| s.parse())?;
    let secs: u64 = args.next().map_or(Ok(8), |s| s.parse())?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let local = tokio::task::LocalSet::new();
    let (ok, elapsed, failed) = local.block_on(&rt, async move {
        let ok = Rc::new(Cell::new(0u64));
        let failed = Rc::new(Cell::new(0u64));
        let stop = Rc::new(Cell::new(false));
        let mut handles = Vec::new();
        for _ in 0..tasks {
            let (ok, failed, stop) = (ok.clone(), failed.clone(), stop.clone());
            let (addr, authority, path) = (addr.clone(), authority.clone(), path.clone());
            handles.push(tokio::task::spawn_local(async move {
                let Ok(tcp) = tokio::net::TcpStream::connect(&addr).await else {
                    failed.set(failed.get() + 1);
                    return;
                };
                let _ = tcp.set_nodelay(true);
                let Ok((mut send, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await else {
                    failed.set(failed.get() + 1);
                    return;
                };
                tokio::task::spawn_local(conn);
                while !stop.get() {
                    let req = http::Request::get(path.as_str())
                        .header(http::header::HOST, authority.as_str())
                        .body(Full::new(bytes::Bytes::new()))
                        .expect("request");
                    // Only a 200 with its whole body counts: a benchmark of an error path measures nothing.
                    let good = match send.send_request(req).await {
                        Ok(r) => r.status() == http::StatusCode::OK && r.into_body().collect().await.is_ok(),
                        Err(_) => false,
                    };
                    let counter = if good { &ok } else { &failed };
                    counter.set(counter.get() + 1);
                    if !good {
                        return;
                    }
                }
            }));
        }
        let start = Instant::now();
        tokio::time::sleep(Duration::from_secs(secs)).await;
        stop.set(true);
        for h in handles {
            let _ = h.await;
        }
        (ok.get(), start.elapsed(), failed.get())
    });
    println!(
        "requests {ok} in {:.2}s: {:.0} requests/s; failed {failed}",
        elapsed.as_secs_f64(),
        ok as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
