//! What `validate` and `run --dry-run` print without sending anything: the plan, the targets, the
//! message mix, the thresholds, and the targets that would send real, billable messages.

use std::fmt::Write as _;
use std::time::Duration;

use crate::drivers::whatsapp::body::{Kind, Mix};
use crate::engine::Plan;
use crate::spec::endpoint::Endpoint;
use crate::spec::{Loaded, TargetKind, TargetSpec};

/// One line describing a plan.
pub fn describe(plan: &Plan) -> String {
    let mut line = describe_load(plan);
    if plan.streams > 1 {
        let conns = plan.connections.div_ceil(plan.streams);
        line.push_str(&format!("; HTTP/2: {} streams per connection on {conns}", plan.streams));
    }
    if !plan.keepalive {
        line.push_str(", a new connection per request");
    }
    line
}

fn describe_load(plan: &Plan) -> String {
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

/// A feeder as `validate` shows it: file, rows, columns and order.
fn feeder_line(f: &crate::spec::feeder::Feeder) -> String {
    let order = match f.order() {
        crate::spec::feeder::FeederOrder::Sequential => "sequential",
        crate::spec::feeder::FeederOrder::Random => "random",
        crate::spec::feeder::FeederOrder::ShuffleOnce => "shuffle-once",
    };
    let t = f.table();
    format!(
        "feeder {}: {} row(s), columns {}; order {order}",
        f.file.display(),
        t.len(),
        t.columns().iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
    )
}

/// What `validate` prints: the plan, the targets and the thresholds, without sending anything.
pub fn plan_text(loaded: &Loaded) -> String {
    let p = &loaded.profile;
    let mut s = String::new();
    let _ = writeln!(s, "profile {} ({}) is valid", p.name, loaded.path.display());
    load_lines(&mut s, p);
    target_lines(&mut s, loaded);
    if p.targets.iter().any(|t| t.kind.is_whatsapp_api()) {
        message_lines(&mut s, loaded);
    }
    s.push_str(&crate::app::cost::lines(loaded));
    s.push_str(&super::tracing::lines(loaded));
    for w in warnings(loaded) {
        let _ = writeln!(s, "  warning: {w}");
    }
    if p.targets.iter().any(TargetSpec::is_embedded) {
        let _ = writeln!(s, "{}", simulator_line(&p.simulator));
    }
    if !loaded.overrides.is_empty() {
        let _ = writeln!(s, "changed from the file: {}", loaded.overrides.join(", "));
        // The profile as it will run, credentials redacted (values from the environment are not in it).
        let effective = toml::to_string(&p.redacted()).unwrap_or_default();
        let _ = writeln!(s, "effective profile:");
        for line in effective.lines() {
            let _ = writeln!(s, "  {line}");
        }
    }
    threshold_lines(&mut s, p);
    s
}

/// The load: its shape (or the planner's steps), the stages, the expected count, timeouts.
fn load_lines(s: &mut String, p: &crate::spec::Profile) {
    let plan = Plan::from_spec(&p.load);
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
}

/// Each target: what it is, where it goes, its network settings, feeder and webhook shape.
fn target_lines(s: &mut String, loaded: &Loaded) {
    let p = &loaded.profile;
    let _ = writeln!(s, "targets (run one after the other):");
    for (i, t) in p.targets.iter().enumerate() {
        let to = match t.address() {
            Some(a) => Endpoint::parse(a).map(|e| e.shown()).unwrap_or_default(),
            None if t.kind == TargetKind::Webhook => "wabench's own webhook receiver".into(),
            None => "the embedded simulator".into(),
        };
        let what = match t.kind {
            TargetKind::Http => t.method.clone().unwrap_or_else(|| "GET".into()),
            TargetKind::Cloud => "Cloud API".into(),
            TargetKind::OnPrem => "On-Premises API".into(),
            TargetKind::Webhook => format!(
                "webhook endpoint, {} shape",
                match t.webhook_spec().flavor {
                    crate::spec::webhook_target::HookFlavor::Cloud => "Cloud",
                    crate::spec::webhook_target::HookFlavor::OnPrem => "On-Premises",
                }
            ),
            TargetKind::Conversation => "a bot's webhook endpoint, replies through the simulated Cloud API".into(),
        };
        let _ = writeln!(s, "  {} ({what}) → {to}", t.name);
        for line in crate::spec::net::describe(t) {
            let _ = writeln!(s, "    {line}");
        }
        if let Some(f) = loaded.feeders.get(i).and_then(Option::as_ref) {
            let _ = writeln!(s, "    {}", feeder_line(f));
        }
        if t.kind == TargetKind::Cloud && t.phone_number_ids.len() > 1 {
            let spread = match t.spread.unwrap_or_default() {
                crate::spec::numbers::Spread::RoundRobin => "round robin: an equal share each",
                crate::spec::numbers::Spread::ByRecipient => "by recipient: a user always hears from the same one",
            };
            let _ = writeln!(s, "    from {} numbers ({spread}): {}", t.phone_number_ids.len(), numbers_shown(t));
        }
        if t.kind == TargetKind::Webhook {
            webhook_lines(s, &t.webhook_spec());
        }
        if t.kind == TargetKind::Conversation {
            conversation_lines(s, &t.conversation_spec());
        }
    }
}

/// A target's sending numbers, the first few of a long list.
fn numbers_shown(t: &TargetSpec) -> String {
    let ids = &t.phone_number_ids;
    let shown = ids.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if ids.len() > 5 { format!("{shown}, … ({} more)", ids.len() - 5) } else { shown }
}

/// What a conversation target's users write, how long a turn waits, where its Cloud API listens and
/// the bot it starts.
fn conversation_lines(s: &mut String, c: &crate::spec::conversation::ConversationSpec) {
    if c.turns.is_empty() {
        let texts: Vec<String> = c.texts.iter().map(|t| format!("{t:?}")).collect();
        let _ = writeln!(s, "    users write {} (in turn); a reply is awaited {}", texts.join(", "), c.reply_timeout);
    } else {
        let _ = writeln!(s, "    each conversation: {} turns, a reply awaited {} each", c.turns.len(), c.reply_timeout);
        for (i, t) in c.turns.iter().enumerate() {
            let think = if i == 0 { String::new() } else { format!(" after {}", t.think) };
            let expect = t.expect.as_ref().map(|e| format!(", expects {}", expect_text(e))).unwrap_or_default();
            let _ = writeln!(s, "      {}. {}{think}{expect}", i + 1, t.label());
        }
    }
    let _ = writeln!(s, "    the bot's Cloud API: the simulator on {}", c.graph_listen);
    if let Some(p) = &c.graph_proxy {
        let _ =
            writeln!(s, "    also as https://graph.facebook.com behind the HTTPS proxy on {p} (a CA made for the run)");
    }
    if let Some(b) = &c.bot {
        let _ = writeln!(s, "    started for the run: {} (ready within {})", b.command.join(" "), b.ready_timeout);
    }
}

/// What a turn expects of the bot's replies, as `validate` shows it.
fn expect_text(e: &crate::spec::conversation::Expect) -> String {
    let mut parts = Vec::new();
    if let Some(k) = &e.kind {
        parts.push(format!("type {k}"));
    }
    if let Some(i) = &e.interactive {
        parts.push(format!("{i} message"));
    }
    if let Some(c) = &e.contains {
        parts.push(format!("{c:?}"));
    }
    if let Some(m) = &e.matches {
        parts.push(format!("text matching {m:?}"));
    }
    parts.join(" and ")
}

/// The message mix and the recipients of the WhatsApp targets.
fn message_lines(s: &mut String, loaded: &Loaded) {
    let p = &loaded.profile;
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
    let r = &loaded.recipients;
    match r.bsuids() {
        0 => writeln!(s, "recipients: {}", r.len()),
        n => writeln!(s, "recipients: {} ({n} business-scoped user IDs, sent in `recipient`)", r.len()),
    }
    .ok();
}

/// The thresholds judged, with the defaults named by target.
fn threshold_lines(s: &mut String, p: &crate::spec::Profile) {
    let whatsapp = p.targets.iter().filter(|t| t.kind.is_whatsapp_api()).map(|t| t.name.as_str());
    let judged = crate::spec::threshold::judged(&p.thresholds, whatsapp);
    if !judged.is_empty() {
        let _ = writeln!(s, "thresholds:");
        for t in &judged {
            let _ = match (&t.target, t.default) {
                (Some(name), true) => writeln!(s, "  {name}: {}", t.expr),
                _ => writeln!(s, "  {}", t.expr),
            };
        }
    }
}

/// How many unique recipients get at least one template in `planned` messages (every recipient that
/// could, when the count is not known in advance): message `n` goes to recipient `n mod len` and its
/// kind is the driver's seeded choice, so this is exactly what a run sends.
pub fn unique_template_recipients(loaded: &Loaded, planned: Option<u64>) -> u64 {
    let p = &loaded.profile;
    let len = loaded.recipients.len() as u64;
    if p.messages.template == 0 || len == 0 {
        return 0;
    }
    let Some(planned) = planned else {
        return len;
    };
    let mix = Mix::new(&p.messages, p.seed);
    let mut seen = vec![false; len as usize];
    let mut unique = 0;
    // Bounded: stop once every recipient is counted, and after 10 million messages at most.
    for n in 0..planned.min(10_000_000) {
        let r = (n % len) as usize;
        if !seen[r] && mix.kind(n) == Kind::Template {
            seen[r] = true;
            unique += 1;
            if unique == len {
                break;
            }
        }
    }
    unique
}

/// Warnings when a WhatsApp target would send templates to more unique users than its messaging limit
/// allows per 24 hours: a real Cloud target's `messaging_tier`, or the embedded simulator's tier.
pub fn messaging_limit_warnings(loaded: &Loaded) -> Vec<String> {
    let p = &loaded.profile;
    let planned = Plan::from_spec(&p.load).expected_requests();
    let mut unique = None;
    let mut out = Vec::new();
    for t in p.targets.iter().filter(|t| t.kind.is_whatsapp_api()) {
        let (tier, from) = if t.is_embedded() {
            (p.simulator.messaging_limit.tier, "[simulator.messaging_limit] tier")
        } else {
            match t.messaging_tier {
                Some(tier) => (tier, "messaging_tier"),
                None => continue,
            }
        };
        let Some(limit) = tier.limit() else { continue };
        let u = *unique.get_or_insert_with(|| unique_template_recipients(loaded, planned));
        if u > limit {
            let what = if t.is_embedded() {
                format!(
                    "the simulator accepts the rest and fails them in a webhook with code {}",
                    p.simulator.messaging_limit.over_limit_code
                )
            } else {
                "Meta fails templates to further new users".to_string()
            };
            out.push(format!(
                "target {:?}: templates go to {u} unique recipients, more than the messaging limit of {tier} unique users per 24 hours ({from}); {what}",
                t.name
            ));
        }
    }
    out
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
    loaded.profile.targets.iter().filter(|t| t.is_real()).collect()
}

/// What `validate` and `run` warn about: recipients (sanctioned regions, the pair rate limit at the
/// peak rate) and what real targets would do.
pub fn warnings(loaded: &Loaded) -> Vec<String> {
    let p = &loaded.profile;
    let mut w = Vec::new();
    if p.targets.iter().any(|t| t.kind.is_whatsapp_api()) {
        w.extend(loaded.recipients.warnings(p.load.peak_rate()));
    }
    w.extend(messaging_limit_warnings(loaded));
    w.extend(real_target_warnings(loaded));
    w.extend(closed_window_warnings(loaded));
    w.extend(resend_warnings(loaded));
    w.extend(super::preflight::check(loaded).into_iter().filter(|f| !f.error).map(|f| f.to_string()));
    w
}

/// A real WhatsApp target allowed to resend unanswered sends may message a person twice.
fn resend_warnings(loaded: &Loaded) -> Vec<String> {
    real_targets(loaded)
        .iter()
        .filter(|t| t.resend_unanswered)
        .map(|t| {
            format!(
                "target {:?} sends again a message whose attempt went unanswered (resend_unanswered = true): the \
                 API may have accepted the first attempt, so a recipient may get the message twice, and be \
                 billed twice",
                t.name
            )
        })
        .collect()
}

/// Warnings about what real targets would do: non-template messages reach only users inside the
/// 24-hour customer service window (they wrote to the business in the last 24 h); to anyone else Meta
/// accepts the send and then fails it with 131047 (Meta's error codes).
pub fn real_target_warnings(loaded: &Loaded) -> Vec<String> {
    let real = real_targets(loaded);
    let m = &loaded.profile.messages;
    let total: u64 = m.weights().iter().map(|(_, w)| u64::from(*w)).sum();
    let free_form = total - u64::from(m.template);
    if real.is_empty() || free_form == 0 || total == 0 {
        return Vec::new();
    }
    let names: Vec<&str> = real.iter().map(|t| t.name.as_str()).collect();
    vec![format!(
        "{:.0}% of the messages to {} are not templates: they reach only users who wrote to the business in \
         the last 24 hours; to anyone else they are accepted and then fail with 131047 (send templates to start \
         a conversation)",
        free_form as f64 * 100.0 / total as f64,
        names.join(", ")
    )]
}

/// The share of the messages above which [`closed_window_warnings`] warns: the default gate's
/// error rate (`error_rate < 2%`), which these failures count in.
const CLOSED_WINDOW_WARN_SHARE: f64 = 0.02;

/// The share of an embedded WhatsApp target's messages that its simulator accepts and then fails for a
/// closed customer service window (Cloud 131047, On-Premises 470): the messages that are not templates
/// (text, media, interactive, reactions), to the users whose window was closed when the simulator
/// started (all but `[simulator.service_window] open_fraction`; inbound messages open more during a
/// run). None when no such failure shows in a run: windows off, or delivery not tracked (the failures
/// arrive in status webhooks).
pub fn closed_window_share(p: &crate::spec::Profile, t: &TargetSpec) -> Option<f64> {
    let w = &p.simulator.service_window;
    let tracked = crate::spec::webhook::WebhookConfig::for_target(p.webhooks.as_ref(), t, true).is_some();
    if !t.is_embedded() || !t.kind.is_whatsapp_api() || t.beside.is_some() || !w.enabled || !tracked {
        return None;
    }
    let total: u64 = p.messages.weights().iter().map(|(_, w)| u64::from(*w)).sum();
    let free_form = total.checked_sub(u64::from(p.messages.template)).filter(|_| total > 0)?;
    Some(free_form as f64 / total as f64 * (1.0 - w.open_fraction))
}

/// Embedded targets whose messages are mostly refused later for closed customer service windows
/// ([`closed_window_share`] of at least [`CLOSED_WINDOW_WARN_SHARE`]): the run would fail its
/// error-rate gate on the simulated users' state, not on the API. A profile for `wabench plan` only
/// is not warned about: the plan's steps count the errors that measure capacity, at send.
pub fn closed_window_warnings(loaded: &Loaded) -> Vec<String> {
    let p = &loaded.profile;
    if p.is_plan_only() {
        return Vec::new();
    }
    let w = &p.simulator.service_window;
    let inbound = if p.simulator.inbound.rate > 0.0 {
        format!(", and the {}/s inbound messages of [simulator.inbound] open more", p.simulator.inbound.rate)
    } else {
        String::new()
    };
    let mut out = Vec::new();
    for t in &p.targets {
        let Some(share) = closed_window_share(p, t).filter(|s| *s >= CLOSED_WINDOW_WARN_SHARE) else { continue };
        let code = if t.kind == TargetKind::OnPrem { 470 } else { 131047 };
        out.push(format!(
            "target {:?}: about {:.0}% of its messages are not templates and go to simulated users whose 24-hour \
             customer service window is closed ([simulator.service_window] open_fraction = {}{inbound}): the \
             simulator accepts them and then fails them in a status webhook with {code}, counted in the run's \
             error_rate; set open_fraction to the share of users who wrote in the last 24 hours (e.g. 0.99), or \
             send templates",
            t.name,
            share * 100.0,
            w.open_fraction
        ));
    }
    out
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
    for e in super::preflight::check(loaded).into_iter().filter(|f| f.error) {
        s.push_str(&format!("a run would stop here: {e}\n"));
    }
    for (i, e) in crate::app::cost::over_cap(loaded) {
        match loaded.profile.targets[i].is_real() {
            true => s.push_str(&format!("a run would stop here: {e}\n")),
            false => s.push_str(&format!("warning: {e}; on the simulator the run stops sending at the cap\n")),
        }
    }
    s.push_str(&rendered_requests(loaded, DRY_RUN_REQUESTS));
    let real: Vec<&str> = real_targets(loaded).iter().map(|t| t.name.as_str()).collect();
    if !real.is_empty() {
        s.push_str(&format!("remote WhatsApp targets (real, billable messages): {}\n", real.join(", ")));
    }
    s.push_str("dry run: nothing was sent\n");
    s
}

/// Requests `run --dry-run` shows per target.
pub const DRY_RUN_REQUESTS: u64 = 3;

/// The first `n` requests of every target, as the drivers build them, credentials shown as `***`.
pub fn rendered_requests(loaded: &Loaded, n: u64) -> String {
    use std::fmt::Write as _;
    let p = &loaded.profile;
    let mut s = String::new();
    for (i, t) in p.targets.iter().enumerate() {
        let ctx = crate::drivers::BuildCtx {
            base_dir: loaded.path.parent().unwrap_or(std::path::Path::new(".")),
            seed: p.seed,
            messages: &p.messages,
            recipients: loaded.recipients.clone(),
            retry: &p.retry,
            body: loaded.bodies.get(i).and_then(|b| b.as_deref()),
            feeder: loaded.feeders.get(i).cloned().flatten(),
            embedded: None,
            tracker: None,
            embedded_receiver: None,
            peak_rate: p.load.peak_rate(),
            timeout: Plan::from_spec(&p.load).timeout,
            failures: None,
            conversation: None,
            token: None,
        };
        let url = t.address().unwrap_or(match t.kind {
            TargetKind::Webhook => "http://embedded-receiver/webhook",
            _ => "http://embedded-simulator",
        });
        let _ = writeln!(s, "requests to {} (the first {n}, credentials shown as ***):", t.name);
        match crate::drivers::preview::requests(t, &ctx, url, n) {
            Ok(reqs) => {
                for r in reqs {
                    let _ = writeln!(s, "  {} {}", r.method, r.url);
                    for (k, v) in &r.headers {
                        let _ = writeln!(s, "  {k}: {v}");
                    }
                    if !r.body.is_empty() {
                        let _ = writeln!(s, "  {}", r.body.replace('\n', "\n  "));
                    }
                    s.push('\n');
                }
            }
            Err(e) => {
                let _ = writeln!(s, "  cannot render: {e}");
            }
        }
    }
    s
}

/// What a webhook target sends: the event weights, the batching, the sizing, signing and re-delivery.
fn webhook_lines(s: &mut String, w: &crate::spec::webhook_target::WebhookTargetSpec) {
    use std::fmt::Write as _;
    let st = &w.statuses;
    let weights = |pairs: &[(&str, f64)]| {
        pairs.iter().filter(|(_, v)| *v > 0.0).map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
    };
    let statuses = weights(&[("sent", st.sent), ("delivered", st.delivered), ("read", st.read), ("failed", st.failed)]);
    let inbound = weights(&w.inbound.all());
    let _ = writeln!(
        s,
        "    events: statuses [{statuses}], inbound [{inbound}]; 1 to {} per POST (mean {})",
        w.max_batch,
        w.mean_batch()
    );
    if let Some(rate) = w.sized_rate() {
        let _ = writeln!(
            s,
            "    sized: (3 × {} + {}) events/s ÷ {} per POST = {rate} POSTs/s (Meta: 3 × outgoing + inbound)",
            w.messages_per_second.unwrap_or(0.0),
            w.inbound_per_second.unwrap_or(0.0),
            w.mean_batch()
        );
    }
    let signed = w.flavor == crate::spec::webhook_target::HookFlavor::Cloud;
    let _ = writeln!(
        s,
        "    {}; handshake {}; {} attempt(s) per POST",
        if signed { "signed (X-Hub-Signature-256)" } else { "unsigned (On-Premises)" },
        if w.handshake { "checked first" } else { "not checked" },
        w.retry.max_attempts
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(extra: &str) -> Loaded {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        let text = format!(
            "name = \"t\"\nseed = 3\n[load]\nrate = 100\nduration = \"10s\"\n[recipients]\ncountry_code = \"1\"\ncount = 600\n{extra}"
        );
        std::fs::write(&path, text).unwrap();
        crate::spec::load(&path).unwrap()
    }

    const CLOUD: &str = "[[targets]]\nname = \"c\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n";
    const REAL: &str = "[[targets]]\nname = \"r\"\nkind = \"cloud\"\nbase_url = \"https://graph.facebook.com\"\nphone_number_id = \"1\"\ntoken_env = \"T\"\nmessaging_tier = 250\nallow_generated_recipients = true\n";

    #[test]
    fn counts_unique_template_recipients_of_the_planned_messages() {
        let all = loaded(&format!("[messages]\ntext = 0\ntemplate = 1\n{CLOUD}"));
        assert_eq!(unique_template_recipients(&all, Some(1000)), 600, "every recipient gets a template");
        assert_eq!(unique_template_recipients(&all, Some(100)), 100);
        assert_eq!(unique_template_recipients(&all, None), 600, "unknown count: every recipient may");
        let none = loaded(&format!("[messages]\ntext = 1\n{CLOUD}"));
        assert_eq!(unique_template_recipients(&none, Some(1000)), 0);
        let half = loaded(&format!("[messages]\ntext = 1\ntemplate = 1\n{CLOUD}"));
        let u = unique_template_recipients(&half, Some(600));
        assert!((240..360).contains(&u), "{u}");
    }

    #[test]
    fn warns_beyond_the_tier_of_a_real_target_or_the_simulator() {
        let sim_unlimited = loaded(&format!("[messages]\ntext = 0\ntemplate = 1\n{CLOUD}"));
        assert!(messaging_limit_warnings(&sim_unlimited).is_empty());
        let sim_250 =
            loaded(&format!("[messages]\ntext = 0\ntemplate = 1\n[simulator.messaging_limit]\ntier = 250\n{CLOUD}"));
        let w = messaging_limit_warnings(&sim_250);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("600 unique recipients") && w[0].contains("250") && w[0].contains("131048"), "{}", w[0]);
        let real = loaded(&format!("[messages]\ntext = 0\ntemplate = 1\n{REAL}"));
        let w = messaging_limit_warnings(&real);
        assert!(w[0].contains("\"r\"") && w[0].contains("messaging_tier"), "{w:?}");
        assert!(plan_text(&real).contains("warning: target \"r\""));
        let within = loaded(&format!("[messages]\ntext = 0\ntemplate = 1\n{}", REAL.replace("= 250", "= 2000")));
        assert!(messaging_limit_warnings(&within).is_empty());
    }

    #[test]
    fn warns_when_the_simulator_fails_most_free_form_messages_for_closed_windows() {
        // capacity.toml's mix: 80% text to users whose windows are all closed (the default).
        let mix = "[messages]\ntext = 80\ntemplate = 20\n";
        let closed = loaded(&format!("{mix}{CLOUD}"));
        let w = closed_window_warnings(&closed);
        assert_eq!(w.len(), 1, "{w:?}");
        for part in ["target \"c\"", "about 80%", "open_fraction = 0", "131047", "error_rate"] {
            assert!(w[0].contains(part), "{part}: {}", w[0]);
        }
        assert!(plan_text(&closed).contains("  warning: target \"c\": about 80% of its messages are not templates"));
        let onprem = loaded(&format!("{mix}{}", CLOUD.replace("\"cloud\"", "\"onprem\"")));
        assert!(closed_window_warnings(&onprem)[0].contains("with 470"), "{:?}", closed_window_warnings(&onprem));
        // Users who wrote in (quickstart: 99%), windows off, templates only, or delivery not tracked
        // (the failures arrive in webhooks): nothing to warn about.
        for quiet in [
            "[simulator.service_window]\nopen_fraction = 0.99\n",
            "[simulator.service_window]\nenabled = false\n",
            "[webhooks]\nenabled = false\n",
        ] {
            assert!(closed_window_warnings(&loaded(&format!("{mix}{quiet}{CLOUD}"))).is_empty(), "{quiet}");
        }
        assert!(closed_window_warnings(&loaded(&format!("[messages]\ntext = 0\ntemplate = 1\n{CLOUD}"))).is_empty());
        // Half of the users wrote in: 40% of the messages still fail.
        let half = loaded(&format!("{mix}[simulator.service_window]\nopen_fraction = 0.5\n{CLOUD}"));
        assert!(closed_window_warnings(&half)[0].contains("about 40%"), "{:?}", closed_window_warnings(&half));
    }

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

    #[test]
    fn the_load_line_names_connection_reuse_when_it_is_not_the_default() {
        let kept = loaded(CLOUD);
        assert!(describe(&Plan::from_spec(&kept.profile.load)).ends_with("in flight"));
        let mut fresh = kept.profile.load.clone();
        fresh.keepalive = Some(false);
        let line = describe(&Plan::from_spec(&fresh));
        assert!(line.ends_with(", a new connection per request"), "{line}");
        let mut h2 = kept.profile.load.clone();
        h2.connections = Some(64);
        h2.streams_per_connection = Some(16);
        let line = describe(&Plan::from_spec(&h2));
        assert!(
            line.contains("64 connections") && line.ends_with("; HTTP/2: 16 streams per connection on 4"),
            "{line}"
        );
    }

    #[test]
    fn a_feeder_is_shown_with_its_rows_columns_and_order() {
        let loaded = crate::spec::load(std::path::Path::new("profiles/feeder-http.toml")).unwrap();
        let text = plan_text(&loaded);
        let rows = loaded.feeders[0].as_ref().unwrap().table().len();
        let want =
            format!("    feeder users.csv: {rows} row(s), columns `user_id`, `name`, `plan`, `note`; order sequential");
        assert!(text.lines().any(|l| l == want), "{want}\n{text}");
    }
}
