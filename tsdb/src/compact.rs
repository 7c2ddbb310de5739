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
        let mut by_window: std::collections::BTreeMap<i64, Vec<Arc<Block>>> = Default::default();
        for b in &inner.blocks {
            let w = window_start(b.min_t, span);
            if b.max_t < w.saturating_add(span) && w.saturating_add(span) <= horizon {
                by_window.entry(w).or_default().push(b.clone());
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

    /// Writes one block with the samples of `inputs` at or after
    /// `keep_from` (none if there are none), publishes it, swaps it in and
    /// deletes the inputs. Returns how many input samples were left out.
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
        let mut builder =
            BlockBuilder::new(level, self.opts.max_chunk_samples, self.opts.block_span_ms);
        let mut vs = Vec::new();
        let mut ts = Vec::new();
        for id in ids {
            // Runs in ascending block order, so a newer block wins a tie.
            let mut runs = Vec::new();
            for b in &inputs {
                for ch in b.chunks_of(id) {
                    if ch.summary.last_t < keep_from {
                        continue;
                    }
                    ts.clear();
                    vs.clear();
                    b.decode_chunk(ch, &mut ts, &mut vs)?;
                    let run: Vec<Sample> = ts
                        .iter()
                        .zip(&vs)
                        .filter(|(t, _)| **t >= keep_from)
                        .map(|(&t, &v)| Sample { t, v })
                        .collect();
                    if !run.is_empty() {
                        runs.push(run);
                    }
                }
            }
            let merged = merge_runs(runs);
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
        let blocks_dir = self.dir.join("blocks");
        let new_block = if builder.is_empty() {
            None
        } else {
            Some(self.publish_block(builder)?)
        };
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
        Ok(in_samples.saturating_sub(out_samples))
    }
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
