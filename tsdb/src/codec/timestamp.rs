//! Timestamp columns: a delta column ([`super::ints::encode_diffs`]) of
//! millisecond timestamps.
//!
//! Scrapes jitter by a few ms around a fixed interval, so "delta minus the
//! median delta" is usually about half the size of delta-of-deltas (jitter
//! enters a dod twice); the encoder keeps whichever is smaller per chunk.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::{check_count, ints, CodecError};

/// Appends the encoding of `ts` (strictly increasing when written by the
/// engine, but any sequence round-trips). Writes nothing for an empty slice.
pub(crate) fn encode_timestamps(ts: &[i64], out: &mut Vec<u8>) {
    ints::encode_diffs(ts, out);
}

/// Appends the `n` timestamps encoded in `data`. On error `out` is left as it was.
pub(crate) fn decode_timestamps(
    data: &[u8],
    n: usize,
    out: &mut Vec<i64>,
) -> Result<(), CodecError> {
    check_count(n)?;
    let start = out.len();
    out.reserve(n);
    let r = ints::decode_diffs(data, 0, n, |t| out.push(t));
    if r.is_err() {
        out.truncate(start);
    }
    r
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail by panicking"
)]
pub(crate) mod tests {
    use super::*;
    use crate::codec::MAX_CHUNK_SAMPLES;
    use proptest::prelude::*;

    fn enc(ts: &[i64]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_timestamps(ts, &mut out);
        let mut got = vec![-1];
        decode_timestamps(&out, ts.len(), &mut got).unwrap();
        assert_eq!(&got[1..], ts);
        out
    }

    /// Deterministic jitter in `-j..=j` without pulling in a RNG crate.
    fn jitter(i: u64, j: i64) -> i64 {
        let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29) ^ 0xA5A5_5A5A;
        let x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        ((x >> 33) % (2 * j as u64 + 1)) as i64 - j
    }

    pub(crate) fn scrape(n: usize, start: i64, interval: i64, j: i64) -> Vec<i64> {
        (0..n)
            .map(|i| start + i as i64 * interval + jitter(i as u64, j))
            .collect()
    }

    fn bits_per(ts: &[i64]) -> f64 {
        enc(ts).len() as f64 * 8.0 / ts.len() as f64
    }

    #[test]
    fn hand_checked() {
        assert!(enc(&[]).is_empty());
        enc(&[1_700_000_000_000]);
        enc(&[i64::MIN, i64::MAX]);
        enc(&[i64::MIN, -1, 0, i64::MAX]);
        enc(&[i64::MAX, i64::MIN, i64::MAX]);
        let mut out = Vec::new();
        assert!(matches!(
            decode_timestamps(&[], MAX_CHUNK_SAMPLES + 1, &mut out),
            Err(CodecError::TooManySamples { .. })
        ));
        // A truncated chunk leaves `out` untouched.
        let data = enc(&scrape(100, 1_700_000_000_000, 60_000, 5));
        let mut out = vec![1, 2];
        assert!(decode_timestamps(&data[..data.len() - 1], 100, &mut out).is_err());
        assert_eq!(out, [1, 2]);
    }

    #[test]
    fn realistic_sizes() {
        let t0 = 1_700_000_000_123;
        let j60 = scrape(1440, t0, 60_000, 5);
        let b = bits_per(&j60);
        eprintln!("timestamps 60 s +-5 ms jitter: {b:.2} bits/sample");
        assert!(b < 5.0, "{b}");
        let b = bits_per(&scrape(1440, t0, 60_000, 2));
        eprintln!("timestamps 60 s +-2 ms jitter: {b:.2} bits/sample");
        let b = bits_per(&scrape(3600, t0, 1_000, 0));
        eprintln!("timestamps 1 s exact: {b:.3} bits/sample");
        assert!(b < 0.1, "{b}");
        let b = bits_per(&scrape(144, t0, 600_000, 0));
        eprintln!("timestamps 10 min exact (144): {b:.3} bits/sample");
        let b = bits_per(&scrape(144, t0, 600_000, 20));
        eprintln!("timestamps 10 min +-20 ms (144): {b:.3} bits/sample");
        let b = bits_per(&scrape(120, t0, 60_000, 5));
        eprintln!("timestamps 60 s +-5 ms, 120-sample chunk: {b:.2} bits/sample");
        // Gaps of hours every so often.
        let mut gappy = j60.clone();
        for (i, t) in gappy.iter_mut().enumerate() {
            *t += (i as i64 / 300) * 3 * 3_600_000;
        }
        let b = bits_per(&gappy);
        eprintln!("timestamps 60 s +-5 ms with 3 h gaps every 300: {b:.2} bits/sample");
        assert!(b < 6.0, "{b}");
    }

    fn shapes() -> impl Strategy<Value = Vec<i64>> {
        prop_oneof![
            proptest::collection::vec(any::<i64>(), 0..100),
            (0usize..400, 0i64..10).prop_map(|(n, j)| scrape(n, 1_700_000_000_000, 60_000, j)),
            (0usize..400, 0i64..10).prop_map(|(n, j)| scrape(n, 1_700_000_000_000, 1_000, j)),
            proptest::collection::vec(1i64..10_000_000, 0..200).prop_map(|d| {
                d.iter()
                    .scan(0i64, |t, &x| {
                        *t += x;
                        Some(*t)
                    })
                    .collect()
            }),
        ]
    }

    proptest! {
        #[test]
        fn round_trip_and_truncation(ts in shapes(), cut in any::<prop::sample::Index>()) {
            let out = enc(&ts);
            if !out.is_empty() {
                let mut got = Vec::new();
                let cut = cut.index(out.len());
                prop_assert!(decode_timestamps(&out[..cut], ts.len(), &mut got).is_err());
                prop_assert!(got.is_empty());
            }
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64), n in 0usize..3000) {
            let mut got = Vec::new();
            match decode_timestamps(&data, n, &mut got) {
                Ok(()) => prop_assert_eq!(got.len(), n),
                Err(_) => prop_assert!(got.is_empty()),
            }
        }
    }
}
