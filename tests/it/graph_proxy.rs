//! The simulator served as `https://graph.facebook.com` behind the CONNECT proxy of a conversation
//! target's `graph_proxy`, with a certificate authority made for the run. Loopback only: the proxy
//! never dials anything but the simulator's address, and no test here resolves or reaches the real
//! `graph.facebook.com` (the clients send every request through the proxy, which never resolves the
//! names it is asked for).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wabench::sim::Flavor;
use wabench::sim::graph_proxy::{GraphCa, GraphProxy};

use crate::conversation::{free_port, profile, started_bot, stats};
use crate::support::common;
use crate::support::sim::{quick, text_to};

/// A client that sends HTTPS through the proxy at `proxy` and trusts only `ca`.
fn client(proxy: std::net::SocketAddr, ca: &GraphCa) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cert = reqwest::Certificate::from_pem(ca.ca_pem().as_bytes()).unwrap();
    reqwest::Client::builder()
        .proxy(reqwest::Proxy::https(format!("http://{proxy}")).unwrap())
        .tls_certs_only([cert])
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Send a raw request head to the proxy and read its whole answer (it closes after a refusal).
async fn raw(proxy: std::net::SocketAddr, head: &str) -> String {
    let mut s = TcpStream::connect(proxy).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await.unwrap().unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn the_simulator_answers_as_graph_facebook_com_through_the_proxy_and_nothing_else_gets_a_tunnel() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let sim = wabench::sim::spawn_local(quick(Flavor::Cloud)).await.unwrap();
        let ca = GraphCa::generate().unwrap();
        assert!(ca.ca_pem().starts_with("-----BEGIN CERTIFICATE-----") && !ca.ca_pem().contains("PRIVATE KEY"));
        let proxy = GraphProxy::spawn("127.0.0.1:0".parse().unwrap(), &ca, sim.addr).await.unwrap();

        // A Cloud API send to graph.facebook.com, as a bot makes it: through the tunnel, the CA trusted.
        let c = client(proxy.addr, &ca);
        for _ in 0..3 {
            let r = c
                .post("https://graph.facebook.com/v23.0/1234567890/messages")
                .bearer_auth("wabench-embedded-token")
                .json(&text_to("+1 650 555 1234"))
                .send()
                .await
                .expect("the send through the proxy");
            assert_eq!(r.status(), 200);
            let body: serde_json::Value = r.json().await.unwrap();
            assert!(body["messages"][0]["id"].as_str().is_some_and(|id| id.starts_with("wamid.")), "{body}");
        }
        assert_eq!(sim.sim().stats().accepted, 3, "the simulator took every send");
        let s = proxy.stats();
        assert!(s.tunnels >= 1, "{s:?}");
        assert_eq!((s.tls_failed, s.upstream_failed, s.refused), (0, 0, 0), "{s:?}");

        // Another CONNECT target is refused and never dialled: a loopback listener of the test's, named
        // to the proxy, gets no connection.
        let bystander = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let other = bystander.local_addr().unwrap();
        let answer = raw(proxy.addr, &format!("CONNECT {other} HTTP/1.1\r\nHost: {other}\r\n\r\n")).await;
        assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
        assert!(answer.contains("graph.facebook.com:443 only"), "{answer}");
        let answer = raw(proxy.addr, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
        // The Graph API's host on another port, and a plain (unencrypted) proxy request, are refused too.
        let answer = raw(proxy.addr, "CONNECT graph.facebook.com:80 HTTP/1.1\r\n\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
        let answer = raw(proxy.addr, "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
        let accepted = tokio::time::timeout(Duration::from_millis(300), bystander.accept()).await;
        assert!(accepted.is_err(), "the proxy dialled a host it refused");

        // A client that does not trust the run's CA fails its handshake in the tunnel.
        let stranger = client(proxy.addr, &GraphCa::generate().unwrap());
        let e = stranger
            .post("https://graph.facebook.com/v23.0/1234567890/messages")
            .bearer_auth("wabench-embedded-token")
            .json(&text_to("+1 650 555 1234"))
            .send()
            .await
            .expect_err("a certificate from an untrusted CA");
        assert!(e.is_connect(), "{e:?}");
        assert_eq!(sim.sim().stats().accepted, 3, "nothing reached the simulator without a trusted handshake");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while proxy.stats().tls_failed == 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        let s = proxy.stop().await;
        assert_eq!(s.refused, 4, "{s:?}");
        let hosts: Vec<(&str, u64)> = s.refused_hosts.iter().map(|(h, n)| (h.as_str(), *n)).collect();
        let other = other.to_string();
        let mut want =
            vec![(other.as_str(), 1), ("example.com", 1), ("example.com:443", 1), ("graph.facebook.com:80", 1)];
        want.sort();
        assert_eq!(hosts, want, "{s:?}");
        assert_eq!(s.tls_failed, 1, "the stranger's handshake: {s:?}");
        let _ = sim.shutdown().await;
    });
}

#[test]
fn a_bot_behind_the_proxy_replies_to_every_turn_through_graph_facebook_com() {
    let url = format!("http://127.0.0.1:{}/webhook", free_port());
    let table = format!(
        "texts = [\"hi\", \"menu\"]\nreply_timeout = \"10s\"\ngraph_proxy = \"127.0.0.1:0\"\n{}",
        started_bot(&[])
    );
    let text = profile(&url, 10, "1s", &table);
    let (f, _dir) = common::run_guarded(&text, &[], Duration::from_secs(180));
    let s = stats(&f);
    assert_eq!((s.turns, s.answered, s.unanswered, s.not_delivered), (10, 10, 0, 0), "{s:?}");
    assert!(s.failed_replies.is_empty(), "{s:?}");
    let extra = f.run.targets[0].extra.as_ref().unwrap();
    let proxy = &extra["graph_proxy"];
    assert!(proxy["tunnels"].as_u64().is_some_and(|n| n > 0), "{proxy}");
    assert_eq!((proxy["tls_failed"].as_u64(), proxy["refused"].as_u64()), (Some(0), Some(0)), "{proxy}");
    assert_eq!(extra["simulator"]["accepted"], 10, "every reply went through the proxy to the simulator");
    let log = std::fs::read_to_string(f.dir.join("bot.bot.log")).unwrap();
    assert!(log.contains("replying through https://graph.facebook.com"), "{log}");
    assert!(log.contains("bot stopped: 10 replies sent, 0 failed"), "{log}");
    // The CA's certificate is kept with the results (never a key).
    let pem = std::fs::read_to_string(f.dir.join("bot.graph-ca.pem")).expect("the run's CA certificate");
    assert!(pem.contains("BEGIN CERTIFICATE") && !pem.contains("PRIVATE KEY"), "{pem}");
}
