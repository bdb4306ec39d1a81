//! wrk2 `--latency` output (and `--u_latency`, the uncorrected spectrum), plain wrk `--latency` output,
//! and bare HdrHistogram percentile-distribution printouts (`outputPercentileDistribution`): aggregate
//! only. wrk2's "Recorded Latency" is measured from when each request should have been sent by the
//! constant-throughput plan (coordinated omission corrected), so it is latency from the intended start;
//! its "Uncorrected Latency (measured without taking delayed starts into account)" is service time.
//! Plain wrk measures from the actual send. Sources: wrk2's README (<https://github.com/giltene/wrk2>,
//! "Basic Usage" output and "A note about wrk2's latency measurement technique"), wrk2's `src/wrk.c`
//! (`print_hdr_latency`: the percentile lines use wrk's time units us/ms/s/m/h; the "Detailed
//! Percentile spectrum" is `hdr_percentiles_print` with a scaling ratio of 1000, i.e. in ms), and
//! HdrHistogram's `outputPercentileDistribution` format (Value, Percentile, TotalCount,
//! 1/(1-Percentile), then `#[Mean …]`, `#[Max …, Total count …]`), whose unit a bare printout does not
//! say (`--unit`).

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};

use super::aggregate::{self, Figures, percentile_name};
use super::lines::Lines;
use super::{ImportError, Parsed, Request, Unit};
use crate::results::imported::{FROM_INTENDED_START, FROM_SEND};
use crate::results::{Counts, Imported};

/// Which spectrum a section is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// wrk2's corrected ("Recorded Latency").
    Corrected,
    /// wrk2's `--u_latency` spectrum.
    Uncorrected,
    /// Plain wrk's "Latency Distribution" (from the actual send).
    Wrk,
    /// A bare HdrHistogram printout.
    Bare,
}

/// One printed spectrum.
#[derive(Debug, Clone, Default)]
struct Spectrum {
    /// From the "NN.NNN%  value" lines, in µs.
    lines: BTreeMap<String, u64>,
    /// (value as printed, percentile) rows of the detailed spectrum.
    rows: Vec<(f64, f64)>,
    mean: Option<f64>,
    stdev: Option<f64>,
    max: Option<f64>,
    count: Option<u64>,
}

/// Everything read from one printout.
#[derive(Debug, Default)]
struct Printout {
    spectra: Vec<(Kind, Spectrum)>,
    url: String,
    connections: u32,
    requests: Option<u64>,
    duration_s: Option<f64>,
    per_sec: Option<f64>,
    socket: [u64; 4],
    non_2xx: u64,
}

/// A wrk time ("6.67ms", "180.00us", "1.02s", "8.65m") in µs.
pub fn parse_time(s: &str) -> Option<f64> {
    let (num, mul) = if let Some(n) = s.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1e6)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60e6)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3600e6)
    } else {
        return None;
    };
    num.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0).map(|v| v * mul)
}

/// `#[Name = value, Name = value]` → the values by name.
fn bracket(line: &str) -> BTreeMap<String, f64> {
    let inner = line.trim().trim_start_matches("#[").trim_start_matches('[').trim_end_matches(']');
    inner
        .split(',')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.trim().to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

fn words_after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_once(key).map(|(_, rest)| rest.trim())
}

fn read_line(p: &mut Printout, line: &str, current: &mut Option<usize>) -> Result<(), String> {
    let t = line.trim();
    if let Some(rest) = t.strip_prefix("Latency Distribution") {
        let kind = if rest.contains("Uncorrected") {
            Kind::Uncorrected
        } else if rest.contains("HdrHistogram") {
            Kind::Corrected
        } else {
            Kind::Wrk
        };
        p.spectra.push((kind, Spectrum::default()));
        *current = Some(p.spectra.len() - 1);
    } else if t.starts_with("Value") && t.contains("Percentile") && t.contains("TotalCount") {
        if current.is_none() {
            p.spectra.push((Kind::Bare, Spectrum::default()));
            *current = Some(p.spectra.len() - 1);
        }
    } else if t.starts_with("#[") || (t.starts_with('[') && t.contains('=')) {
        let b = bracket(t);
        if let Some(i) = *current {
            let s = &mut p.spectra[i].1;
            s.mean = s.mean.or(b.get("Mean").copied());
            s.stdev = s.stdev.or(b.get("StdDeviation").copied());
            s.max = s.max.or(b.get("Max").copied());
            s.count = s.count.or(b.get("Total count").map(|c| *c as u64));
        }
    } else if t.starts_with("----") {
        *current = None;
    } else if let Some(rest) = t.strip_prefix("Running ") {
        p.url = words_after(rest, "@").unwrap_or_default().to_string();
    } else if t.contains("threads and") && t.ends_with("connections") {
        p.connections = t.split_whitespace().nth(3).and_then(|c| c.parse().ok()).unwrap_or(0);
    } else if t.contains("requests in") {
        let mut w = t.split_whitespace();
        p.requests = w.next().and_then(|n| n.parse().ok());
        p.duration_s = w.nth(2).map(|d| d.trim_end_matches(',')).and_then(parse_time).map(|us| us / 1e6);
    } else if let Some(rest) = t.strip_prefix("Requests/sec:") {
        p.per_sec = rest.trim().parse().ok();
    } else if let Some(rest) = t.strip_prefix("Socket errors:") {
        for (i, key) in ["connect", "read", "write", "timeout"].iter().enumerate() {
            p.socket[i] = words_after(rest, key)
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
        }
    } else if let Some(rest) = t.strip_prefix("Non-2xx or 3xx responses:") {
        p.non_2xx = rest.trim().parse().map_err(|_| format!("{rest:?} is not a count"))?;
    } else if let Some(i) = *current {
        spectrum_line(&mut p.spectra[i].1, t)?;
    }
    Ok(())
}

/// A percentile line ("99.900%   12.30ms") or a detailed spectrum row ("12.311 0.999023 39463 1024.00").
fn spectrum_line(s: &mut Spectrum, t: &str) -> Result<(), String> {
    let w: Vec<&str> = t.split_whitespace().collect();
    if w.len() == 2
        && let Some(pct) = w[0].strip_suffix('%')
    {
        let pct: f64 = pct.parse().map_err(|_| format!("{:?} is not a percentage", w[0]))?;
        let us = parse_time(w[1]).ok_or_else(|| format!("{:?} is not a wrk time (us, ms, s, m, h)", w[1]))?;
        s.lines.insert(percentile_name(pct), us.round() as u64);
    } else if (w.len() == 3 || w.len() == 4) && w[0].parse::<f64>().is_ok() && w[1].parse::<f64>().is_ok() {
        let v: f64 = w[0].parse().unwrap_or(0.0);
        let p: f64 = w[1].parse().map_err(|_| format!("{:?} is not a percentile", w[1]))?;
        s.rows.push((v, p));
    }
    Ok(())
}

/// The percentiles of a spectrum in µs: its percentile lines, else looked up in the detailed rows
/// (the first row at or above each percentile, which is how the printout steps through the histogram).
fn percentiles(s: &Spectrum, unit: Unit) -> BTreeMap<String, u64> {
    let us = |v: f64| unit.to_us(v).round() as u64;
    let mut p = s.lines.clone();
    if p.is_empty() {
        for q in [0.5, 0.75, 0.9, 0.99, 0.999, 0.9999] {
            if let Some((v, _)) = s.rows.iter().find(|(_, pct)| *pct >= q) {
                p.insert(percentile_name(q * 100.0), us(*v));
            }
        }
    }
    if let Some(m) = s.max.or(s.rows.last().map(|r| r.0)) {
        p.insert("max".into(), us(m));
    }
    p
}

fn read_printout(path: &Path) -> Result<Printout, ImportError> {
    let mut lines = Lines::open(path)?;
    let mut p = Printout::default();
    let mut current = None;
    while let Some(line) = lines.next_line()? {
        let line = line.to_string();
        read_line(&mut p, &line, &mut current).map_err(|e| lines.error(e))?;
    }
    if p.spectra.iter().all(|(_, s)| s.lines.is_empty() && s.rows.is_empty()) {
        return Err(ImportError::file(
            path,
            "not wrk2 --latency output or an HdrHistogram percentile distribution: no \"Latency Distribution\" \
             percentiles and no \"Value Percentile TotalCount\" rows",
        ));
    }
    Ok(p)
}

/// When the run happened: wrk prints no time, so the file's modification time is taken as its end.
fn placed(path: &Path, duration_s: f64) -> DateTime<Utc> {
    let end: DateTime<Utc> =
        std::fs::metadata(path).and_then(|m| m.modified()).map(DateTime::<Utc>::from).unwrap_or(DateTime::UNIX_EPOCH);
    end - chrono::Duration::milliseconds((duration_s * 1000.0) as i64)
}

fn figures(path: &Path, p: Printout, unit: Unit, label: String) -> Figures {
    let main = p.spectra.iter().find(|(k, _)| *k != Kind::Uncorrected).or(p.spectra.first());
    let (kind, spec) = main.map(|(k, s)| (*k, s.clone())).unwrap_or((Kind::Bare, Spectrum::default()));
    let uncorrected = p.spectra.iter().find(|(k, _)| *k == Kind::Uncorrected).map(|(_, s)| percentiles(s, Unit::Ms));
    let spec_unit = if kind == Kind::Bare { unit } else { Unit::Ms };
    let duration_s = p.duration_s.unwrap_or(0.0);
    let [connect, read, write, timeout] = p.socket;
    let complete = p.requests.or(spec.count).unwrap_or(0);
    let ok = complete.saturating_sub(p.non_2xx);
    let mut outcomes = vec![("ok".to_string(), ok)];
    for (k, n) in
        [("http_error", p.non_2xx), ("connect_error", connect), ("io_error", read + write), ("timeout", timeout)]
    {
        if n > 0 {
            outcomes.push((k.to_string(), n));
        }
    }
    let errors: u64 = outcomes[1..].iter().map(|o| o.1).sum();
    Figures {
        label,
        url: p.url,
        model: match kind {
            Kind::Corrected => "open",
            Kind::Wrk => "closed",
            _ => "unknown",
        },
        latency_from: if matches!(kind, Kind::Corrected) { FROM_INTENDED_START } else { FROM_SEND },
        started_at: placed(path, duration_s),
        duration_s,
        connections: p.connections,
        counts: Counts {
            planned: None,
            sent: ok + errors,
            retries: 0,
            ok,
            errors,
            dropped: 0,
            cancelled: 0,
            ..Counts::default()
        },
        outcomes,
        achieved: p.per_sec.unwrap_or(if duration_s > 0.0 { complete as f64 / duration_s } else { 0.0 }),
        percentiles_us: percentiles(&spec, spec_unit),
        service_time_us: uncorrected,
        count: spec.count,
        min_us: spec.rows.first().map(|r| spec_unit.to_us(r.0).round() as u64),
        mean_us: spec.mean.map(|m| spec_unit.to_us(m)),
        stdev_us: spec.stdev.map(|m| spec_unit.to_us(m)),
        timeline: Vec::new(),
    }
}

/// Import wrk / wrk2 / HdrHistogram printouts: one target per file.
pub fn import(req: &Request, dir: &Path) -> Result<Parsed, ImportError> {
    if req.target.is_some() && req.files.len() > 1 {
        return Err(ImportError::file(&req.files[1], "--target names the one target of one printout; give one file"));
    }
    let mut targets = Vec::new();
    let mut bare = false;
    for f in &req.files {
        let p = read_printout(f)?;
        let is_bare = p.spectra.iter().all(|(k, _)| *k == Kind::Bare);
        if is_bare && req.unit.is_none() {
            return Err(ImportError::file(
                f,
                "an HdrHistogram percentile distribution does not say its unit: pass --unit (wrk2's spectrum is in ms)",
            ));
        }
        bare |= is_bare;
        let stem = f.file_stem().map_or("wrk2".into(), |s| s.to_string_lossy().into_owned());
        let label = req.target.clone().unwrap_or(stem);
        let name = super::target_name(&label);
        if targets.iter().any(|(n, _)| *n == name) {
            return Err(ImportError::file(f, format!("a second file for target {name:?}: rename it")));
        }
        targets.push((name, figures(f, p, req.unit.unwrap_or(Unit::Ms), label)));
    }
    let started_at = targets.iter().map(|t| t.1.started_at).min().unwrap_or_default();
    let ended_at = targets.iter().map(|t| aggregate::ended(t.1.started_at, t.1.duration_s)).max().unwrap_or(started_at);
    let results = aggregate::write(dir, "wrk2", targets).map_err(|e| ImportError::file(dir, e))?;
    let mut notes = vec![
        "wrk prints no time: each run is placed so that it ends at its file's modification time".to_string(),
        "percentiles as printed (wrk's percentile lines have 3 significant digits); max from #[Max] when present"
            .into(),
        "requests with a non-2xx/3xx status are counted as http_error: wrk does not print which status".into(),
    ];
    if bare {
        notes.push(format!("bare HdrHistogram printout values read in {}", req.unit.unwrap_or(Unit::Ms).name()));
    }
    Ok(Parsed {
        targets: results,
        imported: Imported {
            tool: "wrk2".into(),
            files: super::file_names(req),
            per_request: false,
            available: vec![
                "whole-run latency percentiles (wrk2: corrected, from the intended start; uncorrected as service \
                 time when printed with --u_latency)"
                    .into(),
                "request, error and socket-error counts; requests per second".into(),
            ],
            unavailable: vec![
                "per-second histograms: compare gives ratios without intervals".into(),
                "per-second counts and the run's wall-clock time".into(),
            ],
            notes,
        },
        started_at,
        ended_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_times_convert_exactly() {
        assert_eq!(parse_time("180.00us"), Some(180.0));
        assert_eq!(parse_time("6.67ms"), Some(6670.0));
        assert_eq!(parse_time("1.02s"), Some(1_020_000.0));
        assert_eq!(parse_time("8.65m"), Some(519_000_000.0));
        assert_eq!(parse_time("12"), None);
        assert_eq!(parse_time("-1ms"), None);
    }

    #[test]
    fn bracket_lines_give_their_values() {
        let b = bracket("#[Max     =       12.496, Total count    =        39500]");
        assert_eq!(b["Max"], 12.496);
        assert_eq!(b["Total count"], 39500.0);
    }
}
