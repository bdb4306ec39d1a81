//! Running a profile end to end: build the plan and targets, run each target in turn, evaluate
//! thresholds and write the results folder. Whatever happens (Ctrl-C, a target failing to start),
//! the results measured so far are written before returning.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::load::executor::Progress;
use crate::load::{Plan, run_target};
use crate::metrics::aggregate::TIMELINE_HEADER;
use crate::profile::Loaded;
use crate::results::{self, Machine, Run, TargetResult, Tool};
use crate::target::{self, Target};
use crate::threshold::Threshold;

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Write into this folder instead of `<results_root>/<name>-<timestamp>`.
    pub out: Option<PathBuf>,
    pub results_root: PathBuf,
    /// Show a live progress line (on a terminal).
    pub progress: bool,
}

/// A finished (or stopped) run and where it was written.
#[derive(Debug)]
pub struct Finished {
    pub dir: PathBuf,
    pub run: Run,
    /// What went wrong, when something did; results were written anyway.
    pub error: Option<String>,
}

/// Run every target of a profile and write the results folder.
pub fn run_profile(loaded: &Loaded, opts: &Options, stop: watch::Receiver<bool>) -> Result<Finished, String> {
    let p = &loaded.profile;
    let plan = Plan::from_spec(&p.load);
    let mut targets: Vec<Arc<dyn Target>> = Vec::new();
    for (i, spec) in p.targets.iter().enumerate() {
        let body = loaded.bodies.get(i).and_then(|b| b.as_deref());
        targets.push(
            target::build(spec, body).map_err(|e| format!("{}: target {:?}: {e}", loaded.path.display(), spec.name))?,
        );
    }
    let started_at = Utc::now();
    let dir = opts.out.clone().unwrap_or_else(|| results::run_dir(&opts.results_root, &p.name, started_at));
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create the results folder {}: {e}", dir.display()))?;
    let timeline_path = dir.join("timeline.csv");
    let mut timeline = open_partial(&timeline_path).map_err(|e| format!("{}: {e}", timeline_path.display()))?;
    writeln!(timeline, "{TIMELINE_HEADER}").map_err(|e| e.to_string())?;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let mut out: Vec<TargetResult> = Vec::new();
    let mut error = None;
    let mut interrupted = false;
    for t in &targets {
        if *stop.borrow() {
            interrupted = true;
            break;
        }
        let ep = t.endpoint().clone();
        let addr = match rt.block_on(ep.resolve()) {
            Ok(a) => a,
            Err(e) => {
                error = Some(format!("target {:?}: cannot resolve {}: {e}", t.name(), ep.host));
                break;
            }
        };
        if !opts.progress {
            eprintln!("wabench: {} → {} ({})", t.name(), ep.url(), describe(&plan));
        }
        let hlog_path = dir.join(results::hlog_name(t.name()));
        let hlog = match open_partial(&hlog_path) {
            Ok(h) => h,
            Err(e) => {
                error = Some(format!("{}: {e}", hlog_path.display()));
                break;
            }
        };
        let progress = Arc::new(Progress::default());
        let done = Arc::new(AtomicBool::new(false));
        let bar =
            opts.progress.then(|| spawn_progress(t.name().to_string(), plan.clone(), progress.clone(), done.clone()));
        let res = run_target(t.clone(), addr, &plan, stop.clone(), hlog, timeline, progress);
        done.store(true, Ordering::Relaxed);
        if let Some(b) = bar {
            let _ = b.join();
        }
        match res {
            Ok((tr, hlog, tl)) => {
                timeline = tl;
                let finished = finish_partial(hlog, &hlog_path);
                let r = TargetResult::from_recorder(
                    t.name(),
                    t.kind(),
                    &ep.url(),
                    &plan,
                    &tr.recorder,
                    DateTime::<Utc>::from(tr.started_at),
                    tr.elapsed.as_secs_f64(),
                    tr.interrupted,
                    tr.threads,
                );
                interrupted |= tr.interrupted;
                out.push(r);
                if let Err(e) = finished {
                    error = Some(format!("{}: {e}", hlog_path.display()));
                    break;
                }
            }
            Err(e) => {
                error = Some(format!("target {:?}: {e}", t.name()));
                // The timeline writer moved into the failed run; reopen to keep what was written.
                timeline = match fs::OpenOptions::new().append(true).open(results::partial(&timeline_path)) {
                    Ok(f) => BufWriter::new(f),
                    Err(e) => return Err(format!("{}: {e}", timeline_path.display())),
                };
                break;
            }
        }
    }
    interrupted |= *stop.borrow() || error.is_some();
    let mut verdicts = Vec::new();
    for (k, v) in &p.thresholds {
        if let Ok(t) = Threshold::parse(k, v) {
            verdicts.extend(t.evaluate(&out));
        }
    }
    let passed = verdicts.iter().all(|v| v.passed);
    let run = Run {
        schema_version: results::SCHEMA_VERSION,
        tool: Tool { name: "wabench".into(), version: env!("CARGO_PKG_VERSION").into() },
        name: p.name.clone(),
        description: p.description.clone(),
        profile_file: loaded.path.display().to_string(),
        profile: serde_json::to_value(p.redacted()).map_err(|e| e.to_string())?,
        seed: p.seed,
        started_at,
        ended_at: Utc::now(),
        interrupted,
        machine: Machine::this(),
        targets: out,
        thresholds: verdicts,
        passed,
    };
    finish_partial(timeline, &timeline_path).map_err(|e| format!("{}: {e}", timeline_path.display()))?;
    results::write_run(&dir, &run).map_err(|e| format!("{}: {e}", dir.join("run.json").display()))?;
    // The report is drawn from the files just written, exactly as `wabench report` redraws it. A failure
    // to draw loses no results: run.json and the logs stay, and the error is reported.
    if let Err(e) = crate::report::write_report(&dir) {
        let e = format!("the results were written, but not the report: {e}");
        error = Some(match error {
            Some(first) => format!("{first}; {e}"),
            None => e,
        });
    }
    Ok(Finished { dir, run, error })
}

fn open_partial(path: &Path) -> io::Result<BufWriter<fs::File>> {
    Ok(BufWriter::new(fs::File::create(results::partial(path))?))
}

fn finish_partial(mut w: BufWriter<fs::File>, path: &Path) -> io::Result<()> {
    w.flush()?;
    w.get_ref().sync_all()?;
    drop(w);
    fs::rename(results::partial(path), path)
}

/// One line describing a plan.
pub fn describe(plan: &Plan) -> String {
    match &plan.pacer {
        Some(p) => format!(
            "open loop, {} requests over {}, {} connections, max {} in flight",
            p.total(),
            humantime::format_duration(Duration::from_millis(p.duration().as_millis() as u64)),
            plan.connections,
            plan.max_in_flight
        ),
        None => format!(
            "closed loop, {} virtual users{}{}",
            plan.connections,
            plan.duration.map(|d| format!(" for {}", humantime::format_duration(d))).unwrap_or_default(),
            plan.max_requests.map(|m| format!(", at most {m} requests")).unwrap_or_default()
        ),
    }
}

fn spawn_progress(
    name: String,
    plan: Plan,
    progress: Arc<Progress>,
    done: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let len = plan.duration.map_or(0, |d| d.as_millis() as u64);
        let bar = indicatif::ProgressBar::new(len.max(1));
        bar.set_style(
            indicatif::ProgressStyle::with_template("{prefix:>10} [{bar:24}] {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(name);
        while !done.load(Ordering::Relaxed) {
            if let Some(t0) = progress.t0.get() {
                let el = t0.elapsed();
                let (sent, _ok, errors, dropped) = progress.totals();
                let p99 = progress.view.lock().map(|v| v.p99_us).unwrap_or(0);
                bar.set_position((el.as_millis() as u64).min(len));
                bar.set_message(format!(
                    "{:>5.1}s  sent {sent}  {:.0}/s  errors {errors}  dropped {dropped}  p99 {}",
                    el.as_secs_f64(),
                    sent as f64 / el.as_secs_f64().max(1e-3),
                    crate::report::fmt_us(p99 as f64)
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        bar.finish_and_clear();
    })
}

/// What `validate` prints: the plan, the targets and the thresholds, without sending anything.
pub fn plan_text(loaded: &Loaded) -> String {
    use std::fmt::Write as _;
    let p = &loaded.profile;
    let plan = Plan::from_spec(&p.load);
    let mut s = String::new();
    let _ = writeln!(s, "profile {} ({}) is valid", p.name, loaded.path.display());
    let _ = writeln!(s, "load: {}", describe(&plan));
    if let Some(pacer) = &plan.pacer {
        let l = &p.load;
        if let Some(r) = l.rate {
            let _ = writeln!(s, "  constant {r}/s for {}", l.duration.map(|d| d.to_string()).unwrap_or_default());
        } else {
            let mut from = l.start_rate;
            for (i, st) in l.stages.iter().enumerate() {
                let _ = writeln!(s, "  stage {}: {from}/s → {}/s over {}", i + 1, st.to, st.over);
                from = st.to;
            }
        }
        let _ = writeln!(s, "  expected requests per target: {}", pacer.total());
    }
    let _ = writeln!(
        s,
        "  timeout {}, drain {}, {} thread(s)",
        humantime::format_duration(plan.timeout),
        humantime::format_duration(plan.drain),
        plan.threads
    );
    let _ = writeln!(s, "targets (run one after the other):");
    for t in &p.targets {
        let _ = writeln!(
            s,
            "  {} [{:?}] {} {}",
            t.name,
            t.kind,
            t.method,
            crate::target::Endpoint::parse(&t.url).map(|e| e.url()).unwrap_or_default()
        );
    }
    if !p.thresholds.is_empty() {
        let _ = writeln!(s, "thresholds:");
        for (k, v) in &p.thresholds {
            let _ = writeln!(s, "  {k} {v}");
        }
    }
    s
}
