//! `run --metrics-push URL`: the registry's series sent with Prometheus remote-write 1.0 (a protobuf
//! `WriteRequest`, snappy-compressed) every interval from a thread of its own, and once more at the end.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Family, Kind, Registry};

/// The environment variable whose value, when set, is sent as `Authorization: Bearer …` with each push.
pub const PUSH_TOKEN_ENV: &str = "WABENCH_METRICS_PUSH_TOKEN";

/// Pushes the registry's series to a Prometheus remote-write endpoint every interval from a thread of
/// its own, and once more when finished (so that a short run's final counts arrive).
pub struct Pusher {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Pusher {
    /// Check `url` and start pushing every `every`.
    pub fn start(url: &str, every: Duration, reg: Arc<Registry>) -> Result<Pusher, String> {
        crate::spec::endpoint::check_http_url(url).map_err(|r| format!("--metrics-push: {r}"))?;
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("--metrics-push {url:?}: {e}"))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(format!(
                "--metrics-push: credentials in the URL are not accepted; put a bearer token in {PUSH_TOKEN_ENV}"
            ));
        }
        if every.is_zero() {
            return Err("--metrics-push-interval: must be more than 0".into());
        }
        let token = std::env::var(PUSH_TOKEN_ENV).ok().filter(|t| !t.is_empty());
        let identity = push_identity();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(every.clamp(Duration::from_secs(1), Duration::from_secs(10)))
            .user_agent(concat!("wabench/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("--metrics-push: cannot build the HTTP client: {e}"))?;
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("wabench-metrics-push".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
                rt.block_on(async move {
                    let mut failing = false;
                    let mut tick = tokio::time::interval(every);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    tick.tick().await;
                    loop {
                        let last = tokio::select! {
                            _ = tick.tick() => false,
                            _ = &mut rx => true,
                        };
                        let sent = match remote_write_body(&reg.families(), &identity, now_ms()) {
                            Ok(body) => push(&client, &parsed, token.as_deref(), body).await,
                            Err(e) => Err(e),
                        };
                        match sent {
                            Ok(()) if failing => {
                                failing = false;
                                eprintln!("wabench: --metrics-push: pushing again");
                            }
                            Ok(()) => {}
                            Err(e) if !failing || last => {
                                failing = true;
                                eprintln!("wabench: --metrics-push: {e}");
                            }
                            Err(_) => {}
                        }
                        if last {
                            return;
                        }
                    }
                })
            })
            .map_err(|e| format!("cannot start the metrics push thread: {e}"))?;
        Ok(Pusher { stop: Some(tx), thread: Some(thread) })
    }

    /// Push the final values and stop.
    pub fn finish(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Pusher {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// The `job` and `instance` labels a scrape would add, for pushed series: "wabench" and the host name
/// (the pod's name on Kubernetes), so that two processes pushing the same shard never write one series.
fn push_identity() -> Vec<(String, String)> {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| format!("pid-{}", std::process::id()));
    vec![("job".into(), "wabench".into()), ("instance".into(), host)]
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

async fn push(client: &reqwest::Client, url: &reqwest::Url, token: Option<&str>, body: Vec<u8>) -> Result<(), String> {
    let mut req = client
        .post(url.clone())
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    // Errors name the host, never the full URL (it may carry a tenant or a key in its query).
    let host = url.host_str().unwrap_or("");
    let r = req.send().await.map_err(|e| format!("{host}: {}", e.without_url()))?;
    let status = r.status();
    if status.is_success() {
        return Ok(());
    }
    let text = r.text().await.unwrap_or_default();
    let text: String = text.chars().take(200).collect();
    Err(format!("{host} answered {status}: {}", text.trim()))
}

/// The messages of remote-write 1.0 that wabench sends (`prometheus.WriteRequest` of Prometheus'
/// `prompb/remote.proto` and `types.proto`), with their field numbers.
mod prompb {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WriteRequest {
        #[prost(message, repeated, tag = "1")]
        pub timeseries: Vec<TimeSeries>,
        #[prost(message, repeated, tag = "3")]
        pub metadata: Vec<MetricMetadata>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TimeSeries {
        /// Sorted by name, `__name__` among them.
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<Label>,
        #[prost(message, repeated, tag = "2")]
        pub samples: Vec<Sample>,
        #[prost(message, repeated, tag = "3")]
        pub exemplars: Vec<Exemplar>,
    }

    /// A traced request beside a histogram bucket's sample (kept by a receiver with exemplar storage).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Exemplar {
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<Label>,
        #[prost(double, tag = "2")]
        pub value: f64,
        /// Milliseconds since the epoch.
        #[prost(int64, tag = "3")]
        pub timestamp: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Label {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub value: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        #[prost(double, tag = "1")]
        pub value: f64,
        /// Milliseconds since the epoch.
        #[prost(int64, tag = "2")]
        pub timestamp: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct MetricMetadata {
        #[prost(enumeration = "MetricType", tag = "1")]
        pub r#type: i32,
        #[prost(string, tag = "2")]
        pub metric_family_name: String,
        #[prost(string, tag = "4")]
        pub help: String,
        #[prost(string, tag = "5")]
        pub unit: String,
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum MetricType {
        Unknown = 0,
        Counter = 1,
        Gauge = 2,
        Histogram = 3,
        Gaugehistogram = 4,
        Summary = 5,
        Info = 6,
        Stateset = 7,
    }
}

/// The remote-write 1.0 request of `families`: one sample per series at `ts_ms`, each series also
/// labelled `extra`, and the families' metadata.
fn write_request(families: &[Family], extra: &[(String, String)], ts_ms: i64) -> prompb::WriteRequest {
    let timeseries = families
        .iter()
        .flat_map(Family::samples)
        .map(|s| {
            let mut labels: Vec<prompb::Label> = std::iter::once(("__name__", s.name.as_str()))
                .chain(s.labels.iter().chain(extra).map(|(k, v)| (k.as_str(), v.as_str())))
                .map(|(name, value)| prompb::Label { name: name.into(), value: value.into() })
                .collect();
            labels.sort_by(|a, b| a.name.cmp(&b.name));
            let exemplars = s
                .exemplar
                .iter()
                .map(|e| prompb::Exemplar {
                    labels: vec![prompb::Label { name: "trace_id".into(), value: e.trace_id.clone() }],
                    value: e.seconds,
                    timestamp: (e.at * 1000.0).round() as i64,
                })
                .collect();
            prompb::TimeSeries { labels, samples: vec![prompb::Sample { value: s.value, timestamp: ts_ms }], exemplars }
        })
        .collect();
    let metadata = families
        .iter()
        .map(|f| prompb::MetricMetadata {
            r#type: match f.kind {
                Kind::Counter => prompb::MetricType::Counter,
                Kind::Gauge => prompb::MetricType::Gauge,
                Kind::Histogram => prompb::MetricType::Histogram,
                Kind::Info => prompb::MetricType::Info,
            } as i32,
            metric_family_name: f.name.into(),
            help: f.help.into(),
            unit: String::new(),
        })
        .collect();
    prompb::WriteRequest { timeseries, metadata }
}

/// A remote-write 1.0 body: the [`write_request`] of `families` in protobuf, compressed with snappy's
/// block format, as the protocol asks.
pub fn remote_write_body(families: &[Family], extra: &[(String, String)], ts_ms: i64) -> Result<Vec<u8>, String> {
    use prost::Message as _;
    let raw = write_request(families, extra, ts_ms).encode_to_vec();
    snap::raw::Encoder::new().compress_vec(&raw).map_err(|e| format!("cannot compress the push: {e}"))
}

#[cfg(test)]
mod tests {
    use super::super::tests::registry_with;
    use super::*;
    use crate::engine::metrics::Outcome;
    use prost::Message as _;

    #[test]
    fn remote_write_body_is_snappy_compressed_protobuf() {
        let families = registry_with(&[1000], &[(Outcome::Ok, 1)]).families();
        let extra = [("job".to_string(), "wabench".to_string())];
        let body = remote_write_body(&families, &extra, 42).unwrap();
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        assert!(body.len() * 3 < raw.len(), "the repeated label sets shrink: {} of {}", body.len(), raw.len());
        let req = prompb::WriteRequest::decode(raw.as_slice()).unwrap();
        assert_eq!(req, write_request(&families, &extra, 42));
        let series: usize = families.iter().map(|f| f.samples().len()).sum();
        assert_eq!(req.timeseries.len(), series);
        for ts in &req.timeseries {
            assert!(ts.labels.windows(2).all(|w| w[0].name < w[1].name), "sorted by name: {ts:?}");
            assert_eq!(ts.labels[0].name, "__name__");
            assert!(ts.labels.iter().any(|l| l.name == "job" && l.value == "wabench"));
            assert_eq!(ts.samples, [prompb::Sample { value: ts.samples[0].value, timestamp: 42 }]);
        }
        let info = &req.timeseries[0];
        assert_eq!(info.labels[0].value, "wabench_run_info");
        assert_eq!(info.samples[0].value, 1.0);
        let kinds: Vec<(&str, i32)> = req.metadata.iter().map(|m| (m.metric_family_name.as_str(), m.r#type)).collect();
        assert!(kinds.contains(&("wabench_request_duration_seconds", prompb::MetricType::Histogram as i32)));
        assert!(kinds.contains(&("wabench_requests_total", prompb::MetricType::Counter as i32)));
    }
}
