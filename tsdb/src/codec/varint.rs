//! LEB128 unsigned varints and zigzag signed varints, used by every record
//! and index on disk. Decoders return `None` on truncated or over-long input
//! instead of panicking: the caller turns that into a corruption error with
//! the file and offset it knows.

/// Appends `v` as an unsigned LEB128 varint (1 to 10 bytes).
#[inline]
pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` zigzag-encoded, so small magnitudes of either sign stay short.
#[inline]
pub(crate) fn put_varint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, zigzag(v));
}

#[inline]
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[inline]
pub(crate) fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Reads an unsigned varint from `buf` at `*pos`, advancing `*pos`.
/// `None` if the input ends first or the varint is longer than 10 bytes.
#[inline]
pub(crate) fn get_uvarint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    let mut shift = 0u32;
    loop {
        let b = *buf.get(*pos)?;
        *pos += 1;
        if shift == 63 && b > 1 {
            return None;
        }
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

/// Reads a zigzag varint written by [`put_varint`].
#[inline]
pub(crate) fn get_varint(buf: &[u8], pos: &mut usize) -> Option<i64> {
    get_uvarint(buf, pos).map(unzigzag)
}

/// A cursor over a byte slice for the fixed-width and varint fields of
/// records and indexes. Every getter returns `None` past the end.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }
    pub(crate) fn uvarint(&mut self) -> Option<u64> {
        get_uvarint(self.buf, &mut self.pos)
    }
    pub(crate) fn varint(&mut self) -> Option<i64> {
        get_varint(self.buf, &mut self.pos)
    }
    pub(crate) fn u8(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }
    pub(crate) fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    pub(crate) fn u32_le(&mut self) -> Option<u32> {
        let b = self.bytes(4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub(crate) fn u64_le(&mut self) -> Option<u64> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(u64::from_le_bytes(a))
    }
    pub(crate) fn f64_le(&mut self) -> Option<f64> {
        self.u64_le().map(f64::from_bits)
    }
    /// A uvarint length followed by that many bytes of UTF-8.
    pub(crate) fn str(&mut self) -> Option<&'a str> {
        let n = usize::try_from(self.uvarint()?).ok()?;
        std::str::from_utf8(self.bytes(n)?).ok()
    }
}

/// Appends a uvarint length and the bytes of `s`.
pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_uvarint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn uvarint_round_trips(v in any::<u64>()) {
            let mut b = Vec::new();
            put_uvarint(&mut b, v);
            let mut p = 0;
            prop_assert_eq!(get_uvarint(&b, &mut p), Some(v));
            prop_assert_eq!(p, b.len());
        }

        #[test]
        fn varint_round_trips(v in any::<i64>()) {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            let mut p = 0;
            prop_assert_eq!(get_varint(&b, &mut p), Some(v));
        }

        #[test]
        fn uvarint_never_panics_on_garbage(b in proptest::collection::vec(any::<u8>(), 0..16)) {
            let mut p = 0;
            let _ = get_uvarint(&b, &mut p);
        }
    }

    #[test]
    fn truncated_and_overlong_are_none() {
        let mut p = 0;
        assert_eq!(get_uvarint(&[0x80, 0x80], &mut p), None);
        let mut p = 0;
        assert_eq!(get_uvarint(&[0xff; 11], &mut p), None);
        let mut p = 0;
        // 10th byte may only carry the top bit.
        assert_eq!(
            get_uvarint(
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
                &mut p
            ),
            None
        );
    }
}
