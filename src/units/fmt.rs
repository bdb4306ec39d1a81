//! How figures are shown to a person: latencies with a unit read at a glance.

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
