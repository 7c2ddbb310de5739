//! `[thresholds]`: when a reading is normal, a warning or critical. One set
//! of numbers colours `minetsdb dash` and drives the default alert rules, so
//! what the screen shows red is what pages the miner.
//!
//! ```toml
//! [thresholds]
//! temperature = { warning = 80, critical = 90 }        # GPU core, °C, above
//! memory_temperature = { warning = 100, critical = 110 } # memory junction, °C, above
//! fan = { warning = 0.85, critical = 0.95 }            # fan speed ratio, above
//! power = { warning = 0.98, critical = 1.05 }          # draw / enforced limit, above
//! hashrate = { warning = 0.90, critical = 0.50 }       # hashrate / its 1 h average, below
//! bad_shares = { warning = 0.02, critical = 0.05 }     # (stale + rejected + invalid) / all, last hour, above
//! no_share = { warning = "20m", critical = "1h" }      # time since the last accepted share, above
//! target_down = { warning = "5m", critical = "15m" }   # time a target has been down, above
//! unpaid_flat = { warning = "3h", critical = "12h" }   # time the pool's unpaid balance has not grown, above
//! ```
//!
//! Every key is optional and every value has the default shown. A warning
//! must come before its critical: below it for the "above" readings, above
//! it for hashrate, where less is worse.

use serde::Deserialize;
use toml::Spanned;

use super::ConfigError;
use crate::duration::parse_ms;

/// How bad a reading is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Nothing to see.
    Normal,
    /// Worth a look.
    Warning,
    /// Act now.
    Critical,
}

impl Severity {
    /// `normal`, `warning` or `critical`: the `severity` label of alerts.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Normal => "normal",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// Which side of a [`Level`] is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Higher is worse (temperature).
    Above,
    /// Lower is worse (hashrate against its average).
    Below,
}

/// A warning and a critical bound on one reading. Durations are in ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// Where warning starts (inclusive).
    pub warning: f64,
    /// Where critical starts (inclusive).
    pub critical: f64,
    /// Which side is bad.
    pub direction: Direction,
}

impl Level {
    const fn above(warning: f64, critical: f64) -> Level {
        Level {
            warning,
            critical,
            direction: Direction::Above,
        }
    }

    const fn below(warning: f64, critical: f64) -> Level {
        Level {
            warning,
            critical,
            direction: Direction::Below,
        }
    }

    /// The severity of `value`; NaN (no reading) is normal, since a missing
    /// reading is reported by its own rule, not as a hot card.
    pub fn grade(&self, value: f64) -> Severity {
        let past = |bound: f64| match self.direction {
            Direction::Above => value >= bound,
            Direction::Below => value <= bound,
        };
        if value.is_nan() {
            Severity::Normal
        } else if past(self.critical) {
            Severity::Critical
        } else if past(self.warning) {
            Severity::Warning
        } else {
            Severity::Normal
        }
    }

    /// The bound for `severity` (`Normal` has none).
    pub fn bound(&self, severity: Severity) -> Option<f64> {
        match severity {
            Severity::Normal => None,
            Severity::Warning => Some(self.warning),
            Severity::Critical => Some(self.critical),
        }
    }

    /// The PromQL comparison operator that selects bad values: `>=` or `<=`.
    pub fn operator(&self) -> &'static str {
        match self.direction {
            Direction::Above => ">=",
            Direction::Below => "<=",
        }
    }
}

// Every bound is checked finite on parsing, so equality is total.
impl Eq for Level {}

/// The `[thresholds]` table, with defaults for what it leaves out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thresholds {
    /// GPU core temperature, °C (`nvidia_smi_temperature_gpu`, `amdgpu_temperature_celsius`).
    pub temperature: Level,
    /// Memory junction temperature, °C (`miner_memory_temperature_celsius`).
    pub memory_temperature: Level,
    /// Fan speed as a ratio of full speed (`nvidia_smi_fan_speed_ratio`).
    pub fan: Level,
    /// Power draw over the enforced power limit.
    pub power: Level,
    /// Hashrate over its own 1-hour average (below is bad).
    pub hashrate: Level,
    /// Stale, rejected and invalid shares over all shares in the last hour.
    pub bad_shares: Level,
    /// Time since the last accepted share, ms.
    pub no_share: Level,
    /// Time a scrape target has been down, ms.
    pub target_down: Level,
    /// Time the pool's unpaid balance has not grown, ms.
    pub unpaid_flat: Level,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            temperature: Level::above(80.0, 90.0),
            memory_temperature: Level::above(100.0, 110.0),
            fan: Level::above(0.85, 0.95),
            power: Level::above(0.98, 1.05),
            hashrate: Level::below(0.90, 0.50),
            bad_shares: Level::above(0.02, 0.05),
            no_share: Level::above(20.0 * 60_000.0, 3_600_000.0),
            target_down: Level::above(5.0 * 60_000.0, 15.0 * 60_000.0),
            unpaid_flat: Level::above(3.0 * 3_600_000.0, 12.0 * 3_600_000.0),
        }
    }
}

/// A bound as written: a number, or a duration string for the time keys.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawBound {
    Number(f64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLevel {
    warning: Option<Spanned<RawBound>>,
    critical: Option<Spanned<RawBound>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawThresholds {
    temperature: Option<Spanned<RawLevel>>,
    memory_temperature: Option<Spanned<RawLevel>>,
    fan: Option<Spanned<RawLevel>>,
    power: Option<Spanned<RawLevel>>,
    hashrate: Option<Spanned<RawLevel>>,
    bad_shares: Option<Spanned<RawLevel>>,
    no_share: Option<Spanned<RawLevel>>,
    target_down: Option<Spanned<RawLevel>>,
    unpaid_flat: Option<Spanned<RawLevel>>,
}

pub(super) type Invalid<'a> = &'a dyn Fn(Option<std::ops::Range<usize>>, String) -> ConfigError;

/// Checks `[thresholds]` and fills in defaults.
pub(super) fn parse(
    raw: Option<RawThresholds>,
    invalid: Invalid<'_>,
) -> Result<Thresholds, ConfigError> {
    let mut t = Thresholds::default();
    let Some(raw) = raw else {
        return Ok(t);
    };
    let entries = [
        ("temperature", raw.temperature, &mut t.temperature, false),
        (
            "memory_temperature",
            raw.memory_temperature,
            &mut t.memory_temperature,
            false,
        ),
        ("fan", raw.fan, &mut t.fan, false),
        ("power", raw.power, &mut t.power, false),
        ("hashrate", raw.hashrate, &mut t.hashrate, false),
        ("bad_shares", raw.bad_shares, &mut t.bad_shares, false),
        ("no_share", raw.no_share, &mut t.no_share, true),
        ("target_down", raw.target_down, &mut t.target_down, true),
        ("unpaid_flat", raw.unpaid_flat, &mut t.unpaid_flat, true),
    ];
    for (key, raw, level, is_time) in entries {
        let Some(raw) = raw else { continue };
        let span = raw.span();
        let raw = raw.into_inner();
        let bound =
            |b: &Option<Spanned<RawBound>>, which: &str| -> Result<Option<f64>, ConfigError> {
                let Some(b) = b else { return Ok(None) };
                let name = format!("thresholds.{key}.{which}");
                let v = match (b.get_ref(), is_time) {
                    (RawBound::Number(n), false) => *n,
                    (RawBound::Text(s), true) => parse_ms(s)
                        .map_err(|e| invalid(Some(b.span()), format!("{name}: {e}")))?
                        as f64,
                    (RawBound::Number(_), true) => {
                        return Err(invalid(
                            Some(b.span()),
                            format!("{name}: expected a duration such as \"20m\""),
                        ))
                    }
                    (RawBound::Text(_), false) => {
                        return Err(invalid(
                            Some(b.span()),
                            format!("{name}: expected a number"),
                        ))
                    }
                };
                if !v.is_finite() || v < 0.0 {
                    return Err(invalid(
                        Some(b.span()),
                        format!("{name}: must be a finite number not below 0"),
                    ));
                }
                Ok(Some(v))
            };
        if let Some(w) = bound(&raw.warning, "warning")? {
            level.warning = w;
        }
        if let Some(c) = bound(&raw.critical, "critical")? {
            level.critical = c;
        }
        let ordered = match level.direction {
            Direction::Above => level.warning <= level.critical,
            Direction::Below => level.warning >= level.critical,
        };
        if !ordered {
            let (must, why) = match level.direction {
                Direction::Above => ("not above", "higher is worse"),
                Direction::Below => ("not below", "lower is worse"),
            };
            return Err(invalid(
                Some(span),
                format!(
                    "thresholds.{key}: warning ({}) must be {must} critical ({}): {why}",
                    level.warning, level.critical
                ),
            ));
        }
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades_both_directions_and_nan() {
        let t = Thresholds::default();
        assert_eq!(t.temperature.grade(79.9), Severity::Normal);
        assert_eq!(t.temperature.grade(80.0), Severity::Warning);
        assert_eq!(t.temperature.grade(95.0), Severity::Critical);
        assert_eq!(t.hashrate.grade(0.95), Severity::Normal);
        assert_eq!(t.hashrate.grade(0.9), Severity::Warning);
        assert_eq!(t.hashrate.grade(0.2), Severity::Critical);
        assert_eq!(t.fan.grade(f64::NAN), Severity::Normal);
        assert_eq!(t.hashrate.operator(), "<=");
        assert_eq!(t.temperature.bound(Severity::Critical), Some(90.0));
    }

    #[test]
    fn table_overrides_defaults_and_names_bad_values() {
        use crate::config::Config;
        let p = std::path::Path::new("c.toml");
        let c = Config::parse(
            "[thresholds]\ntemperature = { warning = 75 }\nno_share = { critical = \"2h\" }\nhashrate = { warning = 0.8, critical = 0.6 }\n",
            p,
        )
        .unwrap();
        let t = c.thresholds;
        assert_eq!(
            (t.temperature.warning, t.temperature.critical),
            (75.0, 90.0)
        );
        assert_eq!(t.no_share.critical, 7_200_000.0);
        assert_eq!(t.no_share.warning, 1_200_000.0);
        assert_eq!(t.hashrate.grade(0.7), Severity::Warning);
        assert_eq!(
            Config::parse("", p).unwrap().thresholds,
            Thresholds::default()
        );

        let err = |text: &str| Config::parse(text, p).unwrap_err().to_string();
        let e = err("[thresholds]\ntemperature = { warning = 95, critical = 90 }\n");
        assert!(
            e.starts_with("c.toml:2:")
                && e.contains("warning (95) must be not above critical (90)"),
            "{e}"
        );
        let e = err("[thresholds]\nhashrate = { warning = 0.4 }\n");
        assert!(
            e.contains("thresholds.hashrate") && e.contains("lower is worse"),
            "{e}"
        );
        let e = err("[thresholds]\nno_share = { warning = 20 }\n");
        assert!(
            e.contains("thresholds.no_share.warning: expected a duration"),
            "{e}"
        );
        let e = err("[thresholds]\nfan = { warning = \"hot\" }\n");
        assert!(
            e.contains("thresholds.fan.warning: expected a number"),
            "{e}"
        );
        let e = err("[thresholds]\nfan = { warn = 0.5 }\n");
        assert!(e.contains("warn"), "{e}");
        let e = err("[thresholds]\nvoltage = { warning = 1 }\n");
        assert!(e.contains("voltage"), "{e}");
    }
}
