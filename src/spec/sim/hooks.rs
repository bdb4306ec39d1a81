//! The `[simulator.webhooks]` table: when the simulator posts status webhooks for the messages it
//! accepts, with which delays, anomalies, batching and retries.
//!
//! Nothing is posted until the engine (or a test) sets the callback URL; the callback and the app
//! secret are runtime-only values, never read from a profile and never serialized. Stage delays
//! follow the documented model: `sent` about 0.2–2 s after the accept, `delivered` 0.5–5 s,
//! `read` optional and minutes later.
//!
//! ```toml
//! [simulator.webhooks]
//! send_sent = true                         # default: true for Cloud, false for on-prem
//! sent = { median = "500ms", p99 = "2s" }  # after the accept
//! delivered = { median = "1s", p99 = "4s" } # after sent
//! read = { median = "30s", p99 = "2m" }    # after delivered, for read_fraction of messages
//! read_fraction = 0.3
//! failed_fraction = 0.0                    # accepted, then failed instead of delivered
//! failed_codes = [131049, 131026]
//! duplicate_fraction = 0.01
//! out_of_order_fraction = 0.01
//! delivered_and_failed_fraction = 0.001
//! max_batch = 1                            # statuses per POST
//! linger = "50ms"
//! concurrency = 8
//! queue_capacity = 100000
//! timeout = "10s"
//! retry_initial = "1s"
//! retry_max = "60s"
//! retry_for = "10m"
//! shutdown_wait = "500ms"
//! waba_id = "102290129340398"
//! display_phone_number = "15550783881"
//! user_id_update = false                   # also a user_id_update webhook for each BSUID change
//! ```
//!
//! `user_id_update`: Meta's Business-scoped user IDs document described a separate `user_id_update`
//! webhook field linking a user's previous and current BSUID (as 8x8, Kapso and dualhook still
//! forward it in 2026); Meta's changelog of 2026-08-11 corrected it: "user_id_update is not a
//! subscribable webhook field", BSUID changes come as `messages` system messages
//! (`user_changed_user_id`, `user_changed_number`) carrying `system.previous_user_id`. So it is off
//! by default, and on only to test a receiver that still handles it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::primitives::{ConfigError, Distribution, Flavor};

/// The delay of one lifecycle stage. `median` is required when a stage table is written.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageDelay {
    /// `"lognormal"` (default), `"constant"` (always `median`) or `"uniform"` (`min..max`).
    #[serde(default)]
    pub distribution: Distribution,
    /// Median delay (`"0s"` with `constant` for no delay).
    #[schemars(with = "crate::units::duration::Dur")]
    #[serde(with = "crate::units::duration::serde")]
    pub median: Duration,
    /// 99th percentile (lognormal). Unset: 4 × median.
    #[schemars(with = "Option<crate::units::duration::Dur>")]
    #[serde(default, with = "crate::units::duration::serde::option", skip_serializing_if = "Option::is_none")]
    pub p99: Option<Duration>,
    /// Lower clamp (and lower bound of `uniform`). Default 0s.
    #[schemars(with = "crate::units::duration::Dur")]
    #[serde(default, with = "crate::units::duration::serde")]
    pub min: Duration,
    /// Upper clamp (and upper bound of `uniform`). Default 1h.
    #[schemars(with = "crate::units::duration::Dur")]
    #[serde(default = "hour", with = "crate::units::duration::serde")]
    pub max: Duration,
}

fn hour() -> Duration {
    Duration::from_secs(3600)
}

impl StageDelay {
    /// Log-normal with this median and p99.
    pub fn lognormal(median: Duration, p99: Duration) -> Self {
        StageDelay { distribution: Distribution::Lognormal, median, p99: Some(p99), min: Duration::ZERO, max: hour() }
    }

    /// Always `d`.
    pub fn constant(d: Duration) -> Self {
        StageDelay { distribution: Distribution::Constant, median: d, p99: None, min: Duration::ZERO, max: hour() }
    }

    /// The p99 in force.
    pub fn p99_or_default(&self) -> Duration {
        self.p99.unwrap_or(self.median.saturating_mul(4))
    }

    fn validate(&self, name: &str) -> Result<(), ConfigError> {
        let err = |s: &str| Err(ConfigError(format!("webhooks.{name}: {s}")));
        if self.max < self.min {
            return err("max must be >= min");
        }
        if self.median > MAX_DELAY || self.max > MAX_DELAY || self.p99.is_some_and(|p| p > MAX_DELAY) {
            return err("delays must not exceed 30 days");
        }
        if self.distribution == Distribution::Lognormal
            && (self.median.is_zero() || self.p99_or_default() < self.median)
        {
            return err("lognormal needs median > 0 and p99 >= median (use distribution = \"constant\" for 0s)");
        }
        Ok(())
    }
}

/// The `[simulator.webhooks]` table.
#[derive(Deserialize, Serialize, Clone, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct HooksConfig {
    /// Where to post status webhooks. Set by the engine (the run's receiver), never from a
    /// profile. `None`: no webhook is sent.
    #[serde(skip)]
    pub callback_url: Option<String>,
    /// Key of `X-Hub-Signature-256` (Cloud only). Set by the engine; never serialized or printed.
    #[serde(skip)]
    pub app_secret: Option<Vec<u8>>,
    /// Post a `sent` status. Unset: true for Cloud, false for on-prem (its documented default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_sent: Option<bool>,
    /// Accept → `sent`. Default log-normal, median 500ms, p99 2s.
    pub sent: StageDelay,
    /// `sent` → `delivered` (or `failed`). Default log-normal, median 1s, p99 4s.
    pub delivered: StageDelay,
    /// `delivered` → `read`. Default log-normal, median 30s, p99 2m.
    pub read: StageDelay,
    /// Fraction of delivered messages that are read. Default 0.3.
    pub read_fraction: f64,
    /// Fraction of accepted messages that fail later (a `failed` status instead of `delivered`).
    /// Default 0.
    pub failed_fraction: f64,
    /// Codes of those failures, one picked per message. Default 131049 (marketing limit) and
    /// 131026 (undeliverable).
    pub failed_codes: Vec<i64>,
    /// Fraction of messages one of whose statuses is posted twice. Default 0.01.
    pub duplicate_fraction: f64,
    /// Fraction of messages whose first two lifecycle statuses are posted in reverse order
    /// (e.g. `delivered` before `sent`). Default 0.01.
    pub out_of_order_fraction: f64,
    /// Fraction of delivered messages that also get a `failed` status (a user on several devices,
    /// delivered to one). Default 0.001.
    pub delivered_and_failed_fraction: f64,
    /// Statuses per POST. Default 1; above 1, statuses due within `linger` of the first share a POST.
    pub max_batch: usize,
    /// How long a batch waits for more statuses. Default 50ms.
    #[schemars(with = "crate::units::duration::Dur")]
    #[serde(with = "crate::units::duration::serde")]
    pub linger: Duration,
    /// POSTs in flight at once (keep-alive connections). Default 8.
    pub concurrency: usize,
    /// Statuses waiting to be posted, at most; the statuses of further messages are dropped and
    /// counted. Default 100000.
    pub queue_capacity: usize,
    /// Timeout of one POST. Default 10s.
    #[schemars(with = "crate::units::duration::Dur")]
    #[serde(with = "crate::units::duration::serde")]
    pub timeout: Duration,
    /// First wait before re-posting a webhook not answered 200; doubled each time. Default 1s.
    #[schemars(with = "crate::units::duration::Dur")]
    #[serde(with = "crate::units::duration::serde")]
    pub retry_initial: Duration,
    /// Longest wait between two attempts. Default 60s.
    #[schemars(with = "crate::units::duration::Dur")]
    #[serde(with = "crate::units::duration::serde")]
    pub retry_max: Duration,
    /// A webhook still not delivered this long after its first attempt is given up. Default 10m
    /// (Meta retries Cloud webhooks for 7 days and on-prem ones for about 24 hours; a run cannot
    /// wait that long).
    #[schemars(with = "crate::units::duration::Dur")]
    #[serde(with = "crate::units::duration::serde")]
    pub retry_for: Duration,
    /// On shutdown, how long POSTs in flight may finish; everything else is abandoned and
    /// counted as pending. Default 500ms.
    #[schemars(with = "crate::units::duration::Dur")]
    #[serde(with = "crate::units::duration::serde")]
    pub shutdown_wait: Duration,
    /// WhatsApp Business Account id of Cloud webhooks (`entry[].id`).
    pub waba_id: String,
    /// Phone number id in Cloud metadata. Unset: the id the message was sent from (request path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<String>,
    /// Display phone number in Cloud metadata.
    pub display_phone_number: String,
    /// Cloud: also post a `user_id_update` webhook (field `user_id_update`, previous and current
    /// BSUID) for each BSUID change (`identity.user_id_change_fraction`). Default false: Meta's
    /// changelog (2026-08-11) says it is not a subscribable field (see the module's note).
    pub user_id_update: bool,
}

impl Default for HooksConfig {
    fn default() -> Self {
        HooksConfig {
            callback_url: None,
            app_secret: None,
            send_sent: None,
            sent: StageDelay::lognormal(Duration::from_millis(500), Duration::from_secs(2)),
            delivered: StageDelay::lognormal(Duration::from_secs(1), Duration::from_secs(4)),
            read: StageDelay::lognormal(Duration::from_secs(30), Duration::from_secs(120)),
            read_fraction: 0.3,
            failed_fraction: 0.0,
            failed_codes: vec![131049, 131026],
            duplicate_fraction: 0.01,
            out_of_order_fraction: 0.01,
            delivered_and_failed_fraction: 0.001,
            max_batch: 1,
            linger: Duration::from_millis(50),
            concurrency: 8,
            queue_capacity: 100_000,
            timeout: Duration::from_secs(10),
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            retry_for: Duration::from_secs(600),
            shutdown_wait: Duration::from_millis(500),
            waba_id: "102290129340398".into(),
            phone_number_id: None,
            display_phone_number: "15550783881".into(),
            user_id_update: false,
        }
    }
}

impl std::fmt::Debug for HooksConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HooksConfig")
            .field("callback_url", &self.callback_url)
            .field("app_secret", &self.app_secret.as_ref().map(|_| "<redacted>"))
            .field("send_sent", &self.send_sent)
            .field("sent", &self.sent)
            .field("delivered", &self.delivered)
            .field("read", &self.read)
            .field("read_fraction", &self.read_fraction)
            .field("failed_fraction", &self.failed_fraction)
            .field("failed_codes", &self.failed_codes)
            .field("duplicate_fraction", &self.duplicate_fraction)
            .field("out_of_order_fraction", &self.out_of_order_fraction)
            .field("delivered_and_failed_fraction", &self.delivered_and_failed_fraction)
            .field("max_batch", &self.max_batch)
            .field("linger", &self.linger)
            .field("concurrency", &self.concurrency)
            .field("queue_capacity", &self.queue_capacity)
            .field("timeout", &self.timeout)
            .field("retry_initial", &self.retry_initial)
            .field("retry_max", &self.retry_max)
            .field("retry_for", &self.retry_for)
            .field("shutdown_wait", &self.shutdown_wait)
            .field("waba_id", &self.waba_id)
            .field("phone_number_id", &self.phone_number_id)
            .field("display_phone_number", &self.display_phone_number)
            .field("user_id_update", &self.user_id_update)
            .finish()
    }
}

/// Longest configurable delay, wait or timeout.
const MAX_DELAY: Duration = Duration::from_secs(30 * 24 * 3600);
/// Most POSTs in flight at once.
const MAX_CONCURRENCY: usize = 1024;
/// Largest batch.
const MAX_BATCH: usize = 1000;

impl HooksConfig {
    /// Whether `sent` statuses are posted for this flavor.
    pub fn sends_sent(&self, flavor: Flavor) -> bool {
        self.send_sent.unwrap_or(flavor == Flavor::Cloud)
    }

    /// Check ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |s: String| Err(ConfigError(format!("webhooks.{s}")));
        self.sent.validate("sent")?;
        self.delivered.validate("delivered")?;
        self.read.validate("read")?;
        for (name, v) in [
            ("read_fraction", self.read_fraction),
            ("failed_fraction", self.failed_fraction),
            ("duplicate_fraction", self.duplicate_fraction),
            ("out_of_order_fraction", self.out_of_order_fraction),
            ("delivered_and_failed_fraction", self.delivered_and_failed_fraction),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return err(format!("{name} must be in 0..=1"));
            }
        }
        if self.failed_codes.is_empty() && (self.failed_fraction > 0.0 || self.delivered_and_failed_fraction > 0.0) {
            return err("failed_codes must not be empty when failures are configured".into());
        }
        if !(1..=MAX_BATCH).contains(&self.max_batch) {
            return err(format!("max_batch must be in 1..={MAX_BATCH}"));
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return err(format!("concurrency must be in 1..={MAX_CONCURRENCY}"));
        }
        if self.queue_capacity == 0 {
            return err("queue_capacity must be > 0".into());
        }
        if self.timeout.is_zero() {
            return err("timeout must be > 0".into());
        }
        if self.retry_initial.is_zero() || self.retry_max < self.retry_initial {
            return err("retry_initial must be > 0 and retry_max >= retry_initial".into());
        }
        for (name, d) in [
            ("linger", self.linger),
            ("timeout", self.timeout),
            ("retry_max", self.retry_max),
            ("retry_for", self.retry_for),
            ("shutdown_wait", self.shutdown_wait),
        ] {
            if d > MAX_DELAY {
                return err(format!("{name} must not exceed 30 days"));
            }
        }
        if let Some(url) = &self.callback_url {
            crate::spec::endpoint::check_http_url(url)
                .map_err(|r| ConfigError(format!("webhooks.callback_url: {r}")))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_roundtrip_without_runtime_fields() {
        let mut cfg = HooksConfig::default();
        cfg.validate().unwrap();
        cfg.callback_url = Some("http://127.0.0.1:9/webhook".into());
        cfg.app_secret = Some(b"topsecret".to_vec());
        cfg.validate().unwrap();
        let text = toml::to_string(&cfg).unwrap();
        assert!(!text.contains("topsecret") && !text.contains("callback") && !text.contains("9/webhook"), "{text}");
        assert!(!format!("{cfg:?}").contains("topsecret"));
        let back: HooksConfig = toml::from_str(&text).unwrap();
        assert_eq!(back.sent, cfg.sent);
        assert_eq!(back.read.p99, Some(Duration::from_secs(120)));
        assert!(back.callback_url.is_none() && back.app_secret.is_none());
        assert!(toml::from_str::<HooksConfig>("callback_url = \"http://x\"").is_err());
        assert!(toml::from_str::<HooksConfig>("app_secret = \"x\"").is_err());
    }

    #[test]
    fn module_doc_example_is_the_defaults() {
        let text = crate::spec::doc_toml(include_str!("hooks.rs"), |_| false);
        let cfg: HooksConfig = toml::from_str(&text).unwrap();
        let defaults = HooksConfig { send_sent: Some(true), ..HooksConfig::default() };
        assert_eq!(cfg, defaults);
    }

    #[test]
    fn stage_tables_and_ranges() {
        let cfg: HooksConfig = toml::from_str(
            "sent = { distribution = \"constant\", median = \"0s\" }\ndelivered = { median = \"100ms\" }\nread_fraction = 0",
        )
        .unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.delivered.p99_or_default(), Duration::from_millis(400));
        assert!(toml::from_str::<HooksConfig>("sent = { p99 = \"1s\" }").is_err(), "median is required");
        let bad = |f: fn(&mut HooksConfig)| {
            let mut c = HooksConfig::default();
            f(&mut c);
            c.validate().is_err()
        };
        assert!(bad(|c| c.read_fraction = 1.5));
        assert!(bad(|c| c.max_batch = 0));
        assert!(bad(|c| c.concurrency = 0));
        assert!(bad(|c| c.linger = Duration::MAX));
        assert!(bad(|c| c.read.max = Duration::MAX));
        assert!(bad(|c| c.retry_max = Duration::from_millis(1)));
        assert!(bad(|c| c.sent = StageDelay::lognormal(Duration::ZERO, Duration::ZERO)));
        assert!(bad(|c| c.callback_url = Some("ftp://x/".into())));
        assert!(bad(|c| c.callback_url = Some("not a url".into())));
        assert!(bad(|c| {
            c.failed_codes.clear();
            c.failed_fraction = 0.1
        }));
        assert!(HooksConfig::default().sends_sent(Flavor::Cloud));
        assert!(!HooksConfig::default().sends_sent(Flavor::OnPrem));
    }
}
