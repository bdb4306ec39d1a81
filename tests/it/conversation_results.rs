//! A conversation target's results after the run: `wabench report` (the Conversation section and the
//! time-to-first-reply chart, from the folder alone), `wabench compare` (first-reply ratios, the
//! unanswered share in percentage points, and their `--fail-if` gates) and `wabench merge` of shards
//! (counts added, the replies histograms added exactly). Fixture folders only: no load is run.

use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use wabench::report::fmt_us;
use wabench::results::conversation::ConversationStats;
use wabench::results::{Shard, Summary, TargetData, codes, histogram, hlog, read_run};

use crate::support::{common, fixture};

/// `n` first replies spread evenly over 20–119 ms, times `scale`.
fn replies(n: u64, scale: u64) -> Histogram<u64> {
    let mut h = histogram();
    for i in 0..n {
        h.record((20_000 + (i % 100) * 1_000) * scale).unwrap();
    }
    h
}

/// A conversation target named "bot": `turns` user messages, `unanswered` of them without a reply,
/// the others answered in [`replies`]`(answered, scale)`.
fn bot(turns: u64, unanswered: u64, scale: u64, timeout_ms: u64) -> TargetData {
    let mut spec = fixture::Spec::new("bot", 5_000);
    spec.seconds = 10;
    spec.rate = turns / 10;
    let stats = ConversationStats {
        turns,
        answered: turns - unanswered,
        unanswered,
        late: 5,
        replies: turns + 100,
        failed_replies: [(131047, 12), (130429, 3)].into(),
        unsolicited: 2,
        reply_timeout_ms: timeout_ms,
        ..Default::default()
    };
    fixture::conversation(&fixture::target(&spec), stats, replies(turns - unanswered, scale))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The values of the chart `stem` as the page carries them.
fn chart_data(html: &str, stem: &str) -> serde_json::Value {
    let at = html.find(&format!("<figure id=\"{stem}\"")).unwrap_or_else(|| panic!("no chart {stem}"));
    let open = "<script type=\"application/json\" class=\"wb-data\">";
    let from = at + html[at..].find(open).unwrap() + open.len();
    let to = from + html[from..].find("</script>").unwrap();
    serde_json::from_str(&html[from..to]).unwrap()
}

#[test]
fn the_report_shows_the_conversation_and_the_time_to_the_first_reply() {
    let dir = tempfile::tempdir().unwrap();
    let t = bot(1000, 25, 1, 10_000);
    let h = t.replies.clone().unwrap();
    let run = fixture::run("bot-run", None, std::slice::from_ref(&t), &[]);
    fixture::write(dir.path(), &run, std::slice::from_ref(&t));
    let (code, _, err) = common::wabench(&["report", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let html = read(&dir.path().join("report.html"));
    let section = &html[html.find("<section id=\"conversation\">").expect("a Conversation section")..];
    let section = &section[..section.find("</section>").unwrap()];
    let s = Summary::of(&h);
    for (label, value) in [
        ("turns (user messages the endpoint took)", "1000".to_string()),
        ("answered (a reply accepted within the timeout)", "975 (97.50%)".into()),
        ("unanswered", "25 (2.50%)".into()),
        ("  of which late (first reply after the timeout)", "5".into()),
        ("replies per turn", "1.10".into()),
        ("failed replies", "15 (1.36%)".into()),
        (&format!("  131047 {}", codes::name(131047)), "12".into()),
        (&format!("  130429 {}", codes::name(130429)), "3".into()),
        ("unsolicited sends (no turn waiting)", "2".into()),
        ("reply timeout", "10 s".into()),
        ("first reply p50", fmt_us(s.p50 as f64)),
        ("first reply p90", fmt_us(s.p90 as f64)),
        ("first reply p99", fmt_us(s.p99 as f64)),
        ("first reply max", fmt_us(s.max as f64)),
    ] {
        let row = format!("<tr><th scope=\"row\">{label}</th><td>{value}</td></tr>");
        assert!(section.contains(&row), "missing {row} in\n{section}");
    }
    assert!((66_000..72_000).contains(&s.p50) && (118_000..120_000).contains(&s.max), "{s:?}");
    // The chart of the time to the first reply, in the section, drawn from bot.replies.hlog.
    assert!(section.contains("<figure id=\"reply_spectrum\""), "the chart sits in the section");
    for f in ["reply_spectrum.svg", "reply_spectrum.png"] {
        assert!(std::fs::metadata(dir.path().join(f)).unwrap().len() > 1000, "{f}");
    }
    let data = chart_data(&html, "reply_spectrum");
    let series = &data["panels"][0]["series"];
    assert_eq!(series.as_array().unwrap().len(), 1, "{data}");
    let last = series[0]["p"].as_array().unwrap().last().unwrap().clone();
    assert!((last[1].as_f64().unwrap() - h.max() as f64 / 1000.0).abs() < 0.01, "ends at the max: {last}");
    // Without its replies log the figures of run.json still stand; the chart goes.
    std::fs::remove_file(dir.path().join("bot.replies.hlog")).unwrap();
    let (code, _, err) = common::wabench(&["report", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let html = read(&dir.path().join("report.html"));
    assert!(html.contains("<tr><th scope=\"row\">unanswered</th><td>25 (2.50%)</td></tr>"));
    assert!(!html.contains("<figure id=\"reply_spectrum\""));
    // A log that is not the run's is named.
    let mut other = Vec::new();
    wabench::results::conversation::write_hlog(
        &mut other,
        &replies(3, 1),
        &[],
        std::time::UNIX_EPOCH,
        Default::default(),
    )
    .unwrap();
    std::fs::write(dir.path().join("bot.replies.hlog"), other).unwrap();
    let (code, _, err) = common::wabench(&["report", dir.path().to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("bot.replies.hlog") && err.contains("3 first replies in the log"), "{err}");
    // A run without conversation targets has no such section.
    let plain = tempfile::tempdir().unwrap();
    fixture::all_failed(plain.path());
    let (code, _, err) = common::wabench(&["report", plain.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(!read(&plain.path().join("report.html")).contains("id=\"conversation\""));
}

fn compare_json(dirs: &[&PathBuf], out: &Path, gates: &[&str]) -> (i32, serde_json::Value, String) {
    let mut args = vec!["compare".to_string()];
    args.extend(dirs.iter().map(|d| d.display().to_string()));
    args.extend(["--json".into(), "-".into(), "--out".into(), out.display().to_string()]);
    for g in gates {
        args.extend(["--fail-if".into(), g.to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = common::wabench(&args);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    (code, json, stderr)
}

fn row<'a>(json: &'a serde_json::Value, metric: &str) -> &'a serde_json::Value {
    let rows = json["subjects"][0]["conversation"].as_array().expect("conversation rows");
    rows.iter().find(|r| r["metric"] == metric).unwrap_or_else(|| panic!("no {metric} in {rows:?}"))
}

fn verdicts(json: &serde_json::Value) -> Vec<(String, String)> {
    json["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["gate"].as_str().unwrap().to_string(), g["verdict"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn compare_gives_first_reply_ratios_and_unanswered_points_and_gates_them() {
    let root = tempfile::tempdir().unwrap();
    let base = fixture::folder(root.path(), "base", &bot(10_000, 100, 1, 10_000));
    let slow = fixture::folder(root.path(), "slow", &bot(10_000, 400, 2, 10_000));
    let again = fixture::folder(root.path(), "again", &bot(10_000, 100, 1, 10_000));
    let gates = ["first_reply.p99 > 1.2", "unanswered > +1pp"];

    let (code, json, stderr) = compare_json(&[&base, &slow], &root.path().join("c1"), &gates);
    assert_eq!(code, 99, "a regression beyond noise: {stderr}");
    for m in ["first_reply.p50", "first_reply.p99"] {
        let r = row(&json, m);
        assert_eq!(r["unit"], "ratio");
        assert!((r["estimate"].as_f64().unwrap() - 2.0).abs() < 0.01, "{r}");
        assert!(r["ci_low"].as_f64().unwrap() > 1.2 && r["significant"] == true, "{r}");
        assert_eq!(r["meaning"], "slower");
    }
    let u = row(&json, "unanswered");
    assert_eq!((u["unit"].as_str(), u["base"].as_f64(), u["value"].as_f64()), (Some("pp"), Some(0.01), Some(0.04)));
    assert!((u["estimate"].as_f64().unwrap() - 3.0).abs() < 1e-9, "{u}");
    assert!(u["ci_low"].as_f64().unwrap() > 1.0, "{u}");
    assert_eq!(
        verdicts(&json),
        [("first_reply.p99 > 1.2".to_string(), "fail".to_string()), ("unanswered > +1pp".into(), "fail".into())]
    );
    assert!(stderr.contains("first_reply.p99") && stderr.contains("+3.00pp"), "the table: {stderr}");
    let page = read(&root.path().join("c1").join("compare.html"));
    assert!(page.contains("Conversation: slow vs base") && page.contains("first_reply.p99"), "compare.html");

    let (code, json, stderr) = compare_json(&[&base, &again], &root.path().join("c2"), &gates);
    assert_eq!(code, 0, "{stderr}");
    assert!((row(&json, "first_reply.p99")["estimate"].as_f64().unwrap() - 1.0).abs() < 1e-9);
    assert_eq!(row(&json, "unanswered")["estimate"].as_f64(), Some(0.0));
    assert_eq!(
        verdicts(&json),
        [("first_reply.p99 > 1.2".to_string(), "pass".to_string()), ("unanswered > +1pp".into(), "pass".into())]
    );

    // A gate on another percentile gets its row; a gate on a conversation figure of a target that is
    // not a conversation target has no data.
    let (_, json, _) = compare_json(&[&base, &slow], &root.path().join("c3"), &["first_reply.p90 > 1.5"]);
    assert!((row(&json, "first_reply.p90")["estimate"].as_f64().unwrap() - 2.0).abs() < 0.01);
    let plain = fixture::folder(root.path(), "plain", &fixture::target(&fixture::Spec::new("bot", 5_000)));
    let (code, json, _) = compare_json(&[&plain, &base], &root.path().join("c4"), &["unanswered > +1pp"]);
    assert_eq!((code, verdicts(&json)[0].1.as_str()), (0, "no_data"));
    assert!(json["subjects"][0].get("conversation").is_none());
    let (code, _, err) = common::wabench(&["compare", "--fail-if", "first_reply.rate > 1.1", "a", "b"]);
    assert!(code != 0 && err.contains("first_reply.p99"), "{err}");
}

/// Shard `index` of 2 of a run whose only target is `t`, written to `root/name`.
fn shard(root: &Path, name: &str, index: u32, t: &TargetData) -> PathBuf {
    let dir = root.join(name);
    let mut run = fixture::run("bot-run", None, std::slice::from_ref(t), &[]);
    run.shard = Some(Shard { index, count: 2 });
    fixture::write(&dir, &run, std::slice::from_ref(t));
    dir
}

#[test]
fn merge_adds_the_conversation_figures_and_reply_histograms_of_shards_exactly() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (bot(1000, 25, 1, 10_000), bot(600, 40, 3, 10_000));
    let mut b = b;
    if let Some(s) = b.result.conversation.as_mut() {
        s.failed_replies = [(131047, 5), (131056, 7)].into();
    }
    let parts = [shard(root.path(), "s0", 0, &a), shard(root.path(), "s1", 1, &b)];
    let merged = root.path().join("merged");
    let (code, _, err) = common::wabench(&[
        "merge",
        parts[0].to_str().unwrap(),
        parts[1].to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let run = read_run(&merged).unwrap();
    let s = run.targets[0].conversation.as_ref().expect("merged conversation figures");
    assert_eq!(
        (s.turns, s.answered, s.unanswered, s.late, s.replies, s.unsolicited, s.reply_timeout_ms),
        (1600, 1535, 65, 10, 1800, 4, 10_000)
    );
    assert_eq!(s.failed_replies, [(131047, 17), (130429, 3), (131056, 7)].into());
    let (ha, hb) = (a.replies.unwrap(), b.replies.unwrap());
    let mut sum = ha.clone();
    sum.add(&hb).unwrap();
    assert_eq!(s.reply_latency_us, Summary::of(&sum), "percentiles of the added histograms");
    let log = hlog::read(&merged.join("bot.replies.hlog")).unwrap();
    let h = &log.entries.iter().find(|e| e.tag.as_deref() == Some("first_reply")).unwrap().histogram;
    assert_eq!((h.len(), h.max()), (ha.len() + hb.len(), ha.max().max(hb.max())));
    assert_eq!(h, &sum, "the merged log is the two shards' histograms added");
    // The merged run reports like any other.
    let (code, _, err) = common::wabench(&["report", merged.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        read(&merged.join("report.html"))
            .contains("<tr><th scope=\"row\">turns (user messages the endpoint took)</th><td>1600</td></tr>")
    );

    // Shards that waited differently long for a reply cannot be added up.
    let c = shard(root.path(), "s1-other", 1, &bot(600, 40, 3, 5_000));
    let (code, _, err) = common::wabench(&[
        "merge",
        parts[0].to_str().unwrap(),
        c.to_str().unwrap(),
        "--out",
        root.path().join("m2").to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("reply_timeout") && err.contains("5000 ms"), "{err}");
}
