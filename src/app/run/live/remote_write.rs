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
                        let body = remote_write_body(&reg.families(), &identity, now_ms());
                        match push(&client, &parsed, token.as_deref(), body).await {
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

/// A remote-write 1.0 request: `prometheus.WriteRequest` (protobuf) with one sample per series at
/// `ts_ms`, each series also labelled `extra`, and the families' metadata, snappy-compressed (block
/// format).
pub fn remote_write_body(families: &[Family], extra: &[(String, String)], ts_ms: i64) -> Vec<u8> {
    let mut w = Vec::new();
    for f in families {
        for s in &f.samples {
            // TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; }, labels sorted by name.
            let mut labels: Vec<(&str, &str)> = vec![("__name__", s.name.as_str())];
            labels.extend(s.labels.iter().chain(extra).map(|(k, v)| (k.as_str(), v.as_str())));
            labels.sort();
            let mut ts = Vec::new();
            for (k, v) in labels {
                let mut l = Vec::new();
                pb_bytes(&mut l, 1, k.as_bytes());
                pb_bytes(&mut l, 2, v.as_bytes());
                pb_bytes(&mut ts, 1, &l);
            }
            let mut sample = Vec::new();
            pb_key(&mut sample, 1, 1);
            sample.extend_from_slice(&s.value.to_le_bytes());
            pb_key(&mut sample, 2, 0);
            pb_varint(&mut sample, ts_ms as u64);
            pb_bytes(&mut ts, 2, &sample);
            pb_bytes(&mut w, 1, &ts);
        }
    }
    for f in families {
        // MetricMetadata { MetricType type = 1; string metric_family_name = 2; string help = 4; }
        let kind = match f.kind {
            Kind::Counter => 1,
            Kind::Gauge => 2,
            Kind::Histogram => 3,
        };
        let mut m = Vec::new();
        pb_key(&mut m, 1, 0);
        pb_varint(&mut m, kind);
        pb_bytes(&mut m, 2, f.name.as_bytes());
        pb_bytes(&mut m, 4, f.help.as_bytes());
        pb_bytes(&mut w, 3, &m);
    }
    snappy(&w)
}

fn pb_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn pb_key(out: &mut Vec<u8>, field: u64, wire: u64) {
    pb_varint(out, (field << 3) | wire);
}

fn pb_bytes(out: &mut Vec<u8>, field: u64, b: &[u8]) {
    pb_key(out, field, 2);
    pb_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// `data` in the snappy block format (<https://github.com/google/snappy/blob/main/format_description.txt>):
/// the uncompressed length, then literals and 2-byte-offset copies found by a greedy 4-byte hash match.
/// The label sets of the series repeat, so a push shrinks several times.
fn snappy(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 2 + 16);
    pb_varint(&mut out, data.len() as u64);
    let mut table = vec![usize::MAX; 1 << 14];
    let (mut i, mut lit) = (0, 0);
    while i + 4 <= data.len() {
        let key = u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
        let h = (key.wrapping_mul(0x1e35_a7bd) >> 18) as usize;
        let cand = std::mem::replace(&mut table[h], i);
        if cand == usize::MAX || i - cand > 65_535 || data[cand..cand + 4] != data[i..i + 4] {
            i += 1;
            continue;
        }
        let mut len = 4;
        while i + len < data.len() && data[cand + len] == data[i + len] {
            len += 1;
        }
        snappy_literal(&mut out, &data[lit..i]);
        let offset = ((i - cand) as u16).to_le_bytes();
        let mut left = len;
        while left > 0 {
            // A copy with a 2-byte offset: tag 0b10, length 1..=64.
            let n = left.min(64);
            out.push((((n - 1) as u8) << 2) | 2);
            out.extend_from_slice(&offset);
            left -= n;
        }
        i += len;
        lit = i;
    }
    snappy_literal(&mut out, &data[lit..]);
    out
}

fn snappy_literal(out: &mut Vec<u8>, data: &[u8]) {
    for chunk in data.chunks(65_536) {
        let n = chunk.len() - 1;
        if n < 60 {
            out.push((n as u8) << 2);
        } else if n < 256 {
            out.push(60 << 2);
            out.push(n as u8);
        } else {
            out.push(61 << 2);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        out.extend_from_slice(chunk);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::registry_with;
    use super::*;
    use crate::engine::metrics::Outcome;

    /// A snappy block decoder for the two element kinds `snappy` writes.
    fn unsnappy(b: &[u8]) -> Vec<u8> {
        let (mut len, mut shift, mut i) = (0usize, 0, 0);
        loop {
            let x = b[i];
            i += 1;
            len |= usize::from(x & 0x7f) << shift;
            shift += 7;
            if x < 0x80 {
                break;
            }
        }
        let mut out = Vec::new();
        while i < b.len() {
            let tag = b[i];
            i += 1;
            if tag & 3 == 2 {
                let off = usize::from(u16::from_le_bytes([b[i], b[i + 1]]));
                i += 2;
                for _ in 0..=usize::from(tag >> 2) {
                    out.push(out[out.len() - off]);
                }
                continue;
            }
            assert_eq!(tag & 3, 0);
            let mut n = usize::from(tag >> 2);
            if n >= 60 {
                let k = n - 59;
                n = b[i..i + k].iter().rev().fold(0, |a, x| (a << 8) | usize::from(*x));
                i += k;
            }
            out.extend_from_slice(&b[i..=i + n]);
            i += n + 1;
        }
        assert_eq!(out.len(), len);
        out
    }

    #[test]
    fn snappy_round_trips_and_compresses_repeats() {
        let mut data: Vec<u8> =
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec();
        for i in 0..20_000u32 {
            data.extend_from_slice(format!("series{{shard=\"{}\",le=\"{}\"}}", i % 3, i % 31).as_bytes());
            data.extend_from_slice(&i.wrapping_mul(2_654_435_761).to_le_bytes());
        }
        let cases: [&[u8]; 4] = [b"", b"abc", b"abcdabcdabcdabcdX", &data];
        for d in cases {
            let c = snappy(d);
            assert_eq!(unsnappy(&c), d);
        }
        assert!(snappy(&data).len() < data.len() / 2);
    }

    #[test]
    fn remote_write_body_is_snappy_compressed_protobuf() {
        let families = registry_with(&[1000], &[(Outcome::Ok, 1)]).families();
        let body = remote_write_body(&families, &[("job".into(), "wabench".into())], 42);
        let raw = unsnappy(&body);
        assert!(body.len() * 3 < raw.len(), "{} of {}", body.len(), raw.len());
        // WriteRequest field 1 (a TimeSeries), whose first label is __name__ = wabench_run_info.
        assert_eq!(raw[0], (1 << 3) | 2);
        let pos = raw.windows(16).position(|w| w == b"wabench_run_info").unwrap();
        assert!(raw[..pos].windows(8).any(|w| w == b"__name__"));
        let series: usize = families.iter().map(|f| f.samples.len()).sum();
        assert_eq!(raw.windows(8).filter(|w| *w == b"__name__").count(), series);
        // Label { name = "job", value = "wabench" } in every series.
        let job = b"\x0a\x03job\x12\x07wabench";
        assert_eq!(raw.windows(job.len()).filter(|w| w == job).count(), series);
    }
}
