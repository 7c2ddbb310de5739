//! Energy per hour of the tariff's clock, and its price. A time-of-use
//! tariff prices each hour on its own, so energy is first spread over the
//! hours it was used in (pro rata to time within a sample pair), then each
//! hour is priced; a flat tariff is the special case of one price.

use minetsdb_collectors::config::costs::{Tariff, HOURS_PER_WEEK};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// Joules per hour of the period, hours counted on a clock `offset_ms`
/// from UTC (so a tariff at UTC+05:30 gets its own hour boundaries).
#[derive(Debug, Clone)]
pub struct Hourly {
    offset_ms: i64,
    /// Local hour (since the epoch) of `joules[0]`.
    first: i64,
    joules: Vec<f64>,
}

impl Hourly {
    /// Empty buckets covering `[from, to)`.
    pub fn new(from: i64, to: i64, offset_ms: i64) -> Hourly {
        let first = (from + offset_ms).div_euclid(HOUR_MS);
        let last = (to + offset_ms).div_euclid(HOUR_MS);
        Hourly {
            offset_ms,
            first,
            joules: vec![0.0; (last - first + 1).max(1) as usize],
        }
    }

    /// Adds `joules` used evenly over `[t0, t1]`.
    pub fn add(&mut self, t0: i64, t1: i64, joules: f64) {
        let (a, b) = (t0 + self.offset_ms, t1 + self.offset_ms);
        let (h0, h1) = (a.div_euclid(HOUR_MS), b.div_euclid(HOUR_MS));
        if h0 == h1 || b <= a {
            self.bucket(h0, joules);
            return;
        }
        let span = (b - a) as f64;
        for h in h0..=h1 {
            let lo = a.max(h * HOUR_MS);
            let hi = b.min((h + 1) * HOUR_MS);
            if hi > lo {
                self.bucket(h, joules * (hi - lo) as f64 / span);
            }
        }
    }

    fn bucket(&mut self, h: i64, j: f64) {
        // Pairs lie inside the period, so the index is in range; clamp
        // rather than panic should a caller stray.
        let i = (h - self.first).clamp(0, self.joules.len() as i64 - 1) as usize;
        if let Some(b) = self.joules.get_mut(i) {
            *b += j;
        }
    }

    /// All the joules.
    pub fn total(&self) -> f64 {
        self.joules.iter().sum()
    }

    /// Cost of the joules, each hour at its price, after scaling by `factor`
    /// (1 / PSU efficiency: the tariff bills wall energy).
    pub fn cost(&self, prices: &[Option<f64>; HOURS_PER_WEEK], factor: f64) -> f64 {
        let mut cost = 0.0;
        for (k, j) in self.joules.iter().enumerate() {
            if *j == 0.0 {
                continue;
            }
            let price = prices[hour_of_week(self.first + k as i64)].unwrap_or(0.0);
            cost += j * factor / 3.6e6 * price;
        }
        cost
    }
}

/// Hour of the week, Monday 00:00 = 0, of local hour `h` since the epoch
/// (1970-01-01 was a Thursday).
pub fn hour_of_week(h: i64) -> usize {
    let day = (h * HOUR_MS).div_euclid(DAY_MS);
    let weekday = (day + 3).rem_euclid(7);
    (weekday * 24 + h.rem_euclid(24)) as usize
}

/// The tariff's clock offset, in ms.
pub fn offset_ms(t: Option<&Tariff>) -> i64 {
    t.map_or(0, |t| i64::from(t.utc_offset_minutes) * 60_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekdays() {
        assert_eq!(hour_of_week(0), 3 * 24); // Thursday 1970-01-01 00:00
                                             // 2026-01-05 was a Monday: 20458 days after the epoch.
        assert_eq!(hour_of_week(20_458 * 24 + 17), 17);
        assert_eq!(hour_of_week(20_458 * 24 - 1), 167); // Sunday 23:00
    }

    #[test]
    fn energy_is_split_at_hour_boundaries() {
        let mut h = Hourly::new(0, 2 * HOUR_MS, 0);
        // 3000 J from 00:50 to 01:20: 10 minutes in hour 0, 20 in hour 1.
        h.add(50 * 60_000, 80 * 60_000, 3000.0);
        assert_eq!(h.joules[0], 1000.0);
        assert_eq!(h.joules[1], 2000.0);
        let mut prices = [Some(1.0); HOURS_PER_WEEK];
        prices[hour_of_week(1)] = Some(2.0);
        // 1000 J at 1/kWh + 2000 J at 2/kWh, all / 0.5 efficiency.
        let want = (1000.0 + 2.0 * 2000.0) / 3.6e6 / 0.5;
        assert!((h.cost(&prices, 1.0 / 0.5) - want).abs() < 1e-12);
        // A clock 30 minutes ahead moves the boundary to 00:30 UTC.
        let mut h = Hourly::new(0, 2 * HOUR_MS, 30 * 60_000);
        h.add(50 * 60_000, 80 * 60_000, 3000.0);
        assert_eq!(h.joules, vec![0.0, 3000.0, 0.0]);
    }
}
