//! Durations as people write them; the one parser lives in the collectors
//! crate (the config file uses it too).

pub use minetsdb_collectors::duration::parse_ms;
