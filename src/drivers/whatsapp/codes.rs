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

/// How to retry an answer (Meta advises building error handling on `error.code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Never retry (bad request, bad token, undeliverable, re-engagement, policy).
    Never,
    /// Back off exponentially: `backoff` doubling up to `max_backoff` (throttling, transient errors).
    Backoff,
    /// Pair rate limit (131056): `pair_backoff` × 4^X for the X-th retry (Meta: "retry after 4^X
    /// seconds"), for that recipient's message only.
    PairRate,
    /// Throughput upgrade in progress (131057): wait out the upgrade (`upgrade_wait`, Meta: up to
    /// 1 minute).
    WaitUpgrade,
    /// Wait the configured `unavailable_wait` (code 2: the API is being updated; seed: 5 minutes).
    WaitUnavailable,
}

/// The retry policy of an outcome.
pub fn policy(o: Outcome) -> Policy {
    match o {
        Outcome::ApiError(2) => Policy::WaitUnavailable,
        Outcome::ApiError(131056) => Policy::PairRate,
        Outcome::ApiError(131057) => Policy::WaitUpgrade,
        // Throttling: app / WABA rate limits, throughput; on-prem 1015 / 1016. Transient: 131000
        // "something went wrong" (HTTP 500), 131016 "service unavailable" (HTTP 500, retried with
        // back-off: Meta's error codes), 1 "API Unknown: invalid request or possible server error" (HTTP 400,
        // Meta's Cloud API error codes), on-prem 1014 internal error.
        Outcome::ApiError(4 | 80007 | 130429 | 131000 | 131016 | 1 | 1014 | 1015 | 1016) => Policy::Backoff,
        // Errors without an API body (a proxy or load balancer in front of the API).
        Outcome::Status(429 | 500 | 502 | 503 | 504) => Policy::Backoff,
        // Never retried, whatever the code: a bad request (100, 131008, 131009), a token (190, 10),
        // the business's templates (132000 parameter count, 132001 no such template in that
        // language, 132012 parameter format, 132015 paused, 132016 disabled: Meta's error codes,
        // answered at send), 131062 (a business-scoped user ID where a phone number is needed),
        // and the failures of accepted messages should a client see them at send (131026,
        // 131047, 131049, 131053). A timeout is not retried either: the API may have accepted the
        // message, and a resend would deliver it twice.
        _ => Policy::Never,
    }
}

/// The wait before attempt `attempt + 1` (attempts count from 1), or `None` when not retried:
/// the code's policy says never, or `max_attempts` attempts were made. Whether the retry still fits
/// in the run is the executor's call.
pub fn retry_after(o: Outcome, attempt: u32, spec: &RetrySpec) -> Option<Duration> {
    if attempt >= spec.max_attempts {
        return None;
    }
    // The number of this retry counting from 0 (X in Meta's 4^X), capped so the wait cannot overflow.
    let x = attempt.saturating_sub(1).min(20);
    match policy(o) {
        Policy::Never => None,
        Policy::WaitUnavailable => Some(spec.unavailable_wait.0),
        Policy::WaitUpgrade => Some(spec.upgrade_wait.0),
        Policy::PairRate => Some(spec.pair_backoff.0.saturating_mul(4u32.pow(x.min(15)))),
        Policy::Backoff => Some(spec.backoff.0.saturating_mul(2u32.pow(x)).min(spec.max_backoff.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::Dur;

    #[test]
    fn codes_are_read_from_both_error_shapes() {
        let cloud = br#"{"error":{"message":"(#131056) pair rate limit hit","type":"OAuthException","code":131056,"error_data":{"messaging_product":"whatsapp","details":"x"},"fbtrace_id":"A"}}"#;
        assert_eq!(outcome(StatusCode::BAD_REQUEST, cloud), Outcome::ApiError(131056));
        let onprem = br#"{"errors":[{"code":1015,"title":"Too many requests","details":"x"}],"meta":{}}"#;
        assert_eq!(outcome(StatusCode::TOO_MANY_REQUESTS, onprem), Outcome::ApiError(1015));
        assert_eq!(outcome(StatusCode::BAD_GATEWAY, b"<html>bad gateway</html>"), Outcome::Status(502));
        assert_eq!(outcome(StatusCode::CREATED, b"{}"), Outcome::Ok);
        // Template errors: 404 for a template that does not exist, 400 for the others, by code.
        let missing = br#"{"error":{"message":"(#132001) Template name does not exist in the translation","type":"OAuthException","code":132001,"error_data":{"messaging_product":"whatsapp","details":"template name (x) does not exist in en_US"},"fbtrace_id":"A"}}"#;
        assert_eq!(outcome(StatusCode::NOT_FOUND, missing), Outcome::ApiError(132001));
        assert_eq!(policy(outcome(StatusCode::NOT_FOUND, missing)), Policy::Never);
    }

    #[test]
    fn retry_policy_by_code() {
        let spec = RetrySpec::default();
        for never in [190, 131026, 131047, 131049, 131053, 131062, 132000, 132001, 132012, 132015, 132016, 100, 368] {
            assert_eq!(retry_after(Outcome::ApiError(never), 1, &spec), None, "{never}");
        }
        assert_eq!(retry_after(Outcome::Timeout, 1, &spec), None, "a timed-out send may have been accepted");
        assert_eq!(retry_after(Outcome::ApiError(2), 1, &spec), Some(Duration::from_secs(300)));
        assert_eq!(retry_after(Outcome::ApiError(131057), 1, &spec), Some(Duration::from_secs(60)));
        assert_eq!(retry_after(Outcome::ApiError(131057), 3, &spec), Some(Duration::from_secs(60)));
    }

    #[test]
    fn pair_rate_limit_waits_4_to_the_x_seconds() {
        let spec = RetrySpec::default();
        let waits: Vec<_> = (1..=6).map(|a| retry_after(Outcome::ApiError(131056), a, &spec)).collect();
        let s = |n| Some(Duration::from_secs(n));
        assert_eq!(waits, [s(1), s(4), s(16), s(64), s(256), None], "Meta: 4^X s, X from 0; 6 attempts");
        // The retries outlast the longest debt a burst can run up (45 × 6 s = 270 s).
        let total: Duration = waits.iter().flatten().sum();
        assert!(total > Duration::from_secs(270), "{total:?}");
        let fast = RetrySpec { pair_backoff: Dur(Duration::from_millis(50)), ..spec };
        assert_eq!(retry_after(Outcome::ApiError(131056), 3, &fast), Some(Duration::from_millis(800)));
    }

    #[test]
    fn throttling_and_transient_errors_back_off_exponentially() {
        let spec = RetrySpec::default();
        for o in [130429, 4, 80007, 131000, 131016, 1, 1014, 1015, 1016]
            .map(Outcome::ApiError)
            .into_iter()
            .chain([429, 500, 502, 503, 504].map(Outcome::Status))
        {
            let waits: Vec<_> = (1..=6).map(|a| retry_after(o, a, &spec)).collect();
            let ms = |n| Some(Duration::from_millis(n));
            assert_eq!(waits, [ms(500), ms(1000), ms(2000), ms(4000), ms(8000), None], "{o}");
        }
        // Capped at max_backoff, and no longer giving up after 1.5 s as three attempts did.
        let spec = RetrySpec { max_attempts: 12, ..spec };
        assert_eq!(retry_after(Outcome::ApiError(130429), 11, &spec), Some(Duration::from_secs(30)));
        let total: Duration = (1..12).filter_map(|a| retry_after(Outcome::ApiError(130429), a, &spec)).sum();
        assert!(total > Duration::from_secs(60), "{total:?}");
    }
}
