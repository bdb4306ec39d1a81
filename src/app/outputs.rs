//! Where a command's output goes. The human-readable summary goes to stdout, unless a machine-readable
//! file is written there (`--summary-json -`, `--junit -`, `compare --json -`): then the human part goes
//! to stderr, so that stdout holds nothing but the JSON or XML a script reads.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::report;
use crate::results::Run;

/// The file name that means "standard output".
pub const STDOUT: &str = "-";

/// Whether `path` means standard output.
pub fn is_stdout(path: Option<&Path>) -> bool {
    path.is_some_and(|p| p == Path::new(STDOUT))
}

/// The stream for the human-readable output: stderr when a machine-readable file goes to stdout.
pub fn human(stdout_taken: bool) -> Box<dyn Write> {
    if stdout_taken { Box::new(io::stderr()) } else { Box::new(io::stdout()) }
}

/// Refuse two machine-readable outputs on stdout at once (they would be interleaved).
pub fn one_on_stdout(outputs: &[(&str, Option<&Path>)]) -> Result<bool, String> {
    let on: Vec<&str> = outputs.iter().filter(|(_, p)| is_stdout(*p)).map(|(f, _)| *f).collect();
    if on.len() > 1 {
        return Err(format!("{} all ask for standard output (-); give all but one a file name", on.join(" and ")));
    }
    Ok(on.len() == 1)
}

/// Write `bytes` to `path`, atomically, or to stdout when `path` is `-`. Errors name the file.
pub fn write_to(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if path == Path::new(STDOUT) {
        let mut out = io::stdout().lock();
        return out.write_all(bytes).and_then(|()| out.flush()).map_err(|e| format!("standard output: {e}"));
    }
    crate::results::write_atomic(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// The machine-readable files a finished run (`run`, `merge`) can also write, for CI.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CiFiles {
    /// Also write a compact summary (counts, rates, percentiles, thresholds) as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Also write a JUnit XML file with one test case per threshold, for CI systems.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

impl CiFiles {
    /// Whether one of them goes to stdout (then the human part goes to stderr); two there are refused.
    /// A file that could not be written (its folder missing, or a folder of that name) is refused
    /// here, before anything is measured, naming the flag.
    pub fn stdout_taken(&self) -> Result<bool, String> {
        for (flag, path) in self.flags() {
            if let Some(p) = path {
                writable(flag, p)?;
            }
        }
        one_on_stdout(&self.flags())
    }

    fn flags(&self) -> [(&'static str, Option<&Path>); 2] {
        [("--summary-json", self.summary_json.as_deref()), ("--junit", self.junit.as_deref())]
    }

    /// Write the files asked for; a failure names its flag, and one failed file does not keep the
    /// other from being written.
    pub fn write(&self, run: &Run) -> Result<(), String> {
        let summary =
            write_ci_files(run, self.summary_json.as_deref(), None).map_err(|e| format!("--summary-json {e}"));
        let junit = write_ci_files(run, None, self.junit.as_deref()).map_err(|e| format!("--junit {e}"));
        match (summary, junit) {
            (Err(a), Err(b)) => Err(format!("{a}; {b}")),
            (Err(e), _) | (_, Err(e)) => Err(e),
            _ => Ok(()),
        }
    }
}

/// Refuse an output file `path` (given by `flag`) that cannot be written: standard output (`-`) is
/// fine; otherwise its folder must exist and the path must not be a folder.
pub fn writable(flag: &str, path: &Path) -> Result<(), String> {
    if path == Path::new(STDOUT) {
        return Ok(());
    }
    if path.is_dir() {
        return Err(format!("{flag} {}: is a folder; give a file name", path.display()));
    }
    let folder = match path.parent() {
        Some(f) if !f.as_os_str().is_empty() => f,
        _ => Path::new("."),
    };
    if !folder.is_dir() {
        return Err(format!("{flag} {}: the folder {} does not exist", path.display(), folder.display()));
    }
    Ok(())
}

/// Write a run's `--summary-json` and `--junit` files, when asked for.
pub fn write_ci_files(run: &Run, summary_json: Option<&Path>, junit: Option<&Path>) -> Result<(), String> {
    if let Some(path) = summary_json {
        let mut buf = Vec::new();
        report::ci::write_summary_json(run, &mut buf).map_err(|e| format!("{}: {e}", path.display()))?;
        write_to(path, &buf)?;
    }
    if let Some(path) = junit {
        let mut buf = Vec::new();
        report::ci::write_junit(run, &mut buf).map_err(|e| format!("{}: {e}", path.display()))?;
        write_to(path, &buf)?;
    }
    Ok(())
}

/// Save a finished run as a named baseline; an interrupted or aborted run is not one (its figures
/// cover part of the plan), so it is left unsaved with a warning.
pub fn save_baseline(root: &Path, name: &str, dir: &Path, run: &Run, human: &mut dyn Write) -> Result<(), String> {
    if run.interrupted || run.aborted.is_some() {
        eprintln!("wabench: warning: baseline {name:?} not saved: the run did not finish its plan");
        return Ok(());
    }
    let (at, replaced) = crate::results::baseline::save(root, name, dir)?;
    let was = replaced.map(|w| format!(" (replaces the one saved from {w})")).unwrap_or_default();
    let _ = writeln!(human, "baseline {name:?} saved: {}{was}", at.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_output_may_take_stdout() {
        let dash = Some(Path::new("-"));
        let file = Some(Path::new("s.json"));
        assert_eq!(one_on_stdout(&[("--summary-json", file), ("--junit", None)]), Ok(false));
        assert_eq!(one_on_stdout(&[("--summary-json", dash), ("--junit", file)]), Ok(true));
        let err = one_on_stdout(&[("--summary-json", dash), ("--junit", dash)]).unwrap_err();
        assert!(err.contains("--summary-json and --junit"), "{err}");
    }
}
