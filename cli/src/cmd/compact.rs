//! `minetsdb compact`: merge blocks into longer ones, downsample old data
//! and apply retention.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

/// Arguments of `compact`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Database directory [default: $XDG_DATA_HOME/minetsdb]
    #[arg(long)]
    db: Option<PathBuf>,
    /// Drop samples older than this before the newest one (e.g. 5y, 90d).
    #[arg(long, value_parser = crate::duration::parse_ms)]
    retention: Option<i64>,
    /// Downsampling tiers as RESOLUTION:AGE,... (data older than AGE is
    /// kept as buckets of RESOLUTION), or `none` to keep raw samples.
    #[arg(long, default_value = "5m:90d,1h:1y", value_parser = parse_tiers)]
    downsample: Tiers,
}

/// Parsed `--downsample`.
#[derive(Debug, Clone)]
pub struct Tiers(Vec<minetsdb::Tier>);

/// `5m:90d,1h:1y` or `none` (the config's `[storage] downsample` syntax).
fn parse_tiers(s: &str) -> Result<Tiers, String> {
    minetsdb_collectors::config::parse_tiers(s).map(Tiers)
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let dir = a.db.unwrap_or_else(crate::paths::default_db);
    let mut opts = minetsdb::Options::default();
    opts.retention_ms = a.retention;
    opts.downsampling = a.downsample.0;
    let db =
        minetsdb::Db::open(&dir, opts).with_context(|| format!("opening {}", dir.display()))?;
    let before = db.stats();
    let pb = crate::progress::spinner("compacting");
    let rep = db
        .compact()
        .with_context(|| format!("compacting {}", dir.display()))?;
    pb.finish_and_clear();
    let after = db.stats();
    outln!(
        "blocks {} -> {} ({} written, {} removed), block bytes {} -> {}{}",
        before.blocks,
        after.blocks,
        rep.blocks_written,
        rep.blocks_removed,
        rep.bytes_before,
        rep.bytes_after,
        if rep.samples_dropped > 0 {
            format!(", {} samples past retention dropped", rep.samples_dropped)
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}
