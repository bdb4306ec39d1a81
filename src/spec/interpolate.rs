//! `${VAR}` and `${VAR:-default}` in a profile's string values, from `-e KEY=VALUE` on the command line
//! or the environment, so one profile serves every environment. `$${` writes a literal `${`. An unset
//! variable without a default is an error naming the field and the variable. Secrets still belong in the
//! `*_env` fields: an interpolated value is part of the profile and is stored (redacted where the field
//! is a credential header) in run.json.

use std::collections::BTreeMap;

use toml::{Table, Value};

/// Where variables come from: `-e` pairs first, then the process environment.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    given: BTreeMap<String, String>,
}

impl Vars {
    /// From `-e KEY=VALUE` arguments; a malformed one is an error naming it.
    pub fn parse(pairs: &[String]) -> Result<Vars, String> {
        let mut given = BTreeMap::new();
        for p in pairs {
            let (k, v) = p.split_once('=').ok_or_else(|| format!("-e {p:?}: write KEY=VALUE"))?;
            if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("-e {p:?}: {k:?} is not a variable name (letters, digits, _)"));
            }
            given.insert(k.to_string(), v.to_string());
        }
        Ok(Vars { given })
    }

    /// The variables given with `-e`, by name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.given.keys().map(String::as_str)
    }

    fn get(&self, name: &str) -> Option<String> {
        self.given.get(name).cloned().or_else(|| std::env::var(name).ok())
    }
}

/// Expand the variables of one string; the error says which and why.
pub fn expand(s: &str, vars: &Vars) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(lit) = after.strip_prefix("${") {
            out.push_str("${");
            rest = lit;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or_else(|| format!("{s:?}: `${{` is not closed by `}}`"))?;
            let (name, default) = match body[..end].split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (&body[..end], None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("{s:?}: {name:?} is not a variable name (letters, digits, _)"));
            }
            match (vars.get(name), default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => {
                    return Err(format!(
                        "${{{name}}} is not set: give -e {name}=VALUE, set it in the environment, or write ${{{name}:-default}}"
                    ));
                }
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Expand every string value of a parsed profile (keys are left as written). Errors give the dotted
/// field (`targets[1].base_url`) and the reason.
pub fn expand_table(t: &mut Table, vars: &Vars, at: &str) -> Result<(), (String, String)> {
    for (k, v) in t.iter_mut() {
        let field = if at.is_empty() { k.clone() } else { format!("{at}.{k}") };
        expand_value(v, vars, &field)?;
    }
    Ok(())
}

fn expand_value(v: &mut Value, vars: &Vars, field: &str) -> Result<(), (String, String)> {
    match v {
        Value::String(s) if s.contains('$') => {
            let whole = s.starts_with("${") && s.ends_with('}') && s.matches("${").count() == 1;
            let expanded = expand(s, vars).map_err(|r| (field.to_string(), r))?;
            // A value that is exactly one variable takes the type of what it expands to, so
            // `rate = "${RATE}"` with RATE=200 is the number 200.
            *v = match whole.then(|| typed(&expanded)).flatten() {
                Some(t) => t,
                None => Value::String(expanded),
            };
        }
        Value::Table(t) => expand_table(t, vars, field)?,
        Value::Array(a) => {
            for (i, x) in a.iter_mut().enumerate() {
                expand_value(x, vars, &format!("{field}[{i}]"))?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// A number or boolean written as text, as TOML would read it.
fn typed(s: &str) -> Option<Value> {
    if let Ok(i) = s.trim().parse::<i64>() {
        return Some(Value::Integer(i));
    }
    if let Ok(f) = s.trim().parse::<f64>()
        && f.is_finite()
    {
        return Some(Value::Float(f));
    }
    match s.trim() {
        "true" => Some(Value::Boolean(true)),
        "false" => Some(Value::Boolean(false)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[&str]) -> Vars {
        Vars::parse(&pairs.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn variables_defaults_and_literals() {
        let v = vars(&["HOST=staging.example", "RATE=200"]);
        assert_eq!(expand("https://${HOST}/v1", &v).unwrap(), "https://staging.example/v1");
        assert_eq!(expand("${WABENCH_SURELY_UNSET_VAR:-10s}", &v).unwrap(), "10s");
        assert_eq!(expand("$${HOST} costs $5", &v).unwrap(), "${HOST} costs $5");
        let e = expand("${WABENCH_SURELY_UNSET_VAR}", &v).unwrap_err();
        assert!(e.contains("WABENCH_SURELY_UNSET_VAR") && e.contains("-e WABENCH_SURELY_UNSET_VAR=VALUE"), "{e}");
        assert!(expand("${HOST", &v).unwrap_err().contains("not closed"));
        assert!(expand("${A-B}", &v).unwrap_err().contains("not a variable name"));
        assert!(Vars::parse(&["NOEQUALS".into()]).unwrap_err().contains("KEY=VALUE"));
    }

    #[test]
    fn tables_and_arrays_are_expanded_with_their_field_named() {
        let v = vars(&["U=http://127.0.0.1:9"]);
        let mut t: Table =
            toml::from_str("[[targets]]\nurl = \"${U}/x\"\n[[targets]]\nurl = \"${NOPE_WABENCH}\"\n").unwrap();
        let (field, reason) = expand_table(&mut t, &v, "").unwrap_err();
        assert_eq!(field, "targets[1].url");
        assert!(reason.contains("NOPE_WABENCH"), "{reason}");
        assert_eq!(t["targets"].as_array().unwrap()[0]["url"].as_str(), Some("http://127.0.0.1:9/x"));
        let v = vars(&["RATE=200", "RATIO=0.5", "ON=true"]);
        let mut t: Table =
            toml::from_str("rate = \"${RATE}\"\nratio = \"${RATIO}\"\non = \"${ON}\"\nname = \"r${RATE}\"\n").unwrap();
        expand_table(&mut t, &v, "").unwrap();
        assert_eq!(t["rate"], Value::Integer(200), "a whole-value variable keeps its type");
        assert_eq!(t["ratio"], Value::Float(0.5));
        assert_eq!(t["on"], Value::Boolean(true));
        assert_eq!(t["name"], Value::String("r200".into()), "inside text it stays text");
    }
}
