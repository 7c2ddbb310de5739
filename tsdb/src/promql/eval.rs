//! The evaluator: every expression is evaluated over all steps of the
//! query at once into series of points (Prometheus' `rangeEval`), so an
//! instant query is a range query of one step and both share one code path.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

use super::functions::{self, Func};
use super::plan::{AggOp, Node, Selector, Ty};
use super::{
    aggregate, binary, past, query_err, Matrix, MatrixSeries, Metric, QueryOptions, Queryable,
    Value, VectorSample,
};
use crate::db::Sample;
use crate::error::Result;

pub(crate) use crate::is_stale_nan as is_stale;

/// One element of an instant vector during evaluation.
#[derive(Debug, Clone)]
pub(crate) struct El {
    pub metric: Metric,
    pub v: f64,
}

/// One series of evaluated points.
#[derive(Debug, Clone)]
pub(crate) struct Ser {
    pub metric: Metric,
    pub points: Vec<Sample>,
}

pub(crate) type Mat = Vec<Ser>;

pub(crate) struct Evaluator<'a, Q: ?Sized> {
    q: &'a Q,
    start: i64,
    end: i64,
    interval: i64,
    lookback: i64,
    sub_step: i64,
    max_points: usize,
    points: usize,
    deadline: Option<Instant>,
}

impl<'a, Q: Queryable + ?Sized> Evaluator<'a, Q> {
    pub fn new(q: &'a Q, start: i64, end: i64, interval: i64, o: &QueryOptions) -> Self {
        Evaluator {
            q,
            start,
            end,
            interval,
            lookback: o.lookback_ms,
            sub_step: o.subquery_step_ms,
            max_points: o.max_points,
            points: 0,
            deadline: o.timeout.and_then(|d| Instant::now().checked_add(d)),
        }
    }

    /// An evaluator for a subquery's steps, sharing limits and counters.
    fn child(&self, start: i64, end: i64, interval: i64) -> Evaluator<'a, Q> {
        Evaluator {
            q: self.q,
            start,
            end,
            interval,
            lookback: self.lookback,
            sub_step: self.sub_step,
            max_points: self.max_points,
            points: self.points,
            deadline: self.deadline,
        }
    }

    fn count(&mut self, n: usize) -> Result<()> {
        self.points = self.points.saturating_add(n);
        if self.points > self.max_points {
            return Err(query_err(format!(
                "query processing would load too many samples (limit {} points)",
                self.max_points
            )));
        }
        Ok(())
    }

    fn check_deadline(&self) -> Result<()> {
        if past(self.deadline) {
            return Err(query_err("query timed out"));
        }
        Ok(())
    }

    fn steps(&self) -> impl Iterator<Item = i64> {
        let (start, end, interval) = (self.start, self.end, self.interval.max(1));
        std::iter::successors(Some(start), move |&t| t.checked_add(interval))
            .take_while(move |&t| t <= end)
    }

    /// Result of an instant query (start == end).
    pub fn instant(&mut self, node: &Node) -> Result<Value> {
        let t = self.start;
        match node.ty() {
            Ty::String => match node {
                Node::Str(s) => Ok(Value::String {
                    t,
                    value: s.clone(),
                }),
                _ => Err(query_err("string expressions must be literals")),
            },
            Ty::Matrix => {
                let mut mat = self.eval_range_vector(node)?;
                mat.retain(|s| !s.points.is_empty());
                Ok(Value::Matrix(to_matrix(mat)))
            }
            Ty::Scalar => {
                let mat = self.eval(node)?;
                let v = mat
                    .first()
                    .and_then(|s| s.points.first())
                    .map(|p| p.v)
                    .unwrap_or(f64::NAN);
                Ok(Value::Scalar(Sample::new(t, v)))
            }
            Ty::Vector => {
                let mat = self.eval(node)?;
                let mut v: Vec<VectorSample> = mat
                    .into_iter()
                    .filter_map(|s| {
                        s.points.first().map(|p| VectorSample {
                            metric: s.metric,
                            sample: Sample::new(t, p.v),
                        })
                    })
                    .collect();
                if !keeps_order(node) {
                    v.sort_by(|a, b| a.metric.cmp(&b.metric));
                }
                Ok(Value::Vector(v))
            }
        }
    }

    /// Result of a range query.
    pub fn range(&mut self, node: &Node) -> Result<Matrix> {
        let ty = node.ty();
        if !matches!(ty, Ty::Scalar | Ty::Vector) {
            return Err(query_err(format!(
                "invalid expression type {:?} for range query, must be scalar or instant vector",
                ty.name()
            )));
        }
        let mat = self.eval(node)?;
        Ok(to_matrix(mat))
    }

    /// Evaluates a scalar or instant-vector expression at every step.
    pub fn eval(&mut self, node: &Node) -> Result<Mat> {
        self.check_deadline()?;
        match node {
            Node::Num(v) => {
                let v = *v;
                self.range_eval(&[], |_, _| {
                    Ok(vec![El {
                        metric: Metric::default(),
                        v,
                    }])
                })
            }
            Node::Str(_) => Err(query_err("a string is not allowed here")),
            Node::Vector(sel) => self.vector_selector(sel),
            Node::Matrix { .. } | Node::Subquery { .. } => Err(query_err(
                "a range vector is not allowed here (only as a function argument or as the whole query)",
            )),
            Node::Neg(e) => {
                let mut mat = self.eval(e)?;
                for s in &mut mat {
                    s.metric = s.metric.without_name();
                    for p in &mut s.points {
                        p.v = -p.v;
                    }
                }
                check_unique(mat.iter().map(|s| &s.metric))?;
                Ok(mat)
            }
            Node::Binary {
                op,
                lhs,
                rhs,
                matching,
                return_bool,
            } => {
                let (lt, rt) = (lhs.ty(), rhs.ty());
                let l = self.eval(lhs)?;
                let r = self.eval(rhs)?;
                let (op, rb) = (*op, *return_bool);
                match (lt, rt) {
                    (Ty::Scalar, Ty::Scalar) => self.range_eval(&[l, r], |_, v| {
                        let a = scalar(&v, 0);
                        let b = scalar(&v, 1);
                        Ok(vec![El {
                            metric: Metric::default(),
                            v: binary::scalar_binop(op, a, b),
                        }])
                    }),
                    (Ty::Vector, Ty::Vector) => self.range_eval(&[l, r], |_, mut v| {
                        let rv = v.pop().unwrap_or_default();
                        let lv = v.pop().unwrap_or_default();
                        binary::vector_binop(op, matching, rb, lv, rv)
                    }),
                    (Ty::Vector, _) => self.range_eval(&[l, r], |_, mut v| {
                        let s = scalar(&v, 1);
                        let lv = v.swap_remove(0);
                        Ok(binary::vector_scalar(op, lv, s, false, rb))
                    }),
                    _ => self.range_eval(&[l, r], |_, mut v| {
                        let s = scalar(&v, 0);
                        let rv = v.pop().unwrap_or_default();
                        Ok(binary::vector_scalar(op, rv, s, true, rb))
                    }),
                }
            }
            Node::Aggregate {
                op,
                expr,
                param,
                grouping,
                without,
            } => {
                let inner = self.eval(expr)?;
                let op = *op;
                match param.as_deref() {
                    Some(Node::Str(label)) if op == AggOp::CountValues => {
                        self.range_eval(&[inner], |_, mut v| {
                            let vec = v.pop().unwrap_or_default();
                            aggregate::aggregate(
                                op,
                                aggregate::Param::Label(label),
                                grouping,
                                *without,
                                vec,
                            )
                        })
                    }
                    Some(p) => {
                        let pm = self.eval(p)?;
                        self.range_eval(&[pm, inner], |_, mut v| {
                            let vec = v.pop().unwrap_or_default();
                            let k = scalar(&v, 0);
                            aggregate::aggregate(
                                op,
                                aggregate::Param::Num(k),
                                grouping,
                                *without,
                                vec,
                            )
                        })
                    }
                    None if aggregate::Acc::folds(op) => {
                        self.aggregate_range(op, grouping, *without, &inner)
                    }
                    None => self.range_eval(&[inner], |_, mut v| {
                        let vec = v.pop().unwrap_or_default();
                        aggregate::aggregate(op, aggregate::Param::None, grouping, *without, vec)
                    }),
                }
            }
            Node::Call { func, args } => self.call(*func, args),
        }
    }

    fn call(&mut self, func: Func, args: &[Node]) -> Result<Mat> {
        if let Some(i) = func.matrix_arg() {
            return self.range_call(func, args, i);
        }
        if func == Func::Timestamp {
            return self.timestamp(args);
        }
        let prep = functions::prepare(func, args)?;
        let mut mats = Vec::with_capacity(args.len());
        for a in args {
            // String arguments are read from the plan, not evaluated.
            mats.push(if a.ty() == Ty::String {
                Vec::new()
            } else {
                self.eval(a)?
            });
        }
        self.range_eval(&mats, |ts, v| functions::call_instant(func, ts, v, &prep))
    }

    /// `timestamp(x)`: the time of the sample a selector picked; for any
    /// other argument the evaluation time (as Prometheus does).
    fn timestamp(&mut self, args: &[Node]) -> Result<Mat> {
        let Some(arg) = args.first() else {
            return Err(query_err("timestamp() needs an argument"));
        };
        if let Node::Vector(sel) = arg {
            // 2.42 quirk, kept for equal answers: with `@`, timestamp()
            // replaces the selector's offset instead of adding to it, so
            // `timestamp(x @ T offset o)` reads at T.
            let pinned = sel.at.map(|_| Selector {
                offset: 0,
                ..sel.clone()
            });
            let sel = pinned.as_ref().unwrap_or(sel);
            let mut mat = self.select_instant(sel, true)?;
            for s in &mut mat {
                s.metric = s.metric.without_name();
            }
            check_unique(mat.iter().map(|s| &s.metric))?;
            return Ok(mat);
        }
        let m = self.eval(arg)?;
        self.range_eval(&[m], |ts, mut v| {
            Ok(v.pop()
                .unwrap_or_default()
                .into_iter()
                .map(|e| El {
                    metric: e.metric.without_name(),
                    v: ts as f64 / 1000.0,
                })
                .collect())
        })
    }

    /// Calls `f` at every step with the elements each argument has there,
    /// and gathers what it returns into series.
    fn range_eval<F>(&mut self, args: &[Mat], mut f: F) -> Result<Mat>
    where
        F: FnMut(i64, Vec<Vec<El>>) -> Result<Vec<El>>,
    {
        let mut cursors: Vec<Vec<usize>> = args.iter().map(|m| vec![0; m.len()]).collect();
        let mut out: Mat = Vec::new();
        let mut index: HashMap<Metric, usize> = HashMap::new();
        for ts in self.steps() {
            self.check_deadline()?;
            let mut vecs = Vec::with_capacity(args.len());
            for (m, cur) in args.iter().zip(cursors.iter_mut()) {
                let mut v = Vec::new();
                for (s, c) in m.iter().zip(cur.iter_mut()) {
                    while s.points.get(*c).is_some_and(|p| p.t < ts) {
                        *c += 1;
                    }
                    if let Some(p) = s.points.get(*c).filter(|p| p.t == ts) {
                        v.push(El {
                            metric: s.metric.clone(),
                            v: p.v,
                        });
                        *c += 1;
                    }
                }
                vecs.push(v);
            }
            let res = f(ts, vecs)?;
            self.count(res.len())?;
            for e in res {
                let i = *index.entry(e.metric.clone()).or_insert_with(|| {
                    out.push(Ser {
                        metric: e.metric,
                        points: Vec::new(),
                    });
                    out.len() - 1
                });
                if let Some(s) = out.get_mut(i) {
                    // A second element with these labels in this step: the
                    // same check as check_unique, without a second hash.
                    if s.points.last().is_some_and(|p| p.t == ts) {
                        return Err(duplicate_labelset());
                    }
                    s.points.push(Sample::new(ts, e.v));
                }
            }
        }
        Ok(out)
    }

    /// `op by/without (grouping) (inner)` for the operators that fold
    /// numbers, at every step. The same answer, point for point and bit for
    /// bit, as `range_eval` calling `aggregate::aggregate` at each step, but
    /// each series' group is found once (`range_groups`) and no per-step
    /// vectors, label clones, keys or hash lookups are made. Series are
    /// taken in `inner`'s order at each step, so groups add their elements
    /// in the order the per-step path does, and output series appear in the
    /// order it creates them: by the first step a group has an element,
    /// then by its first element's place in `inner`.
    fn aggregate_range(
        &mut self,
        op: AggOp,
        grouping: &[String],
        without: bool,
        inner: &Mat,
    ) -> Result<Mat> {
        let (group_of, metrics) =
            aggregate::range_groups(inner.iter().map(|s| &s.metric), grouping, without);
        let n_groups = metrics.len();
        let mut metrics: Vec<Option<Metric>> = metrics.into_iter().map(Some).collect();
        // A group has a point wherever its longest member has one (and
        // maybe more): room for that many, so a dense answer is not copied
        // as it grows.
        let mut room = vec![0usize; n_groups];
        for (s, &gi) in inner.iter().zip(&group_of) {
            if let Some(r) = room.get_mut(gi) {
                *r = (*r).max(s.points.len());
            }
        }
        let mut cursors = vec![0usize; inner.len()];
        // Per group: its state at the current step, the last step (plus
        // one) it had an element, and its output series once it has one.
        let mut accs = vec![aggregate::Acc::new(op, 0.0); n_groups];
        let mut seen = vec![0usize; n_groups];
        let mut slot: Vec<Option<usize>> = vec![None; n_groups];
        let mut touched: Vec<usize> = Vec::with_capacity(n_groups);
        let mut out: Mat = Vec::new();
        for (k, ts) in self.steps().enumerate() {
            // Timeouts are checked every 64 steps: a step costs one pass
            // over the input series, and reading the clock cost more.
            if k % 64 == 0 {
                self.check_deadline()?;
            }
            let stamp = k + 1;
            touched.clear();
            for ((s, c), &gi) in inner.iter().zip(cursors.iter_mut()).zip(&group_of) {
                while s.points.get(*c).is_some_and(|p| p.t < ts) {
                    *c += 1;
                }
                let Some(p) = s.points.get(*c).filter(|p| p.t == ts) else {
                    continue;
                };
                *c += 1;
                let (Some(acc), Some(last)) = (accs.get_mut(gi), seen.get_mut(gi)) else {
                    continue;
                };
                if *last == stamp {
                    acc.add(op, p.v);
                } else {
                    *last = stamp;
                    *acc = aggregate::Acc::new(op, p.v);
                    touched.push(gi);
                }
            }
            self.count(touched.len())?;
            for &gi in &touched {
                let Some(acc) = accs.get(gi) else {
                    continue;
                };
                let i = match slot.get(gi).copied().flatten() {
                    Some(i) => i,
                    None => {
                        let metric = metrics
                            .get_mut(gi)
                            .and_then(Option::take)
                            .unwrap_or_default();
                        out.push(Ser {
                            metric,
                            points: Vec::with_capacity(room.get(gi).copied().unwrap_or(0)),
                        });
                        if let Some(x) = slot.get_mut(gi) {
                            *x = Some(out.len() - 1);
                        }
                        out.len() - 1
                    }
                };
                if let Some(ser) = out.get_mut(i) {
                    ser.points.push(Sample::new(ts, acc.result(op)));
                }
            }
        }
        Ok(out)
    }

    fn select(&mut self, sel: &Selector, mint: i64, maxt: i64) -> Result<Vec<crate::db::Series>> {
        self.check_deadline()?;
        let series = self.q.select_series(&sel.matchers, mint, maxt)?;
        self.count(series.iter().map(|s| s.samples.len()).sum())?;
        Ok(series)
    }

    fn vector_selector(&mut self, sel: &Selector) -> Result<Mat> {
        self.select_instant(sel, false)
    }

    /// Per step, the newest sample at or before the step's reference time
    /// and no older than the lookback (2.42: `t >= ref - lookback`), unless
    /// it is a stale marker. `times` yields the sample's time in seconds
    /// instead of its value (for `timestamp()`).
    fn select_instant(&mut self, sel: &Selector, times: bool) -> Result<Mat> {
        let hi = sel.ref_time(self.end).max(sel.ref_time(self.start));
        let lo = sel
            .ref_time(self.start)
            .min(sel.ref_time(self.end))
            .saturating_sub(self.lookback);
        let series = self.select(sel, lo, hi)?;
        let mut out = Vec::with_capacity(series.len());
        for s in series {
            self.check_deadline()?;
            let mut points = Vec::new();
            for ts in self.steps() {
                let rt = sel.ref_time(ts);
                let n = s.samples.partition_point(|p| p.t <= rt);
                let Some(p) = n.checked_sub(1).and_then(|i| s.samples.get(i)) else {
                    continue;
                };
                if p.t < rt.saturating_sub(self.lookback) || is_stale(p.v) {
                    continue;
                }
                let v = if times { p.t as f64 / 1000.0 } else { p.v };
                points.push(Sample::new(ts, v));
            }
            if !points.is_empty() {
                self.count(points.len())?;
                out.push(Ser {
                    metric: Metric::from(&s.labels),
                    points,
                });
            }
        }
        Ok(out)
    }

    /// A range vector as a value: the raw samples of a range selector, or a
    /// subquery's points, at the (single) evaluation time.
    fn eval_range_vector(&mut self, node: &Node) -> Result<Mat> {
        match node {
            Node::Matrix { sel, range } => {
                let maxt = sel.ref_time(self.start);
                let mint = maxt.saturating_sub(*range);
                let series = self.select(sel, mint, maxt)?;
                Ok(series
                    .into_iter()
                    .map(|s| Ser {
                        metric: Metric::from(&s.labels),
                        points: s.samples.into_iter().filter(|p| !is_stale(p.v)).collect(),
                    })
                    .collect())
            }
            Node::Subquery {
                expr,
                range,
                step,
                offset,
                at,
            } => self.subquery(expr, *range, *step, *offset, *at),
            _ => Err(query_err("expected a range vector")),
        }
    }

    /// Evaluates a subquery's inner expression at the steps covering every
    /// window this evaluator will ask for: multiples of the step since the
    /// epoch, from the first at or after `start - offset - range` to
    /// `end - offset` (with `@`, one window at `@ - offset`).
    fn subquery(
        &mut self,
        expr: &Node,
        range: i64,
        step: Option<i64>,
        offset: i64,
        at: Option<i64>,
    ) -> Result<Mat> {
        let step = step.unwrap_or(self.sub_step);
        if step <= 0 {
            return Err(query_err("subquery step must be at least 1ms"));
        }
        let (s, e) = match at {
            Some(a) => (a, a),
            None => (self.start, self.end),
        };
        let base = s.saturating_sub(offset).saturating_sub(range);
        let mut start = base.div_euclid(step).saturating_mul(step);
        if start < base {
            start = start.saturating_add(step);
        }
        let end = e.saturating_sub(offset);
        if start > end {
            return Ok(Vec::new());
        }
        let mut child = self.child(start, end, step);
        let res = child.eval(expr);
        self.points = child.points;
        res
    }

    /// A function of a range vector: for each series and step, the samples
    /// in the step's window `[ref - range, ref]` (both ends inclusive, as in
    /// Prometheus 2.x).
    fn range_call(&mut self, func: Func, args: &[Node], mi: usize) -> Result<Mat> {
        let mut params: Vec<(usize, Mat)> = Vec::new();
        for (i, a) in args.iter().enumerate() {
            if i != mi {
                params.push((i, self.eval(a)?));
            }
        }
        let Some(marg) = args.get(mi) else {
            return Err(query_err("missing range vector argument"));
        };
        if let (Node::Matrix { sel, range }, true, Some(db)) = (
            marg,
            params.is_empty() && functions::WindowFold::supports(func),
            self.q.as_db(),
        ) {
            return self.range_call_pieces(db, func, sel, *range);
        }
        let (source, range, offset, at) = match marg {
            Node::Matrix { sel, range } => {
                let hi = sel.ref_time(self.end).max(sel.ref_time(self.start));
                let lo = sel
                    .ref_time(self.start)
                    .min(sel.ref_time(self.end))
                    .saturating_sub(*range);
                self.check_raw_only(func, lo, hi)?;
                let series = self.select(sel, lo, hi)?;
                let mat: Mat = series
                    .into_iter()
                    .map(|s| Ser {
                        metric: Metric::from(&s.labels),
                        points: s.samples.into_iter().filter(|p| !is_stale(p.v)).collect(),
                    })
                    .collect();
                (mat, *range, sel.offset, sel.at)
            }
            Node::Subquery {
                expr,
                range,
                step,
                offset,
                at,
            } => (
                self.subquery(expr, *range, *step, *offset, *at)?,
                *range,
                *offset,
                *at,
            ),
            _ => return Err(query_err("expected a range vector argument")),
        };
        // Scalar parameters by step (scalars have a point at every step).
        let param_at = |step: usize| -> Vec<f64> {
            params
                .iter()
                .map(|(_, m)| {
                    m.first()
                        .and_then(|s| s.points.get(step))
                        .map(|p| p.v)
                        .unwrap_or(f64::NAN)
                })
                .collect()
        };
        let mut out: Mat = Vec::new();
        for s in &source {
            self.check_deadline()?;
            let metric = if func == Func::LastOverTime {
                s.metric.clone()
            } else {
                s.metric.without_name()
            };
            let mut points = Vec::new();
            for (k, ts) in self.steps().enumerate() {
                let maxt = at.unwrap_or(ts).saturating_sub(offset);
                let mint = maxt.saturating_sub(range);
                let a = s.points.partition_point(|p| p.t < mint);
                let b = s.points.partition_point(|p| p.t <= maxt);
                let Some(window) = s.points.get(a..b).filter(|w| !w.is_empty()) else {
                    continue;
                };
                if let Some(v) =
                    functions::call_range(func, window, mint, maxt, range, ts, &param_at(k))?
                {
                    points.push(Sample::new(ts, v));
                }
            }
            if !points.is_empty() {
                self.count(points.len())?;
                out.push(Ser { metric, points });
            }
        }
        if func == Func::AbsentOverTime {
            return Ok(self.absent_over_time(&out, args));
        }
        check_unique(out.iter().map(|s| &s.metric))?;
        Ok(out)
    }

    /// Refuses a function that needs raw samples over a range holding
    /// downsampled data: buckets keep aggregates, and a quantile or a
    /// derivative of them would be a different answer, not an
    /// approximation to flag. `last_over_time`, `present_over_time` and
    /// `absent_over_time` read each bucket's last sample, as plain
    /// selectors do.
    fn check_raw_only(&self, func: Func, lo: i64, hi: i64) -> Result<()> {
        if matches!(
            func,
            Func::LastOverTime | Func::PresentOverTime | Func::AbsentOverTime
        ) || functions::WindowFold::supports(func)
        {
            return Ok(());
        }
        let Some(db) = self.q.as_db() else {
            return Ok(());
        };
        match db.downsampled_between(lo, hi) {
            None => Ok(()),
            Some((until, res)) => Err(query_err(format!(
                "{}() needs raw samples, but this range holds data downsampled to {}s buckets (up to t={}s); over downsampled data use avg/min/max/sum/count_over_time, rate, increase or delta with windows of whole buckets, or query a more recent range",
                func.name(),
                res / 1000,
                until / 1000
            ))),
        }
    }

    /// `range_call` over a database: chunks wholly inside a step's window
    /// are aggregated from their summaries; the rest is decoded (each chunk
    /// at most once). A window that uses no summary goes through
    /// `call_range` like any other, so partial windows keep its exact
    /// arithmetic.
    fn range_call_pieces(
        &mut self,
        db: &crate::Db,
        func: Func,
        sel: &Selector,
        range: i64,
    ) -> Result<Mat> {
        self.check_deadline()?;
        let hi = sel.ref_time(self.end).max(sel.ref_time(self.start));
        let lo = sel
            .ref_time(self.start)
            .min(sel.ref_time(self.end))
            .saturating_sub(range);
        let series = db.select_pieces(&sel.matchers, lo, hi)?;
        let fields = functions::WindowFold::bucket_fields(func);
        // Bucket columns decoded so far, by block and column: the series
        // of one scrape share them.
        let mut bucket_times: HashMap<(usize, u32), crate::downsample::Times> = HashMap::new();
        let mut out: Mat = Vec::new();
        let steps: Vec<i64> = self.steps().collect();
        for (labels, pieces) in series {
            self.check_deadline()?;
            let mut decoded: Vec<Option<Vec<Sample>>> = (0..pieces.len()).map(|_| None).collect();
            let mut subs: Vec<Option<Vec<crate::downsample::Bucket>>> =
                (0..pieces.len()).map(|_| None).collect();
            // Per chunk, the first sub-summary bucket that starts at or
            // after the last window's start: windows only move forward, so
            // the search resumes there instead of starting over.
            let mut sub_from: Vec<usize> = vec![0; pieces.len()];
            // Room for a point at every step whose window meets the
            // series' data, so that a dense answer is not copied as it
            // grows.
            let (data_lo, data_hi) = (
                pieces.first().map_or(i64::MAX, |p| p.first_t()),
                pieces.last().map_or(i64::MIN, |p| p.last_t()),
            );
            let reach = steps
                .iter()
                .filter(|&&ts| {
                    let maxt = sel.at.unwrap_or(ts).saturating_sub(sel.offset);
                    maxt >= data_lo && maxt.saturating_sub(range) <= data_hi
                })
                .count();
            let mut points = Vec::with_capacity(reach);
            for &ts in &steps {
                let maxt = sel.at.unwrap_or(ts).saturating_sub(sel.offset);
                let mint = maxt.saturating_sub(range);
                let mut fold = functions::WindowFold::default();
                let mut window: Vec<Sample> = Vec::new();
                let mut used_summary = false;
                let start = pieces.partition_point(|p| p.last_t() < mint);
                for (j, p) in pieces.iter().enumerate().skip(start) {
                    if p.first_t() > maxt {
                        break;
                    }
                    // Downsampled: the buckets wholly inside the window.
                    if let crate::db::Piece::Buckets(bs) = p {
                        fold.add_samples(&window);
                        window.clear();
                        let a = bs.partition_point(|(_, b)| b.start < mint);
                        for (res, b) in bs.iter().skip(a) {
                            if b.start > maxt {
                                break;
                            }
                            if b.start.saturating_add(res - 1) <= maxt {
                                fold.add_bucket(b);
                                used_summary = true;
                            }
                        }
                        continue;
                    }
                    if let crate::db::Piece::Chunk { meta, block } = p {
                        let s = &meta.summary;
                        if s.first_t >= mint && s.last_t <= maxt && s.sum.is_finite() {
                            fold.add_samples(&window);
                            window.clear();
                            fold.add_summary(s);
                            used_summary = true;
                            continue;
                        }
                        // Part of the chunk: its sub-summaries wholly inside
                        // the window, and raw samples only for the edges
                        // that hold any (known from the edge buckets' times).
                        let sub_col = crate::block::Block::sub_column(meta);
                        if let (Some(col), true) = (sub_col, block.sub_res > 0) {
                            if subs[j].is_none() {
                                let key = (std::sync::Arc::as_ptr(block) as usize, col);
                                let times = match bucket_times.entry(key) {
                                    Entry::Occupied(e) => e.into_mut(),
                                    Entry::Vacant(e) => e.insert(block.decode_bucket_times(col)?),
                                };
                                subs[j] = Some(block.decode_sub(meta, times, fields)?);
                            }
                            let bs = subs[j].as_deref().unwrap_or(&[]);
                            let res = block.sub_res;
                            let mut a = sub_from[j];
                            while a < bs.len() && bs[a].start < mint {
                                a += 1;
                            }
                            sub_from[j] = a;
                            let mut z = a;
                            while z < bs.len()
                                && bs[z].start.saturating_add(res - 1) <= maxt
                                && bs[z].s.sum.is_finite()
                            {
                                z += 1;
                            }
                            let whole = z > a
                                && (z == bs.len() || bs[z].start.saturating_add(res - 1) > maxt);
                            if whole {
                                let left = a > 0 && bs[a - 1].s.last_t >= mint;
                                let right = z < bs.len() && bs[z].s.first_t <= maxt;
                                if (left || right) && decoded[j].is_none() {
                                    let mut v = p.samples()?;
                                    v.retain(|x| !is_stale(x.v));
                                    self.count(v.len())?;
                                    decoded[j] = Some(v);
                                }
                                let v = decoded[j].as_deref().unwrap_or(&[]);
                                if left {
                                    let lo = v.partition_point(|x| x.t < mint);
                                    let hi = v.partition_point(|x| x.t < bs[a].start);
                                    window.extend_from_slice(v.get(lo..hi).unwrap_or(&[]));
                                }
                                fold.add_samples(&window);
                                window.clear();
                                for b in &bs[a..z] {
                                    fold.add_bucket(b);
                                }
                                used_summary = true;
                                if right {
                                    let lo = v.partition_point(|x| x.t < bs[z].start);
                                    let hi = v.partition_point(|x| x.t <= maxt);
                                    window.extend_from_slice(v.get(lo..hi).unwrap_or(&[]));
                                }
                                continue;
                            }
                        }
                    }
                    if decoded[j].is_none() {
                        let mut v = p.samples()?;
                        v.retain(|x| !is_stale(x.v));
                        self.count(v.len())?;
                        decoded[j] = Some(v);
                    }
                    let v = decoded[j].as_deref().unwrap_or(&[]);
                    let a = v.partition_point(|x| x.t < mint);
                    let b = v.partition_point(|x| x.t <= maxt);
                    window.extend_from_slice(v.get(a..b).unwrap_or(&[]));
                }
                if fold.missing_resets && matches!(func, Func::Rate | Func::Increase) {
                    return Err(query_err(format!(
                        "{}() over downsampled data of {}: its buckets keep no counter resets (it is a gauge by its metadata or name); use delta() or *_over_time, or declare it a counter",
                        func.name(),
                        labels
                    )));
                }
                let value = if used_summary {
                    fold.add_samples(&window);
                    fold.finish(func, mint, maxt, range)
                } else if window.is_empty() {
                    None
                } else {
                    functions::call_range(func, &window, mint, maxt, range, ts, &[])?
                };
                if let Some(v) = value {
                    points.push(Sample::new(ts, v));
                }
            }
            if !points.is_empty() {
                self.count(points.len())?;
                out.push(Ser {
                    metric: Metric::from(&labels).without_name(),
                    points,
                });
            }
        }
        check_unique(out.iter().map(|s| &s.metric))?;
        Ok(out)
    }

    /// 1 with the selector's equality labels at the steps where no series
    /// had a sample in its window.
    fn absent_over_time(&self, present: &Mat, args: &[Node]) -> Mat {
        let found: HashSet<i64> = present
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.t))
            .collect();
        let points: Vec<Sample> = self
            .steps()
            .filter(|t| !found.contains(t))
            .map(|t| Sample::new(t, 1.0))
            .collect();
        if points.is_empty() {
            return Vec::new();
        }
        let metric = match functions::prepare(Func::AbsentOverTime, args) {
            Ok(functions::Prepared::Absent(m)) => m,
            _ => Metric::default(),
        };
        vec![Ser { metric, points }]
    }
}

fn scalar(v: &[Vec<El>], i: usize) -> f64 {
    v.get(i)
        .and_then(|x| x.first())
        .map(|e| e.v)
        .unwrap_or(f64::NAN)
}

/// Prometheus refuses a vector with two elements of the same labels, which
/// dropping the metric name can produce (`rate(a[1m]) or rate(b[1m])` is
/// fine, `-{__name__=~"a|b"}` with equal other labels is not).
fn check_unique<'m>(metrics: impl Iterator<Item = &'m Metric>) -> Result<()> {
    let mut seen = HashSet::new();
    for m in metrics {
        if !seen.insert(m) {
            return Err(duplicate_labelset());
        }
    }
    Ok(())
}

fn duplicate_labelset() -> crate::Error {
    query_err("vector cannot contain metrics with the same labelset")
}

/// Does the outermost operation define the result's order?
fn keeps_order(node: &Node) -> bool {
    matches!(
        node,
        Node::Call {
            func: Func::Sort | Func::SortDesc | Func::SortByLabel | Func::SortByLabelDesc,
            ..
        } | Node::Aggregate {
            op: AggOp::Topk | AggOp::Bottomk,
            ..
        }
    )
}

fn to_matrix(mut mat: Mat) -> Matrix {
    mat.sort_by(|a, b| a.metric.cmp(&b.metric));
    mat.into_iter()
        .map(|s| MatrixSeries {
            metric: s.metric,
            samples: s.points,
        })
        .collect()
}

#[cfg(test)]
#[path = "aggregate_range_tests.rs"]
mod aggregate_range_tests;
