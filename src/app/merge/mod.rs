//! Merging results: the folders of a sharded run (or of runs on several machines) become one run that
//! `report` and `compare` read like any other. Histograms are added (exact); counts are summed; the
//! per-second intervals and timelines are aligned on wall-clock seconds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;

use crate::app::AppError;

pub mod command;
mod conversation;
mod traces;
mod webhooks;

use crate::results::{
    self, Counts, Rates, Run, RunData, Summary, TargetHead, TargetResult, TimelineRow, files, histogram, hlog, timeline,
};
use crate::spec::threshold::Threshold;
pub use command::MergeArgs;

fn add(into: &mut Histogram<u64>, h: &Histogram<u64>, what: &str) -> Result<(), String> {
    into.add(h).map_err(|e| format!("{what}: values out of range: {e:?}"))
}

/// Add every histogram of a tagged interval log into `into`, by tag.
fn add_log(into: &mut BTreeMap<String, Histogram<u64>>, path: &Path) -> Result<(), String> {
    for e in hlog::read(path)?.entries {
        let tag = e.tag.unwrap_or_default();
        add(into.entry(tag).or_insert_with(histogram), &e.histogram, &path.display().to_string())?;
    }
    Ok(())
}

/// Add up every number in `b` into `a` (objects by key, arrays and other values kept from `a`).
fn add_numbers(a: &mut serde_json::Value, b: &serde_json::Value) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in y {
                match x.get_mut(k) {
                    Some(slot) => add_numbers(slot, v),
                    None => {
                        x.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Number(x), Value::Number(y)) => {
            *x = match (x.as_u64(), y.as_u64()) {
                (Some(p), Some(q)) => (p + q).into(),
                _ => serde_json::Number::from_f64(x.as_f64().unwrap_or(0.0) + y.as_f64().unwrap_or(0.0))
                    .unwrap_or_else(|| 0.into()),
            }
        }
        _ => {}
    }
}

struct Part<'a> {
    data: &'a RunData,
    result: &'a TargetResult,
    /// Whole seconds between the merged run's start and this part's start.
    offset: u64,
}

fn secs_since_epoch(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// The thresholds of the profile a part ran (recorded in its run.json), judged again on the merged run.
/// A threshold that does not parse is an error naming the file: dropping it would pass it silently.
fn thresholds_of(part: &RunData) -> Result<Vec<Threshold>, String> {
    let file = part.dir.join(files::RUN_JSON);
    let map: BTreeMap<String, String> = match part.run.profile.get("thresholds") {
        Some(table) => serde_json::from_value(table.clone()).map_err(|e| {
            format!("{}: profile.thresholds: not a table of \"metric\" = \"<op> <value>\": {e}", file.display())
        })?,
        None => BTreeMap::new(),
    };
    for (k, v) in &map {
        Threshold::parse(k, v).map_err(|e| format!("{}: profile.thresholds.{k}: {e}", file.display()))?;
    }
    // The default gate of WhatsApp targets, as the run judged it.
    let whatsapp = part.run.targets.iter().filter(|t| t.is_whatsapp()).map(|t| t.name.as_str());
    Ok(crate::spec::threshold::judged(&map, whatsapp))
}

/// Parts of one sharded run must be all of its shards, each once: a missing shard would leave its share
/// of the load out of the merged verdict.
fn check_shards(runs: &[RunData]) -> Result<(), String> {
    let shards: Vec<(usize, results::Shard)> =
        runs.iter().enumerate().filter_map(|(i, r)| r.run.shard.map(|s| (i, s))).collect();
    let Some((_, first)) = shards.first().copied() else { return Ok(()) };
    if shards.len() < runs.len() {
        return Ok(()); // runs on several machines, not shards of one plan: nothing to check
    }
    let mut seen = vec![None::<usize>; first.count as usize];
    for (i, s) in &shards {
        let dir = runs[*i].dir.display();
        if s.count != first.count || s.index >= s.count {
            return Err(format!(
                "{dir}: shard {}/{} is not a part of the same run as {} (shard {}/{})",
                s.index,
                s.count,
                runs[0].dir.display(),
                first.index,
                first.count
            ));
        }
        if let Some(j) = seen[s.index as usize].replace(*i) {
            return Err(format!("{dir}: shard {}/{} is also in {}", s.index, s.count, runs[j].dir.display()));
        }
    }
    let missing: Vec<String> =
        seen.iter().enumerate().filter(|(_, d)| d.is_none()).map(|(k, _)| format!("{k}/{}", first.count)).collect();
    if !missing.is_empty() {
        return Err(format!(
            "shard(s) {} missing: the merged run would leave their share of the load out; give every shard's folder",
            missing.join(", ")
        ));
    }
    Ok(())
}

/// A standalone receiver's folder (`wabench receive --out DIR`) to join with the parts' sends, for
/// one target (by name) or for the only target that recorded sends.
#[derive(Debug, Clone)]
pub struct Webhooks {
    pub target: Option<String>,
    pub dir: PathBuf,
}

impl Webhooks {
    /// `DIR` or `TARGET=DIR`.
    pub fn parse(s: &str) -> Webhooks {
        match s.split_once('=') {
            Some((t, d)) if !t.is_empty() && !t.contains(['/', '\\']) => {
                Webhooks { target: Some(t.to_string()), dir: PathBuf::from(d) }
            }
            _ => Webhooks { target: None, dir: PathBuf::from(s) },
        }
    }
}

/// Merge result folders into `out`; returns the merged run. Folders must hold the same targets.
/// With `force`, a folder `out` that holds a run is replaced; otherwise that is an error. Each target
/// with a receiver folder in `webhooks` gets its delivery statistics from its parts' sends and the
/// receiver's statuses.
pub fn merge_with(dirs: &[PathBuf], out: &Path, force: bool, webhooks: &[Webhooks]) -> Result<Run, AppError> {
    if dirs.len() < 2 && webhooks.is_empty() {
        return Err("merge needs at least two results folders (or one with --webhooks)".into());
    }
    let same = |d: &PathBuf| d.canonicalize().ok().zip(out.canonicalize().ok()).is_some_and(|(a, b)| a == b);
    if let Some(d) = dirs.iter().find(|d| same(d)) {
        return Err(
            format!("--out {}: that is one of the folders being merged ({})", out.display(), d.display()).into()
        );
    }
    files::check_claim(out, force)?;
    check_distinct(dirs)?;
    // Without per-second histograms: `merge_seconds` streams them from each part's interval log, so that
    // memory does not grow with the parts' length or number.
    let runs: Vec<RunData> = dirs.iter().map(|d| results::folder::load_totals(d)).collect::<Result<_, _>>()?;
    for r in &runs {
        if let Some(t) = r.run.targets.iter().find(|t| t.imported.as_ref().is_some_and(|i| i.aggregate_only)) {
            return Err(format!(
                "{}: target {:?} is an aggregate-only import: it has no histograms to add up, so it cannot be merged",
                r.dir.display(),
                t.name
            )
            .into());
        }
    }
    check_same_run(&runs)?;
    check_shards(&runs)?;
    let first = &runs[0];
    let names: Vec<&str> = first.run.targets.iter().map(|t| t.name.as_str()).collect();
    for r in &runs[1..] {
        let other: Vec<&str> = r.run.targets.iter().map(|t| t.name.as_str()).collect();
        if other != names {
            return Err(format!(
                "{}: targets {:?} differ from {:?} in {}: only parts of the same run can be merged",
                r.dir.display(),
                other,
                names,
                first.dir.display()
            )
            .into());
        }
    }
    let receivers = webhooks::assign(&runs, &names, webhooks)?;
    // Built in a temporary folder beside `out` and moved there only when complete: a merge that fails
    // leaves no partial results.
    let tmp = files::TempFolder::beside(out, "merge")?;
    let run = merge_into(&runs, &names, &receivers, &tmp.path)?;
    tmp.finish(out, force)?;
    Ok(run)
}

/// The same folder given twice (by another path, or a copy of it) would count its requests twice.
fn check_distinct(dirs: &[PathBuf]) -> Result<(), String> {
    let mut seen: Vec<(PathBuf, &PathBuf)> = Vec::new();
    for d in dirs {
        // One that cannot be resolved is named by the reading that follows.
        let Ok(canon) = d.canonicalize() else { continue };
        if let Some((_, first)) = seen.iter().find(|(c, _)| *c == canon) {
            return Err(format!(
                "{} is the folder {} given again: merging it twice would count its requests twice",
                d.display(),
                first.display()
            ));
        }
        seen.push((canon, d));
    }
    Ok(())
}

/// Parts must be different runs (a copy of a folder has its run's name, start, machine and shard) of
/// one profile: shards of the same plan (same profile, seed and shard count), or whole runs on several
/// machines (same targets, of the same kinds).
fn check_same_run(runs: &[RunData]) -> Result<(), String> {
    let id = |r: &RunData| (r.run.name.clone(), r.run.started_at, r.run.machine.hostname.clone(), r.run.shard);
    for (i, r) in runs.iter().enumerate() {
        if let Some(o) = runs[..i].iter().find(|o| id(o) == id(r)) {
            return Err(format!(
                "{} holds the same run as {} (run {:?} started {} on {}): merging it twice would count its requests twice",
                r.dir.display(),
                o.dir.display(),
                r.run.name,
                r.run.started_at,
                r.run.machine.hostname
            ));
        }
    }
    let first = &runs[0];
    for r in &runs[1..] {
        let differ = |what: &str| {
            format!(
                "{}: {what} differs from {}: these folders cannot be parts of one run",
                r.dir.display(),
                first.dir.display()
            )
        };
        if r.run.shard.is_some() != first.run.shard.is_some() {
            return Err(differ("being a shard (run.json shard)"));
        }
        if r.run.shard.is_some() && (r.run.profile != first.run.profile || r.run.seed != first.run.seed) {
            return Err(differ("the profile the shard ran (run.json profile and seed)"));
        }
        let kinds = |d: &RunData| d.run.targets.iter().map(|t| t.kind.clone()).collect::<Vec<_>>();
        if kinds(r) != kinds(first) {
            return Err(differ("the kinds of the targets"));
        }
    }
    Ok(())
}

fn merge_into(runs: &[RunData], names: &[&str], receivers: &[Option<PathBuf>], out: &Path) -> Result<Run, AppError> {
    let first = &runs[0];
    let mut timeline = Vec::new();
    timeline::write_header(&mut timeline).map_err(|e| e.to_string())?;
    let mut targets = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let base = runs.iter().map(|r| r.run.targets[i].started_at).min().expect("two runs or more");
        let parts: Vec<Part> = runs
            .iter()
            .map(|r| {
                let t = &r.run.targets[i];
                let offset = (secs_since_epoch(t.started_at) - secs_since_epoch(base)).round().max(0.0) as u64;
                Part { data: r, result: t, offset }
            })
            .collect();
        let mut t = merge_target(name, &parts, i, base, out, &mut timeline)?;
        if let Some(dir) = &receivers[i] {
            let sends: Vec<PathBuf> = runs.iter().map(|r| r.dir.join(files::sends_name(name))).collect();
            let stats = webhooks::delivery(&first.run, name, &sends, dir, base.into(), t.duration_s, out)?;
            t.delivery = Some(stats);
        }
        targets.push(t);
    }
    results::write_atomic(&out.join(files::TIMELINE), &timeline).map_err(|e| e.to_string())?;

    let ths = thresholds_of(first)?;
    let verdicts =
        crate::app::thresholds::evaluate_all(&ths, &targets, crate::app::thresholds::Histograms::folder(out));
    let mut machine = first.run.machine.clone();
    let mut hosts: Vec<String> = runs.iter().map(|r| r.run.machine.hostname.clone()).collect();
    hosts.dedup();
    machine.hostname = hosts.join(", ");
    machine.cpus = runs.iter().map(|r| r.run.machine.cpus).sum();
    let run = Run {
        schema_version: results::SCHEMA_VERSION,
        tool: first.run.tool.clone(),
        name: first.run.name.clone(),
        description: Some(format!(
            "{} ({})",
            first.run.description.clone().unwrap_or_else(|| first.run.name.clone()),
            match runs.len() {
                1 => "with the statuses of a standalone receiver".to_string(),
                n => format!("merged from {n} parts"),
            }
        )),
        profile_file: first.run.profile_file.clone(),
        profile: first.run.profile.clone(),
        seed: first.run.seed,
        started_at: runs.iter().map(|r| r.run.started_at).min().expect("runs"),
        ended_at: runs.iter().map(|r| r.run.ended_at).max().expect("runs"),
        interrupted: runs.iter().any(|r| r.run.interrupted),
        machine,
        passed: verdicts.iter().all(|v| v.passed),
        thresholds: verdicts,
        targets,
        aborted: runs.iter().find_map(|r| r.run.aborted.clone()),
        shard: None,
        overrides: first.run.overrides.clone(),
        // Each part was steered on its own (a shard's dashboard): every action, in time order.
        operator: {
            let mut all: Vec<_> = runs.iter().flat_map(|r| r.run.operator.clone()).collect();
            all.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
            all
        },
        imported: first.run.imported.clone().map(|mut i| {
            i.files = runs.iter().flat_map(|r| r.run.imported.iter().flat_map(|i| i.files.clone())).collect();
            i
        }),
    };
    results::write_run(out, &run).map_err(|e| format!("{}: {e}", out.join("run.json").display()))?;
    Ok(run)
}

/// One part's per-second intervals of a target, read from its interval log in file order and placed on
/// the merged run's seconds.
struct Seconds {
    reader: hlog::Reader<std::io::BufReader<results::bounded::Capped<std::fs::File>>>,
    path: PathBuf,
    offset: u64,
    /// The next interval: (merged second, histogram).
    next: Option<(u64, Histogram<u64>)>,
}

impl Seconds {
    fn open(part: &Part<'_>, index: usize, name: &str) -> Result<Seconds, String> {
        let path = part.data.dir.join(&part.data.targets[index].result.hlog);
        let reader = hlog::Reader::open(&path).map_err(|e| e.to_string())?;
        let mut s = Seconds { reader, path, offset: part.offset, next: None };
        s.advance(name)?;
        Ok(s)
    }

    /// Read the next interval of target `name` (a log's intervals of other tags are not its own).
    fn advance(&mut self, name: &str) -> Result<(), String> {
        self.next = None;
        while let Some(e) = self.reader.next_entry().map_err(|e| e.to_string())? {
            if e.tag.as_deref().is_none_or(|t| t == name) {
                // Offsets and starts are at most ten years each (`read_run`, `hlog::Reader`): no overflow.
                self.next = Some((self.offset.saturating_add(e.start.as_secs()), e.histogram));
                break;
            }
        }
        Ok(())
    }
}

/// Per-second histograms and timeline rows, aligned on the merged run's seconds: `<target>.hlog` and
/// the target's rows of `timeline.csv`. The parts' logs are read side by side, one second at a time
/// (each is in time order, as runs write them), so that memory holds one histogram per part whatever
/// the run's length.
fn merge_seconds(
    name: &str,
    parts: &[Part<'_>],
    index: usize,
    base: SystemTime,
    out: &Path,
    timeline: &mut Vec<u8>,
) -> Result<(), String> {
    let mut rows: BTreeMap<u64, TimelineRow> = BTreeMap::new();
    for p in parts {
        for r in &p.data.targets[index].timeline {
            let second = p.offset + r.second;
            rows.entry(second).or_insert_with(|| TimelineRow { second, ..TimelineRow::default() }).add_counts(r);
        }
    }
    let seconds = rows.keys().next_back().map_or(0, |l| l + 1);
    let bar = crate::app::progress::bar(&format!("merge {name}"), seconds, crate::app::progress::Unit::Items);
    bar.set_message(format!("seconds of {} parts", parts.len()));
    let mut rows = rows.into_iter().peekable();
    let mut streams: Vec<Seconds> = parts.iter().map(|p| Seconds::open(p, index, name)).collect::<Result<_, _>>()?;
    let path = out.join(files::hlog_name(name));
    let tmp = files::partial(&path);
    let named = |e: std::io::Error| format!("{}: {e}", path.display());
    let file = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(named)?);
    let mut log = hlog::IntervalWriter::begin(file, base, &format!("wabench merged interval log, target {name}"))
        .map_err(named)?;
    let mut last: Option<u64> = None;
    while let Some(second) = streams.iter().filter_map(|s| s.next.as_ref().map(|n| n.0)).min() {
        if last.is_some_and(|l| second <= l) {
            let back = streams.iter().find(|s| s.next.as_ref().is_some_and(|n| n.0 == second)).expect("the minimum");
            return Err(format!(
                "{}: the interval of second {} comes after a later one: an interval log must be in time order",
                back.path.display(),
                second - back.offset
            ));
        }
        let mut h = histogram();
        for s in &mut streams {
            while let Some((k, part)) = &s.next {
                if *k != second {
                    break;
                }
                add(&mut h, part, name)?;
                s.advance(name)?;
            }
        }
        while let Some((_, r)) = rows.next_if(|(k, _)| *k < second) {
            r.with_latency(None).write(timeline, name).map_err(|e| e.to_string())?;
        }
        if let Some((_, r)) = rows.next_if(|(k, _)| *k == second) {
            r.with_latency(Some(&h)).write(timeline, name).map_err(|e| e.to_string())?;
        }
        log.write(name, Duration::from_secs(second), Duration::from_secs(1), &h).map_err(named)?;
        last = Some(second);
        bar.set_position(second + 1);
    }
    bar.finish_and_clear();
    for (_, r) in rows {
        r.with_latency(None).write(timeline, name).map_err(|e| e.to_string())?;
    }
    let mut file = log.into_inner().into_inner().map_err(|e| named(e.into_error()))?;
    std::io::Write::flush(&mut file).map_err(named)?;
    file.sync_all().map_err(named)?;
    std::fs::rename(&tmp, &path).map_err(named)
}

/// Whole-run histograms: from each part's totals log when present (exact for every histogram), else
/// the latency from its interval log; written to `<target>.totals.hlog`.
fn merge_totals(
    name: &str,
    parts: &[Part<'_>],
    index: usize,
    base: SystemTime,
    out: &Path,
) -> Result<BTreeMap<String, Histogram<u64>>, String> {
    let mut totals: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    for p in parts {
        let path = p.data.dir.join(files::totals_name(name));
        if path.exists() {
            add_log(&mut totals, &path)?;
        } else {
            let td = &p.data.targets[index];
            add(totals.entry("latency".into()).or_insert_with(histogram), &td.total, name)?;
        }
    }
    let length = Duration::from_secs_f64(parts.iter().map(|p| p.result.duration_s).fold(0.0, f64::max));
    let mut buf = Vec::new();
    hlog::write_map(&mut buf, base, "wabench merged whole-run histograms (µs)", &totals, length)
        .map_err(|e| e.to_string())?;
    results::write_atomic(&out.join(files::totals_name(name)), &buf).map_err(|e| e.to_string())?;
    Ok(totals)
}

fn merge_target(
    name: &str,
    parts: &[Part<'_>],
    index: usize,
    base: DateTime<Utc>,
    out: &Path,
    timeline: &mut Vec<u8>,
) -> Result<TargetResult, String> {
    let base_time: SystemTime = base.into();
    merge_seconds(name, parts, index, base_time, out, timeline)?;
    let totals = merge_totals(name, parts, index, base_time, out)?;
    let mut counts = Counts::default();
    let mut outcome_counts: BTreeMap<String, u64> = BTreeMap::new();
    let (mut requested, mut achieved) = (None::<f64>, 0.0);
    let mut extra: Option<serde_json::Value> = None;
    let mut delivery: Option<serde_json::Value> = None;
    for p in parts {
        counts.add(&p.result.requests);
        for o in &p.result.outcomes {
            *outcome_counts.entry(o.key.clone()).or_insert(0) += o.count;
        }
        if let Some(q) = p.result.rate.requested {
            requested = Some(requested.unwrap_or(0.0) + q);
        }
        achieved += p.result.rate.achieved;
        if let Some(x) = &p.result.extra {
            match &mut extra {
                None => extra = Some(x.clone()),
                Some(e) => add_numbers(e, x),
            }
        }
        if let Some(d) = &p.result.delivery {
            let v = serde_json::to_value(d).map_err(|e| e.to_string())?;
            match &mut delivery {
                None => delivery = Some(v),
                Some(acc) => add_numbers(acc, &v),
            }
        }
    }
    let first = parts[0].result;
    let head = TargetHead {
        name: name.to_string(),
        kind: first.kind.clone(),
        url: first.url.clone(),
        model: first.model.clone(),
        connections: parts.iter().map(|p| p.result.connections).sum(),
        threads: parts.iter().map(|p| p.result.threads).sum(),
        started_at: base,
        duration_s: parts.iter().map(|p| p.offset as f64 + p.result.duration_s).fold(0.0, f64::max),
        interrupted: parts.iter().any(|p| p.result.interrupted),
    };
    let rate = Rates { requested, achieved, ratio: requested.map(|q| achieved / q) };
    let mut r = TargetResult::build(head, counts, rate, outcome_counts, &totals);
    r.extra = extra;
    r.imported = first.imported.clone();
    r.delivery = match delivery {
        Some(d) => Some(merge_delivery(name, parts, d, base_time, out)?),
        None => None,
    };
    let length = Duration::try_from_secs_f64(r.duration_s).unwrap_or_default();
    r.conversation = conversation::merge(name, parts, base_time, length, out)?;
    let costs: Vec<&crate::results::cost::TargetCost> = parts.iter().filter_map(|p| p.result.cost.as_ref()).collect();
    r.cost = crate::results::cost::TargetCost::merged(&costs);
    r.stopped = parts.iter().find_map(|p| p.result.stopped.clone());
    r.tracing = traces::merge(name, parts, out)?;
    Ok(r)
}

/// Delivery statistics: counters summed, percentiles recomputed from the parts' delivery logs added.
fn merge_delivery(
    name: &str,
    parts: &[Part<'_>],
    mut summed: serde_json::Value,
    base: SystemTime,
    out: &Path,
) -> Result<results::DeliveryStats, String> {
    use crate::results::LatencySummary;
    let mut hists: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    for p in parts {
        let path = p.data.dir.join(files::delivery_hlog_name(name));
        if path.exists() {
            add_log(&mut hists, &path)?;
        }
    }
    let p = |tag: &str| hists.get(tag).map(Summary::of).unwrap_or_default();
    let latency = LatencySummary {
        accept_to_sent: p("accept_to_sent"),
        accept_to_delivered: p("accept_to_delivered"),
        accept_to_read: p("accept_to_read"),
        send_start_to_delivered: p("send_start_to_delivered"),
    };
    summed["latency_us"] = serde_json::to_value(&latency).map_err(|e| e.to_string())?;
    let entries: Vec<(String, Duration, Duration, &Histogram<u64>)> =
        hists.iter().map(|(t, h)| (t.clone(), Duration::ZERO, Duration::from_secs(1), h)).collect();
    let mut buf = Vec::new();
    hlog::write_tagged(&mut buf, base, "wabench merged delivery latencies (µs)", &entries)
        .map_err(|e| e.to_string())?;
    results::write_atomic(&out.join(files::delivery_hlog_name(name)), &buf).map_err(|e| e.to_string())?;
    serde_json::from_value(summed).map_err(|e| format!("merging delivery statistics of {name}: {e}"))
}
