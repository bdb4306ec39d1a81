//! Reading HDR interval logs back (`<target>.hlog`): each entry's tag, start, length and histogram.
//! Used by `report` and `merge`; [`IntervalWriter`] is the one writer of the format.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

/// One interval of a log.
#[derive(Debug, Clone)]
pub struct Entry {
    pub tag: Option<String>,
    /// Offset from the log's base time.
    pub start: Duration,
    pub length: Duration,
    pub histogram: Histogram<u64>,
}

/// A parsed log: its base time (seconds since the epoch, when present) and entries in file order.
#[derive(Debug, Clone, Default)]
pub struct Log {
    pub base_time: Option<Duration>,
    pub entries: Vec<Entry>,
}

pub fn decode_base64(s: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD.decode(s.trim()).map_err(|e| format!("bad base64: {e}"))
}

/// The longest interval start or length a log may give (ten years, in seconds): anything longer is
/// corrupt, and would overflow the arithmetic of the readers that place intervals on a clock.
pub const MAX_OFFSET_S: u64 = 10 * 366 * 24 * 3600;
/// The most bytes one histogram may take once inflated (a full 1 µs–1 h histogram is about 100 KiB).
const MAX_INFLATED: u64 = 16 << 20;
const V2_COOKIE: u32 = 0x1c84_9313;
const V2_DEFLATE_COOKIE: u32 = 0x1c84_9314;

/// Decode one serialized histogram (V2, or V2 deflated) whose header is checked first: its payload is
/// no longer than what follows, its precision and range are ones a latency histogram can have, and
/// its inflated size is bounded (a few bytes must not make the reader allocate gigabytes).
pub fn decode_histogram(de: &mut Deserializer, raw: &[u8]) -> Result<Histogram<u64>, String> {
    use std::io::Read;
    let be32 = |b: &[u8], at: usize| b.get(at..at + 4).map(|x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]));
    let be64 = |b: &[u8], at: usize| {
        b.get(at..at + 8).map(|x| u64::from_be_bytes([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]]))
    };
    let inflated;
    let v2: &[u8] = match be32(raw, 0) {
        Some(V2_COOKIE) => raw,
        Some(V2_DEFLATE_COOKIE) => {
            let len = be32(raw, 4).ok_or("a cut histogram header")? as usize;
            let body = raw.get(8..8 + len).ok_or("a histogram shorter than its header says")?;
            let mut out = Vec::new();
            flate2::read::ZlibDecoder::new(body)
                .take(MAX_INFLATED + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("bad histogram: cannot inflate ({e})"))?;
            if out.len() as u64 > MAX_INFLATED {
                return Err(format!("bad histogram: inflates to more than {MAX_INFLATED} bytes"));
            }
            inflated = out;
            &inflated
        }
        _ => return Err("bad histogram: not an HdrHistogram V2 encoding".into()),
    };
    if be32(v2, 0) != Some(V2_COOKIE) {
        return Err("bad histogram: not an HdrHistogram V2 encoding".into());
    }
    let (payload, digits) = (be32(v2, 4).ok_or("a cut histogram header")?, be32(v2, 12).ok_or("a cut header")?);
    let (low, high) = (be64(v2, 16).ok_or("a cut histogram header")?, be64(v2, 24).ok_or("a cut header")?);
    if payload as usize > v2.len().saturating_sub(40) {
        return Err(format!("bad histogram: a payload of {payload} bytes, {} given", v2.len().saturating_sub(40)));
    }
    if digits > 5 || low == 0 || high < low.saturating_mul(2) || high > u64::MAX / 2 {
        return Err(format!("bad histogram: impossible bounds {low}..{high} with {digits} digits"));
    }
    de.deserialize(&mut &v2[..]).map_err(|e| format!("bad histogram ({e:?})"))
}

/// Parse an interval log from bytes. A truncated last line (a run killed mid-write) is ignored when it
/// is text; anything else (zeros, binary) is an error, as is a line longer than
/// [`MAX_HLOG_LINE`](super::bounded::MAX_HLOG_LINE) or an interval placed beyond [`MAX_OFFSET_S`].
pub fn parse(bytes: &[u8]) -> Result<Log, String> {
    let mut r = Reader::new(bytes, Path::new("interval log"));
    let mut log = Log::default();
    while let Some(e) = r.next_entry().map_err(|e| match e {
        super::ResultsError::Format { reason, .. } => reason,
        e => e.to_string(),
    })? {
        log.entries.push(e);
    }
    log.base_time = r.base_time;
    Ok(log)
}

/// Read and parse a log file (a regular file, of at most
/// [`MAX_HLOG_BYTES`](super::bounded::MAX_HLOG_BYTES)); errors name the file and the line.
pub fn read(path: &Path) -> Result<Log, super::ResultsError> {
    let mut r = Reader::open(path)?;
    let mut log = Log::default();
    while let Some(e) = r.next_entry()? {
        log.entries.push(e);
    }
    log.base_time = r.base_time;
    Ok(log)
}

/// An interval log read one line at a time: each interval is parsed when asked for, so that reading a
/// log of any length holds one histogram at a time (a report or merge of an hour-long run does not hold
/// 3,600 of them). A truncated last line of text (a run killed mid-write) ends the log. Errors name
/// the file and the line; lines are bounded, and so is the file when opened by [`Reader::open`].
pub struct Reader<R: std::io::BufRead> {
    src: R,
    path: std::path::PathBuf,
    line: Vec<u8>,
    number: usize,
    de: Deserializer,
    /// The log's base time (seconds since the epoch), once its header line was read.
    pub base_time: Option<Duration>,
}

impl Reader<std::io::BufReader<super::bounded::Capped<std::fs::File>>> {
    /// Open a log file: a regular file of at most [`MAX_HLOG_BYTES`](super::bounded::MAX_HLOG_BYTES).
    pub fn open(path: &Path) -> Result<Self, super::ResultsError> {
        let f = super::bounded::open(path, super::bounded::MAX_HLOG_BYTES)?;
        Ok(Reader::new(std::io::BufReader::with_capacity(1 << 16, f), path))
    }
}

impl<R: std::io::BufRead> Reader<R> {
    /// Read a log from `src`; `path` names it in errors.
    pub fn new(src: R, path: &Path) -> Self {
        Reader { src, path: path.to_path_buf(), line: Vec::new(), number: 0, de: Deserializer::new(), base_time: None }
    }

    fn error(&self, reason: String) -> super::ResultsError {
        super::ResultsError::format(&self.path, format!("line {}: {reason}", self.number))
    }

    /// The next interval, or `None` at the end of the log.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, super::ResultsError> {
        use super::bounded::{Line, MAX_HLOG_LINE, is_cut_text, read_line};
        loop {
            let got = read_line(&mut self.src, &mut self.line, MAX_HLOG_LINE)
                .map_err(|e| super::ResultsError::read(&self.path, e))?;
            self.number += 1;
            match got {
                Line::Whole => {}
                Line::End if is_cut_text(&self.line) => return Ok(None),
                Line::End => {
                    return Err(self.error("not text: an interval log holds lines of text, not zeros or binary".into()));
                }
                Line::TooLong => {
                    return Err(self.error(format!("longer than {MAX_HLOG_LINE} bytes: not an interval log line")));
                }
            }
            if !is_cut_text(&self.line[..self.line.len() - 1]) {
                return Err(self.error("not text: an interval log holds lines of text, not zeros or binary".into()));
            }
            let mut found = None;
            for e in IntervalLogIterator::new(&self.line[..]) {
                match e.map_err(|e| format!("not an interval log line ({e:?})")) {
                    Err(reason) => return Err(self.error(reason)),
                    Ok(LogEntry::BaseTime(t)) => self.base_time = Some(t),
                    Ok(LogEntry::StartTime(t)) => {
                        self.base_time.get_or_insert(t);
                    }
                    Ok(LogEntry::Interval(h)) => {
                        let (start, length) = (h.start_timestamp(), h.duration());
                        if start.as_secs() > MAX_OFFSET_S || length.as_secs() > MAX_OFFSET_S {
                            return Err(self.error(format!(
                                "an interval at {:.3} s lasting {:.3} s: more than ten years, not a run's",
                                start.as_secs_f64(),
                                length.as_secs_f64()
                            )));
                        }
                        let raw = decode_base64(h.encoded_histogram());
                        let de = &mut self.de;
                        let hist = raw.and_then(|raw| decode_histogram(de, &raw));
                        found = Some(Entry {
                            tag: h.tag().map(|t| t.as_str().to_string()),
                            start,
                            length,
                            histogram: hist.map_err(|r| self.error(r))?,
                        });
                    }
                }
            }
            if found.is_some() {
                return Ok(found);
            }
        }
    }
}

impl<R: std::io::BufRead> Iterator for Reader<R> {
    type Item = Result<Entry, super::ResultsError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().transpose()
    }
}

impl Log {
    /// All intervals added together.
    pub fn total(&self) -> Result<Histogram<u64>, String> {
        let mut h = super::histogram();
        for e in &self.entries {
            h.add(&e.histogram).map_err(|e| format!("an interval holds values out of range: {e:?}"))?;
        }
        Ok(h)
    }
}

/// Write an interval log of tagged histograms: `(tag, start offset, length, histogram)` each.
pub fn write_tagged<W: std::io::Write>(
    out: &mut W,
    base: std::time::SystemTime,
    comment: &str,
    entries: &[(String, Duration, Duration, &Histogram<u64>)],
) -> std::io::Result<()> {
    let mut log = IntervalWriter::begin(out, base, comment)?;
    for (tag, start, len, h) in entries {
        log.write(tag, *start, *len, h)?;
    }
    Ok(())
}

/// Write whole-run histograms by tag, each one interval covering `length` from `base`.
pub fn write_map<W: std::io::Write>(
    out: &mut W,
    base: std::time::SystemTime,
    comment: &str,
    hists: &std::collections::BTreeMap<String, Histogram<u64>>,
    length: Duration,
) -> std::io::Result<()> {
    let entries: Vec<(String, Duration, Duration, &Histogram<u64>)> =
        hists.iter().map(|(t, h)| (t.clone(), Duration::ZERO, length, h)).collect();
    write_tagged(out, base, comment, &entries)
}

/// The one writer of the interval-log format (every `.hlog` wabench writes: the per-second log of a
/// run, the whole-run and delivery logs, merged and imported logs), one histogram at a time so that a
/// writer need not hold every interval in memory. The header is a comment, StartTime and BaseTime
/// `base` and MaxValueDivisor 1000; each line is `Tag=<tag>,<start>,<length>,<max>,<histogram>`: the
/// offset from the base time and the length in seconds, the max in ms (µs / 1000) and the histogram
/// V2-deflate in base64.
pub struct IntervalWriter<W: std::io::Write> {
    out: W,
    ser: hdrhistogram::serialization::V2DeflateSerializer,
    buf: Vec<u8>,
}

impl<W: std::io::Write> IntervalWriter<W> {
    /// Write the header (comment, StartTime and BaseTime `base`) and return the writer.
    pub fn begin(mut out: W, base: std::time::SystemTime, comment: &str) -> std::io::Result<Self> {
        use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;
        let mut ser = hdrhistogram::serialization::V2DeflateSerializer::new();
        IntervalLogWriterBuilder::new()
            .add_comment(comment)
            .with_start_time(base)
            .with_base_time(base)
            .with_max_value_divisor(1000.0)
            .begin_log_with(&mut out, &mut ser)?;
        Ok(IntervalWriter { out, ser, buf: Vec::new() })
    }

    /// Append one interval: `start` is the offset from the base time.
    pub fn write(&mut self, tag: &str, start: Duration, length: Duration, h: &Histogram<u64>) -> std::io::Result<()> {
        use hdrhistogram::serialization::Serializer;
        use hdrhistogram::serialization::interval_log::Tag;
        if Tag::new(tag).is_none() {
            return Err(std::io::Error::other(format!("{tag:?} cannot be an interval log tag")));
        }
        self.buf.clear();
        self.ser
            .serialize(h, &mut self.buf)
            .map_err(|e| std::io::Error::other(format!("cannot serialize a histogram: {e:?}")))?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(&self.buf);
        writeln!(
            self.out,
            "Tag={tag},{:.3},{:.3},{:.3},{encoded}",
            start.as_secs_f64(),
            length.as_secs_f64(),
            h.max() as f64 / 1000.0
        )
    }

    /// The underlying writer (to flush and sync it).
    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_reader_gives_what_parse_gives() {
        let base = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut hs = Vec::new();
        for k in 0..5u64 {
            let mut h = crate::results::histogram();
            for v in 0..200 {
                h.record(100 + v * v * (k + 1)).unwrap();
            }
            hs.push(h);
        }
        let entries: Vec<(String, Duration, Duration, &Histogram<u64>)> = hs
            .iter()
            .enumerate()
            .map(|(i, h)| {
                (
                    if i == 2 { "other" } else { "t" }.to_string(),
                    Duration::from_secs(i as u64),
                    Duration::from_secs(1),
                    h,
                )
            })
            .collect();
        let mut bytes = Vec::new();
        write_tagged(&mut bytes, base, "a log", &entries).unwrap();
        // A killed writer's cut last line is ignored by both.
        bytes.extend_from_slice(b"Tag=t,5.000,1.000,0.1,HISTFAAAA");
        let whole = parse(&bytes).unwrap();
        let mut r = Reader::new(&bytes[..], Path::new("x.hlog"));
        let read: Vec<Entry> = r.by_ref().collect::<Result<_, _>>().unwrap();
        assert_eq!(r.base_time, whole.base_time);
        assert_eq!(read.len(), 5);
        for (a, b) in read.iter().zip(&whole.entries) {
            assert_eq!((&a.tag, a.start, a.length), (&b.tag, b.start, b.length));
            assert_eq!(a.histogram, b.histogram);
        }
        let bad = b"#[BaseTime: 1.000 (seconds since epoch)]\nTag=t,0.000,1.000,0.1,not-base64!\n";
        let e = Reader::new(&bad[..], Path::new("x.hlog")).next().unwrap().unwrap_err().to_string();
        assert!(e.contains("x.hlog") && e.contains("line 2"), "{e}");
    }

    #[test]
    fn the_streaming_writer_reads_back_like_the_batch_writer() {
        let base = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut a = crate::results::histogram();
        let mut b = crate::results::histogram();
        for v in [5u64, 70, 900, 12_000] {
            a.record(v).unwrap();
            b.record(v * 3).unwrap();
        }
        let mut w = IntervalWriter::begin(Vec::new(), base, "streamed").unwrap();
        w.write("t", Duration::ZERO, Duration::from_secs(1), &a).unwrap();
        w.write("t", Duration::from_secs(1), Duration::from_secs(1), &b).unwrap();
        assert!(w.write("has space", Duration::ZERO, Duration::from_secs(1), &a).is_err());
        let log = parse(&w.into_inner()).unwrap();
        assert_eq!(log.base_time, Some(Duration::from_secs(1_700_000_000)));
        assert_eq!(log.entries.len(), 2);
        assert_eq!(log.entries[1].start, Duration::from_secs(1));
        assert_eq!(log.entries[1].tag.as_deref(), Some("t"));
        let h = &log.entries[0].histogram;
        assert_eq!(
            (h.len(), h.min(), h.value_at_quantile(0.5), h.max()),
            (a.len(), a.min(), a.value_at_quantile(0.5), a.max())
        );
        assert_eq!(log.entries[1].histogram.max(), b.max());
        assert_eq!(log.total().unwrap().len(), 8);
    }
}
