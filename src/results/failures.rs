//! Failures by API error code and by the path they took: answered at send (an error response, the
//! run's `api_<code>` outcomes) or accepted and then reported in a `failed` status webhook
//! (`delivery.messages_failed_by_code`). The WhatsApp APIs use both paths, and a client that only
//! looks at send answers never sees the second.

use super::TargetResult;

/// One error code's failures of one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeFailures {
    pub code: i64,
    /// Send attempts answered with this code (retries included).
    pub at_send: u64,
    /// Accepted messages that then failed with this code in a webhook.
    pub in_webhook: u64,
}

/// The failures of `t` by code, ascending. Webhook failures come from
/// `delivery.messages_failed_by_code`; results written before that field existed fall back to
/// `failed_by_code` (statuses, duplicates included).
pub fn by_path(t: &TargetResult) -> Vec<CodeFailures> {
    let mut rows: std::collections::BTreeMap<i64, (u64, u64)> = std::collections::BTreeMap::new();
    for o in &t.outcomes {
        if let Some(code) = o.key.strip_prefix("api_").and_then(|c| c.parse::<i64>().ok()) {
            rows.entry(code).or_default().0 += o.count;
        }
    }
    if let Some(d) = &t.delivery {
        let by_code = if d.messages_failed_by_code.is_empty() { &d.failed_by_code } else { &d.messages_failed_by_code };
        for (code, n) in by_code {
            rows.entry(*code).or_default().1 += n;
        }
    }
    rows.into_iter().map(|(code, (at_send, in_webhook))| CodeFailures { code, at_send, in_webhook }).collect()
}

/// Every code that failed on any of `targets`, ascending.
pub fn codes(targets: &[TargetResult]) -> Vec<i64> {
    let mut codes: Vec<i64> = targets.iter().flat_map(|t| by_path(t).into_iter().map(|f| f.code)).collect();
    codes.sort_unstable();
    codes.dedup();
    codes
}

/// The failures of `code` on `t` (zeros when it never failed with it).
pub fn of(t: &TargetResult, code: i64) -> CodeFailures {
    by_path(t).into_iter().find(|f| f.code == code).unwrap_or(CodeFailures { code, at_send: 0, in_webhook: 0 })
}

/// `"12 at send / 30 in webhooks"`, for tables.
pub fn show(f: &CodeFailures) -> String {
    format!("{} at send / {} in webhooks", f.at_send, f.in_webhook)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{DeliveryStats, OutcomeResult};

    fn target(outcomes: &[(&str, u64)], delivery: Option<DeliveryStats>) -> TargetResult {
        let mut t = crate::results::empty_cloud_target();
        t.outcomes =
            outcomes.iter().map(|(k, n)| OutcomeResult { key: k.to_string(), count: *n, latency_us: None }).collect();
        t.delivery = delivery;
        t
    }

    fn delivery(by_status: &[(i64, u64)], by_message: &[(i64, u64)]) -> DeliveryStats {
        let mut d: DeliveryStats = serde_json::from_value(serde_json::json!({
            "accepted": 0, "statuses": {"sent":0,"delivered":0,"read":0,"failed":0,"played":0,"other":0},
            "failed_by_code": {}, "failed_without_code": 0, "messages_delivered": 0, "messages_failed": 0,
            "delivered_and_failed": 0, "duplicates": 0, "duplicate_accepts": 0, "out_of_order": 0,
            "early_statuses": 0, "unknown_ids": 0, "awaiting_accept": 0, "expired": 0, "overflow": 0,
            "in_flight": 0, "lost": 0, "tracked": 0,
            "latency_us": crate::results::LatencySummary::default()
        }))
        .unwrap();
        d.failed_by_code = by_status.iter().copied().collect();
        d.messages_failed_by_code = by_message.iter().copied().collect();
        d
    }

    #[test]
    fn splits_codes_by_path() {
        let t = target(
            &[("ok", 90), ("api_131056", 4), ("api_100", 1), ("timeout", 2)],
            Some(delivery(&[(131047, 7), (131056, 1)], &[(131047, 6), (131056, 1)])),
        );
        let rows = by_path(&t);
        let codes: Vec<i64> = rows.iter().map(|r| r.code).collect();
        assert_eq!(codes, vec![100, 131047, 131056]);
        assert_eq!(of(&t, 131047), CodeFailures { code: 131047, at_send: 0, in_webhook: 6 }, "messages, not statuses");
        assert_eq!(of(&t, 131056), CodeFailures { code: 131056, at_send: 4, in_webhook: 1 });
        assert_eq!(of(&t, 2), CodeFailures { code: 2, at_send: 0, in_webhook: 0 });
        assert_eq!(show(&of(&t, 131056)), "4 at send / 1 in webhooks");
    }

    #[test]
    fn old_results_fall_back_to_statuses_and_no_webhooks_means_send_only() {
        let old = target(&[], Some(delivery(&[(131026, 3)], &[])));
        assert_eq!(of(&old, 131026).in_webhook, 3);
        let plain = target(&[("api_131026", 2)], None);
        assert_eq!(by_path(&plain), vec![CodeFailures { code: 131026, at_send: 2, in_webhook: 0 }]);
        assert_eq!(codes(&[old, plain]), vec![131026]);
    }
}
