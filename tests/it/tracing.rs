//! `[tracing]`: the target sees a W3C `traceparent` on about the sampled fraction of the load (also
//! on a fixed HTTP request, which is otherwise sent as pre-serialised bytes), the same messages on
//! every run with the same seed, the slowest kept in `<target>.exemplars.csv` and report.html, spans
//! received by an OTLP/HTTP receiver built on the official protobuf definitions with the ids the target
//! saw, shards merged, and real WhatsApp targets left alone unless the profile asks.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Response;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

use crate::support::common;
use crate::support::loopback::{self, Http, LoopServer};
use wabench::engine::trace::TraceContext;
use wabench::results::exemplars::Slowest;

/// What a loopback server saw: each request's `traceparent` (if any) and the body it answered with.
#[derive(Default)]
struct Seen {
    traced: Mutex<Vec<(String, String)>>,
    bodies: Mutex<Vec<Vec<u8>>>,
}

/// A loopback HTTP server answering every request with `answer(n)` (n counts from 0), recording
/// what it saw; stops when dropped.
struct Recording {
    addr: SocketAddr,
    /// Requests received.
    requests: Arc<AtomicU64>,
    seen: Arc<Seen>,
    _server: LoopServer,
}

fn recording(answer: fn(u64) -> String) -> Recording {
    recording_on(answer, Http::One)
}

/// As [`recording`], speaking `version`.
fn recording_on(answer: fn(u64) -> String, version: Http) -> Recording {
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    let server = loopback::http(version, move |n, req| {
        let s = s.clone();
        async move {
            let tp = req.headers().get("traceparent").map(|v| v.to_str().unwrap_or("").to_string());
            let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            let text = answer(n);
            if let Some(tp) = tp {
                s.traced.lock().unwrap().push((tp, text.clone()));
            }
            s.bodies.lock().unwrap().push(body.to_vec());
            let mut r = Response::new(Full::new(Bytes::from(text)));
            r.headers_mut().insert("content-type", "application/json".parse().unwrap());
            r
        }
    });
    Recording { addr: server.addr, requests: server.requests.clone(), seen, _server: server }
}

fn plain(_: u64) -> String {
    "{\"ok\":true}".into()
}

fn cloud_accepted(n: u64) -> String {
    format!("{{\"messaging_product\":\"whatsapp\",\"contacts\":[],\"messages\":[{{\"id\":\"wamid.test{n}\"}}]}}")
}

fn http_profile(addr: SocketAddr, requests: u32, tracing: &str) -> String {
    format!(
        "name = \"traced\"\nseed = 7\n[load]\nrate = 400\nduration = \"{}ms\"\nconnections = 4\n[[targets]]\nname = \"web\"\n\
         kind = \"http\"\nurl = \"http://{addr}/ping\"\n[tracing]\n{tracing}\n",
        requests * 1000 / 400
    )
}

fn parsed(traced: &[(String, String)]) -> Vec<TraceContext> {
    traced.iter().map(|(tp, _)| TraceContext::parse(tp).unwrap_or_else(|| panic!("not a traceparent: {tp}"))).collect()
}

#[test]
fn the_target_sees_traceparent_on_about_the_sampled_fraction_and_the_report_lists_the_slowest() {
    let server = recording(plain);
    let (f, dir) = common::run_guarded(&http_profile(server.addr, 800, "sample = 0.25"), &[], Duration::from_secs(60));
    let t = &f.run.targets[0];
    // A request the load could not send in time (a busy machine) is dropped, never sent: count those sent.
    assert_eq!(t.requests.sent + t.requests.dropped, 800);
    assert_eq!(server.requests.load(Ordering::Relaxed), t.requests.sent);
    let traced = server.seen.traced.lock().unwrap().clone();
    // The seed's choice: a hash of the seed and the message number below a quarter of its range.
    let chosen = wabench::engine::trace::Tracer::new(0.25, 7, 0);
    let expected = (0..800).filter(|&n| chosen.sampled(n)).count();
    assert!((140..=260).contains(&expected), "{expected} of 800 chosen");
    if t.requests.dropped == 0 {
        assert_eq!(traced.len(), expected);
    }
    assert!(!traced.is_empty() && traced.len() <= expected, "{} of {expected}", traced.len());
    let ids: BTreeSet<[u8; 16]> = parsed(&traced).iter().map(|c| c.trace_id).collect();
    assert_eq!(ids.len(), traced.len(), "one trace per message");
    assert!(traced.iter().all(|(tp, _)| tp.starts_with("00-") && tp.ends_with("-01") && tp.len() == 55));
    let account = t.tracing.as_ref().expect("run.json accounts for the tracing");
    assert_eq!(account.traced, traced.len() as u64);
    assert_eq!(account.exemplars, "web.exemplars.csv");

    let out = dir.path().join("out");
    let kept = Slowest::read(&out.join("web.exemplars.csv")).unwrap();
    assert!(!kept.is_empty());
    let hex: BTreeSet<String> = ids.iter().map(hex::encode).collect();
    let mut per_second: BTreeMap<u64, usize> = BTreeMap::new();
    for e in kept.all() {
        assert!(hex.contains(&e.trace_id), "{} was not sent", e.trace_id);
        assert!(chosen.sampled(e.seq), "message {} was not chosen", e.seq);
        assert_eq!((e.outcome.as_str(), e.http_status), ("ok", Some(200)));
        *per_second.entry(e.second).or_default() += 1;
    }
    assert!(per_second.values().all(|n| *n <= 3), "{per_second:?}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Slowest traced requests"));
    let slowest = kept.slowest(1)[0];
    assert!(html.contains(&slowest.trace_id), "the slowest traced request is in the report");

    // The same seed chooses the same messages again, under new trace ids.
    let again = recording(plain);
    let (f2, dir2) = common::run_guarded(&http_profile(again.addr, 800, "sample = 0.25"), &[], Duration::from_secs(60));
    let traced2 = again.seen.traced.lock().unwrap().clone();
    let t2 = &f2.run.targets[0];
    assert_eq!(t2.tracing.as_ref().unwrap().traced, traced2.len() as u64);
    if t2.requests.dropped == 0 {
        assert_eq!(traced2.len(), expected);
    }
    let kept2 = Slowest::read(&dir2.path().join("out/web.exemplars.csv")).unwrap();
    assert!(kept2.all().all(|e| chosen.sampled(e.seq)));
    assert!(parsed(&traced2).iter().all(|c| !ids.contains(&c.trace_id)), "trace ids are new on each run");
}

#[test]
fn without_tracing_no_request_carries_traceparent() {
    let server = recording(plain);
    let (f, dir) = common::run_guarded(&http_profile(server.addr, 200, "sample = 0.0"), &[], Duration::from_secs(60));
    assert_eq!(server.requests.load(Ordering::Relaxed), f.run.targets[0].requests.sent);
    assert!(server.seen.traced.lock().unwrap().is_empty());
    assert!(f.run.targets[0].tracing.is_none());
    assert!(!dir.path().join("out/web.exemplars.csv").exists());
}

/// What the OTLP receiver got: the spans, and the service names of their resources.
struct Receiver {
    addr: SocketAddr,
    spans: Arc<Mutex<Vec<Span>>>,
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
    services: Arc<Mutex<Vec<String>>>,
    _server: LoopServer,
}

/// A loopback OTLP/HTTP receiver: decodes each POST to /v1/traces as an ExportTraceServiceRequest and
/// keeps its spans; answers 200 with an empty ExportTraceServiceResponse.
fn otlp_receiver() -> Receiver {
    let spans: Arc<Mutex<Vec<Span>>> = Arc::default();
    let services: Arc<Mutex<Vec<String>>> = Arc::default();
    let bodies: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let (sp, sv, bo) = (spans.clone(), services.clone(), bodies.clone());
    let server = loopback::http(Http::One, move |_, req| {
        let (sp, sv, bo) = (sp.clone(), sv.clone(), bo.clone());
        async move {
            let ok = req.uri().path() == "/v1/traces"
                && req.headers().get("content-type").is_some_and(|v| v == "application/x-protobuf");
            let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            bo.lock().unwrap().push(body.to_vec());
            let decoded = ExportTraceServiceRequest::decode(body).ok().filter(|_| ok);
            let status = if decoded.is_some() { 200 } else { 400 };
            for rs in decoded.into_iter().flat_map(|r| r.resource_spans) {
                for a in rs.resource.iter().flat_map(|r| &r.attributes) {
                    if a.key == "service.name"
                        && let Some(Value::StringValue(s)) = a.value.as_ref().and_then(|v| v.value.clone())
                    {
                        sv.lock().unwrap().push(s);
                    }
                }
                for ss in rs.scope_spans {
                    sp.lock().unwrap().extend(ss.spans);
                }
            }
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
            r.headers_mut().insert("content-type", "application/x-protobuf".parse().unwrap());
            r
        }
    });
    Receiver { addr: server.addr, spans, services, bodies, _server: server }
}

fn attr(span: &Span, key: &str) -> Option<Value> {
    span.attributes.iter().find(|a| a.key == key).and_then(|a| a.value.clone()?.value)
}

#[test]
fn spans_reach_an_otlp_receiver_with_the_ids_and_message_ids_the_target_saw() {
    // A Cloud API target on loopback (not a real one): every send accepted with a message id.
    let api = recording(cloud_accepted);
    let receiver = otlp_receiver();
    let otlp = receiver.addr;
    let text = format!(
        "name = \"otlp\"\nseed = 3\n[load]\nrate = 300\nduration = \"1s\"\nconnections = 4\n[[targets]]\nname = \"wa\"\n\
         kind = \"cloud\"\nbase_url = \"http://{}\"\nphone_number_id = \"100000000000001\"\ntoken_file = \"token.txt\"\n\
         [tracing]\nsample = 0.2\notlp_endpoint = \"http://{otlp}\"\nservice_name = \"wabench-test\"\n",
        api.addr
    );
    let (f, _dir) = common::run_guarded(&text, &[("token.txt", b"test-token")], Duration::from_secs(60));
    let account = f.run.targets[0].tracing.clone().expect("traced");
    let traced = api.seen.traced.lock().unwrap().clone();
    assert!(traced.len() > 20, "{} traced of 300", traced.len());
    assert_eq!(account.traced, traced.len() as u64);
    assert_eq!((account.spans_exported, account.spans_dropped), (Some(traced.len() as u64), Some(0)));

    let spans = receiver.spans.lock().unwrap().clone();
    assert_eq!(spans.len(), traced.len(), "one span per traced request");
    assert!(receiver.services.lock().unwrap().iter().all(|s| s == "wabench-test"));
    // Each span is the request the target saw: its trace id and span id are the traceparent's, and its
    // message id is the one the target answered that request with.
    let by_trace: BTreeMap<[u8; 16], (TraceContext, String)> = traced
        .iter()
        .map(|(tp, answer)| {
            let c = TraceContext::parse(tp).unwrap();
            let id = answer.split("\"id\":\"").nth(1).unwrap().split('"').next().unwrap().to_string();
            (c.trace_id, (c, id))
        })
        .collect();
    let mut seqs = BTreeSet::new();
    for s in &spans {
        let key: [u8; 16] = s.trace_id.clone().try_into().expect("16-byte trace id");
        let (ctx, wamid) = by_trace.get(&key).expect("a span of a request the target saw");
        assert_eq!(s.span_id, ctx.span_id.to_vec());
        assert_eq!(s.name, "wabench.send");
        assert!(s.end_time_unix_nano > s.start_time_unix_nano);
        assert_eq!(attr(s, "messaging.message.id"), Some(Value::StringValue(wamid.clone())));
        assert_eq!(attr(s, "wabench.target"), Some(Value::StringValue("wa".into())));
        assert_eq!(attr(s, "wabench.target.kind"), Some(Value::StringValue("cloud".into())));
        assert_eq!(attr(s, "wabench.outcome"), Some(Value::StringValue("ok".into())));
        assert_eq!(attr(s, "wabench.attempt"), Some(Value::IntValue(1)));
        assert_eq!(attr(s, "http.response.status_code"), Some(Value::IntValue(200)));
        let Some(Value::DoubleValue(late)) = attr(s, "wabench.lateness_ms") else { panic!("no lateness") };
        let Some(Value::DoubleValue(latency)) = attr(s, "wabench.latency_ms") else { panic!("no latency") };
        assert!(late >= 0.0 && latency >= late, "{late} {latency}");
        let Some(Value::IntValue(seq)) = attr(s, "wabench.seq") else { panic!("no seq") };
        seqs.insert(seq);
    }
    assert_eq!(seqs.len(), spans.len(), "a span per message");

    // The OpenTelemetry project's own Python classes read the same requests alike.
    let bodies = receiver.bodies.lock().unwrap().clone();
    if let Some(doc) = crate::support::python::otlp_traces(&bodies) {
        let read: Vec<&serde_json::Value> =
            doc.as_array().unwrap().iter().flat_map(|b| b.as_array().unwrap()).collect();
        assert_eq!(read.len(), spans.len());
        for (py, s) in read.iter().zip(&spans) {
            assert_eq!(py["trace_id"], hex::encode(&s.trace_id));
            assert_eq!(py["span_id"], hex::encode(&s.span_id));
            assert_eq!(
                (py["name"].as_str(), py["service"].as_str(), py["scope"].as_str()),
                (Some("wabench.send"), Some("wabench-test"), Some("wabench"))
            );
            assert_eq!((py["kind"].as_i64(), py["flags"].as_i64()), (Some(3), Some(1)), "a sampled client span");
            assert_eq!(py["start"].as_u64(), Some(s.start_time_unix_nano));
            let (_, wamid) = &by_trace[&<[u8; 16]>::try_from(s.trace_id.clone()).unwrap()];
            assert_eq!(py["attributes"]["messaging.message.id"], wamid.as_str());
            assert_eq!(py["attributes"]["http.response.status_code"], 200);
            assert_eq!(py["attributes"]["wabench.target"], "wa");
        }
    }
}

#[test]
fn real_whatsapp_targets_are_not_traced_unless_the_profile_asks() {
    let dir = tempfile::tempdir().unwrap();
    let profile = |extra: &str| {
        format!(
            "name = \"real\"\n[load]\nrate = 1\nduration = \"1s\"\n[[targets]]\nname = \"meta\"\nkind = \"cloud\"\n\
             base_url = \"https://graph.facebook.com\"\nphone_number_id = \"100000000000001\"\ntoken_file = \"token.txt\"\n\
             allow_generated_recipients = true\n[[targets]]\nname = \"local\"\nkind = \"http\"\nurl = \"http://127.0.0.1:9/\"\n\
             [tracing]\nsample = 0.01\n{extra}"
        )
    };
    std::fs::write(dir.path().join("token.txt"), "t").unwrap();
    let off = wabench::spec::load(&common::profile(dir.path(), &profile(""))).unwrap();
    let tracing = off.profile.tracing.as_ref().unwrap();
    assert!(!tracing.applies_to(&off.profile.targets[0]) && tracing.applies_to(&off.profile.targets[1]));
    let text = wabench::app::validate::plan_text(&off);
    assert!(text.contains("traceparent on 1% of the messages (chosen by seed 1) to local;"), "{text}");
    assert!(text.contains("tracing: off for the real WhatsApp target(s) meta: Meta ignores traceparent"), "{text}");

    let on = wabench::spec::load(&common::profile(dir.path(), &profile("real_targets = true\n"))).unwrap();
    assert!(on.profile.tracing.as_ref().unwrap().applies_to(&on.profile.targets[0]));
    let text = wabench::app::validate::plan_text(&on);
    assert!(text.contains("to meta, local;"), "{text}");
    assert!(!text.contains("tracing: off"), "{text}");

    // For scripts: each target's traced fraction.
    let (code, out, err) = common::wabench(&["validate", "--json", dir.path().join("profile.toml").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["targets"][0]["traced"], 0.01);
    assert_eq!(doc["targets"][1]["traced"], 0.01);
    let off = common::profile(dir.path(), &profile(""));
    let (code, out, err) = common::wabench(&["validate", "--json", off.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((doc["targets"][0]["traced"].as_f64(), doc["targets"][1]["traced"].as_f64()), (Some(0.0), Some(0.01)));
}

#[test]
fn merge_keeps_the_slowest_traced_requests_across_shards() {
    use wabench::app::run::{Options, run_profile};
    use wabench::results::Shard;
    let server = recording(plain);
    let dir = tempfile::tempdir().unwrap();
    let path = common::profile(dir.path(), &http_profile(server.addr, 600, "sample = 0.5"));
    let loaded = wabench::spec::load(&path).unwrap();
    let mut parts = Vec::new();
    for i in 0..2 {
        let rx = wabench::Shutdown::new();
        let out = dir.path().join(format!("shard{i}"));
        let opts = Options { out: Some(out.clone()), shard: Shard { index: i, count: 2 }, ..Options::new(dir.path()) };
        let f = run_profile(&loaded, &opts, rx).unwrap();
        assert!(f.run.targets[0].tracing.as_ref().unwrap().traced > 0);
        parts.push(out);
    }
    let merged_dir = dir.path().join("merged");
    let merged = crate::support::common::merge(&parts, &merged_dir);
    let account = merged.targets[0].tracing.as_ref().expect("merged tracing");
    let shards: Vec<wabench::results::Run> = parts.iter().map(|p| wabench::results::read_run(p).unwrap()).collect();
    let traced: u64 = shards.iter().map(|r| r.targets[0].tracing.as_ref().unwrap().traced).sum();
    assert_eq!(account.traced, traced);
    assert_eq!(account.traced, server.seen.traced.lock().unwrap().len() as u64);

    // The merged file holds the slowest of the shards' kept requests, at most three a second.
    let kept = Slowest::read(&merged_dir.join("web.exemplars.csv")).unwrap();
    let all: Vec<Slowest> = parts.iter().map(|p| Slowest::read(&p.join("web.exemplars.csv")).unwrap()).collect();
    let slowest_of_parts = all.iter().flat_map(|s| s.all()).map(|e| e.latency_us).max().unwrap();
    assert_eq!(kept.slowest(1)[0].latency_us, slowest_of_parts);
    let from_parts: BTreeSet<&str> = all.iter().flat_map(|s| s.all()).map(|e| e.trace_id.as_str()).collect();
    assert!(kept.all().all(|e| from_parts.contains(e.trace_id.as_str())));
    let mut per_second: BTreeMap<u64, usize> = BTreeMap::new();
    for e in kept.all() {
        *per_second.entry(e.second).or_default() += 1;
    }
    assert!(per_second.values().all(|n| *n <= 3), "{per_second:?}");
    assert!(kept.all().count() >= all.iter().map(|s| s.all().count()).max().unwrap());
    let html = std::fs::read_to_string(merged_dir.join("report.html")).unwrap();
    assert!(html.contains(&kept.slowest(1)[0].trace_id));
}

#[test]
fn spans_a_collector_cannot_take_are_dropped_and_counted_and_the_load_goes_on() {
    let server = recording(plain);
    // A loopback port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let tracing = format!("sample = 1.0\notlp_endpoint = \"http://{closed}\"");
    let (f, _dir) = common::run_guarded(&http_profile(server.addr, 200, &tracing), &[], Duration::from_secs(60));
    let t = &f.run.targets[0];
    assert_eq!(t.requests.ok, t.requests.sent);
    let account = t.tracing.as_ref().unwrap();
    assert_eq!(account.traced, t.requests.sent);
    assert_eq!((account.spans_exported, account.spans_dropped), (Some(0), Some(t.requests.sent)));
    assert_eq!(server.seen.traced.lock().unwrap().len() as u64, t.requests.sent);
}

#[test]
fn http2_streams_of_a_shared_connection_carry_traceparent_too() {
    let server = recording_on(plain, Http::Two);
    let text = http_profile(server.addr, 400, "sample = 0.5")
        .replace("connections = 4", "connections = 4\nstreams_per_connection = 2")
        .replace("kind = \"http\"", "kind = \"http\"\nhttp_version = \"2\"");
    let (f, _dir) = common::run_guarded(&text, &[], Duration::from_secs(60));
    let t = &f.run.targets[0];
    assert_eq!(t.requests.ok, t.requests.sent, "{:?}", t.outcomes);
    let traced = server.seen.traced.lock().unwrap().clone();
    let chosen = wabench::engine::trace::Tracer::new(0.5, 7, 0);
    let expected = (0..400).filter(|&n| chosen.sampled(n)).count();
    assert!(!traced.is_empty() && traced.len() <= expected, "{} of {expected}", traced.len());
    assert_eq!(t.tracing.as_ref().unwrap().traced, traced.len() as u64);
    assert_eq!(parsed(&traced).len(), traced.len());
}

#[test]
fn traced_attempts_travel_to_the_aggregator_with_the_second_they_ended_in() {
    use std::time::Instant;
    use wabench::engine::metrics::{Recorder, Report};
    use wabench::results::exemplars::Exemplar;
    let t0 = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    let mut r = Recorder::new(0, t0, Some(tx), Default::default());
    let e = |latency_us: u64| Exemplar {
        second: 99,
        intended_at: chrono::DateTime::UNIX_EPOCH,
        trace_id: "0".repeat(32),
        seq: latency_us,
        attempt: 1,
        latency_us,
        outcome: "ok".into(),
        http_status: Some(200),
        wamid: None,
    };
    for (ms, lat) in [(10, 5), (20, 9), (2100, 7)] {
        r.traced(t0 + Duration::from_millis(ms), e(lat));
    }
    r.close();
    let mut all = Slowest::default();
    let mut untraced = 0;
    for rep in rx.try_iter() {
        if let Report::Interval { interval, .. } = rep {
            match &interval.traced {
                Some(t) => all.merge(t, 0),
                None => untraced += 1,
            }
        }
    }
    let kept: Vec<(u64, u64)> = all.all().map(|x| (x.second, x.latency_us)).collect();
    assert_eq!(kept, vec![(0, 9), (0, 5), (2, 7)]);
    assert_eq!((all.traced, untraced), (3, 0));
}
