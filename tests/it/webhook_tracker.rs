//! Tests of the delivery tracker: latency histograms, duplicates, ordering, the
//! delivered+failed anomaly, unknown ids, expiry, overflow, lost messages, `.hlog` output.
//! Time is passed in as explicit `Instant`s, so no test reads or waits on a clock.

use std::time::{Duration, Instant};

use wabench::webhook::{Status, StatusError, StatusKind, Tracker, TrackerConfig};

fn status(id: &str, kind: StatusKind) -> Status {
    Status::new(id, kind, 1_700_000_000, "15550001234")
}

fn failed(id: &str, code: i64) -> Status {
    status(id, StatusKind::Failed).with_error(StatusError::new(code, "failure"))
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn tracker_latencies_and_outcomes() {
    let t = Tracker::default();
    let t0 = Instant::now();
    t.sent("m1", t0, t0 + ms(100));
    t.status(&status("m1", StatusKind::Sent), t0 + ms(600));
    t.status(&status("m1", StatusKind::Delivered), t0 + ms(1100));
    t.status(&status("m1", StatusKind::Read), t0 + ms(60_100));
    let s = t.snapshot();
    assert_eq!(s.accepted, 1);
    assert_eq!(s.messages_delivered, 1);
    assert_eq!(s.in_flight, 0);
    let l = &s.latency_us;
    assert_eq!(l.accept_to_sent.count, 1);
    assert_eq!(l.accept_to_delivered.count, 1);
    assert_eq!(l.accept_to_read.count, 1);
    assert_eq!(l.send_start_to_delivered.count, 1);
    // 3 significant digits: values within 0.1 %.
    let near = |v: u64, want: u64| v.abs_diff(want) <= want / 1000 + 1;
    assert!(near(l.accept_to_sent.p50, 500_000), "{:?}", l.accept_to_sent);
    assert!(near(l.accept_to_delivered.max, 1_000_000));
    assert!(near(l.send_start_to_delivered.p99, 1_100_000));
    assert!(near(l.accept_to_read.p999, 60_000_000));
    assert_eq!(s.histograms.accept_to_delivered.len(), 1);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["latency_us"]["accept_to_sent"]["count"], 1);
    assert!(json.get("histograms").is_none());
}

#[test]
fn tracker_histograms_write_an_hlog() {
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let t = Tracker::default();
    let t0 = Instant::now();
    t.sent("m", t0, t0);
    t.status(&status("m", StatusKind::Delivered), t0 + ms(250));
    let mut out = Vec::new();
    t.snapshot().histograms.write_hlog(&mut out, std::time::SystemTime::now(), Duration::from_secs(5)).unwrap();
    let tags: Vec<String> = IntervalLogIterator::new(&out)
        .filter_map(|e| match e.unwrap() {
            LogEntry::Interval(h) => h.tag().map(|t| t.as_str().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(tags, ["accept_to_sent", "accept_to_delivered", "accept_to_read", "send_start_to_delivered"]);
}

#[test]
fn tracker_duplicates_are_counted_once() {
    let t = Tracker::default();
    let t0 = Instant::now();
    t.sent("m1", t0, t0);
    for i in 0..3 {
        t.status(&status("m1", StatusKind::Delivered), t0 + ms(10 + i));
    }
    let s = t.snapshot();
    assert_eq!(s.statuses.delivered, 3);
    assert_eq!(s.duplicates, 2);
    assert_eq!(s.messages_delivered, 1);
    assert_eq!(s.latency_us.accept_to_delivered.count, 1);
}

#[test]
fn tracker_out_of_order() {
    let t = Tracker::default();
    let t0 = Instant::now();
    t.sent("a", t0, t0);
    t.status(&status("a", StatusKind::Delivered), t0 + ms(5));
    t.status(&status("a", StatusKind::Sent), t0 + ms(6)); // sent after delivered
    t.sent("b", t0, t0);
    t.status(&status("b", StatusKind::Read), t0 + ms(5));
    t.status(&status("b", StatusKind::Delivered), t0 + ms(6)); // delivered after read
    t.sent("c", t0, t0);
    for k in [StatusKind::Sent, StatusKind::Delivered, StatusKind::Read] {
        t.status(&status("c", k), t0 + ms(7));
    }
    let s = t.snapshot();
    assert_eq!(s.out_of_order, 2);
    assert_eq!(s.duplicates, 0);
    assert_eq!(s.messages_delivered, 3);
    assert_eq!(s.latency_us.accept_to_sent.count, 2);
}

#[test]
fn tracker_delivered_and_failed_anomaly() {
    let t = Tracker::default();
    let t0 = Instant::now();
    t.sent("x", t0, t0);
    t.status(&status("x", StatusKind::Delivered), t0 + ms(5));
    t.status(&failed("x", 131026), t0 + ms(6));
    t.sent("y", t0, t0);
    t.status(&failed("y", 131049), t0 + ms(5));
    t.status(&status("y", StatusKind::Delivered), t0 + ms(6));
    t.status(&status("y", StatusKind::Read), t0 + ms(7)); // same anomaly, reported once
    let s = t.snapshot();
    assert_eq!(s.delivered_and_failed, 2);
    // Each message counts once, by its first final status.
    assert_eq!(s.messages_delivered, 1);
    assert_eq!(s.messages_failed, 1);
    assert_eq!(s.messages_delivered + s.messages_failed, s.accepted);
    assert_eq!(s.statuses.failed, 2);
    assert_eq!(s.statuses.delivered, 2);
    let end = t.finish();
    assert_eq!(end.lost, 0);
}

#[test]
fn tracker_failed_by_code() {
    let t = Tracker::default();
    let t0 = Instant::now();
    for (i, code) in [131026, 131026, 131049, 131026, 131047].iter().enumerate() {
        let id = format!("f{i}");
        t.sent(&id, t0, t0);
        t.status(&failed(&id, *code), t0 + ms(1));
    }
    t.sent("nocode", t0, t0);
    t.status(&status("nocode", StatusKind::Failed), t0 + ms(1));
    let s = t.snapshot();
    assert_eq!(s.failed_by_code.get(&131026), Some(&3));
    assert_eq!(s.failed_by_code.get(&131049), Some(&1));
    assert_eq!(s.failed_by_code.get(&131047), Some(&1));
    assert_eq!(s.failed_without_code, 1);
    assert_eq!(s.messages_failed, 6);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["failed_by_code"]["131026"], 3);
}

#[test]
fn tracker_unknown_ids() {
    let t = Tracker::default();
    let t0 = Instant::now();
    t.status(&status("never-sent", StatusKind::Delivered), t0);
    t.status(&status("never-sent", StatusKind::Read), t0 + ms(1));
    t.status(&status("also-never", StatusKind::Sent), t0);
    let s = t.snapshot();
    assert_eq!(s.awaiting_accept, 2);
    assert_eq!(s.accepted, 0);
    assert_eq!(s.messages_delivered, 0);
    let end = t.finish();
    assert_eq!(end.unknown_ids, 2);
    assert_eq!(end.awaiting_accept, 0);
    assert_eq!(end.lost, 0);
    assert_eq!(end.latency_us.accept_to_delivered.count, 0);
}

#[test]
fn tracker_status_before_accept_is_reconciled() {
    let t = Tracker::default();
    let t0 = Instant::now();
    // The webhook overtook the API response.
    t.status(&status("fast", StatusKind::Sent), t0 + ms(10));
    t.sent("fast", t0, t0 + ms(20));
    t.status(&status("fast", StatusKind::Delivered), t0 + ms(520));
    let s = t.finish();
    assert_eq!(s.early_statuses, 1);
    assert_eq!(s.unknown_ids, 0);
    assert_eq!(s.messages_delivered, 1);
    assert_eq!(s.lost, 0);
    assert_eq!(s.latency_us.accept_to_sent.max, 0);
    assert_eq!(s.latency_us.accept_to_delivered.count, 1);
}

#[test]
fn tracker_expiry_with_short_horizon() {
    let t = Tracker::new(TrackerConfig { horizon: Duration::from_secs(1), max_tracked: 100, shards: 1 });
    let t0 = Instant::now();
    t.sent("old-done", t0, t0);
    t.status(&status("old-done", StatusKind::Delivered), t0 + ms(10));
    t.sent("old-pending", t0, t0);
    t.status(&status("stray", StatusKind::Delivered), t0 + ms(20));
    assert_eq!(t.snapshot().tracked, 3);
    // A later send sweeps the three expired entries.
    t.sent("new", t0 + ms(2000), t0 + ms(2000));
    let s = t.snapshot();
    assert_eq!(s.expired, 3);
    assert_eq!(s.tracked, 1);
    assert_eq!(s.lost, 1, "accepted without final status within the horizon");
    assert_eq!(s.unknown_ids, 1);
    // A late status for an evicted id is now an unknown id.
    t.status(&status("old-pending", StatusKind::Delivered), t0 + ms(2001));
    let end = t.finish();
    assert_eq!(end.unknown_ids, 2);
    assert_eq!(end.lost, 2, "the pending expiry plus 'new' at the end");
}

#[test]
fn tracker_lost_at_end() {
    let t = Tracker::default();
    let t0 = Instant::now();
    for i in 0..10 {
        t.sent(&format!("m{i}"), t0, t0 + ms(1));
    }
    for i in 0..7 {
        let kind = if i % 2 == 0 { StatusKind::Delivered } else { StatusKind::Read };
        t.status(&status(&format!("m{i}"), kind), t0 + ms(100));
    }
    t.status(&status("m7", StatusKind::Sent), t0 + ms(100)); // sent is not final
    let live = t.snapshot();
    assert_eq!(live.in_flight, 3);
    assert_eq!(live.lost, 0);
    let end = t.finish();
    assert_eq!(end.lost, 3);
    assert_eq!(end.in_flight, 0);
    assert_eq!(end.tracked, 0);
    assert_eq!(end.messages_delivered, 7);
}

#[test]
fn tracker_overflow_is_counted() {
    let t = Tracker::new(TrackerConfig { horizon: Duration::from_secs(60), max_tracked: 5, shards: 1 });
    let t0 = Instant::now();
    for i in 0..8 {
        t.sent(&format!("m{i}"), t0, t0);
    }
    t.status(&status("zzz", StatusKind::Sent), t0);
    let s = t.snapshot();
    assert_eq!(s.tracked, 5);
    assert_eq!(s.overflow, 4);
    assert_eq!(s.accepted, 8);
}

#[test]
fn tracker_is_shared_across_threads() {
    let t = Tracker::default();
    let t0 = Instant::now();
    std::thread::scope(|scope| {
        for w in 0..4 {
            let t = t.clone();
            scope.spawn(move || {
                for i in 0..1000 {
                    let id = format!("w{w}-{i}");
                    t.sent(&id, t0, t0);
                    t.status(&status(&id, StatusKind::Delivered), t0 + ms(1));
                }
            });
        }
    });
    let s = t.finish();
    assert_eq!(s.accepted, 4000);
    assert_eq!(s.messages_delivered, 4000);
    assert_eq!(s.latency_us.accept_to_delivered.count, 4000);
    assert_eq!(s.lost, 0);
}
