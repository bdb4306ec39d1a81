//! Delivery statistics reported by the tracker: counts, latency percentiles and histograms.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::summary::Summary;

/// The four latency distributions, in microseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryHistograms {
    /// API accept → `sent` webhook received.
    pub accept_to_sent: Histogram<u64>,
    /// API accept → `delivered` webhook received.
    pub accept_to_delivered: Histogram<u64>,
    /// API accept → `read` webhook received.
    pub accept_to_read: Histogram<u64>,
    /// Send request start → `delivered` webhook received.
    pub send_start_to_delivered: Histogram<u64>,
}

impl Default for DeliveryHistograms {
    fn default() -> Self {
        Self::new()
    }
}

impl DeliveryHistograms {
    pub(crate) fn new() -> Self {
        let h = super::summary::histogram;
        Self { accept_to_sent: h(), accept_to_delivered: h(), accept_to_read: h(), send_start_to_delivered: h() }
    }

    /// The histograms with stable tags, e.g. for writing an `.hlog` file.
    pub fn tagged(&self) -> [(&'static str, &Histogram<u64>); 4] {
        [
            ("accept_to_sent", &self.accept_to_sent),
            ("accept_to_delivered", &self.accept_to_delivered),
            ("accept_to_read", &self.accept_to_read),
            ("send_start_to_delivered", &self.send_start_to_delivered),
        ]
    }

    /// Writes the four histograms as one tagged interval each to an HdrHistogram interval log
    /// (`.hlog`, V2 deflate encoding; values in µs, the log's max column in ms). `start` is when
    /// the run began and `duration` how long it lasted.
    pub fn write_hlog<W: std::io::Write>(
        &self,
        out: &mut W,
        start: std::time::SystemTime,
        duration: Duration,
    ) -> std::io::Result<()> {
        let entries: Vec<(String, Duration, Duration, &Histogram<u64>)> =
            self.tagged().into_iter().map(|(t, h)| (t.to_string(), Duration::ZERO, duration, h)).collect();
        super::hlog::write_tagged(out, start, "wabench delivery latency, values in microseconds", &entries)
    }

    pub(crate) fn add(&mut self, other: &Self) {
        // Same bounds on both sides, so `add` cannot fail.
        let _ = self.accept_to_sent.add(&other.accept_to_sent);
        let _ = self.accept_to_delivered.add(&other.accept_to_delivered);
        let _ = self.accept_to_read.add(&other.accept_to_read);
        let _ = self.send_start_to_delivered.add(&other.send_start_to_delivered);
    }
}

/// Counts of status objects received, by kind (duplicates included).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindCounts {
    pub sent: u64,
    pub delivered: u64,
    pub read: u64,
    pub failed: u64,
    pub played: u64,
    pub other: u64,
}

/// How the users of received webhooks were identified (Meta's 2026 business-scoped user IDs and
/// usernames: a user who adopted a username may come with a BSUID and no phone number).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IdentityCounts {
    /// Status objects whose user was named by a BSUID (`recipient_user_id`, or `user_id` in the
    /// webhook's `contacts`).
    pub statuses_with_user_id: u64,
    /// Status objects with no phone number for their user (no `recipient_id`, no `wa_id`): a user
    /// who adopted a username, messaged by BSUID.
    pub statuses_without_phone: u64,
    /// Status objects whose contact carried `profile.username`.
    pub statuses_with_username: u64,
    /// Inbound user messages without the sender's phone number (no `from`): username users.
    pub inbound_without_phone: u64,
    /// Entries of `user_id_update` webhooks (a user's previous and current BSUID), which are
    /// neither statuses nor messages.
    pub user_id_updates: u64,
}

impl IdentityCounts {
    /// True when no webhook carried any of it (pre-2026 shapes, or no webhooks).
    pub fn is_empty(&self) -> bool {
        *self == IdentityCounts::default()
    }

    /// Adds another count.
    pub fn add(&mut self, o: &IdentityCounts) {
        self.statuses_with_user_id += o.statuses_with_user_id;
        self.statuses_without_phone += o.statuses_without_phone;
        self.statuses_with_username += o.statuses_with_username;
        self.inbound_without_phone += o.inbound_without_phone;
        self.user_id_updates += o.user_id_updates;
    }
}

/// What one sending number's accepted messages became.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NumberDelivery {
    /// Messages the API accepted from this number.
    pub accepted: u64,
    /// Of them, delivered (or read or played) first.
    pub delivered: u64,
    /// Of them, failed first in a status webhook, by the error's code (0: no code).
    pub failed_by_code: BTreeMap<i64, u64>,
    /// Of them, without a final status by the end of the run.
    pub lost: u64,
}

/// Summary of the four delivery latencies, in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub accept_to_sent: Summary,
    pub accept_to_delivered: Summary,
    pub accept_to_read: Summary,
    pub send_start_to_delivered: Summary,
}

/// Delivery accounting of a run at one point in time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryStats {
    /// Messages accepted by the API (calls to `webhook::Tracker::sent`).
    pub accepted: u64,
    /// Status objects received, by kind, duplicates included.
    pub statuses: KindCounts,
    /// `failed` statuses by the code of their first error.
    pub failed_by_code: BTreeMap<i64, u64>,
    /// `failed` statuses that carried no error.
    pub failed_without_code: u64,
    /// Messages accepted by the API that then failed in a webhook, by the code of their first
    /// `failed` status (each message once; `failed_by_code` counts statuses, duplicates included).
    /// Failures answered at send are the run's `api_<code>` outcomes; see
    /// `failures::by_path`.
    #[serde(default)]
    pub messages_failed_by_code: BTreeMap<i64, u64>,
    /// Inbound user messages received in `messages` webhooks (not errors: they open customer
    /// service windows).
    #[serde(default)]
    pub inbound_messages: u64,
    /// How the webhooks identified their users (BSUIDs, usernames); absent when none did.
    #[serde(default, skip_serializing_if = "IdentityCounts::is_empty")]
    pub identities: IdentityCounts,
    /// Accepted messages whose first final status was delivered/read/played.
    pub messages_delivered: u64,
    /// Accepted messages whose first final status was failed.
    pub messages_failed: u64,
    /// Messages that got both a success status and `failed` (documented multi-device
    /// anomaly). Each such message is still counted once above, by its first final status.
    pub delivered_and_failed: u64,
    /// A target sending from several numbers: what each number's accepted messages became, by the
    /// number's id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_number: BTreeMap<String, NumberDelivery>,
    /// Statuses repeating an (id, status) pair already seen.
    pub duplicates: u64,
    /// Accepts for an id already accepted in this run.
    pub duplicate_accepts: u64,
    /// Statuses arriving after a later lifecycle stage (e.g. `sent` after `delivered`).
    pub out_of_order: u64,
    /// Statuses that arrived before the engine recorded the accept (latency recorded as 0
    /// when the webhook beat the API response).
    pub early_statuses: u64,
    /// Ids that only ever had statuses (never accepted in this run), counted on eviction or
    /// at the end of the run.
    pub unknown_ids: u64,
    /// Status-only ids currently held, waiting for a possible accept.
    pub awaiting_accept: u64,
    /// Entries evicted because their horizon passed.
    pub expired: u64,
    /// Ids not tracked because `max_tracked` was reached.
    pub overflow: u64,
    /// Accepted messages still waiting for a final status.
    pub in_flight: u64,
    /// Accepted messages that never got a final status: evicted at the horizon, or still
    /// waiting when `webhook::Tracker::finish` ended the run.
    pub lost: u64,
    /// Ids currently held in memory.
    pub tracked: u64,
    pub latency_us: LatencySummary,
    /// The merged histograms (µs), for `.hlog` output.
    #[serde(skip)]
    pub histograms: DeliveryHistograms,
}
