//! Inbound (user → business) message webhooks, as the embedded simulator posts them.
//!
//! Shapes, from Meta's webhook documentation:
//! - Cloud API: the same envelope as statuses, `field = "messages"`, with `value.contacts[]`
//!   (`profile.name`, `wa_id`) and `value.messages[]` (`from`, `id`, `timestamp`, `type`, `text.body`)
//!   (<https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples#text-messages>).
//! - On-Premises API: top-level `{"contacts":[…],"messages":[…]}` with the same message fields
//!   (<https://developers.facebook.com/docs/whatsapp/on-premises/webhooks/inbound>).

use serde_json::{Value, json};

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
}

fn contact(m: &InboundMessage) -> Value {
    json!({"profile": {"name": format!("User {}", &m.from[m.from.len().saturating_sub(4)..])}, "wa_id": m.from})
}

fn message(m: &InboundMessage) -> Value {
    json!({
        "from": m.from,
        "id": m.id,
        "timestamp": m.timestamp.to_string(),
        "type": "text",
        "text": {"body": m.body},
    })
}

/// A Cloud `messages` webhook carrying one inbound message.
pub fn cloud_inbound(waba_id: &str, phone_number_id: &str, display_phone: &str, m: &InboundMessage) -> Value {
    json!({
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
    })
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
}
