//! Users' identities in messages webhooks since 2026: business-scoped user IDs (BSUIDs), parent
//! BSUIDs and usernames, in the `contacts` array and the status and message objects.
//!
//! Meta, "Business-scoped user IDs"
//! (<https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids>),
//! as also summarised by integrators (<https://dualhook.com/docs/contacts-bsuid-webhooks>) and the
//! `whatsapp-api-js` SDK's webhook types (which quote Meta's field descriptions):
//! - sent / delivered / read statuses come with `value.contacts[]`: `user_id` (the BSUID, always),
//!   `parent_user_id` (where enabled), `wa_id` (the phone number, omitted when the message was
//!   sent to the BSUID of a user who adopted a username) and `profile.username` (delivered and read
//!   only, for users with a username);
//! - the status object has `recipient_id` (the phone number) when the message was sent to a phone
//!   number and `recipient_user_id` (the BSUID given) when it was sent to a BSUID;
//! - `failed` statuses come without `contacts`, so a failed message is identified by
//!   `recipient_id` or `recipient_user_id` alone;
//! - inbound messages: `contacts[].user_id` always, `wa_id` and `messages[].from` omitted for users
//!   with a username, `messages[].from_user_id` (and `from_parent_user_id`) added.
//!
//! The parser is lenient here: a contact it cannot read is skipped, never a reason to refuse the
//! webhook (correlation is by message id, not by user).

use serde::{Deserialize, Deserializer, Serialize};

use super::model::Status;
use crate::results::delivery::IdentityCounts;

/// A user's 2026 identifiers, as the simulator knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserIdentity {
    /// The business-scoped user ID (`CC.…`).
    pub user_id: String,
    /// The parent BSUID (`CC.ENT.…`), where enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_user_id: Option<String>,
    /// The username, for users who adopted one (their phone number is then withheld, unless
    /// `phone_shared`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// A username user whose phone number Meta still shares with this business: the user shared
    /// it, or the business's contact book holds it after a recent interaction (Meta,
    /// "Business-scoped user IDs": usernames hide the number "with certain exceptions"; the contact
    /// book keeps numbers in webhooks, <https://docs.360dialog.com/docs/resources/phone-numbers/usernames-and-bsuid>).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub phone_shared: bool,
}

impl UserIdentity {
    /// A user known by BSUID alone (no username, or none yet): the phone number is shared.
    pub fn new(user_id: impl Into<String>) -> Self {
        UserIdentity { user_id: user_id.into(), parent_user_id: None, username: None, phone_shared: false }
    }

    /// True when Meta withholds this user's phone number: a username, not shared.
    pub fn phone_withheld(&self) -> bool {
        self.username.is_some() && !self.phone_shared
    }
}

/// `profile` of a contact.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactProfile {
    /// Display name (inbound messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The user's username, where they adopted one (not on `sent` statuses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// One entry of a messages webhook's `contacts` array.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ContactProfile>,
    /// The phone number, when Meta shares it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
    /// The BSUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_user_id: Option<String>,
}

impl Contact {
    /// The contact of a sent/delivered/read status of a message to `user`: `phone` is the number
    /// Meta shares (none for a username user messaged by BSUID); the username only on delivered
    /// and read (`with_username`).
    pub fn of_status(user: &UserIdentity, phone: Option<&str>, with_username: bool) -> Contact {
        let username = user.username.clone().filter(|_| with_username);
        Contact {
            profile: username.map(|u| ContactProfile { name: None, username: Some(u) }),
            wa_id: phone.map(str::to_string),
            user_id: Some(user.user_id.clone()),
            parent_user_id: user.parent_user_id.clone(),
        }
    }

    /// True when `status` is about this contact's user.
    fn is_of(&self, status: &Status) -> bool {
        let same = |a: &Option<String>, b: &Option<String>| a.is_some() && a == b;
        same(&self.user_id, &status.recipient_user_id)
            || same(&self.parent_user_id, &status.recipient_user_id)
            || (!status.recipient_id.is_empty() && self.wa_id.as_deref() == Some(status.recipient_id.as_str()))
    }
}

/// `contacts` read leniently: absent or not an array is none, unreadable entries are skipped.
pub(crate) fn lenient_contacts<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Contact>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::Array(items)) => {
            items.into_iter().filter_map(|c| serde_json::from_value(c).ok()).collect()
        }
        _ => Vec::new(),
    })
}

/// Counts how the users of one webhook value were identified.
pub(crate) fn count(statuses: &[Status], contacts: &[Contact], inbound: &[serde_json::Value]) -> IdentityCounts {
    let mut c = IdentityCounts::default();
    for s in statuses {
        let contact = contacts.iter().find(|k| k.is_of(s));
        if s.recipient_user_id.is_some() || contact.is_some_and(|k| k.user_id.is_some()) {
            c.statuses_with_user_id += 1;
        }
        if s.recipient_id.is_empty() && contact.is_none_or(|k| k.wa_id.is_none()) {
            c.statuses_without_phone += 1;
        }
        if contact.is_some_and(|k| k.profile.as_ref().is_some_and(|p| p.username.is_some())) {
            c.statuses_with_username += 1;
        }
    }
    // An inbound message without `from` came from a user whose phone number is withheld; system
    // messages (a BSUID change) carry no number by design and are no user's message.
    let phoneless = |m: &&serde_json::Value| {
        m.get("type").and_then(serde_json::Value::as_str) != Some("system")
            && !matches!(m.get("from"), Some(serde_json::Value::String(f)) if !f.is_empty())
    };
    c.inbound_without_phone = inbound.iter().filter(phoneless).count() as u64;
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::model::StatusKind;

    fn user(username: Option<&str>) -> UserIdentity {
        UserIdentity { username: username.map(Into::into), ..UserIdentity::new("US.1") }
    }

    #[test]
    fn contact_shapes_round_trip() {
        let c = Contact::of_status(&user(Some("ann")), None, true);
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v, serde_json::json!({"profile": {"username": "ann"}, "user_id": "US.1"}));
        assert_eq!(serde_json::from_value::<Contact>(v).unwrap(), c);
        let sent = Contact::of_status(&user(Some("ann")), Some("15550001"), false);
        assert_eq!(serde_json::to_value(&sent).unwrap(), serde_json::json!({"wa_id": "15550001", "user_id": "US.1"}));
        let u = UserIdentity { parent_user_id: Some("US.ENT.1".into()), ..user(None) };
        let v = serde_json::to_value(&u).unwrap();
        assert_eq!(serde_json::from_value::<UserIdentity>(v).unwrap(), u);
    }

    #[test]
    fn counts_by_matching_contacts_to_statuses() {
        let by_phone = Status::new("a", StatusKind::Delivered, 1, "15550001");
        let mut by_bsuid = Status::new("b", StatusKind::Read, 1, "");
        by_bsuid.recipient_user_id = Some("US.2".into());
        let failed = Status::new("c", StatusKind::Failed, 1, "15550003");
        let contacts = vec![
            Contact::of_status(&user(None), Some("15550001"), true),
            Contact::of_status(&UserIdentity { user_id: "US.2".into(), ..user(Some("bo")) }, None, true),
        ];
        let inbound = [serde_json::json!({"from_user_id": "US.9"}), serde_json::json!({"from": "1555"})];
        let c = count(&[by_phone, by_bsuid, failed], &contacts, &inbound);
        let want = IdentityCounts {
            statuses_with_user_id: 2,
            statuses_without_phone: 1,
            statuses_with_username: 1,
            inbound_without_phone: 1,
        };
        assert_eq!(c, want);
    }
}
