//! The first requests of a target as `run --dry-run` shows them: built by the same drivers a run
//! uses (bodies with their placeholders and templates filled), without reading a secret or opening a
//! connection. Credentials are never in them: the Authorization header and every header whose value
//! comes from the environment read `***`, and a webhook's signature is made with a placeholder secret
//! and shown as `***`.

use std::sync::Arc;

use ::http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use ::http::{Request, Uri};
use bytes::Bytes;
use http_body_util::Full;

use super::whatsapp::body::Mix;
use super::whatsapp::cloud::{self, Common};
use super::{BuildCtx, conversation, http, webhook};
use crate::engine::target::{Endpoint, Target};
use crate::spec::{TargetKind, TargetSpec};

/// What stands for a credential.
pub const REDACTED: &str = "***";

/// Builds request `seq` of a target.
type MakeRequest = Box<dyn Fn(u64) -> Request<Full<Bytes>>>;

/// One request as shown: method, URL, headers (credentials redacted), body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// The first `n` requests of target `spec` (`url` is where an embedded target would be served).
pub fn requests(spec: &TargetSpec, ctx: &BuildCtx<'_>, url: &str, n: u64) -> Result<Vec<Shown>, String> {
    let from_env: Vec<String> = spec.headers_from_env.keys().map(|k| k.to_ascii_lowercase()).collect();
    let mut plain = spec.clone();
    // Values from the environment are not read: each header reads `***` (redacted again when shown).
    for k in spec.headers_from_env.keys() {
        plain.headers.insert(k.clone(), REDACTED.into());
    }
    plain.headers_from_env.clear();
    let (endpoint, make): (Endpoint, MakeRequest) = match spec.kind {
        TargetKind::Http => {
            let t = Arc::new(http::HttpTarget::new(&plain, ctx.body, ctx.feeder.clone(), ctx.seed)?);
            (t.endpoint().clone(), Box::new(move |seq| t.request(seq)))
        }
        TargetKind::Webhook => {
            let secrets = webhook::HookSecrets { app_secret: Some(REDACTED.into()), verify_token: None };
            let t = Arc::new(webhook::WebhookTarget::new(&plain, url, &secrets, ctx.seed, 1.0)?);
            (t.endpoint().clone(), Box::new(move |seq| t.request(seq)))
        }
        TargetKind::Conversation => {
            let wiring = conversation::Wiring {
                tracker: Arc::new(crate::webhook::conversation::ConversationTracker::new(
                    spec.conversation_spec().reply_timeout.0,
                )),
                user_wrote: Arc::new(|_: &str| {}),
                identity: Arc::new(|_: &str| None),
                secrets: webhook::HookSecrets { app_secret: Some(REDACTED.into()), verify_token: None },
                shard: (0, 1),
            };
            let t = Arc::new(conversation::ConversationTarget::new(&plain, ctx.recipients.clone(), ctx.seed, wiring)?);
            (t.endpoint().clone(), Box::new(move |seq| t.request(seq)))
        }
        TargetKind::Cloud | TargetKind::OnPrem => {
            let c = common(spec, ctx, url)?;
            let onprem = spec.kind == TargetKind::OnPrem;
            let base = c.base.endpoint.path_and_query.trim_end_matches('/').to_string();
            let paths: Vec<String> = match onprem {
                true => vec![format!("{base}/v1/messages")],
                false => spec
                    .sending_numbers()
                    .iter()
                    .map(|id| format!("{base}/{}/{id}/messages", spec.api_version.as_deref().unwrap_or("v23.0")))
                    .collect(),
            };
            let uris = paths
                .into_iter()
                .map(|p| Uri::try_from(p).map_err(|e| format!("bad API path: {e}")))
                .collect::<Result<Vec<Uri>, String>>()?;
            let spread = spec.spread.unwrap_or_default();
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer ***"));
            let mix = Mix::new(&c.messages, c.seed);
            let endpoint = c.base.endpoint.clone();
            (
                endpoint,
                Box::new(move |seq| {
                    let uri = &uris[crate::spec::numbers::pick(spread, uris.len(), seq, c.recipients.get(seq))];
                    cloud::message_request(&c, &mix, uri, headers.clone(), seq, onprem)
                }),
            )
        }
    };
    Ok((0..n).map(|seq| show(&make(seq), &endpoint, &from_env)).collect())
}

/// A WhatsApp target's common part, without its token or login.
fn common(spec: &TargetSpec, ctx: &BuildCtx<'_>, url: &str) -> Result<Common, String> {
    Ok(Common {
        base: super::base::Base::new(spec.kind, spec, Endpoint::parse(url)?),
        messages: ctx.messages.clone(),
        recipients: ctx.recipients.clone(),
        retry: ctx.retry.clone(),
        seed: ctx.seed,
        tracker: None,
        templates: ctx
            .messages
            .templates(&ctx.recipients, None)
            .map_err(|(field, reason)| format!("{field}: {reason}"))?,
        resend_unanswered: false,
        failures: None,
        secrets: crate::units::redact::Secrets::new(),
    })
}

/// Whether a header's value is a credential: Authorization, a signature, a value from the
/// environment, or one marked sensitive.
fn secret(name: &str, value: &HeaderValue, from_env: &[String]) -> bool {
    let name = name.to_ascii_lowercase();
    value.is_sensitive()
        || from_env.contains(&name)
        || matches!(name.as_str(), "authorization" | "proxy-authorization" | "x-hub-signature-256" | "x-hub-signature")
}

fn show(req: &Request<Full<Bytes>>, endpoint: &Endpoint, from_env: &[String]) -> Shown {
    use http_body_util::BodyExt as _;
    let base = format!("{}://{}", if endpoint.tls { "https" } else { "http" }, endpoint.authority());
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| {
            let shown = match secret(k.as_str(), v, from_env) {
                true if k == AUTHORIZATION && v.as_bytes().starts_with(b"Bearer ") => "Bearer ***".to_string(),
                true if k == AUTHORIZATION && v.as_bytes().starts_with(b"Basic ") => "Basic ***".to_string(),
                true => REDACTED.to_string(),
                false => String::from_utf8_lossy(v.as_bytes()).into_owned(),
            };
            (k.as_str().to_string(), shown)
        })
        .collect();
    // A `Full` body is ready at once: polling it never waits.
    let body =
        futures_ready(req.body().clone().collect()).and_then(Result::ok).map(|c| c.to_bytes()).unwrap_or_default();
    Shown {
        method: req.method().to_string(),
        url: crate::units::redact::url(&format!("{base}{}", req.uri().path_and_query().map_or("/", |p| p.as_str()))),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// The output of a future that is ready at its first poll (`None` if it is not).
fn futures_ready<F: std::future::Future>(f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}
