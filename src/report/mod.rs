//! Reporting: the terminal summary (side by side per target), the charts and the self-contained HTML
//! report of a results folder, and the comparison of runs. Reporters only read results; they never
//! measure.

pub mod charts;
pub mod ci;
pub mod compare;
pub(crate) mod figures;
pub(crate) mod html;
pub mod summary;

use std::path::{Path, PathBuf};

use crate::results;

/// The report page's file name, beside run.json.
pub const REPORT_FILE: &str = results::files::REPORT;

pub use crate::units::fmt_us;

/// (Re)write the charts and `report.html` of the results folder `dir` from its run.json, interval logs
/// and timeline.csv. Returns the report's path.
pub fn write_report(dir: &Path) -> Result<PathBuf, String> {
    let loaded = results::folder::load(dir)?;
    write_report_of(&loaded, dir)
}

/// Draw the charts of `run` and write them and `report.html` into `out`.
pub fn write_report_of(run: &results::RunData, out: &Path) -> Result<PathBuf, String> {
    let rendered = figures::for_run(run).iter().map(|f| charts::render(f, out)).collect::<Result<Vec<_>, String>>()?;
    let page = html::report(run, &rendered);
    let path = out.join(REPORT_FILE);
    results::write_atomic(&path, page.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
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
