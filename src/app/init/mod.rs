//! `wabench init KIND`: a commented starter profile to edit, one per common job. Each starter runs as
//! written (on the embedded simulator or receiver where it can), and is checked by the tests.

use std::path::{Path, PathBuf};

use super::AppError;
use super::exit::Exit;

/// The starters `init` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Starter {
    /// A plain HTTP endpoint under an open-loop ramp, with CI thresholds.
    Http,
    /// A WhatsApp template campaign on the embedded Cloud API, delivery followed through webhooks.
    Campaign,
    /// Your webhook endpoint driven with Meta-shaped, signed POSTs.
    Webhook,
    /// Your bot end to end: users write to its webhook, it replies through the simulated Cloud API.
    Bot,
}

impl Starter {
    pub const ALL: [Starter; 4] = [Starter::Http, Starter::Campaign, Starter::Webhook, Starter::Bot];

    pub fn name(self) -> &'static str {
        match self {
            Starter::Http => "http",
            Starter::Campaign => "campaign",
            Starter::Webhook => "webhook",
            Starter::Bot => "bot",
        }
    }

    /// The starter's text.
    pub fn text(self) -> &'static str {
        match self {
            Starter::Http => include_str!("starters/http.toml"),
            Starter::Campaign => include_str!("starters/campaign.toml"),
            Starter::Webhook => include_str!("starters/webhook.toml"),
            Starter::Bot => include_str!("starters/bot.toml"),
        }
    }

    /// Where `init` writes it unless told: `<kind>.toml` in the current folder.
    pub fn default_file(self) -> PathBuf {
        PathBuf::from(format!("{}.toml", self.name()))
    }
}

/// `wabench init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    #[arg(value_enum)]
    pub kind: Starter,
    /// The file to write (default KIND.toml in the current folder).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Carry out `wabench init`.
pub fn command(a: InitArgs) -> Result<Exit, AppError> {
    let path = write(a.kind, a.out.as_deref(), a.force)?;
    eprintln!(
        "wrote {p}: edit it, check it with `wabench validate {p}`, run it with `wabench run {p}`",
        p = path.display()
    );
    Ok(Exit::Success)
}

/// Write `starter` to `out` (refusing to replace a file unless `force`); the path written.
pub fn write(starter: Starter, out: Option<&Path>, force: bool) -> Result<PathBuf, AppError> {
    let path = out.map_or_else(|| starter.default_file(), Path::to_path_buf);
    if path.exists() && !force {
        return Err(format!("{} exists: choose another --out, or --force to replace it", path.display()).into());
    }
    std::fs::write(&path, starter.text()).map_err(|e| AppError::from(format!("{}: {e}", path.display())))?;
    Ok(path)
}
