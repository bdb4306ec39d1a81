//! The binary's contract: bad profiles give a located error and exit code 1, never a panic;
//! `validate` prints the plan and sends nothing.

use crate::support::common::{self, wabench};

fn check_bad(text: &str, expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(&p, text).unwrap();
    for cmd in ["validate", "run"] {
        let (code, _out, err) = wabench(&[cmd, p.to_str().unwrap()]);
        assert_eq!(code, 1, "{cmd}: exit code for {text:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(err.contains("bad.toml"), "error names the file: {err}");
        for e in expect {
            assert!(err.contains(e), "{cmd}: expected {e:?} in {err:?}");
        }
    }
}

const TARGET: &str = "\n[[targets]]\nname = \"t\"\nkind = \"http\"\nurl = \"http://127.0.0.1:9/\"\n";

#[test]
fn unknown_field_is_an_error_with_line_and_column() {
    check_bad(
        &format!("name = \"x\"\n[load]\nrate = 10\nduration = \"1s\"\nconections = 4\n{TARGET}"),
        &["bad.toml:5:1", "load.conections", "unknown field"],
    );
}

#[test]
fn wrong_type_is_located() {
    check_bad(
        &format!("name = \"x\"\n[load]\nrate = \"fast\"\nduration = \"1s\"\n{TARGET}"),
        &["bad.toml:3:", "load.rate"],
    );
}

#[test]
fn negative_rate_and_zero_duration_are_rejected() {
    check_bad(
        &format!("name = \"x\"\n[load]\nrate = -5\nduration = \"1s\"\n{TARGET}"),
        &["load.rate", "greater than 0"],
    );
    check_bad(
        &format!("name = \"x\"\n[load]\nrate = 5\nduration = \"0s\"\n{TARGET}"),
        &["load.duration", "longer than zero"],
    );
    check_bad(
        &format!("name = \"x\"\n[load]\nrate = 5\nduration = \"soon\"\n{TARGET}"),
        &["bad.toml:4:", "invalid duration"],
    );
    check_bad(
        &format!(
            "name = \"x\"\n[load]\nstages = [{{ to = 10, over = \"1s\" }}, {{ to = -1, over = \"1s\" }}]\n{TARGET}"
        ),
        &["load.stages[1].to"],
    );
}

#[test]
fn missing_target_and_bad_urls_are_rejected() {
    check_bad("name = \"x\"\n[load]\nrate = 5\nduration = \"1s\"\n", &["targets", "at least one"]);
    check_bad(
        "name = \"x\"\n[load]\nrate = 5\nduration = \"1s\"\n[[targets]]\nname = \"t\"\nkind = \"http\"\nurl = \"ftp://x/\"\n",
        &["targets[0].url", "not supported"],
    );
    check_bad(
        "name = \"x\"\n[load]\nrate = 5\nduration = \"1s\"\n[[targets]]\nname = \"t\"\nkind = \"smtp\"\nurl = \"http://x/\"\n",
        &["targets.kind", "unknown variant"],
    );
}

#[test]
fn the_embedded_simulators_server_limits_are_checked() {
    let embedded = "[[targets]]\nname = \"c\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n";
    let head = "name = \"x\"\n[load]\nrate = 5\nduration = \"1s\"\nconnections = 20\n";
    check_bad(
        &format!("{head}[simulator.server]\nmax_connections = 10\n{embedded}"),
        &["simulator.server.max_connections", "below load.connections = 20"],
    );
    check_bad(
        &format!("{head}[simulator.server]\nread_header_timeout = \"0s\"\n{embedded}"),
        &["simulator", "server.read_header_timeout must be longer than 0"],
    );
}

#[test]
fn bad_thresholds_are_rejected_at_validate() {
    check_bad(
        &format!(
            "name = \"x\"\n[load]\nrate = 5\nduration = \"1s\"\n{TARGET}[thresholds]\n\"latency.p99\" = \"fast\"\n"
        ),
        &["thresholds.latency.p99", "comparison"],
    );
}

#[test]
fn unreadable_file_is_reported() {
    let (code, _, err) = wabench(&["validate", "/nonexistent/profile.toml"]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/profile.toml") && err.contains("cannot read"), "{err}");
}

#[test]
fn validate_prints_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ok.toml");
    std::fs::write(
        &p,
        format!(
            "name = \"x\"\n[load]\nstages = [{{ to = 100, over = \"10s\" }}, {{ to = 100, over = \"5s\" }}]\n{TARGET}"
        ),
    )
    .unwrap();
    let (code, out, err) = wabench(&["validate", p.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("expected requests per target: 1000"), "{out}");
    assert!(out.contains("stage 1: 0/s → 100/s over 10s"), "{out}");
    assert!(out.contains("http://127.0.0.1:9/"), "{out}");
}

#[test]
fn every_shipped_profile_validates() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            let (code, _, err) = wabench(&["validate", p.to_str().unwrap()]);
            assert_eq!(code, 0, "{}: {err}", p.display());
            n += 1;
        }
    }
    assert!(n >= 3, "quickstart, webhooks and capacity profiles");
}

#[test]
fn dry_run_names_remote_whatsapp_targets_and_sends_nothing() {
    // A remote Cloud API target without confirm_real_traffic: a real run would refuse it, a dry run
    // (which returns before any request) names it. A loopback Cloud API target is not billable.
    let dir = tempfile::tempdir().unwrap();
    let p = common::profile(
        dir.path(),
        r#"name = "remote"
[load]
rate = 5
duration = "1s"

[[targets]]
name = "meta-cloud"
kind = "cloud"
base_url = "https://graph.facebook.com"
phone_number_id = "106540352242922"
token_env = "WABENCH_DRY_RUN_TEST_TOKEN"
allow_generated_recipients = true

[[targets]]
name = "local-cloud"
kind = "cloud"
base_url = "http://127.0.0.1:9"
phone_number_id = "106540352242922"
token_env = "WABENCH_DRY_RUN_TEST_TOKEN"
"#,
    );
    let results = dir.path().join("results");
    let (code, out, err) = wabench(&["run", "--dry-run", p.to_str().unwrap(), "--results", results.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    let named: Vec<&str> = out.lines().filter(|l| l.starts_with("remote WhatsApp targets")).collect();
    assert_eq!(named, ["remote WhatsApp targets (real, billable messages): meta-cloud"], "{out}");
    assert!(out.lines().any(|l| l == "dry run: nothing was sent"), "{out}");
    assert!(!results.exists(), "a dry run writes no results");
}

#[test]
fn real_targets_need_a_recipients_file_and_are_warned_about_free_form_messages() {
    let dir = tempfile::tempdir().unwrap();
    let target = r#"
[[targets]]
name = "meta-cloud"
kind = "cloud"
base_url = "https://graph.facebook.com"
phone_number_id = "106540352242922"
token_env = "WABENCH_REAL_TARGET_TEST_TOKEN"
"#;
    // The token the target names is set: preflight would stop at a missing one.
    const TOKEN: &[(&str, &str)] = &[("WABENCH_REAL_TARGET_TEST_TOKEN", "t")];
    let head = "name = \"real\"\n[load]\nrate = 5\nduration = \"1s\"\n";
    // Generated numbers to a real target: refused, naming the field and the way out.
    let p = common::profile(dir.path(), &format!("{head}{target}"));
    let (code, _, err) = wabench(&["validate", p.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("recipients.file") && err.contains("allow_generated_recipients"), "{err}");
    // A recipients file: valid, and the default text mix to a real target is warned about (131047).
    std::fs::write(dir.path().join("users.csv"), "phone\n+447700900123\n").unwrap();
    let p = common::profile(dir.path(), &format!("{head}[recipients]\nfile = \"users.csv\"\n{target}"));
    let (code, out, err) = common::wabench_env(&["validate", p.to_str().unwrap()], TOKEN);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("warning: 100% of the messages to meta-cloud are not templates") && out.contains("131047"),
        "{out}"
    );
    // Templates only: no such warning. The same flag on an embedded target changes nothing.
    let p = common::profile(
        dir.path(),
        &format!("{head}[messages]\ntext = 0\ntemplate = 1\n[recipients]\nfile = \"users.csv\"\n{target}"),
    );
    let (code, out, err) = common::wabench_env(&["validate", p.to_str().unwrap()], TOKEN);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!out.contains("not templates"), "{out}");
}

#[test]
fn validate_shows_the_simulators_transient_rates_and_rejects_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("sim.toml");
    let profile = |rate: &str| {
        format!(
            "name = \"x\"\n[load]\nrate = 10\nduration = \"1s\"\n[simulator.transient]\ncloud = {{ server_error = {rate} }}\n[[targets]]\nname = \"c\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n"
        )
    };
    std::fs::write(&p, profile("0.05")).unwrap();
    let (code, out, err) = wabench(&["validate", p.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("simulator: seed") && out.contains("cloud 131000 5%"), "{out}");
    std::fs::write(&p, profile("1.5")).unwrap();
    let (code, _, err) = wabench(&["validate", p.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("sim.toml") && err.contains("transient.cloud.server_error"), "{err}");
}

#[test]
fn set_overrides_the_profile_on_validate_run_and_plan_and_refuses_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("o.toml");
    std::fs::write(&p, format!("name = \"o\"\n[load]\nrate = 5\nduration = \"1s\"\n{TARGET}")).unwrap();
    let p = p.to_str().unwrap();
    let (code, out, err) = wabench(&["validate", p, "--set", "load.rate=7", "--set", "load.duration=2s", "--json"]);
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((plan["load"]["rate"].as_f64(), plan["load"]["expected_requests"].as_u64()), (Some(7.0), Some(14)));
    let (code, out, _) = wabench(&["run", p, "--dry-run", "--set", "targets.t.url=http://127.0.0.1:8/other"]);
    assert_eq!(code, 0);
    assert!(out.contains("http://127.0.0.1:8/other") && out.contains("nothing was sent"), "{out}");
    for cmd in ["validate", "run", "plan"] {
        let (code, _, err) = wabench(&[cmd, p, "--set", "load.rate=fast"]);
        assert_eq!(code, 1, "{cmd}: {err}");
        assert!(err.contains("o.toml") && err.contains("load.rate") && err.contains("--set"), "{cmd}: {err}");
        let (code, _, err) = wabench(&[cmd, p, "--set", "targets.t.headers_from_env.authorization=TOKEN"]);
        assert_eq!(code, 1, "{cmd}: {err}");
        assert!(err.contains("only from the environment"), "{cmd}: {err}");
    }
    let (code, _, err) = wabench(&["validate", p, "--set", "targets.x.url=http://127.0.0.1:8/"]);
    assert!(code == 1 && err.contains("no target named \"x\""), "{err}");
}

#[test]
fn a_rate_set_on_a_staged_profile_replaces_its_stages_and_the_run_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = common::profile(
        dir.path(),
        "name = \"staged\"\n[load]\nstages = [{ to = 50, over = \"2s\" }, { to = 50, over = \"8s\" }]\n[[targets]]\nname = \"cloud\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n[simulator.service_window]\nenabled = false\n[simulator.recipients]\nundeliverable_suffixes = []\n",
    );
    let p = p.to_str().unwrap();
    let res = dir.path().join("out");
    let (code, out, err) = wabench(&[
        "run",
        p,
        "--set",
        "load.rate=5",
        "--set",
        "load.duration=1s",
        "--out",
        res.to_str().unwrap(),
        "--quiet",
        "--no-report",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let run = wabench::results::read_run(&res).unwrap();
    assert_eq!(run.targets[0].requests.sent, 5, "5/s for 1 s instead of the stages");
    assert_eq!(
        run.overrides,
        [
            "--set load.rate=5",
            "--set load.duration=1s",
            "load.stages replaced by the constant rate of --set load.rate=5"
        ]
    );
    // The duration alone is refused with what to add.
    let (code, _, err) = wabench(&["validate", p, "--set", "load.duration=1s"]);
    assert!(code == 1 && err.contains("add --set load.rate=") && err.contains("(10s)"), "{err}");
}

#[test]
fn variables_in_the_profile_come_from_e_or_the_environment_and_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let p = common::profile(
        dir.path(),
        "name = \"vars\"\ndescription = \"against ${WABENCH_VARS_TEST_ENVIRONMENT:-staging}\"\n[load]\nrate = \"${WABENCH_VARS_TEST_RATE}\"\nduration = \"1s\"\n[[targets]]\nname = \"cloud\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n[simulator.service_window]\nenabled = false\n[simulator.recipients]\nundeliverable_suffixes = []\n",
    );
    let p = p.to_str().unwrap();
    // Unset and without a default: an error naming the field and the variable.
    let (code, _, err) = wabench(&["validate", p]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("load.rate") && err.contains("WABENCH_VARS_TEST_RATE"), "{err}");
    // -e gives it; the whole-value variable is a number; validate shows what changed and the result.
    let (code, out, err) = wabench(&["validate", p, "-e", "WABENCH_VARS_TEST_RATE=5"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("constant 5/s") || out.contains("5 requests"), "{out}");
    assert!(out.contains("changed from the file: -e WABENCH_VARS_TEST_RATE"), "{out}");
    assert!(out.contains("description = \"against staging\""), "the default applies: {out}");
    // A run records what changed its profile (names, not values).
    let res = dir.path().join("out");
    let (code, out, err) = wabench(&[
        "run",
        p,
        "-e",
        "WABENCH_VARS_TEST_RATE=5",
        "--set",
        "load.duration=2s",
        "--out",
        res.to_str().unwrap(),
        "--quiet",
        "--no-report",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let run = wabench::results::read_run(&res).unwrap();
    assert_eq!(run.overrides[0], "--set load.duration=2s");
    assert!(run.overrides.iter().any(|o| o == "-e WABENCH_VARS_TEST_RATE"), "{:?}", run.overrides);
    assert_eq!(run.targets[0].requests.sent, 10, "5/s for the overridden 2 s");
}

#[test]
fn a_reader_that_stops_reading_ends_the_command_quietly() {
    // The schema is larger than a pipe's buffer: the writer meets the closed pipe whatever the timing.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wabench"))
        .arg("schema")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn run_never_writes_over_files_in_a_folder_that_holds_no_run() {
    let dir = tempfile::tempdir().unwrap();
    let mine = dir.path().join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(mine.join("report.html"), "my own report").unwrap();
    std::fs::write(mine.join("timeline.csv"), "my own numbers").unwrap();
    let out = mine.to_str().unwrap();
    for force in [false, true] {
        let mut args = vec!["run", "http://127.0.0.1:9/", "--rate", "1", "--duration", "1s", "--out", out];
        if force {
            args.push("--force");
        }
        let (code, _, stderr) = common::wabench(&args);
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains("holds no wabench run"), "{stderr}");
    }
    assert_eq!(std::fs::read_to_string(mine.join("report.html")).unwrap(), "my own report");
    assert_eq!(std::fs::read_to_string(mine.join("timeline.csv")).unwrap(), "my own numbers");
}

#[test]
fn a_ci_file_that_cannot_be_written_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let missing = dir.path().join("no-such-folder").join("s.json");
    let folder = dir.path().to_str().unwrap().to_string();
    for (flag, path, why) in
        [("--summary-json", missing.to_str().unwrap(), "does not exist"), ("--junit", folder.as_str(), "is a folder")]
    {
        // A quick run of 60 s at loopback that would take a minute if it started.
        let (code, _, err) = common::wabench(&[
            "run",
            "http://127.0.0.1:9/",
            "--rate",
            "1",
            "--duration",
            "60s",
            "--out",
            out.to_str().unwrap(),
            flag,
            path,
        ]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains(&format!("{flag} {path}: ")) && err.contains(why), "{err}");
        assert!(!out.exists(), "nothing ran: {err}");
    }
}
