//! Locust `--csv PREFIX` output: aggregate only. `PREFIX_stats_history.csv` gets a row per stats entry
//! every `CSV_STATS_INTERVAL_SEC` (1 s by default; only the "Aggregated" row unless `--csv-full-history`)
//! with cumulative request and failure counts and the response-time percentiles of a 10-second sliding
//! window; `PREFIX_stats.csv` holds the whole run's percentiles per entry; `PREFIX_failures.csv` the
//! failures by error text. Response times are in ms, and Locust stores them rounded to two significant
//! digits above 100 ms (147 → 150, 3432 → 3400). Sources: Locust documentation, "Retrieve test
//! statistics in CSV format" (<https://docs.locust.io/en/stable/retrieving-stats.html>), and the column
//! lists of `StatsCSV` in locust/stats.py (`Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,…,
//! 100%,Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,
//! Total Min Response Time,Total Max Response Time,Total Average Content Size`).
//!
//! Per-second request and failure counts become the timeline; its percentile columns are Locust's
//! 10-second window figures (the notes say so). Whole-run percentiles come from `_stats.csv` when it is
//! given, else only the median and max that the history's "Total" columns hold.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::DateTime;

use super::aggregate::{self, Figures, percentile_name};
use super::lines::Lines;
use super::{ImportError, Parsed, Request, classify};
use crate::results::imported::FROM_SEND;
use crate::results::{Imported, TimelineRow};

/// One file's rows by column name.
struct Table {
    path: PathBuf,
    header: Vec<String>,
    /// (line number, fields).
    rows: Vec<(u64, Vec<String>)>,
}

impl Table {
    fn col(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    fn get<'a>(&self, row: &'a [String], name: &str) -> Option<&'a str> {
        self.col(name).and_then(|i| row.get(i)).map(String::as_str)
    }

    /// A number of a row ("N/A" and empty are absent).
    fn num(&self, line: u64, row: &[String], name: &str) -> Result<Option<f64>, ImportError> {
        match self.get(row, name).map(str::trim) {
            None | Some("") | Some("N/A") => Ok(None),
            Some(v) => v
                .parse::<f64>()
                .map(Some)
                .map_err(|_| ImportError::at(&self.path, line, format!("column {name:?}: {v:?} is not a number"))),
        }
    }

    fn name_of<'a>(&self, row: &'a [String]) -> &'a str {
        self.get(row, "Name").unwrap_or_default()
    }
}

/// The three files a `--csv` prefix makes, by header.
#[derive(Default)]
struct Files {
    history: Option<Table>,
    stats: Option<Table>,
    failures: Option<Table>,
}

/// Read a small CSV file (Locust's are one row per entry and second) into a table.
fn table(path: &Path) -> Result<Table, ImportError> {
    let mut lines = Lines::open(path)?;
    let mut fields = Vec::new();
    let n = lines.next_record(b',', &mut fields)?.ok_or_else(|| ImportError::file(path, "empty file"))?;
    let header: Vec<String> = fields[..n].iter().map(|f| f.trim().to_string()).collect();
    let mut rows = Vec::new();
    while let Some(k) = lines.next_record(b',', &mut fields)? {
        if k == 1 && fields[0].is_empty() {
            continue;
        }
        if k != header.len() {
            return Err(lines.bad_line(format!("{k} fields where the header row has {}", header.len())));
        }
        rows.push((lines.number(), fields[..k].to_vec()));
    }
    Ok(Table { path: path.to_path_buf(), header, rows })
}

fn classify_files(req: &Request) -> Result<Files, ImportError> {
    let mut files = Files::default();
    for f in &req.files {
        let t = table(f)?;
        let has = |c: &str| t.header.iter().any(|h| h == c);
        let slot = if has("Timestamp") && has("Total Request Count") {
            &mut files.history
        } else if has("Request Count") && has("Failure Count") && has("Name") {
            &mut files.stats
        } else if has("Error") && has("Occurrences") {
            &mut files.failures
        } else {
            return Err(ImportError::at(
                f,
                1,
                "not a Locust --csv file: expected the header of _stats_history.csv (Timestamp, …, Total Request \
                 Count), _stats.csv (Type, Name, Request Count, Failure Count, …) or _failures.csv",
            ));
        };
        if slot.is_some() {
            return Err(ImportError::file(f, "a second file of the same kind: import one Locust run at a time"));
        }
        *slot = Some(t);
    }
    if files.history.is_none() && files.stats.is_none() {
        return Err(ImportError::file(&req.files[0], "no _stats_history.csv or _stats.csv among the files"));
    }
    Ok(files)
}

/// Percentile columns ("50%", "99.9%", "100%") of a row, in µs (from ms).
fn percentile_columns(t: &Table, line: u64, row: &[String]) -> Result<BTreeMap<String, u64>, ImportError> {
    let mut p = BTreeMap::new();
    for (i, h) in t.header.iter().enumerate() {
        let Some(pct) = h.strip_suffix('%').and_then(|x| x.parse::<f64>().ok()) else { continue };
        if let Some(ms) = t.num(line, row, &t.header[i])? {
            p.insert(percentile_name(pct), (ms * 1000.0).round() as u64);
        }
    }
    Ok(p)
}

/// The history of one entry: timeline rows (seconds since the first row), counts, span.
fn history(t: &Table, name: &str, f: &mut Figures) -> Result<bool, ImportError> {
    let rows: Vec<&(u64, Vec<String>)> = t.rows.iter().filter(|(_, r)| t.name_of(r) == name).collect();
    let Some(first) = rows.first() else { return Ok(false) };
    let ts = |line: u64, r: &[String]| -> Result<i64, ImportError> {
        t.num(line, r, "Timestamp")?
            .map(|v| v as i64)
            .ok_or_else(|| ImportError::at(&t.path, line, "no Timestamp (seconds since the epoch)"))
    };
    let t0 = ts(first.0, &first.1)?;
    f.started_at = DateTime::from_timestamp(t0, 0).unwrap_or_default();
    let (mut prev_req, mut prev_fail, mut last) = (0u64, 0u64, i64::MIN);
    for (line, r) in rows {
        let at = ts(*line, r)?;
        if at < last {
            return Err(ImportError::at(&t.path, *line, "Timestamp goes back in time"));
        }
        let req = t.num(*line, r, "Total Request Count")?.unwrap_or(0.0) as u64;
        let fail = t.num(*line, r, "Total Failure Count")?.unwrap_or(0.0) as u64;
        if req < prev_req || fail < prev_fail {
            return Err(ImportError::at(&t.path, *line, "the total request or failure count went down"));
        }
        let p = percentile_columns(t, *line, r)?;
        let (started, errors) = (req - prev_req, fail - prev_fail);
        let row = TimelineRow {
            second: (at - t0) as u64,
            started,
            ok: started - errors.min(started),
            errors,
            p50_us: p.get("p50").copied(),
            p90_us: p.get("p90").copied(),
            p99_us: p.get("p99").copied(),
            max_us: p.get("max").copied(),
            ..TimelineRow::default()
        };
        if at == last {
            if let Some(prev) = f.timeline.last_mut() {
                prev.started += row.started;
                prev.ok += row.ok;
                prev.errors += row.errors;
            }
        } else {
            f.timeline.push(row);
        }
        (prev_req, prev_fail, last) = (req, fail, at);
        f.counts.sent = req;
        f.counts.errors = fail;
        f.duration_s = (at - t0) as f64;
        f.connections = f.connections.max(t.num(*line, r, "User Count")?.unwrap_or(0.0) as u32);
        let total = |c: &str| t.num(*line, r, c).map(|v| v.map(|ms| (ms * 1000.0).round() as u64));
        if let Some(v) = total("Total Median Response Time")? {
            f.percentiles_us.insert("p50".into(), v);
        }
        if let Some(v) = total("Total Max Response Time")? {
            f.percentiles_us.insert("max".into(), v);
        }
        f.min_us = total("Total Min Response Time")?;
        f.mean_us = t.num(*line, r, "Total Average Response Time")?.map(|ms| ms * 1000.0);
    }
    Ok(true)
}

/// The whole-run row of one entry in `_stats.csv`: counts and every percentile.
fn stats(t: &Table, name: &str, f: &mut Figures) -> Result<bool, ImportError> {
    let Some((line, r)) = t.rows.iter().find(|(_, r)| t.name_of(r) == name) else { return Ok(false) };
    f.counts.sent = t.num(*line, r, "Request Count")?.unwrap_or(0.0) as u64;
    f.counts.errors = t.num(*line, r, "Failure Count")?.unwrap_or(0.0) as u64;
    f.percentiles_us = percentile_columns(t, *line, r)?;
    if let Some(max) = t.num(*line, r, "Max Response Time")? {
        f.percentiles_us.insert("max".into(), (max * 1000.0).round() as u64);
    }
    f.min_us = t.num(*line, r, "Min Response Time")?.map(|ms| (ms * 1000.0).round() as u64);
    f.mean_us = t.num(*line, r, "Average Response Time")?.map(|ms| ms * 1000.0);
    f.achieved = t.num(*line, r, "Requests/s")?.unwrap_or(0.0);
    Ok(true)
}

/// Failures by outcome key from `_failures.csv` (all entries for "Aggregated").
fn failures(t: &Table, name: &str) -> Result<BTreeMap<String, u64>, ImportError> {
    let mut out = BTreeMap::new();
    for (line, r) in &t.rows {
        if name != "Aggregated" && t.name_of(r) != name {
            continue;
        }
        let n = t.num(*line, r, "Occurrences")?.unwrap_or(0.0) as u64;
        let text = t.get(r, "Error").unwrap_or_default();
        // requests' HTTPError text: "503 Server Error: Service Unavailable for url: …"
        let status = text
            .split_whitespace()
            .zip(text.split_whitespace().skip(1))
            .find(|(_, w)| w.starts_with("Server") || w.starts_with("Client"))
            .and_then(|(code, _)| code.trim_start_matches(|c: char| !c.is_ascii_digit()).parse::<u16>().ok());
        let key = match status {
            Some(s) => classify::http(s, Some(false), &[text]),
            None => classify::failure(text),
        };
        *out.entry(key).or_insert(0) += n;
    }
    Ok(out)
}

fn figures(files: &Files, name: &str, label: String) -> Result<Figures, ImportError> {
    let mut f = Figures { label, model: "closed", latency_from: FROM_SEND, ..Figures::default() };
    let in_history = match &files.history {
        Some(h) => history(h, name, &mut f)?,
        None => false,
    };
    let in_stats = match &files.stats {
        Some(s) => stats(s, name, &mut f)?,
        None => false,
    };
    if !in_history && !in_stats {
        let file = files.history.as_ref().or(files.stats.as_ref()).map(|t| t.path.clone()).unwrap_or_default();
        return Err(ImportError::file(&file, format!("no rows named {name:?} (Locust's Name column)")));
    }
    if f.achieved == 0.0 && f.duration_s > 0.0 {
        f.achieved = f.counts.sent as f64 / f.duration_s;
    }
    let fails = match &files.failures {
        Some(t) => failures(t, name)?,
        None => BTreeMap::new(),
    };
    let classified: u64 = fails.values().sum();
    f.counts.ok = f.counts.sent.saturating_sub(f.counts.errors);
    f.outcomes = vec![("ok".into(), f.counts.ok)];
    f.outcomes.extend(fails.into_iter().filter(|(_, n)| *n > 0));
    if f.counts.errors > classified {
        f.outcomes.push(("failure".into(), f.counts.errors - classified));
    }
    Ok(f)
}

/// Import a Locust run's CSV files.
pub fn import(req: &Request, dir: &Path) -> Result<Parsed, ImportError> {
    let files = classify_files(req)?;
    let names: Vec<String> = if req.labels.is_empty() { vec!["Aggregated".into()] } else { req.labels.clone() };
    if req.target.is_some() && names.len() > 1 {
        return Err(ImportError::file(&req.files[0], "--target names one target: give at most one --label"));
    }
    let mut targets = Vec::new();
    for n in &names {
        let label = req.target.clone().unwrap_or_else(|| if n == "Aggregated" { "locust".into() } else { n.clone() });
        targets.push((super::target_name(&label), figures(&files, n, label)?));
    }
    let started_at = targets.iter().map(|t| t.1.started_at).min().unwrap_or_default();
    let ended_at = targets.iter().map(|t| aggregate::ended(t.1.started_at, t.1.duration_s)).max().unwrap_or(started_at);
    let mut unavailable = vec!["per-second histograms: compare gives ratios without intervals".to_string()];
    if files.stats.is_none() {
        unavailable.push("whole-run p90, p99 and p99.9: give the run's _stats.csv too".into());
    }
    if files.failures.is_none() {
        unavailable.push("what the failures were (counted as `failure`): give the run's _failures.csv too".into());
    }
    let results = aggregate::write(dir, "locust", targets).map_err(|e| ImportError::file(dir, e))?;
    Ok(Parsed {
        targets: results,
        imported: Imported {
            tool: "locust".into(),
            files: super::file_names(req),
            per_request: false,
            available: vec![
                "whole-run percentiles as Locust computed them (rounded to 2 significant digits above 100 ms)".into(),
                "per-second request and failure counts".into(),
            ],
            unavailable,
            notes: vec![
                "timeline percentiles are Locust's 10-second sliding-window figures, not the second's own".into(),
                "Locust users are a closed loop: response times are service time, from the actual send".into(),
                "Timestamp is the Locust machine's clock, in whole seconds".into(),
            ],
        },
        started_at,
        ended_at,
    })
}
