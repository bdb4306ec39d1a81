//! Reporting: the terminal summary (side by side per target), the charts and the self-contained HTML
//! report of a results folder, and the comparison of runs. Reporters only read results; they never
//! measure.

pub mod charts;
pub mod ci;
pub mod compare;
mod compare_imported;
pub mod compare_out;
pub(crate) mod failures;
pub(crate) mod figures;
pub mod gates;
pub(crate) mod html;
pub mod interactive;
mod phases;
pub mod summary;

use std::path::{Path, PathBuf};

use crate::results;

/// The report page's file name, beside run.json.
pub const REPORT_FILE: &str = results::files::REPORT;

pub use crate::units::fmt_us;

/// (Re)write the charts and `report.html` of the results folder `dir` from its run.json, interval logs
/// and timeline.csv. Returns the report's path. The report needs each target's whole-run histogram and
/// timeline, not its per-second histograms: the folder is read without them, so that the memory a report
/// takes does not grow with the run's length.
pub fn write_report(dir: &Path) -> Result<PathBuf, ReportError> {
    let loaded = results::folder::load_totals(dir)?;
    write_report_of(&loaded, dir)
}

/// Draw the charts of `run` and write them and `report.html` into `out`.
pub fn write_report_of(run: &results::RunData, out: &Path) -> Result<PathBuf, ReportError> {
    let rendered = figures::for_run(run).iter().map(|f| charts::render(f, out)).collect::<Result<Vec<_>, _>>()?;
    let page = html::report(run, &rendered);
    let path = out.join(REPORT_FILE);
    write(&path, page.as_bytes())?;
    Ok(path)
}

/// What can keep a report from being drawn: each names the file or chart and says why.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The results folder could not be read.
    #[error(transparent)]
    Results(#[from] results::ResultsError),
    /// A chart could not be drawn.
    #[error("chart {chart}: {reason}")]
    Draw { chart: String, reason: String },
    /// A file of the report could not be written.
    #[error("{}: {reason}", path.display())]
    Write { path: PathBuf, reason: String },
    /// Fewer than two things to compare.
    #[error("{0}")]
    NothingToCompare(String),
}

/// Write a file of the report atomically.
pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    results::write_atomic(path, bytes)
        .map_err(|e| ReportError::Write { path: path.to_path_buf(), reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    #[test]
    fn units() {
        assert_eq!(super::fmt_us(812.0), "812µs");
        assert_eq!(super::fmt_us(12_345.0), "12.35ms");
        assert_eq!(super::fmt_us(2_500_000.0), "2.50s");
    }
}
