//! Errors returned by the database.
//!
//! One enum, [`Error`], covers every operation: an embedding program matches
//! on the variants it can act on (a held lock, a corrupt file) and prints the
//! rest. Every variant that concerns a file names it, and corruption names
//! the byte offset, so an operator can find the damage with `xxd`.

use std::path::PathBuf;

/// Errors returned by [`crate::Db`] and the types around it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O operation on `path` failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("open", "read", "fsync", ...).
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A file holds bytes that do not decode: a bad checksum, a length that
    /// points past the end, an impossible value.
    #[error("corrupt {file} at offset {offset}: {what}")]
    Corrupt {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset of the damaged record or section.
        offset: u64,
        /// What was wrong.
        what: String,
    },
    /// The file was written by a format version this build cannot read.
    #[error("{file}: unsupported format version {found} (this build reads {supported})")]
    UnsupportedVersion {
        /// The file concerned.
        file: PathBuf,
        /// Version found in the file.
        found: u32,
        /// Versions this build understands.
        supported: String,
    },
    /// Another process holds the writer lock.
    #[error("database {path} is locked by pid {pid}")]
    Locked {
        /// The database directory.
        path: PathBuf,
        /// Process id recorded in the LOCK file (0 when it could not be read).
        pid: u32,
    },
    /// The database was opened read-only and a write was attempted.
    #[error("database is open read-only")]
    ReadOnly,
    /// A metric name, label name or label value breaks Prometheus' naming rules.
    #[error("invalid {kind} {name:?}: {why}")]
    InvalidLabel {
        /// "metric name", "label name" or "label set".
        kind: &'static str,
        /// The offending text.
        name: String,
        /// Which rule it broke.
        why: &'static str,
    },
    /// A label matcher's regular expression does not compile.
    #[error("invalid regex {pattern:?} in matcher: {source}")]
    InvalidRegex {
        /// The pattern as given.
        pattern: String,
        /// The regex crate's message.
        #[source]
        source: Box<regex::Error>,
    },
    /// An earlier write failed part-way (an fsync error, a full disk) and
    /// the database refuses further writes until it is reopened, which
    /// replays the WAL and so restores a consistent state.
    #[error("database needs reopening after an earlier write failure: {cause}")]
    Poisoned {
        /// The failure that poisoned it.
        cause: String,
    },
    /// An argument is out of range (an empty time range, a zero option).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A PromQL query failed to parse or evaluate: a syntax error (with its
    /// position), a construct this engine does not support (named), a type
    /// error, or a limit (points, timeout) exceeded.
    #[error("query {expr:?}: {msg}")]
    Query {
        /// The query text as given.
        expr: String,
        /// What went wrong.
        msg: String,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(file: impl Into<PathBuf>, offset: u64, what: impl Into<String>) -> Error {
        Error::Corrupt {
            file: file.into(),
            offset,
            what: what.into(),
        }
    }
}
