//! A Prometheus endpoint for watching a long run (`run --metrics-listen ADDR`): `GET /metrics` answers
//! counters per target (sent, ok, errors, dropped) and a latency summary (quantiles of everything
//! finished so far, and the p99 of the last second), in the text exposition format. Read-only; it reads
//! the same lock-free counters as the progress line and never touches the load path.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use crate::engine::executor::Progress;

/// The targets of the run so far, with their live progress.
#[derive(Default)]
pub struct Registry {
    targets: Mutex<Vec<(String, Arc<Progress>)>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Registry")
    }
}

impl Registry {
    pub fn add(&self, name: &str, p: Arc<Progress>) {
        if let Ok(mut t) = self.targets.lock() {
            t.push((name.to_string(), p));
        }
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let targets = self.targets.lock().map(|t| t.clone()).unwrap_or_default();
        // One read of each target's counters, so the four counters of a scrape agree.
        let totals: Vec<(u64, u64, u64, u64)> = targets.iter().map(|(_, p)| p.totals()).collect();
        let mut s = String::new();
        let counter = |s: &mut String, name: &str, help: &str, f: fn(&(u64, u64, u64, u64)) -> u64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter");
            for ((t, _), c) in targets.iter().zip(&totals) {
                let _ = writeln!(s, "{name}{{target=\"{}\"}} {}", esc(t), f(c));
            }
        };
        counter(&mut s, "wabench_requests_sent_total", "Requests started.", |c| c.0);
        counter(&mut s, "wabench_requests_ok_total", "Requests that ended ok.", |c| c.1);
        counter(&mut s, "wabench_requests_errors_total", "Attempts that ended in an error.", |c| c.2);
        counter(&mut s, "wabench_requests_dropped_total", "Requests not sent: too many outstanding.", |c| c.3);
        let _ = writeln!(
            s,
            "# HELP wabench_latency_seconds Latency from the intended start, seconds finished so far.\n# TYPE wabench_latency_seconds summary"
        );
        for (t, p) in &targets {
            let v = p.view.lock().map(|v| v.clone()).unwrap_or_default();
            if let Some(h) = v.overall.as_ref().filter(|h| !h.is_empty()) {
                for q in [0.5, 0.9, 0.99, 0.999] {
                    let _ = writeln!(
                        s,
                        "wabench_latency_seconds{{target=\"{}\",quantile=\"{q}\"}} {}",
                        esc(t),
                        h.value_at_quantile(q) as f64 / 1e6
                    );
                }
                let _ = writeln!(
                    s,
                    "wabench_latency_seconds_sum{{target=\"{}\"}} {}",
                    esc(t),
                    h.mean() * h.len() as f64 / 1e6
                );
                let _ = writeln!(s, "wabench_latency_seconds_count{{target=\"{}\"}} {}", esc(t), h.len());
            }
        }
        let _ = writeln!(
            s,
            "# HELP wabench_last_second_p99_seconds p99 latency of the last finished second.\n# TYPE wabench_last_second_p99_seconds gauge"
        );
        for (t, p) in &targets {
            let v = p.view.lock().map(|v| v.p99_us).unwrap_or(0);
            let _ = writeln!(s, "wabench_last_second_p99_seconds{{target=\"{}\"}} {}", esc(t), v as f64 / 1e6);
        }
        s
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Serve `/metrics` on `addr` from a thread of its own until the process ends; returns the bound address.
pub fn serve(addr: SocketAddr, reg: Arc<Registry>) -> Result<SocketAddr, String> {
    let listener = std::net::TcpListener::bind(addr).map_err(|e| format!("--metrics-listen {addr}: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    std::thread::Builder::new()
        .name("wabench-metrics".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
                loop {
                    let Ok((sock, _)) = listener.accept().await else { continue };
                    let reg = reg.clone();
                    tokio::spawn(async move {
                        let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                            let reg = reg.clone();
                            async move {
                                let (status, body) = if req.uri().path() == "/metrics" {
                                    (StatusCode::OK, reg.render())
                                } else {
                                    (StatusCode::NOT_FOUND, "not found: try /metrics\n".to_string())
                                };
                                let mut r = Response::new(Full::new(Bytes::from(body)));
                                *r.status_mut() = status;
                                r.headers_mut().insert(
                                    hyper::header::CONTENT_TYPE,
                                    hyper::header::HeaderValue::from_static("text/plain; version=0.0.4"),
                                );
                                Ok::<_, Infallible>(r)
                            }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .header_read_timeout(std::time::Duration::from_secs(10))
                            .timer(hyper_util::rt::TokioTimer::new())
                            .serve_connection(TokioIo::new(sock), svc)
                            .await;
                    });
                }
            })
        })
        .map_err(|e| format!("cannot start the metrics thread: {e}"))?;
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;

    #[test]
    fn renders_counters_and_quantiles_per_target() {
        let p = Arc::new(Progress::default());
        let c = Arc::new(crate::engine::metrics::LiveCounters::default());
        c.sent.store(10, Ordering::Relaxed);
        c.ok.store(9, Ordering::Relaxed);
        c.errors.store(1, Ordering::Relaxed);
        p.counters.lock().unwrap().push(c);
        let mut h = crate::results::histogram();
        h.record(250_000).unwrap();
        p.view.lock().unwrap().overall = Some(h);
        let reg = Registry::default();
        reg.add("cloud \"a\"", p);
        let text = reg.render();
        assert!(text.contains("wabench_requests_sent_total{target=\"cloud \\\"a\\\"\"} 10"), "{text}");
        assert!(text.contains("wabench_requests_errors_total{target=\"cloud \\\"a\\\"\"} 1"));
        assert!(text.contains("quantile=\"0.99\"} 0.25"), "{text}");
        assert!(text.contains("# TYPE wabench_latency_seconds summary"));
    }
}
