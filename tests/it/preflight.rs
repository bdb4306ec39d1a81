//! Preflight: `validate` and `run` name what would go wrong before a single request — a missing
//! environment variable, a `[messages]` table that keeps a default kind, a template parameter count
//! the simulator's template does not take, too few connections for the rate — and a configuration
//! error writes no results folder.

use crate::support::common::{profile, wabench};

const HEAD: &str = "name = \"pre\"\n[load]\nrate = 10\nduration = \"1s\"\n";
const EMBEDDED: &str = "[[targets]]\nname = \"c\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n";

#[test]
fn a_missing_environment_variable_is_named_by_validate_and_stops_run_before_any_results() {
    let dir = tempfile::tempdir().unwrap();
    let var = "WABENCH_PREFLIGHT_TEST_TOKEN_NEVER_SET";
    let p = profile(
        dir.path(),
        &format!(
            "{HEAD}[[targets]]\nname = \"h\"\nkind = \"http\"\nurl = \"http://127.0.0.1:9/\"\n\
             headers_from_env = {{ Authorization = \"{var}\" }}\n{EMBEDDED}token_env = \"{var}\"\n"
        ),
    );
    let (code, out, err) = wabench(&["validate", p.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("targets[0].headers_from_env") && err.contains(var), "{err}");
    assert!(err.contains("targets[1].token_env"), "both are named: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let results = dir.path().join("results");
    let (code, _, err) = wabench(&["run", p.to_str().unwrap(), "--results", results.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(var) && err.contains("is not set"), "{err}");
    assert!(!results.exists(), "a configuration error writes no results folder");
    // Set, the same profile validates.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wabench"))
        .args(["validate", p.to_str().unwrap()])
        .env(var, "secret-value-for-the-test")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("secret-value-for-the-test"));
}

#[test]
fn a_kept_default_kind_is_named_with_the_mix_it_sends() {
    let dir = tempfile::tempdir().unwrap();
    let p = profile(dir.path(), &format!("{HEAD}[messages]\ntemplate = 1\n{EMBEDDED}"));
    let (code, out, err) = wabench(&["validate", p.to_str().unwrap()]);
    assert_eq!(code, 0, "a warning, not an error: {err}");
    let line = out.lines().find(|l| l.contains("messages.text")).unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("warning"), "{line}");
    assert!(line.contains("template = 1") && line.contains("text 50%, template 50%"), "{line}");
    assert!(line.contains("text = 0"), "says what to write: {line}");
    // Written out, no warning.
    let p = profile(dir.path(), &format!("{HEAD}[messages]\ntemplate = 1\ntext = 0\n{EMBEDDED}"));
    let (code, out, err) = wabench(&["validate", p.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("messages.text"), "{out}");
    // `--set messages.text=0` writes it too.
    let p = profile(dir.path(), &format!("{HEAD}[messages]\ntemplate = 1\n{EMBEDDED}"));
    let (_, out, _) = wabench(&["validate", p.to_str().unwrap(), "--set", "messages.text=0"]);
    assert!(!out.contains("field `messages.text`"), "{out}");
}

#[test]
fn a_wrong_template_parameter_count_is_named_against_the_simulators_template() {
    let dir = tempfile::tempdir().unwrap();
    let p = profile(
        dir.path(),
        &format!(
            "{HEAD}[messages]\ntext = 0\ntemplate = 1\ntemplate_params = 2\n\
             [[simulator.templates]]\nname = \"order_update\"\nparams = 3\n{EMBEDDED}"
        ),
    );
    let (code, out, err) = wabench(&["validate", p.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let line = out.lines().find(|l| l.contains("messages.template_params")).unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("fills 2") && line.contains("takes 3") && line.contains("132000"), "{line}");
    // The right count: nothing to say.
    let p = profile(
        dir.path(),
        &format!(
            "{HEAD}[messages]\ntext = 0\ntemplate = 1\ntemplate_params = 3\n\
             [[simulator.templates]]\nname = \"order_update\"\nparams = 3\n{EMBEDDED}"
        ),
    );
    let (_, out, _) = wabench(&["validate", p.to_str().unwrap()]);
    assert!(!out.contains("132000"), "{out}");
}

#[test]
fn too_few_connections_for_the_rate_are_named_with_the_number_to_use() {
    let dir = tempfile::tempdir().unwrap();
    // 400/s at the simulator's 100 ms (constant): 40 in flight, more than 8 connections.
    let p = profile(
        dir.path(),
        &format!(
            "name = \"pre\"\n[load]\nrate = 400\nduration = \"1s\"\nconnections = 8\n\
             [simulator.latency]\ndistribution = \"constant\"\nmedian = \"100ms\"\n{EMBEDDED}"
        ),
    );
    let (code, out, err) = wabench(&["validate", p.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let line = out.lines().find(|l| l.contains("load.connections")).unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("8 connections cannot carry 400/s"), "{line}");
    assert!(line.contains("about 40 requests are in flight"), "{line}");
    assert!(line.contains("connections = 41"), "the number to use: {line}");
    // Enough of them: nothing said.
    let p = profile(dir.path(), &std::fs::read_to_string(&p).unwrap().replace("connections = 8", "connections = 50"));
    let (_, out, _) = wabench(&["validate", p.to_str().unwrap()]);
    assert!(!out.contains("load.connections"), "{out}");
}
