//! Drawing one [`Model`] with ratatui: a header, one row per card with
//! small gauges, a detail panel for the selected card (gauges and
//! sparklines), and pool, target and alert panels; a terminal too small
//! for that gets a short list of the key numbers instead.
//!
//! The card table's columns: GPU, name, state (the worst of the card's
//! readings), hashrate, power, temp, fan, J/MH and the hashrate
//! sparkline; from [`EXTRAS_WIDTH`] columns on also `mem` (memory
//! junction °C), `bad` (stale + rejected + invalid shares over all in the
//! last hour) and `share` (time since the last accepted share). Below
//! that width those three are in the detail panel only (which always has
//! them), and still count in the row's state.
//!
//! Colour comes only from a reading's [`Severity`] (graded by the
//! configured thresholds in [`super::model`]): green, yellow, red. Every
//! severity is also written out (`OK`/`WARN`/`CRIT`, `DOWN`, `FIRING`), so
//! a frame without colour (`NO_COLOR`, a pipe) says the same.

use minetsdb_collectors::config::thresholds::Severity;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span as TSpan};
use ratatui::widgets::{Block, Cell, LineGauge, Paragraph, Row, Sparkline, Table, Wrap};
use ratatui::Frame;

use super::model::{Gpu, Model};
use crate::cmd::stats::fmt_time;

/// Below this the full layout does not fit; the compact list is drawn.
pub const MIN_WIDTH: u16 = 72;
pub const MIN_HEIGHT: u16 = 16;
/// From this width on, the card table has the `mem`, `bad` and `share`
/// columns.
pub const EXTRAS_WIDTH: u16 = 100;
/// From this width on, each reading gets a bar beside its number (with
/// the extra columns, from this plus their width).
const BARS_WIDTH: u16 = 112;
/// Width of the `mem`, `bad` and `share` columns with their spacing.
const EXTRAS_COLUMNS: u16 = 20;
/// Full scale of the temperature bar, °C (a scale, not a threshold: the
/// colour comes from the thresholds).
const TEMP_SCALE: f64 = 100.0;
/// Full scale of the memory temperature bar, °C: memory runs hotter.
const MEMORY_TEMP_SCALE: f64 = 120.0;

/// Colours on or off.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    /// The style of a reading of `s`.
    pub fn severity(self, s: Severity) -> Style {
        if !self.color {
            return Style::default();
        }
        Style::default().fg(match s {
            Severity::Normal => Color::Green,
            Severity::Warning => Color::Yellow,
            Severity::Critical => Color::Red,
        })
    }

    fn dim(self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default()
        }
    }
}

/// What the view needs beyond the model.
pub struct View<'a> {
    pub model: &'a Model,
    /// Index into `model.gpus`.
    pub selected: usize,
    /// Shown in the header.
    pub db: &'a str,
    pub theme: Theme,
    /// The last refresh's error, kept on screen over the older data.
    pub error: Option<&'a str>,
}

/// `61.23 MH/s`: hashes per second with an SI prefix, two decimals.
pub fn fmt_hashrate(h: f64) -> String {
    let (v, p) = si(h);
    format!("{v:.2} {p}H/s")
}

fn si(v: f64) -> (f64, &'static str) {
    const P: [&str; 6] = ["", "k", "M", "G", "T", "P"];
    let mut v = v;
    let mut i = 0;
    while v.abs() >= 1000.0 && i + 1 < P.len() {
        v /= 1000.0;
        i += 1;
    }
    (v, P[i])
}

/// `118/130 W`, or `118 W` without a limit.
pub fn fmt_power(p: f64, limit: Option<f64>) -> String {
    match limit {
        Some(l) => format!("{p:.0}/{l:.0} W"),
        None => format!("{p:.0} W"),
    }
}

/// `64 °C`.
pub fn fmt_temp(t: f64) -> String {
    format!("{t:.0} °C")
}

/// `55 %` from a ratio.
pub fn fmt_fan(r: f64) -> String {
    format!("{:.0} %", r * 100.0)
}

/// A share ratio in percent: `1.2 %` below 10 %, `12 %` from there.
pub fn fmt_pct(r: f64) -> String {
    let p = r * 100.0;
    if p < 10.0 {
        format!("{p:.1} %")
    } else {
        format!("{p:.0} %")
    }
}

/// `1.93` joules per megahash.
pub fn fmt_jmh(j: f64) -> String {
    format!("{j:.2}")
}

/// Pool balance: six decimals, as pools show it.
pub fn fmt_balance(b: f64) -> String {
    format!("{b:.6}")
}

/// `3s`, `5m`, `2h`, `4d`: a duration, coarsely.
pub fn fmt_age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

fn status(s: Severity) -> &'static str {
    match s {
        Severity::Normal => "OK",
        Severity::Warning => "WARN",
        Severity::Critical => "CRIT",
    }
}

/// `GPU 0` or the card's id when it has no number.
fn gpu_label(g: &Gpu) -> String {
    g.index
        .clone()
        .unwrap_or_else(|| g.id.chars().take(8).collect())
}

const MISSING: &str = "—";

/// A bar of `w` cells filled to `ratio`, in eighths.
fn bar(ratio: f64, w: usize) -> String {
    const EIGHTHS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let r = if ratio.is_finite() {
        ratio.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let eighths = (r * (w * 8) as f64).round() as usize;
    let mut s: String = "█".repeat(eighths / 8);
    if !eighths.is_multiple_of(8) {
        s.push(EIGHTHS[eighths % 8]);
    }
    while s.chars().count() < w {
        s.push('·');
    }
    s
}

/// `values` squeezed (bucket means) or kept to `w` points; `None` where a
/// bucket has no data.
fn resample(values: &[Option<f64>], w: usize) -> Vec<Option<f64>> {
    if w == 0 || values.is_empty() {
        return Vec::new();
    }
    if values.len() <= w {
        return values.to_vec();
    }
    (0..w)
        .map(|i| {
            let a = i * values.len() / w;
            let b = ((i + 1) * values.len() / w).max(a + 1);
            let got: Vec<f64> = values[a..b].iter().flatten().copied().collect();
            (!got.is_empty()).then(|| got.iter().sum::<f64>() / got.len() as f64)
        })
        .collect()
}

/// Heights 1..=8 from the range of the values shown (so a card's ripple
/// shows, not just its distance from zero); `None` stays absent.
fn levels(values: &[Option<f64>]) -> Vec<Option<u64>> {
    let (lo, hi) = values
        .iter()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    values
        .iter()
        .map(|v| {
            v.map(|v| {
                if hi > lo {
                    1 + ((v - lo) / (hi - lo) * 7.0).round() as u64
                } else {
                    4
                }
            })
        })
        .collect()
}

/// A one-line sparkline as text (for table cells).
fn spark_text(values: &[Option<f64>], w: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    levels(&resample(values, w))
        .into_iter()
        .map(|l| l.map_or(' ', |l| BARS[(l as usize).clamp(1, 8) - 1]))
        .collect()
}

/// Draws the whole frame.
pub fn draw(f: &mut Frame<'_>, v: &View<'_>) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        draw_small(f, area, v);
        return;
    }
    let m = v.model;
    let table_h = (m.gpus.len().max(1) as u16 + 3).min(area.height.saturating_sub(2 + 5));
    let rest = area.height.saturating_sub(2 + table_h);
    // Five readings; the panels below keep at least 6 rows.
    let detail_h = if rest >= 7 + 6 { 7 } else { 0 };
    let [header, table, detail, bottom, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(table_h),
        Constraint::Length(detail_h),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(f, header, v);
    draw_table(f, table, v);
    if detail_h > 0 {
        draw_detail(f, detail, v);
    }
    let [pool, targets, alerts] = Layout::horizontal([
        Constraint::Percentage(30),
        Constraint::Percentage(35),
        Constraint::Percentage(35),
    ])
    .areas(bottom);
    draw_pools(f, pool, v);
    draw_targets(f, targets, v);
    draw_alerts(f, alerts, v);
    draw_footer(f, footer, v);
}

fn draw_header(f: &mut Frame<'_>, area: Rect, v: &View<'_>) {
    let line = Line::from(vec![
        TSpan::styled(
            "minetsdb dash",
            Style::default().add_modifier(Modifier::BOLD),
        ),
        TSpan::raw(format!(
            "  {}  at {}  range {}",
            v.db,
            fmt_time(v.model.at),
            v.model.span.label()
        )),
    ]);
    f.render_widget(Paragraph::new(line), area);
}

fn draw_footer(f: &mut Frame<'_>, area: Rect, v: &View<'_>) {
    let line = match v.error {
        Some(e) => Line::styled(
            format!("refresh failed: {e}"),
            v.theme.severity(Severity::Critical),
        ),
        None => Line::styled("q quit  ↑/↓ select GPU  t range  r refresh", v.theme.dim()),
    };
    f.render_widget(Paragraph::new(line), area);
}

/// A reading's cell: optional bar, then the number, both in its colour.
fn reading(text: Option<String>, ratio: f64, sev: Severity, bars: bool, t: Theme) -> Cell<'static> {
    let Some(text) = text else {
        return Cell::from(MISSING).style(t.dim());
    };
    let mut spans = Vec::new();
    if bars {
        spans.push(TSpan::raw(format!("{} ", bar(ratio, 5))));
    }
    spans.push(TSpan::raw(text));
    Cell::from(Line::from(spans)).style(t.severity(sev))
}

fn draw_table(f: &mut Frame<'_>, area: Rect, v: &View<'_>) {
    let (m, t) = (v.model, v.theme);
    let extras = area.width >= EXTRAS_WIDTH;
    let bars = area.width >= BARS_WIDTH + if extras { EXTRAS_COLUMNS } else { 0 };
    let bw = if bars { 6 } else { 0 };
    let mut header = vec![
        Cell::from(""),
        Cell::from("GPU"),
        Cell::from("name"),
        Cell::from("state"),
        Cell::from("hashrate"),
        Cell::from("power"),
        Cell::from("temp"),
        Cell::from("fan"),
        Cell::from("J/MH"),
    ];
    let mut widths = vec![
        Constraint::Length(1),
        Constraint::Length(4),
        Constraint::Min(10),
        Constraint::Length(5),
        Constraint::Length(12 + bw),
        Constraint::Length(11 + bw),
        Constraint::Length(6 + bw),
        Constraint::Length(5 + bw),
        Constraint::Length(6),
    ];
    if extras {
        header.extend([Cell::from("mem"), Cell::from("bad"), Cell::from("share")]);
        widths.extend([
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Length(5),
        ]);
    }
    header.push(Cell::from(format!("hashrate {}", m.span.label())));
    widths.push(Constraint::Fill(1));
    let header = Row::new(header).style(Style::default().add_modifier(Modifier::BOLD));
    // The sparkline column's width, laid out as the table will (inside
    // the border, one column of spacing), for resampling.
    let spark_w = Layout::horizontal(widths.iter().copied())
        .spacing(1)
        .split(Block::bordered().inner(area))
        .last()
        .map_or(0, |r| r.width as usize);
    let rows = m.gpus.iter().enumerate().map(|(i, g)| {
        let sel = i == v.selected;
        let hr = g.hashrate;
        let ratio_hr = match (hr, g.hashrate_avg_1h) {
            (Some(h), Some(a)) if a > 0.0 => h.value / a,
            _ => 0.0,
        };
        let sev = g.severity();
        let mut cells = vec![
            Cell::from(if sel { ">" } else { " " }),
            Cell::from(gpu_label(g)),
            Cell::from(g.name.clone()),
            Cell::from(status(sev)).style(t.severity(sev)),
            reading(
                hr.map(|h| fmt_hashrate(h.value)),
                ratio_hr,
                hr.map_or(Severity::Normal, |h| h.severity),
                bars,
                t,
            ),
            reading(
                g.power.map(|p| fmt_power(p.value, g.power_limit)),
                match (g.power, g.power_limit) {
                    (Some(p), Some(l)) => p.value / l,
                    _ => 0.0,
                },
                g.power.map_or(Severity::Normal, |p| p.severity),
                bars,
                t,
            ),
            reading(
                g.temperature.map(|x| fmt_temp(x.value)),
                g.temperature.map_or(0.0, |x| x.value / TEMP_SCALE),
                g.temperature.map_or(Severity::Normal, |x| x.severity),
                bars,
                t,
            ),
            reading(
                g.fan.map(|x| fmt_fan(x.value)),
                g.fan.map_or(0.0, |x| x.value),
                g.fan.map_or(Severity::Normal, |x| x.severity),
                bars,
                t,
            ),
            Cell::from(g.joules_per_mh.map_or(MISSING.to_string(), fmt_jmh)),
        ];
        if extras {
            cells.extend([
                reading(
                    g.memory_temperature.map(|x| fmt_temp(x.value)),
                    0.0,
                    g.memory_temperature
                        .map_or(Severity::Normal, |x| x.severity),
                    false,
                    t,
                ),
                reading(
                    g.bad_shares.map(|x| fmt_pct(x.value)),
                    0.0,
                    g.bad_shares.map_or(Severity::Normal, |x| x.severity),
                    false,
                    t,
                ),
                reading(
                    g.last_share_ms.map(|x| fmt_age(x.0)),
                    0.0,
                    g.last_share_ms.map_or(Severity::Normal, |x| x.1),
                    false,
                    t,
                ),
            ]);
        }
        cells.push(Cell::from(spark_text(&g.spark_hashrate, spark_w)));
        let row = Row::new(cells);
        if sel {
            row.style(Style::default().add_modifier(Modifier::BOLD))
        } else {
            row
        }
    });
    let mut table = Table::new(rows, widths)
        .header(header)
        .block(Block::bordered().title(format!(" GPUs ({}) ", m.gpus.len())));
    if m.gpus.is_empty() {
        table = Table::new(
            [Row::new(vec![Cell::from(
                "no GPU series at this time (is collect running? try --time)",
            )])],
            [Constraint::Fill(1)],
        )
        .block(Block::bordered().title(" GPUs (0) "));
    }
    f.render_widget(table, area);
}

fn draw_detail(f: &mut Frame<'_>, area: Rect, v: &View<'_>) {
    let t = v.theme;
    let Some(g) = v.model.gpus.get(v.selected) else {
        f.render_widget(Block::bordered().title(" no GPU selected "), area);
        return;
    };
    let block = Block::bordered().title(format!(
        " GPU {} {} {} {} ",
        gpu_label(g),
        g.name,
        g.instance,
        g.id
    ));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(inner);
    let rows = Layout::vertical([Constraint::Length(1); 5]).split(left);
    let gauge = |label: String, ratio: f64, sev: Severity| {
        let r = if ratio.is_finite() {
            ratio.clamp(0.0, 1.0)
        } else {
            0.0
        };
        // Thick over thin, so the fill shows without colour too.
        LineGauge::default()
            .ratio(r)
            .label(TSpan::styled(label, t.severity(sev)))
            .filled_symbol("━")
            .unfilled_symbol("─")
            .filled_style(t.severity(sev))
            .unfilled_style(t.dim())
    };
    let items = [
        g.hashrate.map(|h| {
            let avg = g.hashrate_avg_1h.unwrap_or(0.0);
            (
                format!(
                    "hashrate {} (1h {:.0} %)",
                    fmt_hashrate(h.value),
                    if avg > 0.0 {
                        h.value / avg * 100.0
                    } else {
                        0.0
                    }
                ),
                if avg > 0.0 { h.value / avg } else { 0.0 },
                h.severity,
            )
        }),
        g.power.map(|p| {
            (
                format!("power {}", fmt_power(p.value, g.power_limit)),
                g.power_limit.map_or(0.0, |l| p.value / l),
                p.severity,
            )
        }),
        g.temperature.map(|x| {
            (
                format!("temp {}", fmt_temp(x.value)),
                x.value / TEMP_SCALE,
                x.severity,
            )
        }),
        g.memory_temperature.map(|x| {
            (
                format!("mem {}", fmt_temp(x.value)),
                x.value / MEMORY_TEMP_SCALE,
                x.severity,
            )
        }),
        g.fan
            .map(|x| (format!("fan {}", fmt_fan(x.value)), x.value, x.severity)),
    ];
    // Labels padded to one width, so the bars start in one column.
    let w = items
        .iter()
        .flatten()
        .map(|i| i.0.chars().count())
        .max()
        .unwrap_or(0)
        + 1;
    let items = items.map(|i| i.map(|(l, r, s)| (format!("{l:<w$}"), r, s)));
    let names = ["hashrate", "power", "temp", "mem", "fan"];
    for ((item, row), name) in items.into_iter().zip(rows.iter()).zip(names) {
        match item {
            Some((label, ratio, sev)) => f.render_widget(gauge(label, ratio, sev), *row),
            None => f.render_widget(
                Paragraph::new(format!("{name} {MISSING}")).style(t.dim()),
                *row,
            ),
        }
    }
    let srows = Layout::vertical([Constraint::Length(1); 5]).split(right);
    f.render_widget(
        Paragraph::new(format!("last {}", v.model.span.label())).style(t.dim()),
        srows[0],
    );
    let sparks = [
        (
            "hashrate",
            &g.spark_hashrate,
            g.hashrate.map(|x| x.severity),
        ),
        (
            "temp    ",
            &g.spark_temperature,
            g.temperature.map(|x| x.severity),
        ),
        ("power   ", &g.spark_power, g.power.map(|x| x.severity)),
    ];
    if let Some(row) = srows.get(4) {
        f.render_widget(Paragraph::new(shares_line(g, t)), *row);
    }
    for ((name, data, sev), row) in sparks.into_iter().zip(srows.iter().skip(1)) {
        let [l, r] = Layout::horizontal([Constraint::Length(9), Constraint::Fill(1)]).areas(*row);
        f.render_widget(Paragraph::new(name), l);
        let data = levels(&resample(data, r.width as usize));
        f.render_widget(
            Sparkline::default()
                .data(&data)
                .max(8)
                .style(t.severity(sev.unwrap_or(Severity::Normal))),
            r,
        );
    }
}

/// `bad 1.2 % of 340  last share 3m ago`, each part in its colour.
fn shares_line(g: &Gpu, t: Theme) -> Line<'static> {
    let bad = match (g.bad_shares, g.shares_1h) {
        (Some(b), Some(n)) => TSpan::styled(
            format!("bad {} of {n:.0}", fmt_pct(b.value)),
            t.severity(b.severity),
        ),
        _ => TSpan::styled(format!("bad {MISSING}"), t.dim()),
    };
    let last = match g.last_share_ms {
        Some((ms, sev)) => {
            TSpan::styled(format!("last share {} ago", fmt_age(ms)), t.severity(sev))
        }
        None => TSpan::styled(format!("last share {MISSING}"), t.dim()),
    };
    Line::from(vec![bad, TSpan::raw("  "), last])
}

fn draw_pools(f: &mut Frame<'_>, area: Rect, v: &View<'_>) {
    let t = v.theme;
    let mut lines = Vec::new();
    for p in &v.model.pools {
        lines.push(Line::from(format!(
            "{} {} ({})",
            p.pool, p.coin, p.instance
        )));
        let opt = |x: Option<f64>| x.map_or(MISSING.to_string(), fmt_hashrate);
        lines.push(Line::from(format!(
            " effective {}  reported {}",
            opt(p.effective),
            opt(p.reported)
        )));
        let (flat, sev) = match p.unpaid_flat {
            Some((ms, s)) => (format!("  flat {}", fmt_age(ms)), s),
            None => (String::new(), Severity::Normal),
        };
        lines.push(Line::styled(
            format!(
                " unpaid {} {}{flat}",
                p.unpaid.map_or(MISSING.to_string(), fmt_balance),
                p.coin
            ),
            t.severity(sev),
        ));
        if let Some((ms, sev)) = p.last_share_ms {
            lines.push(Line::styled(
                format!(" last share {} ago", fmt_age(ms)),
                t.severity(sev),
            ));
        }
    }
    if lines.is_empty() {
        lines.push(Line::styled("no pool series", t.dim()));
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" Pool ")),
        area,
    );
}

fn draw_targets(f: &mut Frame<'_>, area: Rect, v: &View<'_>) {
    let t = v.theme;
    let mut lines = Vec::new();
    if let Some(e) = &v.model.targets_error {
        lines.push(Line::styled(e.clone(), t.severity(Severity::Critical)));
    }
    for x in &v.model.targets {
        let text = if x.up {
            format!("UP   {} {} {} ago", x.job, x.url, fmt_age(x.age_ms))
        } else {
            format!(
                "DOWN {} {} for {}: {}",
                x.job,
                x.url,
                fmt_age(x.down_ms.unwrap_or(0)),
                x.error.as_deref().unwrap_or("")
            )
        };
        lines.push(Line::styled(text, t.severity(x.severity)));
    }
    if v.model.targets.is_empty() && v.model.targets_error.is_none() {
        lines.push(Line::styled("no targets.json (collect writes it)", t.dim()));
    }
    let up = v.model.targets.iter().filter(|x| x.up).count();
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(format!(" Targets {up}/{} up ", v.model.targets.len()))),
        area,
    );
}

fn alert_severity(label: Option<&str>) -> Severity {
    match label {
        Some("critical") => Severity::Critical,
        Some("warning") => Severity::Warning,
        _ => Severity::Warning,
    }
}

fn draw_alerts(f: &mut Frame<'_>, area: Rect, v: &View<'_>) {
    let t = v.theme;
    let firing = v.model.alerts.iter().filter(|a| a.firing).count();
    let mut lines = Vec::new();
    for a in &v.model.alerts {
        let sev = alert_severity(a.severity.as_deref());
        lines.push(Line::styled(
            format!(
                "{} {} {} {}",
                if a.firing { "FIRING" } else { "pending" },
                a.name,
                a.severity.as_deref().unwrap_or(""),
                a.labels
            ),
            if a.firing { t.severity(sev) } else { t.dim() },
        ));
    }
    if lines.is_empty() {
        lines.push(Line::styled("no alerts", t.severity(Severity::Normal)));
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(format!(" Alerts ({firing} firing) "))),
        area,
    );
}

/// A terminal below [`MIN_WIDTH`]x[`MIN_HEIGHT`]: the key numbers, one
/// line per card, under a note saying so.
fn draw_small(f: &mut Frame<'_>, area: Rect, v: &View<'_>) {
    let t = v.theme;
    let mut lines = vec![Line::from(format!(
        "too small ({}x{}), need {MIN_WIDTH}x{MIN_HEIGHT}",
        area.width, area.height
    ))];
    for (i, g) in v.model.gpus.iter().enumerate() {
        let mut spans = vec![TSpan::raw(format!(
            "{}{} ",
            if i == v.selected { ">" } else { " " },
            gpu_label(g)
        ))];
        let mut push = |text: Option<String>, sev: Option<Severity>| {
            spans.push(TSpan::styled(
                format!("{} ", text.unwrap_or_else(|| MISSING.to_string())),
                t.severity(sev.unwrap_or(Severity::Normal)),
            ));
        };
        push(
            g.temperature.map(|x| fmt_temp(x.value)),
            g.temperature.map(|x| x.severity),
        );
        push(
            g.hashrate.map(|x| fmt_hashrate(x.value)),
            g.hashrate.map(|x| x.severity),
        );
        push(
            g.power.map(|x| fmt_power(x.value, None)),
            g.power.map(|x| x.severity),
        );
        lines.push(Line::from(spans));
    }
    let firing = v.model.alerts.iter().filter(|a| a.firing).count();
    if firing > 0 {
        lines.push(Line::styled(
            format!("{firing} alert(s) firing"),
            t.severity(Severity::Critical),
        ));
    }
    f.render_widget(Paragraph::new(lines), area);
}
