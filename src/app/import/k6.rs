//! k6 `--out json=FILE` (NDJSON): one JSON object per line, `{"type":"Metric",…}` declarations and
//! `{"type":"Point","data":{"time":…,"value":…,"tags":{…}},"metric":…}` samples. Each
//! `http_req_duration` point is one HTTP request: `value` in ms (a float, to the ns), `time` an RFC 3339
//! timestamp with its zone of when the sample was collected (the end of the request: the start is
//! `time - value`), tags `name` (the URL unless the script names it), `url`, `method`, `status` ("0"
//! when no answer came), `expected_response`, `error` and `error_code` (1050 timeout, 1100–1199 DNS,
//! 1200–1299 TCP, 1300–1399 TLS). Sources: Grafana k6 documentation, "Results output → JSON"
//! (<https://grafana.com/docs/k6/latest/results-output/real-time/json/>) and "Error codes"
//! (<https://grafana.com/docs/k6/latest/javascript-api/error-codes/>).

use std::path::Path;

use chrono::DateTime;
use serde_json::Value;

use super::lines::Lines;
use super::sink::{Sample, Sink};
use super::{ImportError, Parsed, Request, classify};

/// The outcome of a point from its tags.
fn outcome(tags: &Value) -> String {
    let tag = |k: &str| tags.get(k).and_then(Value::as_str).unwrap_or_default();
    let status: u16 = tag("status").parse().unwrap_or(0);
    if status == 0 {
        let code: u32 = tag("error_code").parse().unwrap_or(0);
        return match code {
            1050 => "timeout".into(),
            1100..=1299 if tag("error").is_empty() => "connect_error".into(),
            1300..=1399 => "tls_error".into(),
            _ => classify::failure(tag("error")),
        };
    }
    let expected = match tag("expected_response") {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    };
    classify::http(status, expected, &[])
}

/// One line: Ok(false) when it is not an `http_req_duration` point.
/// The first line of a file is checked for k6's shape; later lines of other metrics are skipped unread.
fn line(text: &str, first: bool, req: &Request, sink: &mut Sink, skipped: &mut u64) -> Result<bool, String> {
    if !text.trim_start().starts_with('{') {
        return Err("not k6 JSON output: a line that is not a JSON object".into());
    }
    if first || !text.contains("http_req_duration") {
        if !first {
            return Ok(false);
        }
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not k6 JSON output: {e}"))?;
        if v.get("type").and_then(Value::as_str).is_none() {
            return Err("not k6 JSON output: no \"type\" (Metric or Point)".into());
        }
        if !text.contains("http_req_duration") {
            return Ok(false);
        }
    }
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not k6 JSON output: {e}"))?;
    if v.get("type").and_then(Value::as_str) != Some("Point")
        || v.get("metric").and_then(Value::as_str) != Some("http_req_duration")
    {
        return Ok(false);
    }
    let data = v.get("data").ok_or("a Point without \"data\"")?;
    let time = data.get("time").and_then(Value::as_str).ok_or("a Point without \"time\"")?;
    let end = DateTime::parse_from_rfc3339(time).map_err(|e| format!("time {time:?} is not an RFC 3339 time: {e}"))?;
    let ms = data.get("value").and_then(Value::as_f64).ok_or("a Point without a numeric \"value\"")?;
    if !(ms.is_finite() && ms >= 0.0) {
        return Err(format!("value {ms} is not a duration in ms"));
    }
    let latency_us = (ms * 1000.0).round() as u64;
    let tags = data.get("tags").cloned().unwrap_or(Value::Null);
    let tag = |k: &str| tags.get(k).and_then(Value::as_str);
    let label = tag("name").or(tag("url")).unwrap_or("k6");
    if !req.labels.is_empty() && !req.labels.iter().any(|l| l == label) {
        *skipped += 1;
        return Ok(false);
    }
    let start_us = end.timestamp_micros() - latency_us as i64;
    let outcome = outcome(&tags);
    sink.record(&Sample { label, start_us, latency_us, outcome: &outcome, url: tag("url"), threads: None })?;
    Ok(true)
}

/// Import k6 NDJSON files.
pub fn import(req: &Request, dir: &Path) -> Result<Parsed, ImportError> {
    let mut sink = Sink::open(req, dir, "k6", "unknown")?;
    let mut skipped = 0u64;
    for f in &req.files {
        let mut lines = Lines::open(f)?;
        let mut points = 0u64;
        while let Some(text) = lines.next_line()? {
            if text.trim().is_empty() {
                continue;
            }
            let text = text.to_string();
            let first = lines.number() == 1 || lines.unterminated;
            points += u64::from(line(&text, first, req, &mut sink, &mut skipped).map_err(|e| lines.bad_line(e))?);
        }
        if points == 0 && skipped == 0 {
            return Err(ImportError::file(
                f,
                "no http_req_duration points: not k6 --out json output, or no HTTP requests",
            ));
        }
    }
    if sink.is_empty() {
        return Err(ImportError::file(
            &req.files[0],
            format!("none of its {skipped} requests has a name given with --label"),
        ));
    }
    let fin = sink.finish().map_err(|e| ImportError::file(dir, e))?;
    let mut notes = vec![
        "time is when k6 collected the sample (the request's end), on the k6 machine's clock with its zone; the start \
         is time − value; value is in ms, rounded to the µs"
            .to_string(),
    ];
    if skipped > 0 {
        notes.push(format!("{skipped} requests of other names left out (--label)"));
    }
    Ok(fin.parsed(
        req,
        "k6",
        &["per-request latency (http_req_duration), per-second histograms, status codes"],
        &[
            "latency from the intended start: http_req_duration runs from the actual send",
            "requested rate, drops (dropped_iterations are not read) and lateness",
        ],
        notes,
    ))
}
