//! Signed integer streams with per-stream prefix buckets, and the delta
//! columns (timestamps, decimal mantissas) built on them.
//!
//! A stream of `n` integers is a bit stream: a header choosing `k` (1..=5)
//! buckets and their widths, then one code per value. Bucket `j` has the
//! truncated-unary prefix `j` ones then a zero (the last bucket drops the
//! zero), and is followed by the value's zigzag encoding in that bucket's
//! width. The encoder picks `k`, the widths and which bucket gets which
//! prefix from a histogram of the values' widths, so a stream of jitter in
//! +-5 pays about its entropy while a stream with rare hour-long gaps pays
//! for the gaps only when they occur. Optionally bucket 0 stands for a run of
//! zeros with an Elias-gamma length, so a flat series costs a few bits per
//! run instead of one per sample.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::bits::{gamma_len, write_gamma, BitReader, BitWriter};
use super::varint::{get_uvarint, get_varint, put_uvarint, put_varint, unzigzag, zigzag};
use super::CodecError;

const MAX_BUCKETS: usize = 5;
/// Longest zero run one code stands for. Its gamma code (49 bits) plus the
/// prefix fits in one reader refill; longer runs are split.
const MAX_RUN_ZEROS: u32 = 24;
const MAX_RUN: usize = (1 << (MAX_RUN_ZEROS + 1)) - 1;
/// Header bits: 3 for `k`, 1 for the zero-run flag, then 7 per bucket width.
const HEADER_BITS: u64 = 4;
const WIDTH_BITS: u32 = 7;

/// Bits needed for `v` zigzag-encoded (0 for 0, 64 for the extremes).
#[inline]
fn width(v: i64) -> u32 {
    64 - zigzag(v).leading_zeros()
}

/// Prefix length of bucket `j` among `k`.
#[inline]
fn prefix_len(j: usize, k: usize) -> u32 {
    if k <= 1 {
        0
    } else {
        (j + 1).min(k - 1) as u32
    }
}

/// Prefix bits of bucket `j` among `k`, right-aligned.
#[inline]
fn prefix_code(j: usize, k: usize) -> u64 {
    let ones = (1u64 << j) - 1;
    if j + 1 < k {
        ones << 1
    } else {
        ones
    }
}

/// How one stream will be written: chosen by [`plan`], used by [`write()`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IntPlan {
    /// Number of buckets, 1..=5 (0 for an empty stream).
    k: usize,
    /// Bucket 0 codes a run of zeros.
    rle: bool,
    /// Width of each bucket, in prefix order.
    widths: [u32; MAX_BUCKETS],
    /// Exact size of the stream in bits, header included.
    pub(crate) bits: u64,
}

/// Chooses the buckets that make `vals` smallest.
pub(crate) fn plan(vals: &[i64]) -> IntPlan {
    let mut best = IntPlan {
        k: 0,
        rle: false,
        widths: [0; MAX_BUCKETS],
        bits: 0,
    };
    if vals.is_empty() {
        return best;
    }
    let mut hist = [0u64; 65];
    let (mut runs, mut gamma_bits, mut run) = (0u64, 0u64, 0usize);
    for &v in vals {
        if let Some(h) = hist.get_mut(width(v) as usize) {
            *h += 1;
        }
        if v == 0 {
            run += 1;
            if run == MAX_RUN {
                runs += 1;
                gamma_bits += u64::from(gamma_len(run as u64));
                run = 0;
            }
        } else if run > 0 {
            runs += 1;
            gamma_bits += u64::from(gamma_len(run as u64));
            run = 0;
        }
    }
    if run > 0 {
        runs += 1;
        gamma_bits += u64::from(gamma_len(run as u64));
    }
    let (ws, cs): (Vec<u32>, Vec<u64>) = (0u32..=64).zip(hist).filter(|&(_, c)| c > 0).unzip();
    best.bits = u64::MAX;
    // One DP table for every `assign` below: plan runs for each chunk the
    // head seals and each block chunk, and clearing a fresh table per call
    // cost more than the DP.
    let mut dp = Dp::new();
    for k in 1..=MAX_BUCKETS.min(ws.len()) {
        let (cost, widths) = assign(&ws, &cs, k, 0, &mut dp);
        let bits = HEADER_BITS + u64::from(WIDTH_BITS) * k as u64 + cost;
        if bits < best.bits {
            best = IntPlan {
                k,
                rle: false,
                widths,
                bits,
            };
        }
    }
    let zeros = cs.first().copied().filter(|_| ws.first() == Some(&0));
    if let (Some(_), Some(nz_ws), Some(nz_cs)) = (zeros, ws.get(1..), cs.get(1..)) {
        for k in 2..=MAX_BUCKETS.min(ws.len()) {
            let (cost, widths) = assign(nz_ws, nz_cs, k, 1, &mut dp);
            let zero_cost = runs * u64::from(prefix_len(0, k)) + gamma_bits;
            let bits = HEADER_BITS + u64::from(WIDTH_BITS) * k as u64 + cost + zero_cost;
            if bits < best.bits {
                best = IntPlan {
                    k,
                    rle: true,
                    widths,
                    bits,
                };
            }
        }
    }
    best
}

/// Splits the sorted distinct widths `ws` (with counts `cs`) into the
/// buckets `first..k` of a `k`-bucket code and gives each bucket a prefix.
/// Returns the payload bits and the widths in prefix order (bucket widths
/// below `first` are left 0).
///
/// For a fixed assignment of prefix lengths to bucket positions (narrowest
/// bucket first), a DP over the cut points is exact. The best assignment
/// gives the shortest prefixes to the fullest buckets, which changes the cut
/// points, so alternate the two a few times and keep the best seen.
#[expect(
    clippy::indexing_slicing,
    reason = "encoder-side DP over arrays sized by MAX_BUCKETS and 65 widths"
)]
fn assign(
    ws: &[u32],
    cs: &[u64],
    k: usize,
    first: usize,
    dp: &mut Dp,
) -> (u64, [u32; MAX_BUCKETS]) {
    let b = k - first;
    let m = ws.len();
    debug_assert!(b >= 1 && b <= m && m <= 65);
    // Bucket position p of the b in play gets prefix code first + rank.
    let mut cum = [0u64; 66];
    for i in 0..m {
        cum[i + 1] = cum[i] + cs[i];
    }
    // Start with prefixes in width order: narrow values are usually common.
    let mut code_of_pos = [0usize; MAX_BUCKETS];
    for (p, c) in code_of_pos.iter_mut().enumerate().take(b) {
        *c = first + p;
    }
    let mut best_cost = u64::MAX;
    let mut best_widths = [0u32; MAX_BUCKETS];
    let Dp { f, arg } = dp;
    for _ in 0..4 {
        let mut lens = [0u64; MAX_BUCKETS];
        for (l, &c) in lens.iter_mut().zip(&code_of_pos).take(b) {
            *l = u64::from(prefix_len(c, k));
        }
        // Only rows < b and columns < m are read, so only they are reset.
        for (fr, ar) in f.iter_mut().zip(arg.iter_mut()).take(b) {
            fr[..m].fill(u64::MAX);
            ar[..m].fill(0);
        }
        for i in 0..m {
            f[0][i] = cum[i + 1] * (lens[0] + u64::from(ws[i]));
        }
        for p in 1..b {
            for i in p..m {
                let per = lens[p] + u64::from(ws[i]);
                for i2 in (p - 1)..i {
                    let c = f[p - 1][i2].saturating_add((cum[i + 1] - cum[i2 + 1]) * per);
                    if c < f[p][i] {
                        f[p][i] = c;
                        arg[p][i] = i2;
                    }
                }
            }
        }
        let cost = f[b - 1][m - 1];
        let mut ends = [0usize; MAX_BUCKETS];
        let mut i = m - 1;
        for p in (0..b).rev() {
            ends[p] = i;
            if p > 0 {
                i = arg[p][i];
            }
        }
        if cost < best_cost {
            best_cost = cost;
            best_widths = [0; MAX_BUCKETS];
            for p in 0..b {
                best_widths[code_of_pos[p]] = ws[ends[p]];
            }
        }
        // Reassign prefixes: fullest bucket gets the shortest code.
        let mut counts = [(0u64, 0usize); MAX_BUCKETS];
        for (p, c) in counts.iter_mut().enumerate().take(b) {
            let lo = if p == 0 { 0 } else { ends[p - 1] + 1 };
            *c = (cum[ends[p] + 1] - cum[lo], p);
        }
        // Positions are distinct, so this order is total and an unstable
        // sort gives what a stable one would.
        counts[..b].sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut next = [0usize; MAX_BUCKETS];
        for (rank, &(_, p)) in counts[..b].iter().enumerate() {
            next[p] = first + rank;
        }
        if next[..b] == code_of_pos[..b] {
            break;
        }
        code_of_pos = next;
    }
    (best_cost, best_widths)
}

/// The DP tables of [`assign`], kept across its calls within one [`plan`].
struct Dp {
    f: [[u64; 65]; MAX_BUCKETS],
    arg: [[usize; 65]; MAX_BUCKETS],
}

impl Dp {
    fn new() -> Dp {
        Dp {
            f: [[u64::MAX; 65]; MAX_BUCKETS],
            arg: [[0; 65]; MAX_BUCKETS],
        }
    }
}

/// Appends `vals` as a stream laid out by `plan` (which must come from
/// [`plan`] on the same values). Writes nothing for an empty stream.
#[expect(
    clippy::indexing_slicing,
    reason = "encoder side: indexes are widths (<= 64) and bucket numbers (< k)"
)]
pub(crate) fn write(vals: &[i64], plan: &IntPlan, w: &mut BitWriter<'_>) {
    if vals.is_empty() {
        return;
    }
    let k = plan.k;
    w.write(k as u64, 3);
    w.write_bit(plan.rle);
    for &wd in &plan.widths[..k] {
        w.write(u64::from(wd), WIDTH_BITS);
    }
    // For each value width, the narrowest bucket that holds it.
    let first = usize::from(plan.rle);
    let mut by_width = [(0u64, 0u32, 0u32); 65];
    for (wv, slot) in by_width.iter_mut().enumerate() {
        let wv = wv as u32;
        let pick = (first..k)
            .filter(|&j| plan.widths[j] >= wv)
            .min_by_key(|&j| (plan.widths[j], prefix_len(j, k)));
        if let Some(j) = pick {
            *slot = (prefix_code(j, k), prefix_len(j, k), plan.widths[j]);
        }
    }
    let mut i = 0;
    while i < vals.len() {
        let v = vals[i];
        if plan.rle && v == 0 {
            let run = vals[i..]
                .iter()
                .take(MAX_RUN)
                .take_while(|&&x| x == 0)
                .count();
            w.write(0, 1);
            write_gamma(w, run as u64);
            i += run;
            continue;
        }
        let (code, plen, wd) = by_width[width(v) as usize];
        let z = zigzag(v);
        if plen + wd <= 64 {
            // `wd` < 64 here unless `plen` is 0, and then `code` is 0 too.
            w.write(code.checked_shl(wd).unwrap_or(0) | z, plen + wd);
        } else {
            w.write(code, plen);
            w.write(z, wd);
        }
        i += 1;
    }
}

/// Decodes exactly `n` integers written by [`write()`], passing each to `emit`.
#[inline]
pub(crate) fn read<F: FnMut(i64)>(
    r: &mut BitReader<'_>,
    n: usize,
    mut emit: F,
) -> Result<(), CodecError> {
    if n == 0 {
        return Ok(());
    }
    let k = r.read(3)? as usize;
    if k == 0 || k > MAX_BUCKETS {
        return Err(r.invalid("integer stream bucket count"));
    }
    let rle = r.read_bit()?;
    // (prefix length, width, prefix + width) per bucket; 8 slots so that
    // `j & 7` indexes without a bounds check.
    let mut table = [(0u32, 0u32, 0u32); 8];
    for (j, slot) in table.iter_mut().enumerate().take(k) {
        let wd = r.read(WIDTH_BITS)? as u32;
        if wd > 64 {
            return Err(r.invalid("integer stream bucket width"));
        }
        let plen = prefix_len(j, k);
        *slot = (plen, wd, plen + wd);
    }
    if rle && (k < 2 || table.first().is_none_or(|e| e.1 != 0)) {
        return Err(r.invalid("integer stream zero-run bucket"));
    }
    let kmax = (k - 1) as u32;
    let mut left = n;
    while left > 0 {
        r.refill();
        let word = r.peek();
        let j = word.leading_ones().min(kmax) as usize;
        if rle && j == 0 {
            r.consume(1)?;
            let run = r.read_gamma(MAX_RUN_ZEROS)? as usize;
            if run > left {
                return Err(r.invalid("zero run longer than the chunk"));
            }
            for _ in 0..run {
                emit(0);
            }
            left -= run;
            continue;
        }
        let Some(&(plen, wd, total)) = table.get(j & 7) else {
            return Err(r.invalid("integer stream bucket"));
        };
        let z = if total <= r.avail() {
            // Width 0 shifts by 64: checked_shr makes that 0.
            let z = (word << plen).checked_shr(64 - wd).unwrap_or(0);
            r.skip_counted(total);
            z
        } else {
            r.consume(plen)?;
            r.read(wd)?
        };
        emit(unzigzag(z));
        left -= 1;
    }
    Ok(())
}

/// Delta column mode byte: delta-of-deltas after a first delta.
const MODE_DOD: u8 = 0;
/// Delta column mode byte: deltas minus a fixed base delta.
const MODE_BASE: u8 = 1;
/// Delta column mode byte: values minus a fixed level (frame of
/// reference), for gauges that jitter around a level, where a delta doubles
/// the noise.
const MODE_LEVEL: u8 = 2;
/// Mode byte flag: a uvarint factor `g >= 2` follows the parameter and
/// every stream value is a multiple of it, stored divided. Clocks reported
/// in Hz that move in 15 MHz steps, bytes in whole MiB, limits in whole
/// watts scaled: the common factor costs nothing once divided out.
const FLAG_FACTOR: u8 = 0x80;

fn uvarint_len(v: u64) -> u64 {
    u64::from((64 - (v | 1).leading_zeros()).div_ceil(7))
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The largest factor shared by every value, if it is worth dividing out
/// (at least 2, and small enough to multiply back within `i64`).
fn common_factor(vals: &[i64]) -> Option<i64> {
    let mut g = 0u64;
    for v in vals {
        g = gcd(g, v.unsigned_abs());
        if g == 1 {
            return None;
        }
    }
    i64::try_from(g).ok().filter(|&g| g >= 2)
}

struct Candidate {
    mode: u8,
    param: i64,
    factor: Option<i64>,
    vals: Vec<i64>,
    plan: IntPlan,
    cost: u64,
}

fn candidate(mode: u8, param: i64, mut vals: Vec<i64>) -> Candidate {
    let factor = common_factor(&vals);
    if let Some(g) = factor {
        for v in &mut vals {
            *v /= g;
        }
    }
    let plan = plan(&vals);
    let cost = uvarint_len(zigzag(param)) * 8
        + factor.map_or(0, |g| uvarint_len(g as u64) * 8)
        + plan.bits;
    Candidate {
        mode,
        param,
        factor,
        vals,
        plan,
        cost,
    }
}

fn median(vals: &[i64]) -> i64 {
    let mut sorted = vals.to_vec();
    let mid = sorted.len() / 2;
    *sorted.select_nth_unstable(mid).1
}

/// Appends a delta column: `v0` as a zigzag varint and, when there are at
/// least two values, a mode byte, a zigzag varint parameter, an optional
/// factor and an integer stream of the residuals (see the module docs of
/// `codec` for the layout). The smallest of the modes is chosen per
/// column. Arithmetic wraps, so any `i64` sequence round-trips.
pub(crate) fn encode_diffs(vals: &[i64], out: &mut Vec<u8>) {
    let Some(&v0) = vals.first() else {
        return;
    };
    put_varint(out, v0);
    let deltas: Vec<i64> = vals
        .iter()
        .zip(vals.iter().skip(1))
        .map(|(a, b)| b.wrapping_sub(*a))
        .collect();
    let Some(&d1) = deltas.first() else {
        return;
    };
    let dods: Vec<i64> = deltas
        .iter()
        .zip(deltas.iter().skip(1))
        .map(|(a, b)| b.wrapping_sub(*a))
        .collect();
    let base = median(&deltas);
    let resid: Vec<i64> = deltas.iter().map(|d| d.wrapping_sub(base)).collect();
    let rest = vals.get(1..).unwrap_or_default();
    let level = median(rest);
    let offsets: Vec<i64> = rest.iter().map(|v| v.wrapping_sub(level)).collect();
    let mut best = candidate(MODE_BASE, base, resid);
    for c in [
        candidate(MODE_DOD, d1, dods),
        candidate(MODE_LEVEL, level, offsets),
    ] {
        if c.cost < best.cost {
            best = c;
        }
    }
    out.push(
        best.mode
            | if best.factor.is_some() {
                FLAG_FACTOR
            } else {
                0
            },
    );
    put_varint(out, best.param);
    if let Some(g) = best.factor {
        put_uvarint(out, g as u64);
    }
    let mut w = BitWriter::new(out);
    write(&best.vals, &best.plan, &mut w);
    w.finish();
}

/// Reads a zigzag varint at `*pos`, telling truncation from an over-long varint.
fn varint_at(data: &[u8], pos: &mut usize) -> Result<i64, CodecError> {
    let at = *pos;
    get_varint(data, pos).ok_or_else(|| {
        let rest = data.get(at..).unwrap_or_default();
        if rest.len() < 10 && rest.iter().all(|b| b & 0x80 != 0) {
            CodecError::Truncated {
                bit: (data.len() as u64) * 8,
                needed: 8,
            }
        } else {
            CodecError::Invalid {
                what: "varint",
                bit: (at as u64) * 8,
            }
        }
    })
}

/// Decodes `n` values of a delta column starting at byte `start` of `data`,
/// passing each to `emit`. Bit offsets in errors count from `data[0]`.
#[inline]
pub(crate) fn decode_diffs<F: FnMut(i64)>(
    data: &[u8],
    start: usize,
    n: usize,
    mut emit: F,
) -> Result<(), CodecError> {
    if n == 0 {
        return Ok(());
    }
    let mut pos = start;
    let v0 = varint_at(data, &mut pos)?;
    emit(v0);
    if n == 1 {
        return Ok(());
    }
    let Some(&mode) = data.get(pos) else {
        return Err(CodecError::Truncated {
            bit: (pos as u64) * 8,
            needed: 8,
        });
    };
    pos += 1;
    let param = varint_at(data, &mut pos)?;
    let g = if mode & FLAG_FACTOR != 0 {
        let at = pos;
        get_uvarint(data, &mut pos)
            .and_then(|g| i64::try_from(g).ok())
            .filter(|&g| g >= 2)
            .ok_or(CodecError::Invalid {
                what: "delta column factor",
                bit: (at as u64) * 8,
            })?
    } else {
        1
    };
    let mut r = BitReader::new(data, pos);
    match mode & !FLAG_FACTOR {
        MODE_DOD => {
            let mut v = v0.wrapping_add(param);
            emit(v);
            let mut d = param;
            read(&mut r, n - 2, |dd| {
                d = d.wrapping_add(dd.wrapping_mul(g));
                v = v.wrapping_add(d);
                emit(v);
            })
        }
        MODE_BASE => {
            let mut v = v0;
            read(&mut r, n - 1, |x| {
                v = v.wrapping_add(param.wrapping_add(x.wrapping_mul(g)));
                emit(v);
            })
        }
        MODE_LEVEL => read(&mut r, n - 1, |x| {
            emit(param.wrapping_add(x.wrapping_mul(g)))
        }),
        _ => Err(CodecError::Invalid {
            what: "delta column mode",
            bit: (pos as u64 - 1) * 8,
        }),
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
    use proptest::prelude::*;

    fn round_trip(vals: &[i64]) -> Vec<u8> {
        let p = plan(vals);
        let mut out = Vec::new();
        let mut w = BitWriter::new(&mut out);
        write(vals, &p, &mut w);
        w.finish();
        assert_eq!(out.len() as u64, p.bits.div_ceil(8), "plan size is exact");
        let mut got = Vec::new();
        let mut r = BitReader::new(&out, 0);
        read(&mut r, vals.len(), |v| got.push(v)).unwrap();
        assert_eq!(got, vals);
        out
    }

    #[test]
    fn hand_checked() {
        assert!(round_trip(&[]).is_empty());
        // One bucket of width 0: header only, 0 bits per value.
        assert_eq!(round_trip(&[0; 1000]).len(), 2);
        round_trip(&[i64::MIN, i64::MAX, 0, -1, 1]);
        round_trip(&[5]);
        // Zero runs with a few outliers use the run bucket.
        let mut v = vec![0i64; 1440];
        v[100] = 3;
        v[900] = -70000;
        let out = round_trip(&v);
        assert!(out.len() < 16, "{} bytes", out.len());
        assert!(plan(&v).rle);
    }

    #[test]
    fn garbage_header_errors() {
        let mut r = BitReader::new(&[0x00, 0, 0], 0);
        assert!(matches!(
            read(&mut r, 3, |_| {}),
            Err(CodecError::Invalid { .. })
        ));
        // k=1, width 65.
        let mut r = BitReader::new(&[0b0010_1000, 0b0010_0000], 0);
        assert!(matches!(
            read(&mut r, 3, |_| {}),
            Err(CodecError::Invalid { .. })
        ));
    }

    #[test]
    fn common_factor_is_divided_out() {
        // Graphics clock in Hz, moving in 15 MHz steps.
        let clocks: Vec<i64> = (0..1440)
            .map(|i| 1_905_000_000 + 15_000_000 * ((i * 7 % 11) - 5))
            .collect();
        let mut b = Vec::new();
        encode_diffs(&clocks, &mut b);
        assert_ne!(
            b[varint_len(clocks[0])] & FLAG_FACTOR,
            0,
            "factor flag not set"
        );
        let bits = b.len() as f64 * 8.0 / clocks.len() as f64;
        assert!(bits < 6.0, "{bits} bits/value");
        let mut out = Vec::new();
        decode_diffs(&b, 0, clocks.len(), |v| out.push(v)).unwrap();
        assert_eq!(out, clocks);
        // No common factor: no flag.
        assert_eq!(common_factor(&[3, 6, 7]), None);
        assert_eq!(common_factor(&[0, 0]), None);
        assert_eq!(
            common_factor(&[i64::MIN, 0]),
            None,
            "2^63 does not fit back in i64"
        );
        assert_eq!(common_factor(&[-4, 8, 0]), Some(4));
    }

    fn varint_len(v: i64) -> usize {
        let mut b = Vec::new();
        put_varint(&mut b, v);
        b.len()
    }

    #[test]
    fn level_mode_for_noise_around_a_level() {
        // Power in centiwatts: independent noise around 230 W, where deltas
        // would double the spread.
        let mut x: u64 = 1;
        let vals: Vec<i64> = (0..1440)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                23_000 + ((x >> 40) % 400) as i64 - 200
            })
            .collect();
        let mut b = Vec::new();
        encode_diffs(&vals, &mut b);
        assert_eq!(b[varint_len(vals[0])] & !FLAG_FACTOR, MODE_LEVEL);
        let mut out = Vec::new();
        decode_diffs(&b, 0, vals.len(), |v| out.push(v)).unwrap();
        assert_eq!(out, vals);
    }

    #[test]
    fn bad_factor_is_an_error() {
        // v0 = 0, mode DOD|factor, param 0, factor 1 (invalid: must be >= 2).
        let b = [0u8, MODE_DOD | FLAG_FACTOR, 0, 1, 0];
        assert!(decode_diffs(&b, 0, 3, |_| {}).is_err());
        let b = [0u8, 7, 0, 0];
        assert!(decode_diffs(&b, 0, 3, |_| {}).is_err());
    }

    #[test]
    fn diffs_hand_checked() {
        for vals in [
            vec![],
            vec![7],
            vec![i64::MAX, i64::MIN],
            vec![i64::MIN, i64::MAX, 0, i64::MIN],
            vec![1, 2, 3, 4, 5, 6],
        ] {
            let mut out = vec![0xEE];
            encode_diffs(&vals, &mut out);
            let mut got = Vec::new();
            decode_diffs(&out, 1, vals.len(), |v| got.push(v)).unwrap();
            assert_eq!(got, vals);
        }
    }

    fn shaped() -> impl Strategy<Value = Vec<i64>> {
        prop_oneof![
            proptest::collection::vec(any::<i64>(), 0..200),
            proptest::collection::vec(-20i64..20, 0..300),
            proptest::collection::vec(prop_oneof![9 => Just(0i64), 1 => any::<i64>()], 0..300),
            proptest::collection::vec(
                prop_oneof![9 => -3i64..3, 1 => -100_000i64..100_000],
                0..300
            ),
        ]
    }

    proptest! {
        #[test]
        fn streams_round_trip(vals in shaped()) {
            round_trip(&vals);
        }

        #[test]
        fn diffs_round_trip_and_truncation_errors(vals in shaped(), cut in any::<prop::sample::Index>()) {
            let mut out = Vec::new();
            encode_diffs(&vals, &mut out);
            let mut got = Vec::new();
            decode_diffs(&out, 0, vals.len(), |v| got.push(v)).unwrap();
            prop_assert_eq!(&got, &vals);
            if !out.is_empty() {
                let cut = cut.index(out.len());
                prop_assert!(decode_diffs(&out[..cut], 0, vals.len(), |_| ()).is_err());
            }
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64), n in 0usize..2000) {
            let mut count = 0usize;
            if decode_diffs(&data, 0, n, |_| count += 1).is_ok() {
                prop_assert_eq!(count, n);
            }
            let mut count = 0usize;
            let mut r = BitReader::new(&data, 0);
            if read(&mut r, n, |_| count += 1).is_ok() {
                prop_assert_eq!(count, n);
            }
        }
    }
}
