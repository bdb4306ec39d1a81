//! The webhook target: drives a user's own webhook endpoint with the POSTs Meta would send it —
//! Cloud bodies signed with `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with the app secret,
//! Meta "Webhooks"), or unsigned On-Premises bodies — built by [`webhook::events`] for each
//! request number. Only HTTP 200 is success (Meta re-delivers anything else); with
//! `[targets.webhook.retry]` a POST not answered 200 (or timed out, or whose connection broke) is
//! re-delivered unchanged with a doubling wait, as Meta does. Before the load, the subscription
//! handshake (`GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`, expecting 200 and the
//! challenge) is checked; its failure stops the run with an error naming the target.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ::http::header::{CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT};
use ::http::{Method, Request, StatusCode, Uri};
use bytes::Bytes;
use http_body_util::Full;

use super::BuildError;
use super::base::{Base, target_base_methods};
use crate::engine::metrics::Outcome;
use crate::engine::target::{Answer, Classified, Endpoint, Target};
use crate::spec::net::Net;
use crate::spec::webhook_target::{HookFlavor, HookRetry};
use crate::spec::{TargetKind, TargetSpec};
use crate::webhook::events::Generator;
use crate::webhook::signature::{SIGNATURE_HEADER, Verifier};

/// The secrets of a webhook target, resolved (never stored in results).
#[derive(Clone, Default)]
pub struct HookSecrets {
    /// Cloud: the app secret bodies are signed with.
    pub app_secret: Option<Vec<u8>>,
    /// The verify token of the handshake.
    pub verify_token: Option<String>,
}

impl HookSecrets {
    /// These secrets as text to remove from what an endpoint sends back.
    pub fn held(&self) -> crate::units::redact::Secrets {
        let mut s = crate::units::redact::Secrets::new();
        if let Some(a) = &self.app_secret {
            s = s.with(&String::from_utf8_lossy(a));
        }
        if let Some(t) = &self.verify_token {
            s = s.with(t);
        }
        s
    }
}

impl std::fmt::Debug for HookSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HookSecrets { <redacted> }")
    }
}

#[derive(Debug, Default)]
struct Counters {
    posts: AtomicU64,
    statuses: AtomicU64,
    inbound: AtomicU64,
    redeliveries: AtomicU64,
}

pub struct WebhookTarget {
    base: Base,
    uri: Uri,
    headers: HeaderMap,
    generator: Generator,
    signer: Option<Verifier>,
    retry: HookRetry,
    flavor: HookFlavor,
    counters: Counters,
}

/// The secrets a webhook target names: the app secret (Cloud; `app_secret_file` first, then
/// `app_secret_env`) and the verify token (when the handshake is checked).
pub fn resolve_secrets(spec: &TargetSpec, base_dir: &std::path::Path) -> Result<HookSecrets, BuildError> {
    let w = spec.webhook_spec();
    let name = || spec.name.clone();
    let env = |field: &'static str, var: &str| super::env_var(&spec.name, field, var);
    let app_secret = match (w.flavor, &w.app_secret_file, &w.app_secret_env) {
        (HookFlavor::OnPrem, _, _) => None,
        (HookFlavor::Cloud, Some(f), _) => {
            let path = base_dir.join(f);
            let raw = std::fs::read(&path).map_err(|e| BuildError::Invalid {
                target: name(),
                reason: format!("webhook.app_secret_file {}: {e}", path.display()),
            })?;
            let s = raw.trim_ascii().to_vec();
            if s.is_empty() {
                return Err(BuildError::Invalid {
                    target: name(),
                    reason: format!("webhook.app_secret_file {} is empty", path.display()),
                });
            }
            Some(s)
        }
        (HookFlavor::Cloud, None, Some(var)) => Some(env("webhook.app_secret_env", var)?.into_bytes()),
        (HookFlavor::Cloud, None, None) => {
            return Err(BuildError::Missing {
                target: name(),
                what: "an app secret to sign Cloud webhooks with (webhook.app_secret_env or webhook.app_secret_file)",
            });
        }
    };
    let verify_token = match (&w.verify_token_env, w.handshake) {
        (Some(var), true) => Some(env("webhook.verify_token_env", var)?),
        (None, true) => {
            return Err(BuildError::Missing {
                target: name(),
                what: "webhook.verify_token_env for the subscription handshake (or webhook.handshake = false)",
            });
        }
        (_, false) => None,
    };
    Ok(HookSecrets { app_secret, verify_token })
}

impl WebhookTarget {
    /// `events_per_second` dates the events (the load's peak rate × the mean batch).
    pub fn new(
        spec: &TargetSpec,
        url: &str,
        secrets: &HookSecrets,
        seed: u64,
        events_per_second: f64,
    ) -> Result<WebhookTarget, String> {
        let w = spec.webhook_spec();
        let endpoint = Endpoint::parse(url)?;
        let uri = Uri::from_str(&endpoint.path_and_query).map_err(|e| format!("bad path: {e}"))?;
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        // The user agents Meta's senders present (as the simulator's webhook sender does).
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(match w.flavor {
                HookFlavor::Cloud => "facebookexternalua",
                HookFlavor::OnPrem => "WhatsApp-Business-API",
            }),
        );
        // Headers an endpoint may require besides the signature (a gateway's key); values from the
        // environment are never in results.
        super::http::add_headers(&mut headers, spec)?;
        let signer = match w.flavor {
            HookFlavor::Cloud => Some(Verifier::new(
                secrets.app_secret.as_deref().ok_or("a Cloud webhook target needs an app secret to sign with")?,
            )),
            HookFlavor::OnPrem => None,
        };
        let base_unix = chrono::Utc::now().timestamp();
        Ok(WebhookTarget {
            base: Base::new(TargetKind::Webhook, spec, endpoint),
            uri,
            headers,
            generator: Generator::new(&w, seed, events_per_second, base_unix),
            signer,
            retry: w.retry.clone(),
            flavor: w.flavor,
            counters: Counters::default(),
        })
    }

    /// Reach the endpoint with `net` (the profile's TLS, proxy and `connect_to`).
    pub fn with_net(mut self, net: Arc<Net>) -> WebhookTarget {
        self.base.net = net;
        self
    }

    /// The body and signature of POST `n` (what a test checks the endpoint received).
    pub fn body(&self, n: u64) -> (Vec<u8>, Option<String>) {
        let mut body = Vec::with_capacity(1024);
        self.generator.body(n, &mut body);
        let sig = self.signer.as_ref().map(|s| s.sign(&body));
        (body, sig)
    }

    /// The wait before attempt `attempt + 1`, when another is allowed.
    fn redeliver(&self, attempt: u32) -> Option<Duration> {
        (attempt < self.retry.max_attempts)
            .then(|| crate::units::doubling(self.retry.initial.0, self.retry.max.0, attempt))
    }
}

impl Target for WebhookTarget {
    target_base_methods!(base);
    fn request(&self, seq: u64) -> Request<Full<Bytes>> {
        // Each POST's ids and timestamps differ, so each is rendered and signed on its own.
        let mut body = Vec::with_capacity(1024);
        let info = self.generator.body(seq, &mut body);
        let mut headers = self.headers.clone();
        if let Some(s) = &self.signer
            && let Ok(v) = HeaderValue::from_str(&s.sign(&body))
        {
            headers.insert(SIGNATURE_HEADER, v);
        }
        let c = &self.counters;
        c.posts.fetch_add(1, Ordering::Relaxed);
        c.statuses.fetch_add(u64::from(info.statuses), Ordering::Relaxed);
        c.inbound.fetch_add(u64::from(info.inbound), Ordering::Relaxed);
        let mut req = Request::new(Full::new(Bytes::from(body)));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = self.uri.clone();
        *req.headers_mut() = headers;
        req
    }
    fn classify(&self, a: &Answer<'_>) -> Classified {
        // Meta counts a delivery as done only when answered 200 (Meta, "Webhooks": retries).
        if a.status == StatusCode::OK {
            return Classified::final_(Outcome::Ok);
        }
        self.retry_transport(Outcome::Status(a.status.as_u16()), a.attempt)
    }
    fn retry_transport(&self, outcome: Outcome, attempt: u32) -> Classified {
        let retry_after = self.redeliver(attempt);
        if retry_after.is_some() {
            self.counters.redeliveries.fetch_add(1, Ordering::Relaxed);
        }
        Classified { outcome, retry_after }
    }
    fn extra(&self) -> Option<serde_json::Value> {
        let c = &self.counters;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Some(serde_json::json!({"webhook_target": {
            "flavor": match self.flavor { HookFlavor::Cloud => "cloud", HookFlavor::OnPrem => "onprem" },
            "signed": self.signer.is_some(),
            "posts_built": g(&c.posts),
            "statuses": g(&c.statuses),
            "inbound_messages": g(&c.inbound),
            "redeliveries_scheduled": g(&c.redeliveries),
        }}))
    }
}

/// Check the subscription handshake: `GET <url>?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C`
/// must answer 200 with body `C` (Meta, "Verification Requests").
/// The error never shows the token, the URL's credentials nor any of `held` the endpoint echoes. It
/// goes the way the POSTs go (`net`: TLS, proxy, `connect_to`).
pub fn handshake(
    url: &str,
    token: &str,
    seed: u64,
    net: &Net,
    timeout: Duration,
    held: &crate::units::redact::Secrets,
) -> Result<(), String> {
    use crate::units::redact;
    let challenge = format!("{}", 1_000_000_000 + (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 34) % 1_000_000_000);
    let ep = Endpoint::parse(url)?;
    let held = held.clone().with(token).with_url(url).and(&net.secrets(&ep));
    let client = net
        .reqwest(&ep)
        .timeout(timeout)
        .user_agent("facebookplatform/1.0 (+http://developers.facebook.com)")
        .build()
        .map_err(|e| format!("cannot build the handshake client: {e}"))?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let joint = if url.contains('?') { '&' } else { '?' };
    let shown =
        format!("GET {}{joint}hub.mode=subscribe&hub.verify_token=…&hub.challenge={challenge}", redact::url(url));
    let said = |e: &reqwest::Error| held.text(&without_url(e), redact::MAX_ECHO);
    rt.block_on(async {
        let mut full =
            reqwest::Url::parse(url).map_err(|e| format!("{:?} is not a valid URL: {e}", redact::url(url)))?;
        full.query_pairs_mut()
            .append_pair("hub.mode", "subscribe")
            .append_pair("hub.verify_token", token)
            .append_pair("hub.challenge", &challenge);
        let resp = client.get(full).send().await.map_err(|e| format!("{shown}: no answer ({})", said(&e)))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| format!("{shown}: the answer broke off ({})", said(&e)))?;
        if status != StatusCode::OK {
            return Err(format!(
                "{shown} answered HTTP {status}, expected 200 with the challenge (does the endpoint know the verify token?)"
            ));
        }
        if body.trim_ascii() != challenge.as_bytes() {
            let shown_body = held.text(&String::from_utf8_lossy(&body), 64);
            return Err(format!("{shown} answered 200 with {shown_body:?}, not the challenge {challenge:?}"));
        }
        Ok(())
    })
}

/// A reqwest error without its URL (which would carry the verify token).
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(u.as_str(), "the endpoint");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::webhook_target::WebhookTargetSpec;
    use crate::webhook::signature::verify;

    fn spec(flavor: HookFlavor) -> TargetSpec {
        let mut t: TargetSpec =
            toml::from_str("name = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"").unwrap();
        t.webhook = Some(WebhookTargetSpec { flavor, max_batch: 3, ..WebhookTargetSpec::default() });
        t
    }

    #[test]
    fn cloud_requests_are_signed_and_onprem_are_not() {
        let secrets = HookSecrets { app_secret: Some(b"s3cret".to_vec()), verify_token: None };
        let t = WebhookTarget::new(&spec(HookFlavor::Cloud), "http://127.0.0.1:9/hook", &secrets, 1, 10.0).unwrap();
        for n in 0..20 {
            let req = t.request(n);
            let sig = req.headers().get(SIGNATURE_HEADER).unwrap().to_str().unwrap().to_string();
            let (body, expected) = t.body(n);
            assert_eq!(Some(sig.clone()), expected);
            assert_eq!(verify(b"s3cret", &body, Some(&sig)), Ok(()));
            assert_eq!(req.uri(), "/hook");
            assert_eq!(req.method(), Method::POST);
        }
        let extra = t.extra().unwrap();
        assert_eq!(extra["webhook_target"]["posts_built"], 20);
        assert!(!extra.to_string().contains("s3cret"));
        let o =
            WebhookTarget::new(&spec(HookFlavor::OnPrem), "http://127.0.0.1:9/hook", &HookSecrets::default(), 1, 1.0)
                .unwrap();
        assert!(o.request(0).headers().get(SIGNATURE_HEADER).is_none());
    }

    #[test]
    fn missing_secrets_name_the_field_and_variable() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = spec(HookFlavor::Cloud);
        let w = t.webhook.as_mut().unwrap();
        w.app_secret_env = Some("WABENCH_TEST_SURELY_UNSET_SECRET".into());
        let msg = resolve_secrets(&t, dir.path()).unwrap_err().to_string();
        assert!(msg.contains("webhook.app_secret_env") && msg.contains("WABENCH_TEST_SURELY_UNSET_SECRET"), "{msg}");
        std::fs::write(dir.path().join("s"), "  from-file \n").unwrap();
        let w = t.webhook.as_mut().unwrap();
        w.app_secret_file = Some("s".into());
        w.verify_token_env = Some("WABENCH_TEST_SURELY_UNSET_TOKEN".into());
        let msg = resolve_secrets(&t, dir.path()).unwrap_err().to_string();
        assert!(msg.contains("webhook.verify_token_env") && msg.contains("\"hook\""), "{msg}");
        t.webhook.as_mut().unwrap().handshake = false;
        let s = resolve_secrets(&t, dir.path()).unwrap();
        assert_eq!(s.app_secret.as_deref(), Some(&b"from-file"[..]));
        assert!(s.verify_token.is_none() && !format!("{s:?}").contains("from-file"));
        std::fs::write(dir.path().join("s"), "\n").unwrap();
        let msg = resolve_secrets(&t, dir.path()).unwrap_err().to_string();
        assert!(msg.contains("webhook.app_secret_file") && msg.contains("empty"), "{msg}");
    }

    #[test]
    fn only_200_is_success_and_retries_double() {
        let secrets = HookSecrets { app_secret: Some(b"k".to_vec()), verify_token: None };
        let mut s = spec(HookFlavor::Cloud);
        s.webhook.as_mut().unwrap().retry =
            HookRetry { max_attempts: 3, initial: crate::spec::Dur(Duration::from_secs(1)), ..HookRetry::default() };
        let t = WebhookTarget::new(&s, "http://127.0.0.1:9/hook", &secrets, 1, 1.0).unwrap();
        let now = std::time::Instant::now();
        let answer = |status: u16, attempt| Answer {
            seq: 0,
            attempt,
            status: StatusCode::from_u16(status).unwrap(),
            body: b"",
            started: now,
            done: now,
        };
        assert_eq!(t.classify(&answer(200, 1)), Classified::final_(Outcome::Ok));
        let c = t.classify(&answer(204, 1));
        assert_eq!((c.outcome, c.retry_after), (Outcome::Status(204), Some(Duration::from_secs(1))));
        assert_eq!(t.classify(&answer(500, 2)).retry_after, Some(Duration::from_secs(2)));
        assert_eq!(t.classify(&answer(500, 3)).retry_after, None, "three attempts at most");
        assert_eq!(t.retry_transport(Outcome::Timeout, 1).retry_after, Some(Duration::from_secs(1)));
    }
}
