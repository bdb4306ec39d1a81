//! The aggregator: merges the per-thread one-second intervals exactly (histogram `add`), writes each
//! finished second to the target's HDR interval log and to the timeline CSV, and flushes both every
//! second so a killed run still leaves readable files. It never touches the load path.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::Mutex;
use std::sync::mpsc::Receiver;
use std::time::{Duration, SystemTime};

use super::metrics::{Interval, Outcome, Report, histogram};
use crate::results::TimelineRow;
use crate::results::hlog::IntervalWriter;

/// What the progress display reads: the latest finished second.
#[derive(Debug, Default, Clone)]
pub struct LiveView {
    pub second: u64,
    pub p99_us: u64,
    pub overall: Option<hdrhistogram::Histogram<u64>>,
    /// Counts of every second finished so far (what the Prometheus endpoint exports).
    pub totals: LiveTotals,
    /// The timeline rows of the latest seconds (at most `RECENT_SECONDS`), for a live page.
    pub recent: std::collections::VecDeque<TimelineRow>,
    /// The slowest traced attempts of the latest seconds (at most `RECENT_TRACED`, oldest first): the
    /// exemplars of the metrics endpoint's latency histogram.
    pub traced: std::collections::VecDeque<crate::results::exemplars::Exemplar>,
}

/// How many of the latest seconds' rows the live view keeps.
pub const RECENT_SECONDS: usize = 300;

/// How many of the latest seconds' slowest traced attempts the live view keeps.
pub const RECENT_TRACED: usize = 96;

impl LiveView {
    fn keep(&mut self, row: TimelineRow) {
        if self.recent.len() == RECENT_SECONDS {
            self.recent.pop_front();
        }
        self.recent.push_back(row);
    }

    fn keep_traced(&mut self, kept: &crate::results::exemplars::Slowest) {
        for e in kept.all() {
            if self.traced.len() == RECENT_TRACED {
                self.traced.pop_front();
            }
            self.traced.push_back(e.clone());
        }
    }
}

/// Counts since the start, up to the latest finished second; `overall` holds the latencies of the
/// same seconds, so one read of the view is one consistent snapshot.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LiveTotals {
    /// First attempts started.
    pub started: u64,
    /// Later attempts started.
    pub retries: u64,
    /// Requests written again.
    pub resent: u64,
    /// Due and not sent.
    pub dropped: u64,
    /// Attempts ended, by outcome.
    pub outcomes: BTreeMap<Outcome, u64>,
    /// The largest lateness of a request started in the latest finished second, µs.
    pub last_lateness_max_us: u64,
}

impl LiveTotals {
    fn add(&mut self, iv: &Interval) {
        self.started += iv.started;
        self.retries += iv.retries;
        self.resent += iv.resent;
        self.dropped += iv.dropped;
        for (k, n) in &iv.outcomes {
            *self.outcomes.entry(*k).or_insert(0) += n;
        }
        self.last_lateness_max_us = iv.lateness_max_us;
    }

    /// Attempts started and not ended by the end of the latest finished second.
    pub fn in_flight(&self) -> u64 {
        (self.started + self.retries).saturating_sub(self.outcomes.values().sum())
    }
}

/// Totals the aggregator saw, for cross-checks against the recorders.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Written {
    pub intervals: u64,
    pub started: u64,
    pub latencies: u64,
    /// Traced attempts, all threads' (`[tracing]`; the slowest of each second are written as it is merged).
    pub traced: u64,
}

/// What the aggregator merges and where it writes it.
pub struct Aggregation<'a, W: Write, T: Write> {
    /// The load threads' reports.
    pub rx: Receiver<Report>,
    /// How many load threads report (each ends with [`Report::Done`]).
    pub threads: usize,
    /// The target's name: the interval log's tag and the timeline's first column.
    pub target: &'a str,
    /// The planned requests of a second (open loop), for the timeline.
    pub requested: &'a dyn Fn(u64) -> Option<u64>,
    /// The target's interval log.
    pub hlog: &'a mut W,
    /// The timeline CSV's rows.
    pub timeline: &'a mut T,
    /// When the run started: the interval log's base time.
    pub base: SystemTime,
    /// What the progress display and the metrics endpoint read.
    pub live: &'a Mutex<LiveView>,
    /// The run's last second, when it has a length: the timeline has a row for each second up to it.
    pub last_second: Option<u64>,
    /// Where the slowest traced attempts of each second are written as it is merged (`[tracing]`).
    pub traced_rows: Option<crate::engine::trace::RowsFile>,
}

/// Merge reports from `threads` threads until all say they are done, writing as seconds complete.
pub fn run<W: Write, T: Write>(a: Aggregation<'_, W, T>) -> io::Result<Written> {
    let comment = format!(
        "wabench {} interval log, target {}, latency in µs from the intended start",
        env!("CARGO_PKG_VERSION"),
        a.target
    );
    let mut w = Seconds {
        target: a.target,
        requested: a.requested,
        log: IntervalWriter::begin(a.hlog, a.base, &comment)?,
        timeline: a.timeline,
        live: a.live,
        next_row: 0,
        out: Written::default(),
        overall: histogram(),
        totals: LiveTotals::default(),
        traced_rows: a.traced_rows,
    };
    let mut pending: BTreeMap<u64, Interval> = BTreeMap::new();
    let mut marks: Vec<u64> = vec![0; a.threads];
    let mut done = vec![false; a.threads];
    while let Ok(r) = a.rx.recv() {
        match r {
            Report::Interval { interval, .. } => match pending.get_mut(&interval.index) {
                Some(acc) => acc.merge(&interval),
                None => {
                    pending.insert(interval.index, interval);
                }
            },
            Report::Watermark { thread, index } => {
                if let Some(m) = marks.get_mut(thread) {
                    *m = (*m).max(index);
                }
            }
            Report::Done { thread } => {
                if let Some(d) = done.get_mut(thread) {
                    *d = true;
                }
                if let Some(m) = marks.get_mut(thread) {
                    *m = u64::MAX;
                }
            }
        }
        let low = marks.iter().copied().min().unwrap_or(u64::MAX);
        w.flush(low, &mut pending)?;
        if done.iter().all(|d| *d) {
            break;
        }
    }
    // Threads that vanished (panicked) leave their seconds behind: write what arrived.
    w.flush(u64::MAX, &mut pending)?;
    if let Some(last) = a.last_second {
        w.empty_rows_until(last + 1)?;
        w.timeline.flush()?;
    }
    Ok(w.out)
}

/// The aggregator's writing side: finished seconds to the interval log, the timeline and the live view.
struct Seconds<'a, W: Write, T: Write> {
    target: &'a str,
    requested: &'a dyn Fn(u64) -> Option<u64>,
    log: IntervalWriter<&'a mut W>,
    timeline: &'a mut T,
    live: &'a Mutex<LiveView>,
    /// The timeline has a row for every second, also those in which nothing happened: the next one due.
    next_row: u64,
    out: Written,
    overall: hdrhistogram::Histogram<u64>,
    totals: LiveTotals,
    traced_rows: Option<crate::engine::trace::RowsFile>,
}

impl<W: Write, T: Write> Seconds<'_, W, T> {
    /// Write every pending second before `upto`, then flush the timeline.
    fn flush(&mut self, upto: u64, pending: &mut BTreeMap<u64, Interval>) -> io::Result<()> {
        let ready: Vec<u64> = pending.range(..upto).map(|(k, _)| *k).collect();
        if ready.is_empty() {
            return Ok(());
        }
        for k in ready {
            let iv = pending.remove(&k).expect("key listed above");
            self.second(k, &iv)?;
        }
        self.timeline.flush()?;
        Ok(())
    }

    /// Rows for the seconds before `k` that have none.
    fn empty_rows_until(&mut self, k: u64) -> io::Result<()> {
        while self.next_row < k {
            let second = self.next_row;
            let row = TimelineRow { second, requested: (self.requested)(second), ..TimelineRow::default() };
            row.write(self.timeline, self.target)?;
            if let Ok(mut v) = self.live.lock() {
                v.keep(row);
            }
            self.next_row += 1;
        }
        Ok(())
    }

    /// Second `k`, merged: its interval, its timeline row (after empty ones for any seconds skipped),
    /// the totals and the live view.
    fn second(&mut self, k: u64, iv: &Interval) -> io::Result<()> {
        self.empty_rows_until(k)?;
        self.next_row = k + 1;
        self.log.write(self.target, Duration::from_secs(iv.index), Duration::from_secs(1), &iv.latency)?;
        let h = &iv.latency;
        let row = TimelineRow {
            second: k,
            requested: (self.requested)(k),
            started: iv.started,
            ok: iv.ok,
            errors: iv.errors,
            dropped: iv.dropped,
            ..TimelineRow::default()
        }
        .with_latency(Some(h));
        row.write(self.timeline, self.target)?;
        self.out.intervals += 1;
        self.out.started += iv.started;
        self.out.latencies += h.len();
        if let Some(t) = &iv.traced {
            self.out.traced += t.traced;
            if let Some(rows) = &mut self.traced_rows {
                rows.push(t)?;
            }
        }
        self.overall.add(h).expect("same bounds");
        self.totals.add(iv);
        if let Ok(mut v) = self.live.lock() {
            v.totals = self.totals.clone();
            v.second = k;
            v.p99_us = if h.is_empty() { 0 } else { h.value_at_quantile(0.99) };
            v.overall = Some(self.overall.clone());
            v.keep(row);
            if let Some(t) = &iv.traced {
                v.keep_traced(t);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::Deserializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

    fn iv(index: u64, values: &[u64]) -> Interval {
        let mut i = Interval { started: values.len() as u64, ok: values.len() as u64, ..Interval::new(index) };
        for v in values {
            i.latency.record(*v).unwrap();
        }
        i.outcomes.insert(Outcome::Ok, values.len() as u64);
        i
    }

    #[test]
    fn merges_threads_and_writes_a_readable_log() {
        let (tx, rx) = std::sync::mpsc::channel();
        tx.send(Report::Interval { thread: 0, interval: iv(0, &[100, 200]) }).unwrap();
        tx.send(Report::Watermark { thread: 0, index: 1 }).unwrap();
        tx.send(Report::Interval { thread: 1, interval: iv(0, &[300]) }).unwrap();
        tx.send(Report::Interval { thread: 1, interval: iv(2, &[5000]) }).unwrap();
        tx.send(Report::Done { thread: 1 }).unwrap();
        tx.send(Report::Interval { thread: 0, interval: iv(1, &[400]) }).unwrap();
        tx.send(Report::Done { thread: 0 }).unwrap();
        let mut hlog = Vec::new();
        let mut csv = Vec::new();
        let live = Mutex::new(LiveView::default());
        let w = run(Aggregation {
            rx,
            threads: 2,
            target: "cloud",
            requested: &|s| Some(s * 10),
            hlog: &mut hlog,
            timeline: &mut csv,
            base: SystemTime::UNIX_EPOCH,
            live: &live,
            last_second: None,
            traced_rows: None,
        })
        .unwrap();
        assert_eq!(w, Written { intervals: 3, started: 5, latencies: 5, ..Written::default() });
        let csv = String::from_utf8(csv).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("cloud,0,0,3,3,0,0,200,"), "{}", lines[0]);
        assert!(lines[2].starts_with("cloud,2,20,1,1,"), "{}", lines[2]);

        let mut de = Deserializer::new();
        let mut seen = Vec::new();
        for e in IntervalLogIterator::new(&hlog) {
            if let LogEntry::Interval(h) = e.unwrap() {
                let bytes = crate::results::hlog::decode_base64(h.encoded_histogram()).unwrap();
                let hist: hdrhistogram::Histogram<u64> = de.deserialize(&mut &bytes[..]).unwrap();
                seen.push((h.start_timestamp().as_secs(), hist.len(), h.tag().map(|t| t.as_str().to_string())));
            }
        }
        assert_eq!(
            seen,
            vec![(0, 3, Some("cloud".into())), (1, 1, Some("cloud".into())), (2, 1, Some("cloud".into()))]
        );
        let v = live.lock().unwrap();
        assert_eq!(v.overall.as_ref().unwrap().len(), 5);
        assert_eq!(v.totals.started, 5);
        assert_eq!(v.totals.outcomes, BTreeMap::from([(Outcome::Ok, 5)]));
        assert_eq!(v.totals.in_flight(), 0);
    }
}
