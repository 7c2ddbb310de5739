//! The crate's only `unsafe`: mapping a published block file read-only.
//!
//! Kept to one function so it can be reviewed alone (see ripgrep's
//! `searcher/src/searcher/mmap.rs`, and redb dropping mmap as infeasible to
//! prove sound: ours stays narrow).

use std::fs::File;
use std::path::Path;

use memmap2::Mmap;

use crate::error::{Error, Result};

/// Maps the whole of `path` read-only.
///
/// Memory-mapping is sound only while nobody modifies or truncates the file.
/// Block files are published by write-temp/fsync/rename and never written
/// again; they are only ever removed (unlink), which leaves existing
/// mappings valid on Unix. A process outside minetsdb truncating a block
/// would make reads fault (SIGBUS); that risk is accepted, as ripgrep does,
/// because the blocks are ours and documented as immutable.
pub(crate) fn map_readonly(path: &Path) -> Result<Mmap> {
    let f = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let len = f.metadata().map_err(|e| Error::io("stat", path, e))?.len();
    if len == 0 {
        return Err(Error::corrupt(path, 0, "empty block file"));
    }
    // SAFETY: `path` is a published block file. Blocks are immutable after
    // their atomic rename (see fs::publish) and are never truncated or
    // written in place, so the mapped bytes cannot change under us. The map
    // is read-only, and every read of it is bounds-checked slice access.
    let m = unsafe { Mmap::map(&f) }.map_err(|e| Error::io("mmap", path, e))?;
    Ok(m)
}
