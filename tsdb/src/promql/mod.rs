//! PromQL over the store, with the semantics of Prometheus 2.42.
//!
//! Queries are parsed by the `promql-parser` crate, lowered to a small
//! internal plan that rejects, by name, anything Prometheus 2.42
//! would not evaluate (newer functions, native histograms, fill modifiers),
//! and evaluated the way Prometheus' engine does it: every expression is
//! evaluated over all steps of the query at once, and an instant query is a
//! range query of one step. The evaluator sees storage only through
//! [`Queryable`], so the script tests run on an in-memory store.
//!
//! Semantics taken from the Prometheus 2.42 source (`promql/engine.go`,
//! `functions.go`, `quantile.go`):
//! - an instant selector takes, per step `t`, the newest sample in the
//!   closed interval `[t - lookback, t]` (2.x is closed on the left; 3.0
//!   made it open), unless that sample is a stale marker;
//! - a range selector `[r]` takes the samples in the closed interval
//!   `[t - r, t]`, stale markers dropped;
//! - `offset` shifts both back, `@` pins them to an absolute time
//!   (`start()`/`end()` are the query's start and end);
//! - a subquery without a step uses [`QueryOptions::subquery_step_ms`]
//!   (Prometheus: the global evaluation interval, 1m by default), and its
//!   steps are aligned to multiples of the step since the epoch.
//!
//! Known differences from Prometheus 2.42:
//! - instant-vector results are sorted by labels (Prometheus leaves them in
//!   evaluation order), except under an outermost `sort`, `sort_desc`,
//!   `topk` or `bottomk`, whose order is Prometheus' own;
//! - `@` is absolute everywhere; Prometheus' engine, in a *range* query,
//!   slides the window of an `@`-pinned subquery passed straight to a
//!   time-dependent function (`predict_linear(x[1h:] @ t, ...)`);
//! - [`QueryOptions::max_points`] bounds the total, not the peak;
//! - only float samples exist in this store, so the native-histogram
//!   functions (`histogram_count`, `histogram_sum`, `histogram_fraction`)
//!   return nothing, as Prometheus does for float series;
//! - error messages are worded like Prometheus' but not always equal;
//! - the HTTP API's limit of 11,000 steps per range query is not applied.
//!
//! ```
//! use minetsdb::{Db, Labels, Options, Sample};
//! use minetsdb::promql::Value;
//!
//! # fn main() -> minetsdb::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let db = Db::open(dir.path(), Options::default())?;
//! let l = Labels::new("hashes_total", &[("gpu", "0")])?;
//! let batch: Vec<_> = (0..10).map(|i| (l.clone(), Sample::new(i * 15_000, i as f64 * 150.0))).collect();
//! db.append_labeled(&batch)?;
//! let Value::Vector(v) = db.query_instant("rate(hashes_total[1m])", 135_000)? else { panic!() };
//! assert_eq!(v[0].metric.to_string(), r#"{gpu="0"}"#);
//! assert!((v[0].sample.v - 10.0).abs() < 1e-9);
//! # Ok(())
//! # }
//! ```

mod aggregate;
mod binary;
mod eval;
mod functions;
mod limit;
mod plan;
#[cfg(test)]
mod script;
mod selector;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_v2_55;

pub use aggregate::format_float;
pub use functions::civil_from_days;
pub use selector::parse_selector;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::db::{Db, Sample, Series};
use crate::error::{Error, Result};
use crate::labels::{Label, Labels, METRIC_NAME_LABEL};
use crate::matcher::Matcher;

/// What the evaluator needs from storage: the series matching every matcher,
/// with their samples in `[mint, maxt]` (both inclusive) in time order.
///
/// Stale markers (Prometheus' special NaN, bits `0x7ff0000000000002`) must
/// be returned as stored: the evaluator needs them to end a series.
pub trait Queryable {
    /// Series matching all `matchers`, samples with `mint <= t <= maxt`.
    fn select_series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>>;

    /// The database behind this store, when it is one: range aggregates
    /// then read chunk summaries instead of decoding whole chunks.
    #[doc(hidden)]
    fn as_db(&self) -> Option<&Db> {
        None
    }
}

impl Queryable for Db {
    fn select_series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>> {
        let mut v: Vec<Series> = self.select(matchers, mint..=maxt)?.collect::<Result<_>>()?;
        // Prometheus' storage hands series over sorted by label set, and
        // order-sensitive operators (topk/bottomk ties, the first of
        // duplicate series) follow it; ids come in registration order.
        v.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(v)
    }

    fn as_db(&self) -> Option<&Db> {
        Some(self)
    }
}

/// The labels of a query result. Unlike [`Labels`] a result may lack a
/// metric name (`rate(x[1m])` drops it) or have no labels at all (`sum(x)`).
/// Sorted by label name; cheap to clone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Metric(Arc<[Label]>);

impl Metric {
    /// Labels sorted by name, empty values dropped (as in Prometheus).
    pub(crate) fn from_vec(mut v: Vec<Label>) -> Metric {
        v.retain(|l| !l.value.is_empty());
        v.sort();
        v.dedup_by(|a, b| a.name == b.name);
        Metric(v.into())
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .and_then(|i| self.0.get(i))
            .map(|l| l.value.as_str())
    }

    /// All labels, sorted by name (`__name__` included when present).
    pub fn iter(&self) -> impl Iterator<Item = &Label> {
        self.0.iter()
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no labels at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The metric name, if any.
    pub fn name(&self) -> Option<&str> {
        self.get(METRIC_NAME_LABEL)
    }

    pub(crate) fn without_name(&self) -> Metric {
        if self.name().is_none() {
            return self.clone();
        }
        Metric(
            self.0
                .iter()
                .filter(|l| l.name != METRIC_NAME_LABEL)
                .cloned()
                .collect(),
        )
    }

    /// A copy with `name` set to `value` (removed when `value` is empty).
    pub(crate) fn with(&self, name: &str, value: &str) -> Metric {
        let mut v: Vec<Label> = self.0.iter().filter(|l| l.name != name).cloned().collect();
        if !value.is_empty() {
            v.push(Label {
                name: name.to_string(),
                value: value.to_string(),
            });
        }
        Metric::from_vec(v)
    }
}

impl From<&Labels> for Metric {
    fn from(l: &Labels) -> Metric {
        Metric(l.as_slice().into())
    }
}

impl fmt::Display for Metric {
    /// Prometheus' text form, `name{a="1", b="2"}`; `{a="1"}` without a name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name().unwrap_or(""))?;
        let rest: Vec<&Label> = self
            .0
            .iter()
            .filter(|l| l.name != METRIC_NAME_LABEL)
            .collect();
        if rest.is_empty() && self.name().is_some() {
            return Ok(());
        }
        f.write_str("{")?;
        for (i, l) in rest.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={:?}", l.name, l.value)?;
        }
        f.write_str("}")
    }
}

/// One element of an instant vector: a series and its value at the
/// evaluation time (the sample's `t` is the evaluation time, as in
/// Prometheus, not the time of the stored sample).
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSample {
    /// The series' labels.
    pub metric: Metric,
    /// Evaluation time and value.
    pub sample: Sample,
}

/// One series of a range vector or range query result.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixSeries {
    /// The series' labels.
    pub metric: Metric,
    /// Samples in ascending time order.
    pub samples: Vec<Sample>,
}

/// An instant vector.
pub type Vector = Vec<VectorSample>;
/// A range vector, or the result of a range query.
pub type Matrix = Vec<MatrixSeries>;

/// The result of an instant query.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number at the evaluation time.
    Scalar(Sample),
    /// One sample per series. Sorted by labels, except that the order made
    /// by an outermost `sort`, `sort_desc`, `topk` or `bottomk` is kept.
    Vector(Vector),
    /// Samples per series (a range selector or subquery), sorted by labels.
    Matrix(Matrix),
    /// A string literal.
    String {
        /// Evaluation time.
        t: i64,
        /// The string.
        value: String,
    },
}

/// Limits and settings of a query.
#[derive(Debug, Clone)]
pub struct QueryOptions {
    /// How far back an instant selector looks for a sample (Prometheus'
    /// `--query.lookback-delta`, 5 minutes by default).
    pub lookback_ms: i64,
    /// Most points (samples read from storage plus samples produced by each
    /// step of the evaluation, summed over the whole query) before the query
    /// fails. Prometheus bounds its peak instead (`--query.max-samples`);
    /// a total is simpler and only stricter.
    pub max_points: usize,
    /// Wall-clock limit; `None` for none.
    pub timeout: Option<Duration>,
    /// Step of a subquery written without one, like `x[1h:]` (Prometheus
    /// uses its global evaluation interval, 1 minute by default).
    pub subquery_step_ms: i64,
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions {
            lookback_ms: 5 * 60 * 1000,
            max_points: 50_000_000,
            timeout: Some(Duration::from_secs(120)),
            subquery_step_ms: 60_000,
        }
    }
}

pub(crate) fn query_err(msg: impl Into<String>) -> Error {
    Error::Query {
        expr: String::new(),
        msg: msg.into(),
    }
}

/// Fills in the query text on errors raised deep in the evaluator.
fn with_expr(expr: &str, e: Error) -> Error {
    match e {
        Error::Query { expr: x, msg } if x.is_empty() => Error::Query {
            expr: expr.to_string(),
            msg,
        },
        e => e,
    }
}

fn check_options(opts: &QueryOptions) -> Result<()> {
    if opts.lookback_ms <= 0 || opts.subquery_step_ms <= 0 {
        return Err(Error::InvalidArgument(
            "lookback and subquery step must be positive".into(),
        ));
    }
    Ok(())
}

/// Parses and type-checks `expr` without evaluating it: the errors a
/// query would fail with before reading any data (syntax, unsupported
/// constructs, type errors). The HTTP API uses it to tell a bad request
/// (Prometheus' `bad_data`) from a failed evaluation (`execution`).
pub fn check(expr: &str) -> Result<()> {
    plan::parse(expr, 0, 0)
        .map(|_| ())
        .map_err(|e| with_expr(expr, e))
}

/// Evaluates `expr` at time `t` (ms) against any [`Queryable`].
pub fn query_instant<Q: Queryable + ?Sized>(
    q: &Q,
    expr: &str,
    t: i64,
    opts: &QueryOptions,
) -> Result<Value> {
    check_options(opts)?;
    let run = || -> Result<Value> {
        let node = plan::parse(expr, t, t)?;
        instant_plan(q, &node, t, opts)
    };
    run().map_err(|e| with_expr(expr, e))
}

/// Evaluates `expr` at `start`, `start + step`, ... up to `end` (ms), as
/// Prometheus' `/api/v1/query_range` does (no alignment of `start`). The
/// expression must be a scalar or an instant vector. Series sorted by labels.
pub fn query_range<Q: Queryable + ?Sized>(
    q: &Q,
    expr: &str,
    start: i64,
    end: i64,
    step_ms: i64,
    opts: &QueryOptions,
) -> Result<Matrix> {
    check_options(opts)?;
    if step_ms <= 0 {
        return Err(Error::InvalidArgument(format!(
            "query step must be positive, got {step_ms} ms"
        )));
    }
    if end < start {
        return Err(Error::InvalidArgument(format!(
            "query end {end} is before start {start}"
        )));
    }
    let run = || -> Result<Matrix> {
        let node = plan::parse(expr, start, end)?;
        range_plan(q, &node, start, end, step_ms, opts)
    };
    run().map_err(|e| with_expr(expr, e))
}

pub(crate) fn instant_plan<Q: Queryable + ?Sized>(
    q: &Q,
    node: &plan::Node,
    t: i64,
    opts: &QueryOptions,
) -> Result<Value> {
    eval::Evaluator::new(q, t, t, 1, opts).instant(node)
}

pub(crate) fn range_plan<Q: Queryable + ?Sized>(
    q: &Q,
    node: &plan::Node,
    start: i64,
    end: i64,
    step_ms: i64,
    opts: &QueryOptions,
) -> Result<Matrix> {
    eval::Evaluator::new(q, start, end, step_ms, opts).range(node)
}

impl Db {
    /// Evaluates the PromQL `expr` at time `t` (ms since the epoch) with
    /// default [`QueryOptions`].
    pub fn query_instant(&self, expr: &str, t: i64) -> Result<Value> {
        query_instant(self, expr, t, &QueryOptions::default())
    }

    /// [`Db::query_instant`] with explicit options.
    pub fn query_instant_with(&self, expr: &str, t: i64, opts: &QueryOptions) -> Result<Value> {
        query_instant(self, expr, t, opts)
    }

    /// Evaluates the PromQL `expr` at every step from `start` to `end`
    /// (ms) with default [`QueryOptions`].
    pub fn query_range(&self, expr: &str, start: i64, end: i64, step_ms: i64) -> Result<Matrix> {
        query_range(self, expr, start, end, step_ms, &QueryOptions::default())
    }

    /// [`Db::query_range`] with explicit options.
    pub fn query_range_with(
        &self,
        expr: &str,
        start: i64,
        end: i64,
        step_ms: i64,
        opts: &QueryOptions,
    ) -> Result<Matrix> {
        query_range(self, expr, start, end, step_ms, opts)
    }
}

/// Deadline check shared by the evaluator's loops.
pub(crate) fn past(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() > d)
}
