//! Standalone simulator for throughput measurements: zero latency, no throughput or pair limits.
//!
//! Usage: `sim_server [PORT] [cloud|onprem]` (default 8080, cloud; port 0 picks a free one).
//! `SIM_THREADS` sets the runtime's worker threads (default: one per core; 1 runs a
//! single-threaded runtime). Stops on Ctrl-C and
//! prints its counters.

use wabench::sim::{Flavor, Sim, SimConfig};

fn main() -> std::io::Result<()> {
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = std::env::var("SIM_THREADS").ok().and_then(|v| v.parse().ok()) {
        rt.worker_threads(n);
    }
    rt.enable_all().build()?.block_on(run())
}

async fn run() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = match args.next() {
        Some(p) => {
            p.parse().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("port {p:?}: {e}")))?
        }
        None => 8080,
    };
    let flavor = match args.next().as_deref() {
        None | Some("cloud") => Flavor::Cloud,
        Some("onprem") => Flavor::OnPrem,
        Some(other) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("flavor {other:?}: expected cloud or onprem"),
            ));
        }
    };
    let sim =
        Sim::new(SimConfig::benchmark(flavor)).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("simulator ({flavor:?}) listening on http://{}", listener.local_addr()?);
    sim.serve(listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    let stats = sim.stats();
    eprintln!("requests {} accepted {} errors {:?}", stats.requests, stats.accepted, stats.errors);
    Ok(())
}
