//! Delivery is part of the verdict: a campaign on the embedded Cloud API whose messages are accepted
//! and then fail in `failed` status webhooks fails `error_rate` (exit 99) without a `[webhooks]` table,
//! and the summary, report.html, the summary JSON, JUnit and `compare` show send and delivery outcomes
//! side by side.

use std::path::Path;

use crate::support::common::wabench;

/// 200 messages to 200 users, one each: `template = 1` keeps the default `text = 1`, so about half are
/// free-form text to users whose customer service window is closed (accepted, then 131047 later).
fn campaign(thresholds: &str, webhooks: &str) -> String {
    format!(
        r#"name = "campaign"
seed = 3
[load]
rate = 100
duration = "2s"
connections = 32
[messages]
template = 1
[recipients]
country_code = "1"
count = 200
[simulator.recipients]
undeliverable_suffixes = []
[simulator.webhooks]
sent = {{ distribution = "constant", median = "20ms" }}
delivered = {{ distribution = "constant", median = "50ms" }}
read_fraction = 0
[[targets]]
name = "cloud"
kind = "cloud"
base_url = "embedded"
{webhooks}
{thresholds}
"#
    )
}

fn run(dir: &Path, name: &str, text: &str) -> (i32, String, String) {
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, text).unwrap();
    let out = dir.join(name);
    let (json, xml) = (dir.join(format!("{name}.json")), dir.join(format!("{name}.xml")));
    let args = [
        "run",
        p.to_str().unwrap(),
        "--quiet",
        "--out",
        out.to_str().unwrap(),
        "--summary-json",
        json.to_str().unwrap(),
        "--junit",
        xml.to_str().unwrap(),
    ];
    wabench(&args)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn failures_in_webhooks_fail_error_rate_without_a_webhooks_table() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(dir.path(), "tracked", &campaign("[thresholds]\n\"error_rate\" = \"< 2%\"", ""));
    assert_eq!(code, 99, "{out}\n{err}");
    // The summary: nothing failed at send, about half failed in webhooks with 131047, and the verdict
    // says what error_rate counted.
    let line = |label: &str| out.lines().find(|l| l.starts_with(label)).unwrap_or_else(|| panic!("{label}: {out}"));
    assert!(line("failed at send").trim_end().ends_with("0 (0.00%)"), "{out}");
    assert!(line("failed in webhooks").contains("131047 × "), "{out}");
    let verdict = line("  FAIL error_rate < 2%");
    assert!(verdict.contains("0 failed at send + ") && verdict.contains(" in webhooks of 200 sent"), "{verdict}");
    assert!(out.contains("error_rate counts messages that failed at send or later in a `failed` status webhook"));

    let doc: serde_json::Value = serde_json::from_str(&read(&dir.path().join("tracked.json"))).unwrap();
    let t = &doc["targets"][0];
    let failed = t["failed_in_webhooks"].as_u64().unwrap();
    assert!((60..=140).contains(&failed), "about half of 200: {t}");
    assert_eq!(
        (t["sent"].as_u64(), t["failed_at_send"].as_u64(), t["send_error_rate"].as_f64()),
        (Some(200), Some(0), Some(0.0))
    );
    assert_eq!(t["error_rate"].as_f64(), Some(failed as f64 / 200.0), "per message sent");
    assert_eq!(t["delivery"]["failed_by_code"]["131047"].as_u64(), Some(failed), "{t}");
    assert_eq!(t["delivery"]["delivered"].as_u64().unwrap() + failed + t["delivery"]["lost"].as_u64().unwrap(), 200);
    assert_eq!(doc["passed"], false);

    let junit = read(&dir.path().join("tracked.xml"));
    if let Some(j) = crate::support::python::junit(junit.as_bytes()) {
        let suite = &j["suites"][0];
        assert_eq!(suite["properties"]["cloud.failed_in_webhooks.131047"], failed.to_string(), "{j}");
        assert_eq!(suite["properties"]["cloud.sent"], "200", "{j}");
        let f = &suite["cases"][0]["result"][0];
        assert_eq!(f["kind"], "Failure", "{j}");
        assert!(f["message"].as_str().unwrap().contains("failed at send 0 (0.00%), failed in webhooks"), "{j}");
        assert_eq!(f["message"], f["text"], "{j}");
    }

    let html = read(&dir.path().join("tracked/report.html"));
    assert!(html.contains("✘ 1 of 1 thresholds failed"), "the verdict badge");
    assert!(html.contains(r#"<span class="badge pass">0 failed at send (0.00%)</span>"#));
    assert!(html.contains(&format!(r#"<span class="badge fail">{failed} failed in webhooks ("#)));
}

#[test]
fn delivery_tracking_turned_off_is_said_and_compare_shows_both_paths() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(dir.path(), "off", &campaign("", "[webhooks]\nenabled = false"));
    assert_eq!(code, 0, "only the send was judged: {out}\n{err}");
    assert!(out.contains("  PASS error_rate < 2% (default)"), "the default gate: {out}");
    assert!(out.contains("at send only: delivery not tracked"), "{out}");
    assert!(out.contains("cloud: delivery not tracked") && out.contains("enabled = false"), "{out}");
    let doc: serde_json::Value = serde_json::from_str(&read(&dir.path().join("off.json"))).unwrap();
    assert!(doc["targets"][0]["delivery"].is_null() && doc["targets"][0]["failed_in_webhooks"].is_null());
    let html = read(&dir.path().join("off/report.html"));
    assert!(html.contains("Delivery not tracked: cloud"), "a warning badge, not a green one alone");

    // The same campaign tracked by default (no table), judged by the default gate.
    let (code, out, err) = run(dir.path(), "on", &campaign("", ""));
    assert_eq!(code, 99, "{out}\n{err}");
    assert!(out.contains("  FAIL error_rate < 2% (default)"), "{out}");

    let (off, on) = (dir.path().join("off"), dir.path().join("on"));
    let json = dir.path().join("cmp.json");
    let (code, out, err) = wabench(&[
        "compare",
        off.to_str().unwrap(),
        on.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--out",
        dir.path().join("cmp").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("messages: send and delivery"), "{out}");
    let row = out.lines().find(|l| l.starts_with("failed in webhooks")).unwrap_or_else(|| panic!("{out}"));
    assert!(row.contains("not tracked") && row.contains('%'), "{row}");
    let doc: serde_json::Value = serde_json::from_str(&read(&json)).unwrap();
    assert!(doc["baseline"]["messages"]["failed_in_webhooks"].is_null(), "{doc}");
    assert!(doc["subjects"][0]["messages"]["failed_in_webhooks_by_code"]["131047"].as_u64().unwrap() > 0, "{doc}");
}
