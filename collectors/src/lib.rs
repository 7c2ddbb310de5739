//! Collectors for minetsdb.
#![deny(missing_docs)]

pub mod config;
pub mod duration;
pub mod exposition;
pub mod http;
pub mod nvml;
pub mod push;
pub mod remote_write;
pub mod schedule;
pub mod scrape;
pub mod sim;
pub mod source;
