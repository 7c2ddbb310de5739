//! Repair: keep what is readable, set damaged files aside, delete nothing.
//!
//! A torn or corrupt WAL tail is already cut by every writable open. What
//! is left for repair is blocks: one whose index cannot be read is moved to
//! `<db>/damaged/`; one with unreadable chunks or columns is rewritten
//! without them (every chunk that still passes its checksum is kept) and
//! the original moved aside, so an operator can still inspect or recover it.

use std::path::PathBuf;
use std::sync::Arc;

use crate::block::{self, Block, BlockBuilder};
use crate::db::Db;
use crate::error::{Error, Result};

/// What [`Db::repair`] did.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RepairReport {
    /// Files moved to `<db>/damaged/` (their new paths).
    pub moved: Vec<PathBuf>,
    /// Blocks rewritten with their readable chunks.
    pub salvaged_blocks: usize,
    /// Samples in chunks that could not be read and were left behind.
    pub samples_lost: u64,
}

impl Db {
    /// Moves damaged blocks aside, salvaging their readable chunks into new
    /// blocks. Run on a database opened for writing.
    pub fn repair(&self) -> Result<RepairReport> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        let _one_at_a_time = self.compacting.lock().unwrap_or_else(|p| p.into_inner());
        let mut rep = RepairReport::default();
        let blocks_dir = self.dir.join("blocks");
        let damaged_dir = self.dir.join("damaged");
        // Blocks that did not open at all.
        let unopened: Vec<PathBuf> = self
            .open_report()
            .damage
            .iter()
            .filter(|d| d.file.extension().is_some_and(|e| e == "blk") && d.file.exists())
            .map(|d| d.file.clone())
            .collect();
        for p in unopened {
            rep.moved.push(self.move_aside(&p, &damaged_dir)?);
        }
        // Blocks that opened but hold unreadable chunks.
        let blocks: Vec<Arc<Block>> = self.read().blocks.clone();
        for b in blocks {
            if b.verify().is_empty() {
                continue;
            }
            let mut builder = if b.resolution > 0 {
                BlockBuilder::new_tier(
                    b.level,
                    b.resolution,
                    self.opts.max_chunk_samples,
                    crate::compact::tier_chunk_span(b.resolution, self.opts.block_span_ms),
                )
            } else {
                BlockBuilder::new(
                    b.level,
                    self.opts.max_chunk_samples,
                    self.opts.block_span_ms,
                )
            };
            let (mut ts, mut vs) = (Vec::new(), Vec::new());
            for id in b.series_ids() {
                if b.resolution > 0 {
                    let mut kept = Vec::new();
                    for ch in b.chunks_of(id) {
                        match b.decode_buckets(ch) {
                            Ok(k) => kept.extend(k),
                            Err(_) => rep.samples_lost += u64::from(ch.summary.count),
                        }
                    }
                    builder.add_series_buckets(id, &kept);
                    continue;
                }
                let (mut sts, mut svs) = (Vec::new(), Vec::new());
                for ch in b.chunks_of(id) {
                    ts.clear();
                    vs.clear();
                    if b.decode_chunk(ch, &mut ts, &mut vs).is_ok() && ts.len() == vs.len() {
                        sts.extend_from_slice(&ts);
                        svs.extend_from_slice(&vs);
                    } else {
                        rep.samples_lost += u64::from(ch.summary.count);
                    }
                }
                if !sts.is_empty() {
                    builder.add_series(id, &sts, &svs);
                }
            }
            let old_path = blocks_dir.join(block::file_name(b.seq));
            let salvaged = if builder.is_empty() {
                None
            } else {
                // Published before the original moves, so a crash between
                // leaves both (read merged), never neither.
                rep.salvaged_blocks += 1;
                Some(self.publish_block(builder)?)
            };
            rep.moved.push(self.move_aside(&old_path, &damaged_dir)?);
            let mut inner = self.write()?;
            inner.blocks.retain(|x| x.seq != b.seq);
            if let Some(nb) = salvaged {
                inner.add_block(nb);
            }
        }
        Ok(rep)
    }

    fn move_aside(&self, path: &std::path::Path, damaged_dir: &std::path::Path) -> Result<PathBuf> {
        crate::fs::create_dir(damaged_dir)?;
        let name = path.file_name().ok_or_else(|| {
            Error::InvalidArgument(format!("{} has no file name", path.display()))
        })?;
        let mut dst = damaged_dir.join(name);
        let mut n = 1;
        while dst.exists() {
            dst = damaged_dir.join(format!("{}.{n}", name.to_string_lossy()));
            n += 1;
        }
        std::fs::rename(path, &dst).map_err(|e| Error::io("move aside", path, e))?;
        if let Some(parent) = path.parent() {
            crate::fs::sync_dir(parent)?;
        }
        crate::fs::sync_dir(damaged_dir)?;
        Ok(dst)
    }
}
