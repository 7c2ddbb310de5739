//! Alert evaluation: one round of the default mining rules (built from the
//! default `[thresholds]`) over a day of an 8-GPU rig with one-minute
//! scrapes, the time `collect` spends on alerts after each scrape round
//! (the budget: under 10 ms). Beside it, in the same run, the
//! baseline of one plain instant query, so the figure reads as "N queries'
//! worth".

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use minetsdb::{Db, Options};
use minetsdb_collectors::alerts::{load_rules, Evaluator};
use minetsdb_collectors::config::Config;

const DAY: i64 = 86_400_000;

fn alerts(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = minetsdb_benches::fill(dir.path(), 1, 8, 11).expect("fill");
    let db = Db::open_read_only(dir.path(), Options::default()).expect("open");
    let t = minetsdb_benches::START_MS + DAY - 30_000;
    let config = Config::parse("", std::path::Path::new("config.toml")).expect("config");
    let groups = load_rules(&config).expect("default rules");
    let rules: usize = groups.iter().map(|g| g.rules.len()).sum();
    let round = Evaluator::new(groups.clone(), Default::default()).eval(&db, t);
    assert!(round.errors.is_empty(), "{:?}", round.errors);
    eprintln!(
        "alerts bench: {n} samples, {} series, {rules} default rules, {} alerts in the round",
        db.stats().series,
        round.alerts.len()
    );
    let mut g = c.benchmark_group("alerts_8_gpus");
    // A fresh evaluator each round: the group interval would otherwise
    // skip evaluations at the same time.
    g.bench_function("default_rules_round", |b| {
        b.iter_batched(
            || Evaluator::new(groups.clone(), Default::default()),
            |mut ev| ev.eval(&db, t),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("baseline_one_instant_query", |b| {
        b.iter(|| {
            db.query_instant(
                "miner_hashrate_hashes_per_second / avg_over_time(miner_hashrate_hashes_per_second[1h]) <= 0.9",
                t,
            )
            .expect("query")
        })
    });
    g.finish();
}

criterion_group!(benches, alerts);
criterion_main!(benches);
