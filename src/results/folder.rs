//! Loading a results folder for reporting: run.json, each target's interval log (`<target>.hlog`)
//! and `timeline.csv`, checked and joined per target. Every error names the file it comes from.

use std::fs;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;

use super::files::{RUN_JSON, TIMELINE};
use super::timeline::{self, TimelineRow};
use super::{ResultsError, Run, TargetResult, histogram, hlog, read_run};

/// One second of latencies from the interval log.
#[derive(Debug, Clone)]
pub struct Second {
    /// Seconds since the target started.
    pub second: u64,
    pub histogram: Histogram<u64>,
}

/// What the reports know about one target: its summary, its seconds and their histograms.
#[derive(Debug, Clone)]
pub struct TargetData {
    pub result: TargetResult,
    /// Per-second latency histograms, in time order.
    pub seconds: Vec<Second>,
    /// All seconds added together.
    pub total: Histogram<u64>,
    /// Per-second counts, in time order.
    pub timeline: Vec<TimelineRow>,
}

impl TargetData {
    /// Build from parts (also how tests make fixtures without files).
    pub fn new(result: TargetResult, seconds: Vec<Second>, timeline: Vec<TimelineRow>) -> Result<TargetData, String> {
        let mut total = histogram();
        for s in &seconds {
            total.add(&s.histogram).map_err(|e| format!("an interval holds values out of range: {e:?}"))?;
        }
        Ok(TargetData { result, seconds, total, timeline })
    }

    pub fn name(&self) -> &str {
        &self.result.name
    }
}

/// A results folder, loaded.
#[derive(Debug, Clone)]
pub struct RunData {
    /// The folder it was read from.
    pub dir: PathBuf,
    pub run: Run,
    /// One per `run.targets`, same order.
    pub targets: Vec<TargetData>,
}

/// Read a results folder: run.json, each target's interval log and timeline.csv.
pub fn load(dir: &Path) -> Result<RunData, ResultsError> {
    load_with(dir, true)
}

/// Read a results folder as [`load`] does but keep no per-second histograms (`seconds` is empty; `total`
/// and `timeline` are as `load` gives them): what a report and a merge need. The interval log is read a
/// line at a time, so memory does not grow with the run's length (`load` holds one histogram of about
/// 190 KB per second of the run).
pub fn load_totals(dir: &Path) -> Result<RunData, ResultsError> {
    load_with(dir, false)
}

fn load_with(dir: &Path, keep_seconds: bool) -> Result<RunData, ResultsError> {
    if !dir.is_dir() {
        return Err(ResultsError::NoFolder { path: dir.to_path_buf() });
    }
    if super::recover::recoverable(dir) {
        let mut data = super::recover::recover(dir)?;
        if !keep_seconds {
            data.targets.iter_mut().for_each(|t| t.seconds = Vec::new());
        }
        return Ok(data);
    }
    let run = read_run(dir)?;
    let timeline_path = dir.join(TIMELINE);
    let mut timelines = match fs::read_to_string(&timeline_path) {
        Ok(text) => timeline::parse(&text).map_err(|e| ResultsError::format(&timeline_path, e))?,
        Err(e) => return Err(ResultsError::read(&timeline_path, e)),
    };
    let mut targets = Vec::with_capacity(run.targets.len());
    for t in &run.targets {
        if t.hlog.is_empty() || t.hlog.contains(['/', '\\']) || t.hlog == ".." {
            return Err(ResultsError::format(
                &dir.join(RUN_JSON),
                format!(
                    "target {:?} names the interval log {:?}, which is not a file name beside run.json",
                    t.name, t.hlog
                ),
            ));
        }
        let path = dir.join(&t.hlog);
        let mut seconds = Vec::new();
        let mut total = histogram();
        for e in hlog::Reader::open(&path)? {
            let e = e?;
            if e.tag.as_deref().is_some_and(|tag| tag != t.name) {
                continue;
            }
            total.add(&e.histogram).map_err(|err| {
                ResultsError::format(&path, format!("an interval holds values out of range: {err:?}"))
            })?;
            if keep_seconds {
                seconds.push(Second { second: e.start.as_secs(), histogram: e.histogram });
            }
        }
        let timeline = timelines.remove(&t.name).unwrap_or_default();
        targets.push(TargetData { result: t.clone(), seconds, total, timeline });
    }
    Ok(RunData { dir: dir.to_path_buf(), run, targets })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_folder_is_named() {
        let e = load(Path::new("/nonexistent/results/x")).unwrap_err();
        assert!(matches!(e, ResultsError::NoFolder { .. }), "{e:?}");
        assert_eq!(e.path(), Path::new("/nonexistent/results/x"));
        assert!(e.to_string().contains("/nonexistent/results/x: not a results folder"), "{e}");
    }
}
