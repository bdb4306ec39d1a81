//! Secrets reach the target and nothing else: values taken from the environment (an HTTP header, a
//! Cloud API token, On-Premises API credentials) never appear in the results folder or in what the
//! `wabench` binary prints, on success or on failure; and no command-line flag takes a secret.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};

use crate::support::loopback::{self, Http, LoopServer};

const AUTH: &str = "Bearer wabench-secret-auth-7f3a9c";
const TOKEN: &str = "wabench-secret-token-5d21e8";
/// The embedded simulator's default On-Premises account; the run replaces its password.
const USER: &str = "admin";
const PASSWORD: &str = "secret";
const NEW_PASSWORD: &str = "wabench-secret-NewPass-91b4";

/// Every spelling of a secret that could leak: as is, and base64 (HTTP Basic, encodings).
fn needles() -> Vec<(String, Vec<u8>)> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut v = vec![("the common prefix".to_string(), b"wabench-secret".to_vec())];
    for s in [AUTH, TOKEN, NEW_PASSWORD] {
        v.push((s.to_string(), s.as_bytes().to_vec()));
        v.push((format!("base64 of {s}"), b64(s).into_bytes()));
    }
    for basic in [format!("{USER}:{PASSWORD}"), format!("{USER}:{NEW_PASSWORD}")] {
        v.push((format!("Basic {basic}"), b64(&basic).into_bytes()));
    }
    v
}

fn find_leaks(what: &str, bytes: &[u8]) -> Vec<String> {
    needles()
        .into_iter()
        .filter(|(_, n)| bytes.windows(n.len()).any(|w| w == n.as_slice()))
        .map(|(name, _)| format!("{what} holds {name}"))
        .collect()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() { todo.push(p) } else { out.push(p) }
        }
    }
    out
}

/// A loopback server that answers 200 only to requests carrying `AUTH`, and counts them.
fn auth_server() -> (LoopServer, Arc<AtomicU64>) {
    let authorised = Arc::new(AtomicU64::new(0));
    let a = authorised.clone();
    let server = loopback::http(Http::One, move |_, req| {
        let good = req.headers().get("authorization").is_some_and(|v| v.as_bytes() == AUTH.as_bytes());
        if good {
            a.fetch_add(1, Ordering::Relaxed);
        }
        let mut r = Response::new(Full::new(Bytes::from_static(b"{}")));
        if !good {
            *r.status_mut() = StatusCode::UNAUTHORIZED;
        }
        async move { r }
    });
    (server, authorised)
}

/// Forty requests per target. The embedded simulators answer in about 150 ms on average (their
/// default latency model, p99 600 ms), so 20/s needs about 3 requests in flight and 12 connections
/// carry it (rate × p99): with 2, a Cloud target fell a second and more behind its schedule and,
/// on a busy machine, past its in-flight cap (10 per connection), which drops requests. With 12 the
/// cap (120) is above the 40 planned: none can be dropped, however slow the machine.
fn profile(addr: SocketAddr) -> String {
    format!(
        r#"name = "secrets"
[load]
rate = 20
duration = "2s"
connections = 12
timeout = "10s"

[simulator.recipients]
undeliverable_suffixes = []

# Text to every user delivers: the run passes its default error gate.
[simulator.service_window]
enabled = false

[simulator.onprem]
# Tokens expire during the run: the session logs in again with the password it set.
token_ttl = "1s"

[[targets]]
name = "http"
kind = "http"
url = "http://{addr}/"
headers_from_env = {{ authorization = "WABENCH_TEST_AUTH" }}

[[targets]]
name = "cloud"
kind = "cloud"
base_url = "embedded"
token_env = "WABENCH_TEST_TOKEN"

[[targets]]
name = "onprem"
kind = "onprem"
base_url = "embedded"
username_env = "WABENCH_TEST_USER"
password_env = "WABENCH_TEST_PASSWORD"
new_password_env = "WABENCH_TEST_NEW_PASSWORD"
"#
    )
}

/// Run the binary with the secrets in its environment; exit code, stdout and stderr together.
fn wabench(args: &[&str], auth: &str) -> (i32, Vec<u8>) {
    let out = Command::new(env!("CARGO_BIN_EXE_wabench"))
        .args(args)
        .env("WABENCH_TEST_AUTH", auth)
        .env("WABENCH_TEST_TOKEN", TOKEN)
        .env("WABENCH_TEST_USER", USER)
        .env("WABENCH_TEST_PASSWORD", PASSWORD)
        .env("WABENCH_TEST_NEW_PASSWORD", NEW_PASSWORD)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("run wabench");
    let mut all = out.stdout;
    all.extend_from_slice(b"\n--- stderr ---\n");
    all.extend_from_slice(&out.stderr);
    (out.status.code().unwrap_or(-1), all)
}

#[test]
fn secrets_from_the_environment_never_reach_results_or_output() {
    let (server, authorised) = auth_server();
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("secrets.toml");
    std::fs::write(&p, profile(addr)).unwrap();
    let out = dir.path().join("out");
    let (p, out_s) = (p.to_str().unwrap(), out.to_str().unwrap());
    let mut leaks = Vec::new();

    for (name, args) in [("validate", vec!["validate", p]), ("run --dry-run", vec!["run", p, "--dry-run"])] {
        let (code, printed) = wabench(&args, AUTH);
        assert_eq!(code, 0, "{name}: {}", String::from_utf8_lossy(&printed));
        leaks.extend(find_leaks(name, &printed));
    }

    let (code, printed) = wabench(&["run", p, "--out", out_s, "--quiet"], AUTH);
    let text = String::from_utf8_lossy(&printed);
    assert_eq!(code, 0, "{text}");
    leaks.extend(find_leaks("run", &printed));
    let files = files_under(&out);
    assert!(files.len() >= 5, "run.json, timeline and one log per target: {files:?}");
    for f in &files {
        leaks.extend(find_leaks(&f.display().to_string(), &std::fs::read(f).unwrap()));
    }
    assert!(leaks.is_empty(), "{leaks:#?}");

    // The secrets were used: the server saw the header, the simulators accepted token and login.
    assert_eq!(authorised.load(Ordering::Relaxed), 40);
    let run = wabench::results::read_run(&out).unwrap();
    for t in &run.targets {
        assert_eq!(t.requests.ok, 40, "{}: {:?}", t.name, t.outcomes);
    }
    let onprem = run.targets.iter().find(|t| t.name == "onprem").unwrap();
    let extra = onprem.extra.as_ref().unwrap();
    assert!(extra["logins"].as_u64().unwrap() >= 2, "the token expired and was renewed: {extra}");
    assert_eq!(extra["failed_logins"], 0, "logins after the first use the new password: {extra}");
}

#[test]
fn a_secret_that_is_not_a_valid_header_is_refused_without_being_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("secrets.toml");
    std::fs::write(&p, profile("127.0.0.1:9".parse().unwrap())).unwrap();
    let bad = "Bearer wabench-secret-auth-7f3a9c\r\nX-Injected: 1";
    let (code, printed) =
        wabench(&["run", p.to_str().unwrap(), "--out", dir.path().join("out").to_str().unwrap(), "--quiet"], bad);
    let text = String::from_utf8_lossy(&printed);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("WABENCH_TEST_AUTH") && text.contains("not a valid header value"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    let mut leaks = find_leaks("output", &printed);
    for f in files_under(&dir.path().join("out")) {
        leaks.extend(find_leaks(&f.display().to_string(), &std::fs::read(&f).unwrap()));
    }
    assert!(leaks.is_empty(), "{leaks:#?}");
}

#[test]
fn no_command_line_flag_takes_a_secret() {
    for args in [&["--help"][..], &["run", "--help"], &["validate", "--help"], &["simulate", "--help"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_wabench")).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let help = String::from_utf8_lossy(&out.stdout).to_lowercase();
        for flag in ["--token", "--password", "--secret", "--auth", "--api-key", "--header", "--user"] {
            assert!(!help.contains(flag), "{args:?} offers {flag}:\n{help}");
        }
    }
}
