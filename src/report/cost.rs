//! What the messages of WhatsApp targets with a rate card cost, as the summary and report.html show
//! it: per target the estimate before the run (every planned message delivered: an upper bound) and
//! the actual cost (delivered messages when delivery was tracked, else accepted sends), by pricing
//! category and market, and whether the target stopped at its `max_cost`.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::html_escape::esc;
use crate::results::TargetResult;
use crate::results::cost::{CostFigures, STOPPED_MAX_COST, TargetCost, money};

/// One line on the basis of the actual figures.
fn basis(f: &CostFigures) -> &'static str {
    match f.basis.as_str() {
        "delivered" => {
            "delivered messages (each accepted send its status webhooks said delivered, at its own category and market)"
        }
        _ => "accepted sends (delivery not tracked: Meta bills delivered messages, so this is an upper bound)",
    }
}

/// What stopped a target at its cap, in words.
fn stopped(t: &TargetResult, c: &TargetCost) -> Option<String> {
    (t.stopped.as_deref() == Some(STOPPED_MAX_COST)).then(|| {
        format!(
            "stopped sending at its max_cost {} (accepted sends: {})",
            money(c.max_cost.unwrap_or_default(), &c.currency),
            money(c.accepted.total, &c.currency)
        )
    })
}

/// Messages and their cost.
type Figure = Option<(u64, f64)>;

/// A category in a market, estimated and actual.
type Joined = (String, String, Figure, Figure);

/// The rows of estimate and actual side by side: (category, market, estimated messages and cost,
/// actual messages and cost).
fn joined(c: &TargetCost) -> Vec<Joined> {
    let mut rows: Vec<Joined> = Vec::new();
    for r in c.estimate.iter().flat_map(|e| &e.rows) {
        rows.push((r.category.clone(), r.market.clone(), Some((r.messages, r.cost)), None));
    }
    for r in &c.actual.rows {
        match rows.iter_mut().find(|x| x.0 == r.category && x.1 == r.market) {
            Some(x) => x.3 = Some((r.messages, r.cost)),
            None => rows.push((r.category.clone(), r.market.clone(), None, Some((r.messages, r.cost)))),
        }
    }
    rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    rows
}

/// The summary's cost notes: per target, the totals and the rows by category and market.
pub fn text(targets: &[TargetResult], out: &mut impl Write) -> io::Result<()> {
    for t in targets {
        let Some(c) = &t.cost else { continue };
        let est = c.estimate.as_ref().map_or("unknown".into(), |e| money(e.total, &c.currency));
        writeln!(
            out,
            "\n{}: cost {} ({}); estimated {est} if every planned message were delivered (rate card {})",
            t.name,
            money(c.actual.total, &c.currency),
            basis(&c.actual),
            c.rate_card
        )?;
        if let Some(s) = stopped(t, c) {
            writeln!(out, "  {s}")?;
        }
        for (category, market, e, a) in joined(c) {
            let cell =
                |x: Option<(u64, f64)>| x.map_or("-".into(), |(n, v)| format!("{n} = {}", money(v, &c.currency)));
            writeln!(out, "  {category:<28} {market:<24} estimated {:<24} actual {}", cell(e), cell(a))?;
        }
    }
    Ok(())
}

/// report.html's cost section (nothing when no target has a rate card).
pub fn section(out: &mut String, targets: &[TargetResult]) {
    if targets.iter().all(|t| t.cost.is_none()) {
        return;
    }
    out.push_str("<section id=\"cost\">\n<h2>Cost</h2>\n");
    for t in targets {
        let Some(c) = &t.cost else { continue };
        let _ = writeln!(
            out,
            "<h3>{}</h3>\n<p>Rate card {}; templates priced as {} ({}). Actual: {}.{}</p>",
            esc(&t.name),
            esc(&c.rate_card),
            esc(&c.template_category),
            esc(&c.template_category_from),
            esc(basis(&c.actual)),
            stopped(t, c).map(|s| format!(" <strong>The target {}.</strong>", esc(&s))).unwrap_or_default()
        );
        out.push_str(
            "<table class=\"outcomes cost\">\n<thead><tr><th>category</th><th>market</th><th>price</th>\
             <th>estimated messages</th><th>estimated cost</th><th>actual messages</th><th>actual cost</th></tr></thead>\n<tbody>\n",
        );
        let price = |cat: &str, market: &str| {
            let rows = c.estimate.iter().flat_map(|e| &e.rows).chain(&c.actual.rows);
            rows.into_iter().find(|r| r.category == cat && r.market == market).map_or(0.0, |r| r.price)
        };
        for (category, market, e, a) in joined(c) {
            let n = |x: Option<(u64, f64)>| x.map_or("-".into(), |(n, _)| n.to_string());
            let v = |x: Option<(u64, f64)>| x.map_or("-".into(), |(_, v)| money(v, &c.currency));
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&category),
                esc(&market),
                price(&category, &market),
                n(e),
                esc(&v(e)),
                n(a),
                esc(&v(a))
            );
        }
        let total = |f: Option<&CostFigures>| f.map_or("-".into(), |f| money(f.total, &c.currency));
        let _ = writeln!(
            out,
            "<tr class=\"total\"><td>total</td><td></td><td></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            c.estimate.as_ref().map_or("-".into(), |e| e.messages.to_string()),
            esc(&total(c.estimate.as_ref())),
            c.actual.messages,
            esc(&total(Some(&c.actual)))
        );
        out.push_str("</tbody>\n</table>\n");
        if let Some(cap) = c.max_cost {
            let _ = writeln!(out, "<p>max_cost {}</p>", esc(&money(cap, &c.currency)));
        }
    }
    out.push_str(
        "<p>The estimate prices every planned message as delivered, at the card's list rates (no volume tiers, \
         no free windows): an upper bound.</p>\n</section>\n",
    );
}
