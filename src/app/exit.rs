//! How a command that did its work ends ([`Exit`]), and how a finished run's verdicts decide it.

/// Every exit code of every command, and what it means (the manual's table).
pub const EXIT_CODES: &[(i32, &str)] = &[
    (0, "the command did its work; for `run`, `merge` and `compare`, every threshold and gate passed"),
    (
        1,
        "bad input (profile, files, arguments) or the work could not be carried out; the error names the \
         file, field and reason",
    ),
    (
        crate::EXIT_THRESHOLDS,
        "a threshold was crossed (the default `error_rate < 2%` of a WhatsApp target included), or a target \
         stopped sending at its `max_cost` (results are written; run.json marks it `stopped: \"max_cost\"`); \
         for `merge`, on the merged run; for `compare`, a `--fail-if` gate was crossed beyond noise; \
         `validate` exits 1, not 99, for a profile over its `max_cost`. A shard (`--shard i/N`) exits 0 on a \
         crossed threshold unless `--fail-on-thresholds`",
    ),
    (crate::EXIT_INTERRUPTED, "interrupted by Ctrl-C / SIGTERM (results are written, marked `interrupted`)"),
];

/// How a command that did its work ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    /// A threshold was crossed (exit 99).
    Thresholds,
    /// Stopped by Ctrl-C / SIGTERM; results were written (exit 130).
    Interrupted,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> i32 {
        match self {
            Exit::Success => 0,
            Exit::Thresholds => crate::EXIT_THRESHOLDS,
            Exit::Interrupted => crate::EXIT_INTERRUPTED,
        }
    }
}

/// How a finished run ends: 99 when a threshold was crossed (or the run stopped on one) or a target
/// stopped at its `max_cost`, 130 when it was interrupted, else 0. With `decides` false (a shard),
/// crossed thresholds are reported and exit 0.
pub fn verdict(run: &crate::results::Run, decides: bool, part: &str) -> Exit {
    let capped: Vec<&str> = run
        .targets
        .iter()
        .filter(|t| t.stopped.as_deref() == Some(crate::results::cost::STOPPED_MAX_COST))
        .map(|t| t.name.as_str())
        .collect();
    let thresholds = match &run.aborted {
        Some(why) => Some(format!("stopped early, a threshold was crossed: {why}")),
        None if !run.passed && !run.interrupted => Some("thresholds crossed".to_string()),
        None => None,
    };
    let cap = (!capped.is_empty()).then(|| {
        format!("target(s) {} stopped sending at their max_cost: the plan was not run in full", capped.join(", "))
    });
    let crossed = match (thresholds, cap) {
        (Some(t), Some(c)) => Some(format!("{t}; {c}")),
        (t, c) => t.or(c),
    };
    match crossed {
        Some(what) if decides => {
            eprintln!("wabench: {what}");
            Exit::Thresholds
        }
        Some(what) => {
            eprintln!(
                "wabench: {part}: {what}; recorded in run.json, exit 0: `wabench merge` judges the whole run \
                 (--fail-on-thresholds to exit 99 here)"
            );
            Exit::Success
        }
        None if run.interrupted => Exit::Interrupted,
        None => Exit::Success,
    }
}
