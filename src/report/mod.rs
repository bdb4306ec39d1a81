//! Reporting: the terminal summary (side by side per target) and formatting helpers. Charts and the
//! HTML report live beside it. Reporters only read a [`crate::results::Run`]; they never measure.

pub mod summary;

/// A latency in µs, shown with a unit a person reads at a glance.
pub fn fmt_us(us: f64) -> String {
    if us >= 1_000_000.0 {
        format!("{:.2}s", us / 1e6)
    } else if us >= 1000.0 {
        format!("{:.2}ms", us / 1e3)
    } else {
        format!("{us:.0}µs")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn units() {
        assert_eq!(super::fmt_us(812.0), "812µs");
        assert_eq!(super::fmt_us(12_345.0), "12.35ms");
        assert_eq!(super::fmt_us(2_500_000.0), "2.50s");
    }
}
