//! A figure drawn to files: the SVG (each series grouped and its values attached by
//! [`super::interactive`], for the page's hover and toggles) and the PNG.

use std::path::Path;

use plotters::prelude::*;

use super::ReportError;
use super::charts::{Figure, draw_marked, err, register_font};
use super::interactive;

/// A drawn figure: its SVG text (for inlining) and where its files are.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub stem: String,
    pub title: String,
    pub caption: String,
    /// The SVG, each series and legend entry in a `<g>` naming it (see [`super::interactive`]).
    pub svg: String,
    /// The chart's values as JSON, for the page's hover and toggles (see [`super::interactive`]).
    pub data: String,
}

/// Draw `fig` as SVG (returned, and written to `<dir>/<stem>.svg`) and PNG (`<dir>/<stem>.png`).
pub fn render(fig: &Figure, dir: &Path) -> Result<Rendered, ReportError> {
    let draw_err = |reason: String| ReportError::Draw { chart: fig.stem.clone(), reason };
    register_font().map_err(draw_err)?;
    let size = fig.size();
    let mut marked = String::new();
    let boxes = {
        let root = SVGBackend::with_string(&mut marked, size).into_drawing_area();
        let boxes = draw_marked(fig, &root, true).map_err(draw_err)?;
        root.present().map_err(|e| draw_err(err(e)))?;
        boxes
    };
    let svg = interactive::group(&marked).map_err(draw_err)?;
    let data = interactive::chart_json(fig, &boxes);
    let svg_path = dir.join(format!("{}.svg", fig.stem));
    super::write(&svg_path, svg.as_bytes())?;
    let png_path = dir.join(format!("{}.png", fig.stem));
    let write_err = |e: &dyn std::fmt::Display| ReportError::Write { path: png_path.clone(), reason: e.to_string() };
    // The encoder picks the format from the extension: the temporary name keeps `.png`.
    let partial = dir.join(format!("{}.partial.png", fig.stem));
    {
        let root = BitMapBackend::new(&partial, size).into_drawing_area();
        draw_marked(fig, &root, false).map_err(draw_err)?;
        root.present().map_err(|e| write_err(&e))?;
    }
    std::fs::rename(&partial, &png_path).map_err(|e| write_err(&e))?;
    Ok(Rendered { stem: fig.stem.clone(), title: fig.title.clone(), caption: fig.caption.clone(), svg, data })
}
