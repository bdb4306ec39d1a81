//! What each sending number of a Cloud target got: attempts, and the messages by final outcome.
//! Kept only for a target with several numbers; reported in its results' `extra.numbers`, keyed by
//! the number's id so that shards' counts add up.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::engine::metrics::Outcome;

/// One sending number's counters.
pub struct Sender {
    id: String,
    attempts: AtomicU64,
    messages: AtomicU64,
    ok: AtomicU64,
    /// Messages by their final outcome other than ok (`api_130429`, `timeout`, …).
    other: Mutex<BTreeMap<String, u64>>,
}

impl Sender {
    pub fn new(id: &str) -> Sender {
        Sender {
            id: id.to_string(),
            attempts: AtomicU64::new(0),
            messages: AtomicU64::new(0),
            ok: AtomicU64::new(0),
            other: Mutex::new(BTreeMap::new()),
        }
    }

    /// An attempt (first or later) of a message from this number is being sent.
    pub fn attempt(&self) {
        self.attempts.fetch_add(1, Ordering::Relaxed);
    }

    /// A message from this number ended with `outcome`.
    pub fn ended(&self, outcome: Outcome) {
        self.messages.fetch_add(1, Ordering::Relaxed);
        if outcome.is_ok() {
            self.ok.fetch_add(1, Ordering::Relaxed);
        } else {
            *self.other.lock().unwrap_or_else(|p| p.into_inner()).entry(outcome.key()).or_insert(0) += 1;
        }
    }
}

/// The counters as `{"<id>": {"attempts", "messages", "outcomes": {"ok": n, …}}}`.
pub fn to_json(senders: &[&Sender]) -> serde_json::Value {
    let mut all = serde_json::Map::new();
    for s in senders {
        let mut outcomes = s.other.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let ok = s.ok.load(Ordering::Relaxed);
        if ok > 0 {
            outcomes.insert("ok".into(), ok);
        }
        all.insert(
            s.id.clone(),
            serde_json::json!({
                "attempts": s.attempts.load(Ordering::Relaxed),
                "messages": s.messages.load(Ordering::Relaxed),
                "outcomes": outcomes,
            }),
        );
    }
    serde_json::Value::Object(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_counts_its_attempts_and_its_messages_by_outcome() {
        let s = Sender::new("106540352242922");
        for _ in 0..3 {
            s.attempt();
        }
        s.ended(Outcome::Ok);
        s.ended(Outcome::ApiError(130429));
        let v = to_json(&[&s]);
        let n = &v["106540352242922"];
        assert_eq!(n["attempts"], 3);
        assert_eq!(n["messages"], 2);
        assert_eq!(n["outcomes"]["ok"], 1);
        assert_eq!(n["outcomes"]["api_130429"], 1);
    }
}
