//! `wabench validate`: the profile checked without sending anything ([`preflight`] beyond the
//! profile's own fields), and the plan rendered ([`plan_text`], or [`json`] for scripts). `run` uses the
//! same checks before sending and the same text for `--dry-run`. (The profile's own rules are in
//! `spec::validate`.)

use std::path::PathBuf;

use super::AppError;
use super::args::{self, ProfileChanges};
use super::exit::Exit;

pub mod json;
pub mod plan_text;
pub mod preflight;
pub mod tracing;

pub use plan_text::{
    DRY_RUN_REQUESTS, describe, dry_run_text, messaging_limit_warnings, plan_text, real_target_warnings, real_targets,
    rendered_requests, simulator_line, unconfirmed_real_targets, unique_template_recipients, warnings,
};

/// `wabench validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The profile (TOML) to check and show the plan of; nothing is sent.
    pub profile: PathBuf,
    #[command(flatten)]
    pub changes: ProfileChanges,
    /// Print the plan as JSON (for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Carry out `wabench validate`.
pub fn command(a: ValidateArgs) -> Result<Exit, AppError> {
    let loaded = args::load(&a.profile, &a.changes)?;
    if let Some(e) = preflight::errors(&loaded, &preflight::check(&loaded)) {
        return Err(e.into());
    }
    let over: Vec<String> = super::cost::over_cap(&loaded).into_iter().map(|(_, e)| e).collect();
    let text = if a.json { json::plan_json(&loaded) } else { plan_text(&loaded) };
    // Over its cost cap the profile is refused: the plan is shown, not called valid.
    let headline = format!("profile {} ({}) is valid", loaded.profile.name, loaded.path.display());
    let refused = format!("profile {} ({}) is refused: over max_cost", loaded.profile.name, loaded.path.display());
    print!("{}", if over.is_empty() || a.json { text } else { text.replacen(&headline, &refused, 1) });
    if !over.is_empty() {
        return Err(format!("{}: {}", loaded.path.display(), over.join("\n")).into());
    }
    Ok(Exit::Success)
}
