//! What every pool and miner API shares: typed errors naming the URL and
//! the JSON path of a bad field, JSON decoding into serde types, numbers
//! that some APIs send as strings, and the series every API source adds
//! (`up`, and its back-off state).
//!
//! Decoding goes through `serde_path_to_error`, so a field of the wrong type
//! or a missing one is reported as `<url>: data.unpaid: invalid type:
//! string "x", expected f64` rather than serde_json's bare line and column.

use std::time::Duration;

use minetsdb::{Labels, Metadata, MetricType, Sample, METRIC_NAME_LABEL};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::http::HttpError;

/// Why one API request gave nothing usable. Every message names the URL.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request failed (connect, timeout, size cap, status, 429).
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The body is not JSON, or not the shape expected.
    #[error("{url}: {}{what}", if path.is_empty() || path == "." { String::new() } else { format!("{path}: ") })]
    Json {
        /// The URL.
        url: String,
        /// Where in the document: `data.workers[0].hashrate`; empty when the
        /// body is not JSON at all.
        path: String,
        /// What is wrong (missing field, wrong type, syntax with line:column).
        what: String,
    },
    /// The API answered, and said it failed (`{"status":"ERROR",...}`).
    #[error("{url}: the API reported an error: {message}")]
    Refused {
        /// The URL.
        url: String,
        /// The API's own words.
        message: String,
    },
    /// The API knows nothing of this address (yet): a new address, or a
    /// typo. Not a failure of the pool.
    #[error("{url}: no data for this address yet (new address, or a typo?)")]
    NoData {
        /// The URL.
        url: String,
    },
    /// A TCP API (cgminer) failed.
    #[error("{url}: {what}")]
    Tcp {
        /// `host:port`.
        url: String,
        /// What went wrong.
        what: String,
    },
}

impl ApiError {
    /// For a 429 answer: how long the server asked to wait, if it said.
    pub fn rate_limited(&self) -> Option<Option<Duration>> {
        match self {
            ApiError::Http(HttpError::RateLimited { retry_after, .. }) => Some(*retry_after),
            _ => None,
        }
    }
}

/// Parses `body` as JSON, any shape; a syntax error names line and column.
pub fn parse(url: &str, body: &[u8]) -> Result<serde_json::Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::Json {
        url: url.to_string(),
        path: String::new(),
        what: format!("not JSON: {e}"),
    })
}

/// Decodes `value`, found at `at` in the document (`""` for the root,
/// `"data"` for a member), into `T`; errors name the path of the bad field.
pub fn decode<T: DeserializeOwned>(
    url: &str,
    value: &serde_json::Value,
    at: &str,
) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let path = match (at, inner.as_str()) {
            ("", p) => p.to_string(),
            (a, "." | "") => a.to_string(),
            (a, p) if p.starts_with('[') => format!("{a}{p}"),
            (a, p) => format!("{a}.{p}"),
        };
        ApiError::Json {
            url: url.to_string(),
            path,
            what: e.into_inner().to_string(),
        }
    })
}

/// Parses and decodes the whole body into `T`.
pub fn decode_body<T: DeserializeOwned>(url: &str, body: &[u8]) -> Result<T, ApiError> {
    decode(url, &parse(url, body)?, "")
}

/// A number some APIs send as a JSON number and others as a string of one
/// (`"185.4"`, Nanopool and cryptonote pools).
pub fn flex_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flex {
        Num(f64),
        Str(String),
    }
    match Flex::deserialize(d).map_err(|_| {
        serde::de::Error::custom("invalid type: expected a number or a string of one")
    })? {
        Flex::Num(v) => Ok(v),
        Flex::Str(s) => s.trim().parse::<f64>().map_err(|_| {
            serde::de::Error::custom(format!("invalid value: {s:?}, expected a number"))
        }),
    }
}

/// [`flex_f64`] for an optional field (absent or `null` is `None`).
pub fn flex_f64_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "flex_f64")] f64);
    Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
}

/// Builds samples of one source at one time, with a fixed set of labels
/// added to each, skipping (and counting) label sets the store refuses.
#[derive(Debug)]
pub(crate) struct Samples {
    t: i64,
    base: Vec<(String, String)>,
    pub(crate) out: Vec<(Labels, Sample)>,
    pub(crate) metadata: Vec<(String, Metadata)>,
}

impl Samples {
    /// Samples at `t` carrying `base` labels (empty values dropped).
    pub(crate) fn new(t: i64, base: &[(&str, &str)]) -> Samples {
        Samples {
            t,
            base: base
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            out: Vec::new(),
            metadata: Vec::new(),
        }
    }

    /// One sample of `metric` with the base labels and `extra` ones (empty
    /// values dropped); non-finite values are stored as they are.
    pub(crate) fn push(&mut self, metric: &str, extra: &[(&str, &str)], v: f64) {
        let pairs = std::iter::once((METRIC_NAME_LABEL.to_string(), metric.to_string()))
            .chain(self.base.iter().cloned())
            .chain(
                extra
                    .iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(n, v)| (n.to_string(), v.to_string())),
            );
        // Names are this crate's constants and values free text; an
        // invalid set is a bug here, and is skipped rather than panicking.
        if let Ok(labels) = Labels::from_pairs(pairs) {
            self.out.push((labels, Sample::new(self.t, v)));
        }
    }

    /// [`Samples::push`] when there is a value.
    pub(crate) fn push_opt(&mut self, metric: &str, extra: &[(&str, &str)], v: Option<f64>) {
        if let Some(v) = v {
            self.push(metric, extra, v);
        }
    }

    /// Records metadata for `metric`.
    pub(crate) fn describe(&mut self, metric: &str, counter: bool, unit: &str, help: &str) {
        self.metadata.push((
            metric.to_string(),
            Metadata {
                metric_type: if counter {
                    MetricType::Counter
                } else {
                    MetricType::Gauge
                },
                unit: unit.to_string(),
                help: help.to_string(),
            },
        ));
    }
}

/// `host:port` of a URL as written (the `instance` of `up`), as a scrape
/// names its targets.
pub(crate) fn authority(url: &str) -> String {
    crate::scrape::Target::new(url, "").instance()
}

/// The `up` sample and its metadata for a source's target.
pub(crate) fn up(job: &str, url: &str, t: i64, ok: bool) -> (Labels, Sample, (String, Metadata)) {
    let instance = authority(url);
    let labels = Labels::new("up", &[("instance", instance.as_str()), ("job", job)])
        .or_else(|_| Labels::new("up", &[("job", job)]))
        .unwrap_or_default();
    (
        labels,
        Sample::new(t, if ok { 1.0 } else { 0.0 }),
        (
            "up".to_string(),
            Metadata {
                metric_type: MetricType::Gauge,
                unit: String::new(),
                help: "1 if the target was read, 0 if not.".to_string(),
            },
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        a: f64,
        #[serde(deserialize_with = "flex_f64")]
        b: f64,
        #[serde(default, deserialize_with = "flex_f64_opt")]
        c: Option<f64>,
    }

    #[test]
    fn paths_name_the_field() {
        let v = parse("http://x/", br#"{"data":{"a":1,"b":"2.5","c":null}}"#).unwrap();
        let ok: Inner = decode("http://x/", &v["data"], "data").unwrap();
        assert_eq!((ok.a, ok.b, ok.c), (1.0, 2.5, None));

        let v = parse("http://x/", br#"{"data":[{"a":1,"b":2},{"a":"x","b":2}]}"#).unwrap();
        let e = decode::<Vec<Inner>>("http://x/", &v["data"], "data").unwrap_err();
        assert_eq!(
            e.to_string(),
            "http://x/: data[1].a: invalid type: string \"x\", expected f64"
        );
        let v = parse("http://x/", br#"{"data":{"b":2}}"#).unwrap();
        let e = decode::<Inner>("http://x/", &v["data"], "data").unwrap_err();
        assert_eq!(e.to_string(), "http://x/: data: missing field `a`");
        let e = decode_body::<Inner>("http://x/", br#"{"a":1,"b":"many"}"#).unwrap_err();
        assert!(
            e.to_string().starts_with("http://x/: b: invalid value"),
            "{e}"
        );
        let e = decode_body::<Inner>("http://x/", b"<html>").unwrap_err();
        assert!(
            e.to_string().contains("not JSON") && e.to_string().contains("line 1"),
            "{e}"
        );
    }
}
