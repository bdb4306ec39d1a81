//! `<target>.exemplars.csv`: the slowest traced requests of each second (those that carried a
//! `traceparent`), with their trace id, when they were due, their latency, outcome and, for a
//! WhatsApp message, its id. One type, the bounded keeper that picks them, its writer and its reader.
//! It sends nothing and knows no engine: the engine fills it, `merge` joins the shards' files.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// The slowest traced requests kept for each second.
pub const PER_SECOND: usize = 3;

/// The header line.
pub const HEADER: &str = "second,intended_at,trace_id,seq,attempt,latency_us,outcome,http_status,wamid";

/// run.json's account of a target's tracing (`[tracing]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TracingResult {
    /// The fraction of the messages traced (not known of a run rebuilt from a killed run's files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<f64>,
    /// Attempts that carried a `traceparent`.
    pub traced: u64,
    /// The file of the slowest of each second, beside run.json.
    pub exemplars: String,
    /// With an OTLP collector: the spans it took …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spans_exported: Option<u64>,
    /// … and those dropped (the export queue was full, or the collector failed or refused them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spans_dropped: Option<u64>,
}

/// One traced request: a row of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exemplar {
    /// The second of the run its attempt ended in (as `timeline.csv` counts its latency).
    pub second: u64,
    /// When it was due (its latency is counted from here), UTC.
    pub intended_at: DateTime<Utc>,
    /// The W3C trace id it carried, 32 lowercase hex digits.
    pub trace_id: String,
    /// The message number in the whole run, and the attempt (1 = first).
    pub seq: u64,
    pub attempt: u32,
    /// From the intended start to the end of the answer (or of the wait for one), µs.
    pub latency_us: u64,
    /// The outcome key ("ok", "api_131056", "timeout", …).
    pub outcome: String,
    /// The answer's HTTP status, when one came.
    pub http_status: Option<u16>,
    /// A WhatsApp message accepted: the message id (wamid) of the answer.
    pub wamid: Option<String>,
}

/// The slowest [`PER_SECOND`] traced requests of every second, and how many were traced in all.
/// Memory grows with the run's seconds, never with its requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Slowest {
    by_second: BTreeMap<u64, Vec<Exemplar>>,
    /// Traced attempts offered (kept or not).
    pub traced: u64,
}

impl Slowest {
    /// A traced attempt ended: kept when it is among the slowest of its second.
    pub fn offer(&mut self, e: Exemplar) {
        self.traced += 1;
        self.keep(e);
    }

    fn keep(&mut self, e: Exemplar) {
        let v = self.by_second.entry(e.second).or_default();
        let at = v.partition_point(|k| k.latency_us >= e.latency_us);
        if at < PER_SECOND {
            v.insert(at, e);
            v.truncate(PER_SECOND);
        }
    }

    /// Add another keeper's (another thread's or shard's) seconds, `shift` seconds later.
    pub fn merge(&mut self, other: &Slowest, shift: u64) {
        self.traced += other.traced;
        for e in other.all() {
            self.keep(Exemplar { second: e.second + shift, ..e.clone() });
        }
    }

    /// Every kept request, by second, slowest first within one.
    pub fn all(&self) -> impl Iterator<Item = &Exemplar> {
        self.by_second.values().flatten()
    }

    pub fn is_empty(&self) -> bool {
        self.by_second.is_empty()
    }

    /// The `n` slowest of the whole run, slowest first.
    pub fn slowest(&self, n: usize) -> Vec<&Exemplar> {
        let mut v: Vec<&Exemplar> = self.all().collect();
        v.sort_by(|a, b| b.latency_us.cmp(&a.latency_us).then(a.second.cmp(&b.second)));
        v.truncate(n);
        v
    }

    /// The file: the header, then a row per kept request.
    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let mut rows = Rows::new(out)?;
        rows.push(self)
    }

    /// Read a file written by [`Slowest::write`] (`traced` is then the rows read).
    pub fn read(path: &Path) -> Result<Slowest, String> {
        let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Slowest::read_from(file, path)
    }

    /// Read the file's text from `input` (errors name `path`).
    pub fn read_from(input: impl io::Read, path: &Path) -> Result<Slowest, String> {
        let shown = path.display();
        let mut r = csv::Reader::from_reader(input);
        let mut s = Slowest::default();
        for (i, row) in r.records().enumerate() {
            let row = row.map_err(|e| format!("{shown}: {e}"))?;
            let e = parse_row(&row).map_err(|e| format!("{shown}, row {}: {e}", i + 2))?;
            s.offer(e);
        }
        Ok(s)
    }
}

/// The file written as the run goes: the header first, then each second's rows as that second is
/// merged, so that a run killed midway leaves the slowest traced requests up to its last second.
pub struct Rows<W: Write> {
    csv: csv::Writer<W>,
}

impl<W: Write> Rows<W> {
    /// A file that begins with its header.
    pub fn new(out: W) -> io::Result<Rows<W>> {
        let mut csv = csv::Writer::from_writer(out);
        csv.write_record(HEADER.split(','))?;
        csv.flush()?;
        Ok(Rows { csv })
    }

    /// The rows of `kept` (the seconds in order, slowest first within one), written through.
    pub fn push(&mut self, kept: &Slowest) -> io::Result<()> {
        for e in kept.all() {
            self.csv.write_record([
                e.second.to_string(),
                e.intended_at.to_rfc3339_opts(SecondsFormat::Millis, true),
                e.trace_id.clone(),
                e.seq.to_string(),
                e.attempt.to_string(),
                e.latency_us.to_string(),
                e.outcome.clone(),
                e.http_status.map(|s| s.to_string()).unwrap_or_default(),
                e.wamid.clone().unwrap_or_default(),
            ])?;
        }
        self.csv.flush()
    }
}

fn parse_row(row: &csv::StringRecord) -> Result<Exemplar, String> {
    let col = |i: usize| row.get(i).ok_or_else(|| format!("expected {} columns", HEADER.split(',').count()));
    let num = |i: usize, what: &str| col(i)?.parse::<u64>().map_err(|_| format!("{what} is not a number"));
    let opt = |i: usize| col(i).map(|s| (!s.is_empty()).then(|| s.to_string()));
    let trace_id = col(2)?.to_string();
    if trace_id.len() != 32 || !trace_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("trace_id {trace_id:?} is not 32 hex digits"));
    }
    Ok(Exemplar {
        second: num(0, "second")?,
        intended_at: DateTime::parse_from_rfc3339(col(1)?)
            .map_err(|e| format!("intended_at: {e}"))?
            .with_timezone(&Utc),
        trace_id,
        seq: num(3, "seq")?,
        attempt: u32::try_from(num(4, "attempt")?).map_err(|_| "attempt is too large".to_string())?,
        latency_us: num(5, "latency_us")?,
        outcome: col(6)?.to_string(),
        http_status: opt(7)?.map(|s| s.parse::<u16>().map_err(|_| "http_status is not a status")).transpose()?,
        wamid: opt(8)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(second: u64, latency_us: u64, seq: u64) -> Exemplar {
        Exemplar {
            second,
            intended_at: DateTime::from_timestamp(1_800_000_000 + second as i64, 0).unwrap(),
            trace_id: format!("{seq:032x}"),
            seq,
            attempt: 1,
            latency_us,
            outcome: "ok".into(),
            http_status: Some(200),
            wamid: Some(format!("wamid.{seq}")),
        }
    }

    #[test]
    fn each_second_keeps_its_slowest_three() {
        let mut s = Slowest::default();
        for (i, l) in [5, 50, 7, 900, 3, 60].into_iter().enumerate() {
            s.offer(ex(0, l, i as u64));
        }
        s.offer(ex(1, 1, 99));
        let kept: Vec<(u64, u64)> = s.all().map(|e| (e.second, e.latency_us)).collect();
        assert_eq!(kept, vec![(0, 900), (0, 60), (0, 50), (1, 1)]);
        assert_eq!(s.traced, 7);
        assert_eq!(s.slowest(2).iter().map(|e| e.latency_us).collect::<Vec<_>>(), vec![900, 60]);
    }

    #[test]
    fn shards_merge_into_the_slowest_of_both_on_the_merged_seconds() {
        let (mut a, mut b) = (Slowest::default(), Slowest::default());
        for (l, seq) in [(10, 0), (20, 1), (30, 2)] {
            a.offer(ex(2, l, seq));
        }
        // Shard b started one second later: its second 1 is the merged second 2.
        for (l, seq) in [(25, 3), (5, 4)] {
            b.offer(ex(1, l, seq));
        }
        a.merge(&b, 1);
        let kept: Vec<(u64, u64)> = a.all().map(|e| (e.second, e.latency_us)).collect();
        assert_eq!(kept, vec![(2, 30), (2, 25), (2, 20)]);
        assert_eq!(a.traced, 5);
    }

    #[test]
    fn the_file_reads_back_as_written() {
        let mut s = Slowest::default();
        s.offer(ex(0, 1234, 7));
        s.offer(Exemplar { http_status: None, wamid: None, outcome: "timeout".into(), ..ex(3, 10_000_000, 8) });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.exemplars.csv");
        let mut buf = Vec::new();
        s.write(&mut buf).unwrap();
        std::fs::write(&path, &buf).unwrap();
        assert!(String::from_utf8_lossy(&buf).starts_with(HEADER));
        assert_eq!(Slowest::read(&path).unwrap(), s);
    }
}
