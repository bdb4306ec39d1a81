//! Addresses as written, or an error: every URL and address of a profile, of `--set` and of the
//! command line is read strictly. A port out of 1–65535, an empty port or host, an IPv6 address
//! without brackets or another scheme is an error naming the file and field (or the flag) and why,
//! never a default port in place of the one written.

use crate::support::common::{self, wabench};

const HEAD: &str = "name = \"addr\"\n[load]\nrate = 1\nduration = \"1s\"\n";

fn http_target(url: &str, extra: &str) -> String {
    format!("{HEAD}[[targets]]\nname = \"web\"\nkind = \"http\"\nurl = \"{url}\"\n{extra}")
}

fn cloud_target(base_url: &str) -> String {
    format!(
        "{HEAD}[[targets]]\nname = \"meta\"\nkind = \"cloud\"\nbase_url = \"{base_url}\"\n\
         phone_number_id = \"100000000000001\"\ntoken_env = \"WABENCH_ADDR_TEST_TOKEN\"\n\
         allow_generated_recipients = true\n"
    )
}

/// The error of loading profile `text`, as `wabench validate` shows it.
fn load_error(text: &str) -> (wabench::spec::ProfileError, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = common::profile(dir.path(), text);
    let e = wabench::spec::load(&p).map(|_| ()).expect_err("the profile must be refused");
    let shown = e.to_string();
    assert!(shown.starts_with(&p.display().to_string()), "the file is named: {shown}");
    (e, shown)
}

#[test]
fn bad_addresses_in_a_profile_are_errors_naming_the_field() {
    let webhook = |url: &str| {
        format!(
            "{HEAD}[[targets]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{url}\"\n[targets.webhook]\nflavor = \"cloud\"\n"
        )
    };
    let receiver = |url: &str| format!("{}[webhooks]\nreceiver_url = \"{url}\"\n", cloud_target("embedded"));
    let cases = [
        (http_target("http://127.0.0.1:65616/path", ""), "targets[0].url", "port 65616 is out of range"),
        (http_target("http://127.0.0.1:0/path", ""), "targets[0].url", "out of range"),
        (http_target("http://127.0.0.1:/path", ""), "targets[0].url", "port after ':' is empty"),
        (http_target("http://:8080/path", ""), "targets[0].url", "host is empty"),
        (http_target("ftp://127.0.0.1/path", ""), "targets[0].url", "not supported"),
        (http_target("http://[::1/path", ""), "targets[0].url", "not a valid URL"),
        (cloud_target("https://graph.example.com:70000"), "targets[0].base_url", "port 70000 is out of range"),
        (cloud_target("http://[::1]:99999"), "targets[0].base_url", "out of range"),
        (webhook("http://127.0.0.1:70000/hook"), "targets[0].url", "out of range"),
        (receiver("http://127.0.0.1:65536/webhook"), "webhooks.receiver_url", "out of range"),
        (receiver("http:///webhook"), "webhooks.receiver_url", "not a valid URL"),
        (
            http_target("http://api.example/p", "connect_to = \"127.0.0.1:70000\"\n"),
            "targets[0].connect_to",
            "out of range",
        ),
        (http_target("http://api.example/p", "connect_to = \"::1:8443\"\n"), "targets[0].connect_to", "in brackets"),
        (http_target("http://api.example/p", "proxy = \"http://proxy:99999\"\n"), "targets[0].proxy", "out of range"),
    ];
    for (text, field, why) in cases {
        let (e, shown) = load_error(&text);
        assert_eq!(e.field.as_deref(), Some(field), "{shown}");
        assert!(e.reason.contains(why), "{field}: {shown}");
    }
    // An address serde reads: the listener of the embedded receiver.
    let (_, shown) = load_error(&format!("{}[webhooks]\nlisten = \"127.0.0.1:70000\"\n", cloud_target("embedded")));
    assert!(shown.contains("listen"), "{shown}");
}

#[test]
fn set_overrides_are_read_as_strictly_as_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = common::profile(dir.path(), &http_target("http://127.0.0.1:8080/path", ""));
    let p = p.to_str().unwrap();
    let (code, out, err) = wabench(&["validate", p, "--set", "targets.web.url=http://127.0.0.1:65616/path"]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("targets[0].url") && err.contains("port 65616 is out of range"), "{err}");
    assert!(!out.contains("127.0.0.1/path"), "no plan with port 80 in place of 65616: {out}");
    let (code, _, err) = wabench(&["validate", p, "--set", "targets.web.connect_to=localhost:"]);
    assert_eq!(code, 1);
    assert!(err.contains("targets[0].connect_to") && err.contains("empty"), "{err}");
}

#[test]
fn good_addresses_keep_working_with_their_ports() {
    let dir = tempfile::tempdir().unwrap();
    for (url, shown) in [
        ("http://[::1]:8080/p", "http://[::1]:8080/p"),
        ("http://127.0.0.1/p", "http://127.0.0.1/p"),
        ("http://127.0.0.1:65535/p", "http://127.0.0.1:65535/p"),
        ("https://localhost/p", "https://localhost/p"),
    ] {
        let p = common::profile(dir.path(), &http_target(url, "connect_to = \"[::1]:9\"\n"));
        let (code, out, err) = wabench(&["validate", p.to_str().unwrap()]);
        assert_eq!(code, 0, "{url}: {err}");
        assert!(out.contains(shown), "{url}: {out}");
    }
}

#[test]
fn bad_addresses_on_the_command_line_are_errors_naming_the_flag() {
    let (code, _, err) = wabench(&["simulate", "--listen", "127.0.0.1:70000"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--listen"), "{err}");
    for url in ["http://127.0.0.1:65616/hook", "http://:9000/hook", "file:///tmp/hook"] {
        let (code, out, err) = wabench(&["simulate", "--listen", "127.0.0.1:0", "--webhook-url", url, "--unsigned"]);
        assert_eq!(code, 1, "{url}: {out}{err}");
        assert!(err.contains("--webhook-url") && !out.contains("listening"), "{url}: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let p = common::profile(dir.path(), &cloud_target("embedded"));
    let out = dir.path().join("out");
    let push = "http://127.0.0.1:99999/api/v1/write";
    let (code, _, err) = wabench(&["run", p.to_str().unwrap(), "--out", out.to_str().unwrap(), "--metrics-push", push]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--metrics-push") && err.contains("out of range"), "{err}");
}
