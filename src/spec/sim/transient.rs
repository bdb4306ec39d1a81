//! The `[simulator.transient]` table: how often message sends fail for no reason of their own, per
//! API, so that the Cloud API and the On-Premises API can show different error rates (Meta: the
//! Cloud API "has different latencies and error rates"; seed document: network problems can fail a
//! request before it reaches the Graph API layer).
//!
//! ```toml
//! [simulator.transient]
//! stall_for = "30s"          # how long a stalled answer is held (past the client's timeout)
//! cloud = { server_error = 0.002, unknown_error = 0.001, bare_5xx = 0.001, stall = 0.0005 }
//! onprem = { server_error = 0.001, bare_5xx = 0.0, stall = 0.0 }
//! ```
//!
//! Every rate is a fraction of message sends (0..=1; a flavor's rates add up to at most 1). Defaults:
//! all 0. Meta publishes no error rate for either API, so any other default would be invented; the
//! simulator answers only what the profile asks of it, and a profile that wants transient errors
//! states their rates.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The `[simulator.transient]` table.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TransientConfig {
    /// How long a stalled send is held before its answer (which then comes too late for a client
    /// with a shorter timeout). Default 30s: past the client's default 10 s timeout.
    #[schemars(with = "crate::units::duration::Dur")]
    #[serde(with = "crate::units::duration::serde")]
    pub stall_for: Duration,
    /// Rates of the Cloud flavor.
    pub cloud: CloudTransient,
    /// Rates of the On-Premises flavor.
    pub onprem: OnPremTransient,
}

impl Default for TransientConfig {
    fn default() -> Self {
        TransientConfig {
            stall_for: Duration::from_secs(30),
            cloud: CloudTransient::default(),
            onprem: OnPremTransient::default(),
        }
    }
}

/// Transient errors of the Cloud API, as fractions of message sends. Default: all 0.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CloudTransient {
    /// Code 131000 "Something went wrong", HTTP 500 (Meta's Cloud API error codes).
    pub server_error: f64,
    /// Code 1 "API Unknown: invalid request or possible server error", HTTP 400 (Meta's Cloud API
    /// error codes, developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
    pub unknown_error: f64,
    /// HTTP 502 / 503 / 504 with no API body (a proxy or load balancer in front of the API).
    pub bare_5xx: f64,
    /// Answered only after `stall_for` (the send itself goes through).
    pub stall: f64,
}

/// Transient errors of the On-Premises API, as fractions of message sends. Default: all 0.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct OnPremTransient {
    /// Code 1014 "Internal error", HTTP 500 (Meta's On-Premises error codes).
    pub server_error: f64,
    /// HTTP 502 / 503 / 504 with no API body (the business's own proxy or load balancer).
    pub bare_5xx: f64,
    /// Answered only after `stall_for` (the send itself goes through).
    pub stall: f64,
}

/// The rates of one flavor in a common shape: (server error, unknown error, bare 5xx, stall).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    pub server_error: f64,
    pub unknown_error: f64,
    pub bare_5xx: f64,
    pub stall: f64,
}

impl Rates {
    /// Any transient error at all.
    pub fn total(&self) -> f64 {
        self.server_error + self.unknown_error + self.bare_5xx + self.stall
    }
}

impl From<CloudTransient> for Rates {
    fn from(c: CloudTransient) -> Rates {
        Rates { server_error: c.server_error, unknown_error: c.unknown_error, bare_5xx: c.bare_5xx, stall: c.stall }
    }
}

impl From<OnPremTransient> for Rates {
    fn from(o: OnPremTransient) -> Rates {
        Rates { server_error: o.server_error, unknown_error: 0.0, bare_5xx: o.bare_5xx, stall: o.stall }
    }
}

impl TransientConfig {
    /// The rates of a flavor.
    pub fn rates(&self, flavor: super::Flavor) -> Rates {
        match flavor {
            super::Flavor::Cloud => self.cloud.into(),
            super::Flavor::OnPrem => self.onprem.into(),
        }
    }

    /// Check every rate is in 0..=1, each flavor's add up to at most 1, and stalls last a while.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let c = &self.cloud;
        let o = &self.onprem;
        let fields = [
            ("cloud.server_error", c.server_error),
            ("cloud.unknown_error", c.unknown_error),
            ("cloud.bare_5xx", c.bare_5xx),
            ("cloud.stall", c.stall),
            ("onprem.server_error", o.server_error),
            ("onprem.bare_5xx", o.bare_5xx),
            ("onprem.stall", o.stall),
        ];
        for (name, v) in fields {
            if !(0.0..=1.0).contains(&v) {
                return Err(ConfigError(format!("transient.{name} must be in 0..=1 (a fraction of sends), not {v}")));
            }
        }
        for (name, r) in [("cloud", Rates::from(*c)), ("onprem", Rates::from(*o))] {
            if r.total() > 1.0 + 1e-9 {
                return Err(ConfigError(format!("transient.{name}: the rates add up to {} (at most 1)", r.total())));
            }
        }
        if self.stall_for.is_zero() && (c.stall > 0.0 || o.stall > 0.0) {
            return Err(ConfigError("transient.stall_for must be > 0 when stalls are on".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_doc_example_parses_and_defaults_are_zero() {
        let text = crate::spec::doc_toml(include_str!("transient.rs"), |_| true).replace("[simulator.transient]", "");
        let t: TransientConfig = toml::from_str(&text).unwrap();
        t.validate().unwrap();
        assert_eq!(t.cloud.server_error, 0.002);
        assert_eq!(t.stall_for, Duration::from_secs(30));
        let d = TransientConfig::default();
        assert_eq!(d.rates(super::super::Flavor::Cloud).total(), 0.0);
        assert_eq!(d.rates(super::super::Flavor::OnPrem).total(), 0.0);
    }

    #[test]
    fn rates_out_of_range_are_named() {
        let mut t = TransientConfig::default();
        t.onprem.bare_5xx = 1.5;
        assert!(t.validate().unwrap_err().0.contains("transient.onprem.bare_5xx"));
        let t = TransientConfig {
            cloud: CloudTransient { server_error: 0.6, unknown_error: 0.6, ..CloudTransient::default() },
            ..TransientConfig::default()
        };
        assert!(t.validate().unwrap_err().0.contains("add up"));
        // Code 1 is a Graph API (Cloud) code: the On-Premises table has no such field.
        assert!(toml::from_str::<TransientConfig>("onprem = { unknown_error = 0.1 }").is_err());
    }
}
