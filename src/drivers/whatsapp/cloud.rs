//! The Cloud API target: `POST /{version}/{phone-number-id}/messages` with a bearer token, bodies from
//! the message mix, answers classified by `error.code`, retries per the code's policy.

use std::str::FromStr;
use std::sync::Arc;

use ::http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use ::http::{Method, Request, StatusCode, Uri};
use bytes::Bytes;
use http_body_util::Full;

use super::body::{self, Mix};
use super::recipients::Recipients;
use super::{MessagesSpec, RetrySpec, codes};
use crate::engine::metrics::Outcome;
use crate::engine::target::{Answer, Classified, Target};

/// What a WhatsApp target needs besides its endpoint; shared by both APIs.
#[derive(Clone)]
pub struct Common {
    /// Name, kind, endpoint, HTTP version, net and body limit, as every driver has them.
    pub base: crate::drivers::base::Base,
    pub messages: MessagesSpec,
    pub recipients: Arc<Recipients>,
    pub retry: RetrySpec,
    pub seed: u64,
    pub tracker: Option<crate::webhook::Tracker>,
    /// The placeholders of `[messages]`, compiled against the recipients' columns.
    pub templates: crate::spec::template::MessageTemplates,
    /// Send a message again (with the `[retry]` back-off) after an attempt whose fate is unknown.
    pub resend_unanswered: bool,
    /// Where failed sends and one error body per code are kept (failures.csv, error_samples.json).
    pub failures: Option<Arc<crate::results::failure_log::FailureLog>>,
    /// The credentials this target sends (token, or login name and passwords, and its proxy's):
    /// removed from any answer kept in the results, should a server echo them.
    pub secrets: crate::units::redact::Secrets,
}

impl Common {
    /// Whether answers' bodies are needed: always. Errors carry their code; a success is only a sent
    /// message when it carries the message id (a proxy's 200 page is not), which the webhook
    /// tracker also needs.
    pub fn wants_body(&self, _status: StatusCode) -> bool {
        true
    }

    /// Classify an answer and decide on a retry; accepted messages are reported to the tracker.
    pub fn classify(&self, a: &Answer<'_>) -> Classified {
        self.classify_from(a, None)
    }

    /// As [`classify`](Self::classify), for a message sent from sending number `sender` of several
    /// (see `webhook::Tracker::name_senders`).
    pub fn classify_from(&self, a: &Answer<'_>, sender: Option<u16>) -> Classified {
        let mut outcome = codes::outcome(a.status, a.body);
        if outcome.is_ok() {
            match message_id(a.body) {
                Some(id) => {
                    if let Some(t) = &self.tracker {
                        t.sent_from(&id, a.started, a.done, sender, Some(a.seq));
                    }
                }
                None => outcome = Outcome::InvalidResponse,
            }
        }
        let retry_after = codes::retry_after(outcome, a.attempt, &self.retry);
        if let Some(log) = &self.failures {
            self.log_failure(log, a, outcome, retry_after.is_none());
        }
        Classified { outcome, retry_after }
    }

    /// An error answer: its body kept as the code's sample; a message given up on (no retry) listed.
    fn log_failure(
        &self,
        log: &crate::results::failure_log::FailureLog,
        a: &Answer<'_>,
        outcome: Outcome,
        given_up: bool,
    ) {
        use crate::results::failure_log::{FailurePath, FailureRow};
        let (code, http_status) = match outcome {
            Outcome::ApiError(c) => (Some(c), Some(a.status.as_u16())),
            Outcome::Status(s) => (None, Some(s)),
            _ => return,
        };
        if let Some(c) = code {
            log.sample(c, FailurePath::AtSend, http_status, a.body, &self.secrets);
        }
        if given_up {
            log.record(FailureRow {
                at: std::time::SystemTime::now(),
                recipient: self.recipients.get(a.seq).to_string(),
                code,
                http_status,
                path: FailurePath::AtSend,
                message_id: String::new(),
            });
        }
    }

    /// An attempt that got no answer. Never sent again by default: once written, the API may have
    /// accepted it, and a second attempt may be a second message to the same person. With
    /// `resend_unanswered` it is, with the `[retry]` back-off, up to `[retry] max_attempts`.
    pub fn retry_transport(&self, outcome: Outcome, attempt: u32) -> Classified {
        let again = self.resend_unanswered && outcome.resendable() && attempt < self.retry.max_attempts;
        let wait = || crate::units::doubling(self.retry.backoff.0, self.retry.max_backoff.0, attempt);
        Classified { outcome, retry_after: again.then(wait) }
    }
}

/// The message id of a send's success answer (`messages[0].id`, both APIs).
pub fn message_id(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        messages: Vec<Id>,
    }
    #[derive(serde::Deserialize)]
    struct Id {
        id: String,
    }
    serde_json::from_slice::<Answer>(body).ok()?.messages.into_iter().next().map(|m| m.id).filter(|id| !id.is_empty())
}

pub struct CloudTarget {
    c: Common,
    mix: Mix,
    /// The sending numbers: the request path of each, and (with several) what each number got.
    senders: Vec<(Uri, Option<super::senders::Sender>)>,
    spread: crate::spec::numbers::Spread,
    headers: HeaderMap,
}

impl CloudTarget {
    /// `token` is the bearer token (from the environment or a file, never from the profile).
    pub fn new(c: Common, api_version: &str, numbers: &Numbers, token: &str) -> Result<CloudTarget, String> {
        let base = c.base.endpoint.path_and_query.trim_end_matches('/');
        let several = numbers.ids.len() > 1;
        let mut senders = Vec::with_capacity(numbers.ids.len());
        for id in &numbers.ids {
            let uri = Uri::from_str(&format!("{base}/{api_version}/{id}/messages"))
                .map_err(|e| format!("bad API path: {e}"))?;
            senders.push((uri, several.then(|| super::senders::Sender::new(id))));
        }
        if senders.is_empty() {
            return Err("no phone number to send from".into());
        }
        if let (true, Some(t)) = (several, &c.tracker) {
            t.name_senders(numbers.ids.clone());
        }
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let mut auth = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| "the access token is not a valid header value".to_string())?;
        auth.set_sensitive(true);
        headers.insert(AUTHORIZATION, auth);
        Ok(CloudTarget { mix: Mix::new(&c.messages, c.seed), c, senders, spread: numbers.spread, headers })
    }

    /// The number message `seq` is sent from.
    fn sender(&self, seq: u64) -> usize {
        crate::spec::numbers::pick(self.spread, self.senders.len(), seq, self.c.recipients.get(seq))
    }
}

/// The numbers a Cloud target sends from, and how messages are spread over them.
pub struct Numbers {
    pub ids: Vec<String>,
    pub spread: crate::spec::numbers::Spread,
}

/// Build the request of message `n` for either API.
pub(crate) fn message_request(
    c: &Common,
    mix: &Mix,
    uri: &Uri,
    headers: HeaderMap,
    n: u64,
    onprem: bool,
) -> Request<Full<Bytes>> {
    let kind = mix.kind(n);
    let to = c.recipients.get(n);
    let values = crate::spec::template::Values::new(n, c.seed, c.recipients.row(n), c.templates.uses_clock());
    let body = body::filled(&c.messages, kind, to, n, onprem, &body::Filled { templates: &c.templates, values });
    let mut req = Request::new(Full::new(Bytes::from(body)));
    *req.method_mut() = Method::POST;
    *req.uri_mut() = uri.clone();
    *req.headers_mut() = headers;
    req
}

/// The `Target` methods both WhatsApp targets answer from their [`Common`] part (field `c`).
macro_rules! common_target_methods {
    () => {
        crate::drivers::base::target_base_methods!(c.base);
        fn wants_body(&self, status: ::http::StatusCode) -> bool {
            self.c.wants_body(status)
        }
        fn retry_transport(&self, outcome: crate::engine::metrics::Outcome, attempt: u32) -> Classified {
            self.c.retry_transport(outcome, attempt)
        }
        fn recipient(&self, seq: u64) -> Option<String> {
            Some(self.c.recipients.get(seq).to_string())
        }
        fn message_id(&self, answer: &crate::engine::target::Answer<'_>) -> Option<String> {
            crate::drivers::whatsapp::cloud::message_id(answer.body)
        }
    };
}
pub(crate) use common_target_methods;

impl Target for CloudTarget {
    common_target_methods!();
    fn request(&self, seq: u64) -> Request<Full<Bytes>> {
        message_request(&self.c, &self.mix, &self.senders[self.sender(seq)].0, self.headers.clone(), seq, false)
    }
    fn classify(&self, a: &Answer<'_>) -> Classified {
        let sender = self.sender(a.seq);
        self.c.classify_from(a, self.senders[sender].1.as_ref().map(|_| sender as u16))
    }
    fn starting(&self, seq: u64, _attempt: u32, _intended: std::time::Instant) {
        if let Some(s) = &self.senders[self.sender(seq)].1 {
            s.attempt();
        }
    }
    fn ended(&self, seq: u64, outcome: Outcome) {
        if let Some(s) = &self.senders[self.sender(seq)].1 {
            s.ended(outcome);
        }
    }
    fn extra(&self) -> Option<serde_json::Value> {
        let senders: Vec<&super::senders::Sender> = self.senders.iter().filter_map(|(_, s)| s.as_ref()).collect();
        (!senders.is_empty()).then(|| serde_json::json!({ "numbers": super::senders::to_json(&senders) }))
    }
}
