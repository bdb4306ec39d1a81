//! Users' identities in messages webhooks since 2026: business-scoped user IDs (BSUIDs), parent
//! BSUIDs and usernames, in the `contacts` array and the status and message objects.
//!
//! Meta, "Business-scoped user IDs"
//! (<https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids>),
//! as also summarised by integrators (<https://dualhook.com/docs/contacts-bsuid-webhooks>) and the
//! `whatsapp-api-js` SDK's webhook types (which quote Meta's field descriptions):
//! - sent / delivered / read statuses come with `value.contacts[]`: `user_id` (the BSUID, always),
//!   `parent_user_id` (where enabled), `wa_id` (the phone number, omitted when the message was
//!   sent to the BSUID of a user who adopted a username), `profile.name` (the user's display name)
//!   and `profile.username` (delivered and read only, for users with a username);
//! - the status object has `recipient_id` (the phone number) where Meta shares it and
//!   `recipient_user_id` (the BSUID) on every sent/delivered/read status, or, in the SDK's earlier
//!   reading, only when the message was sent to a BSUID (the simulator's `identity.status_user_id`);
//! - `failed` statuses come without `contacts`, so a failed message is identified by
//!   `recipient_id` or `recipient_user_id` alone;
//! - inbound messages: `contacts[].user_id` always, `wa_id` and `messages[].from` omitted for users
//!   with a username, `messages[].from_user_id` (and `from_parent_user_id`) added.
//!
//! The parser is lenient here: a contact it cannot read is skipped, never a reason to refuse the
//! webhook (correlation is by message id, not by user).

use serde::{Deserialize, Deserializer, Serialize};

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

/// The display name the simulator gives the user with phone digits `digits`: `User` and the last
/// four digits, or the last four characters of the BSUID when the number is withheld (a username
/// user's display name must not give the number away).
pub fn display_name(user: Option<&UserIdentity>, digits: &str) -> String {
    let last4 = |s: &str| s.get(s.len().saturating_sub(4)..).unwrap_or("").to_string();
    match user {
        Some(u) if u.phone_withheld() => format!("User {}", last4(&u.user_id)),
        _ => format!("User {}", last4(digits)),
    }
}

impl Contact {
    /// The contact of a sent/delivered/read status of a message to `user`: `phone` is the number
    /// Meta shares (none for a username user messaged by BSUID), `name` the display name
    /// (`profile.name`, Meta: "the WhatsApp user's display name"); the username only on delivered
    /// and read (`with_username`).
    pub fn of_status(user: &UserIdentity, phone: Option<&str>, name: Option<String>, with_username: bool) -> Contact {
        let username = user.username.clone().filter(|_| with_username);
        let profile = ContactProfile { name, username };
        Contact {
            profile: (profile != ContactProfile::default()).then_some(profile),
            wa_id: phone.map(str::to_string),
            user_id: Some(user.user_id.clone()),
            parent_user_id: user.parent_user_id.clone(),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn user(username: Option<&str>) -> UserIdentity {
        UserIdentity { username: username.map(Into::into), ..UserIdentity::new("US.1") }
    }

    #[test]
    fn contact_shapes_round_trip() {
        let c = Contact::of_status(&user(Some("ann")), None, None, true);
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v, serde_json::json!({"profile": {"username": "ann"}, "user_id": "US.1"}));
        assert_eq!(serde_json::from_value::<Contact>(v).unwrap(), c);
        let sent = Contact::of_status(&user(Some("ann")), Some("15550001"), None, false);
        assert_eq!(serde_json::to_value(&sent).unwrap(), serde_json::json!({"wa_id": "15550001", "user_id": "US.1"}));
        let named = Contact::of_status(&user(None), Some("15550001"), Some("User 0001".into()), true);
        let v = serde_json::to_value(&named).unwrap();
        assert_eq!(v, serde_json::json!({"profile": {"name": "User 0001"}, "wa_id": "15550001", "user_id": "US.1"}));
        assert_eq!(display_name(Some(&user(Some("ann"))), "15550001"), "User US.1", "withheld: not the number");
        assert_eq!(display_name(None, "15550001"), "User 0001");
        let u = UserIdentity { parent_user_id: Some("US.ENT.1".into()), ..user(None) };
        let v = serde_json::to_value(&u).unwrap();
        assert_eq!(serde_json::from_value::<UserIdentity>(v).unwrap(), u);
    }
}
