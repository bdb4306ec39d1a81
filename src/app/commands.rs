//! The commands of the `wabench` binary: each takes its parsed arguments, does its work through the
//! other layers, and says how the process should end ([`Exit`]), or why it failed.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::AppError;
use super::cli::{Command, ImportArgs, RunArgs, SimFlavor};
use super::run;
use super::validate::{dry_run_text, plan_text, unconfirmed_real_targets};
use crate::spec::Loaded;
use crate::{report, spec};

/// How a command that did its work ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    /// A threshold was crossed (exit 99).
    Thresholds,
    /// Stopped by Ctrl-C / SIGTERM; results were written (exit 130).
    Interrupted,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> i32 {
        match self {
            Exit::Success => 0,
            Exit::Thresholds => crate::EXIT_THRESHOLDS,
            Exit::Interrupted => crate::EXIT_INTERRUPTED,
        }
    }
}

/// Carry out one command.
pub fn execute(command: Command) -> Result<Exit, AppError> {
    match command {
        Command::Validate { profile } => {
            print!("{}", plan_text(&load(&profile)?));
            Ok(Exit::Success)
        }
        Command::Simulate { flavor, listen, profile, benchmark } => simulate(flavor, listen, profile, benchmark),
        Command::Run(args) => run(args),
        Command::Import(args) => import(args),
        Command::Plan { profile, out, results, yes } => plan(&profile, out, &results, yes),
        Command::Merge { dirs, out } => {
            let run = super::merge::merge(&dirs, &out)?;
            let _ = report::summary::write(&run, &mut std::io::stdout());
            report::write_report(&out)
                .map_err(|e| format!("merged into {}, but the report failed: {e}", out.display()))?;
            println!("\nmerged {} folders into {}", dirs.len(), out.display());
            Ok(Exit::Success)
        }
        Command::Report { dir } => {
            println!("report: {}", report::write_report(&dir)?.display());
            Ok(Exit::Success)
        }
        Command::Compare { dirs, out } => {
            let cmp = report::compare::compare_dirs(&dirs)?;
            let _ = report::compare::write_text(&cmp, &mut std::io::stdout());
            let path = report::compare::write_html(&cmp, &out.unwrap_or_else(|| dirs[0].clone()))?;
            println!("\ncomparison: {}", path.display());
            Ok(Exit::Success)
        }
    }
}

fn load(path: &Path) -> Result<Loaded, AppError> {
    Ok(spec::load(path)?)
}

/// `wabench run`.
fn run(a: RunArgs) -> Result<Exit, AppError> {
    let shard = shard_of(a.shard.as_deref())?;
    let start_at = a.start_at.as_deref().map(|s| run::parse_start_at(s, SystemTime::now())).transpose()?;
    let loaded = load(&a.profile)?;
    if a.dry_run {
        print!("{}", dry_run_text(&loaded));
        return Ok(Exit::Success);
    }
    for w in super::validate::warnings(&loaded) {
        eprintln!("wabench: warning: {w}");
    }
    let live = match a.metrics_listen {
        Some(addr) => {
            let reg = Arc::new(super::live::Registry::default());
            let at = super::live::serve(addr, reg.clone())?;
            eprintln!("wabench: metrics at http://{at}/metrics");
            Some(reg)
        }
        None => None,
    };
    let opts = run::Options {
        live,
        report: !a.no_report,
        out: a.out,
        results_root: a.results,
        progress: !a.quiet && std::io::stderr().is_terminal(),
        yes: a.yes,
        shard,
        start_at,
    };
    let finished = run::run_profile(&loaded, &opts, stop_on_signals())?;
    let _ = report::summary::write(&finished.run, &mut std::io::stdout());
    println!("\nresults: {}", finished.dir.display());
    if let Some(path) = &a.summary_json {
        write_file(path, |w| report::ci::write_summary_json(&finished.run, w))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if let Some(path) = &a.junit {
        write_file(path, |w| report::ci::write_junit(&finished.run, w))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if let Some(e) = finished.error {
        return Err(e.into());
    }
    if let Some(why) = &finished.run.aborted {
        eprintln!("wabench: stopped early, a threshold was crossed: {why}");
        return Ok(Exit::Thresholds);
    }
    if finished.run.interrupted {
        return Ok(Exit::Interrupted);
    }
    if !finished.run.passed {
        eprintln!("wabench: thresholds crossed");
        return Ok(Exit::Thresholds);
    }
    Ok(Exit::Success)
}

/// `wabench import`.
fn import(a: ImportArgs) -> Result<Exit, AppError> {
    let req = super::import::Request {
        from: a.from,
        files: a.files,
        name: a.name,
        target: a.target,
        labels: a.labels,
        out: a.out,
        results_root: a.results,
        unit: a.unit,
    };
    let (dir, run) = super::import::import(&req)?;
    let _ = report::summary::write(&run, &mut std::io::stdout());
    if let Some(imp) = &run.imported {
        for u in &imp.unavailable {
            println!("not in the source: {u}");
        }
    }
    if !a.no_report {
        report::write_report(&dir)
            .map_err(|e| format!("imported into {}, but the report failed: {e}", dir.display()))?;
    }
    println!("\nimported: {}", dir.display());
    Ok(Exit::Success)
}

/// `wabench plan`.
fn plan(profile: &Path, out: Option<PathBuf>, results: &Path, yes: bool) -> Result<Exit, AppError> {
    let loaded = load(profile)?;
    let real = unconfirmed_real_targets(&loaded, yes);
    if !real.is_empty() {
        return Err(format!(
            "{}: target(s) {} would send real, billable WhatsApp messages; set confirm_real_traffic = true or pass --yes",
            profile.display(),
            real.join(", ")
        )
        .into());
    }
    let stop = stop_on_signals();
    let spec = loaded.profile.plan.clone().unwrap_or_default();
    let dir = out.unwrap_or_else(|| {
        results.join(format!("{}-plan-{}", loaded.profile.name, chrono::Utc::now().format("%Y%m%dT%H%M%SZ")))
    });
    let bps = super::capacity::search(&loaded, &spec, stop, &mut |line| eprintln!("wabench plan: {line}"))?;
    print!("{}", super::capacity::text(&bps));
    println!("plan: {}", super::capacity::write(&dir, &bps)?.display());
    Ok(Exit::Success)
}

fn simulate(
    flavor: SimFlavor,
    listen: std::net::SocketAddr,
    profile: Option<std::path::PathBuf>,
    benchmark: bool,
) -> Result<Exit, AppError> {
    let flavor = match flavor {
        SimFlavor::Cloud => crate::sim::Flavor::Cloud,
        SimFlavor::Onprem => crate::sim::Flavor::OnPrem,
    };
    let mut cfg = match (&profile, benchmark) {
        (Some(p), _) => match spec::load(p) {
            Ok(l) => l.profile.simulator,
            Err(e) => return Err(e.into()),
        },
        (None, true) => crate::spec::sim::SimConfig::benchmark(flavor),
        (None, false) => crate::spec::sim::SimConfig::default(),
    };
    cfg.flavor = flavor;
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return Err(format!("cannot start a runtime: {e}").into()),
    };
    let res: Result<(), String> = rt.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        println!("wabench simulator ({flavor:?}) listening on http://{addr} (Ctrl-C to stop)");
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        crate::sim::serve(listener, cfg, shutdown).await.map_err(|e| e.to_string())
    });
    Ok(res.map(|()| Exit::Success)?)
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

/// Write a file atomically through a writer callback.
fn write_file(path: &std::path::Path, f: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    f(&mut buf)?;
    crate::results::write_atomic(path, &buf)
}

/// The first Ctrl-C or SIGTERM asks the run to stop and write its results; a second one exits at once.
fn stop_on_signals() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
        rt.block_on(async move {
            let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
                return;
            };
            for n in 0.. {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
                if n == 0 {
                    eprintln!(
                        "\nwabench: stopping; finishing requests in flight and writing results (again to quit now)"
                    );
                    let _ = tx.send(true);
                } else {
                    std::process::exit(crate::EXIT_INTERRUPTED);
                }
            }
        });
    });
    rx
}
