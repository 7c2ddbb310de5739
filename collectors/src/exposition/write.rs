//! The writer: series out as text the parser reads back bit for bit.

use std::io::{self, Write};

use minetsdb::{Labels, Metadata, MetricType, Sample, METRIC_NAME_LABEL};

use super::{family_name, value, Format};

/// Writes series one after another, with each family's `# TYPE`/`# HELP`/
/// `# UNIT` lines once before its first series, and `# EOF` at
/// [`Writer::finish`] for OpenMetrics.
///
/// Families should be written together (sorting series by labels does it);
/// a family that comes back later gets its metadata lines again, which
/// strict OpenMetrics parsers reject.
pub struct Writer<W: Write> {
    w: W,
    format: Format,
    family: Option<String>,
    buf: Vec<u8>,
    timestamps: bool,
}

impl<W: Write> Writer<W> {
    /// A writer of `format` ([`Format::Auto`] writes 0.0.4) into `w`.
    pub fn new(w: W, format: Format) -> Writer<W> {
        Writer {
            w,
            format,
            family: None,
            buf: Vec::with_capacity(4096),
            timestamps: true,
        }
    }

    /// Leaves timestamps out, as an exporter serving live readings does:
    /// the scraper stamps them with its scrape time and can then mark
    /// vanished series stale (Prometheus does not for explicit timestamps).
    pub fn without_timestamps(mut self) -> Writer<W> {
        self.timestamps = false;
        self
    }

    /// Writes one series' samples, preceded by its family's metadata lines
    /// if `metadata` is given and the family differs from the last one
    /// written.
    pub fn write_series(
        &mut self,
        metadata: Option<&Metadata>,
        labels: &Labels,
        samples: &[Sample],
    ) -> io::Result<()> {
        write_into(
            &mut self.w,
            &mut self.buf,
            self.format,
            metadata,
            labels,
            samples,
            &mut self.family,
            self.timestamps,
        )
    }

    /// Writes `# EOF` for OpenMetrics, flushes, and gives the sink back.
    pub fn finish(mut self) -> io::Result<W> {
        if self.format == Format::OpenMetrics {
            write_eof(&mut self.w)?;
        }
        self.w.flush()?;
        Ok(self.w)
    }
}

/// Writes one series' samples in `format`, after its metadata lines if
/// `metadata` is given. OpenMetrics output must end with [`write_eof`].
///
/// In 0.0.4 there are no units (they are dropped) and only the types
/// counter, gauge, histogram, summary and untyped (info and stateset are
/// written as untyped); use OpenMetrics to keep all metadata.
pub fn write_series(
    w: &mut impl Write,
    format: Format,
    metadata: Option<&Metadata>,
    labels: &Labels,
    samples: &[Sample],
) -> io::Result<()> {
    let mut buf = Vec::new();
    write_into(
        w, &mut buf, format, metadata, labels, samples, &mut None, true,
    )
}

/// Writes the OpenMetrics end marker.
pub fn write_eof(w: &mut impl Write) -> io::Result<()> {
    w.write_all(b"# EOF\n")
}

#[allow(clippy::too_many_arguments)] // private; one call per public entry
fn write_into(
    w: &mut impl Write,
    buf: &mut Vec<u8>,
    format: Format,
    metadata: Option<&Metadata>,
    labels: &Labels,
    samples: &[Sample],
    last_family: &mut Option<String>,
    timestamps: bool,
) -> io::Result<()> {
    if labels.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "series without a metric name",
        ));
    }
    let om = format == Format::OpenMetrics;
    if let Some(md) = metadata.filter(|md| om && md.unit.contains(char::is_whitespace)) {
        let what = format!("unit {:?} contains whitespace", md.unit);
        return Err(io::Error::new(io::ErrorKind::InvalidInput, what));
    }
    let name = labels.metric_name();
    buf.clear();
    if let Some(md) = metadata {
        let family = family_name(name, md.metric_type, format);
        if last_family.as_deref() != Some(family) {
            write_metadata(buf, om, family, md);
            *last_family = Some(family.to_string());
        }
    }
    let mut prefix = Vec::with_capacity(64);
    prefix.extend_from_slice(name.as_bytes());
    let mut first = true;
    for l in labels.iter().filter(|l| l.name != METRIC_NAME_LABEL) {
        prefix.push(if first { b'{' } else { b',' });
        first = false;
        prefix.extend_from_slice(l.name.as_bytes());
        prefix.extend_from_slice(b"=\"");
        escape(&mut prefix, &l.value, true);
        prefix.push(b'"');
    }
    if !first {
        prefix.push(b'}');
    }
    prefix.push(b' ');
    for s in samples {
        buf.extend_from_slice(&prefix);
        value::write_value(buf, s.v);
        if timestamps {
            buf.push(b' ');
            if om {
                value::write_seconds(buf, s.t);
            } else {
                value::write_ms(buf, s.t);
            }
        }
        buf.push(b'\n');
        if buf.len() >= 1 << 16 {
            w.write_all(buf)?;
            buf.clear();
        }
    }
    w.write_all(buf)
}

fn write_metadata(buf: &mut Vec<u8>, om: bool, family: &str, md: &Metadata) {
    let ty = match md.metric_type {
        MetricType::Unknown if om => "unknown",
        MetricType::Info | MetricType::StateSet | MetricType::Unknown if !om => "untyped",
        t => t.as_str(),
    };
    buf.extend_from_slice(b"# TYPE ");
    buf.extend_from_slice(family.as_bytes());
    buf.push(b' ');
    buf.extend_from_slice(ty.as_bytes());
    buf.push(b'\n');
    if om && !md.unit.is_empty() {
        buf.extend_from_slice(b"# UNIT ");
        buf.extend_from_slice(family.as_bytes());
        buf.push(b' ');
        buf.extend_from_slice(md.unit.as_bytes());
        buf.push(b'\n');
    }
    if !md.help.is_empty() {
        buf.extend_from_slice(b"# HELP ");
        buf.extend_from_slice(family.as_bytes());
        buf.push(b' ');
        escape(buf, &md.help, om);
        buf.push(b'\n');
    }
}

/// Escapes `\` and newline, and `"` if `quote` (label values, and
/// OpenMetrics help; 0.0.4 help leaves `"` alone, as Go's parser wants).
fn escape(buf: &mut Vec<u8>, s: &str, quote: bool) {
    for &b in s.as_bytes() {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'"' if quote => buf.extend_from_slice(b"\\\""),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b => buf.push(b),
        }
    }
}
