//! Tuning knobs of a database, with defaults sized for mining rigs.

/// Options for [`crate::Db::open`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// Time span of a level-0 block, in ms; blocks are aligned to multiples
    /// of it. Default one day: a rig has few series, so a day of them is a
    /// small head, and day-long chunks amortise chunk overhead (at one
    /// sample a minute a series gets 1440 samples per chunk).
    pub block_span_ms: i64,
    /// How long after a block's span has ended samples for it are still
    /// awaited in the head before it is cut, in ms. Samples arriving later
    /// still are accepted, and land in a block of their own.
    pub out_of_order_grace_ms: i64,
    /// Most samples per chunk (at most 65 536).
    pub max_chunk_samples: usize,
    /// Size at which a WAL segment is closed and a new one begun, in bytes.
    pub wal_segment_bytes: u64,
    /// Bound on samples held in the head; reaching it cuts the head into
    /// blocks early, keeping memory bounded whatever the ingest rate. A
    /// [`crate::BulkLoad`] holds at most 8 bytes per this many samples of
    /// encoded chunks (64 MiB by default) before it writes them as blocks.
    pub max_head_samples: usize,
    /// Spans of the compaction levels above level 0, ascending, in ms; each
    /// a multiple of the one before (and of `block_span_ms`). Complete
    /// windows of each span are merged into one block. Default: 7 days,
    /// 28 days.
    pub compaction_spans_ms: Vec<i64>,
    /// Samples older than this (before the newest sample minus it) are
    /// dropped by compaction; `None` keeps everything.
    pub retention_ms: Option<i64>,
    /// Downsampling tiers, finest first: compaction replaces data older
    /// than a tier's age by aggregate buckets of its resolution. Default:
    /// raw for 90 days, 5-minute buckets to one year, 1-hour buckets after
    /// (to the retention). Empty keeps every raw sample.
    pub downsampling: Vec<Tier>,
    /// Width (ms) of the sub-summaries written beside every chunk of a raw
    /// block, cut or merged (0: none). A range function whose window holds
    /// whole sub-windows of a chunk reads them instead of decoding it:
    /// `avg_over_time(x[1h])` at a 1-hour step then decodes almost
    /// nothing. Default one hour, about 0.09 bytes per sample at one-minute
    /// scrapes.
    pub sub_summary_ms: i64,
}

/// One downsampling tier: data older than `after_ms` (counted back from
/// the newest sample) is kept as buckets `resolution_ms` wide, each holding
/// count, sum, min, max, first, last and counter increase of its samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tier {
    /// Bucket width in ms; a multiple of the finer tier's.
    pub resolution_ms: i64,
    /// Age from which data is stored at this resolution, in ms.
    pub after_ms: i64,
}

const DAY_MS: i64 = 24 * 3600 * 1000;

impl Default for Options {
    fn default() -> Self {
        Options {
            block_span_ms: 24 * 3600 * 1000,
            out_of_order_grace_ms: 3600 * 1000,
            max_chunk_samples: 4096,
            wal_segment_bytes: 64 << 20,
            max_head_samples: 8_000_000,
            compaction_spans_ms: vec![7 * DAY_MS, 28 * DAY_MS],
            retention_ms: None,
            sub_summary_ms: 3600 * 1000,
            downsampling: vec![
                Tier {
                    resolution_ms: 5 * 60 * 1000,
                    after_ms: 90 * DAY_MS,
                },
                Tier {
                    resolution_ms: 3600 * 1000,
                    after_ms: 365 * DAY_MS,
                },
            ],
        }
    }
}

impl Options {
    pub(crate) fn validate(&self) -> crate::Result<()> {
        let bad = |m: &str| Err(crate::Error::InvalidArgument(m.to_string()));
        if self.block_span_ms <= 0 {
            return bad("block_span_ms must be positive");
        }
        if self.out_of_order_grace_ms < 0 {
            return bad("out_of_order_grace_ms must not be negative");
        }
        if self.max_chunk_samples == 0 || self.max_chunk_samples > crate::codec::MAX_CHUNK_SAMPLES {
            return bad("max_chunk_samples must be in 1..=65536");
        }
        if self.wal_segment_bytes < 4096 {
            return bad("wal_segment_bytes must be at least 4096");
        }
        if self.max_head_samples == 0 {
            return bad("max_head_samples must be positive");
        }
        let mut prev = self.block_span_ms;
        for &s in &self.compaction_spans_ms {
            if s <= prev || s % prev != 0 {
                return bad("each compaction span must be a larger multiple of the one before (and of block_span_ms)");
            }
            prev = s;
        }
        if self.sub_summary_ms < 0 {
            return bad("sub_summary_ms must not be negative");
        }
        if self.retention_ms.is_some_and(|r| r <= 0) {
            return bad("retention_ms must be positive");
        }
        let (mut res, mut after) = (1, 0);
        for t in &self.downsampling {
            if t.resolution_ms <= res || t.resolution_ms % res != 0 {
                return bad(
                    "each downsampling resolution must be a larger multiple of the one before",
                );
            }
            if t.after_ms <= after {
                return bad("downsampling ages must be positive and ascending");
            }
            (res, after) = (t.resolution_ms, t.after_ms);
        }
        Ok(())
    }
}
