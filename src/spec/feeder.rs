//! Data feeders: rows of a CSV file (a header row naming the columns, then one row per record) that
//! per-request templates draw values from (`{{column}}`, see `spec::template`), in a chosen order.
//!
//! ```toml
//! [[targets]]
//! name = "orders"
//! kind = "http"
//! url = "http://127.0.0.1:8080/users/{{user_id}}?n={{seq}}"
//! feeder = { file = "users.csv", order = "sequential" }
//! ```
//!
//! The file is read once at load with a real CSV parser: quoted fields may hold commas, line breaks
//! and doubled quotes (`""`), a UTF-8 byte-order mark is skipped, and every row must have as many
//! fields as the header (a bad row is reported with its line). The file is read within
//! [`super::csv_bounds`]: a line over 64 KiB, a field over 16 KiB or a quote never closed is an error
//! naming its line. The row of request `seq` is a pure
//! function of `seq` and the run's seed, so the load threads share the feeder without locks, a retry
//! re-sends the same row, and a run with the same seed sends the same rows.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A target's `feeder` table.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeederSpec {
    /// CSV file (relative to the profile's folder) whose first row names the columns.
    pub file: PathBuf,
    /// Which row each request takes: `sequential` (row `seq` modulo the row count: in file order,
    /// wrapping round), `random` (a row drawn per request from the run's seed) or `shuffle-once` (the
    /// rows shuffled once from the run's seed, then taken in that order, wrapping round).
    #[serde(default)]
    pub order: FeederOrder,
}

/// The order in which a feeder's rows are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FeederOrder {
    #[default]
    Sequential,
    Random,
    ShuffleOnce,
}

/// Rows read from a CSV file: the header's column names and the rows' fields, stored in one string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    columns: Vec<String>,
    /// Every field's text, one after the other.
    data: String,
    /// End offset in `data` of each field, row after row.
    ends: Vec<usize>,
    /// Index in `ends` of each row's first field (rows may differ in length only in a recipients
    /// file, which is read leniently).
    starts: Vec<usize>,
    /// The line each row starts on (1-based, as the file shows it).
    lines: Vec<u64>,
}

impl Table {
    /// A table with these column names and no rows yet.
    pub fn with_columns(columns: Vec<String>) -> Table {
        Table { columns, ..Table::default() }
    }

    /// The column names, in file order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The index of a column by name.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// Number of rows (the header is not one).
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Add a row (its fields in column order) that starts on `line`.
    pub fn push<'a>(&mut self, line: u64, fields: impl IntoIterator<Item = &'a str>) {
        self.starts.push(self.ends.len());
        self.lines.push(line);
        for f in fields {
            self.data.push_str(f);
            self.ends.push(self.data.len());
        }
    }

    /// How many fields row `row` has.
    pub fn width(&self, row: usize) -> usize {
        let end = self.starts.get(row + 1).copied().unwrap_or(self.ends.len());
        end - self.starts[row]
    }

    /// The line row `row` starts on.
    pub fn line(&self, row: usize) -> u64 {
        self.lines[row]
    }

    /// Field `col` of row `row`; empty when the row is shorter (checked at load where it matters).
    pub fn field(&self, row: usize, col: usize) -> &str {
        if col >= self.width(row) {
            return "";
        }
        let i = self.starts[row] + col;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.data[start..self.ends[i]]
    }

    /// Parse a feeder file: a header row naming the columns (names trimmed, non-empty, unique), then
    /// at least one row, each with exactly as many fields as the header. Bad rows are all reported
    /// (the first 10), each with its line; text beyond the bounds of [`super::csv_bounds`] is refused.
    pub fn parse(bytes: &[u8]) -> Result<Table, String> {
        super::csv_bounds::check(bytes, false)?;
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err("is empty: a feeder needs a header row naming the columns and at least one row".into());
        }
        let mut rdr = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(bytes);
        let mut lines = Lines::new(bytes, false);
        let header = rdr.headers().map_err(|e| describe(&e, &mut lines))?.clone();
        let mut columns = Vec::with_capacity(header.len());
        for (i, name) in header.iter().enumerate() {
            let name = name.trim();
            if name.is_empty() {
                return Err(format!("line 1: column {} of the header row has no name", i + 1));
            }
            if name.contains(['{', '}']) {
                return Err(format!("line 1: column name {name:?} holds a brace, which a placeholder cannot name"));
            }
            if columns.iter().any(|c| c == name) {
                return Err(format!("line 1: two columns are named {name:?}"));
            }
            columns.push(name.to_string());
        }
        let mut table = Table::with_columns(columns);
        let mut bad = Vec::new();
        let mut record = csv::StringRecord::new();
        loop {
            match rdr.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {
                    let line = record.position().map_or(0, |p| lines.line_of(p.byte()));
                    table.push(line, record.iter());
                }
                Err(e) => {
                    bad.push(describe(&e, &mut lines));
                    // An I/O error cannot happen on a slice, but it would repeat forever.
                    if matches!(e.kind(), csv::ErrorKind::Io(_)) || bad.len() > 1000 {
                        break;
                    }
                }
            }
        }
        if !bad.is_empty() {
            return Err(join_bad(bad));
        }
        if table.is_empty() {
            return Err("holds a header row but no rows".into());
        }
        if table.len() > u32::MAX as usize {
            return Err(format!("holds {} rows, more than the {} a feeder takes", table.len(), u32::MAX));
        }
        Ok(table)
    }
}

/// Line numbers of records by their byte offset. (The csv crate's own line count is off after a
/// CRLF line end, and its record offsets may point at the line end before a record.)
pub(crate) struct Lines<'a> {
    bytes: &'a [u8],
    /// Offset counted up to, and the line it is on.
    at: usize,
    line: u64,
    /// Lines starting with `#` are comments (recipients files).
    comments: bool,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(bytes: &'a [u8], comments: bool) -> Lines<'a> {
        Lines { bytes, at: 0, line: 1, comments }
    }

    /// The line (1-based) of the record the parser places at `byte`: the first character at or after
    /// it that is not a line end (nor in a comment line). Offsets must not go backwards.
    pub(crate) fn line_of(&mut self, byte: u64) -> u64 {
        let b = self.bytes;
        let mut start = (byte as usize).min(b.len());
        loop {
            while start < b.len() && matches!(b[start], b'\r' | b'\n') {
                start += 1;
            }
            if !(self.comments && start < b.len() && b[start] == b'#') {
                break;
            }
            start = b[start..].iter().position(|&c| c == b'\n').map_or(b.len(), |i| start + i);
        }
        if start >= self.at {
            self.line += self.bytes[self.at..start].iter().filter(|&&b| b == b'\n').count() as u64;
            self.at = start;
        }
        self.line
    }
}

/// A CSV error as "line N: what is wrong".
pub(crate) fn describe(e: &csv::Error, lines: &mut Lines<'_>) -> String {
    let line = e.position().map(|p| lines.line_of(p.byte()));
    let what = match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("has {len} fields, but the header row has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "is not valid UTF-8".to_string(),
        _ => e.to_string(),
    };
    match line {
        Some(l) => format!("line {l}: {what}"),
        None => what,
    }
}

/// Up to 10 problems joined, with a count of the rest.
pub(crate) fn join_bad(mut bad: Vec<String>) -> String {
    let more = if bad.len() > 10 { format!(" (and {} more)", bad.len() - 10) } else { String::new() };
    bad.truncate(10);
    format!("{}{more}", bad.join("; "))
}

/// A 64-bit mix of seed and number (SplitMix64's finaliser): cheap, stateless, well spread.
pub fn mix64(seed: u64, n: u64) -> u64 {
    let mut z = seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Salts that keep the feeder's draws apart from the other uses of the run's seed.
const RANDOM_SALT: u64 = 0xFEED_0000_0000_0001;
const SHUFFLE_SALT: u64 = 0xFEED_0000_0000_0002;

/// A feeder ready for a run: its table, and the order of its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Feeder {
    /// The file as the profile names it (for messages).
    pub file: PathBuf,
    table: Table,
    order: FeederOrder,
    seed: u64,
    /// `shuffle-once`: the row of each position.
    perm: Vec<u32>,
}

impl Feeder {
    /// Read the feeder of `spec`; `base` is the profile's folder, `seed` the run's. The error is the
    /// reason, starting with the file's path.
    pub fn load(spec: &FeederSpec, base: &Path, seed: u64) -> Result<Feeder, String> {
        let path = base.join(&spec.file);
        let bytes = super::csv_bounds::read(&path, false)?;
        let table = Table::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Feeder::new(spec.file.clone(), table, spec.order, seed))
    }

    /// A feeder over rows already read.
    pub fn new(file: PathBuf, table: Table, order: FeederOrder, seed: u64) -> Feeder {
        let perm = match order {
            FeederOrder::ShuffleOnce => shuffled(table.len(), seed ^ SHUFFLE_SALT),
            _ => Vec::new(),
        };
        Feeder { file, table, order, seed, perm }
    }

    pub fn table(&self) -> &Table {
        &self.table
    }

    pub fn order(&self) -> FeederOrder {
        self.order
    }

    /// The row request `seq` takes.
    pub fn row(&self, seq: u64) -> usize {
        let n = self.table.len() as u64;
        match self.order {
            FeederOrder::Sequential => (seq % n) as usize,
            FeederOrder::Random => (mix64(self.seed ^ RANDOM_SALT, seq) % n) as usize,
            FeederOrder::ShuffleOnce => self.perm[(seq % n) as usize] as usize,
        }
    }
}

/// A permutation of `0..n` (Fisher-Yates, drawing from `seed`).
fn shuffled(n: usize, seed: u64) -> Vec<u32> {
    let mut p: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        let j = (mix64(seed, i as u64) % (i as u64 + 1)) as usize;
        p.swap(i, j);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(t: &Table, row: usize) -> Vec<&str> {
        (0..t.width(row)).map(|c| t.field(row, c)).collect()
    }

    #[test]
    fn quoted_fields_hold_commas_line_breaks_and_quotes() {
        let text = "name,note,id\n\"Doe, Jane\",\"two\nlines\",1\n\"say \"\"hi\"\"\",,2\nplain,x,3\n";
        let t = Table::parse(text.as_bytes()).unwrap();
        assert_eq!(t.columns(), ["name", "note", "id"]);
        assert_eq!(t.len(), 3);
        assert_eq!(fields(&t, 0), ["Doe, Jane", "two\nlines", "1"]);
        assert_eq!(fields(&t, 1), ["say \"hi\"", "", "2"]);
        assert_eq!(fields(&t, 2), ["plain", "x", "3"]);
        // The row after the quoted line break starts on line 4.
        assert_eq!((t.line(0), t.line(1), t.line(2)), (2, 4, 5));
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_column() {
        let t = Table::parse(b"\xEF\xBB\xBFphone,name\r\n15551230001,Ann\r\n").unwrap();
        assert_eq!(t.columns(), ["phone", "name"]);
        assert_eq!(t.column("phone"), Some(0));
        assert_eq!(fields(&t, 0), ["15551230001", "Ann"]);
        assert_eq!(t.line(0), 2);
    }

    #[test]
    fn lines_are_counted_right_after_crlf_blank_lines_and_quoted_breaks() {
        let text = "a,b\r\n1,2\r\n\r\n\"x\r\ny\",3\r\n\n4,5\r\n";
        let t = Table::parse(text.as_bytes()).unwrap();
        assert_eq!((0..t.len()).map(|r| t.line(r)).collect::<Vec<_>>(), [2, 4, 7]);
        let e = Table::parse(b"a,b\r\n1,2\r\n\r\n3\r\n4,5\r\n6\r\n").unwrap_err();
        assert!(e.starts_with("line 4: has 1 fields") && e.contains("; line 6: has 1 fields"), "{e}");
    }

    #[test]
    fn bad_rows_are_reported_with_their_lines() {
        let e = Table::parse(b"a,b\n1,2\n3\n4,5\n6,7,8\n").unwrap_err();
        assert!(e.contains("line 3: has 1 fields, but the header row has 2"), "{e}");
        assert!(e.contains("line 5: has 3 fields"), "{e}");
        assert!(!e.contains("line 4"), "{e}");
        let e = Table::parse(b"a,b\n1,\xff\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("UTF-8"), "{e}");
    }

    #[test]
    fn empty_files_and_bad_headers_are_errors() {
        assert!(Table::parse(b"").unwrap_err().contains("is empty"));
        assert!(Table::parse(b"\xEF\xBB\xBF\n\n").unwrap_err().contains("is empty"));
        assert!(Table::parse(b"a,b\n").unwrap_err().contains("no rows"));
        assert!(Table::parse(b"a,,b\n1,2,3\n").unwrap_err().contains("column 2 of the header row has no name"));
        assert!(Table::parse(b"a,a\n1,2\n").unwrap_err().contains("two columns are named \"a\""));
    }

    fn feeder(rows: usize, order: FeederOrder, seed: u64) -> Feeder {
        let mut t = Table::with_columns(vec!["i".into()]);
        for i in 0..rows {
            t.push(i as u64 + 2, [i.to_string().as_str()]);
        }
        Feeder::new("f.csv".into(), t, order, seed)
    }

    #[test]
    fn sequential_wraps_round() {
        let f = feeder(3, FeederOrder::Sequential, 1);
        assert_eq!((0..7).map(|s| f.row(s)).collect::<Vec<_>>(), [0, 1, 2, 0, 1, 2, 0]);
    }

    #[test]
    fn random_is_reproducible_with_the_seed() {
        let a = feeder(50, FeederOrder::Random, 7);
        let b = feeder(50, FeederOrder::Random, 7);
        let c = feeder(50, FeederOrder::Random, 8);
        let rows = |f: &Feeder| (0..500).map(|s| f.row(s)).collect::<Vec<_>>();
        assert_eq!(rows(&a), rows(&b));
        assert_ne!(rows(&a), rows(&c));
        let seen: std::collections::BTreeSet<_> = rows(&a).into_iter().collect();
        assert!(seen.len() > 40 && seen.iter().all(|&r| r < 50), "{seen:?}");
        assert_ne!(rows(&a)[..50], (0..50).collect::<Vec<_>>()[..], "not in file order");
    }

    #[test]
    fn shuffle_once_is_a_seeded_permutation_repeated() {
        let f = feeder(20, FeederOrder::ShuffleOnce, 3);
        let first: Vec<_> = (0..20).map(|s| f.row(s)).collect();
        let mut sorted = first.clone();
        sorted.sort();
        assert_eq!(sorted, (0..20).collect::<Vec<_>>(), "every row once");
        assert_ne!(first, sorted, "shuffled");
        assert_eq!((20..40).map(|s| f.row(s)).collect::<Vec<_>>(), first, "the same order each round");
        let again = feeder(20, FeederOrder::ShuffleOnce, 3);
        assert!((0..20).all(|s| again.row(s) == f.row(s)));
        let other = feeder(20, FeederOrder::ShuffleOnce, 4);
        assert!((0..20).any(|s| other.row(s) != f.row(s)));
    }
}
