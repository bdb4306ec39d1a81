//! A reference WhatsApp bot: the bot a conversation load test drives, and a template for your own.
//!
//! It receives Meta's `messages` webhooks, checks their `X-Hub-Signature-256`, answers 200 at once,
//! and replies through the Cloud API (`POST {graph}/{version}/{phone-number-id}/messages`), quoting
//! the user's message (`context.message_id`):
//!
//! | the user sends                      | the bot replies                                        |
//! |-------------------------------------|--------------------------------------------------------|
//! | text `menu` (any case)              | buttons Orders / Support / Slow path                   |
//! | button `orders`                     | "You have no open orders."                             |
//! | button `support`                    | "An agent will write to you."                          |
//! | button `slow`, or text `slow`       | after `WABENCH_BOT_SLOW_MS`: "Sorry for the wait."     |
//! | any other text                      | `echo: <text>`                                         |
//! | anything else                       | `echo: <type>` (system messages get no reply)          |
//!
//! Status webhooks (`statuses`, e.g. of the bot's own replies) are answered 200 and ignored. A reply
//! goes to the sender's number (`from`), or, for a user whose number is withheld, to the
//! business-scoped user ID (`recipient` = `from_user_id`). At most 64 replies are sent at once and
//! 10,000 wait; past that a webhook is answered 503 (Meta retries it). SIGTERM or Ctrl-C stops the
//! bot: no new connections, then up to 10 s for the replies under way.
//!
//! `WABENCH_BOT_LISTEN=127.0.0.1:8090 WABENCH_ACCESS_TOKEN=… cargo run --example bot`
//!
//! # Environment
//!
//! The contract `wabench` sets when it starts a bot, and that a bot of your own reads the same way:
//!
//! - `WABENCH_BOT_LISTEN` (required): `host:port` to listen on (port 0: any free port; the start
//!   line `bot listening on http://ADDR/PATH, replying through GRAPH_URL` names the one taken).
//! - `WABENCH_ACCESS_TOKEN` (required): the bearer token of the Cloud API. Never printed.
//! - `WABENCH_WEBHOOK_PATH`: the webhook's path (default `/webhook`).
//! - `WABENCH_GRAPH_URL`: the Graph API's base URL (default `https://graph.facebook.com`).
//! - `WABENCH_API_VERSION`: the Graph API version (default `v23.0`).
//! - `WABENCH_APP_SECRET`: the app secret that signs webhooks; unset or empty: unsigned webhooks are
//!   accepted (a warning says so at start). Set: a missing or wrong signature is answered 401.
//! - `WABENCH_VERIFY_TOKEN`: the token of the subscription handshake (`GET ?hub.mode=subscribe&
//!   hub.verify_token=…&hub.challenge=…` answers the challenge); unset: every handshake gets 403.
//! - `WABENCH_PHONE_NUMBER_ID`: the number to reply from when a webhook names none
//!   (`metadata.phone_number_id` normally does).
//! - `WABENCH_BOT_SLOW_MS`: the slow path's delay in milliseconds (default 2000).
//! - `HTTPS_PROXY` and `SSL_CERT_FILE` are honoured (reqwest's proxy from the environment, and the
//!   trust store rustls-native-certs reads): behind a conversation target's `graph_proxy`, the bot
//!   sends to `https://graph.facebook.com` through wabench's proxy, trusting the run's CA.
//!
//! A required variable missing, or a value that does not parse, exits with status 2 and one line on
//! stderr naming the variable.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::Semaphore;

/// Largest webhook body accepted (Meta's are a few kilobytes).
const MAX_BODY: usize = 1 << 20;
/// Replies sent at once.
const MAX_SENDS: usize = 64;
/// Webhooks accepted and not yet handled; past that, 503.
const BACKLOG: usize = 10_000;
/// Longest text body the Cloud API takes (characters).
const MAX_TEXT: usize = 4096;

struct Config {
    listen: String,
    path: String,
    graph_url: String,
    api_version: String,
    token: String,
    app_secret: Option<Vec<u8>>,
    verify_token: Option<String>,
    phone_number_id: Option<String>,
    slow: Duration,
}

struct Bot {
    cfg: Config,
    client: reqwest::Client,
    sends: Semaphore,
    backlog: Arc<Semaphore>,
    sent: AtomicU64,
    failed: AtomicU64,
}

/// What the bot answers to one message.
enum Answer {
    Menu,
    Text(&'static str),
    Slow,
    Echo(String),
}

fn config() -> Result<Config, String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let required = |name: &str| var(name).ok_or_else(|| format!("{name} is required (see the bot's documentation)"));
    let graph_url = var("WABENCH_GRAPH_URL").unwrap_or_else(|| "https://graph.facebook.com".into());
    if !(graph_url.starts_with("http://") || graph_url.starts_with("https://")) {
        return Err(format!("WABENCH_GRAPH_URL must be an http(s) URL, not {graph_url:?}"));
    }
    let path = var("WABENCH_WEBHOOK_PATH").unwrap_or_else(|| "/webhook".into());
    let slow_ms: u64 = match var("WABENCH_BOT_SLOW_MS") {
        Some(v) => v.parse().map_err(|_| format!("WABENCH_BOT_SLOW_MS must be milliseconds, not {v:?}"))?,
        None => 2000,
    };
    Ok(Config {
        listen: required("WABENCH_BOT_LISTEN")?,
        path: if path.starts_with('/') { path } else { format!("/{path}") },
        graph_url: graph_url.trim_end_matches('/').to_string(),
        api_version: var("WABENCH_API_VERSION").unwrap_or_else(|| "v23.0".into()),
        token: required("WABENCH_ACCESS_TOKEN")?,
        app_secret: var("WABENCH_APP_SECRET").map(String::into_bytes),
        verify_token: var("WABENCH_VERIFY_TOKEN"),
        phone_number_id: var("WABENCH_PHONE_NUMBER_ID"),
        slow: Duration::from_millis(slow_ms),
    })
}

#[tokio::main]
async fn main() {
    let cfg = config().unwrap_or_else(|e| {
        eprintln!("bot: {e}");
        std::process::exit(2);
    });
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("HTTP client");
    let listener = tokio::net::TcpListener::bind(&cfg.listen).await.unwrap_or_else(|e| {
        eprintln!("bot: cannot listen on {}: {e}", cfg.listen);
        std::process::exit(1);
    });
    let addr = listener.local_addr().expect("bound address");
    if cfg.app_secret.is_none() {
        eprintln!("bot: warning: WABENCH_APP_SECRET is not set, unsigned webhooks are accepted");
    }
    println!("bot listening on http://{addr}{}, replying through {}", cfg.path, cfg.graph_url);
    let bot = Arc::new(Bot {
        cfg,
        client,
        sends: Semaphore::new(MAX_SENDS),
        backlog: Arc::new(Semaphore::new(BACKLOG)),
        sent: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    });
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    loop {
        let stream = tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors and the like: wait a little, keep serving.
                Err(_) => { tokio::time::sleep(Duration::from_millis(10)).await; continue }
            },
        };
        let bot = bot.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| serve(bot.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
    // Every webhook under way holds a backlog permit: all of them back means nothing is left to send.
    drop(listener);
    let drained = tokio::time::timeout(Duration::from_secs(10), bot.backlog.acquire_many(BACKLOG as u32)).await;
    let (sent, failed) = (bot.sent.load(Ordering::Relaxed), bot.failed.load(Ordering::Relaxed));
    let left = if drained.is_ok() { String::new() } else { ", some replies abandoned".into() };
    eprintln!("bot stopped: {sent} replies sent, {failed} failed{left}");
}

fn respond(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r
}

async fn serve(bot: Arc<Bot>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() != bot.cfg.path {
        return Ok(respond(StatusCode::NOT_FOUND, "not found\n"));
    }
    Ok(match *req.method() {
        Method::GET => handshake(&bot.cfg, req.uri().query().unwrap_or("")),
        Method::POST => webhook(bot, req).await,
        _ => respond(StatusCode::METHOD_NOT_ALLOWED, "GET or POST\n"),
    })
}

/// Meta's subscription handshake: the challenge back if the verify token matches.
fn handshake(cfg: &Config, query: &str) -> Response<Full<Bytes>> {
    let url = reqwest::Url::parse(&format!("http://bot/?{query}")).ok();
    let param = |name: &str| url.as_ref()?.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    let token_ok = cfg.verify_token.is_some() && param("hub.verify_token") == cfg.verify_token;
    match (param("hub.mode").as_deref(), param("hub.challenge")) {
        (Some("subscribe"), Some(challenge)) if token_ok => respond(StatusCode::OK, challenge),
        _ => respond(StatusCode::FORBIDDEN, "verification failed\n"),
    }
}

/// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`, compared in constant time.
fn signed(secret: &[u8], body: &[u8], header: Option<&hyper::header::HeaderValue>) -> bool {
    let Some(hex_tag) = header.and_then(|h| h.to_str().ok()).and_then(|h| h.strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(tag) = hex::decode(hex_tag) else { return false };
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&tag).is_ok()
}

async fn webhook(bot: Arc<Bot>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let signature = req.headers().get("x-hub-signature-256").cloned();
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return respond(StatusCode::PAYLOAD_TOO_LARGE, "body too large or cut short\n"),
    };
    if let Some(secret) = &bot.cfg.app_secret
        && !signed(secret, &body, signature.as_ref())
    {
        return respond(StatusCode::UNAUTHORIZED, "bad or missing X-Hub-Signature-256\n");
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return respond(StatusCode::BAD_REQUEST, "not JSON\n");
    };
    let Ok(permit) = bot.backlog.clone().try_acquire_owned() else {
        return respond(StatusCode::SERVICE_UNAVAILABLE, "busy\n");
    };
    tokio::spawn(async move {
        handle(&bot, &event).await;
        drop(permit);
    });
    respond(StatusCode::OK, "")
}

/// Reply to every message of a webhook, in order; statuses and other fields are ignored.
async fn handle(bot: &Bot, event: &Value) {
    for entry in event["entry"].as_array().into_iter().flatten() {
        for change in entry["changes"].as_array().into_iter().flatten() {
            if change["field"] != "messages" {
                continue;
            }
            let value = &change["value"];
            let phone = value["metadata"]["phone_number_id"].as_str().or(bot.cfg.phone_number_id.as_deref());
            for msg in value["messages"].as_array().into_iter().flatten() {
                reply(bot, phone, msg).await;
            }
        }
    }
}

async fn reply(bot: &Bot, phone: Option<&str>, msg: &Value) {
    let Some(answer) = answer(msg) else { return };
    let Some(phone) = phone.filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric())) else {
        eprintln!("bot: no phone number id to reply from (set WABENCH_PHONE_NUMBER_ID)");
        return;
    };
    let content = match answer {
        Answer::Menu => menu(),
        Answer::Text(t) => text(t),
        Answer::Echo(e) => text(&format!("echo: {e}")),
        Answer::Slow => {
            tokio::time::sleep(bot.cfg.slow).await;
            text("Sorry for the wait.")
        }
    };
    send(bot, phone, msg, content).await;
}

/// The bot's answer to one inbound message; `None` for those it does not answer.
fn answer(msg: &Value) -> Option<Answer> {
    let kind = msg["type"].as_str().unwrap_or("unknown");
    let reply_id = match kind {
        "interactive" => {
            let i = &msg["interactive"];
            i["button_reply"]["id"].as_str().or(i["list_reply"]["id"].as_str())
        }
        // A template's quick-reply button.
        "button" => msg["button"]["payload"].as_str(),
        "text" => None,
        // A system message (number or user id changed) is not the user writing.
        "system" => return None,
        _ => return Some(Answer::Echo(kind.to_string())),
    };
    let text = msg["text"]["body"].as_str().unwrap_or("");
    Some(match (reply_id, text.trim().to_lowercase().as_str()) {
        (None, "menu") => Answer::Menu,
        (Some("orders"), _) => Answer::Text("You have no open orders."),
        (Some("support"), _) => Answer::Text("An agent will write to you."),
        (Some("slow"), _) | (None, "slow") => Answer::Slow,
        (Some(_), _) => Answer::Echo(kind.to_string()),
        (None, _) => Answer::Echo(text.chars().take(MAX_TEXT - 6).collect()),
    })
}

fn text(body: &str) -> Value {
    json!({"type": "text", "text": {"body": body}})
}

fn menu() -> Value {
    let button = |id: &str, title: &str| json!({"type": "reply", "reply": {"id": id, "title": title}});
    json!({"type": "interactive", "interactive": {
        "type": "button",
        "body": {"text": "What do you need?"},
        "action": {"buttons": [button("orders", "Orders"), button("support", "Support"), button("slow", "Slow path")]},
    }})
}

/// Send `content` to the author of `msg`, quoting it; one line on stderr if the API refuses it.
async fn send(bot: &Bot, phone: &str, msg: &Value, mut content: Value) {
    let body = content.as_object_mut().expect("content is an object");
    body.insert("messaging_product".into(), json!("whatsapp"));
    body.insert("recipient_type".into(), json!("individual"));
    match (msg["from"].as_str(), msg["from_user_id"].as_str()) {
        (Some(from), _) => body.insert("to".into(), json!(from)),
        (None, Some(user_id)) => body.insert("recipient".into(), json!(user_id)),
        (None, None) => {
            eprintln!("bot: message {} names no sender", msg["id"]);
            return;
        }
    };
    if let Some(id) = msg["id"].as_str() {
        body.insert("context".into(), json!({"message_id": id}));
    }
    let url = format!("{}/{}/{phone}/messages", bot.cfg.graph_url, bot.cfg.api_version);
    let _permit = bot.sends.acquire().await.expect("the semaphore is never closed");
    let failure = match bot.client.post(&url).bearer_auth(&bot.cfg.token).json(&content).send().await {
        Ok(r) if r.status().is_success() => None,
        Ok(r) => {
            let status = r.status();
            let err = r.json::<Value>().await.unwrap_or_default();
            let e = &err["error"];
            let message = e["message"].as_str().unwrap_or("no error body");
            let details = e["error_data"]["details"].as_str().map(|d| format!(" ({d})")).unwrap_or_default();
            Some(format!("HTTP {status}, code {}: {message}{details}", e["code"]))
        }
        Err(e) => {
            // reqwest's own text is terse ("error sending request"): add its causes.
            let (mut why, mut cause) = (e.to_string(), std::error::Error::source(&e));
            while let Some(c) = cause {
                why = format!("{why}: {c}");
                cause = c.source();
            }
            Some(why)
        }
    };
    match failure {
        None => bot.sent.fetch_add(1, Ordering::Relaxed),
        Some(why) => {
            eprintln!("bot: reply to {} failed: {why}", msg["id"]);
            bot.failed.fetch_add(1, Ordering::Relaxed)
        }
    };
}
