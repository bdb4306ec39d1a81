//! The application: one room per command, named as the command line names it, holding its flags
//! (`…Args`), its `command` function and what only it uses; and the plumbing the rooms share.
//!
//! Commands:
//! - [`run`]: a profile (or a URL, quick mode) run end to end: [`run::run_profile`] with its
//!   progress, `abort_on_fail`, live metrics (`run::live`) and the command's own ending;
//! - [`plan`]: capacity planning (breakpoint search, binding limit, sizing advice);
//! - [`merge`]: the parts of a sharded run joined (and `--webhooks` from a standalone receiver);
//! - [`simulate`]: the simulator served on its own; [`receive`]: the standalone webhook receiver;
//! - [`import`]: other load testers' results; [`validate`]: preflight and the plan rendered;
//! - [`compare`]: runs compared with gates; [`init`]: starter profiles; [`help`]: `--help` examples,
//!   completions and manual pages; `report` and `schema` are one call each in [`commands`].
//!
//! Shared plumbing: [`cli`] (the list of commands), [`commands`] (dispatch), `session` (one target
//! set up and torn down, for `run` and `plan`), [`thresholds`] (verdicts), [`cost`] (what a run's messages cost), [`args`] (flags several
//! commands take), [`outputs`] (where output goes, CI files, baselines), [`exit`], [`signals`],
//! [`AppError`].

pub mod args;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod cost;
mod error;
pub mod exit;
pub mod help;
pub mod import;
pub mod init;
pub mod merge;
pub mod outputs;
pub mod plan;
pub(crate) mod progress;
pub mod receive;
pub mod reference;
pub mod run;
pub(crate) mod session;
pub mod signals;
pub mod simulate;
pub mod thresholds;
pub mod validate;

pub use error::AppError;
