//! Deterministic results folders for the report tests: a `Run`, one interval log per target and a
//! timeline, all from fixed numbers (no load is run, no clock is read).

use std::path::Path;
use std::time::{Duration, SystemTime};

use chrono::{TimeZone, Utc};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use wabench::app::thresholds::Histograms;
use wabench::results::conversation::ConversationStats;
use wabench::results::timeline::HEADER as TIMELINE_HEADER;
use wabench::results::{Counts, Machine, OutcomeResult, Rates, Run, SCHEMA_VERSION, TargetResult, Tool};
use wabench::results::{Second, TargetData, TimelineRow};
use wabench::results::{Summary, histogram};
use wabench::spec::threshold::Threshold;

/// How one fixture target behaves, second by second.
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    pub seconds: u64,
    /// Requests per second.
    pub rate: u64,
    /// Latencies are `base_us` times a fixed spread (1× to about 8×, a long tail).
    pub base_us: u64,
    /// Every n-th request is an error of this outcome key (and has no latency when it carries no response).
    pub errors: Vec<(u64, &'static str)>,
    /// Requests dropped per second.
    pub dropped: u64,
    /// Open loop (a requested rate) or closed loop.
    pub open: bool,
}

impl Spec {
    pub fn new(name: &str, base_us: u64) -> Spec {
        Spec { name: name.into(), seconds: 20, rate: 100, base_us, errors: Vec::new(), dropped: 0, open: true }
    }
}

/// The latency of request `i`: a fixed, skewed spread around `base`.
pub fn latency(base: u64, i: u64) -> u64 {
    let u = ((i.wrapping_mul(2_654_435_761)) % 10_000) as f64 / 10_000.0;
    (base as f64 * (1.0 + 7.0 * u.powi(6)) + (i % 13) as f64).round() as u64
}

fn has_response(key: &str) -> bool {
    key.starts_with("http_") || key.starts_with("api_")
}

/// The per-second histograms, timeline rows and totals of a spec.
pub fn target(spec: &Spec) -> TargetData {
    let mut seconds = Vec::new();
    let mut rows = Vec::new();
    let mut counts: std::collections::BTreeMap<String, (u64, Histogram<u64>)> = Default::default();
    let mut i = 0u64;
    for s in 0..spec.seconds {
        let mut h = histogram();
        let (mut ok, mut errors) = (0, 0);
        for _ in 0..spec.rate {
            i += 1;
            let key = spec.errors.iter().find(|(n, _)| i.is_multiple_of(*n)).map_or("ok", |e| e.1);
            let v = latency(spec.base_us, i);
            let e = counts.entry(key.to_string()).or_insert_with(|| (0, histogram()));
            e.0 += 1;
            if key == "ok" {
                ok += 1;
            } else {
                errors += 1;
            }
            if key == "ok" || has_response(key) {
                h.record(v).expect("in range");
                e.1.record(v).expect("in range");
            }
        }
        let q = |p: f64| (!h.is_empty()).then(|| h.value_at_quantile(p));
        rows.push(TimelineRow {
            second: s,
            requested: spec.open.then_some(spec.rate + spec.dropped),
            started: spec.rate,
            ok,
            errors,
            dropped: spec.dropped,
            p50_us: q(0.5),
            p90_us: q(0.9),
            p99_us: q(0.99),
            max_us: (!h.is_empty()).then(|| h.max()),
        });
        seconds.push(Second { second: s, histogram: h });
    }
    if spec.dropped > 0 {
        counts.insert("dropped".into(), (spec.dropped * spec.seconds, histogram()));
    }
    let mut total = histogram();
    for s in &seconds {
        total.add(&s.histogram).expect("same bounds");
    }
    let sent = spec.rate * spec.seconds;
    let ok = counts.get("ok").map_or(0, |c| c.0);
    let dropped = spec.dropped * spec.seconds;
    let mut lateness = histogram();
    for k in 0..sent.min(500) {
        lateness.record(50 + k % 200).expect("in range");
    }
    let result = TargetResult {
        name: spec.name.clone(),
        kind: "http".into(),
        url: format!("http://127.0.0.1:8080/{}", spec.name),
        model: if spec.open { "open".into() } else { "closed".into() },
        connections: 16,
        threads: 1,
        started_at: Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).single().expect("valid date"),
        duration_s: spec.seconds as f64,
        interrupted: false,
        requests: Counts {
            planned: spec.open.then_some(sent + dropped),
            sent,
            retries: 0,
            ok,
            errors: sent - ok,
            dropped,
            cancelled: 0,
            ..Counts::default()
        },
        rate: Rates {
            requested: spec.open.then_some((spec.rate + spec.dropped) as f64),
            achieved: spec.rate as f64,
            ratio: spec.open.then_some(spec.rate as f64 / (spec.rate + spec.dropped) as f64),
        },
        latency_us: Summary::of(&total),
        service_time_us: Summary::of(&total),
        lateness_us: Summary::of(&lateness),
        outcomes: counts
            .into_iter()
            .map(|(key, (count, h))| OutcomeResult {
                latency_us: (key == "ok" || has_response(&key)).then(|| Summary::of(&h)),
                key,
                count,
            })
            .collect(),
        hlog: format!("{}.hlog", spec.name),
        connection_phases: None,
        delivery: None,
        conversation: None,
        webhook_slo: None,
        extra: None,
        imported: None,
        cost: None,
        stopped: None,
        tracing: None,
    };
    TargetData::new(result, seconds, rows).expect("histograms share bounds")
}

/// A run of the given targets, with thresholds evaluated on them.
pub fn run(name: &str, description: Option<&str>, targets: &[TargetData], thresholds: &[(&str, &str)]) -> Run {
    let results: Vec<TargetResult> = targets.iter().map(|t| t.result.clone()).collect();
    let mut verdicts = Vec::new();
    for (k, v) in thresholds {
        let th = Threshold::parse(k, v).expect("valid threshold");
        verdicts.extend(wabench::app::thresholds::evaluate(&th, &results, Histograms::NONE));
    }
    let passed = verdicts.iter().all(|v| v.passed);
    Run {
        schema_version: SCHEMA_VERSION,
        tool: Tool { name: "wabench".into(), version: "0.1.0".into() },
        name: name.into(),
        description: description.map(str::to_string),
        profile_file: "profiles/fixture.toml".into(),
        profile: serde_json::json!({"name": name}),
        seed: 42,
        started_at: Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).single().expect("valid date"),
        ended_at: Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 41).single().expect("valid date"),
        interrupted: false,
        machine: Machine { hostname: "bench-1".into(), os: "linux".into(), arch: "x86_64".into(), cpus: 2 },
        targets: results,
        thresholds: verdicts,
        passed,
        aborted: None,
        shard: None,
        overrides: Vec::new(),
        operator: Vec::new(),
        imported: None,
    }
}

/// Write a results folder: run.json, one interval log per target, timeline.csv.
pub fn write(dir: &Path, run: &Run, targets: &[TargetData]) {
    std::fs::create_dir_all(dir).expect("create the folder");
    wabench::results::write_run(dir, run).expect("write run.json");
    let mut csv = format!("{TIMELINE_HEADER}\n");
    for t in targets {
        let mut bytes = Vec::new();
        let mut ser = V2DeflateSerializer::new();
        let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_740_830_400);
        let mut log = IntervalLogWriterBuilder::new()
            .with_start_time(base)
            .with_base_time(base)
            .with_max_value_divisor(1000.0)
            .begin_log_with(&mut bytes, &mut ser)
            .expect("start the log");
        for s in &t.seconds {
            log.write_histogram(
                &s.histogram,
                Duration::from_secs(s.second),
                Duration::from_secs(1),
                Tag::new(t.name()),
            )
            .expect("write an interval");
        }
        drop(log);
        std::fs::write(dir.join(&t.result.hlog), bytes).expect("write the log");
        if let Some(h) = &t.replies {
            let mut bytes = Vec::new();
            let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_740_830_400);
            wabench::results::conversation::write_hlog(
                &mut bytes,
                h,
                &[],
                start,
                Duration::from_secs(t.result.duration_s as u64),
            )
            .expect("write the replies log");
            std::fs::write(dir.join(format!("{}.replies.hlog", t.name())), bytes).expect("write the replies log");
        }
        for r in &t.timeline {
            let o = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_default();
            csv.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{}\n",
                t.name(),
                r.second,
                o(r.requested),
                r.started,
                r.ok,
                r.errors,
                r.dropped,
                o(r.p50_us),
                o(r.p90_us),
                o(r.p99_us),
                o(r.max_us)
            ));
        }
    }
    std::fs::write(dir.join("timeline.csv"), csv).expect("write the timeline");
}

/// The main fixture: Cloud API and On-Premises targets with errors of several codes, a dropped
/// trickle, thresholds that pass and fail, and text that must be escaped.
pub fn cloud_vs_onprem(dir: &Path) -> Run {
    let mut cloud = Spec::new("cloud", 180_000);
    cloud.errors = vec![(97, "http_503"), (211, "api_131056")];
    cloud.dropped = 2;
    let mut onprem = Spec::new("onprem", 95_000);
    onprem.errors = vec![(151, "timeout")];
    let targets = vec![target(&cloud), target(&onprem)];
    let run = run(
        "cloud-vs-onprem",
        Some("Send text messages <b>100/s</b> & compare \"Cloud\" with On-Prem <script>alert(1)</script>"),
        &targets,
        &[("latency.p99", "< 2s"), ("cloud:error_rate", "< 1%")],
    );
    write(dir, &run, &targets);
    run
}

/// A run whose only target never got a response: every request failed to connect.
pub fn all_failed(dir: &Path) -> Run {
    let mut s = Spec::new("down", 1000);
    s.seconds = 5;
    s.rate = 20;
    s.errors = vec![(1, "connect_error")];
    let targets = vec![target(&s)];
    let run = run("all-failed", None, &targets, &[("error_rate", "< 1%")]);
    write(dir, &run, &targets);
    run
}

/// `t` with the latencies of the seconds `which` picks multiplied by `factor` (counts unchanged).
pub fn slower(t: &TargetData, factor: f64, which: impl Fn(u64) -> bool) -> TargetData {
    let mut seconds = t.seconds.clone();
    for s in seconds.iter_mut().filter(|s| which(s.second)) {
        let mut h = histogram();
        for v in s.histogram.iter_recorded() {
            let scaled = (s.histogram.highest_equivalent(v.value_iterated_to()) as f64 * factor).round() as u64;
            h.record_n(scaled, v.count_at_value()).expect("in range");
        }
        s.histogram = h;
    }
    TargetData::new(t.result.clone(), seconds, t.timeline.clone()).expect("same bounds")
}

/// `t` with `n` more of the requests of second `s` answered with an error instead of ok.
pub fn more_errors(t: &TargetData, s: u64, n: u64) -> TargetData {
    let mut t = t.clone();
    let row = t.timeline.iter_mut().find(|r| r.second == s).expect("a second of the run");
    let n = n.min(row.ok);
    row.ok -= n;
    row.errors += n;
    t.result.requests.ok -= n;
    t.result.requests.errors += n;
    t
}

/// `t` as a conversation target: `stats` in run.json with the summary of `replies`, the time-to-first-reply
/// histogram that [`write`] puts in `<target>.replies.hlog`.
pub fn conversation(t: &TargetData, mut stats: ConversationStats, replies: Histogram<u64>) -> TargetData {
    let mut t = t.clone();
    t.result.kind = "conversation".into();
    stats.reply_latency_us = Summary::of(&replies);
    t.result.conversation = Some(stats);
    t.replies = Some(replies);
    t
}

/// Write a results folder of one target named `name` and return its path.
pub fn folder(root: &Path, name: &str, t: &TargetData) -> std::path::PathBuf {
    let dir = root.join(name);
    write(&dir, &run(name, None, std::slice::from_ref(t), &[]), std::slice::from_ref(t));
    dir
}
