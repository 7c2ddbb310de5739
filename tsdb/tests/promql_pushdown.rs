//! Range aggregates answered from chunk summaries must equal the same
//! aggregates computed from every sample. The same queries run through the
//! `Db` (summaries used where a chunk lies wholly inside a window) and
//! through a plain `Queryable` wrapper that only selects samples.

use minetsdb::promql::{query_range, Matrix, QueryOptions, Queryable};
use minetsdb::{Db, Labels, Matcher, Options, Sample, Series};

const MIN: i64 = 60_000;

/// Hides the database behind the trait: no summaries, samples only.
struct SamplesOnly<'a>(&'a Db);

impl Queryable for SamplesOnly<'_> {
    fn select_series(&self, m: &[Matcher], mint: i64, maxt: i64) -> minetsdb::Result<Vec<Series>> {
        Queryable::select_series(self.0, m, mint, maxt)
    }
}

fn opts(merged: bool) -> Options {
    let mut o = Options::default();
    // Ten-minute blocks and chunks: many chunks lie wholly inside windows.
    o.block_span_ms = 10 * MIN;
    o.out_of_order_grace_ms = MIN;
    o.compaction_spans_ms = if merged { vec![30 * MIN] } else { vec![] };
    // Merged blocks carry 2-minute sub-summaries beside each chunk.
    o.sub_summary_ms = 2 * MIN;
    o
}

fn db_with_data(dir: &std::path::Path) -> Db {
    let o = opts(false);
    let db = Db::open(dir, o).unwrap();
    let mut x: u64 = 7;
    let mut rnd = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) as f64 / (1u64 << 31) as f64
    };
    let series = |name: &str, g: &str| Labels::new(name, &[("gpu", g)]).unwrap();
    let mut batch = Vec::new();
    let (mut c0, mut c1) = (0.0, 100.0);
    for i in 0..600i64 {
        let t = i * 15_000 + (i % 3);
        c0 += (rnd() * 50.0).round();
        if i % 97 == 50 {
            c1 = 0.0; // reset
        } else {
            c1 += 1.5;
        }
        batch.push((series("energy_total", "0"), Sample::new(t, c0)));
        batch.push((series("energy_total", "1"), Sample::new(t, c1)));
        batch.push((
            series("power", "0"),
            Sample::new(t, 200.0 + (rnd() * 1000.0).round() / 100.0),
        ));
        let v = if i % 61 == 7 {
            f64::NAN
        } else {
            60.0 + (i % 9) as f64
        };
        batch.push((series("power", "1"), Sample::new(t, v)));
        // A stale marker ends this series for a while.
        let stale = f64::from_bits(0x7ff0_0000_0000_0002);
        batch.push((
            series("temp", "0"),
            Sample::new(t, if i == 300 { stale } else { (i % 7) as f64 }),
        ));
        if batch.len() > 200 {
            db.append_labeled(&batch).unwrap();
            batch.clear();
        }
    }
    db.append_labeled(&batch).unwrap();
    // A backfill into already-cut windows: its block overlaps others.
    let late: Vec<_> = (0..40i64)
        .map(|i| {
            (
                series("power", "0"),
                Sample::new(i * 15_000 + 7_000, 1.0 + i as f64),
            )
        })
        .collect();
    db.append_labeled(&late).unwrap();
    db.flush().unwrap();
    db
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

fn same(a: &Matrix, b: &Matrix) -> Result<(), String> {
    if a.len() != b.len() {
        return Err(format!("{} series vs {}", a.len(), b.len()));
    }
    for (x, y) in a.iter().zip(b) {
        if x.metric.to_string() != y.metric.to_string() || x.samples.len() != y.samples.len() {
            return Err(format!(
                "{} ({}) vs {} ({})",
                x.metric,
                x.samples.len(),
                y.metric,
                y.samples.len()
            ));
        }
        for (p, q) in x.samples.iter().zip(&y.samples) {
            if p.t != q.t || !close(p.v, q.v) {
                return Err(format!(
                    "{}: at {} {} vs {} at {}",
                    x.metric, p.t, p.v, q.v, q.t
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn summaries_give_the_answers_of_samples() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_data(dir.path());
    assert!(db.stats().blocks >= 10);
    compare(&db);
}

#[test]
fn sub_summaries_of_merged_blocks_give_the_answers_of_samples() {
    let dir = tempfile::tempdir().unwrap();
    drop(db_with_data(dir.path()));
    let db = Db::open(dir.path(), opts(true)).unwrap();
    db.compact().unwrap();
    assert!(
        db.stats().blocks_per_level.contains_key(&1),
        "{:?}",
        db.stats()
    );
    compare(&db);
}

fn compare(db: &Db) {
    let opts = QueryOptions::default();
    let mut compared = 0;
    for f in [
        "avg_over_time",
        "min_over_time",
        "max_over_time",
        "sum_over_time",
        "count_over_time",
        "rate",
        "increase",
        "delta",
    ] {
        for m in ["energy_total", "power", "temp"] {
            for r in ["5m", "10m", "25m", "1h", "2h"] {
                let expr = format!("{f}({m}[{r}])");
                for (start, end, step) in [
                    (0, 150 * MIN, 10 * MIN),
                    (3 * MIN, 149 * MIN, 7 * MIN),
                    (60 * MIN, 60 * MIN, MIN),
                    (30 * MIN, 150 * MIN, 30 * MIN + 1),
                    // Steps shorter than a sub-summary: successive windows
                    // start in the same bucket.
                    (10 * MIN, 140 * MIN, MIN),
                ] {
                    let a = query_range(db, &expr, start, end, step, &opts).unwrap();
                    let b = query_range(&SamplesOnly(db), &expr, start, end, step, &opts).unwrap();
                    if let Err(e) = same(&a, &b) {
                        panic!("{expr} [{start}..{end} step {step}]: {e}");
                    }
                    compared += 1;
                }
            }
        }
    }
    assert_eq!(compared, 8 * 3 * 5 * 5);
}
