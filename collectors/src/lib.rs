//! Collectors for minetsdb.
#![deny(missing_docs)]

pub mod amd;
pub mod config;
pub mod duration;
pub mod exposition;
pub mod http;
pub mod nvml;
pub mod schedule;
pub mod scrape;
pub mod sim;
pub mod source;
