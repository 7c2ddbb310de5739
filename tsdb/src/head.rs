//! The head: samples not yet in a block, in memory, per series in time
//! order. Every sample here is also in the WAL, so the head is rebuilt by
//! replay after a crash.
//!
//! Each series keeps an open tail of raw samples and, behind it, sealed
//! chunks compressed with the block codecs (about 2–4 bytes a sample on
//! rig data instead of 16). Total size is bounded by
//! `Options::max_head_samples`, which forces a cut.

use crate::codec::{
    decode_timestamps, decode_values, encode_timestamps, encode_values, ValueCodec,
};
use crate::db::Sample;
use crate::registry::SeriesId;

/// Samples per sealed head chunk. Small enough that an out-of-order insert
/// (decode, insert, re-encode) stays cheap, large enough to compress well.
const SEAL_AT: usize = 240;

/// Plain columns of samples, as cut from the head or read for re-logging.
#[derive(Debug, Default, Clone)]
pub(crate) struct Columns {
    pub(crate) ts: Vec<i64>,
    pub(crate) vs: Vec<f64>,
}

#[derive(Debug)]
struct Sealed {
    first_t: i64,
    last_t: i64,
    n: usize,
    codec: ValueCodec,
    ts_bytes: Box<[u8]>,
    val_bytes: Box<[u8]>,
}

impl Sealed {
    fn encode(ts: &[i64], vs: &[f64]) -> Sealed {
        let mut tb = Vec::new();
        encode_timestamps(ts, &mut tb);
        let mut vb = Vec::new();
        let codec = encode_values(vs, &mut vb);
        Sealed {
            first_t: ts.first().copied().unwrap_or(0),
            last_t: ts.last().copied().unwrap_or(0),
            n: ts.len(),
            codec,
            ts_bytes: tb.into_boxed_slice(),
            val_bytes: vb.into_boxed_slice(),
        }
    }

    #[expect(
        clippy::expect_used,
        reason = "sealed chunks are encoded in memory by this module, never read from disk; \
                  a failure to decode them is a bug in the codecs, not bad input"
    )]
    fn decode_into(&self, out: &mut Columns) {
        decode_timestamps(&self.ts_bytes, self.n, &mut out.ts)
            .expect("head chunk timestamps decode");
        decode_values(self.codec, &self.val_bytes, self.n, &mut out.vs)
            .expect("head chunk values decode");
    }

    fn decode(&self) -> Columns {
        let mut c = Columns::default();
        self.decode_into(&mut c);
        c
    }
}

#[derive(Debug, Default)]
pub(crate) struct HeadSeries {
    /// Time-ordered, non-overlapping, all before `open`.
    sealed: Vec<Sealed>,
    open: Columns,
    len: usize,
}

/// What became of one appended sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Insert {
    Added,
    /// Same timestamp and same value bits already present: a no-op.
    Duplicate,
    /// Same timestamp, different value: rejected; carries the stored value.
    Conflict(f64),
}

/// Inserts `(t, v)` into time-ordered columns, or says what is there.
pub(crate) fn insert_sorted(ts: &mut Vec<i64>, vs: &mut Vec<f64>, t: i64, v: f64) -> Insert {
    match ts.binary_search(&t) {
        Ok(p) => {
            let old = vs[p];
            if old.to_bits() == v.to_bits() {
                Insert::Duplicate
            } else {
                Insert::Conflict(old)
            }
        }
        Err(p) => {
            ts.insert(p, t);
            vs.insert(p, v);
            Insert::Added
        }
    }
}

impl HeadSeries {
    fn first_t(&self) -> Option<i64> {
        self.sealed
            .first()
            .map(|s| s.first_t)
            .or_else(|| self.open.ts.first().copied())
    }

    fn last_t(&self) -> Option<i64> {
        self.open
            .ts
            .last()
            .copied()
            .or_else(|| self.sealed.last().map(|s| s.last_t))
    }

    fn insert(&mut self, t: i64, v: f64) -> Insert {
        let sealed_end = self.sealed.last().map(|s| s.last_t);
        let res = if sealed_end.is_none_or(|e| t > e) {
            if self.open.ts.last().is_none_or(|&l| t > l) {
                self.open.ts.push(t);
                self.open.vs.push(v);
                Insert::Added
            } else {
                insert_sorted(&mut self.open.ts, &mut self.open.vs, t, v)
            }
        } else {
            // Out of order into sealed history: the chunk whose range ends
            // at or after t takes it (a gap before a chunk joins that chunk).
            let i = self.sealed.partition_point(|s| s.last_t < t);
            let Some(chunk) = self.sealed.get(i) else {
                return Insert::Added; // unreachable: t <= last sealed last_t
            };
            let mut c = chunk.decode();
            let r = insert_sorted(&mut c.ts, &mut c.vs, t, v);
            if r == Insert::Added {
                if c.ts.len() >= 2 * SEAL_AT {
                    let mid = c.ts.len() / 2;
                    let a = Sealed::encode(&c.ts[..mid], &c.vs[..mid]);
                    let b = Sealed::encode(&c.ts[mid..], &c.vs[mid..]);
                    self.sealed.splice(i..=i, [a, b]);
                } else {
                    self.sealed[i] = Sealed::encode(&c.ts, &c.vs);
                }
            }
            r
        };
        if res == Insert::Added {
            self.len += 1;
            if self.open.ts.len() >= SEAL_AT {
                let s = Sealed::encode(&self.open.ts, &self.open.vs);
                self.open.ts.clear();
                self.open.vs.clear();
                self.sealed.push(s);
            }
        }
        res
    }

    fn get(&self, t: i64) -> Option<f64> {
        if let Ok(p) = self.open.ts.binary_search(&t) {
            return self.open.vs.get(p).copied();
        }
        let i = self.sealed.partition_point(|s| s.last_t < t);
        let s = self.sealed.get(i).filter(|s| s.first_t <= t)?;
        let c = s.decode();
        c.ts.binary_search(&t)
            .ok()
            .and_then(|p| c.vs.get(p).copied())
    }

    fn range(&self, lo: i64, hi: i64, out: &mut Vec<Sample>) {
        let mut c = Columns::default();
        for s in self
            .sealed
            .iter()
            .filter(|s| s.last_t >= lo && s.first_t <= hi)
        {
            c.ts.clear();
            c.vs.clear();
            s.decode_into(&mut c);
            push_range(&c, lo, hi, out);
        }
        push_range(&self.open, lo, hi, out);
    }

    fn columns(&self) -> Columns {
        let mut c = Columns::default();
        for s in &self.sealed {
            s.decode_into(&mut c);
        }
        c.ts.extend_from_slice(&self.open.ts);
        c.vs.extend_from_slice(&self.open.vs);
        c
    }

    /// Removes samples with `t < before`, returning them.
    fn take_before(&mut self, before: i64) -> Columns {
        let mut taken = Columns::default();
        let whole = self.sealed.partition_point(|s| s.last_t < before);
        for s in self.sealed.drain(..whole) {
            s.decode_into(&mut taken);
        }
        // A sealed chunk straddling `before` is split; the rest re-sealed.
        if let Some(s) = self.sealed.first().filter(|s| s.first_t < before) {
            let c = s.decode();
            let k = c.ts.partition_point(|&t| t < before);
            taken.ts.extend_from_slice(&c.ts[..k]);
            taken.vs.extend_from_slice(&c.vs[..k]);
            self.sealed[0] = Sealed::encode(&c.ts[k..], &c.vs[k..]);
        }
        if self.sealed.is_empty() {
            let k = self.open.ts.partition_point(|&t| t < before);
            taken.ts.extend(self.open.ts.drain(..k));
            taken.vs.extend(self.open.vs.drain(..k));
        }
        self.len -= taken.ts.len();
        taken
    }

    fn heap_bytes(&self) -> usize {
        self.sealed
            .iter()
            .map(|s| s.ts_bytes.len() + s.val_bytes.len() + std::mem::size_of::<Sealed>())
            .sum::<usize>()
            + self.open.ts.capacity() * 16
    }
}

fn push_range(c: &Columns, lo: i64, hi: i64, out: &mut Vec<Sample>) {
    let a = c.ts.partition_point(|&t| t < lo);
    let z = c.ts.partition_point(|&t| t <= hi);
    if let (Some(ts), Some(vs)) = (c.ts.get(a..z), c.vs.get(a..z)) {
        out.extend(ts.iter().zip(vs).map(|(&t, &v)| Sample { t, v }));
    }
}

#[derive(Debug, Default)]
pub(crate) struct Head {
    series: Vec<HeadSeries>,
    n_samples: usize,
    max_t: Option<i64>,
}

impl Head {
    pub(crate) fn n_samples(&self) -> usize {
        self.n_samples
    }

    pub(crate) fn max_t(&self) -> Option<i64> {
        self.max_t
    }

    /// Smallest timestamp in the head.
    pub(crate) fn min_t(&self) -> Option<i64> {
        self.series.iter().filter_map(HeadSeries::first_t).min()
    }

    /// Bytes of memory the head's samples take (for stats).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.series.iter().map(HeadSeries::heap_bytes).sum()
    }

    /// Looks up the value stored at `t`, if any.
    pub(crate) fn get(&self, id: SeriesId, t: i64) -> Option<f64> {
        self.series.get(id as usize)?.get(t)
    }

    /// Samples of series `id` with `lo <= t <= hi`, in time order.
    pub(crate) fn range(&self, id: SeriesId, lo: i64, hi: i64) -> Vec<Sample> {
        let mut out = Vec::new();
        if let Some(s) = self.series.get(id as usize) {
            s.range(lo, hi, &mut out);
        }
        out
    }

    pub(crate) fn insert(&mut self, id: SeriesId, t: i64, v: f64) -> Insert {
        let i = id as usize;
        if self.series.len() <= i {
            self.series.resize_with(i + 1, HeadSeries::default);
        }
        let r = self.series[i].insert(t, v);
        if r == Insert::Added {
            self.n_samples += 1;
            self.max_t = Some(self.max_t.map_or(t, |m| m.max(t)));
        }
        r
    }

    /// Removes and returns every sample with `t < before`, per series id
    /// (ascending), for writing to blocks.
    pub(crate) fn take_before(&mut self, before: i64) -> Vec<(SeriesId, Columns)> {
        let mut out = Vec::new();
        for (i, s) in self.series.iter_mut().enumerate() {
            if s.first_t().is_none_or(|f| f >= before) {
                continue;
            }
            let taken = s.take_before(before);
            self.n_samples -= taken.ts.len();
            out.push((i as SeriesId, taken));
        }
        self.max_t = self.series.iter().filter_map(HeadSeries::last_t).max();
        out
    }

    /// Every sample, per series id ascending, decoded (for re-logging into
    /// a fresh WAL segment after a cut).
    pub(crate) fn all_columns(&self) -> impl Iterator<Item = (SeriesId, Columns)> + '_ {
        self.series
            .iter()
            .enumerate()
            .filter(|(_, s)| s.len > 0)
            .map(|(i, s)| (i as SeriesId, s.columns()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn insert_orders_and_dedupes() {
        let mut h = Head::default();
        assert_eq!(h.insert(3, 10, 1.0), Insert::Added);
        assert_eq!(h.insert(3, 5, 2.0), Insert::Added);
        assert_eq!(h.insert(3, 10, 1.0), Insert::Duplicate);
        assert_eq!(h.insert(3, 10, 9.0), Insert::Conflict(1.0));
        assert_eq!(
            h.range(3, i64::MIN, i64::MAX),
            vec![Sample::new(5, 2.0), Sample::new(10, 1.0)]
        );
        assert_eq!(h.n_samples(), 2);
        let taken = h.take_before(10);
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].1.ts, vec![5]);
        assert_eq!(h.n_samples(), 1);
        assert_eq!(h.min_t(), Some(10));
    }

    #[test]
    fn sealed_chunks_compress() {
        let mut h = Head::default();
        for i in 0..10 * SEAL_AT as i64 {
            h.insert(
                0,
                1_700_000_000_000 + i * 60_000 + i % 3,
                60.0 + (i % 4) as f64,
            );
        }
        let per_sample = h.heap_bytes() as f64 / h.n_samples() as f64;
        assert!(per_sample < 4.0, "{per_sample} bytes/sample");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        /// The head against a BTreeMap: inserts in any order (into open and
        /// sealed parts), lookups, ranges and cuts agree.
        #[test]
        fn matches_model(ops in proptest::collection::vec((0i64..3000, 0u8..4, any::<bool>()), 1..1500),
                         cut in 0i64..3000, lo in 0i64..3000, hi in 0i64..3000) {
            let mut h = Head::default();
            let mut m: BTreeMap<i64, u64> = BTreeMap::new();
            for &(t, v, _) in &ops {
                let v = f64::from(v) * 0.5;
                let want = match m.get(&t) {
                    None => { m.insert(t, v.to_bits()); Insert::Added }
                    Some(&b) if b == v.to_bits() => Insert::Duplicate,
                    Some(&b) => Insert::Conflict(f64::from_bits(b)),
                };
                prop_assert_eq!(h.insert(7, t, v), want);
            }
            prop_assert_eq!(h.n_samples(), m.len());
            for &(t, _, probe) in ops.iter().take(50) {
                if probe {
                    prop_assert_eq!(h.get(7, t).map(f64::to_bits), m.get(&t).copied());
                }
            }
            let got = h.range(7, lo, hi);
            let want: Vec<Sample> = m.range(lo..=hi.max(lo)).filter(|(t, _)| **t <= hi).map(|(&t, &b)| Sample::new(t, f64::from_bits(b))).collect();
            prop_assert_eq!(got, want);
            let taken = h.take_before(cut);
            let n_taken = taken.first().map_or(0, |(_, c)| c.ts.len());
            prop_assert_eq!(n_taken, m.range(..cut).count());
            let rest: Vec<i64> = h.all_columns().flat_map(|(_, c)| c.ts).collect();
            let want_rest: Vec<i64> = m.range(cut..).map(|(t, _)| *t).collect();
            prop_assert_eq!(rest, want_rest);
        }
    }
}
