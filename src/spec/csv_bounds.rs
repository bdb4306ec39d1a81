//! The bounds of a CSV input file (recipients, feeders): at most [`MAX_LINE`] bytes a line,
//! [`MAX_FIELD`] bytes a field and [`MAX_FILE`] bytes in all, and every quoted field closed. The file is
//! read through a bounded reader that stops at the first breach, so a 1 GB line costs one line's
//! worth of memory and time; the error names the line and the reason. It checks shape only: the
//! parsers (`feeder`, `recipients`) read the fields.

use std::io::Read;
use std::path::Path;

/// Longest line taken, in bytes (line break excluded).
pub const MAX_LINE: usize = 64 * 1024;
/// Longest field taken, in bytes (quotes excluded; a quoted field may span lines).
pub const MAX_FIELD: usize = 16 * 1024;
/// Largest file taken, in bytes.
pub const MAX_FILE: u64 = 1 << 30;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    RecordStart,
    FieldStart,
    Unquoted,
    Quoted,
    /// A `"` inside a quoted field: the field's end, or the first of a doubled `""`.
    QuoteInQuoted,
    Comment,
}

/// The CSV shape read so far, fed chunk by chunk.
#[derive(Debug)]
pub struct Scanner {
    comments: bool,
    state: State,
    /// The line being read (1-based), its length so far, the current field's length.
    line: u64,
    line_len: usize,
    field_len: usize,
    /// The line the open quoted field started on.
    quote_line: u64,
    total: u64,
}

impl Scanner {
    /// `comments`: lines starting with `#` are comments (recipients files).
    pub fn new(comments: bool) -> Scanner {
        Scanner { comments, state: State::RecordStart, line: 1, line_len: 0, field_len: 0, quote_line: 0, total: 0 }
    }

    /// Take the next bytes of the file; the error is "line N: why".
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), String> {
        let mut chunk = chunk;
        if self.total == 0 {
            chunk = chunk.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(chunk);
        }
        self.total += chunk.len() as u64;
        if self.total > MAX_FILE {
            return Err(format!("line {}: the file is larger than {} MiB, the most taken", self.line, MAX_FILE >> 20));
        }
        for &b in chunk {
            self.byte(b)?;
        }
        Ok(())
    }

    fn byte(&mut self, b: u8) -> Result<(), String> {
        use State::*;
        if b == b'\n' {
            self.line_len = 0;
        } else {
            self.line_len += 1;
            if self.line_len > MAX_LINE {
                return Err(format!("line {}: longer than {} KiB, the longest line taken", self.line, MAX_LINE >> 10));
            }
        }
        let mut grow = false;
        self.state = match (self.state, b) {
            (RecordStart, b'#') if self.comments => Comment,
            (Comment, b'\n') => RecordStart,
            (Comment, _) => Comment,
            (RecordStart | FieldStart, b'"') => {
                self.field_len = 0;
                self.quote_line = self.line;
                Quoted
            }
            (RecordStart | FieldStart | Unquoted | QuoteInQuoted, b',') => {
                self.field_len = 0;
                FieldStart
            }
            (_, b'\n' | b'\r') if self.state != Quoted => {
                self.field_len = 0;
                RecordStart
            }
            (RecordStart | FieldStart, _) => {
                self.field_len = 0;
                grow = true;
                Unquoted
            }
            (Quoted, b'"') => QuoteInQuoted,
            (QuoteInQuoted, b'"') | (Quoted, _) => {
                grow = true;
                Quoted
            }
            (QuoteInQuoted | Unquoted, _) => {
                grow = true;
                Unquoted
            }
        };
        if grow {
            self.field_len += 1;
            if self.field_len > MAX_FIELD {
                let at = if self.state == Quoted { self.quote_line } else { self.line };
                return Err(format!("line {at}: a field longer than {} KiB, the longest field taken", MAX_FIELD >> 10));
            }
        }
        if b == b'\n' {
            self.line += 1;
        }
        Ok(())
    }

    /// The end of the file: an open quoted field is an error naming the line it opened on.
    pub fn finish(&self) -> Result<(), String> {
        if self.state == State::Quoted {
            return Err(format!(
                "line {}: a quoted field is never closed (a '\"' opens it and no '\"' ends it before the end of the file)",
                self.quote_line
            ));
        }
        Ok(())
    }
}

/// Check text already read against the bounds.
pub fn check(bytes: &[u8], comments: bool) -> Result<(), String> {
    let mut s = Scanner::new(comments);
    s.feed(bytes)?;
    s.finish()
}

/// Read a CSV file within the bounds: stops at the first breach, whose error names the line.
pub fn read(path: &Path, comments: bool) -> Result<Vec<u8>, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut r = f.take(MAX_FILE + 1);
    let mut s = Scanner::new(comments);
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        s.feed(&buf[..n]).map_err(|e| format!("{}: {e}", path.display()))?;
        out.extend_from_slice(&buf[..n]);
    }
    s.finish().map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_csv_passes() {
        for text in [
            "a,b\n1,2\n",
            "a,b\r\n\"x,\r\ny\",\"say \"\"hi\"\"\"\r\n",
            "a\n5\" screen\n",
            "\u{feff}\"a\",b\n1,2",
            "",
            "a,b\n\"closed\"",
        ] {
            assert_eq!(check(text.as_bytes(), false), Ok(()), "{text:?}");
        }
        assert_eq!(check(b"# a \"comment\n1\n", true), Ok(()));
    }

    #[test]
    fn an_unclosed_quote_names_its_line() {
        let e = check(b"a,b\n1,2\n\"open,3\n4,5\n", false).unwrap_err();
        assert!(e.starts_with("line 3: a quoted field is never closed"), "{e}");
        let e = check(b"a\n\"x\"\"\n", false).unwrap_err();
        assert!(e.starts_with("line 2:"), "a doubled quote does not close: {e}");
        assert!(check(b"#,\"comment\n1\n", false).is_err(), "without comments '#' is a field");
        assert_eq!(check(b"#,\"comment\n1\n", true), Ok(()));
    }

    #[test]
    fn long_lines_and_fields_are_refused_where_they_are() {
        let mut t = b"a,b\n1,2\n".to_vec();
        for _ in 0..=MAX_LINE / 4 {
            t.extend_from_slice(b"xyz,");
        }
        let e = check(&t, false).unwrap_err();
        assert!(e.starts_with("line 3:") && e.contains("64 KiB"), "{e}");
        let mut t = b"a,b\n1,".to_vec();
        t.extend(std::iter::repeat_n(b'x', MAX_FIELD + 1));
        let e = check(&t, false).unwrap_err();
        assert!(e.starts_with("line 2:") && e.contains("field longer than 16 KiB"), "{e}");
        // A quoted field of many short lines is still one field.
        let mut t = b"a\n\"".to_vec();
        for _ in 0..(MAX_FIELD / 10 + 1) {
            t.extend_from_slice(b"123456789\n");
        }
        t.push(b'"');
        let e = check(&t, false).unwrap_err();
        assert!(e.starts_with("line 2:") && e.contains("field"), "{e}");
        let fits = format!("a\n{}\n", "x".repeat(MAX_FIELD));
        assert_eq!(check(fits.as_bytes(), false), Ok(()));
    }

    #[test]
    fn reading_stops_at_the_breach() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.csv");
        let f = std::fs::File::create(&p).unwrap();
        // A sparse 2 GiB file of zero bytes: one endless line, never read to its end.
        f.set_len(2 << 30).unwrap();
        let t = std::time::Instant::now();
        let e = read(&p, false).unwrap_err();
        assert!(e.contains("line 1:") && e.contains("longer than 16 KiB") && e.len() < 300, "{e}");
        assert!(t.elapsed() < std::time::Duration::from_secs(2), "{:?}", t.elapsed());
    }
}
