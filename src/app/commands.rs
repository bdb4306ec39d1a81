//! The commands of the `wabench` binary: each takes its parsed arguments, does its work through the
//! other layers, and says how the process should end ([`Exit`]), or why it failed.

use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::AppError;
use super::cli::{Command, ImportArgs, MergeArgs, ProfileChanges, ReceiveArgs, RunArgs, SimFlavor};
use super::validate::{dry_run_text, plan_text, unconfirmed_real_targets};
use super::{outputs, run};
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
        Command::Validate { profile, changes, json } => {
            let loaded = load(&profile, &changes)?;
            if let Some(e) = super::preflight::errors(&loaded, &super::preflight::check(&loaded)) {
                return Err(e.into());
            }
            print!("{}", if json { super::plan_json::plan_json(&loaded) } else { plan_text(&loaded) });
            Ok(Exit::Success)
        }
        Command::Simulate {
            flavor,
            listen,
            profile,
            benchmark,
            webhook_url,
            app_secret_env,
            unsigned,
            inbound_rate,
            threads,
            server,
        } => {
            let hooks = SimHooks { url: webhook_url, app_secret_env, unsigned, inbound_rate };
            simulate(flavor, listen, profile, benchmark, hooks, threads, server)
        }
        Command::Receive(args) => receive(args),
        Command::Run(args) => run(*args),
        Command::Import(args) => import(args),
        Command::Plan { profile, changes, out, results, yes } => plan(&profile, &changes, out, &results, yes),
        Command::Merge(args) => merge(args),
        Command::Report { dir } => {
            println!("report: {}", report::write_report(&dir)?.display());
            Ok(Exit::Success)
        }
        Command::Compare(args) => super::compare::run(args),
        Command::Init { kind, out, force } => {
            let path = super::init::write(kind, out.as_deref(), force)?;
            eprintln!(
                "wrote {p}: edit it, check it with `wabench validate {p}`, run it with `wabench run {p}`",
                p = path.display()
            );
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
            super::help::completions(shell, &mut std::io::stdout().lock());
            Ok(Exit::Success)
        }
        Command::Man { out: None } => {
            super::help::man_page(&mut std::io::stdout().lock())
                .map_err(|e| format!("cannot write the manual: {e}"))?;
            Ok(Exit::Success)
        }
        Command::Man { out: Some(dir) } => {
            let pages = super::help::man_pages(&dir)
                .map_err(|e| format!("cannot write manual pages to {}: {e}", dir.display()))?;
            eprintln!("man: {} pages in {}", pages.len(), dir.display());
            Ok(Exit::Success)
        }
    }
}

/// Load a profile with its `--set` overrides and `-e` variables.
fn load(path: &Path, changes: &ProfileChanges) -> Result<Loaded, AppError> {
    let sets: Vec<spec::overrides::Override> =
        changes.set.iter().map(|s| spec::overrides::Override::parse(s)).collect::<Result<_, _>>()?;
    let vars = spec::interpolate::Vars::parse(&changes.env)?;
    Ok(spec::load_with(path, &sets, &vars)?)
}

/// `wabench run`.
fn run(a: RunArgs) -> Result<Exit, AppError> {
    let shard = shard_of(a.shard.as_deref())?;
    let stdout_taken = outputs::one_on_stdout(&[
        ("--summary-json", a.output.summary_json.as_deref()),
        ("--junit", a.output.junit.as_deref()),
    ])?;
    let start_at = a.start_at.as_deref().map(|s| run::parse_start_at(s, SystemTime::now())).transpose()?;
    if let Some(name) = &a.output.save_baseline {
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
    let loaded = load(profile_path, &a.changes)?;
    if a.dry_run {
        if let Some((_, text)) = &quick {
            println!("{text}");
        }
        print!("{}", dry_run_text(&loaded));
        return Ok(Exit::Success);
    }
    for w in super::validate::warnings(&loaded) {
        eprintln!("wabench: warning: {w}");
    }
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
    let opts = run::Options {
        live,
        report: !a.no_report,
        out: a.out,
        results_root: a.output.results.clone(),
        progress: !a.quiet && std::io::stderr().is_terminal(),
        progress_lines: (!a.quiet && !std::io::stderr().is_terminal()).then_some(std::time::Duration::from_secs(5)),
        yes: a.yes,
        shard,
        start_at,
        force: a.output.force,
    };
    let finished = run::run_profile(&loaded, &opts, stop_on_signals());
    // The final values are pushed before the summary, also when the run failed.
    if let Some(p) = pusher {
        p.finish();
    }
    let finished = finished?;
    let mut human = outputs::human(stdout_taken);
    let _ = report::summary::write(&finished.run, &mut human);
    let _ = writeln!(human, "\nresults: {}", finished.dir.display());
    outputs::write_ci_files(&finished.run, a.output.summary_json.as_deref(), a.output.junit.as_deref())?;
    if let Some(e) = finished.error {
        return Err(e.into());
    }
    if let Some(name) = &a.output.save_baseline {
        save_baseline(&a.output.results, name, &finished.dir, &finished.run, &mut human)?;
    }
    // A shard records its verdicts and leaves the decision to `wabench merge`: exiting 99 would make
    // an orchestrator (a Kubernetes Job, a CI matrix) stop the other shards mid-run.
    let decides = !shard.is_sharded() || a.fail_on_thresholds;
    Ok(verdict(&finished.run, decides, &format!("shard {}/{}", shard.index, shard.count)))
}

/// How a finished run ends: 99 when a threshold was crossed (or the run stopped on one), 130 when it
/// was interrupted, else 0. With `decides` false (a shard), crossed thresholds are reported and exit 0.
fn verdict(run: &crate::results::Run, decides: bool, part: &str) -> Exit {
    let crossed = match &run.aborted {
        Some(why) => Some(format!("stopped early, a threshold was crossed: {why}")),
        None if !run.passed && !run.interrupted => Some("thresholds crossed".to_string()),
        None => None,
    };
    match crossed {
        Some(what) if decides => {
            eprintln!("wabench: {what}");
            Exit::Thresholds
        }
        Some(what) => {
            eprintln!(
                "wabench: {part}: {what}; recorded in run.json, exit 0: `wabench merge` judges the whole run \
                 (--fail-on-thresholds to exit 99 here)"
            );
            Exit::Success
        }
        None if run.interrupted => Exit::Interrupted,
        None => Exit::Success,
    }
}

/// `wabench merge`: the parts joined, the profile's thresholds judged on the whole.
fn merge(a: MergeArgs) -> Result<Exit, AppError> {
    let stdout_taken = outputs::one_on_stdout(&[
        ("--summary-json", a.output.summary_json.as_deref()),
        ("--junit", a.output.junit.as_deref()),
    ])?;
    if let Some(name) = &a.output.save_baseline {
        crate::results::baseline::check_name(name).map_err(|e| format!("--save-baseline: {e}"))?;
    }
    let webhooks: Vec<super::merge::Webhooks> = a.webhooks.iter().map(|w| super::merge::Webhooks::parse(w)).collect();
    let run = super::merge::merge_with(&a.dirs, &a.out, a.output.force, &webhooks)?;
    let mut human = outputs::human(stdout_taken);
    let _ = report::summary::write(&run, &mut human);
    report::write_report(&a.out).map_err(|e| format!("merged into {}, but the report failed: {e}", a.out.display()))?;
    let _ = writeln!(human, "\nmerged {} folders into {}", a.dirs.len(), a.out.display());
    outputs::write_ci_files(&run, a.output.summary_json.as_deref(), a.output.junit.as_deref())?;
    if let Some(name) = &a.output.save_baseline {
        save_baseline(&a.output.results, name, &a.out, &run, &mut human)?;
    }
    Ok(verdict(&run, true, "merge"))
}

/// Save a finished run as a named baseline; an interrupted or aborted run is not one (its figures
/// cover part of the plan), so it is left unsaved with a warning.
fn save_baseline(
    root: &Path,
    name: &str,
    dir: &Path,
    run: &crate::results::Run,
    human: &mut dyn std::io::Write,
) -> Result<(), String> {
    if run.interrupted || run.aborted.is_some() {
        eprintln!("wabench: warning: baseline {name:?} not saved: the run did not finish its plan");
        return Ok(());
    }
    let (at, replaced) = crate::results::baseline::save(root, name, dir)?;
    let was = replaced.map(|w| format!(" (replaces the one saved from {w})")).unwrap_or_default();
    let _ = writeln!(human, "baseline {name:?} saved: {}{was}", at.display());
    Ok(())
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
fn plan(
    profile: &Path,
    changes: &ProfileChanges,
    out: Option<PathBuf>,
    results: &Path,
    yes: bool,
) -> Result<Exit, AppError> {
    let loaded = load(profile, changes)?;
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

/// `wabench simulate`'s webhook options.
struct SimHooks {
    url: Option<String>,
    app_secret_env: String,
    unsigned: bool,
    inbound_rate: Option<f64>,
}

impl SimHooks {
    /// Point the simulator's webhooks at `--webhook-url`, signed with the secret from the environment.
    fn apply(self, cfg: &mut crate::spec::sim::SimConfig) -> Result<(), String> {
        if let Some(rate) = self.inbound_rate {
            if !(rate.is_finite() && rate >= 0.0) {
                return Err(format!("--inbound-rate {rate}: must be a number of messages per second, 0 or more"));
            }
            cfg.inbound.rate = rate;
        }
        let Some(url) = self.url else {
            if self.inbound_rate.is_some_and(|r| r > 0.0) {
                return Err("--inbound-rate: inbound messages are posted as webhooks: give --webhook-url".into());
            }
            return Ok(());
        };
        crate::spec::endpoint::check_http_url(&url).map_err(|r| format!("--webhook-url: {r}"))?;
        cfg.webhooks.callback_url = Some(url);
        // On-prem webhooks are never signed (the real API relies on TLS).
        if cfg.flavor == crate::sim::Flavor::Cloud && !self.unsigned {
            let var = &self.app_secret_env;
            let secret = std::env::var(var).map_err(|_| {
                format!("--app-secret-env: environment variable {var} is not set (it signs the webhooks; --unsigned to post them unsigned)")
            })?;
            if secret.is_empty() {
                return Err(format!("--app-secret-env: environment variable {var} is empty"));
            }
            cfg.webhooks.app_secret = Some(secret.into_bytes());
        }
        Ok(())
    }
}

/// `wabench receive`: record status webhooks until Ctrl-C or SIGTERM.
fn receive(a: ReceiveArgs) -> Result<Exit, AppError> {
    let mut opts = super::receive::Options::new(a.listen, a.out);
    opts.path = a.path;
    opts.tls = a.tls_cert.zip(a.tls_key);
    opts.verify_signature = !a.no_signature;
    opts.app_secret_env = a.app_secret_env;
    opts.verify_token_env = a.verify_token_env;
    opts.max_body = a.max_body;
    opts.threads = a.threads.into();
    if !opts.path.starts_with('/') {
        return Err(format!("--path {:?}: must start with '/'", opts.path).into());
    }
    if std::env::var_os(&opts.verify_token_env).is_none_or(|v| v.is_empty()) {
        eprintln!(
            "wabench receive: warning: {} is not set: every subscription handshake will be refused",
            opts.verify_token_env
        );
    }
    let stop = stop_on_signals();
    let r = super::receive::Receiver::start(&opts)?;
    println!("wabench receive: listening on {} (Ctrl-C to stop); recording to {}", r.url(), r.statuses.display());
    while !*stop.borrow() {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let s = r.stop()?;
    let q = &s.requests;
    println!(
        "wabench receive: {} statuses recorded, {} inbound messages; {} webhooks accepted, refused: {} unsigned, {} bad signature, {} too large, {} malformed",
        s.statuses_recorded,
        s.inbound_messages,
        q.received,
        q.missing_signature,
        q.bad_signature,
        q.too_large,
        q.malformed
    );
    if let Some(e) = &s.write_error {
        return Err(format!(
            "wabench receive: {} webhooks were answered 503 because their statuses could not be written (first error: {e}); \
             their senders deliver them again",
            q.write_failed
        )
        .into());
    }
    Ok(Exit::Success)
}

fn simulate(
    flavor: SimFlavor,
    listen: std::net::SocketAddr,
    profile: Option<std::path::PathBuf>,
    benchmark: bool,
    hooks: SimHooks,
    threads: Option<u16>,
    server: super::cli::SimServerArgs,
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
    hooks.apply(&mut cfg)?;
    let s = &mut cfg.server;
    s.read_header_timeout = server.read_header_timeout.unwrap_or(s.read_header_timeout);
    s.idle_timeout = server.idle_timeout.unwrap_or(s.idle_timeout);
    s.max_connections = server.max_connections.unwrap_or(s.max_connections);
    s.validate().map_err(|e| format!("{} (--read-header-timeout, --idle-timeout or [simulator.server])", e.0))?;
    let posting = cfg.webhooks.callback_url.clone();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        builder.worker_threads(n.into());
    }
    let rt = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return Err(format!("cannot start a runtime: {e}").into()),
    };
    let res: Result<(), String> = rt.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        println!("wabench simulator ({flavor:?}) listening on http://{addr} (Ctrl-C to stop)");
        if let Some(url) = &posting {
            println!("wabench simulator: posting webhooks to {url}");
        }
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
