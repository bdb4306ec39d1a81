//! One event of the live page: the run as it stands, in JSON. Every figure is one the results will
//! hold: counts up to the latest finished second (the aggregator's live view), the timeline rows of
//! the latest seconds, outcomes by key, delivery latency when status webhooks are tracked, and the
//! slowest traced requests of the latest seconds (`[tracing]`).

use std::sync::atomic::Ordering;
use std::time::Instant;

use serde_json::{Value, json};

use super::{Entry, Operator};
use crate::engine::metrics::Outcome;

/// The run as it stands.
pub fn of(op: &Operator) -> Value {
    let entries = op.entries();
    let running: Vec<&str> =
        entries.iter().filter(|e| !e.done.load(Ordering::Relaxed)).map(|e| e.name.as_str()).collect();
    let orders = op.orders();
    let state = if *op.ended.borrow() {
        "finished"
    } else if op.stopped() {
        "stopping"
    } else if orders.paused {
        "paused"
    } else {
        "running"
    };
    json!({
        "profile": op.info.profile,
        "model": op.info.model.name(),
        "state": state,
        "paused": orders.paused,
        "rate": orders.rate,
        "max_rate": op.info.max_rate,
        "elapsed_s": op.elapsed().as_secs_f64(),
        "planned_s": op.info.duration.map(|d| d.as_secs_f64()),
        "all_targets": op.info.targets,
        "current": running,
        "targets": entries.iter().map(|e| target(e, op.info.duration)).collect::<Vec<_>>(),
        "actions": op.actions(),
    })
}

/// One target: its totals, recent seconds, outcomes, delivery.
fn target(e: &Entry, duration: Option<std::time::Duration>) -> Value {
    let p = &e.progress;
    let elapsed = p.t0.get().map(|t0| Instant::now().saturating_duration_since(*t0));
    let done = e.done.load(Ordering::Relaxed);
    // Every count from the aggregator's view: the seconds finished so far, as the outcomes are.
    let (mut sent, mut ok, mut errors, mut dropped) = (0, 0, 0, 0);
    let (rows, outcomes, in_flight, second, traced) = match p.view.lock() {
        Ok(v) => {
            let t = &v.totals;
            sent = t.started;
            dropped = t.dropped;
            ok = t.outcomes.get(&Outcome::Ok).copied().unwrap_or(0);
            // The results' own rule of what an error is.
            let by_key: Vec<(String, u64)> = t.outcomes.iter().map(|(o, n)| (o.key(), *n)).collect();
            errors = crate::results::errors_of(&by_key);
            let rows: Vec<Value> = v
                .recent
                .iter()
                .map(|r| json!([r.second, r.requested, r.started, r.ok, r.errors, r.p50_us, r.p90_us, r.p99_us]))
                .collect();
            let outcomes: serde_json::Map<String, Value> =
                v.totals.outcomes.iter().map(|(o, n)| (o.key(), json!(n))).collect();
            (rows, outcomes, v.totals.in_flight(), v.second, slowest_traced(&v.traced))
        }
        Err(_) => (Vec::new(), serde_json::Map::new(), 0, 0, Vec::new()),
    };
    let (_, schedule) = p.control.schedule();
    let requested_rate = match (&schedule, elapsed) {
        (Some(s), Some(el)) if !done => Some(s.rate_at(el)),
        _ => None,
    };
    json!({
        "name": e.name,
        "kind": e.kind,
        "running": !done,
        "elapsed_s": elapsed.map(|d| d.as_secs_f64()),
        "left_s": match (duration, elapsed) {
            (Some(d), Some(el)) if !done => Some(d.saturating_sub(el).as_secs_f64()),
            _ => None,
        },
        "requested_rate": requested_rate,
        "second": second,
        "sent": sent,
        "ok": ok,
        "errors": errors,
        "dropped": dropped,
        "in_flight": in_flight,
        "outcomes": outcomes,
        "rows": rows,
        "delivery": e.delivery.as_ref().map(delivery),
        "traced": traced,
    })
}

/// How many of the slowest recent traced requests an event shows.
const TRACED_SHOWN: usize = 5;

/// The slowest of the traced requests the live view keeps (those of the latest seconds), slowest
/// first: second, latency, outcome, trace id and wamid, to look up in a tracing back-end while the run
/// goes.
fn slowest_traced(recent: &std::collections::VecDeque<crate::results::exemplars::Exemplar>) -> Vec<Value> {
    let mut v: Vec<_> = recent.iter().collect();
    v.sort_by(|a, b| b.latency_us.cmp(&a.latency_us).then(b.second.cmp(&a.second)));
    v.iter()
        .take(TRACED_SHOWN)
        .map(|e| {
            json!({
                "second": e.second,
                "latency_us": e.latency_us,
                "outcome": e.outcome,
                "trace_id": e.trace_id,
                "wamid": e.wamid,
            })
        })
        .collect()
}

/// Delivery so far: messages delivered, failed, waiting; accept-to-delivered percentiles (µs).
fn delivery(t: &crate::webhook::Tracker) -> Value {
    let s = t.snapshot();
    let l = &s.latency_us.accept_to_delivered;
    json!({
        "accepted": s.accepted,
        "delivered": s.messages_delivered,
        "failed": s.messages_failed,
        "waiting": s.in_flight,
        "lost": s.lost,
        "p50_us": (l.count > 0).then_some(l.p50),
        "p90_us": (l.count > 0).then_some(l.p90),
        "p99_us": (l.count > 0).then_some(l.p99),
    })
}
