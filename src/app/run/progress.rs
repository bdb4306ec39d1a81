//! The progress of a run: a live line on a terminal, or a plain line every few seconds in a log (CI),
//! with elapsed time, requests, rate, errors, drops and p99.

use std::sync::Arc;
use std::time::Duration;

use crate::engine::Plan;
use crate::engine::executor::Progress;
use crate::units::Shutdown;

/// Draw the progress of one target every 200 ms until `done`; `note` ends the line (e.g. a plan's
/// step and time left).
pub fn spawn(
    name: String,
    plan: Plan,
    progress: Arc<Progress>,
    done: Shutdown,
    note: String,
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
        loop {
            if let Some(t0) = progress.t0.get() {
                let el = t0.elapsed();
                let (sent, _ok, errors, dropped) = progress.totals();
                let p99 = progress.view.lock().map(|v| v.p99_us).unwrap_or(0);
                bar.set_position((el.as_millis() as u64).min(len));
                bar.set_message(format!(
                    "{:>5.1}s  sent {sent}  {:.0}/s  errors {errors}  dropped {dropped}  p99 {}{note}",
                    el.as_secs_f64(),
                    sent as f64 / el.as_secs_f64().max(1e-3),
                    crate::units::fmt_us(p99 as f64)
                ));
            }
            if done.wait_timeout(Duration::from_millis(200)) {
                break;
            }
        }
        bar.finish_and_clear();
    })
}

/// Print a plain progress line of one target to stderr every `every` until `done` (output that is not
/// a terminal: a CI log shows the run is alive and how it goes).
pub fn spawn_lines(
    name: String,
    plan: Plan,
    progress: Arc<Progress>,
    done: Shutdown,
    every: Duration,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let total = plan.duration.map(|d| format!("/{:.0}s", d.as_secs_f64())).unwrap_or_default();
        let tick = Duration::from_millis(100);
        let mut next = every;
        while !done.wait_timeout(tick) {
            let Some(t0) = progress.t0.get() else { continue };
            let el = t0.elapsed();
            if el < next {
                continue;
            }
            next += every;
            let (sent, _ok, errors, dropped) = progress.totals();
            let p99 = progress.view.lock().map(|v| v.p99_us).unwrap_or(0);
            eprintln!(
                "wabench: {name} {:.0}s{total}  sent {sent} ({:.0}/s)  errors {errors}  dropped {dropped}  p99 {}",
                el.as_secs_f64(),
                sent as f64 / el.as_secs_f64().max(1e-3),
                crate::units::fmt_us(p99 as f64)
            );
        }
    })
}
