//! The commands of the `wabench` binary: each parsed command handed to its room (`app::run`,
//! `app::merge`, …), which does its work through the other layers and says how the process should end
//! ([`Exit`]), or why it failed. The commands that are one call (`report`, `schema`, `completions`,
//! `man`) are carried out here.

use super::cli::Command;
use super::{AppError, compare, help, import, init, merge, plan, receive, run, simulate, validate};
use crate::{report, spec};

pub use super::exit::Exit;

/// Carry out one command.
pub fn execute(command: Command) -> Result<Exit, AppError> {
    match command {
        Command::Run(args) => run::command::command(*args),
        Command::Plan(args) => plan::command(args),
        Command::Merge(args) => merge::command::command(args),
        Command::Simulate(args) => simulate::command(args),
        Command::Receive(args) => receive::command(args),
        Command::Import(args) => import::command(args),
        Command::Validate(args) => validate::command(args),
        Command::Compare(args) => compare::command(args),
        Command::Init(args) => init::command(args),
        Command::Report { dir } => {
            println!("report: {}", report::write_report(&dir)?.display());
            Ok(Exit::Success)
        }
        Command::Reference { out } => {
            for path in super::reference::write(&out)? {
                eprintln!("reference: {}", path.display());
            }
            Ok(Exit::Success)
        }
        Command::Schema { out } => {
            let schema = spec::schema::profile_schema_json();
            match out {
                Some(path) => {
                    std::fs::write(&path, schema).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                    eprintln!("schema: {}", path.display());
                }
                None => print!("{schema}"),
            }
            Ok(Exit::Success)
        }
        Command::Completions { shell } => {
            help::completions(shell, &mut std::io::stdout().lock());
            Ok(Exit::Success)
        }
        Command::Man { out: None } => {
            help::man_page(&mut std::io::stdout().lock()).map_err(|e| format!("cannot write the manual: {e}"))?;
            Ok(Exit::Success)
        }
        Command::Man { out: Some(dir) } => {
            let pages =
                help::man_pages(&dir).map_err(|e| format!("cannot write manual pages to {}: {e}", dir.display()))?;
            eprintln!("man: {} pages in {}", pages.len(), dir.display());
            Ok(Exit::Success)
        }
    }
}
