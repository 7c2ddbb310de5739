//! Checksummed record framing shared by the series registry and the WAL:
//! `[len: u32 LE][crc32: u32 LE over payload][payload: len bytes]`.
//!
//! One implementation of reading frames and of finding the next good frame
//! after damage; the registry and the WAL differ only in what they do about
//! damage (tsdb/FORMAT.md).

use std::fmt;

use crate::codec::varint::Cursor;

/// Bytes of `len` + `crc` before each payload.
pub(crate) const FRAME_HEADER_SIZE: usize = 8;

/// No record is this large; a bigger length field is corruption, and is
/// never used to size an allocation.
pub(crate) const MAX_FRAME_LEN: usize = 256 << 20;

#[cfg(test)]
thread_local! {
    /// Bytes checksummed by `check_frame`, for tests bounding resync cost.
    pub(crate) static CRC_BYTES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Appends one frame holding `payload`.
pub(crate) fn put_frame(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Why the bytes at some offset are not a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadFrame {
    ShortHeader { have: usize },
    ZeroLen,
    TooLong { len: u64 },
    PastEnd { len: u64, have: usize },
    Checksum,
}

impl fmt::Display for BadFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BadFrame::ShortHeader { have } => {
                write!(
                    f,
                    "incomplete frame header ({have} of {FRAME_HEADER_SIZE} bytes)"
                )
            }
            BadFrame::ZeroLen => f.write_str("zero frame length"),
            BadFrame::TooLong { len } => {
                write!(
                    f,
                    "frame length {len} exceeds the {MAX_FRAME_LEN}-byte maximum"
                )
            }
            BadFrame::PastEnd { len, have } => {
                write!(
                    f,
                    "frame length {len} runs past the end of the file ({have} payload bytes left)"
                )
            }
            BadFrame::Checksum => f.write_str("frame checksum mismatch"),
        }
    }
}

/// The payload range of a well-formed frame at `pos`. Only slices; never
/// allocates from the length field.
pub(crate) fn check_frame(buf: &[u8], pos: usize) -> Result<std::ops::Range<usize>, BadFrame> {
    let rest = buf.get(pos..).unwrap_or(&[]);
    let mut c = Cursor::new(rest);
    let (Some(len), Some(crc)) = (c.u32_le(), c.u32_le()) else {
        return Err(BadFrame::ShortHeader { have: rest.len() });
    };
    let have = c.remaining();
    if len == 0 {
        return Err(BadFrame::ZeroLen);
    }
    if len as usize > MAX_FRAME_LEN {
        return Err(BadFrame::TooLong { len: len.into() });
    }
    if len as usize > have {
        return Err(BadFrame::PastEnd {
            len: len.into(),
            have,
        });
    }
    let start = pos + FRAME_HEADER_SIZE;
    let payload = start..start + len as usize;
    #[cfg(test)]
    CRC_BYTES.with(|c| c.set(c.get() + payload.len() as u64));
    if crc32fast::hash(&buf[payload.clone()]) != crc {
        return Err(BadFrame::Checksum);
    }
    Ok(payload)
}

/// Where the next good frame after a bad one at `pos` starts, if any.
///
/// The answer is the first position after `pos` holding a frame that passes
/// every check; a false match needs a sane length and a matching crc32 at an
/// arbitrary position, which is negligible. Checking every position that
/// way costs a checksum over up to the rest of the file for each position
/// whose length field happens to fit, which across a damaged megabyte of a
/// large segment is terabytes. So a cheap guess comes first, and the exact
/// search only runs up to the guess, where no checksum can be longer than
/// the distance to it (real frames never overlap, so a real frame before
/// the guess ends by it).
pub(crate) fn resync(buf: &[u8], pos: usize) -> Option<usize> {
    let guess = next_by_length(buf, pos).or_else(|| {
        (pos + 1..buf.len()).find(|&q| headers_chain(buf, q) && check_frame(buf, q).is_ok())
    });
    match guess {
        Some(g) => {
            let upto = &buf[..g];
            Some(
                (pos + 1..g)
                    .find(|&q| check_frame(upto, q).is_ok())
                    .unwrap_or(g),
            )
        }
        // Nothing chains after `pos`: at most a frame or two before the end
        // or before more damage, so the exact search is short.
        None => (pos + 1..buf.len()).find(|&q| check_frame(buf, q).is_ok()),
    }
}

/// A flipped payload bit (the common damage) leaves the length intact, so
/// the frame it points to is the next one.
fn next_by_length(buf: &[u8], pos: usize) -> Option<usize> {
    let h = buf.get(pos..pos + 4)?;
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    if !(1..=MAX_FRAME_LEN).contains(&len) {
        return None;
    }
    let next = pos + FRAME_HEADER_SIZE + len;
    (next < buf.len() && check_frame(buf, next).is_ok()).then_some(next)
}

/// Whether the length fields from `q` on chain through three frames (or to
/// the end of the file) without checksumming anything. Random bytes pass
/// each link with odds of file size over 2^32, so few candidates reach the
/// checksum.
fn headers_chain(buf: &[u8], mut q: usize) -> bool {
    for _ in 0..3 {
        if q == buf.len() {
            return true;
        }
        let Some(h) = buf.get(q..q + FRAME_HEADER_SIZE) else {
            return false;
        };
        let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
        if len == 0 || len > MAX_FRAME_LEN || len > buf.len() - q - FRAME_HEADER_SIZE {
            return false;
        }
        q += FRAME_HEADER_SIZE + len;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_truncated_bad() {
        let mut b = Vec::new();
        put_frame(&mut b, b"hello");
        put_frame(&mut b, b"world!");
        let p = check_frame(&b, 0).unwrap();
        assert_eq!(&b[p.clone()], b"hello");
        let next = p.end;
        assert_eq!(&b[check_frame(&b, next).unwrap()], b"world!");
        assert!(matches!(
            check_frame(&b[..b.len() - 1], next),
            Err(BadFrame::PastEnd { .. })
        ));
        assert!(matches!(
            check_frame(&b, b.len() - 3),
            Err(BadFrame::ShortHeader { .. })
        ));
        let mut c = b.clone();
        c[FRAME_HEADER_SIZE + 1] ^= 1;
        assert_eq!(check_frame(&c, 0), Err(BadFrame::Checksum));
        assert_eq!(resync(&c, 0), Some(next));
    }
}
