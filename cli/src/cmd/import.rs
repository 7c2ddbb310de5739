//! `minetsdb import FILE...`: Prometheus text or OpenMetrics, plain, .gz or
//! .zst, or `-` for stdin; history of any age is backfilled.
//!
//! Samples go through a bulk load ([`minetsdb::BulkLoad`]): encoded once
//! into block chunks as the file is read and written as already-compacted
//! blocks at the end (or in parts, when a very large import fills its
//! memory bound), never through the WAL. Everything before a malformed
//! line is stored (and durable) when the error is reported;
//! `--skip-bad-lines` counts such lines and goes on. An import killed
//! midway leaves the database as it was plus any parts already written;
//! running it again completes it (samples already stored are duplicates,
//! no-ops).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use minetsdb::{Db, Labels, Options, Sample, SeriesRef};
use minetsdb_collectors::exposition::{self, Error as ExpoError, Format, Item, Keyed, Parser};

/// Arguments of `import`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files to import (`-` for standard input).
    #[arg(required_unless_present = "from_prometheus")]
    files: Vec<PathBuf>,
    /// Instead of files: pull the history of a running Prometheus through
    /// its remote-read API, e.g. http://127.0.0.1:9090 (or the full
    /// .../api/v1/read URL), window by window.
    #[arg(long, value_name = "URL", conflicts_with = "files")]
    from_prometheus: Option<String>,
    /// With --from-prometheus: series to pull (PromQL selectors; repeat).
    #[arg(long = "match", default_value = "{__name__=~\".+\"}")]
    matchers: Vec<String>,
    /// With --from-prometheus: from when (RFC 3339, Unix seconds, relative).
    #[arg(long, default_value = "-5y", allow_hyphen_values = true)]
    start: String,
    /// With --from-prometheus: until when.
    #[arg(long, default_value = "now", allow_hyphen_values = true)]
    end: String,
    /// With --from-prometheus: the span read per request.
    #[arg(long, default_value = "1d", value_parser = crate::duration::parse_ms)]
    window: i64,
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

/// Samples by parser key ([`exposition::SeriesKey`] index), with the
/// labels of keys first seen (or reused for another series) in this batch:
/// labels cross the thread once per series, not once per sample.
#[derive(Default)]
struct Batch {
    new_series: Vec<(usize, Labels)>,
    samples: Vec<(u32, Sample)>,
}

/// What the parser thread hands to the appending one, in input order.
enum Parsed {
    Batch(Batch),
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
    let fresh = || Batch {
        new_series: Vec::new(),
        samples: Vec::with_capacity(BATCH),
    };
    let mut batch = fresh();
    // Per key, the batch number that announced it: a key reused for
    // another series within one batch starts a new batch, so that the
    // appender can map all of a batch's keys before its samples.
    let mut announced: Vec<u64> = Vec::new();
    let mut batch_no = 1u64;
    let send = |m: Parsed| tx.send(m).is_ok();
    let mut parser = Parser::new(input, opts);
    while let Some(item) = parser.next_keyed() {
        let msg = match item {
            Ok(Keyed::Sample {
                key,
                new,
                t: Some(t),
                v,
            }) => {
                let k = key.index();
                if new {
                    if announced.len() <= k {
                        announced.resize(k + 1, 0);
                    }
                    if announced[k] == batch_no {
                        if !send(Parsed::Batch(std::mem::replace(&mut batch, fresh()))) {
                            return;
                        }
                        batch_no += 1;
                    }
                    announced[k] = batch_no;
                    if let Some(l) = parser.key_labels(key) {
                        batch.new_series.push((k, l.clone()));
                    }
                }
                batch.samples.push((k as u32, Sample::new(t, v)));
                if batch.samples.len() < BATCH {
                    continue;
                }
                batch_no += 1;
                Parsed::Batch(std::mem::replace(&mut batch, fresh()))
            }
            Ok(Keyed::Sample { key, t: None, .. }) => {
                let _ = send(Parsed::Batch(std::mem::take(&mut batch)));
                let labels = parser.key_labels(key).cloned().unwrap_or_default();
                let _ = send(Parsed::Failed(format!(
                    "sample of {labels} has no timestamp; pass --default-time to import it"
                )));
                return;
            }
            Ok(Keyed::Other(Item::Metadata { name, md })) => {
                // Keep order: samples before the metadata go first.
                if !batch.samples.is_empty() {
                    if !send(Parsed::Batch(std::mem::replace(&mut batch, fresh()))) {
                        return;
                    }
                    batch_no += 1;
                }
                Parsed::Metadata(name, md)
            }
            Ok(Keyed::Other(_)) => continue,
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
    let dir = a.db.clone().unwrap_or_else(crate::paths::default_db);
    let db =
        Db::open(&dir, Options::default()).with_context(|| format!("opening {}", dir.display()))?;
    if let Some(url) = &a.from_prometheus {
        return from_prometheus(&db, url, &a);
    }
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
    // History goes straight to blocks, written already compacted; the
    // files are their own durable copy until the load is committed.
    let mut load = db.bulk_load().context("starting the import")?;
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
        // Parser key -> database handle, set as keys are announced.
        let mut refs: Vec<Option<SeriesRef>> = Vec::new();
        let mut by_ref: Vec<(SeriesRef, Sample)> = Vec::with_capacity(BATCH);
        let mut store = |batch: Batch| -> anyhow::Result<()> {
            for (k, labels) in &batch.new_series {
                if refs.len() <= *k {
                    refs.resize(k + 1, None);
                }
                refs[*k] = Some(
                    db.series_ref(labels)
                        .with_context(|| format!("storing series from {name}"))?,
                );
            }
            by_ref.clear();
            for &(k, s) in &batch.samples {
                match refs.get(k as usize).copied().flatten() {
                    Some(r) => by_ref.push((r, s)),
                    None => {
                        anyhow::bail!("internal error: series key {k} used before it was announced")
                    }
                }
            }
            let rep = load
                .append(&by_ref)
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
                Parsed::Batch(b) => store(b)?,
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
            // Everything before the bad line is stored once this returns.
            load.commit()
                .with_context(|| format!("writing what was read of {name} to blocks"))?;
            anyhow::bail!("{name}: {e} ({appended} samples before it were stored)");
        }
    }
    load.commit()
        .context("writing imported samples to blocks")?;
    let secs = began.elapsed().as_secs_f64();
    outln!(
        "imported {appended} samples ({duplicates} already stored, {conflicts} conflicting and rejected{}) in {secs:.2}s, {:.2} M samples/s",
        if a.skip_bad_lines { format!(", {skipped} bad lines skipped") } else { String::new() },
        (appended + duplicates + conflicts) as f64 / secs.max(1e-9) / 1e6
    );
    Ok(ExitCode::SUCCESS)
}

/// `--from-prometheus`: reads `[start, end]` window by window through
/// remote read into a bulk load (a backfill of any age): memory holds one
/// window's response plus the encoded chunks (about a byte a sample, in
/// parts of at most the bulk load's bound); an interrupted import keeps
/// the parts already written and a rerun completes it.
fn from_prometheus(db: &Db, url: &str, a: &Args) -> anyhow::Result<ExitCode> {
    let url = if url.contains("/api/v1/read") {
        url.to_string()
    } else {
        format!("{}/api/v1/read", url.trim_end_matches('/'))
    };
    let now = crate::time::now_ms();
    let start =
        crate::time::parse_time(&a.start, now).map_err(|e| anyhow::anyhow!("--start: {e}"))?;
    let end = crate::time::parse_time(&a.end, now).map_err(|e| anyhow::anyhow!("--end: {e}"))?;
    if end < start || a.window <= 0 {
        anyhow::bail!("--start must not be after --end, and --window must be positive");
    }
    let selectors: Vec<Vec<minetsdb::Matcher>> = a
        .matchers
        .iter()
        .map(|m| {
            minetsdb::promql::parse_selector(m).map_err(|e| anyhow::anyhow!("--match {m:?}: {e}"))
        })
        .collect::<anyhow::Result<_>>()?;
    let reader =
        minetsdb_collectors::remote_read::Reader::new(&url, std::time::Duration::from_secs(120));
    let began = Instant::now();
    let pb = crate::progress::bytes(None, "reading");
    if !pb.is_hidden() {
        pb.set_length((end - start) as u64);
    }
    let (mut appended, mut duplicates, mut conflicts, mut series) = (0u64, 0u64, 0u64, 0usize);
    // As for files: straight to blocks, written already compacted; the
    // remote Prometheus keeps the history until the commit.
    let mut load = db.bulk_load().context("starting the import")?;
    let mut w = start;
    while w <= end {
        // Closed windows that do not overlap: [w, w + window - 1].
        let w_end = w.saturating_add(a.window - 1).min(end);
        for m in &selectors {
            let got = reader.read(w, w_end, m)?;
            series = series.max(got.len());
            let mut batch: Vec<(SeriesRef, Sample)> = Vec::new();
            for (l, ss) in got {
                let r = db
                    .series_ref(&l)
                    .with_context(|| format!("storing series {l} from {url}"))?;
                batch.extend(ss.into_iter().map(|s| (r, s)));
            }
            let rep = load
                .append(&batch)
                .with_context(|| format!("storing what {url} returned"))?;
            appended += rep.appended as u64;
            duplicates += rep.duplicates as u64;
            conflicts += rep.conflicts as u64;
        }
        pb.set_position((w_end - start) as u64);
        w = match w_end.checked_add(1) {
            Some(n) => n,
            None => break,
        };
    }
    pb.finish_and_clear();
    load.commit()
        .context("writing the imported samples to blocks")?;
    outln!(
        "imported {appended} samples (up to {series} series per window) from {url} in {:.1} s{}{}",
        began.elapsed().as_secs_f64(),
        if duplicates > 0 {
            format!(", {duplicates} already stored")
        } else {
            String::new()
        },
        if conflicts > 0 {
            format!(", {conflicts} conflicting with stored values (kept the stored)")
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}
