//! wabench: load tests and compares WhatsApp Cloud API, On-Premises API and plain HTTP endpoints.
//!
//! Layers (each imports only those to its left; `tests/it/layers.rs` checks it):
//! `units` ← `spec` ← `engine` ← `drivers` ← `app`, with `results` beside `spec` (it imports only
//! `units`), `webhook` and `sim` over `spec` and `results`, and `report` over `results` and `units`.
//! - [`units`]: durations (one parser with its cap) and formatting.
//! - [`spec`]: the profile: every table, `load()`, validation with located errors, the pure schedule.
//! - [`results`]: the on-disk contract: `run.json`, file names, timeline rows, interval logs, reading a
//!   results folder back (also one a killed run left).
//! - [`engine`]: load plan, executor, transport, the `Target` trait, recorders and the aggregator.
//! - [`drivers`]: plain HTTP and the WhatsApp Cloud / On-Premises targets, and the factory.
//! - [`webhook`]: status webhooks: signatures, shapes, the receiver, delivery-latency correlation.
//! - [`sim`]: the embedded simulator of both APIs (just another server on a loopback port).
//! - [`app`]: run, capacity planning, merge, the live metrics endpoint, threshold verdicts.
//! - [`report`]: terminal summary, charts, `report.html`, `compare`, CI outputs.

pub mod app;
pub mod drivers;
pub mod engine;
pub mod report;
pub mod results;
pub mod sim;
pub mod spec;
pub mod units;
pub mod webhook;

/// Exit code when a threshold was crossed (as k6 does).
pub const EXIT_THRESHOLDS: i32 = 99;
/// Exit code for bad input or a failed run.
pub const EXIT_ERROR: i32 = 1;
/// Exit code when the run was interrupted (Ctrl-C / SIGTERM); results are still written.
pub const EXIT_INTERRUPTED: i32 = 130;
