//! Drivers: the implementations of the engine's [`Target`] for each kind of target (plain HTTP, the
//! WhatsApp Cloud API and On-Premises API, a user's own webhook endpoint), and the factory that builds one
//! from a profile entry.

pub mod base;
pub mod conversation;
pub(crate) mod http;
pub mod preview;
pub mod webhook;
pub mod whatsapp;

use std::sync::Arc;

use crate::engine::target::{Endpoint, Target};
use crate::spec::{TargetKind, TargetSpec};
use whatsapp::{auth, cloud, onprem};

/// What building a target needs besides its profile entry.
pub struct BuildCtx<'a> {
    /// The profile's folder (files are relative to it).
    pub base_dir: &'a std::path::Path,
    pub seed: u64,
    pub messages: &'a crate::spec::messages::MessagesSpec,
    pub recipients: Arc<crate::spec::recipients::Recipients>,
    pub retry: &'a crate::spec::messages::RetrySpec,
    /// The `body_file` content of an HTTP target.
    pub body: Option<&'a [u8]>,
    /// The feeder of an HTTP target (its rows, read at load).
    pub feeder: Option<Arc<crate::spec::feeder::Feeder>>,
    /// For `base_url = "embedded"`: the URL of the simulator started for this target, and its config.
    pub embedded: Option<(String, &'a crate::spec::sim::SimConfig)>,
    /// Correlates accepted messages with their status webhooks, when `[webhooks]` is configured.
    pub tracker: Option<crate::webhook::Tracker>,
    /// For a webhook target with `url = "embedded"`: the URL of the receiver started for it and the
    /// secrets the run made for both; otherwise the target's secrets are read from the environment
    /// or the files it names.
    pub embedded_receiver: Option<(String, webhook::HookSecrets)>,
    /// The load's peak rate (requests/s), which dates a webhook target's events.
    pub peak_rate: Option<f64>,
    /// The load's timeout, also the handshake's.
    pub timeout: std::time::Duration,
    /// Where a WhatsApp target lists its failed sends and keeps one error body per code.
    pub failures: Option<Arc<crate::results::failure_log::FailureLog>>,
    /// A conversation target's tracker, simulator hook and secrets (set up with its simulator).
    pub conversation: Option<conversation::Wiring>,
    /// An embedded Cloud target beside a conversation target: the token it sends with, which that
    /// target's simulator accepts and tells apart from the bot's.
    pub token: Option<String>,
}

/// Why a target could not be built: each names the target, and the field or file where there is one.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("target {target:?}: `{field}` names the environment variable {var}, which is not set")]
    MissingEnv { target: String, field: &'static str, var: String },
    #[error("target {target:?}: token_file {}: {reason}", path.display())]
    TokenFile { target: String, path: std::path::PathBuf, reason: String },
    #[error("target {target:?}: {what} is required")]
    Missing { target: String, what: &'static str },
    #[error("target {target:?}: {reason}")]
    Login { target: String, reason: String },
    #[error("target {target:?}: {reason}")]
    Invalid { target: String, reason: String },
    #[error("target {target:?}: the webhook verification handshake failed: {reason}")]
    Handshake { target: String, reason: String },
}

fn env_var(target: &str, field: &'static str, var: &str) -> Result<String, BuildError> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => Err(BuildError::MissingEnv { target: target.into(), field, var: var.into() }),
    }
}

/// The access token a Cloud target names in `token_env` or `token_file` (trimmed), or `None` when it
/// names neither.
pub fn named_token(spec: &TargetSpec, base_dir: &std::path::Path) -> Result<Option<String>, BuildError> {
    match (&spec.token_env, &spec.token_file) {
        (Some(var), _) => env_var(&spec.name, "token_env", var).map(Some),
        (None, Some(f)) => {
            let path = base_dir.join(f);
            let t = std::fs::read_to_string(&path).map_err(|e| BuildError::TokenFile {
                target: spec.name.clone(),
                path: path.clone(),
                reason: e.to_string(),
            })?;
            Ok(Some(t.trim().to_string()))
        }
        (None, None) => Ok(None),
    }
}

/// How the target is reached (TLS, proxy, `connect_to`); an embedded simulator or receiver directly.
fn net(spec: &TargetSpec, ctx: &BuildCtx<'_>) -> Result<Arc<crate::spec::net::Net>, BuildError> {
    if ctx.embedded.is_some() || ctx.embedded_receiver.is_some() {
        return Ok(crate::spec::net::Net::shared_direct());
    }
    crate::spec::net::Net::of_target(spec, ctx.base_dir)
        .map(Arc::new)
        .map_err(|e| BuildError::Invalid { target: spec.name.clone(), reason: format!("`{}`: {}", e.field, e.reason) })
}

/// Build the target of a profile entry.
pub fn build(spec: &TargetSpec, ctx: &BuildCtx<'_>) -> Result<Arc<dyn Target>, BuildError> {
    let invalid = |reason: String| BuildError::Invalid { target: spec.name.clone(), reason };
    let missing = |what: &'static str| BuildError::Missing { target: spec.name.clone(), what };
    if spec.kind == TargetKind::Http {
        return Ok(Arc::new(
            http::HttpTarget::new(spec, ctx.body, ctx.feeder.clone(), ctx.seed)
                .map_err(invalid)?
                .with_net(net(spec, ctx)?),
        ));
    }
    if spec.kind == TargetKind::Webhook {
        return build_webhook(spec, ctx);
    }
    if spec.kind == TargetKind::Conversation {
        let wiring = ctx.conversation.clone().ok_or_else(|| missing("its simulated Cloud API (set up by the run)"))?;
        let t =
            conversation::ConversationTarget::new(spec, ctx.recipients.clone(), ctx.seed, wiring).map_err(invalid)?;
        return Ok(Arc::new(t.with_net(net(spec, ctx)?, ctx.timeout).map_err(invalid)?));
    }
    let base = match (&ctx.embedded, spec.address()) {
        (Some((url, _)), _) => url.clone(),
        (None, Some(u)) => u.to_string(),
        (None, None) => return Err(missing("base_url")),
    };
    let endpoint = Endpoint::parse(&base).map_err(invalid)?;
    let common = cloud::Common {
        base: base::Base { net: net(spec, ctx)?, ..base::Base::new(spec.kind, spec, endpoint) },
        messages: ctx.messages.clone(),
        recipients: ctx.recipients.clone(),
        retry: ctx.retry.clone(),
        seed: ctx.seed,
        tracker: ctx.tracker.clone(),
        templates: ctx
            .messages
            .templates(&ctx.recipients, None)
            .map_err(|(field, reason)| invalid(format!("{field}: {reason}")))?,
        resend_unanswered: spec.resend_unanswered,
        failures: ctx.failures.clone(),
        secrets: crate::units::redact::Secrets::new(),
    };
    let mut common = common;
    if spec.kind == TargetKind::Cloud {
        let token = match named_token(spec, ctx.base_dir)? {
            Some(t) => t,
            None if ctx.embedded.is_some() => {
                ctx.token.clone().unwrap_or_else(|| crate::spec::sim::TEST_TOKEN.to_string())
            }
            None => return Err(missing("an access token (token_env or token_file)")),
        };
        let version = spec.api_version.as_deref().unwrap_or("v23.0");
        let numbers = cloud::Numbers { ids: spec.sending_numbers(), spread: spec.spread.unwrap_or_default() };
        common.secrets =
            crate::units::redact::Secrets::new().with(&token).and(&common.base.net.secrets(&common.base.endpoint));
        return Ok(Arc::new(cloud::CloudTarget::new(common, version, &numbers, &token).map_err(invalid)?));
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
            let u =
                sim.onprem.users.first().ok_or_else(|| missing("a user of the embedded simulator to log in with"))?;
            // A fresh simulator is a fresh deployment: the default admin's first login sets a new
            // password, as new_password_env does against a real one; the session logs in with it after.
            let new_password = u.must_change_password().then(auth::one_time_password);
            auth::Credentials { username: u.username.clone(), password: u.password.clone(), new_password }
        }
        _ => return Err(missing("username_env and password_env")),
    };
    common.secrets = crate::units::redact::Secrets::new()
        .with_basic(&creds.username, &creds.password)
        .and(&common.base.net.secrets(&common.base.endpoint));
    if let Some(p) = &creds.new_password {
        common.secrets = common.secrets.with(p);
    }
    let session = auth::Session::start(&base, creds, &common.base.net)
        .map_err(|reason| BuildError::Login { target: spec.name.clone(), reason })?;
    Ok(Arc::new(onprem::OnPremTarget::new(common, session).map_err(invalid)?))
}

/// A webhook target: its secrets (made by the run for an embedded receiver, else named by the
/// profile), the handshake checked first, then the driver.
fn build_webhook(spec: &TargetSpec, ctx: &BuildCtx<'_>) -> Result<Arc<dyn Target>, BuildError> {
    let invalid = |reason: String| BuildError::Invalid { target: spec.name.clone(), reason };
    let (url, secrets) = match (&ctx.embedded_receiver, spec.address()) {
        (Some((url, secrets)), _) => (url.clone(), secrets.clone()),
        (None, Some(u)) => (u.to_string(), webhook::resolve_secrets(spec, ctx.base_dir)?),
        (None, None) => return Err(BuildError::Missing { target: spec.name.clone(), what: "url" }),
    };
    let w = spec.webhook_spec();
    let net = net(spec, ctx)?;
    if w.handshake {
        let token = secrets.verify_token.as_deref().unwrap_or_default();
        let held = secrets.held().and(&http::header_secrets(spec));
        webhook::handshake(&url, token, ctx.seed, &net, ctx.timeout, &held)
            .map_err(|reason| BuildError::Handshake { target: spec.name.clone(), reason })?;
    }
    let events_per_second = ctx.peak_rate.unwrap_or(1.0) * w.mean_batch();
    Ok(Arc::new(
        webhook::WebhookTarget::new(spec, &url, &secrets, ctx.seed, events_per_second).map_err(invalid)?.with_net(net),
    ))
}
