//! `kind = "webhook"` targets end to end: against wabench's own receiver (every POST answered 200 and
//! every signature verified), against endpoints that answer 500, close, answer garbage or too slowly
//! (each classified, the run never fails), with Meta-like re-delivery, and with a handshake the
//! endpoint refuses (a clear error naming the target, never the token).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wabench::results::TargetResult;

/// How the test endpoint answers POST number `n` (counted over all connections).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Answer {
    Ok,
    Status500,
    /// Read the request, then close the connection without answering.
    Close,
    /// Answer bytes that are not HTTP, then close.
    Garbage,
    /// Answer 200 after this long.
    Slow(Duration),
}

/// Every POST body with its signature header.
type Bodies = Arc<Mutex<Vec<(Vec<u8>, Option<String>)>>>;

struct Endpoint {
    addr: SocketAddr,
    /// Answers given, by kind; and every POST body with its signature header.
    tally: Arc<Mutex<BTreeMap<&'static str, u64>>>,
    bodies: Bodies,
    stop: Arc<AtomicBool>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr);
    }
}

/// A raw HTTP/1.1 endpoint (blocking, a thread per connection) whose POSTs are answered by
/// `plan(n)`; the handshake is answered with the challenge unless `refuse_handshake`.
fn endpoint(plan: fn(u64) -> Answer, refuse_handshake: bool) -> Endpoint {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let tally: Arc<Mutex<BTreeMap<&'static str, u64>>> = Arc::default();
    let bodies: Bodies = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let posts = Arc::new(AtomicU64::new(0));
    let (t, b, s) = (tally.clone(), bodies.clone(), stop.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            if s.load(Ordering::Relaxed) {
                return;
            }
            let Ok(mut conn) = conn else { continue };
            let (t, b, posts) = (t.clone(), b.clone(), posts.clone());
            std::thread::spawn(move || {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                while let Some((head, body)) = read_request(&mut conn) {
                    if head.starts_with("GET ") {
                        let reply = if refuse_handshake {
                            respond(403, b"Forbidden")
                        } else {
                            let challenge = head
                                .split(['?', '&', ' '])
                                .find_map(|p| p.strip_prefix("hub.challenge="))
                                .unwrap_or("")
                                .to_string();
                            respond(200, challenge.as_bytes())
                        };
                        if conn.write_all(&reply).is_err() {
                            return;
                        }
                        continue;
                    }
                    let sig = head.lines().find_map(|l| {
                        l.to_ascii_lowercase().strip_prefix("x-hub-signature-256:").map(|v| v.trim().to_string())
                    });
                    b.lock().unwrap().push((body, sig));
                    let answer = plan(posts.fetch_add(1, Ordering::Relaxed));
                    let key = match answer {
                        Answer::Ok => "ok",
                        Answer::Status500 => "500",
                        Answer::Close => "close",
                        Answer::Garbage => "garbage",
                        Answer::Slow(_) => "slow",
                    };
                    *t.lock().unwrap().entry(key).or_default() += 1;
                    match answer {
                        Answer::Ok => drop(conn.write_all(&respond(200, b"EVENT_RECEIVED"))),
                        Answer::Status500 => drop(conn.write_all(&respond(500, b"oops"))),
                        Answer::Close => return,
                        Answer::Garbage => {
                            let _ = conn.write_all(b"\x00\x01 not http at all\r\n\r\n");
                            return;
                        }
                        Answer::Slow(d) => {
                            std::thread::sleep(d);
                            let _ = conn.write_all(&respond(200, b""));
                            return;
                        }
                    }
                }
            });
        }
    });
    Endpoint { addr, tally, bodies, stop }
}

fn respond(status: u16, body: &[u8]) -> Vec<u8> {
    let mut r = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n\r\n", body.len()).into_bytes();
    r.extend_from_slice(body);
    r
}

/// One request: its head (request line and headers) and body; `None` when the connection ends.
fn read_request(conn: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte).ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let len = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
        .unwrap_or(0usize);
    let mut body = vec![0; len];
    conn.read_exact(&mut body).ok()?;
    Some((head, body))
}

/// Run a profile in-process; its only target's result.
fn run(text: &str, files: &[(&str, &str)]) -> TargetResult {
    run_all(text, files).targets[0].clone()
}

/// Run a profile in-process; the whole run.
fn run_all(text: &str, files: &[(&str, &str)]) -> wabench::results::Run {
    let run = crate::support::common::run_in_tempdir(text, files);
    let t = &run.targets[0];
    assert_eq!(t.requests.ok + t.requests.errors + t.requests.cancelled, t.requests.sent + t.requests.retries);
    run
}

/// Meta's expectation of webhook servers as thresholds.
const META: &str = "[thresholds]\n\"webhook.within_250ms\" = \">= 50%\"\n\"webhook.over_1s\" = \"< 1%\"\n";

fn outcomes(t: &TargetResult) -> BTreeMap<String, u64> {
    t.outcomes.iter().map(|o| (o.key.clone(), o.count)).collect()
}

const MIX: &str = "max_batch = 4\n[targets.webhook.statuses]\nfailed = 0.2\n[targets.webhook.inbound]\ntext = 1\nimage = 1\ndocument = 1\naudio = 1\nsticker = 1\nlocation = 1\ninteractive = 1\nbutton = 1\nreaction = 1\n";

#[test]
fn every_post_to_the_embedded_receiver_is_answered_200_and_verified() {
    for flavor in ["cloud", "onprem"] {
        let run = run_all(
            &format!(
                "name = \"w\"\n[load]\nrate = 60\nduration = \"1s\"\nconnections = 4\n[[targets]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"embedded\"\n[targets.webhook]\nflavor = \"{flavor}\"\n{MIX}{META}"
            ),
            &[],
        );
        let t = &run.targets[0];
        assert_eq!(run.thresholds.len(), 2);
        assert!(run.thresholds.iter().all(|v| v.actual.is_some()), "{:?}", run.thresholds);
        assert_eq!((t.kind.as_str(), t.url.as_str()), ("webhook", "embedded"));
        assert_eq!(outcomes(t), BTreeMap::from([("ok".to_string(), 60)]), "{flavor}");
        let extra = t.extra.as_ref().unwrap();
        let (rx, tx) = (&extra["webhook_receiver"], &extra["webhook_target"]);
        assert_eq!(rx["received"], 60, "{flavor}: {rx}");
        assert_eq!(rx["handshakes_ok"], 1);
        for bad in ["bad_signature", "missing_signature", "malformed", "too_large"] {
            assert_eq!(rx[bad], 0, "{flavor}: {bad}");
        }
        assert_eq!(tx["signed"], flavor == "cloud");
        // Every status and inbound message the target built was parsed by the receiver.
        assert_eq!(rx["statuses"], tx["statuses"], "{flavor}");
        assert_eq!(rx["inbound_messages"], tx["inbound_messages"], "{flavor}");
        assert!(tx["statuses"].as_u64().unwrap() > 0 && tx["inbound_messages"].as_u64().unwrap() > 0);
        let slo = t.webhook_slo.as_ref().unwrap();
        assert_eq!((slo.attempts, slo.ok_within_1s), (60, 60), "a loopback receiver answers within 1 s");
        assert!(t.delivery.is_none(), "nothing to correlate: no API sends");
    }
}

fn external(url: &str, extra: &str) -> String {
    format!(
        "name = \"w\"\n[load]\nrate = 40\nduration = \"1s\"\nconnections = 4\ntimeout = \"300ms\"\ndrain = \"3s\"\n[[targets]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{url}\"\n[targets.webhook]\napp_secret_file = \"secret\"\nhandshake = false\n{extra}"
    )
}

#[test]
fn bodies_are_signed_with_the_app_secret_and_parse() {
    let e = endpoint(|_| Answer::Ok, false);
    let t = run(&external(&format!("http://{}/hook", e.addr), MIX), &[("secret", "my-app-secret\n")]);
    assert_eq!(outcomes(&t), BTreeMap::from([("ok".to_string(), 40)]));
    let bodies = e.bodies.lock().unwrap();
    assert_eq!(bodies.len(), 40);
    for (body, sig) in bodies.iter() {
        let sig = sig.as_deref().expect("every Cloud POST is signed");
        assert_eq!(wabench::webhook::verify(b"my-app-secret", body, Some(sig)), Ok(()));
        let n = wabench::webhook::parse_notification(body).unwrap();
        assert!(!n.statuses.is_empty() || n.inbound_messages > 0);
    }
}

#[test]
fn failing_endpoints_are_classified_and_the_run_completes() {
    // Every fourth POST: 200, 500, a closed connection, garbage.
    let e = endpoint(|n| [Answer::Ok, Answer::Status500, Answer::Close, Answer::Garbage][(n % 4) as usize], false);
    let run = run_all(&format!("{}{META}", external(&format!("http://{}/hook", e.addr), "")), &[("secret", "k")]);
    let t = run.targets[0].clone();
    assert!(!run.passed, "Meta's expectation as thresholds fails the run");
    let over = run.thresholds.iter().find(|v| v.threshold.starts_with("webhook.over_1s")).unwrap();
    assert!(!over.passed && over.actual.unwrap() > 0.5, "{over:?}");
    let tally = e.tally.lock().unwrap().clone();
    let o = outcomes(&t);
    assert_eq!(o.get("ok").copied(), tally.get("ok").copied(), "{o:?} / {tally:?}");
    assert_eq!(o.get("http_500").copied(), tally.get("500").copied(), "{o:?} / {tally:?}");
    // A POST the endpoint read and closed unanswered is counted as such, never sent again unasked:
    // the endpoint's closes and garbage answers are exactly the run's unanswered and broken ones.
    assert_eq!(o.get("closed_after_send").copied(), tally.get("close").copied(), "{o:?} / {tally:?}");
    assert_eq!(o.get("io_error").copied(), tally.get("garbage").copied(), "{o:?} / {tally:?}");
    assert_eq!(o.values().sum::<u64>(), 40, "{o:?}");
    assert_eq!(t.requests.sent, 40);
    let slo = t.webhook_slo.as_ref().unwrap();
    assert!(!slo.meets && slo.share_over_1s > 0.5, "{slo:?}");
}

#[test]
fn a_slow_endpoint_times_out() {
    let e = endpoint(|_| Answer::Slow(Duration::from_secs(2)), false);
    let text = external(&format!("http://{}/hook", e.addr), "").replace("rate = 40", "rate = 8");
    let t = run(&text, &[("secret", "k")]);
    assert_eq!(outcomes(&t), BTreeMap::from([("timeout".to_string(), 8)]));
    assert!(!t.webhook_slo.unwrap().tail_ok);
}

#[test]
fn failed_posts_are_redelivered_unchanged() {
    let e = endpoint(|n| if n % 2 == 0 { Answer::Status500 } else { Answer::Ok }, false);
    let retry = "[targets.webhook.retry]\nmax_attempts = 3\ninitial = \"20ms\"\n";
    let text = external(&format!("http://{}/hook", e.addr), retry).replace("rate = 40", "rate = 10");
    let t = run(&text, &[("secret", "k")]);
    assert!(t.requests.retries > 0, "{:?}", t.requests);
    let bodies = e.bodies.lock().unwrap();
    assert_eq!(bodies.len() as u64, t.requests.sent + t.requests.retries);
    let distinct: std::collections::BTreeSet<&Vec<u8>> = bodies.iter().map(|(b, _)| b).collect();
    assert_eq!(distinct.len() as u64, t.requests.sent, "a re-delivery carries the same body");
    assert_eq!(t.extra.as_ref().unwrap()["webhook_target"]["redeliveries_scheduled"], t.requests.retries);
}

#[test]
fn a_refused_handshake_stops_the_run_naming_the_target() {
    let e = endpoint(|_| Answer::Ok, true);
    let dir = tempfile::tempdir().unwrap();
    let text = external(&format!("http://{}/hook", e.addr), "").replace("handshake = false\n", "");
    let p = crate::support::common::profile(dir.path(), &text);
    std::fs::write(dir.path().join("secret"), "k").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wabench"))
        .args(["run", p.to_str().unwrap(), "--results", dir.path().join("r").to_str().unwrap()])
        .env("WABENCH_VERIFY_TOKEN", "tok-SECRET-42")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("target \"hook\"") && stderr.contains("handshake") && stderr.contains("403"), "{stderr}");
    assert!(!stderr.contains("tok-SECRET-42"), "the token is never shown: {stderr}");
    assert_eq!(e.bodies.lock().unwrap().len(), 0, "no load after a failed handshake");
    // Without the token in the environment, the error names the variable.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wabench"))
        .args(["run", p.to_str().unwrap(), "--results", dir.path().join("r").to_str().unwrap()])
        .env_remove("WABENCH_VERIFY_TOKEN")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("WABENCH_VERIFY_TOKEN") && stderr.contains("hook"), "{stderr}");
}

#[test]
fn profile_errors_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let check = |extra: &str, field: &str| {
        let text = format!(
            "name = \"w\"\n[load]\nrate = 5\nduration = \"1s\"\n[[targets]]\nname = \"h\"\nkind = \"webhook\"\nurl = \"embedded\"\n{extra}"
        );
        let p = crate::support::common::profile(dir.path(), &text);
        let e = wabench::spec::load(&p).unwrap_err();
        assert_eq!(e.field.as_deref(), Some(field), "{e}");
    };
    check("base_url = \"embedded\"", "targets[0].base_url");
    check("[targets.webhook]\nmax_batch = 0", "targets[0].webhook.max_batch");
    check("[targets.webhook.statuses]\nread = 5", "targets[0].webhook.statuses.read");
    check("[targets.webhook]\nmessages_per_second = 10", "targets[0].webhook.messages_per_second");
    // The sizing shortcut sets the rate when the profile leaves it out.
    let text = "name = \"w\"\n[load]\nduration = \"2s\"\n[[targets]]\nname = \"h\"\nkind = \"webhook\"\nurl = \"embedded\"\n[targets.webhook]\nmessages_per_second = 10\ninbound_per_second = 4\n";
    let p = crate::support::common::profile(dir.path(), text);
    assert_eq!(wabench::spec::load(&p).unwrap().profile.load.rate, Some(34.0));
}
