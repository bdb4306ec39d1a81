//! Inbound (user → business) message webhooks, as the embedded simulator posts them.
//!
//! Shapes, from Meta's webhook documentation:
//! - Cloud API: the same envelope as statuses, `field = "messages"`, with `value.contacts[]`
//!   (`profile.name`, `wa_id`) and `value.messages[]` (`from`, `id`, `timestamp`, `type`, `text.body`)
//!   (<https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples#text-messages>).
//! - On-Premises API: top-level `{"contacts":[…],"messages":[…]}` with the same message fields
//!   (<https://developers.facebook.com/docs/whatsapp/on-premises/webhooks/inbound>).
//! - Since 2026 (Cloud): `contacts[].user_id` (the BSUID) and `messages[].from_user_id` always,
//!   `parent_user_id` / `from_parent_user_id` where enabled, and for a user who adopted a username
//!   `profile.username` while `wa_id` and `from` are omitted (Meta, "Business-scoped user IDs",
//!   <https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids>).

use serde_json::{Value, json};

use super::identity::{UserIdentity, display_name};
use super::model::CLOUD_OBJECT;

/// One text message a user sent to the business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    /// The user's WhatsApp id (digits).
    pub from: String,
    /// The message id (`wamid.…` on Cloud).
    pub id: String,
    /// Unix seconds.
    pub timestamp: i64,
    pub body: String,
    /// The sender's BSUID, parent BSUID and username (Cloud, 2026); `None`: the older shapes.
    pub user: Option<UserIdentity>,
    /// Not a user's message but the system message `user_changed_user_id`: the user's BSUID
    /// changed from this one to `user.user_id` (`body` is ignored).
    pub changed_from: Option<String>,
}

impl InboundMessage {
    /// True when the sender's phone number is withheld (a user who adopted a username and did not
    /// share the number).
    pub fn phone_withheld(&self) -> bool {
        self.user.as_ref().is_some_and(UserIdentity::phone_withheld)
    }
}

fn last4(s: &str) -> &str {
    s.get(s.len().saturating_sub(4)..).unwrap_or("")
}

/// The `contacts[]` entry of an inbound message's sender.
pub(crate) fn contact(m: &InboundMessage) -> Value {
    let Some(u) = &m.user else {
        return json!({"profile": {"name": format!("User {}", last4(&m.from))}, "wa_id": m.from});
    };
    // A username user's display name must not give away the number either.
    let name = display_name(Some(u), &m.from);
    let mut c = json!({"profile": {"name": name}, "user_id": u.user_id});
    if let Some(p) = &u.parent_user_id {
        c["parent_user_id"] = json!(p);
    }
    if let Some(username) = &u.username {
        c["profile"]["username"] = json!(username);
    }
    if !m.phone_withheld() {
        c["wa_id"] = json!(m.from);
    }
    c
}

/// The `messages[]` object of a `user_changed_user_id` system message (Meta, "System messages
/// webhook reference",
/// <https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/system/>,
/// updated 2026-08-11): `type = "system"`, `system.type`, `system.body` ("User <name> changed from
/// <old> to <new>"), the new BSUID in `system.user_id` and, since Meta's changelog of 2026-08-11,
/// the old one in `system.previous_user_id` (and `parent_user_id` / `previous_parent_user_id` where
/// parent BSUIDs are on); no new phone number (`user_changed_number` has one in `system.wa_id`). The
/// sender is as in other 2026 messages: `from_user_id` (the old BSUID) and `from` unless the user's
/// number is withheld (pywa, for one, reads `from` of these messages).
fn system_message(m: &InboundMessage, previous: &str) -> Value {
    let new = m.user.as_ref().map_or("", |u| u.user_id.as_str());
    let name = format!("User {}", last4(new));
    let mut v = json!({
        "from_user_id": previous,
        "id": m.id,
        "timestamp": m.timestamp.to_string(),
        "type": "system",
        "system": {
            "body": format!("User {name} changed from {previous} to {new}"),
            "user_id": new,
            "previous_user_id": previous,
            "type": "user_changed_user_id",
        },
    });
    // The parent BSUID is the portfolio group's: it does not change with the BSUID.
    if let Some(parent) = m.user.as_ref().and_then(|u| u.parent_user_id.as_deref()) {
        v["system"]["parent_user_id"] = json!(parent);
        v["system"]["previous_parent_user_id"] = json!(parent);
    }
    if !m.phone_withheld() {
        v["from"] = json!(m.from);
    }
    v
}

/// The `user_id_update` webhook of a BSUID change (a system message `m` with `changed_from`), as
/// integrators document it (8x8 "WhatsApp Business-scoped user IDs", Kapso, dualhook, 2026): field
/// `user_id_update`, `value.user_id_update[]` with the user's `wa_id` where Meta shares it, a
/// `detail` text, `user_id.previous` / `user_id.current` and a `timestamp`. Meta's changelog of
/// 2026-08-11 says this field is not subscribable (the change comes as the system message), so the
/// simulator posts it only when asked (`webhooks.user_id_update`). `None` for any other message.
pub fn cloud_user_id_update(
    waba_id: &str,
    phone_number_id: &str,
    display_phone: &str,
    m: &InboundMessage,
) -> Option<Value> {
    let previous = m.changed_from.as_deref()?;
    let user = m.user.as_ref()?;
    let mut update = json!({
        "detail": format!("User id for {} has been updated.", display_name(Some(user), &m.from)),
        "user_id": {"previous": previous, "current": user.user_id},
        "timestamp": m.timestamp.to_string(),
    });
    if !m.phone_withheld() {
        update["wa_id"] = json!(m.from);
    }
    Some(json!({
        "object": CLOUD_OBJECT,
        "entry": [{
            "id": waba_id,
            "changes": [{
                "field": "user_id_update",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": display_phone, "phone_number_id": phone_number_id},
                    "user_id_update": [update],
                },
            }],
        }],
    }))
}

/// The `messages[]` object of a text message (other types replace `text` with their own object).
pub(crate) fn message(m: &InboundMessage) -> Value {
    if let Some(previous) = &m.changed_from {
        return system_message(m, previous);
    }
    let mut v = json!({
        "id": m.id,
        "timestamp": m.timestamp.to_string(),
        "type": "text",
        "text": {"body": m.body},
    });
    if !m.phone_withheld() {
        v["from"] = json!(m.from);
    }
    if let Some(u) = &m.user {
        v["from_user_id"] = json!(u.user_id);
        if let Some(p) = &u.parent_user_id {
            v["from_parent_user_id"] = json!(p);
        }
    }
    v
}

/// A Cloud `messages` webhook carrying one inbound message.
pub fn cloud_inbound(waba_id: &str, phone_number_id: &str, display_phone: &str, m: &InboundMessage) -> Value {
    let mut v = json!({
        "object": CLOUD_OBJECT,
        "entry": [{
            "id": waba_id,
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": display_phone, "phone_number_id": phone_number_id},
                    "contacts": [contact(m)],
                    "messages": [message(m)],
                },
            }],
        }],
    });
    // System messages come without a contacts array (Meta, system messages webhook reference).
    if m.changed_from.is_some()
        && let Some(value) = v["entry"][0]["changes"][0]["value"].as_object_mut()
    {
        value.remove("contacts");
    }
    v
}

/// An On-Premises webhook carrying one inbound message.
pub fn onprem_inbound(m: &InboundMessage) -> Value {
    json!({"contacts": [contact(m)], "messages": [message(m)]})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::model::{Shape, parse_notification};

    #[test]
    fn both_shapes_parse_as_inbound_messages() {
        let m = InboundMessage {
            from: "15551230001".into(),
            id: "wamid.in1".into(),
            timestamp: 1_700_000_000,
            body: "hi".into(),
            user: None,
            changed_from: None,
        };
        let cloud = serde_json::to_vec(&cloud_inbound("1", "2", "3", &m)).unwrap();
        let n = parse_notification(&cloud).unwrap();
        assert_eq!((n.shape, n.statuses.len(), n.inbound_messages), (Shape::Cloud, 0, 1));
        let v: Value = serde_json::from_slice(&cloud).unwrap();
        let value = &v["entry"][0]["changes"][0]["value"];
        assert_eq!(value["contacts"][0]["wa_id"], "15551230001");
        assert_eq!(value["messages"][0]["text"]["body"], "hi");
        assert_eq!(value["messages"][0]["timestamp"], "1700000000");
        let onprem = serde_json::to_vec(&onprem_inbound(&m)).unwrap();
        let n = parse_notification(&onprem).unwrap();
        assert_eq!((n.shape, n.statuses.len(), n.inbound_messages), (Shape::OnPrem, 0, 1));
    }

    #[test]
    fn bsuid_and_username_users() {
        let user = |username: Option<&str>| UserIdentity {
            user_id: "US.13491208655302741918".into(),
            parent_user_id: Some("US.ENT.11815799212886844830".into()),
            username: username.map(Into::into),
            phone_shared: false,
        };
        let mut m = InboundMessage {
            from: "15551230001".into(),
            id: "wamid.in2".into(),
            timestamp: 1_700_000_000,
            body: "hi".into(),
            user: Some(user(None)),
            changed_from: None,
        };
        let v = cloud_inbound("1", "2", "3", &m);
        let value = &v["entry"][0]["changes"][0]["value"];
        assert_eq!(value["contacts"][0]["user_id"], "US.13491208655302741918");
        assert_eq!(value["contacts"][0]["parent_user_id"], "US.ENT.11815799212886844830");
        assert_eq!(value["contacts"][0]["wa_id"], "15551230001");
        assert_eq!(value["messages"][0]["from"], "15551230001");
        assert_eq!(value["messages"][0]["from_user_id"], "US.13491208655302741918");
        assert!(value["contacts"][0]["profile"].get("username").is_none());
        m.user = Some(user(Some("ann_42")));
        let body = serde_json::to_vec(&cloud_inbound("1", "2", "3", &m)).unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        let value = &v["entry"][0]["changes"][0]["value"];
        assert_eq!(value["contacts"][0]["profile"]["username"], "ann_42");
        assert!(value["contacts"][0].get("wa_id").is_none() && value["messages"][0].get("from").is_none());
        assert!(!value.to_string().contains("1230001"), "the number is nowhere: {value}");
        let n = parse_notification(&body).unwrap();
        assert_eq!((n.inbound_messages, n.identities.inbound_without_phone), (1, 1));
        // A username user who shared the number: the username and the number both.
        m.user = Some(UserIdentity { phone_shared: true, ..user(Some("ann_42")) });
        let v = cloud_inbound("1", "2", "3", &m);
        let value = &v["entry"][0]["changes"][0]["value"];
        assert_eq!(value["contacts"][0]["profile"]["username"], "ann_42");
        assert_eq!(
            (&value["contacts"][0]["wa_id"], &value["messages"][0]["from"]),
            (&json!("15551230001"), &json!("15551230001"))
        );
    }

    #[test]
    fn a_bsuid_change_is_a_system_message_without_contacts_or_phone() {
        let m = InboundMessage {
            from: "15551230001".into(),
            id: "wamid.sys1".into(),
            timestamp: 1_700_000_000,
            body: String::new(),
            user: Some(UserIdentity::new("US.22222222222222222222")),
            changed_from: Some("US.11111111111111111111".into()),
        };
        let body = serde_json::to_vec(&cloud_inbound("1", "2", "3", &m)).unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        let value = &v["entry"][0]["changes"][0]["value"];
        assert!(value.get("contacts").is_none(), "{value}");
        let msg = &value["messages"][0];
        assert_eq!(
            (msg["type"].as_str(), msg["system"]["type"].as_str()),
            (Some("system"), Some("user_changed_user_id"))
        );
        assert_eq!(msg["system"]["user_id"], "US.22222222222222222222");
        assert_eq!(msg["system"]["previous_user_id"], "US.11111111111111111111", "Meta's changelog, 2026-08-11");
        assert_eq!(msg["from_user_id"], "US.11111111111111111111");
        let text = msg["system"]["body"].as_str().unwrap();
        assert!(text.contains("changed from US.11111111111111111111 to US.22222222222222222222"), "{text}");
        assert!(msg["system"].get("wa_id").is_none(), "no new number: {value}");
        assert_eq!(msg["from"], "15551230001", "a user without a username: the sender's number");
        let n = parse_notification(&body).unwrap();
        assert_eq!((n.inbound_messages, n.identities.inbound_without_phone), (1, 0), "not a phoneless user message");
        let hidden = InboundMessage {
            user: Some(UserIdentity { username: Some("ann".into()), ..UserIdentity::new("US.22222222222222222222") }),
            ..m
        };
        let v = cloud_inbound("1", "2", "3", &hidden);
        assert!(!v.to_string().contains("1230001"), "a username user: no phone number anywhere: {v}");
        let u = cloud_user_id_update("1", "2", "3", &hidden).unwrap();
        assert!(!u.to_string().contains("1230001"), "nor in its user_id_update: {u}");
    }

    #[test]
    fn a_user_id_update_links_the_previous_and_current_bsuid() {
        let m = InboundMessage {
            from: "15551230001".into(),
            id: "wamid.sys2".into(),
            timestamp: 1_700_000_000,
            body: String::new(),
            user: Some(UserIdentity::new("US.22222222222222222222")),
            changed_from: Some("US.11111111111111111111".into()),
        };
        let v = cloud_user_id_update("1", "2", "3", &m).unwrap();
        let change = &v["entry"][0]["changes"][0];
        assert_eq!(change["field"], "user_id_update");
        let u = &change["value"]["user_id_update"][0];
        assert_eq!(u["user_id"], json!({"previous": "US.11111111111111111111", "current": "US.22222222222222222222"}));
        assert_eq!((u["wa_id"].as_str(), u["timestamp"].as_str()), (Some("15551230001"), Some("1700000000")));
        let n = parse_notification(&serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!((n.statuses.len(), n.inbound_messages, n.identities.user_id_updates), (0, 0, 1));
        assert!(cloud_user_id_update("1", "2", "3", &InboundMessage { changed_from: None, ..m }).is_none());
    }
}
