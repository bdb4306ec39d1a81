//! A comparison for people and for scripts: the error and drop rates in percentage points and the
//! gates' verdicts as text (after the ratio tables of [`super::write_text`]), and the whole
//! comparison as JSON (`wabench compare --json`): every row with its value, interval and meaning, and
//! every gate with its verdict.

use std::io::{self, Write};

use serde::Serialize;

use super::gates::{GateOutcome, GateVerdict, PointsRow};
use super::{self as compare, Comparison, Metric, conversation, fmt_ratio};

fn pct(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{:.2}%", v * 100.0))
}

fn pp(x: f64) -> String {
    format!("{x:+.2}pp")
}

/// The rate rows of each pair, under a header naming the baseline and the subject, then the gates.
pub fn write_text(
    c: &Comparison,
    points: &[Vec<PointsRow>],
    gates: &[GateOutcome],
    out: &mut impl Write,
) -> io::Result<()> {
    for ((base, s), rows) in c.compared().zip(points) {
        writeln!(out, "\n{} vs {}: error (answered at send, per second) and drop rates", s.label, base.label)?;
        let w = [10, 8.max(base.label.chars().count()), 8.max(s.label.chars().count()), 10, 19];
        let cells = |name: &str, a: &str, b: &str, diff: &str, ci: &str| compare::columns(&w, [name, a, b, diff, ci]);
        writeln!(out, "{}", cells("", &base.label, &s.label, "difference", "95% CI"))?;
        for r in rows {
            let ci = r.ci_pp.map_or("-".into(), |(lo, hi)| format!("{}…{}", pp(lo), pp(hi)));
            let word = match (r.diff_pp, r.significant) {
                (None, _) => "no data",
                (Some(_), false) => "within noise",
                (Some(d), true) if d > 0.0 => "higher",
                (Some(_), true) => "lower",
            };
            let diff = r.diff_pp.map_or("-".into(), pp);
            writeln!(out, "{}  {word}", cells(r.metric.name(), &pct(r.base), &pct(r.value), &diff, &ci))?;
        }
    }
    write_conversation(c, out)?;
    if gates.is_empty() {
        return Ok(());
    }
    writeln!(out, "\ngates (fail when the 95% interval lies wholly beyond the bound, pass when wholly within it):")?;
    for g in gates {
        let show = |v: f64| if g.unit == "pp" { pp(v) } else { format!("{}×", fmt_ratio(v)) };
        let est = g.estimate.map_or("-".into(), show);
        let ci = match (g.ci_low, g.ci_high) {
            (Some(lo), Some(hi)) => format!("95% CI {}–{}", show(lo), show(hi)),
            _ => "no interval".into(),
        };
        let verdict = match &g.note {
            Some(note) => format!("inconclusive: {note}"),
            None => g.verdict.label().to_string(),
        };
        writeln!(out, "  {} on {} (against {}): {est} ({ci}): {verdict}", g.gate, g.subject, g.against)?;
    }
    Ok(())
}

/// A conversation row's value as a person reads it: a time, or a share.
pub(crate) fn conversation_value(r: &conversation::Row, v: Option<f64>) -> String {
    match (r.measure, v) {
        (_, None) => "-".into(),
        (conversation::Measure::FirstReply(_), Some(v)) => crate::report::fmt_us(v),
        (conversation::Measure::Unanswered, Some(v)) => format!("{:.2}%", v * 100.0),
    }
}

/// A conversation row's estimate or interval bound: a ratio, or percentage points.
pub(crate) fn conversation_estimate(r: &conversation::Row, v: f64) -> String {
    if r.measure.unit() == "pp" { pp(v) } else { format!("{}×", fmt_ratio(v)) }
}

/// The interval of a conversation row, or why there is none.
pub(crate) fn conversation_ci(r: &conversation::Row) -> String {
    match (r.ci, r.no_interval) {
        (Some((lo, hi)), _) => format!("{}…{}", conversation_estimate(r, lo), conversation_estimate(r, hi)),
        (None, Some(why)) => format!("n/a: {why}"),
        (None, None) => "-".into(),
    }
}

/// The conversation rows of each pair that has them, under a header naming the baseline and the
/// subject.
fn write_conversation(c: &Comparison, out: &mut impl Write) -> io::Result<()> {
    for ((base, s), rows) in c.compared().zip(&c.conversation) {
        let Some(rows) = rows else { continue };
        writeln!(
            out,
            "\n{} vs {}: conversation (time to the first reply, unanswered turns; intervals resample the turns)",
            s.label, base.label
        )?;
        let w = [17, 9.max(base.label.chars().count()), 9.max(s.label.chars().count()), 8, 19];
        writeln!(out, "{}", compare::columns(&w, ["", &base.label, &s.label, "estimate", "95% CI"]))?;
        for r in rows {
            let (a, b) = (conversation_value(r, r.base), conversation_value(r, r.value));
            let estimate = r.estimate.map_or("-".into(), |v| conversation_estimate(r, v));
            let (name, ci) = (r.measure.name(), conversation_ci(r));
            let cells = [&*name, &a, &b, &estimate, &ci];
            writeln!(out, "{}  {}", compare::columns(&w, cells), r.meaning().1)?;
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonRow {
    metric: &'static str,
    /// "us" (latency percentiles) or "per_s" (the rate).
    value_unit: &'static str,
    base: Option<f64>,
    value: Option<f64>,
    ratio: Option<f64>,
    ci_low: Option<f64>,
    ci_high: Option<f64>,
    significant: bool,
    meaning: &'static str,
}

#[derive(Serialize)]
struct JsonPoints {
    metric: &'static str,
    /// Rates as fractions; the difference and its interval in percentage points.
    base: Option<f64>,
    value: Option<f64>,
    diff_pp: Option<f64>,
    ci_low_pp: Option<f64>,
    ci_high_pp: Option<f64>,
    significant: bool,
}

#[derive(Serialize)]
struct JsonSubject<'a> {
    label: &'a str,
    origin: &'a str,
    target: &'a str,
    /// The label of the subject it is compared against (absent on the baseline itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    against: Option<&'a str>,
    rows: Vec<JsonRow>,
    rates: Vec<JsonPoints>,
    /// What became of the messages, send and delivery side by side.
    messages: JsonMessages,
    /// Conversation targets on both sides: the time to the first reply (ratios) and the unanswered
    /// share (percentage points), intervals from resampling the turns.
    #[serde(skip_serializing_if = "Option::is_none")]
    conversation: Option<Vec<JsonConversation>>,
}

#[derive(Serialize)]
struct JsonConversation {
    /// `first_reply.p50`, `first_reply.p99`, …, `unanswered`.
    metric: String,
    /// "ratio" (B/A; base and value in µs) or "pp" (B − A; base and value as fractions).
    unit: &'static str,
    base: Option<f64>,
    value: Option<f64>,
    estimate: Option<f64>,
    ci_low: Option<f64>,
    ci_high: Option<f64>,
    significant: bool,
    meaning: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    no_interval: Option<&'static str>,
}

/// Each message counted once; rates are shares of the messages sent.
#[derive(Serialize)]
struct JsonMessages {
    sent: u64,
    failed_at_send: u64,
    /// `null`: delivery not tracked.
    failed_in_webhooks: Option<u64>,
    delivered: Option<u64>,
    lost: Option<u64>,
    failed_in_webhooks_by_code: std::collections::BTreeMap<String, u64>,
    error_rate: Option<f64>,
    send_error_rate: Option<f64>,
}

fn messages(t: &crate::results::TargetResult) -> JsonMessages {
    let f = crate::results::Fates::of(t);
    let d = f.delivery.as_ref();
    JsonMessages {
        sent: f.sent,
        failed_at_send: f.failed_at_send,
        failed_in_webhooks: d.map(|d| d.failed),
        delivered: d.map(|d| d.delivered),
        lost: d.map(|d| d.lost),
        failed_in_webhooks_by_code: d
            .map(|d| d.failed_by_code.iter().map(|(c, n)| (c.to_string(), *n)).collect())
            .unwrap_or_default(),
        error_rate: f.error_rate(),
        send_error_rate: f.send_error_rate(),
    }
}

#[derive(Serialize)]
struct Json<'a> {
    /// The bootstrap: resamples of one-second blocks, fixed seed, 95% percentile interval.
    resamples: usize,
    confidence: f64,
    /// The baseline of the first subject (with runs of several targets, each subject's `against` names
    /// its own).
    baseline: JsonSubject<'a>,
    subjects: Vec<JsonSubject<'a>>,
    /// Targets left out because the other run has no target of their name, with the reason.
    unpaired: &'a [String],
    gates: &'a [GateOutcome],
    /// No gate failed (the exit code is 0).
    passed: bool,
    /// Gates whose interval reaches across their bound: neither failed nor passed.
    inconclusive: usize,
    skipped: &'a [String],
}

fn subject<'a>(
    s: &'a compare::Subject,
    against: Option<&'a compare::Subject>,
    rows: &[compare::Row],
    points: &[PointsRow],
    conversation: Option<&Vec<conversation::Row>>,
) -> JsonSubject<'a> {
    JsonSubject {
        label: &s.label,
        origin: &s.origin,
        target: s.target.name(),
        against: against.map(|b| b.label.as_str()),
        rows: rows
            .iter()
            .map(|r| JsonRow {
                metric: r.metric.name(),
                value_unit: if r.metric == Metric::Rate { "per_s" } else { "us" },
                base: r.base,
                value: r.value,
                ratio: r.ratio,
                ci_low: r.ci.map(|c| c.0),
                ci_high: r.ci.map(|c| c.1),
                significant: r.significant,
                meaning: compare::meaning(r).1,
            })
            .collect(),
        rates: points
            .iter()
            .map(|p| JsonPoints {
                metric: p.metric.name(),
                base: p.base,
                value: p.value,
                diff_pp: p.diff_pp,
                ci_low_pp: p.ci_pp.map(|c| c.0),
                ci_high_pp: p.ci_pp.map(|c| c.1),
                significant: p.significant,
            })
            .collect(),
        messages: messages(&s.target.result),
        conversation: conversation.map(|rows| {
            rows.iter()
                .map(|r| JsonConversation {
                    metric: r.measure.name(),
                    unit: r.measure.unit(),
                    base: r.base,
                    value: r.value,
                    estimate: r.estimate,
                    ci_low: r.ci.map(|c| c.0),
                    ci_high: r.ci.map(|c| c.1),
                    significant: r.significant,
                    meaning: r.meaning().1,
                    no_interval: r.no_interval,
                })
                .collect()
        }),
    }
}

/// The comparison, its rate rows and the gates' verdicts as one JSON document.
pub fn write_json(
    c: &Comparison,
    points: &[Vec<PointsRow>],
    gates: &[GateOutcome],
    out: &mut impl Write,
) -> io::Result<()> {
    let doc = Json {
        resamples: compare::RESAMPLES,
        confidence: 0.95,
        baseline: subject(&c.subjects[c.pairs.first().map_or(0, |p| p.base)], None, &[], &[], None),
        subjects: c
            .compared()
            .zip(c.rows.iter().zip(points))
            .zip(&c.conversation)
            .map(|(((base, s), (rows, pts)), conv)| subject(s, Some(base), rows, pts, conv.as_ref()))
            .collect(),
        unpaired: &c.unpaired,
        gates,
        passed: gates.iter().all(|g| g.verdict != GateVerdict::Fail),
        inconclusive: gates.iter().filter(|g| g.verdict == GateVerdict::Inconclusive).count(),
        skipped: &c.skipped,
    };
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::other)?;
    writeln!(out)
}
