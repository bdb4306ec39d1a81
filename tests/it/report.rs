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
    // Text from the run is escaped; nothing is fetched from the network.
    assert!(!html.contains("<script>alert") && html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&lt;b&gt;100/s&lt;/b&gt; &amp; compare &quot;Cloud&quot;"));
    self_contained(&html);
}

/// The values of an attribute (`name="…"`) wherever it occurs in `html`.
fn attr_values<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let pat = format!("{name}=\"");
    html.match_indices(&pat)
        .filter(|(i, _)| html[..*i].ends_with(|c: char| c.is_whitespace()))
        .map(|(i, _)| {
            let rest = &html[i + pat.len()..];
            &rest[..rest.find('"').unwrap_or(rest.len())]
        })
        .collect()
}

/// One file that fetches nothing: no src or href pointing off the page, no style sheet link or
/// import, no CSS url(); exactly one page script, without src, and no web address in it.
pub(crate) fn self_contained(html: &str) {
    for name in ["src", "href", "xlink:href", "action", "srcset", "poster", "data"] {
        for v in attr_values(html, name) {
            let v = v.trim().to_ascii_lowercase();
            assert!(
                !(v.starts_with("http:") || v.starts_with("https:") || v.starts_with("//") || v.contains("://")),
                "{name}=\"{v}\" points off the page"
            );
        }
    }
    assert!(attr_values(html, "src").is_empty(), "nothing is loaded by src");
    for bad in ["<link", "@import", "url(", "<iframe", "<object", "<embed"] {
        assert!(!html.contains(bad), "the page holds {bad:?}");
    }
    assert_eq!(html.matches("<script").count(), html.matches("<script type=\"application/json\"").count() + 1);
    assert_eq!(html.matches("<script>").count(), 1, "one page script");
    let script = &html[html.find("<script>").unwrap()..];
    let script = &script[..script.find("</script>").unwrap()];
    for bad in ["http", "fetch(", "XMLHttpRequest", "import(", "WebSocket", "sendBeacon", "EventSource"] {
        assert!(!script.contains(bad), "the page script holds {bad:?}");
    }
}

/// Each figure's id and the JSON beside its chart, parsed; the figure's SVG as text.
pub(crate) fn chart_data(html: &str) -> Vec<(String, serde_json::Value, String)> {
    const OPEN: &str = "<script type=\"application/json\" class=\"wb-data\">";
    let mut out = Vec::new();
    for (i, _) in html.match_indices("<figure id=\"") {
        let fig = &html[i..];
        let fig = &fig[..fig.find("</figure>").expect("figure closed")];
        let id = &fig["<figure id=\"".len()..];
        let id = id[..id.find('"').unwrap()].to_string();
        let at = fig.find(OPEN).unwrap_or_else(|| panic!("{id}: no chart data"));
        let text = &fig[at + OPEN.len()..];
        let text = &text[..text.find("</script>").unwrap()];
        let data: serde_json::Value =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{id}: chart data is not JSON: {e}"));
        let svg = &fig[fig.find("<svg").expect("inline svg")..fig.find("</svg>").expect("svg closed")];
        out.push((id, data, svg.to_string()));
    }
    out
}

/// The `data-series` ids of the `<g class="{class}">` groups of an SVG, sorted, without repeats.
fn group_ids(svg: &str, class: &str) -> Vec<u64> {
    let pat = format!("<g class=\"{class}\" data-series=\"");
    let mut ids: Vec<u64> = svg
        .match_indices(&pat)
        .map(|(i, _)| {
            let rest = &svg[i + pat.len()..];
            rest[..rest.find('"').unwrap()].parse().unwrap()
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The series of every panel of a chart's data: (id, label, points).
fn series(data: &serde_json::Value) -> Vec<(u64, String, Vec<serde_json::Value>)> {
    data["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["series"].as_array().unwrap().iter())
        .map(|s| {
            (s["id"].as_u64().unwrap(), s["label"].as_str().unwrap().to_string(), s["p"].as_array().unwrap().clone())
        })
        .collect()
}

/// Every chart names its series and legend entries in the SVG and carries its values as JSON that
/// matches the run's timeline; the legend, the groups and the data agree on the series ids.
pub(crate) fn check_chart_data(html: &str, stems: &[&str]) -> Vec<(String, serde_json::Value, String)> {
    let charts = chart_data(html);
    assert_eq!(charts.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(), stems);
    for (id, data, svg) in &charts {
        assert_eq!(data["stem"], id.as_str());
        let legend: Vec<u64> = data["legend"].as_array().unwrap().iter().map(|l| l["id"].as_u64().unwrap()).collect();
        assert!(!legend.is_empty(), "{id}: a legend");
        let mut sorted = legend.clone();
        sorted.sort_unstable();
        assert_eq!(group_ids(svg, "wb-key"), sorted, "{id}: one legend group per entry");
        assert!(!svg.contains("wabench-mark"), "{id}: no marker is left");
        let mut drawn: Vec<u64> = series(data).iter().map(|s| s.0).collect();
        drawn.sort_unstable();
        drawn.dedup();
        assert_eq!(group_ids(svg, "wb-series"), drawn, "{id}: each series with data is drawn in its group");
        for (sid, label, pts) in series(data) {
            assert!(legend.contains(&sid), "{id}: series {label} is in the legend");
            assert!(!pts.is_empty(), "{id}: {label} has points");
        }
        for p in data["panels"].as_array().unwrap() {
            let b: Vec<i64> = p["box"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
            assert!(b[0] < b[2] && b[1] < b[3] && b[2] <= 960, "{id}: a plot box inside the chart: {b:?}");
        }
    }
    charts
}

#[test]
fn charts_carry_their_values_for_hover_and_toggles() {
    let dir = tempfile::tempdir().unwrap();
    fixture::cloud_vs_onprem(dir.path());
    let html = read(&report::write_report(dir.path()).unwrap());
    let charts = check_chart_data(&html, &STEMS);
    assert!(html.find("<script>").unwrap() > html.rfind("</figure>").unwrap(), "the script follows the charts");
    // The latency over time of each target is its timeline, in ms.
    let run = data::load_totals(dir.path()).unwrap();
    let over = &charts.iter().find(|c| c.0 == "latency_over_time").unwrap().1;
    assert_eq!(over["axis"], "seconds");
    assert_eq!(over["every"], 1);
    let all = series(over);
    for t in &run.targets {
        let p99 = &all.iter().find(|s| s.1 == format!("{} p99", t.name())).expect("p99 series").2;
        assert_eq!(p99.len(), t.timeline.len());
        for (p, row) in p99.iter().zip(&t.timeline) {
            assert_eq!(p[0].as_f64(), Some(row.second as f64));
            assert_eq!(p[1].as_f64(), row.p99_us.map(|v| v as f64 / 1000.0), "{} p99 at {}", t.name(), row.second);
        }
    }
    // The outcomes: one panel per target, the same three layer ids in each.
    let oc = &charts.iter().find(|c| c.0 == "outcomes").unwrap().1;
    let panels = oc["panels"].as_array().unwrap();
    assert_eq!(panels.len(), 2);
    assert_eq!(panels[1]["title"], "onprem");
    let errors = &panels[0]["series"][1];
    assert_eq!((errors["label"].as_str(), errors["id"].as_u64()), (Some("errors"), Some(1)));
    let cloud = &run.targets[0];
    assert_eq!(errors["p"][3][1].as_f64(), Some(cloud.timeline[3].errors as f64));
    // The spectrum ends at the maximum.
    let sp = &charts[0].1;
    assert_eq!(sp["axis"], "nines");
    let cloud_sp = &sp["panels"][0]["series"][0];
    let last = cloud_sp["p"].as_array().unwrap().last().unwrap();
    assert_eq!(last[1].as_f64(), Some(cloud.total.max() as f64 / 1000.0));
    assert_eq!(cloud_sp["lastIsMax"], true);
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
    let rx = wabench::Shutdown::new();
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
    // An earlier run's folder, replaced with --force, where a folder stands in report.html's place: the
    // report cannot be written.
    std::fs::create_dir_all(out.join("report.html/x")).unwrap();
    std::fs::write(out.join("run.json"), "{}").unwrap();
    let loaded = wabench::spec::load(&profile).unwrap();
    let rx = wabench::Shutdown::new();
    let opts = wabench::app::run::Options {
        out: Some(out.clone()),
        force: true,
        ..wabench::app::run::Options::new(dir.path())
    };
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
    // The charts' data still parses; an empty chart has no series to hover.
    self_contained(&html);
    let charts = chart_data(&html);
    assert_eq!(charts.len(), STEMS.len());
    assert_eq!(charts[0].1["panels"][0]["series"], serde_json::json!([]), "the spectrum has no values");
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
    self_contained(&html);
    assert_eq!(chart_data(&html).len(), STEMS.len(), "every chart's data parses");
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
    self_contained(&html);
    let charts = check_chart_data(&html, &["compare_spectrum"]);
    let labels: Vec<String> = series(&charts[0].1).into_iter().map(|s| s.1).collect();
    assert_eq!(labels, ["base", "slow"]);
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
        report::compare::gates::points_pair(&blocked[0], &blocked[1], 7),
        report::compare::gates::points_pair(&full[0], &full[1], 7)
    );
    // compare_dirs reads blocks and gives the same table.
    let c = compare::compare_dirs(&[a, b]).unwrap();
    assert!(c.subjects.iter().all(|s| s.target.blocks.is_some()));
    assert_eq!(c.rows[0], rows);
}

#[test]
fn compare_shows_its_progress_on_a_terminal_and_nothing_when_redirected() {
    // `script` gives the command a pseudo-terminal (util-linux, in every Debian base system).
    let dir = tempfile::tempdir().unwrap();
    fixture::cloud_vs_onprem(dir.path());
    let bin = env!("CARGO_BIN_EXE_wabench");
    let on_tty = dir.path().join("tty");
    let cmd = format!("{bin} compare {} --out {}", dir.path().display(), on_tty.display());
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .expect("`script` (util-linux) runs the command on a pseudo-terminal");
    let seen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{seen}");
    assert!(seen.contains("compare [") && seen.contains("reading"), "a progress line on the terminal: {seen}");
    let redirected = dir.path().join("redirected");
    let out = std::process::Command::new(bin)
        .args(["compare", dir.path().to_str().unwrap(), "--out", redirected.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("compare [") && !err.contains('\r'), "no progress line when redirected: {err}");
}
