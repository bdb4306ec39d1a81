//! The command line's generated companions: the profile's JSON Schema (shipped beside the profiles and
//! kept equal to the generated one), shell completions, manual pages and the examples in `--help`.

use std::path::{Path, PathBuf};

use crate::support::common::wabench;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn shipped_schema_path() -> PathBuf {
    root().join("profiles").join(wabench::spec::schema::FILE_NAME)
}

fn validator() -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(&wabench::spec::schema::profile_schema_json()).unwrap();
    jsonschema::draft7::new(&schema).expect("the generated schema is a valid draft-07 schema")
}

/// A profile's TOML text as the JSON value an editor's schema check sees.
fn toml_as_json(text: &str) -> serde_json::Value {
    let v: toml::Value = toml::from_str(text).unwrap();
    serde_json::to_value(v).unwrap()
}

fn schema_errors(text: &str) -> Vec<String> {
    validator().iter_errors(&toml_as_json(text)).map(|e| format!("{} at {}", e, e.instance_path())).collect()
}

fn shipped_profiles() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("profiles"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    assert!(v.len() >= 4, "{v:?}");
    v
}

#[test]
fn shipped_schema_is_the_generated_one() {
    let shipped = std::fs::read_to_string(shipped_schema_path()).unwrap();
    assert!(
        shipped == wabench::spec::schema::profile_schema_json(),
        "profiles/{} is out of date: run `cargo run -- schema --out profiles/{}`",
        wabench::spec::schema::FILE_NAME,
        wabench::spec::schema::FILE_NAME
    );
    let (code, out, _) = wabench(&["schema"]);
    assert_eq!(code, 0);
    assert_eq!(out, shipped, "`wabench schema` prints the shipped schema");
}

#[test]
fn shipped_reference_pages_are_the_generated_ones() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/src/reference");
    for (name, text) in wabench::app::reference::pages() {
        let shipped = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        assert!(shipped == text, "docs/src/reference/{name} is out of date: run `cargo run -- reference`");
    }
    // The first-run chapter's table of exit codes is the generated one.
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/src/first-run.md"))
            .unwrap();
    let codes = wabench::app::reference::pages().into_iter().find(|(n, _)| *n == "exit-codes.md").unwrap().1;
    let table = &codes[codes.find("| code |").unwrap()..];
    assert!(
        readme.contains(table),
        "docs/src/first-run.md's exit codes differ from docs/src/reference/exit-codes.md:\n{table}"
    );
}

#[test]
fn shipped_profiles_point_editors_at_the_schema_and_conform_to_it() {
    for p in shipped_profiles() {
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(
            text.lines().next(),
            Some(format!("#:schema ./{}", wabench::spec::schema::FILE_NAME).as_str()),
            "{} starts with the #:schema comment",
            p.display()
        );
        wabench::spec::load(&p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(schema_errors(&text), Vec::<String>::new(), "{}", p.display());
    }
}

#[test]
fn a_profile_round_trips_through_toml_and_the_schema() {
    for p in shipped_profiles() {
        let loaded = wabench::spec::load(&p).unwrap();
        // The effective profile as TOML (every default written out), as `validate` shows it.
        let text = toml::to_string(&loaded.profile).unwrap();
        assert_eq!(schema_errors(&text), Vec::<String>::new(), "{}: the written-out profile conforms", p.display());
        let back = wabench::spec::parse(&p, &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(&loaded.profile).unwrap(),
            "{}: read back unchanged",
            p.display()
        );
    }
}

#[test]
fn the_schema_rejects_what_the_loader_rejects() {
    let base = "name = \"t\"\n[load]\nrate = 10\nduration = \"5s\"\n[[targets]]\nname = \"a\"\nkind = \"http\"\nurl = \"http://127.0.0.1:9/\"\n";
    assert_eq!(schema_errors(base), Vec::<String>::new());
    let dir = tempfile::tempdir().unwrap();
    for (bad, why) in [
        (base.replace("name = \"t\"", "name = \"t\"\nsped = 3"), "unknown top-level field"),
        (base.replace("rate = 10", "rate = \"fast\""), "a rate that is not a number"),
        (base.replace("duration = \"5s\"", "duration = \"five seconds\""), "a duration without a number"),
        (base.replace("kind = \"http\"", "kind = \"smtp\""), "an unknown target kind"),
        (base.replace("url = ", "urll = "), "a misspelt target field"),
        (format!("{base}[simulator.messaging_limit]\ntier = 300\n"), "a messaging tier Meta does not have"),
        (
            format!("{base}[[targets]]\nname = \"c\"\nkind = \"cloud\"\nmessaging_tier = \"huge\"\n"),
            "a target tier Meta does not have",
        ),
    ] {
        assert!(!schema_errors(&bad).is_empty(), "the schema accepts {why}:\n{bad}");
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, &bad).unwrap();
        assert!(wabench::spec::load(&p).is_err(), "the loader accepts {why}");
    }
}

#[test]
fn completions_generate_for_every_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef wabench"),
        ("fish", "complete -c wabench"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer"),
    ] {
        let (code, out, err) = wabench(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(out.contains(marker), "{shell}: no {marker:?} in the script");
        for word in ["simulate", "compare", "fail-if", "save-baseline"] {
            assert!(out.contains(word), "{shell}: the script does not complete {word}");
        }
    }
    let (code, _, err) = wabench(&["completions", "tcsh"]);
    assert_eq!(code, 2, "an unknown shell is a usage error");
    assert!(err.contains("tcsh"), "{err}");
}

#[test]
fn the_manual_covers_every_command_with_its_examples() {
    let (code, out, err) = wabench(&["man"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with(".ie") || out.starts_with(".TH"), "roff: {}", &out[..out.len().min(80)]);
    assert!(out.contains("wabench") && out.contains("compare"), "the page lists the commands");

    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = wabench(&["man", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    for sub in subcommands() {
        let page = std::fs::read_to_string(dir.path().join(format!("wabench-{sub}.1")))
            .unwrap_or_else(|e| panic!("no page for {sub}: {e}"));
        assert!(page.contains(&format!("wabench\\-{sub}")), "{sub}: page names its command");
        assert!(page.contains("Examples:"), "{sub}: page has the examples");
    }
    assert!(dir.path().join("wabench.1").exists());
}

fn subcommands() -> Vec<String> {
    wabench::app::help::command().get_subcommands().map(|c| c.get_name().to_string()).filter(|n| n != "help").collect()
}

/// Split an example into arguments as a POSIX shell would for these simple lines: double quotes group,
/// an unquoted `|`, `>` or `#` ends the command.
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut cur, mut quoted, mut started) = (Vec::new(), String::new(), false, false);
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            ' ' if !quoted => {
                if started {
                    words.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            '|' | '>' | '#' if !quoted => break,
            c => {
                cur.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(cur);
    }
    words
}

#[test]
fn every_command_ends_its_help_with_examples_that_parse() {
    let examples: std::collections::BTreeMap<&str, &str> = wabench::app::help::EXAMPLES.iter().copied().collect();
    for sub in subcommands() {
        let text = examples.get(sub.as_str()).unwrap_or_else(|| panic!("`wabench {sub} --help` has no examples"));
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("wabench ")).collect();
        assert!(!lines.is_empty(), "{sub}: no example command");
        for line in lines {
            let words = shell_words(line);
            assert_eq!(words.get(1).map(String::as_str), Some(sub.as_str()), "{sub}: {line}");
            if let Err(e) = wabench::app::help::command().try_get_matches_from(&words) {
                panic!("{sub}: example `{line}` does not parse: {e}");
            }
        }
        let (code, out, _) = wabench(&[&sub, "--help"]);
        assert_eq!(code, 0);
        let tail = out.trim_end().rsplit("Examples:\n").next().unwrap();
        assert!(out.contains("Examples:\n") && tail.contains(&format!("wabench {sub}")), "{sub} --help:\n{out}");
    }
    for name in examples.keys() {
        assert!(subcommands().iter().any(|s| s == name), "examples for a command that does not exist: {name}");
    }
}

#[test]
fn shell_words_splits_like_a_shell_for_the_examples() {
    assert_eq!(
        shell_words(r#"wabench compare a b --fail-if "p99 > 1.10" > out.txt"#),
        ["wabench", "compare", "a", "b", "--fail-if", "p99 > 1.10"]
    );
    assert_eq!(shell_words("wabench man | man -l -"), ["wabench", "man"]);
}

#[test]
fn the_examples_of_run_and_validate_on_shipped_profiles_work_as_printed() {
    let out = tempfile::tempdir().unwrap();
    let mut tried = 0;
    for (sub, text) in wabench::app::help::EXAMPLES.iter().filter(|(s, _)| ["run", "validate"].contains(s)) {
        for line in text.lines().filter(|l| l.starts_with("wabench ")) {
            let mut words = shell_words(line);
            if !words.get(2).is_some_and(|p| p.starts_with("profiles/") && root().join(p).is_file()) {
                continue;
            }
            // Nothing is written into the project's folder: a run is a dry run, its --out elsewhere.
            if let Some(i) = words.iter().position(|w| w == "--out") {
                words[i + 1] = out.path().join("res").to_string_lossy().into_owned();
            }
            if *sub == "run" {
                words.push("--dry-run".into());
            }
            let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
            let (code, stdout, stderr) = wabench(&args);
            assert_eq!(code, 0, "`{line}` as a dry run:\n{stdout}\n{stderr}");
            tried += 1;
        }
    }
    assert!(tried >= 3, "{tried} examples tried");
}

#[test]
fn every_argument_of_every_command_says_what_it_is() {
    let cmd = wabench::app::help::command();
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        for arg in sub.get_arguments().filter(|a| a.get_id() != "help" && a.get_id() != "version") {
            let help = arg.get_help().or(arg.get_long_help()).map(|h| h.to_string()).unwrap_or_default();
            // A choice (`init <KIND>`) may be described by its values instead.
            let values = arg.get_possible_values();
            let by_values = !values.is_empty() && values.iter().all(|v| v.get_help().is_some());
            assert!(
                !help.trim().is_empty() || by_values,
                "`wabench {} --help` shows {} without a description",
                sub.get_name(),
                arg.get_id()
            );
        }
    }
}
