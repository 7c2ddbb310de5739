//! Collectors for minetsdb.
#![deny(missing_docs)]

pub mod alerts;
pub mod amd;
pub mod api;
pub mod config;
pub mod duration;
pub mod exposition;
pub mod health;
pub mod http;
pub mod miner;
pub mod nvml;
pub mod pool;
pub mod promconfig;
pub mod push;
pub mod remote_read;
pub mod remote_write;
pub mod schedule;
pub mod scrape;
pub mod sim;
pub mod source;
