//! One module per subcommand: its arguments and its `run`.
pub mod check;
pub mod compact;
pub mod demo;
pub mod query;
pub mod stats;
