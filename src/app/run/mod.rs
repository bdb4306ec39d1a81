//! Running a profile end to end: each target in turn through a [`Session`], thresholds judged, the
//! results folder written. Whatever happens (Ctrl-C, a target failing to start), the results measured
//! so far are written before returning.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

use crate::app::AppError;
use crate::app::session::{Session, Setup, Shared};
use crate::app::validate::{describe, preflight, unconfirmed_real_targets};
use abort::Abort;

mod abort;
pub mod command;
mod cost_cap;
pub mod dashboard;
pub mod live;
mod otlp;
pub(crate) mod progress;
pub mod quick;
mod traces;

use crate::engine::executor::Progress;
use crate::engine::{Plan, TargetRun, run_target};
use crate::results::{self, Counts, Machine, Rates, Run, Shard, TargetHead, TargetResult, Tool, files, hlog, timeline};
use crate::spec::Loaded;
use crate::spec::threshold::Threshold;
use crate::units::Shutdown;
pub use command::RunArgs;

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Write into this folder instead of `<results_root>/<name>-<timestamp>`.
    pub out: Option<PathBuf>,
    pub results_root: PathBuf,
    /// Show a live progress line (on a terminal).
    pub progress: bool,
    /// Without the live line: print a plain progress line this often (logs, CI), if set.
    pub progress_lines: Option<std::time::Duration>,
    /// Confirm real (billable) traffic to remote WhatsApp targets, as `confirm_real_traffic` does.
    pub yes: bool,
    /// Which part of a sharded run this process runs.
    pub shard: Shard,
    /// Wall-clock time to begin at (shards begin together).
    pub start_at: Option<SystemTime>,
    /// Live counters for the `/metrics` endpoint.
    pub live: Option<Arc<live::Registry>>,
    /// The live page and its controls (`--dashboard`): the operator's orders and actions.
    pub dashboard: Option<Arc<dashboard::Operator>>,
    /// Draw report.html and the charts at the end (`wabench report` can do it later).
    pub report: bool,
    /// Replace the results in a folder that already holds a run (otherwise that is an error).
    pub force: bool,
}

impl Options {
    /// Defaults: results under `results/`, no progress line, not sharded, start at once.
    pub fn new(results_root: impl Into<PathBuf>) -> Options {
        Options {
            out: None,
            results_root: results_root.into(),
            progress: false,
            progress_lines: None,
            yes: false,
            shard: Shard::default(),
            start_at: None,
            live: None,
            dashboard: None,
            report: true,
            force: false,
        }
    }
}

/// Parse `--start-at`: an RFC 3339 time, or `align:DURATION` (the next multiple of DURATION since the
/// epoch that is at least 5 s away, so processes started within the same window pick the same time).
pub fn parse_start_at(s: &str, now: std::time::SystemTime) -> Result<std::time::SystemTime, String> {
    if let Some(d) = s.strip_prefix("align:") {
        let step = humantime::parse_duration(d.trim()).map_err(|e| format!("--start-at {s:?}: {e}"))?;
        if step.as_millis() == 0 {
            return Err(format!("--start-at {s:?}: the alignment must be longer than zero"));
        }
        let since = now.duration_since(std::time::UNIX_EPOCH).map_err(|e| e.to_string())? + Duration::from_secs(5);
        let step_ms = step.as_millis();
        let next = since.as_millis().div_ceil(step_ms) * step_ms;
        return Ok(std::time::UNIX_EPOCH + Duration::from_millis(next as u64));
    }
    let t = DateTime::parse_from_rfc3339(s.trim())
        .map_err(|e| format!("--start-at {s:?}: not an RFC 3339 time (e.g. 2026-11-25T14:00:00Z) or align:1m: {e}"))?;
    Ok(t.with_timezone(&Utc).into())
}

/// A finished (or stopped) run and where it was written.
#[derive(Debug)]
pub struct Finished {
    pub dir: PathBuf,
    pub run: Run,
    /// What went wrong, when something did; results were written anyway.
    pub error: Option<String>,
}

/// Run every target of a profile and write the results folder; `stop` (Ctrl-C) ends the run early,
/// its results written and marked interrupted.
pub fn run_profile(loaded: &Loaded, opts: &Options, stop: Shutdown) -> Result<Finished, AppError> {
    let p = &loaded.profile;
    let plan = Plan::sharded(&p.load, opts.shard);
    preflight(loaded, opts, &plan)?;
    // The page says the run has ended however it ends.
    let _ended = opts.dashboard.as_ref().map(|op| Ended(op.clone()));
    // The run's stop: Ctrl-C, or the operator's stop, or a threshold crossed (each derived from the
    // one before, so that each stops the run and none stops the one it came from).
    let stop = match &opts.dashboard {
        Some(op) => op.begin(&stop),
        None => stop,
    };
    let (abort, stop) = match p.abort_on_fail {
        true => {
            let (a, s) = Abort::new(&stop);
            (Some(a), s)
        }
        false => (None, stop),
    };
    let whatsapp = p.targets.iter().filter(|t| t.kind.is_whatsapp_api()).map(|t| t.name.as_str());
    let thresholds: Vec<Threshold> = crate::spec::threshold::judged(&p.thresholds, whatsapp);
    if let Some(out) = &opts.out {
        results::claim_folder(out, opts.force)?; // before waiting for the start: fail at once
    }
    if let Some(at) = opts.start_at {
        wait_until(at, &stop);
    }
    let started_at = Utc::now();
    let dir = opts.out.clone().unwrap_or_else(|| default_dir(&opts.results_root, &p.name, opts.shard, started_at));
    if opts.out.is_none() {
        results::claim_folder(&dir, opts.force)?; // --out was claimed above
    }
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create the results folder {}: {e}", dir.display()))?;
    let mut timeline = Timeline::create(&dir)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let each = Each {
        loaded,
        opts,
        plan: &plan,
        rt: &rt,
        dir: &dir,
        stop: &stop,
        abort: abort.as_ref(),
        thresholds: &thresholds,
    };
    let mut failures = Failures::default();
    let (out, mut error, mut interrupted) = each.targets(&mut timeline, &mut failures);
    interrupted |= stop.is_stopped() || error.is_some();
    let verdicts =
        crate::app::thresholds::evaluate_all(&thresholds, &out, crate::app::thresholds::Histograms::folder(&dir));
    let aborted = abort.as_ref().and_then(Abort::reason);
    let run = Run {
        passed: verdicts.iter().all(|v| v.passed) && aborted.is_none(),
        aborted,
        targets: out,
        thresholds: verdicts,
        operator: opts.dashboard.as_ref().map(|op| op.actions()).unwrap_or_default(),
        ..run_head(loaded, opts, started_at, interrupted)?
    };
    timeline.finish()?;
    if let Err(e) = failures.write(&dir) {
        also(&mut error, e);
    }
    results::write_run(&dir, &run).map_err(|e| format!("{}: {e}", dir.join(files::RUN_JSON).display()))?;
    // The report is drawn from the files just written, exactly as `wabench report` redraws it. A failure
    // to draw loses no results: run.json and the logs stay, and the error is reported.
    if opts.report
        && let Err(e) = crate::report::write_report(&dir)
    {
        also(&mut error, format!("the results were written, but not the report: {e}"));
    }
    Ok(Finished { dir, run, error })
}

/// Tells the dashboard the run has ended, when dropped.
struct Ended(Arc<dashboard::Operator>);

impl Drop for Ended {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// Add `e` to the run's error (after the first, which says what went wrong first).
fn also(error: &mut Option<String>, e: String) {
    *error = Some(match error.take() {
        Some(first) => format!("{first}; {e}"),
        None => e,
    });
}

/// The run's description in run.json, without its targets and verdicts.
fn run_head(loaded: &Loaded, opts: &Options, started_at: DateTime<Utc>, interrupted: bool) -> Result<Run, AppError> {
    let p = &loaded.profile;
    Ok(Run {
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
        targets: Vec::new(),
        thresholds: Vec::new(),
        passed: true,
        aborted: None,
        shard: opts.shard.is_sharded().then_some(opts.shard),
        overrides: loaded.overrides.clone(),
        operator: Vec::new(),
        imported: None,
    })
}

/// Refuse what must not run: a profile made for `wabench plan` only, and unconfirmed real traffic.
fn preflight(loaded: &Loaded, opts: &Options, plan: &Plan) -> Result<(), String> {
    if loaded.profile.is_plan_only() {
        return Err(format!(
            "{}: [load] has no `rate` or `stages`: this profile is for `wabench plan`; give a rate to `run` it",
            loaded.path.display()
        ));
    }
    // Missing credentials and files: nothing is started and no results folder is made.
    if let Some(e) = preflight::errors(loaded, &preflight::check(loaded)) {
        return Err(e);
    }
    // A real target whose estimate is over its max_cost is refused, as `validate` refuses it; on the
    // simulator the run goes ahead and stops at the cap (which is how the cap is tried out).
    let over: Vec<String> = crate::app::cost::over_cap(loaded)
        .into_iter()
        .filter(|(i, _)| loaded.profile.targets[*i].is_real())
        .map(|(_, e)| e)
        .collect();
    if !over.is_empty() {
        return Err(format!("{}: {}", loaded.path.display(), over.join("\n")));
    }
    let unconfirmed = unconfirmed_real_targets(loaded, opts.yes);
    if !unconfirmed.is_empty() {
        return Err(format!(
            "{}: target(s) {} would send real, billable WhatsApp messages ({} each); set confirm_real_traffic = true on the target or pass --yes",
            loaded.path.display(),
            unconfirmed.join(", "),
            plan.expected_requests().map_or("an unbounded number of".to_string(), |n| n.to_string())
        ));
    }
    Ok(())
}

/// Wait for the agreed start (on the wall clock), or until the run is stopped.
fn wait_until(at: SystemTime, stop: &Shutdown) {
    while let Ok(left) = at.duration_since(SystemTime::now()) {
        if left.is_zero() || stop.wait_timeout(left) {
            break;
        }
    }
}

/// `<root>/<name>-<timestamp>`, with `-shard<i>of<N>` for a part of a sharded run; `-2`, `-3`, … when
/// a run started in the same second already took that name (a folder named by the user with `--out`
/// is refused instead, see `files::claim_folder`).
fn default_dir(root: &Path, name: &str, shard: Shard, at: DateTime<Utc>) -> PathBuf {
    let mut base = files::run_dir(root, name, at).into_os_string();
    if shard.is_sharded() {
        base.push(format!("-shard{}of{}", shard.index, shard.count));
    }
    let mut d = PathBuf::from(&base);
    let mut n = 1;
    while d.exists() {
        n += 1;
        let mut s = base.clone();
        s.push(format!("-{n}"));
        d = PathBuf::from(s);
    }
    d
}

/// `timeline.csv` while it is written (as `.partial`, renamed when the run ends). The run's targets
/// write into it in turn; each target's executor owns it while that target runs.
struct Timeline {
    path: PathBuf,
    w: Option<BufWriter<fs::File>>,
}

impl Timeline {
    fn create(dir: &Path) -> Result<Timeline, String> {
        let path = dir.join(files::TIMELINE);
        let named = |e: io::Error| format!("{}: {e}", path.display());
        let mut w = BufWriter::new(fs::File::create(files::partial(&path)).map_err(named)?);
        timeline::write_header(&mut w).map_err(named)?;
        Ok(Timeline { path, w: Some(w) })
    }

    /// The writer, for one target's run (given back with [`Timeline::put`]).
    fn take(&mut self) -> Result<BufWriter<fs::File>, String> {
        match self.w.take() {
            Some(w) => Ok(w),
            // The writer moved into a failed run; reopen to append to what was written.
            None => fs::OpenOptions::new()
                .append(true)
                .open(files::partial(&self.path))
                .map(BufWriter::new)
                .map_err(|e| format!("{}: {e}", self.path.display())),
        }
    }

    fn put(&mut self, w: BufWriter<fs::File>) {
        self.w = Some(w);
    }

    /// A timeline of its own for a target running beside another (`<timeline>.<target>.partial`, no
    /// header), taken into this one with [`Timeline::absorb`] when both have ended.
    fn beside(&self, target: &str) -> Result<Timeline, String> {
        let path = self.path.with_file_name(format!("{}.{target}", files::TIMELINE));
        let w = fs::File::create(files::partial(&path)).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Timeline { path, w: Some(BufWriter::new(w)) })
    }

    /// Append the rows of `side` (readers order rows by target and second) and remove its file.
    fn absorb(&mut self, mut side: Timeline) -> Result<(), String> {
        let named = |p: &Path, e: io::Error| format!("{}: {e}", p.display());
        let from = files::partial(&side.path);
        if let Some(mut w) = side.w.take() {
            w.flush().map_err(|e| named(&from, e))?;
        }
        let rows = fs::read(&from).map_err(|e| named(&from, e))?;
        let mut w = self.take()?;
        w.write_all(&rows).map_err(|e| named(&self.path, e))?;
        self.put(w);
        fs::remove_file(&from).map_err(|e| named(&from, e))
    }

    fn finish(mut self) -> Result<(), String> {
        let mut w = self.take()?;
        let named = |e: io::Error| format!("{}: {e}", self.path.display());
        w.flush().map_err(named)?;
        w.get_ref().sync_all().map_err(named)?;
        drop(w);
        fs::rename(files::partial(&self.path), &self.path).map_err(named)
    }
}

/// The failed messages and error samples of the run's targets, for failures.csv and
/// error_samples.json (written only when something failed).
#[derive(Default)]
struct Failures {
    rows: Vec<(String, Vec<results::failure_log::FailureRow>)>,
    left_out: u64,
    samples: results::failure_log::Samples,
}

impl Failures {
    /// Take in the failures of a target that ran beside another.
    fn absorb(&mut self, other: Failures) {
        self.rows.extend(other.rows);
        self.left_out += other.left_out;
        self.samples.extend(other.samples);
    }

    fn add(&mut self, target: &str, log: &results::failure_log::FailureLog) {
        let (rows, left_out) = log.rows();
        self.left_out += left_out;
        if !rows.is_empty() {
            self.rows.push((target.to_string(), rows));
        }
        let samples = log.samples();
        if !samples.is_empty() {
            self.samples.insert(target.to_string(), samples);
        }
    }

    fn write(&self, dir: &Path) -> Result<(), String> {
        if !self.rows.is_empty() {
            let path = dir.join(files::FAILURES_CSV);
            let mut buf = Vec::new();
            results::failure_log::write_csv(&mut buf, &self.rows)
                .and_then(|()| results::write_atomic(&path, &buf))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if self.left_out > 0 {
                eprintln!(
                    "wabench: {} lists the first {} failed messages per target; {} more are counted in run.json only",
                    files::FAILURES_CSV,
                    results::failure_log::DEFAULT_ROWS,
                    self.left_out
                );
            }
        }
        if !self.samples.is_empty() {
            let path = dir.join(files::ERROR_SAMPLES);
            let json = serde_json::to_vec_pretty(&self.samples).map_err(|e| e.to_string())?;
            results::write_atomic(&path, &json).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(())
    }
}

/// What every target of a run shares.
struct Each<'a> {
    loaded: &'a Loaded,
    opts: &'a Options,
    plan: &'a Plan,
    rt: &'a tokio::runtime::Runtime,
    dir: &'a Path,
    stop: &'a Shutdown,
    abort: Option<&'a Abort>,
    thresholds: &'a [Threshold],
}

/// How a target runs: on its own, as the host of a target beside it (a conversation target whose
/// simulator the other sends through), or beside a host.
enum Link<'a> {
    Alone,
    Host(&'a Rendezvous),
    Beside(&'a Rendezvous, &'a tokio::runtime::Runtime),
}

/// Where a host tells the target beside it its simulator's URL (or that it failed to start), and the
/// target beside tells the host it has ended (so the host's simulator outlives its sends).
#[derive(Default)]
struct Rendezvous {
    state: std::sync::Mutex<(Option<Result<Shared, String>>, bool)>,
    changed: std::sync::Condvar,
}

impl Rendezvous {
    fn publish(&self, sim: Result<Shared, String>) {
        let mut s = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        s.0.get_or_insert(sim);
        self.changed.notify_all();
    }

    fn ended(&self) {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).1 = true;
        self.changed.notify_all();
    }

    /// Wait until `ready` holds of the state (the host always publishes, the target beside always
    /// ends: the wait is bounded by theirs).
    fn wait<T>(&self, ready: impl Fn(&(Option<Result<Shared, String>>, bool)) -> Option<T>) -> T {
        let mut s = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            if let Some(v) = ready(&s) {
                return v;
            }
            s = self.changed.wait(s).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

/// Calls [`Rendezvous::ended`] when dropped: a target beside another ends however its turn ends.
struct Ends<'a>(&'a Rendezvous);

impl Drop for Ends<'_> {
    fn drop(&mut self) {
        self.0.ended();
    }
}

/// How one target's turn ended.
#[derive(Default)]
struct Done {
    result: Option<TargetResult>,
    error: Option<String>,
    /// Stop the run: the next targets are not run.
    fatal: bool,
}

impl Done {
    fn failed(e: String) -> Done {
        Done { result: None, error: Some(e), fatal: true }
    }
}

impl Each<'_> {
    /// Run the targets one after the other until the run is stopped or one fails fatally: their
    /// results, the last error, and whether one was interrupted.
    fn targets(&self, timeline: &mut Timeline, failures: &mut Failures) -> (Vec<TargetResult>, Option<String>, bool) {
        let mut out: Vec<TargetResult> = Vec::new();
        let mut error = None;
        let mut interrupted = false;
        for i in 0..self.loaded.profile.targets.len() {
            if self.stop.is_stopped() {
                interrupted = true;
                break;
            }
            let spec = &self.loaded.profile.targets[i];
            if spec.beside.is_some() {
                continue; // runs with the target it is beside
            }
            let partner = self.loaded.profile.targets.iter().position(|t| t.beside.as_ref() == Some(&spec.name));
            let dones = match partner {
                None => vec![self.target(i, timeline, failures, &Link::Alone)],
                Some(j) => self.together(i, j, timeline, failures),
            };
            let mut fatal = false;
            for done in dones {
                if let Some(r) = done.result {
                    interrupted |= r.interrupted;
                    out.push(r);
                }
                if done.error.is_some() {
                    error = done.error;
                }
                fatal |= done.fatal;
            }
            if fatal {
                break;
            }
        }
        (out, error, interrupted)
    }

    /// Run conversation target `host` and target `beside` (which sends through its simulator) at the
    /// same time: `beside` on a thread of its own, with its own timeline and failures, taken in after.
    fn together(&self, host: usize, beside: usize, timeline: &mut Timeline, failures: &mut Failures) -> Vec<Done> {
        let rv = Rendezvous::default();
        let name = &self.loaded.profile.targets[beside].name;
        let mut side = match timeline.beside(name) {
            Ok(t) => t,
            Err(e) => return vec![Done::failed(e)],
        };
        let (host_done, (beside_done, side_failures)) = std::thread::scope(|sc| {
            let (rv, side) = (&rv, &mut side);
            let other = sc.spawn(move || {
                let _ends = Ends(rv);
                let mut f = Failures::default();
                let done = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => self.target(beside, side, &mut f, &Link::Beside(rv, &rt)),
                    Err(e) => Done::failed(format!("cannot start a runtime: {e}")),
                };
                (done, f)
            });
            let host_done = self.target(host, timeline, failures, &Link::Host(rv));
            let beside = other
                .join()
                .unwrap_or_else(|_| (Done::failed("the target beside panicked".into()), Failures::default()));
            (host_done, beside)
        });
        failures.absorb(side_failures);
        let mut dones = vec![host_done, beside_done];
        if let Err(e) = timeline.absorb(side) {
            dones.push(Done { error: Some(e), ..Done::default() });
        }
        dones
    }

    /// Set target `i` up, drive it, tear it down, and write its logs.
    fn target(&self, i: usize, timeline: &mut Timeline, failures: &mut Failures, link: &Link) -> Done {
        let session = match self.session(i, link) {
            Ok(s) => s,
            Err(e) => return Done::failed(e),
        };
        let traced = match traces::start(self.loaded, i, self.plan, self.dir) {
            Ok(t) => t,
            Err(e) => return Done::failed(e),
        };
        let t = session.target.clone();
        if !self.opts.progress {
            eprintln!("wabench: {} → {} ({})", t.name(), t.endpoint().shown(), describe(self.plan));
        }
        let hlog_path = self.dir.join(files::hlog_name(t.name()));
        // Unbuffered: each one-second interval reaches the file as it is written, so a killed run
        // leaves a log readable up to its last second.
        let hlog_file = match fs::File::create(files::partial(&hlog_path)) {
            Ok(h) => h,
            Err(e) => return Done::failed(format!("{}: {e}", hlog_path.display())),
        };
        let tl = match timeline.take() {
            Ok(w) => w,
            Err(e) => return Done::failed(e),
        };
        let progress = self.live_progress(t.as_ref(), &session);
        // Ended when the target has: its progress line and threshold judge stop with it.
        let done = Shutdown::new();
        // One live line on the terminal: a target beside another shows none of its own.
        let bar = match link {
            Link::Beside(..) if self.opts.progress => None,
            _ => self.show_progress(t.name(), &progress, &done),
        };
        if let Some(a) = self.abort {
            a.watch(t.name().to_string(), self.thresholds.to_vec(), progress.clone(), done.clone());
        }
        let metered = self.meter(i, &session);
        let (sends, stop) = cost_cap::wrap(&t, metered.as_ref(), self.stop);
        let plan = traced.as_ref().map_or(self.plan, traces::Traced::plan);
        let control = progress.clone();
        let res = run_target(sends, session.addr, plan, stop, hlog_file, tl, progress);
        done.stop();
        self.opts.dashboard.iter().for_each(|op| op.done(t.name()));
        if let Some(b) = bar {
            let _ = b.join();
        }
        let url = session.url.clone();
        if let Link::Host(rv) = link {
            // The simulator serves the target beside until that one has ended.
            rv.wait(|s| s.1.then_some(()));
        }
        let teardown = session.finish(self.stop);
        let (mut tr, hlog_file, tl) = match res {
            Ok(r) => r,
            Err(source) => return Done::failed(AppError::Engine { target: t.name().to_string(), source }.to_string()),
        };
        timeline.put(tl);
        let stopped =
            cost_cap::settle(metered.as_ref(), &mut tr.interrupted, self.stop).or_else(|| self.by_operator(&tr));
        let steered = self.steered(&tr, &control);
        let mut r = TargetResult { stopped, ..self.result(&tr, t.name(), t.kind(), url, steered) };
        r.extra = teardown.extra;
        if let Some(log) = &teardown.failures {
            failures.add(t.name(), log);
        }
        let mut out = Done { error: teardown.error, ..Done::default() };
        if let Err(e) = self.write_attempts(&tr, t.as_ref(), traced, &mut r) {
            out.error = Some(e);
        }
        if let Some(c) = teardown.conversation {
            if let Err(e) = self.write_replies(t.name(), &c, &tr) {
                out.error = Some(e);
            }
            r.conversation = Some(c.stats);
        }
        if let Some(stats) = teardown.delivery {
            if let Err(e) = self.write_delivery(t.name(), &stats, &tr) {
                out.error = Some(e);
            }
            r.delivery = Some(stats);
        }
        r.cost =
            metered.as_ref().and_then(|(m, _)| cost_cap::result(self.loaded, i, self.plan, m, r.delivery.as_ref()));
        let finished = hlog_file
            .sync_all()
            .and_then(|()| fs::rename(files::partial(&hlog_path), &hlog_path))
            .and_then(|()| self.write_totals(&tr, t.name()));
        if let Err(e) = finished {
            out.error = Some(format!("{}: {e}", hlog_path.display()));
            out.fatal = true;
        }
        out.result = Some(r);
        out
    }

    /// Target `i`'s cost meter, when it has a rate card: told of each message its status webhooks
    /// settle, so that what was delivered is priced message by message.
    fn meter(&self, i: usize, session: &Session) -> Option<(Arc<cost_cap::Meter>, Shutdown)> {
        let metered = cost_cap::meter(self.loaded, i, self.plan, self.stop)?;
        if let Some(tracker) = session.tracker() {
            let m = metered.0.clone();
            tracker.on_settled(Arc::new(move |seq, delivered| m.settled(seq, delivered)));
        }
        Some(metered)
    }

    /// The live progress of target `t`, shown by `/metrics` and the dashboard (whose orders it takes).
    fn live_progress(&self, t: &dyn crate::engine::target::Target, session: &Session) -> Arc<Progress> {
        let progress = Arc::new(Progress::default());
        if let Some(reg) = &self.opts.live {
            reg.add(t.name(), t.kind(), progress.clone());
        }
        if let Some(op) = &self.opts.dashboard {
            op.add(t.name(), t.kind(), progress.clone(), session.tracker());
        }
        progress
    }

    /// `stopped: "operator"` for a target the operator stopped from the dashboard.
    fn by_operator(&self, tr: &TargetRun) -> Option<String> {
        let by_operator = tr.interrupted && self.opts.dashboard.as_ref().is_some_and(|op| op.stopped());
        by_operator.then(|| results::operator::STOPPED_OPERATOR.to_string())
    }

    /// Set target `i` up: beside another, once that one's simulator is up (and through it); as a host,
    /// telling the one beside where its simulator is (or that it did not start).
    fn session(&self, i: usize, link: &Link) -> Result<Session, String> {
        let shared_sim = match link {
            Link::Beside(rv, _) => Some(
                rv.wait(|s| s.0.clone())
                    .map_err(|e| format!("not run: the target it runs beside did not start ({e})"))?,
            ),
            _ => None,
        };
        let setup = Setup {
            shard: self.opts.shard,
            dir: Some(self.dir.to_path_buf()),
            delivery_by_default: true,
            shared_sim,
            ..Setup::default()
        };
        let rt = match link {
            Link::Beside(_, rt) => rt,
            _ => self.rt,
        };
        let started = Session::start(self.loaded, i, &setup, rt).map_err(|e| e.to_string());
        if let Link::Host(rv) = link {
            rv.publish(match &started {
                Ok(s) => s.shared().ok_or_else(|| "it has no simulator".to_string()),
                Err(e) => Err(e.clone()),
            });
        }
        started
    }

    /// `<target>.replies.hlog`: a conversation target's time-to-first-reply histograms.
    fn write_replies(
        &self,
        name: &str,
        c: &crate::app::session::conversation::Finished,
        tr: &TargetRun,
    ) -> Result<(), String> {
        let path = self.dir.join(files::replies_hlog_name(name));
        let mut buf = Vec::new();
        crate::results::conversation::write_hlog(&mut buf, &c.all, &c.per_turn, tr.started_at, tr.elapsed)
            .and_then(|()| results::write_atomic(&path, &buf))
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The progress of target `name` on the terminal (a live line) or in a log (a line every few
    /// seconds), until `done`.
    fn show_progress(
        &self,
        name: &str,
        progress: &Arc<Progress>,
        done: &Shutdown,
    ) -> Option<std::thread::JoinHandle<()>> {
        let (name, plan) = (name.to_string(), self.plan.clone());
        if self.opts.progress {
            return Some(progress::spawn(name, plan, progress.clone(), done.clone(), String::new()));
        }
        let every = self.opts.progress_lines?;
        Some(progress::spawn_lines(name, plan, progress.clone(), done.clone(), every))
    }

    /// `<target>.delivery.hlog`: the delivery latency histograms of the run.
    fn write_delivery(&self, name: &str, stats: &results::DeliveryStats, tr: &TargetRun) -> Result<(), String> {
        let path = self.dir.join(files::delivery_hlog_name(name));
        let mut buf = Vec::new();
        stats
            .histograms
            .write_hlog(&mut buf, tr.started_at, tr.elapsed)
            .and_then(|()| results::write_atomic(&path, &buf))
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The lists of attempts: those whose fate is unknown, and the slowest traced (with their account
    /// in the target's result).
    fn write_attempts(
        &self,
        tr: &TargetRun,
        t: &dyn crate::engine::target::Target,
        traced: Option<traces::Traced>,
        r: &mut TargetResult,
    ) -> Result<(), String> {
        let ambiguous = self.write_ambiguous(tr, t);
        if let Some(traced) = traced {
            r.tracing = Some(traced.finish(tr, self.dir, t.name())?);
        }
        ambiguous
    }

    /// `<target>.ambiguous.csv`: the attempts whose fate is unknown, with their recipients, when any.
    fn write_ambiguous(&self, tr: &TargetRun, t: &dyn crate::engine::target::Target) -> Result<(), String> {
        let list = &tr.recorder.ambiguous;
        if list.is_empty() {
            return Ok(());
        }
        let mut rows: Vec<_> = list.iter().collect();
        rows.sort_by_key(|a| (a.at, a.seq, a.attempt));
        let mut csv = String::from("time_s,seq,attempt,outcome,recipient\n");
        for a in rows {
            let to = t.recipient(a.seq).unwrap_or_default();
            let _ = writeln!(csv, "{:.3},{},{},{},{}", a.at.as_secs_f64(), a.seq, a.attempt, a.outcome.key(), to);
        }
        let path = self.dir.join(files::ambiguous_name(t.name()));
        results::write_atomic(&path, csv.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// `<target>.totals.hlog`: the whole-run histograms, which `merge` adds exactly.
    fn write_totals(&self, tr: &TargetRun, name: &str) -> io::Result<()> {
        let mut buf = Vec::new();
        hlog::write_map(
            &mut buf,
            tr.started_at,
            "wabench whole-run histograms (µs): latency, service_time, lateness, outcome:<key>",
            &tr.recorder.totals(),
            tr.elapsed,
        )?;
        results::write_atomic(&self.dir.join(files::totals_name(name)), &buf)
    }

    /// The schedule the target ran under, when it differs from the plan's whole length: the operator
    /// changed it from the dashboard, or the run stopped early.
    fn steered(&self, tr: &TargetRun, progress: &Progress) -> Option<Arc<crate::engine::control::Schedule>> {
        let acted = self.opts.dashboard.as_ref().is_some_and(|op| !op.actions().is_empty());
        (tr.interrupted || acted).then(|| progress.control.schedule().1).flatten()
    }

    /// The target's result from its merged recorder. The requested rate is the plan's mean, or, for a
    /// target `steered` from the dashboard or stopped early, the requests its schedule had due by its
    /// last start over that time: the window the achieved rate is measured over.
    fn result(
        &self,
        tr: &TargetRun,
        name: &str,
        kind: &str,
        url: String,
        steered: Option<Arc<crate::engine::control::Schedule>>,
    ) -> TargetResult {
        let (plan, rec) = (self.plan, &tr.recorder);
        let duration_s = tr.elapsed.as_secs_f64();
        let outcome = |o| rec.count(o);
        use crate::engine::metrics::Outcome;
        let requests = Counts {
            planned: plan.expected_requests(),
            sent: rec.sent,
            retries: rec.retries,
            ok: outcome(Outcome::Ok),
            errors: results::errors_of(&rec.outcome_counts()),
            dropped: outcome(Outcome::Dropped),
            cancelled: outcome(Outcome::Cancelled),
            resent: rec.resent,
            ambiguous: rec.outcomes.iter().filter(|(k, _)| k.is_ambiguous()).map(|(_, v)| v.count).sum(),
        };
        let achieved = rec.achieved_rate().unwrap_or_else(|| rec.sent as f64 / duration_s.max(1e-9));
        let requested = match (steered, rec.last_start) {
            (Some(s), Some(w)) if !w.is_zero() => Some(s.due_by(w) as f64 / w.as_secs_f64()),
            _ => plan.schedule_rate(),
        };
        let head = TargetHead {
            name: name.into(),
            kind: kind.into(),
            url,
            model: plan.model.name().into(),
            connections: plan.connections,
            threads: tr.threads,
            started_at: DateTime::<Utc>::from(tr.started_at),
            duration_s,
            interrupted: tr.interrupted,
        };
        let rate = Rates { requested, achieved, ratio: requested.map(|r| achieved / r) };
        TargetResult::build(head, requests, rate, rec.outcome_counts(), &rec.totals())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_started_in_the_same_second_get_their_own_folders() {
        let root = tempfile::tempdir().unwrap();
        let at = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        let first = default_dir(root.path(), "p", Shard::default(), at);
        assert_eq!(first.file_name().unwrap(), "p-20231114T221320Z");
        fs::create_dir_all(&first).unwrap();
        let second = default_dir(root.path(), "p", Shard::default(), at);
        assert_eq!(second.file_name().unwrap(), "p-20231114T221320Z-2");
        fs::create_dir_all(&second).unwrap();
        assert_eq!(default_dir(root.path(), "p", Shard::default(), at).file_name().unwrap(), "p-20231114T221320Z-3");
        let shard = Shard { index: 1, count: 4 };
        assert_eq!(default_dir(root.path(), "p", shard, at).file_name().unwrap(), "p-20231114T221320Z-shard1of4");
    }
}
