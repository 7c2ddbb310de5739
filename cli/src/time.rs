//! Times as people type them: RFC 3339 (`2026-11-24T12:00:00Z`,
//! `2026-11-24T13:00:00+01:00`, `2026-11-24`), Unix seconds (`1700000000`,
//! `1700000000.5`), or relative to now (`now`, `-7d`, `now-1h`, `-90m`).

use crate::duration::parse_ms;

/// Milliseconds since the epoch for `s`, relative times against `now_ms`.
pub fn parse_time(s: &str, now_ms: i64) -> Result<i64, String> {
    let s = s.trim();
    if s == "now" {
        return Ok(now_ms);
    }
    let rel = s.strip_prefix("now").unwrap_or(s);
    if let Some(d) = rel.strip_prefix('-') {
        return Ok(now_ms - parse_ms(d)?);
    }
    if let Some(d) = rel.strip_prefix('+') {
        return Ok(now_ms + parse_ms(d)?);
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let secs: f64 = s
            .parse()
            .map_err(|_| format!("time {s:?}: not a number of seconds"))?;
        return Ok((secs * 1000.0).round() as i64);
    }
    parse_rfc3339(s).ok_or_else(|| {
        format!("time {s:?}: expected RFC 3339 (2026-11-24T12:00:00Z), Unix seconds, or relative (now, -7d, now-1h)")
    })
}

fn num(s: &str, range: std::ops::RangeInclusive<i64>) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|v| range.contains(v))
}

/// Days from 1970-01-01 to the civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    let (date, rest) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut dp = date.split('-');
    let y = num(dp.next()?, 0..=9999)?;
    let m = num(dp.next()?, 1..=12)?;
    let d = num(dp.next()?, 1..=31)?;
    if dp.next().is_some() || d > days_in_month(y, m) {
        return None;
    }
    let mut ms = days_from_civil(y, m, d) * 86_400_000;
    let Some(rest) = rest else {
        return Some(ms);
    };
    let (clock, offset_ms) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else {
        let i = rest.rfind(['+', '-'])?;
        let (c, off) = rest.split_at(i);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off[1..].split_once(':')?;
        (
            c,
            sign * (num(oh, 0..=23)? * 3_600_000 + num(om, 0..=59)? * 60_000),
        )
    };
    let (hms, frac) = match clock.split_once('.') {
        Some((a, f)) => (a, Some(f)),
        None => (clock, None),
    };
    let mut tp = hms.split(':');
    let h = num(tp.next()?, 0..=23)?;
    let mi = num(tp.next()?, 0..=59)?;
    let se = num(tp.next()?, 0..=60)?;
    if tp.next().is_some() {
        return None;
    }
    ms += h * 3_600_000 + mi * 60_000 + se * 1000;
    if let Some(f) = frac {
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits: String = f.chars().chain("000".chars()).take(3).collect();
        ms += digits.parse::<i64>().ok()?;
    }
    Some(ms - offset_ms)
}

/// The current time in ms.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn forms() {
        let now = 1_700_000_000_000;
        assert_eq!(parse_time("now", now), Ok(now));
        assert_eq!(parse_time("-7d", now), Ok(now - 7 * 86_400_000));
        assert_eq!(parse_time("now-1h", now), Ok(now - 3_600_000));
        assert_eq!(parse_time("1700000000", now), Ok(1_700_000_000_000));
        assert_eq!(parse_time("1700000000.25", now), Ok(1_700_000_000_250));
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z", now),
            Ok(1_700_000_000_000)
        );
        assert_eq!(
            parse_time("2023-11-14T23:13:20+01:00", now),
            Ok(1_700_000_000_000)
        );
        assert_eq!(
            parse_time("2023-11-14T22:13:20.5Z", now),
            Ok(1_700_000_000_500)
        );
        assert_eq!(parse_time("1970-01-01", now), Ok(0));
        assert_eq!(parse_time("1969-12-31T23:59:59Z", now), Ok(-1000));
        assert_eq!(parse_time("2024-02-29", now), Ok(1_709_164_800_000));
        for bad in [
            "2023-13-01",
            "2023-02-29",
            "2026-04-31",
            "yesterday",
            "2023-11-14T25:00:00Z",
            "-7x",
            "",
        ] {
            assert!(parse_time(bad, now).is_err(), "{bad}");
        }
    }
}
