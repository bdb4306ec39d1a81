//! `[tracing] otlp_endpoint`: the spans of a target's traced requests sent to an OpenTelemetry
//! collector, OTLP over HTTP/protobuf (`ExportTraceServiceRequest` from the official definitions). A
//! thread of its own reads the engine's bounded span queue and posts batches: the load never waits
//! for it, and what it cannot take or deliver is counted as dropped.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span, status};
use prost::Message;

use crate::engine::metrics::Outcome;
use crate::engine::trace::{SpanQueue, SpanRecord};

/// The name of every exported span.
pub const SPAN_NAME: &str = "wabench.send";
/// Spans waiting for the exporter at most; more are dropped (and counted).
const QUEUE: usize = 8192;
/// Spans per export request at most.
const BATCH: usize = 512;
/// A batch not yet full is sent after this long.
const LINGER: Duration = Duration::from_secs(1);
/// Once the target ended, spans still queued are sent for at most this long; the rest are dropped.
const FLUSH: Duration = Duration::from_secs(5);

/// Who the spans are from: the service, and the target they measure.
pub struct Source {
    pub service: String,
    pub target: String,
    pub kind: String,
}

/// The exporter of one target's spans, running until [`Exporter::finish`].
pub struct Exporter {
    queue: Arc<SpanQueue>,
    /// Set when the target ended: the flush's deadline.
    closing: Arc<OnceLock<Instant>>,
    thread: std::thread::JoinHandle<(u64, u64)>,
}

/// What the export did: spans the collector took, and spans dropped (queue full, export failed or
/// rejected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exported {
    pub exported: u64,
    pub dropped: u64,
}

impl Exporter {
    /// Start exporting to `url` (already with its `/v1/traces` path).
    pub fn start(url: &str, source: Source) -> Result<Exporter, String> {
        let url = reqwest::Url::parse(url).map_err(|e| format!("tracing.otlp_endpoint: {e}"))?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(2))
            .user_agent(concat!("wabench/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("tracing.otlp_endpoint: cannot build the HTTP client: {e}"))?;
        let (queue, rx) = SpanQueue::new(QUEUE);
        let closing = Arc::new(OnceLock::new());
        let deadline = closing.clone();
        let thread = std::thread::Builder::new()
            .name("wabench-otlp".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                    return (0, rx.iter().count() as u64);
                };
                let to = Collector { client: &client, url: &url, source: &source, deadline: &deadline };
                rt.block_on(export_all(rx, &to))
            })
            .map_err(|e| format!("cannot start the OTLP exporter: {e}"))?;
        Ok(Exporter { queue, closing, thread })
    }

    /// The queue the load threads put spans in.
    pub fn queue(&self) -> Arc<SpanQueue> {
        self.queue.clone()
    }

    /// No more spans: send those queued, then say what was exported and dropped.
    pub fn finish(self) -> Exported {
        let _ = self.closing.set(Instant::now() + FLUSH);
        self.queue.close();
        let (exported, failed) = self.thread.join().unwrap_or((0, 0));
        Exported { exported, dropped: failed + self.queue.dropped.load(Ordering::Relaxed) }
    }
}

/// Where spans go: the client, the collector's URL, who they are from, and (once the target ended)
/// the flush's deadline.
struct Collector<'a> {
    client: &'a reqwest::Client,
    url: &'a reqwest::Url,
    source: &'a Source,
    deadline: &'a OnceLock<Instant>,
}

/// Read spans until the queue closes, posting them in batches; (exported, failed). Past the flush's
/// deadline what is left is counted as failed, unsent.
async fn export_all(rx: Receiver<SpanRecord>, to: &Collector<'_>) -> (u64, u64) {
    let (mut exported, mut failed) = (0u64, 0u64);
    let mut warned = false;
    let mut open = true;
    while open {
        let mut batch = Vec::new();
        let until = Instant::now() + LINGER;
        while batch.len() < BATCH {
            match rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
                Ok(s) => batch.push(s),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        let n = batch.len() as u64;
        if n == 0 {
            continue;
        }
        let late = to.deadline.get().map(|d| d.saturating_duration_since(Instant::now()));
        if late.is_some_and(|left| left.is_zero()) {
            failed += n;
            continue;
        }
        let post = post(to.client, to.url, request(&batch, to.source));
        let answer = match late {
            Some(left) => {
                tokio::time::timeout(left, post).await.unwrap_or_else(|_| Err("the flush ran out of time".into()))
            }
            None => post.await,
        };
        match answer {
            Ok(rejected) => {
                exported += n.saturating_sub(rejected);
                failed += rejected.min(n);
            }
            Err(e) => {
                failed += n;
                if !warned {
                    eprintln!("wabench: tracing: spans not exported: {e}");
                    warned = true;
                }
            }
        }
    }
    (exported, failed)
}

/// POST one request; the spans the collector rejected (its partial success), or why it failed.
async fn post(client: &reqwest::Client, url: &reqwest::Url, body: ExportTraceServiceRequest) -> Result<u64, String> {
    let host = url.host_str().unwrap_or("").to_string();
    let r = client
        .post(url.clone())
        .header("Content-Type", "application/x-protobuf")
        .body(body.encode_to_vec())
        .send()
        .await
        .map_err(|e| format!("{host}: {}", e.without_url()))?;
    let status = r.status();
    let bytes = r.bytes().await.unwrap_or_default();
    if !status.is_success() {
        return Err(format!("{host} answered {status}"));
    }
    let answer = ExportTraceServiceResponse::decode(bytes).unwrap_or_default();
    Ok(answer.partial_success.map_or(0, |p| u64::try_from(p.rejected_spans).unwrap_or(0)))
}

fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(v) }), ..Default::default() }
}

fn text(key: &str, v: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(v.into()))
}

fn int(key: &str, v: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(v))
}

fn ms(key: &str, d: Duration) -> KeyValue {
    kv(key, any_value::Value::DoubleValue(d.as_secs_f64() * 1000.0))
}

/// The export request of a batch: one resource (the service), one scope, a span per attempt.
pub fn request(batch: &[SpanRecord], source: &Source) -> ExportTraceServiceRequest {
    let resource = Resource {
        attributes: vec![text("service.name", &source.service), text("service.version", env!("CARGO_PKG_VERSION"))],
        ..Default::default()
    };
    let scope = InstrumentationScope {
        name: "wabench".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope),
                spans: batch.iter().map(|s| span_of(s, source)).collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// One attempt as a client span: from its actual start to the end of its answer, with when it was
/// due (`wabench.lateness_ms` after which it started; `wabench.latency_ms`, from the due time, is
/// the latency the results count).
fn span_of(s: &SpanRecord, source: &Source) -> Span {
    let since = |a: SystemTime, b: SystemTime| b.duration_since(a).unwrap_or_default();
    let mut attributes = vec![
        text("wabench.target", &source.target),
        text("wabench.target.kind", &source.kind),
        int("wabench.seq", i64::try_from(s.seq).unwrap_or(i64::MAX)),
        int("wabench.attempt", i64::from(s.attempt)),
        text("wabench.outcome", &s.outcome.key()),
        int("wabench.intended_start_unix_nano", i64::try_from(nanos(s.intended)).unwrap_or(i64::MAX)),
        ms("wabench.lateness_ms", since(s.intended, s.start)),
        ms("wabench.latency_ms", since(s.intended, s.end)),
    ];
    if let Some(st) = s.http_status {
        attributes.push(int("http.response.status_code", i64::from(st)));
    }
    if let Outcome::ApiError(code) = s.outcome {
        attributes.push(int("wabench.error_code", code));
    }
    if !s.outcome.is_ok() {
        attributes.push(text("error.type", &s.outcome.key()));
    }
    if let Some(id) = &s.wamid {
        attributes.push(text("messaging.message.id", id));
    }
    let status = match s.outcome.is_ok() {
        true => None,
        false => Some(Status { code: status::StatusCode::Error as i32, message: s.outcome.key() }),
    };
    Span {
        trace_id: s.ctx.trace_id.to_vec(),
        span_id: s.ctx.span_id.to_vec(),
        // Sampled, as the traceparent said.
        flags: 0x01,
        name: SPAN_NAME.into(),
        kind: span::SpanKind::Client as i32,
        start_time_unix_nano: nanos(s.start),
        end_time_unix_nano: nanos(s.end),
        attributes,
        status,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::trace::Tracer;

    #[test]
    fn a_span_says_when_it_was_due_and_how_it_ended() {
        let ctx = Tracer::new(1.0, 1, 1).context(4, 2).unwrap();
        let t = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let rec = SpanRecord {
            ctx,
            seq: 4,
            attempt: 2,
            intended: t,
            start: t + Duration::from_millis(3),
            end: t + Duration::from_millis(53),
            http_status: Some(400),
            outcome: Outcome::ApiError(131056),
            wamid: None,
        };
        let source = Source { service: "svc".into(), target: "cloud".into(), kind: "cloud".into() };
        let req = ExportTraceServiceRequest::decode(&request(&[rec], &source).encode_to_vec()[..]).unwrap();
        let span = &req.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(span.name, SPAN_NAME);
        assert_eq!(span.trace_id, ctx.trace_id.to_vec());
        assert_eq!(span.end_time_unix_nano - span.start_time_unix_nano, 50_000_000);
        let attr = |k: &str| span.attributes.iter().find(|a| a.key == k).and_then(|a| a.value.clone()?.value);
        assert_eq!(attr("wabench.error_code"), Some(any_value::Value::IntValue(131056)));
        assert_eq!(attr("wabench.lateness_ms"), Some(any_value::Value::DoubleValue(3.0)));
        assert_eq!(attr("wabench.latency_ms"), Some(any_value::Value::DoubleValue(53.0)));
        assert_eq!(span.status.as_ref().unwrap().code, status::StatusCode::Error as i32);
    }
}
