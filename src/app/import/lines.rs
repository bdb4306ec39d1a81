//! Reading a source file line by line in constant memory, with line numbers for errors, and splitting
//! CSV records (RFC 4180 quoting, a quoted field may span lines) into reused buffers.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::ImportError;

/// A file read one line (or one CSV record) at a time.
pub struct Lines {
    path: PathBuf,
    reader: BufReader<indicatif::ProgressBarIter<File>>,
    /// The bytes read so far, on a terminal.
    bar: indicatif::ProgressBar,
    /// The number of the last line read (1-based).
    line: u64,
    buf: String,
    /// The last line read had no line end: the file ends there (cut short if it does not parse).
    pub unterminated: bool,
}

/// Longest line accepted: a line past it is not a text results file.
const MAX_LINE: usize = 16 << 20;

impl Drop for Lines {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

impl Lines {
    pub fn open(path: &Path) -> Result<Lines, ImportError> {
        let mut f = File::open(path).map_err(|e| ImportError::file(path, format!("cannot open: {e}")))?;
        let mut magic = [0u8; 2];
        let n = f.read(&mut magic).map_err(|e| ImportError::file(path, format!("cannot read: {e}")))?;
        if n == 2 && magic == [0x1f, 0x8b] {
            return Err(ImportError::file(path, "gzip-compressed: decompress it first (gunzip -k)"));
        }
        let f = File::open(path).map_err(|e| ImportError::file(path, format!("cannot open: {e}")))?;
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        let bar = crate::app::progress::bar(&format!("import {name}"), len, crate::app::progress::Unit::Bytes);
        Ok(Lines {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 16, bar.wrap_read(f)),
            bar,
            line: 0,
            buf: String::new(),
            unterminated: false,
        })
    }

    /// The number of the last line read.
    pub fn number(&self) -> u64 {
        self.line
    }

    /// An error at the current line.
    pub fn error(&self, reason: impl Into<String>) -> ImportError {
        ImportError::at(&self.path, self.line, reason)
    }

    /// An error at the current line, saying the file was cut short when its last line has no line end.
    pub fn bad_line(&self, reason: impl Into<String>) -> ImportError {
        let reason = reason.into();
        if self.unterminated {
            self.error(format!("{reason} (the file ends in the middle of this line: truncated?)"))
        } else {
            self.error(reason)
        }
    }

    /// The next line without its line end; `None` at the end of the file.
    pub fn next_line(&mut self) -> Result<Option<&str>, ImportError> {
        self.buf.clear();
        if !self.append_line()? {
            return Ok(None);
        }
        Ok(Some(self.buf.as_str()))
    }

    /// Append the next line to `buf` (without its line end); false at the end of the file.
    fn append_line(&mut self) -> Result<bool, ImportError> {
        let start = self.buf.len();
        let n = (&mut self.reader)
            .take(MAX_LINE as u64 + 1)
            .read_line(&mut self.buf)
            .map_err(|e| ImportError::at(&self.path, self.line + 1, format!("cannot read: {e}")))?;
        if n == 0 {
            return Ok(false);
        }
        self.line += 1;
        if n > MAX_LINE {
            return Err(self.error(format!("a line longer than {} MiB: not a text results file", MAX_LINE >> 20)));
        }
        self.unterminated = !self.buf.ends_with('\n');
        while self.buf.len() > start && (self.buf.ends_with('\n') || self.buf.ends_with('\r')) {
            self.buf.pop();
        }
        Ok(true)
    }

    /// The next CSV record split into `fields` (reusing their buffers); `None` at the end of the file.
    /// A record whose quoted field is still open at the end of a line continues on the next line.
    pub fn next_record(&mut self, delim: u8, fields: &mut Vec<String>) -> Result<Option<usize>, ImportError> {
        self.buf.clear();
        if !self.append_line()? {
            return Ok(None);
        }
        while quotes_open(&self.buf) {
            self.buf.push('\n');
            if !self.append_line()? {
                return Err(self.error("a quoted field is not closed before the end of the file (truncated?)"));
            }
        }
        let n = split(&self.buf, delim, fields).map_err(|e| self.bad_line(e))?;
        Ok(Some(n))
    }
}

/// An odd number of quote characters: a quoted field is still open.
fn quotes_open(s: &str) -> bool {
    s.bytes().filter(|b| *b == b'"').count() % 2 == 1
}

/// Split one CSV record into `fields` (reused; only the first `n` returned are valid).
pub fn split(record: &str, delim: u8, fields: &mut Vec<String>) -> Result<usize, String> {
    let bytes = record.as_bytes();
    let mut n = 0;
    let mut i = 0;
    loop {
        if fields.len() <= n {
            fields.push(String::new());
        }
        let f = &mut fields[n];
        f.clear();
        n += 1;
        if bytes.get(i) == Some(&b'"') {
            i += 1;
            let mut start = i;
            loop {
                match bytes[i..].iter().position(|b| *b == b'"') {
                    None => return Err(format!("field {n}: a quoted field is not closed")),
                    Some(k) => {
                        f.push_str(&record[start..i + k]);
                        i += k + 1;
                        if bytes.get(i) == Some(&b'"') {
                            f.push('"');
                            i += 1;
                            start = i;
                        } else {
                            break;
                        }
                    }
                }
            }
            match bytes.get(i) {
                None => return Ok(n),
                Some(b) if *b == delim => i += 1,
                Some(_) => return Err(format!("field {n}: text after the closing quote")),
            }
        } else {
            match bytes[i..].iter().position(|b| *b == delim) {
                None => {
                    f.push_str(&record[i..]);
                    return Ok(n);
                }
                Some(k) => {
                    f.push_str(&record[i..i + k]);
                    i += k + 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(s: &str) -> Vec<String> {
        let mut v = Vec::new();
        let n = split(s, b',', &mut v).unwrap();
        v.truncate(n);
        v
    }

    #[test]
    fn csv_fields_split_with_quotes() {
        assert_eq!(fields("a,b,,c"), ["a", "b", "", "c"]);
        assert_eq!(fields("1,\"x, y\",\"say \"\"hi\"\"\",z"), ["1", "x, y", "say \"hi\"", "z"]);
        assert_eq!(fields("\"\""), [""]);
        assert_eq!(fields("a,"), ["a", ""]);
        assert_eq!(fields("\"multi\nline\",2"), ["multi\nline", "2"]);
        let mut v = Vec::new();
        assert!(split("\"open,1", b',', &mut v).unwrap_err().contains("field 1"));
        assert!(split("a,\"b\"c", b',', &mut v).unwrap_err().contains("field 2"));
    }

    #[test]
    fn records_span_lines_and_truncation_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.csv");
        std::fs::write(&p, "h1,h2\r\n1,\"two\nlines\"\n3,\"cut").unwrap();
        let mut l = Lines::open(&p).unwrap();
        let mut f = Vec::new();
        assert_eq!(l.next_record(b',', &mut f).unwrap(), Some(2));
        assert_eq!(l.next_record(b',', &mut f).unwrap(), Some(2));
        assert_eq!(f[1], "two\nlines");
        assert_eq!(l.number(), 3);
        let e = l.next_record(b',', &mut f).unwrap_err();
        assert_eq!(e.line, Some(4));
        assert!(e.reason.contains("truncated"), "{e}");
        std::fs::write(&p, [0x1f, 0x8b, 0, 0]).unwrap();
        assert!(Lines::open(&p).err().unwrap().reason.contains("gzip"));
    }
}
