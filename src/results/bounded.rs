//! Reading the files of a results folder within bounds: only regular files (a FIFO, a device such as
//! `/dev/zero` or a folder is refused before a byte is read), no larger than a cap per kind of file
//! (checked when opened and again while reading, so a file that keeps growing is cut off), lines no
//! longer than a cap. Every refusal names the file. It decides nothing about what the bytes mean.

use std::fs::File;
use std::io::{self, BufRead, Read};
use std::path::Path;

use super::ResultsError;

/// run.json and a receiver's summary (a run.json of a thousand targets is a few MiB).
pub const MAX_JSON_BYTES: u64 = 64 << 20;
/// `timeline.csv` (read whole: a week of one second per row for ten targets is about 400 MiB).
pub const MAX_TIMELINE_BYTES: u64 = 1 << 30;
/// An interval log (read a line at a time).
pub const MAX_HLOG_BYTES: u64 = 32 << 30;
/// One line of an interval log (one histogram, deflated and in base64: a few KiB in practice).
pub const MAX_HLOG_LINE: usize = 4 << 20;
/// A records file of sends or statuses (read a line at a time).
pub const MAX_RECORDS_BYTES: u64 = 64 << 30;
/// One line of a CSV file of the results (timeline rows, sends, statuses).
pub const MAX_CSV_LINE: usize = 64 << 10;

/// A file opened for reading that fails once more than its cap was read.
#[derive(Debug)]
pub struct Capped<R> {
    inner: R,
    left: u64,
    cap: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            let mut one = [0u8; 1];
            return match self.inner.read(&mut one)? {
                0 => Ok(0),
                _ => Err(io::Error::other(format!("larger than {} bytes, the most this file may hold", self.cap))),
            };
        }
        let n = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let got = self.inner.read(&mut buf[..n])?;
        self.left -= got as u64;
        Ok(got)
    }
}

/// Open `path` for reading: a regular file of at most `cap` bytes.
pub fn open(path: &Path, cap: u64) -> Result<Capped<File>, ResultsError> {
    // Looked at before opening: opening a FIFO waits for a writer that may never come.
    check_kind(path, &std::fs::metadata(path).map_err(|e| ResultsError::read(path, e))?, cap)?;
    let f = File::open(path).map_err(|e| ResultsError::read(path, e))?;
    check_kind(path, &f.metadata().map_err(|e| ResultsError::read(path, e))?, cap)?;
    Ok(Capped { inner: f, left: cap, cap })
}

fn check_kind(path: &Path, meta: &std::fs::Metadata, cap: u64) -> Result<(), ResultsError> {
    if !meta.is_file() {
        let what = if meta.is_dir() { "a folder" } else { "a FIFO, socket or device" };
        return Err(ResultsError::read(path, format!("{what}, not a regular file: refused")));
    }
    if meta.len() > cap {
        return Err(ResultsError::read(
            path,
            format!("{} bytes, more than {cap}, the most this file may hold: refused", meta.len()),
        ));
    }
    Ok(())
}

/// The whole of a regular file of at most `cap` bytes.
pub fn read(path: &Path, cap: u64) -> Result<Vec<u8>, ResultsError> {
    let mut f = open(path, cap)?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).map_err(|e| ResultsError::read(path, e))?;
    Ok(bytes)
}

/// The whole of a regular UTF-8 text file of at most `cap` bytes.
pub fn read_text(path: &Path, cap: u64) -> Result<String, ResultsError> {
    String::from_utf8(read(path, cap)?)
        .map_err(|e| ResultsError::format(path, format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to())))
}

/// What [`read_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A whole line, its line break included, is in the buffer.
    Whole,
    /// The end of the input; the buffer holds what followed the last line break (maybe nothing).
    End,
    /// A line longer than the cap (the buffer holds its first `max` bytes and more).
    TooLong,
}

/// Read one line into `buf` (cleared first), reading at most `max + 1` bytes of it.
pub fn read_line<R: BufRead>(src: &mut R, buf: &mut Vec<u8>, max: usize) -> io::Result<Line> {
    buf.clear();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    src.by_ref().take(limit).read_until(b'\n', buf)?;
    Ok(if buf.last() == Some(&b'\n') {
        Line::Whole
    } else if buf.len() > max {
        Line::TooLong
    } else {
        Line::End
    })
}

/// Whether `bytes` could be the start of a line of text a wabench writer cut off (printable text,
/// tabs): a reader may leave such a last line out, and must refuse anything else (zeros, binary).
pub fn is_cut_text(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.chars().all(|c| c == '\t' || c == '\r' || !c.is_control()),
        // A multi-byte character cut in two is still text.
        Err(e) => e.error_len().is_none() && is_cut_text(&bytes[..e.valid_up_to()]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_fifos_folders_and_large_files_are_refused_by_name() {
        let e = open(Path::new("/dev/zero"), 1 << 20).unwrap_err().to_string();
        assert!(e.contains("/dev/zero") && e.contains("not a regular file"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let e = open(dir.path(), 1 << 20).unwrap_err().to_string();
        assert!(e.contains("a folder"), "{e}");
        let p = dir.path().join("big");
        std::fs::write(&p, vec![b'x'; 2048]).unwrap();
        let e = read(&p, 1024).unwrap_err().to_string();
        assert!(e.contains("2048 bytes") && e.contains("big"), "{e}");
        assert_eq!(read(&p, 2048).unwrap().len(), 2048);
    }

    #[test]
    fn a_file_read_past_its_cap_fails() {
        let mut c = Capped { inner: io::repeat(b'a'), left: 100, cap: 100 };
        let mut v = Vec::new();
        let e = c.read_to_end(&mut v).unwrap_err();
        assert!(e.to_string().contains("larger than 100 bytes"), "{e}");
        assert_eq!(v.len(), 100);
    }

    #[test]
    fn lines_are_read_within_their_cap() {
        let mut src = &b"short\nlooooooong\ncut"[..];
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut src, &mut buf, 8).unwrap(), Line::Whole);
        assert_eq!(buf, b"short\n");
        assert_eq!(read_line(&mut src, &mut buf, 8).unwrap(), Line::TooLong);
        assert!(buf.len() <= 9);
        let mut src = &b"cut"[..];
        assert_eq!(read_line(&mut src, &mut buf, 8).unwrap(), Line::End);
        assert_eq!(buf, b"cut");
        let mut endless = io::BufReader::new(io::repeat(0));
        assert_eq!(read_line(&mut endless, &mut buf, 1 << 16).unwrap(), Line::TooLong);
        assert!(
            is_cut_text(b"Tag=t,1.000,1.0,HIST") && is_cut_text("é".as_bytes()) && is_cut_text(&"é".as_bytes()[..1])
        );
        assert!(!is_cut_text(&[0, 0, 0]) && !is_cut_text(b"ab\x01"));
    }
}
