//! The exposition parser and writer: real-shaped pages, a named table of
//! malformed lines, write->parse round trips, and arbitrary bytes.

use std::io::{self, Read};

use minetsdb::{Labels, Metadata, MetricType, Sample};
use minetsdb_collectors::exposition::{
    family_name, write_eof, write_series, Error, Format, Item, Options, ParseError, Parser, Writer,
};
use proptest::prelude::*;

const T0: i64 = 1_700_000_000_000;

#[derive(Debug, Default)]
struct Parsed {
    samples: Vec<(Labels, Option<i64>, f64)>,
    metadata: Vec<(String, Metadata)>,
    errors: Vec<ParseError>,
    eof: bool,
    format: Option<Format>,
}

fn parse_with(text: &[u8], opts: Options) -> Parsed {
    parse_reader(text, opts)
}

fn parse_reader(text: impl std::io::BufRead, opts: Options) -> Parsed {
    let mut out = Parsed::default();
    let mut p = Parser::new(text, opts);
    for item in p.by_ref() {
        match item {
            Ok(Item::Sample { labels, t, v }) => out.samples.push((labels, t, v)),
            Ok(Item::Metadata { name, md }) => out.metadata.push((name, md)),
            Ok(Item::Eof) => out.eof = true,
            Err(Error::Parse(e)) => out.errors.push(e),
            Err(e @ Error::Io { .. }) => panic!("{e}"),
        }
    }
    out.format = Some(p.format());
    out
}

fn parse(text: &str, format: Format) -> Parsed {
    parse_with(
        text.as_bytes(),
        Options {
            format,
            ..Options::default()
        },
    )
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn scrape(page: &[u8]) -> Parsed {
    parse_with(
        page,
        Options {
            default_timestamp_ms: Some(T0),
            ..Options::default()
        },
    )
}

fn find<'a>(p: &'a Parsed, series: &str) -> &'a (Labels, Option<i64>, f64) {
    p.samples
        .iter()
        .find(|s| s.0.to_string() == series)
        .unwrap_or_else(|| panic!("no {series}"))
}

fn md<'a>(p: &'a Parsed, name: &str) -> &'a Metadata {
    &p.metadata
        .iter()
        .find(|m| m.0 == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .1
}

#[test]
fn node_exporter_page() {
    let p = scrape(&fixture("node_exporter.prom"));
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!((p.samples.len(), p.metadata.len()), (35, 15));
    assert_eq!(p.format, Some(Format::Auto), "no OpenMetrics evidence");
    assert!(p.samples.iter().all(|s| s.1 == Some(T0)));
    assert_eq!(
        find(&p, r#"go_gc_duration_seconds{quantile="0.25"}"#).2,
        3.0421e-05
    );
    assert_eq!(
        find(&p, r#"node_cpu_seconds_total{cpu="0", mode="idle"}"#).2,
        1.23456789e+06
    );
    let uname = &p
        .samples
        .iter()
        .find(|s| s.0.metric_name() == "node_uname_info")
        .unwrap()
        .0;
    assert_eq!(
        uname.get("version"),
        Some("#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)")
    );
    let gc = md(&p, "go_gc_duration_seconds");
    assert_eq!(gc.metric_type, MetricType::Summary);
    assert_eq!(
        gc.help,
        "A summary of the pause duration of garbage collection cycles."
    );
    assert_eq!(
        md(&p, "node_cpu_seconds_total").metric_type,
        MetricType::Counter
    );
    // Metadata comes before the family's first sample.
    let page = fixture("node_exporter.prom");
    let mut p2 = Parser::new(&page[..], Options::default());
    assert!(
        matches!(p2.next(), Some(Ok(Item::Metadata { name, .. })) if name == "go_gc_duration_seconds")
    );
    assert!(matches!(p2.next(), Some(Ok(Item::Sample { .. }))));
}

#[test]
fn nvidia_gpu_exporter_page() {
    let p = scrape(&fixture("nvidia_gpu_exporter.prom"));
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!((p.samples.len(), p.metadata.len()), (20, 11));
    let power = find(
        &p,
        r#"nvidia_smi_power_draw_watts{uuid="9e43d8f4-4d1a-0e9c-3b2b-6a0c1f7b9e22"}"#,
    );
    assert_eq!((power.1, power.2), (Some(T0), 251.07));
    let info = &p
        .samples
        .iter()
        .find(|s| s.0.metric_name() == "nvidia_smi_gpu_info")
        .unwrap()
        .0;
    assert_eq!(info.get("name"), Some("NVIDIA GeForce RTX 3070"));
    assert_eq!(
        info.get("driver_model_current"),
        None,
        "empty value = absent label"
    );
    assert_eq!(md(&p, "nvidia_smi_power_draw_watts").help, "power.draw [W]");
}

#[test]
fn pool_exporter_page() {
    let p = scrape(&fixture("pool_exporter.prom"));
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!((p.samples.len(), p.metadata.len()), (14, 5));
    assert!(
        p.samples.iter().all(|s| s.1 == Some(T0)),
        "explicit ms timestamps win"
    );
    let blue = p
        .samples
        .iter()
        .find(|s| s.0.get("worker").is_some_and(|w| w.starts_with("rig \"")))
        .unwrap();
    assert_eq!(blue.0.get("worker"), Some("rig \"blue\"\\2"));
    assert_eq!(
        md(&p, "pool_shares_total").help,
        "Shares by status.\nCounted by the pool."
    );
    assert_eq!(
        md(&p, "pool_share_latency_seconds").metric_type,
        MetricType::Histogram
    );
    assert_eq!(md(&p, "pool_up").metric_type, MetricType::Unknown);
    let inf = find(
        &p,
        r#"pool_share_latency_seconds_bucket{le="+Inf", pool="ethermine"}"#,
    );
    assert_eq!(inf.2, 1246.0);
    assert_eq!(
        find(&p, r#"pool_unpaid_balance{coin="ETC", pool="ethermine"}"#).2,
        0.1234567890123
    );
}

#[test]
fn openmetrics_page() {
    for format in [Format::Auto, Format::OpenMetrics] {
        let p = parse_with(
            &fixture("openmetrics.txt"),
            Options {
                format,
                default_timestamp_ms: Some(T0),
                ..Options::default()
            },
        );
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        assert!(p.eof);
        assert_eq!(p.format, Some(Format::OpenMetrics));
        assert_eq!(
            (p.samples.len(), p.metadata.len()),
            (12, 5),
            "{:#?}",
            p.samples
        );
        let h = find(&p, r#"minerd_hashes_total{gpu="0"}"#);
        assert_eq!(
            (h.1, h.2),
            (Some(1_700_000_000_123), 1.2e15),
            "exemplar ignored, seconds -> ms"
        );
        assert!(find(&p, r#"minerd_power_watts{gpu="1"}"#).2.is_nan());
        assert!(!p
            .samples
            .iter()
            .any(|s| s.0.metric_name().ends_with("_created")));
        assert_eq!(
            find(&p, r#"minerd_build_info{version="1.2.3"}"#).1,
            Some(T0)
        );
        let hashes = md(&p, "minerd_hashes");
        assert_eq!(
            (
                hashes.metric_type,
                hashes.unit.as_str(),
                hashes.help.as_str()
            ),
            (
                MetricType::Counter,
                "hashes",
                "Hashes computed, by \"gpu\"."
            )
        );
        assert_eq!(md(&p, "minerd_build").metric_type, MetricType::Info);
        assert_eq!(md(&p, "minerd_state").metric_type, MetricType::StateSet);
        assert_eq!(
            family_name(
                "minerd_hashes_total",
                MetricType::Counter,
                Format::OpenMetrics
            ),
            "minerd_hashes"
        );
    }
    let kept = parse_with(
        &fixture("openmetrics.txt"),
        Options {
            keep_created: true,
            ..Options::default()
        },
    );
    assert_eq!(kept.samples.len(), 15);
    assert_eq!(
        find(&kept, r#"minerd_share_latency_seconds_created"#).2,
        1699990000.5
    );
}

#[test]
fn auto_detection() {
    // Integer timestamps read as ms until evidence; a float timestamp switches.
    let p = parse("a 1 1000\nb 2 1.5\nc 3 2\n", Format::Auto);
    let ts: Vec<_> = p.samples.iter().map(|s| s.1).collect();
    assert_eq!(ts, [Some(1000), Some(1500), Some(2000)]);
    assert_eq!(p.format, Some(Format::OpenMetrics));
    // # UNIT is evidence too.
    let p = parse("# UNIT a_seconds seconds\na_seconds 1 2\n", Format::Auto);
    assert_eq!(p.samples[0].1, Some(2000));
    // Explicit 0.0.4 refuses float timestamps and treats # EOF as a comment.
    let p = parse("a 1 1.5\n# EOF\nb 2 3\n", Format::Text004);
    assert_eq!(p.errors.len(), 1);
    assert_eq!((p.samples.len(), p.eof), (1, false));
    // Explicit OpenMetrics reads integer timestamps as seconds.
    let p = parse("a 1 2\n# EOF\n", Format::OpenMetrics);
    assert_eq!(p.samples[0].1, Some(2000));
    assert!(p.errors.is_empty());
}

#[test]
fn missing_eof_is_an_error_only_when_asked_for_openmetrics() {
    let p = parse("a 1 2.5\n", Format::Auto);
    assert!(p.errors.is_empty() && !p.eof);
    let p = parse("# TYPE a gauge\na 1 2.5\n", Format::OpenMetrics);
    assert_eq!(p.samples.len(), 1);
    assert_eq!(p.errors.len(), 1);
    assert_eq!((p.errors[0].line, p.errors[0].col), (3, 1));
    assert!(p.errors[0].what.contains("missing # EOF"));
    let p = parse("# EOF\na 1\n", Format::Auto);
    assert!(p.eof && p.samples.is_empty());
    assert_eq!(p.errors.len(), 1);
    assert!(p.errors[0].what.contains("after # EOF"));
    assert_eq!(p.errors[0].line, 2);
}

#[test]
fn metadata_merges_per_family_and_flushes_at_the_end() {
    let p = parse("# HELP a x\n# TYPE a gauge\n# HELP b y\n", Format::Auto);
    assert_eq!(p.metadata.len(), 2);
    assert_eq!(p.metadata[0].0, "a");
    assert_eq!(
        (p.metadata[0].1.metric_type, p.metadata[0].1.help.as_str()),
        (MetricType::Gauge, "x")
    );
    assert_eq!(p.metadata[1].1.help, "y");
    let p = parse("# some comment\n#HELPER x\n\n  \na 1\n", Format::Auto);
    assert!(p.metadata.is_empty() && p.errors.is_empty());
    assert_eq!(p.samples.len(), 1);
}

#[test]
fn default_timestamp_and_crlf() {
    let p = parse_with(
        b"a 1\r\nb 2 5\r\n",
        Options {
            default_timestamp_ms: Some(7),
            ..Options::default()
        },
    );
    let got: Vec<_> = p.samples.iter().map(|s| (s.1, s.2)).collect();
    assert_eq!(got, [(Some(7), 1.0), (Some(5), 2.0)]);
    let p = parse("a 1\n", Format::Auto);
    assert_eq!(p.samples[0].1, None);
}

/// Malformed inputs: (name, format, text, line, col, fragment of the message).
/// Each text ends with a good line, which must still be read.
const MALFORMED: &[(&str, Format, &str, u64, usize, &str)] = &[
    (
        "missing value",
        Format::Auto,
        "a{b=\"c\"}\n",
        1,
        9,
        "missing value",
    ),
    (
        "missing value, no labels",
        Format::Auto,
        "ok 1\n  lonely\n",
        2,
        9,
        "missing value",
    ),
    (
        "bad float",
        Format::Auto,
        "a 1.2.3\n",
        1,
        3,
        "bad value \"1.2.3\"",
    ),
    ("hex float", Format::Auto, "a 0x1p-2\n", 1, 3, "hex float"),
    (
        "bad timestamp",
        Format::Text004,
        "a 1 12x\n",
        1,
        5,
        "bad timestamp \"12x\"",
    ),
    (
        "float timestamp in 0.0.4",
        Format::Text004,
        "a 1 1.5\n",
        1,
        5,
        "integer milliseconds",
    ),
    (
        "timestamp out of range",
        Format::OpenMetrics,
        "a 1 1e300\n# EOF\n",
        1,
        5,
        "out of range",
    ),
    (
        "garbage after timestamp",
        Format::Auto,
        "a 1 2 3\n",
        1,
        7,
        "after the timestamp",
    ),
    (
        "exemplar in 0.0.4",
        Format::Text004,
        "a 1 # {} 1\n",
        1,
        5,
        "OpenMetrics only",
    ),
    (
        "unterminated quote",
        Format::Auto,
        "a{b=\"c} 1\n",
        1,
        5,
        "unterminated value of label \"b\"",
    ),
    (
        "unterminated label set",
        Format::Auto,
        "a{b=\"c\"\n",
        1,
        8,
        "expected ',' or '}'",
    ),
    (
        "bad escape",
        Format::Auto,
        "a{b=\"x\\ty\"} 1\n",
        1,
        7,
        "bad escape \\t",
    ),
    (
        "bad label name",
        Format::Auto,
        "a{b-c=\"1\"} 1\n",
        1,
        4,
        "bad label name \"b\"",
    ),
    (
        "label name starts with a digit",
        Format::Auto,
        "a{1b=\"1\"} 1\n",
        1,
        3,
        "expected a label name",
    ),
    (
        "reserved label name",
        Format::Auto,
        "a{__x=\"1\"} 1\n",
        1,
        1,
        "reserved",
    ),
    (
        "duplicate label",
        Format::Auto,
        "a{b=\"1\",c=\"2\",b=\"3\"} 1\n",
        1,
        15,
        "duplicate label name \"b\"",
    ),
    (
        "duplicate label, empty value",
        Format::Auto,
        "a{b=\"\",b=\"3\"} 1\n",
        1,
        8,
        "duplicate label name",
    ),
    (
        "__name__ in braces",
        Format::Auto,
        "a{__name__=\"b\"} 1\n",
        1,
        3,
        "duplicate label name \"__name__\"",
    ),
    (
        "unquoted label value",
        Format::Auto,
        "a{b=c} 1\n",
        1,
        5,
        "expected '\"'",
    ),
    (
        "bad metric name",
        Format::Auto,
        "1abc 1\n",
        1,
        1,
        "expected a metric name",
    ),
    (
        "bad character in metric name",
        Format::Auto,
        "a-b 1\n",
        1,
        2,
        "unexpected '-'",
    ),
    (
        "TYPE with unknown type",
        Format::Auto,
        "# TYPE a countr\n",
        1,
        10,
        "unknown type \"countr\"",
    ),
    (
        "TYPE without type",
        Format::Auto,
        "# TYPE a\n",
        1,
        9,
        "missing the type",
    ),
    (
        "TYPE with bad name",
        Format::Auto,
        "# TYPE a-b gauge\n",
        1,
        9,
        "bad metric name",
    ),
    (
        "HELP without name",
        Format::Auto,
        "# HELP \n",
        1,
        8,
        "expected a metric name",
    ),
    (
        "UNIT with two words",
        Format::Auto,
        "# UNIT a b c\n",
        1,
        10,
        "after the unit",
    ),
    (
        "missing # EOF",
        Format::OpenMetrics,
        "a 1\n",
        2,
        1,
        "missing # EOF",
    ),
    (
        "text after # EOF",
        Format::Auto,
        "# EOF\nz 1\n",
        2,
        1,
        "after # EOF",
    ),
];

#[test]
fn malformed_lines_table() {
    for &(name, format, text, line, col, what) in MALFORMED {
        let eof_ends = text.starts_with("# EOF");
        let mut input = text.to_string();
        if !eof_ends && format != Format::OpenMetrics {
            input.push_str("good_after 42\n");
        }
        let p = parse(&input, format);
        assert_eq!(p.errors.len(), 1, "{name}: {:?}", p.errors);
        let e = &p.errors[0];
        assert_eq!((e.line, e.col), (line, col), "{name}: {e}");
        assert!(e.what.contains(what), "{name}: {e}");
        assert!(
            e.to_string()
                .starts_with(&format!("line {line}, column {col}: ")),
            "{name}: {e}"
        );
        if !eof_ends && format != Format::OpenMetrics {
            assert!(
                p.samples.iter().any(|s| s.0.metric_name() == "good_after"),
                "{name}: parsing goes on after the error"
            );
        }
    }
}

#[test]
fn invalid_utf8_is_a_line_error() {
    let p = parse_with(b"a{b=\"\xff\"} 1\nc 2\n", Options::default());
    assert_eq!(p.errors.len(), 1);
    assert_eq!((p.errors[0].line, p.errors[0].col), (1, 6));
    assert!(p.errors[0].what.contains("UTF-8"));
    assert_eq!(p.samples.len(), 1);
}

#[test]
fn caller_can_stop_at_the_first_error() {
    let text = "a 1\nb oops\nc 3\n";
    let r: Result<Vec<Item>, Error> = Parser::new(text.as_bytes(), Options::default()).collect();
    let e = r.unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 2, column 3: bad value \"oops\": not a number"
    );
}

struct FailingReader(usize);
impl Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0 == 0 {
            return Err(io::Error::other("disk on fire"));
        }
        self.0 = 0;
        let s = b"a 1\nb 2";
        buf[..s.len()].copy_from_slice(s);
        Ok(s.len())
    }
}

#[test]
fn read_errors_end_the_iteration() {
    let r = io::BufReader::new(FailingReader(1));
    let items: Vec<_> = Parser::new(r, Options::default()).collect();
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(matches!(items[0], Ok(Item::Sample { .. })));
    match &items[1] {
        Err(Error::Io { line, .. }) => assert_eq!(*line, 2),
        other => panic!("{other:?}"),
    }
}

fn write_all(format: Format, series: &[(Option<Metadata>, Labels, Vec<Sample>)]) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), format);
    for (md, l, s) in series {
        w.write_series(md.as_ref(), l, s).unwrap();
    }
    w.finish().unwrap()
}

#[test]
fn writer_output_shape() {
    let l = Labels::new(
        "gpu_energy_joules_total",
        &[("uuid", "GPU-1"), ("name", "RTX \"3080\"\n")],
    )
    .unwrap();
    let md = Metadata {
        metric_type: MetricType::Counter,
        unit: "joules".into(),
        help: "Energy \\ used\n\"total\"".into(),
    };
    let s = [Sample::new(-1, -0.0), Sample::new(T0 + 5, f64::INFINITY)];
    let om = String::from_utf8(write_all(
        Format::OpenMetrics,
        &[(Some(md.clone()), l.clone(), s.to_vec())],
    ))
    .unwrap();
    assert_eq!(
        om,
        "# TYPE gpu_energy_joules counter\n\
         # UNIT gpu_energy_joules joules\n\
         # HELP gpu_energy_joules Energy \\\\ used\\n\\\"total\\\"\n\
         gpu_energy_joules_total{name=\"RTX \\\"3080\\\"\\n\",uuid=\"GPU-1\"} -0 -0.001\n\
         gpu_energy_joules_total{name=\"RTX \\\"3080\\\"\\n\",uuid=\"GPU-1\"} +Inf 1700000000.005\n\
         # EOF\n"
    );
    let mut text = Vec::new();
    write_series(&mut text, Format::Text004, Some(&md), &l, &s[..1]).unwrap();
    assert_eq!(
        String::from_utf8(text).unwrap(),
        "# TYPE gpu_energy_joules_total counter\n\
         # HELP gpu_energy_joules_total Energy \\\\ used\\n\"total\"\n\
         gpu_energy_joules_total{name=\"RTX \\\"3080\\\"\\n\",uuid=\"GPU-1\"} -0 -1\n"
    );
    // Both read back with their metadata (help and, for OpenMetrics, unit).
    let p = parse(&om, Format::Auto);
    assert_eq!(p.metadata, [("gpu_energy_joules".to_string(), md)]);
    let mut eof = Vec::new();
    write_eof(&mut eof).unwrap();
    assert_eq!(eof, b"# EOF\n");
}

#[test]
fn writer_metadata_once_per_family() {
    let h = Metadata {
        metric_type: MetricType::Histogram,
        ..Metadata::default()
    };
    let series: Vec<_> = ["lat_bucket", "lat_count", "lat_sum"]
        .iter()
        .map(|n| {
            (
                Some(h.clone()),
                Labels::new(n, &[]).unwrap(),
                vec![Sample::new(1000, 1.0)],
            )
        })
        .collect();
    let out = String::from_utf8(write_all(Format::OpenMetrics, &series)).unwrap();
    assert_eq!(out.matches("# TYPE").count(), 1, "{out}");
    assert!(out.starts_with("# TYPE lat histogram\n"));
}

fn metric_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}"
}

fn labels() -> impl Strategy<Value = Labels> {
    (
        metric_name(),
        proptest::collection::btree_map("[a-zA-Z][a-zA-Z0-9_]{0,8}", any::<String>(), 0..5),
    )
        .prop_map(|(n, m)| {
            let pairs: Vec<(&str, &str)> =
                m.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            Labels::new(&n, &pairs).unwrap()
        })
}

fn metadata() -> impl Strategy<Value = Option<Metadata>> {
    let ty = prop_oneof![
        Just(MetricType::Unknown),
        Just(MetricType::Counter),
        Just(MetricType::Gauge),
        Just(MetricType::Histogram),
        Just(MetricType::Summary),
    ];
    // Help loses leading blanks (the parser skips them), so none are made.
    proptest::option::of((ty, "[a-z_]{0,6}", "([^ \t\r\n][^\r]{0,20})?").prop_map(
        |(metric_type, unit, help)| Metadata {
            metric_type,
            unit,
            help,
        },
    ))
}

fn same_value(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn write_then_parse_is_identity(
        series in proptest::collection::vec(
            (metadata(), labels(), proptest::collection::vec((any::<i64>(), any::<u64>()), 0..6)),
            1..6,
        ),
        om in any::<bool>(),
    ) {
        let format = if om { Format::OpenMetrics } else { Format::Text004 };
        let series: Vec<_> = series
            .into_iter()
            .map(|(md, l, s)| (md, l, s.into_iter().map(|(t, v)| Sample::new(t, f64::from_bits(v))).collect::<Vec<_>>()))
            .collect();
        // Each series on its own, so metadata always precedes its samples.
        for (md, l, s) in &series {
            let text = write_all(format, &[(md.clone(), l.clone(), s.clone())]);
            for read_as in [format, Format::Auto] {
                let p = parse_with(&text, Options { format: read_as, keep_created: true, ..Options::default() });
                prop_assert!(p.errors.is_empty(), "{:?}\n{}", p.errors, String::from_utf8_lossy(&text));
                prop_assert_eq!(p.samples.len(), s.len());
                for (got, want) in p.samples.iter().zip(s) {
                    prop_assert_eq!(&got.0, l);
                    prop_assert_eq!(got.1, Some(want.t));
                    prop_assert!(same_value(got.2, want.v), "{} vs {}", got.2, want.v);
                }
                if let Some(md) = md {
                    let want_name = family_name(l.metric_name(), md.metric_type, format);
                    prop_assert_eq!(p.metadata.len(), 1);
                    prop_assert_eq!(&p.metadata[0].0, want_name);
                    prop_assert_eq!(p.metadata[0].1.metric_type, md.metric_type);
                    prop_assert_eq!(&p.metadata[0].1.help, &md.help);
                    if om {
                        prop_assert_eq!(&p.metadata[0].1.unit, &md.unit);
                    }
                }
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        for format in [Format::Auto, Format::Text004, Format::OpenMetrics] {
            let _ = parse_with(&bytes, Options { format, ..Options::default() });
        }
    }

    #[test]
    fn syntax_soup_never_panics(s in "[a-z_{}=\",# .\\\\\n0-9eE+-]{0,200}") {
        for format in [Format::Auto, Format::Text004, Format::OpenMetrics] {
            let _ = parse(&s, format);
        }
    }
}

/// Throughput on mining-shaped text from the simulated rig:
/// `cargo test --release -p minetsdb-collectors -- --ignored --nocapture expo`.
#[test]
#[ignore]
fn expo_throughput() {
    use minetsdb_collectors::sim::{Rig, RigConfig};
    let mut rig = Rig::new(RigConfig {
        gpus: 8,
        ..RigConfig::default()
    });
    let scrapes: Vec<_> = rig.backfill(T0, T0 + 2 * 86_400_000).collect();
    // Scrape-shaped: every series once per scrape, pages one after another
    // (what `import` of concatenated scrapes sees).
    let mut pages = Vec::new();
    for s in &scrapes {
        for (l, v) in &s.samples {
            write_series(
                &mut pages,
                Format::Text004,
                None,
                l,
                &[Sample::new(s.t, *v)],
            )
            .unwrap();
        }
    }
    // Export-shaped: each series' samples together, OpenMetrics.
    let mut by_series: Vec<(Labels, Vec<Sample>)> = scrapes[0]
        .samples
        .iter()
        .map(|(l, _)| (l.clone(), Vec::new()))
        .collect();
    for s in &scrapes {
        for (i, (_, v)) in s.samples.iter().enumerate() {
            by_series[i].1.push(Sample::new(s.t, *v));
        }
    }
    let export = write_all(
        Format::OpenMetrics,
        &by_series
            .iter()
            .map(|(l, s)| (None, l.clone(), s.clone()))
            .collect::<Vec<_>>(),
    );
    // Cold: every line a series never seen before (no label-set reuse).
    let mut cold = Vec::new();
    for (k, (l, v)) in scrapes.iter().flat_map(|s| &s.samples).enumerate() {
        let mut pairs: Vec<(String, String)> = l
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect();
        pairs.push(("seq".into(), k.to_string()));
        let l = Labels::from_pairs(pairs).unwrap();
        write_series(&mut cold, Format::Text004, None, &l, &[Sample::new(T0, *v)]).unwrap();
    }
    for (what, text) in [
        ("scrape pages, 0.0.4", &pages),
        ("export, OpenMetrics", &export),
        ("all-new series, 0.0.4", &cold),
    ] {
        let start = std::time::Instant::now();
        let mut n = 0u64;
        let mut sum = 0.0;
        for item in Parser::new(io::BufReader::new(&text[..]), Options::default()) {
            if let Item::Sample { v, .. } = item.unwrap() {
                n += 1;
                sum += v;
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "expo {what}: {n} samples, {:.1} MB in {secs:.3} s: {:.2} M samples/s, {:.0} MB/s (sum {sum:.3e})",
            text.len() as f64 / 1e6,
            n as f64 / secs / 1e6,
            text.len() as f64 / secs / 1e6
        );
    }
    let start = std::time::Instant::now();
    let again = write_all(
        Format::OpenMetrics,
        &by_series
            .iter()
            .map(|(l, s)| (None, l.clone(), s.clone()))
            .collect::<Vec<_>>(),
    );
    let n: usize = by_series.iter().map(|s| s.1.len()).sum();
    println!(
        "expo write, OpenMetrics: {:.2} M samples/s",
        n as f64 / start.elapsed().as_secs_f64() / 1e6
    );
    assert_eq!(again, export);
}

/// `_created` samples of counters are skipped on every line, also when the
/// series text repeats (the cached path), and only those: names that merely
/// start with `<family>_created`, and `_created` of a gauge, are samples.
#[test]
fn created_skipped_on_repeated_lines_and_only_there() {
    let mut text = String::from("# TYPE jobs counter\n");
    for i in 0..3 {
        let t = 1000 + i;
        text.push_str(&format!(
            "jobs_total{{a=\"1\"}} {i} {t}\njobs_created{{a=\"1\"}} 5 {t}\njobs_created 5 {t}\n\
             jobs_created_at{{a=\"1\"}} 6 {t}\njobs_createdx 7 {t}\njobs_created:x 8 {t}\n"
        ));
    }
    text.push_str("# TYPE temp gauge\n");
    for i in 0..3 {
        text.push_str(&format!("temp_created{{a=\"1\"}} {i} {}\n", 2000 + i));
    }
    text.push_str("# EOF\n");
    let p = parse(&text, Format::OpenMetrics);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let names: Vec<String> = p
        .samples
        .iter()
        .map(|s| s.0.metric_name().to_string())
        .collect();
    for (name, n) in [
        ("jobs_total", 3),
        ("jobs_created", 0),
        ("jobs_created_at", 3),
        ("jobs_createdx", 3),
        ("jobs_created:x", 3),
        ("temp_created", 3),
    ] {
        assert_eq!(
            names.iter().filter(|x| *x == name).count(),
            n,
            "{name}: {names:?}"
        );
    }
}

/// Lines are parsed in the reader's buffer when whole there and gathered
/// when they cross its end: any buffer size reads the same, errors and
/// their line numbers included.
#[test]
fn any_read_buffer_size_reads_the_same() {
    let mut bad = fixture("node_exporter.prom");
    bad.extend_from_slice(b"broken{ 1\nafter_bad 2 3\nno_newline_at_end 4 5");
    for (name, text) in [
        ("openmetrics.txt", fixture("openmetrics.txt")),
        (
            "nvidia_gpu_exporter.prom",
            fixture("nvidia_gpu_exporter.prom"),
        ),
        ("node_exporter.prom + bad lines", bad),
    ] {
        let want = parse_with(&text, Options::default());
        assert!(!want.samples.is_empty(), "{name}");
        for cap in [1, 2, 7, 100, 4096] {
            let got = parse_reader(
                std::io::BufReader::with_capacity(cap, &text[..]),
                Options::default(),
            );
            assert_eq!(
                format!("{:?}", (&got.samples, &got.errors, got.eof, got.format)),
                format!("{:?}", (&want.samples, &want.errors, want.eof, want.format)),
                "{name}, buffer of {cap}"
            );
        }
    }
}
