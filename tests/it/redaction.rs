//! Credentials never shown, whatever a server sends back: a hostile On-Premises login server that
//! echoes everything it got (the Basic header, the decoded `user:password`, the URL) into its error
//! `details`; a target URL carrying `?access_token=…`; a URL refused for its userinfo whose password
//! holds a `/`. The secrets reach the server, and never stderr, stdout, run.json or report.html.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};

use crate::support::loopback::{self, Http, LoopServer};

const USER: &str = "wabench-user-4c7d";
const PASSWORD: &str = "wabench-pass-9e2f1a";
const URL_TOKEN: &str = "wabench-urltoken-b81c55";

/// A loopback server: `/v1/users/login` is refused with 401 and `details` echoing the request's
/// Authorization header, its decoded credentials and its URL; anything else is answered 200. Every
/// request's URI is kept.
fn echo_server() -> (LoopServer, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let server = loopback::http(Http::One, move |_, req| {
        let uri = req.uri().to_string();
        if let Ok(mut v) = s.lock()
            && v.len() < 10_000
        {
            v.push(uri.clone());
        }
        let auth = req.headers().get("authorization").map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let decoded = auth
            .as_deref()
            .and_then(|a| a.strip_prefix("Basic "))
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let r = if req.uri().path() == "/v1/users/login" {
            let details = format!(
                "invalid credentials {decoded} (Authorization: {}) for http://{decoded}@wa.example{uri}",
                auth.unwrap_or_default()
            );
            let body = serde_json::json!({"errors": [{"code": 1005, "title": "Access denied", "details": details}]});
            let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            r
        } else {
            Response::new(Full::new(Bytes::from_static(b"{\"ok\":true}")))
        };
        async move { r }
    });
    (server, seen)
}

/// Every spelling of the secrets that could leak.
fn needles() -> Vec<(String, Vec<u8>)> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut v = Vec::new();
    for s in [PASSWORD, URL_TOKEN, &format!("{USER}:{PASSWORD}")] {
        v.push((s.to_string(), s.as_bytes().to_vec()));
        v.push((format!("base64 of {s}"), b64(s).into_bytes()));
    }
    v
}

fn leaks(what: &str, bytes: &[u8]) -> Vec<String> {
    needles()
        .into_iter()
        .filter(|(_, n)| bytes.windows(n.len()).any(|w| w == n.as_slice()))
        .map(|(name, _)| format!("{what} holds {name}"))
        .collect()
}

/// The secrets any file under `dir` holds.
fn leaks_in(dir: &Path) -> Vec<String> {
    files_under(dir).iter().flat_map(|f| leaks(&f.display().to_string(), &std::fs::read(f).unwrap())).collect()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() { todo.push(p) } else { out.push(p) }
        }
    }
    out
}

/// Run the binary with the credentials in its environment: exit code, stdout + stderr.
fn wabench(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wabench"))
        .args(args)
        .env("WABENCH_T_USER", USER)
        .env("WABENCH_T_PASSWORD", PASSWORD)
        .output()
        .expect("run wabench");
    let mut all = String::from_utf8_lossy(&out.stdout).into_owned();
    all.push_str("\n--- stderr ---\n");
    all.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), all)
}

#[test]
fn a_login_server_echoing_the_credentials_does_not_get_them_printed() {
    let (server, seen) = echo_server();
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.toml");
    std::fs::write(
        &p,
        format!(
            "name = \"echo\"\n[load]\nrate = 5\nduration = \"1s\"\n[[targets]]\nname = \"wa\"\nkind = \"onprem\"\n\
             base_url = \"http://{addr}\"\nusername_env = \"WABENCH_T_USER\"\npassword_env = \"WABENCH_T_PASSWORD\"\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let (code, printed) = wabench(&["run", p.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]);
    assert_ne!(code, 0, "the login was refused: {printed}");
    assert!(printed.contains("refused with HTTP 401") && printed.contains("invalid credentials"), "{printed}");
    let mut found = leaks("output", printed.as_bytes());
    found.extend(leaks_in(&out));
    assert!(found.is_empty(), "{found:#?}\n{printed}");
    assert!(seen.lock().unwrap().iter().any(|u| u == "/v1/users/login"), "the server was asked");
}

#[test]
fn an_access_token_in_a_url_reaches_the_target_and_nothing_else() {
    let (server, seen) = echo_server();
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.toml");
    std::fs::write(
        &p,
        format!(
            "name = \"url-token\"\n[load]\nrate = 10\nduration = \"1s\"\nconnections = 2\n[[targets]]\nname = \"t\"\n\
             kind = \"http\"\nurl = \"http://{addr}/x?n=1&access_token={URL_TOKEN}\"\n"
        ),
    )
    .unwrap();
    let (p, out) = (p.to_str().unwrap(), dir.path().join("out"));
    let mut found = Vec::new();
    for args in [vec!["validate", p], vec!["run", p, "--dry-run"]] {
        let (code, printed) = wabench(&args);
        assert_eq!(code, 0, "{printed}");
        found.extend(leaks(args[0], printed.as_bytes()));
    }
    let (code, printed) = wabench(&["run", p, "--out", out.to_str().unwrap(), "--quiet"]);
    assert_eq!(code, 0, "{printed}");
    found.extend(leaks("run", printed.as_bytes()));
    let files = files_under(&out);
    assert!(
        files.iter().any(|f| f.ends_with("run.json")) && files.iter().any(|f| f.ends_with("report.html")),
        "{files:?}"
    );
    found.extend(leaks_in(&out));
    assert!(found.is_empty(), "{found:#?}");
    let run = wabench::results::read_run(&out).unwrap();
    assert_eq!(run.targets[0].url, format!("http://{addr}/x?n=1&access_token=<redacted>"));
    let sent = seen.lock().unwrap().iter().filter(|u| u.contains(URL_TOKEN)).count();
    assert_eq!(sent, 10, "every request carried the token to the target");
}

#[test]
fn a_url_refused_for_its_password_does_not_show_it() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        format!("http://user:{PASSWORD}@127.0.0.1:9/"),
        format!("http://user:a/{PASSWORD}@127.0.0.1:9/"),
        format!("http://user:{PASSWORD}@127.0.0.1:99999/"),
        format!("http://user:{PASSWORD} x@127.0.0.1:9/"),
    ] {
        let p = dir.path().join("p.toml");
        std::fs::write(
            &p,
            format!("name = \"u\"\n[load]\nrate = 1\nduration = \"1s\"\n[[targets]]\nname = \"t\"\nkind = \"http\"\nurl = \"{url}\"\n"),
        )
        .unwrap();
        let (code, printed) = wabench(&["validate", p.to_str().unwrap()]);
        assert_ne!(code, 0, "{url}: {printed}");
        assert!(printed.contains("<redacted>"), "{url}: {printed}");
        assert!(leaks("validate", printed.as_bytes()).is_empty(), "{url}: {printed}");
    }
}

const TOKEN: &str = "wabench-bearer-7f3a0c9d";
const PROXY_USER: &str = "wabench-proxyuser-51e0";
const PROXY_PASSWORD: &str = "wabench-proxypass-d41c77";
const VERIFY_TOKEN: &str = "wabench-verify-0b9e4a";
const API_KEY: &str = "wabench-apikey-c3d2e1";

/// One request as the echo server saw it: method, target, headers (lowercase names), and the
/// `user:password` of the tunnel's Proxy-Authorization, when the connection began with CONNECT.
struct Seen {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    proxy_pair: String,
}

impl Seen {
    fn header(&self, name: &str) -> String {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
    }

    /// Everything a hostile server could echo: every header, the target, the tunnel's credentials.
    fn everything(&self) -> String {
        let heads: Vec<String> = self.headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        format!(
            "{} {} [{}] proxy user {} see https://graph.example/v1/x?access_token={} and http://{}@h/",
            self.method,
            self.target,
            heads.join("; "),
            self.proxy_pair,
            self.header("authorization").trim_start_matches("Bearer "),
            self.proxy_pair
        )
    }
}

/// Read one request head (and skip its body) from `s`; `None` when the connection ends.
async fn read_request<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> Option<(String, String, Vec<(String, String)>)> {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 * 1024 || s.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; len.min(1 << 20)];
    s.read_exact(&mut body).await.ok()?;
    Some((method, target, headers))
}

/// A loopback server that is its own HTTP proxy (it grants CONNECT tunnels to itself) and answers
/// every request with `answer(seen)`: the tests' hostile Cloud API, proxy and webhook endpoint.
fn echo_everything(answer: fn(&Seen) -> (u16, String)) -> crate::support::loopback::LoopServer {
    use tokio::io::AsyncWriteExt;
    crate::support::loopback::spawn(std::time::Duration::from_secs(20), move |mut sock, requests| async move {
        let mut proxy_pair = String::new();
        while let Some((method, target, headers)) = read_request(&mut sock).await {
            requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if method == "CONNECT" {
                let auth = headers.iter().find(|(k, _)| k == "proxy-authorization").map(|(_, v)| v.as_str());
                proxy_pair = auth
                    .and_then(|a| a.strip_prefix("Basic "))
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                if sock.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await.is_err() {
                    return;
                }
                continue;
            }
            let seen = Seen { method, target, headers, proxy_pair: proxy_pair.clone() };
            let (status, body) = answer(&seen);
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            if sock.write_all(head.as_bytes()).await.is_err() || sock.write_all(body.as_bytes()).await.is_err() {
                return;
            }
        }
    })
}

/// Every spelling of the given secrets that must not leak (each, and its base64).
fn spellings(secrets: &[&str]) -> Vec<(String, Vec<u8>)> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    secrets
        .iter()
        .flat_map(|s| [(s.to_string(), s.as_bytes().to_vec()), (format!("base64 of {s}"), b64(s).into_bytes())])
        .collect()
}

/// Where any spelling of `secrets` appears in `printed` or in a file under `dir`.
fn found_in(secrets: &[&str], printed: &str, dir: &Path) -> Vec<String> {
    let hay = |what: String, bytes: &[u8]| {
        spellings(secrets)
            .into_iter()
            .filter(|(_, n)| bytes.windows(n.len()).any(|w| w == n.as_slice()))
            .map(move |(name, _)| format!("{what} holds {name}"))
            .collect::<Vec<_>>()
    };
    let mut found = hay("the output".into(), printed.as_bytes());
    for f in files_under(dir) {
        found.extend(hay(f.display().to_string(), &std::fs::read(&f).unwrap()));
    }
    found
}

fn wabench_with(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let (code, out, err) = crate::support::common::wabench_env(args, env);
    (code, format!("{out}\n--- stderr ---\n{err}"))
}

#[test]
fn a_cloud_api_and_proxy_echoing_the_token_and_proxy_password_leak_nothing() {
    // Every send is refused with code 100, its error text quoting all the request carried.
    let s = echo_everything(|seen| {
        let body = serde_json::json!({"error": {
            "message": format!("(#100) Invalid parameter: {}", seen.everything()),
            "type": "OAuthException", "code": 100,
            "error_data": {"details": seen.everything()}, "fbtrace_id": "AbC"}});
        (400, body.to_string())
    });
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.toml");
    std::fs::write(
        &p,
        format!(
            "name = \"echo-cloud\"\n[load]\nrate = 10\nduration = \"1s\"\nconnections = 2\n[[targets]]\nname = \"wa\"\n\
             kind = \"cloud\"\nbase_url = \"http://{0}\"\nphone_number_id = \"100000000000001\"\ntoken_env = \"WABENCH_T_TOKEN\"\n\
             proxy = \"http://{PROXY_USER}:{PROXY_PASSWORD}@{0}\"\n",
            s.addr
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let (code, printed) = wabench_with(
        &["run", p.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"],
        &[("WABENCH_T_TOKEN", TOKEN)],
    );
    assert!(code == 0 || code == 99, "the run completes: {printed}");
    let samples = std::fs::read_to_string(out.join("error_samples.json")).expect("an error sample is kept");
    assert!(samples.contains("Invalid parameter") && samples.contains("<redacted>"), "{samples}");
    let failures = std::fs::read_to_string(out.join("failures.csv")).expect("the refused sends are listed");
    assert_eq!(failures.lines().filter(|l| l.contains(",100,400,at_send,")).count(), 10, "{failures}");
    let found = found_in(&[TOKEN, PROXY_PASSWORD, &format!("{PROXY_USER}:{PROXY_PASSWORD}")], &printed, &out);
    assert!(found.is_empty(), "{found:#?}\n{printed}");
    assert!(s.requests.load(std::sync::atomic::Ordering::Relaxed) >= 10, "the sends went through the proxy");
}

/// A webhook target's profile against `addr`, its URL carrying an access token, its secrets from the
/// environment.
fn hook_profile(dir: &Path, addr: SocketAddr) -> PathBuf {
    let p = dir.join("p.toml");
    std::fs::write(
        &p,
        format!(
            "name = \"echo-hook\"\n[load]\nrate = 10\nduration = \"1s\"\nconnections = 2\n[[targets]]\nname = \"hook\"\n\
             kind = \"webhook\"\nurl = \"http://{addr}/hook?access_token={URL_TOKEN}\"\n\
             headers_from_env = {{ \"X-Api-Key\" = \"WABENCH_T_KEY\" }}\n[targets.webhook]\n\
             app_secret_env = \"WABENCH_T_APP_SECRET\"\nverify_token_env = \"WABENCH_T_VERIFY\"\n"
        ),
    )
    .unwrap();
    p
}

const HOOK_ENV: [(&str, &str); 3] =
    [("WABENCH_T_APP_SECRET", PASSWORD), ("WABENCH_T_VERIFY", VERIFY_TOKEN), ("WABENCH_T_KEY", API_KEY)];

#[test]
fn a_webhook_endpoint_echoing_its_credentials_leaks_nothing() {
    // The handshake is answered 200 with everything the request carried instead of the challenge.
    let s = echo_everything(|seen| (200, seen.everything()));
    let dir = tempfile::tempdir().unwrap();
    let p = hook_profile(dir.path(), s.addr);
    let out = dir.path().join("out");
    let (code, printed) = wabench_with(&["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()], &HOOK_ENV);
    assert_ne!(code, 0, "{printed}");
    assert!(printed.contains("handshake") && printed.contains("not the challenge"), "{printed}");
    let found = found_in(&[URL_TOKEN, VERIFY_TOKEN, API_KEY, PASSWORD], &printed, &out);
    assert!(found.is_empty(), "{found:#?}\n{printed}");

    // The handshake passes; every POST is refused with 401 quoting all it carried.
    let s = echo_everything(|seen| match seen.method.as_str() {
        "GET" => {
            let challenge = seen.target.split(['?', '&']).find_map(|p| p.strip_prefix("hub.challenge=")).unwrap_or("");
            (200, challenge.to_string())
        }
        _ => (401, format!("{{\"error\":\"denied {}\"}}", seen.everything())),
    });
    let p = hook_profile(dir.path(), s.addr);
    let out = dir.path().join("out2");
    let (code, printed) =
        wabench_with(&["run", p.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"], &HOOK_ENV);
    assert!(code == 0 || code == 99, "{printed}");
    let run = wabench::results::read_run(&out).unwrap();
    assert_eq!(run.targets[0].outcomes.iter().find(|o| o.key == "http_401").map(|o| o.count), Some(10), "{printed}");
    let found = found_in(&[URL_TOKEN, VERIFY_TOKEN, API_KEY, PASSWORD], &printed, &out);
    assert!(found.is_empty(), "{found:#?}\n{printed}");
}
