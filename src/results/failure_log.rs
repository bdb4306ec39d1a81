//! The failures of a run, one row per failed message, and one sample error body per code: what the
//! driver saw at send (an error answer) and what the receiver saw in `failed` status webhooks. It owns
//! the `failures.csv` and `error_samples.json` formats. Bounded: at most `cap` rows are kept (the rest
//! are counted), and a sample body is cut at [`SAMPLE_BYTES`].

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::units::redact::Secrets;

/// Rows kept per target by default.
pub const DEFAULT_ROWS: usize = 10_000;
/// Longest sample body kept, in bytes.
pub const SAMPLE_BYTES: usize = 4096;

/// Where a message failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailurePath {
    /// The send was answered with an error.
    AtSend,
    /// The send was accepted; a `failed` status webhook came later.
    InWebhook,
}

impl FailurePath {
    pub fn key(self) -> &'static str {
        match self {
            FailurePath::AtSend => "at_send",
            FailurePath::InWebhook => "in_webhook",
        }
    }
}

/// One failed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureRow {
    pub at: SystemTime,
    pub recipient: String,
    /// The API error code; `None` for an error answer without one (then `http_status` says what).
    pub code: Option<i64>,
    pub http_status: Option<u16>,
    pub path: FailurePath,
    /// The message id, when the API gave one (failed in a webhook); empty otherwise.
    pub message_id: String,
}

/// One error body as the API sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorSample {
    pub path: FailurePath,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// The error body (a send's answer) or the status's `errors[0]` object (a webhook), cut at
    /// [`SAMPLE_BYTES`].
    pub body: String,
}

/// Collects the failures of one target, shared by its load threads and its webhook receiver.
#[derive(Debug)]
pub struct FailureLog {
    cap: usize,
    rows: Mutex<Vec<FailureRow>>,
    left_out: AtomicU64,
    samples: Mutex<BTreeMap<i64, ErrorSample>>,
}

impl Default for FailureLog {
    fn default() -> Self {
        FailureLog::new(DEFAULT_ROWS)
    }
}

impl FailureLog {
    pub fn new(cap: usize) -> FailureLog {
        FailureLog { cap, rows: Mutex::new(Vec::new()), left_out: AtomicU64::new(0), samples: Mutex::default() }
    }

    /// Record a failed message (counted only, once `cap` rows are kept).
    pub fn record(&self, row: FailureRow) {
        let mut rows = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        if rows.len() < self.cap {
            rows.push(row);
        } else {
            self.left_out.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Keep `body` as the sample of `code`, unless the code has one already: as it may be shown
    /// ([`Secrets::text`]: without `secrets`, URLs' credentials and control characters), cut at
    /// [`SAMPLE_BYTES`] characters.
    pub fn sample(&self, code: i64, path: FailurePath, http_status: Option<u16>, body: &[u8], secrets: &Secrets) {
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        samples.entry(code).or_insert_with(|| {
            // Scrubbed whole, then cut: a secret across the cut is still found.
            let body = secrets.text(&String::from_utf8_lossy(body), SAMPLE_BYTES);
            ErrorSample { path, http_status, body }
        });
    }

    /// The rows kept, in time order, and how many were left out.
    pub fn rows(&self) -> (Vec<FailureRow>, u64) {
        let mut rows = self.rows.lock().unwrap_or_else(|p| p.into_inner()).clone();
        rows.sort_by_key(|r| r.at);
        (rows, self.left_out.load(Ordering::Relaxed))
    }

    /// The sample bodies by code.
    pub fn samples(&self) -> BTreeMap<i64, ErrorSample> {
        self.samples.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The header of `failures.csv` (`code_name` from [`super::codes`], last so that readers of the
/// older seven columns read on).
pub const CSV_HEADER: &[&str] =
    &["target", "time", "recipient", "code", "http_status", "path", "message_id", "code_name"];

/// Write `failures.csv`: the header, then the rows of each target in order.
pub fn write_csv(out: impl Write, targets: &[(String, Vec<FailureRow>)]) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CSV_HEADER)?;
    for (name, rows) in targets {
        for r in rows {
            let at: DateTime<Utc> = r.at.into();
            w.write_record([
                name.as_str(),
                &at.to_rfc3339_opts(SecondsFormat::Millis, true),
                &r.recipient,
                &r.code.map(|c| c.to_string()).unwrap_or_default(),
                &r.http_status.map(|c| c.to_string()).unwrap_or_default(),
                r.path.key(),
                &r.message_id,
                r.code.map_or("", super::codes::name),
            ])?;
        }
    }
    w.flush()
}

/// `error_samples.json`: by target, by code, one sample body.
pub type Samples = BTreeMap<String, BTreeMap<i64, ErrorSample>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn row(code: i64, secs: u64) -> FailureRow {
        FailureRow {
            at: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs),
            recipient: "15550001".into(),
            code: Some(code),
            http_status: None,
            path: FailurePath::InWebhook,
            message_id: "wamid.a,b".into(),
        }
    }

    #[test]
    fn rows_are_bounded_and_counted() {
        let log = FailureLog::new(2);
        for s in [3, 1, 2] {
            log.record(row(131047, s));
        }
        let (rows, left_out) = log.rows();
        assert_eq!((rows.len(), left_out), (2, 1));
        assert!(rows[0].at < rows[1].at, "time order");
    }

    #[test]
    fn one_sample_per_code_cut_to_its_limit() {
        let log = FailureLog::default();
        let none = Secrets::new();
        log.sample(132000, FailurePath::AtSend, Some(400), b"first", &none);
        log.sample(132000, FailurePath::AtSend, Some(400), b"second", &none);
        log.sample(1, FailurePath::AtSend, None, &vec![b'x'; SAMPLE_BYTES * 2], &none);
        let s = log.samples();
        assert_eq!(s[&132000].body, "first");
        assert_eq!(s[&1].body, format!("{}… ({SAMPLE_BYTES} more bytes)", "x".repeat(SAMPLE_BYTES)));
    }

    #[test]
    fn a_sample_loses_the_secrets_and_url_credentials_it_echoes() {
        let log = FailureLog::default();
        let held = Secrets::new().with("tok-9f8e7d");
        let body =
            format!("{{\"error\":\"bad tok-9f8e7d at http://u:pw@h/?access_token=a1\"}}{}", "y".repeat(SAMPLE_BYTES));
        log.sample(190, FailurePath::AtSend, Some(401), body.as_bytes(), &held);
        let shown = &log.samples()[&190].body;
        assert!(
            shown.starts_with("{\"error\":\"bad <redacted> at http://<redacted>@h/?access_token=<redacted>\"}"),
            "{shown}"
        );
        // Cut after the scrub: a secret across the cut is gone too.
        let across = format!("{}tok-9f8e7d", "z".repeat(SAMPLE_BYTES - 4));
        log.sample(1, FailurePath::InWebhook, None, across.as_bytes(), &held);
        assert!(!log.samples()[&1].body.contains("tok-9"), "{}", log.samples()[&1].body);
    }

    #[test]
    fn the_csv_quotes_what_needs_it() {
        let mut buf = Vec::new();
        write_csv(&mut buf, &[("t".into(), vec![row(131026, 1)])]).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(
            text,
            "target,time,recipient,code,http_status,path,message_id,code_name\n\
             t,1970-01-01T00:00:01.000Z,15550001,131026,,in_webhook,\"wamid.a,b\",Message undeliverable\n"
        );
    }
}
