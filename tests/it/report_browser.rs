//! report.html opened by a real browser (headless Chromium, no network): the DOM holds the tables and
//! the inline SVG charts. Without Chromium the test is skipped with a note, unless `CI` is set, where
//! a missing browser is a failure (CI installs Debian's `chromium`).

use crate::support::fixture;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The browser binary, if one is installed.
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().map(|o| o.status.success()).unwrap_or(false))
}

/// The DOM of `page` after Chromium has loaded it, or what went wrong. The DOM goes to a file, so a
/// large page never blocks the browser on a full pipe.
fn dump_dom(browser: &str, page: &Path, profile: &Path) -> Result<String, String> {
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
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
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

#[test]
fn chromium_renders_the_tables_and_charts() {
    let Some(browser) = chromium() else {
        if std::env::var_os("CI").is_some() {
            panic!("chromium is not installed; CI must install Debian's chromium package");
        }
        eprintln!("note: chromium not found, skipping the browser check (install Debian's chromium to run it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    fixture::cloud_vs_onprem(&results);
    let page = wabench::report::write_report(&results).expect("report");
    let dom = dump_dom(browser, &page, &dir.path().join("chromium-profile")).expect("chromium dumps the DOM");

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
