//! Downsampling: aggregate buckets that stand for the raw samples of old
//! time ranges.
//!
//! A bucket of resolution `res` holds, for one series, the samples with
//! timestamps in `[start, start + res)` (`start` a multiple of `res`) as a
//! [`ChunkSummary`]: count, first and last sample (time and value), min,
//! max, sum and counter increase. Those are exactly what `WindowFold`
//! needs for `count/sum/avg/min/max_over_time`, `rate`, `increase` and
//! `delta`, so a window made of whole buckets gives the answer the raw
//! samples gave (see `FORMAT.md`, "Downsampling", for the one exception,
//! the floating-point order of sums across buckets).
//!
//! Stale markers are not samples to range functions, so buckets leave them
//! out; a bucket holds at least one sample.
//!
//! Encoding (in tier blocks): the bucket times of a series chunk form one
//! "bucket column" in the timestamp section, shared by every series with
//! the same times (scraped together); the six values per bucket form one
//! chunk in the value section. Layouts are in `FORMAT.md`.

use crate::chunk::ChunkSummary;
use crate::codec::varint::{put_uvarint, Cursor};
use crate::codec::ValueCodec;
use crate::codec::{
    decode_timestamps, decode_values, encode_timestamps, encode_values, CodecError,
};

/// One downsampled bucket of one series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bucket {
    /// Start of the bucket's interval, a multiple of the resolution.
    pub(crate) start: i64,
    /// The samples it stands for.
    pub(crate) s: ChunkSummary,
    /// Σ(value before each drop): what `increase` adds for counter resets.
    /// Kept apart from `s.increase` because a NaN first or last value makes
    /// that NaN while the resets are still known (`rate` over a window
    /// whose ends are numbers needs them). NaN (which a real sum of drops
    /// never is) when not kept: gauges drop them to save space, and
    /// `rate`/`increase` over such buckets fail.
    pub(crate) resets: f64,
}

/// The bucket's view as one sample: its last value at its last time (what
/// a plain selector over downsampled data sees).
impl Bucket {
    pub(crate) fn view(&self) -> crate::Sample {
        crate::Sample {
            t: self.s.last_t,
            v: self.s.last,
        }
    }
}

/// Buckets of resolution `res` of time-ordered samples (stale markers left
/// out).
pub(crate) fn bucketize(ts: &[i64], vs: &[f64], res: i64) -> Vec<Bucket> {
    let mut out = Vec::new();
    let mut i = 0;
    let n = ts.len().min(vs.len());
    let (mut bt, mut bv) = (Vec::new(), Vec::new());
    while i < n {
        let start = ts[i].div_euclid(res).saturating_mul(res);
        let end = start.saturating_add(res);
        bt.clear();
        bv.clear();
        while i < n && ts[i] < end {
            if !crate::is_stale_nan(vs[i]) {
                bt.push(ts[i]);
                bv.push(vs[i]);
            }
            i += 1;
        }
        if !bt.is_empty() {
            let mut s = ChunkSummary::compute(&bt, &bv);
            if let Some(exact) = crate::codec::decimal::exact_sum(&bv) {
                s.sum = exact;
            }
            out.push(Bucket {
                start,
                s,
                resets: resets(&bv),
            });
        }
    }
    out
}

/// Σ(value before each drop), in the order `ChunkSummary::compute` adds.
fn resets(vs: &[f64]) -> f64 {
    let mut r = 0.0;
    for w in vs.windows(2) {
        if w[1] < w[0] {
            r += w[0];
        }
    }
    r
}

/// Joins two buckets of consecutive, non-overlapping sample runs (`a`
/// before `b`) into the bucket of both, starting at `start`.
pub(crate) fn join(start: i64, a: &Bucket, b: &Bucket) -> Bucket {
    let seam = if b.s.first < a.s.last { a.s.last } else { 0.0 };
    let resets = a.resets + b.resets + seam;
    let (a, b) = (&a.s, &b.s);
    let min = if b.min < a.min || a.min.is_nan() {
        b.min
    } else {
        a.min
    };
    let max = if b.max > a.max || a.max.is_nan() {
        b.max
    } else {
        a.max
    };
    // increase = last - first + Σ(value before each drop): the drops inside
    // each run, plus one at the seam when b starts below a's end.
    Bucket {
        start,
        s: ChunkSummary {
            count: a.count.saturating_add(b.count),
            first_t: a.first_t,
            last_t: b.last_t,
            first: a.first,
            last: b.last,
            min,
            max,
            // Decimal sums stay exact decimals (and compact) when joined.
            sum: crate::codec::decimal::exact_sum(&[a.sum, b.sum]).unwrap_or(a.sum + b.sum),
            increase: b.last - a.first + resets,
        },
        resets,
    }
}

/// Buckets of a coarser resolution `res` (a multiple of theirs) from
/// time-ordered buckets.
pub(crate) fn coarsen(buckets: &[Bucket], res: i64) -> Vec<Bucket> {
    let mut out: Vec<Bucket> = Vec::new();
    for b in buckets {
        let start = b.start.div_euclid(res).saturating_mul(res);
        match out.last_mut() {
            Some(last) if last.start == start => *last = join(start, last, b),
            _ => out.push(Bucket { start, ..*b }),
        }
    }
    out
}

/// Summary of a run of buckets (non-empty).
pub(crate) fn summarize(buckets: &[Bucket]) -> Option<ChunkSummary> {
    let (first, rest) = buckets.split_first()?;
    Some(
        rest.iter()
            .fold(*first, |acc, b| join(acc.start, &acc, b))
            .s,
    )
}

/// Whether the buckets of a series named `metric` keep their resets: only
/// counters need them (`rate`, `increase`); a gauge's are noise that would
/// cost about a fifth of its bytes. The type comes from the metric's
/// metadata, or, without it, from Prometheus' naming of counters.
pub(crate) fn keeps_resets(metric: &str, md: Option<&crate::Metadata>) -> bool {
    use crate::MetricType as T;
    match md.map(|m| m.metric_type) {
        Some(T::Counter | T::Histogram | T::Summary) => true,
        Some(T::Gauge | T::Info | T::StateSet) => false,
        Some(T::Unknown) | None => ["_total", "_count", "_sum", "_bucket"]
            .iter()
            .any(|s| metric.ends_with(s)),
    }
}

/// Drops the resets of `buckets` (see [`keeps_resets`]).
pub(crate) fn forget_resets(buckets: &mut [Bucket]) {
    for b in buckets {
        b.resets = f64::NAN;
    }
}

/// The key of a bucket column: what series scraped together share.
pub(crate) type Times = Vec<(i64, i64, i64, u32)>;

/// The shared part of buckets: start, first_t, last_t and count of each.
pub(crate) fn times(buckets: &[Bucket]) -> Times {
    buckets
        .iter()
        .map(|b| (b.start, b.s.first_t, b.s.last_t, b.s.count))
        .collect()
}

/// Appends a bucket column: four length-prefixed delta columns (starts,
/// `first_t - start`, `last_t - first_t`, counts).
pub(crate) fn encode_times(t: &Times, out: &mut Vec<u8>) {
    let cols: [Vec<i64>; 4] = [
        t.iter().map(|x| x.0).collect(),
        t.iter().map(|x| x.1.wrapping_sub(x.0)).collect(),
        t.iter().map(|x| x.2.wrapping_sub(x.1)).collect(),
        t.iter().map(|x| i64::from(x.3)).collect(),
    ];
    let mut tmp = Vec::new();
    for c in &cols {
        tmp.clear();
        encode_timestamps(c, &mut tmp);
        put_uvarint(out, tmp.len() as u64);
        out.extend_from_slice(&tmp);
    }
}

/// Reads a bucket column of `n` buckets.
pub(crate) fn decode_times(data: &[u8], n: usize) -> Result<Times, CodecError> {
    crate::codec::check_count(n)?;
    let mut c = Cursor::new(data);
    let mut cols: [Vec<i64>; 4] = Default::default();
    for col in &mut cols {
        let len = c.uvarint().ok_or(CodecError::Invalid {
            what: "bucket column length",
            bit: (c.pos * 8) as u64,
        })?;
        let bytes =
            usize::try_from(len)
                .ok()
                .and_then(|l| c.bytes(l))
                .ok_or(CodecError::Invalid {
                    what: "bucket column length",
                    bit: (c.pos * 8) as u64,
                })?;
        decode_timestamps(bytes, n, col)?;
    }
    if !c.is_empty() {
        return Err(CodecError::Invalid {
            what: "trailing bytes after bucket column",
            bit: (c.pos * 8) as u64,
        });
    }
    let [starts, firsts, spans, counts] = cols;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (s, f, sp, k) = (starts[i], firsts[i], spans[i], counts[i]);
        let count = u32::try_from(k)
            .ok()
            .filter(|&k| k > 0)
            .ok_or(CodecError::Invalid {
                what: "bucket sample count",
                bit: 0,
            })?;
        let first_t = s.wrapping_add(f);
        out.push((s, first_t, first_t.wrapping_add(sp), count));
    }
    Ok(out)
}

/// Appends a bucket chunk: for first, last, min, max, sum and resets,
/// `codec u8`,
/// `len uvarint`, then the values encoded by that value codec.
pub(crate) fn encode_values6(buckets: &[Bucket], out: &mut Vec<u8>) {
    let fields: [fn(&Bucket) -> f64; 6] = [
        |b| b.s.first,
        |b| b.s.last,
        |b| b.s.min,
        |b| b.s.max,
        |b| b.s.sum,
        |b| b.resets,
    ];
    let mut vs = Vec::with_capacity(buckets.len());
    let mut tmp = Vec::new();
    for f in fields {
        vs.clear();
        vs.extend(buckets.iter().map(f));
        tmp.clear();
        let codec = encode_values(&vs, &mut tmp);
        out.push(codec as u8);
        put_uvarint(out, tmp.len() as u64);
        out.extend_from_slice(&tmp);
    }
}

/// The value columns of a bucket chunk a reader needs, in the chunk's
/// order: first, last, min, max, sum, resets. A range function reads only
/// some of them (`avg_over_time` the sums), and decoding the others would
/// cost it most of the time it spends on sub-summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fields(pub(crate) [bool; 6]);

impl Fields {
    /// Every column.
    pub(crate) const ALL: Fields = Fields([true; 6]);
}

/// Rebuilds buckets from their column and chunk.
pub(crate) fn decode_buckets(times: &Times, data: &[u8]) -> Result<Vec<Bucket>, CodecError> {
    decode_some_buckets(times, data, Fields::ALL)
}

/// [`decode_buckets`] decoding only the value columns in `fields`; the
/// others read as 0 in every bucket (and so does `s.increase` unless
/// first, last and resets are all decoded). Skipped columns are still
/// framed and their codec checked, so a malformed chunk fails the same
/// way; their bytes are covered by the chunk's crc, checked before.
pub(crate) fn decode_some_buckets(
    times: &Times,
    data: &[u8],
    fields: Fields,
) -> Result<Vec<Bucket>, CodecError> {
    let n = times.len();
    let mut c = Cursor::new(data);
    let mut cols: [Vec<f64>; 6] = Default::default();
    for (col, want) in cols.iter_mut().zip(fields.0) {
        let bad = |what, c: &Cursor<'_>| CodecError::Invalid {
            what,
            bit: (c.pos * 8) as u64,
        };
        let codec = c.u8().ok_or_else(|| bad("bucket value codec", &c))?;
        let codec = ValueCodec::try_from(codec)?;
        let len = c.uvarint().ok_or_else(|| bad("bucket value length", &c))?;
        let bytes = usize::try_from(len)
            .ok()
            .and_then(|l| c.bytes(l))
            .ok_or_else(|| bad("bucket value length", &c))?;
        if want {
            decode_values(codec, bytes, n, col)?;
        } else {
            col.resize(n, 0.0);
        }
    }
    if !c.is_empty() {
        return Err(CodecError::Invalid {
            what: "trailing bytes after bucket values",
            bit: (c.pos * 8) as u64,
        });
    }
    let [first, last, min, max, sum, resets] = cols;
    Ok((0..n)
        .map(|i| {
            let (start, first_t, last_t, count) = times[i];
            Bucket {
                start,
                s: ChunkSummary {
                    count,
                    first_t,
                    last_t,
                    first: first[i],
                    last: last[i],
                    min: min[i],
                    max: max[i],
                    sum: sum[i],
                    increase: last[i] - first[i] + resets[i],
                },
                resets: resets[i],
            }
        })
        .collect())
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail by panicking"
)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn raw(ts: &[i64], vs: &[f64]) -> ChunkSummary {
        ChunkSummary::compute(ts, vs)
    }

    #[test]
    fn buckets_split_on_multiples_and_skip_stale_markers() {
        let stale = f64::from_bits(crate::STALE_NAN_BITS);
        let ts = [0, 100, 299, 300, 650, 700];
        let vs = [1.0, 5.0, 2.0, stale, 3.0, 4.0];
        let b = bucketize(&ts, &vs, 300);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].start, 0);
        assert_eq!(b[0].s, raw(&ts[..3], &vs[..3]));
        assert_eq!(b[1].start, 600);
        assert_eq!(b[1].s, raw(&ts[4..], &vs[4..]));
        assert_eq!(b[1].view(), crate::Sample { t: 700, v: 4.0 });
    }

    #[test]
    fn join_matches_the_summary_of_the_whole_run() {
        // A counter reset at the seam and one inside the second run.
        let ts = [1, 2, 3, 4, 5, 6];
        let vs = [10.0, 15.0, 3.0, 7.0, 2.0, 9.0];
        let whole = raw(&ts, &vs);
        let part = |a: usize, b: usize| Bucket {
            start: 0,
            s: raw(&ts[a..b], &vs[a..b]),
            resets: resets(&vs[a..b]),
        };
        let j = join(0, &part(0, 2), &part(2, 6)).s;
        assert_eq!(j.increase, whole.increase);
        assert_eq!((j.min, j.max, j.count), (whole.min, whole.max, whole.count));
        assert_eq!((j.first_t, j.last_t), (1, 6));
    }

    proptest! {
        #[test]
        fn buckets_round_trip_and_coarsen_like_raw(
            steps in proptest::collection::vec((1i64..400_000, 0u32..40), 1..300),
            res_k in 1i64..4,
        ) {
            let mut t = 1_700_000_000_000i64;
            let (mut ts, mut vs) = (Vec::new(), Vec::new());
            for (dt, v) in steps {
                t += dt;
                ts.push(t);
                vs.push(f64::from(v));
            }
            let fine = bucketize(&ts, &vs, 300_000);
            let tm = times(&fine);
            let mut col = Vec::new();
            encode_times(&tm, &mut col);
            prop_assert_eq!(decode_times(&col, tm.len()).unwrap(), tm.clone());
            let mut ch = Vec::new();
            encode_values6(&fine, &mut ch);
            let back = decode_buckets(&tm, &ch).unwrap();
            prop_assert_eq!(&back, &fine);
            // Coarsened buckets equal buckets taken from the raw samples in
            // everything but the order of sums (integers here, so exact).
            let res = 300_000 * 12 * res_k;
            let coarse = coarsen(&fine, res);
            let direct = bucketize(&ts, &vs, res);
            prop_assert_eq!(coarse, direct);
            prop_assert_eq!(summarize(&fine).unwrap(), raw(&ts, &vs));
        }

        #[test]
        fn bucket_decoders_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200), n in 0usize..20) {
            let _ = decode_times(&data, n);
            let tm: Times = (0..n as i64).map(|i| (i, i, i, 1)).collect();
            let _ = decode_buckets(&tm, &data);
        }
    }
}
