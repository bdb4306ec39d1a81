//! The report's "Operator actions" section: what was done to the run from its live dashboard (pause,
//! resume, a new rate, stop), when in the run and on the target's own clock, as run.json lists them.
//! Nothing is shown for a run nobody steered.

use std::fmt::Write as _;

use super::html_escape::esc;
use crate::results::Run;

/// The section, when the operator did something.
pub fn section(out: &mut String, run: &Run) {
    if run.operator.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"operator\">\n<h2>Operator actions</h2>\n<table class=\"operator\">\n<thead><tr>\
         <th>time in run (s)</th><th class=\"l\">action</th><th class=\"l\">target</th><th>time in target (s)</th>\
         </tr></thead>\n<tbody>\n",
    );
    for a in &run.operator {
        let _ = writeln!(
            out,
            "<tr><td>{:.1}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td></tr>",
            a.at_s,
            esc(&a.describe()),
            esc(a.target.as_deref().unwrap_or("–")),
            a.target_s.map_or("–".to_string(), |s| format!("{s:.1}"))
        );
    }
    out.push_str(
        "</tbody>\n</table>\n<p class=\"files\">From the live dashboard or its control API. A pause holds new \
         arrivals (requests that fall due during it are not sent, and not counted late or dropped); a rate \
         replaces the rest of the schedule until its end. The throughput chart marks each action.</p>\n</section>\n",
    );
}

/// Where the operator's actions fall on the targets' clocks (markers on the throughput chart).
pub fn times(run: &Run) -> Vec<f64> {
    run.operator.iter().filter_map(|a| a.target_s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::operator::OperatorAction;

    #[test]
    fn lists_each_action_escaped_and_nothing_when_none() {
        let mut run: Run = serde_json::from_value(serde_json::json!({
            "schema_version": 1, "tool": {"name": "wabench", "version": "0"}, "name": "r", "description": null,
            "profile_file": "p.toml", "profile": {}, "seed": 1, "started_at": "2026-01-01T00:00:00Z",
            "ended_at": "2026-01-01T00:01:00Z", "interrupted": false,
            "machine": {"hostname": "h", "os": "linux", "arch": "x86_64", "cpus": 2},
            "targets": [], "thresholds": [], "passed": true
        }))
        .unwrap();
        let mut out = String::new();
        section(&mut out, &run);
        assert!(out.is_empty());
        run.operator = vec![
            OperatorAction {
                at_s: 4.25,
                action: "rate".into(),
                value: Some(80.0),
                target: Some("<a>".into()),
                target_s: Some(3.5),
            },
            OperatorAction { at_s: 9.0, action: "pause".into(), value: None, target: None, target_s: None },
        ];
        section(&mut out, &run);
        assert!(
            out.contains("<td>4.2</td><td class=\"l\">rate → 80/s</td><td class=\"l\">&lt;a&gt;</td><td>3.5</td>"),
            "{out}"
        );
        assert!(out.contains("<td class=\"l\">pause</td><td class=\"l\">–</td><td>–</td>"), "{out}");
        assert_eq!(times(&run), vec![3.5]);
    }
}
