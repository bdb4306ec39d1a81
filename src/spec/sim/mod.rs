//! Simulator configuration: the profile's `[simulator]` table, its defaults and its validation.
//!
//! Every field has a default taken from the platform facts (Meta's published limits) or, where Meta
//! publishes nothing, from the harness's documented model. Durations are humantime strings
//! (`"120ms"`, `"5m"`).
//!
//! ```toml
//! [simulator]
//! flavor = "cloud"            # or "onprem"
//! seed = 7
//! [simulator.latency]
//! distribution = "lognormal"  # "constant" (uses median) or "uniform" (min..max)
//! median = "120ms"
//! p99 = "600ms"
//! [simulator.cloud]
//! throughput_mps = 80
//! throttle_http_status = 429
//! pair_limit = { enabled = true, interval = "6s", burst = 45 }
//! [simulator.onprem]
//! shards = 8                  # CoreApp shards (multiconnect): 1, 2, 4, 8, 16 or 32
//! webapps = 3                 # WebApps in front of them, each with its own request limiter
//! # per_shard_mps = 15.625    # unset: Meta's sizing (8 shards ≈ 125, 32 ≈ 250 messages/s)
//! token_ttl = "7days"
//! users = [{ username = "admin", password = "secret" }]   # must set new_password on first login
//! [[simulator.downtime]]
//! start = "30s"
//! duration = "10s"
//! [simulator.recipients]
//! undeliverable_suffixes = ["0000"]
//! undeliverable_fraction = 0.01
//! [simulator.service_window]  # see `spec::sim::limits`
//! open_fraction = 0.0
//! [simulator.inbound]
//! rate = 2.0                  # inbound user messages per second (default 0)
//! [simulator.messaging_limit]
//! tier = 2000                 # default "unlimited"
//! [simulator.webhooks]        # see `spec::sim::hooks` for every field
//! delivered = { median = "1s", p99 = "4s" }
//! [simulator.identity]        # BSUIDs and usernames (2026); see `spec::sim::identity`
//! username_fraction = 0.1
//! [simulator.media]           # media by link that fails to download (131053); `spec::sim::content`
//! link_failure_fraction = 0.01
//! [[simulator.templates]]     # the business's templates (132000/132001/…); `spec::sim::content`
//! name = "order_update"
//! params = 2
//! [simulator.transient]       # transient errors per API; see `spec::sim::transient`
//! stall_for = "30s"
//! cloud = { server_error = 0.002, unknown_error = 0.001, bare_5xx = 0.001, stall = 0.0005 }
//! onprem = { server_error = 0.001 }
//! [simulator.server]          # timeouts and connection cap of its HTTP server; `spec::sim::server`
//! read_header_timeout = "30s"
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::graph_version::GraphVersion;

pub mod content;
pub mod hooks;
pub mod identity;
pub mod limits;
pub mod onprem;
pub(crate) mod primitives;
pub mod server;
pub mod transient;

pub use content::{MediaConfig, PacingConfig, TemplateCategory, TemplateConfig, TemplateStatus};
pub use hooks::{HooksConfig, StageDelay};
pub use identity::{IdentityConfig, StatusUserId};
pub use limits::{InboundConfig, MessagingLimitConfig, MessagingTier, WindowConfig};
pub use primitives::{ConfigError, Distribution, Flavor};
pub use server::ServerConfig;
pub use transient::TransientConfig;

/// The `[simulator]` table.
#[derive(Deserialize, Serialize, Clone, Debug, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    /// Which API to imitate: `"cloud"` (default) or `"onprem"`.
    pub flavor: Flavor,
    /// Seed of every random choice (latencies, ids, seeded recipient fractions). Default 1.
    pub seed: u64,
    /// Response-time model.
    pub latency: LatencyConfig,
    /// Cloud API limits and auth rules.
    pub cloud: CloudConfig,
    /// On-Premises API capacity, users and request limits.
    pub onprem: OnPremConfig,
    /// Windows of unavailability, relative to server start. Default: none.
    pub downtime: Vec<DowntimeWindow>,
    /// Rules that make some recipients fail.
    pub recipients: RecipientRules,
    /// Largest accepted request body in bytes; larger bodies get HTTP 413. Default 1 MiB.
    pub max_body_bytes: usize,
    /// Status webhooks of accepted messages (posted only once a callback URL is set).
    pub webhooks: HooksConfig,
    /// Customer service windows (closed until the user writes).
    pub service_window: WindowConfig,
    /// Inbound user messages the simulator generates (default none).
    pub inbound: InboundConfig,
    /// The business portfolio's messaging limit (default unlimited).
    pub messaging_limit: MessagingLimitConfig,
    /// Transient errors of message sends, per API (`spec::sim::transient`). Default: none.
    pub transient: TransientConfig,
    /// Business-scoped user IDs and usernames (`spec::sim::identity`). Default: BSUIDs on, no
    /// usernames.
    pub identity: IdentityConfig,
    /// The business's message templates (`spec::sim::content`), checked on Cloud sends: an unknown
    /// name or language, a wrong parameter count or type, a paused or disabled template is answered
    /// with Meta's error at send. Empty (default): any template is accepted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<TemplateConfig>,
    /// Media sent by link (`spec::sim::content`). Default: every link downloads.
    pub media: MediaConfig,
    /// Timeouts and connection cap of the HTTP server (`spec::sim::server`). Default: hyper's
    /// 30 s to read a head, 30 s idle, 10000 connections.
    pub server: ServerConfig,
    /// Where `cloud.tokens_env` is looked up (not part of the profile): the process environment unless
    /// an embedding program gives the variable.
    #[serde(skip)]
    #[schemars(skip)]
    pub env: crate::units::Env,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            flavor: Flavor::Cloud,
            seed: 1,
            latency: LatencyConfig::default(),
            cloud: CloudConfig::default(),
            onprem: OnPremConfig::default(),
            downtime: Vec::new(),
            recipients: RecipientRules::default(),
            max_body_bytes: 1 << 20,
            webhooks: HooksConfig::default(),
            service_window: WindowConfig::default(),
            inbound: InboundConfig::default(),
            messaging_limit: MessagingLimitConfig::default(),
            transient: TransientConfig::default(),
            identity: IdentityConfig::default(),
            templates: Vec::new(),
            media: MediaConfig::default(),
            server: ServerConfig::default(),
            env: crate::units::Env::default(),
        }
    }
}

/// Response-time model: every response is delayed by a sample of it, plus queueing delay.
#[derive(Deserialize, Serialize, Clone, Debug, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LatencyConfig {
    /// `"lognormal"` (default), `"constant"` or `"uniform"`.
    pub distribution: Distribution,
    /// Median response time. Unset: 120ms for Cloud, 60ms for on-prem (model).
    #[schemars(with = "Option<crate::units::duration::Dur>")]
    #[serde(with = "crate::units::duration::serde::option", skip_serializing_if = "Option::is_none")]
    pub median: Option<Duration>,
    /// 99th percentile (lognormal only). Unset: 600ms for Cloud, 400ms for on-prem (model).
    #[schemars(with = "Option<crate::units::duration::Dur>")]
    #[serde(with = "crate::units::duration::serde::option", skip_serializing_if = "Option::is_none")]
    pub p99: Option<Duration>,
    /// Lower clamp of every sample (and lower bound of `uniform`). Default 0s.
    #[schemars(with = "crate::units::duration::Dur")]
    #[serde(with = "crate::units::duration::serde")]
    pub min: Duration,
    /// Upper clamp of every sample (and upper bound of `uniform`). Default 30s.
    #[schemars(with = "crate::units::duration::Dur")]
    #[serde(with = "crate::units::duration::serde")]
    pub max: Duration,
}

impl Default for LatencyConfig {
    fn default() -> Self {
        LatencyConfig {
            distribution: Distribution::Lognormal,
            median: None,
            p99: None,
            min: Duration::ZERO,
            max: Duration::from_secs(30),
        }
    }
}

impl LatencyConfig {
    /// A latency of exactly zero, for throughput benchmarks of the harness itself.
    pub fn zero() -> Self {
        LatencyConfig { distribution: Distribution::Constant, median: Some(Duration::ZERO), ..LatencyConfig::default() }
    }
}

/// The bearer token the Cloud API simulator accepts by default (and embedded targets send).
pub const TEST_TOKEN: &str = "wabench-embedded-token";
/// A token the simulator treats as expired by default (190, subcode 463).
pub const EXPIRED_TEST_TOKEN: &str = "wabench-expired-token";
/// A token the simulator treats as lacking the messaging permission by default (10, HTTP 403).
pub const NO_PERMISSION_TEST_TOKEN: &str = "wabench-noperm-token";

/// Cloud API rules.
#[derive(Deserialize, Serialize, Clone, Debug, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CloudConfig {
    /// Messages per second per phone-number-id (token bucket of one second's worth).
    /// Default 80 (Meta's default; up to 1000 after the automatic upgrade). 0 = unlimited.
    pub throughput_mps: u32,
    /// HTTP status of throttling errors (130429, 131056). Default 429; some integrators see 400.
    pub throttle_http_status: u16,
    /// Per-recipient pair rate limit (131056).
    pub pair_limit: PairLimitConfig,
    /// Accepted bearer tokens. Default: the documented test token [`TEST_TOKEN`] (what an embedded
    /// target sends). Any other token gets 190 (HTTP 401), as the Graph API answers an access token it
    /// cannot parse.
    pub tokens: Vec<String>,
    /// An environment variable holding more accepted tokens (comma-separated), so real-looking tokens
    /// stay out of profiles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_env: Option<String>,
    /// Tokens that have expired: 190 with subcode 463 (Graph API error handling: 463 = "access token
    /// has expired"). Default: [`EXPIRED_TEST_TOKEN`].
    pub expired_tokens: Vec<String>,
    /// Tokens without the `whatsapp_business_messaging` permission: code 10, HTTP 403.
    /// Default: [`NO_PERMISSION_TEST_TOKEN`].
    pub no_permission_tokens: Vec<String>,
    /// Accepted phone-number-ids. Empty (default): any all-digit id.
    pub phone_number_ids: Vec<String>,
    /// Automatic throughput upgrade of every number (e.g. 80 → 1000 mps). Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<UpgradeConfig>,
    /// Accepted Graph API versions (e.g. `["v23.0"]`). Empty (default): any `vNN.N`.
    /// Another version gets HTTP 400 with code 100.
    pub api_versions: Vec<String>,
    /// Read every send's body as JSON, whatever its Content-Type. Default false: bodies are read as
    /// the Graph API reads parameters, from JSON or a form only; a send with another Content-Type (or
    /// none) has no `messaging_product` and is refused with 131008 (the simulator's reading: no Meta
    /// page states how such a send is answered).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub any_content_type: bool,
}

impl Default for CloudConfig {
    fn default() -> Self {
        CloudConfig {
            throughput_mps: 80,
            throttle_http_status: 429,
            pair_limit: PairLimitConfig::default(),
            tokens: vec![TEST_TOKEN.into()],
            tokens_env: None,
            expired_tokens: vec![EXPIRED_TEST_TOKEN.into()],
            no_permission_tokens: vec![NO_PERMISSION_TEST_TOKEN.into()],
            phone_number_ids: Vec::new(),
            api_versions: Vec::new(),
            upgrade: None,
            any_content_type: false,
        }
    }
}

/// Throughput upgrade: from `start` (after server start) for `duration` every send gets 131057
/// (HTTP `throttle_http_status`); afterwards the per-number limit is `throughput_mps`.
#[derive(Deserialize, Serialize, Clone, Debug, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct UpgradeConfig {
    /// Default 60s.
    #[schemars(with = "crate::units::duration::Dur")]
    #[serde(with = "crate::units::duration::serde")]
    pub start: Duration,
    /// Default 60s (Meta: about a minute).
    #[schemars(with = "crate::units::duration::Dur")]
    #[serde(with = "crate::units::duration::serde")]
    pub duration: Duration,
    /// Limit after the upgrade. Default 1000.
    pub throughput_mps: u32,
}

impl Default for UpgradeConfig {
    fn default() -> Self {
        UpgradeConfig { start: Duration::from_secs(60), duration: Duration::from_secs(60), throughput_mps: 1000 }
    }
}

/// Pair rate limit (131056): one message per `interval` to one recipient; a burst of up to `burst`
/// messages within one `interval` borrows from future quota, and the recipient then receives nothing
/// until the borrowed intervals have passed (a burst of 20 at 6 s: about 2 minutes). The exact rule
/// and Meta's source are in `sim::pair`.
#[derive(Deserialize, Serialize, Clone, Debug, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PairLimitConfig {
    /// Enforce it. Default true.
    pub enabled: bool,
    /// Default 6s (Meta: "1 message every 6 seconds" to the same user, code 131056;
    /// developers.facebook.com/docs/whatsapp/cloud-api/overview#pair-rate-limits).
    #[schemars(with = "crate::units::duration::Dur")]
    #[serde(with = "crate::units::duration::serde")]
    pub interval: Duration,
    /// Default 45 (Meta: bursts of "up to 45 messages in 6 seconds"; same sources).
    pub burst: u32,
}

impl Default for PairLimitConfig {
    fn default() -> Self {
        PairLimitConfig { enabled: true, interval: Duration::from_secs(6), burst: 45 }
    }
}

/// One On-Premises API user (`POST /v1/users/login` with HTTP Basic).
#[derive(Deserialize, Serialize, Clone, Debug, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Login name.
    pub username: String,
    /// Password (may be changed at runtime with `new_password` on login).
    pub password: String,
    /// The first login must set `new_password`. Unset: true for Meta's default account
    /// `admin` / `secret`, false for any other (see [`UserConfig::must_change_password`]).
    #[serde(default, rename = "must_change_password", skip_serializing_if = "Option::is_none")]
    pub must_change: Option<bool>,
}

/// On-Premises API rules.
#[derive(Deserialize, Serialize, Clone, Debug, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct OnPremConfig {
    /// Number of CoreApp shards: 1..=32 (Meta supports 1, 2, 4, 8, 16, 32). Default 8.
    /// Recipients are spread over shards by hash, as Meta's `hash(recipient-id) % shard-number`.
    pub shards: u32,
    /// WebApps in front of the shards, each with its own request limiters; requests are spread
    /// over them round-robin (see `sim::deployment`). Default 3: enough for the 125 messages/s of
    /// the default 8 shards at 50 requests/s each.
    pub webapps: u32,
    /// Messages per second one shard processes. Unset (default): Meta's published sizing for the
    /// shard count (see [`onprem::meta_capacity_mps`]: 8 shards ≈ 125, 32 ≈ 250 messages/s).
    /// Set: every shard processes this many, so capacity grows linearly with shards.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_shard_mps: Option<f64>,
    /// Accounts for `/v1/users/login`. Default: one user `admin` / `secret`.
    // The default is not written when a profile is (a missing list reads back as it), so a profile
    // wabench writes holds no password of its own making.
    #[serde(skip_serializing_if = "UserConfig::are_default")]
    #[schemars(extend("default" = [{ "password": "secret", "username": "admin" }]))]
    pub users: Vec<UserConfig>,
    /// Lifetime of a login token. Default 7 days.
    #[schemars(with = "crate::units::duration::Dur")]
    #[serde(with = "crate::units::duration::serde")]
    pub token_ttl: Duration,
    /// Request limit of `/v1/messages` per WebApp in requests per second (→ 1015, HTTP 429).
    /// Default 50; 0 = off.
    pub messages_rps: u32,
    /// Burst of that limit. Default 150.
    pub messages_burst: u32,
    /// Request limit of the other endpoints per WebApp. Default 20 rps; 0 = off.
    pub other_rps: u32,
    /// Burst of that limit. Default 60.
    pub other_burst: u32,
    /// A message whose shard queue delay would exceed this is refused with 1016 (HTTP 503).
    /// Default 2s.
    #[schemars(with = "crate::units::duration::Dur")]
    #[serde(with = "crate::units::duration::serde")]
    pub overload_queue_delay: Duration,
    /// Version reported in `meta.version`. Default "2.53.4".
    pub version: String,
}

impl Default for OnPremConfig {
    fn default() -> Self {
        OnPremConfig {
            shards: 8,
            webapps: 3,
            per_shard_mps: None,
            users: vec![UserConfig { username: "admin".into(), password: "secret".into(), must_change: None }],
            token_ttl: Duration::from_secs(7 * 24 * 3600),
            messages_rps: 50,
            messages_burst: 150,
            other_rps: 20,
            other_burst: 60,
            overload_queue_delay: Duration::from_secs(2),
            version: "2.53.4".into(),
        }
    }
}

/// A window of unavailability: from `start` after server start, for `duration`.
/// Cloud answers error code 2 with HTTP 503; on-prem answers 1016 with HTTP 503 on every
/// authenticated endpoint and reports `gateway_status: "unavailable"` on `/v1/health`.
#[derive(Deserialize, Serialize, Clone, Debug, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DowntimeWindow {
    /// Offset from server start.
    #[schemars(with = "crate::units::duration::Dur")]
    #[serde(with = "crate::units::duration::serde")]
    pub start: Duration,
    /// Length of the window.
    #[schemars(with = "crate::units::duration::Dur")]
    #[serde(with = "crate::units::duration::serde")]
    pub duration: Duration,
}

/// Why an undeliverable recipient (131026) cannot receive messages.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UndeliverableReason {
    /// Pick one of the four below per recipient, seeded.
    #[default]
    Mixed,
    /// Recipient has not been online for more than 30 days.
    Offline,
    /// Recipient blocked the business.
    Blocked,
    /// Recipient runs a client older than the minimum version.
    OldClient,
    /// Recipient has not accepted the latest Terms of Service.
    Tos,
}

/// Rules that make recipients fail. Numbers are compared as digits only (no `+`).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RecipientRules {
    /// Numbers ending in one of these are undeliverable: Cloud accepts the message, then posts a
    /// `failed` status with 131026; on-prem refuses the send with 1013.
    /// Default `["0000"]`.
    pub undeliverable_suffixes: Vec<String>,
    /// A seeded fraction of all numbers (0.0..=1.0) is undeliverable too. Default 0.
    pub undeliverable_fraction: f64,
    /// The reason given in `error_data.details`. Default `"mixed"`.
    pub undeliverable_reason: UndeliverableReason,
    /// Windows of numbers ending in one of these never open (their users do not write, nor are they
    /// among `service_window.open_fraction`): non-template messages to them are accepted and then
    /// fail with re-engagement (Cloud 131047, on-prem 470) even with windows off. Default `["4747"]`.
    pub reengagement_suffixes: Vec<String>,
    /// Template messages to numbers ending in one of these hit the per-user marketing
    /// template limit: accepted, then a `failed` status with 131049. Default `["4949"]`.
    pub marketing_limit_suffixes: Vec<String>,
    /// Marketing templates to numbers ending in one of these are accepted, then fail in a `failed`
    /// status with 130472: the user's number is part of an experiment (Cloud; Meta's error
    /// codes). Default none: Meta does not say how many users are in one.
    pub experiment_suffixes: Vec<String>,
    /// Marketing templates to numbers ending in one of these are accepted, then fail in a `failed`
    /// status with 131050: the user stopped marketing messages from the business (Cloud).
    /// Default none.
    pub stopped_marketing_suffixes: Vec<String>,
    /// Country calling codes that cannot receive messages (sanctioned regions); rejected as
    /// undeliverable (Cloud 131026, on-prem 1013) with a details text naming the region.
    /// Default Cuba 53, Iran 98, North Korea 850, Syria 963 (Turkey 90 is allowed).
    pub sanctioned_country_codes: Vec<String>,
}

impl Default for RecipientRules {
    fn default() -> Self {
        RecipientRules {
            undeliverable_suffixes: vec!["0000".into()],
            undeliverable_fraction: 0.0,
            undeliverable_reason: UndeliverableReason::Mixed,
            reengagement_suffixes: vec!["4747".into()],
            marketing_limit_suffixes: vec!["4949".into()],
            experiment_suffixes: Vec::new(),
            stopped_marketing_suffixes: Vec::new(),
            sanctioned_country_codes: ["53", "98", "850", "963"].map(String::from).to_vec(),
        }
    }
}

/// Longest accepted `onprem.token_ttl`.
const MAX_TOKEN_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

impl SimConfig {
    /// A configuration for benchmarking: zero latency, no throughput or pair limits.
    pub fn benchmark(flavor: Flavor) -> Self {
        let mut cfg = SimConfig { flavor, latency: LatencyConfig::zero(), ..SimConfig::default() };
        cfg.cloud.throughput_mps = 0;
        cfg.cloud.pair_limit.enabled = false;
        cfg.onprem.messages_rps = 0;
        cfg.onprem.other_rps = 0;
        cfg.onprem.per_shard_mps = Some(1e9);
        cfg
    }

    /// Median latency after applying the flavor's default.
    pub fn latency_median(&self) -> Duration {
        self.latency.median.unwrap_or(match self.flavor {
            Flavor::Cloud => Duration::from_millis(120),
            Flavor::OnPrem => Duration::from_millis(60),
        })
    }

    /// p99 latency after applying the flavor's default.
    pub fn latency_p99(&self) -> Duration {
        self.latency.p99.unwrap_or(match self.flavor {
            Flavor::Cloud => Duration::from_millis(600),
            Flavor::OnPrem => Duration::from_millis(400),
        })
    }

    /// Check ranges; the server refuses to start on an invalid configuration.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |s: &str| Err(ConfigError(s.to_string()));
        if self.latency.max < self.latency.min {
            return err("latency.max must be >= latency.min");
        }
        if self.latency.distribution == Distribution::Lognormal {
            let (m, p) = (self.latency_median(), self.latency_p99());
            if m.is_zero() || p < m {
                return err("lognormal latency needs median > 0 and p99 >= median");
            }
        }
        if !(1..=32).contains(&self.onprem.shards) {
            return err("onprem.shards must be in 1..=32");
        }
        self.onprem.validate_deployment()?;
        if !(0.0..=1.0).contains(&self.recipients.undeliverable_fraction) {
            return err("recipients.undeliverable_fraction must be in 0..=1");
        }
        if self.cloud.pair_limit.enabled
            && (self.cloud.pair_limit.burst == 0 || self.cloud.pair_limit.interval.is_zero())
        {
            return err("cloud.pair_limit needs burst >= 1 and interval > 0");
        }
        if http::StatusCode::from_u16(self.cloud.throttle_http_status).is_err() {
            return err("cloud.throttle_http_status is not an HTTP status");
        }
        if let Some(v) = self.cloud.api_versions.iter().find(|v| GraphVersion::parse(v).is_none()) {
            return err(&format!("cloud.api_versions: {v:?} is not a Graph API version like \"v23.0\""));
        }
        if self.onprem.token_ttl.is_zero() || self.onprem.token_ttl > MAX_TOKEN_TTL {
            return err("onprem.token_ttl must be in (0, 100 years]");
        }
        if self.max_body_bytes == 0 {
            return err("max_body_bytes must be > 0");
        }
        limits::validate(&self.service_window, &self.inbound, &self.messaging_limit)?;
        self.transient.validate()?;
        self.identity.validate()?;
        content::validate(&self.templates, &self.media)?;
        self.server.validate()?;
        self.webhooks.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_roundtrip_through_toml() {
        let cfg = SimConfig::default();
        cfg.validate().unwrap();
        let text = toml::to_string(&cfg).unwrap();
        let back: SimConfig = toml::from_str(&text).unwrap();
        assert_eq!(back.cloud.throughput_mps, 80);
        assert_eq!(back.onprem.token_ttl, Duration::from_secs(7 * 24 * 3600));
    }

    #[test]
    fn parses_humantime_and_flavor() {
        let cfg: SimConfig = toml::from_str(
            r#"
            flavor = "onprem"
            seed = 7
            [latency]
            distribution = "constant"
            median = "0ms"
            [onprem]
            shards = 1
            token_ttl = "1s"
            [[downtime]]
            start = "30s"
            duration = "10s"
            "#,
        )
        .unwrap();
        assert_eq!(cfg.flavor, Flavor::OnPrem);
        assert_eq!(cfg.onprem.token_ttl, Duration::from_secs(1));
        assert_eq!(cfg.downtime[0].start, Duration::from_secs(30));
        assert_eq!(cfg.latency_median(), Duration::ZERO);
        cfg.validate().unwrap();
    }

    #[test]
    fn module_doc_example_parses() {
        let text = crate::spec::doc_toml(include_str!("mod.rs"), |_| true)
            .replace("[simulator]", "")
            .replace("[simulator.", "[")
            .replace("[[simulator.", "[[");
        let cfg: SimConfig = toml::from_str(&text).unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.seed, 7);
        assert_eq!(cfg.downtime.len(), 1);
        assert_eq!(cfg.transient.cloud.server_error, 0.002);
        assert_eq!(cfg.transient.onprem.server_error, 0.001);
        assert_eq!(cfg.identity.username_fraction, 0.1);
        assert_eq!((cfg.templates.len(), cfg.templates[0].params), (1, 2));
        assert_eq!(cfg.media.link_failure_fraction, 0.01);
        assert_eq!(cfg.server.read_header_timeout, Duration::from_secs(30));
    }

    #[test]
    fn rejects_unknown_fields_and_bad_ranges() {
        assert!(toml::from_str::<SimConfig>("bogus = 1").is_err());
        let mut cfg = SimConfig::default();
        cfg.onprem.shards = 33;
        assert!(cfg.validate().is_err());
        let mut cfg = SimConfig::default();
        cfg.latency.p99 = Some(Duration::from_millis(10));
        assert!(cfg.validate().is_err());
        // A version the route could never match is refused, not silently never served.
        let mut cfg = SimConfig::default();
        cfg.cloud.api_versions = vec!["v23.0".into(), "23.0".into()];
        assert_eq!(
            cfg.validate().unwrap_err().0,
            "cloud.api_versions: \"23.0\" is not a Graph API version like \"v23.0\""
        );
        cfg.cloud.api_versions.pop();
        cfg.validate().unwrap();
    }
}
