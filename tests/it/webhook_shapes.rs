//! Status webhook shapes as Meta posts them now: by the Graph API version of the send (Meta's status
//! webhook reference, updated 2026-05-21: `conversation` omitted from v24.0 on, `pricing` with
//! `pricing_model`, `type`, `category` on sent and on delivered), the user's BSUID on every
//! sent/delivered/read status, the display name in `contacts`, and the `user_id_update` webhook a
//! receiver counts. What Meta's v23.0 OpenAPI spec describes of a status webhook is checked too.

use crate::support::sim as sim_support;

use std::time::Instant;

use crate::support::recorder::{Bodies, recorder};
use serde_json::{Value, json};
use sim_support::{Client, TOKEN, template_to, text_to};
use wabench::sim::identity::Identities;
use wabench::sim::{Flavor, SimConfig, SimHandle, spawn_local};
use wabench::spec::sim::{IdentityConfig, StatusUserId};
use wabench::webhook::{ReceiverConfig, Tracker, TrackerConfig};

const SEED: u64 = 33;

/// Zero latency, open windows, every message read, no anomalies; webhooks to `url` at once.
fn config(url: String) -> SimConfig {
    let mut cfg = crate::support::sim::prompt_hooks(Flavor::Cloud, url, 1.0);
    cfg.seed = SEED;
    cfg.service_window.enabled = false;
    cfg
}

use crate::support::sim::wait_for;

async fn all_posted(sim: &SimHandle, n: u64) {
    wait_for("every status posted", || {
        let h = sim.stats().webhooks;
        h.messages == n && h.statuses_posted == h.statuses_planned
    })
    .await;
}

/// `(status, value)` of every posted status of message `id`, in posting order.
fn statuses_of(bodies: &Bodies, id: &str) -> Vec<(String, Value)> {
    let bodies = bodies.lock().unwrap();
    bodies
        .iter()
        .map(|b| serde_json::from_slice::<Value>(b).unwrap()["entry"][0]["changes"][0]["value"].clone())
        .filter(|v| v["statuses"][0]["id"] == id)
        .map(|v| (v["statuses"][0]["status"].as_str().unwrap().to_string(), v))
        .collect()
}

async fn send(c: &mut Client, version: &str, body: &Value) -> String {
    let r = c.post(&format!("/{version}/1234567890/messages"), Some(TOKEN), body).await;
    assert_eq!(r.status, 200, "{}", r.json);
    r.json["messages"][0]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn status_bodies_follow_the_api_version_of_the_send() {
    let (url, bodies) = recorder().await;
    let mut cfg = config(url);
    cfg.templates = vec![
        toml::from_str("name = \"order_update\"\nparams = 2\ncategory = \"utility\"").unwrap(),
        toml::from_str("name = \"spring_sale\"").unwrap(),
    ];
    let sim = spawn_local(cfg).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let mut sent = Vec::new();
    for (i, version) in ["v23.0", "v24.0", "v25.0"].into_iter().enumerate() {
        let text = send(&mut c, version, &text_to(&format!("1650555{:04}", 100 + i))).await;
        let utility = send(&mut c, version, &template_to(&format!("1650555{:04}", 200 + i))).await;
        let marketing = json!({"messaging_product":"whatsapp","to":format!("1650555{:04}", 300 + i),"type":"template",
            "template":{"name":"spring_sale","language":{"code":"en_US"}}});
        let marketing = send(&mut c, version, &marketing).await;
        sent.push((version, text, utility, marketing));
    }
    all_posted(&sim, 9).await;
    let _ = sim.shutdown().await;
    for (version, text, utility, marketing) in &sent {
        let conversation = *version == "v23.0";
        for (id, category, charged) in
            [(text, "service", false), (utility, "utility", false), (marketing, "marketing", true)]
        {
            let posted = statuses_of(&bodies, id);
            let stages: Vec<&str> = posted.iter().map(|(s, _)| s.as_str()).collect();
            assert_eq!(stages, ["sent", "delivered", "read"], "{version}");
            for (stage, value) in &posted {
                let s = &value["statuses"][0];
                let billed = stage != "read";
                assert_eq!(s.get("conversation").is_some(), billed && conversation, "{version} {stage}: {s}");
                if conversation && billed {
                    assert_eq!(s["conversation"]["origin"]["type"], category);
                    assert_eq!(s["conversation"].get("expiration_timestamp").is_some(), stage == "sent");
                }
                assert_eq!(s.get("pricing").is_some(), billed, "{version} {stage}: {s}");
                if billed {
                    let free = if charged { "regular" } else { "free_customer_service" };
                    let want = json!({"billable": charged, "pricing_model": "PMP", "type": free, "category": category});
                    assert_eq!(s["pricing"], want, "{version} {stage}");
                }
                // What Meta's v23.0 spec describes of a status webhook holds in every version.
                sim_support::assert_spec(&["StatusMessageValue"], value);
                sim_support::assert_spec(&["Statuses"], s);
            }
        }
    }
}

#[tokio::test]
async fn every_status_names_the_users_bsuid_and_failed_ones_have_no_contacts() {
    let (url, bodies) = recorder().await;
    let identity = IdentityConfig { username_fraction: 0.0, ..IdentityConfig::default() };
    let mut cfg = config(url);
    cfg.identity = identity.clone();
    let sim = spawn_local(cfg).await.unwrap();
    let ids = Identities::new(&identity, SEED);
    let mut c = Client::connect(&sim).await;
    let phones: Vec<String> = (0..6).map(|i| format!("44770090{:04}", 1000 + i)).collect();
    let mut by_phone = Vec::new();
    for p in &phones {
        by_phone.push((p.clone(), send(&mut c, "v25.0", &text_to(p)).await));
    }
    // To a BSUID: the user has no username, so Meta shares the number and `recipient_id` stays.
    let bsuid = ids.of("447700901234").unwrap().user_id;
    let body = json!({"messaging_product":"whatsapp","recipient":bsuid,"type":"text","text":{"body":"Hi"}});
    let to_bsuid = send(&mut c, "v25.0", &body).await;
    let undeliverable = send(&mut c, "v25.0", &text_to("447700900000")).await;
    all_posted(&sim, 8).await;
    let _ = sim.shutdown().await;
    for (phone, id) in by_phone.iter().chain([("447700901234".to_string(), to_bsuid)].iter()) {
        let user = ids.of(phone).unwrap();
        let posted = statuses_of(&bodies, id);
        assert_eq!(posted.len(), 3);
        for (stage, value) in &posted {
            let s = &value["statuses"][0];
            assert_eq!(s["recipient_id"], phone.as_str(), "{stage}: {s}");
            assert_eq!(s["recipient_user_id"], user.user_id.as_str(), "{stage}: {s}");
            let k = &value["contacts"][0];
            assert_eq!((&k["user_id"], &k["wa_id"]), (&json!(user.user_id), &json!(phone)), "{stage}");
            assert_eq!(k["profile"]["name"], format!("User {}", &phone[phone.len() - 4..]), "{stage}: {k}");
        }
    }
    let failed = statuses_of(&bodies, &undeliverable);
    assert_eq!(failed.len(), 1);
    let (stage, value) = &failed[0];
    assert_eq!(stage, "failed");
    assert!(value.get("contacts").is_none(), "Meta: no contacts on failed: {value}");
    let s = &value["statuses"][0];
    assert!(s.get("recipient_user_id").is_none() && s["recipient_id"] == "447700900000", "{s}");
    assert_eq!(s["errors"][0]["code"], 131026);
    sim_support::assert_spec(&["Statuses"], s);
}

#[tokio::test]
async fn the_sdks_reading_names_the_bsuid_only_of_messages_sent_to_one() {
    let (url, bodies) = recorder().await;
    let identity = IdentityConfig { status_user_id: StatusUserId::BsuidSends, ..IdentityConfig::default() };
    let mut cfg = config(url);
    cfg.identity = identity.clone();
    let sim = spawn_local(cfg).await.unwrap();
    let user = Identities::new(&identity, SEED).of("447700901234").unwrap();
    let mut c = Client::connect(&sim).await;
    let phone = send(&mut c, "v25.0", &text_to("447700901234")).await;
    let body = json!({"messaging_product":"whatsapp","recipient":user.user_id,"type":"text","text":{"body":"Hi"}});
    let bsuid = send(&mut c, "v25.0", &body).await;
    all_posted(&sim, 2).await;
    let _ = sim.shutdown().await;
    for (_, v) in statuses_of(&bodies, &phone) {
        let s = &v["statuses"][0];
        assert!(s.get("recipient_user_id").is_none() && s["recipient_id"] == "447700901234", "{s}");
        assert_eq!(v["contacts"][0]["user_id"], user.user_id.as_str(), "the contact still names it");
    }
    for (_, v) in statuses_of(&bodies, &bsuid) {
        let s = &v["statuses"][0];
        assert!(s.get("recipient_id").is_none() && s["recipient_user_id"] == user.user_id.as_str(), "{s}");
    }
}

/// A simulator whose inbound generator changes a seeded share of its users' BSUIDs.
fn changing_ids(url: String, user_id_update: bool) -> SimConfig {
    let mut cfg = config(url);
    cfg.identity.user_id_change_fraction = 0.5;
    cfg.webhooks.user_id_update = user_id_update;
    cfg.inbound.rate = 200.0;
    cfg.inbound.max_messages = 12;
    cfg.inbound.users = (0..4).map(|i| format!("1650555{:04}", 4000 + i)).collect();
    cfg
}

#[tokio::test]
async fn a_bsuid_change_posts_a_user_id_update_when_asked() {
    let (url, bodies) = recorder().await;
    let sim = spawn_local(changing_ids(url, true)).await.unwrap();
    wait_for("every inbound event", || sim.stats().webhooks.inbound_messages == 12).await;
    let changes = sim.stats().user_id_changes;
    assert!((1..12).contains(&changes), "a seeded share of the events: {changes}");
    wait_for("the webhooks", || bodies.lock().unwrap().len() as u64 == 12 + changes).await;
    assert_eq!(sim.stats().webhooks.user_id_updates, changes);
    let _ = sim.shutdown().await;
    let bodies: Vec<Value> = bodies.lock().unwrap().iter().map(|b| serde_json::from_slice(b).unwrap()).collect();
    let updates: Vec<&Value> =
        bodies.iter().filter(|v| v["entry"][0]["changes"][0]["field"] == "user_id_update").collect();
    let systems: Vec<&Value> = bodies
        .iter()
        .map(|v| &v["entry"][0]["changes"][0]["value"]["messages"][0])
        .filter(|m| m["type"] == "system")
        .collect();
    assert_eq!((updates.len() as u64, systems.len() as u64), (changes, changes));
    for (u, m) in updates.iter().zip(&systems) {
        let e = &u["entry"][0]["changes"][0]["value"]["user_id_update"][0];
        // The update and the system message tell the same change, old BSUID to new.
        assert_eq!(e["user_id"]["previous"], m["system"]["previous_user_id"], "{e} / {m}");
        assert_eq!(e["user_id"]["current"], m["system"]["user_id"]);
        assert_ne!(e["user_id"]["previous"], e["user_id"]["current"]);
        assert!(e["wa_id"].as_str().is_some_and(|w| w.starts_with("1650555")), "{e}");
        let n = wabench::webhook::parse_notification(&serde_json::to_vec(u).unwrap()).unwrap();
        assert_eq!((n.statuses.len(), n.inbound_messages, n.identities.user_id_updates), (0, 0, 1));
    }
}

#[tokio::test]
async fn without_the_setting_no_user_id_update_is_posted() {
    let (url, bodies) = recorder().await;
    let sim = spawn_local(changing_ids(url, false)).await.unwrap();
    wait_for("every inbound webhook", || bodies.lock().unwrap().len() == 12).await;
    assert!(sim.stats().user_id_changes > 0);
    assert_eq!(sim.stats().webhooks.user_id_updates, 0);
    let _ = sim.shutdown().await;
    let fields: Vec<Value> = bodies
        .lock()
        .unwrap()
        .iter()
        .map(|b| serde_json::from_slice::<Value>(b).unwrap()["entry"][0]["changes"][0]["field"].clone())
        .collect();
    assert!(fields.iter().all(|f| f == "messages"), "{fields:?}");
}

#[tokio::test]
async fn the_receiver_counts_user_id_updates_and_loses_no_status() {
    let tracker = Tracker::new(TrackerConfig::default());
    let receiver = wabench::webhook::spawn_local(ReceiverConfig::default(), tracker.clone()).await.unwrap();
    let sim = spawn_local(changing_ids(format!("http://{}/webhook", receiver.addr), true)).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let n = 5u64;
    for i in 0..n {
        let start = Instant::now();
        let id = send(&mut c, "v24.0", &text_to(&format!("1650555{:04}", 5000 + i))).await;
        tracker.sent(&id, start, Instant::now());
    }
    all_posted(&sim, n).await;
    wait_for("every inbound event", || sim.stats().webhooks.inbound_messages == 12).await;
    let posted = sim.stats().webhooks;
    wait_for("every webhook received", || receiver.counters().received == posted.webhooks_posted).await;
    let changes = sim.stats().user_id_changes;
    assert!(changes > 0 && posted.user_id_updates == changes);
    let d = tracker.finish();
    assert_eq!((d.accepted, d.messages_delivered, d.lost, d.unknown_ids), (n, n, 0, 0));
    assert_eq!(d.identities.user_id_updates, changes, "counted, not unknown");
    assert_eq!(d.statuses.other, 0);
    assert_eq!(d.identities.statuses_with_user_id, 3 * n);
    let _ = sim.shutdown().await;
    receiver.stop().await.unwrap();
}
