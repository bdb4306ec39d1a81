//! wabench: load tests and compares WhatsApp Cloud API, On-Premises API and plain HTTP endpoints.
//!
//! Map of the crate (data flows top to bottom):
//! - [`profile`]: TOML profile → checked `Profile`, located errors.
//! - [`load`]: `Plan`, the pure `Pacer`, and the executor (one single-threaded runtime per thread,
//!   one connection per task, latency from the intended start).
//! - [`target`]: the `Target` trait (build requests, classify responses) and the HTTP transport.
//! - [`metrics`]: per-thread HDR recorders, per-second intervals, exact merge, interval logs.
//! - [`plan`]: capacity planning: breakpoint search and sizing advice.
//! - [`live`]: the Prometheus `/metrics` endpoint of a running run.
//! - [`run`]: runs a profile's targets and writes the results folder.
//! - [`results`]: the `run.json` schema and atomic writes.
//! - [`merge`]: joins the results of a sharded run (histograms added, timelines aligned).
//! - [`threshold`]: pass/fail criteria.
//! - [`report`]: terminal summary, charts (PNG/SVG), the self-contained `report.html`, and `compare`
//!   (ratios between runs with bootstrap intervals).
//! - [`whatsapp`]: Cloud API and On-Premises API targets: message mix, recipients, codes, retries, login.
//! - [`sim`]: the embedded simulator of both APIs (just another server on a loopback port).
//! - [`webhook`]: status webhooks: signatures, shapes, the receiver, delivery-latency correlation.
//! - [`ci`]: summary JSON and JUnit XML for CI systems.
//! - [`cli`]: the command line; `main.rs` only parses and maps errors to exit codes.

pub mod background;
pub mod ci;
pub mod cli;
pub mod live;
pub mod load;
pub mod merge;
pub mod metrics;
pub mod plan;
pub mod profile;
pub mod report;
pub mod results;
pub mod run;
pub mod sim;
pub mod target;
pub mod threshold;
pub mod webhook;
pub mod whatsapp;

/// Exit code when a threshold was crossed (as k6 does).
pub const EXIT_THRESHOLDS: i32 = 99;
/// Exit code for bad input or a failed run.
pub const EXIT_ERROR: i32 = 1;
/// Exit code when the run was interrupted (Ctrl-C / SIGTERM); results are still written.
pub const EXIT_INTERRUPTED: i32 = 130;
