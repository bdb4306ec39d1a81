//! JMeter results in CSV (XML results are read by `xml`) (`.jtl` with `jmeter.save.saveservice.output_format=csv`, JMeter's default;
//! `jmeter -n -t plan.jmx -l results.jtl`). One line per sample: `timeStamp` (ms since the epoch, the
//! sample's start: JMeter's shipped jmeter.properties sets `sampleresult.timestamp.start=true`),
//! `elapsed` (ms, from just before sending to the last byte: service time, since JMeter's thread groups
//! are closed loops), `label`, `responseCode`, `success`, and optionally `responseMessage`,
//! `failureMessage`, `URL`, `allThreads`.
//!
//! The header row JMeter writes (`jmeter.save.saveservice.print_field_names=true`, the default) names
//! the columns, in any order and with any of JMeter's delimiters; without it, JMeter 5's default column
//! order is assumed only when the line has its 17 fields. Sources: Apache JMeter user manual,
//! "Listeners" → "CSV log format" and "Results file configuration"
//! (<https://jmeter.apache.org/usermanual/listeners.html>), the `jmeter.save.saveservice.*` properties of
//! bin/jmeter.properties, and the default header
//! `timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect`.

use std::path::Path;

use chrono::DateTime;

use crate::app::import::lines::{self, Lines};
use crate::app::import::sink::{Sample, Sink};
use crate::app::import::{ImportError, Parsed, Request, classify};

mod xml;

/// JMeter 5's default CSV columns, in order (for files saved without a header row).
pub const DEFAULT_COLUMNS: [&str; 17] = [
    "timeStamp",
    "elapsed",
    "label",
    "responseCode",
    "responseMessage",
    "threadName",
    "dataType",
    "success",
    "failureMessage",
    "bytes",
    "sentBytes",
    "grpThreads",
    "allThreads",
    "URL",
    "Latency",
    "IdleTime",
    "Connect",
];

/// The delimiters JMeter's `jmeter.save.saveservice.default_delimiter` is commonly set to.
const DELIMITERS: [u8; 4] = [b',', b'\t', b';', b'|'];

/// Where the columns a sample needs are.
#[derive(Debug, Clone, PartialEq)]
struct Columns {
    delim: u8,
    count: usize,
    ts: usize,
    elapsed: usize,
    label: usize,
    code: usize,
    success: usize,
    message: Option<usize>,
    failure: Option<usize>,
    url: Option<usize>,
    threads: Option<usize>,
}

impl Columns {
    fn of(names: &[String], delim: u8) -> Result<Columns, String> {
        let find = |n: &str| names.iter().position(|c| c.trim() == n);
        let need = |n: &str| find(n).ok_or_else(|| n.to_string());
        let missing: Vec<String> =
            ["timeStamp", "elapsed", "label", "responseCode", "success"].iter().filter_map(|n| need(n).err()).collect();
        if !missing.is_empty() {
            return Err(format!(
                "the header row has no {} column{}: JMeter must save them (jmeter.save.saveservice.time, label, \
                 response_code, successful = true)",
                missing.join(", "),
                if missing.len() > 1 { "s" } else { "" }
            ));
        }
        Ok(Columns {
            delim,
            count: names.len(),
            ts: need("timeStamp")?,
            elapsed: need("elapsed")?,
            label: need("label")?,
            code: need("responseCode")?,
            success: need("success")?,
            message: find("responseMessage"),
            failure: find("failureMessage"),
            url: find("URL"),
            threads: find("allThreads"),
        })
    }
}

/// The columns of a file from its first line: a header row, or a sample in JMeter's default order.
fn detect(first: &str) -> Result<(Columns, bool), String> {
    let mut fields = Vec::new();
    for d in DELIMITERS {
        let n = lines::split(first, d, &mut fields).unwrap_or(0);
        let names = &fields[..n];
        if names.iter().any(|f| f.trim() == "timeStamp") && names.iter().any(|f| f.trim() == "elapsed") {
            return Columns::of(names, d).map(|c| (c, true));
        }
    }
    for d in DELIMITERS {
        let n = lines::split(first, d, &mut fields).unwrap_or(0);
        if n == DEFAULT_COLUMNS.len()
            && fields[0].parse::<i64>().is_ok()
            && matches!(fields[7].as_str(), "true" | "false")
        {
            let names: Vec<String> = DEFAULT_COLUMNS.iter().map(|s| s.to_string()).collect();
            return Columns::of(&names, d).map(|c| (c, false));
        }
    }
    Err(format!(
        "no header row, and the line is not in JMeter's default column order ({} fields: {}): save the results \
         with their header row (jmeter.save.saveservice.print_field_names=true) or add it as the first line",
        DEFAULT_COLUMNS.len(),
        DEFAULT_COLUMNS.join(",")
    ))
}

/// A JMeter timestamp in µs since the epoch: milliseconds (the default), or a date with its time zone.
pub fn parse_timestamp(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return ms.checked_mul(1000).ok_or_else(|| format!("timeStamp {s} is out of range"));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_micros());
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y/%m/%d %H:%M:%S%.f %z", "%Y-%m-%d %H:%M:%S%.f %z", "%Y-%m-%d %H:%M:%S%.f%z"]
    {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Ok(t.timestamp_micros());
        }
    }
    Err(format!(
        "timeStamp {s:?} is neither milliseconds since the epoch (JMeter's default) nor a date with a time zone; a \
         date without its zone cannot be placed in time: save with jmeter.save.saveservice.timestamp_format=ms"
    ))
}

/// Read one sample's fields into the sink.
fn sample(fields: &[String], c: &Columns, req: &Request, sink: &mut Sink, skipped: &mut u64) -> Result<(), String> {
    let label = fields[c.label].as_str();
    if !req.labels.is_empty() && !req.labels.iter().any(|l| l == label) {
        *skipped += 1;
        return Ok(());
    }
    let start_us = parse_timestamp(&fields[c.ts])?;
    let e = fields[c.elapsed].trim();
    let elapsed_ms: u64 = e.parse().map_err(|_| format!("elapsed {e:?} is not a whole number of milliseconds"))?;
    let success = match fields[c.success].trim() {
        "true" => true,
        "false" => false,
        s => return Err(format!("success {s:?} is neither true nor false")),
    };
    let text = |i: Option<usize>| i.map_or("", |i| fields[i].as_str());
    let code = fields[c.code].trim();
    let outcome = match code.parse::<u16>() {
        Ok(status) => classify::http(status, Some(success), &[text(c.message), text(c.failure)]),
        Err(_) if success => "ok".into(),
        Err(_) => classify::failure(&format!("{code} {}", text(c.message))),
    };
    let threads = c.threads.and_then(|i| fields[i].trim().parse().ok());
    let url = c.url.map(|i| fields[i].as_str()).filter(|u| !u.is_empty() && *u != "null");
    sink.record(&Sample { label, start_us, latency_us: elapsed_ms * 1000, outcome: &outcome, url, threads })
}

fn read_file(path: &Path, req: &Request, sink: &mut Sink, skipped: &mut u64) -> Result<u64, ImportError> {
    let mut lines = Lines::open(path)?;
    let first = match lines.next_line()? {
        Some(l) => l.to_string(),
        None => return Err(ImportError::file(path, "empty file: no JMeter header row or samples")),
    };
    if first.trim_start().starts_with('<') {
        return xml::read_file(path, req, sink, skipped);
    }
    let (cols, header) = detect(&first).map_err(|e| lines.error(e))?;
    let mut fields = Vec::new();
    let mut n = 0u64;
    if !header {
        let k = lines::split(&first, cols.delim, &mut fields).map_err(|e| lines.bad_line(e))?;
        sample(&fields[..k], &cols, req, sink, skipped).map_err(|e| lines.bad_line(e))?;
        n += 1;
    }
    while let Some(k) = lines.next_record(cols.delim, &mut fields)? {
        if k == 1 && fields[0].is_empty() {
            continue;
        }
        if k != cols.count {
            return Err(lines.bad_line(format!(
                "{k} fields where the {} has {}: the columns changed mid-file or the line is cut",
                if header { "header row" } else { "default column order" },
                cols.count
            )));
        }
        sample(&fields[..k], &cols, req, sink, skipped).map_err(|e| lines.bad_line(e))?;
        n += 1;
    }
    Ok(n)
}

/// Import JMeter CSV files into `dir`.
pub fn import(req: &Request, dir: &Path) -> Result<Parsed, ImportError> {
    let mut sink = Sink::open(req, dir, "jmeter", "closed")?;
    let skipped = sink.read_each(req, read_file)?;
    if sink.is_empty() {
        let why = if skipped > 0 {
            format!("none of its {skipped} samples has a label given with --label")
        } else {
            "no samples".into()
        };
        return Err(ImportError::file(&req.files[0], why));
    }
    let fin = sink.finish().map_err(|e| ImportError::file(dir, e))?;
    let mut notes = vec![
        "timeStamp is the sample's start on the JMeter machine's clock (sampleresult.timestamp.start=true, JMeter's \
         shipped setting); elapsed is in ms, converted to µs exactly"
            .to_string(),
    ];
    if skipped > 0 {
        notes.push(format!("{skipped} samples of other labels left out (--label)"));
    }
    Ok(fin.parsed(
        req,
        "jmeter",
        &[
            "per-request latency (elapsed), per-second histograms",
            "response codes and success; WhatsApp error codes where a message or body was saved",
        ],
        &[
            "latency from the intended start: JMeter's threads are a closed loop, so elapsed is service time \
             (from the actual send); requests a stalled server held back were never sent",
            "requested rate, drops and lateness",
        ],
        notes,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_in_any_order_and_delimiter_are_found() {
        let (c, header) = detect("timeStamp,elapsed,label,responseCode,success").unwrap();
        assert!(header);
        assert_eq!((c.ts, c.elapsed, c.label, c.code, c.success, c.count), (0, 1, 2, 3, 4, 5));
        let (c, _) = detect("label|success|elapsed|timeStamp|responseCode|URL").unwrap();
        assert_eq!((c.delim, c.ts, c.url), (b'|', 3, Some(5)));
        let e = detect("timeStamp,elapsed,label,success").unwrap_err();
        assert!(e.contains("no responseCode column"), "{e}");
    }

    #[test]
    fn headerless_files_need_the_default_order() {
        let line = "1509841690552,354,login,200,OK,login 1-1,text,true,,2781,133,1,1,http://h/x,354,0,275";
        let (c, header) = detect(line).unwrap();
        assert!(!header);
        assert_eq!((c.url, c.threads), (Some(13), Some(12)));
        let e = detect("1509841690552,354,login,200,true").unwrap_err();
        assert!(e.contains("default column order"), "{e}");
    }

    #[test]
    fn timestamps_keep_their_zone() {
        assert_eq!(parse_timestamp("1509841690552").unwrap(), 1_509_841_690_552_000);
        let a = parse_timestamp("2017-11-05T01:28:10.552+0100").unwrap();
        let b = parse_timestamp("2017-11-05T00:28:10.552Z").unwrap();
        assert_eq!(a, b, "mixed time zones meet on UTC");
        let e = parse_timestamp("2017/11/05 01:28:10").unwrap_err();
        assert!(e.contains("time zone"), "{e}");
    }
}
