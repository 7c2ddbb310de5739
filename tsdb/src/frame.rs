//! Checksummed record framing shared by the series registry and the WAL:
//! `[len: u32 LE][crc32: u32 LE over payload][payload: len bytes]`.
//!
//! Reading distinguishes three outcomes, because recovery differs: a whole
//! good frame; a frame that runs past the end of the data (a torn write at
//! the tail, cut on open); and a frame whose checksum fails (corruption,
//! which at the tail is a torn write too, and elsewhere is skipped by
//! scanning forward for the next good frame).

/// Bytes of `len` + `crc` before each payload.
pub(crate) const FRAME_HEADER: usize = 8;

/// No record is this large; a bigger length field is corruption, and is
/// never used to size an allocation.
pub(crate) const MAX_FRAME: usize = 256 << 20;

/// Appends one frame holding `payload`.
pub(crate) fn put_frame(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// What lies at one offset of a framed file.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame<'a> {
    /// A good frame and the offset just past it.
    Good { payload: &'a [u8], next: usize },
    /// The data ends inside the frame (or its header).
    Truncated,
    /// The frame is whole but wrong; `what` says how.
    Bad { what: &'static str },
}

/// Reads the frame starting at `off` in `data`.
pub(crate) fn read_frame(data: &[u8], off: usize) -> Frame<'_> {
    let Some(hdr) = data.get(off..off.saturating_add(FRAME_HEADER)) else {
        return Frame::Truncated;
    };
    let len = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) as usize;
    let crc = u32::from_le_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
    if len == 0 {
        return Frame::Bad {
            what: "zero-length frame",
        };
    }
    if len > MAX_FRAME {
        return Frame::Bad {
            what: "frame length out of range",
        };
    }
    let start = off + FRAME_HEADER;
    let Some(payload) = data.get(start..start + len) else {
        return Frame::Truncated;
    };
    if crc32fast::hash(payload) != crc {
        return Frame::Bad {
            what: "checksum mismatch",
        };
    }
    Frame::Good {
        payload,
        next: start + len,
    }
}

/// Finds the next offset after `off` where a good frame starts, if any.
/// Used to step over a damaged region in the middle of a file so that the
/// acknowledged records after it are not lost.
pub(crate) fn resync(data: &[u8], off: usize) -> Option<usize> {
    (off + 1..data.len().saturating_sub(FRAME_HEADER))
        .find(|&o| matches!(read_frame(data, o), Frame::Good { .. }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_truncated_bad() {
        let mut b = Vec::new();
        put_frame(&mut b, b"hello");
        put_frame(&mut b, b"world!");
        let Frame::Good { payload, next } = read_frame(&b, 0) else {
            panic!()
        };
        assert_eq!(payload, b"hello");
        assert!(matches!(
            read_frame(&b, next),
            Frame::Good {
                payload: b"world!",
                ..
            }
        ));
        assert_eq!(read_frame(&b[..b.len() - 1], next), Frame::Truncated);
        let mut c = b.clone();
        c[FRAME_HEADER + 1] ^= 1;
        assert!(matches!(read_frame(&c, 0), Frame::Bad { .. }));
        assert_eq!(resync(&c, 0), Some(next));
    }
}
