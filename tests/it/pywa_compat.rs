//! An independent check of the simulator's 2026 webhook shapes: `pywa`, a maintained Python SDK of
//! the WhatsApp Cloud API that understands business-scoped user IDs (it reads status webhooks
//! through their `contacts` array, which pre-2026 shapes lack), parses what the simulator posts.
//! Skipped, with a note, when `python3` or the `pywa` package is missing.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Value, json};
use wabench::sim::identity::Identities;
use wabench::sim::{Flavor, SimConfig, spawn_local};
use wabench::spec::sim::{IdentityConfig, StageDelay};

use crate::support::sim::{Client, text_to};

/// Reads one webhook body per line; prints what pywa made of each, one JSON line per body.
const SCRIPT: &str = r#"
import json, sys
try:
    from pywa import WhatsApp
    from pywa.types import Message, MessageStatus
except ImportError as e:
    print("SKIP", e)
    sys.exit(0)
wa = WhatsApp(phone_id="1234567890", token="unused", filter_updates=False)
for line in sys.stdin:
    update = json.loads(line)
    value = update["entry"][0]["changes"][0]["value"]
    if "statuses" in value:
        u = MessageStatus.from_update(client=wa, update=update)
        status = str(u.status.value)
    else:
        u = Message.from_update(client=wa, update=update)
        status = "message"
    user = u.from_user
    print(json.dumps({"status": status, "bsuid": user.bsuid, "wa_id": user.wa_id, "username": user.username,
                      "country": user.country_code}))
"#;

/// pywa's reading of each body, or `None` when Python or pywa is missing.
fn pywa_reads(bodies: &[Bytes]) -> Option<Vec<Value>> {
    let child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        println!("note: python3 not found; skipping the pywa compatibility check");
        return None;
    };
    let mut input = Vec::new();
    for b in bodies {
        input.extend_from_slice(b);
        input.push(b'\n');
    }
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if let Some(why) = stdout.strip_prefix("SKIP") {
        println!("note: the pywa package is not installed ({}); skipping the pywa check", why.trim());
        return None;
    }
    assert!(
        out.status.success(),
        "pywa failed to parse a simulator webhook:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect())
}

#[tokio::test]
async fn pywa_parses_the_simulators_statuses_and_inbound_messages() {
    let (url, bodies) = crate::support::recorder::recorder().await;
    let identity = IdentityConfig { bsuid: true, username_fraction: 0.5, parent_user_id: true };
    let mut cfg = SimConfig::benchmark(Flavor::Cloud);
    cfg.seed = 4;
    cfg.identity = identity.clone();
    cfg.service_window.enabled = false;
    let zero = StageDelay::constant(Duration::ZERO);
    let h = &mut cfg.webhooks;
    h.callback_url = Some(url);
    (h.sent, h.delivered, h.read) = (zero.clone(), zero.clone(), zero);
    (h.duplicate_fraction, h.out_of_order_fraction, h.delivered_and_failed_fraction) = (0.0, 0.0, 0.0);
    h.read_fraction = 1.0;
    cfg.inbound.rate = 100.0;
    cfg.inbound.max_messages = 4;
    let ids = Identities::new(&identity, 4);
    let phones: Vec<String> = (0..8).map(|i| format!("4477009001{i:02}")).collect();
    cfg.inbound.users = phones.clone();
    let sim = spawn_local(cfg).await.unwrap();
    let mut c = Client::connect(&sim).await;
    for (i, p) in phones.iter().enumerate() {
        let body = if i % 2 == 0 {
            text_to(p)
        } else {
            json!({"messaging_product":"whatsapp","recipient":ids.of(p).unwrap().user_id,"type":"text","text":{"body":"Hi"}})
        };
        assert_eq!(c.send(&body).await.status, 200);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while bodies.lock().unwrap().len() < 3 * phones.len() + 4 {
        assert!(Instant::now() < deadline, "timed out waiting for the webhooks");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let posted: Vec<Bytes> = bodies.lock().unwrap().clone();
    let _ = sim.shutdown().await;
    let Some(read) = pywa_reads(&posted) else { return };
    assert_eq!(read.len(), posted.len());
    for (r, b) in read.iter().zip(&posted) {
        let v: Value = serde_json::from_slice(b).unwrap();
        let value = &v["entry"][0]["changes"][0]["value"];
        let contact = &value["contacts"][0];
        assert_eq!(r["bsuid"], contact["user_id"], "{r} / {value}");
        assert!(r["bsuid"].as_str().unwrap().starts_with("GB."));
        assert_eq!(r["country"], "GB");
        assert_eq!(r["wa_id"], contact.get("wa_id").cloned().unwrap_or(Value::Null));
        let sent = r["status"] == "sent";
        assert_eq!(r["username"].is_null(), sent || contact["profile"].get("username").is_none(), "{r}");
    }
    assert!(read.iter().any(|r| r["wa_id"].is_null()), "some users are known by their BSUID only");
    assert!(read.iter().any(|r| r["status"] == "message"), "inbound messages were read too");
}
