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

fn xml(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".into(),
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '"' => "&quot;".into(),
            '\'' => "&apos;".into(),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => " ".into(),
            c => c.to_string(),
        })
        .collect()
}

/// JUnit XML: one test suite for the run, one test case per threshold and target (a run without
/// thresholds has one case per target that passes when the target ran without being interrupted).
pub fn write_junit(run: &Run, out: &mut impl Write) -> io::Result<()> {
    let mut cases = Vec::new();
    if run.thresholds.is_empty() {
        for t in &run.targets {
            let failure = t.interrupted.then(|| "the run was interrupted".to_string());
            cases.push((format!("{} completed", t.name), t.name.clone(), failure, None));
        }
    } else {
        for v in &run.thresholds {
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
            cases.push((v.threshold.clone(), v.target.clone(), failure, Some(judged)));
        }
    }
    let failures = cases.iter().filter(|c| c.2.is_some()).count();
    let secs = (run.ended_at - run.started_at).num_milliseconds() as f64 / 1000.0;
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(out, r#"<testsuites name="wabench" tests="{}" failures="{failures}" time="{secs:.3}">"#, cases.len())?;
    writeln!(
        out,
        r#"  <testsuite name="{}" tests="{}" failures="{failures}" time="{secs:.3}" timestamp="{}">"#,
        xml(&run.name),
        cases.len(),
        run.started_at.format("%Y-%m-%dT%H:%M:%S")
    )?;
    // Send and delivery outcomes of each target side by side, as suite properties.
    writeln!(out, "    <properties>")?;
    for t in &run.targets {
        for (name, value) in properties(t) {
            writeln!(out, r#"      <property name="{}.{}" value="{}"/>"#, xml(&t.name), xml(&name), xml(&value))?;
        }
    }
    writeln!(out, "    </properties>")?;
    for (name, class, failure, judged) in &cases {
        write!(out, r#"    <testcase name="{}" classname="wabench.{}""#, xml(name), xml(class))?;
        if failure.is_none() && judged.is_none() {
            writeln!(out, "/>")?;
            continue;
        }
        writeln!(out, ">")?;
        if let Some(f) = failure {
            writeln!(out, r#"      <failure message="{}">{}</failure>"#, xml(f), xml(f))?;
        }
        if let Some(j) = judged {
            writeln!(out, "      <system-out>{}</system-out>", xml(j))?;
        }
        writeln!(out, "    </testcase>")?;
    }
    writeln!(out, "  </testsuite>")?;
    writeln!(out, "</testsuites>")
}

#[cfg(test)]
mod tests {
    #[test]
    fn xml_escapes_markup() {
        assert_eq!(super::xml("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
