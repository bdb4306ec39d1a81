//! Quick mode: `wabench run URL --rate R --duration D …` load-tests one plain HTTP endpoint without a
//! profile file, as oha or vegeta do. The flags become a profile (the same one a user could write,
//! printed by `--dry-run`), so the run, its results and its report are those of any profile. Like a
//! WhatsApp target, it is judged by `error_rate < 2%`: a run whose requests fail exits 99.
//! Credentials are not taken on the command line: a header such as `Authorization` comes from an
//! environment variable (`--env-header NAME=VAR`), like every secret of a profile.

use std::path::{Path, PathBuf};

use crate::app::AppError;

/// The quick-mode flags of `wabench run`.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct QuickArgs {
    /// Quick mode (a URL instead of a profile): requests per second, open loop. Without --rate or
    /// --stage, a closed loop of --connections users sending back to back.
    #[arg(long, help_heading = "Quick mode (a URL instead of a profile)")]
    pub rate: Option<f64>,
    /// Quick mode: a ramp stage TO:OVER (e.g. 100:30s: reach 100/s over 30 s); repeatable, in order.
    #[arg(long = "stage", value_name = "TO:OVER", help_heading = "Quick mode (a URL instead of a profile)")]
    pub stages: Vec<String>,
    /// Quick mode: how long to send at --rate, or the closed loop's length (default 10s).
    #[arg(long, value_name = "DURATION", help_heading = "Quick mode (a URL instead of a profile)")]
    pub duration: Option<String>,
    /// Quick mode: connections (open loop) or users (closed loop); default 16.
    #[arg(long, help_heading = "Quick mode (a URL instead of a profile)")]
    pub connections: Option<u32>,
    /// Quick mode: the request method (default GET).
    #[arg(long, short = 'm', help_heading = "Quick mode (a URL instead of a profile)")]
    pub method: Option<String>,
    /// Quick mode: a request header "Name: value"; repeatable. Credentials are refused here: use
    /// --env-header.
    #[arg(
        long = "with-header",
        short = 'H',
        value_name = "NAME: VALUE",
        help_heading = "Quick mode (a URL instead of a profile)"
    )]
    pub headers: Vec<String>,
    /// Quick mode: a header whose value is read from an environment variable, NAME=VAR (e.g.
    /// Authorization=API_TOKEN); never written to results. Repeatable.
    #[arg(long = "env-header", value_name = "NAME=VAR", help_heading = "Quick mode (a URL instead of a profile)")]
    pub headers_from_env: Vec<String>,
    /// Quick mode: the request body, or @FILE for a file's bytes.
    #[arg(long, short = 'd', help_heading = "Quick mode (a URL instead of a profile)")]
    pub body: Option<String>,
    /// Quick mode: give up on a request after this long (default 10s).
    #[arg(long, value_name = "DURATION", help_heading = "Quick mode (a URL instead of a profile)")]
    pub timeout: Option<String>,
    /// Quick mode: speak HTTP/2 (prior knowledge on http://, ALPN on https://).
    #[arg(long, help_heading = "Quick mode (a URL instead of a profile)")]
    pub http2: bool,
    /// Quick mode: accept any TLS certificate (self-signed test servers).
    #[arg(long, help_heading = "Quick mode (a URL instead of a profile)")]
    pub insecure: bool,
}

impl QuickArgs {
    /// The quick-mode flags given, by name (none when the run is of a profile).
    pub fn given(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        let mut add = |set: bool, name| {
            if set {
                v.push(name);
            }
        };
        add(self.rate.is_some(), "--rate");
        add(!self.stages.is_empty(), "--stage");
        add(self.duration.is_some(), "--duration");
        add(self.connections.is_some(), "--connections");
        add(self.method.is_some(), "--method");
        add(!self.headers.is_empty(), "--with-header");
        add(!self.headers_from_env.is_empty(), "--env-header");
        add(self.body.is_some(), "--body");
        add(self.timeout.is_some(), "--timeout");
        add(self.http2, "--http2");
        add(self.insecure, "--insecure");
        v
    }
}

/// Whether the `run` argument is a URL (quick mode) rather than a profile file.
pub fn is_url(arg: &Path) -> bool {
    let s = arg.to_string_lossy();
    s.starts_with("http://") || s.starts_with("https://")
}

/// Headers that carry credentials: refused as `--with-header`, taken with `--env-header`.
const CREDENTIAL_HEADERS: [&str; 5] = ["authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"];

fn flag_error(flag: &str, reason: impl std::fmt::Display) -> AppError {
    format!("{flag}: {reason}").into()
}

/// The profile that quick mode runs, as TOML text. `cwd` resolves `--body @FILE`.
pub fn profile_text(url: &str, q: &QuickArgs, cwd: &Path) -> Result<String, AppError> {
    use toml::{Table, Value};
    let load = load_table(q)?;
    let target = target_table(url, q, cwd)?;
    let mut profile = Table::new();
    profile.insert("name".into(), format!("quick-{}", host_name(url)).into());
    profile.insert("description".into(), format!("wabench run {url} (quick mode)").into());
    profile.insert("load".into(), Value::Table(load));
    profile.insert("targets".into(), Value::Array(vec![Value::Table(target)]));
    // The gate WhatsApp targets get by default: a run whose requests fail does not pass (exit 99).
    let (metric, condition) = crate::spec::threshold::DEFAULT_GATE;
    profile.insert("thresholds".into(), Value::Table(Table::from_iter([(metric.to_string(), condition.into())])));
    let body = toml::to_string(&profile).map_err(|e| AppError::from(format!("quick mode: {e}")))?;
    Ok(format!("# The profile of `wabench run {url}` (quick mode); save it to run it again or extend it.\n{body}"))
}

/// `[load]` from --rate, --stage, --duration, --connections and --timeout.
fn load_table(q: &QuickArgs) -> Result<toml::Table, AppError> {
    use toml::{Table, Value};
    let mut load = Table::new();
    let stages = q.stages.iter().map(|s| stage(s)).collect::<Result<Vec<_>, _>>()?;
    match (q.rate, stages.is_empty()) {
        (Some(_), false) => {
            return Err(flag_error(
                "--rate",
                "give either --rate (a constant rate for --duration) or --stage (a ramp), not both",
            ));
        }
        (Some(r), true) => {
            load.insert("model".into(), "open".into());
            load.insert("rate".into(), Value::Float(r));
            load.insert("duration".into(), q.duration.clone().unwrap_or_else(|| "10s".into()).into());
        }
        (None, false) => {
            if q.duration.is_some() {
                return Err(flag_error("--duration", "a ramp's length is the sum of its --stage durations"));
            }
            load.insert("model".into(), "open".into());
            load.insert("stages".into(), Value::Array(stages));
        }
        (None, true) => {
            load.insert("model".into(), "closed".into());
            load.insert("duration".into(), q.duration.clone().unwrap_or_else(|| "10s".into()).into());
        }
    }
    load.insert("connections".into(), Value::Integer(i64::from(q.connections.unwrap_or(16))));
    if let Some(t) = &q.timeout {
        load.insert("timeout".into(), t.clone().into());
    }
    Ok(load)
}

/// The one `[[targets]]` entry: the URL with --method, headers, --body, --http2 and --insecure.
fn target_table(url: &str, q: &QuickArgs, cwd: &Path) -> Result<toml::Table, AppError> {
    use toml::{Table, Value};
    let mut target = Table::new();
    target.insert("name".into(), "endpoint".into());
    target.insert("kind".into(), "http".into());
    target.insert("url".into(), url.into());
    if let Some(m) = &q.method {
        target.insert("method".into(), m.to_ascii_uppercase().into());
    }
    let mut headers = Table::new();
    for h in &q.headers {
        let (name, value) =
            h.split_once(':').ok_or_else(|| flag_error("--with-header", format!("{h:?} is not \"Name: value\"")))?;
        let name = name.trim();
        if CREDENTIAL_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(flag_error(
                "--with-header",
                format!(
                    "{name} carries a credential, which wabench takes only from the environment (it would \
                     otherwise be kept in run.json and the shell's history): --env-header {name}=VARIABLE"
                ),
            ));
        }
        headers.insert(name.into(), value.trim().into());
    }
    if !headers.is_empty() {
        target.insert("headers".into(), Value::Table(headers));
    }
    let mut from_env = Table::new();
    for h in &q.headers_from_env {
        let (name, var) =
            h.split_once('=').ok_or_else(|| flag_error("--env-header", format!("{h:?} is not NAME=VARIABLE")))?;
        from_env.insert(name.trim().into(), var.trim().into());
    }
    if !from_env.is_empty() {
        target.insert("headers_from_env".into(), Value::Table(from_env));
    }
    match q.body.as_deref() {
        Some(b) if b.starts_with('@') => {
            let file = cwd.join(&b[1..]);
            if !file.is_file() {
                return Err(flag_error("--body", format!("{} is not a file", file.display())));
            }
            target.insert("body_file".into(), file.to_string_lossy().into_owned().into());
        }
        Some(b) => {
            target.insert("body".into(), b.into());
        }
        None => {}
    }
    if q.http2 {
        target.insert("http_version".into(), "2".into());
    }
    if q.insecure {
        target.insert("insecure_tls".into(), true.into());
    }
    Ok(target)
}

/// `TO:OVER` as a stage table.
fn stage(s: &str) -> Result<toml::Value, AppError> {
    let (to, over) =
        s.split_once(':').ok_or_else(|| flag_error("--stage", format!("{s:?} is not TO:OVER (e.g. 100:30s)")))?;
    let to: f64 = to
        .trim()
        .parse()
        .map_err(|_| flag_error("--stage", format!("{s:?}: {to:?} is not a rate (requests per second)")))?;
    let mut t = toml::Table::new();
    t.insert("to".into(), toml::Value::Float(to));
    t.insert("over".into(), over.trim().into());
    Ok(toml::Value::Table(t))
}

/// A results-folder-friendly name from the URL's host and port.
fn host_name(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host: String = authority
        .rsplit('@')
        .next()
        .unwrap_or("")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '-' })
        .collect();
    let host = host.trim_matches('-');
    if host.is_empty() { "endpoint".into() } else { host.into() }
}

/// The quick-mode profile in a private temporary folder, removed when this is dropped.
pub struct TempProfile {
    dir: PathBuf,
    pub path: PathBuf,
}

impl Drop for TempProfile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Write the quick-mode profile to a private temporary folder.
pub fn write_profile(text: &str) -> Result<TempProfile, AppError> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!("wabench-quick-{}-{nanos}", std::process::id()));
    let made = std::fs::create_dir(&dir).and_then(|()| {
        let path = dir.join("quick.toml");
        std::fs::write(&path, text).map(|()| path)
    });
    match made {
        Ok(path) => Ok(TempProfile { dir, path }),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            Err(format!("quick mode: cannot write the profile under {}: {e}", dir.display()).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q() -> QuickArgs {
        QuickArgs::default()
    }

    #[test]
    fn flags_become_a_profile() {
        let a = QuickArgs { rate: Some(100.0), duration: Some("5s".into()), ..q() };
        let t = profile_text("http://127.0.0.1:8080/x", &a, Path::new(".")).unwrap();
        let v: toml::Table = toml::from_str(&t).unwrap();
        assert_eq!(v["load"]["rate"].as_float(), Some(100.0));
        assert_eq!(v["load"]["duration"].as_str(), Some("5s"));
        assert_eq!(v["load"]["model"].as_str(), Some("open"));
        assert_eq!(v["targets"][0]["url"].as_str(), Some("http://127.0.0.1:8080/x"));
        assert_eq!(v["name"].as_str(), Some("quick-127.0.0.1-8080"));

        let ramp = QuickArgs { stages: vec!["50:2s".into(), "50:3s".into()], ..q() };
        let v: toml::Table = toml::from_str(&profile_text("http://h/", &ramp, Path::new(".")).unwrap()).unwrap();
        assert_eq!(v["load"]["stages"].as_array().unwrap().len(), 2);

        let closed = q();
        let v: toml::Table = toml::from_str(&profile_text("http://h/", &closed, Path::new(".")).unwrap()).unwrap();
        assert_eq!(v["load"]["model"].as_str(), Some("closed"));
    }

    #[test]
    fn credentials_and_bad_flags_are_refused_with_the_flag_named() {
        let a = QuickArgs { headers: vec!["Authorization: Bearer x".into()], ..q() };
        let e = profile_text("http://h/", &a, Path::new(".")).unwrap_err().to_string();
        assert!(e.contains("--with-header") && e.contains("--env-header"), "{e}");
        assert!(!e.contains("Bearer x"), "the secret is not repeated: {e}");
        let a = QuickArgs { stages: vec!["fast".into()], ..q() };
        assert!(profile_text("http://h/", &a, Path::new(".")).unwrap_err().to_string().contains("--stage"));
        let a = QuickArgs { rate: Some(1.0), stages: vec!["1:1s".into()], ..q() };
        assert!(profile_text("http://h/", &a, Path::new(".")).unwrap_err().to_string().contains("--rate"));
        let a = QuickArgs { body: Some("@/no/such/file".into()), ..q() };
        assert!(profile_text("http://h/", &a, Path::new(".")).unwrap_err().to_string().contains("--body"));
    }

    #[test]
    fn urls_are_told_from_files() {
        assert!(is_url(Path::new("http://127.0.0.1:8080/")));
        assert!(is_url(Path::new("https://example.test/")));
        assert!(!is_url(Path::new("profiles/quickstart.toml")));
        assert_eq!(host_name("https://user@api.example.test:8443/v1?x"), "api.example.test-8443");
    }
}
