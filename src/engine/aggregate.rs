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
}

/// Merge reports from `threads` threads until all say they are done, writing as seconds complete.
/// `requested(second)` gives the planned requests of a second (open loop) for the timeline.
#[allow(clippy::too_many_arguments)]
pub fn run<W: Write, T: Write>(
    rx: Receiver<Report>,
    threads: usize,
    target: &str,
    requested: &dyn Fn(u64) -> Option<u64>,
    hlog: &mut W,
    timeline: &mut T,
    base: SystemTime,
    live: &Mutex<LiveView>,
    last_second: Option<u64>,
) -> io::Result<Written> {
    let comment = format!(
        "wabench {} interval log, target {target}, latency in µs from the intended start",
        env!("CARGO_PKG_VERSION")
    );
    let mut log = IntervalWriter::begin(hlog, base, &comment)?;
    let mut pending: BTreeMap<u64, Interval> = BTreeMap::new();
    let mut marks: Vec<u64> = vec![0; threads];
    let mut done = vec![false; threads];
    let mut out = Written::default();
    let mut overall = histogram();
    let mut totals = LiveTotals::default();
    // The timeline has a row for every second, also those in which nothing happened.
    let mut next_row = 0u64;
    let empty_row = |timeline: &mut T, k: u64| -> io::Result<()> {
        TimelineRow { second: k, requested: requested(k), ..TimelineRow::default() }.write(timeline, target)
    };

    let mut flush = |upto: u64,
                     pending: &mut BTreeMap<u64, Interval>,
                     log: &mut IntervalWriter<&mut W>,
                     timeline: &mut T|
     -> io::Result<()> {
        let ready: Vec<u64> = pending.range(..upto).map(|(k, _)| *k).collect();
        if ready.is_empty() {
            return Ok(());
        }
        for k in ready {
            while next_row < k {
                empty_row(timeline, next_row)?;
                next_row += 1;
            }
            next_row = k + 1;
            let iv = pending.remove(&k).expect("key listed above");
            log.write(target, Duration::from_secs(iv.index), Duration::from_secs(1), &iv.latency)?;
            let h = &iv.latency;
            TimelineRow {
                second: k,
                requested: requested(k),
                started: iv.started,
                ok: iv.ok,
                errors: iv.errors,
                dropped: iv.dropped,
                ..TimelineRow::default()
            }
            .with_latency(Some(h))
            .write(timeline, target)?;
            out.intervals += 1;
            out.started += iv.started;
            out.latencies += h.len();
            overall.add(h).expect("same bounds");
            totals.add(&iv);
            if let Ok(mut v) = live.lock() {
                v.totals = totals.clone();
                v.second = k;
                v.p99_us = if h.is_empty() { 0 } else { h.value_at_quantile(0.99) };
                v.overall = Some(overall.clone());
            }
        }
        timeline.flush()?;
        Ok(())
    };

    while let Ok(r) = rx.recv() {
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
        flush(low, &mut pending, &mut log, timeline)?;
        if done.iter().all(|d| *d) {
            break;
        }
    }
    // Threads that vanished (panicked) leave their seconds behind: write what arrived.
    flush(u64::MAX, &mut pending, &mut log, timeline)?;
    if let Some(last) = last_second {
        while next_row <= last {
            empty_row(timeline, next_row)?;
            next_row += 1;
        }
        timeline.flush()?;
    }
    Ok(out)
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
        let w =
            run(rx, 2, "cloud", &|s| Some(s * 10), &mut hlog, &mut csv, SystemTime::UNIX_EPOCH, &live, None).unwrap();
        assert_eq!(w, Written { intervals: 3, started: 5, latencies: 5 });
        let csv = String::from_utf8(csv).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("cloud,0,0,3,3,0,0,200,"), "{}", lines[0]);
        assert!(lines[2].starts_with("cloud,2,20,1,1,"), "{}", lines[2]);

        let mut de = Deserializer::new();
        let mut seen = Vec::new();
        for e in IntervalLogIterator::new(&hlog) {
            if let LogEntry::Interval(h) = e.unwrap() {
                let bytes = base64_decode(h.encoded_histogram());
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

    fn base64_decode(s: &str) -> Vec<u8> {
        crate::results::hlog::decode_base64(s).unwrap()
    }
}
