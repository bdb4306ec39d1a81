//! Machine-readable outcomes for CI: a compact summary JSON (`--summary-json`) and a JUnit XML file
//! (`--junit`) with one test case per threshold and target, which CI systems display as tests.

use std::io::{self, Write};

use serde::Serialize;

use crate::results::fates::RATES_EXPLAINED;
use crate::results::{Fates, Run};

/// What the status webhooks said of a target's messages (each message once; rates per message sent).
#[derive(Serialize)]
struct DeliverySummary {
    accepted: u64,
    delivered: u64,
    failed: u64,
    lost: u64,
    failed_by_code: std::collections::BTreeMap<String, u64>,
    delivered_rate: f64,
    failed_rate: f64,
    lost_rate: f64,
    accept_to_delivered_p50_ms: Option<f64>,
    accept_to_delivered_p99_ms: Option<f64>,
}

#[derive(Serialize)]
struct TargetSummary<'a> {
    name: &'a str,
    sent: u64,
    ok: u64,
    /// Attempts answered with anything but success (retries included).
    errors: u64,
    dropped: u64,
    /// Messages whose send failed.
    failed_at_send: u64,
    /// Messages accepted and then failed in a `failed` status webhook (`null`: not tracked).
    failed_in_webhooks: Option<u64>,
    /// Messages failed at send or in a webhook, per message sent.
    error_rate: f64,
    /// Messages failed at send, per message sent.
    send_error_rate: f64,
    /// Status-webhook outcomes (`null`: delivery not tracked).
    delivery: Option<DeliverySummary>,
    rate_requested: Option<f64>,
    rate_achieved: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    max_ms: f64,
    outcomes: std::collections::BTreeMap<&'a str, u64>,
    /// What the target's messages cost (a target with a rate card): the estimate, the accepted sends
    /// and the billed (delivered, or accepted when delivery was not tracked), in `currency`.
    #[serde(skip_serializing_if = "Option::is_none")]
    cost: Option<CostSummary<'a>>,
    /// Why the target stopped before its plan ended (`max_cost`), when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    stopped: Option<&'a str>,
}

#[derive(Serialize)]
struct CostSummary<'a> {
    currency: &'a str,
    estimate: Option<f64>,
    accepted: f64,
    actual: f64,
    /// `delivered` or `accepted`: what `actual` counts.
    actual_basis: &'a str,
    max_cost: Option<f64>,
}

#[derive(Serialize)]
struct Summary<'a> {
    name: &'a str,
    passed: bool,
    interrupted: bool,
    started_at: String,
    ended_at: String,
    targets: Vec<TargetSummary<'a>>,
    thresholds: &'a [crate::results::Verdict],
    /// What each error rate counts.
    rates: &'static str,
}

fn target_summary(t: &crate::results::TargetResult) -> TargetSummary<'_> {
    let ms = |us: u64| us as f64 / 1000.0;
    let f = Fates::of(t);
    let delivery = t.delivery.as_ref().zip(f.delivery.as_ref()).map(|(d, fd)| {
        let l = &d.latency_us.accept_to_delivered;
        DeliverySummary {
            accepted: fd.accepted,
            delivered: fd.delivered,
            failed: fd.failed,
            lost: fd.lost,
            failed_by_code: fd.failed_by_code.iter().map(|(c, n)| (c.to_string(), *n)).collect(),
            delivered_rate: f.delivered_rate().unwrap_or(0.0),
            failed_rate: f.failed_rate(None).unwrap_or(0.0),
            lost_rate: f.lost_rate().unwrap_or(0.0),
            accept_to_delivered_p50_ms: (l.count > 0).then(|| ms(l.p50)),
            accept_to_delivered_p99_ms: (l.count > 0).then(|| ms(l.p99)),
        }
    });
    TargetSummary {
        name: &t.name,
        sent: t.requests.sent,
        ok: t.requests.ok,
        errors: t.requests.errors,
        dropped: t.requests.dropped,
        failed_at_send: f.failed_at_send,
        failed_in_webhooks: f.delivery.as_ref().map(|d| d.failed),
        error_rate: f.error_rate().unwrap_or(0.0),
        send_error_rate: f.send_error_rate().unwrap_or(0.0),
        delivery,
        rate_requested: t.rate.requested,
        rate_achieved: t.rate.achieved,
        p50_ms: ms(t.latency_us.p50),
        p90_ms: ms(t.latency_us.p90),
        p99_ms: ms(t.latency_us.p99),
        p999_ms: ms(t.latency_us.p999),
        max_ms: ms(t.latency_us.max),
        outcomes: t.outcomes.iter().map(|o| (o.key.as_str(), o.count)).collect(),
        cost: t.cost.as_ref().map(|c| CostSummary {
            currency: &c.currency,
            estimate: c.estimate.as_ref().map(|e| e.total),
            accepted: c.accepted.total,
            actual: c.actual.total,
            actual_basis: &c.actual.basis,
            max_cost: c.max_cost,
        }),
        stopped: t.stopped.as_deref(),
    }
}

/// The summary JSON of a run.
pub fn write_summary_json(run: &Run, out: &mut impl Write) -> io::Result<()> {
    let s = Summary {
        name: &run.name,
        passed: run.passed,
        interrupted: run.interrupted,
        started_at: run.started_at.to_rfc3339(),
        ended_at: run.ended_at.to_rfc3339(),
        targets: run.targets.iter().map(target_summary).collect(),
        thresholds: &run.thresholds,
        rates: RATES_EXPLAINED,
    };
    serde_json::to_writer_pretty(&mut *out, &s).map_err(io::Error::other)?;
    writeln!(out)
}

/// A target's send and delivery outcomes as (name, value) pairs.
fn properties(t: &crate::results::TargetResult) -> Vec<(String, String)> {
    let f = Fates::of(t);
    let rate = |r: Option<f64>| r.map_or("-".into(), |r| format!("{r:.6}"));
    let mut props = vec![
        ("sent".to_string(), f.sent.to_string()),
        ("failed_at_send".into(), f.failed_at_send.to_string()),
        ("failed_in_webhooks".into(), f.delivery.as_ref().map_or("not tracked".into(), |d| d.failed.to_string())),
        ("error_rate".into(), rate(f.error_rate())),
        ("send_error_rate".into(), rate(f.send_error_rate())),
    ];
    if let Some(d) = &f.delivery {
        props.push(("delivered".into(), d.delivered.to_string()));
        props.push(("lost".into(), d.lost.to_string()));
        props.extend(d.failed_by_code.iter().map(|(c, n)| (format!("failed_in_webhooks.{c}"), n.to_string())));
    }
    props
}

/// The test cases of a run: (name, class, failure, value as judged). One per threshold and target, or,
/// for a run without thresholds, one per target that passes when the target ran without being
/// interrupted.
fn junit_cases(run: &Run) -> Vec<(String, String, Option<String>, Option<String>)> {
    if run.thresholds.is_empty() {
        return run
            .targets
            .iter()
            .map(|t| {
                let failure = t.interrupted.then(|| "the run was interrupted".to_string());
                (format!("{} completed", t.name), t.name.clone(), failure, None)
            })
            .collect();
    }
    run.thresholds
        .iter()
        .map(|v| {
            let failure = (!v.passed).then(|| {
                // With the target's messages, send and delivery side by side.
                let fates = run.targets.iter().find(|t| t.name == v.target && t.is_whatsapp()).map(Fates::of);
                match fates {
                    Some(f) => format!(
                        "{}: actual {}; failed at send {}, failed in webhooks {}",
                        v.threshold,
                        v.shown,
                        f.show(f.failed_at_send),
                        f.show_in_webhook()
                    ),
                    None => format!("{}: actual {}", v.threshold, v.shown),
                }
            });
            // The value as judged, on a passing case too.
            let judged = format!("{}: actual {}", v.threshold, v.shown);
            (v.threshold.clone(), v.target.clone(), failure, Some(judged))
        })
        .collect()
}

/// JUnit XML: one test suite for the run, with the send and delivery outcomes of each target as its
/// properties, and one test case per threshold and target (see [`junit_cases`]).
pub fn write_junit(run: &Run, out: &mut impl Write) -> io::Result<()> {
    use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
    let time = (run.ended_at - run.started_at).to_std().unwrap_or_default();
    let mut suite = TestSuite::new(run.name.as_str());
    suite.set_time(time).set_timestamp(run.started_at);
    for t in &run.targets {
        suite.add_properties(
            properties(t).into_iter().map(|(name, value)| Property::new(format!("{}.{name}", t.name), value)),
        );
    }
    for (name, class, failure, judged) in junit_cases(run) {
        let status = match failure {
            Some(f) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(f.as_str()).set_description(f);
                s
            }
            None => TestCaseStatus::success(),
        };
        let mut case = TestCase::new(name, status);
        case.set_classname(format!("wabench.{class}"));
        if let Some(j) = judged {
            case.set_system_out(j);
        }
        suite.add_test_case(case);
    }
    let mut report = Report::new("wabench");
    report.set_time(time).add_test_suite(suite);
    report.serialize(out).map_err(io::Error::other)
}
