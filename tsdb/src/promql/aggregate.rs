//! Aggregation operators (`sum by (x) (...)` and friends), as Prometheus
//! 2.42's `aggregation` computes them, including the order `topk` and
//! `bottomk` return their elements in.

use std::collections::HashMap;

use super::eval::El;
use super::functions::{quantile, valid_label_name};
use super::plan::AggOp;
use super::{query_err, Metric};
use crate::error::Result;
use crate::labels::{Label, METRIC_NAME_LABEL};

pub(crate) enum Param<'a> {
    None,
    Num(f64),
    Label(&'a str),
}

struct Group {
    metric: Metric,
    acc: Acc,
    heap: Vec<El>,
}

/// The running value of one group at one step for the operators that fold
/// numbers (all but `topk`, `bottomk`, `quantile`; `count_values` counts).
/// One implementation for the per-step path and for [`range_groups`], so
/// both add in the same order and give the same bits.
#[derive(Clone, Copy)]
pub(crate) struct Acc {
    value: f64,
    mean: f64,
    count: usize,
}

impl Acc {
    /// A group's state after its first element.
    pub(crate) fn new(op: AggOp, v: f64) -> Acc {
        let value = match op {
            AggOp::Stddev | AggOp::Stdvar => 0.0,
            AggOp::Group => 1.0,
            _ => v,
        };
        Acc {
            value,
            mean: v,
            count: 1,
        }
    }

    /// Adds a further element (Prometheus 2.42's `aggregation` loop).
    pub(crate) fn add(&mut self, op: AggOp, v: f64) {
        match op {
            AggOp::Sum => self.value += v,
            AggOp::Avg => {
                self.count += 1;
                if self.mean.is_infinite() {
                    if v.is_infinite() && (self.mean > 0.0) == (v > 0.0) {
                        return;
                    }
                    if !v.is_infinite() && !v.is_nan() {
                        return;
                    }
                }
                let n = self.count as f64;
                self.mean += v / n - self.mean / n;
            }
            AggOp::Max => {
                if self.value < v || self.value.is_nan() {
                    self.value = v;
                }
            }
            AggOp::Min => {
                if self.value > v || self.value.is_nan() {
                    self.value = v;
                }
            }
            AggOp::Count | AggOp::CountValues => self.count += 1,
            AggOp::Stddev | AggOp::Stdvar => {
                self.count += 1;
                let delta = v - self.mean;
                self.mean += delta / self.count as f64;
                self.value += delta * (v - self.mean);
            }
            AggOp::Group
            | AggOp::Topk
            | AggOp::Bottomk
            | AggOp::Quantile
            | AggOp::Limitk
            | AggOp::LimitRatio => {}
        }
    }

    /// The group's result.
    pub(crate) fn result(&self, op: AggOp) -> f64 {
        match op {
            AggOp::Avg => self.mean,
            AggOp::Count | AggOp::CountValues => self.count as f64,
            AggOp::Stdvar => self.value / self.count as f64,
            AggOp::Stddev => (self.value / self.count as f64).sqrt(),
            _ => self.value,
        }
    }

    /// Operators whose groups depend only on each element's labels and
    /// whose result is one number per group: those [`range_groups`] serves.
    pub(crate) fn folds(op: AggOp) -> bool {
        !matches!(
            op,
            AggOp::Topk
                | AggOp::Bottomk
                | AggOp::Quantile
                | AggOp::CountValues
                | AggOp::Limitk
                | AggOp::LimitRatio
        )
    }
}

/// The group of every series of a range aggregation, computed once per
/// series instead of once per series and step: an element's group depends
/// only on its labels, and in a range query each input series keeps its
/// labels at every step. Returns each series' group index and the groups'
/// labels, groups numbered in order of their first series.
pub(crate) fn range_groups<'m>(
    metrics: impl Iterator<Item = &'m Metric>,
    grouping: &[String],
    without: bool,
) -> (Vec<usize>, Vec<Metric>) {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<Metric> = Vec::new();
    let of = metrics
        .map(|m| {
            let key = group_key(m, grouping, without);
            *index.entry(key).or_insert_with(|| {
                groups.push(group_metric(m, grouping, without));
                groups.len() - 1
            })
        })
        .collect();
    (of, groups)
}

fn group_key(m: &Metric, grouping: &[String], without: bool) -> String {
    let mut s = String::new();
    for l in m.iter() {
        let listed = grouping.iter().any(|g| g == &l.name);
        let take = if without {
            !listed && l.name != METRIC_NAME_LABEL
        } else {
            listed
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

fn group_metric(m: &Metric, grouping: &[String], without: bool) -> Metric {
    let v: Vec<Label> = m
        .iter()
        .filter(|l| {
            let listed = grouping.iter().any(|g| g == &l.name);
            if without {
                !listed && l.name != METRIC_NAME_LABEL
            } else {
                listed
            }
        })
        .cloned()
        .collect();
    Metric::from_vec(v)
}

/// A float as Prometheus writes it (Go's `strconv.FormatFloat(v, 'f', -1,
/// 64)`, `NaN`, `+Inf`, `-Inf`): `count_values` labels, API answers, CSV.
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// `topk` keeps a min-heap ordered by this (NaN counts as smallest).
fn topk_less(a: &El, b: &El) -> bool {
    a.v.is_nan() || a.v < b.v
}

/// `bottomk` keeps a max-heap (NaN counts as largest).
fn bottomk_less(a: &El, b: &El) -> bool {
    a.v.is_nan() || a.v > b.v
}

// Go's container/heap, step for step, so that ties come out in the same
// order as in Prometheus.
fn heap_up(h: &mut [El], mut j: usize, less: fn(&El, &El) -> bool) {
    while j > 0 {
        let i = (j - 1) / 2;
        if !less(&h[j], &h[i]) {
            break;
        }
        h.swap(i, j);
        j = i;
    }
}

fn heap_down(h: &mut [El], mut i: usize, n: usize, less: fn(&El, &El) -> bool) {
    loop {
        let j1 = 2 * i + 1;
        if j1 >= n {
            break;
        }
        let mut j = j1;
        let j2 = j1 + 1;
        if j2 < n && less(&h[j2], &h[j1]) {
            j = j2;
        }
        if !less(&h[j], &h[i]) {
            break;
        }
        h.swap(i, j);
        i = j;
    }
}

fn heap_push(h: &mut Vec<El>, e: El, less: fn(&El, &El) -> bool) {
    h.push(e);
    let j = h.len() - 1;
    heap_up(h, j, less);
}

fn heap_pop(h: &mut Vec<El>, less: fn(&El, &El) -> bool) {
    if h.is_empty() {
        return;
    }
    let n = h.len() - 1;
    h.swap(0, n);
    heap_down(h, 0, n, less);
    h.pop();
}

/// `sort.Sort(sort.Reverse(heap))` as Go runs it on short inputs
/// (insertion sort below 13 elements, which is stable); longer inputs use a
/// stable sort on the same order.
fn sort_reverse(h: &mut [El], less: fn(&El, &El) -> bool) {
    let rless = |a: &El, b: &El| less(b, a);
    if h.len() <= 12 {
        for i in 1..h.len() {
            let mut j = i;
            while j > 0 && rless(&h[j], &h[j - 1]) {
                h.swap(j, j - 1);
                j -= 1;
            }
        }
    } else {
        h.sort_by(|a, b| {
            if rless(a, b) {
                std::cmp::Ordering::Less
            } else if rless(b, a) {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        });
    }
}

pub(crate) fn aggregate(
    op: AggOp,
    param: Param<'_>,
    grouping: &[String],
    without: bool,
    vec: Vec<El>,
) -> Result<Vec<El>> {
    if let (AggOp::Limitk | AggOp::LimitRatio, Param::Num(p)) = (op, &param) {
        return super::limit::limit(op, *p, grouping, without, vec);
    }
    let mut k: usize = 0;
    if matches!(op, AggOp::Topk | AggOp::Bottomk) {
        let f = match param {
            Param::Num(f) => f,
            _ => f64::NAN,
        };
        // Prometheus' convertibleToInt64; NaN fails both comparisons.
        if !(f <= i64::MAX as f64 && f >= i64::MIN as f64) {
            return Err(query_err(format!("Scalar value {f} overflows int64")));
        }
        let k64 = f as i64;
        if k64 < 1 {
            return Ok(Vec::new());
        }
        k = usize::try_from(k64).unwrap_or(usize::MAX);
    }
    let q = match param {
        Param::Num(f) => f,
        _ => f64::NAN,
    };
    let mut grouping: Vec<String> = grouping.to_vec();
    let mut value_label = None;
    if op == AggOp::CountValues {
        let Param::Label(l) = param else {
            return Err(query_err("count_values needs a label name"));
        };
        if !valid_label_name(l) {
            return Err(query_err(format!("invalid label name {l:?}")));
        }
        if !without {
            grouping.push(l.to_string());
        }
        value_label = Some(l);
    }
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for mut e in vec {
        if let Some(l) = value_label {
            e.metric = e.metric.with(l, &format_float(e.v));
        }
        let key = group_key(&e.metric, &grouping, without);
        let Some(&gi) = index.get(&key) else {
            let metric = group_metric(&e.metric, &grouping, without);
            let mut g = Group {
                metric,
                acc: Acc::new(op, e.v),
                heap: Vec::new(),
            };
            if matches!(op, AggOp::Topk | AggOp::Bottomk | AggOp::Quantile) {
                g.heap.push(e);
            }
            index.insert(key, groups.len());
            groups.push(g);
            continue;
        };
        let Some(g) = groups.get_mut(gi) else {
            continue;
        };
        let v = e.v;
        match op {
            AggOp::Topk | AggOp::Bottomk => {
                let less = if op == AggOp::Topk {
                    topk_less
                } else {
                    bottomk_less
                };
                let Some(top) = g.heap.first() else {
                    g.heap.push(e);
                    continue;
                };
                let better = if op == AggOp::Topk {
                    top.v < v
                } else {
                    top.v > v
                };
                if g.heap.len() < k || better || top.v.is_nan() {
                    if g.heap.len() == k {
                        if k == 1 {
                            if let Some(slot) = g.heap.first_mut() {
                                *slot = e;
                            }
                            continue;
                        }
                        heap_pop(&mut g.heap, less);
                    }
                    heap_push(&mut g.heap, e, less);
                }
            }
            AggOp::Quantile => g.heap.push(e),
            // Handled by `limit::limit` above.
            AggOp::Limitk | AggOp::LimitRatio => {}
            _ => g.acc.add(op, v),
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for mut g in groups {
        let v = match op {
            AggOp::Topk | AggOp::Bottomk => {
                let less = if op == AggOp::Topk {
                    topk_less
                } else {
                    bottomk_less
                };
                if g.heap.len() > 1 {
                    sort_reverse(&mut g.heap, less);
                }
                out.extend(g.heap);
                continue;
            }
            AggOp::Quantile => {
                let mut vals: Vec<f64> = g.heap.iter().map(|e| e.v).collect();
                quantile(q, &mut vals)
            }
            _ => g.acc.result(op),
        };
        out.push(El {
            metric: g.metric,
            v,
        });
    }
    Ok(out)
}
