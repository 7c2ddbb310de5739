//! `prometheus.yml` read as Prometheus 2.42 reads it, for a miner who
//! brings the file of their Prometheus setup (`collect --prometheus-config`).
//!
//! Understood: `global` (`scrape_interval`, `scrape_timeout`,
//! `external_labels`, which are parsed and shown but not stored, as
//! Prometheus only sends them to remote write and alerting), and per
//! `scrape_configs` entry `job_name`, `static_configs` (`targets`,
//! `labels`), `metrics_path`, `scheme`, `params`, `scrape_interval`,
//! `scrape_timeout`, `honor_labels`, `honor_timestamps`, `basic_auth`,
//! `authorization`, `bearer_token[_file]`, `sample_limit`,
//! `body_size_limit`, `relabel_configs` and `metric_relabel_configs`
//! ([`relabel`]).
//!
//! Keys Prometheus knows but that do not change what is scraped here
//! (`rule_files`, `alerting`, `remote_write`, `tls_config`, ...) are
//! accepted and listed in [`PromConfig::warnings`]; any other key is an
//! error naming its path, line and column (serde_norway reports them).
//! Service discovery other than `static_configs` is not supported.
//!
//! Targets are resolved as Prometheus' `PopulateLabels` does: the target's
//! labels start as `__address__`, the group's `labels`, `job`,
//! `__scrape_interval__`, `__scrape_timeout__`, `__metrics_path__`,
//! `__scheme__` and `__param_<name>` (first value of each param); then
//! `relabel_configs`; a target without `__address__` is dropped; an
//! address without a port gets :80 or :443 (as 2.42 does); `instance`
//! defaults to the address; labels starting with `__` are removed from the
//! stored ones but still build the URL (`__param_*` override `params`),
//! which makes the blackbox-exporter pattern (`__address__` ->
//! `__param_target`, a fixed exporter address) work. The schedule is per
//! job (its `scrape_interval`); a target's relabelled `__scrape_timeout__`
//! is its deadline.

pub mod relabel;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::config::{parse_size, ConfigError};
use crate::http::HttpOptions;
use crate::scrape::{target_url, Auth, ScrapeJob, ScrapeOptions, Secret, Target};
use crate::source::Scheduled;
use relabel::{is_valid_label_name, LabelSet, RelabelConfig};

/// Prometheus' default `scrape_interval`: 1 minute.
pub const DEFAULT_SCRAPE_INTERVAL_MS: i64 = 60_000;
/// Prometheus' default `scrape_timeout`: 10 seconds.
pub const DEFAULT_SCRAPE_TIMEOUT_MS: i64 = 10_000;

/// A parsed, checked prometheus.yml.
#[derive(Debug, Clone)]
pub struct PromConfig {
    /// `global`.
    pub global: Global,
    /// `scrape_configs`, in file order.
    pub jobs: Vec<ScrapeConfig>,
    /// Keys accepted but without effect here, one line each.
    pub warnings: Vec<String>,
}

/// The `global` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Global {
    /// Default interval of the jobs, in milliseconds.
    pub scrape_interval_ms: i64,
    /// Default deadline of the jobs, in milliseconds.
    pub scrape_timeout_ms: i64,
    /// `external_labels`, sorted (for remote write; not stored).
    pub external_labels: Vec<(String, String)>,
}

/// One `static_configs` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticConfig {
    /// Addresses, `host:port`.
    pub targets: Vec<String>,
    /// Labels of every target of the group, sorted.
    pub labels: Vec<(String, String)>,
}

/// One `scrape_configs` entry, defaults filled in.
#[derive(Debug, Clone)]
pub struct ScrapeConfig {
    /// `job_name`.
    pub job_name: String,
    /// `scrape_interval`, in milliseconds.
    pub interval_ms: i64,
    /// `scrape_timeout`, in milliseconds.
    pub timeout_ms: i64,
    /// `metrics_path`.
    pub metrics_path: String,
    /// `scheme`.
    pub scheme: String,
    /// `params`, sorted by name.
    pub params: Vec<(String, Vec<String>)>,
    /// `honor_labels`.
    pub honor_labels: bool,
    /// `honor_timestamps`.
    pub honor_timestamps: bool,
    /// From `basic_auth`, `authorization` or `bearer_token[_file]`.
    pub auth: Option<Auth>,
    /// `sample_limit`; 0 is none.
    pub sample_limit: usize,
    /// `body_size_limit` in bytes.
    pub body_size_limit: u64,
    /// `static_configs`.
    pub static_configs: Vec<StaticConfig>,
    /// `relabel_configs`.
    pub relabel_configs: Vec<RelabelConfig>,
    /// `metric_relabel_configs`.
    pub metric_relabel_configs: Vec<RelabelConfig>,
}

/// A job's targets after relabelling.
#[derive(Debug, Clone)]
pub struct ResolvedJob {
    /// `job_name`: the name of its schedule.
    pub name: String,
    /// How often it runs, in milliseconds.
    pub interval_ms: i64,
    /// The targets kept, in file order.
    pub targets: Vec<Target>,
    /// The targets dropped, with why.
    pub dropped: Vec<Dropped>,
}

/// A target that relabelling (or a bad address) dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// Its labels before relabelling.
    pub labels: Vec<(String, String)>,
    /// Why it was dropped.
    pub why: String,
}

/// A duration as Prometheus writes them: `1h30m`, `15s`, `500ms`, `0`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "String")]
struct PromDuration(i64);

impl TryFrom<String> for PromDuration {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        parse_duration(&s).map(PromDuration)
    }
}

/// A size as in `body_size_limit`: `10MB`, `1GiB`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "String")]
struct Size(u64);

impl TryFrom<String> for Size {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        parse_size(&s).map(Size)
    }
}

const UNITS: [(&str, i64); 7] = [
    ("y", 365 * 86_400_000),
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Parses a Prometheus duration (`model.ParseDuration`): number-unit
/// pairs in the order y, w, d, h, m, s, ms, each at most once; `0` alone.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    if s == "0" {
        return Ok(0);
    }
    let bad = || format!("not a valid duration string: {s:?}");
    let mut rest = s;
    let mut next_unit = 0;
    let mut total: i64 = 0;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let d = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if d == 0 {
            return Err(bad());
        }
        let n: i64 = rest[..d].parse().map_err(|_| bad())?;
        rest = &rest[d..];
        let u = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..u];
        rest = &rest[u..];
        let i = UNITS[next_unit..]
            .iter()
            .position(|(name, _)| *name == unit)
            .ok_or_else(bad)?
            + next_unit;
        next_unit = i + 1;
        total = n
            .checked_mul(UNITS[i].1)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    Ok(total)
}

/// Formats milliseconds as Prometheus does (`model.Duration.String`):
/// `1m`, `1h30m`, `90d`; years and weeks only when exact.
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut ms = ms;
    let mut out = String::new();
    for (unit, mult) in UNITS {
        let exact_only = unit == "y" || unit == "w";
        if exact_only && ms % mult != 0 {
            continue;
        }
        let v = ms / mult;
        if v > 0 {
            out.push_str(&format!("{v}{unit}"));
            ms -= v * mult;
        }
    }
    out
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    global: RawGlobal,
    #[serde(default)]
    scrape_configs: Vec<RawScrape>,
    rule_files: Option<IgnoredAny>,
    alerting: Option<IgnoredAny>,
    remote_write: Option<IgnoredAny>,
    remote_read: Option<IgnoredAny>,
    storage: Option<IgnoredAny>,
    tracing: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGlobal {
    scrape_interval: Option<PromDuration>,
    scrape_timeout: Option<PromDuration>,
    evaluation_interval: Option<PromDuration>,
    #[serde(default)]
    external_labels: BTreeMap<String, String>,
    query_log_file: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBasicAuth {
    username: Option<String>,
    password: Option<String>,
    password_file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuthorization {
    #[serde(rename = "type")]
    kind: Option<String>,
    credentials: Option<String>,
    credentials_file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatic {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScrape {
    job_name: String,
    scrape_interval: Option<PromDuration>,
    scrape_timeout: Option<PromDuration>,
    metrics_path: Option<String>,
    scheme: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    honor_labels: bool,
    honor_timestamps: Option<bool>,
    basic_auth: Option<RawBasicAuth>,
    authorization: Option<RawAuthorization>,
    bearer_token: Option<String>,
    bearer_token_file: Option<String>,
    #[serde(default)]
    sample_limit: usize,
    body_size_limit: Option<Size>,
    #[serde(default)]
    static_configs: Vec<RawStatic>,
    #[serde(default)]
    relabel_configs: Vec<RelabelConfig>,
    #[serde(default)]
    metric_relabel_configs: Vec<RelabelConfig>,
    // Known to Prometheus; no effect here (listed as warnings).
    tls_config: Option<IgnoredAny>,
    follow_redirects: Option<IgnoredAny>,
    enable_http2: Option<IgnoredAny>,
    proxy_url: Option<IgnoredAny>,
    target_limit: Option<IgnoredAny>,
    label_limit: Option<IgnoredAny>,
    label_name_length_limit: Option<IgnoredAny>,
    label_value_length_limit: Option<IgnoredAny>,
    scrape_protocols: Option<IgnoredAny>,
    enable_compression: Option<IgnoredAny>,
}

impl PromConfig {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<PromConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        PromConfig::parse(&text, path)
    }

    /// Parses and checks `text`; `path` names the file in errors and
    /// anchors relative `*_file` paths.
    pub fn parse(text: &str, path: &Path) -> Result<PromConfig, ConfigError> {
        let invalid = |at: Option<(usize, usize)>, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            at,
            message,
        };
        let raw: RawFile = serde_norway::from_str(text).map_err(|e| {
            let at = e.location().map(|l| (l.line(), l.column()));
            // serde_norway appends " at line L column C"; the prefix says it.
            let msg = e.to_string();
            let msg = match msg.rfind(" at line ") {
                Some(i) if at.is_some() => msg[..i].to_string(),
                _ => msg,
            };
            invalid(at, msg)
        })?;
        let mut warnings = Vec::new();
        for (key, v) in [
            ("rule_files", &raw.rule_files),
            ("alerting", &raw.alerting),
            ("remote_write", &raw.remote_write),
            ("remote_read", &raw.remote_read),
            ("storage", &raw.storage),
            ("tracing", &raw.tracing),
            ("global.query_log_file", &raw.global.query_log_file),
        ] {
            if v.is_some() {
                warnings.push(format!("{key}: ignored (not used for scraping)"));
            }
        }
        if raw.global.evaluation_interval.is_some() {
            warnings.push("global.evaluation_interval: ignored (no rules yet)".into());
        }
        let g_interval = raw
            .global
            .scrape_interval
            .map_or(DEFAULT_SCRAPE_INTERVAL_MS, |d| d.0);
        let g_timeout = match raw.global.scrape_timeout {
            Some(d) => d.0,
            None => DEFAULT_SCRAPE_TIMEOUT_MS.min(g_interval),
        };
        if g_interval <= 0 || g_timeout <= 0 {
            return Err(invalid(
                None,
                "global: scrape_interval and scrape_timeout must be more than 0".into(),
            ));
        }
        if g_timeout > g_interval {
            return Err(invalid(
                None,
                "global: scrape_timeout greater than scrape_interval".into(),
            ));
        }
        for n in raw.global.external_labels.keys() {
            if !is_valid_label_name(n) {
                return Err(invalid(
                    None,
                    format!("global.external_labels: {n:?} is not a valid label name"),
                ));
            }
        }
        let global = Global {
            scrape_interval_ms: g_interval,
            scrape_timeout_ms: g_timeout,
            external_labels: raw.global.external_labels.into_iter().collect(),
        };
        let base = path.parent().unwrap_or(Path::new("."));
        let mut names = BTreeSet::new();
        let mut jobs = Vec::new();
        for (i, j) in raw.scrape_configs.into_iter().enumerate() {
            let at = format!("scrape_configs[{i}] (job {:?})", j.job_name);
            let err = |m: String| invalid(None, format!("{at}: {m}"));
            if j.job_name.is_empty() {
                return Err(err("job_name must not be empty".into()));
            }
            if !names.insert(j.job_name.clone()) {
                return Err(err("job_name is used by another scrape config".into()));
            }
            for (key, v) in [
                ("tls_config", &j.tls_config),
                ("follow_redirects", &j.follow_redirects),
                ("enable_http2", &j.enable_http2),
                ("proxy_url", &j.proxy_url),
                ("target_limit", &j.target_limit),
                ("label_limit", &j.label_limit),
                ("label_name_length_limit", &j.label_name_length_limit),
                ("label_value_length_limit", &j.label_value_length_limit),
                ("scrape_protocols", &j.scrape_protocols),
                ("enable_compression", &j.enable_compression),
            ] {
                if v.is_some() {
                    warnings.push(format!("{at}: {key}: ignored by minetsdb"));
                }
            }
            let interval_ms = j.scrape_interval.map_or(g_interval, |d| d.0);
            if interval_ms <= 0 {
                return Err(err("scrape_interval must be more than 0".into()));
            }
            let timeout_ms = match j.scrape_timeout {
                Some(d) if d.0 > interval_ms => {
                    return Err(err(
                        "scrape timeout greater than scrape interval".to_string()
                    ))
                }
                Some(d) if d.0 <= 0 => {
                    return Err(err("scrape_timeout must be more than 0".into()))
                }
                Some(d) => d.0,
                None => g_timeout.min(interval_ms),
            };
            let scheme = j.scheme.unwrap_or_else(|| "http".into());
            if scheme != "http" && scheme != "https" {
                return Err(err(format!("scheme {scheme:?}: must be http or https")));
            }
            let metrics_path = j.metrics_path.unwrap_or_else(|| "/metrics".into());
            let file = |f: &str| Secret::File(base.join(f));
            let mut auths = Vec::new();
            if let Some(b) = &j.basic_auth {
                let password = match (&b.password, &b.password_file) {
                    (Some(_), Some(_)) => return Err(err(
                        "basic_auth: at most one of password & password_file must be configured"
                            .into(),
                    )),
                    (Some(p), None) => Secret::Inline(p.clone()),
                    (None, Some(f)) => file(f),
                    (None, None) => Secret::Inline(String::new()),
                };
                auths.push(Auth::Basic {
                    username: b.username.clone().unwrap_or_default(),
                    password,
                });
            }
            if let Some(a) = &j.authorization {
                let scheme = a.kind.clone().unwrap_or_else(|| "Bearer".into());
                if scheme.eq_ignore_ascii_case("basic") {
                    return Err(err(
                        "authorization type cannot be set to \"basic\", use \"basic_auth\" instead"
                            .into(),
                    ));
                }
                let credentials = match (&a.credentials, &a.credentials_file) {
                    (Some(_), Some(_)) => {
                        return Err(err(
                            "authorization: at most one of credentials & credentials_file must be configured"
                                .into(),
                        ))
                    }
                    (Some(c), None) => Secret::Inline(c.clone()),
                    (None, Some(f)) => file(f),
                    (None, None) => Secret::Inline(String::new()),
                };
                auths.push(Auth::Token {
                    scheme,
                    credentials,
                });
            }
            match (&j.bearer_token, &j.bearer_token_file) {
                (Some(_), Some(_)) => {
                    return Err(err(
                        "at most one of bearer_token & bearer_token_file must be configured".into(),
                    ))
                }
                (Some(t), None) => auths.push(Auth::Token {
                    scheme: "Bearer".into(),
                    credentials: Secret::Inline(t.clone()),
                }),
                (None, Some(f)) => auths.push(Auth::Token {
                    scheme: "Bearer".into(),
                    credentials: file(f),
                }),
                (None, None) => {}
            }
            if auths.len() > 1 {
                return Err(err(
                    "at most one of basic_auth, authorization and bearer_token[_file] must be configured"
                        .into(),
                ));
            }
            let mut static_configs = Vec::new();
            for (k, s) in j.static_configs.into_iter().enumerate() {
                for n in s.labels.keys() {
                    if !is_valid_label_name(n) {
                        return Err(err(format!(
                            "static_configs[{k}].labels: {n:?} is not a valid label name"
                        )));
                    }
                }
                static_configs.push(StaticConfig {
                    targets: s.targets,
                    labels: s.labels.into_iter().collect(),
                });
            }
            jobs.push(ScrapeConfig {
                job_name: j.job_name,
                interval_ms,
                timeout_ms,
                metrics_path,
                scheme,
                params: j.params.into_iter().collect(),
                honor_labels: j.honor_labels,
                honor_timestamps: j.honor_timestamps.unwrap_or(true),
                auth: auths.pop(),
                sample_limit: j.sample_limit,
                body_size_limit: j
                    .body_size_limit
                    .map_or(HttpOptions::default().max_body_bytes, |s| s.0),
                static_configs,
                relabel_configs: j.relabel_configs,
                metric_relabel_configs: j.metric_relabel_configs,
            });
        }
        Ok(PromConfig {
            global,
            jobs,
            warnings,
        })
    }

    /// Every job with its targets relabelled.
    pub fn resolve(&self) -> Vec<ResolvedJob> {
        self.jobs.iter().map(ScrapeConfig::resolve).collect()
    }
}

impl ScrapeConfig {
    /// The targets of this job after relabelling (`PopulateLabels`).
    pub fn resolve(&self) -> ResolvedJob {
        let mut out = ResolvedJob {
            name: self.job_name.clone(),
            interval_ms: self.interval_ms,
            targets: Vec::new(),
            dropped: Vec::new(),
        };
        for sc in &self.static_configs {
            for addr in &sc.targets {
                let mut lb = LabelSet::new();
                lb.insert("__address__".into(), addr.clone());
                for (n, v) in &sc.labels {
                    lb.entry(n.clone()).or_insert_with(|| v.clone());
                }
                match self.populate(lb) {
                    Ok(t) => out.targets.push(t),
                    Err(d) => out.dropped.push(d),
                }
            }
        }
        out
    }

    fn populate(&self, mut lb: LabelSet) -> Result<Target, Dropped> {
        let defaults = [
            ("job", self.job_name.clone()),
            ("__scrape_interval__", format_duration(self.interval_ms)),
            ("__scrape_timeout__", format_duration(self.timeout_ms)),
            ("__metrics_path__", self.metrics_path.clone()),
            ("__scheme__", self.scheme.clone()),
        ];
        for (n, v) in defaults {
            if lb.get(n).is_none_or(|x| x.is_empty()) && !v.is_empty() {
                lb.insert(n.to_string(), v);
            }
        }
        for (k, vs) in &self.params {
            if let Some(v) = vs.first().filter(|v| !v.is_empty()) {
                lb.insert(format!("__param_{k}"), v.clone());
            }
        }
        lb.retain(|_, v| !v.is_empty());
        let before: Vec<(String, String)> =
            lb.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
        let drop = |why: String| Dropped {
            labels: before.clone(),
            why,
        };
        if let Some(i) = relabel::dropped_by(&mut lb, &self.relabel_configs) {
            let action = self
                .relabel_configs
                .get(i)
                .map_or("?", RelabelConfig::action_name);
            return Err(drop(format!(
                "dropped by relabel_configs[{i}] (action {action})"
            )));
        }
        let get = |n: &str| lb.get(n).cloned().unwrap_or_default();
        let mut addr = get("__address__");
        if addr.is_empty() {
            return Err(drop("no __address__ after relabelling".into()));
        }
        let scheme = get("__scheme__");
        if !has_port(&addr) && has_port(&format!("{addr}:1234")) {
            match scheme.as_str() {
                "http" | "" => addr.push_str(":80"),
                "https" => addr.push_str(":443"),
                s => return Err(drop(format!("invalid scheme: {s:?}"))),
            }
        }
        if !matches!(scheme.as_str(), "http" | "https") {
            return Err(drop(format!("invalid scheme: {scheme:?}")));
        }
        if addr.contains('/') {
            return Err(drop(format!("{addr:?} is not a valid hostname")));
        }
        let interval = parse_duration(&get("__scrape_interval__"))
            .map_err(|e| drop(format!("error parsing scrape interval: {e}")))?;
        let timeout = parse_duration(&get("__scrape_timeout__"))
            .map_err(|e| drop(format!("error parsing scrape timeout: {e}")))?;
        if interval == 0 {
            return Err(drop("scrape interval cannot be 0".into()));
        }
        if timeout == 0 {
            return Err(drop("scrape timeout cannot be 0".into()));
        }
        if timeout > interval {
            return Err(drop(format!(
                "scrape timeout cannot be greater than scrape interval ({:?} > {:?})",
                get("__scrape_timeout__"),
                get("__scrape_interval__")
            )));
        }
        // The URL: params, with each __param_<k> label replacing the first
        // value of k (Prometheus' Target.URL).
        let mut params: BTreeMap<String, Vec<String>> = self.params.iter().cloned().collect();
        for (n, v) in &lb {
            if let Some(k) = n.strip_prefix("__param_") {
                let e = params.entry(k.to_string()).or_default();
                match e.first_mut() {
                    Some(first) => *first = v.clone(),
                    None => e.push(v.clone()),
                }
            }
        }
        let params: Vec<(String, Vec<String>)> = params.into_iter().collect();
        let url = target_url(&scheme, &addr, &get("__metrics_path__"), &params);
        let instance = lb
            .get("instance")
            .filter(|v| !v.is_empty())
            .cloned()
            .unwrap_or_else(|| addr.clone());
        let job = get("job");
        let labels: Vec<(String, String)> = lb
            .into_iter()
            .filter(|(n, _)| !n.starts_with("__") && n != "job" && n != "instance")
            .collect();
        Ok(Target {
            url,
            job,
            instance: Some(instance),
            labels,
            opts: ScrapeOptions {
                honor_labels: self.honor_labels,
                honor_timestamps: self.honor_timestamps,
                sample_limit: self.sample_limit,
                auth: self.auth.clone(),
                metric_relabel: self.metric_relabel_configs.clone(),
                timeout_ms: timeout,
                body_size_limit: self.body_size_limit,
            },
        })
    }
}

/// Whether `s` splits as Go's `net.SplitHostPort` would: `host:port`, or
/// `[v6]:port`.
fn has_port(s: &str) -> bool {
    if let Some(rest) = s.strip_prefix('[') {
        return rest
            .split_once(']')
            .is_some_and(|(_, p)| p.starts_with(':') && !p[1..].contains(':'));
    }
    s.matches(':').count() == 1
}

/// One scheduled source per job with at least one target.
pub fn sources(jobs: &[ResolvedJob]) -> Vec<Scheduled> {
    jobs.iter()
        .filter(|j| !j.targets.is_empty())
        .map(|j| Scheduled {
            interval_ms: j.interval_ms,
            source: Box::new(ScrapeJob::with_targets(j.name.clone(), j.targets.clone())),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<PromConfig, ConfigError> {
        PromConfig::parse(text, Path::new("/etc/prometheus/prometheus.yml"))
    }

    #[test]
    fn durations_round_trip_as_prometheus_writes_them() {
        for (s, ms) in [
            ("0", 0),
            ("15s", 15_000),
            ("1m", 60_000),
            ("1h30m", 5_400_000),
            ("500ms", 500),
            ("1y", 365 * 86_400_000),
        ] {
            assert_eq!(parse_duration(s), Ok(ms), "{s}");
        }
        assert_eq!(format_duration(5_400_000), "1h30m");
        assert_eq!(format_duration(90 * 86_400_000), "90d");
        assert_eq!(format_duration(14 * 86_400_000), "2w");
        assert_eq!(format_duration(1_500), "1s500ms");
        for bad in ["", "1", "m", "30m1h", "1mm", "1s1s", "-1s", "1.5s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_follow_prometheus() {
        let c =
            parse("scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [h]\n")
                .unwrap();
        assert_eq!(c.global.scrape_interval_ms, 60_000);
        assert_eq!(c.global.scrape_timeout_ms, 10_000);
        let j = &c.resolve()[0];
        assert_eq!(j.targets[0].url, "http://h:80/metrics");
        assert_eq!(j.targets[0].instance(), "h:80");
        assert_eq!(j.targets[0].opts.timeout_ms, 10_000);
        // A 5s interval caps the default timeout.
        let c = parse("global: {scrape_interval: 5s}\nscrape_configs: []\n").unwrap();
        assert_eq!(c.global.scrape_timeout_ms, 5_000);
        let c = parse("scrape_configs:\n  - job_name: a\n    scrape_interval: 3s\n").unwrap();
        assert_eq!(c.jobs[0].timeout_ms, 3_000);
    }

    #[test]
    fn errors_name_path_line_and_key() {
        let e = parse("scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [h]\n        lables: {a: b}\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/etc/prometheus/prometheus.yml:5:9: "), "{e}");
        assert!(
            e.contains("scrape_configs[0].static_configs[0]: unknown field `lables`"),
            "{e}"
        );
        let e = parse("global:\n  scrape_interval: 1x\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(":2:") && e.contains("global") && e.contains("1x"),
            "{e}"
        );
        let e = parse("scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: hashmod\n        target_label: x\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("relabel_configs") && e.contains("non-zero modulus"),
            "{e}"
        );
        assert!(e.contains("prometheus.yml:4:"), "{e}");
        let e = parse("scrape_configs:\n  - job_name: a\n  - job_name: a\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("scrape_configs[1] (job \"a\"): job_name is used"),
            "{e}"
        );
        let e = parse(
            "scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 10s\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("scrape timeout greater than scrape interval"),
            "{e}"
        );
        let e = parse("scrape_configs:\n  - job_name: a\n    basic_auth: {username: u}\n    bearer_token: t\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("at most one of basic_auth"), "{e}");
    }

    #[test]
    fn known_but_unused_keys_are_warnings() {
        let c = parse("rule_files: [a.yml]\nalerting: {alertmanagers: []}\nscrape_configs:\n  - job_name: a\n    tls_config: {insecure_skip_verify: true}\n").unwrap();
        assert_eq!(c.warnings.len(), 3, "{:?}", c.warnings);
        assert!(c.warnings.iter().any(|w| w.contains("tls_config")));
    }

    #[test]
    fn blackbox_param_target_pattern() {
        let c = parse(
            r#"
scrape_configs:
  - job_name: pool_probe
    metrics_path: /probe
    params:
      module: [tcp_connect]
    static_configs:
      - targets: ['eu1.ethermine.org:4444', 'us1.ethermine.org:4444']
        labels: {pool: ethermine}
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: 127.0.0.1:9115
"#,
        )
        .unwrap();
        let j = &c.resolve()[0];
        assert!(j.dropped.is_empty());
        let t = &j.targets[0];
        assert_eq!(
            t.url,
            "http://127.0.0.1:9115/probe?module=tcp_connect&target=eu1.ethermine.org%3A4444"
        );
        assert_eq!(
            t.target_labels(),
            vec![
                ("instance".to_string(), "eu1.ethermine.org:4444".to_string()),
                ("job".to_string(), "pool_probe".to_string()),
                ("pool".to_string(), "ethermine".to_string()),
            ]
        );
    }

    #[test]
    fn keep_drops_with_a_reason_and_hashmod_shards() {
        let c = parse(
            r#"
scrape_configs:
  - job_name: gpu
    static_configs:
      - targets: ['rig1:9835', 'rig2:9835', 'rig3']
    relabel_configs:
      - source_labels: [__address__]
        regex: 'rig[12]:.*'
        action: keep
      - source_labels: [__address__]
        modulus: 4
        target_label: shard
        action: hashmod
"#,
        )
        .unwrap();
        let j = &c.resolve()[0];
        assert_eq!(j.targets.len(), 2);
        assert_eq!(j.dropped.len(), 1);
        assert_eq!(
            j.dropped[0].why,
            "dropped by relabel_configs[0] (action keep)"
        );
        assert!(j.dropped[0]
            .labels
            .contains(&("__address__".to_string(), "rig3".to_string())));
        for t in &j.targets {
            let shard = t.labels.iter().find(|(n, _)| n == "shard").unwrap();
            assert!(shard.1.parse::<u64>().unwrap() < 4);
        }
    }

    #[test]
    fn relabelled_interval_timeout_and_scheme() {
        let c = parse(
            r#"
scrape_configs:
  - job_name: a
    scrape_interval: 30s
    static_configs:
      - targets: ['h:1', 'h:2', 'h:3']
    relabel_configs:
      - source_labels: [__address__]
        regex: 'h:1'
        target_label: __scrape_timeout__
        replacement: 2s
      - source_labels: [__address__]
        regex: 'h:2'
        target_label: __scrape_timeout__
        replacement: 1m
      - source_labels: [__address__]
        regex: 'h:3'
        target_label: __scheme__
        replacement: https
"#,
        )
        .unwrap();
        let j = &c.resolve()[0];
        assert_eq!(j.targets.len(), 2);
        assert_eq!(j.targets[0].opts.timeout_ms, 2_000);
        assert_eq!(j.targets[1].url, "https://h:3/metrics");
        assert!(
            j.dropped[0].why.contains("greater than scrape interval"),
            "{:?}",
            j.dropped
        );
    }
}
