//! Chunk codecs on three simulated days of an 8-GPU rig (142 series, one
//! chunk per series per day as the block writer cuts them): encode and
//! decode of each value codec on the chunks it applies to, of the codec
//! choice the writer makes, and of the shared timestamp columns. Each
//! group has a baseline of copying the same samples' raw 8-byte values
//! (to bytes for encode, from bytes for decode), so figures read as
//! ratios. Sizes (bits per value) are printed once at start.
//!
//! The codecs are crate-private; `minetsdb::__bench` wraps them (there is
//! no public chunk-level call that reaches one codec alone).

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use minetsdb::__bench as b;

type Chunk<'a> = (&'a [i64], &'a [f64]);

/// Encoded chunks of one codec: (codec id, bytes, count).
fn encode_all(
    chunks: &[Chunk<'_>],
    enc: impl Fn(&[f64], &mut Vec<u8>) -> u8,
) -> Vec<(u8, Vec<u8>, usize)> {
    chunks
        .iter()
        .map(|(_, vs)| {
            let mut out = Vec::new();
            let id = enc(vs, &mut out);
            (id, out, vs.len())
        })
        .collect()
}

fn raw_baselines(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    chunks: &[Chunk<'_>],
) {
    let raw: Vec<Vec<u8>> = chunks
        .iter()
        .map(|(_, vs)| vs.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    g.bench_function("baseline_copy_to_bytes", |bn| {
        let mut out = Vec::new();
        bn.iter(|| {
            for (_, vs) in chunks {
                out.clear();
                for v in *vs {
                    out.extend_from_slice(&v.to_le_bytes());
                }
                black_box(&out);
            }
        })
    });
    g.bench_function("baseline_copy_from_bytes", |bn| {
        let mut out = Vec::new();
        bn.iter(|| {
            for r in &raw {
                out.clear();
                out.extend(
                    r.chunks_exact(8)
                        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))),
                );
                black_box(&out);
            }
        })
    });
}

fn values_group(
    c: &mut Criterion,
    name: &str,
    chunks: &[Chunk<'_>],
    enc: impl Fn(&[f64], &mut Vec<u8>) -> u8 + Copy,
) {
    let encoded = encode_all(chunks, enc);
    let n: usize = chunks.iter().map(|(_, vs)| vs.len()).sum();
    let bytes: usize = encoded.iter().map(|(_, e, _)| e.len()).sum();
    eprintln!(
        "codec_{name}: {} chunks, {n} values, {:.2} bits/value",
        chunks.len(),
        bytes as f64 * 8.0 / n as f64
    );
    let mut g = c.benchmark_group(format!("codec_{name}"));
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("encode", |bn| {
        let mut out = Vec::new();
        bn.iter(|| {
            for (_, vs) in chunks {
                out.clear();
                black_box(enc(vs, &mut out));
            }
        })
    });
    g.bench_function("decode", |bn| {
        let mut out = Vec::new();
        bn.iter(|| {
            for (id, e, n) in &encoded {
                out.clear();
                b::decode_values(*id, e, *n, &mut out).expect("decode");
                black_box(&out);
            }
        })
    });
    raw_baselines(&mut g, chunks);
    g.finish();
}

fn codecs(c: &mut Criterion) {
    let series = minetsdb_benches::simulate(&minetsdb_benches::rig("rig1", 8, 3), 3);
    let chunks = minetsdb_benches::day_chunks(&series);
    // Which codec the writer picks per chunk decides the data set of each
    // codec's group: XOR (forced) and the writer's choice run on every chunk,
    // decimal and constant on the chunks the writer stores so.
    let picked: Vec<u8> = chunks
        .iter()
        .map(|(_, vs)| b::encode_values(vs, &mut Vec::new()))
        .collect();
    let decimal: Vec<Chunk<'_>> = chunks
        .iter()
        .zip(&picked)
        .filter(|(_, &id)| id == 1)
        .map(|(ch, _)| *ch)
        .collect();
    let constant: Vec<Chunk<'_>> = chunks
        .iter()
        .zip(&picked)
        .filter(|(_, &id)| id == 2)
        .map(|(ch, _)| *ch)
        .collect();
    eprintln!(
        "writer's choice over {} chunks: {} xor, {} decimal, {} constant",
        chunks.len(),
        picked.iter().filter(|&&id| id == 0).count(),
        picked.iter().filter(|&&id| id == 1).count(),
        constant.len()
    );
    values_group(c, "xor", &chunks, |vs, out| {
        b::encode_xor(vs, out);
        0
    });
    values_group(c, "decimal", &decimal, |vs, out| {
        assert!(b::encode_decimal(vs, out));
        1
    });
    values_group(c, "constant", &constant, b::encode_values);
    values_group(c, "writer_choice", &chunks, b::encode_values);

    // Series scraped together share one timestamp column per chunk: the
    // columns are one per day, so take those of a month of one GPU.
    let ts_series = minetsdb_benches::simulate(&minetsdb_benches::rig("rig1", 1, 3), 30);
    let cols: Vec<&[i64]> = minetsdb_benches::day_chunks(&ts_series[..1])
        .into_iter()
        .map(|(ts, _)| ts)
        .collect();
    let n: usize = cols.iter().map(|c| c.len()).sum();
    let encoded: Vec<(Vec<u8>, usize)> = cols
        .iter()
        .map(|ts| {
            let mut out = Vec::new();
            b::encode_timestamps(ts, &mut out);
            (out, ts.len())
        })
        .collect();
    let bytes: usize = encoded.iter().map(|(e, _)| e.len()).sum();
    eprintln!(
        "codec_timestamps: {} columns, {n} timestamps (5 ms jitter), {:.2} bits/timestamp",
        cols.len(),
        bytes as f64 * 8.0 / n as f64
    );
    let mut g = c.benchmark_group("codec_timestamps");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("encode", |bn| {
        let mut out = Vec::new();
        bn.iter(|| {
            for ts in &cols {
                out.clear();
                b::encode_timestamps(ts, &mut out);
                black_box(&out);
            }
        })
    });
    g.bench_function("decode", |bn| {
        let mut out = Vec::new();
        bn.iter(|| {
            for (e, n) in &encoded {
                out.clear();
                b::decode_timestamps(e, *n, &mut out).expect("decode");
                black_box(&out);
            }
        })
    });
    let raw: Vec<Vec<u8>> = cols
        .iter()
        .map(|ts| ts.iter().flat_map(|t| t.to_le_bytes()).collect())
        .collect();
    g.bench_function("baseline_copy_from_bytes", |bn| {
        let mut out = Vec::new();
        bn.iter(|| {
            for r in &raw {
                out.clear();
                out.extend(
                    r.chunks_exact(8)
                        .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes"))),
                );
                black_box(&out);
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = codecs
}
criterion_main!(benches);
