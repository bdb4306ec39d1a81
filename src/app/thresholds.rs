//! Judging thresholds: on a finished run's per-target results (the verdicts stored in run.json), and on
//! the live figures of a target still running (`abort_on_fail`).

use hdrhistogram::Histogram;

use crate::results::{Fates, Summary, TargetResult, Verdict};
use crate::spec::threshold::{Conversation, Delivery, DeliveryHist, Hist, Metric, Stat, Threshold};

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
                shown: shown(th, t, actual),
            }
        })
        .collect()
}

/// Every threshold's verdicts, in the profile's order.
pub fn evaluate_all(ths: &[Threshold], targets: &[TargetResult]) -> Vec<Verdict> {
    ths.iter().flat_map(|t| evaluate(t, targets)).collect()
}

/// Judge on live figures of a target that is still running: only thresholds on the latency from the
/// intended start, the error rates (the failures answered at send: webhooks come later) and the drop
/// rate, and only once `min` requests were sent.
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
        Metric::ErrorRate | Metric::SendErrorRate => errors as f64 / sent as f64,
        Metric::DropRate => dropped as f64 / (sent + dropped) as f64,
        _ => return None,
    };
    (!th.op.holds(actual, th.limit)).then(|| format!("{} on {target}: {} so far", th.expr, th.show(Some(actual))))
}

/// The statistic from a results summary; `None` for a percentile these results do not keep (an older
/// file, an import that did not give it): no data, never a made-up value.
fn stat_of(stat: Stat, s: &Summary) -> Option<f64> {
    Some(match stat {
        Stat::Percentile(name) => s.percentile(name)? as f64,
        Stat::Max => s.max as f64,
        Stat::Min => s.min as f64,
        Stat::Mean => s.mean,
    })
}

/// The actual value as a person reads it, with what an error rate counted on this target.
fn shown(th: &Threshold, t: &TargetResult, actual: Option<f64>) -> String {
    let value = th.show(actual);
    let f = Fates::of(t);
    match &th.metric {
        Metric::ErrorRate if actual.is_some() => match &f.delivery {
            Some(_) => format!(
                "{value} ({} failed at send + {} in webhooks of {} sent)",
                f.failed_at_send,
                f.failed_in_webhook(),
                f.sent
            ),
            None if t.is_whatsapp() => format!("{value} (at send only: delivery not tracked)"),
            None => value,
        },
        Metric::SendErrorRate if actual.is_some() => format!("{value} ({} of {} sent)", f.failed_at_send, f.sent),
        Metric::Delivery(_) if !f.tracked() => "no data: delivery not tracked".into(),
        _ => value,
    }
}

fn delivery_latency(hist: DeliveryHist, stat: Stat, t: &TargetResult) -> Option<f64> {
    let l = &t.delivery.as_ref()?.latency_us;
    let s = match hist {
        DeliveryHist::AcceptToSent => &l.accept_to_sent,
        DeliveryHist::AcceptToDelivered => &l.accept_to_delivered,
        DeliveryHist::AcceptToRead => &l.accept_to_read,
        DeliveryHist::SendStartToDelivered => &l.send_start_to_delivered,
    };
    (s.count > 0).then(|| stat_of(stat, s)).flatten()
}

fn actual(metric: &Metric, t: &TargetResult) -> Option<f64> {
    let r = &t.requests;
    let fates = || Fates::of(t);
    match metric {
        Metric::Latency { hist, stat } => {
            let s = match hist {
                Hist::Latency => &t.latency_us,
                Hist::ServiceTime => &t.service_time_us,
                Hist::Lateness => &t.lateness_us,
            };
            (s.count > 0).then(|| stat_of(*stat, s)).flatten()
        }
        Metric::ErrorRate => fates().error_rate(),
        Metric::SendErrorRate => fates().send_error_rate(),
        Metric::Delivery(d) => match *d {
            Delivery::FailedRate(code) => fates().failed_rate(code),
            Delivery::DeliveredRate => fates().delivered_rate(),
            Delivery::LostRate => fates().lost_rate(),
            Delivery::Latency { hist, stat } => delivery_latency(hist, stat, t),
        },
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
        // Only conversation targets have these; one without turns has no data (a failed verdict).
        Metric::Conversation(c) => {
            let s = t.conversation.as_ref().filter(|s| s.turns > 0)?;
            match *c {
                Conversation::Unanswered => Some(s.unanswered_rate()),
                Conversation::FailedReplies => Some(s.failed() as f64),
                Conversation::RepliesPerTurn => Some(s.replies_per_turn()),
                Conversation::FirstReply(stat) => {
                    (s.reply_latency_us.count > 0).then(|| stat_of(stat, &s.reply_latency_us)).flatten()
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Cloud target: 500 messages sent, all accepted, 244 failed later (240 × 131047, 4 × 131026).
    fn campaign(tracked: bool) -> TargetResult {
        let mut t: TargetResult = serde_json::from_value(serde_json::json!({
            "name": "cloud", "kind": "cloud", "url": "embedded", "model": "open", "connections": 1, "threads": 1,
            "started_at": "2025-01-01T00:00:00Z", "duration_s": 1.0, "interrupted": false,
            "requests": {"planned": 500, "sent": 500, "ok": 500, "errors": 0, "dropped": 0, "cancelled": 0},
            "rate": {"requested": null, "achieved": 0.0, "ratio": null},
            "latency_us": Summary::default(), "service_time_us": Summary::default(),
            "lateness_us": Summary::default(), "outcomes": [], "hlog": "cloud.hlog"
        }))
        .unwrap();
        let mut d: crate::results::DeliveryStats = serde_json::from_value(serde_json::json!({
            "accepted": 500, "statuses": {"sent":0,"delivered":0,"read":0,"failed":0,"played":0,"other":0},
            "failed_by_code": {}, "failed_without_code": 0, "messages_delivered": 250, "messages_failed": 244,
            "delivered_and_failed": 0, "duplicates": 0, "duplicate_accepts": 0, "out_of_order": 0,
            "early_statuses": 0, "unknown_ids": 0, "awaiting_accept": 0, "expired": 0, "overflow": 0,
            "in_flight": 0, "lost": 6, "tracked": 0, "latency_us": crate::results::LatencySummary::default()
        }))
        .unwrap();
        d.messages_failed_by_code = [(131047, 240), (131026, 4)].into_iter().collect();
        d.latency_us.accept_to_delivered = Summary { count: 250, p50: 900_000, p99: 3_000_000, ..Summary::default() };
        t.delivery = tracked.then_some(d);
        t
    }

    fn verdict(key: &str, value: &str, t: &TargetResult) -> Verdict {
        evaluate(&Threshold::parse(key, value).unwrap(), std::slice::from_ref(t)).remove(0)
    }

    #[test]
    fn error_rate_counts_failures_in_webhooks_and_delivery_metrics_are_judged() {
        let t = campaign(true);
        let e = verdict("error_rate", "< 2%", &t);
        assert!(!e.passed, "{e:?}");
        assert_eq!(e.actual, Some(0.488));
        assert!(e.shown.contains("0 failed at send + 244 in webhooks of 500 sent"), "{}", e.shown);
        assert!(verdict("send_error_rate", "< 2%", &t).passed);
        assert!(!verdict("delivery.failed_rate", "< 2%", &t).passed);
        assert_eq!(verdict("delivery.failed_rate.131047", "< 2%", &t).actual, Some(0.48));
        assert!(verdict("delivery.failed_rate.131056", "== 0", &t).passed, "a code that never failed");
        assert!(verdict("delivery.delivered_rate", ">= 50%", &t).passed);
        assert!(!verdict("delivery.lost_rate", "== 0", &t).passed);
        assert!(verdict("delivery.accept_to_delivered.p99", "< 5s", &t).passed);
        assert!(!verdict("delivery.accept_to_delivered.p50", "< 500ms", &t).passed);
        let no_reads = verdict("delivery.accept_to_read.p99", "< 5s", &t);
        assert_eq!((no_reads.passed, no_reads.shown.as_str()), (false, "no data"));
    }

    #[test]
    fn without_status_webhooks_the_verdicts_say_delivery_was_not_tracked() {
        let t = campaign(false);
        let e = verdict("error_rate", "< 2%", &t);
        assert!(e.passed);
        assert!(e.shown.contains("at send only: delivery not tracked"), "{}", e.shown);
        let d = verdict("delivery.failed_rate", "< 2%", &t);
        assert_eq!((d.passed, d.shown.as_str()), (false, "no data: delivery not tracked"));
    }

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
