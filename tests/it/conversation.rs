//! The conversation target end to end: wabench posts signed user messages to a bot's webhook, the
//! bot (the reference bot of `examples/bot.rs`, started by wabench, or a loopback endpoint of the
//! test's) replies through the simulated Cloud API, and every turn's first reply is timed from the
//! message's intended send time. Loopback only; every run is bounded by `common::run_guarded`.

use std::time::Duration;

use wabench::results::conversation::{ConversationStats, REPLY_TAG};

use crate::reference_bot::bot_binary;
use crate::support::common;

/// A loopback port nothing listens on now (the bot takes it).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A profile of one conversation target at `rate` user messages per second for `duration`; `table`
/// is the rest of its `[targets.conversation]` table (and any table after it).
pub(crate) fn profile(url: &str, rate: u32, duration: &str, table: &str) -> String {
    format!(
        r#"name = "bot"
seed = 3
[load]
rate = {rate}
duration = "{duration}"
connections = 8
drain = "2s"
[recipients]
country_code = "1"
count = 50
[[targets]]
name = "bot"
kind = "conversation"
url = "{url}"
[targets.conversation]
{table}
"#
    )
}

/// The `[targets.conversation.bot]` table that starts the reference bot, with `env` set for it.
pub(crate) fn started_bot(env: &[&str]) -> String {
    let mut command = vec!["/usr/bin/env".to_string()];
    command.extend(env.iter().map(|e| e.to_string()));
    command.push(bot_binary().display().to_string());
    let list: Vec<String> = command.iter().map(|c| format!("{c:?}")).collect();
    format!("[targets.conversation.bot]\ncommand = [{}]\nready_timeout = \"60s\"\n", list.join(", "))
}

/// The `[targets.conversation]` lines of a bot the test runs itself (no handshake), with the app
/// secret in a file of `dir`, then `rest`.
fn own_bot(dir: &tempfile::TempDir, rest: &str) -> String {
    let secret = dir.path().join("app_secret");
    std::fs::write(&secret, "s3cret-for-the-run").unwrap();
    format!("handshake = false\napp_secret_file = {:?}\n{rest}", secret.display().to_string())
}

/// A run of the reference bot, started by wabench with `env`: `table` is the rest of its
/// `[targets.conversation]` table, `after` the tables that follow it.
fn with_the_reference_bot(
    rate: u32,
    duration: &str,
    table: &str,
    env: &[&str],
    after: &str,
) -> (wabench::app::run::Finished, tempfile::TempDir) {
    let url = format!("http://127.0.0.1:{}/webhook", free_port());
    let text = profile(&url, rate, duration, &format!("{table}{}\n{after}", started_bot(env)));
    common::run_guarded(&text, &[], Duration::from_secs(180))
}

pub(crate) fn stats(f: &wabench::app::run::Finished) -> &ConversationStats {
    f.run.targets[0].conversation.as_ref().expect("conversation figures in run.json")
}

/// The first-reply histogram as written to `<target>.replies.hlog`.
fn replies_log(f: &wabench::app::run::Finished) -> hdrhistogram::Histogram<u64> {
    let bytes = std::fs::read(f.dir.join("bot.replies.hlog")).expect("bot.replies.hlog");
    let log = wabench::results::hlog::parse(&bytes).unwrap();
    log.entries.into_iter().find(|e| e.tag.as_deref() == Some(REPLY_TAG)).expect("first_reply entry").histogram
}

#[test]
fn a_bot_started_by_wabench_answers_every_turn_and_each_first_reply_is_timed() {
    let (f, _dir) = with_the_reference_bot(
        20,
        "2s",
        "texts = [\"hi\", \"menu\"]\nreply_timeout = \"10s\"\n",
        &[],
        "[thresholds]\n\"conversation.unanswered\" = \"< 1%\"\n\"conversation.first_reply.p99\" = \"< 10s\"\n",
    );
    let t = &f.run.targets[0];
    let s = stats(&f);
    assert_eq!(t.kind, "conversation");
    assert_eq!(t.requests.sent, 40, "{:?}", t.requests);
    assert_eq!(t.requests.ok, 40, "every user message was taken by the bot's endpoint");
    assert_eq!((s.turns, s.answered, s.unanswered, s.late, s.not_delivered), (40, 40, 0, 0, 0), "{s:?}");
    assert_eq!(s.replies, 40, "one reply per turn: {s:?}");
    assert!(s.failed_replies.is_empty(), "{s:?}");
    assert_eq!(s.unsolicited, 0, "{s:?}");
    assert_eq!(s.reply_latency_us.count, 40);
    assert_eq!(replies_log(&f).len(), 40, "the interval log holds every first reply");
    assert!(f.run.passed, "{:?}", f.run.thresholds);
    let log = std::fs::read_to_string(f.dir.join("bot.bot.log")).expect("the bot's output is kept");
    assert!(log.contains("bot listening on"), "{log}");
    // The bot got the statuses of its replies (sent, delivered, read), answered 200, and stopped cleanly.
    assert!(log.contains("bot stopped: 40 replies sent, 0 failed"), "{log}");
    let sim = &t.extra.as_ref().unwrap()["simulator"];
    assert_eq!(sim["accepted"], 40, "{sim}");
    assert_eq!(sim["inbound"], 40, "every user message counted against the number: {sim}");
}

#[test]
fn a_slow_turn_shows_in_the_time_to_its_reply() {
    let table = "texts = [\"hi\", \"hi\", \"hi\", \"slow\"]\nreply_timeout = \"10s\"\n";
    let (f, _dir) = with_the_reference_bot(20, "2s", table, &["WABENCH_BOT_SLOW_MS=400"], "");
    let s = stats(&f);
    assert_eq!((s.turns, s.answered, s.unanswered), (40, 40, 0), "{s:?}");
    // Every fourth message waited at least the bot's 400 ms; the time is counted from when each
    // message was due, so no wait is hidden (lower bounds only: a busy machine only adds).
    let h = replies_log(&f);
    assert!(h.count_between(400_000, h.max().max(400_000)) >= 10, "10 slow turns: {:?}", s.reply_latency_us);
    assert!(s.reply_latency_us.max >= 400_000, "{:?}", s.reply_latency_us);
}

#[test]
fn a_reply_after_the_customer_service_window_fails_with_131047() {
    // The window closes 1 s after the user writes; the bot takes 1.5 s on "slow".
    let (f, _dir) = with_the_reference_bot(
        10,
        "1s",
        "texts = [\"hi\", \"slow\"]\nreply_timeout = \"10s\"\n",
        &["WABENCH_BOT_SLOW_MS=1500"],
        "[simulator.service_window]\nduration = \"1s\"\n",
    );
    let s = stats(&f);
    assert_eq!(s.turns, 10, "{s:?}");
    assert_eq!(s.failed_replies.get(&131047), Some(&5), "the slow replies came after the window: {s:?}");
    assert_eq!((s.answered, s.unanswered), (5, 5), "{s:?}");
}

#[test]
fn a_bot_that_never_replies_leaves_every_turn_unanswered_and_fails_its_gate() {
    // An endpoint that takes every webhook (200) and never sends anything.
    let server = common::start(common::Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let table = own_bot(&dir, "reply_timeout = \"500ms\"\n[thresholds]\n\"conversation.unanswered\" = \"< 1%\"\n");
    let text = profile(&format!("http://{}/webhook", server.addr), 10, "1s", &table);
    let (f, _dir) = common::run_guarded(&text, &[], Duration::from_secs(60));
    let s = stats(&f);
    assert_eq!((s.turns, s.answered, s.unanswered, s.replies), (10, 0, 10, 0), "{s:?}");
    assert_eq!(s.reply_latency_us.count, 0);
    assert!(!f.run.passed, "an unanswered bot fails the gate: {:?}", f.run.thresholds);
    assert_eq!(f.run.thresholds[0].actual, Some(1.0));
}

#[test]
fn a_message_the_endpoint_refuses_waits_for_no_reply() {
    let server = common::start(common::Behaviour { status: Some(503), ..Default::default() });
    let dir = tempfile::tempdir().unwrap();
    let table = own_bot(&dir, "reply_timeout = \"500ms\"\n");
    let text = profile(&format!("http://{}/webhook", server.addr), 10, "1s", &table);
    let (f, _dir) = common::run_guarded(&text, &[], Duration::from_secs(60));
    let (t, s) = (&f.run.targets[0], stats(&f));
    assert_eq!((s.turns, s.not_delivered, s.unanswered), (0, 10, 0), "{s:?}");
    assert_eq!(t.requests.errors, 10, "{:?}", t.requests);
    assert!(t.outcomes.iter().any(|o| o.key == "http_503" && o.count == 10), "{:?}", t.outcomes);
}

#[test]
fn conversation_profiles_are_checked_with_the_field_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let check = |text: &str| {
        let p = common::profile(dir.path(), text);
        wabench::spec::load(&p).map(|_| ()).map_err(|e| e.to_string())
    };
    let ok = profile("http://127.0.0.1:9/webhook", 5, "1s", "");
    assert_eq!(check(&ok), Ok(()));
    let e = check(&profile("http://127.0.0.1:9/webhook", 5, "1s", "graph_listen = \"0.0.0.0:80\"")).unwrap_err();
    assert!(e.contains("targets[0].conversation.graph_listen") && e.contains("loopback"), "{e}");
    let e = check(&profile("http://127.0.0.1:9/webhook", 5, "1s", "texts = []")).unwrap_err();
    assert!(e.contains("targets[0].conversation.texts"), "{e}");
    let e =
        check(&profile("http://127.0.0.1:9/webhook", 5, "1s", "[targets.conversation.bot]\ncommand = []")).unwrap_err();
    assert!(e.contains("targets[0].conversation.bot.command"), "{e}");
    let beside = |kind: &str, to: &str| {
        format!("{ok}[[targets]]\nname = \"c\"\nkind = \"{kind}\"\nbase_url = \"embedded\"\nbeside = \"{to}\"\n")
    };
    assert_eq!(check(&beside("cloud", "bot")), Ok(()));
    let e = check(&beside("cloud", "nobody")).unwrap_err();
    assert!(e.contains("targets[1].beside") && e.contains("no target"), "{e}");
    let e = check(&beside("onprem", "bot")).unwrap_err();
    assert!(e.contains("targets[1].beside") && e.contains("\"cloud\""), "{e}");
    let e = check(&format!(
        "{}[[targets]]\nname = \"d\"\nkind = \"cloud\"\nbase_url = \"embedded\"\nbeside = \"bot\"\n",
        beside("cloud", "bot")
    ))
    .unwrap_err();
    assert!(e.contains("targets[2].beside") && e.contains("already"), "{e}");
    let e = check(&ok.replace("url = \"http://127.0.0.1:9/webhook\"", "base_url = \"embedded\"")).unwrap_err();
    assert!(e.contains("targets[0].base_url") && e.contains("conversation"), "{e}");
    let http = "name = \"h\"\n[load]\nrate = 1\nduration = \"1s\"\n[[targets]]\nname = \"h\"\nkind = \"http\"\nurl = \"http://127.0.0.1:9/\"\n[targets.conversation]\n";
    let e = check(http).unwrap_err();
    assert!(e.contains("targets[0].conversation") && e.contains("\"conversation\" only"), "{e}");
    // A bot of the user's own (not started by wabench) must share the run's app secret.
    let p = common::profile(dir.path(), &ok);
    let (code, _, err) = common::wabench_env(&["validate", p.to_str().unwrap()], &[("WABENCH_APP_SECRET", "")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("conversation.app_secret_env") && err.contains("WABENCH_APP_SECRET"), "{err}");
}

#[test]
fn a_scripted_menu_flow_is_followed_to_its_end_and_each_turn_is_judged() {
    let url = format!("http://127.0.0.1:{}/webhook", free_port());
    let script = r#"reply_timeout = "10s"
[[targets.conversation.turns]]
text = "menu"
expect = { interactive = "button" }
[[targets.conversation.turns]]
choose = "Orders"
think = "200ms"
expect = { contains = "no open orders", matches = "(?i)^you have no open orders\\.$" }
[[targets.conversation.turns]]
choose = "random"
think = "100ms"
expect = { contains = "a reply this bot never sends" }
"#;
    let text = profile(&url, 10, "1s", &format!("{script}{}", started_bot(&[])));
    let (f, _dir) = common::run_guarded(&text, &[], Duration::from_secs(180));
    let s = stats(&f);
    // 10 conversations of 3 turns: the third chooses any button of the last menu the bot sent (the
    // "Orders" answer is text, so the menu of turn 1 stays the last one shown) and expects what the
    // bot never says.
    assert_eq!((s.conversations, s.completed), (10, 10), "{s:?}");
    assert_eq!((s.turns, s.answered, s.unanswered), (30, 30, 0), "{s:?}");
    let per: Vec<(u64, u64, u64)> = s.per_turn.iter().map(|t| (t.sent, t.answered, t.unmet)).collect();
    assert_eq!(per, vec![(10, 10, 0), (10, 10, 0), (10, 10, 10)], "{:#?}", s.per_turn);
    assert_eq!(s.per_turn[1].turn, "choose \"Orders\"");
    assert_eq!(f.run.targets[0].requests.sent, 10, "the load's requests are the conversations' first turns");
    // Each turn's histogram is in the replies log, beside all turns'.
    let bytes = std::fs::read(f.dir.join("bot.replies.hlog")).unwrap();
    let log = wabench::results::hlog::parse(&bytes).unwrap();
    for (i, n) in [(1, 10u64), (2, 10), (3, 10)] {
        let e = log.entries.iter().find(|e| e.tag.as_deref() == Some(format!("turn_{i}").as_str())).unwrap();
        assert_eq!(e.histogram.len(), n, "turn {i}");
    }
    // The bot saw the picks as Meta shapes them (interactive button replies), and answered each.
    let sim = &f.run.targets[0].extra.as_ref().unwrap()["simulator"];
    assert_eq!(sim["accepted"], 30, "{sim}");
    let runner = &f.run.targets[0].extra.as_ref().unwrap()["conversation_runner"];
    assert_eq!((runner["posted"].as_u64(), runner["post_failures"].as_u64()), (Some(20), Some(0)), "{runner}");
}

#[test]
fn a_conversation_stops_at_a_turn_the_bot_leaves_unanswered() {
    // The endpoint takes every message and never replies: only the first turn of each conversation
    // is ever sent.
    let server = common::start(common::Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let table = own_bot(
        &dir,
        "reply_timeout = \"300ms\"\n[[targets.conversation.turns]]\ntext = \"menu\"\n[[targets.conversation.turns]]\nchoose = \"Orders\"\n",
    );
    let (f, _dir) = common::run_guarded(
        &profile(&format!("http://{}/webhook", server.addr), 10, "1s", &table),
        &[],
        Duration::from_secs(60),
    );
    let s = stats(&f);
    assert_eq!((s.conversations, s.completed, s.turns, s.unanswered), (10, 0, 10, 10), "{s:?}");
    assert_eq!((s.per_turn[1].sent, s.per_turn[1].answered), (0, 0), "{:?}", s.per_turn);
}

/// A conversation target with the reference bot and a Cloud campaign beside it (both at the load's
/// 8 per second: users writing, campaign messages), on one simulated number of `mps` messages per
/// second.
fn campaign_beside_the_bot(mps: u32) -> wabench::results::Run {
    let url = format!("http://127.0.0.1:{}/webhook", free_port());
    let text = format!(
        "{}[[targets]]\nname = \"campaign\"\nkind = \"cloud\"\nbase_url = \"embedded\"\nbeside = \"bot\"\n\
         [simulator.cloud]\nthroughput_mps = {mps}\n[simulator.cloud.pair_limit]\nenabled = false\n",
        profile(&url, 8, "3s", &format!("texts = [\"hi\"]\nreply_timeout = \"5s\"\n{}", started_bot(&[])))
    );
    let (f, _dir) = common::run_guarded(&text, &[], Duration::from_secs(180));
    // Both targets' seconds are in the one timeline, and the one beside left no file of its own.
    let timeline = std::fs::read_to_string(f.dir.join("timeline.csv")).unwrap();
    assert!(timeline.lines().any(|l| l.starts_with("campaign,")) && timeline.lines().any(|l| l.starts_with("bot,")));
    assert!(!std::fs::read_dir(&f.dir).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().contains("partial")));
    f.run
}

#[test]
fn a_campaign_beside_the_bot_shares_the_numbers_throughput() {
    // 8 users/s write and get a reply (16 messages/s) while the campaign sends 8/s: 24/s on a number
    // that carries 10/s (its bucket holds one second's worth), so some sends are throttled (130429),
    // the campaign's or the bot's.
    let run = campaign_beside_the_bot(10);
    assert_eq!(run.targets.len(), 2);
    let bot = run.targets.iter().find(|t| t.name == "bot").unwrap();
    let campaign = run.targets.iter().find(|t| t.name == "campaign").unwrap();
    let s = bot.conversation.as_ref().unwrap();
    let throttled_campaign = campaign.outcomes.iter().find(|o| o.key == "api_130429").map_or(0, |o| o.count);
    let throttled_bot = s.failed_replies.get(&130429).copied().unwrap_or(0);
    assert!(
        throttled_campaign + throttled_bot > 0,
        "the sum passed the number's throughput: {:?} / {s:?}",
        campaign.outcomes
    );
    // They ran at the same time, on one simulator: the bot's simulator saw the campaign's sends.
    let sim = &bot.extra.as_ref().unwrap()["simulator"];
    let accepted = sim["accepted"].as_u64().unwrap();
    assert_eq!(accepted, campaign.requests.ok + s.answered + s.late, "{sim}");
    // The campaign went to the same users; its sends are not counted as the bot's replies.
    assert_eq!(s.replies, s.answered + s.late + throttled_bot, "{s:?}");
    assert_eq!(s.unsolicited, 0, "{s:?}");
    assert!(campaign.extra.as_ref().is_none_or(|e| e.get("simulator").is_none()), "no simulator of its own");

    // The same load on a number that carries 80/s: nothing is throttled.
    let run = campaign_beside_the_bot(80);
    let bot = run.targets.iter().find(|t| t.name == "bot").unwrap();
    let campaign = run.targets.iter().find(|t| t.name == "campaign").unwrap();
    assert!(campaign.outcomes.iter().all(|o| o.key != "api_130429"), "{:?}", campaign.outcomes);
    assert_eq!(bot.conversation.as_ref().unwrap().failed_replies.get(&130429), None);
}
