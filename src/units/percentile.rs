//! Percentile names, one spelling everywhere (thresholds, `compare --fail-if`, reports): `p50`, `p75`,
//! `p90`, `p95`, `p99`, `p99.9`, `p99.99`. The older `p999` and `p9999` are read as `p99.9` and
//! `p99.99`. Every results file keeps these, so each can be judged later from run.json alone.

/// The percentiles results keep: name and quantile.
pub const KEPT: [(&str, f64); 7] =
    [("p50", 0.5), ("p75", 0.75), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99), ("p99.9", 0.999), ("p99.99", 0.9999)];

/// The name as written everywhere, and the quantile, of a percentile name; `None` for anything else.
pub fn parse(name: &str) -> Option<(&'static str, f64)> {
    let name = match name {
        "p999" => "p99.9",
        "p9999" => "p99.99",
        n => n,
    };
    KEPT.iter().copied().find(|(n, _)| *n == name)
}

/// The names accepted, for an error message.
pub fn names() -> String {
    KEPT.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_spelling_with_the_older_ones_read() {
        assert_eq!(parse("p95"), Some(("p95", 0.95)));
        assert_eq!(parse("p99.9"), Some(("p99.9", 0.999)));
        assert_eq!(parse("p999"), Some(("p99.9", 0.999)));
        assert_eq!(parse("p9999"), Some(("p99.99", 0.9999)));
        assert_eq!(parse("p99.99"), Some(("p99.99", 0.9999)));
        for bad in ["p", "p100", "p9", "99", "p99.999", "P99", "max"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert!(names().starts_with("p50, p75"));
    }
}
