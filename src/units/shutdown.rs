//! One stop signal for everything that runs until it is stopped: a run under Ctrl-C, `abort_on_fail`,
//! a target's cost cap and the operator's stop; a server until it closes; a sampler until its target
//! ends. Raised once, asked with one atomic load, awaited by a task or waited for by a plain thread,
//! and derived: a child stops when its parent does (the parent keeps weak references to its children
//! and stops them as it stops, the child keeps its parent alive until then: no thread forwards a
//! signal, nothing polls).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// A stop signal. Clones share it; [`Shutdown::child`] derives one that also stops when this one
/// does, and that can be stopped alone without stopping this one.
#[derive(Clone, Default)]
pub struct Shutdown {
    node: Arc<Node>,
}

#[derive(Default)]
struct Node {
    /// Set once, under `state`'s lock (so that a thread waiting under it cannot miss it).
    stopped: AtomicBool,
    /// When it was raised.
    at: std::sync::OnceLock<Instant>,
    state: Mutex<State>,
    /// Wakes the threads in [`Shutdown::wait_timeout`].
    woken: Condvar,
    /// Wakes the tasks in [`Shutdown::stopped`].
    notify: Notify,
}

#[derive(Default)]
struct State {
    reason: Option<String>,
    /// Signals stopped with this one (until it stops, when they are told and forgotten).
    children: Vec<Weak<Node>>,
    /// The signals this one stops with, kept alive while it may still need them (so that a child
    /// of a child dropped still stops with the grandparent).
    parents: Vec<Arc<Node>>,
}

impl Node {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stop (with `why` as the reason, unless one was given already), then the children.
    fn raise(&self, why: Option<String>) {
        let children = {
            let mut s = self.lock();
            if s.reason.is_none() {
                s.reason = why;
            }
            if self.stopped.load(Ordering::SeqCst) {
                return;
            }
            let _ = self.at.set(Instant::now());
            self.stopped.store(true, Ordering::SeqCst);
            self.woken.notify_all();
            s.parents.clear();
            std::mem::take(&mut s.children)
        };
        self.notify.notify_waiters();
        for child in children.iter().filter_map(Weak::upgrade) {
            child.raise(None);
        }
    }
}

impl Shutdown {
    /// A signal not stopped yet.
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// When it was raised (by itself or by a parent), if it was.
    pub fn stopped_at(&self) -> Option<Instant> {
        self.node.at.get().copied()
    }

    /// Stop it, and every signal derived from it.
    pub fn stop(&self) {
        self.node.raise(None);
    }

    /// Stop it for `why` (kept as [`Shutdown::reason`], unless a reason was given first). A signal
    /// already stopped keeps stopped and takes the reason when it has none yet.
    pub fn stop_because(&self, why: impl Into<String>) {
        self.node.raise(Some(why.into()));
    }

    /// Whether it has stopped (one atomic load).
    pub fn is_stopped(&self) -> bool {
        self.node.stopped.load(Ordering::SeqCst)
    }

    /// The reason given to this signal itself ([`Shutdown::stop_because`]); one stopped by its parent
    /// has none of its own.
    pub fn reason(&self) -> Option<String> {
        self.node.lock().reason.clone()
    }

    /// Resolves once it has stopped (at once when it has).
    pub async fn stopped(&self) {
        // Made before looking: a stop after the look wakes it (`notify_waiters` reaches every
        // `Notified` made before it, polled or not).
        let woken = self.node.notify.notified();
        if self.is_stopped() {
            return;
        }
        woken.await;
    }

    /// Block the thread until it has stopped or `timeout` has passed: whether it has stopped.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let Some(deadline) = Instant::now().checked_add(timeout) else {
            self.wait();
            return true;
        };
        let mut s = self.node.lock();
        while !self.is_stopped() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            s = self.node.woken.wait_timeout(s, left).unwrap_or_else(PoisonError::into_inner).0;
        }
        true
    }

    /// Block the thread until it has stopped.
    pub fn wait(&self) {
        let mut s = self.node.lock();
        while !self.is_stopped() {
            s = self.node.woken.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// A signal that stops when this one stops (at once if it has), or when it is stopped itself;
    /// stopping it does not stop this one.
    pub fn child(&self) -> Shutdown {
        let child = Shutdown::new();
        self.adopt(&child);
        child
    }

    /// Make `other`, made elsewhere, stop when this one stops (at once if it has), as a child does.
    /// (Not in a circle: signals adopting each other would keep each other alive.)
    pub fn adopt(&self, other: &Shutdown) {
        {
            let mut s = self.node.lock();
            if !self.is_stopped() {
                s.children.retain(|c| c.strong_count() > 0);
                s.children.push(Arc::downgrade(&other.node));
                drop(s);
                let mut o = other.node.lock();
                if !other.is_stopped() {
                    o.parents.push(self.node.clone());
                }
                return;
            }
        }
        other.node.raise(None);
    }
}

impl std::fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shutdown").field("stopped", &self.is_stopped()).field("reason", &self.reason()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upper bound only: every wait below returns at once when the signal works.
    const LONG: Duration = Duration::from_secs(60);

    #[test]
    fn a_child_stops_with_its_parent_and_its_own_children_with_it() {
        let run = Shutdown::new();
        let (child, other) = (run.child(), run.child());
        let grandchild = child.child();
        assert!(!child.is_stopped() && !grandchild.is_stopped());
        run.stop();
        assert!(run.is_stopped() && child.is_stopped() && other.is_stopped() && grandchild.is_stopped());
        // One derived after the stop is born stopped.
        assert!(run.child().is_stopped());
        // A clone is the same signal.
        let (a, b) = (Shutdown::new(), Shutdown::new());
        let a2 = a.clone();
        a2.stop();
        assert!(a.is_stopped() && !b.is_stopped());
    }

    #[test]
    fn the_instant_of_the_stop_is_kept_once() {
        let run = Shutdown::new();
        let child = run.child();
        assert_eq!((run.stopped_at(), child.stopped_at()), (None, None));
        let before = Instant::now();
        run.stop();
        let at = run.stopped_at().expect("raised");
        assert!(at >= before && child.stopped_at().is_some_and(|c| c >= at), "the child stops with it, not before");
        run.stop_because("again");
        assert_eq!(run.stopped_at(), Some(at), "a second stop does not move it");
    }

    #[test]
    fn a_grandchild_stops_with_its_grandparent_when_the_child_between_them_is_dropped() {
        let run = Shutdown::new();
        let grandchild = run.child().child();
        let (weak_run, weak_grandchild) = (Arc::downgrade(&run.node), Arc::downgrade(&grandchild.node));
        run.stop();
        assert!(grandchild.is_stopped());
        // Stopped, it lets its parents go; dropped, it is gone (no circle of references).
        drop((run, grandchild));
        assert!(weak_run.upgrade().is_none() && weak_grandchild.upgrade().is_none());
    }

    #[test]
    fn a_child_stopped_alone_leaves_its_parent_and_siblings_running() {
        let run = Shutdown::new();
        let (child, sibling) = (run.child(), run.child());
        let grandchild = child.child();
        child.stop();
        assert!(child.is_stopped() && grandchild.is_stopped());
        assert!(!run.is_stopped() && !sibling.is_stopped());
        assert!(!run.wait_timeout(Duration::from_millis(1)), "the parent was not stopped");
    }

    #[test]
    fn an_adopted_signal_stops_with_its_new_parent_also_when_that_one_has_stopped() {
        let (run, made_before) = (Shutdown::new(), Shutdown::new());
        run.adopt(&made_before);
        run.stop();
        assert!(made_before.is_stopped());
        let late = Shutdown::new();
        run.adopt(&late);
        assert!(late.is_stopped());
    }

    #[test]
    fn a_thread_waiting_wakes_when_a_parent_stops() {
        let run = Shutdown::new();
        let child = run.child();
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let c = child.clone();
                std::thread::spawn(move || c.wait_timeout(LONG))
            })
            .collect();
        run.stop();
        for w in waiters {
            assert!(w.join().unwrap(), "woken by the stop, not by the timeout");
        }
        assert!(child.wait_timeout(LONG), "already stopped: true at once");
        child.wait();
    }

    #[test]
    fn a_wait_without_a_stop_ends_at_its_timeout_with_false() {
        let s = Shutdown::new();
        assert!(!s.wait_timeout(Duration::from_millis(20)));
        assert!(!s.wait_timeout(Duration::ZERO));
        assert!(!s.is_stopped());
    }

    #[test]
    fn a_task_awaiting_wakes_when_a_parent_stops() {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let run = Shutdown::new();
        let child = run.child().child();
        let waiting = {
            let c = child.clone();
            rt.spawn(async move { tokio::time::timeout(LONG, c.stopped()).await.is_ok() })
        };
        // From a plain thread, as a signal handler stops a run.
        std::thread::spawn(move || run.stop()).join().unwrap();
        assert!(rt.block_on(waiting).unwrap(), "woken by the stop, not by the timeout");
        let again = rt.block_on(async { tokio::time::timeout(LONG, child.stopped()).await });
        assert!(again.is_ok(), "already stopped: at once");
    }

    #[test]
    fn a_pending_await_stays_pending_until_the_stop() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let s = Shutdown::new();
        let waited = rt.block_on(async { tokio::time::timeout(Duration::from_millis(20), s.stopped()).await });
        assert!(waited.is_err(), "not stopped: still waiting at the timeout");
        s.stop();
        let waited = rt.block_on(async { tokio::time::timeout(LONG, s.stopped()).await });
        assert!(waited.is_ok());
    }

    #[test]
    fn the_first_reason_is_kept_and_a_child_stopped_by_its_parent_has_none_of_its_own() {
        let run = Shutdown::new();
        let abort = run.child();
        abort.stop_because("error_rate < 1%: 100%");
        assert!(abort.is_stopped() && !run.is_stopped());
        abort.stop_because("p99 < 5ms");
        assert_eq!(abort.reason().as_deref(), Some("error_rate < 1%: 100%"));

        let run = Shutdown::new();
        let abort = run.child();
        run.stop();
        assert_eq!(abort.reason(), None, "stopped by its parent (Ctrl-C)");
        // A threshold crossed while the run drains still says why.
        abort.stop_because("error_rate < 1%");
        assert_eq!(abort.reason().as_deref(), Some("error_rate < 1%"));
        assert_eq!(run.reason(), None);
    }

    #[test]
    fn children_dropped_are_forgotten() {
        let run = Shutdown::new();
        for _ in 0..1000 {
            drop(run.child());
        }
        let kept = run.child();
        assert_eq!(run.node.lock().children.len(), 1, "only the live child is kept");
        run.stop();
        assert!(kept.is_stopped());
        assert!(run.node.lock().children.is_empty());
    }
}
