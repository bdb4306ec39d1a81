//! End-to-end tests of the engine against loopback servers started by the test (port 0).

use crate::support::common;

use std::time::Duration;

use common::{Behaviour, start};
use wabench::app::run::{Finished, Options, run_profile};
use wabench::results::hlog;

fn run(text: &str) -> (Finished, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = common::profile(dir.path(), text);
    let loaded = wabench::spec::load(&path).expect("valid profile");
    let rx = wabench::Shutdown::new();
    let opts = Options { out: Some(dir.path().join("out")), ..Options::new(dir.path()) };
    let f = run_profile(&loaded, &opts, rx).expect("run");
    (f, dir)
}

fn outcome(f: &Finished, key: &str) -> u64 {
    f.run.targets[0].outcomes.iter().find(|o| o.key == key).map_or(0, |o| o.count)
}

#[test]
fn open_loop_sends_the_planned_requests_at_the_planned_rate() {
    let s = start(Behaviour::default());
    // Room for every planned request to be outstanding at once: a starved CPU that leaves the load
    // behind its schedule makes requests late (measured from their due time), never dropped, so the
    // counts below are exact on any machine.
    let (f, _d) = run(&format!(
        r#"name = "open"
[load]
rate = 400
duration = "2s"
connections = 8
max_in_flight = 1000
[[targets]]
name = "local"
kind = "http"
url = "http://{}/"
"#,
        s.addr
    ));
    assert!(f.error.is_none(), "{:?}", f.error);
    let t = &f.run.targets[0];
    assert_eq!(t.requests.planned, Some(800));
    assert_eq!(t.requests.sent, 800);
    assert_eq!(t.requests.ok, 800);
    assert_eq!(t.requests.dropped, 0);
    assert_eq!(s.hits.load(std::sync::atomic::Ordering::Relaxed), 800);
    assert_eq!(t.latency_us.count, 800);
    assert_eq!(t.rate.requested, Some(400.0));
    assert!(t.latency_us.p50 >= t.service_time_us.p50, "latency from the intended start includes service time");

    // The interval log holds every latency, and the timeline every started request.
    let dir = &f.dir;
    let log = hlog::read(&dir.join("local.hlog")).unwrap();
    assert_eq!(log.total().unwrap().len(), 800);
    assert!(log.entries.iter().all(|e| e.tag.as_deref() == Some("local")));
    let csv = std::fs::read_to_string(dir.join("timeline.csv")).unwrap();
    let column = |n: usize| -> Vec<u64> {
        csv.lines().skip(1).map(|l| l.split(',').nth(n).unwrap().parse::<u64>().unwrap_or(0)).collect()
    };
    let (requested, started) = (column(2), column(3));
    assert_eq!(started.iter().sum::<u64>(), 800);
    assert_eq!(requested.iter().sum::<u64>(), 800);
    assert_eq!(requested[..2], [400, 400], "the schedule: 400 due in each second");
    // At the planned rate, not faster: by the end of every second no more requests have started than
    // were due by then (a request may start up to the timer's lead, 1 ms, early: at most one per second
    // at 400/s). A busy machine can only make them later, never earlier.
    let (mut due, mut begun) = (0, 0);
    for (k, (r, s)) in requested.iter().zip(&started).enumerate() {
        (due, begun) = (due + r, begun + s);
        assert!(begun <= due + k as u64 + 1, "second {k}: {begun} started, {due} due: {csv}");
    }
    // run.json reads back equal.
    assert_eq!(wabench::results::read_run(dir).unwrap(), f.run);
    assert!(!dir.join("run.json.partial").exists() && !dir.join("local.hlog.partial").exists());
}

#[test]
fn closed_loop_stops_at_max_requests() {
    let s = start(Behaviour::default());
    let (f, _d) = run(&format!(
        r#"name = "closed"
[load]
model = "closed"
connections = 4
max_requests = 1000
duration = "30s"
[[targets]]
name = "local"
kind = "http"
url = "http://{}/x"
"#,
        s.addr
    ));
    let t = &f.run.targets[0];
    assert_eq!(t.requests.sent, 1000);
    assert_eq!(t.requests.ok, 1000);
    assert_eq!(t.model, "closed");
    assert!(t.duration_s < 30.0);
}

#[test]
fn open_loop_reveals_a_stall_that_closed_loop_hides() {
    // The server holds every answer for the first 500 ms of each 2 s period.
    let b = Behaviour { stall: Some((Duration::from_secs(2), Duration::from_millis(500))), ..Default::default() };
    let s = start(b.clone());
    let (open, _d1) = run(&format!(
        "name = \"co-open\"\n[load]\nrate = 200\nduration = \"4s\"\nconnections = 200\n[[targets]]\nname = \"s\"\nkind = \"http\"\nurl = \"http://{}/\"\n",
        s.addr
    ));
    let s2 = start(b);
    let (closed, _d2) = run(&format!(
        "name = \"co-closed\"\n[load]\nmodel = \"closed\"\nconnections = 2\nduration = \"4s\"\n[[targets]]\nname = \"s\"\nkind = \"http\"\nurl = \"http://{}/\"\n",
        s2.addr
    ));
    let o = &open.run.targets[0];
    let c = &closed.run.targets[0];
    // A quarter of the open-loop arrivals land in a stall and wait up to 500 ms: p90 ≈ 250 ms and
    // p99 ≈ 480 ms analytically. The closed loop has only its 2 users' requests waiting.
    assert!(o.latency_us.p99 > 350_000, "open-loop p99 {}µs should show the stall", o.latency_us.p99);
    assert!(o.latency_us.p90 > 100_000, "open-loop p90 {}µs", o.latency_us.p90);
    // The closed loop hides it: each of its 2 users waits in a stall at most once per stall (4 s hold
    // at most 3), so fewer than 1% of its requests do and its p99 is not one of them. Counted, not
    // timed: a busy machine makes every request slower, not more of them wait in a stall.
    let h = wabench::results::hlog::read(&closed.dir.join("s.hlog")).unwrap().total().unwrap();
    let stalled = h.count_between(250_000, h.max().max(250_000));
    assert!(stalled <= 6, "closed loop: {stalled} requests waited in a stall; its 2 users wait once a stall");
    assert!(stalled * 100 < h.len(), "closed-loop p99 hides the stall: {stalled} of {} requests waited", h.len());
    assert!(c.latency_us.max > 300_000, "but its max still saw it");
}

#[test]
fn requests_beyond_max_in_flight_are_dropped_and_counted() {
    let s = start(Behaviour { delay: Duration::from_millis(300), ..Default::default() });
    let (f, _d) = run(&format!(
        r#"name = "drop"
[load]
rate = 200
duration = "1s"
connections = 2
max_in_flight = 4
[[targets]]
name = "slow"
kind = "http"
url = "http://{}/"
"#,
        s.addr
    ));
    let t = &f.run.targets[0];
    assert_eq!(t.requests.sent + t.requests.dropped, 200, "every planned request is sent or dropped");
    assert!(t.requests.dropped > 150, "dropped {}", t.requests.dropped);
    assert_eq!(outcome(&f, "dropped"), t.requests.dropped);
    assert!(t.lateness_us.max > 100_000, "queued requests report lateness");
}

#[test]
fn timeouts_and_refused_connections_are_classified() {
    let s = start(Behaviour { silent: true, ..Default::default() });
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let refused = closed.local_addr().unwrap();
    drop(closed);
    let (f, _d) = run(&format!(
        r#"name = "bad"
[load]
rate = 20
duration = "1s"
connections = 20
timeout = "300ms"
[[targets]]
name = "silent"
kind = "http"
url = "http://{}/"
[[targets]]
name = "refused"
kind = "http"
url = "http://{}/"
"#,
        s.addr, refused
    ));
    let silent = &f.run.targets[0];
    assert_eq!(silent.outcomes.iter().find(|o| o.key == "timeout").map(|o| o.count), Some(20));
    assert_eq!(silent.requests.errors, 20);
    assert_eq!(silent.latency_us.count, 0);
    let refused = &f.run.targets[1];
    assert_eq!(refused.outcomes.iter().find(|o| o.key == "connect_error").map(|o| o.count), Some(20));
}

#[test]
fn error_statuses_are_counted_by_code_and_thresholds_fail() {
    let s = start(Behaviour { status: Some(503), ..Default::default() });
    let (f, _d) = run(&format!(
        r#"name = "errs"
[load]
rate = 50
duration = "1s"
[[targets]]
name = "down"
kind = "http"
url = "http://{}/"
[thresholds]
"error_rate" = "< 1%"
"down:latency.p99" = "< 10s"
"#,
        s.addr
    ));
    assert_eq!(outcome(&f, "http_503"), 50);
    assert!(!f.run.passed);
    let v: Vec<(bool, &str)> = f.run.thresholds.iter().map(|v| (v.passed, v.threshold.as_str())).collect();
    assert!(v.contains(&(false, "error_rate < 1%")), "{v:?}");
    assert!(v.contains(&(true, "down:latency.p99 < 10s")), "{v:?}");
}

#[test]
fn http2_targets_work() {
    let s = start(Behaviour { http2: true, ..Default::default() });
    let (f, _d) = run(&format!(
        "name = \"h2\"\n[load]\nrate = 100\nduration = \"1s\"\nconnections = 4\n[[targets]]\nname = \"h2\"\nkind = \"http\"\nurl = \"http://{}/\"\nhttp_version = \"2\"\nmethod = \"POST\"\nbody = \"{{}}\"\n",
        s.addr
    ));
    assert_eq!(f.run.targets[0].requests.ok, 100, "{:?}", f.run.targets[0].outcomes);
}

#[test]
fn stopping_writes_partial_results_marked_interrupted() {
    let s = start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let path = common::profile(
        dir.path(),
        &format!(
            "name = \"stop\"\n[load]\nrate = 100\nduration = \"60s\"\ndrain = \"1s\"\n[[targets]]\nname = \"a\"\nkind = \"http\"\nurl = \"http://{0}/\"\n[[targets]]\nname = \"b\"\nkind = \"http\"\nurl = \"http://{0}/\"\n",
            s.addr
        ),
    );
    let loaded = wabench::spec::load(&path).unwrap();
    let stop = wabench::Shutdown::new();
    let ctrl_c = stop.clone();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        ctrl_c.stop();
    });
    let opts = Options { out: Some(dir.path().join("out")), ..Options::new(dir.path()) };
    let f = run_profile(&loaded, &opts, stop).unwrap();
    drop(stopper.join());
    assert!(f.run.interrupted);
    assert_eq!(f.run.targets.len(), 1, "the second target never started");
    let t = &f.run.targets[0];
    assert!(t.interrupted);
    assert!(t.requests.sent > 50 && t.requests.sent < 1000, "sent {}", t.requests.sent);
    assert_eq!(t.requests.ok, t.requests.sent);
    let back = wabench::results::read_run(&f.dir).unwrap();
    assert!(back.interrupted);
    assert_eq!(hlog::read(&f.dir.join("a.hlog")).unwrap().total().unwrap().len(), t.requests.ok);
}
