//! The reference bot (`examples/bot.rs`) as a conversation test drives it: a child process on a
//! loopback port, fed signed `messages` webhooks, replying through a recording Graph server (the
//! exact request bodies) or through the embedded simulator (what the Cloud API accepts), which
//! posts the replies' status webhooks back to it.

use std::convert::Infallible;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use wabench::sim::{Flavor, Sim, SimConfig};
use wabench::spec::sim::StageDelay;

const SECRET: &[u8] = b"reference-bot-secret";
const TOKEN: &str = "wabench-embedded-token";
const PHONE_ID: &str = "100000000000001";
const USER: &str = "15551234567";
const SLOW_MS: u64 = 300;

/// The example binary, built once (a no-op when `cargo test --all-targets` built it already) next
/// to this test binary: `<target>/<profile>/deps/it-…` → `<target>/<profile>/examples/bot`.
pub(crate) fn bot_binary() -> &'static PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("<target>/<profile>/deps/it-…");
        let target = profile_dir.parent().expect("<target>/<profile>");
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev",
            Some(p) => p,
        };
        let out = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--example", "bot", "--profile", profile, "--manifest-path"])
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", target)
            .output()
            .expect("run cargo");
        assert!(out.status.success(), "cargo build --example bot: {}", String::from_utf8_lossy(&out.stderr));
        profile_dir.join("examples").join(format!("bot{}", std::env::consts::EXE_SUFFIX))
    })
}

/// The bot as a child process; killed when dropped, whatever the test's outcome.
struct Bot {
    child: Child,
    url: String,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bot {
    /// Start it on 127.0.0.1:0 with `env` on top of a clean WABENCH_* environment, and wait (at
    /// most 60 s) for its start line, which names the webhook URL.
    fn start(env: &[(&str, String)]) -> Bot {
        let mut cmd = Command::new(bot_binary());
        for (k, _) in std::env::vars() {
            if k.starts_with("WABENCH_") || k.to_ascii_lowercase().ends_with("_proxy") {
                cmd.env_remove(k);
            }
        }
        cmd.env("WABENCH_BOT_LISTEN", "127.0.0.1:0").envs(env.iter().map(|(k, v)| (k, v)));
        let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (mut err, log) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = err.read(&mut buf) {
                log.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut bot = Bot { child, url: String::new(), stderr };
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| panic!("no start line: {}", bot.log()));
        let rest = line.strip_prefix("bot listening on ").unwrap_or_else(|| panic!("start line: {line}"));
        bot.url = rest.split(", replying through ").next().unwrap().to_string();
        bot
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGTERM, then its exit status within 20 s.
    fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "the bot did not stop on SIGTERM: {}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Start the bot off the runtime's threads (it waits for the child's start line).
async fn start_bot(env: Vec<(&'static str, String)>) -> Bot {
    tokio::task::spawn_blocking(move || Bot::start(&env)).await.unwrap()
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().unwrap()
}

/// A Cloud `messages` webhook carrying `messages` (or, as `statuses`, status objects).
fn envelope(key: &str, items: Value) -> Vec<u8> {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages",
        "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550001111", "phone_number_id": PHONE_ID},
            "contacts": [{"profile": {"name": "Ann"}, "wa_id": USER}],
            key: items}}]}]})
    .to_string()
    .into_bytes()
}

fn text_msg(id: &str, body: &str) -> Value {
    json!({"from": USER, "id": id, "timestamp": "1767225600", "type": "text", "text": {"body": body}})
}

fn button_msg(id: &str, button: &str) -> Value {
    json!({"from": USER, "id": id, "timestamp": "1767225600", "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": button, "title": button}}})
}

/// POST `body` to the bot's webhook with the given signature header; the HTTP status.
async fn post(c: &reqwest::Client, bot: &Bot, body: Vec<u8>, signature: Option<String>) -> u16 {
    let mut req = c.post(&bot.url).header("content-type", "application/json").body(body);
    if let Some(s) = signature {
        req = req.header("x-hub-signature-256", s);
    }
    req.send().await.unwrap_or_else(|e| panic!("POST to the bot: {e}; bot log: {}", bot.log())).status().as_u16()
}

async fn post_signed(c: &reqwest::Client, bot: &Bot, body: Vec<u8>) -> u16 {
    let sig = wabench::webhook::sign(SECRET, &body);
    post(c, bot, body, Some(sig)).await
}

/// Poll `f` every 10 ms for at most 30 s (waiting, not timing).
async fn wait_for(what: &str, bot: &Bot, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}; bot log: {}", bot.log());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A request the recording Graph server received.
#[derive(Clone, Debug)]
struct Sent {
    path: String,
    auth: String,
    body: Value,
    at: Instant,
}

type Log = Arc<Mutex<Vec<Sent>>>;

/// A loopback "Graph API" that keeps every request and accepts it as the Cloud API does.
async fn graph() -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let log: Log = Arc::default();
    let keep = log.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let keep = keep.clone();
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let keep = keep.clone();
                async move {
                    let path = req.uri().path().to_string();
                    let auth = req.headers().get("authorization").map_or("", |v| v.to_str().unwrap_or("")).to_string();
                    let bytes = req.into_body().collect().await.map(|c| c.to_bytes()).unwrap_or_default();
                    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                    keep.lock().unwrap().push(Sent { path, auth, body, at: Instant::now() });
                    let ok = json!({"messaging_product": "whatsapp", "contacts": [{"input": USER, "wa_id": USER}],
                        "messages": [{"id": "wamid.reply"}]});
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(ok.to_string()))))
                }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(io, svc));
        }
    });
    (url, log)
}

/// The reply to the inbound message `id`, once there is one.
async fn reply_to(bot: &Bot, log: &Log, id: &str) -> Sent {
    let find = || log.lock().unwrap().iter().find(|s| s.body["context"]["message_id"] == id).cloned();
    wait_for(&format!("the reply to {id}"), bot, || find().is_some()).await;
    find().unwrap()
}

fn bot_env(graph_url: String) -> Vec<(&'static str, String)> {
    vec![
        ("WABENCH_GRAPH_URL", graph_url),
        ("WABENCH_ACCESS_TOKEN", TOKEN.into()),
        ("WABENCH_APP_SECRET", String::from_utf8(SECRET.to_vec()).unwrap()),
        ("WABENCH_VERIFY_TOKEN", "verify-me".into()),
        ("WABENCH_BOT_SLOW_MS", SLOW_MS.to_string()),
    ]
}

#[test]
fn missing_settings_exit_2_naming_the_variable() {
    let out = Command::new(bot_binary()).env_clear().output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("WABENCH_BOT_LISTEN"), "{out:?}");
    let out = Command::new(bot_binary()).env_clear().env("WABENCH_BOT_LISTEN", "127.0.0.1:0").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("WABENCH_ACCESS_TOKEN"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_verifies_webhooks_and_replies_as_the_cloud_api_expects() {
    let (graph_url, log) = graph().await;
    let mut bot = start_bot(bot_env(graph_url)).await;
    let c = client();

    // The subscription handshake.
    let get = |q: &str| c.get(format!("{}?{q}", bot.url)).send();
    let ok = get("hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444").await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    for refused in
        ["hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1", "hub.verify_token=verify-me&hub.challenge=1"]
    {
        assert_eq!(get(refused).await.unwrap().status(), 403, "{refused}");
    }

    // Unsigned and wrongly signed webhooks are refused, and answered nothing.
    let body = envelope("messages", json!([text_msg("wamid.forged", "hi")]));
    assert_eq!(post(&c, &bot, body.clone(), None).await, 401);
    assert_eq!(post(&c, &bot, body.clone(), Some(wabench::webhook::sign(b"another secret", &body))).await, 401);
    assert_eq!(post(&c, &bot, body.clone(), Some("sha256=zz".into())).await, 401);

    // `hi`: exactly the Cloud API's text message, quoting the user's message.
    assert_eq!(post_signed(&c, &bot, envelope("messages", json!([text_msg("wamid.hi", "hi")]))).await, 200);
    let hi = reply_to(&bot, &log, "wamid.hi").await;
    assert_eq!(hi.path, format!("/v23.0/{PHONE_ID}/messages"));
    assert_eq!(hi.auth, format!("Bearer {TOKEN}"));
    let want = json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": USER,
        "context": {"message_id": "wamid.hi"}, "type": "text", "text": {"body": "echo: hi"}});
    assert_eq!(hi.body, want);

    // `menu` (any case): three reply buttons.
    assert_eq!(post_signed(&c, &bot, envelope("messages", json!([text_msg("wamid.menu", " Menu ")]))).await, 200);
    let menu = reply_to(&bot, &log, "wamid.menu").await.body;
    assert_eq!((&menu["type"], &menu["interactive"]["type"]), (&json!("interactive"), &json!("button")));
    let ids: Vec<&str> = menu["interactive"]["action"]["buttons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["reply"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["orders", "support", "slow"]);

    // The buttons' answers, a non-text message, and a user known only by a business-scoped user ID.
    let bsuid_msg = json!({"from_user_id": "US.13491208655302741918", "id": "wamid.bsuid", "timestamp": "1767225600",
        "type": "text", "text": {"body": "who am I"}});
    let image =
        json!({"from": USER, "id": "wamid.image", "timestamp": "1767225600", "type": "image", "image": {"id": "9"}});
    let batch = json!([button_msg("wamid.orders", "orders"), button_msg("wamid.support", "support"), image, bsuid_msg]);
    assert_eq!(post_signed(&c, &bot, envelope("messages", batch)).await, 200);
    let text_of = |s: Sent| s.body["text"]["body"].as_str().unwrap().to_string();
    assert_eq!(text_of(reply_to(&bot, &log, "wamid.orders").await), "You have no open orders.");
    assert_eq!(text_of(reply_to(&bot, &log, "wamid.support").await), "An agent will write to you.");
    assert_eq!(text_of(reply_to(&bot, &log, "wamid.image").await), "echo: image");
    let bsuid = reply_to(&bot, &log, "wamid.bsuid").await.body;
    assert_eq!((bsuid.get("to"), &bsuid["recipient"]), (None, &json!("US.13491208655302741918")), "{bsuid}");

    // The slow path answers no sooner than WABENCH_BOT_SLOW_MS after the webhook was posted.
    let posted = Instant::now();
    assert_eq!(post_signed(&c, &bot, envelope("messages", json!([button_msg("wamid.slow", "slow")]))).await, 200);
    let slow = reply_to(&bot, &log, "wamid.slow").await;
    assert_eq!(text_of(slow.clone()), "Sorry for the wait.");
    assert!(slow.at.duration_since(posted) >= Duration::from_millis(SLOW_MS), "{:?}", slow.at.duration_since(posted));

    // Status webhooks are taken (200) and answered nothing: after one, a message's reply is the
    // only new request.
    let statuses =
        json!([{"id": "wamid.reply", "status": "delivered", "timestamp": "1767225601", "recipient_id": USER}]);
    assert_eq!(post_signed(&c, &bot, envelope("statuses", statuses)).await, 200);
    assert_eq!(post_signed(&c, &bot, envelope("messages", json!([text_msg("wamid.last", "bye")]))).await, 200);
    reply_to(&bot, &log, "wamid.last").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(log.lock().unwrap().len(), 8, "one request per answered message: {:#?}", log.lock().unwrap());

    // SIGTERM: a clean stop, with its count of replies.
    let status = bot.terminate();
    assert!(status.success(), "{status:?}: {}", bot.log());
    assert!(bot.log().contains("bot stopped: 8 replies sent, 0 failed"), "{}", bot.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_accepts_the_bots_replies_and_the_bot_takes_its_status_webhooks() {
    // The simulator's address first (the bot replies through it), the bot's next (the simulator
    // posts the replies' statuses to it).
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim_url = format!("http://{}", listener.local_addr().unwrap());
    let bot = start_bot(bot_env(sim_url)).await;
    let mut cfg = SimConfig::benchmark(Flavor::Cloud);
    // The users of this test wrote to the business through the bot, not through the simulator.
    cfg.service_window.enabled = false;
    let h = &mut cfg.webhooks;
    h.callback_url = Some(bot.url.clone());
    h.app_secret = Some(SECRET.to_vec());
    let zero = StageDelay::constant(Duration::ZERO);
    (h.sent, h.delivered, h.read) = (zero.clone(), zero.clone(), zero);
    (h.duplicate_fraction, h.out_of_order_fraction, h.delivered_and_failed_fraction) = (0.0, 0.0, 0.0);
    h.read_fraction = 1.0;
    let sim = Sim::new(cfg).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn({
        let sim = sim.clone();
        async move {
            sim.serve(listener, async move {
                let _ = stopped.await;
            })
            .await
        }
    });
    let c = client();

    assert_eq!(post_signed(&c, &bot, envelope("messages", json!([text_msg("wamid.hi", "hi")]))).await, 200);
    wait_for("the simulator to accept the echo", &bot, || sim.stats().accepted == 1).await;
    assert_eq!(post_signed(&c, &bot, envelope("messages", json!([text_msg("wamid.menu", "menu")]))).await, 200);
    wait_for("the simulator to accept the menu", &bot, || sim.stats().accepted == 2).await;
    // Every status of both replies posted back to the bot and answered 200 (no retry, none refused).
    wait_for("the statuses of both replies", &bot, || {
        let w = sim.stats().webhooks;
        w.messages == 2 && w.statuses_planned > 0 && w.statuses_posted == w.statuses_planned
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stats = sim.stats();
    assert_eq!(stats.accepted, 2, "the statuses were answered with a message: {stats:?}");
    assert!(stats.errors.is_empty() && stats.failed_later.is_empty(), "{stats:?}");
    let w = &stats.webhooks;
    assert_eq!((w.statuses_posted, w.failed_attempts, w.retries), (6, 0, 0), "sent, delivered, read of each: {w:?}");
    assert!(!bot.log().contains("failed"), "{}", bot.log());
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), serving).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_answers_the_simulators_own_users_by_their_business_scoped_ids() {
    // Users who adopted a username: their webhooks carry no number, only `from_user_id`, and the
    // bot must reply to that (`recipient`).
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim_url = format!("http://{}", listener.local_addr().unwrap());
    let bot = start_bot(bot_env(sim_url)).await;
    let mut cfg = SimConfig::benchmark(Flavor::Cloud);
    cfg.identity.username_fraction = 1.0;
    (cfg.inbound.rate, cfg.inbound.max_messages) = (20.0, 3);
    cfg.inbound.users = vec!["15551230001".into(), "15551230002".into()];
    cfg.webhooks.callback_url = Some(bot.url.clone());
    cfg.webhooks.app_secret = Some(SECRET.to_vec());
    let sim = Sim::new(cfg).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn({
        let sim = sim.clone();
        async move {
            sim.serve(listener, async move {
                let _ = stopped.await;
            })
            .await
        }
    });
    wait_for("three replies accepted", &bot, || sim.stats().accepted == 3).await;
    let stats = sim.stats();
    assert_eq!(stats.inbound, 3);
    assert!(stats.errors.is_empty() && stats.failed_later.is_empty(), "{stats:?}");
    assert!(!bot.log().contains("failed"), "{}", bot.log());
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), serving).await;
}
