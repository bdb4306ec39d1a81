//! Quick mode (`wabench run URL …`) and the starters of `wabench init`, through the binary.

use crate::support::common;

#[test]
fn a_url_with_a_rate_runs_like_a_profile_and_writes_the_same_results() {
    let server = common::start(common::Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let url = format!("http://{}/quick", server.addr);
    let (code, stdout, stderr) = common::wabench(&[
        "run",
        &url,
        "--rate",
        "40",
        "--duration",
        "1s",
        "--connections",
        "4",
        "-H",
        "X-Test: yes",
        "--out",
        out.to_str().unwrap(),
        "--no-report",
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let run = wabench::results::read_run(&out).unwrap();
    let t = &run.targets[0];
    assert_eq!((t.requests.sent, t.requests.ok), (40, 40), "{:?}", t.outcomes);
    assert!(run.name.starts_with("quick-127.0.0.1-"), "{}", run.name);
    assert_eq!(t.url, url);
}

#[test]
fn a_url_whose_requests_fail_does_not_pass() {
    let server = common::start(common::Behaviour { status: Some(404), ..Default::default() });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let url = format!("http://{}/missing", server.addr);
    let args = ["run", &url, "--rate", "20", "--duration", "1s", "--out", out.to_str().unwrap(), "--no-report"];
    let (code, stdout, stderr) = common::wabench(&args);
    assert_eq!(code, 99, "{stdout}\n{stderr}");
    assert!(stdout.contains("FAIL error_rate < 2%"), "{stdout}");
    let run = wabench::results::read_run(&out).unwrap();
    assert!(!run.passed);
    assert_eq!(run.targets[0].requests.errors, 20, "{:?}", run.targets[0].outcomes);
}

#[test]
fn quick_mode_refuses_credentials_and_profile_runs_refuse_quick_flags() {
    let (code, _, stderr) =
        common::wabench(&["run", "http://127.0.0.1:9/", "-H", "Authorization: Bearer s3cret", "--dry-run"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("--env-header") && !stderr.contains("s3cret"), "{stderr}");
    let (code, _, stderr) = common::wabench(&["run", "profiles/quickstart.toml", "--rate", "5", "--dry-run"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("--rate") && stderr.contains("--set"), "{stderr}");
}

#[test]
fn every_starter_is_written_once_and_validates() {
    let dir = tempfile::tempdir().unwrap();
    for kind in ["http", "campaign", "webhook", "bot"] {
        let file = dir.path().join(format!("{kind}.toml"));
        let f = file.to_str().unwrap();
        let (code, _, stderr) = common::wabench(&["init", kind, "--out", f]);
        assert_eq!(code, 0, "{stderr}");
        let loaded = wabench::spec::load(&file).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert!(!loaded.profile.targets.is_empty());
        let (code, _, stderr) = common::wabench(&["init", kind, "--out", f]);
        assert_eq!(code, 1, "an existing file is not replaced without --force");
        assert!(stderr.contains("--force"), "{stderr}");
        let (code, _, _) = common::wabench(&["validate", f]);
        assert_eq!(code, 0, "{kind} validates");
    }
}

#[test]
fn a_run_whose_output_is_not_a_terminal_prints_a_progress_line_every_few_seconds() {
    let server = common::start(common::Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let url = format!("http://{}/", server.addr);
    let args = ["run", &url, "--rate", "20", "--duration", "6s", "--out", out.to_str().unwrap(), "--no-report"];
    let (code, _, stderr) = common::wabench(&args);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("wabench: endpoint 5s/6s  sent ")).collect();
    assert_eq!(lines.len(), 1, "one line after 5 s: {stderr}");
    assert!(lines[0].contains("errors 0"), "{stderr}");
}
