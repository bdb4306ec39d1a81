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

/// A module path from the crate root, e.g. `["app", "run"]`.
type ModPath = Vec<String>;

fn is_ident(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// The source text without comments, string or char literals (so a path in a doc comment or an error
/// message is not an import), as a list of tokens: identifiers, `::`, and single punctuation.
fn tokens(text: &str) -> Vec<String> {
    let b: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == '/' && b.get(i + 1) == Some(&'/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && b.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == '*' && b[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == 'r'
            && (b.get(i + 1) == Some(&'"')
                || (b.get(i + 1) == Some(&'#') && matches!(b.get(i + 2), Some('#') | Some('"'))))
        {
            // raw string r"…" / r#"…"#
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            i = j;
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
        } else if c == '\'' {
            // a char literal ('x', '\n', '\u{..}') or a lifetime ('a)
            if b.get(i + 2) == Some(&'\'') {
                i += 3;
            } else if b.get(i + 1) == Some(&'\\') {
                i += 2;
                while i < b.len() && b[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else {
                i += 1;
            }
        } else if c.is_alphanumeric() || c == '_' {
            let s = i;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            out.push(b[s..i].iter().collect());
        } else if c == ':' && b.get(i + 1) == Some(&':') {
            out.push("::".into());
            i += 2;
        } else {
            if !c.is_whitespace() {
                out.push(c.to_string());
            }
            i += 1;
        }
    }
    out
}

/// The paths a `use` tree names (each with the name it is bound to), from `toks[i]` on; returns where
/// the tree ends.
fn use_tree(toks: &[String], mut i: usize, prefix: &[String], out: &mut Vec<(Vec<String>, String)>) -> usize {
    let mut path = prefix.to_vec();
    loop {
        match toks.get(i).map(String::as_str) {
            Some("{") => {
                i += 1;
                loop {
                    if toks.get(i).map(String::as_str) == Some("}") {
                        return i + 1;
                    }
                    i = use_tree(toks, i, &path, out);
                    match toks.get(i).map(String::as_str) {
                        Some(",") => i += 1,
                        Some("}") => return i + 1,
                        _ => return i,
                    }
                }
            }
            Some("*") => {
                out.push((path, "*".into()));
                return i + 1;
            }
            Some(t) if is_ident(t) => {
                path.push(t.to_string());
                i += 1;
                if toks.get(i).map(String::as_str) == Some("::") {
                    i += 1;
                    continue;
                }
                let mut name = t.to_string();
                if toks.get(i).map(String::as_str) == Some("as") {
                    name = toks.get(i + 1).cloned().unwrap_or_default();
                    i += 2;
                }
                out.push((path, name));
                return i;
            }
            _ => return i,
        }
    }
}

/// Every path a file names: the leaves of its `use` trees (with the name each binds and whether it is
/// re-exported) and every inline `crate::`/`super::`/`self::` path, each with the inline modules
/// (`mod tests { … }`) it sits in, so that `super::` inside one resolves to the file itself.
struct Names {
    uses: Vec<(Vec<String>, Vec<String>, String, bool)>,
    inline: Vec<(Vec<String>, Vec<String>)>,
}

fn names(text: &str) -> Names {
    let toks = tokens(text);
    let mut uses = Vec::new();
    let mut inline = Vec::new();
    let mut inner: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    let here = |inner: &Vec<(String, usize)>| inner.iter().map(|(m, _)| m.clone()).collect::<Vec<_>>();
    while i < toks.len() {
        match toks[i].as_str() {
            "mod" if toks.get(i + 2).map(String::as_str) == Some("{") => {
                inner.push((toks[i + 1].clone(), depth));
                depth += 1;
                i += 3;
                continue;
            }
            "{" => depth += 1,
            "}" => {
                depth = depth.saturating_sub(1);
                if inner.last().is_some_and(|(_, d)| *d == depth) {
                    inner.pop();
                }
            }
            _ => {}
        }
        if toks[i] == "use" && (i == 0 || toks[i - 1] != "::") {
            let public = (1..=4).any(|k| i >= k && toks[i - k] == "pub");
            let mut leaves = Vec::new();
            i = use_tree(&toks, i + 1, &[], &mut leaves);
            uses.extend(leaves.into_iter().map(|(p, n)| (here(&inner), p, n, public)));
            continue;
        }
        if matches!(toks[i].as_str(), "crate" | "super" | "self")
            && toks.get(i + 1).map(String::as_str) == Some("::")
            && (i == 0 || toks[i - 1] != "::")
        {
            let mut path = vec![toks[i].clone()];
            let mut j = i + 1;
            while toks.get(j).map(String::as_str) == Some("::") && toks.get(j + 1).is_some_and(|t| is_ident(t)) {
                path.push(toks[j + 1].clone());
                j += 2;
            }
            inline.push((here(&inner), path));
            i = j;
            continue;
        }
        i += 1;
    }
    inline.extend(doc_links(text).into_iter().map(|p| (Vec::new(), p)));
    Names { uses, inline }
}

/// The paths of intra-doc links in a file's doc comments (`[`super::x`]`, `[text](crate::x::y)`):
/// rustdoc resolves them, so a file linking to a sibling depends on it as much as one importing it.
fn doc_links(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim_start).filter(|l| l.starts_with("///") || l.starts_with("//!")) {
        let mut rest = line;
        while let Some(i) = rest.find(['`', '(']) {
            rest = &rest[i + 1..];
            let path: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
            let parts: Vec<String> = path.split("::").map(str::to_string).collect();
            if parts.len() > 1
                && matches!(parts[0].as_str(), "crate" | "super" | "self")
                && parts.iter().all(|p| is_ident(p))
            {
                out.push(parts);
            }
        }
    }
    out
}

/// The module a file is (`src/app/exit.rs` → `app::exit`, `src/app/run/mod.rs` → `app::run`).
fn module_of(rel: &Path) -> ModPath {
    let mut m: ModPath = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
    let last = m.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        m.push(stem.to_string());
    }
    m
}

/// The absolute module path a path names, seen from module `from` (a `mod.rs` file's module is its
/// folder). `None` for a path into another crate.
fn absolute(from: &ModPath, path: &[String]) -> Option<ModPath> {
    let mut base: ModPath;
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => {
            base = Vec::new();
            rest = &path[1..];
        }
        Some("self") => {
            base = from.clone();
            rest = &path[1..];
        }
        Some("super") => {
            base = from.clone();
            while rest.first().map(String::as_str) == Some("super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The sibling imports inside every folder of `src/`: for folder `f`, the edges `a → b` where a file in
/// child `a` of `f` names something in child `b`. A name re-exported by `f`'s `mod.rs` from child `b`
/// counts as `b`.
fn sibling_edges(src: &Path) -> BTreeMap<ModPath, BTreeSet<(String, String)>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut modules: BTreeSet<ModPath> = BTreeSet::new();
    let mut texts = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(src).unwrap().to_path_buf();
        if rel == Path::new("main.rs") {
            continue;
        }
        let m = module_of(&rel);
        modules.insert(m.clone());
        texts.push((m, std::fs::read_to_string(f).unwrap()));
    }
    // Names each folder's mod.rs re-exports from one of its children.
    let mut reexports: BTreeMap<(ModPath, String), String> = BTreeMap::new();
    for (m, text) in &texts {
        for (inner, path, name, public) in names(text).uses {
            if !public || !inner.is_empty() {
                continue;
            }
            let full = if modules.contains(&[m.clone(), vec![path[0].clone()]].concat()) {
                [m.clone(), path.clone()].concat()
            } else if let Some(a) = absolute(m, &path) {
                a
            } else {
                continue;
            };
            if full.len() > m.len() && full.starts_with(m) && modules.contains(&full[..=m.len()]) {
                reexports.insert((m.clone(), name), full[m.len()].clone());
            }
        }
    }
    let mut edges: BTreeMap<ModPath, BTreeSet<(String, String)>> = BTreeMap::new();
    for (m, text) in &texts {
        let n = names(text);
        let paths = n.uses.into_iter().map(|(inner, p, _, _)| (inner, p)).chain(n.inline);
        for (inner, p) in paths {
            let Some(target) = absolute(&[m.clone(), inner].concat(), &p) else { continue };
            let common = m.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if m.len() <= common || target.len() <= common {
                continue; // a module naming its own descendants or ancestors
            }
            let folder = m[..common].to_vec();
            let from = m[common].clone();
            let child = [folder.clone(), vec![target[common].clone()]].concat();
            let to = if modules.contains(&child) {
                target[common].clone()
            } else if let Some(c) = reexports.get(&(folder.clone(), target[common].clone())) {
                c.clone()
            } else {
                continue; // an item of the folder's own mod.rs
            };
            if to != from {
                edges.entry(folder).or_default().insert((from, to));
            }
        }
    }
    edges
}

/// The circles in a graph: its strongly connected parts of more than one node, each sorted.
fn circles(edges: &BTreeSet<(String, String)>) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = edges.iter().flat_map(|(a, b)| [a, b]).collect();
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from];
        while let Some(n) = todo.pop() {
            for (a, b) in edges {
                if a == n && seen.insert(b) {
                    todo.push(b);
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<&String>> = nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut out: Vec<Vec<String>> = Vec::new();
    for n in &nodes {
        let mut part: Vec<String> = nodes
            .iter()
            .filter(|m| reaches[*n].contains(*m) && reaches[*m].contains(*n))
            .map(|m| m.to_string())
            .collect();
        part.sort();
        if part.len() > 1 && !out.contains(&part) {
            out.push(part);
        }
    }
    out
}

#[test]
fn no_import_circle_between_the_files_of_one_folder() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    for (folder, e) in sibling_edges(&src) {
        for c in circles(&e) {
            let at = if folder.is_empty() { "src".to_string() } else { format!("src/{}", folder.join("/")) };
            let arrows: Vec<String> =
                e.iter().filter(|(a, b)| c.contains(a) && c.contains(b)).map(|(a, b)| format!("{a} → {b}")).collect();
            found.push(format!("{at}: {}", arrows.join(", ")));
        }
    }
    assert!(found.is_empty(), "import circles between sibling files:\n{}", found.join("\n"));
}

#[test]
fn a_planted_circle_is_found_through_super_nested_groups_and_reexports() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    let write = |p: &str, text: &str| {
        let p = src.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("lib.rs", "pub mod room;\n");
    write("room/mod.rs", "mod a;\nmod b;\nmod c;\nmod d;\nmod e;\npub use d::Shared;\n");
    // a → b through a nested group, b → a through super::, c → d through the re-export in mod.rs;
    // a path in a string, a comment or an inner `mod tests` naming its own file is not an import.
    write("room/a.rs", "use crate::{room::{b::B}, units};\nconst S: &str = \"super::c::X\";\n");
    write("room/b.rs", "pub struct B;\nfn f() { super::a::g(); }\n// super::c::X\n");
    // A doc link is a dependency too (rustdoc resolves it): e → d through one.
    write("room/e.rs", "//! Drawn by [`super::d::Shared`].\n");
    write("room/c.rs", "use super::Shared;\nmod tests { use super::X; }\n");
    write("room/d.rs", "pub struct Shared;\nfn f() { crate::room::c::h(); }\n");
    let edges = sibling_edges(src);
    let room = &edges[&vec!["room".to_string()]];
    let found = circles(room);
    assert_eq!(found, vec![vec!["a".to_string(), "b".to_string()], vec!["c".to_string(), "d".to_string()]], "{room:?}");
    assert!(!room.contains(&("a".to_string(), "c".to_string())), "{room:?}");
    assert!(room.contains(&("e".to_string(), "d".to_string())), "{room:?}");
}
