//! The 2026 identity change (Meta, "Business-scoped user IDs"): the simulator's BSUIDs and
//! usernames in its webhooks and answers, sends addressed to a BSUID, the receiver and tracker
//! parsing and correlating statuses with either identifier, and the Cloud driver sending to BSUIDs
//! from a recipients file. Shapes that Meta's v23.0 OpenAPI spec has are checked against it (it
//! predates BSUIDs: no `user_id`, no `contacts` in statuses, `to` and `recipient_id` required).

use crate::support::common;
use crate::support::sim as sim_support;

use std::time::{Duration, Instant};

use crate::support::recorder::{Bodies, recorder};
use serde_json::{Value, json};
use sim_support::{Client, text_to};
use wabench::sim::identity::Identities;
use wabench::sim::{Flavor, SimConfig, SimHandle, spawn_local};
use wabench::spec::sim::{IdentityConfig, StageDelay};
use wabench::webhook::{ReceiverConfig, Tracker, TrackerConfig};

const SEED: u64 = 21;

/// Zero latency, no limits, open windows; webhooks to `url` at once, every message read, no
/// anomalies; every user adopted a username.
fn config(url: Option<String>, identity: IdentityConfig) -> SimConfig {
    let mut cfg = SimConfig::benchmark(Flavor::Cloud);
    cfg.seed = SEED;
    cfg.service_window.enabled = false;
    cfg.identity = identity;
    let zero = StageDelay::constant(Duration::ZERO);
    let h = &mut cfg.webhooks;
    h.callback_url = url;
    (h.sent, h.delivered, h.read) = (zero.clone(), zero.clone(), zero);
    (h.duplicate_fraction, h.out_of_order_fraction, h.delivered_and_failed_fraction) = (0.0, 0.0, 0.0);
    h.read_fraction = 1.0;
    cfg
}

fn usernames(parent: bool) -> IdentityConfig {
    IdentityConfig { bsuid: true, username_fraction: 1.0, parent_user_id: parent, ..IdentityConfig::default() }
}

fn to_bsuid(b: &str) -> Value {
    json!({"messaging_product":"whatsapp","recipient_type":"individual","recipient":b,"type":"text","text":{"body":"Hi"}})
}

use crate::support::sim::wait_for;

/// The webhook `value` of every recorded body that carries a status of message `id`.
fn values_of(bodies: &Bodies, id: &str) -> Vec<Value> {
    let bodies = bodies.lock().unwrap();
    bodies
        .iter()
        .map(|b| serde_json::from_slice::<Value>(b).unwrap()["entry"][0]["changes"][0]["value"].clone())
        .filter(|v| v["statuses"].as_array().is_some_and(|s| s.iter().any(|s| s["id"] == id)))
        .collect()
}

/// `(status, value)` of message `id`, one per posted status.
fn by_status(bodies: &Bodies, id: &str) -> Vec<(String, Value)> {
    values_of(bodies, id).into_iter().map(|v| (v["statuses"][0]["status"].as_str().unwrap().to_string(), v)).collect()
}

async fn all_posted(sim: &SimHandle, n: u64) {
    wait_for("every status posted", || {
        let h = sim.stats().webhooks;
        h.messages == n && h.statuses_posted == h.statuses_planned
    })
    .await;
}

#[tokio::test]
async fn status_webhooks_carry_contacts_as_meta_documents() {
    let (url, bodies) = recorder().await;
    let sim = spawn_local(config(Some(url), usernames(true))).await.unwrap();
    let ids = Identities::new(&usernames(true), SEED);
    let user = ids.of("16505551234").unwrap();
    let mut c = Client::connect(&sim).await;
    let by_phone = c.send(&text_to("+1 650 555 1234")).await;
    sim_support::assert_cloud_success(&by_phone, "+1 650 555 1234");
    let by_bsuid = c.send(&to_bsuid(&user.user_id)).await;
    assert_eq!(by_bsuid.status, 200, "{}", by_bsuid.json);
    assert_eq!(by_bsuid.json["contacts"][0], json!({"input": user.user_id, "user_id": user.user_id}));
    sim_support::assert_spec(&["MessageResponse", "MessageResponsePayload"], &by_bsuid.json);
    let undeliverable = c.send(&text_to("+1 650 555 0000")).await;
    all_posted(&sim, 3).await;
    let id = |r: &sim_support::Resp| r.json["messages"][0]["id"].as_str().unwrap().to_string();

    // Sent to the number: `recipient_id` and `recipient_user_id` (on every sent/delivered/read
    // status, `identity.status_user_id`'s default), and a contact with the number, the BSUID and
    // the display name; the username on delivered and read, not on sent.
    let phone = by_status(&bodies, &id(&by_phone));
    let stages: Vec<&str> = phone.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(stages, ["sent", "delivered", "read"]);
    for (stage, v) in &phone {
        let s = &v["statuses"][0];
        let ids = (s["recipient_id"].as_str(), s["recipient_user_id"].as_str());
        assert_eq!(ids, (Some("16505551234"), Some(user.user_id.as_str())), "{stage}: {s}");
        assert_eq!(s["recipient_parent_user_id"], user.parent_user_id.clone().unwrap().as_str());
        let k = &v["contacts"][0];
        assert_eq!((k["wa_id"].as_str(), k["user_id"].as_str()), (Some("16505551234"), Some(user.user_id.as_str())));
        assert_eq!(k["parent_user_id"], user.parent_user_id.clone().unwrap().as_str());
        assert!(k["profile"]["name"].as_str().is_some_and(|n| !n.contains("1234")), "{stage}: {k}");
        let username = k["profile"]["username"].as_str();
        assert_eq!(username, (stage != "sent").then_some(user.username.as_deref().unwrap()), "{stage}: {k}");
        // What the v23.0 spec describes of a status webhook still holds.
        sim_support::assert_spec(&["StatusMessageValue"], v);
    }
    // Sent to the BSUID of a user with a username: `recipient_user_id`, no number anywhere.
    for (stage, v) in by_status(&bodies, &id(&by_bsuid)) {
        let s = &v["statuses"][0];
        assert!(s.get("recipient_id").is_none(), "{stage}: {s}");
        assert_eq!(s["recipient_user_id"], user.user_id.as_str());
        assert!(v["contacts"][0].get("wa_id").is_none() && v["contacts"][0]["user_id"] == user.user_id.as_str());
        assert!(!v.to_string().contains("6505551234"), "{stage}: the number leaked: {v}");
    }
    // Failed: no `contacts`, the user named by the number it was sent to.
    let failed = by_status(&bodies, &id(&undeliverable));
    assert_eq!(failed.len(), 1);
    let (stage, v) = &failed[0];
    assert_eq!(stage, "failed");
    assert!(v.get("contacts").is_none(), "{v}");
    assert_eq!(v["statuses"][0]["recipient_id"], "16505550000");
    assert_eq!(v["statuses"][0]["errors"][0]["code"], 131026);
    let _ = sim.shutdown().await;
}

#[tokio::test]
async fn a_bsuid_reaches_the_same_user_and_an_unknown_one_fails_later() {
    let (url, bodies) = recorder().await;
    let mut cfg = config(Some(url), IdentityConfig::default());
    cfg.cloud.pair_limit.enabled = true;
    cfg.cloud.pair_limit.burst = 1;
    cfg.cloud.pair_limit.interval = Duration::from_secs(3600);
    let sim = spawn_local(cfg).await.unwrap();
    let user = Identities::new(&IdentityConfig::default(), SEED).of("447700900123").unwrap();
    assert!(user.user_id.starts_with("GB.") && user.username.is_none());
    let mut c = Client::connect(&sim).await;
    assert_eq!(c.send(&text_to("+44 7700 900123")).await.status, 200);
    // The same user by BSUID: the pair limit already holds for them.
    let again = c.send(&to_bsuid(&user.user_id)).await;
    sim_support::assert_cloud_error(&again, 429, 131056);
    // A well-formed BSUID this portfolio never issued: accepted, then undeliverable.
    let stranger = "GB.00000000000000000042";
    let r = c.send(&to_bsuid(stranger)).await;
    assert_eq!(r.json["contacts"][0]["user_id"], stranger);
    all_posted(&sim, 2).await;
    let failed = values_of(&bodies, r.json["messages"][0]["id"].as_str().unwrap());
    assert_eq!(failed.len(), 1);
    let s = &failed[0]["statuses"][0];
    assert_eq!((s["status"].as_str(), s["errors"][0]["code"].as_i64()), (Some("failed"), Some(131026)));
    assert_eq!(s["recipient_user_id"], stranger);
    assert_eq!(sim.stats().failed_later.get(&131026), Some(&1));
    // Bad addresses are refused with the API's error and valid JSON.
    sim_support::assert_cloud_error(&c.send(&to_bsuid("gb.1")).await, 400, 131009);
    let in_to = c.send(&text_to(&user.user_id)).await;
    sim_support::assert_cloud_error(&in_to, 400, 131009);
    assert!(in_to.json["error"]["error_data"]["details"].as_str().unwrap().contains("recipient"));
    let _ = sim.shutdown().await;
}

#[tokio::test]
async fn without_bsuids_the_shapes_are_the_old_ones() {
    let (url, bodies) = recorder().await;
    let off = IdentityConfig { bsuid: false, ..IdentityConfig::default() };
    let sim = spawn_local(config(Some(url), off)).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let r = c.send(&text_to("+1 650 555 1234")).await;
    let refused = c.send(&to_bsuid("US.13491208655302741918")).await;
    sim_support::assert_cloud_error(&refused, 400, 100);
    all_posted(&sim, 1).await;
    for v in values_of(&bodies, r.json["messages"][0]["id"].as_str().unwrap()) {
        assert!(v.get("contacts").is_none() && v["statuses"][0].get("recipient_user_id").is_none(), "{v}");
    }
    let _ = sim.shutdown().await;
}

#[tokio::test]
async fn the_receiver_correlates_statuses_with_either_identifier_and_counts_them() {
    let tracker = Tracker::new(TrackerConfig::default());
    let receiver = wabench::webhook::spawn_local(ReceiverConfig::default(), tracker.clone()).await.unwrap();
    let url = format!("http://{}/webhook", receiver.addr);
    let sim = spawn_local(config(Some(url), usernames(false))).await.unwrap();
    let ids = Identities::new(&usernames(false), SEED);
    let mut c = Client::connect(&sim).await;
    let n = 20u64;
    for i in 0..n {
        let phone = format!("1650555{:04}", 2000 + i);
        let body = if i % 2 == 0 { text_to(&phone) } else { to_bsuid(&ids.of(&phone).unwrap().user_id) };
        let start = Instant::now();
        let r = c.send(&body).await;
        assert_eq!(r.status, 200, "{}", r.json);
        tracker.sent(r.json["messages"][0]["id"].as_str().unwrap(), start, Instant::now());
    }
    all_posted(&sim, n).await;
    let planned = sim.stats().webhooks.statuses_planned;
    assert_eq!(planned, 3 * n, "sent, delivered and read of each");
    wait_for("every status applied", || receiver.counters().statuses == planned).await;
    let d = tracker.finish();
    assert_eq!((d.accepted, d.messages_delivered, d.lost, d.unknown_ids), (n, n, 0, 0));
    assert_eq!(d.statuses.read, n);
    let i = &d.identities;
    assert_eq!(i.statuses_with_user_id, 3 * n, "every status named its user's BSUID");
    assert_eq!(i.statuses_without_phone, 3 * n / 2, "the statuses of the messages sent by BSUID");
    assert_eq!(i.statuses_with_username, 2 * n, "delivered and read, not sent");
    let _ = sim.shutdown().await;
    receiver.stop().await.unwrap();
}

#[tokio::test]
async fn inbound_messages_of_username_users_have_no_number() {
    let (url, bodies) = recorder().await;
    let mut cfg = config(Some(url), usernames(false));
    cfg.inbound.rate = 200.0;
    cfg.inbound.max_messages = 3;
    let user = Identities::new(&usernames(false), SEED).of("15551230077").unwrap();
    // A BSUID among the users who write is the user behind it.
    cfg.inbound.users = vec![user.user_id.clone()];
    let sim = spawn_local(cfg).await.unwrap();
    wait_for("three inbound webhooks", || bodies.lock().unwrap().len() == 3).await;
    for b in bodies.lock().unwrap().iter() {
        let v: Value = serde_json::from_slice(b).unwrap();
        let value = &v["entry"][0]["changes"][0]["value"];
        assert_eq!(value["messages"][0]["from_user_id"], user.user_id.as_str());
        assert!(value["messages"][0].get("from").is_none() && value["contacts"][0].get("wa_id").is_none());
        assert_eq!(value["contacts"][0]["profile"]["username"], user.username.as_deref().unwrap());
        assert!(!value.to_string().contains("1230077"), "{value}");
        // What the v23.0 spec describes of an inbound webhook (a contact needs its profile name).
        sim_support::assert_spec(&["IncomingMessageValueGeneral"], value);
        let n = wabench::webhook::parse_notification(b).unwrap();
        assert_eq!((n.inbound_messages, n.identities.inbound_without_phone), (1, 1));
    }
    let _ = sim.shutdown().await;
}

fn bsuid_profile(dir: &std::path::Path, kind: &str, seed: u64) -> std::path::PathBuf {
    let ids = Identities::new(&usernames(false), seed);
    let mut csv = String::from("user\n");
    for i in 0..40 {
        csv.push_str(&ids.of(&format!("1555{:07}", 4000 + i)).unwrap().user_id);
        csv.push('\n');
    }
    std::fs::write(dir.join("users.csv"), csv).unwrap();
    common::profile(
        dir,
        &format!(
            r#"name = "bsuids"
seed = 5
[load]
rate = 40
duration = "1s"
connections = 2
max_in_flight = 40
[[targets]]
name = "t"
kind = "{kind}"
base_url = "embedded"
[recipients]
file = "users.csv"
[messages]
text = 0
template = 1
[simulator]
seed = {seed}
[simulator.latency]
distribution = "constant"
median = "1ms"
[simulator.identity]
username_fraction = 1.0
[simulator.webhooks]
sent = {{ distribution = "constant", median = "0s" }}
delivered = {{ distribution = "constant", median = "0s" }}
read_fraction = 0
duplicate_fraction = 0
out_of_order_fraction = 0
delivered_and_failed_fraction = 0
[webhooks]
grace = "10s"
"#
        ),
    )
}

#[test]
fn the_cloud_driver_sends_to_bsuids_from_a_recipients_file() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = wabench::spec::load(&bsuid_profile(dir.path(), "cloud", 9)).expect("valid profile");
    assert_eq!(loaded.recipients.bsuids(), 40);
    let rx = wabench::Shutdown::new();
    let opts = wabench::RunOptions { report: false, ..wabench::RunOptions::new(dir.path().join("out")) };
    let f = wabench::run_profile(&loaded, &opts, rx).expect("run");
    assert!(f.error.is_none(), "{:?}", f.error);
    let t = &f.run.targets[0];
    assert_eq!((t.requests.sent, t.requests.ok, t.requests.errors), (40, 40, 0), "{:?}", t.outcomes);
    let d = t.delivery.as_ref().expect("delivery stats");
    assert_eq!((d.accepted, d.messages_delivered, d.lost), (40, 40, 0));
    // Every recipient was a username user messaged by BSUID: no number in any status.
    assert_eq!(d.identities.statuses_without_phone, d.statuses.sent + d.statuses.delivered);
    assert_eq!(d.identities.statuses_with_username, d.statuses.delivered);
    assert!(d.statuses.delivered >= 40);
    // The summary names them; `validate` counts the BSUIDs among the recipients.
    let mut summary = Vec::new();
    wabench::report::summary::write(&f.run, &mut summary).unwrap();
    let summary = String::from_utf8(summary).unwrap();
    let line = summary.lines().find(|l| l.contains("statuses / inbound without phone")).expect("identity row");
    assert!(line.contains(&format!("{} / 0", d.identities.statuses_without_phone)), "{line}");
    let profile = dir.path().join("profile.toml");
    let (code, out, err) = common::wabench(&["validate", profile.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("recipients: 40 (40 business-scoped user IDs"), "{out}");
}

#[test]
fn an_onprem_target_cannot_take_bsuids() {
    let dir = tempfile::tempdir().unwrap();
    let e = wabench::spec::load(&bsuid_profile(dir.path(), "onprem", 9)).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("recipients.file"));
    assert!(e.reason.contains("business-scoped user IDs") && e.reason.contains("\"t\""), "{e}");
}
