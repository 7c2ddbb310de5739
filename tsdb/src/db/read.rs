//! The read side of `Db`: streaming selection, the pieces that range
//! aggregates read summaries from, and the counts behind `stats`.

use std::collections::BTreeMap;

use super::*;
use crate::block::Block;
use crate::downsample::Bucket;

impl Db {
    /// Streams the series matching every matcher, with their samples whose
    /// timestamps fall in `range`, in ascending order of series id.
    pub fn select(&self, matchers: &[Matcher], range: impl RangeBounds<i64>) -> Result<SeriesIter> {
        let lo = match range.start_bound() {
            Bound::Included(&t) => t,
            Bound::Excluded(&t) => t.saturating_add(1),
            Bound::Unbounded => i64::MIN,
        };
        let hi = match range.end_bound() {
            Bound::Included(&t) => t,
            Bound::Excluded(&t) => t.saturating_sub(1),
            Bound::Unbounded => i64::MAX,
        };
        let inner = self.read();
        let blocks: Vec<Arc<Block>> = inner
            .blocks
            .iter()
            .filter(|b| b.n_samples > 0 && b.min_t <= hi && b.max_t >= lo)
            .cloned()
            .collect();
        let mut items = Vec::new();
        if lo <= hi {
            for id in inner.registry.select(matchers) {
                let Some(labels) = inner.registry.labels(id).cloned() else {
                    continue;
                };
                let head = inner.head.range(id, lo, hi);
                items.push((id, labels, head));
            }
        }
        items.reverse();
        Ok(SeriesIter {
            items,
            blocks,
            lo,
            hi,
            col_cache: HashMap::new(),
        })
    }

    /// Labels of the series matching every matcher that hold data in
    /// `[lo, hi]` (both inclusive), sorted. Only chunk summaries and the
    /// head are consulted, nothing is decoded, so listing series over years
    /// stays cheap (Prometheus' `/api/v1/series` is coarser still: it
    /// answers per block). A chunk that spans the range's edge counts even
    /// when none of its samples falls inside.
    pub fn series_labels(&self, matchers: &[Matcher], lo: i64, hi: i64) -> Vec<Labels> {
        let inner = self.read();
        let blocks: Vec<&Arc<Block>> = inner
            .blocks
            .iter()
            .filter(|b| b.n_samples > 0 && b.min_t <= hi && b.max_t >= lo)
            .collect();
        let mut out: Vec<Labels> = Vec::new();
        if lo > hi {
            return out;
        }
        for id in inner.registry.select(matchers) {
            let in_blocks = blocks.iter().any(|b| {
                b.chunks_of(id)
                    .iter()
                    .any(|c| c.summary.first_t <= hi && c.summary.last_t >= lo)
            });
            if in_blocks || !inner.head.range(id, lo, hi).is_empty() {
                if let Some(l) = inner.registry.labels(id) {
                    out.push(l.clone());
                }
            }
        }
        out.sort();
        out
    }

    /// Every label name in use, sorted (includes `__name__`).
    pub fn label_names(&self) -> Vec<String> {
        self.read()
            .registry
            .label_names()
            .map(str::to_string)
            .collect()
    }

    /// Every value of label `name`, sorted.
    pub fn label_values(&self, name: &str) -> Vec<String> {
        self.read()
            .registry
            .label_values(name)
            .map(|(v, _)| v.to_string())
            .collect()
    }

    /// Counts describing the database.
    pub fn stats(&self) -> Stats {
        let inner = self.read();
        let mut st = Stats {
            series: inner.registry.len(),
            blocks: inner.blocks.len(),
            head_samples: inner.head.n_samples(),
            head_bytes: inner.head.heap_bytes(),
            ..Stats::default()
        };
        let mut range: Option<(i64, i64)> = None;
        let mut widen = |a: i64, b: i64| {
            range = Some(match range {
                None => (a, b),
                Some((x, y)) => (x.min(a), y.max(b)),
            })
        };
        for b in &inner.blocks {
            *st.blocks_per_level.entry(b.level).or_default() += 1;
            let r = st.by_resolution.entry(b.resolution).or_default();
            r.0 += b.file_size();
            r.1 += b.n_samples;
            st.block_samples += b.n_samples;
            st.block_bytes += b.file_size();
            if b.n_samples > 0 {
                widen(b.min_t, b.max_t);
            }
        }
        if let (Some(a), Some(b)) = (inner.head.min_t(), inner.head.max_t()) {
            widen(a, b);
        }
        st.time_range = range;
        st.disk_bytes = dir_bytes(&self.dir);
        st
    }

    #[doc(hidden)]
    pub fn bytes_by_metric(&self) -> Vec<(String, u64, u64, [u64; 3])> {
        let inner = self.read();
        let mut m: std::collections::BTreeMap<String, (u64, u64, [u64; 3])> = Default::default();
        for b in &inner.blocks {
            for id in b.series_ids() {
                let name = inner
                    .registry
                    .labels(id)
                    .map_or("?".to_string(), |l| l.metric_name().to_string());
                let e = m.entry(name).or_default();
                for ch in b.chunks_of(id) {
                    e.0 += ch.len as u64;
                    e.1 += u64::from(ch.summary.count);
                    e.2[(ch.codec as usize).min(2)] += 1;
                }
            }
        }
        m.into_iter().map(|(k, (a, b, c))| (k, a, b, c)).collect()
    }

    #[doc(hidden)]
    pub fn decode_all_blocks(&self) -> Result<(u64, f64)> {
        let blocks: Vec<Arc<Block>> = self.read().blocks.clone();
        let mut n = 0u64;
        let mut sum = 0.0;
        let mut cols: Vec<Vec<i64>> = Vec::new();
        let mut vs = Vec::new();
        for b in &blocks {
            if b.resolution > 0 {
                for id in b.series_ids() {
                    for ch in b.chunks_of(id) {
                        for k in b.decode_buckets(ch)? {
                            n += u64::from(k.s.count);
                            sum += k.s.sum;
                        }
                    }
                }
                continue;
            }
            // Timestamp columns only: sub-summary bucket columns are not
            // samples.
            cols.clear();
            cols.resize(b.n_cols(), Vec::new());
            let mut done = vec![false; b.n_cols()];
            for id in b.series_ids() {
                for ch in b.chunks_of(id) {
                    let c = ch.col as usize;
                    if done.get(c) == Some(&false) {
                        if let Some(ts) = cols.get_mut(c) {
                            b.decode_column(ch.col, ts)?;
                        }
                        done[c] = true;
                    }
                }
            }
            for id in b.series_ids() {
                for ch in b.chunks_of(id) {
                    vs.clear();
                    b.decode_chunk_values(ch, &mut vs)?;
                    let ts = cols.get(ch.col as usize).map_or(&[][..], |c| &c[..]);
                    n += ts.len().min(vs.len()) as u64;
                    sum += vs.iter().sum::<f64>();
                }
            }
        }
        Ok((n, sum))
    }

    /// Samples stored per series (blocks and head), largest first.
    pub fn series_sample_counts(&self) -> Vec<(Labels, u64)> {
        let inner = self.read();
        let mut counts: HashMap<SeriesId, u64> = HashMap::new();
        for b in &inner.blocks {
            for id in b.series_ids() {
                let n: u64 = b
                    .chunks_of(id)
                    .iter()
                    .map(|c| u64::from(c.summary.count))
                    .sum();
                *counts.entry(id).or_default() += n;
            }
        }
        for id in inner.registry.all_ids() {
            let n = inner.head.range(id, i64::MIN, i64::MAX).len() as u64;
            if n > 0 {
                *counts.entry(id).or_default() += n;
            }
        }
        let mut v: Vec<(Labels, u64)> = counts
            .into_iter()
            .filter_map(|(id, n)| inner.registry.labels(id).map(|l| (l.clone(), n)))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    /// Distinct values per label name, most first.
    pub fn label_cardinality(&self) -> Vec<(String, usize)> {
        let inner = self.read();
        let mut v: Vec<(String, usize)> = inner
            .registry
            .label_names()
            .map(|n| (n.to_string(), inner.registry.label_values(n).count()))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    /// Where downsampled data meets `[lo, hi]`: the coarsest resolution
    /// met (ms) and the newest time it covers; `None` when the range is
    /// raw only.
    pub(crate) fn downsampled_between(&self, lo: i64, hi: i64) -> Option<(i64, i64)> {
        let inner = self.read();
        let met = inner
            .blocks
            .iter()
            .filter(|b| b.resolution > 0 && b.n_samples > 0 && b.min_t <= hi && b.max_t >= lo);
        let until = met.clone().map(|b| b.max_t).max()?;
        let res = met.map(|b| b.resolution).max()?;
        Some((until, res))
    }

    /// Decodes every block column and chunk, verifying every checksum;
    /// returns each problem found with its file and offset.
    pub fn verify(&self) -> Vec<Error> {
        let inner = self.read();
        inner.blocks.iter().flat_map(|b| b.verify()).collect()
    }
}

/// Part of a series for range aggregates: decoded samples, a whole chunk
/// that can be aggregated from its summary without decoding, or
/// downsampled buckets (with their resolution).
pub(crate) enum Piece {
    Samples(Vec<Sample>),
    Chunk {
        block: Arc<Block>,
        meta: crate::block::ChunkMeta,
    },
    Buckets(Vec<(i64, Bucket)>),
}

impl Piece {
    pub(crate) fn first_t(&self) -> i64 {
        match self {
            Piece::Samples(s) => s.first().map_or(i64::MAX, |x| x.t),
            Piece::Chunk { meta, .. } => meta.summary.first_t,
            Piece::Buckets(b) => b.first().map_or(i64::MAX, |x| x.1.s.first_t),
        }
    }
    pub(crate) fn last_t(&self) -> i64 {
        match self {
            Piece::Samples(s) => s.last().map_or(i64::MIN, |x| x.t),
            Piece::Chunk { meta, .. } => meta.summary.last_t,
            Piece::Buckets(b) => b.last().map_or(i64::MIN, |x| x.1.s.last_t),
        }
    }
    /// The samples of the piece (decodes a chunk; a bucket gives its view,
    /// its last value at its last time).
    pub(crate) fn samples(&self) -> Result<Vec<Sample>> {
        match self {
            Piece::Samples(s) => Ok(s.clone()),
            Piece::Buckets(b) => Ok(b.iter().map(|x| x.1.view()).collect()),
            Piece::Chunk { block, meta } => {
                let (mut ts, mut vs) = (Vec::new(), Vec::new());
                block.decode_chunk(meta, &mut ts, &mut vs)?;
                Ok(ts
                    .into_iter()
                    .zip(vs)
                    .map(|(t, v)| Sample { t, v })
                    .collect())
            }
        }
    }
}

impl Db {
    /// Series matching `matchers` as time-ordered, non-overlapping pieces
    /// covering `[lo, hi]`: chunks wholly inside the range stay encoded
    /// (their summaries can answer range aggregates), everything else is
    /// decoded and cut to the range. Sorted by labels, like `select_series`.
    pub(crate) fn select_pieces(
        &self,
        matchers: &[Matcher],
        lo: i64,
        hi: i64,
    ) -> Result<Vec<(Labels, Vec<Piece>)>> {
        let inner = self.read();
        let blocks: Vec<Arc<Block>> = inner
            .blocks
            .iter()
            .filter(|b| b.n_samples > 0 && b.min_t <= hi && b.max_t >= lo)
            .cloned()
            .collect();
        let has_tiers = blocks.iter().any(|b| b.resolution > 0);
        let mut out = Vec::new();
        for id in inner.registry.select(matchers) {
            let Some(labels) = inner.registry.labels(id).cloned() else {
                continue;
            };
            let mut pieces = Vec::new();
            for b in blocks.iter().filter(|b| b.resolution == 0) {
                for meta in b.chunks_of(id) {
                    let (f, l) = (meta.summary.first_t, meta.summary.last_t);
                    if l < lo || f > hi {
                        continue;
                    }
                    let piece = Piece::Chunk {
                        block: b.clone(),
                        meta: *meta,
                    };
                    if f >= lo && l <= hi {
                        pieces.push(piece);
                    } else {
                        let mut s = piece.samples()?;
                        s.retain(|x| x.t >= lo && x.t <= hi);
                        pieces.push(Piece::Samples(s));
                    }
                }
            }
            let head = inner.head.range(id, lo, hi);
            if !head.is_empty() {
                pieces.push(Piece::Samples(head));
            }
            pieces.retain(|p| p.first_t() <= p.last_t());
            pieces.sort_by_key(Piece::first_t);
            // Overlapping pieces (a backfilled block, a replayed WAL) would
            // be counted twice by summaries: merge such a series instead.
            if pieces.windows(2).any(|w| w[0].last_t() >= w[1].first_t()) {
                let runs = pieces
                    .iter()
                    .map(Piece::samples)
                    .collect::<Result<Vec<_>>>()?;
                pieces = vec![Piece::Samples(merge_runs(runs))];
            }
            if has_tiers {
                let mut covered: Vec<(i64, i64)> =
                    pieces.iter().map(|p| (p.first_t(), p.last_t())).collect();
                let buckets = tier_buckets(&blocks, id, lo, hi, &mut covered)?;
                // One piece per run of buckets between raw pieces, so that
                // pieces stay time-ordered and disjoint.
                let bounds: Vec<i64> = pieces.iter().map(Piece::first_t).collect();
                let mut run: Vec<(i64, Bucket)> = Vec::new();
                let mut next = 0;
                for b in buckets {
                    let k = bounds.partition_point(|&f| f <= b.1.s.first_t);
                    if k != next && !run.is_empty() {
                        pieces.push(Piece::Buckets(std::mem::take(&mut run)));
                    }
                    next = k;
                    run.push(b);
                }
                if !run.is_empty() {
                    pieces.push(Piece::Buckets(run));
                }
                pieces.sort_by_key(Piece::first_t);
            }
            if pieces.is_empty() {
                continue;
            }
            out.push((labels, pieces));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

/// Streams [`Series`] from [`Db::select`], decoding lazily per series.
pub struct SeriesIter {
    /// Remaining (id, labels, head samples in range), reversed for pop().
    items: Vec<(SeriesId, Labels, Vec<Sample>)>,
    blocks: Vec<Arc<Block>>,
    lo: i64,
    hi: i64,
    col_cache: HashMap<(u64, u32), Arc<Vec<i64>>>,
}

impl SeriesIter {
    fn column(&mut self, b: &Block, col: u32) -> Result<Arc<Vec<i64>>> {
        if let Some(c) = self.col_cache.get(&(b.seq, col)) {
            return Ok(c.clone());
        }
        if self.col_cache.len() > 1024 {
            self.col_cache.clear();
        }
        let mut ts = Vec::new();
        b.decode_column(col, &mut ts)?;
        let ts = Arc::new(ts);
        self.col_cache.insert((b.seq, col), ts.clone());
        Ok(ts)
    }

    fn series_samples(&mut self, id: SeriesId, head: Vec<Sample>) -> Result<Vec<Sample>> {
        let (lo, hi) = (self.lo, self.hi);
        let mut runs: Vec<Vec<Sample>> = Vec::new();
        let blocks = self.blocks.clone();
        let mut vs = Vec::new();
        let mut covered: Vec<(i64, i64)> = Vec::new();
        for b in blocks.iter().filter(|b| b.resolution == 0) {
            for ch in b.chunks_of(id) {
                if ch.summary.last_t < lo || ch.summary.first_t > hi {
                    continue;
                }
                covered.push((ch.summary.first_t, ch.summary.last_t));
                let ts = self.column(b, ch.col)?;
                vs.clear();
                b.decode_chunk_values(ch, &mut vs)?;
                let a = ts.partition_point(|&t| t < lo);
                let z = ts.partition_point(|&t| t <= hi);
                let run: Vec<Sample> = ts[a..z]
                    .iter()
                    .zip(vs.get(a..z).unwrap_or(&[]))
                    .map(|(&t, &v)| Sample { t, v })
                    .collect();
                if !run.is_empty() {
                    runs.push(run);
                }
            }
        }
        if blocks.iter().any(|b| b.resolution > 0) {
            if let (Some(f), Some(l)) = (head.first(), head.last()) {
                covered.push((f.t, l.t));
            }
            let views: Vec<Sample> = tier_buckets(&blocks, id, lo, hi, &mut covered)?
                .iter()
                .map(|b| b.1.view())
                .filter(|s| s.t >= lo && s.t <= hi)
                .collect();
            if !views.is_empty() {
                // First, so raw samples win a tie.
                runs.insert(0, views);
            }
        }
        if !head.is_empty() {
            runs.push(head);
        }
        Ok(merge_runs(runs))
    }
}

/// Buckets of series `id` from the tier blocks among `blocks` that meet
/// `[lo, hi]`, time-ordered, each with its resolution.
///
/// Finer data wins: a bucket whose interval overlaps a range in `covered`
/// (times of raw data, inclusive) or a bucket of a finer tier is left out,
/// and within one resolution the newer block's bucket wins. Overlaps
/// happen only where compaction was interrupted between writing buckets
/// and rewriting the raw block they came from.
pub(crate) fn tier_buckets(
    blocks: &[Arc<Block>],
    id: SeriesId,
    lo: i64,
    hi: i64,
    covered: &mut Vec<(i64, i64)>,
) -> Result<Vec<(i64, Bucket)>> {
    let mut out: Vec<(i64, Bucket)> = Vec::new();
    let runs = tier_runs(blocks, id, lo, hi, |k| {
        k.s.last_t >= lo && k.s.first_t <= hi
    })?;
    for (res, by_start) in runs {
        let spans = disjoint(covered);
        let kept: Vec<(i64, Bucket)> = by_start
            .into_values()
            .filter(|k| !overlaps(&spans, k.start, k.start.saturating_add(res - 1)))
            .map(|k| (res, k))
            .collect();
        covered.extend(
            kept.iter()
                .map(|(r, k)| (k.start, k.start.saturating_add(r - 1))),
        );
        out.extend(kept);
    }
    out.sort_by_key(|b| b.1.start);
    Ok(out)
}

/// The buckets of series `id` in the tier blocks among `blocks`, by
/// resolution (finest first) and start, those `keep` accepts; chunks wholly
/// before `lo` or after `hi` are not decoded. Where two blocks of one resolution hold
/// the same bucket, the newer block's wins.
pub(crate) fn tier_runs(
    blocks: &[Arc<Block>],
    id: SeriesId,
    lo: i64,
    hi: i64,
    keep: impl Fn(&Bucket) -> bool,
) -> Result<BTreeMap<i64, BTreeMap<i64, Bucket>>> {
    let mut tiers: Vec<&Arc<Block>> = blocks.iter().filter(|b| b.resolution > 0).collect();
    tiers.sort_by_key(|b| (b.resolution, b.seq));
    let mut runs: BTreeMap<i64, BTreeMap<i64, Bucket>> = BTreeMap::new();
    for b in tiers {
        let run = runs.entry(b.resolution).or_default();
        for ch in b.chunks_of(id) {
            if ch.summary.last_t < lo || ch.summary.first_t > hi {
                continue;
            }
            for k in b.decode_buckets(ch)? {
                if keep(&k) {
                    run.insert(k.start, k);
                }
            }
        }
    }
    Ok(runs)
}

/// Sorted, merged copies of inclusive ranges.
fn disjoint(ranges: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut v = ranges.to_vec();
    v.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(l) if a <= l.1 => l.1 = l.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Whether `[a, b]` meets one of the sorted, disjoint `spans`.
fn overlaps(spans: &[(i64, i64)], a: i64, b: i64) -> bool {
    let k = spans.partition_point(|s| s.1 < a);
    spans.get(k).is_some_and(|s| s.0 <= b)
}

/// Merges time-ordered runs into one, keeping the last-given run's sample
/// where timestamps repeat (the head, then newer blocks, win).
pub(crate) fn merge_runs(mut runs: Vec<Vec<Sample>>) -> Vec<Sample> {
    if runs.len() <= 1 {
        return runs.pop().unwrap_or_default();
    }
    let mut order: Vec<usize> = (0..runs.len()).collect();
    order.sort_by_key(|&i| runs[i].first().map(|s| s.t));
    let disjoint = order.windows(2).all(|w| {
        let a = runs[w[0]].last().map(|s| s.t);
        let b = runs[w[1]].first().map(|s| s.t);
        a < b
    });
    if disjoint {
        let mut out = Vec::with_capacity(runs.iter().map(Vec::len).sum());
        for i in order {
            out.append(&mut runs[i]);
        }
        return out;
    }
    let mut all: Vec<(i64, usize, f64)> = runs
        .iter()
        .enumerate()
        .flat_map(|(i, r)| r.iter().map(move |s| (s.t, i, s.v)))
        .collect();
    // Later run first among equal timestamps, then keep the first of each t.
    all.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    all.dedup_by_key(|x| x.0);
    all.into_iter().map(|(t, _, v)| Sample { t, v }).collect()
}

impl Iterator for SeriesIter {
    type Item = Result<Series>;

    fn next(&mut self) -> Option<Result<Series>> {
        loop {
            let (id, labels, head) = self.items.pop()?;
            match self.series_samples(id, head) {
                Ok(samples) if samples.is_empty() => continue,
                Ok(samples) => return Some(Ok(Series { labels, samples })),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}
