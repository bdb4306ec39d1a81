//! The conversation tracker: the user turns a conversation target posts to a bot, and the bot's
//! replies as the simulated Cloud API sees them. A reply is matched to the turn it answers: the one
//! it quotes (`context.message_id`) when that turn is still waiting, else the user's oldest turn
//! without a reply, else the user's latest turn (a second reply to it). Each turn's time to its
//! first accepted reply is measured from the intended send time of the user's message, so a late post
//! does not hide its own lateness (no coordinated omission).
//!
//! Memory is bounded by the turns in flight: a turn leaves the books once answered and a little after
//! `reply_timeout` (kept that long to count further replies to it).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::results::conversation::ConversationStats;
use crate::results::{Summary, histogram};

/// One user message waiting for, or answered by, the bot.
#[derive(Debug)]
struct Turn {
    id: String,
    intended: Instant,
    answered: bool,
}

#[derive(Debug, Default)]
struct Books {
    /// Per user, the turns still kept, oldest first.
    open: HashMap<String, VecDeque<Turn>>,
    /// Turns kept in all (bounds the pruning work).
    kept: usize,
    turns: u64,
    not_delivered: u64,
    answered: u64,
    late: u64,
    replies: u64,
    unsolicited: u64,
    failed: BTreeMap<i64, u64>,
}

/// Turns and replies of one conversation target.
#[derive(Debug)]
pub struct ConversationTracker {
    reply_timeout: Duration,
    books: Mutex<Books>,
    latency: Mutex<Histogram<u64>>,
}

impl ConversationTracker {
    pub fn new(reply_timeout: Duration) -> ConversationTracker {
        ConversationTracker { reply_timeout, books: Mutex::default(), latency: Mutex::new(histogram()) }
    }

    pub fn reply_timeout(&self) -> Duration {
        self.reply_timeout
    }

    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// User `user` sent message `id`, intended at `intended`; it now waits for the bot's reply.
    pub fn turn(&self, user: &str, id: &str, intended: Instant) {
        let mut b = self.books();
        b.turns += 1;
        b.kept += 1;
        b.open.entry(user.to_string()).or_default().push_back(Turn { id: id.to_string(), intended, answered: false });
        if b.kept > 4096 && b.kept.is_power_of_two() {
            self.prune(&mut b, Instant::now());
        }
    }

    /// The endpoint did not accept turn `id` of `user` (an error status, no answer): the bot never got
    /// it, so it waits for nothing.
    pub fn not_delivered(&self, user: &str, id: &str) {
        let mut b = self.books();
        let Some(q) = b.open.get_mut(user) else { return };
        let Some(i) = q.iter().position(|t| t.id == id) else { return };
        q.remove(i);
        if q.is_empty() {
            b.open.remove(user);
        }
        b.kept -= 1;
        b.turns -= 1;
        b.not_delivered += 1;
    }

    /// The bot sent a message to `to` at `at`, quoting `context`; `error` is the code the API refused
    /// it with or it fails with later.
    pub fn reply(&self, to: &str, context: Option<&str>, at: Instant, error: Option<i64>) {
        let mut b = self.books();
        let Some(q) = b.open.get_mut(to) else {
            b.unsolicited += 1;
            return;
        };
        let quoted = context.and_then(|c| q.iter().position(|t| t.id == c && !t.answered));
        let i = quoted.or_else(|| q.iter().position(|t| !t.answered)).unwrap_or(q.len() - 1);
        let first = error.is_none() && !q[i].answered;
        let waited = at.saturating_duration_since(q[i].intended);
        if first {
            q[i].answered = true;
        }
        b.replies += 1;
        if let Some(code) = error {
            *b.failed.entry(code).or_default() += 1;
            return;
        }
        if !first {
            return;
        }
        if waited > self.reply_timeout {
            b.late += 1;
            return;
        }
        b.answered += 1;
        drop(b);
        let us = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX).clamp(1, crate::results::MAX_US);
        let _ = self.latency.lock().unwrap_or_else(std::sync::PoisonError::into_inner).record(us);
    }

    /// Drop the turns older than `reply_timeout` plus a grace (answered or not, they are settled).
    fn prune(&self, b: &mut Books, now: Instant) {
        let keep = self.reply_timeout + self.reply_timeout / 2;
        let mut dropped = 0;
        b.open.retain(|_, q| {
            let before = q.len();
            q.retain(|t| now.saturating_duration_since(t.intended) <= keep);
            dropped += before - q.len();
            !q.is_empty()
        });
        b.kept -= dropped;
    }

    /// Whether a turn is still waiting for its first reply within `reply_timeout` at `now`.
    pub fn waiting(&self, now: Instant) -> bool {
        let b = self.books();
        b.open
            .values()
            .flatten()
            .any(|t| !t.answered && now.saturating_duration_since(t.intended) <= self.reply_timeout)
    }

    /// The figures so far, and the time-to-first-reply histogram.
    pub fn stats(&self) -> (ConversationStats, Histogram<u64>) {
        let b = self.books();
        let h = self.latency.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let s = ConversationStats {
            turns: b.turns,
            not_delivered: b.not_delivered,
            answered: b.answered,
            unanswered: b.turns - b.answered,
            late: b.late,
            replies: b.replies,
            failed_replies: b.failed.clone(),
            unsolicited: b.unsolicited,
            reply_latency_us: Summary::of(&h),
            reply_timeout_ms: u64::try_from(self.reply_timeout.as_millis()).unwrap_or(u64::MAX),
        };
        (s, h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(t0: Instant, n: u64) -> Instant {
        t0 + Duration::from_millis(n)
    }

    #[test]
    fn first_replies_are_timed_from_the_intended_time_and_matched_by_quote_then_age() {
        let t = ConversationTracker::new(Duration::from_secs(5));
        let t0 = Instant::now();
        t.turn("1555", "a", t0);
        t.turn("1555", "b", ms(t0, 100));
        t.turn("1666", "c", ms(t0, 200));
        // Quoting b answers b, not the older a.
        t.reply("1555", Some("b"), ms(t0, 300), None);
        // No quote: the oldest unanswered turn of the user (a).
        t.reply("1555", None, ms(t0, 1_000), None);
        // A second reply to a user whose turns are all answered: a reply more, no new answer.
        t.reply("1555", None, ms(t0, 1_100), None);
        // To nobody waiting.
        t.reply("1777", None, ms(t0, 1_200), None);
        let (s, h) = t.stats();
        assert_eq!((s.turns, s.answered, s.unanswered, s.replies, s.unsolicited), (3, 2, 1, 3, 1));
        assert_eq!(h.len(), 2);
        // b waited 200 ms, a 1000 ms.
        assert!(h.min() >= 199_000 && h.min() <= 201_000, "{}", h.min());
        assert!(h.max() >= 999_000 && h.max() <= 1_001_000, "{}", h.max());
    }

    #[test]
    fn failed_and_late_replies_leave_the_turn_unanswered() {
        let t = ConversationTracker::new(Duration::from_millis(500));
        let t0 = Instant::now();
        t.turn("1", "a", t0);
        t.turn("2", "b", t0);
        t.turn("3", "c", t0);
        t.reply("1", Some("a"), ms(t0, 100), Some(131047));
        t.reply("2", Some("b"), ms(t0, 900), None);
        t.reply("3", Some("c"), ms(t0, 100), Some(130429));
        t.reply("3", Some("c"), ms(t0, 200), None);
        let (s, h) = t.stats();
        assert_eq!((s.turns, s.answered, s.unanswered, s.late, s.replies), (3, 1, 2, 1, 4));
        assert_eq!(s.failed_replies, [(130429, 1), (131047, 1)].into());
        assert_eq!(h.len(), 1);
        assert!(t.waiting(ms(t0, 400)), "a is still within its timeout");
        assert!(!t.waiting(ms(t0, 600)));
    }

    #[test]
    fn a_turn_the_endpoint_refused_waits_for_nothing() {
        let t = ConversationTracker::new(Duration::from_secs(1));
        let t0 = Instant::now();
        t.turn("1", "a", t0);
        t.not_delivered("1", "a");
        let (s, _) = t.stats();
        assert_eq!((s.turns, s.not_delivered, s.unanswered), (0, 1, 0));
        assert!(!t.waiting(t0));
    }

    #[test]
    fn old_turns_are_pruned_and_memory_stays_bounded() {
        let t = ConversationTracker::new(Duration::from_millis(10));
        let t0 = Instant::now() - Duration::from_secs(60);
        for i in 0..20_000u64 {
            t.turn(&format!("u{}", i % 500), &format!("m{i}"), t0);
        }
        assert!(t.books().kept < 8192, "{}", t.books().kept);
        let (s, _) = t.stats();
        assert_eq!((s.turns, s.unanswered), (20_000, 20_000));
    }
}
