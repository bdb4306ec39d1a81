//! What an operator did to a run while it went (from the live dashboard or its control API): one
//! `OperatorAction` per action and target, in run.json's `operator` list, so that a report shows when
//! who changed what. This file owns the type and the names of the actions; it must not decide what an
//! action does to the load.

use serde::{Deserialize, Serialize};

/// Held new arrivals.
pub const PAUSE: &str = "pause";
/// Let new arrivals go again.
pub const RESUME: &str = "resume";
/// Set a new open-loop rate (`value`, requests/s).
pub const RATE: &str = "rate";
/// Stopped the run (as Ctrl-C does: what is in flight drains, the results are written).
pub const STOP: &str = "stop";

/// The reason run.json gives in a target's `stopped` when the operator stopped it.
pub const STOPPED_OPERATOR: &str = "operator";

/// One action of the operator.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OperatorAction {
    /// Seconds since the run started.
    pub at_s: f64,
    /// `pause`, `resume`, `rate` or `stop`.
    pub action: String,
    /// The new rate (requests/s) of a `rate` action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The target running then (none between targets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Seconds since that target started: where the action falls on its timeline and charts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_s: Option<f64>,
}

impl OperatorAction {
    /// How the action reads in a table: "pause", "rate → 120/s".
    pub fn describe(&self) -> String {
        match self.value {
            Some(v) => format!("{} → {}/s", self.action, v),
            None => self.action.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_read_back_and_describe_themselves() {
        let a = OperatorAction {
            at_s: 3.5,
            action: RATE.into(),
            value: Some(120.0),
            target: Some("cloud".into()),
            target_s: Some(1.25),
        };
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<OperatorAction>(&json).unwrap(), a);
        assert_eq!(a.describe(), "rate → 120/s");
        let p = OperatorAction { action: PAUSE.into(), value: None, target: None, target_s: None, ..a };
        assert_eq!(serde_json::to_string(&p).unwrap(), r#"{"at_s":3.5,"action":"pause"}"#);
    }
}
