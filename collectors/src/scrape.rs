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
//! Unlike Prometheus, a malformed line does not fail the whole scrape: it is
//! collected in [`ScrapeResult::bad_lines`] and the good samples are kept
//! (`up` stays 1). An exporter that writes one odd line should not lose the
//! GPU temperatures around it.

use std::time::{Duration, Instant};

use minetsdb::{Label, Labels, Metadata, MetricType, Sample, METRIC_NAME_LABEL};

use crate::config::Job;
use crate::exposition::{self, Error as ExpoError, Format, Item, ParseError, Parser};
use crate::http::{HttpClient, HttpError, HttpOptions};
use crate::source::{Collection, Source, Unavailable};

/// One endpoint to scrape.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

impl Target {
    /// A target with the instance taken from the URL.
    pub fn new(url: impl Into<String>, job: impl Into<String>) -> Target {
        Target {
            url: url.into(),
            job: job.into(),
            instance: None,
            labels: Vec::new(),
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
    fn labels(&self) -> Vec<(String, String)> {
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
    /// Samples the target exposed and that were kept.
    pub scraped: usize,
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
    let target_labels = target.labels();
    let mut res = ScrapeResult {
        t: now_ms,
        samples: Vec::new(),
        metadata: Vec::new(),
        bad_lines: Vec::new(),
        error: None,
        duration: Duration::ZERO,
        scraped: 0,
    };
    match client.get(&target.url, Format::ACCEPT) {
        Ok(resp) => {
            let opts = exposition::Options {
                format: Format::from_content_type(&resp.content_type),
                default_timestamp_ms: Some(now_ms),
                keep_created: false,
            };
            parse_into(&mut res, &resp.body, opts, &target_labels);
        }
        Err(e) => res.error = Some(e.into()),
    }
    res.scraped = res.samples.len();
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

/// A config job as a [`Source`]: every target scraped in turn under the
/// job's timeout, each failure one line of the collection.
#[derive(Debug)]
pub struct ScrapeJob {
    job: Job,
    client: HttpClient,
}

impl ScrapeJob {
    /// The job, with an HTTP client for its timeout.
    pub fn new(job: Job) -> ScrapeJob {
        let client = HttpClient::new(HttpOptions {
            deadline: Duration::from_millis(job.timeout_ms.max(1) as u64),
            ..HttpOptions::default()
        });
        ScrapeJob { job, client }
    }
}

/// Malformed lines reported per target and scrape; the rest are counted.
const BAD_LINES_SHOWN: usize = 5;

impl Source for ScrapeJob {
    fn name(&self) -> &str {
        &self.job.name
    }

    fn collect(&mut self, now_ms: i64) -> Result<Collection, Unavailable> {
        let mut out = Collection::default();
        for url in &self.job.targets {
            let target = Target {
                url: url.clone(),
                job: self.job.name.clone(),
                instance: None,
                labels: self.job.labels.clone(),
            };
            let res = scrape(&self.client, &target, now_ms);
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
) {
    for item in Parser::new(body, opts) {
        match item {
            Ok(Item::Sample { labels, t, v }) => {
                let t = t.unwrap_or(res.t);
                match with_target_labels(&labels, target_labels) {
                    Ok(l) => res.samples.push((l, Sample::new(t, v))),
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
