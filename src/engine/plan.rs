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

    /// The mean requested rate of an open-loop plan (what results store as `rate.requested`): the
    /// requests it plans over its whole length, a ramp's slow start and any pause included (quickstart's
    /// 1,050 requests in 20 s: 52.5/s). The achieved rate ([`Recorder::achieved_rate`]) is measured over
    /// the same span, from the start of the run, so a run on schedule achieves 100% of it.
    ///
    /// [`Recorder::achieved_rate`]: super::metrics::Recorder::achieved_rate
    pub fn schedule_rate(&self) -> Option<f64> {
        let p = self.pacer.as_ref()?;
        let secs = p.duration().as_secs_f64();
        (secs > 0.0).then(|| p.total() as f64 / secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Dur, Stage};

    fn load(rate: Option<f64>, stages: &[(f64, u64)], duration: Option<u64>) -> LoadSpec {
        let mut l: LoadSpec = toml::from_str("").unwrap();
        l.rate = rate;
        l.stages = stages.iter().map(|&(to, s)| Stage { to, over: Dur(Duration::from_secs(s)) }).collect();
        l.duration = duration.map(|s| Dur(Duration::from_secs(s)));
        l
    }

    #[test]
    fn the_mean_requested_rate_is_the_planned_requests_over_the_planned_length() {
        // quickstart: 0 → 60/s over 5 s (150 requests), then 60/s for 15 s (900): 1,050 in 20 s.
        let quickstart = Plan::from_spec(&load(None, &[(60.0, 5), (60.0, 15)], None));
        assert_eq!(quickstart.expected_requests(), Some(1050));
        assert_eq!(quickstart.schedule_rate(), Some(52.5));
        // Quick mode --stage 50:2s --stage 100:2s: 50 + 150 = 200 requests in 4 s.
        let quick = Plan::from_spec(&load(None, &[(50.0, 2), (100.0, 2)], None));
        assert_eq!(quick.expected_requests(), Some(200));
        assert_eq!(quick.schedule_rate(), Some(50.0));
        // A constant rate is its own mean.
        assert_eq!(Plan::from_spec(&load(Some(200.0), &[], Some(5))).schedule_rate(), Some(200.0));
    }
}
