//! At most once, under faults: a loopback server that misbehaves in one chosen way (close after the
//! head, after the whole request, reset mid-body, cut answers, stalls, garbage, endless interim
//! answers, unannounced idle closes …) counts every request it receives. Each test asserts exact
//! counts: what the server saw equals what was planned plus what wabench says it resent, and every
//! request ends in the outcome its fault calls for. A written request that got no answer is never
//! sent again unless the profile asks.

use crate::support::common;
use crate::support::loopback::{self, LoopServer};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wabench::app::run::Finished;

/// A run that has not ended after this long is hung; every plan here takes a few seconds at most.
const HANG_GUARD: Duration = Duration::from_secs(60);
/// No connection task lives longer than this.
const TASK_LIMIT: Duration = Duration::from_secs(20);
/// The body every POST carries (large enough to be cut in the middle).
const BODY_BYTES: usize = 256 * 1024;

/// What the server does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// Read a request's head, then close without reading its body or answering.
    CloseAfterHead,
    /// Read the whole request, then close without answering.
    CloseAfterRequest,
    /// Read the head and part of the body, then reset the connection (linger 0).
    ResetMidBody,
    /// Answer a head promising 100 bytes, send 10, close.
    HeadThenClose,
    /// A chunked answer cut in the middle of a chunk.
    ChunkedCut,
    /// Read the request, never answer (until the connection is closed).
    Stall,
    /// The status line one byte every 100 ms.
    Trickle,
    /// A status line that is not HTTP.
    GarbageStatus,
    /// `100 Continue` answers, one after the other, never a final one.
    Endless1xx,
    /// Answer 200 with `Connection: close`, then close.
    ConnectionClose,
    /// Answer as HTTP/1.0 (no keep-alive), then close.
    Http10,
    /// Answer 200 keeping the connection, then close it once it has been idle 20 ms, unannounced.
    IdleClose,
    /// Answer, but read every third request in full and close without answering.
    EveryThirdClose,
}

/// A fault server: `handle` serves each connection (bounded by [`TASK_LIMIT`]).
fn spawn<F, Fut>(handle: F) -> LoopServer
where
    F: Fn(TcpStream, Arc<AtomicU64>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    loopback::spawn(TASK_LIMIT, handle)
}

fn serve(fault: Fault) -> LoopServer {
    spawn(move |sock, seen| async move { connection(sock, fault, &seen).await })
}

/// Read up to the end of a request head into `buf`; the head's length and its Content-Length.
async fn read_head(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(usize, usize)> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            return Some((i + 4, len));
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Read the rest of a request whose head is `head` bytes with a body of `len`, and drop it from `buf`.
async fn read_body(s: &mut TcpStream, buf: &mut Vec<u8>, head: usize, len: usize) -> bool {
    let mut chunk = [0u8; 64 * 1024];
    while buf.len() < head + len {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    buf.drain(..head + len);
    true
}

async fn write(s: &mut TcpStream, bytes: &[u8]) -> bool {
    s.write_all(bytes).await.is_ok() && s.flush().await.is_ok()
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}";

async fn connection(mut s: TcpStream, fault: Fault, seen: &AtomicU64) {
    let _ = s.set_nodelay(true);
    let mut buf = Vec::new();
    // Bounded: no connection serves more than this many requests.
    for _ in 0..10_000 {
        let Some((head, len)) = read_head(&mut s, &mut buf).await else { return };
        match fault {
            Fault::CloseAfterHead => {
                seen.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Fault::ResetMidBody => {
                seen.fetch_add(1, Ordering::Relaxed);
                // Some of the body, not all of it.
                let mut chunk = [0u8; 1024];
                let _ = s.read(&mut chunk).await;
                let _ = s.set_zero_linger();
                return;
            }
            _ => {}
        }
        if !read_body(&mut s, &mut buf, head, len).await {
            return;
        }
        let n = seen.fetch_add(1, Ordering::Relaxed) + 1;
        match fault {
            Fault::CloseAfterHead | Fault::ResetMidBody => unreachable!("handled above"),
            Fault::CloseAfterRequest => return,
            Fault::HeadThenClose => {
                let _ = write(&mut s, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789").await;
                return;
            }
            Fault::ChunkedCut => {
                let _ = write(&mut s, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n01234").await;
                return;
            }
            Fault::Stall => {
                // Until the client gives up and closes.
                let mut chunk = [0u8; 1024];
                while matches!(s.read(&mut chunk).await, Ok(n) if n > 0) {}
                return;
            }
            Fault::Trickle => {
                for b in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" {
                    if !write(&mut s, &[*b]).await {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                return;
            }
            Fault::GarbageStatus => {
                let _ = write(&mut s, b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n").await;
                return;
            }
            Fault::Endless1xx => {
                for _ in 0..1000 {
                    if !write(&mut s, b"HTTP/1.1 100 Continue\r\n\r\n").await {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                return;
            }
            Fault::ConnectionClose => {
                let _ = write(&mut s, b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok").await;
                return;
            }
            Fault::Http10 => {
                let _ = write(&mut s, b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
                return;
            }
            Fault::IdleClose => {
                if !write(&mut s, OK).await {
                    return;
                }
                // Idle 20 ms with nothing read: closed, as a keep-alive timeout would.
                let mut chunk = [0u8; 16 * 1024];
                match tokio::time::timeout(Duration::from_millis(20), s.read(&mut chunk)).await {
                    Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                    _ => return,
                }
            }
            Fault::EveryThirdClose => {
                if n.is_multiple_of(3) {
                    return;
                }
                if !write(&mut s, OK).await {
                    return;
                }
            }
        }
    }
}

/// Run `text` (with `body.bin` and `token.txt` beside it) with a guard against hangs.
fn run(text: &str) -> (Finished, tempfile::TempDir) {
    let body = vec![b'x'; BODY_BYTES];
    common::run_guarded(text, &[("body.bin", &body), ("token.txt", b"fault-test-token\n")], HANG_GUARD)
}

/// An open-loop HTTP profile: `n` POSTs of `body.bin` over one second on `conns` connections.
fn http_profile(addr: SocketAddr, n: u32, conns: u32, extra: &str) -> String {
    format!(
        "name = \"faults\"\n[load]\nrate = {n}\nduration = \"1s\"\nconnections = {conns}\ntimeout = \"500ms\"\n\
         [[targets]]\nname = \"t\"\nkind = \"http\"\nurl = \"http://{addr}/send\"\nmethod = \"POST\"\n\
         body_file = \"body.bin\"\n{extra}"
    )
}

fn outcomes(f: &Finished) -> BTreeMap<String, u64> {
    f.run.targets[0].outcomes.iter().map(|o| (o.key.clone(), o.count)).collect()
}

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().filter(|(_, n)| *n > 0).map(|(k, n)| (k.to_string(), *n)).collect()
}

/// Run `fault` with `n` planned requests on `conns` connections; the server must have seen each
/// exactly once (nothing resent), and the outcomes be `want`.
fn check(fault: Fault, n: u32, conns: u32, want: &[(&str, u64)]) -> Finished {
    let server = serve(fault);
    let (f, dir) = run(&http_profile(server.addr, n, conns, ""));
    let t = &f.run.targets[0];
    let seen = server.requests.load(Ordering::Relaxed);
    assert_eq!(t.requests.sent, u64::from(n), "{fault:?}: every planned request is sent: {:?}", t.outcomes);
    assert_eq!(t.requests.resent, 0, "{fault:?}: nothing is resent unasked");
    assert_eq!(seen, u64::from(n) + t.requests.resent, "{fault:?}: the server saw each request once");
    assert_eq!(outcomes(&f), counts(want), "{fault:?}");
    let r = &t.requests;
    assert_eq!(r.ok + r.errors, r.sent + r.retries, "{fault:?}: every attempt ends in one outcome");
    let ambiguous: u64 = want.iter().filter(|(k, _)| wabench::results::is_ambiguous_key(k)).map(|(_, n)| n).sum();
    assert_eq!(r.ambiguous, ambiguous, "{fault:?}: attempts with an unknown fate");
    let listed = std::fs::read_to_string(dir.path().join("out").join("t.ambiguous.csv")).unwrap_or_default();
    assert_eq!(listed.lines().skip(1).count() as u64, ambiguous, "{fault:?}: each is listed");
    drop(server);
    f
}

#[test]
fn a_request_closed_after_its_head_is_not_sent_again() {
    check(Fault::CloseAfterHead, 20, 4, &[("closed_after_send", 20)]);
}

#[test]
fn a_request_read_and_left_unanswered_is_an_outcome_not_a_retry() {
    check(Fault::CloseAfterRequest, 20, 4, &[("closed_after_send", 20)]);
}

#[test]
fn a_reset_in_the_middle_of_the_body_is_not_sent_again() {
    check(Fault::ResetMidBody, 20, 4, &[("closed_after_send", 20)]);
}

#[test]
fn answers_cut_short_are_broken_answers() {
    check(Fault::HeadThenClose, 20, 4, &[("io_error", 20)]);
    check(Fault::ChunkedCut, 20, 4, &[("io_error", 20)]);
    check(Fault::GarbageStatus, 20, 4, &[("io_error", 20)]);
    check(Fault::Endless1xx, 20, 4, &[("io_error", 20)]);
}

#[test]
fn stalled_and_trickled_answers_time_out_once() {
    // Enough connections that none waits for another's timeout.
    check(Fault::Stall, 10, 10, &[("timeout", 10)]);
    check(Fault::Trickle, 10, 10, &[("timeout", 10)]);
}

#[test]
fn answers_that_close_their_connection_are_answers() {
    let f = check(Fault::ConnectionClose, 20, 1, &[("ok", 20)]);
    check(Fault::Http10, 20, 1, &[("ok", 20)]);
    assert_eq!(f.run.targets[0].requests.ambiguous, 0);
}

#[test]
fn an_idle_close_between_requests_is_found_before_writing() {
    // One connection, a request every 50 ms, the server closing it after 20 ms idle: each request
    // finds the connection closed before it writes, and goes on a new one: no resend, all answered.
    let server = serve(Fault::IdleClose);
    let (f, _d) = run(&http_profile(server.addr, 20, 1, ""));
    assert_eq!(outcomes(&f), counts(&[("ok", 20)]));
    assert_eq!(server.requests.load(Ordering::Relaxed), 20);
    assert_eq!(f.run.targets[0].requests.resent, 0);
    assert!(server.accepted.load(Ordering::Relaxed) >= 15, "new connections after the idle closes");
}

#[test]
fn every_third_request_closed_unanswered_shows_as_errors() {
    // The fault the product exists to find: a server that reads every third POST and closes. Each
    // planned request reaches it once; the unanswered ones are errors, never ok.
    let server = serve(Fault::EveryThirdClose);
    let (f, _d) = run(&http_profile(server.addr, 30, 1, "").replace("duration = \"1s\"", "duration = \"2s\""));
    let o = outcomes(&f);
    let t = &f.run.targets[0];
    assert_eq!(t.requests.sent, 60);
    assert_eq!(server.requests.load(Ordering::Relaxed), 60, "{o:?}");
    assert_eq!(o, counts(&[("ok", 40), ("closed_after_send", 20)]));
    assert_eq!((t.requests.resent, t.requests.ambiguous), (0, 20));
}

#[test]
fn an_idempotent_request_is_resent_when_the_profile_asks_and_counted() {
    let server = serve(Fault::EveryThirdClose);
    let text = http_profile(server.addr, 30, 1, "resend_unanswered = true\n")
        .replace("method = \"POST\"", "method = \"PUT\"")
        .replace("duration = \"1s\"", "duration = \"2s\"");
    let (f, _d) = run(&text);
    let t = &f.run.targets[0];
    let seen = server.requests.load(Ordering::Relaxed);
    assert!(t.requests.resent > 0, "{:?}", t.requests);
    assert_eq!(seen, 60 + t.requests.resent, "every resend counted");
    assert_eq!(t.requests.retries, t.requests.resent);
    // A resend is a new attempt: the server answers the ones it does not close.
    let o = outcomes(&f);
    assert_eq!(o.values().sum::<u64>(), 60 + t.requests.resent, "{o:?}");
}

#[test]
fn a_post_may_not_ask_to_be_resent() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::profile(
        dir.path(),
        "name = \"p\"\n[load]\nrate = 1\nduration = \"1s\"\n[[targets]]\nname = \"t\"\nkind = \"http\"\n\
         url = \"http://127.0.0.1:9/\"\nmethod = \"POST\"\nresend_unanswered = true\n",
    );
    let e = wabench::spec::load(&path).unwrap_err().to_string();
    assert!(e.contains("targets[0].resend_unanswered") && e.contains("idempotent"), "{e}");
}

/// A Cloud API profile against `addr` sending to three generated recipients.
fn cloud_profile(addr: SocketAddr, extra: &str) -> String {
    format!(
        "name = \"faults-cloud\"\n[load]\nrate = 12\nduration = \"1s\"\nconnections = 1\ntimeout = \"500ms\"\n\
         [recipients]\ncountry_code = \"1\"\ncount = 3\n\
         [[targets]]\nname = \"wa\"\nkind = \"cloud\"\nbase_url = \"http://{addr}\"\n\
         phone_number_id = \"100000000000001\"\ntoken_file = \"token.txt\"\n{extra}"
    )
}

#[test]
fn an_unanswered_whatsapp_send_is_ambiguous_and_its_recipient_listed() {
    let server = serve(Fault::CloseAfterRequest);
    let (f, dir) = run(&cloud_profile(server.addr, ""));
    let t = &f.run.targets[0];
    assert_eq!(server.requests.load(Ordering::Relaxed), 12, "never resent by default");
    assert_eq!((t.requests.ambiguous, t.requests.resent, t.requests.retries), (12, 0, 0));
    assert_eq!(outcomes(&f), counts(&[("closed_after_send", 12)]));
    let csv = std::fs::read_to_string(dir.path().join("out").join("wa.ambiguous.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("time_s,seq,attempt,outcome,recipient"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 12);
    let mut recipients: BTreeMap<&str, u32> = BTreeMap::new();
    for r in &rows {
        assert_eq!((r[2], r[3]), ("1", "closed_after_send"), "{r:?}");
        *recipients.entry(r[4]).or_default() += 1;
    }
    assert_eq!(recipients.len(), 3, "each of the three recipients: {recipients:?}");
    assert!(recipients.values().all(|n| *n == 4), "{recipients:?}");
}

#[test]
fn a_whatsapp_target_resends_an_unanswered_send_only_when_asked() {
    let server = serve(Fault::EveryThirdClose);
    let text =
        cloud_profile(server.addr, "resend_unanswered = true\n") + "[retry]\nmax_attempts = 2\nbackoff = \"10ms\"\n";
    let (f, _d) = run(&text);
    let t = &f.run.targets[0];
    assert!(t.requests.resent > 0, "{:?}", t.requests);
    assert_eq!(server.requests.load(Ordering::Relaxed), 12 + t.requests.resent);
}

/// What an HTTP/2 server does with each stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum H2Fault {
    /// Refuse every second stream with RST_STREAM(REFUSED_STREAM): it processed none of them.
    RefuseEverySecond,
    /// Reset every second stream with RST_STREAM(INTERNAL_ERROR) after reading it: it may have acted.
    ResetEverySecond,
    /// Read the first request, then reset the TCP connection (linger 0) without answering.
    DropConnection,
}

/// An HTTP/2 (prior knowledge, cleartext) server with `fault`; counts the requests it received.
fn serve_h2(fault: H2Fault) -> LoopServer {
    spawn(move |sock, seen| h2_connection(sock, fault, seen))
}

async fn h2_connection(sock: TcpStream, fault: H2Fault, seen: Arc<AtomicU64>) {
    if fault == H2Fault::DropConnection {
        // Closing the connection then resets it.
        let _ = sock.set_zero_linger();
    }
    let Ok(mut conn) = h2::server::handshake(sock).await else { return };
    while let Some(Ok((req, mut respond))) = conn.accept().await {
        let n = seen.fetch_add(1, Ordering::Relaxed) + 1;
        match fault {
            H2Fault::RefuseEverySecond if n.is_multiple_of(2) => respond.send_reset(h2::Reason::REFUSED_STREAM),
            H2Fault::ResetEverySecond if n.is_multiple_of(2) => respond.send_reset(h2::Reason::INTERNAL_ERROR),
            H2Fault::DropConnection => return,
            _ => {
                tokio::spawn(async move {
                    let mut body = req.into_body();
                    while let Some(Ok(chunk)) = body.data().await {
                        let _ = body.flow_control().release_capacity(chunk.len());
                    }
                    let resp = ::http::Response::builder().status(200).body(()).unwrap();
                    if let Ok(mut stream) = respond.send_response(resp, false) {
                        let _ = stream.send_data(bytes::Bytes::from_static(b"{\"ok\":true}"), true);
                    }
                });
            }
        }
    }
}

fn h2_profile(addr: SocketAddr) -> String {
    http_profile(addr, 20, 2, "http_version = \"2\"\n").replace("body_file = \"body.bin\"\n", "body = \"{}\"\n")
}

#[test]
fn an_http2_stream_the_server_refused_is_resent_and_counted() {
    let server = serve_h2(H2Fault::RefuseEverySecond);
    let (f, _d) = run(&h2_profile(server.addr));
    let t = &f.run.targets[0];
    let o = outcomes(&f);
    assert!(t.requests.resent > 0, "{o:?}");
    assert_eq!(server.requests.load(Ordering::Relaxed), 20 + t.requests.resent, "{o:?}");
    assert_eq!(o.values().sum::<u64>(), 20, "one outcome per request: {o:?}");
    // A resend refused again has no answer: the only other outcome.
    assert!(o.keys().all(|k| k == "ok" || k == "io_error"), "{o:?}");
}

#[test]
fn an_http2_stream_reset_after_it_was_read_is_not_resent() {
    let server = serve_h2(H2Fault::ResetEverySecond);
    let (f, _d) = run(&h2_profile(server.addr));
    let t = &f.run.targets[0];
    assert_eq!((t.requests.resent, server.requests.load(Ordering::Relaxed)), (0, 20));
    assert_eq!(outcomes(&f), counts(&[("ok", 10), ("closed_after_send", 10)]));
    assert_eq!(t.requests.ambiguous, 10);
}

#[test]
fn an_http2_connection_reset_under_a_stream_is_not_resent() {
    let server = serve_h2(H2Fault::DropConnection);
    let (f, _d) = run(&h2_profile(server.addr));
    let t = &f.run.targets[0];
    assert_eq!((t.requests.resent, server.requests.load(Ordering::Relaxed)), (0, 20));
    assert_eq!(outcomes(&f), counts(&[("closed_after_send", 20)]));
}

#[test]
fn validate_warns_when_a_real_whatsapp_target_may_resend() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token.txt"), "t\n").unwrap();
    std::fs::write(dir.path().join("to.csv"), "+15551230001\n").unwrap();
    let text = |resend: bool| {
        format!(
            "name = \"real\"\n[load]\nrate = 1\nduration = \"1s\"\n[recipients]\nfile = \"to.csv\"\n\
             [messages]\ntemplate = 1\ntext = 0\n[[targets]]\nname = \"wa\"\nkind = \"cloud\"\n\
             base_url = \"https://graph.facebook.com\"\nphone_number_id = \"100000000000001\"\n\
             token_file = \"token.txt\"\nresend_unanswered = {resend}\n"
        )
    };
    let warned = |resend: bool| {
        let path = common::profile(dir.path(), &text(resend));
        let loaded = wabench::spec::load(&path).expect("valid profile");
        wabench::app::validate::warnings(&loaded).into_iter().any(|w| w.contains("resend_unanswered"))
    };
    assert!(warned(true));
    assert!(!warned(false));
}

/// An HTTP/2 server written frame by frame, for what a library server will not do on cue: it waits
/// for two streams on a connection, then sends GOAWAY naming the first as the last it processes,
/// answers that one (200, no body) and closes. The second stream lies above the GOAWAY's last id: the
/// server processed none of it. Counts the requests (HEADERS frames) it received.
fn serve_h2_goaway() -> LoopServer {
    spawn(|mut sock, seen| async move {
        let frame = |kind: u8, flags: u8, stream: u32, payload: &[u8]| {
            let len = payload.len() as u32;
            let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
            f.extend_from_slice(&stream.to_be_bytes());
            f.extend_from_slice(payload);
            f
        };
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        // The client's preface, then frames.
        while buf.len() < 24 {
            match sock.read(&mut chunk).await {
                Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                _ => return,
            }
        }
        buf.drain(..24);
        if sock.write_all(&frame(4, 0, 0, &[])).await.is_err() {
            return;
        }
        let mut streams: Vec<u32> = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
        while streams.len() < 2 {
            while buf.len() >= 9 {
                let len = (usize::from(buf[0]) << 16) | (usize::from(buf[1]) << 8) | usize::from(buf[2]);
                if buf.len() < 9 + len {
                    break;
                }
                let (kind, flags) = (buf[3], buf[4]);
                let stream = u32::from_be_bytes([buf[5] & 0x7f, buf[6], buf[7], buf[8]]);
                if kind == 4 && flags & 1 == 0 {
                    let _ = sock.write_all(&frame(4, 1, 0, &[])).await; // SETTINGS ACK
                } else if kind == 1 {
                    streams.push(stream);
                    seen.fetch_add(1, Ordering::Relaxed);
                }
                buf.drain(..9 + len);
            }
            if streams.len() >= 2 {
                break;
            }
            match tokio::time::timeout_at(deadline, sock.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                Ok(_) => return,
                Err(_) => break, // a single stream: answered below, no GOAWAY
            }
        }
        let Some(&first) = streams.first() else { return };
        if streams.len() >= 2 {
            let mut goaway = first.to_be_bytes().to_vec();
            goaway.extend_from_slice(&0u32.to_be_bytes()); // NO_ERROR
            let _ = sock.write_all(&frame(7, 0, 0, &goaway)).await;
        }
        // :status 200 (HPACK static index 8), END_HEADERS | END_STREAM.
        let _ = sock.write_all(&frame(1, 0x5, first, &[0x88])).await;
        let _ = sock.flush().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    })
}

#[test]
fn an_http2_stream_above_the_goaway_last_id_is_resent_and_one_below_answered() {
    let server = serve_h2_goaway();
    let text = http_profile(server.addr, 20, 2, "http_version = \"2\"\n")
        .replace("body_file = \"body.bin\"\n", "")
        .replace("method = \"POST\"", "method = \"GET\"")
        .replace("connections = 2", "connections = 2\nstreams_per_connection = 2");
    let (f, _d) = run(&text);
    let t = &f.run.targets[0];
    let o = outcomes(&f);
    assert!(t.requests.resent > 0, "streams above the last id were resent: {o:?} {:?}", t.requests);
    assert_eq!(server.requests.load(Ordering::Relaxed), 20 + t.requests.resent, "{o:?}");
    assert_eq!(o.values().sum::<u64>(), 20, "{o:?}");
    // A resent stream can be refused again (it is never sent a third time): no answer, an io_error.
    assert!(o.keys().all(|k| k == "ok" || k == "io_error"), "{o:?}");
    assert!(o.get("ok").copied().unwrap_or(0) >= 10, "{o:?}");
}

#[test]
fn an_error_answer_that_echoes_the_token_is_kept_without_it() {
    // A Cloud API stand-in that answers every send with error 100, quoting the request's head back.
    let server = spawn(|mut sock, seen| async move {
        let mut buf = Vec::new();
        while let Some((head, len)) = read_head(&mut sock, &mut buf).await {
            let echo = String::from_utf8_lossy(&buf[..head]).replace(['\r', '\n', '"'], " ");
            if !read_body(&mut sock, &mut buf, head, len).await {
                return;
            }
            seen.fetch_add(1, Ordering::Relaxed);
            let body = format!(
                "{{\"error\":{{\"message\":\"(#100) Invalid parameter: {echo}\",\"type\":\"OAuthException\",\"code\":100,\"fbtrace_id\":\"A\"}}}}"
            );
            let answer = format!(
                "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            if !write(&mut sock, answer.as_bytes()).await {
                return;
            }
        }
    });
    let (f, dir) = run(&cloud_profile(server.addr, ""));
    assert_eq!(outcomes(&f), counts(&[("api_100", 12)]));
    let out = dir.path().join("out");
    let samples = std::fs::read_to_string(out.join("error_samples.json")).expect("a sample per code");
    assert!(samples.contains("Invalid parameter") && samples.contains("<redacted>"), "{samples}");
    for file in std::fs::read_dir(&out).unwrap().flatten() {
        let text = String::from_utf8_lossy(&std::fs::read(file.path()).unwrap()).into_owned();
        assert!(!text.contains("fault-test-token"), "{} holds the token", file.path().display());
    }
}
