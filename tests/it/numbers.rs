//! Several sending numbers in one Cloud target: messages spread over them, each number with its own
//! throughput in the simulator, one messaging limit for the portfolio, results per number that
//! shards add up exactly, and profile errors that name the entry, file and line.

use std::collections::BTreeMap;

use crate::support::common;
use wabench::results::numbers::{self, NumberRow};

const IDS: &str = "[\"106540352242922\", \"106540352242923\", \"106540352242924\"]";
const FAST: &str = "[simulator.latency]\ndistribution = \"constant\"\nmedian = \"1ms\"\n";
const QUIET_HOOKS: &str = "[simulator.webhooks]\nsent = { distribution = \"constant\", median = \"10ms\" }\ndelivered = { distribution = \"constant\", median = \"10ms\" }\nread_fraction = 0.0\nduplicate_fraction = 0.0\nout_of_order_fraction = 0.0\ndelivered_and_failed_fraction = 0.0\n";

fn by_id(rows: &[NumberRow]) -> BTreeMap<&str, &NumberRow> {
    rows.iter().map(|r| (r.id.as_str(), r)).collect()
}

#[test]
fn three_numbers_carry_a_rate_one_number_cannot() {
    // 120 messages/s against numbers of 50/s each: one number is throttled (130429), three carry
    // 40/s each, every message accepted, an equal share per number.
    let text = format!(
        "name = \"numbers\"\n[load]\nrate = 120\nduration = \"2s\"\nconnections = 16\ndrain = \"2s\"\n\
         [retry]\nmax_attempts = 1\n{FAST}[simulator.cloud]\nthroughput_mps = 50\npair_limit = {{ enabled = false }}\n\
         [webhooks]\nenabled = false\n\
         [[targets]]\nname = \"one\"\nkind = \"cloud\"\nbase_url = \"embedded\"\nphone_number_id = \"106540352242922\"\n\
         [[targets]]\nname = \"three\"\nkind = \"cloud\"\nbase_url = \"embedded\"\nphone_number_ids = {IDS}\n"
    );
    let run = common::run_in_tempdir(&text, &[]);
    let (one, three) = (&run.targets[0], &run.targets[1]);
    let throttled = |t: &wabench::results::TargetResult| {
        t.outcomes.iter().filter(|o| o.key == "api_130429").map(|o| o.count).sum::<u64>()
    };
    assert!(throttled(one) > 0, "one number at 120/s is over its 50/s: {:?}", one.outcomes);
    assert!(numbers::of(one).is_empty(), "a target with one number has no per-number rows");
    assert_eq!(throttled(three), 0, "{:?}", three.outcomes);
    assert_eq!(three.requests.ok, three.requests.sent);
    let rows = numbers::of(three);
    assert_eq!(rows.len(), 3, "{rows:?}");
    let sent = three.requests.sent;
    assert_eq!(rows.iter().map(|r| r.messages).sum::<u64>(), sent);
    for r in &rows {
        assert!(r.messages.abs_diff(sent / 3) <= 1, "round robin gives equal shares: {rows:?}");
        assert_eq!((r.ok, r.attempts, r.failed_at_send.len()), (r.messages, r.messages, 0), "{r:?}");
        assert!(r.ok_rate > 0.0);
    }
    // The numbers' rates add up to the target's: accepted over the time the sends took, drain left out.
    let sum: f64 = rows.iter().map(|r| r.ok_rate).sum();
    assert!((sum - three.rate.achieved).abs() < 1e-6 * three.rate.achieved, "{sum} vs {}", three.rate.achieved);
}

#[test]
fn the_numbers_share_one_messaging_limit_and_each_reports_its_failures() {
    // 600 users, a portfolio tier of 250: the numbers together reach 250 users; templates to the
    // others fail in a webhook on every number, none at send.
    let text = format!(
        "name = \"limit\"\n[load]\nrate = 200\nduration = \"3s\"\nconnections = 16\nmax_in_flight = 600\ndrain = \"2s\"\n\
         [retry]\nmax_attempts = 1\n[messages]\ntext = 0\ntemplate = 1\n[recipients]\ncountry_code = \"1\"\ncount = 600\n\
         {FAST}[simulator.cloud]\npair_limit = {{ enabled = false }}\n[simulator.messaging_limit]\ntier = 250\n\
         [simulator.recipients]\nundeliverable_suffixes = []\n{QUIET_HOOKS}\
         [webhooks]\nlisten = \"127.0.0.1:0\"\ngrace = \"10s\"\n\
         [[targets]]\nname = \"t\"\nkind = \"cloud\"\nbase_url = \"embedded\"\nphone_number_ids = {IDS}\n"
    );
    let run = common::run_in_tempdir(&text, &[]);
    let t = &run.targets[0];
    assert_eq!((t.requests.sent, t.requests.ok), (600, 600), "{:?}", t.outcomes);
    let d = t.delivery.as_ref().expect("delivery tracked");
    assert_eq!(d.messages_delivered, 250, "{d:?}");
    let over = d.messages_failed_by_code.clone();
    assert_eq!(over.values().sum::<u64>(), 350, "{over:?}");
    let rows = numbers::of(t);
    assert_eq!(rows.len(), 3);
    let mut delivered = 0;
    for r in &rows {
        let nd = r.delivery.as_ref().expect("per-number delivery");
        assert_eq!(nd.accepted, r.ok, "{r:?}");
        assert_eq!(nd.delivered + nd.failed_by_code.values().sum::<u64>() + nd.lost, nd.accepted, "{r:?}");
        assert!(nd.failed_by_code.values().sum::<u64>() > 50, "every number meets the shared limit: {rows:?}");
        delivered += nd.delivered;
    }
    assert_eq!(delivered, 250, "the limit is the portfolio's, not a number's: {rows:?}");
    let mut summary = Vec::new();
    wabench::report::summary::write(&run, &mut summary).unwrap();
    let summary = String::from_utf8(summary).unwrap();
    assert!(summary.contains("t: 3 sending numbers") && summary.contains("106540352242923"), "{summary}");
}

#[test]
fn by_recipient_keeps_each_user_on_one_number_read_from_a_file() {
    // Two users, a list of numbers from a file: every message to a user comes from the same number,
    // so the shares follow the users (100 messages each), not the sequence.
    let csv = "phone\n+15550100001\n+15550100002\n";
    let numbers_file = "# campaign numbers\n106540352242922\n106540352242923\n106540352242924\n";
    let text = format!(
        "name = \"by-recipient\"\n[load]\nrate = 100\nduration = \"2s\"\nconnections = 8\ndrain = \"2s\"\n\
         [retry]\nmax_attempts = 1\n[recipients]\nfile = \"r.csv\"\n{FAST}[simulator.cloud]\npair_limit = {{ enabled = false }}\n\
         [simulator.service_window]\nenabled = false\n[webhooks]\nenabled = false\n\
         [[targets]]\nname = \"t\"\nkind = \"cloud\"\nbase_url = \"embedded\"\nphone_numbers_file = \"numbers.txt\"\nspread = \"by_recipient\"\n"
    );
    let run = common::run_in_tempdir(&text, &[("r.csv", csv), ("numbers.txt", numbers_file)]);
    let t = &run.targets[0];
    assert_eq!(t.requests.ok, 200, "{:?}", t.outcomes);
    let rows = numbers::of(t);
    let used: Vec<u64> = rows.iter().map(|r| r.messages).filter(|n| *n > 0).collect();
    let expected = wabench::spec::numbers::pick(wabench::spec::numbers::Spread::ByRecipient, 3, 0, "+15550100001")
        == wabench::spec::numbers::pick(wabench::spec::numbers::Spread::ByRecipient, 3, 0, "+15550100002");
    if expected {
        assert_eq!(used, [200], "both users on one number: {rows:?}");
    } else {
        assert_eq!(used, [100, 100], "one number per user: {rows:?}");
    }
    assert_eq!(by_id(&rows).len(), rows.len());
}

#[test]
fn bad_numbers_are_named_by_entry_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let base = "name = \"x\"\n[load]\nrate = 1\nduration = \"1s\"\n[[targets]]\nname = \"t\"\nkind = \"cloud\"\nbase_url = \"embedded\"\n";
    let cases = [
        ("phone_number_ids = [\"1065\", \"10x\"]\n", "targets[0].phone_number_ids[1]", "not a phone number id"),
        ("phone_number_ids = [\"1065\", \"1065\"]\n", "targets[0].phone_number_ids[1]", "listed twice"),
        ("phone_number_id = \"1\"\nphone_number_ids = [\"2\"]\n", "targets[0].phone_number_ids", "not several"),
        ("spread = \"by_recipient\"\n", "targets[0].spread", "several numbers"),
        ("phone_numbers_file = \"n.txt\"\n", "n.txt:3:", "not a phone number id"),
        ("phone_numbers_file = \"missing.txt\"\n", "targets[0].phone_numbers_file", "cannot read"),
    ];
    std::fs::write(dir.path().join("n.txt"), "1065\n1066\n+1 555\n").unwrap();
    for (field, named, reason) in cases {
        let path = common::profile(dir.path(), &format!("{base}{field}"));
        let e = wabench::spec::load(&path).unwrap_err().to_string();
        assert!(e.contains(named) && e.contains(reason), "{field}: {e}");
    }
    let http = "name = \"x\"\n[load]\nrate = 1\nduration = \"1s\"\n[[targets]]\nname = \"t\"\nkind = \"http\"\nurl = \"http://127.0.0.1:1/\"\nphone_number_ids = [\"1\"]\n";
    let e = wabench::spec::load(&common::profile(dir.path(), http)).unwrap_err().to_string();
    assert!(e.contains("phone_number_ids") && e.contains("applies to kind = \"cloud\""), "{e}");
}

#[test]
fn shards_of_a_several_number_run_merge_into_exact_per_number_figures() {
    use wabench::app::run::{Options, run_profile};
    use wabench::results::Shard;
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "name = \"sharded-numbers\"\n[load]\nrate = 90\nduration = \"2s\"\nconnections = 8\ndrain = \"2s\"\n\
         [retry]\nmax_attempts = 1\n{FAST}[simulator.cloud]\npair_limit = {{ enabled = false }}\n{QUIET_HOOKS}\
         [simulator.service_window]\nenabled = false\n[simulator.recipients]\nundeliverable_suffixes = []\n\
         [webhooks]\nlisten = \"127.0.0.1:0\"\ngrace = \"10s\"\n\
         [[targets]]\nname = \"t\"\nkind = \"cloud\"\nbase_url = \"embedded\"\nphone_number_ids = {IDS}\n"
    );
    let path = common::profile(dir.path(), &text);
    let loaded = wabench::spec::load(&path).unwrap();
    let mut parts = Vec::new();
    let mut sum: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for i in 0..2 {
        let rx = wabench::Shutdown::new();
        let out = dir.path().join(format!("shard{i}"));
        let opts = Options { out: Some(out.clone()), shard: Shard { index: i, count: 2 }, ..Options::new(dir.path()) };
        let f = run_profile(&loaded, &opts, rx).unwrap();
        for r in numbers::of(&f.run.targets[0]) {
            let s = sum.entry(r.id.clone()).or_default();
            s.0 += r.messages;
            s.1 += r.delivery.map_or(0, |d| d.delivered);
        }
        parts.push(out);
    }
    let merged = dir.path().join("merged");
    let run = common::merge(&parts, &merged);
    let rows = numbers::of(&run.targets[0]);
    let got: BTreeMap<String, (u64, u64)> =
        rows.iter().map(|r| (r.id.clone(), (r.messages, r.delivery.as_ref().map_or(0, |d| d.delivered)))).collect();
    assert_eq!(got, sum);
    assert_eq!(got.values().map(|v| v.0).sum::<u64>(), 180);
    assert_eq!(got.values().map(|v| v.1).sum::<u64>(), 180, "every message delivered: {got:?}");
}
