//! WAL framing: segment files, checksummed frames, crash recovery. What a
//! payload means is record.rs's business; here a payload is opaque bytes.
//!
//! Layout of `<db>/wal/NNNNNNNN` (index as 8 decimal digits):
//!
//! ```text
//! header  magic "MTSDBWAL" (8) | version u32 LE = 1 | reserved u32 LE = 0
//! frame*  len u32 LE (>= 1) | crc32 u32 LE of payload | payload (len bytes)
//! ```
//!
//! Recovery rules (see [`replay`]): a frame that fails its checks is skipped
//! by resynchronising on the next frame that passes them; if none follows,
//! the bad bytes are a torn tail. Only the last segment can be written to
//! when a process dies, so only there is a tail cut (and, in repair mode,
//! truncated). Anything earlier is reported and left on disk untouched,
//! because the frames after it were acknowledged to a client.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::codec::varint::Cursor;
use crate::error::{Error, Result};
use crate::frame::{check_frame, resync, BadFrame};

/// First 8 bytes of every segment.
pub(crate) const SEGMENT_MAGIC: [u8; 8] = *b"MTSDBWAL";
/// The segment format this build writes and reads.
pub(crate) const SEGMENT_VERSION: u32 = 1;
/// Magic, version, reserved.
pub(crate) const SEGMENT_HEADER_SIZE: usize = 16;
/// Length and checksum before each payload.
pub(crate) use crate::frame::FRAME_HEADER_SIZE;
pub(crate) use crate::frame::MAX_FRAME_LEN;

const SEGMENT_NAME_DIGITS: usize = 8;

/// The file name of segment `index`.
pub(crate) fn segment_name(index: u64) -> String {
    format!("{index:0width$}", width = SEGMENT_NAME_DIGITS)
}

/// Inverse of [`segment_name`]; only the canonical spelling counts, so that
/// `000000001` (a stray copy) is not mistaken for segment 1.
fn parse_segment_name(name: &str) -> Option<u64> {
    if name.len() < SEGMENT_NAME_DIGITS || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let index: u64 = name.parse().ok()?;
    (segment_name(index) == name).then_some(index)
}

fn segment_header() -> [u8; SEGMENT_HEADER_SIZE] {
    let mut h = [0u8; SEGMENT_HEADER_SIZE];
    h[..8].copy_from_slice(&SEGMENT_MAGIC);
    h[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    h
}

/// Segment indexes in `dir`, ascending; none when `dir` does not exist.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<u64>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("list", dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list", dir, e))?;
        if let Some(i) = entry.file_name().to_str().and_then(parse_segment_name) {
            out.push(i);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Checks a segment header, erroring with the file's name.
fn check_header(path: &Path, buf: &[u8]) -> Result<()> {
    let Some(h) = buf.get(..SEGMENT_HEADER_SIZE) else {
        return Err(Error::corrupt(
            path,
            0,
            format!(
                "{} bytes, shorter than the {SEGMENT_HEADER_SIZE}-byte segment header",
                buf.len()
            ),
        ));
    };
    if h[..8] != SEGMENT_MAGIC {
        return Err(Error::corrupt(
            path,
            0,
            format!(
                "bad magic {:?}, not a WAL segment",
                h[..8].escape_ascii().to_string()
            ),
        ));
    }
    let version = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
    if version != SEGMENT_VERSION {
        return Err(Error::UnsupportedVersion {
            file: path.to_path_buf(),
            found: version,
            supported: SEGMENT_VERSION.to_string(),
        });
    }
    // Bytes 12..16 are reserved: written as 0, ignored on read, so a later
    // minor use of them does not make old readers refuse the file.
    Ok(())
}

/// How [`replay`] treats damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplayMode {
    /// For the writer (it holds the lock): a torn tail of the last segment
    /// is truncated and an unfinished last segment gets its header, both
    /// fsynced, so appends can follow.
    Repair,
    /// For readers, possibly beside a live writer: changes nothing, treats a
    /// partial frame at the end as a tail being written, and skips segments
    /// that disappear while it reads.
    ReadOnly,
}

/// Where a replayed frame lies, for error messages about its payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameAt<'a> {
    pub(crate) segment: u64,
    pub(crate) file: &'a Path,
    /// Offset of the frame header; the payload starts 8 bytes later.
    pub(crate) offset: u64,
}

/// The end of the last segment that is not a frame: a write torn by a crash,
/// zeros from preallocation, a frame being written right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CutTail {
    pub(crate) segment: u64,
    pub(crate) file: PathBuf,
    /// First byte that is not part of a good frame.
    pub(crate) offset: u64,
    /// Bytes from `offset` to the end of the file.
    pub(crate) len: u64,
    pub(crate) what: String,
    /// Whether the file was truncated to `offset` (or its header rewritten).
    pub(crate) repaired: bool,
}

impl fmt::Display for CutTail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at offset {}: {} bytes of torn tail ({}){}",
            self.file.display(),
            self.offset,
            self.len,
            self.what,
            if self.repaired { ", truncated" } else { "" }
        )
    }
}

/// Damaged bytes skipped to reach the frames after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SkippedRegion {
    pub(crate) segment: u64,
    pub(crate) file: PathBuf,
    pub(crate) offset: u64,
    pub(crate) len: u64,
    /// What was wrong with the first frame of the region.
    pub(crate) what: String,
}

impl fmt::Display for SkippedRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at offset {}: skipped {} corrupt bytes ({})",
            self.file.display(),
            self.offset,
            self.len,
            self.what
        )
    }
}

/// What [`replay`] read and what it found wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ReplayReport {
    /// Segments read, ascending.
    pub(crate) segments: Vec<u64>,
    /// Frames handed to the callback.
    pub(crate) records: u64,
    /// Payload bytes handed to the callback.
    pub(crate) bytes: u64,
    pub(crate) tail: Option<CutTail>,
    pub(crate) skipped: Vec<SkippedRegion>,
    /// Listed segments gone before they could be opened: a live writer
    /// removed them after their samples reached a block.
    pub(crate) vanished: Vec<u64>,
}

impl ReplayReport {
    /// No damage found (vanished segments are not damage).
    pub(crate) fn is_clean(&self) -> bool {
        self.tail.is_none() && self.skipped.is_empty()
    }
}

/// Hands every frame payload in `dir`, in order, to `f`.
///
/// Errors: a segment with a wrong magic or shorter than its header (other
/// than an unfinished last one) is [`Error::Corrupt`]; an unknown version is
/// [`Error::UnsupportedVersion`]; a segment missing between two present ones
/// is [`Error::Corrupt`]; an error from `f` stops the replay and is returned.
/// Damaged frames are not errors: they are skipped or cut and reported.
pub(crate) fn replay(
    dir: &Path,
    mode: ReplayMode,
    f: impl FnMut(FrameAt<'_>, &[u8]) -> Result<()>,
) -> Result<ReplayReport> {
    let indexes = list_segments(dir)?;
    replay_listed(dir, &indexes, mode, f)
}

/// [`replay`] over a listing taken earlier; separate so tests can list
/// segments that are gone by the time they are opened.
fn replay_listed(
    dir: &Path,
    indexes: &[u64],
    mode: ReplayMode,
    mut f: impl FnMut(FrameAt<'_>, &[u8]) -> Result<()>,
) -> Result<ReplayReport> {
    let mut report = ReplayReport::default();
    // One buffer for all segments: each is read whole, which is what lets
    // resynchronisation look ahead freely. Not mmap: a writer truncating a
    // torn tail under a reader's map would turn reads into SIGBUS.
    let mut buf = Vec::new();
    let mut read_any = false;
    for (i, &index) in indexes.iter().enumerate() {
        if let Some(&prev) = i.checked_sub(1).and_then(|p| indexes.get(p)) {
            // The writer removes segments oldest first, so a reader that
            // could open one before a gap saw real loss, not a removal.
            if index != prev + 1 && read_any {
                return Err(Error::corrupt(
                    dir.join(segment_name(prev + 1)),
                    0,
                    format!("WAL segment missing: the log jumps from segment {prev} to {index}"),
                ));
            }
        }
        let path = dir.join(segment_name(index));
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                report.vanished.push(index);
                continue;
            }
            Err(e) => return Err(Error::io("open", &path, e)),
        };
        buf.clear();
        file.read_to_end(&mut buf)
            .map_err(|e| Error::io("read", &path, e))?;
        drop(file);
        read_any = true;
        let is_last = i + 1 == indexes.len();
        replay_segment(&path, index, &buf, is_last, mode, &mut f, &mut report)?;
    }
    Ok(report)
}

fn replay_segment(
    path: &Path,
    index: u64,
    buf: &[u8],
    is_last: bool,
    mode: ReplayMode,
    f: &mut impl FnMut(FrameAt<'_>, &[u8]) -> Result<()>,
    report: &mut ReplayReport,
) -> Result<()> {
    let repair = mode == ReplayMode::Repair;
    // A crash between creating the last segment and its header reaching the
    // disk leaves it empty, short, or (preallocated blocks) all zeros. It
    // holds no frames, so nothing acknowledged is lost by starting it over.
    if is_last && (buf.len() < SEGMENT_HEADER_SIZE || buf.iter().all(|&b| b == 0)) {
        let what = if buf.len() < SEGMENT_HEADER_SIZE {
            format!(
                "unfinished segment: {} of {SEGMENT_HEADER_SIZE} header bytes",
                buf.len()
            )
        } else {
            "unfinished segment: all zeros".to_string()
        };
        if repair {
            rewrite_header(path)?;
        }
        report.segments.push(index);
        report.tail = Some(CutTail {
            segment: index,
            file: path.to_path_buf(),
            offset: 0,
            len: buf.len() as u64,
            what,
            repaired: repair,
        });
        return Ok(());
    }
    check_header(path, buf)?;
    report.segments.push(index);
    let mut pos = SEGMENT_HEADER_SIZE;
    while pos < buf.len() {
        match check_frame(buf, pos) {
            Ok(payload) => {
                let at = FrameAt {
                    segment: index,
                    file: path,
                    offset: pos as u64,
                };
                f(at, &buf[payload.clone()])?;
                report.records += 1;
                report.bytes += payload.len() as u64;
                pos = payload.end;
            }
            Err(bad) => {
                let resume = resync(buf, pos);
                if resume.is_none() && is_last {
                    let rest = &buf[pos..];
                    let what = if rest.iter().all(|&b| b == 0) {
                        "zero-filled tail".to_string()
                    } else {
                        bad.to_string()
                    };
                    if repair {
                        truncate(path, pos as u64)?;
                    }
                    report.tail = Some(CutTail {
                        segment: index,
                        file: path.to_path_buf(),
                        offset: pos as u64,
                        len: rest.len() as u64,
                        what,
                        repaired: repair,
                    });
                    return Ok(());
                }
                let end = resume.unwrap_or(buf.len());
                report.skipped.push(SkippedRegion {
                    segment: index,
                    file: path.to_path_buf(),
                    offset: pos as u64,
                    len: (end - pos) as u64,
                    what: bad.to_string(),
                });
                pos = end;
            }
        }
    }
    Ok(())
}

fn truncate(path: &Path, len: u64) -> Result<()> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::io("open for repair", path, e))?;
    file.set_len(len)
        .map_err(|e| Error::io("truncate", path, e))?;
    // The new length is metadata: sync_all, not sync_data.
    file.sync_all().map_err(|e| Error::io("fsync", path, e))
}

fn rewrite_header(path: &Path) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(|e| Error::io("open for repair", path, e))?;
    file.write_all(&segment_header())
        .map_err(|e| Error::io("write", path, e))?;
    file.sync_all().map_err(|e| Error::io("fsync", path, e))?;
    // The crash that left the segment unfinished may also have lost its
    // directory entry's durability.
    match path.parent() {
        Some(dir) => crate::fs::sync_dir(dir),
        None => Ok(()),
    }
}

/// Appends frames to the last segment, rotating by size.
///
/// Nothing is durable until [`WalWriter::commit`] returns; the Db
/// acknowledges appends only then. After a failed commit the writer refuses
/// further work: what reached the disk is unknown (a failed fsync may have
/// dropped dirty pages), and only a reopen with a repair replay re-derives
/// it.
#[derive(Debug)]
pub(crate) struct WalWriter {
    dir: PathBuf,
    segment_size: u64,
    file: File,
    index: u64,
    /// Bytes in the current segment file, header included.
    written: u64,
    /// Frames not yet written. Kept across commits for its allocation.
    buf: Vec<u8>,
    /// Offsets in `buf` where a new segment starts.
    cuts: Vec<usize>,
    /// Size the segment holding the end of `buf` will have.
    tail_size: u64,
    failed: bool,
}

impl WalWriter {
    /// Opens `dir` for appending after [`replay`] in [`ReplayMode::Repair`]
    /// has made the last segment end on a frame boundary, or starts segment
    /// 1 (creating `dir`) when there is none.
    pub(crate) fn open_writer(dir: &Path, segment_size: u64) -> Result<WalWriter> {
        let min = (SEGMENT_HEADER_SIZE + FRAME_HEADER_SIZE + 1) as u64;
        if segment_size < min {
            return Err(Error::InvalidArgument(format!(
                "WAL segment size {segment_size} is below the minimum of {min} bytes"
            )));
        }
        if !dir.is_dir() {
            fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
            if let Some(parent) = dir.parent() {
                crate::fs::sync_dir(parent)?;
            }
        }
        let segments = list_segments(dir)?;
        let Some(&index) = segments.last() else {
            let (file, index) = create_segment(dir, 1)?;
            return Ok(WalWriter::new(
                dir,
                segment_size,
                file,
                index,
                SEGMENT_HEADER_SIZE as u64,
            ));
        };
        let path = dir.join(segment_name(index));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("open", &path, e))?;
        let mut header = Vec::with_capacity(SEGMENT_HEADER_SIZE);
        (&mut file)
            .take(SEGMENT_HEADER_SIZE as u64)
            .read_to_end(&mut header)
            .map_err(|e| Error::io("read", &path, e))?;
        check_header(&path, &header)?;
        let written = file
            .seek(SeekFrom::End(0))
            .map_err(|e| Error::io("seek", &path, e))?;
        Ok(WalWriter::new(dir, segment_size, file, index, written))
    }

    fn new(dir: &Path, segment_size: u64, file: File, index: u64, written: u64) -> WalWriter {
        WalWriter {
            dir: dir.to_path_buf(),
            segment_size,
            file,
            index,
            written,
            buf: Vec::new(),
            cuts: Vec::new(),
            tail_size: written,
            failed: false,
        }
    }

    /// Buffers one frame. Writes nothing to disk.
    pub(crate) fn write(&mut self, payload: &[u8]) -> Result<()> {
        self.check_usable()?;
        if payload.is_empty() {
            return Err(Error::InvalidArgument("empty WAL record".into()));
        }
        // Replay would take a longer frame for damage.
        if payload.len() > MAX_FRAME_LEN {
            return Err(Error::InvalidArgument(format!(
                "WAL record of {} bytes exceeds the {MAX_FRAME_LEN}-byte maximum",
                payload.len()
            )));
        }
        let frame = (FRAME_HEADER_SIZE + payload.len()) as u64;
        // A frame never straddles segments; one too big for any segment
        // goes alone into a fresh one rather than being refused.
        if self.tail_size > SEGMENT_HEADER_SIZE as u64 && self.tail_size + frame > self.segment_size
        {
            self.cuts.push(self.buf.len());
            self.tail_size = SEGMENT_HEADER_SIZE as u64;
        }
        self.buf
            .extend_from_slice(&(payload.len() as u32).to_le_bytes());
        self.buf
            .extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        self.buf.extend_from_slice(payload);
        self.tail_size += frame;
        Ok(())
    }

    /// Writes the buffered frames and makes them durable.
    pub(crate) fn commit(&mut self) -> Result<()> {
        self.check_usable()?;
        if self.buf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.buf);
        let cuts = std::mem::take(&mut self.cuts);
        let res = self.flush(&buf, &cuts);
        self.buf = buf;
        self.buf.clear();
        self.cuts = cuts;
        self.cuts.clear();
        if res.is_err() {
            self.failed = true;
        }
        res
    }

    fn flush(&mut self, buf: &[u8], cuts: &[usize]) -> Result<()> {
        let mut start = 0;
        for &cut in cuts {
            if cut > start {
                self.write_chunk(&buf[start..cut])?;
                // Durable before the next segment exists, so a segment
                // followed by another is always complete: readers may then
                // treat damage in it as damage, not as a write in progress.
                self.sync()?;
            }
            self.start_segment()?;
            start = cut;
        }
        self.write_chunk(&buf[start..])?;
        self.sync()
    }

    fn write_chunk(&mut self, chunk: &[u8]) -> Result<()> {
        self.file
            .write_all(chunk)
            .map_err(|e| Error::io("write", self.dir.join(segment_name(self.index)), e))?;
        self.written += chunk.len() as u64;
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| Error::io("fsync", self.dir.join(segment_name(self.index)), e))
    }

    fn start_segment(&mut self) -> Result<()> {
        let (file, index) = create_segment(&self.dir, self.index + 1)?;
        self.file = file;
        self.index = index;
        self.written = SEGMENT_HEADER_SIZE as u64;
        Ok(())
    }

    /// Commits what is buffered, then starts a new segment and returns its
    /// index: every frame written before the call lies in segments below it.
    pub(crate) fn rotate(&mut self) -> Result<u64> {
        self.commit()?;
        if let Err(e) = self.start_segment() {
            self.failed = true;
            return Err(e);
        }
        self.tail_size = SEGMENT_HEADER_SIZE as u64;
        Ok(self.index)
    }

    /// The segment being appended to.
    pub(crate) fn current_segment(&self) -> u64 {
        self.index
    }

    /// The WAL directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Deletes segments with an index below `index` and returns how many.
    /// The Db calls it once their samples are in a published block.
    pub(crate) fn remove_segments_before(&mut self, index: u64) -> Result<usize> {
        if index > self.index {
            return Err(Error::InvalidArgument(format!(
                "cannot remove WAL segments before {index}: segment {} is still being written",
                self.index
            )));
        }
        let mut removed = 0;
        // Oldest first: replay_listed relies on removals never leaving a gap
        // before a surviving segment.
        for old in list_segments(&self.dir)?
            .into_iter()
            .take_while(|&i| i < index)
        {
            let path = self.dir.join(segment_name(old));
            match fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("remove", &path, e)),
            }
        }
        if removed > 0 {
            crate::fs::sync_dir(&self.dir)?;
        }
        Ok(removed)
    }

    fn check_usable(&self) -> Result<()> {
        if self.failed {
            return Err(Error::io(
                "write",
                self.dir.join(segment_name(self.index)),
                io::Error::other("an earlier WAL write or fsync failed; reopen the database"),
            ));
        }
        Ok(())
    }
}

/// Creates segment `index` with its header, durably, entry included.
fn create_segment(dir: &Path, index: u64) -> Result<(File, u64)> {
    let path = dir.join(segment_name(index));
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| Error::io("create", &path, e))?;
    file.write_all(&segment_header())
        .map_err(|e| Error::io("write", &path, e))?;
    file.sync_data().map_err(|e| Error::io("fsync", &path, e))?;
    crate::fs::sync_dir(dir)?;
    Ok((file, index))
}

#[cfg(test)]
mod tests;
