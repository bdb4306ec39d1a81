//! The command line (clap derive): the list of commands. Each command's flags are defined in its own
//! room (`app::run::RunArgs`, `app::merge::MergeArgs`, …), next to what it does; `app::commands`
//! hands each parsed command to its room.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "wabench",
    version,
    about = "Load tests and compares WhatsApp Cloud API, On-Premises API and plain HTTP endpoints."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a profile and write results (run.json, interval logs, timeline) to a new folder.
    Run(Box<super::run::RunArgs>),
    /// Capacity planning: raise the arrival rate step by step until the profile's [plan] SLO breaks,
    /// bisect to the highest sustainable rate per target, and give sizing advice.
    Plan(super::plan::PlanArgs),
    /// Merge the results folders of a sharded run into one (histograms added exactly, timelines aligned),
    /// judge the profile's thresholds on the whole, and exit 99 when one is crossed.
    Merge(super::merge::MergeArgs),
    /// Serve the simulator of the Cloud API or On-Premises API until Ctrl-C.
    Simulate(super::simulate::SimulateArgs),
    /// Receive status webhooks on their own, for sharded runs and runs against the real API: answers
    /// the handshake, checks signatures, serves HTTPS (--tls-cert/--tls-key) or plain HTTP behind a
    /// proxy, and records every status to DIR until Ctrl-C or SIGTERM, for `wabench merge --webhooks`.
    Receive(super::receive::ReceiveArgs),
    /// Import another load tester's results (JMeter, k6, vegeta, HdrHistogram logs, wrk2, Locust, oha)
    /// as a results folder that `report`, `compare` and `merge` read like a run.
    Import(super::import::ImportArgs),
    /// Check a profile without sending anything and print the plan.
    Validate(super::validate::ValidateArgs),
    /// Redraw the charts and report.html of a results folder from its run.json, interval logs and
    /// timeline.csv, without running anything.
    Report {
        /// A results folder (the one `run` wrote).
        dir: PathBuf,
    },
    /// Compare runs: ratios of each later run to the first per percentile and rate, with 95% bootstrap
    /// intervals; prints a table and writes compare.html with an overlaid latency spectrum. With a single
    /// results folder, compares its targets.
    ///
    /// With --fail-if gates it exits 99 when a regression is beyond noise.
    Compare(super::compare::CompareArgs),
    /// Write a commented starter profile to edit: http (a plain endpoint), campaign (WhatsApp templates
    /// on the embedded Cloud API), webhook (your webhook endpoint under Meta-shaped load) or bot (your
    /// bot end to end: users write in, it replies through the simulated Cloud API).
    Init(super::init::InitArgs),
    /// Print the JSON Schema of a profile (the file shipped as profiles/wabench-profile.schema.json), for
    /// editors that complete and check TOML against a schema.
    Schema {
        /// Write the schema to this file instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Write the reference pages of the manual (Markdown): every command with its options and examples,
    /// every profile field, the exit codes.
    Reference {
        /// The folder to write commands.md, profile.md and exit-codes.md into.
        #[arg(long, value_name = "DIR", default_value = "docs/src/reference")]
        out: PathBuf,
    },
    /// Print a shell completion script for wabench.
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print wabench's manual page (roff), or write one page per command into a folder.
    Man {
        /// Write wabench.1 and wabench-COMMAND.1 for every command into this folder instead of printing
        /// wabench.1.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}
