//! Running a profile end to end: build the plan and targets, run each target in turn, evaluate
//! thresholds and write the results folder. Whatever happens (Ctrl-C, a target failing to start),
//! the results measured so far are written before returning.

use std::borrow::Cow;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::background::{Embedded, Hooks};
use crate::load::executor::Progress;
use crate::load::{Plan, run_target};
use crate::metrics::aggregate::TIMELINE_HEADER;
use crate::profile::{Loaded, TargetKind, TargetSpec};
use crate::results::{self, Machine, Run, TargetResult, Tool};
use crate::target::{self, Target};
use crate::threshold::Threshold;
use crate::webhook::WebhookConfig;

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Write into this folder instead of `<results_root>/<name>-<timestamp>`.
    pub out: Option<PathBuf>,
    pub results_root: PathBuf,
    /// Show a live progress line (on a terminal).
    pub progress: bool,
    /// Confirm real (billable) traffic to remote WhatsApp targets, as `confirm_real_traffic` does.
    pub yes: bool,
    /// Which part of a sharded run this process runs.
    pub shard: crate::load::Shard,
    /// Wall-clock time to begin at (shards begin together).
    pub start_at: Option<std::time::SystemTime>,
    /// Live counters for the `/metrics` endpoint.
    pub live: Option<Arc<crate::live::Registry>>,
    /// Draw report.html and the charts at the end (`wabench report` can do it later).
    pub report: bool,
}

impl Options {
    /// Defaults: results under `results/`, no progress line, not sharded, start at once.
    pub fn new(results_root: impl Into<PathBuf>) -> Options {
        Options {
            out: None,
            results_root: results_root.into(),
            progress: false,
            yes: false,
            shard: crate::load::Shard::default(),
            start_at: None,
            live: None,
            report: true,
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

/// WhatsApp targets that would send real messages (not loopback, not embedded) and lack confirmation.
pub fn unconfirmed_real_targets(loaded: &Loaded, yes: bool) -> Vec<String> {
    loaded
        .profile
        .targets
        .iter()
        .filter(|t| t.kind != TargetKind::Http && !t.is_embedded() && !t.confirm_real_traffic && !yes)
        .filter(|t| t.address().and_then(|a| crate::target::Endpoint::parse(a).ok()).is_none_or(|e| !e.is_loopback()))
        .map(|t| t.name.clone())
        .collect()
}

/// `abort_on_fail`: the run's own stop signal, raised by Ctrl-C (forwarded) or by a crossed threshold.
struct Abort {
    tx: Arc<watch::Sender<bool>>,
    reason: Arc<std::sync::Mutex<Option<String>>>,
    done: Arc<AtomicBool>,
}

impl Abort {
    fn new(outer: watch::Receiver<bool>) -> (Abort, watch::Receiver<bool>) {
        let (tx, rx) = watch::channel(false);
        let a = Abort { tx: Arc::new(tx), reason: Arc::default(), done: Arc::default() };
        let (tx, done) = (a.tx.clone(), a.done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if *outer.borrow() {
                    let _ = tx.send(true);
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        (a, rx)
    }

    /// Watch one target's live figures every second; stop the run when a threshold is crossed.
    fn watch(&self, name: String, ths: Vec<Threshold>, progress: Arc<Progress>, done: Arc<AtomicBool>) {
        let (tx, reason) = (self.tx.clone(), self.reason.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(250));
                let (sent, _ok, errors, dropped) = progress.totals();
                let hist = progress.view.lock().ok().and_then(|v| v.overall.clone());
                if let Some(why) =
                    ths.iter().find_map(|t| t.crossed_live(&name, sent, errors, dropped, hist.as_ref(), 100))
                {
                    if let Ok(mut r) = reason.lock() {
                        r.get_or_insert(why);
                    }
                    let _ = tx.send(true);
                    return;
                }
            }
        });
    }
}

impl Drop for Abort {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
    }
}

/// Run every target of a profile and write the results folder.
pub fn run_profile(loaded: &Loaded, opts: &Options, stop: watch::Receiver<bool>) -> Result<Finished, String> {
    let p = &loaded.profile;
    let (abort, stop) = match p.abort_on_fail {
        true => {
            let (a, rx) = Abort::new(stop);
            (Some(a), rx)
        }
        false => (None, stop),
    };
    let thresholds: Vec<Threshold> = p.thresholds.iter().filter_map(|(k, v)| Threshold::parse(k, v).ok()).collect();
    let plan = Plan::sharded(&p.load, opts.shard);
    if p.is_plan_only() {
        return Err(format!(
            "{}: [load] has no `rate` or `stages`: this profile is for `wabench plan`; give a rate to `run` it",
            loaded.path.display()
        ));
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
    if let Some(at) = opts.start_at {
        // Wait for the agreed start, waking for Ctrl-C.
        while let Ok(left) = at.duration_since(std::time::SystemTime::now()) {
            if *stop.borrow() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(100)));
        }
    }
    let started_at = Utc::now();
    let dir = opts.out.clone().unwrap_or_else(|| {
        let d = results::run_dir(&opts.results_root, &p.name, started_at);
        if opts.shard.is_sharded() {
            let mut s = d.into_os_string();
            s.push(format!("-shard{}of{}", opts.shard.index, opts.shard.count));
            PathBuf::from(s)
        } else {
            d
        }
    });
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
    let base_dir = loaded.path.parent().unwrap_or(Path::new("."));
    for (i, spec) in p.targets.iter().enumerate() {
        if *stop.borrow() {
            interrupted = true;
            break;
        }
        let hooks = match &p.webhooks {
            Some(cfg) if spec.kind != TargetKind::Http => {
                match Hooks::start(&receiver_config(cfg, spec), spec.is_embedded()) {
                    Ok(h) => Some(h),
                    Err(e) => {
                        error = Some(format!("{}: target {:?}: {e}", loaded.path.display(), spec.name));
                        break;
                    }
                }
            }
            _ => None,
        };
        let sim = if spec.is_embedded() {
            let mut cfg = sim_config_for(p, spec);
            // The simulator posts its status webhooks to this target's receiver, signed with its secret.
            if let Some(h) = &hooks {
                cfg.webhooks.callback_url = Some(h.url.clone());
                cfg.webhooks.app_secret = h.secret.clone();
            }
            match Embedded::start(cfg) {
                Ok(s) => Some(s),
                Err(e) => {
                    error = Some(format!("target {:?}: {e}", spec.name));
                    break;
                }
            }
        } else {
            None
        };
        let ctx = target::BuildCtx {
            base_dir,
            seed: p.seed,
            messages: &p.messages,
            recipients: loaded.recipients.clone(),
            retry: &p.retry,
            body: loaded.bodies.get(i).and_then(|b| b.as_deref()),
            embedded: sim.as_ref().map(|s| (s.url.clone(), &p.simulator)),
            tracker: hooks.as_ref().map(|h| h.tracker.clone()),
        };
        let t: Arc<dyn Target> = match target::build(spec, &ctx) {
            Ok(t) => t,
            Err(e) => {
                error = Some(format!("{}: {e}", loaded.path.display()));
                break;
            }
        };
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
        // Unbuffered: each one-second interval reaches the file as it is written, so a killed run
        // leaves a log readable up to its last second.
        let hlog = match fs::File::create(results::partial(&hlog_path)) {
            Ok(h) => h,
            Err(e) => {
                error = Some(format!("{}: {e}", hlog_path.display()));
                break;
            }
        };
        let progress = Arc::new(Progress::default());
        if let Some(reg) = &opts.live {
            reg.add(t.name(), progress.clone());
        }
        let done = Arc::new(AtomicBool::new(false));
        let bar =
            opts.progress.then(|| spawn_progress(t.name().to_string(), plan.clone(), progress.clone(), done.clone()));
        if let Some(a) = &abort {
            a.watch(t.name().to_string(), thresholds.clone(), progress.clone(), done.clone());
        }
        let res = run_target(t.clone(), addr, &plan, stop.clone(), hlog, timeline, progress);
        done.store(true, Ordering::Relaxed);
        if let Some(b) = bar {
            let _ = b.join();
        }
        // Statuses of the last messages arrive after the last answer: wait for them before the
        // simulator that sends them stops.
        let delivery = hooks.map(|h| h.finish(&|| *stop.borrow()));
        // The target's own counters (logins) are read while its server is still up: a token renewal
        // that would start after the simulator stopped is not the target's failure.
        let target_extra = t.extra();
        let sim_stats = sim.and_then(Embedded::finish);
        match res {
            Ok((tr, hlog, tl)) => {
                timeline = tl;
                let totals = dir.join(crate::metrics::hlog::totals_name(t.name()));
                let mut buf = Vec::new();
                let finished = hlog
                    .sync_all()
                    .and_then(|()| fs::rename(results::partial(&hlog_path), &hlog_path))
                    .and_then(|()| {
                        crate::metrics::hlog::write_tagged(
                            &mut buf,
                            tr.started_at,
                            "wabench whole-run histograms (µs): latency, service_time, lateness, outcome:<key>",
                            &crate::metrics::hlog::totals_entries(&tr.recorder, tr.elapsed),
                        )
                    })
                    .and_then(|()| results::write_atomic(&totals, &buf));
                let mut r = TargetResult::from_recorder(
                    t.name(),
                    t.kind(),
                    &if spec.is_embedded() { "embedded".to_string() } else { ep.url() },
                    &plan,
                    &tr.recorder,
                    DateTime::<Utc>::from(tr.started_at),
                    tr.elapsed.as_secs_f64(),
                    tr.interrupted,
                    tr.threads,
                );
                let mut extra = target_extra.unwrap_or_else(|| serde_json::json!({}));
                if let Some(st) = sim_stats {
                    extra["simulator"] = serde_json::to_value(st).unwrap_or_default();
                }
                if let Some((stats, counters)) = delivery {
                    if let Some(c) = counters {
                        extra["webhook_receiver"] = serde_json::to_value(c).unwrap_or_default();
                    }
                    let path = dir.join(results::delivery_hlog_name(t.name()));
                    let mut buf = Vec::new();
                    let written = stats
                        .histograms
                        .write_hlog(&mut buf, tr.started_at, tr.elapsed)
                        .and_then(|()| results::write_atomic(&path, &buf));
                    if let Err(e) = written {
                        error = Some(format!("{}: {e}", path.display()));
                    }
                    r.delivery = Some(stats);
                }
                if extra.as_object().is_some_and(|o| !o.is_empty()) {
                    r.extra = Some(extra);
                }
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
    let verdicts: Vec<_> = thresholds.iter().flat_map(|t| t.evaluate(&out)).collect();
    let aborted = abort.as_ref().and_then(|a| a.reason.lock().ok().and_then(|r| r.clone()));
    let passed = verdicts.iter().all(|v| v.passed) && aborted.is_none();
    let run = Run {
        aborted,
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
        shard: opts.shard.is_sharded().then_some(opts.shard),
    };
    finish_partial(timeline, &timeline_path).map_err(|e| format!("{}: {e}", timeline_path.display()))?;
    results::write_run(&dir, &run).map_err(|e| format!("{}: {e}", dir.join("run.json").display()))?;
    // The report is drawn from the files just written, exactly as `wabench report` redraws it. A failure
    // to draw loses no results: run.json and the logs stay, and the error is reported.
    if let (true, Err(e)) = (opts.report, crate::report::write_report(&dir).map(|_| ())) {
        let e = format!("the results were written, but not the report: {e}");
        error = Some(match error {
            Some(first) => format!("{first}; {e}"),
            None => e,
        });
    }
    Ok(Finished { dir, run, error })
}

/// The receiver settings of one target. The embedded On-Premises simulator posts unsigned webhooks,
/// as the real On-Premises API does (it relies on TLS, not on a signature), so the receiver of an
/// embedded on-prem target never requires `X-Hub-Signature-256`. Every other target uses
/// `[webhooks]` as written (set `verify_signature = false` for a real on-prem deployment).
fn receiver_config<'a>(cfg: &'a WebhookConfig, spec: &TargetSpec) -> Cow<'a, WebhookConfig> {
    if spec.is_embedded() && spec.kind == TargetKind::OnPrem && cfg.verify_signature {
        Cow::Owned(WebhookConfig { verify_signature: false, ..cfg.clone() })
    } else {
        Cow::Borrowed(cfg)
    }
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
    let plan_only = p.is_plan_only();
    if let (true, Some(spec)) = (plan_only, &p.plan) {
        let _ = writeln!(
            s,
            "load: set by `wabench plan`: steps of {} from {}/s, ×{} until p99 > {} or errors > {:.2}%, then {} bisection steps",
            spec.step,
            spec.start_rate,
            spec.growth,
            spec.slo_p99,
            spec.max_error_rate * 100.0,
            spec.refine
        );
    } else {
        let _ = writeln!(s, "load: {}", describe(&plan));
    }
    if let Some(pacer) = plan.pacer.as_ref().filter(|_| !plan_only) {
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
        let to = match t.address() {
            Some(a) => crate::target::Endpoint::parse(a).map(|e| e.url()).unwrap_or_default(),
            None => "the embedded simulator".into(),
        };
        let what = match t.kind {
            crate::profile::TargetKind::Http => t.method.clone().unwrap_or_else(|| "GET".into()),
            crate::profile::TargetKind::Cloud => "Cloud API".into(),
            crate::profile::TargetKind::OnPrem => "On-Premises API".into(),
        };
        let _ = writeln!(s, "  {} ({what}) → {to}", t.name);
    }
    if p.targets.iter().any(|t| t.kind != TargetKind::Http) {
        let _ = writeln!(
            s,
            "messages: {}",
            p.messages
                .weights()
                .iter()
                .filter(|(_, w)| *w > 0)
                .map(|(k, w)| format!("{} {w}", k.name()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(s, "recipients: {}", loaded.recipients.len());
        for w in loaded.recipients.warnings(peak_rate(&p.load)) {
            let _ = writeln!(s, "  warning: {w}");
        }
    }
    if !p.thresholds.is_empty() {
        let _ = writeln!(s, "thresholds:");
        for (k, v) in &p.thresholds {
            let _ = writeln!(s, "  {k} {v}");
        }
    }
    s
}

/// The highest requested rate of an open-loop load.
pub fn peak_rate(l: &crate::profile::LoadSpec) -> Option<f64> {
    match l.model {
        crate::profile::Model::Closed => None,
        crate::profile::Model::Open => {
            Some(l.rate.unwrap_or(0.0).max(l.start_rate).max(l.stages.iter().map(|s| s.to).fold(0.0, f64::max)))
        }
    }
}

/// The embedded simulator's configuration for a target: the profile's `[simulator]` table in the
/// target's flavor, each flavor with its own random sequence drawn from the seed.
pub fn sim_config_for(p: &crate::profile::Profile, spec: &crate::profile::TargetSpec) -> crate::sim::SimConfig {
    let mut cfg = p.simulator.clone();
    cfg.flavor = if spec.kind == TargetKind::OnPrem { crate::sim::Flavor::OnPrem } else { crate::sim::Flavor::Cloud };
    if cfg.flavor == crate::sim::Flavor::OnPrem {
        cfg.seed = crate::whatsapp::body::mix64(cfg.seed, 0x6f6e_7072_656d);
    }
    cfg
}
