//! minetsdb: an embeddable time-series database (crate docs filled in as the engine lands).
#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

mod error;
mod labels;
pub(crate) mod codec;
pub(crate) mod wal;

pub use error::{Error, Result};
pub use labels::{check_label_name, check_metric_name, Label, Labels, METRIC_NAME_LABEL};
