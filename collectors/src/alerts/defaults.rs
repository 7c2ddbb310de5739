//! The mining rules every rig gets unless `[alerting] defaults = false`,
//! built from `[thresholds]`: the numbers that colour `dash` are the ones
//! that alert. Each reading with a warning and a critical bound gives two
//! rules of one name, `severity="warning"` and `severity="critical"`; past
//! the critical bound both fire (as Prometheus' own mixins do: an
//! Alertmanager inhibits one with the other, a notifier may pick the worst).
//!
//! | alert | expression (default bounds) | for |
//! |---|---|---|
//! | `GpuTemperatureHigh` | `nvidia_smi_temperature_gpu`, `amdgpu_temperature_celsius` >= 80 / 90 | 2m |
//! | `GpuMemoryTemperatureHigh` | `miner_memory_temperature_celsius` >= 100 / 110 | 2m |
//! | `GpuFanHigh` | `nvidia_smi_fan_speed_ratio` >= 0.85 / 0.95 | 10m |
//! | `GpuPowerHigh` | draw / enforced limit >= 0.98 / 1.05 | 10m |
//! | `HashrateLow` | hashrate / its 1 h average <= 0.9 / 0.5 | 5m |
//! | `NoAcceptedShare` | no accepted share (miner counter, pool last-share time) for 20m / 1h | 0 |
//! | `BadSharesHigh` | (stale + rejected + invalid) / all shares, last hour >= 2% / 5%, of at least 20 shares | 5m |
//! | `TargetDown` | `up == 0` | 5m / 15m |
//! | `PowerLimitChanged` | the enforced power limit changed in the last hour | 0 |
//! | `PoolBalanceFlat` | `pool_unpaid_balance` unchanged for 3h / 12h | 0 |

use super::rules::AlertRule;
use super::template::Template;
use crate::config::thresholds::{Level, Severity, Thresholds};

/// A duration in PromQL: `20m`, `90s`, `1500ms`.
fn promql_duration(ms: f64) -> String {
    let ms = ms.max(1.0).round() as i64;
    if ms % 3_600_000 == 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms % 60_000 == 0 {
        format!("{}m", ms / 60_000)
    } else if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

fn template(s: &str) -> Template {
    // The texts below are constants covered by a test; a broken one
    // would show as its own text rather than take the process down.
    Template::parse(s).unwrap_or_else(|_| Template::literal(s))
}

struct Spec {
    name: &'static str,
    why: &'static str,
    for_ms: i64,
    summary: &'static str,
    description: String,
}

fn rule(spec: &Spec, severity: Severity, expr: String) -> AlertRule {
    AlertRule {
        name: spec.name.to_string(),
        expr,
        for_ms: spec.for_ms,
        keep_firing_for_ms: 0,
        labels: vec![("severity".to_string(), Template::literal(severity.as_str()))],
        annotations: vec![
            ("description".to_string(), template(&spec.description)),
            ("summary".to_string(), template(spec.summary)),
        ],
        origin: format!("defaults ([thresholds] {})", spec.why),
    }
}

/// Both severities of a reading: `expr(bound)` for each.
fn both(
    out: &mut Vec<AlertRule>,
    level: &Level,
    spec: Spec,
    expr: impl Fn(&str, String) -> String,
) {
    for sev in [Severity::Warning, Severity::Critical] {
        let Some(bound) = level.bound(sev) else {
            continue;
        };
        out.push(rule(&spec, sev, expr(level.operator(), fmt_num(bound))));
    }
}

fn fmt_num(v: f64) -> String {
    format!("{v}")
}

/// Shares in the last hour below which `BadSharesHigh` stays quiet.
pub const MIN_SHARES: u32 = 20;

const GPU: &str = "{{ $labels.instance }} GPU {{ or $labels.uuid $labels.card $labels.gpu }}";

/// `sum without (kind)` of the 1-hour increase of each counter that exists
/// (a miner may lack `invalid`); `label_replace` keeps the per-metric
/// increases apart, which `or` alone would merge.
fn shares_sum(kinds: &[&str]) -> String {
    let parts: Vec<String> = kinds
        .iter()
        .map(|k| {
            format!(
                "label_replace(increase(miner_shares_{k}_total[1h]), \"kind\", \"{k}\", \"\", \"\")"
            )
        })
        .collect();
    format!("sum without (kind) ({})", parts.join(" or "))
}

/// Stale, rejected and invalid shares of the last hour, per miner series
/// (per GPU): `BadSharesHigh`'s numerator, for readers (`dash`) that must
/// agree with the rule.
pub fn bad_shares_1h() -> String {
    shares_sum(&["stale", "rejected", "invalid"])
}

/// All shares of the last hour, per miner series: `BadSharesHigh`'s
/// denominator.
pub fn all_shares_1h() -> String {
    shares_sum(&["accepted", "stale", "rejected", "invalid"])
}

/// The default rules for `t`.
pub fn rules(t: &Thresholds) -> Vec<AlertRule> {
    let mut out = Vec::new();
    both(
        &mut out,
        &t.temperature,
        Spec {
            name: "GpuTemperatureHigh",
            why: "temperature",
            for_ms: 120_000,
            summary: "GPU temperature high",
            description: format!("{GPU} is at {{{{ $value }}}} °C."),
        },
        |op, b| {
            format!(
                "{{__name__=~\"nvidia_smi_temperature_gpu|amdgpu_temperature_celsius\"}} {op} {b}"
            )
        },
    );
    both(
        &mut out,
        &t.memory_temperature,
        Spec {
            name: "GpuMemoryTemperatureHigh",
            why: "memory_temperature",
            for_ms: 120_000,
            summary: "GPU memory temperature high",
            description: format!("{GPU} memory junction is at {{{{ $value }}}} °C."),
        },
        |op, b| format!("miner_memory_temperature_celsius {op} {b}"),
    );
    both(
        &mut out,
        &t.fan,
        Spec {
            name: "GpuFanHigh",
            why: "fan",
            for_ms: 600_000,
            summary: "GPU fan near full speed",
            description: format!("{GPU} fan at {{{{ $value | humanizePercentage }}}}."),
        },
        |op, b| format!("nvidia_smi_fan_speed_ratio {op} {b}"),
    );
    both(
        &mut out,
        &t.power,
        Spec {
            name: "GpuPowerHigh",
            why: "power",
            for_ms: 600_000,
            summary: "GPU power draw at its limit",
            description: format!(
                "{GPU} draws {{{{ $value | humanizePercentage }}}} of its power limit."
            ),
        },
        |op, b| {
            format!("nvidia_smi_power_draw_watts / nvidia_smi_enforced_power_limit_watts {op} {b}")
        },
    );
    both(
        &mut out,
        &t.hashrate,
        Spec {
            name: "HashrateLow",
            why: "hashrate",
            for_ms: 300_000,
            summary: "Hashrate below its 1-hour average",
            description: format!(
                "{GPU} ({{{{ $labels.miner }}}}) hashes at {{{{ $value | humanizePercentage }}}} of its 1-hour average."
            ),
        },
        |op, b| {
            format!(
                "miner_hashrate_hashes_per_second / avg_over_time(miner_hashrate_hashes_per_second[1h]) {op} {b}"
            )
        },
    );
    for sev in [Severity::Warning, Severity::Critical] {
        let Some(ms) = t.no_share.bound(sev) else {
            continue;
        };
        let d = promql_duration(ms);
        let secs = fmt_num((ms / 1000.0).round());
        let spec = Spec {
            name: "NoAcceptedShare",
            why: "no_share",
            for_ms: 0,
            summary: "No accepted share",
            description: format!(
                "{{{{ $labels.instance }}}} {{{{ or $labels.worker $labels.uuid $labels.miner $labels.pool }}}}: no accepted share for {d} or more."
            ),
        };
        let expr = format!(
            "(changes(miner_shares_accepted_total[{d}]) == 0 and miner_shares_accepted_total offset {d}) \
             or (time() - pool_worker_last_share_timestamp_seconds >= {secs}) \
             or (time() - pool_last_share_timestamp_seconds >= {secs})"
        );
        out.push(rule(&spec, sev, expr));
    }
    let bad = bad_shares_1h();
    let all = all_shares_1h();
    both(
        &mut out,
        &t.bad_shares,
        Spec {
            name: "BadSharesHigh",
            why: "bad_shares",
            for_ms: 300_000,
            summary: "Many stale, rejected or invalid shares",
            description: format!(
                "{GPU}: {{{{ $value | humanizePercentage }}}} of the last hour's shares were stale, rejected or invalid."
            ),
        },
        // A card finding a dozen shares an hour would be critical for an
        // hour after one stale share: below 20 shares the ratio says little.
        |op, b| format!("({bad} / {all} {op} {b}) and ({all} >= {MIN_SHARES})"),
    );
    for sev in [Severity::Warning, Severity::Critical] {
        let Some(ms) = t.target_down.bound(sev) else {
            continue;
        };
        let spec = Spec {
            name: "TargetDown",
            why: "target_down",
            for_ms: ms.round() as i64,
            summary: "Scrape target down",
            description: format!(
                "{{{{ $labels.job }}}} target {{{{ $labels.instance }}}} has been down for {} or more.",
                promql_duration(ms)
            ),
        };
        out.push(rule(&spec, sev, "up == 0".to_string()));
    }
    out.push(rule(
        &Spec {
            name: "PowerLimitChanged",
            why: "none; changes of the last hour",
            for_ms: 0,
            summary: "GPU power limit changed",
            description: format!(
                "{GPU}: its enforced power limit changed {{{{ $value }}}} time(s) in the last hour."
            ),
        },
        Severity::Warning,
        "changes(nvidia_smi_enforced_power_limit_watts[1h]) > 0".to_string(),
    ));
    for sev in [Severity::Warning, Severity::Critical] {
        let Some(ms) = t.unpaid_flat.bound(sev) else {
            continue;
        };
        let d = promql_duration(ms);
        let spec = Spec {
            name: "PoolBalanceFlat",
            why: "unpaid_flat",
            for_ms: 0,
            summary: "Pool balance not growing",
            description: format!(
                "The unpaid balance of {{{{ $labels.instance }}}} at {{{{ $labels.pool }}}} has not changed for {d}."
            ),
        };
        let expr =
            format!("changes(pool_unpaid_balance[{d}]) == 0 and pool_unpaid_balance offset {d}");
        out.push(rule(&spec, sev, expr));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn built_from_thresholds_and_valid() {
        let mut t = Thresholds::default();
        t.temperature.warning = 75.0;
        let rules = rules(&t);
        for r in &rules {
            minetsdb::promql::check(&r.expr).unwrap_or_else(|e| panic!("{}: {e}", r.name));
            for (k, a) in &r.annotations {
                // Every template parsed (a fallback literal expands to its
                // own source, braces included).
                let l = BTreeMap::from([("uuid".to_string(), "GPU-1".to_string())]);
                let d = super::super::template::Data {
                    labels: &l,
                    value: 1.0,
                    external_labels: &BTreeMap::new(),
                    external_url: "",
                };
                let x = a.expand(&d);
                assert!(
                    !x.contains("{{") && !x.contains("<error"),
                    "{} {k}: {x}",
                    r.name
                );
            }
        }
        let temp: Vec<_> = rules
            .iter()
            .filter(|r| r.name == "GpuTemperatureHigh")
            .collect();
        assert_eq!(temp.len(), 2);
        assert!(temp[0].expr.ends_with(">= 75") && temp[0].severity() == "warning");
        assert!(temp[1].expr.ends_with(">= 90") && temp[1].severity() == "critical");
        let hr = rules.iter().find(|r| r.name == "HashrateLow").unwrap();
        assert!(hr.expr.ends_with("<= 0.9"), "{}", hr.expr);
        let ns = rules.iter().find(|r| r.name == "NoAcceptedShare").unwrap();
        assert!(
            ns.expr.contains("[20m]") && ns.expr.contains(">= 1200"),
            "{}",
            ns.expr
        );
        let down: Vec<_> = rules.iter().filter(|r| r.name == "TargetDown").collect();
        assert_eq!((down[0].for_ms, down[1].for_ms), (300_000, 900_000));
        let names: std::collections::BTreeSet<_> = rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names.len(), 10);
    }

    #[test]
    fn durations() {
        assert_eq!(promql_duration(1_200_000.0), "20m");
        assert_eq!(promql_duration(3_600_000.0), "1h");
        assert_eq!(promql_duration(90_000.0), "90s");
        assert_eq!(promql_duration(1500.0), "1500ms");
    }
}
