//! The `[simulator.server]` table: how long the simulator's HTTP/1.1 server waits for a client and
//! how many connections it holds, so that a slow or hostile client never holds it forever.
//!
//! ```toml
//! [simulator.server]
//! read_header_timeout = "30s"   # a request head must arrive whole within this
//! idle_timeout = "30s"          # no next request, a body not whole, an answer not taken: closed
//! max_connections = 10000       # connections beyond this are closed at once (one log line)
//! ```
//!
//! The head timeout and its default follow hyper's server (`http1::Builder::header_read_timeout`,
//! 30 s; Go's `ReadHeaderTimeout` names it so). The idle timeout bounds each other wait on the
//! client as a whole, so that a body or an answer trickled a byte at a time ends too. A timeout
//! may end a wait up to an eighth of the shortest timeout (at most 1 s) after it, never before:
//! the server moves one timer per connection that seldom, not at every request.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::primitives::ConfigError;

/// Longest accepted timeout (one day): a server that waits longer holds its connections forever.
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// The `[simulator.server]` table.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// A request head must arrive whole within this: from the accept on a new connection, from its
    /// first byte on a kept one. A head still incomplete is answered 408 and the connection closed.
    /// Default 30s (hyper's server default).
    #[schemars(with = "crate::units::duration::Dur")]
    #[serde(with = "crate::units::duration::serde")]
    pub read_header_timeout: Duration,
    /// The longest wait for the client, each time: for the next request on a kept connection, for a
    /// request body to arrive whole, for the client to take an answer. Then the connection is
    /// closed. Default 30s.
    #[schemars(with = "crate::units::duration::Dur")]
    #[serde(with = "crate::units::duration::serde")]
    pub idle_timeout: Duration,
    /// Connections served at once. A connection beyond it is closed as soon as it is accepted, and
    /// one line on stderr says the cap was reached (again only after the count fell below 90 % of
    /// it). Default 10000.
    pub max_connections: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            read_header_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(30),
            max_connections: 10_000,
        }
    }
}

impl ServerConfig {
    /// Timeouts in (0, 1 day], at least one connection.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, d) in [("read_header_timeout", self.read_header_timeout), ("idle_timeout", self.idle_timeout)] {
            if d.is_zero() || d > MAX_TIMEOUT {
                return Err(ConfigError(format!("server.{name} must be longer than 0 and at most 1 day")));
            }
        }
        if self.max_connections == 0 {
            return Err(ConfigError("server.max_connections must be at least 1".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_hypers_and_ranges_are_checked() {
        let d = ServerConfig::default();
        d.validate().unwrap();
        assert_eq!(d.read_header_timeout, Duration::from_secs(30));
        let text = crate::spec::doc_toml(include_str!("server.rs"), |_| true).replace("[simulator.server]", "");
        let doc: ServerConfig = toml::from_str(&text).unwrap();
        assert_eq!(doc, d, "the module's example shows the defaults");
        let c: ServerConfig = toml::from_str("read_header_timeout = \"1s\"\nmax_connections = 5").unwrap();
        assert_eq!((c.read_header_timeout, c.max_connections), (Duration::from_secs(1), 5));
        for bad in ["idle_timeout = \"0s\"", "read_header_timeout = \"2days\"", "max_connections = 0"] {
            let c: ServerConfig = toml::from_str(bad).unwrap();
            assert!(c.validate().is_err(), "{bad}");
        }
        assert!(toml::from_str::<ServerConfig>("timeout = \"1s\"").is_err());
    }
}
