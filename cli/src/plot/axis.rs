//! Axis ticks: round numbers for values, round UTC times for the time axis.
//! Times are printed in UTC so a plot reads the same on every machine.

const SEC: i64 = 1000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

/// Ticks at round numbers (1, 2, 2.5 or 5 times a power of ten apart)
/// from at or below `min` to at or above `max`, about `n` of them. The
/// first and last tick bound the axis. A flat series gets a range around
/// its value.
pub fn nice_ticks(min: f64, max: f64, n: usize) -> Vec<f64> {
    let (mut min, mut max) = (min, max);
    if !(min.is_finite() && max.is_finite()) || min > max {
        return vec![0.0, 1.0];
    }
    if min == max {
        let pad = if min == 0.0 { 1.0 } else { min.abs() * 0.1 };
        min -= pad;
        max += pad;
    }
    // The smallest round step giving at most `n` ticks: the tightest cover.
    let n = n.max(2) as f64;
    let mut k = ((max - min) / n).log10().floor() as i32 - 1;
    loop {
        for nice in [1.0, 2.0, 2.5, 5.0] {
            // A tick is m·nice·10^k; dividing by an exact 10^-k (rather
            // than multiplying by an inexact 0.1) gives 0.6, not
            // 0.6000000000000001.
            let at = |m: f64| {
                if k >= 0 {
                    m * nice * 10f64.powi(k)
                } else {
                    m * nice / 10f64.powi(-k)
                }
            };
            let step = at(1.0);
            let lo = (min / step).floor();
            let hi = (max / step).ceil();
            if hi - lo + 1.0 <= n || k > 300 {
                let count = (hi - lo).max(1.0) as i64;
                // + 0.0 turns -0 into 0.
                return (0..=count).map(|i| at(lo + i as f64) + 0.0).collect();
            }
        }
        k += 1;
    }
}

/// Decimals needed to print ticks `step` apart without two looking alike.
pub fn tick_decimals(step: f64) -> usize {
    if step <= 0.0 || !step.is_finite() {
        return 0;
    }
    let k = step.log10().floor();
    let mantissa = step / 10f64.powf(k);
    let mut d = (-k).max(0.0) as usize;
    if k <= 0.0 && (mantissa - 2.5).abs() < 1e-6 {
        d += 1;
    }
    d
}

/// Spacings of time ticks, each a round number on a UTC clock.
const TIME_STEPS: &[i64] = &[
    SEC,
    2 * SEC,
    5 * SEC,
    10 * SEC,
    15 * SEC,
    30 * SEC,
    MIN,
    2 * MIN,
    5 * MIN,
    10 * MIN,
    15 * MIN,
    30 * MIN,
    HOUR,
    2 * HOUR,
    3 * HOUR,
    6 * HOUR,
    12 * HOUR,
    DAY,
    2 * DAY,
    7 * DAY,
    14 * DAY,
    30 * DAY,
    90 * DAY,
    180 * DAY,
    365 * DAY,
];

/// Tick times in `[start, end]`, at most `max_labels` of them, at
/// multiples of a round spacing; returns the spacing too.
pub fn time_ticks(start: i64, end: i64, max_labels: usize) -> (Vec<i64>, i64) {
    let span = (end - start).max(1);
    let max_labels = max_labels.max(1) as i64;
    let step = TIME_STEPS
        .iter()
        .copied()
        .find(|&s| span / s < max_labels)
        .unwrap_or(365 * DAY);
    let first = start.div_euclid(step) * step + if start.rem_euclid(step) == 0 { 0 } else { step };
    let ticks = std::iter::successors(Some(first), |t| Some(t + step))
        .take_while(|&t| t <= end)
        .collect();
    (ticks, step)
}

/// Width in characters of the labels [`time_label`] prints for a span.
pub fn time_label_width(span_ms: i64) -> usize {
    if span_ms < DAY {
        5
    } else {
        11
    }
}

/// A time tick's label, in UTC: `HH:MM` when the plot spans less than a
/// day, `MM-DD` when ticks are a day or more apart, else `MM-DD HH:MM`.
pub fn time_label(t: i64, span_ms: i64, step_ms: i64) -> String {
    let full = crate::cmd::stats::fmt_time(t); // YYYY-MM-DDTHH:MM:SSZ
    let tail = full.len().saturating_sub(15);
    let mmdd = full.get(tail..tail + 5).unwrap_or("");
    let hhmm = full.get(tail + 6..tail + 11).unwrap_or("");
    if span_ms < DAY {
        hhmm.to_string()
    } else if step_ms >= DAY {
        mmdd.to_string()
    } else {
        format!("{mmdd} {hhmm}")
    }
}

/// `YYYY-MM-DD HH:MM` in UTC, for titles.
pub fn utc_minutes(t: i64) -> String {
    let full = crate::cmd::stats::fmt_time(t);
    let cut = full.len().saturating_sub(4);
    full.get(..cut).unwrap_or(&full).replacen('T', " ", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_tick_table() {
        let cases: &[(f64, f64, usize, &[f64])] = &[
            (0.0, 100.0, 5, &[0.0, 25.0, 50.0, 75.0, 100.0]),
            (183.2, 251.7, 5, &[180.0, 200.0, 220.0, 240.0, 260.0]),
            (0.0, 1.0, 6, &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
            (0.1, 0.3, 3, &[0.1, 0.2, 0.3]),
            (-3.0, 7.0, 3, &[-10.0, 0.0, 10.0]),
            (-3.0, 7.0, 4, &[-5.0, 0.0, 5.0, 10.0]),
            (0.0, 60.0, 5, &[0.0, 20.0, 40.0, 60.0]),
            (61.2, 61.2, 3, &[50.0, 60.0, 70.0]),
            (0.0, 0.0, 3, &[-1.0, 0.0, 1.0]),
        ];
        for &(lo, hi, n, want) in cases {
            assert_eq!(nice_ticks(lo, hi, n), want, "{lo}..{hi} in {n}");
        }
    }

    #[test]
    fn decimals_follow_the_step() {
        for (step, want) in [
            (100.0, 0),
            (25.0, 0),
            (2.5, 1),
            (1.0, 0),
            (0.5, 1),
            (0.25, 2),
            (0.02, 2),
        ] {
            assert_eq!(tick_decimals(step), want, "{step}");
        }
    }

    #[test]
    fn time_ticks_are_round_utc_times() {
        // 2023-11-14T22:13:20Z, 6 hours.
        let start = 1_700_000_000_000;
        let (ticks, step) = time_ticks(start, start + 6 * HOUR, 8);
        assert_eq!(step, HOUR);
        let labels: Vec<String> = ticks
            .iter()
            .map(|&t| time_label(t, 6 * HOUR, step))
            .collect();
        assert_eq!(
            labels,
            ["23:00", "00:00", "01:00", "02:00", "03:00", "04:00"]
        );

        let (ticks, step) = time_ticks(start, start + 3 * DAY, 4);
        assert_eq!(step, DAY);
        let labels: Vec<String> = ticks
            .iter()
            .map(|&t| time_label(t, 3 * DAY, step))
            .collect();
        assert_eq!(labels, ["11-15", "11-16", "11-17"]);

        let (ticks, step) = time_ticks(start, start + 2 * DAY, 6);
        assert_eq!(step, 12 * HOUR);
        assert_eq!(time_label(ticks[0], 2 * DAY, step), "11-15 00:00");
        assert_eq!(utc_minutes(start), "2023-11-14 22:13");
    }
}
