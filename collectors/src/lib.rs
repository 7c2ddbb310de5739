//! Collectors for minetsdb.
#![deny(missing_docs)]

pub mod exposition;
pub mod http;
pub mod nvml;
pub mod scrape;
pub mod sim;
