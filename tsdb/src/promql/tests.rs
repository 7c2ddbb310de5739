//! Tests: Prometheus' own scripts (ported under `tsdb/tests/promql/`), and
//! hand-computed cases.

use super::script::{run, Report};

fn script(name: &str) -> String {
    let path = format!("{}/tests/promql/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn check(name: &str, skip: &[(&str, &str)]) -> Report {
    let r = run(&script(name), skip);
    eprintln!(
        "{name}: {} passed, {} skipped, {} failed",
        r.passed,
        r.skipped.len(),
        r.failures.len()
    );
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
    r
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
