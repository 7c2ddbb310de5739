//! Series registry loader over arbitrary file contents (read-only).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    minetsdb::__fuzz::registry(data);
});
