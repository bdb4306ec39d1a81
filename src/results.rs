//! The results format (`run.json`, schema version 1) and how results are written: one folder per run
//! with `run.json`, one `<target>.hlog` per target and `timeline.csv`, each written atomically
//! (temporary file + rename). Readers (`report`, `compare`, `merge`) load `run.json` through [`read_run`].

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::metrics::{Outcome, Recorder, Summary};
use crate::threshold::Verdict;

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
    pub shard: Option<crate::load::Shard>,
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
    /// Status-webhook delivery accounting (when `[webhooks]` is configured); its histograms are
    /// in `<target>.delivery.hlog`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<crate::webhook::DeliveryStats>,
    /// Target-specific figures (logins of an on-premises session, the embedded simulator's counters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<serde_json::Value>,
}

impl TargetResult {
    /// Summarise a target's merged recorder.
    #[allow(clippy::too_many_arguments)]
    pub fn from_recorder(
        name: &str,
        kind: &str,
        url: &str,
        plan: &crate::load::Plan,
        rec: &Recorder,
        started_at: DateTime<Utc>,
        duration_s: f64,
        interrupted: bool,
        threads: u32,
    ) -> TargetResult {
        let ok = rec.count(Outcome::Ok);
        let dropped = rec.count(Outcome::Dropped);
        let cancelled = rec.count(Outcome::Cancelled);
        let errors = rec
            .outcomes
            .iter()
            .filter(|(k, _)| !matches!(k, Outcome::Ok | Outcome::Dropped | Outcome::Cancelled))
            .map(|(_, v)| v.count)
            .sum();
        let achieved = rec.achieved_rate().unwrap_or_else(|| rec.sent as f64 / duration_s.max(1e-9));
        // The schedule's own spacing over the same window: (n-1) gaps from the first to the last due request.
        let requested = plan.pacer.as_ref().and_then(|p| {
            let n = p.total();
            let first = p.due(0)?.as_secs_f64();
            let last = p.due(n.checked_sub(1)?)?.as_secs_f64();
            if n > 1 && last > first { Some((n - 1) as f64 / (last - first)) } else { plan.requested_rate() }
        });
        let outcomes = rec
            .outcomes
            .iter()
            .map(|(k, v)| OutcomeResult {
                key: k.key(),
                count: v.count,
                latency_us: k.has_response().then(|| Summary::of(&v.latency)),
            })
            .collect();
        TargetResult {
            name: name.into(),
            kind: kind.into(),
            url: url.into(),
            model: match plan.model {
                crate::profile::Model::Open => "open".into(),
                crate::profile::Model::Closed => "closed".into(),
            },
            connections: plan.connections,
            threads,
            started_at,
            duration_s,
            interrupted,
            requests: Counts {
                planned: plan.expected_requests(),
                sent: rec.sent,
                retries: rec.retries,
                ok,
                errors,
                dropped,
                cancelled,
            },
            rate: Rates { requested, achieved, ratio: requested.map(|r| achieved / r) },
            latency_us: Summary::of(&rec.latency),
            service_time_us: Summary::of(&rec.service),
            lateness_us: Summary::of(&rec.lateness),
            outcomes,
            hlog: hlog_name(name),
            extra: None,
            delivery: None,
        }
    }
}

/// File name of a target's interval log.
pub fn hlog_name(target: &str) -> String {
    format!("{target}.hlog")
}

/// File name of a target's delivery-latency interval log (tags accept_to_sent, accept_to_delivered, …).
pub fn delivery_hlog_name(target: &str) -> String {
    format!("{target}.delivery.hlog")
}

/// `results/<name>-<UTC timestamp>` under `root`.
pub fn run_dir(root: &Path, name: &str, at: DateTime<Utc>) -> PathBuf {
    root.join(format!("{name}-{}", at.format("%Y%m%dT%H%M%SZ")))
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

/// The name a file has while it is being written (`x.json` → `x.json.partial`).
pub fn partial(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}

/// Write run.json atomically.
pub fn write_run(dir: &Path, run: &Run) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(run).map_err(io::Error::other)?;
    write_atomic(&dir.join("run.json"), &json)
}

/// Read a run.json (or the run.json inside a folder); errors name the file and the reason.
pub fn read_run(path: &Path) -> Result<Run, String> {
    let file = if path.is_dir() { path.join("run.json") } else { path.to_path_buf() };
    let text = fs::read_to_string(&file).map_err(|e| format!("{}: cannot read: {e}", file.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not valid JSON: {e}", file.display()))?;
    match v.get("schema_version").and_then(|s| s.as_u64()) {
        Some(1) => {}
        Some(n) => {
            return Err(format!(
                "{}: schema_version {n} is not supported (this wabench reads version {SCHEMA_VERSION})",
                file.display()
            ));
        }
        None => return Err(format!("{}: no schema_version: not a wabench run.json", file.display())),
    }
    serde_json::from_value(v).map_err(|e| format!("{}: does not match the run.json schema: {e}", file.display()))
}
