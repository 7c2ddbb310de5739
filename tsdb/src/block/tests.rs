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
