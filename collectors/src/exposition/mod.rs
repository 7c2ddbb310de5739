//! The Prometheus text exposition format (0.0.4) and OpenMetrics 1.0 text:
//! one streaming parser for scrapes and `import`, one writer for `export`.
//!
//! [`Parser`] reads any [`BufRead`](std::io::BufRead) a line at a time (one
//! reused buffer; the input is never held whole) and yields
//! `Result<`[`Item`]`, `[`Error`]`>`. A malformed line yields a
//! [`ParseError`] naming its line, byte column and what was wrong, and the
//! parser carries on with the next line, so the caller decides whether to
//! stop at the first error or count and skip (`--skip-bad-lines`). Read
//! failures ([`Error::Io`]) end the iteration.
//!
//! [`Writer`] (or the one-shot [`write_series`]) writes series that the
//! parser reads back bit for bit: labels, timestamps and values, except that
//! text has a single NaN, so NaN payloads (Prometheus' stale marker among
//! them) come back as the canonical NaN. `-0.0` is written `-0` and survives.
//!
//! # Format decisions
//! - **Timestamps**: 0.0.4 takes integer milliseconds. OpenMetrics takes
//!   seconds (`1700000000.123`), converted exactly from the decimal digits;
//!   digits past the millisecond are truncated toward zero. The writer puts
//!   exactly three decimals, which round-trips every `i64` millisecond.
//! - **Auto-detection** ([`Format::Auto`]): the input is read as 0.0.4 until
//!   the first OpenMetrics evidence: a `# EOF` or `# UNIT` line, a timestamp
//!   with a `.` or an exponent, or an exemplar (` # ` after the value). From
//!   there on it is OpenMetrics. Integer timestamps before any evidence are
//!   read as milliseconds, so an OpenMetrics file whose timestamps are all
//!   integers and that has no `# UNIT` must be read with
//!   [`Format::OpenMetrics`]. Scrapes should use
//!   [`Format::from_content_type`] instead.
//! - **`# EOF`** ends OpenMetrics input ([`Item::Eof`]); text after it is an
//!   error. It is required only when the format was explicitly
//!   [`Format::OpenMetrics`]. With [`Format::Text004`] it is a comment.
//! - **`_created`**: in OpenMetrics, `<family>_created` samples of a
//!   counter, histogram or summary family are creation times, not
//!   measurements; they are skipped, as Prometheus does by default, unless
//!   [`Options::keep_created`]. Elsewhere (0.0.4, other types) a `_created`
//!   series is a series like any other.
//! - **Names**: samples keep their full names (`foo_total`, `foo_bucket`);
//!   metadata is reported under the family name as written in `# TYPE`
//!   (see [`family_name`]). Histograms and summaries are their plain
//!   `_bucket`/`_sum`/`_count`/quantile series.
//! - **Values**: decimal floats with exponents, `NaN`, `Inf`, `+Inf`,
//!   `-Inf` (any case, `infinity` too, as Go accepts); each finite value
//!   reads as the f64 `str::parse` gives, which is correctly rounded. Hex
//!   floats (`0x1p-2`, which Go's `ParseFloat` would take) are refused: no
//!   exporter writes them and OpenMetrics forbids them.
//! - **Label values** accept the escapes `\\`, `\"` and `\n` only; any
//!   other is an error. An empty value means the label is absent. A label
//!   name given twice is an error. HELP text unescapes the same three and
//!   keeps any other backslash literally.
//! - **Leniency**: blank lines and extra spaces or tabs between tokens are
//!   accepted in both formats, and `# UNIT` is honoured in 0.0.4 too.
//!   Unknown `# TYPE` values are errors; `untyped` and `unknown` both mean
//!   [`MetricType::Unknown`], `gaugehistogram` is recorded as a histogram.

mod lex;
mod parse;
mod value;
mod write;

use minetsdb::{Labels, Metadata, MetricType};

pub use parse::Parser;
pub use write::{write_eof, write_series, Writer};

/// Which text format to read or write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Read: detect (see the module docs). Write: same as [`Format::Text004`].
    #[default]
    Auto,
    /// Prometheus text format 0.0.4: timestamps in integer milliseconds.
    Text004,
    /// OpenMetrics 1.0 text: timestamps in seconds, `# EOF` at the end.
    OpenMetrics,
}

impl Format {
    /// The format a scrape's `Content-Type` announces:
    /// `application/openmetrics-text` is OpenMetrics, `text/plain` is 0.0.4,
    /// anything else (or nothing) is [`Format::Auto`].
    pub fn from_content_type(content_type: &str) -> Format {
        let media = content_type.split(';').next().unwrap_or("").trim();
        if media.eq_ignore_ascii_case("application/openmetrics-text") {
            Format::OpenMetrics
        } else if media.eq_ignore_ascii_case("text/plain") {
            Format::Text004
        } else {
            Format::Auto
        }
    }

    /// The `Content-Type` to serve text in this format with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Auto | Format::Text004 => "text/plain; version=0.0.4; charset=utf-8",
        }
    }

    /// The `Accept` header a scraper should send: OpenMetrics preferred.
    pub const ACCEPT: &'static str =
        "application/openmetrics-text;version=1.0.0;q=0.9,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
}

/// How to parse.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Format of the input.
    pub format: Format,
    /// Timestamp for samples written without one (a scrape's time).
    pub default_timestamp_ms: Option<i64>,
    /// Keep OpenMetrics `_created` samples of counters, histograms and
    /// summaries as series of their own instead of skipping them.
    pub keep_created: bool,
}

/// One thing read from the input.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A sample; `t` is `None` when the line had no timestamp and
    /// [`Options::default_timestamp_ms`] was not given.
    Sample {
        /// The series, with `__name__`.
        labels: Labels,
        /// Milliseconds since the Unix epoch.
        t: Option<i64>,
        /// The value; NaN is always the canonical `f64::NAN`.
        v: f64,
    },
    /// What `# TYPE`, `# HELP` and `# UNIT` lines said about a metric
    /// family, merged over consecutive lines for the same name; yielded
    /// once those lines end (before the family's first sample).
    Metadata {
        /// The family name as written in the comment lines.
        name: String,
        /// Type, unit and help (help unescaped).
        md: Metadata,
    },
    /// OpenMetrics `# EOF`: nothing follows.
    Eof,
}

/// A series as [`Parser::next_keyed`] names it: a small number per
/// distinct series text, below 16 384, so a consumer can map keys to its
/// own handles with a table. A key is reused for another series only after
/// a sample that announces it with `new` set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeriesKey(u32);

impl SeriesKey {
    /// The key as an index (below 16 384).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What [`Parser::next_keyed`] yields: samples by key, anything else as
/// the [`Item`] the iterator yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Keyed {
    /// A sample; its labels are [`Parser::key_labels`]`(key)`.
    Sample {
        /// The series.
        key: SeriesKey,
        /// First sample under this key (since it was last reused): look
        /// its labels up now.
        new: bool,
        /// As in [`Item::Sample`].
        t: Option<i64>,
        /// As in [`Item::Sample`].
        v: f64,
    },
    /// Metadata or `# EOF`, never [`Item::Sample`].
    Other(Item),
}

/// A malformed line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {col}: {what}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: u64,
    /// 1-based byte column where the trouble starts.
    pub col: usize,
    /// What was wrong.
    pub what: String,
}

/// What the parser can yield instead of an item.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A malformed line; parsing can go on with the next one.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// Reading failed; the parser yields nothing more.
    #[error("reading line {line}: {source}")]
    Io {
        /// The line being read.
        line: u64,
        /// The cause.
        source: std::io::Error,
    },
}

/// The family a sample name belongs to under a family of type `ty`, as
/// written in `# TYPE` lines: `foo` for `foo_bucket` of a histogram; for
/// OpenMetrics counters `foo` for `foo_total` (0.0.4 counters keep it).
pub fn family_name(metric: &str, ty: MetricType, format: Format) -> &str {
    let om = format == Format::OpenMetrics;
    let suffixes: &[&str] = match ty {
        MetricType::Counter if om => &["_total", "_created"],
        MetricType::Histogram => &["_bucket", "_sum", "_count", "_created", "_gsum", "_gcount"],
        MetricType::Summary => &["_sum", "_count", "_created"],
        MetricType::Info if om => &["_info"],
        _ => &[],
    };
    for s in suffixes {
        if let Some(f) = metric.strip_suffix(s) {
            if !f.is_empty() {
                return f;
            }
        }
    }
    metric
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(
            Format::from_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            Format::OpenMetrics
        );
        assert_eq!(
            Format::from_content_type("text/plain; version=0.0.4"),
            Format::Text004
        );
        assert_eq!(Format::from_content_type("application/json"), Format::Auto);
        for f in [Format::Text004, Format::OpenMetrics] {
            assert_eq!(Format::from_content_type(f.content_type()), f);
        }
    }

    #[test]
    fn families() {
        let om = Format::OpenMetrics;
        assert_eq!(family_name("a_total", MetricType::Counter, om), "a");
        assert_eq!(
            family_name("a_total", MetricType::Counter, Format::Text004),
            "a_total"
        );
        assert_eq!(family_name("h_bucket", MetricType::Histogram, om), "h");
        assert_eq!(family_name("_total", MetricType::Counter, om), "_total");
        assert_eq!(family_name("g", MetricType::Gauge, om), "g");
    }
}
