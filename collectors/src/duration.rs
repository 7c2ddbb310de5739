//! Durations as people write them: `90d`, `5y`, `12h`, `30m`, `15s`, `250ms`.

/// Parses a duration into milliseconds. A year is 365 days, a week 7.
pub fn parse_ms(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("duration {s:?} needs a unit: ms, s, m, h, d, w or y"))?;
    let (num, unit) = s.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| format!("duration {s:?} must start with a whole number"))?;
    let ms: i64 = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        "y" => 365 * 86_400_000,
        _ => {
            return Err(format!(
                "duration {s:?}: unknown unit {unit:?} (ms, s, m, h, d, w, y)"
            ))
        }
    };
    match n.checked_mul(ms) {
        Some(v) if v > 0 => Ok(v),
        Some(_) => Err(format!("duration {s:?} must be positive")),
        None => Err(format!("duration {s:?} is too long")),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_ms;

    #[test]
    fn units_and_errors() {
        assert_eq!(parse_ms("90d"), Ok(90 * 86_400_000));
        assert_eq!(parse_ms("5y"), Ok(5 * 365 * 86_400_000));
        assert_eq!(parse_ms("250ms"), Ok(250));
        assert!(parse_ms("5").unwrap_err().contains("unit"));
        assert!(parse_ms("5x").unwrap_err().contains("unknown unit"));
        assert!(parse_ms("0d").is_err());
        assert!(parse_ms("d").is_err());
    }
}
