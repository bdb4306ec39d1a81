//! The names of the files in a results folder, in one place.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

/// The run's summary.
pub const RUN_JSON: &str = "run.json";
/// Per-second counts and percentiles of every target.
pub const TIMELINE: &str = "timeline.csv";
/// One row per failed message (at send or in a webhook), all targets.
pub const FAILURES_CSV: &str = "failures.csv";
/// One sample error body per target and code.
pub const ERROR_SAMPLES: &str = "error_samples.json";
/// The report page.
pub const REPORT: &str = "report.html";
/// The suffix a file has while it is being written.
pub const PARTIAL_SUFFIX: &str = ".partial";
/// Suffixes of the interval logs that are not a target's per-second latency log.
const NOT_INTERVAL_LOGS: [&str; 3] = [".totals", ".delivery", ".replies"];

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

/// A conversation target's time-to-first-reply histogram (tag `first_reply`).
pub fn replies_hlog_name(target: &str) -> String {
    format!("{target}.replies.hlog")
}

/// The output of a bot wabench started for a conversation target.
pub fn bot_log_name(target: &str) -> String {
    format!("{target}.bot.log")
}

/// The certificate (PEM, never a key) of the certificate authority a conversation target's
/// `graph_proxy` made for the run: what the bot trusts to reach the simulated `graph.facebook.com`.
pub fn graph_ca_name(target: &str) -> String {
    format!("{target}.graph-ca.pem")
}

/// A target's attempts whose fate is unknown (written, no complete answer): when each ended, the
/// message number, the attempt, the outcome and (WhatsApp targets) the recipient, so that a team can
/// check what a real run did. Written only when there is one.
pub fn ambiguous_name(target: &str) -> String {
    format!("{target}.ambiguous.csv")
}

/// A target's slowest traced requests of each second (`[tracing]`): trace id, when due, latency,
/// outcome, message id. Written only when a request was traced.
pub fn exemplars_name(target: &str) -> String {
    format!("{target}.exemplars.csv")
}

/// A target's accepted sends, written when its status webhooks go to a standalone receiver
/// (`[webhooks] receiver_url`); `wabench merge --webhooks` joins them with the receiver's statuses.
pub fn sends_name(target: &str) -> String {
    format!("{target}.sends.csv")
}

/// A standalone receiver's statuses (`wabench receive --out DIR`), one file per receiver process:
/// `statuses-<UTC start>-<pid>.csv`.
pub fn statuses_name(started: DateTime<Utc>, pid: u32) -> String {
    format!("statuses-{}-{pid}.csv", started.format("%Y%m%dT%H%M%SZ"))
}

/// The summary a receiver process writes beside its statuses file when it stops
/// (`receiver-<UTC start>-<pid>.json`).
pub fn receiver_summary_name(started: DateTime<Utc>, pid: u32) -> String {
    format!("receiver-{}-{pid}.json", started.format("%Y%m%dT%H%M%SZ"))
}

/// The failed statuses a receiver process recorded, as failures.csv rows (`failures-<UTC
/// start>-<pid>.csv`, written when it stops and one failed).
pub fn receiver_failures_name(started: DateTime<Utc>, pid: u32) -> String {
    format!("failures-{}-{pid}.csv", started.format("%Y%m%dT%H%M%SZ"))
}

/// Whether `file` is a receiver's statuses file.
pub fn is_statuses_file(file: &str) -> bool {
    file.starts_with("statuses-") && file.ends_with(".csv")
}

/// Whether `file` is a receiver's summary.
pub fn is_receiver_summary(file: &str) -> bool {
    file.starts_with("receiver-") && file.ends_with(".json")
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

/// Interval-log files of targets in `dir` (`<t>.hlog` or `<t>.hlog.partial`), with the target name.
pub fn interval_logs(dir: &Path) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let file = e.file_name().to_string_lossy().into_owned();
            interval_log_target(&file).map(|name| (name.to_string(), file.clone()))
        })
        .collect();
    v.sort();
    v.dedup_by(|a, b| a.0 == b.0);
    v
}

/// Whether `dir` holds what a partial report can be made from.
pub fn recoverable(dir: &Path) -> bool {
    !dir.join(RUN_JSON).exists() && !interval_logs(dir).is_empty()
}

/// Make `dir` ready for a new run's results: a new or empty folder, or one that holds a run (its
/// run.json, or the interval logs a killed run left) with `force` — whose files are then removed
/// first, so that the folder never mixes two runs (other files stay). Without `force` such a folder is
/// refused, and a folder holding other files always is: writing there could replace a user's own
/// `report.html` or `timeline.csv` without a word.
pub fn claim_folder(dir: &Path, force: bool) -> Result<(), String> {
    if check_claim(dir, force)? {
        remove_run_files(dir)?;
    }
    Ok(())
}

/// Whether [`claim_folder`] would take `dir` (an error says why not), without removing anything:
/// `true` when it holds an earlier run whose files claiming it removes.
pub fn check_claim(dir: &Path, force: bool) -> Result<bool, String> {
    let finished = dir.join(RUN_JSON).is_file();
    if !finished && !recoverable(dir) {
        let empty = match std::fs::read_dir(dir) {
            Ok(mut entries) => entries.next().is_none(),
            // Not there yet (it is made), or not a folder (making it says why).
            Err(_) => true,
        };
        if empty {
            return Ok(false);
        }
        return Err(format!(
            "{} is not empty and holds no wabench run: results go only into a new or empty folder (or, with \
             --force, one holding an earlier run), so that no file of yours is overwritten",
            dir.display()
        ));
    }
    if !force {
        let what = if finished { "a run's results (run.json)" } else { "the interval logs of an unfinished run" };
        return Err(format!(
            "{} already holds {what}; refusing to overwrite them: choose another --out, or pass --force to replace them",
            dir.display()
        ));
    }
    Ok(true)
}

fn remove_run_files(dir: &Path) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let base = name.strip_suffix(PARTIAL_SUFFIX).unwrap_or(&name);
        let ours = base == RUN_JSON
            || base == TIMELINE
            // A target beside another writes `timeline.csv.<target>` until both end.
            || base.strip_prefix(TIMELINE).is_some_and(|rest| rest.starts_with('.'))
            || base == REPORT
            || base == FAILURES_CSV
            || base == ERROR_SAMPLES
            || [".hlog", ".sends.csv", ".ambiguous.csv", ".bot.log", ".graph-ca.pem", ".png", ".svg"]
                .iter()
                .any(|x| base.ends_with(x));
        if ours && e.path().is_file() {
            std::fs::remove_file(e.path()).map_err(|err| format!("{}: {err}", e.path().display()))?;
        }
    }
    Ok(())
}

/// A folder being built beside its destination (so the final rename stays on one file system), under
/// a hidden `.partial` name no reader takes for a results folder; removed when dropped, so a command
/// that fails leaves nothing behind, unless [`TempFolder::finish`] moved it into place.
#[derive(Debug)]
pub struct TempFolder {
    pub path: PathBuf,
}

impl TempFolder {
    /// A new empty folder beside `dest` (whose parent is created when missing).
    pub fn beside(dest: &Path, what: &str) -> Result<TempFolder, String> {
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let path = parent.join(format!(".{}-{what}-{}-{nanos}{PARTIAL_SUFFIX}", folder_name(dest), std::process::id()));
        std::fs::create_dir(&path).map_err(|e| format!("{}: cannot create a temporary folder: {e}", path.display()))?;
        Ok(TempFolder { path })
    }

    /// Claim `dest` ([`claim_folder`]) and move the finished folder there: renamed whole when `dest` is
    /// new or empty, else file by file beside the files of the user's that claiming left.
    pub fn finish(self, dest: &Path, force: bool) -> Result<(), String> {
        claim_folder(dest, force)?;
        let moved = |e: std::io::Error| format!("{}: cannot move the results into place: {e}", dest.display());
        let empty = std::fs::read_dir(dest).map(|mut d| d.next().is_none()).unwrap_or(true);
        if empty {
            if dest.is_dir() {
                std::fs::remove_dir(dest).map_err(moved)?;
            }
            return std::fs::rename(&self.path, dest).map_err(moved);
        }
        let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(&self.path)
            .map_err(moved)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(moved)?;
        // run.json last: a reader never finds it beside files of the run not yet there.
        names.sort_by_key(|n| n == RUN_JSON);
        for n in names {
            std::fs::rename(self.path.join(&n), dest.join(&n)).map_err(moved)?;
        }
        Ok(())
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        if self.path.exists() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_holding_a_run_is_claimed_only_with_force() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        assert_eq!(claim_folder(&dir, false), Ok(()), "a new folder");
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(claim_folder(&dir, false), Ok(()), "an empty folder");
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        for force in [false, true] {
            let e = claim_folder(&dir, force).unwrap_err();
            assert!(e.contains("not empty") && e.contains("no wabench run"), "{e}");
        }
        std::fs::write(dir.join("t.hlog.partial"), "killed").unwrap();
        let e = claim_folder(&dir, false).unwrap_err();
        assert!(e.contains("unfinished run") && e.contains("--force"), "{e}");
        for f in [
            RUN_JSON,
            TIMELINE,
            "timeline.csv.campaign.partial",
            "t.hlog",
            "t.totals.hlog",
            "t.sends.csv",
            "t.ambiguous.csv",
            "latency.png",
        ] {
            std::fs::write(dir.join(f), "old").unwrap();
        }
        let e = claim_folder(&dir, false).unwrap_err();
        assert!(e.contains("run.json") && e.contains(&dir.display().to_string()), "{e}");
        assert!(dir.join(RUN_JSON).exists(), "refused: nothing removed");
        claim_folder(&dir, true).unwrap();
        let left: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(left, vec!["notes.txt".to_string()], "only the old run's files are removed");
    }

    #[test]
    fn interval_logs_are_told_from_the_other_logs() {
        assert_eq!(interval_log_target("cloud.hlog"), Some("cloud"));
        assert_eq!(interval_log_target("cloud.hlog.partial"), Some("cloud"));
        assert_eq!(interval_log_target(&totals_name("cloud")), None);
        assert_eq!(interval_log_target(&delivery_hlog_name("cloud")), None);
        assert_eq!(interval_log_target(&replies_hlog_name("bot")), None);
        assert_eq!(interval_log_target("timeline.csv"), None);
    }
}
