//! Codecs: bytes <-> numbers, no I/O.
pub(crate) mod varint;
