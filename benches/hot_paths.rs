//! Criterion benchmarks of the hot paths: what every request, answer or webhook goes through.
//! Run: `cargo bench --bench hot_paths`; compare with a saved baseline:
//! `cargo bench --bench hot_paths -- --save-baseline main` then `-- --baseline main`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::StatusCode;
use wabench::drivers::whatsapp::body::{self, Kind, Mix};
use wabench::drivers::whatsapp::{MessagesSpec, codes};
use wabench::engine::metrics::{self, Outcome, Recorder};
use wabench::spec::schedule::Pacer;

fn histograms(c: &mut Criterion) {
    // Criterion draws its own charts with the plotters crate, which (as built here) needs a font
    // registered: the report's embedded one.
    let _ = wabench::report::charts::register_font();
    let mut g = c.benchmark_group("histogram");
    let mut h = metrics::histogram();
    let mut v = 1u64;
    g.bench_function("record", |b| {
        b.iter(|| {
            v = v.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            h.saturating_record(black_box(1 + (v >> 40) % 2_000_000));
        })
    });
    let mut full = metrics::histogram();
    for i in 1..200_000u64 {
        full.saturating_record(i * 7 % 3_000_000 + 1);
    }
    g.bench_function("merge_full", |b| {
        b.iter_batched(metrics::histogram, |mut acc| acc.add(black_box(&full)).map(|_| acc), BatchSize::SmallInput)
    });
    g.bench_function("p99", |b| b.iter(|| black_box(&full).value_at_quantile(0.99)));
    g.finish();

    let t0 = Instant::now();
    let mut rec = Recorder::new(0, t0, None, Default::default());
    c.bench_function("recorder/start_finish", |b| {
        b.iter(|| {
            let now = Instant::now();
            rec.start(now, now);
            rec.finish(now, now, now + Duration::from_micros(250), Outcome::Ok);
        })
    });
}

fn pacer(c: &mut Criterion) {
    let p = Pacer::stages(0.0, &[(30_000.0, Duration::from_secs(60)), (30_000.0, Duration::from_secs(600))], None);
    let mut n = 0u64;
    c.bench_function("pacer/due", |b| {
        b.iter(|| {
            n = (n + 7919) % p.total();
            black_box(p.due(black_box(n)))
        })
    });
    // What a load task pays per arrival since the operator can steer the schedule: one relaxed load of
    // the control's generation, then the schedule it holds (the plan's pacer until a change).
    let control = wabench::engine::control::Control::default();
    let plan = std::sync::Arc::new(p.clone());
    let sched = wabench::engine::control::Schedule::new(plan.clone(), None);
    control.begin(Some(sched), std::time::Instant::now());
    let mut held = control.schedule();
    let mut n = 0u64;
    c.bench_function("schedule/due", |b| {
        b.iter(|| {
            n = (n + 7919) % p.total();
            if control.generation() != held.0 {
                held = control.schedule();
            }
            black_box(held.1.as_ref().map(|s| s.due(black_box(n))))
        })
    });
    let mut steered = wabench::engine::control::Schedule::new(plan, None);
    steered.change(Duration::from_secs(30), wabench::engine::control::Mode::Paused);
    steered.change(Duration::from_secs(40), wabench::engine::control::Mode::Plan);
    steered.change(Duration::from_secs(50), wabench::engine::control::Mode::Rate(20_000.0));
    c.bench_function("schedule/due_steered", |b| {
        b.iter(|| {
            n = (n + 7919) % p.total();
            black_box(steered.due(black_box(n)))
        })
    });
    let mut t = 0u64;
    c.bench_function("pacer/due_by", |b| {
        b.iter(|| {
            t = (t + 7_919_000) % 660_000_000_000;
            black_box(p.due_by(Duration::from_nanos(black_box(t))))
        })
    });
}

fn requests(c: &mut Criterion) {
    let spec = MessagesSpec { text: 70, template: 20, image: 5, interactive: 5, ..Default::default() };
    let mix = Mix::new(&spec, 42);
    let mut g = c.benchmark_group("request_body");
    for kind in [Kind::Text, Kind::Template, Kind::Image, Kind::Document, Kind::Interactive, Kind::Reaction] {
        g.bench_function(format!("cloud/{}", kind.name()), |b| {
            b.iter(|| body::cloud(&spec, kind, black_box("15550001234"), black_box(12345)))
        });
    }
    g.bench_function("onprem/template", |b| {
        b.iter(|| body::onprem(&spec, Kind::Template, black_box("15550001234"), black_box(12345)))
    });
    g.bench_function("mix/kind", |b| b.iter(|| mix.kind(black_box(987_654))));
    g.finish();
}

fn classification(c: &mut Criterion) {
    let err = br#"{"error":{"message":"(#131056) (Business Account, Consumer Account) pair rate limit hit","type":"OAuthException","code":131056,"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time."},"fbtrace_id":"AbCdEf"}}"#;
    let ok = br#"{"messaging_product":"whatsapp","contacts":[{"input":"15550001234","wa_id":"15550001234"}],"messages":[{"id":"wamid.HBgLMTU1NTAwMDEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA","message_status":"accepted"}]}"#;
    let onprem = br#"{"errors":[{"code":1015,"title":"Too many requests","details":"Rate limit hit"}],"meta":{"api_status":"stable","version":"2.53.4"}}"#;
    let mut g = c.benchmark_group("classify");
    g.bench_function("cloud_error", |b| b.iter(|| codes::outcome(StatusCode::TOO_MANY_REQUESTS, black_box(err))));
    g.bench_function("onprem_error", |b| b.iter(|| codes::outcome(StatusCode::TOO_MANY_REQUESTS, black_box(onprem))));
    g.bench_function("success", |b| b.iter(|| codes::outcome(StatusCode::OK, black_box(ok))));
    g.bench_function("message_id", |b| b.iter(|| wabench::drivers::whatsapp::cloud::message_id(black_box(ok))));
    g.finish();
}

fn webhooks(c: &mut Criterion) {
    use wabench::webhook::{Status, StatusKind, cloud_envelope, parse, sign, verify};
    let statuses = vec![
        Status::new("wamid.AAA", StatusKind::Sent, 1_700_000_000, "15550001234"),
        Status::new("wamid.AAA", StatusKind::Delivered, 1_700_000_001, "15550001234"),
    ];
    let body =
        serde_json::to_vec(&cloud_envelope("102290129340398", "106540352242922", "15550783881", statuses)).unwrap();
    let secret = b"app-secret-for-benchmarks";
    let header = sign(secret, &body);
    let mut g = c.benchmark_group("webhook");
    g.bench_function("verify_signature", |b| b.iter(|| verify(secret, black_box(&body), Some(black_box(&header)))));
    g.bench_function("parse", |b| b.iter(|| parse(black_box(&body))));
    g.finish();
}

/// One Cloud API send to the embedded simulator and back over loopback (zero simulated latency,
/// no limits), through the same request builder, HTTP/1.1 transport (`engine::h1`) and classification
/// the load path uses. The first exchange is checked (200, a message id, classified ok) before timing.
fn simulator_round_trip(c: &mut Criterion) {
    use http_body_util::Full;
    use wabench::engine::h1::{Connection, Stream};
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let h = wabench::sim::spawn_local(wabench::spec::sim::SimConfig::benchmark(wabench::sim::Flavor::Cloud))
                .await
                .unwrap();
            tx.send(h.addr).unwrap();
            let _ = stop_rx.await;
            h.shutdown().await.unwrap();
        })
    });
    let addr = rx.recv().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let spec = MessagesSpec::default();
    let mut conn = rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        Connection::new(Stream::Plain(tcp))
    });
    let mut send = |n: u64| {
        rt.block_on(async {
            let req = http::Request::post("/v23.0/106540352242922/messages")
                .header("authorization", "Bearer wabench-embedded-token")
                .header("content-type", "application/json")
                .body(Full::new(bytes::Bytes::from(body::cloud(&spec, Kind::Text, "15550001234", n))))
                .unwrap();
            let answer = conn.exchange(req, b"127.0.0.1", 1 << 20, &|_| true);
            let reply =
                tokio::time::timeout(Duration::from_secs(5), answer).await.expect("no answer within 5 s").unwrap();
            (reply.status, codes::outcome(reply.status, &reply.body), reply.body)
        })
    };
    let (status, outcome, body) = send(0);
    assert_eq!(status, StatusCode::OK, "the simulator answered {status}: {}", String::from_utf8_lossy(&body));
    assert_eq!(outcome, Outcome::Ok);
    assert!(wabench::drivers::whatsapp::cloud::message_id(&body).is_some(), "no message id in the answer");
    let mut n = 0u64;
    c.bench_function("round_trip/cloud_send_to_simulator", |b| {
        b.iter(|| {
            n += 1;
            black_box(send(n).1)
        })
    });
    let _ = stop_tx.send(());
    server.join().unwrap();
}

/// The HTTP/1.1 transport alone: a request written and a 200 answer with a JSON body read back, over
/// loopback to a server that answers from memory (no parsing on its side). Checked before timing.
fn h1_exchange(c: &mut Criterion) {
    use http_body_util::Full;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use wabench::engine::h1::{Connection, Stream};
    const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\nServer: bench\r\nDate: Sun, 29 Nov 2026 12:00:00 GMT\r\n\
Content-Type: application/json\r\nContent-Length: 70\r\nConnection: keep-alive\r\n\r\n\
{\"messaging_product\":\"whatsapp\",\"messages\":[{\"id\":\"wamid.benchmark\"}]}";
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let srt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        srt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let (mut s, _) = listener.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            let mut buf = vec![0u8; 4096];
            // One answer per request read (requests are small and sent whole).
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 || s.write_all(ANSWER).await.is_err() {
                    break;
                }
            }
        })
    });
    let mut conn = rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        Connection::new(Stream::Plain(tcp))
    });
    let mut get = || {
        rt.block_on(async {
            let req = http::Request::get("/index.json").body(Full::new(bytes::Bytes::new())).unwrap();
            let answer = conn.exchange(req, b"127.0.0.1", 1 << 20, &|_| true);
            // Bounded: a framing mistake must fail the benchmark, not hang it.
            tokio::time::timeout(Duration::from_secs(5), answer).await.expect("no answer within 5 s").unwrap()
        })
    };
    let first = get();
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.reusable && first.body.ends_with(b"wamid.benchmark\"}]}"), "{first:?}");
    c.bench_function("transport/h1_exchange", |b| b.iter(|| black_box(get().status)));
    drop(conn);
    server.join().unwrap();
}

/// Per-request templates: one body rendered from a feeder row, and an `http` target's HTTP/1.1 request
/// with placeholders in its URL, a header and its body against the same request without any (the
/// pre-serialised fast path). Checked before timing: the templated request carries the row's values.
fn templates(c: &mut Criterion) {
    use std::sync::Arc;
    use wabench::spec::feeder::{Feeder, FeederOrder, Table};
    use wabench::spec::template::{Columns, Encoding, Template, Values};
    let mut csv = String::from("user_id,name,order_id\n");
    for i in 0..1000 {
        csv.push_str(&format!("u-{i},\"Name {i}, Jr\",A-{i}\n"));
    }
    let table = Table::parse(csv.as_bytes()).unwrap();
    let feeder = Arc::new(Feeder::new("users.csv".into(), table, FeederOrder::Sequential, 1));
    let cols = Columns { table: Some(feeder.table()), source: "users.csv" };
    let body = r#"{"user":"{{user_id}}","name":"{{name}}","order":"{{order_id}}","seq":{{seq}},"id":"{{uuid}}"}"#;
    let tpl = Template::compile(body, cols, Encoding::Raw, false).unwrap();
    let mut g = c.benchmark_group("template");
    let mut out = Vec::with_capacity(256);
    let mut seq = 0u64;
    g.bench_function("render_body", |b| {
        b.iter(|| {
            seq += 1;
            out.clear();
            let v = Values::new(seq, 1, Some((feeder.table(), feeder.row(seq))), false);
            tpl.render(&mut out, black_box(&v));
            black_box(out.len())
        })
    });
    let target = |templated: bool| {
        let text = if templated {
            format!(
                "name = \"t\"\nkind = \"http\"\nmethod = \"POST\"\nurl = \"http://127.0.0.1:9/users/{{{{user_id}}}}?n={{{{seq}}}}\"\n\
                 headers = {{ content-type = \"application/json\", x-request-id = \"{{{{uuid}}}}\" }}\nbody = '{body}'\n"
            )
        } else {
            "name = \"t\"\nkind = \"http\"\nmethod = \"POST\"\nurl = \"http://127.0.0.1:9/users/u-1?n=1\"\n\
             headers = { content-type = \"application/json\", x-request-id = \"ab9a3cd5-1b0e-4f43-8d6e-1f6f2b7e6c10\" }\n\
             body = '{\"user\":\"u-1\",\"name\":\"Name 1, Jr\",\"order\":\"A-1\",\"seq\":1,\"id\":\"ab9a3cd5-1b0e-4f43-8d6e-1f6f2b7e6c10\"}'\n"
                .to_string()
        };
        let spec: wabench::spec::TargetSpec = toml::from_str(&text).unwrap();
        let messages = MessagesSpec::default();
        let retry = wabench::spec::messages::RetrySpec::default();
        let ctx = wabench::drivers::BuildCtx {
            base_dir: std::path::Path::new("."),
            seed: 1,
            messages: &messages,
            recipients: Arc::new(wabench::spec::recipients::Recipients::generate("1", 1)),
            retry: &retry,
            body: None,
            feeder: templated.then(|| feeder.clone()),
            embedded: None,
            tracker: None,
            embedded_receiver: None,
            peak_rate: None,
            timeout: Duration::from_secs(10),
            failures: None,
            conversation: None,
            token: None,
        };
        wabench::drivers::build(&spec, &ctx).unwrap()
    };
    let (fixed, templated) = (target(false), target(true));
    let first = String::from_utf8(templated.http1_bytes(1).unwrap().to_vec()).unwrap();
    assert!(
        first.starts_with("POST /users/u-1?n=1 HTTP/1.1\r\n") && first.contains("\"name\":\"Name 1, Jr\""),
        "{first}"
    );
    let fixed_len = fixed.http1_bytes(1).unwrap().len();
    assert!(fixed_len.abs_diff(first.len()) < 8, "comparable requests: {fixed_len} and {}", first.len());
    g.bench_function("http1_request/fixed", |b| b.iter(|| black_box(fixed.http1_bytes(black_box(7)))));
    // What a load task does for an untraced request while [tracing] samples 1%: the sampling decision,
    // then the same fixed bytes.
    let tracer = wabench::engine::trace::Tracer::new(0.01, 1, 1);
    assert!(tracer.context(7, 1).is_none(), "message 7 is not sampled");
    g.bench_function("http1_request/fixed_tracing_unsampled", |b| {
        b.iter(|| {
            let seq = black_box(7);
            let trace = tracer.context(seq, 1);
            black_box(wabench::engine::trace::fixed_bytes(fixed.as_ref(), seq, trace.as_ref()))
        })
    });
    let mut seq = 0u64;
    g.bench_function("http1_request/templated", |b| {
        b.iter(|| {
            seq += 1;
            black_box(templated.http1_bytes(seq))
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    histograms,
    pacer,
    requests,
    classification,
    webhooks,
    simulator_round_trip,
    h1_exchange,
    templates
);
criterion_main!(benches);
