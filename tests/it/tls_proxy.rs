//! TLS and proxies on the load path, the On-Premises login and the webhook handshake: a private CA
//! made for each test, a TLS front (optionally asking for a client certificate) in front of a plain
//! loopback server, and an HTTP CONNECT proxy that counts its tunnels. Runs are the `wabench` binary,
//! so that the proxy variables of its environment are set without touching this process's.

use crate::support::common;
use crate::support::sim::quick;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// A private certificate authority.
struct Ca(CertifiedIssuer<'static, KeyPair>);

/// A certificate and its key, as PEM texts and as rustls values.
struct Leaf {
    cert_pem: String,
    key_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Ca {
    fn new() -> Ca {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, "wabench test CA");
        Ca(CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap())
    }
    fn pem(&self) -> String {
        self.0.pem()
    }
    /// A certificate for `names` (DNS names or IP addresses) signed by this CA.
    fn leaf(&self, names: &[&str]) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        let cert = params.signed_by(&key, &self.0).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        }
    }
}

/// A server configuration with `leaf` offering HTTP/1.1 (and HTTP/2 with `h2`); with `clients`, a
/// client certificate signed by that CA is required.
fn server_tls(leaf: &Leaf, clients: Option<&Ca>) -> TlsAcceptor {
    server_tls_alpn(leaf, clients, &[b"http/1.1"])
}

fn server_tls_alpn(leaf: &Leaf, clients: Option<&Ca>, alpn: &[&[u8]]) -> TlsAcceptor {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let b =
        rustls::ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions().unwrap();
    let b = match clients {
        None => b.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca.0.der().clone()).unwrap();
            let v =
                rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build().unwrap();
            b.with_client_cert_verifier(v)
        }
    };
    let mut cfg = b.with_single_cert(leaf.chain.clone(), leaf.key.clone_key()).unwrap();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    TlsAcceptor::from(Arc::new(cfg))
}

/// The loopback servers of one test, on their own runtime (stopped when dropped).
struct Servers {
    rt: tokio::runtime::Runtime,
}

/// A front: accepts connections (TLS when given an acceptor) and relays them to `backend`.
struct Front {
    addr: SocketAddr,
    /// Connections accepted (TLS: handshakes completed).
    connections: Arc<AtomicU64>,
}

/// A CONNECT proxy.
struct Proxy {
    addr: SocketAddr,
    /// Tunnels opened.
    tunnels: Arc<AtomicU64>,
    /// Requests refused for want of the right Proxy-Authorization.
    refused: Arc<AtomicU64>,
}

impl Servers {
    fn new() -> Servers {
        Servers { rt: tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap() }
    }

    fn front(&self, tls: Option<TlsAcceptor>, backend: SocketAddr) -> Front {
        let l = self.rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = l.local_addr().unwrap();
        let connections = Arc::new(AtomicU64::new(0));
        let count = connections.clone();
        self.rt.spawn(async move {
            while let Ok((tcp, _)) = l.accept().await {
                let (tls, count) = (tls.clone(), count.clone());
                tokio::spawn(async move {
                    let Ok(mut out) = TcpStream::connect(backend).await else { return };
                    match tls {
                        None => {
                            count.fetch_add(1, Ordering::Relaxed);
                            let mut tcp = tcp;
                            let _ = tokio::io::copy_bidirectional(&mut tcp, &mut out).await;
                        }
                        Some(a) => {
                            if let Ok(mut s) = a.accept(tcp).await {
                                count.fetch_add(1, Ordering::Relaxed);
                                let _ = tokio::io::copy_bidirectional(&mut s, &mut out).await;
                            }
                        }
                    }
                });
            }
        });
        Front { addr, connections }
    }

    /// A CONNECT proxy; with `auth`, only requests with `Proxy-Authorization: <auth>` get a tunnel.
    fn proxy(&self, auth: Option<&str>) -> Proxy {
        let l = self.rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = l.local_addr().unwrap();
        let (tunnels, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (t, r, auth) = (tunnels.clone(), refused.clone(), auth.map(str::to_string));
        self.rt.spawn(async move {
            while let Ok((mut tcp, _)) = l.accept().await {
                let (t, r, auth) = (t.clone(), r.clone(), auth.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut b = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                        if tcp.read(&mut b).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(b[0]);
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let target = match head.split(' ').collect::<Vec<_>>()[..] {
                        ["CONNECT", target, ..] => target.to_string(),
                        _ => return,
                    };
                    if let Some(a) = &auth
                        && !head.lines().any(|l| l.eq_ignore_ascii_case(&format!("proxy-authorization: {a}")))
                    {
                        r.fetch_add(1, Ordering::Relaxed);
                        let _ = tcp.write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n").await;
                        return;
                    }
                    let Ok(mut out) = TcpStream::connect(target.as_str()).await else {
                        let _ = tcp.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                        return;
                    };
                    t.fetch_add(1, Ordering::Relaxed);
                    let _ = tcp.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await;
                    let _ = tokio::io::copy_bidirectional(&mut tcp, &mut out).await;
                });
            }
        });
        Proxy { addr, tunnels, refused }
    }
}

impl Servers {
    /// A webhook endpoint: answers the subscription handshake with its challenge and every POST with
    /// 200; counts the handshakes and the POSTs.
    fn hook_endpoint(&self) -> (SocketAddr, Arc<AtomicU64>, Arc<AtomicU64>) {
        use http_body_util::Full;
        let l = self.rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = l.local_addr().unwrap();
        let (gets, posts) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (g, p) = (gets.clone(), posts.clone());
        self.rt.spawn(async move {
            while let Ok((tcp, _)) = l.accept().await {
                let (g, p) = (g.clone(), p.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let challenge = req
                            .uri()
                            .query()
                            .unwrap_or_default()
                            .split('&')
                            .find_map(|kv| kv.strip_prefix("hub.challenge=").map(|c| c.to_string()));
                        let body = match challenge {
                            Some(c) => {
                                g.fetch_add(1, Ordering::Relaxed);
                                c
                            }
                            None => {
                                p.fetch_add(1, Ordering::Relaxed);
                                "ok".to_string()
                            }
                        };
                        async move {
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(bytes::Bytes::from(body))))
                        }
                    });
                    let io = hyper_util::rt::TokioIo::new(tcp);
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, svc).await;
                });
            }
        });
        (addr, gets, posts)
    }
}

/// What a run of the binary left: exit code, everything printed, and the results when written.
struct Ran {
    code: i32,
    printed: String,
    run: Option<wabench::results::Run>,
}

impl Ran {
    fn outcomes(&self) -> BTreeMap<String, u64> {
        let run = self
            .run
            .as_ref()
            .filter(|r| !r.targets.is_empty())
            .unwrap_or_else(|| panic!("no results: {}", self.printed));
        run.targets[0].outcomes.iter().map(|o| (o.key.clone(), o.count)).collect()
    }
}

/// Run `profile` (written with `files` into a fresh folder) with the binary; `env` is its whole
/// proxy environment (the variables of this process are removed).
fn run(profile: &str, files: &[(&str, &str)], env: &[(&str, &str)]) -> Ran {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let p = dir.path().join("p.toml");
    std::fs::write(&p, profile).unwrap();
    let out = dir.path().join("out");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wabench"));
    cmd.args(["run", p.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet", "--no-report"]);
    for v in
        ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "all_proxy", "no_proxy"]
    {
        cmd.env_remove(v);
    }
    cmd.envs(env.iter().copied());
    let o = cmd.output().expect("run wabench");
    let printed = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let run = wabench::results::read_run(&out).ok();
    Ran { code: o.status.code().unwrap_or(-1), printed, run }
}

/// 20 requests on 2 connections to `url`, with `extra` lines in the target.
fn http_profile(url: &str, extra: &str) -> String {
    format!(
        "name = \"tls\"\n[load]\nrate = 40\nduration = \"500ms\"\nconnections = 2\ntimeout = \"5s\"\n\
         [[targets]]\nname = \"t\"\nkind = \"http\"\nurl = \"{url}\"\n{extra}"
    )
}

fn only(key: &str, n: u64) -> BTreeMap<String, u64> {
    BTreeMap::from([(key.to_string(), n)])
}

#[test]
fn a_private_ca_is_trusted_through_ca_file_only() {
    let ca = Ca::new();
    let leaf = ca.leaf(&["127.0.0.1"]);
    let servers = Servers::new();
    let backend = common::start(common::Behaviour::default());
    let front = servers.front(Some(server_tls(&leaf, None)), backend.addr);
    let url = format!("https://{}/", front.addr);

    let r = run(&http_profile(&url, ""), &[], &[]);
    assert_eq!(r.outcomes(), only("tls_error", 20), "{}", r.printed);
    assert_eq!(backend.hits.load(Ordering::Relaxed), 0);

    let files = [("ca.pem", ca.pem())];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let r = run(&http_profile(&url, "tls = { ca_file = \"ca.pem\" }\n"), &files, &[]);
    assert_eq!((r.code, r.outcomes()), (0, only("ok", 20)), "{}", r.printed);
    assert_eq!(backend.hits.load(Ordering::Relaxed), 20);

    // HTTP/2 (ALPN h2) with the same trust.
    let backend2 = common::start(common::Behaviour { http2: true, ..Default::default() });
    let front2 = servers.front(Some(server_tls_alpn(&leaf, None, &[b"h2"])), backend2.addr);
    let extra = "http_version = \"2\"\ntls = { ca_file = \"ca.pem\" }\n";
    let r = run(&http_profile(&format!("https://{}/", front2.addr), extra), &files, &[]);
    assert_eq!((r.code, r.outcomes()), (0, only("ok", 20)), "{}", r.printed);
    assert_eq!(backend2.hits.load(Ordering::Relaxed), 20);
}

#[test]
fn mutual_tls_needs_the_client_certificate() {
    let ca = Ca::new();
    let server = ca.leaf(&["127.0.0.1"]);
    let client = ca.leaf(&["wabench-client"]);
    let other_ca = Ca::new();
    let stranger = other_ca.leaf(&["wabench-client"]);
    let servers = Servers::new();
    let backend = common::start(common::Behaviour::default());
    let front = servers.front(Some(server_tls(&server, Some(&ca))), backend.addr);
    let url = format!("https://{}/", front.addr);
    let files = [
        ("ca.pem", ca.pem()),
        ("client.pem", client.cert_pem.clone()),
        ("client.key", client.key_pem.clone()),
        ("stranger.pem", stranger.cert_pem.clone()),
        ("stranger.key", stranger.key_pem.clone()),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();

    // Without a certificate, or with one the server does not trust, nothing is answered (TLS 1.3
    // reports the refusal after the client's side of the handshake: a TLS or an I/O error).
    for extra in [
        "tls = { ca_file = \"ca.pem\" }\n",
        "tls = { ca_file = \"ca.pem\", client_cert = \"stranger.pem\", client_key = \"stranger.key\" }\n",
    ] {
        let r = run(&http_profile(&url, extra), &files, &[]);
        let o = r.outcomes();
        assert!(!o.contains_key("ok") && o.values().sum::<u64>() == 20, "{extra}: {o:?}");
        assert!(o.keys().all(|k| k == "tls_error" || k == "io_error"), "{o:?}");
    }
    assert_eq!(backend.hits.load(Ordering::Relaxed), 0);
    assert_eq!(front.connections.load(Ordering::Relaxed), 0, "no handshake was accepted");

    let extra = "tls = { ca_file = \"ca.pem\", client_cert = \"client.pem\", client_key = \"client.key\" }\n";
    let r = run(&http_profile(&url, extra), &files, &[]);
    assert_eq!((r.code, r.outcomes()), (0, only("ok", 20)), "{}", r.printed);
    assert_eq!(backend.hits.load(Ordering::Relaxed), 20);
}

#[test]
fn server_name_and_connect_to_keep_the_certificate_name() {
    let ca = Ca::new();
    let leaf = ca.leaf(&["api.test"]);
    let servers = Servers::new();
    let backend = common::start(common::Behaviour::default());
    let front = servers.front(Some(server_tls(&leaf, None)), backend.addr);
    let port = front.addr.port();
    let files = [("ca.pem", ca.pem())];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();

    // The certificate names api.test, not 127.0.0.1.
    let by_ip = format!("https://127.0.0.1:{port}/");
    let r = run(&http_profile(&by_ip, "tls = { ca_file = \"ca.pem\" }\n"), &files, &[]);
    assert_eq!(r.outcomes(), only("tls_error", 20));
    let r = run(&http_profile(&by_ip, "tls = { ca_file = \"ca.pem\", server_name = \"api.test\" }\n"), &files, &[]);
    assert_eq!((r.code, r.outcomes()), (0, only("ok", 20)), "{}", r.printed);

    // api.test does not resolve: connect_to sends there while SNI and Host say api.test.
    let by_name = format!("https://api.test:{port}/");
    let extra = format!("tls = {{ ca_file = \"ca.pem\" }}\nconnect_to = \"127.0.0.1:{port}\"\n");
    let r = run(&http_profile(&by_name, &extra), &files, &[]);
    assert_eq!((r.code, r.outcomes()), (0, only("ok", 20)), "{}", r.printed);
    assert_eq!(backend.hits.load(Ordering::Relaxed), 40);
}

#[test]
fn the_on_premises_login_and_the_load_share_the_private_ca() {
    use wabench::spec::sim::UserConfig;
    let ca = Ca::new();
    let leaf = ca.leaf(&["127.0.0.1"]);
    let servers = Servers::new();
    let mut cfg = quick(wabench::sim::Flavor::OnPrem);
    cfg.onprem.users =
        vec![UserConfig { username: "ops".into(), password: "Tls-test-pw-1!".into(), must_change: Some(false) }];
    cfg.recipients.undeliverable_suffixes = Vec::new();
    let sim = servers.rt.block_on(wabench::sim::spawn_local(cfg)).unwrap();
    let front = servers.front(Some(server_tls(&leaf, None)), sim.addr);
    let profile = |extra: &str| {
        format!(
            "name = \"onprem-tls\"\n[load]\nrate = 40\nduration = \"500ms\"\nconnections = 2\ntimeout = \"5s\"\n\
             [[targets]]\nname = \"op\"\nkind = \"onprem\"\nbase_url = \"https://{}\"\n\
             username_env = \"WB_TLS_USER\"\npassword_env = \"WB_TLS_PASSWORD\"\n{extra}",
            front.addr
        )
    };
    let env = [("WB_TLS_USER", "ops"), ("WB_TLS_PASSWORD", "Tls-test-pw-1!")];
    let files = [("ca.pem", ca.pem())];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();

    let r = run(&profile(""), &files, &env);
    assert_ne!(r.code, 0);
    assert!(r.printed.contains("login request") && r.printed.contains("UnknownIssuer"), "{}", r.printed);

    let r = run(&profile("tls = { ca_file = \"ca.pem\" }\n"), &files, &env);
    assert_eq!((r.code, r.outcomes()), (0, only("ok", 20)), "{}", r.printed);
    assert!(front.connections.load(Ordering::Relaxed) >= 2, "the login and the load both came through TLS");
    assert!(!r.printed.contains("Tls-test-pw-1!"));

    // Through a proxy: the login's tunnel and the load's alike.
    let proxy = servers.proxy(None);
    let before = front.connections.load(Ordering::Relaxed);
    let r =
        run(&profile(&format!("tls = {{ ca_file = \"ca.pem\" }}\nproxy = \"http://{}\"\n", proxy.addr)), &files, &env);
    assert_eq!((r.code, r.outcomes()), (0, only("ok", 20)), "{}", r.printed);
    let tunnels = proxy.tunnels.load(Ordering::Relaxed);
    assert!(tunnels >= 3, "one login and two load connections: {tunnels}");
    assert_eq!(tunnels, front.connections.load(Ordering::Relaxed) - before);
}

#[test]
fn a_profile_proxy_tunnels_every_connection_and_hides_its_password() {
    let ca = Ca::new();
    let leaf = ca.leaf(&["127.0.0.1"]);
    let servers = Servers::new();
    let backend = common::start(common::Behaviour::default());
    let tls_front = servers.front(Some(server_tls(&leaf, None)), backend.addr);
    let plain_front = servers.front(None, backend.addr);
    // "u:s3cret pw" in base64.
    let proxy = servers.proxy(Some("Basic dTpzM2NyZXQgcHc="));
    let files = [("ca.pem", ca.pem())];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let with_proxy = format!("tls = {{ ca_file = \"ca.pem\" }}\nproxy = \"http://u:s3cret%20pw@{}\"\n", proxy.addr);

    for (front, scheme) in [(&tls_front, "https"), (&plain_front, "http")] {
        let before = proxy.tunnels.load(Ordering::Relaxed);
        let r = run(&http_profile(&format!("{scheme}://{}/", front.addr), &with_proxy), &files, &[]);
        assert_eq!((r.code, r.outcomes()), (0, only("ok", 20)), "{scheme}: {}", r.printed);
        let tunnels = proxy.tunnels.load(Ordering::Relaxed) - before;
        assert!(tunnels >= 1);
        assert_eq!(tunnels, front.connections.load(Ordering::Relaxed), "{scheme}: every connection was tunnelled");
        assert!(!r.printed.contains("s3cret"));
        let stored = serde_json::to_string(&r.run.unwrap().profile).unwrap();
        assert!(stored.contains("<redacted>@127.0.0.1") && !stored.contains("s3cret"), "{stored}");
    }
    assert_eq!(proxy.refused.load(Ordering::Relaxed), 0);

    // Wrong credentials: no tunnel, every request a connection failure.
    let wrong = format!("tls = {{ ca_file = \"ca.pem\" }}\nproxy = \"http://u:wrong@{}\"\n", proxy.addr);
    let r = run(&http_profile(&format!("https://{}/", tls_front.addr), &wrong), &files, &[]);
    assert_eq!(r.outcomes(), only("connect_error", 20), "{}", r.printed);
    assert!(proxy.refused.load(Ordering::Relaxed) >= 1);

    // validate shows the proxy without its password.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
    let p = dir.path().join("p.toml");
    std::fs::write(&p, http_profile(&format!("https://{}/", tls_front.addr), &with_proxy)).unwrap();
    let (code, out, err) = common::wabench(&["validate", p.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("proxy: http://<redacted>@{}", proxy.addr)), "{out}");
    assert!(out.contains("trusts ca.pem") && !out.contains("s3cret") && !err.contains("s3cret"), "{out}");
}

#[test]
fn proxy_variables_of_the_environment_are_honoured_like_the_control_plane() {
    let ca = Ca::new();
    let leaf = ca.leaf(&["127.0.0.1"]);
    let servers = Servers::new();
    let backend = common::start(common::Behaviour::default());
    let tls_front = servers.front(Some(server_tls(&leaf, None)), backend.addr);
    let plain_front = servers.front(None, backend.addr);
    let proxy = servers.proxy(None);
    let files = [("ca.pem", ca.pem())];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let proxy_url = format!("http://{}", proxy.addr);
    let https = http_profile(&format!("https://{}/", tls_front.addr), "tls = { ca_file = \"ca.pem\" }\n");
    let http = http_profile(&format!("http://{}/", plain_front.addr), "");
    let tunnels = || proxy.tunnels.load(Ordering::Relaxed);

    let r = run(&https, &files, &[("HTTPS_PROXY", &proxy_url)]);
    assert_eq!((r.code, r.outcomes()), (0, only("ok", 20)), "{}", r.printed);
    assert!(tunnels() >= 1);
    assert_eq!(tunnels(), tls_front.connections.load(Ordering::Relaxed));

    let before = tunnels();
    let r = run(&http, &files, &[("http_proxy", &proxy_url)]);
    assert_eq!((r.code, r.outcomes()), (0, only("ok", 20)), "{}", r.printed);
    assert_eq!(tunnels() - before, plain_front.connections.load(Ordering::Relaxed));

    // HTTPS_PROXY is for https:// only; NO_PROXY and `proxy = "none"` bypass the proxy.
    let before = tunnels();
    let r = run(&http, &files, &[("HTTPS_PROXY", &proxy_url)]);
    assert_eq!(r.outcomes(), only("ok", 20));
    let r = run(&https, &files, &[("HTTPS_PROXY", &proxy_url), ("NO_PROXY", "localhost,127.0.0.1")]);
    assert_eq!(r.outcomes(), only("ok", 20));
    let r = run(&format!("{https}proxy = \"none\"\n"), &files, &[("HTTPS_PROXY", &proxy_url)]);
    assert_eq!(r.outcomes(), only("ok", 20));
    assert_eq!(tunnels(), before, "nothing went through the proxy");
    assert_eq!(backend.hits.load(Ordering::Relaxed), 100);

    // A kind of proxy the load path cannot use is an error, its credentials not shown.
    let r = run(&https, &files, &[("HTTPS_PROXY", "socks5://u:pw-77@127.0.0.1:1")]);
    assert_ne!(r.code, 0);
    assert!(r.printed.contains("not an http:// proxy") && !r.printed.contains("pw-77"), "{}", r.printed);
}

#[test]
fn bad_tls_settings_are_named_by_field_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.toml");
    let check = |extra: &str, field: &str, reason: &str| {
        std::fs::write(&p, http_profile("https://127.0.0.1:9/", extra)).unwrap();
        let (code, out, err) = common::wabench(&["validate", p.to_str().unwrap()]);
        assert_ne!(code, 0, "{out}");
        assert!(err.contains(&format!("targets[0].{field}")) && err.contains(reason), "{extra}: {err}");
    };
    check("tls = { ca_file = \"nowhere.pem\" }", "tls.ca_file", "nowhere.pem: no such file");
    std::fs::write(dir.path().join("junk.pem"), "junk").unwrap();
    check("tls = { ca_file = \"junk.pem\" }", "tls.ca_file", "no certificate");
    check("tls = { client_cert = \"junk.pem\" }", "tls.client_key", "is required");
    let ca = Ca::new();
    let (a, b) = (ca.leaf(&["a.test"]), ca.leaf(&["b.test"]));
    std::fs::write(dir.path().join("a.pem"), &a.cert_pem).unwrap();
    std::fs::write(dir.path().join("b.key"), &b.key_pem).unwrap();
    check("tls = { client_cert = \"a.pem\", client_key = \"b.key\" }", "tls.client_key", "does not go with");
    check("connect_to = \"nohost\"", "connect_to", "host:port");
    check("proxy = \"socks5://u:pw@h:1\"", "proxy", "http://");
    check("tls = { server_name = \"not a name\" }", "tls.server_name", "not a valid");

    // The login client (reqwest) can redirect the address only, and not behind a proxy.
    let onprem = |extra: &str| {
        format!(
            "name = \"x\"\n[load]\nrate = 1\nduration = \"1s\"\n[[targets]]\nname = \"op\"\nkind = \"onprem\"\n\
             base_url = \"https://wa.test:9090\"\nusername_env = \"U\"\npassword_env = \"P\"\n{extra}"
        )
    };
    for (extra, reason) in [
        ("connect_to = \"127.0.0.1:9091\"\n", "must keep the URL's port 9090"),
        ("connect_to = \"127.0.0.1:9090\"\nproxy = \"http://127.0.0.1:3128\"\n", "cannot go with `proxy`"),
    ] {
        std::fs::write(&p, onprem(extra)).unwrap();
        let (code, _, err) = common::wabench(&["validate", p.to_str().unwrap()]);
        assert!(code != 0 && err.contains("targets[0].connect_to") && err.contains(reason), "{err}");
    }
}

#[test]
fn a_webhook_target_handshakes_and_posts_through_the_proxy_with_the_private_ca() {
    let ca = Ca::new();
    let leaf = ca.leaf(&["hooks.test"]);
    let servers = Servers::new();
    let (endpoint, handshakes, posts) = servers.hook_endpoint();
    let front = servers.front(Some(server_tls(&leaf, None)), endpoint);
    let proxy = servers.proxy(None);
    let files = [("ca.pem", ca.pem()), ("secret", "hook-secret".to_string())];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    // The certificate names hooks.test: server_name, for the handshake (reqwest) and the POSTs alike.
    let profile = format!(
        "name = \"hook-tls\"\n[load]\nrate = 40\nduration = \"500ms\"\nconnections = 2\ntimeout = \"5s\"\n\
         [[targets]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"https://127.0.0.1:{port}/wa\"\n\
         tls = {{ ca_file = \"ca.pem\", server_name = \"hooks.test\" }}\nproxy = \"http://{proxy}\"\n\
         [targets.webhook]\napp_secret_file = \"secret\"\nverify_token_env = \"WB_TLS_VERIFY\"\n",
        port = front.addr.port(),
        proxy = proxy.addr
    );
    let r = run(&profile, &files, &[("WB_TLS_VERIFY", "vt-1")]);
    assert_eq!((r.code, r.outcomes()), (0, only("ok", 20)), "{}", r.printed);
    assert_eq!(handshakes.load(Ordering::Relaxed), 1);
    assert_eq!(posts.load(Ordering::Relaxed), 20);
    let tunnels = proxy.tunnels.load(Ordering::Relaxed);
    assert!(tunnels >= 2, "the handshake and the POSTs: {tunnels}");
    assert_eq!(tunnels, front.connections.load(Ordering::Relaxed));
}
