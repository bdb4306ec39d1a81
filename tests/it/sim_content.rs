//! Content errors on Meta's paths: the business's templates answered at send (132000, 132001,
//! 132012, 132015, 132016, 131062, Meta's error envelope and HTTP status), media links that cannot
//! be downloaded accepted and then failed with 131053 in a webhook; the drivers count the first at
//! send and the second in delivery accounting. And the 2026 identity leftovers: BSUID changes
//! announced by `user_changed_user_id` system messages, username users who share their number.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use wabench::sim::identity::Identities;
use wabench::sim::{Flavor, SimConfig, spawn_local};
use wabench::spec::sim::{PacingConfig, StageDelay, TemplateCategory, TemplateConfig, TemplateStatus};

use crate::support::recorder::recorder;
use crate::support::sim::{Client, assert_cloud_error, assert_cloud_success, text_to};

/// Zero latency, no limits, webhooks to `url` without delays or anomalies.
fn config(url: Option<String>) -> SimConfig {
    let mut cfg = SimConfig::benchmark(Flavor::Cloud);
    cfg.service_window.enabled = false;
    let zero = StageDelay::constant(Duration::ZERO);
    let h = &mut cfg.webhooks;
    h.callback_url = url;
    (h.sent, h.delivered, h.read) = (zero.clone(), zero.clone(), zero);
    (h.duplicate_fraction, h.out_of_order_fraction, h.delivered_and_failed_fraction) = (0.0, 0.0, 0.0);
    h.read_fraction = 0.0;
    cfg
}

fn template(name: &str, params: u32, status: TemplateStatus, category: TemplateCategory) -> TemplateConfig {
    TemplateConfig {
        name: name.into(),
        language: "en_US".into(),
        params,
        param_types: Vec::new(),
        status,
        category,
        pacing: None,
    }
}

fn registry() -> Vec<TemplateConfig> {
    let mut sale = template("spring_sale", 1, TemplateStatus::Approved, TemplateCategory::Marketing);
    sale.param_types = vec!["currency".into()];
    vec![
        template("order_update", 2, TemplateStatus::Approved, TemplateCategory::Utility),
        template("login_code", 1, TemplateStatus::Approved, TemplateCategory::Authentication),
        template("winter_sale", 0, TemplateStatus::Paused, TemplateCategory::Marketing),
        template("old_promo", 0, TemplateStatus::Disabled, TemplateCategory::Marketing),
        template("draft", 0, TemplateStatus::Pending, TemplateCategory::Marketing),
        sale,
    ]
}

/// A template send: `to` a number, or a BSUID in `recipient`; `params` body parameters.
fn send_template(to: &str, name: &str, lang: &str, params: Value) -> Value {
    let field = if to.contains('.') { "recipient" } else { "to" };
    json!({"messaging_product": "whatsapp", field: to, "type": "template", "template": {
        "name": name, "language": {"code": lang}, "components": [{"type": "body", "parameters": params}]}})
}

fn texts(n: usize) -> Value {
    Value::Array((0..n).map(|i| json!({"type": "text", "text": format!("v{i}")})).collect())
}

use crate::support::sim::wait_for;

/// Every `value` of the recorded Cloud bodies.
fn values(bodies: &[Bytes]) -> Vec<Value> {
    bodies
        .iter()
        .map(|b| serde_json::from_slice::<Value>(b).unwrap()["entry"][0]["changes"][0]["value"].clone())
        .collect()
}

#[tokio::test]
async fn template_errors_are_answered_at_send_with_metas_codes_and_statuses() {
    let mut cfg = config(None);
    cfg.templates = registry();
    let sim = spawn_local(cfg.clone()).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let to = "+15551230001";
    let ok = c.send(&send_template(to, "order_update", "en_US", texts(2))).await;
    assert_cloud_success(&ok, to);
    // Each error: Meta's code, HTTP status and the details integrators see.
    for (body, status, code, details) in [
        (
            send_template(to, "order_update", "pt_BR", texts(2)),
            404,
            132001,
            "template name (order_update) does not exist in pt_BR",
        ),
        (send_template(to, "no_such", "en_US", texts(0)), 404, 132001, "does not exist in en_US"),
        (send_template(to, "draft", "en_US", texts(0)), 404, 132001, "(draft)"),
        (send_template(to, "winter_sale", "en_US", texts(0)), 400, 132015, "paused"),
        (send_template(to, "old_promo", "en_US", texts(0)), 400, 132016, "disabled"),
        (
            send_template(to, "order_update", "en_US", texts(3)),
            400,
            132000,
            "body: number of localizable_params (3) does not match the expected number of params (2)",
        ),
        (send_template(to, "spring_sale", "en_US", texts(1)), 400, 132012, "expects currency"),
    ] {
        let r = c.send(&body).await;
        assert_cloud_error(&r, status, code);
        let got = r.json["error"]["error_data"]["details"].as_str().unwrap();
        assert!(got.contains(details), "{code}: {got}");
    }
    assert_eq!(
        c.send(&send_template(
            to,
            "spring_sale",
            "en_US",
            json!([{"type": "currency", "currency": {
            "fallback_value": "$9.99", "code": "USD", "amount_1000": 9990}}])
        ))
        .await
        .status,
        200
    );
    // Authentication templates need the phone number: 131062 to a BSUID, accepted to the number.
    let bsuid = Identities::new(&cfg.identity, cfg.seed).of("15551230001").unwrap().user_id;
    assert_cloud_error(&c.send(&send_template(&bsuid, "login_code", "en_US", texts(1))).await, 400, 131062);
    assert_cloud_success(&c.send(&send_template(to, "login_code", "en_US", texts(1))).await, to);
    let r = c.send(&send_template(&bsuid, "order_update", "en_US", texts(2))).await;
    assert_eq!((r.status.as_u16(), &r.json["contacts"][0]["user_id"]), (200, &json!(bsuid)), "{}", r.json);
    // Answered at send, counted as errors by code; nothing failed later.
    let st = sim.stats();
    let errors: BTreeMap<i64, u64> =
        [(131062, 1), (132000, 1), (132001, 3), (132012, 1), (132015, 1), (132016, 1)].into_iter().collect();
    assert_eq!(st.errors, errors);
    assert!(st.failed_later.is_empty(), "{:?}", st.failed_later);
    assert_eq!((st.http_status.get(&404), st.accepted), (Some(&3), 4));
    let _ = sim.shutdown().await;
    // Without a registry the simulator does not know the business's templates: any one goes.
    let sim = spawn_local(config(None)).await.unwrap();
    let mut c = Client::connect(&sim).await;
    assert_cloud_success(&c.send(&send_template(to, "no_such", "xx", texts(7))).await, to);
    let _ = sim.shutdown().await;
}

#[tokio::test]
async fn media_links_that_cannot_be_downloaded_fail_with_131053_in_a_webhook() {
    let (url, bodies) = recorder().await;
    let mut cfg = config(Some(url));
    cfg.media.link_failure_fraction = 1.0;
    let sim = spawn_local(cfg).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let mut failing = Vec::new();
    for (i, kind) in ["image", "document", "video"].iter().enumerate() {
        let to = format!("1555123001{i}");
        let body = json!({"messaging_product": "whatsapp", "to": to, "type": kind,
            kind.to_string(): {"link": format!("https://media.example/{i}.bin")}});
        let r = c.send(&body).await;
        assert_cloud_success(&r, &to);
        failing.push(r.json["messages"][0]["id"].as_str().unwrap().to_string());
    }
    // Media by id and text download nothing: delivered.
    let by_id =
        c.send(&json!({"messaging_product":"whatsapp","to":"15551239001","type":"image","image":{"id":"4490"}})).await;
    let text = c.send(&text_to("15551239002")).await;
    let fine = [&by_id, &text].map(|r| r.json["messages"][0]["id"].as_str().unwrap().to_string());
    wait_for("every status posted", || {
        let h = sim.stats().webhooks;
        h.statuses_planned == 3 + 2 * 2 && h.statuses_posted == h.statuses_planned
    })
    .await;
    let mut by_id: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for v in values(&bodies.lock().unwrap()) {
        for s in v["statuses"].as_array().into_iter().flatten() {
            by_id.entry(s["id"].as_str().unwrap().into()).or_default().push(s.clone());
        }
    }
    for id in &failing {
        let s = &by_id[id];
        assert_eq!(s.len(), 1, "one failed status, no sent: {s:?}");
        assert_eq!(s[0]["status"], "failed");
        let e = &s[0]["errors"][0];
        assert_eq!((e["code"].as_i64(), e["title"].as_str()), (Some(131053), Some("Media upload error")));
        assert!(e["error_data"]["details"].as_str().unwrap().starts_with("Downloading media from weblink failed"));
        assert!(e["href"].is_string() && e["message"].is_string(), "{e}");
    }
    for id in &fine {
        let kinds: Vec<&str> = by_id[id].iter().map(|s| s["status"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["sent", "delivered"], "{id}");
    }
    let st = sim.stats();
    assert_eq!(st.failed_later, BTreeMap::from([(131053, 3)]));
    assert!(st.errors.is_empty(), "accepted at send: {:?}", st.errors);
    let _ = sim.shutdown().await;
}

const RUN: &str = "name = \"content\"\n[load]\nrate = 20\nduration = \"1s\"\nconnections = 4\ndrain = \"2s\"\n\
[retry]\nmax_attempts = 3\nbackoff = \"50ms\"\n[simulator.latency]\ndistribution = \"constant\"\nmedian = \"1ms\"\n\
[simulator.cloud]\npair_limit = { enabled = false }\n[simulator.service_window]\nenabled = false\n\
[simulator.recipients]\nundeliverable_suffixes = []\n\
[simulator.webhooks]\nsent = { distribution = \"constant\", median = \"10ms\" }\n\
delivered = { distribution = \"constant\", median = \"10ms\" }\nread_fraction = 0.0\nduplicate_fraction = 0.0\n\
out_of_order_fraction = 0.0\ndelivered_and_failed_fraction = 0.0\n";

const TARGET: &str = "[[targets]]\nname = \"t\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n\
[webhooks]\nlisten = \"127.0.0.1:0\"\ngrace = \"10s\"\n";

#[test]
fn the_driver_counts_template_errors_at_send_and_media_failures_in_webhooks() {
    // The profile fills 2 body parameters; the business's template has 3: every send is 132000, at
    // send, never retried.
    let text = format!(
        "{RUN}[messages]\ntext = 0\ntemplate = 1\n[[simulator.templates]]\nname = \"order_update\"\nparams = 3\n{TARGET}"
    );
    let run = crate::support::common::run_in_tempdir(&text, &[]);
    let t = &run.targets[0];
    let outcomes: BTreeMap<&str, u64> = t.outcomes.iter().map(|o| (o.key.as_str(), o.count)).collect();
    assert_eq!(outcomes, BTreeMap::from([("api_132000", 20)]));
    assert_eq!((t.requests.sent, t.requests.retries), (20, 0));
    let f = wabench::results::failures::of(t, 132000);
    assert_eq!((f.at_send, f.in_webhook), (20, 0));
    // Images by link that never download: all accepted, all failed with 131053 in webhooks.
    let text =
        format!("{RUN}[messages]\ntext = 0\nimage = 1\n[simulator.media]\nlink_failure_fraction = 1.0\n{TARGET}");
    let run = crate::support::common::run_in_tempdir(&text, &[]);
    let t = &run.targets[0];
    assert_eq!((t.requests.sent, t.requests.ok, t.requests.retries), (20, 20, 0));
    let d = t.delivery.as_ref().unwrap();
    assert_eq!(d.messages_failed_by_code, BTreeMap::from([(131053, 20)]));
    let f = wabench::results::failures::of(t, 131053);
    assert_eq!((f.at_send, f.in_webhook), (0, 20));
}

#[tokio::test]
async fn a_bsuid_change_is_announced_and_the_old_bsuid_reaches_nobody() {
    let (url, bodies) = recorder().await;
    let mut cfg = config(Some(url));
    cfg.identity.user_id_change_fraction = 1.0;
    cfg.inbound.rate = 200.0;
    cfg.inbound.max_messages = 1;
    cfg.inbound.users = vec!["15551230001".into()];
    let old = Identities::new(&cfg.identity, cfg.seed).of("15551230001").unwrap().user_id;
    let sim = spawn_local(cfg).await.unwrap();
    wait_for("the system message", || !bodies.lock().unwrap().is_empty()).await;
    let value = values(&bodies.lock().unwrap())[0].clone();
    assert!(value.get("contacts").is_none(), "system messages have no contacts: {value}");
    let m = &value["messages"][0];
    assert_eq!((m["type"].as_str(), m["system"]["type"].as_str()), (Some("system"), Some("user_changed_user_id")));
    assert_eq!(m["from_user_id"], json!(old));
    let new = m["system"]["user_id"].as_str().unwrap().to_string();
    assert!(new != old && new.starts_with("US."), "{new}");
    assert!(m["system"]["body"].as_str().unwrap().contains(&format!("changed from {old} to {new}")));
    // The spec's SystemMessage (v23.0) requires `system.body` and `system.type`; its enum predates
    // `user_changed_user_id`.
    assert!(m["system"]["body"].is_string() && m["id"].is_string() && m["timestamp"].is_string());
    let st = sim.stats();
    assert_eq!((st.user_id_changes, st.inbound), (1, 0), "a BSUID change is no user message");
    // The new BSUID reaches the user; the old one is accepted and fails like any unknown BSUID.
    let mut c = Client::connect(&sim).await;
    let r = c.send(&json!({"messaging_product":"whatsapp","recipient":new,"type":"text","text":{"body":"hi"}})).await;
    assert_eq!(r.json["contacts"][0]["user_id"], json!(new), "{}", r.json);
    let r = c.send(&json!({"messaging_product":"whatsapp","recipient":old,"type":"text","text":{"body":"hi"}})).await;
    assert_eq!(r.status, 200, "{}", r.json);
    wait_for("both messages' statuses", || sim.stats().failed_later.get(&131026) == Some(&1)).await;
    let _ = sim.shutdown().await;
}

#[tokio::test]
async fn username_users_who_share_their_number_keep_wa_id_beside_the_username() {
    let (url, bodies) = recorder().await;
    let mut cfg = config(Some(url));
    cfg.identity.username_fraction = 1.0;
    cfg.identity.phone_shared_fraction = 1.0;
    cfg.inbound.rate = 200.0;
    cfg.inbound.max_messages = 1;
    cfg.inbound.users = vec!["15551230001".into()];
    let ids = Identities::new(&cfg.identity, cfg.seed);
    let bsuid = ids.of("15551230001").unwrap().user_id;
    let sim = spawn_local(cfg).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let r = c.send(&json!({"messaging_product":"whatsapp","recipient":bsuid,"type":"text","text":{"body":"hi"}})).await;
    assert_eq!(r.status, 200, "{}", r.json);
    // `inbound_messages` counts the inbound webhook when scheduled: wait for its body to arrive.
    wait_for("the inbound message and both statuses", || {
        let st = sim.stats();
        let vals = values(&bodies.lock().unwrap());
        st.inbound == 1
            && st.webhooks.statuses_posted == 2
            && vals.iter().any(|v| v.get("messages").is_some())
            && vals.iter().any(|v| v["statuses"][0]["status"] == "delivered")
    })
    .await;
    let vals = values(&bodies.lock().unwrap());
    let inbound = vals.iter().find(|v| v.get("messages").is_some()).unwrap();
    let contact = &inbound["contacts"][0];
    assert!(contact["profile"]["username"].is_string(), "{contact}");
    assert_eq!((&contact["wa_id"], &inbound["messages"][0]["from"]), (&json!("15551230001"), &json!("15551230001")));
    let delivered = vals.iter().find(|v| v["statuses"][0]["status"] == "delivered").unwrap();
    assert_eq!(delivered["contacts"][0]["wa_id"], "15551230001", "{delivered}");
    assert!(delivered["contacts"][0]["profile"]["username"].is_string());
    let _ = sim.shutdown().await;
}

#[tokio::test]
async fn a_paced_template_is_held_after_its_threshold_and_its_statuses_come_after_the_hold() {
    let (url, bodies) = recorder().await;
    let mut cfg = config(Some(url));
    let hold = Duration::from_millis(400);
    let paced = |name: &str, dropped: f64| TemplateConfig {
        pacing: Some(PacingConfig { after: 2, hold, dropped }),
        ..template(name, 0, TemplateStatus::Approved, TemplateCategory::Marketing)
    };
    // One template whose held messages are released, one whose held messages are dropped.
    cfg.templates = vec![paced("spring_launch", 0.0), paced("risky_promo", 1.0)];
    let sim = spawn_local(cfg).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let mut sent: Vec<(String, String, &str)> = Vec::new();
    for name in ["spring_launch", "risky_promo"] {
        for i in 0..4 {
            let to = format!("1555123{name_len}{i:03}", name_len = name.len());
            let r = c.send(&send_template(&to, name, "en_US", json!([]))).await;
            assert_eq!(r.status, 200, "{}", r.json);
            let status = r.json["messages"][0]["message_status"].as_str().unwrap().to_string();
            let id = r.json["messages"][0]["id"].as_str().unwrap().to_string();
            sent.push((id, status, name));
        }
    }
    // The first two of each are sent normally; the rest are held for the quality signal.
    let statuses: Vec<&str> = sent.iter().map(|s| s.1.as_str()).collect();
    let held = "held_for_quality_assessment";
    assert_eq!(statuses, ["accepted", "accepted", held, held, "accepted", "accepted", held, held]);
    wait_for("every status posted", || {
        let h = sim.stats().webhooks;
        // sent + delivered for the 6 messages that go through, one failed status for the 2 dropped.
        h.statuses_planned == 6 * 2 + 2 && h.statuses_posted == h.statuses_planned
    })
    .await;
    let mut by_id: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for v in values(&bodies.lock().unwrap()) {
        for s in v["statuses"].as_array().into_iter().flatten() {
            by_id.entry(s["id"].as_str().unwrap().into()).or_default().push(s.clone());
        }
    }
    // (That the held messages' statuses come `hold` later is the planner's unit test.)
    let _ = hold;
    for (id, status, name) in &sent {
        let kinds: Vec<&str> = by_id[id].iter().map(|s| s["status"].as_str().unwrap()).collect();
        match (status.as_str(), *name) {
            ("accepted", _) | (_, "spring_launch") => assert_eq!(kinds, ["sent", "delivered"], "{id}"),
            _ => {
                assert_eq!(kinds, ["failed"], "a dropped held message: {id}");
                assert_eq!(by_id[id][0]["errors"][0]["code"], 132015);
            }
        }
    }
    assert_eq!(sim.stats().failed_later, BTreeMap::from([(132015, 2)]));
    let _ = sim.shutdown().await;
}
