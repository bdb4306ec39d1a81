//! Request bodies for both APIs, built per message number from the mix, deterministically from the
//! seed: message `n` of a run with seed `s` is always the same kind, to the same recipient, with the
//! same content, so runs compare like for like and a retry re-sends the same message. Placeholders
//! in `messages.text_body` and `messages.template_body_params` take the values of the recipient's row
//! of the recipients file (see `spec::template::MessageTemplates`).

use serde_json::{Value, json};

pub use crate::spec::messages::Kind;
use crate::spec::messages::MessagesSpec;
use crate::spec::recipients::is_bsuid;
use crate::spec::template::{MessageTemplates, Values};

/// The `[messages]` templates and the values of one message's placeholders.
#[derive(Debug, Clone, Copy)]
pub struct Filled<'a> {
    pub templates: &'a MessageTemplates,
    pub values: Values<'a>,
}

/// A 64-bit mix of seed and number (SplitMix64): cheap, stateless, well spread.
pub fn mix64(seed: u64, n: u64) -> u64 {
    let mut z = seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Picks message kinds by weight.
#[derive(Debug, Clone)]
pub struct Mix {
    seed: u64,
    cumulative: Vec<(Kind, u64)>,
    total: u64,
}

impl Mix {
    pub fn new(spec: &MessagesSpec, seed: u64) -> Mix {
        let mut acc = 0;
        let cumulative = spec
            .weights()
            .iter()
            .filter(|(_, w)| *w > 0)
            .map(|(k, w)| {
                acc += u64::from(*w);
                (*k, acc)
            })
            .collect();
        Mix { seed, cumulative, total: acc.max(1) }
    }

    /// The kind of message `n`.
    pub fn kind(&self, n: u64) -> Kind {
        let x = mix64(self.seed, n) % self.total;
        self.cumulative.iter().find(|(_, c)| x < *c).map_or(Kind::Text, |(k, _)| *k)
    }
}

fn text_body(spec: &MessagesSpec, n: u64, f: Option<&Filled<'_>>) -> String {
    match f.and_then(|f| f.templates.text.as_ref().map(|t| t.render_string(&f.values))) {
        Some(s) => s,
        None => spec.text_body.replace("{n}", &n.to_string()),
    }
}

/// A template's body parameters: `template_body_params` rendered, or `template_params` generated ones.
fn params(spec: &MessagesSpec, n: u64, f: Option<&Filled<'_>>) -> Vec<Value> {
    match f.filter(|f| !f.templates.params.is_empty()) {
        Some(f) => {
            f.templates.params.iter().map(|t| json!({"type": "text", "text": t.render_string(&f.values)})).collect()
        }
        None => (0..spec.template_params).map(|i| json!({"type": "text", "text": format!("p{i}-{n}")})).collect(),
    }
}

fn media(spec: &MessagesSpec, n: u64) -> Value {
    match &spec.media_id {
        Some(id) => json!({"id": id, "caption": format!("item {n}")}),
        None => json!({"link": spec.media_link, "caption": format!("item {n}")}),
    }
}

fn interactive(n: u64) -> Value {
    json!({
        "type": "button",
        "body": {"text": format!("Confirm order {n}?")},
        "action": {"buttons": [
            {"type": "reply", "reply": {"id": format!("yes-{n}"), "title": "Yes"}},
            {"type": "reply", "reply": {"id": format!("no-{n}"), "title": "No"}}
        ]}
    })
}

/// The JSON body of a Cloud API send (`POST /{version}/{phone-number-id}/messages`). A recipient
/// that is a business-scoped user ID goes in `recipient` instead of `to` (Meta, "Business-scoped
/// user IDs": `to` takes phone numbers and wins when both are given;
/// <https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids>).
pub fn cloud(spec: &MessagesSpec, kind: Kind, to: &str, n: u64) -> Vec<u8> {
    message(spec, kind, to, n, false, None)
}

/// The JSON body of an On-Premises API send (`POST /v1/messages`).
pub fn onprem(spec: &MessagesSpec, kind: Kind, to: &str, n: u64) -> Vec<u8> {
    message(spec, kind, to, n, true, None)
}

/// The body of message `n` for either API, its placeholders filled from `filled`.
pub fn filled(spec: &MessagesSpec, kind: Kind, to: &str, n: u64, onprem: bool, filled: &Filled<'_>) -> Vec<u8> {
    message(spec, kind, to, n, onprem, Some(filled))
}

/// Both APIs take the same message objects but for a few fields: Cloud names the product and may ask
/// for link previews; on-premises templates carry their namespace; message ids look different.
fn message(spec: &MessagesSpec, kind: Kind, to: &str, n: u64, onprem: bool, f: Option<&Filled<'_>>) -> Vec<u8> {
    let field = if !onprem && is_bsuid(to) { "recipient" } else { "to" };
    let mut v = json!({"recipient_type": "individual", field: to, "type": kind.name()});
    if !onprem {
        v["messaging_product"] = json!("whatsapp");
    }
    let payload = match kind {
        Kind::Text if onprem => json!({"body": text_body(spec, n, f)}),
        Kind::Text => json!({"preview_url": false, "body": text_body(spec, n, f)}),
        Kind::Template => {
            let mut t = json!({
                "name": spec.template_name,
                "language": {"policy": "deterministic", "code": spec.template_language},
                "components": [{"type": "body", "parameters": params(spec, n, f)}]
            });
            if onprem {
                t["namespace"] = json!(spec.template_namespace);
            }
            t
        }
        Kind::Image => media(spec, n),
        Kind::Document => {
            let mut m = media(spec, n);
            m["filename"] = json!(format!("document-{n}.pdf"));
            m
        }
        Kind::Interactive => interactive(n),
        Kind::Reaction => {
            let id = if onprem { format!("gBEGwabench{n:016x}") } else { format!("wamid.wabench{n:016x}") };
            json!({"message_id": id, "emoji": "\u{1F44D}"})
        }
    };
    v[kind.name()] = payload;
    serde_json::to_vec(&v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_follows_weights_and_is_deterministic() {
        let spec = MessagesSpec { text: 70, template: 20, image: 10, ..Default::default() };
        let m = Mix::new(&spec, 7);
        let mut counts = std::collections::BTreeMap::new();
        for n in 0..10_000 {
            *counts.entry(m.kind(n)).or_insert(0u32) += 1;
        }
        let t = counts[&Kind::Text];
        assert!((6700..7300).contains(&t), "text {t}");
        assert!((1700..2300).contains(&counts[&Kind::Template]));
        assert!(!counts.contains_key(&Kind::Reaction));
        let again = Mix::new(&spec, 7);
        assert!((0..1000).all(|n| again.kind(n) == m.kind(n)));
        let other = Mix::new(&spec, 8);
        assert!((0..1000).any(|n| other.kind(n) != m.kind(n)));
    }

    #[test]
    fn cloud_bodies_have_the_documented_shape() {
        let spec = MessagesSpec::default();
        let v: Value = serde_json::from_slice(&cloud(&spec, Kind::Text, "+15551234567", 3)).unwrap();
        assert_eq!(v["messaging_product"], "whatsapp");
        assert_eq!(v["text"]["body"], "wabench message 3");
        let v: Value = serde_json::from_slice(&cloud(&spec, Kind::Template, "1555", 3)).unwrap();
        assert_eq!(v["template"]["components"][0]["parameters"].as_array().unwrap().len(), 2);
        let v: Value = serde_json::from_slice(&onprem(&spec, Kind::Template, "1555", 3)).unwrap();
        assert_eq!(v["template"]["language"]["policy"], "deterministic");
        assert!(v.get("messaging_product").is_none());
    }

    #[test]
    fn a_bsuid_goes_in_recipient() {
        let spec = MessagesSpec::default();
        let b = "US.13491208655302741918";
        let v: Value = serde_json::from_slice(&cloud(&spec, Kind::Text, b, 1)).unwrap();
        assert_eq!(v["recipient"], b);
        assert!(v.get("to").is_none(), "{v}");
        let v: Value = serde_json::from_slice(&cloud(&spec, Kind::Text, "15551234567", 1)).unwrap();
        assert!(v.get("recipient").is_none() && v["to"] == "15551234567");
    }
}
