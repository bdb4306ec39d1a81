//! Inputs with bounds: a recipients file with a 1 GiB line, a feeder with an oversized field or an
//! unclosed quote are refused quickly with a short error naming the file and line; a run against a
//! tarpit (accepts, never answers) ends by its duration + drain, its requests in flight cancelled.

use crate::support::common;

use std::time::{Duration, Instant};

use wabench::app::run::{Options, run_profile};

const HEAD: &str = "name = \"bounds\"\n[load]\nrate = 5\nduration = \"1s\"\n";

/// `wabench validate` on a profile in `dir`: exit code, stderr, and how long it took.
fn validate(dir: &std::path::Path, profile: &str) -> (i32, String, Duration) {
    let p = common::profile(dir, profile);
    let t = Instant::now();
    let (code, _out, err) = common::wabench(&["validate", p.to_str().unwrap()]);
    (code, err, t.elapsed())
}

#[test]
fn a_recipients_file_with_a_huge_line_is_refused_quickly_and_briefly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("to.csv");
    std::fs::write(&path, "phone\n15551230001\n15551230002\n").unwrap();
    // A sparse file: its third line runs 1 GiB without a line break.
    let f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.set_len(1 << 30).unwrap();
    let profile = format!(
        "{HEAD}[recipients]\nfile = \"to.csv\"\n[[targets]]\nname = \"wa\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n"
    );
    let (code, err, took) = validate(dir.path(), &profile);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("to.csv") && err.contains("line 4:") && err.contains("longer than"), "{err}");
    assert!(err.len() < 1000, "a short message: {} bytes", err.len());
    assert!(took < Duration::from_secs(5), "read no further than the bound: {took:?}");
}

#[test]
fn feeders_with_oversized_fields_or_unclosed_quotes_are_refused_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let profile = format!(
        "{HEAD}[[targets]]\nname = \"t\"\nkind = \"http\"\nurl = \"http://127.0.0.1:9/u/{{{{id}}}}\"\n\
         feeder = {{ file = \"users.csv\" }}\n"
    );
    // Two rows would become one: the quote opened on line 3 is never closed.
    std::fs::write(dir.path().join("users.csv"), "id,note\n1,a\n2,\"open\n3,c\n").unwrap();
    let (code, err, _) = validate(dir.path(), &profile);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("users.csv") && err.contains("line 3: a quoted field is never closed"), "{err}");

    let big = format!("id,note\n1,a\n2,{}\n", "x".repeat(100_000));
    std::fs::write(dir.path().join("users.csv"), big).unwrap();
    let (code, err, _) = validate(dir.path(), &profile);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("users.csv") && err.contains("line 3: a field longer than 16 KiB"), "{err}");
    assert!(err.len() < 1000, "{err}");

    std::fs::write(dir.path().join("users.csv"), "id,note\n1,\"fine, \"\"quoted\"\"\"\n").unwrap();
    let (code, err, _) = validate(dir.path(), &profile);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn the_drain_bounds_a_run_against_a_tarpit() {
    // Listening, never accepting: the kernel completes the handshakes and takes the requests' bytes,
    // and no answer ever comes.
    let tarpit = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = tarpit.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = common::profile(
        dir.path(),
        &format!(
            "name = \"tarpit\"\n[load]\nrate = 20\nduration = \"2s\"\ndrain = \"1s\"\nconnections = 4\n\
             timeout = \"30s\"\n[[targets]]\nname = \"t\"\nkind = \"http\"\nurl = \"http://{addr}/\"\n"
        ),
    );
    let loaded = wabench::spec::load(&path).unwrap();
    let opts = Options { out: Some(dir.path().join("out")), ..Options::new(dir.path()) };
    let (tx, rx) = std::sync::mpsc::channel();
    let t0 = Instant::now();
    std::thread::spawn(move || {
        let stop_rx = wabench::Shutdown::new();
        let _ = tx.send(run_profile(&loaded, &opts, stop_rx));
    });
    let f = rx.recv_timeout(Duration::from_secs(40)).expect("the run ended").expect("run");
    let took = t0.elapsed();
    assert!(took < Duration::from_millis(4500), "duration 2 s + drain 1 s, not the 30 s timeout: {took:?}");
    let t = &f.run.targets[0];
    let r = &t.requests;
    assert!(!t.interrupted, "the run ended by itself");
    assert_eq!(r.ok, 0);
    assert!(r.cancelled >= 4, "a request held on each connection is cancelled: {:?}", t.outcomes);
    assert_eq!(r.ok + r.errors + r.cancelled, r.sent + r.retries, "{:?}", t.outcomes);
    assert_eq!(wabench::results::read_run(&f.dir).unwrap(), f.run);
    drop(tarpit);
}

#[test]
fn the_drain_bounds_a_run_limited_only_by_max_requests() {
    // A closed loop with no duration: once its last request is sent, what is still in flight after
    // `drain` is cancelled, not waited on for its 120 s timeout.
    let tarpit = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = tarpit.local_addr().unwrap();
    let text = format!(
        "name = \"tarpit-count\"\n[load]\nmodel = \"closed\"\nconnections = 4\nmax_requests = 4\ndrain = \"1s\"\n\
         timeout = \"120s\"\n[[targets]]\nname = \"t\"\nkind = \"http\"\nurl = \"http://{addr}/\"\n"
    );
    // Far beyond the drain, far below the timeout.
    let (f, _dir) = common::run_guarded(&text, &[], Duration::from_secs(40));
    let t = &f.run.targets[0];
    let r = &t.requests;
    assert!(!t.interrupted && !f.run.interrupted, "the run ended by itself");
    assert_eq!((r.sent, r.ok, r.errors, r.cancelled), (4, 0, 0, 4), "{:?}", t.outcomes);
    assert_eq!(t.outcomes.iter().find(|o| o.key == "cancelled").map(|o| o.count), Some(4), "{:?}", t.outcomes);
    assert_eq!(r.ok + r.errors + r.cancelled, r.sent + r.retries);
    assert_eq!(wabench::results::read_run(&f.dir).unwrap(), f.run);
    drop(tarpit);
}
