//! `GET /metrics`: the families encoded by the official Prometheus client library (`prometheus-client`)
//! in the format the scraper asks for: OpenMetrics 1.0 when its `Accept` header names it (as
//! Prometheus' does), the Prometheus text format 0.0.4 otherwise.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

use super::{BUCKET_BOUNDS_US, BucketExemplar, Family, Kind, Value};

/// An exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format, version 0.0.4.
    Text,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    /// The format a request's `Accept` header asks for.
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.to_ascii_lowercase().contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text,
        }
    }

    /// The `Content-Type` of an answer in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The families of one scrape, encoded in `format`.
pub fn render(families: Vec<Family>, format: Format) -> String {
    let marks = match format {
        Format::OpenMetrics => exemplars_of(&families),
        Format::Text => Vec::new(),
    };
    let mut registry = prometheus_client::registry::Registry::default();
    registry.register_collector(Box::new(Snapshot(families)));
    let mut out = String::new();
    let encoded = match format {
        Format::Text => prometheus_client::encoding::prometheus_text::encode(&mut out, &registry),
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &registry),
    };
    // Writing into a String fails only if an encoder refuses a value, which these families do not hold.
    if encoded.is_err() {
        out.clear();
    }
    if marks.is_empty() { out } else { with_exemplars(&out, &marks) }
}

/// The exemplars of each histogram family's series, in the order they are encoded.
type Marks = Vec<(&'static str, Vec<Vec<BucketExemplar>>)>;

fn exemplars_of(families: &[Family]) -> Marks {
    let of_family = |f: &Family| -> Vec<Vec<BucketExemplar>> {
        f.series
            .iter()
            .map(|s| match &s.value {
                Value::Histogram { exemplars, .. } => exemplars.clone(),
                Value::Number(_) => Vec::new(),
            })
            .collect()
    };
    families
        .iter()
        .filter(|f| f.kind == Kind::Histogram)
        .map(|f| (f.name, of_family(f)))
        .filter(|(_, series)| series.iter().any(|e| !e.is_empty()))
        .collect()
}

/// `text` (OpenMetrics) with each exemplar after its bucket's sample, as `# {trace_id="…"} value
/// timestamp`. prometheus-client 0.26 writes exemplars only of the histograms it counts itself, one
/// observation at a time (its `Exemplar` has no public constructor), and these histograms are merged
/// from HDR seconds: so the library writes the samples and this adds the exemplars. Every series of a
/// histogram family has one `_bucket` line per bound in bound order, so the k-th line of a family is
/// bucket k mod (bounds + 1) of its series k div (bounds + 1).
fn with_exemplars(text: &str, marks: &Marks) -> String {
    let per_series = BUCKET_BOUNDS_US.len() + 1;
    let mut seen: Vec<usize> = vec![0; marks.len()];
    let mut out = String::with_capacity(text.len() + 96 * marks.len());
    for line in text.split_inclusive('\n') {
        let family = marks.iter().position(|(name, _)| {
            line.strip_prefix(name).is_some_and(|rest| rest.starts_with("_bucket{") || rest.starts_with("_bucket "))
        });
        let Some(fi) = family else {
            out.push_str(line);
            continue;
        };
        let k = seen[fi];
        seen[fi] += 1;
        let found = marks[fi].1.get(k / per_series).and_then(|s| s.iter().find(|e| e.bucket == k % per_series));
        match found {
            Some(e) => {
                out.push_str(line.trim_end_matches('\n'));
                out.push_str(&format!(" # {{trace_id=\"{}\"}} {} {:.3}\n", e.trace_id, e.seconds, e.at));
            }
            None => out.push_str(line),
        }
    }
    out
}

/// One scrape's families, handed to the client library as a collector.
#[derive(Debug)]
struct Snapshot(Vec<Family>);

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        for f in &self.0 {
            // The library adds the `_total` of a counter and the `_info` of an info to the samples.
            let (name, ty) = match f.kind {
                Kind::Counter => (f.name.strip_suffix("_total").unwrap_or(f.name), MetricType::Counter),
                Kind::Gauge => (f.name, MetricType::Gauge),
                Kind::Histogram => (f.name, MetricType::Histogram),
                Kind::Info => (f.name.strip_suffix("_info").unwrap_or(f.name), MetricType::Info),
            };
            let mut metric = encoder.encode_descriptor(name, f.help, None, ty)?;
            for s in &f.series {
                if f.kind == Kind::Info {
                    metric.encode_info(&s.labels)?;
                    continue;
                }
                let mut series = metric.encode_family(&s.labels)?;
                encode_value(&mut series, f.kind, &s.value)?;
            }
        }
        Ok(())
    }
}

fn encode_value(m: &mut MetricEncoder, kind: Kind, value: &Value) -> std::fmt::Result {
    match (kind, value) {
        (Kind::Histogram, Value::Histogram { buckets, sum, .. }) => {
            // The library takes each bucket's own count and adds them up.
            let mut below = 0;
            let own: Vec<(f64, u64)> = buckets
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let bound = BUCKET_BOUNDS_US.get(i).map_or(f64::INFINITY, |us| *us as f64 / 1e6);
                    let n = c.saturating_sub(below);
                    below = *c;
                    (bound, n)
                })
                .collect();
            m.encode_histogram::<NoLabelSet>(*sum, below, &own, None)
        }
        (Kind::Counter, Value::Number(v)) => match whole(*v) {
            Some(n) => m.encode_counter::<NoLabelSet, _, u64>(&n, None),
            None => m.encode_counter::<NoLabelSet, _, f64>(v, None),
        },
        (_, Value::Number(v)) => match whole(*v) {
            Some(n) => m.encode_gauge(&n),
            None => m.encode_gauge(v),
        },
        (_, Value::Histogram { .. }) => Err(std::fmt::Error),
    }
}

/// `v` as a whole number when it is one (counts are shown as `7`, not `7.0`).
fn whole(v: f64) -> Option<u64> {
    (v >= 0.0 && v.fract() == 0.0 && v < 9.0e15).then_some(v as u64)
}

#[cfg(test)]
mod tests {
    use super::super::tests::registry_with;
    use super::super::{Registry, Shard};
    use super::*;
    use crate::engine::metrics::Outcome;
    use std::sync::Arc;

    #[test]
    fn openmetrics_only_when_the_scraper_asks_for_it() {
        let prometheus = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.1";
        assert_eq!(Format::from_accept(Some(prometheus)), Format::OpenMetrics);
        for a in [None, Some("*/*"), Some("text/plain; version=0.0.4")] {
            assert_eq!(Format::from_accept(a), Format::Text, "{a:?}");
        }
        assert!(Format::Text.content_type().starts_with("text/plain; version=0.0.4"));
    }

    #[test]
    fn both_formats_show_the_same_samples() {
        let reg = registry_with(&[400, 1000, 2_000_000], &[(Outcome::Ok, 3)]);
        let (text, om) = (reg.render(Format::Text), reg.render(Format::OpenMetrics));
        let l = r#"shard="1",api="cloud",target="cloud \"a\"""#;
        // Families as each format names them: a counter's and an info's TYPE with and without suffix.
        for (doc, lines) in [
            (&text, ["# TYPE wabench_requests_total counter", "# TYPE wabench_run_info gauge", "le=\"60\"}"]),
            (&om, ["# TYPE wabench_requests counter", "# TYPE wabench_run info", "{le=\"60.0\","]),
        ] {
            for line in lines {
                assert!(doc.contains(line), "{line}\n{doc}");
            }
            for sample in [
                format!("wabench_requests_total{{{l},outcome=\"ok\"}} 3\n"),
                format!("wabench_request_duration_seconds_count{{{l}}} 3\n"),
                format!("wabench_schedule_lateness_seconds{{{l}}} 0.0015\n"),
                "wabench_run_info{shard=\"1\",shards=\"3\",profile=\"p\",version=".to_string(),
            ] {
                assert!(doc.contains(&sample), "{sample}\n{doc}");
            }
        }
        assert!(om.ends_with("# EOF\n") && !text.contains("# EOF"));
    }

    #[test]
    fn openmetrics_shows_the_latest_answered_traced_request_of_a_bucket_as_its_exemplar() {
        use crate::results::exemplars::Exemplar;
        let p = Arc::new(crate::engine::executor::Progress::default());
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let ex = |seq: u64, latency_us: u64, http_status: Option<u16>| Exemplar {
            second: 0,
            intended_at: at,
            trace_id: format!("{seq:032x}"),
            seq,
            attempt: 1,
            latency_us,
            outcome: "ok".into(),
            http_status,
            wamid: None,
        };
        {
            let mut v = p.view.lock().unwrap();
            let mut h = crate::results::histogram();
            for x in [250_000, 260_000, 900] {
                h.record(x).unwrap();
            }
            v.overall = Some(h);
            // Two in the 0.3 s bucket (the later is shown), one in 1 ms, and a timeout (no answer).
            v.traced.extend([ex(1, 250_000, Some(200)), ex(2, 260_000, Some(200)), ex(3, 900, Some(200))]);
            v.traced.push_back(ex(4, 5_000_000, None));
        }
        let reg = Registry::new(Shard::default(), "p");
        reg.add("t", "http", p);
        let om = reg.render(Format::OpenMetrics);
        let l = r#"shard="0",api="http",target="t""#;
        for line in [
            format!(
                "wabench_request_duration_seconds_bucket{{le=\"0.3\",{l}}} 3 # {{trace_id=\"{:032x}\"}} 0.26 1800000000.260\n",
                2
            ),
            format!(
                "wabench_request_duration_seconds_bucket{{le=\"0.001\",{l}}} 1 # {{trace_id=\"{:032x}\"}} 0.0009 1800000000.001\n",
                3
            ),
            format!("wabench_request_duration_seconds_bucket{{le=\"5.0\",{l}}} 3\n"),
        ] {
            assert!(om.contains(&line), "{line}\n{om}");
        }
        assert_eq!(om.matches(" # {").count(), 2, "{om}");
        assert!(!reg.render(Format::Text).contains(" # {"), "no exemplars in the text format");
    }
}
