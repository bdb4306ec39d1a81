//! Targets: what a request looks like and how a response is classified. One [`Target`] trait; the
//! generic HTTP target here, API-specific ones beside it. The transport (connections, TLS, HTTP/1.1
//! and HTTP/2) is in `target::conn` and knows nothing of any API.

pub mod conn;
pub mod http;

use std::net::SocketAddr;
use std::sync::Arc;

use ::http::{Request, StatusCode};
use bytes::Bytes;
use http_body_util::Full;

use crate::metrics::Outcome;
use crate::profile::{HttpVersion, TargetSpec};

/// Where a target lives: scheme, host, port, and the base path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path and query of the URL, at least "/".
    pub path_and_query: String,
}

impl Endpoint {
    /// Parse an `http://` or `https://` URL; the error says what is wrong.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let uri: ::http::Uri = url.parse().map_err(|e| format!("{url:?} is not a valid URL: {e}"))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(s) => return Err(format!("{url:?}: scheme {s:?} is not supported (use http or https)")),
            None => return Err(format!("{url:?}: the URL needs a scheme (http:// or https://)")),
        };
        let host = uri.host().ok_or_else(|| format!("{url:?}: the URL has no host"))?;
        if url.contains('@') && uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(format!("{url:?}: credentials in the URL are not allowed; use headers_from_env"));
        }
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let path_and_query = uri.path_and_query().map_or("/".to_string(), |p| p.as_str().to_string());
        Ok(Endpoint { tls, host, port, path_and_query })
    }

    /// `host:port` as written in a Host header / HTTP/2 authority.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        let default = if self.tls { 443 } else { 80 };
        if self.port == default { host } else { format!("{host}:{}", self.port) }
    }

    /// The URL without credentials, for results.
    pub fn url(&self) -> String {
        format!("{}://{}{}", if self.tls { "https" } else { "http" }, self.authority(), self.path_and_query)
    }

    /// Whether the host is a loopback address (or `localhost`).
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost" || self.host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// Resolve the host once, before the run.
    pub async fn resolve(&self) -> std::io::Result<SocketAddr> {
        tokio::net::lookup_host((self.host.as_str(), self.port))
            .await?
            .next()
            .ok_or_else(|| std::io::Error::other(format!("{} resolves to no address", self.host)))
    }
}

/// Headers whose values are credentials and never appear in results or logs.
pub fn is_sensitive_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "authorization"
        || n == "proxy-authorization"
        || n == "cookie"
        || n.contains("token")
        || n.contains("secret")
        || n.contains("api-key")
        || n.contains("apikey")
}

/// A response as the target sees it.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    /// The message number and the attempt (1 = first).
    pub seq: u64,
    pub attempt: u32,
    pub status: StatusCode,
    /// The body, when [`Target::wants_body`] asked for it (else empty).
    pub body: &'a [u8],
    /// When the request started and when the response ended.
    pub started: std::time::Instant,
    pub done: std::time::Instant,
}

/// How a response was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classified {
    pub outcome: Outcome,
    /// Send the same message again after this wait (counted as a retry, not a new message).
    pub retry_after: Option<std::time::Duration>,
}

impl Classified {
    pub fn final_(outcome: Outcome) -> Classified {
        Classified { outcome, retry_after: None }
    }
}

/// One endpoint under test: builds request `seq` and classifies responses.
/// Implementations are shared by all load threads, so they are `Send + Sync` and cheap per call.
pub trait Target: Send + Sync + 'static {
    /// Name used in results.
    fn name(&self) -> &str;
    /// `http`, `cloud`, `onprem`, …
    fn kind(&self) -> &str;
    fn endpoint(&self) -> &Endpoint;
    fn http_version(&self) -> HttpVersion;
    /// Accept invalid TLS certificates.
    fn insecure_tls(&self) -> bool {
        false
    }
    /// Longest response body read; longer is [`Outcome::BodyTooLarge`].
    fn max_body(&self) -> u64 {
        1 << 20
    }
    /// The request to send as number `seq` of the run. The URI is in origin form ("/path?q");
    /// the transport adds the authority for HTTP/2 and the Host header for HTTP/1.1.
    fn request(&self, seq: u64) -> Request<Full<Bytes>>;
    /// Whether `classify` needs the body of a response with this status (else it is discarded unread
    /// into memory, only counted against `max_body`).
    fn wants_body(&self, _status: StatusCode) -> bool {
        false
    }
    fn classify(&self, answer: &Answer<'_>) -> Classified;
    /// Counters of the target's own (e.g. logins), for results.
    fn extra(&self) -> Option<serde_json::Value> {
        None
    }
}

/// What building a target needs besides its profile entry.
pub struct BuildCtx<'a> {
    /// The profile's folder (files are relative to it).
    pub base_dir: &'a std::path::Path,
    pub seed: u64,
    pub messages: &'a crate::whatsapp::MessagesSpec,
    pub recipients: Arc<crate::whatsapp::recipients::Recipients>,
    pub retry: &'a crate::whatsapp::RetrySpec,
    /// The `body_file` content of an HTTP target.
    pub body: Option<&'a [u8]>,
    /// For `base_url = "embedded"`: the URL of the simulator started for this target, and its config.
    pub embedded: Option<(String, &'a crate::sim::SimConfig)>,
    /// Correlates accepted messages with their status webhooks, when `[webhooks]` is configured.
    pub tracker: Option<crate::webhook::Tracker>,
}

fn env_var(target: &str, field: &str, var: &str) -> Result<String, String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => Err(format!("target {target:?}: `{field}` names the environment variable {var}, which is not set")),
    }
}

/// Build the target of a profile entry.
pub fn build(spec: &TargetSpec, ctx: &BuildCtx<'_>) -> Result<Arc<dyn Target>, String> {
    use crate::profile::TargetKind;
    use crate::whatsapp::{auth, cloud, onprem};
    if spec.kind == TargetKind::Http {
        return Ok(Arc::new(http::HttpTarget::new(spec, ctx.body)?));
    }
    let base = match (&ctx.embedded, spec.address()) {
        (Some((url, _)), _) => url.clone(),
        (None, Some(u)) => u.to_string(),
        (None, None) => return Err(format!("target {:?}: no base_url", spec.name)),
    };
    let common = cloud::Common {
        name: spec.name.clone(),
        endpoint: Endpoint::parse(&base)?,
        version: spec.http_version,
        insecure: spec.insecure_tls,
        max_body: spec.max_body.unwrap_or(1 << 20),
        messages: ctx.messages.clone(),
        recipients: ctx.recipients.clone(),
        retry: ctx.retry.clone(),
        seed: ctx.seed,
        tracker: ctx.tracker.clone(),
    };
    if spec.kind == TargetKind::Cloud {
        let token = match (&spec.token_env, &spec.token_file) {
            (Some(var), _) => env_var(&spec.name, "token_env", var)?,
            (None, Some(f)) => {
                let p = ctx.base_dir.join(f);
                let t = std::fs::read_to_string(&p)
                    .map_err(|e| format!("target {:?}: token_file {}: {e}", spec.name, p.display()))?;
                t.trim().to_string()
            }
            (None, None) if ctx.embedded.is_some() => "wabench-embedded-token".to_string(),
            (None, None) => return Err(format!("target {:?}: no access token (token_env or token_file)", spec.name)),
        };
        let version = spec.api_version.as_deref().unwrap_or("v23.0");
        let phone = spec.phone_number_id.as_deref().unwrap_or("100000000000001");
        return Ok(Arc::new(cloud::CloudTarget::new(common, version, phone, &token)?));
    }
    let creds = match (&spec.username_env, &spec.password_env, &ctx.embedded) {
        (Some(u), Some(p), _) => auth::Credentials {
            username: env_var(&spec.name, "username_env", u)?,
            password: env_var(&spec.name, "password_env", p)?,
            new_password: spec
                .new_password_env
                .as_deref()
                .map(|v| env_var(&spec.name, "new_password_env", v))
                .transpose()?,
        },
        (_, _, Some((_, sim))) => {
            let u = sim.onprem.users.first().ok_or("the embedded simulator has no users to log in with")?;
            auth::Credentials { username: u.username.clone(), password: u.password.clone(), new_password: None }
        }
        _ => return Err(format!("target {:?}: username_env and password_env are required", spec.name)),
    };
    let session =
        auth::Session::start(&base, creds, spec.insecure_tls).map_err(|e| format!("target {:?}: {e}", spec.name))?;
    Ok(Arc::new(onprem::OnPremTarget::new(common, session)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_and_print() {
        let e = Endpoint::parse("http://127.0.0.1:8080/v1/messages?x=1").unwrap();
        assert_eq!(
            e,
            Endpoint { tls: false, host: "127.0.0.1".into(), port: 8080, path_and_query: "/v1/messages?x=1".into() }
        );
        assert!(e.is_loopback());
        let e = Endpoint::parse("https://graph.example.com").unwrap();
        assert_eq!((e.port, e.path_and_query.as_str(), e.authority().as_str()), (443, "/", "graph.example.com"));
        assert!(!e.is_loopback());
        let e = Endpoint::parse("http://[::1]:9000/").unwrap();
        assert_eq!(e.authority(), "[::1]:9000");
        assert!(e.is_loopback());
        assert!(Endpoint::parse("ftp://x/").unwrap_err().contains("not supported"));
        assert!(Endpoint::parse("127.0.0.1:80").is_err());
        assert!(Endpoint::parse("http://u:p@host/").unwrap_err().contains("credentials"));
    }

    #[test]
    fn sensitive_headers_are_recognised() {
        assert!(is_sensitive_header("Authorization"));
        assert!(is_sensitive_header("X-Api-Key"));
        assert!(!is_sensitive_header("content-type"));
    }
}
