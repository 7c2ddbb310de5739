//! Prometheus remote write 1.0: the receiver's decoder (`minetsdb serve
//! --remote-write` answers `/api/v1/write` with it) and the messages.
//!
//! The body is a snappy-compressed (raw block format, not framed)
//! protobuf `prometheus.WriteRequest`. Its messages are derived by hand
//! with prost's macros from Prometheus' `prompb/types.proto` and
//! `remote.proto` (only the fields remote write 1.0 sends; exemplars and
//! native histograms are skipped as unknown fields).
//!
//! A hostile or broken sender must not exhaust memory, so before prost
//! allocates anything:
//! - the decompressed length, which snappy states up front, is capped at
//!   [`MAX_DECOMPRESSED`];
//! - the top level is walked by hand and each `TimeSeries` is pre-scanned:
//!   at most [`MAX_LABELS`] labels per series and [`MAX_SAMPLES`] samples
//!   per request (an empty protobuf message is two bytes but a decoded
//!   struct is dozens).
//!
//! Every series is validated (Prometheus' naming rules, a metric name, no
//! repeated label) before anything is appended: a bad request is refused
//! whole with 400 and a message naming the series, so a sender that
//! retries it changes nothing. A good one is appended as one batch (durable
//! when we answer 204), so a retried request is stored once.

use minetsdb::{Db, Labels, Metadata, MetricType, Sample};
use prost::Message;

/// The largest decompressed request: Prometheus sends at most a few
/// thousand samples per request (`max_samples_per_send`, 500 by default
/// in 2.42), far below this.
pub const MAX_DECOMPRESSED: usize = 32 * 1024 * 1024;
/// Labels of one series.
pub const MAX_LABELS: usize = 128;
/// Samples of one request.
pub const MAX_SAMPLES: usize = 1_000_000;

/// `prometheus.Label`.
#[derive(Clone, PartialEq, Message)]
pub struct Label {
    /// Label name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Label value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`: value, then the timestamp in ms.
#[derive(Clone, PartialEq, Message)]
pub struct ProtoSample {
    /// The value (stale markers are Prometheus' special NaN).
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// `prometheus.TimeSeries` (exemplars = 3 and histograms = 4 left out).
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    /// The series' labels, `__name__` among them.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Its samples.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<ProtoSample>,
}

/// `prometheus.MetricMetadata`.
#[derive(Clone, PartialEq, Message)]
pub struct MetricMetadata {
    /// UNKNOWN 0, COUNTER 1, GAUGE 2, HISTOGRAM 3, GAUGEHISTOGRAM 4,
    /// SUMMARY 5, INFO 6, STATESET 7.
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// The family's name.
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    /// Help text.
    #[prost(string, tag = "4")]
    pub help: String,
    /// Unit.
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// `prometheus.WriteRequest`, for encoding (a sender, tests); [`decode`]
/// walks the top level by hand instead, see the module docs.
#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    /// Series with their samples.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    /// Metadata of metric families.
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// Why a request was refused; the text is the 400 response's body.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecodeError {
    /// Not raw snappy, or too large once decompressed.
    #[error("snappy: {0}")]
    Snappy(String),
    /// Not a protobuf `WriteRequest`.
    #[error("protobuf: {0}")]
    Protobuf(String),
    /// Over a limit of this receiver.
    #[error("{0}")]
    Limit(String),
    /// A series the store refuses.
    #[error("series {index}: {why}")]
    Series {
        /// Position in the request, from 0.
        index: usize,
        /// What was wrong, naming the labels.
        why: String,
    },
}

/// A decoded, validated request.
#[derive(Debug, Default, PartialEq)]
pub struct Decoded {
    /// Each series once per `TimeSeries` (a series may come twice).
    pub series: Vec<(Labels, Vec<Sample>)>,
    /// Metadata by metric family name.
    pub metadata: Vec<(String, Metadata)>,
}

impl Decoded {
    /// Samples in the request.
    pub fn n_samples(&self) -> usize {
        self.series.iter().map(|s| s.1.len()).sum()
    }
}

/// Decodes a request body: snappy, protobuf, validation.
pub fn decode(body: &[u8]) -> Result<Decoded, DecodeError> {
    let len = snap::raw::decompress_len(body).map_err(|e| DecodeError::Snappy(e.to_string()))?;
    if len > MAX_DECOMPRESSED {
        return Err(DecodeError::Limit(format!(
            "request decompresses to {len} bytes, over the limit of {MAX_DECOMPRESSED}"
        )));
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| DecodeError::Snappy(e.to_string()))?;
    decode_proto(&raw)
}

/// Decodes an uncompressed `WriteRequest`.
pub fn decode_proto(raw: &[u8]) -> Result<Decoded, DecodeError> {
    let mut out = Decoded::default();
    let mut samples_total = 0usize;
    for field in Fields(raw) {
        let (tag, value) = field?;
        match (tag, value) {
            (1, Value::Len(ts)) => {
                let index = out.series.len();
                let (n_labels, n_samples) = count(ts, 1, 2)?;
                if n_labels > MAX_LABELS {
                    return Err(DecodeError::Series {
                        index,
                        why: format!("{n_labels} labels, over the limit of {MAX_LABELS}"),
                    });
                }
                samples_total += n_samples;
                if samples_total > MAX_SAMPLES {
                    return Err(DecodeError::Limit(format!(
                        "over {MAX_SAMPLES} samples in one request"
                    )));
                }
                let ts =
                    TimeSeries::decode(ts).map_err(|e| DecodeError::Protobuf(e.to_string()))?;
                let labels = Labels::from_pairs(ts.labels.into_iter().map(|l| (l.name, l.value)))
                    .map_err(|e| DecodeError::Series {
                    index,
                    why: e.to_string(),
                })?;
                let samples = ts
                    .samples
                    .iter()
                    .map(|s| Sample::new(s.timestamp, s.value))
                    .collect();
                out.series.push((labels, samples));
            }
            (3, Value::Len(md)) => {
                let md =
                    MetricMetadata::decode(md).map_err(|e| DecodeError::Protobuf(e.to_string()))?;
                let metric_type = match md.r#type {
                    1 => MetricType::Counter,
                    2 => MetricType::Gauge,
                    3 | 4 => MetricType::Histogram,
                    5 => MetricType::Summary,
                    6 => MetricType::Info,
                    7 => MetricType::StateSet,
                    _ => MetricType::Unknown,
                };
                out.metadata.push((
                    md.metric_family_name,
                    Metadata {
                        metric_type,
                        unit: md.unit,
                        help: md.help,
                    },
                ));
            }
            // Field 1 or 3 of the wrong wire type is not a WriteRequest.
            (1 | 3, _) => {
                return Err(DecodeError::Protobuf(format!(
                    "field {tag} is not length-delimited"
                )))
            }
            // Unknown fields are skipped, as protobuf wants.
            _ => {}
        }
    }
    Ok(out)
}

/// Encodes series (and metadata) as a remote-write 1.0 request body:
/// a protobuf `WriteRequest`, snappy-compressed (raw block format). The
/// sending half, for a future `collect` that pushes; [`decode`] reads it
/// back. Every f64 bit pattern survives but `-0.0`, which arrives as
/// `0.0`: proto3 leaves out a field equal to zero, and prost (like the
/// Go code Prometheus generates) compares with `!= 0.0`.
pub fn encode(series: &[(Labels, Vec<Sample>)], metadata: &[(String, Metadata)]) -> Vec<u8> {
    let req = WriteRequest {
        timeseries: series
            .iter()
            .map(|(l, s)| TimeSeries {
                labels: l
                    .iter()
                    .map(|x| Label {
                        name: x.name.clone(),
                        value: x.value.clone(),
                    })
                    .collect(),
                samples: s
                    .iter()
                    .map(|x| ProtoSample {
                        value: x.v,
                        timestamp: x.t,
                    })
                    .collect(),
            })
            .collect(),
        metadata: metadata
            .iter()
            .map(|(name, md)| MetricMetadata {
                // MetricType is non-exhaustive: a later kind goes as UNKNOWN.
                r#type: match md.metric_type {
                    MetricType::Counter => 1,
                    MetricType::Gauge => 2,
                    MetricType::Histogram => 3,
                    MetricType::Summary => 5,
                    MetricType::Info => 6,
                    MetricType::StateSet => 7,
                    _ => 0,
                },
                metric_family_name: name.clone(),
                help: md.help.clone(),
                unit: md.unit.clone(),
            })
            .collect(),
    };
    // Compressing a Vec cannot fail but for a length over snappy's 4 GiB
    // limit, which a batch of one collection never reaches; an empty body
    // would then be refused by the receiver, not lost silently.
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap_or_default()
}

/// Appends a decoded request as one batch and records its metadata.
/// Returns the samples appended (a retried request appends none).
pub fn store(db: &Db, d: &Decoded) -> minetsdb::Result<usize> {
    let mut batch = Vec::with_capacity(d.n_samples());
    for (labels, samples) in &d.series {
        let r = db.series_ref(labels)?;
        batch.extend(samples.iter().map(|s| (r, *s)));
    }
    let rep = db.append(&batch)?;
    for (name, md) in &d.metadata {
        if minetsdb::check_metric_name(name).is_ok() {
            db.set_metadata(name, md.clone())?;
        }
    }
    Ok(rep.appended)
}

/// A protobuf field's value by wire type.
enum Value<'a> {
    Varint,
    Fixed,
    Len(&'a [u8]),
}

/// The top-level fields of a protobuf message, without decoding them.
struct Fields<'a>(&'a [u8]);

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Value<'a>), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let r = self.field();
        if r.is_err() {
            self.0 = &[];
        }
        Some(r)
    }
}

impl<'a> Fields<'a> {
    fn field(&mut self) -> Result<(u64, Value<'a>), DecodeError> {
        let bad = |what: &str| DecodeError::Protobuf(what.to_string());
        let key = prost::encoding::decode_varint(&mut self.0).map_err(|e| bad(&e.to_string()))?;
        let tag = key >> 3;
        if tag == 0 {
            return Err(bad("field number 0"));
        }
        let take = |s: &mut &'a [u8], n: usize| -> Result<&'a [u8], DecodeError> {
            if s.len() < n {
                return Err(bad("message ends inside a field"));
            }
            let (a, b) = s.split_at(n);
            *s = b;
            Ok(a)
        };
        let v = match key & 7 {
            0 => {
                prost::encoding::decode_varint(&mut self.0).map_err(|e| bad(&e.to_string()))?;
                Value::Varint
            }
            1 => {
                take(&mut self.0, 8)?;
                Value::Fixed
            }
            5 => {
                take(&mut self.0, 4)?;
                Value::Fixed
            }
            2 => {
                let n =
                    prost::encoding::decode_varint(&mut self.0).map_err(|e| bad(&e.to_string()))?;
                let n = usize::try_from(n).map_err(|_| bad("length too large"))?;
                Value::Len(take(&mut self.0, n)?)
            }
            w => return Err(bad(&format!("unsupported wire type {w}"))),
        };
        Ok((tag, v))
    }
}

/// How many fields numbered `a` and `b` a message has.
fn count(msg: &[u8], a: u64, b: u64) -> Result<(usize, usize), DecodeError> {
    let (mut na, mut nb) = (0, 0);
    for f in Fields(msg) {
        let (tag, _) = f?;
        na += usize::from(tag == a);
        nb += usize::from(tag == b);
    }
    Ok((na, nb))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(n: &str, v: &str) -> Label {
        Label {
            name: n.into(),
            value: v.into(),
        }
    }

    fn request(series: Vec<TimeSeries>) -> Vec<u8> {
        let raw = WriteRequest {
            timeseries: series,
            metadata: vec![MetricMetadata {
                r#type: 1,
                metric_family_name: "x_total".into(),
                help: "h".into(),
                unit: String::new(),
            }],
        }
        .encode_to_vec();
        snap::raw::Encoder::new().compress_vec(&raw).unwrap()
    }

    #[test]
    fn decodes_what_prometheus_sends() {
        let body = request(vec![TimeSeries {
            labels: vec![label("__name__", "x_total"), label("job", "j")],
            samples: vec![
                ProtoSample {
                    value: 1.5,
                    timestamp: 1000,
                },
                ProtoSample {
                    value: f64::from_bits(minetsdb::STALE_NAN_BITS),
                    timestamp: 2000,
                },
            ],
        }]);
        let d = decode(&body).unwrap();
        assert_eq!(d.series.len(), 1);
        assert_eq!(
            d.series[0].0,
            Labels::new("x_total", &[("job", "j")]).unwrap()
        );
        assert_eq!(d.series[0].1[0], Sample::new(1000, 1.5));
        assert!(minetsdb::is_stale_nan(d.series[0].1[1].v));
        assert_eq!(d.metadata[0].1.metric_type, MetricType::Counter);
    }

    #[test]
    fn encode_then_decode_is_the_identity() {
        let series = vec![
            (
                Labels::new("a_total", &[("gpu", "0")]).unwrap(),
                vec![Sample::new(1, 2.5), Sample::new(2, f64::INFINITY)],
            ),
            (
                Labels::new("b", &[]).unwrap(),
                vec![Sample::new(-5, 0.0), Sample::new(-4, f64::from_bits(1))],
            ),
        ];
        let md = vec![(
            "a_total".to_string(),
            Metadata {
                metric_type: MetricType::Counter,
                unit: "joules".into(),
                help: "h".into(),
            },
        )];
        let d = decode(&encode(&series, &md)).unwrap();
        assert_eq!(d.series, series);
        assert_eq!(d.metadata, md);
    }

    #[test]
    fn refuses_bad_payloads_by_name() {
        let bad_series = |labels: Vec<Label>| {
            decode(&request(vec![TimeSeries {
                labels,
                samples: vec![],
            }]))
        };
        assert!(matches!(
            bad_series(vec![label("job", "j")]),
            Err(DecodeError::Series { index: 0, .. })
        ));
        assert!(matches!(
            bad_series(vec![label("__name__", "1x")]),
            Err(DecodeError::Series { .. })
        ));
        assert!(matches!(
            bad_series(vec![label("__name__", "x"), label("a-b", "1")]),
            Err(DecodeError::Series { .. })
        ));
        let many: Vec<Label> = (0..=MAX_LABELS)
            .map(|i| label(&format!("l{i}"), "v"))
            .collect();
        assert!(matches!(bad_series(many), Err(DecodeError::Series { .. })));
        assert!(matches!(decode(b"not snappy"), Err(DecodeError::Snappy(_))));
        // Valid snappy of bytes that are not protobuf.
        let junk = snap::raw::Encoder::new().compress_vec(&[0xff; 20]).unwrap();
        assert!(matches!(decode(&junk), Err(DecodeError::Protobuf(_))));
        // A snappy header claiming a huge length is refused before decoding.
        let mut huge = Vec::new();
        let mut n = MAX_DECOMPRESSED as u64 + 1;
        while n >= 0x80 {
            huge.push((n as u8) | 0x80);
            n >>= 7;
        }
        huge.push(n as u8);
        assert!(matches!(decode(&huge), Err(DecodeError::Limit(_))));
        // Millions of empty series: no allocation blow-up, refused as
        // series without a name at the first one.
        let empties = [0x0a, 0x00].repeat(1 << 20);
        assert!(matches!(
            decode_proto(&empties),
            Err(DecodeError::Series { index: 0, .. })
        ));
    }
}
