//! The JSON Schema of a profile, generated from the same serde types that read it, so editors
//! (taplo / Even Better TOML, via a `#:schema` comment at the top of a profile) complete field names
//! and flag unknown fields and wrong types before `wabench validate` runs.
//!
//! The schema checks shape only (names, types, enumerations, duration syntax); the rules that relate
//! fields to each other (a cloud target needs `phone_number_id`, stages need a positive rate, …) stay
//! in [`super::validate`], which `wabench validate` runs.

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

/// The file name the schema is shipped under, beside the profiles (`profiles/wabench-profile.schema.json`).
pub const FILE_NAME: &str = "wabench-profile.schema.json";

/// The JSON Schema (draft-07, which taplo and most editors read) of a profile, as pretty JSON with a
/// trailing newline.
pub fn profile_schema_json() -> String {
    let mut schema = SchemaSettings::draft07().into_generator().into_root_schema_for::<super::Profile>();
    if let Some(root) = schema.as_object_mut() {
        without_null(root);
    }
    schema.insert("title".into(), "wabench profile".into());
    schema.insert(
        "description".into(),
        "A wabench load-test profile (TOML). `wabench validate PROFILE` checks the rules between fields \
         that a schema cannot express."
            .into(),
    );
    let mut text = serde_json::to_string_pretty(&schema).expect("a JSON Schema always serializes");
    text.push('\n');
    text
}

/// TOML has no null: an optional field is one that may be left out, not one that may be null. Drop
/// `null` from types, alternatives and defaults, everywhere.
fn without_null(map: &mut Map<String, Value>) {
    // `"default": null`, and null members of default objects (an unset optional field).
    map.retain(|_, v| !v.is_null());
    if let Some(Value::Array(types)) = map.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            map.insert("type".into(), only);
        }
    }
    for key in ["anyOf", "oneOf"] {
        let Some(Value::Array(alts)) = map.get_mut(key) else { continue };
        alts.retain(|a| a.get("type").is_none_or(|t| t != "null") || a.as_object().is_some_and(|o| o.len() > 1));
        if alts.len() == 1 {
            let only = alts.remove(0);
            map.remove(key);
            match only {
                // Beside a `$ref`, draft-07 ignores other keywords: keep the description by wrapping it.
                Value::Object(o) if o.contains_key("$ref") => {
                    map.insert("allOf".into(), Value::Array(vec![Value::Object(o)]));
                }
                Value::Object(o) => map.extend(o),
                other => {
                    map.insert("allOf".into(), Value::Array(vec![other]));
                }
            }
        }
    }
    for v in map.values_mut() {
        walk(v);
    }
}

fn walk(v: &mut Value) {
    match v {
        Value::Object(m) => without_null(m),
        Value::Array(a) => a.iter_mut().for_each(walk),
        _ => {}
    }
}
