//! Machine-readable outcomes for CI: a compact summary JSON (`--summary-json`) and a JUnit XML file
//! (`--junit`) with one test case per threshold and target, which CI systems display as tests.

use std::io::{self, Write};

use serde::Serialize;

use crate::results::Run;

#[derive(Serialize)]
struct TargetSummary<'a> {
    name: &'a str,
    sent: u64,
    ok: u64,
    errors: u64,
    dropped: u64,
    error_rate: f64,
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
}

/// The summary JSON of a run.
pub fn write_summary_json(run: &Run, out: &mut impl Write) -> io::Result<()> {
    let ms = |us: u64| us as f64 / 1000.0;
    let s = Summary {
        name: &run.name,
        passed: run.passed,
        interrupted: run.interrupted,
        started_at: run.started_at.to_rfc3339(),
        ended_at: run.ended_at.to_rfc3339(),
        targets: run
            .targets
            .iter()
            .map(|t| TargetSummary {
                name: &t.name,
                sent: t.requests.sent,
                ok: t.requests.ok,
                errors: t.requests.errors,
                dropped: t.requests.dropped,
                error_rate: if t.requests.sent > 0 { t.requests.errors as f64 / t.requests.sent as f64 } else { 0.0 },
                rate_requested: t.rate.requested,
                rate_achieved: t.rate.achieved,
                p50_ms: ms(t.latency_us.p50),
                p90_ms: ms(t.latency_us.p90),
                p99_ms: ms(t.latency_us.p99),
                p999_ms: ms(t.latency_us.p999),
                max_ms: ms(t.latency_us.max),
                outcomes: t.outcomes.iter().map(|o| (o.key.as_str(), o.count)).collect(),
            })
            .collect(),
        thresholds: &run.thresholds,
    };
    serde_json::to_writer_pretty(&mut *out, &s).map_err(io::Error::other)?;
    writeln!(out)
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
            cases.push((format!("{} completed", t.name), t.name.clone(), failure));
        }
    } else {
        for v in &run.thresholds {
            let failure = (!v.passed).then(|| format!("{}: actual {}", v.threshold, v.shown));
            cases.push((v.threshold.clone(), v.target.clone(), failure));
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
    for (name, class, failure) in &cases {
        write!(out, r#"    <testcase name="{}" classname="wabench.{}""#, xml(name), xml(class))?;
        match failure {
            None => writeln!(out, "/>")?,
            Some(f) => {
                writeln!(out, ">")?;
                writeln!(out, r#"      <failure message="{}">{}</failure>"#, xml(f), xml(f))?;
                writeln!(out, "    </testcase>")?;
            }
        }
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
