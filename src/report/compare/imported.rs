//! `compare` with imported results: an aggregate-only import has no seconds to resample, so its rows
//! carry the ratios of the figures both subjects have and no interval; and subjects whose latency was
//! measured from different starts (service time against latency from the intended start) get a note.

use super::{AGGREGATE_ONLY, Comparison, Metric, Row, ratio};
use crate::results;
use crate::results::folder::TargetData;

/// The percentiles an aggregate-only import holds (its tool's own figures), if `t` is one.
pub(crate) fn aggregate(t: &TargetData) -> Option<&std::collections::BTreeMap<String, u64>> {
    t.result.imported.as_ref().filter(|i| i.aggregate_only).map(|i| &i.percentiles_us)
}

/// One figure of a subject: an aggregate-only import's own percentile, else from its histograms.
fn figure(t: &TargetData, m: Metric) -> Option<f64> {
    match m {
        Metric::Rate => (t.result.rate.achieved > 0.0).then_some(t.result.rate.achieved),
        Metric::Quantile(name, q) => match aggregate(t) {
            Some(p) => p.get(name).map(|v| *v as f64),
            None if t.total.is_empty() => None,
            None if q >= 1.0 => Some(t.total.max() as f64),
            None => Some(t.total.value_at_quantile(q) as f64),
        },
    }
}

/// With an aggregate-only import on either side: the ratios of the figures both have, no intervals.
pub(crate) fn compare_aggregates(a: &TargetData, b: &TargetData, metrics: &[Metric]) -> Vec<Row> {
    metrics
        .iter()
        .map(|&m| {
            let (base, value) = (figure(a, m), figure(b, m));
            Row {
                metric: m,
                base,
                value,
                ratio: ratio(base, value),
                ci: None,
                significant: false,
                no_interval: Some(AGGREGATE_ONLY),
            }
        })
        .collect()
}

/// Where a subject's latency was measured from: an import says; a wabench run measures from the
/// intended start.
fn measured_from(t: &TargetData) -> &str {
    t.result.imported.as_ref().map_or(results::imported::FROM_INTENDED_START, |i| i.latency_from.as_str())
}

/// Notes where subjects measured latency from different starts (service time against latency from the
/// intended start), which a ratio alone would hide.
pub fn latency_notes(c: &Comparison) -> Vec<String> {
    c.compared()
        .filter(|(base, s)| measured_from(&s.target) != measured_from(&base.target))
        .map(|(base, s)| {
            let (svc, other) =
                if measured_from(&s.target) == results::imported::FROM_SEND { (s, base) } else { (base, s) };
            format!(
                "note: {}'s latency is service time, measured from the actual send (a closed-loop tool does not know \
                 when a request was due); {}'s is measured from the intended start and also counts time spent \
                 waiting to be sent: under queueing the two differ",
                svc.label, other.label
            )
        })
        .collect()
}
