//! `minetsdb report`: energy, cost, earnings, profit and efficiency per
//! card over a period; `--tuning`: the same data grouped by power limit.
//! The computation lives in `crate::report`; this is the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use minetsdb::{Db, Options};
use minetsdb_collectors::config::{costs::Costs, Config};

use crate::output::Format;
use crate::time::{now_ms, parse_time};

/// Arguments of `report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Database directory [default: $XDG_DATA_HOME/minetsdb]
    #[arg(long)]
    db: Option<PathBuf>,
    /// config.toml with [tariff], [power] and [price] [default: $XDG_CONFIG_HOME/minetsdb/config.toml when it exists]
    #[arg(long)]
    config: Option<PathBuf>,
    /// The period: this long before --to (e.g. 30d, 12h) [default: 30d]
    #[arg(long, value_parser = crate::duration::parse_ms, conflicts_with = "from")]
    since: Option<i64>,
    /// Start of the period (RFC 3339, Unix seconds, or relative like -7d)
    #[arg(long, allow_hyphen_values = true)]
    from: Option<String>,
    /// End of the period [default: now]
    #[arg(long, allow_hyphen_values = true)]
    to: Option<String>,
    /// Hashrate, power and efficiency per power-limit setting, and the limit to keep.
    #[arg(long)]
    tuning: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// 30 days, the default period.
const DEFAULT_SINCE_MS: i64 = 30 * 86_400_000;

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let dir = a.db.unwrap_or_else(crate::paths::default_db);
    let costs = load_costs(a.config)?;
    let now = now_ms();
    let t = |s: &str, what: &str| parse_time(s, now).map_err(|e| anyhow::anyhow!("--{what}: {e}"));
    let to = match &a.to {
        Some(s) => t(s, "to")?,
        None => now,
    };
    let from = match &a.from {
        Some(s) => t(s, "from")?,
        None => to - a.since.unwrap_or(DEFAULT_SINCE_MS),
    };
    if to <= from {
        anyhow::bail!("the period is empty: --to is not after --from");
    }
    let db = Db::open_read_only(&dir, Options::default())
        .with_context(|| format!("opening {}", dir.display()))?;
    out!("{}", render(&db, from, to, &costs, a.tuning, a.format)?);
    Ok(ExitCode::SUCCESS)
}

/// The report (or the tuning report) over `[from, to)` as text.
pub fn render(
    db: &Db,
    from: i64,
    to: i64,
    costs: &Costs,
    tuning: bool,
    format: Format,
) -> anyhow::Result<String> {
    let r = crate::report::compute(db, from, to, costs)?;
    if tuning {
        let t = crate::report::tuning::compute(db, from, to, &r)?;
        Ok(crate::report::render::tuning(&r, &t, format))
    } else {
        Ok(crate::report::render::report(&r, format))
    }
}

/// The money settings: from `--config` (which must exist), else from the
/// default config when there is one, else none (the report says so).
fn load_costs(path: Option<PathBuf>) -> anyhow::Result<Costs> {
    let path = match path {
        Some(p) => p,
        None => {
            let p = crate::paths::default_config();
            if !p.exists() {
                return Ok(Costs::default());
            }
            p
        }
    };
    Ok(Config::load(&path)?.costs)
}
