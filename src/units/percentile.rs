//! Percentile names, one spelling everywhere (thresholds, `compare --fail-if`, reports): `p` and a
//! number above 0 and at most 100 (`p50`, `p95`, `p99.5`, `p99.99`, `p99.999`); `p100` is the max,
//! also written `max`. The older `p999` and `p9999` are read as `p99.9` and `p99.99`. Every results
//! file keeps [`KEPT`], so each of those can be judged later from run.json alone; any other is read from
//! the whole-run histograms.

use std::collections::BTreeSet;
use std::sync::Mutex;

/// The percentiles results keep: name and quantile.
pub const KEPT: [(&str, f64); 7] =
    [("p50", 0.5), ("p75", 0.75), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99), ("p99.9", 0.999), ("p99.99", 0.9999)];

/// The spelling of the max (the quantile 1).
pub const MAX: &str = "max";

/// How a percentile is written, for an error message.
pub const FORM: &str = "p and a number above 0 and at most 100, e.g. p95, p99.5 or p99.99 (p100 is max)";

/// Decimals a percentile may have (beyond them no histogram tells values apart).
const MAX_DECIMALS: usize = 9;

/// The name as written everywhere, and the quantile (0 < q ≤ 1), of a percentile: `p95` is
/// `("p95", 0.95)`, `p99.50` is `("p99.5", 0.995)`, `p100` and `max` are `("max", 1.0)`. The error names
/// the input and the form.
pub fn parse(name: &str) -> Result<(&'static str, f64), String> {
    let bad = |why: &str| format!("{name:?} is not a percentile{why}: write {FORM}");
    let digits = match name {
        MAX => return Ok((MAX, 1.0)),
        "p999" => "99.9",
        "p9999" => "99.99",
        n => n.strip_prefix('p').ok_or_else(|| bad(""))?,
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !all_digits(int) || !all_digits(frac) || (digits.contains('.') && frac.is_empty()) {
        return Err(bad(""));
    }
    let (int, frac) = (int.trim_start_matches('0'), frac.trim_end_matches('0'));
    if int.len() > 3 || frac.len() > MAX_DECIMALS {
        return Err(bad(&format!(" (more than 100, or more than {MAX_DECIMALS} decimals)")));
    }
    // An exact ratio of integers (below 2^53), so `p99.9` gives the same quantile as the literal 0.999.
    let scaled: u64 = format!("{int}{frac}").parse().unwrap_or(0);
    let whole = 100 * 10u64.pow(frac.len() as u32);
    if scaled == 0 || scaled > whole {
        return Err(bad(" (it must be above 0 and at most 100)"));
    }
    if scaled == whole {
        return Ok((MAX, 1.0));
    }
    let q = scaled as f64 / whole as f64;
    let canonical = match frac {
        "" => format!("p{}", if int.is_empty() { "0" } else { int }),
        f => format!("p{}.{f}", if int.is_empty() { "0" } else { int }),
    };
    Ok(match KEPT.iter().find(|(n, _)| *n == canonical) {
        Some(&(n, _)) => (n, q),
        None => (intern(canonical), q),
    })
}

/// Whether a percentile (by the name [`parse`] gives) is one of [`KEPT`] or the max: in every
/// results file's summary.
pub fn is_kept(name: &str) -> bool {
    name == MAX || KEPT.iter().any(|(n, _)| *n == name)
}

/// The percentiles every results file keeps, for a message: "p50, p75, …, p99.99, max".
pub fn kept_names() -> String {
    KEPT.iter().map(|(n, _)| *n).chain([MAX]).collect::<Vec<_>>().join(", ")
}

/// One `&'static str` per distinct name: a statistic or a comparison row names its percentile as the
/// kept ones are named. Names come from a profile or a command line, so few are ever made.
fn intern(name: String) -> &'static str {
    static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = names.get(name.as_str()) {
        return n;
    }
    let n: &'static str = Box::leak(name.into_boxed_str());
    names.insert(n);
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_spelling_with_the_older_ones_read() {
        assert_eq!(parse("p95"), Ok(("p95", 0.95)));
        assert_eq!(parse("p99.9"), Ok(("p99.9", 0.999)));
        assert_eq!(parse("p999"), Ok(("p99.9", 0.999)));
        assert_eq!(parse("p9999"), Ok(("p99.99", 0.9999)));
        assert_eq!(parse("p99.99"), Ok(("p99.99", 0.9999)));
        assert_eq!(parse("max"), Ok(("max", 1.0)));
        assert!(kept_names().starts_with("p50, p75") && kept_names().ends_with("p99.99, max"));
    }

    #[test]
    fn any_percentile_above_0_and_up_to_100() {
        assert_eq!(parse("p99.5"), Ok(("p99.5", 0.995)));
        assert_eq!(parse("p97"), Ok(("p97", 0.97)));
        assert_eq!(parse("p99.999"), Ok(("p99.999", 0.99999)));
        assert_eq!(parse("p9"), Ok(("p9", 0.09)));
        assert_eq!(parse("p0.1"), Ok(("p0.1", 0.001)));
        assert_eq!(parse("p100"), Ok(("max", 1.0)));
        assert_eq!(parse("p100.000"), Ok(("max", 1.0)));
        // Zeros that change nothing are dropped: one name for one percentile.
        assert_eq!(parse("p99.50"), Ok(("p99.5", 0.995)));
        assert_eq!(parse("p095"), Ok(("p95", 0.95)));
        assert_eq!(parse("p95.0"), Ok(("p95", 0.95)));
        assert!(std::ptr::eq(parse("p99.5").unwrap().0, parse("p99.50").unwrap().0), "interned once");
        assert!(!is_kept("p99.5") && is_kept("p99.9") && is_kept("max"));
        for bad in ["p", "p0", "p0.0", "p100.1", "p101", "p1000", "99", "P99", "p99.", "p.5", "p9 9", "p-5", "p1e2"] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")) && e.contains("p99.5"), "{bad}: {e}");
        }
        assert!(parse("p99.9999999999").unwrap_err().contains("decimals"));
    }
}
