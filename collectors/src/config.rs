//! `config.toml`: what `minetsdb collect` reads, and how often.
//!
//! ```toml
//! instance = "rig1"      # the rig's name, `instance` of the GPU series [default: hostname]
//!
//! [nvml]
//! enabled = true         # [default: true]
//! interval = "1m"        # [default: 1m]
//! fake = 0               # N > 0: N scripted GPUs instead of NVML (tests, benchmarks, a try without a GPU) [default: 0]
//!
//! [amd]                  # AMD cards through the amdgpu driver's sysfs files
//! enabled = true         # [default: read them when /sys has amdgpu cards, silently skip otherwise]
//! interval = "1m"        # [default: 1m]
//! sysfs_root = "/sys"    # [default: /sys]
//!
//! [[job]]                # one per exporter, pool or miner page
//! name = "node"          # the `job` label; unique
//! interval = "1m"        # [default: 1m]
//! timeout = "10s"        # the whole request, [default: 10s]
//! targets = ["http://127.0.0.1:9100/metrics"]
//! labels = { rig = "rig1" }   # extra target labels [default: none]
//!
//! [[job]]                # Prometheus-style: host:port targets
//! name = "pool"
//! targets = ["127.0.0.1:9115"]   # URL = scheme://host:port metrics_path ?params
//! scheme = "http"                # [default: http]
//! metrics_path = "/probe"        # [default: /metrics]
//! params = { target = ["pool.example:4444"] }   # query parameters, also added to URL targets
//! honor_labels = false           # exposed labels win over target labels [default: false]
//! sample_limit = 50000           # more samples fail the whole scrape [default: 0, no limit]
//! body_size_limit = "16MiB"      # B, KiB/KB, MiB/MB, GiB/GB (base 2) [default: 16MiB]
//! basic_auth = { username = "u", password_file = "pw.txt" }   # or password = "..."
//! # bearer_token = "..." or bearer_token_file = "token.txt" (not with basic_auth)
//! ```
//!
//! Files (`password_file`, `bearer_token_file`) are relative to the config
//! file's directory and read at each scrape, as Prometheus does.
//!
//! `[storage]` sets what the database keeps, for `collect` and `serve`:
//!
//! ```toml
//! [storage]
//! retention = "5y"               # drop older data [default: keep everything]
//! downsample = "5m:90d,1h:1y"    # RESOLUTION:AGE,... or "none" [default: 5m:90d,1h:1y]
//! ```
//!
//! `[thresholds]` says when a reading is a warning or critical, for both
//! `dash` and the default alert rules; see [`thresholds`].
//!
//! `[alerting]` and `[[alert]]` set the alert rules `collect` and
//! `minetsdb alerts` evaluate; see [`crate::alerts::rules`].
//!
//! The `[tariff]`, `[power]` and `[price]` tables are for `minetsdb report`
//! (energy cost, wall power, coin price); see [`costs`].
//!
//! `[[notify]]` tables send alert notifications to a command or an
//! Alertmanager; see [`notify`].
//!
//! Pools and miners have their own tables, `[[pool]]` and `[[miner]]`: see
//! [`apis`].
//!
//! Durations are written as `30s`, `1m`, `5m`, `1h`, `1d` (see
//! [`crate::duration::parse_ms`]). Unknown keys are errors, and every error
//! names the file, the line and column, and the key or value at fault.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::duration::parse_ms;
use crate::scrape::{target_url, Auth, ScrapeOptions, Secret, Target};

pub mod costs;
pub mod notify;
pub mod thresholds;
pub use thresholds::{Severity, Thresholds};

pub mod apis;
pub use apis::{MinerJob, MinerKind, PoolJob, PoolKind};

/// Interval of a job or of NVML when the file does not say: 1 minute.
pub const DEFAULT_INTERVAL_MS: i64 = 60_000;
/// Request deadline of a job when the file does not say: 10 seconds.
pub const DEFAULT_TIMEOUT_MS: i64 = 10_000;

/// A parsed, checked `config.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The rig's name: the `instance` label of the GPU series.
    pub instance: String,
    /// The GPUs, read through NVML.
    pub nvml: NvmlConfig,
    /// The AMD GPUs, read through sysfs.
    pub amd: AmdConfig,
    /// The scrape jobs, in file order.
    pub jobs: Vec<Job>,
    /// `[tariff]`, `[power]`, `[price]`: what `report` prices energy and coin with.
    pub costs: costs::Costs,
    /// The pool accounts (`[[pool]]`), in file order.
    pub pools: Vec<PoolJob>,
    /// The miners' APIs (`[[miner]]`), in file order.
    pub miners: Vec<MinerJob>,
    /// `[storage]`: retention and downsampling of the database `collect`
    /// and `serve` write.
    pub storage: StorageConfig,
    /// `[thresholds]`: what colours `dash` and drives the default alerts.
    pub thresholds: Thresholds,
    /// `[[notify]]`: where alert notifications go, in file order.
    pub notify: Vec<notify::Receiver>,
    /// `[alerting]` and `[[alert]]`: see [`crate::alerts::rules`].
    pub alerting: crate::alerts::rules::AlertingConfig,
}

/// The `[storage]` table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StorageConfig {
    /// `retention`: drop data older than this (ms) [default: keep all].
    pub retention_ms: Option<i64>,
    /// `downsample`: tiers, or `None` for the database's defaults.
    pub downsampling: Option<Vec<minetsdb::Tier>>,
}

impl StorageConfig {
    /// Database options with this table applied to the defaults.
    pub fn options(&self) -> minetsdb::Options {
        let mut o = minetsdb::Options::default();
        o.retention_ms = self.retention_ms;
        if let Some(t) = &self.downsampling {
            o.downsampling = t.clone();
        }
        o
    }
}

/// Downsampling tiers as `RESOLUTION:AGE,...` (`5m:90d,1h:1y`): data older
/// than AGE is kept as buckets of RESOLUTION; `none` keeps raw samples.
pub fn parse_tiers(s: &str) -> Result<Vec<minetsdb::Tier>, String> {
    if s.trim() == "none" {
        return Ok(Vec::new());
    }
    let mut out: Vec<minetsdb::Tier> = Vec::new();
    for part in s.split(',') {
        let (res, age) = part
            .split_once(':')
            .ok_or_else(|| format!("{part:?}: write RESOLUTION:AGE, e.g. 5m:90d"))?;
        let resolution_ms = parse_ms(res.trim()).map_err(|e| format!("{part:?}: {e}"))?;
        let after_ms = parse_ms(age.trim()).map_err(|e| format!("{part:?}: {e}"))?;
        if let Some(prev) = out.last() {
            if resolution_ms <= prev.resolution_ms || resolution_ms % prev.resolution_ms != 0 {
                return Err(format!(
                    "{part:?}: each resolution must be a larger multiple of the one before"
                ));
            }
            if after_ms <= prev.after_ms {
                return Err(format!("{part:?}: ages must grow from tier to tier"));
            }
        }
        if resolution_ms <= 0 || after_ms <= 0 {
            return Err(format!("{part:?}: resolution and age must be positive"));
        }
        out.push(minetsdb::Tier {
            resolution_ms,
            after_ms,
        });
    }
    Ok(out)
}

/// The `[nvml]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NvmlConfig {
    /// Whether to read the GPUs at all.
    pub enabled: bool,
    /// How often, in milliseconds.
    pub interval_ms: i64,
    /// When above 0, this many scripted GPUs
    /// ([`FakeGpus::full`](crate::nvml::FakeGpus::full)) stand in for NVML:
    /// for tests and benchmarks of the whole `collect` path, and to try
    /// minetsdb on a machine without an NVIDIA card. Their series look real
    /// (`uuid` `GPU-00000000-0000-0000-0000-00000000000N`), so never set it
    /// on a rig whose database you keep.
    pub fake_gpus: u32,
}

/// The `[amd]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmdConfig {
    /// `Some(true)`: read the cards, and warn when there are none;
    /// `Some(false)`: never; `None` (not in the file): read them when the
    /// machine has amdgpu cards, and say nothing when it has none, so an
    /// NVIDIA rig's cron mail stays empty.
    pub enabled: Option<bool>,
    /// How often, in milliseconds.
    pub interval_ms: i64,
    /// Where sysfs is mounted (a fake tree in tests).
    pub sysfs_root: PathBuf,
}

/// One `[[job]]`: targets scraped together, at one interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The `job` label.
    pub name: String,
    /// How often, in milliseconds.
    pub interval_ms: i64,
    /// Deadline of each request, in milliseconds.
    pub timeout_ms: i64,
    /// The metrics pages.
    pub targets: Vec<String>,
    /// Extra target labels, sorted by name.
    pub labels: Vec<(String, String)>,
    /// Scheme of `host:port` targets.
    pub scheme: String,
    /// Path of `host:port` targets.
    pub metrics_path: String,
    /// Query parameters, sorted by name.
    pub params: Vec<(String, Vec<String>)>,
    /// Exposed labels win over target labels.
    pub honor_labels: bool,
    /// Samples per scrape past which it fails; 0 is no limit.
    pub sample_limit: usize,
    /// Largest body, in bytes after decompression.
    pub body_size_limit: u64,
    /// Credentials.
    pub auth: Option<Auth>,
}

impl Job {
    /// The targets to scrape: URLs as written (with `params` added),
    /// `host:port` as `scheme://host:port/metrics_path?params`.
    pub fn scrape_targets(&self) -> Vec<Target> {
        self.targets
            .iter()
            .map(|t| {
                let url = if t.contains("://") {
                    with_params(t, &self.params)
                } else {
                    target_url(&self.scheme, t, &self.metrics_path, &self.params)
                };
                Target {
                    url,
                    job: self.name.clone(),
                    instance: (!t.contains("://")).then(|| t.clone()),
                    labels: self.labels.clone(),
                    opts: ScrapeOptions {
                        honor_labels: self.honor_labels,
                        sample_limit: self.sample_limit,
                        auth: self.auth.clone(),
                        timeout_ms: self.timeout_ms,
                        body_size_limit: self.body_size_limit,
                        ..ScrapeOptions::default()
                    },
                }
            })
            .collect()
    }
}

/// `url` with `params` appended to its query.
fn with_params(url: &str, params: &[(String, Vec<String>)]) -> String {
    let q = crate::scrape::encode_query(params);
    if q.is_empty() {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&{q}")
    } else {
        format!("{url}?{q}")
    }
}

/// Parses a size such as `16MiB` into bytes: a whole number and one of
/// `B`, `KiB`/`KB`, `MiB`/`MB`, `GiB`/`GB`, `TiB`/`TB`, all powers of 1024
/// as in Prometheus' `body_size_limit`; a bare number is bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("size {s:?} must start with a whole number"))?;
    let mult: u64 = match unit {
        "" | "B" => 1,
        "KB" | "KiB" => 1 << 10,
        "MB" | "MiB" => 1 << 20,
        "GB" | "GiB" => 1 << 30,
        "TB" | "TiB" => 1 << 40,
        _ => {
            return Err(format!(
                "size {s:?}: unknown unit {unit:?} (B, KiB, MiB, GiB, TiB)"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

/// A config file that cannot be used. Its message is one line naming the
/// file and, where there is one, the line and column.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading config {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or not the shape above, or a value is wrong.
    #[error("{}{}: {message}", path.display(), at.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line and column, when known.
        at: Option<(usize, usize)>,
        /// What is wrong, naming the key.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    instance: Option<Spanned<String>>,
    nvml: Option<RawNvml>,
    amd: Option<RawAmd>,
    #[serde(default)]
    job: Vec<RawJob>,
    tariff: Option<Spanned<costs::RawTariff>>,
    power: Option<Spanned<costs::RawPower>>,
    price: Option<Spanned<costs::RawPrice>>,
    #[serde(default)]
    pool: Vec<apis::RawPool>,
    #[serde(default)]
    miner: Vec<apis::RawMiner>,
    storage: Option<RawStorage>,
    thresholds: Option<thresholds::RawThresholds>,
    #[serde(default)]
    notify: Vec<Spanned<notify::RawReceiver>>,
    alerting: Option<crate::alerts::rules::RawAlerting>,
    #[serde(default)]
    alert: Vec<crate::alerts::rules::RawAlert>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    retention: Option<Spanned<String>>,
    downsample: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNvml {
    enabled: Option<bool>,
    interval: Option<Spanned<String>>,
    fake: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAmd {
    enabled: Option<bool>,
    interval: Option<Spanned<String>>,
    sysfs_root: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    name: Spanned<String>,
    interval: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    targets: Spanned<Vec<String>>,
    #[serde(default)]
    labels: BTreeMap<Spanned<String>, String>,
    scheme: Option<Spanned<String>>,
    metrics_path: Option<Spanned<String>>,
    #[serde(default)]
    params: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    honor_labels: bool,
    #[serde(default)]
    sample_limit: usize,
    body_size_limit: Option<Spanned<String>>,
    basic_auth: Option<Spanned<RawBasicAuth>>,
    bearer_token: Option<Spanned<String>>,
    bearer_token_file: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBasicAuth {
    username: String,
    password: Option<String>,
    password_file: Option<String>,
}

impl Config {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses and checks `text`; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let invalid = |span: Option<Range<usize>>, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            at: span.map(|s| line_col(text, s.start)),
            message,
        };
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| invalid(e.span(), one_line(e.message())))?;
        let duration = |v: &Option<Spanned<String>>, key: &str, default: i64| match v {
            None => Ok(default),
            Some(s) => {
                parse_ms(s.get_ref()).map_err(|e| invalid(Some(s.span()), format!("{key}: {e}")))
            }
        };

        let instance = match raw.instance {
            Some(i) if i.get_ref().trim().is_empty() => {
                return Err(invalid(
                    Some(i.span()),
                    "instance: must not be empty".into(),
                ));
            }
            Some(i) => i.into_inner(),
            None => hostname(),
        };
        let nvml = match raw.nvml {
            None => NvmlConfig {
                enabled: true,
                interval_ms: DEFAULT_INTERVAL_MS,
                fake_gpus: 0,
            },
            Some(n) => NvmlConfig {
                enabled: n.enabled.unwrap_or(true),
                interval_ms: duration(&n.interval, "nvml.interval", DEFAULT_INTERVAL_MS)?,
                fake_gpus: n.fake.unwrap_or(0),
            },
        };
        let amd = match raw.amd {
            None => AmdConfig {
                enabled: None,
                interval_ms: DEFAULT_INTERVAL_MS,
                sysfs_root: PathBuf::from("/sys"),
            },
            Some(a) => AmdConfig {
                enabled: a.enabled,
                interval_ms: duration(&a.interval, "amd.interval", DEFAULT_INTERVAL_MS)?,
                sysfs_root: a.sysfs_root.unwrap_or_else(|| PathBuf::from("/sys")),
            },
        };
        let mut jobs: Vec<Job> = Vec::with_capacity(raw.job.len());
        for j in raw.job {
            let name = j.name.get_ref().clone();
            if name.is_empty() {
                return Err(invalid(
                    Some(j.name.span()),
                    "job.name: must not be empty".into(),
                ));
            }
            let builtin = name == crate::nvml::GPU_JOB || name == crate::amd::AMD_JOB;
            if builtin || jobs.iter().any(|o| o.name == name) {
                let why = if builtin {
                    "is the name of a built-in job (nvml, amdgpu)"
                } else {
                    "is used by another job"
                };
                return Err(invalid(
                    Some(j.name.span()),
                    format!("job.name: {name:?} {why}"),
                ));
            }
            let key = |k: &str| format!("job {name:?}: {k}");
            let interval_ms = duration(&j.interval, &key("interval"), DEFAULT_INTERVAL_MS)?;
            let timeout_ms = duration(&j.timeout, &key("timeout"), DEFAULT_TIMEOUT_MS)?;
            if j.targets.get_ref().is_empty() {
                return Err(invalid(
                    Some(j.targets.span()),
                    format!("{}: list at least one URL", key("targets")),
                ));
            }
            for t in j.targets.get_ref() {
                let url = t.starts_with("http://") || t.starts_with("https://");
                let host_port = !t.contains("://") && !t.contains('/') && !t.is_empty();
                if !(url || host_port) {
                    return Err(invalid(
                        Some(j.targets.span()),
                        format!(
                            "{}: {t:?} is not an http:// or https:// URL nor host:port",
                            key("targets")
                        ),
                    ));
                }
            }
            let scheme = match &j.scheme {
                None => "http".to_string(),
                Some(s) if matches!(s.get_ref().as_str(), "http" | "https") => s.get_ref().clone(),
                Some(s) => {
                    return Err(invalid(
                        Some(s.span()),
                        format!("{}: must be http or https", key("scheme")),
                    ))
                }
            };
            let metrics_path = match &j.metrics_path {
                None => "/metrics".to_string(),
                Some(p) if p.get_ref().starts_with('/') => p.get_ref().clone(),
                Some(p) => {
                    return Err(invalid(
                        Some(p.span()),
                        format!("{}: must start with /", key("metrics_path")),
                    ))
                }
            };
            let body_size_limit = match &j.body_size_limit {
                None => crate::http::HttpOptions::default().max_body_bytes,
                Some(b) => parse_size(b.get_ref()).map_err(|e| {
                    invalid(Some(b.span()), format!("{}: {e}", key("body_size_limit")))
                })?,
            };
            let auth = parse_auth(
                &j.basic_auth,
                &j.bearer_token,
                &j.bearer_token_file,
                path,
                &key,
                &invalid,
            )?;
            let mut labels = Vec::with_capacity(j.labels.len());
            for (n, v) in j.labels {
                let bad = if matches!(n.get_ref().as_str(), "job" | "instance") {
                    Some("is set by the scrape itself".to_string())
                } else {
                    minetsdb::check_label_name(n.get_ref())
                        .err()
                        .map(|e| e.to_string())
                };
                if let Some(why) = bad {
                    return Err(invalid(
                        Some(n.span()),
                        format!("{}: label {:?} {why}", key("labels"), n.get_ref()),
                    ));
                }
                labels.push((n.into_inner(), v));
            }
            jobs.push(Job {
                name,
                interval_ms,
                timeout_ms,
                targets: j.targets.into_inner(),
                labels,
                scheme,
                metrics_path,
                params: j.params.into_iter().collect(),
                honor_labels: j.honor_labels,
                sample_limit: j.sample_limit,
                body_size_limit,
                auth,
            });
        }
        let costs = costs::parse(raw.tariff, raw.power, raw.price, &invalid)?;
        let mut taken: Vec<String> = jobs.iter().map(|j| j.name.clone()).collect();
        let pools = apis::pools(raw.pool, &mut taken, &invalid)?;
        let miners = apis::miners(raw.miner, &mut taken, &invalid)?;
        let storage = match raw.storage {
            None => StorageConfig::default(),
            Some(st) => StorageConfig {
                retention_ms: match &st.retention {
                    None => None,
                    Some(_) => Some(duration(&st.retention, "storage.retention", 0)?),
                },
                downsampling: match st.downsample {
                    None => None,
                    Some(d) => Some(parse_tiers(d.get_ref()).map_err(|e| {
                        invalid(Some(d.span()), format!("storage.downsample: {e}"))
                    })?),
                },
            },
        };
        let thresholds = thresholds::parse(raw.thresholds, &invalid)?;
        let notify = notify::parse(raw.notify, path, &invalid)?;
        let alerting = crate::alerts::rules::parse_config(
            raw.alerting,
            raw.alert,
            path,
            &|offset| line_col(text, offset).0,
            &invalid,
        )?;
        Ok(Config {
            notify,
            alerting,
            thresholds,
            instance,
            nvml,
            amd,
            jobs,
            costs,
            pools,
            miners,
            storage,
        })
    }
}

/// `basic_auth`, `bearer_token`, `bearer_token_file` of a scrape job or a
/// webhook: at most one way to authenticate; files relative to the config
/// file's directory, read at each request.
pub(crate) fn parse_auth(
    basic_auth: &Option<Spanned<RawBasicAuth>>,
    bearer_token: &Option<Spanned<String>>,
    bearer_token_file: &Option<Spanned<String>>,
    config_path: &Path,
    key: &dyn Fn(&str) -> String,
    invalid: &dyn Fn(Option<Range<usize>>, String) -> ConfigError,
) -> Result<Option<Auth>, ConfigError> {
    let base = config_path.parent().unwrap_or(Path::new("."));
    let file = |f: &str| Secret::File(base.join(f));
    let basic = match basic_auth {
        None => None,
        Some(b) => {
            let span = b.span();
            let b = b.get_ref();
            let password = match (&b.password, &b.password_file) {
                (Some(p), None) => Secret::Inline(p.clone()),
                (None, Some(f)) => file(f),
                (None, None) => Secret::Inline(String::new()),
                (Some(_), Some(_)) => {
                    return Err(invalid(
                        Some(span),
                        format!(
                            "{}: password and password_file are mutually exclusive",
                            key("basic_auth")
                        ),
                    ))
                }
            };
            Some(Auth::Basic {
                username: b.username.clone(),
                password,
            })
        }
    };
    let bearer = match (bearer_token, bearer_token_file) {
        (None, None) => None,
        (Some(t), None) => Some((t.span(), Secret::Inline(t.get_ref().clone()))),
        (None, Some(f)) => Some((f.span(), file(f.get_ref()))),
        (Some(_), Some(f)) => {
            return Err(invalid(
                Some(f.span()),
                format!(
                    "{}: bearer_token and bearer_token_file are mutually exclusive",
                    key("bearer_token_file")
                ),
            ))
        }
    };
    let auth = match (basic, bearer) {
        (Some(_), Some((span, _))) => {
            return Err(invalid(
                Some(span),
                format!(
                    "{}: basic_auth and a bearer token are mutually exclusive",
                    key("bearer_token")
                ),
            ))
        }
        (Some(b), None) => Some(b),
        (None, Some((_, credentials))) => Some(Auth::Token {
            scheme: "Bearer".into(),
            credentials,
        }),
        (None, None) => None,
    };
    Ok(auth)
}

/// 1-based line and column (in characters) of byte `offset` of `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, col)
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The machine's name, for the default `instance`; `localhost` if unknown.
fn hostname() -> String {
    let from_env = std::env::var("HOSTNAME").ok();
    let from_proc = || {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))
            .ok()
    };
    from_env
        .or_else(from_proc)
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod storage_tests {
    use super::*;

    #[test]
    fn storage_table_sets_retention_and_tiers_and_names_bad_values() {
        let p = Path::new("c.toml");
        let c = Config::parse(
            "[storage]\nretention = \"5y\"\ndownsample = \"5m:30d,1h:180d\"\n",
            p,
        )
        .unwrap();
        let o = c.storage.options();
        assert_eq!(o.retention_ms, parse_ms("5y").ok());
        assert!(o.retention_ms.is_some_and(|r| r > 4 * 365 * 86_400_000));
        assert_eq!(o.downsampling.len(), 2);
        assert_eq!(o.downsampling[1].resolution_ms, 3_600_000);
        assert_eq!(o.downsampling[0].after_ms, 30 * 86_400_000);
        let none = Config::parse("[storage]\ndownsample = \"none\"\n", p).unwrap();
        assert!(none.storage.options().downsampling.is_empty());
        let dflt = Config::parse("", p).unwrap();
        assert_eq!(dflt.storage.options().downsampling.len(), 2);
        assert_eq!(dflt.storage.options().retention_ms, None);
        let e = Config::parse("[storage]\ndownsample = \"1h:1y,5m:2y\"\n", p)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("c.toml:2:") && e.contains("storage.downsample"),
            "{e}"
        );
        let e = Config::parse("[storage]\nretention = \"soon\"\n", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("storage.retention"), "{e}");
        let e = Config::parse("[storage]\nkeep = 1\n", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("keep"), "{e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/minetsdb/config.toml"))
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn full_file() {
        let c = parse(
            r#"
instance = "rig1"
[nvml]
enabled = false
interval = "30s"

[[job]]
name = "node"
targets = ["http://127.0.0.1:9100/metrics", "http://127.0.0.1:9101/metrics"]
labels = { rig = "rig1", site = "barn" }

[[job]]
name = "pool"
interval = "5m"
timeout = "20s"
targets = ["https://pool.example/api"]
"#,
        )
        .unwrap();
        assert_eq!(c.instance, "rig1");
        assert_eq!(
            c.nvml,
            NvmlConfig {
                enabled: false,
                interval_ms: 30_000,
                fake_gpus: 0,
            }
        );
        assert_eq!(c.jobs.len(), 2);
        assert_eq!(c.jobs[0].name, "node");
        assert_eq!(c.jobs[0].interval_ms, DEFAULT_INTERVAL_MS);
        assert_eq!(c.jobs[0].timeout_ms, DEFAULT_TIMEOUT_MS);
        assert_eq!(c.jobs[0].targets.len(), 2);
        assert_eq!(
            c.jobs[0].labels,
            vec![
                ("rig".to_string(), "rig1".to_string()),
                ("site".to_string(), "barn".to_string())
            ]
        );
        assert_eq!(c.jobs[1].interval_ms, 300_000);
        assert_eq!(c.jobs[1].timeout_ms, 20_000);
    }

    #[test]
    fn fake_gpus_and_amd() {
        let c = parse("[nvml]\nfake = 8\n[amd]\nenabled = true\ninterval = \"10s\"\nsysfs_root = \"/tmp/sys\"\n").unwrap();
        assert_eq!(c.nvml.fake_gpus, 8);
        assert_eq!(
            c.amd,
            AmdConfig {
                enabled: Some(true),
                interval_ms: 10_000,
                sysfs_root: PathBuf::from("/tmp/sys"),
            }
        );
        let d = parse("").unwrap();
        assert_eq!(d.nvml.fake_gpus, 0);
        assert_eq!(d.amd.enabled, None);
        assert_eq!(d.amd.sysfs_root, PathBuf::from("/sys"));
        assert!(err("[amd]\nenable = true\n").contains(":2:1: "));
        assert!(err("[nvml]\nfake = -1\n").contains(":2:8: "));
        assert!(
            err("[[job]]\nname = \"amdgpu\"\ntargets = [\"http://x\"]\n").contains("built-in job")
        );
    }

    #[test]
    fn defaults() {
        let c = parse("").unwrap();
        assert!(c.nvml.enabled);
        assert_eq!(c.nvml.interval_ms, DEFAULT_INTERVAL_MS);
        assert!(c.jobs.is_empty());
        assert!(!c.instance.is_empty());
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let e = err("instance = \"a\"\n[[job]]\nname = \"n\"\ntargets = [\"http://a/\"]\nintreval = \"1m\"\n");
        assert!(e.starts_with("/etc/minetsdb/config.toml:5:1: "), "{e}");
        assert!(e.contains("intreval"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        let e = err("[nvml]\nenable = true\n");
        assert!(e.contains(":2:1: ") && e.contains("enable"), "{e}");
    }

    #[test]
    fn bad_duration_names_key_and_place() {
        let e = err("[[job]]\nname = \"pool\"\ntargets = [\"http://a/\"]\ninterval = \"5x\"\n");
        assert!(e.contains("config.toml:4:12: "), "{e}");
        assert!(e.contains("job \"pool\": interval"), "{e}");
        assert!(e.contains("unknown unit"), "{e}");
        let e = err("[nvml]\ninterval = \"0s\"\n");
        assert!(e.contains(":2:12: nvml.interval: "), "{e}");
    }

    #[test]
    fn other_mistakes() {
        assert!(err("[[job]]\nname = \"n\"\ntargets = []\n").contains(":3:11: job \"n\": targets"));
        assert!(err("[[job]]\nname = \"n\"\ntargets = [\"ftp://x\"]\n").contains("not an http"));
        assert!(err("[[job]]\nname = \"n\"\ntargets = [\"a:1/x\"]\n").contains("nor host:port"));
        assert!(
            err("[[job]]\nname = \"n\"\ntargets = [\"a:1\"]\nscheme = \"ftp\"\n")
                .contains(":4:10: job \"n\": scheme: must be http or https")
        );
        assert!(
            err("[[job]]\nname = \"n\"\ntargets = [\"a:1\"]\nbody_size_limit = \"3XB\"\n")
                .contains(":4:19: job \"n\": body_size_limit: size \"3XB\": unknown unit")
        );
        assert!(err("[[job]]\nname = \"n\"\ntargets = [\"a:1\"]\nbasic_auth = { username = \"u\", pasword = \"p\" }\n")
            .contains("pasword"));
        assert!(err("[[job]]\nname = \"n\"\ntargets = [\"a:1\"]\nbasic_auth = { username = \"u\" }\nbearer_token = \"t\"\n")
            .contains(":5:16: job \"n\": bearer_token: basic_auth and a bearer token are mutually exclusive"));
        assert!(
            err("[[job]]\nname = \"n\"\ntargets = [\"http://x\"]\nlabels = { job = \"x\" }\n")
                .contains("label \"job\"")
        );
        assert!(err(
            "[[job]]\nname = \"n\"\ntargets = [\"http://x\"]\nlabels = { \"a-b\" = \"x\" }\n"
        )
        .contains("label \"a-b\""));
        let twice = "[[job]]\nname = \"n\"\ntargets = [\"http://x\"]\n";
        assert!(err(&format!("{twice}{twice}")).contains(":5:8: job.name: \"n\" is used"));
        assert!(err("[[job]]\ntargets = [\"http://x\"]\n").contains("name"));
        assert!(err("instance = 3\n").contains(":1:12: "));
        assert!(err("[nvml\n").contains(":1:"));
    }

    #[test]
    fn prometheus_style_keys() {
        let c = parse(
            r#"
[[job]]
name = "probe"
targets = ["127.0.0.1:9115", "http://h:1/m?x=1"]
metrics_path = "/probe"
params = { module = ["tcp connect"], target = ["pool.example:4444"] }
honor_labels = true
sample_limit = 100
body_size_limit = "2MiB"
timeout = "3s"
bearer_token_file = "tok"
"#,
        )
        .unwrap();
        let j = &c.jobs[0];
        let t = j.scrape_targets();
        assert_eq!(
            t[0].url,
            "http://127.0.0.1:9115/probe?module=tcp+connect&target=pool.example%3A4444"
        );
        assert_eq!(t[0].instance(), "127.0.0.1:9115");
        assert_eq!(
            t[1].url,
            "http://h:1/m?x=1&module=tcp+connect&target=pool.example%3A4444"
        );
        assert_eq!(t[1].instance(), "h:1");
        assert!(t[0].opts.honor_labels);
        assert_eq!(t[0].opts.sample_limit, 100);
        assert_eq!(t[0].opts.body_size_limit, 2 << 20);
        assert_eq!(t[0].opts.timeout_ms, 3000);
        assert_eq!(
            t[0].opts.auth,
            Some(Auth::Token {
                scheme: "Bearer".into(),
                credentials: Secret::File(PathBuf::from("/etc/minetsdb/tok"))
            })
        );
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("10KB"), Ok(10 << 10));
        assert_eq!(parse_size("7"), Ok(7));
    }

    #[test]
    fn missing_file() {
        let e = Config::load(Path::new("/nonexistent/minetsdb/config.toml")).unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }));
        assert!(
            e.to_string().contains("/nonexistent/minetsdb/config.toml"),
            "{e}"
        );
    }

    #[test]
    fn line_col_counts_chars() {
        assert_eq!(line_col("ab\ncé=x", 6), (2, 3));
        assert_eq!(line_col("", 0), (1, 1));
    }
}
