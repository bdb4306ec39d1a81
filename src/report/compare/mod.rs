//! Comparing runs (or the targets of one run): ratios of each later subject to the first per
//! percentile and rate, with a seeded bootstrap over the one-second intervals telling whether a
//! difference is beyond run-to-run noise; written to the terminal and to `compare.html` with an
//! overlaid percentile spectrum.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::report::render::{self, Rendered};
use crate::report::{ReportError, failures, figures, fmt_us, html, html_escape};
pub use imported::latency_notes;
use imported::{aggregate, compare_aggregates};

pub mod conversation;
pub mod gates;
mod imported;
pub mod out;
use crate::results;
use crate::results::folder::{self as data, Second, TargetData};

/// Bootstrap resamples per comparison.
pub const RESAMPLES: usize = 1000;
/// Seed of the bootstrap: the same inputs always give the same intervals.
pub const SEED: u64 = 0x0077_6162_656e_6368;
/// Resample at most this many blocks: longer runs resample blocks of consecutive seconds.
pub(crate) const MAX_BLOCKS: usize = 100;

/// What is compared: a quantile of latency, or the achieved rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    Quantile(&'static str, f64),
    Rate,
}

impl Metric {
    pub fn name(&self) -> &'static str {
        match self {
            Metric::Quantile(n, _) => n,
            Metric::Rate => "rate",
        }
    }
}

/// The rows of a comparison table: the kept percentiles (`units::percentile`, one spelling with the
/// thresholds'), the max (the quantile 1.0) and the rate.
pub const METRICS: [Metric; 9] = [
    Metric::Quantile("p50", 0.5),
    Metric::Quantile("p75", 0.75),
    Metric::Quantile("p90", 0.9),
    Metric::Quantile("p95", 0.95),
    Metric::Quantile("p99", 0.99),
    Metric::Quantile("p99.9", 0.999),
    Metric::Quantile("p99.99", 0.9999),
    Metric::Quantile("max", 1.0),
    Metric::Rate,
];

/// The rows of a comparison: [`METRICS`] and the percentiles in `extra` (a gate's `p99.5`), in the
/// order of their quantiles, then the rate.
pub fn metrics_with(extra: &[Metric]) -> Vec<Metric> {
    let mut qs: Vec<Metric> =
        METRICS.iter().chain(extra).copied().filter(|m| matches!(m, Metric::Quantile(..))).collect();
    qs.sort_by(|a, b| match (a, b) {
        (Metric::Quantile(_, x), Metric::Quantile(_, y)) => x.total_cmp(y),
        _ => std::cmp::Ordering::Equal,
    });
    qs.dedup_by(|a, b| a.name() == b.name());
    qs.push(Metric::Rate);
    qs
}

/// One thing compared: a target of a run.
#[derive(Debug, Clone)]
pub struct Subject {
    pub label: String,
    /// Where it came from (run name, folder).
    pub origin: String,
    pub target: TargetData,
}

/// One metric of one subject against the baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub metric: Metric,
    /// Baseline and subject values (µs for latencies, requests/s for the rate); `None` without data.
    pub base: Option<f64>,
    pub value: Option<f64>,
    /// value / base.
    pub ratio: Option<f64>,
    /// 95% bootstrap interval of the ratio.
    pub ci: Option<(f64, f64)>,
    /// The interval excludes 1.0: the difference is beyond run-to-run noise.
    pub significant: bool,
    /// Why no interval can be computed (an aggregate-only import has no seconds to resample).
    pub no_interval: Option<&'static str>,
}

/// Why a comparison with an aggregate-only import has no intervals.
pub const AGGREGATE_ONLY: &str = "aggregate-only import";

/// One comparison of two subjects: `subjects[subject]` against `subjects[base]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    pub base: usize,
    pub subject: usize,
}

/// A comparison of subjects, each against its baseline: with one run, its later targets against its
/// first; with several, each target of a later run against the same-named target of the first run.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The subjects compared, baselines included, in the order of their runs and targets.
    pub subjects: Vec<Subject>,
    /// What is compared with what (`rows[i]` compares `pairs[i]`).
    pub pairs: Vec<Pair>,
    /// One table per pair.
    pub rows: Vec<Vec<Row>>,
    /// Inputs left out, with the reason.
    pub skipped: Vec<String>,
    /// Targets left out because the other run has no target of their name, each with the reason
    /// ("b/edge: no target named edge in a").
    pub unpaired: Vec<String>,
    /// The conversation rows of each pair (`conversation[i]` compares `pairs[i]`): `None` unless both
    /// sides are conversation targets.
    pub conversation: Vec<Option<Vec<conversation::Row>>>,
}

impl Comparison {
    /// Each pair as (baseline, subject), in the order of [`Comparison::rows`].
    pub fn compared(&self) -> impl Iterator<Item = (&Subject, &Subject)> + '_ {
        self.pairs.iter().map(|p| (&self.subjects[p.base], &self.subjects[p.subject]))
    }
}

/// A subject's seconds, grouped into blocks, as sparse counts over the subject's distinct values.
struct Sample {
    values: Vec<u64>,
    blocks: Vec<Vec<(usize, u64)>>,
    /// Requests started per block, and the block's length in seconds (for the rate).
    started: Vec<(u64, u64)>,
}

impl Sample {
    fn of(t: &TargetData) -> Sample {
        let per = block_len(t);
        // Each block's histograms: its seconds, or the one histogram a blocked load added them into.
        let chunks: Vec<Vec<&Histogram<u64>>> = match &t.blocks {
            Some(b) => b.histograms.iter().map(|h| vec![h]).collect(),
            None => t.seconds.chunks(per).map(|c: &[Second]| c.iter().map(|s| &s.histogram).collect()).collect(),
        };
        let mut values: Vec<u64> = chunks
            .iter()
            .flatten()
            .flat_map(|h| h.iter_recorded().map(|v| h.highest_equivalent(v.value_iterated_to())))
            .collect();
        values.sort_unstable();
        values.dedup();
        let index = |v: u64| values.binary_search(&v).unwrap_or_else(|i| i.min(values.len().saturating_sub(1)));
        let blocks = chunks
            .iter()
            .map(|chunk| {
                let mut b: Vec<(usize, u64)> = Vec::new();
                for h in chunk {
                    for v in h.iter_recorded() {
                        b.push((index(h.highest_equivalent(v.value_iterated_to())), v.count_at_value()));
                    }
                }
                // One entry per value: a block of many seconds repeats most values, and every resample
                // adds each entry of the blocks it draws (the same sums, in a fraction of the work).
                b.sort_unstable_by_key(|e| e.0);
                b.dedup_by(|later, kept| {
                    let same = later.0 == kept.0;
                    if same {
                        kept.1 += later.1;
                    }
                    same
                });
                b
            })
            .collect();
        let started = t.timeline.chunks(per).map(|c| (c.iter().map(|r| r.started).sum(), c.len() as u64)).collect();
        Sample { values, blocks, started }
    }

    /// Quantiles (sorted ascending; 1.0 is the max) of `counts`, the way HDR histograms answer them.
    fn quantiles(&self, counts: &[u64], qs: &[f64]) -> Vec<Option<f64>> {
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return vec![None; qs.len()];
        }
        let mut out = Vec::with_capacity(qs.len());
        let mut cum = 0u64;
        let mut i = 0usize;
        for q in qs {
            let want = ((q * total as f64).ceil() as u64).clamp(1, total);
            while cum + counts[i] < want {
                cum += counts[i];
                i += 1;
            }
            out.push(Some(self.values[i] as f64));
        }
        out
    }

    fn all_counts(&self) -> Vec<u64> {
        let mut c = vec![0u64; self.values.len()];
        for b in &self.blocks {
            add(&mut c, b);
        }
        c
    }

    fn rate(started: &[(u64, u64)]) -> Option<f64> {
        let secs: u64 = started.iter().map(|s| s.1).sum();
        (secs > 0).then(|| started.iter().map(|s| s.0).sum::<u64>() as f64 / secs as f64)
    }
}

/// How many consecutive seconds one bootstrap block of `t` holds (at most [`MAX_BLOCKS`] blocks).
pub(crate) fn block_len(t: &TargetData) -> usize {
    match &t.blocks {
        Some(b) => b.per,
        None => data::block_len(t.seconds.len().max(t.timeline.len()), MAX_BLOCKS),
    }
}

fn add(counts: &mut [u64], block: &[(usize, u64)]) {
    for (i, c) in block {
        counts[*i] += c;
    }
}

/// `n` indices drawn with replacement from `0..n`.
pub(crate) fn draw(n: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    (0..n).map(|_| rng.random_range(0..n)).collect()
}

/// One bootstrap resample of `s` (blocks `picks`, timeline blocks `rate_picks`): latency quantiles at
/// `qs` and the rate.
fn resample(
    s: &Sample,
    qs: &[f64],
    picks: &[usize],
    rate_picks: &[usize],
    counts: &mut [u64],
) -> (Vec<Option<f64>>, Option<f64>) {
    counts.iter_mut().for_each(|c| *c = 0);
    for i in picks {
        add(counts, &s.blocks[*i]);
    }
    let picked: Vec<(u64, u64)> = rate_picks.iter().map(|i| s.started[*i]).collect();
    (s.quantiles(counts, qs), Sample::rate(&picked))
}

/// The 2.5th and 97.5th percentiles of `ratios`.
pub(crate) fn interval(mut ratios: Vec<f64>) -> Option<(f64, f64)> {
    ratios.retain(|r| r.is_finite());
    if ratios.len() < RESAMPLES / 2 {
        return None;
    }
    ratios.sort_by(f64::total_cmp);
    let at = |p: f64| ratios[((p * ratios.len() as f64).ceil() as usize).clamp(1, ratios.len()) - 1];
    Some((at(0.025), at(0.975)))
}

pub(crate) fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if a > 0.0 => Some(b / a),
        _ => None,
    }
}

/// Compare `b` with the baseline `a` on the rows of [`METRICS`]; `seed` makes the bootstrap
/// reproducible. An aggregate-only import on either side gives ratios without intervals.
pub fn compare_pair(a: &TargetData, b: &TargetData, seed: u64) -> Vec<Row> {
    compare_pair_with(a, b, seed, &METRICS)
}

/// [`compare_pair`] on the rows `metrics` (quantiles ascending, as [`metrics_with`] orders them). The
/// bootstrap draws the same blocks whatever the rows, so a row has the same interval with or without
/// the others.
pub fn compare_pair_with(a: &TargetData, b: &TargetData, seed: u64, metrics: &[Metric]) -> Vec<Row> {
    if aggregate(a).is_some() || aggregate(b).is_some() {
        return compare_aggregates(a, b, metrics);
    }
    let qs: Vec<f64> =
        metrics.iter().filter_map(|m| if let Metric::Quantile(_, q) = m { Some(*q) } else { None }).collect();
    let (sa, sb) = (Sample::of(a), Sample::of(b));
    let (qa, qb) = (sa.quantiles(&sa.all_counts(), &qs), sb.quantiles(&sb.all_counts(), &qs));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut ca, mut cb) = (vec![0u64; sa.values.len()], vec![0u64; sb.values.len()]);
    let mut lat_ratios: Vec<Vec<f64>> = vec![Vec::with_capacity(RESAMPLES); qs.len()];
    let mut rate_ratios = Vec::with_capacity(RESAMPLES);
    let can_resample = !sa.blocks.is_empty() && !sb.blocks.is_empty();
    let can_rate = !sa.started.is_empty() && !sb.started.is_empty();
    // Runs of the same length follow the same plan second by second (a ramp, say): resample the same
    // seconds of both, so the plan's shape is not mistaken for noise.
    let paired = sa.blocks.len() == sb.blocks.len() && sa.started.len() == sb.started.len();
    if can_resample || can_rate {
        for _ in 0..RESAMPLES {
            let (pa, ra) = (draw(sa.blocks.len(), &mut rng), draw(sa.started.len(), &mut rng));
            let (pb, rb) = if paired {
                (pa.clone(), ra.clone())
            } else {
                (draw(sb.blocks.len(), &mut rng), draw(sb.started.len(), &mut rng))
            };
            let (la, ra) = resample(&sa, &qs, &pa, &ra, &mut ca);
            let (lb, rb) = resample(&sb, &qs, &pb, &rb, &mut cb);
            for (i, r) in lat_ratios.iter_mut().enumerate() {
                if let Some(x) = ratio(la[i], lb[i]) {
                    r.push(x);
                }
            }
            if let Some(x) = ratio(ra, rb) {
                rate_ratios.push(x);
            }
        }
    }
    let mut rows = Vec::new();
    let mut lat = lat_ratios.into_iter().zip(qa.into_iter().zip(qb));
    for &m in metrics {
        let (base, value, ratios) = match m {
            Metric::Quantile(..) => match lat.next() {
                Some((r, (x, y))) => (x, y, r),
                None => (None, None, Vec::new()),
            },
            Metric::Rate => {
                (Some(a.result.rate.achieved), Some(b.result.rate.achieved), std::mem::take(&mut rate_ratios))
            }
        };
        let point = if m == Metric::Rate {
            ratio(Sample::rate(&sa.started), Sample::rate(&sb.started))
        } else {
            ratio(base, value)
        };
        let ci = point.and_then(|_| interval(ratios));
        let significant = ci.is_some_and(|(lo, hi)| lo > 1.0 || hi < 1.0);
        rows.push(Row { metric: m, base, value, ratio: point, ci, significant, no_interval: None });
    }
    rows
}

/// Compare subjects[1..] with subjects[0].
pub fn compare_subjects(subjects: Vec<Subject>, skipped: Vec<String>) -> Comparison {
    compare_subjects_with(subjects, skipped, &METRICS)
}

/// [`compare_subjects`] on the rows `metrics` (see [`metrics_with`]).
pub fn compare_subjects_with(subjects: Vec<Subject>, skipped: Vec<String>, metrics: &[Metric]) -> Comparison {
    compare_subjects_gated(subjects, skipped, metrics, &[])
}

/// [`compare_subjects_with`], with a conversation row for each percentile of the time to the first
/// reply in `first_reply` (a gate's `first_reply.p99.5`) besides p50 and p99.
pub fn compare_subjects_gated(
    subjects: Vec<Subject>,
    skipped: Vec<String>,
    metrics: &[Metric],
    first_reply: &[Metric],
) -> Comparison {
    let pairs = (1..subjects.len()).map(|subject| Pair { base: 0, subject }).collect();
    compare_pairs(subjects, pairs, skipped, metrics, first_reply)
}

/// Compare each pair of `subjects` on the rows `metrics`, with a conversation row for each percentile
/// of the time to the first reply in `first_reply` besides p50 and p99.
pub fn compare_pairs(
    subjects: Vec<Subject>,
    pairs: Vec<Pair>,
    skipped: Vec<String>,
    metrics: &[Metric],
    first_reply: &[Metric],
) -> Comparison {
    let conversation = conversation::tables(&subjects, &pairs, &conversation::first_reply_metrics(first_reply));
    let rows = pairs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (a, b) = (&subjects[p.base].target, &subjects[p.subject].target);
            compare_pair_with(a, b, SEED.wrapping_add(i as u64), metrics)
        })
        .collect();
    Comparison { subjects, pairs, rows, skipped, unpaired: Vec::new(), conversation }
}

/// Load results folders and compare: with several folders, each target of a later run against the
/// same-named target of the first (runs of one target each whatever their names; a target the other
/// run lacks is named in `unpaired` and left out); with one folder, its targets against its first
/// target. A folder that cannot be read is skipped and named in `skipped`; fewer than two remaining is
/// an error, and so is no target in common.
pub fn compare_dirs(dirs: &[PathBuf]) -> Result<Comparison, ReportError> {
    compare_dirs_with(dirs, &[])
}

/// [`compare_dirs`] with a row for each percentile of `extra` too (a `--fail-if` gate's `p99.5`).
pub fn compare_dirs_with(dirs: &[PathBuf], extra: &[Metric]) -> Result<Comparison, ReportError> {
    compare_dirs_gated(dirs, extra, &[], &|_, _| {})
}

/// [`compare_dirs_with`], with a conversation row for each first-reply percentile of `first_reply`;
/// `read(i, dir)` is told before folder `i` is read (and with `dirs.len()` before the ratios are
/// computed), for a progress line.
pub fn compare_dirs_gated(
    dirs: &[PathBuf],
    extra: &[Metric],
    first_reply: &[Metric],
    read: &dyn Fn(usize, &std::path::Path),
) -> Result<Comparison, ReportError> {
    let mut runs = Vec::new();
    let mut skipped = Vec::new();
    for (i, d) in dirs.iter().enumerate() {
        read(i, d);
        match data::load_blocked(d, MAX_BLOCKS) {
            Ok(r) => runs.push(r),
            Err(e) => skipped.push(format!("skipped {}: {e}", d.display())),
        }
    }
    let nothing = |mut msg: String, skipped: &[String]| {
        for s in skipped {
            let _ = write!(msg, "\n  {s}");
        }
        Err(ReportError::NothingToCompare(msg))
    };
    if dirs.len() == 1 && runs.is_empty() {
        return Err(ReportError::NothingToCompare(skipped.join("\n")));
    }
    if dirs.len() > 1 && runs.len() < 2 {
        let msg =
            format!("only {} of {} results folders could be read; a comparison needs two", runs.len(), dirs.len());
        return nothing(msg, &skipped);
    }
    let targets: usize = runs.iter().map(|r| r.targets.len()).sum();
    if targets < 2 {
        let msg = match dirs.len() {
            1 => format!("{}: one run with one target: give two or more results folders", dirs[0].display()),
            _ => "nothing to compare: fewer than two targets".to_string(),
        };
        return nothing(msg, &skipped);
    }
    let paired = pair_runs(runs);
    if paired.pairs.is_empty() {
        return nothing(format!("nothing to compare: {}", paired.why_none()), &[skipped, paired.unpaired].concat());
    }
    read(dirs.len(), Path::new(""));
    let mut c = compare_pairs(paired.subjects, paired.pairs, skipped, &metrics_with(extra), first_reply);
    c.unpaired = paired.unpaired;
    Ok(c)
}

/// The subjects of the runs read and what is compared with what.
struct Paired {
    subjects: Vec<Subject>,
    pairs: Vec<Pair>,
    unpaired: Vec<String>,
    /// The label of each run and the names of its targets.
    runs: Vec<(String, Vec<String>)>,
}

impl Paired {
    /// Why no pair was made: no target of a later run has a namesake in the first.
    fn why_none(&self) -> String {
        let later: Vec<&str> = self.runs[1..].iter().map(|r| r.0.as_str()).collect();
        let names = |r: &(String, Vec<String>)| format!("{}: {}", r.0, r.1.join(", "));
        let all: Vec<String> = self.runs.iter().map(names).collect();
        format!(
            "no target of {} has a namesake in {}, the baseline; the targets of different runs are compared by \
             name ({})",
            later.join(", "),
            self.runs[0].0,
            all.join("; ")
        )
    }
}

/// The subjects of `runs`, labelled by run (its name, or its folder's when another run has the same
/// name) and target, and the pairs: with one run, its later targets against its first; with several,
/// each target of a later run against the same-named target of the first run, or, when both runs
/// have one target, against that target whatever its name. A target the other run of its pair has no
/// namesake for is named in `unpaired`, and a subject in no pair is left out.
fn pair_runs(runs: Vec<data::RunData>) -> Paired {
    let names: Vec<String> = runs.iter().map(|r| r.run.name.clone()).collect();
    let unique = |n: &str| names.iter().filter(|m| *m == n).count() == 1;
    let single = runs.len() == 1;
    let mut subjects = Vec::new();
    // Per run: its label and the indices of its subjects.
    let mut of_run: Vec<(String, Vec<usize>)> = Vec::new();
    // The targets move into the subjects: a copy would double what the per-second histograms take.
    for r in runs {
        let run_label = if unique(&r.run.name) { r.run.name.clone() } else { results::files::folder_name(&r.dir) };
        let several = r.targets.len() > 1;
        let origin = format!("run {} ({})", r.run.name, results::files::folder_name(&r.dir));
        let mut indices = Vec::new();
        for t in r.targets {
            let label = match (single, several) {
                (true, _) => t.name().to_string(),
                (false, false) => run_label.clone(),
                (false, true) => format!("{run_label}/{}", t.name()),
            };
            indices.push(subjects.len());
            subjects.push(Subject { label, origin: origin.clone(), target: t });
        }
        of_run.push((run_label, indices));
    }
    let runs = of_run
        .iter()
        .map(|(l, ix)| (l.clone(), ix.iter().map(|&i| subjects[i].target.name().to_string()).collect()))
        .collect();
    let (pairs, unpaired) = if single {
        ((1..subjects.len()).map(|subject| Pair { base: 0, subject }).collect(), Vec::new())
    } else {
        pairs_by_name(&subjects, &of_run)
    };
    let (subjects, pairs) = keep_paired(subjects, pairs);
    Paired { subjects, pairs, unpaired, runs }
}

/// Each target of a later run (`of_run[1..]`) against its namesake in the first run, and the
/// targets left without one.
fn pairs_by_name(subjects: &[Subject], of_run: &[(String, Vec<usize>)]) -> (Vec<Pair>, Vec<String>) {
    let (base_label, base) = &of_run[0];
    let name = |i: usize| subjects[i].target.name();
    let (mut pairs, mut unpaired) = (Vec::new(), Vec::new());
    for (label, later) in &of_run[1..] {
        if base.len() == 1 && later.len() == 1 {
            pairs.push(Pair { base: base[0], subject: later[0] });
            continue;
        }
        for &i in later {
            match base.iter().find(|&&b| name(b) == name(i)) {
                Some(&b) => pairs.push(Pair { base: b, subject: i }),
                None => unpaired.push(format!("{}: no target named {} in {base_label}", subjects[i].label, name(i))),
            }
        }
        for &b in base.iter().filter(|&&b| !later.iter().any(|&i| name(i) == name(b))) {
            unpaired.push(format!("{}: no target named {} in {label}", subjects[b].label, name(b)));
        }
    }
    (pairs, unpaired)
}

/// The subjects that are in a pair, and the pairs renumbered to match.
fn keep_paired(subjects: Vec<Subject>, pairs: Vec<Pair>) -> (Vec<Subject>, Vec<Pair>) {
    let used: Vec<bool> = (0..subjects.len()).map(|i| pairs.iter().any(|p| p.base == i || p.subject == i)).collect();
    let mut new_index = vec![0; subjects.len()];
    let mut next = 0;
    for (i, u) in used.iter().enumerate() {
        new_index[i] = next;
        next += usize::from(*u);
    }
    let kept = subjects.into_iter().zip(&used).filter(|(_, u)| **u).map(|(s, _)| s).collect();
    let pairs = pairs.iter().map(|p| Pair { base: new_index[p.base], subject: new_index[p.subject] }).collect();
    (kept, pairs)
}

pub(crate) fn show(m: Metric, v: Option<f64>) -> String {
    match (m, v) {
        (_, None) => "-".into(),
        (Metric::Rate, Some(v)) => format!("{v:.1}/s"),
        (_, Some(v)) => fmt_us(v),
    }
}

/// A ratio with enough digits to be read: 2.00, 0.053, 0.0021, 412.
pub fn fmt_ratio(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 0.1 {
        format!("{x:.2}")
    } else if x >= 0.01 {
        format!("{x:.3}")
    } else {
        format!("{x:.4}")
    }
}

fn show_ci(r: &Row) -> String {
    match (r.ci, r.no_interval) {
        (Some((lo, hi)), _) => format!("{}–{}", fmt_ratio(lo), fmt_ratio(hi)),
        (None, Some(_)) => "n/a".into(),
        (None, None) => "-".into(),
    }
}

/// What a row means in words: "significant: slower", "within noise", …
pub(crate) fn meaning(r: &Row) -> (&'static str, &'static str) {
    match (r.ratio, r.significant) {
        (None, _) => ("neutral", "no data"),
        (Some(_), _) if r.no_interval.is_some() => ("neutral", "interval: not available (aggregate-only import)"),
        (Some(_), false) => ("neutral", "within noise"),
        (Some(x), true) => match (r.metric, x > 1.0) {
            (Metric::Rate, true) => ("pass", "higher rate"),
            (Metric::Rate, false) => ("fail", "lower rate"),
            (_, true) => ("fail", "slower"),
            (_, false) => ("pass", "faster"),
        },
    }
}

/// The headline of one subject: its most telling significant difference, e.g.
/// "cloud is 1.40× slower at p99 (95% CI 1.20–1.60)".
pub fn headline(label: &str, rows: &[Row]) -> String {
    if let Some(why) = rows.iter().find_map(|r| r.no_interval) {
        let pick = ["p99", "p50", "p99.9", "p90", "max"]
            .iter()
            .filter_map(|n| rows.iter().find(|r| r.metric.name() == *n && r.ratio.is_some()))
            .next();
        return match pick {
            Some(r) => format!(
                "{label}: {}× the baseline at {} (interval: not available, {why})",
                fmt_ratio(r.ratio.unwrap_or(1.0)),
                r.metric.name()
            ),
            None => format!("{label}: no latency figure in common with the baseline ({why})"),
        };
    }
    let pick = ["p99", "p50", "p99.9", "p90", "max"]
        .iter()
        .filter_map(|n| rows.iter().find(|r| r.metric.name() == *n && r.significant))
        .next();
    match pick {
        Some(r) => {
            let (x, (lo, hi)) = (r.ratio.unwrap_or(1.0), r.ci.unwrap_or((1.0, 1.0)));
            let (word, k, lo, hi) =
                if x >= 1.0 { ("slower", x, lo, hi) } else { ("faster", 1.0 / x, 1.0 / hi, 1.0 / lo) };
            format!(
                "{label} is {}× {word} at {} (95% CI {}–{})",
                fmt_ratio(k),
                r.metric.name(),
                fmt_ratio(lo),
                fmt_ratio(hi)
            )
        }
        None => format!("{label}: no latency difference beyond run-to-run noise"),
    }
}

/// The comparison as a terminal table: for each pair, its baseline (when it changes), the values of
/// both under their labels, the ratio and its interval.
pub fn write_text(c: &Comparison, out: &mut impl Write) -> io::Result<()> {
    for s in &c.skipped {
        writeln!(out, "{s}")?;
    }
    for u in &c.unpaired {
        writeln!(out, "not compared: {u}")?;
    }
    let mut shown: Option<usize> = None;
    for (p, rows) in c.pairs.iter().zip(&c.rows) {
        let (base, s) = (&c.subjects[p.base], &c.subjects[p.subject]);
        if shown != Some(p.base) {
            if shown.is_some() {
                writeln!(out)?;
            }
            writeln!(out, "baseline: {} — {}", base.label, base.origin)?;
            shown = Some(p.base);
        }
        writeln!(out)?;
        let w = [8, 12.max(base.label.chars().count()), 12.max(s.label.chars().count()), 8, 15];
        writeln!(out, "{}", columns(&w, ["", &base.label, &s.label, "ratio", "95% CI"]))?;
        for r in rows {
            let ratio = r.ratio.map_or("-".into(), |x| format!("{}×", fmt_ratio(x)));
            let (name, a, b, ci) = (r.metric.name(), show(r.metric, r.base), show(r.metric, r.value), show_ci(r));
            writeln!(out, "{}  {}", columns(&w, [name, &a, &b, &ratio, &ci]), meaning(r).1)?;
        }
        writeln!(out, "{}", headline(&s.label, rows))?;
    }
    let notes = latency_notes(c);
    if !notes.is_empty() {
        writeln!(out)?;
    }
    for n in notes {
        writeln!(out, "{n}")?;
    }
    let labels: Vec<&str> = c.subjects.iter().map(|s| s.label.as_str()).collect();
    let targets: Vec<&results::TargetResult> = c.subjects.iter().map(|s| &s.target.result).collect();
    let failures = failures::text(&labels, &targets);
    if !failures.is_empty() {
        write!(out, "\n{failures}")?;
    }
    Ok(())
}

/// The comparison page, with the spectrum already drawn.
pub fn html_page(c: &Comparison, gates: &[gates::GateOutcome], spectrum: &Rendered) -> String {
    let labels: Vec<&str> = c.subjects.iter().map(|s| s.label.as_str()).collect();
    let mut out = html::head(&format!("{} · wabench comparison", labels.join(" vs ")));
    let _ = writeln!(out, "<header>\n<h1>Comparison: {}</h1>", html_escape::esc(&labels.join(" vs ")));
    out.push_str(
        "<p class=\"desc\">Each subject against its baseline: the same-named target of the first run (a run's \
                  targets against its first target). A difference is called significant when the 95% bootstrap \
                  interval of the ratio, from resampling the one-second intervals, excludes 1.</p>\n",
    );
    out.push_str("<div class=\"badges\">");
    for ((_, s), rows) in c.compared().zip(&c.rows) {
        let h = headline(&s.label, rows);
        let cls = if rows.iter().any(|r| r.significant && r.metric != Metric::Rate) { "warn" } else { "neutral" };
        let _ = write!(out, "<span class=\"badge {cls}\">{}</span>", html_escape::esc(&h));
    }
    out.push_str("</div>\n");
    out.push_str(&gates_html(gates));
    for s in c.skipped.iter().chain(&latency_notes(c)) {
        let _ = writeln!(out, "<p class=\"alert\">{}</p>", html_escape::esc(s));
    }
    for u in &c.unpaired {
        let _ = writeln!(out, "<p class=\"alert\">Not compared: {}</p>", html_escape::esc(u));
    }
    out.push_str("</header>\n<section id=\"subjects\">\n<h2>Compared</h2>\n<table>\n<thead><tr><th>label</th>\
                  <th class=\"l\">from</th><th class=\"l\">endpoint</th><th>sent</th><th>errors</th></tr></thead>\n<tbody>\n");
    for s in &c.subjects {
        let r = &s.target.result;
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td></tr>",
            html_escape::esc(&s.label),
            html_escape::esc(&s.origin),
            html_escape::esc(&format!("{} ({})", r.url, r.kind)),
            r.requests.sent,
            r.requests.errors
        );
    }
    out.push_str("</tbody>\n</table>\n");
    let targets: Vec<&results::TargetResult> = c.subjects.iter().map(|s| &s.target.result).collect();
    out.push_str(&failures::fates_html(&labels, &targets));
    out.push_str(&failures::html(&labels, &targets));
    out.push_str("</section>\n");
    for ((base, s), rows) in c.compared().zip(&c.rows) {
        let _ = write!(
            out,
            "<section class=\"ratios\">\n<h2>{} vs {}</h2>\n<table>\n<thead><tr><th></th><th>{}</th><th>{}</th>\
             <th>{} ÷ {}</th><th>95% CI</th><th>verdict</th></tr></thead>\n<tbody>\n",
            html_escape::esc(&s.label),
            html_escape::esc(&base.label),
            html_escape::esc(&base.label),
            html_escape::esc(&s.label),
            html_escape::esc(&s.label),
            html_escape::esc(&base.label)
        );
        for r in rows {
            let (cls, word) = meaning(r);
            let _ = writeln!(
                out,
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{cls}\">{word}</td></tr>",
                r.metric.name(),
                html_escape::esc(&show(r.metric, r.base)),
                html_escape::esc(&show(r.metric, r.value)),
                r.ratio.map_or("-".into(), |x| format!("{}×", fmt_ratio(x))),
                show_ci(r)
            );
        }
        out.push_str("</tbody>\n</table>\n</section>\n");
    }
    conversation_html(&mut out, c);
    out.push_str("<section id=\"charts\">\n<h2>Charts</h2>\n");
    html::figure(&mut out, spectrum);
    let _ = writeln!(
        out,
        "</section>\n<footer>Bootstrap: {RESAMPLES} resamples of the one-second intervals (blocks of consecutive \
         seconds for long runs), fixed seed, 95% percentile interval. Rates compare requests started per second.</footer>"
    );
    html::script(&mut out);
    out.push_str("</body>\n</html>\n");
    out
}

/// The conversation rows of each later subject that has them: the time to the first reply and the
/// unanswered share.
fn conversation_html(out: &mut String, c: &Comparison) {
    use html_escape::esc;
    for ((base, s), rows) in c.compared().zip(&c.conversation) {
        let Some(rows) = rows else { continue };
        let _ = write!(
            out,
            "<section class=\"conversation\">\n<h2>Conversation: {} vs {}</h2>\n<p class=\"files\">Time to the bot's \
             first reply as a ratio, unanswered turns in percentage points; the intervals resample the turns (the \
             replies log holds the whole run, not its seconds).</p>\n<table>\n<thead><tr><th></th><th>{}</th>\
             <th>{}</th><th>estimate</th><th>95% CI</th><th>verdict</th></tr></thead>\n<tbody>\n",
            esc(&s.label),
            esc(&base.label),
            esc(&base.label),
            esc(&s.label)
        );
        for r in rows {
            let (cls, word) = r.meaning();
            let _ = writeln!(
                out,
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{cls}\">{word}</td></tr>",
                esc(&r.measure.name()),
                esc(&out::conversation_value(r, r.base)),
                esc(&out::conversation_value(r, r.value)),
                esc(&r.estimate.map_or("-".into(), |v| out::conversation_estimate(r, v))),
                esc(&out::conversation_ci(r)),
            );
        }
        out.push_str("</tbody>\n</table>\n</section>\n");
    }
}

/// Draw the overlaid spectrum and write `compare.html` into `out`; returns the page's path.
/// The `--fail-if` gates and how each came out, as a table (nothing without gates).
fn gates_html(gates: &[gates::GateOutcome]) -> String {
    use gates::GateVerdict;
    if gates.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "<table class=\"gates\">\n<thead><tr><th class=\"l\">gate</th><th class=\"l\">subject</th>\
         <th class=\"l\">against</th><th>estimate</th><th>95% interval</th><th class=\"l\">verdict</th></tr></thead>\n\
         <tbody>\n",
    );
    for g in gates {
        let show = |v: f64| if g.unit == "pp" { format!("{v:+.2}pp") } else { format!("{v:.3}×") };
        let ci = match (g.ci_low, g.ci_high) {
            (Some(lo), Some(hi)) => format!("{} – {}", show(lo), show(hi)),
            _ => "-".into(),
        };
        let cls = match g.verdict {
            GateVerdict::Fail => "bad",
            GateVerdict::Pass => "good",
            GateVerdict::Inconclusive | GateVerdict::NoData => "warn",
        };
        let verdict = match &g.note {
            Some(note) => format!("inconclusive: {note}"),
            None => g.verdict.label().to_string(),
        };
        let _ = writeln!(
            out,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td>\
             <td class=\"l\"><span class=\"badge {cls}\">{}</span></td></tr>",
            html_escape::esc(&g.gate),
            html_escape::esc(&g.subject),
            html_escape::esc(&g.against),
            g.estimate.map_or("-".into(), show),
            ci,
            html_escape::esc(&verdict)
        );
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

pub fn write_html(c: &Comparison, gates: &[gates::GateOutcome], out: &Path) -> Result<PathBuf, ReportError> {
    std::fs::create_dir_all(out).map_err(|e| ReportError::Write {
        path: out.to_path_buf(),
        reason: format!("cannot create the folder: {e}"),
    })?;
    let series: Vec<(String, &hdrhistogram::Histogram<u64>)> =
        c.subjects.iter().map(|s| (s.label.clone(), &s.target.total)).collect();
    let fig = figures::spectrum("compare_spectrum", "Latency by percentile", &series);
    let rendered = render::render(&fig, out)?;
    let path = out.join("compare.html");
    crate::report::write(&path, html_page(c, gates, &rendered).as_bytes())?;
    Ok(path)
}

/// One line of a terminal table of five columns: the first left-aligned, the others right-aligned,
/// each `widths[i]` wide, two spaces apart.
pub(super) fn columns(widths: &[usize; 5], cells: [&str; 5]) -> String {
    let [w0, w1, w2, w3, w4] = *widths;
    let [c0, c1, c2, c3, c4] = cells;
    format!("{c0:<w0$}  {c1:>w1$}  {c2:>w2$}  {c3:>w3$}  {c4:>w4$}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{Second, TimelineRow, histogram};

    /// 250 seconds (blocks of 3 seconds): each block holds each value once, with the counts of the block's
    /// seconds added, so a resample adds what the seconds' histograms add.
    #[test]
    fn a_block_holds_its_seconds_added_one_entry_per_value() {
        let mut seconds = Vec::new();
        let mut timeline = Vec::new();
        for s in 0..250u64 {
            let mut h = histogram();
            for i in 0..400u64 {
                h.record(1_000 + (i * 37 + s * 11) % 5_000).unwrap();
            }
            seconds.push(Second { second: s, histogram: h });
            timeline.push(TimelineRow { second: s, started: 400, ..TimelineRow::default() });
        }
        let t = TargetData::new(empty_result("t", 250.0), seconds, timeline).unwrap();
        let s = Sample::of(&t);
        assert_eq!(s.blocks.len(), 84, "250 seconds in blocks of 3");
        for (k, block) in s.blocks.iter().enumerate() {
            let idx: Vec<usize> = block.iter().map(|e| e.0).collect();
            assert!(idx.windows(2).all(|w| w[0] < w[1]), "one entry per value, in order");
            let mut added = histogram();
            for sec in &t.seconds[k * 3..(k * 3 + 3).min(250)] {
                added.add(&sec.histogram).unwrap();
            }
            let want: Vec<(usize, u64)> = added
                .iter_recorded()
                .map(|v| {
                    (
                        s.values.binary_search(&added.highest_equivalent(v.value_iterated_to())).unwrap(),
                        v.count_at_value(),
                    )
                })
                .collect();
            assert_eq!(block, &want, "block {k}");
        }
        assert_eq!(s.all_counts().iter().sum::<u64>(), t.total.len());
    }

    /// A target result of `name` that lasted `duration_s` and holds no request.
    fn empty_result(name: &str, duration_s: f64) -> crate::results::TargetResult {
        let none = serde_json::json!({"count": 0, "mean": 0.0, "p50": 0, "p90": 0, "p99": 0, "p999": 0, "max": 0});
        serde_json::from_value(serde_json::json!({
            "name": name, "kind": "http", "url": "", "model": "open", "connections": 1, "threads": 1,
            "started_at": "2026-01-01T00:00:00Z", "duration_s": duration_s, "interrupted": false,
            "requests": {"planned": null, "sent": 0, "ok": 0, "errors": 0, "dropped": 0, "cancelled": 0},
            "rate": {"requested": null, "achieved": 0.0, "ratio": null},
            "latency_us": none, "service_time_us": none, "lateness_us": none,
            "outcomes": [], "hlog": "t.hlog"
        }))
        .unwrap()
    }

    fn subject(label: &str, name: &str) -> Subject {
        let target = TargetData::new(empty_result(name, 1.0), vec![], vec![]).unwrap();
        Subject { label: label.into(), origin: String::new(), target }
    }

    /// Targets of different runs pair by name; a target without a namesake is said and left out; runs
    /// of one target each pair whatever the names.
    #[test]
    fn the_targets_of_runs_pair_by_name() {
        let subjects = vec![
            subject("a/cloud", "cloud"),
            subject("a/onprem", "onprem"),
            subject("b/onprem", "onprem"),
            subject("b/edge", "edge"),
            subject("c/cloud", "cloud"),
            subject("c/onprem", "onprem"),
        ];
        let of_run = [("a".to_string(), vec![0, 1]), ("b".to_string(), vec![2, 3]), ("c".to_string(), vec![4, 5])];
        let (pairs, unpaired) = pairs_by_name(&subjects, &of_run);
        let p = |base, subject| Pair { base, subject };
        assert_eq!(pairs, [p(1, 2), p(0, 4), p(1, 5)]);
        assert_eq!(unpaired, ["b/edge: no target named edge in a", "a/cloud: no target named cloud in b"]);
        let (kept, pairs) = keep_paired(subjects, pairs);
        let labels: Vec<&str> = kept.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["a/cloud", "a/onprem", "b/onprem", "c/cloud", "c/onprem"], "b/edge is left out");
        assert_eq!(pairs, [p(1, 2), p(0, 3), p(1, 4)]);

        let one = [subject("x", "onprem"), subject("y", "cloud")];
        let (pairs, unpaired) = pairs_by_name(&one, &[("x".into(), vec![0]), ("y".into(), vec![1])]);
        assert_eq!((pairs, unpaired.len()), (vec![p(0, 1)], 0));
    }
}
