//! HdrHistogram interval logs (`.hlog`) from any tool (jHiccup, Cassandra-stress, wrk2 forks, HdrHistogram's
//! `HistogramLogWriter`, wabench itself): per-interval histograms, so per-request exact at the log's
//! precision. The format: comment lines (`#…`), `#[StartTime: <s> …]` and `#[BaseTime: <s> …]`, the
//! legend, then `[Tag=<tag>,]<start s>,<length s>,<max>,<base64 of the compressed histogram>` per
//! interval, where start is relative to BaseTime (or to StartTime when it is small) and the max column
//! is the histogram's max divided by the writer's max-value divisor (by convention to ms: 1e6 for a
//! histogram in ns, 1e3 for µs). The log does not name its unit: it is inferred from that ratio, or
//! given with `--unit`. Sources: HdrHistogram's `HistogramLogWriter` / `HistogramLogReader` Javadoc
//! (<https://hdrhistogram.github.io/HdrHistogram/JavaDoc/org/HdrHistogram/HistogramLogWriter.html>) and
//! the Rust `hdrhistogram` crate's `serialization::interval_log` module documentation.

use std::path::Path;

use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

use super::lines::Lines;
use super::sink::Sink;
use super::{ImportError, Parsed, Request, Unit};
use crate::results::MAX_US;
use crate::results::hlog::decode_base64;

/// Timestamps above this (one year in seconds) are absolute (since the epoch), below it relative.
const ABSOLUTE_AFTER_S: f64 = 365.0 * 24.0 * 3600.0;

/// The unit of a histogram from the ratio of its max to the log's max column.
fn infer_unit(hist_max: u64, column_max: f64) -> Option<Unit> {
    if hist_max == 0 || column_max <= 0.0 {
        return None;
    }
    let r = hist_max as f64 / column_max;
    let near = |x: f64| (r / x - 1.0).abs() < 0.02;
    if near(1e6) {
        Some(Unit::Ns)
    } else if near(1e3) {
        Some(Unit::Us)
    } else {
        None
    }
}

/// A histogram in `unit` as a histogram in µs (each recorded bucket at its highest equivalent value).
fn to_us(h: &Histogram<u64>, unit: Unit) -> Result<Histogram<u64>, String> {
    let mut out = Histogram::new(3).map_err(|e| format!("{e:?}"))?;
    for v in h.iter_recorded() {
        let us = unit.to_us(h.highest_equivalent(v.value_iterated_to()) as f64).round().min(MAX_US as f64) as u64;
        out.record_n(us, v.count_at_value()).map_err(|e| format!("value {us} µs out of range: {e:?}"))?;
    }
    Ok(out)
}

/// What is known of a log's time base and unit as it is read.
#[derive(Default)]
struct State {
    base_s: Option<f64>,
    start_s: Option<f64>,
    unit: Option<Unit>,
    inferred: bool,
    intervals: u64,
}

fn entry(e: LogEntry<'_>, st: &mut State, de: &mut Deserializer, req: &Request, sink: &mut Sink) -> Result<(), String> {
    match e {
        LogEntry::BaseTime(t) => st.base_s = Some(t.as_secs_f64()),
        LogEntry::StartTime(t) => st.start_s = Some(t.as_secs_f64()),
        LogEntry::Interval(i) => {
            let tag = i.tag().map(|t| t.as_str().to_string());
            let label = tag.as_deref().unwrap_or("hlog");
            if !req.labels.is_empty() && !req.labels.iter().any(|l| l == label) {
                return Ok(());
            }
            let raw = decode_base64(i.encoded_histogram())?;
            let h: Histogram<u64> = de.deserialize(&mut &raw[..]).map_err(|e| format!("bad histogram: {e:?}"))?;
            if h.is_empty() {
                return Ok(());
            }
            let unit = match (st.unit, req.unit) {
                (_, Some(u)) => u,
                (Some(u), None) => u,
                (None, None) => {
                    let u = infer_unit(h.max(), i.max()).ok_or_else(|| {
                        format!(
                            "the log does not say its unit and its max column ({}) does not tell it (max ÷ column is \
                             neither 1e6 nor 1e3): pass --unit",
                            i.max()
                        )
                    })?;
                    st.inferred = true;
                    u
                }
            };
            st.unit = Some(unit);
            let start = i.start_timestamp().as_secs_f64();
            let abs = if start > ABSOLUTE_AFTER_S { start } else { st.base_s.or(st.start_s).unwrap_or(0.0) + start };
            let length = i.duration();
            sink.record_interval(label, (abs * 1e6).round() as i64, length.as_micros() as u64, &to_us(&h, unit)?)?;
            st.intervals += 1;
        }
    }
    Ok(())
}

/// Import interval logs.
pub fn import(req: &Request, dir: &Path) -> Result<Parsed, ImportError> {
    let mut sink = Sink::open(req, dir, "hlog", "unknown")?;
    let mut notes = Vec::new();
    for f in &req.files {
        let mut lines = Lines::open(f)?;
        let mut st = State::default();
        let mut de = Deserializer::new();
        let mut buf = Vec::new();
        while let Some(text) = lines.next_line()? {
            buf.clear();
            buf.extend_from_slice(text.as_bytes());
            buf.push(b'\n');
            for e in IntervalLogIterator::new(&buf) {
                let e = e.map_err(|_| {
                    lines.bad_line("not an interval log line (comment, StartTime, BaseTime or interval)")
                })?;
                entry(e, &mut st, &mut de, req, &mut sink).map_err(|e| lines.bad_line(e))?;
            }
        }
        if st.intervals == 0 {
            return Err(ImportError::file(
                f,
                "no interval with recorded values: not an HdrHistogram interval log, or an empty one",
            ));
        }
        let unit = st.unit.unwrap_or(Unit::Us).name();
        notes.push(if st.inferred {
            format!("{}: values in {unit}, inferred from the log's max column", f.display())
        } else {
            format!("{}: values in {unit} (--unit)", f.display())
        });
    }
    let fin = sink.finish().map_err(|e| ImportError::file(dir, e))?;
    notes.push(
        "each interval is kept whole (its counts sit on the second it starts); values as the log's buckets hold them"
            .into(),
    );
    Ok(fin.parsed(
        req,
        "hlog",
        &["per-interval latency histograms (tags become targets)"],
        &[
            "outcomes: a log holds latencies only, so every recorded value is counted as ok",
            "where the tool measured latency from: taken as service time unless the tool corrects for \
             coordinated omission",
        ],
        notes,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_inferred_from_the_max_column() {
        assert_eq!(infer_unit(12_496_000, 12.496), Some(Unit::Ns));
        assert_eq!(infer_unit(12_503, 12.5), Some(Unit::Us));
        assert_eq!(infer_unit(12_496, 12_496.0), None);
        assert_eq!(infer_unit(0, 0.0), None);
    }

    #[test]
    fn histograms_convert_to_microseconds() {
        let mut ns = Histogram::<u64>::new(3).unwrap();
        ns.record_n(1_500_000, 3).unwrap();
        let us = to_us(&ns, Unit::Ns).unwrap();
        assert_eq!(us.len(), 3);
        assert!((us.max() as f64 / 1500.0 - 1.0).abs() < 0.002, "{}", us.max());
    }
}
