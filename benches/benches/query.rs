//! `select` and PromQL over 90 days of two one-GPU rigs (`instance` rig1
//! and rig2, the "host" label; 23 series each: 17 GPU series and 6 rig
//! series, one-minute scrapes), compacted as `collect` would.
//!
//! Throughput counts the stored samples a query covers (those of the
//! series it selects in its range, lookback included), so every figure is
//! "samples covered per second". Each query sits beside the baseline of
//! decoding exactly those samples (`select` of the same series over the
//! same range) measured in the same run, so the figures read as ratios:
//! a ratio above 1 means the query answered faster than decoding its
//! input (sub-summaries let range functions skip whole hours).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use minetsdb::{Db, Matcher, Options};
use minetsdb_benches::{rig, DAY_MS, START_MS};

const HOUR: i64 = 3_600_000;
const DAYS: u32 = 90;

/// Samples of the series matching `m` in `[lo, hi]`.
fn covered(db: &Db, m: &[Matcher], lo: i64, hi: i64) -> u64 {
    db.select(m, lo..=hi)
        .expect("select")
        .map(|s| s.expect("series").samples.len() as u64)
        .sum()
}

fn open_db() -> (tempfile::TempDir, Db, u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = minetsdb_benches::fill_rigs(dir.path(), DAYS, &[rig("rig1", 1, 5), rig("rig2", 1, 6)])
        .expect("fill");
    {
        let db = Db::open(dir.path(), Options::default()).expect("open");
        db.compact().expect("compact");
    }
    let db = Db::open_read_only(dir.path(), Options::default()).expect("open");
    assert_eq!(db.stats().series, 46);
    eprintln!(
        "query bench: {n} samples of 46 series over {DAYS} days, {:?} blocks",
        db.stats().blocks_per_level
    );
    (dir, db, n)
}

fn select(c: &mut Criterion, db: &Db) {
    let end = START_MS + i64::from(DAYS) * DAY_MS;
    let mut g = c.benchmark_group("select_90d_2_rigs");
    g.sample_size(10);
    let cases: [(&str, Vec<Matcher>, i64); 4] = [
        (
            "metric_eq_whole_span",
            vec![Matcher::metric("nvidia_smi_power_draw_watts")],
            START_MS,
        ),
        (
            "metric_eq_and_label_eq_last_24h",
            vec![
                Matcher::metric("nvidia_smi_power_draw_watts"),
                Matcher::equal("instance", "rig2"),
            ],
            end - DAY_MS,
        ),
        (
            "name_regex_and_label_eq_whole_span",
            vec![
                Matcher::new(minetsdb::MatchOp::Regex, "__name__", "miner_.*").expect("regex"),
                Matcher::equal("instance", "rig1"),
            ],
            START_MS,
        ),
        (
            "label_neq_every_other_series_whole_span",
            vec![
                Matcher::new(minetsdb::MatchOp::Regex, "__name__", ".+").expect("regex"),
                Matcher::new(minetsdb::MatchOp::NotEqual, "instance", "rig1").expect("neq"),
            ],
            START_MS,
        ),
    ];
    for (name, m, lo) in &cases {
        let k = covered(db, m, *lo, end);
        assert!(k > 0, "{name} selects nothing");
        g.throughput(Throughput::Elements(k));
        g.bench_function(*name, |b| b.iter(|| covered(db, m, *lo, end)));
    }
    g.finish();
}

fn queries(c: &mut Criterion, db: &Db, n: u64) {
    let end = START_MS + i64::from(DAYS) * DAY_MS;
    let mut g = c.benchmark_group("query_90d_2_rigs");
    g.sample_size(10);
    // (name, expression, range start, step, metric read, lookback/range).
    let cases = [
        (
            "avg_over_time_power_1h_step_1h",
            "avg_over_time(nvidia_smi_power_draw_watts[1h])",
            START_MS + HOUR,
            HOUR,
            "nvidia_smi_power_draw_watts",
            HOUR,
        ),
        (
            "max_over_time_temp_1d_step_1d",
            "max_over_time(nvidia_smi_temperature_gpu[1d])",
            START_MS + DAY_MS,
            DAY_MS,
            "nvidia_smi_temperature_gpu",
            DAY_MS,
        ),
        (
            "increase_energy_1d_step_1d",
            "increase(gpu_energy_joules_total[1d])",
            START_MS + DAY_MS,
            DAY_MS,
            "gpu_energy_joules_total",
            DAY_MS,
        ),
        (
            "sum_avg_over_time_hashrate_1h_step_1h",
            "sum(avg_over_time(miner_hashrate_hashes_per_second[1h]))",
            START_MS + HOUR,
            HOUR,
            "miner_hashrate_hashes_per_second",
            HOUR,
        ),
        (
            "max_over_time_unpaid_1d_step_1d",
            "max_over_time(pool_unpaid_balance[1d])",
            START_MS + DAY_MS,
            DAY_MS,
            "pool_unpaid_balance",
            DAY_MS,
        ),
        (
            "raw_power_last_24h_step_60s",
            "nvidia_smi_power_draw_watts",
            end - DAY_MS,
            60_000,
            "nvidia_smi_power_draw_watts",
            5 * 60_000,
        ),
        (
            "sum_by_host_rate_shares_1h_step_1h",
            "sum by (instance) (rate(miner_shares_accepted_total[1h]))",
            START_MS + HOUR,
            HOUR,
            "miner_shares_accepted_total",
            HOUR,
        ),
    ];
    for (name, expr, start, step, metric, back) in cases {
        let m = [Matcher::metric(metric)];
        let k = covered(db, &m, start - back, end);
        let got = db.query_range(expr, start, end, step).expect("query");
        assert!(!got.is_empty(), "{expr} returned nothing");
        g.throughput(Throughput::Elements(k));
        g.bench_function(name, |b| {
            b.iter(|| db.query_range(expr, start, end, step).expect("query"))
        });
        g.bench_function(format!("{name}_baseline_decode_input"), |b| {
            b.iter(|| assert_eq!(covered(db, &m, start - back, end), k))
        });
    }
    // count_over_time drops the metric name, so one query over every
    // series would collide (Prometheus refuses it too): one per metric.
    let names = db.label_values("__name__");
    let exprs: Vec<String> = names
        .iter()
        .map(|n| format!("count_over_time({n}[{}d])", DAYS + 1))
        .collect();
    let total: f64 = exprs
        .iter()
        .map(|e| match db.query_instant(e, end).expect("query") {
            minetsdb::promql::Value::Vector(v) => v.iter().map(|x| x.sample.v).sum::<f64>(),
            _ => 0.0,
        })
        .sum();
    assert_eq!(total as u64, n, "count_over_time must count every sample");
    g.throughput(Throughput::Elements(n));
    g.bench_function("count_over_time_all_series_whole_span", |b| {
        b.iter(|| {
            for e in &exprs {
                db.query_instant(e, end).expect("query");
            }
        })
    });
    g.bench_function("count_over_time_all_baseline_decode_all", |b| {
        b.iter(|| {
            let (count, _) = minetsdb::__bench::decode_all_blocks(db).expect("decode");
            count
        })
    });
    g.finish();
}

fn all(c: &mut Criterion) {
    let (_dir, db, n) = open_db();
    select(c, &db);
    queries(c, &db, n);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = all
}
criterion_main!(benches);
