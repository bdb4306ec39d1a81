//! What the charts show: [`Figure`]s built from a loaded results folder (latency spectrum, latency
//! over time, throughput, outcomes) and the overlaid spectrum of a comparison. A new chart (webhook
//! delivery latency, for one) is one more builder here and one more entry in [`for_run`].

use hdrhistogram::Histogram;
use plotters::style::RGBColor;

use super::charts::{self, Figure, Layer, Line, LinePlot, Panel, Plot, Secondary, StackPlot, Stroke, XAxis};
use crate::results::folder::{RunData, TargetData};

/// Highest number of nines the spectrum shows (99.9999%).
pub const MAX_NINES: u32 = 6;
/// Spectrum samples per nine.
const STEPS_PER_NINE: u32 = 40;

/// The charts of one run's report, in the order the report shows them.
pub fn for_run(data: &RunData) -> Vec<Figure> {
    let series: Vec<(String, &Histogram<u64>)> =
        data.targets.iter().map(|t| (t.name().to_string(), &t.total)).collect();
    let stages = stage_starts(&data.run.profile);
    let mut figs = vec![
        spectrum("latency_spectrum", "Latency by percentile", &series),
        latency_over_time(&data.targets, &stages),
        // The operator's actions are marked where the stages begin.
        throughput(&data.targets, &[stages.clone(), super::operator::times(&data.run)].concat()),
        outcomes(&data.targets),
    ];
    let delivered = delivery_histograms(data, "accept_to_delivered");
    if !delivered.is_empty() {
        let series: Vec<(String, &Histogram<u64>)> = delivered.iter().map(|(n, h)| (n.clone(), h)).collect();
        let mut fig = spectrum("delivery_spectrum", "Webhook delivery latency: accept → delivered", &series);
        fig.caption = "Time from the API's acceptance of each message to its delivered status webhook, at every \
                       percentile (delivered messages; failed and lost ones are counted in the delivery table, not \
                       here). Each step right adds a nine: the right-hand side is the slowest deliveries."
            .into();
        fig.no_data = "no data: no message was delivered".into();
        if let Plot::Lines(p) = &mut fig.plot {
            p.y_label = "accept → delivered (ms)".into();
        }
        figs.push(fig);
    }
    if let Some(f) = reply_spectrum(&data.targets) {
        figs.push(f);
    }
    figs
}

/// The stem of the time-to-first-reply chart (shown in the report's Conversation section).
pub const REPLY_SPECTRUM: &str = "reply_spectrum";

/// The time to the bot's first reply by percentile, one line per conversation target whose folder has
/// its replies log; `None` when no target has one.
pub fn reply_spectrum(targets: &[TargetData]) -> Option<Figure> {
    let series: Vec<(String, &Histogram<u64>)> =
        targets.iter().filter_map(|t| t.replies.as_ref().map(|h| (t.name().to_string(), h))).collect();
    if series.is_empty() {
        return None;
    }
    let mut fig = spectrum(REPLY_SPECTRUM, "Time to the bot's first reply by percentile", &series);
    fig.caption = "Time from each user message's intended send to the bot's first reply the API accepted, at every \
                   percentile (answered turns; unanswered ones are counted in the table, not here). Each step right \
                   adds a nine: the right-hand side is the slowest answers."
        .into();
    fig.no_data = "no data: no turn was answered".into();
    if let Plot::Lines(p) = &mut fig.plot {
        p.y_label = "time to first reply (ms)".into();
    }
    Some(fig)
}

/// One delivery-latency histogram (by tag) per target that has a `<target>.delivery.hlog`.
fn delivery_histograms(data: &RunData, tag: &str) -> Vec<(String, Histogram<u64>)> {
    data.targets
        .iter()
        .filter(|t| t.result.delivery.is_some())
        .filter_map(|t| {
            let log = crate::results::hlog::read(&data.dir.join(crate::results::delivery_hlog_name(t.name()))).ok()?;
            let mut h = crate::results::histogram();
            for e in log.entries.iter().filter(|e| e.tag.as_deref() == Some(tag)) {
                h.add(&e.histogram).ok()?;
            }
            (!h.is_empty()).then(|| (t.name().to_string(), h))
        })
        .collect()
}

/// The nines axis length for histograms holding up to `count` values: as many nines as the data
/// resolves (at least 2, at most [`MAX_NINES`]).
pub fn nines_for(count: u64) -> u32 {
    if count == 0 {
        return 2;
    }
    ((count as f64).log10().ceil() as u32).clamp(2, MAX_NINES)
}

/// Latency (ms) at evenly spaced points of the nines axis, up to what `h` resolves, ending at the max.
pub fn spectrum_points(h: &Histogram<u64>, max_nines: u32) -> Vec<(f64, Option<f64>)> {
    if h.is_empty() {
        return Vec::new();
    }
    let reach = (h.len() as f64).log10().min(f64::from(max_nines));
    let steps = (reach * f64::from(STEPS_PER_NINE)).floor() as u32;
    let mut out: Vec<(f64, Option<f64>)> = (0..=steps)
        .map(|i| {
            let x = f64::from(i) / f64::from(STEPS_PER_NINE);
            let q = 1.0 - 10f64.powf(-x);
            (x, Some(h.value_at_quantile(q) as f64 / 1000.0))
        })
        .collect();
    out.push((reach.max(0.0), Some(h.max() as f64 / 1000.0)));
    out
}

/// The percentile spectrum of several histograms, one line per label.
pub fn spectrum(stem: &str, title: &str, series: &[(String, &Histogram<u64>)]) -> Figure {
    let nines = nines_for(series.iter().map(|s| s.1.len()).max().unwrap_or(0));
    let lines = series
        .iter()
        .enumerate()
        .map(|(i, (label, h))| Line {
            label: label.clone(),
            color: charts::color(i),
            stroke: Stroke::Solid,
            width: 2,
            points: spectrum_points(h, nines),
        })
        .collect();
    Figure {
        stem: stem.into(),
        title: title.into(),
        caption: "Latency (from each request's intended start) at every percentile. Each step right adds a nine: \
                  the right-hand side is the slowest requests, where tail latency shows."
            .into(),
        no_data: "no data: no request got a response".into(),
        plot: Plot::Lines(LinePlot {
            x: XAxis::Nines { max: nines },
            x_label: "percentile".into(),
            y_label: "latency (ms)".into(),
            lines,
            secondary: None,
            markers: Vec::new(),
        }),
    }
}

fn ms(us: Option<u64>) -> Option<f64> {
    us.map(|v| v as f64 / 1000.0)
}

/// p50 and p99 per second per target, with the requested rate on the right axis when there is one.
pub fn latency_over_time(targets: &[TargetData], stages: &[f64]) -> Figure {
    let mut lines = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        let color = charts::color(i);
        let pts = |f: fn(&crate::results::TimelineRow) -> Option<u64>| -> Vec<(f64, Option<f64>)> {
            t.timeline.iter().map(|r| (r.second as f64, ms(f(r)))).collect()
        };
        lines.push(Line {
            label: format!("{} p99", t.name()),
            color,
            stroke: Stroke::Solid,
            width: 2,
            points: pts(|r| r.p99_us),
        });
        lines.push(Line {
            label: format!("{} p50", t.name()),
            color,
            stroke: Stroke::Dashed,
            width: 2,
            points: pts(|r| r.p50_us),
        });
    }
    let secondary = requested_lines(targets, "requested rate (right axis)", charts::GREY, Stroke::Dashed, 1)
        .map(|lines| Secondary { y_label: "requested rate (req/s)".into(), lines });
    Figure {
        stem: "latency_over_time".into(),
        title: "Latency over time".into(),
        caption: "p99 (solid) and p50 (dashed) of the responses that ended in each second. The grey line, on the \
                  right-hand axis, is the requested rate."
            .into(),
        no_data: "no data: no request got a response".into(),
        plot: Plot::Lines(LinePlot {
            x: XAxis::Seconds,
            x_label: "time since the target started (s)".into(),
            y_label: "latency (ms)".into(),
            lines,
            secondary,
            markers: stages.to_vec(),
        }),
    }
}

/// The requested rate per second: one line (`label`, `color`, `stroke`) when every target had the same
/// plan, else one dashed line per target in its colour.
fn requested_lines(
    targets: &[TargetData],
    label: &str,
    color: RGBColor,
    stroke: Stroke,
    width: u32,
) -> Option<Vec<Line>> {
    let per: Vec<Vec<(f64, Option<f64>)>> = targets
        .iter()
        .map(|t| t.timeline.iter().map(|r| (r.second as f64, r.requested.map(|v| v as f64))).collect())
        .collect();
    if !per.iter().flatten().any(|p| p.1.is_some()) {
        return None;
    }
    if per.windows(2).all(|w| w[0] == w[1]) {
        let points = per.into_iter().next().unwrap_or_default();
        return Some(vec![Line { label: label.into(), color, stroke, width, points }]);
    }
    Some(
        per.into_iter()
            .zip(targets)
            .enumerate()
            .map(|(i, (points, t))| Line {
                label: format!("{} {label}", t.name()),
                color: charts::color(i),
                stroke: Stroke::Dashed,
                width: 1,
                points,
            })
            .collect(),
    )
}

/// Where each stage of an open-loop plan after the first begins, in seconds from a target's start, from
/// the profile recorded in run.json (every target of a run follows the same plan).
fn stage_starts(profile: &serde_json::Value) -> Vec<f64> {
    let Some(stages) = profile.pointer("/load/stages").and_then(|s| s.as_array()) else { return Vec::new() };
    let mut at = 0.0;
    let mut marks = Vec::new();
    for s in stages {
        let Some(over) = s.get("over").and_then(|o| o.as_str()).and_then(|o| crate::units::duration::parse(o).ok())
        else {
            return Vec::new();
        };
        if at > 0.0 {
            marks.push(at);
        }
        at += over.as_secs_f64();
    }
    marks
}

/// Requests started in each second of `t`, as a rate. Open loop: as counted, beside what the plan asked
/// of the same second. Closed loop: the last second, when the target's run ended inside it, is scaled to the part of it the run covered (a run of 10.3 s has 0.3 s in its last
/// second: not a cliff of 30 % at the end), and left out when that part is under a fifth of a second.
fn started_per_second(t: &TargetData) -> Vec<(f64, Option<f64>)> {
    // An open-loop plan says what each second asked for, its last one included: no scaling there.
    if t.timeline.iter().any(|r| r.requested.is_some()) {
        return t.timeline.iter().map(|r| (r.second as f64, Some(r.started as f64))).collect();
    }
    per_second_rate(t.result.duration_s, t.timeline.iter().map(|r| (r.second, r.started)))
}

/// [`started_per_second`] of (second, count) rows of a run that lasted `end` seconds.
fn per_second_rate(end: f64, rows: impl Iterator<Item = (u64, u64)>) -> Vec<(f64, Option<f64>)> {
    rows.filter_map(|(second, n)| {
        let covered = (end - second as f64).clamp(0.0, 1.0);
        match covered {
            c if c >= 1.0 || end <= 0.0 => Some((second as f64, Some(n as f64))),
            c if c >= 0.2 => Some((second as f64, Some(n as f64 / c))),
            _ => None,
        }
    })
    .collect()
}

/// Requests started per second (achieved) against the requested rate.
pub fn throughput(targets: &[TargetData], stages: &[f64]) -> Figure {
    // The requested rate goes underneath, wide and light, so achieved lines on top of it stay visible.
    let mut lines = requested_lines(targets, "requested", charts::LIGHT, Stroke::Solid, 8).unwrap_or_default();
    lines.extend(targets.iter().enumerate().map(|(i, t)| Line {
        label: format!("{} achieved", t.name()),
        color: charts::color(i),
        stroke: Stroke::Solid,
        width: 2,
        points: started_per_second(t),
    }));
    Figure {
        stem: "throughput".into(),
        title: "Throughput: requested vs achieved".into(),
        caption: "Requests started in each second (coloured lines) against the rate the plan asked for (wide grey \
                  band). A line below the band means the target or the load generator could not keep up."
            .into(),
        no_data: "no data: no request was started".into(),
        plot: Plot::Lines(LinePlot {
            x: XAxis::Seconds,
            x_label: "time since the target started (s)".into(),
            y_label: "requests per second".into(),
            lines,
            secondary: None,
            markers: stages.to_vec(),
        }),
    }
}

/// Successes, errors and dropped requests per second, stacked, one panel per target.
pub fn outcomes(targets: &[TargetData]) -> Figure {
    let panels = targets
        .iter()
        .map(|t| {
            let layer = |label: &str, color, f: fn(&crate::results::TimelineRow) -> u64| Layer {
                label: label.into(),
                color,
                values: t.timeline.iter().map(|r| (r.second as f64, f(r) as f64)).collect(),
            };
            Panel {
                title: t.name().to_string(),
                layers: vec![
                    layer("ok", charts::GREEN, |r| r.ok),
                    layer("errors", charts::VERMILLION, |r| r.errors),
                    layer("dropped", charts::ORANGE, |r| r.dropped),
                ],
            }
        })
        .collect();
    Figure {
        stem: "outcomes".into(),
        title: "Outcomes per second".into(),
        caption: "Requests that ended in each second, stacked: ok at the bottom, then errors (any error response, \
                  timeout or connection failure), then requests dropped because too many were outstanding. The table \
                  above breaks errors down by code."
            .into(),
        no_data: "no data: no request ended".into(),
        plot: Plot::Stacked(StackPlot {
            x_label: "time since the target started (s)".into(),
            y_label: "requests per second".into(),
            panels,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spectrum_reaches_the_max_and_stops_where_the_data_does() {
        let mut h = crate::results::histogram();
        for v in 1..=1000u64 {
            h.record(v * 10).unwrap();
        }
        let p = spectrum_points(&h, 6);
        let last = p.last().unwrap();
        assert!((last.0 - 3.0).abs() < 1e-9, "1000 values resolve three nines: {last:?}");
        assert!((last.1.unwrap() - h.max() as f64 / 1000.0).abs() < 1e-9);
        let first = p.first().unwrap();
        assert_eq!(first.0, 0.0);
        // At 90% (x = 1) the value is the 900th.
        let at90 = p.iter().find(|q| (q.0 - 1.0).abs() < 1e-9).unwrap();
        assert!((at90.1.unwrap() - 9.0).abs() < 0.02, "{at90:?}");
        assert!(spectrum_points(&crate::results::histogram(), 6).is_empty());
        assert_eq!(nines_for(0), 2);
        assert_eq!(nines_for(5000), 4);
        assert_eq!(nines_for(u64::MAX), MAX_NINES);
    }

    #[test]
    fn the_last_partial_second_is_a_rate_not_a_cliff() {
        let rows = [(0, 100), (1, 100), (2, 50), (3, 2)];
        // 2.5 s: the third second is half covered (50 in half a second = 100/s); the fourth not at all.
        assert_eq!(
            per_second_rate(2.5, rows.into_iter()),
            vec![(0.0, Some(100.0)), (1.0, Some(100.0)), (2.0, Some(100.0))]
        );
        // 3.1 s: a tenth of the fourth second is too little to show a rate.
        assert_eq!(per_second_rate(3.1, rows.into_iter()).len(), 3);
        assert_eq!(per_second_rate(4.0, rows.into_iter()).last(), Some(&(3.0, Some(2.0))), "whole seconds as they are");
    }

    #[test]
    fn stages_are_marked_where_they_begin() {
        let p = serde_json::json!({"load": {"stages": [
            {"to": 60.0, "over": "5s"}, {"to": 60.0, "over": "1m"}, {"to": 0.0, "over": "500ms"}]}});
        assert_eq!(stage_starts(&p), vec![5.0, 65.0]);
        assert!(stage_starts(&serde_json::json!({"load": {"rate": 5.0}})).is_empty());
    }
}
