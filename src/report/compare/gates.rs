//! Comparison gates (`wabench compare --fail-if`): a bound on the ratio B/A of a latency percentile or of
//! the rate, or on the difference B − A of the error or drop rate in percentage points. A gate fails
//! only when the whole 95% bootstrap interval lies beyond its bound, that is when the regression is
//! beyond run-to-run noise; it passes only when the whole interval lies on the passing side, and is
//! inconclusive when the interval reaches across the bound (not failed, not passed). The error and drop rates get their own bootstrap here, over the same one-second blocks as the
//! latency rows of [`super`]. Conversation targets add `first_reply.<percentile>` (a ratio) and
//! `unanswered` (percentage points), judged on the rows of [`super::conversation`].

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{self as compare, Comparison, METRICS, Metric, RESAMPLES, conversation};
use crate::results::TimelineRow;
use crate::results::folder::TargetData;

/// A rate compared in percentage points: the error rate (errors / requests started) or the drop rate
/// (dropped / (started + dropped)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Points {
    ErrorRate,
    DropRate,
}

impl Points {
    pub const ALL: [Points; 2] = [Points::ErrorRate, Points::DropRate];

    pub fn name(self) -> &'static str {
        match self {
            Points::ErrorRate => "error_rate",
            Points::DropRate => "drop_rate",
        }
    }

    /// (numerator, denominator) of one second.
    fn of(self, r: &TimelineRow) -> (u64, u64) {
        match self {
            Points::ErrorRate => (r.errors, r.started),
            Points::DropRate => (r.dropped, r.started + r.dropped),
        }
    }
}

/// What a gate bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measure {
    /// The ratio B/A of a row of the comparison.
    Ratio(Metric),
    /// B − A in percentage points.
    Points(Points),
    /// A conversation row: the time to the first reply (B/A) or the unanswered share (B − A in
    /// percentage points).
    Conversation(conversation::Measure),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
        }
    }
}

/// One `--fail-if` gate, e.g. `p99 > 1.10` or `cloud:error_rate > +0.5pp`.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    pub expr: String,
    /// Only subjects of this target (the part before `:`), else every subject.
    pub target: Option<String>,
    pub measure: Measure,
    pub op: Op,
    /// A ratio, or percentage points.
    pub bound: f64,
}

/// The rate, or a percentile spelled as everywhere else (`p99.5`; `p999` read as `p99.9`; `p100` is
/// `max`): a row of the comparison table, which gets a row of its own when it is not one of
/// [`METRICS`]. `Err` carries the percentile's own error when the name looks like one.
fn ratio_metric(name: &str) -> Result<Option<Metric>, String> {
    if name == Metric::Rate.name() {
        return Ok(Some(Metric::Rate));
    }
    if !(name.starts_with('p') || name == crate::units::percentile::MAX) {
        return Ok(None);
    }
    let (name, q) = crate::units::percentile::parse(name)?;
    Ok(Some(METRICS.iter().copied().find(|m| m.name() == name).unwrap_or(Metric::Quantile(name, q))))
}

/// The bound of a gate on `name`: a ratio, or percentage points when `points`.
fn parse_bound(name: &str, points: bool, right: &str) -> Result<f64, String> {
    if !points {
        if right.ends_with("pp") || right.ends_with('%') {
            return Err(format!("{name} is compared as a ratio of B to A: write e.g. 1.10 for 10% higher"));
        }
        return match right.trim_end_matches(['x', '×']).trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
            _ => Err(format!("{right:?} is not a ratio greater than 0, e.g. 1.10")),
        };
    }
    let Some(x) = right.strip_suffix("pp") else {
        return Err(format!("{name} is compared in percentage points of B minus A: write e.g. +0.5pp"));
    };
    match x.trim().trim_start_matches('+').parse::<f64>() {
        Ok(v) if v.is_finite() && v.abs() <= 100.0 => Ok(v),
        _ => Err(format!("{right:?} is not a number of percentage points, e.g. +0.5pp")),
    }
}

/// A conversation measure: `first_reply.<percentile>` or `unanswered`.
fn conversation_measure(name: &str) -> Result<Option<conversation::Measure>, String> {
    if name == "unanswered" {
        return Ok(Some(conversation::Measure::Unanswered));
    }
    let Some(p) = name.strip_prefix("first_reply.") else { return Ok(None) };
    match ratio_metric(p)? {
        Some(m @ Metric::Quantile(..)) => Ok(Some(conversation::Measure::FirstReply(m))),
        _ => Err(format!(
            "{name:?}: the time to the first reply is compared at a percentile, e.g. first_reply.p99 ({})",
            crate::units::percentile::FORM
        )),
    }
}

impl Gate {
    /// Parse `[target:]metric op bound`; the error says what is wrong and what is accepted.
    pub fn parse(s: &str) -> Result<Gate, String> {
        let bad = |why: String| format!("--fail-if {s:?}: {why}");
        let at = s.find(['<', '>']).ok_or_else(|| {
            bad("write metric, comparison and bound, e.g. \"p99 > 1.10\" or \"error_rate > +0.5pp\"".into())
        })?;
        let (op, len) = match (&s[at..at + 1], s[at + 1..].starts_with('=')) {
            (">", true) => (Op::Ge, 2),
            (">", false) => (Op::Gt, 1),
            (_, true) => (Op::Le, 2),
            (_, false) => (Op::Lt, 1),
        };
        let (left, right) = (s[..at].trim(), s[at + len..].trim());
        let (target, name) = match left.split_once(':') {
            Some((t, m)) if !t.trim().is_empty() => (Some(t.trim().to_string()), m.trim()),
            _ => (None, left),
        };
        let measure = if let Some(m) = ratio_metric(name).map_err(&bad)? {
            Measure::Ratio(m)
        } else if let Some(p) = Points::ALL.into_iter().find(|p| p.name() == name) {
            Measure::Points(p)
        } else if let Some(c) = conversation_measure(name).map_err(&bad)? {
            Measure::Conversation(c)
        } else {
            return Err(bad(format!(
                "unknown metric {name:?}: a percentile ({}), rate or first_reply.<percentile> (ratios of B to A), \
                 or error_rate, drop_rate, unanswered (percentage points of B minus A)",
                crate::units::percentile::FORM
            )));
        };
        let points = match measure {
            Measure::Ratio(_) => false,
            Measure::Points(_) => true,
            Measure::Conversation(c) => c.unit() == "pp",
        };
        let bound = parse_bound(name, points, right).map_err(bad)?;
        Ok(Gate { expr: s.trim().to_string(), target, measure, op, bound })
    }

    /// Held when the whole interval lies on the passing side of the bound.
    pub fn held(&self, (lo, hi): (f64, f64)) -> bool {
        match self.op {
            Op::Gt => hi <= self.bound,
            Op::Ge => hi < self.bound,
            Op::Lt => lo >= self.bound,
            Op::Le => lo > self.bound,
        }
    }

    /// Crossed when the whole interval lies beyond the bound.
    pub fn crossed(&self, (lo, hi): (f64, f64)) -> bool {
        match self.op {
            Op::Gt => lo > self.bound,
            Op::Ge => lo >= self.bound,
            Op::Lt => hi < self.bound,
            Op::Le => hi <= self.bound,
        }
    }
}

/// The error or drop rate of B against A: rates as fractions, the difference and its 95% bootstrap
/// interval in percentage points.
#[derive(Debug, Clone, PartialEq)]
pub struct PointsRow {
    pub metric: Points,
    pub base: Option<f64>,
    pub value: Option<f64>,
    pub diff_pp: Option<f64>,
    pub ci_pp: Option<(f64, f64)>,
    /// The interval excludes 0.
    pub significant: bool,
}

/// Per block of consecutive seconds (as the latency rows group them): (numerator, denominator).
fn blocks(t: &TargetData, p: Points) -> Vec<(u64, u64)> {
    let per = compare::block_len(t);
    t.timeline.chunks(per).map(|c| c.iter().map(|r| p.of(r)).fold((0, 0), |(n, d), (x, y)| (n + x, d + y))).collect()
}

fn rate_of(blocks: &[(u64, u64)], picks: impl Iterator<Item = usize>) -> Option<f64> {
    let (n, d) = picks.map(|i| blocks[i]).fold((0, 0), |(n, d), (x, y)| (n + x, d + y));
    (d > 0).then(|| n as f64 / d as f64)
}

/// The 95% bootstrap interval of the difference in percentage points; paired when the runs have as
/// many blocks (see [`compare::compare_pair`]).
fn diff_interval(ba: &[(u64, u64)], bb: &[(u64, u64)], seed: u64) -> Option<(f64, f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let paired = ba.len() == bb.len();
    let diffs: Vec<f64> = (0..RESAMPLES)
        .filter_map(|_| {
            let pa = compare::draw(ba.len(), &mut rng);
            let pb = if paired { pa.clone() } else { compare::draw(bb.len(), &mut rng) };
            let (x, y) = (rate_of(ba, pa.into_iter())?, rate_of(bb, pb.into_iter())?);
            Some((y - x) * 100.0)
        })
        .collect();
    compare::interval(diffs)
}

/// The error and drop rates of `b` against the baseline `a`; `seed` makes the bootstrap reproducible.
pub fn points_pair(a: &TargetData, b: &TargetData, seed: u64) -> Vec<PointsRow> {
    Points::ALL
        .into_iter()
        .map(|p| {
            let (ba, bb) = (blocks(a, p), blocks(b, p));
            let (base, value) = (rate_of(&ba, 0..ba.len()), rate_of(&bb, 0..bb.len()));
            let diff_pp = base.zip(value).map(|(x, y)| (y - x) * 100.0);
            let ci_pp = diff_pp.and_then(|_| diff_interval(&ba, &bb, seed));
            let significant = ci_pp.is_some_and(|(lo, hi)| lo > 0.0 || hi < 0.0);
            PointsRow { metric: p, base, value, diff_pp, ci_pp, significant }
        })
        .collect()
}

/// The rate rows of each pair (`[i]` is `c.pairs[i]`).
pub fn points_tables(c: &Comparison) -> Vec<Vec<PointsRow>> {
    c.compared()
        .enumerate()
        .map(|(i, (base, s))| points_pair(&base.target, &s.target, compare::SEED ^ 0x7070 ^ i as u64))
        .collect()
}

/// How a gate came out on one subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateVerdict {
    /// The whole interval lies on the passing side of the bound.
    Pass,
    /// The interval lies wholly beyond the bound: a regression beyond noise.
    Fail,
    /// The interval reaches across the bound: the runs cannot tell whether it holds (longer runs, or
    /// more of them, narrow the interval). Not counted as failed, and not as passed.
    Inconclusive,
    /// No estimate or interval (no responses, too few seconds): nothing to judge.
    NoData,
}

impl GateVerdict {
    /// How the verdict reads in the terminal table and in compare.html.
    pub fn label(self) -> &'static str {
        match self {
            GateVerdict::Fail => "FAIL: beyond noise",
            GateVerdict::Pass => "pass",
            GateVerdict::Inconclusive => "inconclusive: the interval reaches the bound; longer runs narrow it",
            GateVerdict::NoData => "no data: not judged",
        }
    }
}

/// One gate on one compared subject.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GateOutcome {
    pub gate: String,
    pub subject: String,
    /// The subject it is compared against (its baseline).
    pub against: String,
    pub metric: String,
    /// "ratio" (B/A) or "pp" (B − A in percentage points).
    pub unit: &'static str,
    pub estimate: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub op: &'static str,
    pub bound: f64,
    pub verdict: GateVerdict,
    /// Why a verdict could not be reached, when that is not the interval reaching the bound (an
    /// aggregate-only import has no interval).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Every gate on every compared subject it applies to.
pub fn evaluate(gates: &[Gate], c: &Comparison, points: &[Vec<PointsRow>]) -> Vec<GateOutcome> {
    let mut out = Vec::new();
    for g in gates {
        for (i, (base, s)) in c.compared().enumerate() {
            if g.target.as_ref().is_some_and(|t| t != s.target.name()) {
                continue;
            }
            let (metric, unit, estimate, ci, no_interval) = match g.measure {
                Measure::Ratio(m) => {
                    let row = c.rows[i].iter().find(|r| r.metric.name() == m.name());
                    let no_interval = row.and_then(|r| r.no_interval);
                    (m.name().to_string(), "ratio", row.and_then(|r| r.ratio), row.and_then(|r| r.ci), no_interval)
                }
                Measure::Points(p) => {
                    let row = points[i].iter().find(|r| r.metric == p);
                    (p.name().to_string(), "pp", row.and_then(|r| r.diff_pp), row.and_then(|r| r.ci_pp), None)
                }
                // Only conversation targets on both sides have these rows: others have no data.
                Measure::Conversation(m) => {
                    let row = c
                        .conversation
                        .get(i)
                        .and_then(Option::as_ref)
                        .and_then(|rows| rows.iter().find(|r| r.measure.name() == m.name()));
                    let no_interval = row.and_then(|r| r.no_interval);
                    (m.name(), m.unit(), row.and_then(|r| r.estimate), row.and_then(|r| r.ci), no_interval)
                }
            };
            let mut note = None;
            let verdict = match (estimate, ci) {
                (Some(_), Some(ci)) if g.crossed(ci) => GateVerdict::Fail,
                (Some(_), Some(ci)) if g.held(ci) => GateVerdict::Pass,
                (Some(_), Some(_)) => GateVerdict::Inconclusive,
                // Without seconds to resample there is no interval: the runs cannot tell, which is no
                // pass (and no failure).
                (_, None) if no_interval.is_some() => {
                    let why = no_interval.unwrap_or_default();
                    note = Some(match estimate {
                        Some(_) => format!("no interval: {why} (one figure a side cannot tell a change from noise)"),
                        None => format!("no {metric} ratio: {why}, which holds only the percentiles its tool printed"),
                    });
                    GateVerdict::Inconclusive
                }
                _ => GateVerdict::NoData,
            };
            out.push(GateOutcome {
                gate: g.expr.clone(),
                subject: s.label.clone(),
                against: base.label.clone(),
                metric,
                unit,
                estimate,
                ci_low: ci.map(|c| c.0),
                ci_high: ci.map(|c| c.1),
                op: g.op.as_str(),
                bound: g.bound,
                verdict,
                note,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_parse_ratios_and_percentage_points() {
        let g = Gate::parse("p99 > 1.10").unwrap();
        assert_eq!((g.measure, g.op, g.bound, g.target), (Measure::Ratio(METRICS[4]), Op::Gt, 1.10, None));
        let g = Gate::parse("cloud:error_rate >= +0.5pp").unwrap();
        assert_eq!(g.measure, Measure::Points(Points::ErrorRate));
        assert_eq!((g.op, g.bound, g.target.as_deref()), (Op::Ge, 0.5, Some("cloud")));
        assert_eq!(Gate::parse("rate < 0.95x").unwrap().op, Op::Lt);
        assert_eq!(Gate::parse("p999<=2").unwrap().measure, Measure::Ratio(METRICS[5]));
        assert_eq!(Gate::parse("p95 > 1.2").unwrap().measure, Measure::Ratio(METRICS[3]));
        assert_eq!(Gate::parse("p9999 > 1.2").unwrap().measure, Measure::Ratio(METRICS[6]));
        // Any percentile: one of the table's rows, or a row of its own.
        assert_eq!(Gate::parse("p100 > 1.2").unwrap().measure, Measure::Ratio(METRICS[7]));
        assert_eq!(Gate::parse("p99.5 > 1.2").unwrap().measure, Measure::Ratio(Metric::Quantile("p99.5", 0.995)));
        assert_eq!(Gate::parse("cloud:p97 > 1.2").unwrap().measure, Measure::Ratio(Metric::Quantile("p97", 0.97)));
        for (bad, why) in [
            ("p99 1.1", "metric, comparison and bound"),
            ("p101 > 1.1", "\"p101\" is not a percentile"),
            ("p99.5.1 > 1.1", "\"p99.5.1\" is not a percentile"),
            ("speed > 1.1", "unknown metric \"speed\""),
            ("error_rate > 0.5", "percentage points"),
            ("p99 > +5pp", "ratio of B to A"),
            ("p99 > 0", "greater than 0"),
            ("drop_rate > lots pp", "percentage points"),
        ] {
            let e = Gate::parse(bad).unwrap_err();
            assert!(e.contains(why) && e.contains("--fail-if"), "{bad}: {e}");
        }
    }

    #[test]
    fn conversation_gates_are_ratios_of_the_first_reply_and_points_of_the_unanswered_share() {
        use conversation::Measure as C;
        let g = Gate::parse("bot:first_reply.p99 > 1.2").unwrap();
        assert_eq!(
            (g.measure, g.bound, g.target.as_deref()),
            (Measure::Conversation(C::FirstReply(METRICS[4])), 1.2, Some("bot"))
        );
        let g = Gate::parse("first_reply.p99.5 >= 2x").unwrap();
        assert_eq!(g.measure, Measure::Conversation(C::FirstReply(Metric::Quantile("p99.5", 0.995))));
        let g = Gate::parse("unanswered > +1pp").unwrap();
        assert_eq!((g.measure, g.bound), (Measure::Conversation(C::Unanswered), 1.0));
        for (bad, why) in [
            ("unanswered > 1.1", "percentage points"),
            ("first_reply.p99 > +1pp", "ratio of B to A"),
            ("first_reply.rate > 1.1", "at a percentile"),
            ("first_reply.p101 > 1.1", "not a percentile"),
        ] {
            let e = Gate::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn a_gate_is_crossed_only_when_the_whole_interval_is_beyond_it() {
        let up = Gate::parse("p99 > 1.10").unwrap();
        assert!(up.crossed((1.12, 1.30)));
        assert!(!up.crossed((1.05, 1.30)), "the interval reaches the bound: within noise");
        let down = Gate::parse("rate < 0.9").unwrap();
        assert!(down.crossed((0.7, 0.85)));
        assert!(!down.crossed((0.7, 0.95)));
        assert!(Gate::parse("p50 >= 1.2").unwrap().crossed((1.2, 1.3)));
    }
}
