//! `run --dashboard`: the live page's events and its control API over loopback, while bounded runs on
//! the embedded simulator go; what the operator did shows in run.json and in the timeline; a
//! dashboard that requires a token refuses calls without it; and the page itself, in headless
//! Chromium, updates as the run goes and its controls (rate, pause, resume, stop) steer it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use wabench::app::run::dashboard::{self, Access, Operator, RunInfo};
use wabench::app::run::{Finished, Options, run_profile};
use wabench::results::timeline::TimelineRow;

/// A run going in-process with its dashboard on loopback.
struct Live {
    op: Arc<Operator>,
    addr: SocketAddr,
    url: String,
    done: mpsc::Receiver<Finished>,
    dir: tempfile::TempDir,
}

impl Live {
    /// Start profile `text` with a dashboard on 127.0.0.1 (`access`: its rules, default for the bind).
    fn start(text: &str, access: Option<Access>) -> Live {
        let dir = tempfile::tempdir().unwrap();
        let path = crate::support::common::profile(dir.path(), text);
        let loaded = wabench::spec::load(&path).expect("valid profile");
        let p = &loaded.profile;
        let plan = wabench::engine::Plan::from_spec(&p.load);
        let op = Operator::new(RunInfo {
            profile: p.name.clone(),
            model: plan.model,
            duration: plan.duration,
            targets: p.targets.iter().map(|t| t.name.clone()).collect(),
            max_rate: 1000.0,
        });
        let bind: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let (url, addr) = match access {
            Some(a) => dashboard::serve_with(bind, op.clone(), a),
            None => dashboard::serve(bind, op.clone()),
        }
        .unwrap();
        let opts = Options {
            out: Some(dir.path().join("out")),
            dashboard: Some(op.clone()),
            report: false,
            ..Options::new(dir.path())
        };
        let (tx, done) = mpsc::channel();
        std::thread::spawn(move || {
            let stop = wabench::Shutdown::new();
            let f = run_profile(&loaded, &opts, stop).expect("run");
            let _ = tx.send(f);
        });
        Live { op, addr, url, done, dir }
    }

    /// The run's end (bounded).
    fn finished(&self) -> Finished {
        let f = self.done.recv_timeout(Duration::from_secs(120)).expect("the run ended");
        assert!(f.error.is_none(), "{:?}", f.error);
        f
    }

    fn timeline(&self, f: &Finished) -> Vec<TimelineRow> {
        let text = std::fs::read_to_string(f.dir.join("timeline.csv")).unwrap();
        wabench::results::timeline::parse(&text).unwrap().remove("cloud").unwrap()
    }
}

/// An HTTP/1.1 exchange with the dashboard: status and JSON body.
fn call(addr: SocketAddr, method: &str, path: &str, headers: &str) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: 0\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut r = String::new();
    s.read_to_string(&mut r).unwrap();
    let (head, body) = r.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body.trim()).unwrap_or(Value::Null))
}

/// The event stream of a dashboard: each event's name and JSON.
struct Events(BufReader<TcpStream>);

impl Events {
    fn open(addr: SocketAddr, query: &str) -> Events {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        write!(s, "GET /events{query} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n").unwrap();
        let mut r = BufReader::new(s);
        let mut head = String::new();
        while r.read_line(&mut head).unwrap() > 2 && !head.ends_with("\r\n\r\n") {}
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.to_ascii_lowercase().contains("content-type: text/event-stream"), "{head}");
        Events(r)
    }

    /// The next event (none when the stream ended).
    fn next(&mut self) -> Option<(String, Value)> {
        let mut name = String::new();
        let mut line = String::new();
        loop {
            line.clear();
            if self.0.read_line(&mut line).ok()? == 0 {
                return None;
            }
            if let Some(n) = line.trim_end().strip_prefix("event: ") {
                name = n.to_string();
            } else if let Some(d) = line.trim_end().strip_prefix("data: ") {
                return Some((name, serde_json::from_str(d).expect("an event's data is JSON")));
            }
        }
    }

    /// Read events until one satisfies `f` (at most 60): that one.
    fn until(&mut self, f: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..60 {
            let (_, v) = self.next().expect("the stream goes on");
            if f(&v) {
                return v;
            }
        }
        panic!("no event satisfied the condition within 60 events");
    }
}

/// Read events until the target has run `secs` seconds.
fn until_target_time(ev: &mut Events, secs: f64) -> Value {
    ev.until(|v| v["targets"][0]["elapsed_s"].as_f64().is_some_and(|t| t >= secs))
}

/// When the operator's latest action fell on the target's clock.
fn last_action_s(op: &Operator) -> f64 {
    op.actions().last().and_then(|a| a.target_s).expect("an action on a running target")
}

fn sent(v: &Value) -> u64 {
    v["targets"][0]["sent"].as_u64().unwrap_or(0)
}

const SHORT: &str = r#"
name = "live"
[load]
rate = 30
duration = "5s"
drain = "1s"
[[targets]]
name = "cloud"
kind = "cloud"
base_url = "embedded"
"#;

#[test]
fn events_carry_growing_counts_while_the_run_goes_and_a_last_one_at_its_end() {
    let live = Live::start(&format!("{SHORT}[tracing]\nsample = 0.5\n"), None);
    let mut ev = Events::open(live.addr, "");
    let mut seen: Vec<(String, Value)> = Vec::new();
    while let Some(e) = ev.next() {
        let last = e.0 == "end";
        seen.push(e);
        assert!(seen.len() < 120, "the stream ends with the run");
        if last {
            break;
        }
    }
    let f = live.finished();
    let (end, snapshots) = seen.split_last().unwrap();
    assert_eq!(end.0, "end");
    assert_eq!(end.1["state"], "finished");
    assert!(snapshots.len() >= 3, "an event a second while the run went: {}", snapshots.len());
    // One moment per event: the counts are those of the outcomes beside them.
    for (_, v) in snapshots.iter().chain([end]) {
        let t = &v["targets"][0];
        if t.is_null() {
            continue; // the target has not started yet
        }
        let by = |k: &str| t["outcomes"][k].as_u64().unwrap_or(0);
        let all: u64 = t["outcomes"].as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum();
        assert_eq!(t["ok"].as_u64().unwrap(), by("ok"), "{t}");
        assert_eq!(t["errors"].as_u64().unwrap(), all - by("ok") - by("cancelled"), "{t}");
    }
    let counts: Vec<u64> = snapshots.iter().map(|e| sent(&e.1)).collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "counts never go back: {counts:?}");
    assert!(counts.last() > counts.first(), "counts grew: {counts:?}");
    // The last event holds the results' own figures.
    let t = &end.1["targets"][0];
    let r = &f.run.targets[0].requests;
    assert_eq!(t["sent"].as_u64(), Some(r.sent));
    assert_eq!(t["ok"].as_u64(), Some(r.ok));
    assert_eq!(t["name"], "cloud");
    let rows = t["rows"].as_array().unwrap();
    assert!(rows.len() >= 5, "a row per second: {rows:?}");
    assert!(rows.iter().any(|r| r[7].as_u64().is_some_and(|p99| p99 > 0)), "p99 per second: {rows:?}");
    assert!(t["outcomes"]["ok"].as_u64().is_some_and(|n| n > 0), "{t}");
    assert!(f.run.operator.is_empty(), "nobody acted");
    // The slowest traced requests, slowest first: those of the run's exemplars file.
    let kept = wabench::results::exemplars::Slowest::read(&f.dir.join("cloud.exemplars.csv")).unwrap();
    let want: Vec<(String, u64)> = kept.slowest(5).iter().map(|e| (e.trace_id.clone(), e.latency_us)).collect();
    let shown: Vec<(String, u64)> = t["traced"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["trace_id"].as_str().unwrap().to_string(), x["latency_us"].as_u64().unwrap()))
        .collect();
    assert!(!shown.is_empty());
    assert_eq!(shown.iter().map(|x| x.1).collect::<Vec<_>>(), want.iter().map(|x| x.1).collect::<Vec<_>>());
    assert!(shown.iter().all(|x| kept.all().any(|e| e.trace_id == x.0 && e.latency_us == x.1)), "{shown:?}");
    let wamid = |x: &Value| x["wamid"].as_str().is_some_and(|w| w.starts_with("wamid."));
    assert!(t["traced"].as_array().unwrap().iter().any(wamid), "{t}");
}

const STEERED: &str = r#"
name = "steered"
[load]
rate = 10
duration = "60s"
drain = "1s"
[[targets]]
name = "cloud"
kind = "cloud"
base_url = "embedded"
"#;

/// The whole seconds of the timeline between `from` and `to` (seconds since the target's start).
fn inside(rows: &[TimelineRow], from: f64, to: f64) -> Vec<&TimelineRow> {
    rows.iter().filter(|r| r.second as f64 >= from && (r.second + 1) as f64 <= to).collect()
}

#[test]
fn rate_pause_resume_and_stop_from_the_api_steer_the_run_and_are_recorded() {
    let live = Live::start(STEERED, None);
    let mut ev = Events::open(live.addr, "");
    ev.until(|v| sent(v) > 0);
    let (status, body) = call(live.addr, "POST", "/control/rate?value=80", "");
    assert_eq!((status, &body["ok"], &body["rate"]), (200, &Value::Bool(true), &serde_json::json!(80.0)), "{body}");
    until_target_time(&mut ev, last_action_s(&live.op) + 2.5);
    let (status, body) = call(live.addr, "POST", "/control/pause", "");
    assert_eq!((status, &body["paused"]), (200, &Value::Bool(true)), "{body}");
    // Held for more than two seconds.
    let held = until_target_time(&mut ev, last_action_s(&live.op) + 2.5);
    assert_eq!((&held["state"], &held["paused"]), (&Value::from("paused"), &Value::Bool(true)), "{held}");
    assert_eq!(held["targets"][0]["requested_rate"], 0.0, "{held}");
    let paused_at = sent(&held);
    assert_eq!(call(live.addr, "POST", "/control/resume", "").0, 200);
    ev.until(|v| sent(v) > paused_at);
    // Wrong calls are refused with a reason, and change nothing.
    let (status, body) = call(live.addr, "POST", "/control/rate?value=-3", "");
    assert_eq!(status, 400, "{body}");
    assert_eq!(call(live.addr, "POST", "/control/rate?value=5000", "").0, 400, "above max_rate");
    assert_eq!(call(live.addr, "GET", "/control/stop", "").0, 405);
    let (status, body) = call(live.addr, "POST", "/control/stop", "");
    assert_eq!((status, &body["stopping"]), (200, &Value::Bool(true)), "{body}");
    let f = live.finished();

    let actions: Vec<(&str, Option<f64>)> = f.run.operator.iter().map(|a| (a.action.as_str(), a.value)).collect();
    assert_eq!(actions, [("rate", Some(80.0)), ("pause", None), ("resume", None), ("stop", None)]);
    assert!(f.run.operator.iter().all(|a| a.target.as_deref() == Some("cloud")));
    let at: Vec<f64> = f.run.operator.iter().map(|a| a.target_s.unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] <= w[1]), "{at:?}");
    let t = &f.run.targets[0];
    assert_eq!(t.stopped.as_deref(), Some("operator"));
    assert!(f.run.interrupted, "stopped early, as Ctrl-C does");

    let rows = live.timeline(&f);
    let faster = inside(&rows, at[0], at[1]);
    assert!(!faster.is_empty(), "a whole second between the rate change and the pause: {at:?}");
    assert!(faster.iter().all(|r| r.requested == Some(80)), "{faster:?}");
    let most = faster.iter().map(|r| r.started).max().unwrap();
    assert!(most >= 40, "the achieved rate followed the new one (plan 10/s): {most}/s in {faster:?}");
    let held = inside(&rows, at[1], at[2]);
    assert!(!held.is_empty(), "a whole second paused: {at:?}");
    assert!(held.iter().all(|r| r.requested == Some(0)), "nothing due while paused: {held:?}");
    assert_eq!(t.requests.dropped, 0, "the pause is not counted as lateness or drops");
    // The requested rate is the steered schedule's, not the plan's 10/s: the run kept up with it.
    let (requested, ratio) = (t.rate.requested.unwrap(), t.rate.ratio.unwrap());
    assert!(requested > 10.0 && (ratio - 1.0).abs() < 0.02, "{:?}", t.rate);

    // The report shows when the operator changed what.
    let page = std::fs::read_to_string(wabench::report::write_report(&f.dir).unwrap()).unwrap();
    let section = &page[page.find("<section id=\"operator\">").expect("an Operator actions section")..];
    let section = &section[..section.find("</section>").unwrap()];
    for what in ["rate → 80/s", "pause", "resume", "stop"] {
        assert!(section.contains(&format!("<td class=\"l\">{what}</td>")), "{what}: {section}");
    }
    // So does the summary on the terminal, in order.
    let mut summary = Vec::new();
    wabench::report::summary::write(&f.run, &mut summary).unwrap();
    let summary = String::from_utf8(summary).unwrap();
    let requested = summary.lines().find(|l| l.starts_with("rate requested")).unwrap();
    assert!(requested.contains(&format!("{:.1}/s", t.rate.requested.unwrap())), "the steered mean: {requested}");
    let steered = &summary[summary.find("steered from the dashboard:").expect("the actions in the summary")..];
    let lines: Vec<&str> = steered.lines().skip(1).take(4).collect();
    for (line, what) in lines.iter().zip(["rate → 80/s", "pause", "resume", "stop"]) {
        assert!(line.contains("(cloud at ") && line.ends_with(&format!(": {what}")), "{line}\n{summary}");
    }
}

#[test]
fn a_dashboard_with_a_token_refuses_calls_without_it() {
    let live = Live::start(SHORT, Some(Access::with_token("s3cret-token".into())));
    assert!(live.url.ends_with("/?token=s3cret-token"), "{}", live.url);
    assert_eq!(call(live.addr, "GET", "/state", "").0, 401);
    assert_eq!(call(live.addr, "GET", "/", "").0, 401);
    assert_eq!(call(live.addr, "GET", "/state?token=wrong", "").0, 401);
    assert_eq!(call(live.addr, "POST", "/control/pause", "").0, 401);
    let (status, state) = call(live.addr, "GET", "/state?token=s3cret-token", "");
    assert_eq!(status, 200);
    assert_eq!(state["profile"], "live");
    let (status, body) = call(live.addr, "POST", "/control/pause", "Authorization: Bearer s3cret-token\r\n");
    assert_eq!((status, &body["paused"]), (200, &Value::Bool(true)), "{body}");
    assert_eq!(call(live.addr, "POST", "/control/resume?token=s3cret-token", "").0, 200);
    let _ = Events::open(live.addr, "?token=s3cret-token");
    let f = live.finished();
    let actions: Vec<&str> = f.run.operator.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["pause", "resume"], "only the calls with the token acted");
    assert!(live.op.actions().len() == 2);
    drop(live.dir);
}

#[test]
fn the_page_is_one_self_contained_file() {
    let live = Live::start(SHORT, None);
    let mut s = TcpStream::connect(live.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "GET / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", live.addr).unwrap();
    let mut r = String::new();
    s.read_to_string(&mut r).unwrap();
    assert!(r.starts_with("HTTP/1.1 200"), "{}", &r[..100]);
    assert!(r.to_ascii_lowercase().contains("content-security-policy: default-src 'none'"));
    let html = r.split_once("\r\n\r\n").unwrap().1;
    // Nothing fetched from elsewhere: no src, no style sheet, no CSS url(); one inline script that
    // talks only to its own server (relative paths), the only addresses in it XML namespaces.
    for bad in [" src=", "<link", "@import", "url(", "<iframe", "<object", "<embed"] {
        assert!(!html.contains(bad), "the page holds {bad:?}");
    }
    assert_eq!(html.matches("<script").count(), 1);
    assert!(html.contains("<script>"));
    let addresses: Vec<&str> = html.match_indices("://").map(|(i, _)| &html[i.saturating_sub(4)..i + 20]).collect();
    assert!(addresses.iter().all(|a| a.contains("://www.w3.org/")), "{addresses:?}");
    assert!(html.contains("new EventSource(withToken(\"/events\"))"));
    for id in ["pause", "resume", "set-rate", "stop", "targets", "actions"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
    }
    live.finished();
}

/// What the page's self-test wrote into the DOM Chromium dumped.
fn selftest_output(dom: &str) -> Value {
    const OPEN: &str = "<pre id=\"wb-selftest\">";
    let at =
        dom.find(OPEN).unwrap_or_else(|| panic!("no self-test output in the DOM: {}", &dom[..dom.len().min(2000)]));
    let text = &dom[at + OPEN.len()..];
    let text = text[..text.find("</pre>").unwrap()].replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The state and controls the page showed: (state, Pause enabled, Resume enabled).
fn shown(v: &Value) -> (&str, bool, bool) {
    (v["state"].as_str().unwrap_or("?"), v["pause"] == true, v["resume"] == true)
}

#[test]
fn chromium_shows_the_run_live_and_its_controls_steer_it() {
    let Some(browser) = crate::report_browser::browser() else { return };
    let live = Live::start(&format!("{STEERED}[tracing]\nsample = 1.0\n"), None);
    Events::open(live.addr, "").until(|v| sent(v) > 0);
    // The page's self-test waits for its figures to grow, then clicks its own controls as a user
    // would: 40/s, Pause, Resume, Stop, each once an event showed the one before and 2.5 s more went
    // by on the target's clock. It writes what it saw into the DOM.
    let profile = live.dir.path().join("chromium-profile");
    let dom = crate::report_browser::dump_url(
        browser,
        &format!("{}#selftest=rate:40,pause,resume,stop", live.url),
        &profile,
        &["--virtual-time-budget=60000"],
    )
    .expect("chromium dumps the DOM");
    let f = live.finished();

    let st = selftest_output(&dom);
    let counts: Vec<u64> = st["sent"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert!(counts.len() >= 3 && counts.last() > counts.first(), "the page's figures grew: {st}");
    assert!(st["svg"].as_u64().unwrap() >= 2, "the charts were drawn: {st}");
    assert!(dom.contains("data-target=\"cloud\""), "a section per target");
    // The slowest traced requests, each a trace id of the run's exemplars file.
    let kept = std::fs::read_to_string(f.dir.join("cloud.exemplars.csv")).unwrap();
    let ids: Vec<&str> = dom.split("data-trace-id=\"").skip(1).filter_map(|r| r.split('"').next()).collect();
    assert!(!ids.is_empty() && ids.len() <= 5, "{ids:?}");
    assert!(ids.iter().all(|id| id.len() == 32 && kept.contains(id)), "{ids:?}\n{kept}");
    let steps = st["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(names, ["rate:40", "pause", "resume", "stop"], "{st}");
    let [rate, pause, resume, stop] = [&steps[0], &steps[1], &steps[2], &steps[3]];
    for s in [rate, pause, resume] {
        assert_eq!(s["ok"], true, "{s}");
    }
    assert_eq!(rate["answer"]["rateSet"], "40/s", "{rate}");
    // The answer shows at once, then the events say the same: paused, Resume the one to click, nothing
    // requested; then running again at the page's rate.
    assert_eq!(shown(&pause["answer"]), ("paused", false, true), "{pause}");
    assert_eq!(shown(&pause["seen"]), ("paused", false, true), "{pause}");
    assert_eq!(pause["seen"]["requested"], "0.0/s", "{pause}");
    assert_eq!(shown(&resume["answer"]), ("running", true, false), "{resume}");
    assert_eq!(shown(&resume["seen"]), ("running", true, false), "{resume}");
    assert_eq!(resume["seen"]["requested"], "40.0/s", "{resume}");
    assert!(st["actionRows"].as_u64().unwrap() >= 3, "the page lists the actions: {st}");

    // run.json's operator list: each action at the time it was taken on the target's clock, after the
    // event the page clicked on and before the first event that showed it.
    let run: Value = serde_json::from_str(&std::fs::read_to_string(f.dir.join("run.json")).unwrap()).unwrap();
    let ops = run["operator"].as_array().expect("run.json's operator list");
    let actions: Vec<(&str, Option<f64>)> =
        ops.iter().map(|a| (a["action"].as_str().unwrap(), a["value"].as_f64())).collect();
    assert_eq!(actions, [("rate", Some(40.0)), ("pause", None), ("resume", None), ("stop", None)]);
    assert!(ops.iter().all(|a| a["target"] == "cloud"), "{ops:?}");
    let at: Vec<f64> = ops.iter().map(|a| a["target_s"].as_f64().unwrap()).collect();
    for (i, step) in [rate, pause, resume].iter().enumerate() {
        let (taken, seen) = (step["taken_s"].as_f64().unwrap(), step["seen_s"].as_f64().unwrap());
        assert!(
            taken <= at[i] && at[i] <= seen,
            "{}: at {} s, clicked at {taken} s, shown at {seen} s",
            names[i],
            at[i]
        );
    }
    assert!(stop["taken_s"].as_f64().unwrap() <= at[3], "{stop} at {} s", at[3]);
    let t = &f.run.targets[0];
    assert_eq!(t.stopped.as_deref(), Some("operator"));
    assert_eq!(t.requests.dropped, 0, "the pause is not counted as lateness or drops");
    // The requested rate is the steered schedule's, not the plan's 10/s: the run kept up with it.
    let (requested, ratio) = (t.rate.requested.unwrap(), t.rate.ratio.unwrap());
    assert!(requested > 10.0 && (ratio - 1.0).abs() < 0.02, "{:?}", t.rate);

    // The timeline between the actions: the page's rate, nothing due or started while paused, the
    // page's rate again after the resume.
    let rows = live.timeline(&f);
    let faster = inside(&rows, at[0], at[1]);
    assert!(!faster.is_empty(), "whole seconds at the page's rate: {at:?}");
    assert!(faster.iter().all(|r| r.requested == Some(40)), "the page's rate is the schedule's: {faster:?}");
    let most = faster.iter().map(|r| r.started).max().unwrap();
    assert!(most >= 20, "the achieved rate followed the page's (plan 10/s): {most}/s in {faster:?}");
    let held = inside(&rows, at[1], at[2]);
    assert!(!held.is_empty(), "whole seconds paused: {at:?}");
    assert!(held.iter().all(|r| r.requested == Some(0) && r.started == 0), "nothing due while paused: {held:?}");
    let again = inside(&rows, at[2], at[3]);
    assert!(!again.is_empty(), "whole seconds after the resume: {at:?}");
    assert!(again.iter().all(|r| r.requested == Some(40)), "resumed at the page's rate: {again:?}");
    assert!(again.iter().any(|r| r.started > 0), "requests went again: {again:?}");
}

const CLOSED: &str = r#"
name = "closed"
[load]
model = "closed"
connections = 2
think_time = "50ms"
duration = "60s"
drain = "1s"
[[targets]]
name = "cloud"
kind = "cloud"
base_url = "embedded"
"#;

#[test]
fn a_closed_loop_pauses_its_virtual_users_and_has_no_rate_to_change() {
    let live = Live::start(CLOSED, None);
    let mut ev = Events::open(live.addr, "");
    ev.until(|v| sent(v) > 0);
    let (status, body) = call(live.addr, "POST", "/control/rate?value=50", "");
    assert_eq!(status, 409, "{body}");
    assert_eq!(call(live.addr, "POST", "/control/pause", "").0, 200);
    let held = until_target_time(&mut ev, last_action_s(&live.op) + 2.5);
    assert_eq!(held["state"], "paused");
    assert_eq!(call(live.addr, "POST", "/control/resume", "").0, 200);
    let resumed = sent(&held);
    ev.until(|v| sent(v) > resumed);
    assert_eq!(call(live.addr, "POST", "/control/stop", "").0, 200);
    let f = live.finished();
    let actions: Vec<&str> = f.run.operator.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["pause", "resume", "stop"], "the refused rate is not recorded");
    let at: Vec<f64> = f.run.operator.iter().map(|a| a.target_s.unwrap()).collect();
    let rows = live.timeline(&f);
    let held = inside(&rows, at[0], at[1]);
    assert!(!held.is_empty(), "a whole second paused: {at:?}");
    assert!(held.iter().all(|r| r.started == 0), "no virtual user sent while paused: {held:?}");
    assert!(rows.iter().filter(|r| (r.second as f64) >= at[1]).any(|r| r.started > 0), "they went on after: {rows:?}");
}

#[test]
fn the_command_line_serves_the_dashboard_on_loopback_for_a_port_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = crate::support::common::profile(dir.path(), SHORT.replace("5s", "1s").as_str());
    let out = dir.path().join("out");
    let (code, _, err) = crate::support::common::wabench(&[
        "run",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--no-report",
        "--quiet",
        "--dashboard",
        "0",
    ]);
    // 99 when the simulator's refusals cross a default threshold in so short a run: the run went.
    assert!(code == 0 || code == 99, "{code}: {err}");
    assert!(out.join("run.json").exists());
    let line = err.lines().find(|l| l.contains("dashboard at")).unwrap_or_else(|| panic!("{err}"));
    assert!(line.starts_with("wabench: dashboard at http://127.0.0.1:") && line.ends_with('/'), "{line}");
    assert!(!line.contains("token"), "no token on loopback: {line}");
    let (code, _, err) = crate::support::common::wabench(&["run", path.to_str().unwrap(), "--dashboard", "nowhere"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("expected ADDR:PORT"), "{err}");
}
