//! Credentials never shown, whatever a server sends back: a hostile On-Premises login server that
//! echoes everything it got (the Basic header, the decoded `user:password`, the URL) into its error
//! `details`; a target URL carrying `?access_token=…`; a URL refused for its userinfo whose password
//! holds a `/`. The secrets reach the server, and never stderr, stdout, run.json or report.html.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

const USER: &str = "wabench-user-4c7d";
const PASSWORD: &str = "wabench-pass-9e2f1a";
const URL_TOKEN: &str = "wabench-urltoken-b81c55";

/// A loopback server: `/v1/users/login` is refused with 401 and `details` echoing the request's
/// Authorization header, its decoded credentials and its URL; anything else is answered 200. Every
/// request's URI is kept.
fn echo_server() -> (SocketAddr, Arc<Mutex<Vec<String>>>, tokio::sync::oneshot::Sender<()>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(l).unwrap();
            loop {
                let sock = tokio::select! {
                    _ = &mut rx => break,
                    r = listener.accept() => match r { Ok((s, _)) => s, Err(_) => continue },
                };
                let s = s.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
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
                        async move { Ok::<_, Infallible>(r) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(sock), svc).await;
                });
            }
        });
    });
    (addr, seen, tx)
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
    let (addr, seen, _stop) = echo_server();
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
    for f in files_under(&out) {
        found.extend(leaks(&f.display().to_string(), &std::fs::read(&f).unwrap()));
    }
    assert!(found.is_empty(), "{found:#?}\n{printed}");
    assert!(seen.lock().unwrap().iter().any(|u| u == "/v1/users/login"), "the server was asked");
}

#[test]
fn an_access_token_in_a_url_reaches_the_target_and_nothing_else() {
    let (addr, seen, _stop) = echo_server();
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
    for f in &files {
        found.extend(leaks(&f.display().to_string(), &std::fs::read(f).unwrap()));
    }
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
