//! The command line (clap derive). Parsing only; `app::commands` does the work.

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
    Run(Box<RunArgs>),
    /// Capacity planning: raise the arrival rate step by step until the profile's [plan] SLO breaks,
    /// bisect to the highest sustainable rate per target, and give sizing advice.
    Plan {
        profile: PathBuf,
        #[command(flatten)]
        changes: ProfileChanges,
        /// Folder for plan.json, plan.txt and steps.csv (default results/<name>-plan-<UTC timestamp>/).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Parent folder of result folders.
        #[arg(long, default_value = "results")]
        results: PathBuf,
        /// Confirm that remote WhatsApp targets may receive real, billable messages.
        #[arg(long)]
        yes: bool,
    },
    /// Merge the results folders of a sharded run into one (histograms added exactly, timelines aligned),
    /// judge the profile's thresholds on the whole, and exit 99 when one is crossed.
    Merge(MergeArgs),
    /// Serve the simulator of the Cloud API or On-Premises API until Ctrl-C.
    Simulate {
        /// Which API to imitate.
        #[arg(long, value_enum, default_value = "cloud")]
        flavor: SimFlavor,
        /// Address to listen on (loopback unless told otherwise).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Take the simulator settings from this profile's [simulator] table.
        #[arg(long)]
        profile: Option<PathBuf>,
        /// Serve with zero latency and no throughput limits (for throughput benchmarks).
        #[arg(long)]
        benchmark: bool,
        /// Post status webhooks (sent, delivered, read or failed) of every accepted message, and the
        /// inbound messages of [simulator.inbound] / --inbound-rate, to this URL, e.g. a client under
        /// test or `wabench receive`. Cloud webhooks are signed with the app secret of --app-secret-env.
        #[arg(long, value_name = "URL")]
        webhook_url: Option<String>,
        /// Environment variable holding the app secret that signs Cloud webhooks (X-Hub-Signature-256).
        #[arg(long, value_name = "VAR", default_value = "WABENCH_APP_SECRET")]
        app_secret_env: String,
        /// Post unsigned Cloud webhooks (no app secret needed).
        #[arg(long)]
        unsigned: bool,
        /// Inbound user messages per second to post to --webhook-url (overrides [simulator.inbound] rate).
        #[arg(long, value_name = "PER_SECOND")]
        inbound_rate: Option<f64>,
        /// Worker threads serving requests (default: one per core). 1 leaves the other cores to a load
        /// generator on the same machine.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
        threads: Option<u16>,
        #[command(flatten)]
        server: SimServerArgs,
    },
    /// Receive status webhooks on their own, for sharded runs and runs against the real API: answers
    /// the handshake, checks signatures, serves HTTPS (--tls-cert/--tls-key) or plain HTTP behind a
    /// proxy, and records every status to DIR until Ctrl-C or SIGTERM, for `wabench merge --webhooks`.
    Receive(ReceiveArgs),
    /// Import another load tester's results (JMeter, k6, vegeta, HdrHistogram logs, wrk2, Locust, oha)
    /// as a results folder that `report`, `compare` and `merge` read like a run.
    Import(ImportArgs),
    /// Check a profile without sending anything and print the plan.
    Validate {
        profile: PathBuf,
        #[command(flatten)]
        changes: ProfileChanges,
        /// Print the plan as JSON (for scripts) instead of text.
        #[arg(long)]
        json: bool,
    },
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
    Compare(CompareArgs),
    /// Write a commented starter profile to edit: http (a plain endpoint), campaign (WhatsApp templates
    /// on the embedded Cloud API) or webhook (your webhook endpoint under Meta-shaped load).
    Init {
        #[arg(value_enum)]
        kind: super::init::Starter,
        /// The file to write (default KIND.toml in the current folder).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Print the JSON Schema of a profile (the file shipped as profiles/wabench-profile.schema.json), for
    /// editors that complete and check TOML against a schema.
    Schema {
        /// Write the schema to this file instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
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

/// The simulator's HTTP server limits; each one given overrides the profile's [simulator.server].
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct SimServerArgs {
    /// A request head must arrive whole within this, or it is answered 408 and the connection closed
    /// (default 30s, as hyper's server).
    #[arg(long, value_name = "DURATION", value_parser = crate::units::duration::parse)]
    pub read_header_timeout: Option<std::time::Duration>,
    /// Close a connection that keeps the simulator waiting this long: no next request on a kept
    /// connection, a request body not whole, an answer not taken (default 30s).
    #[arg(long, value_name = "DURATION", value_parser = crate::units::duration::parse)]
    pub idle_timeout: Option<std::time::Duration>,
    /// Connections served at once; one beyond is closed at once, and one line says the cap was
    /// reached (default 10000).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SimFlavor {
    Cloud,
    Onprem,
}

/// What changes a profile as it is read: `--set` overrides and `-e` variables (run, validate, plan).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ProfileChanges {
    /// Override a profile value by dotted path, typed and validated like the file, e.g.
    /// load.rate=200, load.duration=5m, targets.cloud.base_url=https://…, 'thresholds."latency.p99"=< 500ms'.
    /// Repeatable. Secret fields are refused: they come only from the environment.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// A variable for `${NAME}` in the profile's strings, taken before the environment, e.g.
    /// -e HOST=staging.example. Repeatable. `${NAME:-default}` gives a default.
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
}

/// `wabench run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The profile (TOML), or an http:// or https:// URL to load-test one endpoint without a profile
    /// (quick mode: --rate, --stage, --duration, --method, --with-header, --body …).
    pub profile: PathBuf,
    #[command(flatten)]
    pub changes: ProfileChanges,
    #[command(flatten)]
    pub quick: super::quick::QuickArgs,
    /// Write results into this folder instead of results/<name>-<UTC timestamp>/.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
    /// No live progress line even on a terminal.
    #[arg(long)]
    pub quiet: bool,
    /// Confirm that remote WhatsApp targets may receive real, billable messages.
    #[arg(long)]
    pub yes: bool,
    /// Print the plan and what would be sent, then stop without sending anything.
    #[arg(long)]
    pub dry_run: bool,
    /// A sharded run records its verdicts in run.json and exits 0 when a threshold is crossed, so that
    /// the other shards keep running and `wabench merge` decides on the whole; with this flag a shard
    /// exits 99 like an unsharded run.
    #[arg(long)]
    pub fail_on_thresholds: bool,
    /// Run shard i of N (0-based): every N-th request of the plan, 1/N of the virtual users.
    /// Defaults to JOB_COMPLETION_INDEX / WABENCH_SHARDS when those are set (Kubernetes Indexed Jobs).
    #[arg(long, value_name = "i/N")]
    pub shard: Option<String>,
    /// Start at this wall-clock time, so that shards begin together: an RFC 3339 time
    /// ("2026-11-25T14:00:00Z") or "align:DURATION" (the next multiple of DURATION, at least 5 s away).
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,
    /// Skip drawing report.html and the charts at the end (run `wabench report DIR` later).
    #[arg(long)]
    pub no_report: bool,
    /// Serve Prometheus metrics of the run at http://ADDR/metrics (e.g. 127.0.0.1:9898).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Push the same metrics to a Prometheus remote-write URL (e.g. http://prometheus:9090/api/v1/write)
    /// every --metrics-push-interval and once at the end; a bearer token is read from
    /// WABENCH_METRICS_PUSH_TOKEN when set.
    #[arg(long, value_name = "URL")]
    pub metrics_push: Option<String>,
    /// How often --metrics-push sends.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = humantime::parse_duration)]
    pub metrics_push_interval: std::time::Duration,
}

/// `wabench receive`.
#[derive(Debug, clap::Args)]
pub struct ReceiveArgs {
    /// Address to listen on, e.g. 0.0.0.0:8443.
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: std::net::SocketAddr,
    /// Folder of the records: statuses-<start>-<pid>.csv, and receiver-<start>-<pid>.json when it stops.
    #[arg(long, default_value = "webhooks")]
    pub out: PathBuf,
    /// Request path of the callback URL.
    #[arg(long, default_value = "/webhook")]
    pub path: String,
    /// Serve HTTPS with this certificate chain (PEM, leaf first); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Environment variable holding the app secret that signs webhooks (X-Hub-Signature-256).
    #[arg(long, value_name = "VAR", default_value = "WABENCH_APP_SECRET")]
    pub app_secret_env: String,
    /// Environment variable holding the verify token of the subscription handshake (unset: every
    /// handshake is refused).
    #[arg(long, value_name = "VAR", default_value = "WABENCH_VERIFY_TOKEN")]
    pub verify_token_env: String,
    /// Accept unsigned webhooks (the On-Premises API does not sign; it relies on TLS).
    #[arg(long)]
    pub no_signature: bool,
    /// Largest accepted body in bytes (larger posts are answered 413).
    #[arg(long, value_name = "BYTES", default_value_t = crate::spec::webhook::DEFAULT_MAX_BODY_BYTES)]
    pub max_body: usize,
    /// Worker threads serving webhooks. 1 leaves the other core of a 2-core machine to whatever posts.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: u16,
}

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
    #[command(flatten)]
    pub output: OutputArgs,
    /// The folder of `wabench receive` that got the shards' status webhooks ([webhooks] receiver_url):
    /// delivery latency and lost/failed counts come from the shards' sends joined with its statuses.
    /// TARGET=DIR when several targets recorded sends. Repeatable.
    #[arg(long, value_name = "[TARGET=]DIR")]
    pub webhooks: Vec<String>,
}

/// The output flags `run` and `merge` share: replacing an --out folder, where results and baselines
/// are kept, and the files a CI system reads.
#[derive(Debug, clap::Args)]
pub struct OutputArgs {
    /// Replace the results in an --out folder that already holds a run (refused otherwise).
    #[arg(long)]
    pub force: bool,
    /// Parent folder of results folders (each run's, and the baselines).
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Also write a compact summary (counts, rates, percentiles, thresholds) as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Also write a JUnit XML file with one test case per threshold, for CI systems.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also save the run (of `merge`: the merged run) as the named baseline under
    /// <results>/baselines/NAME (a copy; replaces an earlier baseline of that name), for
    /// `wabench compare --baseline NAME`.
    #[arg(long, value_name = "NAME")]
    pub save_baseline: Option<String>,
}

/// `wabench compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Results folders; the first is the baseline (unless --baseline names one).
    #[arg(required = true, num_args = 1..)]
    pub dirs: Vec<PathBuf>,
    /// Compare against this named baseline (saved with `run --save-baseline NAME`) instead of the
    /// first folder.
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
    /// Parent folder of results folders (where baselines are kept).
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// A gate, e.g. "p99 > 1.10" (ratio of B to A; also p50, p90, p99.9, max, rate) or
    /// "error_rate > +0.5pp" (B minus A in percentage points; also drop_rate), optionally for one
    /// target ("cloud:p99 > 1.10"). Fails, and the command exits 99, only when the whole 95% bootstrap
    /// interval lies beyond the bound: a regression beyond run-to-run noise. Repeatable.
    #[arg(long = "fail-if", value_name = "GATE")]
    pub fail_if: Vec<String>,
    /// Write the comparison as JSON (every row, interval and gate verdict) to FILE, or to stdout with
    /// "-" (the table then goes to stderr).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Where to write compare.html and its chart [default: a new folder <results>/compare-<UTC time>;
    /// never a compared run's folder unless named here].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write into an --out folder that already holds a comparison or a run (refused otherwise).
    #[arg(long)]
    pub force: bool,
}

/// `wabench import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The source's format.
    #[arg(long, value_enum)]
    pub from: super::import::Format,
    /// The files to read (several: e.g. one JMeter .jtl per load generator).
    #[arg(required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// The run's name (in run.json; the default folder is results/<name>-<the source's start time>).
    #[arg(long)]
    pub name: String,
    /// Put every request into one target of this name (otherwise each label becomes a target).
    #[arg(long, value_name = "LABEL")]
    pub target: Option<String>,
    /// Keep only requests with this label (JMeter label, k6 name tag, Locust name, log tag); repeatable.
    #[arg(long = "label", value_name = "LABEL")]
    pub labels: Vec<String>,
    /// Write the results folder here instead of results/<name>-<source start>/ (must not exist).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Parent folder of the default results folder.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// The latency unit of a source that does not name it (HdrHistogram logs and printouts).
    #[arg(long, value_enum)]
    pub unit: Option<super::import::Unit>,
    /// Skip drawing report.html and the charts (run `wabench report DIR` later).
    #[arg(long)]
    pub no_report: bool,
}
