//! The self-contained HTML report of one run (`report.html`): metadata, a side-by-side table per
//! target, errors by code, thresholds, then the charts inlined as SVG, with an inline script for hover
//! values and legend toggles ([`super::interactive`]). No network; text from the run is escaped; the
//! output depends only on the run (no clock, sorted keys).

use std::fmt::Write as _;

use super::fmt_us;
use super::html_escape::esc;
use super::render::Rendered;
use crate::results::Summary;
use crate::results::folder::RunData;
use crate::results::{Fates, TargetResult};

/// The shared style sheet of the run and comparison reports.
pub const CSS: &str = "\
:root{--ink:#1d1d1f;--muted:#5f6368;--line:#d9dce1;--head:#f3f5f8;--ok:#0b6b3a;--ok-bg:#e3f4ea;\
--bad:#a12a00;--bad-bg:#fde9e1;--warn:#7a5200;--warn-bg:#fff3d6}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;color:var(--ink);\
margin:0 auto;padding:24px 32px 48px;max-width:1100px;line-height:1.45}
h1{font-size:1.8rem;margin:0 0 4px}h2{font-size:1.3rem;margin:32px 0 10px;border-bottom:2px solid var(--line);\
padding-bottom:4px}h3{font-size:1.05rem;margin:18px 0 6px}
p.desc{color:var(--muted);margin:0 0 12px}
.badges{display:flex;flex-wrap:wrap;gap:8px;margin:10px 0}
.badge{display:inline-block;padding:4px 12px;border-radius:999px;font-weight:600;font-size:.95rem}
.pass{color:var(--ok);background:var(--ok-bg)}.fail{color:var(--bad);background:var(--bad-bg)}\
.warn{color:var(--warn);background:var(--warn-bg)}.neutral{color:var(--muted);background:var(--head)}
.alert{border-left:4px solid var(--bad);background:var(--bad-bg);color:var(--bad);padding:8px 12px;margin:8px 0;\
font-weight:600}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:4px 18px;margin:0}
dl.meta dt{color:var(--muted)}dl.meta dd{margin:0;word-break:break-all}
table{border-collapse:collapse;margin:6px 0 12px;font-variant-numeric:tabular-nums}
th,td{border:1px solid var(--line);padding:5px 10px;text-align:right;vertical-align:top}
th{background:var(--head)}th:first-child,td:first-child{text-align:left}
td.l,th.l{text-align:left}tr.group td{background:#fafbfc;font-weight:600;text-align:left}
td.pass,td.fail,td.warn,td.neutral{font-weight:600;text-align:center}
figure{margin:18px 0 30px}figcaption{margin:6px 0 2px;color:var(--muted)}
figure svg{display:block;width:100%;max-width:960px;height:auto;border:1px solid var(--line)}
.files{font-size:.9rem;color:var(--muted)}
footer{margin-top:40px;color:var(--muted);font-size:.85rem}
@media print{body{padding:0}figure{break-inside:avoid}}
";

/// `<!DOCTYPE html>` up to and including `<body>`.
pub fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n\
         <style>\n{CSS}{}</style>\n</head>\n<body>\n",
        esc(title),
        super::interactive::STYLE
    )
}

/// A chart: the SVG inline (it carries its own title), its values for the page script, how to read
/// it, and links to the files beside the report.
pub fn figure(out: &mut String, r: &Rendered) {
    let _ = write!(
        out,
        "<figure id=\"{stem}\" aria-label=\"{title}\">\n{svg}\n\
         <script type=\"application/json\" class=\"wb-data\">{data}</script>\n\
         <p class=\"wb-hint\" hidden>Point at the chart for its values; click a legend entry to hide or show \
         its series.</p>\n<figcaption>{caption}</figcaption>\n\
         <p class=\"files\">Files: <a href=\"{stem}.png\">{stem}.png</a> · <a href=\"{stem}.svg\">{stem}.svg</a></p>\n\
         </figure>\n",
        stem = esc(&r.stem),
        title = esc(&r.title),
        caption = esc(&r.caption),
        svg = r.svg.trim(),
        data = r.data,
    );
}

/// The page script of the charts' hover values and legend toggles: once per page, after the charts.
pub fn script(out: &mut String) {
    let _ = write!(out, "<script>\n{}</script>\n", super::interactive::SCRIPT);
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 { "-".into() } else { format!("{:.2}%", 100.0 * part as f64 / whole as f64) }
}

fn lat(s: &Summary, f: fn(&Summary) -> u64) -> String {
    if s.count == 0 { "-".into() } else { fmt_us(f(s) as f64) }
}

/// One table row: a label and one cell per target.
fn row(out: &mut String, label: &str, cells: impl Iterator<Item = String>) {
    let _ = write!(out, "<tr><th scope=\"row\">{}</th>", esc(label));
    for c in cells {
        let _ = write!(out, "<td>{}</td>", esc(&c));
    }
    out.push_str("</tr>\n");
}

fn group(out: &mut String, label: &str, cols: usize) {
    let _ = writeln!(out, "<tr class=\"group\"><td colspan=\"{}\">{}</td></tr>", cols + 1, esc(label));
}

/// Alerts for targets that got no successful response.
fn alerts(out: &mut String, targets: &[TargetResult]) {
    for t in targets {
        let msg = if t.requests.sent == 0 {
            format!("{}: no request was sent.", t.name)
        } else if t.requests.ok == 0 {
            format!("{}: no successful requests ({} sent, none succeeded).", t.name, t.requests.sent)
        } else {
            continue;
        };
        let _ = writeln!(out, "<p class=\"alert\">{}</p>", esc(&msg));
    }
}

fn verdict_badges(out: &mut String, data: &RunData) {
    let run = &data.run;
    out.push_str("<div class=\"badges\">");
    let failed = run.thresholds.iter().filter(|v| !v.passed).count();
    if run.thresholds.is_empty() {
        out.push_str("<span class=\"badge neutral\">No thresholds</span>");
    } else if failed == 0 {
        let _ = write!(out, "<span class=\"badge pass\">✔ All {} thresholds passed</span>", run.thresholds.len());
    } else {
        let _ =
            write!(out, "<span class=\"badge fail\">✘ {failed} of {} thresholds failed</span>", run.thresholds.len());
    }
    if run.interrupted {
        out.push_str("<span class=\"badge warn\">Interrupted: figures cover what ran</span>");
    }
    // Send and delivery outcomes side by side: each message counted once, by where it failed.
    let fates: Vec<Fates> = run.targets.iter().map(Fates::of).collect();
    let sent: u64 = fates.iter().map(|f| f.sent).sum();
    let at_send: u64 = fates.iter().map(|f| f.failed_at_send).sum();
    let in_webhooks: u64 = fates.iter().map(Fates::failed_in_webhook).sum();
    let dropped: u64 = run.targets.iter().map(|t| t.requests.dropped).sum();
    let cls = |n: u64| if n > 0 { "fail" } else { "pass" };
    let whatsapp = run.targets.iter().any(TargetResult::is_whatsapp);
    let _ = write!(
        out,
        "<span class=\"badge {}\">{at_send} {} ({})</span>",
        cls(at_send),
        if whatsapp { "failed at send" } else { "errors" },
        pct(at_send, sent)
    );
    if fates.iter().any(Fates::tracked) {
        let _ = write!(
            out,
            "<span class=\"badge {}\">{in_webhooks} failed in webhooks ({})</span>",
            cls(in_webhooks),
            pct(in_webhooks, sent)
        );
    }
    let untracked: Vec<&str> =
        run.targets.iter().filter(|t| t.is_whatsapp() && t.delivery.is_none()).map(|t| t.name.as_str()).collect();
    if !untracked.is_empty() {
        let _ = write!(out, "<span class=\"badge warn\">Delivery not tracked: {}</span>", esc(&untracked.join(", ")));
    }
    if dropped > 0 {
        let _ = write!(out, "<span class=\"badge warn\">{dropped} dropped</span>");
    }
    out.push_str("</div>\n");
}

fn metadata(out: &mut String, data: &RunData) {
    let run = &data.run;
    let m = &run.machine;
    let duration = (run.ended_at - run.started_at).num_milliseconds() as f64 / 1000.0;
    let items: Vec<(&str, String)> = vec![
        ("Profile file", run.profile_file.clone()),
        ("Started", run.started_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        ("Ended", format!("{} ({duration:.1} s)", run.ended_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))),
        ("Interrupted", if run.interrupted { "yes: stopped early".into() } else { "no".into() }),
        ("Seed", run.seed.to_string()),
        ("Machine", format!("{} ({}/{}, {} CPUs)", m.hostname, m.os, m.arch, m.cpus)),
        ("Tool", format!("{} {}", run.tool.name, run.tool.version)),
    ];
    out.push_str("<section id=\"run\">\n<h2>Run</h2>\n<dl class=\"meta\">\n");
    for (k, v) in items {
        let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(&v));
    }
    out.push_str("</dl>\n</section>\n");
}

/// What an imported run was read from, what its source gave and did not give.
fn imported(out: &mut String, data: &RunData) {
    let Some(imp) = &data.run.imported else { return };
    let _ = writeln!(
        out,
        "<section id=\"imported\">\n<h2>Imported from {}</h2>\n<p>{}</p>",
        esc(&imp.tool),
        if imp.per_request {
            "Per-request results: the per-second histograms are exact."
        } else {
            "Aggregates only: the percentiles the tool printed, no per-second histograms; comparisons give ratios \
             without intervals."
        }
    );
    let lists: [(&str, Vec<String>); 4] = [
        ("Files", imp.files.clone()),
        ("In the source", imp.available.clone()),
        ("Not in the source", imp.unavailable.clone()),
        ("Notes", imp.notes.clone()),
    ];
    for (title, items) in lists.iter().filter(|(_, v)| !v.is_empty()) {
        let _ = writeln!(out, "<h3>{}</h3>\n<ul>", esc(title));
        for i in items {
            let _ = writeln!(out, "<li>{}</li>", esc(i));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("<h3>Targets</h3>\n<ul>\n");
    for t in &data.run.targets {
        if let Some(i) = &t.imported {
            let from =
                if i.is_service_time() { "service time, from the actual send" } else { "from the intended start" };
            let _ = writeln!(out, "<li>{}: label \u{201c}{}\u{201d}, latency {from}</li>", esc(&t.name), esc(&i.label));
        }
    }
    out.push_str("</ul>\n</section>\n");
}

fn summary_table(out: &mut String, targets: &[TargetResult], stages: Option<&str>) {
    summary_head(out, targets);
    setup_rows(out, targets);
    request_rows(out, targets);
    rate_rows(out, targets, stages);
    latency_rows(out, targets);
    service_time_rows(out, targets);
    if targets.iter().any(|t| t.webhook_slo.is_some()) {
        webhook_slo_rows(out, targets);
    }
    if targets.iter().any(|t| t.delivery.is_some()) {
        delivery_rows(out, targets);
    }
    out.push_str("</tbody>\n</table>\n");
    outcomes_table(out, targets);
    let labels: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
    out.push_str(&super::failures::html(&labels, &targets.iter().collect::<Vec<_>>()));
    out.push_str("</section>\n");
}

/// One cell per target: `f` of it.
fn cells<'a>(targets: &'a [TargetResult], f: &'a dyn Fn(&TargetResult) -> String) -> impl Iterator<Item = String> + 'a {
    targets.iter().map(f)
}

/// The section's heading and the table's head: one column per target.
fn summary_head(out: &mut String, targets: &[TargetResult]) {
    out.push_str(
        "<section id=\"targets\">\n<h2>Results per target</h2>\n<table class=\"summary\">\n<thead><tr><th></th>",
    );
    for t in targets {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(&t.name));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
}

/// What ran: where, what kind, under which load model, how long.
fn setup_rows(out: &mut String, targets: &[TargetResult]) {
    row(out, "url", cells(targets, &|t| t.url.clone()));
    row(out, "kind", cells(targets, &|t| t.kind.clone()));
    row(out, "load model", cells(targets, &|t| format!("{} loop, {} connections", t.model, t.connections)));
    row(out, "duration", cells(targets, &|t| format!("{:.1} s", t.duration_s)));
}

/// Requests sent and what became of them (send and webhook failures for WhatsApp targets).
fn request_rows(out: &mut String, targets: &[TargetResult]) {
    group(out, "Requests", targets.len());
    row(
        out,
        "sent",
        cells(targets, &|t| match t.requests.planned {
            Some(p) => format!("{} of {p} planned", t.requests.sent),
            None => t.requests.sent.to_string(),
        }),
    );
    row(out, "ok", cells(targets, &|t| format!("{} ({})", t.requests.ok, pct(t.requests.ok, t.requests.sent))));
    if targets.iter().any(TargetResult::is_whatsapp) {
        row(out, "failed at send", cells(targets, &|t| Fates::of(t).show(Fates::of(t).failed_at_send)));
        row(
            out,
            "failed in webhooks",
            cells(targets, &|t| if t.is_whatsapp() { Fates::of(t).show_in_webhook() } else { "-".into() }),
        );
        row(
            out,
            "error_rate (send + webhooks)",
            cells(targets, &|t| match Fates::of(t).error_rate() {
                None => "-".into(),
                Some(r) if t.is_whatsapp() && t.delivery.is_none() => format!("{:.2}% (send only)", 100.0 * r),
                Some(r) => format!("{:.2}%", 100.0 * r),
            }),
        );
    } else {
        row(out, "errors", cells(targets, &|t| Fates::of(t).show(Fates::of(t).failed_at_send)));
    }
    if targets.iter().any(|t| t.requests.retries > 0) {
        row(out, "error answers (attempts)", cells(targets, &|t| t.requests.errors.to_string()));
    }
    row(out, "dropped", cells(targets, &|t| t.requests.dropped.to_string()));
    row(out, "cancelled", cells(targets, &|t| t.requests.cancelled.to_string()));
}

/// The rate requested (the stages when the profile has them) and achieved.
fn rate_rows(out: &mut String, targets: &[TargetResult], stages: Option<&str>) {
    group(out, "Rate", targets.len());
    row(
        out,
        "requested",
        cells(targets, &|t| match (t.rate.requested, stages) {
            (Some(r), Some(s)) if t.imported.is_none() => format!("{s} (mean {r:.1}/s)"),
            (Some(r), _) => format!("{r:.1}/s"),
            (None, _) => "- (closed loop)".into(),
        }),
    );
    row(
        out,
        "achieved",
        cells(targets, &|t| match t.rate.ratio {
            Some(q) => format!("{:.1}/s ({:.1}% of requested)", t.rate.achieved, q * 100.0),
            None => format!("{:.1}/s", t.rate.achieved),
        }),
    );
}

/// Latency percentiles from the intended start.
fn latency_rows(out: &mut String, targets: &[TargetResult]) {
    group(out, "Latency (from the intended start)", targets.len());
    row(out, "p50", cells(targets, &|t| lat(&t.latency_us, |s| s.p50)));
    row(out, "p90", cells(targets, &|t| lat(&t.latency_us, |s| s.p90)));
    row(out, "p99", cells(targets, &|t| lat(&t.latency_us, |s| s.p99)));
    row(out, "p99.9", cells(targets, &|t| lat(&t.latency_us, |s| s.p999)));
    row(out, "max", cells(targets, &|t| lat(&t.latency_us, |s| s.max)));
    row(out, "responses measured", cells(targets, &|t| t.latency_us.count.to_string()));
}

/// Service time, late starts, retries and the requests whose fate is not known.
fn service_time_rows(out: &mut String, targets: &[TargetResult]) {
    group(out, "Service time and lateness", targets.len());
    row(out, "service time p50", cells(targets, &|t| lat(&t.service_time_us, |s| s.p50)));
    row(out, "service time p99", cells(targets, &|t| lat(&t.service_time_us, |s| s.p99)));
    row(out, "late start p99", cells(targets, &|t| lat(&t.lateness_us, |s| s.p99)));
    row(out, "late start max", cells(targets, &|t| lat(&t.lateness_us, |s| s.max)));
    if targets.iter().any(|t| t.requests.retries > 0) {
        row(out, "retries", cells(targets, &|t| t.requests.retries.to_string()));
    }
    row(out, "resent (written again)", cells(targets, &|t| t.requests.resent.to_string()));
    if targets.iter().any(|t| t.requests.ambiguous > 0) {
        row(out, "fate unknown (written, unanswered)", cells(targets, &|t| t.requests.ambiguous.to_string()));
    }
}

/// A webhook endpoint's answers against Meta's expectation (when one was measured).
fn webhook_slo_rows(out: &mut String, targets: &[TargetResult]) {
    let cells = |f: &dyn Fn(&crate::results::WebhookSlo) -> String| {
        targets.iter().map(|t| t.webhook_slo.as_ref().map_or("-".into(), f)).collect::<Vec<_>>().into_iter()
    };
    group(out, "Webhook endpoint vs Meta's expectation (median ≤ 250 ms, under 1% over 1 s)", targets.len());
    row(out, "POST attempts", cells(&|s| s.attempts.to_string()));
    row(out, "answered 200 within 250 ms", cells(&|s| format!("{:.2}%", 100.0 * s.share_within_250ms)));
    row(out, "over 1 s or not 200", cells(&|s| format!("{:.2}%", 100.0 * s.share_over_1s)));
    row(out, "verdict", cells(&|s| s.verdict()));
}

/// Status-webhook accounting per target (when webhooks were received).
fn delivery_rows(out: &mut String, targets: &[TargetResult]) {
    use crate::results::{DeliveryStats, Summary};
    let n = targets.len();
    let cells = |f: &dyn Fn(&DeliveryStats) -> String| {
        targets.iter().map(|t| t.delivery.as_ref().map_or("-".into(), f)).collect::<Vec<_>>().into_iter()
    };
    let p = |p: &Summary| {
        if p.count == 0 {
            "-".to_string()
        } else {
            format!("{} / {}", super::fmt_us(p.p50 as f64), super::fmt_us(p.p99 as f64))
        }
    };
    group(out, "Status webhooks", n);
    row(out, "delivered", cells(&|d| format!("{} of {} accepted", d.messages_delivered, d.accepted)));
    row(out, "failed (by webhook)", cells(&|d| d.messages_failed.to_string()));
    row(out, "lost (no final status)", cells(&|d| d.lost.to_string()));
    row(out, "accept → sent p50 / p99", cells(&|d| p(&d.latency_us.accept_to_sent)));
    row(out, "accept → delivered p50 / p99", cells(&|d| p(&d.latency_us.accept_to_delivered)));
    row(out, "accept → read p50 / p99", cells(&|d| p(&d.latency_us.accept_to_read)));
    row(out, "status repeats / out of order", cells(&|d| format!("{} / {}", d.duplicates, d.out_of_order)));
    row(out, "delivered and failed", cells(&|d| d.delivered_and_failed.to_string()));
    row(out, "inbound user messages", cells(&|d| d.inbound_messages.to_string()));
    // Users known by their business-scoped user ID alone (2026 usernames).
    let ids = |d: &DeliveryStats| d.identities.statuses_without_phone + d.identities.inbound_without_phone;
    if targets.iter().any(|t| t.delivery.as_ref().is_some_and(|d| ids(d) > 0)) {
        row(
            out,
            "without phone number (statuses / inbound)",
            cells(&|d| format!("{} / {}", d.identities.statuses_without_phone, d.identities.inbound_without_phone)),
        );
    }
}

/// Every outcome key (sorted, "ok" first) with its count per target.
fn outcomes_table(out: &mut String, targets: &[TargetResult]) {
    let mut keys: Vec<&str> = targets.iter().flat_map(|t| t.outcomes.iter().map(|o| o.key.as_str())).collect();
    keys.sort_unstable_by_key(|k| (*k != "ok", *k));
    keys.dedup();
    out.push_str("<h3>Outcomes by code</h3>\n");
    if keys.is_empty() {
        out.push_str("<p>No request ended.</p>\n");
        return;
    }
    out.push_str("<table class=\"outcomes\">\n<thead><tr><th>outcome</th>");
    for t in targets {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(&t.name));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for k in keys {
        row(
            out,
            k,
            targets.iter().map(|t| {
                let c = t.outcomes.iter().filter(|o| o.key == k).map(|o| o.count).sum::<u64>();
                let ended = t.requests.sent + t.requests.dropped;
                if c == 0 { "0".into() } else { format!("{c} ({})", pct(c, ended)) }
            }),
        );
    }
    out.push_str("</tbody>\n</table>\n<p class=\"files\">Shares are of all requests due: sent plus dropped.</p>\n");
}

/// The Sending numbers section: per target with several numbers, a row per number.
fn numbers_section(out: &mut String, targets: &[TargetResult]) {
    use crate::results::numbers::{self, counts_text};
    let all: Vec<(&TargetResult, Vec<numbers::NumberRow>)> =
        targets.iter().map(|t| (t, numbers::of(t))).filter(|(_, r)| !r.is_empty()).collect();
    if all.is_empty() {
        return;
    }
    out.push_str("<section id=\"numbers\">\n<h2>Sending numbers</h2>\n");
    for (t, rows) in all {
        let _ = writeln!(out, "<h3>{}: {} numbers</h3>", esc(&t.name), rows.len());
        out.push_str(
            "<table class=\"numbers\">\n<thead><tr><th class=\"l\">phone number id</th><th>messages</th>\
             <th>ok</th><th>ok/s</th><th>failed at send</th><th>delivered</th><th>failed in webhooks</th>\
             <th>no final status</th></tr></thead>\n<tbody>\n",
        );
        for r in rows {
            let d = r.delivery.as_ref();
            let _ = writeln!(
                out,
                "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&r.id),
                r.messages,
                r.ok,
                r.ok_rate,
                esc(&counts_text(&r.failed_at_send)),
                d.map_or("-".into(), |d| d.delivered.to_string()),
                d.map_or("-".into(), |d| esc(&counts_text(&d.failed_by_code))),
                d.map_or("-".into(), |d| d.lost.to_string()),
            );
        }
        out.push_str("</tbody>\n</table>\n");
    }
    out.push_str(
        "<p class=\"files\">Each number has its own throughput and pair limits; the business portfolio's \
         messaging limit (unique users reached in a moving 24 hours) is one for all of them.</p>\n</section>\n",
    );
}

fn thresholds(out: &mut String, data: &RunData) {
    let run = &data.run;
    out.push_str("<section id=\"thresholds\">\n<h2>Thresholds</h2>\n");
    if run.thresholds.is_empty() {
        out.push_str("<p>The profile sets no thresholds.</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<table class=\"thresholds\">\n<thead><tr><th>threshold</th><th class=\"l\">target</th><th>actual</th>\
         <th>result</th></tr></thead>\n<tbody>\n",
    );
    for v in &run.thresholds {
        let (cls, word) = if v.passed { ("pass", "✔ PASS") } else { ("fail", "✘ FAIL") };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"l\">{}</td><td>{}</td><td class=\"{cls}\">{word}</td></tr>",
            esc(&v.threshold),
            esc(&v.target),
            esc(&v.shown)
        );
    }
    out.push_str("</tbody>\n</table>\n");
    if run.targets.iter().any(TargetResult::is_whatsapp) {
        let _ = writeln!(out, "<p class=\"files\">{}</p>", esc(crate::results::fates::RATES_EXPLAINED));
    }
    out.push_str("</section>\n");
}

/// The whole report page of a run, with its charts already drawn.
pub fn report(data: &RunData, charts: &[Rendered]) -> String {
    let run = &data.run;
    let mut out = head(&format!("{} · wabench report", run.name));
    let _ = writeln!(out, "<header>\n<h1>{}</h1>", esc(&run.name));
    if let Some(d) = run.description.as_deref().filter(|d| !d.trim().is_empty()) {
        let _ = writeln!(out, "<p class=\"desc\">{}</p>", esc(d));
    }
    verdict_badges(&mut out, data);
    alerts(&mut out, &run.targets);
    out.push_str("</header>\n");
    metadata(&mut out, data);
    imported(&mut out, data);
    summary_table(&mut out, &run.targets, super::stages_text(run).as_deref());
    super::phases::section(&mut out, &run.targets);
    super::traces::section(&mut out, data);
    numbers_section(&mut out, &run.targets);
    super::cost::section(&mut out, &run.targets);
    super::conversation::section(&mut out, &run.targets, &|out: &mut String| {
        for r in charts.iter().filter(|r| r.stem == super::figures::REPLY_SPECTRUM) {
            figure(out, r);
        }
    });
    thresholds(&mut out, data);
    super::operator::section(&mut out, run);
    out.push_str("<section id=\"charts\">\n<h2>Charts</h2>\n");
    for r in charts.iter().filter(|r| r.stem != super::figures::REPLY_SPECTRUM) {
        figure(&mut out, r);
    }
    out.push_str("</section>\n");
    let measured = if run.imported.is_some() {
        "Latency is as the source measured it (see Imported)."
    } else {
        "Latency is measured from each request's intended start, so it includes any time spent waiting to be sent."
    };
    let _ = writeln!(
        out,
        "<footer>Report of run.json and the interval logs beside it, written by {} {}. {measured}</footer>",
        esc(&run.tool.name),
        esc(&run.tool.version)
    );
    script(&mut out);
    out.push_str("</body>\n</html>\n");
    out
}
