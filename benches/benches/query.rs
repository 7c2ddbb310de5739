//! PromQL over 90 days of a 23-series rig (one GPU: 17 GPU series and 6
//! rig series, one-minute scrapes), each query beside the baseline of
//! decoding every sample of the series it reads (`select` of the whole
//! span), so the figures are ratios measured in the same run.

use criterion::{criterion_group, criterion_main, Criterion};
use minetsdb::{Db, Matcher, Options};

const DAY: i64 = 86_400_000;

fn queries(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = minetsdb_benches::fill(dir.path(), 90, 1, 5).expect("fill");
    {
        let db = Db::open(dir.path(), Options::default()).expect("open");
        db.compact().expect("compact");
    }
    let db = Db::open_read_only(dir.path(), Options::default()).expect("open");
    assert_eq!(db.stats().series, 23);
    eprintln!(
        "query bench: {n} samples of 23 series over 90 days, {:?} blocks",
        db.stats().blocks_per_level
    );
    let start = minetsdb_benches::START_MS;
    let end = start + 90 * DAY;
    let mut g = c.benchmark_group("query_90d_23_series");
    g.sample_size(10);
    let cases = [
        (
            "avg_over_time_power_1h_step_1h",
            "avg_over_time(nvidia_smi_power_draw_watts[1h])",
            3_600_000,
            "nvidia_smi_power_draw_watts",
        ),
        (
            "max_over_time_temp_1d_step_1d",
            "max_over_time(nvidia_smi_temperature_gpu[1d])",
            DAY,
            "nvidia_smi_temperature_gpu",
        ),
        (
            "increase_energy_1d_step_1d",
            "increase(gpu_energy_joules_total[1d])",
            DAY,
            "gpu_energy_joules_total",
        ),
    ];
    for (name, expr, step, metric) in cases {
        let got = db
            .query_range(expr, start + step, end, step)
            .expect("query");
        assert!(!got.is_empty(), "{expr} returned nothing");
        g.bench_function(name, |b| {
            b.iter(|| {
                db.query_range(expr, start + step, end, step)
                    .expect("query")
            })
        });
        let m = [Matcher::metric(metric)];
        g.bench_function(format!("{name}_baseline_decode_all"), |b| {
            b.iter(|| {
                let mut k = 0usize;
                for s in db.select(&m, ..).expect("select") {
                    k += s.expect("series").samples.len();
                }
                assert!(k > 100_000);
                k
            })
        });
    }
    // count_over_time drops the metric name, so one query over every
    // series would collide (Prometheus refuses it too): one per metric.
    let names = db.label_values("__name__");
    let exprs: Vec<String> = names
        .iter()
        .map(|n| format!("count_over_time({n}[91d])"))
        .collect();
    let total: f64 = exprs
        .iter()
        .map(|e| match db.query_instant(e, end).expect("query") {
            minetsdb::promql::Value::Vector(v) => v.iter().map(|x| x.sample.v).sum::<f64>(),
            _ => 0.0,
        })
        .sum();
    assert_eq!(total as u64, n, "count_over_time must count every sample");
    g.bench_function("count_over_time_all_series_whole_span", |b| {
        b.iter(|| {
            for e in &exprs {
                db.query_instant(e, end).expect("query");
            }
        })
    });
    g.bench_function("count_over_time_all_baseline_decode_all", |b| {
        b.iter(|| {
            let (count, _) = minetsdb::__bench::decode_all_blocks(&db).expect("decode");
            count
        })
    });
    g.finish();
}

criterion_group!(benches, queries);
criterion_main!(benches);
