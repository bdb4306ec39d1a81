//! The pacer: a pure function of elapsed time that says when request `n` of an open-loop plan is due
//! and how many are due by a given time. No clock, no I/O: the executors ask it, tests call it directly.

use std::time::Duration;

/// One piece of the plan: the rate goes linearly from `from` to `to` requests/s over `secs` seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    pub from: f64,
    pub to: f64,
    pub secs: f64,
}

impl Segment {
    /// Requests due within the segment after `t` seconds of it: the integral of the rate.
    fn count(&self, t: f64) -> f64 {
        let t = t.clamp(0.0, self.secs);
        self.from * t + (self.to - self.from) * t * t / (2.0 * self.secs)
    }

    /// Time into the segment at which the integral reaches `k` (0 ≤ k ≤ count(secs)).
    fn time_of(&self, k: f64) -> f64 {
        let a = (self.to - self.from) / (2.0 * self.secs);
        let b = self.from;
        if a.abs() < 1e-12 {
            return if b > 0.0 { k / b } else { self.secs };
        }
        // a t² + b t − k = 0, the root in [0, secs]; written to avoid cancellation.
        let disc = (b * b + 4.0 * a * k).max(0.0);
        let t = 2.0 * k / (b + disc.sqrt());
        if t.is_finite() { t.clamp(0.0, self.secs) } else { self.secs }
    }
}

/// An open-loop arrival plan: request `n` (from 0) is due when the integral of the rate reaches
/// `n + 1`, so a constant rate r sends its first request at 1/r and its last at the end of the plan,
/// and a plan that begins with a pause sends nothing during it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pacer {
    segments: Vec<Segment>,
    /// Cumulative count at the start and at the end of each segment.
    starts: Vec<f64>,
    ends: Vec<f64>,
    /// Cumulative seconds at the start of each segment.
    offsets: Vec<f64>,
    total: u64,
    /// This pacer schedules only requests `n` of the whole plan with `n % shards == shard`.
    shard: u64,
    shards: u64,
}

/// Tolerance for float error in the cumulative count.
const EPS: f64 = 1e-9;

impl Pacer {
    /// A constant rate for a duration.
    pub fn constant(rate: f64, duration: Duration) -> Pacer {
        Pacer::new(vec![Segment { from: rate, to: rate, secs: duration.as_secs_f64() }], None)
    }

    /// Ramps: each `(to, over)` goes linearly from the previous rate (first: `start_rate`).
    pub fn stages(start_rate: f64, stages: &[(f64, Duration)], cap: Option<u64>) -> Pacer {
        let mut from = start_rate;
        let segs = stages
            .iter()
            .map(|&(to, over)| {
                let s = Segment { from, to, secs: over.as_secs_f64() };
                from = to;
                s
            })
            .collect();
        Pacer::new(segs, cap)
    }

    /// A plan of segments, optionally capped at `cap` requests.
    pub fn new(segments: Vec<Segment>, cap: Option<u64>) -> Pacer {
        let mut starts = Vec::with_capacity(segments.len());
        let mut ends = Vec::with_capacity(segments.len());
        let mut offsets = Vec::with_capacity(segments.len());
        let (mut n, mut t) = (0.0, 0.0);
        for s in &segments {
            starts.push(n);
            offsets.push(t);
            n += s.count(s.secs);
            t += s.secs;
            ends.push(n);
        }
        let mut total = (n + EPS).floor().max(0.0) as u64;
        if let Some(c) = cap {
            total = total.min(c);
        }
        Pacer { segments, starts, ends, offsets, total, shard: 0, shards: 1 }
    }

    /// The part of this plan that shard `index` of `count` sends: requests `n` of the whole plan with
    /// `n % count == index`, at the same due times. The shards of a plan add up to it exactly.
    pub fn shard(mut self, index: u64, count: u64) -> Pacer {
        self.shard = index;
        self.shards = count.max(1);
        self
    }

    /// Local count of the requests among the first `global` of the whole plan.
    fn local(&self, global: u64) -> u64 {
        if global <= self.shard { 0 } else { (global - self.shard).div_ceil(self.shards) }
    }

    /// Requests in the plan (of this shard).
    pub fn total(&self) -> u64 {
        self.local(self.total)
    }

    /// Length of the plan.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.segments.iter().map(|s| s.secs).sum())
    }

    /// When request `n` is due, from the start of the run; `None` past the end of the plan.
    pub fn due(&self, n: u64) -> Option<Duration> {
        let n = n.checked_mul(self.shards)?.checked_add(self.shard)?;
        if n >= self.total {
            return None;
        }
        let k = n as f64 + 1.0;
        // The first segment whose end reaches k: it adds something, so the crossing is inside it.
        let i = self.ends.partition_point(|&e| e < k - EPS).min(self.segments.len() - 1);
        let seg = &self.segments[i];
        let t = self.offsets[i] + seg.time_of((k - self.starts[i]).max(0.0));
        // Round up to the nanosecond so that the request is counted as due at its own due time.
        Some(Duration::from_nanos((t * 1e9).ceil() as u64))
    }

    /// The cumulative integral of the rate at `elapsed`.
    fn integral(&self, t: f64) -> f64 {
        match self.offsets.partition_point(|&o| o <= t) {
            0 => 0.0,
            i => self.starts[i - 1] + self.segments[i - 1].count(t - self.offsets[i - 1]),
        }
    }

    /// How many requests are due at or before `elapsed` (never more than the plan holds).
    pub fn due_by(&self, elapsed: Duration) -> u64 {
        self.local(((self.integral(elapsed.as_secs_f64()) + EPS).floor() as u64).min(self.total))
    }

    /// The requested rate (requests/s) at `elapsed`.
    pub fn rate_at(&self, elapsed: Duration) -> f64 {
        let t = elapsed.as_secs_f64();
        let i = self.offsets.partition_point(|&o| o <= t);
        if i == 0 || t >= self.duration().as_secs_f64() {
            return 0.0;
        }
        let s = &self.segments[i - 1];
        let x = (t - self.offsets[i - 1]) / s.secs;
        s.from + (s.to - s.from) * x
    }

    /// Requests due within `[from, to)`: what a per-interval timeline calls "requested".
    pub fn due_between(&self, from: Duration, to: Duration) -> u64 {
        let before = |d: Duration| if d.is_zero() { 0 } else { self.due_by(d - Duration::from_nanos(1)) };
        before(to).saturating_sub(before(from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn constant_rate_spaces_requests_evenly() {
        let p = Pacer::constant(1000.0, secs(2.0));
        assert_eq!(p.total(), 2000);
        assert_eq!(p.due(0), Some(secs(0.001)));
        assert_eq!(p.due(1), Some(secs(0.002)));
        assert!((p.due(1999).unwrap().as_secs_f64() - 2.0).abs() < 1e-9);
        assert_eq!(p.due(2000), None);
        assert_eq!(p.due_by(Duration::ZERO), 0);
        assert_eq!(p.due_by(secs(0.0105)), 10);
        assert_eq!(p.due_by(secs(100.0)), 2000);
    }

    #[test]
    fn fractional_rates_round_the_total_down() {
        let p = Pacer::constant(2.5, secs(1.0));
        // Requests at 0.4 and 0.8 s; the half request left over is not sent.
        assert_eq!(p.total(), 2);
        assert!((p.due(1).unwrap().as_secs_f64() - 0.8).abs() < 1e-9);
    }

    #[test]
    fn linear_ramp_from_zero_follows_the_integral() {
        // 0 → 100 rps over 10 s: N(t) = 5 t², 500 requests.
        let p = Pacer::stages(0.0, &[(100.0, secs(10.0))], None);
        assert_eq!(p.total(), 500);
        for n in [1u64, 20, 125, 320, 499] {
            let want = ((n + 1) as f64 / 5.0).sqrt();
            let got = p.due(n).unwrap().as_secs_f64();
            assert!((got - want).abs() < 1e-6, "n={n}: {got} vs {want}");
        }
        assert_eq!(p.due_by(secs(5.0)), 125);
        assert!((p.rate_at(secs(2.5)) - 25.0).abs() < 1e-9);
    }

    #[test]
    fn a_leading_pause_sends_nothing() {
        let p = Pacer::stages(0.0, &[(0.0, secs(3.0)), (10.0, secs(0.001)), (10.0, secs(1.0))], None);
        assert!(p.due(0).unwrap() >= secs(3.0));
        assert_eq!(p.due_by(secs(2.9)), 0);
    }

    #[test]
    fn ramp_then_hold_is_continuous_and_monotonic() {
        let p = Pacer::stages(0.0, &[(500.0, secs(30.0)), (500.0, secs(120.0))], None);
        assert_eq!(p.total(), 7500 + 60_000);
        assert!((p.due(7499).unwrap().as_secs_f64() - 30.0).abs() < 1e-6);
        assert!((p.due(7999).unwrap().as_secs_f64() - 31.0).abs() < 1e-6);
        let mut last = Duration::ZERO;
        for n in (0..p.total()).step_by(97) {
            let d = p.due(n).unwrap();
            assert!(d >= last);
            last = d;
        }
        assert_eq!(p.duration(), secs(150.0));
    }

    #[test]
    fn ramp_down_and_pauses_at_zero() {
        // 100 → 0 over 2 s (100 requests), 0 for 5 s, then 0 → 100 over 2 s (100 requests).
        let p = Pacer::stages(100.0, &[(0.0, secs(2.0)), (0.0, secs(5.0)), (100.0, secs(2.0))], None);
        assert_eq!(p.total(), 200);
        assert!(p.due(99).unwrap() <= secs(2.0));
        // 0 → 100 over 2 s: N = 25 t², so the first request after the pause is 0.2 s into the ramp.
        let d = p.due(100).unwrap().as_secs_f64();
        assert!((d - 7.2).abs() < 1e-9, "first request after the pause at {d}");
        assert_eq!(p.due_by(secs(6.0)), 100);
    }

    #[test]
    fn due_by_and_due_are_inverse() {
        let p = Pacer::stages(10.0, &[(300.0, secs(3.0)), (40.0, secs(2.0))], None);
        for n in 0..p.total() {
            let d = p.due(n).unwrap();
            assert!(p.due_by(d) > n, "request {n} due at {d:?} must be counted by then");
            if d > Duration::from_micros(1) {
                assert!(p.due_by(d - Duration::from_micros(1)) <= n, "request {n} counted early");
            }
        }
    }

    #[test]
    fn cap_limits_the_plan() {
        let p = Pacer::stages(0.0, &[(1000.0, secs(10.0))], Some(42));
        assert_eq!(p.total(), 42);
        assert_eq!(p.due(42), None);
        assert_eq!(p.due_by(secs(10.0)), 42);
    }

    #[test]
    fn shards_add_up_to_the_whole_plan() {
        let whole = Pacer::stages(0.0, &[(300.0, secs(4.0)), (300.0, secs(2.0))], None);
        let mut all: Vec<Duration> = Vec::new();
        let mut total = 0;
        for i in 0..3 {
            let p = whole.clone().shard(i, 3);
            total += p.total();
            for n in 0..p.total() {
                let d = p.due(n).unwrap();
                assert_eq!(Some(d), whole.due(n * 3 + i));
                assert!(p.due_by(d) > n);
                all.push(d);
            }
            assert_eq!(p.due(p.total()), None);
            assert_eq!(p.due_by(secs(100.0)), p.total());
        }
        assert_eq!(total, whole.total());
        all.sort();
        let mut want: Vec<Duration> = (0..whole.total()).map(|n| whole.due(n).unwrap()).collect();
        want.sort();
        assert_eq!(all, want);
    }

    #[test]
    fn due_between_sums_to_the_total() {
        let p = Pacer::stages(0.0, &[(200.0, secs(4.0)), (50.0, secs(3.0))], None);
        let sum: u64 = (0..8).map(|s| p.due_between(secs(s as f64), secs(s as f64 + 1.0))).sum();
        assert_eq!(sum, p.total());
    }
}
