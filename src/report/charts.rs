//! Charts: a backend-free description of each figure ([`Figure`]) and its drawing, once as SVG (kept
//! as text for the HTML report) and once as PNG, with the embedded DejaVu Sans font so the output is
//! the same on every machine. What to draw for a run is in `report::figures`.

use std::sync::OnceLock;

use std::ops::Range;

use plotters::chart::DualCoordChartContext;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Chart size in pixels: fits a laptop screen and a printed page.
pub const SIZE: (u32, u32) = (960, 540);
/// Height of one panel of a stacked chart with several targets.
pub const PANEL_HEIGHT: u32 = 270;
/// The font family every chart uses (registered from the embedded face).
const FAMILY: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The Okabe-Ito palette: distinguishable with common colour-vision deficiencies and in print.
pub const BLUE: RGBColor = RGBColor(0, 114, 178);
pub const VERMILLION: RGBColor = RGBColor(213, 94, 0);
pub const GREEN: RGBColor = RGBColor(0, 158, 115);
pub const PURPLE: RGBColor = RGBColor(204, 121, 167);
pub const ORANGE: RGBColor = RGBColor(230, 159, 0);
pub const SKY: RGBColor = RGBColor(86, 180, 233);
pub const INK: RGBColor = RGBColor(0, 0, 0);
/// Secondary information (requested rate behind latencies).
pub const GREY: RGBColor = RGBColor(120, 120, 120);
/// Background reference (requested rate under achieved rates).
pub const LIGHT: RGBColor = RGBColor(200, 200, 200);
/// Series colours in order: one per target or run.
pub const PALETTE: [RGBColor; 7] = [BLUE, VERMILLION, GREEN, PURPLE, ORANGE, SKY, INK];

/// The colour of the `i`-th target or run.
pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// How a line is stroked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stroke {
    Solid,
    Dashed,
}

/// One line: points with gaps (`None` where there is nothing to show).
#[derive(Debug, Clone)]
pub struct Line {
    pub label: String,
    pub color: RGBColor,
    pub stroke: Stroke,
    pub width: u32,
    pub points: Vec<(f64, Option<f64>)>,
}

impl Line {
    fn has_data(&self) -> bool {
        self.points.iter().any(|p| p.1.is_some())
    }
}

/// What the x axis shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum XAxis {
    /// Seconds since the start.
    Seconds,
    /// Summary on a "nines" scale: x = -log10(1 - q), labelled 0%, 90%, 99%, 99.9%… up to `max` nines.
    Nines { max: u32 },
}

/// A line chart, with an optional second y axis on the right.
#[derive(Debug, Clone)]
pub struct LinePlot {
    pub x: XAxis,
    pub x_label: String,
    pub y_label: String,
    pub lines: Vec<Line>,
    pub secondary: Option<Secondary>,
    /// Seconds where a stage of the plan begins (a ramp's turns): light vertical lines under the data.
    pub markers: Vec<f64>,
}

/// Lines drawn against the right-hand axis.
#[derive(Debug, Clone)]
pub struct Secondary {
    pub y_label: String,
    pub lines: Vec<Line>,
}

/// One layer of a stacked area chart: a value per second.
#[derive(Debug, Clone)]
pub struct Layer {
    pub label: String,
    pub color: RGBColor,
    pub values: Vec<(f64, f64)>,
}

/// One panel (one target) of a stacked area chart; layers stack bottom first.
#[derive(Debug, Clone)]
pub struct Panel {
    pub title: String,
    pub layers: Vec<Layer>,
}

/// Stacked areas over time, one panel per target.
#[derive(Debug, Clone)]
pub struct StackPlot {
    pub x_label: String,
    pub y_label: String,
    pub panels: Vec<Panel>,
}

#[derive(Debug, Clone)]
pub enum Plot {
    Lines(LinePlot),
    Stacked(StackPlot),
}

/// A chart to draw: files `<stem>.svg` and `<stem>.png`.
#[derive(Debug, Clone)]
pub struct Figure {
    pub stem: String,
    pub title: String,
    /// One or two sentences under the chart in the HTML report: how to read it.
    pub caption: String,
    /// Shown in place of the lines when there is nothing to plot.
    pub no_data: String,
    pub plot: Plot,
}

impl Figure {
    /// Pixel size: stacked charts grow with the number of panels.
    pub fn size(&self) -> (u32, u32) {
        match &self.plot {
            Plot::Stacked(s) if s.panels.len() > 2 => (SIZE.0, 60 + PANEL_HEIGHT * s.panels.len() as u32),
            _ => SIZE,
        }
    }
}

/// Where one plot area (a panel) lies in the drawing, in pixels, and the data ranges it maps.
#[derive(Debug, Clone, PartialEq)]
pub struct PanelBox {
    pub left: i32,
    pub top: i32,
    pub right: i32,
    pub bottom: i32,
    pub x: (f64, f64),
    pub y: (f64, f64),
    /// The right-hand axis, when there is one.
    pub y2: Option<(f64, f64)>,
}

/// The font family of the invisible markers drawn around each series and legend entry in the SVG;
/// `interactive::group` replaces them with `<g>` elements.
pub(crate) const MARK_FAMILY: &str = "wabench-mark";

/// Draw a marker (SVG only: `on` is false for the PNG).
fn mark<DB: DrawingBackend>(on: bool, area: &DrawingArea<DB, Shift>, text: &str) -> Result<(), String> {
    if on {
        area.draw_text(text, &(MARK_FAMILY, 1).into_font().color(&INK), (0, 0)).map_err(err)?;
    }
    Ok(())
}

/// Make the embedded font available to the chart backends (once per process).
pub fn register_font() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, FONT_BYTES)
            .map_err(|_| "the embedded chart font could not be loaded".to_string())
    })
    .clone()
}

pub(crate) fn err(e: impl std::fmt::Display) -> String {
    format!("cannot draw: {e}")
}

/// Draw `fig` on any plotters backend: title, a legend strip, then the plot.
pub fn draw<DB: DrawingBackend>(fig: &Figure, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
    draw_marked(fig, root, false).map(|_| ())
}

/// [`draw`], with markers around each series and legend entry when `marks` is set; returns where
/// each panel's plot area is.
pub(crate) fn draw_marked<DB: DrawingBackend>(
    fig: &Figure,
    root: &DrawingArea<DB, Shift>,
    marks: bool,
) -> Result<Vec<PanelBox>, String> {
    root.fill(&WHITE).map_err(err)?;
    let body = root.titled(&fig.title, (FAMILY, 24).into_font().color(&INK)).map_err(err)?;
    let items = legend_items(fig);
    let rows = legend_layout(&body, &items)?;
    let height = if rows.is_empty() { 0 } else { LEGEND_ROW * rows.len() as u32 + 8 };
    let (legend, plot) = body.split_vertically(height);
    draw_legend(&legend, &items, &rows, marks)?;
    match &fig.plot {
        Plot::Lines(p) => draw_lines(&plot, p, &fig.no_data, marks).map(|b| vec![b]),
        Plot::Stacked(s) => draw_stacked(&plot, s, &fig.no_data, marks),
    }
}

/// The legend entries of a figure, numbered as the SVG groups and the page's data number the series:
/// for lines, the left-axis lines then the right-axis lines (those with data); for stacked areas,
/// each layer label once (the same layer in every panel is one series).
pub(crate) fn series_ids(fig: &Figure) -> Vec<(usize, String, RGBColor)> {
    legend_items(fig).into_iter().map(|(id, label, color, _)| (id, label, color)).collect()
}

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy)]
enum Sample {
    Line(Stroke, u32),
    Swatch,
}

/// Height of one legend row in pixels.
const LEGEND_ROW: u32 = 22;
/// Left edge of the legend: in line with the plot area.
const LEGEND_LEFT: i32 = 84;
const LEGEND_SAMPLE: i32 = 26;

/// A legend entry: series id, label, colour, sample.
type Item = (usize, String, RGBColor, Sample);

fn legend_items(fig: &Figure) -> Vec<Item> {
    match &fig.plot {
        Plot::Lines(p) => {
            if !p.lines.iter().any(Line::has_data) {
                return Vec::new();
            }
            // Every left-axis line (one without data still names its target), the right-axis lines
            // with data.
            let n = p.lines.len();
            let sec = p.secondary.iter().flat_map(|s| s.lines.iter()).enumerate().map(|(j, l)| (n + j, l));
            p.lines
                .iter()
                .enumerate()
                .chain(sec.filter(|(_, l)| l.has_data()))
                .map(|(i, l)| (i, l.label.clone(), l.color, Sample::Line(l.stroke, l.width)))
                .collect()
        }
        Plot::Stacked(s) => {
            let mut items: Vec<Item> = Vec::new();
            for layer in s.panels.iter().flat_map(|p| p.layers.iter()) {
                if !items.iter().any(|i| i.1 == layer.label) {
                    items.push((items.len(), layer.label.clone(), layer.color, Sample::Swatch));
                }
            }
            items
        }
    }
}

/// The series id of a stacked layer: the position of its label among the figure's layer labels.
fn layer_id(s: &StackPlot, label: &str) -> usize {
    let mut seen: Vec<&str> = Vec::new();
    for l in s.panels.iter().flat_map(|p| p.layers.iter()) {
        if !seen.contains(&l.label.as_str()) {
            seen.push(&l.label);
        }
    }
    seen.iter().position(|l| *l == label).unwrap_or(0)
}

fn legend_font() -> TextStyle<'static> {
    (FAMILY, 15).into_font().color(&INK)
}

/// Place legend entries left to right, wrapping to new rows: the x of each entry, by row.
fn legend_layout<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[Item],
) -> Result<Vec<Vec<(usize, i32)>>, String> {
    let width = area.dim_in_pixel().0 as i32 - 16;
    let font = legend_font();
    let mut rows: Vec<Vec<(usize, i32)>> = Vec::new();
    let mut x = LEGEND_LEFT;
    for (i, (_, label, _, _)) in items.iter().enumerate() {
        let (w, _) = area.estimate_text_size(label, &font).map_err(err)?;
        let need = LEGEND_SAMPLE + 6 + w as i32 + 22;
        if rows.is_empty() || (x + need > width && x > LEGEND_LEFT) {
            rows.push(Vec::new());
            x = LEGEND_LEFT;
        }
        if let Some(r) = rows.last_mut() {
            r.push((i, x));
        }
        x += need;
    }
    Ok(rows)
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[Item],
    rows: &[Vec<(usize, i32)>],
    marks: bool,
) -> Result<(), String> {
    let font = legend_font().pos(Pos::new(HPos::Left, VPos::Center));
    for (r, row) in rows.iter().enumerate() {
        let y = 4 + LEGEND_ROW as i32 * r as i32 + LEGEND_ROW as i32 / 2;
        for (i, x) in row {
            let (id, label, color, sample) = &items[*i];
            mark(marks, area, &format!("k{id}"))?;
            match sample {
                Sample::Swatch => {
                    area.draw(&Rectangle::new(
                        [(*x + 4, y - 7), (*x + LEGEND_SAMPLE - 4, y + 7)],
                        color.mix(0.85).filled(),
                    ))
                    .map_err(err)?;
                }
                Sample::Line(stroke, width) => {
                    let style = color.stroke_width(*width);
                    let parts: &[(i32, i32)] = match stroke {
                        Stroke::Solid => &[(0, LEGEND_SAMPLE)],
                        Stroke::Dashed => &[(0, 8), (12, 20), (24, LEGEND_SAMPLE)],
                    };
                    for (a, b) in parts {
                        area.draw(&PathElement::new(vec![(*x + a, y), (*x + b, y)], style)).map_err(err)?;
                    }
                }
            }
            area.draw_text(label, &font, (*x + LEGEND_SAMPLE + 6, y)).map_err(err)?;
            mark(marks, area, "/")?;
        }
    }
    Ok(())
}

/// Tick positions for a seconds axis from `lo` to `hi`: a round step giving about 10 ticks.
fn second_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = (hi - lo).max(1.0);
    let step = [1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0]
        .into_iter()
        .find(|s| span / s <= 10.0)
        .unwrap_or_else(|| (span / 10.0 / 3600.0).ceil() * 3600.0);
    let first = (lo / step).ceil() * step;
    (0..).map(|i| first + step * f64::from(i)).take_while(|x| *x <= hi + 1e-9).collect()
}

/// A linear axis whose grid lines and labels sit exactly at the given ticks.
#[derive(Debug, Clone)]
struct Ticks {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ranged for Ticks {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = (self.hi - self.lo).max(f64::MIN_POSITIVE);
        let px = f64::from(limit.1 - limit.0);
        limit.0 + ((v - self.lo) / span * px).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() { Vec::new() } else { self.ticks.clone() }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

impl ValueFormatter<f64> for Ticks {
    fn format_ext(&self, v: &f64) -> String {
        format!("{v}")
    }
}

/// "0%", "90%", "99%", "99.9%", … for x = 0, 1, 2, 3, …
pub fn nines_label(x: f64) -> String {
    let n = x.round().max(0.0) as usize;
    match n {
        0 => "0%".into(),
        1 => "90%".into(),
        _ => format!("99.{}%", "9".repeat(n - 2)).replace("99.%", "99%"),
    }
}

/// Decimals for tick labels of an axis reaching `max`.
fn decimals(max: f64) -> usize {
    if max < 1.0 {
        2
    } else if max < 10.0 {
        1
    } else {
        0
    }
}

/// A tick label with at most `d` decimals and no trailing zeros ("2", "2.5", "0.25").
fn fmt_tick(v: f64, d: usize) -> String {
    let s = format!("{v:.d$}");
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

/// A y range with headroom; (0, 1) when nothing is plotted.
fn y_range(lines: &[Line]) -> f64 {
    let max = lines.iter().flat_map(|l| l.points.iter().filter_map(|p| p.1)).fold(0.0f64, f64::max);
    if max > 0.0 { max * 1.08 } else { 1.0 }
}

/// Contiguous runs of points with values.
fn segments(points: &[(f64, Option<f64>)]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut cur = Vec::new();
    for (x, y) in points {
        match y {
            Some(y) => cur.push((*x, *y)),
            None if !cur.is_empty() => out.push(std::mem::take(&mut cur)),
            None => {}
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn line_style(l: &Line) -> ShapeStyle {
    l.color.stroke_width(l.width)
}

fn note<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, text: &str) -> Result<(), String> {
    let (w, h) = area.dim_in_pixel();
    let style = (FAMILY, 22).into_font().color(&GREY).pos(Pos::new(HPos::Center, VPos::Center));
    area.draw_text(text, &style, (w as i32 / 2, h as i32 / 2)).map_err(err)
}

/// A line chart's coordinates: the x ticks against the left y axis, and the same x range against the
/// right one.
type LineChart<'a, DB> =
    DualCoordChartContext<'a, DB, Cartesian2d<Ticks, RangedCoordf64>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

fn draw_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &LinePlot,
    no_data: &str,
    marks: bool,
) -> Result<PanelBox, String> {
    let any = p.lines.iter().any(Line::has_data);
    let (x0, x1, ticks) = x_axis(p);
    let y1 = y_range(&p.lines);
    let sec = p.secondary.as_ref().filter(|s| s.lines.iter().any(Line::has_data));
    let sec_y1 = sec.map_or(1.0, |s| y_range(&s.lines));
    let mut chart = line_chart(area, Ticks { lo: x0, hi: x1, ticks }, y1, sec.map(|_| sec_y1))?;
    draw_mesh(&mut chart, p, decimals(y1))?;
    if let Some(s) = sec {
        draw_secondary(&mut chart, area, s, sec_y1, p.lines.len(), marks)?;
    }
    for &m in p.markers.iter().filter(|m| **m > x0 && **m < x1) {
        let style = ShapeStyle { color: RGBColor(170, 170, 170).to_rgba(), filled: false, stroke_width: 1 };
        chart.draw_series(DashedLineSeries::new([(m, 0.0), (m, y1)], 4, 4, style)).map_err(err)?;
    }
    for (i, l) in p.lines.iter().enumerate().filter(|(_, l)| l.has_data()) {
        mark(marks, area, &format!("s{i}"))?;
        for seg in segments(&l.points) {
            match l.stroke {
                Stroke::Solid => chart.draw_series(LineSeries::new(seg, line_style(l))),
                Stroke::Dashed => chart.draw_series(DashedLineSeries::new(seg, 7, 5, line_style(l))),
            }
            .map_err(err)?;
        }
        mark(marks, area, "/")?;
    }
    if !any {
        note(area, no_data)?;
    }
    let (left, bottom) = chart.backend_coord(&(x0, 0.0));
    let (right, top) = chart.backend_coord(&(x1, y1));
    Ok(PanelBox { left, top, right, bottom, x: (x0, x1), y: (0.0, y1), y2: sec.map(|_| (0.0, sec_y1)) })
}

/// The x range of a line plot and its ticks: every nine on a nines scale; on seconds, the span of the
/// points (0 to 10 when there are none).
fn x_axis(p: &LinePlot) -> (f64, f64, Vec<f64>) {
    match p.x {
        XAxis::Nines { max } => {
            let max = max.max(1);
            (0.0, f64::from(max), (0..=max).map(f64::from).collect::<Vec<_>>())
        }
        XAxis::Seconds => {
            let xs = p.lines.iter().flat_map(|l| l.points.iter().map(|q| q.0));
            let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
            let (lo, hi) = if lo.is_finite() && hi > lo { (lo, hi) } else { (0.0, 10.0) };
            (lo, hi, second_ticks(lo, hi))
        }
    }
}

/// The chart on `area`: `x` against 0..`y1` on the left, and against 0..`sec_y1` on the right, whose
/// labels take room only when there is a secondary axis (`sec_y1` given).
fn line_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    x: Ticks,
    y1: f64,
    sec_y1: Option<f64>,
) -> Result<LineChart<'a, DB>, String> {
    let (x0, x1) = (x.lo, x.hi);
    let mut b = ChartBuilder::on(area);
    b.margin_left(12).margin_right(if sec_y1.is_some() { 12 } else { 24 }).margin_top(8).margin_bottom(8);
    b.x_label_area_size(48).y_label_area_size(72);
    if sec_y1.is_some() {
        b.right_y_label_area_size(72);
    }
    Ok(b.build_cartesian_2d(x, 0.0..y1).map_err(err)?.set_secondary_coord(x0..x1, 0.0..sec_y1.unwrap_or(1.0)))
}

/// The grid, the axes and their labels (`y_dec` decimals on the y axis).
fn draw_mesh<DB: DrawingBackend>(chart: &mut LineChart<'_, DB>, p: &LinePlot, y_dec: usize) -> Result<(), String> {
    let nines = matches!(p.x, XAxis::Nines { .. });
    let x_fmt = |x: &f64| if nines { nines_label(*x) } else { fmt_tick(*x, 0) };
    let y_fmt = |y: &f64| fmt_tick(*y, y_dec);
    chart
        .configure_mesh()
        .x_desc(p.x_label.as_str())
        .y_desc(p.y_label.as_str())
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .axis_desc_style((FAMILY, 16))
        .label_style((FAMILY, 14))
        .max_light_lines(0)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
        .map_err(err)
}

/// The right-hand axis (in grey, reaching `y1`) and its lines, marked as series `first`, `first` + 1, …
fn draw_secondary<DB: DrawingBackend>(
    chart: &mut LineChart<'_, DB>,
    area: &DrawingArea<DB, Shift>,
    s: &Secondary,
    y1: f64,
    first: usize,
    marks: bool,
) -> Result<(), String> {
    let d = decimals(y1);
    chart
        .configure_secondary_axes()
        .y_desc(s.y_label.as_str())
        .y_label_formatter(&|y: &f64| fmt_tick(*y, d))
        .axis_desc_style((FAMILY, 16).into_font().color(&GREY))
        .label_style((FAMILY, 14).into_font().color(&GREY))
        .draw()
        .map_err(err)?;
    for (j, l) in s.lines.iter().enumerate().filter(|(_, l)| l.has_data()) {
        mark(marks, area, &format!("s{}", first + j))?;
        for seg in segments(&l.points) {
            match l.stroke {
                Stroke::Solid => chart.draw_secondary_series(LineSeries::new(seg, line_style(l))),
                Stroke::Dashed => chart.draw_secondary_series(DashedLineSeries::new(seg, 7, 5, line_style(l))),
            }
            .map_err(err)?;
        }
        mark(marks, area, "/")?;
    }
    Ok(())
}

fn draw_stacked<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &StackPlot,
    no_data: &str,
    marks: bool,
) -> Result<Vec<PanelBox>, String> {
    if s.panels.is_empty() {
        note(area, no_data)?;
        return Ok(Vec::new());
    }
    let parts = area.split_evenly((s.panels.len(), 1));
    let mut boxes = Vec::new();
    for (panel, part) in s.panels.iter().zip(parts.iter()) {
        // Tops of the stack, bottom layer first: each layer is drawn as the band between the top of
        // the layer below and its own top, so that hiding one (in the page) leaves the others in place.
        let seconds: Vec<f64> =
            panel.layers.first().map(|l| l.values.iter().map(|v| v.0).collect()).unwrap_or_default();
        let mut tops: Vec<Vec<(f64, f64)>> = Vec::new();
        let mut acc = vec![0.0; seconds.len()];
        for l in &panel.layers {
            for (a, v) in acc.iter_mut().zip(&l.values) {
                *a += v.1;
            }
            tops.push(seconds.iter().copied().zip(acc.iter().copied()).collect());
        }
        let y_max = acc.iter().copied().fold(0.0f64, f64::max);
        let y1 = if y_max > 0.0 { y_max * 1.1 } else { 1.0 };
        let (lo, hi) = match (seconds.first(), seconds.last()) {
            (Some(a), Some(b)) if b > a => (*a, *b),
            _ => (0.0, 10.0),
        };
        let dec = decimals(y1);
        let mut chart = ChartBuilder::on(part)
            .caption(&panel.title, (FAMILY, 17))
            .margin_left(12)
            .margin_right(24)
            .margin_top(4)
            .margin_bottom(6)
            .x_label_area_size(44)
            .y_label_area_size(72)
            .build_cartesian_2d(Ticks { lo, hi, ticks: second_ticks(lo, hi) }, 0.0..y1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(s.x_label.as_str())
            .y_desc(s.y_label.as_str())
            .x_label_formatter(&|x: &f64| fmt_tick(*x, 0))
            .y_label_formatter(&|y: &f64| fmt_tick(*y, dec))
            .axis_desc_style((FAMILY, 15))
            .label_style((FAMILY, 13))
            .max_light_lines(0)
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()
            .map_err(err)?;
        let (left, bottom) = chart.backend_coord(&(lo, 0.0));
        let (right, top) = chart.backend_coord(&(hi, y1));
        boxes.push(PanelBox { left, top, right, bottom, x: (lo, hi), y: (0.0, y1), y2: None });
        if seconds.is_empty() {
            note(part, no_data)?;
            continue;
        }
        let zero: Vec<(f64, f64)> = seconds.iter().map(|x| (*x, 0.0)).collect();
        // Top-most first, so where upper layers are empty the border of the lowest one shows.
        for (k, (l, top)) in panel.layers.iter().zip(tops.iter()).enumerate().rev() {
            let below = if k == 0 { &zero } else { &tops[k - 1] };
            let band: Vec<(f64, f64)> = top.iter().chain(below.iter().rev()).copied().collect();
            mark(marks, part, &format!("s{}", layer_id(s, &l.label)))?;
            chart.draw_series(std::iter::once(Polygon::new(band, l.color.mix(0.85).filled()))).map_err(err)?;
            chart.draw_series(LineSeries::new(top.clone(), l.color.stroke_width(1))).map_err(err)?;
            mark(marks, part, "/")?;
        }
    }
    Ok(boxes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nines_labels() {
        let l: Vec<String> = (0..5).map(|x| nines_label(f64::from(x))).collect();
        assert_eq!(l, ["0%", "90%", "99%", "99.9%", "99.99%"]);
    }

    #[test]
    fn second_ticks_are_round() {
        assert_eq!(second_ticks(0.0, 9.0), (0..=9).map(f64::from).collect::<Vec<_>>());
        assert_eq!(second_ticks(0.0, 60.0), vec![0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]);
        assert_eq!(second_ticks(3.0, 30.0).first(), Some(&5.0));
    }

    #[test]
    fn gaps_split_lines() {
        let s = segments(&[(0.0, Some(1.0)), (1.0, None), (2.0, Some(2.0)), (3.0, Some(3.0))]);
        assert_eq!(s, vec![vec![(0.0, 1.0)], vec![(2.0, 2.0), (3.0, 3.0)]]);
    }
}
