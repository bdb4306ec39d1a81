//! Capacity planning: the breakpoint search finds the simulator's configured capacity.

use wabench::app::capacity as plan;
use wabench::spec::capacity::PlanSpec;

#[test]
fn breakpoint_search_finds_the_configured_capacity() {
    // One on-premises shard that processes 50 messages/s, constant 2 ms service latency: below 50/s
    // nothing queues; above it the backlog (and latency) grows for the whole step.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.toml");
    std::fs::write(
        &path,
        r#"name = "capacity"
[load]
connections = 64
timeout = "5s"
drain = "1s"
[recipients]
country_code = "44"
count = 5000
[simulator.latency]
distribution = "constant"
median = "2ms"
[simulator.onprem]
shards = 1
per_shard_mps = 50.0
messages_rps = 0
overload_queue_delay = "5s"
[plan]
slo_p99 = "100ms"
max_error_rate = 0.01
start_rate = 20
growth = 1.5
step = "2s"
refine = 4
target_rate = 180
[[targets]]
name = "onprem"
kind = "onprem"
base_url = "embedded"
"#,
    )
    .unwrap();
    let loaded = wabench::spec::load(&path).unwrap();
    let spec: PlanSpec = loaded.profile.plan.clone().unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let mut lines = Vec::new();
    let bps = plan::search(&loaded, &spec, rx, &mut |l| lines.push(l.to_string())).unwrap();
    let b = &bps[0];
    let found = b.sustainable.expect("a sustainable rate");
    assert!((45.0..=55.0).contains(&found), "found {found}/s for a capacity of 50/s; steps: {lines:#?}");
    assert!(b.broke_at.unwrap() > found);
    assert_eq!(lines.len(), b.steps.len());
    // Sizing: 180/s at ~50/s per shard needs 4 shards.
    assert!(b.advice.iter().any(|a| a.contains("for 180 messages/s: 4 shards")), "{:#?}", b.advice);
    let out = dir.path().join("out");
    plan::write(&out, &bps).unwrap();
    let csv = std::fs::read_to_string(out.join("steps.csv")).unwrap();
    assert_eq!(csv.lines().count(), b.steps.len() + 1);
    assert!(std::fs::read_to_string(out.join("plan.txt")).unwrap().contains("highest rate within the SLO"));
}
