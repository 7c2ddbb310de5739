//! Binary operators between scalars and instant vectors, with Prometheus'
//! vector matching (`on`/`ignoring`, `group_left`/`group_right`) and set
//! operators.

use std::collections::{HashMap, HashSet};

use super::eval::El;
use super::plan::{BinOp, Card, Matching};
use super::{query_err, Metric};
use crate::error::Result;
use crate::labels::{Label, METRIC_NAME_LABEL};

fn btos(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// Go's `math.Mod`: the result has the sign of `a` (as Rust's `%`).
fn arith(op: BinOp, a: f64, b: f64) -> f64 {
    match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        BinOp::Mod => a % b,
        BinOp::Pow => a.powf(b),
        BinOp::Atan2 => a.atan2(b),
        _ => f64::NAN,
    }
}

fn compare(op: BinOp, a: f64, b: f64) -> bool {
    match op {
        BinOp::Eq => a == b,
        BinOp::Ne => a != b,
        BinOp::Gt => a > b,
        BinOp::Lt => a < b,
        BinOp::Ge => a >= b,
        BinOp::Le => a <= b,
        _ => false,
    }
}

pub(crate) fn scalar_binop(op: BinOp, a: f64, b: f64) -> f64 {
    if op.is_comparison() {
        btos(compare(op, a, b))
    } else {
        arith(op, a, b)
    }
}

/// (value, keep) for one pair of vector elements.
fn elem_binop(op: BinOp, a: f64, b: f64) -> (f64, bool) {
    if op.is_comparison() {
        (a, compare(op, a, b))
    } else {
        (arith(op, a, b), true)
    }
}

pub(crate) fn vector_scalar(op: BinOp, vec: Vec<El>, s: f64, swap: bool, rb: bool) -> Vec<El> {
    let mut out = Vec::with_capacity(vec.len());
    for e in vec {
        let (l, r) = if swap { (s, e.v) } else { (e.v, s) };
        let (mut v, mut keep) = elem_binop(op, l, r);
        // `2 < x` filters x but keeps x's value, not the scalar's.
        if op.is_comparison() && swap {
            v = r;
        }
        if rb {
            v = btos(keep);
            keep = true;
        }
        if keep {
            let metric = if op.drops_name() || rb {
                e.metric.without_name()
            } else {
                e.metric
            };
            out.push(El { metric, v });
        }
    }
    out
}

/// The labels two elements are matched on.
fn signature(m: &Metric, matching: &Matching) -> String {
    let mut s = String::new();
    for l in m.iter() {
        let listed = matching.labels.iter().any(|n| n == &l.name);
        let take = if matching.on {
            listed
        } else {
            !listed && l.name != METRIC_NAME_LABEL
        };
        if take {
            s.push_str(&l.name);
            s.push('\u{ff}');
            s.push_str(&l.value);
            s.push('\u{ff}');
        }
    }
    s
}

fn matched_labels(m: &Metric, matching: &Matching) -> Metric {
    let v: Vec<Label> = m
        .iter()
        .filter(|l| {
            let listed = matching.labels.iter().any(|n| n == &l.name);
            if matching.on {
                listed
            } else {
                !listed && l.name != METRIC_NAME_LABEL
            }
        })
        .cloned()
        .collect();
    Metric::from_vec(v)
}

fn result_metric(op: BinOp, lhs: &Metric, rhs: &Metric, matching: &Matching) -> Metric {
    let mut v: Vec<Label> = lhs.iter().cloned().collect();
    if op.drops_name() {
        v.retain(|l| l.name != METRIC_NAME_LABEL);
    }
    if matching.card == Card::OneToOne {
        if matching.on {
            v.retain(|l| matching.labels.contains(&l.name));
        } else {
            v.retain(|l| !matching.labels.contains(&l.name));
        }
    }
    for name in &matching.include {
        v.retain(|l| &l.name != name);
        if let Some(val) = rhs.get(name) {
            v.push(Label {
                name: name.clone(),
                value: val.to_string(),
            });
        }
    }
    Metric::from_vec(v)
}

pub(crate) fn vector_binop(
    op: BinOp,
    matching: &Matching,
    rb: bool,
    lhs: Vec<El>,
    rhs: Vec<El>,
) -> Result<Vec<El>> {
    match op {
        BinOp::And => {
            if lhs.is_empty() || rhs.is_empty() {
                return Ok(Vec::new());
            }
            let right: HashSet<String> =
                rhs.iter().map(|e| signature(&e.metric, matching)).collect();
            Ok(lhs
                .into_iter()
                .filter(|e| right.contains(&signature(&e.metric, matching)))
                .collect())
        }
        BinOp::Or => {
            if lhs.is_empty() {
                return Ok(rhs);
            }
            if rhs.is_empty() {
                return Ok(lhs);
            }
            let left: HashSet<String> =
                lhs.iter().map(|e| signature(&e.metric, matching)).collect();
            let mut out = lhs;
            out.extend(
                rhs.into_iter()
                    .filter(|e| !left.contains(&signature(&e.metric, matching))),
            );
            Ok(out)
        }
        BinOp::Unless => {
            if lhs.is_empty() || rhs.is_empty() {
                return Ok(lhs);
            }
            let right: HashSet<String> =
                rhs.iter().map(|e| signature(&e.metric, matching)).collect();
            Ok(lhs
                .into_iter()
                .filter(|e| !right.contains(&signature(&e.metric, matching)))
                .collect())
        }
        _ => matched_binop(op, matching, rb, lhs, rhs),
    }
}

fn matched_binop(
    op: BinOp,
    matching: &Matching,
    rb: bool,
    lhs: Vec<El>,
    rhs: Vec<El>,
) -> Result<Vec<El>> {
    if matching.card == Card::ManyToMany {
        return Err(query_err("many-to-many only allowed for set operators"));
    }
    if lhs.is_empty() || rhs.is_empty() {
        return Ok(Vec::new());
    }
    // The "one" side is indexed; with group_right that is the left side.
    let one_to_many = matching.card == Card::OneToMany;
    let (many, one) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    let mut one_sigs: HashMap<String, &El> = HashMap::with_capacity(one.len());
    for e in &one {
        let sig = signature(&e.metric, matching);
        if let Some(dup) = one_sigs.get(&sig) {
            let side = if one_to_many { "left" } else { "right" };
            return Err(query_err(format!(
                "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                matched_labels(&e.metric, matching),
                e.metric,
                dup.metric
            )));
        }
        one_sigs.insert(sig, e);
    }
    let mut matched: HashMap<String, HashSet<Metric>> = HashMap::new();
    let mut out = Vec::new();
    for e in &many {
        let sig = signature(&e.metric, matching);
        let Some(o) = one_sigs.get(&sig) else {
            continue;
        };
        let (vl, vr) = if one_to_many { (o.v, e.v) } else { (e.v, o.v) };
        let (mut v, keep) = elem_binop(op, vl, vr);
        if rb {
            v = btos(keep);
        } else if !keep {
            continue;
        }
        let mut metric = result_metric(op, &e.metric, &o.metric, matching);
        if rb {
            metric = metric.without_name();
        }
        let seen = matched.entry(sig).or_default();
        if matching.card == Card::OneToOne {
            if !seen.is_empty() {
                return Err(query_err(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                ));
            }
            seen.insert(Metric::default());
        } else if !seen.insert(metric.clone()) {
            return Err(query_err(
                "multiple matches for labels: grouping labels must ensure unique matches",
            ));
        }
        out.push(El { metric, v });
    }
    Ok(out)
}
