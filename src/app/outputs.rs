//! Where a command's output goes. The human-readable summary goes to stdout, unless a machine-readable
//! file is written there (`--summary-json -`, `--junit -`, `compare --json -`): then the human part goes
//! to stderr, so that stdout holds nothing but the JSON or XML a script reads.

use std::io::{self, Write};
use std::path::Path;

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
