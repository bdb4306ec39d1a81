//! The simulator's connection cap: whether one more connection is served, and the one log line
//! each time the cap is reached. Owns no socket.

/// The connection cap of [`super::Sim::serve`] and its one log line per time it is reached.
#[derive(Debug)]
pub(crate) struct ConnectionCap {
    max: usize,
    reached: bool,
}

impl ConnectionCap {
    pub(crate) fn new(max: u32) -> ConnectionCap {
        ConnectionCap { max: usize::try_from(max).unwrap_or(usize::MAX).max(1), reached: false }
    }

    /// Whether a new connection may be served while `open` are: no at the cap (said once on
    /// stderr until the count falls below 90 % of the cap).
    pub(crate) fn admits(&mut self, open: usize) -> bool {
        if open >= self.max {
            if !self.reached {
                eprintln!(
                    "wabench simulator: {} connections open, the cap (simulator.server.max_connections, \
                     --max-connections): closing new connections at once until some end",
                    self.max
                );
                self.reached = true;
            }
            return false;
        }
        if self.reached && open < self.max - self.max / 10 {
            self.reached = false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_admits_below_it_and_rearms_below_ninety_percent() {
        let mut cap = ConnectionCap::new(10);
        assert!(cap.admits(0) && cap.admits(9));
        assert!(!cap.admits(10) && cap.reached);
        assert!(!cap.admits(12));
        assert!(cap.admits(9) && cap.reached, "still near the cap: no new log line yet");
        assert!(cap.admits(8) && !cap.reached, "below 90 %: the next time is said again");
        assert!(!ConnectionCap::new(0).admits(1), "at least one connection");
        assert!(ConnectionCap::new(0).admits(0));
    }
}
