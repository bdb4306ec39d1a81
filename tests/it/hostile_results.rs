//! Results folders that lie or never end: every reader refuses them with the file and the reason, in
//! bounded time and memory, and no gate passes on what could not be read.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::support::{common::wabench, fixture};

fn base() -> wabench::results::TargetData {
    let mut spec = fixture::Spec::new("cloud", 100_000);
    spec.errors = vec![(97, "http_503")];
    fixture::target(&spec)
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Run wabench, killed after `limit`: its exit code (None: it had to be killed) and stderr.
fn wabench_within(args: &[String], limit: Duration) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wabench"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wabench");
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().expect("stderr"), &mut err).expect("stderr");
            return (status.code(), err);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    (None, String::new())
}

#[test]
fn a_zero_filled_interval_log_fails_a_comparison_gate() {
    let root = tempfile::tempdir().unwrap();
    let a = fixture::folder(root.path(), "a", &base());
    let b = fixture::folder(root.path(), "b", &base());
    let c = fixture::folder(root.path(), "c", &base());
    for zeros in [4096usize, 200_000] {
        std::fs::write(c.join("cloud.hlog"), vec![0u8; zeros]).unwrap();
        // Two folders, one unreadable: nothing to compare.
        let (code, _, err) =
            wabench(&["compare", "--results", &s(root.path()), &s(&a), &s(&c), "--fail-if", "p99 > 1.10"]);
        assert_ne!(code, 0, "{err}");
        assert!(err.contains("cloud.hlog") && err.contains("not text"), "{err}");
        // Three folders, one unreadable: the gate cannot judge it, so it does not pass.
        let (code, _, err) =
            wabench(&["compare", "--results", &s(root.path()), &s(&a), &s(&b), &s(&c), "--fail-if", "p99 > 1.10"]);
        assert_ne!(code, 0, "{err}");
        assert!(err.contains(&s(&c.join("cloud.hlog"))) && err.contains("--fail-if"), "{err}");
    }
    // An emptied log (its header kept) while run.json counts latencies: refused too.
    let mut header = Vec::new();
    wabench::results::hlog::write_tagged(&mut header, std::time::UNIX_EPOCH, "emptied", &[]).unwrap();
    std::fs::write(c.join("cloud.hlog"), header).unwrap();
    let (code, _, err) =
        wabench(&["compare", "--results", &s(root.path()), &s(&a), &s(&b), &s(&c), "--fail-if", "p99 > 1.10"]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("no latency in the interval log"), "{err}");
    // The same gate on readable folders still passes.
    let (code, _, err) = wabench(&["compare", "--results", &s(root.path()), &s(&a), &s(&b), "--fail-if", "p99 > 1.10"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn an_endless_interval_log_is_refused_within_seconds() {
    let root = tempfile::tempdir().unwrap();
    let a = fixture::folder(root.path(), "a", &base());
    let b = fixture::folder(root.path(), "b", &base());
    let fifo = root.path().join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    for endless in [PathBuf::from("/dev/zero"), fifo] {
        std::fs::remove_file(b.join("cloud.hlog")).unwrap();
        std::os::unix::fs::symlink(&endless, b.join("cloud.hlog")).unwrap();
        let merged = root.path().join("merged");
        for args in [
            vec!["report".to_string(), s(&b)],
            vec![
                "compare".into(),
                "--results".into(),
                s(root.path()),
                s(&a),
                s(&b),
                "--fail-if".into(),
                "p99 > 1.10".into(),
            ],
            vec!["merge".into(), s(&a), s(&b), "--out".into(), s(&merged)],
        ] {
            let (code, err) = wabench_within(&args, Duration::from_secs(20));
            assert!(code.is_some(), "{args:?} on {} did not end", endless.display());
            assert_eq!(code, Some(1), "{args:?}: {err}");
            assert!(err.contains("cloud.hlog") && err.contains("not a regular file"), "{args:?}: {err}");
        }
        assert!(!merged.exists(), "a failed merge leaves no folder");
    }
}

#[test]
fn the_same_folder_twice_is_not_merged() {
    let root = tempfile::tempdir().unwrap();
    let a = fixture::folder(root.path(), "a", &base());
    let merged = root.path().join("merged");
    let (code, _, err) = wabench(&["merge", &s(&a), &s(&a), "--out", &s(&merged)]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("given again") && err.contains("twice"), "{err}");
    // By another path, and as a copy.
    let other = format!("{}/../a/.", s(&a));
    let (code, _, err) = wabench(&["merge", &s(&a), &other, "--out", &s(&merged)]);
    assert!(code == 1 && err.contains("given again"), "{err}");
    let copy = root.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    for e in std::fs::read_dir(&a).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
    }
    let (code, _, err) = wabench(&["merge", &s(&a), &s(&copy), "--out", &s(&merged)]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("the same run") && err.contains(&s(&copy)), "{err}");
    assert!(!merged.exists());
    // A shard beside a whole run cannot be a part of it.
    let b = fixture::folder(root.path(), "b", &base());
    let mut run = wabench::read_run(&b).unwrap();
    run.shard = Some(wabench::results::Shard { index: 0, count: 2 });
    wabench::results::write_run(&b, &run).unwrap();
    let (code, _, err) = wabench(&["merge", &s(&a), &s(&b), "--out", &s(&merged)]);
    assert!(code == 1 && err.contains("cannot be parts of one run"), "{err}");
    assert!(!merged.exists());
}

#[test]
fn an_impossible_duration_is_a_located_error_and_leaves_no_folder() {
    let root = tempfile::tempdir().unwrap();
    let a = fixture::folder(root.path(), "a", &base());
    let b = fixture::folder(root.path(), "b", &base());
    let text = std::fs::read_to_string(b.join("run.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["targets"][0]["duration_s"] = serde_json::json!(1e308);
    std::fs::write(b.join("run.json"), serde_json::to_vec(&v).unwrap()).unwrap();
    let merged = root.path().join("out").join("merged");
    let (code, _, err) = wabench(&["merge", &s(&a), &s(&b), "--out", &s(&merged)]);
    assert_eq!(code, 1, "an error, not a crash: {err}");
    assert!(err.contains(&s(&b.join("run.json"))) && err.contains("duration_s") && err.contains("1e308"), "{err}");
    assert!(!merged.exists(), "no output folder");
    let (code, _, err) = wabench(&["report", &s(&b)]);
    assert!(code == 1 && err.contains("duration_s"), "{err}");
    // A failure after the parts were read (a delivery log that is not one) leaves nothing either.
    std::fs::write(b.join("run.json"), text).unwrap();
    std::fs::write(b.join("cloud.totals.hlog"), b"Tag=latency,0.000,1.000,0.1,bm90IGEgaGlzdG9ncmFt\n").unwrap();
    let (code, _, err) = wabench(&["merge", &s(&a), &s(&b), "--out", &s(&merged)]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cloud.totals.hlog") && err.contains("line 1"), "{err}");
    assert!(!merged.exists());
    let left: Vec<_> = std::fs::read_dir(merged.parent().unwrap()).unwrap().collect();
    assert!(left.is_empty(), "no temporary folder left: {left:?}");
}

#[test]
fn ten_megabytes_of_garbage_are_refused_quickly() {
    let root = tempfile::tempdir().unwrap();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let garbage: Vec<u8> = (0..10 << 20)
        .map(|_| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng as u8
        })
        .collect();
    let p = root.path().join("g");
    std::fs::write(&p, &garbage).unwrap();
    let t0 = Instant::now();
    assert!(wabench::results::hlog::read(&p).is_err());
    assert!(wabench::read_run(&p).is_err());
    assert!(wabench::webhook::record::read_statuses(&p).is_err());
    let newlines: Vec<u8> = garbage.iter().map(|b| if b % 50 == 0 { b'\n' } else { *b }).collect();
    std::fs::write(&p, &newlines).unwrap();
    assert!(wabench::results::hlog::read(&p).is_err());
    assert!(wabench::results::timeline::parse(&String::from_utf8_lossy(&newlines)).is_err());
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any bytes as any file of a results folder: an error or a reading, never a panic.
    #[test]
    fn readers_never_panic_on_arbitrary_files(bytes in prop::collection::vec(any::<u8>(), 0..2048), which in 0usize..4) {
        let root = tempfile::tempdir().unwrap();
        let dir = fixture::folder(root.path(), "a", &base());
        let file = ["run.json", "cloud.hlog", "timeline.csv", "cloud.totals.hlog"][which];
        std::fs::write(dir.join(file), &bytes).unwrap();
        let _ = wabench::results::folder::load(&dir);
        let _ = wabench::results::folder::load_blocked(&dir, 10);
        let _ = wabench::results::hlog::read(&dir.join(file));
        let _ = wabench::webhook::record::read_statuses(&dir.join(file)).map(|r| r.take(100).count());
    }

    /// Huge and impossible numbers in run.json are refused by field, never a panic.
    #[test]
    fn run_json_numbers_out_of_range_are_refused(v in prop_oneof![Just(1e308), Just(-1.0), Just(f64::MAX), any::<f64>()]) {
        let root = tempfile::tempdir().unwrap();
        let dir = fixture::folder(root.path(), "a", &base());
        let text = std::fs::read_to_string(dir.join("run.json")).unwrap();
        let mut j: serde_json::Value = serde_json::from_str(&text).unwrap();
        j["targets"][0]["duration_s"] = serde_json::json!(v);
        std::fs::write(dir.join("run.json"), serde_json::to_vec(&j).unwrap()).unwrap();
        match wabench::read_run(&dir) {
            Ok(r) => prop_assert!((0.0..=wabench::results::MAX_DURATION_S).contains(&r.targets[0].duration_s)),
            Err(e) => prop_assert!(e.to_string().contains("run.json"), "{}", e),
        }
    }
}
