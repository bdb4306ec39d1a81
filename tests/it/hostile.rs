//! The engine against hostile targets: a loopback server written for these tests misbehaves in one
//! chosen way per connection (refuses, resets, never answers, trickles, answers garbage, huge or
//! non-JSON bodies, HTTP/1.0 with `Connection: close`, self-signed TLS …). Every run must end by
//! itself, send exactly what the plan says and count each failure under its own outcome.

use crate::support::common;
use crate::support::loopback::{self, LoopServer};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use wabench::app::run::{Finished, Options, run_profile};

/// A run that has not ended after this long is hung; every plan here takes a few seconds at most.
const HANG_GUARD: Duration = Duration::from_secs(60);
/// No server task lives longer than this.
const TASK_LIMIT: Duration = Duration::from_secs(30);
/// Longest request head the server reads.
const MAX_HEAD: usize = 64 * 1024;

/// What the server does on each connection.
#[derive(Clone, Debug)]
enum Act {
    /// Answer every request with this status line, extra headers and body; `close` closes the
    /// connection after each answer (and says so with `Connection: close` when `announce`).
    Reply { status: &'static str, headers: &'static str, body: Vec<u8>, close: bool, announce: bool },
    /// HTTP/1.0 answers delimited by closing the connection (no Content-Length).
    Http10UntilClose,
    /// Write half of an answer, then reset the connection (RST).
    ResetMidResponse,
    /// Reset the connection as soon as a request arrives.
    ResetOnRequest,
    /// Read requests, never answer.
    Silent,
    /// Send the head and then one body byte every `every` (bounded).
    Trickle { every: Duration },
    /// Answer with a body of this many bytes, chunked or with Content-Length.
    Huge { bytes: usize, chunked: bool },
    /// Answer with bytes that are not HTTP, then close or keep the connection open.
    Garbage { close: bool },
    /// A response head that never ends (bounded by `bytes`).
    EndlessHead { bytes: usize },
}

/// Start a hostile server on 127.0.0.1:0, plain or behind TLS with `acceptor`.
fn hostile(act: Act, acceptor: Option<TlsAcceptor>) -> LoopServer {
    loopback::spawn(TASK_LIMIT, move |sock, requests| connection(sock, act.clone(), requests, acceptor.clone()))
}

async fn connection(sock: TcpStream, act: Act, requests: Arc<AtomicU64>, tls: Option<TlsAcceptor>) {
    let _ = sock.set_nodelay(true);
    match (&act, tls) {
        (Act::ResetMidResponse | Act::ResetOnRequest, _) => reset(sock, &act, &requests).await,
        (_, Some(acceptor)) => {
            if let Ok(s) = acceptor.accept(sock).await {
                serve(s, &act, &requests).await;
            }
        }
        (_, None) => serve(sock, &act, &requests).await,
    }
}

/// Read one request (head and Content-Length body); false at end of stream or on a bad request.
async fn read_request<S: AsyncRead + Unpin>(s: &mut S, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return false;
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize =
        head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    while buf.len() < head_end + len {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    buf.drain(..head_end + len);
    true
}

async fn reset(mut sock: TcpStream, act: &Act, requests: &AtomicU64) {
    let mut buf = Vec::new();
    if !read_request(&mut sock, &mut buf).await {
        return;
    }
    requests.fetch_add(1, Ordering::Relaxed);
    if matches!(act, Act::ResetMidResponse) {
        let _ = sock
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: text/plain\r\n\r\n0123456789")
            .await;
        let _ = sock.flush().await;
        // Let the client read the head before the reset discards what is unread.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = sock.set_zero_linger();
    drop(sock);
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, act: &Act, requests: &AtomicU64) {
    let mut buf = Vec::new();
    // Bounded: no connection serves more than this many requests.
    for _ in 0..100_000 {
        if !read_request(&mut s, &mut buf).await {
            return;
        }
        requests.fetch_add(1, Ordering::Relaxed);
        match act {
            Act::Reply { status, headers, body, close, announce } => {
                let conn = if *announce { "Connection: close\r\n" } else { "" };
                let head = format!("{status}\r\n{headers}{conn}Content-Length: {}\r\n\r\n", body.len());
                if s.write_all(head.as_bytes()).await.is_err() || s.write_all(body).await.is_err() {
                    return;
                }
                let _ = s.flush().await;
                if *close {
                    let _ = s.shutdown().await;
                    return;
                }
            }
            Act::Http10UntilClose => {
                let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nfine").await;
                let _ = s.shutdown().await;
                return;
            }
            Act::Silent => {
                tokio::time::sleep(TASK_LIMIT).await;
                return;
            }
            Act::Trickle { every } => {
                if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n").await.is_err() {
                    return;
                }
                for _ in 0..1000 {
                    tokio::time::sleep(*every).await;
                    if s.write_all(b"x").await.is_err() || s.flush().await.is_err() {
                        return;
                    }
                }
            }
            Act::Huge { bytes, chunked } => {
                let block = vec![b'a'; 64 * 1024];
                let head = if *chunked {
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_string()
                } else {
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {bytes}\r\n\r\n")
                };
                if s.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let mut left = *bytes;
                while left > 0 {
                    let n = left.min(block.len());
                    let ok = if *chunked {
                        s.write_all(format!("{n:x}\r\n").as_bytes()).await.is_ok()
                            && s.write_all(&block[..n]).await.is_ok()
                            && s.write_all(b"\r\n").await.is_ok()
                    } else {
                        s.write_all(&block[..n]).await.is_ok()
                    };
                    if !ok {
                        return;
                    }
                    left -= n;
                }
                if *chunked && s.write_all(b"0\r\n\r\n").await.is_err() {
                    return;
                }
            }
            Act::Garbage { close } => {
                let _ = s.write_all(b"SSH-2.0-OpenSSH_9.6\r\n\x00\x01\x02\xff garbage\r\n\r\n").await;
                let _ = s.flush().await;
                if *close {
                    let _ = s.shutdown().await;
                    return;
                }
            }
            Act::EndlessHead { bytes } => {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nX-Filler: ").await;
                let block = vec![b'a'; 16 * 1024];
                let mut left = *bytes;
                while left > 0 {
                    let n = left.min(block.len());
                    if s.write_all(&block[..n]).await.is_err() {
                        return;
                    }
                    left -= n;
                }
                tokio::time::sleep(TASK_LIMIT).await;
                return;
            }
            Act::ResetMidResponse | Act::ResetOnRequest => unreachable!("handled before"),
        }
    }
}

/// Run a profile with a guard against hangs; the run must end by itself.
fn run(text: &str) -> (Finished, tempfile::TempDir) {
    common::run_guarded(text, &[("token.txt", b"hostile-test-token\n")], HANG_GUARD)
}

/// Outcome key → count of the first target.
fn outcomes(f: &Finished) -> BTreeMap<String, u64> {
    f.run.targets[0].outcomes.iter().map(|o| (o.key.clone(), o.count)).collect()
}

fn only(key: &str, n: u64) -> BTreeMap<String, u64> {
    BTreeMap::from([(key.to_string(), n)])
}

/// The accounting every run keeps, whatever the target did.
fn consistent(f: &Finished, planned: u64) {
    let t = &f.run.targets[0];
    let r = &t.requests;
    assert_eq!(r.planned, Some(planned));
    assert_eq!(r.sent, planned, "every planned request is sent: {:?}", t.outcomes);
    assert_eq!(r.dropped, 0);
    assert_eq!(r.cancelled, 0);
    assert_eq!(r.ok + r.errors, r.sent + r.retries, "every attempt ends in exactly one outcome");
    assert!(!t.interrupted && !f.run.interrupted);
    // The results read back.
    assert_eq!(wabench::results::read_run(&f.dir).unwrap(), f.run);
}

/// An open-loop HTTP profile: 20 requests over 1 s on 4 connections.
fn http_profile(url: &str, extra: &str) -> String {
    format!(
        "name = \"hostile\"\n[load]\nrate = 20\nduration = \"1s\"\nconnections = 4\ntimeout = \"400ms\"\n\
         [[targets]]\nname = \"t\"\nkind = \"http\"\nurl = \"{url}\"\n{extra}"
    )
}

/// An open-loop Cloud API profile against `addr` (token from a file written by `run`).
fn cloud_profile(addr: SocketAddr, extra: &str) -> String {
    format!(
        "name = \"hostile-cloud\"\n[load]\nrate = 20\nduration = \"1s\"\nconnections = 4\ntimeout = \"400ms\"\n\
         {extra}\n[[targets]]\nname = \"wa\"\nkind = \"cloud\"\nbase_url = \"http://{addr}\"\n\
         phone_number_id = \"100000000000001\"\ntoken_file = \"token.txt\"\n"
    )
}

fn reply(status: &'static str, headers: &'static str, body: &[u8]) -> Act {
    Act::Reply { status, headers, body: body.to_vec(), close: false, announce: false }
}

#[test]
fn refused_connections_are_connect_errors() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let (f, _d) = run(&http_profile(&format!("http://{addr}/"), ""));
    assert_eq!(outcomes(&f), only("connect_error", 20));
    consistent(&f, 20);

    // Closed loop: refused connections back off instead of spinning, and still end at max_requests.
    let (f, _d) = run(&format!(
        "name = \"refused-closed\"\n[load]\nmodel = \"closed\"\nconnections = 2\nmax_requests = 10\n\
         [[targets]]\nname = \"t\"\nkind = \"http\"\nurl = \"http://{addr}/\"\n"
    ));
    assert_eq!(outcomes(&f), only("connect_error", 10));
    consistent(&f, 10);
}

#[test]
fn a_reset_after_the_request_is_an_unanswered_request_not_a_retry() {
    // The reset discards the part of the answer the client had not read yet: from the client's side,
    // a request written and reset before any byte of an answer (or a broken answer when some came).
    let s = hostile(Act::ResetMidResponse, None);
    let (f, _d) = run(&http_profile(&format!("http://{}/", s.addr), ""));
    let o = outcomes(&f);
    assert_eq!(o.values().sum::<u64>(), 20, "{o:?}");
    assert!(o.keys().all(|k| k == "closed_after_send" || k == "io_error"), "{o:?}");
    consistent(&f, 20);
    assert_eq!(s.requests.load(Ordering::Relaxed), 20, "never sent twice");

    // A reset on a request, kept connection or not, is never taken for an idle close: once.
    let s = hostile(Act::ResetOnRequest, None);
    let (f, _d) = run(&http_profile(&format!("http://{}/", s.addr), ""));
    assert_eq!(outcomes(&f), only("closed_after_send", 20));
    consistent(&f, 20);
    assert_eq!(s.requests.load(Ordering::Relaxed), 20, "never sent twice");
}

#[test]
fn a_server_that_never_answers_times_out() {
    let s = hostile(Act::Silent, None);
    let (f, _d) = run(&http_profile(&format!("http://{}/", s.addr), ""));
    assert_eq!(outcomes(&f), only("timeout", 20));
    consistent(&f, 20);
    assert_eq!(f.run.targets[0].latency_us.count, 0, "timeouts have no response latency");
}

#[test]
fn a_body_trickling_slower_than_the_timeout_times_out() {
    let s = hostile(Act::Trickle { every: Duration::from_millis(100) }, None);
    let (f, _d) = run(&http_profile(&format!("http://{}/", s.addr), ""));
    assert_eq!(outcomes(&f), only("timeout", 20));
    consistent(&f, 20);
}

#[test]
fn bodies_beyond_max_body_are_counted_and_not_read_to_the_end() {
    for chunked in [false, true] {
        let s = hostile(Act::Huge { bytes: 10 << 20, chunked }, None);
        let (f, _d) = run(&http_profile(&format!("http://{}/", s.addr), ""));
        assert_eq!(outcomes(&f), only("body_too_large", 20), "chunked: {chunked}");
        consistent(&f, 20);
    }
    // A body exactly at the cap is fine.
    let s = hostile(Act::Huge { bytes: 1 << 20, chunked: false }, None);
    let (f, _d) = run(&http_profile(&format!("http://{}/", s.addr), ""));
    assert_eq!(outcomes(&f), only("ok", 20));
}

#[test]
fn an_html_502_page_is_counted_by_status() {
    let page = b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>";
    let s = hostile(reply("HTTP/1.1 502 Bad Gateway", "Content-Type: text/html\r\n", page), None);
    let (f, _d) = run(&http_profile(&format!("http://{}/", s.addr), ""));
    assert_eq!(outcomes(&f), only("http_502", 20));
    consistent(&f, 20);

    // A WhatsApp target retries a 502 (a transient gateway error) and counts every attempt.
    let (f, _d) = run(&cloud_profile(s.addr, "[retry]\nmax_attempts = 3\nbackoff = \"10ms\""));
    assert_eq!(outcomes(&f), only("http_502", 60));
    assert_eq!(f.run.targets[0].requests.retries, 40);
    consistent(&f, 20);
}

#[test]
fn a_success_status_without_the_apis_answer_is_not_a_sent_message() {
    // A proxy or a misrouted URL answers 200 with something that is not the Cloud API's answer.
    for body in [&b"{not json"[..], b"<html><body>Welcome to nginx!</body></html>", b"", b"{\"ok\":true}"] {
        let s = hostile(reply("HTTP/1.1 200 OK", "Content-Type: application/json\r\n", body), None);
        let (f, _d) = run(&cloud_profile(s.addr, ""));
        assert_eq!(outcomes(&f), only("invalid_response", 20), "body {:?}", String::from_utf8_lossy(body));
        consistent(&f, 20);
    }
    // An error status with a body that is not JSON is counted by its status.
    let s = hostile(reply("HTTP/1.1 400 Bad Request", "Content-Type: application/json\r\n", b"{\"error\":"), None);
    let (f, _d) = run(&cloud_profile(s.addr, ""));
    assert_eq!(outcomes(&f), only("http_400", 20));
    consistent(&f, 20);
}

#[test]
fn a_wrong_content_type_does_not_change_the_verdict() {
    let answer =
        br#"{"messaging_product":"whatsapp","contacts":[{"input":"1","wa_id":"1"}],"messages":[{"id":"wamid.X"}]}"#;
    let s = hostile(reply("HTTP/1.1 200 OK", "Content-Type: text/html; charset=latin1\r\n", answer), None);
    let (f, _d) = run(&cloud_profile(s.addr, ""));
    assert_eq!(outcomes(&f), only("ok", 20));
    consistent(&f, 20);
    let (f, _d) = run(&http_profile(&format!("http://{}/", s.addr), ""));
    assert_eq!(outcomes(&f), only("ok", 20));
    consistent(&f, 20);

    let error = br#"{"error":{"message":"(#131056) pair rate limit","type":"OAuthException","code":131056}}"#;
    let s = hostile(reply("HTTP/1.1 400 Bad Request", "Content-Type: text/plain\r\n", error), None);
    let (f, _d) = run(&cloud_profile(s.addr, "[retry]\nmax_attempts = 1"));
    assert_eq!(outcomes(&f), only("api_131056", 20));
    consistent(&f, 20);
}

#[test]
fn servers_that_close_after_every_answer_are_reconnected_transparently() {
    let acts = [
        (
            "HTTP/1.0 + Connection: close",
            Act::Reply {
                status: "HTTP/1.0 200 OK",
                headers: "Content-Type: text/plain\r\n",
                body: b"fine".to_vec(),
                close: true,
                announce: true,
            },
        ),
        (
            "HTTP/1.1 + Connection: close",
            Act::Reply { status: "HTTP/1.1 200 OK", headers: "", body: b"fine".to_vec(), close: true, announce: true },
        ),
        ("HTTP/1.0 body delimited by close", Act::Http10UntilClose),
        (
            "HTTP/1.1 keep-alive, closed without notice",
            Act::Reply { status: "HTTP/1.1 200 OK", headers: "", body: b"fine".to_vec(), close: true, announce: false },
        ),
    ];
    for (i, (what, act)) in acts.into_iter().enumerate() {
        let s = hostile(act, None);
        let (f, _d) = run(&http_profile(&format!("http://{}/", s.addr), ""));
        assert_eq!(outcomes(&f), only("ok", 20), "{what}");
        consistent(&f, 20);
        assert_eq!(s.requests.load(Ordering::Relaxed), 20, "{what}: one request per message");
        let before = s.requests.load(Ordering::Relaxed);
        // Closed loop: each virtual user reconnects after every answer.
        let (f, _d) = run(&format!(
            "name = \"close-closed\"\n[load]\nmodel = \"closed\"\nconnections = 2\nmax_requests = 200\n\
             [[targets]]\nname = \"t\"\nkind = \"http\"\nurl = \"http://{}/\"\n",
            s.addr
        ));
        consistent(&f, 200);
        let o = outcomes(&f);
        if i < 3 {
            assert_eq!(o, only("ok", 200), "{what}, closed loop");
        } else {
            // Closed without notice, the next request at once: some requests race the close and are
            // written before it arrives. Whether the server read them cannot always be known, so they
            // are counted as such, never sent again: the server sees each request at most once.
            assert_eq!(o.values().sum::<u64>(), 200, "{o:?}");
            assert!(o.keys().all(|k| k == "ok" || k == "closed_after_send"), "{o:?}");
            assert!(o["ok"] >= 100, "most find the close before writing: {o:?}");
            assert!(s.requests.load(Ordering::Relaxed) - before <= 200, "at most once");
        }
    }
}

#[test]
fn answers_that_are_not_http_are_io_errors() {
    for close in [true, false] {
        let s = hostile(Act::Garbage { close }, None);
        let (f, _d) = run(&http_profile(&format!("http://{}/", s.addr), ""));
        assert_eq!(outcomes(&f), only("io_error", 20), "close: {close}");
        consistent(&f, 20);
    }
    // A response head that never ends is cut off by the parser's limit, not read forever.
    let s = hostile(Act::EndlessHead { bytes: 4 << 20 }, None);
    let (f, _d) = run(&http_profile(&format!("http://{}/", s.addr), ""));
    assert_eq!(outcomes(&f), only("io_error", 20));
    consistent(&f, 20);
}

#[test]
fn http2_to_a_server_that_only_speaks_http1_is_an_io_error() {
    let s = hostile(reply("HTTP/1.1 200 OK", "", b"fine"), None);
    let (f, _d) = run(&http_profile(&format!("http://{}/", s.addr), "http_version = \"2\"\n"));
    assert_eq!(outcomes(&f), only("io_error", 20));
    consistent(&f, 20);
}

fn self_signed() -> (TlsAcceptor, rustls::pki_types::CertificateDer<'static>) {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let cert = ck.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    (TlsAcceptor::from(Arc::new(cfg)), cert)
}

#[test]
fn a_self_signed_certificate_fails_unless_insecure_tls() {
    let (acceptor, _) = self_signed();
    let s = hostile(reply("HTTP/1.1 200 OK", "", b"fine"), Some(acceptor));
    let url = format!("https://{}/", s.addr);
    let (f, _d) = run(&http_profile(&url, ""));
    assert_eq!(outcomes(&f), only("tls_error", 20));
    consistent(&f, 20);
    assert_eq!(s.requests.load(Ordering::Relaxed), 0, "nothing was sent over an unverified connection");

    let (f, _d) = run(&http_profile(&url, "insecure_tls = true\n"));
    assert_eq!(outcomes(&f), only("ok", 20));
    consistent(&f, 20);
    assert_eq!(s.requests.load(Ordering::Relaxed), 20);
    // Every connection opened timed its TLS handshake.
    let p = f.run.targets[0].connection_phases.clone().expect("phases");
    assert!(p.opened >= 1 && p.tls_us.count == p.opened && p.ttfb_us.count <= p.opened, "{p:?}");

    // https:// to a plain HTTP server fails the handshake; http:// to a TLS server breaks the connection.
    let plain = common::start(common::Behaviour::default());
    let (f, _d) = run(&http_profile(&format!("https://{}/", plain.addr), "insecure_tls = true\n"));
    assert_eq!(outcomes(&f), only("tls_error", 20));
    consistent(&f, 20);
    let (f, _d) = run(&http_profile(&format!("http://{}/", s.addr), ""));
    assert_eq!(outcomes(&f), only("io_error", 20));
    consistent(&f, 20);
}

#[test]
fn a_tls_server_that_never_finishes_the_handshake_times_out() {
    // Accepts TCP connections and never answers the ClientHello. The connections opened before the
    // clock starts share one timeout: one after the other, 400 of them would take 160 s and trip the
    // hang guard.
    let s = hostile(Act::Silent, None);
    let (f, _d) = run(&format!(
        "name = \"tls-silent\"\n[load]\nrate = 20\nduration = \"1s\"\nconnections = 400\nthreads = 2\n\
         timeout = \"400ms\"\n[[targets]]\nname = \"t\"\nkind = \"http\"\nurl = \"https://{}/\"\n",
        s.addr
    ));
    assert_eq!(outcomes(&f), only("timeout", 20));
    consistent(&f, 20);
    assert!(s.accepted.load(Ordering::Relaxed) >= 20);
}

/// An HTTP/2 (h2c) server that ends every connection after its first answer: gracefully with GOAWAY,
/// or by closing the socket. Its `requests` counts the answers.
fn h2_one_answer_per_connection(goaway: bool) -> LoopServer {
    use hyper::service::service_fn;
    loopback::spawn(TASK_LIMIT, move |sock, hits| async move {
        let answered = Arc::new(tokio::sync::Notify::new());
        let a = answered.clone();
        let svc = service_fn(move |_req: hyper::Request<hyper::body::Incoming>| {
            hits.fetch_add(1, Ordering::Relaxed);
            a.notify_one();
            async {
                Ok::<_, std::convert::Infallible>(hyper::Response::new(http_body_util::Full::new(
                    bytes::Bytes::from_static(b"fine"),
                )))
            }
        });
        let conn = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .serve_connection(hyper_util::rt::TokioIo::new(sock), svc);
        tokio::pin!(conn);
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = answered.notified() => {}
        }
        if goaway {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        } else {
            // Let the answer reach the client, then drop the socket.
            let _ = tokio::time::timeout(Duration::from_millis(20), conn.as_mut()).await;
        }
    })
}

#[test]
fn http2_servers_that_end_connections_after_every_answer_are_reconnected() {
    for goaway in [true, false] {
        let s = h2_one_answer_per_connection(goaway);
        let addr = s.addr;
        let (f, _d) = run(&http_profile(&format!("http://{addr}/"), "http_version = \"2\"\n"));
        assert_eq!(outcomes(&f), only("ok", 20), "goaway: {goaway}");
        consistent(&f, 20);
        assert_eq!(s.requests.load(Ordering::Relaxed), 20);
        let (f, _d) = run(&format!(
            "name = \"h2-closed\"\n[load]\nmodel = \"closed\"\nconnections = 2\nmax_requests = 200\n\
             [[targets]]\nname = \"t\"\nkind = \"http\"\nurl = \"http://{addr}/\"\nhttp_version = \"2\"\n"
        ));
        consistent(&f, 200);
        let o = outcomes(&f);
        if goaway {
            assert_eq!(o, only("ok", 200), "goaway: {goaway}, closed loop");
        } else {
            // A socket dropped without GOAWAY can race a stream just sent on it: that stream's fate is
            // unknown, and it is counted as such, not sent again.
            assert_eq!(o.values().sum::<u64>(), 200, "{o:?}");
            assert!(o.keys().all(|k| k == "ok" || k == "closed_after_send"), "{o:?}");
        }
    }
}

#[test]
fn stopping_while_a_server_holds_every_request_ends_after_the_drain() {
    let s = hostile(Act::Silent, None);
    let dir = tempfile::tempdir().unwrap();
    let path = common::profile(
        dir.path(),
        &format!(
            "name = \"stop-silent\"\n[load]\nrate = 20\nduration = \"60s\"\nconnections = 4\ntimeout = \"30s\"\n\
             drain = \"200ms\"\n[[targets]]\nname = \"t\"\nkind = \"http\"\nurl = \"http://{}/\"\n",
            s.addr
        ),
    );
    let loaded = wabench::spec::load(&path).unwrap();
    let opts = Options { out: Some(dir.path().join("out")), ..Options::new(dir.path()) };
    let stop = wabench::Shutdown::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let run_stop = stop.clone();
    std::thread::spawn(move || {
        let _ = tx.send(run_profile(&loaded, &opts, run_stop));
    });
    // Stop once the server holds a request on every connection (bounded wait).
    for _ in 0..200 {
        if s.requests.load(Ordering::Relaxed) >= 4 {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    stop.stop();
    let f = rx.recv_timeout(HANG_GUARD).expect("the run ended after the drain").expect("run");
    let t = &f.run.targets[0];
    assert!(f.run.interrupted && t.interrupted);
    let r = &t.requests;
    assert_eq!(r.sent, 4, "one request per connection, each held by the server");
    assert_eq!(r.ok, 0);
    assert_eq!(r.cancelled, r.sent, "every request was held, and cancelled after the drain: {:?}", t.outcomes);
    assert_eq!(outcomes(&f), only("cancelled", r.sent));
    assert_eq!(wabench::results::read_run(&f.dir).unwrap(), f.run);
}

#[test]
fn a_redirect_is_not_ok_unless_expected_and_an_expected_body_is_checked() {
    let s = hostile(reply("HTTP/1.1 302 Found", "Location: /elsewhere\r\n", b"moved"), None);
    let url = format!("http://{}/", s.addr);
    let (f, _d) = run(&http_profile(&url, ""));
    assert_eq!(outcomes(&f), only("http_302", 20), "a redirect measured is not the page");
    let (f, _d) = run(&http_profile(&url, "expect_status = [302]\n"));
    assert_eq!(outcomes(&f), only("ok", 20));
    let (f, _d) = run(&http_profile(&url, "expect_status = [302]\nexpect_body = \"mov\"\n"));
    assert_eq!(outcomes(&f), only("ok", 20));
    let (f, _d) = run(&http_profile(&url, "expect_status = [302]\nexpect_body = \"welcome\"\n"));
    assert_eq!(outcomes(&f), only("invalid_response", 20));
    consistent(&f, 20);
}
