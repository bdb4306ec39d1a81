//! Transient errors of message sends: the seeded draw (a pure function of the request's random key)
//! and the answers, per flavor. Rates and sources are in `spec::sim::transient`.
//!
//! A send drawn for a transient error fails before the API looks at it (no quota is used, nothing is
//! sent): Cloud 131000 (HTTP 500) or code 1 (HTTP 400), On-Premises 1014 (HTTP 500), or an HTTP
//! 502 / 503 / 504 with no API body. A stalled send goes through but is answered only after
//! `stall_for`.

use http::{Method, StatusCode};
use serde_json::json;

use super::config::Flavor;
use super::config::transient::Rates;
use super::h1::Req;
use super::model::{mix64, trace_id};
use super::{Ctx, Outcome, Reply, State};

/// Salt that keeps the transient draw independent of the latency sample of the same request.
const SALT: u64 = 0x7A45_1E47;

/// A transient failure of one send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transient {
    /// Cloud 131000 / On-Premises 1014, HTTP 500.
    ServerError,
    /// Cloud code 1, HTTP 400.
    UnknownError,
    /// This HTTP status (502, 503 or 504) with an empty body.
    Bare5xx(u16),
    /// The answer is held for `stall_for`.
    Stall,
}

/// The transient error (if any) of the request with random key `key`: one uniform draw per request,
/// compared with the cumulative rates.
pub fn draw(rates: &Rates, key: u64) -> Option<Transient> {
    if rates.total() <= 0.0 {
        return None;
    }
    let h = mix64(key ^ SALT);
    let u = (h >> 11) as f64 / (1u64 << 53) as f64;
    let mut edge = rates.server_error;
    if u < edge {
        return Some(Transient::ServerError);
    }
    edge += rates.unknown_error;
    if u < edge {
        return Some(Transient::UnknownError);
    }
    edge += rates.bare_5xx;
    if u < edge {
        return Some(Transient::Bare5xx([502, 503, 504][(mix64(h) % 3) as usize]));
    }
    edge += rates.stall;
    (u < edge).then_some(Transient::Stall)
}

/// Whether the request is a message send (`POST …/messages`), the only requests that fail this way.
pub(crate) fn is_send(req: &Req) -> bool {
    req.method() == Method::POST && req.path().trim_end_matches('/').ends_with("/messages")
}

/// The transient error of this request, if it is a send and the draw says so.
pub(crate) fn of_request(st: &State, req: &Req, ctx: Ctx) -> Option<Transient> {
    if !is_send(req) {
        return None;
    }
    draw(&st.cfg.transient.rates(st.cfg.flavor), ctx.key)
}

/// The answer that replaces the API's for `t`; `None` for a stall (the API answers, late).
pub(crate) fn reply(st: &State, t: Transient, ctx: Ctx) -> Option<Reply> {
    let (status, code, title, details) = match (t, st.cfg.flavor) {
        (Transient::Stall, _) => return None,
        (Transient::Bare5xx(s), _) => {
            let status = StatusCode::from_u16(s).unwrap_or(StatusCode::BAD_GATEWAY);
            return Some(Reply::new(status, Vec::new(), Outcome::NoBody));
        }
        (Transient::ServerError, Flavor::Cloud) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            131000,
            "Something went wrong",
            "Message failed to send because of an unknown error. Try again later.",
        ),
        (Transient::UnknownError, Flavor::Cloud) => {
            (StatusCode::BAD_REQUEST, 1, "An unknown error occurred", "Invalid request or possible server error.")
        }
        (Transient::ServerError | Transient::UnknownError, Flavor::OnPrem) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            1014,
            "Internal error",
            "Upload failed due to an internal error. Try again later.",
        ),
    };
    let body = match st.cfg.flavor {
        Flavor::Cloud => json!({
            "error": {
                "message": format!("(#{code}) {title}"),
                "type": "OAuthException",
                "code": code,
                "error_data": {"messaging_product": "whatsapp", "details": details},
                "fbtrace_id": trace_id(ctx.key),
            }
        }),
        Flavor::OnPrem => json!({
            "errors": [{"code": code, "title": title, "details": details}],
            "meta": {"api_status": "stable", "version": st.cfg.onprem.version},
        }),
    };
    Some(Reply::new(status, body.to_string(), Outcome::Error(code)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::model::request_key;

    /// Draws of `n` seeded requests: counts of (server, unknown, bare, stall).
    fn counts(rates: &Rates, seed: u64, n: u64) -> [u64; 4] {
        let mut c = [0; 4];
        for i in 0..n {
            match draw(rates, request_key(seed, i)) {
                Some(Transient::ServerError) => c[0] += 1,
                Some(Transient::UnknownError) => c[1] += 1,
                Some(Transient::Bare5xx(s)) => {
                    assert!([502, 503, 504].contains(&s));
                    c[2] += 1
                }
                Some(Transient::Stall) => c[3] += 1,
                None => {}
            }
        }
        c
    }

    /// True when `k` successes of `n` draws lie within 4.5 standard deviations of the binomial mean.
    fn within_binomial(k: u64, n: u64, p: f64) -> bool {
        let mean = n as f64 * p;
        let sd = (n as f64 * p * (1.0 - p)).sqrt();
        (k as f64 - mean).abs() <= 4.5 * sd.max(1.0)
    }

    #[test]
    fn rates_hold_within_binomial_bounds() {
        let rates = Rates { server_error: 0.05, unknown_error: 0.01, bare_5xx: 0.02, stall: 0.005 };
        let n = 4000;
        for seed in [1, 7, 42] {
            let c = counts(&rates, seed, n);
            let ps = [rates.server_error, rates.unknown_error, rates.bare_5xx, rates.stall];
            for (k, p) in c.iter().zip(ps) {
                assert!(within_binomial(*k, n, p), "seed {seed}: {c:?} for {ps:?}");
            }
        }
    }

    #[test]
    fn zero_rates_never_fail_and_draws_reproduce() {
        assert_eq!(counts(&Rates::default(), 3, 4000), [0; 4]);
        let rates = Rates { server_error: 0.1, ..Rates::default() };
        let a: Vec<_> = (0..1000).map(|i| draw(&rates, request_key(9, i))).collect();
        let b: Vec<_> = (0..1000).map(|i| draw(&rates, request_key(9, i))).collect();
        assert_eq!(a, b);
        let c: Vec<_> = (0..1000).map(|i| draw(&rates, request_key(10, i))).collect();
        assert_ne!(a, c, "another seed, other requests fail");
    }

    #[test]
    fn only_sends_fail() {
        let req = |m: Method, p: &str| Req::new(m, p, None, Ok(bytes::Bytes::new()));
        assert!(is_send(&req(Method::POST, "/v23.0/123/messages")));
        assert!(is_send(&req(Method::POST, "/v1/messages")));
        assert!(!is_send(&req(Method::POST, "/v1/users/login")));
        assert!(!is_send(&req(Method::GET, "/v1/health")));
        assert!(!is_send(&req(Method::PUT, "/v1/messages/gBEG")));
    }
}
