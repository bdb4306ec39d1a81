//! Load generation: the plan (from a profile), the pure pacer, and the executor that drives one
//! target with one single-threaded event loop per thread, each connection owned by one task.

pub mod executor;
pub mod pacer;

use std::sync::Arc;
use std::time::Duration;

pub use executor::{TargetRun, run_target};
pub use pacer::Pacer;

use crate::profile::{LoadSpec, Model};

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
    /// This process is shard `index` of `count` (0 of 1 when not sharded).
    pub shard: Shard,
}

/// A part of a run split over several processes or machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl Shard {
    /// Parse `i/N` (0 ≤ i < N).
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (i, n) = s.split_once('/').ok_or_else(|| format!("{s:?}: write the shard as i/N, e.g. 0/4"))?;
        let index: u32 = i.trim().parse().map_err(|_| format!("{s:?}: {i:?} is not a shard number"))?;
        let count: u32 = n.trim().parse().map_err(|_| format!("{s:?}: {n:?} is not a shard count"))?;
        if count == 0 || index >= count {
            return Err(format!("{s:?}: the shard number must be from 0 to N-1"));
        }
        Ok(Shard { index, count })
    }

    /// The message number of the `k`-th request of this shard in the whole run.
    pub fn global(&self, k: u64) -> u64 {
        k * u64::from(self.count) + u64::from(self.index)
    }

    pub fn is_sharded(&self) -> bool {
        self.count > 1
    }
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
        let all = l.connections.unwrap_or(match l.model {
            Model::Open => 64,
            Model::Closed => 16,
        });
        let connections = (all / shard.count + u32::from(shard.index < all % shard.count)).max(1);
        let threads = l.threads.unwrap_or(cpus).clamp(1, connections.max(1));
        let pacer = match l.model {
            Model::Closed => None,
            Model::Open => Some(Arc::new(
                match l.rate {
                    Some(r) => {
                        let d = l.duration.map_or(Duration::ZERO, |d| d.0);
                        let p = Pacer::constant(r, d);
                        match l.max_requests {
                            Some(m) => Pacer::new(
                                vec![pacer::Segment { from: r, to: r, secs: d.as_secs_f64() }],
                                Some(m.min(p.total())),
                            ),
                            None => p,
                        }
                    }
                    None => {
                        let st: Vec<(f64, Duration)> = l.stages.iter().map(|s| (s.to, s.over.0)).collect();
                        Pacer::stages(l.start_rate, &st, l.max_requests)
                    }
                }
                .shard(u64::from(shard.index), u64::from(shard.count)),
            )),
        };
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
            shard,
        }
    }

    /// Requests the plan will send, when it is known in advance.
    pub fn expected_requests(&self) -> Option<u64> {
        match &self.pacer {
            Some(p) => Some(p.total()),
            None => self.max_requests,
        }
    }

    /// Mean requested rate over the plan (open loop).
    pub fn requested_rate(&self) -> Option<f64> {
        let p = self.pacer.as_ref()?;
        let secs = p.duration().as_secs_f64();
        (secs > 0.0).then(|| p.total() as f64 / secs)
    }
}
