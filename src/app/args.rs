//! Argument groups several commands share: what changes a profile as it is read (`run`, `validate`,
//! `plan`), and reading the profile with them.

use std::path::Path;

use super::AppError;
use crate::spec::{self, Loaded};

/// What changes a profile as it is read: `--set` overrides and `-e` variables (run, validate, plan).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ProfileChanges {
    /// Override a profile value by dotted path, typed and validated like the file, e.g.
    /// load.rate=200, load.duration=5m, targets.cloud.base_url=https://…, 'thresholds."latency.p99"=< 500ms'.
    /// Repeatable. Secret fields are refused: they come only from the environment.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// A variable for `${NAME}` in the profile's strings, taken before the environment, e.g.
    /// -e HOST=staging.example. Repeatable. `${NAME:-default}` gives a default.
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
}

/// Load a profile with its `--set` overrides and `-e` variables.
pub fn load(path: &Path, changes: &ProfileChanges) -> Result<Loaded, AppError> {
    let sets: Vec<spec::overrides::Override> =
        changes.set.iter().map(|s| spec::overrides::Override::parse(s)).collect::<Result<_, _>>()?;
    let vars = spec::interpolate::Vars::parse(&changes.env)?;
    Ok(spec::load_with(path, &sets, &vars)?)
}
