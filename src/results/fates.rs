//! What became of a target's messages, each counted once: failed at send, or accepted and then
//! delivered, failed in a `failed` status webhook, or lost (no final status). The one place the
//! per-message rates are computed (`error_rate`, `send_error_rate`, `delivery.*_rate`), so that
//! thresholds, the summary, report.html, the CI files and `compare` cannot disagree. Every rate's
//! denominator is the messages sent; a message that failed at send was never accepted, so it cannot
//! also fail in a webhook, and the send and webhook rates add up to `error_rate`.

use std::collections::BTreeMap;

use super::TargetResult;

/// What the status webhooks said of the accepted messages.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Delivered {
    /// Messages the API accepted (200 and a message id).
    pub accepted: u64,
    /// Accepted messages whose first final status was delivered, read or played.
    pub delivered: u64,
    /// Accepted messages whose first final status was `failed`.
    pub failed: u64,
    /// Accepted messages that never got a final status.
    pub lost: u64,
    /// `failed` messages by the code of their first error (each message once).
    pub failed_by_code: BTreeMap<i64, u64>,
}

/// The fates of one target's messages.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fates {
    /// Messages sent (requests started; retries not included).
    pub sent: u64,
    /// Messages whose last attempt was not answered with success (not those cancelled at the end).
    pub failed_at_send: u64,
    /// `None` when delivery was not tracked (no status webhooks for this target).
    pub delivery: Option<Delivered>,
}

impl Fates {
    /// The fates of `t`'s messages. A message has at most one successful attempt (a success is never
    /// retried), so the messages that failed at send are those sent less those answered with success
    /// and those still in flight when the run was cancelled.
    pub fn of(t: &TargetResult) -> Fates {
        let r = &t.requests;
        let failed_at_send = r.sent.saturating_sub(r.ok + r.cancelled);
        let delivery = t.delivery.as_ref().map(|d| {
            // Results written before messages were counted by code fall back to statuses.
            let by_code = if d.messages_failed_by_code.is_empty() && d.messages_failed > 0 {
                d.failed_by_code.clone()
            } else {
                d.messages_failed_by_code.clone()
            };
            Delivered {
                accepted: d.accepted,
                delivered: d.messages_delivered,
                failed: d.messages_failed,
                lost: d.lost,
                failed_by_code: by_code,
            }
        });
        Fates { sent: r.sent, failed_at_send, delivery }
    }

    /// Whether status webhooks were tracked for this target.
    pub fn tracked(&self) -> bool {
        self.delivery.is_some()
    }

    fn share(&self, n: u64) -> Option<f64> {
        (self.sent > 0).then(|| (n.min(self.sent)) as f64 / self.sent as f64)
    }

    /// Messages that failed in a webhook (0 when delivery was not tracked).
    pub fn failed_in_webhook(&self) -> u64 {
        self.delivery.as_ref().map_or(0, |d| d.failed)
    }

    /// Messages that failed at send or in a webhook.
    pub fn failed(&self) -> u64 {
        (self.failed_at_send + self.failed_in_webhook()).min(self.sent)
    }

    /// `error_rate`: messages that failed at send or in a webhook, per message sent.
    pub fn error_rate(&self) -> Option<f64> {
        self.share(self.failed())
    }

    /// `send_error_rate`: messages that failed at send, per message sent.
    pub fn send_error_rate(&self) -> Option<f64> {
        self.share(self.failed_at_send)
    }

    /// `delivery.failed_rate[.<code>]`: messages that failed in a webhook (with `code`), per message
    /// sent; `None` when delivery was not tracked or nothing was sent.
    pub fn failed_rate(&self, code: Option<i64>) -> Option<f64> {
        let d = self.delivery.as_ref()?;
        let n = match code {
            Some(c) => d.failed_by_code.get(&c).copied().unwrap_or(0),
            None => d.failed,
        };
        self.share(n)
    }

    /// `delivery.delivered_rate`: messages delivered (or read), per message sent.
    pub fn delivered_rate(&self) -> Option<f64> {
        self.share(self.delivery.as_ref()?.delivered)
    }

    /// `delivery.lost_rate`: accepted messages without a final status, per message sent.
    pub fn lost_rate(&self) -> Option<f64> {
        self.share(self.delivery.as_ref()?.lost)
    }

    /// `"244 (48.80%)"` of messages sent.
    pub fn show(&self, n: u64) -> String {
        match self.share(n) {
            Some(s) => format!("{n} ({:.2}%)", 100.0 * s),
            None => n.to_string(),
        }
    }

    /// The webhook failures as `"244 (48.80%): 131047 × 240, 131026 × 4"`, or `"not tracked"`.
    pub fn show_in_webhook(&self) -> String {
        let Some(d) = &self.delivery else { return "not tracked".into() };
        let mut s = self.show(d.failed);
        if !d.failed_by_code.is_empty() {
            let codes: Vec<String> = d.failed_by_code.iter().map(|(c, n)| format!("{c} × {n}")).collect();
            s.push_str(&format!(": {}", codes.join(", ")));
        }
        s
    }
}

/// What each rate counts, for the summary and the reports.
pub const RATES_EXPLAINED: &str = "error_rate counts messages that failed at send or later in a `failed` status \
webhook; send_error_rate only those answered with an error at send; delivery.failed_rate only those that \
failed in a webhook. Each is a share of the messages sent.";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{Counts, DeliveryStats};

    fn target(requests: Counts, delivery: Option<DeliveryStats>) -> TargetResult {
        let mut t = crate::results::empty_cloud_target();
        t.requests = requests;
        t.delivery = delivery;
        t
    }

    pub(crate) fn delivery(accepted: u64, delivered: u64, failed: &[(i64, u64)], lost: u64) -> DeliveryStats {
        let mut d: DeliveryStats = serde_json::from_value(serde_json::json!({
            "accepted": accepted, "statuses": {"sent":0,"delivered":0,"read":0,"failed":0,"played":0,"other":0},
            "failed_by_code": {}, "failed_without_code": 0, "messages_delivered": delivered,
            "messages_failed": failed.iter().map(|f| f.1).sum::<u64>(),
            "delivered_and_failed": 0, "duplicates": 0, "duplicate_accepts": 0, "out_of_order": 0,
            "early_statuses": 0, "unknown_ids": 0, "awaiting_accept": 0, "expired": 0, "overflow": 0,
            "in_flight": 0, "lost": lost, "tracked": 0,
            "latency_us": crate::results::LatencySummary::default()
        }))
        .unwrap();
        d.messages_failed_by_code = failed.iter().copied().collect();
        d
    }

    #[test]
    fn a_message_fails_once_at_send_or_in_a_webhook_and_rates_are_per_message() {
        // 500 messages: 10 failed at send after 30 retries in all, 490 accepted, 244 failed later.
        let requests = Counts { sent: 500, retries: 30, ok: 490, errors: 40, ..Counts::default() };
        let f = Fates::of(&target(requests, Some(delivery(490, 240, &[(131047, 240), (131026, 4)], 6))));
        assert_eq!((f.failed_at_send, f.failed_in_webhook(), f.failed()), (10, 244, 254));
        assert_eq!(f.send_error_rate(), Some(0.02), "per message, not per attempt (40 / 500)");
        assert_eq!(f.error_rate(), Some(254.0 / 500.0));
        assert_eq!(f.failed_rate(None), Some(244.0 / 500.0));
        assert_eq!(f.failed_rate(Some(131047)), Some(0.48));
        assert_eq!(f.failed_rate(Some(2)), Some(0.0));
        assert_eq!((f.delivered_rate(), f.lost_rate()), (Some(0.48), Some(0.012)));
        let sum = f.send_error_rate().unwrap() + f.failed_rate(None).unwrap();
        assert!((sum - f.error_rate().unwrap()).abs() < 1e-12, "the send and webhook shares add up");
        assert_eq!(f.show_in_webhook(), "244 (48.80%): 131026 × 4, 131047 × 240");
    }

    #[test]
    fn untracked_delivery_has_no_delivery_rates_and_cancelled_messages_are_not_failures() {
        let requests = Counts { sent: 100, ok: 90, errors: 8, cancelled: 2, ..Counts::default() };
        let f = Fates::of(&target(requests, None));
        assert!(!f.tracked());
        assert_eq!((f.failed_at_send, f.error_rate(), f.send_error_rate()), (8, Some(0.08), Some(0.08)));
        assert_eq!((f.failed_rate(None), f.delivered_rate(), f.lost_rate()), (None, None, None));
        assert_eq!(f.show_in_webhook(), "not tracked");
        assert_eq!(Fates::of(&target(Counts::default(), None)).error_rate(), None, "nothing sent: no rate");
    }
}
