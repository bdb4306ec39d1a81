//! What the receiver's accept loop may take and how it rides out a failing accept: the connection
//! cap fitted under the file descriptors the process has left, and the pause (doubling, bounded) and
//! single log line of a run of accept errors (EMFILE, ENFILE, ENOBUFS …). It owns no socket and
//! serves nothing.

use std::io;
use std::time::Duration;

/// File descriptors kept free of connections: the records files rotated or written at the end (the
/// summary), a TLS file read again, the runtime's own.
pub const FDS_SPARE: usize = 16;

/// The cap on open connections: `configured`, lowered so that the connections fit in the
/// descriptors the process has left (its soft limit less those open now, less [`FDS_SPARE`]), at
/// least 1. Without `/proc` (not Linux) `configured` as is.
pub fn connection_cap(configured: usize) -> usize {
    match (open_files_limit(), open_files_now()) {
        (Some(limit), Some(open)) => fitted(configured, limit, open),
        _ => configured.max(1),
    }
}

fn fitted(configured: usize, limit: usize, open: usize) -> usize {
    configured.min(limit.saturating_sub(open).saturating_sub(FDS_SPARE)).max(1)
}

/// The soft limit on open files (Linux), when there is one.
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The file descriptors open now (Linux).
fn open_files_now() -> Option<usize> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count())
}

/// Shortest and longest pause after a failed accept.
const FIRST_PAUSE: Duration = Duration::from_millis(10);
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

/// A run of failed accepts: the pause before the next (doubling from 10 ms to 1 s, so the loop never
/// spins), and one log line when it starts and one when accepting works again.
#[derive(Debug, Default)]
pub struct AcceptTrouble {
    in_a_row: u64,
}

impl AcceptTrouble {
    /// An accept failed with `e`: how long to pause, and the line to log (the first of a run only).
    pub fn failed(&mut self, e: &io::Error) -> (Duration, Option<String>) {
        self.in_a_row += 1;
        let pause = FIRST_PAUSE.saturating_mul(1 << (self.in_a_row - 1).min(7)).min(LONGEST_PAUSE);
        let line = (self.in_a_row == 1).then(|| {
            format!(
                "wabench receiver: cannot accept connections ({e}): pausing up to {} s between tries; \
                 open connections are still served",
                LONGEST_PAUSE.as_secs()
            )
        });
        (pause, line)
    }

    /// An accept worked: the line to log when it ends a run of failures.
    pub fn accepted(&mut self) -> Option<String> {
        let n = std::mem::take(&mut self.in_a_row);
        (n > 0).then(|| format!("wabench receiver: accepting connections again, after {n} failed accepts"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_fits_in_the_descriptors_left() {
        assert_eq!(fitted(10_000, 64, 20), 64 - 20 - FDS_SPARE);
        assert_eq!(fitted(4, 1024, 20), 4, "the configured cap when descriptors are plenty");
        assert_eq!(fitted(10_000, 30, 20), 1, "at least one connection");
        if std::path::Path::new("/proc/self/fd").is_dir() {
            let here = connection_cap(usize::MAX);
            assert!((1..usize::MAX).contains(&here), "the process's own limit applies: {here}");
        }
    }

    #[test]
    fn failed_accepts_pause_longer_and_log_once_per_run() {
        let mut t = AcceptTrouble::default();
        let emfile = io::Error::from_raw_os_error(24);
        let (first, line) = t.failed(&emfile);
        assert_eq!(first, FIRST_PAUSE);
        assert!(line.is_some_and(|l| l.contains("cannot accept connections")));
        let mut pauses = vec![first];
        for _ in 0..20 {
            let (p, line) = t.failed(&emfile);
            assert!(line.is_none(), "logged once per run");
            pauses.push(p);
        }
        assert!(pauses.windows(2).all(|w| w[1] >= w[0]), "{pauses:?}");
        assert_eq!(*pauses.last().unwrap(), LONGEST_PAUSE);
        assert!(t.accepted().is_some_and(|l| l.contains("after 21 failed accepts")));
        assert_eq!(t.accepted(), None, "nothing to say after a good accept");
        assert_eq!(t.failed(&emfile).0, FIRST_PAUSE, "a new run starts short");
    }
}
