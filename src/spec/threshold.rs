//! Thresholds: `"[target:]metric" = "<op> <value>"` pairs from a profile, parsed into typed metrics at
//! validation time (an unknown metric or statistic is an error there). `app::thresholds` evaluates them.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// Whether `a <op> b`.
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Eq => (a - b).abs() < 1e-9,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
        }
    }
}

/// Which latency histogram a threshold reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hist {
    /// From the intended start to the end of the response (`latency.*`, also written `send.*`).
    Latency,
    /// From the actual start to the end of the response (`service_time.*`).
    ServiceTime,
    /// How late requests started (`lateness.*`).
    Lateness,
}

/// A statistic of a latency histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    P50,
    P90,
    P99,
    P999,
    Max,
    Min,
    Mean,
}

impl Stat {
    fn parse(s: &str) -> Option<Stat> {
        Some(match s {
            "p50" => Stat::P50,
            "p90" => Stat::P90,
            "p99" => Stat::P99,
            "p999" | "p99.9" => Stat::P999,
            "max" => Stat::Max,
            "min" => Stat::Min,
            "mean" => Stat::Mean,
            _ => return None,
        })
    }

    /// The quantile a percentile statistic stands for (`None` for max, min and mean).
    pub fn quantile(self) -> Option<f64> {
        match self {
            Stat::P50 => Some(0.5),
            Stat::P90 => Some(0.9),
            Stat::P99 => Some(0.99),
            Stat::P999 => Some(0.999),
            Stat::Max | Stat::Min | Stat::Mean => None,
        }
    }

    /// The statistic of an HDR histogram (µs).
    pub fn of(self, h: &hdrhistogram::Histogram<u64>) -> f64 {
        match self {
            Stat::Max => h.max() as f64,
            Stat::Min => h.min() as f64,
            Stat::Mean => h.mean(),
            q => h.value_at_quantile(q.quantile().unwrap_or(0.5)) as f64,
        }
    }
}

/// What a threshold measures.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// A latency statistic (µs).
    Latency { hist: Hist, stat: Stat },
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
    /// A webhook target: the share of POST attempts answered 200 within 250 ms (0..1).
    WebhookWithin250ms,
    /// A webhook target: the share of POST attempts over 1 s or not answered 200 (0..1).
    WebhookOver1s,
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
            "webhook.within_250ms" => Metric::WebhookWithin250ms,
            "webhook.over_1s" => Metric::WebhookOver1s,
            m if m.starts_with("count.") => Metric::Count(m["count.".len()..].to_string()),
            m => {
                let (h, stat) = m.split_once('.').ok_or_else(|| unknown(m))?;
                let hist = match h {
                    "latency" | "send" => Hist::Latency,
                    "service_time" => Hist::ServiceTime,
                    "lateness" => Hist::Lateness,
                    _ => return Err(unknown(m)),
                };
                let stat = Stat::parse(stat).ok_or_else(|| {
                    format!("unknown statistic {stat:?}: use one of p50, p90, p99, p999, max, min, mean")
                })?;
                Metric::Latency { hist, stat }
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

    /// The value as a person reads it in the metric's unit ("812.00ms", "0.400%").
    pub fn show(&self, v: Option<f64>) -> String {
        let Some(v) = v else { return "no data".into() };
        match self.metric {
            Metric::Latency { .. } => crate::units::fmt_us(v),
            Metric::ErrorRate | Metric::DropRate | Metric::WebhookWithin250ms | Metric::WebhookOver1s => {
                format!("{:.3}%", v * 100.0)
            }
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
        "unknown metric {m:?}: use latency.p99 (or service_time.*, lateness.*), error_rate, drop_rate, rate_ratio, rate, count.<outcome>, webhook.within_250ms or webhook.over_1s, optionally prefixed by \"<target>:\""
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
            Metric::Latency { hist: Hist::Latency, stat: Stat::P999 }
        );
        assert_eq!(Threshold::parse("count.api_131056", "== 0").unwrap().metric, Metric::Count("api_131056".into()));
        let meta = Threshold::parse("hook:webhook.over_1s", "< 1%").unwrap();
        assert_eq!((meta.metric, meta.limit), (Metric::WebhookOver1s, 0.01));
        assert_eq!(Threshold::parse("webhook.within_250ms", ">= 50%").unwrap().metric, Metric::WebhookWithin250ms);
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
