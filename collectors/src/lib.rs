//! Collectors for minetsdb.
#![deny(missing_docs)]

pub mod sim;
