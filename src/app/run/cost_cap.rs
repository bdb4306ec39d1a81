//! A WhatsApp target's cost meter during a run: every send the API accepts is priced (by its category
//! and its recipient's market, from the target's rate card) and counted, and with `max_cost` the
//! target stops sending new messages before the accepted ones could cost more than the cap. The meter
//! wraps the target (the driver is unchanged) and stops it through a stop signal of its own, derived
//! from the run's (Ctrl-C, `abort_on_fail`, the operator's stop), which so stops it too.
//!
//! The cap counts, before each attempt, what is accepted plus what is on its way; once one more
//! message of the dearest kind the run sends would not fit under the cap, the target stops. Accepted
//! sends so stay within the cap, but for attempts other load threads started in the same instant. A
//! message whose last attempt went unanswered (its fate unknown: the API may have accepted it) stays
//! counted against the cap, though not in the accepted figures.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use ::http::{Request, StatusCode};
use bytes::Bytes;
use http_body_util::Full;

use crate::app::cost::PriceTable;
use crate::engine::metrics::Outcome;
use crate::engine::target::{Answer, Classified, Endpoint, Net, Target};
use crate::spec::HttpVersion;
use crate::units::Shutdown;

/// Money in billionths of the card's currency, so that the meter adds integers.
fn nanos(x: f64) -> u64 {
    (x * 1e9).round().max(0.0) as u64
}

/// The accepted sends of a target, priced, and its cap.
pub struct Meter {
    pub table: Arc<PriceTable>,
    /// Accepted sends per cell of the table.
    accepted: Vec<AtomicU64>,
    /// Of them, delivered by their status webhooks, per cell (when delivery is tracked).
    delivered: Vec<AtomicU64>,
    /// Accepted plus on their way, in billionths.
    committed: AtomicU64,
    cap: Option<u64>,
    /// The cap this meter runs under, in the card's currency (a shard's share of the target's).
    max_cost: Option<f64>,
    dearest: u64,
    tripped: AtomicBool,
    /// Messages with an attempt on its way (or a last attempt left unanswered).
    open: std::sync::Mutex<std::collections::HashSet<u64>>,
    /// The target's stop: the run's, or the cap reached.
    stop: Shutdown,
}

impl Meter {
    /// A meter for `table` with `cap` (in the card's currency), and the stop signal the target runs
    /// under: the run's `outer` signal, or the cap reached.
    pub fn new(table: Arc<PriceTable>, cap: Option<f64>, outer: &Shutdown) -> (Arc<Meter>, Shutdown) {
        let stop = outer.child();
        let meter = Arc::new(Meter {
            accepted: (0..table.cells.len()).map(|_| AtomicU64::new(0)).collect(),
            delivered: (0..table.cells.len()).map(|_| AtomicU64::new(0)).collect(),
            committed: AtomicU64::new(0),
            cap: cap.map(nanos),
            max_cost: cap,
            dearest: nanos(table.max_price),
            table,
            tripped: AtomicBool::new(false),
            open: Default::default(),
            stop: stop.clone(),
        });
        (meter, stop)
    }

    /// Whether the cap stopped the target.
    pub fn tripped(&self) -> bool {
        self.tripped.load(Ordering::Relaxed)
    }

    /// Accepted sends per cell of the table.
    pub fn counts(&self) -> Vec<u64> {
        self.accepted.iter().map(|c| c.load(Ordering::Relaxed)).collect()
    }

    /// Delivered sends per cell of the table.
    pub fn delivered_counts(&self) -> Vec<u64> {
        self.delivered.iter().map(|c| c.load(Ordering::Relaxed)).collect()
    }

    /// Message `seq` settled in its status webhooks: delivered ones are what Meta bills.
    pub fn settled(&self, seq: u64, delivered: bool) {
        if delivered {
            self.delivered[self.table.cell(seq)].fetch_add(1, Ordering::Relaxed);
        }
    }

    fn price(&self, seq: u64) -> (usize, u64) {
        let cell = self.table.cell(seq);
        (cell, nanos(self.table.cells[cell].price))
    }

    /// Whether `seq` was open, after opening it (`true`) or closing it (`false`).
    fn open(&self, seq: u64, open: bool) -> bool {
        let mut set = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if open { !set.insert(seq) } else { set.remove(&seq) }
    }

    /// An attempt of message `seq` is on its way: counted (once: an earlier attempt left unanswered
    /// is still), and the target stopped when one more of the dearest message would not fit under
    /// the cap.
    fn starting(&self, seq: u64) {
        let (_, p) = self.price(seq);
        let p = if self.open(seq, true) { 0 } else { p };
        let now = self.committed.fetch_add(p, Ordering::Relaxed) + p;
        if let Some(cap) = self.cap
            && now + self.dearest > cap
            && !self.tripped.swap(true, Ordering::Relaxed)
        {
            self.stop.stop();
        }
    }

    /// The attempt was answered: accepted, it stays counted; refused, its price is given back.
    fn answered(&self, seq: u64, accepted: bool) {
        let (cell, p) = self.price(seq);
        self.open(seq, false);
        if accepted {
            self.accepted[cell].fetch_add(1, Ordering::Relaxed);
        } else {
            self.committed.fetch_sub(p, Ordering::Relaxed);
        }
    }
}

/// A target whose accepted sends the meter counts.
pub struct Metered {
    pub inner: Arc<dyn Target>,
    pub meter: Arc<Meter>,
}

impl Target for Metered {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn kind(&self) -> &str {
        self.inner.kind()
    }
    fn endpoint(&self) -> &Endpoint {
        self.inner.endpoint()
    }
    fn http_version(&self) -> HttpVersion {
        self.inner.http_version()
    }
    fn net(&self) -> &Net {
        self.inner.net()
    }
    fn max_body(&self) -> u64 {
        self.inner.max_body()
    }
    fn request(&self, seq: u64) -> Request<Full<Bytes>> {
        self.inner.request(seq)
    }
    fn http1_bytes(&self, seq: u64) -> Option<Bytes> {
        self.inner.http1_bytes(seq)
    }
    fn wants_body(&self, status: StatusCode) -> bool {
        self.inner.wants_body(status)
    }
    fn classify(&self, answer: &Answer<'_>) -> Classified {
        let c = self.inner.classify(answer);
        self.meter.answered(answer.seq, c.outcome == Outcome::Ok);
        c
    }
    fn retry_transport(&self, outcome: Outcome, attempt: u32) -> Classified {
        // An attempt without an answer stays counted (see `Meter::starting`).
        self.inner.retry_transport(outcome, attempt)
    }
    fn starting(&self, seq: u64, attempt: u32, intended: std::time::Instant) {
        self.meter.starting(seq);
        self.inner.starting(seq, attempt, intended);
    }
    fn ended(&self, seq: u64, outcome: Outcome) {
        // A last attempt left unanswered is forgotten, its price still counted against the cap.
        self.meter.open(seq, false);
        self.inner.ended(seq, outcome);
    }
    fn recipient(&self, seq: u64) -> Option<String> {
        self.inner.recipient(seq)
    }
    fn message_id(&self, answer: &Answer<'_>) -> Option<String> {
        self.inner.message_id(answer)
    }
    fn extra(&self) -> Option<serde_json::Value> {
        self.inner.extra()
    }
}

/// The meter of target `i` when it has a rate card, and the stop signal it then runs under; a sharded
/// run gives each part its share of `max_cost`.
pub fn meter(
    loaded: &crate::spec::Loaded,
    i: usize,
    plan: &crate::engine::Plan,
    outer: &Shutdown,
) -> Option<(Arc<Meter>, Shutdown)> {
    let table = Arc::new(PriceTable::of(loaded, i)?);
    let cap = loaded.profile.targets[i].cost.as_ref()?.max_cost.map(|c| c / f64::from(plan.shard.count.max(1)));
    Some(Meter::new(table, cap, outer))
}

/// The run.json cost of target `i`: this part's planned messages priced, its accepted sends, and
/// the delivered ones (each priced by its own category and market) when delivery was tracked.
pub fn result(
    loaded: &crate::spec::Loaded,
    i: usize,
    plan: &crate::engine::Plan,
    meter: &Meter,
    delivery: Option<&crate::results::DeliveryStats>,
) -> Option<crate::results::cost::TargetCost> {
    let estimate = plan.expected_requests().map(|n| meter.table.estimate((0..n).map(|k| plan.shard.global(k)), n));
    let delivered = delivery.map(|_| meter.delivered_counts());
    let mut cost =
        crate::app::cost::target_cost(loaded, i, &meter.table, estimate, &meter.counts(), delivered.as_deref())?;
    // This part's share of the cap, as it ran under it (a merge adds the parts' shares back up).
    cost.max_cost = meter.max_cost;
    Some(cost)
}

/// The target a run drives and the stop signal it runs under: metered when it has a rate card.
pub fn wrap(
    t: &Arc<dyn Target>,
    metered: Option<&(Arc<Meter>, Shutdown)>,
    outer: &Shutdown,
) -> (Arc<dyn Target>, Shutdown) {
    match metered {
        Some((m, stop)) => (Arc::new(Metered { inner: t.clone(), meter: m.clone() }), stop.clone()),
        None => (t.clone(), outer.clone()),
    }
}

/// After the target's run: stopped by its cap, it was not interrupted (the run's own signal says
/// whether it was), and it is marked `stopped: "max_cost"`.
pub fn settle(metered: Option<&(Arc<Meter>, Shutdown)>, interrupted: &mut bool, outer: &Shutdown) -> Option<String> {
    let capped = metered.is_some_and(|(m, _)| m.tripped());
    if capped {
        *interrupted = outer.is_stopped();
    }
    capped.then(|| crate::results::cost::STOPPED_MAX_COST.to_string())
}
