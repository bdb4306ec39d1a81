//! `compare` for conversation targets: the time to the bot's first reply (p50, p99 and any percentile a
//! gate names) as a ratio of B to A, and the share of unanswered turns as B − A in percentage points.
//!
//! A conversation target keeps its time-to-first-reply histogram for the whole run
//! (`<target>.replies.hlog`), not per second, so the seconds cannot be resampled as the latency rows
//! resample them. The intervals here resample the turns instead (a Poisson bootstrap: each recorded
//! value, and each answered or unanswered turn, is drawn a Poisson(1) number of times, which is the
//! ordinary bootstrap of the turns at the cost of one draw per histogram bucket). Turns of one slow
//! stretch of a run are not independent, so these intervals can be narrower than a per-second
//! resampling would give: read a verdict near its bound with that in mind.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution as _, Poisson};

use hdrhistogram::Histogram;

use super::{Metric, Pair, RESAMPLES, Sample, Subject, interval, ratio};
use crate::results::TargetData;

/// Why a first-reply row has no interval when a side has no replies log.
pub const NO_REPLIES_LOG: &str = "no replies log (<target>.replies.hlog) to resample";

/// The first-reply percentiles every comparison of conversation targets shows.
pub const FIRST_REPLY: [Metric; 2] = [Metric::Quantile("p50", 0.5), Metric::Quantile("p99", 0.99)];

/// What a conversation row compares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measure {
    /// A percentile (or the max) of the time to the first reply: B/A.
    FirstReply(Metric),
    /// Unanswered turns as a share of the turns: B − A in percentage points.
    Unanswered,
}

impl Measure {
    /// As the gates and `--json` spell it: `first_reply.p99`, `unanswered`.
    pub fn name(&self) -> String {
        match self {
            Measure::FirstReply(m) => format!("first_reply.{}", m.name()),
            Measure::Unanswered => "unanswered".into(),
        }
    }

    /// "ratio" (B/A) or "pp" (B − A in percentage points).
    pub fn unit(&self) -> &'static str {
        match self {
            Measure::FirstReply(_) => "ratio",
            Measure::Unanswered => "pp",
        }
    }
}

/// One conversation figure of a subject against the baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub measure: Measure,
    /// Baseline and subject values: µs for the first reply, a share (0..=1) for unanswered.
    pub base: Option<f64>,
    pub value: Option<f64>,
    /// B/A, or B − A in percentage points.
    pub estimate: Option<f64>,
    /// 95% bootstrap interval of the estimate (turns resampled).
    pub ci: Option<(f64, f64)>,
    /// The interval excludes 1 (a ratio) or 0 (percentage points).
    pub significant: bool,
    /// Why there is no interval.
    pub no_interval: Option<&'static str>,
}

impl Row {
    /// What the row means in words: "slower", "more unanswered", "within noise", …
    pub fn meaning(&self) -> (&'static str, &'static str) {
        match (self.estimate, self.significant, self.measure) {
            (None, _, _) => ("neutral", "no data"),
            (Some(_), _, _) if self.no_interval.is_some() => ("neutral", "interval: not available"),
            (Some(_), false, _) => ("neutral", "within noise"),
            (Some(x), true, Measure::FirstReply(_)) if x > 1.0 => ("fail", "slower"),
            (Some(_), true, Measure::FirstReply(_)) => ("pass", "faster"),
            (Some(x), true, Measure::Unanswered) if x > 0.0 => ("fail", "more unanswered"),
            (Some(_), true, Measure::Unanswered) => ("pass", "fewer unanswered"),
        }
    }
}

/// The first-reply percentiles shown: [`FIRST_REPLY`] and those of `extra`, in the order of their
/// quantiles.
pub fn first_reply_metrics(extra: &[Metric]) -> Vec<Metric> {
    let mut qs: Vec<Metric> =
        FIRST_REPLY.iter().chain(extra).copied().filter(|m| matches!(m, Metric::Quantile(..))).collect();
    qs.sort_by(|a, b| match (a, b) {
        (Metric::Quantile(_, x), Metric::Quantile(_, y)) => x.total_cmp(y),
        _ => std::cmp::Ordering::Equal,
    });
    qs.dedup_by(|a, b| a.name() == b.name());
    qs
}

/// A histogram as its distinct values (ascending) and their counts.
fn buckets(h: &Histogram<u64>) -> (Sample, Vec<u64>) {
    let mut values = Vec::new();
    let mut counts = Vec::new();
    for v in h.iter_recorded() {
        values.push(h.highest_equivalent(v.value_iterated_to()));
        counts.push(v.count_at_value());
    }
    (Sample { values, blocks: Vec::new(), started: Vec::new() }, counts)
}

/// Draws of `Poisson(count)` for each count (0 stays 0): one bootstrap resample of the values
/// counted.
struct Resampler(Vec<Option<Poisson<f64>>>);

impl Resampler {
    fn new(counts: &[u64]) -> Resampler {
        Resampler(counts.iter().map(|c| (*c > 0).then(|| Poisson::new(*c as f64).ok()).flatten()).collect())
    }

    fn draw(&self, rng: &mut ChaCha8Rng, into: &mut [u64]) {
        for (slot, p) in into.iter_mut().zip(&self.0) {
            *slot = p.as_ref().map_or(0, |p| p.sample(rng) as u64);
        }
    }
}

fn qs_of(metrics: &[Metric]) -> Vec<f64> {
    metrics.iter().filter_map(|m| if let Metric::Quantile(_, q) = m { Some(*q) } else { None }).collect()
}

/// The first-reply rows of `b` against `a`, from their replies histograms (or, without one, the
/// percentiles run.json keeps, with no interval).
fn first_reply_rows(a: &TargetData, b: &TargetData, metrics: &[Metric], rng: &mut ChaCha8Rng) -> Vec<Row> {
    let qs = qs_of(metrics);
    let (Some(ha), Some(hb)) = (&a.replies, &b.replies) else {
        let kept = |t: &TargetData, m: Metric| {
            let s = &t.result.conversation.as_ref()?.reply_latency_us;
            (s.count > 0).then(|| s.percentile(m.name())).flatten().map(|v| v as f64)
        };
        return metrics
            .iter()
            .map(|&m| {
                let (base, value) = (kept(a, m), kept(b, m));
                Row {
                    measure: Measure::FirstReply(m),
                    base,
                    value,
                    estimate: ratio(base, value),
                    ci: None,
                    significant: false,
                    no_interval: Some(NO_REPLIES_LOG),
                }
            })
            .collect();
    };
    let ((sa, ca), (sb, cb)) = (buckets(ha), buckets(hb));
    let (pa, pb) = (sa.quantiles(&ca, &qs), sb.quantiles(&cb, &qs));
    let (ra, rb) = (Resampler::new(&ca), Resampler::new(&cb));
    let (mut da, mut db) = (vec![0u64; ca.len()], vec![0u64; cb.len()]);
    let mut ratios: Vec<Vec<f64>> = vec![Vec::with_capacity(RESAMPLES); qs.len()];
    if !ca.is_empty() && !cb.is_empty() {
        for _ in 0..RESAMPLES {
            ra.draw(rng, &mut da);
            rb.draw(rng, &mut db);
            let (x, y) = (sa.quantiles(&da, &qs), sb.quantiles(&db, &qs));
            for (i, r) in ratios.iter_mut().enumerate() {
                if let Some(v) = ratio(x[i], y[i]) {
                    r.push(v);
                }
            }
        }
    }
    metrics
        .iter()
        .zip(ratios)
        .enumerate()
        .map(|(i, (&m, rs))| {
            let estimate = ratio(pa[i], pb[i]);
            let ci = estimate.and_then(|_| interval(rs));
            Row {
                measure: Measure::FirstReply(m),
                base: pa[i],
                value: pb[i],
                estimate,
                ci,
                significant: ci.is_some_and(|(lo, hi)| lo > 1.0 || hi < 1.0),
                no_interval: None,
            }
        })
        .collect()
}

/// The unanswered share of `b` against `a`, in percentage points, turns resampled.
fn unanswered_row(a: &TargetData, b: &TargetData, rng: &mut ChaCha8Rng) -> Row {
    // (unanswered, the other turns) of a side with turns.
    let split = |t: &TargetData| {
        let s = t.result.conversation.as_ref().filter(|s| s.turns > 0)?;
        let u = s.unanswered.min(s.turns);
        Some([u, s.turns - u])
    };
    let share = |c: &[u64]| (c[0] + c[1] > 0).then(|| c[0] as f64 / (c[0] + c[1]) as f64);
    let (sa, sb) = (split(a), split(b));
    let (base, value) = (sa.and_then(|c| share(&c)), sb.and_then(|c| share(&c)));
    let estimate = base.zip(value).map(|(x, y)| (y - x) * 100.0);
    let ci = sa.zip(sb).filter(|_| estimate.is_some()).and_then(|(ca, cb)| {
        let (ra, rb) = (Resampler::new(&ca), Resampler::new(&cb));
        let (mut da, mut db) = ([0u64; 2], [0u64; 2]);
        let diffs = (0..RESAMPLES)
            .filter_map(|_| {
                ra.draw(rng, &mut da);
                rb.draw(rng, &mut db);
                Some((share(&db)? - share(&da)?) * 100.0)
            })
            .collect();
        interval(diffs)
    });
    Row {
        measure: Measure::Unanswered,
        base,
        value,
        estimate,
        ci,
        significant: ci.is_some_and(|(lo, hi)| lo > 0.0 || hi < 0.0),
        no_interval: None,
    }
}

/// The conversation rows of `b` against the baseline `a` (`first_reply` percentiles, then unanswered),
/// or `None` unless both are conversation targets; `seed` makes the bootstrap reproducible.
pub fn pair(a: &TargetData, b: &TargetData, seed: u64, first_reply: &[Metric]) -> Option<Vec<Row>> {
    if a.result.conversation.is_none() || b.result.conversation.is_none() {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows = first_reply_rows(a, b, first_reply, &mut rng);
    rows.push(unanswered_row(a, b, &mut rng));
    Some(rows)
}

/// The conversation rows of each pair of `subjects` (`[i]` is `pairs[i]`).
pub fn tables(subjects: &[Subject], pairs: &[Pair], first_reply: &[Metric]) -> Vec<Option<Vec<Row>>> {
    pairs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (a, b) = (&subjects[p.base].target, &subjects[p.subject].target);
            pair(a, b, super::SEED ^ 0x6376 ^ i as u64, first_reply)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(values: &[(u64, u64)], turns: u64, unanswered: u64) -> TargetData {
        let mut h = crate::results::histogram();
        for (v, n) in values {
            h.record_n(*v, *n).unwrap();
        }
        let mut result: crate::results::TargetResult = serde_json::from_value(serde_json::json!({
            "name": "bot", "kind": "conversation", "url": "", "model": "open", "connections": 1, "threads": 1,
            "started_at": "2026-01-01T00:00:00Z", "duration_s": 10.0, "interrupted": false,
            "requests": {"planned": null, "sent": 0, "ok": 0, "errors": 0, "dropped": 0, "cancelled": 0},
            "rate": {"requested": null, "achieved": 0.0, "ratio": null},
            "latency_us": crate::results::Summary::default(), "service_time_us": crate::results::Summary::default(),
            "lateness_us": crate::results::Summary::default(), "outcomes": [], "hlog": "bot.hlog"
        }))
        .unwrap();
        result.conversation = Some(crate::results::conversation::ConversationStats {
            turns,
            answered: turns - unanswered,
            unanswered,
            reply_latency_us: crate::results::Summary::of(&h),
            ..Default::default()
        });
        let mut t = TargetData::new(result, Vec::new(), Vec::new()).unwrap();
        t.replies = Some(h);
        t
    }

    #[test]
    fn a_bot_twice_as_slow_is_slower_beyond_noise_and_equal_runs_are_within_it() {
        let a = target(&[(10_000, 900), (50_000, 100)], 1000, 10);
        let b = target(&[(20_000, 900), (100_000, 100)], 1000, 40);
        let rows = pair(&a, &b, 7, &first_reply_metrics(&[])).unwrap();
        let names: Vec<String> = rows.iter().map(|r| r.measure.name()).collect();
        assert_eq!(names, ["first_reply.p50", "first_reply.p99", "unanswered"]);
        for r in &rows[..2] {
            let x = r.estimate.unwrap();
            assert!((x - 2.0).abs() < 0.01, "{r:?}");
            let (lo, hi) = r.ci.unwrap();
            assert!(lo <= x && x <= hi && lo > 1.0, "{r:?}");
            assert_eq!(r.meaning().1, "slower");
        }
        let u = &rows[2];
        assert!((u.estimate.unwrap() - 3.0).abs() < 1e-9, "{u:?}");
        assert!(u.significant && u.ci.unwrap().0 > 0.0, "{u:?}");
        let same = pair(&a, &a, 7, &FIRST_REPLY).unwrap();
        assert!(same.iter().all(|r| !r.significant), "{same:?}");
        // Deterministic: the same seed gives the same intervals.
        assert_eq!(pair(&a, &b, 7, &FIRST_REPLY), Some(rows));
    }

    #[test]
    fn without_a_replies_log_the_ratio_stands_alone_and_other_targets_have_no_rows() {
        let a = target(&[(10_000, 100)], 100, 0);
        let mut b = target(&[(30_000, 100)], 100, 0);
        b.replies = None;
        let rows = pair(&a, &b, 1, &FIRST_REPLY).unwrap();
        assert_eq!(rows[0].no_interval, Some(NO_REPLIES_LOG));
        assert!(rows[0].ci.is_none() && (rows[0].estimate.unwrap() - 3.0).abs() < 0.01, "{:?}", rows[0]);
        assert_eq!(rows[2].ci, Some((0.0, 0.0)), "no unanswered turn on either side: exactly 0pp");
        b.result.conversation = None;
        assert_eq!(pair(&a, &b, 1, &FIRST_REPLY), None);
    }
}
