//! Webhook payload types (Cloud and On-Premises shapes), builders and the tolerant parser.
//!
//! Cloud API: `{"object":"whatsapp_business_account","entry":[{"id":<WABA id>,"changes":[{"field":
//! "messages","value":{"messaging_product":"whatsapp","metadata":{..},"statuses":[..]}}]}]}`.
//! On-Premises API: top-level `{"statuses":[..]}` (inbound messages as top-level `"messages"`).
//! Since 2026 Cloud webhooks also identify users by business-scoped user IDs (`contacts[]`,
//! `recipient_user_id`): see [`super::identity`].

use serde::de;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The first Graph API version whose status webhooks omit `conversation` (Meta's status webhook
/// reference, 2026-05-21: "Omitted entirely for v24.0+").
pub const CONVERSATION_OMITTED_FROM: u16 = 24;

use super::identity::{self, Contact};
use crate::results::delivery::IdentityCounts;

/// The `object` value of every Cloud webhook for WhatsApp.
pub const CLOUD_OBJECT: &str = "whatsapp_business_account";

/// Delivery state reported by a status webhook.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StatusKind {
    Sent,
    Delivered,
    Read,
    Failed,
    /// Voice message played (after `read`).
    Played,
    /// A value this harness does not know; kept verbatim and counted separately.
    Other(String),
}

impl StatusKind {
    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            StatusKind::Sent => "sent",
            StatusKind::Delivered => "delivered",
            StatusKind::Read => "read",
            StatusKind::Failed => "failed",
            StatusKind::Played => "played",
            StatusKind::Other(s) => s,
        }
    }

    /// Parses the wire spelling; unknown values become [`StatusKind::Other`].
    pub fn from_wire(s: &str) -> Self {
        match s {
            "sent" => StatusKind::Sent,
            "delivered" => StatusKind::Delivered,
            "read" => StatusKind::Read,
            "failed" => StatusKind::Failed,
            "played" => StatusKind::Played,
            other => StatusKind::Other(other.to_owned()),
        }
    }
}

impl Serialize for StatusKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StatusKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = StatusKind;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a status string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusKind, E> {
                Ok(StatusKind::from_wire(v))
            }
        }
        d.deserialize_str(V)
    }
}

/// Accepts a unix timestamp sent either as a string (documented) or as a JSON number.
fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct V;
    impl de::Visitor<'_> for V {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a unix timestamp as string or number")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
    }
    d.deserialize_any(V)
}

/// One status object of a status webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The message id returned by the send API (`wamid.…` on Cloud, `gBEG…` on-prem).
    pub id: String,
    pub status: StatusKind,
    /// Unix seconds, as a decimal string (empty when the sender omitted it).
    #[serde(default, deserialize_with = "string_or_number")]
    pub timestamp: String,
    /// The recipient's phone number (or group id); empty when the message was sent to a
    /// business-scoped user ID (Meta omits it then).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub recipient_id: String,
    /// The BSUID (or parent BSUID) the message was sent to, when it was sent to one (2026).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_user_id: Option<String>,
    /// The recipient's parent BSUID, where parent BSUIDs are enabled (2026).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_parent_user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<Conversation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<Pricing>,
    /// Present on `failed` statuses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<StatusError>>,
}

impl Status {
    /// A status without conversation, pricing or errors.
    pub fn new(id: impl Into<String>, status: StatusKind, unix_seconds: i64, recipient_id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            status,
            timestamp: unix_seconds.to_string(),
            recipient_id: recipient_id.into(),
            recipient_user_id: None,
            recipient_parent_user_id: None,
            conversation: None,
            pricing: None,
            errors: None,
        }
    }

    /// Attaches conversation information.
    pub fn with_conversation(mut self, conversation: Conversation) -> Self {
        self.conversation = Some(conversation);
        self
    }

    /// Attaches pricing information.
    pub fn with_pricing(mut self, pricing: Pricing) -> Self {
        self.pricing = Some(pricing);
        self
    }

    /// Appends an error (used with [`StatusKind::Failed`]).
    pub fn with_error(mut self, error: StatusError) -> Self {
        self.errors.get_or_insert_with(Vec::new).push(error);
        self
    }

    /// The timestamp as unix seconds, when it parses.
    pub fn unix_seconds(&self) -> Option<i64> {
        self.timestamp.trim().parse().ok()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: String,
    /// Only on `sent` statuses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<ConversationOrigin>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationOrigin {
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pricing {
    #[serde(default)]
    pub billable: bool,
    /// `PMP` on Cloud, `CBP` on-prem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing_model: Option<String>,
    /// `regular`, `free_customer_service` or `free_entry_point`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

/// An error attached to a `failed` status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusError {
    pub code: i64,
    #[serde(default)]
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_data: Option<ErrorData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
}

impl StatusError {
    pub fn new(code: i64, title: impl Into<String>) -> Self {
        Self { code, title: title.into(), message: None, error_data: None, href: None }
    }

    /// Sets `error_data.details`.
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.error_data = Some(ErrorData { details: details.into() });
        self
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorData {
    pub details: String,
}

/// Cloud API webhook envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudEnvelope {
    pub object: String,
    pub entry: Vec<CloudEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudEntry {
    /// WhatsApp Business Account id.
    pub id: String,
    pub changes: Vec<CloudChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudChange {
    pub field: String,
    pub value: CloudStatusValue,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudStatusValue {
    pub messaging_product: String,
    pub metadata: Metadata,
    /// The users of the statuses (2026: `user_id`, `wa_id`, `profile.username`); none on `failed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<Contact>,
    pub statuses: Vec<Status>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub display_phone_number: String,
    pub phone_number_id: String,
}

/// On-Premises API webhook body carrying statuses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnPremEnvelope {
    pub statuses: Vec<Status>,
}

/// Builds a Cloud status webhook for one WABA and phone number.
pub fn cloud_envelope(
    waba_id: &str,
    phone_number_id: &str,
    display_phone: &str,
    statuses: Vec<Status>,
) -> CloudEnvelope {
    CloudEnvelope {
        object: CLOUD_OBJECT.to_owned(),
        entry: vec![CloudEntry {
            id: waba_id.to_owned(),
            changes: vec![CloudChange {
                field: "messages".to_owned(),
                value: CloudStatusValue {
                    messaging_product: "whatsapp".to_owned(),
                    metadata: Metadata {
                        display_phone_number: display_phone.to_owned(),
                        phone_number_id: phone_number_id.to_owned(),
                    },
                    contacts: Vec::new(),
                    statuses,
                },
            }],
        }],
    }
}

impl CloudEnvelope {
    /// Sets the `contacts` of its (first) change: the users of its statuses.
    pub fn with_contacts(mut self, contacts: Vec<Contact>) -> Self {
        if let Some(change) = self.entry.first_mut().and_then(|e| e.changes.first_mut()) {
            change.value.contacts = contacts;
        }
        self
    }
}

/// Builds an On-Premises status webhook.
pub fn onprem_envelope(statuses: Vec<Status>) -> OnPremEnvelope {
    OnPremEnvelope { statuses }
}

/// Which deployment's shape a webhook body had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    Cloud,
    OnPrem,
}

/// A parsed webhook body.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub shape: Shape,
    pub statuses: Vec<Status>,
    /// Number of inbound (customer → business) messages carried instead of statuses.
    pub inbound_messages: usize,
    /// How its users were identified (BSUIDs, usernames, withheld phone numbers).
    pub identities: IdentityCounts,
    /// The codes of the errors Meta reported in `value.errors` (about the account or number, not one
    /// message: e.g. 130429).
    pub errors: Vec<i64>,
}

/// Why a webhook body was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("body is not valid webhook JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unexpected object {0:?} (expected \"whatsapp_business_account\")")]
    UnexpectedObject(String),
    #[error("body is neither a Cloud envelope (object/entry) nor an On-Premises body (statuses/messages)")]
    UnknownShape,
}

// Parsing view: tolerant of fields it does not use, strict on the ones it does.
#[derive(Deserialize)]
struct AnyBody {
    object: Option<String>,
    entry: Option<Vec<AnyEntry>>,
    statuses: Option<Vec<Status>>,
    messages: Option<Vec<serde_json::Value>>,
}

#[derive(Deserialize)]
struct AnyEntry {
    #[serde(default)]
    changes: Vec<AnyChange>,
}

#[derive(Deserialize)]
struct AnyChange {
    #[serde(default)]
    field: String,
    value: Option<AnyValue>,
}

#[derive(Deserialize)]
struct AnyValue {
    statuses: Option<Vec<Status>>,
    messages: Option<Vec<serde_json::Value>>,
    /// Errors Meta reports for the account or number, not one message (e.g. 130429), in
    /// `value.errors` (Meta, "Errors messages webhooks reference").
    #[serde(default)]
    errors: Vec<ValueError>,
    #[serde(default, deserialize_with = "identity::lenient_contacts")]
    contacts: Vec<Contact>,
    /// The entries of a `user_id_update` change (a user's previous and current BSUID); counted, not
    /// read further.
    #[serde(default)]
    user_id_update: Option<serde_json::Value>,
}

/// One entry of `value.errors`: its code, when it has one.
#[derive(Deserialize)]
struct ValueError {
    #[serde(default)]
    code: Option<i64>,
}

/// Parses either webhook shape. Changes of fields other than `messages` (e.g. group updates) are
/// ignored, but for `user_id_update`, whose entries are counted.
pub fn parse_notification(body: &[u8]) -> Result<Notification, ParseError> {
    let any: AnyBody = serde_json::from_slice(body)?;
    if let Some(object) = any.object {
        if object != CLOUD_OBJECT {
            return Err(ParseError::UnexpectedObject(object));
        }
        let mut statuses = Vec::new();
        let mut inbound_messages = 0;
        let mut errors = Vec::new();
        let mut identities = IdentityCounts::default();
        for change in any.entry.into_iter().flatten().flat_map(|e| e.changes) {
            if change.field == "user_id_update" {
                let entries = change.value.and_then(|v| v.user_id_update);
                identities.user_id_updates += entries.map_or(0, |u| u.as_array().map_or(1, Vec::len)) as u64;
                continue;
            }
            if change.field != "messages" {
                continue;
            }
            if let Some(value) = change.value {
                let (s, m) = (value.statuses.unwrap_or_default(), value.messages.unwrap_or_default());
                identities.add(&count_identities(&s, &value.contacts, &m));
                statuses.extend(s);
                inbound_messages += m.len();
                errors.extend(value.errors.iter().filter_map(|e| e.code));
            }
        }
        return Ok(Notification { shape: Shape::Cloud, statuses, inbound_messages, identities, errors });
    }
    if any.entry.is_some() {
        return Err(ParseError::UnknownShape);
    }
    if any.statuses.is_none() && any.messages.is_none() {
        return Err(ParseError::UnknownShape);
    }
    Ok(Notification {
        shape: Shape::OnPrem,
        statuses: any.statuses.unwrap_or_default(),
        inbound_messages: any.messages.map_or(0, |m| m.len()),
        identities: IdentityCounts::default(),
        errors: Vec::new(),
    })
}

/// True when `status` is about `contact`'s user.
fn contact_is_of(contact: &Contact, status: &Status) -> bool {
    let same = |a: &Option<String>, b: &Option<String>| a.is_some() && a == b;
    same(&contact.user_id, &status.recipient_user_id)
        || same(&contact.parent_user_id, &status.recipient_user_id)
        || (!status.recipient_id.is_empty() && contact.wa_id.as_deref() == Some(status.recipient_id.as_str()))
}

/// Counts how the users of one webhook value were identified.
fn count_identities(statuses: &[Status], contacts: &[Contact], inbound: &[serde_json::Value]) -> IdentityCounts {
    let mut c = IdentityCounts::default();
    for s in statuses {
        let contact = contacts.iter().find(|k| contact_is_of(k, s));
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

/// Parses either webhook shape and returns its statuses (none for inbound-message webhooks).
pub fn parse(body: &[u8]) -> Result<Vec<Status>, ParseError> {
    parse_notification(body).map(|n| n.statuses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_round_trip() {
        let failed = Status::new("wamid.2", StatusKind::Failed, 1_700_000_001, "15550001")
            .with_error(StatusError::new(131026, "Message undeliverable").with_details("x"));
        let env = cloud_envelope(
            "419561257915477",
            "106540352242922",
            "15550783881",
            vec![Status::new("wamid.1", StatusKind::Sent, 1_700_000_000, "15550001"), failed.clone()],
        );
        let body = serde_json::to_vec(&env).unwrap();
        let n = parse_notification(&body).unwrap();
        assert_eq!(n.shape, Shape::Cloud);
        assert_eq!(n.statuses.len(), 2);
        assert_eq!(n.statuses[1], failed);
        let back: CloudEnvelope = serde_json::from_slice(&body).unwrap();
        assert_eq!(back, env);
    }

    #[test]
    fn bsuid_statuses_and_contacts_round_trip() {
        use crate::webhook::identity::{Contact, ContactProfile};
        let mut by_bsuid = Status::new("wamid.3", StatusKind::Read, 1_700_000_002, "");
        by_bsuid.recipient_user_id = Some("US.13491208655302741918".into());
        by_bsuid.recipient_parent_user_id = Some("US.ENT.11815799212886844830".into());
        let contact = Contact {
            profile: Some(ContactProfile { name: None, username: Some("ann".into()) }),
            wa_id: None,
            user_id: Some("US.13491208655302741918".into()),
            parent_user_id: Some("US.ENT.11815799212886844830".into()),
        };
        let env = cloud_envelope("1", "2", "3", vec![by_bsuid.clone()]).with_contacts(vec![contact]);
        let body = serde_json::to_vec(&env).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let value = &v["entry"][0]["changes"][0]["value"];
        assert!(value["statuses"][0].get("recipient_id").is_none(), "omitted when sent to a BSUID");
        assert_eq!(value["contacts"][0]["profile"]["username"], "ann");
        assert_eq!(serde_json::from_slice::<CloudEnvelope>(&body).unwrap(), env);
        let n = parse_notification(&body).unwrap();
        assert_eq!(n.statuses, vec![by_bsuid]);
        assert_eq!((n.identities.statuses_without_phone, n.identities.statuses_with_username), (1, 1));
        // Without contacts (the pre-2026 shape, or `failed`) nothing is counted but the status.
        let old = serde_json::to_vec(&cloud_envelope("1", "2", "3", vec![Status::new("w", StatusKind::Sent, 1, "1")]));
        let n = parse_notification(&old.unwrap()).unwrap();
        assert!(n.identities.is_empty() && n.statuses.len() == 1);
        // Unreadable contacts are skipped, never a reason to refuse the webhook.
        let odd = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",
            "value":{"contacts":[{"user_id":5},"x"],"statuses":[{"id":"w","status":"sent","timestamp":"1"}]}}]}]}"#;
        assert_eq!(parse_notification(odd).unwrap().statuses.len(), 1);
    }

    #[test]
    fn onprem_and_inbound() {
        let body = br#"{"statuses":[{"id":"gBEG1","status":"delivered","timestamp":1700000000,
            "recipient_id":"1","pricing":{"billable":true,"pricing_model":"CBP"}}]}"#;
        let n = parse_notification(body).unwrap();
        assert_eq!(n.shape, Shape::OnPrem);
        assert_eq!(n.statuses[0].timestamp, "1700000000");
        assert_eq!(n.statuses[0].unix_seconds(), Some(1_700_000_000));

        let inbound = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[
            {"field":"messages","value":{"messaging_product":"whatsapp","metadata":
            {"display_phone_number":"1","phone_number_id":"2"},"contacts":[],
            "messages":[{"from":"1","id":"wamid.in","type":"text","text":{"body":"hi"}}]}}]}]}"#;
        let n = parse_notification(inbound).unwrap();
        assert!(n.statuses.is_empty());
        assert_eq!(n.inbound_messages, 1);
    }

    #[test]
    fn unknown_status_is_other() {
        let body = br#"{"statuses":[{"id":"a","status":"deleted","timestamp":"1"}]}"#;
        let s = parse(body).unwrap();
        assert_eq!(s[0].status, StatusKind::Other("deleted".into()));
    }

    #[test]
    fn rejects_other_shapes() {
        assert!(matches!(parse(b"{}"), Err(ParseError::UnknownShape)));
        assert!(matches!(parse(b"[]"), Err(ParseError::Json(_))));
        assert!(matches!(parse(b"{\"object\":\"page\",\"entry\":[]}"), Err(ParseError::UnexpectedObject(_))));
        assert!(matches!(parse(b"{\"statuses\":[{\"id\":1}]}"), Err(ParseError::Json(_))));
        assert!(matches!(parse(b"\xff\xfe"), Err(ParseError::Json(_))));
    }

    #[test]
    fn counts_by_matching_contacts_to_statuses() {
        let by_phone = Status::new("a", StatusKind::Delivered, 1, "15550001");
        let mut by_bsuid = Status::new("b", StatusKind::Read, 1, "");
        by_bsuid.recipient_user_id = Some("US.2".into());
        let failed = Status::new("c", StatusKind::Failed, 1, "15550003");
        let contacts = vec![
            Contact::of_status(&identity::UserIdentity::new("US.1"), Some("15550001"), None, true),
            Contact::of_status(
                &identity::UserIdentity {
                    user_id: "US.2".into(),
                    username: Some("bo".into()),
                    ..identity::UserIdentity::new("US.1")
                },
                None,
                None,
                true,
            ),
        ];
        let inbound = [serde_json::json!({"from_user_id": "US.9"}), serde_json::json!({"from": "1555"})];
        let c = count_identities(&[by_phone, by_bsuid, failed], &contacts, &inbound);
        let want = IdentityCounts {
            statuses_with_user_id: 2,
            statuses_without_phone: 1,
            statuses_with_username: 1,
            inbound_without_phone: 1,
            user_id_updates: 0,
        };
        assert_eq!(c, want);
    }
}
