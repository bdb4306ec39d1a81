//! Writes synthetic results folders, exactly as `wabench run` writes them (run.json, `<target>.hlog`
//! with one interval per second, `<target>.totals.hlog`, timeline.csv), for measuring what reports
//! and merges cost on long runs without running them: `benches/cost_growth.sh`.
//!
//! Usage: `synth_results OUT SECONDS [RATE=10000] [SHARDS=1] [SEED=42]`
//!
//! One target, `cloud`, at RATE requests/s for SECONDS seconds. Latencies are seeded log-normal
//! (median ≈ 4 ms, p99 ≈ 20 ms, as the embedded simulator answers at 10k requests/s with
//! `latency.median = "2ms"`), a slow drift over the run and 0.1 % `http_503` answers. With SHARDS > 1,
//! OUT gets one folder per shard (`shard<i>of<N>`), each with every N-th request of the schedule and
//! `shard` set in run.json, as `wabench run --shard i/N` writes them; `wabench merge` joins them.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, TimeZone, Utc};
use hdrhistogram::Histogram;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution as _, LogNormal};
use wabench::app::thresholds::Histograms;
use wabench::results::{
    self, Counts, Machine, Rates, Run, SCHEMA_VERSION, Shard, TargetHead, TargetResult, TimelineRow, Tool, histogram,
    hlog, outcome_tag, timeline,
};
use wabench::spec::threshold::Threshold;

const TARGET: &str = "cloud";

fn arg<T: std::str::FromStr>(args: &[String], i: usize, default: T) -> T {
    args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: synth_results OUT SECONDS [RATE=10000] [SHARDS=1] [SEED=42]");
        std::process::exit(2);
    }
    let out = Path::new(&args[0]);
    let seconds: u64 = arg(&args, 1, 60);
    let rate: u64 = arg(&args, 2, 10_000);
    let shards: u32 = arg(&args, 3, 1);
    let seed: u64 = arg(&args, 4, 42);
    let start = Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).single().expect("a valid date");
    if shards <= 1 {
        write_folder(out, seconds, rate, None, seed, start).unwrap_or_else(|e| fail(out, e));
    } else {
        for i in 0..shards {
            let dir = out.join(format!("shard{i}of{shards}"));
            let shard = Shard { index: i, count: shards };
            write_folder(&dir, seconds, rate, Some(shard), seed, start).unwrap_or_else(|e| fail(&dir, e));
        }
    }
}

fn fail(dir: &Path, e: std::io::Error) -> ! {
    eprintln!("synth_results: {}: {e}", dir.display());
    std::process::exit(1);
}

/// Requests of second `s` that fall to `shard` (every N-th request of the whole schedule).
fn share(rate: u64, s: u64, shard: Option<Shard>) -> u64 {
    let Some(sh) = shard else { return rate };
    let (first, end) = (s * rate, (s + 1) * rate);
    let n = u64::from(sh.count);
    // Messages k below `k` with k % n == index.
    let count_to = |k: u64| (k + n - 1 - u64::from(sh.index)) / n;
    count_to(end) - count_to(first)
}

fn write_folder(
    dir: &Path,
    seconds: u64,
    rate: u64,
    shard: Option<Shard>,
    seed: u64,
    start: DateTime<Utc>,
) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    let index = shard.map_or(0, |s| s.index);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (u64::from(index) << 32) ^ 0x5eed);
    // Log-normal with median 4 ms and p99 20 ms: sigma = ln(p99 / median) / z(0.99).
    let lognormal = LogNormal::new((4_000f64).ln(), (5f64).ln() / 2.326).expect("valid parameters");
    let base: SystemTime = start.into();

    let hlog_path = dir.join(results::hlog_name(TARGET));
    let mut log = hlog::IntervalWriter::begin(
        BufWriter::new(fs::File::create(&hlog_path)?),
        base,
        &format!("wabench {} interval log, target {TARGET}, latency in µs from the intended start", "0.1.0"),
    )?;
    let mut tl = BufWriter::new(fs::File::create(dir.join("timeline.csv"))?);
    timeline::write_header(&mut tl)?;

    let mut totals: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    for tag in [results::TAG_LATENCY, results::TAG_SERVICE_TIME, results::TAG_LATENESS] {
        totals.insert(tag.to_string(), histogram());
    }
    let (mut ok, mut errors) = (0u64, 0u64);
    let mut second = histogram();
    let mut ok_h = histogram();
    let mut err_h = histogram();
    for s in 0..seconds {
        second.reset();
        let n = share(rate, s, shard);
        // A slow drift (±15 % over about 10 minutes) so that seconds differ as in a real run.
        let drift = 1.0 + 0.15 * (s as f64 / 100.0).sin();
        let (mut s_ok, mut s_err) = (0u64, 0u64);
        for _ in 0..n {
            let late = 20 + (rng.random::<f64>().powi(4) * 3_000.0) as u64;
            let service = (lognormal.sample(&mut rng) * drift).clamp(200.0, 30_000_000.0) as u64;
            let latency = service + late;
            let failed = rng.random_range(0..1000u32) == 0;
            second.record(latency).expect("in range");
            totals.get_mut(results::TAG_LATENCY).expect("inserted").record(latency).expect("in range");
            totals.get_mut(results::TAG_SERVICE_TIME).expect("inserted").record(service).expect("in range");
            totals.get_mut(results::TAG_LATENESS).expect("inserted").record(late).expect("in range");
            if failed {
                s_err += 1;
                err_h.record(latency).expect("in range");
            } else {
                s_ok += 1;
                ok_h.record(latency).expect("in range");
            }
        }
        ok += s_ok;
        errors += s_err;
        log.write(TARGET, Duration::from_secs(s), Duration::from_secs(1), &second)?;
        TimelineRow { second: s, requested: Some(n), started: n, ok: s_ok, errors: s_err, ..Default::default() }
            .with_latency(Some(&second))
            .write(&mut tl, TARGET)?;
    }
    let mut w = log.into_inner();
    w.flush()?;
    drop(w);
    tl.flush()?;
    drop(tl);
    totals.insert(outcome_tag("ok"), ok_h);
    if errors > 0 {
        totals.insert(outcome_tag("http_503"), err_h);
    }
    let mut buf = Vec::new();
    hlog::write_map(
        &mut buf,
        base,
        "wabench whole-run histograms (µs): latency, service_time, lateness, outcome:<key>",
        &totals,
        Duration::from_secs(seconds),
    )?;
    results::write_atomic(&dir.join(results::totals_name(TARGET)), &buf)?;

    let sent = ok + errors;
    let duration = seconds as f64;
    let per_shard_rate = rate as f64 / f64::from(shard.map_or(1, |s| s.count));
    let head = TargetHead {
        name: TARGET.into(),
        kind: "cloud".into(),
        url: "embedded".into(),
        model: "open".into(),
        connections: 64 / shard.map_or(1, |s| s.count).min(64),
        threads: 2,
        started_at: start,
        duration_s: duration,
        interrupted: false,
    };
    let counts =
        Counts { planned: Some(sent), sent, retries: 0, ok, errors, dropped: 0, cancelled: 0, ..Counts::default() };
    let achieved = sent as f64 / duration.max(1e-9);
    let rates = Rates { requested: Some(per_shard_rate), achieved, ratio: Some(achieved / per_shard_rate) };
    let mut outcomes = vec![("ok".to_string(), ok)];
    if errors > 0 {
        outcomes.push(("http_503".to_string(), errors));
    }
    let mut target = TargetResult::build(head, counts, rates, outcomes, &totals);
    target.extra = Some(serde_json::json!({"simulator": {
        "accepted": ok, "requests": sent, "other_ok": 0, "errors": {},
        "http_status": {"200": ok, "503": errors},
    }}));
    let thresholds: Vec<(&str, &str)> = vec![("latency.p99", "< 2s"), ("error_rate", "< 1%")];
    let verdicts: Vec<_> = thresholds
        .iter()
        .flat_map(|(k, v)| {
            let t = Threshold::parse(k, v).expect("a valid threshold");
            wabench::app::thresholds::evaluate(&t, std::slice::from_ref(&target), Histograms::NONE)
        })
        .collect();
    let run = Run {
        schema_version: SCHEMA_VERSION,
        tool: Tool { name: "wabench".into(), version: env!("CARGO_PKG_VERSION").into() },
        name: "cost-synthetic".into(),
        description: Some(format!("synthetic: {seconds} s at {rate} requests/s (examples/synth_results.rs)")),
        profile_file: "synthetic.toml".into(),
        profile: serde_json::json!({
            "name": "cost-synthetic",
            "seed": seed,
            "load": {"model": "open", "rate": rate, "duration": format!("{seconds}s"), "connections": 64},
            "targets": [{"name": TARGET, "kind": "cloud", "base_url": "embedded"}],
            "thresholds": thresholds.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
        }),
        seed,
        started_at: start,
        ended_at: start + chrono::Duration::seconds(seconds as i64),
        interrupted: false,
        machine: Machine::this(),
        targets: vec![target],
        passed: verdicts.iter().all(|v| v.passed),
        thresholds: verdicts,
        aborted: None,
        shard,
        overrides: Vec::new(),
        operator: Vec::new(),
        imported: None,
    };
    results::write_run(dir, &run)
}
