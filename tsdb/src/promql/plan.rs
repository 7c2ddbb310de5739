//! Lowers the promql-parser AST to the plan the evaluator runs.
//!
//! Everything the evaluator cannot do exactly as Prometheus 2.42 does is
//! refused here, by name, before any data is read: functions added after
//! 2.42, `limitk`/`limit_ratio`, fill modifiers, `or` inside selectors and
//! extension nodes. Durations become milliseconds and `@ start()`/`@ end()`
//! become the query's start and end.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use promql_parser::parser::{
    self as pp, AtModifier, Expr, LabelModifier, Offset, VectorMatchCardinality,
};

use super::functions::Func;
use super::query_err;
use crate::error::Result;
use crate::labels::METRIC_NAME_LABEL;
use crate::matcher::{MatchOp, Matcher};

/// Static type of an expression, as in Prometheus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Scalar,
    Vector,
    Matrix,
    String,
}

impl Ty {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Ty::Scalar => "scalar",
            Ty::Vector => "instant vector",
            Ty::Matrix => "range vector",
            Ty::String => "string",
        }
    }
}

/// A series selector: matchers plus the time shift.
#[derive(Debug, Clone)]
pub(crate) struct Selector {
    pub matchers: Vec<Matcher>,
    /// `offset` in ms (negative offsets allowed).
    pub offset: i64,
    /// `@` time in ms, resolved.
    pub at: Option<i64>,
}

impl Selector {
    /// The time a step `ts` reads at.
    pub fn ref_time(&self, ts: i64) -> i64 {
        self.at.unwrap_or(ts).saturating_sub(self.offset)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
}

impl BinOp {
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Ne | BinOp::Gt | BinOp::Lt | BinOp::Ge | BinOp::Le
        )
    }
    pub fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }
    /// Arithmetic drops the metric name; comparisons and set operators keep it.
    pub fn drops_name(self) -> bool {
        matches!(
            self,
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod | BinOp::Pow
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Card {
    OneToOne,
    ManyToOne,
    OneToMany,
    ManyToMany,
}

#[derive(Debug, Clone)]
pub(crate) struct Matching {
    pub card: Card,
    /// `on(...)` when true, `ignoring(...)` (or nothing) when false.
    pub on: bool,
    pub labels: Vec<String>,
    /// Labels named in `group_left(...)`/`group_right(...)`.
    pub include: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AggOp {
    Sum,
    Avg,
    Min,
    Max,
    Count,
    Group,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    Quantile,
    CountValues,
    /// Experimental in Prometheus 2.53+ (`limit.rs`).
    Limitk,
    LimitRatio,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Num(f64),
    Str(String),
    Vector(Selector),
    Matrix {
        sel: Selector,
        range: i64,
    },
    Subquery {
        expr: Box<Node>,
        range: i64,
        step: Option<i64>,
        offset: i64,
        at: Option<i64>,
    },
    Neg(Box<Node>),
    Binary {
        op: BinOp,
        lhs: Box<Node>,
        rhs: Box<Node>,
        matching: Matching,
        return_bool: bool,
    },
    Aggregate {
        op: AggOp,
        expr: Box<Node>,
        param: Option<Box<Node>>,
        grouping: Vec<String>,
        without: bool,
    },
    Call {
        func: Func,
        args: Vec<Node>,
    },
}

impl Node {
    pub fn ty(&self) -> Ty {
        match self {
            Node::Num(_) => Ty::Scalar,
            Node::Str(_) => Ty::String,
            Node::Vector(_) | Node::Aggregate { .. } => Ty::Vector,
            Node::Matrix { .. } | Node::Subquery { .. } => Ty::Matrix,
            Node::Neg(e) => e.ty(),
            Node::Binary { lhs, rhs, .. } => {
                if lhs.ty() == Ty::Scalar && rhs.ty() == Ty::Scalar {
                    Ty::Scalar
                } else {
                    Ty::Vector
                }
            }
            Node::Call { func, .. } => func.return_type(),
        }
    }
}

/// Parses `expr` for a query running from `start` to `end` (ms).
pub(crate) fn parse(expr: &str, start: i64, end: i64) -> Result<Node> {
    register_holt_winters();
    let ast = pp::parse(expr).map_err(|e| query_err(parse_error(expr, &e)))?;
    let l = Lower { start, end };
    l.lower(&ast)
}

/// promql-parser reports grammar errors as a bare "invalid promql query"
/// (it drops the LR parser's error list), so the position is recovered
/// here: the error lies after the longest prefix that parses on its own.
/// Only the failing path pays for the extra parses.
fn parse_error(expr: &str, msg: &str) -> String {
    if !msg.starts_with("invalid promql query") {
        return format!("parse error: {msg}");
    }
    let cuts: Vec<usize> = expr.char_indices().map(|(i, _)| i).skip(1).collect();
    let good = cuts
        .into_iter()
        .rev()
        .find(|&end| expr.get(..end).is_some_and(|p| pp::parse(p).is_ok()))
        .unwrap_or(0);
    let col = expr.get(..good).map(|p| p.chars().count()).unwrap_or(0) + 1;
    let rest: String = expr.get(good..).unwrap_or("").chars().take(20).collect();
    format!("parse error at or after character {col} ({rest:?}): {msg}")
}

/// promql-parser follows Prometheus 3, which renamed `holt_winters` to
/// `double_exponential_smoothing`; 2.42 only knows the old name, so it is
/// registered with the parser (a process-wide table, filled once).
fn register_holt_winters() {
    use promql_parser::parser::value::ValueType;
    use promql_parser::parser::Function;
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Fails only if a later parser version has the name built in,
        // which is what we want anyway.
        let _ = pp::register_extra_functions(vec![Function::new(
            "holt_winters",
            vec![ValueType::Matrix, ValueType::Scalar, ValueType::Scalar],
            0,
            ValueType::Vector,
            false,
        )]);
    });
}

struct Lower {
    start: i64,
    end: i64,
}

fn ms(d: &Duration) -> Result<i64> {
    i64::try_from(d.as_millis()).map_err(|_| query_err("duration out of range"))
}

fn offset_ms(o: &Option<Offset>) -> Result<i64> {
    Ok(match o {
        None => 0,
        Some(Offset::Pos(d)) => ms(d)?,
        Some(Offset::Neg(d)) => -ms(d)?,
    })
}

fn system_ms(t: &SystemTime) -> Result<i64> {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => ms(&d),
        Err(e) => Ok(-ms(&e.duration())?),
    }
}

impl Lower {
    fn at(&self, a: &Option<AtModifier>) -> Result<Option<i64>> {
        Ok(match a {
            None => None,
            Some(AtModifier::Start) => Some(self.start),
            Some(AtModifier::End) => Some(self.end),
            Some(AtModifier::At(t)) => Some(system_ms(t)?),
        })
    }

    fn selector(&self, vs: &pp::VectorSelector) -> Result<Selector> {
        Ok(Selector {
            matchers: super::selector::matchers_of(vs)?,
            offset: offset_ms(&vs.offset)?,
            at: self.at(&vs.at)?,
        })
    }

    fn lower(&self, e: &Expr) -> Result<Node> {
        Ok(match e {
            Expr::NumberLiteral(n) => Node::Num(n.val),
            Expr::StringLiteral(s) => Node::Str(s.val.clone()),
            Expr::Paren(p) => self.lower(&p.expr)?,
            Expr::Unary(u) => {
                let inner = self.lower(&u.expr)?;
                if !matches!(inner.ty(), Ty::Scalar | Ty::Vector) {
                    return Err(query_err(format!(
                        "unary expression only allowed on expressions of type scalar or instant vector, got {:?}",
                        inner.ty().name()
                    )));
                }
                Node::Neg(Box::new(inner))
            }
            Expr::VectorSelector(vs) => Node::Vector(self.selector(vs)?),
            Expr::MatrixSelector(m) => Node::Matrix {
                sel: self.selector(&m.vs)?,
                range: ms(&m.range)?,
            },
            Expr::Subquery(s) => {
                let inner = self.lower(&s.expr)?;
                if inner.ty() != Ty::Vector {
                    return Err(query_err(format!(
                        "subquery is only allowed on instant vector, got {} instead",
                        inner.ty().name()
                    )));
                }
                let step = match &s.step {
                    Some(d) if !d.is_zero() => Some(ms(d)?),
                    _ => None,
                };
                Node::Subquery {
                    expr: Box::new(inner),
                    range: ms(&s.range)?,
                    step,
                    offset: offset_ms(&s.offset)?,
                    at: self.at(&s.at)?,
                }
            }
            Expr::Binary(b) => self.binary(b)?,
            Expr::Aggregate(a) => self.aggregate(a)?,
            Expr::Call(c) => {
                let func = Func::from_name(c.func.name).ok_or_else(|| {
                    query_err(format!(
                        "unsupported function {:?} (not in Prometheus 2.42)",
                        c.func.name
                    ))
                })?;
                let args = c
                    .args
                    .args
                    .iter()
                    .map(|a| self.lower(a))
                    .collect::<Result<Vec<_>>>()?;
                func.check_args(&args)?;
                Node::Call { func, args }
            }
            Expr::Extension(_) => return Err(query_err("unsupported: extension expression")),
        })
    }

    fn binary(&self, b: &pp::BinaryExpr) -> Result<Node> {
        let op = match b.op.to_string().as_str() {
            "+" => BinOp::Add,
            "-" => BinOp::Sub,
            "*" => BinOp::Mul,
            "/" => BinOp::Div,
            "%" => BinOp::Mod,
            "^" => BinOp::Pow,
            "atan2" => BinOp::Atan2,
            "==" => BinOp::Eq,
            "!=" => BinOp::Ne,
            ">" => BinOp::Gt,
            "<" => BinOp::Lt,
            ">=" => BinOp::Ge,
            "<=" => BinOp::Le,
            "and" => BinOp::And,
            "or" => BinOp::Or,
            "unless" => BinOp::Unless,
            other => return Err(query_err(format!("unsupported binary operator {other:?}"))),
        };
        let lhs = self.lower(&b.lhs)?;
        let rhs = self.lower(&b.rhs)?;
        for side in [&lhs, &rhs] {
            if !matches!(side.ty(), Ty::Scalar | Ty::Vector) {
                return Err(query_err(format!(
                    "binary expression must contain only scalar and instant vector types, got {}",
                    side.ty().name()
                )));
            }
        }
        let both_vectors = lhs.ty() == Ty::Vector && rhs.ty() == Ty::Vector;
        let mut matching = Matching {
            card: if op.is_set() {
                Card::ManyToMany
            } else {
                Card::OneToOne
            },
            on: false,
            labels: Vec::new(),
            include: Vec::new(),
        };
        let mut return_bool = false;
        if let Some(m) = &b.modifier {
            if m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some() {
                return Err(query_err(
                    "unsupported: fill modifiers (not in Prometheus 2.42)",
                ));
            }
            return_bool = m.return_bool;
            match &m.matching {
                Some(LabelModifier::Include(l)) => {
                    matching.on = true;
                    matching.labels = l.labels.clone();
                }
                Some(LabelModifier::Exclude(l)) => matching.labels = l.labels.clone(),
                None => {}
            }
            match &m.card {
                VectorMatchCardinality::OneToOne => {}
                VectorMatchCardinality::ManyToMany => matching.card = Card::ManyToMany,
                VectorMatchCardinality::ManyToOne(l) => {
                    matching.card = Card::ManyToOne;
                    matching.include = l.labels.clone();
                }
                VectorMatchCardinality::OneToMany(l) => {
                    matching.card = Card::OneToMany;
                    matching.include = l.labels.clone();
                }
            }
        }
        if op.is_set() {
            if !both_vectors {
                return Err(query_err(format!(
                    "set operator {op:?} not allowed in binary scalar expression"
                )));
            }
            if matches!(matching.card, Card::ManyToOne | Card::OneToMany) {
                return Err(query_err("no grouping allowed for set operations"));
            }
            matching.card = Card::ManyToMany;
        }
        if op.is_comparison() && !return_bool && lhs.ty() == Ty::Scalar && rhs.ty() == Ty::Scalar {
            return Err(query_err(
                "comparisons between scalars must use BOOL modifier",
            ));
        }
        if return_bool && !op.is_comparison() {
            return Err(query_err(
                "bool modifier can only be used on comparison operators",
            ));
        }
        Ok(Node::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            matching,
            return_bool,
        })
    }

    fn aggregate(&self, a: &pp::AggregateExpr) -> Result<Node> {
        let op = match a.op.to_string().as_str() {
            "sum" => AggOp::Sum,
            "avg" => AggOp::Avg,
            "min" => AggOp::Min,
            "max" => AggOp::Max,
            "count" => AggOp::Count,
            "group" => AggOp::Group,
            "stddev" => AggOp::Stddev,
            "stdvar" => AggOp::Stdvar,
            "topk" => AggOp::Topk,
            "bottomk" => AggOp::Bottomk,
            "quantile" => AggOp::Quantile,
            "count_values" => AggOp::CountValues,
            "limitk" => AggOp::Limitk,
            "limit_ratio" => AggOp::LimitRatio,
            other => {
                return Err(query_err(format!(
                    "unsupported aggregation {other:?} (not in Prometheus 2.42)"
                )))
            }
        };
        let expr = self.lower(&a.expr)?;
        if expr.ty() != Ty::Vector {
            return Err(query_err(format!(
                "expected type instant vector in aggregation expression, got {}",
                expr.ty().name()
            )));
        }
        let param = match &a.param {
            Some(p) => {
                let p = self.lower(p)?;
                let want = if op == AggOp::CountValues {
                    Ty::String
                } else {
                    Ty::Scalar
                };
                if p.ty() != want {
                    return Err(query_err(format!(
                        "expected type {} in aggregation parameter, got {}",
                        want.name(),
                        p.ty().name()
                    )));
                }
                Some(Box::new(p))
            }
            None => None,
        };
        if matches!(
            op,
            AggOp::Topk
                | AggOp::Bottomk
                | AggOp::Quantile
                | AggOp::CountValues
                | AggOp::Limitk
                | AggOp::LimitRatio
        ) && param.is_none()
        {
            return Err(query_err(format!("{op:?} needs a parameter")));
        }
        let (mut grouping, without) = match &a.modifier {
            Some(LabelModifier::Include(l)) => (l.labels.clone(), false),
            Some(LabelModifier::Exclude(l)) => (l.labels.clone(), true),
            None => (Vec::new(), false),
        };
        grouping.sort();
        grouping.dedup();
        Ok(Node::Aggregate {
            op,
            expr: Box::new(expr),
            param,
            grouping,
            without,
        })
    }
}

/// The labels `absent(sel)` returns: equality matchers other than the name,
/// a label matched twice dropped (Prometheus' historic behaviour).
pub(crate) fn absent_labels(arg: &Node) -> Vec<(String, String)> {
    let sel = match arg {
        Node::Vector(s) | Node::Matrix { sel: s, .. } => s,
        _ => return Vec::new(),
    };
    let mut out: Vec<(String, String)> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for m in &sel.matchers {
        if m.name == METRIC_NAME_LABEL {
            continue;
        }
        if m.op == MatchOp::Equal && !seen.contains(&m.name.as_str()) {
            out.retain(|(n, _)| n != &m.name);
            out.push((m.name.clone(), m.value.clone()));
            seen.push(&m.name);
        } else {
            out.retain(|(n, _)| n != &m.name);
        }
    }
    out
}

/// Pins every selector and subquery without `@` to `t`, not descending into
/// subqueries, as Prometheus' test runner does to check that `@` gives the
/// same answer at any evaluation time. `false` when the expression calls a
/// function whose result depends on the evaluation time itself.
#[cfg(test)]
pub(crate) fn pin_at(node: &mut Node, t: i64) -> bool {
    match node {
        Node::Num(_) | Node::Str(_) => true,
        Node::Vector(sel) | Node::Matrix { sel, .. } => {
            sel.at.get_or_insert(t);
            true
        }
        Node::Subquery { at, .. } => {
            at.get_or_insert(t);
            true
        }
        Node::Neg(e) => pin_at(e, t),
        Node::Binary { lhs, rhs, .. } => pin_at(lhs, t) & pin_at(rhs, t),
        Node::Aggregate { expr, param, .. } => {
            let p = param.as_deref_mut().is_none_or(|p| pin_at(p, t));
            pin_at(expr, t) & p
        }
        Node::Call { func, args } => {
            use super::functions::Func::*;
            let unsafe_fn = matches!(
                func,
                DaysInMonth
                    | DayOfMonth
                    | DayOfWeek
                    | DayOfYear
                    | Hour
                    | Minute
                    | Month
                    | Year
                    | PredictLinear
                    | Time
                    | Timestamp
            );
            let mut ok = !unsafe_fn;
            for a in args {
                ok &= pin_at(a, t);
            }
            ok
        }
    }
}
