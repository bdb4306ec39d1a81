//! oha `--output-format json` (formerly `-j`): aggregate only. The summary (`total` seconds,
//! `slowest`, `fastest`, `average`, `requestsPerSec`), `latencyPercentiles` (p10 … p99.99, in
//! seconds), `statusCodeDistribution` and `errorDistribution`. Its `responseTimeHistogram` has a dozen
//! coarse buckets and is not used for percentiles. oha measures from the actual send unless it was run
//! with `--latency-correction`, which the JSON does not record: the import calls it service time.
//! Source: oha's JSON schema, `schema.json` in the oha repository ("JSON schema for the output of
//! `oha --output-format json`", <https://github.com/hatoo/oha/blob/master/schema.json>).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::aggregate::{self, Figures};
use super::{ImportError, Parsed, Request, classify};
use crate::results::imported::FROM_SEND;
use crate::results::{Counts, Imported};

/// Seconds (as oha writes them) to µs, exactly to the µs.
fn us(v: f64) -> u64 {
    (v * 1e6).round() as u64
}

fn number(v: &Value, path: &[&str]) -> Option<f64> {
    path.iter().try_fold(v, |v, k| v.get(k)).and_then(Value::as_f64)
}

fn figures(path: &Path, v: &Value, label: String) -> Result<Figures, ImportError> {
    let bad = |why: &str| ImportError::file(path, format!("not oha --output-format json: {why}"));
    let summary = v.get("summary").filter(|s| s.is_object()).ok_or_else(|| bad("no \"summary\" object"))?;
    let lp = v.get("latencyPercentiles").and_then(Value::as_object).ok_or_else(|| bad("no \"latencyPercentiles\""))?;
    let mut percentiles: BTreeMap<String, u64> = BTreeMap::new();
    for (k, x) in lp {
        if let Some(s) = x.as_f64() {
            percentiles.insert(k.clone(), us(s));
        }
    }
    if let Some(s) = number(summary, &["slowest"]) {
        percentiles.insert("max".into(), us(s));
    }
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    for (code, n) in v.get("statusCodeDistribution").and_then(Value::as_object).into_iter().flatten() {
        let status: u16 = code.parse().map_err(|_| bad(&format!("status code {code:?} is not a number")))?;
        *outcomes.entry(classify::http(status, None, &[])).or_insert(0) += n.as_u64().unwrap_or(0);
    }
    for (msg, n) in v.get("errorDistribution").and_then(Value::as_object).into_iter().flatten() {
        *outcomes.entry(classify::failure(msg)).or_insert(0) += n.as_u64().unwrap_or(0);
    }
    let sent: u64 = outcomes.values().sum();
    let ok = outcomes.get("ok").copied().unwrap_or(0);
    let duration_s = number(summary, &["total"]).unwrap_or(0.0);
    let end: chrono::DateTime<chrono::Utc> =
        std::fs::metadata(path).and_then(|m| m.modified()).map(Into::into).unwrap_or(chrono::DateTime::UNIX_EPOCH);
    Ok(Figures {
        label,
        url: String::new(),
        model: "closed",
        latency_from: FROM_SEND,
        started_at: end - chrono::Duration::milliseconds((duration_s * 1000.0) as i64),
        duration_s,
        connections: 0,
        counts: Counts {
            planned: None,
            sent,
            retries: 0,
            ok,
            errors: sent - ok,
            dropped: 0,
            cancelled: 0,
            ..Counts::default()
        },
        outcomes: outcomes.into_iter().collect(),
        achieved: number(summary, &["requestsPerSec"]).unwrap_or(0.0),
        percentiles_us: percentiles,
        service_time_us: None,
        count: Some(sent),
        min_us: number(summary, &["fastest"]).map(us),
        mean_us: number(summary, &["average"]).map(|s| s * 1e6),
        stdev_us: None,
        timeline: Vec::new(),
    })
}

/// Import oha JSON summaries: one target per file.
pub fn import(req: &Request, dir: &Path) -> Result<Parsed, ImportError> {
    if req.target.is_some() && req.files.len() > 1 {
        return Err(ImportError::file(&req.files[1], "--target names the one target of one summary; give one file"));
    }
    let mut targets = Vec::new();
    for f in &req.files {
        let text = std::fs::read_to_string(f).map_err(|e| ImportError::file(f, format!("cannot read: {e}")))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| {
            ImportError::at(f, e.line() as u64, format!("not oha --output-format json (not one JSON document: {e})"))
        })?;
        let label =
            req.target.clone().unwrap_or_else(|| f.file_stem().map_or("oha".into(), |s| s.to_string_lossy().into()));
        let name = super::target_name(&label);
        if targets.iter().any(|(n, _)| *n == name) {
            return Err(ImportError::file(f, format!("a second file for target {name:?}: rename it")));
        }
        targets.push((name, figures(f, &v, label)?));
    }
    let started_at = targets.iter().map(|t| t.1.started_at).min().unwrap_or_default();
    let ended_at = targets.iter().map(|t| aggregate::ended(t.1.started_at, t.1.duration_s)).max().unwrap_or(started_at);
    let results = aggregate::write(dir, "oha", targets).map_err(|e| ImportError::file(dir, e))?;
    Ok(Parsed {
        targets: results,
        imported: Imported {
            tool: "oha".into(),
            files: super::file_names(req),
            per_request: false,
            available: vec![
                "whole-run latency percentiles p10 … p99.99, fastest, slowest, average (seconds, to the µs)".into(),
                "status codes and errors; requests per second".into(),
            ],
            unavailable: vec![
                "per-second histograms: compare gives ratios without intervals".into(),
                "per-second counts and the run's wall-clock time; oha's per-request database (--db-url) is not read"
                    .into(),
            ],
            notes: vec![
                "oha prints no time: each run is placed so that it ends at its file's modification time".into(),
                "latency is taken as service time (from the actual send): the JSON does not say whether oha ran \
                 with --latency-correction"
                    .into(),
            ],
        },
        started_at,
        ended_at,
    })
}
