//! The head: samples not yet in a block, in memory, per series in time
//! order. Every sample here is also in the WAL, so the head is rebuilt by
//! replay after a crash.
//!
//! Samples are kept as plain columns rather than compressed chunks: the
//! head of a mining rig is small (hundreds of series over a day), and its
//! size is bounded by `Options::max_head_samples`, which forces a cut.

use crate::registry::SeriesId;

#[derive(Debug, Default, Clone)]
pub(crate) struct HeadSeries {
    pub(crate) ts: Vec<i64>,
    pub(crate) vs: Vec<f64>,
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

    pub(crate) fn series(&self, id: SeriesId) -> Option<&HeadSeries> {
        self.series.get(id as usize).filter(|s| !s.ts.is_empty())
    }

    /// Looks up the value stored at `t`, if any.
    pub(crate) fn get(&self, id: SeriesId, t: i64) -> Option<f64> {
        let s = self.series.get(id as usize)?;
        s.ts.binary_search(&t).ok().map(|i| s.vs[i])
    }

    pub(crate) fn insert(&mut self, id: SeriesId, t: i64, v: f64) -> Insert {
        let i = id as usize;
        if self.series.len() <= i {
            self.series.resize_with(i + 1, HeadSeries::default);
        }
        let s = &mut self.series[i];
        match s.ts.last() {
            Some(&last) if t <= last => match s.ts.binary_search(&t) {
                Ok(p) => {
                    let old = s.vs[p];
                    return if old.to_bits() == v.to_bits() {
                        Insert::Duplicate
                    } else {
                        Insert::Conflict(old)
                    };
                }
                Err(p) => {
                    s.ts.insert(p, t);
                    s.vs.insert(p, v);
                }
            },
            _ => {
                s.ts.push(t);
                s.vs.push(v);
            }
        }
        self.n_samples += 1;
        self.max_t = Some(self.max_t.map_or(t, |m| m.max(t)));
        Insert::Added
    }

    /// Smallest timestamp in the head.
    pub(crate) fn min_t(&self) -> Option<i64> {
        self.series
            .iter()
            .filter_map(|s| s.ts.first().copied())
            .min()
    }

    /// Removes and returns every sample with `t < before`, per series id
    /// (ascending), for writing to blocks.
    pub(crate) fn take_before(&mut self, before: i64) -> Vec<(SeriesId, HeadSeries)> {
        let mut out = Vec::new();
        for (i, s) in self.series.iter_mut().enumerate() {
            let n = s.ts.partition_point(|&t| t < before);
            if n == 0 {
                continue;
            }
            let rest_ts = s.ts.split_off(n);
            let rest_vs = s.vs.split_off(n);
            let taken = HeadSeries {
                ts: std::mem::replace(&mut s.ts, rest_ts),
                vs: std::mem::replace(&mut s.vs, rest_vs),
            };
            self.n_samples -= taken.ts.len();
            out.push((i as SeriesId, taken));
        }
        self.max_t = self
            .series
            .iter()
            .filter_map(|s| s.ts.last().copied())
            .max();
        out
    }

    /// Every sample, per series id ascending (for re-logging into a fresh
    /// WAL segment after a cut).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (SeriesId, &HeadSeries)> {
        self.series
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.ts.is_empty())
            .map(|(i, s)| (i as SeriesId, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_orders_and_dedupes() {
        let mut h = Head::default();
        assert_eq!(h.insert(3, 10, 1.0), Insert::Added);
        assert_eq!(h.insert(3, 5, 2.0), Insert::Added);
        assert_eq!(h.insert(3, 10, 1.0), Insert::Duplicate);
        assert_eq!(h.insert(3, 10, 9.0), Insert::Conflict(1.0));
        assert_eq!(h.series(3).unwrap().ts, vec![5, 10]);
        assert_eq!(h.n_samples(), 2);
        let taken = h.take_before(10);
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].1.ts, vec![5]);
        assert_eq!(h.n_samples(), 1);
        assert_eq!(h.min_t(), Some(10));
    }
}
