//! The `wabench` binary: parse the command line, call the library, map the outcome to an exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use wabench::cli::{Cli, Command, SimFlavor};
use wabench::{EXIT_ERROR, EXIT_INTERRUPTED, EXIT_THRESHOLDS, profile, report, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate { profile } => match profile::load(&profile) {
            Ok(loaded) => {
                print!("{}", wabench::run::plan_text(&loaded));
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e.to_string()),
        },
        Command::Simulate { flavor, listen, profile, benchmark } => simulate(flavor, listen, profile, benchmark),
        Command::Run {
            profile,
            out,
            results,
            quiet,
            yes,
            dry_run,
            summary_json,
            junit,
            shard,
            start_at,
            metrics_listen,
            no_report,
        } => {
            let shard = match shard_of(shard.as_deref()) {
                Ok(s) => s,
                Err(e) => return fail(&e),
            };
            let start_at = match start_at.as_deref().map(|s| run::parse_start_at(s, std::time::SystemTime::now())) {
                None => None,
                Some(Ok(t)) => Some(t),
                Some(Err(e)) => return fail(&e),
            };
            let loaded = match profile::load(&profile) {
                Ok(l) => l,
                Err(e) => return fail(&e.to_string()),
            };
            if dry_run {
                print!("{}", wabench::run::plan_text(&loaded));
                let real = wabench::run::unconfirmed_real_targets(&loaded, true);
                if !real.is_empty() {
                    println!("remote WhatsApp targets (real, billable messages): {}", real.join(", "));
                }
                println!("dry run: nothing was sent");
                return ExitCode::SUCCESS;
            }
            for w in loaded.recipients.warnings(run::peak_rate(&loaded.profile.load)) {
                if loaded.profile.targets.iter().any(|t| t.kind != profile::TargetKind::Http) {
                    eprintln!("wabench: warning: {w}");
                }
            }
            let live = match metrics_listen {
                Some(addr) => {
                    let reg = std::sync::Arc::new(wabench::live::Registry::default());
                    match wabench::live::serve(addr, reg.clone()) {
                        Ok(a) => eprintln!("wabench: metrics at http://{a}/metrics"),
                        Err(e) => return fail(&e),
                    }
                    Some(reg)
                }
                None => None,
            };
            let stop = stop_on_signals();
            let opts = run::Options {
                live,
                report: !no_report,
                out,
                results_root: results,
                progress: !quiet && std::io::stderr().is_terminal(),
                yes,
                shard,
                start_at,
            };
            let finished = match run::run_profile(&loaded, &opts, stop) {
                Ok(f) => f,
                Err(e) => return fail(&e),
            };
            let mut stdout = std::io::stdout();
            let _ = report::summary::write(&finished.run, &mut stdout);
            println!("\nresults: {}", finished.dir.display());
            if let Some(path) = &summary_json
                && let Err(e) = write_file(path, |w| wabench::ci::write_summary_json(&finished.run, w))
            {
                return fail(&format!("{}: {e}", path.display()));
            }
            if let Some(path) = &junit
                && let Err(e) = write_file(path, |w| wabench::ci::write_junit(&finished.run, w))
            {
                return fail(&format!("{}: {e}", path.display()));
            }
            if let Some(e) = &finished.error {
                return fail(e);
            }
            if let Some(why) = &finished.run.aborted {
                eprintln!("wabench: stopped early, a threshold was crossed: {why}");
                return ExitCode::from(EXIT_THRESHOLDS as u8);
            }
            if finished.run.interrupted {
                return ExitCode::from(EXIT_INTERRUPTED as u8);
            }
            if !finished.run.passed {
                eprintln!("wabench: thresholds crossed");
                return ExitCode::from(EXIT_THRESHOLDS as u8);
            }
            ExitCode::SUCCESS
        }
        Command::Plan { profile, out, results, yes } => {
            let loaded = match profile::load(&profile) {
                Ok(l) => l,
                Err(e) => return fail(&e.to_string()),
            };
            let real = run::unconfirmed_real_targets(&loaded, yes);
            if !real.is_empty() {
                return fail(&format!(
                    "{}: target(s) {} would send real, billable WhatsApp messages; set confirm_real_traffic = true or pass --yes",
                    profile.display(),
                    real.join(", ")
                ));
            }
            let stop = stop_on_signals();
            let spec = loaded.profile.plan.clone().unwrap_or_default();
            let dir = out.unwrap_or_else(|| {
                results.join(format!("{}-plan-{}", loaded.profile.name, chrono::Utc::now().format("%Y%m%dT%H%M%SZ")))
            });
            match wabench::plan::search(&loaded, &spec, stop, &mut |line| eprintln!("wabench plan: {line}")) {
                Ok(bps) => {
                    print!("{}", wabench::plan::text(&bps));
                    match wabench::plan::write(&dir, &bps) {
                        Ok(d) => println!("plan: {}", d.display()),
                        Err(e) => return fail(&e),
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Command::Merge { dirs, out } => match wabench::merge::merge(&dirs, &out) {
            Ok(run) => {
                let _ = report::summary::write(&run, &mut std::io::stdout());
                if let Err(e) = report::write_report(&out) {
                    return fail(&format!("merged into {}, but the report failed: {e}", out.display()));
                }
                println!("\nmerged {} folders into {}", dirs.len(), out.display());
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        Command::Report { dir } => match report::write_report(&dir) {
            Ok(path) => {
                println!("report: {}", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        Command::Compare { dirs, out } => {
            let cmp = match report::compare::compare_dirs(&dirs) {
                Ok(c) => c,
                Err(e) => return fail(&e),
            };
            let _ = report::compare::write_text(&cmp, &mut std::io::stdout());
            let out = out.unwrap_or_else(|| dirs[0].clone());
            match report::compare::write_html(&cmp, &out) {
                Ok(path) => {
                    println!("\ncomparison: {}", path.display());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
    }
}

fn simulate(
    flavor: SimFlavor,
    listen: std::net::SocketAddr,
    profile: Option<std::path::PathBuf>,
    benchmark: bool,
) -> ExitCode {
    let flavor = match flavor {
        SimFlavor::Cloud => wabench::sim::Flavor::Cloud,
        SimFlavor::Onprem => wabench::sim::Flavor::OnPrem,
    };
    let mut cfg = match (&profile, benchmark) {
        (Some(p), _) => match profile::load(p) {
            Ok(l) => l.profile.simulator,
            Err(e) => return fail(&e.to_string()),
        },
        (None, true) => wabench::sim::SimConfig::benchmark(flavor),
        (None, false) => wabench::sim::SimConfig::default(),
    };
    cfg.flavor = flavor;
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start a runtime: {e}")),
    };
    let res: Result<(), String> = rt.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        println!("wabench simulator ({flavor:?}) listening on http://{addr} (Ctrl-C to stop)");
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        wabench::sim::serve(listener, cfg, shutdown).await.map_err(|e| e.to_string())
    });
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// `--shard`, else JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs) with WABENCH_SHARDS.
fn shard_of(arg: Option<&str>) -> Result<wabench::load::Shard, String> {
    if let Some(s) = arg {
        return wabench::load::Shard::parse(s).map_err(|e| format!("--shard {e}"));
    }
    match (std::env::var("JOB_COMPLETION_INDEX"), std::env::var("WABENCH_SHARDS")) {
        (Ok(i), Ok(n)) => wabench::load::Shard::parse(&format!("{i}/{n}"))
            .map_err(|e| format!("JOB_COMPLETION_INDEX / WABENCH_SHARDS: {e}")),
        (Ok(_), Err(_)) => Err("JOB_COMPLETION_INDEX is set but WABENCH_SHARDS (the shard count) is not".into()),
        _ => Ok(wabench::load::Shard::default()),
    }
}

/// Write a file atomically through a writer callback.
fn write_file(path: &std::path::Path, f: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    f(&mut buf)?;
    wabench::results::write_atomic(path, &buf)
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("wabench: error: {msg}");
    ExitCode::from(EXIT_ERROR as u8)
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
                    std::process::exit(EXIT_INTERRUPTED);
                }
            }
        });
    });
    rx
}

/// A faster allocator for the load path's many small, short-lived allocations (requests, headers).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
