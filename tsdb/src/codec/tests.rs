//! Tests of the value codec choice across realistic telemetry shapes.

use super::timestamp::{decode_timestamps, encode_timestamps};
use super::*;
use proptest::prelude::*;

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn enc(vs: &[f64]) -> (ValueCodec, Vec<u8>) {
    let mut out = vec![0xEE];
    let c = encode_values(vs, &mut out);
    assert_eq!(out.first(), Some(&0xEE), "encoder appends");
    let data = out.split_off(1);
    let mut got = vec![9.0];
    decode_values(c, &data, vs.len(), &mut got).unwrap();
    assert_eq!(bits(&got[1..]), bits(vs), "codec {c:?}");
    (c, data)
}

/// Small deterministic generator so shapes are reproducible without a RNG crate.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo + 1) as u64)) as i64
    }
}

/// GPU temperature: integer, changes by +-1 now and then.
fn temps(n: usize, seed: u64) -> Vec<f64> {
    let mut g = Lcg(seed);
    let mut t = 61i64;
    (0..n)
        .map(|_| {
            if g.next().is_multiple_of(8) {
                t = (t + g.range(-1, 1)).clamp(30, 90);
            }
            t as f64
        })
        .collect()
}

/// Board power with two decimals, wandering around 230 W.
fn power(n: usize, seed: u64) -> Vec<f64> {
    let mut g = Lcg(seed);
    let mut cw = 23_000i64;
    (0..n)
        .map(|_| {
            cw = (cw + g.range(-150, 150)).clamp(20_000, 26_000);
            cw as f64 / 100.0
        })
        .collect()
}

/// Monotonic share / byte counter with a varying rate.
fn counter(n: usize, seed: u64) -> Vec<f64> {
    let mut g = Lcg(seed);
    let mut c = 123_456_789i64;
    (0..n)
        .map(|_| {
            c += g.range(900, 1100);
            c as f64
        })
        .collect()
}

/// Core clock: a few steady levels.
fn clocks(n: usize, seed: u64) -> Vec<f64> {
    let mut g = Lcg(seed);
    let mut c = 1905.0;
    (0..n)
        .map(|_| {
            if g.next().is_multiple_of(200) {
                c = [1905.0, 1410.0, 1980.0, 210.0][(g.next() % 4) as usize];
            }
            c
        })
        .collect()
}

/// Hashrate in MH/s as a float ratio: full-precision noise, XOR territory.
fn hashrate(n: usize, seed: u64) -> Vec<f64> {
    let mut g = Lcg(seed);
    let mut h = 121.0f64;
    (0..n)
        .map(|_| {
            h += (g.range(-1000, 1000) as f64) / 3000.0;
            h / 1.000_37
        })
        .collect()
}

fn bits_per(vs: &[f64]) -> (ValueCodec, f64) {
    let (c, d) = enc(vs);
    (c, d.len() as f64 * 8.0 / vs.len() as f64)
}

#[test]
fn empty_and_single() {
    let (c, d) = enc(&[]);
    assert_eq!((c, d.len()), (ValueCodec::Xor, 0));
    let (c, d) = enc(&[61.0]);
    assert_eq!((c, d.len()), (ValueCodec::Constant, 8));
    let (c, _) = enc(&[f64::NAN]);
    assert_eq!(c, ValueCodec::Constant);
}

#[test]
fn specials_round_trip() {
    let specials = [
        f64::NAN,
        f64::from_bits(0x7FF4_0000_0000_00AB),
        -f64::NAN,
        -0.0,
        0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::from_bits(1),
        f64::MIN_POSITIVE / 7.0,
        61.0,
    ];
    for (i, s) in specials.iter().enumerate() {
        // A special inside an otherwise decimal chunk forces XOR.
        let mut v = temps(50, i as u64);
        v[17] = *s;
        let (c, _) = enc(&v);
        if s.to_bits() != 61f64.to_bits() && s.to_bits() != 0f64.to_bits() {
            assert_eq!(c, ValueCodec::Xor, "{s:?}");
        }
    }
    enc(&specials);
    // Same value, different sign bit: not constant.
    assert_ne!(enc(&[0.0, -0.0]).0, ValueCodec::Constant);
    // Different NaN payloads: not constant.
    assert_ne!(
        enc(&[f64::NAN, f64::from_bits(f64::NAN.to_bits() | 1)]).0,
        ValueCodec::Constant
    );
}

#[test]
fn choice() {
    assert_eq!(enc(&[0.1 + 0.2, 0.3, 0.5]).0, ValueCodec::Xor);
    assert_eq!(enc(&[61.0, 62.0, 61.0, 60.0]).0, ValueCodec::Decimal);
    assert_eq!(enc(&[231.47, 231.5, 229.03]).0, ValueCodec::Decimal);
    assert_eq!(enc(&[42.5; 100]).0, ValueCodec::Constant);
    assert_eq!(ValueCodec::try_from(1), Ok(ValueCodec::Decimal));
    assert_eq!(ValueCodec::try_from(2), Ok(ValueCodec::Constant));
    assert_eq!(ValueCodec::try_from(0), Ok(ValueCodec::Xor));
    assert_eq!(ValueCodec::try_from(3), Ok(ValueCodec::Buckets));
    assert_eq!(ValueCodec::try_from(4), Err(CodecError::UnknownCodec(4)));
    for c in [ValueCodec::Xor, ValueCodec::Decimal, ValueCodec::Constant] {
        assert_eq!(ValueCodec::try_from(c as u8), Ok(c));
        let mut out = Vec::new();
        assert_eq!(
            decode_values(c, &[], MAX_CHUNK_SAMPLES + 1, &mut out),
            Err(CodecError::TooManySamples {
                n: MAX_CHUNK_SAMPLES + 1,
                max: MAX_CHUNK_SAMPLES
            })
        );
    }
}

#[test]
fn flat_day_is_nearly_free() {
    let (c, d) = enc(&[61.0; 1440]);
    assert_eq!(c, ValueCodec::Constant);
    assert!(d.len() < 16);
    // A flat day with one blip: runs of repeats stay cheap.
    let mut v = vec![61.0; 1440];
    v[700] = 62.0;
    let (c, d) = enc(&v);
    eprintln!("1440 x 61.0 with one blip: {c:?}, {} bytes", d.len());
    assert!(d.len() < 16, "{}", d.len());
    // Same for a non-decimal value through XOR.
    let mut v = vec![std::f64::consts::PI; 1440];
    v[700] = 3.0;
    let (c, d) = enc(&v);
    eprintln!("1440 x pi with one blip: {c:?}, {} bytes", d.len());
    assert!(d.len() < 40, "{}", d.len());
}

#[test]
fn realistic_sizes() {
    for n in [120usize, 1440] {
        let shapes: [(&str, Vec<f64>); 5] = [
            ("temperature (int)", temps(n, 1)),
            ("power (2 decimals)", power(n, 2)),
            ("counter", counter(n, 3)),
            ("clock levels", clocks(n, 4)),
            ("hashrate (float)", hashrate(n, 5)),
        ];
        for (name, v) in shapes {
            let (c, b) = bits_per(&v);
            eprintln!("values {name}, n={n}: {c:?}, {b:.2} bits/sample");
            assert!(b < 64.0);
        }
    }
    assert!(bits_per(&temps(1440, 1)).1 < 2.0);
    assert!(bits_per(&power(1440, 2)).1 < 12.0);
}

#[test]
fn truncation_always_errors() {
    for v in [temps(300, 7), power(300, 8), hashrate(300, 9), vec![5.0; 3]] {
        let (c, d) = enc(&v);
        for cut in 0..d.len() {
            let mut got = vec![1.0];
            assert!(decode_values(c, &d[..cut], v.len(), &mut got).is_err());
            assert_eq!(got, [1.0], "out untouched on error");
        }
    }
}

fn arb_values() -> impl Strategy<Value = Vec<f64>> {
    let any_bits = any::<u64>().prop_map(f64::from_bits);
    prop_oneof![
        proptest::collection::vec(any_bits.clone(), 0..100),
        (0usize..300, any::<u64>()).prop_map(|(n, s)| temps(n, s)),
        (0usize..300, any::<u64>()).prop_map(|(n, s)| power(n, s)),
        (0usize..300, any::<u64>()).prop_map(|(n, s)| counter(n, s)),
        (0usize..300, any::<u64>()).prop_map(|(n, s)| clocks(n, s)),
        (0usize..300, any::<u64>()).prop_map(|(n, s)| hashrate(n, s)),
        // Repeats of arbitrary bits, and decimals with a stray special.
        proptest::collection::vec(
            prop_oneof![
                Just(f64::NAN),
                Just(-0.0),
                Just(0.0),
                Just(1.5),
                Just(f64::INFINITY),
                any_bits
            ],
            0..200
        ),
        (
            proptest::collection::vec(-100_000i64..100_000, 1..200),
            0u32..=6
        )
            .prop_map(|(ms, s)| ms
                .iter()
                .map(|&m| m as f64 / 10f64.powi(s as i32))
                .collect()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn values_round_trip_and_truncation(vs in arb_values(), cut in any::<prop::sample::Index>()) {
        let (c, d) = enc(&vs);
        if !d.is_empty() {
            let mut got = Vec::new();
            prop_assert!(decode_values(c, &d[..cut.index(d.len())], vs.len(), &mut got).is_err());
            prop_assert!(got.is_empty());
        }
    }

    #[test]
    fn garbage_never_panics(
        id in 0u8..3,
        data in proptest::collection::vec(any::<u8>(), 0..80),
        n in 0usize..3000,
    ) {
        let c = ValueCodec::try_from(id).unwrap();
        let mut got = Vec::new();
        match decode_values(c, &data, n, &mut got) {
            Ok(()) => prop_assert_eq!(got.len(), n),
            Err(_) => prop_assert!(got.is_empty()),
        }
    }
}

/// `cargo test -p minetsdb --release -- --ignored --nocapture codec`
#[test]
#[ignore = "throughput report; run in release"]
fn codec_decode_throughput() {
    for chunk in [120, 1024] {
        decode_throughput(chunk);
    }
}

fn decode_throughput(chunk: usize) {
    const N: usize = 1 << 20;
    eprintln!("-- {N} values in chunks of {chunk}");
    let shapes: [(&str, Vec<f64>); 4] = [
        ("decimal power (2 decimals)", power(N, 11)),
        ("decimal temperature", temps(N, 12)),
        ("decimal counter", counter(N, 13)),
        ("xor hashrate", hashrate(N, 14)),
    ];
    for (name, v) in shapes {
        let chunks: Vec<(ValueCodec, Vec<u8>, usize)> = v
            .chunks(chunk)
            .map(|c| {
                let mut d = Vec::new();
                (encode_values(c, &mut d), d, c.len())
            })
            .collect();
        let bytes: usize = chunks.iter().map(|c| c.1.len()).sum();
        let mut out = Vec::with_capacity(N);
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            out.clear();
            let t = std::time::Instant::now();
            for (c, d, n) in &chunks {
                decode_values(*c, d, *n, &mut out).unwrap();
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        assert_eq!(bits(&out), bits(&v));
        eprintln!(
            "{name}: {:?}, {:.2} bits/sample, decode {:.0} M values/s",
            chunks.first().map(|c| c.0),
            bytes as f64 * 8.0 / N as f64,
            N as f64 / best / 1e6
        );
    }
    let ts = crate::codec::timestamp::tests::scrape(N, 1_700_000_000_000, 60_000, 5);
    let chunks: Vec<(Vec<u8>, usize)> = ts
        .chunks(chunk)
        .map(|c| {
            let mut d = Vec::new();
            encode_timestamps(c, &mut d);
            (d, c.len())
        })
        .collect();
    let mut out = Vec::with_capacity(N);
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        out.clear();
        let t = std::time::Instant::now();
        for (d, n) in &chunks {
            decode_timestamps(d, *n, &mut out).unwrap();
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    assert_eq!(out, ts);
    eprintln!(
        "timestamps 60 s +-5 ms: decode {:.0} M values/s",
        N as f64 / best / 1e6
    );
}
