//! The live metrics of a run: `/metrics` is valid Prometheus text and OpenMetrics (as the Prometheus
//! client's Python parsers read them), whose histograms are cumulative and agree with the run's results, two shards' buckets add up to the merged histogram's,
//! `--metrics-push` sends the same series with remote-write (decoded by third-party snappy and protobuf
//! readers), and the Grafana dashboard only queries series the exporter emits.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};

use wabench::app::run::live::{self, Registry};
use wabench::app::run::{Options, run_profile};
use wabench::results::{Shard, hlog};

/// Cloud target on the embedded simulator, down for its first 300 ms: code 2 answers (api_2), retried
/// after 200 ms, then ok.
const PROFILE: &str = "name = \"live\"\n[load]\nrate = 40\nduration = \"1s\"\nconnections = 4\ndrain = \"2s\"\n[retry]\nmax_attempts = 3\nbackoff = \"50ms\"\nunavailable_wait = \"200ms\"\n[simulator.latency]\ndistribution = \"constant\"\nmedian = \"1ms\"\n[[simulator.downtime]]\nstart = \"0s\"\nduration = \"300ms\"\n[[targets]]\nname = \"t\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n";

type Labels = BTreeMap<String, String>;

/// One histogram of a scrape: (le, cumulative count) per bucket, `_sum`, `_count`.
type Hist = (Vec<(f64, f64)>, f64, f64);

/// A parsed exposition: the declared type of each family and every sample.
#[derive(Debug, Default)]
struct Exposition {
    types: BTreeMap<String, String>,
    samples: Vec<(String, Labels, f64)>,
}

impl Exposition {
    fn get(&self, name: &str, want: &[(&str, &str)]) -> Vec<(&Labels, f64)> {
        self.samples
            .iter()
            .filter(|(n, l, _)| n == name && want.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
            .map(|(_, l, v)| (l, *v))
            .collect()
    }

    fn one(&self, name: &str, want: &[(&str, &str)]) -> f64 {
        let v = self.get(name, want);
        assert_eq!(v.len(), 1, "{name} {want:?}: {v:?}");
        v[0].1
    }

    fn names(&self) -> BTreeSet<String> {
        self.samples.iter().map(|s| s.0.clone()).collect()
    }

    /// One format's part of what the Python client parsed, with no series twice.
    fn from_parsed(doc: &serde_json::Value) -> Exposition {
        let types = doc["types"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().into()));
        let mut samples = Vec::new();
        let mut seen = BTreeSet::new();
        for s in doc["samples"].as_array().unwrap() {
            let name = s[0].as_str().unwrap().to_string();
            let labels: Labels =
                s[1].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().into())).collect();
            assert!(seen.insert((name.clone(), labels.clone())), "a series twice: {name} {labels:?}");
            samples.push((name, labels, s[2].as_f64().unwrap()));
        }
        Exposition { types: types.collect(), samples }
    }

    /// The samples with `le` read as a number (the formats spell a bound differently: `1` and `1.0`).
    fn normalized(&self) -> BTreeMap<(String, Vec<(String, String)>), f64> {
        let le = |v: &str| v.parse::<f64>().map_or(v.to_string(), |f| f.to_string());
        self.samples
            .iter()
            .map(|(n, l, v)| {
                let l = l.iter().map(|(k, x)| (k.clone(), if k == "le" { le(x) } else { x.clone() })).collect();
                ((n.clone(), l), *v)
            })
            .collect()
    }
}

fn is_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

/// The histograms of `family` in `e`, by label set without `le`: (buckets by le, sum, count). Checks
/// that they are well formed: bounds ascending, counts cumulative, `+Inf` last and equal to `_count`.
fn histograms(e: &Exposition, family: &str) -> BTreeMap<Labels, Hist> {
    assert_eq!(e.types.get(family).map(String::as_str), Some("histogram"));
    let mut out: BTreeMap<Labels, Hist> = BTreeMap::new();
    for (n, l, v) in &e.samples {
        let suffix = match n.strip_prefix(family) {
            Some(x @ ("_bucket" | "_sum" | "_count")) => x,
            _ => continue,
        };
        let mut base = l.clone();
        let le = base.remove("le");
        let entry = out.entry(base).or_insert((Vec::new(), f64::NAN, f64::NAN));
        match suffix {
            "_bucket" => entry.0.push((le.expect("bucket has le").parse().unwrap(), *v)),
            "_sum" => entry.1 = *v,
            _ => entry.2 = *v,
        }
    }
    for (l, (b, sum, count)) in &out {
        assert!(b.windows(2).all(|w| w[0].0 < w[1].0), "{l:?}: le ascending");
        assert!(b.windows(2).all(|w| w[0].1 <= w[1].1), "{l:?}: cumulative");
        assert_eq!(b.last().unwrap().0, f64::INFINITY, "{l:?}: +Inf last");
        assert_eq!(b.last().unwrap().1, *count, "{l:?}: +Inf = _count");
        assert!(*sum >= 0.0, "{l:?}: _sum");
    }
    out
}

fn http_get(addr: SocketAddr, path: &str, accept: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n").unwrap();
    let mut r = String::new();
    s.read_to_string(&mut r).unwrap();
    let (head, body) = r.split_once("\r\n\r\n").unwrap();
    (head.to_string(), body.to_string())
}

/// The Accept header Prometheus scrapes with: OpenMetrics first, the text format as a fallback.
const PROMETHEUS_ACCEPT: &str =
    "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.1";

/// Run PROFILE as shard `shard` in-process with a metrics endpoint on loopback; scrape it after the run
/// in the text format and in OpenMetrics, and parse both with the Prometheus client's Python parsers
/// (`None` when they are not installed). The two scrapes hold the same samples.
fn run_and_scrape(dir: &std::path::Path, shard: Shard, profile: &str) -> Option<Scraped> {
    let path = dir.join("p.toml");
    std::fs::write(&path, profile).unwrap();
    let loaded = wabench::spec::load(&path).unwrap();
    let reg = Arc::new(Registry::new(shard, "live"));
    let at = live::serve("127.0.0.1:0".parse().unwrap(), reg.clone()).unwrap();
    let out = dir.join(format!("shard{}", shard.index));
    let rx = wabench::Shutdown::new();
    let opts = Options { out: Some(out.clone()), shard, live: Some(reg), ..Options::new(dir) };
    let f = run_profile(&loaded, &opts, rx).unwrap();
    assert!(f.error.is_none(), "{:?}", f.error);
    let (head, text) = http_get(at, "/metrics", "*/*");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.to_ascii_lowercase().contains("content-type: text/plain; version=0.0.4"), "{head}");
    let (head, openmetrics) = http_get(at, "/metrics", PROMETHEUS_ACCEPT);
    assert!(head.to_ascii_lowercase().contains("content-type: application/openmetrics-text; version=1.0.0"), "{head}");
    let parsed = crate::support::python::exposition(&text, &openmetrics)?;
    let e = Exposition::from_parsed(&parsed["text"]);
    let om = Exposition::from_parsed(&parsed["openmetrics"]);
    assert_eq!(e.normalized(), om.normalized(), "the same samples in both formats");
    assert_eq!(om.types.get("wabench_run").map(String::as_str), Some("info"), "{:?}", om.types);
    Some(Scraped { exposition: e, run: f.run, out, exemplars: parsed["exemplars"].as_array().unwrap().clone() })
}

/// A run scraped after its end: the samples, the results, their folder and OpenMetrics' exemplars.
struct Scraped {
    exposition: Exposition,
    run: wabench::results::Run,
    out: std::path::PathBuf,
    exemplars: Vec<serde_json::Value>,
}

#[test]
fn metrics_parse_agree_with_the_results_and_two_shards_buckets_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut shard_buckets: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut parts = Vec::new();
    for i in 0..2 {
        let Some(Scraped { exposition: e, run, out, exemplars }) =
            run_and_scrape(dir.path(), Shard { index: i, count: 2 }, PROFILE)
        else {
            return;
        };
        assert!(exemplars.is_empty(), "nothing traced, no exemplar: {exemplars:?}");
        let t = &run.targets[0];
        let s = i.to_string();
        let me = [("shard", s.as_str()), ("api", "cloud"), ("target", "t")];
        assert_eq!(e.one("wabench_requests_sent_total", &me), t.requests.sent as f64);
        assert_eq!(e.one("wabench_retries_total", &me), t.requests.retries as f64);
        assert_eq!(e.one("wabench_requests_dropped_total", &me), t.requests.dropped as f64);
        assert_eq!(e.one("wabench_requests_in_flight", &me), 0.0, "the run is over");
        assert!(e.one("wabench_schedule_lateness_seconds", &me) >= 0.0);
        // Per outcome: the results' counts, each API error code its own series.
        let outcomes: BTreeMap<String, f64> =
            e.get("wabench_requests_total", &me).into_iter().map(|(l, v)| (l["outcome"].clone(), v)).collect();
        let expected: BTreeMap<String, f64> =
            t.outcomes.iter().filter(|o| o.key != "dropped").map(|o| (o.key.clone(), o.count as f64)).collect();
        assert_eq!(outcomes, expected);
        assert!(outcomes.get("api_2").is_some_and(|n| *n > 0.0), "the downtime's code 2: {outcomes:?}");
        // The histogram: cumulative, and its count is the attempts that got a response.
        let h = histograms(&e, "wabench_request_duration_seconds");
        assert_eq!(h.len(), 1);
        let (buckets, sum, count) = h.values().next().unwrap().clone();
        assert_eq!(buckets.len(), live::BUCKET_BOUNDS_US.len() + 1);
        assert_eq!(count, t.latency_us.count as f64);
        assert_eq!(count, outcomes["ok"] + outcomes["api_2"]);
        let mean = sum / count * 1e6;
        assert!((mean - t.latency_us.mean).abs() <= t.latency_us.mean * 0.01 + 1.0, "{mean} vs {}", t.latency_us.mean);
        let info = e.get("wabench_run_info", &[("shard", &s), ("shards", "2"), ("profile", "live")]);
        assert_eq!(info.len(), 1);
        shard_buckets.push(buckets);
        parts.push(out);
    }
    // sum by (le) across the shards = the buckets of the shards' histograms merged exactly.
    let mut merged = wabench::results::histogram();
    for p in &parts {
        for e in hlog::read(&p.join("t.totals.hlog")).unwrap().entries {
            if e.tag.as_deref() == Some("latency") {
                merged.add(&e.histogram).unwrap();
            }
        }
    }
    let (want, _) = live::buckets(&merged);
    let summed: Vec<f64> = shard_buckets[0]
        .iter()
        .zip(&shard_buckets[1])
        .map(|(a, b)| {
            assert_eq!(a.0, b.0, "same bounds on every shard");
            a.1 + b.1
        })
        .collect();
    assert_eq!(summed, want.iter().map(|c| *c as f64).collect::<Vec<_>>());
    assert_eq!(*want.last().unwrap(), merged.len());
    // Each bucket holds what its bound says, to the histogram's resolution.
    for (i, b) in live::BUCKET_BOUNDS_US.iter().enumerate() {
        let below = merged.count_between(0, merged.lowest_equivalent(*b).saturating_sub(1));
        let upto = merged.count_between(0, merged.highest_equivalent(*b));
        assert!(below <= want[i] && want[i] <= upto, "le {b} µs: {below} <= {} <= {upto}", want[i]);
    }
}

#[test]
fn traced_requests_are_exemplars_of_the_buckets_that_count_them() {
    let dir = tempfile::tempdir().unwrap();
    // Latencies spread over several buckets; every other message traced.
    let profile = PROFILE
        .replace(
            "distribution = \"constant\"\nmedian = \"1ms\"",
            "distribution = \"lognormal\"\nmedian = \"4ms\"\np99 = \"80ms\"",
        )
        .replace("duration = \"1s\"", "duration = \"3s\"")
        + "[tracing]\nsample = 0.5\n";
    let Some(s) = run_and_scrape(dir.path(), Shard::default(), &profile) else { return };
    let file = std::fs::read_to_string(s.out.join("t.exemplars.csv")).unwrap();
    assert!(!s.out.join("t.exemplars.csv.partial").exists(), "the file has its name");
    // The slowest traced requests the run kept, in the file's order (by second, slowest first):
    // trace id -> latency (µs), and the latest of each bucket among those answered.
    let bounds: Vec<f64> = live::BUCKET_BOUNDS_US.iter().map(|b| *b as f64 / 1e6).chain([f64::INFINITY]).collect();
    let mut kept: BTreeMap<String, u64> = BTreeMap::new();
    let mut latest: BTreeMap<usize, String> = BTreeMap::new();
    for l in file.lines().skip(1) {
        let c: Vec<&str> = l.split(',').collect();
        let latency: u64 = c[5].parse().unwrap();
        kept.insert(c[2].to_string(), latency);
        if !c[7].is_empty() {
            latest.insert(bounds.iter().position(|b| latency as f64 / 1e6 <= *b).unwrap(), c[2].to_string());
        }
    }
    let run = &s.run;
    let (start, end) = (run.started_at.timestamp() as f64, run.ended_at.timestamp() as f64 + 1.0);
    let mut shown: BTreeMap<usize, String> = BTreeMap::new();
    for x in &s.exemplars {
        assert_eq!(x[0], "wabench_request_duration_seconds_bucket", "only the latency histogram has exemplars: {x}");
        let le: f64 = x[1]["le"].as_str().unwrap().parse().unwrap();
        let trace_id = x[2]["trace_id"].as_str().unwrap();
        let (value, at) = (x[3].as_f64().unwrap(), x[4].as_f64().unwrap());
        let latency = kept.get(trace_id).unwrap_or_else(|| panic!("{trace_id} is one of the kept: {file}"));
        assert!((value - *latency as f64 / 1e6).abs() < 1e-9, "{x}: its latency");
        assert!(start <= at && at <= end, "{x}: ended during the run ({start}..{end})");
        shown.insert(bounds.iter().position(|b| *b == le).unwrap(), trace_id.to_string());
    }
    assert!(!shown.is_empty(), "exemplars shown");
    assert_eq!(shown, latest, "each bucket shows the latest kept request it counts");
    // The text format has no exemplars: its samples are those of OpenMetrics (checked by run_and_scrape).
    assert!(s.exposition.names().contains("wabench_request_duration_seconds_bucket"));
}

/// Metric names a PromQL expression reads (identifiers that are not functions, aggregations, keywords
/// or grouping labels, with strings, label matchers and ranges removed), and the labels it groups by.
fn promql_names(expr: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    // Drop strings, {…} matchers and […] ranges.
    let mut s = String::new();
    let (mut depth_brace, mut depth_bracket, mut in_str) = (0, 0, false);
    let mut chars = expr.chars();
    while let Some(c) = chars.next() {
        if in_str {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' => depth_brace += 1,
            '}' => depth_brace -= 1,
            '[' => depth_bracket += 1,
            ']' => depth_bracket -= 1,
            _ if depth_brace > 0 || depth_bracket > 0 => {}
            c => s.push(c),
        }
        if matches!(c, '{' | '}' | '[' | ']') {
            s.push(' ');
        }
    }
    let mut tokens: Vec<String> = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '.' || c == '$' {
            cur.push(c);
        } else {
            if !cur.is_empty() {
                tokens.push(std::mem::take(&mut cur));
            }
            if !c.is_whitespace() {
                tokens.push(c.to_string());
            }
        }
    }
    if !cur.is_empty() {
        tokens.push(cur);
    }
    const GROUPING: [&str; 6] = ["by", "without", "on", "ignoring", "group_left", "group_right"];
    const KEYWORDS: [&str; 5] = ["and", "or", "unless", "bool", "offset"];
    let (mut names, mut grouping) = (BTreeSet::new(), BTreeSet::new());
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        let next = tokens.get(i + 1).map(String::as_str);
        if GROUPING.contains(&t.as_str()) {
            // The label list in parentheses.
            if next == Some("(") {
                i += 2;
                while i < tokens.len() && tokens[i] != ")" {
                    if tokens[i] != "," {
                        grouping.insert(tokens[i].clone());
                    }
                    i += 1;
                }
            }
        } else if is_name(t)
            && !t.starts_with('$')
            && !KEYWORDS.contains(&t.as_str())
            // A function or an aggregation: `rate(`, `sum (`, `sum by (…) (`.
            && !matches!(next, Some("(" | "by" | "without"))
        {
            names.insert(t.clone());
        }
        i += 1;
    }
    (names, grouping)
}

#[test]
fn promql_names_are_extracted() {
    let (n, g) = promql_names(
        r#"histogram_quantile(0.99, sum by (le, api) (rate(a_bucket{x=~"$t", o!="b{c}"}[$__rate_interval]))) / on (api) group_left b_total offset 5m + count without (x) (c) + max(d)"#,
    );
    let set = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(n, set(&["a_bucket", "b_total", "c", "d"]));
    assert_eq!(g, set(&["le", "api", "x"]));
}

#[test]
fn dashboard_queries_only_series_the_exporter_emits() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/wabench-live.json");
    let d: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(d["title"].is_string() && d["uid"].is_string() && d["schemaVersion"].as_u64().unwrap() >= 30);
    let vars: Vec<&str> =
        d["templating"]["list"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    for v in ["datasource", "api", "target", "shard"] {
        assert!(vars.contains(&v), "variable {v}: {vars:?}");
    }
    let mut exprs: Vec<String> = Vec::new();
    let mut ids = BTreeSet::new();
    for p in d["panels"].as_array().unwrap() {
        assert!(ids.insert(p["id"].as_u64().unwrap()), "panel ids are unique");
        let g = &p["gridPos"];
        assert!(g["w"].as_u64().unwrap() <= 24 && g["h"].as_u64().unwrap() > 0);
        if p["type"] == "row" {
            continue;
        }
        assert!(p["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert_eq!(p["datasource"]["uid"], "${datasource}");
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{}", p["title"]);
        for t in targets {
            exprs.push(t["expr"].as_str().unwrap().to_string());
        }
    }
    // What it shows: quantiles over buckets summed across shards, errors by code, Cloud vs On-Prem.
    assert!(exprs.iter().any(|e| e.starts_with("histogram_quantile(0.99, sum by (le, api)")));
    assert!(exprs.iter().any(|e| e.starts_with("histogram_quantile(0.5, sum by (le, api, target)")));
    assert!(exprs.iter().any(|e| e.contains("sum by (target, outcome)") && e.contains("outcome!=\"ok\"")));
    assert!(d["panels"].as_array().unwrap().iter().any(|p| p["repeat"] == "api"));

    let dir = tempfile::tempdir().unwrap();
    let Some(Scraped { exposition: e, .. }) = run_and_scrape(dir.path(), Shard::default(), PROFILE) else { return };
    let emitted = e.names();
    let (mut used, mut grouped) = (BTreeSet::new(), BTreeSet::new());
    for x in &exprs {
        let (n, g) = promql_names(x);
        used.extend(n);
        grouped.extend(g);
    }
    for v in d["templating"]["list"].as_array().unwrap() {
        if let Some(q) = v["query"]["query"].as_str() {
            let (inner, label) = q.strip_prefix("label_values(").and_then(|r| r.rsplit_once(',')).unwrap();
            used.extend(promql_names(inner).0);
            grouped.insert(label.trim_end_matches(')').trim().to_string());
        }
    }
    assert!(used.len() >= 8, "{used:?}");
    let missing: Vec<&String> = used.difference(&emitted).collect();
    assert!(missing.is_empty(), "the dashboard queries series /metrics does not have: {missing:?}");
    // And every label the queries group by (and the variables list) is one the exporter sets.
    let labels: BTreeSet<String> = e.samples.iter().flat_map(|s| s.1.keys().cloned()).collect();
    assert!(grouped.len() >= 5, "{grouped:?}");
    let missing: Vec<&String> = grouped.difference(&labels).collect();
    assert!(missing.is_empty(), "the dashboard groups by labels /metrics does not have: {missing:?}");
}

/// A decoded remote-write request: series (labels with __name__) → (value, timestamp ms, exemplars),
/// and the metadata (family → type number).
type Pushed = (BTreeMap<Vec<(String, String)>, (f64, i64, Vec<serde_json::Value>)>, BTreeMap<String, u64>);

/// What the independent decoder made of one push, checked for what remote-write asks of a series: labels
/// sorted by name with `__name__` first, one sample, no series twice.
fn pushed(doc: &serde_json::Value) -> Pushed {
    let (mut series, mut meta) = (BTreeMap::new(), BTreeMap::new());
    for ts in doc["series"].as_array().unwrap() {
        let labels: Vec<(String, String)> = ts[0]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l[0].as_str().unwrap().to_string(), l[1].as_str().unwrap().to_string()))
            .collect();
        let mut sorted = labels.clone();
        sorted.sort();
        assert_eq!(labels, sorted, "labels sorted by name");
        assert_eq!(labels[0].0, "__name__");
        let samples = ts[1].as_array().unwrap();
        assert_eq!(samples.len(), 1, "one sample per series: {labels:?}");
        let sample =
            (samples[0][0].as_f64().unwrap(), samples[0][1].as_i64().unwrap(), ts[2].as_array().unwrap().clone());
        assert!(series.insert(labels, sample).is_none(), "series unique");
    }
    for (name, m) in doc["metadata"].as_object().unwrap() {
        assert!(!m[1].as_str().unwrap().is_empty(), "{name} has its help");
        meta.insert(name.clone(), m[0].as_u64().unwrap());
    }
    (series, meta)
}

#[test]
fn metrics_push_sends_remote_write_to_a_loopback_receiver() {
    type Got = Arc<Mutex<Vec<(BTreeMap<String, String>, Vec<u8>)>>>;
    let got: Got = Arc::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let g = got.clone();
    // A minimal HTTP/1.1 receiver: reads each request (Content-Length bodies), answers 204.
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { continue };
            let g = g.clone();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n");
                    if let Some(h) = head_end {
                        let head = String::from_utf8_lossy(&buf[..h]).to_string();
                        let headers: BTreeMap<String, String> = head
                            .lines()
                            .skip(1)
                            .filter_map(|l| l.split_once(':'))
                            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                            .collect();
                        let n: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
                        if buf.len() >= h + 4 + n {
                            let body = buf[h + 4..h + 4 + n].to_vec();
                            let mut req = headers;
                            req.insert(":request".into(), head.lines().next().unwrap_or("").to_string());
                            g.lock().unwrap().push((req, body));
                            buf.drain(..h + 4 + n);
                            if s.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n").is_err() {
                                return;
                            }
                            continue;
                        }
                    }
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(k) => buf.extend_from_slice(&chunk[..k]),
                    }
                }
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let p = crate::support::common::profile(dir.path(), &format!("{PROFILE}[tracing]\nsample = 0.5\n"));
    let out = dir.path().join("out");
    let url = format!("http://{addr}/api/v1/write");
    let (code, _, err) = crate::support::common::wabench(&[
        "run",
        p.to_str().unwrap(),
        "--quiet",
        "--no-report",
        "--shard",
        "1/2",
        "--out",
        out.to_str().unwrap(),
        "--metrics-push",
        &url,
        "--metrics-push-interval",
        "500ms",
    ]);
    assert_eq!(code, 0, "{err}");
    let run = wabench::results::read_run(&out).unwrap();
    let t = &run.targets[0];
    let pushes = got.lock().unwrap().clone();
    assert!(!pushes.is_empty(), "{err}");
    for (h, _) in &pushes {
        assert_eq!(h[":request"], "POST /api/v1/write HTTP/1.1");
        assert_eq!(h["content-type"], "application/x-protobuf");
        assert_eq!(h["content-encoding"], "snappy");
        assert_eq!(h["x-prometheus-remote-write-version"], "0.1.0");
    }
    // Every push decodes with a third-party snappy and protobuf; the last is sent after the run: it holds
    // the final counts.
    let bodies: Vec<Vec<u8>> = pushes.iter().map(|p| p.1.clone()).collect();
    let Some(decoded) = crate::support::python::remote_write(&bodies) else { return };
    assert_eq!(decoded.as_array().unwrap().len(), pushes.len());
    let (series, meta) = pushed(&decoded[pushes.len() - 1]);
    assert_eq!(meta.get("wabench_request_duration_seconds"), Some(&3), "histogram metadata");
    assert_eq!(meta.get("wabench_requests_total"), Some(&1), "counter metadata");
    assert_eq!(meta.get("wabench_requests_in_flight"), Some(&2), "gauge metadata");
    let find = |name: &str, extra: &[(&str, &str)]| -> f64 {
        let hits: Vec<f64> = series
            .iter()
            .filter(|(l, _)| {
                l.iter().any(|(k, v)| k == "__name__" && v == name)
                    && [("shard", "1"), ("api", "cloud"), ("target", "t")]
                        .iter()
                        .chain(extra)
                        .all(|(k, v)| l.iter().any(|(a, b)| a == k && b == v))
            })
            .map(|(_, v)| v.0)
            .collect();
        assert_eq!(hits.len(), 1, "{name} {extra:?}");
        hits[0]
    };
    assert_eq!(find("wabench_requests_sent_total", &[]), t.requests.sent as f64);
    assert_eq!(find("wabench_retries_total", &[]), t.requests.retries as f64);
    assert_eq!(find("wabench_requests_total", &[("outcome", "ok")]), t.requests.ok as f64);
    assert_eq!(find("wabench_request_duration_seconds_count", &[]), t.latency_us.count as f64);
    assert_eq!(find("wabench_request_duration_seconds_bucket", &[("le", "+Inf")]), t.latency_us.count as f64);
    let mut last = 0.0;
    for i in 0..=live::BUCKET_BOUNDS_US.len() {
        let v = find("wabench_request_duration_seconds_bucket", &[("le", &live::le_label(i))]);
        assert!(v >= last, "cumulative");
        last = v;
    }
    // The same series a scrape has: names and label sets (timestamps are the push time, one per push).
    let names: BTreeSet<&str> =
        series.keys().flat_map(|l| l.iter().filter(|(k, _)| k == "__name__").map(|(_, v)| v.as_str())).collect();
    for n in [
        "wabench_run_info",
        "wabench_requests_dropped_total",
        "wabench_schedule_lateness_seconds",
        "wabench_request_duration_seconds_sum",
    ] {
        assert!(names.contains(n), "{n}: {names:?}");
    }
    // Pushed series carry the job and instance labels a scrape would add.
    for l in series.keys() {
        assert!(l.iter().any(|(k, v)| k == "job" && v == "wabench"), "{l:?}");
        assert!(l.iter().any(|(k, v)| k == "instance" && !v.is_empty()), "{l:?}");
    }
    let ts: BTreeSet<i64> = series.values().map(|v| v.1).collect();
    assert_eq!(ts.len(), 1);
    assert!(*ts.iter().next().unwrap() > 1_600_000_000_000);
    // Traced requests ride on latency buckets only, each one of the slowest the run kept.
    let kept = std::fs::read_to_string(out.join("t.exemplars.csv")).unwrap();
    let mut carried = 0;
    for (l, (_, _, exemplars)) in &series {
        let name = &l.iter().find(|(k, _)| k == "__name__").unwrap().1;
        assert!(exemplars.is_empty() || name == "wabench_request_duration_seconds_bucket", "{name}: {exemplars:?}");
        for e in exemplars {
            let id = e[0]["trace_id"].as_str().unwrap();
            let latency_us = (e[1].as_f64().unwrap() * 1e6).round() as u64;
            assert!(
                kept.lines().any(|r| r.contains(&format!(",{id},")) && r.contains(&format!(",{latency_us},"))),
                "{e}"
            );
            assert!(e[2].as_i64().unwrap() > 1_600_000_000_000, "{e}: milliseconds");
            carried += 1;
        }
    }
    assert!(carried > 0, "exemplars pushed");
}

#[test]
fn metrics_push_refuses_a_bad_url() {
    let dir = tempfile::tempdir().unwrap();
    let p = crate::support::common::profile(dir.path(), PROFILE);
    for (url, why) in [("ftp://x/y", "http:// or https://"), ("http://u:p@127.0.0.1:1/w", "credentials")] {
        let (code, _, err) = crate::support::common::wabench(&["run", p.to_str().unwrap(), "--metrics-push", url]);
        assert_ne!(code, 0);
        assert!(err.contains("--metrics-push") && err.contains(why), "{err}");
    }
}
