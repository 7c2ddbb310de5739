//! The performance target: `report` over 90 days of an 8-GPU rig
//! in under 1 s on one core, against the baseline of decoding every
//! sample of the series it reads (the same `select`s, nothing computed).
//! Ignored by default (it writes 18 million samples); run it with
//! `taskset -c 0 cargo test --release -p minetsdb-cli report_bench -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use minetsdb::{Db, Matcher, Options};
use minetsdb_collectors::config::costs::{Costs, PowerOverhead, Tariff};
use minetsdb_collectors::sim::{backfill_into, Rig, RigConfig};

use super::metric;

/// The fastest of `n` runs of `f`.
pub(crate) fn best_of(n: usize, mut f: impl FnMut()) -> Duration {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// 90 days of a simulated 8-GPU rig at one-minute scrapes, compacted, in a
/// temporary directory: the benches' database. Returns it and its end.
pub(crate) fn rig_90d_8_gpus() -> (tempfile::TempDir, i64) {
    const DAY: i64 = 86_400_000;
    let start = 1_767_225_600_000; // 2026-01-01
    let end = start + 90 * DAY;
    let dir = tempfile::tempdir().unwrap();
    let filled = Instant::now();
    {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        let mut rig = Rig::new(RigConfig {
            seed: 5,
            gpus: 8,
            ..RigConfig::default()
        });
        backfill_into(&mut rig, &db, start, end, 60, |_| {}).unwrap();
        db.flush().unwrap();
        db.compact().unwrap();
    }
    eprintln!("filled 90 d x 8 GPUs in {:.1?}", filled.elapsed());
    (dir, end)
}

#[test]
#[ignore = "writes 90 days of an 8-GPU rig; run with --release --ignored"]
fn report_bench_90d_8_gpus() {
    const DAY: i64 = 86_400_000;
    let (dir, end) = rig_90d_8_gpus();
    let start = end - 90 * DAY;
    let db = Db::open_read_only(dir.path(), Options::default()).unwrap();
    let costs = Costs {
        tariff: Some(Tariff::flat("USD", 0.2)),
        power: Some(PowerOverhead {
            overhead_watts: 60.0,
            psu_efficiency: 0.9,
        }),
        price: None,
    };
    let read = [
        metric::POWER,
        metric::ENERGY,
        metric::HASHRATE,
        metric::TEMP,
        metric::ACCEPTED,
        metric::REJECTED,
        metric::STALE,
        metric::BALANCE,
        metric::PAID,
        metric::DEFAULT_PRICE,
    ];
    let mut samples = 0usize;
    let decode = best_of(5, || {
        samples = 0;
        for m in read {
            for s in db.select(&[Matcher::metric(m)], start..end).unwrap() {
                samples += s.unwrap().samples.len();
            }
        }
    });
    let mut r = None;
    let report = best_of(5, || {
        r = Some(super::compute(&db, start, end, &costs).unwrap());
    });
    let r = r.unwrap();
    assert_eq!(r.cards.len(), 8);
    assert!(r.totals.cost.is_some_and(|c| c > 0.0));
    eprintln!(
        "report over 90 d x 8 GPUs: {report:.1?}; decoding the {samples} samples it reads: {decode:.1?}; ratio {:.2}",
        report.as_secs_f64() / decode.as_secs_f64()
    );
    if !cfg!(debug_assertions) {
        assert!(report < Duration::from_secs(1), "{report:?}");
    }
}
