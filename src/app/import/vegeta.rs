//! vegeta results encoded with `vegeta encode` (`--to csv` or `--to json`, the default): one request
//! per line. CSV, no header: timestamp (ns since the epoch: when the request was sent), HTTP status
//! code, latency (ns), bytes out, bytes in, error, response body (base64), attack name, sequence number,
//! and in newer versions method, URL and headers. JSON: `{"attack","seq","code","timestamp" (RFC 3339),
//! "latency" (ns),"bytes_out","bytes_in","error","body" (base64),"method","url","headers"}`. A code of
//! 0 with an error is a request that got no answer. Source: vegeta's `lib/results.go`
//! (`NewCSVEncoder`: "UNIX timestamp in ns since epoch, HTTP status code, request latency in ns, bytes
//! out, bytes in, response body, and lastly the error"; the `Result` JSON fields;
//! `End() = Timestamp + Latency`) and its README, "encode" command
//! (<https://github.com/tsenart/vegeta>).

use std::path::Path;

use base64::Engine;
use chrono::DateTime;
use serde_json::Value;

use super::lines::{self, Lines};
use super::sink::{Sample, Sink};
use super::{ImportError, Parsed, Request, classify};

/// One request as vegeta encoded it.
struct Hit<'a> {
    start_ns: i64,
    code: u16,
    latency_ns: u64,
    error: &'a str,
    body_b64: &'a str,
    attack: &'a str,
    url: Option<&'a str>,
}

fn outcome(h: &Hit<'_>) -> String {
    if h.code == 0 {
        return classify::failure(h.error);
    }
    let body = base64::engine::general_purpose::STANDARD.decode(h.body_b64.trim()).unwrap_or_default();
    let body = String::from_utf8_lossy(&body);
    classify::http(h.code, None, &[&body])
}

fn record(h: &Hit<'_>, req: &Request, sink: &mut Sink, skipped: &mut u64) -> Result<(), String> {
    let label = if h.attack.is_empty() { "vegeta" } else { h.attack };
    if !req.labels.is_empty() && !req.labels.iter().any(|l| l == label) {
        *skipped += 1;
        return Ok(());
    }
    let outcome = outcome(h);
    let sample = Sample {
        label,
        start_us: h.start_ns.div_euclid(1000),
        latency_us: (h.latency_ns + 500) / 1000,
        outcome: &outcome,
        url: h.url.filter(|u| !u.is_empty()),
        threads: None,
    };
    sink.record(&sample)
}

fn csv_hit(f: &[String]) -> Result<Hit<'_>, String> {
    if f.len() < 9 {
        return Err(format!(
            "{} fields: vegeta's CSV has at least 9 (timestamp, code, latency, bytes out, bytes in, error, body, attack, seq)",
            f.len()
        ));
    }
    let int = |i: usize, what: &str| -> Result<i64, String> {
        f[i].trim().parse::<i64>().map_err(|_| format!("field {} ({what}) {:?} is not a whole number", i + 1, f[i]))
    };
    Ok(Hit {
        start_ns: int(0, "timestamp, ns")?,
        code: u16::try_from(int(1, "status code")?).map_err(|_| format!("status code {} is out of range", f[1]))?,
        latency_ns: u64::try_from(int(2, "latency, ns")?).map_err(|_| format!("latency {} is negative", f[2]))?,
        error: &f[5],
        body_b64: &f[6],
        attack: &f[7],
        url: f.get(10).map(String::as_str),
    })
}

fn json_hit(v: &Value) -> Result<Hit<'_>, String> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default();
    let ts = v.get("timestamp").and_then(Value::as_str).ok_or("no \"timestamp\": not vegeta's JSON encoding")?;
    let t = DateTime::parse_from_rfc3339(ts).map_err(|e| format!("timestamp {ts:?} is not an RFC 3339 time: {e}"))?;
    let start_ns = t.timestamp_nanos_opt().ok_or_else(|| format!("timestamp {ts:?} is out of range"))?;
    Ok(Hit {
        start_ns,
        code: v.get("code").and_then(Value::as_u64).and_then(|c| u16::try_from(c).ok()).ok_or("no numeric \"code\"")?,
        latency_ns: v.get("latency").and_then(Value::as_u64).ok_or("no \"latency\" in ns")?,
        error: s("error"),
        body_b64: s("body"),
        attack: s("attack"),
        url: v.get("url").and_then(Value::as_str),
    })
}

fn read_file(path: &Path, req: &Request, sink: &mut Sink, skipped: &mut u64) -> Result<u64, ImportError> {
    let mut lines = Lines::open(path)?;
    let mut fields = Vec::new();
    let mut n = 0u64;
    let mut json = None;
    loop {
        let text = match lines.next_line()? {
            Some(t) if t.trim().is_empty() => continue,
            Some(t) => t.to_string(),
            None => break,
        };
        let is_json = *json.get_or_insert(text.trim_start().starts_with('{'));
        let res = if is_json {
            serde_json::from_str::<Value>(&text)
                .map_err(|e| format!("not vegeta's JSON encoding: {e}"))
                .and_then(|v| json_hit(&v).and_then(|h| record(&h, req, sink, skipped)))
        } else {
            lines::split(&text, b',', &mut fields)
                .and_then(|k| csv_hit(&fields[..k]).and_then(|h| record(&h, req, sink, skipped)))
        };
        res.map_err(|e| lines.bad_line(e))?;
        n += 1;
    }
    if n == 0 {
        return Err(ImportError::file(path, "empty file: no vegeta results"));
    }
    Ok(n)
}

/// Import vegeta results (CSV or JSON, as `vegeta encode` writes them).
pub fn import(req: &Request, dir: &Path) -> Result<Parsed, ImportError> {
    let mut sink = Sink::open(req, dir, "vegeta", "open")?;
    let skipped = sink.read_each(req, read_file)?;
    if sink.is_empty() {
        return Err(ImportError::file(
            &req.files[0],
            format!("none of its {skipped} results has an attack name given with --label"),
        ));
    }
    let fin = sink.finish().map_err(|e| ImportError::file(dir, e))?;
    let mut notes = vec![
        "timestamp is when vegeta sent the request, on its machine's clock; latency in ns, rounded to the µs"
            .to_string(),
    ];
    if skipped > 0 {
        notes.push(format!("{skipped} results of other attacks left out (--label)"));
    }
    Ok(fin.parsed(
        req,
        "vegeta",
        &[
            "per-request latency, per-second histograms, status codes and errors; WhatsApp error codes from saved bodies",
        ],
        &[
            "latency from the intended start: vegeta measures from when it sent the request",
            "requested rate and drops",
        ],
        notes,
    ))
}
