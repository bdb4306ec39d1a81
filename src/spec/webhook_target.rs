//! The `[targets.webhook]` table of a `kind = "webhook"` target: what the run POSTs to a user's own
//! webhook endpoint (deployment shape, event mix, batching, where the app secret and verify token are
//! found, Meta-like retries) and the sizing shortcut that turns expected message rates into the load
//! rate. Secrets are never stored here, only where to find them.
//!
//! ```toml
//! [[targets]]
//! name = "my-endpoint"
//! kind = "webhook"
//! url = "https://hooks.example.com/whatsapp"   # or "embedded": wabench's own receiver
//! [targets.webhook]
//! flavor = "cloud"                  # or "onprem" (unsigned {statuses} / {messages} bodies)
//! max_batch = 3                     # events per POST: 1..=max_batch, seeded
//! app_secret_env = "WABENCH_APP_SECRET"
//! verify_token_env = "WABENCH_VERIFY_TOKEN"
//! messages_per_second = 20          # sizing: rate = (3 × 20 + 5) events/s
//! inbound_per_second = 5
//! [targets.webhook.statuses]
//! sent = 1
//! delivered = 1
//! read = 1
//! failed = 0.05
//! [targets.webhook.inbound]
//! text = 1
//! image = 0.2
//! interactive = 0.2
//! location = 0.05
//! [targets.webhook.retry]
//! max_attempts = 3
//! initial = "1s"
//! ```

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Dur;
use super::graph_version::GraphVersion;
use super::numbers;

/// Which deployment's webhooks the target imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HookFlavor {
    /// Cloud API: `whatsapp_business_account` envelope, signed with `X-Hub-Signature-256`.
    #[default]
    Cloud,
    /// On-Premises API: top-level `{"statuses":[…]}` / `{"contacts":[…],"messages":[…]}`, unsigned.
    #[serde(rename = "onprem")]
    OnPrem,
}

/// Relative weights of the status events (a status event's share is its weight over the sum of
/// all status and inbound weights).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct StatusWeights {
    pub sent: f64,
    pub delivered: f64,
    /// At most `delivered`: a message is read only once delivered (Meta, status webhook reference).
    pub read: f64,
    pub failed: f64,
}

impl Default for StatusWeights {
    fn default() -> Self {
        StatusWeights { sent: 1.0, delivered: 1.0, read: 1.0, failed: 0.0 }
    }
}

/// Relative weights of the inbound (user → business) message types.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct InboundWeights {
    pub text: f64,
    /// Image with a media id (and caption).
    pub image: f64,
    pub document: f64,
    pub audio: f64,
    pub sticker: f64,
    pub location: f64,
    /// Replies to interactive messages (`button_reply` and `list_reply`, alternately).
    pub interactive: f64,
    /// Quick-reply buttons of templates (`type = "button"`).
    pub button: f64,
    pub reaction: f64,
}

impl Default for InboundWeights {
    fn default() -> Self {
        InboundWeights {
            text: 0.0,
            image: 0.0,
            document: 0.0,
            audio: 0.0,
            sticker: 0.0,
            location: 0.0,
            interactive: 0.0,
            button: 0.0,
            reaction: 0.0,
        }
    }
}

impl InboundWeights {
    /// Every type with its weight, in a fixed order.
    pub fn all(&self) -> [(&'static str, f64); 9] {
        [
            ("text", self.text),
            ("image", self.image),
            ("document", self.document),
            ("audio", self.audio),
            ("sticker", self.sticker),
            ("location", self.location),
            ("interactive", self.interactive),
            ("button", self.button),
            ("reaction", self.reaction),
        ]
    }
}

/// Meta-like re-delivery of POSTs not answered 200: Meta re-delivers with exponential back-off (for up
/// to 7 days on Cloud, about 24 hours on-prem; Meta "Webhooks"); a run compresses that into a
/// few attempts so a user sees what the endpoint gets under failure.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct HookRetry {
    /// Attempts per POST including the first (1 = never re-deliver).
    pub max_attempts: u32,
    /// Wait before the first re-delivery; doubles each time.
    pub initial: Dur,
    /// Longest wait.
    pub max: Dur,
}

impl Default for HookRetry {
    fn default() -> Self {
        HookRetry {
            max_attempts: 1,
            initial: Dur(std::time::Duration::from_secs(1)),
            max: Dur(std::time::Duration::from_secs(60)),
        }
    }
}

/// The `[targets.webhook]` table.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookTargetSpec {
    pub flavor: HookFlavor,
    /// Events per POST: each POST carries 1..=max_batch events (seeded), as Meta groups webhooks.
    pub max_batch: u32,
    pub statuses: StatusWeights,
    pub inbound: InboundWeights,
    /// Cloud: environment variable holding the app secret the bodies are signed with …
    pub app_secret_env: Option<String>,
    /// … or a file holding it (relative to the profile's folder); takes precedence.
    pub app_secret_file: Option<PathBuf>,
    /// Environment variable holding the verify token of the subscription handshake.
    pub verify_token_env: Option<String>,
    /// Check the subscription handshake (`GET ?hub.mode=subscribe…`) before the load.
    pub handshake: bool,
    pub retry: HookRetry,
    /// Sizing shortcut (with `inbound_per_second`): the load rate is `3 × messages_per_second +
    /// inbound_per_second` events per second (Meta: a webhook server must "withstand 3x the capacity
    /// of outgoing message traffic and 1x the capacity of expected incoming message traffic"),
    /// divided by the mean events per POST.
    pub messages_per_second: Option<f64>,
    pub inbound_per_second: Option<f64>,
    /// The WhatsApp Business Account id in `entry[].id` (Cloud).
    pub waba_id: String,
    pub phone_number_id: String,
    pub display_phone_number: String,
    /// Distinct users the events are about (recipients of statuses, senders of inbound messages).
    pub users: u32,
    /// Cloud: the Graph API version of the app's webhooks, which decides the status shapes (from
    /// v24.0 no `conversation` object). Default "v23.0".
    pub api_version: String,
}

impl Default for WebhookTargetSpec {
    fn default() -> Self {
        WebhookTargetSpec {
            flavor: HookFlavor::Cloud,
            max_batch: 1,
            statuses: StatusWeights::default(),
            inbound: InboundWeights { text: 1.0, ..InboundWeights::default() },
            app_secret_env: Some(super::webhook::DEFAULT_APP_SECRET_ENV.to_owned()),
            app_secret_file: None,
            verify_token_env: Some(super::webhook::DEFAULT_VERIFY_TOKEN_ENV.to_owned()),
            handshake: true,
            retry: HookRetry::default(),
            messages_per_second: None,
            inbound_per_second: None,
            waba_id: "102290129340398".into(),
            phone_number_id: "106540352242922".into(),
            display_phone_number: "15550783881".into(),
            users: 1000,
            api_version: "v23.0".into(),
        }
    }
}

/// Largest `max_batch` (Meta's batches are small; a cap keeps bodies bounded).
pub const MAX_BATCH: u32 = 100;

impl WebhookTargetSpec {
    /// The Graph API version of the app's webhooks, when `api_version` reads as one.
    pub fn graph_version(&self) -> Option<GraphVersion> {
        GraphVersion::parse(&self.api_version)
    }

    /// Mean events per POST.
    pub fn mean_batch(&self) -> f64 {
        (f64::from(self.max_batch) + 1.0) / 2.0
    }

    /// The POSTs per second the sizing shortcut asks for, when it is used.
    pub fn sized_rate(&self) -> Option<f64> {
        if self.messages_per_second.is_none() && self.inbound_per_second.is_none() {
            return None;
        }
        let events = 3.0 * self.messages_per_second.unwrap_or(0.0) + self.inbound_per_second.unwrap_or(0.0);
        Some(events / self.mean_batch())
    }

    /// Checks; errors name the field below `targets[i].webhook.` and the reason.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |f: &str, r: String| Err((f.to_string(), r));
        if self.max_batch == 0 || self.max_batch > MAX_BATCH {
            return bad("max_batch", format!("must be from 1 to {MAX_BATCH}, got {}", self.max_batch));
        }
        let s = &self.statuses;
        let weights = [("statuses.sent", s.sent), ("statuses.delivered", s.delivered), ("statuses.read", s.read)];
        for (f, w) in weights
            .into_iter()
            .chain([("statuses.failed", s.failed)])
            .chain(self.inbound.all().into_iter().map(|(k, w)| (inbound_field(k), w)))
        {
            if !w.is_finite() || w < 0.0 {
                return bad(f, format!("must be a weight of 0 or more, got {w}"));
            }
        }
        if s.read > s.delivered {
            return bad(
                "statuses.read",
                format!(
                    "{} is above statuses.delivered ({}): a message is read only once it is delivered",
                    s.read, s.delivered
                ),
            );
        }
        let status_sum = s.sent + s.delivered + s.read + s.failed;
        let inbound_sum: f64 = self.inbound.all().iter().map(|(_, w)| w).sum();
        for (f, v) in
            [("messages_per_second", self.messages_per_second), ("inbound_per_second", self.inbound_per_second)]
        {
            if let Some(v) = v
                && (!v.is_finite() || v < 0.0)
            {
                return bad(f, format!("must be 0 or more, got {v}"));
            }
        }
        if self.sized_rate() == Some(0.0) {
            return bad("messages_per_second", "with inbound_per_second adds up to no event at all".into());
        }
        if self.messages_per_second.is_some_and(|m| m > 0.0) && status_sum == 0.0 {
            return bad("statuses", "messages_per_second needs at least one status weight above 0".into());
        }
        if self.inbound_per_second.is_some_and(|m| m > 0.0) && inbound_sum == 0.0 {
            return bad("inbound", "inbound_per_second needs at least one inbound weight above 0".into());
        }
        if status_sum + inbound_sum == 0.0 {
            return bad("statuses", "every status and inbound weight is 0: nothing would be sent".into());
        }
        if self.retry.max_attempts == 0 {
            return bad("retry.max_attempts", "must be at least 1 (1 = never re-deliver)".into());
        }
        if self.retry.initial.0.is_zero() || self.retry.max.0 < self.retry.initial.0 {
            return bad("retry.initial", "must be longer than zero and at most retry.max".into());
        }
        if self.users == 0 {
            return bad("users", "must be at least 1".into());
        }
        if self.graph_version().is_none() {
            return bad("api_version", format!("{:?} is not a Graph API version like \"v24.0\"", self.api_version));
        }
        for (f, v, valid) in [
            ("waba_id", &self.waba_id, numbers::is_digits(&self.waba_id)),
            ("phone_number_id", &self.phone_number_id, numbers::is_phone_number_id(&self.phone_number_id)),
            ("display_phone_number", &self.display_phone_number, numbers::is_digits(&self.display_phone_number)),
        ] {
            if !valid {
                return bad(f, format!("{v:?}: must be digits"));
            }
        }
        if self.flavor == HookFlavor::OnPrem && self.app_secret_file.is_some() {
            return bad(
                "app_secret_file",
                "On-Premises webhooks are not signed: remove it or use flavor = \"cloud\"".into(),
            );
        }
        for (f, v) in [("app_secret_env", &self.app_secret_env), ("verify_token_env", &self.verify_token_env)] {
            if v.as_deref().is_some_and(|v| v.trim().is_empty()) {
                return bad(f, "names no environment variable".into());
            }
        }
        Ok(())
    }
}

fn inbound_field(kind: &str) -> &'static str {
    match kind {
        "text" => "inbound.text",
        "image" => "inbound.image",
        "document" => "inbound.document",
        "audio" => "inbound.audio",
        "sticker" => "inbound.sticker",
        "location" => "inbound.location",
        "interactive" => "inbound.interactive",
        "button" => "inbound.button",
        _ => "inbound.reaction",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_example_parses_and_sizes() {
        let src = include_str!("webhook_target.rs");
        let text = super::super::doc_toml(src, |_| true);
        let table = text.split_once("[targets.webhook]").unwrap().1.replace("[targets.webhook.", "[");
        let spec: WebhookTargetSpec = toml::from_str(&table).unwrap();
        spec.validate().unwrap();
        assert_eq!(spec.max_batch, 3);
        // (3 × 20 + 5) events/s over 2 events per POST on average.
        assert_eq!(spec.sized_rate(), Some(32.5));
        assert_eq!(spec.retry.max_attempts, 3);
    }

    #[test]
    fn errors_name_the_field() {
        let check = |f: fn(&mut WebhookTargetSpec), field: &str| {
            let mut s = WebhookTargetSpec::default();
            f(&mut s);
            let (got, reason) = s.validate().unwrap_err();
            assert_eq!(got, field, "{reason}");
        };
        check(|s| s.max_batch = 0, "max_batch");
        check(|s| s.statuses.read = 2.0, "statuses.read");
        check(|s| s.inbound.image = -1.0, "inbound.image");
        check(|s| s.retry.max_attempts = 0, "retry.max_attempts");
        check(|s| s.waba_id = "abc".into(), "waba_id");
        check(|s| s.phone_number_id = String::new(), "phone_number_id");
        check(|s| s.display_phone_number = "+15550783881".into(), "display_phone_number");
        check(|s| s.api_version = "v24".into(), "api_version");
        check(|s| s.api_version = "v24.0.1".into(), "api_version");
        check(|s| s.messages_per_second = Some(f64::NAN), "messages_per_second");
        check(
            |s| {
                s.inbound = InboundWeights::default();
                s.inbound_per_second = Some(3.0);
            },
            "inbound",
        );
        assert!(toml::from_str::<WebhookTargetSpec>("app_secret = \"x\"").is_err());
    }
}
