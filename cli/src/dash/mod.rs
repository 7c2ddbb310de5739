//! `minetsdb dash`: a live terminal dashboard over the database, read-only
//! beside a running `collect`.
//!
//! [`model`] gathers one frame's numbers with PromQL at one instant;
//! [`view`] draws them with ratatui, coloured by the `[thresholds]` of
//! config.toml (the same numbers the alert rules use); [`app`] is the
//! event loop (keys, resize, refresh) and the terminal's setup and
//! restoration; [`once`] renders one frame off-screen for `--once`.
//!
//! A read-only `Db` sees what was written up to its opening, so every
//! refresh reopens it (as `serve` does beside another process's writer).

mod app;
#[cfg(test)]
mod bench;
pub mod model;
pub mod once;
#[cfg(test)]
mod tests;
pub mod view;

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use minetsdb::{Db, Options};
use minetsdb_collectors::config::{Config, Thresholds};

use crate::time::{now_ms, parse_time};
use model::Span;

/// Arguments of `dash`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Keys: q or Esc quits, ↑/↓ (or ←/→, k/j) select a GPU, t cycles the \
sparklines' range (1h, 6h, 24h, 7d), r refreshes now.\n\
Colours follow [thresholds] of config.toml: green normal, yellow warning, red critical; \
NO_COLOR (any value) turns them off."
)]
pub struct Args {
    /// Database directory [default: $XDG_DATA_HOME/minetsdb]
    #[arg(long)]
    db: Option<PathBuf>,
    /// config.toml whose [thresholds] colour the readings [default: $XDG_CONFIG_HOME/minetsdb/config.toml when it exists, else the defaults]
    #[arg(long)]
    config: Option<PathBuf>,
    /// Show the database at this fixed time instead of now (RFC 3339, Unix seconds, or relative like -1h)
    #[arg(long, allow_hyphen_values = true)]
    time: Option<String>,
    /// Range of the sparklines at start: 1h, 6h, 24h or 7d (t cycles it)
    #[arg(long, default_value = "6h", value_parser = Span::parse)]
    range: Span,
    /// Time between refreshes, e.g. 5s or 1m
    #[arg(long, default_value = "5s", value_parser = crate::duration::parse_ms)]
    interval: i64,
    /// Print one frame to standard output and exit (plain text when it is not a terminal)
    #[arg(long)]
    once: bool,
    /// Width of the --once frame when standard output is not a terminal
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=1000))]
    width: u16,
    /// Height of the --once frame when standard output is not a terminal
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u16).range(1..=1000))]
    height: u16,
}

/// Whether colour is wanted: `NO_COLOR` set to anything non-empty turns
/// it off (no-color.org).
fn color_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `[thresholds]` from `--config` (which must exist), else from the
/// default config when there is one, else the defaults.
fn load_thresholds(path: Option<PathBuf>) -> anyhow::Result<Thresholds> {
    let path = match path {
        Some(p) => p,
        None => {
            let p = crate::paths::default_config();
            if !p.exists() {
                return Ok(Thresholds::default());
            }
            p
        }
    };
    Ok(Config::load(&path)?.thresholds)
}

/// A fresh read-only view of the database at `dir`.
pub fn open(dir: &Path) -> anyhow::Result<Db> {
    Db::open_read_only(dir, Options::default())
        .with_context(|| format!("opening {}", dir.display()))
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let dir = a.db.unwrap_or_else(crate::paths::default_db);
    let thresholds = load_thresholds(a.config)?;
    let fixed_at = match &a.time {
        Some(s) => Some(parse_time(s, now_ms()).map_err(|e| anyhow::anyhow!("--time: {e}"))?),
        None => None,
    };
    if a.interval < 100 {
        anyhow::bail!("--interval must be at least 100ms");
    }
    let theme = view::Theme {
        color: color_wanted(),
    };
    let db_label = dir.display().to_string();
    if a.once {
        let db = open(&dir)?;
        let m = model::gather(&db, fixed_at.unwrap_or_else(now_ms), a.range, &thresholds)?;
        let v = view::View {
            model: &m,
            selected: 0,
            db: &db_label,
            theme,
            error: None,
        };
        let tty = std::io::stdout().is_terminal();
        let (w, h) = if tty {
            ratatui::crossterm::terminal::size().unwrap_or((a.width, a.height))
        } else {
            (a.width, a.height)
        };
        let buf = once::render(&v, w, h)?;
        out!("{}", once::to_text(&buf, tty && theme.color));
        return Ok(ExitCode::SUCCESS);
    }
    if !std::io::stdout().is_terminal() {
        anyhow::bail!("standard output is not a terminal; use `dash --once` for one frame as text");
    }
    app::run(app::App::new(
        dir,
        db_label,
        thresholds,
        fixed_at,
        a.range,
        Duration::from_millis(a.interval as u64),
        theme,
    ))?;
    Ok(ExitCode::SUCCESS)
}
