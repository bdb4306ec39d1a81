//! End-to-end tests of the embedded WhatsApp API simulator over loopback HTTP: response shapes
//! (checked against Meta's OpenAPI spec when it is available), error codes, limits, downtime,
//! recipient rules, on-prem login and determinism.

use crate::support::sim as sim_support;

use std::time::Duration;

use http::{Method, StatusCode};
use serde_json::{Value, json};
use sim_support::*;
use tokio::net::TcpStream;
use wabench::sim::{Flavor, SimConfig, spawn_local};
use wabench::spec::sim::{DowntimeWindow, UpgradeConfig};

// ---- Cloud -----------------------------------------------------------------------------------

#[tokio::test]
async fn cloud_accepts_every_message_type() {
    let sim = spawn_local(quick(Flavor::Cloud)).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let to = "+1 650-555-1234";
    let base = json!({"messaging_product":"whatsapp","recipient_type":"individual","to":to});
    let kinds: Vec<(&str, Value)> = vec![
        ("text", json!({"body":"Hello","preview_url":false})),
        ("template", template_to(to)["template"].clone()),
        ("image", json!({"link":"https://example.com/a.png","caption":"pic"})),
        ("document", json!({"id":"1013859600285441","filename":"invoice.pdf"})),
        ("audio", json!({"id":"4242"})),
        ("video", json!({"link":"https://example.com/v.mp4"})),
        ("sticker", json!({"id":"77"})),
        (
            "interactive",
            json!({"type":"button","body":{"text":"Choose"},"action":{"buttons":[
            {"type":"reply","reply":{"id":"yes","title":"Yes"}},{"type":"reply","reply":{"id":"no","title":"No"}}]}}),
        ),
        (
            "interactive",
            json!({"type":"list","header":{"type":"text","text":"Menu"},"body":{"text":"Pick"},
            "action":{"button":"Open","sections":[{"title":"A","rows":[{"id":"r1","title":"One"},{"id":"r2","title":"Two"}]}]}}),
        ),
        ("reaction", json!({"message_id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCOTY3","emoji":"\u{1F44D}"})),
        ("location", json!({"latitude":37.48,"longitude":-122.15,"name":"HQ"})),
        ("contacts", json!([{"name":{"formatted_name":"Ann Lee","first_name":"Ann"}}])),
    ];
    let mut ids = std::collections::HashSet::new();
    for (kind, content) in kinds {
        let mut body = base.clone();
        body["type"] = json!(kind);
        body[kind] = content;
        let r = c.send(&body).await;
        assert_cloud_success(&r, to);
        assert!(ids.insert(r.json["messages"][0]["id"].as_str().unwrap().to_string()));
    }
    let r = c.send(&json!({"messaging_product":"whatsapp","status":"read","message_id":"wamid.abc"})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json, json!({"success": true}));
    assert_spec(&["SuccessResponse", "MarkMessageResponsePayload"], &r.json);
    let stats = sim.stats();
    assert_eq!(stats.accepted, 12);
    assert_eq!(stats.other_ok, 1);
    assert_eq!(stats.requests, 13);
}

/// The request examples of the spec's send-message operation are accepted as they are
/// (placeholders filled in).
#[tokio::test]
async fn cloud_accepts_the_spec_request_examples() {
    let Some(spec) = spec() else { return };
    let examples = spec["paths"]["/{Version}/{Phone-Number-ID}/messages"]["post"]["requestBody"]
        ["content"]["application/json"]["examples"]
        .as_object()
        .expect("send-message examples");
    assert!(examples.len() >= 10);
    let mut cfg = quick(Flavor::Cloud);
    cfg.cloud.pair_limit.enabled = false;
    cfg.cloud.throughput_mps = 0;
    let sim = spawn_local(cfg).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let mut failures = Vec::new();
    for (name, ex) in examples {
        let text = ex["value"]
            .to_string()
            .replace("{{Recipient-Phone-Number}}", "+16505551234")
            .replace("{{Recipient-WA-Phone-Number}}", "16505551234")
            .replace("<http(s)://", "https://example.com/")
            .replace("http(s)://", "https://");
        let r = c.raw(Method::POST, PATH, Some(TOKEN), text.into_bytes()).await;
        if r.status != StatusCode::OK {
            failures.push(format!("{name}: {} {}\n  request {}", r.status, r.json, ex["value"]));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn cloud_reads_json_and_forms_and_refuses_a_body_of_another_content_type() {
    let sim = spawn_local(quick(Flavor::Cloud)).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let to = "+16505551234";
    let json_body = text_to(to).to_string().into_bytes();
    let send = |ct: Option<&'static str>, body: Vec<u8>| (ct, body);
    let form = format!(
        "messaging_product=whatsapp&to={}&type=text&text={}",
        form_urlencoded::byte_serialize(to.as_bytes()).collect::<String>(),
        form_urlencoded::byte_serialize(br#"{"body":"hi"}"#).collect::<String>()
    );
    // Read: JSON with or without parameters, a form's fields, and a JSON body sent as a form (curl -d).
    for (ct, body) in [
        send(Some("application/json"), json_body.clone()),
        send(Some("Application/JSON; charset=utf-8"), json_body.clone()),
        send(Some("application/x-www-form-urlencoded"), form.into_bytes()),
        send(Some("application/x-www-form-urlencoded"), json_body.clone()),
    ] {
        let r = c.typed(Method::POST, PATH, Some(TOKEN), ct, body).await;
        assert_cloud_success(&r, to);
    }
    // Not read: no parameters, so no messaging_product.
    for ct in [Some("AAA"), Some("text/plain"), None] {
        let r = c.typed(Method::POST, PATH, Some(TOKEN), ct, json_body.clone()).await;
        assert_cloud_error(&r, 400, 131008);
        let details = r.json["error"]["error_data"]["details"].as_str().unwrap();
        assert!(details.contains("messaging_product") && details.contains("Content-Type"), "{details}");
    }
    // The setting that reads every body as JSON.
    let mut cfg = quick(Flavor::Cloud);
    cfg.cloud.any_content_type = true;
    let lenient = spawn_local(cfg).await.unwrap();
    let mut c = Client::connect(&lenient).await;
    let r = c.typed(Method::POST, PATH, Some(TOKEN), Some("AAA"), json_body).await;
    assert_cloud_success(&r, to);
}

#[tokio::test]
async fn cloud_validation_errors() {
    let mut cfg = quick(Flavor::Cloud);
    cfg.max_body_bytes = 64 * 1024;
    let sim = spawn_local(cfg).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let mut no_product = text_to("15551234567");
    no_product.as_object_mut().unwrap().remove("messaging_product");
    assert_cloud_error(&c.send(&no_product).await, 400, 131008);
    let mut no_to = text_to("15551234567");
    no_to.as_object_mut().unwrap().remove("to");
    assert_cloud_error(&c.send(&no_to).await, 400, 131008);
    let no_text = json!({"messaging_product":"whatsapp","to":"15551234567","type":"text"});
    assert_cloud_error(&c.send(&no_text).await, 400, 131008);
    let mut wrong = text_to("15551234567");
    wrong["text"]["body"] = json!(12);
    assert_cloud_error(&c.send(&wrong).await, 400, 131009);
    wrong["text"]["body"] = json!("");
    assert_cloud_error(&c.send(&wrong).await, 400, 131009);
    wrong["text"]["body"] = json!("x".repeat(4097));
    assert_cloud_error(&c.send(&wrong).await, 400, 100);
    wrong["text"]["body"] = json!("é".repeat(4096));
    assert_eq!(c.send(&wrong).await.status, StatusCode::OK);
    let mut bad_product = text_to("15551234567");
    bad_product["messaging_product"] = json!("sms");
    assert_cloud_error(&c.send(&bad_product).await, 400, 131009);
    let unknown = json!({"messaging_product":"whatsapp","to":"15551234567","type":"fax","fax":{}});
    assert_cloud_error(&c.send(&unknown).await, 400, 100);
    let r = c.raw(Method::POST, PATH, Some(TOKEN), b"{\"messaging_product\": \"whatsapp\", ".to_vec()).await;
    assert_cloud_error(&r, 400, 100);
    let r = c.raw(Method::POST, PATH, Some(TOKEN), b"\xff\xfe".to_vec()).await;
    assert_cloud_error(&r, 400, 100);
    let r = c.post("/v23.0/not-a-number/messages", Some(TOKEN), &text_to("1555")).await;
    assert_cloud_error(&r, 400, 100);
    let r = c.post("/latest/123/messages", Some(TOKEN), &text_to("1555")).await;
    assert_cloud_error(&r, 404, 100);
    let r = c.raw(Method::GET, PATH, Some(TOKEN), Vec::new()).await;
    assert_cloud_error(&r, 405, 100);
    // The connection survived every error.
    assert_cloud_success(&c.send(&text_to("15551234567")).await, "15551234567");
    // An oversized body is refused before it is read (the server may close the connection).
    let big = vec![b' '; 64 * 1024 + 1];
    assert_cloud_error(&c.raw(Method::POST, PATH, Some(TOKEN), big).await, 413, 100);
    let stats = sim.stats();
    assert_eq!(stats.error_count(131008), 3);
    assert_eq!(stats.error_count(131009), 3);
    assert_eq!(stats.http_status.get(&413), Some(&1));
}

#[tokio::test]
async fn cloud_token_rules() {
    let sim = spawn_local(quick(Flavor::Cloud)).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let body = text_to("15551234567");
    assert_cloud_error(&c.post(PATH, None, &body).await, 401, 190);
    assert_cloud_error(&c.post(PATH, Some("Bearer "), &body).await, 401, 190);
    assert_cloud_error(&c.post(PATH, Some("Basic abc"), &body).await, 401, 190);
    // Only configured tokens are accepted: the documented test token by default.
    assert_cloud_error(&c.post(PATH, Some("Bearer anything"), &body).await, 401, 190);
    let r = c.post(PATH, Some("Bearer wabench-expired-token"), &body).await;
    assert_cloud_error(&r, 401, 190);
    assert_eq!(r.json["error"]["error_subcode"], 463, "an expired token carries subcode 463");
    assert!(c.post(PATH, Some("Bearer anything"), &body).await.json["error"].get("error_subcode").is_none());
    let r = c.post(PATH, Some("Bearer wabench-noperm-token"), &body).await;
    assert_cloud_error(&r, 403, 10);
    assert!(r.json["error"]["error_data"]["details"].as_str().unwrap().contains("whatsapp_business_messaging"));
    assert_eq!(c.post(PATH, Some("bearer wabench-embedded-token"), &body).await.status, StatusCode::OK);

    // Tokens from an environment variable (comma-separated) are accepted too; an unset one is an error.
    let mut cfg = quick(Flavor::Cloud);
    cfg.cloud.tokens_env = Some("WABENCH_SIM_API_TEST_TOKENS".into());
    assert!(wabench::sim::Sim::new(cfg.clone()).err().unwrap().to_string().contains("WABENCH_SIM_API_TEST_TOKENS"));
    cfg.env = wabench::units::Env::default().with("WABENCH_SIM_API_TEST_TOKENS", "EAAone, EAAtwo");
    let sim = spawn_local(cfg).await.unwrap();
    let mut c = Client::connect(&sim).await;
    assert_eq!(c.post(PATH, Some("Bearer EAAtwo"), &body).await.status, StatusCode::OK);
    assert_cloud_error(&c.post(PATH, Some("Bearer EAAthree"), &body).await, 401, 190);

    let mut cfg = quick(Flavor::Cloud);
    cfg.cloud.tokens = vec!["good".into()];
    cfg.cloud.api_versions = vec!["v23.0".into()];
    let sim = spawn_local(cfg).await.unwrap();
    let mut c = Client::connect(&sim).await;
    assert_eq!(c.post(PATH, Some("Bearer good"), &body).await.status, StatusCode::OK);
    assert_cloud_error(&c.post(PATH, Some("Bearer other"), &body).await, 401, 190);
    let r = c.post("/v19.0/1234567890/messages", Some("Bearer good"), &body).await;
    assert_cloud_error(&r, 400, 100);
}

/// One rule for a Graph API version (`v<major>.<minor>`, as Meta writes them): what a profile takes as
/// a Cloud target's or a webhook target's `api_version` is what the simulator serves at
/// `/{version}/{phone-number-id}/messages`; anything else is refused by all three alike.
#[tokio::test]
async fn a_graph_api_version_reads_alike_in_profiles_and_in_the_simulator() {
    let sim = spawn_local(quick(Flavor::Cloud)).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let head = "name = \"v\"\n[load]\nrate = 1\nduration = \"1s\"\n[[targets]]\nname = \"t\"\n";
    let versions = [
        ("v23.0", true),
        ("v24.0", true),
        ("v2.12", true),
        ("v23", false),
        ("23.0", false),
        ("V23.0", false),
        ("v23.0.1", false),
        ("v023.0", false),
        ("v23.x", false),
    ];
    for (v, valid) in versions {
        let r = c.post(&format!("/{v}/1234567890/messages"), Some(TOKEN), &text_to("15551234567")).await;
        if valid {
            assert_eq!(r.status, StatusCode::OK, "{v}: {}", r.json);
        } else {
            assert_cloud_error(&r, 404, 100);
        }
        let cloud = format!("{head}kind = \"cloud\"\nbase_url = \"embedded\"\napi_version = \"{v}\"\n");
        let hook = format!("{head}kind = \"webhook\"\nurl = \"embedded\"\n[targets.webhook]\napi_version = \"{v}\"\n");
        for (text, field) in [(cloud, "targets[0].api_version"), (hook, "targets[0].webhook.api_version")] {
            let loaded = wabench::spec::load(&crate::support::common::profile(dir.path(), &text));
            match (valid, loaded) {
                (true, Ok(_)) => {}
                (false, Err(e)) => {
                    assert_eq!(e.field.as_deref(), Some(field), "{v}: {e}");
                    assert!(e.to_string().contains(&format!("{v:?} is not a Graph API version like")), "{e}");
                }
                (_, r) => panic!("{v} as {field}: {:?}", r.map(|_| ())),
            }
        }
    }
}

#[tokio::test]
async fn cloud_throughput_limit() {
    let mut cfg = quick(Flavor::Cloud);
    cfg.cloud.throughput_mps = 5;
    cfg.cloud.pair_limit.enabled = false;
    let sim = spawn_local(cfg).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let mut codes = Vec::new();
    for _ in 0..8 {
        codes.push(c.send(&text_to("15551234567")).await.code());
    }
    assert_eq!(&codes[..5], &[-1; 5], "{codes:?}");
    assert!(codes[5..].contains(&130429), "{codes:?}");
    let r = c.send(&text_to("15551234567")).await;
    assert_cloud_error(&r, 429, 130429);
    // Another phone number has its own budget.
    let other = c.post("/v23.0/999/messages", Some(TOKEN), &text_to("15551234567")).await;
    assert_eq!(other.status, StatusCode::OK);

    let mut cfg = quick(Flavor::Cloud);
    cfg.cloud.throughput_mps = 1;
    cfg.cloud.throttle_http_status = 400;
    let sim = spawn_local(cfg).await.unwrap();
    let mut c = Client::connect(&sim).await;
    c.send(&text_to("15551234567")).await;
    assert_cloud_error(&c.send(&text_to("15551234568")).await, 400, 130429);
}

#[tokio::test]
async fn cloud_throughput_upgrade() {
    let mut cfg = quick(Flavor::Cloud);
    cfg.cloud.throughput_mps = 1;
    cfg.cloud.pair_limit.enabled = false;
    cfg.cloud.upgrade =
        Some(UpgradeConfig { start: Duration::ZERO, duration: Duration::from_secs(600), throughput_mps: 1000 });
    let sim = spawn_local(cfg.clone()).await.unwrap();
    let mut c = Client::connect(&sim).await;
    assert_cloud_error(&c.send(&text_to("15551234567")).await, 429, 131057);
    // After the upgrade the new limit applies.
    cfg.cloud.upgrade = Some(UpgradeConfig { start: Duration::ZERO, duration: Duration::ZERO, throughput_mps: 1000 });
    let sim = spawn_local(cfg).await.unwrap();
    let mut c = Client::connect(&sim).await;
    for _ in 0..5 {
        assert_eq!(c.send(&text_to("15551234567")).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn cloud_pair_limit() {
    let mut cfg = quick(Flavor::Cloud);
    cfg.cloud.pair_limit.burst = 3;
    let sim = spawn_local(cfg).await.unwrap();
    let mut c = Client::connect(&sim).await;
    for _ in 0..3 {
        assert_eq!(c.send(&text_to("15550001111")).await.status, StatusCode::OK);
    }
    assert_cloud_error(&c.send(&text_to("15550001111")).await, 429, 131056);
    assert_eq!(c.send(&text_to("15550002222")).await.status, StatusCode::OK);
    assert_eq!(sim.stats().error_count(131056), 1);
}

#[tokio::test]
async fn cloud_recipient_rules_accept_and_fail_later() {
    // Meta answers these at send with 200 and a wamid; the failure comes as a `failed` status webhook.
    let sim = spawn_local(quick(Flavor::Cloud)).await.unwrap();
    let mut c = Client::connect(&sim).await;
    assert_cloud_success(&c.send(&text_to("+15551230000")).await, "+15551230000"); // undeliverable: 131026
    assert_cloud_success(&c.send(&text_to("+15551234747")).await, "+15551234747"); // window never opens: 131047
    assert_cloud_success(&c.send(&template_to("+15551234747")).await, "+15551234747"); // templates always allowed
    assert_cloud_success(&c.send(&template_to("+15551234949")).await, "+15551234949"); // marketing limit: 131049
    assert_cloud_success(&c.send(&text_to("+15551234949")).await, "+15551234949"); // closed window: 131047
    for sanctioned in ["+5352345678", "+989121234567", "+8502123456", "+963912345678"] {
        assert_cloud_success(&c.send(&text_to(sanctioned)).await, sanctioned); // 131026
    }
    assert_cloud_success(&c.send(&text_to("+905321234567")).await, "+905321234567"); // closed window: 131047
    let st = sim.stats();
    assert_eq!(st.accepted, 10);
    assert!(st.errors.is_empty(), "nothing refused at send: {:?}", st.errors);
    assert_eq!(st.failed_later, std::collections::BTreeMap::from([(131026, 5), (131047, 3), (131049, 1)]));

    let mut cfg = quick(Flavor::Cloud);
    cfg.recipients.undeliverable_fraction = 1.0;
    cfg.service_window.enabled = false;
    let sim = spawn_local(cfg).await.unwrap();
    let mut c = Client::connect(&sim).await;
    assert_cloud_success(&c.send(&text_to("+15557654321")).await, "+15557654321");
    assert_eq!(sim.stats().failed_later.get(&131026), Some(&1));
}

#[tokio::test]
async fn cloud_downtime_window() {
    let mut cfg = quick(Flavor::Cloud);
    cfg.downtime = vec![DowntimeWindow { start: Duration::ZERO, duration: Duration::from_secs(600) }];
    let sim = spawn_local(cfg).await.unwrap();
    let mut c = Client::connect(&sim).await;
    assert_cloud_error(&c.send(&text_to("15551234567")).await, 503, 2);
    assert_eq!(sim.stats().error_count(2), 1);

    let mut cfg = quick(Flavor::Cloud);
    cfg.downtime = vec![DowntimeWindow { start: Duration::from_secs(600), duration: Duration::from_secs(10) }];
    let sim = spawn_local(cfg).await.unwrap();
    let mut c = Client::connect(&sim).await;
    assert_eq!(c.send(&text_to("15551234567")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn same_seed_same_responses_and_latencies() {
    async fn run(seed: u64) -> Vec<(u64, Value)> {
        let mut cfg = SimConfig { seed, ..SimConfig::default() };
        cfg.latency.median = Some(Duration::from_micros(300));
        cfg.latency.p99 = Some(Duration::from_millis(3));
        cfg.cloud.pair_limit.burst = 2;
        let sim = spawn_local(cfg).await.unwrap();
        let mut c = Client::connect(&sim).await;
        let mut out = Vec::new();
        for i in 0..12 {
            let r = c.send(&text_to(&format!("1555000{}", i % 4))).await;
            out.push((r.latency_us(), r.json));
        }
        out
    }
    let a = run(42).await;
    let b = run(42).await;
    let d = run(43).await;
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.0, y.0, "latency");
        assert_eq!(x.1["messages"], y.1["messages"], "message ids");
        assert_eq!(x.1["error"], y.1["error"], "errors incl. fbtrace_id");
    }
    assert_ne!(a.iter().map(|x| x.0).collect::<Vec<_>>(), d.iter().map(|x| x.0).collect::<Vec<_>>());
    assert!(a.iter().any(|x| x.1["error"]["code"] == 131056));
    assert!(a.iter().all(|x| x.0 <= 30_000_000));
}

// ---- On-premises -----------------------------------------------------------------------------

#[tokio::test]
async fn onprem_login_send_contacts_health() {
    let sim = spawn_local(quick(Flavor::OnPrem)).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let r = c.raw(Method::POST, "/v1/users/login", Some(&basic("admin", "wrong")), Vec::new()).await;
    assert_onprem_error(&r, 401, 1005);
    assert_eq!(r.json["errors"][0]["title"], "Access denied");
    let r = c.raw(Method::POST, "/v1/users/login", None, Vec::new()).await;
    assert_onprem_error(&r, 401, 1005);

    // The default admin's first login must set a new password (Meta's rule), and a strong one.
    let r = c.raw(Method::POST, "/v1/users/login", Some(&basic("admin", "secret")), Vec::new()).await;
    assert_onprem_error(&r, 401, 1005);
    assert!(r.json["errors"][0]["details"].as_str().unwrap().contains("new_password"), "{}", r.json);
    let weak = br#"{"new_password":"password"}"#.to_vec();
    let r = c.raw(Method::POST, "/v1/users/login", Some(&basic("admin", "secret")), weak).await;
    assert_onprem_error(&r, 400, 1009);
    let first = br#"{"new_password":"N3w-pass"}"#.to_vec();
    let r = c.raw(Method::POST, "/v1/users/login", Some(&basic("admin", "secret")), first).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let exp = r.json["users"][0]["expires_after"].as_str().unwrap();
    let parsed = chrono::DateTime::parse_from_str(exp, "%Y-%m-%d %H:%M:%S%:z").unwrap();
    let days = (parsed.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
    assert!((167..=168).contains(&days), "{exp}");
    let token = format!("Bearer {}", r.json["users"][0]["token"].as_str().unwrap());

    let r = c.post("/v1/messages", Some(&token), &onprem_text("+15551234567")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert!(r.json["messages"][0]["id"].as_str().unwrap().starts_with("gBEG"));
    assert_eq!(r.json["meta"]["api_status"], "stable");
    assert!(r.json["meta"]["version"].as_str().unwrap().starts_with("2."));

    let tpl = json!({"to":"15551234567","type":"template","template":{"namespace":"abc_ns","name":"order",
        "language":{"policy":"deterministic","code":"en"},
        "components":[{"type":"body","parameters":[{"type":"text","text":"Ann"}]}]}});
    assert_eq!(c.post("/v1/messages", Some(&token), &tpl).await.status, StatusCode::CREATED);
    let mut no_ns = tpl.clone();
    no_ns["template"].as_object_mut().unwrap().remove("namespace");
    assert_onprem_error(&c.post("/v1/messages", Some(&token), &no_ns).await, 400, 1008);
    let r = c.raw(Method::POST, "/v1/messages", Some(&token), b"nope".to_vec()).await;
    assert_onprem_error(&r, 400, 1009);
    assert_onprem_error(&c.post("/v1/messages", Some("Bearer unknown"), &onprem_text("15551234567")).await, 401, 1005);
    assert_onprem_error(&c.post("/v1/messages", None, &onprem_text("15551234567")).await, 401, 1005);
    assert_onprem_error(&c.post("/v1/messages", Some(&token), &onprem_text("15550000")).await, 400, 1013);
    assert_onprem_error(&c.post("/v1/messages", Some(&token), &onprem_text("+989121234567")).await, 400, 1013);
    // Re-engagement is accepted and fails later in a `failed` status (470), like Cloud's 131047.
    let before = sim.stats().failed_later.get(&470).copied().unwrap_or(0);
    assert_eq!(c.post("/v1/messages", Some(&token), &onprem_text("15554747")).await.status, StatusCode::CREATED);
    assert_eq!(sim.stats().failed_later.get(&470).copied().unwrap_or(0), before + 1);
    assert_eq!(c.post("/v1/messages", Some(&token), &onprem_text("+905321234567")).await.status, StatusCode::CREATED);
    let r = c.raw(Method::PUT, "/v1/messages/gBEGabc", Some(&token), br#"{"status":"read"}"#.to_vec()).await;
    assert_eq!(r.status, StatusCode::OK);

    let r = c
        .post(
            "/v1/contacts",
            Some(&token),
            &json!({"blocking":"wait","contacts":["+1 555 123 4567","+5351234567","bogus"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let cs = r.json["contacts"].as_array().unwrap();
    assert_eq!(cs[0], json!({"input":"+1 555 123 4567","status":"valid","wa_id":"15551234567"}));
    assert_eq!(cs[1]["status"], "invalid");
    assert_eq!(cs[2]["status"], "invalid");

    // Health needs a token; the default 8 shards answer in the multiconnect shape, one entry per node.
    assert_onprem_error(&c.raw(Method::GET, "/v1/health", None, Vec::new()).await, 401, 1005);
    let r = c.raw(Method::GET, "/v1/health", Some(&token), Vec::new()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let nodes = r.json["health"].as_object().unwrap();
    assert_eq!(nodes.values().filter(|n| n["role"] == "coreapp").count(), 8, "{}", r.json);
    assert_eq!(nodes.values().filter(|n| n["role"] == "primary_master").count(), 1, "{}", r.json);
    assert!(nodes.values().all(|n| n["gateway_status"] == "connected"), "{}", r.json);
    assert_onprem_error(&c.raw(Method::GET, "/v2/nothing", None, Vec::new()).await, 404, 1006);

    // The old password is gone; the new one logs in without changing it again.
    let r = c.raw(Method::POST, "/v1/users/login", Some(&basic("admin", "secret")), Vec::new()).await;
    assert_onprem_error(&r, 401, 1005);
    let r = c.raw(Method::POST, "/v1/users/login", Some(&basic("admin", "N3w-pass")), Vec::new()).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn onprem_token_expires() {
    let mut cfg = quick(Flavor::OnPrem);
    cfg.onprem.token_ttl = Duration::from_millis(300);
    let sim = spawn_local(cfg).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let token = login(&mut c).await;
    let r = c.post("/v1/messages", Some(&token), &onprem_text("15551234567")).await;
    assert_eq!(r.status, StatusCode::CREATED);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let r = c.post("/v1/messages", Some(&token), &onprem_text("15551234567")).await;
    assert_onprem_error(&r, 401, 1005);
    let token = login(&mut c).await;
    let r = c.post("/v1/messages", Some(&token), &onprem_text("15551234567")).await;
    assert_eq!(r.status, StatusCode::CREATED);
}

#[tokio::test]
async fn onprem_request_limit_is_per_webapp() {
    for webapps in [1u32, 2] {
        let mut cfg = quick(Flavor::OnPrem);
        cfg.onprem.webapps = webapps;
        cfg.onprem.messages_rps = 1;
        cfg.onprem.messages_burst = 3;
        let sim = spawn_local(cfg).await.unwrap();
        let mut c = Client::connect(&sim).await;
        let token = login(&mut c).await;
        // Requests go round-robin over the WebApps, each admitting its own burst.
        for _ in 0..3 * webapps {
            let r = c.post("/v1/messages", Some(&token), &onprem_text("15551234567")).await;
            assert_eq!(r.status, StatusCode::CREATED, "{webapps} WebApp(s): {}", r.json);
        }
        let r = c.post("/v1/messages", Some(&token), &onprem_text("15551234567")).await;
        assert_onprem_error(&r, 429, 1015);
        let details = r.json["errors"][0]["details"].as_str().unwrap();
        assert!(details.contains(&format!("of {webapps}")) && details.contains("1 requests/s"), "{details}");
        assert_eq!(sim.stats().error_count(1015), 1);
    }
}

#[tokio::test]
async fn onprem_overload_with_one_shard() {
    let mut cfg = quick(Flavor::OnPrem);
    cfg.onprem.shards = 1;
    cfg.onprem.per_shard_mps = Some(10.0);
    cfg.onprem.overload_queue_delay = Duration::from_millis(250);
    let sim = spawn_local(cfg).await.unwrap();
    let token = login(&mut Client::connect(&sim).await).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let mut c = Client::connect(&sim).await;
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let r = c.post("/v1/messages", Some(&token), &onprem_text(&format!("155512345{i:02}"))).await;
            (r.status.as_u16(), r.code(), r.latency_us())
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let accepted: Vec<_> = results.iter().filter(|r| r.0 == 201).collect();
    let overloaded = results.iter().filter(|r| r.0 == 503 && r.1 == 1016).count();
    assert!((2..=4).contains(&accepted.len()), "{results:?}");
    assert_eq!(accepted.len() + overloaded, 8, "{results:?}");
    // Queued messages waited for the shard.
    assert!(accepted.iter().any(|r| r.2 >= 90_000), "{results:?}");
}

#[tokio::test]
async fn onprem_downtime() {
    let mut cfg = quick(Flavor::OnPrem);
    cfg.downtime = vec![DowntimeWindow { start: Duration::ZERO, duration: Duration::from_secs(600) }];
    let sim = spawn_local(cfg).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let token = login(&mut c).await;
    let r = c.post("/v1/messages", Some(&token), &onprem_text("15551234567")).await;
    assert_onprem_error(&r, 503, 1016);
    // The CoreApps lost their connection to the WhatsApp servers; the Masters did not.
    let r = c.raw(Method::GET, "/v1/health", Some(&token), Vec::new()).await;
    let nodes = r.json["health"].as_object().unwrap();
    assert!(
        nodes
            .values()
            .all(|n| n["gateway_status"] == if n["role"] == "coreapp" { "disconnected" } else { "connected" }),
        "{}",
        r.json
    );
}

#[tokio::test]
async fn handle_shutdown_closes_listener() {
    let sim = spawn_local(quick(Flavor::Cloud)).await.unwrap();
    let addr = sim.addr;
    let mut c = Client::connect(&sim).await;
    assert_eq!(c.send(&text_to("15551234567")).await.status, StatusCode::OK);
    sim.shutdown().await.unwrap();
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn invalid_config_is_refused() {
    let mut cfg = quick(Flavor::OnPrem);
    cfg.onprem.shards = 0;
    let e = spawn_local(cfg).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}
