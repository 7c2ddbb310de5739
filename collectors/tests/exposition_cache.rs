//! The parser's series cache: a line whose series text repeats one parsed
//! before skips the label lexer, so it must come out exactly as a parser
//! that never saw the earlier lines would read it (same labels, value,
//! timestamp, same error with the same column), and `next_keyed` must name
//! the same series as the iterator does.

use std::collections::HashMap;

use minetsdb::Labels;
use minetsdb_collectors::exposition::{Error, Format, Item, Keyed, Options, ParseError, Parser};
use proptest::prelude::*;

/// What one line gave: a sample, an error (line number left out), or nothing.
#[derive(Debug, PartialEq)]
enum Got {
    Sample(Labels, Option<i64>, u64),
    Error(usize, String),
}

fn collect(text: &[u8], format: Format) -> Vec<(u64, Got)> {
    let opts = Options {
        format,
        ..Options::default()
    };
    let mut out = Vec::new();
    let mut p = Parser::new(text, opts);
    while let Some(item) = p.next() {
        match item {
            Ok(Item::Sample { labels, t, v }) => {
                out.push((p.line(), Got::Sample(labels, t, v.to_bits())))
            }
            Ok(_) => {}
            Err(Error::Parse(ParseError { line, col, what })) => {
                if what.starts_with("missing # EOF") {
                    continue;
                }
                out.push((line, Got::Error(col, what)))
            }
            Err(e) => panic!("{e}"),
        }
    }
    out
}

/// Every line through a parser of its own, so no cache can help.
fn line_by_line(lines: &[Vec<u8>], format: Format) -> Vec<(u64, Got)> {
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        for (_, g) in collect(l, format) {
            out.push((i as u64 + 1, g));
        }
    }
    out
}

/// Checks `next_keyed` against the iterator on the same text: each key
/// names the labels the iterator gives, `new` exactly when a key is first
/// used or now names another series.
fn check_keys(text: &[u8], format: Format) {
    let opts = Options {
        format,
        ..Options::default()
    };
    let by_item: Vec<Labels> = Parser::new(text, opts.clone())
        .filter_map(|i| match i {
            Ok(Item::Sample { labels, .. }) => Some(labels),
            _ => None,
        })
        .collect();
    let mut p = Parser::new(text, opts);
    let mut known: HashMap<usize, Labels> = HashMap::new();
    let mut n = 0;
    while let Some(item) = p.next_keyed() {
        if let Ok(Keyed::Sample { key, new, .. }) = item {
            let l = p.key_labels(key).cloned().expect("labels of a yielded key");
            if new {
                known.insert(key.index(), l.clone());
            } else {
                assert_eq!(
                    known.get(&key.index()),
                    Some(&l),
                    "key {key:?} changed without new"
                );
            }
            assert_eq!(by_item.get(n), Some(&l));
            n += 1;
        }
    }
    assert_eq!(n, by_item.len());
}

fn assert_cache_transparent(lines: &[Vec<u8>]) {
    let mut text = Vec::new();
    for l in lines {
        text.extend_from_slice(l);
        text.push(b'\n');
    }
    for format in [Format::Text004, Format::OpenMetrics] {
        assert_eq!(
            collect(&text, format),
            line_by_line(lines, format),
            "{format:?}: {}",
            String::from_utf8_lossy(&text)
        );
        check_keys(&text, format);
    }
}

#[test]
fn near_misses_are_parsed_in_full() {
    let lines: Vec<&[u8]> = vec![
        br#"m{a="x y}",b="2"} 1 1000"#,
        br#"m{a="x y}",b="2"} 2 2000"#,
        // One byte off inside a value, in a name, after the series.
        br#"m{a="x y}",b="3"} 3 3000"#,
        br#"m{a="x y}",c="2"} 3 3000"#,
        br#"m{a="x y}",b="2"}x 3 3000"#,
        br#"m{a="x y}",b="2"}"#,
        br#"m{a="x y}",b="2"}	4"#,
        // A bare name cached, then the same name with labels or junk.
        b"m 5 5000",
        br#"m{a="1"} 6 6000"#,
        br#"m {a="1"} 6 6000"#,
        b"m\t7",
        b"mm 7 7000",
        b"m{} 8 8000",
        // Escapes and a duplicate label name, twice each.
        br#"e{a="q\"\\\n"} 9 9000"#,
        br#"e{a="q\"\\\n"} 9 9001"#,
        br#"d{a="1",a="2"} 1 1"#,
        br#"d{a="1",a="2"} 1 2"#,
        // Bad tails behind a cached series.
        br#"m{a="x y}",b="2"} 0x1p2 1"#,
        br#"m{a="x y}",b="2"} 1 1.5"#,
        br#"m{a="x y}",b="2"} 1 2 3"#,
        br#"m{a="x y}",b="2"} 1 # {t="1"} 2"#,
        b"m{a=\"x y}\",b=\"2\"} 1 \xff",
        b"m \xff",
        br#"m{a="x y}",b="2"} -0 -1"#,
        br#"m{a="x y}",b="2"} NaN 1"#,
    ];
    let lines: Vec<Vec<u8>> = lines.into_iter().map(<[u8]>::to_vec).collect();
    assert_cache_transparent(&lines);
}

#[test]
fn keys_are_reused_after_the_cache_fills() {
    // More distinct series than the cache holds, then the first ones again.
    let mut lines = Vec::new();
    for round in 0..2 {
        for i in 0..20_000 {
            lines.push(format!("s{{i=\"{i}\"}} {round} {i}").into_bytes());
        }
    }
    let mut text = Vec::new();
    for l in &lines {
        text.extend_from_slice(l);
        text.push(b'\n');
    }
    check_keys(&text, Format::Text004);
}

/// Lines built from a few series texts (valid and not), often repeated,
/// sometimes with one byte changed, and tails valid and not.
fn line() -> impl Strategy<Value = Vec<u8>> {
    let series = prop::sample::select(vec![
        "m",
        "m{}",
        "m{a=\"1\"}",
        "m{a=\"1\",}",
        "m{ a = \"1\" , b=\"x y\" }",
        "m{a=\"}\"}",
        "m{a=\"\\\"}\\\\\"}",
        "m{a=\"\"}",
        "m_total{le=\"+Inf\"}",
        "m{a=\"1\",a=\"2\"}",
        "m{__name__=\"x\"}",
        "m{a=\"\\q\"}",
        "m{a=\"1\"",
        ":m{b=\"é\"}",
    ]);
    let tail = prop::sample::select(vec![
        " 1",
        " 1 1000",
        "\t2.5\t2000",
        " NaN 5",
        " -Inf",
        " +Inf 7",
        " -0 8",
        " 1e300 9",
        " 0.1 10",
        " x",
        "",
        " ",
        " 1 2 3",
        " 1 1.5",
        " 1 # {a=\"b\"} 1",
        " 0x1p-2",
        " 1 \u{fffd}",
        "} 1",
        " 1 -5",
        " 99999999999999999999 1",
    ]);
    let mutation = proptest::option::weighted(
        0.3,
        (
            any::<prop::sample::Index>(),
            prop::sample::select(b" \t{}\"\\=,a1.#\xff\xc3".to_vec()),
        ),
    );
    (series, tail, mutation).prop_map(|(s, t, m)| {
        let mut l = format!("{s}{t}").into_bytes();
        if let Some((at, b)) = m {
            let i = at.index(l.len());
            l[i] = b;
        }
        l
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn cache_hits_parse_like_fresh_lines(lines in proptest::collection::vec(line(), 1..40)) {
        assert_cache_transparent(&lines);
    }
}
