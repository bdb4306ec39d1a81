//! What `validate` and `run --dry-run` print without sending anything: the plan, the targets, the
//! message mix, the thresholds, and the targets that would send real, billable messages.

use std::time::Duration;

use crate::engine::Plan;
use crate::spec::endpoint::Endpoint;
use crate::spec::{Loaded, TargetKind, TargetSpec};

/// One line describing a plan.
pub fn describe(plan: &Plan) -> String {
    match &plan.pacer {
        Some(p) => format!(
            "open loop, {} requests over {}, {} connections, max {} in flight",
            p.total(),
            humantime::format_duration(Duration::from_millis(p.duration().as_millis() as u64)),
            plan.connections,
            plan.max_in_flight
        ),
        None => format!(
            "closed loop, {} virtual users{}{}",
            plan.connections,
            plan.duration.map(|d| format!(" for {}", humantime::format_duration(d))).unwrap_or_default(),
            plan.max_requests.map(|m| format!(", at most {m} requests")).unwrap_or_default()
        ),
    }
}

/// What `validate` prints: the plan, the targets and the thresholds, without sending anything.
pub fn plan_text(loaded: &Loaded) -> String {
    use std::fmt::Write as _;
    let p = &loaded.profile;
    let plan = Plan::from_spec(&p.load);
    let mut s = String::new();
    let _ = writeln!(s, "profile {} ({}) is valid", p.name, loaded.path.display());
    let plan_only = p.is_plan_only();
    if let (true, Some(spec)) = (plan_only, &p.plan) {
        let _ = writeln!(
            s,
            "load: set by `wabench plan`: steps of {} from {}/s, ×{} until p99 > {} or errors > {:.2}%, then {} bisection steps",
            spec.step,
            spec.start_rate,
            spec.growth,
            spec.slo_p99,
            spec.max_error_rate * 100.0,
            spec.refine
        );
    } else {
        let _ = writeln!(s, "load: {}", describe(&plan));
    }
    if let Some(pacer) = plan.pacer.as_ref().filter(|_| !plan_only) {
        let l = &p.load;
        if let Some(r) = l.rate {
            let _ = writeln!(s, "  constant {r}/s for {}", l.duration.map(|d| d.to_string()).unwrap_or_default());
        } else {
            let mut from = l.start_rate;
            for (i, st) in l.stages.iter().enumerate() {
                let _ = writeln!(s, "  stage {}: {from}/s → {}/s over {}", i + 1, st.to, st.over);
                from = st.to;
            }
        }
        let _ = writeln!(s, "  expected requests per target: {}", pacer.total());
    }
    let _ = writeln!(
        s,
        "  timeout {}, drain {}, {} thread(s)",
        humantime::format_duration(plan.timeout),
        humantime::format_duration(plan.drain),
        plan.threads
    );
    let _ = writeln!(s, "targets (run one after the other):");
    for t in &p.targets {
        let to = match t.address() {
            Some(a) => Endpoint::parse(a).map(|e| e.url()).unwrap_or_default(),
            None => "the embedded simulator".into(),
        };
        let what = match t.kind {
            TargetKind::Http => t.method.clone().unwrap_or_else(|| "GET".into()),
            TargetKind::Cloud => "Cloud API".into(),
            TargetKind::OnPrem => "On-Premises API".into(),
        };
        let _ = writeln!(s, "  {} ({what}) → {to}", t.name);
    }
    if p.targets.iter().any(|t| t.kind != TargetKind::Http) {
        let _ = writeln!(
            s,
            "messages: {}",
            p.messages
                .weights()
                .iter()
                .filter(|(_, w)| *w > 0)
                .map(|(k, w)| format!("{} {w}", k.name()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(s, "recipients: {}", loaded.recipients.len());
        for w in loaded.recipients.warnings(p.load.peak_rate()) {
            let _ = writeln!(s, "  warning: {w}");
        }
    }
    if p.targets.iter().any(TargetSpec::is_embedded) {
        let _ = writeln!(s, "{}", simulator_line(&p.simulator));
    }
    if !p.thresholds.is_empty() {
        let _ = writeln!(s, "thresholds:");
        for (k, v) in &p.thresholds {
            let _ = writeln!(s, "  {k} {v}");
        }
    }
    s
}

/// The embedded simulator's seed and transient-error rates per API (fractions of message sends).
pub fn simulator_line(sim: &crate::spec::sim::SimConfig) -> String {
    let pct = |r: f64| format!("{}%", (r * 1e4).round() / 1e2);
    let (c, o) = (&sim.transient.cloud, &sim.transient.onprem);
    format!(
        "simulator: seed {}; transient errors per send: cloud 131000 {}, code 1 {}, 5xx without body {}, stall {}; \
         on-prem 1014 {}, 5xx without body {}, stall {}; a stall holds the answer {}",
        sim.seed,
        pct(c.server_error),
        pct(c.unknown_error),
        pct(c.bare_5xx),
        pct(c.stall),
        pct(o.server_error),
        pct(o.bare_5xx),
        pct(o.stall),
        humantime::format_duration(sim.transient.stall_for)
    )
}

/// WhatsApp targets that send real, billable messages: not embedded and not on this machine.
pub fn real_targets(loaded: &Loaded) -> Vec<&TargetSpec> {
    loaded
        .profile
        .targets
        .iter()
        .filter(|t| t.kind != TargetKind::Http && !t.is_embedded())
        .filter(|t| t.address().and_then(|a| Endpoint::parse(a).ok()).is_none_or(|e| !e.is_loopback()))
        .collect()
}

/// Real targets (see [`real_targets`]) that lack confirmation: neither `confirm_real_traffic` nor `--yes`.
pub fn unconfirmed_real_targets(loaded: &Loaded, yes: bool) -> Vec<String> {
    if yes {
        return Vec::new();
    }
    real_targets(loaded).into_iter().filter(|t| !t.confirm_real_traffic).map(|t| t.name.clone()).collect()
}

/// What `run --dry-run` prints: the plan, the real targets named, and that nothing was sent.
pub fn dry_run_text(loaded: &Loaded) -> String {
    let mut s = plan_text(loaded);
    let real: Vec<&str> = real_targets(loaded).iter().map(|t| t.name.as_str()).collect();
    if !real.is_empty() {
        s.push_str(&format!("remote WhatsApp targets (real, billable messages): {}\n", real.join(", ")));
    }
    s.push_str("dry run: nothing was sent\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulator_line_names_the_transient_rates_per_api() {
        let mut sim = crate::spec::sim::SimConfig::default();
        assert!(simulator_line(&sim).contains("cloud 131000 0%"), "{}", simulator_line(&sim));
        sim.transient.cloud.server_error = 0.05;
        sim.transient.onprem.stall = 0.001;
        let line = simulator_line(&sim);
        assert!(line.starts_with("simulator: seed 1;"), "{line}");
        assert!(line.contains("cloud 131000 5%"), "{line}");
        assert!(line.contains("on-prem 1014 0%, 5xx without body 0%, stall 0.1%"), "{line}");
        assert!(line.contains("holds the answer 30s"), "{line}");
    }
}
