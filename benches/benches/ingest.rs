//! Ingest from text: exposition parsing and `import` end to end, on a
//! simulated week of a 3-GPU rig (57 series, 575 k samples, 86 MB) written
//! as Prometheus text 0.0.4 with timestamps, series after series as
//! `export` writes it. A week, not a day, so that opening the database
//! and the final flush do not dominate the import figures.
//!
//! - `exposition_parse`: the streaming parser over the text in memory, in
//!   bytes/s, beside the baseline of finding the same lines (a newline
//!   scan, the least any line parser must do).
//! - `import`: samples/s of the in-process pipeline `import` runs (parse
//!   by series key, a `bulk_load` fed by series ref in 100 k batches,
//!   `commit`; on one thread here) beside the same through the WAL
//!   (`append_backfill`, `flush`, `compact`: what import did before the
//!   bulk load, and the result it gives), and of the built
//!   `minetsdb import` binary on the file (process start, file read,
//!   parser thread, database open and flush included), beside the parse
//!   alone. The binary is found as `minetsdb` beside the bench's target
//!   directory or through `$MINETSDB_BIN`; without it that bench is
//!   skipped with a note (`cargo build --release -p minetsdb-cli`).

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use minetsdb::{Db, Options, Sample, SeriesRef};
use minetsdb_collectors::exposition::{self, Item, Keyed, Parser};

/// `import`'s batch size (cli/src/cmd/import.rs).
const BATCH: usize = 100_000;

fn parse_count(text: &[u8]) -> u64 {
    let mut n = 0;
    for item in Parser::new(text, exposition::Options::default()) {
        if let Item::Sample { .. } = item.expect("parse") {
            n += 1;
        }
    }
    n
}

/// How the in-process import stores what it parses.
#[derive(Clone, Copy)]
enum Store {
    /// `Db::bulk_load`, as `minetsdb import` does.
    Bulk,
    /// `Db::append_backfill` through the WAL and head, then flush and
    /// compact to reach the same blocks.
    Wal,
}

fn import_in_process(text: &[u8], dir: &std::path::Path, how: Store) -> u64 {
    let db = Db::open(dir, Options::default()).expect("open");
    let mut load = match how {
        Store::Bulk => Some(db.bulk_load().expect("bulk load")),
        Store::Wal => None,
    };
    let mut store = |batch: &[(SeriesRef, Sample)]| match load.as_mut() {
        Some(l) => l.append(batch).expect("append").appended as u64,
        None => db.append_backfill(batch).expect("append").appended as u64,
    };
    let mut batch = Vec::with_capacity(BATCH);
    let mut refs: Vec<Option<SeriesRef>> = Vec::new();
    let mut n = 0;
    let mut p = Parser::new(text, exposition::Options::default());
    while let Some(item) = p.next_keyed() {
        if let Keyed::Sample {
            key,
            new,
            t: Some(t),
            v,
        } = item.expect("parse")
        {
            let k = key.index();
            if new {
                if refs.len() <= k {
                    refs.resize(k + 1, None);
                }
                let labels = p.key_labels(key).expect("labels of a new key");
                refs[k] = Some(db.series_ref(labels).expect("register"));
            }
            batch.push((refs[k].expect("announced key"), Sample::new(t, v)));
            if batch.len() == BATCH {
                n += store(&batch);
                batch.clear();
            }
        }
    }
    n += store(&batch);
    match load {
        Some(l) => {
            l.commit().expect("commit");
        }
        None => {
            db.flush().expect("flush");
            db.compact().expect("compact");
        }
    }
    n
}

fn ingest(c: &mut Criterion) {
    let series = minetsdb_benches::simulate(&minetsdb_benches::rig("rig1", 3, 17), 7);
    let n = minetsdb_benches::sample_count(&series);
    let text = minetsdb_benches::exposition_text(&series);
    eprintln!(
        "ingest: {} series, {n} samples, {} bytes of text ({:.1} bytes/sample)",
        series.len(),
        text.len(),
        text.len() as f64 / n as f64
    );
    assert_eq!(parse_count(&text), n);

    let mut g = c.benchmark_group("exposition_parse");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.sample_size(10);
    g.bench_function("parse_text004", |b| b.iter(|| parse_count(&text)));
    g.bench_function("baseline_newline_scan", |b| {
        b.iter(|| black_box(&text).iter().filter(|&&c| c == b'\n').count())
    });
    g.finish();

    let mut g = c.benchmark_group("import_7d_3gpu");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);
    for (name, how) in [
        ("in_process_parse_bulk_load", Store::Bulk),
        ("in_process_parse_append_flush_compact", Store::Wal),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || tempfile::tempdir().expect("tempdir"),
                |d| {
                    assert_eq!(import_in_process(&text, d.path(), how), n);
                    d
                },
                BatchSize::PerIteration,
            )
        });
    }
    match minetsdb_benches::cli_binary() {
        Some(bin) => {
            let files = tempfile::tempdir().expect("tempdir");
            let file = files.path().join("day.prom");
            std::fs::write(&file, &text).expect("write text");
            eprintln!("import: running {}", bin.display());
            g.bench_function("minetsdb_import_binary", |b| {
                b.iter_batched(
                    || tempfile::tempdir().expect("tempdir"),
                    |d| {
                        let out = std::process::Command::new(&bin)
                            .arg("import")
                            .arg("--db")
                            .arg(d.path())
                            .arg(&file)
                            .output()
                            .expect("run minetsdb import");
                        assert!(
                            out.status.success(),
                            "minetsdb import failed: {}",
                            String::from_utf8_lossy(&out.stderr)
                        );
                        d
                    },
                    BatchSize::PerIteration,
                )
            });
        }
        None => eprintln!(
            "import: no minetsdb binary beside this bench (cargo build --release -p minetsdb-cli, \
             or set MINETSDB_BIN); skipping minetsdb_import_binary"
        ),
    }
    g.bench_function("baseline_parse_only", |b| b.iter(|| parse_count(&text)));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = ingest
}
criterion_main!(benches);
