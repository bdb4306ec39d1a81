//! The report's "Slowest traced requests" table: for each target that traced requests (`[tracing]`),
//! the slowest of its `<target>.exemplars.csv` with their trace ids, to look up in a tracing back-end.
//! Results without tracing show nothing.

use std::fmt::Write as _;

use super::fmt_us;
use super::html_escape::esc;
use crate::results::RunData;
use crate::results::exemplars::Slowest;

/// Rows shown per target.
pub const SHOWN: usize = 20;

/// The report's section (nothing when no target traced a request).
pub(crate) fn section(out: &mut String, data: &RunData) {
    let traced: Vec<(&str, Result<Slowest, String>)> = data
        .run
        .targets
        .iter()
        .filter_map(|t| t.tracing.as_ref().map(|tr| (t.name.as_str(), Slowest::read(&data.dir.join(&tr.exemplars)))))
        .collect();
    if traced.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"traces\">\n<h2>Slowest traced requests</h2>\n<table class=\"traces\" style=\"font-size:.85rem\">\n<thead><tr>\
         <th class=\"l\">target</th><th class=\"l\">trace id</th><th class=\"l\">due (UTC)</th>\
         <th>second</th><th>latency</th><th class=\"l\">outcome</th><th class=\"l\">wamid</th></tr></thead>\n<tbody>\n",
    );
    for (name, slowest) in &traced {
        let s = match slowest {
            Ok(s) => s,
            Err(e) => {
                let _ = writeln!(out, "<tr><td class=\"l\">{}</td><td colspan=\"6\">{}</td></tr>", esc(name), esc(e));
                continue;
            }
        };
        for e in s.slowest(SHOWN) {
            let _ = writeln!(
                out,
                "<tr><td class=\"l\">{}</td><td class=\"l\"><code>{}</code></td><td class=\"l\" title=\"{}\">{}</td>\
                 <td>{}</td><td>{}</td><td class=\"l\">{}</td><td class=\"l\" style=\"word-break:break-all\">{}</td></tr>",
                esc(name),
                esc(&e.trace_id),
                e.intended_at.format("%Y-%m-%d"),
                e.intended_at.format("%H:%M:%S%.3f"),
                e.second,
                fmt_us(e.latency_us as f64),
                esc(&e.outcome),
                esc(e.wamid.as_deref().unwrap_or("")),
            );
        }
    }
    out.push_str(
        "</tbody>\n</table>\n<p class=\"files\">The slowest of the requests that carried a W3C traceparent \
         ([tracing] sample), latency from each one's due time; every second's slowest three are in \
         &lt;target&gt;.exemplars.csv. Look a trace id up in the tracing back-end the target reports to.</p>\n\
         </section>\n",
    );
}
