//! Status webhooks posted by the embedded simulator, end to end over loopback: with the webhook
//! receiver and tracker, with a wrong secret, with a receiver that comes up late, on shutdown,
//! through a whole run, and their determinism.

use crate::support::common;
use crate::support::sim as sim_support;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use sim_support::{Client, template_to, text_to};
use tokio::net::TcpListener;
use wabench::sim::hooks::HookStats;
use wabench::sim::{Flavor, SimConfig, SimHandle, spawn_local};
use wabench::spec::sim::{HooksConfig, StageDelay};
use wabench::webhook::{ReceiverConfig, Tracker, TrackerConfig};

const SECRET: &[u8] = b"simulator-test-secret";

/// Benchmark limits (none), zero API latency, zero webhook delays, open windows, the given callback.
fn config(flavor: Flavor, seed: u64, url: String, f: impl FnOnce(&mut HooksConfig)) -> SimConfig {
    let mut cfg = SimConfig::benchmark(flavor);
    cfg.seed = seed;
    // These tests are about the webhook mechanics: every window open, so text messages deliver.
    cfg.service_window.enabled = false;
    let zero = StageDelay::constant(Duration::ZERO);
    cfg.webhooks = HooksConfig {
        callback_url: Some(url),
        app_secret: Some(SECRET.to_vec()),
        sent: zero.clone(),
        delivered: zero.clone(),
        read: zero,
        retry_initial: Duration::from_millis(50),
        retry_max: Duration::from_millis(200),
        ..HooksConfig::default()
    };
    f(&mut cfg.webhooks);
    cfg
}

fn url_of(addr: SocketAddr) -> String {
    format!("http://{addr}/webhook")
}

/// Send `n` messages (every fifth a template) to distinct recipients; report accepts to `tracker`.
async fn send(sim: &SimHandle, flavor: Flavor, n: usize, tracker: Option<&Tracker>) -> Vec<String> {
    let mut c = Client::connect(sim).await;
    let (path, auth) = match flavor {
        Flavor::Cloud => (sim_support::PATH.to_string(), sim_support::TOKEN.to_string()),
        Flavor::OnPrem => ("/v1/messages".to_string(), sim_support::login(&mut c).await),
    };
    let mut ids = Vec::new();
    for i in 0..n {
        let to = format!("+1 650 555 {:04}", 1000 + i);
        let mut body = if i % 5 == 0 { template_to(&to) } else { text_to(&to) };
        if flavor == Flavor::OnPrem && i % 5 == 0 {
            body["template"]["namespace"] = "c8ae5f90_307a_ca4c_b8f6_d1e2a2573574".into();
            body["template"]["language"]["policy"] = "deterministic".into();
        }
        let start = Instant::now();
        let r = c.post(&path, Some(&auth), &body).await;
        assert!(r.status.is_success(), "{:?} {}", r.status, r.json);
        let id = r.json["messages"][0]["id"].as_str().unwrap().to_string();
        if let Some(t) = tracker {
            t.sent(&id, start, Instant::now());
        }
        ids.push(id);
    }
    ids
}

/// Poll `f` every 10 ms for at most 30 s.
async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn hooks(sim: &SimHandle) -> HookStats {
    sim.stats().webhooks
}

#[tokio::test]
async fn every_accepted_message_gets_its_statuses_and_injected_anomalies_are_seen() {
    let tracker = Tracker::new(TrackerConfig::default());
    let rc = ReceiverConfig { app_secret: Some(SECRET.to_vec()), ..ReceiverConfig::default() };
    let receiver = wabench::webhook::spawn_local(rc, tracker.clone()).await.unwrap();
    // One POST at a time, so statuses arrive in the order the simulator posts them.
    let cfg = config(Flavor::Cloud, 11, url_of(receiver.addr), |h| {
        h.concurrency = 1;
        h.read_fraction = 0.5;
        h.failed_fraction = 0.05;
        h.failed_codes = vec![131049];
        h.duplicate_fraction = 0.1;
        h.out_of_order_fraction = 0.1;
        h.delivered_and_failed_fraction = 0.05;
    });
    let sim = spawn_local(cfg).await.unwrap();
    let n = 300;
    send(&sim, Flavor::Cloud, n, Some(&tracker)).await;
    wait_for("every status posted", || {
        let h = hooks(&sim);
        h.messages == n as u64 && h.statuses_posted == h.statuses_planned
    })
    .await;
    let h = hooks(&sim);
    wait_for("every status applied", || receiver.counters().statuses == h.statuses_planned).await;
    let rc = receiver.counters();
    receiver.stop().await.unwrap();
    let d = tracker.finish();

    assert_eq!(sim.stats().accepted, n as u64);
    assert_eq!((h.failed_attempts, h.retries, h.given_up, h.dropped), (0, 0, 0, 0), "{h:?}");
    assert_eq!((rc.bad_signature, rc.missing_signature), (0, 0), "signed webhooks verify");
    assert_eq!(d.accepted, n as u64);
    assert_eq!(d.lost, 0);
    assert_eq!(d.messages_delivered + d.messages_failed, n as u64, "every message got a final status");
    assert!(d.statuses.sent >= n as u64 && d.statuses.sent <= n as u64 + h.injected_duplicates);
    // The injected anomalies, as the tracker sees them.
    assert!(h.injected_duplicates > 10 && h.injected_out_of_order > 10 && h.injected_failed > 3, "{h:?}");
    assert!(h.injected_delivered_and_failed > 3, "{h:?}");
    assert_eq!(d.duplicates, h.injected_duplicates);
    assert_eq!(d.out_of_order, h.injected_out_of_order);
    assert_eq!(d.delivered_and_failed, h.injected_delivered_and_failed);
    assert_eq!(d.messages_failed, h.injected_failed);
    // Failed statuses carry their code.
    assert_eq!(d.failed_without_code, 0);
    assert_eq!(d.failed_by_code.keys().copied().collect::<Vec<_>>(), vec![131049]);
    assert!(d.statuses.failed >= h.injected_failed + h.injected_delivered_and_failed);
    assert!(d.statuses.read > 0);
    let _ = sim.shutdown().await;
}

#[tokio::test]
async fn a_wrong_secret_is_refused_and_retried_until_given_up() {
    let tracker = Tracker::new(TrackerConfig::default());
    let rc = ReceiverConfig { app_secret: Some(b"another secret".to_vec()), ..ReceiverConfig::default() };
    let receiver = wabench::webhook::spawn_local(rc, tracker.clone()).await.unwrap();
    let cfg = config(Flavor::Cloud, 5, url_of(receiver.addr), |h| {
        h.read_fraction = 0.0;
        h.duplicate_fraction = 0.0;
        h.delivered_and_failed_fraction = 0.0;
        h.retry_for = Duration::from_millis(400);
    });
    let sim = spawn_local(cfg).await.unwrap();
    send(&sim, Flavor::Cloud, 5, Some(&tracker)).await;
    wait_for("every status given up", || {
        let h = hooks(&sim);
        h.messages == 5 && h.given_up == h.statuses_planned
    })
    .await;
    let h = hooks(&sim);
    let rc = receiver.counters();
    receiver.stop().await.unwrap();
    let d = tracker.finish();
    assert_eq!(h.statuses_planned, 10, "sent + delivered per message");
    assert_eq!(h.webhooks_posted, 0);
    assert!(h.retries >= 10, "each POST retried at least once: {h:?}");
    assert_eq!(h.failed_attempts, h.attempts);
    assert_eq!(rc.bad_signature, h.attempts, "every attempt refused for its signature");
    assert_eq!(d.lost, 5);
    let _ = sim.shutdown().await;
}

#[tokio::test]
async fn statuses_reach_a_receiver_that_comes_up_late() {
    let probe = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let tracker = Tracker::new(TrackerConfig::default());
    let cfg = config(Flavor::Cloud, 9, url_of(addr), |h| {
        h.retry_initial = Duration::from_millis(100);
        h.retry_for = Duration::from_secs(60);
    });
    let sim = spawn_local(cfg).await.unwrap();
    let n = 20;
    send(&sim, Flavor::Cloud, n, Some(&tracker)).await;
    // Nothing listens: attempts fail until the receiver starts.
    wait_for("refused attempts", || hooks(&sim).failed_attempts >= 40).await;
    assert_eq!(hooks(&sim).webhooks_posted, 0);
    let listener = TcpListener::bind(addr).await.expect("the receiver's port is still free");
    let rc = ReceiverConfig { app_secret: Some(SECRET.to_vec()), ..ReceiverConfig::default() };
    let receiver = wabench::webhook::spawn(listener, rc, tracker.clone()).unwrap();
    wait_for("every status delivered after the outage", || {
        let h = hooks(&sim);
        h.statuses_posted == h.statuses_planned
    })
    .await;
    receiver.stop().await.unwrap();
    let d = tracker.finish();
    let h = hooks(&sim);
    assert!(h.retries >= h.statuses_planned, "{h:?}");
    assert_eq!(h.given_up, 0);
    assert_eq!(d.accepted, n as u64);
    assert_eq!(d.messages_delivered + d.messages_failed, n as u64);
    assert_eq!(d.lost, 0);
    let _ = sim.shutdown().await;
}

/// Signature header and body of every POST received.
type Posts = Arc<Mutex<Vec<(Option<String>, Bytes)>>>;

/// A webhook endpoint that records every POST (its signature header and body) and answers 200.
struct Recorder {
    addr: SocketAddr,
    posts: Posts,
}

async fn recorder() -> Recorder {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let posts: Posts = Arc::default();
    let p = posts.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let p = p.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let p = p.clone();
                    async move {
                        let sig =
                            req.headers().get("x-hub-signature-256").and_then(|v| v.to_str().ok()).map(String::from);
                        let body = req.into_body().collect().await.map(|c| c.to_bytes()).unwrap_or_default();
                        p.lock().unwrap().push((sig, body));
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
    Recorder { addr, posts }
}

/// (message id, status, error code) of every recorded status, sorted.
fn statuses_of(posts: &[(Option<String>, Bytes)]) -> Vec<(String, String, i64)> {
    let mut out: Vec<_> = posts
        .iter()
        .flat_map(|(_, body)| wabench::webhook::parse(body).unwrap())
        .map(|s| (s.id.clone(), s.status.as_str().to_string(), s.errors.map_or(0, |e| e[0].code)))
        .collect();
    out.sort();
    out
}

async fn recorded_run(flavor: Flavor, seed: u64, n: usize, f: fn(&mut HooksConfig)) -> (HookStats, Recorder) {
    let rec = recorder().await;
    let sim = spawn_local(config(flavor, seed, url_of(rec.addr), f)).await.unwrap();
    send(&sim, flavor, n, None).await;
    wait_for("every status posted", || {
        let h = hooks(&sim);
        h.messages == n as u64 && h.statuses_posted == h.statuses_planned
    })
    .await;
    let h = hooks(&sim);
    let _ = sim.shutdown().await;
    (h, rec)
}

#[tokio::test]
async fn the_same_seed_posts_the_same_statuses() {
    let f = |h: &mut HooksConfig| {
        h.failed_fraction = 0.1;
        h.duplicate_fraction = 0.2;
        h.delivered_and_failed_fraction = 0.1;
    };
    let (a, ra) = recorded_run(Flavor::Cloud, 21, 100, f).await;
    let (b, rb) = recorded_run(Flavor::Cloud, 21, 100, f).await;
    assert_eq!(a, b);
    let (sa, sb) = (statuses_of(&ra.posts.lock().unwrap()), statuses_of(&rb.posts.lock().unwrap()));
    assert_eq!(sa.len() as u64, a.statuses_planned);
    assert_eq!(sa, sb);
    // Signed with the app secret, in the Cloud envelope.
    for (sig, body) in ra.posts.lock().unwrap().iter() {
        assert_eq!(wabench::webhook::verify(SECRET, body, sig.as_deref()), Ok(()));
        let v: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["object"], "whatsapp_business_account");
        assert_eq!(v["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"], "1234567890");
    }
}

#[tokio::test]
async fn onprem_webhooks_are_unsigned_batched_and_skip_sent() {
    let (h, rec) = recorded_run(Flavor::OnPrem, 4, 50, |h| {
        h.max_batch = 10;
        h.read_fraction = 0.0;
        h.duplicate_fraction = 0.0;
        h.out_of_order_fraction = 0.0;
        h.delivered_and_failed_fraction = 0.0;
    })
    .await;
    let posts = rec.posts.lock().unwrap();
    assert_eq!(h.statuses_posted, 50, "one delivered status per message");
    assert!(h.webhooks_posted < 50 && h.webhooks_posted == posts.len() as u64, "batched: {h:?}");
    let mut kinds = BTreeMap::new();
    for (sig, body) in posts.iter() {
        assert!(sig.is_none(), "on-prem webhooks carry no signature");
        let v: Value = serde_json::from_slice(body).unwrap();
        let statuses = v["statuses"].as_array().unwrap();
        assert!(statuses.len() <= 10);
        for s in statuses {
            *kinds.entry(s["status"].as_str().unwrap().to_string()).or_insert(0) += 1;
            assert_eq!(s["pricing"]["pricing_model"], "CBP");
        }
    }
    assert_eq!(kinds, BTreeMap::from([("delivered".to_string(), 50)]));
}

#[tokio::test]
async fn shutdown_abandons_pending_statuses_quickly_and_counts_them() {
    let rec = recorder().await;
    let cfg = config(Flavor::Cloud, 2, url_of(rec.addr), |h| {
        h.read_fraction = 1.0;
        h.read = StageDelay::constant(Duration::from_secs(3600));
        h.duplicate_fraction = 0.0;
        h.delivered_and_failed_fraction = 0.0;
    });
    let sim = spawn_local(cfg).await.unwrap();
    send(&sim, Flavor::Cloud, 10, None).await;
    wait_for("sent and delivered posted", || hooks(&sim).statuses_posted == 20).await;
    let handle = sim.sim().clone();
    let t0 = Instant::now();
    sim.shutdown().await.unwrap();
    assert!(t0.elapsed() < Duration::from_secs(2), "shutdown took {:?}", t0.elapsed());
    let h = handle.stats().webhooks;
    assert_eq!(h.statuses_planned, 30);
    assert_eq!(h.pending_at_shutdown, 10, "the read statuses due in an hour");
}

#[test]
fn a_run_with_webhooks_measures_delivery_of_every_accepted_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::profile(
        dir.path(),
        r#"name = "simhooks"
seed = 3
[load]
rate = 50
duration = "2s"
connections = 4
[[targets]]
name = "cloud"
kind = "cloud"
base_url = "embedded"
[[targets]]
name = "onprem"
kind = "onprem"
base_url = "embedded"
[simulator]
seed = 3
[simulator.latency]
median = "5ms"
p99 = "20ms"
# Delivery mechanics only: every window open, no undeliverable recipient.
[simulator.service_window]
enabled = false
[simulator.recipients]
undeliverable_suffixes = []
[simulator.webhooks]
sent = { median = "50ms", p99 = "200ms" }
delivered = { median = "100ms", p99 = "400ms" }
read_fraction = 0
delivered_and_failed_fraction = 0
[webhooks]
grace = "10s"
"#,
    );
    let loaded = wabench::spec::load(&path).expect("valid profile");
    let rx = wabench::Shutdown::new();
    let opts =
        wabench::app::run::Options { out: Some(dir.path().join("out")), ..wabench::app::run::Options::new(dir.path()) };
    let f = wabench::app::run::run_profile(&loaded, &opts, rx).expect("run");
    assert!(f.error.is_none(), "{:?}", f.error);
    assert_eq!(f.run.targets.len(), 2);
    for t in &f.run.targets {
        let d = t.delivery.as_ref().expect("delivery stats");
        assert!(d.accepted > 80, "{}: accepted {}", t.name, d.accepted);
        assert_eq!(d.messages_delivered, d.accepted, "{}", t.name);
        assert_eq!(d.lost, 0, "{}", t.name);
        assert!(d.latency_us.accept_to_delivered.p50 > 50_000, "{:?}", d.latency_us.accept_to_delivered);
        let extra = t.extra.as_ref().unwrap();
        let sim = &extra["simulator"]["webhooks"];
        assert_eq!(sim["messages"].as_u64(), Some(d.accepted), "{}", t.name);
        assert_eq!(sim["given_up"].as_u64(), Some(0));
        // On-prem webhooks are unsigned: the engine's receiver for that target accepts them.
        let receiver = &extra["webhook_receiver"];
        assert_eq!(receiver["bad_signature"].as_u64(), Some(0));
        assert_eq!(receiver["missing_signature"].as_u64(), Some(0));
        assert!(f.dir.join(format!("{}.delivery.hlog", t.name)).exists());
    }
    assert!(f.run.targets[0].delivery.as_ref().unwrap().statuses.sent > 0, "Cloud posts `sent`");
    assert_eq!(f.run.targets[1].delivery.as_ref().unwrap().statuses.sent, 0, "on-prem does not by default");
    let text = std::fs::read_to_string(f.dir.join("run.json")).unwrap();
    assert!(!text.contains("\"callback_url\"") && !text.contains("\"app_secret\""));
    // The report shows the delivery figures and their chart.
    let html = std::fs::read_to_string(f.dir.join("report.html")).unwrap();
    assert!(html.contains("Status webhooks") && html.contains("accept → delivered"), "delivery rows in report.html");
    assert!(f.dir.join("delivery_spectrum.svg").exists() && f.dir.join("delivery_spectrum.png").exists());
    // Its caption says what it plots (not the request latency of the chart it is drawn like).
    let at = html.find("delivery_spectrum.svg").expect("the chart in the report");
    let figure = &html[html[..at].rfind("<figure").unwrap()..at + html[at..].find("</figure>").unwrap()];
    assert!(figure.contains("delivered status webhook") && !figure.contains("intended start"), "{figure}");
}
