//! The shared HTTP/1.1 framing (`wabench::units::http1`, used by the load path's client and the
//! simulator) frames requests the way hyper's server does: random heads built from valid and invalid
//! `Content-Length`, `Transfer-Encoding` and `Connection` fields, in HTTP/1.0 and 1.1, are sent to a
//! hyper server on loopback; where the framing accepts a request hyper answers it with the same body
//! length and the same keep-alive decision, and where the framing refuses one hyper answers 400.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wabench::units::http1::{self, Body, ChunkedDecoder, Role, Step};

/// A hyper HTTP/1 server answering each request with the length of the body it read.
async fn hyper_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let svc = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                    let (status, n) = match req.into_body().collect().await {
                        Ok(b) => (200, b.to_bytes().len()),
                        Err(_) => (500, 0),
                    };
                    let resp = hyper::Response::builder().status(status).body(Full::new(Bytes::from(n.to_string())));
                    Ok::<_, std::convert::Infallible>(resp.unwrap())
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(sock), svc)
                    .await;
            });
        }
    });
    addr
}

/// What hyper answered: the status, the body length it read (200) and whether it closes.
async fn ask(addr: SocketAddr, bytes: &[u8]) -> Option<(u16, Option<usize>, bool)> {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let _ = s.shutdown().await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).to_ascii_lowercase();
    let status: u16 = text.get(9..12)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").and_then(|(_, b)| b.parse().ok());
    Some((status, body, text.contains("connection: close")))
}

const FIELDS: &[&str] = &[
    "Content-Length: 3",
    "Content-Length: 5",
    "Content-Length: 0",
    "Content-Length: 05",
    "Content-Length:  5 ",
    "Content-Length: +5",
    "Content-Length: -1",
    "Content-Length: 5, 5",
    "Content-Length: 1e1",
    "Content-Length: 99999999999999999999",
    "Transfer-Encoding: chunked",
    "Transfer-Encoding: gzip, chunked",
    "Transfer-Encoding: CHUNKED",
    "Transfer-Encoding: chunked, gzip",
    "Transfer-Encoding: gzip",
    "Transfer-Encoding: identity",
    "Connection: close",
    "Connection: keep-alive",
    "Connection: Keep-Alive, close",
];

/// The body to send for a framing: what it announces.
fn body_for(body: Body) -> Vec<u8> {
    match body {
        Body::Length(n) => vec![b'x'; n as usize],
        Body::Chunked => b"3;e=1\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n".to_vec(),
        Body::None | Body::UntilClose => Vec::new(),
    }
}

/// The body length the shared decoder reads from `bytes` for `body`.
fn decoded_len(body: Body, bytes: &[u8]) -> usize {
    match body {
        Body::Chunked => {
            let mut d = ChunkedDecoder::new(1 << 20);
            let (mut at, mut n) = (0, 0);
            loop {
                match d.step(&bytes[at..]).unwrap() {
                    Step::Framing(k) => at += k,
                    Step::Data(k) => {
                        at += k;
                        n += k;
                    }
                    Step::Done(_) => return n,
                    Step::NeedMore => panic!("the chunked body sent is whole"),
                }
            }
        }
        _ => bytes.len(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn requests_are_framed_as_hyper_frames_them(
        picks in proptest::collection::vec(0..FIELDS.len(), 0..4),
        http10 in any::<bool>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let fields: Vec<&str> = picks.iter().map(|&i| FIELDS[i]).collect();
        let parsed: Vec<(&str, &[u8])> = fields
            .iter()
            .map(|f| {
                let (n, v) = f.split_once(':').unwrap();
                (n, v.trim().as_bytes())
            })
            .collect();
        let ours = http1::framing(Role::Request, http10, parsed.iter().copied());
        let version = if http10 { "1.0" } else { "1.1" };
        let mut req = format!("POST /x HTTP/{version}\r\nHost: t\r\n");
        for f in &fields {
            req.push_str(f);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        let body = ours.map(|f| body_for(f.body)).unwrap_or_default();
        bytes.extend_from_slice(&body);
        let theirs = rt.block_on(async { ask(hyper_server().await, &bytes).await });
        match (ours, theirs) {
            (Ok(f), Some((200, Some(n), closes))) => {
                prop_assert_eq!(n, decoded_len(f.body, &body), "{:?}", fields);
                if !http10 {
                    prop_assert_eq!(closes, !f.keep_alive, "keep-alive of {:?}", fields);
                }
            }
            (Err(_), Some((400, _, _))) => {}
            (ours, theirs) => prop_assert!(false, "{fields:?} (HTTP/{version}): ours {ours:?}, hyper {theirs:?}"),
        }
    }
}
