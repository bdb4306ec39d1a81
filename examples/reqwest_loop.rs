//! The client comparison behind the load path's design: a closed loop of N tasks sharing one pooled
//! reqwest client on a multi-thread runtime, for D seconds against a loopback URL. Prints requests/s;
//! `benches/client_choice.sh` runs it beside wabench's own closed loop on the same nginx.
//!
//! `cargo run --release --example reqwest_loop -- http://127.0.0.1:18480/index.json 64 8`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: reqwest_loop URL [TASKS] [SECONDS]")?;
    let parsed: http::Uri = url.parse()?;
    let host = parsed.host().unwrap_or_default();
    if !(host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())) {
        return Err("the comparison only sends to loopback addresses".into());
    }
    let tasks: usize = args.next().map_or(Ok(64), |s| s.parse())?;
    let secs: u64 = args.next().map_or(Ok(8), |s| s.parse())?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let n = rt.block_on(async move {
        let client = reqwest::Client::builder().pool_max_idle_per_host(tasks).build().expect("client");
        let count = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        for _ in 0..tasks {
            let (client, url, count, stop) = (client.clone(), url.clone(), count.clone(), stop.clone());
            let failed = failed.clone();
            handles.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    // Only a 200 with its whole body counts: a benchmark of an error path measures nothing.
                    let ok = match client.get(&url).send().await {
                        Ok(r) => r.status() == reqwest::StatusCode::OK && r.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    let counter = if ok { &count } else { &failed };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        let start = Instant::now();
        tokio::time::sleep(Duration::from_secs(secs)).await;
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            let _ = h.await;
        }
        (count.load(Ordering::Relaxed), start.elapsed(), failed.load(Ordering::Relaxed))
    });
    println!(
        "requests {} in {:.2}s: {:.0} requests/s; failed {}",
        n.0,
        n.1.as_secs_f64(),
        n.0 as f64 / n.1.as_secs_f64(),
        n.2
    );
    Ok(())
}
