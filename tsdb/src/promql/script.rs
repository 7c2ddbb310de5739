//! Runner for Prometheus' PromQL test scripts (the `promql/testdata/*.test`
//! format of Prometheus 2.42), against an in-memory store.
//!
//! Commands: `load <interval>` followed by series lines
//! (`metric{a="b"} 0+10x100 _ stale 5`), `clear`, and
//! `eval[_fail|_ordered] instant at <duration> <expr>` followed by the
//! expected elements (`metric{a="b"} 3`) or a scalar. As in Prometheus'
//! runner each instant evaluation is repeated as a range query from one
//! minute before to one minute after, and the middle step must agree.
//! Values compare with a relative tolerance of 1e-6; NaN equals NaN.

use std::collections::HashMap;

use super::{instant_plan, range_plan, Metric, QueryOptions, Queryable, Value};
use crate::db::{Sample, Series};
use crate::error::Result;
use crate::labels::{Label, Labels};
use crate::matcher::Matcher;

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

/// Prometheus' `model.ParseDuration`: `1h30m`, `5m`, `100ms`, `2d`, `1w`, `1y`.
pub(crate) fn parse_duration(s: &str) -> Option<i64> {
    if s == "0" {
        return Some(0);
    }
    let mut total: i64 = 0;
    let b = s.as_bytes();
    let mut i = 0;
    if b.is_empty() {
        return None;
    }
    while i < b.len() {
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let n: i64 = s.get(st..i)?.parse().ok()?;
        let ust = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = match s.get(ust..i)? {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            _ => return None,
        };
        total += n * unit;
    }
    Some(total)
}

/// Parses `name{a="b", c="d"}` (either part optional) and returns the
/// labels and the rest of the line.
fn parse_metric(line: &str) -> std::result::Result<(Vec<Label>, &str), String> {
    let line = line.trim();
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or(line.len());
    let mut labels = Vec::new();
    if name_end > 0 {
        labels.push(Label {
            name: "__name__".into(),
            value: line[..name_end].to_string(),
        });
    }
    let mut rest = &line[name_end..];
    if let Some(r) = rest.strip_prefix('{') {
        let mut chars = r.char_indices().peekable();
        let mut end = None;
        loop {
            // Skip separators.
            while let Some(&(_, c)) = chars.peek() {
                if c == ',' || c.is_whitespace() {
                    chars.next();
                } else {
                    break;
                }
            }
            let Some(&(i, c)) = chars.peek() else { break };
            if c == '}' {
                end = Some(i + 1);
                break;
            }
            let mut name = String::new();
            while let Some(&(_, c)) = chars.peek() {
                if c.is_alphanumeric() || c == '_' {
                    name.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            while chars
                .peek()
                .is_some_and(|&(_, c)| c.is_whitespace() || c == '=')
            {
                chars.next();
            }
            let quote = match chars.next() {
                Some((_, q @ ('"' | '\''))) => q,
                other => return Err(format!("bad label value start {other:?} in {line:?}")),
            };
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, c)) => value.push(c),
                        None => return Err("unterminated escape".into()),
                    },
                    Some((_, c)) if c == quote => break,
                    Some((_, c)) => value.push(c),
                    None => return Err(format!("unterminated label value in {line:?}")),
                }
            }
            labels.push(Label { name, value });
        }
        let end = end.ok_or_else(|| format!("unterminated label set in {line:?}"))?;
        rest = &r[end..];
    }
    Ok((labels, rest.trim()))
}

fn parse_value(s: &str) -> std::result::Result<f64, String> {
    if s == "stale" {
        return Ok(f64::from_bits(crate::STALE_NAN_BITS));
    }
    s.parse::<f64>()
        .map_err(|e| format!("bad number {s:?}: {e}"))
}

/// Series values: `1 2 _ stale`, `0+10x5` (6 values), `1x3` (4 values),
/// `_x3` (3 omitted). `None` is an omitted value.
fn parse_values(s: &str) -> std::result::Result<Vec<Option<f64>>, String> {
    let mut out = Vec::new();
    for tok in s.split_whitespace() {
        if tok == "_" {
            out.push(None);
            continue;
        }
        if let Some(n) = tok.strip_prefix("_x") {
            let n: usize = n.parse().map_err(|_| format!("bad repeat {tok:?}"))?;
            out.extend(std::iter::repeat_n(None, n));
            continue;
        }
        // `0x10` is "0 ten more times" here, as in Prometheus' series
        // notation, not hex.
        let Some(xp) = tok.rfind('x') else {
            out.push(Some(parse_value(tok)?));
            continue;
        };
        let n: u64 = tok[xp + 1..]
            .parse()
            .map_err(|_| format!("bad repeat {tok:?}"))?;
        let head = &tok[..xp];
        // Split "start+inc" / "start-inc" at a sign not in an exponent.
        let bytes = head.as_bytes();
        let split = (1..bytes.len()).find(|&i| {
            (bytes[i] == b'+' || bytes[i] == b'-') && !matches!(bytes[i - 1], b'e' | b'E')
        });
        let (start, inc) = match split {
            Some(i) => (parse_value(&head[..i])?, parse_value(&head[i..])?),
            None => (parse_value(head)?, 0.0),
        };
        let mut v = start;
        for _ in 0..=n {
            out.push(Some(v));
            v += inc;
        }
    }
    Ok(out)
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

struct Eval {
    line: usize,
    expr: String,
    t: i64,
    fail: bool,
    ordered: bool,
    scalar: Option<f64>,
    expected: Vec<(Metric, f64)>,
}

/// What a script run found.
#[derive(Default, Debug)]
pub(crate) struct Report {
    pub passed: usize,
    /// Extra runs with selectors pinned by `@` (part of the passed evals).
    pub pinned: usize,
    pub skipped: Vec<String>,
    pub failures: Vec<String>,
}

fn check_vector(
    ev: &Eval,
    got: &[(Metric, f64)],
    ordered: bool,
) -> std::result::Result<(), String> {
    let exp: HashMap<&Metric, (usize, f64)> = ev
        .expected
        .iter()
        .enumerate()
        .map(|(i, (m, v))| (m, (i, *v)))
        .collect();
    for (pos, (m, v)) in got.iter().enumerate() {
        let Some((i, want)) = exp.get(m) else {
            return Err(format!("unexpected metric {m} in result (value {v})"));
        };
        if ordered && *i != pos {
            return Err(format!("expected {m} at position {i} but was at {pos}"));
        }
        if !almost_equal(*want, *v) {
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

/// Runs an eval as written, then (as Prometheus' runner does) with every
/// selector pinned by `@` to the eval time, at other evaluation times.
fn run_eval<S: ScriptStore>(store: &S, ev: &Eval) -> std::result::Result<usize, String> {
    let plan = super::plan::parse(&ev.expr, ev.t, ev.t).map_err(|e| e.to_string());
    run_one(store, ev, &plan, ev.t)?;
    // `@ start()`/`@ end()` would have to be re-resolved per time; skip.
    if ev.expr.contains("start()") || ev.expr.contains("end()") {
        return Ok(0);
    }
    let Ok(mut node) = plan else {
        return Ok(0);
    };
    if !super::plan::pin_at(&mut node, ev.t) {
        return Ok(0);
    }
    let times = if ev.t == 0 {
        vec![-1000, 0, 1000]
    } else {
        vec![-10 * ev.t, 0, ev.t / 5, ev.t, 10 * ev.t]
    };
    for &t in &times {
        run_one(store, ev, &Ok(node.clone()), t)
            .map_err(|e| format!("pinned with @, at {t}: {e}"))?;
    }
    Ok(times.len())
}

fn run_one<S: ScriptStore>(
    store: &S,
    ev: &Eval,
    plan: &std::result::Result<super::plan::Node, String>,
    t: i64,
) -> std::result::Result<(), String> {
    let opts = QueryOptions::default();
    let res = match plan {
        Ok(n) => instant_plan(store, n, t, &opts).map_err(|e| e.to_string()),
        Err(e) => Err(e.clone()),
    };
    let val = match (res, ev.fail) {
        (Err(_), true) => return Ok(()),
        (Ok(v), true) => return Err(format!("expected an error, got {v:?}")),
        (Err(e), false) => return Err(format!("error: {e}")),
        (Ok(v), false) => v,
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
            if ev.scalar.is_some() {
                return Err("got a vector, expected a scalar".into());
            }
            let got: Vec<(Metric, f64)> =
                v.iter().map(|e| (e.metric.clone(), e.sample.v)).collect();
            check_vector(ev, &got, ev.ordered)?;
        }
        other => return Err(format!("unexpected result type {other:?}")),
    }
    // The same query as a range query must agree at the middle step.
    let plan = plan.as_ref().map_err(|e| e.clone())?;
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
    let mut store = new_store();
    let lines: Vec<&str> = script
        .lines()
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                ""
            } else {
                l
            }
        })
        .collect();
    let mut used_skips = vec![false; skip.len()];
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        let lineno = i + 1;
        i += 1;
        if l.is_empty() {
            continue;
        }
        if l == "clear" {
            store = new_store();
            continue;
        }
        if let Some(rest) = l.strip_prefix("load ") {
            let Some(gap) = parse_duration(rest.trim()) else {
                report
                    .failures
                    .push(format!("line {lineno}: bad load interval"));
                continue;
            };
            // Within one block a later line for the same series replaces the
            // earlier one (Prometheus keeps a map by series).
            let mut block: Vec<(Labels, Vec<Sample>)> = Vec::new();
            while i < lines.len() && !lines[i].is_empty() {
                let def = lines[i];
                i += 1;
                let parsed = parse_metric(def).and_then(|(labels, rest)| {
                    let vals = parse_values(rest)?;
                    let labels = Labels::from_pairs(labels.into_iter().map(|l| (l.name, l.value)))
                        .map_err(|e| e.to_string())?;
                    Ok((labels, vals))
                });
                match parsed {
                    Ok((labels, vals)) => {
                        let samples = vals
                            .iter()
                            .enumerate()
                            .filter_map(|(k, v)| v.map(|v| Sample::new(k as i64 * gap, v)))
                            .collect();
                        block.retain(|(l, _)| *l != labels);
                        block.push((labels, samples));
                    }
                    Err(e) => report.failures.push(format!("line {}: {e}", i)),
                }
            }
            if let Err(e) = store.load(block) {
                report.failures.push(format!("line {lineno}: load: {e}"));
            }
            continue;
        }
        if l.starts_with("eval") {
            let (cmd, rest) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
            let (fail, ordered) = match cmd {
                "eval" => (false, false),
                "eval_fail" => (true, false),
                "eval_ordered" => (false, true),
                _ => {
                    report
                        .failures
                        .push(format!("line {lineno}: bad command {cmd}"));
                    continue;
                }
            };
            let rest = rest.trim().strip_prefix("instant").unwrap_or(rest).trim();
            let rest = rest.strip_prefix("at").unwrap_or(rest).trim();
            let (at, expr) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let mut ev = Eval {
                line: lineno,
                expr: expr.trim().to_string(),
                t: parse_duration(at).unwrap_or(0),
                fail,
                ordered,
                scalar: None,
                expected: Vec::new(),
            };
            let mut bad = None;
            while i < lines.len() && !lines[i].is_empty() {
                let def = lines[i];
                i += 1;
                if let Ok(v) = parse_value(def) {
                    ev.scalar = Some(v);
                    continue;
                }
                match parse_metric(def)
                    .and_then(|(labels, rest)| Ok((Metric::from_vec(labels), parse_value(rest)?)))
                {
                    Ok(e) => ev.expected.push(e),
                    Err(e) => bad = Some(e),
                }
            }
            if let Some(e) = bad {
                report.failures.push(format!("line {lineno}: {e}"));
                continue;
            }
            if let Some(k) = skip.iter().position(|(x, _)| *x == ev.expr) {
                used_skips[k] = true;
                report
                    .skipped
                    .push(format!("line {}: {} ({})", ev.line, ev.expr, skip[k].1));
                continue;
            }
            match run_eval(&store, &ev) {
                Ok(pinned) => {
                    report.passed += 1;
                    report.pinned += pinned;
                }
                Err(e) => report
                    .failures
                    .push(format!("line {}: {}: {e}", ev.line, ev.expr)),
            }
            continue;
        }
        report
            .failures
            .push(format!("line {lineno}: unknown command {l:?}"));
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
