//! Reports of runs that did not finish: a killed run leaves no run.json, but its interval logs and
//! timeline reach the disk every second (as `.partial` files). From those, a partial report is rebuilt:
//! per target the latency of every finished second and the counts of the timeline, marked interrupted.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};

use super::{RunData, Second, TargetData};
use crate::results::exemplars::{Slowest, TracingResult};
use crate::results::files::{self, PARTIAL_SUFFIX, TIMELINE, folder_name, interval_logs};
use crate::results::timeline::{self, TimelineRow};
use crate::results::{
    Counts, Machine, Rates, ResultsError, Run, SCHEMA_VERSION, TargetHead, TargetResult, Tool, bounded, hlog,
};

/// Rebuild what can be known of an unfinished run in `dir`.
pub fn recover(dir: &Path) -> Result<RunData, ResultsError> {
    let mut timelines = read_timelines(dir)?;
    let mut targets = Vec::new();
    let mut start: Option<DateTime<Utc>> = None;
    for (name, file) in interval_logs(dir) {
        let timeline = timelines.remove(&name).unwrap_or_default();
        let (td, began) = recover_target(dir, &name, file, timeline)?;
        start = Some(start.map_or(began, |s| s.min(began)));
        targets.push(td);
    }
    if targets.is_empty() {
        return Err(ResultsError::format(dir, "no run.json and no interval log to rebuild a report from"));
    }
    let run = partial_run(dir, &targets, start.unwrap_or(DateTime::<Utc>::UNIX_EPOCH));
    Ok(RunData { dir: dir.to_path_buf(), run, targets })
}

/// The timeline rows per target that reached the disk (`timeline.csv`, else its `.partial`), without
/// the last line when the kill cut it; none when there is no timeline.
fn read_timelines(dir: &Path) -> Result<BTreeMap<String, Vec<TimelineRow>>, ResultsError> {
    let tl_path =
        [TIMELINE.to_string(), format!("{TIMELINE}{PARTIAL_SUFFIX}")].iter().map(|f| dir.join(f)).find(|p| p.exists());
    Ok(match &tl_path {
        Some(p) => {
            let text = bounded::read_text(p, bounded::MAX_TIMELINE_BYTES)?;
            timeline::parse(whole_lines(&text)).map_err(|e| ResultsError::format(p, e))?
        }
        None => Default::default(),
    })
}

/// One target from its interval log `file` and its timeline rows: its data, marked interrupted, and
/// when its log began.
fn recover_target(
    dir: &Path,
    name: &str,
    file: String,
    timeline: Vec<TimelineRow>,
) -> Result<(TargetData, DateTime<Utc>), ResultsError> {
    let path = dir.join(&file);
    let log = hlog::read(&path)?;
    let began = log
        .base_time
        .and_then(|b| DateTime::<Utc>::from_timestamp(b.as_secs() as i64, b.subsec_nanos()))
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let seconds: Vec<Second> = log
        .entries
        .into_iter()
        .filter(|e| e.tag.as_deref().is_none_or(|t| t == name))
        .map(|e| Second { second: e.start.as_secs(), histogram: e.histogram })
        .collect();
    let duration_s = seconds.last().map_or(0.0, |s| s.second as f64 + 1.0);
    let head = TargetHead {
        name: name.to_string(),
        kind: "unknown".into(),
        url: String::new(),
        model: "unknown".into(),
        connections: 0,
        threads: 0,
        started_at: began,
        duration_s,
        interrupted: true,
    };
    let (requests, outcomes) = timeline_counts(&timeline);
    let rate = Rates {
        requested: None,
        achieved: if duration_s > 0.0 { requests.sent as f64 / duration_s } else { 0.0 },
        ratio: None,
    };
    // Only the latency from the intended start is known: the per-second logs added up.
    let mut td =
        TargetData::new(TargetResult::build(head, requests, rate, outcomes, &Default::default()), seconds, timeline)
            .map_err(|e| ResultsError::format(&path, e))?;
    td.result.hlog = file;
    td.result.latency_us = crate::results::Summary::of(&td.total);
    td.result.tracing = traced(dir, name)?;
    Ok((td, began))
}

/// `text` without its last line when a kill cut it (a line without its newline is not a row).
fn whole_lines(text: &str) -> &str {
    text.rfind('\n').map_or("", |i| &text[..=i])
}

/// The slowest traced requests of the seconds that reached the disk, when the target traced any
/// (`<target>.exemplars.csv`, else its `.partial`, without a line the kill cut).
fn traced(dir: &Path, name: &str) -> Result<Option<TracingResult>, ResultsError> {
    let whole = files::exemplars_name(name);
    let Some(file) = [whole.clone(), format!("{whole}{PARTIAL_SUFFIX}")].into_iter().find(|f| dir.join(f).exists())
    else {
        return Ok(None);
    };
    let path = dir.join(&file);
    let text = bounded::read_text(&path, bounded::MAX_TIMELINE_BYTES)?;
    let kept = Slowest::read_from(whole_lines(&text).as_bytes(), &path).map_err(|e| ResultsError::format(&path, e))?;
    Ok(Some(TracingResult {
        sample: None,
        traced: kept.traced,
        exemplars: file,
        spans_exported: None,
        spans_dropped: None,
    }))
}

/// The request counts of a target's timeline rows added up, and its outcomes as far as they are
/// known (ok, errors without their codes, dropped).
fn timeline_counts(timeline: &[TimelineRow]) -> (Counts, Vec<(String, u64)>) {
    let sum = |f: fn(&TimelineRow) -> u64| timeline.iter().map(f).sum::<u64>();
    let (sent, ok, errors, dropped) = (sum(|r| r.started), sum(|r| r.ok), sum(|r| r.errors), sum(|r| r.dropped));
    let mut outcomes = vec![("ok".to_string(), ok)];
    if errors > 0 {
        outcomes.push(("errors (codes not recorded)".to_string(), errors));
    }
    if dropped > 0 {
        outcomes.push(("dropped".to_string(), dropped));
    }
    let requests = Counts { planned: None, sent, retries: 0, ok, errors, dropped, cancelled: 0, ..Counts::default() };
    (requests, outcomes)
}

/// The run.json of the partial report: from `started_at` to the latest end of a target, interrupted.
fn partial_run(dir: &Path, targets: &[TargetData], started_at: DateTime<Utc>) -> Run {
    let ended_at = targets
        .iter()
        .map(|t| t.result.started_at + chrono::Duration::milliseconds((t.result.duration_s * 1000.0) as i64))
        .max()
        .unwrap_or(started_at);
    Run {
        schema_version: SCHEMA_VERSION,
        tool: Tool { name: "wabench".into(), version: env!("CARGO_PKG_VERSION").into() },
        name: folder_name(dir),
        description: Some(
            "Partial report: this run did not finish (no run.json). Rebuilt from the interval logs and the \
             timeline, which reached the disk every second; error codes, service time and lateness are not known."
                .into(),
        ),
        profile_file: String::new(),
        profile: serde_json::Value::Null,
        seed: 0,
        started_at,
        ended_at,
        interrupted: true,
        machine: Machine::this(),
        targets: targets.iter().map(|t| t.result.clone()).collect(),
        thresholds: Vec::new(),
        passed: true,
        aborted: None,
        shard: None,
        overrides: Vec::new(),
        operator: Vec::new(),
        imported: None,
    }
}
