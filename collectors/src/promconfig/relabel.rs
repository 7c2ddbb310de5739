//! `relabel_configs` and `metric_relabel_configs` with Prometheus' semantics
//! (`model/relabel/relabel.go`), so a seed's prometheus.yml gives the same
//! targets and series here as in Prometheus.
//!
//! - Defaults: `separator: ";"`, `regex: "(.*)"`, `replacement: "$1"`,
//!   `action: replace`. A key written with an empty value (`regex: ""`)
//!   is that empty value, not the default, as in Prometheus.
//! - Regexes are RE2 syntax (the `regex` crate, as Go's `regexp`) and
//!   anchored at both ends: `^(?:<regex>)$`.
//! - `$1`, `${1}`, `$name`, `${name}` in `replacement` and `target_label`
//!   expand as Go's `Regexp.Expand`: the longest run of `[A-Za-z0-9_]`
//!   after `$` is the group name (so `$1x` is the group named `1x`, empty),
//!   `$$` is a `$`. The regex crate's `Captures::expand` has exactly these
//!   rules.
//! - `replace`: no match, no change; a target label that expands to an
//!   invalid name, no change; an empty result deletes the target label.
//! - `hashmod`: MD5 of the joined source values; the last 8 bytes of the
//!   digest, big-endian, modulo `modulus`.
//! - `labelmap`, `labeldrop`, `labelkeep` test label *names* against the
//!   regex and see the labels as they were before the step.
//! - A label whose value becomes empty no longer exists.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

/// A label set while it is being relabelled: names sorted, no empty values.
pub type LabelSet = BTreeMap<String, String>;

/// What a relabel step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Set `target_label` to the expanded `replacement` when the regex matches.
    Replace,
    /// Drop the label set unless the regex matches the joined source values.
    Keep,
    /// Drop the label set when the regex matches the joined source values.
    Drop,
    /// Drop the label set unless the joined source values equal `target_label`'s value.
    KeepEqual,
    /// Drop the label set when the joined source values equal `target_label`'s value.
    DropEqual,
    /// Set `target_label` to a hash of the joined source values modulo `modulus`.
    HashMod,
    /// Copy every label whose name matches to the name the replacement gives.
    LabelMap,
    /// Delete every label whose name matches.
    LabelDrop,
    /// Delete every label whose name does not match.
    LabelKeep,
    /// Set `target_label` to the joined source values in lower case.
    Lowercase,
    /// Set `target_label` to the joined source values in upper case.
    Uppercase,
}

impl Action {
    fn parse(s: &str) -> Option<Action> {
        // Prometheus lower-cases the action before matching it.
        Some(match s.to_ascii_lowercase().as_str() {
            "replace" => Action::Replace,
            "keep" => Action::Keep,
            "drop" => Action::Drop,
            "keepequal" => Action::KeepEqual,
            "dropequal" => Action::DropEqual,
            "hashmod" => Action::HashMod,
            "labelmap" => Action::LabelMap,
            "labeldrop" => Action::LabelDrop,
            "labelkeep" => Action::LabelKeep,
            "lowercase" => Action::Lowercase,
            "uppercase" => Action::Uppercase,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }
}

/// One relabel step as written in YAML; every key optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRelabel {
    source_labels: Option<Vec<String>>,
    separator: Option<String>,
    regex: Option<String>,
    modulus: Option<u64>,
    target_label: Option<String>,
    replacement: Option<String>,
    action: Option<String>,
}

const DEFAULT_SEPARATOR: &str = ";";
const DEFAULT_REGEX: &str = "(.*)";
const DEFAULT_REPLACEMENT: &str = "$1";

/// One checked relabel step.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawRelabel")]
pub struct RelabelConfig {
    source_labels: Vec<String>,
    separator: String,
    regex: Regex,
    modulus: u64,
    target_label: String,
    replacement: String,
    action: Action,
}

/// The regex, anchored as Prometheus anchors it.
fn anchored(src: &str) -> Result<Regex, String> {
    Regex::new(&format!("^(?:{src})$")).map_err(|e| {
        let first = e.to_string();
        let line = first
            .lines()
            .rfind(|l| l.starts_with("error:"))
            .unwrap_or(first.as_str())
            .to_string();
        format!("regex {src:?}: {line}")
    })
}

/// A label name as Prometheus (before UTF-8 names) accepts it:
/// `[a-zA-Z_][a-zA-Z0-9_]*`; `__` names included.
pub fn is_valid_label_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_alphabetic() || b == b'_' || (i > 0 && b.is_ascii_digit()))
}

/// A `target_label` or `labelmap` replacement with `$` references must
/// still be made of name characters and references (Prometheus'
/// `relabelTarget`).
fn is_valid_template(s: &str) -> bool {
    static TEMPLATE: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r"^(?:(?:[a-zA-Z_]|\$(?:\{[a-zA-Z0-9_]+\}|[a-zA-Z0-9_]+))+[a-zA-Z0-9_]*)+$").ok()
    });
    TEMPLATE.as_ref().is_some_and(|r| r.is_match(s))
}

impl RelabelConfig {
    /// Checks a step as Prometheus' `Validate` does; the message names the
    /// key at fault.
    pub(crate) fn from_raw(raw: RawRelabel) -> Result<RelabelConfig, String> {
        let action = match &raw.action {
            None => Action::Replace,
            Some(a) => Action::parse(a).ok_or_else(|| format!("unknown relabel action {a:?}"))?,
        };
        let regex_src = raw.regex.clone().unwrap_or_else(|| DEFAULT_REGEX.into());
        let c = RelabelConfig {
            source_labels: raw.source_labels.clone().unwrap_or_default(),
            separator: raw
                .separator
                .clone()
                .unwrap_or_else(|| DEFAULT_SEPARATOR.into()),
            regex: anchored(&regex_src)?,
            modulus: raw.modulus.unwrap_or(0),
            target_label: raw.target_label.clone().unwrap_or_default(),
            replacement: raw
                .replacement
                .clone()
                .unwrap_or_else(|| DEFAULT_REPLACEMENT.into()),
            action,
        };
        let a = action.name();
        let tl = &c.target_label;
        let sets_target = matches!(
            action,
            Action::Replace
                | Action::HashMod
                | Action::Lowercase
                | Action::Uppercase
                | Action::KeepEqual
                | Action::DropEqual
        );
        if action == Action::HashMod && c.modulus == 0 {
            return Err("relabel configuration for hashmod requires non-zero modulus".into());
        }
        if sets_target && tl.is_empty() {
            return Err(format!(
                "relabel configuration for {a} action requires 'target_label' value"
            ));
        }
        let invalid_target = match action {
            Action::Replace if tl.contains('$') => !is_valid_template(tl),
            Action::Replace => !is_valid_label_name(tl),
            Action::HashMod
            | Action::Lowercase
            | Action::Uppercase
            | Action::KeepEqual
            | Action::DropEqual => !is_valid_label_name(tl),
            _ => false,
        };
        if invalid_target {
            return Err(format!("{tl:?} is invalid 'target_label' for {a} action"));
        }
        let only_source_and_target = matches!(
            action,
            Action::Lowercase | Action::Uppercase | Action::KeepEqual | Action::DropEqual
        );
        if only_source_and_target && c.replacement != DEFAULT_REPLACEMENT {
            return Err(format!("'replacement' can not be set for {a} action"));
        }
        if action == Action::LabelMap && !is_valid_template(&c.replacement) {
            return Err(format!(
                "{:?} is invalid 'replacement' for {a} action",
                c.replacement
            ));
        }
        if matches!(action, Action::KeepEqual | Action::DropEqual)
            && (regex_src != DEFAULT_REGEX || c.modulus != 0 || c.separator != DEFAULT_SEPARATOR)
        {
            return Err(format!(
                "{a} action requires only 'source_labels' and 'target_label', and no other fields"
            ));
        }
        if matches!(action, Action::LabelDrop | Action::LabelKeep)
            && (raw.source_labels.is_some()
                || !tl.is_empty()
                || c.modulus != 0
                || c.separator != DEFAULT_SEPARATOR
                || c.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(format!(
                "{a} action requires only 'regex', and no other fields"
            ));
        }
        Ok(c)
    }

    /// Applies this step; `false` when it drops the label set.
    fn apply(&self, lb: &mut LabelSet) -> bool {
        let get = |lb: &LabelSet, n: &str| lb.get(n).cloned().unwrap_or_default();
        let val = self
            .source_labels
            .iter()
            .map(|n| get(lb, n))
            .collect::<Vec<_>>()
            .join(&self.separator);
        match self.action {
            Action::Drop => return !self.regex.is_match(&val),
            Action::Keep => return self.regex.is_match(&val),
            Action::DropEqual => return get(lb, &self.target_label) != val,
            Action::KeepEqual => return get(lb, &self.target_label) == val,
            Action::Replace => {
                let Some(caps) = self.regex.captures(&val) else {
                    return true;
                };
                let mut target = String::new();
                caps.expand(&self.target_label, &mut target);
                if !is_valid_label_name(&target) {
                    return true;
                }
                let mut res = String::new();
                caps.expand(&self.replacement, &mut res);
                set(lb, target, res);
            }
            Action::Lowercase => set(lb, self.target_label.clone(), val.to_lowercase()),
            Action::Uppercase => set(lb, self.target_label.clone(), val.to_uppercase()),
            Action::HashMod => {
                let digest = md5::compute(val.as_bytes()).0;
                let mut tail = [0u8; 8];
                tail.copy_from_slice(&digest[8..]);
                let m = u64::from_be_bytes(tail) % self.modulus;
                set(lb, self.target_label.clone(), m.to_string());
            }
            Action::LabelMap => {
                let before: Vec<(String, String)> =
                    lb.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
                for (name, value) in before {
                    if self.regex.is_match(&name) {
                        let to = self
                            .regex
                            .replace_all(&name, self.replacement.as_str())
                            .into_owned();
                        set(lb, to, value);
                    }
                }
            }
            Action::LabelDrop => lb.retain(|n, _| !self.regex.is_match(n)),
            Action::LabelKeep => lb.retain(|n, _| self.regex.is_match(n)),
        }
        true
    }
}

/// Sets a label; an empty value deletes it (Prometheus' `Builder.Set`).
fn set(lb: &mut LabelSet, name: String, value: String) {
    if value.is_empty() {
        lb.remove(&name);
    } else {
        lb.insert(name, value);
    }
}

/// Applies `cfgs` in order; `false` when a step drops the label set (it
/// is then left as it was at that step).
pub fn process(lb: &mut LabelSet, cfgs: &[RelabelConfig]) -> bool {
    dropped_by(lb, cfgs).is_none()
}

/// Like [`process`], but says which step (0-based) dropped the label set.
pub fn dropped_by(lb: &mut LabelSet, cfgs: &[RelabelConfig]) -> Option<usize> {
    cfgs.iter().position(|c| !c.apply(lb))
}

impl TryFrom<RawRelabel> for RelabelConfig {
    type Error = String;
    fn try_from(raw: RawRelabel) -> Result<Self, String> {
        RelabelConfig::from_raw(raw)
    }
}

impl RelabelConfig {
    /// The action's name, as written in YAML.
    pub fn action_name(&self) -> &'static str {
        self.action.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(pairs: &[(&str, &str)]) -> LabelSet {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn cfg(yaml: &str) -> RelabelConfig {
        let raw: RawRelabel = serde_norway::from_str(yaml).unwrap();
        RelabelConfig::from_raw(raw).unwrap()
    }

    fn run(input: &[(&str, &str)], steps: &[&str]) -> Option<LabelSet> {
        let cfgs: Vec<RelabelConfig> = steps.iter().map(|s| cfg(s)).collect();
        let mut lb = ls(input);
        process(&mut lb, &cfgs).then_some(lb)
    }

    fn invalid(yaml: &str) -> String {
        let raw: RawRelabel = serde_norway::from_str(yaml).unwrap();
        RelabelConfig::from_raw(raw).unwrap_err()
    }

    #[test]
    fn replace_expands_groups_in_both_spellings() {
        let got = run(
            &[("a", "foo"), ("b", "bar")],
            &["{source_labels: [a], regex: 'f(.*)', target_label: d, replacement: 'ch${1}-ch$1'}"],
        );
        assert_eq!(
            got,
            Some(ls(&[("a", "foo"), ("b", "bar"), ("d", "choo-choo")]))
        );
    }

    #[test]
    fn replace_joins_sources_with_the_separator_and_chains() {
        let got = run(
            &[("a", "foo"), ("b", "bar"), ("c", "baz")],
            &[
                "{source_labels: [a, b], regex: 'f(.*);(.*)r', target_label: a, replacement: 'b${1}${2}m'}",
                "{source_labels: [c, a], regex: '(b).*b(.*)ba(.*)', target_label: d, replacement: '$1$2$2$3'}",
            ],
        );
        assert_eq!(
            got,
            Some(ls(&[
                ("a", "boobam"),
                ("b", "bar"),
                ("c", "baz"),
                ("d", "boooom")
            ]))
        );
        let got = run(
            &[("a", "x"), ("b", "y")],
            &["{source_labels: [a, b, missing], separator: '|', target_label: j}"],
        );
        assert_eq!(got.unwrap().get("j").map(String::as_str), Some("x|y|"));
    }

    #[test]
    fn regexes_are_anchored() {
        // "f|o" would match inside "foo" unanchored.
        assert!(run(
            &[("a", "foo")],
            &["{source_labels: [a], regex: 'f|o', action: drop}"]
        )
        .is_some());
        assert!(run(
            &[("a", "foo")],
            &["{source_labels: [a], regex: '.*o.*', action: drop}"]
        )
        .is_none());
        // A match inside "abc" at (b) is still a whole-value match of .*(b).*
        let got = run(
            &[("a", "abc")],
            &["{source_labels: [a], regex: '.*(b).*', target_label: d}"],
        );
        assert_eq!(got.unwrap().get("d").map(String::as_str), Some("b"));
    }

    #[test]
    fn no_match_no_replacement() {
        let got = run(
            &[("a", "boo")],
            &["{source_labels: [a], regex: f, target_label: b, replacement: bar}"],
        );
        assert_eq!(got, Some(ls(&[("a", "boo")])));
    }

    #[test]
    fn keep_and_drop() {
        let keep = "{source_labels: [a], regex: 'no-match', action: keep}";
        assert!(run(&[("a", "foo")], &[keep]).is_none());
        assert!(run(
            &[("a", "foo")],
            &["{source_labels: [a], regex: 'f.*', action: keep}"]
        )
        .is_some());
        // A drop stops the chain.
        assert!(run(
            &[("a", "foo")],
            &[
                "{source_labels: [a], regex: '.*o.*', action: drop}",
                "{source_labels: [a], target_label: d}"
            ]
        )
        .is_none());
        // Missing labels are empty strings: keep on '' matches nothing but ''.
        assert!(run(
            &[("a", "foo")],
            &["{source_labels: [zz], regex: '', action: keep}"]
        )
        .is_some());
    }

    #[test]
    fn hashmod_is_md5_tail_mod_modulus() {
        let got = run(
            &[("a", "foo"), ("c", "baz")],
            &["{source_labels: [c], target_label: d, action: hashmod, modulus: 1000}"],
        );
        assert_eq!(got.unwrap().get("d").map(String::as_str), Some("976"));
        let got = run(
            &[("a", "foo\nbar")],
            &["{source_labels: [a], target_label: b, action: hashmod, modulus: 1000}"],
        );
        assert_eq!(got.unwrap().get("b").map(String::as_str), Some("734"));
    }

    #[test]
    fn labelmap_copies_matching_names() {
        let got = run(
            &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
            &["{regex: '(b.*)', replacement: 'bar_${1}', action: labelmap}"],
        );
        assert_eq!(
            got,
            Some(ls(&[
                ("a", "foo"),
                ("b1", "bar"),
                ("b2", "baz"),
                ("bar_b1", "bar"),
                ("bar_b2", "baz")
            ]))
        );
        let got = run(
            &[
                ("a", "foo"),
                ("__meta_my_bar", "aaa"),
                ("__meta_other", "ccc"),
            ],
            &["{regex: '__meta_(my.*)', replacement: '${1}', action: labelmap}"],
        );
        assert_eq!(got.unwrap().get("my_bar").map(String::as_str), Some("aaa"));
    }

    #[test]
    fn labelkeep_and_labeldrop() {
        let input = [("a", "foo"), ("b1", "bar"), ("b2", "baz")];
        assert_eq!(
            run(&input, &["{regex: '(b.*)', action: labelkeep}"]),
            Some(ls(&[("b1", "bar"), ("b2", "baz")]))
        );
        assert_eq!(
            run(&input, &["{regex: '(b.*)', action: labeldrop}"]),
            Some(ls(&[("a", "foo")]))
        );
    }

    #[test]
    fn target_label_from_groups_and_invalid_results() {
        let re = "regex: 'some-([^-]+)-([^,]+)'";
        let got = run(
            &[("a", "some-name-value")],
            &[&format!(
                "{{source_labels: [a], {re}, replacement: '${{2}}', target_label: '${{1}}'}}"
            )],
        );
        assert_eq!(
            got,
            Some(ls(&[("a", "some-name-value"), ("name", "value")]))
        );
        // An empty replacement deletes (here: does not create) the label.
        let got = run(
            &[("a", "some-name-value")],
            &[&format!(
                "{{source_labels: [a], {re}, replacement: '${{3}}', target_label: '${{1}}'}}"
            )],
        );
        assert_eq!(got, Some(ls(&[("a", "some-name-value")])));
        // A target that expands to an invalid name ("0", "") changes nothing.
        let got = run(
            &[("a", "some-name-0")],
            &[
                &format!(
                    "{{source_labels: [a], {re}, replacement: '${{1}}', target_label: '${{3}}'}}"
                ),
                &format!(
                    "{{source_labels: [a], {re}, replacement: '${{1}}', target_label: '${{2}}'}}"
                ),
            ],
        );
        assert_eq!(got, Some(ls(&[("a", "some-name-0")])));
        // $1x is the group named "1x" (absent, so empty), as in Go.
        let got = run(
            &[("a", "v")],
            &["{source_labels: [a], target_label: t, replacement: '$1x'}"],
        );
        assert_eq!(got, Some(ls(&[("a", "v")])));
        // $$ is a literal $.
        let got = run(
            &[("a", "v")],
            &["{source_labels: [a], target_label: t, replacement: '$$${1}'}"],
        );
        assert_eq!(got.unwrap().get("t").map(String::as_str), Some("$v"));
    }

    #[test]
    fn replace_with_empty_value_deletes_the_target() {
        let got = run(
            &[("a", "foo"), ("b", "bar")],
            &["{source_labels: [nope], target_label: b}"],
        );
        assert_eq!(got, Some(ls(&[("a", "foo")])));
    }

    #[test]
    fn case_and_equality_actions() {
        let got = run(
            &[("foo", "bAr123Foo")],
            &[
                "{source_labels: [foo], action: uppercase, target_label: foo_uppercase}",
                "{source_labels: [foo], action: lowercase, target_label: foo_lowercase}",
            ],
        );
        assert_eq!(
            got,
            Some(ls(&[
                ("foo", "bAr123Foo"),
                ("foo_lowercase", "bar123foo"),
                ("foo_uppercase", "BAR123FOO")
            ]))
        );
        let input = [
            ("__tmp_port", "1234"),
            ("__port1", "1234"),
            ("__port2", "5678"),
        ];
        let keq = |t: &str| {
            format!("{{source_labels: [__tmp_port], action: keepequal, target_label: {t}}}")
        };
        let deq = |t: &str| {
            format!("{{source_labels: [__tmp_port], action: dropequal, target_label: {t}}}")
        };
        assert!(run(&input, &[&keq("__port1")]).is_some());
        assert!(run(&input, &[&keq("__port2")]).is_none());
        assert!(run(&input, &[&deq("__port1")]).is_none());
        assert!(run(&input, &[&deq("__port2")]).is_some());
    }

    #[test]
    fn actions_are_case_insensitive() {
        assert!(run(
            &[("a", "x")],
            &["{source_labels: [a], regex: x, action: DROP}"]
        )
        .is_none());
    }

    #[test]
    fn validation_matches_prometheus() {
        assert!(invalid("{action: replace}").contains("requires 'target_label'"));
        assert!(invalid("{action: lowercase}").contains("requires 'target_label'"));
        assert!(invalid("{action: lowercase, target_label: '${3}'}")
            .contains("\"${3}\" is invalid 'target_label'"));
        assert!(invalid("{source_labels: [a], target_label: '0${3}'}")
            .contains("\"0${3}\" is invalid 'target_label'"));
        assert!(invalid("{source_labels: [a], target_label: '-${3}'}")
            .contains("\"-${3}\" is invalid 'target_label' for replace action"));
        assert!(invalid("{action: hashmod, target_label: x}").contains("non-zero modulus"));
        assert!(invalid("{action: labeldrop, regex: a, target_label: x}").contains("only 'regex'"));
        assert!(
            invalid("{action: keepequal, target_label: x, regex: a}").contains("no other fields")
        );
        assert!(
            invalid("{action: uppercase, target_label: x, replacement: y}")
                .contains("'replacement'")
        );
        assert!(invalid("{action: nope}").contains("unknown relabel action \"nope\""));
        assert!(invalid("{regex: '(', target_label: x}").contains("regex \"(\""));
        // Valid: a template target.
        cfg("{source_labels: [a], regex: 'some-([^-]+)-([^,]+)', replacement: '${1}', target_label: '${3}'}");
    }

    #[test]
    fn template_validity() {
        for (s, ok) in [
            ("-label", false),
            ("label", true),
            ("label${1}", true),
            ("${1}label", true),
            ("${1}", true),
            ("${", false),
            ("$", false),
            ("${}", false),
            ("foo${", false),
            ("$1", true),
            ("asd$2asd", true),
            ("-foo${1}bar-", false),
            ("_${1}_", true),
            ("foo${bar}foo", true),
        ] {
            assert_eq!(is_valid_template(s), ok, "{s}");
        }
    }
}
