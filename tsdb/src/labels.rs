//! Series identity: a metric name and a sorted set of labels, under
//! Prometheus' naming rules.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};

/// The label that holds the metric name, as in Prometheus.
pub const METRIC_NAME_LABEL: &str = "__name__";

/// One `name="value"` pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    /// Label name, `[a-zA-Z_][a-zA-Z0-9_]*`.
    pub name: String,
    /// Label value, any UTF-8.
    pub value: String,
}

/// The identity of a series: `__name__` plus the other labels, sorted by name.
///
/// Built only through checked constructors, so a `Labels` in hand always
/// satisfies the naming rules. As in Prometheus a label with an empty value
/// is the same as no label, and is dropped.
///
/// Cloning is cheap (the labels are shared), since a collector hands the
/// same label sets to every scrape.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Arc<[Label]>);

impl Default for Labels {
    fn default() -> Self {
        Labels(Arc::from(Vec::new()))
    }
}

impl Labels {
    /// A series of metric `name` with the given labels.
    ///
    /// ```
    /// let l = minetsdb::Labels::new("nvidia_smi_power_draw_watts", &[("uuid", "GPU-1")]).unwrap();
    /// assert_eq!(l.to_string(), r#"nvidia_smi_power_draw_watts{uuid="GPU-1"}"#);
    /// ```
    pub fn new(name: &str, labels: &[(&str, &str)]) -> Result<Labels> {
        check_metric_name(name)?;
        let mut v = Vec::with_capacity(labels.len() + 1);
        v.push(Label {
            name: METRIC_NAME_LABEL.to_string(),
            value: name.to_string(),
        });
        for (n, val) in labels {
            if *n == METRIC_NAME_LABEL {
                return Err(Error::InvalidLabel {
                    kind: "label name",
                    name: (*n).to_string(),
                    why: "the metric name is given separately",
                });
            }
            v.push(Label {
                name: (*n).to_string(),
                value: (*val).to_string(),
            });
        }
        Labels::from_vec(v)
    }

    /// A label set from pairs that may include `__name__` (as a scrape or
    /// import yields them). Sorted and checked; the metric name is required.
    pub fn from_pairs<I, N, V>(pairs: I) -> Result<Labels>
    where
        I: IntoIterator<Item = (N, V)>,
        N: Into<String>,
        V: Into<String>,
    {
        let v: Vec<Label> = pairs
            .into_iter()
            .map(|(n, v)| Label {
                name: n.into(),
                value: v.into(),
            })
            .collect();
        Labels::from_vec(v)
    }

    fn from_vec(mut v: Vec<Label>) -> Result<Labels> {
        v.retain(|l| !l.value.is_empty());
        v.sort();
        for w in v.windows(2) {
            if w[0].name == w[1].name {
                return Err(Error::InvalidLabel {
                    kind: "label name",
                    name: w[0].name.clone(),
                    why: "appears twice",
                });
            }
        }
        let mut has_name = false;
        for l in &v {
            if l.name == METRIC_NAME_LABEL {
                check_metric_name(&l.value)?;
                has_name = true;
            } else {
                check_label_name(&l.name)?;
            }
        }
        if !has_name {
            return Err(Error::InvalidLabel {
                kind: "label set",
                name: render(&v),
                why: "has no metric name",
            });
        }
        Ok(Labels(v.into()))
    }

    /// Labels decoded from our own files, where they were checked on the
    /// way in; only sorts. Not public: outside callers go through the checks.
    pub(crate) fn from_trusted(mut v: Vec<Label>) -> Labels {
        v.sort();
        Labels(v.into())
    }

    /// The metric name (value of `__name__`).
    pub fn metric_name(&self) -> &str {
        self.get(METRIC_NAME_LABEL).unwrap_or("")
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].value.as_str())
    }

    /// All labels, `__name__` included, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &Label> {
        self.0.iter()
    }

    /// Number of labels including `__name__`.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True only for the default, empty label set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Borrow the labels as a slice.
    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }
}

fn render(v: &[Label]) -> String {
    let mut s = String::new();
    let name = v
        .iter()
        .find(|l| l.name == METRIC_NAME_LABEL)
        .map(|l| l.value.as_str())
        .unwrap_or("");
    s.push_str(name);
    s.push('{');
    let mut first = true;
    for l in v.iter().filter(|l| l.name != METRIC_NAME_LABEL) {
        if !first {
            s.push_str(", ");
        }
        first = false;
        s.push_str(&l.name);
        s.push_str("=\"");
        for c in l.value.chars() {
            match c {
                '\\' => s.push_str("\\\\"),
                '"' => s.push_str("\\\""),
                '\n' => s.push_str("\\n"),
                c => s.push(c),
            }
        }
        s.push('"');
    }
    s.push('}');
    s
}

impl fmt::Display for Labels {
    /// Prometheus' text form: `name{a="1", b="2"}`; `name` alone with no labels.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() == 1 {
            return f.write_str(self.metric_name());
        }
        f.write_str(&render(&self.0))
    }
}

/// Checks a metric name against `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn check_metric_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.bytes().enumerate().all(|(i, b)| {
            b.is_ascii_alphabetic() || b == b'_' || b == b':' || (i > 0 && b.is_ascii_digit())
        });
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidLabel {
            kind: "metric name",
            name: name.to_string(),
            why: "must match [a-zA-Z_:][a-zA-Z0-9_:]*",
        })
    }
}

/// Checks a label name against `[a-zA-Z_][a-zA-Z0-9_]*`, with names that
/// begin `__` reserved for internal use.
pub fn check_label_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_alphabetic() || b == b'_' || (i > 0 && b.is_ascii_digit()));
    if !ok {
        return Err(Error::InvalidLabel {
            kind: "label name",
            name: name.to_string(),
            why: "must match [a-zA-Z_][a-zA-Z0-9_]*",
        });
    }
    if name.starts_with("__") {
        return Err(Error::InvalidLabel {
            kind: "label name",
            name: name.to_string(),
            why: "names beginning with __ are reserved",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_empty_values_dropped() {
        let l = Labels::new("m", &[("z", "1"), ("a", "2"), ("e", "")]).unwrap();
        let names: Vec<_> = l.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "a", "z"]);
        assert_eq!(l.to_string(), r#"m{a="2", z="1"}"#);
    }

    #[test]
    fn bad_names_are_named_in_the_error() {
        let e = Labels::new("1abc", &[]).unwrap_err().to_string();
        assert!(e.contains("\"1abc\""), "{e}");
        let e = Labels::new("m", &[("a-b", "x")]).unwrap_err().to_string();
        assert!(e.contains("\"a-b\""), "{e}");
        assert!(Labels::new("m", &[("__x", "1")]).is_err());
        assert!(Labels::new("m", &[("a", "1"), ("a", "2")]).is_err());
        assert!(Labels::from_pairs([("a", "1")]).is_err());
        assert!(Labels::new("ns:metric_total", &[("_ok", "1")]).is_ok());
    }

    #[test]
    fn escapes_in_display() {
        let l = Labels::new("m", &[("a", "x\"y\\z\n")]).unwrap();
        assert_eq!(l.to_string(), r#"m{a="x\"y\\z\n"}"#);
    }
}
