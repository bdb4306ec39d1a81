//! The layering of `src/`, checked on the source: each top-level module may import only the modules
//! its layer allows (`use crate::…` and `crate::…` paths alike), so the layers cannot grow back into a
//! cycle.
//!
//! units ← spec ← engine ← drivers ← app; results beside spec (units only); webhook and sim over spec
//! and results; report over results and units.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Which top-level modules each top-level module may use.
const ALLOWED: &[(&str, &[&str])] = &[
    ("units", &[]),
    ("spec", &["units"]),
    ("results", &["units"]),
    ("engine", &["units", "spec", "results"]),
    ("webhook", &["units", "spec", "results"]),
    ("sim", &["units", "spec", "results", "webhook"]),
    ("drivers", &["units", "spec", "results", "engine", "webhook"]),
    ("report", &["units", "results"]),
    ("app", &["units", "spec", "results", "engine", "webhook", "sim", "drivers", "report"]),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level modules a source text refers to through `crate::`, also inside `use crate::{a, b}`.
fn used_modules(text: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let code: String = text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                used.insert(name);
            }
        } else {
            used.insert(rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
        }
    }
    used.retain(|m| !m.is_empty() && m.chars().next().is_some_and(|c| c.is_ascii_lowercase()));
    used
}

#[test]
fn every_module_imports_only_what_its_layer_allows() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut broken = Vec::new();
    let mut seen = BTreeSet::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let Some(top) = rel.components().next().and_then(|c| c.as_os_str().to_str()) else { continue };
        let top = top.trim_end_matches(".rs");
        if top == "lib" || top == "main" {
            continue;
        }
        seen.insert(top.to_string());
        let Some(ok) = allowed.get(top) else {
            broken.push(format!("{}: top-level module {top:?} has no layer in this test", rel.display()));
            continue;
        };
        for m in used_modules(&std::fs::read_to_string(f).unwrap()) {
            if m != top && !ok.contains(&m.as_str()) && allowed.contains_key(m.as_str()) {
                broken.push(format!("{}: {top} must not use crate::{m}", rel.display()));
            }
        }
    }
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
    assert_eq!(seen.len(), ALLOWED.len(), "every layer has code: {seen:?}");
}

#[test]
fn the_checker_sees_grouped_and_inline_paths() {
    let used = used_modules(
        "use crate::{spec, results::Run};\nfn f() { crate::engine::run(); }\n// crate::app is a comment\n",
    );
    assert_eq!(used.into_iter().collect::<Vec<_>>(), vec!["engine", "results", "spec"]);
}
