//! Tests of the status-webhook receiver over loopback: signatures, handshake, size cap,
//! malformed input, and statuses reaching the tracker. Tracker accounting is covered in
//! `webhook_tracker.rs`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use wabench::webhook::{
    ReceiverConfig, SignatureError, Status, StatusError, StatusKind, Tracker, cloud_envelope, onprem_envelope, sign,
    spawn_local, verify,
};

const SECRET: &[u8] = b"app-secret-for-tests";
const TOKEN: &str = "verify-me";

// ---------------------------------------------------------------- signature

#[test]
fn signature_valid() {
    let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
    let header = sign(SECRET, body);
    assert!(header.starts_with("sha256="));
    assert_eq!(header.len(), 7 + 64);
    assert_eq!(header, header.to_ascii_lowercase());
    assert_eq!(verify(SECRET, body, Some(&header)), Ok(()));
}

#[test]
fn signature_wrong_secret() {
    let header = sign(b"other-secret", b"body");
    assert_eq!(verify(SECRET, b"body", Some(&header)), Err(SignatureError::Mismatch));
}

#[test]
fn signature_missing_header() {
    assert_eq!(verify(SECRET, b"body", None), Err(SignatureError::Missing));
}

#[test]
fn signature_tampered_body() {
    let header = sign(SECRET, b"{\"statuses\":[]}");
    assert_eq!(verify(SECRET, b"{\"statuses\":[ ]}", Some(&header)), Err(SignatureError::Mismatch));
}

#[test]
fn signature_wrong_prefix() {
    let header = sign(SECRET, b"body");
    let sha1 = header.replacen("sha256=", "sha1=", 1);
    assert_eq!(verify(SECRET, b"body", Some(&sha1)), Err(SignatureError::WrongPrefix));
    let bare = header.trim_start_matches("sha256=").to_owned();
    assert_eq!(verify(SECRET, b"body", Some(&bare)), Err(SignatureError::WrongPrefix));
}

#[test]
fn signature_bad_hex() {
    let bad = format!("sha256={}", "zz".repeat(32));
    assert_eq!(verify(SECRET, b"body", Some(&bad)), Err(SignatureError::BadHex));
}

fn status(id: &str, kind: StatusKind) -> Status {
    Status::new(id, kind, 1_700_000_000, "15550001234")
}

fn failed(id: &str, code: i64) -> Status {
    status(id, StatusKind::Failed).with_error(StatusError::new(code, "failure"))
}

// ---------------------------------------------------------------- receiver

fn cloud_cfg() -> ReceiverConfig {
    ReceiverConfig {
        app_secret: Some(SECRET.to_vec()),
        verify_token: Some(TOKEN.to_owned()),
        max_body_bytes: 4096,
        ..ReceiverConfig::default()
    }
}

/// One HTTP/1.1 request over a fresh connection; returns status and body.
async fn call(
    addr: SocketAddr,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> (StatusCode, Bytes) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let mut req = Request::builder().method(method).uri(uri).header("host", addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = sender.send_request(req.body(Full::new(body.into())).unwrap()).await.unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, body)
}

async fn post_signed(addr: SocketAddr, body: &[u8]) -> StatusCode {
    let sig = sign(SECRET, body);
    call(
        addr,
        "POST",
        "/webhook",
        &[("x-hub-signature-256", &sig), ("content-type", "application/json")],
        body.to_vec(),
    )
    .await
    .0
}

#[tokio::test]
async fn handshake_right_token_returns_challenge() {
    let h = spawn_local(cloud_cfg(), Tracker::default()).await.unwrap();
    let uri = format!("/webhook?hub.mode=subscribe&hub.verify_token={TOKEN}&hub.challenge=1158201444");
    let (status, body) = call(h.addr, "GET", &uri, &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&body[..], b"1158201444");
    // Percent-encoded token works too.
    let uri = "/webhook?hub.challenge=abc&hub.verify_token=verify%2Dme&hub.mode=subscribe";
    let (status, body) = call(h.addr, "GET", uri, &[], Bytes::new()).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"abc"[..]));
    assert_eq!(h.counters().handshakes_ok, 2);
    h.stop().await.unwrap();
}

#[tokio::test]
async fn handshake_wrong_token_is_refused() {
    let h = spawn_local(cloud_cfg(), Tracker::default()).await.unwrap();
    for uri in [
        "/webhook?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1",
        "/webhook?hub.mode=unsubscribe&hub.verify_token=verify-me&hub.challenge=1",
        "/webhook?hub.mode=subscribe&hub.challenge=1",
        "/webhook?hub.mode=subscribe&hub.verify_token=verify-me",
        "/webhook",
    ] {
        let (status, body) = call(h.addr, "GET", uri, &[], Bytes::new()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}");
        assert!(body.is_empty());
    }
    assert_eq!(h.counters().handshakes_refused, 5);
    h.stop().await.unwrap();

    // Without a configured token every handshake is refused.
    let cfg = ReceiverConfig { verify_token: None, ..cloud_cfg() };
    let h = spawn_local(cfg, Tracker::default()).await.unwrap();
    let uri = "/webhook?hub.mode=subscribe&hub.verify_token=&hub.challenge=1";
    assert_eq!(call(h.addr, "GET", uri, &[], Bytes::new()).await.0, StatusCode::FORBIDDEN);
    h.stop().await.unwrap();
}

#[tokio::test]
async fn signed_cloud_statuses_reach_the_tracker() {
    let tracker = Tracker::default();
    let h = spawn_local(cloud_cfg(), tracker.clone()).await.unwrap();
    let t0 = Instant::now();
    tracker.sent("wamid.A", t0, t0);
    tracker.sent("wamid.B", t0, t0);
    let env = cloud_envelope(
        "419561257915477",
        "106540352242922",
        "15550783881",
        vec![
            status("wamid.A", StatusKind::Sent),
            status("wamid.A", StatusKind::Delivered),
            status("wamid.A", StatusKind::Read),
            status("wamid.B", StatusKind::Sent),
        ],
    );
    let body = serde_json::to_vec(&env).unwrap();
    assert_eq!(post_signed(h.addr, &body).await, StatusCode::OK);
    // The same webhook re-delivered (Meta retries and duplicates).
    assert_eq!(post_signed(h.addr, &body).await, StatusCode::OK);
    let counters = h.counters();
    h.stop().await.unwrap(); // returns once queued statuses are applied
    assert_eq!(counters.received, 2);
    assert_eq!(counters.statuses, 8);
    let s = tracker.finish();
    assert_eq!(s.latency_us.accept_to_sent.count, 2);
    assert_eq!(s.latency_us.accept_to_delivered.count, 1);
    assert_eq!(s.latency_us.accept_to_read.count, 1);
    assert_eq!(s.latency_us.send_start_to_delivered.count, 1);
    assert_eq!(s.histograms.accept_to_sent.len(), 2);
    assert_eq!(s.duplicates, 4);
    assert_eq!(s.messages_delivered, 1);
    assert_eq!(s.lost, 1, "wamid.B only got `sent`");
}

#[tokio::test]
async fn onprem_mode_accepts_unsigned_bodies() {
    let tracker = Tracker::default();
    let cfg = ReceiverConfig { app_secret: None, ..cloud_cfg() };
    let h = spawn_local(cfg, tracker.clone()).await.unwrap();
    let t0 = Instant::now();
    tracker.sent("gBEGkZ", t0, t0);
    let body = serde_json::to_vec(&onprem_envelope(vec![status("gBEGkZ", StatusKind::Delivered)])).unwrap();
    let (st, _) = call(h.addr, "POST", "/webhook", &[], body).await;
    assert_eq!(st, StatusCode::OK);
    h.stop().await.unwrap();
    assert_eq!(tracker.finish().messages_delivered, 1);
}

#[tokio::test]
async fn inbound_messages_are_counted_not_tracked() {
    let tracker = Tracker::default();
    let h = spawn_local(cloud_cfg(), tracker.clone()).await.unwrap();
    let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"1","phone_number_id":"2"},"contacts":[{"profile":{"name":"A"},"wa_id":"3"}],"messages":[{"from":"3","id":"wamid.in","timestamp":"1","type":"text","text":{"body":"hi"}}]}}]}]}"#;
    assert_eq!(post_signed(h.addr, body).await, StatusCode::OK);
    let c = h.counters();
    assert_eq!((c.received, c.statuses, c.inbound_messages), (1, 0, 1));
    h.stop().await.unwrap();
    assert_eq!(tracker.snapshot().tracked, 0);
}

#[tokio::test]
async fn errors_meta_reports_for_the_account_are_counted_by_code_not_lost() {
    let tracker = Tracker::default();
    let h = spawn_local(cloud_cfg(), tracker.clone()).await.unwrap();
    // Meta's `value.errors`: an error about the number (throughput), not one message.
    let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"1","phone_number_id":"2"},"errors":[{"code":130429,"title":"Rate limit hit","message":"Rate limit hit","error_data":{"details":"Cloud API message throughput has been reached."}},{"code":131000,"title":"Something went wrong"}]}}]}]}"#;
    assert_eq!(post_signed(h.addr, body).await, StatusCode::OK);
    assert_eq!(post_signed(h.addr, body).await, StatusCode::OK);
    let c = h.counters();
    assert_eq!((c.received, c.statuses, c.malformed), (2, 0, 0));
    assert_eq!(c.errors_by_code, [(130429, 2), (131000, 2)].into());
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["errors_by_code"]["130429"], 2, "{json}");
    h.stop().await.unwrap();
}

#[tokio::test]
async fn bad_or_missing_signature_is_rejected() {
    let tracker = Tracker::default();
    let h = spawn_local(cloud_cfg(), tracker.clone()).await.unwrap();
    let body = serde_json::to_vec(&onprem_envelope(vec![status("m", StatusKind::Sent)])).unwrap();
    let wrong = sign(b"not-the-secret", &body);
    let bad_hex = format!("sha256={}", "g".repeat(64));
    let cases: [(&[(&str, &str)], StatusCode); 4] = [
        (&[], StatusCode::UNAUTHORIZED),
        (&[("x-hub-signature-256", &wrong)], StatusCode::FORBIDDEN),
        (&[("x-hub-signature-256", &bad_hex)], StatusCode::FORBIDDEN),
        (&[("x-hub-signature-256", "sha1=abcd")], StatusCode::FORBIDDEN),
    ];
    for (headers, want) in cases {
        let (st, _) = call(h.addr, "POST", "/webhook", headers, body.clone()).await;
        assert_eq!(st, want, "{headers:?}");
    }
    // Tampered: signature of a different body.
    let other = sign(SECRET, b"{\"statuses\":[]}");
    let (st, _) = call(h.addr, "POST", "/webhook", &[("x-hub-signature-256", &other)], body).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let c = h.counters();
    assert_eq!((c.missing_signature, c.bad_signature, c.received), (1, 4, 0));
    h.stop().await.unwrap();
    assert_eq!(tracker.snapshot().statuses.sent, 0);
}

#[tokio::test]
async fn malformed_bodies_get_400() {
    let h = spawn_local(cloud_cfg(), Tracker::default()).await.unwrap();
    let bodies: [&[u8]; 7] = [
        b"",
        b"not json",
        b"{\"statuses\":",
        b"[]",
        b"{}",
        b"{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":[{\"value\":{\"statuses\":[{\"id\":7}]}}]}]}",
        b"\xff\xfe\x00garbage",
    ];
    for body in bodies {
        assert_eq!(post_signed(h.addr, body).await, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(body));
    }
    assert_eq!(h.counters().malformed, bodies.len() as u64);
    // Still serving.
    let ok = serde_json::to_vec(&onprem_envelope(vec![])).unwrap();
    assert_eq!(post_signed(h.addr, &ok).await, StatusCode::OK);
    h.stop().await.unwrap();
}

#[tokio::test]
async fn oversize_bodies_get_413() {
    let h = spawn_local(cloud_cfg(), Tracker::default()).await.unwrap();
    // Declared length over the cap.
    let big = vec![b' '; 4097];
    assert_eq!(post_signed(h.addr, &big).await, StatusCode::PAYLOAD_TOO_LARGE);
    // Exactly at the cap is read (and then rejected as malformed, not as too large).
    let at_cap = vec![b' '; 4096];
    assert_eq!(post_signed(h.addr, &at_cap).await, StatusCode::BAD_REQUEST);

    // Chunked body without Content-Length, growing past the cap.
    let stream = TcpStream::connect(h.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let body = Chunked { left: 10 };
    let req = Request::post("/webhook")
        .header("host", "localhost")
        .header("x-hub-signature-256", sign(SECRET, b"irrelevant"))
        .body(body)
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // A huge declared body is refused from the headers alone: the answer comes although the
    // body is never sent.
    let mut raw = TcpStream::connect(h.addr).await.unwrap();
    raw.write_all(
        b"POST /webhook HTTP/1.1\r\nhost: x\r\nx-hub-signature-256: sha256=00\r\n\
          content-length: 1073741824\r\n\r\n{\"statuses\":",
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(10), raw.read(&mut buf))
        .await
        .expect("answered before the body was sent")
        .unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 413"), "{}", String::from_utf8_lossy(&buf[..n]));
    assert_eq!(h.counters().too_large, 3);
    h.stop().await.unwrap();
}

/// A request body of `n` chunks of 1000 bytes, with no declared length (sent chunked).
struct Chunked {
    left: usize,
}

impl hyper::body::Body for Chunked {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        self.left -= 1;
        std::task::Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'x'; 1000])))))
    }
}

#[tokio::test]
async fn wrong_path_and_method() {
    let h = spawn_local(cloud_cfg(), Tracker::default()).await.unwrap();
    assert_eq!(call(h.addr, "POST", "/other", &[], Bytes::new()).await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(h.addr, "PUT", "/webhook", &[], Bytes::new()).await.0, StatusCode::METHOD_NOT_ALLOWED);
    h.stop().await.unwrap();
}

#[tokio::test]
async fn arbitrary_bytes_never_break_the_receiver() {
    let h = spawn_local(cloud_cfg(), Tracker::default()).await.unwrap();
    // Deterministic pseudo-random bodies, signed so they reach the parser.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for len in (0..200).step_by(7) {
        let body: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let alphabet = b"{}[]\":,0aesz\\ \xff";
                alphabet[(x % alphabet.len() as u64) as usize]
            })
            .collect();
        let st = post_signed(h.addr, &body).await;
        assert!(st == StatusCode::BAD_REQUEST || st == StatusCode::OK, "{st}");
    }
    // Single-byte corruptions of a valid webhook.
    let valid = serde_json::to_vec(&cloud_envelope("1", "2", "3", vec![failed("wamid.Z", 131026)])).unwrap();
    for i in (0..valid.len()).step_by(5) {
        for b in [b'"', b'}', b'9', 0xC3] {
            let mut body = valid.clone();
            body[i] = b;
            let st = post_signed(h.addr, &body).await;
            assert!(st == StatusCode::BAD_REQUEST || st == StatusCode::OK, "{st}");
        }
    }
    // Garbage on the wire.
    let mut raw = TcpStream::connect(h.addr).await.unwrap();
    raw.write_all(b"\x00\x01GARBAGE / HTTP/9\r\n\r\n").await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), raw.read_to_end(&mut buf)).await;
    let ok = serde_json::to_vec(&onprem_envelope(vec![])).unwrap();
    assert_eq!(post_signed(h.addr, &ok).await, StatusCode::OK);
    h.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_webhooks_are_all_applied() {
    let tracker = Tracker::default();
    let h = spawn_local(cloud_cfg(), tracker.clone()).await.unwrap();
    let t0 = Instant::now();
    let n = 200;
    for i in 0..n {
        tracker.sent(&format!("wamid.{i}"), t0, t0);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let addr = h.addr;
        tasks.spawn(async move {
            let env = cloud_envelope("1", "2", "3", vec![status(&format!("wamid.{i}"), StatusKind::Delivered)]);
            post_signed(addr, &serde_json::to_vec(&env).unwrap()).await
        });
    }
    while let Some(st) = tasks.join_next().await {
        assert_eq!(st.unwrap(), StatusCode::OK);
    }
    h.stop().await.unwrap();
    let s = tracker.finish();
    assert_eq!(s.messages_delivered, n);
    assert_eq!(s.lost, 0);
    assert_eq!(s.unknown_ids, 0);
}

#[tokio::test]
async fn stop_closes_idle_keep_alive_connections() {
    let h = spawn_local(cloud_cfg(), Tracker::default()).await.unwrap();
    let stream = TcpStream::connect(h.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    let conn = tokio::spawn(conn);
    let body = serde_json::to_vec(&onprem_envelope(vec![])).unwrap();
    let req = Request::post("/webhook")
        .header("host", "x")
        .header("x-hub-signature-256", sign(SECRET, &body))
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    assert_eq!(sender.send_request(req).await.unwrap().status(), StatusCode::OK);
    // The client keeps its connection open; stopping must not wait for it to go away.
    tokio::time::timeout(Duration::from_secs(5), h.stop())
        .await
        .expect("stop returns while a keep-alive connection is idle")
        .unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
}

#[tokio::test]
async fn serve_runs_until_its_shutdown_future_completes() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tracker = Tracker::default();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(wabench::webhook::serve(listener, cloud_cfg(), tracker.clone(), async move {
        let _ = stopped.await;
    }));
    let t0 = Instant::now();
    tracker.sent("wamid.S", t0, t0);
    let env = cloud_envelope("1", "2", "3", vec![failed("wamid.S", 131049)]);
    assert_eq!(post_signed(addr, &serde_json::to_vec(&env).unwrap()).await, StatusCode::OK);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    let s = tracker.finish();
    assert_eq!(s.messages_failed, 1);
    assert_eq!(s.failed_by_code.get(&131049), Some(&1));
    // The port is released.
    assert!(TcpStream::connect(addr).await.is_err());
}
