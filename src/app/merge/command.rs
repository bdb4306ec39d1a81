//! `wabench merge`: its command line, and what it does around joining the parts: the summary, the
//! report, the CI files, the baseline, and the verdict on the whole.

use std::io::Write as _;
use std::path::PathBuf;

use crate::app::AppError;
use crate::app::exit::{self, Exit};
use crate::app::outputs::{self, CiFiles};
use crate::report;

/// `wabench merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Two or more results folders (e.g. one per shard); one is enough with --webhooks (a run whose
    /// statuses went to a standalone receiver).
    #[arg(required = true, num_args = 1..)]
    pub dirs: Vec<PathBuf>,
    /// Folder for the merged run.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace the results in an --out folder that already holds a run (refused otherwise).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub ci: CiFiles,
    /// Also save the merged run as the named baseline under <results>/baselines/NAME.
    #[arg(long, value_name = "NAME")]
    pub save_baseline: Option<String>,
    /// Parent folder of results folders (where baselines are kept).
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// The folder of `wabench receive` that got the shards' status webhooks ([webhooks] receiver_url):
    /// delivery latency and lost/failed counts come from the shards' sends joined with its statuses.
    /// TARGET=DIR when several targets recorded sends. Repeatable.
    #[arg(long, value_name = "[TARGET=]DIR")]
    pub webhooks: Vec<String>,
}

/// `wabench merge`: the parts joined, the profile's thresholds judged on the whole.
pub fn command(a: MergeArgs) -> Result<Exit, AppError> {
    let stdout_taken = a.ci.stdout_taken()?;
    if let Some(name) = &a.save_baseline {
        crate::results::baseline::check_name(name).map_err(|e| format!("--save-baseline: {e}"))?;
    }
    let webhooks: Vec<super::Webhooks> = a.webhooks.iter().map(|w| super::Webhooks::parse(w)).collect();
    let run = super::merge_with(&a.dirs, &a.out, a.force, &webhooks)?;
    let mut human = outputs::human(stdout_taken);
    let _ = report::summary::write(&run, &mut human);
    report::write_report(&a.out).map_err(|e| format!("merged into {}, but the report failed: {e}", a.out.display()))?;
    let _ = writeln!(human, "\nmerged {} folders into {}", a.dirs.len(), a.out.display());
    a.ci.write(&run)?;
    if let Some(name) = &a.save_baseline {
        outputs::save_baseline(&a.results, name, &a.out, &run, &mut human)?;
    }
    Ok(exit::verdict(&run, true, "merge"))
}
