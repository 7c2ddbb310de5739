//! Tests: Prometheus' own scripts (ported under `tsdb/tests/promql/`), and
//! hand-computed cases.

use super::script::{run, run_on, DbStore, Report};

fn script(name: &str) -> String {
    let path = format!("{}/tests/promql/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn check(name: &str, skip: &[(&str, &str)]) -> Report {
    let r = run(&script(name), skip);
    eprintln!(
        "{name}: {} passed ({} extra runs pinned with @), {} skipped, {} failed",
        r.passed,
        r.pinned,
        r.skipped.len(),
        r.failures.len()
    );
    details(name, &r);
    r
}

/// Lists a script's skips and failures, and fails the test on a failure.
pub(super) fn details(name: &str, r: &Report) {
    for s in &r.skipped {
        eprintln!("  skipped {s}");
    }
    for f in &r.failures {
        eprintln!("  FAILED {f}");
    }
    assert!(
        r.failures.is_empty(),
        "{name}: {} failures",
        r.failures.len()
    );
}

const SCRIPTS: &[&str] = &[
    "aggregators.test",
    "at_modifier.test",
    "collision.test",
    "functions.test",
    "histograms.test",
    "literals.test",
    "operators.test",
    "selectors.test",
    "staleness.test",
    "subquery.test",
    "trig_functions.test",
];

/// Every script again on a real database flushed to blocks, so the codecs'
/// round trip of NaN, infinities and stale markers is covered end to end.
#[test]
fn scripts_on_a_real_db() {
    for name in SCRIPTS {
        let r = run_on(&script(name), &[], DbStore::new);
        for f in &r.failures {
            eprintln!("  FAILED {f}");
        }
        assert!(
            r.failures.is_empty(),
            "{name} on Db: {} failures",
            r.failures.len()
        );
        assert!(r.passed > 0);
    }
}

#[test]
fn script_aggregators() {
    check("aggregators.test", &[]);
}

#[test]
fn script_at_modifier() {
    check("at_modifier.test", &[]);
}

#[test]
fn script_collision() {
    check("collision.test", &[]);
}

#[test]
fn script_functions() {
    check("functions.test", &[]);
}

#[test]
fn script_histograms() {
    check("histograms.test", &[]);
}

#[test]
fn script_literals() {
    check("literals.test", &[]);
}

#[test]
fn script_operators() {
    check("operators.test", &[]);
}

#[test]
fn script_selectors() {
    check("selectors.test", &[]);
}

#[test]
fn script_staleness() {
    check("staleness.test", &[]);
}

#[test]
fn script_subquery() {
    check("subquery.test", &[]);
}

#[test]
fn script_trig_functions() {
    check("trig_functions.test", &[]);
}

/// The runner must notice a wrong value, a missing and an extra element.
#[test]
fn script_runner_detects_mismatches() {
    let base = "load 1m\n  m{a=\"1\"} 0+1x10\n  m{a=\"2\"} 5x10\n\n";
    let ok = format!("{base}eval instant at 5m m\n  m{{a=\"1\"}} 5\n  m{{a=\"2\"}} 5\n");
    assert_eq!(run(&ok, &[]).passed, 1);
    for bad in [
        "eval instant at 5m m\n  m{a=\"1\"} 6\n  m{a=\"2\"} 5\n",
        "eval instant at 5m m\n  m{a=\"1\"} 5\n",
        "eval instant at 5m m\n  m{a=\"1\"} 5\n  m{a=\"2\"} 5\n  m{a=\"3\"} 5\n",
        "eval_fail instant at 5m m\n",
        "eval instant at 5m nonsense(\n",
    ] {
        let r = run(&format!("{base}{bad}"), &[]);
        assert_eq!(r.failures.len(), 1, "{bad}: {r:?}");
    }
    let r = run(&ok, &[("m", "reason")]);
    assert_eq!((r.passed, r.skipped.len()), (0, 1));
    let r = run(&ok, &[("other", "reason")]);
    assert_eq!(r.failures.len(), 1, "an unused skip entry is reported");
}

/// The syntax of newer scripts (Prometheus 2.45 to 3.x): range evals,
/// `expect` lines, `_` and `stale` in loads, `clear` directly followed by
/// a command; each mismatch must be noticed.
#[test]
fn script_runner_newer_syntax() {
    let base = "load 1m\n  m{a=\"2\"} 5\n\nclear\nload 1m\n  m{a=\"1\"} 0+1x4 _ stale 9-2x2\n\n";
    let ok = [
        "eval range from 0 to 9m step 1m m\n  m{a=\"1\"} 0 1 2 3 4 4 _ 9 7 5\n",
        "eval range from 30s to 2m30s step 1m m\n  m{a=\"1\"} 0+1x2\n",
        "eval instant at 1m30s m\n  m{a=\"1\"} 1\n",
        "eval instant at 1m m\n  expect no_warn\n  m{a=\"1\"} 1\n",
        "eval_ordered instant at 1m sort_desc(m)\n  m{a=\"1\"} 1\n",
        "eval instant at 1m sort_desc(m)\n  expect ordered\n  m{a=\"1\"} 1\n",
        "eval instant at 1m m\n  expect fail\n",
        "eval_fail instant at 1m m\n",
        "eval instant at 1m m[1m]\n  expect range vector from 0 to 1m step 1m\n  m{a=\"1\"} 0 1\n",
        "eval instant at 1m \"hi\"\n  expect string \"hi\"\n",
        "eval instant at 1m 1 +\n  expect fail regex: .\n",
        "eval_warn instant at 1m m\n  m{a=\"1\"} 1\n",
        "eval instant at 1m 0x10\n  16\n",
        "eval instant at 1m m\n  {{schema:0 sum:1 count:1}}\n",
    ];
    let mut oks = ok.to_vec();
    oks.retain(|c| !c.contains("expect fail\n") && !c.starts_with("eval_fail"));
    for case in oks {
        let r = run(&format!("{base}{case}"), &[]);
        assert!(r.failures.is_empty(), "{case}: {r:?}");
        assert_eq!(r.passed + r.skipped.len(), 1, "{case}: {r:?}");
    }
    let r = run(&format!("{base}{}", ok[12]), &[]);
    assert_eq!(r.unchecked_annotations, 0);
    let r = run(&format!("{base}{}", ok[11]), &[]);
    assert_eq!(
        r.unchecked_annotations, 1,
        "eval_warn is counted as unchecked"
    );
    let r = run(&format!("{base}{}", ok[13]), &[]);
    assert_eq!(r.skipped.len(), 1, "native histograms are skipped");
    for bad in [
        "eval range from 0 to 9m step 1m m\n  m{a=\"1\"} 0 1 2 3 4 4 4 9 7 5\n",
        "eval range from 0 to 9m step 1m m\n  m{a=\"1\"} 0 1 2 3 4 4 _ 9 7\n",
        "eval range from 0 to 9m step 1m m\n  m{a=\"1\"} 0 1 2 3 4 4 _ 9 7 5 3\n",
        "eval range from 0 to 9m step 1m m\n  m{a=\"2\"} 0 1 2 3 4 4 _ 9 7 5\n",
        "eval range from 0 to 9m step 1m m\n",
        "eval instant at 1m m\n  expect fail\n",
        "eval instant at 1m 1 +\n  expect fail msg: no such message\n",
        "eval instant at 1m 1 +\n  expect fail regex: ^nothing$\n",
        "eval instant at 1m m[1m]\n  expect range vector from 0 to 1m step 1m\n  m{a=\"1\"} 0 2\n",
        "eval instant at 1m m[1m]\n  m{a=\"1\"} 1\n",
        "eval instant at 1m \"hi\"\n  expect string \"ho\"\n",
        "eval instant at 1m m\n  m{a=\"1\"} 1 2\n",
        "eval instant at 1m m\n  expect bogus\n",
        "eval range from 2m to 1m step 1m m\n",
        "eval sometime m\n",
        "load 1m\n  m{a=\"1\"} 1x\n",
        "bogus command\n",
    ] {
        let r = run(&format!("{base}{bad}"), &[]);
        assert_eq!(r.failures.len(), 1, "{bad}: {r:?}");
    }
}

use super::script::MemStore;
use super::{query_instant, query_range, QueryOptions, Value};
use crate::db::Sample;
use crate::error::Error;
use crate::labels::Labels;

fn store(series: &[(&str, &[(i64, f64)])]) -> MemStore {
    let mut s = MemStore::default();
    for (name, pts) in series {
        let l = Labels::new(name, &[("gpu", "0")]).unwrap();
        s.add(l, pts.iter().map(|&(t, v)| Sample::new(t, v)).collect());
    }
    s
}

fn one(s: &MemStore, expr: &str, t: i64) -> Option<f64> {
    match query_instant(s, expr, t, &QueryOptions::default()).unwrap() {
        Value::Vector(v) => {
            assert!(v.len() <= 1, "{v:?}");
            v.first().map(|e| e.sample.v)
        }
        Value::Scalar(s) => Some(s.v),
        other => panic!("{other:?}"),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Samples every 10 s from t=10 s to 50 s: 10, 20, 30, 40, 50 (a counter
/// rising 1/s). Window [0 s, 60 s] (rate at 60 s over 1m):
/// first sample 10 s after the window start, last 10 s before its end,
/// average spacing 10 s; both gaps are under 1.1 * 10 s, so extrapolation
/// runs to the edges: 40 (sampled) * 60/40 = 60 increase, rate 1/s.
/// The zero-point rule: the counter would reach 0 at 10 s * (10/40)... it
/// is 10 s before the first sample at 1/s, exactly the window start, so it
/// does not bind here.
#[test]
fn rate_extrapolates_to_window_edges() {
    let pts: Vec<(i64, f64)> = (1..=5).map(|i| (i * 10_000, i as f64 * 10.0)).collect();
    let s = store(&[("c", &pts)]);
    assert!(close(one(&s, "increase(c[1m])", 60_000).unwrap(), 60.0));
    assert!(close(one(&s, "rate(c[1m])", 60_000).unwrap(), 1.0));
    // delta does not apply the counter's zero bound.
    assert!(close(one(&s, "delta(c[1m])", 60_000).unwrap(), 60.0));
}

/// Window [0, 100 s], samples at 40, 50, 60 s of 100, 110, 120: sampled
/// 20 s, average spacing 10 s, threshold 11 s. The start gap (40 s) and
/// the end gap (40 s) are too long, so each side extends by half a
/// spacing (5 s): 20 * 30/20 = 30. But a counter at 100 rising 1/s would
/// have been 0 at -60 s, which is not inside [35 s, 40 s], so no clamp.
#[test]
fn rate_extrapolates_half_an_interval_past_long_gaps() {
    let s = store(&[("c", &[(40_000, 100.0), (50_000, 110.0), (60_000, 120.0)])]);
    assert!(close(one(&s, "increase(c[100s])", 100_000).unwrap(), 30.0));
    assert!(close(one(&s, "rate(c[100s])", 100_000).unwrap(), 0.3));
}

/// A counter starting near zero: samples at 30, 40, 50 s of 1, 11, 21.
/// Window [0, 60 s]: the start gap 30 s exceeds 11 s, so it would extend
/// 5 s, but at 1/s the counter was 0 just 1 s before the first sample
/// (durationToZero = 20 * 1/20 = 1 s), so extrapolation stops there. The end
/// gap is 10 s (< 11 s): extend fully. Interval 20 + 1 + 10 = 31 s;
/// increase 20 * 31/20 = 31.
#[test]
fn rate_never_extrapolates_a_counter_below_zero() {
    let s = store(&[("c", &[(30_000, 1.0), (40_000, 11.0), (50_000, 21.0)])]);
    assert!(close(one(&s, "increase(c[1m])", 60_000).unwrap(), 31.0));
}

/// A reset: 100, 110, 5, 15 at 10..40 s. The counter fell from 110 to 5,
/// so the 110 is added back: raw increase 15 - 100 + 110 = 25 over 30 s.
/// Window [0, 40 s] at t = 40 s: start gap 10 s (< 11 s) but the zero
/// bound is 30 * 100/25 = 120 s, so not binding; end gap 0. Interval 40 s,
/// increase 25 * 40/30.
#[test]
fn counter_resets_are_added_back() {
    let s = store(&[(
        "c",
        &[
            (10_000, 100.0),
            (20_000, 110.0),
            (30_000, 5.0),
            (40_000, 15.0),
        ],
    )]);
    assert!(close(
        one(&s, "increase(c[40s])", 40_000).unwrap(),
        25.0 * 40.0 / 30.0
    ));
    assert_eq!(one(&s, "resets(c[40s])", 40_000), Some(1.0));
    // irate uses the last two samples, after the reset: 10 over 10 s.
    assert!(close(one(&s, "irate(c[40s])", 40_000).unwrap(), 1.0));
    // delta treats it as a gauge: (15 - 100) * 40/30.
    assert!(close(
        one(&s, "delta(c[40s])", 40_000).unwrap(),
        -85.0 * 40.0 / 30.0
    ));
    // One sample is not enough for a rate.
    assert_eq!(one(&s, "rate(c[5s])", 40_000), None);
}

/// 2.42 selects closed intervals: a sample exactly lookback (or range) ago
/// still counts; one more millisecond and it does not.
#[test]
fn lookback_and_range_are_closed_on_the_left() {
    let s = store(&[("g", &[(0, 1.0)])]);
    assert_eq!(one(&s, "g", 300_000), Some(1.0));
    assert_eq!(one(&s, "g", 300_001), None);
    assert_eq!(one(&s, "count_over_time(g[1m])", 60_000), Some(1.0));
    assert_eq!(one(&s, "count_over_time(g[1m])", 60_001), None);
    let opts = QueryOptions {
        lookback_ms: 1_000,
        ..QueryOptions::default()
    };
    let Value::Vector(v) = query_instant(&s, "g", 1_001, &opts).unwrap() else {
        panic!()
    };
    assert!(v.is_empty());
}

#[test]
fn range_query_steps_from_start() {
    let pts: Vec<(i64, f64)> = (0..10).map(|i| (i * 60_000, i as f64)).collect();
    let s = store(&[("g", &pts)]);
    let m = query_range(
        &s,
        "g * 2",
        30_000,
        200_000,
        60_000,
        &QueryOptions::default(),
    )
    .unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].metric.to_string(), r#"{gpu="0"}"#);
    let got: Vec<(i64, f64)> = m[0].samples.iter().map(|p| (p.t, p.v)).collect();
    assert_eq!(got, [(30_000, 0.0), (90_000, 2.0), (150_000, 4.0)]);
    // Scalars come back as one series without labels.
    let m = query_range(&s, "time()", 0, 120_000, 60_000, &QueryOptions::default()).unwrap();
    assert_eq!(m.len(), 1);
    assert!(m[0].metric.is_empty());
    assert_eq!(m[0].samples.len(), 3);
}

fn query_error(s: &MemStore, expr: &str) -> String {
    match query_instant(s, expr, 0, &QueryOptions::default()) {
        Err(e @ Error::Query { .. }) => e.to_string(),
        other => panic!("{expr}: expected a query error, got {other:?}"),
    }
}

#[test]
fn unsupported_constructs_are_named() {
    let s = store(&[]);
    for (expr, needle) in [
        ("histogram_avg(g)", "histogram_avg"),
        (
            "double_exponential_smoothing(g[1m], 0.5, 0.5)",
            "double_exponential_smoothing",
        ),
        ("info(g)", "info"),
        ("g{a=\"1\" or b=\"2\"}", "or"),
    ] {
        let e = query_error(&s, expr);
        assert!(e.contains(needle), "{expr}: {e}");
    }
    let e = query_error(&s, "sum(g");
    assert!(e.contains("parse error"), "{e}");
    assert!(e.contains("sum(g"), "the query is named: {e}");
    let e = query_error(&s, "foo bar");
    assert!(e.contains("character 5 (\"bar\")"), "{e}");
    let e = query_error(&s, "rate(foo)");
    assert!(e.contains("expected type matrix"), "{e}");
    // A range query must be a scalar or instant vector.
    let e = query_range(&s, "g[1m]", 0, 60_000, 10_000, &QueryOptions::default()).unwrap_err();
    assert!(e.to_string().contains("range vector"), "{e}");
}

#[test]
fn limits_are_errors() {
    let pts: Vec<(i64, f64)> = (0..100).map(|i| (i * 1000, i as f64)).collect();
    let s = store(&[("g", &pts)]);
    let opts = QueryOptions {
        max_points: 50,
        ..QueryOptions::default()
    };
    let e = query_range(&s, "g", 0, 100_000, 1000, &opts).unwrap_err();
    assert!(e.to_string().contains("too many samples"), "{e}");
    let opts = QueryOptions {
        timeout: Some(std::time::Duration::ZERO),
        ..QueryOptions::default()
    };
    std::thread::sleep(std::time::Duration::from_millis(2));
    let e = query_range(&s, "g", 0, 100_000, 1000, &opts).unwrap_err();
    assert!(e.to_string().contains("timed out"), "{e}");
    let e = query_range(&s, "g", 0, 100_000, 0, &QueryOptions::default()).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
}

#[test]
fn every_supported_function_is_known_to_the_parser() {
    // Each 2.42 function must get past the parser (arguments may be wrong
    // for the evaluator; only "unknown function" matters here).
    let s = store(&[]);
    for name in super::functions::ALL_NAMES {
        let e = query_instant(&s, &format!("{name}()"), 0, &QueryOptions::default());
        if let Err(e) = e {
            let m = e.to_string();
            assert!(!m.contains("unknown function"), "{name}: {m}");
            assert!(!m.contains("unsupported function"), "{name}: {m}");
        }
    }
}

#[test]
fn db_binding() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::Db::open(dir.path(), crate::Options::default()).unwrap();
    let mut batch = Vec::new();
    for gpu in ["0", "1"] {
        let l = Labels::new("hashes_total", &[("gpu", gpu), ("rig", "a")]).unwrap();
        for i in 0..=20 {
            let per_s = if gpu == "0" { 100.0 } else { 50.0 };
            batch.push((l.clone(), Sample::new(i * 15_000, i as f64 * 15.0 * per_s)));
        }
    }
    db.append_labeled(&batch).unwrap();
    db.flush().unwrap();
    let Value::Vector(v) = db
        .query_instant("sum by (rig) (rate(hashes_total[1m]))", 300_000)
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].metric.to_string(), r#"{rig="a"}"#);
    assert!(close(v[0].sample.v, 150.0), "{v:?}");
    let m = db
        .query_range("hashes_total{gpu=\"1\"} / 15", 0, 300_000, 60_000)
        .unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].samples.len(), 6);
    assert!(close(m[0].samples[5].v, 1000.0));
}

/// Prometheus 2.42 evaluates `timestamp(x @ T offset o)` at T: the `@`
/// handling replaces the offset. Kept so answers match.
#[test]
fn timestamp_with_at_ignores_offset_like_2_42() {
    let pts: Vec<(i64, f64)> = (0..20).map(|i| (i * 10_000, i as f64)).collect();
    let s = store(&[("g", &pts)]);
    assert_eq!(one(&s, "timestamp(g @ 100 offset 50s)", 0), Some(100.0));
    assert_eq!(one(&s, "timestamp(g offset 50s)", 100_000), Some(50.0));
    assert_eq!(one(&s, "g @ 100 offset 50s", 0), Some(5.0));
}

#[test]
fn instant_results_order_and_types() {
    let mut s = MemStore::default();
    for (gpu, v) in [("0", 3.0), ("1", 1.0), ("2", 2.0)] {
        let l = Labels::new("t", &[("gpu", gpu)]).unwrap();
        s.add(l, vec![Sample::new(0, v)]);
    }
    let q = |e: &str| query_instant(&s, e, 0, &QueryOptions::default()).unwrap();
    let gpus = |v: Value| -> Vec<String> {
        let Value::Vector(v) = v else { panic!("{v:?}") };
        v.iter()
            .map(|e| e.metric.get("gpu").unwrap().to_string())
            .collect()
    };
    assert_eq!(gpus(q("t")), ["0", "1", "2"]);
    assert_eq!(gpus(q("sort(t)")), ["1", "2", "0"]);
    assert_eq!(gpus(q("sort_desc(t)")), ["0", "2", "1"]);
    assert_eq!(gpus(q("bottomk(2, t)")), ["1", "2"]);
    assert_eq!(
        gpus(q("-sort(t)")),
        ["0", "1", "2"],
        "only the outermost sort counts"
    );
    assert_eq!(q("1 + 2"), Value::Scalar(Sample::new(0, 3.0)));
    assert_eq!(
        q("\"hi\""),
        Value::String {
            t: 0,
            value: "hi".into()
        }
    );
    let Value::Matrix(m) = q("t[1m]") else {
        panic!()
    };
    assert_eq!(m.len(), 3);
    assert_eq!(m[0].metric.to_string(), r#"t{gpu="0"}"#);
}

/// Timings of typical dashboard queries over 100 series x 30 days at 1m;
/// run by hand (`cargo test -p minetsdb perf_probe -- --ignored --nocapture`).
#[test]
#[ignore]
fn perf_probe() {
    let mut s = MemStore::default();
    for g in 0..100 {
        let l = Labels::new(
            "h",
            &[("gpu", &g.to_string()), ("rig", &(g % 10).to_string())],
        )
        .unwrap();
        s.add(
            l,
            (0..43_200)
                .map(|i| Sample::new(i * 60_000, i as f64 * 7.0))
                .collect(),
        );
    }
    let o = QueryOptions::default();
    for q in [
        "rate(h[5m])",
        "sum by (rig) (rate(h[5m]))",
        "h",
        "h * 2 > 10",
        "avg_over_time(h[1h:5m])",
    ] {
        let t = std::time::Instant::now();
        let m = query_range(&s, q, 0, 43_200 * 60_000, 300_000, &o).unwrap();
        eprintln!("{q}: {} series, {:?}", m.len(), t.elapsed());
    }
}

/// Odd but parseable queries give an answer or an error, never a panic.
#[test]
fn odd_queries_do_not_panic() {
    let pts: Vec<(i64, f64)> = (0..50).map(|i| (i * 15_000, (i % 7) as f64)).collect();
    let mut s = store(&[("g", &pts)]);
    s.add(
        Labels::new("b", &[("le", "0.5")]).unwrap(),
        vec![Sample::new(0, 1.0)],
    );
    s.add(
        Labels::new("b", &[("le", "junk")]).unwrap(),
        vec![Sample::new(0, 1.0)],
    );
    for q in [
        "topk(1e300, g)",
        "topk(NaN, g)",
        "topk(-1, g)",
        "bottomk(1, g)",
        "quantile(NaN, g)",
        "quantile(2, g)",
        "g offset 100000w",
        "g offset -100000w",
        "g @ 99999999999",
        "g @ -99999999999",
        "rate(g[1ms])",
        "rate(g[100000w])",
        "g[1h:1ms]",
        "max_over_time(g[10m:1ms])",
        "max_over_time(g[10m:1ms] offset 1w @ 100)",
        "histogram_quantile(0.5, g)",
        "histogram_quantile(0.5, b)",
        "histogram_quantile(NaN, b)",
        "round(g, 0)",
        "round(g, -1)",
        "count_values(\"__name__\", g)",
        "count_values(\"a-b\", g)",
        "label_replace(g, \"x\", \"$9$name${1}\", \"gpu\", \"(.)\")",
        "label_join(g, \"x\", \",\")",
        "holt_winters(g[5m], 2, 0.5)",
        "predict_linear(g[5m], 1e308)",
        "day_of_week(g * 1e300)",
        "year(vector(-1e18))",
        "g ^ g % 0 / 0",
        "g and on() g or ignoring(gpu) g unless g",
        "g == bool g",
        "g * on(gpu) group_left(x) g",
        "sum without (__name__) (g)",
        "absent_over_time(nope{a=\"1\",a=\"2\"}[1m])",
        "scalar(g) + vector(1)",
        "-(-g)",
        "timestamp(timestamp(g))",
        "stddev_over_time(g[1s])",
        "deriv(g[1m])",
    ] {
        for (start, end) in [(0, 0), (-600_000, 900_000)] {
            let _ = query_range(&s, q, start, end, 60_000, &QueryOptions::default());
            let _ = query_instant(&s, q, end, &QueryOptions::default());
        }
    }
}

/// The `.test` files in `tests/promql/<sub>`, sorted.
pub(super) fn scripts_in(sub: &str) -> Vec<String> {
    let dir = format!("{}/tests/promql/{sub}", env!("CARGO_MANIFEST_DIR"));
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".test"))
        .collect();
    found.sort();
    found
}

/// A script added to tests/promql must also be listed (and so run on Db).
#[test]
fn every_script_is_listed() {
    assert_eq!(scripts_in(""), SCRIPTS);
}

/// A range query's aggregations find each series' group once for all
/// steps; each step must still equal the instant query at that time, with
/// series that start late, pause past the lookback, end with a stale
/// marker, lack a grouping label, or share groups across metric names.
fn range_aggregations_equal_instant_queries_on<S: super::Queryable>(s: &S) {
    let exprs = [
        "sum(m)",
        "sum by (a) ({__name__=~\"m|n\"})",
        "avg without (b) (m)",
        "count by (missing) (m)",
        "max by (a, b) (m)",
        "min without (__name__) ({__name__=~\"m|n\"})",
        "stddev by (b) (m)",
        "group by (a) (m)",
        "sum by (a) (rate(m[2m]))",
        "sum(avg_over_time(m[3m]))",
        "count by (__name__) ({__name__=~\"m|n\"})",
    ];
    let (start, end, step) = (0, 40 * 60_000, 60_000);
    let opts = QueryOptions::default();
    for e in exprs {
        let m = query_range(s, e, start, end, step, &opts).unwrap();
        let mut want: Vec<(String, i64, u64)> = Vec::new();
        for t in (start..=end).step_by(step as usize) {
            let Value::Vector(v) = query_instant(s, e, t, &opts).unwrap() else {
                panic!("{e}: not a vector")
            };
            want.extend(
                v.iter()
                    .map(|x| (x.metric.to_string(), t, x.sample.v.to_bits())),
            );
        }
        let mut got: Vec<(String, i64, u64)> = m
            .iter()
            .flat_map(|x| {
                x.samples
                    .iter()
                    .map(|p| (x.metric.to_string(), p.t, p.v.to_bits()))
            })
            .collect();
        want.sort();
        got.sort();
        assert!(!got.is_empty(), "{e}: no points");
        assert_eq!(got, want, "{e}");
    }
}

fn aggregation_fixture() -> Vec<(Labels, Vec<Sample>)> {
    let stale = f64::from_bits(crate::STALE_NAN_BITS);
    let l = |name: &str, pairs: &[(&str, &str)]| Labels::new(name, pairs).unwrap();
    let run = |from: i64, to: i64, f: &dyn Fn(i64) -> f64| -> Vec<Sample> {
        (from..=to).map(|i| Sample::new(i * 60_000, f(i))).collect()
    };
    let mut ended = run(0, 12, &|i| i as f64 * 3.5);
    ended.push(Sample::new(13 * 60_000, stale));
    let mut paused = run(0, 8, &|i| 100.0 + i as f64);
    paused.extend(run(20, 40, &|i| 50.0 - i as f64));
    vec![
        (l("m", &[("a", "1"), ("b", "x")]), run(0, 40, &|i| i as f64)),
        (l("m", &[("a", "1"), ("b", "y")]), ended),
        (l("m", &[("a", "2")]), paused),
        (l("m", &[("b", "x")]), run(15, 40, &|i| 0.1 * i as f64)),
        (
            l("n", &[("a", "1"), ("b", "x")]),
            run(5, 30, &|i| -(i as f64)),
        ),
    ]
}

#[test]
fn range_aggregations_equal_instant_queries() {
    let mut s = MemStore::default();
    for (l, pts) in aggregation_fixture() {
        s.add(l, pts);
    }
    range_aggregations_equal_instant_queries_on(&s);
}

#[test]
fn range_aggregations_equal_instant_queries_on_a_db() {
    use super::script::{DbStore, ScriptStore};
    let mut s = DbStore::new();
    s.load(aggregation_fixture()).unwrap();
    range_aggregations_equal_instant_queries_on(&s);
}
