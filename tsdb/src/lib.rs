//! minetsdb: an embeddable time-series database for GPU-mining telemetry.
//!
//! A [`Db`] is one directory. Samples `(t: i64 ms, v: f64)` of series named
//! by [`Labels`] are appended in batches through a write-ahead log (a batch
//! is durable when [`Db::append`] returns), held in an in-memory head, and
//! cut into immutable, memory-mapped block files with Gorilla-style
//! delta-of-delta timestamps, XOR floats and an exact decimal codec.
//! [`Db::select`] streams the series that match Prometheus-style
//! [`Matcher`]s over a time range, merging blocks and head, and
//! [`Db::query_instant`]/[`Db::query_range`] evaluate PromQL over it with
//! the semantics of Prometheus 2.42 (see [`promql`]).
//!
//! One process writes ([`Db::open`] takes `<db>/LOCK`); any number read
//! ([`Db::open_read_only`] takes no lock and works beside the writer).
//! The on-disk format is specified in `FORMAT.md` beside this crate.
//!
//! ```
//! use minetsdb::{Db, Labels, Matcher, Options, Sample};
//!
//! # fn main() -> minetsdb::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let db = Db::open(dir.path(), Options::default())?;
//! let power = Labels::new("nvidia_smi_power_draw_watts", &[("uuid", "GPU-0")])?;
//! let r = db.series_ref(&power)?;
//! let t0 = 1_700_000_000_000;
//! let batch: Vec<_> = (0..60).map(|i| (r, Sample::new(t0 + i * 60_000, 220.0 + i as f64 / 4.0))).collect();
//! let report = db.append(&batch)?;
//! assert_eq!(report.appended, 60);
//!
//! let mut found = db.select(&[Matcher::metric("nvidia_smi_power_draw_watts")], t0..t0 + 600_000)?;
//! let series = found.next().unwrap()?;
//! assert_eq!(series.labels, power);
//! assert_eq!(series.samples.len(), 10);
//! assert_eq!(series.samples[1], Sample::new(t0 + 60_000, 220.25));
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod block;
mod chunk;
pub(crate) mod codec;
mod compact;
mod db;
mod downsample;
mod error;
mod frame;
mod fs;
mod head;
mod labels;
mod matcher;
mod mmap;
mod options;
pub mod promql;
mod registry;
mod repair;
pub(crate) mod wal;

pub use chunk::ChunkSummary;
pub use compact::{CompactReport, Compactor};
pub use db::{
    AppendReport, BulkLoad, Conflict, Db, OpenReport, Sample, Series, SeriesIter, SeriesRef, Stats,
};
pub use error::{Error, Result};
pub use labels::{check_label_name, check_metric_name, Label, Labels, METRIC_NAME_LABEL};
pub use matcher::{MatchOp, Matcher};
pub use options::{Options, Tier};
pub use registry::{Damage, Metadata, MetricType};
pub use repair::RepairReport;

/// Prometheus' staleness marker: a NaN with exactly these bits, appended
/// when a series disappears from its target, ends the series for PromQL
/// (a plain selector finds nothing after it, range functions skip it).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Whether `v` is the staleness marker ([`STALE_NAN_BITS`]); other NaNs
/// are ordinary values.
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// Decoders exposed for the fuzz targets in `fuzz/`; not a stable API.
#[doc(hidden)]
pub mod __fuzz {
    /// Decodes a block from bytes, then every column and chunk in it.
    pub fn block(bytes: &[u8]) {
        if let Ok(b) = crate::block::Block::from_bytes("fuzz.blk".into(), bytes.to_vec()) {
            let _ = b.verify();
        }
    }
    /// Decodes a timestamp column of `n` values.
    pub fn timestamps(bytes: &[u8], n: usize) {
        let mut out = Vec::new();
        let _ = crate::codec::decode_timestamps(bytes, n, &mut out);
    }
    /// Decodes a value column of `n` values with codec id `codec`.
    pub fn values(codec: u8, bytes: &[u8], n: usize) {
        if let Ok(c) = crate::codec::ValueCodec::try_from(codec) {
            let mut out = Vec::new();
            let _ = crate::codec::decode_values(c, bytes, n, &mut out);
        }
    }
    /// Decodes one WAL record payload.
    pub fn wal_record(bytes: &[u8]) {
        let _ = crate::wal::decode_record(bytes);
    }
    /// Loads a registry file's bytes (read-only).
    pub fn registry(bytes: &[u8]) {
        if let Ok(d) = scratch_dir("registry") {
            let p = d.join("series");
            if std::fs::write(&p, bytes).is_ok() {
                let _ = crate::registry::Registry::open(&p, false);
            }
        }
    }
    /// Replays a WAL directory holding one segment with these bytes (read-only).
    pub fn wal_segment(bytes: &[u8]) {
        if let Ok(d) = scratch_dir("wal") {
            if std::fs::write(d.join(crate::wal::segment_name(1)), bytes).is_ok() {
                let _ = crate::wal::replay(&d, crate::wal::ReplayMode::ReadOnly, |_, rec| {
                    let _ = crate::wal::decode_record(rec);
                    Ok(())
                });
            }
        }
    }
    fn scratch_dir(what: &str) -> std::io::Result<std::path::PathBuf> {
        let d = std::env::temp_dir().join(format!("minetsdb-fuzz-{}-{what}", std::process::id()));
        std::fs::create_dir_all(&d)?;
        Ok(d)
    }
}

/// Whole-database scans for the benchmarks; not a stable API.
#[doc(hidden)]
pub mod __bench {
    /// Decodes every chunk of every block (each shared timestamp column
    /// once per block), returning the sample count and the sum of values.
    pub fn decode_all_blocks(db: &crate::Db) -> crate::Result<(u64, f64)> {
        db.decode_all_blocks()
    }

    /// Per metric name: (value bytes, samples, chunks by codec id), summed
    /// over every block; for finding where the bytes go.
    pub fn bytes_by_metric(db: &crate::Db) -> Vec<(String, u64, u64, [u64; 3])> {
        db.bytes_by_metric()
    }

    // The codecs and the block writer are crate-private (their contract
    // is the file format, not an API), and no public call reaches one
    // codec or one block alone: these wrappers let the benches time each
    // stage by itself. Decoders return `Corrupt` naming "bench" as file.

    fn corrupt(e: crate::codec::CodecError) -> crate::Error {
        crate::Error::corrupt("bench", 0, e.to_string())
    }

    /// Appends the timestamp column of a chunk (delta-of-delta and kin).
    pub fn encode_timestamps(ts: &[i64], out: &mut Vec<u8>) {
        crate::codec::encode_timestamps(ts, out);
    }

    /// Appends the `n` timestamps of a column made by [`encode_timestamps`].
    pub fn decode_timestamps(bytes: &[u8], n: usize, out: &mut Vec<i64>) -> crate::Result<()> {
        crate::codec::decode_timestamps(bytes, n, out).map_err(corrupt)
    }

    /// Appends `vs` encoded as the block writer would (the smallest of
    /// constant, decimal and XOR) and returns the codec id chosen
    /// (0 XOR, 1 decimal, 2 constant).
    pub fn encode_values(vs: &[f64], out: &mut Vec<u8>) -> u8 {
        crate::codec::encode_values(vs, out) as u8
    }

    /// Appends `vs` XOR-encoded (codec id 0), whatever would be smaller.
    pub fn encode_xor(vs: &[f64], out: &mut Vec<u8>) {
        crate::codec::xor::encode_xor(vs, out);
    }

    /// Appends `vs` decimal-encoded (codec id 1); false, with `out`
    /// unspecified, when some value has no exact decimal form.
    pub fn encode_decimal(vs: &[f64], out: &mut Vec<u8>) -> bool {
        crate::codec::decimal::encode_decimal(vs, out)
    }

    /// Appends the `n` values of a chunk encoded with codec id `codec`.
    pub fn decode_values(
        codec: u8,
        bytes: &[u8],
        n: usize,
        out: &mut Vec<f64>,
    ) -> crate::Result<()> {
        let c = crate::codec::ValueCodec::try_from(codec).map_err(corrupt)?;
        crate::codec::decode_values(c, bytes, n, out).map_err(corrupt)
    }

    /// Builds a level-0 block of `series` (series ids are their
    /// positions; timestamps strictly increasing) with `opts`' chunk size
    /// and sub-summaries, as a head cut does, and publishes it at `path`
    /// (temporary file, fsync, rename, fsync of the directory). Returns
    /// the file's size.
    pub fn write_block(
        path: &std::path::Path,
        opts: &crate::Options,
        series: &[(Vec<i64>, Vec<f64>)],
    ) -> crate::Result<u64> {
        let mut b = crate::block::BlockBuilder::new(0, opts.max_chunk_samples, opts.block_span_ms)
            .with_sub_summaries(opts.sub_summary_ms);
        for (id, (ts, vs)) in (0u32..).zip(series) {
            if ts.len() != vs.len() || ts.windows(2).any(|w| w[0] >= w[1]) {
                return Err(crate::Error::InvalidArgument(format!(
                    "series {id}: columns of unequal length or timestamps not increasing"
                )));
            }
            b.add_series(id, ts, vs);
        }
        let bytes = b.finish();
        crate::fs::publish(path, &bytes)?;
        Ok(bytes.len() as u64)
    }

    /// Maps a block file and validates its header and index, as opening
    /// a database does for each block; returns its number of series.
    pub fn open_block(path: &std::path::Path) -> crate::Result<usize> {
        Ok(crate::block::Block::open(path, 0)?.series_ids().count())
    }

    /// Opens a block file and decodes all of it: each timestamp column
    /// once (series scraped together share one), then every chunk's
    /// values. Returns the sample count and the sum of values.
    pub fn open_and_decode_block(path: &std::path::Path) -> crate::Result<(u64, f64)> {
        let b = crate::block::Block::open(path, 0)?;
        let mut cols: Vec<Option<Vec<i64>>> = vec![None; b.n_cols()];
        let (mut n, mut sum) = (0u64, 0.0);
        let mut vs = Vec::new();
        let ids: Vec<_> = b.series_ids().collect();
        for id in ids {
            for ch in b.chunks_of(id) {
                let Some(slot) = cols.get_mut(ch.col as usize) else {
                    return Err(crate::Error::corrupt(
                        path,
                        0,
                        "chunk names a missing column",
                    ));
                };
                let ts = match slot {
                    Some(ts) => ts,
                    None => {
                        let mut ts = Vec::new();
                        b.decode_column(ch.col, &mut ts)?;
                        slot.insert(ts)
                    }
                };
                vs.clear();
                b.decode_chunk_values(ch, &mut vs)?;
                n += ts.len().min(vs.len()) as u64;
                sum += vs.iter().sum::<f64>();
            }
        }
        Ok((n, sum))
    }
}
