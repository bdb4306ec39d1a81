//! Any percentile, spelled one way, in thresholds, `compare --fail-if` and reports: a percentile
//! run.json does not keep (`p99.5`, `p97`) is judged from the whole-run histogram after a run and
//! after a merge, a gate on it gets its own row with a bootstrap interval, and where no histogram
//! exists (an aggregate-only import) the verdict says so instead of passing.

use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use wabench::app::thresholds::{Histograms, evaluate};
use wabench::results::{Run, Verdict, hlog, read_run};
use wabench::spec::threshold::Threshold;

use crate::import::{fixture as import_fixture, request};
use crate::support::common::{profile, wabench};
use crate::support::fixture;

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// 20 messages in 1 s to the embedded Cloud API, which answers every send after a constant 20 ms: every
/// latency is 20 ms or a little more, so a bound of 5 ms fails and one of 2 s passes whatever the
/// machine.
const SIM: &str = "name = \"pct\"\nseed = 5\n[load]\nrate = 20\nduration = \"1s\"\nconnections = 4\ndrain = \"2s\"\n\
[simulator.latency]\ndistribution = \"constant\"\nmedian = \"20ms\"\n\
[simulator.cloud]\npair_limit = { enabled = false }\n[simulator.service_window]\nenabled = false\n\
[simulator.recipients]\nundeliverable_suffixes = []\n\
[simulator.webhooks]\nsent = { distribution = \"constant\", median = \"10ms\" }\n\
delivered = { distribution = \"constant\", median = \"10ms\" }\nread_fraction = 0.0\nduplicate_fraction = 0.0\n\
out_of_order_fraction = 0.0\ndelivered_and_failed_fraction = 0.0\n\
[[targets]]\nname = \"t\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n\
[thresholds]\n\"latency.p99.5\" = \"< 2s\"\n\"latency.p97\" = \"< 2s\"\n\"t:latency.p99.5\" = \"< 5ms\"\n";

/// The whole-run histogram tagged `tag` in a results folder's `<target>.totals.hlog`.
fn whole(dir: &Path, target: &str, tag: &str) -> Histogram<u64> {
    let log = hlog::read(&dir.join(format!("{target}.totals.hlog"))).unwrap();
    log.entries.into_iter().find(|e| e.tag.as_deref() == Some(tag)).unwrap_or_else(|| panic!("no {tag}")).histogram
}

fn verdict<'a>(run: &'a Run, expr: &str) -> &'a Verdict {
    run.thresholds.iter().find(|v| v.threshold == expr).unwrap_or_else(|| panic!("{expr}: {:?}", run.thresholds))
}

fn gate<'a>(doc: &'a serde_json::Value, g: &str) -> &'a serde_json::Value {
    doc["gates"].as_array().unwrap().iter().find(|x| x["gate"] == g).unwrap_or_else(|| panic!("{g}: {doc}"))
}

#[test]
fn percentiles_run_json_does_not_keep_are_judged_from_the_runs_histogram() {
    let dir = tempfile::tempdir().unwrap();
    let p = profile(dir.path(), SIM);
    let out = dir.path().join("out");
    let (json, xml) = (dir.path().join("summary.json"), dir.path().join("junit.xml"));
    let args = ["run", &s(&p), "--quiet", "--no-report", "--out", &s(&out), "--summary-json", &s(&json)];
    let (code, stdout, err) = wabench(&[&args[..], &["--junit", &s(&xml)]].concat());
    assert_eq!(code, 99, "t:latency.p99.5 < 5ms is crossed: {stdout}\n{err}");
    let run = read_run(&out).unwrap();
    let h = whole(&out, "t", "latency");
    assert_eq!(h.len(), 20, "every message answered");
    let (p995, p97) = (h.value_at_quantile(0.995) as f64, h.value_at_quantile(0.97) as f64);
    assert!(p995 >= 20_000.0 && p97 >= 20_000.0, "the simulator's 20 ms: {p995} {p97}");
    for (expr, value, passed) in
        [("latency.p99.5 < 2s", p995, true), ("latency.p97 < 2s", p97, true), ("t:latency.p99.5 < 5ms", p995, false)]
    {
        let v = verdict(&run, expr);
        assert_eq!((v.actual, v.passed), (Some(value), passed), "{v:?}");
    }
    assert!(!run.passed);
    // The values as judged in --summary-json and JUnit, on passing thresholds too.
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let judged = doc["thresholds"].as_array().unwrap();
    let in_json = |e: &str| judged.iter().find(|v| v["threshold"] == e).unwrap_or_else(|| panic!("{e}: {doc}"));
    assert_eq!(in_json("latency.p97 < 2s")["actual"].as_f64(), Some(p97));
    assert_eq!(in_json("latency.p99.5 < 2s")["passed"], true);
    if let Some(j) = crate::support::python::junit(&std::fs::read(&xml).unwrap()) {
        let cases = j["suites"][0]["cases"].as_array().unwrap();
        let case = |name: &str| cases.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("{name}: {j}"));
        let shown = wabench::units::fmt_us(p97);
        assert_eq!(case("latency.p97 < 2s")["system_out"], format!("latency.p97 < 2s: actual {shown}"));
        assert_eq!(case("latency.p97 < 2s")["result"], serde_json::json!([]), "passed");
        let crossed = case("t:latency.p99.5 < 5ms");
        assert_eq!(crossed["classname"], "wabench.t");
        assert_eq!(crossed["result"][0]["kind"], "Failure");
        assert!(crossed["result"][0]["message"].as_str().unwrap().starts_with("t:latency.p99.5 < 5ms: actual"), "{j}");
    }
    assert!(stdout.contains("latency.p99.5") || err.contains("latency.p99.5"), "the summary lists it");

    // The run against itself: a gate on p99.5 has a row of its own and passes (the ratio is 1).
    let (code, cmp, err) = wabench(&[
        "compare",
        &s(&out),
        &s(&out),
        "--out",
        &s(&dir.path().join("cmp")),
        "--fail-if",
        "p99.5 > 1.01",
        "--json",
        "-",
    ]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&cmp).unwrap();
    assert_eq!(gate(&doc, "p99.5 > 1.01")["verdict"], "pass", "{doc}");
}

/// `n` fixture results folders of a target whose latencies are `base_us` times a long-tailed spread.
fn folder(root: &Path, name: &str, base_us: u64, slower: f64) -> PathBuf {
    let t = fixture::target(&fixture::Spec::new("api", base_us));
    fixture::folder(root, name, &fixture::slower(&t, slower, |_| true))
}

#[test]
fn a_merge_judges_again_from_the_merged_histogram() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (folder(root.path(), "a", 100_000, 1.0), folder(root.path(), "b", 100_000, 1.5));
    // Both parts ran a profile with thresholds on percentiles their run.json does not keep.
    for d in [&a, &b] {
        let mut run: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("run.json")).unwrap()).unwrap();
        run["profile"]["thresholds"] = serde_json::json!({"latency.p99.5": "< 10s", "latency.p97": "< 1ms"});
        std::fs::write(d.join("run.json"), serde_json::to_vec(&run).unwrap()).unwrap();
    }
    let merged = root.path().join("merged");
    let (code, out, err) = wabench(&["merge", &s(&a), &s(&b), "--out", &s(&merged)]);
    assert_eq!(code, 99, "latency.p97 < 1ms is crossed: {out}\n{err}");
    let run = read_run(&merged).unwrap();
    let mut both = wabench::results::folder::load(&a).unwrap().targets.remove(0).total;
    both.add(&wabench::results::folder::load(&b).unwrap().targets.remove(0).total).unwrap();
    assert_eq!(whole(&merged, "api", "latency"), both, "the merged histogram is both parts'");
    let (p995, p97) = (verdict(&run, "latency.p99.5 < 10s"), verdict(&run, "latency.p97 < 1ms"));
    assert_eq!((p995.actual, p995.passed), (Some(both.value_at_quantile(0.995) as f64), true));
    assert_eq!((p97.actual, p97.passed), (Some(both.value_at_quantile(0.97) as f64), false));
}

#[test]
fn a_gate_on_any_percentile_is_judged_with_its_bootstrap_interval() {
    let root = tempfile::tempdir().unwrap();
    let base = folder(root.path(), "base", 100_000, 1.0);
    let slower = folder(root.path(), "slower", 100_000, 1.3);
    let same = folder(root.path(), "same", 100_000, 1.0);
    let json = |args: &[&str]| {
        let (code, out, err) = wabench(&[&["compare", "--json", "-", "--results", &s(root.path())][..], args].concat());
        (code, serde_json::from_str::<serde_json::Value>(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}")), err)
    };
    // Every second 30% slower: beyond noise at p99.5 as at p99.
    let (code, doc, err) = json(&[&s(&base), &s(&slower), "--fail-if", "p99.5 > 1.10", "--fail-if", "p99 > 1.10"]);
    assert_eq!(code, 99, "{err}");
    let g = gate(&doc, "p99.5 > 1.10");
    assert_eq!((g["verdict"].as_str(), g["metric"].as_str()), (Some("fail"), Some("p99.5")), "{g}");
    assert!(g["ci_low"].as_f64().unwrap() > 1.10 && g["estimate"].as_f64().unwrap() > 1.2, "{g}");
    assert!(err.contains("regression beyond noise: p99.5 > 1.10 on slower"), "{err}");
    let rows = doc["subjects"][0]["rows"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["metric"].as_str().unwrap()).collect();
    assert_eq!(names, ["p50", "p75", "p90", "p95", "p99", "p99.5", "p99.9", "p99.99", "max", "rate"], "in order");
    let row = |doc: &serde_json::Value, m: &str| {
        doc["subjects"][0]["rows"].as_array().unwrap().iter().find(|r| r["metric"] == m).unwrap().clone()
    };
    let (a, b) = (
        wabench::results::folder::load(&base).unwrap().targets.remove(0).total,
        wabench::results::folder::load(&slower).unwrap().targets.remove(0).total,
    );
    let p995 = row(&doc, "p99.5");
    assert_eq!(p995["base"].as_f64(), Some(a.value_at_quantile(0.995) as f64));
    assert_eq!(p995["value"].as_f64(), Some(b.value_at_quantile(0.995) as f64));
    // The kept rows are the same with or without the extra one: the bootstrap draws the same blocks.
    let (_, plain, _) = json(&[&s(&base), &s(&slower)]);
    assert_eq!(row(&plain, "p99"), row(&doc, "p99"));
    assert_eq!(plain["subjects"][0]["rows"].as_array().unwrap().len(), 9);
    // Identical runs: the whole interval is within the bound; p97 spelled p097 is the same row.
    let (code, doc, err) = json(&[&s(&base), &s(&same), "--fail-if", "p99.5 > 1.10", "--fail-if", "p097 > 1.10"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(gate(&doc, "p99.5 > 1.10")["verdict"], "pass");
    assert_eq!(gate(&doc, "p097 > 1.10")["metric"], "p97");
}

#[test]
fn a_percentile_that_is_not_one_is_refused_naming_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let with = |th: &str| profile(dir.path(), &SIM.replace("\"latency.p97\" = \"< 2s\"", th));
    // Profile thresholds (validate refuses before a run).
    for bad in ["latency.p101", "latency.p0", "latency.p99.", "service_time.p9x"] {
        let (code, _, err) = wabench(&["validate", &s(&with(&format!("\"{bad}\" = \"< 1s\"")))]);
        let stat = bad.split_once('.').unwrap().1;
        assert_eq!(code, 1, "{bad}: {err}");
        assert!(err.contains(&format!("{stat:?}")) && err.contains("e.g. p95, p99.5 or p99.99"), "{bad}: {err}");
    }
    let (code, _, err) = wabench(&["validate", &s(&with("\"latency.p99.999\" = \"< 1s\""))]);
    assert_eq!(code, 0, "any percentile up to 100: {err}");
    // --set thresholds, by the same parser.
    let p = s(&with(""));
    let (code, _, err) = wabench(&["validate", &p, "--set", "thresholds.\"latency.p99.95\"=< 1s"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = wabench(&["validate", &p, "--set", "thresholds.\"latency.p100.5\"=< 1s"]);
    assert_eq!(code, 1);
    assert!(err.contains("\"p100.5\" is not a percentile") && err.contains("--set"), "{err}");
    // compare --fail-if, by the same parser, before anything is read.
    for (bad, name) in [("p100.5 > 1.1", "\"p100.5\""), ("cloud:p0 > 1.1", "\"p0\""), ("P99 > 1.1", "\"P99\"")] {
        let (code, _, err) = wabench(&["compare", "/nonexistent/a", "/nonexistent/b", "--fail-if", bad]);
        assert_eq!(code, 1, "{bad}: {err}");
        assert!(err.contains(name) && err.contains("p99.5"), "{bad}: {err}");
    }
}

#[test]
fn an_aggregate_only_import_is_inconclusive_never_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let wrk = dir.path().join("wrk2");
    let (_, run) =
        wabench::app::import::import(&request(wabench::app::import::Format::Wrk2, &[import_fixture("wrk2.txt")], &wrk))
            .unwrap();
    let printed = &run.targets[0].imported.as_ref().unwrap().percentiles_us;
    assert!(!printed.contains_key("p99.5") && printed.contains_key("p99"), "{printed:?}");
    // A threshold on a percentile the tool did not print: no histogram to read it from.
    let th = Threshold::parse("latency.p99.5", "< 1h").unwrap();
    let v = evaluate(&th, &run.targets, Histograms::folder(&wrk)).remove(0);
    assert!(!v.passed && v.actual.is_none(), "{v:?}");
    assert!(
        v.shown.contains(
            "p99.5 is not among the percentiles run.json keeps (p50, p75, p90, p95, p99, p99.9, p99.99, max)"
        ),
        "{}",
        v.shown
    );
    // A kept one it printed is judged as before.
    assert!(
        evaluate(&Threshold::parse("latency.p99", "< 1h").unwrap(), &run.targets, Histograms::folder(&wrk))[0].passed
    );

    // A gate against it: no interval to decide with, so inconclusive with a note, and not a failure.
    let base = folder(dir.path(), "base", 5_000, 1.0);
    let (code, out, err) = wabench(&[
        "compare",
        &s(&base),
        &s(&wrk),
        "--out",
        &s(&dir.path().join("cmp")),
        "--json",
        "-",
        "--fail-if",
        "p99.5 > 1.01",
        "--fail-if",
        "p99 > 1.01",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    for g in ["p99.5 > 1.01", "p99 > 1.01"] {
        let g = gate(&doc, g);
        assert_eq!(g["verdict"], "inconclusive", "{g}");
        assert!(g["note"].as_str().unwrap().contains("aggregate-only import"), "{g}");
    }
    assert!(gate(&doc, "p99 > 1.01")["estimate"].is_number(), "the ratio without an interval");
    assert_eq!(doc["inconclusive"], 2);
    assert!(
        err.contains("gate \"p99.5 > 1.01\" on imported: inconclusive, no p99.5 ratio: aggregate-only import"),
        "{err}"
    );
    let html = std::fs::read_to_string(dir.path().join("cmp/compare.html")).unwrap();
    assert!(html.contains("inconclusive: no interval: aggregate-only import"), "compare.html");
}
