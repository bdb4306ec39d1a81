//! Profiles: the TOML a user writes (serde types with defaults) and `load()`, which reads, parses and
//! validates one into a checked [`Profile`], with errors that name the file, the field and the reason.
//! It performs no I/O beyond reading the profile and files it names, and never sends anything.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as a humantime string in a profile ("30s", "2m", "150ms").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Dur(pub Duration);

/// The longest duration a profile may give (100 years): longer ones overflow clock arithmetic.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let d = humantime::parse_duration(s.trim()).map_err(|e| {
            serde::de::Error::custom(format!("invalid duration {s:?}: {e} (write e.g. \"30s\", \"2m\", \"150ms\")"))
        })?;
        if d > MAX_DURATION {
            return Err(serde::de::Error::custom(format!("duration {s:?} is longer than 100 years")));
        }
        Ok(Dur(d))
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

/// A profile as written. Unknown fields anywhere are errors.
#[derive(Debug, Clone, Deserialize, Serialize)]
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
    pub messages: crate::whatsapp::MessagesSpec,
    /// WhatsApp targets: who receives the messages (default: 10,000 generated +1 555 numbers).
    #[serde(default)]
    pub recipients: crate::whatsapp::recipients::RecipientsSpec,
    /// WhatsApp targets: retries of answers the API says may be retried.
    #[serde(default)]
    pub retry: crate::whatsapp::RetrySpec,
    /// The embedded simulator, for targets with `base_url = "embedded"`.
    #[serde(default)]
    pub simulator: crate::sim::SimConfig,
    /// Receive status webhooks (sent → delivered → read) and measure delivery latency.
    #[serde(default)]
    pub webhooks: Option<crate::webhook::WebhookConfig>,
    /// Capacity planning (`wabench plan`): the SLO and the search.
    #[serde(default)]
    pub plan: Option<crate::plan::PlanSpec>,
}

fn default_seed() -> u64 {
    1
}

/// Open loop (arrival rate, the default) or closed loop (virtual users back to back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    #[default]
    Open,
    Closed,
}

/// One ramp of an open-loop plan: go linearly from the previous rate to `to` requests/s over `over`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub to: f64,
    pub over: Dur,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
pub enum HttpVersion {
    #[default]
    #[serde(rename = "1.1")]
    Http1,
    #[serde(rename = "2")]
    Http2,
}

/// A target: what is sent, where.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    pub name: String,
    /// `http` (any endpoint), `cloud` (WhatsApp Cloud API) or `onprem` (WhatsApp On-Premises API).
    pub kind: TargetKind,
    /// kind = "http": the URL requested.
    #[serde(default)]
    pub url: Option<String>,
    /// kind = "http": the method (default GET).
    #[serde(default)]
    pub method: Option<String>,
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
    /// kind = "cloud" / "onprem": the API's base URL, or "embedded" for the built-in simulator.
    #[serde(default)]
    pub base_url: Option<String>,
    /// kind = "cloud": Graph API version (default "v23.0").
    #[serde(default)]
    pub api_version: Option<String>,
    /// kind = "cloud": the sending phone number's id.
    #[serde(default)]
    pub phone_number_id: Option<String>,
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
    #[serde(default)]
    pub http_version: HttpVersion,
    /// Accept invalid TLS certificates (self-signed test servers).
    #[serde(default)]
    pub insecure_tls: bool,
    /// Response bodies are read up to this many bytes; a longer body is an error. Default 1 MiB.
    #[serde(default)]
    pub max_body: Option<u64>,
}

impl TargetSpec {
    /// Whether the target is served by the embedded simulator.
    pub fn is_embedded(&self) -> bool {
        self.base_url.as_deref() == Some("embedded")
    }

    /// The URL requests go to ("embedded" targets have none until their simulator starts).
    pub fn address(&self) -> Option<&str> {
        match self.kind {
            TargetKind::Http => self.url.as_deref(),
            _ => self.base_url.as_deref().filter(|u| *u != "embedded"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Http,
    Cloud,
    #[serde(rename = "onprem")]
    OnPrem,
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
    /// The recipients of WhatsApp targets (read or generated once, shared by all targets).
    pub recipients: std::sync::Arc<crate::whatsapp::recipients::Recipients>,
}

/// Read, parse and validate a profile file.
pub fn load(path: &Path) -> Result<Loaded, ProfileError> {
    let text = std::fs::read_to_string(path).map_err(|e| ProfileError {
        file: path.to_path_buf(),
        field: None,
        line: None,
        column: None,
        reason: format!("cannot read the profile: {e}"),
    })?;
    let profile = parse(path, &text)?;
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
    let recipients = if profile.targets.iter().any(|t| t.kind != TargetKind::Http) {
        let base = path.parent().unwrap_or(Path::new("."));
        crate::whatsapp::recipients::Recipients::load(&profile.recipients, base).map_err(|(f, r)| err(path, f, r))?
    } else {
        crate::whatsapp::recipients::Recipients::generate("1", 1)
    };
    Ok(Loaded { path: path.to_path_buf(), profile, bodies, recipients: std::sync::Arc::new(recipients) })
}

/// Parse and validate profile text; `path` is only used in error messages.
pub fn parse(path: &Path, text: &str) -> Result<Profile, ProfileError> {
    let profile: Profile = toml::from_str(text).map_err(|e| from_toml(path, text, &e))?;
    validate(path, &profile)?;
    Ok(profile)
}

fn err(path: &Path, field: impl Into<String>, reason: impl Into<String>) -> ProfileError {
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

/// Semantic checks that serde cannot express.
pub fn validate(path: &Path, p: &Profile) -> Result<(), ProfileError> {
    if p.name.trim().is_empty() {
        return Err(err(path, "name", "must not be empty"));
    }
    if p.name.contains(['/', '\\']) || p.name.contains("..") {
        return Err(err(path, "name", "must not contain '/', '\\' or '..' (it names a results folder)"));
    }
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
    if !l.start_rate.is_finite() || l.start_rate < 0.0 {
        return Err(err(path, "load.start_rate", format!("must be 0 or more, got {}", l.start_rate)));
    }
    match l.model {
        Model::Open => {
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
                    if l.duration.is_some() {
                        return Err(err(path, "load.duration", "the stages give the duration; remove `duration`"));
                    }
                    for (i, s) in l.stages.iter().enumerate() {
                        if !s.to.is_finite() || s.to < 0.0 {
                            return Err(err(
                                path,
                                format!("load.stages[{i}].to"),
                                format!("must be 0 or more, got {}", s.to),
                            ));
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
                }
            }
            if l.think_time.is_some() {
                return Err(err(path, "load.think_time", "applies to the closed model only"));
            }
        }
        Model::Closed => {
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
        }
    }
    if l.model == Model::Open && !p.is_plan_only() && crate::load::Plan::from_spec(l).expected_requests() == Some(0) {
        return Err(err(
            path,
            "load",
            "the plan sends no request: the rate over the duration adds up to less than one",
        ));
    }
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
        if t.max_body == Some(0) {
            return Err(err(path, f("max_body"), "must be at least 1"));
        }
    }
    for (k, v) in &p.thresholds {
        crate::threshold::Threshold::parse(k, v).map_err(|r| err(path, format!("thresholds.{k}"), r))?;
    }
    if p.targets.iter().any(|t| t.kind != TargetKind::Http) {
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
    }
    Ok(())
}

fn validate_target(path: &Path, i: usize, t: &TargetSpec) -> Result<(), ProfileError> {
    let f = |k: &str| format!("targets[{i}].{k}");
    let only = |k: &str, set: bool, kinds: &str| -> Result<(), ProfileError> {
        if set { Err(err(path, f(k), format!("applies to kind = {kinds} only"))) } else { Ok(()) }
    };
    let http = t.kind == TargetKind::Http;
    let whatsapp = !http;
    only("url", whatsapp && t.url.is_some(), "\"http\" (WhatsApp targets take `base_url`)")?;
    only("method", whatsapp && t.method.is_some(), "\"http\"")?;
    only("headers", whatsapp && !t.headers.is_empty(), "\"http\"")?;
    only("headers_from_env", whatsapp && !t.headers_from_env.is_empty(), "\"http\"")?;
    only("body", whatsapp && t.body.is_some(), "\"http\" (WhatsApp bodies come from [messages])")?;
    only("body_file", whatsapp && t.body_file.is_some(), "\"http\"")?;
    only("base_url", http && t.base_url.is_some(), "\"cloud\" or \"onprem\" (http targets take `url`)")?;
    let cloud = t.kind == TargetKind::Cloud;
    let onprem = t.kind == TargetKind::OnPrem;
    only("api_version", !cloud && t.api_version.is_some(), "\"cloud\"")?;
    only("phone_number_id", !cloud && t.phone_number_id.is_some(), "\"cloud\"")?;
    only("token_env", !cloud && t.token_env.is_some(), "\"cloud\"")?;
    only("token_file", !cloud && t.token_file.is_some(), "\"cloud\"")?;
    only("username_env", !onprem && t.username_env.is_some(), "\"onprem\"")?;
    only("password_env", !onprem && t.password_env.is_some(), "\"onprem\"")?;
    only("new_password_env", !onprem && t.new_password_env.is_some(), "\"onprem\"")?;
    if http {
        let url = t.url.as_deref().ok_or_else(|| err(path, f("url"), "is required for kind = \"http\""))?;
        crate::target::Endpoint::parse(url).map_err(|r| err(path, f("url"), r))?;
        let m = t.method.as_deref().unwrap_or("GET");
        http::Method::from_bytes(m.as_bytes())
            .map_err(|_| err(path, f("method"), format!("{m:?} is not an HTTP method")))?;
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
        if t.body.is_some() && t.body_file.is_some() {
            return Err(err(path, f("body"), "give either `body` or `body_file`, not both"));
        }
        return Ok(());
    }
    let base = t.base_url.as_deref().ok_or_else(|| {
        err(path, f("base_url"), "is required: the API's URL, or \"embedded\" for the built-in simulator")
    })?;
    if base != "embedded" {
        crate::target::Endpoint::parse(base).map_err(|r| err(path, f("base_url"), r))?;
        if cloud {
            if t.phone_number_id.as_deref().is_none_or(|p| p.trim().is_empty()) {
                return Err(err(path, f("phone_number_id"), "is required for a Cloud API target"));
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
        && !(v.starts_with('v') && v[1..].split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())))
    {
        return Err(err(path, f("api_version"), format!("{v:?} is not a Graph API version like \"v23.0\"")));
    }
    Ok(())
}

impl Profile {
    /// A profile for `wabench plan` only: open loop with neither `rate` nor `stages` (the search sets them).
    pub fn is_plan_only(&self) -> bool {
        self.plan.is_some() && self.load.model == Model::Open && self.load.rate.is_none() && self.load.stages.is_empty()
    }

    /// The profile as it is stored in results: values taken from the environment are not in it, and
    /// header values that look like credentials are replaced.
    pub fn redacted(&self) -> Profile {
        let mut p = self.clone();
        for u in &mut p.simulator.onprem.users {
            u.password = "<redacted>".into();
        }
        for t in &mut p.targets {
            for (k, v) in t.headers.iter_mut() {
                if crate::target::is_sensitive_header(k) {
                    *v = "<redacted>".into();
                }
            }
        }
        p
    }
}
