//! The simulator settings both its API and its webhook tables use: the flavor, latency distributions
//! and the error of a value out of range. A leaf of `spec::sim`.

use serde::{Deserialize, Serialize};

/// Which deployment the simulator imitates.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    /// Meta-hosted Cloud API: `POST /{version}/{phone-number-id}/messages`.
    #[default]
    Cloud,
    /// Self-hosted On-Premises API: `POST /v1/users/login`, `POST /v1/messages`, ...
    OnPrem,
}

/// Shape of the latency distribution.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Distribution {
    /// Log-normal with the given median and p99 (sigma = ln(p99/median) / 2.3263).
    #[default]
    Lognormal,
    /// Always `median` (use `median = "0ms"` for throughput benchmarks).
    Constant,
    /// Uniform between `min` and `max`.
    Uniform,
}

/// A configuration value outside its allowed range.
#[derive(Debug, thiserror::Error)]
#[error("simulator config: {0}")]
pub struct ConfigError(pub String);
