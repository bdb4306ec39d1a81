//! The profile: the TOML a user writes (serde types with defaults, every table of it in this module
//! tree) and [`load`], which reads, parses and validates one into a checked [`Profile`], with errors
//! that name the file, the field and the reason. It performs no I/O beyond reading the profile and the
//! files it names, never sends anything, and imports only `units`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub mod capacity;
pub mod conversation;
pub mod cost;
pub mod csv_bounds;
pub(crate) mod endpoint;
pub mod feeder;
pub mod graph_version;
pub mod interpolate;
pub mod messages;
pub mod net;
pub mod numbers;
pub mod overrides;
pub mod rate_card;
pub mod recipients;
pub mod schedule;
pub mod schema;
pub mod sim;
pub mod template;
pub mod threshold;
pub mod tracing;
mod validate;
pub mod webhook;
pub mod webhook_target;

pub use crate::units::{Dur, MAX_DURATION};
use schedule::{Pacer, Segment};
pub use validate::validate;

/// A profile as written. Unknown fields anywhere are errors.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Name of the run; results go to `results/<name>-<UTC timestamp>/`.
    pub name: String,
    /// Seed for everything random (message mix, recipients, simulator).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Free text shown in reports.
    #[serde(default)]
    pub description: Option<String>,
    /// How load is generated.
    pub load: LoadSpec,
    /// The endpoints under test. With several, they run one after the other with the same load.
    #[serde(default)]
    pub targets: Vec<TargetSpec>,
    /// Pass/fail criteria evaluated at the end of the run: `"<metric>" = "<op> <value>"`.
    #[serde(default)]
    pub thresholds: BTreeMap<String, String>,
    /// Stop the run as soon as a threshold on latency, error rate or drop rate is already crossed
    /// (checked every second once 100 requests were sent); the run then exits 99.
    #[serde(default)]
    pub abort_on_fail: bool,
    /// WhatsApp targets: the message mix.
    #[serde(default)]
    pub messages: messages::MessagesSpec,
    /// WhatsApp targets: who receives the messages (default: 10,000 generated +1 555 numbers).
    #[serde(default)]
    pub recipients: recipients::RecipientsSpec,
    /// WhatsApp targets: retries of answers the API says may be retried.
    #[serde(default)]
    pub retry: messages::RetrySpec,
    /// The embedded simulator, for targets with `base_url = "embedded"`.
    #[serde(default)]
    pub simulator: sim::SimConfig,
    /// Receive status webhooks (sent → delivered → read) and measure delivery latency.
    #[serde(default)]
    pub webhooks: Option<webhook::WebhookConfig>,
    /// Capacity planning (`wabench plan`): the SLO and the search.
    #[serde(default)]
    pub plan: Option<capacity::PlanSpec>,
    /// A W3C `traceparent` header on a seeded sample of the requests, the slowest of them kept in the
    /// results, and their spans exported to an OpenTelemetry collector (off by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<tracing::TracingSpec>,
}

fn default_seed() -> u64 {
    1
}

/// Open loop (arrival rate, the default) or closed loop (virtual users back to back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    #[default]
    Open,
    Closed,
}

/// One ramp of an open-loop plan: go linearly from the previous rate to `to` requests/s over `over`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub to: f64,
    pub over: Dur,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadSpec {
    #[serde(default)]
    pub model: Model,
    /// Constant arrival rate (requests/s) for `duration` (open loop).
    #[serde(default)]
    pub rate: Option<f64>,
    /// Ramping arrival rate (open loop); the first stage starts from `start_rate`.
    #[serde(default)]
    pub stages: Vec<Stage>,
    #[serde(default)]
    pub start_rate: f64,
    /// Length of the run with a constant `rate`, or of a closed-loop run.
    #[serde(default)]
    pub duration: Option<Dur>,
    /// Open loop: connections kept open to the target (requests that can be in flight at once).
    /// Closed loop: number of virtual users, each with its own connection.
    #[serde(default)]
    pub connections: Option<u32>,
    /// Open loop: most requests outstanding (in flight + waiting for a free connection); a request
    /// due beyond it is counted as `dropped`. Default: 10 × connections.
    #[serde(default)]
    pub max_in_flight: Option<u64>,
    /// Closed loop: pause between a response and the next request of the same virtual user.
    #[serde(default)]
    pub think_time: Option<Dur>,
    /// Stop after this many requests (closed loop, or a cap on an open-loop plan).
    #[serde(default)]
    pub max_requests: Option<u64>,
    /// Give up on a request after this long (counted as `timeout`). Default 10s.
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// After the plan ends or Ctrl-C, wait at most this long for requests in flight. Default 5s.
    #[serde(default)]
    pub drain: Option<Dur>,
    /// Load-generator threads (each a single-threaded event loop). Default: CPU count.
    #[serde(default)]
    pub threads: Option<u32>,
    /// Safety cap on any requested rate (requests/s). Default 1,000,000.
    #[serde(default)]
    pub max_rate: Option<f64>,
    /// Keep connections open between requests (default true). `false`: a new connection for every
    /// request (HTTP/1.1 requests then carry `Connection: close`), so every request pays DNS, TCP
    /// connect and TLS.
    #[serde(default)]
    pub keepalive: Option<bool>,
    /// HTTP/2 only: concurrent streams on each connection (as h2load's `-m`, default 1). Concurrency
    /// `connections` is then carried by ceil(connections / streams_per_connection) connections.
    #[serde(default)]
    pub streams_per_connection: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, schemars::JsonSchema)]
pub enum HttpVersion {
    #[default]
    #[serde(rename = "1.1")]
    Http1,
    #[serde(rename = "2")]
    Http2,
}

/// A target: what is sent, where.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    pub name: String,
    /// `http` (any endpoint), `cloud` (WhatsApp Cloud API), `onprem` (WhatsApp On-Premises API) or
    /// `webhook` (a user's own webhook endpoint, driven with Meta-shaped POSTs).
    pub kind: TargetKind,
    /// kind = "http": the URL requested; kind = "webhook": the endpoint, or "embedded" for wabench's
    /// own receiver.
    #[serde(default)]
    pub url: Option<String>,
    /// kind = "http": the method (default GET).
    #[serde(default)]
    pub method: Option<String>,
    /// kind = "http" / "webhook": extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Headers whose values come from environment variables: header name → variable name.
    /// Their values never appear in results.
    #[serde(default)]
    pub headers_from_env: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
    /// Path of a file whose bytes are the body (relative to the profile's folder).
    #[serde(default)]
    pub body_file: Option<PathBuf>,
    /// kind = "http": rows of a CSV file whose columns the URL's path and query, header values and
    /// body take per request as `{{column}}` (`{ file = "users.csv", order = "sequential" }`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feeder: Option<feeder::FeederSpec>,
    /// kind = "cloud" / "onprem": the API's base URL, or "embedded" for the built-in simulator.
    #[serde(default)]
    pub base_url: Option<String>,
    /// kind = "cloud": Graph API version (default "v23.0").
    #[serde(default)]
    pub api_version: Option<String>,
    /// kind = "cloud": the sending phone number's id.
    #[serde(default)]
    pub phone_number_id: Option<String>,
    /// kind = "cloud": several sending numbers' ids, instead of `phone_number_id`: each message goes
    /// from one of them (`spread`). Each number has its own throughput and pair limits; all share the
    /// business portfolio's messaging limit. Results show each number's figures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phone_number_ids: Vec<String>,
    /// kind = "cloud": a file of sending numbers' ids, one per line (`#` comments), relative to the
    /// profile's folder; read at load into `phone_number_ids`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_numbers_file: Option<PathBuf>,
    /// kind = "cloud" with several numbers: `round_robin` (default: equal shares) or `by_recipient`
    /// (a recipient always hears from the same number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<numbers::Spread>,
    /// kind = "cloud": the business portfolio's messaging limit tier of a real target (250, 2000,
    /// 10000, 100000 or "unlimited"; Meta's messaging limits). `validate` and `run` warn when the
    /// profile sends templates to more unique users than it allows. Embedded targets use
    /// `[simulator.messaging_limit]`.
    #[serde(default)]
    pub messaging_tier: Option<sim::MessagingTier>,
    /// kind = "cloud": environment variable holding the access token …
    #[serde(default)]
    pub token_env: Option<String>,
    /// … or a file holding it (relative to the profile's folder).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// kind = "onprem": environment variables holding the login name and password, and optionally
    /// the new password to set on an account's first login.
    #[serde(default)]
    pub username_env: Option<String>,
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub new_password_env: Option<String>,
    /// A WhatsApp target that is not on this machine sends real, billable messages: it only runs
    /// when this is true or `--yes` is given.
    #[serde(default)]
    pub confirm_real_traffic: bool,
    /// A remote WhatsApp target sends to the `[recipients]` file only: generated numbers (+1 555 …) are
    /// strangers to the business, and real messages to them cost money and quality rating. Set this to
    /// send to generated numbers anyway.
    #[serde(default)]
    pub allow_generated_recipients: bool,
    #[serde(default)]
    pub http_version: HttpVersion,
    /// Accept invalid TLS certificates (self-signed test servers).
    #[serde(default)]
    pub insecure_tls: bool,
    /// TLS of every client of the target (load, On-Premises login, webhook handshake): a private CA
    /// (`ca_file`), a client certificate for mutual TLS (`client_cert`, `client_key`), the certificate
    /// name (`server_name`). PEM files, relative to the profile's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<net::TlsSpec>,
    /// `host:port` to connect to instead of the URL's host and port (like curl's --connect-to); the
    /// URL's host stays in SNI, the certificate check and the Host header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_to: Option<String>,
    /// An HTTP proxy for the target's connections, `http://[user:password@]host:port` (HTTPS and plain
    /// HTTP both through a CONNECT tunnel), or "none". Default: `HTTPS_PROXY` / `HTTP_PROXY` /
    /// `ALL_PROXY` / `NO_PROXY` (or lowercase) from the environment. The credentials are never shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// Response bodies are read up to this many bytes; a longer body is an error. Default 1 MiB.
    #[serde(default)]
    pub max_body: Option<u64>,
    /// kind = "http": the statuses that count as ok (default: any 2xx). A 3xx is an error unless listed
    /// here: the load test measured a redirect, not the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_status: Option<Vec<u16>>,
    /// kind = "http": text an ok answer's body must contain; an answer with an expected status and
    /// without it is `invalid_response`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_body: Option<String>,
    /// Send a request again after an attempt of it went unanswered once written (a timeout, a close
    /// or reset before the answer, a broken answer), whose fate is therefore unknown. Off by default:
    /// the server may have acted on the first attempt, and for a WhatsApp message a second attempt
    /// may be a second, billable message to the same person. kind = "http": idempotent methods only,
    /// one resend at most; kind = "cloud" / "onprem": with the `[retry]` back-off and attempts.
    /// Every resend is counted (`requests.resent`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resend_unanswered: bool,
    /// kind = "webhook": what is POSTed to the endpoint (`[targets.webhook]`; defaults when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<webhook_target::WebhookTargetSpec>,
    /// kind = "conversation": what the users write, the reply timeout, where the simulated Cloud API
    /// the bot sends through listens, and the bot to start (`[targets.conversation]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<conversation::ConversationSpec>,
    /// kind = "cloud", base_url = "embedded": run at the same time as the conversation target of this
    /// name, sending through its simulated Cloud API — the same business number, whose throughput
    /// Meta counts for the users' messages, the bot's replies and this target's sends together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beside: Option<String>,
    /// kind = "cloud" / "onprem": what the target's messages cost, from a rate card
    /// (`cost = { rate_card = "rate-card.csv", max_cost = 25.0 }`): `validate`, `run --dry-run` and
    /// the results show the estimate by category and market, and `max_cost` caps the spending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<cost::CostSpec>,
}

impl TargetSpec {
    /// Whether the target is served by the embedded simulator.
    pub fn is_embedded(&self) -> bool {
        self.base_url.as_deref() == Some("embedded")
    }

    /// Whether the target is a webhook endpoint served by wabench's own receiver (`url = "embedded"`).
    pub fn is_embedded_receiver(&self) -> bool {
        self.kind == TargetKind::Webhook && self.url.as_deref() == Some("embedded")
    }

    /// The `[targets.conversation]` table of a conversation target (defaults when absent).
    pub fn conversation_spec(&self) -> std::borrow::Cow<'_, conversation::ConversationSpec> {
        match &self.conversation {
            Some(c) => std::borrow::Cow::Borrowed(c),
            None => std::borrow::Cow::Owned(conversation::ConversationSpec::default()),
        }
    }

    /// The `[targets.webhook]` table of a webhook target (defaults when absent).
    pub fn webhook_spec(&self) -> std::borrow::Cow<'_, webhook_target::WebhookTargetSpec> {
        match &self.webhook {
            Some(w) => std::borrow::Cow::Borrowed(w),
            None => std::borrow::Cow::Owned(webhook_target::WebhookTargetSpec::default()),
        }
    }

    /// A WhatsApp target that sends real, billable messages: not embedded and not on this machine.
    pub fn is_real(&self) -> bool {
        self.kind.is_whatsapp_api()
            && !self.is_embedded()
            && self.address().and_then(|a| endpoint::Endpoint::parse(a).ok()).is_none_or(|e| !e.is_loopback())
    }

    /// The numbers a Cloud target sends from: `phone_number_ids` (the file's, once loaded), else
    /// `phone_number_id`, else the default id.
    pub fn sending_numbers(&self) -> Vec<String> {
        match (&self.phone_number_ids[..], &self.phone_number_id) {
            ([], Some(one)) => vec![one.clone()],
            ([], None) => vec![numbers::DEFAULT_PHONE_NUMBER_ID.to_string()],
            (many, _) => many.to_vec(),
        }
    }

    /// The URL requests go to ("embedded" targets have none until their simulator starts).
    pub fn address(&self) -> Option<&str> {
        match self.kind {
            TargetKind::Http => self.url.as_deref(),
            TargetKind::Webhook => self.url.as_deref().filter(|u| *u != "embedded"),
            TargetKind::Conversation => self.url.as_deref(),
            _ => self.base_url.as_deref().filter(|u| *u != "embedded"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Http,
    Cloud,
    #[serde(rename = "onprem")]
    OnPrem,
    /// A user's own webhook endpoint, driven with Meta-shaped status and inbound-message POSTs.
    Webhook,
    /// A user's bot: inbound user messages posted to its webhook endpoint, its replies through the
    /// simulated Cloud API timed.
    Conversation,
}

impl TargetKind {
    /// The WhatsApp send APIs (Cloud, On-Premises): message mix, recipients, `[retry]`.
    pub fn is_whatsapp_api(self) -> bool {
        matches!(self, TargetKind::Cloud | TargetKind::OnPrem)
    }

    /// The name results and reports use.
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Http => "http",
            TargetKind::Cloud => "cloud",
            TargetKind::OnPrem => "onprem",
            TargetKind::Webhook => "webhook",
            TargetKind::Conversation => "conversation",
        }
    }
}

/// A profile problem: which file, which field, where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileError {
    pub file: PathBuf,
    pub field: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub reason: String,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": ")?;
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        write!(f, "{}", self.reason)
    }
}

impl std::error::Error for ProfileError {}

/// A profile read from disk together with where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub path: PathBuf,
    pub profile: Profile,
    /// Request bodies read from `body_file`, by target index.
    pub bodies: Vec<Option<Vec<u8>>>,
    /// The feeders of `http` targets, read once, by target index.
    pub feeders: Vec<Option<std::sync::Arc<feeder::Feeder>>>,
    /// The recipients of WhatsApp targets (read or generated once, shared by all targets).
    pub recipients: std::sync::Arc<recipients::Recipients>,
    /// The rate cards of targets with a `cost` table, by target index.
    pub rate_cards: Vec<Option<std::sync::Arc<rate_card::RateCard>>>,
    /// What changed the file's profile: `--set PATH=VALUE` texts, what they replaced that they do not
    /// name (the stages a `--set load.rate` replaced) and the names of `-e` variables (never their
    /// values), in order. Stored in run.json.
    pub overrides: Vec<String>,
}

/// Read, parse and validate a profile file.
pub fn load(path: &Path) -> Result<Loaded, ProfileError> {
    load_with(path, &[], &interpolate::Vars::default())
}

/// Read a profile file, apply `--set` overrides, then parse and validate it.
pub fn load_with(path: &Path, sets: &[overrides::Override], vars: &interpolate::Vars) -> Result<Loaded, ProfileError> {
    let text = std::fs::read_to_string(path).map_err(|e| ProfileError {
        file: path.to_path_buf(),
        field: None,
        line: None,
        column: None,
        reason: format!("cannot read the profile: {e}"),
    })?;
    // Without overrides or variables the file is parsed as written, so errors keep their line and column.
    let (profile, replaced) = if sets.is_empty() && !text.contains("${") {
        (parse(path, &text)?, Vec::new())
    } else {
        overrides::parse_with(path, &text, sets, vars)?
    };
    let mut changed: Vec<String> = sets.iter().map(|o| format!("--set {}", o.text)).collect();
    changed.extend(replaced);
    changed.extend(vars.names().map(|n| format!("-e {n}")));
    if text.contains("${") {
        changed.push("${…} variables expanded".into());
    }
    let mut bodies = Vec::new();
    for (i, t) in profile.targets.iter().enumerate() {
        let body = match &t.body_file {
            None => None,
            Some(f) => {
                let full = path.parent().unwrap_or(Path::new(".")).join(f);
                Some(std::fs::read(&full).map_err(|e| {
                    err(path, format!("targets[{i}].body_file"), format!("cannot read {}: {e}", full.display()))
                })?)
            }
        };
        bodies.push(body);
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let mut profile = profile;
    for (i, t) in profile.targets.iter_mut().enumerate() {
        if let Some(f) = t.phone_numbers_file.take() {
            t.phone_number_ids = numbers::read_file(&base.join(&f))
                .map_err(|r| err(path, format!("targets[{i}].phone_numbers_file"), r))?;
        }
    }
    let mut feeders = Vec::new();
    for (i, t) in profile.targets.iter().enumerate() {
        let feeder = match &t.feeder {
            Some(f) if t.kind == TargetKind::Http => Some(
                feeder::Feeder::load(f, base, profile.seed)
                    .map_err(|r| err(path, format!("targets[{i}].feeder.file"), r))?,
            ),
            _ => None,
        };
        let table = feeder.as_ref().map(|f| (f.file.as_path(), f.table()));
        if t.kind == TargetKind::Http {
            template::HttpTemplates::compile(i, t, bodies[i].as_deref(), table).map_err(|(f, r)| err(path, f, r))?;
        }
        feeders.push(feeder.map(std::sync::Arc::new));
    }
    let recipients = if profile.targets.iter().any(|t| t.kind.is_whatsapp_api()) {
        let r = recipients::Recipients::load(&profile.recipients, base).map_err(|(f, r)| err(path, f, r))?;
        onprem_has_no_bsuids(path, &profile, &r)?;
        profile.messages.templates(&r, profile.recipients.file.as_deref()).map_err(|(f, r)| err(path, f, r))?;
        r
    } else if profile.targets.iter().any(|t| t.kind == TargetKind::Conversation) {
        // The users who write to a bot.
        recipients::Recipients::load(&profile.recipients, base).map_err(|(f, r)| err(path, f, r))?
    } else {
        recipients::Recipients::generate("1", 1)
    };
    let rate_cards = cost::load_cards(&profile, base, &recipients).map_err(|(f, r)| err(path, f, r))?;
    Ok(Loaded {
        path: path.to_path_buf(),
        profile,
        bodies,
        feeders,
        recipients: std::sync::Arc::new(recipients),
        rate_cards,
        overrides: changed,
    })
}

/// The On-Premises API was sunset (2025-10-23) before Meta introduced business-scoped user IDs
/// (2026): it addresses users by phone number only, so an on-prem target cannot send to a BSUID.
fn onprem_has_no_bsuids(path: &Path, profile: &Profile, r: &recipients::Recipients) -> Result<(), ProfileError> {
    let n = r.bsuids();
    match profile.targets.iter().find(|t| t.kind == TargetKind::OnPrem) {
        Some(t) if n > 0 => Err(err(
            path,
            "recipients.file",
            format!(
                "holds {n} business-scoped user IDs, but target {:?} is On-Premises, whose API addresses \
                 users by phone number only (BSUIDs came in 2026, after its sunset): use phone numbers, \
                 or send to BSUIDs from Cloud targets only",
                t.name
            ),
        )),
        _ => Ok(()),
    }
}

/// Parse and validate profile text; `path` is only used in error messages.
pub fn parse(path: &Path, text: &str) -> Result<Profile, ProfileError> {
    let mut profile: Profile = toml::from_str(text).map_err(|e| from_toml(path, text, &e))?;
    validate::apply_webhook_sizing(path, &mut profile)?;
    validate(path, &profile)?;
    Ok(profile)
}

pub(crate) fn err(path: &Path, field: impl Into<String>, reason: impl Into<String>) -> ProfileError {
    ProfileError {
        file: path.to_path_buf(),
        field: Some(field.into()),
        line: None,
        column: None,
        reason: reason.into(),
    }
}

fn from_toml(path: &Path, text: &str, e: &toml::de::Error) -> ProfileError {
    let (line, column, field) = match e.span() {
        Some(span) => {
            let (l, c) = line_col(text, span.start);
            (Some(l), Some(c), field_at(text, l))
        }
        None => (None, None, None),
    };
    ProfileError { file: path.to_path_buf(), field, line, column, reason: e.message().trim().to_string() }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |s| s.chars().count()) + 1;
    (line, col)
}

/// The dotted key on a line, prefixed by the table header above it (`load.rate`, `targets.url`).
fn field_at(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let this = lines.get(line.checked_sub(1)?)?.trim();
    let key = this.split_once('=').map(|(k, _)| k.trim().trim_matches('"').to_string());
    let table = lines[..line - 1].iter().rev().find_map(|l| {
        let l = l.trim();
        l.starts_with('[').then(|| l.trim_matches(|c| c == '[' || c == ']').trim().to_string())
    });
    match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (None, Some(k)) => Some(k),
        (Some(t), None) if this.starts_with('[') => Some(t),
        _ => None,
    }
}

impl Model {
    /// "open" or "closed", as results name it.
    pub fn name(self) -> &'static str {
        match self {
            Model::Open => "open",
            Model::Closed => "closed",
        }
    }
}

impl LoadSpec {
    /// Connections of the whole run (all shards): `connections`, else 64 for an open loop and 16
    /// virtual users for a closed one.
    pub fn connections_or_default(&self) -> u32 {
        self.connections.unwrap_or(match self.model {
            Model::Open => 64,
            Model::Closed => 16,
        })
    }

    /// The arrival schedule of an open-loop load (none for a closed loop). Assumes a validated table.
    pub fn schedule(&self) -> Option<Pacer> {
        if self.model == Model::Closed {
            return None;
        }
        Some(match self.rate {
            Some(r) => {
                let d = self.duration.map_or(Duration::ZERO, |d| d.0);
                let p = Pacer::constant(r, d);
                match self.max_requests {
                    Some(m) => {
                        Pacer::new(vec![Segment { from: r, to: r, secs: d.as_secs_f64() }], Some(m.min(p.total())))
                    }
                    None => p,
                }
            }
            None => {
                let st: Vec<(f64, Duration)> = self.stages.iter().map(|s| (s.to, s.over.0)).collect();
                Pacer::stages(self.start_rate, &st, self.max_requests)
            }
        })
    }

    /// The highest requested rate of an open-loop load.
    pub fn peak_rate(&self) -> Option<f64> {
        match self.model {
            Model::Closed => None,
            Model::Open => Some(
                self.rate.unwrap_or(0.0).max(self.start_rate).max(self.stages.iter().map(|s| s.to).fold(0.0, f64::max)),
            ),
        }
    }
}

impl Profile {
    /// A profile for `wabench plan` only: open loop with neither `rate` nor `stages` (the search sets them).
    pub fn is_plan_only(&self) -> bool {
        self.plan.is_some() && self.load.model == Model::Open && self.load.rate.is_none() && self.load.stages.is_empty()
    }

    /// The profile as it is stored in results: values taken from the environment are not in it, and
    /// header values that look like credentials are replaced, as are URLs' userinfo and
    /// credential-like query values.
    pub fn redacted(&self) -> Profile {
        let mut p = self.clone();
        for u in &mut p.simulator.onprem.users {
            u.password = "<redacted>".into();
        }
        for t in &mut p.targets {
            for (k, v) in t.headers.iter_mut() {
                if endpoint::is_sensitive_header(k) {
                    *v = "<redacted>".into();
                }
            }
            for u in [&mut t.proxy, &mut t.url, &mut t.base_url].into_iter().flatten() {
                *u = net::redact_url(u);
            }
        }
        if let Some(w) = &mut p.webhooks
            && let Some(u) = &mut w.receiver_url
        {
            *u = net::redact_url(u);
        }
        p
    }
}

/// The TOML example of a module doc (the first ```` ```toml ```` block of `//!` lines), without its
/// `//!` prefixes and without table headers for which `keep_header` says no.
#[cfg(test)]
pub(crate) fn doc_toml(source: &str, keep_header: impl Fn(&str) -> bool) -> String {
    let start = source.find("//! ```toml\n").expect("a toml example") + "//! ```toml\n".len();
    let end = start + source[start..].find("//! ```").expect("the example ends");
    source[start..end]
        .lines()
        .map(|l| l.trim_start_matches("//!").trim_start())
        .filter(|l| !l.starts_with('[') || keep_header(l))
        .collect::<Vec<_>>()
        .join("\n")
}
