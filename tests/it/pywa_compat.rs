//! An independent check of the simulator's 2026 webhook shapes: `pywa`, a maintained Python SDK of
//! the WhatsApp Cloud API that understands business-scoped user IDs (it reads status webhooks
//! through their `contacts` array, which pre-2026 shapes lack), parses what the simulator posts.
//! The same for the webhook target: a pywa endpoint verifies the signature of, and reads, every POST
//! the target sends. Skipped, with a note, when `python3` or the `pywa` package is missing.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Value, json};
use wabench::sim::identity::Identities;
use wabench::sim::{Flavor, spawn_local};
use wabench::spec::sim::IdentityConfig;

use crate::support::sim::{Client, text_to};

/// Reads one webhook body per line; prints what pywa made of each, one JSON line per body.
const SCRIPT: &str = r#"
from pywa.types import Message, MessageStatus
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
    pywa_reads_with(SCRIPT, bodies)
}

/// What every script starts with: pywa imported (or the check skipped without it) and a client `wa`.
const PRELUDE: &str = r#"
import json, sys
try:
    from pywa import WhatsApp
except ImportError as e:
    print("SKIP", e)
    sys.exit(0)
wa = WhatsApp(phone_id="1234567890", token="unused", filter_updates=False)
"#;

/// What `script` (after the prelude) printed for each body (one line each), or `None` when Python or
/// pywa is missing.
fn pywa_reads_with(script: &str, bodies: &[Bytes]) -> Option<Vec<Value>> {
    let script = format!("{PRELUDE}{script}");
    let mut input = Vec::new();
    for b in bodies {
        input.extend_from_slice(b);
        input.push(b'\n');
    }
    let stdout = crate::support::python::output(&script, &input, "pywa compatibility")?;
    Some(stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect())
}

#[tokio::test]
async fn pywa_parses_the_simulators_statuses_and_inbound_messages() {
    let (url, bodies) = crate::support::recorder::recorder().await;
    let identity =
        IdentityConfig { bsuid: true, username_fraction: 0.5, parent_user_id: true, ..IdentityConfig::default() };
    let mut cfg = crate::support::sim::prompt_hooks(Flavor::Cloud, url, 1.0);
    cfg.seed = 4;
    cfg.identity = identity.clone();
    cfg.service_window.enabled = false;
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

/// A webhook endpoint built on pywa: the handshake through `webhook_challenge_handler`, every POST's
/// `X-Hub-Signature-256` through `webhook_update_validator`, then every status (`MessageStatus`; a
/// failed one, which carries no `contacts`, through pywa's `WhatsAppError`) and every inbound message
/// (`Message`) read by pywa's own types. Answers 200 only when all of a body was read; prints one JSON
/// line per POST. Arguments: app secret, verify token. Prints `PORT <n>` first (or `SKIP …`).
const ENDPOINT: &str = r#"
import json, sys, threading
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import urlparse, parse_qs
try:
    from pywa import WhatsApp, utils
    from pywa.types import Message, MessageStatus
    from pywa.errors import WhatsAppError
except ImportError as e:
    print("SKIP", e, flush=True)
    sys.exit(0)
secret, token = sys.argv[1], sys.argv[2]
wa = WhatsApp(phone_id="106540352242922", token="unused", server=None, verify_token=token,
              app_secret=secret, validate_updates=True, filter_updates=False)
lock = threading.Lock()

def read(body):
    update = json.loads(body)
    seen = []
    for entry in update["entry"]:
        for change in entry["changes"]:
            value = change["value"]
            contacts = value.get("contacts", [])
            def sub(**kv):
                v = dict(value); v.update(kv)
                return {"object": update["object"], "entry": [{"id": entry["id"], "changes": [{"field": change["field"], "value": v}]}]}
            for i, s in enumerate(value.get("statuses", [])):
                if s["status"] == "failed":
                    err = WhatsAppError.from_dict(error=s["errors"][0])
                    assert err.code == s["errors"][0]["code"]
                    seen.append({"status": "failed", "id": s["id"], "error": type(err).__name__})
                    continue
                idx = next(j for j, c in enumerate(contacts) if c.get("wa_id") == s["recipient_id"])
                u = MessageStatus.from_update(client=wa, update=sub(), contact_idx=idx, status_idx=i)
                assert u.id == s["id"] and u.from_user.wa_id == s["recipient_id"]
                seen.append({"status": str(u.status.value), "id": u.id, "bsuid": u.from_user.bsuid,
                             "category": str(u.conversation.category.value) if u.conversation else None,
                             "pricing": u.pricing is not None})
            for m in value.get("messages", []):
                c = next(c for c in contacts if c.get("wa_id") == m["from"])
                u = Message.from_update(client=wa, update=sub(messages=[m], contacts=[c]))
                assert u.id == m["id"] and u.from_user.wa_id == m["from"]
                kind = str(u.type.value)
                seen.append({"message": kind, "id": u.id, "bsuid": u.from_user.bsuid,
                             "media": getattr(getattr(u, kind, None), "id", None) if kind in ("image", "document", "audio", "sticker") else None,
                             "reply_to": u.reply_to_message.id if u.reply_to_message else None})
    return seen

class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, code, body):
        b = body.encode()
        self.send_response(code); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def do_GET(self):
        q = parse_qs(urlparse(self.path).query)
        if q.get("hub.mode", [""])[0] != "subscribe":
            return self.reply(400, "no")
        ch, code = wa.webhook_challenge_handler(vt=q.get(utils.HUB_VT, [None])[0], ch=q.get(utils.HUB_CH, [None])[0])
        self.reply(code, ch)
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        bad = wa.webhook_update_validator(body, self.headers.get(utils.HUB_SIG))
        if bad:
            with lock: print(json.dumps({"ok": False, "error": bad[0]}), flush=True)
            return self.reply(bad[1], bad[0])
        try:
            seen = read(body)
        except Exception as e:
            with lock: print(json.dumps({"ok": False, "error": repr(e), "body": body.decode()}), flush=True)
            return self.reply(500, "parse error")
        with lock: print(json.dumps({"ok": True, "seen": seen}), flush=True)
        self.reply(200, "ok")

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print("PORT", srv.server_address[1], flush=True)
threading.Thread(target=lambda: (sys.stdin.read(), srv.shutdown()), daemon=True).start()
srv.serve_forever()
"#;

/// The webhook target against the pywa endpoint: every POST verified and read, every status and
/// inbound message type the target generates among them.
#[test]
fn pywa_verifies_and_reads_what_the_webhook_target_sends() {
    use std::io::{BufRead, BufReader, Read};
    let child = Command::new("python3")
        .args(["-c", ENDPOINT, "pywa-app-secret", "pywa-verify-token"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        println!("note: python3 not found; skipping the pywa webhook-target check");
        return;
    };
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    if let Some(why) = first.strip_prefix("SKIP") {
        println!("note: the pywa package is not installed ({}); skipping the pywa check", why.trim());
        return;
    }
    let port: u16 = first.trim().strip_prefix("PORT ").and_then(|p| p.parse().ok()).unwrap_or_else(|| {
        let mut err = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut err);
        panic!("the pywa endpoint did not start: {first:?} {err}")
    });
    let dir = tempfile::tempdir().unwrap();
    let profile = format!(
        "name = \"pywa\"\nseed = 3\n[load]\nrate = 40\nduration = \"1s\"\nconnections = 4\n[[targets]]\nname = \"pywa\"\n\
         kind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/webhook\"\n[targets.webhook]\nmax_batch = 4\n\
         app_secret_env = \"PYWA_APP_SECRET\"\nverify_token_env = \"PYWA_VERIFY_TOKEN\"\n\
         [targets.webhook.statuses]\nfailed = 0.2\n[targets.webhook.inbound]\ntext = 1\nimage = 1\ndocument = 1\n\
         audio = 1\nsticker = 1\nlocation = 1\ninteractive = 1\nbutton = 1\nreaction = 1\n"
    );
    let p = dir.path().join("p.toml");
    std::fs::write(&p, profile).unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_wabench"))
        .args(["run", p.to_str().unwrap(), "--out", dir.path().join("out").to_str().unwrap()])
        .env("PYWA_APP_SECRET", "pywa-app-secret")
        .env("PYWA_VERIFY_TOKEN", "pywa-verify-token")
        .output()
        .unwrap();
    drop(child.stdin.take());
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let _ = child.wait();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let posts: Vec<Value> = rest.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let refused: Vec<&Value> = posts.iter().filter(|p| p["ok"] != true).collect();
    assert!(refused.is_empty(), "pywa refused: {refused:?}");
    let seen: Vec<&Value> = posts.iter().flat_map(|p| p["seen"].as_array().unwrap()).collect();
    let run_json: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out").join("run.json")).unwrap()).unwrap();
    let t = &run_json["targets"][0];
    assert_eq!(t["requests"]["ok"], 40, "{t}");
    assert_eq!(posts.len(), 40);
    let built = &t["extra"]["webhook_target"];
    let statuses = seen.iter().filter(|s| s.get("status").is_some()).count();
    assert_eq!(built["statuses"], statuses as u64);
    assert_eq!(built["inbound_messages"], (seen.len() - statuses) as u64);
    let kinds: std::collections::BTreeSet<&str> =
        seen.iter().map(|s| s.get("status").or(s.get("message")).and_then(Value::as_str).unwrap()).collect();
    for k in ["sent", "delivered", "read", "failed", "text", "image", "document", "audio", "sticker", "location"]
        .into_iter()
        .chain(["interactive", "button", "reaction"])
    {
        assert!(kinds.contains(k), "pywa read no {k}: {kinds:?}");
    }
    assert!(
        seen.iter()
            .filter(|s| s.get("message").is_some())
            .all(|s| s["bsuid"].as_str().is_some_and(|b| b.starts_with("US.")))
    );
    assert!(seen.iter().any(|s| s["media"].is_string()), "media ids are read");
    assert!(seen.iter().any(|s| s["reply_to"].is_string()), "replies name the message they answer");
}

/// Reads one JSON object per line, `{"error": …}` (a Graph API error object or a failed status's
/// error), `{"system": update}` (a `user_changed_user_id` webhook) or `{"message": update}`, and
/// prints what pywa made of it.
const CONTENT_SCRIPT: &str = r#"
from pywa.types import Message
from pywa.types.system import PhoneNumberChange
from pywa.errors import WhatsAppError
for line in sys.stdin:
    item = json.loads(line)
    if "error" in item:
        e = WhatsAppError.from_dict(error=item["error"])
        print(json.dumps({"class": type(e).__name__, "code": e.code, "details": e.details}))
    elif "system" in item:
        u = PhoneNumberChange.from_update(client=wa, update=item["system"])
        print(json.dumps({"sys_type": str(u.sys_type.value), "new_user_id": u.new_user_id, "body": u.body}))
    else:
        u = Message.from_update(client=wa, update=item["message"])
        print(json.dumps({"wa_id": u.from_user.wa_id, "username": u.from_user.username, "bsuid": u.from_user.bsuid}))
"#;

#[tokio::test]
async fn pywa_names_the_content_errors_and_reads_bsuid_changes_and_shared_numbers() {
    use wabench::spec::sim::{TemplateCategory, TemplateConfig, TemplateStatus};
    let (url, bodies) = crate::support::recorder::recorder().await;
    let mut cfg = crate::support::sim::prompt_hooks(Flavor::Cloud, url, 0.0);
    cfg.service_window.enabled = false;
    cfg.media.link_failure_fraction = 1.0;
    cfg.identity.username_fraction = 1.0;
    cfg.identity.phone_shared_fraction = 1.0;
    cfg.identity.user_id_change_fraction = 0.5;
    cfg.inbound.rate = 100.0;
    cfg.inbound.max_messages = 8;
    cfg.inbound.users = vec!["447700900123".into()];
    let t = |name: &str, params, status| TemplateConfig {
        name: name.into(),
        language: "en_US".into(),
        params,
        param_types: Vec::new(),
        status,
        category: TemplateCategory::Marketing,
        pacing: None,
    };
    cfg.templates = vec![t("order_update", 2, TemplateStatus::Approved), t("winter_sale", 0, TemplateStatus::Paused)];
    let sim = spawn_local(cfg).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let tpl = |name: &str, lang: &str, n: usize| {
        let params: Vec<Value> = (0..n).map(|i| json!({"type": "text", "text": format!("v{i}")})).collect();
        json!({"messaging_product":"whatsapp","to":"15551230001","type":"template","template":{
            "name":name,"language":{"code":lang},"components":[{"type":"body","parameters":params}]}})
    };
    let mut lines = Vec::new();
    for body in [tpl("order_update", "en_US", 1), tpl("order_update", "de", 2), tpl("winter_sale", "en_US", 0)] {
        let r = c.send(&body).await;
        lines.push(json!({"error": r.json["error"]}));
    }
    let img =
        json!({"messaging_product":"whatsapp","to":"15551230001","type":"image","image":{"link":"https://x/1.png"}});
    assert_eq!(c.send(&img).await.status, 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let st = sim.stats();
        if st.inbound + st.user_id_changes == 8 && st.webhooks.webhooks_posted == 9 {
            break;
        }
        assert!(Instant::now() < deadline, "timed out waiting for the webhooks");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let changes = sim.stats().user_id_changes;
    assert!((1..8).contains(&changes), "a seeded share of the events: {changes}");
    for b in bodies.lock().unwrap().iter() {
        let v: Value = serde_json::from_slice(b).unwrap();
        let value = &v["entry"][0]["changes"][0]["value"];
        if let Some(s) = value["statuses"].as_array() {
            lines.push(json!({"error": s[0]["errors"][0]}));
        } else if value["messages"][0]["type"] == "system" {
            lines.push(json!({"system": v}));
        } else {
            lines.push(json!({"message": v}));
        }
    }
    let _ = sim.shutdown().await;
    let bodies: Vec<Bytes> = lines.iter().map(|l| Bytes::from(l.to_string())).collect();
    let Some(read) = pywa_reads_with(CONTENT_SCRIPT, &bodies) else { return };
    let classes: Vec<&str> = read.iter().filter_map(|r| r["class"].as_str()).collect();
    assert_eq!(classes, ["TemplateParamCountMismatch", "TemplateNotExists", "TemplatePaused", "MediaUploadError"]);
    let systems: Vec<&Value> = read.iter().filter(|r| r.get("sys_type").is_some()).collect();
    assert_eq!(systems.len() as u64, changes);
    for s in &systems {
        assert_eq!(s["sys_type"], "user_changed_user_id");
        assert!(s["new_user_id"].as_str().unwrap().starts_with("GB."), "{s}");
    }
    let messages: Vec<&Value> = read.iter().filter(|r| r.get("wa_id").is_some()).collect();
    assert_eq!(messages.len() as u64, 8 - changes);
    for m in messages {
        assert_eq!(m["wa_id"], "447700900123", "a shared number stays beside the username: {m}");
        assert!(m["username"].is_string() && m["bsuid"].as_str().unwrap().starts_with("GB."), "{m}");
    }
}

/// Reads one status webhook per line; prints pywa's conversation, pricing and user of it.
const PRICING_SCRIPT: &str = r#"
from pywa.types import MessageStatus
for line in sys.stdin:
    u = MessageStatus.from_update(client=wa, update=json.loads(line))
    p = u.pricing
    print(json.dumps({
        "status": str(u.status.value),
        "conversation": u.conversation.category.value if u.conversation else None,
        "pricing": None if p is None else {"billable": p.billable, "pricing_model": p.model.value,
                                           "type": p.type.value if p.type else None, "category": p.category.value},
        "name": u.from_user.name, "bsuid": u.from_user.bsuid,
    }))
"#;

#[tokio::test]
async fn pywa_reads_pricing_and_conversation_as_each_api_version_posts_them() {
    let (url, bodies) = crate::support::recorder::recorder().await;
    let mut cfg = crate::support::sim::prompt_hooks(Flavor::Cloud, url, 1.0);
    cfg.seed = 6;
    cfg.service_window.enabled = false;
    let sim = spawn_local(cfg).await.unwrap();
    let mut c = Client::connect(&sim).await;
    for (i, version) in ["v23.0", "v24.0", "v25.0"].iter().enumerate() {
        let path = format!("/{version}/1234567890/messages");
        let service = text_to(&format!("16505550{i}01"));
        let template = crate::support::sim::template_to(&format!("16505550{i}02"));
        for body in [service, template] {
            assert_eq!(c.post(&path, Some(crate::support::sim::TOKEN), &body).await.status, 200);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while bodies.lock().unwrap().len() < 18 {
        assert!(Instant::now() < deadline, "timed out waiting for the webhooks");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let posted: Vec<Bytes> = bodies.lock().unwrap().clone();
    let _ = sim.shutdown().await;
    let Some(read) = pywa_reads_with(PRICING_SCRIPT, &posted) else { return };
    assert_eq!(read.len(), posted.len());
    let mut with_conversation = 0;
    for (r, b) in read.iter().zip(&posted) {
        let v: Value = serde_json::from_slice(b).unwrap();
        let value = &v["entry"][0]["changes"][0]["value"];
        let s = &value["statuses"][0];
        // pywa reads exactly what was posted: the conversation's category where there is one, and
        // the per-message pricing with its type.
        assert_eq!(r["conversation"], s["conversation"]["origin"]["type"], "{r} / {s}");
        with_conversation += usize::from(s.get("conversation").is_some());
        assert_eq!(r["pricing"], s.get("pricing").cloned().unwrap_or(Value::Null), "{r} / {s}");
        assert_eq!(
            (&r["name"], &r["bsuid"]),
            (&value["contacts"][0]["profile"]["name"], &value["contacts"][0]["user_id"])
        );
    }
    assert_eq!(with_conversation, 4, "sent and delivered of the two v23.0 messages only");
    assert!(read.iter().any(|r| r["pricing"]["type"] == "free_customer_service"));
    assert!(read.iter().any(|r| r["pricing"]["type"] == "regular" && r["pricing"]["category"] == "marketing"));
}
