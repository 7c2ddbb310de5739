//! Timestamp and value decoders on arbitrary bytes, with the count and
//! codec id taken from the first bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let n = usize::from(u16::from_le_bytes([data[0], data[1]]));
    let codec = data[2] % 4;
    minetsdb::__fuzz::timestamps(&data[3..], n);
    minetsdb::__fuzz::values(codec, &data[3..], n);
});
