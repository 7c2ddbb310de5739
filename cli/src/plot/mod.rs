//! Line charts of range-query results: braille in the terminal
//! ([`render_terminal`]), PNG through plotters ([`png::write`]).
//!
//! Layout of the terminal chart, `width` columns wide:
//! ```text
//! title
//!  250 W ┤      ⢀⡠⠔⠊⠉⠑⠢⡀        <- `rows` rows of braille cells;
//!        │   ⢀⠔⠁       ⠈⠢⡀        y labels right-aligned on tick rows
//!  200 W ┤⠤⠒⠁              ⠉⠒⠤
//!        └─────┬────────┬─────
//!            12:00    13:00      <- UTC times, centred on their ticks
//! ━━ gpu="0"  min 180 W  max 251 W  last 231 W
//! ```
//! Points farther apart than 1.5 steps are not joined ([`segments`]), so
//! a rig that was off shows as a gap, not a ramp.

pub mod axis;
pub mod braille;
pub mod png;
pub mod units;

use std::fmt::Write as _;

use minetsdb::promql::Metric;

use braille::Canvas;
use units::Unit;

/// One line of the chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// `(t ms, v)` in time order; non-finite values are gaps.
    pub points: Vec<(i64, f64)>,
}

/// What to draw: the series and the range they were queried over.
#[derive(Debug, Clone)]
pub struct Chart {
    pub title: String,
    pub series: Vec<Series>,
    pub start: i64,
    pub end: i64,
    pub step: i64,
    pub unit: Unit,
}

/// Colours of series `i % len`: an ANSI SGR code for the terminal and the
/// matching RGB for the PNG.
pub const PALETTE: [(u8, (u8, u8, u8)); 12] = [
    (32, (0x2c, 0xa0, 0x2c)),
    (33, (0xd6, 0x9e, 0x00)),
    (36, (0x17, 0xbe, 0xcf)),
    (35, (0xc0, 0x3c, 0xc0)),
    (31, (0xd6, 0x27, 0x28)),
    (34, (0x1f, 0x77, 0xb4)),
    (92, (0x7f, 0xd0, 0x60)),
    (93, (0xf0, 0xd0, 0x40)),
    (96, (0x60, 0xe0, 0xf0)),
    (95, (0xf0, 0x80, 0xf0)),
    (91, (0xf0, 0x70, 0x70)),
    (94, (0x60, 0x90, 0xf0)),
];

/// Splits `points` into runs to draw as joined lines: a run ends where the
/// next point is more than 1.5 × `step` later, or at a non-finite value
/// (which is left out).
pub fn segments(points: &[(i64, f64)], step: i64) -> Vec<Vec<(i64, f64)>> {
    let mut out: Vec<Vec<(i64, f64)>> = Vec::new();
    let mut cur: Vec<(i64, f64)> = Vec::new();
    for &(t, v) in points {
        let joined = cur
            .last()
            .is_some_and(|&(pt, _)| (t - pt).saturating_mul(2) <= step.saturating_mul(3));
        if !joined && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        if v.is_finite() {
            cur.push((t, v));
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Legend labels for `metrics`: labels every series shares are dropped,
/// so two GPUs read `gpu="0"` and `gpu="1"`. A lone series (or one left
/// with nothing) keeps its whole label set; one with no labels at all
/// (`sum(x)`) is named by `expr`.
pub fn short_labels(metrics: &[Metric], expr: &str) -> Vec<String> {
    let shared = |name: &str, value: &str| {
        metrics.len() > 1 && metrics.iter().all(|m| m.get(name) == Some(value))
    };
    metrics
        .iter()
        .map(|m| {
            let name = m.name().filter(|n| !shared("__name__", n));
            let rest: Vec<String> = m
                .iter()
                .filter(|l| l.name != "__name__" && !shared(&l.name, &l.value))
                .map(|l| format!("{}={:?}", l.name, l.value))
                .collect();
            match (name, rest.is_empty()) {
                (None, true) if m.is_empty() => expr.to_string(),
                (None, true) => m.to_string(),
                (Some(n), true) => n.to_string(),
                (None, false) => rest.join(", "),
                (Some(n), false) => format!("{n}{{{}}}", rest.join(", ")),
            }
        })
        .collect()
}

/// The value axis: tick values (in the data's units), their labels, and
/// the range they bound.
#[derive(Debug, Clone, PartialEq)]
pub struct YAxis {
    pub ticks: Vec<f64>,
    pub labels: Vec<String>,
    pub lo: f64,
    pub hi: f64,
}

/// Round ticks, about `n` of them, over every finite value of `series`.
pub fn y_axis(series: &[Series], unit: &Unit, n: usize) -> YAxis {
    let vals = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite());
    let (min, max) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let (min, max) = if min > max { (0.0, 1.0) } else { (min, max) };
    let scale = unit.scale(min.abs().max(max.abs()));
    let scaled = axis::nice_ticks(min / scale.div, max / scale.div, n);
    let step = match scaled.as_slice() {
        [a, b, ..] => b - a,
        _ => 1.0,
    };
    let d = axis::tick_decimals(step);
    let labels = scaled
        .iter()
        .map(|v| format!("{}{}", units::trim_zeros(&format!("{v:.d$}")), scale.suffix))
        .collect();
    let ticks: Vec<f64> = scaled.iter().map(|v| v * scale.div).collect();
    YAxis {
        lo: ticks.first().copied().unwrap_or(0.0),
        hi: ticks.last().copied().unwrap_or(1.0),
        ticks,
        labels,
    }
}

/// The chart as terminal text: `width` columns, `rows` rows of plot,
/// ANSI colours when `color`.
pub fn render_terminal(c: &Chart, width: usize, rows: usize, color: bool) -> String {
    let rows = rows.max(2);
    let y = y_axis(&c.series, &c.unit, (rows / 2).clamp(2, 8) + 1);
    let lw = y
        .labels
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0);
    let cols = width.saturating_sub(lw + 2).max(10);
    let mut canvas = Canvas::new(cols, rows);
    let (w, h) = (canvas.width() as f64, canvas.height() as f64);
    let span = (c.end - c.start).max(1);
    let px = |t: i64| ((t - c.start) as f64 / span as f64 * (w - 1.0)).round() as i64;
    let py = |v: f64| {
        let r = if y.hi > y.lo {
            (y.hi - v) / (y.hi - y.lo)
        } else {
            0.5
        };
        (r * (h - 1.0)).round() as i64
    };
    for (i, s) in c.series.iter().enumerate() {
        for seg in segments(&s.points, c.step) {
            let mut prev: Option<(i64, i64)> = None;
            for &(t, v) in &seg {
                let p = (px(t), py(v));
                match prev {
                    Some(q) => canvas.line(q, p, i),
                    None => canvas.set(p.0, p.1, i),
                }
                prev = Some(p);
            }
        }
    }

    let mut out = String::new();
    let _ = writeln!(out, "{}", c.title);
    // Label of each row that holds a tick; a tick sharing a row with an
    // earlier one is left out.
    let mut row_label: Vec<Option<&str>> = vec![None; rows];
    for (v, l) in y.ticks.iter().zip(&y.labels) {
        let r = (py(*v).max(0) as usize / 4).min(rows - 1);
        row_label[r].get_or_insert(l.as_str());
    }
    for (r, label) in row_label.iter().enumerate() {
        let (l, mark) = match label {
            Some(l) => (*l, '┤'),
            None => ("", '│'),
        };
        let _ = write!(out, "{l:>lw$} {mark}");
        let mut open: Option<u8> = None;
        for (ch, owner) in canvas.row(r) {
            let want = owner.filter(|_| color && ch != ' ').map(ansi);
            if color && want.is_some() && want != open {
                let _ = write!(out, "\x1b[{}m", want.unwrap_or(0));
                open = want;
            }
            out.push(ch);
        }
        if open.is_some() {
            out.push_str("\x1b[0m");
        }
        out.push('\n');
    }

    // Time axis: a tick mark under each labelled time, labels centred.
    let lwidth = axis::time_label_width(span);
    let (times, tstep) = axis::time_ticks(c.start, c.end, cols / (lwidth + 3));
    let mut rule: Vec<char> = vec!['─'; cols];
    let mut labels: Vec<char> = vec![' '; lw + 2 + cols];
    let mut free_from = 0;
    for t in times {
        let col = (px(t).max(0) as usize / 2).min(cols - 1);
        rule[col] = '┬';
        let text: Vec<char> = axis::time_label(t, span, tstep).chars().collect();
        // Centred on the tick, pulled in at the right edge.
        let at = (lw + 2 + col)
            .saturating_sub(text.len() / 2)
            .min(labels.len().saturating_sub(text.len()))
            .max(free_from);
        if at + text.len() <= labels.len() {
            labels[at..at + text.len()].copy_from_slice(&text);
            free_from = at + text.len() + 1;
        }
    }
    let rule: String = rule.into_iter().collect();
    let _ = writeln!(out, "{:lw$} └{rule}", "");
    let labels: String = labels.into_iter().collect();
    let _ = writeln!(out, "{}", labels.trim_end());

    // Legend: one line per series, with its range and last value; labels
    // are cut short so that each line fits the width.
    let stats: Vec<String> = c
        .series
        .iter()
        .map(|s| {
            let fin = || s.points.iter().map(|p| p.1).filter(|v| v.is_finite());
            match fin().next_back() {
                Some(last) => format!(
                    "  min {}  max {}  last {}",
                    c.unit.format(fin().fold(f64::INFINITY, f64::min)),
                    c.unit.format(fin().fold(f64::NEG_INFINITY, f64::max)),
                    c.unit.format(last)
                ),
                None => "  (no data)".to_string(),
            }
        })
        .collect();
    let stats_w = stats.iter().map(|s| s.chars().count()).max().unwrap_or(0);
    let name_w = c
        .series
        .iter()
        .map(|s| s.label.chars().count())
        .max()
        .unwrap_or(0)
        .min(width.saturating_sub(3 + stats_w).max(12));
    for (i, (s, stats)) in c.series.iter().zip(&stats).enumerate() {
        let swatch = if color {
            format!("\x1b[{}m━━\x1b[0m", ansi(i))
        } else {
            "━━".to_string()
        };
        let label: String = if s.label.chars().count() > name_w {
            let mut t: String = s.label.chars().take(name_w.saturating_sub(1)).collect();
            t.push('…');
            t
        } else {
            s.label.clone()
        };
        let _ = writeln!(out, "{swatch} {label:<name_w$}{stats}");
    }
    out
}

fn ansi(series: usize) -> u8 {
    PALETTE[series % PALETTE.len()].0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_split_segments() {
        let step = 60_000;
        let pts = [
            (0, 1.0),
            (60_000, 2.0),
            (150_000, 3.0), // 1.5 steps later: still joined
            (300_000, 4.0), // 2.5 steps later: a gap
            (360_000, f64::NAN),
            (420_000, 5.0),
        ];
        let segs = segments(&pts, step);
        assert_eq!(
            segs,
            vec![
                vec![(0, 1.0), (60_000, 2.0), (150_000, 3.0)],
                vec![(300_000, 4.0)],
                vec![(420_000, 5.0)],
            ]
        );
        assert!(segments(&[], step).is_empty());
    }

    #[test]
    fn gap_leaves_blank_cells() {
        // Data for the first and last ten minutes of an hour, none between:
        // the middle of the chart stays empty instead of a ramp.
        let pts: Vec<(i64, f64)> = (0..=60)
            .filter(|m| *m <= 10 || *m >= 50)
            .map(|m| (m * 60_000, if m <= 10 { 0.0 } else { 100.0 }))
            .collect();
        let c = Chart {
            title: "t".into(),
            series: vec![Series {
                label: "a".into(),
                points: pts,
            }],
            start: 0,
            end: 3_600_000,
            step: 60_000,
            unit: Unit::none(),
        };
        let out = render_terminal(&c, 50, 4, false);
        let plot_rows: Vec<Vec<char>> = out
            .lines()
            .skip(1)
            .take(4)
            .map(|l| {
                l.chars()
                    .skip_while(|&c| c != '┤' && c != '│')
                    .skip(1)
                    .collect()
            })
            .collect();
        let cols = plot_rows[0].len();
        for row in &plot_rows {
            assert!(
                row[cols * 3 / 10..cols * 7 / 10].iter().all(|&c| c == ' '),
                "{out}"
            );
        }
        assert!(
            plot_rows[0][cols - 1] != ' ' && plot_rows[3][0] != ' ',
            "{out}"
        );
    }

    fn metric(labels: &[(&str, &str)]) -> Metric {
        Metric::from(&minetsdb::Labels::from_pairs(labels.iter().copied()).unwrap())
    }

    #[test]
    fn legend_drops_shared_labels() {
        let ms = [
            metric(&[("__name__", "w"), ("gpu", "0"), ("instance", "rig1")]),
            metric(&[("__name__", "w"), ("gpu", "1"), ("instance", "rig1")]),
        ];
        assert_eq!(short_labels(&ms, "w"), ["gpu=\"0\"", "gpu=\"1\""]);
        let ms = [
            metric(&[("__name__", "a"), ("gpu", "0")]),
            metric(&[("__name__", "b"), ("gpu", "0")]),
        ];
        assert_eq!(short_labels(&ms, "a or b"), ["a", "b"]);
        let one = [metric(&[("__name__", "w"), ("gpu", "0")])];
        assert_eq!(short_labels(&one, "w"), ["w{gpu=\"0\"}"]);
        assert_eq!(short_labels(&[Metric::default()], "sum(w)"), ["sum(w)"]);
        // Identical label sets (possible with `or`) keep everything.
        let same = vec![metric(&[("__name__", "x"), ("gpu", "0")]); 2];
        assert_eq!(short_labels(&same, "x"), ["x{gpu=\"0\"}"; 2]);
    }

    #[test]
    fn y_axis_labels_carry_units() {
        let s = [Series {
            label: "x".into(),
            points: vec![(0, 183.2), (1, 251.7)],
        }];
        let y = y_axis(&s, &Unit::from_metric("p_watts", false), 5);
        assert_eq!(y.labels, ["180 W", "200 W", "220 W", "240 W", "260 W"]);
        let s = [Series {
            label: "x".into(),
            points: vec![(0, 40e6), (1, 62e6)],
        }];
        let y = y_axis(&s, &Unit::from_metric("h_hashes_per_second", false), 3);
        assert_eq!(y.labels, ["40 MH/s", "60 MH/s", "80 MH/s"]);
        assert_eq!((y.lo, y.hi), (40e6, 80e6));
    }

    #[test]
    fn terminal_chart_shape() {
        let c = Chart {
            title: "t".into(),
            series: vec![Series {
                label: "a".into(),
                points: (0..=60)
                    .map(|i| (i * 60_000, f64::from(i as i32)))
                    .collect(),
            }],
            start: 0,
            end: 3_600_000,
            step: 60_000,
            unit: Unit::from_metric("x_watts", false),
        };
        let out = render_terminal(&c, 40, 8, false);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 1 + 8 + 2 + 1, "{out}");
        assert!(lines[1].starts_with("60 W ┤"), "{out}");
        assert!(lines[10].contains("01:00"), "{out}");
        assert!(lines[8].starts_with(" 0 W ┤"), "{out}");
        assert!(lines[9].starts_with("     └┬───"), "{out}");
        assert!(
            lines[10].contains("00:00") && lines[10].contains("00:30"),
            "{out}"
        );
        assert!(
            lines[11].starts_with("━━ a  min 0 W  max 60 W  last 60 W"),
            "{out}"
        );
        assert!(!out.contains('\x1b'));
        // A rising line: top-right and bottom-left cells are drawn.
        assert!(
            lines[1].ends_with(|c: char| ('\u{2801}'..='\u{28ff}').contains(&c)),
            "{out}"
        );
        assert!(render_terminal(&c, 40, 8, true).contains("\x1b[32m"));
    }
}
