//! WAL replay (framing, resync, read-only recovery) over an arbitrary
//! segment file.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    minetsdb::__fuzz::wal_segment(data);
});
