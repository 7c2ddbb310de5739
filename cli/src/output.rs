//! Rendering query results: human tables, CSV, and JSON shaped like the
//! `data` of Prometheus' HTTP API (so scripts written for it keep working).

use std::fmt::Write as _;

use minetsdb::promql::{Matrix, Value};

/// Output format chosen with `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned table for people.
    Table,
    /// Comma-separated: series,timestamp,value.
    Csv,
    /// Prometheus API `data` object.
    Json,
}

pub use minetsdb::promql::format_float as fmt_float;

// The JSON writers append to one buffer: a range query's answer is
// thousands of points, and a String per number was most of its cost.

fn push_json_str(o: &mut String, s: &str) {
    o.reserve(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
}

fn json_str(s: &str) -> String {
    let mut o = String::new();
    push_json_str(&mut o, s);
    o
}

fn push_metric(o: &mut String, m: &minetsdb::promql::Metric) {
    o.push('{');
    for (i, l) in m.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        push_json_str(o, &l.name);
        o.push(':');
        push_json_str(o, &l.value);
    }
    o.push('}');
}

/// `[seconds, "value"]`, as Prometheus' API writes a point.
fn push_point(o: &mut String, t: i64, v: f64) {
    o.push('[');
    push_secs(o, t);
    o.push_str(",\"");
    push_float(o, v);
    o.push_str("\"]");
}

/// A value as Prometheus writes it (Go's shortest 'f' format; `NaN`,
/// `+Inf`, `-Inf`): [`fmt_float`] without the allocation.
fn push_float(o: &mut String, v: f64) {
    if v.is_nan() {
        o.push_str("NaN");
    } else if v == f64::INFINITY {
        o.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        o.push_str("-Inf");
    } else {
        let _ = write!(o, "{v}");
    }
}

/// Seconds with millisecond precision, as Prometheus prints timestamps
/// (sign, whole seconds, and `.mmm` when the milliseconds are not zero).
fn push_secs(o: &mut String, t: i64) {
    if t < 0 {
        o.push('-');
    }
    let t = t.unsigned_abs();
    let _ = write!(o, "{}", t / 1000);
    let ms = t % 1000;
    if ms != 0 {
        let _ = write!(o, ".{ms:03}");
    }
}

fn secs(t: i64) -> String {
    let mut o = String::new();
    push_secs(&mut o, t);
    o
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Renders an instant query's value.
pub fn render_value(v: &Value, f: Format) -> String {
    let mut o = String::new();
    match (v, f) {
        (Value::Vector(vec), Format::Json) => {
            o.push_str("{\"resultType\":\"vector\",\"result\":[");
            for (i, s) in vec.iter().enumerate() {
                if i > 0 {
                    o.push(',');
                }
                o.push_str("{\"metric\":");
                push_metric(&mut o, &s.metric);
                o.push_str(",\"value\":");
                push_point(&mut o, s.sample.t, s.sample.v);
                o.push('}');
            }
            o.push_str("]}");
        }
        (Value::Scalar(s), Format::Json) => {
            o.push_str("{\"resultType\":\"scalar\",\"result\":");
            push_point(&mut o, s.t, s.v);
            o.push('}');
        }
        (Value::String { t, value: s }, Format::Json) => {
            let _ = write!(
                o,
                "{{\"resultType\":\"string\",\"result\":[{},{}]}}",
                secs(*t),
                json_str(s)
            );
        }
        (Value::Matrix(m), f) => return render_matrix(m, f),
        (Value::Vector(vec), Format::Csv) => {
            o.push_str("series,timestamp,value\n");
            for s in vec {
                let _ = writeln!(
                    o,
                    "{},{},{}",
                    csv_field(&s.metric.to_string()),
                    secs(s.sample.t),
                    fmt_float(s.sample.v)
                );
            }
        }
        (Value::Scalar(s), Format::Csv) => {
            let _ = writeln!(
                o,
                "series,timestamp,value\nscalar,{},{}",
                secs(s.t),
                fmt_float(s.v)
            );
        }
        (Value::String { t, value: s }, Format::Csv) => {
            let _ = writeln!(
                o,
                "series,timestamp,value\nstring,{},{}",
                secs(*t),
                csv_field(s)
            );
        }
        (Value::Vector(vec), Format::Table) => {
            if vec.is_empty() {
                o.push_str("(no data)\n");
            }
            let w = vec
                .iter()
                .map(|s| s.metric.to_string().chars().count())
                .max()
                .unwrap_or(0)
                .max(6);
            for s in vec {
                let _ = writeln!(o, "{:<w$}  {}", s.metric.to_string(), fmt_float(s.sample.v));
            }
        }
        (Value::Scalar(s), Format::Table) => {
            let _ = writeln!(o, "{}", fmt_float(s.v));
        }
        (Value::String { value: s, .. }, Format::Table) => {
            let _ = writeln!(o, "{s}");
        }
    }
    if f == Format::Json {
        o.push('\n');
    }
    o
}

/// Renders a range query's matrix.
pub fn render_matrix(m: &Matrix, f: Format) -> String {
    let mut o = String::new();
    match f {
        Format::Json => {
            let points: usize = m.iter().map(|s| s.samples.len()).sum();
            o.reserve(points * 24 + m.len() * 128);
            o.push_str("{\"resultType\":\"matrix\",\"result\":[");
            for (i, s) in m.iter().enumerate() {
                if i > 0 {
                    o.push(',');
                }
                o.push_str("{\"metric\":");
                push_metric(&mut o, &s.metric);
                o.push_str(",\"values\":[");
                for (j, x) in s.samples.iter().enumerate() {
                    if j > 0 {
                        o.push(',');
                    }
                    push_point(&mut o, x.t, x.v);
                }
                o.push_str("]}");
            }
            o.push_str("]}\n");
        }
        Format::Csv => {
            o.push_str("series,timestamp,value\n");
            for s in m {
                let name = csv_field(&s.metric.to_string());
                for x in &s.samples {
                    let _ = writeln!(o, "{name},{},{}", secs(x.t), fmt_float(x.v));
                }
            }
        }
        Format::Table => {
            if m.is_empty() {
                o.push_str("(no data)\n");
            }
            for s in m {
                let _ = writeln!(o, "{}", s.metric);
                for x in &s.samples {
                    let _ = writeln!(
                        o,
                        "  {}  {}",
                        crate::cmd::stats::fmt_time(x.t),
                        fmt_float(x.v)
                    );
                }
            }
        }
    }
    o
}

#[cfg(test)]
mod json_tests {
    use super::*;
    use minetsdb::promql::{MatrixSeries, Metric};
    use minetsdb::Sample;

    #[test]
    fn timestamps_and_values_are_written_as_prometheus_writes_them() {
        // Prometheus' jsonutil.MarshalTimestamp: sign, seconds, then
        // `.mmm` only when there are milliseconds.
        for (t, want) in [
            (0, "0"),
            (1_500, "1.500"),
            (1_005, "1.005"),
            (1_767_225_600_000, "1767225600"),
            (-1, "-0.001"),
            (-1_500, "-1.500"),
        ] {
            assert_eq!(secs(t), want, "{t}");
        }
        let m = vec![MatrixSeries {
            metric: Metric::from(&minetsdb::Labels::new("x", &[("a", "q\"\n")]).unwrap()),
            samples: vec![
                Sample::new(1_000, 0.1),
                Sample::new(2_250, f64::NAN),
                Sample::new(3_000, f64::NEG_INFINITY),
                Sample::new(4_000, 1e21),
            ],
        }];
        assert_eq!(
            render_matrix(&m, Format::Json),
            "{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"__name__\":\"x\",\"a\":\"q\\\"\\n\"},\
             \"values\":[[1,\"0.1\"],[2.250,\"NaN\"],[3,\"-Inf\"],[4,\"1000000000000000000000\"]]}]}\n"
        );
    }
}
