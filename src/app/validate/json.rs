//! `wabench validate --json`: what `validate` prints (the plan, the targets, the message mix, the
//! thresholds, the warnings), as one JSON document for scripts. Nothing secret is in it: the profile
//! names environment variables and files for secrets, and only target names and endpoints are shown.

use std::collections::BTreeMap;

use serde::Serialize;

use super::plan_text::{describe, warnings};
use crate::engine::Plan;
use crate::spec::endpoint::Endpoint;
use crate::spec::{Loaded, TargetSpec};

#[derive(Serialize)]
struct Stage {
    to: f64,
    over: String,
}

#[derive(Serialize)]
struct Load {
    /// "open" (arrival rate) or "closed" (virtual users).
    model: &'static str,
    /// The load is set by `wabench plan` (a capacity profile), not by `[load]`.
    set_by_plan: bool,
    description: String,
    rate: Option<f64>,
    start_rate: f64,
    stages: Vec<Stage>,
    duration: Option<String>,
    /// Requests per target (open loop).
    expected_requests: Option<u64>,
    max_requests: Option<u64>,
    connections: u32,
    max_in_flight: u64,
    timeout_s: f64,
    drain_s: f64,
    threads: u32,
}

#[derive(Serialize)]
struct Target {
    name: String,
    kind: &'static str,
    /// The endpoint's URL, or "embedded" for the built-in simulator.
    endpoint: String,
    /// Remote WhatsApp targets send real, billable messages.
    real: bool,
    /// The fraction of its messages sent with a W3C traceparent (`[tracing]`; 0 for a real target
    /// unless `real_targets`).
    traced: f64,
}

#[derive(Serialize)]
struct Threshold {
    threshold: String,
    condition: String,
}

#[derive(Serialize)]
struct Doc {
    profile: String,
    file: String,
    valid: bool,
    load: Load,
    targets: Vec<Target>,
    /// Weights of the message mix (WhatsApp targets only).
    messages: Option<BTreeMap<&'static str, u32>>,
    recipients: Option<usize>,
    thresholds: Vec<Threshold>,
    abort_on_fail: bool,
    /// The embedded simulator's seed, when a target uses it.
    simulator_seed: Option<u64>,
    /// Targets with a rate card: the estimated cost by category and market, and the cap.
    cost: Vec<serde_json::Value>,
    warnings: Vec<String>,
}

fn target(t: &TargetSpec, tracing: Option<&crate::spec::tracing::TracingSpec>) -> Target {
    let kind = t.kind.name();
    let endpoint = match t.address() {
        Some(a) => Endpoint::parse(a).map(|e| e.shown()).unwrap_or_else(|_| crate::spec::endpoint::redact_url(a)),
        None => "embedded".into(),
    };
    let traced = tracing.filter(|x| x.applies_to(t)).map_or(0.0, |x| x.sample);
    Target { name: t.name.clone(), kind, endpoint, real: t.is_real(), traced }
}

fn load(loaded: &Loaded) -> Load {
    let l = &loaded.profile.load;
    let plan = Plan::from_spec(l);
    Load {
        model: l.model.name(),
        set_by_plan: loaded.profile.is_plan_only(),
        description: describe(&plan),
        rate: l.rate,
        start_rate: l.start_rate,
        stages: l.stages.iter().map(|s| Stage { to: s.to, over: s.over.to_string() }).collect(),
        duration: l.duration.map(|d| d.to_string()),
        expected_requests: plan.pacer.as_ref().map(|p| p.total()),
        max_requests: plan.max_requests,
        connections: plan.connections,
        max_in_flight: plan.max_in_flight,
        timeout_s: plan.timeout.as_secs_f64(),
        drain_s: plan.drain.as_secs_f64(),
        threads: plan.threads,
    }
}

/// The plan of a validated profile as pretty JSON, ending with a newline.
pub fn plan_json(loaded: &Loaded) -> String {
    let p = &loaded.profile;
    let whatsapp = p.targets.iter().any(|t| t.kind.is_whatsapp_api());
    let doc = Doc {
        profile: p.name.clone(),
        file: loaded.path.display().to_string(),
        valid: true,
        load: load(loaded),
        targets: p.targets.iter().map(|t| target(t, p.tracing.as_ref())).collect(),
        messages: whatsapp.then(|| p.messages.weights().iter().map(|(k, w)| (k.name(), *w)).collect()),
        recipients: whatsapp.then(|| loaded.recipients.len()),
        thresholds: p
            .thresholds
            .iter()
            .map(|(k, v)| Threshold { threshold: k.clone(), condition: v.clone() })
            .chain(default_gates(p))
            .collect(),
        abort_on_fail: p.abort_on_fail,
        simulator_seed: p.targets.iter().any(TargetSpec::is_embedded).then_some(p.simulator.seed),
        cost: crate::app::cost::json(loaded),
        warnings: warnings(loaded),
    };
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// The default gates of WhatsApp targets the written thresholds leave unjudged.
fn default_gates(p: &crate::spec::Profile) -> Vec<Threshold> {
    let whatsapp = p.targets.iter().filter(|t| t.kind.is_whatsapp_api()).map(|t| t.name.as_str());
    let (metric, condition) = crate::spec::threshold::DEFAULT_GATE;
    crate::spec::threshold::judged(&p.thresholds, whatsapp)
        .into_iter()
        .filter(|t| t.default)
        .map(|t| Threshold {
            threshold: format!("{}:{metric}", t.target.unwrap_or_default()),
            condition: format!("{condition} (default)"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_plan_as_json_has_the_load_targets_and_thresholds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(
            &path,
            "name = \"j\"\n[load]\nstages = [{ to = 10, over = \"2s\" }, { to = 10, over = \"3s\" }]\nconnections = 4\n\
             [[targets]]\nname = \"c\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n\
             [[targets]]\nname = \"h\"\nkind = \"http\"\nurl = \"http://127.0.0.1:9/x\"\n\
             [thresholds]\n\"latency.p99\" = \"< 1s\"\n",
        )
        .unwrap();
        let loaded = crate::spec::load(&path).unwrap();
        let v: serde_json::Value = serde_json::from_str(&super::plan_json(&loaded)).unwrap();
        assert_eq!(v["profile"], "j");
        assert_eq!(v["load"]["model"], "open");
        assert_eq!(v["load"]["expected_requests"], 40, "a ramp to 10/s over 2 s, then 10/s for 3 s");
        assert_eq!(v["load"]["stages"][1]["over"], "3s");
        assert_eq!(v["load"]["connections"], 4);
        assert_eq!(v["targets"][0]["endpoint"], "embedded");
        assert_eq!(v["targets"][1]["endpoint"], "http://127.0.0.1:9/x");
        assert_eq!((v["targets"][0]["kind"].as_str(), v["targets"][1]["real"].as_bool()), (Some("cloud"), Some(false)));
        assert_eq!(v["thresholds"][0]["threshold"], "latency.p99");
        assert_eq!(v["thresholds"][0]["condition"], "< 1s");
        // The Cloud target's failures are judged by the default gate; an HTTP target gets none.
        assert_eq!(v["thresholds"][1]["threshold"], "c:error_rate");
        assert_eq!(v["thresholds"][1]["condition"], "< 2% (default)");
        assert_eq!(v["thresholds"].as_array().unwrap().len(), 2);
        assert!(v["messages"]["text"].is_number() && v["recipients"].is_number());
    }
}
