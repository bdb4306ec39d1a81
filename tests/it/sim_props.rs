//! Property tests of the simulator's answers to arbitrary requests: every answer is JSON whatever the
//! input, a success always matches Meta's response schema, and nothing is a 5xx unless the
//! configuration models one (no downtime, no transient errors here).

use std::cell::RefCell;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use wabench::sim::{Flavor, SimConfig, spawn_local};

use crate::support::sim::{Client, PATH, Resp, TOKEN, assert_spec, login, quick};

/// Strings that stress an API: control characters, quotes, unicode, separators, long runs of digits.
fn nasty() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,24}",
        "[+0-9 ()\\-]{0,24}",
        "[\\x00-\\x1f\"\\\\+0-9]{0,16}",
        Just("+1 650 555 1234".to_string()),
        Just("120363041234567890".to_string()),
        // Business-scoped user IDs and near misses (2026: sent in `recipient`).
        "[A-Z]{2}\\.(ENT\\.)?[A-Za-z0-9]{1,24}",
        "[A-Za-z]{1,3}[.\\-][\\PC]{0,8}",
        Just("US.13491208655302741918".to_string()),
    ]
}

/// A request body: mostly message-shaped with arbitrary field values, sometimes arbitrary JSON.
fn body() -> impl Strategy<Value = Value> {
    let field = prop_oneof![nasty().prop_map(Value::from), any::<i64>().prop_map(Value::from), Just(Value::Null)];
    let shaped = (
        prop_oneof![3 => nasty().prop_map(Value::from), 1 => Just(Value::Null)],
        prop_oneof![Just("individual".to_string()), Just("group".to_string()), nasty()],
        prop_oneof![Just("text".to_string()), Just("template".to_string()), Just("image".to_string()), nasty()],
        nasty(),
        field.clone(),
        field,
    )
        .prop_map(|(to, rt, ty, text, recipient, extra)| {
            json!({
                "messaging_product": "whatsapp",
                "recipient_type": rt,
                "to": to,
                "recipient": recipient,
                "type": ty,
                "text": {"body": text},
                "template": {"name": text, "language": {"code": "en_US"}},
                "image": {"link": "https://example.com/a.jpg"},
                "extra": extra,
            })
        });
    let leaf = prop_oneof![nasty().prop_map(Value::from), any::<f64>().prop_map(|f| json!(f)), Just(Value::Null)];
    let any_json = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    prop_oneof![4 => shaped, 1 => any_json]
}

fn check(flavor: Flavor, r: &Resp) -> Result<(), TestCaseError> {
    prop_assert!(r.status.as_u16() < 500, "a 5xx the configuration does not model: {} {}", r.status, r.json);
    if r.status.is_success() {
        match flavor {
            Flavor::Cloud => assert_spec(&["MessageResponse", "MessageResponsePayload"], &r.json),
            Flavor::OnPrem => prop_assert!(r.json["messages"][0]["id"].is_string(), "{}", r.json),
        }
    }
    Ok(())
}

/// Post every generated body (and its raw bytes cut short) to a simulator of `flavor`.
fn run(flavor: Flavor, cases: u32) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut cfg: SimConfig = quick(flavor);
    cfg.cloud.throughput_mps = 0;
    cfg.cloud.pair_limit.enabled = false;
    let sim = rt.block_on(spawn_local(cfg)).unwrap();
    let (client, path, auth) = rt.block_on(async {
        let mut c = Client::connect(&sim).await;
        match flavor {
            Flavor::Cloud => (c, PATH, TOKEN.to_string()),
            Flavor::OnPrem => {
                let t = login(&mut c).await;
                (c, "/v1/messages", t)
            }
        }
    });
    let client = RefCell::new(client);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    runner
        .run(&(body(), any::<u8>()), |(b, cut)| {
            let bytes = b.to_string().into_bytes();
            let mut c = client.borrow_mut();
            // Client::raw fails the test on an answer that is not JSON.
            let r = rt.block_on(c.raw(http::Method::POST, path, Some(&auth), bytes.clone()));
            check(flavor, &r)?;
            let short = bytes[..bytes.len() * usize::from(cut) / 256].to_vec();
            let r = rt.block_on(c.raw(http::Method::POST, path, Some(&auth), short));
            check(flavor, &r)
        })
        .unwrap();
}

#[test]
fn cloud_answers_are_json_and_successes_match_the_spec() {
    run(Flavor::Cloud, 384);
}

#[test]
fn onprem_answers_are_json() {
    run(Flavor::OnPrem, 256);
}

#[test]
fn a_group_id_with_control_characters_is_refused_not_echoed() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let sim = spawn_local(quick(Flavor::Cloud)).await.unwrap();
        let mut c = Client::connect(&sim).await;
        let body = json!({"messaging_product": "whatsapp", "recipient_type": "group", "to": "abc\u{1}\"def",
                          "type": "text", "text": {"body": "hi"}});
        let r = c.raw(http::Method::POST, PATH, Some(TOKEN), body.to_string().into_bytes()).await;
        assert_eq!(r.status.as_u16(), 400, "{}", r.json);
        let ok = json!({"messaging_product": "whatsapp", "recipient_type": "group", "to": "Y2FwaV9ncm91cDox-_.=",
                        "type": "text", "text": {"body": "hi"}});
        let r = c.raw(http::Method::POST, PATH, Some(TOKEN), ok.to_string().into_bytes()).await;
        assert_eq!(r.status.as_u16(), 200, "{}", r.json);
        assert_eq!(r.json["contacts"][0]["wa_id"], "Y2FwaV9ncm91cDox-_.=");
    });
}
