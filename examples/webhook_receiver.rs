//! Stand-alone status-webhook receiver for load measurements.
//!
//! Usage: `WABENCH_APP_SECRET=… webhook_receiver [--port 8089] [--threads 1]`.
//! Serves `POST /webhook` on 127.0.0.1 with signature verification until SIGINT/SIGTERM, then
//! prints the receiver counters and the tracker's statistics as JSON on stdout.

use std::time::Instant;

use wabench::webhook::{ReceiverConfig, Tracker, spawn};

fn main() -> std::io::Result<()> {
    let mut port: u16 = 8089;
    let mut threads: usize = 1;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        match arg.as_str() {
            "--port" => port = value().parse().map_err(std::io::Error::other)?,
            "--threads" => threads = value().parse().map_err(std::io::Error::other)?,
            other => return Err(std::io::Error::other(format!("unknown argument {other}"))),
        }
    }
    let secret = std::env::var("WABENCH_APP_SECRET").map_err(|_| std::io::Error::other("set WABENCH_APP_SECRET"))?;
    let runtime = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()?
    };
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let cfg = ReceiverConfig { app_secret: Some(secret.into_bytes()), ..ReceiverConfig::default() };
        let tracker = Tracker::default();
        let handle = spawn(listener, cfg, tracker.clone())?;
        eprintln!("listening on http://{}/webhook ({threads} thread(s))", handle.addr);
        let started = Instant::now();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        let counters = handle.counters();
        handle.stop().await?;
        let stats = tracker.finish();
        let report = serde_json::json!({
            "uptime_s": started.elapsed().as_secs_f64(),
            "receiver": counters,
            "delivery": stats,
        });
        println!("{}", serde_json::to_string_pretty(&report).map_err(std::io::Error::other)?);
        Ok(())
    })
}

/// The product binary's allocator, so the figure is the receiver users run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
