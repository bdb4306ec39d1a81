//! `wabench run`: its command line, and what it does around running the profile: quick mode, the
//! live metrics, the summary and CI files, the baseline, and how the process ends.

use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use crate::app::args::{self, ProfileChanges};
use crate::app::exit::{self, Exit};
use crate::app::outputs::{self, CiFiles};
use crate::app::{AppError, signals, validate};
use crate::report;

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
    /// Replace the results in an --out folder that already holds a run (refused otherwise).
    #[arg(long)]
    pub force: bool,
    /// Parent folder of per-run result folders.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// No live progress line even on a terminal.
    #[arg(long)]
    pub quiet: bool,
    /// Confirm that remote WhatsApp targets may receive real, billable messages.
    #[arg(long)]
    pub yes: bool,
    /// Print the plan and what would be sent, then stop without sending anything.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub ci: CiFiles,
    /// A sharded run records its verdicts in run.json and exits 0 when a threshold is crossed, so that
    /// the other shards keep running and `wabench merge` decides on the whole; with this flag a shard
    /// exits 99 like an unsharded run.
    #[arg(long)]
    pub fail_on_thresholds: bool,
    /// Also save this run as the named baseline under <results>/baselines/NAME (a copy; replaces an
    /// earlier baseline of that name), for `wabench compare --baseline NAME`.
    #[arg(long, value_name = "NAME")]
    pub save_baseline: Option<String>,
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
    /// Serve a live page of the run with pause, resume, rate and stop controls at ADDR (a port alone
    /// binds 127.0.0.1; port 0 picks one). Beyond loopback a token printed at start is required.
    #[arg(long, value_name = "ADDR", value_parser = parse_dashboard_addr)]
    pub dashboard: Option<std::net::SocketAddr>,
    /// How often --metrics-push sends.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = humantime::parse_duration)]
    pub metrics_push_interval: std::time::Duration,
}

/// `wabench run`.
pub fn command(a: RunArgs) -> Result<Exit, AppError> {
    let shard = shard_of(a.shard.as_deref())?;
    let stdout_taken = a.ci.stdout_taken()?;
    let start_at = a.start_at.as_deref().map(|s| super::parse_start_at(s, SystemTime::now())).transpose()?;
    if let Some(name) = &a.save_baseline {
        crate::results::baseline::check_name(name).map_err(|e| format!("--save-baseline: {e}"))?;
        if shard.is_sharded() {
            return Err(format!(
                "--save-baseline with shard {}/{}: one shard is a part of the run; save the merged run's \
                 baseline with `wabench merge … --save-baseline {name}`",
                shard.index, shard.count
            )
            .into());
        }
    }
    // Quick mode: the flags become a profile in a temporary folder, kept until the run ends.
    let quick = if super::quick::is_url(&a.profile) {
        let cwd = std::env::current_dir().map_err(|e| format!("the current folder: {e}"))?;
        let text = super::quick::profile_text(&a.profile.to_string_lossy(), &a.quick, &cwd)?;
        Some((super::quick::write_profile(&text)?, text))
    } else {
        if let Some(flag) = a.quick.given().first() {
            return Err(format!(
                "{flag} is a quick-mode flag, for `wabench run URL`; {} is a profile: change its values with \
                 --set (e.g. --set load.rate=200)",
                a.profile.display()
            )
            .into());
        }
        None
    };
    let profile_path = quick.as_ref().map_or(a.profile.as_path(), |(t, _)| t.path.as_path());
    let loaded = args::load(profile_path, &a.changes)?;
    if a.dry_run {
        if let Some((_, text)) = &quick {
            println!("{text}");
        }
        print!("{}", validate::dry_run_text(&loaded));
        return Ok(Exit::Success);
    }
    warn(&loaded);
    let live = (a.metrics_listen.is_some() || a.metrics_push.is_some())
        .then(|| Arc::new(super::live::Registry::new(shard, &loaded.profile.name)));
    if let (Some(addr), Some(reg)) = (a.metrics_listen, &live) {
        let at = super::live::serve(addr, reg.clone())?;
        eprintln!("wabench: metrics at http://{at}/metrics");
    }
    let pusher = match (&a.metrics_push, &live) {
        (Some(url), Some(reg)) => Some(super::live::Pusher::start(url, a.metrics_push_interval, reg.clone())?),
        _ => None,
    };
    let dashboard = match a.dashboard {
        Some(addr) => Some(start_dashboard(addr, &loaded, shard)?),
        None => None,
    };
    let opts = super::Options {
        live,
        dashboard,
        report: !a.no_report,
        out: a.out,
        results_root: a.results.clone(),
        progress: !a.quiet && std::io::stderr().is_terminal(),
        progress_lines: (!a.quiet && !std::io::stderr().is_terminal()).then_some(std::time::Duration::from_secs(5)),
        yes: a.yes,
        shard,
        start_at,
        force: a.force,
    };
    let finished = super::run_profile(&loaded, &opts, signals::stop_on_signals());
    // The final values are pushed before the summary, also when the run failed.
    if let Some(p) = pusher {
        p.finish();
    }
    let finished = finished?;
    let mut human = outputs::human(stdout_taken);
    let _ = report::summary::write(&finished.run, &mut human);
    let _ = writeln!(human, "\nresults: {}", finished.dir.display());
    a.ci.write(&finished.run)?;
    if let Some(e) = finished.error {
        return Err(e.into());
    }
    if let Some(name) = &a.save_baseline {
        outputs::save_baseline(&a.results, name, &finished.dir, &finished.run, &mut human)?;
    }
    // A shard records its verdicts and leaves the decision to `wabench merge`: exiting 99 would make
    // an orchestrator (a Kubernetes Job, a CI matrix) stop the other shards mid-run.
    let decides = !shard.is_sharded() || a.fail_on_thresholds;
    Ok(exit::verdict(&finished.run, decides, &format!("shard {}/{}", shard.index, shard.count)))
}

/// The operator's side of the run and its page, served at `addr`; says where.
fn start_dashboard(
    addr: std::net::SocketAddr,
    loaded: &crate::spec::Loaded,
    shard: crate::results::Shard,
) -> Result<Arc<super::dashboard::Operator>, AppError> {
    let p = &loaded.profile;
    let plan = crate::engine::Plan::sharded(&p.load, shard);
    let op = super::dashboard::Operator::new(super::dashboard::RunInfo {
        profile: p.name.clone(),
        model: plan.model,
        duration: plan.duration,
        targets: p.targets.iter().map(|t| t.name.clone()).collect(),
        max_rate: p.load.max_rate.unwrap_or(1_000_000.0),
    });
    let (url, at) = super::dashboard::serve(addr, op.clone())?;
    eprintln!("wabench: dashboard at {url}");
    if !at.ip().is_loopback() {
        eprintln!("wabench: the dashboard is reachable beyond this machine; its token is required (in the URL above)");
    }
    Ok(op)
}

/// `--dashboard`: ADDR:PORT, or a port alone on 127.0.0.1.
fn parse_dashboard_addr(s: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(port) = s.trim().parse::<u16>() {
        return Ok(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    }
    s.trim().parse().map_err(|_| format!("{s:?}: expected ADDR:PORT (e.g. 127.0.0.1:8089) or a port"))
}

/// The profile's warnings, and the simulator targets whose estimate is above their cost cap.
fn warn(loaded: &crate::spec::Loaded) {
    for w in validate::warnings(loaded) {
        eprintln!("wabench: warning: {w}");
    }
    for (i, e) in crate::app::cost::over_cap(loaded) {
        if !loaded.profile.targets[i].is_real() {
            eprintln!("wabench: warning: {e}; on the simulator the run stops sending at the cap");
        }
    }
}

/// `--shard`, else JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs) with WABENCH_SHARDS.
fn shard_of(arg: Option<&str>) -> Result<crate::results::Shard, String> {
    if let Some(s) = arg {
        return crate::results::Shard::parse(s).map_err(|e| format!("--shard {e}"));
    }
    match (std::env::var("JOB_COMPLETION_INDEX"), std::env::var("WABENCH_SHARDS")) {
        (Ok(i), Ok(n)) => crate::results::Shard::parse(&format!("{i}/{n}"))
            .map_err(|e| format!("JOB_COMPLETION_INDEX / WABENCH_SHARDS: {e}")),
        (Ok(_), Err(_)) => Err("JOB_COMPLETION_INDEX is set but WABENCH_SHARDS (the shard count) is not".into()),
        _ => Ok(crate::results::Shard::default()),
    }
}
