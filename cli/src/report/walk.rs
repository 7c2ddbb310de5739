//! Walking the raw samples of one series: counter increases with resets,
//! integrals over time, time covered. Every report figure is one of these
//! over samples read with `Db::select`.
//!
//! Why raw samples and not PromQL `increase()`: `increase` extrapolates to
//! the window's edges and cannot say which hour an increase fell in, which
//! a time-of-use tariff needs; a sum over consecutive sample pairs is exact
//! on the stored data, can be checked by hand, and costs one pass.
//!
//! Conventions, shared by every function here:
//! - only pairs of consecutive samples inside the period count, so a
//!   figure does not depend on data outside it (at one-minute scrapes this
//!   leaves out under a minute at each end);
//! - a pair further apart than `max_gap_ms` is a gap: the card was not
//!   scraped, so it is not up and its power is not integrated over the
//!   gap. A counter still counts across a gap (it kept running), so
//!   counter increases include it.

use minetsdb::Sample;

/// Consecutive pairs `(t0, v0, t1, v1)` of finite samples.
fn pairs(s: &[Sample]) -> impl Iterator<Item = (i64, f64, i64, f64)> + '_ {
    let mut prev: Option<Sample> = None;
    s.iter().filter(|x| x.v.is_finite()).filter_map(move |x| {
        let p = prev.replace(*x)?;
        Some((p.t, p.v, x.t, x.v))
    })
}

/// Increase of a counter, Prometheus' reset rule: a value below the one
/// before means the counter restarted from zero, so the increase of that
/// pair is the new value itself. `each(t0, t1, increase)` sees every pair.
pub fn counter_increase(s: &[Sample], mut each: impl FnMut(i64, i64, f64)) -> f64 {
    let mut total = 0.0;
    for (t0, v0, t1, v1) in pairs(s) {
        let d = if v1 >= v0 { v1 - v0 } else { v1 };
        each(t0, t1, d);
        total += d;
    }
    total
}

/// Integral over time, in value·seconds, trapezoid rule between samples
/// at most `max_gap_ms` apart. `each(t0, t1, part)` sees every counted pair.
pub fn integrate(s: &[Sample], max_gap_ms: i64, mut each: impl FnMut(i64, i64, f64)) -> f64 {
    let mut total = 0.0;
    for (t0, v0, t1, v1) in pairs(s) {
        if t1 - t0 > max_gap_ms {
            continue;
        }
        let part = (v0 + v1) / 2.0 * (t1 - t0) as f64 / 1000.0;
        each(t0, t1, part);
        total += part;
    }
    total
}

/// Milliseconds covered by pairs at most `max_gap_ms` apart for which
/// `keep(v0, v1)` holds; `each(t0, t1)` sees every covered pair.
pub fn covered_ms(
    s: &[Sample],
    max_gap_ms: i64,
    keep: impl Fn(f64, f64) -> bool,
    mut each: impl FnMut(i64, i64),
) -> i64 {
    let mut total = 0;
    for (t0, v0, t1, v1) in pairs(s) {
        if t1 - t0 <= max_gap_ms && keep(v0, v1) {
            each(t0, t1);
            total += t1 - t0;
        }
    }
    total
}

/// The largest step between samples that still counts as one scrape
/// interval: twice the median step (the scrape interval), so one missed
/// scrape is a gap but jitter is not. 0 with fewer than two samples.
pub fn max_gap_ms(s: &[Sample]) -> i64 {
    let mut steps: Vec<i64> = s.windows(2).map(|w| w[1].t - w[0].t).collect();
    if steps.is_empty() {
        return 0;
    }
    let mid = steps.len() / 2;
    let (_, m, _) = steps.select_nth_unstable(mid);
    *m * 2
}

/// Mean and maximum of the finite values.
pub fn mean_max(s: &[Sample]) -> Option<(f64, f64)> {
    let (mut n, mut sum, mut max) = (0u64, 0.0, f64::NEG_INFINITY);
    for x in s.iter().filter(|x| x.v.is_finite()) {
        n += 1;
        sum += x.v;
        max = max.max(x.v);
    }
    (n > 0).then(|| (sum / n as f64, max))
}

/// The value of a step function at `t`: the last sample at or before it.
/// Lookups must come in non-decreasing `t`; each costs amortised O(1).
pub struct StepAt<'a> {
    s: &'a [Sample],
    i: usize,
}

impl<'a> StepAt<'a> {
    pub fn new(s: &'a [Sample]) -> StepAt<'a> {
        StepAt { s, i: 0 }
    }

    pub fn at(&mut self, t: i64) -> Option<f64> {
        while self.s.get(self.i + 1).is_some_and(|x| x.t <= t) {
            self.i += 1;
        }
        self.s.get(self.i).filter(|x| x.t <= t).map(|x| x.v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[(i64, f64)]) -> Vec<Sample> {
        v.iter().map(|&(t, v)| Sample::new(t, v)).collect()
    }

    #[test]
    fn counter_resets_count_the_new_value() {
        // 10 -> 15 (+5), reset to 3 (+3), 3 -> 7 (+4) = 12.
        let c = s(&[(0, 10.0), (60, 15.0), (120, 3.0), (180, 7.0)]);
        let mut parts = Vec::new();
        assert_eq!(counter_increase(&c, |a, b, d| parts.push((a, b, d))), 12.0);
        assert_eq!(parts, vec![(0, 60, 5.0), (60, 120, 3.0), (120, 180, 4.0)]);
    }

    #[test]
    fn integrate_skips_gaps_and_nan() {
        // 100 W then 200 W over 60 s: 9000 J; the 600 s gap is not counted;
        // 0 -> 100 W over 60 s: 3000 J.
        let p = s(&[
            (0, 100.0),
            (60_000, 200.0),
            (660_000, 0.0),
            (720_000, 100.0),
        ]);
        assert_eq!(integrate(&p, 120_000, |_, _, _| {}), 12_000.0);
        assert_eq!(covered_ms(&p, 120_000, |_, _| true, |_, _| {}), 120_000);
        assert_eq!(
            covered_ms(&p, 120_000, |a, b| a > 0.0 && b > 0.0, |_, _| {}),
            60_000
        );
        let nan = s(&[(0, 1.0), (1000, f64::NAN), (2000, 1.0)]);
        assert_eq!(integrate(&nan, 5000, |_, _, _| {}), 2.0);
    }

    #[test]
    fn gap_is_twice_the_median_step() {
        let t = s(&[(0, 0.0), (60_000, 0.0), (121_000, 0.0), (900_000, 0.0)]);
        assert_eq!(max_gap_ms(&t), 122_000);
        assert_eq!(max_gap_ms(&t[..1]), 0);
    }

    #[test]
    fn step_lookup() {
        let l = s(&[(100, 1.0), (200, 2.0)]);
        let mut at = StepAt::new(&l);
        assert_eq!(at.at(50), None);
        assert_eq!(at.at(100), Some(1.0));
        assert_eq!(at.at(199), Some(1.0));
        assert_eq!(at.at(500), Some(2.0));
        assert_eq!(mean_max(&l), Some((1.5, 2.0)));
    }
}
