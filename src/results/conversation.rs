//! What a conversation target measured of a bot: the user turns posted to its webhook endpoint, the
//! replies it sent through the (simulated) Cloud API, each turn's time to its first reply, and the
//! replies that failed, by the API's code. The time-to-reply histogram is in
//! `<target>.replies.hlog`.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::summary::Summary;

/// The tag of the time-to-first-reply histogram in `<target>.replies.hlog`.
pub const REPLY_TAG: &str = "first_reply";

/// A conversation target's figures (in run.json, per target).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConversationStats {
    /// User turns the bot's endpoint accepted (its webhook POST answered 200): each one expects a
    /// reply.
    pub turns: u64,
    /// Turns whose POST the endpoint did not accept (an error status, no answer): never delivered,
    /// so not counted as unanswered; the POST's own outcome is in `requests`.
    pub not_delivered: u64,
    /// Turns with a reply the API accepted within `reply_timeout`.
    pub answered: u64,
    /// Turns without one: no reply at all, only failed replies, or only after the timeout.
    pub unanswered: u64,
    /// Turns whose first accepted reply came after `reply_timeout` (counted in `unanswered`).
    #[serde(default)]
    pub late: u64,
    /// Replies matched to a turn (accepted or not); `replies / turns` is replies per turn.
    pub replies: u64,
    /// Replies the API refused or that fail later, by error code (131047 outside the customer
    /// service window, 130429 over the number's throughput, 131056 the pair limit, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failed_replies: BTreeMap<i64, u64>,
    /// Sends to a user with no turn waiting (a message the bot sent on its own, or a reply to a turn
    /// already past `reply_timeout`'s bookkeeping).
    #[serde(default)]
    pub unsolicited: u64,
    /// Time from the intended send time of a user's message to the bot's first accepted reply
    /// (answered turns; coordinated-omission-free: a late post does not hide its lateness).
    pub reply_latency_us: Summary,
    /// How long a turn waits for its reply before it counts as unanswered, in ms.
    pub reply_timeout_ms: u64,
    /// A scripted conversation: the conversations started (their first turn sent) …
    #[serde(default, skip_serializing_if = "is_zero")]
    pub conversations: u64,
    /// … and those whose every turn was answered in time.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub completed: u64,
    /// A scripted conversation (or one whose turn expects something): each turn of the script.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_turn: Vec<TurnStats>,
}

/// One turn of a scripted conversation: how often it was sent, answered, and what the replies showed.
/// Its time-to-first-reply histogram is tagged `turn_<n>` (from 1) in `<target>.replies.hlog`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TurnStats {
    /// The turn as the script says it: its text, or what it chooses.
    pub turn: String,
    /// Times the turn was sent (a conversation whose previous turn went unanswered stops before it).
    pub sent: u64,
    pub answered: u64,
    pub unanswered: u64,
    /// Sent turns whose replies never met the turn's `expect`.
    #[serde(default)]
    pub unmet: u64,
    pub reply_latency_us: Summary,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The tag of turn `index` (from 0) of a script in `<target>.replies.hlog`.
pub fn turn_tag(index: usize) -> String {
    format!("turn_{}", index + 1)
}

impl ConversationStats {
    /// Replies per turn that got any.
    pub fn replies_per_turn(&self) -> f64 {
        if self.turns == 0 { 0.0 } else { self.replies as f64 / self.turns as f64 }
    }

    /// Unanswered turns as a share of the turns (0..=1).
    pub fn unanswered_rate(&self) -> f64 {
        if self.turns == 0 { 0.0 } else { self.unanswered as f64 / self.turns as f64 }
    }

    /// Failed replies, all codes.
    pub fn failed(&self) -> u64 {
        self.failed_replies.values().sum()
    }
}

/// Write the time-to-first-reply histogram (all turns), then one per turn of a script, each as one
/// tagged interval of an interval log.
pub fn write_hlog<W: std::io::Write>(
    out: &mut W,
    h: &Histogram<u64>,
    turns: &[Histogram<u64>],
    start: std::time::SystemTime,
    duration: Duration,
) -> std::io::Result<()> {
    let mut entries = vec![(REPLY_TAG.to_string(), Duration::ZERO, duration, h)];
    entries.extend(turns.iter().enumerate().map(|(i, t)| (turn_tag(i), Duration::ZERO, duration, t)));
    super::hlog::write_tagged(out, start, "wabench time to the bot's first reply, values in microseconds", &entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_per_turn_and_zero_without_turns() {
        let none = ConversationStats::default();
        assert_eq!((none.replies_per_turn(), none.unanswered_rate()), (0.0, 0.0));
        let s = ConversationStats {
            turns: 10,
            answered: 8,
            unanswered: 2,
            replies: 15,
            failed_replies: [(131047, 2), (130429, 1)].into(),
            ..Default::default()
        };
        assert_eq!(s.replies_per_turn(), 1.5);
        assert_eq!(s.unanswered_rate(), 0.2);
        assert_eq!(s.failed(), 3);
    }

    #[test]
    fn the_histogram_reads_back_from_its_log() {
        let mut h = crate::results::histogram();
        for v in [1_000u64, 2_000, 250_000] {
            h.record(v).unwrap();
        }
        let mut buf = Vec::new();
        let mut second = crate::results::histogram();
        second.record(5_000).unwrap();
        let turns = [h.clone(), second.clone()];
        write_hlog(&mut buf, &h, &turns, std::time::SystemTime::UNIX_EPOCH, Duration::from_secs(3)).unwrap();
        let log = crate::results::hlog::parse(&buf).unwrap();
        let e = log.entries.iter().find(|e| e.tag.as_deref() == Some(REPLY_TAG)).unwrap();
        assert_eq!(e.histogram.len(), 3);
        assert_eq!(e.histogram.max(), h.max());
        let turn2 = log.entries.iter().find(|e| e.tag.as_deref() == Some(turn_tag(1).as_str())).unwrap();
        assert_eq!(turn2.histogram, second, "turn 2's histogram is written apart");
    }
}
