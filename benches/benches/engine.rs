//! Append and decode throughput, each beside a baseline measured in the
//! same run so the figures can be quoted as ratios:
//! - append of 10 k-sample batches (one WAL fsync each) vs writing and
//!   fsyncing the same number of raw 16-byte samples to a plain file;
//! - full decode of every block vs summing the same samples from memory.

use std::io::Write;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use minetsdb::{Db, Labels, Options, Sample};

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

criterion_group!(benches, append, decode);
criterion_main!(benches);
