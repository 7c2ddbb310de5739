//! What a WAL frame's payload means. The framing layer (segment.rs) hands
//! over checksummed byte strings; this module turns them into records.
//!
//! Payload = `[type u8][body]`. The type byte leaves room for records other
//! than samples (series definitions, tombstones) without a format bump:
//! a reader that meets a type it does not know reports it instead of
//! guessing.

use std::path::Path;

use crate::codec::varint::{put_uvarint, put_varint, Cursor};
use crate::error::{Error, Result};

/// Record type byte of a batch of samples.
pub(crate) const RECORD_SAMPLES: u8 = 1;

/// The smallest encoding of one sample: a 1-byte series id, a 1-byte time
/// delta and the 8-byte value. Bounds the count before allocating.
const MIN_SAMPLE_BYTES: usize = 1 + 1 + 8;

/// One sample of the series the Db numbered `series`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefSample {
    pub(crate) series: u32,
    pub(crate) t: i64,
    pub(crate) v: f64,
}

// Compared by bits so that a NaN (staleness markers are NaNs with a payload)
// equals itself and -0.0 differs from 0.0: what round-trips is the bits.
impl PartialEq for RefSample {
    fn eq(&self, other: &Self) -> bool {
        self.series == other.series && self.t == other.t && self.v.to_bits() == other.v.to_bits()
    }
}

impl Eq for RefSample {}

/// A decoded WAL record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Record {
    /// Samples in the order they were appended.
    Samples(Vec<RefSample>),
}

/// Why a payload does not decode. Offsets count from the payload's first
/// byte (the type byte); [`decode_record_at`] adds the frame's position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RecordError {
    #[error("empty record")]
    Empty,
    #[error("unknown record type {0} at byte 0")]
    UnknownType(u8),
    #[error("truncated or over-long {field} at byte {offset}")]
    Truncated { field: &'static str, offset: usize },
    #[error(
        "sample count {count} at byte {offset} cannot fit in the {remaining} bytes that follow"
    )]
    CountTooLarge {
        count: u64,
        offset: usize,
        remaining: usize,
    },
    #[error("series id {id} at byte {offset} is larger than u32")]
    SeriesOutOfRange { id: u64, offset: usize },
    #[error("{len} trailing bytes at byte {offset}")]
    Trailing { len: usize, offset: usize },
}

impl RecordError {
    /// Byte of the payload where the problem starts.
    pub(crate) fn offset(&self) -> usize {
        match *self {
            RecordError::Empty | RecordError::UnknownType(_) => 0,
            RecordError::Truncated { offset, .. }
            | RecordError::CountTooLarge { offset, .. }
            | RecordError::SeriesOutOfRange { offset, .. }
            | RecordError::Trailing { offset, .. } => offset,
        }
    }
}

/// Appends a samples record for `samples` to `out` (which is not cleared,
/// so a caller can reuse one buffer across batches by clearing it itself).
///
/// Times are deltas from the previous sample of the record because a batch
/// is mostly one scrape: the deltas are 0 and cost one byte. The arithmetic
/// wraps so that any pair of i64 round-trips, extremes included.
pub(crate) fn encode_samples(samples: &[RefSample], out: &mut Vec<u8>) {
    out.reserve(1 + 10 + samples.len() * (5 + 2 + 8));
    out.push(RECORD_SAMPLES);
    put_uvarint(out, samples.len() as u64);
    let mut prev_t = 0i64;
    for s in samples {
        put_uvarint(out, u64::from(s.series));
        put_varint(out, s.t.wrapping_sub(prev_t));
        out.extend_from_slice(&s.v.to_bits().to_le_bytes());
        prev_t = s.t;
    }
}

/// Decodes one frame payload. Never panics and never allocates more than the
/// payload could describe, whatever the bytes.
pub(crate) fn decode_record(payload: &[u8]) -> Result<Record, RecordError> {
    let mut c = Cursor::new(payload);
    let ty = c.u8().ok_or(RecordError::Empty)?;
    let rec = match ty {
        RECORD_SAMPLES => Record::Samples(decode_samples(&mut c)?),
        other => return Err(RecordError::UnknownType(other)),
    };
    if !c.is_empty() {
        return Err(RecordError::Trailing {
            len: c.remaining(),
            offset: c.pos,
        });
    }
    Ok(rec)
}

fn decode_samples(c: &mut Cursor<'_>) -> Result<Vec<RefSample>, RecordError> {
    let count_at = c.pos;
    let count = c.uvarint().ok_or(RecordError::Truncated {
        field: "sample count",
        offset: count_at,
    })?;
    let remaining = c.remaining();
    if count > (remaining / MIN_SAMPLE_BYTES) as u64 {
        return Err(RecordError::CountTooLarge {
            count,
            offset: count_at,
            remaining,
        });
    }
    // Bounded by the check above: at most payload_len / 10 entries.
    let mut out = Vec::with_capacity(count as usize);
    let mut t = 0i64;
    for _ in 0..count {
        let at = c.pos;
        let id = c.uvarint().ok_or(RecordError::Truncated {
            field: "series id",
            offset: at,
        })?;
        let series =
            u32::try_from(id).map_err(|_| RecordError::SeriesOutOfRange { id, offset: at })?;
        let at = c.pos;
        let dt = c.varint().ok_or(RecordError::Truncated {
            field: "timestamp delta",
            offset: at,
        })?;
        t = t.wrapping_add(dt);
        let at = c.pos;
        let v = c.f64_le().ok_or(RecordError::Truncated {
            field: "value",
            offset: at,
        })?;
        out.push(RefSample { series, t, v });
    }
    Ok(out)
}

/// [`decode_record`] for a payload read from `file` in a frame whose header
/// starts at `frame_offset`: a bad payload becomes [`Error::Corrupt`] naming
/// the file and the absolute byte offset of the damage.
pub(crate) fn decode_record_at(file: &Path, frame_offset: u64, payload: &[u8]) -> Result<Record> {
    decode_record(payload).map_err(|e| {
        let payload_start = frame_offset + super::segment::FRAME_HEADER_SIZE as u64;
        Error::corrupt(
            file,
            payload_start + e.offset() as u64,
            format!("WAL record: {e}"),
        )
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing test should panic
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(samples: &[RefSample]) -> Vec<RefSample> {
        let mut buf = Vec::new();
        encode_samples(samples, &mut buf);
        match decode_record(&buf) {
            Ok(Record::Samples(s)) => s,
            Err(e) => panic!("decode failed: {e}"),
        }
    }

    fn sample() -> impl Strategy<Value = RefSample> {
        (any::<u32>(), any::<i64>(), any::<u64>()).prop_map(|(series, t, bits)| RefSample {
            series,
            t,
            v: f64::from_bits(bits),
        })
    }

    proptest! {
        #[test]
        fn samples_round_trip(samples in proptest::collection::vec(sample(), 0..200)) {
            prop_assert_eq!(round_trip(&samples), samples);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_record(&bytes);
        }

        #[test]
        fn decode_never_panics_on_samples_type(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut b = vec![RECORD_SAMPLES];
            b.extend_from_slice(&bytes);
            let _ = decode_record(&b);
        }

        #[test]
        fn truncation_is_an_error(samples in proptest::collection::vec(sample(), 1..20), cut in any::<prop::sample::Index>()) {
            let mut buf = Vec::new();
            encode_samples(&samples, &mut buf);
            let cut = cut.index(buf.len());
            prop_assert!(decode_record(&buf[..cut]).is_err());
        }
    }

    #[test]
    fn extremes_and_special_values_round_trip() {
        let s = [
            RefSample {
                series: 0,
                t: i64::MIN,
                v: -0.0,
            },
            RefSample {
                series: u32::MAX,
                t: i64::MAX,
                v: f64::from_bits(0x7ff0_0000_0000_0002),
            },
            RefSample {
                series: 7,
                t: i64::MIN,
                v: f64::NAN,
            },
            RefSample {
                series: 7,
                t: 0,
                v: f64::INFINITY,
            },
            RefSample {
                series: 1,
                t: -1,
                v: 0.0,
            },
        ];
        assert_eq!(round_trip(&s), s);
        assert_ne!(
            round_trip(&s)[0],
            RefSample {
                series: 0,
                t: i64::MIN,
                v: 0.0
            }
        );
    }

    #[test]
    fn same_time_batch_is_compact() {
        let s: Vec<_> = (0..100)
            .map(|i| RefSample {
                series: i,
                t: 1_700_000_000_000,
                v: 1.5,
            })
            .collect();
        let mut buf = Vec::new();
        encode_samples(&s, &mut buf);
        // type + count(1) + first sample (1 + 6 + 8) + 99 * (1 + 1 + 8)
        assert_eq!(buf.len(), 1 + 1 + 15 + 99 * 10);
    }

    #[test]
    fn errors_say_where() {
        assert_eq!(decode_record(&[]), Err(RecordError::Empty));
        assert_eq!(decode_record(&[9, 0]), Err(RecordError::UnknownType(9)));
        // Claims 1000 samples in 3 bytes: refused before allocating.
        assert!(matches!(
            decode_record(&[RECORD_SAMPLES, 0xe8, 0x07, 0, 0, 0]),
            Err(RecordError::CountTooLarge {
                count: 1000,
                offset: 1,
                ..
            })
        ));
        let mut buf = Vec::new();
        encode_samples(
            &[RefSample {
                series: 1,
                t: 2,
                v: 3.0,
            }],
            &mut buf,
        );
        buf.push(0);
        assert_eq!(
            decode_record(&buf),
            Err(RecordError::Trailing {
                len: 1,
                offset: buf.len() - 1
            })
        );
        // Series id 2^32 does not fit a u32.
        let mut b = vec![RECORD_SAMPLES, 1];
        put_uvarint(&mut b, 1 << 32);
        b.extend_from_slice(&[0; 9]);
        assert!(matches!(
            decode_record(&b),
            Err(RecordError::SeriesOutOfRange { offset: 2, .. })
        ));
        let err = decode_record_at(Path::new("/db/wal/00000003"), 100, &b).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("00000003") && msg.contains("offset 110"),
            "{msg}"
        );
    }
}
