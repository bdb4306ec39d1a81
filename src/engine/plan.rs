//! The load plan: a profile's `[load]` table made ready to run (defaults applied, this shard's part of
//! the schedule, threads and connections).

use std::sync::Arc;
use std::time::Duration;

pub use crate::results::Shard;
use crate::spec::schedule::Pacer;
use crate::spec::{LoadSpec, Model};

/// A checked, ready-to-run load plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub model: Model,
    /// Open loop: when each request is due.
    pub pacer: Option<Arc<Pacer>>,
    /// Closed loop: how long to run (the open loop's length is the pacer's).
    pub duration: Option<Duration>,
    pub max_requests: Option<u64>,
    pub connections: u32,
    pub max_in_flight: u64,
    pub think_time: Duration,
    pub timeout: Duration,
    pub drain: Duration,
    pub threads: u32,
    /// Keep connections open between requests (else one connection per request).
    pub keepalive: bool,
    /// HTTP/2 streams per connection: `connections` tasks share ceil(connections / streams) connections.
    pub streams: u32,
    /// This process is shard `index` of `count` (0 of 1 when not sharded).
    pub shard: Shard,
    /// Which requests carry a `traceparent` (none without).
    pub trace: Option<Arc<super::trace::Tracer>>,
}

impl Plan {
    /// The plan a profile's `[load]` table describes (the profile was validated).
    pub fn from_spec(l: &LoadSpec) -> Plan {
        Plan::sharded(l, Shard::default())
    }

    /// The plan of one shard: open loop, every `count`-th request of the whole schedule; closed loop,
    /// its share of the virtual users and of `max_requests`.
    pub fn sharded(l: &LoadSpec, shard: Shard) -> Plan {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        let all = l.connections_or_default();
        let connections = (all / shard.count + u32::from(shard.index < all % shard.count)).max(1);
        let streams = l.streams_per_connection.unwrap_or(1).max(1);
        // Each thread owns whole connections (with all their streams).
        let threads = l.threads.unwrap_or(cpus).clamp(1, connections.div_ceil(streams).max(1));
        let pacer = l.schedule().map(|p| Arc::new(p.shard(u64::from(shard.index), u64::from(shard.count))));
        Plan {
            model: l.model,
            duration: match l.model {
                Model::Open => pacer.as_ref().map(|p| p.duration()),
                Model::Closed => l.duration.map(|d| d.0),
            },
            pacer,
            max_requests: l.max_requests.map(|m| {
                let (i, n) = (u64::from(shard.index), u64::from(shard.count));
                if m <= i { 0 } else { (m - i).div_ceil(n) }
            }),
            connections,
            max_in_flight: l.max_in_flight.unwrap_or(u64::from(connections) * 10).max(u64::from(connections)),
            think_time: l.think_time.map_or(Duration::ZERO, |d| d.0),
            timeout: l.timeout.map_or(Duration::from_secs(10), |d| d.0),
            drain: l.drain.map_or(Duration::from_secs(5), |d| d.0),
            threads,
            keepalive: l.keepalive.unwrap_or(true),
            streams,
            shard,
            trace: None,
        }
    }

    /// The connections the plan opens (when none breaks): one per task, or with HTTP/2 streams one per
    /// `streams` tasks.
    pub fn connection_count(&self) -> u32 {
        self.connections.div_ceil(self.streams.max(1))
    }

    /// Requests the plan will send, when it is known in advance.
    pub fn expected_requests(&self) -> Option<u64> {
        match &self.pacer {
            Some(p) => Some(p.total()),
            None => self.max_requests,
        }
    }

    /// The schedule's own spacing over the window its requests span: (n-1) gaps from the first to the last
    /// due request (the mean requested rate when the schedule has fewer than two distinct times).
    pub fn schedule_rate(&self) -> Option<f64> {
        self.pacer.as_ref().and_then(|p| {
            let n = p.total();
            let first = p.due(0)?.as_secs_f64();
            let last = p.due(n.checked_sub(1)?)?.as_secs_f64();
            if n > 1 && last > first { Some((n - 1) as f64 / (last - first)) } else { self.requested_rate() }
        })
    }

    /// Mean requested rate over the plan (open loop).
    pub fn requested_rate(&self) -> Option<f64> {
        let p = self.pacer.as_ref()?;
        let secs = p.duration().as_secs_f64();
        (secs > 0.0).then(|| p.total() as f64 / secs)
    }
}
