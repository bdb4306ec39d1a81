//! The `[simulator.identity]` table: how the simulator identifies its users in 2026, when Meta added
//! business-scoped user IDs (BSUIDs) ahead of optional usernames.
//!
//! Source: Meta, "Business-scoped user IDs"
//! (<https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids>,
//! major update 2026-03-18; FACTS.md "2026: business-scoped user IDs and usernames"). Meta began
//! sending BSUIDs in messages webhooks in April 2026, whether or not a user adopted a username;
//! usernames roll out gradually from mid/late 2026, so the share of users with one starts at 0.
//! Parent BSUIDs (`CC.ENT.…`) are sent only to businesses that enabled them (linked portfolios).
//!
//! ```toml
//! [simulator.identity]
//! bsuid = true              # contacts[].user_id in every messages webhook (false: the pre-2026 shapes)
//! username_fraction = 0.0   # seeded share of users who adopted a username (no phone in webhooks)
//! parent_user_id = false    # also parent BSUIDs (CC.ENT.…)
//! ```

use serde::{Deserialize, Serialize};

use super::primitives::ConfigError;

/// The `[simulator.identity]` table.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// Give every user a BSUID: status webhooks carry a `contacts` array with `user_id`, inbound
    /// messages carry `contacts[].user_id` and `from_user_id`, and a Cloud send may address a
    /// BSUID in `recipient`. Default true (Meta: BSUIDs in webhooks since April 2026). False: the
    /// shapes before it (no `contacts` in status webhooks, `recipient` refused).
    pub bsuid: bool,
    /// Seeded fraction (0..=1) of users who adopted a username: their phone number is withheld
    /// (no `wa_id`, no `from`) where Meta withholds it, and `profile.username` appears in their
    /// inbound messages and delivered/read statuses. Default 0 (model: usernames were not yet
    /// rolled out when this default was set; Meta announced them for mid/late 2026).
    pub username_fraction: f64,
    /// Also send parent BSUIDs (`parent_user_id`, `recipient_parent_user_id`,
    /// `from_parent_user_id`), as Meta does for businesses that enabled them. Default false.
    pub parent_user_id: bool,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig { bsuid: true, username_fraction: 0.0, parent_user_id: false }
    }
}

impl IdentityConfig {
    /// Check ranges and combinations.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(0.0..=1.0).contains(&self.username_fraction) {
            return Err(ConfigError("identity.username_fraction must be in 0..=1".into()));
        }
        if !self.bsuid && (self.username_fraction > 0.0 || self.parent_user_id) {
            return Err(ConfigError(
                "identity.bsuid = false cannot go with usernames or parent_user_id: both need BSUIDs \
                 (users with a username are identified by their BSUID alone)"
                    .into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_doc_and_bad_values() {
        let d = IdentityConfig::default();
        assert!(d.bsuid && d.username_fraction == 0.0 && !d.parent_user_id);
        d.validate().unwrap();
        let text = crate::spec::doc_toml(include_str!("identity.rs"), |_| true).replace("[simulator.identity]", "");
        let doc: IdentityConfig = toml::from_str(&text).unwrap();
        assert_eq!(doc, d);
        let bad = IdentityConfig { username_fraction: 1.5, ..d.clone() };
        assert!(bad.validate().unwrap_err().0.contains("username_fraction"));
        let off = IdentityConfig { bsuid: false, username_fraction: 0.2, ..d };
        assert!(off.validate().unwrap_err().0.contains("bsuid = false"));
        assert!(toml::from_str::<IdentityConfig>("usernames = 0.1").is_err());
    }
}
