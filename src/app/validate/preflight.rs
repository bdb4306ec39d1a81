//! Preflight: what `validate`, `run` and `run --dry-run` check before a single request, beyond the
//! profile's own fields: the environment variables and files the targets need, a `[messages]` mix
//! that keeps a default kind the user did not write, template parameter counts against the embedded
//! simulator's templates, and whether `connections` can carry the rate at the expected latency
//! (Little's law). It reads the environment and files; it never opens a connection.

use std::path::Path;
use std::time::Duration;

use crate::engine::Plan;
use crate::spec::messages::Kind;
use crate::spec::sim::content::TemplateStatus;
use crate::spec::sim::{Distribution, Flavor, SimConfig};
use crate::spec::webhook::WebhookConfig;
use crate::spec::{Loaded, Model, TargetKind, TargetSpec};

/// The response time assumed for a remote plain-HTTP or webhook endpoint, whose latency wabench
/// cannot know before measuring it (a documented default, not a model of any service).
pub const ASSUMED_REMOTE_LATENCY: Duration = Duration::from_millis(100);

/// One finding: an error stops `validate` (exit 1) and `run` (before the results folder is made); a
/// warning is printed and the run goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub error: bool,
    /// The profile field it is about (`targets[0].token_env`, `messages.text`, `load.connections`).
    pub field: String,
    pub text: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "field `{}`: {}", self.field, self.text)
    }
}

fn error(field: impl Into<String>, text: impl Into<String>) -> Finding {
    Finding { error: true, field: field.into(), text: text.into() }
}

fn warning(field: impl Into<String>, text: impl Into<String>) -> Finding {
    Finding { error: false, field: field.into(), text: text.into() }
}

/// Every finding of the profile, errors first.
pub fn check(loaded: &Loaded) -> Vec<Finding> {
    let mut out = Vec::new();
    let base = loaded.path.parent().unwrap_or(Path::new("."));
    for (i, t) in loaded.profile.targets.iter().enumerate() {
        secrets(i, t, base, &mut out);
        receiver_secret(loaded, t, &mut out);
    }
    out.extend(kept_default_kinds(loaded));
    out.extend(template_params(loaded));
    out.extend(connections(loaded));
    out.sort_by_key(|f| !f.error);
    out
}

/// The errors as one message, each line naming the profile file and the field; `None` when none.
pub fn errors(loaded: &Loaded, findings: &[Finding]) -> Option<String> {
    let lines: Vec<String> =
        findings.iter().filter(|f| f.error).map(|f| format!("{}: {f}", loaded.path.display())).collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// The value of an environment variable, when set and not empty.
fn env_set(var: &str) -> bool {
    std::env::var_os(var).is_some_and(|v| !v.is_empty())
}

fn need_env(out: &mut Vec<Finding>, field: String, var: &str, what: &str) {
    if !env_set(var) {
        out.push(error(field, format!("the environment variable {var} ({what}) is not set; export it before running")));
    }
}

/// The environment variables and files a target reads its credentials and headers from.
fn secrets(i: usize, t: &TargetSpec, base: &Path, out: &mut Vec<Finding>) {
    let f = |k: &str| format!("targets[{i}].{k}");
    if let Some(var) = &t.token_env {
        need_env(out, f("token_env"), var, "the access token");
    }
    if let Some(file) = &t.token_file {
        let path = base.join(file);
        match std::fs::read_to_string(&path) {
            Ok(s) if s.trim().is_empty() => out.push(error(f("token_file"), format!("{} is empty", path.display()))),
            Ok(_) => {}
            Err(e) => out.push(error(f("token_file"), format!("cannot read {}: {e}", path.display()))),
        }
    }
    for (k, var, what) in [
        ("username_env", &t.username_env, "the login name"),
        ("password_env", &t.password_env, "the password"),
        ("new_password_env", &t.new_password_env, "the new password"),
    ] {
        if let Some(var) = var {
            need_env(out, f(k), var, what);
        }
    }
    for (header, var) in &t.headers_from_env {
        need_env(out, f("headers_from_env"), var, &format!("the value of header {header}"));
    }
    if t.kind == TargetKind::Webhook && !t.is_embedded_receiver() {
        let w = t.webhook_spec();
        let signed = w.flavor == crate::spec::webhook_target::HookFlavor::Cloud;
        match (&w.app_secret_file, &w.app_secret_env) {
            (Some(file), _) if signed => {
                let path = base.join(file);
                if let Err(e) = std::fs::read(&path) {
                    out.push(error(f("webhook.app_secret_file"), format!("cannot read {}: {e}", path.display())));
                }
            }
            (None, Some(var)) if signed => need_env(out, f("webhook.app_secret_env"), var, "the app secret"),
            _ => {}
        }
        if let (Some(var), true) = (&w.verify_token_env, w.handshake) {
            need_env(out, f("webhook.verify_token_env"), var, "the verify token of the handshake");
        }
    }
    // A bot wabench starts is told secrets made for the run when none are set; a bot of its own
    // must share them with the run.
    if t.kind == TargetKind::Conversation && t.conversation_spec().bot.is_none() {
        let c = t.conversation_spec();
        match (&c.app_secret_file, &c.app_secret_env) {
            (Some(file), _) => {
                let path = base.join(file);
                if let Err(e) = std::fs::read(&path) {
                    out.push(error(f("conversation.app_secret_file"), format!("cannot read {}: {e}", path.display())));
                }
            }
            (None, Some(var)) => need_env(out, f("conversation.app_secret_env"), var, "the app secret the bot checks"),
            (None, None) => {}
        }
        if let (Some(var), true) = (&c.verify_token_env, c.handshake) {
            need_env(out, f("conversation.verify_token_env"), var, "the verify token of the handshake");
        }
    }
}

/// The app secret the status-webhook receiver of a remote WhatsApp target verifies signatures with
/// (an embedded target's simulator and receiver share a secret made for the run).
fn receiver_secret(loaded: &Loaded, t: &TargetSpec, out: &mut Vec<Finding>) {
    let Some(cfg) = WebhookConfig::for_target(loaded.profile.webhooks.as_ref(), t, true) else { return };
    if t.is_embedded() || cfg.receiver_url.is_some() || !cfg.verify_signature {
        return;
    }
    match (&cfg.app_secret_file, &cfg.app_secret_env) {
        (Some(file), _) => {
            if let Err(e) = std::fs::read(file) {
                out.push(error("webhooks.app_secret_file", format!("cannot read {}: {e}", file.display())));
            }
        }
        (None, Some(var)) => need_env(
            out,
            "webhooks.app_secret_env".into(),
            var,
            &format!("the app secret that signs the status webhooks of target {:?}", t.name),
        ),
        (None, None) => out.push(error(
            "webhooks.app_secret_env",
            format!(
                "target {:?}: verify_signature = true needs an app secret: set app_secret_env or app_secret_file",
                t.name
            ),
        )),
    }
}

/// The `[messages]` keys the user wrote: in the profile file and in `--set messages.KEY=…`.
fn written_message_keys(loaded: &Loaded) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(&loaded.path).ok()?;
    let table: toml::Table = text.parse().ok()?;
    let mut keys: Vec<String> = match table.get("messages") {
        Some(toml::Value::Table(t)) => t.keys().cloned().collect(),
        _ => Vec::new(),
    };
    for o in &loaded.overrides {
        if let Some(key) = o.strip_prefix("--set messages.").and_then(|rest| rest.split('=').next()) {
            keys.push(key.trim().to_string());
        }
    }
    Some(keys)
}

/// A `[messages]` table that writes some kinds' weights but not a kind whose default weight is not
/// zero (`text = 1`) keeps that kind in the mix: `template = 1` alone sends half text messages.
pub fn kept_default_kinds(loaded: &Loaded) -> Vec<Finding> {
    let p = &loaded.profile;
    if !p.targets.iter().any(|t| t.kind.is_whatsapp_api()) {
        return Vec::new();
    }
    let Some(written) = written_message_keys(loaded) else { return Vec::new() };
    let is_written = |k: Kind| written.iter().any(|w| w == k.name());
    let weights = p.messages.weights();
    let defaults = crate::spec::messages::MessagesSpec::default().weights();
    let wrote_a_weight = weights.iter().any(|(k, w)| *w > 0 && is_written(*k));
    if !wrote_a_weight {
        return Vec::new();
    }
    let total: u64 = weights.iter().map(|(_, w)| u64::from(*w)).sum();
    let mix = weights
        .iter()
        .filter(|(_, w)| *w > 0)
        .map(|(k, w)| format!("{} {:.0}%", k.name(), f64::from(*w) * 100.0 / total.max(1) as f64))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = Vec::new();
    for ((kind, w), (_, default)) in weights.iter().zip(defaults.iter()) {
        if *w > 0 && *default > 0 && !is_written(*kind) {
            let set: Vec<String> = weights
                .iter()
                .filter(|(k, w)| *w > 0 && is_written(*k))
                .map(|(k, w)| format!("{} = {w}", k.name()))
                .collect();
            out.push(warning(
                format!("messages.{}", kind.name()),
                format!(
                    "[messages] sets {} but not `{}`, which keeps its default weight {default}: the mix sends {mix}; \
                     write `{} = 0` to leave {} messages out",
                    set.join(", "),
                    kind.name(),
                    kind.name(),
                    kind.name()
                ),
            ));
        }
    }
    out
}

/// Template messages to an embedded Cloud target are checked by its simulator against
/// `[[simulator.templates]]` (when any is listed): a wrong body parameter count is answered 132000,
/// an unknown or unapproved template 132001, a paused one 132015, a disabled one 132016.
pub fn template_params(loaded: &Loaded) -> Vec<Finding> {
    let p = &loaded.profile;
    let m = &p.messages;
    let embedded_cloud = p.targets.iter().any(|t| t.is_embedded() && t.kind == TargetKind::Cloud);
    if !embedded_cloud || m.template == 0 || p.simulator.templates.is_empty() {
        return Vec::new();
    }
    let (name, lang) = (&m.template_name, &m.template_language);
    let Some(t) = p.simulator.templates.iter().find(|t| &t.name == name && &t.language == lang) else {
        let known: Vec<String> = p.simulator.templates.iter().map(|t| format!("{} ({})", t.name, t.language)).collect();
        return vec![warning(
            "messages.template_name",
            format!(
                "template {name} ({lang}) is not among the simulator's templates ([[simulator.templates]]: {}): every \
                 template message will fail at send with 132001",
                known.join(", ")
            ),
        )];
    };
    let (sent, field) = match m.template_body_params.len() {
        0 => (m.template_params as usize, "messages.template_params"),
        n => (n, "messages.template_body_params"),
    };
    let mut out = Vec::new();
    if sent != t.params as usize {
        out.push(warning(
            field,
            format!(
                "fills {sent} body parameter(s), but the simulator's template {name} ({lang}) takes {} \
                 ([[simulator.templates]] params): every template message will fail at send with 132000 (number of \
                 parameters does not match); set {field} to {}",
                t.params, t.params
            ),
        ));
    }
    let status = match t.status {
        TemplateStatus::Paused => Some("paused: every template message will fail at send with 132015"),
        TemplateStatus::Disabled => Some("disabled: every template message will fail at send with 132016"),
        TemplateStatus::Pending | TemplateStatus::Rejected => {
            Some("not approved: every template message will fail at send with 132001")
        }
        TemplateStatus::Approved => None,
    };
    if let Some(s) = status {
        out.push(warning("messages.template_name", format!("the simulator's template {name} ({lang}) is {s}")));
    }
    if let Some(i) = (0..t.params as usize).find(|i| t.param_type(*i) != "text").filter(|i| *i < sent) {
        out.push(warning(
            field,
            format!(
                "body parameter {} of template {name} is of type {} in [[simulator.templates]]; wabench sends text \
                 parameters, so template messages will fail at send with 132012",
                i + 1,
                t.param_type(i)
            ),
        ));
    }
    out
}

/// The expected response time of a target, its p99 and where both come from: the simulator's model
/// for an embedded target; the same defaults (Meta's published limits) for a remote WhatsApp API;
/// [`ASSUMED_REMOTE_LATENCY`] for a remote plain endpoint; `None` for a plain endpoint on this machine.
pub fn expected_latency(loaded: &Loaded, t: &TargetSpec) -> Option<(Duration, Duration, &'static str)> {
    let model = |mut sim: SimConfig, flavor| {
        sim.flavor = flavor;
        (mean_latency(&sim), p99_latency(&sim))
    };
    let flavor = if t.kind == TargetKind::OnPrem { Flavor::OnPrem } else { Flavor::Cloud };
    if t.kind.is_whatsapp_api() {
        let (sim, from) = match t.is_embedded() {
            true => (loaded.profile.simulator.clone(), "the simulator's latency model ([simulator.latency])"),
            false => (SimConfig::default(), "wabench's default model of the API's response time"),
        };
        let (mean, p99) = model(sim, flavor);
        return Some((mean, p99, from));
    }
    let local = t.is_embedded_receiver()
        || t.address().and_then(|a| crate::spec::endpoint::Endpoint::parse(a).ok()).is_some_and(|e| e.is_loopback());
    (!local).then_some((ASSUMED_REMOTE_LATENCY, ASSUMED_REMOTE_LATENCY, "an assumed 100 ms for a remote endpoint"))
}

/// The p99 of the simulator's response-time model.
fn p99_latency(sim: &SimConfig) -> Duration {
    match sim.latency.distribution {
        Distribution::Constant => sim.latency_median(),
        Distribution::Uniform => sim.latency.min + (sim.latency.max.saturating_sub(sim.latency.min)).mul_f64(0.99),
        Distribution::Lognormal => sim.latency_p99().max(sim.latency_median()),
    }
}

/// Requests in flight at `rate` per second, each taking `d` (Little's law), rounded up.
fn in_flight(rate: f64, d: Duration) -> u64 {
    (rate * d.as_secs_f64() - 1e-9).ceil().max(0.0) as u64
}

/// The mean of the simulator's response-time model (log-normal: median × e^(σ²/2)).
fn mean_latency(sim: &SimConfig) -> Duration {
    let median = sim.latency_median();
    match sim.latency.distribution {
        Distribution::Constant => median,
        Distribution::Uniform => (sim.latency.min + sim.latency.max) / 2,
        Distribution::Lognormal => {
            let p99 = sim.latency_p99().max(median);
            if median.is_zero() {
                return median;
            }
            let sigma = (p99.as_secs_f64() / median.as_secs_f64()).ln() / 2.3263;
            Duration::from_secs_f64(median.as_secs_f64() * (sigma * sigma / 2.0).exp())
        }
    }
}

/// Whether `connections` can carry the peak rate at the expected latency: by Little's law the
/// requests in flight are about rate × mean latency; fewer connections than that and the schedule
/// falls behind (lateness grows, requests wait for the in-flight cap). The number to use is
/// rate × p99, which absorbs the slow tail.
pub fn connections(loaded: &Loaded) -> Vec<Finding> {
    let p = &loaded.profile;
    if p.load.model != Model::Open || p.is_plan_only() {
        return Vec::new();
    }
    let Some(rate) = p.load.peak_rate().filter(|r| *r > 0.0) else { return Vec::new() };
    let plan = Plan::from_spec(&p.load);
    let mut out = Vec::new();
    for t in &p.targets {
        let Some((mean, p99, from)) = expected_latency(loaded, t) else { continue };
        let needed = in_flight(rate, mean);
        if u64::from(plan.connections) >= needed {
            continue;
        }
        let advice = in_flight(rate, p99).max(needed + 1);
        let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1e3);
        out.push(warning(
            "load.connections",
            format!(
                "target {:?}: {} connections cannot carry {rate}/s: at a mean response time of {} ({from}; p99 {}) \
                 about {needed} requests are in flight at once (Little's law: rate × latency), so the schedule \
                 falls behind; set [load] connections = {advice} (rate × p99){}",
                t.name,
                plan.connections,
                ms(mean),
                ms(p99),
                match p.load.max_in_flight {
                    Some(m) if m < advice => format!(" and max_in_flight = {}", advice * 2),
                    _ => String::new(),
                }
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(text: &str) -> (tempfile::TempDir, Loaded) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, text).unwrap();
        let l = crate::spec::load(&path).unwrap();
        (dir, l)
    }

    const HEAD: &str = "name = \"t\"\n[load]\nrate = 100\nduration = \"10s\"\n";
    const CLOUD: &str = "[[targets]]\nname = \"c\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n";

    #[test]
    fn the_mean_of_the_default_cloud_model_is_above_its_median() {
        let sim = SimConfig::default();
        let m = mean_latency(&sim);
        assert!(m > Duration::from_millis(140) && m < Duration::from_millis(165), "{m:?}");
    }

    #[test]
    fn a_written_text_weight_is_not_a_kept_default() {
        let (_d, l) = loaded(&format!("{HEAD}[messages]\ntemplate = 1\n{CLOUD}"));
        let w = kept_default_kinds(&l);
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].field, "messages.text");
        assert!(w[0].text.contains("text 50%, template 50%"), "{}", w[0].text);
        let (_d, l) = loaded(&format!("{HEAD}[messages]\ntemplate = 1\ntext = 1\n{CLOUD}"));
        assert!(kept_default_kinds(&l).is_empty());
        let (_d, l) = loaded(&format!("{HEAD}[messages]\ntext_body = \"hi\"\n{CLOUD}"));
        assert!(kept_default_kinds(&l).is_empty(), "no weight written: the default mix is what was asked");
    }

    #[test]
    fn enough_connections_give_no_finding() {
        let (_d, l) = loaded(&format!("{HEAD}{CLOUD}"));
        assert!(connections(&l).is_empty(), "100/s × 152 ms ≈ 16 in flight, 64 connections");
        let (_d, l) = loaded(&(HEAD.replace("rate = 100", "rate = 1000") + CLOUD));
        let w = connections(&l);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].text.contains("connections = 600"), "{}", w[0].text);
    }
}
