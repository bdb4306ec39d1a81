//! Reporting: the terminal summary (side by side per target), the charts and the self-contained HTML
//! report of a results folder, and the comparison of runs. Reporters only read results; they never
//! measure.

pub mod charts;
pub mod ci;
pub mod compare;
mod conversation;
mod cost;
pub(crate) mod failures;
pub(crate) mod figures;
pub(crate) mod html;
pub(crate) mod html_escape;
pub mod interactive;
mod operator;
mod phases;
pub mod render;
pub mod summary;
mod traces;

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
    let rendered = figures::for_run(run).iter().map(|f| render::render(f, out)).collect::<Result<Vec<_>, _>>()?;
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

/// The open-loop stages the profile asked for, as a person reads them ("0→60/s in 5s, 60/s for 15s"),
/// from the profile recorded in run.json; `None` for a constant rate or a closed loop.
pub fn stages_text(run: &results::Run) -> Option<String> {
    stages_of(&run.profile)
}

fn stages_of(profile: &serde_json::Value) -> Option<String> {
    let load = profile.get("load")?;
    let stages = load.get("stages")?.as_array().filter(|s| !s.is_empty())?;
    let mut from = load.get("start_rate").and_then(serde_json::Value::as_f64).unwrap_or(0.0);
    let mut parts = Vec::new();
    for s in stages {
        let to = s.get("to")?.as_f64()?;
        let over = s.get("over")?.as_str().map(str::to_string).or_else(|| s.get("over").map(|v| v.to_string()))?;
        parts.push(if (to - from).abs() < 1e-9 {
            format!("{} for {over}", fmt_rate(to))
        } else {
            format!("{}→{} in {over}", fmt_rate(from).trim_end_matches("/s"), fmt_rate(to))
        });
        from = to;
    }
    Some(parts.join(", "))
}

fn fmt_rate(r: f64) -> String {
    if r.fract() == 0.0 { format!("{r:.0}/s") } else { format!("{r:.1}/s") }
}

#[cfg(test)]
mod stage_tests {
    #[test]
    fn stages_read_as_a_person_says_them() {
        let p = serde_json::json!({"load": {"start_rate": 5.0, "stages": [
            {"to": 60.0, "over": "5s"}, {"to": 60.0, "over": "15s"}, {"to": 0.5, "over": "1m"}]}});
        assert_eq!(super::stages_of(&p).as_deref(), Some("5→60/s in 5s, 60/s for 15s, 60→0.5/s in 1m"));
        assert_eq!(super::stages_of(&serde_json::json!({"load": {"rate": 10.0}})), None);
        assert_eq!(super::stages_of(&serde_json::json!({"load": {"stages": []}})), None);
    }
}
