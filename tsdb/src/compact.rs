//! Compaction and retention: replacing blocks by fewer, longer ones.
//!
//! Every change has one shape: read some blocks, write one block holding
//! what should remain of them (naming the replaced blocks as its
//! *sources*), publish it atomically, then delete the inputs. A process
//! killed after the publish leaves inputs that a later open recognises as
//! replaced and deletes; killed before it, nothing changed. So the database
//! is always as before or as after, never in between.
//!
//! Levels: level-0 blocks span `block_span_ms` (a day); level `i` merges the
//! blocks of a complete, aligned window of `compaction_spans_ms[i - 1]`.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::block::{self, Block, BlockBuilder};
use crate::db::{merge_runs, window_start, Db, Sample};
use crate::downsample::{self, Bucket};
use crate::error::{Error, Result};
use crate::registry::SeriesId;

/// What a call to [`Db::compact`] did.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CompactReport {
    /// Blocks written (merged windows and rewritten straddling blocks).
    pub blocks_written: usize,
    /// Blocks deleted after being replaced or dropped by retention.
    pub blocks_removed: usize,
    /// Samples dropped because they were past retention.
    pub samples_dropped: u64,
    /// Bytes of block files before and after.
    pub bytes_before: u64,
    /// Bytes of block files after.
    pub bytes_after: u64,
}

impl Db {
    /// Applies retention, then merges every complete window of each
    /// compaction level that holds more than one block. Appends and selects
    /// go on meanwhile; one compaction runs at a time.
    pub fn compact(&self) -> Result<CompactReport> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        let _one_at_a_time = self.compacting.lock().unwrap_or_else(|p| p.into_inner());
        // Head windows that are due go to blocks first, so that old
        // (backfilled) samples waiting in the head are compacted and meet
        // retention like the rest.
        {
            let mut inner = self.write()?;
            self.cut_closed(&mut inner)?;
        }
        let mut rep = CompactReport {
            bytes_before: self.block_bytes(),
            ..CompactReport::default()
        };
        if let Some(keep) = self.opts.retention_ms {
            self.apply_retention(keep, &mut rep)?;
        }
        for i in 0..self.opts.downsampling.len() {
            self.downsample(i, &mut rep)?;
        }
        let spans = self.opts.compaction_spans_ms.clone();
        for (i, span) in spans.into_iter().enumerate() {
            let level = u8::try_from(i + 1).unwrap_or(u8::MAX);
            while let Some(inputs) = self.plan(span) {
                self.replace(&inputs, level, i64::MIN, &mut rep)?;
            }
        }
        rep.bytes_after = self.block_bytes();
        Ok(rep)
    }

    fn block_bytes(&self) -> u64 {
        self.read().blocks.iter().map(|b| b.file_size()).sum()
    }

    /// Newest timestamp stored, and the end of the last window that can no
    /// longer receive samples before being cut (the same rule as the head's).
    fn horizon(&self) -> Option<(i64, i64)> {
        let inner = self.read();
        let newest = inner
            .blocks
            .iter()
            .filter(|b| b.n_samples > 0)
            .map(|b| b.max_t)
            .chain(inner.head.max_t())
            .max()?;
        let h = window_start(
            newest.saturating_sub(self.opts.out_of_order_grace_ms),
            self.opts.block_span_ms,
        );
        Some((newest, h))
    }

    /// The blocks of the oldest complete `span` window that holds several.
    fn plan(&self, span: i64) -> Option<Vec<Arc<Block>>> {
        let (_, horizon) = self.horizon()?;
        let inner = self.read();
        // Blocks merge with blocks of their own resolution only.
        let mut by_window: std::collections::BTreeMap<(i64, i64), Vec<Arc<Block>>> =
            Default::default();
        for b in &inner.blocks {
            let w = window_start(b.min_t, span);
            if b.max_t < w.saturating_add(span) && w.saturating_add(span) <= horizon {
                by_window
                    .entry((w, b.resolution))
                    .or_default()
                    .push(b.clone());
            }
        }
        by_window.into_values().find(|v| v.len() > 1)
    }

    fn apply_retention(&self, keep: i64, rep: &mut CompactReport) -> Result<()> {
        let Some((newest, _)) = self.horizon() else {
            return Ok(());
        };
        let cutoff = newest.saturating_sub(keep);
        let old: Vec<Arc<Block>> = self
            .read()
            .blocks
            .iter()
            .filter(|b| b.min_t < cutoff)
            .cloned()
            .collect();
        for b in old {
            rep.samples_dropped += self.replace(std::slice::from_ref(&b), b.level, cutoff, rep)?;
        }
        Ok(())
    }

    /// Moves the data older than tier `i`'s age into buckets of its
    /// resolution: the finer blocks wholly older are replaced by one tier
    /// block (their sources), then each finer block straddling the age is
    /// rewritten without its older part.
    ///
    /// Between the two steps (a crash) the older part of a straddling
    /// block exists twice, raw and as buckets; readers prefer the finer
    /// data (see `db::read`), so answers do not change, and the next
    /// compaction finishes the job.
    fn downsample(&self, i: usize, rep: &mut CompactReport) -> Result<()> {
        let Some(tier) = self.opts.downsampling.get(i).copied() else {
            return Ok(());
        };
        let Some((newest, cut)) = self.horizon() else {
            return Ok(());
        };
        // Aligned to the block span and to every tier's buckets, so no
        // bucket is split between data moved now and data moved later.
        let align = self
            .opts
            .downsampling
            .iter()
            .map(|t| t.resolution_ms)
            .fold(self.opts.block_span_ms, lcm);
        let h = window_start(newest.saturating_sub(tier.after_ms).min(cut), align);
        let inputs: Vec<Arc<Block>> = self
            .read()
            .blocks
            .iter()
            .filter(|b| b.n_samples > 0 && b.resolution < tier.resolution_ms && b.min_t < h)
            .cloned()
            .collect();
        if inputs.is_empty() {
            return Ok(());
        }
        let (wholly, straddling): (Vec<_>, Vec<_>) =
            inputs.iter().cloned().partition(|b| b.max_t < h);
        let mut builder = BlockBuilder::new_tier(
            0,
            tier.resolution_ms,
            self.opts.max_chunk_samples,
            tier_chunk_span(tier.resolution_ms, self.opts.block_span_ms),
        );
        let mut sorted = inputs.clone();
        sorted.sort_by_key(|b| b.seq);
        let ids: BTreeSet<SeriesId> = sorted.iter().flat_map(|b| b.series_ids()).collect();
        for id in ids {
            let mut buckets = series_buckets(&sorted, id, i64::MIN, h, tier.resolution_ms)?;
            if !self.keeps_resets(id) {
                downsample::forget_resets(&mut buckets);
            }
            builder.add_series_buckets(id, &buckets);
        }
        builder.set_sources(wholly.iter().map(|b| b.seq).collect());
        let new_block = if builder.is_empty() {
            None
        } else {
            Some(self.publish_block(builder)?)
        };
        self.swap(&wholly, new_block, rep)?;
        for b in straddling {
            self.replace(std::slice::from_ref(&b), b.level, h, rep)?;
        }
        Ok(())
    }

    /// Whether series `id`'s buckets keep counter resets.
    fn keeps_resets(&self, id: SeriesId) -> bool {
        let inner = self.read();
        let Some(labels) = inner.registry.labels(id) else {
            return true;
        };
        let name = labels.metric_name();
        downsample::keeps_resets(name, inner.registry.metadata(name))
    }

    /// Writes one block with the data of `inputs` (all of one resolution)
    /// at or after `keep_from` (none if there is none), publishes it, swaps
    /// it in and deletes the inputs. Returns how many input samples were
    /// left out.
    fn replace(
        &self,
        inputs: &[Arc<Block>],
        level: u8,
        keep_from: i64,
        rep: &mut CompactReport,
    ) -> Result<u64> {
        let mut inputs = inputs.to_vec();
        inputs.sort_by_key(|b| b.seq);
        let ids: BTreeSet<SeriesId> = inputs.iter().flat_map(|b| b.series_ids()).collect();
        let res = inputs.first().map_or(0, |b| b.resolution);
        let mut builder = if res > 0 {
            BlockBuilder::new_tier(
                level,
                res,
                self.opts.max_chunk_samples,
                tier_chunk_span(res, self.opts.block_span_ms),
            )
        } else {
            BlockBuilder::new(level, self.opts.max_chunk_samples, self.opts.block_span_ms)
                .with_sub_summaries(self.opts.sub_summary_ms)
        };
        for id in ids {
            if res > 0 {
                let buckets = series_buckets(&inputs, id, keep_from, i64::MAX, res)?;
                builder.add_series_buckets(id, &buckets);
                continue;
            }
            let merged = series_samples(&inputs, id, keep_from, i64::MAX)?;
            if merged.is_empty() {
                continue;
            }
            let (mts, mvs): (Vec<i64>, Vec<f64>) = merged.iter().map(|s| (s.t, s.v)).unzip();
            builder.add_series(id, &mts, &mvs);
        }
        let in_samples: u64 = inputs.iter().map(|b| b.n_samples).sum();
        let out_samples = builder.n_samples();
        let input_seqs: Vec<u64> = inputs.iter().map(|b| b.seq).collect();
        builder.set_sources(input_seqs.clone());
        let new_block = if builder.is_empty() {
            None
        } else {
            Some(self.publish_block(builder)?)
        };
        self.swap(&inputs, new_block, rep)?;
        Ok(in_samples.saturating_sub(out_samples))
    }

    /// Puts `new_block` (already published, naming `inputs` as its
    /// sources) in place of `inputs` and deletes their files.
    fn swap(
        &self,
        inputs: &[Arc<Block>],
        new_block: Option<Arc<Block>>,
        rep: &mut CompactReport,
    ) -> Result<()> {
        let input_seqs: Vec<u64> = inputs.iter().map(|b| b.seq).collect();
        let blocks_dir = self.dir.join("blocks");
        // With nothing left (a block wholly past retention) no block can
        // record the replacement: the input is deleted alone, one block per
        // call, each deletion atomic in itself.
        {
            let mut inner = self.write()?;
            inner.blocks.retain(|b| !input_seqs.contains(&b.seq));
            if let Some(b) = new_block {
                inner.add_block(b);
                rep.blocks_written += 1;
            }
        }
        for seq in &input_seqs {
            let p = blocks_dir.join(block::file_name(*seq));
            match std::fs::remove_file(&p) {
                Ok(()) => rep.blocks_removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("remove", &p, e)),
            }
        }
        crate::fs::sync_dir(&blocks_dir)?;
        Ok(())
    }
}

fn lcm(a: i64, b: i64) -> i64 {
    let (mut x, mut y) = (a.max(1), b.max(1));
    while y != 0 {
        (x, y) = (y, x % y);
    }
    (a.max(1) / x).saturating_mul(b.max(1))
}

/// Chunk span of a tier block: whole level-0 windows holding at least 96
/// buckets, so a chunk's index entry costs little per bucket.
pub(crate) fn tier_chunk_span(res: i64, block_span: i64) -> i64 {
    let windows = (res.saturating_mul(96) / block_span.max(1)).max(1);
    block_span.saturating_mul(windows)
}

/// Samples of series `id` in raw blocks `inputs` (ascending seq: a newer
/// block wins a tie) with `lo <= t < hi`.
fn series_samples(inputs: &[Arc<Block>], id: SeriesId, lo: i64, hi: i64) -> Result<Vec<Sample>> {
    let (mut ts, mut vs) = (Vec::new(), Vec::new());
    let mut runs = Vec::new();
    for b in inputs.iter().filter(|b| b.resolution == 0) {
        for ch in b.chunks_of(id) {
            if ch.summary.last_t < lo || ch.summary.first_t >= hi {
                continue;
            }
            ts.clear();
            vs.clear();
            b.decode_chunk(ch, &mut ts, &mut vs)?;
            let run: Vec<Sample> = ts
                .iter()
                .zip(&vs)
                .filter(|(t, _)| **t >= lo && **t < hi)
                .map(|(&t, &v)| Sample { t, v })
                .collect();
            if !run.is_empty() {
                runs.push(run);
            }
        }
    }
    Ok(merge_runs(runs))
}

/// Buckets of resolution `res` of series `id` over `[lo, hi)` (bucket
/// starts), from blocks `inputs` of resolution `res` or finer, ascending
/// seq. Raw samples are bucketed, finer buckets coarsened; where two
/// sources give the same bucket, the finer one wins, then the newer.
fn series_buckets(
    inputs: &[Arc<Block>],
    id: SeriesId,
    lo: i64,
    hi: i64,
    res: i64,
) -> Result<Vec<Bucket>> {
    let raw = series_samples(inputs, id, lo, hi)?;
    let (ts, vs): (Vec<i64>, Vec<f64>) = raw.iter().map(|s| (s.t, s.v)).unzip();
    let mut by_start: std::collections::BTreeMap<i64, (i64, Bucket)> = Default::default();
    for b in downsample::bucketize(&ts, &vs, res) {
        by_start.insert(b.start, (0, b));
    }
    // Finer tiers first (they win over coarser ones); within a resolution
    // the newer block wins.
    let fine_runs = crate::db::tier_runs(inputs, id, lo, hi, |k| k.start >= lo && k.start < hi)?;
    for (r, run) in fine_runs {
        let run: Vec<Bucket> = run.into_values().collect();
        for c in downsample::coarsen(&run, res) {
            by_start.entry(c.start).or_insert((r, c));
        }
    }
    Ok(by_start.into_values().map(|(_, b)| b).collect())
}

/// A background thread compacting a database at an interval, as `collect`
/// runs it beside its appends. Stops (finishing the compaction under way)
/// when dropped or [`Compactor::stop`]ped.
#[derive(Debug)]
pub struct Compactor {
    stop: std::sync::mpsc::Sender<()>,
    handle: Option<std::thread::JoinHandle<Vec<Error>>>,
}

impl Compactor {
    /// Starts compacting `db` every `interval`, first after one interval.
    /// Appends go on meanwhile: a compaction holds the writer's lock only
    /// to cut closed head windows and to swap blocks, never while merging.
    pub fn start(db: Arc<Db>, interval: std::time::Duration) -> Compactor {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let handle = std::thread::spawn(move || {
            let mut errors = Vec::new();
            loop {
                match rx.recv_timeout(interval) {
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        if let Err(e) = db.compact() {
                            // Kept for the owner; the next round retries.
                            errors.push(e);
                        }
                    }
                    _ => return errors,
                }
            }
        });
        Compactor {
            stop: tx,
            handle: Some(handle),
        }
    }

    /// Stops the thread and returns the errors its compactions met.
    pub fn stop(mut self) -> Vec<Error> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Vec<Error> {
        let _ = self.stop.send(());
        self.handle
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Compactor {
    fn drop(&mut self) {
        self.shutdown();
    }
}
