//! report.html opened by a real browser (headless Chromium, no network): the DOM holds the tables and
//! the inline SVG charts, and the page script's hover values and legend toggles work (checked through
//! the page's `#selftest` mode, in report.html and compare.html). Without Chromium the tests are
//! skipped with a note, unless `CI` is set, where a missing browser is a failure (CI installs Debian's
//! `chromium`).

use crate::support::fixture;

use serde_json::Value;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The browser binary, if one is installed.
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().map(|o| o.status.success()).unwrap_or(false))
}

/// The DOM of `page` (with `fragment` after `#`, when not empty) after Chromium has loaded it, or what
/// went wrong. The DOM goes to a file, so a large page never blocks the browser on a full pipe.
fn dump_dom(browser: &str, page: &Path, fragment: &str, profile: &Path) -> Result<String, String> {
    let url = format!(
        "file://{}{}",
        page.display(),
        if fragment.is_empty() { String::new() } else { format!("#{fragment}") }
    );
    dump_url(browser, &url, profile, &[])
}

/// The DOM of the page at `url` after Chromium has loaded it (with `extra` flags), or what went wrong.
pub(crate) fn dump_url(browser: &str, url: &str, profile: &Path, extra: &[&str]) -> Result<String, String> {
    let dom_path = profile.with_extension("dom.html");
    let dom_file = std::fs::File::create(&dom_path).map_err(|e| format!("{}: {e}", dom_path.display()))?;
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg("--dump-dom")
        .arg(url)
        .stdout(dom_file)
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {browser}: {e}"))?;
    // Bounded: a browser that hangs fails the test instead of holding it forever.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(_) => break,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{browser} did not finish within 90 s"));
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    std::fs::read_to_string(&dom_path).map_err(|e| format!("{}: {e}", dom_path.display()))
}

/// The browser, or None (with a note) when it is missing outside CI.
pub(crate) fn browser() -> Option<&'static str> {
    let b = chromium();
    if b.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("chromium is not installed; CI must install Debian's chromium package");
        }
        eprintln!("note: chromium not found, skipping the browser check (install Debian's chromium to run it)");
    }
    b
}

#[test]
fn chromium_renders_the_tables_and_charts() {
    let Some(browser) = browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    fixture::cloud_vs_onprem(&results);
    let page = wabench::report::write_report(&results).expect("report");
    let dom = dump_dom(browser, &page, "", &dir.path().join("chromium-profile")).expect("chromium dumps the DOM");

    assert!(dom.contains("<h1>cloud-vs-onprem</h1>"), "title in the DOM: {}", &dom[..dom.len().min(400)]);
    assert!(dom.contains("<table class=\"summary\">"), "summary table in the DOM");
    assert!(dom.contains("<table class=\"outcomes\">") && dom.contains("api_131056"), "outcomes table in the DOM");
    assert!(dom.contains("<table class=\"thresholds\">") && dom.contains("FAIL"), "thresholds in the DOM");
    assert_eq!(dom.matches("<svg").count(), 4, "four inline charts parsed as SVG");
    for id in ["latency_spectrum", "latency_over_time", "throughput", "outcomes"] {
        assert!(dom.contains(&format!("<figure id=\"{id}\"")), "{id} figure in the DOM");
    }
    // Escaped run text stays text: the browser did not create a script element from it.
    assert!(!dom.contains("<script>alert(1)</script>"));
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

/// A number as JavaScript's `String(n)` writes it (for the values the page holds: no exponents).
fn js_number(v: f64) -> String {
    format!("{v}")
}

/// A value of the chart data as the tooltip shows it: a number, a range "lo–hi", or "–".
fn js_value(v: &Value) -> String {
    match v {
        Value::Array(r) => {
            let (lo, hi) = (r[0].as_f64().unwrap(), r[1].as_f64().unwrap());
            if lo == hi { js_number(lo) } else { format!("{}–{}", js_number(lo), js_number(hi)) }
        }
        Value::Null => "–".into(),
        v => js_number(v.as_f64().unwrap()),
    }
}

/// What the page's self-test wrote: one record per chart.
fn selftest_records(dom: &str) -> Vec<Value> {
    const OPEN: &str = "<pre id=\"wb-selftest\">";
    let at = dom.rfind(OPEN).unwrap_or_else(|| panic!("no self-test output in the DOM"));
    let text = &dom[at + OPEN.len()..];
    let text = &text[..text.find("</pre>").unwrap()];
    let text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", "\u{a0}").replace("&amp;", "&");
    serde_json::from_str::<Vec<Value>>(&text).unwrap_or_else(|e| panic!("self-test output is not JSON: {e}: {text}"))
}

/// Open `page#selftest` and check, for every chart, what the page's script showed when the pointer
/// went over the middle of its longest series, and when that series' legend entry was clicked.
fn check_interactivity(browser: &str, page: &Path, stems: &[&str]) {
    let html = std::fs::read_to_string(page).unwrap();
    crate::report::self_contained(&html);
    let charts = crate::report::check_chart_data(&html, stems);
    let profile = page.with_file_name("chromium-selftest");
    let dom = dump_dom(browser, page, "selftest", &profile).expect("chromium dumps the DOM");
    let records = selftest_records(&dom);
    assert_eq!(records.len(), charts.len(), "one self-test record per chart: {records:?}");
    for ((stem, data, _), r) in charts.iter().zip(&records) {
        assert_eq!(r["stem"], stem.as_str());
        // The point the test aims at: the middle of the first longest series of the first panel.
        let panel = &data["panels"][0];
        let all = panel["series"].as_array().unwrap();
        let mut longest = &all[0];
        for s in all {
            if s["p"].as_array().unwrap().len() > longest["p"].as_array().unwrap().len() {
                longest = s;
            }
        }
        let pts = longest["p"].as_array().unwrap();
        let x = pts[pts.len() / 2][0].as_f64().unwrap();
        assert_eq!(r["series"], longest["id"], "{stem}: {r}");
        assert_eq!(r["x"].as_f64(), Some(x), "{stem}: {r}");

        // The tooltip: where the pointer is, then each series' value at that point.
        let lines: Vec<&str> = r["before"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
        assert!(!lines.is_empty(), "{stem}: a tooltip showed: {r}");
        let title = panel["title"].as_str().map(|t| format!("{t}: ")).unwrap_or_default();
        if data["axis"] == "seconds" {
            assert_eq!(lines[0], format!("{title}t = {} s", js_number(x)), "{stem}");
        } else {
            assert!(lines[0].starts_with("percentile ") && lines[0].ends_with('%'), "{stem}: {}", lines[0]);
        }
        let want: Vec<String> = all
            .iter()
            .map(|s| {
                let p = s["p"].as_array().unwrap();
                let i = p.iter().position(|q| (q[0].as_f64().unwrap() - x).abs() < 1e-9);
                let v = i.map_or(Value::Null, |i| p[i][1].clone());
                let unit = s["unit"].as_str().unwrap();
                let unit = if v.is_null() || unit.is_empty() { String::new() } else { format!(" {unit}") };
                let max = if s["lastIsMax"] == true && i == Some(p.len() - 1) { " (max)" } else { "" };
                format!("{}: {}{unit}{max}", s["label"].as_str().unwrap(), js_value(&v))
            })
            .collect();
        assert_eq!(lines[1..], want[..], "{stem}: the tooltip shows the chart's values at x = {x}");
        assert!(want.iter().any(|w| !w.contains('–')), "{stem}: some value is shown: {want:?}");

        // The legend entry hides its series, the others stay, the tooltip leaves it out; a second
        // click shows it again.
        let label = longest["label"].as_str().unwrap();
        assert_eq!(r["key"], true, "{stem}: the series has a legend entry");
        assert_eq!(r["pressed"], "false", "{stem}: the entry says its series is hidden");
        let displays = |k: &str| -> Vec<String> {
            r[k].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_string()).collect()
        };
        let hidden = displays("hidden");
        assert!(!hidden.is_empty() && hidden.iter().all(|d| d == "none"), "{stem}: {label} hidden: {hidden:?}");
        let others = displays("others");
        assert!(!others.is_empty() && others.iter().all(|d| d != "none"), "{stem}: others shown: {others:?}");
        let after: Vec<&str> = r["after"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
        assert!(after.len() >= 2, "{stem}: the tooltip still shows the other series: {after:?}");
        assert!(!after.iter().any(|l| l.starts_with(&format!("{label}: "))), "{stem}: {label} left out: {after:?}");
        let restored = displays("restored");
        assert!(restored.iter().all(|d| d != "none"), "{stem}: {label} shown again: {restored:?}");
    }
}

#[test]
fn hover_values_and_legend_toggles_work_in_report_and_compare_pages() {
    let Some(browser) = browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    fixture::cloud_vs_onprem(&results);
    let page = wabench::report::write_report(&results).expect("report");
    check_interactivity(browser, &page, &["latency_spectrum", "latency_over_time", "throughput", "outcomes"]);

    let c = wabench::report::compare::compare_dirs(std::slice::from_ref(&results)).expect("compare");
    let page = wabench::report::compare::write_html(&c, &[], &dir.path().join("cmp")).expect("compare.html");
    check_interactivity(browser, &page, &["compare_spectrum"]);
}
