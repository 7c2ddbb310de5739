//! The exposition parser on arbitrary bytes, in each format (picked by the
//! first byte). Every sample it accepts must survive the writer and a
//! second parse bit for bit (NaN aside), in both formats.
#![no_main]
use libfuzzer_sys::fuzz_target;
use minetsdb::Sample;
use minetsdb_collectors::exposition::{Format, Item, Options, Parser, Writer};

fuzz_target!(|data: &[u8]| {
    let Some((&first, text)) = data.split_first() else {
        return;
    };
    let format = [Format::Auto, Format::Text004, Format::OpenMetrics][usize::from(first % 3)];
    let opts = Options {
        format,
        keep_created: first & 4 != 0,
        ..Options::default()
    };
    let mut samples = Vec::new();
    for item in Parser::new(text, opts) {
        if let Ok(Item::Sample { labels, t, v }) = item {
            samples.push((labels, Sample::new(t.unwrap_or(0), v)));
        }
    }
    for out in [Format::Text004, Format::OpenMetrics] {
        let mut w = Writer::new(Vec::new(), out);
        for (l, s) in &samples {
            w.write_series(None, l, std::slice::from_ref(s))
                .expect("write to a Vec");
        }
        let bytes = w.finish().expect("write to a Vec");
        let opts = Options {
            format: out,
            keep_created: true,
            ..Options::default()
        };
        let back: Vec<_> = Parser::new(&bytes[..], opts)
            .filter_map(|i| match i.expect("our own output parses") {
                Item::Sample { labels, t, v } => Some((labels, t, v)),
                _ => None,
            })
            .collect();
        assert_eq!(back.len(), samples.len());
        for ((l, s), (l2, t2, v2)) in samples.iter().zip(&back) {
            assert_eq!(l, l2);
            assert_eq!(Some(s.t), *t2);
            assert!(s.v.to_bits() == v2.to_bits() || (s.v.is_nan() && v2.is_nan()));
        }
    }
});
