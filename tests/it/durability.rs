//! Durability of results: SIGINT/SIGTERM write complete results marked interrupted (exit 130);
//! SIGKILL leaves interval logs, a timeline and the slowest traced requests readable up to the last
//! second.

use crate::support::common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Behaviour, start};

fn spawn(profile: &Path, out: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_wabench"))
        .args(["run", profile.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wabench")
}

/// Wait (bounded) until the run has written at least `rows` timeline rows.
fn wait_rows(out: &Path, rows: usize) {
    let tl = out.join("timeline.csv.partial");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::fs::read_to_string(&tl).map(|s| s.lines().count() > rows).unwrap_or(false) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no timeline rows appeared in {}", tl.display());
}

fn long_profile(dir: &Path, addr: std::net::SocketAddr) -> std::path::PathBuf {
    common::profile(
        dir,
        &format!(
            "name = \"long\"\n[load]\nrate = 200\nduration = \"60s\"\ndrain = \"1s\"\n[[targets]]\nname = \"t\"\nkind = \"http\"\nurl = \"http://{addr}/\"\n[tracing]\nsample = 0.05\n"
        ),
    )
}

#[test]
fn sigint_writes_complete_results_marked_interrupted() {
    let s = start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut child = spawn(&long_profile(dir.path(), s.addr), &out);
    wait_rows(&out, 2);
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let run = wabench::results::read_run(&out).unwrap();
    assert!(run.interrupted);
    let t = &run.targets[0];
    assert!(t.requests.sent >= 200 && t.requests.sent < 12_000, "sent {}", t.requests.sent);
    assert_eq!(t.requests.ok, t.requests.sent);
    let log = wabench::results::hlog::read(&out.join("t.hlog")).unwrap();
    assert_eq!(log.total().unwrap().len(), t.latency_us.count, "the interval log holds every latency");
    assert!(out.join("timeline.csv").exists() && !out.join("timeline.csv.partial").exists());
    let traced = wabench::results::exemplars::Slowest::read(&out.join("t.exemplars.csv")).unwrap();
    assert!(!traced.is_empty() && !out.join("t.exemplars.csv.partial").exists());
}

#[test]
fn sigkill_leaves_readable_partial_files() {
    let s = start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut child = spawn(&long_profile(dir.path(), s.addr), &out);
    wait_rows(&out, 3);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.join("run.json").exists(), "a killed run has no run.json");
    let log = wabench::results::hlog::read(&out.join("t.hlog.partial")).unwrap();
    assert!(log.entries.len() >= 3, "{} intervals", log.entries.len());
    assert!(log.entries.iter().all(|e| !e.histogram.is_empty()));
    let csv = std::fs::read_to_string(out.join("timeline.csv.partial")).unwrap();
    assert!(csv.starts_with("target,second,"));
    assert!(csv.lines().count() >= 4);
    // The slowest traced requests of each second merged, as the interval log has them.
    let traced = wabench::results::exemplars::Slowest::read(&out.join("t.exemplars.csv.partial")).unwrap();
    let seconds: std::collections::BTreeSet<u64> = traced.all().map(|e| e.second).collect();
    assert!(seconds.len() >= 2, "rows of several seconds: {seconds:?}");
    let logged = log.entries.len() as u64;
    assert!(seconds.iter().all(|s| *s < logged), "{seconds:?} within the {logged} logged seconds");

    // `wabench report` still makes a partial report from what reached the disk.
    let rep = Command::new(env!("CARGO_BIN_EXE_wabench")).args(["report", out.to_str().unwrap()]).output().unwrap();
    assert!(rep.status.success(), "{}", String::from_utf8_lossy(&rep.stderr));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Partial report"), "the report says it is partial");
    assert!(html.contains("<svg"), "with charts");
    let slowest = traced.slowest(1)[0];
    assert!(html.contains("Slowest traced requests") && html.contains(&slowest.trace_id), "the slowest traced request");
    assert!(!out.join("run.json").exists(), "no run.json is made up");
}

#[test]
fn abort_on_fail_stops_early_and_exits_99() {
    // Every answer is a 503: the error-rate threshold is crossed at once, and the 60 s run stops.
    let s = start(Behaviour { status: Some(503), ..Default::default() });
    let dir = tempfile::tempdir().unwrap();
    let profile = common::profile(
        dir.path(),
        &format!(
            "name = \"abort\"\nabort_on_fail = true\n[load]\nrate = 200\nduration = \"60s\"\ndrain = \"1s\"\n[[targets]]\nname = \"t\"\nkind = \"http\"\nurl = \"http://{}/\"\n[thresholds]\n\"error_rate\" = \"< 1%\"\n",
            s.addr
        ),
    );
    let out = dir.path().join("out");
    let child = spawn(&profile, &out);
    let done = child.wait_with_output().unwrap();
    assert_eq!(done.status.code(), Some(99), "{}", String::from_utf8_lossy(&done.stderr));
    assert!(String::from_utf8_lossy(&done.stderr).contains("error_rate < 1%"));
    let run = wabench::results::read_run(&out).unwrap();
    assert!(run.aborted.as_deref().is_some_and(|a| a.contains("error_rate")));
    assert!(!run.passed && run.interrupted);
    assert!(run.targets[0].requests.sent < 2_000, "stopped long before the 12,000 planned");
}
