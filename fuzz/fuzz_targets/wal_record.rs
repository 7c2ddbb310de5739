//! WAL record payload decoder on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    minetsdb::__fuzz::wal_record(data);
});
