//! `wabench import`: results of other load testers (JMeter CSV and XML, k6, vegeta, HdrHistogram interval logs,
//! wrk2, Locust, oha) become an ordinary results folder — `run.json` marked `imported`, per-second
//! interval logs, `timeline.csv`, `report.html` — so that `report`, `compare` and `merge` read them like a
//! wabench run. The On-Premises API's lifecycle has ended: what a team has of it is the archive of the
//! tests it ran, and this is how that archive is compared with a new Cloud API run.
//!
//! Per-request sources (JMeter, k6, vegeta, interval logs) give exact per-second histograms, streamed
//! in constant memory ([`sink`]); aggregate-only sources (wrk2, Locust, oha) give the percentiles the
//! tool printed and nothing to resample, and the folder says so ([`aggregate`]). Latency keeps the
//! source's clock and is converted exactly to µs. Nothing is half-written: the folder is built under a
//! temporary name beside its destination and renamed when complete.

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::AppError;
use super::exit::Exit;
use crate::report;
use crate::results::{self, Imported, Run, TargetResult};

pub(crate) mod aggregate;
pub(crate) mod classify;
pub(crate) mod hlog;
pub mod jmeter;
pub(crate) mod k6;
pub(crate) mod lines;
pub(crate) mod locust;
pub(crate) mod oha;
pub(crate) mod sink;
pub(crate) mod vegeta;
pub(crate) mod wrk2;

/// The formats `--from` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// JMeter `.jtl` results, CSV or XML (per sample).
    Jmeter,
    /// HdrHistogram interval logs (`.hlog`) from any tool.
    Hlog,
    /// k6 `--out json` (NDJSON; `http_req_duration` points).
    K6,
    /// vegeta results encoded as CSV or JSON (`vegeta encode`).
    Vegeta,
    /// wrk2 `--latency` output, or an HdrHistogram percentile-distribution printout (aggregate only).
    Wrk2,
    /// Locust `--csv` output: `*_stats_history.csv`, with `*_stats.csv` and `*_failures.csv` (aggregate only).
    Locust,
    /// oha `--output-format json` (aggregate only).
    Oha,
}

impl Format {
    pub fn tool(self) -> &'static str {
        match self {
            Format::Jmeter => "jmeter",
            Format::Hlog => "hlog",
            Format::K6 => "k6",
            Format::Vegeta => "vegeta",
            Format::Wrk2 => "wrk2",
            Format::Locust => "locust",
            Format::Oha => "oha",
        }
    }
}

/// A latency unit of a source that does not say its own (interval logs, bare HdrHistogram printouts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Unit {
    Ns,
    Us,
    Ms,
    S,
}

impl Unit {
    /// Convert a value in this unit to µs (rounded to the nearest µs).
    pub fn to_us(self, v: f64) -> f64 {
        match self {
            Unit::Ns => v / 1000.0,
            Unit::Us => v,
            Unit::Ms => v * 1000.0,
            Unit::S => v * 1_000_000.0,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Unit::Ns => "ns",
            Unit::Us => "µs",
            Unit::Ms => "ms",
            Unit::S => "s",
        }
    }
}

/// What to import and where to write it.
#[derive(Debug, Clone)]
pub struct Request {
    pub from: Format,
    pub files: Vec<PathBuf>,
    /// The run's name (run.json `name`; the default folder is `<results>/<name>-<source start>`).
    pub name: String,
    /// Put every request into one target of this name (otherwise labels become targets).
    pub target: Option<String>,
    /// Keep only requests with these labels (JMeter labels, k6 `name` tags, Locust names, log tags).
    pub labels: Vec<String>,
    pub out: Option<PathBuf>,
    /// Parent folder of the default output folder.
    pub results_root: PathBuf,
    /// The latency unit of a source that does not name it.
    pub unit: Option<Unit>,
}

/// Why an import failed: the file, the line when one is to blame, and the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportError {
    pub file: PathBuf,
    pub line: Option<u64>,
    pub reason: String,
}

impl ImportError {
    pub fn at(file: &Path, line: u64, reason: impl Into<String>) -> ImportError {
        ImportError { file: file.to_path_buf(), line: Some(line), reason: reason.into() }
    }

    pub fn file(file: &Path, reason: impl Into<String>) -> ImportError {
        ImportError { file: file.to_path_buf(), line: None, reason: reason.into() }
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(n) => write!(f, "{}:{n}: {}", self.file.display(), self.reason),
            None => write!(f, "{}: {}", self.file.display(), self.reason),
        }
    }
}

impl From<ImportError> for AppError {
    fn from(e: ImportError) -> AppError {
        AppError::Failed(e.to_string())
    }
}

/// What a format reader hands back: the targets and the run-level facts.
pub struct Parsed {
    pub targets: Vec<TargetResult>,
    pub imported: Imported,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
}

/// Import `req.files` into a new results folder; returns the folder and the run.
pub fn import(req: &Request) -> Result<(PathBuf, Run), AppError> {
    if req.files.is_empty() {
        return Err("import: name at least one file".into());
    }
    for f in &req.files {
        if !f.is_file() {
            return Err(ImportError::file(f, "no such file").into());
        }
    }
    if let Some(out) = &req.out
        && out.exists()
    {
        return Err(format!("{}: already exists; import writes a new folder", out.display()).into());
    }
    // Built beside its destination (so the rename stays on one file system) under a name no reader
    // takes for a results folder, then renamed: an import that fails leaves nothing behind.
    let parent = req.out.as_ref().and_then(|o| o.parent().map(Path::to_path_buf)).unwrap_or(req.results_root.clone());
    let parent = if parent.as_os_str().is_empty() { PathBuf::from(".") } else { parent };
    std::fs::create_dir_all(&parent).map_err(|e| format!("{}: cannot create the folder: {e}", parent.display()))?;
    let tmp = Partial::create(&parent, &req.name)?;
    let parsed = read(req, &tmp.0)?;
    let run = run_of(req, parsed);
    results::write_run(&tmp.0, &run).map_err(|e| format!("{}: {e}", tmp.0.display()))?;
    let out = req.out.clone().unwrap_or_else(|| results::run_dir(&req.results_root, &req.name, run.started_at));
    if out.exists() {
        return Err(
            format!("{}: already exists; import writes a new folder (choose one with --out)", out.display()).into()
        );
    }
    std::fs::rename(&tmp.0, &out)
        .map_err(|e| format!("{}: cannot move the imported results into place: {e}", out.display()))?;
    Ok((out, run))
}

/// A folder being built; removed when dropped (an import that fails leaves nothing), unless it was
/// renamed into place first.
struct Partial(PathBuf);

impl Partial {
    fn create(parent: &Path, name: &str) -> Result<Partial, String> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let dir = parent.join(format!(
            ".{}-import-{}-{nanos}{}",
            target_name(name),
            std::process::id(),
            results::files::PARTIAL_SUFFIX
        ));
        std::fs::create_dir(&dir).map_err(|e| format!("{}: cannot create a temporary folder: {e}", dir.display()))?;
        Ok(Partial(dir))
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if self.0.exists() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Read the files in the chosen format, writing interval logs and the timeline into `dir`.
fn read(req: &Request, dir: &Path) -> Result<Parsed, ImportError> {
    match req.from {
        Format::Jmeter => jmeter::import(req, dir),
        Format::Hlog => hlog::import(req, dir),
        Format::K6 => k6::import(req, dir),
        Format::Vegeta => vegeta::import(req, dir),
        Format::Wrk2 => wrk2::import(req, dir),
        Format::Locust => locust::import(req, dir),
        Format::Oha => oha::import(req, dir),
    }
}

fn run_of(req: &Request, p: Parsed) -> Run {
    Run {
        schema_version: results::SCHEMA_VERSION,
        tool: results::Tool { name: p.imported.tool.clone(), version: "imported".into() },
        name: req.name.clone(),
        description: Some(format!(
            "Imported by wabench {} from {} results ({})",
            env!("CARGO_PKG_VERSION"),
            p.imported.tool,
            if p.imported.per_request { "per request" } else { "aggregates only" }
        )),
        profile_file: String::new(),
        profile: serde_json::Value::Null,
        seed: 0,
        started_at: p.started_at,
        ended_at: p.ended_at,
        interrupted: false,
        machine: results::Machine::this(),
        targets: p.targets,
        thresholds: Vec::new(),
        passed: true,
        aborted: None,
        shard: None,
        overrides: Vec::new(),
        operator: Vec::new(),
        imported: Some(p.imported),
    }
}

/// A target name from a source's label: the characters a file name and an interval-log tag can hold
/// (letters, digits, `.`, `_`, `-`), everything else `_`; never empty.
pub fn target_name(label: &str) -> String {
    let s: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .collect();
    let s = s.trim_matches(|c| c == '_' || c == '.').to_string();
    if s.is_empty() { "target".into() } else { s }
}

/// The file names as given, for run.json.
pub fn file_names(req: &Request) -> Vec<String> {
    req.files.iter().map(|f| f.display().to_string()).collect()
}

/// `wabench import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The source's format.
    #[arg(long, value_enum)]
    pub from: Format,
    /// The files to read (several: e.g. one JMeter .jtl per load generator).
    #[arg(required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// The run's name (in run.json; the default folder is results/<name>-<the source's start time>).
    #[arg(long)]
    pub name: String,
    /// Put every request into one target of this name (otherwise each label becomes a target).
    #[arg(long, value_name = "LABEL")]
    pub target: Option<String>,
    /// Keep only requests with this label (JMeter label, k6 name tag, Locust name, log tag); repeatable.
    #[arg(long = "label", value_name = "LABEL")]
    pub labels: Vec<String>,
    /// Write the results folder here instead of results/<name>-<source start>/ (must not exist).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Parent folder of the default results folder.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// The latency unit of a source that does not name it (HdrHistogram logs and printouts).
    #[arg(long, value_enum)]
    pub unit: Option<Unit>,
    /// Skip drawing report.html and the charts (run `wabench report DIR` later).
    #[arg(long)]
    pub no_report: bool,
}

/// `wabench import`.
pub fn command(a: ImportArgs) -> Result<Exit, AppError> {
    let req = Request {
        from: a.from,
        files: a.files,
        name: a.name,
        target: a.target,
        labels: a.labels,
        out: a.out,
        results_root: a.results,
        unit: a.unit,
    };
    let (dir, run) = import(&req)?;
    let _ = report::summary::write(&run, &mut std::io::stdout());
    if let Some(imp) = &run.imported {
        for u in &imp.unavailable {
            println!("not in the source: {u}");
        }
    }
    if !a.no_report {
        report::write_report(&dir)
            .map_err(|e| format!("imported into {}, but the report failed: {e}", dir.display()))?;
    }
    println!("\nimported: {}", dir.display());
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_become_file_and_tag_safe_target_names() {
        assert_eq!(target_name("/v1/messages"), "v1_messages");
        assert_eq!(target_name("Send text, cloud"), "Send_text__cloud");
        assert_eq!(target_name("onprem-1.send"), "onprem-1.send");
        assert_eq!(target_name("../.."), "target");
        assert_eq!(target_name(""), "target");
    }

    #[test]
    fn units_convert_exactly_to_microseconds() {
        assert_eq!(Unit::Ns.to_us(1_500.0), 1.5);
        assert_eq!(Unit::Us.to_us(7.0), 7.0);
        assert_eq!(Unit::Ms.to_us(459.865729), 459_865.729);
        assert_eq!(Unit::S.to_us(0.25), 250_000.0);
    }
}
