//! Block files: immutable, memory-mapped, one time range each.
//!
//! `writer` builds a block's bytes in memory; `reader` maps and validates a
//! published one. They are apart so the reader can be fuzzed on arbitrary
//! bytes. The byte layout is specified in `tsdb/FORMAT.md`.

mod reader;
mod writer;

pub(crate) use reader::{Block, ChunkMeta};
pub(crate) use writer::{encode_chunks, BlockBuilder, EncodedChunk};

pub(crate) const MAGIC: &[u8; 8] = b"MTSDBBLK";
pub(crate) const END_MAGIC: &[u8; 8] = b"MTSDBEND";
/// The block format version this build writes. Versions 1 (no source list
/// in the index) and 2 (no resolution) are still read; any other version is rejected with a
/// message naming the file and the versions understood.
pub(crate) const VERSION: u32 = 3;
/// Versions this build reads.
pub(crate) const READABLE: [u32; 3] = [1, 2, 3];
pub(crate) const HEADER_LEN: usize = 16;
pub(crate) const FOOTER_LEN: usize = 68;

/// Block file name for sequence number `seq`.
pub(crate) fn file_name(seq: u64) -> String {
    format!("{seq:010}.blk")
}

/// Sequence number from a block file name, `None` for other files.
pub(crate) fn parse_file_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".blk")?;
    if stem.len() != 10 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

#[cfg(test)]
mod tests;
