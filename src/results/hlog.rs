//! Reading HDR interval logs back (`<target>.hlog`): each entry's tag, start, length and histogram.
//! Used by `report` and `merge`; the per-second writer is `engine::aggregate`.

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

/// Parse an interval log from bytes. A truncated last line (a run killed mid-write) is ignored.
pub fn parse(bytes: &[u8]) -> Result<Log, String> {
    // Cut a trailing partial line so a log whose writer died mid-line still reads.
    let end = match bytes.iter().rposition(|b| *b == b'\n') {
        Some(i) => i + 1,
        None => 0,
    };
    let bytes = &bytes[..end];
    let mut de = Deserializer::new();
    let mut log = Log::default();
    for (i, e) in IntervalLogIterator::new(bytes).enumerate() {
        match e.map_err(|e| format!("entry {}: not an interval log line ({e:?})", i + 1))? {
            LogEntry::BaseTime(t) => log.base_time = Some(t),
            LogEntry::StartTime(t) => {
                log.base_time.get_or_insert(t);
            }
            LogEntry::Interval(h) => {
                let raw = decode_base64(h.encoded_histogram()).map_err(|e| format!("entry {}: {e}", i + 1))?;
                let hist: Histogram<u64> =
                    de.deserialize(&mut &raw[..]).map_err(|e| format!("entry {}: bad histogram ({e:?})", i + 1))?;
                log.entries.push(Entry {
                    tag: h.tag().map(|t| t.as_str().to_string()),
                    start: h.start_timestamp(),
                    length: h.duration(),
                    histogram: hist,
                });
            }
        }
    }
    Ok(log)
}

/// Read and parse a log file; errors name the file.
pub fn read(path: &Path) -> Result<Log, super::ResultsError> {
    let bytes = std::fs::read(path).map_err(|e| super::ResultsError::read(path, e))?;
    parse(&bytes).map_err(|e| super::ResultsError::format(path, e))
}

/// An interval log read one line at a time: each interval is parsed when asked for, so that reading a
/// log of any length holds one histogram at a time (a report or merge of an hour-long run does not hold
/// 3,600 of them). Entries, tags and base time are those [`parse`] gives; a truncated last line (a run
/// killed mid-write) ends the log. Errors name the file and the line.
pub struct Reader<R: std::io::BufRead> {
    src: R,
    path: std::path::PathBuf,
    line: Vec<u8>,
    number: usize,
    de: Deserializer,
    /// The log's base time (seconds since the epoch), once its header line was read.
    pub base_time: Option<Duration>,
}

impl Reader<std::io::BufReader<std::fs::File>> {
    /// Open a log file.
    pub fn open(path: &Path) -> Result<Self, super::ResultsError> {
        let f = std::fs::File::open(path).map_err(|e| super::ResultsError::read(path, e))?;
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
        loop {
            self.line.clear();
            let n = self.src.read_until(b'\n', &mut self.line).map_err(|e| super::ResultsError::read(&self.path, e))?;
            if n == 0 || self.line.last() != Some(&b'\n') {
                return Ok(None);
            }
            self.number += 1;
            let mut found = None;
            for e in IntervalLogIterator::new(&self.line[..]) {
                match e.map_err(|e| format!("not an interval log line ({e:?})")) {
                    Err(reason) => return Err(self.error(reason)),
                    Ok(LogEntry::BaseTime(t)) => self.base_time = Some(t),
                    Ok(LogEntry::StartTime(t)) => {
                        self.base_time.get_or_insert(t);
                    }
                    Ok(LogEntry::Interval(h)) => {
                        let raw = decode_base64(h.encoded_histogram());
                        let hist: Result<Histogram<u64>, String> = raw.and_then(|raw| {
                            self.de.deserialize(&mut &raw[..]).map_err(|e| format!("bad histogram ({e:?})"))
                        });
                        found = Some(Entry {
                            tag: h.tag().map(|t| t.as_str().to_string()),
                            start: h.start_timestamp(),
                            length: h.duration(),
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
    use hdrhistogram::serialization::V2DeflateSerializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
    let mut ser = V2DeflateSerializer::new();
    let mut log = IntervalLogWriterBuilder::new()
        .add_comment(comment)
        .with_start_time(base)
        .with_base_time(base)
        .with_max_value_divisor(1000.0)
        .begin_log_with(out, &mut ser)?;
    for (tag, start, len, h) in entries {
        let tag =
            Tag::new(tag).ok_or_else(|| std::io::Error::other(format!("{tag:?} cannot be an interval log tag")))?;
        log.write_histogram(*h, *start, *len, Some(tag))
            .map_err(|e| std::io::Error::other(format!("cannot write a histogram: {e:?}")))?;
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

/// An interval log written one histogram at a time, for writers that cannot hold every interval in
/// memory (an import of a file larger than memory). The lines are those of [`write_tagged`]: the same
/// header, each histogram V2-deflate in base64, the max column in ms (divisor 1000).
pub struct IntervalWriter<W: std::io::Write> {
    out: W,
    ser: hdrhistogram::serialization::V2DeflateSerializer,
    buf: Vec<u8>,
}

impl<W: std::io::Write> IntervalWriter<W> {
    /// Write the header (comment, StartTime and BaseTime `base`) and return the writer.
    pub fn begin(mut out: W, base: std::time::SystemTime, comment: &str) -> std::io::Result<Self> {
        write_tagged(&mut out, base, comment, &[])?;
        Ok(IntervalWriter { out, ser: hdrhistogram::serialization::V2DeflateSerializer::new(), buf: Vec::new() })
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
