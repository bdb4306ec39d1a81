//! Measurement: outcomes, per-thread recorders (HDR histograms in µs, constant memory), per-second
//! intervals, and their exact merge. It owns no I/O: the aggregator in `engine::aggregate` writes.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::results::exemplars::{Exemplar, Slowest};
pub use crate::results::{MAX_US, Summary, histogram};
use crate::results::{PHASE_TAGS, TAG_LATENCY, TAG_LATENESS, TAG_SERVICE_TIME, outcome_tag};

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// A success response (2xx, or the API's success shape).
    Ok,
    /// An error response classified only by its HTTP status.
    Status(u16),
    /// An error response carrying the API's error code.
    ApiError(i64),
    /// No complete response within the configured timeout.
    Timeout,
    /// The connection could not be made.
    Connect,
    /// The TLS handshake failed.
    Tls,
    /// The connection broke or the response was not valid HTTP.
    Io,
    /// The request was written, then the connection was closed or reset before any byte of an answer:
    /// the server may or may not have acted on it.
    ClosedAfterSend,
    /// The response body exceeded the configured cap.
    BodyTooLarge,
    /// A success status whose body is not the API's answer (invalid JSON, a proxy's page, no message
    /// id): the API did not accept the message.
    InvalidResponse,
    /// Not sent: too many requests were already outstanding when it was due.
    Dropped,
    /// Still in flight when the run was stopped and the drain time ran out.
    Cancelled,
}

impl Outcome {
    /// The stable key used in results files ("ok", "http_503", "api_131056", "timeout", …).
    pub fn key(&self) -> String {
        match self {
            Outcome::Ok => "ok".into(),
            Outcome::Status(s) => format!("http_{s}"),
            Outcome::ApiError(c) => format!("api_{c}"),
            Outcome::Timeout => "timeout".into(),
            Outcome::Connect => "connect_error".into(),
            Outcome::Tls => "tls_error".into(),
            Outcome::Io => "io_error".into(),
            Outcome::ClosedAfterSend => "closed_after_send".into(),
            Outcome::BodyTooLarge => "body_too_large".into(),
            Outcome::InvalidResponse => "invalid_response".into(),
            Outcome::Dropped => "dropped".into(),
            Outcome::Cancelled => "cancelled".into(),
        }
    }

    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok)
    }

    /// Whether the request's fate is unknown: it was (or may have been) written and no complete answer
    /// came back (a timeout, a close or reset after the write, a broken answer, a cancel in flight).
    /// The server may have acted on it: for a message, it may have reached its recipient.
    pub fn is_ambiguous(&self) -> bool {
        matches!(self, Outcome::Timeout | Outcome::ClosedAfterSend | Outcome::Io | Outcome::Cancelled)
    }

    /// Whether a target may send the attempt again when its profile allows resending unanswered
    /// requests: its fate is unknown, and it was not cut off by the end of the run.
    pub fn resendable(&self) -> bool {
        self.is_ambiguous() && *self != Outcome::Cancelled
    }

    /// Whether a response came back (its latency is meaningful).
    pub fn has_response(&self) -> bool {
        matches!(
            self,
            Outcome::Ok | Outcome::Status(_) | Outcome::ApiError(_) | Outcome::BodyTooLarge | Outcome::InvalidResponse
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// A phase of opening a connection and of its first request, each timed once per new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Resolving the target's host name (not timed for an IP address).
    Dns = 0,
    /// The TCP handshake (one count per connection opened).
    Connect = 1,
    /// The TLS handshake (`https` targets).
    Tls = 2,
    /// From the start of a new connection's first request to the first byte of its answer (HTTP/1.1)
    /// or its answer's head (HTTP/2).
    Ttfb = 3,
    /// Not a phase but an event of the connection, told the same way (its duration is zero): a request
    /// was written again on a new connection because the HTTP/2 server said it processed none of it.
    Resent = 4,
}

/// Most ambiguous attempts one thread lists (each is counted in its outcome either way).
pub const MAX_AMBIGUOUS_LISTED: usize = 100_000;

/// One attempt whose fate is unknown: which message, when it ended, how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ambiguous {
    /// The message number in the whole run (what the target built the request from).
    pub seq: u64,
    pub attempt: u32,
    /// When the attempt ended, from the start of the run.
    pub at: Duration,
    pub outcome: Outcome,
}

/// Live counters of one thread, read by the progress display without locking.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct LiveCounters {
    pub sent: AtomicU64,
    pub ok: AtomicU64,
    pub errors: AtomicU64,
    pub dropped: AtomicU64,
}

/// One second of one thread's measurements.
#[derive(Debug, Clone)]
pub struct Interval {
    pub index: u64,
    pub latency: Histogram<u64>,
    pub started: u64,
    pub ok: u64,
    pub errors: u64,
    pub dropped: u64,
    /// Attempts after the first that started in this second.
    pub retries: u64,
    /// Requests written again in this second (see [`Recorder::resent`]).
    pub resent: u64,
    /// Attempts that ended in this second, by outcome (not `Dropped`: those were never sent).
    pub outcomes: BTreeMap<Outcome, u64>,
    /// The largest lateness of a request started in this second, µs.
    pub lateness_max_us: u64,
    /// The slowest traced attempts that ended in this second (`[tracing]`; none traced: `None`).
    pub traced: Option<Box<Slowest>>,
}

impl Interval {
    pub fn new(index: u64) -> Interval {
        Interval {
            index,
            latency: histogram(),
            started: 0,
            ok: 0,
            errors: 0,
            dropped: 0,
            retries: 0,
            resent: 0,
            outcomes: BTreeMap::new(),
            lateness_max_us: 0,
            traced: None,
        }
    }

    /// Add another thread's interval of the same second.
    pub fn merge(&mut self, other: &Interval) {
        self.latency.add(&other.latency).expect("histograms share bounds");
        self.started += other.started;
        self.ok += other.ok;
        self.errors += other.errors;
        self.dropped += other.dropped;
        self.resent += other.resent;
        self.retries += other.retries;
        for (k, n) in &other.outcomes {
            *self.outcomes.entry(*k).or_insert(0) += n;
        }
        self.lateness_max_us = self.lateness_max_us.max(other.lateness_max_us);
        if let Some(t) = &other.traced {
            self.traced.get_or_insert_default().merge(t, 0);
        }
    }
}

/// What a thread tells the aggregator.
#[derive(Debug)]
pub enum Report {
    /// A finished second.
    Interval { thread: usize, interval: Interval },
    /// The thread will send nothing earlier than this second.
    Watermark { thread: usize, index: u64 },
    /// The thread is done.
    Done { thread: usize },
}

/// Count and latency of one outcome.
#[derive(Debug, Clone)]
pub struct OutcomeStats {
    pub count: u64,
    pub latency: Histogram<u64>,
}

/// The measurements of one load thread (shared by its tasks, never across threads).
pub struct Recorder {
    thread: usize,
    t0: Instant,
    /// Latency from the intended start to the end of the response.
    pub latency: Histogram<u64>,
    /// Latency from the actual start to the end of the response.
    pub service: Histogram<u64>,
    /// How late requests started compared to their intended start.
    pub lateness: Histogram<u64>,
    pub outcomes: BTreeMap<Outcome, OutcomeStats>,
    pub sent: u64,
    /// Attempts after the first (retries of the same message).
    pub retries: u64,
    /// Attempts that wrote a request again after an earlier attempt of it went unanswered (the
    /// profile allowed it), or after the server said it did not process it (HTTP/2).
    pub resent: u64,
    /// Attempts whose fate is unknown ([`Outcome::is_ambiguous`]): all counted, the first
    /// [`MAX_AMBIGUOUS_LISTED`] of each thread listed.
    pub ambiguous: Vec<Ambiguous>,
    /// First and last actual start, relative to the start of the run.
    pub first_start: Option<Duration>,
    pub last_start: Option<Duration>,
    /// Connection phases by [`Phase`] (recorded only when a connection is opened, never per request
    /// on a kept connection).
    pub phases: [Histogram<u64>; 4],
    current: Interval,
    out: Option<Sender<Report>>,
    live: Arc<LiveCounters>,
}

impl Recorder {
    pub fn new(thread: usize, t0: Instant, out: Option<Sender<Report>>, live: Arc<LiveCounters>) -> Recorder {
        Recorder {
            thread,
            t0,
            latency: histogram(),
            service: histogram(),
            lateness: histogram(),
            outcomes: BTreeMap::new(),
            sent: 0,
            retries: 0,
            resent: 0,
            ambiguous: Vec::new(),
            first_start: None,
            last_start: None,
            phases: [histogram(), histogram(), histogram(), histogram()],
            current: Interval::new(0),
            out,
            live,
        }
    }

    fn index_of(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.t0).as_secs()
    }

    /// Close the current interval if `at` falls in a later second.
    pub fn rotate(&mut self, at: Instant) {
        let idx = self.index_of(at);
        if idx <= self.current.index {
            return;
        }
        let done = std::mem::replace(&mut self.current, Interval::new(idx));
        if let Some(tx) = &self.out {
            let _ = tx.send(Report::Interval { thread: self.thread, interval: done });
            let _ = tx.send(Report::Watermark { thread: self.thread, index: idx });
        }
    }

    /// A request starts now (`at`), intended for `intended`.
    pub fn start(&mut self, intended: Instant, at: Instant) {
        self.rotate(at);
        self.sent += 1;
        self.started_at(intended, at);
    }

    /// A retry of a message starts now.
    pub fn retry(&mut self, at: Instant) {
        self.rotate(at);
        self.retries += 1;
        self.current.retries += 1;
    }

    /// The attempt that just ended unanswered will be written again (see [`Recorder::resent`]).
    pub fn resend(&mut self) {
        self.resent += 1;
        self.current.resent += 1;
    }

    /// Attempt `attempt` of message `seq` ended at `done` with an ambiguous `outcome`.
    pub fn ambiguous(&mut self, seq: u64, attempt: u32, done: Instant, outcome: Outcome) {
        if self.ambiguous.len() < MAX_AMBIGUOUS_LISTED {
            let at = done.saturating_duration_since(self.t0);
            self.ambiguous.push(Ambiguous { seq, attempt, at, outcome });
        }
    }

    fn started_at(&mut self, intended: Instant, at: Instant) {
        self.current.started += 1;
        self.live.sent.fetch_add(1, Ordering::Relaxed);
        let rel = at.saturating_duration_since(self.t0);
        self.first_start.get_or_insert(rel);
        self.last_start = Some(rel);
        let late = us(at.saturating_duration_since(intended));
        self.lateness.saturating_record(late);
        self.current.lateness_max_us = self.current.lateness_max_us.max(late);
    }

    /// A traced attempt ended at `done`: kept if among the slowest of its second (sent with the second).
    pub fn traced(&mut self, done: Instant, e: Exemplar) {
        self.rotate(done);
        let second = self.current.index;
        self.current.traced.get_or_insert_default().offer(Exemplar { second, ..e });
    }

    /// A connection phase took `d`.
    pub fn phase(&mut self, p: Phase, d: Duration) {
        if p == Phase::Resent {
            self.resend();
            return;
        }
        self.phases[p as usize].saturating_record(us(d));
    }

    /// Connections opened (successful TCP connects).
    pub fn connections_opened(&self) -> u64 {
        self.phases[Phase::Connect as usize].len()
    }

    /// A request that started at `started` (intended `intended`) ended at `done` with `outcome`.
    pub fn finish(&mut self, intended: Instant, started: Instant, done: Instant, outcome: Outcome) {
        self.rotate(done);
        let lat = us(done.saturating_duration_since(intended));
        if outcome.has_response() {
            self.latency.saturating_record(lat);
            self.service.saturating_record(us(done.saturating_duration_since(started)));
            self.current.latency.saturating_record(lat);
        }
        if outcome.is_ok() {
            self.current.ok += 1;
            self.live.ok.fetch_add(1, Ordering::Relaxed);
        } else {
            self.current.errors += 1;
            self.live.errors.fetch_add(1, Ordering::Relaxed);
        }
        *self.current.outcomes.entry(outcome).or_insert(0) += 1;
        let e = self.outcomes.entry(outcome).or_insert_with(|| OutcomeStats { count: 0, latency: histogram() });
        e.count += 1;
        if outcome.has_response() {
            e.latency.saturating_record(lat);
        }
    }

    /// A request due at `intended` was not sent (too many outstanding).
    pub fn dropped(&mut self, at: Instant) {
        self.rotate(at);
        self.current.dropped += 1;
        self.live.dropped.fetch_add(1, Ordering::Relaxed);
        self.outcomes
            .entry(Outcome::Dropped)
            .or_insert_with(|| OutcomeStats { count: 0, latency: histogram() })
            .count += 1;
    }

    /// Requests that were due but never sent (counted as dropped, outside any second).
    pub fn dropped_n(&mut self, n: u64) {
        if n > 0 {
            self.outcomes
                .entry(Outcome::Dropped)
                .or_insert_with(|| OutcomeStats { count: 0, latency: histogram() })
                .count += n;
        }
    }

    /// Requests abandoned at shutdown.
    pub fn cancelled(&mut self, n: u64) {
        if n > 0 {
            *self.current.outcomes.entry(Outcome::Cancelled).or_insert(0) += n;
            self.outcomes
                .entry(Outcome::Cancelled)
                .or_insert_with(|| OutcomeStats { count: 0, latency: histogram() })
                .count += n;
        }
    }

    /// Send the last interval and say the thread is done.
    pub fn close(&mut self) {
        if let Some(tx) = self.out.take() {
            let last = std::mem::replace(&mut self.current, Interval::new(u64::MAX));
            let _ = tx.send(Report::Interval { thread: self.thread, interval: last });
            let _ = tx.send(Report::Done { thread: self.thread });
        }
    }

    /// Add another thread's totals into this one.
    pub fn merge(&mut self, o: &Recorder) {
        self.latency.add(&o.latency).expect("same bounds");
        self.service.add(&o.service).expect("same bounds");
        self.lateness.add(&o.lateness).expect("same bounds");
        for (k, v) in &o.outcomes {
            let e = self.outcomes.entry(*k).or_insert_with(|| OutcomeStats { count: 0, latency: histogram() });
            e.count += v.count;
            e.latency.add(&v.latency).expect("same bounds");
        }
        self.sent += o.sent;
        self.retries += o.retries;
        self.resent += o.resent;
        self.ambiguous.extend_from_slice(&o.ambiguous);
        self.first_start = match (self.first_start, o.first_start) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_start = self.last_start.max(o.last_start);
        for (a, b) in self.phases.iter_mut().zip(&o.phases) {
            a.add(b).expect("same bounds");
        }
    }

    /// Requests started per second from the start of the run to the last start (None before one
    /// started). Measured as the mean requested rate is planned ([`Plan::schedule_rate`]: the planned
    /// requests over the plan's length, a ramp's slow start included), so a run that kept to its
    /// schedule achieves 100% of it: request n of a plan is due when n + 1 requests were requested,
    /// and the last one at the plan's end.
    ///
    /// [`Plan::schedule_rate`]: super::Plan::schedule_rate
    pub fn achieved_rate(&self) -> Option<f64> {
        let last = self.last_start?.as_secs_f64();
        (self.sent > 0 && last > 0.0).then(|| self.sent as f64 / last)
    }

    /// The whole-run histograms by tag, as `<target>.totals.hlog` holds them and
    /// [`TargetResult::build`](crate::results::TargetResult::build) reads them: latency, service time,
    /// lateness, the latency of each outcome that carries a response, and the connection phases that
    /// were timed at least once (`connection:<phase>`).
    pub fn totals(&self) -> BTreeMap<String, Histogram<u64>> {
        let mut m = BTreeMap::from([
            (TAG_LATENCY.to_string(), self.latency.clone()),
            (TAG_SERVICE_TIME.to_string(), self.service.clone()),
            (TAG_LATENESS.to_string(), self.lateness.clone()),
        ]);
        for (tag, h) in PHASE_TAGS.iter().zip(&self.phases) {
            if !h.is_empty() {
                m.insert(tag.to_string(), h.clone());
            }
        }
        for (k, o) in &self.outcomes {
            if k.has_response() {
                m.insert(outcome_tag(&k.key()), o.latency.clone());
            }
        }
        m
    }

    /// Outcome keys and counts, in outcome order.
    pub fn outcome_counts(&self) -> Vec<(String, u64)> {
        self.outcomes.iter().map(|(k, v)| (k.key(), v.count)).collect()
    }

    pub fn count(&self, o: Outcome) -> u64 {
        self.outcomes.get(&o).map_or(0, |s| s.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ambiguous_outcomes_are_the_ambiguous_keys_of_results() {
        let all = [
            Outcome::Ok,
            Outcome::Status(503),
            Outcome::ApiError(131047),
            Outcome::Timeout,
            Outcome::Connect,
            Outcome::Tls,
            Outcome::Io,
            Outcome::ClosedAfterSend,
            Outcome::BodyTooLarge,
            Outcome::InvalidResponse,
            Outcome::Dropped,
            Outcome::Cancelled,
        ];
        for o in all {
            assert_eq!(o.is_ambiguous(), crate::results::is_ambiguous_key(&o.key()), "{o}");
        }
        assert_eq!(all.iter().filter(|o| o.is_ambiguous()).count(), crate::results::AMBIGUOUS_KEYS.len());
    }

    #[test]
    fn recorder_counts_latency_from_the_intended_start() {
        let t0 = Instant::now();
        let mut r = Recorder::new(0, t0, None, Arc::default());
        let intended = t0;
        let started = t0 + Duration::from_millis(400);
        let done = started + Duration::from_millis(100);
        r.start(intended, started);
        r.finish(intended, started, done, Outcome::Ok);
        assert_eq!(r.latency.len(), 1);
        assert!(r.latency.equivalent(r.latency.max(), 500_000));
        assert!(r.service.equivalent(r.service.max(), 100_000));
        assert!(r.lateness.equivalent(r.lateness.max(), 400_000));
        assert_eq!(r.count(Outcome::Ok), 1);
    }

    #[test]
    fn a_run_on_schedule_achieves_its_mean_requested_rate() {
        // Quick mode --stage 50:2s --stage 100:2s: 200 requests in 4 s, the first late in the ramp.
        let pacer = crate::spec::schedule::Pacer::stages(
            0.0,
            &[(50.0, Duration::from_secs(2)), (100.0, Duration::from_secs(2))],
            None,
        );
        let t0 = Instant::now();
        let mut r = Recorder::new(0, t0, None, Arc::default());
        assert_eq!(r.achieved_rate(), None);
        for n in 0..pacer.total() {
            let at = t0 + pacer.due(n).unwrap();
            r.start(at, at);
        }
        assert_eq!(r.sent, 200);
        let achieved = r.achieved_rate().unwrap();
        assert!((achieved - 50.0).abs() < 1e-6, "{achieved}");
    }

    #[test]
    fn merge_adds_counts_and_histograms_exactly() {
        let t0 = Instant::now();
        let mut a = Recorder::new(0, t0, None, Arc::default());
        let mut b = Recorder::new(1, t0, None, Arc::default());
        for i in 0..100u64 {
            let r = if i % 2 == 0 { &mut a } else { &mut b };
            let s = t0 + Duration::from_millis(i);
            r.start(s, s);
            r.finish(
                s,
                s,
                s + Duration::from_micros(100 + i),
                if i % 10 == 0 { Outcome::Status(500) } else { Outcome::Ok },
            );
        }
        a.dropped(t0);
        a.merge(&b);
        assert_eq!(a.sent, 100);
        assert_eq!(a.latency.len(), 100);
        assert_eq!(a.count(Outcome::Status(500)), 10);
        assert_eq!(a.count(Outcome::Ok), 90);
        assert_eq!(a.count(Outcome::Dropped), 1);
        assert_eq!(a.latency.max(), 199);
    }

    #[test]
    fn intervals_rotate_each_second_and_carry_watermarks() {
        let t0 = Instant::now();
        let (tx, rx) = std::sync::mpsc::channel();
        let mut r = Recorder::new(3, t0, Some(tx), Arc::default());
        for s in [0u64, 0, 1, 3] {
            let at = t0 + Duration::from_millis(s * 1000 + 10);
            r.start(at, at);
            r.finish(at, at, at, Outcome::Ok);
        }
        r.close();
        let reports: Vec<Report> = rx.try_iter().collect();
        let intervals: Vec<(u64, u64)> = reports
            .iter()
            .filter_map(|r| match r {
                Report::Interval { interval, .. } => Some((interval.index, interval.ok)),
                _ => None,
            })
            .collect();
        assert_eq!(intervals, vec![(0, 2), (1, 1), (3, 1)]);
        assert!(matches!(reports.last(), Some(Report::Done { thread: 3 })));
    }

    #[test]
    fn intervals_count_outcomes_retries_and_the_worst_lateness() {
        let t0 = Instant::now();
        let (tx, rx) = std::sync::mpsc::channel();
        let mut r = Recorder::new(0, t0, Some(tx), Arc::default());
        let at = t0 + Duration::from_millis(10);
        r.start(t0, at);
        r.finish(t0, at, at, Outcome::ApiError(131056));
        r.start(at, at + Duration::from_millis(3));
        r.retry(at);
        r.finish(at, at, at, Outcome::Ok);
        r.cancelled(1);
        r.close();
        let mut all = Interval::new(0);
        for rep in rx.try_iter() {
            if let Report::Interval { interval, .. } = rep {
                all.merge(&interval);
            }
        }
        assert_eq!((all.started, all.retries), (2, 1));
        assert_eq!(
            all.outcomes,
            BTreeMap::from([(Outcome::Ok, 1), (Outcome::ApiError(131056), 1), (Outcome::Cancelled, 1)])
        );
        assert_eq!(all.lateness_max_us, 10_000);
    }

    #[test]
    fn outcome_keys_are_stable() {
        assert_eq!(Outcome::ApiError(131056).key(), "api_131056");
        assert_eq!(Outcome::Status(503).key(), "http_503");
        assert_eq!(Outcome::Connect.key(), "connect_error");
        assert!(!Outcome::Timeout.has_response());
    }
}
