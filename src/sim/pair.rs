//! The Cloud API's pair rate limit (error 131056): how often one business phone number may message
//! one WhatsApp user.
//!
//! Meta: "1 message every 6 seconds" to the same user; bursts of "up to 45 messages in 6 seconds"
//! are allowed but borrow from future quota, so "after a burst of 20 messages, you must wait about
//! 2 minutes" before that user can receive again (Cloud API overview, "Pair rate limits",
//! <https://developers.facebook.com/docs/whatsapp/cloud-api/overview#pair-rate-limits>; restated in
//! Meta's error codes, 131056).
//!
//! The rule that gives exactly those three statements, per pair:
//! - the pair has a *next free time*; each accepted message pushes it one `interval` (6 s) later;
//! - when a message arrives at or after the next free time, the pair is within its quota: the message
//!   is accepted and a burst window of one `interval` opens at its arrival;
//! - inside that burst window, up to `burst` (45) messages in all are accepted, each borrowing one
//!   `interval` of future quota;
//! - anything else is refused: the 46th message of a burst, or any message after the window closed
//!   while the pair is still in debt (before its next free time). A refused message changes nothing.
//!
//! So a burst of 20 at once puts the next free time 20 × 6 s = 2 min away and everything sent to that
//! user before then is refused — unlike a refilling token bucket, which would let 25 more through at
//! once. One message every 6 s is always accepted.
//!
//! The rule is a pure function of the pair's state and an injected clock (time since the simulator
//! started), so it is tested without sleeping.

use std::time::Duration;

use super::model::KeyedShards;

/// The pair limit's parameters (Meta: one message per 6 s, bursts of up to 45).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairRule {
    /// Quota of one message per this long (Meta: 6 s).
    pub interval: Duration,
    /// Most messages accepted in one burst window of `interval` (Meta: 45).
    pub burst: u32,
}

/// One pair's state: when its quota is free again and the burst window it is in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PairState {
    /// From this time on the pair is within its quota again.
    pub next_free: Duration,
    /// Start of the current burst window.
    burst_start: Duration,
    /// Messages accepted in the current burst window.
    burst_count: u32,
}

impl PairRule {
    /// Judge a message to the pair at `now` (time since the simulator started): `true` when accepted
    /// (the state moves on), `false` when refused with 131056 (the state is unchanged).
    pub fn admit(&self, st: &mut PairState, now: Duration) -> bool {
        if now >= st.next_free {
            *st = PairState { next_free: now + self.interval, burst_start: now, burst_count: 1 };
            return true;
        }
        let in_window = now < st.burst_start.saturating_add(self.interval);
        if in_window && st.burst_count < self.burst {
            st.burst_count += 1;
            st.next_free = st.next_free.saturating_add(self.interval);
            return true;
        }
        false
    }
}

/// The pair limit for every (phone number, recipient) pair, keyed by a 64-bit hash of the pair. Pairs
/// back within their quota are forgotten as the map grows.
#[derive(Debug)]
pub struct PairLimiter {
    rule: PairRule,
    pairs: KeyedShards<PairState>,
}

impl PairLimiter {
    /// A limiter with `rule` for every pair.
    pub fn new(rule: PairRule) -> Self {
        PairLimiter { rule, pairs: KeyedShards::default() }
    }

    /// Judge a message to the pair `key` at `now` (time since the simulator started).
    pub fn admit(&self, key: u64, now: Duration) -> bool {
        // A pair whose next free time has passed is as good as new.
        self.pairs.with(key, |p| p.next_free > now, PairState::default, |st| self.rule.admit(st, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: PairRule = PairRule { interval: Duration::from_secs(6), burst: 45 };

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// The first time at or after `from` (in steps of `step`) the pair accepts a message.
    fn next_accepted(st: &mut PairState, from: Duration, step: Duration) -> Duration {
        let mut t = from;
        while !META.admit(st, t) {
            t += step;
        }
        t
    }

    #[test]
    fn burst_of_20_then_about_two_minutes_wait() {
        let mut st = PairState::default();
        for i in 0..20 {
            assert!(META.admit(&mut st, ms(100 * i)), "message {i} of the burst");
        }
        // Refused all through the debt (checked every second), accepted again at 20 × 6 s = 2 min.
        let again = next_accepted(&mut st, Duration::from_secs(7), Duration::from_secs(1));
        assert_eq!(again, Duration::from_secs(120));
    }

    #[test]
    fn no_second_burst_while_in_debt() {
        // A refilling token bucket of 45 would let 25 more through right after a burst of 20.
        let mut st = PairState::default();
        for i in 0..20 {
            assert!(META.admit(&mut st, ms(10 * i)));
        }
        let later: usize = (0..25).filter(|i| META.admit(&mut st, Duration::from_secs(10) + ms(10 * i))).count();
        assert_eq!(later, 0);
    }

    #[test]
    fn one_message_every_6_seconds_is_always_accepted() {
        let mut st = PairState::default();
        for i in 0..1000 {
            assert!(META.admit(&mut st, Duration::from_secs(6 * i)), "message {i}");
        }
    }

    #[test]
    fn the_46th_message_within_6_seconds_is_refused() {
        let mut st = PairState::default();
        let accepted: Vec<bool> = (0..46).map(|i| META.admit(&mut st, ms(100 * i))).collect();
        assert!(accepted[..45].iter().all(|a| *a));
        assert!(!accepted[45]);
        // The 45 borrowed 45 × 6 s: the pair is free again 270 s after the burst began.
        assert_eq!(st.next_free, Duration::from_secs(270));
    }

    #[test]
    fn faster_than_quota_is_refused_once_the_window_closes() {
        // One message every 5 s: the second borrows, the third falls outside the window while in debt.
        let mut st = PairState::default();
        assert!(META.admit(&mut st, Duration::from_secs(0)));
        assert!(META.admit(&mut st, Duration::from_secs(5)));
        assert!(!META.admit(&mut st, Duration::from_secs(10)));
        assert!(META.admit(&mut st, Duration::from_secs(12)));
    }

    #[test]
    fn limiter_keeps_pairs_apart_and_forgets_repaid_ones() {
        let l = PairLimiter::new(PairRule { interval: Duration::from_secs(6), burst: 2 });
        assert!(l.admit(1, ms(0)) && l.admit(1, ms(1)));
        assert!(!l.admit(1, ms(2)));
        assert!(l.admit(2, ms(2)), "another recipient is not affected");
        assert!(l.admit(1, Duration::from_secs(12)));
        // Many pairs in debt at once are all remembered (pair 1 is still in its burst window) …
        for k in 2..10_000u64 {
            assert!(l.admit(k << 40, Duration::from_secs(12)));
        }
        assert!(l.admit(1, Duration::from_secs(12) + ms(1)));
        assert!(!l.admit(1, Duration::from_secs(12) + ms(2)));
        // … and once they have repaid, the shards forget them as they grow.
        for k in 10_000..20_000u64 {
            assert!(l.admit(k << 40, Duration::from_secs(100)));
        }
        assert!(l.pairs.len() < 15_000, "{} pairs kept", l.pairs.len());
    }
}
