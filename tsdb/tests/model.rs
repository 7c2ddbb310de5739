//! The whole store against a BTreeMap model: random batches (in and out of
//! order, duplicates, conflicting values, NaN), random flushes and reopens;
//! every select must give exactly what the model holds.

use std::collections::BTreeMap;

use minetsdb::{Db, Labels, Matcher, Options, Sample};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<(usize, i64, u64)>),
    /// A bulk load of these batches, then its commit (or its drop).
    Bulk(Vec<Vec<(usize, i64, u64)>>, bool),
    Flush,
    Compact,
    Reopen,
    ReopenReadOnly,
}

fn value_bits() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => (0u32..6).prop_map(|i| f64::from(i).to_bits()),
        1 => Just(f64::NAN.to_bits()),
        1 => Just(0x7ff8_0000_dead_beef),
        1 => Just((-0.0f64).to_bits()),
        1 => any::<u64>(),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => batch().prop_map(Op::Append),
        3 => (proptest::collection::vec(batch(), 1..5), any::<bool>()).prop_map(|(b, c)| Op::Bulk(b, c)),
        1 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => Just(Op::Reopen),
        1 => Just(Op::ReopenReadOnly),
    ]
}

fn batch() -> impl Strategy<Value = Vec<(usize, i64, u64)>> {
    proptest::collection::vec(
        (0usize..5, (0i64..2_000).prop_map(|t| t * 100), value_bits()),
        0..40,
    )
}

fn opts() -> Options {
    let mut o = Options::default();
    // Small spans and chunks so that cuts, multi-chunk series and
    // out-of-order blocks all happen within a few operations.
    o.block_span_ms = 20_000;
    o.out_of_order_grace_ms = 5_000;
    o.max_chunk_samples = 7;
    o.max_head_samples = 150;
    o.wal_segment_bytes = 4096;
    // Levels of 3 and 6 blocks: bulk loads write merged windows directly.
    o.compaction_spans_ms = vec![60_000, 120_000];
    o
}

fn labels(i: usize) -> Labels {
    Labels::new("m", &[("s", &i.to_string())]).unwrap()
}

type Model = BTreeMap<(usize, i64), u64>;

/// Applies a batch to the model: (added, duplicates, conflicts).
fn apply(model: &mut Model, batch: &[(usize, i64, u64)]) -> (usize, usize, usize) {
    let (mut added, mut dups, mut conflicts) = (0, 0, 0);
    for &(s, t, v) in batch {
        match model.get(&(s, t)) {
            None => {
                model.insert((s, t), v);
                added += 1;
            }
            Some(&old) if old == v => dups += 1,
            Some(_) => conflicts += 1,
        }
    }
    (added, dups, conflicts)
}

fn check(db: &Db, model: &Model, lo: i64, hi: i64) -> Result<(), TestCaseError> {
    for s in 0..5 {
        let want: Vec<Sample> = model
            .range((s, lo)..=(s, hi))
            .map(|(&(_, t), &b)| Sample::new(t, f64::from_bits(b)))
            .collect();
        let got: Vec<Sample> = db
            .select(&[Matcher::equal("s", &s.to_string())], lo..=hi)
            .unwrap()
            .map(|r| r.unwrap())
            .flat_map(|ser| ser.samples)
            .collect();
        prop_assert_eq!(got, want, "series {} range {}..={}", s, lo, hi);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn store_matches_model(ops in proptest::collection::vec(op(), 1..25), lo in 0i64..100_000, len in 0i64..150_000) {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(dir.path(), opts()).unwrap();
        let mut model = Model::new();
        for op in ops {
            match op {
                Op::Append(batch) => {
                    let b: Vec<(Labels, Sample)> = batch
                        .iter()
                        .map(|&(s, t, v)| (labels(s), Sample::new(t, f64::from_bits(v))))
                        .collect();
                    let want = apply(&mut model, &batch);
                    let rep = db.append_labeled(&b).unwrap();
                    prop_assert_eq!((rep.appended, rep.duplicates, rep.conflicts), want);
                }
                Op::Bulk(batches, commit) => {
                    let mut load = db.bulk_load().unwrap();
                    for batch in &batches {
                        let want = apply(&mut model, batch);
                        let refs: Vec<_> = batch
                            .iter()
                            .map(|&(s, t, v)| (db.series_ref(&labels(s)).unwrap(), Sample::new(t, f64::from_bits(v))))
                            .collect();
                        let rep = load.append(&refs).unwrap();
                        prop_assert_eq!((rep.appended, rep.duplicates, rep.conflicts), want);
                    }
                    if commit {
                        load.commit().unwrap();
                    } else {
                        drop(load);
                    }
                }
                Op::Flush => db.flush().unwrap(),
                Op::Compact => {
                    db.compact().unwrap();
                }
                Op::Reopen => {
                    drop(db);
                    db = Db::open(dir.path(), opts()).unwrap();
                    prop_assert!(db.open_report().damage.is_empty(), "{:?}", db.open_report().damage);
                }
                Op::ReopenReadOnly => {
                    let ro = Db::open_read_only(dir.path(), opts()).unwrap();
                    check(&ro, &model, i64::MIN, i64::MAX)?;
                }
            }
        }
        check(&db, &model, i64::MIN, i64::MAX)?;
        check(&db, &model, lo, lo + len)?;
        prop_assert!(db.verify().is_empty());
        let ro = Db::open_read_only(dir.path(), opts()).unwrap();
        check(&ro, &model, lo, lo + len)?;
    }
}
