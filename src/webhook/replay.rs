//! Replaying delivery records: every send of the shards and every status of the receivers, merged in
//! time order, fed to the [`Tracker`] a single run uses, and settled as a run settles it at its end.
//! `wabench merge --webhooks` computes a sharded run's delivery figures with it, so there is one
//! delivery algorithm.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::correlate::{Tracker, TrackerConfig};
use super::record::{Reader, SendRecord, StatusRecord, read_sends, read_statuses};
use crate::results::delivery::{DeliveryStats, IdentityCounts};

/// What a replay needs besides the records.
#[derive(Debug, Clone, Default)]
pub struct ReplayInput {
    /// Sends files (one per shard), each read to its end.
    pub sends: Vec<PathBuf>,
    /// Statuses files (one per receiver process).
    pub statuses: Vec<PathBuf>,
    /// Inbound user messages the receivers counted.
    pub inbound: u64,
    /// How the receivers' webhooks identified users.
    pub identities: IdentityCounts,
}

/// The delivery figures of a replay, and what it left out.
#[derive(Debug, Clone)]
pub struct Replayed {
    pub stats: DeliveryStats,
    /// Statuses received after the last sends file's `#end` (a run with its own receiver would
    /// have stopped listening by then).
    pub late: u64,
    /// The earliest event, µs since the Unix epoch (None when there was none).
    pub first_us: Option<i64>,
}

enum Event {
    Send(SendRecord),
    Status(StatusRecord),
}

impl Event {
    /// Sort key: time, then sends before statuses at the same microsecond.
    fn key(&self) -> (i64, u8) {
        match self {
            Event::Send(s) => (s.accepted_us, 0),
            Event::Status(s) => (s.received_us, 1),
        }
    }
}

enum Source {
    Sends(Reader<SendRecord>),
    Statuses(Reader<StatusRecord>),
}

impl Source {
    fn next(&mut self) -> Option<Result<Event, String>> {
        match self {
            Source::Sends(r) => r.next().map(|x| x.map(Event::Send)),
            Source::Statuses(r) => r.next().map(|x| x.map(Event::Status)),
        }
    }
}

/// Feeds every send and status, merged in time order across the files, to a [`Tracker`] configured
/// like a run's, and settles it as a run does at its end. Memory: one record per file, plus the
/// tracker's own bounded table.
pub fn replay(input: &ReplayInput, cfg: TrackerConfig) -> Result<Replayed, String> {
    let mut sources: Vec<Source> = Vec::new();
    for p in &input.sends {
        sources.push(Source::Sends(read_sends(p)?));
    }
    for p in &input.statuses {
        sources.push(Source::Statuses(read_statuses(p)?));
    }
    let mut heads: Vec<Option<Event>> = Vec::with_capacity(sources.len());
    let mut heap = BinaryHeap::new();
    for (i, s) in sources.iter_mut().enumerate() {
        let e = s.next().transpose()?;
        if let Some(e) = &e {
            heap.push(Reverse((e.key(), i)));
        }
        heads.push(e);
    }
    let first_us = heap.peek().map(|Reverse(((t, _), _))| *t);
    // Instants from µs: far enough from "now" that earlier records (a send's start, a record a
    // little out of order) stay representable.
    let base = Instant::now() + Duration::from_secs(365 * 24 * 3600);
    let t0 = first_us.unwrap_or(0);
    let at = |us: i64| {
        let d = Duration::from_micros(us.abs_diff(t0));
        if us >= t0 { base.checked_add(d).unwrap_or(base) } else { base.checked_sub(d).unwrap_or(base) }
    };
    let tracker = Tracker::new(cfg);
    let mut late = 0u64;
    while let Some(Reverse((_, i))) = heap.pop() {
        let Some(event) = heads[i].take() else { continue };
        match event {
            Event::Send(s) => tracker.sent(&s.id, at(s.send_start_us), at(s.accepted_us)),
            // A status is late when every sends file has ended before it (a sends file not read to
            // its end yet holds a later record, so it had not ended).
            Event::Status(s) if ended_before(&sources, &heads, s.received_us) => late += 1,
            Event::Status(s) => tracker.status(&s.status(), at(s.received_us)),
        }
        heads[i] = sources[i].next().transpose()?;
        if let Some(e) = &heads[i] {
            heap.push(Reverse((e.key(), i)));
        }
    }
    tracker.inbound(input.inbound);
    tracker.identities(&input.identities);
    Ok(Replayed { stats: tracker.finish(), late, first_us })
}

/// Whether every sends file is read to its end and ended before `t` (never, without sends files or
/// when one has no end mark: a run that was killed).
fn ended_before(sources: &[Source], heads: &[Option<Event>], t: i64) -> bool {
    let mut any = false;
    for (s, head) in sources.iter().zip(heads) {
        if let Source::Sends(r) = s {
            match (head, r.end_us) {
                (None, Some(end)) if end < t => any = true,
                _ => return false,
            }
        }
    }
    any
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::webhook::model::{Status, StatusError, StatusKind};
    use crate::webhook::record::{SendLog, StatusLog};

    fn status(id: &str, kind: StatusKind, code: Option<i64>) -> Status {
        let mut s = Status::new(id, kind, 1_700_000_000, "1555");
        if let Some(c) = code {
            s.errors = Some(vec![StatusError::new(c, "x")]);
        }
        s
    }

    /// The replay gives exactly what a tracker fed the same events live computes.
    #[test]
    fn replay_equals_the_live_tracker() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = TrackerConfig::default();
        let live = Tracker::new(cfg.clone());
        let shard = |i: usize| SendLog::create(&dir.path().join(format!("s{i}.csv"))).unwrap();
        let (a, b) = (shard(0), shard(1));
        let log = StatusLog::create(&dir.path().join("st.csv")).unwrap();
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        // Events in time order: sends on two shards, statuses (one early, one duplicate, one failed,
        // one unknown id); message 3 is never settled (lost).
        type Event<'a> = (u64, &'a str, Option<(StatusKind, Option<i64>)>);
        let mut events: Vec<Event> = vec![
            (10, "m0", None),
            (11, "m1", None),
            (12, "m2", None),
            (13, "m3", None),
            (30, "m0", Some((StatusKind::Sent, None))),
            (31, "m0", Some((StatusKind::Delivered, None))),
            (32, "m0", Some((StatusKind::Delivered, None))),
            (40, "m1", Some((StatusKind::Failed, Some(131026)))),
            (41, "m9", Some((StatusKind::Delivered, None))),
            (50, "m2", Some((StatusKind::Read, None))),
            (60, "m4", Some((StatusKind::Delivered, None))),
            (61, "m4", None),
        ];
        events.sort_by_key(|e| e.0);
        for (i, (at, id, st)) in events.iter().enumerate() {
            match st {
                None => {
                    live.sent(id, ms(*at - 5), ms(*at));
                    (if i % 2 == 0 { &a } else { &b }).record(id, ms(*at - 5), ms(*at));
                }
                Some((k, code)) => {
                    let s = status(id, k.clone(), *code);
                    live.status(&s, ms(*at));
                    log.record(&s, ms(*at));
                }
            }
        }
        a.close(ms(100)).unwrap();
        b.close(ms(55)).unwrap();
        log.close().unwrap();
        let input = ReplayInput {
            sends: vec![dir.path().join("s0.csv"), dir.path().join("s1.csv")],
            statuses: vec![dir.path().join("st.csv")],
            inbound: 2,
            identities: IdentityCounts::default(),
        };
        live.inbound(2);
        let r = replay(&input, cfg.clone()).unwrap();
        let want = live.finish();
        assert_eq!(serde_json::to_value(&r.stats).unwrap(), serde_json::to_value(&want).unwrap());
        assert_eq!((want.messages_delivered, want.messages_failed, want.lost, want.duplicates), (3, 1, 1, 1));
        assert_eq!((want.unknown_ids, want.early_statuses), (1, 1));
        assert_eq!(r.late, 0);

        // Statuses after every shard's end are left out, as a run that stopped listening leaves them.
        let late = StatusLog::create(&dir.path().join("late.csv")).unwrap();
        late.record(&status("m3", StatusKind::Delivered, None), ms(500));
        late.close().unwrap();
        let mut with_late = input.clone();
        with_late.statuses.push(dir.path().join("late.csv"));
        let r = replay(&with_late, cfg).unwrap();
        assert_eq!((r.late, r.stats.lost, r.stats.messages_delivered), (1, 1, 3));
    }
}
