//! `timeline.csv`: one row per target and second (requests due, started, ok, errors, dropped and the
//! latency percentiles of the responses that ended in that second). One type, its writer and its reader.

use std::collections::BTreeMap;
use std::io::{self, Write};

use hdrhistogram::Histogram;

/// The header line.
pub const HEADER: &str = "target,second,requested,started,ok,errors,dropped,p50_us,p90_us,p99_us,max_us";

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

impl TimelineRow {
    /// Set the percentile columns from the second's latency histogram (left empty when it is empty).
    pub fn with_latency(mut self, h: Option<&Histogram<u64>>) -> TimelineRow {
        let h = h.filter(|h| !h.is_empty());
        let q = |p: f64| h.map(|h| h.value_at_quantile(p));
        self.p50_us = q(0.5);
        self.p90_us = q(0.9);
        self.p99_us = q(0.99);
        self.max_us = h.map(|h| h.max());
        self
    }

    /// Add another part's counts of the same second (`requested` adds when either has it).
    pub fn add_counts(&mut self, o: &TimelineRow) {
        self.requested = super::add_optional(self.requested, o.requested);
        self.started += o.started;
        self.ok += o.ok;
        self.errors += o.errors;
        self.dropped += o.dropped;
    }

    /// Write the row as a CSV line of `target`.
    pub fn write<W: Write + ?Sized>(&self, w: &mut W, target: &str) -> io::Result<()> {
        let o = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_default();
        writeln!(
            w,
            "{target},{},{},{},{},{},{},{},{},{},{}",
            self.second,
            o(self.requested),
            self.started,
            self.ok,
            self.errors,
            self.dropped,
            o(self.p50_us),
            o(self.p90_us),
            o(self.p99_us),
            o(self.max_us)
        )
    }
}

/// Write the header line.
pub fn write_header<W: Write + ?Sized>(w: &mut W) -> io::Result<()> {
    writeln!(w, "{HEADER}")
}

/// Parse a whole `timeline.csv`: rows by target, each in time order. Errors name the line and field.
pub fn parse(text: &str) -> Result<BTreeMap<String, Vec<TimelineRow>>, String> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, h)) if h.trim() == HEADER => {}
        Some((_, h)) => return Err(format!("line 1: unexpected header {h:?}")),
        None => return Err("empty file: expected a header line".into()),
    }
    let mut out: BTreeMap<String, Vec<TimelineRow>> = BTreeMap::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let n = i + 1;
        if line.len() > super::bounded::MAX_CSV_LINE {
            return Err(format!("line {n}: longer than {} bytes: not a timeline row", super::bounded::MAX_CSV_LINE));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_written_are_read_back() {
        let mut h = crate::results::histogram();
        for v in [100u64, 200, 300, 4000] {
            h.record(v).unwrap();
        }
        let a = TimelineRow {
            second: 3,
            requested: Some(10),
            started: 9,
            ok: 8,
            errors: 1,
            dropped: 1,
            ..Default::default()
        }
        .with_latency(Some(&h));
        let b = TimelineRow { second: 4, started: 2, ..Default::default() }.with_latency(None);
        let mut text = Vec::new();
        write_header(&mut text).unwrap();
        a.write(&mut text, "t,with comma").unwrap();
        b.write(&mut text, "t,with comma").unwrap();
        let rows = parse(std::str::from_utf8(&text).unwrap()).unwrap();
        assert_eq!(rows["t,with comma"], vec![a.clone(), b]);
        assert_eq!(a.max_us, Some(h.max()));
        let mut sum = a.clone();
        sum.add_counts(&a);
        assert_eq!((sum.requested, sum.started, sum.dropped), (Some(20), 18, 2));
    }

    #[test]
    fn timeline_parses_open_and_closed_rows() {
        let text = format!(
            "{}\ncloud,1,100,99,98,1,0,900,1200,2000,3000\ncloud,0,50,50,50,0,0,800,,,\nonprem,0,,20,0,20,0,,,,\n",
            HEADER
        );
        let t = parse(&text).unwrap();
        assert_eq!(t["cloud"].len(), 2);
        assert_eq!(t["cloud"][0].second, 0, "rows are sorted by second");
        assert_eq!(t["cloud"][1].p99_us, Some(2000));
        assert_eq!(t["onprem"][0].requested, None);
        assert_eq!(t["onprem"][0].errors, 20);
    }

    #[test]
    fn timeline_errors_are_located() {
        let h = HEADER;
        assert!(parse("a,b\n").unwrap_err().contains("line 1"));
        let e = parse(&format!("{h}\nx,0,1,2\n")).unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        let e = parse(&format!("{h}\nx,zero,,1,1,0,0,,,,\n")).unwrap_err();
        assert!(e.contains("line 2, field 2"), "{e}");
    }
}
