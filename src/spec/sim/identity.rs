//! The `[simulator.identity]` table: how the simulator identifies its users in 2026, when Meta added
//! business-scoped user IDs (BSUIDs) ahead of optional usernames.
//!
//! Source: Meta, "Business-scoped user IDs"
//! (<https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids>,
//! major update 2026-03-18). Meta began
//! sending BSUIDs in messages webhooks in April 2026, whether or not a user adopted a username;
//! usernames roll out gradually from mid/late 2026, so the share of users with one starts at 0.
//! Parent BSUIDs (`CC.ENT.…`) are sent only to businesses that enabled them (linked portfolios).
//!
//! ```toml
//! [simulator.identity]
//! bsuid = true              # contacts[].user_id in every messages webhook (false: the pre-2026 shapes)
//! username_fraction = 0.0   # seeded share of users who adopted a username (no phone in webhooks)
//! phone_shared_fraction = 0.0  # of those, the share whose number Meta still shares (wa_id present)
//! parent_user_id = false    # also parent BSUIDs (CC.ENT.…)
//! user_id_change_fraction = 0.0  # inbound events that are a BSUID change (user_changed_user_id)
//! status_user_id = "every_status"  # recipient_user_id on every sent/delivered/read ("bsuid_sends": only those)
//! ```
//!
//! A username hides the user's number "with certain exceptions": the user shared it with the
//! business, or the number is in the business's Meta contact book after a recent interaction, and
//! then `wa_id` (and `from`) still appear beside the username (Meta, "Business-scoped user IDs";
//! <https://docs.360dialog.com/docs/resources/phone-numbers/usernames-and-bsuid>). A user's BSUID can
//! change (a new one is generated when the user changes phone number); Meta then posts a system
//! message `user_changed_user_id` naming the new BSUID, without contacts and without a phone number
//! (Meta, "System messages webhook reference",
//! <https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/system/>).
//!
//! Which identifiers a status object carries is read two ways, and Meta's stored pages do not settle
//! it (the status webhook reference, updated 2026-05-21, shows `recipient_id` only): integrators
//! summarising Meta's BSUID document (dualhook.com/docs/contacts-bsuid-webhooks, 2026) put
//! `recipient_user_id` on every sent/delivered/read status, whatever the message was addressed to,
//! and on a `failed` one only when it was sent to a BSUID; the `whatsapp-api-js` SDK's types (quoting
//! Meta's earlier field descriptions) put it only on statuses of messages sent to a BSUID. The first
//! is the default (`status_user_id`), the second a setting.

use serde::{Deserialize, Serialize};

use super::primitives::ConfigError;

/// Which sent/delivered/read statuses name the user's BSUID in `recipient_user_id`.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusUserId {
    /// Every one, whatever the message was addressed to; `recipient_id` too wherever Meta shares the
    /// user's number (addressed to it, or a user without a username or who shared it); a `failed`
    /// status names the BSUID only when the message was sent to one.
    #[default]
    EveryStatus,
    /// Only statuses of messages sent to a BSUID, which then have no `recipient_id` (the reading
    /// before the 2026 summaries).
    BsuidSends,
}

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
    /// Seeded fraction (0..=1) of username users whose phone number Meta still shares with the
    /// business (they shared it, or it is in the business's contact book): `wa_id` and `from`
    /// appear beside the username. Default 0 (model: Meta publishes no share).
    pub phone_shared_fraction: f64,
    /// Seeded fraction (0..=1) of the inbound generator's events that are a BSUID change: the
    /// user gets a new BSUID, the old one no longer reaches them (a send to it fails like any
    /// unknown BSUID), and a `user_changed_user_id` system message is posted. Default 0.
    pub user_id_change_fraction: f64,
    /// Which statuses carry `recipient_user_id`: `"every_status"` (default) or `"bsuid_sends"`
    /// (see the module's note: Meta's pages read either way).
    pub status_user_id: StatusUserId,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            bsuid: true,
            username_fraction: 0.0,
            parent_user_id: false,
            phone_shared_fraction: 0.0,
            user_id_change_fraction: 0.0,
            status_user_id: StatusUserId::EveryStatus,
        }
    }
}

impl IdentityConfig {
    /// Check ranges and combinations.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, v) in [
            ("username_fraction", self.username_fraction),
            ("phone_shared_fraction", self.phone_shared_fraction),
            ("user_id_change_fraction", self.user_id_change_fraction),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(ConfigError(format!("identity.{name} must be in 0..=1")));
            }
        }
        if !self.bsuid && (self.username_fraction > 0.0 || self.parent_user_id || self.user_id_change_fraction > 0.0) {
            return Err(ConfigError(
                "identity.bsuid = false cannot go with usernames, parent_user_id or user_id_change_fraction: \
                 they need BSUIDs (users with a username are identified by their BSUID alone)"
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
        let bad = IdentityConfig { phone_shared_fraction: -0.1, ..IdentityConfig::default() };
        assert!(bad.validate().unwrap_err().0.contains("phone_shared_fraction"));
        let bad = IdentityConfig { bsuid: false, user_id_change_fraction: 0.1, ..IdentityConfig::default() };
        assert!(bad.validate().unwrap_err().0.contains("bsuid = false"));
    }
}
