//! The profile's `[webhooks]` table: where the receiver listens and where its secrets are found.
//! Secrets are never stored here, only where to find them; `webhook` resolves them.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Largest accepted webhook body by default, in bytes.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Default capacity of the queue between the receiver's HTTP handlers and the tracker.
pub const DEFAULT_BACKLOG: usize = 8192;

/// Default environment variable holding the app secret.
pub const DEFAULT_APP_SECRET_ENV: &str = "WABENCH_APP_SECRET";
/// Default environment variable holding the handshake verify token.
pub const DEFAULT_VERIFY_TOKEN_ENV: &str = "WABENCH_VERIFY_TOKEN";

/// The profile's `[webhooks]` table. Secrets are never stored here, only where to find them,
/// so serializing this struct cannot leak them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// Track delivery. Default true; `false` turns status webhooks off, also for embedded targets
    /// (which otherwise track them without a `[webhooks]` table).
    pub enabled: bool,
    /// Address the receiver binds.
    pub listen: SocketAddr,
    /// Request path of the endpoint.
    pub path: String,
    /// Require `X-Hub-Signature-256` (Cloud). `false` for on-prem, which does not sign.
    pub verify_signature: bool,
    /// Environment variable holding the app secret (used unless `app_secret_file` is set).
    pub app_secret_env: Option<String>,
    /// File holding the app secret (surrounding whitespace ignored); takes precedence.
    pub app_secret_file: Option<PathBuf>,
    /// Environment variable holding the handshake verify token; when unset or absent from the
    /// environment, every handshake is refused.
    pub verify_token_env: Option<String>,
    /// Largest accepted webhook body, in bytes.
    pub max_body: usize,
    /// Capacity of the queue between the HTTP handlers and the tracker, in webhooks.
    pub backlog: usize,
    /// How long a message id is remembered (e.g. "10m").
    #[schemars(with = "crate::units::duration::Dur")]
    #[serde(with = "crate::units::duration::serde")]
    pub horizon: Duration,
    /// Most message ids remembered at once.
    pub max_tracked: usize,
    /// How long after the last send the run waits for final statuses (e.g. "10s").
    #[schemars(with = "crate::units::duration::Dur")]
    #[serde(with = "crate::units::duration::serde")]
    pub grace: Duration,
    /// A standalone receiver (`wabench receive`) to send status webhooks to instead of one inside
    /// the run, e.g. "https://receiver.example:8443/webhook": the embedded simulator posts there
    /// (signed with the app secret of `app_secret_env`/`app_secret_file`), no receiver is started,
    /// and the run writes its accepted sends to `<target>.sends.csv` for `wabench merge --webhooks`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiver_url: Option<String>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)),
            path: "/webhook".to_owned(),
            verify_signature: true,
            app_secret_env: Some(DEFAULT_APP_SECRET_ENV.to_owned()),
            app_secret_file: None,
            verify_token_env: Some(DEFAULT_VERIFY_TOKEN_ENV.to_owned()),
            max_body: DEFAULT_MAX_BODY_BYTES,
            backlog: DEFAULT_BACKLOG,
            horizon: Duration::from_secs(600),
            max_tracked: 1_000_000,
            grace: Duration::from_secs(10),
            receiver_url: None,
        }
    }
}

impl WebhookConfig {
    /// The status-webhook settings of `target`, `None` when its delivery is not tracked: the
    /// `[webhooks]` table as written (unless `enabled = false`), else, for a WhatsApp target served by
    /// the embedded simulator and when `embedded_by_default`, the defaults: its simulator posts status
    /// webhooks to a receiver of the run, so failures reported after the send count. A remote target
    /// tracks nothing without the table.
    pub fn for_target<'a>(
        table: Option<&'a WebhookConfig>,
        target: &super::TargetSpec,
        embedded_by_default: bool,
    ) -> Option<std::borrow::Cow<'a, WebhookConfig>> {
        if !target.kind.is_whatsapp_api() {
            return None;
        }
        match table {
            Some(t) if t.enabled => Some(std::borrow::Cow::Borrowed(t)),
            Some(_) => None,
            None if embedded_by_default && target.is_embedded() => {
                Some(std::borrow::Cow::Owned(WebhookConfig::default()))
            }
            None => None,
        }
    }

    /// `receiver_url`, when set, is an http:// or https:// URL with a host (the reason otherwise).
    pub fn check_receiver_url(&self) -> Result<(), String> {
        let Some(url) = &self.receiver_url else { return Ok(()) };
        super::endpoint::check_http_url(url).map_err(|r| {
            format!("{r}; expected an http:// or https:// URL with a host, e.g. https://recv.example/webhook")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(kind: &str, base_url: &str) -> super::super::TargetSpec {
        let t = format!("name = \"t\"\nkind = \"{kind}\"\nbase_url = \"{base_url}\"\nurl = \"http://127.0.0.1:1/\"\n");
        toml::from_str(&t).unwrap()
    }

    #[test]
    fn embedded_whatsapp_targets_track_delivery_unless_turned_off() {
        let embedded = target("cloud", "embedded");
        let remote = target("cloud", "https://graph.facebook.com");
        let off = WebhookConfig { enabled: false, ..WebhookConfig::default() };
        let on = WebhookConfig { grace: Duration::from_secs(3), ..WebhookConfig::default() };
        assert_eq!(WebhookConfig::for_target(None, &embedded, true).as_deref(), Some(&WebhookConfig::default()));
        assert_eq!(WebhookConfig::for_target(None, &embedded, false), None, "not by default (the planner)");
        assert_eq!(WebhookConfig::for_target(None, &remote, true), None, "a remote target: only with the table");
        assert_eq!(WebhookConfig::for_target(Some(&on), &remote, true).as_deref(), Some(&on));
        assert_eq!(WebhookConfig::for_target(Some(&off), &embedded, true), None);
        assert_eq!(WebhookConfig::for_target(Some(&on), &target("onprem", "embedded"), false).as_deref(), Some(&on));
        assert_eq!(WebhookConfig::for_target(Some(&on), &target("http", "embedded"), true), None);
    }

    #[test]
    fn receiver_url_is_an_http_url() {
        let with = |u: &str| WebhookConfig { receiver_url: Some(u.into()), ..WebhookConfig::default() };
        assert_eq!(WebhookConfig::default().check_receiver_url(), Ok(()));
        assert_eq!(with("https://recv.example:8443/webhook").check_receiver_url(), Ok(()));
        assert_eq!(with("http://wabench-receiver/webhook").check_receiver_url(), Ok(()));
        for bad in ["ftp://x/y", "recv.example/webhook", "http://", "not a url", "http://r:65616/w", "http://:80/w"] {
            assert!(with(bad).check_receiver_url().is_err(), "{bad}");
        }
    }
}
