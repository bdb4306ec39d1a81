//! The simulator's conversation rules end to end: failures after accept as `failed` status webhooks
//! (Cloud and On-Premises shapes), customer service windows opened by generated inbound messages,
//! the messaging limit tier, and the two shipped profiles that show the difference.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::StatusCode;
use serde_json::Value;
use wabench::sim::{Flavor, SimConfig, spawn_local};
use wabench::spec::sim::MessagingTier;
use wabench::webhook::{ReceiverConfig, Tracker, TrackerConfig};

use crate::support::recorder::recorder;
use crate::support::sim::{Client, assert_cloud_success, login, onprem_text, template_to, text_to};

/// Every POST body received.
/// Zero latency, no throughput or pair limits, webhooks without delays or anomalies to `url`.
fn config(flavor: Flavor, url: String) -> SimConfig {
    crate::support::sim::prompt_hooks(flavor, url, 0.0)
}

use crate::support::sim::wait_for;

/// Every status object of the recorded bodies, by message id.
fn statuses(bodies: &[Bytes], cloud: bool) -> BTreeMap<String, Vec<Value>> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for b in bodies {
        let v: Value = serde_json::from_slice(b).unwrap();
        let list = if cloud { &v["entry"][0]["changes"][0]["value"]["statuses"] } else { &v["statuses"] };
        for s in list.as_array().into_iter().flatten() {
            out.entry(s["id"].as_str().unwrap().to_string()).or_default().push(s.clone());
        }
    }
    out
}

#[tokio::test]
async fn cloud_failures_after_accept_arrive_as_failed_statuses_with_the_documented_errors() {
    let (url, bodies) = recorder().await;
    let sim = spawn_local(config(Flavor::Cloud, url)).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let mut ids = BTreeMap::new();
    for (to, body, code) in [
        ("+15551230001", text_to("+15551230001"), Some(131047)), // nobody wrote: window closed
        ("+15550010000", template_to("+15550010000"), Some(131026)), // undeliverable
        ("+15551234949", template_to("+15551234949"), Some(131049)), // marketing limit
        ("+15551230002", template_to("+15551230002"), None),     // templates need no window
    ] {
        let r = c.send(&body).await;
        assert_cloud_success(&r, to);
        ids.insert(r.json["messages"][0]["id"].as_str().unwrap().to_string(), code);
    }
    wait_for("a final status per message", || statuses(&bodies.lock().unwrap(), true).len() == 4).await;
    wait_for("every status posted", || {
        let h = sim.stats().webhooks;
        h.statuses_posted == h.statuses_planned
    })
    .await;
    let by_id = statuses(&bodies.lock().unwrap(), true);
    for (id, code) in &ids {
        let kinds: Vec<&str> = by_id[id].iter().map(|s| s["status"].as_str().unwrap()).collect();
        match code {
            Some(code) => {
                assert_eq!(kinds, vec!["failed"], "no sent/delivered for a message that failed: {kinds:?}");
                let e = &by_id[id][0]["errors"][0];
                assert_eq!(e["code"], *code);
                assert!(e["title"].is_string() && e["message"].is_string(), "{e}");
                assert!(e["error_data"]["details"].is_string() && e["href"].is_string(), "{e}");
            }
            None => assert_eq!(kinds, vec!["sent", "delivered"]),
        }
    }
    let st = sim.stats();
    assert_eq!(st.failed_later, BTreeMap::from([(131026, 1), (131047, 1), (131049, 1)]));
    assert!(st.errors.is_empty(), "{:?}", st.errors);
    let _ = sim.shutdown().await;
}

#[tokio::test]
async fn onprem_reengagement_is_an_unsigned_failed_status_470() {
    let (url, bodies) = recorder().await;
    let sim = spawn_local(config(Flavor::OnPrem, url)).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let token = login(&mut c).await;
    let r = c.post("/v1/messages", Some(&token), &onprem_text("15551230001")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let id = r.json["messages"][0]["id"].as_str().unwrap().to_string();
    wait_for("the failed status", || statuses(&bodies.lock().unwrap(), false).contains_key(&id)).await;
    let by_id = statuses(&bodies.lock().unwrap(), false);
    let s = &by_id[&id][0];
    assert_eq!(s["status"], "failed");
    assert_eq!(s["errors"][0]["code"], 470);
    assert!(s["errors"][0]["title"].as_str().unwrap().contains("24 hours"));
    let _ = sim.shutdown().await;
}

#[tokio::test]
async fn inbound_messages_open_windows_and_the_receiver_counts_them() {
    let tracker = Tracker::new(TrackerConfig::default());
    let receiver = wabench::webhook::spawn_local(ReceiverConfig::default(), tracker.clone()).await.unwrap();
    let mut cfg = config(Flavor::Cloud, format!("http://{}/webhook", receiver.addr));
    cfg.inbound.rate = 200.0;
    cfg.inbound.max_messages = 20;
    cfg.inbound.users = vec!["15551230001".into()];
    let sim = spawn_local(cfg).await.unwrap();
    wait_for("inbound webhooks received", || tracker.snapshot().inbound_messages == 20).await;
    let mut c = Client::connect(&sim).await;
    assert_cloud_success(&c.send(&text_to("+15551230001")).await, "+15551230001");
    assert!(sim.stats().failed_later.is_empty(), "the user wrote: the reply delivers");
    assert_cloud_success(&c.send(&text_to("+15551230002")).await, "+15551230002");
    assert_eq!(sim.stats().failed_later, BTreeMap::from([(131047, 1)]), "another user did not");
    let rc = receiver.counters();
    assert_eq!((rc.inbound_messages, rc.malformed), (20, 0));
    assert_eq!((sim.stats().inbound, sim.stats().webhooks.inbound_messages), (20, 20));
    let _ = sim.shutdown().await;
    receiver.stop().await.unwrap();
}

#[tokio::test]
async fn inbound_messages_take_the_numbers_throughput() {
    let (url, _) = recorder().await;
    let mut cfg = config(Flavor::Cloud, url);
    cfg.cloud.throughput_mps = 2;
    cfg.inbound.rate = 1000.0;
    cfg.inbound.max_messages = 100_000;
    cfg.inbound.phone_number_id = Some("1234567890".into());
    let sim = spawn_local(cfg).await.unwrap();
    wait_for("inbound traffic", || sim.stats().inbound >= 50).await;
    let mut c = Client::connect(&sim).await;
    let throttled = {
        let mut n = 0;
        for _ in 0..3 {
            n += u32::from(c.send(&template_to("+15551230003")).await.code() == 130429);
        }
        n
    };
    assert!(throttled >= 2, "inbound messages used the number's 2 messages/s: {throttled} of 3 throttled");
    let _ = sim.shutdown().await;
}

#[tokio::test]
async fn templates_beyond_the_messaging_tier_fail_later_for_new_users_only() {
    let (url, _) = recorder().await;
    let mut cfg = config(Flavor::Cloud, url);
    cfg.messaging_limit.tier = MessagingTier::T250;
    let sim = spawn_local(cfg).await.unwrap();
    let mut c = Client::connect(&sim).await;
    // Numbers 0001..0260 (one ending 0000 would be undeliverable: 131026).
    for i in 1..=260 {
        let to = format!("+1555300{i:04}");
        assert_cloud_success(&c.send(&template_to(&to)).await, &to);
    }
    assert_eq!(sim.stats().failed_later, BTreeMap::from([(131048, 10)]), "250 unique users, then the limit");
    assert_cloud_success(&c.send(&template_to("+15553000001")).await, "+15553000001");
    assert_eq!(sim.stats().failed_later.get(&131048), Some(&10), "a user already counted is not a new one");
    let _ = sim.shutdown().await;
}

/// Run a shipped profile as it is.
fn run_shipped(name: &str) -> wabench::results::Run {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles").join(name);
    let loaded = wabench::spec::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let opts = wabench::RunOptions { out: Some(dir.path().join("out")), ..wabench::RunOptions::new(dir.path()) };
    let rx = wabench::Shutdown::new();
    let f = wabench::run_profile(&loaded, &opts, rx).unwrap();
    assert!(f.error.is_none(), "{:?}", f.error);
    f.run
}

#[test]
fn template_campaign_profile_has_no_reengagement_failures() {
    let run = run_shipped("template-campaign.toml");
    let t = &run.targets[0];
    let d = t.delivery.as_ref().expect("webhooks measured");
    // Judged by the default gate, on sends and webhooks: it passes, as the messages were delivered.
    assert_eq!(run.thresholds.len(), 1, "{:?}", run.thresholds);
    assert_eq!(run.thresholds[0].threshold, "error_rate < 2% (default)");
    assert!(run.passed, "{:?}", run.thresholds);
    assert_eq!(t.requests.ok, t.requests.sent);
    assert_eq!(
        wabench::results::failures::of(t, 131047),
        wabench::results::CodeFailures { code: 131047, at_send: 0, in_webhook: 0 }
    );
    // The generated recipient +1 555 0000 0000 ends in 0000: undeliverable (131026), nothing else fails.
    let failed = &d.messages_failed_by_code;
    assert!(failed.keys().all(|c| *c == 131026), "{failed:?}");
    assert_eq!(d.messages_delivered + failed.values().sum::<u64>(), t.requests.sent, "{failed:?}");
}

#[test]
fn support_replies_profile_shows_131047_for_closed_windows_in_webhooks() {
    let run = run_shipped("support-replies.toml");
    let t = &run.targets[0];
    let d = t.delivery.as_ref().expect("webhooks measured");
    assert_eq!(t.requests.ok, t.requests.sent, "every reply is accepted at send");
    // Most replies fail later: the run does not pass silently.
    let v = &run.thresholds[0];
    assert_eq!((v.threshold.as_str(), v.passed, run.passed), ("error_rate < 2% (default)", false, false), "{v:?}");
    assert!(v.shown.contains("0 failed at send"), "{}", v.shown);
    let f = wabench::results::failures::of(t, 131047);
    assert_eq!(f.at_send, 0);
    let failed = &d.messages_failed_by_code;
    assert!(f.in_webhook > 0, "replies to users who had not written: {failed:?}");
    assert!(d.messages_delivered > 0, "replies to users who had written: {failed:?}");
    assert!(d.inbound_messages > 0, "the receiver counted the inbound messages");
    // One generated recipient ends in 0000: undeliverable (131026) whatever its window.
    assert!(failed.keys().all(|c| [131026, 131047].contains(c)), "{failed:?}");
    assert_eq!(d.messages_delivered + failed.values().sum::<u64>(), t.requests.sent, "{failed:?}");
}

#[tokio::test]
async fn marketing_templates_to_users_in_an_experiment_or_who_stopped_marketing_fail_in_webhooks() {
    let (url, bodies) = recorder().await;
    let mut cfg = config(Flavor::Cloud, url);
    cfg.recipients.experiment_suffixes = vec!["7272".into()];
    cfg.recipients.stopped_marketing_suffixes = vec!["5050".into()];
    let sim = spawn_local(cfg).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let mut ids = BTreeMap::new();
    for (to, code) in [("+15551237272", 130472), ("+15551235050", 131050)] {
        // Accepted at send (200): the failure comes later, in a `failed` status.
        let r = c.send(&template_to(to)).await;
        assert_cloud_success(&r, to);
        ids.insert(r.json["messages"][0]["id"].as_str().unwrap().to_string(), code);
        // The driver never resends either: a later attempt would fail the same way.
        assert_eq!(
            wabench::drivers::whatsapp::codes::policy(wabench::engine::metrics::Outcome::ApiError(code)),
            wabench::drivers::whatsapp::codes::Policy::Never
        );
    }
    wait_for("a failed status per message", || statuses(&bodies.lock().unwrap(), true).len() == 2).await;
    let by_id = statuses(&bodies.lock().unwrap(), true);
    for (id, code) in &ids {
        assert_eq!(by_id[id].len(), 1, "{:?}", by_id[id]);
        assert_eq!(by_id[id][0]["status"], "failed");
        assert_eq!(by_id[id][0]["errors"][0]["code"], *code);
    }
    assert_eq!(sim.stats().failed_later, BTreeMap::from([(130472, 1), (131050, 1)]));
    let _ = sim.shutdown().await;
}
