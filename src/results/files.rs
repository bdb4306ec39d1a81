//! The names of the files in a results folder, in one place.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

/// The run's summary.
pub const RUN_JSON: &str = "run.json";
/// Per-second counts and percentiles of every target.
pub const TIMELINE: &str = "timeline.csv";
/// The report page.
pub const REPORT: &str = "report.html";
/// The suffix a file has while it is being written.
pub const PARTIAL_SUFFIX: &str = ".partial";
/// Suffixes of the interval logs that are not a target's per-second latency log.
const NOT_INTERVAL_LOGS: [&str; 2] = [".totals", ".delivery"];

/// A target's per-second latency interval log.
pub fn hlog_name(target: &str) -> String {
    format!("{target}.hlog")
}

/// A target's whole-run histograms (tags `latency`, `service_time`, `lateness`, `outcome:<key>`).
pub fn totals_name(target: &str) -> String {
    format!("{target}.totals.hlog")
}

/// A target's delivery-latency histograms (tags accept_to_sent, accept_to_delivered, …).
pub fn delivery_hlog_name(target: &str) -> String {
    format!("{target}.delivery.hlog")
}

/// The target whose per-second interval log `file` is (`<t>.hlog` or `<t>.hlog.partial`).
pub fn interval_log_target(file: &str) -> Option<&str> {
    let name = file.strip_suffix(".hlog.partial").or_else(|| file.strip_suffix(".hlog"))?;
    (!name.is_empty() && !NOT_INTERVAL_LOGS.iter().any(|s| name.ends_with(s))).then_some(name)
}

/// `results/<name>-<UTC timestamp>` under `root`.
pub fn run_dir(root: &Path, name: &str, at: DateTime<Utc>) -> PathBuf {
    root.join(format!("{name}-{}", at.format("%Y%m%dT%H%M%SZ")))
}

/// The name a file has while it is being written (`x.json` → `x.json.partial`).
pub fn partial(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(PARTIAL_SUFFIX);
    PathBuf::from(s)
}

/// A results folder's display name: its last path component.
pub fn folder_name(dir: &Path) -> String {
    dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_logs_are_told_from_the_other_logs() {
        assert_eq!(interval_log_target("cloud.hlog"), Some("cloud"));
        assert_eq!(interval_log_target("cloud.hlog.partial"), Some("cloud"));
        assert_eq!(interval_log_target(&totals_name("cloud")), None);
        assert_eq!(interval_log_target(&delivery_hlog_name("cloud")), None);
        assert_eq!(interval_log_target("timeline.csv"), None);
    }
}
