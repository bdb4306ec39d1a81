//! Judging thresholds: on a finished run's per-target results (the verdicts stored in run.json), and on
//! the live figures of a target still running (`abort_on_fail`). A percentile run.json does not keep
//! (`latency.p99.5`) is read from the target's whole-run histogram in the results folder.

use std::path::Path;

use hdrhistogram::Histogram;

use crate::results::{self, Fates, Summary, TargetResult, Verdict, files, hlog};
use crate::spec::threshold::{Conversation, Delivery, DeliveryHist, Hist, Metric, Stat, Threshold};

/// Where judging reads a target's whole-run histograms for a percentile run.json does not keep: a
/// results folder's `<target>.totals.hlog` (tags `latency`, `service_time`, `lateness`; without that
/// file, the latency of the interval log `<target>.hlog`) and `<target>.delivery.hlog`.
#[derive(Debug, Clone, Copy)]
pub struct Histograms<'a> {
    dir: Option<&'a Path>,
}

impl<'a> Histograms<'a> {
    /// No histograms: only what run.json keeps can be judged.
    pub const NONE: Histograms<'static> = Histograms { dir: None };

    /// The histograms of the results folder `dir` (its files written before judging).
    pub fn folder(dir: &'a Path) -> Histograms<'a> {
        Histograms { dir: Some(dir) }
    }

    /// The histogram tagged `tag` in `file` of this folder, all its intervals added; an error says why
    /// there is none (no folder, no file, no such tag, no interval).
    fn whole(&self, t: &TargetResult, file: &str, tag: &str) -> Result<Histogram<u64>, String> {
        let dir = self.dir.ok_or("these results have no whole-run histograms")?;
        let (path, interval_log) = match dir.join(file) {
            p if p.is_file() => (p, false),
            // Results without a totals log (older ones) have the latency in their interval log.
            _ if file == files::totals_name(&t.name)
                && tag == results::TAG_LATENCY
                && !t.hlog.contains(['/', '\\']) =>
            {
                (dir.join(&t.hlog), true)
            }
            p => return Err(format!("{} is missing", p.display())),
        };
        let wanted = |e: &hlog::Entry| match interval_log {
            true => e.tag.as_deref().is_none_or(|x| x == t.name),
            false => e.tag.as_deref() == Some(tag),
        };
        let mut h = results::histogram();
        for e in hlog::Reader::open(&path).map_err(|e| e.to_string())? {
            let e = e.map_err(|e| e.to_string())?;
            if wanted(&e) {
                h.add(&e.histogram).map_err(|e| format!("{}: values out of range ({e:?})", path.display()))?;
            }
        }
        match h.is_empty() {
            true => Err(format!("{} holds no {tag} histogram", path.display())),
            false => Ok(h),
        }
    }
}

/// The threshold's verdict on every target it applies to; `hists` gives a percentile run.json does
/// not keep (without it, such a verdict fails with "no data" and says why: never a silent pass).
pub fn evaluate(th: &Threshold, targets: &[TargetResult], hists: Histograms) -> Vec<Verdict> {
    targets
        .iter()
        .filter(|t| th.target.as_ref().is_none_or(|n| n == &t.name))
        .map(|t| {
            let (actual, missing) = match actual(&th.metric, t, hists) {
                Ok(a) => (a, None),
                Err(why) => (None, Some(why)),
            };
            Verdict {
                threshold: th.expr.clone(),
                target: t.name.clone(),
                actual,
                limit: th.limit,
                op: th.op.as_str().to_string(),
                passed: actual.is_some_and(|a| th.op.holds(a, th.limit)),
                shown: missing.map_or_else(|| shown(th, t, actual), |why| format!("no data: {why}")),
            }
        })
        .collect()
}

/// Every threshold's verdicts, in the profile's order.
pub fn evaluate_all(ths: &[Threshold], targets: &[TargetResult], hists: Histograms) -> Vec<Verdict> {
    ths.iter().flat_map(|t| evaluate(t, targets, hists)).collect()
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

/// The statistic of a target's latency: from its results summary, or for a percentile the summary does
/// not keep (`p99.5`; `p75` in an older file) from the whole-run histogram tagged `tag` in `file`.
/// `Ok(None)` when nothing was measured; `Err` when the histogram cannot be had (an aggregate-only
/// import, a missing file), naming the percentiles run.json keeps: no data, never a made-up value.
fn stat_of(
    stat: Stat,
    s: &Summary,
    t: &TargetResult,
    hists: Histograms,
    file: &str,
    tag: &str,
) -> Result<Option<f64>, String> {
    if s.count == 0 {
        return Ok(None);
    }
    Ok(Some(match stat {
        Stat::Percentile(name) => match s.percentile(name) {
            Some(v) => v as f64,
            None => stat.of(&hists.whole(t, file, tag).map_err(|why| {
                format!(
                    "{name} is not among the percentiles run.json keeps ({}) and cannot be read from a histogram: {why}",
                    crate::units::percentile::kept_names()
                )
            })?),
        },
        Stat::Max => s.max as f64,
        Stat::Min => s.min as f64,
        Stat::Mean => s.mean,
    }))
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

fn delivery_latency(
    hist: DeliveryHist,
    stat: Stat,
    t: &TargetResult,
    hists: Histograms,
) -> Result<Option<f64>, String> {
    let Some(d) = t.delivery.as_ref() else { return Ok(None) };
    let l = &d.latency_us;
    let s = match hist {
        DeliveryHist::AcceptToSent => &l.accept_to_sent,
        DeliveryHist::AcceptToDelivered => &l.accept_to_delivered,
        DeliveryHist::AcceptToRead => &l.accept_to_read,
        DeliveryHist::SendStartToDelivered => &l.send_start_to_delivered,
    };
    stat_of(stat, s, t, hists, &files::delivery_hlog_name(&t.name), hist.name())
}

/// The measured value; `Err` says why a statistic that was measured cannot be read.
fn actual(metric: &Metric, t: &TargetResult, hists: Histograms) -> Result<Option<f64>, String> {
    let r = &t.requests;
    let fates = || Fates::of(t);
    Ok(match metric {
        Metric::Latency { hist, stat } => {
            let (s, tag) = match hist {
                Hist::Latency => (&t.latency_us, results::TAG_LATENCY),
                Hist::ServiceTime => (&t.service_time_us, results::TAG_SERVICE_TIME),
                Hist::Lateness => (&t.lateness_us, results::TAG_LATENESS),
            };
            return stat_of(*stat, s, t, hists, &files::totals_name(&t.name), tag);
        }
        Metric::ErrorRate => fates().error_rate(),
        Metric::SendErrorRate => fates().send_error_rate(),
        Metric::Delivery(d) => match *d {
            Delivery::FailedRate(code) => fates().failed_rate(code),
            Delivery::DeliveredRate => fates().delivered_rate(),
            Delivery::LostRate => fates().lost_rate(),
            Delivery::Latency { hist, stat } => return delivery_latency(hist, stat, t, hists),
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
            let Some(s) = t.conversation.as_ref().filter(|s| s.turns > 0) else { return Ok(None) };
            match *c {
                Conversation::Unanswered => Some(s.unanswered_rate()),
                Conversation::FailedReplies => Some(s.failed() as f64),
                Conversation::RepliesPerTurn => Some(s.replies_per_turn()),
                Conversation::FirstReply(stat) => {
                    let file = files::replies_hlog_name(&t.name);
                    return stat_of(stat, &s.reply_latency_us, t, hists, &file, results::conversation::REPLY_TAG);
                }
            }
        }
    })
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
        evaluate(&Threshold::parse(key, value).unwrap(), std::slice::from_ref(t), Histograms::NONE).remove(0)
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
        // Any percentile, from the live histogram: p97 of 10 ms … 2 s is 1.94 s, p99.5 is 1.99 s.
        let live = |k: &str, v: &str| crossed_live(&Threshold::parse(k, v).unwrap(), "b", 200, 0, 0, Some(&h), 100);
        assert!(live("latency.p97", "< 1.9s").unwrap().contains("latency.p97 < 1.9s on b: 1.94s so far"));
        assert_eq!(live("latency.p97", "< 1.95s"), None);
        assert!(live("latency.p99.5", "< 1.98s").is_some());
        assert_eq!(live("latency.p99.5", "< 2s"), None);
    }

    /// An HTTP target whose whole-run latencies are `values` (µs), with its totals log written in `dir`
    /// as a run writes it.
    fn measured(dir: &Path, values: impl IntoIterator<Item = u64>) -> (TargetResult, Histogram<u64>) {
        let mut h = results::histogram();
        for v in values {
            h.record(v).unwrap();
        }
        let mut t = campaign(false);
        t.kind = "http".into();
        t.latency_us = Summary::of(&h);
        let totals: std::collections::BTreeMap<String, Histogram<u64>> =
            [(results::TAG_LATENCY.to_string(), h.clone())].into_iter().collect();
        let mut buf = Vec::new();
        hlog::write_map(&mut buf, std::time::SystemTime::UNIX_EPOCH, "test", &totals, std::time::Duration::ZERO)
            .unwrap();
        std::fs::write(dir.join(files::totals_name(&t.name)), buf).unwrap();
        (t, h)
    }

    #[test]
    fn a_percentile_run_json_does_not_keep_is_read_from_the_whole_run_histogram() {
        let dir = tempfile::tempdir().unwrap();
        let (t, h) = measured(dir.path(), (1..=1000).map(|i| i * 100));
        let judge = |k: &str, v: &str, hists| {
            evaluate(&Threshold::parse(k, v).unwrap(), std::slice::from_ref(&t), hists).remove(0)
        };
        let folder = Histograms::folder(dir.path());
        let v = judge("latency.p99.5", "< 1s", folder);
        assert_eq!(v.actual, Some(h.value_at_quantile(0.995) as f64));
        assert!(v.passed && v.shown == "99.52ms", "the histogram's value at 0.995: {v:?}");
        assert!(!judge("latency.p97", "< 90ms", folder).passed, "p97 ≈ 97 ms");
        assert_eq!(judge("latency.p97", "< 90ms", folder).actual, Some(h.value_at_quantile(0.97) as f64));
        assert_eq!(judge("latency.p100", "< 1s", folder).actual, Some(h.max() as f64), "p100 is the max");
        // Kept percentiles still come from run.json, with or without the histogram.
        assert_eq!(judge("latency.p99", "< 1s", Histograms::NONE).actual, Some(t.latency_us.p99 as f64));
        // Without the histogram: no data and why, never a pass.
        let elsewhere = dir.path().join("elsewhere");
        for hists in [Histograms::NONE, Histograms::folder(&elsewhere)] {
            let v = judge("latency.p99.5", "< 1s", hists);
            assert!(!v.passed && v.actual.is_none(), "{v:?}");
            assert!(
                v.shown.starts_with("no data: p99.5 is not among the percentiles run.json keeps (p50, p75"),
                "{v:?}"
            );
            assert!(v.shown.contains("p99.99, max)"), "{}", v.shown);
        }
        // Older results without a totals log: the latency of the interval log, its seconds added.
        std::fs::remove_file(dir.path().join(files::totals_name(&t.name))).unwrap();
        let (mut first, mut second) = (results::histogram(), results::histogram());
        for (i, v) in h.iter_recorded().enumerate() {
            let half = if i % 2 == 0 { &mut first } else { &mut second };
            half.record_n(v.value_iterated_to(), v.count_at_value()).unwrap();
        }
        let sec = std::time::Duration::from_secs(1);
        let entries =
            [("cloud".to_string(), std::time::Duration::ZERO, sec, &first), ("cloud".to_string(), sec, sec, &second)];
        let mut buf = Vec::new();
        hlog::write_tagged(&mut buf, std::time::SystemTime::UNIX_EPOCH, "test", &entries).unwrap();
        std::fs::write(dir.path().join(&t.hlog), buf).unwrap();
        assert_eq!(judge("latency.p99.5", "< 1s", folder).actual, Some(h.value_at_quantile(0.995) as f64));
        let mut timed = t.clone();
        timed.service_time_us = t.latency_us.clone();
        let th = Threshold::parse("service_time.p99.5", "< 1s").unwrap();
        let v = evaluate(&th, std::slice::from_ref(&timed), folder).remove(0);
        assert!(
            !v.passed && v.shown.contains("cloud.totals.hlog is missing"),
            "only the latency is in the interval log: {v:?}"
        );
        // A percentile of a statistic nothing was measured in has no data, as a kept one.
        let v = judge("service_time.p99.5", "< 1s", folder);
        assert_eq!((v.passed, v.shown.as_str()), (false, "no data"));
    }
}
