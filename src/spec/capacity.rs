//! The profile's `[plan]` table: the SLO and the breakpoint search of `wabench plan`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::units::Dur;

/// The profile's `[plan]` table.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PlanSpec {
    /// The SLO: latency p99 (from the intended start) must stay below this …
    pub slo_p99: Dur,
    /// … and the error rate below this fraction (0.01 = 1%).
    pub max_error_rate: f64,
    /// First rate tried (requests/s).
    pub start_rate: f64,
    /// Never try above this rate.
    pub max_rate: f64,
    /// Each step multiplies the rate by this until the SLO breaks.
    pub growth: f64,
    /// How long each step runs.
    pub step: Dur,
    /// Bisection steps between the last good and the first bad rate.
    pub refine: u32,
    /// The messages/s the business needs: sizing advice is given for it.
    pub target_rate: Option<f64>,
    /// Shards of a remote on-premises deployment being measured (default 8; an embedded target
    /// uses the simulator's).
    pub onprem_shards: Option<u32>,
    /// WebApps of a remote on-premises deployment being measured, each admitting 50 requests/s on
    /// `/v1/messages` (default 1; an embedded target uses the simulator's).
    pub onprem_webapps: Option<u32>,
    /// Cloud API throughput per phone number at the current tier (80 by default, 1,000 after upgrade).
    pub cloud_mps_per_number: f64,
}

impl Default for PlanSpec {
    fn default() -> Self {
        PlanSpec {
            slo_p99: Dur(Duration::from_secs(1)),
            max_error_rate: 0.01,
            start_rate: 10.0,
            max_rate: 5000.0,
            growth: 1.5,
            step: Dur(Duration::from_secs(20)),
            refine: 3,
            target_rate: None,
            onprem_shards: None,
            onprem_webapps: None,
            cloud_mps_per_number: 80.0,
        }
    }
}

impl PlanSpec {
    pub fn validate(&self) -> Result<(), (String, String)> {
        let e = |f: &str, r: &str| Err((format!("plan.{f}"), r.to_string()));
        if self.slo_p99.0.is_zero() {
            return e("slo_p99", "must be longer than zero");
        }
        if !(0.0..1.0).contains(&self.max_error_rate) {
            return e("max_error_rate", "must be a fraction from 0 to below 1 (0.01 = 1%)");
        }
        if !(self.start_rate > 0.0 && self.start_rate.is_finite()) {
            return e("start_rate", "must be greater than 0");
        }
        if !(self.max_rate >= self.start_rate && self.max_rate.is_finite()) {
            return e("max_rate", "must be at least start_rate");
        }
        if !(self.growth > 1.0 && self.growth.is_finite()) {
            return e("growth", "must be greater than 1");
        }
        if self.step.0 < Duration::from_secs(1) {
            return e("step", "must be at least 1s");
        }
        if self.refine > 20 {
            return e("refine", "at most 20 bisection steps");
        }
        if let Some(s) = self.onprem_shards
            && ![1, 2, 4, 8, 16, 32].contains(&s)
        {
            return e("onprem_shards", "the On-Premises API runs 1, 2, 4, 8, 16 or 32 shards");
        }
        if let Some(w) = self.onprem_webapps
            && !(1..=crate::spec::sim::onprem::MAX_WEBAPPS).contains(&w)
        {
            return e("onprem_webapps", "must be from 1 to 64");
        }
        if self.cloud_mps_per_number.is_nan() || self.cloud_mps_per_number <= 0.0 {
            return e("cloud_mps_per_number", "must be greater than 0");
        }
        Ok(())
    }
}
