//! `minetsdb query EXPR`: PromQL, instant (`--time`) or range
//! (`--start/--end/--step`), over a database opened read-only, so it works
//! while `collect` is writing.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use minetsdb::{Db, Options};

use crate::output::{render_matrix, render_value, Format};
use crate::time::{now_ms, parse_time};

/// Arguments of `query`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// PromQL expression, e.g. 'avg_over_time(nvidia_smi_power_draw_watts[1h])'
    expr: String,
    /// Database directory [default: $XDG_DATA_HOME/minetsdb]
    #[arg(long)]
    db: Option<PathBuf>,
    /// Evaluation time of an instant query (RFC 3339, Unix seconds, or relative like -1h) [default: now]
    #[arg(long, conflicts_with_all = ["start", "end"], allow_hyphen_values = true)]
    time: Option<String>,
    /// Start of a range query (RFC 3339, Unix seconds, or relative like -7d)
    #[arg(long, allow_hyphen_values = true)]
    start: Option<String>,
    /// End of a range query [default: now]
    #[arg(long, allow_hyphen_values = true)]
    end: Option<String>,
    /// Resolution of a range query, e.g. 5m [default: about 250 points]
    #[arg(long, value_parser = crate::duration::parse_ms)]
    step: Option<i64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let dir = a.db.unwrap_or_else(crate::paths::default_db);
    let db = Db::open_read_only(&dir, Options::default())
        .with_context(|| format!("opening {}", dir.display()))?;
    let now = now_ms();
    let t = |s: &Option<String>, what: &str, default: i64| -> anyhow::Result<i64> {
        match s {
            Some(s) => parse_time(s, now).map_err(|e| anyhow::anyhow!("--{what}: {e}")),
            None => Ok(default),
        }
    };
    if a.start.is_some() || a.end.is_some() || a.step.is_some() {
        let Some(start) = &a.start else {
            anyhow::bail!("a range query needs --start (e.g. --start -7d)");
        };
        let start = t(&Some(start.clone()), "start", now)?;
        let end = t(&a.end, "end", now)?;
        if end < start {
            anyhow::bail!("--end is before --start");
        }
        let step = a.step.unwrap_or_else(|| ((end - start) / 250).max(1000));
        let m = db
            .query_range(&a.expr, start, end, step)
            .with_context(|| format!("evaluating {}", a.expr))?;
        out!("{}", render_matrix(&m, a.format));
    } else {
        let at = t(&a.time, "time", now)?;
        let v = db
            .query_instant(&a.expr, at)
            .with_context(|| format!("evaluating {}", a.expr))?;
        out!("{}", render_value(&v, a.format));
    }
    Ok(ExitCode::SUCCESS)
}
