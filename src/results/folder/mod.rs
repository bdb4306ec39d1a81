//! Loading a results folder for reporting: run.json, each target's interval log (`<target>.hlog`)
//! and `timeline.csv`, checked and joined per target. Every error names the file it comes from.

use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;

use crate::results::files::{RUN_JSON, TIMELINE, recoverable};
use crate::results::timeline::{self, TimelineRow};
use crate::results::{ResultsError, Run, TargetResult, histogram, hlog, read_run};

mod recover;

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
    /// The seconds added together in consecutive groups, when loaded by [`load_blocked`] (`seconds` is
    /// then empty).
    pub blocks: Option<Blocks>,
    /// A conversation target's time to the first reply, whole run (`<target>.replies.hlog`, tag
    /// `first_reply`); `None` for other targets, or when the folder has no such log.
    pub replies: Option<Histogram<u64>>,
}

/// Per-second histograms added together in consecutive groups of `per` seconds (the last group may be
/// shorter): what a bootstrap over blocks of seconds needs, in memory that does not grow with the run.
#[derive(Debug, Clone)]
pub struct Blocks {
    pub per: usize,
    pub histograms: Vec<Histogram<u64>>,
    /// Seconds added so far.
    seconds: usize,
}

impl Blocks {
    /// No seconds yet, in blocks of `per`.
    fn new(per: usize) -> Blocks {
        Blocks { per, histograms: Vec::new(), seconds: 0 }
    }

    /// Add the next second: into the last block, or a new one when that one holds `per` seconds.
    fn push(&mut self, second: &Histogram<u64>) -> Result<(), String> {
        if self.seconds.is_multiple_of(self.per) {
            self.histograms.push(histogram());
        }
        self.seconds += 1;
        match self.histograms.last_mut() {
            Some(last) => last.add(second).map_err(|e| format!("an interval holds values out of range: {e:?}")),
            None => Ok(()),
        }
    }
}

/// How many consecutive seconds form one block when a target of `seconds` intervals (or timeline rows)
/// is cut into at most `max_blocks` blocks.
pub fn block_len(seconds: usize, max_blocks: usize) -> usize {
    seconds.div_ceil(max_blocks.max(1)).max(1)
}

impl TargetData {
    /// Build from parts (also how tests make fixtures without files).
    pub fn new(result: TargetResult, seconds: Vec<Second>, timeline: Vec<TimelineRow>) -> Result<TargetData, String> {
        let mut total = histogram();
        for s in &seconds {
            total.add(&s.histogram).map_err(|e| format!("an interval holds values out of range: {e:?}"))?;
        }
        Ok(TargetData { result, seconds, total, timeline, blocks: None, replies: None })
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
    load_with(dir, Keep::Seconds)
}

/// Read a results folder as [`load`] does but keep no per-second histograms (`seconds` is empty; `total`
/// and `timeline` are as `load` gives them): what a report and a merge need. The interval log is read a
/// line at a time, so memory does not grow with the run's length (`load` holds one histogram of about
/// 190 KB per second of the run).
pub fn load_totals(dir: &Path) -> Result<RunData, ResultsError> {
    load_with(dir, Keep::Totals)
}

/// Read a results folder as [`load`] does but keep its seconds added in at most `max_blocks` blocks
/// of consecutive seconds (`blocks`; `seconds` is empty): what a comparison needs, in memory that does
/// not grow with the run's length. The blocks are those of cutting `load`'s seconds into
/// [`block_len`]`(max(seconds, timeline rows), max_blocks)`-second chunks, in the same order.
pub fn load_blocked(dir: &Path, max_blocks: usize) -> Result<RunData, ResultsError> {
    load_with(dir, Keep::Blocks(max_blocks))
}

#[derive(Clone, Copy, PartialEq)]
enum Keep {
    Seconds,
    Totals,
    Blocks(usize),
}

fn load_with(dir: &Path, keep: Keep) -> Result<RunData, ResultsError> {
    if !dir.is_dir() {
        return Err(ResultsError::NoFolder { path: dir.to_path_buf() });
    }
    if recoverable(dir) {
        let mut data = recover::recover(dir)?;
        for t in &mut data.targets {
            match keep {
                Keep::Seconds => {}
                Keep::Totals => t.seconds = Vec::new(),
                Keep::Blocks(max) => {
                    let mut blocks = Blocks::new(block_len(t.seconds.len().max(t.timeline.len()), max));
                    for s in std::mem::take(&mut t.seconds) {
                        blocks.push(&s.histogram).map_err(|e| ResultsError::format(dir, e))?;
                    }
                    t.blocks = Some(blocks);
                }
            }
        }
        return Ok(data);
    }
    let run = read_run(dir)?;
    let timeline_path = dir.join(TIMELINE);
    let text = super::bounded::read_text(&timeline_path, super::bounded::MAX_TIMELINE_BYTES)?;
    let mut timelines = timeline::parse(&text).map_err(|e| ResultsError::format(&timeline_path, e))?;
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
        let timeline = timelines.remove(&t.name).unwrap_or_default();
        let mine = |e: &hlog::Entry| e.tag.as_deref().is_none_or(|tag| tag == t.name);
        // Blocks need the number of seconds before the first one is placed: a first pass counts them.
        let per = match keep {
            Keep::Blocks(max) => {
                let mut n = 0usize;
                for e in hlog::Reader::open(&path)? {
                    n += usize::from(mine(&e?));
                }
                Some(block_len(n.max(timeline.len()), max))
            }
            _ => None,
        };
        let mut seconds = Vec::new();
        let mut total = histogram();
        let mut blocks = per.map(Blocks::new);
        let out_of_range = |err| ResultsError::format(&path, format!("an interval holds values out of range: {err:?}"));
        for e in hlog::Reader::open(&path)? {
            let e = e?;
            if !mine(&e) {
                continue;
            }
            total.add(&e.histogram).map_err(out_of_range)?;
            match (keep, blocks.as_mut()) {
                (Keep::Seconds, _) => seconds.push(Second { second: e.start.as_secs(), histogram: e.histogram }),
                (_, Some(b)) => b.push(&e.histogram).map_err(|r| ResultsError::format(&path, r))?,
                _ => {}
            }
        }
        // Latencies recorded, and none in the log: the log was emptied or replaced, and a verdict on it
        // would judge nothing.
        if total.is_empty() && t.latency_us.count > 0 && t.imported.as_ref().is_none_or(|i| !i.aggregate_only) {
            return Err(ResultsError::format(
                &path,
                format!(
                    "no latency in the interval log, but run.json counts {} for target {:?}: the log is not this run's",
                    t.latency_us.count, t.name
                ),
            ));
        }
        let replies = replies(dir, t)?;
        targets.push(TargetData { result: t.clone(), seconds, total, timeline, blocks, replies });
    }
    Ok(RunData { dir: dir.to_path_buf(), run, targets })
}

/// A conversation target's time-to-first-reply histogram from `<target>.replies.hlog` beside run.json:
/// `None` for another target, or when the log is absent (the figures of run.json still stand); an
/// error when it cannot be read, or holds no reply where run.json counts some.
fn replies(dir: &Path, t: &TargetResult) -> Result<Option<Histogram<u64>>, ResultsError> {
    let Some(stats) = &t.conversation else { return Ok(None) };
    if t.name.is_empty() || t.name.contains(['/', '\\']) || t.name == ".." {
        return Ok(None);
    }
    let path = dir.join(super::files::replies_hlog_name(&t.name));
    if !path.is_file() {
        return Ok(None);
    }
    let mut h = histogram();
    for e in hlog::Reader::open(&path)? {
        let e = e?;
        if e.tag.as_deref() == Some(super::conversation::REPLY_TAG) {
            h.add(&e.histogram).map_err(|err| {
                ResultsError::format(&path, format!("an interval holds values out of range: {err:?}"))
            })?;
        }
    }
    if h.len() != stats.reply_latency_us.count {
        return Err(ResultsError::format(
            &path,
            format!(
                "{} first replies in the log, but run.json counts {} for target {:?}: the log is not this run's",
                h.len(),
                stats.reply_latency_us.count,
                t.name
            ),
        ));
    }
    Ok(Some(h))
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
