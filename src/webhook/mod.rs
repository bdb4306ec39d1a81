//! Status webhooks: resolving the profile's `[webhooks]` table (its type is in `spec::webhook`), and the re-exports of the receiver,
//! signature, payload and delivery-accounting modules.
//!
//! A run starts a [`Tracker`] and a receiver ([`spawn`] / [`serve`]); the load engine reports
//! every accepted send with [`Tracker::sent`], the receiver feeds every status webhook to
//! [`Tracker::status`], and after the last send plus [`WebhookConfig::grace`] the run calls
//! [`Tracker::finish`] to obtain [`DeliveryStats`].
//!
//! [`events`] builds the bodies a `kind = "webhook"` target sends to a user's own endpoint.

pub(crate) mod accept;
pub mod body;
pub(crate) mod commit;
pub mod conversation;
pub(crate) mod correlate;
pub mod events;
pub mod failed;
pub mod identity;
pub mod inbound;
pub mod model;
pub(crate) mod receiver;
pub mod record;
pub mod replay;
pub(crate) mod signature;
mod tls;

use std::ffi::OsString;
use std::path::PathBuf;

pub use crate::results::delivery::{DeliveryHistograms, DeliveryStats, IdentityCounts, KindCounts, LatencySummary};
pub use crate::spec::webhook::{DEFAULT_APP_SECRET_ENV, DEFAULT_VERIFY_TOKEN_ENV, WebhookConfig};
pub use commit::Sink;
pub use correlate::{Tracker, TrackerConfig};
pub use identity::{Contact, ContactProfile, UserIdentity};
pub use inbound::{InboundMessage, cloud_inbound, cloud_user_id_update, onprem_inbound};
pub use model::{
    CloudEnvelope, OnPremEnvelope, ParseError, Status, StatusError, StatusKind, cloud_envelope, onprem_envelope, parse,
    parse_notification,
};
pub use receiver::{
    DEFAULT_BODY_BUDGET, DEFAULT_MAX_CONNECTIONS, ReceiverConfig, ReceiverCounters, ReceiverHandle, serve, serve_with,
    spawn, spawn_local,
};
pub use signature::{SignatureError, sign, verify};
pub use tls::tls_config;

/// A `[webhooks]` setting that cannot be turned into a working receiver.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "webhooks.app_secret_env: environment variable {var} is not set \
         (required because webhooks.verify_signature = true)"
    )]
    SecretEnvMissing { var: String },
    #[error("webhooks.app_secret_env: environment variable {var} is empty")]
    SecretEnvEmpty { var: String },
    #[error("webhooks.app_secret_env: environment variable {var} is not valid UTF-8")]
    SecretEnvNotUnicode { var: String },
    #[error(
        "webhooks.verify_signature = true needs an app secret: set webhooks.app_secret_env \
         (default {DEFAULT_APP_SECRET_ENV}) or webhooks.app_secret_file"
    )]
    NoSecretSource,
    #[error("webhooks.app_secret_file: cannot read {}: {source}", path.display())]
    SecretFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("webhooks.app_secret_file: {} is empty", path.display())]
    SecretFileEmpty { path: PathBuf },
    #[error("webhooks.verify_token_env: environment variable {var} is not valid UTF-8")]
    TokenEnvNotUnicode { var: String },
    #[error("webhooks.{field}: {reason}")]
    Invalid { field: &'static str, reason: &'static str },
}

impl WebhookConfig {
    /// Resolves secrets from the process environment (or `app_secret_file`).
    pub fn resolve(&self) -> Result<ReceiverConfig, ConfigError> {
        self.resolve_with(|name| std::env::var_os(name))
    }

    /// Like [`resolve`](Self::resolve) with an explicit environment lookup.
    pub fn resolve_with(&self, env: impl Fn(&str) -> Option<OsString>) -> Result<ReceiverConfig, ConfigError> {
        self.validate()?;
        let app_secret = if self.verify_signature { Some(self.app_secret(&env)?) } else { None };
        let verify_token = match &self.verify_token_env {
            None => None,
            Some(var) => match env(var) {
                None => None,
                Some(v) => Some(v.into_string().map_err(|_| ConfigError::TokenEnvNotUnicode { var: var.clone() })?)
                    .filter(|t| !t.is_empty()),
            },
        };
        Ok(ReceiverConfig {
            app_secret,
            verify_token,
            max_body_bytes: self.max_body,
            path: self.path.clone(),
            backlog: self.backlog,
            ..ReceiverConfig::default()
        })
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, reason| Err(ConfigError::Invalid { field, reason });
        if !self.path.starts_with('/') {
            return invalid("path", "must start with '/'");
        }
        if self.max_body == 0 {
            return invalid("max_body", "must be greater than 0");
        }
        if self.backlog == 0 {
            return invalid("backlog", "must be greater than 0");
        }
        if self.max_tracked == 0 {
            return invalid("max_tracked", "must be greater than 0");
        }
        if self.horizon.is_zero() {
            return invalid("horizon", "must be greater than 0");
        }
        Ok(())
    }

    fn app_secret(&self, env: &impl Fn(&str) -> Option<OsString>) -> Result<Vec<u8>, ConfigError> {
        if let Some(path) = &self.app_secret_file {
            let raw = std::fs::read(path).map_err(|source| ConfigError::SecretFile { path: path.clone(), source })?;
            let secret = raw.trim_ascii().to_vec();
            if secret.is_empty() {
                return Err(ConfigError::SecretFileEmpty { path: path.clone() });
            }
            return Ok(secret);
        }
        let var = self.app_secret_env.as_ref().ok_or(ConfigError::NoSecretSource)?;
        let value = env(var).ok_or_else(|| ConfigError::SecretEnvMissing { var: var.clone() })?;
        let value = value.into_string().map_err(|_| ConfigError::SecretEnvNotUnicode { var: var.clone() })?;
        if value.is_empty() {
            return Err(ConfigError::SecretEnvEmpty { var: var.clone() });
        }
        Ok(value.into_bytes())
    }

    /// Tracker limits from this table.
    pub fn tracker_config(&self) -> TrackerConfig {
        TrackerConfig { horizon: self.horizon, max_tracked: self.max_tracked, ..TrackerConfig::default() }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(*v))
    }

    #[test]
    fn defaults_and_toml() {
        let cfg: WebhookConfig = toml::from_str("").unwrap();
        assert_eq!(cfg, WebhookConfig::default());
        let cfg: WebhookConfig = toml::from_str("horizon = \"2m\"\ngrace = \"1s 500ms\"\nmax_tracked = 10").unwrap();
        assert_eq!(cfg.horizon, Duration::from_secs(120));
        assert_eq!(cfg.grace, Duration::from_millis(1500));
        let err = toml::from_str::<WebhookConfig>("app_secret = \"x\"").unwrap_err();
        assert!(err.to_string().contains("app_secret"), "{err}");
        assert!(toml::from_str::<WebhookConfig>("horizon = \"soon\"").is_err());
    }

    #[test]
    fn resolves_secret_and_token_from_env() {
        let cfg = WebhookConfig::default();
        let rc =
            cfg.resolve_with(env_of(&[("WABENCH_APP_SECRET", "s3cret"), ("WABENCH_VERIFY_TOKEN", "tok")])).unwrap();
        assert_eq!(rc.app_secret.as_deref(), Some(&b"s3cret"[..]));
        assert_eq!(rc.verify_token.as_deref(), Some("tok"));
        assert!(!format!("{rc:?}").contains("s3cret"));
        let out = toml::to_string(&cfg).unwrap();
        assert!(out.contains("WABENCH_APP_SECRET") && !out.contains("s3cret"));
    }

    #[test]
    fn missing_secret_names_field_and_var() {
        let err = WebhookConfig::default().resolve_with(env_of(&[])).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("webhooks.app_secret_env"), "{msg}");
        assert!(msg.contains("WABENCH_APP_SECRET"), "{msg}");

        let onprem = WebhookConfig { verify_signature: false, ..WebhookConfig::default() };
        let rc = onprem.resolve_with(env_of(&[])).unwrap();
        assert!(rc.app_secret.is_none() && rc.verify_token.is_none());

        let bad = WebhookConfig { max_body: 0, ..WebhookConfig::default() };
        let msg = bad.resolve_with(env_of(&[])).unwrap_err().to_string();
        assert!(msg.contains("webhooks.max_body"), "{msg}");
    }

    #[test]
    fn secret_from_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "filesecret\n").unwrap();
        let cfg = WebhookConfig { app_secret_file: Some(path.clone()), ..WebhookConfig::default() };
        let rc = cfg.resolve_with(env_of(&[])).unwrap();
        assert_eq!(rc.app_secret.as_deref(), Some(&b"filesecret"[..]));
        let missing = WebhookConfig { app_secret_file: Some(dir.path().join("nope")), ..WebhookConfig::default() };
        let msg = missing.resolve_with(env_of(&[])).unwrap_err().to_string();
        assert!(msg.contains("webhooks.app_secret_file"), "{msg}");
    }
}
