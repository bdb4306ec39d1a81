//! Measures delivery-tracker throughput under contention: threads that each accept messages
//! and report their sent/delivered/read statuses, for several shard counts, against a design
//! where every update is sent over a channel to a single owner thread.
//!
//! Usage: `tracker_throughput [threads=2] [messages_per_thread=200000]`.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use wabench::webhook::{Status, StatusKind, Tracker, TrackerConfig};

// Statuses travel by value, as they would in a channel-based tracker.
#[allow(clippy::large_enum_variant)]
enum Op {
    Sent(String, Instant),
    Status(Status, Instant),
}

fn statuses(id: &str) -> [Status; 3] {
    [StatusKind::Sent, StatusKind::Delivered, StatusKind::Read]
        .map(|k| Status::new(id, k, 1_700_000_000, "15550001234"))
}

fn report(label: &str, ops: u64, elapsed: Duration) {
    let rate = ops as f64 / elapsed.as_secs_f64();
    println!("{label:<28} {:>10.0} updates/s  ({:.2} us/update)", rate, 1e6 / rate);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let per_thread: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let ops = (threads * per_thread * 4) as u64;
    // Ids and payloads are built beforehand so only tracker work is timed.
    let work: Vec<Vec<(String, [Status; 3])>> = (0..threads)
        .map(|t| {
            (0..per_thread)
                .map(|i| {
                    let id = format!("wamid.HBgLMTU1NTAwMDEyMzQVAgARGBI{t:02}{i:010}");
                    let st = statuses(&id);
                    (id, st)
                })
                .collect()
        })
        .collect();

    for shards in [1, 8, 32] {
        let tracker = Tracker::new(TrackerConfig { shards, ..TrackerConfig::default() });
        let start = Instant::now();
        std::thread::scope(|s| {
            for chunk in &work {
                let tracker = tracker.clone();
                s.spawn(move || {
                    for (id, sts) in chunk {
                        let now = Instant::now();
                        tracker.sent(id, now, now);
                        for st in sts {
                            tracker.status(st, Instant::now());
                        }
                    }
                });
            }
        });
        let elapsed = start.elapsed();
        assert_eq!(tracker.finish().messages_delivered as usize, threads * per_thread);
        report(&format!("mutex, {shards} shard(s)"), ops, elapsed);
    }

    // Single owner thread fed by a channel.
    let tracker = Tracker::new(TrackerConfig { shards: 1, ..TrackerConfig::default() });
    let (tx, rx) = mpsc::sync_channel::<Op>(65_536);
    let owner = {
        let tracker = tracker.clone();
        std::thread::spawn(move || {
            for op in rx {
                match op {
                    Op::Sent(id, at) => tracker.sent(&id, at, at),
                    Op::Status(st, at) => tracker.status(&st, at),
                }
            }
        })
    };
    let start = Instant::now();
    std::thread::scope(|s| {
        for chunk in &work {
            let tx = tx.clone();
            s.spawn(move || {
                for (id, sts) in chunk {
                    let _ = tx.send(Op::Sent(id.clone(), Instant::now()));
                    for st in sts {
                        let _ = tx.send(Op::Status(st.clone(), Instant::now()));
                    }
                }
            });
        }
    });
    drop(tx);
    let _ = owner.join();
    let elapsed = start.elapsed();
    assert_eq!(tracker.finish().messages_delivered as usize, threads * per_thread);
    report("channel to one owner", ops, elapsed);
}
