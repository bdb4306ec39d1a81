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
//! [simulator.webhooks]        # see `spec::sim::hooks` for every field
//! delivered = { median = "1s", p99 = "4s" }
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub mod hooks;
pub mod onprem;
pub(crate) mod primitives;

pub use hooks::{HooksConfig, StageDelay};
pub use primitives::{ConfigError, Distribution, Flavor};

/// The `[simulator]` table.
#[derive(Deserialize, Serialize, Clone, Debug)]
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
        }
    }
}

/// Response-time model: every response is delayed by a sample of it, plus queueing delay.
#[derive(Deserialize, Serialize, Clone, Debug)]
#[serde(deny_unknown_fields, default)]
pub struct LatencyConfig {
    /// `"lognormal"` (default), `"constant"` or `"uniform"`.
    pub distribution: Distribution,
    /// Median response time. Unset: 120ms for Cloud, 60ms for on-prem (model).
    #[serde(with = "crate::units::duration::serde::option", skip_serializing_if = "Option::is_none")]
    pub median: Option<Duration>,
    /// 99th percentile (lognormal only). Unset: 600ms for Cloud, 400ms for on-prem (model).
    #[serde(with = "crate::units::duration::serde::option", skip_serializing_if = "Option::is_none")]
    pub p99: Option<Duration>,
    /// Lower clamp of every sample (and lower bound of `uniform`). Default 0s.
    #[serde(with = "crate::units::duration::serde")]
    pub min: Duration,
    /// Upper clamp of every sample (and upper bound of `uniform`). Default 30s.
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

/// Cloud API rules.
#[derive(Deserialize, Serialize, Clone, Debug)]
#[serde(deny_unknown_fields, default)]
pub struct CloudConfig {
    /// Messages per second per phone-number-id (token bucket of one second's worth).
    /// Default 80 (Meta's default; up to 1000 after the automatic upgrade). 0 = unlimited.
    pub throughput_mps: u32,
    /// HTTP status of throttling errors (130429, 131056). Default 429; some integrators see 400.
    pub throttle_http_status: u16,
    /// Per-recipient pair rate limit (131056).
    pub pair_limit: PairLimitConfig,
    /// Accepted bearer tokens. Empty (default): any non-empty token is accepted except those
    /// starting with `invalid` or `expired` (→ 190, HTTP 401) and those starting with `noperm`
    /// (→ 10 "permission denied" naming `whatsapp_business_messaging`, HTTP 403).
    pub tokens: Vec<String>,
    /// Accepted phone-number-ids. Empty (default): any all-digit id.
    pub phone_number_ids: Vec<String>,
    /// Automatic throughput upgrade of every number (e.g. 80 → 1000 mps). Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<UpgradeConfig>,
    /// Accepted Graph API versions (e.g. `["v23.0"]`). Empty (default): any `vNN.N`.
    /// Another version gets HTTP 400 with code 100.
    pub api_versions: Vec<String>,
}

impl Default for CloudConfig {
    fn default() -> Self {
        CloudConfig {
            throughput_mps: 80,
            throttle_http_status: 429,
            pair_limit: PairLimitConfig::default(),
            tokens: Vec::new(),
            phone_number_ids: Vec::new(),
            api_versions: Vec::new(),
            upgrade: None,
        }
    }
}

/// Throughput upgrade: from `start` (after server start) for `duration` every send gets 131057
/// (HTTP `throttle_http_status`); afterwards the per-number limit is `throughput_mps`.
#[derive(Deserialize, Serialize, Clone, Debug)]
#[serde(deny_unknown_fields, default)]
pub struct UpgradeConfig {
    /// Default 60s.
    #[serde(with = "crate::units::duration::serde")]
    pub start: Duration,
    /// Default 60s (Meta: about a minute).
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

/// Pair rate limit: one message per `interval` to one recipient, bursts up to `burst`
/// borrowing from future quota (a token bucket of `burst` refilled one per `interval`).
#[derive(Deserialize, Serialize, Clone, Debug)]
#[serde(deny_unknown_fields, default)]
pub struct PairLimitConfig {
    /// Enforce it. Default true.
    pub enabled: bool,
    /// Default 6s.
    #[serde(with = "crate::units::duration::serde")]
    pub interval: Duration,
    /// Default 45.
    pub burst: u32,
}

impl Default for PairLimitConfig {
    fn default() -> Self {
        PairLimitConfig { enabled: true, interval: Duration::from_secs(6), burst: 45 }
    }
}

/// One On-Premises API user (`POST /v1/users/login` with HTTP Basic).
#[derive(Deserialize, Serialize, Clone, Debug)]
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
#[derive(Deserialize, Serialize, Clone, Debug)]
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
    pub users: Vec<UserConfig>,
    /// Lifetime of a login token. Default 7 days.
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
#[derive(Deserialize, Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct DowntimeWindow {
    /// Offset from server start.
    #[serde(with = "crate::units::duration::serde")]
    pub start: Duration,
    /// Length of the window.
    #[serde(with = "crate::units::duration::serde")]
    pub duration: Duration,
}

/// Why an undeliverable recipient (131026) cannot receive messages.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
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
#[derive(Deserialize, Serialize, Clone, Debug)]
#[serde(deny_unknown_fields, default)]
pub struct RecipientRules {
    /// Numbers ending in one of these are undeliverable (Cloud 131026, on-prem 1013).
    /// Default `["0000"]`.
    pub undeliverable_suffixes: Vec<String>,
    /// A seeded fraction of all numbers (0.0..=1.0) is undeliverable too. Default 0.
    pub undeliverable_fraction: f64,
    /// The reason given in `error_data.details`. Default `"mixed"`.
    pub undeliverable_reason: UndeliverableReason,
    /// Non-template messages to numbers ending in one of these fail with re-engagement
    /// (Cloud 131047, on-prem 470). Default `["4747"]`.
    pub reengagement_suffixes: Vec<String>,
    /// Template messages to numbers ending in one of these hit the per-user marketing
    /// template limit (131049). Default `["4949"]`.
    pub marketing_limit_suffixes: Vec<String>,
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
        if self.onprem.token_ttl.is_zero() || self.onprem.token_ttl > MAX_TOKEN_TTL {
            return err("onprem.token_ttl must be in (0, 100 years]");
        }
        if self.max_body_bytes == 0 {
            return err("max_body_bytes must be > 0");
        }
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
    }
}
