//! Codecs: bytes <-> numbers, no I/O.
//!
//! Chunk encodings for sample columns: timestamps ([`timestamp`]) and values
//! ([`encode_values`] picks XOR, decimal or constant per chunk). Decoders
//! never panic: any input yields values or a [`CodecError`] naming the bit
//! offset, which the block reader wraps into [`crate::Error::Corrupt`].
//!
//! Layouts (bit streams are MSB-first and zero-padded to a whole byte;
//! varints are LEB128, "zigzag varint" is a signed value zigzag-mapped):
//! - integer stream of `c` values (`c` known to the reader; nothing when
//!   `c == 0`): 3 bits `k` (1..=5), 1 bit `rle`, `k` x 7 bits bucket widths
//!   (0..=64), then per value bucket `j`'s prefix (`j` ones, then a zero if
//!   `j < k - 1`) and the value zigzag-mapped in `width[j]` bits. With `rle`
//!   (needs `k >= 2`, `width[0] == 0`) bucket 0 is instead followed by an
//!   Elias-gamma run length `r` (1..2^25) and stands for `r` zeros.
//! - delta column of `n` values: zigzag varint `v0`; if `n >= 2`, a mode
//!   byte and a zigzag varint `p`, then an integer stream to the end:
//!   mode 0 (delta-of-delta): `p` = first delta, stream of `n - 2` dods;
//!   mode 1 (fixed base): `p` = base delta, stream of `n - 1` values
//!   `delta_i - p`; mode 2 (level): `p` = a level, stream of `n - 1`
//!   values `v_i - p` for `i >= 1`. Mode bit 0x80 set: a uvarint factor
//!   `g >= 2` follows `p`, and every stream value is multiplied by `g`.
//!   All arithmetic wraps modulo 2^64.
//! - timestamps: a delta column.
//! - [`ValueCodec::Decimal`]: byte `scale` (0..=6), delta column of
//!   mantissas; value = `m as f64 / 10^scale` (exact power of ten).
//! - [`ValueCodec::Xor`]: see [`xor`].
//! - [`ValueCodec::Constant`]: the value's 8 bytes, little-endian.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

pub(crate) mod bits;
pub(crate) mod decimal;
pub(crate) mod ints;
pub(crate) mod timestamp;
pub(crate) use timestamp::{decode_timestamps, encode_timestamps};
#[expect(
    clippy::indexing_slicing,
    reason = "varint's Cursor indexes slices whose length it has just checked"
)]
pub(crate) mod varint;
pub(crate) mod xor;

/// Most samples one chunk may hold. `n` comes from disk, so decoders check it
/// before reserving memory.
pub(crate) const MAX_CHUNK_SAMPLES: usize = 65_536;

/// Why a chunk did not decode. Bit offsets count from the start of the slice
/// handed to the decoder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CodecError {
    /// The sample count read from disk exceeds [`MAX_CHUNK_SAMPLES`].
    #[error("chunk claims {n} samples, more than the limit {max}")]
    TooManySamples {
        /// Count claimed.
        n: usize,
        /// [`MAX_CHUNK_SAMPLES`].
        max: usize,
    },
    /// The value codec id is not one this build knows.
    #[error("unknown value codec id {0}")]
    UnknownCodec(u8),
    /// The data ends before `n` values were decoded.
    #[error("chunk data truncated at bit {bit} ({needed} more bits needed)")]
    Truncated {
        /// Bit offset where data ran out.
        bit: u64,
        /// Bits the field being read still needed.
        needed: u32,
    },
    /// A field holds an impossible value.
    #[error("invalid {what} at bit {bit}")]
    Invalid {
        /// Which field.
        what: &'static str,
        /// Bit offset of (or just after) the field.
        bit: u64,
    },
}

/// How a chunk's values are encoded; stored as one byte beside the chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum ValueCodec {
    /// Gorilla XOR of consecutive bit patterns ([`xor`]).
    Xor = 0,
    /// Scaled integers through delta coding ([`decimal`]).
    Decimal = 1,
    /// Every value has the same bits: 8 bytes, little-endian.
    Constant = 2,
    /// A chunk of downsampled buckets (tier blocks only): six value
    /// streams, see `crate::downsample`.
    Buckets = 3,
}

impl TryFrom<u8> for ValueCodec {
    type Error = CodecError;
    fn try_from(b: u8) -> Result<Self, CodecError> {
        match b {
            0 => Ok(ValueCodec::Xor),
            1 => Ok(ValueCodec::Decimal),
            2 => Ok(ValueCodec::Constant),
            3 => Ok(ValueCodec::Buckets),
            _ => Err(CodecError::UnknownCodec(b)),
        }
    }
}

/// Rejects counts that would let a corrupt header make us allocate gigabytes.
pub(crate) fn check_count(n: usize) -> Result<(), CodecError> {
    if n > MAX_CHUNK_SAMPLES {
        return Err(CodecError::TooManySamples {
            n,
            max: MAX_CHUNK_SAMPLES,
        });
    }
    Ok(())
}

/// Appends the smallest encoding of `vs` that decodes to the same bits and
/// returns which one it is. An empty chunk is `Xor` with no bytes.
pub(crate) fn encode_values(vs: &[f64], out: &mut Vec<u8>) -> ValueCodec {
    let Some(first) = vs.first() else {
        return ValueCodec::Xor;
    };
    let bits = first.to_bits();
    if vs.iter().all(|v| v.to_bits() == bits) {
        out.extend_from_slice(&bits.to_le_bytes());
        return ValueCodec::Constant;
    }
    let start = out.len();
    if decimal::encode_decimal(vs, out) {
        let dec_len = out.len() - start;
        // Decimal decodes faster, so XOR has to win outright. Most decimal
        // chunks are several times smaller than XOR; skip the second encode
        // when the decimal one is already tiny.
        if dec_len * 8 <= vs.len() * 2 {
            return ValueCodec::Decimal;
        }
        let mut x = Vec::with_capacity(dec_len);
        xor::encode_xor(vs, &mut x);
        if x.len() >= dec_len {
            return ValueCodec::Decimal;
        }
        out.truncate(start);
        out.extend_from_slice(&x);
        return ValueCodec::Xor;
    }
    xor::encode_xor(vs, out);
    ValueCodec::Xor
}

/// Appends the `n` values of a chunk encoded by [`encode_values`]. On error
/// `out` is left as it was.
pub(crate) fn decode_values(
    codec: ValueCodec,
    data: &[u8],
    n: usize,
    out: &mut Vec<f64>,
) -> Result<(), CodecError> {
    check_count(n)?;
    let start = out.len();
    let r = match codec {
        ValueCodec::Xor => xor::decode_xor(data, n, out),
        ValueCodec::Decimal => decimal::decode_decimal(data, n, out),
        ValueCodec::Constant => decode_constant(data, n, out),
        ValueCodec::Buckets => Err(CodecError::Invalid {
            what: "bucket chunk where samples were expected",
            bit: 0,
        }),
    };
    if r.is_err() {
        out.truncate(start);
    }
    r
}

fn decode_constant(data: &[u8], n: usize, out: &mut Vec<f64>) -> Result<(), CodecError> {
    if n == 0 {
        return Ok(());
    }
    let Some(b) = data.first_chunk::<8>() else {
        return Err(CodecError::Truncated { bit: 0, needed: 64 });
    };
    let v = f64::from_bits(u64::from_le_bytes(*b));
    out.resize(out.len() + n, v);
    Ok(())
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail by panicking"
)]
mod tests;
