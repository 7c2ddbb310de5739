//! Collectors for minetsdb.
#![deny(missing_docs)]

pub mod exposition;
pub mod nvml;
pub mod sim;
