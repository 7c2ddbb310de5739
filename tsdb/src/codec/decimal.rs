//! Values that are integers or short fixed decimals (temperatures, clocks,
//! power with two decimals, counters), stored as integer mantissas.
//!
//! Layout: one byte `scale` (0..=[`MAX_SCALE`]), then a delta column
//! ([`super::ints::encode_diffs`]) of mantissas `m_i`. The decoder rebuilds
//! each value as `m_i as f64 / POW10[scale]`; the encoder only chooses this
//! codec when that expression gives back the input's exact bits, so -0.0,
//! NaN, infinities and values like 0.1 + 0.2 never take this path.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::{check_count, ints, CodecError};

/// Most decimal digits after the point a decimal chunk may have.
pub(crate) const MAX_SCALE: usize = 6;

/// Exact powers of ten (all below 2^53, so the division is correctly rounded).
const POW10: [f64; MAX_SCALE + 1] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6];

/// Mantissas stay where `i64 -> f64` is exact.
const MAX_MANTISSA: f64 = 9_007_199_254_740_992.0; // 2^53

/// The mantissa of `v` at `scale` if the decoder's rebuild gives `v`'s bits back.
#[inline]
fn mantissa(v: f64, p: f64) -> Option<i64> {
    let r = (v * p).round();
    // NaN and infinities must never reach the cast.
    if r.is_nan() || r.abs() > MAX_MANTISSA {
        return None;
    }
    // Rebuild exactly as the decoder does: going through i64 also turns
    // -0.0 into +0.0, which the bit comparison then rejects.
    let m = r as i64;
    ((m as f64 / p).to_bits() == v.to_bits()).then_some(m)
}

/// Appends the decimal encoding of `vs` and returns true, or returns false
/// (leaving `out` as it was) when some value is not a short decimal.
pub(crate) fn encode_decimal(vs: &[f64], out: &mut Vec<u8>) -> bool {
    if vs.is_empty() {
        return false;
    }
    // The chunk scale is the largest of the per-value smallest scales.
    // Start each search at the scale found so far: most values need no more.
    let mut scale = 0;
    for &v in vs {
        let Some(s) =
            (scale..=MAX_SCALE).find(|&s| POW10.get(s).is_some_and(|&p| mantissa(v, p).is_some()))
        else {
            return false;
        };
        scale = s;
    }
    let Some(&p) = POW10.get(scale) else {
        return false;
    };
    // A value exact at a smaller scale can still miss at the chunk scale
    // when its mantissa outgrows 2^53; then the chunk is not decimal.
    let Some(ms) = vs
        .iter()
        .map(|&v| mantissa(v, p))
        .collect::<Option<Vec<i64>>>()
    else {
        return false;
    };
    out.push(scale as u8);
    ints::encode_diffs(&ms, out);
    true
}

/// The sum of `vs` rounded once, when every value is a short decimal (the
/// mantissas at a common scale are added exactly); `None` otherwise.
pub(crate) fn exact_sum(vs: &[f64]) -> Option<f64> {
    let mut scale = 0;
    for &v in vs {
        scale = (scale..=MAX_SCALE)
            .find(|&s| POW10.get(s).is_some_and(|&p| mantissa(v, p).is_some()))?;
    }
    let p = *POW10.get(scale)?;
    let mut total: i128 = 0;
    for &v in vs {
        total += i128::from(mantissa(v, p)?);
    }
    if total.unsigned_abs() > MAX_MANTISSA as u128 {
        return None;
    }
    Some(total as i64 as f64 / p)
}

/// Appends the `n` values encoded in `data`.
pub(crate) fn decode_decimal(data: &[u8], n: usize, out: &mut Vec<f64>) -> Result<(), CodecError> {
    check_count(n)?;
    if n == 0 {
        return Ok(());
    }
    let Some(&scale) = data.first() else {
        return Err(CodecError::Truncated { bit: 0, needed: 8 });
    };
    let Some(&p) = POW10.get(usize::from(scale)) else {
        return Err(CodecError::Invalid {
            what: "decimal scale",
            bit: 0,
        });
    };
    out.reserve(n);
    if scale == 0 {
        ints::decode_diffs(data, 1, n, |m| out.push(m as f64))
    } else {
        ints::decode_diffs(data, 1, n, |m| out.push(m as f64 / p))
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail by panicking"
)]
mod tests {
    use super::*;

    fn enc(vs: &[f64]) -> Option<Vec<u8>> {
        let mut out = vec![0xEE];
        if !encode_decimal(vs, &mut out) {
            assert_eq!(out, [0xEE]);
            return None;
        }
        let mut got = Vec::new();
        decode_decimal(&out[1..], vs.len(), &mut got).unwrap();
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(vs));
        Some(out[1..].to_vec())
    }

    #[test]
    fn scales() {
        assert_eq!(enc(&[61.0, 62.0, 61.0]).unwrap()[0], 0);
        assert_eq!(enc(&[231.47, 230.5, 229.0]).unwrap()[0], 2);
        assert_eq!(enc(&[0.1, 0.25, 0.125]).unwrap()[0], 3);
        assert_eq!(enc(&[123_456_789.0, 123_456_790.0]).unwrap()[0], 0);
        assert_eq!(enc(&[-40.5, 0.0, 1e14]).unwrap()[0], 1);
        assert_eq!(enc(&[9_007_199_254_740_992.0]).unwrap()[0], 0);
        assert_eq!(enc(&[0.000_001]).unwrap()[0], 6);
    }

    #[test]
    fn not_decimal() {
        assert!(enc(&[0.1 + 0.2, 0.3]).is_none());
        assert!(enc(&[1.0, -0.0]).is_none());
        assert!(enc(&[f64::NAN]).is_none());
        assert!(enc(&[f64::INFINITY]).is_none());
        assert!(enc(&[f64::NEG_INFINITY]).is_none());
        assert!(enc(&[f64::MIN_POSITIVE / 2.0]).is_none());
        assert!(enc(&[1e300]).is_none());
        assert!(enc(&[18_014_398_509_481_984.0]).is_none()); // 2^54
        assert!(enc(&[0.000_000_1]).is_none());
        assert!(enc(&[std::f64::consts::PI]).is_none());
        assert!(enc(&[]).is_none());
    }

    #[test]
    fn bad_scale_and_truncation() {
        let mut out = Vec::new();
        assert!(decode_decimal(&[7, 0], 1, &mut out).is_err());
        assert!(decode_decimal(&[], 1, &mut out).is_err());
        assert!(decode_decimal(&[0], 1, &mut out).is_err());
        assert!(decode_decimal(&[], 0, &mut out).is_ok());
    }
}
