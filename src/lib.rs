//! wabench: load tests and compares WhatsApp Cloud API, On-Premises API and plain HTTP endpoints.
//!
//! Layers (each imports only those to its left; `tests/it/layers.rs` checks it):
//! `units` ← `spec` ← `engine` ← `drivers` ← `app`, with `results` beside `spec` (it imports only
//! `units`), `webhook` and `sim` over `spec` and `results`, and `report` over `results` and `units`.
//! - [`units`]: durations (one parser with its cap), formatting, and the one stop signal
//!   ([`Shutdown`]: raised by Ctrl-C, `abort_on_fail`, the cost cap and the dashboard's operator).
//! - [`spec`]: the profile: every table, `load()`, validation with located errors, the pure schedule.
//! - [`results`]: the on-disk contract: `run.json`, file names, timeline rows, interval logs, reading a
//!   results folder back (also one a killed run left), and what became of each message (failed at
//!   send or in a status webhook, delivered, lost: `results::fates`), the one source of every error
//!   rate a verdict or report shows.
//! - [`engine`]: load plan, executor, transport, the `Target` trait, recorders and the aggregator.
//! - [`drivers`]: plain HTTP, the WhatsApp Cloud / On-Premises targets, the webhook target (a user's
//!   own webhook endpoint under Meta-shaped POSTs), the conversation target (a user's bot: users write
//!   to its webhook, its replies through the simulated Cloud API are timed), and the factory.
//! - [`webhook`]: status webhooks: signatures, shapes, the receiver, delivery-latency correlation, the
//!   seeded bodies the webhook target sends, the on-disk records of sends and statuses that a
//!   standalone receiver's runs replay, and the conversation tracker (turns matched to replies).
//! - [`sim`]: the embedded simulator of both APIs (just another server on a loopback port), and the
//!   HTTPS proxy that serves it as `graph.facebook.com` to a bot that cannot change its address.
//! - [`app`]: the commands, one room each, named as the command line names it (`app::run`,
//!   `app::plan`, `app::merge`, `app::validate`, `app::import`, …: its flags, its `command` function
//!   and what only it uses), beside the plumbing they share (`cli`, `commands`, `session`,
//!   `thresholds`, `outputs`). No two files of one folder import each other (`tests/it/layers.rs`).
//! - [`report`]: terminal summary, charts, `report.html`, `compare`, CI outputs.
//!
//! # The API an embedding program may rely on
//! - [`load_profile`] reads and validates a profile ([`spec::Profile`]; errors are
//!   [`spec::ProfileError`], naming file, line, field and reason);
//! - [`run_profile`] runs it with [`RunOptions`] and writes the results folder ([`app::AppError`] when
//!   it cannot; a [`Shutdown`] stops it as Ctrl-C does);
//! - [`read_run`] and [`results::folder::load`] read a results folder back ([`results::ResultsError`]);
//!   [`report::write_report`] (re)draws its `report.html`;
//! - [`sim`] and [`webhook`] are servers to embed in a program's own tests.
//!
//! Everything else is public for the project's own tests and benchmarks and may change.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let profile = dir.path().join("doc.toml");
//! std::fs::write(
//!     &profile,
//!     r#"
//! name = "doc"
//! [load]
//! rate = 20
//! duration = "1s"
//! [[targets]]
//! name = "cloud"
//! kind = "cloud"
//! base_url = "embedded"   # the built-in Cloud API simulator on a loopback port
//! "#,
//! )?;
//! let loaded = wabench::load_profile(&profile)?;
//! let mut opts = wabench::RunOptions::new(dir.path().join("results"));
//! opts.report = false;
//! let ctrl_c = wabench::Shutdown::new(); // `ctrl_c.stop()` would end the run early, results written
//! let finished = wabench::run_profile(&loaded, &opts, ctrl_c.clone())?;
//! let run = wabench::read_run(&finished.dir)?;
//! let r = &run.targets[0].requests;
//! assert_eq!(r.sent, 20);
//! // Every attempt ended: accepted, or an error classified by the API's code (the simulator, like
//! // the real API, turns some recipients away).
//! assert_eq!(r.sent + r.retries, r.ok + r.errors + r.cancelled);
//! assert!(r.ok > 0);
//! # Ok(())
//! # }
//! ```

pub mod app;
pub mod drivers;
pub mod engine;
pub mod report;
pub mod results;
pub mod sim;
pub mod spec;
pub mod units;
pub mod webhook;

pub use app::run::{Options as RunOptions, run_profile};
pub use results::read_run;
pub use spec::load as load_profile;
pub use units::Shutdown;

/// Exit code when a threshold was crossed (as k6 does).
pub const EXIT_THRESHOLDS: i32 = 99;
/// Exit code for bad input or a failed run.
pub const EXIT_ERROR: i32 = 1;
/// Exit code when the run was interrupted (Ctrl-C / SIGTERM); results are still written.
pub const EXIT_INTERRUPTED: i32 = 130;
