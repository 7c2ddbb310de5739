//! Opens a published block: maps it, checks header, footer and index
//! checksums, and decodes the index into memory. Chunk and column bytes are
//! checked against their own crc when first decoded, so one damaged chunk
//! costs one series' chunk, not the whole block.

use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::{END_MAGIC, FOOTER_LEN, HEADER_LEN, MAGIC, READABLE};
use crate::chunk::ChunkSummary;
use crate::codec::varint::Cursor;
use crate::codec::{decode_timestamps, decode_values, ValueCodec, MAX_CHUNK_SAMPLES};
use crate::downsample::{self, Bucket};
use crate::error::{Error, Result};
use crate::registry::SeriesId;

enum Data {
    Map(Mmap),
    Owned(Vec<u8>),
}

impl Data {
    fn bytes(&self) -> &[u8] {
        match self {
            Data::Map(m) => m,
            Data::Owned(v) => v,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct ColMeta {
    pub(crate) off: usize,
    pub(crate) len: usize,
    pub(crate) n: u32,
    pub(crate) first_t: i64,
    pub(crate) last_t: i64,
    pub(crate) crc: u32,
}

/// Where a chunk's bytes are and what they summarise.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChunkMeta {
    pub(crate) col: u32,
    pub(crate) codec: ValueCodec,
    pub(crate) off: usize,
    pub(crate) len: usize,
    pub(crate) crc: u32,
    pub(crate) summary: ChunkSummary,
    /// Sub-summaries of a raw chunk: (bucket column, offset, length, crc).
    pub(crate) sub: Option<(u32, usize, usize, u32)>,
}

pub(crate) struct Block {
    path: PathBuf,
    pub(crate) seq: u64,
    data: Data,
    pub(crate) level: u8,
    /// Bucket width in ms of a tier block (see `crate::downsample`); 0
    /// for a block of raw samples.
    pub(crate) resolution: i64,
    /// Width (ms) of the sub-summaries beside a raw block's chunks; 0 when
    /// it has none.
    pub(crate) sub_res: i64,
    pub(crate) min_t: i64,
    pub(crate) max_t: i64,
    pub(crate) n_samples: u64,
    /// Sequence numbers of the blocks this one replaced (compaction,
    /// retention); those are deleted once this one is published.
    pub(crate) sources: Vec<u64>,
    cols: Vec<ColMeta>,
    /// (series id, first chunk, end chunk), ascending by id.
    series: Vec<(SeriesId, u32, u32)>,
    chunks: Vec<ChunkMeta>,
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Block")
            .field("path", &self.path)
            .field("level", &self.level)
            .field("resolution", &self.resolution)
            .field("min_t", &self.min_t)
            .field("max_t", &self.max_t)
            .field("series", &self.series.len())
            .finish()
    }
}

impl Block {
    /// Maps and validates the block at `path`.
    pub(crate) fn open(path: &Path, seq: u64) -> Result<Block> {
        let map = crate::mmap::map_readonly(path)?;
        Block::parse(path.to_path_buf(), seq, Data::Map(map))
    }

    /// Validates a block held in memory (tests, fuzzing).
    pub(crate) fn from_bytes(path: PathBuf, bytes: Vec<u8>) -> Result<Block> {
        Block::parse(path, 0, Data::Owned(bytes))
    }

    fn parse(path: PathBuf, seq: u64, data: Data) -> Result<Block> {
        let b = data.bytes();
        let corrupt = |off: usize, what: &str| Error::corrupt(&path, off as u64, what);
        if b.len() < HEADER_LEN + FOOTER_LEN {
            return Err(corrupt(0, "file shorter than header and footer"));
        }
        if &b[..8] != MAGIC {
            return Err(corrupt(0, "bad magic, not a block file"));
        }
        let version = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
        if !READABLE.contains(&version) {
            return Err(Error::UnsupportedVersion {
                file: path.clone(),
                found: version,
                supported: "1, 2, 3".to_string(),
            });
        }
        let fstart = b.len() - FOOTER_LEN;
        let footer = &b[fstart..];
        if &footer[60..68] != END_MAGIC {
            return Err(corrupt(fstart, "bad footer magic (file cut short?)"));
        }
        let mut fc = Cursor::new(footer);
        let mut f = [0u64; 6];
        for x in &mut f {
            *x = fc.u64_le().ok_or_else(|| corrupt(fstart, "footer"))?;
        }
        let idx_crc = fc.u32_le().ok_or_else(|| corrupt(fstart, "footer"))?;
        let _fversion = fc.u32_le().ok_or_else(|| corrupt(fstart, "footer"))?;
        let fcrc = fc.u32_le().ok_or_else(|| corrupt(fstart, "footer"))?;
        if crc32fast::hash(&footer[..56]) != fcrc {
            return Err(corrupt(fstart, "footer checksum mismatch"));
        }
        let section = |off: u64, len: u64, what: &str| -> Result<(usize, usize)> {
            let off = usize::try_from(off).map_err(|_| corrupt(fstart, what))?;
            let len = usize::try_from(len).map_err(|_| corrupt(fstart, what))?;
            let end = off.checked_add(len).ok_or_else(|| corrupt(fstart, what))?;
            if off < HEADER_LEN || end > fstart {
                return Err(corrupt(fstart, what));
            }
            Ok((off, len))
        };
        let (ts_off, ts_len) = section(f[0], f[1], "timestamp section out of bounds")?;
        let (val_off, val_len) = section(f[2], f[3], "value section out of bounds")?;
        let (idx_off, idx_len) = section(f[4], f[5], "index section out of bounds")?;
        let idx = &b[idx_off..idx_off + idx_len];
        if crc32fast::hash(idx) != idx_crc {
            return Err(corrupt(idx_off, "index checksum mismatch"));
        }
        let bad = |c: &Cursor<'_>, what: &str| corrupt(idx_off + c.pos, what);
        let mut c = Cursor::new(idx);
        let level = c.u8().ok_or_else(|| bad(&c, "level"))?;
        let resolution = if version >= 3 {
            let r = c.uvarint().ok_or_else(|| bad(&c, "resolution"))?;
            i64::try_from(r).map_err(|_| bad(&c, "resolution out of range"))?
        } else {
            0
        };
        let sub_res = if version >= 3 && resolution == 0 {
            let r = c.uvarint().ok_or_else(|| bad(&c, "sub-summary width"))?;
            i64::try_from(r).map_err(|_| bad(&c, "sub-summary width out of range"))?
        } else {
            0
        };
        let min_t = c.varint().ok_or_else(|| bad(&c, "min time"))?;
        let max_t = c.varint().ok_or_else(|| bad(&c, "max time"))?;
        let n_samples = c.uvarint().ok_or_else(|| bad(&c, "sample count"))?;
        let mut sources = Vec::new();
        if version >= 2 {
            let n = c.uvarint().ok_or_else(|| bad(&c, "source count"))? as usize;
            if n > c.remaining() {
                return Err(bad(&c, "source count larger than index"));
            }
            for _ in 0..n {
                sources.push(c.uvarint().ok_or_else(|| bad(&c, "source block"))?);
            }
        }
        let ncols = c.uvarint().ok_or_else(|| bad(&c, "column count"))? as usize;
        if ncols > c.remaining() {
            return Err(bad(&c, "column count larger than index"));
        }
        let mut cols = Vec::with_capacity(ncols);
        let mut off = ts_off;
        for _ in 0..ncols {
            let n = c.uvarint().ok_or_else(|| bad(&c, "column length"))?;
            if n == 0 || n > MAX_CHUNK_SAMPLES as u64 {
                return Err(bad(&c, "column sample count out of range"));
            }
            let first_t = c.varint().ok_or_else(|| bad(&c, "column first time"))?;
            let span = c.uvarint().ok_or_else(|| bad(&c, "column span"))?;
            let len = c.uvarint().ok_or_else(|| bad(&c, "column bytes"))? as usize;
            let crc = c.u32_le().ok_or_else(|| bad(&c, "column crc"))?;
            let end = off
                .checked_add(len)
                .filter(|&e| e <= ts_off + ts_len)
                .ok_or_else(|| bad(&c, "column past end of timestamp section"))?;
            cols.push(ColMeta {
                off,
                len,
                n: n as u32,
                first_t,
                last_t: first_t.wrapping_add(span as i64),
                crc,
            });
            off = end;
        }
        let nseries = c.uvarint().ok_or_else(|| bad(&c, "series count"))? as usize;
        if nseries > c.remaining() {
            return Err(bad(&c, "series count larger than index"));
        }
        let mut series = Vec::with_capacity(nseries);
        let mut chunks = Vec::new();
        let mut voff = val_off;
        let mut prev: Option<u64> = None;
        for _ in 0..nseries {
            let d = c.uvarint().ok_or_else(|| bad(&c, "series id"))?;
            let id = match prev {
                None => d,
                Some(p) if d > 0 => p.checked_add(d).ok_or_else(|| bad(&c, "series id"))?,
                Some(_) => return Err(bad(&c, "series ids not ascending")),
            };
            prev = Some(id);
            let id = SeriesId::try_from(id).map_err(|_| bad(&c, "series id out of range"))?;
            let nch = c.uvarint().ok_or_else(|| bad(&c, "chunk count"))? as usize;
            if nch == 0 || nch > c.remaining() {
                return Err(bad(&c, "chunk count out of range"));
            }
            let start = chunks.len() as u32;
            for _ in 0..nch {
                let col = c.uvarint().ok_or_else(|| bad(&c, "chunk column"))? as usize;
                let cm = *cols
                    .get(col)
                    .ok_or_else(|| bad(&c, "chunk refers to a missing column"))?;
                let codec = c.u8().ok_or_else(|| bad(&c, "chunk codec"))?;
                let codec =
                    ValueCodec::try_from(codec).map_err(|_| bad(&c, "unknown value codec"))?;
                if (codec == ValueCodec::Buckets) != (resolution > 0) {
                    return Err(bad(&c, "chunk codec does not match the block's resolution"));
                }
                let len = c.uvarint().ok_or_else(|| bad(&c, "chunk bytes"))? as usize;
                let crc = c.u32_le().ok_or_else(|| bad(&c, "chunk crc"))?;
                let (count, first_t, last_t) = if resolution > 0 {
                    let n = c.uvarint().ok_or_else(|| bad(&c, "chunk sample count"))?;
                    let n = u32::try_from(n).map_err(|_| bad(&c, "chunk sample count"))?;
                    let f = c.varint().ok_or_else(|| bad(&c, "chunk first time"))?;
                    let span = c.uvarint().ok_or_else(|| bad(&c, "chunk span"))?;
                    (n, f, f.wrapping_add(span as i64))
                } else {
                    (cm.n, cm.first_t, cm.last_t)
                };
                let summary = ChunkSummary::decode_values(&mut c, count, first_t, last_t)
                    .ok_or_else(|| bad(&c, "chunk summary"))?;
                let end = voff
                    .checked_add(len)
                    .filter(|&e| e <= val_off + val_len)
                    .ok_or_else(|| bad(&c, "chunk past end of value section"))?;
                let chunk_off = voff;
                voff = end;
                let mut sub = None;
                if sub_res > 0 {
                    let sc = c.uvarint().ok_or_else(|| bad(&c, "sub-summary column"))?;
                    if sc > 0 {
                        let scol = usize::try_from(sc - 1)
                            .ok()
                            .filter(|&i| i < cols.len())
                            .ok_or_else(|| bad(&c, "sub-summary refers to a missing column"))?;
                        let slen =
                            c.uvarint().ok_or_else(|| bad(&c, "sub-summary bytes"))? as usize;
                        let scrc = c.u32_le().ok_or_else(|| bad(&c, "sub-summary crc"))?;
                        let send = voff
                            .checked_add(slen)
                            .filter(|&e| e <= val_off + val_len)
                            .ok_or_else(|| bad(&c, "sub-summary past end of value section"))?;
                        sub = Some((scol as u32, voff, slen, scrc));
                        voff = send;
                    }
                }
                chunks.push(ChunkMeta {
                    col: col as u32,
                    codec,
                    off: chunk_off,
                    len,
                    crc,
                    summary,
                    sub,
                });
            }
            series.push((id, start, chunks.len() as u32));
        }
        if !c.is_empty() {
            return Err(bad(&c, "trailing bytes in index"));
        }
        Ok(Block {
            path,
            seq,
            data,
            level,
            resolution,
            sub_res,
            min_t,
            max_t,
            n_samples,
            sources,
            cols,
            series,
            chunks,
        })
    }

    pub(crate) fn file_size(&self) -> u64 {
        self.data.bytes().len() as u64
    }

    /// Ids of the series in this block, ascending.
    pub(crate) fn series_ids(&self) -> impl Iterator<Item = SeriesId> + '_ {
        self.series.iter().map(|s| s.0)
    }

    /// The chunks of series `id`, in time order (empty if absent).
    pub(crate) fn chunks_of(&self, id: SeriesId) -> &[ChunkMeta] {
        match self.series.binary_search_by_key(&id, |s| s.0) {
            Ok(i) => {
                let (_, a, b) = self.series[i];
                self.chunks.get(a as usize..b as usize).unwrap_or(&[])
            }
            Err(_) => &[],
        }
    }

    pub(crate) fn n_cols(&self) -> usize {
        self.cols.len()
    }

    /// Decodes timestamp column `col` into `out` (appending).
    pub(crate) fn decode_column(&self, col: u32, out: &mut Vec<i64>) -> Result<()> {
        let cm = self
            .cols
            .get(col as usize)
            .ok_or_else(|| Error::corrupt(&self.path, 0, "missing column"))?;
        let bytes = self
            .data
            .bytes()
            .get(cm.off..cm.off + cm.len)
            .ok_or_else(|| Error::corrupt(&self.path, cm.off as u64, "column out of bounds"))?;
        if crc32fast::hash(bytes) != cm.crc {
            return Err(Error::corrupt(
                &self.path,
                cm.off as u64,
                "timestamp column checksum mismatch",
            ));
        }
        decode_timestamps(bytes, cm.n as usize, out).map_err(|e| {
            Error::corrupt(&self.path, cm.off as u64, format!("timestamp column: {e}"))
        })
    }

    fn chunk_bytes(&self, ch: &ChunkMeta) -> Result<&[u8]> {
        let bytes = self
            .data
            .bytes()
            .get(ch.off..ch.off + ch.len)
            .ok_or_else(|| Error::corrupt(&self.path, ch.off as u64, "chunk out of bounds"))?;
        if crc32fast::hash(bytes) != ch.crc {
            return Err(Error::corrupt(
                &self.path,
                ch.off as u64,
                "chunk checksum mismatch",
            ));
        }
        Ok(bytes)
    }

    /// Decodes a raw chunk's values into `out` (appending).
    pub(crate) fn decode_chunk_values(&self, ch: &ChunkMeta, out: &mut Vec<f64>) -> Result<()> {
        let bytes = self.chunk_bytes(ch)?;
        decode_values(ch.codec, bytes, ch.summary.count as usize, out)
            .map_err(|e| Error::corrupt(&self.path, ch.off as u64, format!("chunk values: {e}")))
    }

    /// Decodes chunk `ch` into parallel columns (appending). A tier
    /// block's chunk gives each bucket's view: its last value at its last
    /// time.
    pub(crate) fn decode_chunk(
        &self,
        ch: &ChunkMeta,
        ts: &mut Vec<i64>,
        vs: &mut Vec<f64>,
    ) -> Result<()> {
        if self.resolution > 0 {
            for b in self.decode_buckets(ch)? {
                let v = b.view();
                ts.push(v.t);
                vs.push(v.v);
            }
            return Ok(());
        }
        self.decode_column(ch.col, ts)?;
        self.decode_chunk_values(ch, vs)
    }

    /// The sub-summaries of a raw chunk (empty when it has none), with
    /// only the value columns in `fields` decoded (see
    /// [`downsample::decode_some_buckets`]). `times` is the chunk's bucket
    /// column, [`Block::decode_bucket_times`] of [`Block::sub_column`]:
    /// series scraped together share it, so a reader of many decodes it
    /// once.
    pub(crate) fn decode_sub(
        &self,
        ch: &ChunkMeta,
        times: &downsample::Times,
        fields: downsample::Fields,
    ) -> Result<Vec<Bucket>> {
        let Some((col, off, len, crc)) = ch.sub else {
            return Ok(Vec::new());
        };
        let meta = ChunkMeta {
            col,
            off,
            len,
            crc,
            sub: None,
            ..*ch
        };
        let bytes = self.chunk_bytes(&meta)?;
        downsample::decode_some_buckets(times, bytes, fields)
            .map_err(|e| Error::corrupt(&self.path, off as u64, format!("bucket chunk: {e}")))
    }

    /// The bucket column of a raw chunk's sub-summaries, if it has them.
    pub(crate) fn sub_column(ch: &ChunkMeta) -> Option<u32> {
        ch.sub.map(|s| s.0)
    }

    /// The buckets of a tier block's chunk.
    pub(crate) fn decode_buckets(&self, ch: &ChunkMeta) -> Result<Vec<Bucket>> {
        let times = self.decode_bucket_times(ch.col)?;
        let bytes = self.chunk_bytes(ch)?;
        downsample::decode_buckets(&times, bytes)
            .map_err(|e| Error::corrupt(&self.path, ch.off as u64, format!("bucket chunk: {e}")))
    }

    /// Bucket column `col`: each bucket's start, first and last time and
    /// count, checked against its crc.
    pub(crate) fn decode_bucket_times(&self, col: u32) -> Result<downsample::Times> {
        let cm = self
            .cols
            .get(col as usize)
            .ok_or_else(|| Error::corrupt(&self.path, 0, "missing column"))?;
        let col = self
            .data
            .bytes()
            .get(cm.off..cm.off + cm.len)
            .ok_or_else(|| Error::corrupt(&self.path, cm.off as u64, "column out of bounds"))?;
        if crc32fast::hash(col) != cm.crc {
            return Err(Error::corrupt(
                &self.path,
                cm.off as u64,
                "bucket column checksum mismatch",
            ));
        }
        downsample::decode_times(col, cm.n as usize)
            .map_err(|e| Error::corrupt(&self.path, cm.off as u64, format!("bucket column: {e}")))
    }

    /// Decodes every column and chunk, checking every checksum; returns each
    /// problem found (used by `check` and by tests).
    pub(crate) fn verify(&self) -> Vec<Error> {
        let mut errs = Vec::new();
        if self.resolution > 0 {
            for ch in &self.chunks {
                if let Err(e) = self.decode_buckets(ch) {
                    errs.push(e);
                }
            }
            return errs;
        }
        let mut ts = Vec::new();
        let bucket_cols: std::collections::HashSet<u32> = self
            .chunks
            .iter()
            .filter_map(|c| c.sub.map(|s| s.0))
            .collect();
        for ch in &self.chunks {
            let Some(col) = Block::sub_column(ch) else {
                continue;
            };
            // Per chunk, as a reader meets them: a bad column is reported
            // with every chunk that needs it.
            let res = self
                .decode_bucket_times(col)
                .and_then(|t| self.decode_sub(ch, &t, downsample::Fields::ALL));
            if let Err(e) = res {
                errs.push(e);
            }
        }
        for i in 0..self.cols.len() {
            if bucket_cols.contains(&(i as u32)) {
                continue;
            }
            ts.clear();
            if let Err(e) = self.decode_column(i as u32, &mut ts) {
                errs.push(e);
            }
        }
        let mut vs = Vec::new();
        for ch in &self.chunks {
            vs.clear();
            if let Err(e) = self.decode_chunk_values(ch, &mut vs) {
                errs.push(e);
            }
        }
        errs
    }
}
