//! `Db`: the only module that knows the registry, the WAL, the head and the
//! blocks, and the order in which they must be written so that a crash at
//! any point loses nothing that was acknowledged.
//!
//! Write path: new series -> registry (fsync) -> WAL record (fsync) ->
//! head. Cut: head windows -> block files (publish) -> fresh WAL segment
//! holding what stays in the head (fsync) -> older segments removed.
//! A crash between any two steps replays to the same data, because
//! appending a sample that is already stored is a no-op.

use std::collections::HashMap;
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::block::{self, Block, BlockBuilder};
use crate::error::{Error, Result};
use crate::fs::DirLock;
use crate::head::{Head, Insert};
use crate::labels::Labels;
use crate::matcher::Matcher;
use crate::options::Options;
use crate::registry::{Damage, Metadata, Registry, SeriesId};
use crate::wal;

mod bulk;
mod read;

pub use bulk::BulkLoad;
pub use read::SeriesIter;
pub(crate) use read::{merge_runs, tier_runs, Piece};

/// One sample: a timestamp in ms since the Unix epoch and a value.
///
/// Equality compares the value's bits, so NaN equals the same NaN and
/// `0.0 != -0.0`: the database stores bits, and so do its tests.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    /// The value; every bit pattern is stored exactly.
    pub v: f64,
}

impl Sample {
    /// A sample at `t` ms with value `v`.
    pub fn new(t: i64, v: f64) -> Sample {
        Sample { t, v }
    }
}

impl PartialEq for Sample {
    fn eq(&self, o: &Sample) -> bool {
        self.t == o.t && self.v.to_bits() == o.v.to_bits()
    }
}

/// A handle to a registered series, cheaper to append with than labels.
/// Valid only for the `Db` that issued it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesRef(SeriesId);

/// A sample rejected because a different value is stored at its timestamp.
#[derive(Debug, Clone)]
pub struct Conflict {
    /// The series.
    pub labels: Labels,
    /// The timestamp.
    pub t: i64,
    /// The value already stored (kept).
    pub stored: f64,
    /// The value offered (rejected).
    pub rejected: f64,
}

/// What an append did with each sample.
#[derive(Debug, Clone, Default)]
pub struct AppendReport {
    /// Samples stored.
    pub appended: usize,
    /// Samples identical to one already stored (no-ops).
    pub duplicates: usize,
    /// Samples rejected: same timestamp, different value.
    pub conflicts: usize,
    /// The first few conflicts, for the message to the user.
    pub conflict_examples: Vec<Conflict>,
}

/// What was found and repaired when the database was opened.
#[derive(Debug, Clone, Default)]
pub struct OpenReport {
    /// Blocks opened.
    pub blocks: usize,
    /// WAL records replayed.
    pub wal_records: usize,
    /// Samples replayed into the head.
    pub wal_samples: usize,
    /// Damage found: torn tails cut, corrupt regions skipped, blocks that
    /// failed to open (left in place, not read).
    pub damage: Vec<Damage>,
}

/// One series and its samples in the selected range, in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The series' labels.
    pub labels: Labels,
    /// Samples in ascending time order.
    pub samples: Vec<Sample>,
}

/// Counts describing the database.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Series registered.
    pub series: usize,
    /// Block files.
    pub blocks: usize,
    /// Samples in blocks.
    pub block_samples: u64,
    /// Bytes of block files.
    pub block_bytes: u64,
    /// Samples in the head (in the WAL, not yet in a block).
    pub head_samples: usize,
    /// Bytes of memory the head's samples take.
    pub head_bytes: usize,
    /// Oldest and newest timestamp stored, if any.
    pub time_range: Option<(i64, i64)>,
    /// Bytes of every file in the database directory (blocks, WAL,
    /// registry, lock).
    pub disk_bytes: u64,
    /// Number of blocks at each compaction level.
    pub blocks_per_level: std::collections::BTreeMap<u8, usize>,
    /// Per resolution (0 = raw samples, else the bucket width in ms of a
    /// downsampling tier): block bytes, and the samples they stand for.
    pub by_resolution: std::collections::BTreeMap<i64, (u64, u64)>,
}

fn dir_bytes(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

pub(crate) struct Inner {
    pub(crate) registry: Registry,
    pub(crate) head: Head,
    pub(crate) blocks: Vec<Arc<Block>>,
    /// Per series, the newest timestamp held in any block.
    blocks_max_t: Vec<i64>,
    wal: Option<wal::WalWriter>,
    pub(crate) next_seq: u64,
    /// The cut boundary reached so far (see `maybe_cut`).
    cut_horizon: i64,
    poisoned: Option<String>,
    report: OpenReport,
    /// Last block chunk decoded by the duplicate check (backfill reads
    /// the same chunk for many consecutive samples).
    dup_cache: Option<(u64, usize, Vec<i64>, Vec<f64>)>,
    wal_buf: Vec<u8>,
}

/// An embedded time-series database in one directory.
///
/// See the crate documentation for an example. A `Db` is `Send + Sync`:
/// appends are serialised internally, and selects run beside them.
pub struct Db {
    pub(crate) dir: PathBuf,
    pub(crate) opts: Options,
    pub(crate) read_only: bool,
    pub(crate) inner: RwLock<Inner>,
    /// Serialises compactions; appends never take it.
    pub(crate) compacting: std::sync::Mutex<()>,
    _lock: Option<DirLock>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("dir", &self.dir)
            .field("read_only", &self.read_only)
            .finish()
    }
}

fn damage_of(e: &Error) -> Damage {
    match e {
        Error::Corrupt { file, offset, what } => Damage {
            file: file.clone(),
            offset: *offset,
            len: 0,
            what: what.clone(),
        },
        other => Damage {
            file: PathBuf::new(),
            offset: 0,
            len: 0,
            what: other.to_string(),
        },
    }
}

pub(crate) fn window_start(t: i64, span: i64) -> i64 {
    t.div_euclid(span).saturating_mul(span)
}

impl Db {
    /// Opens (creating if needed) the database in `dir` for writing.
    ///
    /// Takes the writer lock: a second writer fails at once with
    /// [`Error::Locked`] naming the holder's pid. Replays the WAL, cutting a
    /// torn tail; what was repaired is in [`Db::open_report`].
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Db> {
        opts.validate()?;
        let dir = dir.as_ref().to_path_buf();
        crate::fs::create_dir(&dir)?;
        let lock = DirLock::acquire(&dir)?;
        let blocks_dir = dir.join("blocks");
        crate::fs::create_dir(&blocks_dir)?;
        crate::fs::remove_tmp_files(&blocks_dir)?;
        let registry = Registry::open(&dir.join("series"), true)?;
        let mut inner = Inner::new(registry);
        inner
            .report
            .damage
            .extend(inner.registry.damage.iter().cloned());
        inner.load_blocks(&blocks_dir, true)?;
        inner.reserve_block_ids();
        let wal_dir = dir.join("wal");
        let rep = wal::replay(&wal_dir, wal::ReplayMode::Repair, |at, rec| {
            inner.replay_record(at, rec);
            Ok(())
        })?;
        inner.add_wal_report(&rep);
        inner.wal = Some(wal::WalWriter::open_writer(
            &wal_dir,
            opts.wal_segment_bytes,
        )?);
        let db = Db {
            dir,
            opts,
            read_only: false,
            inner: RwLock::new(inner),
            compacting: std::sync::Mutex::new(()),
            _lock: Some(lock),
        };
        {
            let mut inner = db.write()?;
            db.maybe_cut(&mut inner, true)?;
        }
        Ok(db)
    }

    /// Opens the database in `dir` for reading only, beside a running
    /// writer: takes no lock and changes no file. Sees every published
    /// block and every acknowledged append up to the moment of opening.
    pub fn open_read_only(dir: impl AsRef<Path>, opts: Options) -> Result<Db> {
        opts.validate()?;
        let dir = dir.as_ref().to_path_buf();
        if !dir.join("series").exists() {
            return Err(Error::io(
                "open database",
                &dir,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no database here"),
            ));
        }
        // Order matters against a concurrent writer: the WAL first, then
        // blocks (a segment deleted meanwhile is in a block published
        // before the deletion), then the registry last so that it names
        // every series either of them uses. Samples seen twice (in the WAL
        // and a fresh block) are merged away at read time.
        let wal_dir = dir.join("wal");
        let mut attempt = 0;
        let (head, records, samples, bad_records, rep) = loop {
            let mut head = Head::default();
            let mut records = 0usize;
            let mut samples = 0usize;
            let mut bad_records = Vec::new();
            let rep = if wal_dir.exists() {
                Some(wal::replay(
                    &wal_dir,
                    wal::ReplayMode::ReadOnly,
                    |at, rec| {
                        match wal::decode_record_at(at.file, at.offset, rec) {
                            Ok(wal::Record::Samples(s)) => {
                                records += 1;
                                for r in s {
                                    samples += 1;
                                    head.insert(r.series, r.t, r.v);
                                }
                            }
                            Err(e) => bad_records.push(e),
                        }
                        Ok(())
                    },
                )?)
            } else {
                None
            };
            // A segment that vanished was replaced by a block and a newer
            // segment this pass may have missed: read the WAL again.
            attempt += 1;
            if rep.as_ref().is_none_or(|r| r.vanished.is_empty()) || attempt >= 5 {
                break (head, records, samples, bad_records, rep);
            }
        };
        let registry = Registry::open(&dir.join("series"), false)?;
        let mut inner = Inner::new(registry);
        inner.head = head;
        inner
            .report
            .damage
            .extend(inner.registry.damage.iter().cloned());
        inner.load_blocks(&dir.join("blocks"), false)?;
        if let Some(rep) = rep {
            inner.add_wal_report(&rep);
        }
        for e in bad_records {
            inner.report.damage.push(damage_of(&e));
        }
        inner.report.wal_records = records;
        inner.report.wal_samples = samples;
        Ok(Db {
            dir,
            opts,
            read_only: true,
            inner: RwLock::new(inner),
            compacting: std::sync::Mutex::new(()),
            _lock: None,
        })
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Inner> {
        // A panic while holding the lock cannot leave Inner half-updated in
        // a way reads care about; keep serving.
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn write(&self) -> Result<RwLockWriteGuard<'_, Inner>> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        let g = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if let Some(cause) = &g.poisoned {
            return Err(Error::Poisoned {
                cause: cause.clone(),
            });
        }
        Ok(g)
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// What opening found and repaired.
    pub fn open_report(&self) -> OpenReport {
        self.read().report.clone()
    }

    /// Registers `labels` (if new) and returns a handle for fast appends.
    /// The registration becomes durable with the next append.
    pub fn series_ref(&self, labels: &Labels) -> Result<SeriesRef> {
        let mut inner = self.write()?;
        inner.registry.get_or_create(labels).map(SeriesRef)
    }

    /// The labels of a handle.
    pub fn labels_of(&self, r: SeriesRef) -> Option<Labels> {
        self.read().registry.labels(r.0).cloned()
    }

    /// Appends a batch and returns once it is durable (one fsync per batch).
    ///
    /// Samples may come in any order and for any time, old or new. A
    /// sample identical to one stored is a no-op; one with the timestamp of
    /// a stored sample but another value is rejected alone, counted in the
    /// report, and the rest of the batch is stored.
    pub fn append(&self, batch: &[(SeriesRef, Sample)]) -> Result<AppendReport> {
        self.append_with(batch, true)
    }

    /// [`Db::append`] for a bulk load of history (`import`), followed by a
    /// [`Db::flush`] when done. Durable on return just the same; the
    /// difference is when the head is cut to blocks: only when it is full,
    /// not each time new data closes a window. A backfill written series
    /// after series closes every window with its first batch, and cutting
    /// there writes each window's block twice (the first series, then the
    /// rest at the flush), with a WAL rewrite in between.
    pub fn append_backfill(&self, batch: &[(SeriesRef, Sample)]) -> Result<AppendReport> {
        self.append_with(batch, false)
    }

    fn append_with(
        &self,
        batch: &[(SeriesRef, Sample)],
        cut_closed_windows: bool,
    ) -> Result<AppendReport> {
        let mut inner = self.write()?;
        self.maybe_cut(&mut inner, cut_closed_windows)?;
        let mut rep = AppendReport::default();
        let mut accepted = Vec::with_capacity(batch.len());
        let n_series = inner.registry.len();
        for &(SeriesRef(id), s) in batch {
            if id as usize >= n_series {
                return Err(Error::InvalidArgument(format!(
                    "series ref {id} was not issued by this database"
                )));
            }
            match inner.insert(id, s.t, s.v) {
                Insert::Added => {
                    rep.appended += 1;
                    accepted.push(wal::RefSample {
                        series: id,
                        t: s.t,
                        v: s.v,
                    });
                }
                Insert::Duplicate => rep.duplicates += 1,
                Insert::Conflict(stored) => {
                    rep.conflicts += 1;
                    if rep.conflict_examples.len() < 16 {
                        let labels = inner.registry.labels(id).cloned().unwrap_or_default();
                        rep.conflict_examples.push(Conflict {
                            labels,
                            t: s.t,
                            stored,
                            rejected: s.v,
                        });
                    }
                }
            }
        }
        if let Err(e) = inner.log(&accepted) {
            // The head now holds samples that may not be durable; refuse
            // further writes rather than acknowledge on a broken log.
            inner.poisoned = Some(e.to_string());
            return Err(e);
        }
        Ok(rep)
    }

    /// Appends samples named by labels, registering new series.
    pub fn append_labeled(&self, batch: &[(Labels, Sample)]) -> Result<AppendReport> {
        let refs = {
            let mut inner = self.write()?;
            let mut cache: HashMap<&Labels, SeriesId> = HashMap::new();
            let mut refs = Vec::with_capacity(batch.len());
            for (l, s) in batch {
                let id = match cache.get(l) {
                    Some(&id) => id,
                    None => {
                        let id = inner.registry.get_or_create(l)?;
                        cache.insert(l, id);
                        id
                    }
                };
                refs.push((SeriesRef(id), *s));
            }
            refs
        };
        self.append(&refs)
    }

    /// Records type, unit and help of a metric name; durable on return.
    pub fn set_metadata(&self, metric: &str, md: Metadata) -> Result<()> {
        crate::labels::check_metric_name(metric)?;
        let mut inner = self.write()?;
        inner.registry.set_metadata(metric, &md)?;
        inner.registry.commit()
    }

    /// Records the metadata of several metrics with one sync (what a scrape
    /// exposes); unchanged entries cost nothing. Fails on the first invalid
    /// metric name, recording none.
    pub fn set_metadata_many(&self, items: &[(String, Metadata)]) -> Result<()> {
        for (metric, _) in items {
            crate::labels::check_metric_name(metric)?;
        }
        let mut inner = self.write()?;
        for (metric, md) in items {
            inner.registry.set_metadata(metric, md)?;
        }
        inner.registry.commit()
    }

    /// Metadata of a metric name, if any was recorded.
    pub fn metadata(&self, metric: &str) -> Option<Metadata> {
        self.read().registry.metadata(metric).cloned()
    }

    /// All recorded metadata, by metric name.
    pub fn all_metadata(&self) -> Vec<(String, Metadata)> {
        self.read()
            .registry
            .all_metadata()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Writes everything in the head to blocks now and empties the WAL.
    pub fn flush(&self) -> Result<()> {
        let mut inner = self.write()?;
        match inner.head.max_t() {
            Some(max_t) => self.cut(&mut inner, max_t.saturating_add(1)),
            None => Ok(()),
        }
    }

    /// Cuts head windows whose span (plus the out-of-order grace) is over,
    /// or everything when the head has reached its size bound.
    /// Cuts every window that is closed (by the grace rule), including late
    /// samples waiting in the head for windows cut before.
    pub(crate) fn cut_closed(&self, inner: &mut Inner) -> Result<()> {
        let Some(max_t) = inner.head.max_t() else {
            return Ok(());
        };
        let horizon = window_start(
            max_t.saturating_sub(self.opts.out_of_order_grace_ms),
            self.opts.block_span_ms,
        );
        if inner.head.min_t().is_some_and(|m| m < horizon) {
            self.cut(inner, horizon)?;
        }
        inner.cut_horizon = inner.cut_horizon.max(horizon);
        Ok(())
    }

    /// `closed_windows: false` cuts only a full head (see
    /// [`Db::append_backfill`]).
    pub(crate) fn maybe_cut(&self, inner: &mut Inner, closed_windows: bool) -> Result<()> {
        let (Some(min_t), Some(max_t)) = (inner.head.min_t(), inner.head.max_t()) else {
            return Ok(());
        };
        let span = self.opts.block_span_ms;
        let full = inner.head.n_samples() >= self.opts.max_head_samples;
        let horizon = window_start(max_t.saturating_sub(self.opts.out_of_order_grace_ms), span);
        // Cut when the newest data has closed a window since the last cut
        // (live collection: once a day), or when the head is full. Late
        // samples for closed windows wait in the head until then: a
        // backfill arriving series by series thus becomes one block per
        // window, not a block per window per batch.
        let before = if full {
            max_t.saturating_add(1)
        } else if closed_windows && horizon > inner.cut_horizon {
            horizon
        } else {
            return Ok(());
        };
        if min_t < before {
            self.cut(inner, before)?;
        }
        inner.cut_horizon = inner.cut_horizon.max(horizon);
        Ok(())
    }

    /// Publishes a built block under the next sequence number and opens
    /// it. The caller swaps it into `Inner::blocks`.
    pub(crate) fn publish_block(&self, builder: BlockBuilder) -> Result<Arc<Block>> {
        let seq = {
            let mut inner = self.write()?;
            let s = inner.next_seq;
            inner.next_seq += 1;
            s
        };
        let path = self.dir.join("blocks").join(block::file_name(seq));
        crate::fs::publish(&path, &builder.finish())?;
        Ok(Arc::new(Block::open(&path, seq)?))
    }

    fn cut(&self, inner: &mut Inner, before: i64) -> Result<()> {
        let taken = inner.head.take_before(before);
        if taken.is_empty() {
            return Ok(());
        }
        match self.write_blocks(inner, &taken) {
            Ok(()) => {}
            Err(e) => {
                // Nothing is lost (the WAL still has it all); put the
                // samples back so reads keep seeing them.
                for (id, s) in &taken {
                    for (&t, &v) in s.ts.iter().zip(&s.vs) {
                        inner.head.insert(*id, t, v);
                    }
                }
                return Err(e);
            }
        }
        // Blocks are published: start a new segment holding what stays in
        // the head, and only then drop the segments the blocks replaced.
        let res = (|| -> Result<()> {
            let mut rest = Vec::with_capacity(inner.head.n_samples());
            for (id, s) in inner.head.all_columns() {
                for (&t, &v) in s.ts.iter().zip(&s.vs) {
                    rest.push(wal::RefSample { series: id, t, v });
                }
            }
            let w = inner.wal.as_mut().ok_or(Error::ReadOnly)?;
            let seg = w.rotate()?;
            inner.log(&rest)?;
            let w = inner.wal.as_mut().ok_or(Error::ReadOnly)?;
            w.remove_segments_before(seg)?;
            Ok(())
        })();
        if let Err(e) = &res {
            inner.poisoned = Some(e.to_string());
        }
        res
    }

    fn write_blocks(
        &self,
        inner: &mut Inner,
        taken: &[(SeriesId, crate::head::Columns)],
    ) -> Result<()> {
        let span = self.opts.block_span_ms;
        let mut windows: Vec<i64> = taken
            .iter()
            .flat_map(|(_, s)| {
                let first = s.ts.first().copied();
                let last = s.ts.last().copied();
                first.into_iter().chain(last).map(|t| window_start(t, span))
            })
            .collect();
        // Windows strictly between first and last of some series too.
        let (lo, hi) = match (windows.iter().min(), windows.iter().max()) {
            (Some(&lo), Some(&hi)) => (lo, hi),
            _ => return Ok(()),
        };
        windows.clear();
        let mut w = lo;
        while w <= hi {
            windows.push(w);
            w = match w.checked_add(span) {
                Some(n) => n,
                None => break,
            };
        }
        let mut built = Vec::new();
        for w in windows {
            let end = w.saturating_add(span);
            let mut b = BlockBuilder::new(0, self.opts.max_chunk_samples, span)
                .with_sub_summaries(self.opts.sub_summary_ms);
            for (id, s) in taken {
                let a = s.ts.partition_point(|&t| t < w);
                let z = s.ts.partition_point(|&t| t < end);
                if a < z {
                    b.add_series(*id, &s.ts[a..z], &s.vs[a..z]);
                }
            }
            if !b.is_empty() {
                built.push(b);
            }
        }
        inner.publish_blocks(&self.dir.join("blocks"), built)
    }
}

impl Inner {
    fn new(registry: Registry) -> Inner {
        Inner {
            registry,
            head: Head::default(),
            blocks: Vec::new(),
            blocks_max_t: Vec::new(),
            wal: None,
            next_seq: 1,
            cut_horizon: i64::MIN,
            poisoned: None,
            report: OpenReport::default(),
            dup_cache: None,
            wal_buf: Vec::new(),
        }
    }

    /// Opens every block in `dir`. Blocks named as sources by another block
    /// were replaced by it (a compaction that stopped before deleting its
    /// inputs): they are not read, and a writer deletes them, finishing the
    /// compaction. A block that vanishes between listing and opening was
    /// replaced by one the listing may have missed, so the listing is
    /// retried.
    fn load_blocks(&mut self, dir: &Path, writable: bool) -> Result<()> {
        let mut attempt = 0;
        let (opened, damage) = loop {
            attempt += 1;
            let rd = match std::fs::read_dir(dir) {
                Ok(rd) => rd,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(Error::io("read directory", dir, e)),
            };
            let mut found = Vec::new();
            for ent in rd {
                let ent = ent.map_err(|e| Error::io("read directory", dir, e))?;
                if let Some(seq) = ent.file_name().to_str().and_then(block::parse_file_name) {
                    found.push((seq, ent.path()));
                }
            }
            found.sort();
            let mut opened = Vec::new();
            let mut damage = Vec::new();
            let mut vanished = false;
            for (seq, path) in found {
                self.next_seq = self.next_seq.max(seq + 1);
                match Block::open(&path, seq) {
                    Ok(b) => opened.push(b),
                    Err(Error::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::NotFound =>
                    {
                        vanished = true;
                    }
                    Err(e @ (Error::Corrupt { .. } | Error::UnsupportedVersion { .. })) => {
                        damage.push((seq, path.clone(), e));
                    }
                    Err(e) => return Err(e),
                }
            }
            if !vanished || attempt >= 5 {
                break (opened, damage);
            }
        };
        let replaced: std::collections::HashSet<u64> = opened
            .iter()
            .flat_map(|b| b.sources.iter().copied())
            .collect();
        for &s in &replaced {
            self.next_seq = self.next_seq.max(s + 1);
        }
        let mut stale = Vec::new();
        for b in opened {
            if replaced.contains(&b.seq) {
                stale.push(dir.join(block::file_name(b.seq)));
            } else {
                self.add_block(Arc::new(b));
            }
        }
        for (seq, path, e) in damage {
            if replaced.contains(&seq) {
                stale.push(path);
                continue;
            }
            self.report.damage.push(Damage {
                offset: match &e {
                    Error::Corrupt { offset, .. } => *offset,
                    _ => 0,
                },
                file: path,
                len: 0,
                what: format!("block not read: {e}"),
            });
        }
        if writable && !stale.is_empty() {
            for p in &stale {
                match std::fs::remove_file(p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io("remove", p, e)),
                }
            }
            crate::fs::sync_dir(dir)?;
        }
        self.report.blocks = self.blocks.len();
        Ok(())
    }

    fn reserve_block_ids(&mut self) {
        let ids: Vec<SeriesId> = self.blocks.iter().flat_map(|b| b.series_ids()).collect();
        for id in ids {
            self.registry.reserve(id);
        }
    }

    pub(crate) fn add_block(&mut self, b: Arc<Block>) {
        for id in b.series_ids() {
            let i = id as usize;
            if self.blocks_max_t.len() <= i {
                self.blocks_max_t.resize(i + 1, i64::MIN);
            }
            if let Some(last) = b.chunks_of(id).last() {
                self.blocks_max_t[i] = self.blocks_max_t[i].max(last.summary.last_t);
            }
        }
        self.blocks.push(b);
    }

    fn add_wal_report(&mut self, rep: &wal::ReplayReport) {
        if let Some(t) = &rep.tail {
            self.report.damage.push(Damage {
                file: t.file.clone(),
                offset: t.offset,
                len: t.len,
                what: format!(
                    "WAL tail: {}{}",
                    t.what,
                    if t.repaired { " (cut)" } else { "" }
                ),
            });
        }
        for r in &rep.skipped {
            self.report.damage.push(Damage {
                file: r.file.clone(),
                offset: r.offset,
                len: r.len,
                what: format!("WAL region skipped: {}", r.what),
            });
        }
    }

    /// Replays one WAL record into the head. A record that passed its
    /// checksum but does not decode is reported and skipped: the records
    /// around it were acknowledged and must not be lost with it.
    fn replay_record(&mut self, at: wal::FrameAt<'_>, rec: &[u8]) {
        let samples = match wal::decode_record_at(at.file, at.offset, rec) {
            Ok(wal::Record::Samples(s)) => s,
            Err(e) => {
                self.report.damage.push(damage_of(&e));
                return;
            }
        };
        self.report.wal_records += 1;
        for r in samples {
            if self.registry.labels(r.series).is_none() {
                self.registry.reserve(r.series);
                self.report.damage.push(Damage {
                    file: PathBuf::from("series"),
                    offset: 0,
                    len: 0,
                    what: format!("WAL sample for series id {} whose record is lost", r.series),
                });
                continue;
            }
            self.report.wal_samples += 1;
            self.insert(r.series, r.t, r.v);
        }
    }

    /// Inserts into the head unless the sample (or a conflicting one) is
    /// already stored in the head or a block.
    fn insert(&mut self, id: SeriesId, t: i64, v: f64) -> Insert {
        if t > self.block_max_t(id) {
            // The head checks its own duplicates.
            return self.head.insert(id, t, v);
        }
        match self.stored_value(id, t) {
            Some(old) if old.to_bits() == v.to_bits() => Insert::Duplicate,
            Some(old) => Insert::Conflict(old),
            None => self.head.insert(id, t, v),
        }
    }

    fn block_max_t(&self, id: SeriesId) -> i64 {
        self.blocks_max_t
            .get(id as usize)
            .copied()
            .unwrap_or(i64::MIN)
    }

    /// The value stored (head or blocks) for series `id` at `t`, if any.
    pub(crate) fn stored_value(&mut self, id: SeriesId, t: i64) -> Option<f64> {
        if let Some(v) = self.head.get(id, t) {
            return Some(v);
        }
        if t > self.block_max_t(id) {
            return None;
        }
        self.block_value_at(id, t)
    }

    /// Publishes built blocks under the next sequence numbers, together
    /// (`fs::publish_all`: temp files written and fsynced side by side,
    /// renamed, one directory fsync), and adds them.
    pub(crate) fn publish_blocks(
        &mut self,
        blocks_dir: &Path,
        builders: Vec<BlockBuilder>,
    ) -> Result<()> {
        let built: Vec<(u64, PathBuf, Vec<u8>)> = builders
            .into_iter()
            .map(|b| {
                let seq = self.next_seq;
                self.next_seq += 1;
                (seq, blocks_dir.join(block::file_name(seq)), b.finish())
            })
            .collect();
        let files: Vec<(PathBuf, &[u8])> = built
            .iter()
            .map(|(_, p, bytes)| (p.clone(), bytes.as_slice()))
            .collect();
        crate::fs::publish_all(&files)?;
        for (seq, path, _) in &built {
            self.add_block(Arc::new(Block::open(path, *seq)?));
        }
        Ok(())
    }

    /// The value stored in a block for series `id` at `t`, if any. A chunk
    /// that fails to decode is treated as holding nothing: the damage is
    /// reported by `verify`, and appends must not fail because of it.
    fn block_value_at(&mut self, id: SeriesId, t: i64) -> Option<f64> {
        for b in self.blocks.iter().rev() {
            // Downsampled data holds no raw sample to conflict with.
            if t < b.min_t || t > b.max_t || b.resolution > 0 {
                continue;
            }
            let chunks = b.chunks_of(id);
            let Some(ci) = chunks
                .iter()
                .position(|c| c.summary.first_t <= t && t <= c.summary.last_t)
            else {
                continue;
            };
            // Keyed by the chunk's byte offset, unique within a block (an
            // index into the series' chunk list is not: two series' first
            // chunks collided, found by tests/model.rs).
            let key = chunks[ci].off;
            let hit = matches!(&self.dup_cache, Some((s, c, _, _)) if *s == b.seq && *c == key);
            if !hit {
                let mut ts = Vec::new();
                let mut vs = Vec::new();
                if b.decode_chunk(&chunks[ci], &mut ts, &mut vs).is_err() {
                    continue;
                }
                self.dup_cache = Some((b.seq, key, ts, vs));
            }
            if let Some((_, _, ts, vs)) = &self.dup_cache {
                if let Ok(i) = ts.binary_search(&t) {
                    return vs.get(i).copied();
                }
            }
        }
        None
    }

    /// Makes new series and `samples` durable: registry first, then WAL.
    fn log(&mut self, samples: &[wal::RefSample]) -> Result<()> {
        self.registry.commit()?;
        if samples.is_empty() {
            return Ok(());
        }
        let w = self.wal.as_mut().ok_or(Error::ReadOnly)?;
        // Bound record size so a huge import never builds a giant frame.
        for part in samples.chunks(1 << 16) {
            self.wal_buf.clear();
            wal::encode_samples(part, &mut self.wal_buf);
            w.write(&self.wal_buf)?;
        }
        w.commit()
    }
}
