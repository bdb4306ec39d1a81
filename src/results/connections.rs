//! Connection phases as the results hold them: DNS resolution, TCP connect, TLS handshake and the first
//! request's time to first byte, each timed once per connection opened, as whole-run histograms tagged
//! `connection:<phase>` in `<target>.totals.hlog` (so a merge adds them exactly) and summarised in
//! `run.json`. Folders written before them have neither (read as "not measured").

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::Summary;

/// The tags of the phase histograms in `<target>.totals.hlog`, in phase
/// order: DNS, connect, TLS, time to first byte.
pub const PHASE_TAGS: [&str; 4] = ["connection:dns", "connection:connect", "connection:tls", "connection:ttfb"];

/// The phases of the connections one target opened (µs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectionPhases {
    /// Connections opened (successful TCP connects), including those opened before the clock started.
    pub opened: u64,
    /// Host name resolution (no count when the target is an IP address).
    #[serde(default)]
    pub dns_us: Summary,
    /// TCP handshake.
    #[serde(default)]
    pub connect_us: Summary,
    /// TLS handshake (no count for plain HTTP).
    #[serde(default)]
    pub tls_us: Summary,
    /// From the start of a new connection's first request to the first byte of its answer (HTTP/1.1)
    /// or to its answer's head (HTTP/2).
    #[serde(default)]
    pub ttfb_us: Summary,
}

impl ConnectionPhases {
    /// The phases in `totals`, when any was recorded (else `None`: an older run, or nothing connected).
    pub fn of(totals: &BTreeMap<String, Histogram<u64>>) -> Option<ConnectionPhases> {
        if !PHASE_TAGS.iter().any(|t| totals.contains_key(*t)) {
            return None;
        }
        let s = |i: usize| totals.get(PHASE_TAGS[i]).map(Summary::of).unwrap_or_default();
        let connect_us = s(1);
        Some(ConnectionPhases { opened: connect_us.count, dns_us: s(0), connect_us, tls_us: s(2), ttfb_us: s(3) })
    }

    /// (name, summary) of each phase, in order.
    pub fn rows(&self) -> [(&'static str, &Summary); 4] {
        [("dns", &self.dns_us), ("connect", &self.connect_us), ("tls", &self.tls_us), ("ttfb", &self.ttfb_us)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::histogram;

    #[test]
    fn phases_come_from_the_tagged_totals_and_older_totals_have_none() {
        let mut totals = BTreeMap::new();
        totals.insert("latency".to_string(), histogram());
        assert_eq!(ConnectionPhases::of(&totals), None);
        let mut c = histogram();
        for v in [100, 200, 300] {
            c.record(v).unwrap();
        }
        totals.insert(PHASE_TAGS[1].to_string(), c);
        let p = ConnectionPhases::of(&totals).unwrap();
        assert_eq!(p.opened, 3);
        assert_eq!(p.connect_us.max, 300);
        assert_eq!(p.tls_us.count, 0);
    }
}
