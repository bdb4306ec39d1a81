//! Each format `wabench import` reads, from the fixtures in tests/fixtures/import/ (written from each
//! tool's documented output format): what it gives, what it says it cannot give, and how `compare`
//! treats aggregate-only imports.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{TimeZone, Utc};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;

use crate::import::{fixture, import_error, request, synthetic_jtl};
use wabench::app::import::{self, Format, Unit};
use wabench::report::compare;
use wabench::results::{Run, TargetResult, folder};

fn import_ok(from: Format, files: &[PathBuf], dir: &Path, f: impl FnOnce(&mut import::Request)) -> (PathBuf, Run) {
    let out = dir.join(format!("{from:?}").to_lowercase());
    let mut req = request(from, files, &out);
    f(&mut req);
    import::import(&req).unwrap_or_else(|e| panic!("{e}"))
}

fn count(t: &TargetResult, key: &str) -> u64 {
    t.outcomes.iter().find(|o| o.key == key).map_or(0, |o| o.count)
}

fn near(a: u64, b: u64) -> bool {
    (a as f64 / b as f64 - 1.0).abs() < 0.002
}

fn pct(t: &TargetResult, k: &str) -> Option<u64> {
    t.imported.as_ref().and_then(|i| i.percentiles_us.get(k).copied())
}

#[test]
fn k6_points_become_targets_by_name_across_time_zones() {
    let dir = tempfile::tempdir().unwrap();
    let (out, run) = import_ok(Format::K6, &[fixture("k6.json")], dir.path(), |_| {});
    let names: Vec<&str> = run.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["send", "login"]);
    let send = &run.targets[0];
    assert_eq!((send.requests.sent, send.requests.ok), (5, 3));
    assert_eq!(count(send, "http_429"), 1);
    assert_eq!(count(send, "timeout"), 1, "error_code 1050");
    // The timed-out request (60 s, collected at 12:34:46.700Z) started first; +02:00 and Z meet on UTC.
    assert_eq!(send.started_at, Utc.with_ymd_and_hms(2024, 5, 9, 12, 33, 46).unwrap());
    assert!(near(send.latency_us.max, 60_000_000), "{:?}", send.latency_us);
    let data = folder::load(&out).unwrap();
    assert_eq!(data.targets[0].total.len(), 5);
    assert!(data.targets[0].total.iter_recorded().any(|v| near(v.value_iterated_to(), 459_866)));
    let mut only =
        import_ok(Format::K6, &[fixture("k6.json")], &dir.path().join("l"), |r| r.labels = vec!["login".into()]).1;
    assert_eq!(only.targets.len(), 1);
    assert_eq!(only.targets.remove(0).requests.sent, 1);
}

#[test]
fn vegeta_csv_and_json_give_the_same_run() {
    let dir = tempfile::tempdir().unwrap();
    let (_, csv) = import_ok(Format::Vegeta, &[fixture("vegeta.csv")], dir.path(), |_| {});
    let (_, json) = import_ok(Format::Vegeta, &[fixture("vegeta.json")], &dir.path().join("j"), |_| {});
    for run in [&csv, &json] {
        let t = &run.targets[0];
        assert_eq!(t.name, "cloud", "the attack name");
        assert_eq!((t.requests.sent, t.requests.ok), (5, 3));
        assert_eq!(count(t, "api_131056"), 1, "the WhatsApp code from the saved body");
        assert_eq!(count(t, "timeout"), 1);
        assert_eq!(t.started_at.timestamp(), 1_715_265_285);
        assert!(near(t.latency_us.min, 95_500), "{:?}", t.latency_us);
    }
    assert_eq!(csv.targets[0].latency_us, json.targets[0].latency_us);
}

/// An interval log as Java's HistogramLogWriter writes one: ns values, max column in ms, StartTime,
/// intervals relative to it, no tags.
fn java_style_log(path: &Path) {
    let mut buf = Vec::new();
    let mut ser = V2DeflateSerializer::new();
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut log = IntervalLogWriterBuilder::new()
        .add_comment("Logged with jHiccup version 2.0.10")
        .with_start_time(start)
        .with_max_value_divisor(1_000_000.0)
        .begin_log_with(&mut buf, &mut ser)
        .unwrap();
    for s in 0..5u64 {
        let mut h = Histogram::<u64>::new(3).unwrap();
        for k in 0..100u64 {
            h.record(2_000_000 + k * 10_000 + s * 1_000_000).unwrap();
        }
        log.write_histogram(&h, Duration::from_secs(s), Duration::from_secs(1), None).unwrap();
    }
    drop(log);
    std::fs::write(path, buf).unwrap();
}

#[test]
fn interval_logs_from_other_tools_and_from_wabench_import() {
    let dir = tempfile::tempdir().unwrap();
    let java = dir.path().join("jhiccup.hlog");
    java_style_log(&java);
    let (out, run) =
        import_ok(Format::Hlog, std::slice::from_ref(&java), dir.path(), |r| r.target = Some("onprem".into()));
    let t = &run.targets[0];
    assert_eq!(t.name, "onprem");
    assert_eq!(t.requests.sent, 500);
    assert_eq!(t.started_at.timestamp(), 1_700_000_000);
    assert!(near(t.latency_us.min, 2_000), "ns → µs, inferred from the max column: {:?}", t.latency_us);
    assert!(run.imported.as_ref().unwrap().notes.iter().any(|n| n.contains("inferred")));
    assert_eq!(folder::load(&out).unwrap().targets[0].seconds.len(), 5);
    // Told the wrong unit, the values scale with it: the unit is applied, not guessed over.
    let (_, us) = import_ok(Format::Hlog, &[java], &dir.path().join("u"), |r| r.unit = Some(Unit::Us));
    assert!(near(us.targets[0].latency_us.min, 2_000_000), "{:?}", us.targets[0].latency_us);

    // A wabench interval log (µs, tagged) imports back with its tag as the target.
    let jtl = dir.path().join("a.jtl");
    synthetic_jtl(&jtl, 5, 20, 50);
    let (jm, jrun) = import_ok(Format::Jmeter, &[jtl], &dir.path().join("jm"), |_| {});
    let (_, again) = import_ok(Format::Hlog, &[jm.join("send.hlog")], &dir.path().join("again"), |_| {});
    assert_eq!(again.targets[0].name, "send");
    assert_eq!(again.targets[0].requests.sent, jrun.targets[0].requests.sent);
    assert_eq!(again.targets[0].latency_us.p99, jrun.targets[0].latency_us.p99);
}

#[test]
fn wrk2_printouts_give_both_spectra_as_aggregates() {
    let dir = tempfile::tempdir().unwrap();
    let (out, run) = import_ok(Format::Wrk2, &[fixture("wrk2.txt")], dir.path(), |_| {});
    assert!(!run.imported.as_ref().unwrap().per_request);
    let t = &run.targets[0];
    assert_eq!(t.name, "wrk2");
    let imp = t.imported.as_ref().unwrap();
    assert!(imp.aggregate_only);
    assert_eq!(imp.latency_from, "intended_start", "wrk2's recorded latency is corrected");
    assert_eq!((pct(t, "p50"), pct(t, "p90"), pct(t, "p99")), (Some(6_670), Some(9_140), Some(11_180)));
    assert_eq!((pct(t, "p99.9"), pct(t, "max")), (Some(12_300), Some(12_496)), "max from #[Max]");
    assert_eq!((t.latency_us.p50, t.latency_us.count, t.latency_us.min), (6_670, 39_500, 921));
    assert_eq!((t.service_time_us.p50, t.service_time_us.max), (2_680, 7_004), "the uncorrected spectrum");
    assert_eq!((t.requests.ok, t.requests.errors), (60_015, 6));
    assert_eq!((count(t, "http_error"), count(t, "io_error"), count(t, "timeout")), (3, 1, 2));
    assert_eq!((t.rate.achieved, t.connections, t.url.as_str()), (2000.28, 100, "http://127.0.0.1:9090/v1/messages"));
    let data = folder::load(&out).unwrap();
    assert!(data.targets[0].seconds.is_empty(), "no per-second histograms are invented");
    let page = std::fs::read_to_string(wabench::report::write_report(&out).unwrap()).unwrap();
    assert!(page.contains("Aggregates only"), "the report says what an aggregate import cannot give");
}

#[test]
fn bare_hdrhistogram_printouts_need_their_unit() {
    let e = import_error(Format::Wrk2, "hdr.txt", &std::fs::read(fixture("hdr-printout.txt")).unwrap());
    assert!(e.contains("hdr.txt") && e.contains("--unit"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let (_, run) = import_ok(Format::Wrk2, &[fixture("hdr-printout.txt")], dir.path(), |r| r.unit = Some(Unit::Us));
    let t = &run.targets[0];
    assert_eq!(
        (pct(t, "p50"), pct(t, "p90"), pct(t, "p99"), pct(t, "max")),
        (Some(2_047), Some(3_071), Some(4_095), Some(12_287))
    );
    assert_eq!(t.imported.as_ref().unwrap().latency_from, "send");
}

#[test]
fn locust_history_gives_counts_and_the_percentiles_it_has() {
    let dir = tempfile::tempdir().unwrap();
    let (out, run) = import_ok(Format::Locust, &[fixture("locust_stats_history.csv")], dir.path(), |_| {});
    let t = &run.targets[0];
    assert_eq!(t.name, "locust");
    assert_eq!((t.requests.sent, t.requests.errors, count(t, "failure")), (199, 2, 2));
    assert_eq!((pct(t, "p50"), pct(t, "max"), pct(t, "p99")), (Some(120_000), Some(350_000), None));
    let unavailable = &run.imported.as_ref().unwrap().unavailable;
    assert!(unavailable.iter().any(|u| u.contains("p90, p99")), "{unavailable:?}");
    let data = folder::load(&out).unwrap();
    let started: Vec<u64> = data.targets[0].timeline.iter().map(|r| r.started).collect();
    assert_eq!(started, [0, 48, 50, 51, 50], "per-second counts from the cumulative totals");
    assert_eq!(t.started_at.timestamp(), 1_715_265_285);

    let files = ["locust_stats_history.csv", "locust_stats.csv", "locust_failures.csv"].map(fixture);
    let (_, full) = import_ok(Format::Locust, &files, &dir.path().join("full"), |_| {});
    let t = &full.targets[0];
    assert_eq!((pct(t, "p90"), pct(t, "p99"), pct(t, "p99.9")), (Some(190_000), Some(330_000), Some(350_000)));
    assert_eq!((count(t, "http_503"), count(t, "connect_error"), count(t, "failure")), (1, 1, 0));
}

#[test]
fn compare_with_a_locust_import_gives_ratios_and_says_intervals_are_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let (locust, _) = import_ok(Format::Locust, &[fixture("locust_stats_history.csv")], dir.path(), |_| {});
    let jtl = dir.path().join("cloud.jtl");
    synthetic_jtl(&jtl, 10, 50, 240);
    let (jm, _) = import_ok(Format::Jmeter, &[jtl], &dir.path().join("jm"), |_| {});
    let cmp = compare::compare_dirs(&[locust, jm]).unwrap();
    let rows = &cmp.rows[0];
    let row = |n: &str| rows.iter().find(|r| r.metric.name() == n).unwrap();
    let p50 = row("p50");
    assert_eq!(p50.base, Some(120_000.0));
    assert!(p50.ratio.unwrap() > 2.0, "{p50:?}");
    assert_eq!((p50.ci, p50.significant), (None, false));
    assert_eq!(row("p90").ratio, None, "Locust's history has no whole-run p90");
    assert!(rows.iter().all(|r| r.no_interval.is_some()));
    let mut text = Vec::new();
    compare::write_text(&cmp, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("interval: not available (aggregate-only import)"), "{text}");
    assert!(!text.contains("beyond run-to-run noise"), "{text}");
    let page = std::fs::read_to_string(compare::write_html(&cmp, &[], dir.path()).unwrap()).unwrap();
    assert!(page.contains("interval: not available (aggregate-only import)"));
}

#[test]
fn oha_json_gives_its_percentiles_and_codes() {
    let dir = tempfile::tempdir().unwrap();
    let (_, run) = import_ok(Format::Oha, &[fixture("oha.json")], dir.path(), |r| r.target = Some("cloud".into()));
    let t = &run.targets[0];
    assert_eq!(t.name, "cloud");
    assert_eq!((pct(t, "p50"), pct(t, "p99.9"), pct(t, "max")), (Some(120_300), Some(400_100), Some(412_346)));
    assert_eq!((t.requests.sent, count(t, "ok"), count(t, "http_503"), count(t, "timeout")), (500, 498, 1, 1));
    assert_eq!(t.latency_us.min, 61_000);
}

#[test]
fn a_service_time_import_against_a_run_is_noted_and_aggregates_do_not_merge() {
    let dir = tempfile::tempdir().unwrap();
    let (wrk, _) = import_ok(Format::Wrk2, &[fixture("wrk2.txt")], dir.path(), |_| {});
    let (oha, _) = import_ok(Format::Oha, &[fixture("oha.json")], &dir.path().join("o"), |_| {});
    let cmp = compare::compare_dirs(&[wrk.clone(), oha.clone()]).unwrap();
    let notes = compare::latency_notes(&cmp);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("oha's latency is service time"), "{notes:?}");
    let e = wabench::app::commands::execute(wabench::app::cli::Command::Merge(wabench::app::cli::MergeArgs {
        dirs: vec![wrk, oha],
        out: dir.path().join("merged"),
        output: wabench::app::cli::OutputArgs {
            force: false,
            summary_json: None,
            junit: None,
            save_baseline: None,
            results: dir.path().join("results"),
        },
        webhooks: Vec::new(),
    }))
    .unwrap_err()
    .to_string();
    assert!(e.contains("aggregate-only import"), "{e}");
}

#[test]
fn files_in_the_wrong_format_are_refused_with_their_line() {
    let jtl = std::fs::read(fixture("jmeter.jtl")).unwrap();
    let e = import_error(Format::Wrk2, "x.jtl", &jtl);
    assert!(e.contains("x.jtl") && e.contains("not wrk2"), "{e}");
    let e = import_error(Format::Locust, "x.jtl", &jtl);
    assert!(e.contains("x.jtl:1:") && e.contains("not a Locust"), "{e}");
    let e = import_error(Format::Oha, "k6.json", &std::fs::read(fixture("k6.json")).unwrap());
    assert!(e.contains("k6.json:2:") && e.contains("not oha"), "{e}");
    let e = import_error(Format::K6, "x.jtl", &jtl);
    assert!(e.contains("x.jtl:1:") && e.contains("not k6"), "{e}");
    let e = import_error(Format::Hlog, "x.jtl", &jtl);
    assert!(e.contains("x.jtl:1:") && e.contains("interval log"), "{e}");
    let v = std::fs::read(fixture("vegeta.csv")).unwrap();
    let e = import_error(Format::Vegeta, "cut.csv", &v[..v.len() - 20]);
    assert!(e.contains("cut.csv:5:") && e.contains("truncated"), "{e}");
    let k = std::fs::read(fixture("k6.json")).unwrap();
    let e = import_error(Format::K6, "cut.json", &k[..k.len() - 40]);
    assert!(e.contains("cut.json:") && e.contains("truncated"), "{e}");
}

#[test]
fn a_real_locust_run_against_the_simulator_imports() {
    // Made by benches/import/make_locust_fixture.sh: the real Locust, 10 users, 10 s, --csv.
    let dir = tempfile::tempdir().unwrap();
    let files =
        ["locust_stats_history.csv", "locust_stats.csv", "locust_failures.csv"].map(|f| fixture(&format!("real/{f}")));
    let (out, run) = import_ok(Format::Locust, &files, dir.path(), |r| r.target = Some("cloud-sim".into()));
    let t = &run.targets[0];
    assert_eq!((t.name.as_str(), t.requests.sent, t.requests.errors), ("cloud-sim", 389, 1));
    assert_eq!(count(t, "http_429"), 1, "from _failures.csv, whose newer columns (First Seen, …) are ignored");
    assert_eq!((pct(t, "p50"), pct(t, "p99"), pct(t, "max")), (Some(140_000), Some(540_000), Some(820_878)));
    let timeline = &folder::load(&out).unwrap().targets[0].timeline;
    assert_eq!(timeline.iter().map(|r| r.started).sum::<u64>(), 389);
}

#[test]
fn a_real_wrk_printout_against_the_simulator_imports_as_service_time() {
    // Made by benches/import/make_wrk_fixture.sh: the real wrk --latency, a closed loop.
    let dir = tempfile::tempdir().unwrap();
    let (_, run) = import_ok(Format::Wrk2, &[fixture("real/wrk.txt")], dir.path(), |r| r.target = Some("cloud".into()));
    let t = &run.targets[0];
    let imp = t.imported.as_ref().unwrap();
    assert_eq!(imp.latency_from, "send", "plain wrk measures from the actual send");
    assert_eq!(
        (pct(t, "p50"), pct(t, "p99"), pct(t, "p99.9"), pct(t, "max")),
        (Some(149_270), Some(434_570), None, None)
    );
    assert_eq!((t.requests.ok, count(t, "http_error")), (45, 28));
    assert_eq!((t.rate.achieved, t.connections, t.model.as_str()), (24.28, 4, "closed"));
}
