//! One module per subcommand: its arguments and its `run`.
pub mod alerts;
pub mod check;
pub mod collect;
pub mod compact;
pub mod config;
pub mod demo;
pub mod export;
pub mod import;
pub mod plot;
pub mod query;
pub mod report;
pub mod scrape;
pub mod stats;
pub mod targets;
