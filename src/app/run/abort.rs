//! `abort_on_fail`: the run's own stop signal, derived from the run's (Ctrl-C, the operator's stop)
//! and raised by a threshold that a running target has already crossed (judged every 250 ms on its
//! live figures), with that threshold as its reason.

use std::sync::Arc;
use std::time::Duration;

use crate::app::thresholds::crossed_live;
use crate::engine::executor::Progress;
use crate::spec::threshold::Threshold;
use crate::units::Shutdown;

/// How often a running target's live figures are judged.
const EVERY: Duration = Duration::from_millis(250);

/// `abort_on_fail`: the run's own stop signal, stopped by the run's or by a crossed threshold.
pub struct Abort {
    stop: Shutdown,
}

impl Abort {
    /// The abort of a run stopped by `outer`, and the signal the run's targets then run under.
    pub fn new(outer: &Shutdown) -> (Abort, Shutdown) {
        let stop = outer.child();
        (Abort { stop: stop.clone() }, stop)
    }

    /// Judge one target's live figures until it has `ended`; stop the run when a threshold is crossed.
    pub fn watch(&self, name: String, ths: Vec<Threshold>, progress: Arc<Progress>, ended: Shutdown) {
        let stop = self.stop.clone();
        std::thread::spawn(move || {
            loop {
                // Judged once more on the figures the target ended with.
                let last = ended.wait_timeout(EVERY);
                let (sent, _ok, errors, dropped) = progress.totals();
                let hist = progress.view.lock().ok().and_then(|v| v.overall.clone());
                if let Some(why) =
                    ths.iter().find_map(|t| crossed_live(t, &name, sent, errors, dropped, hist.as_ref(), 100))
                {
                    stop.stop_because(why);
                    return;
                }
                if last {
                    return;
                }
            }
        });
    }

    /// Why the run was stopped early, when a threshold stopped it.
    pub fn reason(&self) -> Option<String> {
        self.stop.reason()
    }
}
