//! Durations as people write them; the one parser lives in the collectors
//! crate (the config file uses it too).

pub use minetsdb_collectors::duration::parse_ms;

/// `ms` in the largest unit that divides it: `5m`, `1h`, `90d`, `1500ms`.
pub fn format_ms(ms: i64) -> String {
    for (unit, n) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms != 0 && ms % n == 0 {
            return format!("{}{unit}", ms / n);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    #[test]
    fn format_ms_picks_the_largest_unit() {
        assert_eq!(super::format_ms(300_000), "5m");
        assert_eq!(super::format_ms(3_600_000), "1h");
        assert_eq!(super::format_ms(7_776_000_000), "90d");
        assert_eq!(super::format_ms(1500), "1500ms");
    }
}
