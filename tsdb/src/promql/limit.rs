//! `limitk` and `limit_ratio`, the experimental aggregations of Prometheus
//! 2.53-2.55 (`--enable-feature=promql-experimental-functions`): a few
//! series per group, to look at a sample of a big selector.
//!
//! `limitk(k, v)` keeps the first `k` series of each group in the input's
//! order (ours: by labels, as storage returns them). `limit_ratio(r, v)`
//! keeps a series when its label hash, scaled to [0, 1), is below `r`
//! (`r > 0`) or at least `1 + r` (`r < 0`), so `limit_ratio(r, v)` and
//! `limit_ratio(-(1 - r), v)` split `v` in two; the hash is Prometheus'
//! `labels.Hash` (XXH64 of `name 0xff value 0xff ...`), so the same
//! series are chosen as there.

use std::collections::HashMap;

use super::eval::El;
use super::plan::AggOp;
use super::{query_err, Metric};
use crate::error::Result;
use crate::labels::METRIC_NAME_LABEL;

/// `limitk` or `limit_ratio` over one step's vector; `param` is `k` or `r`.
pub(crate) fn limit(
    op: AggOp,
    param: f64,
    grouping: &[String],
    without: bool,
    vec: Vec<El>,
) -> Result<Vec<El>> {
    match op {
        AggOp::Limitk => {
            // Prometheus' convertibleToInt64; NaN fails both comparisons.
            if !(param <= i64::MAX as f64 && param >= i64::MIN as f64) {
                return Err(query_err(format!("Scalar value {param} overflows int64")));
            }
            let k = param as i64;
            if k < 1 {
                return Ok(Vec::new());
            }
            let k = usize::try_from(k).unwrap_or(usize::MAX);
            let mut taken: HashMap<Vec<(&str, &str)>, usize> = HashMap::new();
            let mut keep = vec![false; vec.len()];
            for (i, e) in vec.iter().enumerate() {
                let n = taken
                    .entry(group_key(&e.metric, grouping, without))
                    .or_default();
                if *n < k {
                    *n += 1;
                    if let Some(slot) = keep.get_mut(i) {
                        *slot = true;
                    }
                }
            }
            let mut flags = keep.into_iter();
            Ok(vec
                .into_iter()
                .filter(|_| flags.next().unwrap_or(false))
                .collect())
        }
        AggOp::LimitRatio => {
            if param.is_nan() {
                return Err(query_err(format!("Ratio value {param} is NaN")));
            }
            if param == 0.0 {
                return Ok(Vec::new());
            }
            // Beyond ±1 Prometheus clamps (with a warning we do not report).
            let r = param.clamp(-1.0, 1.0);
            Ok(vec
                .into_iter()
                .filter(|e| {
                    let offset = label_hash(&e.metric) as f64 / u64::MAX as f64;
                    (r >= 0.0 && offset < r) || (r < 0.0 && offset >= 1.0 + r)
                })
                .collect())
        }
        other => Err(query_err(format!("{other:?} is not a limit aggregation"))),
    }
}

/// The labels that name a series' group: those in `grouping`, or with
/// `without` all but those and the metric name.
fn group_key<'m>(m: &'m Metric, grouping: &[String], without: bool) -> Vec<(&'m str, &'m str)> {
    m.iter()
        .filter(|l| {
            let listed = grouping.contains(&l.name);
            if without {
                !listed && l.name != METRIC_NAME_LABEL
            } else {
                listed
            }
        })
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect()
}

/// Prometheus' `labels.Labels.Hash`: XXH64 (seed 0) of each label's name
/// and value, each followed by the byte 0xff, in label-name order.
fn label_hash(m: &Metric) -> u64 {
    let mut b = Vec::new();
    for l in m.iter() {
        b.extend_from_slice(l.name.as_bytes());
        b.push(0xff);
        b.extend_from_slice(l.value.as_bytes());
        b.push(0xff);
    }
    xxh64(&b)
}

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

fn round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(P2))
        .rotate_left(31)
        .wrapping_mul(P1)
}

fn merge_round(acc: u64, v: u64) -> u64 {
    (acc ^ round(0, v)).wrapping_mul(P1).wrapping_add(P4)
}

fn le64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(b.get(..8).unwrap_or(&[0; 8]));
    u64::from_le_bytes(a)
}

/// XXH64 with seed 0 (the algorithm of Yann Collet's xxHash
/// specification), as Go's `cespare/xxhash.Sum64`.
fn xxh64(data: &[u8]) -> u64 {
    let stripes = data.chunks_exact(32);
    let rest = stripes.remainder();
    let mut h = if data.len() >= 32 {
        let mut v = [P1.wrapping_add(P2), P2, 0, 0u64.wrapping_sub(P1)];
        for stripe in stripes {
            for (lane, word) in v.iter_mut().zip(stripe.chunks_exact(8)) {
                *lane = round(*lane, le64(word));
            }
        }
        let [v1, v2, v3, v4] = v;
        let mut h = v1
            .rotate_left(1)
            .wrapping_add(v2.rotate_left(7))
            .wrapping_add(v3.rotate_left(12))
            .wrapping_add(v4.rotate_left(18));
        for lane in v {
            h = merge_round(h, lane);
        }
        h
    } else {
        P5
    };
    h = h.wrapping_add(data.len() as u64);
    let words = rest.chunks_exact(8);
    let tail = words.remainder();
    for w in words {
        h = (h ^ round(0, le64(w)))
            .rotate_left(27)
            .wrapping_mul(P1)
            .wrapping_add(P4);
    }
    let mut tail = tail;
    if let (Some(w), Some(after)) = (tail.get(..4), tail.get(4..)) {
        let mut a = [0u8; 4];
        a.copy_from_slice(w);
        h = (h ^ u64::from(u32::from_le_bytes(a)).wrapping_mul(P1))
            .rotate_left(23)
            .wrapping_mul(P2)
            .wrapping_add(P3);
        tail = after;
    }
    for &b in tail {
        h = (h ^ u64::from(b).wrapping_mul(P5))
            .rotate_left(11)
            .wrapping_mul(P1);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^= h >> 32;
    h
}

#[cfg(test)]
mod tests {
    use super::xxh64;

    /// Published XXH64 values (seed 0), covering the short path, the
    /// 4-byte and 1-byte tails and the 32-byte stripes.
    #[test]
    fn xxh64_known_values() {
        assert_eq!(xxh64(b""), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxh64(b"abc"), 0x44BC_2CF5_AD77_0999);
        assert_eq!(
            xxh64(b"Nobody inspects the spammish repetition"),
            0xFBCE_A83C_8A37_8BF1
        );
    }
}
