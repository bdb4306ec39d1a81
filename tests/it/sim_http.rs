//! The simulator's HTTP/1.1 server on a real socket: what clients other than wabench send (pipelined
//! requests, chunked bodies, `Expect: 100-continue`, HTTP/1.0, HEAD) gets the API's answers, and what
//! it cannot read gets a status and a closed connection instead of a hang.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wabench::sim::{Flavor, SimConfig, SimHandle, spawn_local};
use wabench::spec::sim::TEST_TOKEN;

const SEND: &str = r#"{"messaging_product":"whatsapp","to":"+16505551234","type":"text","text":{"body":"hi"}}"#;

async fn sim(max_body: usize) -> (SimHandle, TcpStream) {
    let mut cfg = SimConfig::benchmark(Flavor::Cloud);
    cfg.max_body_bytes = max_body;
    let sim = spawn_local(cfg).await.unwrap();
    let conn = connect(&sim).await;
    (sim, conn)
}

async fn connect(sim: &SimHandle) -> TcpStream {
    TcpStream::connect(sim.url().trim_start_matches("http://")).await.unwrap()
}

fn post(extra: &str, body: &str) -> String {
    format!(
        "POST /v23.0/1234567890/messages HTTP/1.1\r\nHost: sim\r\nAuthorization: Bearer {TEST_TOKEN}\r\n\
         Content-Type: application/json\r\n{extra}\r\n{body}"
    )
}

fn with_length(body: &str) -> String {
    post(&format!("Content-Length: {}\r\n", body.len()), body)
}

/// One answer: status line, header fields (lower-cased names), body by its Content-Length.
#[derive(Debug)]
struct Answer {
    status_line: String,
    fields: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn status(&self) -> u16 {
        self.status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap()
    }
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }
}

/// Read one answer from `conn`, keeping what follows in `buf` (bounded: 10 s).
async fn answer(conn: &mut TcpStream, buf: &mut Vec<u8>, head_only: bool) -> Answer {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8(buf[..end].to_vec()).unwrap();
                let mut lines = head.split("\r\n");
                let status_line = lines.next().unwrap().to_string();
                let fields: Vec<(String, String)> = lines
                    .map(|l| {
                        let (n, v) = l.split_once(':').unwrap();
                        (n.trim().to_ascii_lowercase(), v.trim().to_string())
                    })
                    .collect();
                let len: usize = match head_only {
                    true => 0,
                    false => fields.iter().find(|(n, _)| n == "content-length").map_or(0, |(_, v)| v.parse().unwrap()),
                };
                while buf.len() < end + 4 + len {
                    read_more(conn, buf).await;
                }
                let body = String::from_utf8(buf[end + 4..end + 4 + len].to_vec()).unwrap();
                buf.drain(..end + 4 + len);
                return Answer { status_line, fields, body };
            }
            read_more(conn, buf).await;
        }
    })
    .await
    .expect("an answer within 10 s")
}

async fn read_more(conn: &mut TcpStream, buf: &mut Vec<u8>) {
    let mut chunk = [0u8; 4096];
    let n = conn.read(&mut chunk).await.unwrap();
    assert!(n > 0, "the connection closed; got so far: {:?}", String::from_utf8_lossy(buf));
    buf.extend_from_slice(&chunk[..n]);
}

/// The peer closes the connection with nothing more to read (bounded: 10 s).
async fn closes(conn: &mut TcpStream) {
    let mut rest = Vec::new();
    let done = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut rest)).await;
    assert!(done.is_ok(), "the connection stayed open");
    assert!(rest.is_empty(), "nothing after the answer: {:?}", String::from_utf8_lossy(&rest));
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_on_one_connection() {
    let (_sim, mut conn) = sim(64 * 1024).await;
    let bad = r#"{"messaging_product":"whatsapp"}"#;
    conn.write_all(format!("{}{}{}", with_length(SEND), with_length(bad), with_length(SEND)).as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let a = answer(&mut conn, &mut buf, false).await;
    let b = answer(&mut conn, &mut buf, false).await;
    let c = answer(&mut conn, &mut buf, false).await;
    assert_eq!((a.status(), b.status(), c.status()), (200, 400, 200), "{a:?}\n{b:?}\n{c:?}");
    assert_eq!(b.json()["error"]["code"], 131008, "a send without `to`: {}", b.body);
    let (ida, idc) = (a.json()["messages"][0]["id"].clone(), c.json()["messages"][0]["id"].clone());
    assert!(ida.is_string() && ida != idc, "{ida} {idc}");
    assert_eq!(a.field("content-type"), Some("application/json"));
    assert!(a.field("date").is_some_and(|d| d.ends_with(" GMT")), "{:?}", a.fields);
    assert!(a.field("connection").is_none(), "HTTP/1.1 keeps the connection by default");
    // Still open: one more on the same connection.
    conn.write_all(with_length(SEND).as_bytes()).await.unwrap();
    assert_eq!(answer(&mut conn, &mut buf, false).await.status(), 200);
}

#[tokio::test]
async fn chunked_bodies_and_expect_continue_are_read() {
    let (_sim, mut conn) = sim(64 * 1024).await;
    let (one, two) = SEND.split_at(20);
    let chunked = format!("{:x};note=1\r\n{one}\r\n{:X}\r\n{two}\r\n0\r\nX-Trailer: t\r\n\r\n", one.len(), two.len());
    conn.write_all(post("Transfer-Encoding: chunked\r\n", &chunked).as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let a = answer(&mut conn, &mut buf, false).await;
    assert_eq!(a.status(), 200, "{a:?}");
    // 100 Continue comes before the body is sent, then the answer.
    conn.write_all(post(&format!("Expect: 100-continue\r\nContent-Length: {}\r\n", SEND.len()), "").as_bytes())
        .await
        .unwrap();
    let interim = answer(&mut conn, &mut buf, true).await;
    assert_eq!(interim.status_line, "HTTP/1.1 100 Continue");
    conn.write_all(SEND.as_bytes()).await.unwrap();
    assert_eq!(answer(&mut conn, &mut buf, false).await.status(), 200);
}

#[tokio::test]
async fn http_1_0_and_connection_close_end_the_connection_after_the_answer() {
    let (sim, mut conn) = sim(64 * 1024).await;
    let req = with_length(SEND).replacen("HTTP/1.1", "HTTP/1.0", 1);
    conn.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let a = answer(&mut conn, &mut buf, false).await;
    assert_eq!((a.status_line.as_str(), a.field("connection")), ("HTTP/1.0 200 OK", None), "{a:?}");
    closes(&mut conn).await;
    // HTTP/1.0 asking to keep it, then HTTP/1.1 asking to close it.
    let mut conn = connect(&sim).await;
    let keep = post(&format!("Connection: keep-alive\r\nContent-Length: {}\r\n", SEND.len()), SEND)
        .replacen("HTTP/1.1", "HTTP/1.0", 1);
    conn.write_all(keep.as_bytes()).await.unwrap();
    assert_eq!(answer(&mut conn, &mut buf, false).await.field("connection"), Some("keep-alive"));
    conn.write_all(post(&format!("Connection: close\r\nContent-Length: {}\r\n", SEND.len()), SEND).as_bytes())
        .await
        .unwrap();
    let a = answer(&mut conn, &mut buf, false).await;
    assert_eq!((a.status(), a.field("connection")), (200, Some("close")));
    closes(&mut conn).await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_answered_413_by_the_api_and_the_connection_closed() {
    let (_sim, mut conn) = sim(64).await;
    // The announced length decides: the body is not read.
    conn.write_all(post("Content-Length: 5000\r\n", "{").as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let a = answer(&mut conn, &mut buf, false).await;
    assert_eq!((a.status(), a.field("connection")), (413, Some("close")), "{a:?}");
    assert!(a.json()["error"]["message"].as_str().unwrap().contains("Invalid parameter"), "{}", a.body);
    closes(&mut conn).await;
}

#[tokio::test]
async fn unreadable_requests_get_a_status_and_a_closed_connection() {
    let (sim, mut conn) = sim(64 * 1024).await;
    conn.write_all(b"THIS IS NOT HTTP\r\n\r\n").await.unwrap();
    let mut buf = Vec::new();
    assert_eq!(answer(&mut conn, &mut buf, false).await.status(), 400);
    closes(&mut conn).await;
    // A broken chunked body: the API's own 400, then closed.
    let mut conn = connect(&sim).await;
    conn.write_all(post("Transfer-Encoding: chunked\r\n", "zz\r\nxx\r\n0\r\n\r\n").as_bytes()).await.unwrap();
    let a = answer(&mut conn, &mut buf, false).await;
    assert_eq!(a.status(), 400, "{a:?}");
    assert!(a.body.contains("could not be read"), "{}", a.body);
    closes(&mut conn).await;
    // Conflicting lengths.
    let mut conn = connect(&sim).await;
    conn.write_all(post("Content-Length: 3\r\nContent-Length: 4\r\n", "abcd").as_bytes()).await.unwrap();
    assert_eq!(answer(&mut conn, &mut buf, false).await.status(), 400);
    closes(&mut conn).await;
    // None of these reached the API.
    assert_eq!(sim.stats().requests, 1, "only the chunked one was a request");
}

#[tokio::test]
async fn a_head_request_gets_the_fields_without_the_body() {
    let (_sim, mut conn) = sim(64 * 1024).await;
    conn.write_all(
        format!("HEAD /v23.0/1234567890/messages HTTP/1.1\r\nAuthorization: Bearer {TEST_TOKEN}\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    let a = answer(&mut conn, &mut buf, true).await;
    assert_eq!(a.status(), 405, "{a:?}");
    assert!(a.field("content-length").is_some_and(|l| l != "0"), "{a:?}");
    // No body followed: the next answer starts right away.
    conn.write_all(with_length(SEND).as_bytes()).await.unwrap();
    let b = answer(&mut conn, &mut buf, false).await;
    assert_eq!(b.status(), 200, "{b:?}");
}

#[tokio::test]
async fn a_chunk_size_that_would_wrap_is_answered_and_the_server_keeps_serving() {
    let (sim, mut conn) = sim(64 * 1024).await;
    // 2 + (2^64 - 2) wraps to 0 in unchecked arithmetic.
    conn.write_all(post("Transfer-Encoding: chunked\r\n", "2\r\n{}\r\nfffffffffffffffe\r\n").as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let a = answer(&mut conn, &mut buf, false).await;
    assert_eq!((a.status(), a.field("connection")), (413, Some("close")), "{a:?}");
    closes(&mut conn).await;
    // Signed sizes, HTTP/1.0 with a transfer coding, a flood of trailers: 400, then closed.
    let trailers: String = (0..200).map(|i| format!("t{i}: v\r\n")).collect();
    for (what, req) in [
        ("a + sign", post("Transfer-Encoding: chunked\r\n", &format!("+{:x}\r\n{SEND}\r\n0\r\n\r\n", SEND.len()))),
        ("HTTP/1.0", post("Transfer-Encoding: chunked\r\n", "0\r\n\r\n").replacen("HTTP/1.1", "HTTP/1.0", 1)),
        ("trailers", post("Transfer-Encoding: chunked\r\n", &format!("0\r\n{trailers}\r\n"))),
    ] {
        let mut conn = connect(&sim).await;
        conn.write_all(req.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let a = answer(&mut conn, &mut buf, false).await;
        assert_eq!((a.status(), a.field("connection")), (400, Some("close")), "{what}: {a:?}");
        closes(&mut conn).await;
    }
    let mut conn = connect(&sim).await;
    conn.write_all(with_length(SEND).as_bytes()).await.unwrap();
    assert_eq!(answer(&mut conn, &mut buf, false).await.status(), 200, "still serving");
}

/// The soft limit on open files of this process (1024 when it cannot be read).
fn open_files_limit() -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let line = limits.lines().find(|l| l.starts_with("Max open files"));
    line.and_then(|l| l.split_whitespace().nth(3)).and_then(|n| n.parse().ok()).unwrap_or(1024)
}

/// A client that sends the start of a head and then one byte every 200 ms, until the server closes
/// the connection: what it read by then, or `None` if it was still open after `guard`.
async fn trickle(mut conn: TcpStream, guard: Duration) -> Option<Vec<u8>> {
    let _ = conn.write_all(b"POST /v23.0/1234567890/messages HTTP/1.1\r\nX-Slow: ").await;
    let mut got = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let deadline = tokio::time::sleep(guard);
    tokio::pin!(deadline);
    let mut chunk = [0u8; 512];
    loop {
        tokio::select! {
            _ = &mut deadline => return None,
            read = conn.read(&mut chunk) => match read {
                Ok(0) | Err(_) => return Some(got),
                Ok(n) => got.extend_from_slice(&chunk[..n]),
            },
            _ = tick.tick() => { let _ = conn.write_all(b"x").await; }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_heads_neither_starve_a_normal_client_nor_outlive_the_header_timeout() {
    let mut cfg = SimConfig::benchmark(Flavor::Cloud);
    let timeout = Duration::from_secs(5);
    cfg.server.read_header_timeout = timeout;
    let sim = spawn_local(cfg).await.unwrap();
    let setup = std::time::Instant::now();
    // Each slow connection takes two descriptors here (client and server side).
    let slow = 1000.min(open_files_limit().saturating_sub(256) / 2);
    assert!(slow >= 100, "too few open files allowed for this test: {}", open_files_limit());
    let mut tricklers = tokio::task::JoinSet::new();
    for _ in 0..slow {
        let conn = connect(&sim).await;
        tricklers.spawn(trickle(conn, Duration::from_secs(40)));
    }
    // A normal client, while all of them trickle.
    let started = std::time::Instant::now();
    let mut conn = connect(&sim).await;
    let mut buf = Vec::new();
    for _ in 0..3 {
        conn.write_all(with_length(SEND).as_bytes()).await.unwrap();
        assert_eq!(answer(&mut conn, &mut buf, false).await.status(), 200);
    }
    let answered = started.elapsed();
    assert!(answered < Duration::from_secs(10), "3 answers took {answered:?} beside {slow} slow clients");
    // Unless this machine was too busy to open them all within the timeout, none was closed yet.
    if setup.elapsed() < timeout - Duration::from_secs(1) {
        assert!(tricklers.try_join_next().is_none(), "a slow client was closed before the header timeout");
    }
    // Every slow connection is closed by the server after the header timeout (408 first).
    let mut closed = 0;
    while let Some(done) = tricklers.join_next().await {
        let got = done.unwrap().expect("a slow connection was still open 40 s later");
        let text = String::from_utf8_lossy(&got);
        assert!(got.is_empty() || text.starts_with("HTTP/1.1 408 "), "{text}");
        closed += 1;
    }
    assert_eq!(closed, slow);
    // The server still serves: the normal client's connection was kept (answered within its idle time).
    conn.write_all(with_length(SEND).as_bytes()).await.unwrap();
    assert_eq!(answer(&mut conn, &mut buf, false).await.status(), 200);
}

#[tokio::test]
async fn idle_connections_are_closed_and_the_cap_closes_new_ones_at_once() {
    let mut cfg = SimConfig::benchmark(Flavor::Cloud);
    cfg.server.idle_timeout = Duration::from_secs(1);
    cfg.server.max_connections = 3;
    let sim = spawn_local(cfg).await.unwrap();
    let mut buf = Vec::new();
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut conn = connect(&sim).await;
        conn.write_all(with_length(SEND).as_bytes()).await.unwrap();
        assert_eq!(answer(&mut conn, &mut buf, false).await.status(), 200);
        held.push(conn);
    }
    // A fourth connection while three are open: closed without an answer.
    let mut over = connect(&sim).await;
    let _ = over.write_all(with_length(SEND).as_bytes()).await;
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), over.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "a connection beyond the cap was left waiting");
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    // The kept connections go quiet: the server closes them after the idle timeout.
    for conn in &mut held {
        closes(conn).await;
    }
    // Then there is room again.
    let mut conn = connect(&sim).await;
    conn.write_all(with_length(SEND).as_bytes()).await.unwrap();
    assert_eq!(answer(&mut conn, &mut buf, false).await.status(), 200);
}

/// `wabench simulate`, killed when dropped.
struct Simulate(std::process::Child);

impl Drop for Simulate {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn simulate_takes_its_server_limits_from_the_command_line() {
    use std::io::{BufRead, Read, Write};
    let mut child = Simulate(
        std::process::Command::new(env!("CARGO_BIN_EXE_wabench"))
            .args(["simulate", "--listen", "127.0.0.1:0", "--benchmark", "--threads", "1"])
            .args(["--read-header-timeout", "3s", "--max-connections", "2"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    std::io::BufReader::new(child.0.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    let addr = line.split("http://").nth(1).and_then(|s| s.split_whitespace().next()).expect("the address");
    let open = || {
        let c = std::net::TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c
    };
    let mut slow: Vec<_> = (0..2).map(|_| open()).collect();
    for c in &mut slow {
        c.write_all(b"POST /v23.0/1/messages HTTP/1.1\r\nHost: s").unwrap();
    }
    // Accepted after the first two (the listen queue is first in, first out).
    let mut third = open();
    let mut rest = Vec::new();
    third.read_to_end(&mut rest).expect("a connection beyond --max-connections is closed at once");
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    for mut c in slow {
        let mut got = String::new();
        c.read_to_string(&mut got).expect("closed after --read-header-timeout");
        assert!(got.starts_with("HTTP/1.1 408 "), "{got}");
    }
    let _ = child.0.kill();
    let mut err = String::new();
    child.0.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(err.matches("max_connections").count(), 1, "one line when the cap is reached: {err}");
}

#[tokio::test]
async fn a_body_trickled_past_the_idle_timeout_is_abandoned() {
    let mut cfg = SimConfig::benchmark(Flavor::Cloud);
    cfg.server.idle_timeout = Duration::from_secs(1);
    let sim = spawn_local(cfg).await.unwrap();
    let mut conn = connect(&sim).await;
    conn.write_all(post(&format!("Content-Length: {}\r\n", SEND.len()), "").as_bytes()).await.unwrap();
    // One byte every 300 ms: always moving, never whole within the second.
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    for b in SEND.bytes() {
        if conn.write_all(&[b]).await.is_err() || started.elapsed() > Duration::from_secs(10) {
            break;
        }
        let mut one = [0u8; 1];
        if let Ok(read) = tokio::time::timeout(Duration::from_millis(300), conn.read(&mut one)).await {
            rest.extend_from_slice(&one[..read.unwrap_or(0)]);
            break;
        }
    }
    assert!(started.elapsed() < Duration::from_secs(10), "the trickled body held the connection");
    assert!(rest.is_empty(), "closed unanswered: {:?}", String::from_utf8_lossy(&rest));
    assert_eq!(sim.stats().requests, 0, "the request never reached the API");
}
