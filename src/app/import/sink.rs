//! Per-request samples (or per-interval histograms) of a source become a results folder's per-second
//! interval logs, `timeline.csv` rows and whole-run histograms, in constant memory: only the seconds of
//! a sliding window are held, and each second is written out once the source has moved
//! [`WINDOW_S`] seconds past it. Every request is counted in the second it started (`started`) and its
//! answer in the second it ended (latency, ok/errors), as a wabench run counts them.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;

use crate::results::hlog::IntervalWriter;
use crate::results::imported::FROM_SEND;
use crate::results::{
    self, Counts, ImportedTarget, MAX_US, Rates, TAG_LATENCY, TAG_SERVICE_TIME, TargetHead, TargetResult, TimelineRow,
    files, histogram, outcome_tag, timeline,
};

/// Seconds a source may be out of time order (JMeter writes a sample when it ends, so a slow one comes
/// after faster ones that started later): a second is written once samples have moved this far past it.
pub const WINDOW_S: i64 = 300;
/// Most targets one import may make (labels become targets): beyond, choose with --label or --target.
pub const MAX_TARGETS: usize = 200;

/// One request as the source recorded it.
#[derive(Debug, Clone, Copy)]
pub struct Sample<'a> {
    pub label: &'a str,
    /// When it started, µs since the epoch, on the source's clock.
    pub start_us: i64,
    pub latency_us: u64,
    pub outcome: &'a str,
    pub url: Option<&'a str>,
    /// Threads or virtual users active then, when the source says.
    pub threads: Option<u32>,
}

/// How the targets of an import are described.
#[derive(Debug, Clone)]
pub struct Describe {
    pub tool: &'static str,
    /// "open", "closed" or "unknown" (the source's load model).
    pub model: &'static str,
    pub latency_from: &'static str,
    /// Every label into this one target (`--target`).
    pub fixed: Option<String>,
}

/// A per-request importer's reader of one file: its requests into the sink, counting those left out;
/// returns how many it read.
pub type ReadFile = fn(&Path, &super::Request, &mut Sink, &mut u64) -> Result<u64, super::ImportError>;

/// The accumulating import of one or more targets.
pub struct Sink {
    dir: PathBuf,
    describe: Describe,
    targets: Vec<Acc>,
    index: HashMap<String, usize>,
    timeline: BufWriter<File>,
}

#[derive(Default)]
struct Sec {
    hist: Option<Histogram<u64>>,
    started: u64,
    ok: u64,
    errors: u64,
    length: u64,
}

struct Acc {
    name: String,
    label: String,
    url: String,
    log: Option<IntervalWriter<BufWriter<File>>>,
    /// The epoch second of offset 0 (set when the first second is written).
    base: Option<i64>,
    /// The next second to write a timeline row for (epoch seconds).
    next_row: i64,
    seconds: BTreeMap<i64, Sec>,
    max_sec: i64,
    totals: BTreeMap<String, Histogram<u64>>,
    outcomes: BTreeMap<String, u64>,
    counts: Counts,
    first_start_us: i64,
    last_start_us: i64,
    last_end_us: i64,
    threads: u32,
}

/// What the finished targets come to.
pub struct Finished {
    pub targets: Vec<TargetResult>,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
}

impl Finished {
    /// What a per-request import ends with: the targets and times written, and the source described
    /// (`tool`, what its files give and what they do not, notes on how they were read).
    pub fn parsed(
        self,
        req: &super::Request,
        tool: &str,
        available: &[&str],
        unavailable: &[&str],
        notes: Vec<String>,
    ) -> super::Parsed {
        let texts = |t: &[&str]| t.iter().map(|s| s.to_string()).collect();
        super::Parsed {
            targets: self.targets,
            imported: results::Imported {
                tool: tool.into(),
                files: super::file_names(req),
                per_request: true,
                available: texts(available),
                unavailable: texts(unavailable),
                notes,
            },
            started_at: self.started_at,
            ended_at: self.ended_at,
        }
    }
}

fn at_us(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or(DateTime::UNIX_EPOCH)
}

fn io(path: &Path, e: std::io::Error) -> String {
    format!("{}: cannot write: {e}", path.display())
}

impl Sink {
    /// The sink of a per-request import of `req` into `dir`: its targets described as `tool`'s, under
    /// `model` (the source's load model), latency from the actual send, and every label into one
    /// target when `--target` is given.
    pub fn open(
        req: &super::Request,
        dir: &Path,
        tool: &'static str,
        model: &'static str,
    ) -> Result<Sink, super::ImportError> {
        let describe = Describe { tool, model, latency_from: FROM_SEND, fixed: req.target.clone() };
        Sink::new(dir, describe).map_err(|e| super::ImportError::file(dir, e))
    }

    /// Reads each of `req`'s files into the sink with `read`, which counts the requests it leaves out
    /// (of labels not chosen with `--label`); returns how many were left out in all.
    pub fn read_each(&mut self, req: &super::Request, read: ReadFile) -> Result<u64, super::ImportError> {
        let mut skipped = 0u64;
        for f in &req.files {
            read(f, req, self, &mut skipped)?;
        }
        Ok(skipped)
    }

    fn new(dir: &Path, describe: Describe) -> Result<Sink, String> {
        let path = dir.join(files::TIMELINE);
        let f = File::create(&path).map_err(|e| io(&path, e))?;
        let mut timeline = BufWriter::new(f);
        timeline::write_header(&mut timeline).map_err(|e| io(&path, e))?;
        Ok(Sink { dir: dir.to_path_buf(), describe, targets: Vec::new(), index: HashMap::new(), timeline })
    }

    /// No request was recorded.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    fn target(&mut self, label: &str, url: Option<&str>) -> Result<usize, String> {
        let key = if self.describe.fixed.is_some() { "" } else { label };
        if let Some(i) = self.index.get(key) {
            return Ok(*i);
        }
        if self.targets.len() >= MAX_TARGETS {
            return Err(format!(
                "more than {MAX_TARGETS} labels: keep some with --label, or put every request into one target with --target NAME"
            ));
        }
        let (base, label) = match &self.describe.fixed {
            Some(f) => (super::target_name(f), f.clone()),
            None => (super::target_name(label), label.to_string()),
        };
        let mut name = base.clone();
        let mut k = 2;
        while self.targets.iter().any(|t| t.name == name) {
            name = format!("{base}-{k}");
            k += 1;
        }
        self.targets.push(Acc::new(name, label, url.unwrap_or_default().to_string()));
        self.index.insert(key.to_string(), self.targets.len() - 1);
        Ok(self.targets.len() - 1)
    }

    /// Record one request.
    pub fn record(&mut self, s: &Sample<'_>) -> Result<(), String> {
        let i = self.target(s.label, s.url)?;
        let (dir, timeline) = (&self.dir, &mut self.timeline);
        self.targets[i].add(s)?;
        let upto = self.targets[i].max_sec.saturating_sub(WINDOW_S);
        self.targets[i].flush_before(upto, dir, timeline)
    }

    /// Record one interval of an interval log: `h` holds latencies in µs of requests that ended in it.
    pub fn record_interval(
        &mut self,
        label: &str,
        start_us: i64,
        length_us: u64,
        h: &Histogram<u64>,
    ) -> Result<(), String> {
        let i = self.target(label, None)?;
        let (dir, timeline) = (&self.dir, &mut self.timeline);
        self.targets[i].add_interval(start_us, length_us, h)?;
        let upto = self.targets[i].max_sec.saturating_sub(WINDOW_S);
        self.targets[i].flush_before(upto, dir, timeline)
    }

    /// Write out every second left and the whole-run histograms; the targets' results.
    pub fn finish(mut self) -> Result<Finished, String> {
        let mut targets = Vec::new();
        for acc in &mut self.targets {
            acc.flush_before(i64::MAX, &self.dir, &mut self.timeline)?;
            targets.push(acc.result(&self.describe, &self.dir)?);
        }
        let path = self.dir.join(files::TIMELINE);
        let f = self.timeline.into_inner().map_err(|e| io(&path, e.into_error()))?;
        f.sync_all().map_err(|e| io(&path, e))?;
        let started = self.targets.iter().map(|t| t.first_start_us).min().unwrap_or(0);
        let ended = self.targets.iter().map(|t| t.last_end_us).max().unwrap_or(started);
        Ok(Finished { targets, started_at: at_us(started), ended_at: at_us(ended) })
    }
}

impl Acc {
    fn new(name: String, label: String, url: String) -> Acc {
        Acc {
            name,
            label,
            url,
            log: None,
            base: None,
            next_row: i64::MIN,
            seconds: BTreeMap::new(),
            max_sec: i64::MIN,
            totals: BTreeMap::new(),
            outcomes: BTreeMap::new(),
            counts: Counts::default(),
            first_start_us: i64::MAX,
            last_start_us: i64::MIN,
            last_end_us: i64::MIN,
            threads: 0,
        }
    }

    /// A second already written cannot take more requests.
    fn check_order(&self, sec: i64, what: &str) -> Result<(), String> {
        if self.base.is_some() && sec < self.next_row {
            return Err(format!(
                "{what} at {} is more than {WINDOW_S} s before requests already read: the file is not in time \
                 order (sort it by its timestamp column first)",
                at_us(sec * 1_000_000).to_rfc3339()
            ));
        }
        Ok(())
    }

    fn add_total(&mut self, tag: &str, h: Option<&Histogram<u64>>, v: u64) -> Result<(), String> {
        let t = self.totals.entry(tag.to_string()).or_insert_with(histogram);
        match h {
            Some(h) => t.add(h).map_err(|e| format!("a histogram holds values out of range: {e:?}")),
            None => t.record(v).map_err(|e| format!("latency {v} µs out of range: {e:?}")),
        }
    }

    fn add(&mut self, s: &Sample<'_>) -> Result<(), String> {
        let lat = s.latency_us.min(MAX_US);
        let start_sec = s.start_us.div_euclid(1_000_000);
        let end_us = s.start_us.saturating_add(lat as i64);
        let end_sec = end_us.div_euclid(1_000_000);
        self.check_order(start_sec, "this request's start")?;
        self.seconds.entry(start_sec).or_default().started += 1;
        let sec = self.seconds.entry(end_sec).or_default();
        let ok = s.outcome == "ok";
        if ok {
            sec.ok += 1;
            self.counts.ok += 1;
        } else {
            sec.errors += 1;
            self.counts.errors += 1;
        }
        sec.hist
            .get_or_insert_with(|| Histogram::new(3).expect("3 significant digits"))
            .record(lat)
            .map_err(|e| format!("latency {lat} µs out of range: {e:?}"))?;
        self.counts.sent += 1;
        *self.outcomes.entry(s.outcome.to_string()).or_insert(0) += 1;
        self.add_total(TAG_LATENCY, None, lat)?;
        self.add_total(TAG_SERVICE_TIME, None, lat)?;
        self.add_total(&outcome_tag(s.outcome), None, lat)?;
        if self.url.is_empty()
            && let Some(u) = s.url
        {
            self.url = u.to_string();
        }
        self.threads = self.threads.max(s.threads.unwrap_or(0));
        self.span(s.start_us, end_us, end_sec);
        Ok(())
    }

    fn add_interval(&mut self, start_us: i64, length_us: u64, h: &Histogram<u64>) -> Result<(), String> {
        let start_sec = start_us.div_euclid(1_000_000);
        self.check_order(start_sec, "this interval's start")?;
        let n = h.len();
        let sec = self.seconds.entry(start_sec).or_default();
        sec.started += n;
        sec.ok += n;
        sec.length = sec.length.max(length_us);
        sec.hist
            .get_or_insert_with(|| Histogram::new(3).expect("3 significant digits"))
            .add(h)
            .map_err(|e| format!("an interval holds values out of range: {e:?}"))?;
        self.counts.sent += n;
        self.counts.ok += n;
        *self.outcomes.entry("ok".into()).or_insert(0) += n;
        self.add_total(TAG_LATENCY, Some(h), 0)?;
        self.add_total(TAG_SERVICE_TIME, Some(h), 0)?;
        self.add_total(&outcome_tag("ok"), Some(h), 0)?;
        let end_us = start_us.saturating_add(length_us as i64);
        self.span(start_us, end_us, start_sec);
        Ok(())
    }

    fn span(&mut self, start_us: i64, end_us: i64, sec: i64) {
        self.first_start_us = self.first_start_us.min(start_us);
        self.last_start_us = self.last_start_us.max(start_us);
        self.last_end_us = self.last_end_us.max(end_us);
        self.max_sec = self.max_sec.max(sec);
    }

    /// Write out every held second before `upto` (epoch seconds), with a timeline row for every second.
    fn flush_before(&mut self, upto: i64, dir: &Path, timeline: &mut BufWriter<File>) -> Result<(), String> {
        while let Some(entry) = self.seconds.first_entry() {
            let k = *entry.key();
            if k >= upto {
                break;
            }
            let sec = entry.remove();
            let base = match self.base {
                Some(b) => b,
                None => self.begin(k, dir)?,
            };
            let tl = dir.join(files::TIMELINE);
            while self.next_row < k {
                TimelineRow { second: (self.next_row - base) as u64, ..TimelineRow::default() }
                    .write(timeline, &self.name)
                    .map_err(|e| io(&tl, e))?;
                self.next_row += 1;
            }
            let row = TimelineRow {
                second: (k - base) as u64,
                started: sec.started,
                ok: sec.ok,
                errors: sec.errors,
                ..TimelineRow::default()
            };
            row.with_latency(sec.hist.as_ref()).write(timeline, &self.name).map_err(|e| io(&tl, e))?;
            self.next_row = k + 1;
            if let (Some(h), Some(log)) = (&sec.hist, self.log.as_mut()) {
                let length = Duration::from_micros(sec.length.max(1_000_000));
                log.write(&self.name, Duration::from_secs((k - base) as u64), length, h)
                    .map_err(|e| io(&dir.join(files::hlog_name(&self.name)), e))?;
            }
        }
        Ok(())
    }

    /// Open the interval log with its base time at epoch second `base`.
    fn begin(&mut self, base: i64, dir: &Path) -> Result<i64, String> {
        let path = dir.join(files::hlog_name(&self.name));
        let f = File::create(&path).map_err(|e| io(&path, e))?;
        let at = UNIX_EPOCH + Duration::from_secs(base.max(0) as u64);
        let comment = format!("wabench import, target {}: latency in µs as the source measured it", self.name);
        self.log = Some(IntervalWriter::begin(BufWriter::new(f), at, &comment).map_err(|e| io(&path, e))?);
        self.base = Some(base);
        self.next_row = base;
        Ok(base)
    }

    fn result(&mut self, d: &Describe, dir: &Path) -> Result<TargetResult, String> {
        let base = self.base.unwrap_or(self.first_start_us.div_euclid(1_000_000));
        let path = dir.join(files::hlog_name(&self.name));
        if let Some(log) = self.log.take() {
            let mut w = log.into_inner();
            w.flush().map_err(|e| io(&path, e))?;
            w.into_inner().map_err(|e| io(&path, e.into_error()))?.sync_all().map_err(|e| io(&path, e))?;
        }
        let started_at = at_us(base * 1_000_000);
        let duration_s = (self.last_end_us - base * 1_000_000).max(0) as f64 / 1e6;
        let span = (self.last_start_us - self.first_start_us) as f64 / 1e6;
        let achieved = if span > 0.0 { self.counts.sent as f64 / span } else { self.counts.sent as f64 };
        let head = TargetHead {
            name: self.name.clone(),
            kind: d.tool.into(),
            url: if self.url.is_empty() { self.label.clone() } else { self.url.clone() },
            model: d.model.into(),
            connections: self.threads,
            threads: 0,
            started_at,
            duration_s,
            interrupted: false,
        };
        let rate = Rates { requested: None, achieved, ratio: None };
        let outcomes = std::mem::take(&mut self.outcomes);
        let mut r = TargetResult::build(head, self.counts.clone(), rate, outcomes, &self.totals);
        r.imported = Some(ImportedTarget {
            label: self.label.clone(),
            latency_from: d.latency_from.into(),
            aggregate_only: false,
            percentiles_us: BTreeMap::new(),
        });
        let mut buf = Vec::new();
        let at: SystemTime = started_at.into();
        results::hlog::write_map(
            &mut buf,
            at,
            "wabench import: whole-run histograms (µs)",
            &self.totals,
            Duration::from_secs_f64(duration_s),
        )
        .map_err(|e| e.to_string())?;
        results::write_atomic(&dir.join(files::totals_name(&self.name)), &buf)
            .map_err(|e| io(&dir.join(files::totals_name(&self.name)), e))?;
        Ok(r)
    }
}
