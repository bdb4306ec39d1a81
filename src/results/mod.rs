//! The results format, the project's on-disk contract: `run.json` (schema version 1) and its types, the
//! file names of a results folder, `timeline.csv` rows, interval logs, and reading a folder back (also
//! one a killed run left). Files are written atomically (temporary file + rename). A leaf beside `spec`:
//! it imports only `units`, so the format can be read and tested without the engine.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use hdrhistogram::Histogram;

pub mod baseline;
pub mod bounded;
pub mod codes;
pub mod connections;
pub mod conversation;
pub mod cost;
pub(crate) mod delivery;
mod error;
pub mod exemplars;
pub mod failure_log;
pub mod failures;
pub mod fates;
pub(crate) mod files;
pub mod folder;
pub mod hlog;
pub mod imported;
pub mod numbers;
pub mod operator;
pub(crate) mod summary;
pub mod timeline;
pub mod webhook_slo;

pub use connections::{ConnectionPhases, PHASE_TAGS};
pub use delivery::{DeliveryHistograms, DeliveryStats, IdentityCounts, KindCounts, LatencySummary, NumberDelivery};
pub use error::ResultsError;
pub use failures::CodeFailures;
pub use fates::Fates;
pub use files::{RUN_JSON, claim_folder, delivery_hlog_name, hlog_name, partial, run_dir, totals_name};
pub use folder::{RunData, Second, TargetData};
pub use imported::{Imported, ImportedTarget};
pub use summary::{MAX_US, Summary, histogram};
pub use timeline::TimelineRow;
pub use webhook_slo::WebhookSlo;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Machine {
    pub hostname: String,
    pub os: String,
    pub arch: String,
    pub cpus: u32,
}

impl Machine {
    pub fn this() -> Machine {
        Machine {
            hostname: fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "unknown".into()),
            os: std::env::consts::OS.into(),
            arch: std::env::consts::ARCH.into(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        }
    }
}

/// A whole run: every target of a profile.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Run {
    pub schema_version: u32,
    pub tool: Tool,
    pub name: String,
    pub description: Option<String>,
    pub profile_file: String,
    /// The profile as run, secrets redacted.
    pub profile: serde_json::Value,
    pub seed: u64,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    /// Stopped early (Ctrl-C, SIGTERM, an error): the figures cover what ran.
    pub interrupted: bool,
    pub machine: Machine,
    pub targets: Vec<TargetResult>,
    pub thresholds: Vec<Verdict>,
    /// Every threshold passed (true when there are none).
    pub passed: bool,
    /// Why the run was stopped early by `abort_on_fail` (a crossed threshold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted: Option<String>,
    /// The part of a sharded run these results cover (`wabench merge` joins the parts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// What changed the profile file's values for this run: `--set PATH=VALUE` overrides and the names
    /// of `-e` variables (never their values).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    /// Made by `wabench import` from another tool's results: which tool and files, what was available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported: Option<Imported>,
    /// What the operator did while the run went (pause, resume, rate, stop), in time order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operator: Vec<operator::OperatorAction>,
}

/// Request counts of one target.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Counts {
    /// Requests the plan called for (open loop, or closed loop with max_requests).
    pub planned: Option<u64>,
    /// Requests started (messages; retries not included).
    pub sent: u64,
    /// Attempts after the first for the same message (answers the API asked to retry).
    #[serde(default)]
    pub retries: u64,
    pub ok: u64,
    /// Attempts that ended in anything but `ok` (error responses, timeouts, connection failures);
    /// `ok` and `errors` count attempts, so `sent + retries = ok + errors + cancelled`.
    pub errors: u64,
    /// Due but not sent: too many were outstanding, or the run was stopped while they waited.
    pub dropped: u64,
    /// In flight when the run was stopped and the drain time ran out.
    pub cancelled: u64,
    /// Attempts that wrote a request again after an earlier attempt of it went unanswered (only when
    /// the profile allows it), or after an HTTP/2 server said it processed none of it. Never silent.
    #[serde(default)]
    pub resent: u64,
    /// Attempts whose fate is unknown: written (or possibly written) with no complete answer
    /// (`timeout`, `closed_after_send`, `io_error`, `cancelled`). The server may have acted on them;
    /// a message may have reached its recipient. Listed in `<target>.ambiguous.csv`.
    #[serde(default)]
    pub ambiguous: u64,
}

/// The outcome keys whose attempts have an unknown fate (see [`Counts::ambiguous`]).
pub const AMBIGUOUS_KEYS: [&str; 4] = ["timeout", "closed_after_send", "io_error", "cancelled"];

/// Whether an outcome key is one of [`AMBIGUOUS_KEYS`].
pub fn is_ambiguous_key(key: &str) -> bool {
    AMBIGUOUS_KEYS.contains(&key)
}

/// Whether an attempt that ended with outcome `key` counts as an error ([`Counts::errors`]):
/// anything but `ok`, and neither `dropped` (never sent) nor `cancelled` (counted apart).
pub fn is_error_key(key: &str) -> bool {
    !matches!(key, "ok" | "dropped" | "cancelled")
}

/// The errors among outcome counts `(key, count)`: the sum of those whose key [`is_error_key`].
pub fn errors_of<'a>(outcomes: impl IntoIterator<Item = &'a (String, u64)>) -> u64 {
    outcomes.into_iter().filter(|(k, _)| is_error_key(k)).map(|(_, n)| n).sum()
}

/// The sum of two counts either part may lack (`None` only when both do).
pub(crate) fn add_optional(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    }
}

impl Counts {
    /// Add another part's counts (`planned` when either part knows it).
    pub fn add(&mut self, o: &Counts) {
        self.planned = add_optional(self.planned, o.planned);
        self.sent += o.sent;
        self.retries += o.retries;
        self.ok += o.ok;
        self.errors += o.errors;
        self.dropped += o.dropped;
        self.cancelled += o.cancelled;
        self.resent += o.resent;
        self.ambiguous += o.ambiguous;
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Rates {
    /// Mean requested arrival rate (open loop).
    pub requested: Option<f64>,
    /// Requests started per second between the first and the last start.
    pub achieved: f64,
    /// achieved / requested.
    pub ratio: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutcomeResult {
    /// Stable key: "ok", "http_503", "api_131056", "timeout", "connect_error", "dropped", …
    pub key: String,
    pub count: u64,
    /// Latency from the intended start, for outcomes that carry a response.
    pub latency_us: Option<Summary>,
}

/// One target's results.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TargetResult {
    pub name: String,
    pub kind: String,
    pub url: String,
    /// "open" or "closed".
    pub model: String,
    pub connections: u32,
    pub threads: u32,
    pub started_at: DateTime<Utc>,
    pub duration_s: f64,
    pub interrupted: bool,
    pub requests: Counts,
    pub rate: Rates,
    /// From each request's intended start to the end of its response (what a user waits).
    pub latency_us: Summary,
    /// From the actual start to the end of the response.
    pub service_time_us: Summary,
    /// How late requests started relative to schedule.
    pub lateness_us: Summary,
    pub outcomes: Vec<OutcomeResult>,
    /// File name of the interval log, beside run.json.
    pub hlog: String,
    /// Status-webhook delivery accounting (with `[webhooks]`, and by default on an embedded WhatsApp
    /// target); its histograms are in `<target>.delivery.hlog`. Absent: delivery was not tracked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryStats>,
    /// A conversation target: the turns posted to the bot, its replies and the time to each first
    /// reply (histogram in `<target>.replies.hlog`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<conversation::ConversationStats>,
    /// A webhook target: how the endpoint fared against Meta's expectations of webhook servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_slo: Option<WebhookSlo>,
    /// DNS, connect, TLS and first-byte times of the connections opened (absent in older results).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_phases: Option<ConnectionPhases>,
    /// Target-specific figures (logins of an on-premises session, the embedded simulator's counters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<serde_json::Value>,
    /// Imported from another tool: where its latency was measured from, and its own percentiles when
    /// it gave only aggregates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported: Option<ImportedTarget>,
    /// A WhatsApp target with a rate card: its estimated and actual cost by category and market.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<cost::TargetCost>,
    /// Why the target stopped sending before its plan ended, other than an interruption:
    /// `max_cost` (its accepted sends reached the cost cap). Absent: it ran its plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// Requests that carried a `traceparent` (`[tracing]`); the slowest of each second are in
    /// `<target>.exemplars.csv`. Absent: nothing was traced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<exemplars::TracingResult>,
}

/// What identifies a target's results and how long it ran: the part of a [`TargetResult`] that is not
/// derived from its histograms and counts.
#[derive(Debug, Clone)]
pub struct TargetHead {
    pub name: String,
    pub kind: String,
    pub url: String,
    pub model: String,
    pub connections: u32,
    pub threads: u32,
    pub started_at: DateTime<Utc>,
    pub duration_s: f64,
    pub interrupted: bool,
}

/// Whole-run histogram tags (as in `<target>.totals.hlog`).
pub const TAG_LATENCY: &str = "latency";
pub const TAG_SERVICE_TIME: &str = "service_time";
pub const TAG_LATENESS: &str = "lateness";

/// The tag of one outcome's latency histogram (`outcome:<key>`).
pub fn outcome_tag(key: &str) -> String {
    format!("outcome:{key}")
}

impl TargetResult {
    /// A WhatsApp send API (Cloud, On-Premises): its messages can fail after the send, in a status
    /// webhook.
    pub fn is_whatsapp(&self) -> bool {
        matches!(self.kind.as_str(), "cloud" | "onprem")
    }

    /// The one way a target's result is built (by a run, a merge and a recovery): percentiles from the
    /// whole-run histograms by tag (a missing histogram gives an empty summary, a missing outcome
    /// histogram no latency), counts and rates as measured.
    pub fn build(
        head: TargetHead,
        requests: Counts,
        rate: Rates,
        outcomes: impl IntoIterator<Item = (String, u64)>,
        totals: &BTreeMap<String, Histogram<u64>>,
    ) -> TargetResult {
        let summary = |tag: &str| totals.get(tag).map(Summary::of).unwrap_or_default();
        let outcomes: Vec<(String, u64)> = outcomes.into_iter().collect();
        let webhook_slo = (head.kind == "webhook").then(|| WebhookSlo::of(&outcomes, totals));
        let outcomes = outcomes
            .into_iter()
            .map(|(key, count)| {
                let latency_us = totals.get(&outcome_tag(&key)).map(Summary::of);
                OutcomeResult { key, count, latency_us }
            })
            .collect();
        TargetResult {
            hlog: hlog_name(&head.name),
            name: head.name,
            kind: head.kind,
            url: head.url,
            model: head.model,
            connections: head.connections,
            threads: head.threads,
            started_at: head.started_at,
            duration_s: head.duration_s,
            interrupted: head.interrupted,
            requests,
            rate,
            latency_us: summary(TAG_LATENCY),
            service_time_us: summary(TAG_SERVICE_TIME),
            lateness_us: summary(TAG_LATENESS),
            outcomes,
            connection_phases: ConnectionPhases::of(totals),
            delivery: None,
            conversation: None,
            webhook_slo,
            extra: None,
            imported: None,
            cost: None,
            stopped: None,
            tracing: None,
        }
    }
}

/// How a threshold fared on one target.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Verdict {
    pub threshold: String,
    pub target: String,
    pub actual: Option<f64>,
    pub limit: f64,
    /// The comparison: "<", "<=", ">", ">=" or "==".
    pub op: String,
    pub passed: bool,
    /// Human-readable actual value ("812 ms", "0.4 %").
    pub shown: String,
}

/// A part of a run split over several processes or machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl Shard {
    /// Parse `i/N` (0 ≤ i < N).
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (i, n) = s.split_once('/').ok_or_else(|| format!("{s:?}: write the shard as i/N, e.g. 0/4"))?;
        let index: u32 = i.trim().parse().map_err(|_| format!("{s:?}: {i:?} is not a shard number"))?;
        let count: u32 = n.trim().parse().map_err(|_| format!("{s:?}: {n:?} is not a shard count"))?;
        if count == 0 || index >= count {
            return Err(format!("{s:?}: the shard number must be from 0 to N-1"));
        }
        Ok(Shard { index, count })
    }

    /// The message number of the `k`-th request of this shard in the whole run.
    pub fn global(&self, k: u64) -> u64 {
        k * u64::from(self.count) + u64::from(self.index)
    }

    pub fn is_sharded(&self) -> bool {
        self.count > 1
    }
}

/// Write `bytes` to `path` atomically: a temporary file in the same folder, synced, then renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = partial(path);
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)
}

/// Write run.json atomically.
pub fn write_run(dir: &Path, run: &Run) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(run).map_err(io::Error::other)?;
    write_atomic(&dir.join(RUN_JSON), &json)
}

/// Read a run.json (or the run.json inside a folder); errors name the file and the reason.
pub fn read_run(path: &Path) -> Result<Run, ResultsError> {
    let file = if path.is_dir() { path.join(RUN_JSON) } else { path.to_path_buf() };
    let text = bounded::read_text(&file, bounded::MAX_JSON_BYTES)?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| ResultsError::format(&file, format!("not valid JSON: {e}")))?;
    match v.get("schema_version").and_then(|s| s.as_u64()) {
        Some(1) => {}
        Some(found) => return Err(ResultsError::Schema { path: file, found }),
        None => return Err(ResultsError::format(&file, "no schema_version: not a wabench run.json")),
    }
    let run: Run = serde_json::from_value(v)
        .map_err(|e| ResultsError::format(&file, format!("does not match the run.json schema: {e}")))?;
    check_values(&run).map_err(|e| ResultsError::format(&file, e))?;
    Ok(run)
}

/// The longest a run (or a target of it) can have lasted: ten years, in seconds.
pub const MAX_DURATION_S: f64 = 10.0 * 366.0 * 24.0 * 3600.0;

/// Refuse values no run can have: durations that are negative, not finite or longer than ten years,
/// rates that are negative or not finite, an end before the start. Errors name the field.
pub fn check_values(run: &Run) -> Result<(), String> {
    if run.ended_at < run.started_at {
        return Err(format!("ended_at {} is before started_at {}", run.ended_at, run.started_at));
    }
    if let Some(s) = run.shard.filter(|s| s.count == 0 || s.index >= s.count) {
        return Err(format!("shard: {}/{} is not a shard of a run", s.index, s.count));
    }
    for (i, t) in run.targets.iter().enumerate() {
        let at = |field: &str| format!("targets[{i}] ({:?}).{field}", t.name);
        if !(t.duration_s.is_finite() && (0.0..=MAX_DURATION_S).contains(&t.duration_s)) {
            return Err(format!(
                "{}: {:?} is not a possible duration (0 to ten years)",
                at("duration_s"),
                t.duration_s
            ));
        }
        let rates = [
            ("rate.achieved", Some(t.rate.achieved)),
            ("rate.requested", t.rate.requested),
            ("rate.ratio", t.rate.ratio),
        ];
        for (field, v) in rates {
            if let Some(v) = v.filter(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(format!("{}: {v:?} is not a possible rate", at(field)));
            }
        }
        let c = &t.requests;
        let attempts = c.sent.checked_add(c.retries).and_then(|a| a.checked_add(c.resent));
        let ended = c.ok.checked_add(c.errors).and_then(|e| e.checked_add(c.cancelled));
        match (attempts, ended) {
            (Some(a), Some(e)) if e <= a.saturating_add(c.dropped) => {}
            _ => {
                return Err(format!(
                    "{}: ok {} + errors {} + cancelled {} is more than the {} requests sent (+{} retries, {} resent, {} dropped): \
                     the counts do not add up",
                    at("requests"),
                    c.ok,
                    c.errors,
                    c.cancelled,
                    c.sent,
                    c.retries,
                    c.resent,
                    c.dropped
                ));
            }
        }
    }
    Ok(())
}

/// A Cloud target's result with nothing counted, for the unit tests of what reads results.
#[cfg(test)]
pub(crate) fn empty_cloud_target() -> TargetResult {
    serde_json::from_value(serde_json::json!({
        "name": "t", "kind": "cloud", "url": "embedded", "model": "open", "connections": 1, "threads": 1,
        "started_at": "2025-01-01T00:00:00Z", "duration_s": 1.0, "interrupted": false,
        "requests": {"planned": null, "sent": 0, "ok": 0, "errors": 0, "dropped": 0, "cancelled": 0},
        "rate": {"requested": null, "achieved": 0.0, "ratio": null},
        "latency_us": Summary::default(), "service_time_us": Summary::default(),
        "lateness_us": Summary::default(), "outcomes": [], "hlog": "t.hlog"
    }))
    .expect("a valid target result")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_attempts_that_ended_neither_ok_dropped_nor_cancelled() {
        let outcomes: Vec<(String, u64)> =
            [("ok", 90), ("api_131056", 4), ("timeout", 2), ("dropped", 7), ("cancelled", 1)]
                .into_iter()
                .map(|(k, n)| (k.to_string(), n))
                .collect();
        assert_eq!(errors_of(&outcomes), 6);
        assert!(is_error_key("http_503") && is_error_key("connect_error"));
        assert!(!is_error_key("ok") && !is_error_key("dropped") && !is_error_key("cancelled"));
    }
}
