//! Prometheus v2.55.1's own scripts (`tests/promql/v2.55/`, run by
//! [`super::script`]), against an engine with 2.42's semantics. Each skip
//! says which newer change or absent feature the eval depends on; a skip
//! that matches no eval fails the test, so the lists stay exact.
//! `native_histograms.test` is not ported: every eval in it reads native
//! histograms.

use super::script::{run, Report};

const NHCB: &str = "reads the native histogram that load_with_nhcb builds from the classic \
    series (native histograms: unsupported; the classic series are loaded)";
const NATIVE_FN: &str =
    "native-histogram function (Prometheus 2.50+) on a load_with_nhcb histogram";
const DELAYED_NAME: &str = "delayed __name__ removal (feature promql-delayed-name-removal, on in \
    2.55's test engine); 2.42 drops the name at once, so rate() of two metrics collides";
const KAHAN_SUM: &str = "Kahan summation in sum/avg (Prometheus 2.54, ea82b49c33); 2.42 sums \
    naively and gives 0, as we do";
const AVG_OVER_TIME: &str = "avg_over_time's overflow-safe mean (Prometheus 2.55, cff0429b1a); \
    2.42 gives -2.428e83 here, as we do (checked with promtool 2.42)";
const ZERO_CUTOFF: &str = "extrapolation towards a zero counter value limited differently \
    (Prometheus 2.51, 7f912db15a); 2.42 extrapolates as our v2.42 functions.test expects";
const ATAN2_NAME: &str = "atan2 drops the metric name since Prometheus 2.47 (531567d46e); 2.42 \
    keeps it, as our v2.42 operators.test expects";
const PARAM_ONCE: &str = "2.52-2.55 evaluate an aggregation's parameter once, at a range \
    query's first step; 2.42 (and we) evaluate it at every step, so time() varies the ratio";

fn check(name: &str, skip: &[(&str, &str)]) -> Report {
    let path = format!("{}/tests/promql/v2.55/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let r = run(&text, skip);
    eprintln!(
        "v2.55/{name}: {} passed ({} with unchecked annotations), {} skipped, {} failed; \
         {} histogram series not loaded",
        r.passed,
        r.unchecked_annotations,
        r.skipped.len(),
        r.failures.len(),
        r.histogram_series,
    );
    super::tests::details(&format!("v2.55/{name}"), &r);
    assert!(r.passed + r.skipped.len() > 0, "v2.55/{name}: nothing ran");
    r
}

/// Every script in the directory has a test below.
const SCRIPTS: &[&str] = &[
    "aggregators.test",
    "at_modifier.test",
    "collision.test",
    "functions.test",
    "histograms.test",
    "limit.test",
    "literals.test",
    "name_label_dropping.test",
    "operators.test",
    "range_queries.test",
    "selectors.test",
    "staleness.test",
    "subquery.test",
    "trig_functions.test",
];

#[test]
fn every_v2_55_script_is_listed() {
    assert_eq!(super::tests::scripts_in("v2.55"), SCRIPTS);
}

#[test]
fn v2_55_aggregators() {
    check(
        "aggregators.test",
        &[
            (r#"sum(data{test="ten"})"#, KAHAN_SUM),
            (r#"avg(data{test="ten"})"#, KAHAN_SUM),
        ],
    );
}

#[test]
fn v2_55_at_modifier() {
    check("at_modifier.test", &[]);
}

#[test]
fn v2_55_collision() {
    check("collision.test", &[]);
}

#[test]
fn v2_55_functions() {
    check(
        "functions.test",
        &[
            ("increase(http_requests[100m])", ZERO_CUTOFF),
            ("rate(testcounter_zero_cutoff[20m])", ZERO_CUTOFF),
            ("avg_over_time(metric[1m])", AVG_OVER_TIME),
        ],
    );
}

#[test]
fn v2_55_histograms() {
    check("histograms.test", HISTOGRAM_SKIPS);
}

const HISTOGRAM_SKIPS: &[(&str, &str)] = &[
    ("histogram_count(testhistogram3)", NHCB),
    ("histogram_sum(testhistogram3)", NHCB),
    ("histogram_avg(testhistogram3)", NATIVE_FN),
    ("histogram_stddev(testhistogram3)", NATIVE_FN),
    ("histogram_stdvar(testhistogram3)", NATIVE_FN),
    ("histogram_fraction(0, 0.2, testhistogram3)", NHCB),
    ("histogram_fraction(0, 0.2, rate(testhistogram3[5m]))", NHCB),
    ("histogram_quantile(0, testhistogram3)", NHCB),
    ("histogram_quantile(0.25, testhistogram3)", NHCB),
    ("histogram_quantile(0.5, testhistogram3)", NHCB),
    ("histogram_quantile(0.75, testhistogram3)", NHCB),
    ("histogram_quantile(1, testhistogram3)", NHCB),
    ("histogram_quantile(-0.1, testhistogram)", NHCB),
    ("histogram_quantile(1.01, testhistogram)", NHCB),
    ("histogram_quantile(NaN, testhistogram)", NHCB),
    ("histogram_quantile(0, testhistogram)", NHCB),
    ("histogram_quantile(1, testhistogram)", NHCB),
    ("histogram_quantile(0.2, testhistogram)", NHCB),
    ("histogram_quantile(0.5, testhistogram)", NHCB),
    ("histogram_quantile(0.8, testhistogram)", NHCB),
    ("histogram_quantile(0.2, rate(testhistogram[5m]))", NHCB),
    ("histogram_quantile(0.5, rate(testhistogram[5m]))", NHCB),
    ("histogram_quantile(0.8, rate(testhistogram[5m]))", NHCB),
    ("histogram_quantile(1./6., testhistogram2)", NHCB),
    ("histogram_quantile(0.5, testhistogram2)", NHCB),
    ("histogram_quantile(5./6., testhistogram2)", NHCB),
    ("histogram_quantile(1./6., rate(testhistogram2[15m]))", NHCB),
    ("histogram_quantile(0.5, rate(testhistogram2[15m]))", NHCB),
    ("histogram_quantile(5./6., rate(testhistogram2[15m]))", NHCB),
    (
        "histogram_quantile(0.3, sum(rate(request_duration_seconds[5m])))",
        NHCB,
    ),
    (
        "histogram_quantile(0.5, sum(rate(request_duration_seconds[5m])))",
        NHCB,
    ),
    (
        "histogram_quantile(0.3, avg(rate(request_duration_seconds[5m])))",
        NHCB,
    ),
    (
        "histogram_quantile(0.5, avg(rate(request_duration_seconds[5m])))",
        NHCB,
    ),
    (
        "histogram_quantile(0.3, sum(rate(request_duration_seconds[5m])) by (instance))",
        NHCB,
    ),
    (
        "histogram_quantile(0.5, sum(rate(request_duration_seconds[5m])) by (instance))",
        NHCB,
    ),
    (
        "histogram_quantile(0.3, sum(rate(request_duration_seconds[5m])) by (job))",
        NHCB,
    ),
    (
        "histogram_quantile(0.5, sum(rate(request_duration_seconds[5m])) by (job))",
        NHCB,
    ),
    (
        "histogram_quantile(0.3, sum(rate(request_duration_seconds[5m])) by (job, instance))",
        NHCB,
    ),
    (
        "histogram_quantile(0.5, sum(rate(request_duration_seconds[5m])) by (job, instance))",
        NHCB,
    ),
    (
        "histogram_quantile(0.3, rate(request_duration_seconds[5m]))",
        NHCB,
    ),
    (
        "histogram_quantile(0.5, rate(request_duration_seconds[5m]))",
        NHCB,
    ),
    ("histogram_quantile(0.5, rate(mixed[5m]))", NHCB),
    (
        r#"histogram_quantile(0.99, {__name__=~"request_duration_seconds\\d*"})"#,
        NHCB,
    ),
    (
        "histogram_quantile(1.0, sum(rate(const_histogram[5m])))",
        NHCB,
    ),
];

#[test]
fn v2_55_limit() {
    check("limit.test", LIMIT_SKIPS);
}

const LIMIT_SKIPS: &[(&str, &str)] = &[
    (
        "count(limit_ratio(time() % 17/17, http_requests) or limit_ratio(1.0 - (time() % 17/17), http_requests))",
        PARAM_ONCE,
    ),
    (
        "count(limit_ratio(time() % 17/17, http_requests) and limit_ratio(1.0 - (time() % 17/17), http_requests))",
        PARAM_ONCE,
    ),
];

#[test]
fn v2_55_literals() {
    check("literals.test", &[]);
}

#[test]
fn v2_55_name_label_dropping() {
    check(
        "name_label_dropping.test",
        &[
            (
                r#"label_replace(rate({env="1"}[10m]), "my_name", "rate_$1", "__name__", "(.+)")"#,
                DELAYED_NAME,
            ),
            (
                r#"label_replace(rate({env="1"}[10m]), "__name__", "rate_$1", "__name__", "(.+)")"#,
                DELAYED_NAME,
            ),
            (
                r#"label_join(rate({env="1"}[10m]), "my_name", "_", "__name__")"#,
                DELAYED_NAME,
            ),
            (
                r#"label_join(rate({env="1"}[10m]), "__name__", "_", "__name__", "env")"#,
                DELAYED_NAME,
            ),
            (r#"sum(rate({env="1"}[10m])) by (env)"#, DELAYED_NAME),
        ],
    );
}

#[test]
fn v2_55_operators() {
    check(
        "operators.test",
        &[
            ("trigy atan2 trigx", ATAN2_NAME),
            ("trigy atan2 trigNaN", ATAN2_NAME),
        ],
    );
}

#[test]
fn v2_55_range_queries() {
    check("range_queries.test", &[]);
}

#[test]
fn v2_55_selectors() {
    check("selectors.test", &[]);
}

#[test]
fn v2_55_staleness() {
    check("staleness.test", &[]);
}

#[test]
fn v2_55_subquery() {
    check("subquery.test", &[]);
}

#[test]
fn v2_55_trig_functions() {
    check("trig_functions.test", &[]);
}
