//! Block round-trip and corruption tests.

use super::*;

type Columns = Vec<(u32, Vec<i64>, Vec<f64>)>;

fn build() -> (Vec<u8>, Columns) {
    let ts: Vec<i64> = (0..500)
        .map(|i| 1_700_000_000_000 + i * 60_000 + (i * 7 % 5))
        .collect();
    let series = vec![
        (
            0u32,
            ts.clone(),
            (0..500)
                .map(|i| 40.0 + (i % 7) as f64)
                .collect::<Vec<f64>>(),
        ),
        (
            3,
            ts.clone(),
            (0..500).map(|i| 200.0 + (i as f64) * 0.37).collect(),
        ),
        (7, ts[..100].to_vec(), vec![f64::NAN; 100]),
        (
            9,
            vec![5, 6, 7],
            vec![-0.0, f64::INFINITY, f64::from_bits(1)],
        ),
    ];
    let mut b = BlockBuilder::new(0, 128, i64::MAX);
    for (id, ts, vs) in &series {
        b.add_series(*id, ts, vs);
    }
    (b.finish(), series)
}

#[test]
fn round_trip_shares_columns() {
    let (bytes, series) = build();
    let blk = Block::from_bytes("t.blk".into(), bytes).unwrap();
    assert!(blk.verify().is_empty());
    // Series 0 and 3 share the 4 columns of their 500 timestamps; the
    // 100-sample and 3-sample series need one each.
    assert_eq!(blk.n_cols(), 4 + 2);
    for (id, ts, vs) in &series {
        let mut gt = Vec::new();
        let mut gv = Vec::new();
        for ch in blk.chunks_of(*id) {
            blk.decode_chunk(ch, &mut gt, &mut gv).unwrap();
        }
        assert_eq!(&gt, ts);
        let bits: Vec<u64> = gv.iter().map(|v| v.to_bits()).collect();
        let want: Vec<u64> = vs.iter().map(|v| v.to_bits()).collect();
        assert_eq!(bits, want);
    }
    assert!(blk.chunks_of(4).is_empty());
}

#[test]
fn every_truncation_is_a_clean_error() {
    let (bytes, _) = build();
    for n in 0..bytes.len() {
        let e = Block::from_bytes("t.blk".into(), bytes[..n].to_vec()).unwrap_err();
        assert!(e.to_string().contains("t.blk"), "{e}");
    }
}

#[test]
fn every_bit_flip_is_detected() {
    let (bytes, series) = build();
    let mut undetected = 0;
    for i in (0..bytes.len()).step_by(3) {
        let mut b = bytes.clone();
        b[i] ^= 0x04;
        match Block::from_bytes("t.blk".into(), b) {
            Err(e) => assert!(e.to_string().contains("t.blk"), "{e}"),
            Ok(blk) => {
                // Flip landed in data: verify must report it, or (only for
                // the reserved header flags) nothing changed that matters.
                if blk.verify().is_empty() {
                    let mut ok = true;
                    for (id, ts, _) in &series {
                        let mut gt = Vec::new();
                        let mut gv = Vec::new();
                        for ch in blk.chunks_of(*id) {
                            ok &= blk.decode_chunk(ch, &mut gt, &mut gv).is_ok();
                        }
                        ok &= &gt == ts;
                    }
                    assert!(ok && (12..16).contains(&i), "undetected flip at {i}");
                    undetected += 1;
                }
            }
        }
    }
    assert!(undetected <= 2);
}

#[test]
fn future_version_is_named() {
    let (mut bytes, _) = build();
    bytes[8] = 9;
    let e = Block::from_bytes("t.blk".into(), bytes)
        .unwrap_err()
        .to_string();
    assert!(e.contains("version 9"), "{e}");
}

#[test]
fn file_names() {
    assert_eq!(file_name(42), "0000000042.blk");
    assert_eq!(parse_file_name("0000000042.blk"), Some(42));
    assert_eq!(parse_file_name("0000000042.blk.tmp"), None);
    assert_eq!(parse_file_name("x.blk"), None);
}

mod encoded {
    use super::*;
    use proptest::prelude::*;

    fn series() -> impl Strategy<Value = Vec<(Vec<i64>, Vec<u64>)>> {
        let one = proptest::collection::btree_map(
            -50_000i64..400_000,
            prop_oneof![
                4 => (0u32..8).prop_map(|i| (f64::from(i) * 0.5).to_bits()),
                1 => Just(0x7ff0_0000_0000_0002u64),
                1 => any::<u64>(),
            ],
            1..300,
        )
        .prop_map(|m| m.into_iter().unzip());
        proptest::collection::vec(one, 1..6)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        /// Chunks encoded one series at a time (a bulk load's) and added by
        /// `add_encoded` make the very bytes `add_series` makes, columns
        /// shared the same way, sub-summaries and chunk splits included.
        #[test]
        fn add_encoded_equals_add_series(
            set in series(),
            shared in any::<bool>(),
            max_chunk in 1usize..64,
            span in prop_oneof![Just(100_000i64), Just(7_000), Just(i64::MAX)],
            sub in prop_oneof![Just(0i64), Just(10_000), Just(3_600_000)],
        ) {
            // Half the cases give every series a prefix of one regular
            // scrape's times, so that columns are shared, and prefixes
            // may encode to the same bytes as the whole (a zero
            // delta-of-delta is one bit).
            let regular: Vec<i64> = (0..300).map(|i| i * 1_000).collect();
            let set: Vec<(Vec<i64>, Vec<f64>)> = set
                .iter()
                .map(|(ts, vs)| {
                    let ts = if shared { regular[..ts.len()].to_vec() } else { ts.clone() };
                    let vs = vs[..ts.len()].iter().map(|&b| f64::from_bits(b)).collect();
                    (ts, vs)
                })
                .collect();
            let mut a = BlockBuilder::new(2, max_chunk, span).with_sub_summaries(sub);
            let mut b = BlockBuilder::new(2, max_chunk, span).with_sub_summaries(sub);
            for (i, (ts, vs)) in set.iter().enumerate() {
                let id = (i * 3) as u32;
                a.add_series(id, ts, vs);
                // Encoded in two parts split at a chunk-span boundary, as
                // a bulk load encodes day by day.
                let cut = ts.partition_point(|&t| t < 100_000);
                let mut chunks = Vec::new();
                encode_chunks(&ts[..cut], &vs[..cut], max_chunk, span, sub, &mut chunks);
                encode_chunks(&ts[cut..], &vs[cut..], max_chunk, span, sub, &mut chunks);
                if span == 100_000 {
                    let refs: Vec<&EncodedChunk> = chunks.iter().collect();
                    b.add_encoded(id, &refs);
                } else {
                    let mut whole = Vec::new();
                    encode_chunks(ts, vs, max_chunk, span, sub, &mut whole);
                    let refs: Vec<&EncodedChunk> = whole.iter().collect();
                    b.add_encoded(id, &refs);
                }
                for c in &chunks {
                    let (mut dts, mut dvs) = (Vec::new(), Vec::new());
                    c.decode_into(&mut dts, &mut dvs).unwrap();
                    prop_assert_eq!(dts.len(), c.n as usize);
                }
            }
            prop_assert_eq!(a.finish(), b.finish());
        }
    }
}
