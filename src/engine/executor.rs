//! The executor: runs one target under one plan. Threads each own a single-threaded tokio runtime
//! and a recorder; each task owns one connection (or, with HTTP/2 `streams_per_connection`, shares one
//! with the other tasks of its group). Open loop: tasks claim the next request number,
//! wait for its due time and measure from it (no coordinated omission); a request due while too
//! many are outstanding is counted as dropped. Closed loop: tasks send back to back. A message the API
//! asks to retry waits in the thread's retry queue (`engine::retry`) without holding a connection or
//! a task; the tasks send it when due, between the schedule's requests, until the run's duration +
//! drain. A run with a length ends by its duration + drain, one limited by `max_requests` by its last
//! request's start + drain: requests still in flight then (however long their timeout) are counted as
//! cancelled.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Notify;
use tokio::task::{JoinSet, LocalSet};

use super::{EngineError, Plan};
use crate::engine::aggregate::{self, LiveView, Written};
use crate::engine::conn::{Conn, Connector, SharedH2};
use crate::engine::control::{Control, Due, Schedule};
use crate::engine::metrics::{LiveCounters, Outcome, Phase, Recorder};
use crate::engine::retry::{Pending, RetryQueue};
use crate::engine::target::{Answer, Target};
use crate::engine::trace::{SpanRecord, TraceContext, fixed_bytes, with_traceparent};
use crate::results::exemplars::Exemplar;
use crate::spec::Model;
use crate::units::Shutdown;

/// What running one target produced.
pub struct TargetRun {
    /// All threads' measurements merged.
    pub recorder: Recorder,
    pub started_at: SystemTime,
    pub elapsed: Duration,
    pub interrupted: bool,
    pub written: Written,
    pub threads: u32,
}

/// Live state a progress display can read while the target runs, and the operator's control of it.
#[derive(Default)]
pub struct Progress {
    pub counters: Mutex<Vec<Arc<LiveCounters>>>,
    pub view: Mutex<LiveView>,
    pub t0: OnceLock<Instant>,
    /// Pause, resume and a new rate while the target runs (never changed when nobody steers).
    pub control: Control,
}

impl Progress {
    /// (sent, ok, errors, dropped) so far.
    pub fn totals(&self) -> (u64, u64, u64, u64) {
        let c = self.counters.lock().map(|c| c.clone()).unwrap_or_default();
        c.iter().fold((0, 0, 0, 0), |a, c| {
            (
                a.0 + c.sent.load(Ordering::Relaxed),
                a.1 + c.ok.load(Ordering::Relaxed),
                a.2 + c.errors.load(Ordering::Relaxed),
                a.3 + c.dropped.load(Ordering::Relaxed),
            )
        })
    }
}

struct Shared {
    plan: Plan,
    target: Arc<dyn Target>,
    connector: Connector,
    next: AtomicU64,
    in_flight: AtomicU64,
    /// When the last request of `max_requests` was claimed: the run ends `drain` after it.
    all_claimed: OnceLock<Instant>,
    /// Woken (on every thread) when `all_claimed` is set.
    all_claimed_wake: Notify,
}

impl Shared {
    /// Claim the next request number (of this process's plan); the one that claims the last of
    /// `max_requests` starts the drain.
    fn claim(&self) -> u64 {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        if self.plan.max_requests.is_some_and(|m| n + 1 == m) {
            let _ = self.all_claimed.set(Instant::now());
            self.all_claimed_wake.notify_waiters();
        }
        n
    }

    /// Resolves `drain` after the last request of `max_requests` was claimed (never without a cap).
    async fn drained_after_last(&self) {
        loop {
            // Made before looking, so that a claim meanwhile wakes it.
            let woken = self.all_claimed_wake.notified();
            if let Some(at) = self.all_claimed.get() {
                return tokio::time::sleep_until((*at + self.plan.drain).into()).await;
            }
            woken.await;
        }
    }
}

struct Local {
    shared: Arc<Shared>,
    t0: Instant,
    /// `t0` on the wall clock (what traced requests' times are told in).
    wall0: SystemTime,
    rec: RefCell<Recorder>,
    in_flight: Cell<u64>,
    stop: Shutdown,
    /// The operator's control, and the schedule this thread last read from it (with its generation).
    progress: Arc<Progress>,
    schedule: RefCell<(u64, Option<Arc<Schedule>>)>,
    /// Messages waiting for their next attempt.
    retries: RetryQueue,
    /// Woken when a retry is queued, a request ends, the operator changes the schedule or the run is
    /// stopped: a task may have work, or may be done.
    wake: Arc<Notify>,
    /// No new request of the schedule is left for this thread (retries may still be).
    no_new: Cell<bool>,
}

impl Local {
    /// `f` of the schedule as the operator last left it (reloaded only after a change: one relaxed
    /// load otherwise, no reference counted), with the generation it is of.
    fn with_schedule<R>(&self, f: impl FnOnce(Option<&Schedule>) -> R) -> (u64, R) {
        let g = self.progress.control.generation();
        let mut s = self.schedule.borrow_mut();
        if s.0 != g {
            *s = self.progress.control.schedule();
        }
        (s.0, f(s.1.as_deref()))
    }

    /// Whether the operator has changed this target's schedule (then a request past it is held, in
    /// case a later change brings it back before the plan's end).
    fn steered(&self) -> bool {
        self.with_schedule(|s| s.is_some_and(Schedule::steered)).1
    }

    /// When request `n` is due, and the generation of the schedule that says so.
    fn due(&self, n: u64) -> (u64, Due) {
        self.with_schedule(|s| s.map_or(Due::Never, |s| s.due(n)))
    }
}

/// Run `target` at `addr` under `plan` until the plan ends or `stop` is stopped. Interval logs go to
/// `hlog`, per-second rows to `timeline` (returned for the next target).
pub fn run_target<H, T>(
    target: Arc<dyn Target>,
    addr: SocketAddr,
    plan: &Plan,
    stop: Shutdown,
    hlog: H,
    timeline: T,
    progress: Arc<Progress>,
) -> Result<(TargetRun, H, T), EngineError>
where
    H: std::io::Write + Send + 'static,
    T: std::io::Write + Send + 'static,
{
    let ep = target.endpoint().clone();
    let connector = Connector::new(addr, &ep, target.net(), target.http_version())?.with_keepalive(plan.keepalive);
    let threads = plan.threads.max(1);
    let shared = Arc::new(Shared {
        plan: plan.clone(),
        target: target.clone(),
        connector,
        next: AtomicU64::new(0),
        in_flight: AtomicU64::new(0),
        all_claimed: OnceLock::new(),
        all_claimed_wake: Notify::new(),
    });
    let (tx, rx) = mpsc::channel();
    let start = StartLine::new(threads);
    let handles = spawn_threads(&shared, tx, &start, &stop, &progress)?;
    let schedule = plan.pacer.clone().map(|p| Schedule::new(p, plan.max_requests));
    let (t0, started_at) = start.open(&progress, schedule);
    let out = AggregatorArgs {
        rx,
        threads,
        name: target.name().to_string(),
        hlog,
        timeline,
        started_at,
        progress: progress.clone(),
    };
    let agg = spawn_aggregator(plan, out)?;

    let merged = join_threads(handles)?;
    let elapsed = t0.elapsed();
    let (written, hlog, timeline) = agg.join().map_err(|_| EngineError::Thread("the aggregator panicked".into()))??;
    let interrupted = stop.is_stopped();
    let mut recorder = merged.ok_or_else(|| EngineError::Thread("no load thread ran".into()))?;
    if interrupted {
        count_unsent_as_dropped(&mut recorder, &progress.control, stop.stopped_at(), t0);
    }
    Ok((TargetRun { recorder, started_at, elapsed, interrupted, written, threads }, hlog, timeline))
}

/// How the load threads of a target start together: each waits at `ready` once its connections are
/// made, the clock is set (`t0`), and all pass `go` at once.
struct StartLine {
    ready: Arc<Barrier>,
    go: Arc<Barrier>,
    t0: Arc<OnceLock<(Instant, SystemTime)>>,
}

impl StartLine {
    /// For `threads` load threads and the thread that starts them.
    fn new(threads: u32) -> StartLine {
        StartLine {
            ready: Arc::new(Barrier::new(threads as usize + 1)),
            go: Arc::new(Barrier::new(threads as usize + 1)),
            t0: Arc::new(OnceLock::new()),
        }
    }

    /// Once every thread is ready: the clock starts (5 ms ahead, for all to pass `go`), the open loop's
    /// `schedule` with it, and the threads go. Returns the start, monotonic and wall-clock.
    fn open(&self, progress: &Progress, schedule: Option<Schedule>) -> (Instant, SystemTime) {
        self.ready.wait();
        let t0 = Instant::now() + Duration::from_millis(5);
        let started_at = SystemTime::now() + Duration::from_millis(5);
        let _ = self.t0.set((t0, started_at));
        let _ = progress.t0.set(t0);
        progress.control.begin(schedule, t0);
        self.go.wait();
        (t0, started_at)
    }
}

/// Starts the load threads, each with its connections of the plan's layout, its live counters (shown
/// by `progress`) and a sender of its reports (`tx`, dropped once all have theirs).
fn spawn_threads(
    shared: &Arc<Shared>,
    tx: mpsc::Sender<crate::engine::metrics::Report>,
    start: &StartLine,
    stop: &Shutdown,
    progress: &Arc<Progress>,
) -> Result<Vec<std::thread::JoinHandle<Recorder>>, EngineError> {
    let plan = &shared.plan;
    let mut handles = Vec::new();
    let layouts = layout(plan.connections, plan.streams, plan.threads.max(1));
    for (id, conns) in layouts.into_iter().enumerate() {
        let id = id as u32;
        let (shared, tx, ready, go, t0_cell, stop) =
            (shared.clone(), tx.clone(), start.ready.clone(), start.go.clone(), start.t0.clone(), stop.clone());
        let progress = progress.clone();
        let live = Arc::new(LiveCounters::default());
        if let Ok(mut c) = progress.counters.lock() {
            c.push(live.clone());
        }
        let h = std::thread::Builder::new()
            .name(format!("wabench-load-{id}"))
            .spawn(move || {
                thread_main(ThreadArgs { id: id as usize, conns, shared, tx, ready, go, t0_cell, stop, live, progress })
            })
            .map_err(|e| EngineError::Thread(format!("cannot start a load thread: {e}")))?;
        handles.push(h);
    }
    Ok(handles)
}

/// What the aggregator of a target is given: the load threads' reports, where the interval log and
/// the timeline go, the run's start and the live view to update.
struct AggregatorArgs<H, T> {
    rx: mpsc::Receiver<crate::engine::metrics::Report>,
    threads: u32,
    name: String,
    hlog: H,
    timeline: T,
    started_at: SystemTime,
    progress: Arc<Progress>,
}

/// The aggregator thread, ending with what it wrote and the writers given back.
type Aggregator<H, T> = std::thread::JoinHandle<std::io::Result<(Written, H, T)>>;

/// The aggregator thread: writes the target's interval log and timeline from the threads' reports
/// until all are done, then gives back what it wrote and the writers.
fn spawn_aggregator<H, T>(plan: &Plan, args: AggregatorArgs<H, T>) -> Result<Aggregator<H, T>, EngineError>
where
    H: std::io::Write + Send + 'static,
    T: std::io::Write + Send + 'static,
{
    let AggregatorArgs { rx, threads, name, mut hlog, mut timeline, started_at, progress: prog } = args;
    let last_second = plan.duration.map(|d| d.as_secs());
    let traced_rows = plan.trace.as_ref().and_then(|t| t.take_rows());
    let control = prog.clone();
    std::thread::Builder::new()
        .name("wabench-aggregate".into())
        .spawn(move || {
            // Of the schedule as steered: a pause shows as seconds in which nothing was due.
            let requested = |s: u64| {
                let sch = control.control.schedule().1;
                sch.map(|p| p.due_between(Duration::from_secs(s), Duration::from_secs(s + 1)))
            };
            let r = aggregate::run(aggregate::Aggregation {
                rx,
                threads: threads as usize,
                target: &name,
                requested: &requested,
                hlog: &mut hlog,
                timeline: &mut timeline,
                base: started_at,
                live: &prog.view,
                last_second,
                traced_rows,
            });
            r.map(|w| (w, hlog, timeline))
        })
        .map_err(|e| EngineError::Thread(format!("cannot start the aggregator: {e}")))
}

/// Every load thread's measurements merged, once all have ended (none when no thread ran).
fn join_threads(handles: Vec<std::thread::JoinHandle<Recorder>>) -> Result<Option<Recorder>, EngineError> {
    let mut merged: Option<Recorder> = None;
    for h in handles {
        let rec = h.join().map_err(|_| EngineError::Thread("a load thread panicked".into()))?;
        match &mut merged {
            None => merged = Some(rec),
            Some(m) => m.merge(&rec),
        }
    }
    Ok(merged)
}

/// Requests that were due before the stop but still waiting for a connection were never sent:
/// they count as dropped, so that sent + dropped is what the plan had due by then. The stop is the
/// instant it was `raised`: requests that fell due while a busy thread had not yet looked were not
/// wanted, and are not drops.
fn count_unsent_as_dropped(recorder: &mut Recorder, control: &Control, raised: Option<Instant>, t0: Instant) {
    if let (Some(p), Some(at)) = (control.schedule().1, raised) {
        let due = p.due_by(at.saturating_duration_since(t0));
        recorder.dropped_n(due.saturating_sub(recorder.sent + recorder.count(Outcome::Dropped)));
    }
}

/// The tasks of each connection, per thread: `connections` tasks in connections of `streams` tasks
/// (the last one fewer), whole connections spread evenly over `threads`.
fn layout(connections: u32, streams: u32, threads: u32) -> Vec<Vec<u32>> {
    let streams = streams.max(1);
    let count = connections.div_ceil(streams);
    let per_conn: Vec<u32> = (0..count).map(|j| streams.min(connections - j * streams)).collect();
    let mut at = 0usize;
    (0..threads)
        .map(|id| {
            let n = (count / threads + u32::from(id < count % threads)) as usize;
            let v = per_conn[at..at + n].to_vec();
            at += n;
            v
        })
        .collect()
}

/// Where a task sends: its own connection (kept, or none yet), or a stream of its group's shared
/// HTTP/2 connection (with the generation of the connection it last used).
enum Slot {
    Own(Option<Conn>),
    Shared(Rc<SharedH2>, u64),
}

/// What a load thread is given: its number and the tasks of each of its connections, the target's
/// shared state, where its reports go, the barriers that start every thread together and the clock
/// they then share, the stop signal and the live counters of the progress line.
struct ThreadArgs {
    id: usize,
    conns: Vec<u32>,
    shared: Arc<Shared>,
    tx: mpsc::Sender<crate::engine::metrics::Report>,
    ready: Arc<Barrier>,
    go: Arc<Barrier>,
    t0_cell: Arc<OnceLock<(Instant, SystemTime)>>,
    stop: Shutdown,
    live: Arc<LiveCounters>,
    progress: Arc<Progress>,
}

/// One load thread: its connections made, the clock started with the others', its tasks run until
/// the plan ends or the stop and drain; what was still in flight is counted as cancelled.
fn thread_main(args: ThreadArgs) -> Recorder {
    let ThreadArgs { id, conns, shared, tx, ready, go, t0_cell, stop, live, progress } = args;
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(_) => {
            ready.wait();
            go.wait();
            let t0 = t0_cell.get().map_or_else(Instant::now, |t| t.0);
            let mut r = Recorder::new(id, t0, Some(tx), live);
            r.close();
            return r;
        }
    };
    let local = LocalSet::new();
    // Connect before the clock starts, so the first requests do not pay for it: a bounded number at
    // once, all within one timeout. A target that accepts and never completes a handshake costs one
    // timeout here, not one per connection; connections not made by then are made by their first request.
    // Without keep-alive nothing is opened in advance: every request opens its own connection.
    // Their phases are recorded once the recorder exists.
    let preconnect = if shared.plan.keepalive { conns.len() } else { 0 };
    let (mut pre, phases) = connect_ahead(&rt, &local, &shared, preconnect);
    ready.wait();
    go.wait();
    let (t0, wall0) = t0_cell.get().copied().unwrap_or_else(|| (Instant::now(), SystemTime::now()));
    let ctx = Rc::new(Local {
        shared: shared.clone(),
        t0,
        wall0,
        rec: RefCell::new({
            let mut r = Recorder::new(id, t0, Some(tx), live);
            for (p, d) in phases {
                r.phase(p, d);
            }
            r
        }),
        in_flight: Cell::new(0),
        stop,
        schedule: RefCell::new(progress.control.schedule()),
        progress,
        // A retry is never sent after the run's duration + drain.
        retries: RetryQueue::new(shared.plan.duration.map(|d| t0 + d + shared.plan.drain)),
        wake: Arc::new(Notify::new()),
        no_new: Cell::new(false),
    });
    ctx.progress.control.wake_on_change(ctx.wake.clone());
    run_tasks(&rt, &local, &ctx, &conns, &mut pre);
    let left = ctx.in_flight.get();
    shared.in_flight.fetch_sub(left, Ordering::Relaxed);
    drop(local);
    let ctx = Rc::try_unwrap(ctx).ok().expect("all tasks of the thread are gone");
    let mut rec = ctx.rec.into_inner();
    rec.cancelled(left);
    rec.close();
    rec
}

/// Open `n` connections before the clock starts, a bounded number at once and all within one timeout;
/// the connections made (`None` for those that were not) and the phases they took.
fn connect_ahead(
    rt: &tokio::runtime::Runtime,
    local: &LocalSet,
    shared: &Arc<Shared>,
    n: usize,
) -> (Vec<Option<Conn>>, Vec<(Phase, Duration)>) {
    let phases: Rc<RefCell<Vec<(Phase, Duration)>>> = Rc::default();
    let conns = local.block_on(rt, async {
        let mut v = Vec::new();
        let mut set = JoinSet::new();
        let all = async {
            for _ in 0..n {
                if set.len() >= PRECONNECT_AT_ONCE
                    && let Some(c) = set.join_next().await
                {
                    v.push(c.ok().flatten());
                }
                let (s, phases) = (shared.clone(), phases.clone());
                set.spawn_local(
                    async move { s.connector.connect(&|p, d| phases.borrow_mut().push((p, d))).await.ok() },
                );
            }
            while let Some(c) = set.join_next().await {
                v.push(c.ok().flatten());
            }
        };
        let _ = tokio::time::timeout(shared.plan.timeout, all).await;
        v
    });
    (conns, phases.take())
}

/// Run the thread's tasks (one per connection, or one per stream of a shared HTTP/2 connection) with
/// the recorder's one-second ticker, until they end, the stop signal and its drain, or the run's
/// duration and drain: what is in flight then is cancelled, however long its timeout.
fn run_tasks(
    rt: &tokio::runtime::Runtime,
    local: &LocalSet,
    ctx: &Rc<Local>,
    conns: &[u32],
    pre: &mut Vec<Option<Conn>>,
) {
    let (shared, t0, stop) = (&ctx.shared, ctx.t0, &ctx.stop);
    local.block_on(rt, async {
        let tick_ctx = ctx.clone();
        let ticker = tokio::task::spawn_local(async move {
            let mut iv = tokio::time::interval_at((t0 + Duration::from_secs(1)).into(), Duration::from_secs(1));
            loop {
                iv.tick().await;
                tick_ctx.rec.borrow_mut().rotate(Instant::now());
            }
        });
        let mut set = JoinSet::new();
        for tasks in conns {
            let conn = pre.pop().flatten();
            // One task per connection owns it; several tasks share an HTTP/2 connection as streams.
            let slots: Vec<Slot> = if shared.plan.streams > 1 {
                let group = Rc::new(SharedH2::new(conn));
                (0..*tasks).map(|_| Slot::Shared(group.clone(), 0)).collect()
            } else {
                vec![Slot::Own(conn)]
            };
            for slot in slots {
                let c = ctx.clone();
                match shared.plan.model {
                    Model::Open => set.spawn_local(open_worker(c, slot)),
                    Model::Closed => set.spawn_local(closed_worker(c, slot)),
                };
            }
        }
        let (drain, wake) = (shared.plan.drain, ctx.wake.clone());
        let stopped_then_drained = async move {
            stop.stopped().await;
            // The thread's tasks wait on `wake` (one waiter on the run's stop per thread, not one
            // per task and wait).
            wake.notify_waiters();
            tokio::time::sleep(drain).await;
        };
        // A run with a length ends at its duration + drain at the latest: what is still in flight
        // then is cancelled, however long its timeout.
        let deadline = shared.plan.duration.map(|d| t0 + d + drain);
        let ended = async move {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        // So does a run limited by `max_requests`: at the last request's claim + drain.
        let counted = shared.drained_after_last();
        tokio::select! {
            _ = async { while set.join_next().await.is_some() {} } => {}
            _ = stopped_then_drained => {}
            _ = ended => {}
            _ = counted => {}
        }
        set.abort_all();
        ticker.abort();
    });
}

/// Connections a load thread opens at once before the run starts (a burst of thousands would
/// overflow the target's accept backlog).
const PRECONNECT_AT_ONCE: usize = 64;

/// The runtime's timer fires on whole milliseconds after the deadline (up to ~2 ms late). Open-loop
/// requests therefore ask to be woken this much early, so that a request starts within about a
/// millisecond either side of its due time instead of up to two after it.
const TIMER_LEAD: Duration = Duration::from_millis(1);

/// What a task does next.
enum Work {
    /// Its request of the schedule is due.
    Due,
    /// A retry is due.
    Retry(Pending),
    /// The operator changed the schedule: what was claimed may be due at another time.
    Changed,
    /// Nothing more: the run was stopped, or no request is left and no retry waits or may come.
    Done,
}

/// Wait for the task's next work: its request of the schedule due at `claimed` (woken `TIMER_LEAD`
/// early), or a retry, whichever is due first; or a change of the schedule after generation `seen`.
async fn next_work(ctx: &Local, claimed: Option<Instant>, seen: u64) -> Work {
    let claim_at = claimed.map(|c| c.checked_sub(TIMER_LEAD).unwrap_or(c));
    loop {
        // Made before looking, so that a retry queued (or a request ended) meanwhile wakes it.
        let woken = ctx.wake.notified();
        if ctx.progress.control.generation() != seen {
            return Work::Changed;
        }
        if ctx.stop.is_stopped() {
            return Work::Done;
        }
        let now = Instant::now();
        let retry = ctx.retries.next_due();
        if retry.is_some_and(|r| r <= now && claim_at.is_none_or(|c| r <= c))
            && let Some(p) = ctx.retries.pop_due(now)
        {
            return Work::Retry(p);
        }
        if claim_at.is_some_and(|c| c <= now) {
            return Work::Due;
        }
        if claim_at.is_none() && retry.is_none() && ctx.no_new.get() && ctx.in_flight.get() == 0 {
            return Work::Done;
        }
        let wake_at = claim_at.into_iter().chain(retry).min();
        let sleep = async {
            match wake_at {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = sleep => {}
            _ = woken => {}
        }
    }
}

async fn open_worker(ctx: Rc<Local>, mut conn: Slot) {
    let s = &ctx.shared;
    // The plan's end: a task holding a request that a pause (or a lower rate) put off waits until then.
    let end = ctx.t0 + s.plan.duration.unwrap_or_default();
    let mut claimed: Option<(u64, Due)> = None;
    let mut seen = ctx.progress.control.generation();
    loop {
        match claimed {
            None if !ctx.no_new.get() => {
                let n = s.next.fetch_add(1, Ordering::Relaxed);
                let (g, due) = ctx.due(n);
                (claimed, seen) = (Some((n, due)), g);
            }
            // The operator changed the schedule since: when is it due now?
            Some((n, _)) if ctx.progress.control.generation() != seen => {
                let (g, due) = ctx.due(n);
                (claimed, seen) = (Some((n, due)), g);
            }
            _ => {}
        }
        let claim_at = match claimed {
            Some((_, Due::At(d))) => Some(ctx.t0 + d),
            // Held: a later change may make it due before the plan's end.
            Some((_, Due::Paused | Due::End)) if Instant::now() < end && ctx.steered() => Some(end),
            Some(_) => {
                ctx.no_new.set(true);
                claimed = None;
                None
            }
            None => None,
        };
        let (n, intended) = match next_work(&ctx, claim_at, seen).await {
            Work::Done => return,
            Work::Changed => continue,
            Work::Retry(p) => {
                retry(&ctx, &mut conn, p).await;
                continue;
            }
            Work::Due => match claimed {
                Some((n, Due::At(d))) => {
                    claimed = None;
                    (n, ctx.t0 + d)
                }
                // Held until the plan's end, which has come.
                Some(_) => {
                    claimed = None;
                    ctx.no_new.set(true);
                    continue;
                }
                None => continue,
            },
        };
        let now = Instant::now();
        // Woken a little early: the request is on time, and its latency is its service time.
        let intended = intended.min(now);
        if now > intended {
            // Behind schedule: count what is outstanding (in flight + due and not started).
            let queued = ctx.with_schedule(|p| p.map_or(0, |p| p.due_by(now - ctx.t0))).1.saturating_sub(n);
            if s.in_flight.load(Ordering::Relaxed) + queued > s.plan.max_in_flight {
                ctx.rec.borrow_mut().dropped(now);
                continue;
            }
        }
        one_request(&ctx, &mut conn, n, intended, now).await;
    }
}

async fn closed_worker(ctx: Rc<Local>, mut conn: Slot) {
    let s = &ctx.shared;
    let end = s.plan.duration.map(|d| ctx.t0 + d);
    let mut backoff = Duration::from_millis(10);
    // When this virtual user sends its next message (after a pause).
    let mut next_at: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if end.is_some_and(|e| now >= e) {
            ctx.no_new.set(true);
        }
        let seen = ctx.progress.control.generation();
        // Paused: no new message until resumed or the run's end.
        let paused = ctx.progress.control.paused();
        let claim = match paused {
            false => (!ctx.no_new.get()).then(|| next_at.unwrap_or(now)),
            true => end.filter(|_| !ctx.no_new.get()),
        };
        match next_work(&ctx, claim, seen).await {
            Work::Done => return,
            Work::Changed => continue,
            Work::Retry(p) => {
                retry(&ctx, &mut conn, p).await;
                continue;
            }
            Work::Due if paused => continue,
            Work::Due => {}
        }
        let now = Instant::now();
        // A pause ordered while this user waited holds it from this instant on.
        if ctx.progress.control.paused() {
            continue;
        }
        let n = s.claim();
        if end.is_some_and(|e| now >= e) || s.plan.max_requests.is_some_and(|m| n >= m) {
            ctx.no_new.set(true);
            continue;
        }
        let outcome = one_request(&ctx, &mut conn, n, now, now).await;
        let pause = if matches!(outcome, Outcome::Connect | Outcome::Tls) {
            // A target that refuses connections is not hammered in a tight loop.
            let p = backoff;
            backoff = (backoff * 2).min(Duration::from_secs(1));
            p
        } else {
            backoff = Duration::from_millis(10);
            s.plan.think_time
        };
        next_at = (!pause.is_zero()).then(|| Instant::now() + pause);
    }
}

/// The first attempt of message `n`.
async fn one_request(ctx: &Local, conn: &mut Slot, n: u64, intended: Instant, start: Instant) -> Outcome {
    ctx.rec.borrow_mut().start(intended, start);
    attempt(ctx, conn, n, 1, intended, start).await
}

/// A later attempt of a message, due now; the wait before it is not part of its latency.
async fn retry(ctx: &Local, conn: &mut Slot, p: Pending) -> Outcome {
    let start = Instant::now();
    ctx.rec.borrow_mut().retry(start);
    attempt(ctx, conn, p.n, p.attempt, start, start).await
}

/// Send attempt `attempt` of message `n` and record its outcome. When the answer asks for a retry
/// that can be due before the run's end, it is queued (the connection is free meanwhile);
/// otherwise this answer is the message's last.
async fn attempt(ctx: &Local, conn: &mut Slot, n: u64, attempt: u32, intended: Instant, start: Instant) -> Outcome {
    let s = &ctx.shared;
    let target = &s.target;
    s.in_flight.fetch_add(1, Ordering::Relaxed);
    ctx.in_flight.set(ctx.in_flight.get() + 1);
    // The message number in the whole run (of every shard): the request and its answer both carry it.
    let seq = s.plan.shard.global(n);
    target.starting(seq, attempt, intended);
    // A traced attempt carries its `traceparent`: it is built by `request`, never the fixed bytes.
    let trace = s.plan.trace.as_deref().and_then(|t| t.context(seq, attempt));
    let sent = tokio::time::timeout(s.plan.timeout, send(ctx, conn, seq, trace.as_ref())).await;
    let done = Instant::now();
    let (mut status, mut wamid) = (None, None);
    let c = match sent {
        Err(_) => {
            match conn {
                Slot::Own(conn) => *conn = None,
                Slot::Shared(group, used) => group.retire(*used),
            }
            target.retry_transport(Outcome::Timeout, attempt)
        }
        Ok(Err(o)) => target.retry_transport(o, attempt),
        Ok(Ok(reply)) => {
            let a = Answer { seq, attempt, status: reply.status, body: &reply.body, started: start, done };
            let c = target.classify(&a);
            if trace.is_some() {
                status = Some(reply.status.as_u16());
                wamid = c.outcome.is_ok().then(|| target.message_id(&a)).flatten();
            }
            c
        }
    };
    {
        let mut rec = ctx.rec.borrow_mut();
        rec.finish(intended, start, done, c.outcome);
        if c.outcome.is_ambiguous() {
            rec.ambiguous(seq, attempt, done, c.outcome);
            if c.retry_after.is_some() {
                rec.resend();
            }
        }
    }
    if let Some(t) = trace {
        let span = SpanRecord {
            ctx: t,
            seq,
            attempt,
            intended: ctx.wall(intended),
            start: ctx.wall(start),
            end: ctx.wall(done),
            http_status: status,
            outcome: c.outcome,
            wamid,
        };
        traced(ctx, span, done, done.saturating_duration_since(intended));
    }
    s.in_flight.fetch_sub(1, Ordering::Relaxed);
    ctx.in_flight.set(ctx.in_flight.get() - 1);
    match c.retry_after {
        Some(wait) if !ctx.stop.is_stopped() => {
            ctx.retries.schedule(Pending { due: Instant::now() + wait, n, attempt: attempt + 1 });
        }
        _ => target.ended(seq, c.outcome),
    }
    ctx.wake.notify_waiters();
    c.outcome
}

/// Write request `seq` on the task's connection (or stream) and read its answer. A traced request is
/// built with its `traceparent`; the others as the target gives them (its fixed bytes, when it has).
async fn send(
    ctx: &Local,
    conn: &mut Slot,
    seq: u64,
    trace: Option<&TraceContext>,
) -> Result<crate::engine::conn::Reply, Outcome> {
    let s = &ctx.shared;
    let target = &s.target;
    // Called only when a connection is opened (and on its first answer), never per kept request.
    let on = |p: Phase, d: Duration| ctx.rec.borrow_mut().phase(p, d);
    let request = || with_traceparent(target.request(seq), trace);
    match conn {
        Slot::Own(conn) => {
            let fixed = || fixed_bytes(target.as_ref(), seq, trace);
            s.connector.send(conn, request, fixed, target.max_body(), |st| target.wants_body(st), &on).await
        }
        Slot::Shared(group, used) => {
            s.connector.send_shared(group, used, request, target.max_body(), |st| target.wants_body(st), &on).await
        }
    }
}

/// A traced attempt ended: kept among the slowest of its second, and its span queued for export.
fn traced(ctx: &Local, span: SpanRecord, done: Instant, latency: Duration) {
    let e = Exemplar {
        // The recorder's second of `done`.
        second: 0,
        intended_at: span.intended.into(),
        trace_id: span.ctx.trace_hex(),
        seq: span.seq,
        attempt: span.attempt,
        latency_us: u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
        outcome: span.outcome.key(),
        http_status: span.http_status,
        wamid: span.wamid.clone(),
    };
    ctx.rec.borrow_mut().traced(done, e);
    if let Some(q) = ctx.shared.plan.trace.as_ref().and_then(|t| t.spans.as_ref()) {
        q.offer(span);
    }
}

impl Local {
    /// `at` on the wall clock.
    fn wall(&self, at: Instant) -> SystemTime {
        match at.checked_duration_since(self.t0) {
            Some(d) => self.wall0 + d,
            None => self.wall0 - self.t0.duration_since(at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::layout;

    #[test]
    fn connections_hold_their_streams_and_threads_hold_whole_connections() {
        // 10 tasks in streams of 4: connections of 4, 4 and 2, over two threads.
        assert_eq!(layout(10, 4, 2), vec![vec![4, 4], vec![2]]);
        // One stream each: one connection per task.
        assert_eq!(layout(5, 1, 2), vec![vec![1, 1, 1], vec![1, 1]]);
        let all: u32 = layout(64, 7, 3).iter().flatten().sum();
        assert_eq!(all, 64);
        assert_eq!(layout(64, 7, 3).iter().map(Vec::len).sum::<usize>(), 10);
    }
}
