//! Semantic checks of a parsed profile that serde cannot express: each error names the field and why.

use std::path::Path;

use super::endpoint::Endpoint;
use super::graph_version::GraphVersion;
use super::{Dur, Model, Profile, ProfileError, TargetKind, TargetSpec, err};

fn positive(path: &Path, field: &str, v: f64) -> Result<(), ProfileError> {
    if !v.is_finite() || v <= 0.0 {
        return Err(err(path, field, format!("must be a number greater than 0, got {v}")));
    }
    Ok(())
}

fn non_zero(path: &Path, field: &str, d: Option<Dur>) -> Result<(), ProfileError> {
    if let Some(d) = d
        && d.0.is_zero()
    {
        return Err(err(path, field, "must be longer than zero"));
    }
    Ok(())
}

/// Semantic checks that serde cannot express, table by table.
pub fn validate(path: &Path, p: &Profile) -> Result<(), ProfileError> {
    validate_name(path, p)?;
    validate_load(path, p)?;
    validate_targets(path, p)?;
    for (k, v) in &p.thresholds {
        super::threshold::Threshold::parse(k, v).map_err(|r| err(path, format!("thresholds.{k}"), r))?;
    }
    if p.targets.iter().any(|t| t.kind.is_whatsapp_api()) {
        p.messages.validate().map_err(|(f, r)| err(path, f, r))?;
        if p.retry.max_attempts == 0 {
            return Err(err(path, "retry.max_attempts", "must be at least 1 (1 = never retry)"));
        }
    }
    if let Some(plan) = &p.plan {
        plan.validate().map_err(|(f, r)| err(path, f, r))?;
    }
    if p.targets.iter().any(TargetSpec::is_embedded) {
        p.simulator.validate().map_err(|e| err(path, "simulator", e.0))?;
        let (connections, cap) = (p.load.connections_or_default(), p.simulator.server.max_connections);
        if connections > cap {
            return Err(err(
                path,
                "simulator.server.max_connections",
                format!(
                    "is {cap}, below load.connections = {connections}: the embedded simulator would close the \
                     connections beyond it"
                ),
            ));
        }
    }
    if let Some(t) = &p.tracing {
        t.validate().map_err(|(f, r)| err(path, f, r))?;
    }
    if let Some(w) = &p.webhooks {
        w.check_receiver_url().map_err(|r| err(path, "webhooks.receiver_url", r))?;
    }
    Ok(())
}

/// The profile's `name`, which names its results folders.
fn validate_name(path: &Path, p: &Profile) -> Result<(), ProfileError> {
    if p.name.trim().is_empty() {
        return Err(err(path, "name", "must not be empty"));
    }
    if p.name.contains(['/', '\\']) || p.name.contains("..") {
        return Err(err(path, "name", "must not contain '/', '\\' or '..' (it names a results folder)"));
    }
    Ok(())
}

/// `[load]`: the limits every model shares, then those of its model, then that the plan sends something.
fn validate_load(path: &Path, p: &Profile) -> Result<(), ProfileError> {
    let l = &p.load;
    let max_rate = l.max_rate.unwrap_or(1_000_000.0);
    positive(path, "load.max_rate", max_rate)?;
    non_zero(path, "load.duration", l.duration)?;
    non_zero(path, "load.timeout", l.timeout)?;
    if let Some(c) = l.connections
        && c == 0
    {
        return Err(err(path, "load.connections", "must be at least 1"));
    }
    if let Some(t) = l.threads
        && t == 0
    {
        return Err(err(path, "load.threads", "must be at least 1"));
    }
    if l.max_requests == Some(0) {
        return Err(err(path, "load.max_requests", "must be at least 1"));
    }
    connection_reuse(path, p)?;
    if !l.start_rate.is_finite() || l.start_rate < 0.0 {
        return Err(err(path, "load.start_rate", format!("must be 0 or more, got {}", l.start_rate)));
    }
    match l.model {
        Model::Open => validate_open(path, p, max_rate)?,
        Model::Closed => validate_closed(path, p)?,
    }
    if l.model == Model::Open && !p.is_plan_only() && l.schedule().map(|s| s.total()) == Some(0) {
        return Err(err(
            path,
            "load",
            "the plan sends no request: the rate over the duration adds up to less than one",
        ));
    }
    Ok(())
}

/// `[load]` of the open model: a constant `rate` with `duration`, or `stages`.
fn validate_open(path: &Path, p: &Profile, max_rate: f64) -> Result<(), ProfileError> {
    let l = &p.load;
    if let Some(m) = l.max_in_flight
        && m < u64::from(l.connections.unwrap_or(1))
    {
        return Err(err(path, "load.max_in_flight", "must be at least `connections`"));
    }
    match (l.rate, l.stages.is_empty()) {
        (Some(_), false) => {
            return Err(err(path, "load.rate", "give either `rate` (with `duration`) or `stages`, not both"));
        }
        (Some(r), true) => {
            positive(path, "load.rate", r)?;
            if r > max_rate {
                return Err(err(path, "load.rate", format!("{r} is above load.max_rate ({max_rate})")));
            }
            if l.duration.is_none() {
                return Err(err(path, "load.duration", "is required with a constant `rate`"));
            }
        }
        // A profile for `wabench plan` only: the search sets the rates.
        (None, true) if p.plan.is_some() && l.duration.is_none() => {}
        (None, true) => {
            return Err(err(
                path,
                "load",
                "an open-loop load needs `rate` and `duration`, or `stages` (or only a [plan] table, for `wabench plan`)",
            ));
        }
        (None, false) => {
            validate_stages(path, l, max_rate)?;
        }
    }
    if l.think_time.is_some() {
        return Err(err(path, "load.think_time", "applies to the closed model only"));
    }
    Ok(())
}

/// `load.stages` of an open-loop load: each rate 0 or more and within `max_rate`, each of some length,
/// not all of rate 0.
fn validate_stages(path: &Path, l: &super::LoadSpec, max_rate: f64) -> Result<(), ProfileError> {
    if l.duration.is_some() {
        return Err(err(path, "load.duration", "the stages give the duration; remove `duration`"));
    }
    for (i, s) in l.stages.iter().enumerate() {
        if !s.to.is_finite() || s.to < 0.0 {
            return Err(err(path, format!("load.stages[{i}].to"), format!("must be 0 or more, got {}", s.to)));
        }
        if s.to > max_rate {
            return Err(err(
                path,
                format!("load.stages[{i}].to"),
                format!("{} is above load.max_rate ({max_rate})", s.to),
            ));
        }
        if s.over.0.is_zero() {
            return Err(err(path, format!("load.stages[{i}].over"), "must be longer than zero"));
        }
    }
    if l.stages.iter().all(|s| s.to == 0.0) && l.start_rate == 0.0 {
        return Err(err(path, "load.stages", "every stage has rate 0: nothing would be sent"));
    }
    Ok(())
}

/// `[load]` of the closed model: virtual users, a duration or a request count, no arrival rate.
fn validate_closed(path: &Path, p: &Profile) -> Result<(), ProfileError> {
    let l = &p.load;
    if l.rate.is_some() || !l.stages.is_empty() {
        return Err(err(
            path,
            "load.rate",
            "a closed-loop load has no arrival rate; use `connections` (virtual users)",
        ));
    }
    if l.duration.is_none() && l.max_requests.is_none() {
        return Err(err(path, "load.duration", "a closed-loop load needs `duration` or `max_requests`"));
    }
    if l.max_in_flight.is_some() {
        return Err(err(path, "load.max_in_flight", "applies to the open model only"));
    }
    Ok(())
}

/// `[[targets]]`: at least one, each named once and in a way that can name files, each checked.
fn validate_targets(path: &Path, p: &Profile) -> Result<(), ProfileError> {
    if p.targets.is_empty() {
        return Err(err(path, "targets", "at least one [[targets]] entry is required"));
    }
    let mut names = std::collections::HashSet::new();
    for (i, t) in p.targets.iter().enumerate() {
        let f = |k: &str| format!("targets[{i}].{k}");
        if t.name.trim().is_empty() || !t.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(err(
                path,
                f("name"),
                format!("{:?}: use letters, digits, '-', '_' or '.' (it names result files)", t.name),
            ));
        }
        if !names.insert(t.name.as_str()) {
            return Err(err(path, f("name"), format!("{:?} is used by two targets", t.name)));
        }
        validate_target(path, i, t)?;
        if t.is_real() && p.recipients.file.is_none() && !t.allow_generated_recipients {
            return Err(err(
                path,
                "recipients.file",
                format!(
                    "target {:?} sends real messages: give a recipients file of users who expect them, or set \
                     allow_generated_recipients = true on the target to send to generated numbers anyway \
                     (messages to strangers cost money and the number's quality rating)",
                    t.name
                ),
            ));
        }
        if t.max_body == Some(0) {
            return Err(err(path, f("max_body"), "must be at least 1"));
        }
        if let Some(c) = &t.cost {
            if !t.kind.is_whatsapp_api() {
                return Err(err(path, f("cost"), "prices WhatsApp messages: a Cloud or On-Premises target's only"));
            }
            c.validate().map_err(|(k, r)| err(path, f(&k), r))?;
        }
    }
    validate_beside(path, p)
}

/// `beside`: it names a conversation target of the profile, and each conversation target has one
/// target beside it at the most.
fn validate_beside(path: &Path, p: &Profile) -> Result<(), ProfileError> {
    let mut taken = std::collections::HashSet::new();
    for (i, t) in p.targets.iter().enumerate() {
        let Some(name) = &t.beside else { continue };
        let f = format!("targets[{i}].beside");
        let Some(host) = p.targets.iter().find(|h| &h.name == name) else {
            return Err(err(path, f, format!("{name:?} is no target of the profile")));
        };
        if host.kind != TargetKind::Conversation {
            return Err(err(
                path,
                f,
                format!("{name:?} is a {} target: a target runs beside a conversation target", host.kind.name()),
            ));
        }
        if !taken.insert(name.as_str()) {
            return Err(err(path, f, format!("{name:?} already has a target beside it (one at the most)")));
        }
    }
    Ok(())
}

/// `tls`, `connect_to` and `proxy`: their files read and checked; none of them on an embedded target.
fn validate_net(path: &Path, i: usize, t: &TargetSpec) -> Result<(), ProfileError> {
    let f = |k: &str| format!("targets[{i}].{k}");
    let set = [("tls", t.tls.is_some()), ("connect_to", t.connect_to.is_some()), ("proxy", t.proxy.is_some())];
    let Some((first, _)) = set.iter().find(|(_, s)| *s) else { return Ok(()) };
    if t.is_embedded() || t.is_embedded_receiver() {
        return Err(err(path, f(first), "does not apply to an embedded target (wabench reaches it directly)"));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let net = super::net::Net::of_target(t, base).map_err(|e| err(path, f(e.field), e.reason))?;
    // The login and the handshake (reqwest) can redirect the address only, not the port.
    let reqwest_too = t.kind == TargetKind::OnPrem || (t.kind == TargetKind::Webhook && t.webhook_spec().handshake);
    if net.connect_to.is_some() && reqwest_too && matches!(net.proxy, super::net::Proxy::Url(_)) {
        return Err(err(
            path,
            f("connect_to"),
            format!(
                "cannot go with `proxy` for kind = {:?}: its {} client would ask the proxy for the URL's host",
                t.kind.name(),
                if t.kind == TargetKind::OnPrem { "login" } else { "handshake" }
            ),
        ));
    }
    if let (Some((_, port)), Some(ep)) = (&net.connect_to, t.address().and_then(|a| Endpoint::parse(a).ok()))
        && reqwest_too
        && *port != ep.port
    {
        return Err(err(
            path,
            f("connect_to"),
            format!(
                "must keep the URL's port {} for kind = {:?}: its {} client can change the address only",
                ep.port,
                t.kind.name(),
                if t.kind == TargetKind::OnPrem { "login" } else { "handshake" }
            ),
        ));
    }
    Ok(())
}

fn validate_target(path: &Path, i: usize, t: &TargetSpec) -> Result<(), ProfileError> {
    validate_net(path, i, t)?;
    let f = |k: &str| format!("targets[{i}].{k}");
    let only = |k: &str, set: bool, kinds: &str| -> Result<(), ProfileError> {
        if set { Err(err(path, f(k), format!("applies to kind = {kinds} only"))) } else { Ok(()) }
    };
    let http = t.kind == TargetKind::Http;
    let hook = t.kind == TargetKind::Webhook;
    let whatsapp = t.kind.is_whatsapp_api();
    only("webhook", !hook && t.webhook.is_some(), "\"webhook\"")?;
    only("conversation", t.kind != TargetKind::Conversation && t.conversation.is_some(), "\"conversation\"")?;
    only(
        "beside",
        t.beside.is_some() && !(t.kind == TargetKind::Cloud && t.is_embedded()),
        "\"cloud\" with base_url = \"embedded\"",
    )?;
    only("expect_status", !http && t.expect_status.is_some(), "\"http\"")?;
    only("expect_body", !http && t.expect_body.is_some(), "\"http\"")?;
    if let Some(codes) = &t.expect_status
        && (codes.is_empty() || codes.iter().any(|c| !(100..=599).contains(c)))
    {
        return Err(err(path, f("expect_status"), "lists HTTP statuses: one or more numbers from 100 to 599"));
    }
    only(
        "resend_unanswered",
        hook && t.resend_unanswered,
        "\"http\", \"cloud\" or \"onprem\" (a webhook target redelivers as Meta does: `webhook.retry`)",
    )?;
    if http && t.resend_unanswered {
        let method = t.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
        if !matches!(method.as_str(), "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS" | "TRACE") {
            return Err(err(
                path,
                f("resend_unanswered"),
                format!(
                    "applies to idempotent methods only (GET, HEAD, PUT, DELETE, OPTIONS, TRACE), not {method}: \
                     a {method} the server received but did not answer may have taken effect, and sending it \
                     again would repeat it"
                ),
            ));
        }
    }
    if hook {
        return validate_webhook_target(path, i, t);
    }
    if t.kind == TargetKind::Conversation {
        return validate_conversation_target(path, i, t);
    }
    only("url", whatsapp && t.url.is_some(), "\"http\" or \"webhook\" (WhatsApp targets take `base_url`)")?;
    only("method", whatsapp && t.method.is_some(), "\"http\"")?;
    only("headers", whatsapp && !t.headers.is_empty(), "\"http\"")?;
    only("headers_from_env", whatsapp && !t.headers_from_env.is_empty(), "\"http\"")?;
    only("body", whatsapp && t.body.is_some(), "\"http\" (WhatsApp bodies come from [messages])")?;
    only("body_file", whatsapp && t.body_file.is_some(), "\"http\"")?;
    if whatsapp && t.feeder.is_some() {
        return Err(err(
            path,
            f("feeder"),
            "applies to kind = \"http\" only: WhatsApp messages take per-message values from the columns of \
             the [recipients] file (`recipients.column`, `{{column}}` in `messages.template_body_params` and \
             `messages.text_body`)",
        ));
    }
    only("base_url", http && t.base_url.is_some(), "\"cloud\" or \"onprem\" (http targets take `url`)")?;
    let cloud = t.kind == TargetKind::Cloud;
    let onprem = t.kind == TargetKind::OnPrem;
    only("api_version", !cloud && t.api_version.is_some(), "\"cloud\"")?;
    only("phone_number_id", !cloud && t.phone_number_id.is_some(), "\"cloud\"")?;
    only("phone_number_ids", !cloud && !t.phone_number_ids.is_empty(), "\"cloud\"")?;
    only("phone_numbers_file", !cloud && t.phone_numbers_file.is_some(), "\"cloud\"")?;
    only("spread", !cloud && t.spread.is_some(), "\"cloud\"")?;
    if cloud {
        sending_numbers(path, i, t)?;
    }
    only("token_env", !cloud && t.token_env.is_some(), "\"cloud\"")?;
    only("messaging_tier", !cloud && t.messaging_tier.is_some(), "\"cloud\"")?;
    only("token_file", !cloud && t.token_file.is_some(), "\"cloud\"")?;
    only("username_env", !onprem && t.username_env.is_some(), "\"onprem\"")?;
    only("password_env", !onprem && t.password_env.is_some(), "\"onprem\"")?;
    only("new_password_env", !onprem && t.new_password_env.is_some(), "\"onprem\"")?;
    only("allow_generated_recipients", http && t.allow_generated_recipients, "\"cloud\" or \"onprem\"")?;
    if http { validate_http_target(path, i, t) } else { validate_whatsapp_target(path, i, t) }
}

/// A `kind = "http"` target: a `url` that parses once its placeholders are filled, a method, headers,
/// and one body at the most.
fn validate_http_target(path: &Path, i: usize, t: &TargetSpec) -> Result<(), ProfileError> {
    let f = |k: &str| format!("targets[{i}].{k}");
    let url = t.url.as_deref().ok_or_else(|| err(path, f("url"), "is required for kind = \"http\""))?;
    Endpoint::parse(&super::template::sample(url)).map_err(|r| err(path, f("url"), r))?;
    templates(path, i, t)?;
    let m = t.method.as_deref().unwrap_or("GET");
    http::Method::from_bytes(m.as_bytes())
        .map_err(|_| err(path, f("method"), format!("{m:?} is not an HTTP method")))?;
    headers(path, t, &f)?;
    if t.body.is_some() && t.body_file.is_some() {
        return Err(err(path, f("body"), "give either `body` or `body_file`, not both"));
    }
    Ok(())
}

/// A Cloud target's sending numbers: one way of naming them, each id all digits and listed once.
fn sending_numbers(path: &Path, i: usize, t: &TargetSpec) -> Result<(), ProfileError> {
    let f = |k: &str| format!("targets[{i}].{k}");
    let given = [
        ("phone_number_id", t.phone_number_id.is_some()),
        ("phone_number_ids", !t.phone_number_ids.is_empty()),
        ("phone_numbers_file", t.phone_numbers_file.is_some()),
    ];
    let named: Vec<&str> = given.iter().filter(|(_, set)| *set).map(|(k, _)| *k).collect();
    if named.len() > 1 {
        return Err(err(path, f(named[1]), format!("give one of {}, not several", named.join(", "))));
    }
    if let Some(id) = &t.phone_number_id
        && !super::numbers::is_phone_number_id(id.trim())
    {
        return Err(err(path, f("phone_number_id"), format!("{id:?} is not a phone number id (digits only)")));
    }
    super::numbers::check_ids(&t.phone_number_ids)
        .map_err(|(n, reason)| err(path, f(&format!("phone_number_ids[{n}]")), reason))?;
    if t.spread.is_some() && t.phone_number_ids.is_empty() && t.phone_numbers_file.is_none() {
        return Err(err(path, f("spread"), "applies to several numbers (`phone_number_ids` or `phone_numbers_file`)"));
    }
    Ok(())
}

/// A Cloud or On-Premises API target: a `base_url` ("embedded" or the API's), and for a real API the
/// phone number and token (Cloud) or the login (On-Premises); a Graph API version that reads as one.
fn validate_whatsapp_target(path: &Path, i: usize, t: &TargetSpec) -> Result<(), ProfileError> {
    let f = |k: &str| format!("targets[{i}].{k}");
    let (cloud, onprem) = (t.kind == TargetKind::Cloud, t.kind == TargetKind::OnPrem);
    let base = t.base_url.as_deref().ok_or_else(|| {
        err(path, f("base_url"), "is required: the API's URL, or \"embedded\" for the built-in simulator")
    })?;
    if base != "embedded" {
        Endpoint::parse(base).map_err(|r| err(path, f("base_url"), r))?;
        if cloud {
            if t.phone_number_id.as_deref().is_none_or(|p| p.trim().is_empty())
                && t.phone_number_ids.is_empty()
                && t.phone_numbers_file.is_none()
            {
                return Err(err(
                    path,
                    f("phone_number_id"),
                    "is required for a Cloud API target (or several: `phone_number_ids`, `phone_numbers_file`)",
                ));
            }
            if t.token_env.is_none() && t.token_file.is_none() {
                return Err(err(
                    path,
                    f("token_env"),
                    "give `token_env` (an environment variable) or `token_file` holding the access token",
                ));
            }
        }
        if onprem && (t.username_env.is_none() || t.password_env.is_none()) {
            return Err(err(
                path,
                f("username_env"),
                "give `username_env` and `password_env`: environment variables with the login",
            ));
        }
    }
    if cloud && t.token_env.is_some() && t.token_file.is_some() {
        return Err(err(path, f("token_env"), "give either `token_env` or `token_file`, not both"));
    }
    if let Some(v) = &t.api_version
        && GraphVersion::parse(v).is_none()
    {
        return Err(err(path, f("api_version"), format!("{v:?} is not a Graph API version like \"v23.0\"")));
    }
    Ok(())
}

/// A `kind = "webhook"` target: a `url` ("embedded" or the endpoint), none of the fields of the
/// other kinds, and a valid `[targets.webhook]` table.
fn validate_webhook_target(path: &Path, i: usize, t: &TargetSpec) -> Result<(), ProfileError> {
    let f = |k: &str| format!("targets[{i}].{k}");
    let not_here = |k: &str, set: bool| -> Result<(), ProfileError> {
        if set { Err(err(path, f(k), "does not apply to kind = \"webhook\" (see [targets.webhook])")) } else { Ok(()) }
    };
    not_here("method", t.method.is_some())?;
    not_here("body", t.body.is_some())?;
    not_here("body_file", t.body_file.is_some())?;
    not_here("feeder", t.feeder.is_some())?;
    not_here("base_url", t.base_url.is_some())?;
    not_here("api_version", t.api_version.is_some())?;
    not_here("phone_number_id", t.phone_number_id.is_some())?;
    not_here("phone_number_ids", !t.phone_number_ids.is_empty())?;
    not_here("phone_numbers_file", t.phone_numbers_file.is_some())?;
    not_here("spread", t.spread.is_some())?;
    not_here("messaging_tier", t.messaging_tier.is_some())?;
    not_here("token_env", t.token_env.is_some())?;
    not_here("token_file", t.token_file.is_some())?;
    not_here("username_env", t.username_env.is_some())?;
    not_here("password_env", t.password_env.is_some())?;
    not_here("new_password_env", t.new_password_env.is_some())?;
    not_here("allow_generated_recipients", t.allow_generated_recipients)?;
    let url = t.url.as_deref().ok_or_else(|| {
        err(
            path,
            f("url"),
            "is required for kind = \"webhook\": the endpoint's URL, or \"embedded\" for wabench's own receiver",
        )
    })?;
    if url != "embedded" {
        Endpoint::parse(url).map_err(|r| err(path, f("url"), r))?;
    }
    headers(path, t, &f)?;
    t.webhook_spec().validate().map_err(|(field, reason)| err(path, f(&format!("webhook.{field}")), reason))
}

/// A `kind = "conversation"` target: the bot's webhook `url`, none of the fields of the other kinds
/// (the bot's replies go through the simulator: no `base_url`, token or login), and a valid
/// `[targets.conversation]` table.
fn validate_conversation_target(path: &Path, i: usize, t: &TargetSpec) -> Result<(), ProfileError> {
    let f = |k: &str| format!("targets[{i}].{k}");
    let set = [
        ("method", t.method.is_some()),
        ("body", t.body.is_some()),
        ("body_file", t.body_file.is_some()),
        ("feeder", t.feeder.is_some()),
        ("base_url", t.base_url.is_some()),
        ("api_version", t.api_version.is_some()),
        ("phone_number_id", t.phone_number_id.is_some()),
        ("phone_number_ids", !t.phone_number_ids.is_empty()),
        ("phone_numbers_file", t.phone_numbers_file.is_some()),
        ("spread", t.spread.is_some()),
        ("messaging_tier", t.messaging_tier.is_some()),
        ("token_env", t.token_env.is_some()),
        ("token_file", t.token_file.is_some()),
        ("username_env", t.username_env.is_some()),
        ("password_env", t.password_env.is_some()),
        ("new_password_env", t.new_password_env.is_some()),
        ("resend_unanswered", t.resend_unanswered),
    ];
    if let Some((k, _)) = set.iter().find(|(_, s)| *s) {
        return Err(err(
            path,
            f(k),
            "does not apply to kind = \"conversation\" (the bot replies through the simulated Cloud API; see \
             [targets.conversation])",
        ));
    }
    let url = t
        .url
        .as_deref()
        .ok_or_else(|| err(path, f("url"), "is required for kind = \"conversation\": the bot's webhook URL"))?;
    Endpoint::parse(url).map_err(|r| err(path, f("url"), r))?;
    headers(path, t, &f)?;
    t.conversation_spec().validate().map_err(|(field, reason)| err(path, f(&format!("conversation.{field}")), reason))
}

/// The sizing shortcut of webhook targets (`messages_per_second`, `inbound_per_second`): it sets an
/// open-loop `load.rate` the profile leaves out, and must agree with one it gives.
pub(crate) fn apply_webhook_sizing(path: &Path, p: &mut Profile) -> Result<(), ProfileError> {
    for (i, t) in p.targets.iter().enumerate() {
        let Some(rate) = t.webhook.as_ref().filter(|_| t.kind == TargetKind::Webhook).and_then(|w| w.sized_rate())
        else {
            continue;
        };
        let field = format!("targets[{i}].webhook.messages_per_second");
        if p.load.model == Model::Closed || !p.load.stages.is_empty() {
            return Err(err(
                path,
                field,
                "the sizing shortcut sets an open-loop `load.rate`; remove load.stages / model = \"closed\"",
            ));
        }
        match p.load.rate {
            None => p.load.rate = Some(rate),
            Some(r) if (r - rate).abs() <= 1e-9 * rate.max(1.0) => {}
            Some(r) => {
                return Err(err(
                    path,
                    field,
                    format!(
                        "gives {rate} POSTs/s ((3 × messages_per_second + inbound_per_second) / mean batch) but \
                         load.rate is {r}: give one of them"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The placeholders of an `http` target: without a feeder they are checked here (only built-ins are
/// known); with one, their syntax is, and their columns when the feeder is read at load.
fn templates(path: &Path, i: usize, t: &TargetSpec) -> Result<(), ProfileError> {
    let f = |k: &str| format!("targets[{i}].{k}");
    if let Some(fd) = &t.feeder
        && fd.file.as_os_str().is_empty()
    {
        return Err(err(path, f("feeder.file"), "must name a CSV file"));
    }
    if t.feeder.is_none() {
        return super::template::HttpTemplates::compile(i, t, None, None).map(|_| ()).map_err(|(k, r)| err(path, k, r));
    }
    let syntax = |k: String, text: &str| super::template::parse(text).map(|_| ()).map_err(|r| err(path, k, r));
    syntax(f("url"), t.url.as_deref().unwrap_or(""))?;
    for (k, v) in &t.headers {
        syntax(f(&format!("headers.{k}")), v)?;
    }
    syntax(f("body"), t.body.as_deref().unwrap_or(""))
}

/// A target's `headers` and `headers_from_env`: valid names and values, a variable named for each.
fn headers(path: &Path, t: &TargetSpec, f: &impl Fn(&str) -> String) -> Result<(), ProfileError> {
    for (k, v) in &t.headers {
        http::HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| err(path, f("headers"), format!("{k:?} is not a valid header name")))?;
        http::HeaderValue::from_str(v)
            .map_err(|_| err(path, f("headers"), format!("the value of {k:?} is not a valid header value")))?;
    }
    for (k, var) in &t.headers_from_env {
        http::HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| err(path, f("headers_from_env"), format!("{k:?} is not a valid header name")))?;
        if var.is_empty() {
            return Err(err(path, f("headers_from_env"), format!("no environment variable named for {k:?}")));
        }
    }
    Ok(())
}

/// `keepalive` and `streams_per_connection`: streams are an HTTP/2 feature, and a connection used for
/// one request carries one stream.
fn connection_reuse(path: &Path, p: &Profile) -> Result<(), ProfileError> {
    let l = &p.load;
    let Some(n) = l.streams_per_connection else { return Ok(()) };
    let field = "load.streams_per_connection";
    if n == 0 {
        return Err(err(path, field, "must be at least 1"));
    }
    if n == 1 {
        return Ok(());
    }
    if let Some(t) = p.targets.iter().find(|t| t.http_version != super::HttpVersion::Http2) {
        return Err(err(
            path,
            field,
            format!(
                "applies to http_version = \"2\" only (streams share an HTTP/2 connection); target {:?} speaks HTTP/1.1",
                t.name
            ),
        ));
    }
    if l.keepalive == Some(false) {
        return Err(err(path, field, "needs keepalive: with keepalive = false every connection carries one request"));
    }
    Ok(())
}
