//! Connection reuse and its cost: `keepalive = false` opens a connection per request, the phases of
//! every connection opened (DNS, TCP connect, TLS, time to first byte) are counted once each, shown in
//! the report and added exactly by `merge`; HTTP/2 `streams_per_connection` shares connections.

use crate::support::common;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{Behaviour, Server, start};
use wabench::app::run::{Finished, Options, run_profile};
use wabench::results::{ConnectionPhases, Shard, hlog};

fn run_in(dir: &Path, text: &str, shard: Shard, out: &str) -> Finished {
    let path = common::profile(dir, text);
    let loaded = wabench::spec::load(&path).expect("valid profile");
    let rx = wabench::Shutdown::new();
    let opts = Options { out: Some(dir.join(out)), shard, ..Options::new(dir) };
    run_profile(&loaded, &opts, rx).expect("run")
}

fn closed(s: &Server, host: &str, load: &str) -> String {
    format!(
        "name = \"conns\"\n[load]\nmodel = \"closed\"\nduration = \"30s\"\n{load}\n[[targets]]\nname = \"t\"\nkind = \"http\"\nurl = \"http://{host}:{}/\"\n",
        s.addr.port()
    )
}

fn phases(f: &Finished) -> &ConnectionPhases {
    f.run.targets[0].connection_phases.as_ref().expect("connection phases recorded")
}

#[test]
fn without_keepalive_every_request_opens_a_connection_and_times_its_phases() {
    let s = start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let f = run_in(
        dir.path(),
        &closed(&s, "127.0.0.1", "connections = 2\nmax_requests = 40\nkeepalive = false"),
        Shard::default(),
        "out",
    );
    let t = &f.run.targets[0];
    assert_eq!(t.requests.ok, 40, "{:?}", t.outcomes);
    assert_eq!(s.accepts.load(Ordering::Relaxed), 40, "one connection per request");
    let p = phases(&f);
    assert_eq!(p.opened, 40);
    assert_eq!(p.connect_us.count, 40);
    assert_eq!(p.ttfb_us.count, 40, "every connection's first (and only) request");
    assert_eq!(p.tls_us.count, 0, "plain HTTP has no TLS handshake");
    assert_eq!(p.dns_us.count, 0, "an IP address is not resolved");
    // The whole-run histograms beside run.json hold them, for merge and report.
    let totals = hlog::read(&f.dir.join("t.totals.hlog")).unwrap();
    let connect = totals.entries.iter().find(|e| e.tag.as_deref() == Some("connection:connect")).unwrap();
    assert_eq!(connect.histogram.len(), 40);
    assert_eq!(wabench::results::read_run(&f.dir).unwrap(), f.run, "run.json reads back equal");
}

#[test]
fn with_keepalive_each_connection_is_timed_once_and_a_host_name_is_resolved() {
    // Listen where "localhost" resolves first, so the target can be named by a host name.
    let local = std::net::ToSocketAddrs::to_socket_addrs(&("localhost", 0)).unwrap().next().unwrap();
    let s = start(Behaviour { bind: Some(local), ..Default::default() });
    let dir = tempfile::tempdir().unwrap();
    let f = run_in(dir.path(), &closed(&s, "localhost", "connections = 3\nmax_requests = 90"), Shard::default(), "o");
    let t = &f.run.targets[0];
    assert_eq!(t.requests.ok, 90, "{:?}", t.outcomes);
    assert_eq!(s.accepts.load(Ordering::Relaxed), 3);
    let p = phases(&f);
    assert_eq!((p.opened, p.connect_us.count, p.dns_us.count), (3, 3, 3));
    // The first answer of each connection that carried a request (one opened ahead may end the run
    // unused when the 90 requests were taken by the others first).
    assert!((1..=3).contains(&p.ttfb_us.count), "{}", p.ttfb_us.count);
    // The summary and the report show them.
    let mut out = Vec::new();
    wabench::report::summary::write(&f.run, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("connections opened") && text.contains("connect p50/p99"), "{text}");
    let html = std::fs::read_to_string(f.dir.join("report.html")).unwrap();
    assert!(html.contains("<section id=\"connections\">"), "the report has the phase table");
    assert!(html.contains("t: 3 connections opened"));
    for phase in ["dns", "connect", "tls", "ttfb"] {
        assert!(html.contains(&format!("<td class=\"l\">{phase}</td>")), "{phase} row");
    }
}

#[test]
fn a_server_slow_to_answer_shows_in_the_time_to_first_byte() {
    let s = start(Behaviour { delay: Duration::from_millis(40), ..Default::default() });
    let dir = tempfile::tempdir().unwrap();
    let f = run_in(dir.path(), &closed(&s, "127.0.0.1", "connections = 2\nmax_requests = 6"), Shard::default(), "o");
    let p = phases(&f);
    assert_eq!(p.ttfb_us.count, 2);
    assert!(p.ttfb_us.min >= 40_000, "ttfb {:?} includes the server's 40 ms before its first byte", p.ttfb_us);
    assert!(p.connect_us.max < p.ttfb_us.min, "the connect phase does not include the wait");
}

#[test]
fn merge_adds_the_phase_histograms_of_shards_exactly() {
    let s = start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let text = closed(&s, "127.0.0.1", "connections = 4\nmax_requests = 40\nkeepalive = false");
    let mut parts = Vec::new();
    let mut connect = wabench::results::histogram();
    for i in 0..2 {
        let f = run_in(dir.path(), &text, Shard { index: i, count: 2 }, &format!("s{i}"));
        assert_eq!(phases(&f).opened, 20);
        for e in hlog::read(&f.dir.join("t.totals.hlog")).unwrap().entries {
            if e.tag.as_deref() == Some("connection:connect") {
                connect.add(&e.histogram).unwrap();
            }
        }
        parts.push(f.dir);
    }
    let merged = dir.path().join("merged");
    let run = crate::support::common::merge(&parts, &merged);
    let p = run.targets[0].connection_phases.as_ref().expect("merged phases");
    assert_eq!(p.opened, 40);
    assert_eq!(p.connect_us, wabench::results::Summary::of(&connect), "the parts' histograms added");
    assert_eq!(p.ttfb_us.count, 40);
}

#[test]
fn http2_streams_share_connections() {
    let s = start(Behaviour { http2: true, delay: Duration::from_millis(20), ..Default::default() });
    let dir = tempfile::tempdir().unwrap();
    let text = closed(&s, "127.0.0.1", "connections = 8\nstreams_per_connection = 4\nthreads = 2\nmax_requests = 160")
        .replace("kind = \"http\"", "kind = \"http\"\nhttp_version = \"2\"");
    let f = run_in(dir.path(), &text, Shard::default(), "o");
    let t = &f.run.targets[0];
    assert_eq!(t.requests.ok, 160, "{:?}", t.outcomes);
    assert_eq!(s.accepts.load(Ordering::Relaxed), 2, "8 streams in connections of 4: 2 connections");
    let most = s.max_per_connection.load(Ordering::Relaxed);
    assert!((2..=4).contains(&most), "{most} requests at once on one connection: several streams, at most 4");
    let p = phases(&f);
    assert_eq!((p.opened, p.ttfb_us.count), (2, 2));
}

#[test]
fn streams_per_connection_needs_http2() {
    let s = start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let path = common::profile(dir.path(), &closed(&s, "127.0.0.1", "connections = 8\nstreams_per_connection = 4"));
    let Err(e) = wabench::spec::load(&path) else { panic!("streams on HTTP/1.1 were accepted") };
    let e = e.to_string();
    assert!(e.contains("load.streams_per_connection") && e.contains("http_version = \"2\""), "{e}");
}

#[test]
fn http2_without_keepalive_opens_a_connection_per_request() {
    let s = start(Behaviour { http2: true, ..Default::default() });
    let dir = tempfile::tempdir().unwrap();
    let text = closed(&s, "127.0.0.1", "connections = 2\nmax_requests = 20\nkeepalive = false")
        .replace("kind = \"http\"", "kind = \"http\"\nhttp_version = \"2\"");
    let f = run_in(dir.path(), &text, Shard::default(), "o");
    assert_eq!(f.run.targets[0].requests.ok, 20, "{:?}", f.run.targets[0].outcomes);
    assert_eq!(s.accepts.load(Ordering::Relaxed), 20);
    let p = phases(&f);
    assert_eq!((p.opened, p.ttfb_us.count), (20, 20));
}
