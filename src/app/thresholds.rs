//! Judging thresholds: on a finished run's per-target results (the verdicts stored in run.json), and on
//! the live figures of a target still running (`abort_on_fail`).

use hdrhistogram::Histogram;

use crate::results::{Summary, TargetResult, Verdict};
use crate::spec::threshold::{Hist, Metric, Stat, Threshold};

/// The threshold's verdict on every target it applies to.
pub fn evaluate(th: &Threshold, targets: &[TargetResult]) -> Vec<Verdict> {
    targets
        .iter()
        .filter(|t| th.target.as_ref().is_none_or(|n| n == &t.name))
        .map(|t| {
            let actual = actual(&th.metric, t);
            Verdict {
                threshold: th.expr.clone(),
                target: t.name.clone(),
                actual,
                limit: th.limit,
                op: th.op.as_str().to_string(),
                passed: actual.is_some_and(|a| th.op.holds(a, th.limit)),
                shown: th.show(actual),
            }
        })
        .collect()
}

/// Every threshold's verdicts, in the profile's order.
pub fn evaluate_all(ths: &[Threshold], targets: &[TargetResult]) -> Vec<Verdict> {
    ths.iter().flat_map(|t| evaluate(t, targets)).collect()
}

/// Judge on live figures of a target that is still running: only thresholds on the latency from the
/// intended start, the error rate and the drop rate, and only once `min` requests were sent.
/// `Some(description)` when the threshold is already crossed.
pub fn crossed_live(
    th: &Threshold,
    target: &str,
    sent: u64,
    errors: u64,
    dropped: u64,
    latency: Option<&Histogram<u64>>,
    min: u64,
) -> Option<String> {
    if th.target.as_ref().is_some_and(|t| t != target) || sent < min {
        return None;
    }
    let actual = match &th.metric {
        Metric::Latency { hist: Hist::Latency, stat } => stat.of(latency.filter(|h| h.len() >= min)?),
        Metric::ErrorRate => errors as f64 / sent as f64,
        Metric::DropRate => dropped as f64 / (sent + dropped) as f64,
        _ => return None,
    };
    (!th.op.holds(actual, th.limit)).then(|| format!("{} on {target}: {} so far", th.expr, th.show(Some(actual))))
}

fn stat_of(stat: Stat, s: &Summary) -> f64 {
    match stat {
        Stat::P50 => s.p50 as f64,
        Stat::P90 => s.p90 as f64,
        Stat::P99 => s.p99 as f64,
        Stat::P999 => s.p999 as f64,
        Stat::Max => s.max as f64,
        Stat::Min => s.min as f64,
        Stat::Mean => s.mean,
    }
}

fn actual(metric: &Metric, t: &TargetResult) -> Option<f64> {
    let r = &t.requests;
    match metric {
        Metric::Latency { hist, stat } => {
            let s = match hist {
                Hist::Latency => &t.latency_us,
                Hist::ServiceTime => &t.service_time_us,
                Hist::Lateness => &t.lateness_us,
            };
            (s.count > 0).then(|| stat_of(*stat, s))
        }
        Metric::ErrorRate => (r.sent > 0).then(|| r.errors as f64 / r.sent as f64),
        Metric::DropRate => {
            let due = r.sent + r.dropped;
            (due > 0).then(|| r.dropped as f64 / due as f64)
        }
        Metric::RateRatio => t.rate.ratio,
        Metric::Rate => Some(t.rate.achieved),
        Metric::Count(k) => Some(t.outcomes.iter().find(|o| &o.key == k).map_or(0, |o| o.count) as f64),
        // Only webhook targets have these (no data, a failed verdict, on any other).
        Metric::WebhookWithin250ms => t.webhook_slo.as_ref().filter(|s| s.attempts > 0).map(|s| s.share_within_250ms),
        Metric::WebhookOver1s => t.webhook_slo.as_ref().filter(|s| s.attempts > 0).map(|s| s.share_over_1s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_judgement_waits_for_enough_requests() {
        let t = Threshold::parse("error_rate", "< 1%").unwrap();
        assert_eq!(crossed_live(&t, "a", 50, 10, 0, None, 100), None, "too few requests yet");
        assert!(crossed_live(&t, "a", 200, 10, 0, None, 100).unwrap().contains("error_rate"));
        assert_eq!(crossed_live(&t, "a", 200, 1, 0, None, 100), None);
        let mut h = crate::results::histogram();
        for v in 1..=200u64 {
            h.record(v * 10_000).unwrap();
        }
        let p = Threshold::parse("b:latency.p99", "< 1s").unwrap();
        assert_eq!(crossed_live(&p, "a", 200, 0, 0, Some(&h), 100), None, "another target's threshold");
        assert!(crossed_live(&p, "b", 200, 0, 0, Some(&h), 100).is_some(), "p99 ≈ 1.98 s");
        assert_eq!(
            crossed_live(&Threshold::parse("rate_ratio", "> 0.9").unwrap(), "b", 500, 0, 0, Some(&h), 100),
            None
        );
    }
}
