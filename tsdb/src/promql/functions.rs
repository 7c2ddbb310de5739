//! PromQL functions, as Prometheus 2.42's `promql/functions.go` defines
//! them, and three experimental ones of later releases (`sort_by_label`,
//! `sort_by_label_desc`, `mad_over_time`, Prometheus 2.49-2.55). Range-vector functions see one series' samples in one window;
//! the others see one step's instant vectors.

use std::cmp::Ordering;

use regex::Regex;

use super::eval::El;
use super::plan::{absent_labels, Node, Ty};
use super::{query_err, Metric};
use crate::db::Sample;
use crate::error::Result;
use crate::labels::Label;

macro_rules! funcs {
    ($($v:ident => $name:literal,)*) => {
        /// Every function of Prometheus 2.42, and a few later ones (the
        /// rest are refused by name).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Func { $($v,)* }
        impl Func {
            pub fn from_name(n: &str) -> Option<Func> {
                match n { $($name => Some(Func::$v),)* _ => None }
            }
            pub fn name(self) -> &'static str {
                match self { $(Func::$v => $name,)* }
            }
        }
        #[cfg(test)]
        pub(crate) const ALL_NAMES: &[&str] = &[$($name,)*];
        impl Func {
        }
    };
}

funcs! {
    Abs => "abs", Absent => "absent", AbsentOverTime => "absent_over_time",
    Acos => "acos", Acosh => "acosh", Asin => "asin", Asinh => "asinh",
    Atan => "atan", Atanh => "atanh", AvgOverTime => "avg_over_time",
    Ceil => "ceil", Changes => "changes", Clamp => "clamp", ClampMax => "clamp_max",
    ClampMin => "clamp_min", Cos => "cos", Cosh => "cosh",
    CountOverTime => "count_over_time", DaysInMonth => "days_in_month",
    DayOfMonth => "day_of_month", DayOfWeek => "day_of_week", DayOfYear => "day_of_year",
    Deg => "deg", Delta => "delta", Deriv => "deriv", Exp => "exp", Floor => "floor",
    HistogramCount => "histogram_count", HistogramFraction => "histogram_fraction",
    HistogramQuantile => "histogram_quantile", HistogramSum => "histogram_sum",
    HoltWinters => "holt_winters", Hour => "hour", Idelta => "idelta",
    Increase => "increase", Irate => "irate", LabelReplace => "label_replace",
    LabelJoin => "label_join", Ln => "ln", Log10 => "log10", Log2 => "log2",
    LastOverTime => "last_over_time", MaxOverTime => "max_over_time",
    MinOverTime => "min_over_time", Minute => "minute", Month => "month", Pi => "pi",
    PredictLinear => "predict_linear", PresentOverTime => "present_over_time",
    QuantileOverTime => "quantile_over_time", Rad => "rad", Rate => "rate",
    Resets => "resets", Round => "round", Scalar => "scalar", Sgn => "sgn",
    Sin => "sin", Sinh => "sinh", Sort => "sort", SortDesc => "sort_desc",
    Sqrt => "sqrt", StddevOverTime => "stddev_over_time",
    StdvarOverTime => "stdvar_over_time", SumOverTime => "sum_over_time",
    Tan => "tan", Tanh => "tanh", Time => "time", Timestamp => "timestamp",
    Vector => "vector", Year => "year",
    SortByLabel => "sort_by_label", SortByLabelDesc => "sort_by_label_desc",
    MadOverTime => "mad_over_time",
}

impl Func {
    pub fn return_type(self) -> Ty {
        match self {
            Func::Time | Func::Pi | Func::Scalar => Ty::Scalar,
            _ => Ty::Vector,
        }
    }

    /// Index of the range-vector argument, for functions that take one.
    pub fn matrix_arg(self) -> Option<usize> {
        use Func::*;
        match self {
            Rate | Irate | Increase | Delta | Idelta | Deriv | PredictLinear | Resets | Changes
            | AvgOverTime | MinOverTime | MaxOverTime | SumOverTime | CountOverTime
            | LastOverTime | PresentOverTime | StddevOverTime | StdvarOverTime | AbsentOverTime
            | HoltWinters | MadOverTime => Some(0),
            QuantileOverTime => Some(1),
            _ => None,
        }
    }

    /// The parser has checked arity and types against its own table; this
    /// guards the evaluator's assumptions about where the range vector is.
    pub fn check_args(self, args: &[Node]) -> Result<()> {
        if let Some(i) = self.matrix_arg() {
            if args.get(i).map(Node::ty) != Some(Ty::Matrix) {
                return Err(query_err(format!(
                    "expected type range vector in call to function {:?}",
                    self.name()
                )));
            }
        }
        Ok(())
    }
}

/// Per-query state a function needs, built once before the steps run.
pub(crate) enum Prepared {
    None,
    LabelReplace {
        dst: String,
        repl: String,
        src: String,
        re: Regex,
    },
    LabelJoin {
        dst: String,
        sep: String,
        srcs: Vec<String>,
    },
    Absent(Metric),
    /// The labels `sort_by_label(_desc)` sorts by, in order.
    SortLabels(Vec<String>),
}

fn str_arg(args: &[Node], i: usize) -> Result<String> {
    match args.get(i) {
        Some(Node::Str(s)) => Ok(s.clone()),
        _ => Err(query_err(format!(
            "expected a string literal as argument {}",
            i + 1
        ))),
    }
}

/// Prometheus' `model.LabelNameRE`: `^[a-zA-Z_][a-zA-Z0-9_]*$`.
pub(crate) fn valid_label_name(n: &str) -> bool {
    !n.is_empty()
        && n.bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_alphabetic() || b == b'_' || (i > 0 && b.is_ascii_digit()))
}

pub(crate) fn prepare(func: Func, args: &[Node]) -> Result<Prepared> {
    Ok(match func {
        Func::LabelReplace => {
            let dst = str_arg(args, 1)?;
            let re_src = str_arg(args, 4)?;
            // 2.42 anchors with `^(?:...)$` and no `s` flag: `.` does not
            // match a newline here.
            let re = Regex::new(&format!("^(?:{re_src})$")).map_err(|_| {
                query_err(format!(
                    "invalid regular expression in label_replace(): {re_src}"
                ))
            })?;
            if !valid_label_name(&dst) {
                return Err(query_err(format!(
                    "invalid destination label name in label_replace(): {dst}"
                )));
            }
            Prepared::LabelReplace {
                dst,
                repl: str_arg(args, 2)?,
                src: str_arg(args, 3)?,
                re,
            }
        }
        Func::LabelJoin => {
            let dst = str_arg(args, 1)?;
            let mut srcs = Vec::new();
            for i in 3..args.len() {
                let s = str_arg(args, i)?;
                if !valid_label_name(&s) {
                    return Err(query_err(format!(
                        "invalid source label name in label_join(): {s}"
                    )));
                }
                srcs.push(s);
            }
            if !valid_label_name(&dst) {
                return Err(query_err(format!(
                    "invalid destination label name in label_join(): {dst}"
                )));
            }
            Prepared::LabelJoin {
                dst,
                sep: str_arg(args, 2)?,
                srcs,
            }
        }
        Func::Absent | Func::AbsentOverTime => {
            let labels = args.first().map(absent_labels).unwrap_or_default();
            Prepared::Absent(Metric::from_vec(
                labels
                    .into_iter()
                    .map(|(name, value)| Label { name, value })
                    .collect(),
            ))
        }
        Func::SortByLabel | Func::SortByLabelDesc => Prepared::SortLabels(
            (1..args.len())
                .map(|i| str_arg(args, i))
                .collect::<Result<_>>()?,
        ),
        _ => Prepared::None,
    })
}

/// Kahan-Babuska summation step, as Prometheus' `kahanSumInc`.
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// A range-vector function over the samples of one series in the window
/// `[start, end]` (ms); `range` is the selector's range (ms), `ts` the step,
/// `params` the values of the other (scalar) arguments at this step.
/// `None` means no output for this series at this step.
pub(crate) fn call_range(
    func: Func,
    pts: &[Sample],
    start: i64,
    end: i64,
    range: i64,
    ts: i64,
    params: &[f64],
) -> Result<Option<f64>> {
    let (Some(first), Some(last)) = (pts.first(), pts.last()) else {
        return Ok(None);
    };
    let p0 = params.first().copied().unwrap_or(f64::NAN);
    Ok(match func {
        Func::Rate => extrapolated_rate(pts, start, end, range, true, true),
        Func::Increase => extrapolated_rate(pts, start, end, range, true, false),
        Func::Delta => extrapolated_rate(pts, start, end, range, false, false),
        Func::Irate => instant_value(pts, true),
        Func::Idelta => instant_value(pts, false),
        Func::Deriv => {
            if pts.len() < 2 {
                None
            } else {
                Some(linear_regression(pts, first.t).0)
            }
        }
        Func::PredictLinear => {
            if pts.len() < 2 {
                None
            } else {
                let (slope, intercept) = linear_regression(pts, ts);
                Some(slope * p0 + intercept)
            }
        }
        Func::Resets => Some(pts.windows(2).filter(|w| w[1].v < w[0].v).count() as f64),
        Func::Changes => Some(
            pts.windows(2)
                .filter(|w| w[1].v != w[0].v && !(w[1].v.is_nan() && w[0].v.is_nan()))
                .count() as f64,
        ),
        Func::AvgOverTime => Some(avg_over_time(pts)),
        Func::CountOverTime => Some(pts.len() as f64),
        Func::LastOverTime => Some(last.v),
        Func::PresentOverTime | Func::AbsentOverTime => Some(1.0),
        Func::MaxOverTime => {
            Some(
                pts.iter()
                    .fold(first.v, |m, p| if p.v > m || m.is_nan() { p.v } else { m }),
            )
        }
        Func::MinOverTime => {
            Some(
                pts.iter()
                    .fold(first.v, |m, p| if p.v < m || m.is_nan() { p.v } else { m }),
            )
        }
        Func::SumOverTime => {
            let (mut sum, mut c) = (0.0, 0.0);
            for p in pts {
                (sum, c) = kahan_inc(p.v, sum, c);
            }
            Some(if sum.is_infinite() { sum } else { sum + c })
        }
        Func::QuantileOverTime => {
            let mut vals: Vec<f64> = pts.iter().map(|p| p.v).collect();
            Some(quantile(p0, &mut vals))
        }
        Func::MadOverTime => {
            // Median absolute deviation from the median (2.55's
            // funcMadOverTime).
            let mut vals: Vec<f64> = pts.iter().map(|p| p.v).collect();
            let median = quantile(0.5, &mut vals);
            let mut dev: Vec<f64> = pts.iter().map(|p| (p.v - median).abs()).collect();
            Some(quantile(0.5, &mut dev))
        }
        Func::StddevOverTime => Some(variance_over_time(pts).sqrt()),
        Func::StdvarOverTime => Some(variance_over_time(pts)),
        Func::HoltWinters => holt_winters(pts, p0, params.get(1).copied().unwrap_or(f64::NAN))?,
        other => {
            return Err(query_err(format!(
                "function {:?} does not take a range vector",
                other.name()
            )))
        }
    })
}

/// Prometheus' `extrapolatedRate`: the increase between the first and last
/// sample (counter resets added back for counters), extrapolated towards
/// the window's edges by at most half an average sample interval (or up to
/// the edge when the gap is under 1.1 intervals), and for counters never
/// below zero at the start.
fn extrapolated_rate(
    pts: &[Sample],
    start: i64,
    end: i64,
    range: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if pts.len() < 2 {
        return None;
    }
    let first = pts.first()?;
    let last = pts.last()?;
    let mut result = last.v - first.v;
    if is_counter {
        let mut prev = first.v;
        for p in pts.iter().skip(1) {
            if p.v < prev {
                result += prev;
            }
            prev = p.v;
        }
    }
    extrapolate(
        *first,
        *last,
        pts.len(),
        result,
        start,
        end,
        range,
        is_counter,
        is_rate,
    )
}

/// The extrapolation half of `extrapolatedRate`, given the window's first
/// and last sample, how many samples it holds, and its (reset-corrected)
/// difference.
#[allow(clippy::too_many_arguments)]
pub(crate) fn extrapolate(
    first: Sample,
    last: Sample,
    n: usize,
    result: f64,
    start: i64,
    end: i64,
    range: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if n < 2 {
        return None;
    }
    let mut to_start = (first.t - start) as f64 / 1000.0;
    let to_end = (end - last.t) as f64 / 1000.0;
    let sampled = (last.t - first.t) as f64 / 1000.0;
    let avg_between = sampled / (n - 1) as f64;
    if is_counter && result > 0.0 && first.v >= 0.0 {
        // A counter cannot go below zero: stop extrapolating where it would.
        let to_zero = sampled * (first.v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = avg_between * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold {
        to_start
    } else {
        avg_between / 2.0
    };
    interval += if to_end < threshold {
        to_end
    } else {
        avg_between / 2.0
    };
    let mut factor = interval / sampled;
    if is_rate {
        factor /= range as f64 / 1000.0;
    }
    Some(result * factor)
}

/// A window's aggregate built from samples and whole-chunk summaries, in
/// time order: what `*_over_time` (avg, min, max, sum, count) and
/// `rate`/`increase`/`delta` need, without decoding chunks that lie wholly
/// inside the window.
#[derive(Debug, Default)]
pub(crate) struct WindowFold {
    pub(crate) count: usize,
    sum: f64,
    sum_c: f64,
    min: f64,
    max: f64,
    first: Option<Sample>,
    last: Option<Sample>,
    /// Counter reset corrections: the value before each drop.
    resets: f64,
    /// A bucket without its resets (a gauge's) was added: rate and
    /// increase cannot be answered.
    pub(crate) missing_resets: bool,
}

impl WindowFold {
    pub(crate) fn add_samples(&mut self, pts: &[Sample]) {
        for p in pts {
            self.step(*p);
            (self.sum, self.sum_c) = kahan_inc(p.v, self.sum, self.sum_c);
            self.count += 1;
        }
    }

    fn step(&mut self, p: Sample) {
        match self.last {
            None => {
                self.first = Some(p);
                self.min = p.v;
                self.max = p.v;
            }
            Some(prev) => {
                if p.v < prev.v {
                    self.resets += prev.v;
                }
                if p.v > self.max || self.max.is_nan() {
                    self.max = p.v;
                }
                if p.v < self.min || self.min.is_nan() {
                    self.min = p.v;
                }
            }
        }
        self.last = Some(p);
    }

    /// Adds a whole chunk by its summary (the caller uses only summaries
    /// with a finite sum, so they hold no NaN, infinity or stale marker).
    pub(crate) fn add_summary(&mut self, s: &crate::chunk::ChunkSummary) {
        self.add_run(s, s.increase - (s.last - s.first));
    }

    /// Adds a downsampled bucket; unlike a chunk summary it may hold NaN
    /// (it cannot be decoded instead), so its resets come stored apart.
    pub(crate) fn add_bucket(&mut self, b: &crate::downsample::Bucket) {
        if b.resets.is_nan() {
            self.missing_resets = true;
        }
        self.add_run(&b.s, b.resets);
    }

    fn add_run(&mut self, s: &crate::chunk::ChunkSummary, resets: f64) {
        self.step(Sample::new(s.first_t, s.first));
        if s.count > 1 {
            self.resets += resets;
            if s.max > self.max || self.max.is_nan() {
                self.max = s.max;
            }
            if s.min < self.min || self.min.is_nan() {
                self.min = s.min;
            }
            self.last = Some(Sample::new(s.last_t, s.last));
        }
        (self.sum, self.sum_c) = kahan_inc(s.sum, self.sum, self.sum_c);
        self.count += s.count as usize;
    }

    pub(crate) fn finish(&self, func: Func, start: i64, end: i64, range: i64) -> Option<f64> {
        let (first, last) = (self.first?, self.last?);
        let sum = if self.sum.is_infinite() {
            self.sum
        } else {
            self.sum + self.sum_c
        };
        Some(match func {
            Func::CountOverTime => self.count as f64,
            Func::SumOverTime => sum,
            Func::AvgOverTime => sum / self.count as f64,
            Func::MinOverTime => self.min,
            Func::MaxOverTime => self.max,
            Func::Rate | Func::Increase => {
                let result = last.v - first.v + self.resets;
                return extrapolate(
                    first,
                    last,
                    self.count,
                    result,
                    start,
                    end,
                    range,
                    true,
                    func == Func::Rate,
                );
            }
            Func::Delta => {
                return extrapolate(
                    first,
                    last,
                    self.count,
                    last.v - first.v,
                    start,
                    end,
                    range,
                    false,
                    false,
                )
            }
            _ => return None,
        })
    }

    /// The value columns of sub-summary buckets that `func`'s answer
    /// reads (first, last, min, max, sum, resets): a fold of buckets
    /// decoded with only these gives the same answer, since `finish` for
    /// `func` reads nothing that the others feed. Sums are always
    /// needed: a bucket with a non-finite sum is decoded instead.
    pub(crate) fn bucket_fields(func: Func) -> crate::downsample::Fields {
        let (first, last, min, max, resets) = match func {
            Func::CountOverTime | Func::SumOverTime | Func::AvgOverTime => {
                (false, false, false, false, false)
            }
            // A bucket's first value is its extreme when it has only one.
            Func::MinOverTime => (true, false, true, false, false),
            Func::MaxOverTime => (true, false, false, true, false),
            Func::Rate | Func::Increase | Func::Delta => (true, true, false, false, true),
            _ => return crate::downsample::Fields::ALL,
        };
        crate::downsample::Fields([first, last, min, max, true, resets])
    }

    /// Functions this fold can answer.
    pub(crate) fn supports(func: Func) -> bool {
        matches!(
            func,
            Func::CountOverTime
                | Func::SumOverTime
                | Func::AvgOverTime
                | Func::MinOverTime
                | Func::MaxOverTime
                | Func::Rate
                | Func::Increase
                | Func::Delta
        )
    }
}

fn instant_value(pts: &[Sample], is_rate: bool) -> Option<f64> {
    if pts.len() < 2 {
        return None;
    }
    let last = pts.last()?;
    let prev = pts.get(pts.len() - 2)?;
    let mut v = if is_rate && last.v < prev.v {
        last.v
    } else {
        last.v - prev.v
    };
    let dt = last.t - prev.t;
    if dt == 0 {
        return None;
    }
    if is_rate {
        v /= dt as f64 / 1000.0;
    }
    Some(v)
}

/// Least-squares fit with x in seconds relative to `intercept_t`.
fn linear_regression(pts: &[Sample], intercept_t: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sxy, mut cxy, mut sx2, mut cx2) = (0.0, 0.0, 0.0, 0.0);
    let init_y = pts.first().map(|p| p.v).unwrap_or(f64::NAN);
    let mut const_y = true;
    for (i, p) in pts.iter().enumerate() {
        if const_y && i > 0 && p.v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (p.t - intercept_t) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(p.v, sy, cy);
        (sxy, cxy) = kahan_inc(x * p.v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

fn avg_over_time(pts: &[Sample]) -> f64 {
    let (mut mean, mut count, mut c) = (0.0f64, 0.0, 0.0);
    for p in pts {
        count += 1.0;
        if mean.is_infinite() {
            // Once infinite, the mean stays so unless an opposite infinity
            // or a NaN arrives (Prometheus' handling, kept for equal output).
            if p.v.is_infinite() && (mean > 0.0) == (p.v > 0.0) {
                continue;
            }
            if !p.v.is_infinite() && !p.v.is_nan() {
                continue;
            }
        }
        (mean, c) = kahan_inc(p.v / count - mean / count, mean, c);
    }
    if mean.is_infinite() {
        mean
    } else {
        mean + c
    }
}

fn variance_over_time(pts: &[Sample]) -> f64 {
    let (mut count, mut mean, mut cmean, mut aux, mut caux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for p in pts {
        count += 1.0;
        let delta = p.v - (mean + cmean);
        (mean, cmean) = kahan_inc(delta / count, mean, cmean);
        (aux, caux) = kahan_inc(delta * (p.v - (mean + cmean)), aux, caux);
    }
    (aux + caux) / count
}

fn holt_winters(pts: &[Sample], sf: f64, tf: f64) -> Result<Option<f64>> {
    // Inverted comparisons so that NaN factors are refused too.
    if !(sf > 0.0 && sf < 1.0) {
        return Err(query_err(format!(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf}"
        )));
    }
    if !(tf > 0.0 && tf < 1.0) {
        return Err(query_err(format!(
            "invalid trend factor. Expected: 0 < tf < 1, got: {tf}"
        )));
    }
    let (Some(p0), Some(p1)) = (pts.first(), pts.get(1)) else {
        return Ok(None);
    };
    let (mut s0, mut s1, mut b) = (0.0, p0.v, p1.v - p0.v);
    for (i, p) in pts.iter().enumerate().skip(1) {
        let x = sf * p.v;
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    Ok(Some(s1))
}

/// Total order with NaN below everything, as Prometheus'
/// `vectorByValueHeap` sorts (its `Less` puts NaN first).
pub(crate) fn nan_first(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
    }
}

/// Ascending, NaN last: the order of `sort()` and of `bottomk`'s output
/// (Prometheus sorts by its reversed "NaN first, descending" heap order).
pub(crate) fn asc_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
    }
}

/// Descending, NaN last: the order of `sort_desc()` and of `topk`'s output.
pub(crate) fn desc_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => b.partial_cmp(&a).unwrap_or(std::cmp::Ordering::Equal),
    }
}

/// `sort_by_label`'s order: the given labels' values in natural order,
/// then the whole label sets (Prometheus 2.55's `funcSortByLabel`).
fn by_labels(names: &[String], a: &Metric, b: &Metric) -> Ordering {
    for n in names {
        let (x, y) = (a.get(n).unwrap_or(""), b.get(n).unwrap_or(""));
        match natural_cmp(x, y) {
            Ordering::Equal => {}
            o => return o,
        }
    }
    a.cmp(b)
}

/// Natural order, as the `facette/natsort` Prometheus pins: strings split
/// into runs of ASCII digits and runs of other bytes, compared run by run;
/// digit runs as numbers, other runs bytewise, a digit run against another
/// run by its first byte; a string whose runs are a prefix of the other's
/// first. Unlike the Go code this is a total order, as a sort needs: digit
/// runs of any length compare as numbers (Go falls back to comparing
/// strings past 19 digits), `"01"` and `"1"` are told apart bytewise, and
/// the missing label `""` sorts first (the Go code indexes out of range).
fn natural_cmp(a: &str, b: &str) -> Ordering {
    fn runs(s: &str) -> impl Iterator<Item = &[u8]> {
        s.as_bytes()
            .chunk_by(|x, y| x.is_ascii_digit() == y.is_ascii_digit())
    }
    fn run_cmp(x: &[u8], y: &[u8]) -> Ordering {
        let digits = |r: &[u8]| r.first().is_some_and(u8::is_ascii_digit);
        match (digits(x), digits(y)) {
            (true, true) => {
                let strip = |r: &'_ [u8]| -> usize { r.iter().take_while(|&&c| c == b'0').count() };
                let (x, y) = (&x[strip(x)..], &y[strip(y)..]);
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            (false, false) => x.cmp(y),
            // Digits are contiguous bytes, so any digit compares alike.
            (true, false) => b"0"[..].cmp(y),
            (false, true) => x.cmp(&b"0"[..]),
        }
    }
    let mut ra = runs(a);
    let mut rb = runs(b);
    loop {
        match (ra.next(), rb.next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => match run_cmp(x, y) {
                Ordering::Equal => {}
                o => return o,
            },
        }
    }
}

/// Prometheus' `quantile`: linear interpolation between closest ranks.
pub(crate) fn quantile(q: f64, vals: &mut [f64]) -> f64 {
    if vals.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    vals.sort_by(|a, b| nan_first(*a, *b));
    let n = vals.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    let at = |i: f64| vals.get(i as usize).copied().unwrap_or(f64::NAN);
    at(lower) * (1.0 - weight) + at(upper) * weight
}

/// Prometheus' `bucketQuantile` over (upper bound, cumulative count) pairs.
pub(crate) fn bucket_quantile(q: f64, mut buckets: Vec<(f64, f64)>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| nan_first(a.0, b.0));
    match buckets.last() {
        Some(b) if b.0 == f64::INFINITY => {}
        _ => return f64::NAN,
    }
    // Coalesce equal bounds, then force counts to be monotonic.
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for b in buckets {
        match merged.last_mut() {
            Some(last) if last.0 == b.0 => last.1 += b.1,
            _ => merged.push(b),
        }
    }
    let mut max = merged.first().map(|b| b.1).unwrap_or(0.0);
    for b in merged.iter_mut().skip(1) {
        if b.1 > max {
            max = b.1;
        } else if b.1 < max {
            b.1 = max;
        }
    }
    if merged.len() < 2 {
        return f64::NAN;
    }
    let observations = merged.last().map(|b| b.1).unwrap_or(0.0);
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let n = merged.len();
    let b = merged[..n - 1].partition_point(|x| x.1 < rank);
    if b == n - 1 {
        return merged.get(n - 2).map(|x| x.0).unwrap_or(f64::NAN);
    }
    let (bound, mut count) = merged.get(b).copied().unwrap_or((f64::NAN, f64::NAN));
    if b == 0 && bound <= 0.0 {
        return bound;
    }
    let mut bucket_start = 0.0;
    if b > 0 {
        if let Some(prev) = merged.get(b - 1) {
            bucket_start = prev.0;
            count -= prev.1;
            rank -= prev.1;
        }
    }
    bucket_start + (bound - bucket_start) * (rank / count)
}

/// Go's `math.Max`: NaN if either is NaN.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Go's `math.Min`: NaN if either is NaN.
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

fn simple(f: fn(f64) -> f64, v: Vec<El>) -> Vec<El> {
    v.into_iter()
        .map(|e| El {
            metric: e.metric.without_name(),
            v: f(e.v),
        })
        .collect()
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31), proleptic
/// Gregorian (Howard Hinnant's `civil_from_days`): what PromQL's date
/// functions use, and what the crates above format UTC times with.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn date_part(func: Func, secs: i64) -> f64 {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    const CUM: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let v = match func {
        Func::DayOfMonth => d,
        Func::DayOfWeek => (days + 4).rem_euclid(7),
        Func::DayOfYear => {
            CUM.get((m - 1) as usize).copied().unwrap_or(0) + d + i64::from(m > 2 && is_leap(y))
        }
        Func::DaysInMonth => match m {
            2 if is_leap(y) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        },
        Func::Hour => sod / 3600,
        Func::Minute => sod % 3600 / 60,
        Func::Month => m,
        _ => y,
    };
    v as f64
}

fn scalar_of(args: &[Vec<El>], i: usize) -> f64 {
    args.get(i)
        .and_then(|v| v.first())
        .map(|e| e.v)
        .unwrap_or(f64::NAN)
}

/// An instant-vector or scalar function at step `ts`. `args` holds one
/// vector per argument (a scalar argument is a one-element vector; string
/// arguments are empty and read from `prep`).
pub(crate) fn call_instant(
    func: Func,
    ts: i64,
    args: Vec<Vec<El>>,
    prep: &Prepared,
) -> Result<Vec<El>> {
    use Func::*;
    let nargs = args.len();
    let mut it = args.into_iter();
    let first = it.next().unwrap_or_default();
    let rest: Vec<Vec<El>> = it.collect();
    // Scalar argument i (1-based position after the first).
    let arg = |i: usize| scalar_of(&rest, i - 1);
    let empty = |m: Metric| vec![El { metric: m, v: 1.0 }];
    Ok(match func {
        Abs => simple(f64::abs, first),
        Ceil => simple(f64::ceil, first),
        Floor => simple(f64::floor, first),
        Exp => simple(f64::exp, first),
        Sqrt => simple(f64::sqrt, first),
        Ln => simple(f64::ln, first),
        Log2 => simple(f64::log2, first),
        Log10 => simple(f64::log10, first),
        Sin => simple(f64::sin, first),
        Cos => simple(f64::cos, first),
        Tan => simple(f64::tan, first),
        Asin => simple(f64::asin, first),
        Acos => simple(f64::acos, first),
        Atan => simple(f64::atan, first),
        Sinh => simple(f64::sinh, first),
        Cosh => simple(f64::cosh, first),
        Tanh => simple(f64::tanh, first),
        Asinh => simple(f64::asinh, first),
        Acosh => simple(f64::acosh, first),
        Atanh => simple(f64::atanh, first),
        Deg => simple(f64::to_degrees, first),
        Rad => simple(f64::to_radians, first),
        Sgn => simple(
            |v| {
                if v < 0.0 {
                    -1.0
                } else if v > 0.0 {
                    1.0
                } else {
                    v
                }
            },
            first,
        ),
        Pi => vec![El {
            metric: Metric::default(),
            v: std::f64::consts::PI,
        }],
        Time => vec![El {
            metric: Metric::default(),
            v: ts as f64 / 1000.0,
        }],
        Round => {
            let to = if nargs < 2 { 1.0 } else { arg(1) };
            let inv = 1.0 / to;
            first
                .into_iter()
                .map(|e| El {
                    metric: e.metric.without_name(),
                    v: (e.v * inv + 0.5).floor() / inv,
                })
                .collect()
        }
        Clamp => {
            let (min, max) = (arg(1), arg(2));
            if max < min {
                Vec::new()
            } else {
                first
                    .into_iter()
                    .map(|e| El {
                        metric: e.metric.without_name(),
                        v: go_max(min, go_min(max, e.v)),
                    })
                    .collect()
            }
        }
        ClampMax => {
            let max = arg(1);
            first
                .into_iter()
                .map(|e| El {
                    metric: e.metric.without_name(),
                    v: go_min(max, e.v),
                })
                .collect()
        }
        ClampMin => {
            let min = arg(1);
            first
                .into_iter()
                .map(|e| El {
                    metric: e.metric.without_name(),
                    v: go_max(min, e.v),
                })
                .collect()
        }
        Scalar => vec![El {
            metric: Metric::default(),
            v: if first.len() == 1 {
                first.first().map(|e| e.v).unwrap_or(f64::NAN)
            } else {
                f64::NAN
            },
        }],
        Vector => vec![El {
            metric: Metric::default(),
            v: first.first().map(|e| e.v).unwrap_or(f64::NAN),
        }],
        Sort => {
            let mut v = first;
            v.sort_by(|a, b| asc_nan_last(a.v, b.v));
            v
        }
        SortDesc => {
            let mut v = first;
            v.sort_by(|a, b| desc_nan_last(a.v, b.v));
            v
        }
        SortByLabel | SortByLabelDesc => match prep {
            Prepared::SortLabels(names) => {
                let desc = func == SortByLabelDesc;
                let mut v = first;
                v.sort_by(|a, b| {
                    let ord = by_labels(names, &a.metric, &b.metric);
                    if desc {
                        ord.reverse()
                    } else {
                        ord
                    }
                });
                v
            }
            _ => return Err(query_err("sort_by_label: arguments not prepared")),
        },
        Absent => match prep {
            Prepared::Absent(m) if first.is_empty() => empty(m.clone()),
            _ => Vec::new(),
        },
        DayOfMonth | DayOfWeek | DayOfYear | DaysInMonth | Hour | Minute | Month | Year => {
            if nargs == 0 {
                vec![El {
                    metric: Metric::default(),
                    v: date_part(func, ts.div_euclid(1000)),
                }]
            } else {
                first
                    .into_iter()
                    .map(|e| El {
                        metric: e.metric.without_name(),
                        // Go's int64(float64) truncates toward zero.
                        v: date_part(func, e.v as i64),
                    })
                    .collect()
            }
        }
        // Only native histograms have these; float series give nothing.
        HistogramCount | HistogramSum | HistogramFraction => Vec::new(),
        HistogramQuantile => {
            let q = first.first().map(|e| e.v).unwrap_or(f64::NAN);
            histogram_quantile(q, rest.into_iter().next().unwrap_or_default())
        }
        LabelReplace => match prep {
            Prepared::LabelReplace { dst, repl, src, re } => first
                .into_iter()
                .map(|e| {
                    let sv = e.metric.get(src).unwrap_or("");
                    let metric = match re.captures(sv) {
                        Some(caps) => {
                            let mut out = String::new();
                            caps.expand(repl, &mut out);
                            e.metric.with(dst, &out)
                        }
                        None => e.metric.clone(),
                    };
                    El { metric, v: e.v }
                })
                .collect(),
            _ => return Err(query_err("label_replace: arguments not prepared")),
        },
        LabelJoin => match prep {
            Prepared::LabelJoin { dst, sep, srcs } => first
                .into_iter()
                .map(|e| {
                    let vals: Vec<&str> =
                        srcs.iter().map(|s| e.metric.get(s).unwrap_or("")).collect();
                    let joined = vals.join(sep);
                    El {
                        metric: e.metric.with(dst, &joined),
                        v: e.v,
                    }
                })
                .collect(),
            _ => return Err(query_err("label_join: arguments not prepared")),
        },
        Timestamp => {
            return Err(query_err("timestamp: evaluated by the evaluator"));
        }
        other => {
            return Err(query_err(format!(
                "function {:?} needs a range vector",
                other.name()
            )))
        }
    })
}

fn histogram_quantile(q: f64, vec: Vec<El>) -> Vec<El> {
    // Buckets are grouped by all labels but `le` (the name included, so two
    // metrics with otherwise equal labels collide in the output, as in
    // Prometheus); the output drops the name.
    let mut groups: Vec<(Metric, Vec<(f64, f64)>)> = Vec::new();
    let mut index: std::collections::HashMap<Metric, usize> = std::collections::HashMap::new();
    for e in vec {
        let Some(le) = e.metric.get("le") else {
            continue;
        };
        let Ok(bound) = parse_go_float(le) else {
            continue;
        };
        let key = e.metric.with("le", "");
        let i = *index.entry(key.clone()).or_insert_with(|| {
            groups.push((key.without_name(), Vec::new()));
            groups.len() - 1
        });
        if let Some(g) = groups.get_mut(i) {
            g.1.push((bound, e.v));
        }
    }
    groups
        .into_iter()
        .map(|(metric, b)| El {
            metric,
            v: bucket_quantile(q, b),
        })
        .collect()
}

/// Parses a float as Go's `strconv.ParseFloat` does for bucket bounds
/// (`+Inf`, `Inf`, `NaN` and plain decimals).
pub(crate) fn parse_go_float(s: &str) -> std::result::Result<f64, ()> {
    let t = s.trim_start_matches('+');
    match t.to_ascii_lowercase().as_str() {
        "inf" | "infinity" => Ok(if s.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }),
        _ => t.parse::<f64>().map_err(|_| ()),
    }
}

#[cfg(test)]
#[path = "bucket_fields_tests.rs"]
mod bucket_fields_tests;

#[cfg(test)]
mod natural_order_tests {
    use super::natural_cmp;
    use std::cmp::Ordering::*;

    /// Cases of facette/natsort's order that `sort_by_label` relies on,
    /// and the total-order repairs (`""`, leading zeros, long numbers).
    #[test]
    fn natural_order() {
        for (a, b, want) in [
            ("2", "10", Less),
            ("4m5", "4m600", Less),
            ("4m1000", "4m600", Greater),
            ("1.2.3", "1.11.3", Less),
            ("1.111.3", "1.11.3", Greater),
            ("abc", "abd", Less),
            ("a", "a1", Less),
            ("a1", "a", Greater),
            ("1a", "a", Less),
            ("!", "1", Less),
            ("", "a", Less),
            ("a", "", Greater),
            ("01", "1", Less),
            ("1", "1", Equal),
            ("99999999999999999999", "100000000000000000000", Less),
            ("5", "100000000000000000000", Less),
        ] {
            assert_eq!(natural_cmp(a, b), want, "{a:?} vs {b:?}");
            assert_eq!(natural_cmp(b, a), want.reverse(), "{b:?} vs {a:?}");
        }
    }
}
