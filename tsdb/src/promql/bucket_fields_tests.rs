//! `WindowFold::bucket_fields`: a range function folded over sub-summary
//! buckets decoded with only the columns it names must give the bits it
//! gives over fully decoded buckets, whatever raw samples surround them
//! and however many samples each bucket holds (one-sample buckets are
//! where a bucket's first value is its minimum and maximum).

use super::{Func, WindowFold};
use crate::db::Sample;
use crate::downsample::{self, Fields};

const FUNCS: [Func; 8] = [
    Func::CountOverTime,
    Func::SumOverTime,
    Func::AvgOverTime,
    Func::MinOverTime,
    Func::MaxOverTime,
    Func::Rate,
    Func::Increase,
    Func::Delta,
];

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Time-ordered finite samples, gaps from 1 ms to several buckets, values
/// a counter with resets or a noisy gauge.
fn samples(r: &mut Rng, res: i64) -> Vec<Sample> {
    let n = 1 + r.below(200) as usize;
    let counter = r.below(2) == 0;
    let (mut t, mut v) = (r.below(5000) as i64, 0.0f64);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        t += 1 + match r.below(4) {
            0 => r.below(3 * res as u64) as i64,
            _ => r.below(res as u64 / 4) as i64,
        };
        v = if counter {
            if r.below(15) == 0 {
                r.below(10) as f64
            } else {
                v + r.below(1000) as f64 / 8.0
            }
        } else {
            (r.below(100_000) as f64 - 50_000.0) / 100.0
        };
        out.push(Sample::new(t, v));
    }
    out
}

fn fold(raw_before: &[Sample], buckets: &[downsample::Bucket], raw_after: &[Sample]) -> WindowFold {
    let mut f = WindowFold::default();
    f.add_samples(raw_before);
    for b in buckets {
        f.add_bucket(b);
    }
    f.add_samples(raw_after);
    f
}

#[test]
fn folds_of_partly_decoded_buckets_equal_folds_of_whole_ones() {
    let mut r = Rng(3);
    let mut compared = 0;
    for case in 0..2000 {
        let res = [1_000, 7_000, 60_000][r.below(3) as usize];
        let pts = samples(&mut r, res);
        let ts: Vec<i64> = pts.iter().map(|p| p.t).collect();
        let vs: Vec<f64> = pts.iter().map(|p| p.v).collect();
        // Raw samples, then whole buckets, then raw samples, as a window
        // over a chunk with sub-summaries is folded.
        let cut_a = r.below(ts.len() as u64 + 1) as usize;
        let cut_b = cut_a + r.below((ts.len() - cut_a) as u64 + 1) as usize;
        let buckets = downsample::bucketize(&ts[cut_a..cut_b], &vs[cut_a..cut_b], res);
        let times = downsample::times(&buckets);
        let mut bytes = Vec::new();
        downsample::encode_values6(&buckets, &mut bytes);
        let all = downsample::decode_some_buckets(&times, &bytes, Fields::ALL).unwrap();
        assert_eq!(all, buckets);
        let (mint, maxt) = (ts[0] - r.below(5000) as i64, ts[ts.len() - 1]);
        let range = maxt - mint;
        for func in FUNCS {
            let some =
                downsample::decode_some_buckets(&times, &bytes, WindowFold::bucket_fields(func))
                    .unwrap();
            let want = fold(&pts[..cut_a], &all, &pts[cut_b..]);
            let got = fold(&pts[..cut_a], &some, &pts[cut_b..]);
            assert_eq!(
                got.finish(func, mint, maxt, range).map(f64::to_bits),
                want.finish(func, mint, maxt, range).map(f64::to_bits),
                "case {case}: {func:?} over {pts:?} cut at {cut_a}..{cut_b}"
            );
            assert_eq!(got.missing_resets, want.missing_resets);
            compared += 1;
        }
    }
    assert_eq!(compared, 2000 * FUNCS.len());
}

#[test]
fn skipped_columns_read_as_zero() {
    let ts = [0, 10, 20, 1_000];
    let vs = [5.0, 3.0, 4.0, 8.0];
    let buckets = downsample::bucketize(&ts, &vs, 1_000);
    let times = downsample::times(&buckets);
    let mut bytes = Vec::new();
    downsample::encode_values6(&buckets, &mut bytes);
    let sums = downsample::decode_some_buckets(
        &times,
        &bytes,
        Fields([false, false, false, false, true, false]),
    )
    .unwrap();
    assert_eq!(sums.len(), 2);
    assert_eq!(sums[0].s.sum, 12.0);
    assert_eq!(sums[0].s.count, 3);
    assert_eq!(
        (sums[0].s.first, sums[0].s.max, sums[0].resets),
        (0.0, 0.0, 0.0)
    );
    // A malformed chunk fails even where its column is skipped.
    let mut bad = bytes.clone();
    bad[0] = 0xff;
    assert!(downsample::decode_some_buckets(&times, &bad, Fields([false; 6])).is_err());
}
