//! A bot wabench did not write, driven by a conversation target: `pywa_bot.py`, built on pywa (a
//! third-party Python SDK of the WhatsApp Cloud API). pywa's own webhook server answers the
//! subscription handshake, checks every POST's `X-Hub-Signature-256` with the app secret and parses
//! the user messages and the simulator's status webhooks; pywa's own client sends the replies (an
//! echo, or reply buttons for "menu", each quoting the user's message) to the simulated Graph API
//! wabench serves, and by the users' business-scoped ids, as pywa does by default. Skipped, with a
//! note, when `python3`, pywa or the server it runs on (Starlette and uvicorn) cannot be imported.

use std::process::Command;
use std::time::Duration;

use wabench::results::conversation::REPLY_TAG;

use crate::support::common;

/// The bot, written beside the profile for the run (see its docstring).
const BOT: &str = include_str!("pywa_bot.py");

/// Whether the bot can run here; prints why not.
fn runnable() -> bool {
    let Ok(out) = Command::new("python3").args(["-c", BOT, "--check"]).output() else {
        println!("note: python3 not found; skipping the pywa bot");
        return false;
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    if let Some(why) = stdout.strip_prefix("SKIP") {
        println!("note: pywa or its server cannot be imported ({}); skipping the pywa bot", why.trim());
        return false;
    }
    assert_eq!(stdout.trim(), "ok", "{}", String::from_utf8_lossy(&out.stderr));
    true
}

#[test]
fn a_bot_built_on_pywa_answers_every_turn_through_the_simulator() {
    if !runnable() {
        return;
    }
    let text = format!(
        r#"name = "pywa"
seed = 5
[load]
rate = 10
duration = "2s"
connections = 4
drain = "2s"
[recipients]
country_code = "1"
count = 50
[[targets]]
name = "bot"
kind = "conversation"
url = "http://127.0.0.1:{}/webhook"
[targets.conversation]
texts = ["hi", "menu"]
reply_timeout = "10s"
[targets.conversation.bot]
command = ["python3", "pywa_bot.py"]
ready_timeout = "60s"
[thresholds]
"conversation.unanswered" = "< 1%"
"#,
        crate::conversation::free_port()
    );
    let (f, _dir) = common::run_guarded(&text, &[("pywa_bot.py", BOT.as_bytes())], Duration::from_secs(180));
    let t = &f.run.targets[0];
    let s = t.conversation.as_ref().expect("conversation figures in run.json");
    let log = std::fs::read_to_string(f.dir.join("bot.bot.log")).expect("the bot's output is kept");
    assert_eq!((t.requests.sent, t.requests.ok), (20, 20), "pywa's server took every message: {:?}\n{log}", t.requests);
    assert_eq!((s.turns, s.answered, s.unanswered, s.late, s.not_delivered), (20, 20, 0, 0, 0), "{s:?}\n{log}");
    assert!(s.failed_replies.is_empty(), "{s:?}\n{log}");
    assert_eq!((s.replies, s.unsolicited), (20, 0), "one reply per turn, each matched to its user: {s:?}");
    assert_eq!(s.reply_latency_us.count, s.turns, "every turn's first reply is timed");
    let bytes = std::fs::read(f.dir.join("bot.replies.hlog")).expect("bot.replies.hlog");
    let first = wabench::results::hlog::parse(&bytes)
        .unwrap()
        .entries
        .into_iter()
        .find(|e| e.tag.as_deref() == Some(REPLY_TAG));
    assert_eq!(first.expect("first_reply entry").histogram.len(), s.turns);
    let sim = &t.extra.as_ref().expect("simulator figures")["simulator"];
    assert_eq!(sim["accepted"], 20, "the simulated Cloud API accepted every reply: {sim}");
    assert_eq!(sim["inbound"], 20, "{sim}");
    assert!(f.run.passed, "{:?}", f.run.thresholds);
    // pywa parsed every webhook (the users' messages and the statuses of its replies, whose
    // signatures it checked) and sent an echo for "hi" and reply buttons for "menu".
    assert!(log.contains("pywa bot listening on"), "{log}");
    assert!(!log.contains("Traceback") && !log.contains("ERROR"), "{log}");
    assert!(log.contains("pywa bot stopped: 20 replies sent (10 echo, 10 menu, 0 button), 0 failed"), "{log}");
    assert!(!log.contains(" 0 statuses read"), "the statuses of its replies reached pywa: {log}");
}
