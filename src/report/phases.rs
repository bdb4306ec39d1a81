//! The connection-phase table of the report and the terminal summary's rows: DNS, TCP connect, TLS and
//! the first request's time to first byte of the connections each target opened (p50/p90/p99/max), and
//! how many it opened. Results written before phases were measured show nothing.

use std::fmt::Write as _;

use super::fmt_us;
use super::html_escape::esc;
use crate::results::{Summary, TargetResult};

fn cell(s: &Summary, f: fn(&Summary) -> u64) -> String {
    if s.count == 0 { "-".into() } else { fmt_us(f(s) as f64) }
}

/// The report's section (nothing when no target has phases).
pub(crate) fn section(out: &mut String, targets: &[TargetResult]) {
    if targets.iter().all(|t| t.connection_phases.is_none()) {
        return;
    }
    out.push_str(
        "<section id=\"connections\">\n<h2>Connections</h2>\n<table class=\"phases\">\n<thead><tr>\
         <th class=\"l\">target</th><th class=\"l\">phase</th><th>count</th><th>p50</th><th>p90</th><th>p99</th>\
         <th>max</th></tr></thead>\n<tbody>\n",
    );
    for t in targets {
        let Some(p) = &t.connection_phases else { continue };
        let _ = writeln!(
            out,
            "<tr class=\"group\"><td colspan=\"7\">{}: {} connections opened</td></tr>",
            esc(&t.name),
            p.opened
        );
        for (name, s) in p.rows() {
            let _ = writeln!(
                out,
                "<tr><td class=\"l\">{}</td><td class=\"l\">{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td></tr>",
                esc(&t.name),
                s.count,
                cell(s, |s| s.p50),
                cell(s, |s| s.p90),
                cell(s, |s| s.p99),
                cell(s, |s| s.max),
            );
        }
    }
    out.push_str(
        "</tbody>\n</table>\n<p class=\"files\">Each phase is timed once per connection opened (with keep-alive, \
         only when a connection is opened, also before the clock starts); ttfb runs from the start of a new \
         connection's first request to the first byte of its answer (HTTP/2: its answer's head). dns is timed \
         only for a host name.</p>\n</section>\n",
    );
}

/// The terminal summary's rows: connections opened and each phase's p50 / p99, one cell per target.
pub(crate) fn summary_rows(targets: &[TargetResult]) -> Vec<(String, Vec<String>)> {
    if targets.iter().all(|t| t.connection_phases.is_none()) {
        return Vec::new();
    }
    let mut rows = vec![(
        "connections opened".to_string(),
        targets.iter().map(|t| t.connection_phases.as_ref().map_or("-".into(), |p| p.opened.to_string())).collect(),
    )];
    for i in 0..4 {
        let label = targets.iter().find_map(|t| t.connection_phases.as_ref()).map_or("", |p| p.rows()[i].0);
        rows.push((
            format!("{label} p50/p99"),
            targets
                .iter()
                .map(|t| match &t.connection_phases {
                    Some(p) if p.rows()[i].1.count > 0 => {
                        let s = p.rows()[i].1;
                        format!("{} / {}", fmt_us(s.p50 as f64), fmt_us(s.p99 as f64))
                    }
                    _ => "-".into(),
                })
                .collect(),
        ));
    }
    rows
}
