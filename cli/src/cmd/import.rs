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

/// What the parser thread hands to the appending one, in input order.
enum Parsed {
    Batch(Vec<(Labels, Sample)>),
    Metadata(String, minetsdb::Metadata),
    Skipped(String),
    /// Parsing stopped here; batches before it were sent.
    Failed(String),
}

fn parse_batches(
    input: Box<dyn std::io::BufRead + Send>,
    opts: exposition::Options,
    skip_bad_lines: bool,
    tx: &std::sync::mpsc::SyncSender<Parsed>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let send = |m: Parsed| tx.send(m).is_ok();
    for item in Parser::new(input, opts) {
        let msg = match item {
            Ok(Item::Sample {
                labels,
                t: Some(t),
                v,
            }) => {
                batch.push((labels, Sample::new(t, v)));
                if batch.len() < BATCH {
                    continue;
                }
                Parsed::Batch(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
            }
            Ok(Item::Sample {
                labels, t: None, ..
            }) => {
                let _ = send(Parsed::Batch(std::mem::take(&mut batch)));
                let _ = send(Parsed::Failed(format!(
                    "sample of {labels} has no timestamp; pass --default-time to import it"
                )));
                return;
            }
            Ok(Item::Metadata { name, md }) => {
                // Keep order: samples before the metadata go first.
                if !batch.is_empty() && !send(Parsed::Batch(std::mem::take(&mut batch))) {
                    return;
                }
                Parsed::Metadata(name, md)
            }
            Ok(Item::Eof) => continue,
            Err(ExpoError::Parse(e)) if skip_bad_lines => Parsed::Skipped(e.to_string()),
            Err(e) => {
                let _ = send(Parsed::Batch(std::mem::take(&mut batch)));
                let _ = send(Parsed::Failed(e.to_string()));
                return;
            }
        };
        if !send(msg) {
            return;
        }
    }
    let _ = send(Parsed::Batch(batch));
}

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
        // Parsing runs on its own thread while this one appends: the
        // appends wait on fsync, the parser on the CPU, and a machine with
        // two cores does both at once. The bounded channel keeps at most a
        // few batches in flight.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Parsed>(2);
        let skip = a.skip_bad_lines;
        let parser = std::thread::spawn(move || parse_batches(input, opts, skip, &tx));
        let mut store = |batch: &[(Labels, Sample)]| -> anyhow::Result<()> {
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
            Ok(())
        };
        let mut failure = None;
        for msg in &rx {
            match msg {
                Parsed::Batch(b) => store(&b)?,
                Parsed::Metadata(metric, md) => {
                    // Metadata names the family; counters' samples carry _total.
                    if minetsdb::check_metric_name(&metric).is_ok() {
                        db.set_metadata(&metric, md)
                            .with_context(|| format!("storing metadata from {name}"))?;
                    }
                }
                Parsed::Skipped(e) => {
                    skipped += 1;
                    if skipped <= 5 {
                        eprintln!("minetsdb: {name}: skipped {e}");
                    }
                }
                Parsed::Failed(e) => failure = Some(e),
            }
        }
        let _ = parser.join();
        if let Some(e) = failure {
            // Everything before the bad line is stored by now.
            anyhow::bail!("{name}: {e} ({appended} samples before it were stored)");
        }
    }
    // Backfilled history is written to blocks now, one per window, rather
    // than waiting in the WAL for the next cut.
    db.flush().context("writing imported samples to blocks")?;
    let secs = began.elapsed().as_secs_f64();
    outln!(
        "imported {appended} samples ({duplicates} already stored, {conflicts} conflicting and rejected{}) in {secs:.2}s, {:.2} M samples/s",
        if a.skip_bad_lines { format!(", {skipped} bad lines skipped") } else { String::new() },
        (appended + duplicates + conflicts) as f64 / secs.max(1e-9) / 1e6
    );
    Ok(ExitCode::SUCCESS)
}
