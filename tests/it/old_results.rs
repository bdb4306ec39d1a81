//! Results folders written by the previous release (wabench 0.1.0, tests/fixtures/v0.1, see its
//! README.md) still work with this build: run.json reads (delivery latencies were a `Percentiles` type
//! without `min` and `stdev`), and `report`, `compare` and `merge` succeed on them. The commands run
//! on copies in a temporary folder; the fixtures are never written.

use crate::support::common::wabench;

use std::path::{Path, PathBuf};

use wabench::results::{Counts, Run, Summary, read_run};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v0.1").join(name)
}

/// Copy the fixture folder `name` (flat: files only) into `into`; returns the copy.
fn copy_fixture(name: &str, into: &Path) -> PathBuf {
    let to = into.join(name);
    std::fs::create_dir_all(&to).unwrap();
    for e in std::fs::read_dir(fixture(name)).unwrap() {
        let from = e.unwrap().path();
        assert!(from.is_file(), "{} holds only files", name);
        std::fs::copy(&from, to.join(from.file_name().unwrap())).unwrap();
    }
    to
}

fn s(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

#[test]
fn old_run_json_reads_with_its_delivery_latency_summaries() {
    let path = fixture("run").join("run.json");
    let run = read_run(&path).expect("an old run.json reads");
    let raw: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let names: Vec<&str> = run.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["cloud", "onprem"]);
    let kinds: Vec<&str> = run.targets.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(kinds, ["cloud", "onprem"]);
    for (t, raw) in run.targets.iter().zip(raw["targets"].as_array().unwrap()) {
        assert!(t.requests.ok > 0, "{}: {:?}", t.name, t.requests);
        let d = t.delivery.as_ref().unwrap_or_else(|| panic!("{}: delivery statistics", t.name));
        assert!(d.accepted > 0 && d.messages_delivered > 0, "{}: {d:?}", t.name);
        let summaries = [
            ("accept_to_sent", &d.latency_us.accept_to_sent),
            ("accept_to_delivered", &d.latency_us.accept_to_delivered),
            ("accept_to_read", &d.latency_us.accept_to_read),
            ("send_start_to_delivered", &d.latency_us.send_start_to_delivered),
        ];
        for (tag, got) in summaries {
            let old = &raw["delivery"]["latency_us"][tag];
            assert!(old.get("min").is_none() && old.get("stdev").is_none(), "the fixture is the old format: {old}");
            let want = Summary {
                count: old["count"].as_u64().unwrap(),
                min: 0,
                mean: old["mean"].as_f64().unwrap(),
                stdev: 0.0,
                p50: old["p50"].as_u64().unwrap(),
                p90: old["p90"].as_u64().unwrap(),
                p99: old["p99"].as_u64().unwrap(),
                p999: old["p999"].as_u64().unwrap(),
                max: old["max"].as_u64().unwrap(),
                // Not in older files: absent, never made up.
                p75: None,
                p95: None,
                p9999: None,
            };
            assert_eq!(got, &want, "{}: delivery {tag}", t.name);
        }
        assert!(d.latency_us.accept_to_delivered.count > 0, "{}", t.name);
        assert!(d.latency_us.accept_to_delivered.p50 > 0, "{}", t.name);
    }
}

#[test]
fn report_redraws_an_old_results_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_fixture("run", tmp.path());
    let run = read_run(&dir).unwrap();
    let (code, out, err) = wabench(&["report", s(&dir)]);
    assert_eq!(code, 0, "{out}\n{err}");
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html written");
    for t in &run.targets {
        assert!(html.contains(&format!("<th scope=\"col\">{}</th>", t.name)), "report lacks target {}", t.name);
        let d = t.delivery.as_ref().unwrap();
        let delivered = format!("{} of {} accepted", d.messages_delivered, d.accepted);
        assert!(html.contains(&delivered), "report lacks {}'s delivery row {delivered:?}", t.name);
    }
    assert!(html.contains("Status webhooks"));
}

#[test]
fn compare_reads_old_results_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let (run, shard0) = (copy_fixture("run", tmp.path()), copy_fixture("shard0", tmp.path()));
    let cmp = tmp.path().join("cmp");
    let (code, out, err) = wabench(&["compare", s(&run), s(&shard0), "--out", s(&cmp)]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.lines().any(|l| l.contains("ratio") && l.contains("95% CI")), "a table header: {out}");
    let p99: Vec<&str> = out.lines().filter(|l| l.starts_with("p99 ")).collect();
    assert!(!p99.is_empty() && p99.iter().all(|l| l.contains('×')), "p99 ratio lines: {out}");
    assert!(cmp.join("compare.html").exists() && !run.join("compare.html").exists());
}

/// The request counts of the parts added (planned only when every part planned).
fn sum(parts: &[&Counts]) -> Counts {
    parts.iter().skip(1).fold(parts[0].clone(), |a, b| Counts {
        planned: a.planned.zip(b.planned).map(|(x, y)| x + y),
        sent: a.sent + b.sent,
        retries: a.retries + b.retries,
        ok: a.ok + b.ok,
        errors: a.errors + b.errors,
        dropped: a.dropped + b.dropped,
        cancelled: a.cancelled + b.cancelled,
        resent: a.resent + b.resent,
        ambiguous: a.ambiguous + b.ambiguous,
    })
}

#[test]
fn merge_joins_old_shards() {
    let tmp = tempfile::tempdir().unwrap();
    let shards = [copy_fixture("shard0", tmp.path()), copy_fixture("shard1", tmp.path())];
    let out_dir = tmp.path().join("merged");
    let (code, out, err) = wabench(&["merge", s(&shards[0]), s(&shards[1]), "--out", s(&out_dir)]);
    assert_eq!(code, 0, "{out}\n{err}");
    let merged = read_run(&out_dir).unwrap();
    let parts: Vec<Run> = shards.iter().map(|d| read_run(d).unwrap()).collect();
    assert_eq!(merged.targets.len(), 2);
    for t in &merged.targets {
        let of_parts: Vec<_> =
            parts.iter().map(|p| p.targets.iter().find(|x| x.name == t.name).expect("in every part")).collect();
        let counts: Vec<&Counts> = of_parts.iter().map(|x| &x.requests).collect();
        assert_eq!(t.requests, sum(&counts), "{}", t.name);
        assert_eq!(t.requests.planned, Some(100), "{}: the two shards make the whole plan", t.name);

        let d = t.delivery.as_ref().unwrap_or_else(|| panic!("{}: merged delivery statistics", t.name));
        let part = |f: &dyn Fn(&wabench::results::DeliveryStats) -> u64| -> u64 {
            of_parts.iter().map(|x| f(x.delivery.as_ref().expect("delivery in every part"))).sum()
        };
        assert_eq!(d.accepted, part(&|d| d.accepted), "{}", t.name);
        assert_eq!(d.messages_delivered, part(&|d| d.messages_delivered), "{}", t.name);
        let delivered = part(&|d| d.latency_us.accept_to_delivered.count);
        assert!(delivered > 0);
        assert_eq!(d.latency_us.accept_to_delivered.count, delivered, "{}: summaries from the parts' logs", t.name);
        assert!(out_dir.join(wabench::results::delivery_hlog_name(&t.name)).exists());
    }
}
