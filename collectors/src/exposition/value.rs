//! Numbers of the text formats, both ways: sample values and timestamps.
//!
//! Reading leans on `str::parse::<f64>`, which is correctly rounded, so every
//! finite decimal reads as the f64 nearest to it, as Go's `ParseFloat` does.
//! Writing uses Rust's shortest round-trip formatting, so what we write reads
//! back to the same bits (NaN payloads aside: text has one NaN).

use std::io::Write;

/// Parses a sample value: decimal floats with optional exponent, `NaN`,
/// `Inf`/`+Inf`/`-Inf` (and `infinity`, any case, as Go accepts).
/// Every NaN reads as the canonical `f64::NAN`.
pub(crate) fn parse_value(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_nan() => Ok(f64::NAN),
        Ok(v) => Ok(v),
        Err(_) => {
            let body = s.trim_start_matches(['+', '-']);
            if body.starts_with("0x") || body.starts_with("0X") {
                // Go's ParseFloat takes hex floats; no exporter writes them and
                // OpenMetrics forbids them, so we refuse rather than guess.
                Err(format!("hex float {s:?} is not accepted"))
            } else {
                Err(format!("bad value {s:?}: not a number"))
            }
        }
    }
}

/// True when a timestamp token is written as a float (OpenMetrics seconds)
/// rather than an integer (0.0.4 milliseconds).
pub(crate) fn is_float_timestamp(s: &str) -> bool {
    s.bytes().any(|b| matches!(b, b'.' | b'e' | b'E'))
}

/// A 0.0.4 timestamp: an integer count of milliseconds.
pub(crate) fn parse_ms(s: &str) -> Result<i64, String> {
    s.parse::<i64>()
        .map_err(|_| format!("bad timestamp {s:?}: want integer milliseconds"))
}

/// An OpenMetrics timestamp: seconds, maybe with a fraction, to
/// milliseconds. Plain decimals are converted exactly (digits past the
/// third decimal are truncated toward zero); exponent forms go through f64
/// and are rounded to the nearest millisecond.
pub(crate) fn parse_seconds(s: &str) -> Result<i64, String> {
    let bad = || format!("bad timestamp {s:?}: want seconds like 1700000000.123");
    let range = || format!("timestamp {s:?} out of range");
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !digits(frac) {
        // Exponent or junk: let the float parser judge.
        let v: f64 = s.parse().map_err(|_| bad())?;
        let ms = (v * 1000.0).round();
        // [-2^63, 2^63): what fits an i64 (NaN fails `contains`).
        const LIMIT: f64 = 9_223_372_036_854_775_808.0;
        if !(-LIMIT..LIMIT).contains(&ms) {
            return Err(range());
        }
        return Ok(ms as i64);
    }
    if int.is_empty() && frac.is_empty() {
        return Err(bad());
    }
    if int.len() > 20 {
        return Err(range());
    }
    let mut ms: i128 = 0;
    for b in int.bytes() {
        ms = ms * 10 + i128::from(b - b'0');
    }
    ms *= 1000;
    let mut scale = 100;
    for b in frac.bytes().chain(std::iter::repeat(b'0')).take(3) {
        ms += i128::from(b - b'0') * scale;
        scale /= 10;
    }
    let ms = if neg { -ms } else { ms };
    i64::try_from(ms).map_err(|_| range())
}

/// Appends `v` so that [`parse_value`] reads back the same bits (NaN: the
/// canonical one). `-0.0` is written `-0`.
pub(crate) fn write_value(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"+Inf" } else { b"-Inf" });
    } else {
        let a = v.abs();
        // Display never uses an exponent (1e300 would be 301 digits); Debug
        // does for very large and small magnitudes. Both are shortest
        // round-trip forms; Display is the one humans expect for "220.5".
        let r = if a == 0.0 || (1e-5..1e16).contains(&a) {
            write!(out, "{v}")
        } else {
            write!(out, "{v:?}")
        };
        debug_assert!(r.is_ok(), "writing to a Vec cannot fail");
    }
}

/// Appends a millisecond timestamp as OpenMetrics seconds with exactly three
/// decimals; exact for every i64 (negative ones included).
pub(crate) fn write_seconds(out: &mut Vec<u8>, t: i64) {
    let a = t.unsigned_abs();
    let sign = if t < 0 { "-" } else { "" };
    let r = write!(out, "{sign}{}.{:03}", a / 1000, a % 1000);
    debug_assert!(r.is_ok(), "writing to a Vec cannot fail");
}

/// Appends a millisecond timestamp as a 0.0.4 integer.
pub(crate) fn write_ms(out: &mut Vec<u8>, t: i64) {
    let r = write!(out, "{t}");
    debug_assert!(r.is_ok(), "writing to a Vec cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(parse_value("1.5e3").unwrap(), 1500.0);
        assert_eq!(parse_value("+Inf").unwrap(), f64::INFINITY);
        assert_eq!(parse_value("Inf").unwrap(), f64::INFINITY);
        assert_eq!(parse_value("-Inf").unwrap(), f64::NEG_INFINITY);
        assert_eq!(parse_value("-inf").unwrap(), f64::NEG_INFINITY);
        assert!(parse_value("NaN").unwrap().is_nan());
        assert_eq!(parse_value("-NaN").unwrap().to_bits(), f64::NAN.to_bits());
        assert_eq!(parse_value("-0").unwrap().to_bits(), (-0.0f64).to_bits());
        assert_eq!(parse_value("0.1").unwrap(), 0.1);
        let e = parse_value("0x1p-2").unwrap_err();
        assert!(e.contains("hex float"), "{e}");
        assert!(parse_value("1,5").is_err());
        assert!(parse_value("").is_err());
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds("1700000000.123").unwrap(), 1_700_000_000_123);
        assert_eq!(parse_seconds("1700000000").unwrap(), 1_700_000_000_000);
        assert_eq!(parse_seconds("1700000000.1").unwrap(), 1_700_000_000_100);
        assert_eq!(
            parse_seconds("1700000000.12399").unwrap(),
            1_700_000_000_123
        );
        assert_eq!(parse_seconds("-0.001").unwrap(), -1);
        assert_eq!(parse_seconds("-1.5").unwrap(), -1500);
        assert_eq!(parse_seconds(".5").unwrap(), 500);
        assert_eq!(parse_seconds("1.7e9").unwrap(), 1_700_000_000_000);
        assert!(parse_seconds(".").is_err());
        assert!(parse_seconds("").is_err());
        assert!(parse_seconds("1e30").is_err());
        assert!(parse_seconds("NaN").is_err());
        assert!(parse_seconds("99999999999999999999").is_err());
        for t in [
            0,
            1,
            -1,
            999,
            -999,
            1000,
            -1001,
            i64::MAX,
            i64::MIN,
            1_700_000_000_123,
        ] {
            let mut b = Vec::new();
            write_seconds(&mut b, t);
            let s = std::str::from_utf8(&b).unwrap();
            assert_eq!(parse_seconds(s).unwrap(), t, "{s}");
        }
    }

    #[test]
    fn value_forms() {
        let w = |v: f64| {
            let mut b = Vec::new();
            write_value(&mut b, v);
            String::from_utf8(b).unwrap()
        };
        assert_eq!(w(220.5), "220.5");
        assert_eq!(w(-0.0), "-0");
        assert_eq!(w(1.0), "1");
        assert_eq!(w(1e300), "1e300");
        assert_eq!(w(f64::NEG_INFINITY), "-Inf");
        for v in [
            1e-7,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
            0.1 + 0.2,
            123456789012345680.0,
        ] {
            assert_eq!(parse_value(&w(v)).unwrap().to_bits(), v.to_bits(), "{v}");
        }
    }
}
