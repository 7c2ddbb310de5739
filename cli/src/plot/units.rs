//! The unit of a plotted value, read from the metric name's suffix as
//! Prometheus names units (`_watts`, `_bytes`, ...), and how to scale it
//! (k/M/G for hash rates, KiB/MiB for bytes, % for ratios).
//!
//! The rules, in order:
//! - a trailing `_total` (a counter) is dropped before reading the unit;
//! - under `rate`/`irate` the unit becomes per second: joules become watts,
//!   a unit `u` becomes `u/s`, a counter with no unit (shares) becomes `/s`;
//! - `nvidia_smi_temperature_*` are °C although the name does not say so
//!   (nvidia_gpu_exporter's names, kept for the dashboards miners have).

/// How values of a unit are scaled into readable numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scaling {
    /// Printed as they are.
    Plain,
    /// k, M, G, T, P (powers of 1000) once values reach 1000.
    Si,
    /// KiB, MiB, GiB, TiB (powers of 1024) once values reach 1024.
    Binary,
    /// Values are fractions, printed ×100.
    Percent,
}

/// A unit: the symbol after the number and how to scale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    symbol: String,
    scaling: Scaling,
}

/// A scale chosen for a set of values: divide by `div`, then print
/// `suffix` after the number (`" MH/s"`, `" %"`, or empty).
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    pub div: f64,
    pub suffix: String,
}

impl Unit {
    /// No unit: plain numbers with SI prefixes for large values.
    pub fn none() -> Unit {
        Unit {
            symbol: String::new(),
            scaling: Scaling::Si,
        }
    }

    /// The unit of metric `name`; `per_second` when the expression takes
    /// its `rate`.
    pub fn from_metric(name: &str, per_second: bool) -> Unit {
        let base = name.strip_suffix("_total").unwrap_or(name);
        let (symbol, scaling) = if base.ends_with("_watts") {
            ("W", Scaling::Si)
        } else if base.ends_with("_celsius") || base.starts_with("nvidia_smi_temperature_") {
            ("°C", Scaling::Plain)
        } else if base.ends_with("_hashes_per_second") {
            ("H/s", Scaling::Si)
        } else if base.ends_with("_hashes") {
            ("H", Scaling::Si)
        } else if base.ends_with("_bytes") {
            ("B", Scaling::Binary)
        } else if base.ends_with("_hertz") || base.ends_with("_hz") {
            ("Hz", Scaling::Si)
        } else if base.ends_with("_ratio") {
            ("%", Scaling::Percent)
        } else if base.ends_with("_percent") {
            ("%", Scaling::Plain)
        } else if base.ends_with("_joules") {
            ("J", Scaling::Si)
        } else if base.ends_with("_seconds") {
            ("s", Scaling::Plain)
        } else {
            ("", Scaling::Si)
        };
        if !per_second {
            return Unit {
                symbol: symbol.to_string(),
                scaling,
            };
        }
        let (symbol, scaling) = match symbol {
            "J" => ("W".to_string(), Scaling::Si),
            "H" => ("H/s".to_string(), Scaling::Si),
            // A rate of a ratio or percentage has no readable unit.
            "%" => ("/s".to_string(), Scaling::Si),
            s => (format!("{s}/s"), scaling),
        };
        Unit { symbol, scaling }
    }

    /// The scale for values up to `max_abs` in magnitude.
    pub fn scale(&self, max_abs: f64) -> Scale {
        let sym = &self.symbol;
        let (div, prefix) = match self.scaling {
            Scaling::Plain => (1.0, ""),
            Scaling::Percent => (0.01, ""),
            Scaling::Si => pick(max_abs, 1000.0, &["", "k", "M", "G", "T", "P"]),
            Scaling::Binary => pick(max_abs, 1024.0, &["", "Ki", "Mi", "Gi", "Ti", "Pi"]),
        };
        let unit = format!("{prefix}{sym}");
        // "1.2k", "3/s", "1.5k/s" attach; a named unit gets a space.
        let suffix = if sym.is_empty() || sym.starts_with('/') {
            unit
        } else {
            format!(" {unit}")
        };
        Scale { div, suffix }
    }

    /// One value with 3 significant digits (at least the whole part),
    /// e.g. `61.2 MH/s`, `231 W`, `45.5 %`.
    pub fn format(&self, v: f64) -> String {
        if !v.is_finite() {
            return crate::output::fmt_float(v);
        }
        let s = self.scale(v.abs());
        let x = v / s.div;
        let a = x.abs();
        let decimals = if a >= 100.0 || a == 0.0 {
            0
        } else if a >= 10.0 {
            1
        } else {
            2
        };
        format!("{}{}", trim_zeros(&format!("{x:.decimals$}")), s.suffix)
    }
}

/// The largest prefix whose base divides `max_abs` to at least 1.
fn pick(max_abs: f64, base: f64, prefixes: &[&'static str]) -> (f64, &'static str) {
    let mut div = 1.0;
    let mut chosen = prefixes[0];
    for p in prefixes.iter().skip(1) {
        if max_abs >= div * base {
            div *= base;
            chosen = p;
        } else {
            break;
        }
    }
    (div, chosen)
}

/// `1.50` -> `1.5`, `2.00` -> `2`; integers are left alone.
pub fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        let t = s.trim_end_matches('0').trim_end_matches('.');
        if t == "-0" {
            "0".into()
        } else {
            t.into()
        }
    } else {
        s.into()
    }
}

/// True when `expr` takes a per-second rate (`rate(` or `irate(` as a
/// word), so that counters plotted through it are per second.
pub fn expr_is_rate(expr: &str) -> bool {
    // Blank out quoted text so `{job="rate("}` does not count.
    let mut quote: Option<char> = None;
    let expr: String = expr
        .chars()
        .map(|c| match quote {
            Some(q) if c == q => {
                quote = None;
                ' '
            }
            Some(_) => ' ',
            None if matches!(c, '"' | '\'' | '`') => {
                quote = Some(c);
                ' '
            }
            None => c,
        })
        .collect();
    let expr = expr.as_str();
    let b = expr.as_bytes();
    ["rate", "irate"].iter().any(|f| {
        expr.match_indices(f).any(|(i, _)| {
            let before_ok = i == 0 || !is_ident(b[i - 1]);
            let rest = expr[i + f.len()..].trim_start();
            before_ok && rest.starts_with('(')
        })
    })
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

/// The metric whose unit labels the axis when the result has no
/// `__name__` (e.g. `rate(x[5m])`, `sum(x)`): the first identifier in the
/// expression followed by `{` or `[` (a selector); failing that, the
/// first identifier that is not a function call, a keyword or a label name
/// in a `by (...)`-like clause. Strings, `{...}` and `[...]` are skipped.
pub fn metric_in_expr(expr: &str) -> Option<String> {
    const KEYWORDS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "and",
        "or",
        "unless",
        "offset",
        "inf",
        "nan",
        "atan2",
        // Aggregations may be followed by `by (...)` instead of `(`.
        "sum",
        "avg",
        "min",
        "max",
        "count",
        "group",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
        "limitk",
        "limit_ratio",
    ];
    const GROUPING: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let b = expr.as_bytes();
    let mut i = 0;
    let mut fallback: Option<String> = None;
    while i < b.len() {
        let c = b[i];
        if c == b'"' || c == b'\'' || c == b'`' {
            i = skip_string(b, i);
        } else if c == b'{' || c == b'[' {
            let close = if c == b'{' { b'}' } else { b']' };
            i = b[i..]
                .iter()
                .position(|&x| x == close)
                .map_or(b.len(), |p| i + p + 1);
        } else if c.is_ascii_digit() || c == b'.' {
            while i < b.len() && (is_ident(b[i]) || b[i] == b'.') {
                i += 1;
            }
        } else if is_ident(c) {
            let start = i;
            while i < b.len() && is_ident(b[i]) {
                i += 1;
            }
            let word = &expr[start..i];
            let mut j = i;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            let next = b.get(j).copied();
            if next == Some(b'{') || next == Some(b'[') {
                return Some(word.to_string());
            }
            let lower = word.to_ascii_lowercase();
            if GROUPING.contains(&lower.as_str()) && next == Some(b'(') {
                i = b[j..]
                    .iter()
                    .position(|&x| x == b')')
                    .map_or(b.len(), |p| j + p + 1);
            } else if next != Some(b'(')
                && !KEYWORDS.contains(&lower.as_str())
                && fallback.is_none()
            {
                fallback = Some(word.to_string());
            }
        } else {
            i += 1;
        }
    }
    fallback
}

fn skip_string(b: &[u8], start: usize) -> usize {
    let q = b[start];
    let mut i = start + 1;
    while i < b.len() {
        if b[i] == b'\\' && q != b'`' {
            i += 2;
        } else if b[i] == q {
            return i + 1;
        } else {
            i += 1;
        }
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_table() {
        let cases: &[(&str, bool, f64, &str)] = &[
            (
                "miner_hashrate_hashes_per_second",
                false,
                61_234_567.0,
                "61.2 MH/s",
            ),
            ("miner_hashrate_hashes_per_second", false, 950.0, "950 H/s"),
            (
                "miner_hashrate_hashes_per_second",
                false,
                1.5e12,
                "1.5 TH/s",
            ),
            ("nvidia_smi_power_draw_watts", false, 231.47, "231 W"),
            ("nvidia_smi_power_draw_watts", false, 1_520.0, "1.52 kW"),
            ("nvidia_smi_power_draw_watts", false, 0.0, "0 W"),
            ("nvidia_smi_temperature_gpu", false, 64.31, "64.3 °C"),
            ("node_hwmon_temp_celsius", false, 41.0, "41 °C"),
            (
                "nvidia_smi_memory_used_bytes",
                false,
                3.5 * 1024.0 * 1024.0 * 1024.0,
                "3.5 GiB",
            ),
            ("nvidia_smi_memory_used_bytes", false, 512.0, "512 B"),
            (
                "nvidia_smi_clocks_current_graphics_clock_hz",
                false,
                1.83e9,
                "1.83 GHz",
            ),
            ("cpu_frequency_hertz", false, 2.4e6, "2.4 MHz"),
            ("nvidia_smi_utilization_gpu_ratio", false, 0.97, "97 %"),
            ("nvidia_smi_fan_speed_ratio", false, 0.455, "45.5 %"),
            ("gpu_energy_joules_total", false, 3.6e6, "3.6 MJ"),
            ("gpu_energy_joules_total", true, 231.0, "231 W"),
            ("pool_shares_accepted_total", true, 0.0125, "0.01/s"),
            ("pool_shares_accepted_total", false, 1234.0, "1.23k"),
            ("process_cpu_seconds_total", false, 12.5, "12.5 s"),
            ("node_network_receive_bytes_total", true, 2048.0, "2 KiB/s"),
            ("up", false, 1.0, "1"),
            ("x", false, -5.25, "-5.25"),
        ];
        for &(name, rate, v, want) in cases {
            assert_eq!(Unit::from_metric(name, rate).format(v), want, "{name} {v}");
        }
    }

    #[test]
    fn rate_detection() {
        assert!(expr_is_rate("rate(x_total[5m])"));
        assert!(expr_is_rate("sum by (gpu) (irate (x[1m]))"));
        assert!(!expr_is_rate("increase(x_total[1h])"));
        assert!(!expr_is_rate("my_rate_total"));
        assert!(!expr_is_rate("migrate_total{a=\"rate(\"}"));
    }

    #[test]
    fn metric_from_expression_text() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                "rate(gpu_energy_joules_total[5m])",
                Some("gpu_energy_joules_total"),
            ),
            (
                "avg_over_time(nvidia_smi_power_draw_watts{gpu=\"0\"}[1h])",
                Some("nvidia_smi_power_draw_watts"),
            ),
            (
                "sum by (gpu, uuid) (nvidia_smi_power_draw_watts)",
                Some("nvidia_smi_power_draw_watts"),
            ),
            (
                "sum(nvidia_smi_temperature_gpu) / 2",
                Some("nvidia_smi_temperature_gpu"),
            ),
            ("{__name__=\"x\"}", None),
            ("1 + 2", None),
            ("time()", None),
        ];
        for &(e, want) in cases {
            assert_eq!(metric_in_expr(e).as_deref(), want, "{e}");
        }
    }
}
