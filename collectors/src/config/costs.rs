//! The money side of `config.toml`, read by `minetsdb report`: what a kWh
//! costs (`[tariff]`), what the rig draws beyond the GPUs' own readings
//! (`[power]`), and what a coin is worth (`[price]`). Kept apart from the
//! scrape settings because `collect` never reads them.
//!
//! ```toml
//! [tariff]
//! currency = "EUR"
//! price_per_kwh = 0.25          # flat, or the price of hours no period covers
//! utc_offset = "+01:00"         # the tariff's clock [default: +00:00]; DST is not followed
//! [[tariff.period]]             # time of use: the first period that covers an hour prices it
//! name = "peak"                 # [default: the hours and days]
//! days = ["mon-fri"]            # names or ranges, mon..sun [default: every day]
//! hours = "17-21"               # whole hours, [17:00, 21:00); "22-06" runs past midnight
//! price_per_kwh = 0.40
//!
//! [power]
//! overhead_watts = 60           # per rig while it is up: CPU, board, fans, risers [default: 0]
//! psu_efficiency = 0.90         # wall watts = (GPU watts + overhead) / efficiency [default: 1]
//!
//! [price]
//! currency = "USD"
//! per_coin = 24.5               # a fixed price, or:
//! series = "coin_price_usd"     # a price series in the db (matched on the pool's `coin`)
//! ```
//!
//! Hours are whole because tariffs are: a price change at 17:30 is not a
//! tariff anyone offers, and whole hours let the report price energy hour
//! by hour. Every hour of the week must have a price: either every hour is
//! covered by a period, or `price_per_kwh` prices the rest.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::ConfigError;

/// Hours in a week: the resolution of a tariff.
pub const HOURS_PER_WEEK: usize = 168;

/// `[tariff]`, `[power]` and `[price]`, each optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Costs {
    /// What a kWh costs; `None`: the report says "no tariff set".
    pub tariff: Option<Tariff>,
    /// Watts beyond the GPUs' readings; `None`: GPU watts only, said so.
    pub power: Option<PowerOverhead>,
    /// What a coin is worth; `None`: the report uses a `coin_price_usd`
    /// series when the db has one, and says so.
    pub price: Option<CoinPrice>,
}

// Every float here is checked finite on parsing, so equality is total.
impl Eq for Costs {}

/// A power tariff: a price per kWh for each hour of the week.
#[derive(Debug, Clone, PartialEq)]
pub struct Tariff {
    /// Currency of the prices, as written (`EUR`, `USD`, `€`).
    pub currency: String,
    /// Price of hours no period covers, per kWh.
    pub default_price: Option<f64>,
    /// Time-of-use periods, in file order; the first that covers an hour wins.
    pub periods: Vec<TariffPeriod>,
    /// Offset of the tariff's clock from UTC, in minutes.
    pub utc_offset_minutes: i32,
}

/// One `[[tariff.period]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct TariffPeriod {
    /// Name shown in the report.
    pub name: String,
    /// Days the period starts on, Monday first.
    pub days: [bool; 7],
    /// First hour, 0..=23.
    pub start_hour: u8,
    /// Hour it ends before, 1..=24; not after `start_hour` means past midnight.
    pub end_hour: u8,
    /// Price per kWh.
    pub price_per_kwh: f64,
}

/// `[power]`: what the GPU readings leave out.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerOverhead {
    /// DC watts of the rest of a rig (CPU, board, fans, risers) while it is up.
    pub overhead_watts: f64,
    /// Fraction of wall power the PSU delivers, (0, 1].
    pub psu_efficiency: f64,
}

/// `[price]`: what a mined coin is worth.
#[derive(Debug, Clone, PartialEq)]
pub struct CoinPrice {
    /// Currency of the price.
    pub currency: String,
    /// Where the price comes from.
    pub source: PriceSource,
}

/// Where a coin's price comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum PriceSource {
    /// One price per coin for the whole period.
    Fixed(f64),
    /// A series in the database, e.g. `coin_price_usd`.
    Series(String),
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Tariff {
    /// A flat tariff.
    pub fn flat(currency: &str, price_per_kwh: f64) -> Tariff {
        Tariff {
            currency: currency.to_string(),
            default_price: Some(price_per_kwh),
            periods: Vec::new(),
            utc_offset_minutes: 0,
        }
    }

    /// Price per kWh of each hour of the week in the tariff's clock,
    /// Monday 00:00 first.
    pub fn hourly_prices(&self) -> [Option<f64>; HOURS_PER_WEEK] {
        let mut out = [None; HOURS_PER_WEEK];
        for p in &self.periods {
            for day in 0..7 {
                if !p.days[day] {
                    continue;
                }
                let len = if p.end_hour > p.start_hour {
                    p.end_hour - p.start_hour
                } else {
                    p.end_hour + 24 - p.start_hour
                };
                for k in 0..usize::from(len) {
                    let h = (day * 24 + usize::from(p.start_hour) + k) % HOURS_PER_WEEK;
                    out[h].get_or_insert(p.price_per_kwh);
                }
            }
        }
        for h in &mut out {
            if h.is_none() {
                *h = self.default_price;
            }
        }
        out
    }

    /// One line for the report's header.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = self.default_price {
            let what = if self.periods.is_empty() {
                "flat"
            } else {
                "otherwise"
            };
            parts.push(format!("{what} {p} {}/kWh", self.currency));
        }
        for p in &self.periods {
            parts.push(format!(
                "{} {} {}/kWh",
                p.name, p.price_per_kwh, self.currency
            ));
        }
        if !self.periods.is_empty() || self.utc_offset_minutes != 0 {
            let m = self.utc_offset_minutes;
            let sign = if m < 0 { '-' } else { '+' };
            parts.push(format!(
                "hours at UTC{sign}{:02}:{:02}",
                m.abs() / 60,
                m.abs() % 60
            ));
        }
        parts.join(", ")
    }
}

impl TariffPeriod {
    /// `mon-fri 17-21`, the default name.
    fn default_name(&self) -> String {
        let mut days = Vec::new();
        let mut d = 0;
        while d < 7 {
            if !self.days[d] {
                d += 1;
                continue;
            }
            let s = d;
            while d + 1 < 7 && self.days[d + 1] {
                d += 1;
            }
            days.push(if s == d {
                DAYS[s].to_string()
            } else {
                format!("{}-{}", DAYS[s], DAYS[d])
            });
            d += 1;
        }
        format!(
            "{} {:02}-{:02}",
            days.join(","),
            self.start_hour,
            self.end_hour
        )
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTariff {
    currency: Spanned<String>,
    price_per_kwh: Option<Spanned<f64>>,
    utc_offset: Option<Spanned<String>>,
    #[serde(default)]
    period: Vec<RawPeriod>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPeriod {
    name: Option<String>,
    days: Option<Spanned<Vec<String>>>,
    hours: Spanned<String>,
    price_per_kwh: Spanned<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPower {
    overhead_watts: Option<Spanned<f64>>,
    psu_efficiency: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPrice {
    currency: Spanned<String>,
    per_coin: Option<Spanned<f64>>,
    series: Option<Spanned<String>>,
}

/// Builds a [`ConfigError::Invalid`] at a span with a message naming the key.
pub(super) type Invalid<'a> = &'a dyn Fn(Option<Range<usize>>, String) -> ConfigError;

/// Checks the three sections; an error about a whole table (an hour with
/// no price) points at the table.
pub(super) fn parse(
    tariff: Option<Spanned<RawTariff>>,
    power: Option<Spanned<RawPower>>,
    price: Option<Spanned<RawPrice>>,
    invalid: Invalid<'_>,
) -> Result<Costs, ConfigError> {
    let price_value = |v: &Spanned<f64>, key: &str| {
        let p = *v.get_ref();
        if p.is_finite() && p >= 0.0 {
            Ok(p)
        } else {
            Err(invalid(
                Some(v.span()),
                format!("{key}: must be a number 0 or more, not {p}"),
            ))
        }
    };
    let currency = |v: &Spanned<String>, key: &str| {
        let c = v.get_ref().trim();
        if c.is_empty() {
            Err(invalid(Some(v.span()), format!("{key}: must not be empty")))
        } else {
            Ok(c.to_string())
        }
    };

    let tariff = match tariff {
        None => None,
        Some(t) => {
            let span = t.span();
            let t = t.into_inner();
            let currency = currency(&t.currency, "tariff.currency")?;
            let default_price = match &t.price_per_kwh {
                Some(p) => Some(price_value(p, "tariff.price_per_kwh")?),
                None => None,
            };
            let utc_offset_minutes = match &t.utc_offset {
                None => 0,
                Some(o) => parse_offset(o.get_ref()).ok_or_else(|| {
                    invalid(
                        Some(o.span()),
                        format!(
                            "tariff.utc_offset: {:?} is not an offset like \"+01:00\" or \"-05:30\"",
                            o.get_ref()
                        ),
                    )
                })?,
            };
            let mut periods = Vec::with_capacity(t.period.len());
            for p in &t.period {
                let (start_hour, end_hour) = parse_hours(p.hours.get_ref()).ok_or_else(|| {
                    invalid(
                        Some(p.hours.span()),
                        format!(
                            "tariff.period.hours: {:?} is not whole hours like \"17-21\" or \"22:00-06:00\"",
                            p.hours.get_ref()
                        ),
                    )
                })?;
                let days = match &p.days {
                    None => [true; 7],
                    Some(d) => parse_days(d.get_ref()).map_err(|bad| {
                        invalid(
                            Some(d.span()),
                            format!(
                                "tariff.period.days: {bad:?} is not a day (mon..sun) or a range (mon-fri)"
                            ),
                        )
                    })?,
                };
                let mut period = TariffPeriod {
                    name: String::new(),
                    days,
                    start_hour,
                    end_hour,
                    price_per_kwh: price_value(&p.price_per_kwh, "tariff.period.price_per_kwh")?,
                };
                period.name = match &p.name {
                    Some(n) if !n.trim().is_empty() => n.trim().to_string(),
                    _ => period.default_name(),
                };
                periods.push(period);
            }
            let tariff = Tariff {
                currency,
                default_price,
                periods,
                utc_offset_minutes,
            };
            if let Some(h) = tariff.hourly_prices().iter().position(Option::is_none) {
                return Err(invalid(
                    Some(span),
                    format!(
                        "tariff: no price for {} {:02}:00 (no period covers it); add tariff.price_per_kwh for the hours periods leave out",
                        DAYS[h / 24],
                        h % 24
                    ),
                ));
            }
            Some(tariff)
        }
    };

    let power = match power {
        None => None,
        Some(p) => {
            let p = p.into_inner();
            let overhead_watts = match &p.overhead_watts {
                None => 0.0,
                Some(w) if w.get_ref().is_finite() && *w.get_ref() >= 0.0 => *w.get_ref(),
                Some(w) => {
                    return Err(invalid(
                        Some(w.span()),
                        format!(
                            "power.overhead_watts: must be 0 or more, not {}",
                            w.get_ref()
                        ),
                    ))
                }
            };
            let psu_efficiency = match &p.psu_efficiency {
                None => 1.0,
                Some(e) if *e.get_ref() > 0.0 && *e.get_ref() <= 1.0 => *e.get_ref(),
                Some(e) => {
                    return Err(invalid(
                        Some(e.span()),
                        format!(
                            "power.psu_efficiency: must be above 0 and at most 1 (0.90 for 90 %), not {}",
                            e.get_ref()
                        ),
                    ))
                }
            };
            Some(PowerOverhead {
                overhead_watts,
                psu_efficiency,
            })
        }
    };

    let price = match price {
        None => None,
        Some(p) => {
            let span = p.span();
            let p = p.into_inner();
            let currency = currency(&p.currency, "price.currency")?;
            let source =
                match (&p.per_coin, &p.series) {
                    (Some(v), None) => PriceSource::Fixed(price_value(v, "price.per_coin")?),
                    (None, Some(s)) => {
                        minetsdb::check_metric_name(s.get_ref())
                            .map_err(|e| invalid(Some(s.span()), format!("price.series: {e}")))?;
                        PriceSource::Series(s.get_ref().clone())
                    }
                    (Some(_), Some(s)) => {
                        return Err(invalid(
                            Some(s.span()),
                            "price: set per_coin or series, not both".into(),
                        ))
                    }
                    (None, None) => return Err(invalid(
                        Some(span),
                        "price: set per_coin (a fixed price) or series (a price series in the db)"
                            .into(),
                    )),
                };
            Some(CoinPrice { currency, source })
        }
    };
    Ok(Costs {
        tariff,
        power,
        price,
    })
}

/// `"+01:00"`, `"-05:30"`, `"Z"` or `"UTC"` in minutes east of UTC.
fn parse_offset(s: &str) -> Option<i32> {
    let s = s.trim();
    if matches!(s, "Z" | "UTC" | "z") {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let h: i32 = digits(h)?;
    let m: i32 = digits(m)?;
    (h <= 14 && m < 60).then_some(sign * (h * 60 + m))
}

fn digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `"17-21"` or `"17:00-21:00"`: whole hours; the end may be 24; an end
/// not after the start runs past midnight; equal ends are refused (a
/// whole day is `"0-24"`).
fn parse_hours(s: &str) -> Option<(u8, u8)> {
    let hour = |x: &str| -> Option<u8> {
        let x = x.trim();
        let h = match x.split_once(':') {
            Some((h, "00")) => h,
            Some(_) => return None,
            None => x,
        };
        digits::<u8>(h).filter(|h| *h <= 24)
    };
    let (a, b) = s.split_once('-')?;
    let (a, b) = (hour(a)?, hour(b)?);
    (a < 24 && b > 0 && a != b).then_some((a, b))
}

/// Day names and ranges (`mon`, `sat-sun`, `fri-mon`); `Err` holds the bad entry.
fn parse_days(list: &[String]) -> Result<[bool; 7], String> {
    let day = |s: &str| DAYS.iter().position(|d| s.trim().eq_ignore_ascii_case(d));
    let mut out = [false; 7];
    if list.is_empty() {
        return Err(String::new());
    }
    for entry in list {
        match entry.split_once('-') {
            Some((a, b)) => {
                let (Some(a), Some(b)) = (day(a), day(b)) else {
                    return Err(entry.clone());
                };
                let mut d = a;
                loop {
                    out[d] = true;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => out[day(entry).ok_or_else(|| entry.clone())?] = true,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_and_days() {
        assert_eq!(parse_hours("17-21"), Some((17, 21)));
        assert_eq!(parse_hours("22:00-06:00"), Some((22, 6)));
        assert_eq!(parse_hours("0-24"), Some((0, 24)));
        for bad in ["17:30-21", "5-5", "24-3", "x-1", "17", "-3-4"] {
            assert_eq!(parse_hours(bad), None, "{bad}");
        }
        let wk = parse_days(&["mon-fri".into()]).unwrap();
        assert_eq!(wk, [true, true, true, true, true, false, false]);
        let wrap = parse_days(&["sat-mon".into(), "wed".into()]).unwrap();
        assert_eq!(wrap, [true, false, true, false, false, true, true]);
        assert_eq!(parse_days(&["moon".into()]), Err("moon".into()));
        assert_eq!(parse_offset("+01:00"), Some(60));
        assert_eq!(parse_offset("-05:30"), Some(-330));
        assert_eq!(parse_offset("UTC"), Some(0));
        assert_eq!(parse_offset("1:00"), None);
    }

    #[test]
    fn hourly_prices_first_period_wins_and_wraps_midnight() {
        let t = Tariff {
            currency: "EUR".into(),
            default_price: Some(0.2),
            periods: vec![
                TariffPeriod {
                    name: "night".into(),
                    days: [false, false, false, false, false, false, true],
                    start_hour: 22,
                    end_hour: 6,
                    price_per_kwh: 0.1,
                },
                TariffPeriod {
                    name: "all day".into(),
                    days: [true; 7],
                    start_hour: 0,
                    end_hour: 24,
                    price_per_kwh: 0.3,
                },
            ],
            utc_offset_minutes: 0,
        };
        let h = t.hourly_prices();
        // Sunday 22:00 to Monday 06:00 is night: it wraps into the next week.
        assert_eq!(h[6 * 24 + 22], Some(0.1));
        assert_eq!(h[5], Some(0.1));
        assert_eq!(h[6], Some(0.3));
        assert_eq!(h[6 * 24 + 21], Some(0.3));
    }

    fn parse(text: &str) -> Result<Costs, String> {
        super::super::Config::parse(text, std::path::Path::new("/etc/minetsdb/config.toml"))
            .map(|c| c.costs)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn full_sections() {
        let c = parse(
            r#"
[tariff]
currency = "EUR"
price_per_kwh = 0.25
utc_offset = "+01:00"
[[tariff.period]]
days = ["mon-fri"]
hours = "17-21"
price_per_kwh = 0.40
[[tariff.period]]
name = "night"
hours = "22:00-06:00"
price_per_kwh = 0.1

[power]
overhead_watts = 60
psu_efficiency = 0.9

[price]
currency = "USD"
series = "coin_price_usd"
"#,
        )
        .unwrap();
        let t = c.tariff.unwrap();
        assert_eq!(t.currency, "EUR");
        assert_eq!(t.default_price, Some(0.25));
        assert_eq!(t.utc_offset_minutes, 60);
        assert_eq!(t.periods.len(), 2);
        assert_eq!(t.periods[0].name, "mon-fri 17-21");
        assert_eq!(t.periods[1].name, "night");
        assert_eq!(t.periods[1].days, [true; 7]);
        let h = t.hourly_prices();
        assert_eq!(h[17], Some(0.40)); // Monday 17:00
        assert_eq!(h[5 * 24 + 17], Some(0.25)); // Saturday 17:00
        assert_eq!(h[5 * 24 + 23], Some(0.1)); // Saturday 23:00
        assert_eq!(h[12], Some(0.25));
        assert_eq!(
            t.describe(),
            "otherwise 0.25 EUR/kWh, mon-fri 17-21 0.4 EUR/kWh, night 0.1 EUR/kWh, hours at UTC+01:00"
        );
        assert_eq!(
            c.power,
            Some(PowerOverhead {
                overhead_watts: 60.0,
                psu_efficiency: 0.9
            })
        );
        let p = c.price.unwrap();
        assert_eq!(p.currency, "USD");
        assert_eq!(p.source, PriceSource::Series("coin_price_usd".into()));
        // None of it is required.
        assert_eq!(parse("").unwrap(), Costs::default());
    }

    #[test]
    fn mistakes_name_place_and_key() {
        let e = parse("[tariff]\ncurrency = \"EUR\"\nprice_per_kwh = -1\n").unwrap_err();
        assert!(e.contains("config.toml:3:17: tariff.price_per_kwh"), "{e}");
        let e = parse("[tariff]\ncurrency = \"EUR\"\nprice = 1\n").unwrap_err();
        assert!(e.contains(":3:1: ") && e.contains("price"), "{e}");
        let e = parse("[tariff]\ncurrency = \"EUR\"\n[[tariff.period]]\nhours = \"17:30-21\"\nprice_per_kwh = 1\n")
            .unwrap_err();
        assert!(e.contains(":4:9: tariff.period.hours"), "{e}");
        let e = parse("[tariff]\ncurrency = \"EUR\"\n[[tariff.period]]\ndays = [\"mon\", \"fry\"]\nhours = \"0-24\"\nprice_per_kwh = 1\n")
            .unwrap_err();
        assert!(e.contains(":4:8: tariff.period.days: \"fry\""), "{e}");
        let e = parse("[tariff]\ncurrency = \"EUR\"\n[[tariff.period]]\ndays = [\"mon\"]\nhours = \"0-24\"\nprice_per_kwh = 1\n")
            .unwrap_err();
        assert!(e.contains(":1:1: tariff: no price for tue 00:00"), "{e}");
        let e = parse("[power]\npsu_efficiency = 90\n").unwrap_err();
        assert!(e.contains(":2:18: power.psu_efficiency"), "{e}");
        let e = parse("[price]\ncurrency = \"USD\"\n").unwrap_err();
        assert!(e.contains(":1:1: price: set per_coin"), "{e}");
        let e = parse("[price]\ncurrency = \"USD\"\nper_coin = 2\nseries = \"p\"\n").unwrap_err();
        assert!(
            e.contains(":4:10: price: set per_coin or series, not both"),
            "{e}"
        );
        let e = parse("[price]\ncurrency = \"USD\"\nseries = \"coin-price\"\n").unwrap_err();
        assert!(e.contains(":3:10: price.series"), "{e}");
        let e = parse("[tariff]\nprice_per_kwh = 1\n").unwrap_err();
        assert!(e.contains("currency"), "{e}");
    }
}
