//! `wabench plan`: capacity planning. A breakpoint search per target ([`search`], over [`step::Step`]s),
//! the limit that binds at the breakpoint ([`binding`]) and the sizing advice that fits it
//! ([`sizing`]).

use std::path::PathBuf;

use super::AppError;
use super::args::{self, ProfileChanges};
use super::exit::Exit;

pub mod binding;
pub mod search;
pub(crate) mod sizing;
pub mod step;

pub use search::{Breakpoint, NO_RETRIES, is_capacity_error, knee, search, text, write};
pub use step::Step;

/// `wabench plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The profile (TOML) whose targets are sized: its [plan] table gives the SLO and the search
    /// (its [load] needs no rate: each step sets one).
    pub profile: PathBuf,
    #[command(flatten)]
    pub changes: ProfileChanges,
    /// Folder for plan.json, plan.txt, steps.csv and a profile for the phone numbers the advice names,
    /// if it names more (default results/<name>-plan-<UTC timestamp>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Parent folder of result folders.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Confirm that remote WhatsApp targets may receive real, billable messages.
    #[arg(long)]
    pub yes: bool,
}

/// Carry out `wabench plan`.
pub fn command(a: PlanArgs) -> Result<Exit, AppError> {
    let PlanArgs { profile, changes, out, results, yes } = a;
    let loaded = args::load(&profile, &changes)?;
    let real = super::validate::unconfirmed_real_targets(&loaded, yes);
    if !real.is_empty() {
        return Err(format!(
            "{}: target(s) {} would send real, billable WhatsApp messages; set confirm_real_traffic = true or pass --yes",
            profile.display(),
            real.join(", ")
        )
        .into());
    }
    let stop = super::signals::stop_on_signals();
    let spec = loaded.profile.plan.clone().unwrap_or_default();
    let dir = out.unwrap_or_else(|| {
        results.join(format!("{}-plan-{}", loaded.profile.name, chrono::Utc::now().format("%Y%m%dT%H%M%SZ")))
    });
    let bps = search(&loaded, &spec, stop, &mut |line| eprintln!("wabench plan: {line}"))?;
    print!("{}", text(&bps));
    println!("plan: {}", write(&dir, &bps)?.display());
    Ok(Exit::Success)
}
