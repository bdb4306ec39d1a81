//! The figures of each sending number of a Cloud target with several (`phone_number_ids`): what
//! the driver counted at send (in the target's `extra.numbers`) beside what the status webhooks said
//! (`delivery.by_number`). Both are keyed by the number's id, so shards' results add up exactly.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::TargetResult;
use super::delivery::NumberDelivery;

/// One sending number's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberRow {
    /// The phone number id.
    pub id: String,
    /// Send attempts, retries included.
    pub attempts: u64,
    /// Messages that ended (each once, after its last attempt).
    pub messages: u64,
    /// Of them, accepted by the API.
    pub ok: u64,
    /// Accepted messages per second while the target sent (the target's achieved rate, the time its
    /// sends took, shared by the number's accepted messages; the drain after the last send not counted).
    pub ok_rate: f64,
    /// The others by outcome (`api_130429`, `timeout`, …).
    pub failed_at_send: BTreeMap<String, u64>,
    /// What the status webhooks said of the accepted ones (absent: delivery not tracked).
    pub delivery: Option<NumberDelivery>,
}

#[derive(Deserialize)]
struct Sent {
    #[serde(default)]
    attempts: u64,
    #[serde(default)]
    messages: u64,
    #[serde(default)]
    outcomes: BTreeMap<String, u64>,
}

/// The sending numbers of `t`, in the order of their ids; empty for a target with one number.
pub fn of(t: &TargetResult) -> Vec<NumberRow> {
    let Some(numbers) = t.extra.as_ref().and_then(|x| x.get("numbers")) else { return Vec::new() };
    let Ok(sent) = BTreeMap::<String, Sent>::deserialize(numbers) else { return Vec::new() };
    let by_number = t.delivery.as_ref().map(|d| &d.by_number);
    sent.into_iter()
        .map(|(id, s)| {
            let mut failed_at_send = s.outcomes;
            let ok = failed_at_send.remove("ok").unwrap_or(0);
            let delivery = by_number.map(|b| b.get(&id).cloned().unwrap_or_default());
            NumberRow {
                ok_rate: if t.requests.sent > 0 { ok as f64 * t.rate.achieved / t.requests.sent as f64 } else { 0.0 },
                id,
                attempts: s.attempts,
                messages: s.messages,
                ok,
                failed_at_send,
                delivery,
            }
        })
        .collect()
}

/// `key n, key n` of a count table, or `0`.
pub fn counts_text<K: std::fmt::Display>(m: &BTreeMap<K, u64>) -> String {
    if m.is_empty() {
        return "0".into();
    }
    m.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
}
