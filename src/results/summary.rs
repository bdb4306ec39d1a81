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
        }
    }
}
