//! Label matchers with Prometheus semantics.
//!
//! A matcher tests one label of a series. As in Prometheus, a series that
//! lacks the label is tested as if its value were the empty string, so
//! `job=""` selects series without `job`, and regexes are fully anchored:
//! `=~"gpu.*"` must match the whole value.

use std::fmt;

use regex::Regex;

use crate::error::{Error, Result};
use crate::labels::Labels;

/// How a matcher compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~` (anchored regex)
    Regex,
    /// `!~` (anchored regex, negated)
    NotRegex,
}

/// One label matcher, e.g. `uuid=~"GPU-.*"`.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// Label name; `__name__` for the metric name.
    pub name: String,
    /// Comparison.
    pub op: MatchOp,
    /// Value or pattern as given.
    pub value: String,
    re: Option<Regex>,
}

impl Matcher {
    /// Builds a matcher; regex patterns are compiled (anchored) here so a
    /// bad pattern fails before any data is read.
    pub fn new(op: MatchOp, name: &str, value: &str) -> Result<Matcher> {
        let re = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                Regex::new(&format!("^(?:{value})$")).map_err(|e| Error::InvalidRegex {
                    pattern: value.to_string(),
                    source: Box::new(e),
                })?,
            ),
            _ => None,
        };
        Ok(Matcher {
            name: name.to_string(),
            op,
            value: value.to_string(),
            re,
        })
    }

    /// `name="value"`.
    pub fn equal(name: &str, value: &str) -> Matcher {
        Matcher {
            name: name.to_string(),
            op: MatchOp::Equal,
            value: value.to_string(),
            re: None,
        }
    }

    /// Matches series whose metric name is `name`.
    pub fn metric(name: &str) -> Matcher {
        Matcher::equal(crate::labels::METRIC_NAME_LABEL, name)
    }

    /// Does a label value (empty when the label is absent) satisfy this matcher?
    pub fn matches_value(&self, v: &str) -> bool {
        match (self.op, &self.re) {
            (MatchOp::Equal, _) => v == self.value,
            (MatchOp::NotEqual, _) => v != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(v),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(v),
            // Constructed only through `new` for regex ops.
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }

    /// Does the series satisfy this matcher?
    pub fn matches(&self, labels: &Labels) -> bool {
        self.matches_value(labels.get(&self.name).unwrap_or(""))
    }

    /// True if the matcher accepts the empty value, i.e. also selects
    /// series that lack the label.
    pub fn matches_empty(&self) -> bool {
        self.matches_value("")
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        };
        write!(f, "{}{}{:?}", self.name, op, self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l() -> Labels {
        Labels::new("gpu_temp", &[("uuid", "GPU-1"), ("rig", "a")]).unwrap()
    }

    #[test]
    fn prometheus_semantics() {
        let s = l();
        assert!(Matcher::new(MatchOp::Equal, "uuid", "GPU-1")
            .unwrap()
            .matches(&s));
        assert!(Matcher::new(MatchOp::Regex, "uuid", "GPU-.*")
            .unwrap()
            .matches(&s));
        // Anchored: a substring is not a match.
        assert!(!Matcher::new(MatchOp::Regex, "uuid", "GPU")
            .unwrap()
            .matches(&s));
        assert!(Matcher::new(MatchOp::NotRegex, "uuid", "GPU")
            .unwrap()
            .matches(&s));
        // Absent label compares as "".
        assert!(Matcher::new(MatchOp::Equal, "job", "").unwrap().matches(&s));
        assert!(Matcher::new(MatchOp::NotEqual, "job", "x")
            .unwrap()
            .matches(&s));
        assert!(!Matcher::new(MatchOp::Regex, "job", ".+")
            .unwrap()
            .matches(&s));
        assert!(Matcher::new(MatchOp::Regex, "job", "a|")
            .unwrap()
            .matches(&s));
        assert!(Matcher::new(MatchOp::Regex, "__name__", "gpu_.*")
            .unwrap()
            .matches(&s));
        // Alternation stays inside the anchors.
        assert!(!Matcher::new(MatchOp::Regex, "uuid", "x|GPU")
            .unwrap()
            .matches(&s));
    }

    #[test]
    fn bad_regex_names_pattern() {
        let e = Matcher::new(MatchOp::Regex, "a", "(")
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"(\""), "{e}");
    }
}
