//! The On-Premises API target: `POST /v1/messages` with the bearer token of a login session that
//! keeps itself fresh; a 401 asks the session to log in again and the message is retried.

use std::str::FromStr;
use std::time::Duration;

use ::http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use ::http::{Request, StatusCode, Uri};
use bytes::Bytes;
use http_body_util::Full;

use super::auth::Session;
use super::body::Mix;
use super::cloud::{Common, message_request};
use super::codes;
use crate::engine::metrics::Outcome;
use crate::engine::target::{Answer, Classified, Target};

pub struct OnPremTarget {
    c: Common,
    mix: Mix,
    uri: Uri,
    headers: HeaderMap,
    session: Session,
}

impl OnPremTarget {
    pub fn new(c: Common, session: Session) -> Result<OnPremTarget, String> {
        let base = c.base.endpoint.path_and_query.trim_end_matches('/');
        let uri = Uri::from_str(&format!("{base}/v1/messages")).map_err(|e| format!("bad API path: {e}"))?;
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok(OnPremTarget { mix: Mix::new(&c.messages, c.seed), c, uri, headers, session })
    }
}

impl Target for OnPremTarget {
    super::cloud::common_target_methods!();
    fn request(&self, seq: u64) -> Request<Full<Bytes>> {
        let mut h = self.headers.clone();
        h.insert(AUTHORIZATION, self.session.header());
        message_request(&self.c, &self.mix, &self.uri, h, seq, true)
    }
    fn classify(&self, a: &Answer<'_>) -> Classified {
        if a.status == StatusCode::UNAUTHORIZED {
            let outcome = codes::outcome(a.status, a.body);
            // The token expired or was revoked: log in again and send the message once more.
            self.session.invalidate();
            let again = (a.attempt < self.c.retry.max_attempts).then_some(Duration::from_millis(200));
            return Classified {
                outcome: if outcome.is_ok() { Outcome::Status(401) } else { outcome },
                retry_after: again,
            };
        }
        self.c.classify(a)
    }
    fn extra(&self) -> Option<serde_json::Value> {
        let (logins, failed) = self.session.logins();
        Some(serde_json::json!({ "logins": logins, "failed_logins": failed }))
    }
}
