//! The simulator's conversation rules: the customer service window of each user
//! (`[simulator.service_window]`), inbound user messages that open it (`[simulator.inbound]`) and the
//! business portfolio's messaging limit (`[simulator.messaging_limit]`).
//!
//! Sources (Meta's developer documentation):
//! - Customer service windows: a 24-hour window opens (or is refreshed) whenever a user messages the
//!   business; inside it any message may be sent, outside it only templates
//!   (<https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/send-messages#customer-service-windows>).
//!   A free-form message outside it is accepted and then fails with 131047 "Re-engagement message"
//!   (<https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes>).
//! - Messaging limits: the number of unique users a business portfolio can message outside a
//!   customer service window in a moving 24-hour period, shared by all the portfolio's numbers
//!   (since 2025-10-07); 250 for a new portfolio, then 2,000, 10,000, 100,000 and unlimited
//!   (<https://developers.facebook.com/documentation/business-messaging/whatsapp/messaging-limits>,
//!   <https://developers.facebook.com/documentation/business-messaging/whatsapp/upcoming-messaging-limits-changes>).
//!
//! ```toml
//! [simulator.service_window]
//! enabled = true          # false: every window is open (the send path alone)
//! duration = "24h"
//! open_fraction = 0.0     # users who wrote in the 24 h before the run (seeded)
//! [simulator.inbound]
//! rate = 5.0              # inbound user messages per second (default 0: none)
//! max_messages = 100000
//! [simulator.messaging_limit]
//! tier = 2000             # 250, 2000, 10000, 100000 or "unlimited" (default)
//! over_limit_code = 131048
//! ```

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::primitives::ConfigError;

/// The `[simulator.service_window]` table.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct WindowConfig {
    /// Enforce customer service windows. Default true: a window is closed until the user writes.
    pub enabled: bool,
    /// How long a window stays open after the user's last message. Default 24h (Meta).
    #[schemars(with = "crate::units::duration::Dur")]
    #[serde(with = "crate::units::duration::serde")]
    pub duration: Duration,
    /// Seeded fraction (0..=1) of users whose window is open when the simulator starts (they wrote
    /// in the 24 hours before). Default 0: every window starts closed.
    pub open_fraction: f64,
}

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig { enabled: true, duration: Duration::from_secs(24 * 3600), open_fraction: 0.0 }
    }
}

/// The `[simulator.inbound]` table: user messages the simulator generates. Each opens its sender's
/// window, counts toward the business number's throughput (Meta: the per-number limit counts
/// inbound and outbound messages) and is posted as a `messages` webhook when webhooks are on.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct InboundConfig {
    /// Inbound messages per second, from server start. Default 0 (none).
    pub rate: f64,
    /// At most this many inbound messages per simulator. Default 100000.
    pub max_messages: u64,
    /// Cloud: the business phone number id they are addressed to. Unset: the target's (set by the
    /// run), else `webhooks.phone_number_id`, else "100000000000001".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<String>,
    /// Digits of the users who write. Set by the run from the profile's recipients, never read
    /// from a profile; empty: 1,000 generated numbers `1555000xxxx`.
    #[serde(skip)]
    pub users: Vec<String>,
}

impl Default for InboundConfig {
    fn default() -> Self {
        InboundConfig { rate: 0.0, max_messages: 100_000, phone_number_id: None, users: Vec::new() }
    }
}

impl InboundConfig {
    /// The users who write: the configured ones, or 1,000 generated numbers.
    pub fn users_or_default(&self) -> Vec<String> {
        if self.users.is_empty() { (0..1000).map(|i| format!("1555000{i:04}")).collect() } else { self.users.clone() }
    }
}

/// A messaging limit tier (Meta: 250, 2,000, 10,000, 100,000 or unlimited unique users per moving
/// 24 hours, per business portfolio).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "TierRepr", into = "TierRepr")]
pub enum MessagingTier {
    T250,
    T2K,
    T10K,
    T100K,
    #[default]
    Unlimited,
}

impl schemars::JsonSchema for MessagingTier {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "MessagingTier".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A messaging limit tier: unique users per moving 24 hours.",
            "enum": [250, 2000, 10000, 100000, "unlimited"]
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum TierRepr {
    Users(u64),
    Word(String),
}

/// What a tier may be set to.
pub const TIER_CHOICES: &str = "250, 2000, 10000, 100000 or \"unlimited\" (Meta's messaging limits)";

impl TryFrom<TierRepr> for MessagingTier {
    type Error = String;
    fn try_from(r: TierRepr) -> Result<Self, String> {
        match r {
            TierRepr::Users(250) => Ok(MessagingTier::T250),
            TierRepr::Users(2000) => Ok(MessagingTier::T2K),
            TierRepr::Users(10_000) => Ok(MessagingTier::T10K),
            TierRepr::Users(100_000) => Ok(MessagingTier::T100K),
            TierRepr::Word(w) if w == "unlimited" => Ok(MessagingTier::Unlimited),
            TierRepr::Users(n) => Err(format!("{n} is not a messaging tier: use {TIER_CHOICES}")),
            TierRepr::Word(w) => Err(format!("{w:?} is not a messaging tier: use {TIER_CHOICES}")),
        }
    }
}

impl From<MessagingTier> for TierRepr {
    fn from(t: MessagingTier) -> TierRepr {
        match t.limit() {
            Some(n) => TierRepr::Users(n),
            None => TierRepr::Word("unlimited".into()),
        }
    }
}

impl MessagingTier {
    /// Unique users per moving 24 hours; `None` when unlimited.
    pub fn limit(self) -> Option<u64> {
        match self {
            MessagingTier::T250 => Some(250),
            MessagingTier::T2K => Some(2_000),
            MessagingTier::T10K => Some(10_000),
            MessagingTier::T100K => Some(100_000),
            MessagingTier::Unlimited => None,
        }
    }
}

impl fmt::Display for MessagingTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.limit() {
            Some(n) => f.write_str(&thousands(n)),
            None => f.write_str("unlimited"),
        }
    }
}

/// `12345` → `12,345`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The `[simulator.messaging_limit]` table.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MessagingLimitConfig {
    /// The portfolio's tier, shared by every number the simulator serves. Default unlimited (a
    /// load test's own limits stay visible); a new portfolio starts at 250.
    pub tier: MessagingTier,
    /// Code of the `failed` status of a template to a new user beyond the limit. Meta names no
    /// dedicated code in its messaging-limits document (model): default 131048, the Cloud API's
    /// "Spam rate limit hit" (restrictions on how many messages this number can send).
    pub over_limit_code: i64,
}

impl Default for MessagingLimitConfig {
    fn default() -> Self {
        MessagingLimitConfig { tier: MessagingTier::Unlimited, over_limit_code: 131048 }
    }
}

/// Check the three tables.
pub(crate) fn validate(w: &WindowConfig, i: &InboundConfig, m: &MessagingLimitConfig) -> Result<(), ConfigError> {
    let err = |s: &str| Err(ConfigError(s.to_string()));
    if !(0.0..=1.0).contains(&w.open_fraction) {
        return err("service_window.open_fraction must be in 0..=1");
    }
    if w.enabled && w.duration.is_zero() {
        return err("service_window.duration must be > 0");
    }
    if w.duration > Duration::from_secs(366 * 24 * 3600) {
        return err("service_window.duration must not exceed a year");
    }
    if !(i.rate >= 0.0 && i.rate <= 100_000.0) {
        return err("inbound.rate must be in 0..=100000 messages per second");
    }
    if i.phone_number_id.as_deref().is_some_and(|p| !crate::spec::numbers::is_phone_number_id(p)) {
        return err("inbound.phone_number_id must be digits");
    }
    if m.over_limit_code <= 0 {
        return err("messaging_limit.over_limit_code must be a positive error code");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    struct T {
        tier: MessagingTier,
    }

    #[test]
    fn tiers_parse_and_refuse_other_values() {
        assert_eq!(toml::from_str::<T>("tier = 250").unwrap().tier.limit(), Some(250));
        assert_eq!(toml::from_str::<T>("tier = 100000").unwrap().tier, MessagingTier::T100K);
        assert_eq!(toml::from_str::<T>("tier = \"unlimited\"").unwrap().tier.limit(), None);
        let e = toml::from_str::<T>("tier = 1000").unwrap_err().to_string();
        assert!(e.contains("1000 is not a messaging tier") && e.contains("250, 2000"), "{e}");
        assert!(toml::from_str::<T>("tier = \"many\"").is_err());
        assert_eq!(MessagingTier::T10K.to_string(), "10,000");
        let cfg = MessagingLimitConfig { tier: MessagingTier::T2K, ..Default::default() };
        let back: MessagingLimitConfig = toml::from_str(&toml::to_string(&cfg).unwrap()).unwrap();
        assert_eq!(back, cfg);
    }

    #[test]
    fn validation_names_the_field() {
        let (w, i, m) = (WindowConfig::default(), InboundConfig::default(), MessagingLimitConfig::default());
        validate(&w, &i, &m).unwrap();
        let bad = WindowConfig { open_fraction: 1.5, ..w.clone() };
        assert!(validate(&bad, &i, &m).unwrap_err().0.contains("open_fraction"));
        let bad = InboundConfig { rate: -1.0, ..i.clone() };
        assert!(validate(&w, &bad, &m).unwrap_err().0.contains("inbound.rate"));
        let bad = InboundConfig { rate: f64::NAN, ..i.clone() };
        assert!(validate(&w, &bad, &m).is_err());
        assert_eq!(InboundConfig::default().users_or_default().len(), 1000);
    }
}
