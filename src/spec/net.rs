//! How a target is reached: its `[targets.tls]` table (extra CA, client certificate for mutual TLS,
//! certificate name), `connect_to` and `proxy`, checked from the profile and made into the one rustls
//! client configuration and proxy choice that every client of the target shares (load connections,
//! On-Premises login, webhook handshake). Trust = the system store + the bundled Mozilla roots +
//! `ca_file`. It opens no connection.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use ::http::HeaderValue;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use serde::{Deserialize, Serialize};

use super::TargetSpec;
pub use super::endpoint::redact_url;
use super::endpoint::{Endpoint, host_and_port};

/// `[targets.tls]`: files are PEM, named relative to the profile's folder (never inline secrets).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsSpec {
    /// CA certificates trusted besides the system store and the bundled roots (a private CA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Certificate chain (leaf first) shown to a server that asks for one (mutual TLS); needs
    /// `client_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<PathBuf>,
    /// The private key of `client_cert` (PKCS#8, PKCS#1 or SEC1 PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<PathBuf>,
    /// The name sent as SNI and looked for in the server's certificate, instead of the URL's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
}

/// A problem with a target's network settings: the field (below the target) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetError {
    pub field: &'static str,
    pub reason: String,
}

fn fail(field: &'static str, reason: impl Into<String>) -> NetError {
    NetError { field, reason: reason.into() }
}

/// An HTTP proxy (`http://[user:password@]host:port`); the credentials are a secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    pub host: String,
    pub port: u16,
    /// `Basic …` from the URL's userinfo.
    pub auth: Option<HeaderValue>,
    /// The URL as written (with its credentials), for reqwest.
    raw: String,
}

impl std::fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.shown())
    }
}

impl ProxyUrl {
    /// Parse `http://[user:password@]host[:port]` (port 80 by default).
    pub fn parse(url: &str) -> Result<ProxyUrl, String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            format!(
                "{:?}: a proxy is an http:// URL (or \"none\"); https:// proxies are not supported",
                redact_url(url)
            )
        })?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = host_and_port(hostport).map_err(|r| format!("{:?}: {r}", redact_url(url)))?;
        let auth = userinfo.map(|u| {
            let (user, pass) = u.split_once(':').unwrap_or((u, ""));
            basic(&percent_decode(user), &percent_decode(pass))
        });
        Ok(ProxyUrl { host, port: port.unwrap_or(80), auth, raw: url.to_string() })
    }

    /// The credentials of the URL's userinfo (user, password, the pair and their spellings), to be
    /// removed from any text a server sends back.
    pub fn secrets(&self) -> crate::units::redact::Secrets {
        let rest = self.raw.split_once("://").map_or(self.raw.as_str(), |(_, r)| r);
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let Some((userinfo, _)) = authority.rsplit_once('@') else { return crate::units::redact::Secrets::new() };
        let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        crate::units::redact::Secrets::new().with_basic(&percent_decode(user), &percent_decode(pass)).with(userinfo)
    }

    /// `http://host:port`, credentials shown as `<redacted>`.
    pub fn shown(&self) -> String {
        let user = if self.auth.is_some() { "<redacted>@" } else { "" };
        format!("http://{user}{}", host_port(&self.host, self.port))
    }
}

fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

fn basic(user: &str, pass: &str) -> HeaderValue {
    use base64::Engine;
    let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    let mut h = HeaderValue::from_str(&format!("Basic {b}")).unwrap_or(HeaderValue::from_static("Basic"));
    h.set_sensitive(true);
    h
}

/// `%XX` decoded (invalid escapes stay as written).
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Which proxy a target's connections go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proxy {
    /// `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` / `NO_PROXY` (and lowercase), as reqwest reads them.
    Env,
    /// None (`proxy = "none"`, and embedded targets).
    Off,
    /// `proxy = "http://…"` for every request of the target.
    Url(ProxyUrl),
}

impl Proxy {
    /// The proxy of a request to `ep` (`None`: connect directly). An environment proxy the load path
    /// cannot use (https://, socks5://) is an error naming it, credentials redacted.
    pub fn for_endpoint(&self, ep: &Endpoint) -> Result<Option<ProxyUrl>, String> {
        match self {
            Proxy::Off => Ok(None),
            Proxy::Url(u) => Ok(Some(u.clone())),
            Proxy::Env => {
                let Ok(uri) = ep.url().parse::<::http::Uri>() else { return Ok(None) };
                let Some(i) = hyper_util::client::proxy::matcher::Matcher::from_env().intercept(&uri) else {
                    return Ok(None);
                };
                let shown = redact_url(&i.uri().to_string());
                if i.uri().scheme_str() != Some("http") {
                    return Err(format!(
                        "the environment's proxy {shown} for {} is not an http:// proxy (the only kind \
                         supported); set `proxy` on the target, or NO_PROXY",
                        ep.shown()
                    ));
                }
                let authority = i.uri().authority().map_or("", |a| a.as_str());
                let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
                let (host, port) = host_and_port(hostport)
                    .map_err(|r| format!("the environment's proxy {shown} for {}: {r}", ep.shown()))?;
                Ok(Some(ProxyUrl {
                    host,
                    port: port.unwrap_or(80),
                    auth: i.basic_auth().cloned(),
                    raw: i.uri().to_string(),
                }))
            }
        }
    }
}

/// How one target is reached: built once per run, shared by its clients.
#[derive(Clone)]
pub struct Net {
    /// Trust, client identity and certificate name; no ALPN (each client sets its own).
    tls: Arc<rustls::ClientConfig>,
    pub insecure: bool,
    /// Sent as SNI and checked in the certificate instead of the URL's host.
    pub server_name: Option<String>,
    /// Connect to this host and port instead of the URL's (the URL's host stays in SNI and Host).
    pub connect_to: Option<(String, u16)>,
    pub proxy: Proxy,
}

impl std::fmt::Debug for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Net")
            .field("insecure", &self.insecure)
            .field("server_name", &self.server_name)
            .field("connect_to", &self.connect_to)
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}

/// The system's trust store (read once per process; `SSL_CERT_FILE` / `SSL_CERT_DIR` are honoured)
/// and the bundled Mozilla roots.
fn base_roots() -> &'static rustls::RootCertStore {
    static ROOTS: OnceLock<rustls::RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let _ = roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        roots
    })
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Certificates of a PEM file (at least one).
fn read_certs(field: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, NetError> {
    if !path.is_file() {
        return Err(fail(field, format!("{}: no such file", path.display())));
    }
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| fail(field, format!("{}: not a PEM certificate file: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(fail(
            field,
            format!("{}: no certificate in the file (expected PEM \"BEGIN CERTIFICATE\")", path.display()),
        ));
    }
    Ok(certs)
}

impl Net {
    /// Direct connections trusting the system store and the bundled roots: embedded targets, the
    /// simulator's webhook sender.
    pub fn direct() -> Net {
        // Only the bundled roots and the system store: nothing the user wrote can make this fail.
        Net::build(&TlsSpec::default(), Path::new("."), false, None, Proxy::Off)
            .expect("the bundled roots make a valid TLS configuration")
    }

    /// [`Net::direct`], made once per process.
    pub fn shared_direct() -> Arc<Net> {
        static DIRECT: OnceLock<Arc<Net>> = OnceLock::new();
        DIRECT.get_or_init(|| Arc::new(Net::direct())).clone()
    }

    /// The settings of a profile target (`base_dir`: the profile's folder). An embedded target is
    /// always reached directly.
    pub fn of_target(spec: &TargetSpec, base_dir: &Path) -> Result<Net, NetError> {
        let connect_to = spec.connect_to.as_deref().map(parse_connect_to).transpose()?;
        let proxy = match spec.proxy.as_deref() {
            _ if spec.is_embedded() || spec.is_embedded_receiver() => Proxy::Off,
            None => Proxy::Env,
            Some("none") => Proxy::Off,
            Some(u) => Proxy::Url(ProxyUrl::parse(u).map_err(|r| fail("proxy", r))?),
        };
        let tls = spec.tls.clone().unwrap_or_default();
        Net::build(&tls, base_dir, spec.insecure_tls, connect_to, proxy)
    }

    fn build(
        t: &TlsSpec,
        base_dir: &Path,
        insecure: bool,
        connect_to: Option<(String, u16)>,
        proxy: Proxy,
    ) -> Result<Net, NetError> {
        let provider = provider();
        let mut roots = base_roots().clone();
        if let Some(f) = &t.ca_file {
            let path = base_dir.join(f);
            let (added, _) = roots.add_parsable_certificates(read_certs("tls.ca_file", &path)?);
            if added == 0 {
                return Err(fail("tls.ca_file", format!("{}: no usable CA certificate in the file", path.display())));
            }
        }
        let server_name = match &t.server_name {
            Some(n) => {
                ServerName::try_from(n.clone())
                    .map_err(|e| fail("tls.server_name", format!("{n:?} is not a valid TLS server name: {e}")))?;
                Some(n.clone())
            }
            None => None,
        };
        let verifier: Arc<dyn ServerCertVerifier> = if insecure {
            Arc::new(AcceptAny(provider.clone()))
        } else {
            let v = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| fail("tls.ca_file", e.to_string()))?;
            match &server_name {
                Some(n) => Arc::new(NameOverride {
                    inner: v,
                    name: ServerName::try_from(n.clone()).map_err(|e| fail("tls.server_name", e.to_string()))?,
                }),
                None => v,
            }
        };
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| fail("tls", e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let cfg = match (&t.client_cert, &t.client_key) {
            (None, None) => builder.with_no_client_auth(),
            (Some(_), None) => return Err(fail("tls.client_key", "is required with `client_cert` (its private key)")),
            (None, Some(_)) => return Err(fail("tls.client_cert", "is required with `client_key`")),
            (Some(c), Some(k)) => {
                let (cert_path, key_path) = (base_dir.join(c), base_dir.join(k));
                let chain = read_certs("tls.client_cert", &cert_path)?;
                if !key_path.is_file() {
                    return Err(fail("tls.client_key", format!("{}: no such file", key_path.display())));
                }
                let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| {
                    fail("tls.client_key", format!("{}: no private key in the PEM file: {e}", key_path.display()))
                })?;
                builder.with_client_auth_cert(chain, key).map_err(|e| {
                    fail(
                        "tls.client_key",
                        format!(
                            "{} does not go with the certificate in {}: {e}",
                            key_path.display(),
                            cert_path.display()
                        ),
                    )
                })?
            }
        };
        Ok(Net { tls: Arc::new(cfg), insecure, server_name, connect_to, proxy })
    }

    /// The rustls configuration with these ALPN protocols.
    pub fn tls_config(&self, alpn: &[&[u8]]) -> rustls::ClientConfig {
        let mut c = (*self.tls).clone();
        c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        c
    }

    /// The name for SNI and the certificate check of a connection to `ep`.
    pub fn tls_name<'a>(&'a self, ep: &'a Endpoint) -> &'a str {
        self.server_name.as_deref().unwrap_or(&ep.host)
    }

    /// Where a connection to `ep` goes first: the proxy, else `connect_to`, else the URL's host.
    pub fn first_hop(&self, ep: &Endpoint) -> Result<(String, u16), String> {
        Ok(match self.proxy.for_endpoint(ep)? {
            Some(p) => (p.host, p.port),
            None => self.destination(ep),
        })
    }

    /// The credentials of the proxy a request to `ep` goes through (the profile's or the
    /// environment's), to be removed from any text a server sends back.
    pub fn secrets(&self, ep: &Endpoint) -> crate::units::redact::Secrets {
        match self.proxy.for_endpoint(ep) {
            Ok(Some(p)) => p.secrets(),
            _ => crate::units::redact::Secrets::new(),
        }
    }

    /// The host and port the connection reaches in the end (named in a proxy's CONNECT).
    pub fn destination(&self, ep: &Endpoint) -> (String, u16) {
        self.connect_to.clone().unwrap_or_else(|| (ep.host.clone(), ep.port))
    }

    /// A reqwest client builder for requests to `ep` with the same trust, identity, proxy and
    /// `connect_to` (which redirects the address only: reqwest keeps the URL's port).
    pub fn reqwest(&self, ep: &Endpoint) -> reqwest::ClientBuilder {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b = reqwest::Client::builder().tls_backend_preconfigured(self.tls_config(&[b"h2", b"http/1.1"]));
        b = match &self.proxy {
            Proxy::Env => b,
            Proxy::Off => b.no_proxy(),
            // reqwest takes the credentials from the URL's userinfo, as the load path does.
            Proxy::Url(p) => match reqwest::Proxy::all(&p.raw) {
                Ok(px) => b.proxy(px),
                Err(_) => b.no_proxy(),
            },
        };
        if let Some((host, port)) = &self.connect_to {
            let addrs: Vec<std::net::SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), *port))
                .map(|a| {
                    a.map(|mut s| {
                        s.set_port(0);
                        s
                    })
                    .collect()
                })
                .unwrap_or_default();
            if !addrs.is_empty() {
                b = b.resolve_to_addrs(&ep.host, &addrs);
            }
        }
        b
    }
}

/// What `validate` shows of how a target is reached (proxy credentials redacted); nothing for an
/// embedded target or one with all defaults and no proxy in the environment.
pub fn describe(spec: &TargetSpec) -> Vec<String> {
    let mut lines = Vec::new();
    if spec.is_embedded() || spec.is_embedded_receiver() {
        return lines;
    }
    let mut tls = Vec::new();
    if spec.insecure_tls {
        tls.push("certificates NOT checked (insecure_tls)".to_string());
    }
    if let Some(t) = &spec.tls {
        if let Some(f) = &t.ca_file {
            tls.push(format!("trusts {} besides the system store and the bundled roots", f.display()));
        }
        if let Some(c) = &t.client_cert {
            tls.push(format!("client certificate {}", c.display()));
        }
        if let Some(n) = &t.server_name {
            tls.push(format!("server name {n}"));
        }
    }
    if !tls.is_empty() {
        lines.push(format!("tls: {}", tls.join(", ")));
    }
    if let Some(c) = &spec.connect_to {
        lines.push(format!("connect to: {c} (the URL's host stays in SNI and Host)"));
    }
    let ep = spec.address().and_then(|a| Endpoint::parse(a).ok());
    match spec.proxy.as_deref() {
        Some("none") => lines.push("proxy: none".into()),
        Some(u) => lines.push(format!("proxy: {} (CONNECT tunnel)", redact_url(u))),
        None => match ep.as_ref().map(|e| Proxy::Env.for_endpoint(e)) {
            Some(Ok(Some(p))) => lines.push(format!("proxy: {} from the environment (CONNECT tunnel)", p.shown())),
            Some(Err(e)) => lines.push(format!("proxy: {e}")),
            _ => {}
        },
    }
    lines
}

/// `host:port` of `connect_to`.
fn parse_connect_to(s: &str) -> Result<(String, u16), NetError> {
    let bad = |why: &str| fail("connect_to", format!("{s:?} is not host:port (e.g. \"127.0.0.1:8443\"): {why}"));
    if s.contains(['@', '/', '?', '#']) || s.contains(char::is_whitespace) {
        return Err(bad("only a host and a port"));
    }
    match host_and_port(s) {
        Ok((host, Some(port))) => Ok((host, port)),
        Ok((_, None)) => Err(bad("the port is missing")),
        Err(why) => Err(bad(&why)),
    }
}

/// The certificate check of `server_name`: the chain is verified against this name, whatever name
/// the connection was opened for.
#[derive(Debug)]
struct NameOverride {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for NameOverride {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner.verify_server_cert(end_entity, intermediates, &self.name, ocsp, now)
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Certificate check for `insecure_tls = true`: any certificate, signatures still verified.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_parse_and_hide_their_credentials() {
        let p = ProxyUrl::parse("http://al%40ice:s3cret@127.0.0.1:3128").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("127.0.0.1", 3128));
        assert_eq!(p.shown(), "http://<redacted>@127.0.0.1:3128");
        assert!(!format!("{p:?}").contains("s3cret"));
        // "al@ice:s3cret" in base64.
        assert_eq!(p.auth.as_ref().unwrap().to_str().unwrap(), "Basic YWxAaWNlOnMzY3JldA==");
        let echoed = p.secrets().text("proxy said al@ice:s3cret, al%40ice:s3cret and YWxAaWNlOnMzY3JldA==", 200);
        assert_eq!(echoed, "proxy said <redacted>, <redacted> and <redacted>");
        assert_eq!(ProxyUrl::parse("http://proxy.corp").unwrap().port, 80);
        assert_eq!(ProxyUrl::parse("http://proxy.corp").unwrap().secrets().text("proxy.corp", 20), "proxy.corp");
        assert_eq!(ProxyUrl::parse("http://[::1]:3128/").unwrap().host, "::1");
        for (bad, why) in [
            ("http://proxy.corp:65536", "out of range"),
            ("http://u:pw@:3128", "host is empty"),
            ("http://proxy:", "port after ':' is empty"),
        ] {
            let e = ProxyUrl::parse(bad).unwrap_err();
            assert!(e.contains(why) && !e.contains("pw@"), "{bad}: {e}");
        }
        let e = ProxyUrl::parse("https://u:pw@proxy:1").unwrap_err();
        assert!(e.contains("http://") && !e.contains("pw"), "{e}");
        assert_eq!(redact_url("http://u:pw@h:1/x"), "http://<redacted>@h:1/x");
        assert_eq!(redact_url("none"), "none");
    }

    #[test]
    fn connect_to_is_host_and_port() {
        assert_eq!(parse_connect_to("127.0.0.1:8443").unwrap(), ("127.0.0.1".to_string(), 8443));
        assert_eq!(parse_connect_to("[::1]:9").unwrap(), ("::1".to_string(), 9));
        assert_eq!(parse_connect_to("example.com").unwrap_err().field, "connect_to");
        for (bad, why) in [
            ("127.0.0.1:70000", "out of range"),
            ("127.0.0.1:0", "out of range"),
            (":8443", "host is empty"),
            ("h:", "port after ':' is empty"),
            ("::1:80", "in brackets"),
            ("u@h:80", "only a host"),
        ] {
            let e = parse_connect_to(bad).unwrap_err();
            assert!(e.reason.contains(why) && e.reason.contains(bad), "{bad}: {}", e.reason);
        }
    }

    #[test]
    fn tls_files_are_checked_with_the_file_and_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let build = |t: TlsSpec| Net::build(&t, dir.path(), false, None, Proxy::Off).map(|_| ()).unwrap_err();
        let e = build(TlsSpec { ca_file: Some("missing.pem".into()), ..TlsSpec::default() });
        assert_eq!(e.field, "tls.ca_file");
        assert!(e.reason.contains("missing.pem") && e.reason.contains("no such file"), "{}", e.reason);
        std::fs::write(dir.path().join("empty.pem"), "not pem\n").unwrap();
        let e = build(TlsSpec { ca_file: Some("empty.pem".into()), ..TlsSpec::default() });
        assert!(e.reason.contains("no certificate"), "{}", e.reason);

        let a = rcgen::generate_simple_self_signed(vec!["a.test".into()]).unwrap();
        let b = rcgen::generate_simple_self_signed(vec!["b.test".into()]).unwrap();
        std::fs::write(dir.path().join("a.pem"), a.cert.pem()).unwrap();
        std::fs::write(dir.path().join("b.key"), b.signing_key.serialize_pem()).unwrap();
        std::fs::write(dir.path().join("a.key"), a.signing_key.serialize_pem()).unwrap();
        let e = build(TlsSpec {
            client_cert: Some("a.pem".into()),
            client_key: Some("b.key".into()),
            ..TlsSpec::default()
        });
        assert_eq!(e.field, "tls.client_key");
        assert!(e.reason.contains("b.key") && e.reason.contains("a.pem"), "{}", e.reason);
        let e = build(TlsSpec { client_cert: Some("a.pem".into()), ..TlsSpec::default() });
        assert_eq!(e.field, "tls.client_key");
        let e = build(TlsSpec {
            client_cert: Some("a.pem".into()),
            client_key: Some("a.pem".into()),
            ..TlsSpec::default()
        });
        assert!(e.reason.contains("no private key"), "{}", e.reason);
        let ok = TlsSpec {
            ca_file: Some("a.pem".into()),
            client_cert: Some("a.pem".into()),
            client_key: Some("a.key".into()),
            server_name: Some("a.test".into()),
        };
        assert!(Net::build(&ok, dir.path(), false, None, Proxy::Off).is_ok());
    }
}
