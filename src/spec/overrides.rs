//! Overrides from the command line: `--set PATH=VALUE` (repeatable) on `run`, `validate` and `plan`.
//! The profile's TOML is parsed into a table, each override is set on it by dotted path (targets by
//! name: `targets.cloud.base_url`; quoted keys may hold dots: `thresholds."latency.p99"`), and the result
//! is deserialized and validated exactly as a file is, so a wrong path or type is an error naming the
//! field and the `--set` it came from. Secrets still come only from the environment: paths that name
//! where a secret is read from (`token_env`, `password_env`, …) or an authorization header are refused.

use std::path::Path;

use toml::{Table, Value};

use super::{Profile, ProfileError, err};

/// Fields that say where a secret comes from, or hold accepted secrets: never set from the command
/// line, where they would end up in shell history and process listings.
const SECRET_KEYS: [&str; 10] = [
    "token_env",
    "token_file",
    "username_env",
    "password_env",
    "new_password_env",
    "app_secret_env",
    "verify_token_env",
    "tokens",
    "tokens_env",
    "headers_from_env",
];
/// Headers that carry credentials.
const SECRET_HEADERS: [&str; 4] = ["authorization", "proxy-authorization", "cookie", "x-api-key"];

/// One `--set PATH=VALUE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The path's keys, unquoted.
    pub path: Vec<String>,
    pub value: Value,
    /// As given on the command line.
    pub text: String,
}

/// Split `a.b."c.d"` into keys; the `=` that ends the path is the first one outside quotes.
fn split(s: &str) -> Result<(Vec<String>, &str), String> {
    let (mut keys, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => keys.push(std::mem::take(&mut cur)),
            '=' if !quoted => {
                keys.push(cur);
                if keys.iter().any(|k| k.trim().is_empty()) {
                    return Err("a key of the path is empty".into());
                }
                return Ok((keys.into_iter().map(|k| k.trim().to_string()).collect(), &s[i + 1..]));
            }
            c => cur.push(c),
        }
    }
    Err("write PATH=VALUE, e.g. load.rate=200".into())
}

/// A value as TOML would read it (`200`, `true`, `"< 500ms"`, `[1, 2]`), else the text as a string
/// (`5m`, `https://…`), as one would type it in a shell.
fn value(raw: &str) -> Value {
    let raw = raw.trim();
    match toml::from_str::<Table>(&format!("v = {raw}")) {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| Value::String(raw.to_string())),
        Err(_) => Value::String(raw.to_string()),
    }
}

impl Override {
    /// Parse `PATH=VALUE`; the error names the argument and says what is wrong.
    pub fn parse(s: &str) -> Result<Override, String> {
        let (mut path, raw) = split(s).map_err(|e| format!("--set {s:?}: {e}"))?;
        // A threshold's key is one key even when the shell ate its quotes: thresholds.latency.p99.
        if path[0] == "thresholds" && path.len() > 2 {
            path = vec![path[0].clone(), path[1..].join(".")];
        }
        let o = Override { path, value: value(raw), text: s.to_string() };
        // A proxy's credentials would be in shell history and in run.json's list of overrides.
        if o.path.last().is_some_and(|k| k == "proxy")
            && let Value::String(url) = &o.value
            && super::net::redact_url(url) != *url
        {
            return Err(format!(
                "--set {}: a proxy URL with credentials; put it in the profile file or HTTPS_PROXY; \
                 secrets come only from the environment or files",
                super::net::redact_url(s.split_once('=').map_or(s, |(_, v)| v))
            ));
        }
        if let Some(why) = o.secret() {
            return Err(format!("--set {s:?}: {why}; secrets come only from the environment or files"));
        }
        Ok(o)
    }

    /// Why this path may not be set from the command line, if it may not.
    fn secret(&self) -> Option<String> {
        let last = self.path.last()?.to_ascii_lowercase();
        if self.path.iter().any(|k| SECRET_KEYS.contains(&k.to_ascii_lowercase().as_str())) {
            return Some(format!("{} names where a secret is read from", self.dotted()));
        }
        let parent = self.path.len().checked_sub(2).map(|i| self.path[i].as_str());
        if parent == Some("headers") && SECRET_HEADERS.contains(&last.as_str()) {
            return Some(format!("{} is a credential header (use headers_from_env)", self.dotted()));
        }
        None
    }

    /// The path as written: keys joined by dots, quoted when they hold one.
    pub fn dotted(&self) -> String {
        let k = |k: &String| if k.contains('.') { format!("\"{k}\"") } else { k.clone() };
        self.path.iter().map(k).collect::<Vec<_>>().join(".")
    }
}

/// The table a path leads into: `targets.<name>` picks the target of that name.
fn step<'t>(cur: &'t mut Table, o: &Override, i: usize) -> Result<(&'t mut Table, usize), String> {
    let key = &o.path[i];
    if i == 0 && key == "targets" {
        let Some(name) = o.path.get(1).filter(|_| o.path.len() > 2) else {
            return Err(format!("{}: name a target and its field, e.g. targets.cloud.base_url", o.dotted()));
        };
        let Some(targets) = cur.get_mut("targets").and_then(Value::as_array_mut) else {
            return Err("the profile has no [[targets]]".into());
        };
        let names: Vec<String> =
            targets.iter().filter_map(|t| t.get("name").and_then(Value::as_str)).map(str::to_string).collect();
        let Some(pos) = names.iter().position(|n| n == name) else {
            return Err(format!("no target named {name:?} (targets: {})", names.join(", ")));
        };
        let t = targets[pos].as_table_mut().ok_or_else(|| format!("targets.{name} is not a table"))?;
        return Ok((t, 2));
    }
    let next = cur.entry(key.clone()).or_insert_with(|| Value::Table(Table::new()));
    let shown = o.path[..=i].join(".");
    next.as_table_mut().map(|t| (t, i + 1)).ok_or_else(|| format!("{shown} is a value, not a table"))
}

/// Set one override on the profile's table.
pub fn apply(table: &mut Table, o: &Override) -> Result<(), String> {
    let mut cur = table;
    let mut i = 0;
    while i + 1 < o.path.len() {
        let (next, at) = step(cur, o, i)?;
        cur = next;
        i = at;
    }
    let last = &o.path[i];
    if cur.get(last).is_some_and(Value::is_table) && !o.value.is_table() {
        return Err(format!("{} is a table: set one of its fields", o.dotted()));
    }
    cur.insert(last.clone(), o.value.clone());
    Ok(())
}

/// Parse profile text with overrides applied, then deserialize and validate it as a file is. Errors
/// name the profile, the field and, when the field was overridden, the `--set` it came from. Besides
/// the profile, what the overrides replaced that no `--set` named (see [`replace_load`]), to be listed
/// with them.
pub fn parse_with(
    path: &Path,
    text: &str,
    sets: &[Override],
    vars: &super::interpolate::Vars,
) -> Result<(Profile, Vec<String>), ProfileError> {
    let mut table: Table = toml::from_str(text).map_err(|e| super::from_toml(path, text, &e))?;
    super::interpolate::expand_table(&mut table, vars, "").map_err(|(field, reason)| err(path, field, reason))?;
    let file_load = LoadShape::of(&table);
    for o in sets {
        apply(&mut table, o).map_err(|e| err(path, o.dotted(), format!("--set {:?}: {e}", o.text)))?;
    }
    let notes = replace_load(&mut table, &file_load, sets).map_err(|(field, e)| err(path, field, e))?;
    let merged = toml::to_string(&table).map_err(|e| err(path, "--set", format!("cannot apply the overrides: {e}")))?;
    let profile = super::parse(path, &merged).map_err(|e| name_the_set(e, sets))?;
    Ok((profile, notes))
}

/// How the file's `[load]` gives its open-loop schedule: stages, or a constant rate (with its duration).
struct LoadShape {
    /// The file has stages, and their lengths added up (None when they do not parse).
    stages: Option<Option<std::time::Duration>>,
    rate: bool,
    duration: bool,
}

impl LoadShape {
    fn of(table: &Table) -> LoadShape {
        let load = table.get("load").and_then(Value::as_table);
        let stages = load.and_then(|l| l.get("stages")).and_then(Value::as_array).filter(|s| !s.is_empty());
        let length = |s: &Vec<Value>| {
            let stages: Vec<super::Stage> = Value::Array(s.clone()).try_into().ok()?;
            stages.iter().try_fold(std::time::Duration::ZERO, |sum, s| sum.checked_add(s.over.0))
        };
        let has = |key: &str| load.is_some_and(|l| l.contains_key(key));
        LoadShape { stages: stages.map(length), rate: has("rate"), duration: has("duration") }
    }
}

/// A `--set` of one way of giving the open-loop schedule replaces the other way the file gives it:
/// `load.rate` on a profile with `stages` is a constant rate instead of the stages (for `load.duration`
/// when set, else for the stages' length), and `load.stages` on a profile with a constant `rate`
/// replaces the rate and its duration. `load.duration` alone on a profile with stages is refused with
/// what to do. A file that gives both ways is left to validation, which refuses it. Returns what was
/// replaced, in words; the error is the field and why.
fn replace_load(table: &mut Table, file: &LoadShape, sets: &[Override]) -> Result<Vec<String>, (String, String)> {
    let set = |key: &str| sets.iter().rev().find(|o| o.path.len() == 2 && o.path[0] == "load" && o.path[1] == key);
    let Some(load) = table.get_mut("load").and_then(Value::as_table_mut) else { return Ok(Vec::new()) };
    // The stages of a file that gives only stages.
    let staged = file.stages.filter(|_| !file.rate && !file.duration);
    let mut notes = Vec::new();
    match (staged, set("rate"), set("stages"), set("duration")) {
        (Some(length), Some(rate), None, duration) => {
            load.remove("stages");
            load.remove("start_rate");
            let mut note = format!("load.stages replaced by the constant rate of --set {}", rate.text);
            if duration.is_none()
                && let Some(d) = length
            {
                let d = humantime::format_duration(d).to_string();
                note.push_str(&format!(" for the stages' length ({d})"));
                load.insert("duration".into(), Value::String(d));
            }
            notes.push(note);
        }
        (Some(length), None, None, Some(duration)) => {
            let length = length.map(|d| format!(" ({})", humantime::format_duration(d))).unwrap_or_default();
            return Err((
                "load.duration".into(),
                format!(
                    "--set {:?}: the profile's load has stages, which give its length{length}; for a constant \
                     rate over that duration add --set load.rate=…, or replace the stages: \
                     --set 'load.stages=[{{ to = 50, over = \"1m\" }}]'",
                    duration.text
                ),
            ));
        }
        (None, None, Some(stages), duration) if file.rate && file.stages.is_none() => {
            load.remove("rate");
            let mut note = format!("load.rate replaced by --set {}", stages.text);
            if duration.is_none() && load.remove("duration").is_some() {
                note = format!("load.rate and load.duration replaced by --set {}", stages.text);
            }
            notes.push(note);
        }
        _ => {}
    }
    Ok(notes)
}

/// The field an override sets, as errors name it: targets without their name (`targets.base_url`).
fn as_errors_name_it(o: &Override) -> String {
    let by_name = o.path[0] == "targets";
    o.path
        .iter()
        .enumerate()
        .filter(|(i, _)| !(by_name && *i == 1))
        .map(|(_, k)| k.as_str())
        .collect::<Vec<_>>()
        .join(".")
}

/// An error in the profile with overrides applied: its line and column refer to a text the user never
/// saw, so when the field is one an override set, the error names that `--set` instead.
fn name_the_set(mut e: ProfileError, sets: &[Override]) -> ProfileError {
    let field = e.field.clone().unwrap_or_default();
    let set = sets.iter().rev().find(|o| {
        let f = as_errors_name_it(o);
        field == f || field.starts_with(&format!("{f}.")) || field.starts_with(&format!("{f}["))
    });
    match set {
        Some(o) => e.reason = format!("{} (from --set {:?})", e.reason, o.text),
        None if !sets.is_empty() => e.reason = format!("{} (with the --set overrides applied)", e.reason),
        None => e.reason = format!("{} (with the ${{…}} variables expanded)", e.reason),
    }
    e.line = None;
    e.column = None;
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE: &str = "name = \"o\"\n[load]\nrate = 10\nduration = \"1s\"\n\
        [[targets]]\nname = \"cloud\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n\
        [[targets]]\nname = \"h\"\nkind = \"http\"\nurl = \"http://127.0.0.1:9/\"\n";

    fn with(sets: &[&str]) -> Result<Profile, ProfileError> {
        on(PROFILE, sets).map(|(p, _)| p)
    }

    /// `text` with `sets` applied: the profile and what the overrides replaced.
    fn on(text: &str, sets: &[&str]) -> Result<(Profile, Vec<String>), ProfileError> {
        let sets: Vec<Override> = sets.iter().map(|s| Override::parse(s).unwrap()).collect();
        parse_with(Path::new("p.toml"), text, &sets, &super::super::interpolate::Vars::default())
    }

    /// PROFILE with quickstart's stages (0 → 60/s over 5 s, then 60/s for 15 s) instead of its rate.
    fn staged() -> String {
        PROFILE.replace(
            "rate = 10\nduration = \"1s\"",
            "start_rate = 5\nstages = [{ to = 60, over = \"5s\" }, { to = 60, over = \"15s\" }]",
        )
    }

    #[test]
    fn a_rate_set_on_a_staged_profile_is_a_constant_rate_instead_of_the_stages() {
        let staged = staged();
        // As the help's example: a rate and a duration.
        let (p, notes) = on(&staged, &["load.rate=200", "load.duration=5m"]).unwrap();
        assert_eq!((p.load.rate, p.load.duration.map(|d| d.0.as_secs())), (Some(200.0), Some(300)));
        assert!(p.load.stages.is_empty() && p.load.start_rate == 0.0, "{:?}", p.load);
        assert_eq!(notes, ["load.stages replaced by the constant rate of --set load.rate=200"]);
        // A rate alone runs for as long as the stages did.
        let (p, notes) = on(&staged, &["load.rate=200"]).unwrap();
        assert_eq!((p.load.rate, p.load.duration.map(|d| d.0.as_secs())), (Some(200.0), Some(20)));
        assert_eq!(
            notes,
            ["load.stages replaced by the constant rate of --set load.rate=200 for the stages' length (20s)"]
        );
        // A duration alone says what to do.
        let e = on(&staged, &["load.duration=5s"]).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("load.duration"), "{e}");
        for part in [
            "--set \"load.duration=5s\"",
            "has stages, which give its length (20s)",
            "--set load.rate=",
            "--set 'load.stages=[",
        ] {
            assert!(e.reason.contains(part), "{part}: {e}");
        }
        // New stages replace the stages, as any value; given with a rate too, both are refused.
        let (p, notes) = on(&staged, &["load.stages=[{ to = 10, over = \"2s\" }]"]).unwrap();
        assert_eq!((p.load.stages.len(), notes.len()), (1, 0));
        let e = on(&staged, &["load.rate=5", "load.stages=[{ to = 10, over = \"2s\" }]"]).unwrap_err();
        assert!(e.reason.contains("not both") && e.reason.contains("--set"), "{e}");
    }

    #[test]
    fn stages_set_on_a_constant_rate_profile_replace_the_rate_and_its_duration() {
        let (p, notes) = on(PROFILE, &["load.stages=[{ to = 10, over = \"2s\" }]"]).unwrap();
        assert_eq!((p.load.rate, p.load.duration.is_none(), p.load.stages.len()), (None, true, 1));
        assert_eq!(notes, ["load.rate and load.duration replaced by --set load.stages=[{ to = 10, over = \"2s\" }]"]);
        // A duration set with them is the user's own contradiction.
        let e = on(PROFILE, &["load.stages=[{ to = 10, over = \"2s\" }]", "load.duration=3s"]).unwrap_err();
        assert!(e.reason.contains("the stages give the duration"), "{e}");
    }

    #[test]
    fn a_file_that_gives_both_a_rate_and_stages_is_refused_whatever_is_set() {
        let both = PROFILE.replace("rate = 10\n", "rate = 10\nstages = [{ to = 60, over = \"5s\" }]\n");
        for sets in [&["load.rate=200"][..], &["load.duration=5m"], &["load.stages=[{ to = 10, over = \"2s\" }]"], &[]]
        {
            let e = on(&both, sets).unwrap_err();
            assert!(
                e.reason.contains("not both") || e.reason.contains("the stages give the duration"),
                "{sets:?}: {e}"
            );
        }
        let e = super::super::parse(Path::new("p.toml"), &both).unwrap_err();
        assert!(e.reason.contains("not both"), "{e}");
    }

    #[test]
    fn paths_and_values_are_read_as_toml_would() {
        let o = Override::parse("thresholds.\"latency.p99\"=\"< 500ms\"").unwrap();
        assert_eq!(o.path, ["thresholds", "latency.p99"]);
        assert_eq!(o.value, Value::String("< 500ms".into()));
        assert_eq!(Override::parse("thresholds.cloud:latency.p99=< 1s").unwrap().path[1], "cloud:latency.p99");
        assert_eq!(Override::parse("load.rate=200").unwrap().value, Value::Integer(200));
        assert_eq!(Override::parse("load.duration=5m").unwrap().value, Value::String("5m".into()));
        assert_eq!(Override::parse("x.on=true").unwrap().value, Value::Boolean(true));
        assert!(Override::parse("load.rate").unwrap_err().contains("PATH=VALUE"));
        assert!(Override::parse("load..rate=1").unwrap_err().contains("empty"));
    }

    #[test]
    fn secret_fields_are_refused() {
        let e = Override::parse("targets.api.proxy=http://u:pw@proxy:3128").unwrap_err();
        assert!(e.contains("credentials") && !e.contains("pw"), "{e}");
        assert!(Override::parse("targets.api.proxy=http://proxy:3128").is_ok());
        for s in [
            "targets.cloud.token_env=X",
            "targets.cloud.token_file=/tmp/t",
            "targets.op.password_env=P",
            "webhooks.app_secret_env=S",
            "simulator.cloud.tokens=[\"t\"]",
            "targets.h.headers.Authorization=Bearer x",
            "targets.h.headers_from_env.x=Y",
        ] {
            let e = Override::parse(s).unwrap_err();
            assert!(e.contains("only from the environment") && e.contains("--set"), "{s}: {e}");
        }
        assert!(Override::parse("targets.h.headers.content-type=text/plain").is_ok());
    }

    #[test]
    fn overrides_are_typed_and_validated_like_the_file() {
        let p = with(&["load.rate=200", "load.duration=5m", "targets.h.url=http://127.0.0.1:8/x"]).unwrap();
        assert_eq!(p.load.rate, Some(200.0));
        assert_eq!(p.load.duration.map(|d| d.0.as_secs()), Some(300));
        assert_eq!(p.targets[1].url.as_deref(), Some("http://127.0.0.1:8/x"));
        assert_eq!(p.targets[0].base_url.as_deref(), Some("embedded"), "the other target is untouched");
        let p = with(&["thresholds.latency.p99=< 500ms"]).unwrap();
        assert_eq!(p.thresholds.get("latency.p99").map(String::as_str), Some("< 500ms"));

        let e = with(&["load.rate=fast"]).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("load.rate"), "{e}");
        assert!(e.reason.contains("--set \"load.rate=fast\"") && e.line.is_none(), "{e}");
        let e = with(&["load.rate=-5"]).unwrap_err();
        assert!(e.reason.contains("greater than 0") && e.reason.contains("load.rate=-5"), "{e}");
        let e = with(&["load.rte=5"]).unwrap_err();
        assert!(e.to_string().contains("rte") && e.reason.contains("--set"), "{e}");
        let e = with(&["targets.nope.url=http://x/"]).unwrap_err();
        assert!(e.reason.contains("no target named \"nope\" (targets: cloud, h)"), "{e}");
        let e = with(&["load=5"]).unwrap_err();
        assert!(e.reason.contains("load is a table"), "{e}");
        let e = with(&["load.rate.x=5"]).unwrap_err();
        assert!(e.reason.contains("load.rate is a value"), "{e}");
        assert!(with(&["targets.cloud=1"]).unwrap_err().reason.contains("name a target and its field"));
    }
}
