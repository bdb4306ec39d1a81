//! On-Premises API login (the control plane, through reqwest): `POST /v1/users/login` with HTTP
//! Basic gives a bearer token with an expiry. A background thread logs in again before the token
//! expires, or at once when a request was refused with 401. The load path only reads the current
//! header value.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ::http::HeaderValue;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::spec::endpoint::Endpoint;
use crate::spec::net::Net;
use crate::units::redact::{self, MAX_ECHO, Secrets};

/// Credentials for the login (never serialized, never printed).
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// Set on the first login of an account that must change its password.
    pub new_password: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials {{ username: {:?}, password: <redacted> }}", self.username)
    }
}

struct Shared {
    header: RwLock<HeaderValue>,
    logins: AtomicU64,
    failures: AtomicU64,
}

/// A logged-in session that keeps its token fresh.
pub struct Session {
    shared: Arc<Shared>,
    refresh: mpsc::UnboundedSender<()>,
}

#[derive(Deserialize)]
struct LoginAnswer {
    users: Vec<LoginUser>,
}

#[derive(Deserialize)]
struct LoginUser {
    token: String,
    expires_after: Option<String>,
}

impl Credentials {
    /// What a server could echo back of these credentials, to be removed from its text.
    fn secrets(&self) -> Secrets {
        let mut s = Secrets::new().with_basic(&self.username, &self.password);
        if let Some(p) = &self.new_password {
            s = s.with(p).with_basic(&self.username, p);
        }
        s
    }
}

/// Log in once; returns the bearer header value and when it expires. An error shows no credential,
/// whatever the server echoed (see [`crate::units::redact`]).
async fn login(
    client: &reqwest::Client,
    url: &str,
    c: &Credentials,
) -> Result<(HeaderValue, Option<DateTime<Utc>>), String> {
    let secrets = c.secrets();
    let shown = redact::url(url);
    let attempt = login_once(client, url, &shown, c).await;
    attempt.map_err(|e| secrets.text(&e, 2 * MAX_ECHO))
}

async fn login_once(
    client: &reqwest::Client,
    url: &str,
    shown: &str,
    c: &Credentials,
) -> Result<(HeaderValue, Option<DateTime<Utc>>), String> {
    let secrets = c.secrets();
    let body = match &c.new_password {
        Some(p) => serde_json::json!({ "new_password": p }),
        None => serde_json::json!({}),
    };
    let resp = client
        .post(url)
        .basic_auth(&c.username, Some(&c.password))
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("login request to {shown} failed: {}", secrets.text(&with_causes(&e), MAX_ECHO)))?;
    let status = resp.status();
    let bytes = read_capped(resp, MAX_LOGIN_ANSWER).await.map_err(|e| format!("login answer from {shown}: {e}"))?;
    if !status.is_success() {
        let code = super::codes::error_code(&bytes).map(|c| format!(" (error code {c})")).unwrap_or_default();
        return Err(format!(
            "login to {shown} was refused with HTTP {status}{code}{}; check the username and password (and new_password_env on a first login)",
            refusal_details(&bytes, &secrets)
        ));
    }
    let a: LoginAnswer =
        serde_json::from_slice(&bytes).map_err(|_| format!("login answer from {shown} is not the documented shape"))?;
    let u = a.users.into_iter().next().ok_or_else(|| format!("login answer from {shown} holds no user"))?;
    let mut h = HeaderValue::from_str(&format!("Bearer {}", u.token))
        .map_err(|_| "the login token is not a valid header value".to_string())?;
    h.set_sensitive(true);
    let exp = u
        .expires_after
        .as_deref()
        .and_then(|s| DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%:z").ok())
        .map(|d| d.with_timezone(&Utc));
    Ok((h, exp))
}

/// An error and its causes ("error sending request: … invalid peer certificate: UnknownIssuer").
pub(crate) fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(c) = source {
        let t = c.to_string();
        if !s.contains(&t) {
            s = format!("{s}: {t}");
        }
        source = c.source();
    }
    s
}

/// Largest login answer read (a token and its expiry take a few hundred bytes).
const MAX_LOGIN_ANSWER: usize = 64 * 1024;

/// The answer's body, refused beyond `max` bytes (read no further).
async fn read_capped(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| redact::text(&with_causes(&e), MAX_ECHO))? {
        if body.len() + chunk.len() > max {
            return Err(format!("longer than {max} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The `details` of an On-Premises error answer (`{"errors":[{"details":…}]}`), as `: <details>`, so
/// that a refused login says why: the server's words, without any credential it echoed, cut short.
fn refusal_details(body: &[u8], secrets: &Secrets) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    match v["errors"][0]["details"].as_str() {
        Some(d) if !d.is_empty() => format!(": {}", secrets.text(d, 200)),
        _ => String::new(),
    }
}

/// A random password that meets Meta's rules (8–64 characters with a digit, an uppercase, a
/// lowercase and a special character), for the first login of an embedded simulator's default
/// admin. It lives only in this process's memory: never printed, never written.
pub fn one_time_password() -> String {
    const ALNUM: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let bytes: [u8; 24] = rand::random();
    let body: String = bytes.iter().map(|b| ALNUM[usize::from(*b) % ALNUM.len()] as char).collect();
    format!("Wb-{body}-7a")
}

/// When to log in again: 10% of the remaining lifetime early, at least 100 ms from now.
fn refresh_in(exp: Option<DateTime<Utc>>) -> Duration {
    let Some(exp) = exp else { return Duration::from_secs(24 * 3600) };
    let left = (exp - Utc::now()).to_std().unwrap_or(Duration::ZERO);
    (left - left / 10).max(Duration::from_millis(100))
}

impl Session {
    /// Log in at `base` (e.g. `https://wa.example.com:9090`) and keep the token fresh in a thread.
    /// The login goes the way the load goes (`net`: the same TLS trust and identity, proxy and
    /// `connect_to`).
    pub fn start(base: &str, creds: Credentials, net: &Net) -> Result<Session, String> {
        let url = format!("{}/v1/users/login", base.trim_end_matches('/'));
        let ep = Endpoint::parse(base)?;
        let client = net
            .reqwest(&ep)
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("cannot build the login client: {e}"))?;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        // The proxy's credentials too, should the proxy or the server echo them.
        let (header, exp) =
            rt.block_on(login(&client, &url, &creds)).map_err(|e| net.secrets(&ep).text(&e, 4 * MAX_ECHO))?;
        // The first login set the new password: later logins use it and set nothing.
        let mut creds = creds;
        if let Some(p) = creds.new_password.take() {
            creds.password = p;
        }
        let shared =
            Arc::new(Shared { header: RwLock::new(header), logins: AtomicU64::new(1), failures: AtomicU64::new(0) });
        let (tx, mut rx) = mpsc::unbounded_channel::<()>();
        let sh = shared.clone();
        std::thread::Builder::new()
            .name("wabench-login".into())
            .spawn(move || {
                rt.block_on(async move {
                    let mut exp = exp;
                    loop {
                        tokio::select! {
                            r = rx.recv() => {
                                if r.is_none() {
                                    return;
                                }
                                // Several requests may have seen the same 401: one login serves them all.
                                while rx.try_recv().is_ok() {}
                            }
                            _ = tokio::time::sleep(refresh_in(exp)) => {}
                        }
                        match login(&client, &url, &creds).await {
                            Ok((h, e)) => {
                                if let Ok(mut w) = sh.header.write() {
                                    *w = h;
                                }
                                exp = e;
                                sh.logins.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(_) => {
                                sh.failures.fetch_add(1, Ordering::Relaxed);
                                tokio::time::sleep(Duration::from_millis(500)).await;
                            }
                        }
                    }
                })
            })
            .map_err(|e| format!("cannot start the login thread: {e}"))?;
        Ok(Session { shared, refresh: tx })
    }

    /// The current `Authorization` header value.
    pub fn header(&self) -> HeaderValue {
        self.shared.header.read().map(|h| h.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    /// A request was refused for its token: log in again now.
    pub fn invalidate(&self) {
        let _ = self.refresh.send(());
    }

    /// Logins so far (the first included) and failed attempts.
    pub fn logins(&self) -> (u64, u64) {
        (self.shared.logins.load(Ordering::Relaxed), self.shared.failures.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_time_passwords_meet_metas_rules_and_differ() {
        let (a, b) = (one_time_password(), one_time_password());
        assert_eq!(crate::spec::sim::onprem::weak_password(&a), None, "{}", a.len());
        assert_ne!(a, b);
    }

    #[test]
    fn a_refusal_says_why() {
        let body = br#"{"errors":[{"code":1009,"title":"Parameter value is not valid","details":"The parameter new_password needs at least one uppercase character."}]}"#;
        let none = Secrets::new();
        assert!(refusal_details(body, &none).contains("uppercase"));
        assert_eq!(refusal_details(b"<html>", &none), "");
        let echoed = br#"{"errors":[{"code":1005,"details":"bad credentials alice:pw-8812 (YWxpY2U6cHctODgxMg==)"}]}"#;
        let c = Credentials { username: "alice".into(), password: "pw-8812".into(), new_password: None };
        let shown = refusal_details(echoed, &c.secrets());
        assert!(
            !shown.contains("pw-8812") && !shown.contains("YWxpY2U6cHctODgxMg") && !shown.contains("alice"),
            "{shown}"
        );
    }
}
