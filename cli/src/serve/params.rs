//! Times and durations in HTTP API parameters, parsed as Prometheus 2.42's
//! `web/api/v1/api.go` does (`parseTime`, `parseDuration`), so clients
//! written for it (Grafana, promtool) send nothing we read differently.

/// `time`, `start`, `end`: Unix seconds as a float (`1700000000.123`,
/// `1.7e9`), or RFC 3339 (`2023-11-14T22:13:20.5Z`), or the two strings
/// Go's client sends for "no bound" (Prometheus' `minTime`/`maxTime`).
/// Fractions are rounded to the millisecond, as Prometheus does.
pub fn parse_time(s: &str) -> Result<i64, String> {
    // What Prometheus' `minTimeFormatted`/`maxTimeFormatted` are; Go
    // clients send them (or their float forms, clamped below) for "no
    // bound".
    match s {
        "-292273086-05-16T16:47:06Z" => return Ok(-MAX_ABS_MS),
        "292277025-08-18T07:12:54.999999999Z" => return Ok(MAX_ABS_MS),
        _ => {}
    }
    if let Ok(f) = s.parse::<f64>() {
        // Go's ParseFloat; Rust's also takes "inf" and "NaN", which no
        // timestamp is.
        if !f.is_finite() {
            return Err(format!("cannot parse {s:?} to a valid timestamp"));
        }
        let whole = f
            .trunc()
            .clamp(-(MAX_ABS_MS / 1000) as f64, (MAX_ABS_MS / 1000) as f64);
        let frac = ((f - f.trunc()) * 1000.0).round();
        return Ok(whole as i64 * 1000 + frac as i64);
    }
    crate::time::parse_rfc3339(s).ok_or_else(|| format!("cannot parse {s:?} to a valid timestamp"))
}

/// Times are clamped to +-2^61 ms (73 million years): far beyond any
/// data, and far enough from i64's ends that `end - start` and
/// `t - lookback` cannot overflow.
pub const MAX_ABS_MS: i64 = 1 << 61;

/// `step`, `timeout`: float seconds (`15`, `0.5`) or a Prometheus duration
/// (`1h30m`, `5m`, `100ms`, `1d`, `1w`, `1y`), in milliseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    if let Ok(f) = s.parse::<f64>() {
        let ms = f * 1000.0;
        if !ms.is_finite() || ms.abs() >= 9.2e18 {
            return Err(format!(
                "cannot parse {s:?} to a valid duration. It overflows int64"
            ));
        }
        return Ok(ms.round() as i64);
    }
    prom_duration(s).ok_or_else(|| format!("cannot parse {s:?} to a valid duration"))
}

/// Prometheus' `model.ParseDuration`: one or more `<int><unit>` in
/// decreasing units, y w d h m s ms.
fn prom_duration(s: &str) -> Option<i64> {
    // "ms" before "m", so that "100ms" is not read as 100 minutes.
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("ms", 1),
        ("m", 60_000),
        ("s", 1000),
    ];
    if s.is_empty() {
        return None;
    }
    let mut rest = s;
    let mut total: i64 = 0;
    let mut last_unit = i64::MAX;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        if digits == 0 {
            return None;
        }
        let n: i64 = rest.get(..digits)?.parse().ok()?;
        rest = rest.get(digits..)?;
        let (unit, ms) = UNITS.iter().find(|(u, _)| rest.starts_with(u))?;
        if *ms >= last_unit {
            return None;
        }
        last_unit = *ms;
        rest = rest.get(unit.len()..)?;
        total = total.checked_add(n.checked_mul(*ms)?)?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_as_prometheus_reads_them() {
        assert_eq!(parse_time("1700000000"), Ok(1_700_000_000_000));
        assert_eq!(parse_time("1700000000.1234"), Ok(1_700_000_000_123));
        assert_eq!(parse_time("1.7e9"), Ok(1_700_000_000_000));
        assert_eq!(parse_time("-1.5"), Ok(-1500));
        assert_eq!(parse_time("2023-11-14T22:13:20.5Z"), Ok(1_700_000_000_500));
        assert_eq!(parse_time("-292273086-05-16T16:47:06Z"), Ok(-MAX_ABS_MS));
        assert_eq!(
            parse_time("292277025-08-18T07:12:54.999999999Z"),
            Ok(MAX_ABS_MS)
        );
        // promtool's float form of minTime: clamped, not refused.
        assert_eq!(
            parse_time("-9223309901257974"),
            Ok(-MAX_ABS_MS / 1000 * 1000)
        );
        for bad in ["", "now", "NaN", "inf", "yesterday"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_as_prometheus_reads_them() {
        assert_eq!(parse_duration("15"), Ok(15_000));
        assert_eq!(parse_duration("0.25"), Ok(250));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("5m"), Ok(300_000));
        assert_eq!(parse_duration("100ms"), Ok(100));
        assert_eq!(parse_duration("1d"), Ok(86_400_000));
        assert_eq!(parse_duration("0s"), Ok(0));
        for bad in ["", "m", "1m1h", "1x", "1e400", "5mm"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
