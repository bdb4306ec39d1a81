//! Helpers of the simulator end-to-end tests: a tiny HTTP/1.1 client over loopback, request
//! bodies, error-envelope assertions and a checker of responses against the OpenAPI spec.

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{SendRequest, handshake};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::OnceLock;
use tokio::net::TcpStream;
use wabench::sim::{Flavor, LATENCY_HEADER, SimConfig, SimHandle};
use wabench::spec::sim::LatencyConfig;
pub const TOKEN: &str = "Bearer wabench-embedded-token";
pub const PATH: &str = "/v23.0/1234567890/messages";

/// A keep-alive HTTP/1.1 connection to the simulator.
pub struct Client {
    tx: SendRequest<Full<Bytes>>,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
}

impl Resp {
    pub fn code(&self) -> i64 {
        self.json["error"]["code"].as_i64().or_else(|| self.json["errors"][0]["code"].as_i64()).unwrap_or(-1)
    }
    pub fn latency_us(&self) -> u64 {
        self.headers[LATENCY_HEADER].to_str().unwrap().parse().unwrap()
    }
}

impl Client {
    pub async fn connect(sim: &SimHandle) -> Client {
        let stream = TcpStream::connect(sim.addr).await.unwrap();
        let (tx, conn) = handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(conn);
        Client { tx }
    }

    pub async fn raw(&mut self, method: Method, path: &str, auth: Option<&str>, body: Vec<u8>) -> Resp {
        self.typed(method, path, auth, Some("application/json"), body).await
    }

    /// A request with the given Content-Type (or none).
    pub async fn typed(
        &mut self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(path).header("host", "127.0.0.1");
        if let Some(c) = content_type {
            req = req.header("content-type", c);
        }
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = self.tx.send_request(req.body(Full::new(Bytes::from(body))).unwrap()).await.unwrap();
        let (parts, body) = resp.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("non-JSON response {e}: {}", String::from_utf8_lossy(&bytes)));
        Resp { status: parts.status, headers: parts.headers, json }
    }

    pub async fn post(&mut self, path: &str, auth: Option<&str>, body: &Value) -> Resp {
        self.raw(Method::POST, path, auth, body.to_string().into_bytes()).await
    }

    pub async fn send(&mut self, body: &Value) -> Resp {
        self.post(PATH, Some(TOKEN), body).await
    }
}

/// Zero latency, defaults otherwise.
pub fn quick(flavor: Flavor) -> SimConfig {
    SimConfig { flavor, latency: LatencyConfig::zero(), ..SimConfig::default() }
}

pub fn text_to(to: &str) -> Value {
    json!({"messaging_product":"whatsapp","recipient_type":"individual","to":to,"type":"text","text":{"body":"Hello"}})
}

pub fn template_to(to: &str) -> Value {
    json!({"messaging_product":"whatsapp","to":to,"type":"template","template":{
        "name":"order_update","language":{"code":"en_US"},
        "components":[{"type":"body","parameters":[{"type":"text","text":"Ann"},{"type":"text","text":"#42"}]}]}})
}

// ---- OpenAPI spec checks -------------------------------------------------------------------

pub fn spec() -> Option<&'static Value> {
    static SPEC: OnceLock<Option<Value>> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/business-messaging-api_v23.0.yaml");
        match std::fs::read_to_string(&path) {
            Ok(text) => Some(serde_norway::from_str(&text).expect("spec parses as YAML")),
            Err(_) => {
                println!("note: {} absent; skipping OpenAPI schema checks", path.display());
                None
            }
        }
    })
    .as_ref()
}

pub fn schema<'a>(spec: &'a Value, name: &str) -> &'a Value {
    let s = &spec["components"]["schemas"][name];
    assert!(s.is_object(), "schema {name} not in spec");
    s
}

/// Check `v` against a subset of JSON Schema: `$ref`, `allOf`, `type`, `required`,
/// `properties`, `items` and `enum`.
pub fn conforms(spec: &Value, s: &Value, v: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = s["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap();
        return conforms(spec, schema(spec, name), v, at);
    }
    if let Some(all) = s["allOf"].as_array() {
        for sub in all {
            conforms(spec, sub, v, at)?;
        }
    }
    let ok = match s["type"].as_str() {
        Some("object") => v.is_object(),
        Some("array") => v.is_array(),
        Some("string") => v.is_string(),
        Some("integer") => v.is_i64() || v.is_u64(),
        Some("number") => v.is_number(),
        Some("boolean") => v.is_boolean(),
        _ => true,
    };
    if !ok {
        return Err(format!("{at}: expected {}, got {v}", s["type"]));
    }
    if let Some(e) = s["enum"].as_array()
        && !e.contains(v)
    {
        return Err(format!("{at}: {v} not in enum {e:?}"));
    }
    for r in s["required"].as_array().into_iter().flatten() {
        let k = r.as_str().unwrap();
        if v.get(k).is_none() {
            return Err(format!("{at}: required property {k} missing"));
        }
    }
    if let Some(props) = s["properties"].as_object() {
        for (k, ps) in props {
            if let Some(pv) = v.get(k) {
                conforms(spec, ps, pv, &format!("{at}.{k}"))?;
            }
        }
    }
    if let (Some(items), Some(arr)) = (s.get("items"), v.as_array()) {
        for (i, item) in arr.iter().enumerate() {
            conforms(spec, items, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

pub fn assert_spec(schema_names: &[&str], v: &Value) {
    let Some(spec) = spec() else { return };
    for name in schema_names {
        if let Err(e) = conforms(spec, schema(spec, name), v, name) {
            panic!("response does not match spec schema {name}: {e}\n{v}");
        }
    }
}

pub fn assert_cloud_success(r: &Resp, to: &str) {
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["messaging_product"], "whatsapp");
    assert_eq!(r.json["contacts"][0]["input"], to);
    let digits: String = to.chars().filter(char::is_ascii_digit).collect();
    assert_eq!(r.json["contacts"][0]["wa_id"], digits.as_str());
    assert!(r.json["messages"][0]["id"].as_str().unwrap().starts_with("wamid."));
    assert_eq!(r.json["messages"][0]["message_status"], "accepted");
    assert_spec(&["MessageResponse", "MessageResponsePayload"], &r.json);
}

pub fn assert_cloud_error(r: &Resp, status: u16, code: i64) {
    assert_eq!(r.status.as_u16(), status, "{}", r.json);
    let e = &r.json["error"];
    assert_eq!(e["code"], code, "{}", r.json);
    assert_eq!(e["type"], "OAuthException");
    let msg = e["message"].as_str().unwrap();
    assert!(msg.starts_with(&format!("(#{code}) ")), "{msg}");
    assert_eq!(e["error_data"]["messaging_product"], "whatsapp");
    assert!(!e["error_data"]["details"].as_str().unwrap().is_empty());
    assert!(e["fbtrace_id"].as_str().unwrap().len() >= 16);
    assert_spec(&["GraphAPIError", "ErrorResponse"], &r.json);
}

// ---- On-premises -----------------------------------------------------------------------------

pub fn basic(user: &str, pass: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}")))
}

/// The password the tests give the simulator's default admin on its first login.
pub const ADMIN_PASSWORD: &str = "Test-N3w-pass!";

/// Log in as the default admin: with `ADMIN_PASSWORD` once it was set, else the first login that
/// sets it (Meta requires it for `admin` / `secret`).
pub async fn login(c: &mut Client) -> String {
    let mut r = c.raw(Method::POST, "/v1/users/login", Some(&basic("admin", ADMIN_PASSWORD)), Vec::new()).await;
    if r.status == StatusCode::UNAUTHORIZED {
        let first = format!(r#"{{"new_password":"{ADMIN_PASSWORD}"}}"#).into_bytes();
        r = c.raw(Method::POST, "/v1/users/login", Some(&basic("admin", "secret")), first).await;
    }
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    format!("Bearer {}", r.json["users"][0]["token"].as_str().unwrap())
}

pub fn onprem_text(to: &str) -> Value {
    json!({"to": to, "type": "text", "recipient_type": "individual", "text": {"body": "Hi"}})
}

pub fn assert_onprem_error(r: &Resp, status: u16, code: i64) {
    assert_eq!(r.status.as_u16(), status, "{}", r.json);
    assert_eq!(r.json["errors"][0]["code"], code, "{}", r.json);
    assert!(r.json["errors"][0]["title"].is_string());
    assert!(r.json["errors"][0]["details"].is_string());
    assert_eq!(r.json["meta"]["api_status"], "stable");
}

/// A simulator of `flavor` without latency or limits (`SimConfig::benchmark`) posting its status
/// webhooks to `url` at once, without anomalies, a share `read_fraction` of the messages read.
pub fn prompt_hooks(flavor: Flavor, url: String, read_fraction: f64) -> SimConfig {
    use wabench::spec::sim::StageDelay;
    let mut cfg = SimConfig::benchmark(flavor);
    let zero = StageDelay::constant(std::time::Duration::ZERO);
    let h = &mut cfg.webhooks;
    h.callback_url = Some(url);
    (h.sent, h.delivered, h.read) = (zero.clone(), zero.clone(), zero);
    (h.duplicate_fraction, h.out_of_order_fraction, h.delivered_and_failed_fraction) = (0.0, 0.0, 0.0);
    h.read_fraction = read_fraction;
    cfg
}

/// Poll `f` every 10 ms for at most 30 s (waiting, not timing: nothing is asserted about how long).
pub async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !f() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
