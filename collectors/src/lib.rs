//! Collectors for minetsdb.
#![deny(missing_docs)]

pub mod config;
pub mod duration;
pub mod exposition;
pub mod health;
pub mod http;
pub mod nvml;
pub mod promconfig;
pub mod schedule;
pub mod scrape;
pub mod sim;
pub mod source;
