//! Data feeders and per-request templates end to end: an `http` target's URL, headers and body carry
//! its feeder row's values, `{{seq}}` and `{{uuid}}` to a loopback server that records every request;
//! WhatsApp template parameters and recipients come from the recipients file's columns, in the bodies
//! the simulator receives; and bad feeders and placeholders are load errors naming file, field and
//! reason.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// A request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    uri: String,
    headers: http::HeaderMap,
    body: Bytes,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// Serve on 127.0.0.1 in a thread of its own: record every request, then answer it with `answer`
/// (or, with `forward`, with what that server answers to the same request).
fn recording_server(answer: &'static str, forward: Option<SocketAddr>) -> (SocketAddr, Log) {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let log: Log = Arc::default();
    let l = log.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            while let Ok((stream, _)) = listener.accept().await {
                let l = l.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let l = l.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
                            l.lock().unwrap().push(Seen {
                                uri: parts.uri.to_string(),
                                headers: parts.headers.clone(),
                                body: body.clone(),
                            });
                            let resp = match forward {
                                Some(to) => relay(to, Request::from_parts(parts, Full::new(body))).await,
                                None => Response::new(Full::new(Bytes::from_static(answer.as_bytes()))),
                            };
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
                });
            }
        });
    });
    (addr, log)
}

/// Send `req` to `to` over a new connection and return the answer.
async fn relay(to: SocketAddr, req: Request<Full<Bytes>>) -> Response<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(to).await.unwrap();
    let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let resp = tx.send_request(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Response::from_parts(parts, Full::new(body))
}

const USERS: &str = "\u{feff}user,order_id,note\r\n\"Lee, Ann\",A-1,\"says \"\"hi\"\"\"\r\nbo/2,B-2,\"two\r\nlines\"\r\nCy,C-3,plain\r\n";
/// The rows of USERS as (user, order_id).
const ROWS: [(&str, &str); 3] = [("Lee, Ann", "A-1"), ("bo/2", "B-2"), ("Cy", "C-3")];

fn http_profile(addr: SocketAddr, order: &str) -> String {
    format!(
        r#"name = "feed"
seed = 9
[load]
model = "closed"
connections = 2
threads = 1
max_requests = 10
duration = "20s"
[[targets]]
name = "orders"
kind = "http"
method = "POST"
url = "http://{addr}/users/{{{{user}}}}?seq={{{{ seq }}}}&at={{{{now_ms}}}}"
headers = {{ x-order = "{{{{order_id}}}}", x-request-id = "{{{{uuid}}}}", content-type = "application/json" }}
body = '{{"user":"{{{{user}}}}","order":"{{{{order_id}}}}","seq":{{{{seq}}}},"at":{{{{now_unix}}}},"lit":"{{{{{{{{x}}}}"}}'
feeder = {{ file = "users.csv", order = "{order}" }}
"#
    )
}

/// Run the http profile against a recorder; the requests it saw, by `seq`.
fn run_http(order: &str) -> BTreeMap<u64, Seen> {
    let (addr, log) = recording_server("{}", None);
    let run = crate::support::common::run_in_tempdir(&http_profile(addr, order), &[("users.csv", USERS)]);
    let r = &run.targets[0].requests;
    assert_eq!((r.sent, r.ok, r.errors), (10, 10, 0), "{r:?}");
    let seen = log.lock().unwrap().clone();
    assert_eq!(seen.len(), 10);
    seen.into_iter()
        .map(|s| {
            let v: Value = serde_json::from_slice(&s.body).unwrap_or_else(|e| panic!("{e}: {:?}", s.body));
            (v["seq"].as_u64().unwrap(), s)
        })
        .collect()
}

fn is_v4_uuid(s: &str) -> bool {
    let g: Vec<&str> = s.split('-').collect();
    g.iter().map(|x| x.len()).eq([8, 4, 4, 4, 12])
        && s.chars().all(|c| c == '-' || matches!(c, '0'..='9' | 'a'..='f'))
        && g[2].starts_with('4')
        && matches!(&g[3][..1], "8" | "9" | "a" | "b")
}

#[test]
fn url_headers_and_body_carry_the_row_seq_and_uuid() {
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let by_seq = run_http("sequential");
    assert_eq!(by_seq.keys().copied().collect::<Vec<_>>(), (0..10).collect::<Vec<_>>(), "seq counts every request");
    let mut uuids = BTreeSet::new();
    for (seq, s) in &by_seq {
        let (user, order) = ROWS[(*seq % 3) as usize];
        let enc = user.replace(", ", "%2C%20").replace('/', "%2F");
        let (path, query) = s.uri.split_once('?').unwrap();
        assert_eq!(path, format!("/users/{enc}"), "the URL's value is percent-encoded");
        let q: BTreeMap<&str, &str> = query.split('&').filter_map(|kv| kv.split_once('=')).collect();
        assert_eq!(q["seq"], seq.to_string());
        let at_ms: u128 = q["at"].parse().unwrap();
        assert!(at_ms >= before.as_millis() && at_ms < before.as_millis() + 60_000, "{at_ms}");
        assert_eq!(s.headers["x-order"], order);
        let id = s.headers["x-request-id"].to_str().unwrap().to_string();
        assert!(is_v4_uuid(&id), "{id}");
        let v: Value = serde_json::from_slice(&s.body).unwrap();
        assert_eq!((v["user"].as_str(), v["order"].as_str()), (Some(user), Some(order)));
        assert!(v["at"].as_u64().unwrap() >= before.as_secs());
        assert_eq!(v["lit"], "{{x}}", "`{{{{` is a literal `{{`");
        uuids.insert(id);
    }
    assert_eq!(uuids.len(), 10, "one UUID per request");
    // The same seed sends the same UUIDs and rows again.
    let again = run_http("sequential");
    for (seq, s) in &by_seq {
        assert_eq!(again[seq].headers["x-request-id"], s.headers["x-request-id"]);
    }
}

#[test]
fn shuffle_once_sends_each_row_once_per_round() {
    let by_seq = run_http("shuffle-once");
    let order = |s: &Seen| s.headers["x-order"].to_str().unwrap().to_string();
    for round in [0u64, 3, 6] {
        let got: BTreeSet<String> = (round..round + 3).map(|q| order(&by_seq[&q])).collect();
        assert_eq!(got.len(), 3, "rows {round}..{}: each row once", round + 3);
    }
    assert_eq!(order(&by_seq[&0]), order(&by_seq[&3]), "the same order every round");
}

const CUSTOMERS: &str =
    "name,phone,order_id\n\"Lee, Ann\",+1 555 123 0001,A-1\nBo,+15551230002,\"B \"\"2\"\"\"\nCy,+15551230003,C-3\n";

#[test]
fn whatsapp_template_params_and_recipients_come_from_the_recipients_columns() {
    // The simulator on its own thread, a recorder in front of it.
    let (sim_tx, sim_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let sim = wabench::sim::spawn_local(crate::support::sim::quick(wabench::sim::Flavor::Cloud)).await.unwrap();
            sim_tx.send(sim.addr).unwrap();
            std::future::pending::<()>().await;
        });
    });
    let sim = sim_rx.recv().unwrap();
    let (addr, log) = recording_server("", Some(sim));
    let profile = format!(
        r#"name = "wa-feed"
[load]
model = "closed"
connections = 1
threads = 1
max_requests = 9
duration = "20s"
[messages]
text = 1
template = 2
text_body = "Hi {{{{name}}}}, message {{n}}"
template_name = "order_update"
template_body_params = ["{{{{name}}}}", "Order {{{{ order_id }}}}"]
[recipients]
file = "customers.csv"
column = "phone"
[[targets]]
name = "cloud"
kind = "cloud"
base_url = "http://{addr}"
phone_number_id = "1234567890"
token_file = "token.txt"
"#
    );
    let run = crate::support::common::run_in_tempdir(
        &profile,
        &[("customers.csv", CUSTOMERS), ("token.txt", "wabench-embedded-token\n")],
    );
    let r = &run.targets[0].requests;
    assert_eq!((r.sent, r.ok), (9, 9), "the simulator accepted every body: {:?}", run.targets[0].outcomes);
    let rows: BTreeMap<&str, (&str, &str)> = BTreeMap::from([
        ("15551230001", ("Lee, Ann", "A-1")),
        ("15551230002", ("Bo", "B \"2\"")),
        ("15551230003", ("Cy", "C-3")),
    ]);
    let seen = log.lock().unwrap().clone();
    assert_eq!(seen.len(), 9);
    let (mut templates, mut texts) = (0, 0);
    let mut per_recipient = BTreeMap::<String, u32>::new();
    for s in &seen {
        let v: Value = serde_json::from_slice(&s.body).unwrap();
        let to = v["to"].as_str().unwrap();
        *per_recipient.entry(to.to_string()).or_default() += 1;
        let (name, order) = rows[to];
        match v["type"].as_str().unwrap() {
            "template" => {
                let p = &v["template"]["components"][0]["parameters"];
                assert_eq!(p[0]["text"], name, "{v}");
                assert_eq!(p[1]["text"], format!("Order {order}"), "{v}");
                assert_eq!(p.as_array().unwrap().len(), 2);
                templates += 1;
            }
            "text" => {
                let body = v["text"]["body"].as_str().unwrap();
                assert!(body.starts_with(&format!("Hi {name}, message ")), "{body}");
                let n: u64 = body.rsplit(' ').next().unwrap().parse().unwrap();
                assert_eq!(rows.keys().nth((n % 3) as usize), Some(&to), "message n goes to row n");
                texts += 1;
            }
            other => panic!("{other}"),
        }
    }
    assert!(templates > 0 && texts > 0, "{templates} templates, {texts} texts");
    assert_eq!(per_recipient.values().copied().collect::<Vec<_>>(), [3, 3, 3], "round-robin over the rows");
}

/// Load `text` from a folder holding `files`; the error.
fn load_err(text: &str, files: &[(&str, &str)]) -> wabench::spec::ProfileError {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in files {
        std::fs::write(dir.path().join(name), body).unwrap();
    }
    let path = dir.path().join("p.toml");
    std::fs::write(&path, text).unwrap();
    let e = wabench::spec::load(&path).expect_err("the profile is refused");
    assert_eq!(e.file, path);
    e
}

const HEAD: &str = "name = \"v\"\n[load]\nrate = 1\nduration = \"1s\"\n";

fn http_target(extra: &str) -> String {
    format!("{HEAD}[[targets]]\nname = \"t\"\nkind = \"http\"\nurl = \"http://127.0.0.1:9/a\"\n{extra}\n")
}

#[test]
fn bad_feeders_and_placeholders_are_located_errors() {
    let feeder = "feeder = { file = \"users.csv\" }";
    let users = ("users.csv", "user,order_id\nann,1\nbo\n\"cy\",3\n");
    let good = ("users.csv", "user,note\nann,\"two\nlines\"\n");
    // (profile, files beside it, the field named, what the reason says)
    type Case<'a> = (String, Vec<(&'a str, &'a str)>, &'a str, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (
            http_target(feeder),
            vec![users],
            "targets[0].feeder.file",
            vec!["users.csv: line 3: has 1 fields, but the header row has 2"],
        ),
        (http_target(feeder), vec![("users.csv", "")], "targets[0].feeder.file", vec!["users.csv: is empty"]),
        (http_target(feeder), vec![], "targets[0].feeder.file", vec!["cannot read", "users.csv"]),
        (
            http_target(&format!("{feeder}\nbody = \"{{{{usr}}}}\"")),
            vec![good],
            "targets[0].body",
            vec!["unknown placeholder `{{usr}}`", "the feeder users.csv has the columns user, note"],
        ),
        (
            http_target("body = \"{{user}}\""),
            vec![],
            "targets[0].body",
            vec!["unknown placeholder `{{user}}`", "the target has no feeder"],
        ),
        (
            http_target(&format!("{feeder}\nheaders = {{ x-note = \"{{{{note}}}}\" }}")),
            vec![good],
            "targets[0].headers.x-note",
            vec!["users.csv line 2", "column `note` cannot be sent in a header"],
        ),
        (
            http_target(&format!("{feeder}\nbody = \"{{{{user\"")),
            vec![good],
            "targets[0].body",
            vec!["is not closed by `}}`"],
        ),
        (
            format!("{HEAD}[[targets]]\nname = \"t\"\nkind = \"http\"\nurl = \"http://{{{{host}}}}:9/a\"\n{feeder}\n"),
            vec![good],
            "targets[0].url",
            vec!["path and query only"],
        ),
        (
            format!("{HEAD}[[targets]]\nname = \"c\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n{feeder}\n"),
            vec![good],
            "targets[0].feeder",
            vec!["applies to kind = \"http\"", "recipients.column"],
        ),
        (
            format!(
                "{HEAD}[messages]\ntemplate = 1\ntemplate_body_params = [\"{{{{name}}}}\", \"{{{{ordr}}}}\"]\n[recipients]\nfile = \"c.csv\"\n[[targets]]\nname = \"c\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n"
            ),
            vec![("c.csv", "phone,name,order\n15551230001,Ann,1\n")],
            "messages.template_body_params[1]",
            vec!["unknown placeholder `{{ordr}}`", "c.csv has the columns phone, name, order"],
        ),
        (
            format!(
                "{HEAD}[messages]\ntemplate = 1\ntemplate_body_params = [\"{{{{name}}}}\"]\n[[targets]]\nname = \"c\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n"
            ),
            vec![],
            "messages.template_body_params[0]",
            vec!["[recipients] has no `file`"],
        ),
        (
            format!(
                "{HEAD}[messages]\ntemplate = 1\ntemplate_body_params = [\"{{{{name}}}}\"]\n[recipients]\nfile = \"c.csv\"\n[[targets]]\nname = \"c\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n"
            ),
            vec![("c.csv", "phone,name\n15551230001,Ann\n15551230002\n")],
            "recipients.file",
            vec!["line 3: has 1 fields, no value for column `name`"],
        ),
        (
            format!(
                "{HEAD}[recipients]\nfile = \"c.csv\"\ncolumn = \"mobile\"\n[[targets]]\nname = \"c\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n"
            ),
            vec![("c.csv", "phone,name\n15551230001,Ann\n")],
            "recipients.file",
            vec!["c.csv: line 1: the header row has no column \"mobile\""],
        ),
    ];
    for (text, files, field, reasons) in cases {
        let e = load_err(&text, &files);
        assert_eq!(e.field.as_deref(), Some(field), "{e}");
        for r in reasons {
            assert!(e.reason.contains(r), "{field}: {r:?} not in {e}");
        }
        assert!(e.to_string().starts_with(&e.file.display().to_string()), "{e}");
    }
}

#[test]
fn a_target_without_placeholders_is_unchanged_by_a_feeder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users.csv"), "user\nann\n").unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(&path, http_target("feeder = { file = \"users.csv\", order = \"random\" }")).unwrap();
    let loaded = wabench::spec::load(&path).unwrap();
    let f = loaded.feeders[0].as_ref().unwrap();
    assert_eq!((f.table().len(), f.order()), (1, wabench::spec::feeder::FeederOrder::Random));
}
