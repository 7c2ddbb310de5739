//! Chunk summaries: what a range aggregate needs from a chunk without
//! decoding it.
//!
//! Stored beside every chunk in a block's index. Semantics follow
//! Prometheus so that pushed-down aggregates give the same answers:
//! `min`/`max` skip NaN unless every value is NaN (`min_over_time`), `sum`
//! is the plain left-to-right f64 sum, and `increase` is
//! `last - first + Σ(value before each reset)` as in `extrapolatedRate`.

use crate::codec::varint::Cursor;

/// Aggregates of one chunk's samples.
#[derive(Debug, Clone, Copy)]
pub struct ChunkSummary {
    /// Number of samples.
    pub count: u32,
    /// Timestamp of the first sample (ms).
    pub first_t: i64,
    /// Timestamp of the last sample (ms).
    pub last_t: i64,
    /// First value.
    pub first: f64,
    /// Last value.
    pub last: f64,
    /// Smallest value (NaN only if all are NaN).
    pub min: f64,
    /// Largest value (NaN only if all are NaN).
    pub max: f64,
    /// Sum of values.
    pub sum: f64,
    /// Counter increase across the chunk, resets handled.
    pub increase: f64,
}

impl PartialEq for ChunkSummary {
    fn eq(&self, o: &Self) -> bool {
        self.count == o.count
            && self.first_t == o.first_t
            && self.last_t == o.last_t
            && self.first.to_bits() == o.first.to_bits()
            && self.last.to_bits() == o.last.to_bits()
            && self.min.to_bits() == o.min.to_bits()
            && self.max.to_bits() == o.max.to_bits()
            && self.sum.to_bits() == o.sum.to_bits()
            && self.increase.to_bits() == o.increase.to_bits()
    }
}

impl ChunkSummary {
    /// Summarises samples given as parallel columns. `ts` must be non-empty
    /// and as long as `vs`.
    pub(crate) fn compute(ts: &[i64], vs: &[f64]) -> ChunkSummary {
        let first = vs.first().copied().unwrap_or(f64::NAN);
        let last = vs.last().copied().unwrap_or(f64::NAN);
        let mut min = first;
        let mut max = first;
        let mut sum = 0.0;
        let mut resets = 0.0;
        let mut prev = first;
        for &v in vs {
            if v < min || min.is_nan() {
                min = v;
            }
            if v > max || max.is_nan() {
                max = v;
            }
            sum += v;
            if v < prev {
                resets += prev;
            }
            prev = v;
        }
        ChunkSummary {
            count: vs.len() as u32,
            first_t: ts.first().copied().unwrap_or(0),
            last_t: ts.last().copied().unwrap_or(0),
            first,
            last,
            min,
            max,
            sum,
            increase: last - first + resets,
        }
    }

    /// Appends the value fields (count and times live in the timestamp
    /// column's entry). A mask byte says which of last/min/max/increase are
    /// stored; the others equal what can be derived from first/last, which
    /// for counters and flat series is most of them.
    pub(crate) fn encode_values(&self, out: &mut Vec<u8>) {
        let mut mask = 0u8;
        let dmin = if self.first <= self.last {
            self.first
        } else {
            self.last
        };
        let dmax = if self.first >= self.last {
            self.first
        } else {
            self.last
        };
        let dinc = self.last - self.first;
        let fields = [
            (self.last, self.first),
            (self.min, dmin),
            (self.max, dmax),
            (self.increase, dinc),
        ];
        for (i, (v, d)) in fields.iter().enumerate() {
            if v.to_bits() != d.to_bits() {
                mask |= 1 << i;
            }
        }
        out.push(mask);
        out.extend_from_slice(&self.first.to_bits().to_le_bytes());
        out.extend_from_slice(&self.sum.to_bits().to_le_bytes());
        for (i, (v, _)) in fields.iter().enumerate() {
            if mask & (1 << i) != 0 {
                out.extend_from_slice(&v.to_bits().to_le_bytes());
            }
        }
    }

    /// Reads what `encode_values` wrote; `None` if the bytes run out or the
    /// mask has unknown bits.
    pub(crate) fn decode_values(
        c: &mut Cursor<'_>,
        count: u32,
        first_t: i64,
        last_t: i64,
    ) -> Option<ChunkSummary> {
        let mask = c.u8()?;
        if mask & !0x0f != 0 {
            return None;
        }
        let first = c.f64_le()?;
        let sum = c.f64_le()?;
        let mut get = |bit: u8, d: f64| -> Option<f64> {
            if mask & (1 << bit) != 0 {
                c.f64_le()
            } else {
                Some(d)
            }
        };
        let last = get(0, first)?;
        let dmin = if first <= last { first } else { last };
        let dmax = if first >= last { first } else { last };
        let min = get(1, dmin)?;
        let max = get(2, dmax)?;
        let increase = get(3, last - first)?;
        Some(ChunkSummary {
            count,
            first_t,
            last_t,
            first,
            last,
            min,
            max,
            sum,
            increase,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn counter_with_reset() {
        let ts = [1, 2, 3, 4, 5];
        let vs = [10.0, 15.0, 3.0, 7.0, 9.0];
        let s = ChunkSummary::compute(&ts, &vs);
        // 15 before the reset: 9 - 10 + 15 = 14 = 5 + 3 + 4 + 2.
        assert_eq!(s.increase, 14.0);
        assert_eq!((s.min, s.max, s.sum), (3.0, 15.0, 44.0));
    }

    #[test]
    fn nan_is_skipped_by_min_max() {
        let s = ChunkSummary::compute(&[1, 2, 3], &[f64::NAN, 2.0, 1.0]);
        assert_eq!((s.min, s.max), (1.0, 2.0));
        let s = ChunkSummary::compute(&[1], &[f64::NAN]);
        assert!(s.min.is_nan() && s.max.is_nan());
    }

    proptest! {
        #[test]
        fn summary_round_trips(vs in proptest::collection::vec(
            prop_oneof![any::<u64>().prop_map(f64::from_bits), (0u32..1000).prop_map(f64::from)], 1..50)) {
            let ts: Vec<i64> = (0..vs.len() as i64).collect();
            let s = ChunkSummary::compute(&ts, &vs);
            let mut b = Vec::new();
            s.encode_values(&mut b);
            let mut c = Cursor::new(&b);
            let d = ChunkSummary::decode_values(&mut c, s.count, s.first_t, s.last_t).unwrap();
            prop_assert_eq!(d, s);
            prop_assert!(c.is_empty());
        }
    }
}
