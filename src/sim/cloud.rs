//! Cloud API flavor: `POST /{version}/{phone-number-id}/messages` (sends and mark-as-read), bearer
//! token rules, per-number throughput (130429), pair rate limit (131056), recipient rules and the
//! Graph API error envelope.
//!
//! Order of checks: route, downtime (code 2), token (190 / 10), body and validation
//! (100 / 131008 / 131009), throughput (130429 / 131057), pair limit (131056): these are answered
//! at once. A message that passes them is accepted (200 + `wamid`); the recipient rules
//! (131026 undeliverable or sanctioned, 131049 marketing limit), the customer service window
//! (131047) and the messaging limit then decide whether it fails later, as a `failed` status
//! webhook. Meta's error-code table lists these as delivery failures of an accepted message
//! (<https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes>; the status
//! webhook carries them in `errors[]`,
//! <https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components#statuses-object>).
//!
//! Since 2026 a send may address a business-scoped user ID in `recipient` (Meta, "Business-scoped
//! user IDs",
//! <https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids>):
//! the simulator resolves its own BSUIDs to the user behind them, so limits, windows and failing
//! recipients apply as to the number; the success body's contact is then `{"input": <BSUID>,
//! "user_id": <BSUID>}` without `wa_id`. A BSUID this business portfolio never issued is accepted
//! and fails as undeliverable (131026) in a webhook, as a number that is not on WhatsApp does
//! (model: Meta documents no dedicated code for it).

use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::spec::graph_version::GraphVersion;

use super::config::{ConfigError, DowntimeWindow, SimConfig, TemplateCategory};
use super::content;
use super::hooks::Accepted;
use super::message::{self, Parsed, Problem};
use super::model::{KeyedLimiter, RecipientVerdict, hash_bytes, in_downtime, message_id, mix64, trace_id};
use super::pair::{PairLimiter, PairRule};
use super::{BodyError, Ctx, Outcome, Reply, State, h1::Req};

/// Cloud-specific limiters.
#[derive(Debug)]
pub struct CloudState {
    throughput: Option<KeyedLimiter>,
    /// Limiter after the throughput upgrade, and the upgrade window.
    upgraded: Option<(Option<KeyedLimiter>, DowntimeWindow)>,
    pair: Option<PairLimiter>,
    throttle_status: StatusCode,
    /// Accepted tokens read from `tokens_env` at start.
    env_tokens: Vec<String>,
    /// Messages sent so far with each template of `templates` (for pacing).
    template_sends: Vec<std::sync::atomic::AtomicU64>,
}

impl CloudState {
    /// Limiters of a validated configuration; the tokens of `tokens_env` are read now.
    pub fn new(cfg: &SimConfig) -> Result<Self, ConfigError> {
        let c = &cfg.cloud;
        let env_tokens = match &c.tokens_env {
            None => Vec::new(),
            Some(var) => cfg
                .env
                .var(var)
                .ok_or_else(|| ConfigError(format!("cloud.tokens_env: environment variable {var} is not set")))?
                .split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect(),
        };
        let mps = f64::from(c.throughput_mps);
        let pair = &c.pair_limit;
        Ok(CloudState {
            env_tokens,
            template_sends: cfg.templates.iter().map(|_| std::sync::atomic::AtomicU64::new(0)).collect(),
            throughput: (c.throughput_mps > 0).then(|| KeyedLimiter::new(mps, mps)),
            upgraded: c.upgrade.as_ref().map(|u| {
                let mps = f64::from(u.throughput_mps);
                let window = DowntimeWindow { start: u.start, duration: u.duration };
                ((u.throughput_mps > 0).then(|| KeyedLimiter::new(mps, mps)), window)
            }),
            pair: pair.enabled.then(|| PairLimiter::new(PairRule { interval: pair.interval, burst: pair.burst })),
            throttle_status: StatusCode::from_u16(c.throttle_http_status).unwrap_or(StatusCode::TOO_MANY_REQUESTS),
        })
    }
}

/// An inbound message counts toward the business number's throughput (Meta "Throughput": the per-number
/// limit covers inbound and outbound messages): it takes a token of the limiter in force.
pub(crate) fn inbound_takes_capacity(st: &State, phone: &str) {
    let cs = &st.cloud;
    let mut limiter = cs.throughput.as_ref();
    if let Some((after, window)) = &cs.upgraded
        && st.elapsed() >= window.start
    {
        limiter = after.as_ref();
    }
    if let Some(t) = limiter {
        let _ = t.try_take(hash_bytes(0x9403E, phone.as_bytes()));
    }
}

/// One Cloud API error: HTTP status, code, title (the part after `(#code)`) and details.
pub(crate) struct CloudError {
    status: StatusCode,
    code: i64,
    title: &'static str,
    details: String,
    /// `error_subcode`, where the Graph API gives one (463: the access token expired).
    subcode: Option<i64>,
}

impl CloudError {
    fn new(status: StatusCode, code: i64, title: &'static str, details: impl Into<String>) -> Self {
        CloudError { status, code, title, details: details.into(), subcode: None }
    }

    fn reply(self, ctx: Ctx) -> Reply {
        let mut body = json!({
            "error": {
                "message": format!("(#{}) {}", self.code, self.title),
                "type": "OAuthException",
                "code": self.code,
                "error_data": {"messaging_product": "whatsapp", "details": self.details},
                "fbtrace_id": trace_id(ctx.key),
            }
        });
        if let Some(s) = self.subcode {
            body["error"]["error_subcode"] = s.into();
        }
        Reply::new(self.status, body.to_string(), Outcome::Error(self.code))
    }
}

fn problem(p: Problem) -> CloudError {
    let (code, title) = match &p {
        Problem::Missing(_) => (131008, "Required parameter is missing"),
        Problem::Invalid(_) => (131009, "Parameter value is not valid"),
        Problem::Unsupported(_) | Problem::TooLong(_) => (100, "Invalid parameter"),
    };
    let details = match p {
        Problem::Missing(s) | Problem::Invalid(s) | Problem::Unsupported(s) | Problem::TooLong(s) => s,
    };
    CloudError::new(StatusCode::BAD_REQUEST, code, title, details)
}

/// Handle one request of the Cloud flavor.
pub(crate) async fn handle(st: &State, req: Req, ctx: Ctx) -> Reply {
    match handle_inner(st, req, ctx).await {
        Ok(r) => r,
        Err(e) => e.reply(ctx),
    }
}

/// Parse `/{version}/{phone-number-id}/messages`; returns the version and phone-number-id.
fn route(path: &str) -> Option<(GraphVersion, &str)> {
    let mut it = path.trim_matches('/').split('/');
    let (version, phone, leaf) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || leaf != "messages" {
        return None;
    }
    Some((GraphVersion::parse(version)?, phone))
}

fn check_token(st: &State, req: &Req) -> Result<(), CloudError> {
    let unauthorized = |details: &str| {
        CloudError::new(
            StatusCode::UNAUTHORIZED,
            190,
            "Invalid OAuth access token - Cannot parse access token",
            details,
        )
    };
    let token = super::bearer(req)
        .ok_or_else(|| unauthorized("An active access token must be used (Authorization: Bearer <token>)."))?;
    let c = &st.cfg.cloud;
    if c.tokens.iter().any(|t| t == token) || st.cloud.env_tokens.iter().any(|t| t == token) {
        return Ok(());
    }
    if c.expired_tokens.iter().any(|t| t == token) {
        // Graph API error handling: code 190, subcode 463 "access token has expired".
        let mut e = CloudError::new(
            StatusCode::UNAUTHORIZED,
            190,
            "Error validating access token: Session has expired",
            "The access token has expired.",
        );
        e.subcode = Some(463);
        return Err(e);
    }
    if c.no_permission_tokens.iter().any(|t| t == token) {
        return Err(CloudError::new(
            StatusCode::FORBIDDEN,
            10,
            "Application does not have permission for this action",
            "The access token lacks the whatsapp_business_messaging permission.",
        ));
    }
    Err(unauthorized("The access token could not be decrypted."))
}

async fn handle_inner(st: &State, req: Req, ctx: Ctx) -> Result<Reply, CloudError> {
    let (phone_key, hook_phone) = {
        let (version, phone) = addressed(st, &req)?;
        (hash_bytes(0x9403E, phone.as_bytes()), st.hooks.is_some().then(|| (phone.to_string(), Some(version.major))))
    };
    if st.down() {
        return Err(CloudError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            2,
            "Service temporarily unavailable",
            "The API service is temporarily unavailable (planned update). Retry after a wait.",
        ));
    }
    check_token(st, &req)?;
    let media = media_type(req.content_type());
    let body = body_of(st, req)?;
    let obj = read_params(st, media.as_deref(), &body)?;
    let parsed = message::validate(&obj, st.cfg.flavor).map_err(problem)?;
    if matches!(&parsed, Parsed::Send(m) if m.by_bsuid) && !st.identities.enabled() {
        return Err(problem(Problem::Unsupported(
            "The parameter recipient is not supported: business-scoped user IDs are off (simulator.identity.bsuid = false)."
                .into(),
        )));
    }
    let content = content_of(st, &obj, &parsed, &ctx)?;
    within_throughput(st, phone_key)?;
    let msg = match parsed {
        Parsed::MarkRead => {
            return Ok(Reply::new(StatusCode::OK, &br#"{"success":true}"#[..], Outcome::Ok));
        }
        Parsed::Send(m) => m,
    };
    accept(st, msg, ctx, phone_key, hook_phone, content)
}

/// The route of a request: `POST /{version}/{phone-number-id}/messages`, a version the simulator
/// serves and a phone number id it knows; the version and the phone number id, or the Graph API's error.
fn addressed<'r>(st: &State, req: &'r Req) -> Result<(GraphVersion, &'r str), CloudError> {
    let Some((version, phone)) = route(req.path()) else {
        return Err(CloudError::new(
            StatusCode::NOT_FOUND,
            100,
            "Unknown path components",
            format!("No endpoint at {}", req.path()),
        ));
    };
    if req.method() != Method::POST {
        return Err(CloudError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            100,
            "Unsupported request method",
            "The messages endpoint accepts POST only.",
        ));
    }
    let versions = &st.cfg.cloud.api_versions;
    if !versions.is_empty() && !versions.iter().any(|v| GraphVersion::parse(v) == Some(version)) {
        return Err(CloudError::new(
            StatusCode::BAD_REQUEST,
            100,
            "Unsupported API version",
            format!("API version {version} is not available; use one of {versions:?}."),
        ));
    }
    let ids = &st.cfg.cloud.phone_number_ids;
    let known =
        if ids.is_empty() { crate::spec::numbers::is_phone_number_id(phone) } else { ids.iter().any(|i| i == phone) };
    if !known {
        return Err(CloudError::new(
            StatusCode::BAD_REQUEST,
            100,
            "Unsupported post request",
            format!(
                "Object with ID '{phone}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
            ),
        ));
    }
    Ok((version, phone))
}

/// The request's body, within the simulator's limit.
fn body_of(st: &State, req: Req) -> Result<bytes::Bytes, CloudError> {
    req.into_body().map_err(|e| match e {
        BodyError::TooLarge => CloudError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            100,
            "Invalid parameter",
            format!("Request body exceeds {} bytes.", st.cfg.max_body_bytes),
        ),
        BodyError::Malformed => {
            CloudError::new(StatusCode::BAD_REQUEST, 100, "Invalid parameter", "The request body could not be read.")
        }
    })
}

/// The media type of a `Content-Type` field: before any `;` parameter, trimmed, lower case.
fn media_type(content_type: Option<&str>) -> Option<String> {
    content_type.map(|c| c.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
}

/// The parameters of a send, read as the Graph API reads a request body: JSON (`application/json`),
/// or a form (`application/x-www-form-urlencoded`), whose fields are the parameters and whose object
/// values are JSON text (`text={"body":"hi"}`) — a form body that is one JSON object (curl's `-d
/// '{…}'` without a Content-Type) reads as that object. The Graph API reads parameters from no other
/// body: a send with another Content-Type has none, and is answered as one without
/// `messaging_product` (code 131008). No Meta page states this refusal; it is the simulator's reading,
/// and `[simulator.cloud] any_content_type = true` reads every body as JSON instead.
fn read_params(st: &State, media: Option<&str>, body: &[u8]) -> Result<serde_json::Map<String, Value>, CloudError> {
    match media {
        _ if st.cfg.cloud.any_content_type => message::parse_json(body).map_err(problem),
        Some("application/json") => message::parse_json(body).map_err(problem),
        Some("application/x-www-form-urlencoded") => match message::parse_json(body) {
            Ok(obj) => Ok(obj),
            Err(_) => Ok(form_params(body)),
        },
        other => Err(problem(message::Problem::Missing(format!(
            "The parameter messaging_product is required. (The body was not read: its Content-Type is {}; send application/json.)",
            other.map_or_else(|| "missing".to_string(), |m| format!("{m:?}"))
        )))),
    }
}

/// A form body's fields as parameters; a value that is JSON text of an object or array is that value.
fn form_params(body: &[u8]) -> serde_json::Map<String, Value> {
    form_urlencoded::parse(body)
        .map(|(k, v)| {
            let value = match serde_json::from_str::<Value>(&v) {
                Ok(j @ (Value::Object(_) | Value::Array(_))) => j,
                _ => Value::String(v.into_owned()),
            };
            (k.into_owned(), value)
        })
        .collect()
}

/// What the content rules decide about a valid request: the business's templates (132001 / 132015 /
/// 132016 / 132000 / 132012 / 131062), answered at send like the other request checks; a media link
/// that will not download fails later (131053).
fn content_of(
    st: &State,
    obj: &serde_json::Map<String, Value>,
    parsed: &Parsed,
    ctx: &Ctx,
) -> Result<Content, CloudError> {
    Ok(match parsed {
        Parsed::Send(m) => Content {
            category: match m.is_template() {
                true => {
                    content::check_template(&st.cfg.templates, obj.get("template").unwrap_or(&Value::Null), m.by_bsuid)
                        .map_err(|e| CloudError::new(e.status, e.code, e.title, e.details))?
                }
                false => None,
            },
            link_fails: content::link_fails(&st.cfg.media, st.cfg.seed, ctx.seq, obj, m.kind),
            held: if m.is_template() { held(st, obj.get("template").unwrap_or(&Value::Null), ctx) } else { None },
        },
        Parsed::MarkRead => Content { category: None, link_fails: false, held: None },
    })
}

/// Whether a message of a paced template is held (Meta, "Template pacing": sent normally until a
/// threshold, then held for the quality signal; dropped on a bad one): the hold, and whether the
/// seeded draw drops it.
fn held(st: &State, template: &Value, ctx: &Ctx) -> Option<(std::time::Duration, bool)> {
    let name = template.get("name").and_then(Value::as_str)?;
    let lang = template.pointer("/language/code").and_then(Value::as_str)?;
    let i = st.cfg.templates.iter().position(|t| t.name == name && t.language == lang)?;
    let pacing = st.cfg.templates[i].pacing.as_ref()?;
    let sent = st.cloud.template_sends[i].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if sent < pacing.after {
        return None;
    }
    let u = (mix64(st.cfg.seed ^ 0x9ACE ^ mix64(ctx.seq)) >> 11) as f64 / (1u64 << 53) as f64;
    Some((pacing.hold, u < pacing.dropped))
}

/// The phone number's message throughput (130429), and the upgrade's maintenance window (131057)
/// after which the upgraded limit applies.
fn within_throughput(st: &State, phone_key: u64) -> Result<(), CloudError> {
    let cs = &st.cloud;
    let mut limiter = cs.throughput.as_ref();
    let mut limit_mps = st.cfg.cloud.throughput_mps;
    if let Some((after, window)) = &cs.upgraded {
        let elapsed = st.elapsed();
        if in_downtime(std::slice::from_ref(window), elapsed) {
            return Err(CloudError::new(
                cs.throttle_status,
                131057,
                "Account in maintenance mode",
                "The business account is undergoing a throughput upgrade; retry in a minute.",
            ));
        }
        if elapsed >= window.start {
            limiter = after.as_ref();
            limit_mps = st.cfg.cloud.upgrade.as_ref().map_or(limit_mps, |u| u.throughput_mps);
        }
    }
    if let Some(t) = limiter
        && !t.try_take(phone_key)
    {
        return Err(CloudError::new(
            cs.throttle_status,
            130429,
            "Rate limit hit",
            format!(
                "Cloud API message throughput ({limit_mps} messages per second) has been reached for this phone number."
            ),
        ));
    }
    Ok(())
}

/// What the content rules decided about an accepted send.
struct Content {
    /// The category of a template the simulator knows (`None`: not a template, or none known).
    category: Option<TemplateCategory>,
    /// Its media link will not download: 131053 later.
    link_fails: bool,
    /// A paced template's message held for the quality signal: how long, and whether it is dropped
    /// (132015) when the hold ends.
    held: Option<(std::time::Duration, bool)>,
}

/// A valid send within the throughput limit: the pair limit (131056), then accepted, with the code
/// it will fail with later if any.
fn accept(
    st: &State,
    msg: message::Outgoing,
    ctx: Ctx,
    phone_key: u64,
    hook_phone: Option<(String, Option<u16>)>,
    content: Content,
) -> Result<Reply, CloudError> {
    let cs = &st.cloud;
    // The number behind a BSUID; a BSUID this portfolio never issued stays itself (it fails later).
    let resolved = if msg.by_bsuid { st.identities.resolve(&msg.to) } else { None };
    let known = !msg.by_bsuid || resolved.is_some();
    let digits: &str = resolved.as_deref().unwrap_or(&msg.digits);
    if let Some(p) = &cs.pair
        && !p.admit(hash_bytes(phone_key, digits.as_bytes()), st.elapsed())
    {
        return Err(CloudError::new(
            cs.throttle_status,
            131056,
            "(Business Account, Consumer Account) pair rate limit hit",
            "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.",
        ));
    }
    let template = msg.is_template();
    // The per-user marketing limit (131049) is about marketing templates: a known utility or
    // authentication template is not subject to it.
    let marketing = template && content.category.is_none_or(|c| c == TemplateCategory::Marketing);
    let verdict = match known.then(|| st.recipients.verdict(digits, marketing)) {
        None => Some(131026),
        Some(RecipientVerdict::Ok) => None,
        Some(RecipientVerdict::Sanctioned(_) | RecipientVerdict::Undeliverable(_)) => Some(131026),
        Some(RecipientVerdict::MarketingLimit) => Some(131049),
        // Both arrive in a `failed` status webhook (Meta's error codes).
        Some(RecipientVerdict::Experiment) => Some(130472),
        Some(RecipientVerdict::StoppedMarketing) => Some(131050),
    };
    // A message that reaches the user's device then needs its media: a link Meta cannot download
    // fails with 131053 (Meta's error codes; see `spec::sim::content`).
    let failure = st
        .failure_after_accept(verdict, digits, template, 131047)
        .or(content.link_fails.then_some(131053))
        .or(content.held.and_then(|(_, dropped)| dropped.then_some(132015)));
    // Meta's ids encode the recipient: for a message sent to a BSUID, the BSUID (not the number).
    let id = message_id(st.cfg.seed, ctx.seq, if msg.by_bsuid { &msg.to } else { digits });
    let outcome = failure.map_or(Outcome::Accepted, Outcome::AcceptedFailing);
    let wa_id = (!msg.by_bsuid).then_some(digits);
    let status = if content.held.is_some() { "held_for_quality_assessment" } else { "accepted" };
    let mut reply = Reply::new(StatusCode::OK, success_body(&msg.to, wa_id, &id, status), outcome);
    if let Some((phone_number_id, api_version)) = hook_phone {
        let mut a = Accepted::to_phone(id, digits.to_string(), phone_number_id, template, failure);
        a.held = content.held.map(|(hold, _)| hold);
        a.api_version = api_version;
        a.category = if template { content.category.unwrap_or_default().name() } else { "service" };
        a.in_window = known && st.conversations.windows.is_open(digits, st.elapsed());
        // Group statuses name the group, not a user.
        a.user = if known && !msg.group { st.identities.of(digits) } else { None };
        a.recipient_user_id = msg.by_bsuid.then(|| msg.to.clone());
        reply.accepted = Some(a);
    }
    Ok(reply)
}

/// `{"messaging_product":"whatsapp","contacts":[...],"messages":[...]}`. The contact has the
/// `wa_id` of a message sent to a number (or group), and the `user_id` (the BSUID as given) of one
/// sent to a BSUID (Meta, "Business-scoped user IDs").
fn success_body(to: &str, wa_id: Option<&str>, id: &str, message_status: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(160 + 2 * to.len() + id.len());
    out.extend_from_slice(br#"{"messaging_product":"whatsapp","contacts":[{"input":"#);
    // `to` was validated as a phone number, group id or BSUID; serialize it escaped all the same.
    let _ = serde_json::to_writer(&mut out, to);
    match wa_id {
        Some(digits) => {
            out.extend_from_slice(br#","wa_id":"#);
            let _ = serde_json::to_writer(&mut out, digits);
        }
        None => {
            out.extend_from_slice(br#","user_id":"#);
            let _ = serde_json::to_writer(&mut out, to);
        }
    }
    out.extend_from_slice(br#"}],"messages":[{"id":"#);
    let _ = serde_json::to_writer(&mut out, id);
    out.extend_from_slice(br#","message_status":"#);
    let _ = serde_json::to_writer(&mut out, message_status);
    out.extend_from_slice(b"}]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let v = |major, minor| GraphVersion { major, minor };
        assert_eq!(route("/v23.0/123/messages"), Some((v(23, 0), "123")));
        assert_eq!(route("/v9.1/abc/messages"), Some((v(9, 1), "abc")));
        assert_eq!(route("/23.0/123/messages"), None);
        assert_eq!(route("/v23/123/messages"), None);
        assert_eq!(route("/v23.0.1/123/messages"), None);
        assert_eq!(route("/v023.0/123/messages"), None);
        assert_eq!(route("/v23.0/123/media"), None);
        assert_eq!(route("/v23.0/123/messages/x"), None);
    }

    #[test]
    fn success_body_is_valid_json_with_spec_fields() {
        let id = message_id(1, 7, "15551234567");
        let v: serde_json::Value =
            serde_json::from_slice(&success_body("+1 555 123 4567", Some("15551234567"), &id, "accepted")).unwrap();
        assert_eq!(v["messaging_product"], "whatsapp");
        assert_eq!(v["contacts"][0]["input"], "+1 555 123 4567");
        assert_eq!(v["contacts"][0]["wa_id"], "15551234567");
        assert!(v["contacts"][0].get("user_id").is_none());
        let b = "US.13491208655302741918";
        let v: serde_json::Value = serde_json::from_slice(&success_body(b, None, &id, "accepted")).unwrap();
        assert_eq!(v["contacts"][0], serde_json::json!({"input": b, "user_id": b}));
        assert_eq!(v["messages"][0]["message_status"], "accepted");
        assert!(v["messages"][0]["id"].as_str().unwrap().starts_with("wamid."));
    }

    #[test]
    fn message_ids_are_unique() {
        let ids: std::collections::HashSet<_> = (0..10_000).map(|i| message_id(1, i, "15551234567")).collect();
        assert_eq!(ids.len(), 10_000);
    }
}
