//! Bulk loading: history written straight to blocks, past the WAL and the
//! head.
//!
//! The normal write path makes every batch durable before it returns: a
//! WAL record and an fsync, then the head, then blocks at the next cut, so
//! each sample is written twice and compressed twice (head chunk, block
//! chunk), and a backfill of many days leaves one block per day that
//! compaction then rewrites into longer ones. An import of a file that is
//! its own durable copy needs none of that: [`BulkLoad`] encodes each
//! series' samples once, day by day, into the chunks a block holds, keeps
//! them in memory (about a byte a sample), and on [`BulkLoad::commit`]
//! writes blocks already as long as compaction would have made them.
//!
//! Durability is per commit: a crash before it loses what was appended
//! since the last commit (never anything stored before), and the import
//! is simply run again; duplicates of stored samples are no-ops.

use std::collections::BTreeMap;

use super::{window_start, AppendReport, Conflict, Db, Inner, Sample, SeriesRef};
use crate::block::{encode_chunks, BlockBuilder, EncodedChunk};
use crate::error::{Error, Result};
use crate::head::Insert;
use crate::registry::SeriesId;

/// Raw samples held before open runs are encoded (16 bytes each).
const RAW_LIMIT: usize = 1 << 20;

/// One series' samples of one day window, time-ordered, not yet encoded.
#[derive(Debug, Default)]
struct Run {
    window: i64,
    ts: Vec<i64>,
    vs: Vec<f64>,
}

impl Run {
    fn insert(&mut self, t: i64, v: f64) -> Insert {
        if self.ts.last().is_none_or(|&l| t > l) {
            self.ts.push(t);
            self.vs.push(v);
            return Insert::Added;
        }
        crate::head::insert_sorted(&mut self.ts, &mut self.vs, t, v)
    }
}

/// A bulk load in progress, started by [`Db::bulk_load`]: history written
/// straight to blocks, past the WAL and the head, each series' samples
/// encoded once per day window into the chunks a block holds and kept in
/// memory (about a byte a sample) until the commit writes them as the
/// blocks compaction would have made.
///
/// Samples appended are checked against what is stored (duplicates are
/// no-ops, conflicts are rejected and reported, as by [`Db::append`]) and
/// become visible to reads and durable at [`commit`](Self::commit).
/// Dropping a `BulkLoad` commits what it holds, ignoring errors; call
/// `commit` to learn of them.
#[derive(Debug)]
pub struct BulkLoad<'db> {
    db: &'db Db,
    /// Per series id, the day window being filled.
    open: Vec<Option<Run>>,
    raw: usize,
    /// Encoded chunks by day window, then series.
    pieces: BTreeMap<i64, BTreeMap<SeriesId, Vec<EncodedChunk>>>,
    piece_bytes: usize,
    piece_limit: usize,
    report: AppendReport,
    scratch: Vec<EncodedChunk>,
}

impl Db {
    /// Starts a bulk load: samples appended through it go straight to
    /// blocks on [`BulkLoad::commit`], without the WAL, and the blocks are
    /// written already compacted. For importing history from a file that
    /// stays available until the load is committed; live collection
    /// should use [`Db::append`].
    ///
    /// ```
    /// # fn main() -> minetsdb::Result<()> {
    /// use minetsdb::{Db, Labels, Options, Sample};
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let r = db.series_ref(&Labels::new("gpu_power_watts", &[("gpu", "0")])?)?;
    /// let mut load = db.bulk_load()?;
    /// let batch: Vec<_> = (0..1440).map(|i| (r, Sample::new(i * 60_000, 120.0))).collect();
    /// load.append(&batch)?;
    /// let report = load.commit()?;
    /// assert_eq!(report.appended, 1440);
    /// # Ok(()) }
    /// ```
    pub fn bulk_load(&self) -> Result<BulkLoad<'_>> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        Ok(BulkLoad {
            db: self,
            open: Vec::new(),
            raw: 0,
            pieces: BTreeMap::new(),
            piece_bytes: 0,
            // The head's bound, at about 8 bytes a sample encoded: a load
            // larger than this is written in parts (compaction merges them).
            piece_limit: self.opts.max_head_samples.saturating_mul(8),
            report: AppendReport::default(),
            scratch: Vec::new(),
        })
    }
}

impl BulkLoad<'_> {
    /// Adds samples (any order, any age). The report counts this batch;
    /// nothing is durable or visible before [`commit`](Self::commit).
    pub fn append(&mut self, batch: &[(SeriesRef, Sample)]) -> Result<AppendReport> {
        let db = self.db;
        let span = db.opts.block_span_ms;
        let mut rep = AppendReport::default();
        {
            let mut inner = db.write()?;
            let n_series = inner.registry.len();
            if self.open.len() < n_series {
                self.open.resize_with(n_series, || None);
            }
            for &(SeriesRef(id), s) in batch {
                let i = id as usize;
                if i >= n_series {
                    return Err(Error::InvalidArgument(format!(
                        "series ref {id} was not issued by this database"
                    )));
                }
                if let Some(old) = inner.stored_value(id, s.t) {
                    if old.to_bits() == s.v.to_bits() {
                        rep.duplicates += 1;
                    } else {
                        note_conflict(&mut rep, &inner, id, s, old);
                    }
                    continue;
                }
                let w = window_start(s.t, span);
                if self.open[i].as_ref().is_none_or(|r| r.window != w) {
                    self.switch(id, w);
                }
                let Some(run) = self.open[i].as_mut() else {
                    continue; // unreachable: switch opened it
                };
                match run.insert(s.t, s.v) {
                    Insert::Added => {
                        rep.appended += 1;
                        self.raw += 1;
                    }
                    Insert::Duplicate => rep.duplicates += 1,
                    Insert::Conflict(old) => note_conflict(&mut rep, &inner, id, s, old),
                }
            }
        }
        if self.raw > RAW_LIMIT {
            self.encode_open();
        }
        self.report.appended += rep.appended;
        self.report.duplicates += rep.duplicates;
        self.report.conflicts += rep.conflicts;
        for c in &rep.conflict_examples {
            if self.report.conflict_examples.len() < 16 {
                self.report.conflict_examples.push(c.clone());
            }
        }
        if self.piece_bytes > self.piece_limit {
            self.write_blocks()?;
        }
        Ok(rep)
    }

    /// Writes everything appended so far to blocks (durable and visible
    /// on return) and returns what the whole load did.
    pub fn commit(mut self) -> Result<AppendReport> {
        self.write_blocks()?;
        Ok(std::mem::take(&mut self.report))
    }

    /// Makes window `w` series `id`'s open run: the run it had is encoded,
    /// and chunks already encoded for `(w, id)` are decoded to take more.
    fn switch(&mut self, id: SeriesId, w: i64) {
        let i = id as usize;
        if let Some(run) = self.open[i].take() {
            self.encode_run(id, run);
        }
        let mut run = Run {
            window: w,
            ..Run::default()
        };
        if let Some(chunks) = self.pieces.get_mut(&w).and_then(|m| m.remove(&id)) {
            for c in &chunks {
                self.piece_bytes = self.piece_bytes.saturating_sub(c.heap_bytes());
                decode_own(c, &mut run.ts, &mut run.vs);
            }
            self.raw += run.ts.len();
        }
        self.open[i] = Some(run);
    }

    fn encode_run(&mut self, id: SeriesId, run: Run) {
        self.raw = self.raw.saturating_sub(run.ts.len());
        if run.ts.is_empty() {
            return;
        }
        let o = &self.db.opts;
        let chunks = self
            .pieces
            .entry(run.window)
            .or_default()
            .entry(id)
            .or_default();
        // Chunks of this window encoded earlier (the run was reopened and
        // then left) are merged in, so each (window, series) is one run.
        let (ts, vs) = if chunks.is_empty() {
            (run.ts, run.vs)
        } else {
            let mut old = Run::default();
            for c in chunks.drain(..) {
                self.piece_bytes = self.piece_bytes.saturating_sub(c.heap_bytes());
                decode_own(&c, &mut old.ts, &mut old.vs);
            }
            for (&t, &v) in run.ts.iter().zip(&run.vs) {
                old.insert(t, v);
            }
            (old.ts, old.vs)
        };
        self.scratch.clear();
        encode_chunks(
            &ts,
            &vs,
            o.max_chunk_samples,
            o.block_span_ms,
            o.sub_summary_ms,
            &mut self.scratch,
        );
        self.piece_bytes += self
            .scratch
            .iter()
            .map(EncodedChunk::heap_bytes)
            .sum::<usize>();
        chunks.append(&mut self.scratch);
    }

    fn encode_open(&mut self) {
        for i in 0..self.open.len() {
            if let Some(run) = self.open[i].take() {
                self.encode_run(i as SeriesId, run);
            }
        }
        self.raw = 0;
    }

    /// Writes every encoded window to blocks. A window of a compaction
    /// span that is complete (behind the newest sample by more than the
    /// out-of-order grace, as [`Db::compact`] decides) and has no block
    /// yet becomes one block of that span's level; other days one block
    /// each, which compaction merges later as usual.
    fn write_blocks(&mut self) -> Result<()> {
        self.encode_open();
        if self.pieces.values().all(BTreeMap::is_empty) {
            self.pieces.clear();
            return Ok(());
        }
        let db = self.db;
        let o = &db.opts;
        let mut inner = db.write()?;
        // Blocks name series by id: the ids must be durable first.
        inner.registry.commit()?;
        let newest = self
            .pieces
            .values()
            .flat_map(|m| m.values())
            .filter_map(|cs| cs.last().map(|c| c.last_t))
            .chain(inner.head.max_t())
            .chain(
                inner
                    .blocks
                    .iter()
                    .filter(|b| b.n_samples > 0)
                    .map(|b| b.max_t),
            )
            .max()
            .unwrap_or(i64::MIN);
        let horizon = window_start(
            newest.saturating_sub(o.out_of_order_grace_ms),
            o.block_span_ms,
        );
        // Day windows grouped into the blocks they make: (start, level).
        let mut groups: BTreeMap<(i64, u8), Vec<i64>> = BTreeMap::new();
        for &day in self.pieces.keys() {
            let mut target = (day, 0u8);
            for (i, &span) in o.compaction_spans_ms.iter().enumerate().rev() {
                let ws = window_start(day, span);
                let we = ws.saturating_add(span);
                let taken = inner
                    .blocks
                    .iter()
                    .any(|b| b.resolution == 0 && b.min_t < we && b.max_t >= ws);
                if we <= horizon && !taken {
                    target = (ws, u8::try_from(i + 1).unwrap_or(u8::MAX));
                    break;
                }
            }
            groups.entry(target).or_default().push(day);
        }
        let mut builders = Vec::new();
        let mut written = Vec::new();
        for ((_, level), days) in groups {
            let mut by_series: BTreeMap<SeriesId, Vec<&EncodedChunk>> = BTreeMap::new();
            for day in &days {
                if let Some(m) = self.pieces.get(day) {
                    for (&id, cs) in m {
                        by_series.entry(id).or_default().extend(cs.iter());
                    }
                }
            }
            let mut b = BlockBuilder::new(level, o.max_chunk_samples, o.block_span_ms)
                .with_sub_summaries(o.sub_summary_ms);
            for (id, cs) in &by_series {
                b.add_encoded(*id, cs);
            }
            if !b.is_empty() {
                builders.push(b);
            }
            written.extend(days);
        }
        inner.publish_blocks(&db.dir.join("blocks"), builders)?;
        for day in written {
            self.pieces.remove(&day);
        }
        self.piece_bytes = 0;
        Ok(())
    }
}

impl Drop for BulkLoad<'_> {
    fn drop(&mut self) {
        let _ = self.write_blocks();
    }
}

fn note_conflict(rep: &mut AppendReport, inner: &Inner, id: SeriesId, s: Sample, stored: f64) {
    rep.conflicts += 1;
    if rep.conflict_examples.len() < 16 {
        rep.conflict_examples.push(Conflict {
            labels: inner.registry.labels(id).cloned().unwrap_or_default(),
            t: s.t,
            stored,
            rejected: s.v,
        });
    }
}

#[expect(
    clippy::expect_used,
    reason = "these chunks were encoded in memory by this module, never read from disk; \
              a failure to decode them is a bug in the codecs, not bad input"
)]
fn decode_own(c: &EncodedChunk, ts: &mut Vec<i64>, vs: &mut Vec<f64>) {
    c.decode_into(ts, vs).expect("bulk load chunk decodes");
}
