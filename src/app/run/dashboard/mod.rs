//! `run --dashboard ADDR`: one self-contained live page of the run (rate, latency percentiles per
//! second, outcomes and errors by code, delivery latency, per target; the current target and the time
//! elapsed and left), updated by server-sent events, with the operator's controls: pause, resume, a new
//! open-loop rate, stop. Each control is also an HTTP call for scripts (`POST /control/pause`, …,
//! answered in JSON) and each is recorded in run.json's `operator` list.
//!
//! `Operator` is the run's side of it: the targets that ran and run, the orders in force (handed to
//! each target's engine control as it starts), the actions taken and the stop signal. `server` is the
//! HTTP side, `access` who may use it, `snapshot` what one event holds, `page.html` the page.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::engine::control::Orders;
use crate::engine::executor::Progress;
use crate::results::operator::{self, OperatorAction};
use crate::spec::Model;
use crate::units::Shutdown;

mod access;
mod server;
mod snapshot;
pub use access::Access;

/// A target the page shows: one that runs, or ran, in this run.
struct Entry {
    name: String,
    kind: String,
    progress: Arc<Progress>,
    /// Its delivery tracking, when status webhooks are tracked.
    delivery: Option<crate::webhook::Tracker>,
    done: AtomicBool,
}

/// What the run looks like to the page: its plan and the targets to come.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub profile: String,
    pub model: Model,
    /// A target's planned length (none: until stopped or its requests are sent).
    pub duration: Option<Duration>,
    pub targets: Vec<String>,
    /// The highest rate the profile allows (`load.max_rate`).
    pub max_rate: f64,
}

/// Why a control call was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Refused {
    /// The request itself is wrong (HTTP 400).
    Bad(String),
    /// Not possible in this run or now (HTTP 409).
    Conflict(String),
}

/// The operator's side of a run: targets, orders, actions and the stop.
pub struct Operator {
    info: RunInfo,
    started: OnceLock<Instant>,
    targets: Mutex<Vec<Arc<Entry>>>,
    orders: Mutex<Orders>,
    actions: Mutex<Vec<OperatorAction>>,
    /// The run's stop as the operator raises it (derived from Ctrl-C's once the run begins).
    stop: Shutdown,
    stopped: AtomicBool,
    /// The run has ended (the page says so; the server stops).
    ended: watch::Sender<bool>,
}

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Operator")
    }
}

impl Operator {
    pub fn new(info: RunInfo) -> Arc<Operator> {
        Arc::new(Operator {
            info,
            started: OnceLock::new(),
            targets: Mutex::default(),
            orders: Mutex::default(),
            actions: Mutex::default(),
            stop: Shutdown::new(),
            stopped: AtomicBool::new(false),
            ended: watch::channel(false).0,
        })
    }

    /// The run begins: its clock starts, and the stop signal it runs under is `outer` (Ctrl-C) or the
    /// operator's stop (also one given before the run began).
    pub fn begin(&self, outer: &Shutdown) -> Shutdown {
        let _ = self.started.set(Instant::now());
        outer.adopt(&self.stop);
        self.stop.clone()
    }

    /// A target starts, with its live progress (whose control takes the orders in force).
    pub fn add(&self, name: &str, kind: &str, progress: Arc<Progress>, delivery: Option<crate::webhook::Tracker>) {
        let Ok(orders) = self.orders.lock() else { return };
        if *orders != Orders::default() {
            progress.control.order(*orders);
        }
        let e = Entry { name: name.into(), kind: kind.into(), progress, delivery, done: AtomicBool::new(false) };
        if let Ok(mut t) = self.targets.lock() {
            t.push(Arc::new(e));
        }
    }

    /// Target `name` has ended.
    pub fn done(&self, name: &str) {
        for e in self.entries().iter().filter(|e| e.name == name) {
            e.done.store(true, Ordering::Relaxed);
        }
    }

    /// The run has ended: the page is told, the server stops taking connections.
    pub fn end(&self) {
        let _ = self.ended.send(true);
    }

    /// Whether the operator stopped the run.
    pub fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// What the operator did, in time order.
    pub fn actions(&self) -> Vec<OperatorAction> {
        self.actions.lock().map(|a| a.clone()).unwrap_or_default()
    }

    /// The orders in force.
    pub fn orders(&self) -> Orders {
        self.orders.lock().map(|o| *o).unwrap_or_default()
    }

    fn entries(&self) -> Vec<Arc<Entry>> {
        self.targets.lock().map(|t| t.clone()).unwrap_or_default()
    }

    fn elapsed(&self) -> Duration {
        self.started.get().map_or(Duration::ZERO, Instant::elapsed)
    }

    /// Hold new arrivals.
    pub fn pause(&self) -> Result<Orders, Refused> {
        self.change(operator::PAUSE, None, |o| o.paused = true)
    }

    /// Let new arrivals go again.
    pub fn resume(&self) -> Result<Orders, Refused> {
        self.change(operator::RESUME, None, |o| o.paused = false)
    }

    /// A new open-loop rate (requests/s) from now on, for the rest of the run.
    pub fn rate(&self, value: f64) -> Result<Orders, Refused> {
        if self.info.model != Model::Open {
            return Err(Refused::Conflict("a closed-loop run has no rate to change (pause, resume or stop it)".into()));
        }
        if !(value.is_finite() && value > 0.0) {
            return Err(Refused::Bad(format!("rate {value}: must be a number above 0 (to hold arrivals, pause)")));
        }
        if value > self.info.max_rate {
            return Err(Refused::Bad(format!("rate {value} is above load.max_rate ({})", self.info.max_rate)));
        }
        self.change(operator::RATE, Some(value), |o| o.rate = Some(value))
    }

    /// Stop the run as Ctrl-C does.
    pub fn stop(&self) -> Result<Orders, Refused> {
        if !self.stopped.swap(true, Ordering::Relaxed) {
            self.record(operator::STOP, None);
            self.stop.stop();
        }
        Ok(self.orders())
    }

    /// Change the orders, hand them to the running targets, record the action.
    fn change(&self, action: &str, value: Option<f64>, f: impl FnOnce(&mut Orders)) -> Result<Orders, Refused> {
        if *self.ended.borrow() || self.stopped() {
            return Err(Refused::Conflict("the run has ended or is stopping".into()));
        }
        let mut orders = self.orders.lock().map_err(|_| Refused::Conflict("the run's state is unreadable".into()))?;
        f(&mut orders);
        for e in self.entries().iter().filter(|e| !e.done.load(Ordering::Relaxed)) {
            e.progress.control.order(*orders);
        }
        self.record(action, value);
        Ok(*orders)
    }

    /// One action for each target running now (one without a target between targets).
    fn record(&self, action: &str, value: Option<f64>) {
        let at_s = self.elapsed().as_secs_f64();
        let running: Vec<_> = self.entries().into_iter().filter(|e| !e.done.load(Ordering::Relaxed)).collect();
        let mut out: Vec<OperatorAction> = running
            .iter()
            .map(|e| OperatorAction {
                at_s,
                action: action.into(),
                value,
                target: Some(e.name.clone()),
                target_s: e.progress.t0.get().map(|t0| Instant::now().saturating_duration_since(*t0).as_secs_f64()),
            })
            .collect();
        if out.is_empty() {
            out.push(OperatorAction { at_s, action: action.into(), value, target: None, target_s: None });
        }
        if let Ok(mut a) = self.actions.lock() {
            a.extend(out);
        }
    }

    /// One event of the page: the run as it stands, in JSON.
    pub fn snapshot(&self) -> serde_json::Value {
        snapshot::of(self)
    }
}

/// Serve the page, its events and the control API on `addr` until the run ends. Returns the URL to
/// open (with the token when one is required) and the bound address.
pub fn serve(addr: SocketAddr, op: Arc<Operator>) -> Result<(String, SocketAddr), String> {
    server::serve(addr, op, Access::for_bind(addr))
}

/// Serve as `serve` does, with the access rules given (tests check a token on a loopback bind).
pub fn serve_with(addr: SocketAddr, op: Arc<Operator>, access: Access) -> Result<(String, SocketAddr), String> {
    server::serve(addr, op, access)
}
