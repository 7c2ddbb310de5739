//! Block reader on arbitrary bytes: open (header, footer, index) and decode
//! every column and chunk. Must never panic or over-allocate.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    minetsdb::__fuzz::block(data);
});
