//! Downsampling tiers must answer what the raw samples answered.
//!
//! Fourteen days of one-minute samples (ms jitter, never on a bucket
//! boundary) are queried before compaction, when every sample is raw, and
//! again after compaction has moved days 0..5 to 1-hour buckets and days
//! 5..10 to 5-minute buckets. `*_over_time`, `increase`, `rate`, `delta`,
//! plain selectors and `last_over_time` over windows of whole buckets
//! must give the same answers (sums to 1e-9: bucket sums are added in
//! another order, or exactly for decimals); functions that need raw
//! samples must fail, clearly, and so must rate/increase over a gauge's
//! buckets (which keep no counter resets).

use minetsdb::promql::{query_range, Matrix, QueryOptions};
use minetsdb::{Db, Labels, Options, Sample, Tier};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
/// A day boundary, so bucket and block windows line up with the data.
const T0: i64 = 1_700_006_400_000;

fn opts() -> Options {
    let mut o = Options::default();
    o.downsampling = vec![
        Tier {
            resolution_ms: 5 * MIN,
            after_ms: 4 * DAY,
        },
        Tier {
            resolution_ms: HOUR,
            after_ms: 9 * DAY,
        },
    ];
    o
}

fn fill(db: &Db) {
    let mut x: u64 = 99;
    let mut rnd = move || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) as f64 / (1u64 << 31) as f64
    };
    let l = |name: &str, gpu: &str| Labels::new(name, &[("gpu", gpu), ("s", name)]).unwrap();
    let stale = f64::from_bits(minetsdb::STALE_NAN_BITS);
    let mut energy = 0.0;
    for day in 0..14 {
        let mut batch = Vec::new();
        for m in 0..(DAY / MIN) {
            let i = day * (DAY / MIN) + m;
            // 1.234 s past the minute, +-300 ms: never on a boundary.
            let t = T0 + i * MIN + 1_234 + (rnd() * 600.0) as i64 - 300;
            let power = 200.0 + (rnd() * 10_000.0).round() / 100.0;
            batch.push((l("power_watts", "0"), Sample::new(t, power)));
            // A counter that resets (a reboot) now and then, mid-bucket.
            if i % 4_001 == 2_000 {
                energy = 3.0;
            } else {
                energy += (power * 60.0).round();
            }
            batch.push((l("energy_joules_total", "0"), Sample::new(t, energy)));
            // Gaps (an outage, after a stale marker) and an odd NaN.
            let hour = (i / 60) % 24;
            if day == 2 && (5..8).contains(&hour) || day == 7 && hour == 13 {
                if i % 60 == 0 {
                    batch.push((l("temp_celsius", "1"), Sample::new(t, stale)));
                }
            } else {
                let v = if i % 997 == 0 {
                    f64::NAN
                } else {
                    55.0 + (i % 17) as f64
                };
                batch.push((l("temp_celsius", "1"), Sample::new(t, v)));
            }
        }
        db.append_labeled(&batch).unwrap();
    }
}

fn q(db: &Db, expr: &str, start: i64, end: i64, step: i64) -> Matrix {
    query_range(db, expr, start, end, step, &QueryOptions::default())
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
}

fn same(a: f64, b: f64, exact: bool) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if exact {
        return a.to_bits() == b.to_bits();
    }
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

fn assert_same(what: &str, raw: &Matrix, down: &Matrix, exact: bool) {
    assert_eq!(raw.len(), down.len(), "{what}: series");
    let mut points = 0;
    for (r, d) in raw.iter().zip(down) {
        assert_eq!(r.metric, d.metric, "{what}");
        assert_eq!(
            r.samples.len(),
            d.samples.len(),
            "{what} {:?}: points",
            r.metric
        );
        for (x, y) in r.samples.iter().zip(&d.samples) {
            assert_eq!(x.t, y.t, "{what}");
            assert!(
                same(x.v, y.v, exact),
                "{what} {:?} at {}: raw {} downsampled {}",
                r.metric,
                x.t,
                x.v,
                y.v
            );
            points += 1;
        }
    }
    assert!(points > 0, "{what}: nothing compared");
}

/// (query range, window, step): windows of whole buckets of the tier the
/// range lies in, and ones crossing tier boundaries.
fn cases() -> Vec<(i64, i64, &'static str, i64)> {
    vec![
        // Days 1..4: 1-hour buckets.
        (T0 + DAY, T0 + 4 * DAY, "1h", HOUR),
        (T0 + DAY, T0 + 4 * DAY, "1d", HOUR),
        (T0 + DAY, T0 + 4 * DAY, "3h", 3 * HOUR),
        // Days 6..9: 5-minute buckets.
        (T0 + 6 * DAY, T0 + 9 * DAY, "5m", 5 * MIN),
        (T0 + 6 * DAY, T0 + 9 * DAY, "1h", 5 * MIN),
        // Across 1h -> 5m -> raw.
        (T0 + 4 * DAY, T0 + 11 * DAY, "1h", HOUR),
        (T0 + 2 * DAY, T0 + 12 * DAY, "1d", DAY),
    ]
}

const FUNCS: [(&str, bool); 8] = [
    ("count_over_time", true),
    ("min_over_time", true),
    ("max_over_time", true),
    ("sum_over_time", false),
    ("avg_over_time", false),
    ("increase", false),
    ("rate", false),
    ("delta", false),
];

fn answers(db: &Db) -> Vec<(String, Matrix, bool)> {
    let mut out = Vec::new();
    for (start, end, w, step) in cases() {
        for (f, exact) in FUNCS {
            // Gauges keep no counter resets in their buckets.
            let sel = if f == "rate" || f == "increase" {
                "{__name__=~\".+_total\"}"
            } else {
                "{__name__=~\".+\"}"
            };
            let e = format!("{f}({sel}[{w}])");
            out.push((
                format!("{e} {start}..{end}"),
                q(db, &e, start, end, step),
                exact,
            ));
        }
        let e = format!("last_over_time({{__name__=~\".+\"}}[{w}])");
        out.push((
            format!("{e} {start}..{end}"),
            q(db, &e, start, end, step),
            true,
        ));
    }
    // Plain selectors at bucket ends see each bucket's last sample, which
    // is the raw answer there.
    for (start, end, step) in [
        (T0 + DAY, T0 + 4 * DAY, HOUR),
        (T0 + 6 * DAY, T0 + 9 * DAY, 5 * MIN),
    ] {
        let e = "{__name__=~\".+\"}";
        out.push((
            format!("{e} {start}..{end}"),
            q(db, e, start, end, step),
            true,
        ));
    }
    out
}

#[test]
fn tiers_answer_what_raw_samples_answered() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let before = {
        let db = Db::open(&dir, opts()).unwrap();
        fill(&db);
        db.flush().unwrap();
        let raw = answers(&db);
        let rep = db.compact().unwrap();
        assert!(rep.blocks_written > 0);
        raw
    };
    // Reopened, read-write and read-only, from the files alone.
    let db = Db::open(&dir, opts()).unwrap();
    let st = db.stats();
    assert!(st.blocks_per_level.values().sum::<usize>() > 0);
    let after = answers(&db);
    for ((what, raw, exact), (_, down, _)) in before.iter().zip(&after) {
        assert_same(what, raw, down, *exact);
    }
    drop(db);
    let ro = Db::open_read_only(&dir, opts()).unwrap();
    for ((what, raw, exact), (_, down, _)) in before.iter().zip(answers(&ro).iter()) {
        assert_same(what, raw, down, *exact);
    }
}

#[test]
fn data_moves_to_its_tier_and_raw_only_functions_fail_there() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path().join("db"), opts()).unwrap();
    fill(&db);
    db.flush().unwrap();
    db.compact().unwrap();
    // One sample per bucket in the tiers, every sample in raw.
    let per_hour = |from: i64| {
        let m = q(
            &db,
            "count_over_time(power_watts[1h])",
            from + HOUR,
            from + HOUR,
            HOUR,
        );
        m[0].samples[0].v
    };
    assert_eq!(per_hour(T0 + 2 * DAY), 60.0);
    let sel = |from: i64| {
        db.select(
            &[minetsdb::Matcher::equal("__name__", "power_watts")],
            from..from + HOUR,
        )
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .samples
        .len()
    };
    assert_eq!(sel(T0 + 2 * DAY), 1, "1h tier: one view sample per hour");
    assert_eq!(sel(T0 + 7 * DAY), 12, "5m tier: one per 5 minutes");
    assert_eq!(sel(T0 + 12 * DAY), 60, "raw: every sample");

    let e = "quantile_over_time(0.5, power_watts[1h])";
    let err = query_range(
        &db,
        e,
        T0 + 2 * DAY,
        T0 + 3 * DAY,
        HOUR,
        &QueryOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("quantile_over_time() needs raw samples"),
        "{err}"
    );
    assert!(err.contains("300s") || err.contains("3600s"), "{err}");
    // The raw range answers it.
    let ok = q(&db, e, T0 + 12 * DAY, T0 + 13 * DAY, HOUR);
    assert_eq!(ok[0].samples.len(), 25);
    // A gauge's buckets keep no resets: rate and increase say so; a
    // counter's do.
    let e = "increase(power_watts[1h])";
    let err = query_range(
        &db,
        e,
        T0 + 2 * DAY,
        T0 + 3 * DAY,
        HOUR,
        &QueryOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("keep no counter resets"), "{err}");
    let ok = q(
        &db,
        "increase(energy_joules_total[1h])",
        T0 + 2 * DAY,
        T0 + 3 * DAY,
        HOUR,
    );
    assert_eq!(ok[0].samples.len(), 25);
    for f in ["irate", "deriv", "changes", "resets", "stddev_over_time"] {
        let e = format!("{f}(power_watts[1h])");
        let r = query_range(
            &db,
            &e,
            T0 + 7 * DAY,
            T0 + 8 * DAY,
            HOUR,
            &QueryOptions::default(),
        );
        assert!(r.is_err(), "{e} over 5m buckets must fail");
    }
}

#[test]
fn verify_and_check_cover_tier_blocks() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    {
        let db = Db::open(&dir, opts()).unwrap();
        fill(&db);
        db.flush().unwrap();
        db.compact().unwrap();
        assert!(db.verify().is_empty());
    }
    // Flip one byte in every block's first chunk region: verify names it.
    let blocks = dir.join("blocks");
    let mut damaged = 0;
    for e in std::fs::read_dir(&blocks).unwrap() {
        let p = e.unwrap().path();
        let mut b = std::fs::read(&p).unwrap();
        b[40] ^= 0x55;
        std::fs::write(&p, b).unwrap();
        damaged += 1;
    }
    assert!(damaged > 0);
    let db = Db::open_read_only(&dir, opts()).unwrap();
    let errs = db.verify();
    assert!(!errs.is_empty());
    for e in errs {
        assert!(e.to_string().contains(".blk"), "{e}");
    }
}
