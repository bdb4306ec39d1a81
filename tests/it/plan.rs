//! Capacity planning: the breakpoint search finds the simulator's configured capacity, names the
//! limit that binds there, and gives advice that fits that limit and the simulator's configuration.

use wabench::app::plan::binding::Limit;
use wabench::app::plan::{self, Breakpoint};
use wabench::spec::capacity::PlanSpec;

/// Search the breakpoint of the one target of `profile` (on-premises, embedded).
fn search(profile: &str) -> (Breakpoint, Vec<String>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.toml");
    std::fs::write(&path, profile).unwrap();
    let loaded = wabench::spec::load(&path).unwrap();
    let spec: PlanSpec = loaded.profile.plan.clone().unwrap();
    let rx = wabench::Shutdown::new();
    let mut lines = Vec::new();
    let bps = plan::search(&loaded, &spec, rx, &mut |l| lines.push(l.to_string())).unwrap();
    assert_eq!(lines.len(), bps[0].steps.len());
    (bps.into_iter().next().unwrap(), lines, dir)
}

/// A profile: constant 2 ms service latency, `onprem` settings and a `plan` table of short steps.
fn profile(onprem: &str, plan: &str) -> String {
    format!(
        r#"name = "capacity"
[load]
connections = 512
timeout = "5s"
drain = "1s"
[recipients]
country_code = "44"
count = 5000
[simulator.latency]
distribution = "constant"
median = "2ms"
[simulator.onprem]
{onprem}
[plan]
max_error_rate = 0.01
growth = 1.5
step = "2s"
{plan}
[[targets]]
name = "onprem"
kind = "onprem"
base_url = "embedded"
"#
    )
}

#[test]
fn breakpoint_search_finds_the_configured_capacity() {
    // One on-premises shard that processes 50 messages/s, no request limiter: below 50/s nothing
    // queues; above it the backlog (and latency) grows for the whole step: at r/s the last of a 2 s
    // step waits (r − 50)·2/50 s, so a p99 of 500 ms breaks near 62/s. The SLO is wide so that a
    // machine busy with other work (scheduling delays of a few hundred milliseconds were seen with
    // three compilers beside the test) does not break steps below the capacity.
    let (b, lines, dir) = search(&profile(
        "shards = 1\nper_shard_mps = 50.0\nmessages_rps = 0\noverload_queue_delay = \"5s\"",
        "slo_p99 = \"500ms\"\nstart_rate = 20\nrefine = 4\ntarget_rate = 180",
    ));
    let found = b.sustainable.expect("a sustainable rate");
    assert!((45.0..=68.0).contains(&found), "found {found}/s for a capacity of 50/s; steps: {lines:#?}");
    assert!(b.broke_at.unwrap() > found);
    assert_eq!(b.binding.as_ref().unwrap().limit, Limit::CoreApp, "{:#?}", b.binding);
    // Sizing at the simulator's own per-shard rate (linear): 180/s at ~50/s per shard needs 4 shards.
    assert!(b.advice.iter().any(|a| a.contains("for 180 messages/s: 4 shards")), "{:#?}", b.advice);
    let out = dir.path().join("out");
    plan::write(&out, std::slice::from_ref(&b)).unwrap();
    let csv = std::fs::read_to_string(out.join("steps.csv")).unwrap();
    assert_eq!(csv.lines().count(), b.steps.len() + 1);
    let txt = std::fs::read_to_string(out.join("plan.txt")).unwrap();
    assert!(txt.contains("highest rate within the SLO") && txt.contains("binding limit: the CoreApp shards"), "{txt}");
}

#[test]
fn eight_shards_behind_enough_webapps_carry_metas_rate_and_the_shards_bind() {
    // Meta's multiconnect sizing: 8 shards ≈ 125 messages/s (100–150), behind three WebApps that
    // admit 150 requests/s together. Short steps overshoot a little (queues have little time to grow).
    let (b, lines, _dir) =
        search(&profile("shards = 8\nwebapps = 3", "slo_p99 = \"1s\"\nstart_rate = 60\nrefine = 2\ntarget_rate = 200"));
    let found = b.sustainable.expect("a sustainable rate");
    assert!((100.0..=160.0).contains(&found), "found {found}/s for 8 shards ≈ 125/s; steps: {lines:#?}");
    let f = b.binding.as_ref().unwrap();
    assert_eq!(f.limit, Limit::CoreApp, "{f:?}\n{lines:#?}");
    let all = b.advice.join("\n");
    assert!(all.contains("8 CoreApp shard(s) processing ≈125 messages/s, behind 3 WebApp(s)"), "{all}");
    assert!(all.contains("the CoreApp shards bind; add shards"), "{all}");
    assert!(!all.contains("add WebApps"), "{all}");
    // 200/s: more shards (scaled by Meta's sizing), fed by four WebApps at 50 requests/s.
    let sizing = b.advice.iter().find(|a| a.starts_with("for 200 messages/s:")).expect(&all);
    assert!(sizing.contains("shards") && sizing.contains("behind 4 WebApps (50 requests/s each)"), "{sizing}");
}

#[test]
fn the_same_shards_behind_one_webapp_are_bound_by_its_request_limiter() {
    // One WebApp admits 50 requests/s; a burst of 10 (instead of 150) keeps 2 s steps from being
    // carried by the burst. The 8 shards behind it could process 125 messages/s.
    let (b, lines, _dir) = search(&profile(
        "shards = 8\nwebapps = 1\nmessages_burst = 10",
        "slo_p99 = \"1s\"\nstart_rate = 30\nrefine = 2\ntarget_rate = 100",
    ));
    let found = b.sustainable.expect("a sustainable rate");
    assert!((40.0..=58.0).contains(&found), "found {found}/s behind one 50 requests/s WebApp; steps: {lines:#?}");
    let f = b.binding.as_ref().unwrap();
    assert_eq!(f.limit, Limit::RequestLimiter, "{f:?}\n{lines:#?}");
    assert!(f.evidence.contains("api_1015"), "{}", f.evidence);
    let all = b.advice.join("\n");
    assert!(all.contains("the request limiter binds; add WebApps, not shards"), "{all}");
    assert!(all.contains("for 100 messages/s: 2 WebApps in front of the same 8 shards"), "{all}");
    assert!(!all.contains("32 shards") && !all.contains("add shards"), "{all}");
}

#[test]
fn the_profile_written_for_more_numbers_runs_clean_as_the_plan_measured_it() {
    // capacity.toml's messages (80% text) to simulated users whose windows are all closed: the
    // plan's steps do not track delivery, so neither does the profile it writes for 3 numbers.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("capacity.toml");
    let text = r#"name = "capacity"
seed = 7
[load]
connections = 32
drain = "1s"
[messages]
text = 80
template = 20
[recipients]
country_code = "1"
count = 20000
[plan]
start_rate = 40
max_rate = 40
step = "2s"
target_rate = 200
[[targets]]
name = "cloud"
kind = "cloud"
base_url = "embedded"
"#;
    std::fs::write(&path, text).unwrap();
    let out = dir.path().join("plan");
    let (p, o) = (path.to_str().unwrap(), out.to_str().unwrap());
    let (code, stdout, stderr) = crate::support::common::wabench(&["plan", p, "--out", o]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let written = out.join("cloud-3-numbers.toml");
    let toml = std::fs::read_to_string(&written).unwrap_or_else(|e| panic!("{e}\n{stdout}"));
    let head: Vec<&str> = toml.lines().take_while(|l| l.starts_with('#')).collect();
    assert!(head.len() >= 3 && head.iter().all(|l| l.starts_with("# ") && !l.starts_with("#  ")), "{toml}");
    assert!(head.iter().all(|l| l.len() <= 100), "{toml}");
    // No password of the simulator's on-premises account (nor any other) is written down.
    assert!(!toml.contains("secret\"") && !toml.contains("password"), "{toml}");
    let generated = wabench::spec::load(&written).unwrap();
    let p = &generated.profile;
    assert_eq!(p.targets[0].phone_number_ids.len(), 3);
    assert_eq!((p.load.rate, p.retry.max_attempts), (Some(200.0), 1), "a step of the plan: each message once");
    assert!(p.webhooks.as_ref().is_some_and(|w| !w.enabled), "delivery not tracked, as in the plan's steps");
    // It validates without a warning, and runs within its default gate.
    let (code, stdout, stderr) = crate::support::common::wabench(&["validate", written.to_str().unwrap()]);
    assert!(code == 0 && !stdout.contains("warning") && !stderr.contains("warning"), "{stdout}\n{stderr}");
    let res = dir.path().join("run");
    let (code, stdout, stderr) = crate::support::common::wabench(&[
        "run",
        written.to_str().unwrap(),
        "--out",
        res.to_str().unwrap(),
        "--quiet",
        "--no-report",
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let run = wabench::results::read_run(&res).unwrap();
    assert_eq!(run.targets[0].requests.sent, 400, "200/s for the step's 2 s");
}
