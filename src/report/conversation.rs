//! The report's Conversation section: per conversation target, a table of its user turns, the bot's
//! replies (failed ones by the API's code, with the code's name) and the time to the first reply
//! (p50/p90/p99/max), then the chart of the time to the first reply by percentile. Nothing when no
//! target is a conversation target.

use std::fmt::Write as _;

use super::fmt_us;
use super::html_escape::esc;
use crate::results::TargetResult;
use crate::results::conversation::ConversationStats;
use crate::results::{Summary, codes};

fn share(part: u64, whole: u64) -> String {
    if whole == 0 { format!("{part}") } else { format!("{part} ({:.2}%)", 100.0 * part as f64 / whole as f64) }
}

fn reply(s: &Summary, f: fn(&Summary) -> u64) -> String {
    if s.count == 0 { "-".into() } else { fmt_us(f(s) as f64) }
}

fn timeout(ms: u64) -> String {
    if ms.is_multiple_of(1000) { format!("{} s", ms / 1000) } else { format!("{ms} ms") }
}

/// The figures of one target, as (label, value) rows.
pub(crate) fn rows(s: &ConversationStats) -> Vec<(String, String)> {
    let mut rows = vec![
        ("turns (user messages the endpoint took)".to_string(), s.turns.to_string()),
        ("answered (a reply accepted within the timeout)".into(), share(s.answered, s.turns)),
        ("unanswered".into(), share(s.unanswered, s.turns)),
        ("  of which late (first reply after the timeout)".into(), s.late.to_string()),
        ("replies".into(), s.replies.to_string()),
        ("replies per turn".into(), format!("{:.2}", s.replies_per_turn())),
        ("failed replies".into(), share(s.failed(), s.replies)),
    ];
    for (code, n) in &s.failed_replies {
        rows.push((format!("  {code} {}", codes::name(*code)), n.to_string()));
    }
    rows.extend([
        ("unsolicited sends (no turn waiting)".into(), s.unsolicited.to_string()),
        ("not delivered (the endpoint refused the message)".into(), s.not_delivered.to_string()),
        ("reply timeout".into(), timeout(s.reply_timeout_ms)),
        ("first reply p50".into(), reply(&s.reply_latency_us, |s| s.p50)),
        ("first reply p90".into(), reply(&s.reply_latency_us, |s| s.p90)),
        ("first reply p99".into(), reply(&s.reply_latency_us, |s| s.p99)),
        ("first reply max".into(), reply(&s.reply_latency_us, |s| s.max)),
    ]);
    rows
}

/// A scripted conversation's turns, one row each: sent, answered, unanswered, expectation unmet, and
/// the time to the first reply.
fn turns_table(out: &mut String, s: &ConversationStats) {
    if s.per_turn.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<p>{} conversations started, {} completed (every turn answered in time).</p>\n\
         <table class=\"conversation turns\">\n<thead><tr><th scope=\"col\">turn</th><th scope=\"col\">sent</th>\
         <th scope=\"col\">answered</th><th scope=\"col\">unanswered</th><th scope=\"col\">expectation unmet</th>\
         <th scope=\"col\">first reply p50</th><th scope=\"col\">p99</th><th scope=\"col\">max</th></tr></thead>\n<tbody>",
        s.conversations, s.completed
    );
    for (i, t) in s.per_turn.iter().enumerate() {
        let l = &t.reply_latency_us;
        let _ = writeln!(
            out,
            "<tr><th scope=\"row\">{} {}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            i + 1,
            esc(&t.turn),
            t.sent,
            t.answered,
            t.unanswered,
            t.unmet,
            reply(l, |s| s.p50),
            reply(l, |s| s.p99),
            reply(l, |s| s.max)
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

/// The section (nothing when no target has conversation figures); `chart` writes the time-to-first-reply
/// chart after the tables (when it was drawn).
pub(crate) fn section(out: &mut String, targets: &[TargetResult], chart: &dyn Fn(&mut String)) {
    if targets.iter().all(|t| t.conversation.is_none()) {
        return;
    }
    out.push_str(
        "<section id=\"conversation\">\n<h2>Conversation</h2>\n<p class=\"files\">Each user message (a turn) waits \
         for the bot's reply; its time to the first reply runs from the moment the message was due to be sent. \
         The <code>requests</code> figures above are the webhook POSTs.</p>\n",
    );
    for t in targets {
        let Some(s) = &t.conversation else { continue };
        let _ = write!(
            out,
            "<h3>{}</h3>\n<table class=\"conversation\">\n<thead><tr><th></th><th scope=\"col\">{}</th></tr></thead>\n\
             <tbody>\n",
            esc(&t.name),
            esc(&t.name)
        );
        for (label, value) in rows(s) {
            let _ = writeln!(out, "<tr><th scope=\"row\">{}</th><td>{}</td></tr>", esc(&label), esc(&value));
        }
        out.push_str("</tbody>\n</table>\n");
        turns_table(out, s);
    }
    chart(out);
    out.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_gets_a_row_per_turn() {
        let mut s = ConversationStats { turns: 4, answered: 3, conversations: 2, completed: 1, ..Default::default() };
        s.per_turn = vec![
            crate::results::conversation::TurnStats {
                turn: "\"menu\"".into(),
                sent: 2,
                answered: 2,
                ..Default::default()
            },
            crate::results::conversation::TurnStats {
                turn: "choose \"Orders\"".into(),
                sent: 2,
                answered: 1,
                unanswered: 1,
                unmet: 1,
                ..Default::default()
            },
        ];
        let mut out = String::new();
        turns_table(&mut out, &s);
        assert!(out.contains("2 conversations started, 1 completed"), "{out}");
        assert!(
            out.contains("<th scope=\"row\">2 choose &quot;Orders&quot;</th><td>2</td><td>1</td><td>1</td><td>1</td>"),
            "{out}"
        );
        let mut none = String::new();
        turns_table(&mut none, &ConversationStats::default());
        assert!(none.is_empty());
    }

    #[test]
    fn failed_replies_are_named_and_shares_are_of_the_turns() {
        let s = ConversationStats {
            turns: 200,
            answered: 190,
            unanswered: 10,
            late: 3,
            replies: 400,
            failed_replies: [(131047, 4)].into(),
            reply_timeout_ms: 1500,
            ..Default::default()
        };
        let rows = rows(&s);
        let get = |l: &str| rows.iter().find(|r| r.0.starts_with(l)).map(|r| r.1.clone()).unwrap();
        assert_eq!(get("unanswered"), "10 (5.00%)");
        assert_eq!(get("replies per turn"), "2.00");
        assert_eq!(get("failed replies"), "4 (1.00%)");
        assert_eq!(get("  131047"), "4");
        assert!(rows.iter().any(|r| r.0 == format!("  131047 {}", codes::name(131047))), "{rows:?}");
        assert_eq!(get("reply timeout"), "1500 ms");
        assert_eq!(get("first reply p99"), "-");
    }
}
