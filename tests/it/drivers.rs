//! The WhatsApp drivers against the embedded simulator: every error code the simulator can provoke is
//! classified by its code, and retried (or not) as the code's policy says, with retries counted apart.

use std::collections::BTreeMap;

use wabench::app::run::{Options, run_profile};

/// Run a profile; return (outcome counts, sent, retries) of its only target.
fn run(text: &str, files: &[(&str, &str)]) -> (BTreeMap<String, u64>, u64, u64) {
    let run = crate::support::common::run_in_tempdir(text, files);
    let t = &run.targets[0];
    let counts = t.outcomes.iter().map(|o| (o.key.clone(), o.count)).collect();
    assert_eq!(t.requests.ok + t.requests.errors + t.requests.cancelled, t.requests.sent + t.requests.retries);
    (counts, t.requests.sent, t.requests.retries)
}

const FAST: &str = "[simulator.latency]\ndistribution = \"constant\"\nmedian = \"1ms\"\n";

fn profile(kind: &str, rate: u32, extra: &str) -> String {
    format!(
        "name = \"codes\"\n[load]\nrate = {rate}\nduration = \"1s\"\nconnections = 8\ndrain = \"2s\"\n[retry]\nmax_attempts = 3\nbackoff = \"50ms\"\nunavailable_wait = \"200ms\"\n{FAST}{extra}\n[[targets]]\nname = \"t\"\nkind = \"{kind}\"\nbase_url = \"embedded\"\n"
    )
}

/// Run a profile with status webhooks; return its only target's result.
fn run_with_webhooks(text: &str, files: &[(&str, &str)]) -> wabench::results::TargetResult {
    let text = format!("{text}\n[webhooks]\nlisten = \"127.0.0.1:0\"\ngrace = \"10s\"\n");
    crate::support::common::run_in_tempdir(&text, files).targets[0].clone()
}

const QUIET_HOOKS: &str = "[simulator.webhooks]\nsent = { distribution = \"constant\", median = \"10ms\" }\ndelivered = { distribution = \"constant\", median = \"10ms\" }\nread_fraction = 0.0\nduplicate_fraction = 0.0\nout_of_order_fraction = 0.0\ndelivered_and_failed_fraction = 0.0\n";

#[test]
fn recipient_failures_are_accepted_then_reported_in_webhooks_never_retried() {
    // Recipients by suffix: 0000 undeliverable (131026), 4747 a window that never opens (131047 for
    // non-templates), a Cuban number (sanctioned: 131026), a Turkish one (allowed). Windows are off,
    // so only the 4747 number's stays closed.
    let csv = "phone\n+15550010000\n+15550014747\n+5355501234\n+905550123456\n";
    let extra = format!(
        "[recipients]\nfile = \"r.csv\"\n[messages]\ntext = 1\n[simulator.service_window]\nenabled = false\n{QUIET_HOOKS}"
    );
    let t = run_with_webhooks(&profile("cloud", 40, &extra), &[("r.csv", csv)]);
    assert_eq!((t.requests.sent, t.requests.ok, t.requests.retries), (40, 40, 0), "all accepted at send");
    let d = t.delivery.as_ref().unwrap();
    assert_eq!(d.messages_failed_by_code, BTreeMap::from([(131026, 20), (131047, 10)]), "{d:?}");
    assert_eq!(d.messages_delivered, 10);
    let f = wabench::results::failures::of(&t, 131047);
    assert_eq!((f.at_send, f.in_webhook), (0, 10));
}

#[test]
fn marketing_template_limit_is_reported_in_webhooks() {
    let csv = "+15550014949\n";
    let extra = format!(
        "[recipients]\nfile = \"r.csv\"\n[messages]\ntext = 0\ntemplate = 1\n[simulator.cloud]\npair_limit = {{ enabled = false }}\n{QUIET_HOOKS}"
    );
    let t = run_with_webhooks(&profile("cloud", 10, &extra), &[("r.csv", csv)]);
    assert_eq!((t.requests.ok, t.requests.retries), (10, 0));
    assert_eq!(t.delivery.as_ref().unwrap().messages_failed_by_code, BTreeMap::from([(131049, 10)]));
}

#[test]
fn throughput_limit_is_retried_with_backoff() {
    // 5 messages/s allowed, 30 offered in one second: the rest get 130429 and are retried.
    let (c, sent, retries) = run(&profile("cloud", 30, "[simulator.cloud]\nthroughput_mps = 5\n"), &[]);
    assert_eq!(sent, 30);
    assert!(c.get("api_130429").copied().unwrap_or(0) >= 20, "{c:?}");
    assert!(retries >= 20, "throttled messages are retried: {retries}");
    assert!(retries <= 2 * 30, "at most max_attempts - 1 retries each");
}

#[test]
fn pair_rate_limit_is_retried() {
    // One recipient, 20 messages in a second: beyond the burst allowance the pair limit answers 131056.
    let csv = "+15550012345\n";
    let (c, _, retries) = run(
        &profile(
            "cloud",
            20,
            "[recipients]\nfile = \"r.csv\"\n[simulator.cloud.pair_limit]\nenabled = true\ninterval = \"6s\"\nburst = 5\n",
        ),
        &[("r.csv", csv)],
    );
    assert!(c.get("api_131056").copied().unwrap_or(0) >= 10, "{c:?}");
    assert!(retries > 0);
}

#[test]
fn downtime_answers_code_2_and_is_waited_out() {
    // Down for the first 600 ms: code 2 (HTTP 503), retried after unavailable_wait (200 ms).
    let (c, sent, retries) =
        run(&profile("cloud", 20, "[[simulator.downtime]]\nstart = \"0s\"\nduration = \"600ms\"\n"), &[]);
    assert_eq!(sent, 20);
    assert!(c.get("api_2").copied().unwrap_or(0) >= 5, "{c:?}");
    assert!(retries >= 5);
    assert!(c.get("ok").copied().unwrap_or(0) >= 15, "after the downtime messages go through: {c:?}");
}

#[test]
fn bad_token_is_190_and_not_retried() {
    // The simulator accepts only its own token: the target's (from its token file) is not one of them.
    let (c, _, retries) = run(
        &profile("cloud", 10, "[simulator.cloud]\ntokens = [\"the-only-valid-token\"]\n")
            .replace("base_url = \"embedded\"\n", "base_url = \"embedded\"\ntoken_file = \"token.txt\"\n"),
        &[("token.txt", "invalid-token-for-test\n")],
    );
    assert_eq!(c.get("api_190"), Some(&10), "{c:?}");
    assert_eq!(retries, 0);
}

#[test]
fn onprem_request_limit_1015_is_retried() {
    // /v1/messages allows 5 requests/s with a burst of 5: 40 in a second mostly get 1015.
    let (c, sent, retries) =
        run(&profile("onprem", 40, "[simulator.onprem]\nmessages_rps = 5\nmessages_burst = 5\n"), &[]);
    assert_eq!(sent, 40);
    assert!(c.get("api_1015").copied().unwrap_or(0) >= 20, "{c:?}");
    assert!(retries >= 20);
}

#[test]
fn onprem_overload_1016_when_one_shard_is_swamped() {
    let (c, _, _) = run(
        &profile(
            "onprem",
            200,
            "[simulator.onprem]\nshards = 1\nper_shard_mps = 10.0\nmessages_rps = 0\noverload_queue_delay = \"300ms\"\n",
        ),
        &[],
    );
    assert!(c.get("api_1016").copied().unwrap_or(0) >= 50, "{c:?}");
}

#[test]
fn onprem_token_expiry_logs_in_again() {
    // Tokens live 300 ms: the session renews them before expiry (or after a 401) and messages go through.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(
        &path,
        profile("onprem", 20, "[simulator.onprem]\ntoken_ttl = \"300ms\"\nmessages_rps = 0\n")
            .replace("duration = \"1s\"", "duration = \"2s\""),
    )
    .unwrap();
    let loaded = wabench::spec::load(&path).unwrap();
    let rx = wabench::Shutdown::new();
    let f =
        run_profile(&loaded, &Options { out: Some(dir.path().join("out")), ..Options::new(dir.path()) }, rx).unwrap();
    let t = &f.run.targets[0];
    let logins = t.extra.as_ref().and_then(|e| e["logins"].as_u64()).unwrap();
    assert!(logins >= 3, "the session logged in {logins} times in 2 s with a 300 ms token");
    assert!(t.requests.ok >= 36, "{:?}", t.outcomes);
}

#[test]
fn a_burst_to_one_recipient_is_retried_per_4_to_the_x_without_stalling_the_others() {
    // One connection; A gets every other message (8 in a second), B1..B4 two each. The pair limit
    // (1.5 s, bursts of 2) takes A's first two and puts A in debt until 3 s; the other six get 131056.
    // Each is retried after 50 ms × 4^X: at +50 ms, +250 ms and +1.05 s (all refused: A is still in
    // debt), and the next one, +4.25 s, would be due after the run's 1 s + 2 s drain, so it is not
    // sent. While A's messages wait, the one connection keeps serving B1..B4 on schedule.
    let csv = "+15550010001\n+15550020001\n+15550010001\n+15550020002\n+15550010001\n+15550020003\n+15550010001\n+15550020004\n";
    let text = format!(
        "name = \"pair\"\n[load]\nrate = 16\nduration = \"1s\"\nconnections = 1\ndrain = \"2s\"\n[retry]\nmax_attempts = 6\npair_backoff = \"50ms\"\n{FAST}[simulator.cloud]\npair_limit = {{ enabled = true, interval = \"1.5s\", burst = 2 }}\n[recipients]\nfile = \"r.csv\"\n[[targets]]\nname = \"t\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n"
    );
    let (c, sent, retries) = run(&text, &[("r.csv", csv)]);
    assert_eq!(sent, 16);
    assert_eq!(c.get("dropped"), None, "no message waited behind a retry: {c:?}");
    assert_eq!(c.get("ok"), Some(&10), "B1..B4's eight and A's first two: {c:?}");
    assert_eq!(retries, 18, "three retries for each of A's six refused messages: {c:?}");
    assert_eq!(c.get("api_131056"), Some(&24), "{c:?}");
}

/// Twenty ordinary recipients (no rule of the simulator's refuses them).
fn twenty_recipients() -> String {
    (0..20).map(|i| format!("+1555003{i:04}1\n")).collect()
}

fn transient_profile(kind: &str, extra: &str) -> String {
    format!(
        "name = \"transient\"\n[load]\nrate = 100\nduration = \"1s\"\nconnections = 8\ntimeout = \"500ms\"\ndrain = \"2s\"\n[retry]\nmax_attempts = 6\nbackoff = \"20ms\"\n[recipients]\nfile = \"r.csv\"\n{FAST}{extra}\n[[targets]]\nname = \"t\"\nkind = \"{kind}\"\nbase_url = \"embedded\"\n"
    )
}

#[test]
fn cloud_transient_131000_at_5_percent_is_classified_and_retried() {
    let text = transient_profile("cloud", "[simulator.transient]\ncloud = { server_error = 0.05 }\n");
    let (c, sent, retries) = run(&text, &[("r.csv", &twenty_recipients())]);
    assert_eq!(sent, 100);
    let failed = c.get("api_131000").copied().unwrap_or(0);
    assert!(failed >= 1, "{c:?}");
    assert_eq!(retries, failed, "every 131000 answer is retried: {c:?}");
    assert_eq!(c.get("ok"), Some(&100), "and every message then goes through: {c:?}");
}

#[test]
fn onprem_transient_errors_differ_by_kind_and_follow_their_policies() {
    // On-Premises rates of their own: 1014 (HTTP 500), 5xx without a body, stalls past the 500 ms timeout.
    let text = transient_profile(
        "onprem",
        "[simulator.onprem]\nmessages_rps = 0\n[simulator.transient]\nstall_for = \"2s\"\nonprem = { server_error = 0.05, bare_5xx = 0.05, stall = 0.05 }\ncloud = { server_error = 1.0 }\n",
    );
    let (c, sent, retries) = run(&text, &[("r.csv", &twenty_recipients())]);
    assert_eq!(sent, 100);
    let get = |k: &str| c.get(k).copied().unwrap_or(0);
    let (internal, bare, stalled) =
        (get("api_1014"), get("http_502") + get("http_503") + get("http_504"), get("timeout"));
    assert!(internal >= 1 && bare >= 1 && stalled >= 1, "{c:?}");
    assert_eq!(get("api_131000"), 0, "the Cloud rates do not apply to the On-Premises API: {c:?}");
    // 1014 and bare 5xx are retried with back-off; a timed-out send is not (it may have gone through).
    assert_eq!(retries, internal + bare, "{c:?}");
    assert_eq!(get("ok") + stalled, 100, "{c:?}");
}
