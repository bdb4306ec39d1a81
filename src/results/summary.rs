//! Latency histograms as the results hold them: one bound (1 µs to 1 h, 3 significant digits) and one
//! percentile summary type.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest latency a histogram tracks exactly (1 hour, in µs); larger values saturate.
pub const MAX_US: u64 = 3_600_000_000;

/// A fresh latency histogram: 1 µs to 1 h, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("static histogram bounds are valid")
}

/// Percentiles of a histogram, in µs: the one summary type of the results (request latencies, delivery
/// latencies). `min` and `stdev` may be absent in older files (read as 0).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub count: u64,
    #[serde(default)]
    pub min: u64,
    pub mean: f64,
    #[serde(default)]
    pub stdev: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    /// p75, p95 and p99.99 (absent in older files and in imports that did not give them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p75: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p9999: Option<u64>,
}

impl Summary {
    pub fn of(h: &Histogram<u64>) -> Summary {
        if h.is_empty() {
            return Summary::default();
        }
        Summary {
            count: h.len(),
            min: h.min(),
            mean: h.mean(),
            stdev: h.stdev(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            p75: Some(h.value_at_quantile(0.75)),
            p95: Some(h.value_at_quantile(0.95)),
            p9999: Some(h.value_at_quantile(0.9999)),
        }
    }

    /// The value of a kept percentile (or the max) by its name (`p95`, `p99.9`, …; see
    /// `units::percentile`), when these results have it; `None` for any other percentile.
    pub fn percentile(&self, name: &str) -> Option<u64> {
        match crate::units::percentile::parse(name).ok()?.0 {
            "max" => Some(self.max),
            "p50" => Some(self.p50),
            "p75" => self.p75,
            "p90" => Some(self.p90),
            "p95" => self.p95,
            "p99" => Some(self.p99),
            "p99.9" => Some(self.p999),
            "p99.99" => self.p9999,
            _ => None,
        }
    }
}
