//! The simulator served as `graph.facebook.com`, for a bot that cannot change its Graph API address:
//! an HTTP CONNECT proxy on a loopback port that opens a tunnel only to `graph.facebook.com:443`,
//! terminates the tunnel's TLS with a certificate for that name signed by a private CA made for the
//! run ([`GraphCa`]), and relays the decrypted HTTP/1.1 byte stream to the simulator's plain address.
//! Anything else asked of it (another CONNECT target, a plain HTTP proxy request) is answered 403 and
//! counted by host.
//!
//! The proxy never dials anything but the simulator's address it was started with: the host a client
//! names only decides between that and a refusal.
//!
//! A client trusts the run's CA (its PEM, never a key, is what [`GraphCa::ca_pem`] gives) and uses the
//! proxy for HTTPS (`HTTPS_PROXY=http://<addr>`); the bot then sends to `https://graph.facebook.com`
//! as it would in production.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;

/// The one host the proxy opens a tunnel to.
pub const GRAPH_HOST: &str = "graph.facebook.com";

/// Longest request head the proxy reads before answering (a CONNECT line and a few headers).
const MAX_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request head, and to complete the TLS handshake.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Most distinct refused hosts counted by name; the others are counted together as `(other)`.
const MAX_HOSTS: usize = 64;

/// A private certificate authority made for one run, and the certificate for `graph.facebook.com`
/// it signed. Only the CA's certificate ever leaves the process.
pub struct GraphCa {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    leaf: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl GraphCa {
    /// A new CA (ECDSA P-256) and a server certificate for `graph.facebook.com` signed by it.
    pub fn generate() -> Result<GraphCa, String> {
        let err = |e: rcgen::Error| format!("cannot make the run's certificate authority: {e}");
        let mut p = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        p.distinguished_name.push(DnType::CommonName, "wabench run CA (simulated graph.facebook.com)");
        p.distinguished_name.push(DnType::OrganizationName, "wabench");
        let ca = CertifiedIssuer::self_signed(p, KeyPair::generate().map_err(err)?).map_err(err)?;
        let key = KeyPair::generate().map_err(err)?;
        let mut p = CertificateParams::new(vec![GRAPH_HOST.to_string()]).map_err(err)?;
        p.distinguished_name.push(DnType::CommonName, GRAPH_HOST);
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.use_authority_key_identifier_extension = true;
        let cert = p.signed_by(&key, &ca).map_err(err)?;
        Ok(GraphCa {
            ca_pem: ca.pem(),
            ca_der: ca.der().clone(),
            leaf: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        })
    }

    /// The CA's certificate (PEM): what a client adds to its trust store.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The CA's certificate (DER).
    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.ca_der
    }

    /// The TLS server side of a tunnel: the leaf certificate, HTTP/1.1 only (the simulator's protocol).
    fn acceptor(&self) -> Result<TlsAcceptor, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(self.leaf.clone(), self.key.clone_key())
            .map_err(|e| format!("the run's graph.facebook.com certificate: {e}"))?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(cfg)))
    }
}

/// What the proxy saw (`extra.graph_proxy` in run.json).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProxyStats {
    /// Tunnels opened to `graph.facebook.com:443` (CONNECTs answered 200).
    pub tunnels: u64,
    /// Tunnels whose TLS handshake failed (a client that does not trust the run's CA, or no TLS).
    pub tls_failed: u64,
    /// Tunnels whose connection to the simulator failed.
    pub upstream_failed: u64,
    /// Requests refused (403): another CONNECT target, a plain HTTP proxy request, a bad request.
    pub refused: u64,
    /// The refused requests by the host they asked for (`host:port` of a CONNECT; the host of a plain
    /// request's URL; `(unreadable)` for a head that does not parse).
    pub refused_hosts: BTreeMap<String, u64>,
}

#[derive(Default)]
struct Counters {
    tunnels: AtomicU64,
    tls_failed: AtomicU64,
    upstream_failed: AtomicU64,
    refused: AtomicU64,
    refused_hosts: Mutex<BTreeMap<String, u64>>,
}

impl Counters {
    fn refuse(&self, host: &str) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        let mut hosts = self.refused_hosts.lock().unwrap_or_else(|p| p.into_inner());
        let key = if hosts.contains_key(host) || hosts.len() < MAX_HOSTS { host } else { "(other)" };
        *hosts.entry(key.to_string()).or_default() += 1;
    }

    fn stats(&self) -> ProxyStats {
        ProxyStats {
            tunnels: self.tunnels.load(Ordering::Relaxed),
            tls_failed: self.tls_failed.load(Ordering::Relaxed),
            upstream_failed: self.upstream_failed.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            refused_hosts: self.refused_hosts.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }
}

/// What a client asked the proxy for.
#[derive(Debug, PartialEq, Eq)]
enum Asked {
    /// `CONNECT graph.facebook.com:443`.
    Graph,
    /// Anything else, by the host it names.
    Other(String),
}

/// Read what the request head asks for: a tunnel to the Graph API, or anything else.
fn asked(head: &[u8]) -> Asked {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let (method, target) = match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => (req.method.unwrap_or(""), req.path.unwrap_or("")),
        _ => return Asked::Other("(unreadable)".into()),
    };
    let target = target.to_ascii_lowercase();
    if method == "CONNECT" {
        return if target == format!("{GRAPH_HOST}:443") { Asked::Graph } else { Asked::Other(shown(&target)) };
    }
    // A plain proxy request names an absolute URL (`GET http://host/…`); anything else, its Host.
    let host = match target.split_once("://") {
        Some((_, rest)) => rest.split(['/', '?', '#']).next().unwrap_or("").to_string(),
        None => req
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("host"))
            .map(|h| String::from_utf8_lossy(h.value).to_ascii_lowercase())
            .unwrap_or_default(),
    };
    Asked::Other(shown(&host))
}

/// A host as counted: printable, bounded.
fn shown(host: &str) -> String {
    let h: String = host.chars().filter(|c| c.is_ascii_graphic()).take(120).collect();
    if h.is_empty() { "(none)".into() } else { h }
}

/// Read a request head (up to the blank line) without reading past it: what follows is the tunnel's.
async fn read_head<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    loop {
        let n = (&mut *r).take((MAX_HEAD - head.len()) as u64).read_until(b'\n', &mut head).await?;
        if n == 0 || head.ends_with(b"\r\n\r\n") || head.ends_with(b"\n\n") || head.len() >= MAX_HEAD {
            return Ok(head);
        }
    }
}

/// The proxy running on a task of the current runtime.
pub struct GraphProxy {
    /// Where it listens.
    pub addr: SocketAddr,
    counters: Arc<Counters>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl GraphProxy {
    /// Listen on `listen` and serve tunnels to `graph.facebook.com:443` with `ca`'s certificate,
    /// relayed to the simulator at `simulator` (its plain HTTP address).
    pub async fn spawn(listen: SocketAddr, ca: &GraphCa, simulator: SocketAddr) -> Result<GraphProxy, String> {
        Self::spawn_tls(listen, ca.acceptor()?, simulator).await
    }

    async fn spawn_tls(listen: SocketAddr, tls: TlsAcceptor, simulator: SocketAddr) -> Result<GraphProxy, String> {
        let listener = TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let counters = Arc::new(Counters::default());
        let (stop, mut stopped) = oneshot::channel::<()>();
        let c = counters.clone();
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    accepted = listener.accept() => {
                        while conns.try_join_next().is_some() {}
                        if let Ok((tcp, _)) = accepted {
                            let _ = tcp.set_nodelay(true);
                            conns.spawn(serve(tcp, tls.clone(), simulator, c.clone()));
                        }
                    }
                }
            }
            conns.shutdown().await;
        });
        Ok(GraphProxy { addr, counters, stop: Some(stop), task: Some(task) })
    }

    /// Its counters so far.
    pub fn stats(&self) -> ProxyStats {
        self.counters.stats()
    }

    /// Stop it (tunnels still open are closed); its counters.
    pub async fn stop(mut self) -> ProxyStats {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        self.counters.stats()
    }
}

impl Drop for GraphProxy {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// One client connection: its request head, then a tunnel or a refusal.
async fn serve(tcp: TcpStream, tls: TlsAcceptor, simulator: SocketAddr, c: Arc<Counters>) {
    let mut conn = BufReader::new(tcp);
    let head = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut conn)).await {
        Ok(Ok(h)) if !h.is_empty() => h,
        _ => return,
    };
    match asked(&head) {
        Asked::Other(host) => {
            c.refuse(&host);
            let text = format!(
                "wabench's proxy opens tunnels to {GRAPH_HOST}:443 only (the simulated Graph API), not to {host}\n"
            );
            let answer = format!(
                "HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
            let _ = conn.write_all(answer.as_bytes()).await;
            let _ = conn.shutdown().await;
        }
        Asked::Graph => {
            c.tunnels.fetch_add(1, Ordering::Relaxed);
            if conn.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await.is_err() {
                return;
            }
            // Bytes the client sent after its head (the start of its handshake) stay in the buffer
            // and are read by the TLS side first.
            let mut client = match tokio::time::timeout(HEAD_TIMEOUT, tls.accept(conn)).await {
                Ok(Ok(s)) => s,
                _ => {
                    c.tls_failed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            };
            // The only address this proxy ever dials.
            let mut upstream = match TcpStream::connect(simulator).await {
                Ok(s) => s,
                Err(_) => {
                    c.upstream_failed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            };
            let _ = upstream.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        }
    }
}

/// A proxy on its own thread and runtime, for a run: started with [`Background::start`], stopped with
/// [`Background::finish`].
pub struct Background {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Option<ProxyStats>>>,
}

impl Background {
    /// Start the proxy on `listen` in front of the simulator at `simulator`.
    pub fn start(listen: SocketAddr, ca: &GraphCa, simulator: SocketAddr) -> Result<Background, String> {
        let (tx, rx) = std::sync::mpsc::channel::<Result<SocketAddr, String>>();
        let (stop, stopped) = oneshot::channel::<()>();
        let tls = ca.acceptor()?;
        let thread = std::thread::Builder::new()
            .name("wabench-graph-proxy".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(format!("cannot start a runtime: {e}")));
                        return None;
                    }
                };
                rt.block_on(async move {
                    match GraphProxy::spawn_tls(listen, tls, simulator).await {
                        Ok(p) => {
                            let _ = tx.send(Ok(p.addr));
                            let _ = stopped.await;
                            Some(p.stop().await)
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            None
                        }
                    }
                })
            })
            .map_err(|e| format!("cannot start the proxy thread: {e}"))?;
        let addr = rx.recv().map_err(|_| "the proxy thread ended before starting".to_string())??;
        Ok(Background { addr, stop: Some(stop), thread: Some(thread) })
    }

    /// Stop it; its counters.
    pub fn finish(mut self) -> ProxyStats {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.thread.take().and_then(|t| t.join().ok().flatten()).unwrap_or_default()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_connect_to_the_graph_api_gets_a_tunnel() {
        let a = |s: &str| asked(s.as_bytes());
        assert_eq!(a("CONNECT graph.facebook.com:443 HTTP/1.1\r\nHost: graph.facebook.com:443\r\n\r\n"), Asked::Graph);
        assert_eq!(a("CONNECT Graph.Facebook.com:443 HTTP/1.1\r\n\r\n"), Asked::Graph);
        assert_eq!(a("CONNECT graph.facebook.com:80 HTTP/1.1\r\n\r\n"), Asked::Other("graph.facebook.com:80".into()));
        assert_eq!(a("CONNECT example.com:443 HTTP/1.1\r\n\r\n"), Asked::Other("example.com:443".into()));
        assert_eq!(
            a("GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n"),
            Asked::Other("example.com".into())
        );
        assert_eq!(
            a("GET http://graph.facebook.com/v23.0 HTTP/1.1\r\n\r\n"),
            Asked::Other("graph.facebook.com".into()),
            "a plain request is refused even to the Graph API's host"
        );
        assert_eq!(a("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"), Asked::Other("a.test".into()));
        assert_eq!(a("\x16\x03\x01garbage\r\n\r\n"), Asked::Other("(unreadable)".into()));
    }

    #[test]
    fn refused_hosts_are_bounded() {
        let c = Counters::default();
        for i in 0..(MAX_HOSTS + 10) {
            c.refuse(&format!("h{i}.test:443"));
        }
        c.refuse("h0.test:443");
        let s = c.stats();
        assert_eq!(s.refused, MAX_HOSTS as u64 + 11);
        assert_eq!(s.refused_hosts.len(), MAX_HOSTS + 1);
        assert_eq!(s.refused_hosts["(other)"], 10);
        assert_eq!(s.refused_hosts["h0.test:443"], 2);
    }
}
