//! Hover values and series toggles in `report.html` and `compare.html`, without the network: each
//! inline SVG chart names its series (`<g class="wb-series" data-series="N">`) and legend entries
//! (`<g class="wb-key" data-series="N">`), a `<script type="application/json" class="wb-data">` beside
//! it holds the chart's values and where its plot areas lie, and one inline script ([`SCRIPT`]) adds a
//! crosshair with a tooltip and makes legend entries hide and show their series. Without scripts the
//! page shows the same static charts. `report.html#selftest` makes the script exercise itself and
//! write what it saw into the page (for the browser test).

use serde_json::{Value, json};

use super::charts::{Figure, MARK_FAMILY, PanelBox, Plot, XAxis, series_ids};

/// At most this many points per series go into a page: a longer time series is cut into groups of
/// consecutive seconds, each given as the lowest and highest value in it.
pub const MAX_POINTS: usize = 2000;

/// The page script: crosshair, tooltip, legend toggles and the self-test.
pub const SCRIPT: &str = include_str!("interactive.js");

/// The style of the tooltip, crosshair and legend entries.
pub const STYLE: &str = "\
figure{position:relative}
.wb-tip{position:absolute;z-index:2;pointer-events:none;background:#fff;border:1px solid var(--line);\
border-radius:4px;padding:4px 8px;font-size:.85rem;line-height:1.4;white-space:nowrap;\
box-shadow:0 2px 6px rgba(0,0,0,.15);font-variant-numeric:tabular-nums}
.wb-tip .wb-h{font-weight:600}.wb-tip i{display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:2px}
svg .wb-key{cursor:pointer}svg .wb-key.wb-off{opacity:.3}svg .wb-hit{fill:transparent}
svg .wb-key:focus{outline:none}svg .wb-key:focus-visible .wb-hit{stroke:var(--ink);stroke-dasharray:2 2}
svg .wb-cross{stroke:#444;stroke-width:1;stroke-dasharray:3 3;pointer-events:none}svg .wb-dots{pointer-events:none}
p.wb-hint{font-size:.85rem;color:var(--muted);margin:2px 0}
@media print{.wb-tip,.wb-hint,svg .wb-cross,svg .wb-dots{display:none}}
";

/// Replace the markers [`super::charts`] draws around each series (`sN` … `/`) and legend entry
/// (`kN` … `/`) with `<g>` elements. The SVG backend writes a text element as three lines (opening
/// tag, text, closing tag); a marker is the only text in the marker font family.
pub fn group(marked: &str) -> Result<String, String> {
    let mut out = String::with_capacity(marked.len());
    let mut lines = marked.split_inclusive('\n');
    let mut open = false;
    let family = format!("font-family=\"{MARK_FAMILY}\"");
    while let Some(line) = lines.next() {
        if !(line.starts_with("<text ") && line.contains(&family)) {
            out.push_str(line);
            continue;
        }
        let text = lines.next().unwrap_or("").trim_end();
        if lines.next().map(str::trim_end) != Some("</text>") {
            return Err(format!("malformed series marker {text:?}"));
        }
        let (class, id) = match text.split_at(text.len().min(1)) {
            ("/", "") if open => {
                out.push_str("</g>\n");
                open = false;
                continue;
            }
            ("s", id) => ("wb-series", id),
            ("k", id) => ("wb-key", id),
            _ => return Err(format!("unexpected series marker {text:?}")),
        };
        let id: usize = id.parse().map_err(|_| format!("bad series marker {text:?}"))?;
        if open {
            return Err(format!("series marker {text:?} inside another"));
        }
        out.push_str(&format!("<g class=\"{class}\" data-series=\"{id}\">\n"));
        open = true;
    }
    if open {
        return Err("a series marker was not closed".into());
    }
    Ok(out)
}

/// The unit of an axis: its label's trailing parenthesis ("latency (ms)" → "ms"), or "req/s" for
/// requests per second.
fn unit(label: &str) -> String {
    let l = label.trim_end();
    if let (Some(open), true) = (l.rfind('('), l.ends_with(')')) {
        return l[open + 1..l.len() - 1].to_string();
    }
    if l.contains("per second") { "req/s".into() } else { String::new() }
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn hex(c: plotters::style::RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// One series' points for the page: `[x, y]` with `y` null in a gap; with `every` > 1, one point per
/// group of `every` seconds from `x0`, `y` being `[lowest, highest]` in the group.
fn points(pts: &[(f64, Option<f64>)], x0: f64, every: usize) -> Value {
    if every <= 1 {
        return pts.iter().map(|(x, y)| json!([round(*x), y.map(round)])).collect();
    }
    let k = every as f64;
    let mut out: Vec<Value> = Vec::new();
    let mut cur: Option<(f64, Option<(f64, f64)>)> = None;
    let flush = |out: &mut Vec<Value>, c: Option<(f64, Option<(f64, f64)>)>| {
        if let Some((x, r)) = c {
            out.push(json!([round(x), r.map(|(a, b)| json!([round(a), round(b)]))]));
        }
    };
    for (x, y) in pts {
        let start = x0 + ((x - x0) / k).floor() * k;
        if cur.is_some_and(|c| c.0 != start) {
            flush(&mut out, cur.take());
        }
        let c = cur.get_or_insert((start, None));
        if let Some(v) = y {
            c.1 = Some(c.1.map_or((*v, *v), |(a, b)| (a.min(*v), b.max(*v))));
        }
    }
    flush(&mut out, cur);
    Value::Array(out)
}

/// For the nines axis: the last point is the maximum, and may share its x with the grid point before
/// it; keep one point per x (the later).
fn dedup_last(mut pts: Vec<(f64, Option<f64>)>) -> Vec<(f64, Option<f64>)> {
    let n = pts.len();
    if n >= 2 && (pts[n - 1].0 - pts[n - 2].0).abs() < 1e-9 {
        pts.remove(n - 2);
    }
    pts
}

fn panel_json(b: &PanelBox, title: Option<&str>, stacked: bool, series: Vec<Value>) -> Value {
    json!({
        "title": title,
        "box": [b.left, b.top, b.right, b.bottom],
        "x": [round(b.x.0), round(b.x.1)],
        "y": [round(b.y.0), round(b.y.1)],
        "y2": b.y2.map(|(a, c)| json!([round(a), round(c)])),
        "stacked": stacked,
        "series": series,
    })
}

/// The values of `fig` and where its plot areas lie (`boxes`, as drawn), as JSON safe to put inside a
/// `<script>` element.
pub fn chart_json(fig: &Figure, boxes: &[PanelBox]) -> String {
    let legend: Vec<Value> = series_ids(fig)
        .into_iter()
        .map(|(id, label, color)| json!({"id": id, "label": label, "color": hex(color)}))
        .collect();
    let (axis, every, panels) = match &fig.plot {
        Plot::Lines(p) => {
            let nines = matches!(p.x, XAxis::Nines { .. });
            let sec = p.secondary.iter().flat_map(|s| s.lines.iter().map(move |l| (l, "right", unit(&s.y_label))));
            let all: Vec<_> = p.lines.iter().map(|l| (l, "left", unit(&p.y_label))).chain(sec).collect();
            let longest = all.iter().map(|(l, _, _)| l.points.len()).max().unwrap_or(0);
            let every = if nines { 1 } else { longest.div_ceil(MAX_POINTS).max(1) };
            let x0 = all.iter().flat_map(|(l, _, _)| l.points.first()).map(|p| p.0).fold(f64::INFINITY, f64::min);
            let series: Vec<Value> = all
                .iter()
                .enumerate()
                .filter(|(_, (l, _, _))| l.points.iter().any(|p| p.1.is_some()))
                .map(|(id, (l, side, unit))| {
                    let pts = if nines { dedup_last(l.points.clone()) } else { l.points.clone() };
                    json!({
                        "id": id, "label": l.label, "color": hex(l.color), "unit": unit, "axis": side,
                        "lastIsMax": nines, "p": points(&pts, x0, every),
                    })
                })
                .collect();
            let panels = boxes.iter().take(1).map(|b| panel_json(b, None, false, series.clone())).collect::<Vec<_>>();
            (if nines { "nines" } else { "seconds" }, every, panels)
        }
        Plot::Stacked(s) => {
            let ids = series_ids(fig);
            let longest = s.panels.iter().flat_map(|p| p.layers.iter()).map(|l| l.values.len()).max().unwrap_or(0);
            let every = longest.div_ceil(MAX_POINTS).max(1);
            let x0 = s
                .panels
                .iter()
                .flat_map(|p| p.layers.iter())
                .flat_map(|l| l.values.first())
                .map(|v| v.0)
                .fold(f64::INFINITY, f64::min);
            let u = unit(&s.y_label);
            let panels = s
                .panels
                .iter()
                .zip(boxes)
                .map(|(p, b)| {
                    let series = p
                        .layers
                        .iter()
                        .map(|l| {
                            let id = ids.iter().find(|i| i.1 == l.label).map_or(0, |i| i.0);
                            let pts: Vec<(f64, Option<f64>)> = l.values.iter().map(|(x, y)| (*x, Some(*y))).collect();
                            json!({
                                "id": id, "label": l.label, "color": hex(l.color), "unit": u, "axis": "left",
                                "lastIsMax": false, "p": points(&pts, x0, every),
                            })
                        })
                        .collect();
                    panel_json(b, Some(&p.title), true, series)
                })
                .collect();
            ("seconds", every, panels)
        }
    };
    let doc = json!({
        "stem": fig.stem,
        "axis": axis,
        "every": every,
        "maxPoints": MAX_POINTS,
        "legend": legend,
        "panels": panels,
    });
    script_safe(&doc.to_string())
}

/// JSON text that cannot end a `<script>` element or open a comment: `<`, `>` and `&` only occur in
/// strings, where their `\u` escapes mean the same.
fn script_safe(json: &str) -> String {
    json.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_become_groups() {
        let f = format!("font-family=\"{MARK_FAMILY}\"");
        let marked = format!(
            "<svg>\n<rect/>\n<text x=\"0\" {f}>\ns3\n</text>\n<polyline/>\n<polyline/>\n<text x=\"0\" {f}>\n/\n</text>\n\
             <text x=\"0\" {f}>\nk3\n</text>\n<text x=\"1\">\nlabel\n</text>\n<text {f}>\n/\n</text>\n</svg>\n"
        );
        let svg = group(&marked).unwrap();
        assert_eq!(
            svg,
            "<svg>\n<rect/>\n<g class=\"wb-series\" data-series=\"3\">\n<polyline/>\n<polyline/>\n</g>\n\
             <g class=\"wb-key\" data-series=\"3\">\n<text x=\"1\">\nlabel\n</text>\n</g>\n</svg>\n"
        );
        let unclosed = format!("<svg>\n<text {f}>\ns1\n</text>\n</svg>\n");
        assert!(group(&unclosed).is_err());
        let stray = format!("<svg>\n<text {f}>\n/\n</text>\n</svg>\n");
        assert!(group(&stray).is_err());
    }

    #[test]
    fn long_series_are_cut_into_groups_with_their_range() {
        let pts: Vec<(f64, Option<f64>)> =
            (0..10).map(|i| (f64::from(i), if i == 4 { None } else { Some(f64::from(i % 3)) })).collect();
        let v = points(&pts, 0.0, 4);
        assert_eq!(v, json!([[0.0, [0.0, 2.0]], [4.0, [0.0, 2.0]], [8.0, [0.0, 2.0]]]));
        let gap = points(&[(0.0, None), (1.0, None), (2.0, Some(1.5))], 0.0, 2);
        assert_eq!(gap, json!([[0.0, null], [2.0, [1.5, 1.5]]]));
        assert_eq!(points(&pts[..2], 0.0, 1), json!([[0.0, 0.0], [1.0, 1.0]]));
    }

    fn parse(fig: &Figure, boxes: &[PanelBox]) -> Value {
        serde_json::from_str(&chart_json(fig, boxes)).unwrap()
    }

    #[test]
    fn long_runs_embed_at_most_max_points_per_series() {
        use super::super::charts::{Layer, Line, LinePlot, Panel, StackPlot, Stroke};
        let n = 3 * MAX_POINTS - 7;
        let value = |i: usize| ((i * 7919) % 1000) as f64 / 10.0;
        let points: Vec<(f64, Option<f64>)> = (0..n).map(|i| (i as f64, Some(value(i)))).collect();
        let line = |label: &str| Line {
            label: label.into(),
            color: plotters::style::RGBColor(1, 2, 3),
            stroke: Stroke::Solid,
            width: 2,
            points: points.clone(),
        };
        let b = PanelBox { left: 80, top: 60, right: 900, bottom: 480, x: (0.0, n as f64), y: (0.0, 110.0), y2: None };
        let fig =
            |plot| Figure { stem: "t".into(), title: "t".into(), caption: String::new(), no_data: String::new(), plot };
        let lines = fig(Plot::Lines(LinePlot {
            x: XAxis::Seconds,
            x_label: "s".into(),
            y_label: "latency (ms)".into(),
            lines: vec![line("a p99")],
            secondary: Some(super::super::charts::Secondary { y_label: "rate (req/s)".into(), lines: vec![line("r")] }),
            markers: Vec::new(),
        }));
        let v = parse(&lines, std::slice::from_ref(&b));
        assert_eq!(v["every"], 3);
        let series = v["panels"][0]["series"].as_array().unwrap();
        assert_eq!(series.len(), 2);
        assert_eq!(
            (series[1]["id"].as_u64(), series[1]["axis"].as_str(), series[1]["unit"].as_str()),
            (Some(1), Some("right"), Some("req/s"))
        );
        for s in series {
            let p = s["p"].as_array().unwrap();
            assert!(p.len() <= MAX_POINTS, "{} points", p.len());
            assert_eq!(p.len(), n.div_ceil(3));
            // The point of seconds 300, 301 and 302 holds their lowest and highest value.
            let group = [value(300), value(301), value(302)];
            let lo = group.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = group.iter().copied().fold(0.0, f64::max);
            assert_eq!(p[100], json!([300.0, [lo, hi]]));
        }
        let stacked = fig(Plot::Stacked(StackPlot {
            x_label: "s".into(),
            y_label: "requests per second".into(),
            panels: vec![Panel {
                title: "x".into(),
                layers: ["ok", "errors"]
                    .iter()
                    .map(|l| Layer {
                        label: (*l).into(),
                        color: plotters::style::RGBColor(1, 2, 3),
                        values: points.iter().map(|p| (p.0, p.1.unwrap())).collect(),
                    })
                    .collect(),
            }],
        }));
        let v = parse(&stacked, std::slice::from_ref(&b));
        assert_eq!(v["every"], 3);
        for s in v["panels"][0]["series"].as_array().unwrap() {
            assert!(s["p"].as_array().unwrap().len() <= MAX_POINTS);
        }
        // A short series is embedded as it is.
        let short = fig(Plot::Lines(LinePlot {
            x: XAxis::Seconds,
            x_label: "s".into(),
            y_label: "latency (ms)".into(),
            lines: vec![Line { points: points[..10].to_vec(), ..line("a") }],
            secondary: None,
            markers: Vec::new(),
        }));
        let v = parse(&short, &[PanelBox { x: (0.0, 9.0), ..b }]);
        assert_eq!(v["every"], 1);
        assert_eq!(v["panels"][0]["series"][0]["p"][4], json!([4.0, value(4)]));
    }

    #[test]
    fn the_script_cannot_end_its_element_or_reach_the_network() {
        assert!(!SCRIPT.contains("</") && !SCRIPT.contains("<!--"), "the script text stays inside <script>");
        for word in ["http", "fetch(", "XMLHttpRequest", "import", "WebSocket"] {
            assert!(!SCRIPT.contains(word), "the script holds {word:?}");
        }
        assert!(SCRIPT.lines().count() < 300, "a small script");
    }

    #[test]
    fn units_and_escaping() {
        assert_eq!(unit("latency (ms)"), "ms");
        assert_eq!(unit("requests per second"), "req/s");
        assert_eq!(unit("percentile"), "");
        assert_eq!(script_safe("{\"a\":\"</script><!--&\"}"), "{\"a\":\"\\u003c/script\\u003e\\u003c!--\\u0026\"}");
    }
}
