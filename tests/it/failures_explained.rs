//! Failures explained: a run's failed messages listed in failures.csv (at send and in webhooks, with
//! recipient and message id), one sample error body per code in error_samples.json, code names in
//! the summary; `run --dry-run` shows rendered requests with credentials as `***`.

use crate::support::common::{profile, wabench_env};

const RUN: &str = "name = \"fail\"\nseed = 5\n[load]\nrate = 20\nduration = \"1s\"\nconnections = 4\ndrain = \"2s\"\n\
[simulator.latency]\ndistribution = \"constant\"\nmedian = \"1ms\"\n\
[simulator.cloud]\npair_limit = { enabled = false }\n[simulator.service_window]\nenabled = false\n\
[simulator.recipients]\nundeliverable_suffixes = []\n\
[simulator.webhooks]\nsent = { distribution = \"constant\", median = \"10ms\" }\n\
delivered = { distribution = \"constant\", median = \"10ms\" }\nread_fraction = 0.0\nduplicate_fraction = 0.0\n\
out_of_order_fraction = 0.0\ndelivered_and_failed_fraction = 0.0\n\
[[targets]]\nname = \"t\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n[webhooks]\nlisten = \"127.0.0.1:0\"\ngrace = \"10s\"\n";

fn run(text: &str) -> (tempfile::TempDir, std::path::PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = profile(dir.path(), text);
    let out = dir.path().join("out");
    let (_code, stdout, err) =
        wabench_env(&["run", p.to_str().unwrap(), "--out", out.to_str().unwrap(), "--no-report"], &[]);
    assert!(out.join("run.json").exists(), "{stdout}\n{err}");
    (dir, out, stdout)
}

#[test]
fn failures_at_send_are_listed_with_a_sample_body_and_the_codes_name() {
    // 2 parameters filled, the template takes 3: every send is answered 132000.
    let text = RUN.replacen(
        "[[targets]]",
        "[messages]\ntext = 0\ntemplate = 1\n[[simulator.templates]]\nname = \"order_update\"\nparams = 3\n[[targets]]",
        1,
    );
    let (_d, out, stdout) = run(&text);
    let csv = std::fs::read_to_string(out.join("failures.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("target,time,recipient,code,http_status,path,message_id,code_name"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 20, "{csv}");
    for r in &rows {
        assert_eq!(
            (r[0], r[3], r[4], r[5], r[6], r[7]),
            ("t", "132000", "400", "at_send", "", "Number of parameters does not match"),
            "{r:?}"
        );
        assert!(!r[2].is_empty(), "a recipient: {r:?}");
    }
    let samples: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("error_samples.json")).unwrap()).unwrap();
    let s = &samples["t"]["132000"];
    assert_eq!(s["path"], "at_send");
    assert_eq!(s["http_status"], 400);
    assert!(s["body"].as_str().unwrap().contains("does not match the expected number of params"), "{s}");
    assert!(stdout.contains("132000 Number of parameters does not match"), "the summary names the code: {stdout}");
    assert!(stdout.contains("template_params"), "and says what to do: {stdout}");
}

#[test]
fn failures_in_webhooks_are_listed_with_their_message_ids() {
    let text = RUN.replacen(
        "[[targets]]",
        "[messages]\ntext = 0\nimage = 1\n[simulator.media]\nlink_failure_fraction = 1.0\n[[targets]]",
        1,
    );
    let (_d, out, stdout) = run(&text);
    let csv = std::fs::read_to_string(out.join("failures.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 20, "one row per message, not per status: {csv}");
    let mut ids: Vec<&str> = rows.iter().map(|r| r[6]).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 20, "{csv}");
    for r in &rows {
        assert_eq!((r[3], r[5]), ("131053", "in_webhook"), "{r:?}");
        assert!(!r[2].is_empty() && !r[6].is_empty(), "{r:?}");
    }
    let samples: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("error_samples.json")).unwrap()).unwrap();
    assert_eq!(samples["t"]["131053"]["path"], "in_webhook");
    assert!(samples["t"]["131053"]["body"].as_str().unwrap().contains("131053"));
    assert!(stdout.contains("131053 Media upload error"), "{stdout}");
}

#[test]
fn a_run_without_failures_writes_no_failures_file() {
    let (_d, out, _) = run(RUN);
    assert!(!out.join("failures.csv").exists());
    assert!(!out.join("error_samples.json").exists());
}

#[test]
fn dry_run_shows_rendered_requests_with_credentials_redacted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users.csv"), "phone,name\n+15550001,Ann\n").unwrap();
    let p = profile(
        dir.path(),
        "name = \"dry\"\n[load]\nrate = 5\nduration = \"1s\"\n[messages]\ntext = 0\ntemplate = 1\n\
         template_body_params = [\"{{name}}\"]\n[recipients]\nfile = \"users.csv\"\n\
         [[targets]]\nname = \"c\"\nkind = \"cloud\"\nbase_url = \"embedded\"\ntoken_env = \"WABENCH_DRY_TEST_SECRET\"\n\
         [[targets]]\nname = \"h\"\nkind = \"http\"\nmethod = \"POST\"\nurl = \"http://127.0.0.1:9/\"\n\
         headers_from_env = { \"X-Api-Key\" = \"WABENCH_DRY_TEST_SECRET\" }\nbody = \"n={{seq}}\"\n",
    );
    let results = dir.path().join("results");
    let (code, out, err) = wabench_env(
        &["run", "--dry-run", p.to_str().unwrap(), "--results", results.to_str().unwrap()],
        &[("WABENCH_DRY_TEST_SECRET", "s3cret-token-value")],
    );
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("s3cret-token-value") && !err.contains("s3cret-token-value"), "{out}");
    assert!(out.contains("authorization: Bearer ***"), "{out}");
    assert!(out.contains("x-api-key: ***"), "{out}");
    assert!(out.contains(r#"{"text":"Ann","type":"text"}"#), "the template filled: {out}");
    assert!(out.contains("n=0") && out.contains("n=2"), "{out}");
    assert!(!results.exists());
}
