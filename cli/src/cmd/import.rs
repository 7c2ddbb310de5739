//! `minetsdb import FILE...`: Prometheus text or OpenMetrics, plain, .gz or
//! .zst, or `-` for stdin; history of any age is backfilled.
//!
//! Samples are appended in batches as the file is read, so everything
//! before a malformed line is stored (and durable) when the error is
//! reported; `--skip-bad-lines` counts such lines and goes on.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use minetsdb::{Db, Labels, Options, Sample};
use minetsdb_collectors::exposition::{self, Error as ExpoError, Format, Item, Parser};

/// Arguments of `import`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files to import (`-` for standard input).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Database directory [default: $XDG_DATA_HOME/minetsdb]
    #[arg(long)]
    db: Option<PathBuf>,
    /// Input format [default: detected]
    #[arg(long, value_enum, default_value_t = InFormat::Auto)]
    format: InFormat,
    /// Count malformed lines and keep going instead of stopping at the first.
    #[arg(long)]
    skip_bad_lines: bool,
    /// Timestamp for samples that carry none (RFC 3339, Unix seconds, relative).
    #[arg(long, allow_hyphen_values = true)]
    default_time: Option<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum InFormat {
    Auto,
    Text,
    Openmetrics,
}

const BATCH: usize = 100_000;

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let dir = a.db.unwrap_or_else(crate::paths::default_db);
    let db =
        Db::open(&dir, Options::default()).with_context(|| format!("opening {}", dir.display()))?;
    let default_t = match &a.default_time {
        Some(s) => Some(
            crate::time::parse_time(s, crate::time::now_ms())
                .map_err(|e| anyhow::anyhow!("--default-time: {e}"))?,
        ),
        None => None,
    };
    let format = match a.format {
        InFormat::Auto => Format::Auto,
        InFormat::Text => Format::Text004,
        InFormat::Openmetrics => Format::OpenMetrics,
    };
    let began = Instant::now();
    let (mut appended, mut duplicates, mut conflicts, mut skipped) = (0u64, 0u64, 0u64, 0u64);
    for file in &a.files {
        let name = file.display().to_string();
        let input = crate::files::open_input(file)?;
        let opts = exposition::Options {
            format,
            default_timestamp_ms: default_t,
            ..exposition::Options::default()
        };
        let mut batch: Vec<(Labels, Sample)> = Vec::with_capacity(BATCH);
        let mut flush = |batch: &mut Vec<(Labels, Sample)>| -> anyhow::Result<()> {
            let rep = db
                .append_labeled(batch)
                .with_context(|| format!("storing samples from {name}"))?;
            appended += rep.appended as u64;
            duplicates += rep.duplicates as u64;
            conflicts += rep.conflicts as u64;
            for c in rep.conflict_examples.iter().take(3) {
                eprintln!(
                    "minetsdb: {name}: {} at {} has {} stored; {} rejected",
                    c.labels, c.t, c.stored, c.rejected
                );
            }
            batch.clear();
            Ok(())
        };
        for item in Parser::new(input, opts) {
            match item {
                Ok(Item::Sample {
                    labels,
                    t: Some(t),
                    v,
                }) => {
                    batch.push((labels, Sample::new(t, v)));
                    if batch.len() >= BATCH {
                        flush(&mut batch)?;
                    }
                }
                Ok(Item::Sample {
                    labels, t: None, ..
                }) => {
                    flush(&mut batch)?;
                    anyhow::bail!("{name}: sample of {labels} has no timestamp; pass --default-time to import it");
                }
                Ok(Item::Metadata { name: metric, md }) => {
                    // Metadata names the family; counters' samples carry _total.
                    if minetsdb::check_metric_name(&metric).is_ok() {
                        db.set_metadata(&metric, md)
                            .with_context(|| format!("storing metadata from {name}"))?;
                    }
                }
                Ok(Item::Eof) => {}
                Err(ExpoError::Parse(e)) if a.skip_bad_lines => {
                    skipped += 1;
                    if skipped <= 5 {
                        eprintln!("minetsdb: {name}: skipped {e}");
                    }
                }
                Err(e) => {
                    // Keep everything read before the bad line.
                    flush(&mut batch)?;
                    anyhow::bail!("{name}: {e} ({appended} samples before it were stored)");
                }
            }
        }
        flush(&mut batch)?;
    }
    let secs = began.elapsed().as_secs_f64();
    println!(
        "imported {appended} samples ({duplicates} already stored, {conflicts} conflicting and rejected{}) in {secs:.2}s, {:.2} M samples/s",
        if a.skip_bad_lines { format!(", {skipped} bad lines skipped") } else { String::new() },
        (appended + duplicates + conflicts) as f64 / secs.max(1e-9) / 1e6
    );
    Ok(ExitCode::SUCCESS)
}
