//! Gorilla XOR encoding of f64 bit patterns, for values that are not short
//! decimals. Works on bits only, so every pattern (NaN payloads, -0.0,
//! subnormals) round-trips.
//!
//! Bit stream, MSB first, zero-padded to a byte:
//! `rle` (1 bit), the first value's 64 bits, then per following value with
//! `x = bits ^ previous bits`:
//! - `0`: `x == 0`; when `rle` is set an Elias-gamma run length follows and
//!   the code stands for that many repeats;
//! - `10` + `len` bits: `x` fits the current window (`lead` leading and
//!   `trail` trailing zero bits, `len = 64 - lead - trail`);
//! - `11` + 6 bits `lead` + 6 bits `len - 1` + `len` bits: a new window.
//!
//! The window starts as `lead = trail = 0`. The encoder takes `11` over `10`
//! when it is cheaper, not only when the old window does not fit.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::bits::{gamma_len, write_gamma, BitReader, BitWriter};
use super::{check_count, CodecError};

/// Longest repeat run one code stands for (gamma code within one refill).
const MAX_RUN_ZEROS: u32 = 24;
const MAX_RUN: usize = (1 << (MAX_RUN_ZEROS + 1)) - 1;

/// Appends the XOR encoding of `vs`; nothing for an empty slice.
pub(crate) fn encode_xor(vs: &[f64], out: &mut Vec<u8>) {
    let Some(first) = vs.first() else {
        return;
    };
    let rle = {
        // Run-length codes pay off only when repeats come in runs.
        let (mut plain, mut coded) = (0u64, 0u64);
        let mut run = 0u64;
        let mut prev = first.to_bits();
        for v in vs.iter().skip(1) {
            let b = v.to_bits();
            if b == prev && run < MAX_RUN as u64 {
                run += 1;
            } else if run > 0 {
                plain += run;
                coded += 1 + u64::from(gamma_len(run));
                run = u64::from(b == prev);
            }
            prev = b;
        }
        if run > 0 {
            plain += run;
            coded += 1 + u64::from(gamma_len(run));
        }
        coded < plain
    };
    let mut w = BitWriter::new(out);
    w.write_bit(rle);
    let mut prev = first.to_bits();
    w.write(prev, 64);
    let (mut lead, mut trail) = (0u32, 0u32);
    let mut i = 1;
    while let Some(v) = vs.get(i) {
        let cur = v.to_bits();
        let x = cur ^ prev;
        if x == 0 {
            w.write(0, 1);
            if rle {
                let run = vs
                    .iter()
                    .skip(i)
                    .take(MAX_RUN)
                    .take_while(|v| v.to_bits() == prev)
                    .count();
                write_gamma(&mut w, run as u64);
                i += run;
            } else {
                i += 1;
            }
            continue;
        }
        let (l, t) = (x.leading_zeros(), x.trailing_zeros());
        let old_len = 64 - lead - trail;
        let new_len = 64 - l - t;
        if l >= lead && t >= trail && old_len <= 12 + new_len {
            w.write(0b10, 2);
            w.write(x >> trail, old_len);
        } else {
            w.write(0b11, 2);
            w.write(u64::from(l), 6);
            w.write(u64::from(new_len - 1), 6);
            w.write(x >> t, new_len);
            (lead, trail) = (l, t);
        }
        prev = cur;
        i += 1;
    }
    w.finish();
}

/// Appends the `n` values encoded in `data`.
pub(crate) fn decode_xor(data: &[u8], n: usize, out: &mut Vec<f64>) -> Result<(), CodecError> {
    check_count(n)?;
    if n == 0 {
        return Ok(());
    }
    out.reserve(n);
    let mut r = BitReader::new(data, 0);
    let rle = r.read_bit()?;
    let mut prev = r.read(64)?;
    out.push(f64::from_bits(prev));
    let (mut trail, mut len) = (0u32, 64u32);
    let mut left = n - 1;
    while left > 0 {
        r.refill();
        let word = r.peek();
        if word >> 63 == 0 {
            r.consume(1)?;
            let run = if rle {
                let run = r.read_gamma(MAX_RUN_ZEROS)? as usize;
                if run > left {
                    return Err(r.invalid("repeat run longer than the chunk"));
                }
                run
            } else {
                1
            };
            out.resize(out.len() + run, f64::from_bits(prev));
            left -= run;
            continue;
        }
        if word & (1 << 62) == 0 {
            // `len` is 1..=64 here, so the shift is at most 63.
            if 2 + len <= r.avail() {
                prev ^= ((word << 2) >> (64 - len)) << trail;
                r.skip_counted(2 + len);
            } else {
                r.consume(2)?;
                prev ^= r.read(len)? << trail;
            }
        } else {
            if r.avail() < 14 {
                return Err(r.truncated(14));
            }
            let lead = ((word >> 56) & 63) as u32;
            len = ((word >> 50) & 63) as u32 + 1;
            if lead + len > 64 {
                return Err(r.invalid("XOR window"));
            }
            trail = 64 - lead - len;
            r.skip_counted(14);
            prev ^= r.read(len)? << trail;
        }
        out.push(f64::from_bits(prev));
        left -= 1;
    }
    Ok(())
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail by panicking"
)]
mod tests {
    use super::*;

    fn enc(vs: &[f64]) -> Vec<u8> {
        let mut out = vec![0xEE];
        encode_xor(vs, &mut out);
        let mut got = vec![1.5];
        decode_xor(&out[1..], vs.len(), &mut got).unwrap();
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got[1..]), bits(vs));
        out[1..].to_vec()
    }

    #[test]
    fn hand_checked() {
        assert!(enc(&[]).is_empty());
        // rle bit + 64 bits.
        assert_eq!(enc(&[1.0]).len(), 9);
        let specials = [
            f64::NAN,
            f64::from_bits(0x7FF0_0000_0000_0001), // signalling NaN payload
            f64::from_bits(0xFFF8_DEAD_BEEF_0001), // negative quiet NaN payload
            -0.0,
            0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE / 3.0,
            f64::from_bits(1),
            f64::MAX,
            f64::MIN,
            -f64::from_bits(1),
        ];
        enc(&specials);
        let mut rev = specials;
        rev.reverse();
        enc(&rev);
        // 1000 repeats of pi then e: rle bit, 64 bits, `0` + gamma(999), then e.
        let mut v = vec![std::f64::consts::PI; 1000];
        v.push(std::f64::consts::E);
        let out = enc(&v);
        assert!(out.len() < 24, "{}", out.len());
        // Alternating values: no runs, so no run-length codes.
        let alt: Vec<f64> = (0..100)
            .map(|i| if i % 3 == 0 { 0.5 } else { 0.7 })
            .collect();
        let out = enc(&alt);
        assert_eq!(out.first().map(|b| b >> 7), Some(0));
    }

    #[test]
    fn truncated_and_bad_window() {
        let out = enc(&[1.0, 2.0, 3.5, 3.5, 3.5, -7.25]);
        for cut in 0..out.len() {
            let mut got = Vec::new();
            assert!(decode_xor(&out[..cut], 6, &mut got).is_err(), "cut {cut}");
        }
        // `11`, lead 63, len 64.
        let mut data = Vec::new();
        let mut w = BitWriter::new(&mut data);
        w.write(0, 1);
        w.write(0, 64);
        w.write(0b11, 2);
        w.write(63, 6);
        w.write(63, 6);
        w.write(0, 64);
        w.finish();
        let mut got = Vec::new();
        assert!(matches!(
            decode_xor(&data, 2, &mut got),
            Err(CodecError::Invalid { .. })
        ));
    }
}
