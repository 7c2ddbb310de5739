//! `Evaluator::aggregate_range` (each series' group found once for all
//! steps) against the per-step path it replaces for folding operators
//! (`range_eval` calling `aggregate::aggregate` at every step), on random
//! matrices: series with different label sets, `by` labels some series
//! lack, `without`, series appearing, pausing and disappearing across
//! steps, NaN, infinities, stale-marker bits and -0.0. The two must agree
//! on everything: which series, in which order, which labels, which steps
//! and every value's bits.

use super::{Evaluator, Mat, Ser};
use crate::db::{Sample, Series};
use crate::error::Result;
use crate::labels::Label;
use crate::matcher::Matcher;
use crate::promql::plan::AggOp;
use crate::promql::{aggregate, Metric, QueryOptions, Queryable};

/// The evaluator is only asked to aggregate what it is given.
struct Nothing;

impl Queryable for Nothing {
    fn select_series(&self, _: &[Matcher], _: i64, _: i64) -> Result<Vec<Series>> {
        Ok(Vec::new())
    }
}

const OPS: [AggOp; 8] = [
    AggOp::Sum,
    AggOp::Avg,
    AggOp::Min,
    AggOp::Max,
    AggOp::Count,
    AggOp::Group,
    AggOp::Stddev,
    AggOp::Stdvar,
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn value(r: &mut Rng) -> f64 {
    match r.below(20) {
        0 => f64::NAN,
        1 => f64::INFINITY,
        2 => f64::NEG_INFINITY,
        3 => f64::from_bits(crate::STALE_NAN_BITS),
        4 => -0.0,
        5 => 1e300,
        _ => (r.below(2000) as f64 - 1000.0) / 8.0,
    }
}

/// A label set: a name from two, then `a`, `b`, `c` each present or not,
/// with a value from a few.
fn metric(r: &mut Rng) -> Metric {
    let mut v = vec![Label {
        name: "__name__".into(),
        value: ["m1", "m2"][r.below(2) as usize].into(),
    }];
    for n in ["a", "b", "c"] {
        if r.below(3) > 0 {
            v.push(Label {
                name: n.into(),
                value: ["x", "y", "z"][r.below(3) as usize].into(),
            });
        }
    }
    Metric::from_vec(v)
}

/// Series with unique labels and points on some of the steps `start`,
/// `start + step`, ... `end` (and a few between steps, which no step
/// reads), in runs so that series appear and disappear.
fn matrix(r: &mut Rng, start: i64, end: i64, step: i64) -> Mat {
    let n = r.below(12) as usize;
    let mut out: Mat = Vec::new();
    while out.len() < n {
        let metric = metric(r);
        if out.iter().any(|s| s.metric == metric) {
            // Few distinct label sets exist; stop rather than loop long.
            if r.below(4) == 0 {
                break;
            }
            continue;
        }
        let mut points = Vec::new();
        let mut on = r.below(2) == 0;
        let mut t = start;
        while t <= end {
            if r.below(5) == 0 {
                on = !on;
            }
            if on {
                points.push(Sample::new(t, value(r)));
            }
            if r.below(10) == 0 {
                points.push(Sample::new(t + step / 2, value(r)));
            }
            t += step;
        }
        out.push(Ser { metric, points });
    }
    out
}

fn grouping(r: &mut Rng) -> (Vec<String>, bool) {
    let mut g: Vec<String> = ["a", "b", "c", "__name__", "absent"]
        .iter()
        .filter(|_| r.below(3) == 0)
        .map(|s| s.to_string())
        .collect();
    g.sort();
    (g, r.below(2) == 0)
}

fn bits(m: &Mat) -> Vec<(String, Vec<(i64, u64)>)> {
    m.iter()
        .map(|s| {
            (
                format!("{:?}", s.metric),
                s.points.iter().map(|p| (p.t, p.v.to_bits())).collect(),
            )
        })
        .collect()
}

#[test]
fn aggregate_range_equals_the_per_step_path() {
    let mut r = Rng(42);
    let opts = QueryOptions::default();
    for case in 0..3000 {
        let (start, step) = (1_000 * r.below(5) as i64, 1_000 + r.below(3) as i64 * 500);
        let end = start + step * r.below(40) as i64;
        let inner = matrix(&mut r, start, end, step);
        let (g, without) = grouping(&mut r);
        for op in OPS {
            let mut ev = Evaluator::new(&Nothing, start, end, step, &opts);
            let fast = ev.aggregate_range(op, &g, without, &inner).unwrap();
            let mut ev = Evaluator::new(&Nothing, start, end, step, &opts);
            let slow = ev
                .range_eval(std::slice::from_ref(&inner), |_, mut v| {
                    let vec = v.pop().unwrap_or_default();
                    aggregate::aggregate(op, aggregate::Param::None, &g, without, vec)
                })
                .unwrap();
            assert_eq!(
                bits(&fast),
                bits(&slow),
                "case {case}: {op:?} by {g:?} (without: {without}) over {inner:?}"
            );
        }
    }
}

#[test]
fn aggregate_range_counts_points_against_the_limit() {
    let mut r = Rng(7);
    let inner = matrix(&mut r, 0, 100_000, 1_000);
    let points: usize = inner.iter().map(|s| s.points.len()).sum();
    assert!(points > 10, "the case needs points");
    let opts = QueryOptions {
        max_points: 3,
        ..QueryOptions::default()
    };
    let mut ev = Evaluator::new(&Nothing, 0, 100_000, 1_000, &opts);
    let err = ev
        .aggregate_range(AggOp::Sum, &["a".to_string()], false, &inner)
        .unwrap_err();
    assert!(err.to_string().contains("too many samples"), "{err}");
}
