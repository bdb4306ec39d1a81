//! Bounded fuzzing of every reader of user or network input: profiles, recipient CSVs, interval
//! logs, webhook bodies and run.json files. None may panic, and errors say where the problem is.
//! Case counts keep each property to a second or two in a debug build.

use std::path::Path;
use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use proptest::test_runner::Config;
use wabench::results::hlog;
use wabench::spec;
use wabench::spec::recipients::Recipients;

fn config(cases: u32) -> Config {
    Config { cases, failure_persistence: None, ..Config::default() }
}

const PROFILE_PATH: &str = "/profiles/fuzz.toml";

/// A profile that exercises most fields; mutations start from it.
const VALID: &str = r#"name = "fuzz"
seed = 7
description = "every table"

[load]
model = "open"
stages = [{ to = 60, over = "5s" }, { to = 60, over = "15s" }]
start_rate = 1
connections = 32
max_in_flight = 320
timeout = "10s"
drain = "2s"
threads = 2
max_requests = 1000

[messages]
text = 70
template = 20
image = 10

[recipients]
country_code = "1"
count = 2000

[retry]
max_attempts = 3
backoff = "200ms"
max_backoff = "5s"
unavailable_wait = "5s"

[[targets]]
name = "cloud"
kind = "cloud"
base_url = "embedded"

[[targets]]
name = "plain"
kind = "http"
url = "http://127.0.0.1:8080/x?y=1"
method = "POST"
headers = { "content-type" = "application/json" }
headers_from_env = { authorization = "API_AUTH" }
body = '{"a":1}'
http_version = "2"
max_body = 4096

[thresholds]
"latency.p99" = "< 2s"
"error_rate" = "< 5%"
"plain:count.timeout" = "== 0"
"#;

/// Values that stress validation: extremes, wrong types, odd strings.
const NASTY: &[&str] = &[
    "0",
    "-1",
    "1e308",
    "-1e308",
    "inf",
    "nan",
    "-0.0",
    "18446744073709551615",
    "9223372036854775807",
    "4294967295",
    "0.0000001",
    "\"\"",
    "\"0s\"",
    "\"1ns\"",
    "\"584942417355years\"",
    "\"500000000000years\"",
    "\"10000years\"",
    "\"1 year\"",
    "\"-5s\"",
    "\"abc\"",
    "\"embedded\"",
    "\"http://\"",
    "\"https://[::1]:0/\"",
    "\"http://u:p@h/\"",
    "\"ftp://x/\"",
    "\"../../etc\"",
    "\"\\u0000\"",
    "\"ä€𝄞\"",
    "true",
    "[]",
    "{}",
    "[{ to = 1e308, over = \"584942417355years\" }, { to = 1e308, over = \"584942417355years\" }]",
    "[{ to = 0, over = \"1ns\" }]",
    "{ a = 1 }",
    "[{ to = 1, over = \"500000000000years\" }, { to = 1, over = \"500000000000years\" }]",
    "[{ to = 1, over = \"36500d\" }, { to = 1000000, over = \"36500d\" }]",
    "[{ to = 0.1, over = \"1s\" }]",
    "\"36500days\"",
    "\"36501days\"",
    "0.5",
];

/// Parse and validate, then do what `validate` and `run --dry-run` do with an accepted profile.
fn parse_and_plan(text: &str) -> Result<(), String> {
    let path = Path::new(PROFILE_PATH);
    match spec::parse(path, text) {
        Ok(p) => {
            let plan = wabench::engine::Plan::from_spec(&p.load);
            let _ = wabench::app::validate::describe(&plan);
            let _ = plan.expected_requests();
            let _ = plan.schedule_rate();
            let _ = p.load.peak_rate();
            let _ = serde_json::to_value(p.redacted()).map_err(|e| e.to_string())?;
            // The clock arithmetic of a run: due times, deadlines, pauses and retry waits.
            let now = std::time::Instant::now();
            if let Some(pacer) = &plan.pacer {
                let last = pacer.total().checked_sub(1).ok_or("an accepted open-loop plan sends nothing")?;
                for n in [0, last / 2, last] {
                    let due =
                        pacer.due(n).ok_or_else(|| format!("request {n} of {} has no due time", pacer.total()))?;
                    let _ = now + due;
                }
            }
            let _ = now + plan.timeout + plan.drain + plan.think_time + plan.duration.unwrap_or_default();
            for attempt in 1..=p.retry.max_attempts.min(64) {
                for code in [2, 4, 131056] {
                    let o = wabench::engine::metrics::Outcome::ApiError(code);
                    if let Some(w) = wabench::drivers::whatsapp::codes::retry_after(o, attempt, &p.retry) {
                        let _ = now + w;
                    }
                }
            }
            Ok(())
        }
        Err(e) => {
            let msg = e.to_string();
            if !msg.starts_with(PROFILE_PATH) {
                return Err(format!("the error does not name the file: {msg}"));
            }
            if let (Some(l), Some(c)) = (e.line, e.column) {
                let lines = text.split('\n').count();
                if l == 0 || l > lines || c == 0 {
                    return Err(format!("line {l}, column {c} is outside the text ({lines} lines): {msg}"));
                }
            }
            Ok(())
        }
    }
}

#[test]
fn the_valid_profile_is_valid() {
    spec::parse(Path::new(PROFILE_PATH), VALID).expect("the fuzzing seed is valid");
}

#[test]
fn durations_beyond_a_century_and_empty_plans_are_located_errors() {
    let with = |load: &str| {
        format!(
            "name = \"x\"\n[load]\n{load}\n[[targets]]\nname = \"t\"\nkind = \"http\"\nurl = \"http://127.0.0.1:1/\"\n"
        )
    };
    let e = spec::parse(
        Path::new(PROFILE_PATH),
        &with("stages = [{ to = 1, over = \"500000000000years\" }, { to = 1, over = \"500000000000years\" }]"),
    )
    .unwrap_err();
    assert_eq!((e.line, e.field.as_deref()), (Some(3), Some("load.stages")), "{e}");
    assert!(e.reason.contains("longer than 100 years"), "{e}");
    let e =
        spec::parse(Path::new(PROFILE_PATH), &with("model = \"closed\"\nmax_requests = 3\nthink_time = \"1000years\""))
            .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("load.think_time"), "{e}");
    spec::parse(Path::new(PROFILE_PATH), &with("rate = 1\nduration = \"36500days\"")).expect("a century is allowed");

    let e = spec::parse(Path::new(PROFILE_PATH), &with("rate = 0.5\nduration = \"1s\"")).unwrap_err();
    assert!(e.to_string().contains("sends no request"), "{e}");
    let e = spec::parse(Path::new(PROFILE_PATH), &with("stages = [{ to = 0.1, over = \"1s\" }]")).unwrap_err();
    assert!(e.to_string().contains("sends no request"), "{e}");
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn profiles_from_arbitrary_text_never_panic(text in any::<String>()) {
        parse_and_plan(&text).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn profiles_from_toml_like_text_never_panic(text in "(\\[\\[?[a-z_.]{0,12}\\]\\]?\n|[a-z_]{1,14} = (\"[a-z0-9:/.]{0,12}\"|[0-9.e-]{1,8}|true|\\[\\]|\\{\\})\n){0,12}") {
        parse_and_plan(&text).map_err(TestCaseError::fail)?;
    }
}

/// One mutation of a profile's text.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the value of the `line`-th `key = value` line.
    Value { line: usize, value: String },
    /// Delete a line.
    DeleteLine(usize),
    /// Duplicate a line.
    DuplicateLine(usize),
    /// Cut the text at a fraction of its length.
    Truncate(f64),
    /// Insert bytes at a fraction of its length.
    Insert(f64, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (0usize..64, prop::sample::select(NASTY).prop_map(str::to_string))
            .prop_map(|(line, value)| Mutation::Value { line, value }),
        1 => (0usize..64, any::<f64>().prop_map(|f| f.to_string()))
            .prop_map(|(line, value)| Mutation::Value { line, value }),
        1 => (0usize..64, any::<i64>().prop_map(|i| i.to_string()))
            .prop_map(|(line, value)| Mutation::Value { line, value }),
        1 => (0usize..64).prop_map(Mutation::DeleteLine),
        1 => (0usize..64).prop_map(Mutation::DuplicateLine),
        1 => (0.0f64..1.0).prop_map(Mutation::Truncate),
        1 => (0.0f64..1.0, "[\\[\\]{}=\"',.\n#a-z0-9 ]{1,6}").prop_map(|(at, s)| Mutation::Insert(at, s)),
    ]
}

fn floor_char(s: &str, at: f64) -> usize {
    let mut i = ((s.len() as f64) * at) as usize;
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i.min(s.len())
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let n = lines.len();
    if n == 0 && matches!(m, Mutation::DeleteLine(_) | Mutation::DuplicateLine(_)) {
        // An earlier truncation left nothing: no line to delete or repeat.
        return text.to_string();
    }
    match m {
        Mutation::Value { line, value } => {
            let with_value: Vec<usize> = (0..n).filter(|i| lines[*i].contains(" = ")).collect();
            if let Some(&i) = with_value.get(line % with_value.len().max(1)) {
                let key = lines[i].split(" = ").next().unwrap_or_default().to_string();
                lines[i] = format!("{key} = {value}");
            }
        }
        Mutation::DeleteLine(i) => {
            lines.remove(i % n);
        }
        Mutation::DuplicateLine(i) => {
            let l = lines[i % n].clone();
            lines.insert(i % n, l);
        }
        Mutation::Truncate(at) => return text[..floor_char(text, *at)].to_string(),
        Mutation::Insert(at, s) => {
            let i = floor_char(text, *at);
            return format!("{}{s}{}", &text[..i], &text[i..]);
        }
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(config(768))]

    #[test]
    fn mutated_valid_profiles_never_panic(ms in prop::collection::vec(mutation(), 1..4)) {
        let mut text = VALID.to_string();
        for m in &ms {
            text = apply(&text, m);
        }
        parse_and_plan(&text).map_err(TestCaseError::fail)?;
    }
}

/// A CSV line: a good number, a bad one, a comment, a blank, or noise.
fn csv_line() -> impl Strategy<Value = (String, Option<bool>)> {
    prop_oneof![
        3 => "\\+?1555[0-9]{7}(,[a-zA-Z ]{0,8})?".prop_map(|s| (s, Some(true))),
        1 => "[0-9]{1,7}".prop_map(|s| (s, Some(false))),
        1 => "[0-9]{16,20}".prop_map(|s| (s, Some(false))),
        1 => "1555[0-9]{3}[a-z!?*][0-9]{3}".prop_map(|s| (s, Some(false))),
        1 => Just((String::new(), None)),
        1 => "#[^\n\r]{0,10}".prop_map(|s| (s, None)),
    ]
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn recipient_csv_never_panics(text in any::<String>()) {
        let _ = Recipients::parse_csv(&text);
    }

    #[test]
    fn recipient_csv_reports_every_bad_line_by_number(lines in prop::collection::vec(csv_line(), 1..40)) {
        // A leading good line keeps line 1 from being taken for a header.
        let mut text = String::from("+15550000001\n");
        for (l, _) in &lines {
            text.push_str(l);
            text.push('\n');
        }
        let bad: Vec<usize> = lines.iter().enumerate().filter(|(_, (_, k))| *k == Some(false)).map(|(i, _)| i + 2).collect();
        let good = 1 + lines.iter().filter(|(_, k)| *k == Some(true)).count();
        match Recipients::parse_csv(&text) {
            Ok(r) => {
                prop_assert!(bad.is_empty(), "bad lines {bad:?} were accepted");
                prop_assert_eq!(r.len(), good);
            }
            Err(e) => {
                prop_assert!(!bad.is_empty(), "no bad line, yet: {e}");
                for l in bad.iter().take(10) {
                    prop_assert!(e.contains(&format!("line {l}:")), "line {l} is not named in: {e}");
                }
                if bad.len() > 10 {
                    let more = format!("(and {} more)", bad.len() - 10);
                    prop_assert!(e.contains(&more), "{e}");
                }
            }
        }
    }
}

/// A valid interval log of `n` one-second intervals, as the aggregator writes it.
fn sample_log(n: u64) -> Vec<u8> {
    use hdrhistogram::serialization::V2DeflateSerializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
    let mut out = Vec::new();
    let mut ser = V2DeflateSerializer::new();
    let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut log = IntervalLogWriterBuilder::new()
        .add_comment("fuzz")
        .with_start_time(base)
        .with_base_time(base)
        .with_max_value_divisor(1000.0)
        .begin_log_with(&mut out, &mut ser)
        .unwrap();
    for i in 0..n {
        let mut h = wabench::results::histogram();
        for v in 0..50 {
            h.record(1 + v * 997 + i * 13).unwrap();
        }
        log.write_histogram(&h, Duration::from_secs(i), Duration::from_secs(1), Tag::new("t")).unwrap();
    }
    drop(log);
    out
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn interval_logs_never_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = hlog::parse(&bytes);
    }

    #[test]
    fn a_truncated_interval_log_reads_up_to_its_last_whole_line(at in 0.0f64..=1.0) {
        let full = sample_log(4);
        let cut = ((full.len() as f64) * at) as usize;
        let bytes = &full[..cut.min(full.len())];
        let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let lines = String::from_utf8_lossy(&bytes[..whole]).lines().filter(|l| l.starts_with("Tag=")).count();
        let log = hlog::parse(bytes).map_err(|e| TestCaseError::fail(format!("cut at {cut}: {e}")))?;
        prop_assert_eq!(log.entries.len(), lines);
        prop_assert_eq!(log.total().unwrap().len(), 50 * lines as u64);
    }

    #[test]
    fn interval_logs_with_flipped_bytes_never_panic(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = sample_log(3);
        for (i, b) in &flips {
            let i = i.index(bytes.len());
            bytes[i] = *b;
        }
        if let Ok(log) = hlog::parse(&bytes) {
            let _ = log.total();
        }
    }
}

const CLOUD_HOOK: &str = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"1","phone_number_id":"2"},"statuses":[{"id":"wamid.1","status":"delivered","timestamp":"1700000000","recipient_id":"1","conversation":{"id":"c","origin":{"type":"service"}},"pricing":{"billable":true,"pricing_model":"CBP","category":"service"}},{"id":"wamid.2","status":"failed","timestamp":"1700000001","recipient_id":"1","errors":[{"code":131026,"title":"x"}]}]}}]}]}"#;
const ONPREM_HOOK: &str =
    r#"{"statuses":[{"id":"gBEG1","status":"read","timestamp":1700000000,"recipient_id":"1"}],"messages":[{}]}"#;

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn webhook_bodies_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = wabench::webhook::model::parse(&bytes);
    }

    #[test]
    fn mutated_webhook_bodies_never_panic(
        onprem in any::<bool>(),
        cut in 0.0f64..=1.0,
        flips in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(&b"{}[]\",:0123456789-.eE\\ntrufalsn"[..])), 0..6),
    ) {
        let mut bytes = if onprem { ONPREM_HOOK } else { CLOUD_HOOK }.as_bytes().to_vec();
        for (i, b) in &flips {
            let i = i.index(bytes.len());
            bytes[i] = *b;
        }
        bytes.truncate(((bytes.len() as f64) * cut) as usize);
        if let Ok(statuses) = wabench::webhook::model::parse(&bytes) {
            for s in statuses {
                let _ = s.unix_seconds();
            }
        }
    }
}

/// A minimal valid run.json, written by the library itself.
fn sample_run(dir: &Path) -> Vec<u8> {
    use wabench::results::*;
    let summary = wabench::results::Summary::default();
    let t = TargetResult {
        name: "t".into(),
        kind: "http".into(),
        url: "http://127.0.0.1/".into(),
        model: "open".into(),
        connections: 1,
        threads: 1,
        started_at: chrono::DateTime::UNIX_EPOCH,
        duration_s: 1.0,
        interrupted: false,
        requests: Counts::default(),
        rate: Rates::default(),
        latency_us: summary.clone(),
        service_time_us: summary.clone(),
        lateness_us: summary,
        outcomes: vec![OutcomeResult { key: "ok".into(), count: 0, latency_us: None }],
        hlog: "t.hlog".into(),
        connection_phases: None,
        delivery: None,
        conversation: None,
        webhook_slo: None,
        extra: None,
        imported: None,
        cost: None,
        stopped: None,
        tracing: None,
    };
    let run = Run {
        schema_version: SCHEMA_VERSION,
        tool: Tool { name: "wabench".into(), version: "0".into() },
        name: "fuzz".into(),
        description: None,
        profile_file: "p.toml".into(),
        profile: serde_json::json!({}),
        seed: 1,
        started_at: chrono::DateTime::UNIX_EPOCH,
        ended_at: chrono::DateTime::UNIX_EPOCH,
        interrupted: false,
        machine: Machine { hostname: "h".into(), os: "linux".into(), arch: "x86_64".into(), cpus: 2 },
        targets: vec![t],
        thresholds: vec![],
        passed: true,
        aborted: None,
        shard: None,
        overrides: Vec::new(),
        operator: Vec::new(),
        imported: None,
    };
    write_run(dir, &run).unwrap();
    assert_eq!(read_run(dir).unwrap(), run);
    std::fs::read(dir.join("run.json")).unwrap()
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn unreadable_run_files_are_errors_naming_the_file(
        kind in 0u8..4,
        at in 0.0f64..1.0,
        garbage in prop::collection::vec(any::<u8>(), 0..200),
        version in 2u64..,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let full = sample_run(dir.path());
        let (bytes, what) = match kind {
            0 => (full[..((full.len() as f64) * at) as usize].to_vec(), "truncated"),
            1 => (garbage, "garbage"),
            2 => {
                let text = String::from_utf8(full).unwrap();
                (text.replacen("\"schema_version\": 1", &format!("\"schema_version\": {version}"), 1).into_bytes(), "schema_version")
            }
            _ => {
                let text = String::from_utf8(full).unwrap();
                (text.replacen("\"targets\": [", "\"targets\": 7, \"x\": [", 1).into_bytes(), "does not match")
            }
        };
        let file = dir.path().join("run.json");
        std::fs::write(&file, &bytes).unwrap();
        for path in [dir.path(), file.as_path()] {
            let e = wabench::results::read_run(path).expect_err("not a valid run.json").to_string();
            prop_assert!(e.starts_with(&file.display().to_string()), "{what}: {e}");
            if kind >= 2 {
                prop_assert!(e.contains(what), "{e}");
            }
        }
    }
}
