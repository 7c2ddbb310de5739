//! Storage engine throughput, each beside a baseline measured in the
//! same run so the figures can be quoted as ratios:
//! - WAL append of 10 k-sample batches (one WAL fsync each) vs writing and
//!   fsyncing the same number of raw 16-byte samples to a plain file;
//! - head cut (`flush` of a day of an 8-GPU rig held in the head: blocks
//!   built, published, WAL rotated) and block write alone (the same day's
//!   columns encoded and published as one block) vs writing and fsyncing
//!   the raw 16-byte samples;
//! - block open (map, check header and index) and open plus full decode
//!   of that block, and full decode of every block of a 30-day database,
//!   vs summing the same samples from memory.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use minetsdb::{Db, Labels, Options, Sample};
use minetsdb_benches::SeriesData;

const BATCH: usize = 10_000;

fn append(c: &mut Criterion) {
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(30);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), Options::default()).expect("open");
    let refs: Vec<_> = (0..200)
        .map(|i| {
            db.series_ref(&Labels::new("bench_metric", &[("s", &i.to_string())]).expect("labels"))
                .expect("ref")
        })
        .collect();
    let mut t = minetsdb_benches::START_MS;
    g.bench_function("db_batch_10k_fsync", |b| {
        b.iter_batched(
            || {
                let mut batch = Vec::with_capacity(BATCH);
                for _ in 0..BATCH / refs.len() {
                    t += 60_000;
                    for (i, r) in refs.iter().enumerate() {
                        batch.push((
                            *r,
                            Sample::new(t, 200.0 + (t / 60_000 % 97) as f64 * 0.01 + i as f64),
                        ));
                    }
                }
                batch
            },
            |batch| db.append(&batch).expect("append"),
            BatchSize::LargeInput,
        )
    });
    let raw_dir = tempfile::tempdir().expect("tempdir");
    let mut f = std::fs::File::create(raw_dir.path().join("raw")).expect("create");
    let buf = vec![0x5au8; BATCH * 16];
    g.bench_function("baseline_raw_write_fsync", |b| {
        b.iter(|| {
            f.write_all(&buf).expect("write");
            f.sync_data().expect("fsync");
        })
    });
    g.finish();
}

fn decode(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = minetsdb_benches::fill(dir.path(), 30, 8, 11).expect("fill");
    let db = Db::open_read_only(dir.path(), Options::default()).expect("open");
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(n));
    g.sample_size(20);
    g.bench_function("all_blocks_full_decode", |b| {
        b.iter(|| {
            let (count, _sum) = minetsdb::__bench::decode_all_blocks(&db).expect("decode");
            assert_eq!(count, n);
        })
    });
    let flat: Vec<(i64, f64)> = (0..n).map(|i| (i as i64, i as f64)).collect();
    g.bench_function("baseline_sum_from_memory", |b| {
        b.iter(|| {
            let mut s = 0.0;
            let mut ts = 0i64;
            for &(t, v) in &flat {
                s += v;
                ts ^= t;
            }
            criterion::black_box((s, ts))
        })
    });
    g.finish();
}

/// Writes and fsyncs `n` raw 16-byte samples to a fresh file in `dir`:
/// what storing them costs with no encoding, index or log.
fn raw_write(dir: &Path, buf: &[u8]) {
    let mut f = std::fs::File::create(dir.join("raw")).expect("create");
    f.write_all(buf).expect("write");
    f.sync_data().expect("fsync");
}

fn one_day() -> Vec<SeriesData> {
    minetsdb_benches::simulate(&minetsdb_benches::rig("rig1", 8, 13), 1)
}

fn head_cut(c: &mut Criterion) {
    let day = one_day();
    let n = minetsdb_benches::sample_count(&day);
    // A database whose head holds the day (the WAL has it; no block yet):
    // each iteration reopens a copy, replaying the WAL, then times the cut.
    let template = tempfile::tempdir().expect("tempdir");
    {
        let db = Db::open(template.path(), Options::default()).expect("open");
        let mut batch = Vec::new();
        for s in &day {
            let r = db.series_ref(&s.labels).expect("ref");
            batch.extend(
                s.ts.iter()
                    .zip(&s.vs)
                    .map(|(&t, &v)| (r, Sample::new(t, v))),
            );
        }
        db.append(&batch).expect("append");
        assert_eq!(db.stats().blocks_per_level.values().sum::<usize>(), 0);
    }
    let mut g = c.benchmark_group("head_cut");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);
    g.bench_function("flush_1d_8gpu", |b| {
        b.iter_batched(
            || {
                let d = tempfile::tempdir().expect("tempdir");
                copy_dir(template.path(), d.path());
                let db = Db::open(d.path(), Options::default()).expect("open");
                (d, db)
            },
            |(d, db)| {
                db.flush().expect("flush");
                (d, db)
            },
            BatchSize::PerIteration,
        )
    });
    let raw = vec![0x5au8; n as usize * 16];
    let raw_dir = tempfile::tempdir().expect("tempdir");
    g.bench_function("baseline_raw_write_fsync", |b| {
        b.iter(|| raw_write(raw_dir.path(), &raw))
    });
    g.finish();
}

fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("dir entry");
        let dst = to.join(e.file_name());
        if e.file_type().expect("file type").is_dir() {
            std::fs::create_dir_all(&dst).expect("mkdir");
            copy_dir(&e.path(), &dst);
        } else if e.file_name() != "LOCK" {
            std::fs::copy(e.path(), &dst).expect("copy");
        }
    }
}

fn block(c: &mut Criterion) {
    let day = one_day();
    let n = minetsdb_benches::sample_count(&day);
    let cols: Vec<(Vec<i64>, Vec<f64>)> =
        day.iter().map(|s| (s.ts.clone(), s.vs.clone())).collect();
    let opts = Options::default();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.blk");
    let size = minetsdb::__bench::write_block(&path, &opts, &cols).expect("write block");
    eprintln!(
        "block: {} series, {n} samples, {size} bytes ({:.3} bytes/sample)",
        cols.len(),
        size as f64 / n as f64
    );
    let mut g = c.benchmark_group("block_1d_8gpu");
    g.throughput(Throughput::Elements(n));
    g.sample_size(20);
    g.bench_function("write_and_publish", |b| {
        b.iter(|| minetsdb::__bench::write_block(&path, &opts, &cols).expect("write block"))
    });
    let raw = vec![0x5au8; n as usize * 16];
    g.bench_function("baseline_raw_write_fsync", |b| {
        b.iter(|| raw_write(dir.path(), &raw))
    });
    g.bench_function("open", |b| {
        b.iter(|| minetsdb::__bench::open_block(&path).expect("open block"))
    });
    g.bench_function("open_and_full_decode", |b| {
        b.iter(|| {
            let (count, _) = minetsdb::__bench::open_and_decode_block(&path).expect("decode");
            assert_eq!(count, n);
        })
    });
    g.bench_function("baseline_sum_from_memory", |b| {
        b.iter(|| {
            let mut s = 0.0;
            let mut x = 0i64;
            for (ts, vs) in &cols {
                for (&t, &v) in ts.iter().zip(vs) {
                    s += v;
                    x ^= t;
                }
            }
            criterion::black_box((s, x))
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = append, head_cut, block, decode
}
criterion_main!(benches);
