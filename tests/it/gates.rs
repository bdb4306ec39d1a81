//! Verdicts CI can act on: `compare --fail-if` gates that fail only on a regression beyond noise (exit
//! 99) with `--json`, named baselines, results folders that are never overwritten silently, and
//! machine-readable output on stdout.

use std::path::{Path, PathBuf};

use crate::support::common::{self, Behaviour, start, wabench};
use crate::support::fixture;

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// The baseline: 20 s at 100 requests/s, every 97th request an error (≈1.03%).
fn base() -> wabench::results::TargetData {
    let mut spec = fixture::Spec::new("cloud", 100_000);
    spec.errors = vec![(97, "http_503")];
    fixture::target(&spec)
}

const GATES: [&str; 4] = ["--fail-if", "p99 > 1.10", "--fail-if", "error_rate > +0.5pp"];

fn gate<'a>(doc: &'a serde_json::Value, metric: &str) -> &'a serde_json::Value {
    doc["gates"].as_array().unwrap().iter().find(|g| g["metric"] == metric).unwrap_or_else(|| panic!("{metric}: {doc}"))
}

#[test]
fn a_regression_beyond_noise_fails_the_gates_and_exits_99() {
    let root = tempfile::tempdir().unwrap();
    let a = fixture::folder(root.path(), "base", &base());
    // Every second 30% slower, and every 40th request an error (2.5%): beyond noise on both.
    let mut spec = fixture::Spec::new("cloud", 100_000);
    spec.errors = vec![(40, "http_503")];
    let b = fixture::folder(root.path(), "regressed", &fixture::slower(&fixture::target(&spec), 1.3, |_| true));
    let out_dir = root.path().join("cmp");
    let mut args = vec!["compare".to_string(), s(&a), s(&b), "--json".into(), "-".into(), "--out".into(), s(&out_dir)];
    args.extend(GATES.iter().map(|g| g.to_string()));
    let (code, out, err) = wabench(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 99, "{out}\n{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("stdout is JSON: {e}\n{out}"));
    assert_eq!(doc["passed"], false);
    let p99 = gate(&doc, "p99");
    assert_eq!(p99["verdict"], "fail");
    assert!(p99["ci_low"].as_f64().unwrap() > 1.10, "{p99}");
    let e = gate(&doc, "error_rate");
    assert_eq!((e["verdict"].as_str(), e["unit"].as_str()), (Some("fail"), Some("pp")));
    assert!((e["estimate"].as_f64().unwrap() - (2.5 - 100.0 / 97.0)).abs() < 0.05, "{e}");
    assert!(e["ci_low"].as_f64().unwrap() > 0.5, "{e}");
    // Every row with its interval.
    let rows = doc["subjects"][0]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 9, "p50, p75, p90, p95, p99, p99.9, p99.99, max, rate");
    assert!(rows.iter().all(|r| r["ci_low"].is_number() && r["ci_high"].is_number()), "{rows:?}");
    assert_eq!(doc["subjects"][0]["rates"][0]["metric"], "error_rate");
    // The table went to stderr, with the gates' verdicts.
    assert!(err.contains("baseline: base") && err.contains("FAIL: beyond noise"), "{err}");
    assert!(err.contains("regression beyond noise: p99 > 1.10 on regressed"), "{err}");
}

#[test]
fn a_difference_within_noise_is_inconclusive_not_a_pass() {
    let root = tempfile::tempdir().unwrap();
    let a = fixture::folder(root.path(), "base", &base());
    // Two slow seconds of twenty (3×) put the point estimate of p99 far past 1.10, and one second with
    // 30 more errors puts the error rate 1.5 points up; a resample without those seconds shows no
    // difference, so the intervals reach across the bounds: the runs cannot tell, and the gates are
    // inconclusive — neither failed (exit 0) nor passed.
    let noisy = fixture::more_errors(&fixture::slower(&base(), 3.0, |s| s == 4 || s == 13), 9, 30);
    let b = fixture::folder(root.path(), "noisy", &noisy);
    let json = root.path().join("cmp.json");
    let out_dir = root.path().join("cmp");
    let mut args = vec!["compare".to_string(), s(&a), s(&b), "--json".into(), s(&json), "--out".into(), s(&out_dir)];
    args.extend(GATES.iter().map(|g| g.to_string()));
    let (code, out, err) = wabench(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("baseline: base") && out.contains("gates"), "the table on stdout: {out}");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["passed"], true);
    let p99 = gate(&doc, "p99");
    assert!(p99["estimate"].as_f64().unwrap() > 1.10, "the point estimate is past the bound: {p99}");
    assert!(p99["ci_low"].as_f64().unwrap() <= 1.10, "{p99}");
    assert_eq!(p99["verdict"], "inconclusive");
    let e = gate(&doc, "error_rate");
    assert!(e["estimate"].as_f64().unwrap() > 0.5 && e["ci_low"].as_f64().unwrap() <= 0.5, "{e}");
    assert_eq!(e["verdict"], "inconclusive");
    assert_eq!(doc["inconclusive"], 2);
    assert!(err.contains("inconclusive") && err.contains("longer runs narrow the interval"), "{err}");
    let html = std::fs::read_to_string(out_dir.join("compare.html")).unwrap();
    assert!(html.contains("inconclusive: the interval reaches the bound"), "compare.html shows the verdicts");

    // Bad gates and targets no run has are errors, not silent passes.
    for (gate, why) in [("p99 > 10%", "ratio of B to A"), ("onprem:p99 > 1.1", "no compared target is named")] {
        let (code, _, err) = wabench(&["compare", &s(&a), &s(&b), "--fail-if", gate]);
        assert_eq!(code, 1, "{gate}: {err}");
        assert!(err.contains(why), "{gate}: {err}");
    }
}

fn loopback_profile(dir: &Path, addr: std::net::SocketAddr) -> PathBuf {
    common::profile(
        dir,
        &format!(
            "name = \"gated\"\n[load]\nrate = 50\nduration = \"1s\"\nconnections = 4\n[[targets]]\nname = \"t\"\nkind = \"http\"\nurl = \"http://{addr}/\"\n"
        ),
    )
}

#[test]
fn named_baselines_are_saved_as_copies_and_compared_against() {
    let server = start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let p = s(&loopback_profile(dir.path(), server.addr));
    let results = dir.path().join("results");
    let r1 = dir.path().join("r1");
    let (code, out, err) =
        wabench(&["run", &p, "--quiet", "--out", &s(&r1), "--results", &s(&results), "--save-baseline", "main"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let saved = results.join("baselines/main");
    assert!(out.contains("baseline \"main\" saved") && saved.join("run.json").is_file(), "{out}");
    assert!(saved.join("t.hlog").is_file() && saved.join("timeline.csv").is_file());
    // The same run against its baseline: identical, every gate passes.
    let (code, out, err) = wabench(&[
        "compare",
        "--baseline",
        "main",
        "--results",
        &s(&results),
        &s(&r1),
        "--fail-if",
        "p99 > 1.01",
        "--json",
        "-",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(doc["baseline"]["origin"].as_str().unwrap().contains("main"), "{doc}");
    assert_eq!(gate(&doc, "p99")["verdict"], "pass");
    assert!(!r1.join("compare.html").exists(), "no compared folder is written into unless named");
    let pages: Vec<_> = std::fs::read_dir(&results)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("compare-")))
        .collect();
    assert_eq!(pages.len(), 1, "{pages:?}");
    assert!(pages[0].join("compare.html").is_file(), "a folder of its own under --results");
    let html = std::fs::read_to_string(pages[0].join("compare.html")).unwrap();
    assert!(html.contains("p99 &gt; 1.01") && html.contains(">pass<"), "the gate's verdict is on the page");
    // Saving the name again replaces it and says so; an unknown name is an error naming what exists.
    let r2 = dir.path().join("r2");
    let (code, out, _) =
        wabench(&["run", &p, "--quiet", "--out", &s(&r2), "--results", &s(&results), "--save-baseline", "main"]);
    assert_eq!(code, 0);
    assert!(out.contains("replaces the one saved from") && out.contains("r1"), "{out}");
    let (code, _, err) = wabench(&["compare", "--baseline", "nope", "--results", &s(&results), &s(&r1)]);
    assert_eq!(code, 1);
    assert!(err.contains("no baseline \"nope\"") && err.contains("saved: main"), "{err}");
    // A shard is a part of a run, not a baseline.
    let (code, _, err) = wabench(&["run", &p, "--shard", "0/2", "--save-baseline", "main", "--results", &s(&results)]);
    assert_eq!(code, 1);
    assert!(err.contains("merge") && err.contains("--save-baseline"), "{err}");
}

#[test]
fn results_are_never_overwritten_silently() {
    let server = start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let p = s(&loopback_profile(dir.path(), server.addr));
    let out = dir.path().join("r");
    let (code, _, err) = wabench(&["run", &p, "--quiet", "--out", &s(&out)]);
    assert_eq!(code, 0, "{err}");
    let first = std::fs::read_to_string(out.join("run.json")).unwrap();
    let (code, _, err) = wabench(&["run", &p, "--quiet", "--out", &s(&out)]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("already holds") && err.contains("--force") && err.contains(&s(&out)), "{err}");
    assert_eq!(std::fs::read_to_string(out.join("run.json")).unwrap(), first, "the earlier run is intact");
    let (code, _, err) = wabench(&["run", &p, "--quiet", "--out", &s(&out), "--force"]);
    assert_eq!(code, 0, "{err}");
    assert_ne!(std::fs::read_to_string(out.join("run.json")).unwrap(), first, "replaced when asked");

    // merge --out and compare --out alike.
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (fixture::folder(root.path(), "a", &base()), fixture::folder(root.path(), "b", &base()));
    let merged = root.path().join("merged");
    assert_eq!(wabench(&["merge", &s(&a), &s(&b), "--out", &s(&merged)]).0, 0);
    let (code, _, err) = wabench(&["merge", &s(&a), &s(&b), "--out", &s(&merged)]);
    assert!(code == 1 && err.contains("already holds"), "{err}");
    assert_eq!(wabench(&["merge", &s(&a), &s(&b), "--out", &s(&merged), "--force"]).0, 0);
    let (code, _, err) = wabench(&["merge", &s(&a), &s(&b), "--out", &s(&a)]);
    assert!(code == 1 && err.contains("one of the folders being merged"), "{err}");
    let cmp = root.path().join("cmp");
    assert_eq!(wabench(&["compare", &s(&a), &s(&b), "--out", &s(&cmp)]).0, 0);
    let (code, _, err) = wabench(&["compare", &s(&a), &s(&b), "--out", &s(&cmp)]);
    assert!(code == 1 && err.contains("compare.html") && err.contains("--force"), "{err}");
    assert_eq!(wabench(&["compare", &s(&a), &s(&b), "--out", &s(&cmp), "--force"]).0, 0);
}

#[test]
fn summary_json_to_stdout_moves_the_table_to_stderr() {
    let server = start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let p = s(&loopback_profile(dir.path(), server.addr));
    let (code, out, err) = wabench(&["run", &p, "--quiet", "--out", &s(&dir.path().join("r")), "--summary-json", "-"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("only JSON on stdout: {e}\n{out}"));
    assert_eq!(doc["targets"][0]["sent"], 50);
    assert!(err.contains("results:"), "the human summary is on stderr: {err}");
    let (code, _, err) = wabench(&["run", &p, "--summary-json", "-", "--junit", "-"]);
    assert_eq!(code, 1);
    assert!(err.contains("--summary-json and --junit"), "{err}");
}

#[test]
fn no_report_draws_nothing_and_report_draws_it_later() {
    let server = start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let p = s(&loopback_profile(dir.path(), server.addr));
    let out_dir = dir.path().join("r");
    let (code, out, err) = wabench(&["run", &p, "--quiet", "--no-report", "--out", &s(&out_dir)]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out_dir.join("run.json").is_file());
    let drawn: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".html") || n.ends_with(".png") || n.ends_with(".svg"))
        .collect();
    assert!(drawn.is_empty(), "--no-report drew {drawn:?}");
    let (code, _, err) = wabench(&["report", &s(&out_dir)]);
    assert_eq!(code, 0, "{err}");
    assert!(out_dir.join("report.html").is_file());
}

#[test]
fn any_kept_percentile_is_spelled_one_way_in_thresholds_and_gates() {
    let server = start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "name = \"pct\"\n[load]\nrate = 50\nduration = \"1s\"\nconnections = 4\n[[targets]]\nname = \"t\"\n\
         kind = \"http\"\nurl = \"http://{}/\"\n[thresholds]\n\"latency.p95\" = \"< 10s\"\n\"latency.p99.99\" = \"< 10s\"\n\
         \"latency.p75\" = \"< 1us\"\n",
        server.addr
    );
    let p = common::profile(dir.path(), &text);
    let out = dir.path().join("r");
    let (code, stdout, err) = wabench(&["run", &s(&p), "--quiet", "--out", &s(&out), "--no-report"]);
    assert_eq!(code, 99, "latency.p75 < 1us is crossed: {stdout}\n{err}");
    let run = wabench::results::read_run(&out).unwrap();
    let verdict = |e: &str| run.thresholds.iter().find(|v| v.threshold.starts_with(e)).unwrap().passed;
    assert!(verdict("latency.p95") && verdict("latency.p99.99") && !verdict("latency.p75"));
    let l = &run.targets[0].latency_us;
    assert!(l.p75.is_some() && l.p95.is_some() && l.p9999.is_some(), "kept in run.json: {l:?}");
    // The same spellings in compare's gates; a percentile out of range is refused with the form.
    let (code, _, err) =
        wabench(&["compare", &s(&out), &s(&out), "--out", &s(&dir.path().join("c")), "--fail-if", "p95 > 1.5"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) =
        wabench(&["compare", &s(&out), &s(&out), "--results", &s(dir.path()), "--fail-if", "p101 > 1.5"]);
    assert_eq!(code, 1);
    assert!(err.contains("\"p101\"") && err.contains("p99.99"), "the form: {err}");
    let (code, _, err) = wabench(&["validate", &s(&common::profile(dir.path(), &text.replace("p75", "p101")))]);
    assert_eq!(code, 1);
    assert!(err.contains("p101") && err.contains("p99.99"), "{err}");
}

/// `compare` with `--json -`: exit code, the JSON document, stderr.
fn compare_json(dirs: &[&Path], out: &Path, gates: &[&str]) -> (i32, serde_json::Value, String) {
    let mut args: Vec<String> = vec!["compare".into()];
    args.extend(dirs.iter().map(|d| s(d)));
    args.extend(["--json".into(), "-".into(), "--out".into(), s(out)]);
    for g in gates {
        args.extend(["--fail-if".to_string(), g.to_string()]);
    }
    let (code, stdout, err) = wabench(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let doc = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("stdout is JSON: {e}\n{stdout}\n{err}"));
    (code, doc, err)
}

/// (subject, the subject it is compared against) of each compared subject of a `--json` document.
fn pairs(doc: &serde_json::Value) -> Vec<(String, String)> {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_else(|| panic!("a label: {doc}")).to_string();
    doc["subjects"].as_array().unwrap().iter().map(|s| (text(&s["label"]), text(&s["against"]))).collect()
}

/// (gate, subject, against, verdict) of each gate outcome.
fn verdicts(doc: &serde_json::Value) -> Vec<(String, String, String, String)> {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_else(|| panic!("{doc}")).to_string();
    doc["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (text(&g["gate"]), text(&g["subject"]), text(&g["against"]), text(&g["verdict"])))
        .collect()
}

/// A results folder `name` of the targets `targets` (a run of several targets).
fn run_folder(root: &Path, name: &str, targets: &[wabench::results::TargetData]) -> PathBuf {
    let dir = root.join(name);
    fixture::write(&dir, &fixture::run(name, None, targets, &[]), targets);
    dir
}

#[test]
fn compare_pairs_the_targets_of_runs_by_name() {
    let root = tempfile::tempdir().unwrap();
    // Two runs of the same two targets, cloud about twice as slow as onprem in both.
    let (a, b) = (root.path().join("a"), root.path().join("b"));
    fixture::cloud_vs_onprem(&a);
    fixture::cloud_vs_onprem(&b);
    let cmp = root.path().join("cmp");
    // A run against a copy of itself: each target against its namesake, every ratio gate passes.
    let (code, doc, err) = compare_json(&[&a, &b], &cmp.join("1"), &["p50 > 1.10", "p99 > 1.10", "rate < 0.95"]);
    assert_eq!(code, 0, "{doc}\n{err}");
    let want = [("b/cloud", "a/cloud"), ("b/onprem", "a/onprem")].map(|(x, y)| (x.to_string(), y.to_string()));
    assert_eq!(pairs(&doc), want, "{doc}");
    let v = verdicts(&doc);
    assert_eq!(v.len(), 6, "three gates on two subjects: {v:?}");
    assert!(v.iter().all(|g| g.3 == "pass"), "{v:?}");
    for s in doc["subjects"].as_array().unwrap() {
        for r in s["rows"].as_array().unwrap() {
            assert_eq!(r["ratio"].as_f64(), Some(1.0), "{}: {r}", s["label"]);
        }
    }
    let html = std::fs::read_to_string(cmp.join("1/compare.html")).unwrap();
    assert!(html.contains("<h2>b/cloud vs a/cloud</h2>") && html.contains("<h2>b/onprem vs a/onprem</h2>"));
    assert_eq!(html.matches("<section class=\"ratios\">").count(), 2, "no baseline target is a subject");
    // A gate on one target judges that target against its namesake.
    let (code, doc, err) = compare_json(&[&a, &b], &cmp.join("2"), &["cloud:p50 > 1.10"]);
    assert_eq!(code, 0, "{err}");
    let v = verdicts(&doc);
    let v: Vec<(&str, &str, &str, &str)> = v.iter().map(|g| (&*g.0, &*g.1, &*g.2, &*g.3)).collect();
    assert_eq!(v, [("cloud:p50 > 1.10", "b/cloud", "a/cloud", "pass")]);

    // Cloud 30% slower in a later run: found on cloud alone, and named with what it was compared to.
    let targets = wabench::results::folder::load(&a).unwrap().targets;
    let slow = run_folder(root.path(), "slow", &[fixture::slower(&targets[0], 1.3, |_| true), targets[1].clone()]);
    // (Runs of different names are labelled by name, the same name by folder.)
    let (code, doc, err) = compare_json(&[&a, &slow], &cmp.join("3"), &["p50 > 1.10"]);
    assert_eq!(code, 99, "{doc}\n{err}");
    let v = verdicts(&doc);
    assert_eq!(
        (v[0].1.as_str(), v[0].2.as_str(), v[0].3.as_str()),
        ("slow/cloud", "cloud-vs-onprem/cloud", "fail"),
        "{v:?}"
    );
    assert_eq!(
        (v[1].1.as_str(), v[1].2.as_str(), v[1].3.as_str()),
        ("slow/onprem", "cloud-vs-onprem/onprem", "pass"),
        "{v:?}"
    );
    assert!(err.lines().any(|l| l == "wabench: regression beyond noise: p50 > 1.10 on slow/cloud"), "{err}");
    let p50 = |i: usize| doc["subjects"][i]["rows"][0]["ratio"].as_f64().unwrap();
    assert!((p50(0) - 1.3).abs() < 0.02 && p50(1) == 1.0, "{doc}");

    // Three runs: each later run against the first, target by target.
    let (code, doc, err) = compare_json(&[&a, &b, &slow], &cmp.join("4"), &[]);
    assert_eq!(code, 0, "{err}");
    let want =
        [("b/cloud", "a/cloud"), ("b/onprem", "a/onprem"), ("slow/cloud", "a/cloud"), ("slow/onprem", "a/onprem")];
    assert_eq!(pairs(&doc), want.map(|(x, y)| (x.to_string(), y.to_string())));
}

#[test]
fn compare_names_a_target_only_one_run_has_and_leaves_it_out() {
    let root = tempfile::tempdir().unwrap();
    let a = root.path().join("a");
    fixture::cloud_vs_onprem(&a);
    let targets = wabench::results::folder::load(&a).unwrap().targets;
    // The later run has cloud and a new target, edge, and no onprem.
    let mut edge = fixture::Spec::new("edge", 20_000);
    edge.seconds = 20;
    let b = run_folder(root.path(), "b", &[targets[0].clone(), fixture::target(&edge)]);
    let (code, doc, err) = compare_json(&[&a, &b], &root.path().join("c1"), &["p50 > 1.10"]);
    assert_eq!(code, 0, "{doc}\n{err}");
    assert_eq!(
        pairs(&doc),
        [("b/cloud".to_string(), "cloud-vs-onprem/cloud".to_string())],
        "edge is compared with nothing: {doc}"
    );
    let unpaired: Vec<&str> = doc["unpaired"].as_array().unwrap().iter().map(|u| u.as_str().unwrap()).collect();
    assert_eq!(unpaired.len(), 2, "{unpaired:?}");
    assert!(
        unpaired.iter().any(|u| u.starts_with("b/edge:") && u.contains("no target named edge in cloud-vs-onprem")),
        "{unpaired:?}"
    );
    assert!(
        unpaired.iter().any(|u| u.starts_with("cloud-vs-onprem/onprem:") && u.contains("no target named onprem in b")),
        "{unpaired:?}"
    );
    assert_eq!(verdicts(&doc).len(), 1, "the gate judges cloud only");
    assert!(err.contains("warning") && err.contains("b/edge") && err.contains("not compared"), "{err}");
    // The table says so too, and a gate on the new target is refused, not passed.
    let (code, out, _) = wabench(&["compare", &s(&a), &s(&b), "--out", &s(&root.path().join("c2"))]);
    assert_eq!(code, 0);
    assert!(out.contains("not compared: b/edge: no target named edge in cloud-vs-onprem"), "{out}");
    let (code, _, err) =
        wabench(&["compare", &s(&a), &s(&b), "--results", &s(root.path()), "--fail-if", "edge:p50 > 1.1"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no compared target is named \"edge\"") && err.contains("b/edge"), "{err}");
    // No target in common: nothing to compare, said as such.
    let only_edge =
        run_folder(root.path(), "e", &[fixture::target(&edge), fixture::target(&fixture::Spec::new("x", 1000))]);
    let (code, _, err) = wabench(&["compare", &s(&a), &s(&only_edge), "--results", &s(root.path())]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no target of e has a namesake in cloud-vs-onprem"), "{err}");
    // Runs of one target each are compared whatever their names (a JMeter import against a run).
    let one = fixture::folder(root.path(), "one", &fixture::target(&edge));
    let other = fixture::folder(root.path(), "other", &targets[0]);
    let (code, doc, err) = compare_json(&[&one, &other], &root.path().join("c3"), &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(pairs(&doc), [("other".to_string(), "one".to_string())]);
}

#[test]
fn compare_tables_name_their_columns() {
    let root = tempfile::tempdir().unwrap();
    let a = fixture::folder(root.path(), "before", &base());
    let b = fixture::folder(root.path(), "after", &fixture::more_errors(&base(), 9, 30));
    let (code, out, err) = wabench(&["compare", &s(&a), &s(&b), "--out", &s(&root.path().join("cmp"))]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    // Where each word of a line ends, in characters.
    let ends = |l: &str| -> Vec<usize> {
        let mut v = Vec::new();
        let mut prev = ' ';
        for (i, c) in l.chars().enumerate() {
            if c == ' ' && prev != ' ' {
                v.push(i);
            }
            prev = c;
        }
        v.push(l.chars().count());
        v
    };
    // Each table's first line names its columns: the baseline, the subject, then what is computed;
    // the values are right-aligned under them.
    for (first, cols) in
        [("p50 ", ["before", "after", "ratio", "95% CI"]), ("error_rate ", ["before", "after", "difference", "95% CI"])]
    {
        let at = lines.iter().position(|l| l.starts_with(first)).unwrap_or_else(|| panic!("{first}: {out}"));
        let (head, row) = (lines[at - 1], lines[at]);
        let mut from = 0;
        let mut head_ends = Vec::new();
        for c in cols {
            let i = head[from..].find(c).unwrap_or_else(|| panic!("{c:?} in order in the header {head:?}:\n{out}"));
            from += i + c.len();
            head_ends.push(head[..from].chars().count());
        }
        assert_eq!(head_ends, ends(row)[1..5], "the columns line up:\n{head}\n{row}");
    }
}
