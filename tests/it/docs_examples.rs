//! The documentation's examples keep working: every TOML block of README.md and of the manual's chapters
//! (docs/src) is a profile (or a part of one, completed with the least a profile needs) that parses and
//! validates with this build, and every `wabench …` command line of their shell blocks parses with the
//! command line's definitions; every `console` block prints what it shows; and every relative link of
//! README.md and of the manual (the reference pages included) leads to a file, and to a heading of it
//! when it names one. A changed field, command, flag, output or heading that the documents still use
//! fails here, naming the line.

use std::path::{Path, PathBuf};

/// Fenced blocks of a Markdown text: (language, first line number of the body, body).
fn blocks(text: &str) -> Vec<(String, usize, String)> {
    let mut out = Vec::new();
    let mut open: Option<(String, usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut open, fence) {
            (None, Some(lang)) => open = Some((lang.trim().to_string(), i + 2, String::new())),
            (Some(_), Some(_)) => out.push(open.take().expect("open block")),
            (Some((_, _, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

/// README.md and every chapter of the manual (docs/src, the generated reference pages aside), each
/// as (name, text).
fn documents() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut docs = vec![("README.md".to_string(), std::fs::read_to_string(root.join("README.md")).unwrap())];
    let mut chapters: Vec<_> = std::fs::read_dir(root.join("docs/src"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    chapters.sort();
    for p in chapters {
        let name = format!("docs/src/{}", p.file_name().unwrap().to_string_lossy());
        docs.push((name, std::fs::read_to_string(&p).unwrap()));
    }
    assert!(docs.len() > 10, "the manual's chapters were found: {}", docs.len());
    docs
}

/// A profile made of `fragment` over the least a profile needs (a name, a load, one embedded Cloud
/// target when the fragment names none, a conversation target when it sets one's turns): tables merged
/// key by key, the fragment's values winning.
fn completed(fragment: &toml::Table) -> toml::Table {
    let target = match fragment.get("targets") {
        Some(toml::Value::Table(t)) if t.contains_key("conversation") => {
            "[targets]\nname = \"bot\"\nkind = \"conversation\"\nurl = \"http://127.0.0.1:9/webhook\"\n"
        }
        _ => "[[targets]]\nname = \"t\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n",
    };
    let mut base: toml::Table =
        toml::from_str(&format!("name = \"docs\"\n[load]\nrate = 1\nduration = \"1s\"\n{target}")).unwrap();
    let load = base["load"].as_table_mut().unwrap();
    if fragment.get("load").and_then(|l| l.as_table()).is_some_and(|l| l.contains_key("stages")) {
        load.remove("rate");
        load.remove("duration");
    }
    let sized = fragment
        .get("targets")
        .and_then(|t| t.as_array())
        .is_some_and(|ts| ts.iter().any(|t| t.get("webhook").and_then(|w| w.get("messages_per_second")).is_some()));
    if sized {
        load.remove("rate"); // the webhook target's sizing gives the rate
    }
    let real = fragment.get("targets").and_then(|t| t.as_array()).is_some_and(|ts| {
        ts.iter().any(|t| t.get("base_url").and_then(|u| u.as_str()).is_some_and(|u| u.starts_with("https://")))
    });
    if real && !fragment.contains_key("recipients") {
        // A real WhatsApp target sends to a recipients file only (the file is read at load, not here).
        base.insert("recipients".into(), toml::Value::Table(toml::from_str("file = \"recipients.csv\"").unwrap()));
    }
    if let Some(toml::Value::Table(t)) = fragment.get("targets") {
        // `[targets.x]` sub-tables of the one target.
        let mut one = base["targets"].as_table().unwrap().clone();
        merge(&mut one, t);
        base.insert("targets".into(), toml::Value::Array(vec![toml::Value::Table(one)]));
        let mut rest = fragment.clone();
        rest.remove("targets");
        merge(&mut base, &rest);
        return base;
    }
    merge(&mut base, fragment);
    base
}

/// The certificate and key files a fragment names (`….pem`, `….key`), made in `dir` so the profile
/// parses as it would beside them: a certificate and a key of the same stem go together.
fn make_named_files(value: &toml::Value, dir: &Path) {
    let mut names = Vec::new();
    named_files(value, &mut names);
    let mut made: std::collections::HashMap<String, rcgen::CertifiedKey<rcgen::KeyPair>> = Default::default();
    for name in names {
        let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s).to_string();
        let pair =
            made.entry(stem).or_insert_with(|| rcgen::generate_simple_self_signed(vec!["docs.test".into()]).unwrap());
        let path = dir.join(&name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let text = if name.ends_with(".key") { pair.signing_key.serialize_pem() } else { pair.cert.pem() };
        std::fs::write(path, text).unwrap();
    }
}

fn merge(into: &mut toml::Table, from: &toml::Table) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

fn named_files(value: &toml::Value, out: &mut Vec<String>) {
    match value {
        toml::Value::String(s) if s.ends_with(".pem") || s.ends_with(".key") => out.push(s.clone()),
        toml::Value::Table(t) => t.values().for_each(|v| named_files(v, out)),
        toml::Value::Array(a) => a.iter().for_each(|v| named_files(v, out)),
        _ => {}
    }
}

#[test]
fn every_toml_block_of_the_docs_is_a_valid_profile_or_part_of_one() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (doc, text) in documents() {
        for (lang, line, body) in blocks(&text).into_iter().filter(|(l, _, _)| l == "toml") {
            let fragment: toml::Table = match toml::from_str(&body) {
                Ok(t) => t,
                Err(e) => {
                    failures.push(format!("{doc}:{line}: not TOML: {e}"));
                    continue;
                }
            };
            let profile = toml::to_string(&completed(&fragment)).unwrap();
            let dir = tempfile::tempdir().unwrap();
            make_named_files(&toml::Value::Table(fragment), dir.path());
            if let Err(e) = wabench::spec::parse(&dir.path().join("README.toml"), &profile) {
                failures.push(format!("{doc}:{line} ({lang}): {e}"));
            }
            checked += 1;
        }
    }
    assert!(checked >= 15, "the documents' profiles were found: {checked}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The `wabench …` invocations of a shell line: split at pipes, `&&`, `;` and redirections, comments
/// cut, quotes honoured.
fn invocations(line: &str) -> Vec<Vec<String>> {
    let line = line.split(" #").next().unwrap_or("").trim();
    let words = shlex::split(line).unwrap_or_default();
    let mut out = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for w in words {
        if ["|", "&&", ";", "||", "&"].contains(&w.as_str()) || w.starts_with('>') || w.starts_with("2>") {
            out.extend(current.take());
            continue;
        }
        // A word that ends a command (`s1;`, `out &` split as `out`, `&`).
        let (w, ends) = match w.strip_suffix(';').or_else(|| w.strip_suffix('&')) {
            Some(stem) => (stem.to_string(), true),
            None => (w, false),
        };
        match &mut current {
            Some(c) => c.push(w),
            None if w == "wabench" => current = Some(vec![w]),
            None => {}
        }
        if ends {
            out.extend(current.take());
        }
    }
    out.extend(current);
    out
}

#[test]
fn every_wabench_command_line_of_the_docs_parses() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (doc, text) in documents() {
        for (_, first, body) in blocks(&text).into_iter().filter(|(l, _, _)| l == "sh" || l == "bash") {
            for (i, line) in body.lines().enumerate() {
                for args in invocations(line) {
                    checked += 1;
                    let parsed = wabench::app::help::command().try_get_matches_from(&args);
                    let help = |e: &clap::Error| {
                        matches!(e.kind(), clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion)
                    };
                    if let Err(e) = parsed.as_ref().map(|_| ()).or_else(|e| if help(e) { Ok(()) } else { Err(e) }) {
                        let first_line = e.to_string().lines().next().unwrap_or_default().to_string();
                        failures.push(format!("{doc}:{}: `{}`: {first_line}", first + i, args.join(" ")));
                    }
                }
            }
        }
    }
    assert!(checked >= 50, "the documents' command lines were found: {checked}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_documented_example_that_stops_working_fails_here() {
    // The checks above see a planted change: a misspelt field and an unknown flag.
    let fragment: toml::Table = toml::from_str("[load]\nconections = 8\n").unwrap();
    let profile = toml::to_string(&completed(&fragment)).unwrap();
    assert!(wabench::spec::parse(Path::new("README.md"), &profile).is_err());
    let args = &invocations("wabench run profiles/quickstart.toml --no-such-flag | jq .")[0];
    assert!(wabench::app::help::command().try_get_matches_from(args).is_err());
    assert_eq!(
        invocations("cat x | wabench validate p.toml --json && wabench run p.toml > out"),
        [vec!["wabench", "validate", "p.toml", "--json"], vec!["wabench", "run", "p.toml"]]
    );
}

/// Whether `line` is what `expected` shows, where `[..]` in `expected` stands for any text.
fn shows(expected: &str, line: &str) -> bool {
    let parts: Vec<&str> = expected.split("[..]").collect();
    let Some(rest) = line.strip_prefix(parts[0]) else { return false };
    let mut rest = rest;
    for (k, part) in parts.iter().enumerate().skip(1) {
        let last = k == parts.len() - 1;
        match (last, rest.find(part)) {
            (true, _) => return rest.ends_with(part),
            (false, Some(at)) => rest = &rest[at + part.len()..],
            (false, None) => return false,
        }
    }
    rest.is_empty()
}

/// What a terminal shows of `wabench ARGS` run from the repository's root with this build: its standard
/// output, then its standard error, line by line; and its exit status.
fn terminal(args: &[String]) -> (Vec<String>, i32) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wabench"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (text.lines().map(str::to_string).collect(), out.status.code().unwrap_or(-1))
}

/// The failures of one `console` block (its body begins on line `first` of `doc`), and the commands it
/// ran. The block holds `$ wabench …` lines, each followed by what the terminal shows (`[..]` for what
/// differs between machines), and `$ echo $?` lines followed by the exit status of the command before:
/// a command that fails must be followed by one, so the page never hides a failure.
fn console_block(doc: &str, first: usize, body: &str) -> (Vec<String>, usize) {
    let lines: Vec<&str> = body.lines().collect();
    let mut failures = Vec::new();
    let mut ran = 0;
    // The command before and its exit status, until an `echo $?` shows it.
    let mut last: Option<(String, i32)> = None;
    let unshown = |last: Option<(String, i32)>, at: usize, failures: &mut Vec<String>| {
        if let Some((cmd, code)) = last.filter(|(_, code)| *code != 0) {
            failures.push(format!("{doc}:{at}: `{cmd}` exited {code}: show it with `$ echo $?`"));
        }
    };
    let mut i = 0;
    while i < lines.len() {
        let Some(cmd) = lines[i].strip_prefix("$ ") else {
            i += 1;
            continue;
        };
        let at = first + i;
        let expected: Vec<&str> = lines[i + 1..].iter().take_while(|l| !l.starts_with("$ ")).copied().collect();
        i += 1 + expected.len();
        let got = if cmd == "echo $?" {
            match last.take() {
                Some((_, code)) => vec![code.to_string()],
                None => {
                    failures.push(format!("{doc}:{at}: `echo $?` follows no command"));
                    continue;
                }
            }
        } else {
            unshown(last.take(), at, &mut failures);
            let args = shlex::split(cmd).unwrap_or_default();
            assert_eq!(args.first().map(String::as_str), Some("wabench"), "{doc}:{at}: {cmd}");
            let (got, code) = terminal(&args[1..]);
            ran += 1;
            last = Some((cmd.to_string(), code));
            got
        };
        let same = got.len() == expected.len() && expected.iter().zip(&got).all(|(e, g)| shows(e, g));
        if !same {
            failures.push(format!("{doc}:{at}: `{cmd}` printed:\n{}", got.join("\n")));
        }
    }
    unshown(last, first + lines.len(), &mut failures);
    (failures, ran)
}

#[test]
fn console_examples_print_what_the_docs_show() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (doc, text) in documents() {
        for (_, first, body) in blocks(&text).into_iter().filter(|(l, _, _)| l == "console") {
            let (f, ran) = console_block(&doc, first, &body);
            failures.extend(f);
            checked += ran;
        }
    }
    assert!(checked >= 5, "the documents' console examples were found: {checked}");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_console_example_shows_a_failure_and_its_exit_status() {
    let cmd = "$ wabench validate profiles/quickstart.toml --set load.rate=fast\nwabench: error: [..]";
    let (failures, ran) = console_block("p.md", 3, &format!("{cmd}\n$ echo $?\n1\n"));
    assert_eq!((failures.as_slice(), ran), (&[] as &[String], 1));
    let (failures, _) = console_block("p.md", 3, &format!("{cmd}\n"));
    assert_eq!(
        failures,
        ["p.md:5: `wabench validate profiles/quickstart.toml --set load.rate=fast` exited 1: show it with `$ echo $?`"]
    );
    let (failures, _) = console_block("p.md", 3, &format!("{cmd}\n$ echo $?\n0\n"));
    assert_eq!(failures, ["p.md:5: `echo $?` printed:\n1"]);
    let (failures, _) = console_block("p.md", 3, "$ wabench validate profiles/quickstart.toml\nprofile quickstart\n");
    assert!(failures.len() == 1 && failures[0].starts_with("p.md:3: `wabench validate profiles/quickstart.toml` printed:\nprofile quickstart (profiles/quickstart.toml) is valid\n"), "{failures:?}");
}

#[test]
fn the_wildcard_stands_for_any_text_and_nothing_else_differs() {
    assert!(shows("timeout 10s, drain 5s, [..] thread(s)", "timeout 10s, drain 5s, 2 thread(s)"));
    assert!(shows("a [..] b [..]", "a x b yz"));
    assert!(!shows("timeout 10s, drain 5s, [..] thread(s)", "timeout 9s, drain 5s, 2 thread(s)"));
    assert!(!shows("exact", "exact and more"));
}

/// README.md and every page of the manual (docs/src and its folders, the generated reference pages
/// included), each as (path from the repository's root, text).
fn markdown_files() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = vec![(PathBuf::from("README.md"), std::fs::read_to_string(root.join("README.md")).unwrap())];
    let mut dirs = vec![PathBuf::from("docs/src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(root.join(&dir)).unwrap() {
            let name = dir.join(entry.unwrap().file_name());
            if root.join(&name).is_dir() {
                dirs.push(name);
            } else if name.extension().is_some_and(|x| x == "md") {
                out.push((name.clone(), std::fs::read_to_string(root.join(&name)).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The lines of a Markdown text outside fenced blocks, numbered from 1.
fn outside_fences(text: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            out.push((i + 1, line));
        }
    }
    out
}

/// A line with its inline code spans cut out.
fn without_code(line: &str) -> String {
    line.split('`').step_by(2).collect()
}

/// The id mdBook gives a heading (written `text` in Markdown): its text as shown (backticks, stars and
/// a link's target left out), trimmed and lowercased, whitespace made `-`, and anything but letters,
/// digits, `_` and `-` dropped.
fn anchor(text: &str) -> String {
    let mut shown = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        // [text](target) shows as text.
        let end = rest[at..].find(')').map_or(rest.len(), |e| at + e + 1);
        shown.push_str(&rest[..at]);
        rest = &rest[end..];
    }
    shown.push_str(rest);
    shown
        .replace(['`', '*', '['], "")
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            c if c.is_alphanumeric() || c == '_' || c == '-' => Some(c),
            c if c.is_whitespace() => Some('-'),
            _ => None,
        })
        .collect()
}

/// The ids of a page's headings, a repeated one numbered `-1`, `-2`, … as mdBook numbers them.
fn anchors(text: &str) -> std::collections::HashSet<String> {
    let mut ids = std::collections::HashSet::new();
    for (_, line) in outside_fences(text) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let id = anchor(&line[hashes..]);
        let mut unique = id.clone();
        let mut n = 0;
        while !ids.insert(unique.clone()) {
            n += 1;
            unique = format!("{id}-{n}");
        }
    }
    ids
}

/// The targets of a line's Markdown links and images: `[text](target)`, a title after the target left out.
fn link_targets(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        let mut depth = 0;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                depth < 0
            })
            .map_or(rest.len(), |(i, _)| i);
        out.push(rest[..end].split_whitespace().next().unwrap_or("").to_string());
        rest = &rest[end..];
    }
    out
}

/// `path` with its `.` and `..` parts resolved, as written (no file system look-up).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Every relative link of `pages` ((path, text)) that leads nowhere: a file that is neither one of the
/// pages nor in the repository, or a `#fragment` that no heading of the page it names has. Each as
/// `page:line: target: why`.
fn broken_links(pages: &[(PathBuf, String)]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let texts: std::collections::HashMap<&Path, &str> = pages.iter().map(|(p, t)| (p.as_path(), t.as_str())).collect();
    let mut out = Vec::new();
    for (page, text) in pages {
        for (line, prose) in outside_fences(text) {
            for target in link_targets(&without_code(prose)) {
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                let (file, fragment) = target.split_once('#').map_or((target.as_str(), None), |(f, h)| (f, Some(h)));
                let path = match file {
                    "" => page.clone(),
                    f => lexical(&page.parent().unwrap_or(Path::new("")).join(f)),
                };
                let why = match (texts.get(path.as_path()), fragment) {
                    (None, _) if !root.join(&path).exists() => Some(format!("no file {}", path.display())),
                    (None, Some(_)) => Some(format!("{} is not a page of the manual", path.display())),
                    (Some(t), Some(h)) if !anchors(t).contains(h) => {
                        Some(format!("no heading of {} has the id {h:?}", path.display()))
                    }
                    _ => None,
                };
                if let Some(why) = why {
                    out.push(format!("{}:{line}: {target}: {why}", page.display()));
                }
            }
        }
    }
    out
}

#[test]
fn every_relative_link_of_the_docs_leads_to_a_file_and_heading_there() {
    let pages = markdown_files();
    assert!(pages.iter().any(|(p, _)| p.starts_with("docs/src/reference")), "the reference pages were read");
    let links: usize =
        pages.iter().flat_map(|(_, t)| outside_fences(t)).map(|(_, l)| link_targets(&without_code(l)).len()).sum();
    assert!(links >= 40, "the documents' links were found: {links}");
    let broken = broken_links(&pages);
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn a_link_to_a_missing_page_or_heading_is_found_and_ids_are_mdbooks() {
    assert_eq!(
        anchor(" Tracing: the slow message in your back-end's traces"),
        "tracing-the-slow-message-in-your-back-ends-traces"
    );
    assert_eq!(anchor(" A standalone receiver: `wabench receive`"), "a-standalone-receiver-wabench-receive");
    assert_eq!(
        anchor(" Identities: business-scoped user IDs and usernames (2026)"),
        "identities-business-scoped-user-ids-and-usernames-2026"
    );
    assert_eq!(anchor(" See [Profiles](profiles.md) *now*"), "see-profiles-now");
    let page = |name: &str, lines: &[&str]| (PathBuf::from(name), lines.join("\n"));
    let pages = [
        page(
            "docs/src/a.md",
            &[
                "# A",
                "## Twice",
                "## Twice",
                "## Run `wabench`",
                "[b](b.md) [twice](#twice-1) [image](images/report.png)",
            ],
        ),
        page(
            "docs/src/b.md",
            &[
                "# B",
                "```sh",
                "# the end",
                "```",
                "[a](a.md#twice-2) [a](a.md#run-wabench) `[code](nowhere.md)`",
                "[gone](c.md) [none](#the-end)",
            ],
        ),
    ];
    assert_eq!(
        broken_links(&pages),
        [
            "docs/src/b.md:5: a.md#twice-2: no heading of docs/src/a.md has the id \"twice-2\"",
            "docs/src/b.md:6: c.md: no file docs/src/c.md",
            "docs/src/b.md:6: #the-end: no heading of docs/src/b.md has the id \"the-end\"",
        ]
    );
}
