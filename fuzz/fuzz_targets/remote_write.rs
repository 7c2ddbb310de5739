//! The remote-write decoder (`serve --remote-write` runs it on whatever a
//! client posts) on arbitrary bytes: as a snappy body, and as the
//! decompressed protobuf, so the fuzzer reaches the protobuf walker
//! without having to learn snappy first. Whatever is accepted must
//! survive encode -> decode unchanged, f64 bits included but for -0.0,
//! which proto3 sends as an absent field, i.e. 0.0.
#![no_main]
use libfuzzer_sys::fuzz_target;
use minetsdb_collectors::remote_write::{decode, decode_proto, encode};

fuzz_target!(|data: &[u8]| {
    let _ = decode(data);
    let Ok(d) = decode_proto(data) else {
        return;
    };
    let back = decode(&encode(&d.series, &d.metadata)).expect("our own encoding decodes");
    assert_eq!(back.metadata, d.metadata);
    assert_eq!(back.series.len(), d.series.len());
    for (a, b) in back.series.iter().zip(&d.series) {
        assert_eq!(a.0, b.0);
        assert_eq!(a.1.len(), b.1.len());
        for (x, y) in a.1.iter().zip(&b.1) {
            assert_eq!(x.t, y.t);
            assert!(x.v.to_bits() == y.v.to_bits() || (x.v == 0.0 && y.v == 0.0));
        }
    }
});
