//! Scrape one Prometheus exposition endpoint (node_exporter,
//! nvidia_gpu_exporter, pool exporters) as Prometheus does.
//!
//! [`scrape`] GETs the target through [`HttpClient`] (so under its deadline
//! and size cap) with [`Format::ACCEPT`], reads the format from the
//! `Content-Type`, and parses with the one [exposition parser](Parser).
//! It never fails and never panics: a failed target gives a
//! [`ScrapeResult`] with [`ScrapeResult::error`] set and `up` 0, so one bad
//! target never stops the others.
//!
//! As in Prometheus (with `honor_labels: false`, `honor_timestamps: true`):
//! - every sample gets the target labels `job` and `instance`; `instance`
//!   is the URL's `host:port` as written unless [`Target::instance`] says
//!   otherwise. An exposed label of the same name is kept as
//!   `exported_<name>` (`exported_exported_<name>` if that is taken too).
//! - samples without a timestamp get the scrape's time, so every sample of
//!   one scrape shares one timestamp, as the store's shared timestamp
//!   columns expect; samples that carry their own keep it.
//! - synthetic series `up` (1 or 0), `scrape_duration_seconds` and
//!   `scrape_samples_scraped`, with the target labels only, at the scrape's
//!   time.
//!
//! - with [`ScrapeOptions::honor_labels`], exposed labels win and target
//!   labels are only added where the sample has none of that name.
//! - `metric_relabel_configs` ([`ScrapeOptions::metric_relabel`]) apply to
//!   each exposed sample after the target labels; a dropped sample is not
//!   stored and not counted against the limit.
//! - over [`ScrapeOptions::sample_limit`] samples (after metric
//!   relabelling) the whole scrape fails, as in Prometheus: no sample of it
//!   is stored, `up` is 0 and the error says so.
//! - the request carries Prometheus' `Accept` header ([`ACCEPT`]) and
//!   `X-Prometheus-Scrape-Timeout-Seconds`, and `Authorization` when the
//!   target has [`Auth`] (secrets in files are read at each scrape, so a
//!   rotated token is picked up, as Prometheus does).
//!
//! Unlike Prometheus, a malformed line does not fail the whole scrape: it is
//! collected in [`ScrapeResult::bad_lines`] and the good samples are kept
//! (`up` stays 1). An exporter that writes one odd line should not lose the
//! GPU temperatures around it.
//!
//! # Staleness
//! [`ScrapeJob`] writes Prometheus' stale marker ([`STALE_NAN`]) at the
//! scrape's time for every series of a target's previous scrape that is
//! absent now, and for all of them when the target is down; the PromQL
//! engine then stops returning the series at once instead of 5 minutes
//! later. As in Prometheus, only samples without their own timestamp are
//! tracked. The previous scrape's series are kept in memory by the loop;
//! a new process (`collect --once` under cron) reads them back from the
//! database through [`Source::restore`]: the series with the target's
//! `job` and `instance` labels that have a sample at exactly the job's
//! previous run time (every sample of one scrape shares that timestamp, and
//! the run time is recorded by the scheduler). Series of instances that
//! were scraped then but are no longer targets (removed from the config)
//! get stale markers too, synthetic series included, as Prometheus does
//! when a target goes away. Series whose `job` or `instance` the target
//! did not set (`honor_labels` with an exposed `job`, or labels rewritten
//! by `metric_relabel_configs`) are tracked by the loop but not found
//! again by a new process.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use minetsdb::{Db, Label, Labels, Matcher, Metadata, MetricType, Sample, METRIC_NAME_LABEL};

use crate::config::Job;
use crate::exposition::{self, Error as ExpoError, Format, Item, ParseError, Parser};
use crate::health::TargetHealth;
use crate::http::{HttpClient, HttpError, HttpOptions};
use crate::promconfig::relabel::{self, RelabelConfig};
use crate::source::{Collection, Source, Unavailable};

/// Prometheus' stale marker: a NaN with this exact bit pattern ends a series.
pub const STALE_NAN: f64 = f64::from_bits(0x7ff0_0000_0000_0002);

/// The `Accept` header Prometheus sends with its default `scrape_protocols`
/// (OpenMetrics 1.0.0, OpenMetrics 0.0.1, text 0.0.4), q-values as its
/// `acceptHeader` weighs them (the protobuf format we do not parse is left
/// out of the list, not of the weights).
pub const ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// The series every scrape writes about itself.
pub const SYNTHETIC: [&str; 3] = ["up", "scrape_duration_seconds", "scrape_samples_scraped"];

/// A password or token, given inline or in a file read at each scrape.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// The value itself.
    Inline(String),
    /// A file holding it; surrounding white space is trimmed.
    File(PathBuf),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret itself (config check, logs).
        match self {
            Secret::Inline(_) => f.write_str("<secret>"),
            Secret::File(p) => write!(f, "<file {}>", p.display()),
        }
    }
}

impl Secret {
    fn read(&self) -> Result<String, String> {
        match self {
            Secret::Inline(s) => Ok(s.clone()),
            Secret::File(p) => std::fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .map_err(|e| format!("reading {}: {e}", p.display())),
        }
    }
}

/// How a target authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Basic base64(username:password)`.
    Basic {
        /// The user.
        username: String,
        /// The password.
        password: Secret,
    },
    /// `Authorization: <scheme> <credentials>`; the scheme is `Bearer`
    /// unless prometheus.yml's `authorization.type` says otherwise.
    Token {
        /// `Bearer`, or another scheme.
        scheme: String,
        /// The token.
        credentials: Secret,
    },
}

impl Auth {
    /// The `Authorization` header's value, reading secret files now.
    pub fn header(&self) -> Result<String, String> {
        match self {
            Auth::Basic { username, password } => Ok(format!(
                "Basic {}",
                base64(format!("{username}:{}", password.read()?).as_bytes())
            )),
            Auth::Token {
                scheme,
                credentials,
            } => Ok(format!("{scheme} {}", credentials.read()?)),
        }
    }

    /// What `config check` shows: the kind and user, never the secret.
    pub fn describe(&self) -> String {
        match self {
            Auth::Basic { username, .. } => format!("basic auth as {username:?}"),
            Auth::Token { scheme, .. } => format!("{scheme} token"),
        }
    }
}

/// Standard base64 with padding (RFC 4648), for basic auth.
fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The URL Prometheus builds for a target: `scheme://address path?query`,
/// the query from `params` as Go's `url.Values.Encode` writes it.
pub fn target_url(
    scheme: &str,
    address: &str,
    path: &str,
    params: &[(String, Vec<String>)],
) -> String {
    let q = encode_query(params);
    if q.is_empty() {
        format!("{scheme}://{address}{path}")
    } else {
        format!("{scheme}://{address}{path}?{q}")
    }
}

/// `k=v&k2=v2`, keys sorted, each escaped as Go's `url.QueryEscape`
/// (space as `+`, bytes other than `A-Za-z0-9-_.~` as `%XX`).
pub fn encode_query(params: &[(String, Vec<String>)]) -> String {
    fn esc(s: &str) -> String {
        let mut o = String::with_capacity(s.len());
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    o.push(char::from(b))
                }
                b' ' => o.push('+'),
                _ => o.push_str(&format!("%{b:02X}")),
            }
        }
        o
    }
    let mut sorted: Vec<&(String, Vec<String>)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut parts = Vec::new();
    for (k, vs) in sorted {
        for v in vs {
            parts.push(format!("{}={}", esc(k), esc(v)));
        }
    }
    parts.join("&")
}

/// How a target is scraped, beyond its URL and labels.
#[derive(Debug, Clone)]
pub struct ScrapeOptions {
    /// Exposed labels win over target labels (Prometheus' `honor_labels`).
    pub honor_labels: bool,
    /// Keep the timestamps the target exposes (Prometheus'
    /// `honor_timestamps`, default true); false stamps every sample with
    /// the scrape's time.
    pub honor_timestamps: bool,
    /// The most samples one scrape may keep (after metric relabelling);
    /// 0 is no limit.
    pub sample_limit: usize,
    /// Credentials for the `Authorization` header.
    pub auth: Option<Auth>,
    /// `metric_relabel_configs`, applied to each exposed sample.
    pub metric_relabel: Vec<RelabelConfig>,
    /// Deadline of the whole request, in milliseconds.
    pub timeout_ms: i64,
    /// The largest body accepted, in bytes after decompression.
    pub body_size_limit: u64,
}

impl Default for ScrapeOptions {
    fn default() -> Self {
        let http = HttpOptions::default();
        ScrapeOptions {
            honor_labels: false,
            honor_timestamps: true,
            sample_limit: 0,
            auth: None,
            metric_relabel: Vec::new(),
            timeout_ms: http.deadline.as_millis() as i64,
            body_size_limit: http.max_body_bytes,
        }
    }
}

impl ScrapeOptions {
    /// An HTTP client with this target's deadline and body cap.
    pub fn client(&self) -> HttpClient {
        HttpClient::new(HttpOptions {
            deadline: Duration::from_millis(self.timeout_ms.max(1) as u64),
            max_body_bytes: self.body_size_limit,
            ..HttpOptions::default()
        })
    }
}

/// One endpoint to scrape.
#[derive(Debug, Clone)]
pub struct Target {
    /// `http://` or `https://` URL of the metrics page.
    pub url: String,
    /// The `job` label.
    pub job: String,
    /// The `instance` label; `None` means the URL's `host:port`.
    pub instance: Option<String>,
    /// Extra target labels (a config's `labels`), added to every sample
    /// like `job` and `instance`; not named `job` or `instance`.
    pub labels: Vec<(String, String)>,
    /// Limits, credentials, label handling.
    pub opts: ScrapeOptions,
}

impl Target {
    /// A target with the instance taken from the URL.
    pub fn new(url: impl Into<String>, job: impl Into<String>) -> Target {
        Target {
            url: url.into(),
            job: job.into(),
            instance: None,
            labels: Vec::new(),
            opts: ScrapeOptions::default(),
        }
    }

    /// The `instance` label: the override, or the URL's `host:port` as
    /// written (without any `user:password@`).
    pub fn instance(&self) -> String {
        if let Some(i) = &self.instance {
            return i.clone();
        }
        let rest = self
            .url
            .split_once("://")
            .map_or(self.url.as_str(), |(_, r)| r);
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        authority
            .rsplit_once('@')
            .map_or(authority, |(_, a)| a)
            .to_string()
    }

    /// The target labels, `instance`, `job`, then the extra ones, without
    /// empty values.
    pub fn target_labels(&self) -> Vec<(String, String)> {
        [("instance", self.instance()), ("job", self.job.clone())]
            .into_iter()
            .map(|(n, v)| (n.to_string(), v))
            .chain(self.labels.iter().cloned())
            .filter(|(_, v)| !v.is_empty())
            .collect()
    }
}

/// Why a scrape gave no samples from the target.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    /// The request failed (its message names the URL).
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The credentials could not be read (a password or token file).
    #[error("{url}: credentials: {what}")]
    Auth {
        /// The URL.
        url: String,
        /// What went wrong.
        what: String,
    },
    /// More samples than the target's `sample_limit`: the whole scrape is
    /// dropped, as Prometheus does.
    #[error("{url}: sample limit exceeded: {got} samples, sample_limit is {limit}")]
    SampleLimit {
        /// The URL.
        url: String,
        /// Samples the scrape would have kept.
        got: usize,
        /// The limit.
        limit: usize,
    },
}

/// What one scrape of one target gave.
#[derive(Debug)]
pub struct ScrapeResult {
    /// The scrape's time, in milliseconds since the Unix epoch: the
    /// timestamp of every sample that did not carry its own, and of the
    /// synthetic series.
    pub t: i64,
    /// Samples with target labels, then `up`, `scrape_duration_seconds`
    /// and `scrape_samples_scraped`.
    pub samples: Vec<(Labels, Sample)>,
    /// Metadata by family name, as the target exposed it, plus that of the
    /// synthetic series.
    pub metadata: Vec<(String, Metadata)>,
    /// Malformed lines, skipped.
    pub bad_lines: Vec<ParseError>,
    /// Set when the target could not be scraped (`up` is 0).
    pub error: Option<ScrapeError>,
    /// How long the scrape took (request and parse).
    pub duration: Duration,
    /// Samples the target exposed (`scrape_samples_scraped`).
    pub scraped: usize,
    /// The series of this scrape that staleness tracks: those stored with
    /// the scrape's time (not their own timestamp).
    pub tracked: Vec<Labels>,
}

impl ScrapeResult {
    /// Whether the target answered (the value of `up`).
    pub fn up(&self) -> bool {
        self.error.is_none()
    }
}

/// Scrapes `target` once; `now_ms` is the scrape's time. Never fails: see
/// [`ScrapeResult::error`].
pub fn scrape(client: &HttpClient, target: &Target, now_ms: i64) -> ScrapeResult {
    let began = Instant::now();
    let target_labels = target.target_labels();
    let mut res = ScrapeResult {
        t: now_ms,
        samples: Vec::new(),
        metadata: Vec::new(),
        bad_lines: Vec::new(),
        error: None,
        duration: Duration::ZERO,
        scraped: 0,
        tracked: Vec::new(),
    };
    let mut headers = vec![(
        "X-Prometheus-Scrape-Timeout-Seconds",
        format!("{}", client.options().deadline.as_secs_f64()),
    )];
    let auth = target.opts.auth.as_ref().map(Auth::header).transpose();
    match auth {
        Ok(Some(h)) => headers.push(("Authorization", h)),
        Ok(None) => {}
        Err(what) => {
            res.error = Some(ScrapeError::Auth {
                url: target.url.clone(),
                what,
            })
        }
    }
    if res.error.is_none() {
        match client.get_with(&target.url, ACCEPT, &headers) {
            Ok(resp) => {
                let opts = exposition::Options {
                    format: Format::from_content_type(&resp.content_type),
                    default_timestamp_ms: None,
                    keep_created: false,
                };
                parse_into(&mut res, &resp.body, opts, &target_labels, &target.opts);
            }
            Err(e) => res.error = Some(e.into()),
        }
    }
    let limit = target.opts.sample_limit;
    if limit > 0 && res.samples.len() > limit {
        res.error = Some(ScrapeError::SampleLimit {
            url: target.url.clone(),
            got: res.samples.len(),
            limit,
        });
    }
    if res.error.is_some() {
        // Nothing of a failed scrape is stored (Prometheus rolls it back).
        res.samples.clear();
        res.metadata.clear();
        res.tracked.clear();
    }
    res.duration = began.elapsed();
    let up = if res.up() { 1.0 } else { 0.0 };
    let synthetic = [
        ("up", up, "1 if the target was scraped, 0 if not."),
        (
            "scrape_duration_seconds",
            res.duration.as_secs_f64(),
            "Duration of the scrape.",
        ),
        (
            "scrape_samples_scraped",
            res.scraped as f64,
            "Samples the target exposed.",
        ),
    ];
    for (name, v, help) in synthetic {
        let pairs = std::iter::once((METRIC_NAME_LABEL.to_string(), name.to_string()))
            .chain(target_labels.iter().cloned());
        // Target labels are fixed names; only a value could be odd, and any
        // UTF-8 value is valid, so this does not fail. Skip rather than panic.
        if let Ok(labels) = Labels::from_pairs(pairs) {
            res.samples.push((labels, Sample::new(now_ms, v)));
        }
        let md = Metadata {
            metric_type: MetricType::Gauge,
            unit: String::new(),
            help: help.to_string(),
        };
        res.metadata.push((name.to_string(), md));
    }
    res
}

/// Appends a scrape's samples (one batch, `up` included whether or not the
/// target answered) and records its metadata; names the store would refuse
/// as metric names are skipped. The scrape's own error is left to the
/// caller.
pub fn store(
    db: &minetsdb::Db,
    res: &ScrapeResult,
) -> Result<minetsdb::AppendReport, minetsdb::Error> {
    crate::source::store(db, &res.samples, &res.metadata)
}

/// A job as a [`Source`]: every target scraped in turn, each under its own
/// deadline, each failure one line of the collection; stale markers for
/// the series that went away (see the module docs).
#[derive(Debug)]
pub struct ScrapeJob {
    name: String,
    targets: Vec<(Target, HttpClient)>,
    /// Per target (keyed by its target labels): the series of its last scrape.
    prev: HashMap<Vec<(String, String)>, HashSet<Labels>>,
    /// Series of targets that are gone, to be marked stale at the next collect.
    orphans: Vec<Labels>,
}

impl ScrapeJob {
    /// The job of a `config.toml` `[[job]]`.
    pub fn new(job: Job) -> ScrapeJob {
        let targets = job.scrape_targets();
        ScrapeJob::with_targets(job.name, targets)
    }

    /// A job named `name` (the key of its schedule) over these targets.
    pub fn with_targets(name: impl Into<String>, targets: Vec<Target>) -> ScrapeJob {
        ScrapeJob {
            name: name.into(),
            targets: targets
                .into_iter()
                .map(|t| {
                    let c = t.opts.client();
                    (t, c)
                })
                .collect(),
            prev: HashMap::new(),
            orphans: Vec::new(),
        }
    }

    /// The targets, in order.
    pub fn targets(&self) -> impl Iterator<Item = &Target> {
        self.targets.iter().map(|(t, _)| t)
    }
}

/// Malformed lines reported per target and scrape; the rest are counted.
const BAD_LINES_SHOWN: usize = 5;

impl Source for ScrapeJob {
    fn name(&self) -> &str {
        &self.name
    }

    fn restore(&mut self, db: &Db, last_run_ms: i64) -> Result<(), minetsdb::Error> {
        let mut by_job: BTreeMap<String, HashSet<String>> = BTreeMap::new();
        for (t, _) in &self.targets {
            by_job
                .entry(t.job.clone())
                .or_default()
                .insert(t.instance());
        }
        let keys: HashMap<(String, String), Vec<(String, String)>> = self
            .targets
            .iter()
            .map(|(t, _)| ((t.job.clone(), t.instance()), t.target_labels()))
            .collect();
        for (job, instances) in by_job {
            let m = [Matcher::equal("job", &job)];
            for series in db.select(&m, last_run_ms..=last_run_ms)? {
                let series = series?;
                let at_last = series
                    .samples
                    .iter()
                    .any(|s| s.t == last_run_ms && s.v.to_bits() != STALE_NAN.to_bits());
                if !at_last {
                    continue;
                }
                // Only a target's series carry an instance; the job's own
                // run state (`minetsdb_job_last_run_timestamp_seconds{job}`)
                // does not, and must not be taken for a vanished target.
                let Some(instance) = series.labels.get("instance").map(str::to_string) else {
                    continue;
                };
                if !instances.contains(&instance) {
                    // A target that is no longer configured: all its series end.
                    self.orphans.push(series.labels);
                    continue;
                }
                if SYNTHETIC.contains(&series.labels.metric_name()) {
                    continue;
                }
                if let Some(key) = keys.get(&(job.clone(), instance)) {
                    self.prev
                        .entry(key.clone())
                        .or_default()
                        .insert(series.labels);
                }
            }
        }
        Ok(())
    }

    fn collect(&mut self, now_ms: i64) -> Result<Collection, Unavailable> {
        let mut out = Collection::default();
        for l in self.orphans.drain(..) {
            out.samples.push((l, Sample::new(now_ms, STALE_NAN)));
        }
        for (target, client) in &self.targets {
            let url = &target.url;
            let res = scrape(client, target, now_ms);
            for e in res.bad_lines.iter().take(BAD_LINES_SHOWN) {
                out.warnings.push(format!("{url}: skipped {e}"));
            }
            if res.bad_lines.len() > BAD_LINES_SHOWN {
                out.warnings.push(format!(
                    "{url}: skipped {} more malformed lines",
                    res.bad_lines.len() - BAD_LINES_SHOWN
                ));
            }
            if let Some(e) = &res.error {
                out.failures.push(e.to_string());
            }
            let key = target.target_labels();
            let now: HashSet<Labels> = res.tracked.iter().cloned().collect();
            if let Some(before) = self.prev.get(&key) {
                let mut gone: Vec<&Labels> = before.difference(&now).collect();
                gone.sort();
                for l in gone {
                    out.samples
                        .push((l.clone(), Sample::new(now_ms, STALE_NAN)));
                }
            }
            self.prev.insert(key.clone(), now);
            out.targets.push(TargetHealth {
                job: self.name.clone(),
                url: url.clone(),
                labels: key,
                up: res.up(),
                last_scrape_ms: now_ms,
                duration_seconds: res.duration.as_secs_f64(),
                samples: res.scraped,
                error: res.error.as_ref().map(|e| e.to_string()),
            });
            out.samples.extend(res.samples);
            out.metadata.extend(res.metadata);
        }
        Ok(out)
    }
}

fn parse_into(
    res: &mut ScrapeResult,
    body: &[u8],
    opts: exposition::Options,
    target_labels: &[(String, String)],
    scrape: &ScrapeOptions,
) {
    for item in Parser::new(body, opts) {
        match item {
            Ok(Item::Sample { labels, t, v }) => {
                res.scraped += 1;
                let own_time = t.filter(|_| scrape.honor_timestamps);
                let with_target = if scrape.honor_labels {
                    honoring_labels(&labels, target_labels)
                } else {
                    with_target_labels(&labels, target_labels)
                };
                match with_target.and_then(|l| metric_relabel(l, &scrape.metric_relabel)) {
                    Ok(Some(l)) => {
                        if own_time.is_none() {
                            res.tracked.push(l.clone());
                        }
                        res.samples
                            .push((l, Sample::new(own_time.unwrap_or(res.t), v)));
                    }
                    Ok(None) => {}
                    Err(what) => res.bad_lines.push(ParseError {
                        line: 0,
                        col: 0,
                        what: format!("{labels}: {what}"),
                    }),
                }
            }
            Ok(Item::Metadata { name, md }) => res.metadata.push((name, md)),
            Ok(Item::Eof) => {}
            Err(ExpoError::Parse(e)) => res.bad_lines.push(e),
            Err(ExpoError::Io { line, source }) => {
                // Reading from memory; kept for completeness, parsing stops.
                res.bad_lines.push(ParseError {
                    line,
                    col: 1,
                    what: source.to_string(),
                });
                break;
            }
        }
    }
}

/// Applies `metric_relabel_configs`; `None` when they drop the sample.
fn metric_relabel(
    labels: Labels,
    cfgs: &[RelabelConfig],
) -> Result<Option<Labels>, minetsdb::Error> {
    if cfgs.is_empty() {
        return Ok(Some(labels));
    }
    let mut lb: relabel::LabelSet = labels
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect();
    if !relabel::process(&mut lb, cfgs) {
        return Ok(None);
    }
    Labels::from_pairs(lb).map(Some)
}

/// `honor_labels: true`: the exposed labels as they are, and each target
/// label only where the sample has no label of that name.
fn honoring_labels(
    labels: &Labels,
    target_labels: &[(String, String)],
) -> Result<Labels, minetsdb::Error> {
    let mut pairs: Vec<(String, String)> = labels
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect();
    for (n, v) in target_labels {
        if labels.get(n).is_none() {
            pairs.push((n.clone(), v.clone()));
        }
    }
    Labels::from_pairs(pairs)
}

/// Adds the target labels; exposed labels of the same names become
/// `exported_<name>`, as Prometheus does with `honor_labels: false`.
fn with_target_labels(
    labels: &Labels,
    target_labels: &[(String, String)],
) -> Result<Labels, minetsdb::Error> {
    let taken = |name: &str| labels.get(name).is_some();
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(labels.len() + 2);
    for Label { name, value } in labels.iter() {
        let mut name = name.clone();
        if target_labels.iter().any(|(n, _)| *n == name) {
            name = format!("exported_{name}");
            while taken(&name) {
                name = format!("exported_{name}");
            }
        }
        pairs.push((name, value.clone()));
    }
    pairs.extend(target_labels.iter().cloned());
    Labels::from_pairs(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_from_url() {
        let t = |u: &str| Target::new(u, "j").instance();
        assert_eq!(t("http://127.0.0.1:9100/metrics"), "127.0.0.1:9100");
        assert_eq!(t("https://user:pw@pool.example:8443"), "pool.example:8443");
        assert_eq!(t("http://[::1]:9835/metrics?x=1"), "[::1]:9835");
        assert_eq!(t("http://rig1/metrics"), "rig1");
        let mut o = Target::new("http://a:1/", "j");
        o.instance = Some("rig1".into());
        assert_eq!(o.instance(), "rig1");
    }

    #[test]
    fn base64_matches_rfc4648() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o, "{i}");
        }
        let a = Auth::Basic {
            username: "Aladdin".into(),
            password: Secret::Inline("open sesame".into()),
        };
        assert_eq!(a.header().unwrap(), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert!(!format!("{a:?}").contains("sesame"));
    }

    #[test]
    fn honor_labels_keeps_exposed_ones() {
        let tl = vec![
            ("instance".to_string(), "a:1".to_string()),
            ("job".to_string(), "node".to_string()),
            ("rig".to_string(), "r1".to_string()),
        ];
        let l = Labels::new("m", &[("job", "x"), ("k", "v")]).unwrap();
        let got = honoring_labels(&l, &tl).unwrap();
        assert_eq!(got.get("job"), Some("x"));
        assert_eq!(got.get("instance"), Some("a:1"));
        assert_eq!(got.get("rig"), Some("r1"));
        assert_eq!(got.get("exported_job"), None);
    }

    #[test]
    fn stale_nan_is_prometheus_bit_pattern() {
        assert_eq!(STALE_NAN.to_bits(), 0x7ff0_0000_0000_0002);
        assert!(STALE_NAN.is_nan());
    }

    #[test]
    fn exported_renaming() {
        let tl = vec![
            ("instance".to_string(), "a:1".to_string()),
            ("job".to_string(), "node".to_string()),
        ];
        let l = Labels::new("m", &[("job", "x"), ("exported_job", "y"), ("k", "v")]).unwrap();
        let got = with_target_labels(&l, &tl).unwrap();
        assert_eq!(got.get("job"), Some("node"));
        assert_eq!(got.get("instance"), Some("a:1"));
        assert_eq!(got.get("exported_exported_job"), Some("x"));
        assert_eq!(got.get("exported_job"), Some("y"));
        assert_eq!(got.get("k"), Some("v"));
    }
}
