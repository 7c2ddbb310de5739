//! The chart as a PNG, drawn with plotters' bitmap backend.
//!
//! Text needs a font. plotters' default (`ttf`) asks the system through
//! font-kit and fontconfig, which a bare server may lack; with the
//! `ab_glyph` feature it renders a font we hand it. We bundle a subset of
//! DejaVu Sans (ASCII, °, µ, ×, dashes, minus: 11 KB, made with
//! `pyftsubset`), whose Bitstream Vera licence allows redistribution and
//! modification under a name without "Bitstream" or "Vera";
//! see `cli/assets/DejaVuSans-LICENSE.txt`. Characters outside the subset
//! (e.g. in label values) draw as the font's blank box.

use std::path::Path;
use std::sync::Once;

use anyhow::anyhow;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

use super::{axis, segments, y_axis, Chart, PALETTE};

static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans-subset.ttf");

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are ours and checked by the tests; were they bad, text
        // would be missing and drawing it would report the error.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// Writes `c` to `path` as a `width × height` PNG.
pub fn write(c: &Chart, path: &Path, width: u32, height: u32) -> anyhow::Result<()> {
    register_font();
    let err = |e: &dyn std::fmt::Display| anyhow!("drawing {}: {e}", path.display());
    let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;

    let y = y_axis(&c.series, &c.unit, 6);
    let span = (c.end - c.start).max(1);
    let label_w = axis::time_label_width(span);
    let max_labels = (width as usize / (label_w * 9 + 20)).max(2);
    let (times, tstep) = axis::time_ticks(c.start, c.end, max_labels);

    let mut chart = ChartBuilder::on(&root)
        .caption(&c.title, ("sans-serif", 20))
        .margin(12)
        .margin_right(24)
        .x_label_area_size(40)
        .y_label_area_size(90)
        // x is milliseconds after `start` as f64: plotters' i64 axis
        // overflows computing its key points for epoch milliseconds.
        .build_cartesian_2d(0.0..span as f64, y.lo..y.hi)
        .map_err(|e| err(&e))?;
    // plotters would put ticks at round numbers of milliseconds and pick
    // its own value ticks; ours are round UTC times and the unit's round
    // numbers, so the mesh draws only the axes and the ticks are drawn here.
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(0)
        .y_labels(0)
        .draw()
        .map_err(|e| err(&e))?;
    let grid = BLACK.mix(0.12);
    let font = ("sans-serif", 14).into_font().color(&BLACK);
    for (v, label) in y.ticks.iter().zip(&y.labels) {
        chart
            .draw_series(LineSeries::new([(0.0, *v), (span as f64, *v)], grid))
            .map_err(|e| err(&e))?;
        let (px, py) = chart.backend_coord(&(0.0, *v));
        let style = font.pos(Pos::new(HPos::Right, VPos::Center));
        root.draw(&Text::new(label.clone(), (px - 6, py), style))
            .map_err(|e| err(&e))?;
    }
    let x = |t: i64| (t - c.start) as f64;
    for t in times {
        chart
            .draw_series(LineSeries::new([(x(t), y.lo), (x(t), y.hi)], grid))
            .map_err(|e| err(&e))?;
        let (px, py) = chart.backend_coord(&(x(t), y.lo));
        let style = font.pos(Pos::new(HPos::Center, VPos::Top));
        root.draw(&Text::new(
            axis::time_label(t, span, tstep),
            (px, py + 6),
            style,
        ))
        .map_err(|e| err(&e))?;
    }

    for (i, s) in c.series.iter().enumerate() {
        let (r, g, b) = PALETTE[i % PALETTE.len()].1;
        let colour = RGBColor(r, g, b);
        // An empty series carries the legend entry; segments draw the data.
        chart
            .draw_series(LineSeries::new(std::iter::empty(), colour.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(s.label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3))
            });
        for seg in segments(&s.points, c.step) {
            let seg: Vec<(f64, f64)> = seg.into_iter().map(|(t, v)| (x(t), v)).collect();
            if seg.len() == 1 {
                chart
                    .draw_series(seg.iter().map(|&p| Circle::new(p, 2, colour.filled())))
                    .map_err(|e| err(&e))?;
            } else {
                chart
                    .draw_series(LineSeries::new(seg, colour.stroke_width(2)))
                    .map_err(|e| err(&e))?;
            }
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
