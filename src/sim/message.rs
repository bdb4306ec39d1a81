//! Validation of outgoing message bodies, shared by the Cloud and On-Premises flavors: required
//! fields, JSON types and limits of each message type, as Meta's API reference states them.

use serde_json::{Map, Value};

use super::config::Flavor;
use super::model::phone_digits;
use crate::spec::recipients::is_bsuid;

/// Longest text body (characters).
pub const MAX_TEXT: usize = 4096;
/// Longest media caption (characters).
pub const MAX_CAPTION: usize = 1024;

/// What is wrong with a request body. Each flavor maps it to its own error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A required parameter is absent (Cloud 131008, on-prem 1008).
    Missing(String),
    /// A parameter has the wrong JSON type or an unacceptable value (Cloud 131009, on-prem 1009).
    Invalid(String),
    /// The request itself is malformed or uses an unsupported option (Cloud 100, on-prem 1009).
    Unsupported(String),
    /// A text exceeds its length limit (Cloud 100, on-prem 1001).
    TooLong(String),
}

impl Problem {
    /// The details text.
    pub fn details(&self) -> &str {
        match self {
            Problem::Missing(s) | Problem::Invalid(s) | Problem::Unsupported(s) | Problem::TooLong(s) => s,
        }
    }
}

pub(super) type Check<T> = Result<T, Problem>;

/// A message to send, as validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// `to` exactly as given, or the business-scoped user ID of `recipient`.
    pub to: String,
    /// Digits of `to` (the WhatsApp id of an individual), the group id, or the BSUID as given.
    pub digits: String,
    /// The message type (`text`, `template`, ...).
    pub kind: &'static str,
    /// Addressed to a business-scoped user ID (`recipient`, Cloud, 2026) rather than a number.
    pub by_bsuid: bool,
    /// Addressed to a group (`recipient_type = "group"`).
    pub group: bool,
}

impl Outgoing {
    /// True for template messages (exempt from re-engagement, subject to marketing limits).
    pub fn is_template(&self) -> bool {
        self.kind == "template"
    }
}

/// A validated request to the messages endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Send a message.
    Send(Outgoing),
    /// Mark an incoming message as read (Cloud).
    MarkRead,
}

const KINDS: &[&str] = &[
    "text",
    "template",
    "image",
    "document",
    "audio",
    "video",
    "sticker",
    "interactive",
    "reaction",
    "location",
    "contacts",
];

const INTERACTIVE_KINDS: &[&str] = &[
    "button",
    "list",
    "product",
    "product_list",
    "catalog_message",
    "flow",
    "cta_url",
    "location_request_message",
    "call_permission_request",
    "address_message",
    "order_details",
    "order_status",
];

/// Parse a body that must be a JSON object.
pub fn parse_json(body: &[u8]) -> Check<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Problem::Unsupported("Request body must be a JSON object".into())),
        Err(e) => Err(Problem::Unsupported(format!("Request body is not valid JSON: {e}"))),
    }
}

/// Validate a messages-endpoint body for `flavor`.
pub fn validate(obj: &Map<String, Value>, flavor: Flavor) -> Check<Parsed> {
    if flavor == Flavor::Cloud {
        match obj.get("messaging_product") {
            None | Some(Value::Null) => return Err(missing("messaging_product")),
            Some(Value::String(s)) if s == "whatsapp" => {}
            Some(_) => {
                return Err(Problem::Invalid("The parameter messaging_product must be \"whatsapp\"".into()));
            }
        }
        if let Some(status) = obj.get("status") {
            return mark_read(obj, status);
        }
    }
    let group = match obj.get("recipient_type") {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) if s == "individual" => false,
        Some(Value::String(s)) if s == "group" && flavor == Flavor::Cloud => true,
        Some(_) => {
            return Err(invalid("recipient_type", "must be \"individual\" or \"group\""));
        }
    };
    let (to, by_bsuid) = addressee(obj, flavor, group)?;
    let digits = if by_bsuid {
        to.to_string()
    } else if group {
        // A group id is an opaque token of letters, digits and `-_.=` (base64-like): anything else —
        // control characters, quotes, spaces — is refused, so it can never break a JSON answer.
        let id_char = |c: char| c.is_ascii_alphanumeric() || "-_.=".contains(c);
        if to.is_empty() || to.len() > 256 || !to.chars().all(id_char) {
            return Err(invalid("to", "must be a group id (letters, digits and -_.=)"));
        }
        to.to_string()
    } else {
        phone_digits(to).ok_or_else(|| match is_bsuid(to.trim()) {
            true => invalid("to", "is not a valid phone number (a business-scoped user ID goes in `recipient`)"),
            false => invalid("to", "is not a valid phone number"),
        })?
    };
    let kind = match obj.get("type") {
        // Without `type` the message is text, unless the body carries exactly one other content
        // object, whose type is then taken.
        None | Some(Value::Null) => {
            let mut present = KINDS.iter().filter(|k| obj.contains_key(**k));
            match (present.next(), present.next()) {
                (Some(k), None) => k,
                _ => "text",
            }
        }
        Some(Value::String(s)) => match KINDS.iter().find(|k| **k == s.as_str()) {
            Some(k) => k,
            None => {
                return Err(Problem::Unsupported(format!("Unsupported message type: {s}")));
            }
        },
        Some(_) => return Err(invalid("type", "must be a string")),
    };
    let content = match obj.get(kind) {
        None | Some(Value::Null) => return Err(missing(kind)),
        Some(v) => v,
    };
    match kind {
        "text" => text(content)?,
        "template" => template(content, flavor)?,
        "image" | "document" | "audio" | "video" | "sticker" => media(kind, content)?,
        "interactive" => interactive(content)?,
        "reaction" => reaction(content)?,
        "location" => location(content)?,
        _ => contacts(content)?,
    }
    Ok(Parsed::Send(Outgoing { to: to.to_string(), digits, kind, by_bsuid, group }))
}

/// Who a message goes to: `to` (a phone number, or a group id), or on Cloud since 2026 a
/// business-scoped user ID in `recipient`; when both are given `to` takes precedence (Meta,
/// "Business-scoped user IDs",
/// <https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids>).
/// True in the second place when it is the BSUID.
pub(super) fn addressee(obj: &Map<String, Value>, flavor: Flavor, group: bool) -> Check<(&str, bool)> {
    let to = match obj.get("to") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err(invalid("to", "must be a string")),
    };
    let recipient = match obj.get("recipient") {
        Some(Value::String(s)) if flavor == Flavor::Cloud && !group => Some(s.as_str()),
        None | Some(Value::Null) => None,
        Some(_) if flavor == Flavor::Cloud && !group => return Err(invalid("recipient", "must be a string")),
        Some(_) => None,
    };
    match (to, recipient) {
        (Some(t), _) => Ok((t, false)),
        (None, Some(r)) if is_bsuid(r) => Ok((r, true)),
        (None, Some(_)) => Err(invalid(
            "recipient",
            "is not a business-scoped user ID (two capital letters, a dot, letters or digits)",
        )),
        (None, None) => Err(missing("to")),
    }
}

pub(super) fn missing(name: &str) -> Problem {
    Problem::Missing(format!("The parameter {name} is required."))
}

pub(super) fn invalid(name: &str, what: &str) -> Problem {
    Problem::Invalid(format!("The parameter {name} {what}."))
}

fn object<'a>(v: &'a Value, name: &str) -> Check<&'a Map<String, Value>> {
    v.as_object().ok_or_else(|| invalid(name, "must be an object"))
}

/// A required string field of `obj`.
fn req_str<'a>(obj: &'a Map<String, Value>, field: &str, path: &str) -> Check<&'a str> {
    match obj.get(field) {
        None | Some(Value::Null) => Err(missing(&format!("{path}.{field}"))),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(invalid(&format!("{path}.{field}"), "must be a string")),
    }
}

/// An optional string field of `obj`.
fn opt_str<'a>(obj: &'a Map<String, Value>, field: &str, path: &str) -> Check<Option<&'a str>> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(&format!("{path}.{field}"), "must be a string")),
    }
}

fn max_len(s: &str, max: usize, path: &str) -> Check<()> {
    if s.len() > max && s.chars().count() > max {
        return Err(Problem::TooLong(format!("Param {path} must be at most {max} characters long.")));
    }
    Ok(())
}

fn non_empty(s: &str, path: &str) -> Check<()> {
    if s.trim().is_empty() {
        return Err(invalid(path, "must not be empty"));
    }
    Ok(())
}

fn mark_read(obj: &Map<String, Value>, status: &Value) -> Check<Parsed> {
    match status {
        Value::String(s) if s == "read" => {}
        _ => return Err(invalid("status", "must be \"read\"")),
    }
    let id = req_str(obj, "message_id", "message")?;
    non_empty(id, "message_id")?;
    Ok(Parsed::MarkRead)
}

fn text(v: &Value) -> Check<()> {
    let t = object(v, "text")?;
    let body = req_str(t, "body", "text")?;
    non_empty(body, "text.body")?;
    max_len(body, MAX_TEXT, "text['body']")?;
    match t.get("preview_url") {
        None | Some(Value::Null) | Some(Value::Bool(_)) => Ok(()),
        Some(_) => Err(invalid("text.preview_url", "must be a boolean")),
    }
}

fn media(kind: &str, v: &Value) -> Check<()> {
    let m = object(v, kind)?;
    let id = opt_str(m, "id", kind)?;
    let link = opt_str(m, "link", kind)?;
    match (id, link) {
        (None, None) => return Err(missing(&format!("{kind}.id or {kind}.link"))),
        (Some(_), Some(_)) => {
            return Err(Problem::Unsupported(format!("Only one of {kind}.id and {kind}.link may be given.")));
        }
        (Some(id), None) => non_empty(id, &format!("{kind}.id"))?,
        (None, Some(link)) => {
            if !(link.starts_with("https://") || link.starts_with("http://")) {
                return Err(invalid(&format!("{kind}.link"), "must be an http(s) URL"));
            }
        }
    }
    if let Some(caption) = opt_str(m, "caption", kind)? {
        max_len(caption, MAX_CAPTION, &format!("{kind}['caption']"))?;
    }
    opt_str(m, "filename", kind)?;
    Ok(())
}

fn template(v: &Value, flavor: Flavor) -> Check<()> {
    let t = object(v, "template")?;
    if flavor == Flavor::OnPrem {
        non_empty(req_str(t, "namespace", "template")?, "template.namespace")?;
    }
    non_empty(req_str(t, "name", "template")?, "template.name")?;
    let lang = match t.get("language") {
        None | Some(Value::Null) => return Err(missing("template.language")),
        Some(l) => object(l, "template.language")?,
    };
    non_empty(req_str(lang, "code", "template.language")?, "template.language.code")?;
    let policy = if flavor == Flavor::OnPrem {
        Some(req_str(lang, "policy", "template.language")?)
    } else {
        opt_str(lang, "policy", "template.language")?
    };
    if let Some(p) = policy
        && p != "deterministic"
        && p != "fallback"
    {
        return Err(invalid("template.language.policy", "must be \"deterministic\" or \"fallback\""));
    }
    let comps = match t.get("components") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(invalid("template.components", "must be an array")),
    };
    for c in comps {
        let c = object(c, "template.components[]")?;
        non_empty(req_str(c, "type", "template.components[]")?, "template.components[].type")?;
        let params = match c.get("parameters") {
            None | Some(Value::Null) => continue,
            Some(Value::Array(a)) => a,
            Some(_) => {
                return Err(invalid("template.components[].parameters", "must be an array"));
            }
        };
        for p in params {
            let p = object(p, "parameters[]")?;
            let ty = req_str(p, "type", "parameters[]")?;
            match ty {
                // Quick-reply buttons in Meta's own samples carry booleans here: any scalar goes.
                "text" => match p.get("text") {
                    None | Some(Value::Null) => return Err(missing("parameters[].text")),
                    Some(Value::String(_) | Value::Bool(_) | Value::Number(_)) => {}
                    Some(_) => return Err(invalid("parameters[].text", "must be a string")),
                },
                "payload" => {
                    req_str(p, "payload", "parameters[]")?;
                }
                "image" | "document" | "video" => {
                    media(ty, p.get(ty).unwrap_or(&Value::Null)).map_err(|e| match e {
                        Problem::Invalid(s) if p.get(ty).is_none() => Problem::Missing(s),
                        e => e,
                    })?
                }
                "currency"
                | "date_time"
                | "action"
                | "location"
                | "coupon_code"
                | "limited_time_offer"
                | "tap_target_configuration"
                | "product" => {
                    if p.get(ty).is_none() && ty != "coupon_code" {
                        return Err(missing(&format!("parameters[].{ty}")));
                    }
                }
                other => {
                    return Err(Problem::Invalid(format!("Unsupported template parameter type: {other}")));
                }
            }
        }
    }
    Ok(())
}

fn interactive(v: &Value) -> Check<()> {
    let i = object(v, "interactive")?;
    let ty = req_str(i, "type", "interactive")?;
    if !INTERACTIVE_KINDS.contains(&ty) {
        return Err(Problem::Unsupported(format!("Unsupported interactive type: {ty}")));
    }
    if let Some(h) = i.get("header").filter(|h| !h.is_null()) {
        let h = object(h, "interactive.header")?;
        if req_str(h, "type", "interactive.header")? == "text" {
            max_len(req_str(h, "text", "interactive.header")?, 60, "interactive.header.text")?;
        }
    }
    let body_text = match i.get("body").filter(|b| !b.is_null()) {
        None => None,
        Some(b) => Some(req_str(object(b, "interactive.body")?, "text", "interactive.body")?),
    };
    let action = match i.get("action") {
        None | Some(Value::Null) => return Err(missing("interactive.action")),
        Some(a) => object(a, "interactive.action")?,
    };
    match ty {
        "button" => {
            let body = body_text.ok_or_else(|| missing("interactive.body"))?;
            non_empty(body, "interactive.body.text")?;
            max_len(body, 1024, "interactive.body.text")?;
            let buttons = match action.get("buttons") {
                None | Some(Value::Null) => return Err(missing("interactive.action.buttons")),
                Some(Value::Array(a)) if (1..=3).contains(&a.len()) => a,
                Some(_) => {
                    return Err(invalid("interactive.action.buttons", "must hold 1 to 3 buttons"));
                }
            };
            for b in buttons {
                let b = object(b, "buttons[]")?;
                if req_str(b, "type", "buttons[]")? != "reply" {
                    return Err(invalid("buttons[].type", "must be \"reply\""));
                }
                let r = match b.get("reply") {
                    None | Some(Value::Null) => return Err(missing("buttons[].reply")),
                    Some(r) => object(r, "buttons[].reply")?,
                };
                non_empty(req_str(r, "id", "buttons[].reply")?, "buttons[].reply.id")?;
                let title = req_str(r, "title", "buttons[].reply")?;
                non_empty(title, "buttons[].reply.title")?;
                max_len(title, 20, "buttons[].reply.title")?;
            }
        }
        "list" => {
            let body = body_text.ok_or_else(|| missing("interactive.body"))?;
            non_empty(body, "interactive.body.text")?;
            max_len(body, MAX_TEXT, "interactive.body.text")?;
            let button = req_str(action, "button", "interactive.action")?;
            non_empty(button, "interactive.action.button")?;
            max_len(button, 20, "interactive.action.button")?;
            let sections = match action.get("sections") {
                None | Some(Value::Null) => return Err(missing("interactive.action.sections")),
                Some(Value::Array(a)) if (1..=10).contains(&a.len()) => a,
                Some(_) => {
                    return Err(invalid("interactive.action.sections", "must hold 1 to 10 sections"));
                }
            };
            let mut rows_total = 0;
            for s in sections {
                let s = object(s, "sections[]")?;
                let rows = match s.get("rows") {
                    None | Some(Value::Null) => return Err(missing("sections[].rows")),
                    Some(Value::Array(a)) => a,
                    Some(_) => return Err(invalid("sections[].rows", "must be an array")),
                };
                for r in rows {
                    let r = object(r, "rows[]")?;
                    non_empty(req_str(r, "id", "rows[]")?, "rows[].id")?;
                    let title = req_str(r, "title", "rows[]")?;
                    non_empty(title, "rows[].title")?;
                    max_len(title, 24, "rows[].title")?;
                    rows_total += 1;
                }
            }
            if !(1..=10).contains(&rows_total) {
                return Err(invalid("interactive.action.sections", "must hold 1 to 10 rows in all"));
            }
        }
        _ => {}
    }
    Ok(())
}

fn reaction(v: &Value) -> Check<()> {
    let r = object(v, "reaction")?;
    non_empty(req_str(r, "message_id", "reaction")?, "reaction.message_id")?;
    // An empty emoji removes a reaction, so only its presence and type are checked.
    req_str(r, "emoji", "reaction")?;
    Ok(())
}

fn location(v: &Value) -> Check<()> {
    let l = object(v, "location")?;
    for f in ["latitude", "longitude"] {
        match l.get(f) {
            None | Some(Value::Null) => return Err(missing(&format!("location.{f}"))),
            Some(Value::Number(_)) => {}
            Some(Value::String(s)) if s.trim().parse::<f64>().is_ok() => {}
            Some(_) => return Err(invalid(&format!("location.{f}"), "must be a number")),
        }
    }
    Ok(())
}

fn contacts(v: &Value) -> Check<()> {
    let list = match v {
        Value::Array(a) if !a.is_empty() => a,
        _ => return Err(invalid("contacts", "must be a non-empty array")),
    };
    for c in list {
        let c = object(c, "contacts[]")?;
        let name = match c.get("name") {
            None | Some(Value::Null) => return Err(missing("contacts[].name")),
            Some(n) => object(n, "contacts[].name")?,
        };
        non_empty(req_str(name, "formatted_name", "contacts[].name")?, "contacts[].name.formatted_name")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(v: Value, flavor: Flavor) -> Check<Parsed> {
        match v {
            Value::Object(m) => validate(&m, flavor),
            _ => unreachable!("test bodies are objects"),
        }
    }

    fn cloud(v: Value) -> Check<Parsed> {
        check(v, Flavor::Cloud)
    }

    #[test]
    fn accepts_text_and_defaults_type() {
        let p = cloud(json!({"messaging_product":"whatsapp","to":"+1 650 555 1234","text":{"body":"hi"}})).unwrap();
        assert_eq!(
            p,
            Parsed::Send(Outgoing {
                to: "+1 650 555 1234".into(),
                digits: "16505551234".into(),
                kind: "text",
                by_bsuid: false,
                group: false
            })
        );
    }

    #[test]
    fn a_bsuid_goes_in_recipient_and_to_wins() {
        let b = "US.13491208655302741918";
        let p = cloud(json!({"messaging_product":"whatsapp","recipient":b,"text":{"body":"hi"}})).unwrap();
        let want = Outgoing { to: b.into(), digits: b.into(), kind: "text", by_bsuid: true, group: false };
        assert_eq!(p, Parsed::Send(want));
        let both = cloud(json!({"messaging_product":"whatsapp","to":"15551234567","recipient":b,"text":{"body":"x"}}));
        assert!(matches!(both, Ok(Parsed::Send(Outgoing { by_bsuid: false, .. }))), "{both:?}");
        let in_to = cloud(json!({"messaging_product":"whatsapp","to":b,"text":{"body":"x"}})).unwrap_err();
        assert!(in_to.details().contains("goes in `recipient`"), "{in_to:?}");
        for bad in [json!("US-1"), json!(""), json!(5)] {
            let e = cloud(json!({"messaging_product":"whatsapp","recipient":bad,"text":{"body":"x"}})).unwrap_err();
            assert!(matches!(e, Problem::Invalid(ref d) if d.contains("recipient")), "{e:?}");
        }
        let onprem = check(json!({"recipient":b,"type":"text","text":{"body":"x"}}), Flavor::OnPrem);
        assert!(matches!(onprem, Err(Problem::Missing(_))), "on-prem has no BSUIDs: {onprem:?}");
    }

    #[test]
    fn classifies_problems() {
        let base = |extra: Value| {
            let mut m = json!({"messaging_product":"whatsapp","to":"15551234567","type":"text"});
            for (k, v) in extra.as_object().unwrap() {
                m[k] = v.clone();
            }
            cloud(m)
        };
        assert!(matches!(base(json!({})), Err(Problem::Missing(_))));
        assert!(matches!(base(json!({"text":{"body":5}})), Err(Problem::Invalid(_))));
        assert!(matches!(base(json!({"text":{"body":""}})), Err(Problem::Invalid(_))));
        let long = "x".repeat(MAX_TEXT + 1);
        assert!(matches!(base(json!({"text":{"body":long}})), Err(Problem::TooLong(_))));
        assert!(matches!(base(json!({"type":"fax","fax":{}})), Err(Problem::Unsupported(_))));
        assert!(matches!(cloud(json!({"to":"1","text":{"body":"x"}})), Err(Problem::Missing(_))));
        assert!(matches!(
            cloud(json!({"messaging_product":"sms","to":"1","text":{"body":"x"}})),
            Err(Problem::Invalid(_))
        ));
        assert!(matches!(parse_json(b"{nope"), Err(Problem::Unsupported(_))));
        assert!(matches!(parse_json(b"[1]"), Err(Problem::Unsupported(_))));
    }

    #[test]
    fn validates_media_interactive_template() {
        let msg = |ty: &str, content: Value| {
            let mut m = json!({"messaging_product":"whatsapp","to":"15551234567","type":ty});
            m[ty] = content;
            cloud(m)
        };
        assert!(msg("image", json!({"link":"https://x/y.png"})).is_ok());
        assert!(msg("document", json!({"id":"123","filename":"a.pdf"})).is_ok());
        assert!(msg("image", json!({})).is_err());
        assert!(msg("image", json!({"id":"1","link":"https://x"})).is_err());
        assert!(msg("image", json!({"link":"ftp://x"})).is_err());
        let buttons = json!({"type":"button","body":{"text":"Pick"},"action":{"buttons":[
            {"type":"reply","reply":{"id":"a","title":"A"}}]}});
        assert!(msg("interactive", buttons).is_ok());
        let four = json!({"type":"button","body":{"text":"Pick"},"action":{"buttons":[
            {"type":"reply","reply":{"id":"a","title":"A"}},{"type":"reply","reply":{"id":"b","title":"B"}},
            {"type":"reply","reply":{"id":"c","title":"C"}},{"type":"reply","reply":{"id":"d","title":"D"}}]}});
        assert!(msg("interactive", four).is_err());
        let list = json!({"type":"list","body":{"text":"Menu"},"action":{"button":"Open",
            "sections":[{"title":"S","rows":[{"id":"r1","title":"Row"}]}]}});
        assert!(msg("interactive", list).is_ok());
        let tpl = json!({"name":"hello_world","language":{"code":"en_US"},
            "components":[{"type":"body","parameters":[{"type":"text","text":"Ann"}]}]});
        assert!(msg("template", tpl.clone()).is_ok());
        assert!(matches!(
            check(json!({"to":"15551234567","type":"template","template":tpl}), Flavor::OnPrem),
            Err(Problem::Missing(_))
        ));
        assert!(msg("reaction", json!({"message_id":"wamid.x","emoji":"👍"})).is_ok());
        assert!(msg("location", json!({"latitude":1.5,"longitude":2})).is_ok());
        assert!(msg("contacts", json!([{"name":{"formatted_name":"Ann"}}])).is_ok());
    }

    #[test]
    fn mark_read() {
        assert_eq!(
            cloud(json!({"messaging_product":"whatsapp","status":"read","message_id":"wamid.1"})),
            Ok(Parsed::MarkRead)
        );
        assert!(cloud(json!({"messaging_product":"whatsapp","status":"read"})).is_err());
    }
}
