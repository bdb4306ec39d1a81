//! The end-of-run terminal summary: one column per target, so two deployments read side by side.

use std::io::{self, Write};

use super::fmt_us;
use crate::results::conversation::ConversationStats;
use crate::results::{Fates, Run, TargetResult};

/// Write the summary table of `run`.
pub fn write(run: &Run, out: &mut impl Write) -> io::Result<()> {
    let mut rows = Rows { run, rows: Vec::new() };
    rows.counts();
    rows.latency();
    rows.webhook_slo();
    rows.delivery();
    rows.conversation();
    rows.outcomes();
    rows.write(out)?;
    notes(run, out)
}

/// The summary's table: a label and one cell per target on each row.
struct Rows<'a> {
    run: &'a Run,
    rows: Vec<(String, Vec<String>)>,
}

impl Rows<'_> {
    fn row(&mut self, label: &str, f: &dyn Fn(&TargetResult) -> String) {
        self.rows.push((label.to_string(), self.run.targets.iter().map(f).collect()));
    }

    /// Who, how long, and what became of the requests (and, on WhatsApp, the messages).
    fn counts(&mut self) {
        let run = self.run;
        let mut row = |label: &str, f: &dyn Fn(&TargetResult) -> String| self.row(label, f);
        row("target", &|t| t.name.clone());
        row("model", &|t| format!("{} ({} conn)", t.model, t.connections));
        row("duration", &|t| format!("{:.1}s", t.duration_s));
        let whatsapp = run.targets.iter().any(TargetResult::is_whatsapp);
        row("sent", &|t| t.requests.sent.to_string());
        row("ok", &|t| t.requests.ok.to_string());
        // Messages, each counted once: the send's answer, then (WhatsApp) what the status webhooks said.
        row(if whatsapp { "failed at send" } else { "errors" }, &|t| {
            let f = Fates::of(t);
            f.show(f.failed_at_send)
        });
        if whatsapp {
            row("failed in webhooks", &|t| if t.is_whatsapp() { Fates::of(t).show_in_webhook() } else { "-".into() });
            row("error_rate (send + webhooks)", &|t| {
                let f = Fates::of(t);
                match (f.error_rate(), f.tracked() || !t.is_whatsapp()) {
                    (None, _) => "-".into(),
                    (Some(r), true) => format!("{:.2}%", 100.0 * r),
                    (Some(r), false) => format!("{:.2}% (send only)", 100.0 * r),
                }
            });
        }
        row("dropped", &|t| t.requests.dropped.to_string());
        let stages = super::stages_text(run);
        let steered = !run.operator.is_empty();
        row("rate requested", &|t| match (t.rate.requested, &stages) {
            (Some(r), Some(s)) if t.imported.is_none() && steered => format!("{s}; steered: mean {r:.1}/s"),
            (Some(r), Some(s)) if t.imported.is_none() && t.interrupted => {
                format!("{s} (mean {r:.1}/s until it stopped)")
            }
            (Some(r), Some(s)) if t.imported.is_none() => format!("{s} (mean {r:.1}/s)"),
            (Some(r), _) => format!("{r:.1}/s"),
            (None, _) => "-".into(),
        });
        row("rate achieved", &|t| match t.rate.ratio {
            Some(q) => format!("{:.1}/s ({:.2}%)", t.rate.achieved, q * 100.0),
            None => format!("{:.1}/s", t.rate.achieved),
        });
    }

    /// Latency from the intended start, service time, lateness, retries and resends.
    fn latency(&mut self) {
        let run = self.run;
        let mut row = |label: &str, f: &dyn Fn(&TargetResult) -> String| self.row(label, f);
        let lat = |f: fn(&crate::results::Summary) -> u64| {
            move |t: &crate::results::TargetResult| {
                if t.latency_us.count == 0 { "-".into() } else { fmt_us(f(&t.latency_us) as f64) }
            }
        };
        row("latency p50", &lat(|s| s.p50));
        row("latency p90", &lat(|s| s.p90));
        row("latency p99", &lat(|s| s.p99));
        row("latency p99.9", &lat(|s| s.p999));
        row("latency max", &lat(|s| s.max));
        row("service p99", &|t| {
            if t.service_time_us.count == 0 { "-".into() } else { fmt_us(t.service_time_us.p99 as f64) }
        });
        row("start lateness p99", &|t| {
            if t.lateness_us.count == 0 { "-".into() } else { fmt_us(t.lateness_us.p99 as f64) }
        });
        if run.targets.iter().any(|t| t.requests.retries > 0) {
            row("retries", &|t| t.requests.retries.to_string());
            row("error answers (attempts)", &|t| t.requests.errors.to_string());
        }
        // Requests written twice are never silent: shown even when none were.
        row("resent", &|t| t.requests.resent.to_string());
        if run.targets.iter().any(|t| t.requests.ambiguous > 0) {
            row("fate unknown", &|t| {
                if t.requests.ambiguous == 0 {
                    "0".into()
                } else {
                    format!(
                        "{} (written, unanswered: {})",
                        t.requests.ambiguous,
                        crate::results::files::ambiguous_name(&t.name)
                    )
                }
            });
        }
    }

    /// A webhook target against Meta's expectations of webhook servers.
    fn webhook_slo(&mut self) {
        let run = self.run;
        let mut row = |label: &str, f: &dyn Fn(&TargetResult) -> String| self.row(label, f);
        if run.targets.iter().any(|t| t.webhook_slo.is_some()) {
            let w = |f: fn(&crate::results::WebhookSlo) -> String| {
                move |t: &crate::results::TargetResult| t.webhook_slo.as_ref().map_or("-".into(), f)
            };
            row("200 within 250 ms", &w(|s| format!("{:.2}%", 100.0 * s.share_within_250ms)));
            row("over 1 s or not 200", &w(|s| format!("{:.2}%", 100.0 * s.share_over_1s)));
            row("Meta webhook expectation", &w(|s| if s.meets { "meets".into() } else { "misses".into() }));
        }
    }

    /// What the status webhooks said of the messages.
    fn delivery(&mut self) {
        let run = self.run;
        let mut row = |label: &str, f: &dyn Fn(&TargetResult) -> String| self.row(label, f);
        if run.targets.iter().any(|t| t.delivery.is_some()) {
            let d = |f: fn(&crate::results::DeliveryStats) -> String| {
                move |t: &crate::results::TargetResult| t.delivery.as_ref().map_or("-".into(), f)
            };
            fn pct(p: &crate::results::Summary) -> String {
                if p.count == 0 { "-".into() } else { format!("{} / {}", fmt_us(p.p50 as f64), fmt_us(p.p99 as f64)) }
            }
            row("delivered", &d(|s| format!("{} of {}", s.messages_delivered, s.accepted)));
            row("failed (webhook)", &d(|s| s.messages_failed.to_string()));
            row("no final status (lost)", &d(|s| s.lost.to_string()));
            row("accept→sent p50/p99", &d(|s| pct(&s.latency_us.accept_to_sent)));
            row("accept→delivered p50/p99", &d(|s| pct(&s.latency_us.accept_to_delivered)));
            row("accept→read p50/p99", &d(|s| pct(&s.latency_us.accept_to_read)));
            row("status repeats / out of order", &d(|s| format!("{} / {}", s.duplicates, s.out_of_order)));
            row("delivered, then failed", &d(|s| s.delivered_and_failed.to_string()));
            if run.targets.iter().any(|t| t.delivery.as_ref().is_some_and(|d| d.inbound_messages > 0)) {
                row("inbound messages", &d(|s| s.inbound_messages.to_string()));
            }
            // Users known by their business-scoped user ID alone (2026 usernames).
            let phoneless = |d: &crate::results::DeliveryStats| {
                d.identities.statuses_without_phone + d.identities.inbound_without_phone > 0
            };
            if run.targets.iter().any(|t| t.delivery.as_ref().is_some_and(phoneless)) {
                row(
                    "statuses / inbound without phone",
                    &d(|s| format!("{} / {}", s.identities.statuses_without_phone, s.identities.inbound_without_phone)),
                );
            }
        }
    }

    /// A conversation target: the user turns, the bot's replies and the time to its first reply.
    fn conversation(&mut self) {
        if !self.run.targets.iter().any(|t| t.conversation.is_some()) {
            return;
        }
        let c =
            |f: fn(&ConversationStats) -> String| move |t: &TargetResult| t.conversation.as_ref().map_or("-".into(), f);
        self.row("turns (user messages taken)", &c(|s| s.turns.to_string()));
        self.row("answered", &c(|s| s.answered.to_string()));
        self.row(
            "unanswered",
            &c(|s| match s.late {
                0 => format!("{} ({:.2}%)", s.unanswered, 100.0 * s.unanswered_rate()),
                late => format!("{} ({:.2}%, {late} late)", s.unanswered, 100.0 * s.unanswered_rate()),
            }),
        );
        self.row("replies per turn", &c(|s| format!("{:.2}", s.replies_per_turn())));
        self.row("replies failed", &c(|s| s.failed().to_string()));
        let reply = |f: fn(&crate::results::Summary) -> u64| {
            move |t: &TargetResult| match &t.conversation {
                Some(s) if s.reply_latency_us.count > 0 => fmt_us(f(&s.reply_latency_us) as f64),
                _ => "-".into(),
            }
        };
        self.row("first reply p50", &reply(|s| s.p50));
        self.row("first reply p90", &reply(|s| s.p90));
        self.row("first reply p99", &reply(|s| s.p99));
        self.row("first reply max", &reply(|s| s.max));
        if self.run.targets.iter().any(|t| t.conversation.as_ref().is_some_and(|c| c.conversations > 0)) {
            self.row("conversations completed", &c(|s| format!("{} of {}", s.completed, s.conversations)));
        }
        let turns = self.run.targets.iter().filter_map(|t| t.conversation.as_ref()).map(|c| c.per_turn.len()).max();
        for i in 0..turns.unwrap_or(0) {
            self.row(&format!("  turn {}: answered / unmet / p99", i + 1), &|t| {
                let Some(ts) = t.conversation.as_ref().and_then(|c| c.per_turn.get(i)) else { return "-".into() };
                let p99 =
                    if ts.reply_latency_us.count == 0 { "-".into() } else { fmt_us(ts.reply_latency_us.p99 as f64) };
                format!("{}: {} of {} / {} / {p99}", ts.turn, ts.answered, ts.sent, ts.unmet)
            });
        }
        let mut codes: Vec<i64> = self
            .run
            .targets
            .iter()
            .flat_map(|t| t.conversation.iter().flat_map(|s| s.failed_replies.keys().copied()))
            .collect();
        codes.sort_unstable();
        codes.dedup();
        for code in codes {
            let name = crate::results::codes::info(code).map_or(String::new(), |e| format!(" {}", e.name));
            self.row(&format!("  reply failed {code}{name}"), &|t| {
                t.conversation
                    .as_ref()
                    .map_or("-".into(), |s| s.failed_replies.get(&code).copied().unwrap_or(0).to_string())
            });
        }
    }

    /// Connection phases, failures by code and every outcome key.
    fn outcomes(&mut self) {
        let run = self.run;
        let rows = &mut self.rows;
        rows.extend(super::phases::summary_rows(&run.targets));
        let targets: Vec<&crate::results::TargetResult> = run.targets.iter().collect();
        let failures = super::failures::rows(&targets);
        if !failures.is_empty() {
            rows.push(("failed by code (send / webhook)".into(), run.targets.iter().map(|_| String::new()).collect()));
            rows.extend(failures);
        }
        let mut keys: Vec<&str> =
            run.targets.iter().flat_map(|t| t.outcomes.iter().map(|o| o.key.as_str())).filter(|k| *k != "ok").collect();
        keys.sort_unstable();
        keys.dedup();
        if !keys.is_empty() {
            rows.push((
                "attempts by outcome, other than ok".into(),
                run.targets.iter().map(|_| String::new()).collect(),
            ));
        }
        for k in keys {
            rows.push((
                format!("  {k}"),
                run.targets
                    .iter()
                    .map(|t| t.outcomes.iter().find(|o| o.key == k).map_or("0".into(), |o| o.count.to_string()))
                    .collect(),
            ));
        }
    }

    fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let (run, rows) = (self.run, &self.rows);
        let w0 = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
        let widths: Vec<usize> =
            (0..run.targets.len()).map(|i| rows.iter().map(|r| r.1[i].chars().count()).max().unwrap_or(0)).collect();
        for (label, cells) in rows {
            write!(out, "{label:<w0$}")?;
            for (c, w) in cells.iter().zip(&widths) {
                write!(out, "  {c:>w$}")?;
            }
            writeln!(out)?;
        }
        Ok(())
    }
}

/// What follows the table: interruptions, what the codes mean, bottlenecks, delivery not tracked,
/// the thresholds' verdicts.
fn notes(run: &Run, out: &mut impl Write) -> io::Result<()> {
    let targets: Vec<&TargetResult> = run.targets.iter().collect();
    let whatsapp = run.targets.iter().any(TargetResult::is_whatsapp);
    if run.interrupted {
        writeln!(out, "\nThe run was interrupted: figures cover what ran.")?;
        if run.targets.iter().any(|t| t.delivery.as_ref().is_some_and(|d| d.lost > 0)) {
            writeln!(
                out,
                "It stopped waiting for status webhooks: messages still waiting then count under \
                 \"no final status (lost)\"; they may yet be delivered."
            )?;
        }
    }
    if !run.operator.is_empty() {
        writeln!(out, "\nsteered from the dashboard:")?;
        for a in &run.operator {
            let at = match (&a.target, a.target_s) {
                (Some(t), Some(s)) => format!(" ({t} at {s:.1} s)"),
                _ => String::new(),
            };
            writeln!(out, "  {:.1} s{at}: {}", a.at_s, a.describe())?;
        }
    }
    for t in &run.targets {
        numbers(t, out)?;
    }
    let explained = super::failures::explained(&targets);
    if !explained.is_empty() {
        writeln!(out, "\nwhat the codes mean (failures.csv lists each failure):\n{}", explained.trim_end())?;
    }
    for t in &run.targets {
        if let Some(note) = bottleneck(t) {
            writeln!(out, "\n{note}")?;
        }
    }
    super::cost::text(&run.targets, out)?;
    for t in run.targets.iter().filter(|t| t.is_whatsapp() && t.delivery.is_none()) {
        let how = if t.url == "embedded" {
            "[webhooks] enabled = false turned it off"
        } else {
            "add a [webhooks] table with a callback URL Meta can reach"
        };
        writeln!(
            out,
            "\n{}: delivery not tracked (no status webhooks): messages accepted and then failed are not counted; {how}.",
            t.name
        )?;
    }
    if !run.thresholds.is_empty() {
        writeln!(out, "\nthresholds:")?;
        for v in &run.thresholds {
            writeln!(
                out,
                "  {} {:<40} {:<12} actual {}",
                if v.passed { "PASS" } else { "FAIL" },
                v.threshold,
                v.target,
                v.shown
            )?;
        }
    }
    if whatsapp {
        writeln!(out, "\n{}", crate::results::fates::RATES_EXPLAINED)?;
    }
    Ok(())
}

/// A target with several sending numbers: each number's messages, accepted rate and failures at send
/// and in webhooks, then what the numbers share.
fn numbers(t: &TargetResult, out: &mut impl Write) -> io::Result<()> {
    use crate::results::numbers::{self, counts_text};
    let rows = numbers::of(t);
    if rows.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n{}: {} sending numbers", t.name, rows.len())?;
    let mut table = vec![[
        "number".to_string(),
        "messages".into(),
        "ok".into(),
        "ok/s".into(),
        "failed at send".into(),
        "delivered".into(),
        "failed in webhooks".into(),
    ]];
    for r in &rows {
        let d = r.delivery.as_ref();
        table.push([
            r.id.clone(),
            r.messages.to_string(),
            r.ok.to_string(),
            format!("{:.1}", r.ok_rate),
            counts_text(&r.failed_at_send),
            d.map_or("-".into(), |d| d.delivered.to_string()),
            d.map_or("-".into(), |d| counts_text(&d.failed_by_code)),
        ]);
    }
    let widths: Vec<usize> = (0..7).map(|c| table.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    for r in &table {
        write!(out, "  {:<w$}", r[0], w = widths[0])?;
        for (c, w) in r.iter().zip(&widths).skip(1) {
            write!(out, "  {c:>w$}")?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "  each number has its own throughput and pair limits; the business portfolio's messaging limit \
         (unique users per 24 h) is one for all of them, so more numbers do not lift it"
    )
}

/// Lateness (p99) above which a run is said to have fallen behind its schedule.
const LATE_P99_US: u64 = 50_000;

/// When wabench itself held the load back (an open-loop target whose requests started late, or were
/// dropped at the in-flight cap), what to raise: by Little's law the requests in flight are about the
/// rate × the service time.
pub fn bottleneck(t: &TargetResult) -> Option<String> {
    let late = t.lateness_us.count > 0 && t.lateness_us.p99 >= LATE_P99_US;
    let dropped = t.requests.dropped;
    if t.model != "open" || (!late && dropped == 0) {
        return None;
    }
    let rate = t.rate.requested.unwrap_or(t.rate.achieved);
    let service_s = t.service_time_us.p99 as f64 / 1e6;
    let needed = (rate * service_s).ceil() as u64;
    let mut what = Vec::new();
    if late {
        what.push(format!("requests started late (late p99 {})", fmt_us(t.lateness_us.p99 as f64)));
    }
    if dropped > 0 {
        what.push(format!("{dropped} requests were dropped at the in-flight cap (max_in_flight)"));
    }
    let conns = if needed > u64::from(t.connections) {
        format!(
            "raise [load] connections from {} to about {} (Little's law: {rate:.0}/s × service p99 {}), and max_in_flight with it",
            t.connections,
            needed,
            fmt_us(t.service_time_us.p99 as f64)
        )
    } else {
        format!(
            "the {} connections were enough for {rate:.0}/s at service p99 {}: raise [load] threads (now {}) if \
             wabench's CPU was busy, or max_in_flight if requests were dropped",
            t.connections,
            fmt_us(t.service_time_us.p99 as f64),
            t.threads
        )
    };
    Some(format!("{}: wabench was the bottleneck, not the target: {}; {conns}.", t.name, what.join(" and ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(late_p99_us: u64, dropped: u64, service_p99_us: u64) -> TargetResult {
        let sum = |p99: u64| serde_json::json!({"count": 100, "min": 0, "mean": 0.0, "stdev": 0.0, "p50": 0, "p90": 0, "p99": p99, "p999": p99, "max": p99});
        serde_json::from_value(serde_json::json!({
            "name": "t", "kind": "cloud", "url": "embedded", "model": "open", "connections": 8, "threads": 2,
            "started_at": "2025-01-01T00:00:00Z", "duration_s": 10.0, "interrupted": false,
            "requests": {"planned": 4000, "sent": 4000, "ok": 4000, "errors": 0, "dropped": dropped, "cancelled": 0},
            "rate": {"requested": 400.0, "achieved": 390.0, "ratio": 0.975},
            "latency_us": sum(service_p99_us), "service_time_us": sum(service_p99_us),
            "lateness_us": sum(late_p99_us), "outcomes": [], "hlog": "t.hlog"
        }))
        .unwrap()
    }

    #[test]
    fn a_late_schedule_names_the_connections_to_use() {
        let note = bottleneck(&target(200_000, 0, 100_000)).unwrap();
        assert!(note.contains("wabench was the bottleneck"), "{note}");
        assert!(note.contains("from 8 to about 40"), "400/s × 100 ms: {note}");
        let note = bottleneck(&target(0, 12, 10_000)).unwrap();
        assert!(note.contains("12 requests were dropped") && note.contains("threads (now 2)"), "{note}");
        assert!(!note.contains("  "), "one space between words: {note}");
        assert_eq!(bottleneck(&target(1_000, 0, 100_000)), None, "on time, nothing dropped");
    }
}
