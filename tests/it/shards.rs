//! Sharded runs: shards add up to the whole plan, and `merge` joins their results exactly.

use crate::support::common;

use std::process::Command;

use common::{Behaviour, start};
use wabench::app::run::{Options, run_profile};
use wabench::results::Shard;
use wabench::results::{Summary, hlog};

#[test]
fn two_shards_merge_into_the_whole_plan_exactly() {
    let s = start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let path = common::profile(
        dir.path(),
        &format!(
            "name = \"sharded\"\n[load]\nstages = [{{ to = 300, over = \"1s\" }}, {{ to = 300, over = \"1s\" }}]\nconnections = 8\n[[targets]]\nname = \"t\"\nkind = \"http\"\nurl = \"http://{}/\"\n[thresholds]\n\"error_rate\" = \"< 1%\"\n",
            s.addr
        ),
    );
    let loaded = wabench::spec::load(&path).unwrap();
    let whole = wabench::engine::Plan::from_spec(&loaded.profile.load).expected_requests().unwrap();
    let mut parts = Vec::new();
    for i in 0..2 {
        let rx = wabench::Shutdown::new();
        let out = dir.path().join(format!("shard{i}"));
        let opts = Options { out: Some(out.clone()), shard: Shard { index: i, count: 2 }, ..Options::new(dir.path()) };
        let f = run_profile(&loaded, &opts, rx).unwrap();
        assert_eq!(f.run.shard, Some(Shard { index: i, count: 2 }));
        assert_eq!(f.run.targets[0].connections, 4);
        parts.push(out);
    }
    let merged_dir = dir.path().join("merged");
    let merged = common::merge(&parts, &merged_dir);
    let t = &merged.targets[0];
    assert_eq!(t.requests.planned, Some(whole));
    assert_eq!(t.requests.sent, whole, "the shards sent every request of the plan once");
    assert_eq!(t.requests.ok, whole);
    assert!(merged.passed && merged.thresholds.len() == 1);

    // The merged whole-run histograms are the parts' added: summaries equal exactly.
    let mut latency = wabench::results::histogram();
    let mut service = wabench::results::histogram();
    for p in &parts {
        for e in hlog::read(&p.join("t.totals.hlog")).unwrap().entries {
            match e.tag.as_deref() {
                Some("latency") => latency.add(&e.histogram).unwrap(),
                Some("service_time") => service.add(&e.histogram).unwrap(),
                _ => {}
            }
        }
    }
    assert_eq!(t.latency_us, Summary::of(&latency));
    assert_eq!(t.service_time_us, Summary::of(&service));
    assert_eq!(t.latency_us.count, whole);
    // The merged interval log and timeline hold every request.
    assert_eq!(hlog::read(&merged_dir.join("t.hlog")).unwrap().total().unwrap().len(), whole);
    let csv = std::fs::read_to_string(merged_dir.join("timeline.csv")).unwrap();
    let started: u64 = csv.lines().skip(1).map(|l| l.split(',').nth(3).unwrap().parse::<u64>().unwrap()).sum();
    assert_eq!(started, whole);
    let requested: u64 = csv.lines().skip(1).map(|l| l.split(',').nth(2).unwrap().parse::<u64>().unwrap_or(0)).sum();
    assert_eq!(requested, whole);
    assert!(merged_dir.join("report.html").exists());
}

#[test]
fn four_shard_processes_against_one_simulator_add_up() {
    // One simulator on loopback, four wabench processes each sending a quarter of the plan. The counts
    // are tested here, not a verdict: the default error gate is turned off.
    let (tx, rx) = std::sync::mpsc::channel();
    let sim = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let h = wabench::sim::spawn_local(wabench::spec::sim::SimConfig::benchmark(wabench::sim::Flavor::Cloud))
                .await
                .unwrap();
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            tx.send((h.addr, stop_tx)).unwrap();
            let _ = stop_rx.await;
            let stats = h.stats();
            h.shutdown().await.unwrap();
            stats
        })
    });
    let (addr, stop) = rx.recv().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = common::profile(
        dir.path(),
        &format!(
            "name = \"four\"\nseed = 7\n[load]\nrate = 400\nduration = \"2s\"\nconnections = 16\n[recipients]\ncountry_code = \"44\"\ncount = 1000\n[[targets]]\nname = \"cloud\"\nkind = \"cloud\"\nbase_url = \"http://{addr}\"\nphone_number_id = \"106540352242922\"\ntoken_env = \"WABENCH_SHARD_TEST_TOKEN\"\n[thresholds]\n\"error_rate\" = \"<= 100%\"\n"
        ),
    );
    let children: Vec<_> = (0..4)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_wabench"))
                .args(["run", path.to_str().unwrap(), "--quiet", "--shard", &format!("{i}/4"), "--out"])
                .arg(dir.path().join(format!("s{i}")))
                .env("WABENCH_SHARD_TEST_TOKEN", "shard-test-token")
                .output()
                .unwrap()
        })
        .collect();
    for c in &children {
        assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
    }
    let merged_dir = dir.path().join("merged");
    let out = Command::new(env!("CARGO_BIN_EXE_wabench"))
        .arg("merge")
        .args((0..4).map(|i| dir.path().join(format!("s{i}"))))
        .arg("--out")
        .arg(&merged_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    stop.send(()).unwrap();
    let stats = sim.join().unwrap();
    let merged = wabench::results::read_run(&merged_dir).unwrap();
    let t = &merged.targets[0];
    // Each shard sends its quarter of the schedule; a request its process could not send in time (a
    // busy machine: four processes and the simulator on shared cores) is dropped and counted, never
    // sent. Every planned request is one or the other, and the merge adds the shards' counts exactly.
    let r = &t.requests;
    assert_eq!(r.planned, Some(800));
    assert_eq!(r.sent + r.dropped, 800, "{r:?}");
    let parts: Vec<_> =
        (0..4).map(|i| wabench::results::read_run(&dir.path().join(format!("s{i}"))).unwrap()).collect();
    let part = |f: fn(&wabench::results::Counts) -> u64| parts.iter().map(|p| f(&p.targets[0].requests)).sum::<u64>();
    assert_eq!((part(|c| c.sent), part(|c| c.dropped), part(|c| c.ok)), (r.sent, r.dropped, r.ok));
    assert_eq!(r.ok + r.errors, r.sent + r.retries);
    assert_eq!(stats.requests, r.sent + r.retries, "the simulator saw every attempt once");
    assert_eq!(r.ok, stats.accepted);
    assert_eq!(t.connections, 16);
}

#[test]
fn shards_record_crossed_thresholds_and_the_merge_exits_99() {
    let s = start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    // `rate > 100000` cannot hold at 100 requests/s; the error rate passes.
    let path = common::profile(
        dir.path(),
        &format!(
            "name = \"verdicts\"\n[load]\nrate = 100\nduration = \"1s\"\nconnections = 4\n[[targets]]\nname = \"t\"\nkind = \"http\"\nurl = \"http://{}/\"\n[thresholds]\n\"rate\" = \"> 100000\"\n\"error_rate\" = \"< 1%\"\n",
            s.addr
        ),
    );
    let p = path.to_str().unwrap();
    let d = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    for i in 0..2 {
        let (code, out, err) =
            common::wabench(&["run", p, "--quiet", "--shard", &format!("{i}/2"), "--out", &d(&format!("s{i}"))]);
        assert_eq!(code, 0, "a shard records its verdict and exits 0: {out}\n{err}");
        assert!(err.contains(&format!("shard {i}/2")) && err.contains("wabench merge"), "{err}");
        let part = wabench::results::read_run(&dir.path().join(format!("s{i}"))).unwrap();
        assert!(!part.passed && part.thresholds.len() == 2, "the shard's verdicts are in its run.json");
    }
    let (code, _, err) =
        common::wabench(&["run", p, "--quiet", "--shard", "0/2", "--fail-on-thresholds", "--out", &d("s0-again")]);
    assert_eq!(code, 99, "asked to, a shard exits 99 on its own verdict: {err}");

    let (code, out, err) = common::wabench(&[
        "merge",
        &d("s0"),
        &d("s1"),
        "--out",
        &d("merged"),
        "--junit",
        &d("junit.xml"),
        "--summary-json",
        "-",
    ]);
    assert_eq!(code, 99, "the merge decides: {out}\n{err}");
    let summary: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("stdout is the JSON: {e}\n{out}"));
    assert_eq!(summary["passed"], false);
    assert_eq!(summary["targets"][0]["sent"], 100);
    assert!(err.contains("merged 2 folders") && err.contains("thresholds crossed"), "the table goes to stderr: {err}");
    let merged = wabench::results::read_run(&dir.path().join("merged")).unwrap();
    assert!(!merged.passed);
    let by: Vec<(&str, bool)> = merged.thresholds.iter().map(|v| (v.threshold.as_str(), v.passed)).collect();
    assert_eq!(by.len(), 2, "{by:?}");
    assert!(
        by.iter().any(|(t, p)| t.starts_with("rate") && !p)
            && by.iter().any(|(t, p)| t.starts_with("error_rate") && *p)
    );
    // A JUnit reader sees the merged verdict: two cases, the rate one failed.
    let junit = std::fs::read(dir.path().join("junit.xml")).unwrap();
    if let Some(j) = crate::support::python::junit(&junit) {
        assert_eq!((j["tests"].as_u64(), j["failures"].as_u64(), j["errors"].as_u64()), (Some(2), Some(1), Some(0)));
        let cases = j["suites"][0]["cases"].as_array().unwrap();
        let failed: Vec<&str> =
            cases.iter().filter(|c| c["result"][0]["kind"] == "Failure").map(|c| c["name"].as_str().unwrap()).collect();
        assert!(failed.len() == 1 && failed[0].starts_with("rate"), "{j}");
    }

    // The same shard twice (and so one missing) is refused: the verdict would leave a part out.
    let (code, _, err) = common::wabench(&["merge", &d("s0"), &d("s0-again"), "--out", &d("bad")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("shard 0/2 is also in"), "{err}");
}

/// `merge` reads the parts' interval logs side by side, a second at a time: the merged log is byte for
/// byte the one the batch writer gives for the parts' seconds added on the merged run's clock, and each
/// timeline row has the counts added and the percentiles of that second's added histogram.
#[test]
fn a_merge_streams_the_seconds_into_the_log_the_batch_writer_gives() {
    use crate::support::fixture;
    use std::collections::BTreeMap;
    use std::time::Duration;
    use wabench::results::{TimelineRow, folder, histogram, timeline};

    let dir = tempfile::tempdir().unwrap();
    let mut a = fixture::Spec::new("cloud", 40_000);
    a.errors = vec![(53, "http_503")];
    let mut b = fixture::Spec::new("cloud", 90_000);
    b.seconds = 12;
    b.dropped = 3;
    let (ta, mut tb) = (fixture::target(&a), fixture::target(&b));
    // The second part started 3 s later: its seconds land 3 s on in the merged run.
    tb.result.started_at += chrono::Duration::seconds(3);
    let parts = [dir.path().join("a"), dir.path().join("b")];
    for (p, t) in parts.iter().zip([&ta, &tb]) {
        let mut run = fixture::run("parts", None, std::slice::from_ref(t), &[]);
        run.started_at = t.result.started_at;
        fixture::write(p, &run, std::slice::from_ref(t));
    }
    let merged = dir.path().join("merged");
    let out = Command::new(env!("CARGO_BIN_EXE_wabench"))
        .arg("merge")
        .args(&parts)
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let mut seconds: BTreeMap<u64, hdrhistogram::Histogram<u64>> = BTreeMap::new();
    let mut rows: BTreeMap<u64, TimelineRow> = BTreeMap::new();
    for (p, offset) in parts.iter().zip([0u64, 3]) {
        let t = &folder::load(p).unwrap().targets[0];
        for s in &t.seconds {
            seconds.entry(offset + s.second).or_insert_with(histogram).add(&s.histogram).unwrap();
        }
        for r in &t.timeline {
            let second = offset + r.second;
            rows.entry(second).or_insert_with(|| TimelineRow { second, ..Default::default() }).add_counts(r);
        }
    }
    assert_eq!(seconds.len(), 20);
    let entries: Vec<(String, Duration, Duration, &hdrhistogram::Histogram<u64>)> = seconds
        .iter()
        .map(|(s, h)| ("cloud".to_string(), Duration::from_secs(*s), Duration::from_secs(1), h))
        .collect();
    let mut want = Vec::new();
    let base = ta.result.started_at.into();
    hlog::write_tagged(&mut want, base, "wabench merged interval log, target cloud", &entries).unwrap();
    assert_eq!(std::fs::read(merged.join("cloud.hlog")).unwrap(), want, "the merged interval log");
    let want_rows: Vec<TimelineRow> = rows.into_iter().map(|(s, r)| r.with_latency(seconds.get(&s))).collect();
    let got = timeline::parse(&std::fs::read_to_string(merged.join("timeline.csv")).unwrap()).unwrap();
    assert_eq!(got["cloud"], want_rows);
    assert_eq!(got["cloud"][5].started, 200, "both parts ran in second 5");

    // A report reads the folder without its per-second histograms: the same totals and timeline.
    let full = folder::load(&merged).unwrap();
    let light = folder::load_totals(&merged).unwrap();
    assert_eq!(full.targets[0].seconds.len(), 20);
    assert!(light.targets[0].seconds.is_empty());
    assert_eq!(light.targets[0].total, full.targets[0].total);
    assert_eq!(light.targets[0].timeline, full.targets[0].timeline);
    assert_eq!(light.targets[0].total.len(), 100 * 20 + 100 * 12, "503 answers have a latency too");
}

/// A part whose interval log goes back in time cannot be merged a second at a time: an error naming
/// the file, never a log with a second twice.
#[test]
fn a_part_whose_log_goes_back_in_time_is_refused_by_name() {
    use crate::support::fixture;
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let mut spec = fixture::Spec::new("cloud", 40_000);
    spec.seconds = 4;
    let t = fixture::target(&spec);
    let parts = [dir.path().join("a"), dir.path().join("b")];
    for (p, host) in parts.iter().zip(["bench-1", "bench-2"]) {
        let mut run = fixture::run("parts", None, std::slice::from_ref(&t), &[]);
        run.machine.hostname = host.into();
        fixture::write(p, &run, std::slice::from_ref(&t));
    }
    let entries: Vec<(String, Duration, Duration, &hdrhistogram::Histogram<u64>)> = t
        .seconds
        .iter()
        .rev()
        .map(|s| ("cloud".to_string(), Duration::from_secs(s.second), Duration::from_secs(1), &s.histogram))
        .collect();
    let mut bytes = Vec::new();
    hlog::write_tagged(&mut bytes, std::time::UNIX_EPOCH, "reversed", &entries).unwrap();
    std::fs::write(parts[1].join("cloud.hlog"), bytes).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wabench"))
        .arg("merge")
        .args(&parts)
        .arg("--out")
        .arg(dir.path().join("merged"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(&parts[1].join("cloud.hlog").display().to_string()) && err.contains("time order"), "{err}");
}

#[test]
fn a_part_waiting_for_its_start_time_stops_when_the_run_is_stopped() {
    let s = start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let path = common::profile(
        dir.path(),
        &format!(
            "name = \"later\"\n[load]\nrate = 50\nduration = \"2s\"\n[[targets]]\nname = \"t\"\nkind = \"http\"\nurl = \"http://{}/\"\n",
            s.addr
        ),
    );
    let loaded = wabench::spec::load(&path).unwrap();
    let out = dir.path().join("out");
    let opts = Options {
        out: Some(out.clone()),
        shard: Shard { index: 0, count: 2 },
        // An hour away: the part waits for it unless stopped.
        start_at: Some(std::time::SystemTime::now() + std::time::Duration::from_secs(3600)),
        report: false,
        ..Options::new(dir.path())
    };
    let ctrl_c = wabench::Shutdown::new();
    let stop = ctrl_c.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(run_profile(&loaded, &opts, stop));
    });
    // Most likely while it waits (a stop before the wait ends it as surely).
    std::thread::sleep(std::time::Duration::from_millis(200));
    ctrl_c.stop();
    let f = rx.recv_timeout(std::time::Duration::from_secs(60)).expect("stopped, not waiting an hour").expect("run");
    assert!(f.run.interrupted, "marked interrupted");
    assert!(f.run.targets.is_empty(), "no target ran: {:?}", f.run.targets.len());
    assert_eq!(s.hits.load(std::sync::atomic::Ordering::Relaxed), 0, "nothing was sent");
    assert!(wabench::results::read_run(&out).unwrap().interrupted, "its run.json is written");
}
