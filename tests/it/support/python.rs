//! Independent readers of what wabench writes, in Python: the maintained third-party parsers of each
//! format (`junitparser` for JUnit XML, `prometheus_client` for the exposition formats, `cramjam` and
//! `protobuf` for remote-write, `opentelemetry-proto` for OTLP trace exports). `.ci/run` installs
//! them; without `python3` or a package the check is skipped with a note naming what is missing.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

/// What `script` prints for `input` on its standard input, or `None` (with a note) when `python3` or a
/// module the script imports is missing: the script then prints `SKIP <what is missing>`.
pub fn output(script: &str, input: &[u8], what: &str) -> Option<String> {
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
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if let Some(why) = stdout.strip_prefix("SKIP") {
        println!("note: {}; skipping the {what} check", why.trim());
        return None;
    }
    assert!(out.status.success(), "the {what} check failed:\n{}", String::from_utf8_lossy(&out.stderr));
    Some(stdout)
}

/// What `script` prints (one JSON document) for `input`, or `None` as for [`output`].
pub fn read_with(script: &str, input: &[u8], what: &str) -> Option<Value> {
    let stdout = output(script, input, what)?;
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
    print("SKIP junitparser is not installed (" + str(e) + ")")
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

/// Remote-write bodies as `cramjam` (snappy, block format) and `protobuf` (with the messages of
/// Prometheus' `prompb/types.proto` and `remote.proto` declared here) decode them, one entry per body:
/// `{"series": [[[name, value], …labels], [[value, timestamp_ms], …samples], [[{label: value}, value,
/// timestamp_ms], …exemplars]], "metadata": {family: [type, help]}}`. Fails on a field the schema does
/// not have.
pub fn remote_write(bodies: &[Vec<u8>]) -> Option<Value> {
    const SCRIPT: &str = r#"
import json, sys
try:
    import cramjam
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from google.protobuf.unknown_fields import UnknownFieldSet
except ImportError as e:
    print("SKIP cramjam or protobuf is not installed (" + str(e) + ")")
    sys.exit(0)
F = descriptor_pb2.FieldDescriptorProto
f = descriptor_pb2.FileDescriptorProto(name="prompb.proto", package="prometheus", syntax="proto3")
def message(name, *fields):
    m = f.message_type.add(name=name)
    for number, field, kind, of in fields:
        d = m.field.add(name=field, number=number, type=kind,
                        label=F.LABEL_REPEATED if of and kind == F.TYPE_MESSAGE else F.LABEL_OPTIONAL)
        if of:
            d.type_name = ".prometheus." + of
    return m
message("Label", (1, "name", F.TYPE_STRING, None), (2, "value", F.TYPE_STRING, None))
message("Sample", (1, "value", F.TYPE_DOUBLE, None), (2, "timestamp", F.TYPE_INT64, None))
message("Exemplar", (1, "labels", F.TYPE_MESSAGE, "Label"), (2, "value", F.TYPE_DOUBLE, None),
        (3, "timestamp", F.TYPE_INT64, None))
message("TimeSeries", (1, "labels", F.TYPE_MESSAGE, "Label"), (2, "samples", F.TYPE_MESSAGE, "Sample"),
        (3, "exemplars", F.TYPE_MESSAGE, "Exemplar"))
meta = message("MetricMetadata", (1, "type", F.TYPE_ENUM, "MetricMetadata.MetricType"),
               (2, "metric_family_name", F.TYPE_STRING, None), (4, "help", F.TYPE_STRING, None),
               (5, "unit", F.TYPE_STRING, None))
kinds = meta.enum_type.add(name="MetricType")
for i, n in enumerate(["UNKNOWN", "COUNTER", "GAUGE", "HISTOGRAM", "GAUGEHISTOGRAM", "SUMMARY", "INFO", "STATESET"]):
    kinds.value.add(name=n, number=i)
message("WriteRequest", (1, "timeseries", F.TYPE_MESSAGE, "TimeSeries"), (3, "metadata", F.TYPE_MESSAGE, "MetricMetadata"))
pool = descriptor_pool.DescriptorPool()
pool.Add(f)
WriteRequest = message_factory.GetMessageClass(pool.FindMessageTypeByName("prometheus.WriteRequest"))
def known(m):
    assert len(UnknownFieldSet(m)) == 0, "fields outside the schema in " + type(m).__name__
    return m
out = []
for line in sys.stdin:
    req = known(WriteRequest.FromString(bytes(cramjam.snappy.decompress_raw(bytes.fromhex(line.strip())))))
    out.append({
        "series": [[[[known(l).name, l.value] for l in known(ts).labels], [[known(s).value, s.timestamp] for s in ts.samples],
                    [[{l.name: l.value for l in known(e).labels}, e.value, e.timestamp] for e in ts.exemplars]]
                   for ts in req.timeseries],
        "metadata": {known(m).metric_family_name: [m.type, m.help] for m in req.metadata},
    })
print(json.dumps(out))
"#;
    let input: String = bodies.iter().map(|b| hex::encode(b) + "\n").collect();
    read_with(SCRIPT, input.as_bytes(), "remote-write (cramjam and protobuf)")
}

/// Two scrapes of `/metrics` as the Prometheus project's Python client parses them: `text` in the
/// Prometheus text format 0.0.4, `openmetrics` with its strict OpenMetrics 1.0 parser. For each:
/// `{"types": {family: type}, "samples": [[name, {label: value}, value]]}`, and OpenMetrics'
/// exemplars as `"exemplars": [[sample name, {label: value}, {exemplar label: value}, value, timestamp]]`.
pub fn exposition(text: &str, openmetrics: &str) -> Option<Value> {
    const SCRIPT: &str = r#"
import json, sys
try:
    from prometheus_client.parser import text_string_to_metric_families
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
except ImportError as e:
    print("SKIP prometheus_client is not installed (" + str(e) + ")")
    sys.exit(0)
def read(families):
    types, samples = {}, []
    for f in families:
        assert f.name not in types, "a family twice: " + f.name
        types[f.name] = f.type
        samples += [[s.name, s.labels, s.value] for s in f.samples]
    return {"types": types, "samples": samples}
def exemplars(families):
    stamp = lambda t: None if t is None else float(t)
    return [[s.name, s.labels, s.exemplar.labels, s.exemplar.value, stamp(s.exemplar.timestamp)]
            for f in families for s in f.samples if s.exemplar is not None]
doc = json.load(sys.stdin)
om = list(openmetrics_families(doc["openmetrics"]))
print(json.dumps({"text": read(text_string_to_metric_families(doc["text"])),
                  "openmetrics": read(om), "exemplars": exemplars(om)}))
"#;
    let input = serde_json::json!({"text": text, "openmetrics": openmetrics});
    read_with(SCRIPT, input.to_string().as_bytes(), "exposition (prometheus_client)")
}

/// OTLP/HTTP trace export bodies (`ExportTraceServiceRequest`, protobuf) as the OpenTelemetry
/// project's Python classes (`opentelemetry-proto`) read them: per body, per span,
/// `{"service", "scope", "name", "kind", "trace_id", "span_id", "flags", "start", "end", "status",
/// "attributes": {key: value}}` (ids in hex). A field outside the messages fails the check.
pub fn otlp_traces(bodies: &[Vec<u8>]) -> Option<Value> {
    const SCRIPT: &str = r#"
import json, sys
try:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from google.protobuf.unknown_fields import UnknownFieldSet
except ImportError as e:
    print("SKIP opentelemetry-proto is not installed (" + str(e) + ")")
    sys.exit(0)
def known(m):
    assert len(UnknownFieldSet(m)) == 0, "fields outside " + m.DESCRIPTOR.full_name
    return m
def value(v):
    kind = known(v).WhichOneof("value")
    return getattr(v, kind)
out = []
for line in sys.stdin:
    req = known(ExportTraceServiceRequest.FromString(bytes.fromhex(line.strip())))
    spans = []
    for rs in req.resource_spans:
        attrs = {a.key: value(a.value) for a in known(known(rs).resource).attributes}
        for ss in rs.scope_spans:
            for s in known(ss).spans:
                spans.append({"service": attrs.get("service.name"), "scope": ss.scope.name, "name": known(s).name,
                              "kind": s.kind, "trace_id": s.trace_id.hex(), "span_id": s.span_id.hex(),
                              "flags": s.flags, "start": s.start_time_unix_nano, "end": s.end_time_unix_nano,
                              "status": s.status.code,
                              "attributes": {a.key: value(a.value) for a in s.attributes}})
    out.append(spans)
print(json.dumps(out))
"#;
    let input: String = bodies.iter().map(|b| hex::encode(b) + "\n").collect();
    read_with(SCRIPT, input.as_bytes(), "OTLP traces (opentelemetry-proto)")
}
