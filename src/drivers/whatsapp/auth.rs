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

/// Log in once; returns the bearer header value and when it expires.
async fn login(
    client: &reqwest::Client,
    url: &str,
    c: &Credentials,
) -> Result<(HeaderValue, Option<DateTime<Utc>>), String> {
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
        .map_err(|e| format!("login request to {url} failed: {}", with_causes(&e)))?;
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(|e| format!("login answer from {url}: {e}"))?;
    if !status.is_success() {
        let code = super::codes::error_code(&bytes).map(|c| format!(" (error code {c})")).unwrap_or_default();
        return Err(format!(
            "login to {url} was refused with HTTP {status}{code}{}; check the username and password (and new_password_env on a first login)",
            refusal_details(&bytes)
        ));
    }
    let a: LoginAnswer = serde_json::from_slice(&bytes)
        .map_err(|e| format!("login answer from {url} is not the documented shape: {e}"))?;
    let u = a.users.into_iter().next().ok_or_else(|| format!("login answer from {url} holds no user"))?;
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

/// The `details` of an On-Premises error answer (`{"errors":[{"details":…}]}`), as `: <details>`, so
/// that a refused login says why (the API's own words; they never hold the password).
fn refusal_details(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    match v["errors"][0]["details"].as_str() {
        Some(d) if !d.is_empty() => format!(": {}", d.chars().take(200).collect::<String>()),
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
        let client = net
            .reqwest(&Endpoint::parse(base)?)
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("cannot build the login client: {e}"))?;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        let (header, exp) = rt.block_on(login(&client, &url, &creds))?;
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
        assert!(refusal_details(body).contains("uppercase"));
        assert_eq!(refusal_details(b"<html>"), "");
    }
}
