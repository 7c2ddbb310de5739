//! MSB-first bit streams.
//!
//! The writer appends straight into the caller's buffer so encoders can put a
//! bit stream after byte-level fields without copying. The reader keeps up to
//! 63 bits in a register and refills it with one unaligned 8-byte load, so the
//! decoders' inner loops do one bounds check per value instead of one per bit.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::CodecError;

/// Appends bits MSB-first to a `Vec<u8>`; [`BitWriter::finish`] pads the last
/// byte with zero bits.
pub(crate) struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    /// Pending bits are the low `fill` bits; bits above them are stale and
    /// never read back.
    acc: u64,
    fill: u32,
}

impl<'a> BitWriter<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        BitWriter {
            out,
            acc: 0,
            fill: 0,
        }
    }

    /// Appends the low `n` bits of `v` (`n` <= 64; higher bits of `v` are ignored).
    #[inline]
    pub(crate) fn write(&mut self, v: u64, n: u32) {
        debug_assert!(n <= 64);
        if n > 32 {
            self.put(v >> 32, n - 32);
            self.put(v, 32);
        } else {
            self.put(v, n);
        }
    }

    #[inline]
    pub(crate) fn write_bit(&mut self, b: bool) {
        self.put(u64::from(b), 1);
    }

    /// `n` <= 32, and `fill` < 32 on entry, so `acc << n` keeps every pending bit.
    #[inline]
    fn put(&mut self, v: u64, n: u32) {
        let v = v & ((1u64 << n) - 1);
        self.acc = (self.acc << n) | v;
        self.fill += n;
        if self.fill >= 32 {
            self.fill -= 32;
            let word = (self.acc >> self.fill) as u32;
            self.out.extend_from_slice(&word.to_be_bytes());
        }
    }

    /// Flushes the pending bits, zero-padded to a whole byte.
    pub(crate) fn finish(self) {
        if self.fill > 0 {
            let v = self.acc << (64 - self.fill);
            let nbytes = self.fill.div_ceil(8) as usize;
            self.out
                .extend(v.to_be_bytes().iter().take(nbytes).copied());
        }
    }
}

/// Reads bits MSB-first from a byte slice. Bits past the end of the slice
/// read as zeros when peeked, but consuming them is a [`CodecError::Truncated`].
#[derive(Debug, Clone)]
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    /// Next byte of `data` not yet loaded into `buf`.
    pos: usize,
    /// Next bit is the MSB. Only the top `avail` bits count; the fast refill
    /// may leave real (not yet counted) data bits below them, the slow one
    /// leaves zeros, so peeking is deterministic either way.
    buf: u64,
    avail: u32,
}

impl<'a> BitReader<'a> {
    /// A reader starting at byte `start` of `data`; bit offsets in errors are
    /// counted from the start of `data`, so they point into the caller's buffer.
    pub(crate) fn new(data: &'a [u8], start: usize) -> Self {
        let mut r = BitReader {
            data,
            pos: start.min(data.len()),
            buf: 0,
            avail: 0,
        };
        r.refill();
        r
    }

    /// Bits consumed so far, counted from the start of `data`.
    #[inline]
    pub(crate) fn bit_pos(&self) -> u64 {
        (self.pos as u64) * 8 - u64::from(self.avail)
    }

    /// Bits still readable: counted ones plus whatever is left in `data`.
    #[cfg(test)]
    pub(crate) fn bits_left(&self) -> u64 {
        u64::from(self.avail) + (self.data.len().saturating_sub(self.pos) as u64) * 8
    }

    /// Tops up the register to at least 56 counted bits unless the data ends first.
    #[inline]
    pub(crate) fn refill(&mut self) {
        if let Some(chunk) = self.data.get(self.pos..).and_then(|s| s.first_chunk::<8>()) {
            // `avail` <= 63, so the shift is defined; whole bytes only are
            // counted, which lands `avail` in 56..=63.
            self.buf |= u64::from_be_bytes(*chunk) >> self.avail;
            let nbytes = (63 - self.avail) >> 3;
            self.pos += nbytes as usize;
            self.avail += nbytes << 3;
        } else {
            self.refill_slow();
        }
    }

    #[cold]
    fn refill_slow(&mut self) {
        while self.avail <= 55 {
            let Some(&b) = self.data.get(self.pos) else {
                break;
            };
            self.buf |= u64::from(b) << (56 - self.avail);
            self.pos += 1;
            self.avail += 8;
        }
    }

    /// The next 64 bits, MSB first, without consuming them. Only the top
    /// [`Self::avail`] of them are guaranteed to be data.
    #[inline]
    pub(crate) fn peek(&self) -> u64 {
        self.buf
    }

    /// Counted bits in the register (>= 56 after `refill` unless near the end).
    #[inline]
    pub(crate) fn avail(&self) -> u32 {
        self.avail
    }

    /// Drops `n` <= `avail` bits; the caller has checked `n <= self.avail()`.
    #[inline]
    pub(crate) fn skip_counted(&mut self, n: u32) {
        debug_assert!(n <= self.avail);
        self.buf = self.buf.checked_shl(n).unwrap_or(0);
        self.avail -= n;
    }

    /// Drops `n` (<= 64) bits already in the register.
    #[inline]
    pub(crate) fn consume(&mut self, n: u32) -> Result<(), CodecError> {
        if n > self.avail {
            return Err(self.truncated(n));
        }
        self.skip_counted(n);
        Ok(())
    }

    #[cold]
    pub(crate) fn truncated(&self, needed: u32) -> CodecError {
        CodecError::Truncated {
            bit: self.bit_pos(),
            needed,
        }
    }

    #[cold]
    pub(crate) fn invalid(&self, what: &'static str) -> CodecError {
        CodecError::Invalid {
            what,
            bit: self.bit_pos(),
        }
    }

    /// Reads `n` (<= 64) bits as an unsigned number.
    #[inline]
    pub(crate) fn read(&mut self, n: u32) -> Result<u64, CodecError> {
        if n <= 56 {
            if n > self.avail {
                self.refill();
            }
            let v = self.buf.checked_shr(64 - n).unwrap_or(0);
            self.consume(n)?;
            Ok(v)
        } else {
            let hi = self.read(n - 32)?;
            let lo = self.read(32)?;
            Ok((hi << 32) | lo)
        }
    }

    #[inline]
    pub(crate) fn read_bit(&mut self) -> Result<bool, CodecError> {
        Ok(self.read(1)? == 1)
    }

    /// Reads an Elias-gamma code (value >= 1) of at most `max_zeros` leading
    /// zeros, i.e. a value below `2^(max_zeros+1)`. `max_zeros` <= 27 keeps
    /// the whole code within one refill.
    #[inline]
    pub(crate) fn read_gamma(&mut self, max_zeros: u32) -> Result<u64, CodecError> {
        debug_assert!(max_zeros <= 27);
        self.refill();
        let zeros = self.buf.leading_zeros();
        if zeros > max_zeros {
            if zeros >= self.avail {
                return Err(self.truncated(zeros + 1));
            }
            return Err(self.invalid("Elias-gamma length"));
        }
        self.read(2 * zeros + 1)
    }
}

/// Appends the Elias-gamma code of `v` (>= 1): `floor(log2 v)` zero bits,
/// then `v` in binary.
#[inline]
pub(crate) fn write_gamma(w: &mut BitWriter<'_>, v: u64) {
    debug_assert!(v >= 1);
    let len = 64 - v.leading_zeros();
    w.write(v, 2 * len - 1);
}

/// Bits taken by [`write_gamma`] for `v` >= 1.
#[inline]
pub(crate) fn gamma_len(v: u64) -> u32 {
    2 * (64 - v.leading_zeros()) - 1
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail by panicking"
)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn writes_msb_first_and_pads() {
        let mut out = vec![0xAA];
        let mut w = BitWriter::new(&mut out);
        w.write(0b1, 1);
        w.write(0b01, 2);
        w.write(0xF, 4);
        w.write(0b1, 1);
        w.write(0b11, 2);
        w.finish();
        assert_eq!(out, vec![0xAA, 0b1011_1111, 0b1100_0000]);
    }

    #[test]
    fn reads_past_end_error() {
        let data = [0xFFu8, 0x00];
        let mut r = BitReader::new(&data, 0);
        assert_eq!(r.read(12).ok(), Some(0xFF0));
        assert_eq!(r.read(4).ok(), Some(0));
        assert!(matches!(
            r.read(1),
            Err(CodecError::Truncated { bit: 16, needed: 1 })
        ));
        assert_eq!(r.read(0).ok(), Some(0));
        let mut r = BitReader::new(&[], 0);
        assert!(r.read(64).is_err());
        assert!(r.read_gamma(20).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(items in proptest::collection::vec((any::<u64>(), 0u32..=64), 0..200)) {
            let mut out = vec![7u8];
            let mut w = BitWriter::new(&mut out);
            let mut total = 0u64;
            for &(v, n) in &items {
                w.write(v, n);
                total += u64::from(n);
            }
            w.write_bit(true);
            write_gamma(&mut w, items.len() as u64 + 1);
            total += 1 + u64::from(gamma_len(items.len() as u64 + 1));
            w.finish();
            prop_assert_eq!(out.len() as u64, 1 + total.div_ceil(8));
            let mut r = BitReader::new(&out, 1);
            for &(v, n) in &items {
                let want = if n == 0 { 0 } else { v & (u64::MAX >> (64 - n)) };
                prop_assert_eq!(r.read(n).ok(), Some(want));
            }
            prop_assert_eq!(r.read_bit().ok(), Some(true));
            prop_assert_eq!(r.read_gamma(27).ok(), Some(items.len() as u64 + 1));
            prop_assert_eq!(r.bit_pos(), 8 + total);
            prop_assert!(r.bits_left() < 8);
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..40), ns in proptest::collection::vec(0u32..=64, 0..40)) {
            let mut r = BitReader::new(&data, 3);
            for n in ns {
                let _ = r.read(n);
                let _ = r.read_gamma(27);
            }
        }
    }
}
