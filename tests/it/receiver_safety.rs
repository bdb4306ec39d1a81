//! The receiver's promises under faults and hostile clients: a 200 means the webhook's statuses are
//! recorded (a failed write is answered 503, so the sender delivers it again), body memory is bounded
//! across connections, and the connection cap holds.

use std::collections::BTreeSet;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use wabench::webhook::{
    IdentityCounts, ReceiverConfig, Sink, Status, StatusKind, Tracker, cloud_envelope, serve_with, sign, spawn_local,
};

const SECRET: &[u8] = b"safety-secret";

fn body_of(id: &str) -> Vec<u8> {
    let s = Status::new(id, StatusKind::Delivered, 1_700_000_000, "1555");
    serde_json::to_vec(&cloud_envelope("1", "2", "3", vec![s])).unwrap()
}

/// One signed POST on its own connection; the status code, or 0 when no answer came.
async fn post(addr: SocketAddr, body: &[u8]) -> u16 {
    let sig = sign(SECRET, body);
    let head = format!(
        "POST /webhook HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nx-hub-signature-256: {sig}\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let exchange = async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        s.write_all(head.as_bytes()).await.ok()?;
        s.write_all(body).await.ok()?;
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).await.ok()?;
        let line = String::from_utf8_lossy(&answer[..answer.len().min(12)]).into_owned();
        line.strip_prefix("HTTP/1.1 ")?.parse::<u16>().ok()
    };
    tokio::time::timeout(Duration::from_secs(20), exchange).await.ok().flatten().unwrap_or(0)
}

/// A sink whose flushes fail while `failing` is set: statuses given since the last flush are kept
/// only when it succeeds.
#[derive(Default)]
struct FlakySink {
    failing: AtomicBool,
    staged: Mutex<Vec<String>>,
    kept: Mutex<BTreeSet<String>>,
    flushes: AtomicU64,
}

impl Sink for FlakySink {
    fn status(&self, status: &Status, _: Instant) {
        self.staged.lock().unwrap().push(status.id.clone());
    }
    fn inbound(&self, _: u64) {}
    fn identities(&self, _: &IdentityCounts) {}
    fn flush(&self) -> std::io::Result<()> {
        let staged = std::mem::take(&mut *self.staged.lock().unwrap());
        // Fail on cue: every other group of flushes while set.
        let n = self.flushes.fetch_add(1, Ordering::Relaxed);
        if self.failing.load(Ordering::Relaxed) && n.is_multiple_of(2) {
            return Err(std::io::Error::new(std::io::ErrorKind::StorageFull, "no space left (on cue)"));
        }
        self.kept.lock().unwrap().extend(staged);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_200_has_its_record_and_a_failed_write_is_answered_503() {
    let sink = Arc::new(FlakySink::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cfg = ReceiverConfig { app_secret: Some(SECRET.to_vec()), ..ReceiverConfig::default() };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with(listener, cfg, sink.clone(), None, async {
        let _ = stopped.await;
    }));

    let mut answers = Vec::new();
    for round in 0..3 {
        // Writes fail on cue in the middle round.
        sink.failing.store(round == 1, Ordering::Relaxed);
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..150 {
            let id = format!("wamid.r{round}.{i}");
            tasks.spawn(async move { (post(addr, &body_of(&id)).await, id) });
        }
        while let Some(r) = tasks.join_next().await {
            answers.push(r.unwrap());
        }
    }
    let _ = stop.send(());
    let counters = server.await.unwrap().unwrap();

    let kept = sink.kept.lock().unwrap().clone();
    let ok: Vec<&String> = answers.iter().filter(|(c, _)| *c == 200).map(|(_, id)| id).collect();
    let refused: Vec<&String> = answers.iter().filter(|(c, _)| *c == 503).map(|(_, id)| id).collect();
    assert_eq!(ok.len() + refused.len(), answers.len(), "only 200 and 503: {answers:?}");
    for id in &ok {
        assert!(kept.contains(*id), "{id} was answered 200 but not recorded");
    }
    for id in &refused {
        assert!(!kept.contains(*id), "{id} was answered 503 although recorded");
    }
    assert!(!refused.is_empty(), "the failing writes were answered 503");
    assert!(refused.iter().all(|id| id.starts_with("wamid.r1.")), "only while writes failed");
    assert!(ok.iter().any(|id| id.starts_with("wamid.r2.")), "recording resumes when writes succeed again");
    assert_eq!(counters.write_failed, refused.len() as u64);
    assert_eq!(counters.received, ok.len() as u64);
}

/// `wabench receive` on a file that cannot grow past a few KiB (the process's file-size limit,
/// a disk that fills up): the webhooks whose statuses did not fit are answered 503, every 200 is
/// in the file, the file holds only whole lines, the failure is logged once and told in the summary.
#[test]
fn a_receiver_whose_disk_fills_answers_503_and_every_200_is_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("recv");
    // The size limit is in 512-byte blocks; SIGXFSZ is ignored so a write past it fails (EFBIG).
    let (mut child, addr) = receiver_under("trap '' XFSZ; ulimit -f 16", "--no-signature", &out, &[]);

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let answers: Vec<(u16, String)> = rt.block_on(async {
        let mut answers = Vec::new();
        for chunk in 0..10 {
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..40 {
                let id = format!("wamid.disk{chunk}x{i:03}");
                tasks.spawn(async move { (post(addr, &body_of(&id)).await, id) });
            }
            while let Some(r) = tasks.join_next().await {
                answers.push(r.unwrap());
            }
        }
        answers
    });
    let status = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let done = child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(!done.success(), "write failures make the exit status a failure: {stderr}");

    let ok: BTreeSet<&str> = answers.iter().filter(|(c, _)| *c == 200).map(|(_, id)| id.as_str()).collect();
    let refused = answers.iter().filter(|(c, _)| *c == 503).count();
    assert_eq!(ok.len() + refused, answers.len(), "only 200 and 503: {answers:?}");
    assert!(refused > 0 && !ok.is_empty(), "{} ok, {refused} refused", ok.len());

    let rec = wabench::app::receive::recorded(&out).unwrap();
    let records: Vec<String> = wabench::webhook::record::read_statuses(&rec.statuses[0])
        .unwrap()
        .map(|r| r.expect("only whole lines in the file").id)
        .collect();
    let on_disk: BTreeSet<&str> = records.iter().map(String::as_str).collect();
    for id in &ok {
        assert!(on_disk.contains(id), "{id} was answered 200 but is not in the file");
    }
    assert!(std::fs::metadata(&rec.statuses[0]).unwrap().len() <= 16 * 512);

    let summary_path = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("receiver-"))
        .expect("the summary is written despite the failed writes");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(summary_path).unwrap()).unwrap();
    assert_eq!(summary["requests"]["write_failed"].as_u64(), Some(refused as u64), "{summary}");
    assert_eq!(summary["requests"]["received"].as_u64(), Some(ok.len() as u64), "{summary}");
    assert_eq!(summary["statuses_recorded"].as_u64(), Some(records.len() as u64), "{summary}");
    assert!(summary["write_error"].as_str().is_some_and(|e| e.contains("large")), "{summary}");
    // Once per run of failures: a smaller group may still fit after a failed one ("recording statuses
    // again"), and the next failure starts a new run.
    let (failing, again) =
        (stderr.matches("cannot record statuses").count(), stderr.matches("recording statuses again").count());
    assert!(failing >= 1 && (failing == again || failing == again + 1), "logged once per run of failures: {stderr}");
}

/// `wabench receive` (with `args`, recording to `out`) started by a shell under `limits` (e.g.
/// `ulimit -n 64`), and the address it listens on, read from its first line.
fn receiver_under(
    limits: &str,
    args: &str,
    out: &std::path::Path,
    env: &[(&str, &str)],
) -> (std::process::Child, SocketAddr) {
    let bin = env!("CARGO_BIN_EXE_wabench");
    let script = format!("{limits}; exec {bin} receive --listen 127.0.0.1:0 {args} --out {}", out.display());
    let mut child = std::process::Command::new("sh")
        .args(["-c", &script])
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.as_mut().unwrap()), &mut line).unwrap();
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).expect("the listening line");
    let addr: SocketAddr = url.trim_start_matches("http://").trim_end_matches("/webhook").parse().unwrap();
    (child, addr)
}

/// Starts a request with a body of `declared` bytes, sends `sent` of them and stalls.
async fn stall(addr: SocketAddr, declared: usize, sent: usize) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let junk = format!("sha256={}", "0".repeat(64));
    let head = format!(
        "POST /webhook HTTP/1.1\r\nhost: x\r\nx-hub-signature-256: {junk}\r\ncontent-length: {declared}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&vec![b' '; sent]).await.unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_large_bodies_cannot_take_more_than_the_budget_and_small_webhooks_still_pass() {
    let cfg = ReceiverConfig {
        app_secret: Some(SECRET.to_vec()),
        max_body_bytes: 256 * 1024,
        body_budget: 1024 * 1024,
        ..ReceiverConfig::default()
    };
    let h = spawn_local(cfg, Tracker::default()).await.unwrap();
    // Twenty clients each send 200 KiB of a 256 KiB body and stall: at most the budget's worth
    // of them is read; the others are refused (503) after a short wait.
    let mut stalled = Vec::new();
    for _ in 0..20 {
        stalled.push(stall(h.addr, 256 * 1024, 200 * 1024).await);
    }
    let until = Instant::now() + Duration::from_secs(20);
    while h.counters().over_budget < 10 {
        assert!(Instant::now() < until, "the budget held: {:?}", h.counters());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Meanwhile, small signed webhooks are answered 200 at once.
    for i in 0..20 {
        let started = Instant::now();
        assert_eq!(post(h.addr, &body_of(&format!("wamid.small{i}"))).await, 200);
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }
    let c = h.counters();
    assert!(c.over_budget >= 10 && c.over_budget <= 20, "{c:?}");
    assert_eq!(c.received, 20);
    drop(stalled);
    assert_eq!(c.statuses, 20);
    h.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_signature_is_refused_before_the_body_is_read() {
    let cfg = ReceiverConfig { app_secret: Some(SECRET.to_vec()), ..ReceiverConfig::default() };
    let h = spawn_local(cfg, Tracker::default()).await.unwrap();
    let mut s = TcpStream::connect(h.addr).await.unwrap();
    s.write_all(
        b"POST /webhook HTTP/1.1\r\nhost: x\r\nx-hub-signature-256: sha1=abc\r\ncontent-length: 500000\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await.expect("answered at once").unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 403"), "{}", String::from_utf8_lossy(&buf[..n]));
    assert_eq!(h.counters().bad_signature, 1);
    h.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_cap_new_connections_wait_until_one_closes() {
    let cfg = ReceiverConfig { app_secret: Some(SECRET.to_vec()), max_connections: 4, ..ReceiverConfig::default() };
    let h = spawn_local(cfg, Tracker::default()).await.unwrap();
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(stall(h.addr, 1000, 10).await);
    }
    let addr = h.addr;
    let waiting = tokio::spawn(async move { post(addr, &body_of("wamid.after-cap")).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "a fifth connection is not served while four are open");
    assert_eq!(h.counters().connection_cap, 1);
    held.pop();
    assert_eq!(tokio::time::timeout(Duration::from_secs(10), waiting).await.unwrap().unwrap(), 200);
    drop(held);
    assert_eq!(h.counters().received, 1);
    h.stop().await.unwrap();
}

/// `wabench receive` with 64 file descriptors: idle connections do not stop it serving signed
/// webhooks while descriptors are left; when more clients connect than it can hold, the cap waits
/// (logged once), and once they go every webhook is answered 200 and recorded.
#[test]
fn a_receiver_short_of_file_descriptors_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("recv");
    let secret = std::str::from_utf8(SECRET).unwrap();
    let (mut child, addr) = receiver_under("ulimit -n 64", "--threads 1", &out, &[("WABENCH_APP_SECRET", secret)]);

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let answers: Vec<(u16, String)> = rt.block_on(async {
        let mut answers = Vec::new();
        // A few idle clients: the webhook is answered without waiting for them to be cut (30 s).
        let mut idle = Vec::new();
        for _ in 0..8 {
            idle.push(TcpStream::connect(addr).await.unwrap());
        }
        let id = "wamid.fd-beside-idle".to_string();
        let code = tokio::time::timeout(Duration::from_secs(10), post(addr, &body_of(&id))).await;
        answers.push((code.expect("answered beside 8 idle connections, not after they are cut"), id));
        // More idle clients than descriptors (within the listen backlog): a webhook waits for them.
        for _ in 0..120 {
            idle.push(TcpStream::connect(addr).await.unwrap());
        }
        let waiting = tokio::spawn(async move { post(addr, &body_of("wamid.fd-queued")).await });
        drop(idle);
        answers.push((waiting.await.unwrap(), "wamid.fd-queued".into()));
        for i in 0..20 {
            let id = format!("wamid.fd-after{i}");
            answers.push((post(addr, &body_of(&id)).await, id));
        }
        answers
    });
    let status = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let done = child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(done.success(), "{stderr}");
    assert!(answers.iter().all(|(c, _)| *c == 200), "{answers:?}\n{stderr}");
    let rec = wabench::app::receive::recorded(&out).unwrap();
    let on_disk: BTreeSet<String> =
        wabench::webhook::record::read_statuses(&rec.statuses[0]).unwrap().map(|r| r.unwrap().id).collect();
    for (_, id) in &answers {
        assert!(on_disk.contains(id), "{id} was answered 200 but is not in the file");
    }
    assert_eq!(stderr.matches("connection cap reached").count(), 1, "logged once: {stderr}");
    assert!(!stderr.contains("cannot accept"), "the cap keeps descriptors for the records: {stderr}");
}
