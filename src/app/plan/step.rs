//! One step of the breakpoint search: the rate offered, what it achieved, and why it passed or failed
//! the SLO. The search writes it; the binding-limit and sizing rules read it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One step of the search.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Step {
    pub offered: f64,
    pub achieved: f64,
    pub sent: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub error_rate: f64,
    pub dropped: u64,
    /// Messages whose `delivered` (or `read`) status webhook arrived, when `[webhooks]` is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<u64>,
    pub passed: bool,
    /// Service time (from the actual start: the target's share of the latency), median and p99.
    #[serde(default)]
    pub service_p50_us: u64,
    #[serde(default)]
    pub service_p99_us: u64,
    /// How late requests started against their schedule (the client's share), p99.
    #[serde(default)]
    pub lateness_p99_us: u64,
    /// Capacity errors by outcome key (`api_1015`, `http_503`, `timeout`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, u64>,
}
