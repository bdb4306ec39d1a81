//! Independent readers of what wabench writes, in Python: the maintained third-party parsers of each
//! format (`junitparser` for JUnit XML, `prometheus_client` for the exposition formats, `cramjam` and
//! `protobuf` for remote-write). `.ci/run` installs them; without `python3` or a package the check is
//! skipped with a note naming what is missing.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

/// What `script` prints (one JSON document) for `input` on its standard input, or `None` when
/// `python3` or a module the script imports is missing. The script prints `SKIP <why>` on an
/// `ImportError`.
pub fn read_with(script: &str, input: &[u8], what: &str) -> Option<Value> {
    let child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        println!("note: python3 not found; skipping the {what} check");
        return None;
    };
    // A script that fails early closes its input; its error is what the assertion below shows.
    let _ = child.stdin.take().unwrap().write_all(input);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if let Some(why) = stdout.strip_prefix("SKIP") {
        println!("note: {} is not installed; skipping the {what} check", why.trim());
        return None;
    }
    assert!(out.status.success(), "the {what} check failed:\n{}", String::from_utf8_lossy(&out.stderr));
    Some(serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{what}: {e}\n{stdout}")))
}

/// A JUnit XML file as `junitparser` reads it: `{"tests", "failures", "errors", "suites": [{"name",
/// "tests", "failures", "time", "properties": {name: value}, "cases": [{"name", "classname",
/// "result": [{"kind", "message", "text"}], "system_out"}]}]}`.
pub fn junit(xml: &[u8]) -> Option<Value> {
    const SCRIPT: &str = r#"
import json, sys, tempfile
try:
    from junitparser import JUnitXml, TestSuite
except ImportError as e:
    print("SKIP junitparser (" + str(e) + ")")
    sys.exit(0)
with tempfile.NamedTemporaryFile(suffix=".xml") as f:
    f.write(sys.stdin.buffer.read())
    f.flush()
    xml = JUnitXml.fromfile(f.name)
suites = [xml] if isinstance(xml, TestSuite) else list(xml)
out = {"tests": xml.tests, "failures": xml.failures, "errors": xml.errors, "suites": []}
for s in suites:
    cases = [{"name": c.name, "classname": c.classname, "system_out": c.system_out,
              "result": [{"kind": type(r).__name__, "message": r.message, "text": r.text} for r in c.result]}
             for c in s]
    out["suites"].append({"name": s.name, "tests": s.tests, "failures": s.failures, "time": s.time,
                          "properties": {p.name: p.value for p in s.properties()}, "cases": cases})
print(json.dumps(out))
"#;
    read_with(SCRIPT, xml, "JUnit (junitparser)")
}
