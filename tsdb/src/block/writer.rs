//! Builds the bytes of a block file.

use std::collections::HashMap;

use super::{END_MAGIC, FOOTER_LEN, HEADER_LEN, MAGIC, VERSION};
use crate::chunk::ChunkSummary;
use crate::codec::varint::{put_uvarint, put_varint};
use crate::codec::{encode_timestamps, encode_values, ValueCodec, MAX_CHUNK_SAMPLES};
use crate::downsample::{self, Bucket};
use crate::registry::SeriesId;

struct Col {
    n: u32,
    first_t: i64,
    last_t: i64,
    len: u64,
    crc: u32,
}

/// Accumulates series (in ascending id order) and produces a block file.
///
/// Timestamp columns are stored once and shared: every sample of one
/// scrape carries the same timestamp, so most series of a block point at
/// the same column. On mining data this removes about a third of the bytes.
pub(crate) struct BlockBuilder {
    level: u8,
    max_chunk: usize,
    ts_bytes: Vec<u8>,
    cols: Vec<Col>,
    col_by_ts: HashMap<Vec<i64>, u32>,
    val_bytes: Vec<u8>,
    index: Vec<u8>,
    n_series: u64,
    last_id: Option<SeriesId>,
    min_t: i64,
    max_t: i64,
    n_samples: u64,
    /// Chunks never cross a multiple of this (ms), so chunk summaries line
    /// up with day (or span) windows and series scraped together share
    /// their timestamp columns.
    chunk_span: i64,
    sources: Vec<u64>,
    scratch: Vec<u8>,
    /// Bucket width of a tier block (ms); 0 for raw samples.
    resolution: i64,
    /// Raw blocks: width (ms) of the sub-summaries written beside every
    /// chunk (0: none), so range functions can skip decoding whole
    /// sub-windows of a chunk.
    sub_res: i64,
    col_by_times: HashMap<crate::downsample::Times, u32>,
    /// Columns added by [`Self::add_encoded`], by their bytes.
    col_by_bytes: HashMap<(u32, Box<[u8]>), u32>,
}

impl BlockBuilder {
    pub(crate) fn new(level: u8, max_chunk_samples: usize, chunk_span_ms: i64) -> BlockBuilder {
        BlockBuilder {
            level,
            max_chunk: max_chunk_samples.clamp(1, MAX_CHUNK_SAMPLES),
            ts_bytes: Vec::new(),
            cols: Vec::new(),
            col_by_ts: HashMap::new(),
            val_bytes: Vec::new(),
            index: Vec::new(),
            n_series: 0,
            last_id: None,
            min_t: i64::MAX,
            max_t: i64::MIN,
            n_samples: 0,
            chunk_span: chunk_span_ms.max(1),
            sources: Vec::new(),
            scratch: Vec::new(),
            resolution: 0,
            sub_res: 0,
            col_by_times: HashMap::new(),
            col_by_bytes: HashMap::new(),
        }
    }

    /// Writes sub-summaries `res_ms` wide beside every chunk of this raw
    /// block (0: none).
    pub(crate) fn with_sub_summaries(mut self, res_ms: i64) -> BlockBuilder {
        if self.resolution == 0 {
            self.sub_res = res_ms.max(0);
        }
        self
    }

    /// A builder of a tier block of buckets `resolution_ms` wide.
    pub(crate) fn new_tier(
        level: u8,
        resolution_ms: i64,
        max_chunk_buckets: usize,
        chunk_span_ms: i64,
    ) -> BlockBuilder {
        let mut b = BlockBuilder::new(level, max_chunk_buckets, chunk_span_ms);
        b.resolution = resolution_ms.max(1);
        b
    }

    /// Adds one series of a tier block: buckets in ascending order of
    /// start, ids ascending across calls.
    pub(crate) fn add_series_buckets(&mut self, id: SeriesId, buckets: &[Bucket]) {
        debug_assert!(self.resolution > 0);
        debug_assert!(self.last_id.is_none_or(|l| l < id));
        debug_assert!(buckets.windows(2).all(|w| w[0].start < w[1].start));
        if buckets.is_empty() {
            return;
        }
        let delta = match self.last_id {
            Some(l) => u64::from(id - l),
            None => u64::from(id),
        };
        self.last_id = Some(id);
        self.n_series += 1;
        put_uvarint(&mut self.index, delta);
        let starts: Vec<i64> = buckets.iter().map(|b| b.start).collect();
        let bounds = chunk_bounds(&starts, self.chunk_span, self.max_chunk);
        put_uvarint(&mut self.index, (bounds.len() - 1) as u64);
        for w in bounds.windows(2) {
            let run = &buckets[w[0]..w[1]];
            let Some(sum) = downsample::summarize(run) else {
                continue;
            };
            let col = self.bucket_column(run);
            self.scratch.clear();
            downsample::encode_values6(run, &mut self.scratch);
            put_uvarint(&mut self.index, u64::from(col));
            self.index.push(ValueCodec::Buckets as u8);
            put_uvarint(&mut self.index, self.scratch.len() as u64);
            self.index
                .extend_from_slice(&crc32fast::hash(&self.scratch).to_le_bytes());
            // Tier chunks say their own count and times: the column's are
            // bucket starts and bucket counts.
            put_uvarint(&mut self.index, u64::from(sum.count));
            put_varint(&mut self.index, sum.first_t);
            put_uvarint(&mut self.index, sum.last_t.wrapping_sub(sum.first_t) as u64);
            sum.encode_values(&mut self.index);
            self.val_bytes.extend_from_slice(&self.scratch);
            self.min_t = self.min_t.min(sum.first_t);
            self.max_t = self.max_t.max(sum.last_t);
            self.n_samples += u64::from(sum.count);
        }
    }

    fn bucket_column(&mut self, run: &[Bucket]) -> u32 {
        self.times_column(&downsample::times(run))
    }

    fn times_column(&mut self, key: &downsample::Times) -> u32 {
        if let Some(&c) = self.col_by_times.get(key) {
            return c;
        }
        let start = self.ts_bytes.len();
        downsample::encode_times(key, &mut self.ts_bytes);
        let bytes = &self.ts_bytes[start..];
        let id = self.cols.len() as u32;
        self.cols.push(Col {
            n: key.len() as u32,
            first_t: key.first().map_or(0, |k| k.0),
            last_t: key.last().map_or(0, |k| k.0),
            len: bytes.len() as u64,
            crc: crc32fast::hash(bytes),
        });
        self.col_by_times.insert(key.clone(), id);
        id
    }

    pub(crate) fn n_samples(&self) -> u64 {
        self.n_samples
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.n_samples == 0
    }

    /// Adds one series. Callers give ids in ascending order and timestamps
    /// strictly increasing; both are invariants of the head and of merges.
    pub(crate) fn add_series(&mut self, id: SeriesId, ts: &[i64], vs: &[f64]) {
        debug_assert_eq!(ts.len(), vs.len());
        debug_assert!(ts.windows(2).all(|w| w[0] < w[1]));
        if ts.is_empty() {
            return;
        }
        let bounds = chunk_bounds(ts, self.chunk_span, self.max_chunk);
        self.start_series(id, bounds.len() - 1);
        for w in bounds.windows(2) {
            let (cts, cvs) = (&ts[w[0]..w[1]], &vs[w[0]..w[1]]);
            let col = self.column(cts);
            let mut vals = std::mem::take(&mut self.scratch);
            vals.clear();
            let codec = encode_values(cvs, &mut vals);
            let sub = sub_summary(cts, cvs, self.sub_res);
            self.put_chunk(col, codec, &vals, &ChunkSummary::compute(cts, cvs), &sub);
            self.scratch = vals;
        }
        self.min_t = self.min_t.min(ts[0]);
        self.max_t = self.max_t.max(ts[ts.len() - 1]);
        self.n_samples += ts.len() as u64;
    }

    /// Adds one series from chunks encoded beforehand by [`encode_chunks`]
    /// with this builder's chunk span, size and sub-summary width, in time
    /// order; ids ascending across calls, as for [`Self::add_series`]. The
    /// block is the same as `add_series` would have written.
    pub(crate) fn add_encoded(&mut self, id: SeriesId, chunks: &[&EncodedChunk]) {
        debug_assert!(chunks.windows(2).all(|w| w[0].last_t < w[1].first_t));
        let (Some(first), Some(last)) = (chunks.first(), chunks.last()) else {
            return;
        };
        let (min_t, max_t) = (first.first_t, last.last_t);
        self.start_series(id, chunks.len());
        for c in chunks {
            let col = self.column_of_bytes(c);
            self.put_chunk(col, c.codec, &c.vals, &c.summary, &c.sub);
            self.n_samples += u64::from(c.n);
        }
        self.min_t = self.min_t.min(min_t);
        self.max_t = self.max_t.max(max_t);
    }

    fn start_series(&mut self, id: SeriesId, n_chunks: usize) {
        debug_assert!(self.last_id.is_none_or(|l| l < id));
        let delta = match self.last_id {
            Some(l) => u64::from(id - l),
            None => u64::from(id),
        };
        self.last_id = Some(id);
        self.n_series += 1;
        put_uvarint(&mut self.index, delta);
        put_uvarint(&mut self.index, n_chunks as u64);
    }

    /// One chunk's index entry and value bytes (and its sub-summary's).
    fn put_chunk(
        &mut self,
        col: u32,
        codec: ValueCodec,
        vals: &[u8],
        summary: &ChunkSummary,
        sub: &Sub,
    ) {
        put_uvarint(&mut self.index, u64::from(col));
        self.index.push(codec as u8);
        put_uvarint(&mut self.index, vals.len() as u64);
        self.index
            .extend_from_slice(&crc32fast::hash(vals).to_le_bytes());
        summary.encode_values(&mut self.index);
        self.val_bytes.extend_from_slice(vals);
        match sub {
            Sub::Off => {}
            // A chunk with no sample to summarise (all stale markers)
            // gets an empty entry: column 0 marks it.
            Sub::Empty => put_uvarint(&mut self.index, 0),
            Sub::Buckets { times, vals } => {
                let col = self.times_column(times);
                put_uvarint(&mut self.index, u64::from(col) + 1);
                put_uvarint(&mut self.index, vals.len() as u64);
                self.index
                    .extend_from_slice(&crc32fast::hash(vals).to_le_bytes());
                self.val_bytes.extend_from_slice(vals);
            }
        }
    }

    /// Records the blocks this one replaces.
    pub(crate) fn set_sources(&mut self, seqs: Vec<u64>) {
        self.sources = seqs;
    }

    fn column(&mut self, ts: &[i64]) -> u32 {
        if let Some(&c) = self.col_by_ts.get(ts) {
            return c;
        }
        let start = self.ts_bytes.len();
        encode_timestamps(ts, &mut self.ts_bytes);
        let bytes = &self.ts_bytes[start..];
        let id = self.cols.len() as u32;
        self.cols.push(Col {
            n: ts.len() as u32,
            first_t: ts[0],
            last_t: ts[ts.len() - 1],
            len: bytes.len() as u64,
            crc: crc32fast::hash(bytes),
        });
        self.col_by_ts.insert(ts.to_vec(), id);
        id
    }

    /// The column of an encoded chunk's timestamps: equal timestamps
    /// encode to equal bytes, so columns are shared exactly as by
    /// [`Self::column`]. The count is part of the key: a prefix of a
    /// column can encode to the same bytes (a last delta-of-delta of 0 is
    /// one bit, which may fit in the padding of the last byte).
    fn column_of_bytes(&mut self, c: &EncodedChunk) -> u32 {
        let key = (c.n, c.ts.clone());
        if let Some(&id) = self.col_by_bytes.get(&key) {
            return id;
        }
        let id = self.cols.len() as u32;
        self.cols.push(Col {
            n: c.n,
            first_t: c.first_t,
            last_t: c.last_t,
            len: c.ts.len() as u64,
            crc: crc32fast::hash(&c.ts),
        });
        self.ts_bytes.extend_from_slice(&c.ts);
        self.col_by_bytes.insert(key, id);
        id
    }

    /// The complete file.
    pub(crate) fn finish(self) -> Vec<u8> {
        let mut idx = Vec::with_capacity(self.index.len() + 16 * self.cols.len() + 32);
        idx.push(self.level);
        put_uvarint(&mut idx, self.resolution as u64);
        if self.resolution == 0 {
            put_uvarint(&mut idx, self.sub_res as u64);
        }
        let (min_t, max_t) = if self.n_samples == 0 {
            (0, 0)
        } else {
            (self.min_t, self.max_t)
        };
        put_varint(&mut idx, min_t);
        put_varint(&mut idx, max_t);
        put_uvarint(&mut idx, self.n_samples);
        put_uvarint(&mut idx, self.sources.len() as u64);
        for s in &self.sources {
            put_uvarint(&mut idx, *s);
        }
        put_uvarint(&mut idx, self.cols.len() as u64);
        for c in &self.cols {
            put_uvarint(&mut idx, u64::from(c.n));
            put_varint(&mut idx, c.first_t);
            put_uvarint(&mut idx, c.last_t.wrapping_sub(c.first_t) as u64);
            put_uvarint(&mut idx, c.len);
            idx.extend_from_slice(&c.crc.to_le_bytes());
        }
        put_uvarint(&mut idx, self.n_series);
        idx.extend_from_slice(&self.index);

        let mut out = Vec::with_capacity(
            HEADER_LEN + self.ts_bytes.len() + self.val_bytes.len() + idx.len() + FOOTER_LEN,
        );
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        let ts_off = out.len() as u64;
        out.extend_from_slice(&self.ts_bytes);
        let val_off = out.len() as u64;
        out.extend_from_slice(&self.val_bytes);
        let idx_off = out.len() as u64;
        out.extend_from_slice(&idx);
        let footer_start = out.len();
        for v in [
            ts_off,
            self.ts_bytes.len() as u64,
            val_off,
            self.val_bytes.len() as u64,
            idx_off,
            idx.len() as u64,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&crc32fast::hash(&idx).to_le_bytes());
        out.extend_from_slice(&VERSION.to_le_bytes());
        let fcrc = crc32fast::hash(&out[footer_start..]);
        out.extend_from_slice(&fcrc.to_le_bytes());
        out.extend_from_slice(END_MAGIC);
        debug_assert_eq!(out.len() - footer_start, FOOTER_LEN);
        out
    }
}

/// Start offsets of each chunk of `ts`, plus `ts.len()`: a new chunk at
/// every multiple of `chunk_span` and every `max_chunk` samples.
fn chunk_bounds(ts: &[i64], chunk_span: i64, max_chunk: usize) -> Vec<usize> {
    let mut b = vec![0];
    let mut start = 0;
    while start < ts.len() {
        let window_end = ts[start]
            .div_euclid(chunk_span)
            .saturating_add(1)
            .saturating_mul(chunk_span);
        let by_time = start + ts[start..].partition_point(|&t| t < window_end);
        let end = by_time.min(start + max_chunk).max(start + 1);
        b.push(end);
        start = end;
    }
    b
}

/// A chunk's sub-summary, as written beside it in a raw block.
#[derive(Debug, Clone)]
pub(crate) enum Sub {
    /// The block has no sub-summaries.
    Off,
    /// No sample to summarise (all stale markers).
    Empty,
    Buckets {
        times: downsample::Times,
        vals: Box<[u8]>,
    },
}

fn sub_summary(ts: &[i64], vs: &[f64], res: i64) -> Sub {
    if res <= 0 {
        return Sub::Off;
    }
    let sub = downsample::bucketize(ts, vs, res);
    if sub.is_empty() {
        return Sub::Empty;
    }
    let mut vals = Vec::new();
    downsample::encode_values6(&sub, &mut vals);
    Sub::Buckets {
        times: downsample::times(&sub),
        vals: vals.into_boxed_slice(),
    }
}

/// One chunk of a raw series, encoded on its own before a block numbers
/// its timestamp column: what a bulk load holds in memory instead of raw
/// samples (see `db/bulk.rs`).
#[derive(Debug, Clone)]
pub(crate) struct EncodedChunk {
    pub(crate) first_t: i64,
    pub(crate) last_t: i64,
    pub(crate) n: u32,
    ts: Box<[u8]>,
    codec: ValueCodec,
    vals: Box<[u8]>,
    summary: ChunkSummary,
    sub: Sub,
}

impl EncodedChunk {
    /// Bytes of memory this chunk holds.
    pub(crate) fn heap_bytes(&self) -> usize {
        let sub = match &self.sub {
            Sub::Buckets { times, vals } => times.len() * 32 + vals.len(),
            _ => 0,
        };
        std::mem::size_of::<Self>() + self.ts.len() + self.vals.len() + sub
    }

    /// Appends the chunk's samples to `ts` and `vs`.
    pub(crate) fn decode_into(
        &self,
        ts: &mut Vec<i64>,
        vs: &mut Vec<f64>,
    ) -> Result<(), crate::codec::CodecError> {
        crate::codec::decode_timestamps(&self.ts, self.n as usize, ts)?;
        crate::codec::decode_values(self.codec, &self.vals, self.n as usize, vs)
    }
}

/// Encodes one series' samples (timestamps strictly increasing) as the
/// chunks a [`BlockBuilder`] made with the same `max_chunk_samples`,
/// `chunk_span_ms` and sub-summary width would write, appending them to
/// `out`.
pub(crate) fn encode_chunks(
    ts: &[i64],
    vs: &[f64],
    max_chunk_samples: usize,
    chunk_span_ms: i64,
    sub_res: i64,
    out: &mut Vec<EncodedChunk>,
) {
    debug_assert_eq!(ts.len(), vs.len());
    let max_chunk = max_chunk_samples.clamp(1, MAX_CHUNK_SAMPLES);
    let bounds = chunk_bounds(ts, chunk_span_ms.max(1), max_chunk);
    for w in bounds.windows(2) {
        let (cts, cvs) = (&ts[w[0]..w[1]], &vs[w[0]..w[1]]);
        let mut tb = Vec::new();
        encode_timestamps(cts, &mut tb);
        let mut vb = Vec::new();
        let codec = encode_values(cvs, &mut vb);
        out.push(EncodedChunk {
            first_t: cts[0],
            last_t: cts[cts.len() - 1],
            n: cts.len() as u32,
            ts: tb.into_boxed_slice(),
            codec,
            vals: vb.into_boxed_slice(),
            summary: ChunkSummary::compute(cts, cvs),
            sub: sub_summary(cts, cvs, sub_res.max(0)),
        });
    }
}
