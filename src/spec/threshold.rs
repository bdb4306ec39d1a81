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
    /// A percentile, by its one spelling (`p50`, `p95`, `p99.5`, `p99.99`, …: `units::percentile`);
    /// `p100` is [`Stat::Max`].
    Percentile(&'static str),
    Max,
    Min,
    Mean,
}

impl Stat {
    fn parse(s: &str) -> Result<Stat, String> {
        Ok(match s {
            "min" => Stat::Min,
            "mean" => Stat::Mean,
            p if p.starts_with('p') || p == "max" => match crate::units::percentile::parse(p) {
                Ok((_, q)) if q >= 1.0 => Stat::Max,
                Ok((name, _)) => Stat::Percentile(name),
                Err(e) => return Err(format!("unknown statistic: {e}")),
            },
            _ => return Err(unknown_stat(s)),
        })
    }

    /// The quantile a percentile statistic stands for (`None` for max, min and mean).
    pub fn quantile(self) -> Option<f64> {
        match self {
            Stat::Percentile(name) => crate::units::percentile::parse(name).ok().map(|p| p.1),
            Stat::Max | Stat::Min | Stat::Mean => None,
        }
    }

    /// A percentile that results files do not keep in run.json (`p99.5`, `p97`): judged from the
    /// whole-run histograms.
    pub fn needs_histogram(self) -> bool {
        matches!(self, Stat::Percentile(name) if !crate::units::percentile::is_kept(name))
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
    /// Messages that failed at send or in a `failed` status webhook / messages sent (0..1).
    ErrorRate,
    /// Messages that failed at send / messages sent (0..1).
    SendErrorRate,
    /// Dropped / requests due (0..1).
    DropRate,
    /// Achieved / requested rate (open loop).
    RateRatio,
    /// Requests per second achieved.
    Rate,
    /// The count of one outcome key (`count.api_131056`, `count.timeout`).
    Count(String),
    /// What the status webhooks said of the messages (`delivery.*`).
    Delivery(Delivery),
    /// A webhook target: the share of POST attempts answered 200 within 250 ms (0..1).
    WebhookWithin250ms,
    /// A webhook target: the share of POST attempts over 1 s or not answered 200 (0..1).
    WebhookOver1s,
    /// A conversation target: what became of the user turns (`conversation.*`).
    Conversation(Conversation),
}

/// A conversation metric (`conversation.*`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Conversation {
    /// Turns without an accepted reply within `reply_timeout` / turns (`conversation.unanswered`).
    Unanswered,
    /// Replies the API refused or that fail later (`conversation.failed_replies`).
    FailedReplies,
    /// Replies per turn (`conversation.replies_per_turn`).
    RepliesPerTurn,
    /// Time to the first reply, µs (`conversation.first_reply.p99`).
    FirstReply(Stat),
}

impl Conversation {
    fn parse(m: &str) -> Result<Conversation, String> {
        Ok(match m.strip_prefix("conversation.").unwrap_or(m) {
            "unanswered" => Conversation::Unanswered,
            "failed_replies" => Conversation::FailedReplies,
            "replies_per_turn" => Conversation::RepliesPerTurn,
            other => match other.strip_prefix("first_reply.") {
                Some(stat) => Conversation::FirstReply(Stat::parse(stat)?),
                None => {
                    return Err(format!(
                        "unknown conversation metric {m:?}: use conversation.unanswered, conversation.failed_replies, \
                         conversation.replies_per_turn or conversation.first_reply.<statistic> (e.g. \
                         conversation.first_reply.p99)"
                    ));
                }
            },
        })
    }
}

/// Which delivery latency a threshold reads: from the API's accept (or the send's start) to a status
/// webhook's arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryHist {
    AcceptToSent,
    AcceptToDelivered,
    AcceptToRead,
    SendStartToDelivered,
}

impl DeliveryHist {
    pub const ALL: [DeliveryHist; 4] = [
        DeliveryHist::AcceptToSent,
        DeliveryHist::AcceptToDelivered,
        DeliveryHist::AcceptToRead,
        DeliveryHist::SendStartToDelivered,
    ];

    /// The name in a threshold (`delivery.<name>.p99`), as the histogram's tag in `.delivery.hlog`.
    pub fn name(self) -> &'static str {
        match self {
            DeliveryHist::AcceptToSent => "accept_to_sent",
            DeliveryHist::AcceptToDelivered => "accept_to_delivered",
            DeliveryHist::AcceptToRead => "accept_to_read",
            DeliveryHist::SendStartToDelivered => "send_start_to_delivered",
        }
    }
}

/// A delivery metric (`delivery.*`); rates are shares of the messages sent (0..1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Messages that failed in a webhook, with this first error code when given
    /// (`delivery.failed_rate`, `delivery.failed_rate.131047`).
    FailedRate(Option<i64>),
    /// Messages delivered (or read) (`delivery.delivered_rate`).
    DeliveredRate,
    /// Accepted messages that never got a final status (`delivery.lost_rate`).
    LostRate,
    /// A delivery latency statistic, µs (`delivery.accept_to_delivered.p99`).
    Latency { hist: DeliveryHist, stat: Stat },
}

impl Delivery {
    fn parse(m: &str) -> Result<Delivery, String> {
        let rest = m.strip_prefix("delivery.").ok_or_else(|| unknown(m))?;
        if let Some(code) = rest.strip_prefix("failed_rate.") {
            let c = code
                .parse::<i64>()
                .map_err(|_| format!("{m:?}: {code:?} is not an error code; write e.g. delivery.failed_rate.131047"))?;
            return Ok(Delivery::FailedRate(Some(c)));
        }
        Ok(match rest {
            "failed_rate" => Delivery::FailedRate(None),
            "delivered_rate" => Delivery::DeliveredRate,
            "lost_rate" => Delivery::LostRate,
            _ => {
                let (h, stat) = rest.split_once('.').ok_or_else(|| unknown_delivery(m))?;
                let hist = DeliveryHist::ALL.into_iter().find(|d| d.name() == h).ok_or_else(|| unknown_delivery(m))?;
                Delivery::Latency { hist, stat: Stat::parse(stat)? }
            }
        })
    }
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
    /// Not written in the profile: the [`DEFAULT_GATE`] of a WhatsApp target.
    pub default: bool,
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
            "send_error_rate" => Metric::SendErrorRate,
            "drop_rate" | "dropped_rate" => Metric::DropRate,
            "rate_ratio" => Metric::RateRatio,
            "rate" => Metric::Rate,
            "webhook.within_250ms" => Metric::WebhookWithin250ms,
            "webhook.over_1s" => Metric::WebhookOver1s,
            m if m.starts_with("count.") => Metric::Count(m["count.".len()..].to_string()),
            m if m.starts_with("delivery.") => Metric::Delivery(Delivery::parse(m)?),
            m if m.starts_with("conversation.") => Metric::Conversation(Conversation::parse(m)?),
            m => {
                let (h, stat) = m.split_once('.').ok_or_else(|| unknown(m))?;
                let hist = match h {
                    "latency" | "send" => Hist::Latency,
                    "service_time" => Hist::ServiceTime,
                    "lateness" => Hist::Lateness,
                    _ => return Err(unknown(m)),
                };
                let stat = Stat::parse(stat)?;
                Metric::Latency { hist, stat }
            }
        };
        let v = value.trim();
        let (op, rest) = [("<=", Op::Le), (">=", Op::Ge), ("==", Op::Eq), ("<", Op::Lt), (">", Op::Gt)]
            .iter()
            .find_map(|(s, op)| v.strip_prefix(s).map(|r| (*op, r.trim())))
            .ok_or_else(|| format!("{value:?}: start with a comparison: <, <=, >, >= or ==, e.g. \"< 800ms\""))?;
        let limit = match &metric {
            Metric::Latency { .. }
            | Metric::Delivery(Delivery::Latency { .. })
            | Metric::Conversation(Conversation::FirstReply(_)) => {
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
        Ok(Threshold { expr: format!("{key} {v}"), target, metric, op, limit, default: false })
    }

    /// The value as a person reads it in the metric's unit ("812.00ms", "0.400%").
    pub fn show(&self, v: Option<f64>) -> String {
        let Some(v) = v else { return "no data".into() };
        match self.metric {
            Metric::Latency { .. }
            | Metric::Delivery(Delivery::Latency { .. })
            | Metric::Conversation(Conversation::FirstReply(_)) => crate::units::fmt_us(v),
            Metric::Conversation(Conversation::FailedReplies) => format!("{v}"),
            Metric::Conversation(Conversation::RepliesPerTurn) => format!("{v:.2}"),
            Metric::Conversation(Conversation::Unanswered) => format!("{:.3}%", v * 100.0),
            Metric::ErrorRate
            | Metric::SendErrorRate
            | Metric::Delivery(_)
            | Metric::DropRate
            | Metric::WebhookWithin250ms
            | Metric::WebhookOver1s => format!("{:.3}%", v * 100.0),
            Metric::RateRatio => format!("{v:.4}"),
            Metric::Rate => format!("{v:.1}/s"),
            Metric::Count(_) => format!("{v}"),
        }
    }
}

/// The gate of a WhatsApp target whose profile bounds neither its `error_rate` nor its delivery
/// failures: without it a campaign whose messages fail after the send would pass.
pub const DEFAULT_GATE: (&str, &str) = ("error_rate", "< 2%");

/// The thresholds a run is judged by: those written (in the profile's order; invalid ones, which
/// validation refuses before a run, are left out), then [`DEFAULT_GATE`] for each of
/// `whatsapp_targets` that no written `error_rate`, `delivery.failed_rate` or
/// `delivery.delivered_rate` threshold applies to. A written threshold such as
/// `"error_rate" = "<= 100%"` turns the default off.
pub fn judged<'a>(
    written: &std::collections::BTreeMap<String, String>,
    whatsapp_targets: impl IntoIterator<Item = &'a str>,
) -> Vec<Threshold> {
    let mut out: Vec<Threshold> = written.iter().filter_map(|(k, v)| Threshold::parse(k, v).ok()).collect();
    let bounds_failures = |t: &Threshold, name: &str| {
        t.target.as_deref().is_none_or(|n| n == name)
            && matches!(
                t.metric,
                Metric::ErrorRate
                    | Metric::Delivery(Delivery::FailedRate(None))
                    | Metric::Delivery(Delivery::DeliveredRate)
            )
    };
    let missing: Vec<&str> =
        whatsapp_targets.into_iter().filter(|name| !out.iter().any(|t| bounds_failures(t, name))).collect();
    for name in missing {
        let (k, v) = DEFAULT_GATE;
        if let Ok(mut t) = Threshold::parse(&format!("{name}:{k}"), v) {
            t.expr = format!("{k} {v} (default)");
            t.default = true;
            out.push(t);
        }
    }
    out
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} {})", self.expr, self.op.as_str(), self.limit)
    }
}

fn unknown(m: &str) -> String {
    format!(
        "unknown metric {m:?}: use latency.p99 (or service_time.*, lateness.*), error_rate, send_error_rate, drop_rate, rate_ratio, rate, count.<outcome>, delivery.* (failed_rate, failed_rate.<code>, delivered_rate, lost_rate, accept_to_delivered.p99, …), webhook.within_250ms, webhook.over_1s, conversation.* (unanswered, failed_replies, replies_per_turn, first_reply.p99), optionally prefixed by \"<target>:\""
    )
}

fn unknown_delivery(m: &str) -> String {
    format!(
        "unknown delivery metric {m:?}: use delivery.failed_rate, delivery.failed_rate.<code>, delivery.delivered_rate, delivery.lost_rate or delivery.<latency>.<statistic> with latency accept_to_sent, accept_to_delivered, accept_to_read or send_start_to_delivered (e.g. delivery.accept_to_delivered.p99)"
    )
}

fn unknown_stat(stat: &str) -> String {
    format!("unknown statistic {stat:?}: use a percentile ({}), max, min or mean", crate::units::percentile::FORM)
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
            Metric::Latency { hist: Hist::Latency, stat: Stat::Percentile("p99.9") }
        );
        // Any percentile, spelled one way; p100 is the max.
        let stat = |k: &str| match Threshold::parse(k, "< 1s").unwrap().metric {
            Metric::Latency { stat, .. } | Metric::Delivery(Delivery::Latency { stat, .. }) => stat,
            m => panic!("{k}: {m:?}"),
        };
        assert_eq!(stat("latency.p99.5"), Stat::Percentile("p99.5"));
        assert_eq!(stat("service_time.p99.50"), Stat::Percentile("p99.5"));
        assert_eq!(stat("delivery.accept_to_read.p97"), Stat::Percentile("p97"));
        assert_eq!(stat("latency.p999"), Stat::Percentile("p99.9"));
        assert_eq!((stat("latency.p100"), stat("latency.max")), (Stat::Max, Stat::Max));
        assert_eq!(stat("latency.p99.999").quantile(), Some(0.99999));
        assert!(stat("latency.p99.5").needs_histogram() && !stat("latency.p99.9").needs_histogram());
        assert!(!stat("latency.mean").needs_histogram());
        assert_eq!(Threshold::parse("count.api_131056", "== 0").unwrap().metric, Metric::Count("api_131056".into()));
        let meta = Threshold::parse("hook:webhook.over_1s", "< 1%").unwrap();
        assert_eq!((meta.metric, meta.limit), (Metric::WebhookOver1s, 0.01));
        assert_eq!(Threshold::parse("webhook.within_250ms", ">= 50%").unwrap().metric, Metric::WebhookWithin250ms);
    }

    #[test]
    fn parses_send_and_delivery_metrics() {
        assert_eq!(Threshold::parse("send_error_rate", "< 1%").unwrap().metric, Metric::SendErrorRate);
        let d = |k: &str| match Threshold::parse(k, "< 2%").unwrap().metric {
            Metric::Delivery(d) => d,
            m => panic!("{k}: {m:?}"),
        };
        assert_eq!(d("delivery.failed_rate"), Delivery::FailedRate(None));
        assert_eq!(d("cloud:delivery.failed_rate.131047"), Delivery::FailedRate(Some(131047)));
        assert_eq!(d("delivery.delivered_rate"), Delivery::DeliveredRate);
        assert_eq!(d("delivery.lost_rate"), Delivery::LostRate);
        let t = Threshold::parse("delivery.accept_to_delivered.p99", "< 5s").unwrap();
        assert_eq!(
            (t.metric.clone(), t.limit),
            (
                Metric::Delivery(Delivery::Latency {
                    hist: DeliveryHist::AcceptToDelivered,
                    stat: Stat::Percentile("p99")
                }),
                5e6
            )
        );
        assert_eq!(t.show(Some(1_500_000.0)), "1.50s");
        assert_eq!(Threshold::parse("delivery.failed_rate", "< 2%").unwrap().show(Some(0.488)), "48.800%");
        for (bad, why) in [
            ("delivery.failed_rate.abc", "not an error code"),
            ("delivery.speed", "unknown delivery metric"),
            ("delivery.accept_to_read.p101", "unknown statistic"),
            ("delivery.accept_to_read.median", "unknown statistic"),
        ] {
            let e = Threshold::parse(bad, "< 1").unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn whatsapp_targets_without_an_error_gate_get_the_default() {
        let written = |pairs: &[(&str, &str)]| -> std::collections::BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let none = judged(&written(&[]), ["cloud", "onprem"]);
        assert_eq!(none.len(), 2);
        assert_eq!((none[0].target.as_deref(), none[0].expr.as_str()), (Some("cloud"), "error_rate < 2% (default)"));
        assert_eq!((none[0].metric.clone(), none[0].limit, none[0].default), (Metric::ErrorRate, 0.02, true));
        let latency_only = judged(&written(&[("latency.p99", "< 1s")]), ["cloud"]);
        assert_eq!(latency_only.len(), 2, "a latency gate does not judge failures");
        assert_eq!(judged(&written(&[("error_rate", "< 5%")]), ["cloud", "onprem"]).len(), 1);
        let one = judged(&written(&[("cloud:delivery.failed_rate", "< 1%")]), ["cloud", "onprem"]);
        assert_eq!(one.iter().map(|t| t.target.as_deref()).collect::<Vec<_>>(), [Some("cloud"), Some("onprem")]);
        assert_eq!(judged(&written(&[("send_error_rate", "< 1%")]), ["cloud"]).len(), 2, "send errors only");
        assert_eq!(judged(&written(&[]), []).len(), 0, "no WhatsApp target, no default");
        assert_eq!(judged(&written(&[("error_rate", "<= 100%")]), ["cloud"]).len(), 1, "turned off");
    }

    #[test]
    fn rejects_bad_expressions_with_reasons() {
        for bad in ["latency.p0", "latency.p100.5", "latency.p9x", "latency.median", "send.P99"] {
            let e = Threshold::parse(bad, "< 1s").unwrap_err();
            let stat = bad.split_once('.').unwrap().1;
            assert!(e.contains("unknown statistic") && e.contains(&format!("{stat:?}")), "{bad}: {e}");
            assert!(e.contains("p99.5"), "the form: {e}");
        }
        assert!(Threshold::parse("speed", "< 1s").unwrap_err().contains("unknown metric"));
        assert!(Threshold::parse("latency.p99", "800ms").unwrap_err().contains("comparison"));
        assert!(Threshold::parse("latency.p99", "< fast").unwrap_err().contains("not a duration"));
        assert!(Threshold::parse("error_rate", "< -1").unwrap_err().contains("0 or more"));
    }
}
