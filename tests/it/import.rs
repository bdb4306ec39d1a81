//! `wabench import`: other tools' results become results folders that `report`, `compare` and `merge`
//! read like a run; bad input gets a located error and leaves nothing behind.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::support::common::wabench;

use wabench::app::import::{self, Format, Request};
use wabench::report::compare;
use wabench::results::folder;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import").join(name)
}

pub fn request(from: Format, files: &[PathBuf], out: &Path) -> Request {
    Request {
        from,
        files: files.to_vec(),
        name: "imported".into(),
        target: None,
        labels: Vec::new(),
        out: Some(out.to_path_buf()),
        results_root: out.parent().unwrap().to_path_buf(),
        unit: None,
    }
}

/// The names in a folder, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

fn count(t: &wabench::results::TargetResult, key: &str) -> u64 {
    t.outcomes.iter().find(|o| o.key == key).map_or(0, |o| o.count)
}

#[test]
fn a_jmeter_jtl_becomes_a_results_folder_per_label() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("onprem-2024");
    let (path, run) = import::import(&request(Format::Jmeter, &[fixture("jmeter.jtl")], &out)).unwrap();
    assert_eq!(path, out);
    let imp = run.imported.as_ref().expect("marked imported");
    assert_eq!((imp.tool.as_str(), imp.per_request), ("jmeter", true));
    assert!(imp.files[0].ends_with("jmeter.jtl"));
    assert!(imp.unavailable.iter().any(|u| u.contains("intended start")), "{:?}", imp.unavailable);
    let names: Vec<&str> = run.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["send_text", "login__admin"]);
    let send = &run.targets[0];
    assert_eq!(send.imported.as_ref().unwrap().label, "send text");
    assert_eq!(send.imported.as_ref().unwrap().latency_from, "send");
    assert_eq!((send.requests.sent, send.requests.ok, send.requests.errors), (9, 6, 3));
    assert_eq!(count(send, "api_1015"), 1, "the saved On-Premises error body gives the code");
    assert_eq!(count(send, "timeout"), 1);
    assert_eq!(count(send, "http_503"), 1);
    assert_eq!(send.url, "https://wa.internal:9090/v1/messages");
    assert_eq!(send.connections, 3, "allThreads at its highest");
    assert_eq!(send.started_at.timestamp(), 1_700_000_000, "the source's own clock");
    // ms → µs exactly: the elapsed values are 0, 58…140 ms and one 10012 ms timeout.
    assert_eq!(send.latency_us.min, 0);
    let max = send.latency_us.max as f64;
    assert!((max / 10_012_000.0 - 1.0).abs() < 0.001, "{:?}", send.latency_us);
    assert_eq!(send.service_time_us, send.latency_us);

    // The folder reads back like a run: per-second histograms and a timeline row for every second.
    let data = folder::load(&out).unwrap();
    let t = &data.targets[0];
    assert_eq!(t.total.len(), 9);
    let seconds: Vec<u64> = t.seconds.iter().map(|s| s.second).collect();
    assert_eq!(seconds, [0, 1, 2, 11], "answers counted in the second they ended");
    assert_eq!(t.timeline.len(), 12);
    let started: Vec<u64> = t.timeline.iter().map(|r| r.started).collect();
    assert_eq!(&started[..3], [3, 3, 3]);
    assert_eq!(t.timeline[1].p50_us, Some(t.seconds[1].histogram.value_at_quantile(0.5)));
    // report and a second target's log work unchanged.
    let page = std::fs::read_to_string(wabench::report::write_report(&out).unwrap()).unwrap();
    assert!(page.contains("<h2>Imported from jmeter</h2>"), "the report says where the figures came from");
    assert!(page.contains("send_text: label \u{201c}send text\u{201d}, latency service time, from the actual send"));
    assert!(page.contains("Latency is as the source measured it"));
    assert!(listing(&out).contains(&"login__admin.hlog".to_string()));
    assert!(!listing(dir.path()).iter().any(|n| n.contains("partial")), "{:?}", listing(dir.path()));
}

/// A JMeter CSV of `secs` seconds at `rate` samples a second, elapsed around `base_ms`.
pub fn synthetic_jtl(path: &Path, secs: u64, rate: u64, base_ms: u64) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(w, "{}", import::jmeter::DEFAULT_COLUMNS.join(",")).unwrap();
    let t0 = 1_700_000_000_000u64;
    for i in 0..secs * rate {
        let ts = t0 + i * 1000 / rate;
        let elapsed = base_ms + (i * 7919 % 97) + if i % 101 == 0 { 5 * base_ms } else { 0 };
        let (code, ok) = if i % 250 == 0 { ("503", "false") } else { ("200", "true") };
        writeln!(
            w,
            "{ts},{elapsed},send,{code},OK,Thread Group 1-{},text,{ok},,412,310,8,8,http://127.0.0.1/v1/messages,{elapsed},0,1",
            i % 8 + 1
        )
        .unwrap();
    }
    w.flush().unwrap();
}

/// A wabench run against the embedded Cloud API simulator: `rate` messages a second for `duration`.
pub fn cloud_run(dir: &Path, rate: u32, duration: &str) -> PathBuf {
    let profile = dir.join("cloud.toml");
    std::fs::write(
        &profile,
        format!(
            "name = \"cloud\"\n[load]\nrate = {rate}\nduration = \"{duration}\"\n[[targets]]\nname = \"cloud\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n"
        ),
    )
    .unwrap();
    let loaded = wabench::load_profile(&profile).unwrap();
    let mut opts = wabench::RunOptions::new(dir.join("results"));
    opts.report = false;
    opts.out = Some(dir.join("cloud"));
    let stop = wabench::Shutdown::new();
    wabench::run_profile(&loaded, &opts, stop).unwrap().dir
}

#[test]
fn compare_gives_intervals_for_an_imported_jmeter_run_against_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let jtl = dir.path().join("onprem.jtl");
    synthetic_jtl(&jtl, 20, 50, 60);
    let onprem = dir.path().join("onprem");
    let mut req = request(Format::Jmeter, &[jtl], &onprem);
    req.target = Some("onprem".into());
    import::import(&req).unwrap();
    let cloud = cloud_run(dir.path(), 50, "4s");
    let cmp = compare::compare_dirs(&[onprem.clone(), cloud]).unwrap();
    let rows = &cmp.rows[0];
    let p50 = rows.iter().find(|r| r.metric.name() == "p50").unwrap();
    let p99 = rows.iter().find(|r| r.metric.name() == "p99").unwrap();
    for r in [p50, p99] {
        let (lo, hi) = r.ci.expect("an interval from the per-second histograms");
        assert!(lo <= r.ratio.unwrap() && r.ratio.unwrap() <= hi, "{r:?}");
    }
    let mut text = Vec::new();
    compare::write_text(&cmp, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(!text.contains("not available"), "{text}");
}

#[test]
fn the_command_line_imports_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("jm");
    let (code, stdout, err) = wabench(&[
        "import",
        "--from",
        "jmeter",
        fixture("jmeter.jtl").to_str().unwrap(),
        "--name",
        "onprem-2024",
        "--label",
        "send text",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("imported: "), "{stdout}");
    let run = wabench::results::read_run(&out).unwrap();
    assert_eq!(run.targets.len(), 1, "--label keeps one label");
    assert!(out.join("report.html").exists());
    let (code, _, err) = wabench(&[
        "import",
        "--from",
        "jmeter",
        fixture("jmeter.jtl").to_str().unwrap(),
        "--name",
        "x",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("already exists"), "{err}");
}

/// Import `text` as `from`; the error, after checking that nothing was left behind.
pub fn import_error(from: Format, name: &str, text: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    std::fs::write(&file, text).unwrap();
    let out = dir.path().join("out");
    let e = import::import(&request(from, &[file], &out)).unwrap_err().to_string();
    assert!(!e.contains("panicked"));
    assert_eq!(listing(dir.path()), [name.to_string()], "nothing half-written");
    e
}

#[test]
fn bad_jmeter_files_get_located_errors() {
    let good = std::fs::read(fixture("jmeter.jtl")).unwrap();
    let cut = &good[..good.len() - 30];
    let e = import_error(Format::Jmeter, "cut.jtl", cut);
    assert!(e.contains("cut.jtl:11:") && e.contains("truncated"), "{e}");
    let e = import_error(Format::Jmeter, "order.csv", b"1700000000100,62,200,send,true\n");
    assert!(e.contains("order.csv:1:") && e.contains("default column order"), "{e}");
    let e = import_error(Format::Jmeter, "k6.json", b"{\"type\":\"Point\",\"data\":{},\"metric\":\"vus\"}\n");
    assert!(e.contains("k6.json:1:"), "{e}");
    let e = import_error(
        Format::Jmeter,
        "bad.jtl",
        b"timeStamp,elapsed,label,responseCode,success\n1700000000100,62,a,200,true\n1700000000200,fast,a,200,true\n",
    );
    assert!(e.contains("bad.jtl:3:") && e.contains("elapsed \"fast\""), "{e}");
    let e = import_error(Format::Jmeter, "empty.jtl", b"");
    assert!(e.contains("empty.jtl") && e.contains("empty"), "{e}");
}

#[test]
fn samples_far_out_of_time_order_are_refused_not_misfiled() {
    let mut text = String::from("timeStamp,elapsed,label,responseCode,success\n");
    for s in 0..400u64 {
        text.push_str(&format!("{},50,a,200,true\n", 1_700_000_000_000 + s * 1000));
    }
    text.push_str("1700000000500,50,a,200,true\n");
    let e = import_error(Format::Jmeter, "late.jtl", text.as_bytes());
    assert!(e.contains("late.jtl:402:") && e.contains("not in time order"), "{e}");
}

#[test]
fn a_large_jtl_streams_through() {
    // ~50 MB: 480,000 samples over 8 minutes at 1,000/s, written and read in a temporary folder.
    let dir = tempfile::tempdir().unwrap();
    let jtl = dir.path().join("big.jtl");
    synthetic_jtl(&jtl, 480, 1000, 40);
    let size = std::fs::metadata(&jtl).unwrap().len();
    assert!(size > 45_000_000, "{size}");
    let out = dir.path().join("big");
    let (_, run) = import::import(&request(Format::Jmeter, &[jtl], &out)).unwrap();
    let t = &run.targets[0];
    assert_eq!(t.requests.sent, 480_000);
    assert_eq!(t.requests.errors, 1920);
    let data = folder::load(&out).unwrap();
    assert_eq!(data.targets[0].timeline.len(), 481);
    assert_eq!(data.targets[0].total.len(), 480_000);
}

#[test]
fn a_jmeter_xml_jtl_imports_with_sub_samples_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("xml");
    let (_, run) = import::import(&request(Format::Jmeter, &[fixture("jmeter.xml")], &out)).unwrap();
    let names: Vec<&str> = run.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["send_text", "login__admin"], "sub-samples (send text-0, -1) are not targets");
    let send = &run.targets[0];
    assert_eq!((send.requests.sent, send.requests.ok), (4, 2));
    assert_eq!(count(send, "api_1015"), 1, "the WhatsApp code from the saved responseData");
    assert_eq!(count(send, "timeout"), 1);
    assert_eq!((send.url.as_str(), send.connections), ("https://wa.internal:9090/v1/messages", 3));
    let xml = std::fs::read(fixture("jmeter.xml")).unwrap();
    let e = import_error(Format::Jmeter, "cut.xml", &xml[..xml.len() - 200]);
    assert!(e.contains("cut.xml:") && e.contains("truncated"), "{e}");
}
