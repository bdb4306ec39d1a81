//! Live metrics of a long run, for Prometheus: `run --metrics-listen ADDR` serves `GET /metrics` in the
//! Prometheus text format or OpenMetrics (see `exposition`), and `run --metrics-push URL` sends the
//! same series with Prometheus remote-write 1.0 every interval and once more at the end.
//!
//! Every series is labelled `shard` (this process's part of a sharded run, "0" when not sharded),
//! `api` (the target kind: cloud, onprem, http, webhook) and `target`, so that the series of the shards
//! of one run add up with `sum by (...)`:
//!
//! - `wabench_request_duration_seconds` — a histogram (`_bucket{le}`, `_sum`, `_count`) of the latency
//!   from the intended start of every attempt that got a response, with the fixed buckets of
//!   [`BUCKET_BOUNDS_US`] (the same in every process, so `sum by (le)` across shards is exact), and in
//!   OpenMetrics the latest answered traced request of each bucket as its exemplar (`[tracing]`);
//! - `wabench_requests_total{outcome}` — attempts ended, by outcome ("ok", "api_131056", "http_503",
//!   "timeout", …: the keys of [`Outcome::key`](crate::engine::metrics::Outcome::key));
//! - `wabench_requests_sent_total`, `wabench_retries_total`, `wabench_requests_resent_total`,
//!   `wabench_requests_dropped_total`;
//! - `wabench_requests_in_flight` and `wabench_schedule_lateness_seconds` (gauges);
//! - `wabench_run_info{profile, shards, version}` = 1.
//!
//! The load path pays one count per request in its thread's current second (`Interval`); the values
//! are those the aggregator already merges once a second (`LiveView`), read under its lock at scrape
//! time. They are therefore up to the latest finished second, and one scrape is one consistent
//! snapshot (the histogram's `_count` equals the responses among `wabench_requests_total`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use crate::engine::aggregate::LiveTotals;
use crate::engine::executor::Progress;
use crate::engine::metrics::Outcome;
use crate::results::Shard;

mod exposition;
mod remote_write;
pub use exposition::Format;
pub use remote_write::{PUSH_TOKEN_ENV, Pusher, remote_write_body};

/// Upper bounds of the latency histogram's buckets, µs: 0.5 ms to 60 s, about 1.5× apart (1, 1.5, 2, 3,
/// 5, 7.5 per decade), plus `+Inf`. Fixed, so that every shard's buckets are the same series.
pub const BUCKET_BOUNDS_US: [u64; 30] = [
    500, 1_000, 1_500, 2_000, 3_000, 5_000, 7_500, 10_000, 15_000, 20_000, 30_000, 50_000, 75_000, 100_000, 150_000,
    200_000, 300_000, 500_000, 750_000, 1_000_000, 1_500_000, 2_000_000, 3_000_000, 5_000_000, 7_500_000, 10_000_000,
    15_000_000, 20_000_000, 30_000_000, 60_000_000,
];

/// The `le` label of bucket `i` (`+Inf` past the last bound).
pub fn le_label(i: usize) -> String {
    match BUCKET_BOUNDS_US.get(i) {
        Some(us) => format!("{}", *us as f64 / 1e6),
        None => "+Inf".to_string(),
    }
}

/// The bucket (index into [`BUCKET_BOUNDS_US`], its length for `+Inf`) that counts an HDR cell whose
/// highest value is `top`: the first whose bound is at least it.
fn bucket_of(top: u64) -> usize {
    BUCKET_BOUNDS_US.partition_point(|b| *b < top)
}

/// Cumulative bucket counts (one per bound, then `+Inf`) and the sum in seconds of an HDR latency
/// histogram (µs). Each HDR cell counts in the first bucket whose bound is at least the cell's highest
/// value, so bounds are exact to the µs below 2.048 ms and within the histogram's 3 significant digits
/// above; the sum takes each cell's middle value. Both are linear in the cells' counts: the buckets of
/// an exact merge of histograms are the sum of their buckets.
pub fn buckets(h: &Histogram<u64>) -> (Vec<u64>, f64) {
    let mut counts = vec![0u64; BUCKET_BOUNDS_US.len() + 1];
    let mut sum_us = 0f64;
    for v in h.iter_recorded() {
        let top = v.value_iterated_to();
        let n = v.count_at_value();
        counts[bucket_of(top)] += n;
        sum_us += n as f64 * h.median_equivalent(top) as f64;
    }
    let mut acc = 0;
    for c in &mut counts {
        acc += *c;
        *c = acc;
    }
    (counts, sum_us / 1e6)
}

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
    /// Labels that describe the process, on a series whose value is always 1.
    Info,
}

/// What one series holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A counter's, a gauge's or an info's value.
    Number(f64),
    /// Cumulative counts per bucket (one per bound of [`BUCKET_BOUNDS_US`], then `+Inf`), the sum in
    /// seconds, and the exemplars of some buckets (shown in OpenMetrics only).
    Histogram { buckets: Vec<u64>, sum: f64, exemplars: Vec<BucketExemplar> },
}

/// A traced request shown beside the histogram bucket that counts it: an OpenMetrics exemplar.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketExemplar {
    /// The bucket's index (as in [`BUCKET_BOUNDS_US`]; its length for `+Inf`).
    pub bucket: usize,
    /// The W3C trace id the request carried.
    pub trace_id: String,
    /// Its latency, seconds.
    pub seconds: f64,
    /// When its answer ended, seconds since the Unix epoch.
    pub at: f64,
}

/// The exemplar of each bucket: the latest of the traced requests `recent` (oldest first) that got an
/// answer, in the bucket that `h` counts its latency in.
pub fn bucket_exemplars<'a>(
    recent: impl IntoIterator<Item = &'a crate::results::exemplars::Exemplar>,
    h: &Histogram<u64>,
) -> Vec<BucketExemplar> {
    let mut by_bucket: std::collections::BTreeMap<usize, BucketExemplar> = std::collections::BTreeMap::new();
    for e in recent.into_iter().filter(|e| e.http_status.is_some()) {
        let bucket = bucket_of(h.highest_equivalent(e.latency_us));
        let seconds = e.latency_us as f64 / 1e6;
        let at = e.intended_at.timestamp_micros() as f64 / 1e6 + seconds;
        by_bucket.insert(bucket, BucketExemplar { bucket, trace_id: e.trace_id.clone(), seconds, at });
    }
    by_bucket.into_values().collect()
}

/// One series of a family: its labels (without `le`) and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Vec<(String, String)>,
    pub value: Value,
}

/// One sample as a scrape shows it: the series name (with `_bucket`, `_sum`, `_count` for histograms),
/// labels (with `le` for buckets), value, and a bucket's exemplar.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
    pub exemplar: Option<BucketExemplar>,
}

/// One metric family. `name` is that of its samples (`…_total` for a counter, `…_info` for an info).
#[derive(Debug, Clone)]
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub series: Vec<Series>,
}

impl Family {
    /// The samples of the family's series, as a scrape in the Prometheus text format shows them.
    pub fn samples(&self) -> Vec<Sample> {
        let mut out = Vec::new();
        for s in &self.series {
            match &s.value {
                Value::Number(v) => {
                    out.push(Sample { name: self.name.into(), labels: s.labels.clone(), value: *v, exemplar: None })
                }
                Value::Histogram { buckets, sum, exemplars } => {
                    for (i, c) in buckets.iter().enumerate() {
                        let mut labels = s.labels.clone();
                        labels.push(("le".into(), le_label(i)));
                        let exemplar = exemplars.iter().find(|e| e.bucket == i).cloned();
                        out.push(Sample { name: format!("{}_bucket", self.name), labels, value: *c as f64, exemplar });
                    }
                    let count = buckets.last().copied().unwrap_or(0) as f64;
                    let (name, labels) = (format!("{}_sum", self.name), s.labels.clone());
                    out.push(Sample { name, labels, value: *sum, exemplar: None });
                    let (name, labels) = (format!("{}_count", self.name), s.labels.clone());
                    out.push(Sample { name, labels, value: count, exemplar: None });
                }
            }
        }
        out
    }
}

/// The latency histogram's value: its buckets, sum and the exemplars of the traced requests `recent`.
fn latency<'a>(h: &Histogram<u64>, recent: impl IntoIterator<Item = &'a crate::results::exemplars::Exemplar>) -> Value {
    let (buckets, sum) = buckets(h);
    Value::Histogram { buckets, sum, exemplars: bucket_exemplars(recent, h) }
}

/// The families, in the order they are shown: name, help, type.
const FAMILIES: [(&str, &str, Kind); 9] = [
    ("wabench_run_info", "The run this process is part of (always 1).", Kind::Info),
    ("wabench_requests_sent_total", "Requests started (first attempts).", Kind::Counter),
    ("wabench_retries_total", "Attempts after the first of a message.", Kind::Counter),
    (
        "wabench_requests_resent_total",
        "Requests written again after an unanswered attempt (only when the profile allows it) or an \
         HTTP/2 refusal.",
        Kind::Counter,
    ),
    ("wabench_requests_dropped_total", "Requests due and not sent: too many were outstanding.", Kind::Counter),
    (
        "wabench_requests_total",
        "Attempts ended, by outcome (ok, api_<code>, http_<status>, timeout, ...).",
        Kind::Counter,
    ),
    ("wabench_requests_in_flight", "Attempts started and not yet ended.", Kind::Gauge),
    (
        "wabench_schedule_lateness_seconds",
        "How late the open-loop schedule started requests: the largest lateness of the latest second.",
        Kind::Gauge,
    ),
    (
        "wabench_request_duration_seconds",
        "Latency from the intended start to the end of the response, of attempts that got a response.",
        Kind::Histogram,
    ),
];
const INFO: usize = 0;
const SENT: usize = 1;
const RETRIES: usize = 2;
const RESENT: usize = 3;
const DROPPED: usize = 4;
const TOTAL: usize = 5;
const IN_FLIGHT: usize = 6;
const LATENESS: usize = 7;
const LATENCY: usize = 8;

/// One target's series (labelled `base`) from its totals and its latency buckets.
fn target_series(f: &mut [Family], base: &[(String, String)], t: &LiveTotals, hist: Option<Value>) {
    let mut push = |i: usize, labels: Vec<(String, String)>, value: Value| {
        f[i].series.push(Series { labels, value });
    };
    for (i, v) in [(SENT, t.started), (RETRIES, t.retries), (RESENT, t.resent), (DROPPED, t.dropped)]
        .into_iter()
        .chain([(IN_FLIGHT, t.in_flight())])
    {
        push(i, base.to_vec(), Value::Number(v as f64));
    }
    push(LATENESS, base.to_vec(), Value::Number(t.last_lateness_max_us as f64 / 1e6));
    // "ok" is always there, so that rates and ratios have a series from the first scrape.
    let mut outcomes = t.outcomes.clone();
    outcomes.entry(Outcome::Ok).or_insert(0);
    for (o, n) in &outcomes {
        let mut labels = base.to_vec();
        labels.push(("outcome".into(), o.key()));
        push(TOTAL, labels, Value::Number(*n as f64));
    }
    let empty = || Value::Histogram { buckets: vec![0; BUCKET_BOUNDS_US.len() + 1], sum: 0.0, exemplars: Vec::new() };
    push(LATENCY, base.to_vec(), hist.unwrap_or_else(empty));
}

struct Entry {
    name: String,
    api: String,
    progress: Arc<Progress>,
}

/// The targets of the run so far, with their live progress, and who this process is.
pub struct Registry {
    shard: Shard,
    profile: String,
    targets: Mutex<Vec<Entry>>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new(Shard::default(), "")
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Registry")
    }
}

impl Registry {
    /// The registry of shard `shard` of a run of profile `profile`.
    pub fn new(shard: Shard, profile: &str) -> Registry {
        Registry { shard, profile: profile.to_string(), targets: Mutex::new(Vec::new()) }
    }

    /// A target starts: `name`, of kind `api` ("cloud", "onprem", "http", "webhook").
    pub fn add(&self, name: &str, api: &str, p: Arc<Progress>) {
        if let Ok(mut t) = self.targets.lock() {
            t.push(Entry { name: name.to_string(), api: api.to_string(), progress: p });
        }
    }

    /// Every family with its samples, in a fixed order.
    pub fn families(&self) -> Vec<Family> {
        let mut f: Vec<Family> =
            FAMILIES.iter().map(|&(name, help, kind)| Family { name, help, kind, series: Vec::new() }).collect();
        let shard = self.shard.index.to_string();
        f[INFO].series.push(Series {
            labels: vec![
                ("shard".into(), shard.clone()),
                ("shards".into(), self.shard.count.to_string()),
                ("profile".into(), self.profile.clone()),
                ("version".into(), env!("CARGO_PKG_VERSION").into()),
            ],
            value: Value::Number(1.0),
        });
        let targets = self.targets.lock();
        for e in targets.iter().flat_map(|t| t.iter()) {
            let base = vec![
                ("shard".to_string(), shard.clone()),
                ("api".into(), e.api.clone()),
                ("target".into(), e.name.clone()),
            ];
            // One lock: the counts, the histogram and its exemplars are of the same seconds.
            let Ok((t, hist)) =
                e.progress.view.lock().map(|v| (v.totals.clone(), v.overall.as_ref().map(|h| latency(h, &v.traced))))
            else {
                continue;
            };
            target_series(&mut f, &base, &t, hist);
        }
        f
    }

    /// The exposition of every family in `format`.
    pub fn render(&self, format: Format) -> String {
        exposition::render(self.families(), format)
    }
}

/// Serve `/metrics` on `addr` from a thread of its own until the process ends; returns the bound address.
pub fn serve(addr: SocketAddr, reg: Arc<Registry>) -> Result<SocketAddr, String> {
    let listener = std::net::TcpListener::bind(addr).map_err(|e| format!("--metrics-listen {addr}: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    std::thread::Builder::new()
        .name("wabench-metrics".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
                loop {
                    let Ok((sock, _)) = listener.accept().await else { continue };
                    let reg = reg.clone();
                    tokio::spawn(async move {
                        let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                            let reg = reg.clone();
                            async move {
                                let accept = req.headers().get(hyper::header::ACCEPT).and_then(|v| v.to_str().ok());
                                let format = Format::from_accept(accept);
                                let (status, body, content_type) = if req.uri().path() == "/metrics" {
                                    (StatusCode::OK, reg.render(format), format.content_type())
                                } else {
                                    (StatusCode::NOT_FOUND, "not found: try /metrics\n".to_string(), "text/plain")
                                };
                                let mut r = Response::new(Full::new(Bytes::from(body)));
                                *r.status_mut() = status;
                                r.headers_mut().insert(
                                    hyper::header::CONTENT_TYPE,
                                    hyper::header::HeaderValue::from_static(content_type),
                                );
                                Ok::<_, Infallible>(r)
                            }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .header_read_timeout(std::time::Duration::from_secs(10))
                            .timer(hyper_util::rt::TokioTimer::new())
                            .serve_connection(TokioIo::new(sock), svc)
                            .await;
                    });
                }
            })
        })
        .map_err(|e| format!("cannot start the metrics thread: {e}"))?;
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn registry_with(values_us: &[u64], outcomes: &[(Outcome, u64)]) -> Registry {
        let p = Arc::new(Progress::default());
        {
            let mut v = p.view.lock().unwrap();
            let mut h = crate::results::histogram();
            for x in values_us {
                h.record(*x).unwrap();
            }
            v.overall = Some(h);
            v.totals.started = outcomes.iter().map(|o| o.1).sum::<u64>() + 2;
            v.totals.outcomes = outcomes.iter().copied().collect();
            v.totals.last_lateness_max_us = 1500;
        }
        let reg = Registry::new(Shard { index: 1, count: 3 }, "p");
        reg.add("cloud \"a\"", "cloud", p);
        reg
    }

    #[test]
    fn renders_histogram_counters_and_gauges_with_shard_api_and_target() {
        let reg =
            registry_with(&[400, 1000, 1001, 250_000, 90_000_000], &[(Outcome::Ok, 4), (Outcome::ApiError(131056), 1)]);
        let text = reg.render(Format::Text);
        let l = r#"shard="1",api="cloud",target="cloud \"a\"""#;
        for line in [
            format!("wabench_request_duration_seconds_bucket{{{l},le=\"0.0005\"}} 1"),
            format!("wabench_request_duration_seconds_bucket{{{l},le=\"0.001\"}} 2"),
            format!("wabench_request_duration_seconds_bucket{{{l},le=\"0.0015\"}} 3"),
            format!("wabench_request_duration_seconds_bucket{{{l},le=\"0.3\"}} 4"),
            format!("wabench_request_duration_seconds_bucket{{{l},le=\"60\"}} 4"),
            format!("wabench_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} 5"),
            format!("wabench_request_duration_seconds_count{{{l}}} 5"),
            format!("wabench_requests_total{{{l},outcome=\"ok\"}} 4"),
            format!("wabench_requests_total{{{l},outcome=\"api_131056\"}} 1"),
            format!("wabench_requests_sent_total{{{l}}} 7"),
            format!("wabench_requests_in_flight{{{l}}} 2"),
            format!("wabench_schedule_lateness_seconds{{{l}}} 0.0015"),
            "# TYPE wabench_request_duration_seconds histogram".to_string(),
            "wabench_run_info{shard=\"1\",shards=\"3\",profile=\"p\",version=".to_string(),
        ] {
            assert!(text.contains(&line), "{line}\n{text}");
        }
        let sum: f64 = text
            .lines()
            .find(|l| l.starts_with("wabench_request_duration_seconds_sum"))
            .and_then(|l| l.rsplit(' ').next())
            .unwrap()
            .parse()
            .unwrap();
        let exact = (400 + 1000 + 1001 + 250_000 + 90_000_000) as f64 / 1e6;
        assert!((sum - exact).abs() / exact < 1e-3, "{sum} vs {exact}");
    }

    #[test]
    fn buckets_of_a_merge_are_the_sum_of_the_buckets() {
        let (mut a, mut b) = (crate::results::histogram(), crate::results::histogram());
        for i in 0..5000u64 {
            a.record(i * 37 % 3_000_000 + 1).unwrap();
            b.record(i * 1009 % 70_000_000 + 1).unwrap();
        }
        let (ba, sa) = buckets(&a);
        let (bb, sb) = buckets(&b);
        let mut m = a.clone();
        m.add(&b).unwrap();
        let (bm, sm) = buckets(&m);
        assert_eq!(bm, ba.iter().zip(&bb).map(|(x, y)| x + y).collect::<Vec<_>>());
        assert!((sm - (sa + sb)).abs() < 1e-6 * sm);
        assert_eq!(*bm.last().unwrap(), 10_000);
        assert!(bm.windows(2).all(|w| w[0] <= w[1]));
    }
}
