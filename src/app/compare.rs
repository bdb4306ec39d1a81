//! `wabench compare`: the comparison of runs (or of a run's targets), against a named baseline when
//! asked, with `--fail-if` gates that exit 99 on a regression beyond noise, and `--json`.

use std::io::Write as _;
use std::path::PathBuf;

use super::AppError;
use super::exit::Exit;
use super::outputs;
use crate::report::compare::gates::{self, Gate, GateOutcome, GateVerdict};
use crate::report::compare::{self, out as compare_out};
use crate::results::baseline;

/// `wabench compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Results folders; the first is the baseline (unless --baseline names one). Runs of several
    /// targets are compared target by target, each with the baseline's target of the same name; a
    /// target only one side has is named and left out.
    #[arg(required = true, num_args = 1..)]
    pub dirs: Vec<PathBuf>,
    /// Compare against this named baseline (saved with `run --save-baseline NAME`) instead of the
    /// first folder.
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
    /// Parent folder of results folders (where baselines are kept).
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// A gate, e.g. "p99 > 1.10" (ratio of B to A; any percentile such as p50 or p99.5, max, rate) or
    /// "error_rate > +0.5pp" (B minus A in percentage points; also drop_rate), optionally for one
    /// target ("cloud:p99 > 1.10"). Conversation targets: "first_reply.p99 > 1.2" (the time to the
    /// bot's first reply, B/A) and "unanswered > +1pp" (the unanswered share of the turns, B − A). Fails, and the command exits 99, only when the whole 95% bootstrap
    /// interval lies beyond the bound: a regression beyond run-to-run noise. Repeatable.
    #[arg(long = "fail-if", value_name = "GATE")]
    pub fail_if: Vec<String>,
    /// Write the comparison as JSON (every row, interval and gate verdict) to FILE, or to stdout with
    /// "-" (the table then goes to stderr).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Where to write compare.html and its chart [default: a new folder <results>/compare-<UTC time>;
    /// never a compared run's folder unless named here].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write into an --out folder that already holds a comparison or a run (refused otherwise).
    #[arg(long)]
    pub force: bool,
}

/// Gates that name a target no compared subject has would pass without judging anything: refuse them.
fn check_targets(gates: &[Gate], outcomes: &[GateOutcome], cmp: &compare::Comparison) -> Result<(), String> {
    for g in gates.iter().filter(|g| g.target.is_some()) {
        if !outcomes.iter().any(|o| o.gate == g.expr) {
            let mut names: Vec<&str> = Vec::new();
            for (_, s) in cmp.compared() {
                if !names.contains(&s.target.name()) {
                    names.push(s.target.name());
                }
            }
            let mut msg = format!(
                "--fail-if {:?}: no compared target is named {:?} (compared: {})",
                g.expr,
                g.target.as_deref().unwrap_or_default(),
                names.join(", ")
            );
            for u in &cmp.unpaired {
                msg.push_str(&format!("\n  not compared: {u}"));
            }
            return Err(msg);
        }
    }
    Ok(())
}

/// The folders to compare, the baseline first.
fn folders(a: &CompareArgs) -> Result<Vec<PathBuf>, String> {
    let mut dirs = a.dirs.clone();
    if let Some(name) = &a.baseline {
        dirs.insert(0, baseline::find(&a.results, name)?);
    }
    Ok(dirs)
}

/// The comparison of `dirs`, its progress on a terminal (the folder being read, then the ratios).
fn compare_shown(
    dirs: &[std::path::PathBuf],
    extra: &[compare::Metric],
    first_reply: &[compare::Metric],
) -> Result<compare::Comparison, crate::report::ReportError> {
    let bar = crate::app::progress::bar("compare", dirs.len() as u64 + 1, crate::app::progress::Unit::Items);
    let cmp = compare::compare_dirs_gated(dirs, extra, first_reply, &|i, d| {
        bar.set_position(i as u64);
        bar.set_message(match i < dirs.len() {
            true => format!("reading {}", d.display()),
            false => "ratios and their intervals".to_string(),
        });
    });
    bar.finish_and_clear();
    cmp
}

/// Carry out `wabench compare`.
pub fn command(a: CompareArgs) -> Result<Exit, AppError> {
    let gates: Vec<Gate> = a.fail_if.iter().map(|g| Gate::parse(g)).collect::<Result<_, _>>()?;
    let dirs = folders(&a)?;
    if let Some(out) = a.out.as_ref().filter(|_| !a.force) {
        let held: Vec<&str> =
            ["compare.html", crate::results::RUN_JSON].into_iter().filter(|f| out.join(f).is_file()).collect();
        if !held.is_empty() {
            return Err(format!(
                "--out {} already holds {}; refusing to overwrite: choose another folder, or pass --force",
                out.display(),
                held.join(" and ")
            )
            .into());
        }
    }
    // A gate on a percentile the table does not show (p99.5) gets a row of its own.
    let extra: Vec<compare::Metric> = gates
        .iter()
        .filter_map(|g| match g.measure {
            gates::Measure::Ratio(m) => Some(m),
            _ => None,
        })
        .collect();
    let first_reply: Vec<compare::Metric> = gates
        .iter()
        .filter_map(|g| match g.measure {
            gates::Measure::Conversation(compare::conversation::Measure::FirstReply(m)) => Some(m),
            _ => None,
        })
        .collect();
    let cmp = compare_shown(&dirs, &extra, &first_reply)?;
    // A gate judges every folder it is given: one that could not be read is an error, never a pass.
    if !gates.is_empty() && !cmp.skipped.is_empty() {
        return Err(
            format!("--fail-if: not every results folder could be read:\n  {}", cmp.skipped.join("\n  ")).into()
        );
    }
    let points = gates::points_tables(&cmp);
    let outcomes = gates::evaluate(&gates, &cmp, &points);
    check_targets(&gates, &outcomes, &cmp)?;

    let mut human = outputs::human(outputs::is_stdout(a.json.as_deref()));
    let _ = compare::write_text(&cmp, &mut human);
    let _ = compare_out::write_text(&cmp, &points, &outcomes, &mut human);
    // A folder of its own unless told: never into a compared run's folder.
    let out = a.out.clone().unwrap_or_else(|| crate::results::run_dir(&a.results, "compare", chrono::Utc::now()));
    let page = compare::write_html(&cmp, &outcomes, &out)?;
    let _ = writeln!(human, "\ncomparison: {}", page.display());
    if let Some(path) = &a.json {
        let mut buf = Vec::new();
        compare_out::write_json(&cmp, &points, &outcomes, &mut buf).map_err(|e| format!("{}: {e}", path.display()))?;
        outputs::write_to(path, &buf)?;
    }
    warn(&gates, &outcomes, &cmp);
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| o.verdict == GateVerdict::Fail)
        .map(|o| format!("{} on {}", o.gate, o.subject))
        .collect();
    if !failed.is_empty() {
        eprintln!("wabench: regression beyond noise: {}", failed.join("; "));
        return Ok(Exit::Thresholds);
    }
    Ok(Exit::Success)
}

/// Warnings on stderr: targets no gate judged (no namesake in the other run), and gates with no data
/// or an inconclusive interval (neither counted as failed).
fn warn(gates: &[Gate], outcomes: &[GateOutcome], cmp: &compare::Comparison) {
    if !gates.is_empty() {
        for u in &cmp.unpaired {
            eprintln!("wabench: warning: not compared, so judged by no gate: {u}");
        }
    }
    for o in outcomes.iter().filter(|o| o.verdict == GateVerdict::NoData) {
        eprintln!("wabench: warning: gate {:?} on {}: no data to judge it (not counted as failed)", o.gate, o.subject);
    }
    for o in outcomes.iter().filter(|o| o.verdict == GateVerdict::Inconclusive) {
        if let Some(note) = &o.note {
            eprintln!(
                "wabench: warning: gate {:?} on {}: inconclusive, {note}; not counted as failed",
                o.gate, o.subject
            );
            continue;
        }
        let seconds = cmp.subjects.iter().map(|s| s.target.result.duration_s).fold(f64::INFINITY, f64::min);
        let short = if seconds < 60.0 {
            format!(" (the shortest run lasted {seconds:.0} s: longer runs narrow the interval)")
        } else {
            String::new()
        };
        eprintln!(
            "wabench: warning: gate {:?} on {}: inconclusive, the 95% interval reaches across the bound{short}; \
             not counted as failed",
            o.gate, o.subject
        );
    }
}
