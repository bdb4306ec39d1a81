//! On-Premises API flavor: `POST /v1/users/login` (HTTP Basic → bearer token with expiry),
//! `POST /v1/messages`, `PUT /v1/messages/{id}` (mark as read), `POST /v1/contacts`,
//! `GET /v1/health`, request limits per WebApp (1015; `sim::deployment`), CoreApp shard queues (1016)
//! and the `errors` envelope.
//!
//! Error codes at send: 1005 access denied (HTTP 401), 1006 not found, 1008 / 1009 / 1001
//! validation, 1013 user not valid (undeliverable or sanctioned recipient), 1015 too many requests
//! (429), 1016 overloaded or in a downtime window (503). Accepted messages that fail later get a
//! `failed` status webhook (top-level `{"statuses":[…]}`, unsigned): 470 re-engagement (outside
//! the customer service window; Meta's error codes), 131049 marketing limit and the messaging
//! limit's code.
//! `/v1/health` needs a token and answers Meta's `gateway_status` values (`sim::deployment::health`).
//! The default admin's first login must set `new_password` (`spec::sim::onprem`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use http::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::config::SimConfig;
use super::deployment::{self, Endpoint, WebApps};
use super::hooks::Accepted;
use super::message::{self, Parsed, Problem};
use super::model::{
    RecipientVerdict, ShardQueues, base64url, hash_bytes, mix64, phone_digits, sanctioned_details,
    undeliverable_details,
};
use super::{BodyError, Ctx, Outcome, Reply, State, h1::Req};

/// Fallback token lifetime when the configured one overflows the clock.
const MAX_TTL: std::time::Duration = std::time::Duration::from_secs(100 * 365 * 24 * 3600);

/// On-prem users, tokens, request limiters and shard queues.
#[derive(Debug)]
pub struct OnPremState {
    users: Mutex<HashMap<String, Account>>,
    tokens: RwLock<HashMap<String, Instant>>,
    token_seq: AtomicU64,
    webapps: WebApps,
    queues: ShardQueues,
    meta: Value,
}

impl OnPremState {
    /// State of a validated configuration.
    pub fn new(cfg: &SimConfig) -> Self {
        let o = &cfg.onprem;
        OnPremState {
            users: Mutex::new(o.users.iter().map(|u| (u.username.clone(), Account::new(u))).collect()),
            tokens: RwLock::new(HashMap::new()),
            token_seq: AtomicU64::new(0),
            webapps: WebApps::new(cfg),
            queues: ShardQueues::new(o.shards, o.shard_rate(), o.overload_queue_delay),
            meta: json!({"api_status": "stable", "version": o.version}),
        }
    }
}

/// An inbound message is processed by the CoreApp shard of its sender, like an outbound one: it
/// takes its place in that shard's queue (never refused: the user's message has arrived).
pub(crate) fn inbound_takes_capacity(st: &State, from: &str) {
    let _ = st.onprem.queues.enqueue(hash_bytes(st.cfg.seed, from.as_bytes()));
}

/// One on-prem error.
pub(crate) struct OnPremError {
    status: StatusCode,
    code: i64,
    title: &'static str,
    details: String,
}

fn err(status: StatusCode, code: i64, title: &'static str, details: impl Into<String>) -> OnPremError {
    OnPremError { status, code, title, details: details.into() }
}

fn problem(p: Problem) -> OnPremError {
    let (code, title) = match &p {
        Problem::Missing(_) => (1008, "Required parameter is missing"),
        Problem::Invalid(_) | Problem::Unsupported(_) => (1009, "Parameter value is not valid"),
        Problem::TooLong(_) => (1001, "Message too long"),
    };
    err(StatusCode::BAD_REQUEST, code, title, p.details().to_string())
}

fn ok(st: &State, status: StatusCode, mut body: Value, outcome: Outcome) -> Reply {
    if let Value::Object(m) = &mut body {
        m.insert("meta".into(), st.onprem.meta.clone());
    }
    Reply::new(status, body.to_string(), outcome)
}

/// Handle one request of the on-prem flavor.
pub(crate) async fn handle(st: &State, req: Req, ctx: Ctx) -> Reply {
    match route(st, req, ctx).await {
        Ok(r) => r,
        Err(e) => {
            let body = json!({
                "errors": [{"code": e.code, "title": e.title, "details": e.details}],
                "meta": st.onprem.meta,
            });
            Reply::new(e.status, body.to_string(), Outcome::Error(e.code))
        }
    }
}

async fn route(st: &State, req: Req, ctx: Ctx) -> Result<Reply, OnPremError> {
    let path = req.path().trim_end_matches('/');
    let method = req.method().clone();
    match (method, path) {
        (Method::POST, "/v1/messages") => send(st, req, ctx).await,
        (Method::PUT, p) if p.starts_with("/v1/messages/") => mark_read(st, req, ctx).await,
        (Method::POST, "/v1/users/login") => login(st, req, ctx).await,
        (Method::POST, "/v1/contacts") => contacts(st, req, ctx).await,
        (Method::GET, "/v1/health") => health(st, &req, ctx),
        (_, p) => Err(err(StatusCode::NOT_FOUND, 1006, "Resource not found", format!("No endpoint at {p}"))),
    }
}

/// Admit the request at the limiter of its WebApp (round-robin over `onprem.webapps`).
fn limit(st: &State, ctx: Ctx, endpoint: Endpoint) -> Result<(), OnPremError> {
    st.onprem
        .webapps
        .admit(ctx.arrival, endpoint)
        .map_err(|r| err(StatusCode::TOO_MANY_REQUESTS, 1015, "Too many requests", r.details()))
}

fn not_down(st: &State) -> Result<(), OnPremError> {
    if st.down() {
        Err(err(
            StatusCode::SERVICE_UNAVAILABLE,
            1016,
            "System overloaded",
            "CoreApp unavailable (maintenance window); retry later.",
        ))
    } else {
        Ok(())
    }
}

fn denied(details: &str) -> OnPremError {
    err(StatusCode::UNAUTHORIZED, 1005, "Access denied", details)
}

/// Check the bearer token from `/v1/users/login`.
fn authorize(st: &State, req: &Req) -> Result<(), OnPremError> {
    let token = super::bearer(req).ok_or_else(|| denied("Missing bearer token; log in with POST /v1/users/login."))?;
    let tokens = st.onprem.tokens.read().unwrap_or_else(|e| e.into_inner());
    match tokens.get(token) {
        None => Err(denied("Invalid token.")),
        Some(exp) if Instant::now() >= *exp => Err(denied("Token expired; log in again.")),
        Some(_) => Ok(()),
    }
}

async fn body_of(st: &State, req: Req) -> Result<bytes::Bytes, OnPremError> {
    req.into_body().map_err(|e| match e {
        BodyError::TooLarge => err(
            StatusCode::PAYLOAD_TOO_LARGE,
            1009,
            "Parameter value is not valid",
            format!("Request body exceeds {} bytes.", st.cfg.max_body_bytes),
        ),
        BodyError::Malformed => {
            err(StatusCode::BAD_REQUEST, 1009, "Parameter value is not valid", "The request body could not be read.")
        }
    })
}

async fn send(st: &State, req: Req, ctx: Ctx) -> Result<Reply, OnPremError> {
    limit(st, ctx, Endpoint::Messages)?;
    not_down(st)?;
    authorize(st, &req)?;
    let body = body_of(st, req).await?;
    let obj = message::parse_json(&body).map_err(problem)?;
    let Parsed::Send(msg) = message::validate(&obj, st.cfg.flavor).map_err(problem)? else {
        return Err(problem(Problem::Unsupported("Mark messages as read with PUT /v1/messages/{id}.".into())));
    };
    let bad = StatusCode::BAD_REQUEST;
    match st.recipients.verdict(&msg.digits, msg.is_template()) {
        RecipientVerdict::Ok => {}
        RecipientVerdict::Sanctioned(region) => {
            return Err(err(bad, 1013, "User is not valid", sanctioned_details(region)));
        }
        RecipientVerdict::Undeliverable(r) => {
            return Err(err(bad, 1013, "User is not valid", undeliverable_details(r)));
        }
        // Cloud-only rules (the On-Premises API predates them).
        RecipientVerdict::MarketingLimit | RecipientVerdict::Experiment | RecipientVerdict::StoppedMarketing => {}
    }
    let shard_key = hash_bytes(st.cfg.seed, msg.digits.as_bytes());
    let Some(queue_delay) = st.onprem.queues.enqueue(shard_key) else {
        return Err(err(
            StatusCode::SERVICE_UNAVAILABLE,
            1016,
            "System overloaded",
            format!(
                "CoreApp shard {} of {} would queue this message for more than {}.",
                shard_key % st.onprem.queues.len() as u64,
                st.onprem.queues.len(),
                humantime::format_duration(st.cfg.onprem.overload_queue_delay)
            ),
        ));
    };
    let mut raw = [0u8; 12];
    raw[..8].copy_from_slice(&mix64(ctx.seq ^ mix64(st.cfg.seed)).to_be_bytes());
    raw[8..].copy_from_slice(&(shard_key as u32).to_be_bytes());
    let mut id = String::from("gBEG");
    base64url(&raw, &mut id);
    let template = msg.is_template();
    let marketing =
        (st.recipients.verdict(&msg.digits, template) == RecipientVerdict::MarketingLimit).then_some(131049);
    let failure = st.failure_after_accept(marketing, &msg.digits, template, 470);
    let outcome = failure.map_or(Outcome::Accepted, Outcome::AcceptedFailing);
    let mut reply = ok(st, StatusCode::CREATED, json!({"messages": [{"id": id}]}), outcome);
    reply.queue_delay = queue_delay;
    if st.hooks.is_some() {
        let phone_number_id = String::new();
        reply.accepted = Some(Accepted::to_phone(id, msg.digits, phone_number_id, template, failure));
    }
    Ok(reply)
}

async fn mark_read(st: &State, req: Req, ctx: Ctx) -> Result<Reply, OnPremError> {
    limit(st, ctx, Endpoint::Messages)?;
    not_down(st)?;
    authorize(st, &req)?;
    let obj = message::parse_json(&body_of(st, req).await?).map_err(problem)?;
    match obj.get("status") {
        Some(Value::String(s)) if s == "read" => Ok(ok(st, StatusCode::OK, json!({}), Outcome::Ok)),
        None | Some(Value::Null) => Err(problem(Problem::Missing("The parameter status is required.".into()))),
        Some(_) => Err(problem(Problem::Invalid("The parameter status must be \"read\".".into()))),
    }
}

/// Decode base64 as Basic credentials come: the standard alphabet or the URL-safe one, with or
/// without padding.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
    const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT);
    STANDARD.decode(s).or_else(|_| URL_SAFE.decode(s)).ok()
}

/// Username and password of an `Authorization: Basic` header.
fn basic_credentials(req: &Req) -> Option<(String, String)> {
    let v = req.authorization()?;
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64_decode(rest.trim())?).ok()?;
    let (u, p) = decoded.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// One account: its password and whether the next login must set a new one.
#[derive(Debug)]
struct Account {
    password: String,
    must_change: bool,
}

impl Account {
    fn new(u: &crate::spec::sim::UserConfig) -> Self {
        Account { password: u.password.clone(), must_change: u.must_change_password() }
    }
}

/// Check a login and apply its `new_password`. The default admin's first login must set one (Meta
/// answers "an error" without naming it: here 1005, HTTP 401, model); a new password must meet
/// Meta's complexity rules (refused with 1009, HTTP 400, model).
fn check_login(st: &State, user: &str, password: &str, new_password: Option<String>) -> Result<(), OnPremError> {
    let mut users = st.onprem.users.lock().unwrap_or_else(|e| e.into_inner());
    let account = match users.get_mut(user) {
        Some(a) if a.password == password => a,
        _ => return Err(denied("Invalid username or password.")),
    };
    match new_password {
        None if account.must_change => Err(denied(
            "The password of this account must be changed on first login: send new_password in the login body.",
        )),
        None => Ok(()),
        Some(np) => {
            if let Some(why) = crate::spec::sim::onprem::weak_password(&np) {
                return Err(problem(Problem::Invalid(format!("The parameter new_password {why}."))));
            }
            account.password = np;
            account.must_change = false;
            Ok(())
        }
    }
}

async fn login(st: &State, req: Req, ctx: Ctx) -> Result<Reply, OnPremError> {
    limit(st, ctx, Endpoint::Other)?;
    let creds = basic_credentials(&req);
    let body = body_of(st, req).await?;
    let new_password = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let obj = message::parse_json(&body).map_err(problem)?;
        match obj.get("new_password") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(_) => {
                return Err(problem(Problem::Invalid("The parameter new_password must be a non-empty string.".into())));
            }
        }
    };
    let (user, password) = creds.ok_or_else(|| denied("Missing or malformed HTTP Basic credentials."))?;
    check_login(st, &user, &password, new_password)?;
    let n = st.onprem.token_seq.fetch_add(1, Ordering::Relaxed);
    let mut raw = [0u8; 24];
    raw[..8].copy_from_slice(&mix64(n ^ mix64(st.cfg.seed ^ 0x70CE)).to_be_bytes());
    raw[8..16].copy_from_slice(&mix64(ctx.key).to_be_bytes());
    raw[16..].copy_from_slice(&mix64(ctx.key ^ n).to_be_bytes());
    let mut token = String::from("eyJ");
    base64url(&raw, &mut token);
    let ttl = st.cfg.onprem.token_ttl;
    let now = Instant::now();
    let expiry = now.checked_add(ttl).unwrap_or(now + MAX_TTL);
    st.onprem.tokens.write().unwrap_or_else(|e| e.into_inner()).insert(token.clone(), expiry);
    let utc = chrono::Utc::now();
    let wall = chrono::Duration::from_std(ttl).ok().and_then(|d| utc.checked_add_signed(d)).unwrap_or(utc);
    let expires_after = wall.format("%Y-%m-%d %H:%M:%S+00:00").to_string();
    Ok(ok(st, StatusCode::OK, json!({"users": [{"token": token, "expires_after": expires_after}]}), Outcome::Ok))
}

async fn contacts(st: &State, req: Req, ctx: Ctx) -> Result<Reply, OnPremError> {
    limit(st, ctx, Endpoint::Other)?;
    not_down(st)?;
    authorize(st, &req)?;
    let obj = message::parse_json(&body_of(st, req).await?).map_err(problem)?;
    if let Some(b) = obj.get("blocking")
        && !matches!(b.as_str(), Some("wait" | "no_wait"))
    {
        return Err(problem(Problem::Invalid("The parameter blocking must be \"wait\" or \"no_wait\".".into())));
    }
    let list = match obj.get("contacts") {
        None | Some(Value::Null) => {
            return Err(problem(Problem::Missing("The parameter contacts is required.".into())));
        }
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(problem(Problem::Invalid("The parameter contacts must be an array.".into())));
        }
    };
    let mut out = Vec::with_capacity(list.len());
    for c in list {
        let Some(input) = c.as_str() else {
            return Err(problem(Problem::Invalid("Every entry of contacts must be a phone number string.".into())));
        };
        let valid = phone_digits(input)
            .filter(|d| st.recipients.sanctioned(d).is_none() && st.recipients.undeliverable(d).is_none());
        out.push(match valid {
            Some(d) => json!({"input": input, "status": "valid", "wa_id": d}),
            None => json!({"input": input, "status": "invalid"}),
        });
    }
    Ok(ok(st, StatusCode::OK, json!({"contacts": out}), Outcome::Ok))
}

/// `GET /v1/health`: "Authorization: Bearer <token>" (Meta, "/v1/health",
/// https://developers.facebook.com/docs/whatsapp/on-premises/reference/health); the shape in
/// `sim::deployment::health`.
fn health(st: &State, req: &Req, ctx: Ctx) -> Result<Reply, OnPremError> {
    limit(st, ctx, Endpoint::Other)?;
    authorize(st, req)?;
    let body = json!({ "health": deployment::health(&st.cfg, st.down()) });
    Ok(ok(st, StatusCode::OK, body, Outcome::Ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64() {
        assert_eq!(base64_decode("YWRtaW46c2VjcmV0").unwrap(), b"admin:secret");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YQ").unwrap(), b"a", "padding is optional");
        assert_eq!(base64_decode("-_8=").unwrap(), [0xfb, 0xff], "the URL-safe alphabet");
        assert_eq!(base64_decode("+/8=").unwrap(), [0xfb, 0xff]);
        assert!(base64_decode("a*b").is_none());
    }
}
