//! Failures by error code and by path (answered at send, or accepted and then failed in a status
//! webhook), as a text table and an HTML table, for the summary, `report.html` and `compare`.

use std::fmt::Write as _;

use super::html_escape::esc;
use crate::results::TargetResult;
use crate::results::codes;
use crate::results::failures::{self, CodeFailures};
use crate::results::fates::{Delivered, Fates, RATES_EXPLAINED};

/// `"3 / 17"`: at send / in webhooks.
fn cell(f: &CodeFailures) -> String {
    format!("{} / {}", f.at_send, f.in_webhook)
}

/// Rows `(label, cells)` of the failures of `targets` by code; empty when nothing failed.
pub fn rows(targets: &[&TargetResult]) -> Vec<(String, Vec<String>)> {
    let owned: Vec<TargetResult> = targets.iter().map(|t| (*t).clone()).collect();
    failures::codes(&owned)
        .into_iter()
        .map(|code| {
            (
                // The heading row says "(send / webhook)"; the names are explained below the table.
                format!("  {code} {}", codes::name(code)),
                targets.iter().map(|t| cell(&failures::of(t, code))).collect(),
            )
        })
        .collect()
}

/// Rows `(label, cells)` of what became of the messages, send and delivery side by side: sent,
/// failed at send, failed in webhooks, `error_rate`, delivered and lost (each a count and its share
/// of the messages sent).
pub fn fate_rows(targets: &[&TargetResult]) -> Vec<(String, Vec<String>)> {
    let fates: Vec<Fates> = targets.iter().map(|t| Fates::of(t)).collect();
    let cells = |f: &dyn Fn(&Fates) -> String| fates.iter().map(f).collect::<Vec<String>>();
    let tracked =
        |f: &Fates, g: &dyn Fn(&Delivered) -> u64| f.delivery.as_ref().map_or("not tracked".into(), |d| f.show(g(d)));
    vec![
        ("sent".into(), cells(&|f| f.sent.to_string())),
        ("failed at send".into(), cells(&|f| f.show(f.failed_at_send))),
        ("failed in webhooks".into(), cells(&|f| tracked(f, &|d| d.failed))),
        (
            "error_rate (send + webhooks)".into(),
            cells(&|f| match (f.error_rate(), f.tracked()) {
                (None, _) => "-".into(),
                (Some(r), true) => format!("{:.2}%", 100.0 * r),
                (Some(r), false) => format!("{:.2}% (send only)", 100.0 * r),
            }),
        ),
        ("delivered".into(), cells(&|f| tracked(f, &|d| d.delivered))),
        ("lost (no final status)".into(), cells(&|f| tracked(f, &|d| d.lost))),
    ]
}

/// A text table of rows with one column per labelled target.
fn table(title: &str, labels: &[&str], rows: &[(String, Vec<String>)]) -> String {
    let mut out = format!("{title}:\n");
    let w0 = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let widths: Vec<usize> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| rows.iter().map(|r| r.1[i].chars().count()).max().unwrap_or(0).max(l.chars().count()))
        .collect();
    let _ = write!(out, "{:<w0$}", "");
    for (l, w) in labels.iter().zip(&widths) {
        let _ = write!(out, "  {l:>w$}");
    }
    out.push('\n');
    for (label, cells) in rows {
        let _ = write!(out, "{label:<w0$}");
        for (c, w) in cells.iter().zip(&widths) {
            let _ = write!(out, "  {c:>w$}");
        }
        out.push('\n');
    }
    out
}

/// What the codes that failed on `targets` mean: one line each, with the usual cause and what to
/// do (`results::codes`); empty when nothing failed with a code.
pub fn explained(targets: &[&TargetResult]) -> String {
    let owned: Vec<TargetResult> = targets.iter().map(|t| (*t).clone()).collect();
    let mut out = String::new();
    for code in failures::codes(&owned) {
        let _ = match codes::info(code) {
            Some(c) => writeln!(out, "  {code} {}: {}; {}", c.name, c.cause, c.action),
            None => writeln!(out, "  {code}: not a code wabench knows; see Meta's error-code reference"),
        };
    }
    out
}

/// A text table with one column per labelled target: what became of the messages (WhatsApp targets
/// only, else empty), then the failures by code (when any).
pub fn text(labels: &[&str], targets: &[&TargetResult]) -> String {
    let mut out = String::new();
    if targets.iter().any(|t| t.is_whatsapp()) {
        out.push_str(&table("messages: send and delivery", labels, &fate_rows(targets)));
    }
    let rows = rows(targets);
    if !rows.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&table("failures by code (at send / in webhooks)", labels, &rows));
    }
    out
}

/// An HTML table of what became of the messages, send and delivery side by side (WhatsApp targets
/// only, else empty).
pub fn fates_html(labels: &[&str], targets: &[&TargetResult]) -> String {
    if !targets.iter().any(|t| t.is_whatsapp()) {
        return String::new();
    }
    let mut out =
        String::from("<h3>Messages: send and delivery</h3>\n<table class=\"outcomes fates\">\n<thead><tr><th></th>");
    for l in labels {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(l));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (label, cells) in fate_rows(targets) {
        let _ = write!(out, "<tr><th scope=\"row\">{}</th>", esc(&label));
        for c in cells {
            let _ = write!(out, "<td>{}</td>", esc(&c));
        }
        out.push_str("</tr>\n");
    }
    let _ = writeln!(out, "</tbody>\n</table>\n<p class=\"files\">{}</p>", esc(RATES_EXPLAINED));
    out
}

/// An HTML section with the table; a sentence when nothing failed.
pub fn html(labels: &[&str], targets: &[&TargetResult]) -> String {
    let mut out = String::from("<h3>Failures by code: at send / in webhooks</h3>\n");
    let rows = rows(targets);
    if rows.is_empty() {
        out.push_str("<p>No message failed with an API error code.</p>\n");
        return out;
    }
    out.push_str("<table class=\"outcomes failures\">\n<thead><tr><th>code</th><th>name</th>");
    for l in labels {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(l));
    }
    out.push_str("<th>cause</th><th>what to do</th></tr></thead>\n<tbody>\n");
    for (label, cells) in rows {
        let code = label.split_whitespace().next().unwrap_or("");
        let info = code.parse::<i64>().ok().and_then(codes::info);
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{}</th><td>{}</td>",
            esc(code),
            esc(info.map_or("unknown code", |c| c.name))
        );
        for c in cells {
            let _ = write!(out, "<td>{}</td>", esc(&c));
        }
        let _ = write!(
            out,
            "<td>{}</td><td>{}</td>",
            esc(info.map_or("", |c| c.cause)),
            esc(info.map_or("see Meta's error-code reference", |c| c.action))
        );
        out.push_str("</tr>\n");
    }
    out.push_str(
        "</tbody>\n</table>\n<p class=\"files\">At send: attempts answered with the code (retries included). \
         In webhooks: messages the API accepted (200 and a message id) that then failed in a <code>failed</code> \
         status webhook.</p>\n",
    );
    out
}
