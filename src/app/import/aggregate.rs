//! Aggregate-only sources (wrk2 and HdrHistogram printouts, Locust, oha) as results: the percentiles the
//! tool printed go to run.json (`targets[i].imported.percentiles_us`, and the latency summary), the
//! interval log holds no interval (there is nothing per second to resample), and the timeline holds
//! the per-second counts a source gives (Locust) or nothing. `compare` then shows the ratios it can
//! compute and says that no interval can be.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

use crate::results::hlog::IntervalWriter;
use crate::results::{Counts, ImportedTarget, Rates, Summary, TargetHead, TargetResult, TimelineRow, files, timeline};

/// Percentile names as `compare` knows them ("p50", "p99.9", "max") from a percentage.
pub fn percentile_name(pct: f64) -> String {
    if pct >= 100.0 { "max".into() } else { format!("p{pct}") }
}

/// What a source says about one target.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub label: String,
    pub url: String,
    pub model: &'static str,
    pub latency_from: &'static str,
    pub started_at: DateTime<Utc>,
    pub duration_s: f64,
    pub connections: u32,
    pub counts: Counts,
    pub outcomes: Vec<(String, u64)>,
    pub achieved: f64,
    /// The tool's latency percentiles in µs, by name.
    pub percentiles_us: BTreeMap<String, u64>,
    /// Service-time percentiles when the tool printed them apart (wrk2's uncorrected spectrum).
    pub service_time_us: Option<BTreeMap<String, u64>>,
    /// Whole-run count, min, mean and standard deviation of the latencies, when the tool printed them.
    pub count: Option<u64>,
    pub min_us: Option<u64>,
    pub mean_us: Option<f64>,
    pub stdev_us: Option<f64>,
    /// Per-second rows the source gives (seconds since `started_at`).
    pub timeline: Vec<TimelineRow>,
}

/// A latency summary from printed percentiles; a percentile the tool did not print stays 0 (run.json's
/// `imported.unavailable` names it, and `compare` reads `percentiles_us`, where it is absent).
pub fn summary(
    p: &BTreeMap<String, u64>,
    count: u64,
    min: Option<u64>,
    mean: Option<f64>,
    stdev: Option<f64>,
) -> Summary {
    let g = |k: &str| p.get(k).copied().unwrap_or(0);
    Summary {
        count,
        min: min.unwrap_or(0),
        mean: mean.unwrap_or(0.0),
        stdev: stdev.unwrap_or(0.0),
        p50: g("p50"),
        p90: g("p90"),
        p99: g("p99"),
        p999: g("p99.9"),
        max: g("max"),
        p75: p.get("p75").copied(),
        p95: p.get("p95").copied(),
        p9999: p.get("p99.99").copied(),
    }
}

fn io(path: &Path, e: std::io::Error) -> String {
    format!("{}: cannot write: {e}", path.display())
}

/// Write the targets' empty interval logs and timeline rows into `dir`; their results.
pub fn write(dir: &Path, tool: &str, targets: Vec<(String, Figures)>) -> Result<Vec<TargetResult>, String> {
    let tl = dir.join(files::TIMELINE);
    let mut timeline = BufWriter::new(File::create(&tl).map_err(|e| io(&tl, e))?);
    timeline::write_header(&mut timeline).map_err(|e| io(&tl, e))?;
    let mut out = Vec::new();
    for (name, f) in targets {
        let path = dir.join(files::hlog_name(&name));
        let file = File::create(&path).map_err(|e| io(&path, e))?;
        let at: SystemTime = f.started_at.into();
        let comment = format!("wabench import from {tool}, target {name}: aggregates only, no per-second histograms");
        let log = IntervalWriter::begin(BufWriter::new(file), at, &comment).map_err(|e| io(&path, e))?;
        let mut w = log.into_inner();
        w.flush().map_err(|e| io(&path, e))?;
        for r in &f.timeline {
            r.write(&mut timeline, &name).map_err(|e| io(&tl, e))?;
        }
        out.push(result(name, tool, f));
    }
    timeline.flush().map_err(|e| io(&tl, e))?;
    Ok(out)
}

fn result(name: String, tool: &str, f: Figures) -> TargetResult {
    let head = TargetHead {
        name,
        kind: tool.into(),
        url: if f.url.is_empty() { f.label.clone() } else { f.url.clone() },
        model: f.model.into(),
        connections: f.connections,
        threads: 0,
        started_at: f.started_at,
        duration_s: f.duration_s,
        interrupted: false,
    };
    let rate = Rates { requested: None, achieved: f.achieved, ratio: None };
    let mut r = TargetResult::build(head, f.counts.clone(), rate, f.outcomes, &BTreeMap::new());
    let count = f.count.unwrap_or(f.counts.sent);
    r.latency_us = summary(&f.percentiles_us, count, f.min_us, f.mean_us, f.stdev_us);
    r.service_time_us = match &f.service_time_us {
        Some(p) => summary(p, count, None, None, None),
        None if f.latency_from == crate::results::imported::FROM_SEND => r.latency_us.clone(),
        None => Summary::default(),
    };
    r.imported = Some(ImportedTarget {
        label: f.label,
        latency_from: f.latency_from.into(),
        aggregate_only: true,
        percentiles_us: f.percentiles_us,
    });
    r
}

/// Seconds as a duration (for a run's end).
pub fn ended(start: DateTime<Utc>, secs: f64) -> DateTime<Utc> {
    start + chrono::Duration::from_std(Duration::from_secs_f64(secs.max(0.0))).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_names_match_compare() {
        assert_eq!(percentile_name(50.0), "p50");
        assert_eq!(percentile_name(99.9), "p99.9");
        assert_eq!(percentile_name(99.999), "p99.999");
        assert_eq!(percentile_name(100.0), "max");
    }
}
