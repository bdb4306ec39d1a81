//! Which limit binds at a target's breakpoint, read from the failing step of the search against the
//! last good one (a pure function of the steps), and the sizing advice that fits that limit: more
//! WebApps for the on-premises request limiter, more shards for the CoreApps, a higher tier or more
//! numbers for Cloud throughput, more recipients for the pair limit, a bigger client when the load
//! generator fell behind.

use serde::{Deserialize, Serialize};

use super::step::Step;
use crate::spec::TargetKind;
use crate::spec::capacity::PlanSpec;
use crate::units::fmt_us;

/// A limit that can stop a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// The request limiter in front of the API: on-prem 1015 / HTTP 429 (per WebApp).
    RequestLimiter,
    /// The on-prem CoreApp shards: 1016 / HTTP 503, or latency growing with load (queueing).
    CoreApp,
    /// The Cloud API's per-number throughput: 130429 (and 131057 while the number is upgraded).
    CloudThroughput,
    /// The Graph API's application / WABA rate limits: 4, 80007.
    AppRateLimit,
    /// The per-recipient pair rate limit: 131056.
    PairLimit,
    /// 131048: Meta's spam rate limit (the quality of the number's messages); also the code the
    /// embedded simulator answers when its messaging limit is spent (its own choice: Meta documents
    /// no code for that, `[simulator.messaging_limit] over_limit_code`).
    MessagingTier,
    /// The API was unavailable (code 2, updates or a downtime window).
    Unavailable,
    /// The target answered more slowly as load grew, without an error code saying why.
    ServerLatency,
    /// Timeouts, broken connections, generic server errors.
    Transport,
    /// The load generator fell behind (lateness, drops) while the target answered in time.
    LoadGenerator,
    /// A conversation target's bot: its replies came late or not at all while its endpoint took
    /// the users' messages in time.
    Bot,
    /// No signal tells which limit it was.
    Unknown,
}

impl Limit {
    /// The name printed in the plan.
    pub fn name(self) -> &'static str {
        match self {
            Limit::RequestLimiter => "the request limiter",
            Limit::CoreApp => "the CoreApp shards",
            Limit::CloudThroughput => "the Cloud API throughput per phone number",
            Limit::AppRateLimit => "the Graph API application / WABA rate limit",
            Limit::PairLimit => "the pair rate limit (per recipient)",
            Limit::MessagingTier => "the spam rate limit (the number's quality) or a spent messaging limit",
            Limit::Unavailable => "the API's availability",
            Limit::ServerLatency => "the target's latency",
            Limit::Transport => "the target's answers (timeouts, connection errors, 5xx)",
            Limit::LoadGenerator => "the load generator",
            Limit::Bot => "the bot (its replies)",
            Limit::Unknown => "no identifiable limit",
        }
    }
}

/// The limit that binds and what in the steps shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub limit: Limit,
    pub evidence: String,
}

/// The limit an outcome key (`api_1015`, `http_503`, `timeout`, …) of a capacity error points to.
/// Meta documents no error code for the messaging limit (tier) itself; 131048 ("Spam rate limit hit":
/// restrictions on how many messages this number can send, Meta's "WhatsApp error codes",
/// https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes/)
/// is the code that caps a number's sends and is named as the messaging limit.
pub fn limit_of(kind: TargetKind, key: &str) -> Option<Limit> {
    Some(match key {
        "api_1015" | "http_429" => Limit::RequestLimiter,
        "api_1016" => Limit::CoreApp,
        "http_503" if kind == TargetKind::OnPrem => Limit::CoreApp,
        "api_130429" | "api_131057" => Limit::CloudThroughput,
        "api_4" | "api_80007" => Limit::AppRateLimit,
        "api_131056" => Limit::PairLimit,
        "api_131048" => Limit::MessagingTier,
        "api_2" => Limit::Unavailable,
        "unanswered" => Limit::Bot,
        "dropped" | "ok" | "cancelled" => return None,
        _ => Limit::Transport,
    })
}

/// The limit class with the most capacity errors in a step, and their count.
fn top_error(kind: TargetKind, s: &Step) -> Option<(Limit, u64, String)> {
    let mut by: std::collections::BTreeMap<Limit, (u64, Vec<String>)> = Default::default();
    for (key, n) in &s.errors {
        if let Some(l) = limit_of(kind, key) {
            let e = by.entry(l).or_default();
            e.0 += n;
            e.1.push(format!("{key} ×{n}"));
        }
    }
    by.into_iter().max_by_key(|(_, (n, _))| *n).map(|(l, (n, keys))| (l, n, keys.join(", ")))
}

/// Which limit binds at the failing step `bad`, against the last good step `good` (if any).
/// Capacity errors that broke the error budget name their limit (the most frequent class wins);
/// otherwise latency decides whose it is: the target's (on-premises: the CoreApp queues) when its
/// service time is beyond the SLO, grew since the last good step (p99 doubled or median up by half),
/// or is the larger share of a latency that broke the SLO; the load generator's when requests started late (or were dropped) while the
/// target answered in time.
pub fn classify(kind: TargetKind, bad: &Step, good: Option<&Step>, spec: &PlanSpec) -> Finding {
    let slo_us = spec.slo_p99.0.as_micros() as u64;
    let due = bad.sent + bad.dropped;
    let top = top_error(kind, bad);
    let at = format!("at {:.1}/s", bad.offered);
    if let Some((limit, n, keys)) = &top
        && bad.error_rate > spec.max_error_rate
        && *n >= bad.dropped
    {
        let evidence = format!("{keys} of {due} messages {at}");
        return Finding { limit: *limit, evidence };
    }
    // Queueing moves the median too: a log-normal service time keeps its median under load.
    let grew = good.is_some_and(|g| {
        (g.service_p99_us > 0 && bad.service_p99_us >= 2 * g.service_p99_us)
            || (g.service_p50_us > 0 && 2 * bad.service_p50_us >= 3 * g.service_p50_us)
    });
    let targets_share = bad.p99_us > slo_us && bad.service_p99_us >= bad.lateness_p99_us;
    // A bot's replies broke the SLO (its latency is the time to the first reply) while its endpoint
    // took the messages in time: the bot binds, not its endpoint.
    if kind == TargetKind::Conversation && bad.p99_us > slo_us && bad.service_p99_us <= slo_us / 2 {
        let evidence = format!(
            "the bot's first replies grew to p50 {} / p99 {} {at}, while its endpoint took the messages in p99 {}",
            fmt_us(bad.p50_us as f64),
            fmt_us(bad.p99_us as f64),
            fmt_us(bad.service_p99_us as f64)
        );
        return Finding { limit: Limit::Bot, evidence };
    }
    if bad.service_p99_us > slo_us || (grew && bad.service_p99_us > slo_us / 2) || targets_share {
        let before = good
            .map(|g| {
                let (p50, p99) = (fmt_us(g.service_p50_us as f64), fmt_us(g.service_p99_us as f64));
                format!(", against p50 {p50} / p99 {p99} at {:.1}/s", g.offered)
            })
            .unwrap_or_default();
        let evidence = format!(
            "the target's service time grew to p50 {} / p99 {} {at}{before} (client lateness p99 {})",
            fmt_us(bad.service_p50_us as f64),
            fmt_us(bad.service_p99_us as f64),
            fmt_us(bad.lateness_p99_us as f64)
        );
        let limit = if kind == TargetKind::OnPrem { Limit::CoreApp } else { Limit::ServerLatency };
        return Finding { limit, evidence };
    }
    if bad.dropped > 0 || bad.lateness_p99_us > slo_us / 2 {
        let evidence = format!(
            "the client was late {at}: lateness p99 {}, {} dropped, while the target's service time p99 stayed at {}",
            fmt_us(bad.lateness_p99_us as f64),
            bad.dropped,
            fmt_us(bad.service_p99_us as f64)
        );
        return Finding { limit: Limit::LoadGenerator, evidence };
    }
    match top {
        Some((limit, _, keys)) => Finding { limit, evidence: format!("{keys} of {due} messages {at}") },
        None => Finding {
            limit: Limit::Unknown,
            evidence: format!("the step {at} broke the SLO without errors or lateness"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn step(offered: f64, errors: &[(&str, u64)], service_p99_ms: u64, lateness_p99_ms: u64, dropped: u64) -> Step {
        let sent = (offered * 3.0) as u64;
        let errs: u64 = errors.iter().map(|(_, n)| n).sum();
        Step {
            offered,
            achieved: offered,
            sent,
            p50_us: 1_000,
            p99_us: (service_p99_ms + lateness_p99_ms) * 1000,
            error_rate: (errs + dropped) as f64 / (sent + dropped) as f64,
            dropped,
            delivered: None,
            passed: false,
            service_p50_us: 1_000,
            service_p99_us: service_p99_ms * 1000,
            lateness_p99_us: lateness_p99_ms * 1000,
            errors: errors.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
        }
    }

    fn spec() -> PlanSpec {
        PlanSpec { slo_p99: crate::units::Dur(Duration::from_millis(500)), max_error_rate: 0.01, ..PlanSpec::default() }
    }

    #[test]
    fn names_the_limit_from_the_failing_step() {
        let good = step(60.0, &[], 20, 1, 0);
        let on = TargetKind::OnPrem;
        let cases = [
            (on, step(90.0, &[("api_1015", 60), ("api_1016", 3)], 20, 1, 0), Limit::RequestLimiter),
            (on, step(140.0, &[("api_1016", 40)], 900, 1, 0), Limit::CoreApp),
            // No error: the CoreApp queues show as service time beyond the SLO.
            (on, step(140.0, &[], 800, 300, 0), Limit::CoreApp),
            (on, step(140.0, &[("http_503", 30)], 20, 1, 0), Limit::CoreApp),
            (TargetKind::Cloud, step(120.0, &[("api_130429", 100)], 20, 1, 0), Limit::CloudThroughput),
            (TargetKind::Cloud, step(120.0, &[("api_131056", 50), ("api_130429", 2)], 20, 1, 0), Limit::PairLimit),
            (TargetKind::Cloud, step(120.0, &[("api_131048", 50)], 20, 1, 0), Limit::MessagingTier),
            (TargetKind::Cloud, step(120.0, &[("api_2", 300)], 20, 1, 0), Limit::Unavailable),
            (TargetKind::Http, step(120.0, &[("timeout", 20), ("connect_error", 9)], 20, 1, 0), Limit::Transport),
            (TargetKind::Http, step(120.0, &[], 900, 1, 0), Limit::ServerLatency),
            // The target answered in time; the client did not keep up.
            (on, step(500.0, &[], 30, 700, 0), Limit::LoadGenerator),
            (on, step(500.0, &[("api_1016", 1)], 30, 5, 200), Limit::LoadGenerator),
            (on, step(100.0, &[], 30, 5, 0), Limit::Unknown),
        ];
        for (kind, bad, want) in cases {
            let f = classify(kind, &bad, Some(&good), &spec());
            assert_eq!(f.limit, want, "{kind:?} {:?}: {}", bad.errors, f.evidence);
            assert!(f.evidence.contains(&format!("{:.1}/s", bad.offered)), "{}", f.evidence);
        }
    }

    #[test]
    fn latency_growth_against_the_last_good_step_counts_below_the_slo() {
        // 300 ms is within a 500 ms SLO but six times the last good step: the shards are queueing.
        let good = step(60.0, &[], 50, 1, 0);
        let bad = step(130.0, &[], 300, 400, 0);
        let f = classify(TargetKind::OnPrem, &bad, Some(&good), &spec());
        assert_eq!(f.limit, Limit::CoreApp, "{}", f.evidence);
        assert!(f.evidence.contains("at 60.0/s"), "{}", f.evidence);
        // Without a good step to compare with, the larger share of that latency is the client's.
        assert_eq!(classify(TargetKind::OnPrem, &bad, None, &spec()).limit, Limit::LoadGenerator);
        // The median moved by half since the last good step: queueing, though the client was late too.
        let tail = step(121.0, &[], 300, 1, 0);
        let mut moved = step(128.0, &[], 400, 700, 0);
        assert_eq!(classify(TargetKind::OnPrem, &moved, Some(&tail), &spec()).limit, Limit::LoadGenerator);
        moved.service_p50_us = 1_600;
        assert_eq!(classify(TargetKind::OnPrem, &moved, Some(&tail), &spec()).limit, Limit::CoreApp);
        // A latency that broke the SLO mostly in the target's service time is the target's.
        let queued = step(130.0, &[], 450, 100, 0);
        assert_eq!(classify(TargetKind::OnPrem, &queued, None, &spec()).limit, Limit::CoreApp);
        assert_eq!(classify(TargetKind::Cloud, &queued, None, &spec()).limit, Limit::ServerLatency);
    }

    #[test]
    fn errors_within_the_budget_do_not_name_a_limit_when_latency_explains_the_break() {
        let bad = step(140.0, &[("api_1015", 1)], 900, 1, 0);
        assert_eq!(classify(TargetKind::OnPrem, &bad, None, &spec()).limit, Limit::CoreApp);
    }
}
