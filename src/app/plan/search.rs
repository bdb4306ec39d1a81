//! Capacity planning: a breakpoint search (constant-rate steps, growing until the SLO breaks, then
//! bisection between the last good and the first bad rate) per target, the limit that binds at the
//! breakpoint ([`super::binding`]) and sizing advice that fits it ([`super::sizing`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::binding::{Finding, classify};
use super::step::Step;
use crate::app::AppError;
use crate::app::session::{Session, Setup};
use crate::engine::{Plan, run_target};
use crate::spec::capacity::PlanSpec;
use crate::spec::messages::RetrySpec;
use crate::spec::{Loaded, Model};
use crate::units::Shutdown;

/// The search's result for one target.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Breakpoint {
    pub target: String,
    pub kind: String,
    pub steps: Vec<Step>,
    /// Highest offered rate that met the SLO (None: even the first step failed).
    pub sustainable: Option<f64>,
    /// Lowest offered rate that broke it (None: max_rate was reached without breaking).
    pub broke_at: Option<f64>,
    /// The limit that binds at the breakpoint (None: never broken).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<Finding>,
    pub advice: Vec<String>,
    /// A profile that carries the target rate from as many numbers as the advice says (a Cloud
    /// target bound by one number's throughput): the file name written beside plan.json, and its text.
    #[serde(skip)]
    pub numbers_profile: Option<(String, String)>,
}

/// Errors that say the target is at its limit: throttling, overload and unavailability codes,
/// 5xx answers, timeouts and connection failures. Answers about one message or recipient
/// (undeliverable, re-engagement, bad parameters) do not measure capacity and are not counted.
pub fn is_capacity_error(o: crate::engine::metrics::Outcome) -> bool {
    use crate::engine::metrics::Outcome::*;
    match o {
        Ok | Dropped | Cancelled => false,
        Timeout | Connect | Tls | Io | ClosedAfterSend | BodyTooLarge | InvalidResponse => true,
        Status(s) => s == 429 || s >= 500,
        ApiError(_) => crate::drivers::whatsapp::codes::policy(o) != crate::drivers::whatsapp::codes::Policy::Never,
    }
}

fn step_passes(s: &Step, spec: &PlanSpec) -> bool {
    s.sent > 0 && s.p99_us as f64 <= spec.slo_p99.0.as_secs_f64() * 1e6 && s.error_rate <= spec.max_error_rate
}

/// Why a step sends each message once, said in the planner's output: a step measures what the target
/// sustains at the rate offered, and retries would add load the step did not offer.
pub const NO_RETRIES: &str =
    "each message is sent once (no retries): a step measures what the target sustains at the offered rate";

/// Run one constant-rate step against a freshly set-up target (a fresh embedded simulator, if any),
/// through the same session as `run`.
/// Where the search stands, for the progress line a terminal shows during a step.
struct Standing {
    /// Steps run so far for this target, and the most it can take.
    done: usize,
    most: usize,
    /// The highest rate within the SLO so far.
    good: Option<f64>,
}

impl Standing {
    /// The most steps a search can take: growth from `start_rate` until `max_rate`, then `refine`.
    fn most(spec: &PlanSpec) -> usize {
        let growth = if spec.growth > 1.0 { (spec.max_rate / spec.start_rate).ln() / spec.growth.ln() } else { 0.0 };
        growth.max(0.0).floor() as usize + 1 + spec.refine as usize
    }

    fn note(&self, spec: &PlanSpec) -> String {
        let left = spec.step.0 * (self.most.saturating_sub(self.done + 1)) as u32;
        format!(
            "  · step {} of ≤{} (≤{} after this one){}",
            self.done + 1,
            self.most,
            crate::units::fmt_us(left.as_micros() as f64),
            self.good.map(|g| format!(" · within the SLO up to {g:.1}/s")).unwrap_or_default()
        )
    }
}

fn run_step(
    loaded: &Loaded,
    index: usize,
    rate: f64,
    spec: &PlanSpec,
    stop: &Shutdown,
    standing: &Standing,
) -> Result<Step, AppError> {
    let p = &loaded.profile;
    let mut load = p.load.clone();
    load.model = Model::Open;
    load.rate = Some(rate);
    load.stages.clear();
    load.duration = Some(spec.step);
    load.max_requests = None;
    load.think_time = None;
    let plan = Plan::from_spec(&load);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let setup = Setup { retry: Some(RetrySpec { max_attempts: 1, ..p.retry.clone() }), ..Setup::default() };
    let session = Session::start(loaded, index, &setup, &rt)?;
    let t = session.target.clone();
    let progress: Arc<crate::engine::executor::Progress> = Arc::default();
    let done = Shutdown::new();
    let shown = std::io::stderr().is_terminal().then(|| {
        let name = format!("{} {rate:.1}/s", p.targets[index].name);
        crate::app::run::progress::spawn(name, plan.clone(), progress.clone(), done.clone(), standing.note(spec))
    });
    let run = run_target(t, session.addr, &plan, stop.clone(), std::io::sink(), std::io::sink(), progress);
    done.stop();
    if let Some(h) = shown {
        let _ = h.join();
    }
    let teardown = session.finish(stop);
    let (tr, _, _) =
        run.map_err(|source| AppError::Engine { target: loaded.profile.targets[index].name.clone(), source })?;
    let r = &tr.recorder;
    let by_key: BTreeMap<String, u64> =
        r.outcomes.iter().filter(|(k, _)| is_capacity_error(**k)).map(|(k, v)| (k.key(), v.count)).collect();
    let errors: u64 = by_key.values().sum();
    let dropped = r.count(crate::engine::metrics::Outcome::Dropped);
    let due = r.sent + dropped;
    let achieved = r.achieved_rate().unwrap_or(0.0);
    let q = |h: &hdrhistogram::Histogram<u64>, q: f64| if h.is_empty() { 0 } else { h.value_at_quantile(q) };
    let mut s = Step {
        offered: rate,
        achieved,
        sent: r.sent,
        p50_us: q(&r.latency, 0.5),
        p99_us: q(&r.latency, 0.99),
        // A dropped request failed the user as much as an error did.
        error_rate: if due > 0 { (errors + dropped) as f64 / due as f64 } else { 1.0 },
        dropped,
        delivered: teardown.delivery.map(|d| d.messages_delivered),
        passed: false,
        service_p50_us: q(&r.service, 0.5),
        service_p99_us: q(&r.service, 0.99),
        lateness_p99_us: q(&r.lateness, 0.99),
        errors: by_key,
    };
    if let Some(c) = &teardown.conversation {
        conversation_step(&mut s, c);
    }
    s.passed = step_passes(&s, spec);
    Ok(s)
}

/// A conversation target's step is judged on what its users see: the time to the bot's first
/// reply, and the turns left unanswered (with the codes the bot's failed replies got) as errors.
fn conversation_step(s: &mut Step, c: &crate::app::session::conversation::Finished) {
    let q = |h: &hdrhistogram::Histogram<u64>, q: f64| if h.is_empty() { 0 } else { h.value_at_quantile(q) };
    s.p50_us = q(&c.all, 0.5);
    s.p99_us = q(&c.all, 0.99);
    let st = &c.stats;
    for (code, n) in &st.failed_replies {
        *s.errors.entry(format!("api_{code}")).or_default() += n;
    }
    // A turn whose reply the API refused is the API's limit, not the bot's: only the turns left
    // unanswered beyond the failed replies point to the bot.
    let silent = st.unanswered.saturating_sub(st.failed());
    if silent > 0 {
        s.errors.insert("unanswered".into(), silent);
    }
    let due = st.turns + st.not_delivered + s.dropped;
    s.error_rate = if due > 0 { (st.unanswered + st.not_delivered + s.dropped) as f64 / due as f64 } else { 1.0 };
}

/// Search the breakpoint of every target; `progress` gets a line per step.
pub fn search(
    loaded: &Loaded,
    spec: &PlanSpec,
    stop: Shutdown,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<Breakpoint>, AppError> {
    let mut out = Vec::new();
    for (i, t) in loaded.profile.targets.iter().enumerate() {
        let mut steps: Vec<Step> = Vec::new();
        let mut rate = spec.start_rate;
        let (mut good, mut bad): (Option<f64>, Option<f64>) = (None, None);
        let most = Standing::most(spec);
        let standing = |steps: &[Step], good| Standing { done: steps.len(), most, good };
        while rate <= spec.max_rate && !stop.is_stopped() {
            let s = run_step(loaded, i, rate, spec, &stop, &standing(&steps, good))?;
            progress(&describe(&t.name, &s));
            let passed = s.passed;
            steps.push(s);
            if passed {
                good = Some(rate);
                rate *= spec.growth;
            } else {
                bad = Some(rate);
                break;
            }
        }
        if let (Some(mut lo), Some(mut hi)) = (good, bad) {
            for _ in 0..spec.refine {
                if stop.is_stopped() {
                    break;
                }
                let mid = (lo + hi) / 2.0;
                let s = run_step(loaded, i, mid, spec, &stop, &standing(&steps, Some(lo)))?;
                progress(&describe(&t.name, &s));
                if s.passed {
                    lo = mid
                } else {
                    hi = mid
                }
                steps.push(s);
            }
            good = Some(lo);
            bad = Some(hi);
        }
        let at = |rate: Option<f64>| rate.and_then(|r| steps.iter().find(|s| s.offered == r));
        let binding = at(bad).map(|b| classify(t.kind, b, at(good), spec));
        let mut b = Breakpoint {
            target: t.name.clone(),
            kind: format!("{:?}", t.kind).to_lowercase(),
            sustainable: good,
            broke_at: bad,
            binding,
            steps,
            advice: Vec::new(),
            numbers_profile: None,
        };
        b.advice = advice(loaded, i, &b, spec);
        if let Some((name, text)) = super::sizing::numbers_profile(loaded, i, b.binding.as_ref(), spec) {
            b.advice.push(format!("to run it: {name} in the plan's folder sends at that rate from those numbers"));
            b.numbers_profile = Some((name, text));
        }
        out.push(b);
    }
    Ok(out)
}

fn describe(target: &str, s: &Step) -> String {
    format!(
        "{target}: offered {:.1}/s → achieved {:.1}/s, p99 {}, errors {:.2}%{} — {}",
        s.offered,
        s.achieved,
        crate::units::fmt_us(s.p99_us as f64),
        s.error_rate * 100.0,
        if s.dropped > 0 { format!(", {} dropped", s.dropped) } else { String::new() },
        if s.passed { "within the SLO" } else { "SLO broken" }
    )
}

fn advice(loaded: &Loaded, index: usize, b: &Breakpoint, spec: &PlanSpec) -> Vec<String> {
    let bad = b.broke_at.and_then(|r| b.steps.iter().find(|s| s.offered == r));
    let Some(cap) = b.sustainable else {
        let mut a = vec!["the first step already broke the SLO: lower plan.start_rate or relax the SLO".to_string()];
        if let Some(f) = &b.binding {
            a.push(format!("binding limit: {} — {}", f.limit.name(), f.evidence));
        }
        return a;
    };
    let mut a = vec![format!(
        "highest rate within the SLO (p99 ≤ {}, errors ≤ {:.2}%): {cap:.1} messages/s{}",
        spec.slo_p99,
        spec.max_error_rate * 100.0,
        match b.broke_at {
            Some(x) => format!("; broken at {x:.1}/s"),
            None => format!("; not broken up to plan.max_rate ({})", spec.max_rate),
        }
    )];
    let input = super::sizing::Input { loaded, index, cap, bad, finding: b.binding.as_ref(), spec };
    a.extend(super::sizing::advice(&input));
    a
}

/// The plan report: a table of steps and the advice, per target.
pub fn text(bps: &[Breakpoint]) -> String {
    let mut s = String::new();
    for b in bps {
        let _ = writeln!(s, "{} ({})", b.target, b.kind);
        let _ = writeln!(s, "  {NO_RETRIES}");
        let _ = writeln!(
            s,
            "  {:>10} {:>10} {:>8} {:>10} {:>10} {:>8}  verdict",
            "offered/s", "achieved/s", "sent", "p50", "p99", "errors"
        );
        let mut steps = b.steps.clone();
        steps.sort_by(|x, y| x.offered.total_cmp(&y.offered));
        for st in &steps {
            let _ = writeln!(
                s,
                "  {:>10.1} {:>10.1} {:>8} {:>10} {:>10} {:>7.2}%  {}",
                st.offered,
                st.achieved,
                st.sent,
                crate::units::fmt_us(st.p50_us as f64),
                crate::units::fmt_us(st.p99_us as f64),
                st.error_rate * 100.0,
                if st.passed { "ok" } else { "SLO broken" }
            );
        }
        for a in &b.advice {
            let _ = writeln!(s, "  - {a}");
        }
        let _ = writeln!(s);
    }
    s
}

/// Write `plan.json`, `plan.txt` and `steps.csv` into `dir`.
pub fn write(dir: &Path, bps: &[Breakpoint]) -> Result<PathBuf, AppError> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let json = serde_json::to_vec_pretty(bps).map_err(|e| e.to_string())?;
    crate::results::write_atomic(&dir.join("plan.json"), &json).map_err(|e| e.to_string())?;
    crate::results::write_atomic(&dir.join("plan.txt"), text(bps).as_bytes()).map_err(|e| e.to_string())?;
    let mut csv = String::from("target,offered,achieved,sent,p50_us,p99_us,error_rate,dropped,passed\n");
    for b in bps {
        for st in &b.steps {
            let _ = writeln!(
                csv,
                "{},{:.3},{:.3},{},{},{},{:.6},{},{}",
                b.target, st.offered, st.achieved, st.sent, st.p50_us, st.p99_us, st.error_rate, st.dropped, st.passed
            );
        }
    }
    crate::results::write_atomic(&dir.join("steps.csv"), csv.as_bytes()).map_err(|e| e.to_string())?;
    for (name, text) in bps.iter().filter_map(|b| b.numbers_profile.as_ref()) {
        crate::results::write_atomic(&dir.join(name), text.as_bytes()).map_err(|e| e.to_string())?;
    }
    crate::report::render::render(&knee(bps), dir)?;
    Ok(dir.to_path_buf())
}

/// The knee: latency (p50 dashed, p99 solid) against the offered rate, one colour per target.
pub fn knee(bps: &[Breakpoint]) -> crate::report::charts::Figure {
    use crate::report::charts::{Figure, Line, LinePlot, Plot, Stroke, XAxis, color};
    let mut lines = Vec::new();
    for (i, b) in bps.iter().enumerate() {
        let mut steps = b.steps.clone();
        steps.sort_by(|x, y| x.offered.total_cmp(&y.offered));
        let pts = |f: fn(&Step) -> u64| {
            steps.iter().map(|s| (s.offered, (s.sent > 0).then(|| f(s) as f64 / 1000.0))).collect()
        };
        lines.push(Line {
            label: format!("{} p99", b.target),
            color: color(i),
            stroke: Stroke::Solid,
            width: 2,
            points: pts(|s| s.p99_us),
        });
        lines.push(Line {
            label: format!("{} p50", b.target),
            color: color(i),
            stroke: Stroke::Dashed,
            width: 2,
            points: pts(|s| s.p50_us),
        });
    }
    Figure {
        stem: "knee".into(),
        title: "Latency against offered rate".into(),
        caption: "Each point is one constant-rate step of the search; where p99 turns up sharply is the knee.".into(),
        no_data: "no step sent anything".into(),
        plot: Plot::Lines(LinePlot {
            x: XAxis::Seconds,
            x_label: "offered rate (messages/s)".into(),
            y_label: "latency (ms)".into(),
            lines,
            secondary: None,
            markers: Vec::new(),
        }),
    }
}
