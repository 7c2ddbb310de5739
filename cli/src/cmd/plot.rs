//! `minetsdb plot EXPR --start -7d`: a PromQL range query drawn as a
//! braille line chart in the terminal, and with `--output x.png` as a PNG
//! too. The database is opened read-only, as for `query`.
//!
//! The y axis takes its unit from the metric name (see `plot::units`): the
//! result's `__name__` when it kept one, else the first metric named in
//! the expression; under `rate`/`irate` counters are per second
//! (`rate(gpu_energy_joules_total[5m])` is in W).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use minetsdb::promql::Metric;
use minetsdb::{Db, Options};

use crate::plot::units::{expr_is_rate, metric_in_expr, Unit};
use crate::plot::{axis, png, render_terminal, short_labels, Chart, Series};
use crate::time::{now_ms, parse_time};

/// When to colour the chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// When stdout is a terminal and NO_COLOR is not set.
    Auto,
    /// Always, even into a pipe.
    Always,
    /// Never.
    Never,
}

/// Arguments of `plot`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// PromQL expression, e.g. 'nvidia_smi_power_draw_watts' or 'rate(gpu_energy_joules_total[5m])'
    expr: String,
    /// Database directory [default: $XDG_DATA_HOME/minetsdb]
    #[arg(long)]
    db: Option<PathBuf>,
    /// Start (RFC 3339, Unix seconds, or relative like -7d)
    #[arg(long, allow_hyphen_values = true)]
    start: String,
    /// End [default: now]
    #[arg(long, allow_hyphen_values = true)]
    end: Option<String>,
    /// Resolution, e.g. 5m [default: one point per braille dot column]
    #[arg(long, value_parser = crate::duration::parse_ms)]
    step: Option<i64>,
    /// Also write the chart as a PNG (1200×600) to this file.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Width in columns [default: the terminal's, else $COLUMNS, else 100]
    #[arg(long, value_parser = clap::value_parser!(u16).range(20..))]
    width: Option<u16>,
    /// Height of the plot area in rows.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(2..))]
    height: u16,
    /// Colour the series: auto is on a terminal only, never with NO_COLOR set.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let now = now_ms();
    let start = parse_time(&a.start, now).map_err(|e| anyhow::anyhow!("--start: {e}"))?;
    let end = match &a.end {
        Some(s) => parse_time(s, now).map_err(|e| anyhow::anyhow!("--end: {e}"))?,
        None => now,
    };
    if end <= start {
        anyhow::bail!("--end must be after --start");
    }
    let width = usize::from(a.width.unwrap_or_else(terminal_width));
    // One point per dot column of the plot area (about width - 10 cells).
    let dots = 2 * width.saturating_sub(10).max(10) as i64;
    let step = a.step.unwrap_or_else(|| {
        let s = ((end - start) / dots).max(1000);
        (s + 999) / 1000 * 1000
    });

    let dir = a.db.unwrap_or_else(crate::paths::default_db);
    let db = Db::open_read_only(&dir, Options::default())
        .with_context(|| format!("opening {}", dir.display()))?;
    // The PromQL error already names the expression; keep it on one line.
    let m = db
        .query_range(&a.expr, start, end, step)
        .map_err(|e| anyhow::anyhow!("{}", e.to_string().replace('\n', " ")))?;
    let m: Vec<_> = m
        .into_iter()
        .filter(|s| s.samples.iter().any(|x| x.v.is_finite()))
        .collect();
    if m.is_empty() {
        anyhow::bail!(
            "no data for {} between {} and {} UTC",
            a.expr,
            axis::utc_minutes(start),
            axis::utc_minutes(end)
        );
    }

    let metrics: Vec<Metric> = m.iter().map(|s| s.metric.clone()).collect();
    let labels = short_labels(&metrics, &a.expr);
    let unit = match metrics.iter().find_map(|m| m.name()) {
        Some(name) => Unit::from_metric(name, false),
        None => match metric_in_expr(&a.expr) {
            Some(name) => Unit::from_metric(&name, expr_is_rate(&a.expr)),
            None => Unit::none(),
        },
    };
    let chart = Chart {
        title: format!(
            "{}   {} – {} UTC, step {}",
            a.expr,
            axis::utc_minutes(start),
            axis::utc_minutes(end),
            fmt_step(step)
        ),
        series: m
            .into_iter()
            .zip(labels)
            .map(|(s, label)| Series {
                label,
                points: s.samples.iter().map(|x| (x.t, x.v)).collect(),
            })
            .collect(),
        start,
        end,
        step,
        unit,
    };
    let color = use_color(
        a.color,
        std::io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR").is_some(),
    );
    print!(
        "{}",
        render_terminal(&chart, width, usize::from(a.height), color)
    );
    if let Some(path) = &a.output {
        png::write(&chart, path, 1200, 600)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether to colour: `auto` on a terminal unless NO_COLOR is set (to any
/// value, as no-color.org asks); an explicit `always` or `never` wins.
fn use_color(choice: ColorChoice, stdout_is_terminal: bool, no_color: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => stdout_is_terminal && !no_color,
    }
}

/// The terminal's width: asked of stdout, else `$COLUMNS`, else 100.
fn terminal_width() -> u16 {
    if let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size() {
        return w.max(20);
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|&w| w >= 20)
        .unwrap_or(100)
}

/// `300000` -> `5m`, `90000` -> `90s`, `1500` -> `1500ms`.
fn fmt_step(ms: i64) -> String {
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::{fmt_step, use_color, ColorChoice};

    #[test]
    fn colour_choice() {
        assert!(use_color(ColorChoice::Auto, true, false));
        assert!(!use_color(ColorChoice::Auto, true, true));
        assert!(!use_color(ColorChoice::Auto, false, false));
        assert!(use_color(ColorChoice::Always, false, true));
        assert!(!use_color(ColorChoice::Never, true, false));
    }

    #[test]
    fn step_labels() {
        assert_eq!(fmt_step(300_000), "5m");
        assert_eq!(fmt_step(155_000), "155s");
        assert_eq!(fmt_step(86_400_000), "1d");
        assert_eq!(fmt_step(1_500), "1500ms");
    }
}
