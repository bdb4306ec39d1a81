//! Servers a run starts beside the load: the embedded simulator of a target and the status-webhook
//! receiver. Each runs on its own thread with its own runtime, so it never shares an event loop with
//! the load threads; each is stopped and joined when its target is done.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::sim::{SimConfig, SimStats};
use crate::units::Shutdown;
use crate::webhook::{DeliveryStats, ReceiverConfig, ReceiverCounters, Tracker, WebhookConfig};

/// How often the statuses still outstanding are counted while the run waits for them.
const POLL: Duration = Duration::from_millis(50);

/// A server on its own thread: `start` runs inside the thread's runtime, sends back what the caller
/// needs (its address), then waits for the stop signal and returns its final figures.
struct Threaded<T: Send + 'static> {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Option<T>>>,
}

impl<T: Send + 'static> Threaded<T> {
    fn spawn<R, F, Fut>(name: &str, body: F) -> Result<(R, Threaded<T>), String>
    where
        R: Send + 'static,
        F: FnOnce(std::sync::mpsc::Sender<Result<R, String>>, oneshot::Receiver<()>) -> Fut + Send + 'static,
        Fut: Future<Output = Option<T>>,
    {
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let err_tx = tx.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt.block_on(body(tx, stop_rx)),
                Err(e) => {
                    let _ = err_tx.send(Err(format!("cannot start a runtime: {e}")));
                    None
                }
            })
            .map_err(|e| format!("cannot start the {name} thread: {e}"))?;
        let r = rx.recv().map_err(|_| format!("the {name} thread ended before starting"))??;
        Ok((r, Threaded { stop: Some(stop_tx), thread: Some(thread) }))
    }

    fn finish(mut self) -> Option<T> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.thread.take().and_then(|t| t.join().ok().flatten())
    }
}

impl<T: Send + 'static> Drop for Threaded<T> {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// The embedded simulator of one target.
pub struct Embedded {
    pub url: String,
    sim: crate::sim::Sim,
    inner: Threaded<SimStats>,
}

impl Embedded {
    /// Start it on a loopback port; `numbering` = (first, step) of its request numbers (see
    /// `Sim::numbered`).
    pub fn start(cfg: SimConfig, numbering: (u64, u64)) -> Result<Embedded, String> {
        Self::start_at(cfg, numbering, std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Start it listening on `listen`.
    pub fn start_at(cfg: SimConfig, numbering: (u64, u64), listen: std::net::SocketAddr) -> Result<Embedded, String> {
        let ((url, sim), inner) = Threaded::spawn("wabench-sim", move |tx, stop| async move {
            match crate::sim::spawn_at(cfg, listen, numbering.0, numbering.1).await {
                Ok(h) => {
                    let _ = tx.send(Ok((h.url(), h.sim().clone())));
                    let _ = stop.await;
                    // Counted after shutdown, so that webhooks abandoned by it are included.
                    let sim = h.sim().clone();
                    let _ = h.shutdown().await;
                    Some(sim.stats())
                }
                Err(e) => {
                    let _ = tx.send(Err(format!("cannot start the embedded simulator: {e}")));
                    None
                }
            }
        })?;
        Ok(Embedded { url, sim, inner })
    }

    /// Status webhooks still to come: planned and neither posted nor given up yet, or (at least one
    /// per message) of accepted messages the webhook scheduler has not planned yet.
    pub fn statuses_outstanding(&self) -> u64 {
        // Read before the counts: a message planned in between is then counted in both, never in none.
        let unscheduled = self.sim.webhooks_unscheduled();
        let w = self.sim.stats().webhooks;
        w.statuses_planned.saturating_sub(w.statuses_posted + w.given_up) + unscheduled
    }

    /// The simulator itself (to watch its sends, or tell it a user wrote).
    pub fn sim(&self) -> &crate::sim::Sim {
        &self.sim
    }

    /// Stop it; its counters.
    pub fn finish(self) -> Option<SimStats> {
        self.inner.finish()
    }
}

/// The status-webhook receiver of one target and the tracker it feeds.
pub struct Hooks {
    /// Where webhooks are to be posted (`http://127.0.0.1:port/path`).
    pub url: String,
    /// The app secret webhooks are signed with (None: unsigned, on-prem style).
    pub secret: Option<Vec<u8>>,
    pub tracker: Tracker,
    verify_token: Option<String>,
    grace: Duration,
    inner: Threaded<ReceiverCounters>,
}

/// A secret for a run whose webhooks come from the embedded simulator: random, never written anywhere.
fn run_secret() -> Vec<u8> {
    let b: [u8; 32] = rand::random();
    hex::encode(b).into_bytes()
}

impl Hooks {
    /// Start the receiver of `[webhooks]`. With `embedded`, a missing app secret is made up for the run
    /// (the simulator signs with the same one).
    pub fn start(cfg: &WebhookConfig, embedded: bool) -> Result<Hooks, String> {
        let rc = Self::resolve(cfg, embedded)?;
        Self::start_with(cfg, rc)
    }

    /// The receiver settings of `[webhooks]`, with a made-up secret when `embedded` lacks one.
    fn resolve(cfg: &WebhookConfig, embedded: bool) -> Result<ReceiverConfig, String> {
        Ok(match cfg.resolve() {
            Ok(rc) => rc,
            Err(_) if embedded => {
                let mut c = cfg.clone();
                c.verify_token_env = None;
                let mut rc = c.resolve_with(|_| None).unwrap_or_default();
                if cfg.verify_signature {
                    rc.app_secret = Some(run_secret());
                }
                rc
            }
            Err(e) => return Err(e.to_string()),
        })
    }

    /// The receiver a `kind = "webhook"` target with `url = "embedded"` drives: `[webhooks]`'s listen
    /// address, path and limits, with an app secret (`signed`) and a verify token made up for the run.
    pub fn start_for_webhook_target(cfg: &WebhookConfig, signed: bool) -> Result<Hooks, String> {
        let mut c = cfg.clone();
        c.verify_token_env = None;
        c.verify_signature = false;
        let mut rc = c.resolve_with(|_| None).map_err(|e| e.to_string())?;
        rc.app_secret = signed.then(run_secret);
        rc.verify_token = Some(String::from_utf8_lossy(&run_secret()[..32]).into_owned());
        Self::start_with(cfg, rc)
    }

    /// The verify token the receiver expects (set for a webhook target's receiver).
    pub fn verify_token(&self) -> Option<&str> {
        self.verify_token.as_deref()
    }

    fn start_with(cfg: &WebhookConfig, rc: ReceiverConfig) -> Result<Hooks, String> {
        let secret = rc.app_secret.clone();
        let verify_token = rc.verify_token.clone();
        let tracker = Tracker::new(cfg.tracker_config());
        let t = tracker.clone();
        let listen = cfg.listen;
        let path = rc.path.clone();
        let ((addr,), inner) = Threaded::spawn("wabench-webhooks", move |tx, stop| async move {
            let listener = match tokio::net::TcpListener::bind(listen).await {
                Ok(l) => l,
                Err(e) => {
                    let _ = tx.send(Err(format!("webhooks.listen: cannot listen on {listen}: {e}")));
                    return None;
                }
            };
            match crate::webhook::spawn(listener, rc, t) {
                Ok(h) => {
                    let _ = tx.send(Ok((h.addr,)));
                    let _ = stop.await;
                    let counters = h.counters();
                    let _ = h.stop().await;
                    Some(counters)
                }
                Err(e) => {
                    let _ = tx.send(Err(format!("cannot start the webhook receiver: {e}")));
                    None
                }
            }
        })?;
        Ok(Hooks { url: format!("http://{addr}{path}"), secret, verify_token, tracker, grace: cfg.grace, inner })
    }

    /// Wait up to the grace time for final statuses (less when none is outstanding, or the run was
    /// stopped), stop the receiver, and settle the accounts.
    pub fn finish(self, stop: &Shutdown) -> (DeliveryStats, Option<ReceiverCounters>) {
        let until = Instant::now() + self.grace;
        while Instant::now() < until && self.tracker.snapshot().in_flight > 0 && !stop.wait_timeout(POLL) {}
        let counters = self.inner.finish();
        (self.tracker.finish(), counters)
    }
}
