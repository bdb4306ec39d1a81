//! Delivery records on disk, for runs whose status webhooks go to a standalone receiver (`wabench
//! receive`) instead of one inside the run: each shard writes the sends the API accepted, the
//! receiver writes the statuses it received, and the `replay` module (over this one) feeds both, in time
//! order, to the same `Tracker` a single process uses, so the figures come from one algorithm.
//!
//! Both files are CSV with a version line first, written streaming through a buffer (memory does
//! not grow with the run) and read back streaming:
//!
//! ```text
//! # wabench sends v1                      # wabench statuses v1
//! id,send_start_us,accepted_us            id,status,timestamp,error_code,received_us
//! wamid.HBgL…,1764440000000000,1764440000012000
//! #end,1764440012000000                   wamid.HBgL…,failed,1764440001,131026,1764440001003000
//! ```
//!
//! Times are microseconds since the Unix epoch (this machine's clock; shards and receiver on other
//! machines need synchronized clocks, as NTP gives). `timestamp` is the status's own (Unix seconds,
//! as the sender wrote it), `error_code` the first error's code of a `failed` status (empty
//! otherwise). A sends file ends with `#end,<µs>`: the time after which its run no longer waited for
//! statuses (statuses received later are left out, as a run with its own receiver leaves them out).
//! Fields holding `,` or `"`, or starting with `#`, are quoted as RFC 4180 says (so an id `#end` is
//! `"#end"`, never the end mark); line breaks inside an id are replaced by U+FFFD (no WhatsApp message
//! id has one). An unquoted line starting with `#` other than the two headers and a sends file's end
//! mark is an error naming the file and line, never skipped; so is a line longer than 64 KiB.

use std::fs::File;
use std::io::{self, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::model::{Status, StatusError, StatusKind};
use crate::results::delivery::IdentityCounts;

/// First line of a sends file.
pub const SENDS_HEADER: &str = "# wabench sends v1";
/// First line of a statuses file.
pub const STATUSES_HEADER: &str = "# wabench statuses v1";
const SENDS_COLUMNS: &str = "id,send_start_us,accepted_us";
const STATUSES_COLUMNS: &str = "id,status,timestamp,error_code,received_us";
const END_MARK: &str = "#end,";

/// Turns monotonic [`Instant`]s into microseconds since the Unix epoch, from one reading of both
/// clocks (so a wall-clock step during a run does not reorder its records).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    at: Instant,
    unix_us: i64,
}

impl Clock {
    /// The process's clock: read once, shared by every file the process writes (so their times
    /// compare exactly).
    pub fn process() -> Clock {
        static CLOCK: std::sync::OnceLock<Clock> = std::sync::OnceLock::new();
        *CLOCK.get_or_init(Clock::read)
    }

    fn read() -> Clock {
        let unix = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Clock { at: Instant::now(), unix_us: i64::try_from(unix.as_micros()).unwrap_or(i64::MAX) }
    }

    /// `t` in microseconds since the Unix epoch.
    pub fn unix_us(&self, t: Instant) -> i64 {
        let us = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        match t.checked_duration_since(self.at) {
            Some(d) => self.unix_us.saturating_add(us(d)),
            None => self.unix_us.saturating_sub(us(self.at.duration_since(t))),
        }
    }
}

fn push_field(line: &mut String, field: &str) {
    let clean = |c: char| if c == '\n' || c == '\r' { '\u{FFFD}' } else { c };
    // A leading `#` is quoted too: unquoted, the line would read as the file's own `#` lines.
    if field.contains([',', '"']) || field.starts_with('#') {
        line.push('"');
        for c in field.chars().map(clean) {
            if c == '"' {
                line.push('"');
            }
            line.push(c);
        }
        line.push('"');
    } else {
        line.extend(field.chars().map(clean));
    }
}

/// Splits one CSV line into fields (RFC 4180 quoting, no line breaks inside fields).
fn split_line(line: &str) -> Result<Vec<String>, &'static str> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("unterminated quoted field"),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => return Err("text after a quoted field"),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

/// A file written line by line from several threads. Lines gather in a buffer and reach the file
/// together ([`Lines::flush`], or when the buffer is full); a write that fails is undone (the file is
/// cut back to its last complete line, so a later write never follows half a line), counted, and
/// reported by that flush; the file is written to again afterwards (space may come back). The first
/// error is kept and reported when the file is closed.
#[derive(Debug)]
struct Lines {
    path: PathBuf,
    out: Mutex<Option<Out>>,
    first_error: Mutex<Option<String>>,
    failures: AtomicU64,
    records: AtomicU64,
}

/// Pending lines and the file they go to.
#[derive(Debug)]
struct Out {
    file: File,
    buf: Vec<u8>,
    /// Records in `buf`.
    pending: u64,
    /// Length of the file's complete lines.
    committed: u64,
    /// A write of this group failed (reported by the next flush).
    failed: Option<io::Error>,
    /// A failed write could not be undone: the file is not written to again.
    broken: bool,
}

/// Lines kept before they are written even without a flush.
const LINES_BUFFER: usize = 64 * 1024;

impl Lines {
    fn create(path: &Path, header: &str, columns: &str) -> io::Result<Lines> {
        let mut file = File::create(path)?;
        let head = format!("{header}\n{columns}\n");
        file.write_all(head.as_bytes())?;
        let out = Out {
            file,
            buf: Vec::with_capacity(LINES_BUFFER),
            pending: 0,
            committed: head.len() as u64,
            failed: None,
            broken: false,
        };
        Ok(Lines {
            path: path.to_path_buf(),
            out: Mutex::new(Some(out)),
            first_error: Mutex::new(None),
            failures: AtomicU64::new(0),
            records: AtomicU64::new(0),
        })
    }

    fn write(&self, line: &str, record: bool) {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let Some(o) = out.as_mut() else { return };
        o.buf.extend_from_slice(line.as_bytes());
        o.pending += u64::from(record);
        if o.buf.len() >= LINES_BUFFER
            && let Err(e) = self.push(o)
        {
            o.failed.get_or_insert(e);
        }
    }

    /// Writes the buffer; on failure cuts the file back to its complete lines.
    fn push(&self, o: &mut Out) -> io::Result<()> {
        if o.buf.is_empty() {
            return Ok(());
        }
        let written = o.file.write_all(&o.buf);
        let (len, pending) = (o.buf.len() as u64, o.pending);
        o.buf.clear();
        o.pending = 0;
        match written {
            Ok(()) => {
                o.committed += len;
                self.records.fetch_add(pending, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                self.first_error.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(|| e.to_string());
                let committed = o.committed;
                if let Err(cut) = o.file.set_len(committed).and_then(|_| o.file.seek(SeekFrom::Start(committed))) {
                    // The file cannot be put back to whole lines: nothing more is written to it.
                    o.broken = true;
                    return Err(io::Error::new(cut.kind(), format!("{e}; then cannot cut back a partial line: {cut}")));
                }
                Err(e)
            }
        }
    }

    /// Writes every pending line: `Ok` when all the lines given since the last flush are in the
    /// file (handed to the operating system).
    fn flush(&self) -> io::Result<()> {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let Some(o) = out.as_mut() else { return Err(io::Error::other("the file is closed")) };
        let pushed = self.push(o);
        let result = match o.failed.take() {
            Some(e) => Err(e),
            None => pushed,
        };
        if o.broken {
            *out = None;
        }
        result
    }

    /// Writes what is pending, syncs and closes; the number of records written, or the first error.
    fn close(&self) -> Result<u64, String> {
        let _ = self.flush();
        let out = self.out.lock().unwrap_or_else(|p| p.into_inner()).take();
        let synced = out.map_or(Ok(()), |o| o.file.sync_all());
        if let Err(e) = synced {
            self.first_error.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(|| e.to_string());
        }
        match self.first_error.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            None => Ok(self.records.load(Ordering::Relaxed)),
            Some(e) => Err(format!("{}: {e}", self.path.display())),
        }
    }

    /// Writes that failed, and the first failure.
    fn failures(&self) -> Option<(u64, String)> {
        let first = self.first_error.lock().unwrap_or_else(|p| p.into_inner()).clone()?;
        Some((self.failures.load(Ordering::Relaxed), format!("{}: {first}", self.path.display())))
    }
}

/// The sends of one target of a run: written by `Tracker::recording` for
/// every accepted message.
#[derive(Debug)]
pub struct SendLog {
    lines: Lines,
    clock: Clock,
}

impl SendLog {
    pub fn create(path: &Path) -> io::Result<SendLog> {
        Ok(SendLog { lines: Lines::create(path, SENDS_HEADER, SENDS_COLUMNS)?, clock: Clock::process() })
    }

    /// Records that `id` was accepted: its request started at `start`, its answer came at `accepted`.
    pub fn record(&self, id: &str, start: Instant, accepted: Instant) {
        let mut line = String::with_capacity(id.len() + 36);
        push_field(&mut line, id);
        let (s, a) = (self.clock.unix_us(start), self.clock.unix_us(accepted));
        line.push_str(&format!(",{s},{a}\n"));
        self.lines.write(&line, true);
    }

    /// The clock its times are written with.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Ends the file with `#end,<end>` and closes it; the number of sends recorded.
    pub fn close(&self, end: Instant) -> Result<u64, String> {
        self.lines.write(&format!("{END_MARK}{}\n", self.clock.unix_us(end)), false);
        self.lines.close()
    }
}

/// The statuses a standalone receiver got, with what else its webhooks carried (counted only).
#[derive(Debug)]
pub struct StatusLog {
    lines: Lines,
    clock: Clock,
    inbound: AtomicU64,
    identities: Mutex<IdentityCounts>,
}

impl StatusLog {
    pub fn create(path: &Path) -> io::Result<StatusLog> {
        Ok(StatusLog {
            lines: Lines::create(path, STATUSES_HEADER, STATUSES_COLUMNS)?,
            clock: Clock::process(),
            inbound: AtomicU64::new(0),
            identities: Mutex::new(IdentityCounts::default()),
        })
    }

    /// Records one status received at `received`.
    pub fn record(&self, s: &Status, received: Instant) {
        let mut line = String::with_capacity(s.id.len() + 48);
        push_field(&mut line, &s.id);
        line.push(',');
        push_field(&mut line, s.status.as_str());
        line.push(',');
        push_field(&mut line, &s.timestamp);
        line.push(',');
        if s.status == StatusKind::Failed
            && let Some(e) = s.errors.as_deref().and_then(|e| e.first())
        {
            line.push_str(&e.code.to_string());
        }
        line.push_str(&format!(",{}\n", self.clock.unix_us(received)));
        self.lines.write(&line, true);
    }

    pub fn add_inbound(&self, n: u64) {
        self.inbound.fetch_add(n, Ordering::Relaxed);
    }

    pub fn add_identities(&self, c: &IdentityCounts) {
        self.identities.lock().unwrap_or_else(|p| p.into_inner()).add(c);
    }

    /// Inbound user messages and user identities seen so far.
    pub fn seen(&self) -> (u64, IdentityCounts) {
        (self.inbound.load(Ordering::Relaxed), self.identities.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    /// Statuses written so far.
    pub fn records(&self) -> u64 {
        self.lines.records.load(Ordering::Relaxed)
    }

    /// Writes the records given since the last flush to the file: `Ok` when all of them are there
    /// (a failed write is undone and reported here, and the records it held are not counted).
    pub fn flush(&self) -> io::Result<()> {
        self.lines.flush()
    }

    /// Writes that failed (each undone), and the first failure with the file's name.
    pub fn failures(&self) -> Option<(u64, String)> {
        self.lines.failures()
    }

    /// Flushes, syncs and closes; the number of statuses recorded, or the first write error.
    pub fn close(&self) -> Result<u64, String> {
        self.lines.close()
    }
}

/// One line of a sends file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRecord {
    pub id: String,
    pub send_start_us: i64,
    pub accepted_us: i64,
}

/// One line of a statuses file.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusRecord {
    pub id: String,
    pub status: StatusKind,
    pub timestamp: String,
    pub error_code: Option<i64>,
    pub received_us: i64,
}

impl StatusRecord {
    /// The status as the tracker reads it (id, kind, first error code).
    pub(crate) fn status(&self) -> Status {
        let mut s = Status::new(self.id.clone(), self.status.clone(), 0, "");
        s.timestamp = self.timestamp.clone();
        if let Some(code) = self.error_code {
            s.errors = Some(vec![StatusError::new(code, "")]);
        }
        s
    }
}

/// Reads a records file line by line; errors name the file and line.
pub struct Reader<T> {
    path: PathBuf,
    input: BufReader<crate::results::bounded::Capped<File>>,
    buf: Vec<u8>,
    line: u64,
    parse: fn(&[String]) -> Result<T, String>,
    width: usize,
    /// `#end,<µs>` when the file had it.
    pub end_us: Option<i64>,
    /// Whether the file may end with `#end,<µs>` (a sends file).
    ends: bool,
}

fn number(s: &str, what: &str) -> Result<i64, String> {
    s.parse::<i64>().map_err(|_| format!("{what} {s:?} is not a whole number"))
}

impl<T> Reader<T> {
    fn open(
        path: &Path,
        header: &str,
        columns: &str,
        parse: fn(&[String]) -> Result<T, String>,
    ) -> Result<Self, String> {
        let file = crate::results::bounded::open(path, crate::results::bounded::MAX_RECORDS_BYTES)
            .map_err(|e| e.to_string())?;
        let input = BufReader::new(file);
        let mut r = Reader {
            path: path.to_path_buf(),
            input,
            buf: Vec::new(),
            line: 0,
            parse,
            width: 0,
            end_us: None,
            ends: header == SENDS_HEADER,
        };
        let first = r.read_line()?.unwrap_or_default();
        if first != header {
            let what = if first.starts_with("# wabench ") { "another version or kind of" } else { "not a" };
            return Err(format!(
                "{}:1: {what} wabench records file (expected {header:?}, found {first:?})",
                path.display()
            ));
        }
        let second = r.read_line()?.unwrap_or_default();
        if second != columns {
            return Err(format!("{}:2: expected the columns {columns:?}, found {second:?}", path.display()));
        }
        r.width = columns.split(',').count();
        Ok(r)
    }

    /// The next whole line, without its line break; `None` at the end. A last line without a line
    /// break is a record still being written (or cut off by a killed writer): it is left out.
    fn read_line(&mut self) -> Result<Option<String>, String> {
        use crate::results::bounded::{Line, MAX_CSV_LINE, is_cut_text, read_line};
        let got = read_line(&mut self.input, &mut self.buf, MAX_CSV_LINE)
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        self.line += 1;
        let at = |what: &str| format!("{}:{}: {what}", self.path.display(), self.line);
        match got {
            Line::Whole => {}
            Line::End if is_cut_text(&self.buf) => return Ok(None),
            Line::End => return Err(at("not text: a records file holds lines of text")),
            Line::TooLong => return Err(at(&format!("longer than {MAX_CSV_LINE} bytes: not a record"))),
        }
        let text = std::str::from_utf8(&self.buf).map_err(|_| at("not UTF-8 text"))?;
        Ok(Some(text.trim_end_matches(['\n', '\r']).to_string()))
    }
}

impl<T> Iterator for Reader<T> {
    type Item = Result<T, String>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let line = match self.read_line() {
                Ok(l) => l?,
                Err(e) => return Some(Err(e)),
            };
            let at = |e: String| format!("{}:{}: {e}", self.path.display(), self.line);
            if let Some(end) = line.strip_prefix(END_MARK).filter(|_| self.ends) {
                match number(end.trim(), "end time") {
                    Ok(us) => self.end_us = Some(us),
                    Err(e) => return Some(Err(at(e))),
                }
                continue;
            }
            if line.is_empty() {
                continue;
            }
            if line.starts_with('#') {
                return Some(Err(at(format!(
                    "{:?}: an unquoted line starting with '#' (an id starting with '#' is written quoted)",
                    line.chars().take(40).collect::<String>()
                ))));
            }
            let fields = match split_line(&line) {
                Ok(f) if f.len() == self.width => f,
                Ok(f) => return Some(Err(at(format!("{} fields, expected {}", f.len(), self.width)))),
                Err(e) => return Some(Err(at(e.to_string()))),
            };
            return Some((self.parse)(&fields).map_err(at));
        }
    }
}

fn parse_send(f: &[String]) -> Result<SendRecord, String> {
    Ok(SendRecord {
        id: f[0].clone(),
        send_start_us: number(&f[1], "send_start_us")?,
        accepted_us: number(&f[2], "accepted_us")?,
    })
}

fn parse_status(f: &[String]) -> Result<StatusRecord, String> {
    if f[1].is_empty() {
        return Err("empty status".into());
    }
    Ok(StatusRecord {
        id: f[0].clone(),
        status: StatusKind::from_wire(&f[1]),
        timestamp: f[2].clone(),
        error_code: if f[3].is_empty() { None } else { Some(number(&f[3], "error_code")?) },
        received_us: number(&f[4], "received_us")?,
    })
}

/// Opens a sends file.
pub fn read_sends(path: &Path) -> Result<Reader<SendRecord>, String> {
    Reader::open(path, SENDS_HEADER, SENDS_COLUMNS, parse_send)
}

/// Opens a statuses file.
pub fn read_statuses(path: &Path) -> Result<Reader<StatusRecord>, String> {
    Reader::open(path, STATUSES_HEADER, STATUSES_COLUMNS, parse_status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(id: &str, kind: StatusKind, code: Option<i64>) -> Status {
        let mut s = Status::new(id, kind, 1_700_000_000, "1555");
        if let Some(c) = code {
            s.errors = Some(vec![StatusError::new(c, "x")]);
        }
        s
    }

    #[test]
    fn fields_round_trip_through_quoting() {
        for id in ["wamid.HBgLMTU1NQ==", "a,b", "say \"hi\"", "", "\"", "x,\"y\",z"] {
            let mut line = String::new();
            push_field(&mut line, id);
            line.push_str(",2");
            assert_eq!(split_line(&line).unwrap(), vec![id.to_string(), "2".to_string()], "{id:?} as {line:?}");
        }
        let mut line = String::new();
        push_field(&mut line, "a\nb");
        assert_eq!(line, "a\u{FFFD}b");
        assert!(split_line("\"open,1").is_err());
        assert!(split_line("\"a\"b,1").is_err());
    }

    #[test]
    fn clock_converts_both_ways_from_one_reading() {
        let c = Clock::read();
        let later = c.at + Duration::from_millis(1500);
        assert_eq!(c.unix_us(later) - c.unix_us(c.at), 1_500_000);
        if let Some(earlier) = c.at.checked_sub(Duration::from_micros(7)) {
            assert_eq!(c.unix_us(c.at) - c.unix_us(earlier), 7);
        }
    }

    #[test]
    fn files_are_written_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let (sp, tp) = (dir.path().join("t.sends.csv"), dir.path().join("statuses.csv"));
        let sends = SendLog::create(&sp).unwrap();
        let t0 = sends.clock().at;
        sends.record("wamid.1", t0, t0 + Duration::from_millis(20));
        sends.record("odd,id", t0 + Duration::from_millis(1), t0 + Duration::from_millis(30));
        assert_eq!(sends.close(t0 + Duration::from_secs(5)).unwrap(), 2);
        let log = StatusLog::create(&tp).unwrap();
        log.record(&status("wamid.1", StatusKind::Failed, Some(131026)), t0 + Duration::from_millis(50));
        log.record(&status("odd,id", StatusKind::Other("deleted".into()), None), t0 + Duration::from_millis(60));
        log.add_inbound(3);
        assert_eq!(log.close().unwrap(), 2);
        assert_eq!(log.seen().0, 3);

        let mut r = read_sends(&sp).unwrap();
        let got: Vec<SendRecord> = r.by_ref().map(Result::unwrap).collect();
        assert_eq!(got[0].id, "wamid.1");
        assert_eq!(got[0].accepted_us - got[0].send_start_us, 20_000);
        assert_eq!(got[1].id, "odd,id");
        assert_eq!(r.end_us, Some(got[0].send_start_us + 5_000_000), "the end mark");
        let st: Vec<StatusRecord> = read_statuses(&tp).unwrap().map(Result::unwrap).collect();
        assert_eq!((st[0].status.clone(), st[0].error_code), (StatusKind::Failed, Some(131026)));
        assert_eq!(st[0].timestamp, "1700000000");
        assert_eq!(st[1].status, StatusKind::Other("deleted".into()));
        assert_eq!(st[0].received_us - got[0].send_start_us, 50_000, "one clock for both files in one process");
    }

    #[test]
    fn bad_files_are_refused_with_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.csv");
        std::fs::write(&p, "id,send_start_us,accepted_us\n").unwrap();
        let e = read_sends(&p).err().unwrap();
        assert!(e.contains("x.csv:1") && e.contains("not a wabench records file"), "{e}");
        std::fs::write(&p, format!("{STATUSES_HEADER}\n{STATUSES_COLUMNS}\n")).unwrap();
        assert!(read_sends(&p).err().unwrap().contains("another version or kind"));
        std::fs::write(&p, format!("{SENDS_HEADER}\n{SENDS_COLUMNS}\nw,1,2\nw,1\nw,x,2\n")).unwrap();
        let all: Vec<Result<SendRecord, String>> = read_sends(&p).unwrap().collect();
        assert!(all[0].is_ok());
        assert!(all[1].as_ref().unwrap_err().contains("x.csv:4: 2 fields, expected 3"), "{:?}", all[1]);
        assert!(all[2].as_ref().unwrap_err().contains("x.csv:5: send_start_us \"x\""), "{:?}", all[2]);
        // A last line still being written (no line break yet) is not read.
        std::fs::write(&p, format!("{SENDS_HEADER}\n{SENDS_COLUMNS}\nw,1,2\nw,1")).unwrap();
        assert_eq!(read_sends(&p).unwrap().map(Result::unwrap).count(), 1);
    }

    /// Ids starting with `#` (a `--no-signature` receiver records whatever it is sent) round-trip
    /// through both files; an unquoted `#` line (an older writer's) is an error naming its line, never
    /// skipped, and so is a line longer than the cap or bytes that are not text.
    #[test]
    fn ids_starting_with_a_hash_round_trip_and_stray_hash_lines_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let (sp, tp) = (dir.path().join("t.sends.csv"), dir.path().join("statuses.csv"));
        let sends = SendLog::create(&sp).unwrap();
        let t0 = sends.clock().at;
        for id in ["#end", "#end,1", "#x"] {
            sends.record(id, t0, t0 + Duration::from_millis(2));
        }
        sends.close(t0 + Duration::from_secs(1)).unwrap();
        let log = StatusLog::create(&tp).unwrap();
        log.record(&status("#end", StatusKind::Delivered, None), t0 + Duration::from_millis(5));
        log.record(&status("wamid.2", StatusKind::Delivered, None), t0 + Duration::from_millis(6));
        log.close().unwrap();
        let mut r = read_sends(&sp).unwrap();
        let ids: Vec<String> = r.by_ref().map(|s| s.unwrap().id).collect();
        assert_eq!(ids, ["#end", "#end,1", "#x"]);
        assert!(r.end_us.is_some(), "the end mark is still read");
        let ids: Vec<String> = read_statuses(&tp).unwrap().map(|s| s.unwrap().id).collect();
        assert_eq!(ids, ["#end", "wamid.2"]);

        let p = dir.path().join("old.csv");
        std::fs::write(&p, format!("{STATUSES_HEADER}\n{STATUSES_COLUMNS}\n#end,delivered,1,,5\nw,delivered,1,,6\n"))
            .unwrap();
        let all: Vec<Result<StatusRecord, String>> = read_statuses(&p).unwrap().collect();
        let e = all[0].as_ref().unwrap_err();
        assert!(e.contains("old.csv:3") && e.contains("starting with '#'"), "{e}");
        let long = "w".repeat(crate::results::bounded::MAX_CSV_LINE + 10);
        std::fs::write(&p, format!("{STATUSES_HEADER}\n{STATUSES_COLUMNS}\n{long},delivered,1,,5\n")).unwrap();
        let e = read_statuses(&p).unwrap().next().unwrap().unwrap_err();
        assert!(e.contains("old.csv:3") && e.contains("longer than"), "{e}");
        std::fs::write(&p, [format!("{STATUSES_HEADER}\n{STATUSES_COLUMNS}\n").as_bytes(), &[0u8; 100]].concat())
            .unwrap();
        let e = read_statuses(&p).unwrap().next().unwrap().unwrap_err();
        assert!(e.contains("old.csv:3") && e.contains("not text"), "{e}");
    }
}
