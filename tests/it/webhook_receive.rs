//! The standalone receiver (`wabench receive`), shards that forward their simulator's webhooks to it
//! (`[webhooks] receiver_url`), `wabench merge --webhooks`, and `wabench simulate --webhook-url`.

use std::path::Path;
use std::process::Command;

use wabench::app::receive::{Options as ReceiveOptions, Receiver};
use wabench::app::run::{Options, run_profile};
use wabench::results::{DeliveryStats, Shard};

/// Each test uses its own secret variable: tests run in parallel in one process.
const FWD_SECRET_ENV: &str = "WABENCH_TEST_FWD_SECRET";
const FWD_SECRET: &str = "fwd-test-secret";

/// The `[webhooks]` line naming a file that holds the shared secret (written in `dir`): the runs read
/// it there, and the receivers are given the variable, so no test changes the process environment.
fn secret_file(dir: &Path) -> String {
    let path = dir.join("fwd.secret");
    std::fs::write(&path, FWD_SECRET).unwrap();
    format!("app_secret_file = '{}'", path.display())
}

/// The environment of a receiver: the process's, with `name` set to `value`.
fn env_with(name: &str, value: &str) -> wabench::units::Env {
    wabench::units::Env::default().with(name, value)
}

fn profile_text(extra_webhooks: &str) -> String {
    format!(
        r#"name = "fwd"
[load]
rate = 120
duration = "1s"
# One connection: requests reach the simulator in the plan's order. Nothing dropped or cancelled on a
# busy machine: every planned request is sent, in both runs.
connections = 1
max_in_flight = 1000
drain = "60s"
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
# A quarter of the messages fail in webhooks, below this bound.
[thresholds]
"error_rate" = "< 40%"
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
    let rx = wabench::Shutdown::new();
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
    // Whether a status overtook its send's answer (early, and so out of order) depends on scheduling:
    // the simulator posts `sent` 5 ms after the answer, which a busy machine can deliver late.
    v.as_object_mut().unwrap().remove("early_statuses");
    v.as_object_mut().unwrap().remove("out_of_order");
    // How many latencies were measured is a count too.
    for k in ["accept_to_sent", "accept_to_delivered", "accept_to_read", "send_start_to_delivered"] {
        v[format!("{k}_samples")] = latency[k]["count"].clone();
    }
    v
}

#[test]
fn two_shards_posting_to_one_receiver_merge_into_the_single_process_figures() {
    let dir = tempfile::tempdir().unwrap();
    let secret = secret_file(dir.path());

    // The whole profile in one process, with its own receiver.
    let single = load(dir.path(), "single.toml", &profile_text(&secret));
    let whole = run(&single, &dir.path().join("single"), Shard::default());
    let want = whole.targets[0].delivery.clone().expect("delivery stats of the single run");
    assert!(want.accepted >= 100 && want.messages_failed > 0 && want.messages_delivered > 0, "{want:?}");

    // The same profile in two shards whose simulators post to one standalone receiver.
    let mut ropts = ReceiveOptions::new("127.0.0.1:0".parse().unwrap(), dir.path().join("receiver"));
    ropts.app_secret_env = FWD_SECRET_ENV.into();
    ropts.env = env_with(FWD_SECRET_ENV, FWD_SECRET);
    let receiver = Receiver::start(&ropts).unwrap();
    // The shards as a user runs them: `wabench run --shard i/2`, pointed at the receiver with --set.
    let fwd = dir.path().join("fwd.toml");
    std::fs::write(&fwd, profile_text(&secret)).unwrap();
    let mut parts = Vec::new();
    for i in 0..2 {
        let out = dir.path().join(format!("shard{i}"));
        let o = Command::new(env!("CARGO_BIN_EXE_wabench"))
            .args(["run", &fwd.display().to_string(), "--quiet", "--no-report", "--shard", &format!("{i}/2")])
            .args(["--set", &format!("webhooks.receiver_url={}", receiver.url()), "--out", &out.display().to_string()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let r = wabench::results::read_run(&out).unwrap();
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
    // A quarter of the messages failed: their statuses are listed beside the records.
    let failures = summary.failures_file.as_deref().expect("failed statuses are listed");
    assert!(dir.path().join("receiver").join(failures).is_file());
    assert!(std::fs::read_dir(dir.path().join("receiver")).unwrap().count() == 3, "statuses, failures and summary");

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

const RECV_SECRET_ENV: &str = "WABENCH_TEST_RECV_SECRET";
const RECV_TOKEN_ENV: &str = "WABENCH_TEST_RECV_TOKEN";
const RECV_SECRET: &str = "recv-test-secret";

/// A self-signed certificate for 127.0.0.1, written as PEM files; a client trusting it.
fn tls_files(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, reqwest::Client) {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ck.cert.der().clone()).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let client = reqwest::Client::builder().use_preconfigured_tls(tls).no_proxy().build().unwrap();
    (cert, key, client)
}

fn statuses_body(n: usize) -> Vec<u8> {
    use wabench::webhook::{Status, StatusError, StatusKind, cloud_envelope};
    let delivered = Status::new(format!("wamid.ok{n}"), StatusKind::Delivered, 1_700_000_000, "1555");
    let failed = Status::new(format!("wamid.bad{n}"), StatusKind::Failed, 1_700_000_001, "1555")
        .with_error(StatusError::new(131026, "Message undeliverable"));
    serde_json::to_vec(&cloud_envelope("1", "2", "3", vec![delivered, failed])).unwrap()
}

#[test]
fn a_flooded_https_receiver_refuses_bad_posts_and_records_every_good_one() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, client) = tls_files(dir.path());
    let mut opts = ReceiveOptions::new("127.0.0.1:0".parse().unwrap(), dir.path().join("recv"));
    opts.tls = Some((cert, key));
    opts.app_secret_env = RECV_SECRET_ENV.into();
    opts.verify_token_env = RECV_TOKEN_ENV.into();
    opts.env = env_with(RECV_SECRET_ENV, RECV_SECRET).with(RECV_TOKEN_ENV, "tok-123");
    opts.max_body = 4096;
    let receiver = Receiver::start(&opts).unwrap();
    let url = receiver.url();
    assert!(url.starts_with("https://127.0.0.1:") && url.ends_with("/webhook"), "{url}");

    const GOOD: usize = 60;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let answers: Vec<(&str, u16)> = rt.block_on(async {
        // The subscription handshake: the challenge back for the right token only.
        let hs = |token: &str| format!("{url}?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=4711");
        let ok = client.get(hs("tok-123")).send().await.unwrap();
        assert_eq!(ok.status(), 200);
        assert_eq!(ok.text().await.unwrap(), "4711");
        assert_eq!(client.get(hs("wrong")).send().await.unwrap().status(), 403);

        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..GOOD {
            // Per good post, four bad ones: unsigned, wrongly signed, oversized, malformed.
            let posts: [(&str, Vec<u8>, Option<String>); 5] = [
                ("good", statuses_body(n), None),
                ("unsigned", statuses_body(1000 + n), Some(String::new())),
                ("bad_signature", statuses_body(2000 + n), Some(wabench::webhook::sign(b"other", b"x"))),
                ("too_large", vec![b' '; 5000], None),
                ("malformed", b"{\"object\":\"whatsapp_business_account\",\"entry\":".to_vec(), None),
            ];
            for (what, body, header) in posts {
                let (client, url) = (client.clone(), url.clone());
                tasks.spawn(async move {
                    let mut req = client.post(&url).header("content-type", "application/json");
                    match header {
                        Some(h) if h.is_empty() => {}
                        Some(h) => req = req.header("x-hub-signature-256", h),
                        None => {
                            req =
                                req.header("x-hub-signature-256", wabench::webhook::sign(RECV_SECRET.as_bytes(), &body))
                        }
                    }
                    (what, req.body(body).send().await.map(|r| r.status().as_u16()).unwrap_or(0))
                });
            }
        }
        let mut out = Vec::new();
        while let Some(r) = tasks.join_next().await {
            out.push(r.unwrap());
        }
        out
    });
    let expect = [("good", 200), ("unsigned", 401), ("bad_signature", 403), ("too_large", 413), ("malformed", 400)];
    for (what, code) in expect {
        let got: Vec<u16> = answers.iter().filter(|(w, _)| *w == what).map(|(_, c)| *c).collect();
        assert_eq!(got.len(), GOOD, "{what}");
        assert!(got.iter().all(|c| *c == code), "{what}: expected {code}, got {got:?}");
    }

    let summary = receiver.stop().unwrap();
    let q = &summary.requests;
    assert_eq!((q.received, q.missing_signature, q.bad_signature), (GOOD as u64, GOOD as u64, GOOD as u64));
    assert_eq!((q.too_large, q.malformed, q.handshakes_ok, q.handshakes_refused), (GOOD as u64, GOOD as u64, 1, 1));
    assert_eq!(summary.statuses_recorded, 2 * GOOD as u64);
    // Exactly the good posts' statuses are on disk, with their error codes.
    let file = dir.path().join("recv").join(&summary.statuses_file);
    let records: Vec<_> = wabench::webhook::record::read_statuses(&file).unwrap().map(Result::unwrap).collect();
    let mut ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
    ids.sort();
    let mut want: Vec<String> = (0..GOOD).flat_map(|n| [format!("wamid.ok{n}"), format!("wamid.bad{n}")]).collect();
    want.sort();
    assert_eq!(ids, want);
    for r in &records {
        let failed = r.id.starts_with("wamid.bad");
        assert_eq!(r.error_code, failed.then_some(131026), "{r:?}");
        assert_eq!(r.timestamp, if failed { "1700000001" } else { "1700000000" });
    }
    // The summary names the file and reads back.
    let rec = wabench::app::receive::recorded(&dir.path().join("recv")).unwrap();
    assert_eq!((rec.statuses.len(), rec.summaries), (1, 1));
}

#[test]
fn receiver_settings_are_checked_before_listening() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = ReceiveOptions::new("127.0.0.1:0".parse().unwrap(), dir.path().join("r"));
    opts.app_secret_env = "WABENCH_TEST_RECV_UNSET_SECRET".into();
    let e = Receiver::start(&opts).err().unwrap();
    assert!(e.contains("--app-secret-env") && e.contains("WABENCH_TEST_RECV_UNSET_SECRET"), "{e}");
    assert!(e.contains("--no-signature"), "{e}");
    opts.verify_signature = false;
    opts.tls = Some((dir.path().join("none.pem"), dir.path().join("none.key")));
    let e = Receiver::start(&opts).err().unwrap();
    assert!(e.contains("--tls-cert") && e.contains("none.pem"), "{e}");
    assert!(!dir.path().join("r").exists(), "nothing written for a receiver that did not start");
}

/// An HTTP client (reqwest needs a TLS provider even for plain HTTP).
fn plain_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Wait (bounded) until `done` holds.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !done() {
        assert!(std::time::Instant::now() < until, "gave up waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The first line the child prints, and the child.
fn spawn_wabench(args: &[&str], env: &[(&str, &str)]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wabench"));
    cmd.args(args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    (child, line)
}

#[test]
fn the_standalone_simulator_posts_statuses_and_inbound_messages_to_any_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = ReceiveOptions::new("127.0.0.1:0".parse().unwrap(), dir.path().join("recv"));
    opts.app_secret_env = "WABENCH_TEST_SIMPOST_SECRET".into();
    opts.env = env_with("WABENCH_TEST_SIMPOST_SECRET", "simpost-secret");
    let receiver = Receiver::start(&opts).unwrap();
    let profile = dir.path().join("sim.toml");
    std::fs::write(
        &profile,
        "name = \"sim\"\n[load]\nrate = 1\nduration = \"1s\"\n[[targets]]\nname = \"t\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n\
         [simulator.latency]\ndistribution = \"constant\"\nmedian = \"1ms\"\n[simulator.webhooks]\n\
         sent = { distribution = \"constant\", median = \"5ms\" }\ndelivered = { distribution = \"constant\", median = \"5ms\" }\n\
         read_fraction = 0\nduplicate_fraction = 0\nout_of_order_fraction = 0\ndelivered_and_failed_fraction = 0\n[simulator.service_window]\nenabled = false\n",
    )
    .unwrap();
    let url = receiver.url();
    let (mut child, line) = spawn_wabench(
        &[
            "simulate",
            "--listen",
            "127.0.0.1:0",
            "--profile",
            &profile.display().to_string(),
            "--webhook-url",
            &url,
            "--app-secret-env",
            "SIM_SECRET",
            "--inbound-rate",
            "50",
            "--threads",
            "1",
        ],
        &[("SIM_SECRET", "simpost-secret")],
    );
    let addr =
        line.split("http://").nth(1).and_then(|s| s.split_whitespace().next()).unwrap_or_else(|| panic!("{line}"));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let sent = rt.block_on(async {
        let body = serde_json::json!({"messaging_product": "whatsapp", "to": "15551234567", "type": "text", "text": {"body": "hi"}});
        let r = plain_client()
            .post(format!("http://{addr}/v23.0/100000000000001/messages"))
            .bearer_auth(wabench::spec::sim::TEST_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        v["messages"][0]["id"].as_str().unwrap().to_string()
    });
    wait_for("the message's sent and delivered statuses and 3 inbound messages", || {
        let (statuses, inbound) = receiver.progress();
        statuses >= 2 && inbound >= 3
    });
    child.kill().unwrap();
    let _ = child.wait();
    let summary = receiver.stop().unwrap();
    assert_eq!(summary.requests.bad_signature + summary.requests.missing_signature, 0, "signed with the secret");
    let file = dir.path().join("recv").join(&summary.statuses_file);
    let mut kinds: Vec<String> = wabench::webhook::record::read_statuses(&file)
        .unwrap()
        .map(Result::unwrap)
        .filter(|r| r.id == sent)
        .map(|r| r.status.as_str().to_string())
        .collect();
    // Two POSTs 5 ms apart on separate connections may arrive in either order on a busy machine (as
    // Meta's may): each arrives once.
    kinds.sort();
    assert_eq!(kinds, ["delivered", "sent"]);
}

#[test]
fn receive_command_records_until_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("recv");
    let (child, line) = spawn_wabench(
        &[
            "receive",
            "--listen",
            "127.0.0.1:0",
            "--out",
            &out.display().to_string(),
            "--no-signature",
            "--path",
            "/hooks/wa",
            "--threads",
            "1",
        ],
        &[("WABENCH_VERIFY_TOKEN", "cli-token")],
    );
    let url =
        line.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("{line}")).to_string();
    assert!(url.ends_with("/hooks/wa"), "{line}");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let c = plain_client();
        let hs = c
            .get(format!("{url}?hub.mode=subscribe&hub.verify_token=cli-token&hub.challenge=99"))
            .send()
            .await
            .unwrap();
        assert_eq!(hs.text().await.unwrap(), "99");
        // On-prem shape, unsigned.
        let body = r#"{"statuses":[{"id":"gBEGkYiEB1VXAglK1ZEqA1YKPrU","status":"read","timestamp":"1700000002"}]}"#;
        assert_eq!(c.post(&url).body(body).send().await.unwrap().status(), 200);
    });
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let done = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(done.status.success(), "{stdout} {}", String::from_utf8_lossy(&done.stderr));
    assert!(stdout.contains("1 statuses recorded"), "{stdout}");
    let rec = wabench::app::receive::recorded(&out).unwrap();
    assert_eq!(rec.summaries, 1);
    let r: Vec<_> = wabench::webhook::record::read_statuses(&rec.statuses[0]).unwrap().map(Result::unwrap).collect();
    assert_eq!((r.len(), r[0].status.as_str()), (1, "read"));
}

#[test]
fn a_forwarding_run_without_the_shared_secret_says_which_setting_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let text = profile_text("receiver_url = \"http://127.0.0.1:9/webhook\"")
        .replace(FWD_SECRET_ENV, "WABENCH_TEST_FWD_UNSET_SECRET");
    let loaded = load(dir.path(), "p.toml", &text);
    let rx = wabench::Shutdown::new();
    let out = dir.path().join("out");
    let opts = Options { out: Some(out.clone()), report: false, ..Options::new(dir.path()) };
    let e = match run_profile(&loaded, &opts, rx) {
        Ok(f) => f.error.expect("an error"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("WABENCH_TEST_FWD_UNSET_SECRET") && e.contains("webhooks.receiver_url"), "{e}");
    assert!(!out.join("cloud.sends.csv").exists(), "nothing recorded for a target that did not start");
}

#[test]
fn one_run_whose_statuses_went_to_a_receiver_gets_its_delivery_figures_from_merge() {
    let dir = tempfile::tempdir().unwrap();
    let mut ropts = ReceiveOptions::new("127.0.0.1:0".parse().unwrap(), dir.path().join("receiver"));
    ropts.app_secret_env = FWD_SECRET_ENV.into();
    ropts.env = env_with(FWD_SECRET_ENV, FWD_SECRET);
    let receiver = Receiver::start(&ropts).unwrap();
    let text = profile_text(&format!("receiver_url = \"{}\"\n{}", receiver.url(), secret_file(dir.path())))
        .replace("rate = 120", "rate = 30");
    let loaded = load(dir.path(), "p.toml", &text);
    let r = run(&loaded, &dir.path().join("run"), Shard::default());
    let ok = r.targets[0].requests.ok;
    receiver.stop().unwrap();
    let merged = dir.path().join("merged");
    let (code, _, err) = crate::support::common::wabench(&[
        "merge",
        &dir.path().join("run").display().to_string(),
        "--webhooks",
        &format!("cloud={}", dir.path().join("receiver").display()),
        "--out",
        &merged.display().to_string(),
    ]);
    assert_eq!(code, 0, "{err}");
    let d = wabench::results::read_run(&merged).unwrap().targets[0].delivery.clone().unwrap();
    assert_eq!((d.accepted, d.messages_delivered + d.messages_failed, d.lost), (ok, ok, 0), "{d:?}");
    // Without --webhooks one folder is not a merge.
    let (code, _, err) = crate::support::common::wabench(&[
        "merge",
        &dir.path().join("run").display().to_string(),
        "--out",
        &dir.path().join("m2").display().to_string(),
    ]);
    assert!(code != 0 && err.contains("at least two"), "{err}");
}

#[test]
fn a_status_id_named_like_the_files_end_mark_is_recorded_and_merged() {
    const SECRET_ENV: &str = "WABENCH_TEST_HASHEND_SECRET";
    unsafe { std::env::set_var(SECRET_ENV, "hashend-secret") };
    let dir = tempfile::tempdir().unwrap();
    let recv = dir.path().join("receiver");
    let (child, line) = spawn_wabench(
        &[
            "receive",
            "--listen",
            "127.0.0.1:0",
            "--out",
            &recv.display().to_string(),
            "--no-signature",
            "--threads",
            "1",
        ],
        &[],
    );
    let url =
        line.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("{line}")).to_string();
    // Before the run, one unsigned POST whose status id reads like the records file's own `#end,` line.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let status = rt.block_on(async {
        let body = r##"{"statuses":[{"id":"#end","status":"delivered","timestamp":"1700000002","recipient_id":"15551234567"}]}"##;
        plain_client().post(&url).body(body).send().await.unwrap().status()
    });
    assert_eq!(status, 200);
    let text = profile_text(&format!("receiver_url = \"{url}\""))
        .replace(FWD_SECRET_ENV, SECRET_ENV)
        .replace("rate = 120", "rate = 20")
        .replace("\"error_rate\" = \"< 40%\"", "\"error_rate\" = \"< 100%\"");
    let loaded = load(dir.path(), "p.toml", &text);
    let r = run(&loaded, &dir.path().join("run"), Shard::default());
    let ok = r.targets[0].requests.ok;
    assert!(ok > 0, "{:?}", r.targets[0].outcomes);
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let done = child.wait_with_output().unwrap();
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    let rec = wabench::app::receive::recorded(&recv).unwrap();
    let ids: Vec<String> = rec
        .statuses
        .iter()
        .flat_map(|f| wabench::webhook::record::read_statuses(f).unwrap().map(|r| r.unwrap().id))
        .collect();
    assert_eq!(ids.iter().filter(|id| *id == "#end").count(), 1, "recorded once, read back: {ids:?}");
    let merged = dir.path().join("merged");
    let (code, _, err) = crate::support::common::wabench(&[
        "merge",
        &dir.path().join("run").display().to_string(),
        "--webhooks",
        &format!("cloud={}", recv.display()),
        "--out",
        &merged.display().to_string(),
    ]);
    assert_eq!(code, 0, "{err}");
    let d = wabench::results::read_run(&merged).unwrap().targets[0].delivery.clone().unwrap();
    assert_eq!((d.accepted, d.messages_delivered + d.messages_failed, d.lost), (ok, ok, 0), "{d:?}");
    assert_eq!(d.unknown_ids, 1, "the `#end` status is kept, as a status of no message sent: {d:?}");
    assert_eq!(d.statuses.delivered, ok - d.messages_failed + 1, "{d:?}");
}

#[test]
fn a_standalone_receiver_lists_failed_statuses_with_their_code_and_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = ReceiveOptions::new("127.0.0.1:0".parse().unwrap(), dir.path().join("recv"));
    opts.verify_signature = false;
    let receiver = Receiver::start(&opts).unwrap();
    let url = receiver.url();
    let failed = |id: &str, code: i64| {
        let mut s =
            wabench::webhook::Status::new(id, wabench::webhook::StatusKind::Failed, 1_700_000_000, "15551230001");
        s.errors = Some(vec![serde_json::from_value(serde_json::json!({"code": code, "title": "x"})).unwrap()]);
        s
    };
    let delivered =
        wabench::webhook::Status::new("wamid.ok", wabench::webhook::StatusKind::Delivered, 1_700_000_000, "1555");
    let posts = [
        vec![failed("wamid.a", 131047), delivered],
        // Meta delivers a webhook again: the message is listed once.
        vec![failed("wamid.a", 131047)],
        vec![failed("wamid.b", 131026)],
    ];
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        for statuses in posts {
            let body = serde_json::to_vec(&wabench::webhook::cloud_envelope("1", "2", "3", statuses)).unwrap();
            assert_eq!(plain_client().post(&url).body(body).send().await.unwrap().status(), 200);
        }
    });
    let summary = receiver.stop().unwrap();
    let file = summary.failures_file.clone().expect("the summary names the failures file");
    let csv = std::fs::read_to_string(dir.path().join("recv").join(&file)).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("target,time,recipient,code,http_status,path,message_id,code_name"), "{csv}");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let picked: Vec<(&str, &str, &str, &str, &str)> = rows.iter().map(|r| (r[2], r[3], r[5], r[6], r[7])).collect();
    assert_eq!(
        picked,
        [
            ("15551230001", "131047", "in_webhook", "wamid.a", "Re-engagement message"),
            ("15551230001", "131026", "in_webhook", "wamid.b", "Message undeliverable"),
        ],
        "{csv}"
    );
    // The folder still merges: the failures file is not taken for statuses.
    assert_eq!(wabench::app::receive::recorded(&dir.path().join("recv")).unwrap().statuses.len(), 1);
}
