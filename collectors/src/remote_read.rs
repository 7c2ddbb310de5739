//! Prometheus remote read (`/api/v1/read`, response type SAMPLES): the
//! client half, for migrating a Prometheus history into minetsdb
//! (`minetsdb import --from-prometheus URL`).
//!
//! A request is a snappy-compressed protobuf `ReadRequest` with one
//! `Query` (a time range and label matchers); the answer a snappy-compressed
//! `ReadResponse` of `TimeSeries`, the messages remote write uses. Callers
//! read a long history window by window, so one answer stays small.
//!
//! Values arrive with their bits except `-0.0`, which Prometheus' proto3
//! encoder sends as `0.0` (it leaves out a field equal to zero).

use std::time::Duration;

use minetsdb::{Labels, MatchOp, Matcher, Sample};
use prost::Message;

use crate::remote_write::TimeSeries;

/// A label matcher of a remote-read query.
#[derive(Clone, PartialEq, Message)]
pub struct LabelMatcher {
    /// 0 `=`, 1 `!=`, 2 `=~`, 3 `!~`.
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// Label name.
    #[prost(string, tag = "2")]
    pub name: String,
    /// Value or regex.
    #[prost(string, tag = "3")]
    pub value: String,
}

/// One query: a closed time range in ms and matchers.
#[derive(Clone, PartialEq, Message)]
pub struct Query {
    /// Start, ms since the epoch.
    #[prost(int64, tag = "1")]
    pub start_timestamp_ms: i64,
    /// End, ms since the epoch.
    #[prost(int64, tag = "2")]
    pub end_timestamp_ms: i64,
    /// Matchers, all of which a series must match.
    #[prost(message, repeated, tag = "3")]
    pub matchers: Vec<LabelMatcher>,
}

/// The request body (before snappy).
#[derive(Clone, PartialEq, Message)]
pub struct ReadRequest {
    /// Queries; one per request here.
    #[prost(message, repeated, tag = "1")]
    pub queries: Vec<Query>,
    /// Accepted response types; 0 is SAMPLES.
    #[prost(int32, repeated, tag = "2")]
    pub accepted_response_types: Vec<i32>,
}

/// The series of one query.
#[derive(Clone, PartialEq, Message)]
pub struct QueryResult {
    /// Series with their samples in the query's range.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// The response body (after snappy).
#[derive(Clone, PartialEq, Message)]
pub struct ReadResponse {
    /// One result per query.
    #[prost(message, repeated, tag = "1")]
    pub results: Vec<QueryResult>,
}

/// Why a read failed; names the URL.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The request did not get an answer.
    #[error("{url}: {what}")]
    Http {
        /// The remote-read URL.
        url: String,
        /// What failed.
        what: String,
    },
    /// The answer was not a SAMPLES `ReadResponse`.
    #[error("{url}: bad response: {what}")]
    Decode {
        /// The remote-read URL.
        url: String,
        /// What was wrong.
        what: String,
    },
}

/// Most bytes one answer may decompress to (Prometheus' own default
/// `remote_read_sample_limit` keeps answers far below it).
const MAX_DECOMPRESSED: usize = 512 << 20;

/// The snappy-compressed body of a read of `[start, end]` (ms) for series
/// matching `matchers`.
pub fn encode_request(start: i64, end: i64, matchers: &[Matcher]) -> Vec<u8> {
    let req = ReadRequest {
        queries: vec![Query {
            start_timestamp_ms: start,
            end_timestamp_ms: end,
            matchers: matchers
                .iter()
                .map(|m| LabelMatcher {
                    r#type: match m.op {
                        MatchOp::Equal => 0,
                        MatchOp::NotEqual => 1,
                        MatchOp::Regex => 2,
                        MatchOp::NotRegex => 3,
                    },
                    name: m.name.clone(),
                    value: m.value.clone(),
                })
                .collect(),
        }],
        accepted_response_types: vec![0],
    };
    let raw = req.encode_to_vec();
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .unwrap_or_default()
}

/// The series of a snappy-compressed `ReadResponse`, checked.
pub fn decode_response(body: &[u8]) -> Result<Vec<(Labels, Vec<Sample>)>, String> {
    let len = snap::raw::decompress_len(body).map_err(|e| format!("snappy: {e}"))?;
    if len > MAX_DECOMPRESSED {
        return Err(format!(
            "answer decompresses to {len} bytes, over {MAX_DECOMPRESSED}: read shorter windows"
        ));
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| format!("snappy: {e}"))?;
    let resp = ReadResponse::decode(&raw[..]).map_err(|e| format!("protobuf: {e}"))?;
    let mut out = Vec::new();
    for r in resp.results {
        for ts in r.timeseries {
            let labels = Labels::from_pairs(ts.labels.into_iter().map(|l| (l.name, l.value)))
                .map_err(|e| format!("series labels: {e}"))?;
            let samples = ts
                .samples
                .iter()
                .map(|s| Sample::new(s.timestamp, s.value))
                .collect();
            out.push((labels, samples));
        }
    }
    Ok(out)
}

/// A remote-read client for one URL.
#[derive(Debug)]
pub struct Reader {
    url: String,
    agent: ureq::Agent,
}

impl Reader {
    /// A client of `url` (e.g. `http://127.0.0.1:9090/api/v1/read`), each
    /// request within `timeout`.
    pub fn new(url: &str, timeout: Duration) -> Reader {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .user_agent(concat!("minetsdb/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Reader {
            url: url.to_string(),
            agent,
        }
    }

    /// Reads `[start, end]` (ms) of the series matching `matchers`.
    pub fn read(
        &self,
        start: i64,
        end: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<(Labels, Vec<Sample>)>, ReadError> {
        let http = |what: String| ReadError::Http {
            url: self.url.clone(),
            what,
        };
        let body = encode_request(start, end, matchers);
        let resp = self
            .agent
            .post(&self.url)
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("Accept-Encoding", "snappy")
            .header("X-Prometheus-Remote-Read-Version", "0.1.0")
            .send(&body[..])
            .map_err(|e| http(e.to_string()))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .into_body()
            .with_config()
            .limit(MAX_DECOMPRESSED as u64)
            .read_to_vec()
            .map_err(|e| http(e.to_string()))?;
        if status != 200 {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_string();
            return Err(http(format!("HTTP {status}: {}", text.trim())));
        }
        decode_response(&bytes).map_err(|what| ReadError::Decode {
            url: self.url.clone(),
            what,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_write::{Label, ProtoSample};

    #[test]
    fn a_response_decodes_and_garbage_is_an_error() {
        let resp = ReadResponse {
            results: vec![QueryResult {
                timeseries: vec![TimeSeries {
                    labels: vec![
                        Label {
                            name: "__name__".into(),
                            value: "up".into(),
                        },
                        Label {
                            name: "job".into(),
                            value: "node".into(),
                        },
                    ],
                    samples: vec![ProtoSample {
                        value: f64::from_bits(0x7ff8_0000_0000_0bad),
                        timestamp: 1_700_000_000_000,
                    }],
                }],
            }],
        };
        let body = snap::raw::Encoder::new()
            .compress_vec(&resp.encode_to_vec())
            .unwrap();
        let got = decode_response(&body).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0.get("job"), Some("node"));
        assert_eq!(got[0].1[0].v.to_bits(), 0x7ff8_0000_0000_0bad);
        assert!(decode_response(b"not snappy at all").is_err());
        let req = encode_request(1, 2, &[Matcher::equal("job", "node")]);
        let raw = snap::raw::Decoder::new().decompress_vec(&req).unwrap();
        let back = ReadRequest::decode(&raw[..]).unwrap();
        assert_eq!(back.queries[0].matchers[0].name, "job");
        assert_eq!(back.accepted_response_types, vec![0]);
    }
}
