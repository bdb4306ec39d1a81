//! The planner's sizing advice, fitted to the limit that binds ([`super::binding`]): WebApps for the
//! on-premises request limiter, shards for the CoreApps, a tier or numbers for Cloud throughput,
//! recipients for the pair limit, a bigger client for the load generator. On an embedded simulator
//! the deployment's figures are the simulator's own configuration, so the advice agrees with it.

use super::binding::{Finding, Limit};
use crate::spec::sim::OnPremConfig;
use crate::spec::sim::onprem::{SHARD_COUNTS, WEBAPP_MESSAGES_RPS};
use crate::spec::{Loaded, TargetKind};
use crate::units::fmt_us;

/// What the advice of one target is computed from.
pub(crate) struct Input<'a> {
    pub loaded: &'a Loaded,
    pub index: usize,
    /// Highest rate within the SLO.
    pub cap: f64,
    /// The step that broke it, and the limit that binds there (None: never broken).
    pub bad: Option<&'a super::step::Step>,
    pub finding: Option<&'a Finding>,
    pub spec: &'a crate::spec::capacity::PlanSpec,
}

impl Input<'_> {
    fn embedded(&self) -> bool {
        self.loaded.profile.targets[self.index].is_embedded()
    }

    /// The on-premises deployment measured: the simulator's configuration, or for a remote target
    /// Meta's sizing with `plan.onprem_shards` / `plan.onprem_webapps` and Meta's request limits.
    fn deployment(&self) -> OnPremConfig {
        if self.embedded() {
            return self.loaded.profile.simulator.onprem.clone();
        }
        OnPremConfig {
            shards: self.spec.onprem_shards.unwrap_or(8),
            webapps: self.spec.onprem_webapps.unwrap_or(1),
            per_shard_mps: None,
            ..OnPremConfig::default()
        }
    }

    /// How the shards' capacity is scaled to another shard count.
    fn basis(&self, d: &OnPremConfig) -> &'static str {
        match (self.embedded(), d.per_shard_mps) {
            (true, Some(_)) => "the simulator's per-shard rate (linear in shards)",
            (true, None) => "the simulator's model of Meta's sizing (1 shard ≈ 70, 8 ≈ 125, 32 ≈ 250 messages/s)",
            (false, _) => {
                "Meta's published sizing (1 shard ≈ 70, 8 ≈ 125, 32 ≈ 250 messages/s; its On-Premises documentation)"
            }
        }
    }
}

/// Meta's published sizing of the On-Premises API, for the cross-check.
pub(crate) fn meta_onprem_guidance(shards: u32) -> &'static str {
    match shards {
        1 => "single-connect deployments reach about 70 messages/s",
        2 | 4 => "Meta publishes no figure for this shard count",
        8 => "Meta expects 100–150 messages/s with 8 shards",
        16 => "Meta publishes no figure for 16 shards (between 8 shards' 100–150 and 32's 250 messages/s)",
        _ => "Meta expects 250 messages/s sustained with 32 CoreApps",
    }
}

/// The advice lines after the headline: the binding limit, then sizing that fits it.
pub(crate) fn advice(i: &Input<'_>) -> Vec<String> {
    let mut a = Vec::new();
    let kind = i.loaded.profile.targets[i.index].kind;
    let limit = match i.finding {
        Some(f) => {
            a.push(format!("binding limit: {} — {}", f.limit.name(), f.evidence));
            f.limit
        }
        None => {
            a.push("binding limit: none reached within plan.max_rate".into());
            Limit::Unknown
        }
    };
    if kind == TargetKind::OnPrem {
        a.push(describe_deployment(i, &i.deployment()));
    }
    match (kind, limit) {
        (TargetKind::OnPrem, Limit::RequestLimiter) => request_limiter(i, &mut a),
        (TargetKind::OnPrem, Limit::CoreApp) => coreapp(i, &mut a),
        (_, Limit::LoadGenerator) => load_generator(i, &mut a),
        (_, Limit::PairLimit) => pair_limit(i, &mut a),
        (_, Limit::Unavailable) => a.push(
            "advice: the API was unavailable during the step (code 2 / HTTP 503 during updates or a downtime window): not a capacity limit; plan again outside the window".into(),
        ),
        (_, Limit::Transport) => a.push(
            "advice: timeouts, broken connections and server errors say nothing about a sizing the planner can compute: check the target's network and processes and load.timeout, then plan again".into(),
        ),
        (TargetKind::Cloud, Limit::MessagingTier) => a.push(
            "advice: 131048 is Meta's spam rate limit: too many of the number's messages were blocked or reported, so Meta caps what it sends; throughput does not lift it: send to users who expect the messages and fewer new users at a time until the quality rating recovers. (The embedded simulator answers 131048 also when its messaging limit, the unique users a portfolio reaches in 24 hours outside a window, is spent: `[simulator.messaging_limit] over_limit_code`, its own choice since Meta documents no code for it; then raise the tier or spread the campaign over time.)".into(),
        ),
        (TargetKind::Cloud, Limit::AppRateLimit) => a.push(
            "advice: the Graph API limits the calls of the app / WABA, not the messages of a number: make fewer API calls (no polling), or spread them over apps".into(),
        ),
        (TargetKind::Cloud, _) => cloud_tier(i, &mut a),
        (TargetKind::OnPrem, _) => coreapp(i, &mut a),
        (TargetKind::Conversation, Limit::Bot) => a.push(
            "advice: the bot's replies bound the conversations: its endpoint took the users' messages in time, but the replies came late or not at all; give the bot more workers or instances (or make its slow path faster), then plan again".into(),
        ),
        (TargetKind::Http | TargetKind::Webhook | TargetKind::Conversation, _) => {
            if let Some(want) = i.spec.target_rate {
                a.push(format!("for {want:.0} requests/s: {:.1}× the measured capacity", want / i.cap));
            }
        }
    }
    a
}

fn describe_deployment(i: &Input<'_>, d: &OnPremConfig) -> String {
    let webapps = match d.request_capacity() {
        Some(r) => format!(
            "{} WebApp(s) × {} requests/s (burst {}) = {r:.0} requests/s on /v1/messages",
            d.webapps, d.messages_rps, d.messages_burst
        ),
        None => format!("{} WebApp(s) without a request limit", d.webapps),
    };
    let source = if i.embedded() {
        "the simulator's configuration"
    } else {
        "assumed: set plan.onprem_shards / plan.onprem_webapps"
    };
    format!(
        "deployment ({source}): {} CoreApp shard(s) processing ≈{:.0} messages/s, behind {webapps}",
        d.shards,
        d.coreapp_capacity()
    )
}

/// Requests per second one WebApp admits on `/v1/messages` in this deployment.
fn per_webapp(d: &OnPremConfig) -> f64 {
    if d.messages_rps > 0 { f64::from(d.messages_rps) } else { WEBAPP_MESSAGES_RPS }
}

fn webapps_for(d: &OnPremConfig, want: f64) -> String {
    if d.messages_rps == 0 {
        return String::new();
    }
    let n = (want / per_webapp(d)).ceil().max(1.0);
    format!(" behind {n:.0} WebApps ({} requests/s each)", d.messages_rps)
}

fn request_limiter(i: &Input<'_>, a: &mut Vec<String>) {
    let d = i.deployment();
    a.push(format!(
        "advice: the request limiter binds; add WebApps, not shards: each WebApp admits {:.0} requests/s to /v1/messages, and more shards would not lift a request limiter (the {} shards behind them process ≈{:.0} messages/s)",
        per_webapp(&d),
        d.shards,
        d.coreapp_capacity()
    ));
    let Some(want) = i.spec.target_rate else { return };
    let n = (want / per_webapp(&d)).ceil().max(1.0);
    if want <= d.coreapp_capacity() {
        a.push(format!("for {want:.0} messages/s: {n:.0} WebApps in front of the same {} shards", d.shards));
        return;
    }
    match SHARD_COUNTS.into_iter().find(|s| d.coreapp_capacity_at(*s) >= want) {
        Some(s) => a.push(format!(
            "for {want:.0} messages/s: {n:.0} WebApps, and {s} shards (≈{:.0} messages/s by {})",
            d.coreapp_capacity_at(s),
            i.basis(&d)
        )),
        None => a.push(beyond_one_deployment(want, d.coreapp_capacity_at(32))),
    }
}

fn beyond_one_deployment(want: f64, at32: f64) -> String {
    format!(
        "for {want:.0} messages/s: more than one deployment's 32 shards process (≈{at32:.0} messages/s); split the traffic over several phone numbers/deployments, or consider the Cloud API (up to 1,000 messages/s per number)"
    )
}

fn coreapp(i: &Input<'_>, a: &mut Vec<String>) {
    let d = i.deployment();
    let shards = d.shards;
    let per = i.cap / f64::from(shards);
    a.push(format!(
        "advice: the CoreApp shards bind; add shards: {shards} shard(s) carried {:.1} messages/s, about {per:.1} per shard{}",
        i.cap,
        match d.request_capacity() {
            Some(r) if r > i.cap => format!(", while the WebApps admit {r:.0} requests/s (more WebApps would not help)"),
            _ => String::new(),
        }
    ));
    a.push(format!("assumption: capacity grows with shards as {}", i.basis(&d)));
    a.push(format!("cross-check: {}", meta_onprem_guidance(shards)));
    let Some(want) = i.spec.target_rate else { return };
    let scale = |s: u32| i.cap * d.coreapp_capacity_at(s) / d.coreapp_capacity_at(shards);
    match SHARD_COUNTS.into_iter().find(|s| scale(*s) >= want) {
        Some(s) => a.push(format!(
            "for {want:.0} messages/s: {s} shards (≈{:.0} messages/s scaled from the measured rate){}; {}",
            scale(s),
            webapps_for(&d, want),
            meta_onprem_guidance(s)
        )),
        None => a.push(beyond_one_deployment(want, scale(32))),
    }
}

fn load_generator(i: &Input<'_>, a: &mut Vec<String>) {
    let l = &i.loaded.profile.load;
    let (rate, service) = i.bad.map_or((i.cap, 0), |b| (b.offered, b.service_p99_us));
    let in_flight = (rate * service as f64 / 1e6).ceil();
    a.push(format!(
        "advice: the load generator fell behind, not the target, so the breakpoint measures the client: raise load.connections (now {}; {rate:.0}/s at a service time p99 of {} keeps ≈{in_flight:.0} requests in flight) or load.threads, or split the load over processes (--shard i/N), then plan again",
        l.connections.unwrap_or(64),
        fmt_us(service as f64)
    ));
}

fn pair_limit(i: &Input<'_>, a: &mut Vec<String>) {
    let sim = &i.loaded.profile.simulator.cloud.pair_limit;
    let interval = if i.embedded() { sim.interval.as_secs_f64() } else { 6.0 };
    let rate = i.bad.map_or(i.cap, |b| b.offered);
    a.push(format!(
        "advice: spread the messages over more recipients: each recipient takes one message per {interval:.0} s (bursts borrow from later; Meta's pair rate limit, 131056), so {rate:.0} messages/s need at least {:.0} recipients and the profile has {}; this is the test's recipient list, not the API's capacity",
        (rate * interval).ceil(),
        i.loaded.recipients.len()
    ));
}

/// Meta upgrades a number to 1,000 messages/s automatically, but only when it is eligible (Meta,
/// "Throughput", updated 2026-05-21,
/// <https://developers.facebook.com/documentation/business-messaging/whatsapp/throughput>: "If you
/// meet our eligibility requirements, we will automatically upgrade your business phone number to
/// 1,000 mps"). The requirements as Meta's partners state them (AWS End User Messaging Social,
/// <https://docs.aws.amazon.com/social-messaging/latest/userguide/increase-message-throughput.html>;
/// 360dialog, "Higher Throughput"): an unlimited messaging limit and a quality rating of medium or
/// higher; the stored copy of Meta's page did not show its eligibility list.
pub const HIGHER_TIER_CONDITION: &str = "only if Meta finds the number eligible: the business portfolio's messaging limit is unlimited and the number's quality rating is medium or higher";

fn cloud_tier(i: &Input<'_>, a: &mut Vec<String>) {
    let embedded = i.embedded();
    let sim = &i.loaded.profile.simulator.cloud;
    let per =
        if embedded && sim.throughput_mps > 0 { f64::from(sim.throughput_mps) } else { i.spec.cloud_mps_per_number };
    let source = if embedded { "the simulator's configuration" } else { "plan.cloud_mps_per_number" };
    a.push(format!(
        "assumption: one phone number at {per:.0} messages/s ({source}; a number starts at 80, and is upgraded to 1,000 {HIGHER_TIER_CONDITION}); a number's limit counts inbound and outbound messages"
    ));
    let Some(want) = i.spec.target_rate else { return };
    if want <= 80.0 {
        a.push(format!("for {want:.0} messages/s: one phone number at the default 80 messages/s tier"));
    } else if want <= 1000.0 {
        a.push(format!(
            "for {want:.0} messages/s: {} phone numbers at 80 messages/s; or one number at 1,000 messages/s, {HIGHER_TIER_CONDITION}",
            numbers_for(want)
        ));
    } else {
        a.push(format!(
            "for {want:.0} messages/s: {} phone numbers at 80 messages/s; or {} numbers at 1,000 messages/s, {HIGHER_TIER_CONDITION}",
            numbers_for(want),
            (want / 1000.0).ceil()
        ));
    }
    if i.cap < want {
        a.push(format!(
            "measured: this number sustained {:.0} messages/s, below {want:.0}: the difference must come from more numbers or a higher tier",
            i.cap
        ));
    }
}

/// How many numbers at 80 messages/s carry `want` messages/s.
fn numbers_for(want: f64) -> u32 {
    (want / 80.0).ceil().max(1.0) as u32
}

/// For a Cloud target whose one number's throughput binds below `plan.target_rate`: a profile that
/// sends that rate from the numbers the advice names (this target alone, a constant rate for one plan
/// step), as a file name and its TOML. An embedded target's numbers are made up; a real target's
/// are its own first, then ids to replace, as the file's head says.
pub(crate) fn numbers_profile(
    loaded: &Loaded,
    index: usize,
    finding: Option<&Finding>,
    spec: &crate::spec::capacity::PlanSpec,
) -> Option<(String, String)> {
    let t = &loaded.profile.targets[index];
    let want = spec.target_rate?;
    let throughput = matches!(finding.map(|f| f.limit), Some(Limit::CloudThroughput) | None);
    let n = numbers_for(want);
    if t.kind != TargetKind::Cloud || !throughput || n <= 1 || t.sending_numbers().len() >= n as usize {
        return None;
    }
    let mut target = t.clone();
    let mut ids = t.sending_numbers();
    let first: u64 = ids[0].parse().unwrap_or(100_000_000_000_001);
    let mut next = first;
    while ids.len() < n as usize {
        next += 1;
        let id = next.to_string();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    target.phone_number_id = None;
    target.phone_numbers_file = None;
    target.phone_number_ids = ids;
    let (p, untracked) = as_a_step(loaded, target, want, spec);
    let body = without_secrets(&p)?;
    let head = numbers_head(&p, want, n, untracked);
    Some((format!("{}-{n}-numbers.toml", t.name), format!("{head}{body}")))
}

/// The profile of one plan step at `want` messages/s from `target` alone, for a file beside the plan:
/// what the step ran (a constant rate for `plan.step`, each message sent once, and delivery tracked
/// only where the steps track it), with file names made independent of the folder it is written to.
/// The flag says that delivery was turned off to match the steps (an embedded target without
/// `[webhooks]`, which a run would otherwise track).
fn as_a_step(
    loaded: &Loaded,
    target: crate::spec::TargetSpec,
    want: f64,
    spec: &crate::spec::capacity::PlanSpec,
) -> (crate::spec::Profile, bool) {
    use crate::spec::webhook::WebhookConfig;
    let mut p = loaded.profile.clone();
    let for_steps = WebhookConfig::for_target(p.webhooks.as_ref(), &target, false).is_some();
    let for_runs = WebhookConfig::for_target(p.webhooks.as_ref(), &target, true).is_some();
    let untracked = for_runs && !for_steps;
    if untracked {
        p.webhooks = Some(WebhookConfig { enabled: false, ..WebhookConfig::default() });
    }
    p.name = format!("{}-{}-numbers", p.name, target.phone_number_ids.len());
    p.targets = vec![target];
    p.plan = None;
    p.load.model = crate::spec::Model::Open;
    p.load.rate = Some(want);
    p.load.stages = Vec::new();
    p.load.start_rate = 0.0;
    p.load.duration = Some(spec.step);
    p.load.max_requests = None;
    p.load.think_time = None;
    p.retry.max_attempts = 1;
    rebase(&mut p, loaded.path.parent().unwrap_or(std::path::Path::new(".")));
    (p, untracked)
}

/// Files the profile names relative to its folder (`dir`), named from anywhere instead.
fn rebase(p: &mut crate::spec::Profile, dir: &std::path::Path) {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let fix = |f: &mut std::path::PathBuf| {
        if f.is_relative() {
            *f = dir.join(&*f);
        }
    };
    p.recipients.file.as_mut().map(fix);
    if let Some(w) = &mut p.webhooks {
        w.app_secret_file.as_mut().map(fix);
    }
    for t in &mut p.targets {
        t.token_file.as_mut().map(fix);
        t.body_file.as_mut().map(fix);
        if let Some(tls) = &mut t.tls {
            [&mut tls.ca_file, &mut tls.client_cert, &mut tls.client_key].into_iter().flatten().for_each(fix);
        }
        if let Some(c) = &mut t.cost {
            fix(&mut c.rate_card);
        }
    }
}

/// The profile's TOML without what must not be written down: credentials are redacted as run.json
/// redacts them, and the simulator's on-premises accounts (of no use to a Cloud step) are its default
/// account, which is not written, so no password is.
fn without_secrets(p: &crate::spec::Profile) -> Option<String> {
    let mut p = p.redacted();
    p.simulator.onprem.users = crate::spec::sim::OnPremConfig::default().users;
    toml::to_string(&p).ok()
}

/// The comment at the head of a numbers profile: what it sends, what it measures as the plan's steps
/// did, and how to run it.
fn numbers_head(p: &crate::spec::Profile, want: f64, n: u32, untracked: bool) -> String {
    let step = p.load.duration.map(|d| d.to_string()).unwrap_or_default();
    let mut head = format!("# Written by `wabench plan`: {want:.0} messages/s from {n} numbers at 80 messages/s each");
    head.push_str(if p.targets[0].is_embedded() {
        ", on the\n# embedded simulator (made-up ids).\n"
    } else {
        ". Every id\n# after the first is made up: replace them with your portfolio's numbers before running it.\n"
    });
    head.push_str(&format!(
        "# As a step of the plan: a constant rate for {step}, each message sent once ([retry] max_attempts = 1).\n"
    ));
    if untracked {
        head.push_str(
            "# Delivery is not tracked ([webhooks] enabled = false), as in the plan's steps, which measure what\n\
             # the API accepts. To track it, remove that table: then messages that are not templates fail with\n\
             # 131047 for users whose customer service window is closed (see [simulator.service_window]).\n",
        );
    }
    head.push_str("# Run it: wabench run <this file>\n");
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The advice for an embedded Cloud target bound by throughput, asked to carry `target_rate`.
    fn throughput_advice(target_rate: u32) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.toml");
        let text = format!(
            "name = \"c\"\n[load]\nrate = 10\nduration = \"1s\"\n[plan]\ntarget_rate = {target_rate}\n\
             [[targets]]\nname = \"cloud\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n"
        );
        std::fs::write(&path, text).unwrap();
        let loaded = crate::spec::load(&path).unwrap();
        let spec = loaded.profile.plan.clone().unwrap();
        let finding = Finding { limit: Limit::CloudThroughput, evidence: String::new() };
        advice(&Input { loaded: &loaded, index: 0, cap: 80.0, bad: None, finding: Some(&finding), spec: &spec })
    }

    #[test]
    fn the_numbers_advised_become_a_profile_that_loads_and_sends_from_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.toml");
        std::fs::write(dir.path().join("users.csv"), "phone\n15550001111\n15550002222\n").unwrap();
        let text = "name = \"c\"\n[load]\nconnections = 16\n[recipients]\nfile = \"users.csv\"\n\
             [plan]\ntarget_rate = 200\nstep = \"5s\"\n\
             [simulator.onprem]\nusers = [{ username = \"ops\", password = \"Hunter2-pass!\" }]\n\
             [[targets]]\nname = \"cloud\"\nkind = \"cloud\"\nbase_url = \"embedded\"\nphone_number_id = \"106540352242922\"\n\
             [[targets]]\nname = \"onprem\"\nkind = \"onprem\"\nbase_url = \"embedded\"\n";
        std::fs::write(&path, text).unwrap();
        let loaded = crate::spec::load(&path).unwrap();
        let spec = loaded.profile.plan.clone().unwrap();
        let finding = Finding { limit: Limit::CloudThroughput, evidence: String::new() };
        let (name, toml) = numbers_profile(&loaded, 0, Some(&finding), &spec).expect("a profile for 3 numbers");
        assert_eq!(name, "cloud-3-numbers.toml");
        // Written beside the plan, elsewhere: the recipients file is still found.
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::write(elsewhere.path().join(&name), &toml).unwrap();
        let generated = crate::spec::load(&elsewhere.path().join(&name)).unwrap_or_else(|e| panic!("{e}\n{toml}"));
        assert_eq!(generated.recipients.len(), 2);
        let p = &generated.profile;
        assert_eq!(p.targets.len(), 1);
        assert_eq!(p.targets[0].phone_number_ids, ["106540352242922", "106540352242923", "106540352242924"]);
        assert_eq!((p.load.rate, p.load.connections), (Some(200.0), Some(16)));
        assert!(p.plan.is_none() && toml.starts_with("# Written by `wabench plan`"));
        // As the plan's steps ran: each message once, delivery not tracked.
        assert_eq!((p.load.duration.map(|d| d.0.as_secs()), p.retry.max_attempts), (Some(5), 1));
        assert!(p.webhooks.as_ref().is_some_and(|w| !w.enabled), "{toml}");
        // No password is written: the simulator keeps its default account, of no use to a Cloud step.
        assert!(!toml.contains("password") && !toml.contains("Hunter2"), "{toml}");
        assert!(crate::spec::sim::UserConfig::are_default(&p.simulator.onprem.users));
        let head: Vec<&str> = toml.lines().take_while(|l| l.starts_with('#')).collect();
        assert!(head.iter().all(|l| l.starts_with("# ") && !l.starts_with("#  ") && l.len() <= 100), "{head:#?}");
        assert!(head.iter().any(|l| l.contains("[webhooks] enabled = false")), "{head:#?}");
        // Not for another binding limit, another kind, or a rate one number carries.
        let pair = Finding { limit: Limit::PairLimit, evidence: String::new() };
        assert!(numbers_profile(&loaded, 0, Some(&pair), &spec).is_none());
        assert!(numbers_profile(&loaded, 1, Some(&finding), &spec).is_none());
        let low = crate::spec::capacity::PlanSpec { target_rate: Some(70.0), ..spec };
        assert!(numbers_profile(&loaded, 0, Some(&finding), &low).is_none());
    }

    #[test]
    fn a_numbers_profile_tracks_delivery_when_the_plan_steps_did() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.toml");
        let text = "name = \"c\"\n[load]\nconnections = 16\n[plan]\ntarget_rate = 200\n[webhooks]\n\
             [simulator.service_window]\nopen_fraction = 1.0\n\
             [[targets]]\nname = \"cloud\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n";
        std::fs::write(&path, text).unwrap();
        let loaded = crate::spec::load(&path).unwrap();
        let spec = loaded.profile.plan.clone().unwrap();
        let (_, toml) = numbers_profile(&loaded, 0, None, &spec).unwrap();
        let p = crate::spec::parse(&path, &toml).unwrap_or_else(|e| panic!("{e}\n{toml}"));
        assert!(
            p.webhooks.as_ref().is_some_and(|w| w.enabled) && !toml.contains("# Delivery is not tracked"),
            "{toml}"
        );
    }

    #[test]
    fn the_higher_throughput_tier_is_advised_only_with_its_condition() {
        for rate in [60, 400, 2500] {
            let advice = throughput_advice(rate);
            let all = advice.join("\n");
            for line in advice.iter().filter(|l| l.contains("1,000")) {
                assert!(line.contains(HIGHER_TIER_CONDITION), "{rate}/s: {line}");
            }
            if rate > 80 {
                let numbers = (f64::from(rate) / 80.0).ceil();
                assert!(all.contains(&format!("{numbers} phone numbers at 80 messages/s")), "{rate}/s: {all}");
            }
            assert!(!all.contains("automatic upgrade"), "{all}");
        }
    }
}
