//! Loading a results folder for reporting: run.json, each target's interval log (`<target>.hlog`)
//! and `timeline.csv`, checked and joined per target. Every error names the file it comes from.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;

use crate::metrics::{self, hlog};
use crate::results::{self, Run, TargetResult};

/// One row of `timeline.csv`: one second of one target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimelineRow {
    /// Seconds since the target started.
    pub second: u64,
    /// Requests the plan called for in this second (open loop only).
    pub requested: Option<u64>,
    pub started: u64,
    pub ok: u64,
    pub errors: u64,
    pub dropped: u64,
    /// Latency percentiles of the responses that ended in this second (none when nothing ended).
    pub p50_us: Option<u64>,
    pub p90_us: Option<u64>,
    pub p99_us: Option<u64>,
    pub max_us: Option<u64>,
}

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
        let mut total = metrics::histogram();
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
pub fn load(dir: &Path) -> Result<RunData, String> {
    if !dir.is_dir() {
        return Err(format!("{}: not a results folder (no such directory)", dir.display()));
    }
    if super::recover::recoverable(dir) {
        return super::recover::recover(dir);
    }
    let run = results::read_run(dir)?;
    let timeline_path = dir.join("timeline.csv");
    let mut timelines = match fs::read_to_string(&timeline_path) {
        Ok(text) => parse_timeline(&text).map_err(|e| format!("{}: {e}", timeline_path.display()))?,
        Err(e) => return Err(format!("{}: cannot read: {e}", timeline_path.display())),
    };
    let mut targets = Vec::with_capacity(run.targets.len());
    for t in &run.targets {
        if t.hlog.is_empty() || t.hlog.contains(['/', '\\']) || t.hlog == ".." {
            return Err(format!(
                "{}: target {:?} names the interval log {:?}, which is not a file name beside run.json",
                dir.join("run.json").display(),
                t.name,
                t.hlog
            ));
        }
        let path = dir.join(&t.hlog);
        let log = hlog::read(&path)?;
        let seconds = log
            .entries
            .into_iter()
            .filter(|e| e.tag.as_deref().is_none_or(|tag| tag == t.name))
            .map(|e| Second { second: e.start.as_secs(), histogram: e.histogram })
            .collect();
        let timeline = timelines.remove(&t.name).unwrap_or_default();
        targets.push(TargetData::new(t.clone(), seconds, timeline).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    Ok(RunData { dir: dir.to_path_buf(), run, targets })
}

/// Parse `timeline.csv` into rows per target (in file order). Errors give the line number.
pub fn parse_timeline(text: &str) -> Result<BTreeMap<String, Vec<TimelineRow>>, String> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, h)) if h.trim() == crate::metrics::aggregate::TIMELINE_HEADER => {}
        Some((_, h)) => return Err(format!("line 1: unexpected header {h:?}")),
        None => return Err("empty file: expected a header line".into()),
    }
    let mut out: BTreeMap<String, Vec<TimelineRow>> = BTreeMap::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let n = i + 1;
        // Target names may contain commas: the last ten fields are numbers, the rest is the name.
        let fields: Vec<&str> = line.rsplitn(11, ',').collect();
        if fields.len() != 11 {
            return Err(format!("line {n}: expected 11 comma-separated fields, found {}", fields.len()));
        }
        let field = |k: usize| fields[10 - k].trim();
        let opt = |k: usize| -> Result<Option<u64>, String> {
            let s = field(k);
            if s.is_empty() {
                return Ok(None);
            }
            s.parse::<u64>().map(Some).map_err(|_| format!("line {n}, field {}: {s:?} is not a count", k + 1))
        };
        let req = |k: usize| -> Result<u64, String> {
            opt(k)?.ok_or_else(|| format!("line {n}, field {}: empty, a number is required", k + 1))
        };
        let row = TimelineRow {
            second: req(1)?,
            requested: opt(2)?,
            started: req(3)?,
            ok: req(4)?,
            errors: req(5)?,
            dropped: req(6)?,
            p50_us: opt(7)?,
            p90_us: opt(8)?,
            p99_us: opt(9)?,
            max_us: opt(10)?,
        };
        out.entry(field(0).to_string()).or_default().push(row);
    }
    for rows in out.values_mut() {
        rows.sort_by_key(|r| r.second);
    }
    Ok(out)
}

/// A results folder's display name: its last path component.
pub fn folder_name(dir: &Path) -> String {
    dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_parses_open_and_closed_rows() {
        let text = format!(
            "{}\ncloud,1,100,99,98,1,0,900,1200,2000,3000\ncloud,0,50,50,50,0,0,800,,,\nonprem,0,,20,0,20,0,,,,\n",
            crate::metrics::aggregate::TIMELINE_HEADER
        );
        let t = parse_timeline(&text).unwrap();
        assert_eq!(t["cloud"].len(), 2);
        assert_eq!(t["cloud"][0].second, 0, "rows are sorted by second");
        assert_eq!(t["cloud"][1].p99_us, Some(2000));
        assert_eq!(t["onprem"][0].requested, None);
        assert_eq!(t["onprem"][0].errors, 20);
    }

    #[test]
    fn timeline_errors_are_located() {
        let h = crate::metrics::aggregate::TIMELINE_HEADER;
        assert!(parse_timeline("a,b\n").unwrap_err().contains("line 1"));
        let e = parse_timeline(&format!("{h}\nx,0,1,2\n")).unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        let e = parse_timeline(&format!("{h}\nx,zero,,1,1,0,0,,,,\n")).unwrap_err();
        assert!(e.contains("line 2, field 2"), "{e}");
    }

    #[test]
    fn a_missing_folder_is_named() {
        let e = load(Path::new("/nonexistent/results/x")).unwrap_err();
        assert!(e.contains("/nonexistent/results/x"), "{e}");
    }
}
