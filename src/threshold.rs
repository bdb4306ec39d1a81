//! Thresholds: `"[target:]metric" = "<op> <value>"` pairs from a profile, parsed at validation time and
//! evaluated against a finished run's per-target results. A crossed threshold fails the run (exit 99).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::results::TargetResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "==")]
    Eq,
}

impl Op {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Eq => (a - b).abs() < 1e-9,
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
        }
    }
}

/// What a threshold measures.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// A latency statistic (µs) of a histogram: `latency`, `service_time` or `lateness`.
    Latency { hist: String, stat: String },
    /// Errors / requests sent (0..1).
    ErrorRate,
    /// Dropped / requests due (0..1).
    DropRate,
    /// Achieved / requested rate (open loop).
    RateRatio,
    /// Requests per second achieved.
    Rate,
    /// The count of one outcome key (`count.api_131056`, `count.timeout`).
    Count(String),
}

/// A parsed threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub expr: String,
    pub target: Option<String>,
    pub metric: Metric,
    pub op: Op,
    /// In the metric's unit: µs for latencies, a fraction for rates.
    pub limit: f64,
}

/// How a threshold fared on one target.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Verdict {
    pub threshold: String,
    pub target: String,
    pub actual: Option<f64>,
    pub limit: f64,
    pub op: Op,
    pub passed: bool,
    /// Human-readable actual value ("812 ms", "0.4 %").
    pub shown: String,
}

const STATS: [&str; 8] = ["p50", "p90", "p99", "p999", "max", "min", "mean", "p99.9"];

impl Threshold {
    /// Parse `key = value`; the error says what is wrong and what is accepted.
    pub fn parse(key: &str, value: &str) -> Result<Threshold, String> {
        let (target, metric_s) = match key.split_once(':') {
            Some((t, m)) => (Some(t.trim().to_string()), m.trim()),
            None => (None, key.trim()),
        };
        let metric = match metric_s {
            "error_rate" => Metric::ErrorRate,
            "drop_rate" | "dropped_rate" => Metric::DropRate,
            "rate_ratio" => Metric::RateRatio,
            "rate" => Metric::Rate,
            m if m.starts_with("count.") => Metric::Count(m["count.".len()..].to_string()),
            m => {
                let (h, stat) = m.split_once('.').ok_or_else(|| unknown(m))?;
                let hist = match h {
                    "latency" | "send" => "latency",
                    "service_time" => "service_time",
                    "lateness" => "lateness",
                    _ => return Err(unknown(m)),
                };
                if !STATS.contains(&stat) {
                    return Err(format!("unknown statistic {stat:?}: use one of p50, p90, p99, p999, max, min, mean"));
                }
                Metric::Latency { hist: hist.into(), stat: if stat == "p99.9" { "p999".into() } else { stat.into() } }
            }
        };
        let v = value.trim();
        let (op, rest) = [("<=", Op::Le), (">=", Op::Ge), ("==", Op::Eq), ("<", Op::Lt), (">", Op::Gt)]
            .iter()
            .find_map(|(s, op)| v.strip_prefix(s).map(|r| (*op, r.trim())))
            .ok_or_else(|| format!("{value:?}: start with a comparison: <, <=, >, >= or ==, e.g. \"< 800ms\""))?;
        let limit = match &metric {
            Metric::Latency { .. } => {
                let d: Duration = humantime::parse_duration(rest)
                    .map_err(|e| format!("{rest:?} is not a duration ({e}); write e.g. \"800ms\" or \"1.5s\""))?;
                d.as_secs_f64() * 1e6
            }
            _ => match rest.strip_suffix('%') {
                Some(p) => p.trim().parse::<f64>().map_err(|_| format!("{rest:?} is not a percentage"))? / 100.0,
                None => rest.parse::<f64>().map_err(|_| format!("{rest:?} is not a number"))?,
            },
        };
        if !limit.is_finite() || limit < 0.0 {
            return Err(format!("{rest:?}: the limit must be a finite number of 0 or more"));
        }
        Ok(Threshold { expr: format!("{key} {v}"), target, metric, op, limit })
    }

    /// Evaluate on every target it applies to.
    pub fn evaluate(&self, targets: &[TargetResult]) -> Vec<Verdict> {
        targets
            .iter()
            .filter(|t| self.target.as_ref().is_none_or(|n| n == &t.name))
            .map(|t| {
                let actual = self.actual(t);
                let passed = actual.is_some_and(|a| self.op.holds(a, self.limit));
                Verdict {
                    threshold: self.expr.clone(),
                    target: t.name.clone(),
                    actual,
                    limit: self.limit,
                    op: self.op,
                    passed,
                    shown: self.show(actual),
                }
            })
            .collect()
    }

    /// Judge on live figures of a target that is still running: only thresholds on the latency from
    /// the intended start, the error rate and the drop rate, and only once `min` requests were sent.
    /// `Some(description)` when the threshold is already crossed.
    pub fn crossed_live(
        &self,
        target: &str,
        sent: u64,
        errors: u64,
        dropped: u64,
        latency: Option<&hdrhistogram::Histogram<u64>>,
        min: u64,
    ) -> Option<String> {
        if self.target.as_ref().is_some_and(|t| t != target) || sent < min {
            return None;
        }
        let actual = match &self.metric {
            Metric::Latency { hist, stat } if hist == "latency" => {
                let h = latency.filter(|h| h.len() >= min)?;
                match stat.as_str() {
                    "p50" => h.value_at_quantile(0.5) as f64,
                    "p90" => h.value_at_quantile(0.9) as f64,
                    "p99" => h.value_at_quantile(0.99) as f64,
                    "p999" => h.value_at_quantile(0.999) as f64,
                    "max" => h.max() as f64,
                    "min" => h.min() as f64,
                    _ => h.mean(),
                }
            }
            Metric::ErrorRate => errors as f64 / sent as f64,
            Metric::DropRate => dropped as f64 / (sent + dropped) as f64,
            _ => return None,
        };
        (!self.op.holds(actual, self.limit))
            .then(|| format!("{} on {target}: {} so far", self.expr, self.show(Some(actual))))
    }

    fn actual(&self, t: &TargetResult) -> Option<f64> {
        let r = &t.requests;
        match &self.metric {
            Metric::Latency { hist, stat } => {
                let s = match hist.as_str() {
                    "service_time" => &t.service_time_us,
                    "lateness" => &t.lateness_us,
                    _ => &t.latency_us,
                };
                if s.count == 0 {
                    return None;
                }
                Some(match stat.as_str() {
                    "p50" => s.p50 as f64,
                    "p90" => s.p90 as f64,
                    "p99" => s.p99 as f64,
                    "p999" => s.p999 as f64,
                    "max" => s.max as f64,
                    "min" => s.min as f64,
                    _ => s.mean,
                })
            }
            Metric::ErrorRate => (r.sent > 0).then(|| r.errors as f64 / r.sent as f64),
            Metric::DropRate => {
                let due = r.sent + r.dropped;
                (due > 0).then(|| r.dropped as f64 / due as f64)
            }
            Metric::RateRatio => t.rate.ratio,
            Metric::Rate => Some(t.rate.achieved),
            Metric::Count(k) => Some(t.outcomes.iter().find(|o| &o.key == k).map_or(0, |o| o.count) as f64),
        }
    }

    fn show(&self, v: Option<f64>) -> String {
        let Some(v) = v else { return "no data".into() };
        match self.metric {
            Metric::Latency { .. } => crate::report::fmt_us(v),
            Metric::ErrorRate | Metric::DropRate => format!("{:.3}%", v * 100.0),
            Metric::RateRatio => format!("{v:.4}"),
            Metric::Rate => format!("{v:.1}/s"),
            Metric::Count(_) => format!("{v}"),
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} {})", self.expr, self.op.as_str(), self.limit)
    }
}

fn unknown(m: &str) -> String {
    format!(
        "unknown metric {m:?}: use latency.p99 (or service_time.*, lateness.*), error_rate, drop_rate, rate_ratio, rate or count.<outcome>, optionally prefixed by \"<target>:\""
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_latency_rates_and_counts() {
        let t = Threshold::parse("cloud:latency.p99", "< 800ms").unwrap();
        assert_eq!(t.target.as_deref(), Some("cloud"));
        assert_eq!(t.op, Op::Lt);
        assert_eq!(t.limit, 800_000.0);
        assert_eq!(Threshold::parse("error_rate", "<= 1%").unwrap().limit, 0.01);
        assert_eq!(
            Threshold::parse("send.p99.9", "<1s").unwrap().metric,
            Metric::Latency { hist: "latency".into(), stat: "p999".into() }
        );
        assert_eq!(Threshold::parse("count.api_131056", "== 0").unwrap().metric, Metric::Count("api_131056".into()));
    }

    #[test]
    fn live_judgement_waits_for_enough_requests() {
        let t = Threshold::parse("error_rate", "< 1%").unwrap();
        assert_eq!(t.crossed_live("a", 50, 10, 0, None, 100), None, "too few requests yet");
        assert!(t.crossed_live("a", 200, 10, 0, None, 100).unwrap().contains("error_rate"));
        assert_eq!(t.crossed_live("a", 200, 1, 0, None, 100), None);
        let mut h = crate::metrics::histogram();
        for v in 1..=200u64 {
            h.record(v * 10_000).unwrap();
        }
        let p = Threshold::parse("b:latency.p99", "< 1s").unwrap();
        assert_eq!(p.crossed_live("a", 200, 0, 0, Some(&h), 100), None, "another target's threshold");
        assert!(p.crossed_live("b", 200, 0, 0, Some(&h), 100).is_some(), "p99 ≈ 1.98 s");
        assert_eq!(Threshold::parse("rate_ratio", "> 0.9").unwrap().crossed_live("b", 500, 0, 0, Some(&h), 100), None);
    }

    #[test]
    fn rejects_bad_expressions_with_reasons() {
        assert!(Threshold::parse("latency.p77", "< 1s").unwrap_err().contains("unknown statistic"));
        assert!(Threshold::parse("speed", "< 1s").unwrap_err().contains("unknown metric"));
        assert!(Threshold::parse("latency.p99", "800ms").unwrap_err().contains("comparison"));
        assert!(Threshold::parse("latency.p99", "< fast").unwrap_err().contains("not a duration"));
        assert!(Threshold::parse("error_rate", "< -1").unwrap_err().contains("0 or more"));
    }
}
