//! Write-ahead log. Framing (segment files, checksums, recovery) lives in
//! `segment`, the meaning of a frame's payload in `record`, so that new
//! record types never touch recovery and recovery never parses samples.

// The Db that calls into the WAL has not landed yet.
#![allow(dead_code, unused_imports)] // a few helpers serve only tests and tools

mod record;
mod segment;

pub(crate) use record::{
    decode_record, decode_record_at, encode_samples, Record, RecordError, RefSample,
};
pub(crate) use segment::{
    list_segments, replay, segment_name, CutTail, FrameAt, ReplayMode, ReplayReport, SkippedRegion,
    WalWriter, MAX_FRAME_LEN,
};
