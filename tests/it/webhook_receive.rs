//! The standalone receiver (`wabench receive`), shards that forward their simulator's webhooks to it
//! (`[webhooks] receiver_url`), `wabench merge --webhooks`, and `wabench simulate --webhook-url`.

use std::path::Path;
use std::process::Command;

use wabench::app::receive::{Options as ReceiveOptions, Receiver};
use wabench::app::run::{Options, run_profile};
use wabench::results::{DeliveryStats, Shard};

/// Each test uses its own secret variable: tests run in parallel in one process.
const FWD_SECRET_ENV: &str = "WABENCH_TEST_FWD_SECRET";

fn profile_text(extra_webhooks: &str) -> String {
    format!(
        r#"name = "fwd"
[load]
rate = 120
duration = "1s"
connections = 1
[[targets]]
name = "cloud"
kind = "cloud"
base_url = "embedded"
[simulator]
seed = 3
[simulator.latency]
distribution = "constant"
median = "1ms"
[simulator.service_window]
enabled = false
[simulator.webhooks]
sent = {{ distribution = "constant", median = "5ms" }}
delivered = {{ distribution = "constant", median = "10ms" }}
read_fraction = 0
failed_fraction = 0.25
duplicate_fraction = 0
out_of_order_fraction = 0
delivered_and_failed_fraction = 0
[webhooks]
grace = "10s"
app_secret_env = "{FWD_SECRET_ENV}"
{extra_webhooks}
"#
    )
}

fn load(dir: &Path, name: &str, text: &str) -> wabench::spec::Loaded {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    wabench::spec::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn run(loaded: &wabench::spec::Loaded, out: &Path, shard: Shard) -> wabench::results::Run {
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let opts = Options { out: Some(out.to_path_buf()), shard, report: false, ..Options::new(out.parent().unwrap()) };
    let f = run_profile(loaded, &opts, rx).unwrap();
    assert!(f.error.is_none(), "{:?}", f.error);
    f.run
}

/// The delivery figures that do not depend on timing.
fn counts(d: &DeliveryStats) -> serde_json::Value {
    let mut v = serde_json::to_value(d).unwrap();
    let latency = v.as_object_mut().unwrap().remove("latency_us").unwrap();
    v.as_object_mut().unwrap().remove("histograms");
    // How many latencies were measured is a count too.
    for k in ["accept_to_sent", "accept_to_delivered", "accept_to_read", "send_start_to_delivered"] {
        v[format!("{k}_samples")] = latency[k]["count"].clone();
    }
    v
}

#[test]
fn two_shards_posting_to_one_receiver_merge_into_the_single_process_figures() {
    unsafe { std::env::set_var(FWD_SECRET_ENV, "fwd-test-secret") };
    let dir = tempfile::tempdir().unwrap();

    // The whole profile in one process, with its own receiver.
    let single = load(dir.path(), "single.toml", &profile_text(""));
    let whole = run(&single, &dir.path().join("single"), Shard::default());
    let want = whole.targets[0].delivery.clone().expect("delivery stats of the single run");
    assert!(want.accepted >= 100 && want.messages_failed > 0 && want.messages_delivered > 0, "{want:?}");

    // The same profile in two shards whose simulators post to one standalone receiver.
    let mut ropts = ReceiveOptions::new("127.0.0.1:0".parse().unwrap(), dir.path().join("receiver"));
    ropts.app_secret_env = FWD_SECRET_ENV.into();
    let receiver = Receiver::start(&ropts).unwrap();
    let fwd = load(dir.path(), "fwd.toml", &profile_text(&format!("receiver_url = \"{}\"", receiver.url())));
    let mut parts = Vec::new();
    for i in 0..2 {
        let out = dir.path().join(format!("shard{i}"));
        let r = run(&fwd, &out, Shard { index: i, count: 2 });
        let t = &r.targets[0];
        assert!(t.delivery.is_none(), "a forwarding shard has no receiver of its own");
        let recorded = t.extra.as_ref().unwrap()["webhook_sends"]["sends_recorded"].as_u64();
        assert_eq!(recorded, Some(t.requests.ok), "every accepted send is recorded");
        assert!(out.join("cloud.sends.csv").is_file());
        parts.push(out);
    }
    let summary = receiver.stop().unwrap();
    assert_eq!(summary.requests.bad_signature + summary.requests.missing_signature, 0);
    assert!(summary.statuses_recorded > 0);
    assert!(std::fs::read_dir(dir.path().join("receiver")).unwrap().count() == 2, "statuses and summary");

    let merged_dir = dir.path().join("merged");
    let out = Command::new(env!("CARGO_BIN_EXE_wabench"))
        .arg("merge")
        .args(&parts)
        .arg("--out")
        .arg(&merged_dir)
        .arg("--webhooks")
        .arg(dir.path().join("receiver"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let merged = wabench::results::read_run(&merged_dir).unwrap();
    let got = merged.targets[0].delivery.clone().expect("merged delivery stats");
    assert_eq!(counts(&got), counts(&want), "sharded + receiver + merge = one process");
    assert_eq!(got.lost, 0);
    assert_eq!(got.latency_us.accept_to_delivered.count, got.messages_delivered);
    assert!(got.latency_us.accept_to_delivered.p50 >= 10_000, "{:?}", got.latency_us.accept_to_delivered);
    assert!(merged_dir.join("cloud.delivery.hlog").is_file());
    let hist = wabench::results::hlog::read(&merged_dir.join("cloud.delivery.hlog")).unwrap();
    let delivered = hist.entries.iter().find(|e| e.tag.as_deref() == Some("accept_to_delivered")).unwrap();
    assert_eq!(delivered.histogram.len(), got.messages_delivered);
}

#[test]
fn merge_refuses_webhooks_without_sends() {
    let dir = tempfile::tempdir().unwrap();
    let text = "name = \"p\"\n[load]\nrate = 20\nduration = \"1s\"\n[[targets]]\nname = \"cloud\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n";
    let loaded = load(dir.path(), "p.toml", text);
    let parts: Vec<_> = (0..2)
        .map(|i| {
            let out = dir.path().join(format!("s{i}"));
            run(&loaded, &out, Shard { index: i, count: 2 });
            out
        })
        .collect();
    let receiver = dir.path().join("recv");
    std::fs::create_dir_all(&receiver).unwrap();
    let merge = |hooks: &str| {
        Command::new(env!("CARGO_BIN_EXE_wabench"))
            .arg("merge")
            .args(&parts)
            .args(["--out", &dir.path().join("m").display().to_string(), "--webhooks", hooks])
            .output()
            .unwrap()
    };
    let o = merge(&receiver.display().to_string());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("no target recorded its sends"), "{err}");
    let o = merge(&format!("nope={}", receiver.display()));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("no target \"nope\""), "{err}");
}
