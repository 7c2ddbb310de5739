//! Runner for Prometheus' PromQL test scripts (`promql/testdata/*.test`
//! of Prometheus 2.42, `promql/promqltest/testdata/*.test` of later
//! releases; the language is in [`parse`]), against an in-memory store or
//! a real database.
//!
//! As in Prometheus' runner each instant evaluation is repeated as a range
//! query from one minute before to one minute after, and the middle step
//! must agree; a range evaluation (`eval range from .. to .. step ..`)
//! compares every step. Values compare with a relative tolerance of 1e-6;
//! NaN equals NaN. What the engine lacks is reported, not passed: evals
//! expecting native histograms are skipped, and evals expecting
//! annotations (`eval_warn`, `expect info`) are counted as such, since
//! the engine reports none.

mod parse;

use std::collections::HashMap;

use super::{instant_plan, range_plan, Metric, QueryOptions, Queryable, Value};
use crate::db::{Sample, Series};
use crate::error::Result;
use crate::labels::Labels;
use crate::matcher::Matcher;
use parse::{Command, Eval, When};

/// The store the scripts load into: series and their samples in memory.
#[derive(Default)]
pub(crate) struct MemStore {
    series: Vec<(Labels, Vec<Sample>)>,
}

impl MemStore {
    pub fn add(&mut self, labels: Labels, samples: Vec<Sample>) {
        if let Some(s) = self.series.iter_mut().find(|(l, _)| *l == labels) {
            s.1.extend(samples);
            s.1.sort_by_key(|p| p.t);
            s.1.dedup_by_key(|p| p.t);
        } else {
            self.series.push((labels, samples));
        }
    }
}

/// A store a script can load into.
pub(crate) trait ScriptStore: Queryable {
    fn load(&mut self, series: Vec<(Labels, Vec<Sample>)>) -> std::result::Result<(), String>;
}

impl ScriptStore for MemStore {
    fn load(&mut self, series: Vec<(Labels, Vec<Sample>)>) -> std::result::Result<(), String> {
        for (l, s) in series {
            self.add(l, s);
        }
        Ok(())
    }
}

/// A real database in a temporary directory; each load is appended and
/// flushed to blocks, so the scripts also cover the codecs' round trip of
/// NaN, infinities and stale markers.
pub(crate) struct DbStore {
    _dir: tempfile::TempDir,
    db: crate::Db,
}

impl DbStore {
    pub fn new() -> DbStore {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = crate::Db::open(dir.path(), crate::Options::default()).expect("open db");
        DbStore { _dir: dir, db }
    }
}

impl Queryable for DbStore {
    fn select_series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>> {
        self.db.select_series(matchers, mint, maxt)
    }
}

impl ScriptStore for DbStore {
    fn load(&mut self, series: Vec<(Labels, Vec<Sample>)>) -> std::result::Result<(), String> {
        let batch: Vec<(Labels, Sample)> = series
            .into_iter()
            .flat_map(|(l, s)| s.into_iter().map(move |p| (l.clone(), p)))
            .collect();
        let rep = self.db.append_labeled(&batch).map_err(|e| e.to_string())?;
        if rep.conflicts > 0 {
            return Err(format!("{} conflicting samples", rep.conflicts));
        }
        self.db.flush().map_err(|e| e.to_string())
    }
}

impl Queryable for MemStore {
    fn select_series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>> {
        Ok(self
            .series
            .iter()
            .filter(|(l, _)| matchers.iter().all(|m| m.matches(l)))
            .map(|(l, s)| Series {
                labels: l.clone(),
                samples: s
                    .iter()
                    .filter(|p| p.t >= mint && p.t <= maxt)
                    .copied()
                    .collect(),
            })
            .collect())
    }
}

fn almost_equal(a: f64, b: f64) -> bool {
    const EPS: f64 = 0.000001;
    let min_normal = f64::from_bits(0x0010_0000_0000_0000);
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || diff < min_normal {
        return diff < EPS * min_normal;
    }
    diff / (a.abs() + b.abs()) < EPS
}

/// What a script run found.
#[derive(Default, Debug)]
pub(crate) struct Report {
    pub passed: usize,
    /// Extra runs with selectors pinned by `@` (part of the passed evals).
    pub pinned: usize,
    pub skipped: Vec<String>,
    pub failures: Vec<String>,
    /// Passed evals that expected annotations (`eval_warn`, `expect
    /// info`...): the engine reports none, so only their values were
    /// checked.
    pub unchecked_annotations: usize,
    /// Series given as native histograms in `load`, not loaded.
    pub histogram_series: usize,
}

/// The message of an error as a script's `expect fail msg:` sees it:
/// without the query text our errors carry.
fn error_text(e: &crate::error::Error) -> String {
    match e {
        crate::error::Error::Query { msg, .. } => msg.clone(),
        e => e.to_string(),
    }
}

/// The expected value of an element of an instant vector.
fn one_value(vals: &[Option<f64>]) -> Option<f64> {
    match vals {
        [Some(v)] => Some(*v),
        _ => None,
    }
}

fn check_vector(
    ev: &Eval,
    got: &[(Metric, f64)],
    ordered: bool,
) -> std::result::Result<(), String> {
    let exp: HashMap<&Metric, (usize, &[Option<f64>])> = ev
        .expected
        .iter()
        .enumerate()
        .map(|(i, (m, v))| (m, (i, v.as_slice())))
        .collect();
    for (pos, (m, v)) in got.iter().enumerate() {
        let Some((i, want)) = exp.get(m) else {
            return Err(format!("unexpected metric {m} in result (value {v})"));
        };
        if ordered && *i != pos {
            return Err(format!("expected {m} at position {i} but was at {pos}"));
        }
        let Some(want) = one_value(want) else {
            return Err(format!("expected one value for {m}, got {want:?}"));
        };
        if !almost_equal(want, *v) {
            return Err(format!("expected {want} for {m} but got {v}"));
        }
    }
    for (m, _) in &ev.expected {
        if !got.iter().any(|(g, _)| g == m) {
            return Err(format!("expected metric {m} not found"));
        }
    }
    Ok(())
}

/// Compares a range query result (or a range vector) with the expected
/// series, whose `k`th value is the point at `start + k * step`.
fn check_matrix(
    ev: &Eval,
    got: &[super::MatrixSeries],
    (start, end, step): (i64, i64, i64),
) -> std::result::Result<(), String> {
    if ev.scalar.is_some() || ev.string.is_some() {
        return Err("expected a scalar or string, got a matrix".into());
    }
    if let Some(w) = got.windows(2).find(|w| w[0].metric > w[1].metric) {
        return Err(format!(
            "matrix not sorted by labels: {} before {}",
            w[0].metric, w[1].metric
        ));
    }
    for s in got {
        let Some((_, vals)) = ev.expected.iter().find(|(m, _)| *m == s.metric) else {
            return Err(format!(
                "unexpected metric {} in result, has {:?}",
                s.metric,
                points(&s.samples)
            ));
        };
        let mut want = Vec::new();
        let mut t = start;
        for v in vals {
            if t > end {
                return Err(format!(
                    "expected {} points for {}, more than the time range has",
                    vals.len(),
                    s.metric
                ));
            }
            if let Some(v) = v {
                want.push((t, *v));
            }
            t = t.saturating_add(step);
        }
        let ok = want.len() == s.samples.len()
            && want
                .iter()
                .zip(&s.samples)
                .all(|(&(t, v), p)| t == p.t && almost_equal(v, p.v));
        if !ok {
            return Err(format!(
                "for {}: expected {:?} but got {:?}",
                s.metric,
                want,
                points(&s.samples)
            ));
        }
    }
    for (m, _) in &ev.expected {
        if !got.iter().any(|s| s.metric == *m) {
            return Err(format!("expected metric {m} not found"));
        }
    }
    Ok(())
}

fn points(samples: &[Sample]) -> Vec<(i64, f64)> {
    samples.iter().map(|p| (p.t, p.v)).collect()
}

/// An error where the eval expects one (matching its message if given),
/// or an error about a result where it expects none.
fn expected_failure<T: std::fmt::Debug>(
    ev: &Eval,
    res: std::result::Result<T, crate::error::Error>,
) -> std::result::Result<Option<T>, String> {
    match (res, ev.fail) {
        (Err(e), true) => {
            let msg = error_text(&e);
            match &ev.error_match {
                Some(m) if !m.matches(&msg) => {
                    Err(format!("expected an error matching {m:?}, got {msg:?}"))
                }
                _ => Ok(None),
            }
        }
        (Ok(v), true) => Err(format!("expected an error, got {v:?}")),
        (Err(e), false) => Err(format!("error: {e}")),
        (Ok(v), false) => Ok(Some(v)),
    }
}

/// Runs an instant eval as written, then (as Prometheus' runner does) with
/// every selector pinned by `@` to the eval time, at other evaluation times.
/// A range eval runs once.
fn run_eval<S: ScriptStore>(store: &S, ev: &Eval) -> std::result::Result<usize, String> {
    let t = match ev.when {
        When::Instant(t) => t,
        When::Range { start, end, step } => {
            let plan = super::plan::parse(&ev.expr, start, end);
            let res = plan
                .and_then(|n| range_plan(store, &n, start, end, step, &QueryOptions::default()));
            if let Some(mat) = expected_failure(ev, res)? {
                check_matrix(ev, &mat, (start, end, step))?;
            }
            return Ok(0);
        }
    };
    let plan = super::plan::parse(&ev.expr, t, t);
    let Ok(node) = plan else {
        let err = plan.map(|_| ());
        return expected_failure(ev, err).map(|_| 0);
    };
    run_one(store, ev, &node, t)?;
    // `@ start()`/`@ end()` would have to be re-resolved per time; skip.
    if ev.expr.contains("start()") || ev.expr.contains("end()") {
        return Ok(0);
    }
    let mut node = node;
    if !super::plan::pin_at(&mut node, t) {
        return Ok(0);
    }
    let times = if t == 0 {
        vec![-1000, 0, 1000]
    } else {
        vec![-10 * t, 0, t / 5, t, 10 * t]
    };
    for &at in &times {
        run_one(store, ev, &node, at).map_err(|e| format!("pinned with @, at {at}: {e}"))?;
    }
    Ok(times.len())
}

fn run_one<S: ScriptStore>(
    store: &S,
    ev: &Eval,
    plan: &super::plan::Node,
    t: i64,
) -> std::result::Result<(), String> {
    let opts = QueryOptions::default();
    let Some(val) = expected_failure(ev, instant_plan(store, plan, t, &opts))? else {
        return Ok(());
    };
    match &val {
        Value::Scalar(s) => {
            let want = ev
                .scalar
                .ok_or_else(|| format!("got scalar {}, expected a vector", s.v))?;
            if !almost_equal(want, s.v) {
                return Err(format!("expected scalar {want} but got {}", s.v));
            }
        }
        Value::Vector(v) => {
            if ev.scalar.is_some() || ev.string.is_some() {
                return Err("got a vector, expected a scalar or string".into());
            }
            let got: Vec<(Metric, f64)> =
                v.iter().map(|e| (e.metric.clone(), e.sample.v)).collect();
            check_vector(ev, &got, ev.ordered)?;
        }
        Value::Matrix(m) => {
            let Some(range) = ev.range_vector else {
                return Err("got a range vector; the script expects none".into());
            };
            // Points of a range vector are at their samples' own times.
            return check_matrix(ev, m, range);
        }
        Value::String { value, .. } => {
            return match &ev.string {
                Some(want) if want == value => Ok(()),
                want => Err(format!("expected {want:?}, got string {value:?}")),
            };
        }
    }
    // The same query as a range query must agree at the middle step.
    let mat = range_plan(store, plan, t - 60_000, t + 60_000, 60_000, &opts)
        .map_err(|e| format!("range mode error: {e}"))?;
    if ev.ordered {
        return Ok(());
    }
    let got: Vec<(Metric, f64)> = mat
        .iter()
        .filter_map(|s| {
            s.samples
                .iter()
                .find(|p| p.t == t)
                .map(|p| (s.metric.clone(), p.v))
        })
        .collect();
    if let Some(want) = ev.scalar {
        let v = got.first().map(|g| g.1).unwrap_or(f64::NAN);
        if !almost_equal(want, v) {
            return Err(format!("range mode: expected scalar {want} but got {v}"));
        }
        return Ok(());
    }
    check_vector(ev, &got, false).map_err(|e| format!("range mode: {e}"))
}

/// Runs a script. `skip` lists (expression, reason) pairs whose evals are
/// not run (each must match an eval, so stale entries are noticed).
pub(crate) fn run(script: &str, skip: &[(&str, &str)]) -> Report {
    run_on(script, skip, MemStore::default)
}

/// [`run`] on stores made by `new_store` (called again on `clear`).
pub(crate) fn run_on<S: ScriptStore>(
    script: &str,
    skip: &[(&str, &str)],
    new_store: impl Fn() -> S,
) -> Report {
    let mut report = Report::default();
    let (cmds, errors) = parse::parse(script);
    report.failures.extend(errors);
    let mut store = new_store();
    let mut used_skips = vec![false; skip.len()];
    for (lineno, cmd) in cmds {
        let ev = match cmd {
            Command::Clear => {
                store = new_store();
                continue;
            }
            Command::Load(load) => {
                report.histogram_series += load.histograms;
                if let Err(e) = store.load(load.series) {
                    report.failures.push(format!("line {lineno}: load: {e}"));
                }
                continue;
            }
            Command::Eval(ev) => ev,
        };
        if let Some(k) = skip.iter().position(|(x, _)| *x == ev.expr) {
            used_skips[k] = true;
            report
                .skipped
                .push(format!("line {}: {} ({})", ev.line, ev.expr, skip[k].1));
            continue;
        }
        if ev.histogram {
            report.skipped.push(format!(
                "line {}: {} (expects a native histogram: unsupported)",
                ev.line, ev.expr
            ));
            continue;
        }
        match run_eval(&store, &ev) {
            Ok(pinned) => {
                report.passed += 1;
                report.pinned += pinned;
                if !ev.annotations.is_empty() {
                    report.unchecked_annotations += 1;
                }
            }
            Err(e) => report
                .failures
                .push(format!("line {}: {}: {e}", ev.line, ev.expr)),
        }
    }
    for (k, used) in used_skips.iter().enumerate() {
        if !used {
            report
                .failures
                .push(format!("skip entry matches no eval: {}", skip[k].0));
        }
    }
    report
}
