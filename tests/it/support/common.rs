//! A small loopback HTTP server for the end-to-end tests (served by `loopback`): fixed JSON answers
//! (or the request path echoed), optional delay, optional periodic stalls, an HTTP/2 (h2c) mode and a
//! mode that accepts connections and never answers; and the `wabench` binary run as a child process.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use super::loopback::{self, LoopServer};

#[derive(Clone, Debug, Default)]
pub struct Behaviour {
    /// Added to every response.
    pub delay: Duration,
    /// Every `period`, answers are held until `stall` into the period has passed.
    pub stall: Option<(Duration, Duration)>,
    /// Status code of every answer (default 200).
    pub status: Option<u16>,
    /// Accept and read requests, never answer.
    pub silent: bool,
    pub http2: bool,
    /// Answer with the request's path and query as the body instead of `{"ok":true}`.
    pub echo_path: bool,
    /// Listen here instead of 127.0.0.1:0 (a loopback address).
    pub bind: Option<SocketAddr>,
}

pub struct Server {
    pub addr: SocketAddr,
    pub hits: Arc<AtomicU64>,
    /// Connections accepted.
    pub accepts: Arc<AtomicU64>,
    /// Most requests seen in flight at once on one connection (HTTP/2 streams).
    pub max_per_connection: Arc<AtomicU64>,
    _server: LoopServer,
}

/// No connection is served longer than this (far longer than any test's run).
const CONNECTION_LIMIT: Duration = Duration::from_secs(300);

/// Start a server on 127.0.0.1:0 (or `b.bind`) in its own thread; returns once it is listening.
pub fn start(b: Behaviour) -> Server {
    let at = b.bind.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let max_per_connection = Arc::new(AtomicU64::new(0));
    let max_seen = max_per_connection.clone();
    let epoch = Instant::now();
    let server = loopback::spawn_on(at, CONNECTION_LIMIT, move |sock, hits| {
        serve(sock, b.clone(), hits, max_seen.clone(), epoch)
    });
    let (addr, hits, accepts) = (server.addr, server.requests.clone(), server.accepted.clone());
    Server { addr, hits, accepts, max_per_connection, _server: server }
}

/// Serve one connection as `b` says, counting its requests in `hits` and the most in flight at once
/// in `max_seen`; stalls are timed from `epoch`.
async fn serve(sock: TcpStream, b: Behaviour, hits: Arc<AtomicU64>, max_seen: Arc<AtomicU64>, epoch: Instant) {
    let _ = sock.set_nodelay(true);
    let in_flight = Arc::new(AtomicU64::new(0));
    let h2 = b.http2;
    let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
        let (b, h) = (b.clone(), hits.clone());
        let (in_flight, max_seen) = (in_flight.clone(), max_seen.clone());
        async move {
            h.fetch_add(1, Ordering::Relaxed);
            let now = in_flight.fetch_add(1, Ordering::Relaxed) + 1;
            max_seen.fetch_max(now, Ordering::Relaxed);
            let _leave = Leave(in_flight);
            let echoed =
                b.echo_path.then(|| Bytes::from(req.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned()));
            drop(req);
            if b.silent {
                std::future::pending::<()>().await;
            }
            if let Some((period, stall)) = b.stall {
                let t = epoch.elapsed();
                let into = Duration::from_nanos((t.as_nanos() % period.as_nanos()) as u64);
                if into < stall {
                    tokio::time::sleep(stall - into).await;
                }
            }
            if !b.delay.is_zero() {
                tokio::time::sleep(b.delay).await;
            }
            let body = echoed.unwrap_or_else(|| Bytes::from_static(b"{\"ok\":true}"));
            let mut r = Response::new(Full::new(body));
            *r.status_mut() = hyper::StatusCode::from_u16(b.status.unwrap_or(200)).unwrap();
            Ok::<_, Infallible>(r)
        }
    });
    let io = TokioIo::new(sock);
    if h2 {
        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new()).serve_connection(io, svc).await;
    } else {
        let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, svc).await;
    }
}

/// Counts a request out of its connection's in-flight gauge when its answer is made (or dropped).
struct Leave(Arc<AtomicU64>);

impl Drop for Leave {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Write a profile into `dir` and return its path.
pub fn profile(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("profile.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// Run the `wabench` binary built for these tests; exit code, stdout and stderr.
pub fn wabench(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wabench")).args(args).output().expect("run wabench");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// `wabench merge PARTS --out OUT` through the binary, which must succeed; the merged run.
pub fn merge(parts: &[std::path::PathBuf], out: &std::path::Path) -> wabench::results::Run {
    let mut args: Vec<&str> = vec!["merge"];
    args.extend(parts.iter().map(|p| p.to_str().unwrap()));
    args.extend(["--out", out.to_str().unwrap()]);
    let (code, _, err) = wabench(&args);
    assert_eq!(code, 0, "{err}");
    wabench::results::read_run(out).unwrap()
}

/// Run the `wabench` binary with environment variables set; exit code, stdout and stderr.
pub fn wabench_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_wabench"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run wabench");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// Run profile `text` in-process from a temporary folder holding `files` (name, contents) beside it;
/// the run must end without an error. Returns the run.
pub fn run_in_tempdir(text: &str, files: &[(&str, &str)]) -> wabench::results::Run {
    use wabench::app::run::{Options, run_profile};
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in files {
        std::fs::write(dir.path().join(name), body).unwrap();
    }
    let path = dir.path().join("p.toml");
    std::fs::write(&path, text).unwrap();
    let loaded = wabench::spec::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let rx = wabench::Shutdown::new();
    let f =
        run_profile(&loaded, &Options { out: Some(dir.path().join("out")), ..Options::new(dir.path()) }, rx).unwrap();
    assert!(f.error.is_none(), "{:?}", f.error);
    f.run
}

/// Run the profile `text` in a new temporary folder holding `files` (name, bytes) beside it, results in
/// its `out`; the run must end by itself within `guard` and without an error.
pub fn run_guarded(
    text: &str,
    files: &[(&str, &[u8])],
    guard: std::time::Duration,
) -> (wabench::app::run::Finished, tempfile::TempDir) {
    use wabench::app::run::{Options, run_profile};
    let dir = tempfile::tempdir().unwrap();
    let path = profile(dir.path(), text);
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let loaded = wabench::spec::load(&path).expect("valid profile");
    let opts = Options { out: Some(dir.path().join("out")), ..Options::new(dir.path()) };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let stop_rx = wabench::Shutdown::new();
        let _ = tx.send(run_profile(&loaded, &opts, stop_rx));
    });
    let f = rx.recv_timeout(guard).expect("the run ended by itself").expect("run");
    assert!(f.error.is_none(), "{:?}", f.error);
    (f, dir)
}
