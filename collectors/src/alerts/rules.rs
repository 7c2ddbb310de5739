//! Rules: the model, config.toml's `[alerting]` and `[[alert]]`, and
//! Prometheus rule files read as Prometheus reads them.
//!
//! ```toml
//! [alerting]
//! defaults = true                  # the mining rules of `defaults` [default: true]
//! disable = ["GpuFanHigh"]         # rules left out, by alert name [default: none]
//! rule_files = ["rules.yml"]       # Prometheus rule files, relative to this file
//! interval = "1m"                  # how often `collect` evaluates [default: 1m]
//! external_labels = { rig = "rig1" }  # on every notified alert (the alert's own win); $externalLabels in templates
//!
//! [[alert]]
//! name = "RigPowerHigh"
//! expr = "sum by (instance) (nvidia_smi_power_draw_watts) > 1500"
//! for = "10m"                      # [default: 0, fire at once]
//! severity = "critical"            # warning or critical [default: warning]
//! labels = { team = "me" }
//! annotations = { summary = "{{ $labels.instance }} draws {{ $value }} W" }
//! ```
//!
//! A rule file is Prometheus' format (`groups:` of `rules:` with `alert` or
//! `record`, `expr`, `for`, `keep_firing_for`, `labels`, `annotations`;
//! group `interval`). Expressions are parsed and templates compiled when
//! the file is loaded, and every problem is reported with the file, line
//! and column, the group and the rule.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::template::Template;
use crate::config::ConfigError;

/// Default `[alerting] interval`: 1 minute, Prometheus' default.
pub const DEFAULT_INTERVAL_MS: i64 = 60_000;

/// One alerting rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRule {
    /// `alert`: the `alertname` label.
    pub name: String,
    /// The PromQL expression; each output series is an alert.
    pub expr: String,
    /// `for`: how long it must hold before firing, ms.
    pub for_ms: i64,
    /// `keep_firing_for`: how long it keeps firing after it stops holding, ms.
    pub keep_firing_for_ms: i64,
    /// Labels added to each alert; values are templates.
    pub labels: Vec<(String, Template)>,
    /// Annotations; values are templates.
    pub annotations: Vec<(String, Template)>,
    /// Where it was written: `file:line`, `config.toml:line` or `defaults`.
    pub origin: String,
}

impl AlertRule {
    /// The `severity` label as written ("" if none).
    pub fn severity(&self) -> &str {
        self.labels
            .iter()
            .find(|(k, _)| k == "severity")
            .map_or("", |(_, v)| v.source())
    }
}

/// One recording rule: its output is stored as series named `record`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRule {
    /// `record`: the metric name of the output.
    pub name: String,
    /// The PromQL expression.
    pub expr: String,
    /// Labels set on the output (not templated, as in Prometheus).
    pub labels: Vec<(String, String)>,
    /// Where it was written.
    pub origin: String,
}

/// A rule of either kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// `alert:`
    Alert(AlertRule),
    /// `record:`
    Record(RecordRule),
}

impl Rule {
    /// The alert or record name.
    pub fn name(&self) -> &str {
        match self {
            Rule::Alert(a) => &a.name,
            Rule::Record(r) => &r.name,
        }
    }

    /// The expression.
    pub fn expr(&self) -> &str {
        match self {
            Rule::Alert(a) => &a.expr,
            Rule::Record(r) => &r.expr,
        }
    }
}

/// Rules evaluated together, in order, at one interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The group's name.
    pub name: String,
    /// Where it came from (a file, config.toml, or `defaults`).
    pub source: String,
    /// Evaluation interval, ms.
    pub interval_ms: i64,
    /// The rules in file order.
    pub rules: Vec<Rule>,
}

/// `[alerting]` and `[[alert]]` of config.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertingConfig {
    /// Whether the default mining rules are used.
    pub defaults: bool,
    /// Alert names left out.
    pub disable: Vec<String>,
    /// Rule files, resolved against the config file's directory.
    pub rule_files: Vec<PathBuf>,
    /// Evaluation interval of `collect`, ms; also of rule-file groups
    /// without their own.
    pub interval_ms: i64,
    /// `$externalLabels` of templates, and added to the labels of alerts
    /// sent to receivers (see [`crate::alerts::notify`]).
    pub external_labels: BTreeMap<String, String>,
    /// The `[[alert]]` rules.
    pub rules: Vec<AlertRule>,
}

impl Default for AlertingConfig {
    fn default() -> Self {
        AlertingConfig {
            defaults: true,
            disable: Vec::new(),
            rule_files: Vec::new(),
            interval_ms: DEFAULT_INTERVAL_MS,
            external_labels: BTreeMap::new(),
            rules: Vec::new(),
        }
    }
}

/// A rule problem: file, position when known, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", path.display(), at.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
pub struct RuleError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line and column.
    pub at: Option<(usize, usize)>,
    /// What is wrong, naming the group and rule.
    pub message: String,
}

/// Parses a duration as Prometheus writes them: `0`, `90s`, `1h30m`,
/// units y w d h m s ms in that order.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let t = s.trim();
    if t == "0" {
        return Ok(0);
    }
    let bad = || format!("not a valid duration string: {s:?}");
    if t.is_empty() {
        return Err(bad());
    }
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ];
    let mut rest = t;
    let mut total: i64 = 0;
    let mut next_unit = 0;
    while !rest.is_empty() {
        let n_end = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if n_end == 0 {
            return Err(bad());
        }
        let n: i64 = rest[..n_end].parse().map_err(|_| bad())?;
        let after = &rest[n_end..];
        let u_end = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let unit = &after[..u_end];
        let idx = UNITS
            .iter()
            .position(|(u, _)| *u == unit)
            .filter(|&i| i >= next_unit)
            .ok_or_else(bad)?;
        next_unit = idx + 1;
        total = n
            .checked_mul(UNITS[idx].1)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("duration {s:?} is too long"))?;
        rest = &after[u_end..];
    }
    Ok(total)
}

/// Checks a label name as Prometheus' rule files do.
fn label_name_ok(n: &str) -> Result<(), String> {
    minetsdb::check_label_name(n).map_err(|e| e.to_string())
}

fn compile_templates(
    pairs: impl IntoIterator<Item = (String, String)>,
    what: &str,
) -> Result<Vec<(String, Template)>, String> {
    let mut out = Vec::new();
    for (k, v) in pairs {
        label_name_ok(&k).map_err(|e| format!("{what} {k:?}: {e}"))?;
        let t = Template::parse(&v).map_err(|e| format!("{what} {k:?}: {}", e.message))?;
        out.push((k, t));
    }
    Ok(out)
}

fn check_expr(expr: &str) -> Result<(), String> {
    if expr.trim().is_empty() {
        return Err("field 'expr' must be set in rule".into());
    }
    minetsdb::promql::check(expr).map_err(|e| match e {
        minetsdb::Error::Query { msg, .. } => format!("could not parse expression: {msg}"),
        other => format!("could not parse expression: {other}"),
    })
}

// ---- config.toml ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlerting {
    defaults: Option<bool>,
    #[serde(default)]
    disable: Vec<String>,
    #[serde(default)]
    rule_files: Vec<String>,
    interval: Option<Spanned<String>>,
    #[serde(default)]
    external_labels: BTreeMap<Spanned<String>, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlert {
    name: Spanned<String>,
    expr: Spanned<String>,
    #[serde(rename = "for")]
    for_: Option<Spanned<String>>,
    keep_firing_for: Option<Spanned<String>>,
    severity: Option<Spanned<String>>,
    #[serde(default)]
    labels: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    annotations: BTreeMap<Spanned<String>, Spanned<String>>,
}

/// Builds a [`ConfigError`] at a span of the config text.
pub(crate) type Invalid<'a> = &'a dyn Fn(Option<Range<usize>>, String) -> ConfigError;

/// Checks `[alerting]` and `[[alert]]`: names, durations, expressions,
/// templates, each error at its line and column. `line_of` maps a byte
/// offset to its line, for the rule's origin.
pub(crate) fn parse_config(
    raw: Option<RawAlerting>,
    alerts: Vec<RawAlert>,
    config_path: &Path,
    line_of: &dyn Fn(usize) -> usize,
    invalid: Invalid<'_>,
) -> Result<AlertingConfig, ConfigError> {
    let mut c = AlertingConfig::default();
    if let Some(raw) = raw {
        c.defaults = raw.defaults.unwrap_or(true);
        c.disable = raw.disable;
        let base = config_path.parent().unwrap_or(Path::new("."));
        c.rule_files = raw.rule_files.iter().map(|f| base.join(f)).collect();
        if let Some(i) = &raw.interval {
            c.interval_ms = parse_duration(i.get_ref())
                .ok()
                .filter(|&v| v > 0)
                .ok_or_else(|| {
                    invalid(
                        Some(i.span()),
                        format!(
                            "alerting.interval: {:?} is not a duration above 0",
                            i.get_ref()
                        ),
                    )
                })?;
        }
        for (k, v) in raw.external_labels {
            label_name_ok(k.get_ref())
                .map_err(|e| invalid(Some(k.span()), format!("alerting.external_labels: {e}")))?;
            c.external_labels.insert(k.into_inner(), v);
        }
    }
    for a in alerts {
        let name = a.name.get_ref().clone();
        let key = |k: &str| format!("alert {name:?}: {k}");
        if minetsdb::check_metric_name(&name).is_err() || name.contains(':') {
            return Err(invalid(
                Some(a.name.span()),
                format!("alert.name: {name:?} is not a valid alert name ([a-zA-Z_][a-zA-Z0-9_]*)"),
            ));
        }
        check_expr(a.expr.get_ref())
            .map_err(|e| invalid(Some(a.expr.span()), format!("{}: {e}", key("expr"))))?;
        let dur = |d: &Option<Spanned<String>>, k: &str| -> Result<i64, ConfigError> {
            match d {
                None => Ok(0),
                Some(d) => parse_duration(d.get_ref())
                    .map_err(|e| invalid(Some(d.span()), format!("{}: {e}", key(k)))),
            }
        };
        let for_ms = dur(&a.for_, "for")?;
        let keep_firing_for_ms = dur(&a.keep_firing_for, "keep_firing_for")?;
        let severity = match &a.severity {
            None => "warning".to_string(),
            Some(s) if matches!(s.get_ref().as_str(), "warning" | "critical") => {
                s.get_ref().clone()
            }
            Some(s) => {
                return Err(invalid(
                    Some(s.span()),
                    format!("{}: must be warning or critical", key("severity")),
                ))
            }
        };
        let mut labels = Vec::new();
        for (k, v) in &a.labels {
            if k.get_ref() == "severity" {
                return Err(invalid(
                    Some(k.span()),
                    format!("{}: set severity with the severity key", key("labels")),
                ));
            }
            let t = compile_templates([(k.get_ref().clone(), v.get_ref().clone())], "label")
                .map_err(|e| invalid(Some(v.span()), format!("{}: {e}", key("labels"))))?;
            labels.extend(t);
        }
        labels.push((
            "severity".to_string(),
            Template::parse(&severity).map_err(|e| invalid(None, e.to_string()))?,
        ));
        labels.sort_by(|x, y| x.0.cmp(&y.0));
        let mut annotations = Vec::new();
        for (k, v) in &a.annotations {
            let t = compile_templates([(k.get_ref().clone(), v.get_ref().clone())], "annotation")
                .map_err(|e| invalid(Some(v.span()), format!("{}: {e}", key("annotations"))))?;
            annotations.extend(t);
        }
        c.rules.push(AlertRule {
            origin: format!("{}:{}", config_path.display(), line_of(a.name.span().start)),
            name,
            expr: a.expr.into_inner(),
            for_ms,
            keep_firing_for_ms,
            labels,
            annotations,
        });
    }
    Ok(c)
}

// ---- Prometheus rule files ----

/// A YAML scalar where Prometheus takes a string (`expr: 1`, `priority: 2`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    fn into_string(self) -> String {
        match self {
            Scalar::Str(s) => s,
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    groups: Vec<RawGroup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    name: String,
    interval: Option<String>,
    #[serde(default)]
    rules: Vec<RawRule>,
    // Prometheus' cap on alerts per rule: accepted, not enforced.
    #[allow(dead_code)]
    limit: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    alert: Option<String>,
    record: Option<String>,
    expr: Option<Scalar>,
    #[serde(rename = "for")]
    for_: Option<String>,
    keep_firing_for: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, Scalar>,
    #[serde(default)]
    annotations: BTreeMap<String, Scalar>,
}

/// Line and column of each rule (its `alert:`/`record:` key), in file
/// order, found by scanning the text: serde_norway gives no positions of
/// values, and block-style rule files put one rule key per line.
fn rule_positions(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        let t2 = t.strip_prefix('-').map_or(t, str::trim_start);
        for key in ["alert:", "record:"] {
            if t2.starts_with(key) {
                let col = line.len() - t2.len() + key.len();
                let val_col = col + (line[col..].len() - line[col..].trim_start().len());
                out.push((i + 1, val_col + 1));
            }
        }
    }
    out
}

/// Line and column of `key:`'s value within the lines of one rule.
fn key_position(text: &str, from_line: usize, to_line: usize, key: &str) -> Option<(usize, usize)> {
    let pat = format!("{key}:");
    for (i, line) in text.lines().enumerate().skip(from_line.saturating_sub(1)) {
        if i + 1 >= to_line {
            break;
        }
        let t = line.trim_start();
        let t2 = t.strip_prefix('-').map_or(t, str::trim_start);
        if let Some(rest) = t2.strip_prefix(&pat) {
            let col = line.len() - rest.trim_start().len();
            return Some((i + 1, col + 1));
        }
    }
    None
}

/// Parses a Prometheus rule file; every problem found is returned.
pub fn parse_rule_file(
    text: &str,
    path: &Path,
    default_interval_ms: i64,
) -> Result<Vec<Group>, Vec<RuleError>> {
    let err = |at: Option<(usize, usize)>, message: String| RuleError {
        path: path.to_path_buf(),
        at,
        message,
    };
    let raw: RawFile = match serde_norway::from_str(text) {
        Ok(r) => r,
        // An empty file is an empty rule file, as for Prometheus.
        Err(_) if text.trim().is_empty() => RawFile { groups: Vec::new() },
        Err(e) => {
            let at = e.location().map(|l| (l.line(), l.column()));
            let msg = e.to_string();
            let msg = match msg.rfind(" at line ") {
                Some(i) if at.is_some() => msg[..i].to_string(),
                _ => msg,
            };
            return Err(vec![err(at, msg)]);
        }
    };
    let positions = rule_positions(text);
    let mut errors = Vec::new();
    let mut groups = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    let mut n = 0usize; // rule index in file order
    for g in raw.groups {
        let first_at = positions.get(n).copied();
        if g.name.is_empty() {
            errors.push(err(first_at, "group name must not be empty".into()));
        } else if !names.insert(g.name.clone()) {
            errors.push(err(first_at, format!("{:?}: repeated group name", g.name)));
        }
        let interval_ms = match &g.interval {
            None => default_interval_ms,
            Some(i) => match parse_duration(i) {
                Ok(v) if v > 0 => v,
                _ => {
                    errors.push(err(
                        first_at,
                        format!(
                            "group {:?}: interval {i:?} is not a duration above 0",
                            g.name
                        ),
                    ));
                    default_interval_ms
                }
            },
        };
        let mut rules = Vec::new();
        for (i, r) in g.rules.into_iter().enumerate() {
            let at = positions.get(n).copied();
            let next_line = positions.get(n + 1).map_or(usize::MAX, |p| p.0);
            n += 1;
            let label = r
                .alert
                .as_deref()
                .or(r.record.as_deref())
                .unwrap_or("")
                .to_string();
            let ctx = format!("group {:?}, rule {}, {label:?}", g.name, i + 1);
            let key_at = |k: &str| {
                at.and_then(|a| key_position(text, a.0, next_line, k))
                    .or(at)
            };
            match build_rule(r, path, at) {
                Ok(rule) => rules.push(rule),
                Err((key, m)) => errors.push(err(key_at(key), format!("{ctx}: {m}"))),
            }
        }
        groups.push(Group {
            name: g.name,
            source: path.display().to_string(),
            interval_ms,
            rules,
        });
    }
    if errors.is_empty() {
        Ok(groups)
    } else {
        Err(errors)
    }
}

/// One rule of a file, or the key at fault and why.
fn build_rule(
    r: RawRule,
    path: &Path,
    at: Option<(usize, usize)>,
) -> Result<Rule, (&'static str, String)> {
    let origin = match at {
        Some((l, _)) => format!("{}:{l}", path.display()),
        None => path.display().to_string(),
    };
    let expr = r.expr.map(Scalar::into_string).unwrap_or_default();
    let labels: Vec<(String, String)> = r
        .labels
        .into_iter()
        .map(|(k, v)| (k, v.into_string()))
        .collect();
    let annotations: Vec<(String, String)> = r
        .annotations
        .into_iter()
        .map(|(k, v)| (k, v.into_string()))
        .collect();
    match (r.alert, r.record) {
        (Some(_), Some(_)) => Err((
            "record",
            "only one of 'record' and 'alert' must be set".into(),
        )),
        (None, None) => Err(("expr", "one of 'record' or 'alert' must be set".into())),
        (None, Some(name)) => {
            if minetsdb::check_metric_name(&name).is_err() {
                return Err(("record", format!("invalid recording rule name: {name}")));
            }
            if r.for_.is_some() || r.keep_firing_for.is_some() {
                return Err(("for", "invalid field 'for' in recording rule".into()));
            }
            if !annotations.is_empty() {
                return Err((
                    "annotations",
                    "invalid field 'annotations' in recording rule".into(),
                ));
            }
            check_expr(&expr).map_err(|e| ("expr", e))?;
            for (k, _) in &labels {
                label_name_ok(k).map_err(|e| ("labels", format!("label {k:?}: {e}")))?;
            }
            Ok(Rule::Record(RecordRule {
                name,
                expr,
                labels,
                origin,
            }))
        }
        (Some(name), None) => {
            if name.is_empty() {
                return Err(("alert", "alert name must not be empty".into()));
            }
            check_expr(&expr).map_err(|e| ("expr", e))?;
            let dur =
                |d: &Option<String>, k: &'static str| -> Result<i64, (&'static str, String)> {
                    match d {
                        None => Ok(0),
                        Some(d) => parse_duration(d).map_err(|e| (k, e)),
                    }
                };
            let for_ms = dur(&r.for_, "for")?;
            let keep_firing_for_ms = dur(&r.keep_firing_for, "keep_firing_for")?;
            let labels = compile_templates(labels, "label").map_err(|e| ("labels", e))?;
            let annotations =
                compile_templates(annotations, "annotation").map_err(|e| ("annotations", e))?;
            Ok(Rule::Alert(AlertRule {
                name,
                expr,
                for_ms,
                keep_firing_for_ms,
                labels,
                annotations,
                origin,
            }))
        }
    }
}

/// Reads and parses a rule file.
pub fn load_rule_file(path: &Path, default_interval_ms: i64) -> Result<Vec<Group>, Vec<RuleError>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![RuleError {
            path: path.to_path_buf(),
            at: None,
            message: format!("reading rule file: {e}"),
        }]
    })?;
    parse_rule_file(&text, path, default_interval_ms)
}

/// Every rule `collect` and `alerts` evaluate: the defaults built from
/// `[thresholds]` (unless `defaults = false`), `[[alert]]`, then each rule
/// file; `disable` removes alerts by name (a name matching no rule is an
/// error, to catch typos). All problems of all files are returned.
pub fn load_rules(config: &crate::config::Config) -> Result<Vec<Group>, Vec<RuleError>> {
    let a = &config.alerting;
    let mut groups = Vec::new();
    let mut errors = Vec::new();
    if a.defaults {
        groups.push(Group {
            name: "minetsdb-defaults".into(),
            source: "defaults".into(),
            interval_ms: a.interval_ms,
            rules: super::defaults::rules(&config.thresholds)
                .into_iter()
                .map(Rule::Alert)
                .collect(),
        });
    }
    if !a.rules.is_empty() {
        groups.push(Group {
            name: "config".into(),
            source: "config.toml".into(),
            interval_ms: a.interval_ms,
            rules: a.rules.iter().cloned().map(Rule::Alert).collect(),
        });
    }
    for f in &a.rule_files {
        match load_rule_file(f, a.interval_ms) {
            Ok(g) => groups.extend(g),
            Err(e) => errors.extend(e),
        }
    }
    for name in &a.disable {
        let known = groups
            .iter()
            .flat_map(|g| &g.rules)
            .any(|r| matches!(r, Rule::Alert(x) if &x.name == name));
        if !known {
            errors.push(RuleError {
                path: PathBuf::from("config.toml"),
                at: None,
                message: format!("alerting.disable: no alert rule is named {name:?}"),
            });
        }
    }
    for g in &mut groups {
        g.rules
            .retain(|r| !matches!(r, Rule::Alert(x) if a.disable.contains(&x.name)));
    }
    if errors.is_empty() {
        Ok(groups)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_prometheus_writes_them() {
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("0s"), Ok(0));
        assert_eq!(parse_duration("5m"), Ok(300_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert_eq!(parse_duration("1d2h"), Ok(93_600_000));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("m5").is_err());
        assert!(parse_duration("30m1h").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("1x").is_err());
    }

    const GOOD: &str = r#"groups:
  - name: gpu
    interval: 30s
    rules:
      - record: instance:gpu_power:sum
        expr: sum by (instance) (nvidia_smi_power_draw_watts)
      - alert: GpuHot
        expr: nvidia_smi_temperature_gpu > 85
        for: 5m
        keep_firing_for: 1m
        labels:
          severity: critical
          priority: 1
        annotations:
          summary: "GPU {{ $labels.uuid }} is at {{ $value }}°C"
"#;

    #[test]
    fn reads_a_prometheus_rule_file() {
        let g = parse_rule_file(GOOD, Path::new("r.yml"), 60_000).unwrap();
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].interval_ms, 30_000);
        let Rule::Alert(a) = &g[0].rules[1] else {
            panic!("not an alert")
        };
        assert_eq!(a.name, "GpuHot");
        assert_eq!((a.for_ms, a.keep_firing_for_ms), (300_000, 60_000));
        assert_eq!(a.severity(), "critical");
        assert_eq!(a.origin, "r.yml:7");
        assert!(a
            .labels
            .iter()
            .any(|(k, v)| k == "priority" && v.source() == "1"));
        assert!(matches!(&g[0].rules[0], Rule::Record(r) if r.name == "instance:gpu_power:sum"));
    }

    fn errors(text: &str) -> Vec<String> {
        parse_rule_file(text, Path::new("r.yml"), 60_000)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn errors_name_file_line_column_group_and_rule() {
        let bad_expr = GOOD.replace("> 85", "> > 85");
        let e = errors(&bad_expr);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with(
                "r.yml:8:15: group \"gpu\", rule 2, \"GpuHot\": could not parse expression"
            ),
            "{e:?}"
        );
        let e = errors(&GOOD.replace("{{ $value }}", "{{ $value | humanise }}"));
        assert!(
            e[0].starts_with("r.yml:14:") && e[0].contains("\"humanise\" not defined"),
            "{e:?}"
        );
        let e = errors(&GOOD.replace("for: 5m", "for: 5 minutes"));
        assert!(
            e[0].starts_with("r.yml:9:14:") && e[0].contains("not a valid duration"),
            "{e:?}"
        );
        let e = errors(&GOOD.replace("alert: GpuHot", "alert: GpuHot\n        record: x"));
        assert!(e[0].contains("only one of 'record' and 'alert'"), "{e:?}");
        // YAML syntax and unknown keys: serde_norway's position.
        let e = errors("groups:\n  - name: a\n    rules:\n      - alert: X\n        exprr: up\n");
        assert!(
            e[0].starts_with("r.yml:5:") && e[0].contains("exprr"),
            "{e:?}"
        );
        let e = errors("groups:\n  - name: a\n   rules: [\n");
        assert!(e[0].starts_with("r.yml:3:"), "{e:?}");
        // Every broken rule is reported, not only the first.
        let two = GOOD.replace("> 85", "> > 85").replace("sum by", "sum byy");
        assert_eq!(errors(&two).len(), 2);
        let e = errors(
            "groups:\n  - name: a\n    rules:\n      - record: \"bad name\"\n        expr: up\n",
        );
        assert!(e[0].contains("invalid recording rule name"), "{e:?}");
        let e = errors("groups:\n  - name: a\n    rules: []\n  - name: a\n    rules: []\n");
        assert!(e[0].contains("repeated group name"), "{e:?}");
    }

    #[test]
    fn config_toml_alerting_and_alerts() {
        use crate::config::Config;
        let p = Path::new("/etc/m/config.toml");
        let c = Config::parse(
            "[alerting]\ndefaults = false\nrule_files = [\"rules.yml\"]\ninterval = \"30s\"\nexternal_labels = { rig = \"r1\" }\n\n[[alert]]\nname = \"RigPowerHigh\"\nexpr = \"sum(nvidia_smi_power_draw_watts) > 1500\"\nfor = \"10m\"\nseverity = \"critical\"\nannotations = { summary = \"{{ $value | humanize }}W\" }\n",
            p,
        )
        .unwrap();
        let a = &c.alerting;
        assert!(!a.defaults);
        assert_eq!(a.rule_files, vec![PathBuf::from("/etc/m/rules.yml")]);
        assert_eq!(a.interval_ms, 30_000);
        assert_eq!(a.rules[0].for_ms, 600_000);
        assert_eq!(a.rules[0].severity(), "critical");
        assert_eq!(a.rules[0].origin, "/etc/m/config.toml:8");
        assert_eq!(
            Config::parse("", p).unwrap().alerting,
            AlertingConfig::default()
        );

        let err = |t: &str| {
            Config::parse(t, Path::new("c.toml"))
                .unwrap_err()
                .to_string()
        };
        let e = err("[[alert]]\nname = \"X\"\nexpr = \"up ==\"\n");
        assert!(
            e.starts_with("c.toml:3:8: alert \"X\": expr: could not parse"),
            "{e}"
        );
        let e = err("[[alert]]\nname = \"X\"\nexpr = \"up\"\nseverity = \"page\"\n");
        assert!(
            e.starts_with("c.toml:4:") && e.contains("warning or critical"),
            "{e}"
        );
        let e =
            err("[[alert]]\nname = \"X\"\nexpr = \"up\"\nannotations = { s = \"{{ nope }}\" }\n");
        assert!(
            e.starts_with("c.toml:4:") && e.contains("\"nope\" not defined"),
            "{e}"
        );
        let e = err("[alerting]\ninterval = \"0s\"\n");
        assert!(
            e.starts_with("c.toml:2:") && e.contains("alerting.interval"),
            "{e}"
        );
        let e = err("[[alert]]\nname = \"X\"\nexpr = \"up\"\nfor = \"ten\"\n");
        assert!(e.contains("alert \"X\": for"), "{e}");
    }
}
