//! The HTML report, the charts and `compare`, on fixed fixture runs (and one short loopback run for the
//! end-of-run report). `UPDATE_GOLDEN=1 cargo test --test report` rewrites tests/golden/report.html.

use crate::support::common;
use crate::support::fixture;

use std::path::{Path, PathBuf};

use common::wabench;
use wabench::report::{self, compare};
use wabench::results::folder as data;

const STEMS: [&str; 4] = ["latency_spectrum", "latency_over_time", "throughput", "outcomes"];

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn report_matches_the_golden_file() {
    let dir = tempfile::tempdir().unwrap();
    fixture::cloud_vs_onprem(dir.path());
    let path = report::write_report(dir.path()).expect("report");
    let html = read(&path);
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/report.html");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, &html).unwrap();
        eprintln!("rewrote {}", golden.display());
        return;
    }
    let want = read(&golden);
    if html != want {
        let line = html.lines().zip(want.lines()).position(|(a, b)| a != b).map_or(0, |i| i + 1);
        panic!(
            "report.html differs from {} (first difference at line {line}); if the change is intended, rerun with \
             UPDATE_GOLDEN=1",
            golden.display()
        );
    }
}

#[test]
fn report_shows_metadata_tables_thresholds_and_charts() {
    let dir = tempfile::tempdir().unwrap();
    fixture::cloud_vs_onprem(dir.path());
    let html = read(&report::write_report(dir.path()).unwrap());
    for want in [
        "<h1>cloud-vs-onprem</h1>",
        "profiles/fixture.toml",
        "2025-03-01T12:00:00.000Z",
        "bench-1 (linux/x86_64, 2 CPUs)",
        "<dt>Seed</dt><dd>42</dd>",
        "<th scope=\"col\">cloud</th><th scope=\"col\">onprem</th>",
        "<th scope=\"row\">http_503</th>",
        "<th scope=\"row\">api_131056</th>",
        "<th scope=\"row\">timeout</th>",
        "<th scope=\"row\">dropped</th>",
        "✘ 1 of 3 thresholds failed",
        "<td class=\"fail\">✘ FAIL</td>",
        "<td class=\"pass\">✔ PASS</td>",
        "p99.9",
    ] {
        assert!(html.contains(want), "report lacks {want:?}");
    }
    // Every chart is inlined as SVG, in order.
    let pos: Vec<usize> = STEMS.iter().map(|s| html.find(&format!("<figure id=\"{s}\"")).expect(s)).collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "charts in order: {pos:?}");
    assert_eq!(html.matches("<svg").count(), STEMS.len());
    // Text from the run is escaped; nothing is fetched from the network; no script.
    assert!(!html.contains("<script>") && html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&lt;b&gt;100/s&lt;/b&gt; &amp; compare &quot;Cloud&quot;"));
    assert!(!html.contains("http://") || !html.contains("src=\"http"), "no remote resources");
    assert!(!html.contains("<link") && !html.contains("<script"));
}

/// PNG signature, IHDR width and height.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 24, "too short for a PNG");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[test]
fn charts_are_written_as_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    fixture::cloud_vs_onprem(dir.path());
    report::write_report(dir.path()).unwrap();
    for stem in STEMS {
        let png = std::fs::read(dir.path().join(format!("{stem}.png"))).unwrap();
        assert_eq!(png_size(&png), (960, 540), "{stem}.png size");
        assert!(png.len() > 20_000, "{stem}.png is only {} bytes", png.len());
        let svg = read(&dir.path().join(format!("{stem}.svg")));
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{stem}.svg is an SVG document");
        assert!(!dir.path().join(format!("{stem}.partial.png")).exists());
    }
    let svg = |s: &str| read(&dir.path().join(format!("{s}.svg")));
    let lines = |s: &str| s.matches("<polyline").count() + s.matches("<path").count();

    let spectrum = svg("latency_spectrum");
    for label in ["Latency by percentile", "latency (ms)", "percentile", "99.9%", "cloud\n</text>", "onprem\n</text>"] {
        assert!(spectrum.contains(label), "spectrum lacks {label:?}");
    }
    assert!(lines(&spectrum) >= 2, "one line per target");

    let over = svg("latency_over_time");
    for label in
        ["latency (ms)", "time since the target started (s)", "requested rate (req/s)", "cloud p99", "onprem p50"]
    {
        assert!(over.contains(label), "latency over time lacks {label:?}");
    }
    assert!(lines(&over) >= 5, "p50 and p99 per target and the requested rate");

    let tp = svg("throughput");
    for label in ["requests per second", "requested", "cloud achieved", "onprem achieved"] {
        assert!(tp.contains(label), "throughput lacks {label:?}");
    }
    assert!(lines(&tp) >= 3);

    let oc = svg("outcomes");
    for label in ["ok\n</text>", "errors\n</text>", "dropped\n</text>", "cloud\n</text>", "onprem\n</text>"] {
        assert!(oc.contains(label), "outcomes lack {label:?}");
    }
    assert!(oc.matches("<polygon").count() >= 6, "three stacked areas per target");
}

#[test]
fn regenerating_gives_byte_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    fixture::cloud_vs_onprem(dir.path());
    report::write_report(dir.path()).unwrap();
    let first: Vec<Vec<u8>> = files(dir.path());
    let (code, out, err) = wabench(&["report", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("report.html"), "{out}");
    assert_eq!(files(dir.path()), first, "report.html and the charts are the same bytes");
}

fn files(dir: &Path) -> Vec<Vec<u8>> {
    let mut names: Vec<String> = STEMS.iter().flat_map(|s| [format!("{s}.svg"), format!("{s}.png")]).collect();
    names.push("report.html".into());
    names.iter().map(|n| std::fs::read(dir.join(n)).unwrap()).collect()
}

#[test]
fn the_report_written_at_the_end_of_a_run_is_what_report_regenerates() {
    let server = common::start(common::Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let profile = common::profile(
        dir.path(),
        &format!(
            "name = \"short\"\n[load]\nrate = 50\nduration = \"2s\"\nconnections = 2\n[[targets]]\nname = \"local\"\n\
             kind = \"http\"\nurl = \"http://{}/\"\n",
            server.addr
        ),
    );
    let loaded = wabench::spec::load(&profile).unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let out = dir.path().join("out");
    let opts = wabench::app::run::Options { out: Some(out.clone()), ..wabench::app::run::Options::new(dir.path()) };
    let f = wabench::app::run::run_profile(&loaded, &opts, rx).unwrap();
    assert!(f.error.is_none(), "{:?}", f.error);
    let written = std::fs::read(out.join("report.html")).expect("the run wrote report.html");
    let charts = files(&out);
    let (code, _, err) = wabench(&["report", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(out.join("report.html")).unwrap(), written);
    assert_eq!(files(&out), charts);
}

#[test]
fn a_report_that_cannot_be_written_keeps_the_results() {
    let server = common::start(common::Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let profile = common::profile(
        dir.path(),
        &format!(
            "name = \"blocked\"\n[load]\nrate = 20\nduration = \"1s\"\n[[targets]]\nname = \"local\"\nkind = \"http\"\n\
             url = \"http://{}/\"\n",
            server.addr
        ),
    );
    let out = dir.path().join("out");
    // A folder where report.html should go: the report cannot be written.
    std::fs::create_dir_all(out.join("report.html/x")).unwrap();
    let loaded = wabench::spec::load(&profile).unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let opts = wabench::app::run::Options { out: Some(out.clone()), ..wabench::app::run::Options::new(dir.path()) };
    let f = wabench::app::run::run_profile(&loaded, &opts, rx).expect("the run itself succeeds");
    let e = f.error.expect("the report failure is reported");
    assert!(e.contains("not the report") && e.contains("report.html"), "{e}");
    assert_eq!(wabench::results::read_run(&out).unwrap(), f.run, "run.json is kept");
    assert!(out.join("local.hlog").exists() && out.join("timeline.csv").exists());
}

#[test]
fn a_run_without_successes_says_so() {
    let dir = tempfile::tempdir().unwrap();
    fixture::all_failed(dir.path());
    let html = read(&report::write_report(dir.path()).unwrap());
    assert!(html.contains("down: no successful requests (100 sent, none succeeded)."), "alert");
    assert!(html.contains("<th scope=\"row\">connect_error</th><td>100 (100.00%)</td>"));
    let spectrum = read(&dir.path().join("latency_spectrum.svg"));
    assert!(spectrum.contains("no data: no request got a response"));
    let over = read(&dir.path().join("latency_over_time.svg"));
    assert!(over.contains("no data"));
    // Outcomes still show the failures.
    let oc = read(&dir.path().join("outcomes.svg"));
    assert!(oc.contains("errors\n</text>") && !oc.contains("no data"));
    for stem in STEMS {
        let png = std::fs::read(dir.path().join(format!("{stem}.png"))).unwrap();
        assert_eq!(png_size(&png), (960, 540));
    }
}

#[test]
fn an_empty_run_still_draws() {
    let dir = tempfile::tempdir().unwrap();
    let run = fixture::run("empty", None, &[], &[]);
    fixture::write(dir.path(), &run, &[]);
    let html = read(&report::write_report(dir.path()).unwrap());
    assert!(html.contains("No request ended."));
    assert_eq!(html.matches("<svg").count(), STEMS.len());
}

#[test]
fn missing_or_malformed_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let e = report::write_report(dir.path()).unwrap_err().to_string();
    assert!(e.contains(&dir.path().join("run.json").display().to_string()) && e.contains("cannot read"), "{e}");

    fixture::cloud_vs_onprem(dir.path());
    std::fs::write(dir.path().join("onprem.hlog"), "#[BaseTime: 0]\nnot,an,interval\n").unwrap();
    let e = report::write_report(dir.path()).unwrap_err().to_string();
    assert!(e.contains("onprem.hlog"), "{e}");

    std::fs::remove_file(dir.path().join("onprem.hlog")).unwrap();
    let (code, _, err) = wabench(&["report", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.starts_with("wabench: error: ") && err.contains("onprem.hlog") && err.contains("cannot read"), "{err}");

    std::fs::write(dir.path().join("run.json"), "{\"schema_version\": 1, \"name\": 3}").unwrap();
    let e = report::write_report(dir.path()).unwrap_err().to_string();
    assert!(e.contains("run.json") && e.contains("schema"), "{e}");

    let e = data::load(Path::new("/nonexistent/run-dir")).unwrap_err().to_string();
    assert!(e.contains("/nonexistent/run-dir"), "{e}");
}

/// Subject B with every latency of A doubled; same counts.
fn doubled(a: &fixture::Spec) -> data::TargetData {
    let mut t = fixture::target(a);
    for s in &mut t.seconds {
        let mut h = wabench::results::histogram();
        for v in s.histogram.iter_recorded() {
            h.record_n(s.histogram.highest_equivalent(v.value_iterated_to()) * 2, v.count_at_value()).unwrap();
        }
        s.histogram = h;
    }
    data::TargetData::new(t.result.clone(), t.seconds, t.timeline).unwrap()
}

fn row<'a>(rows: &'a [compare::Row], name: &str) -> &'a compare::Row {
    rows.iter().find(|r| r.metric.name() == name).unwrap()
}

#[test]
fn compare_finds_a_doubling_and_calls_identical_runs_noise() {
    let spec = fixture::Spec::new("a", 10_000);
    let a = fixture::target(&spec);
    let b = doubled(&spec);
    let rows = compare::compare_pair(&a, &b, compare::SEED);
    for name in ["p50", "p90", "p99", "p99.9", "max"] {
        let r = row(&rows, name);
        let x = r.ratio.unwrap();
        assert!((x - 2.0).abs() < 0.01, "{name}: ratio {x}");
        let (lo, hi) = r.ci.unwrap();
        assert!(lo <= x && x <= hi && lo > 1.0, "{name}: CI {lo}–{hi}");
        assert!(r.significant, "{name} doubled is significant");
    }
    let rate = row(&rows, "rate");
    assert!((rate.ratio.unwrap() - 1.0).abs() < 1e-9 && !rate.significant, "same rate");

    let same = compare::compare_pair(&a, &fixture::target(&spec), compare::SEED);
    for r in &same {
        assert!((r.ratio.unwrap() - 1.0).abs() < 1e-9, "{:?}", r.metric);
        assert!(!r.significant, "{:?}: identical inputs are within noise, CI {:?}", r.metric, r.ci);
    }
    for name in ["p50", "p99"] {
        let (lo, hi) = row(&same, name).ci.unwrap();
        assert!(lo <= 1.0 && hi >= 1.0, "{name}: the interval holds 1 ({lo}–{hi})");
    }
    // Unpaired (different lengths): the noise of each run shows in the interval, which still holds 1.
    let mut longer = spec.clone();
    longer.seconds += 3;
    let unpaired = compare::compare_pair(&a, &fixture::target(&longer), compare::SEED);
    let p99 = row(&unpaired, "p99");
    let (lo, hi) = p99.ci.unwrap();
    assert!(lo < 1.0 && hi > 1.0 && !p99.significant, "p99 CI {lo}–{hi}");
    // The bootstrap is seeded: the same inputs give the same intervals.
    assert_eq!(compare::compare_pair(&a, &b, compare::SEED), rows);
    let text = compare::headline("b", &rows);
    assert!(text.starts_with("b is 2.00× slower at p99 (95% CI "), "{text}");
}

#[test]
fn compare_command_prints_ratios_writes_html_and_skips_bad_runs() {
    let root = tempfile::tempdir().unwrap();
    let d = |n: &str| root.path().join(n);
    let spec = fixture::Spec::new("cloud", 10_000);
    let a = fixture::target(&spec);
    fixture::write(&d("base"), &fixture::run("base", None, std::slice::from_ref(&a), &[]), std::slice::from_ref(&a));
    let b = doubled(&spec);
    fixture::write(&d("slow"), &fixture::run("slow", None, std::slice::from_ref(&b), &[]), std::slice::from_ref(&b));
    std::fs::create_dir_all(d("broken")).unwrap();
    std::fs::write(d("broken/run.json"), "{not json").unwrap();
    let out = d("cmp");
    let s = |p: PathBuf| p.to_str().unwrap().to_string();
    let (code, stdout, err) =
        wabench(&["compare", &s(d("base")), &s(d("broken")), &s(d("slow")), "--out", &s(out.clone())]);
    assert_eq!(code, 0, "{err}");
    assert!(
        stdout.contains("skipped") && stdout.contains("broken/run.json") && stdout.contains("not valid JSON"),
        "{stdout}"
    );
    assert!(stdout.contains("baseline: base"), "{stdout}");
    assert!(stdout.contains("2.00×") && stdout.contains("slower"), "{stdout}");
    assert!(stdout.contains("slow is 2.00× slower at p99 (95% CI"), "{stdout}");
    let html = read(&out.join("compare.html"));
    assert!(html.contains("slow vs base") && html.contains("<td class=\"fail\">slower</td>"));
    assert!(html.contains("broken/run.json"), "the skipped run is named");
    assert_eq!(html.matches("<svg").count(), 1);
    let spectrum = read(&out.join("compare_spectrum.svg"));
    assert!(spectrum.contains("base\n</text>") && spectrum.contains("slow\n</text>"));
    assert_eq!(png_size(&std::fs::read(out.join("compare_spectrum.png")).unwrap()), (960, 540));

    // Fewer than two readable runs: an error naming what was skipped.
    let (code, _, err) = wabench(&["compare", &s(d("base")), &s(d("broken"))]);
    assert_eq!(code, 1);
    assert!(err.contains("only 1 of 2") && err.contains("broken/run.json"), "{err}");
}

#[test]
fn compare_of_one_run_compares_its_targets() {
    let dir = tempfile::tempdir().unwrap();
    fixture::cloud_vs_onprem(dir.path());
    let c = compare::compare_dirs(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(c.subjects.iter().map(|s| s.label.as_str()).collect::<Vec<_>>(), ["cloud", "onprem"]);
    let p50 = row(&c.rows[0], "p50");
    assert!(p50.ratio.unwrap() < 0.6 && p50.significant, "onprem is about half of cloud: {p50:?}");
    let mut text = Vec::new();
    compare::write_text(&c, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("onprem is") && text.contains("faster"), "{text}");

    let one = tempfile::tempdir().unwrap();
    fixture::all_failed(one.path());
    let e = compare::compare_dirs(&[one.path().to_path_buf()]).unwrap_err().to_string();
    assert!(e.contains("one target"), "{e}");
    let e = compare::compare_dirs(&[one.path().join("missing")]).unwrap_err().to_string();
    assert!(e.contains("missing") && e.contains("not a results folder"), "{e}");
}

/// `compare` reads each folder into at most `MAX_BLOCKS` blocks of seconds (memory flat in the run's
/// length); the ratios, intervals and error-rate rows are exactly those of the per-second data.
#[test]
fn a_blocked_load_compares_exactly_like_the_seconds() {
    let root = tempfile::tempdir().unwrap();
    let mut spec = fixture::Spec::new("a", 10_000);
    spec.seconds = 250; // 3 seconds a block, the last one shorter
    spec.errors = vec![(97, "api_131056")];
    let a = fixture::folder(root.path(), "a", &fixture::target(&spec));
    let slow = fixture::slower(&fixture::target(&spec), 1.3, |s| s % 7 == 0);
    let b = fixture::folder(root.path(), "b", &fixture::more_errors(&slow, 11, 40));
    let full: Vec<_> = [&a, &b].map(|d| data::load(d).unwrap().targets.remove(0)).into();
    let blocked: Vec<_> = [&a, &b].map(|d| data::load_blocked(d, 100).unwrap().targets.remove(0)).into();
    let blocks = blocked[0].blocks.as_ref().unwrap();
    assert!(blocked[0].seconds.is_empty() && full[0].seconds.len() == 250);
    assert_eq!((blocks.per, blocks.histograms.len()), (3, 84));
    assert_eq!(blocks.histograms.iter().map(|h| h.len()).sum::<u64>(), full[0].total.len());
    let rows = compare::compare_pair(&full[0], &full[1], compare::SEED);
    assert!(rows.iter().any(|r| r.significant), "the slower seconds show: {rows:?}");
    assert_eq!(compare::compare_pair(&blocked[0], &blocked[1], compare::SEED), rows);
    assert_eq!(
        report::gates::points_pair(&blocked[0], &blocked[1], 7),
        report::gates::points_pair(&full[0], &full[1], 7)
    );
    // compare_dirs reads blocks and gives the same table.
    let c = compare::compare_dirs(&[a, b]).unwrap();
    assert!(c.subjects.iter().all(|s| s.target.blocks.is_some()));
    assert_eq!(c.rows[0], rows);
}
