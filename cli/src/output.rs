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

fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
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
    o
}

fn json_metric(m: &minetsdb::promql::Metric) -> String {
    let parts: Vec<String> = m
        .iter()
        .map(|l| format!("{}:{}", json_str(&l.name), json_str(&l.value)))
        .collect();
    format!("{{{}}}", parts.join(","))
}

fn json_point(t: i64, v: f64) -> String {
    format!("[{},{}]", secs(t), json_str(&fmt_float(v)))
}

/// Seconds with millisecond precision, as Prometheus prints timestamps.
fn secs(t: i64) -> String {
    let s = format!("{}.{:03}", t.div_euclid(1000), t.rem_euclid(1000));
    s.trim_end_matches('0').trim_end_matches('.').to_string()
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
            let items: Vec<String> = vec
                .iter()
                .map(|s| {
                    format!(
                        "{{\"metric\":{},\"value\":{}}}",
                        json_metric(&s.metric),
                        json_point(s.sample.t, s.sample.v)
                    )
                })
                .collect();
            let _ = write!(
                o,
                "{{\"resultType\":\"vector\",\"result\":[{}]}}",
                items.join(",")
            );
        }
        (Value::Scalar(s), Format::Json) => {
            let _ = write!(
                o,
                "{{\"resultType\":\"scalar\",\"result\":{}}}",
                json_point(s.t, s.v)
            );
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
            let items: Vec<String> = m
                .iter()
                .map(|s| {
                    let pts: Vec<String> = s.samples.iter().map(|x| json_point(x.t, x.v)).collect();
                    format!(
                        "{{\"metric\":{},\"values\":[{}]}}",
                        json_metric(&s.metric),
                        pts.join(",")
                    )
                })
                .collect();
            let _ = writeln!(
                o,
                "{{\"resultType\":\"matrix\",\"result\":[{}]}}",
                items.join(",")
            );
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
