//! How a webhook endpoint fared against Meta's expectations of webhook servers: "median latency not
//! over 250 ms; under 1 % over 1 s" (Meta, "Webhooks"). Computed from a `kind = "webhook"`
//! target's whole-run histograms, so a run, a merge and a recovery all give the same figures.
//!
//! Every POST attempt counts (re-deliveries included; dropped and cancelled ones were never answered
//! by the endpoint and do not). An attempt is "within" a bound only when it was answered 200 within
//! it, measured from its intended start: Meta re-delivers anything else, so a 500 or a timeout is as
//! bad as a slow answer. The median is within 250 ms exactly when at least half the attempts are.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::outcome_tag;

/// Meta's median bound, in µs.
pub const MEDIAN_BOUND_US: u64 = 250_000;
/// Meta's tail bound, in µs, and the most attempts that may exceed it.
pub const TAIL_BOUND_US: u64 = 1_000_000;
pub const TAIL_SHARE: f64 = 0.01;

/// A webhook endpoint's figures against Meta's expectations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WebhookSlo {
    /// POST attempts the endpoint was sent (first deliveries and re-deliveries).
    pub attempts: u64,
    /// Attempts answered 200 within 250 ms / within 1 s.
    pub ok_within_250ms: u64,
    pub ok_within_1s: u64,
    /// `ok_within_250ms / attempts`.
    pub share_within_250ms: f64,
    /// Attempts not answered 200 within 1 s (slower, another status, no answer) over all attempts.
    pub share_over_1s: f64,
    /// At least half the attempts answered 200 within 250 ms.
    pub median_ok: bool,
    /// Under 1 % of the attempts over 1 s (or not answered 200).
    pub tail_ok: bool,
    /// Both.
    pub meets: bool,
}

impl WebhookSlo {
    /// The figures of outcome counts (by key) and the whole-run histograms by tag.
    pub fn of(outcomes: &[(String, u64)], totals: &BTreeMap<String, Histogram<u64>>) -> WebhookSlo {
        let attempts: u64 = outcomes.iter().filter(|(k, _)| k != "dropped" && k != "cancelled").map(|(_, c)| *c).sum();
        let ok = totals.get(&outcome_tag("ok"));
        // To the histogram's precision (3 significant digits).
        let within = |bound: u64| ok.map_or(0, |h| h.count_between(0, bound));
        let (w250, w1s) = (within(MEDIAN_BOUND_US), within(TAIL_BOUND_US));
        let share = |n: u64| if attempts == 0 { 0.0 } else { n as f64 / attempts as f64 };
        let median_ok = attempts > 0 && 2 * w250 >= attempts;
        let share_over_1s = if attempts == 0 { 0.0 } else { 1.0 - share(w1s) };
        let tail_ok = attempts > 0 && share_over_1s < TAIL_SHARE;
        WebhookSlo {
            attempts,
            ok_within_250ms: w250,
            ok_within_1s: w1s,
            share_within_250ms: share(w250),
            share_over_1s,
            median_ok,
            tail_ok,
            meets: median_ok && tail_ok,
        }
    }

    /// One line for people: "meets" or "misses", and why.
    pub fn verdict(&self) -> String {
        let mut why = Vec::new();
        if !self.median_ok {
            why.push("median over 250 ms");
        }
        if !self.tail_ok {
            why.push("1 % or more over 1 s");
        }
        if self.meets {
            "meets Meta's expectation".into()
        } else {
            format!("misses Meta's expectation ({})", why.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::histogram;

    fn totals(ok_ms: &[u64]) -> BTreeMap<String, Histogram<u64>> {
        let mut h = histogram();
        for ms in ok_ms {
            h.record(ms * 1000).unwrap();
        }
        BTreeMap::from([(outcome_tag("ok"), h)])
    }

    #[test]
    fn fast_endpoint_meets_it() {
        let t = totals(&vec![5; 200]);
        let s = WebhookSlo::of(&[("ok".into(), 200), ("dropped".into(), 7)], &t);
        assert_eq!((s.attempts, s.ok_within_250ms, s.ok_within_1s), (200, 200, 200));
        assert!(s.meets && s.share_over_1s == 0.0 && s.share_within_250ms == 1.0, "{s:?}");
        assert_eq!(s.verdict(), "meets Meta's expectation");
    }

    #[test]
    fn errors_and_slow_answers_count_against_it() {
        // 98 fast, 2 answered 200 after 1.5 s, 1 answered 500, 1 timed out: 3 of 102 over 1 s.
        let mut ok = vec![10; 98];
        ok.extend([1500, 1500]);
        let s = WebhookSlo::of(&[("ok".into(), 100), ("http_500".into(), 1), ("timeout".into(), 1)], &totals(&ok));
        assert_eq!((s.attempts, s.ok_within_250ms, s.ok_within_1s), (102, 98, 98));
        assert!(s.median_ok && !s.tail_ok && !s.meets);
        assert!((s.share_over_1s - 4.0 / 102.0).abs() < 1e-9);
        assert!(s.verdict().contains("over 1 s"), "{}", s.verdict());
        // Mostly 500s: the median fails too.
        let s = WebhookSlo::of(&[("ok".into(), 2), ("http_500".into(), 8)], &totals(&[1, 1]));
        assert!(!s.median_ok && !s.meets);
        assert!(!WebhookSlo::of(&[], &BTreeMap::new()).meets, "nothing measured meets nothing");
    }
}
