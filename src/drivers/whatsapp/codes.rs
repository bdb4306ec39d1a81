//! Classifying API answers by error code (as Meta advises: by `error.code`, not by HTTP status), and
//! the retry policy for each code.

use std::time::Duration;

use ::http::StatusCode;
use serde::Deserialize;

use super::RetrySpec;
use crate::engine::metrics::Outcome;

/// The first error code in a Cloud (`{"error":{"code":…}}`) or On-Premises (`{"errors":[{"code":…}]}`)
/// error body.
pub fn error_code(body: &[u8]) -> Option<i64> {
    #[derive(Deserialize)]
    struct Cloud {
        error: Option<Code>,
        errors: Option<Vec<Code>>,
    }
    #[derive(Deserialize)]
    struct Code {
        code: Option<i64>,
    }
    let v: Cloud = serde_json::from_slice(body).ok()?;
    v.error.and_then(|e| e.code).or_else(|| v.errors.and_then(|e| e.into_iter().find_map(|c| c.code)))
}

/// Judge an answer: success statuses are `ok`; errors carry the API code when the body has one.
pub fn outcome(status: StatusCode, body: &[u8]) -> Outcome {
    if status.is_success() {
        return Outcome::Ok;
    }
    match error_code(body) {
        Some(c) => Outcome::ApiError(c),
        None => Outcome::Status(status.as_u16()),
    }
}

/// How to retry an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Never retry (bad request, bad token, undeliverable, re-engagement, policy).
    Never,
    /// Back off exponentially (throttling, transient errors).
    Backoff,
    /// Wait the configured `unavailable_wait` (code 2: the API is being updated).
    WaitUnavailable,
}

/// The retry policy of an outcome.
pub fn policy(o: Outcome) -> Policy {
    match o {
        Outcome::ApiError(2) => Policy::WaitUnavailable,
        // Throttling: app/WABA rate limits, throughput, pair rate, upgrade in progress; on-prem 1015/1016;
        // transient server errors.
        Outcome::ApiError(4 | 80007 | 130429 | 131056 | 131057 | 131000 | 1015 | 1016 | 1014) => Policy::Backoff,
        Outcome::Status(429 | 502 | 503 | 504) => Policy::Backoff,
        _ => Policy::Never,
    }
}

/// The wait before attempt `attempt + 1` (attempts count from 1), or `None` when not retried.
pub fn retry_after(o: Outcome, attempt: u32, spec: &RetrySpec) -> Option<Duration> {
    if attempt >= spec.max_attempts {
        return None;
    }
    match policy(o) {
        Policy::Never => None,
        Policy::WaitUnavailable => Some(spec.unavailable_wait.0),
        Policy::Backoff => {
            let exp = attempt.saturating_sub(1).min(20);
            Some((spec.backoff.0 * 2u32.pow(exp)).min(spec.max_backoff.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_from_both_error_shapes() {
        let cloud = br#"{"error":{"message":"(#131056) pair rate limit hit","type":"OAuthException","code":131056,"error_data":{"messaging_product":"whatsapp","details":"x"},"fbtrace_id":"A"}}"#;
        assert_eq!(outcome(StatusCode::BAD_REQUEST, cloud), Outcome::ApiError(131056));
        let onprem = br#"{"errors":[{"code":1015,"title":"Too many requests","details":"x"}],"meta":{}}"#;
        assert_eq!(outcome(StatusCode::TOO_MANY_REQUESTS, onprem), Outcome::ApiError(1015));
        assert_eq!(outcome(StatusCode::BAD_GATEWAY, b"<html>bad gateway</html>"), Outcome::Status(502));
        assert_eq!(outcome(StatusCode::CREATED, b"{}"), Outcome::Ok);
    }

    #[test]
    fn retry_policy_by_code() {
        let spec = RetrySpec::default();
        for never in [190, 131026, 131047, 100, 368] {
            assert_eq!(retry_after(Outcome::ApiError(never), 1, &spec), None, "{never}");
        }
        assert_eq!(retry_after(Outcome::ApiError(130429), 1, &spec), Some(Duration::from_millis(500)));
        assert_eq!(retry_after(Outcome::ApiError(131056), 2, &spec), Some(Duration::from_secs(1)));
        assert_eq!(retry_after(Outcome::ApiError(1015), 3, &spec), None, "max attempts reached");
        assert_eq!(retry_after(Outcome::ApiError(2), 1, &spec), Some(Duration::from_secs(300)));
    }
}
