//! `abort_on_fail`: the run's own stop signal, raised by Ctrl-C (forwarded) or by a threshold that a
//! running target has already crossed (judged every 250 ms on its live figures).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use crate::app::thresholds::crossed_live;
use crate::engine::executor::Progress;
use crate::spec::threshold::Threshold;

/// `abort_on_fail`: the run's own stop signal, raised by Ctrl-C (forwarded) or by a crossed threshold.
pub struct Abort {
    tx: Arc<watch::Sender<bool>>,
    reason: Arc<std::sync::Mutex<Option<String>>>,
    done: Arc<AtomicBool>,
}

impl Abort {
    pub fn new(outer: watch::Receiver<bool>) -> (Abort, watch::Receiver<bool>) {
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
    pub fn watch(&self, name: String, ths: Vec<Threshold>, progress: Arc<Progress>, done: Arc<AtomicBool>) {
        let (tx, reason) = (self.tx.clone(), self.reason.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(250));
                let (sent, _ok, errors, dropped) = progress.totals();
                let hist = progress.view.lock().ok().and_then(|v| v.overall.clone());
                if let Some(why) =
                    ths.iter().find_map(|t| crossed_live(t, &name, sent, errors, dropped, hist.as_ref(), 100))
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

impl Abort {
    /// Why the run was stopped early, when a threshold stopped it.
    pub fn reason(&self) -> Option<String> {
        self.reason.lock().ok().and_then(|r| r.clone())
    }
}
