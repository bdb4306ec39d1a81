//! Steering a running target: pause, resume and a new open-loop rate, as an operator asks them while
//! the run goes. The schedule stays a pure function (`Schedule`: when is request n due, how many are
//! due by a time), made of the plan's pacer and the changes so far; `Control` holds the current one
//! for the load tasks, which check one relaxed counter per arrival and reload it only after a change.
//!
//! The choices, which the manual documents (docs/src/live.md):
//! - a pause stops new arrivals: requests whose due time falls inside it are not due at all (they are
//!   neither late nor dropped, so the pause is never counted as lateness), and the run keeps its length;
//! - on resume the plan goes on from where its clock is then (a ramp is not replayed), or at the rate
//!   the operator set;
//! - a rate change replaces the rest of the schedule with that constant rate until the plan's end;
//! - retries the API asked for go on during a pause: they are messages already sent.
//!
//! It knows nothing of who asks (the dashboard, a test); it must not block the load tasks.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::spec::schedule::Pacer;

/// When a request of the schedule is due.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Due {
    /// At this time since the start.
    At(Duration),
    /// Not while the run is paused.
    Paused,
    /// Past the schedule as it stands (a later change may bring it back before the plan's end).
    End,
    /// Never: past the plan's `max_requests`.
    Never,
}

/// What the schedule does from one change on.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// The plan's pacer, request n being its request `n + offset`.
    Plan {
        offset: i64,
    },
    Paused,
    /// A constant rate (requests/s) until the plan's end.
    Constant {
        rate: f64,
    },
}

/// The schedule from request `n0` on, which begins at `t` since the start.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    n0: u64,
    t: Duration,
    kind: Kind,
}

/// The open-loop schedule as steered so far: a pure function of the plan and the changes.
#[derive(Debug, Clone)]
pub struct Schedule {
    pacer: Arc<Pacer>,
    cap: Option<u64>,
    /// In order of time and of `n0` (both never decrease).
    segments: Vec<Segment>,
}

/// How the schedule goes on after a change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// The plan's own rates (also after a pause).
    Plan,
    Paused,
    /// A constant rate until the plan's end.
    Rate(f64),
}

impl Schedule {
    /// The plan as it was made, capped at `cap` requests.
    pub fn new(pacer: Arc<Pacer>, cap: Option<u64>) -> Schedule {
        Schedule { pacer, cap, segments: vec![Segment { n0: 0, t: Duration::ZERO, kind: Kind::Plan { offset: 0 } }] }
    }

    /// The plan's length (a steered schedule keeps it).
    pub fn duration(&self) -> Duration {
        self.pacer.duration()
    }

    /// Whether a change was made.
    pub fn steered(&self) -> bool {
        self.segments.len() > 1
    }

    /// When request `n` is due.
    pub fn due(&self, n: u64) -> Due {
        if self.cap.is_some_and(|c| n >= c) {
            return Due::Never;
        }
        // The newest segment that begins at or before n.
        let i = self.segments.partition_point(|s| s.n0 <= n).saturating_sub(1);
        let s = &self.segments[i];
        match s.kind {
            Kind::Plan { offset: 0 } if i == 0 => self.pacer.due(n).map_or(Due::End, Due::At),
            Kind::Plan { offset } => {
                let k = n as i64 + offset;
                match u64::try_from(k).ok().and_then(|k| self.pacer.due(k)) {
                    Some(d) => Due::At(d.max(s.t)),
                    None => Due::End,
                }
            }
            Kind::Paused => Due::Paused,
            Kind::Constant { rate } => {
                let at = s.t + Duration::from_secs_f64((n - s.n0 + 1) as f64 / rate);
                if at > self.duration() { Due::End } else { Due::At(at) }
            }
        }
    }

    /// How many requests are due at or before `elapsed`.
    pub fn due_by(&self, elapsed: Duration) -> u64 {
        let i = self.segments.partition_point(|s| s.t <= elapsed).saturating_sub(1);
        let s = &self.segments[i];
        let n = match s.kind {
            Kind::Plan { offset } => (self.pacer.due_by(elapsed) as i64 - offset).max(s.n0 as i64) as u64,
            Kind::Paused => s.n0,
            Kind::Constant { rate } => {
                let upto = elapsed.min(self.duration()).saturating_sub(s.t);
                s.n0 + (upto.as_secs_f64() * rate + 1e-9).floor() as u64
            }
        };
        self.cap.map_or(n, |c| n.min(c))
    }

    /// Requests due in `[from, to)`.
    pub fn due_between(&self, from: Duration, to: Duration) -> u64 {
        self.due_by(to).saturating_sub(self.due_by(from))
    }

    /// The requested rate at `elapsed` (0 while paused).
    pub fn rate_at(&self, elapsed: Duration) -> f64 {
        let i = self.segments.partition_point(|s| s.t <= elapsed).saturating_sub(1);
        match self.segments[i].kind {
            Kind::Plan { .. } => self.pacer.rate_at(elapsed),
            Kind::Paused => 0.0,
            Kind::Constant { rate } if elapsed < self.duration() => rate,
            Kind::Constant { .. } => 0.0,
        }
    }

    /// The schedule from `at` on goes as `mode` says; what was due before `at` stays as it was.
    pub fn change(&mut self, at: Duration, mode: Mode) {
        let last = self.segments.last().map_or(Duration::ZERO, |s| s.t);
        let at = at.max(last);
        let n0 = self.due_by(at);
        let kind = match mode {
            Mode::Paused => Kind::Paused,
            Mode::Rate(rate) => Kind::Constant { rate },
            // The first request after `at` is the plan's first due after it: those due while the
            // schedule was elsewhere are not replayed.
            Mode::Plan => Kind::Plan { offset: self.pacer.due_by(at) as i64 - n0 as i64 },
        };
        // A change at the same request number replaces one that had no request of its own.
        while self.segments.len() > 1 && self.segments.last().is_some_and(|s| s.n0 == n0 && s.t == at) {
            self.segments.pop();
        }
        self.segments.push(Segment { n0, t: at, kind });
    }
}

/// The operator's standing orders for a target: paused or not, and the rate set (none: the plan's).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Orders {
    pub paused: bool,
    pub rate: Option<f64>,
}

impl Orders {
    fn mode(&self) -> Mode {
        match (self.paused, self.rate) {
            (true, _) => Mode::Paused,
            (false, Some(r)) => Mode::Rate(r),
            (false, None) => Mode::Plan,
        }
    }
}

/// What the load tasks of one target read: the current schedule, swapped as a whole on a change.
#[derive(Default)]
pub struct Control {
    /// Bumped on every change: a task reloads the schedule when it differs from the one it holds.
    generation: AtomicU64,
    paused: AtomicBool,
    state: Mutex<State>,
    wakers: Mutex<Vec<Arc<Notify>>>,
}

#[derive(Default)]
struct State {
    orders: Orders,
    /// Set when the target starts (open loop), with its clock.
    schedule: Option<Arc<Schedule>>,
    t0: Option<Instant>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Control")
    }
}

impl Control {
    /// A control that starts under `orders` (what the operator said before this target began).
    pub fn with(orders: Orders) -> Control {
        let c = Control::default();
        c.paused.store(orders.paused, Ordering::Relaxed);
        if let Ok(mut s) = c.state.lock() {
            s.orders = orders;
        }
        c
    }

    /// The target starts at `t0`; open loop, under `schedule` (with the orders given so far applied).
    pub fn begin(&self, schedule: Option<Schedule>, t0: Instant) {
        if let Ok(mut s) = self.state.lock() {
            let orders = s.orders;
            s.schedule = schedule.map(|mut sch| {
                if orders != Orders::default() {
                    sch.change(Duration::ZERO, orders.mode());
                }
                Arc::new(sch)
            });
            s.t0 = Some(t0);
        }
        self.changed();
    }

    /// Follow new orders from now on.
    pub fn order(&self, orders: Orders) {
        if let Ok(mut s) = self.state.lock() {
            s.orders = orders;
            self.paused.store(orders.paused, Ordering::Relaxed);
            if let (Some(sch), Some(t0)) = (&s.schedule, s.t0) {
                let mut next = Schedule::clone(sch);
                next.change(t0.elapsed(), orders.mode());
                s.schedule = Some(Arc::new(next));
            }
        }
        self.changed();
    }

    /// The orders in force.
    pub fn orders(&self) -> Orders {
        self.state.lock().map(|s| s.orders).unwrap_or_default()
    }

    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::Release);
        for w in self.wakers.lock().map(|w| w.clone()).unwrap_or_default() {
            w.notify_waiters();
        }
    }

    /// Changes so far (a task compares it with the one its schedule is of).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// Whether new arrivals are held.
    pub fn paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }

    /// The current schedule (open loop, once begun) and the generation it is of.
    pub fn schedule(&self) -> (u64, Option<Arc<Schedule>>) {
        let g = self.generation.load(Ordering::Acquire);
        (g, self.state.lock().ok().and_then(|s| s.schedule.clone()))
    }

    /// Wake `w` on every change (a load thread's tasks wait on it).
    pub fn wake_on_change(&self, w: Arc<Notify>) {
        if let Ok(mut ws) = self.wakers.lock() {
            ws.push(w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn at(d: Due) -> f64 {
        match d {
            Due::At(t) => t.as_secs_f64(),
            other => panic!("not due at a time: {other:?}"),
        }
    }

    #[test]
    fn unsteered_schedule_is_the_pacer() {
        let p = Arc::new(Pacer::constant(10.0, secs(10.0)));
        let s = Schedule::new(p.clone(), None);
        for n in [0, 5, 99] {
            assert_eq!(s.due(n), Due::At(p.due(n).unwrap()));
        }
        assert_eq!(s.due(100), Due::End);
        assert_eq!(s.due_by(secs(2.5)), 25);
        assert_eq!(Schedule::new(p, Some(7)).due(7), Due::Never);
    }

    #[test]
    fn a_pause_holds_arrivals_and_skips_what_fell_due_inside_it() {
        let p = Arc::new(Pacer::constant(10.0, secs(10.0)));
        let mut s = Schedule::new(p, None);
        s.change(secs(2.05), Mode::Paused);
        assert_eq!(s.due_by(secs(2.05)), 20);
        assert!((at(s.due(19)) - 2.0).abs() < 1e-6, "due before the pause stays");
        assert_eq!(s.due(20), Due::Paused);
        assert_eq!(s.due_by(secs(5.0)), 20, "nothing falls due while paused");
        assert_eq!(s.rate_at(secs(4.0)), 0.0);
        s.change(secs(5.05), Mode::Plan);
        // The plan goes on from its clock: request 20 is the plan's 51st (due at 5.1 s).
        assert!((at(s.due(20)) - 5.1).abs() < 1e-6, "{:?}", s.due(20));
        assert_eq!(s.due_by(secs(6.0)), 30);
        assert_eq!(s.due_by(secs(10.0)), 20 + 50, "the pause's 30 requests are not sent");
        assert_eq!(s.due(70), Due::End);
    }

    #[test]
    fn a_rate_replaces_the_rest_of_the_plan_until_its_end() {
        let p = Arc::new(Pacer::stages(0.0, &[(100.0, secs(10.0))], None));
        let mut s = Schedule::new(p.clone(), None);
        let before = s.due_by(secs(4.0));
        assert_eq!(before, p.due_by(secs(4.0)));
        s.change(secs(4.0), Mode::Rate(50.0));
        assert!((at(s.due(before)) - 4.02).abs() < 1e-6);
        assert_eq!(s.due_by(secs(5.0)), before + 50);
        assert_eq!(s.rate_at(secs(6.0)), 50.0);
        assert_eq!(s.due_by(secs(20.0)), before + 300, "until the plan's end");
        assert_eq!(s.due(before + 300), Due::End);
        assert_eq!(s.due_between(secs(5.0), secs(6.0)), 50);
        // Paused, then resumed: the rate set holds.
        s.change(secs(6.0), Mode::Paused);
        s.change(secs(7.0), Mode::Rate(50.0));
        assert_eq!(s.due_by(secs(8.0)), before + 100 + 50);
    }

    #[test]
    fn changes_at_one_instant_keep_the_last() {
        let p = Arc::new(Pacer::constant(10.0, secs(10.0)));
        let mut s = Schedule::new(p, None);
        s.change(secs(1.0), Mode::Paused);
        s.change(secs(1.0), Mode::Rate(20.0));
        assert_eq!(s.segments.len(), 2);
        assert!((at(s.due(10)) - 1.05).abs() < 1e-6);
    }

    #[test]
    fn orders_before_the_start_apply_from_it() {
        let c = Control::with(Orders { paused: false, rate: Some(5.0) });
        let p = Arc::new(Pacer::constant(100.0, secs(4.0)));
        c.begin(Some(Schedule::new(p, None)), Instant::now());
        let (g, s) = c.schedule();
        assert!(g >= 1);
        assert_eq!(s.unwrap().due_by(secs(2.0)), 10);
        c.order(Orders { paused: true, rate: Some(5.0) });
        assert!(c.paused());
        assert!(c.generation() > g);
    }
}
