//! `/api/v1/rules` and `/api/v1/alerts` in Prometheus' JSON shape, for
//! Grafana's alert views. The state is what the collector last stored
//! (`ALERTS`, `ALERTS_FOR_STATE`), restored per request as `minetsdb
//! alerts` restores it, so `serve` answers the same whether the collector
//! runs inside it (`--collect`) or beside it.

use minetsdb_collectors::alerts::notify::rfc3339_ms;
use minetsdb_collectors::alerts::{Alert, AlertState, Evaluator, Group, Rule};
use serde_json::{json, Map, Value as Json};

use super::api::{success, Store};
use super::http::Response;

fn map(m: &std::collections::BTreeMap<String, String>) -> Json {
    Json::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .collect::<Map<_, _>>(),
    )
}

fn alert_json(a: &Alert) -> Json {
    json!({
        "labels": map(&a.labels),
        "annotations": map(&a.annotations),
        "state": a.state.as_str(),
        "activeAt": rfc3339_ms(a.active_at_ms),
        "value": format!("{:e}", a.value),
    })
}

/// The evaluator of `groups` with the stored state as of now.
fn restored(store: &Store, groups: &[Group]) -> Result<Evaluator, String> {
    let mut ev = Evaluator::new(groups.to_vec(), Default::default());
    ev.restore(&*store.db(), crate::time::now_ms())
        .map_err(|e| e.to_string())?;
    Ok(ev)
}

fn error(msg: String) -> Response {
    let body = json!({"status": "error", "errorType": "internal", "error": msg});
    Response::new(500, "application/json", body.to_string())
}

/// `/api/v1/alerts`: pending and firing alerts.
pub fn alerts(store: &Store, groups: &[Group]) -> Response {
    let ev = match restored(store, groups) {
        Ok(ev) => ev,
        Err(e) => return error(e),
    };
    let mut out = Vec::new();
    for (gi, g) in ev.groups().iter().enumerate() {
        for ri in 0..g.rules.len() {
            out.extend(
                ev.alerts_of(gi, ri)
                    .iter()
                    .filter(|a| a.state != AlertState::Resolved)
                    .map(alert_json),
            );
        }
    }
    success(json!({ "alerts": out }))
}

/// `/api/v1/rules`: every group and rule, alerting rules with their alerts.
pub fn rules(store: &Store, groups: &[Group]) -> Response {
    let ev = match restored(store, groups) {
        Ok(ev) => ev,
        Err(e) => return error(e),
    };
    let mut gs = Vec::new();
    for (gi, g) in ev.groups().iter().enumerate() {
        let mut rs = Vec::new();
        for (ri, r) in g.rules.iter().enumerate() {
            rs.push(match r {
                Rule::Alert(a) => {
                    let alerts = ev.alerts_of(gi, ri);
                    let state = if alerts.iter().any(|x| x.state == AlertState::Firing) {
                        "firing"
                    } else if alerts.iter().any(|x| x.state == AlertState::Pending) {
                        "pending"
                    } else {
                        "inactive"
                    };
                    let labels: std::collections::BTreeMap<String, String> = a
                        .labels
                        .iter()
                        .map(|(k, v)| (k.clone(), v.source().to_string()))
                        .collect();
                    let annotations: std::collections::BTreeMap<String, String> = a
                        .annotations
                        .iter()
                        .map(|(k, v)| (k.clone(), v.source().to_string()))
                        .collect();
                    json!({
                        "state": state,
                        "name": a.name,
                        "query": a.expr,
                        "duration": a.for_ms as f64 / 1000.0,
                        "labels": map(&labels),
                        "annotations": map(&annotations),
                        "alerts": alerts.iter().filter(|x| x.state != AlertState::Resolved).map(alert_json).collect::<Vec<_>>(),
                        "health": "ok",
                        "type": "alerting",
                    })
                }
                Rule::Record(rec) => {
                    let labels: std::collections::BTreeMap<String, String> =
                        rec.labels.iter().cloned().collect();
                    json!({
                        "name": rec.name,
                        "query": rec.expr,
                        "labels": map(&labels),
                        "health": "ok",
                        "type": "recording",
                    })
                }
            });
        }
        gs.push(json!({
            "name": g.name,
            "file": g.source,
            "rules": rs,
            "interval": g.interval_ms as f64 / 1000.0,
        }));
    }
    success(json!({ "groups": gs }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_ms() {
        assert_eq!(super::rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            super::rfc3339_ms(1_699_992_000_123),
            "2023-11-14T20:00:00.123Z"
        );
    }
}
