//! Evaluation of rule groups and the alerts' state machine, after
//! Prometheus 2.42's `rules/alerting.go` and `rules/group.go`.
//!
//! At each evaluation time `t` every due group's rules run in order as
//! instant queries. An alerting rule makes one alert per output series:
//! its labels are the series' (without `__name__`), then the rule's
//! (templated), then `alertname`. A new alert is pending with
//! `activeAt = t`; once `t - activeAt >= for` it fires (`for: 0` fires at
//! once). An alert whose series is gone vanishes if pending, and if firing
//! is resolved at `t` (after `keep_firing_for`, if set) and kept, resolved,
//! for 15 minutes, as Prometheus keeps it for resending.
//!
//! Each evaluation yields the samples Prometheus writes: `ALERTS{alertname,
//! alertstate, ...} = 1` and `ALERTS_FOR_STATE{alertname, ...} = activeAt`
//! (Unix seconds) per pending or firing alert, recording rules' series,
//! and a stale marker for each series written last time and not this
//! time. A recording rule's output is visible to the rules after it in
//! the same round, as in Prometheus, through an overlay on the store.

use std::collections::{BTreeMap, HashMap, HashSet};

use minetsdb::promql::{query_instant, QueryOptions, Queryable, Value, Vector};
use minetsdb::{Labels, Matcher, Sample, Series, STALE_NAN_BITS};

use super::rules::{AlertRule, Group, RecordRule, Rule};
use super::template::Data;
use super::{Alert, AlertState};

/// How long a resolved alert is kept (and reported) after resolving:
/// Prometheus' `resolvedRetention`.
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60_000;

/// An alert's identity: its labels.
pub(crate) type Key = BTreeMap<String, String>;

/// One rule's state between evaluations.
#[derive(Debug, Default)]
pub(crate) struct RuleState {
    pub(crate) active: HashMap<Key, Active>,
    /// Series written at the last evaluation, for stale markers.
    pub(crate) written: HashSet<Labels>,
}

#[derive(Debug, Clone)]
pub(crate) struct Active {
    pub(crate) alert: Alert,
    pub(crate) keep_firing_since: Option<i64>,
}

/// What one evaluation round did.
#[derive(Debug, Default, Clone)]
pub struct Round {
    /// The evaluation time, ms.
    pub t: i64,
    /// Groups evaluated (those due).
    pub groups: usize,
    /// Every alert now pending or firing, and those resolved in the last
    /// 15 minutes, ordered by name and labels.
    pub alerts: Vec<Alert>,
    /// The alerts whose state changed this round: new pending ones, those
    /// that started firing, those resolved.
    pub changes: Vec<Alert>,
    /// Samples to store: `ALERTS`, `ALERTS_FOR_STATE`, recorded series,
    /// stale markers.
    pub samples: Vec<(Labels, Sample)>,
    /// Rules that failed, one line each (the others still ran).
    pub errors: Vec<String>,
}

impl Round {
    /// What a notifier sends: firing alerts and recently resolved ones,
    /// as Prometheus sends them to Alertmanager each round.
    pub fn notifiable(&self) -> impl Iterator<Item = &Alert> {
        self.alerts
            .iter()
            .filter(|a| matches!(a.state, AlertState::Firing | AlertState::Resolved))
    }
}

/// The rules and their alerts' state. One per process (`collect`'s loop)
/// or per run (`minetsdb alerts`, `collect --once`), restored from the
/// database by [`super::state::restore`].
#[derive(Debug)]
pub struct Evaluator {
    pub(crate) groups: Vec<Group>,
    pub(crate) state: Vec<Vec<RuleState>>,
    last_eval: Vec<Option<i64>>,
    pub(crate) external_labels: BTreeMap<String, String>,
    pub(crate) external_url: String,
    pub(crate) opts: QueryOptions,
}

impl Evaluator {
    /// An evaluator with no alert active yet.
    pub fn new(groups: Vec<Group>, external_labels: BTreeMap<String, String>) -> Evaluator {
        let state = groups
            .iter()
            .map(|g| g.rules.iter().map(|_| RuleState::default()).collect())
            .collect();
        let last_eval = vec![None; groups.len()];
        Evaluator {
            groups,
            state,
            last_eval,
            external_labels,
            external_url: String::new(),
            opts: QueryOptions::default(),
        }
    }

    /// The rules, by group.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The alerts (pending, firing, recently resolved) of rule `rule` of
    /// group `group`, by labels.
    pub fn alerts_of(&self, group: usize, rule: usize) -> Vec<Alert> {
        let mut v: Vec<Alert> = self
            .state
            .get(group)
            .and_then(|g| g.get(rule))
            .map(|r| r.active.values().map(|a| a.alert.clone()).collect())
            .unwrap_or_default();
        v.sort_by(|a, b| a.labels.cmp(&b.labels));
        v
    }

    /// The shortest group interval (how often a loop should call [`Self::eval`]).
    pub fn min_interval_ms(&self) -> Option<i64> {
        self.groups.iter().map(|g| g.interval_ms).min()
    }

    /// Evaluates every group due at `t` (all of them on the first call)
    /// against `q`. Query errors are reported in [`Round::errors`] and
    /// leave that rule's alerts as they were, as in Prometheus.
    pub fn eval<Q: Queryable + ?Sized>(&mut self, q: &Q, t: i64) -> Round {
        let mut round = Round {
            t,
            ..Round::default()
        };
        for gi in 0..self.groups.len() {
            let due = match self.last_eval[gi] {
                None => true,
                // A little early is due: rounds are triggered by scrapes
                // that jitter around the interval.
                Some(last) => t - last >= self.groups[gi].interval_ms * 9 / 10 || t < last,
            };
            if !due {
                continue;
            }
            self.last_eval[gi] = Some(t);
            round.groups += 1;
            let mut recorded: Vec<(Labels, Sample)> = Vec::new();
            for ri in 0..self.groups[gi].rules.len() {
                let rule = &self.groups[gi].rules[ri];
                let result = if recorded.is_empty() {
                    run(q, rule.expr(), t, &self.opts)
                } else {
                    let overlay = Overlay {
                        inner: q,
                        extra: &recorded,
                    };
                    run(&overlay, rule.expr(), t, &self.opts)
                };
                let vector = match result {
                    Ok(v) => v,
                    Err(e) => {
                        round.errors.push(rule_error(rule, &e));
                        continue;
                    }
                };
                let state = &mut self.state[gi][ri];
                let out = match rule {
                    Rule::Alert(a) => eval_alert(
                        a,
                        state,
                        &vector,
                        t,
                        &self.external_labels,
                        &self.external_url,
                        &mut round.changes,
                    ),
                    Rule::Record(r) => eval_record(r, &vector, t),
                };
                let written = match out {
                    Ok(w) => w,
                    Err(e) => {
                        round.errors.push(rule_error(rule, &e));
                        continue;
                    }
                };
                let now: HashSet<Labels> = written.iter().map(|(l, _)| l.clone()).collect();
                for gone in state.written.difference(&now) {
                    round
                        .samples
                        .push((gone.clone(), Sample::new(t, f64::from_bits(STALE_NAN_BITS))));
                }
                state.written = now;
                if matches!(rule, Rule::Record(_)) {
                    recorded.extend(written.iter().cloned());
                }
                round.samples.extend(written);
            }
        }
        for g in &self.state {
            for r in g {
                round
                    .alerts
                    .extend(r.active.values().map(|a| a.alert.clone()));
            }
        }
        round.alerts.sort_by(|a, b| a.labels.cmp(&b.labels));
        round.changes.sort_by(|a, b| a.labels.cmp(&b.labels));
        round
    }
}

/// A failed rule's line in a round's errors.
fn rule_error(rule: &Rule, e: &dyn std::fmt::Display) -> String {
    format!("rule {:?} ({}): {e}", rule.name(), origin(rule))
}

fn origin(rule: &Rule) -> &str {
    match rule {
        Rule::Alert(a) => &a.origin,
        Rule::Record(r) => &r.origin,
    }
}

/// The query's result as a vector: a scalar is one sample with no labels
/// (Prometheus' `EngineQueryFunc`); anything else is an error.
pub(crate) fn run<Q: Queryable + ?Sized>(
    q: &Q,
    expr: &str,
    t: i64,
    opts: &QueryOptions,
) -> Result<Vector, String> {
    match query_instant(q, expr, t, opts) {
        Ok(Value::Vector(v)) => Ok(v),
        Ok(Value::Scalar(s)) => Ok(vec![minetsdb::promql::VectorSample {
            metric: Default::default(),
            sample: s,
        }]),
        Ok(_) => Err("rule result is not a vector or scalar".into()),
        Err(minetsdb::Error::Query { msg, .. }) => Err(msg),
        Err(e) => Err(e.to_string()),
    }
}

/// The series `ALERTS` and `ALERTS_FOR_STATE` of an alert.
pub(crate) fn alert_series(a: &Alert, state: Option<AlertState>) -> Result<Labels, String> {
    let mut pairs: Vec<(&str, &str)> = a
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let name = match state {
        Some(s) => {
            pairs.retain(|(k, _)| *k != "alertstate");
            pairs.push(("alertstate", s.as_str()));
            "ALERTS"
        }
        None => "ALERTS_FOR_STATE",
    };
    Labels::new(name, &pairs).map_err(|e| e.to_string())
}

/// The labels and annotations of the alert `rule` makes of `s`.
pub(crate) fn instance(
    rule: &AlertRule,
    s: &minetsdb::promql::VectorSample,
    external_labels: &BTreeMap<String, String>,
    external_url: &str,
) -> (Key, BTreeMap<String, String>) {
    let series: BTreeMap<String, String> = s
        .metric
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect();
    let data = Data {
        labels: &series,
        value: s.sample.v,
        external_labels,
        external_url,
    };
    let mut labels: Key = series.clone();
    labels.remove(minetsdb::METRIC_NAME_LABEL);
    for (k, tmpl) in &rule.labels {
        let v = tmpl.expand(&data);
        if v.is_empty() {
            labels.remove(k);
        } else {
            labels.insert(k.clone(), v);
        }
    }
    labels.insert("alertname".into(), rule.name.clone());
    let annotations = rule
        .annotations
        .iter()
        .map(|(k, tmpl)| (k.clone(), tmpl.expand(&data)))
        .collect();
    (labels, annotations)
}

/// Applies one alerting rule's result to its state; returns the series
/// to write.
fn eval_alert(
    rule: &AlertRule,
    state: &mut RuleState,
    vector: &Vector,
    t: i64,
    external_labels: &BTreeMap<String, String>,
    external_url: &str,
    changes: &mut Vec<Alert>,
) -> Result<Vec<(Labels, Sample)>, String> {
    // Build every alert first: a duplicate label set fails the whole rule
    // before any state changes, as in Prometheus.
    let mut seen: HashMap<Key, (f64, BTreeMap<String, String>)> = HashMap::new();
    for s in vector {
        let (labels, annotations) = instance(rule, s, external_labels, external_url);
        if seen.insert(labels, (s.sample.v, annotations)).is_some() {
            return Err(
                "vector contains metrics with the same labelset after applying alert labels".into(),
            );
        }
    }
    for (labels, (value, annotations)) in &seen {
        match state.active.get_mut(labels) {
            Some(a) if a.alert.state != AlertState::Resolved => {
                a.alert.value = *value;
                a.alert.annotations = annotations.clone();
                a.keep_firing_since = None;
            }
            _ => {
                let alert = Alert {
                    labels: labels.clone(),
                    annotations: annotations.clone(),
                    state: AlertState::Pending,
                    active_at_ms: t,
                    fired_at_ms: None,
                    resolved_at_ms: None,
                    value: *value,
                };
                state.active.insert(
                    labels.clone(),
                    Active {
                        alert,
                        keep_firing_since: None,
                    },
                );
            }
        }
    }
    // Alerts whose series is gone.
    let mut drop = Vec::new();
    for (labels, a) in state.active.iter_mut() {
        if seen.contains_key(labels) {
            continue;
        }
        match a.alert.state {
            AlertState::Pending => drop.push(labels.clone()),
            AlertState::Resolved => {
                if a.alert
                    .resolved_at_ms
                    .is_some_and(|r| t - r > RESOLVED_RETENTION_MS)
                {
                    drop.push(labels.clone());
                }
            }
            AlertState::Firing => {
                if rule.keep_firing_for_ms > 0 {
                    let since = *a.keep_firing_since.get_or_insert(t);
                    if t - since < rule.keep_firing_for_ms {
                        continue;
                    }
                }
                a.alert.state = AlertState::Resolved;
                a.alert.resolved_at_ms = Some(t);
                changes.push(a.alert.clone());
            }
        }
    }
    for k in drop {
        state.active.remove(&k);
    }
    let mut out = Vec::new();
    let mut keys: Vec<&Key> = state.active.keys().collect();
    keys.sort();
    let keys: Vec<Key> = keys.into_iter().cloned().collect();
    for k in keys {
        let Some(a) = state.active.get_mut(&k) else {
            continue;
        };
        let is_new = a.alert.active_at_ms == t && a.alert.state == AlertState::Pending;
        if a.alert.state == AlertState::Pending && t - a.alert.active_at_ms >= rule.for_ms {
            a.alert.state = AlertState::Firing;
            a.alert.fired_at_ms = Some(t);
            changes.push(a.alert.clone());
        } else if is_new {
            changes.push(a.alert.clone());
        }
        if a.alert.state == AlertState::Resolved {
            continue;
        }
        out.push((
            alert_series(&a.alert, Some(a.alert.state))?,
            Sample::new(t, 1.0),
        ));
        out.push((
            alert_series(&a.alert, None)?,
            Sample::new(t, (a.alert.active_at_ms.div_euclid(1000)) as f64),
        ));
    }
    Ok(out)
}

/// A recording rule's output series.
fn eval_record(
    rule: &RecordRule,
    vector: &Vector,
    t: i64,
) -> Result<Vec<(Labels, Sample)>, String> {
    let mut out = Vec::with_capacity(vector.len());
    let mut seen = HashSet::new();
    for s in vector {
        let mut labels: BTreeMap<&str, &str> = s
            .metric
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        labels.insert(minetsdb::METRIC_NAME_LABEL, &rule.name);
        for (k, v) in &rule.labels {
            if v.is_empty() {
                labels.remove(k.as_str());
            } else {
                labels.insert(k, v);
            }
        }
        let l = Labels::from_pairs(labels).map_err(|e| e.to_string())?;
        if !seen.insert(l.clone()) {
            return Err(
                "vector contains metrics with the same labelset after applying rule labels".into(),
            );
        }
        out.push((l, Sample::new(t, s.sample.v)));
    }
    Ok(out)
}

/// The store plus the samples recorded earlier in this round.
struct Overlay<'a, Q: ?Sized> {
    inner: &'a Q,
    extra: &'a [(Labels, Sample)],
}

impl<Q: Queryable + ?Sized> Queryable for Overlay<'_, Q> {
    fn select_series(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> minetsdb::Result<Vec<Series>> {
        let mut v = self.inner.select_series(matchers, mint, maxt)?;
        for (l, s) in self.extra {
            if s.t < mint || s.t > maxt || !matchers.iter().all(|m| m.matches(l)) {
                continue;
            }
            match v.iter_mut().find(|x| &x.labels == l) {
                Some(x) => {
                    x.samples.retain(|o| o.t < s.t);
                    x.samples.push(*s);
                }
                None => v.push(Series {
                    labels: l.clone(),
                    samples: vec![*s],
                }),
            }
        }
        v.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::rules::parse_rule_file;
    use minetsdb::{Db, Options};
    use std::path::Path;

    const T0: i64 = 1_700_000_000_000;
    const MIN: i64 = 60_000;

    fn temp(db: &Db, uuid: &str, t: i64, v: f64) {
        let l = Labels::new("nvidia_smi_temperature_gpu", &[("uuid", uuid)]).unwrap();
        db.append_labeled(&[(l, Sample::new(t, v))]).unwrap();
    }

    fn groups(yaml: &str) -> Vec<Group> {
        parse_rule_file(yaml, Path::new("r.yml"), MIN).unwrap()
    }

    const HOT: &str = r#"groups:
  - name: g
    rules:
      - alert: Hot
        expr: nvidia_smi_temperature_gpu > 85
        for: 2m
        labels: { severity: critical }
        annotations:
          summary: "{{ $labels.uuid }} at {{ $value }}"
"#;

    /// Evaluates, stores what the round wrote, returns it.
    fn step(ev: &mut Evaluator, db: &Db, t: i64) -> Round {
        let r = ev.eval(db, t);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        db.append_labeled(&r.samples).unwrap();
        r
    }

    fn states(r: &Round) -> Vec<(String, &'static str)> {
        r.alerts
            .iter()
            .map(|a| (a.labels["uuid"].clone(), a.state.as_str()))
            .collect()
    }

    #[test]
    fn pending_firing_resolved_with_for() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        let mut ev = Evaluator::new(groups(HOT), BTreeMap::new());
        temp(&db, "GPU-1", T0, 90.0);
        temp(&db, "GPU-2", T0, 60.0);
        let r = step(&mut ev, &db, T0);
        assert_eq!(states(&r), vec![("GPU-1".into(), "pending")]);
        let a = &r.alerts[0];
        assert_eq!(a.labels["alertname"], "Hot");
        assert_eq!(a.labels["severity"], "critical");
        assert!(!a.labels.contains_key("__name__"));
        assert_eq!(a.annotations["summary"], "GPU-1 at 90");
        assert_eq!(r.changes.len(), 1);
        // Still pending one minute on; the value and annotation follow.
        temp(&db, "GPU-1", T0 + MIN, 91.0);
        let r = step(&mut ev, &db, T0 + MIN);
        assert_eq!(states(&r), vec![("GPU-1".into(), "pending")]);
        assert_eq!(r.alerts[0].annotations["summary"], "GPU-1 at 91");
        assert!(r.changes.is_empty());
        // for (2m) elapsed: firing.
        temp(&db, "GPU-1", T0 + 2 * MIN, 92.0);
        let r = step(&mut ev, &db, T0 + 2 * MIN);
        assert_eq!(states(&r), vec![("GPU-1".into(), "firing")]);
        assert_eq!(r.alerts[0].fired_at_ms, Some(T0 + 2 * MIN));
        assert_eq!(r.alerts[0].active_at_ms, T0);
        assert_eq!(r.notifiable().count(), 1);
        // The ALERTS series as Prometheus writes them.
        let q = |e: &str, t| match db.query_instant(e, t).unwrap() {
            Value::Vector(v) => v,
            other => panic!("{other:?}"),
        };
        let v = q("ALERTS", T0 + 2 * MIN);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].metric.get("alertstate"), Some("firing"));
        let v = q("ALERTS_FOR_STATE", T0 + 2 * MIN);
        assert_eq!(v[0].sample.v, (T0 / 1000) as f64);
        // The pending series got a stale marker when it turned firing.
        assert!(q("ALERTS{alertstate=\"pending\"}", T0 + 2 * MIN).is_empty());
        // Cooled down: resolved, reported, ALERTS ended.
        temp(&db, "GPU-1", T0 + 3 * MIN, 70.0);
        let r = step(&mut ev, &db, T0 + 3 * MIN);
        assert_eq!(states(&r), vec![("GPU-1".into(), "resolved")]);
        assert_eq!(r.changes[0].resolved_at_ms, Some(T0 + 3 * MIN));
        assert!(q("ALERTS", T0 + 3 * MIN).is_empty());
        assert!(q("ALERTS_FOR_STATE", T0 + 3 * MIN).is_empty());
        // Kept 15 minutes for resending, then forgotten.
        temp(&db, "GPU-1", T0 + 18 * MIN, 70.0);
        assert_eq!(step(&mut ev, &db, T0 + 18 * MIN).alerts.len(), 1);
        temp(&db, "GPU-1", T0 + 19 * MIN, 70.0);
        assert!(step(&mut ev, &db, T0 + 19 * MIN).alerts.is_empty());
    }

    #[test]
    fn pending_vanishes_for_zero_fires_at_once_keep_firing_for_holds() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        let mut ev = Evaluator::new(groups(HOT), BTreeMap::new());
        temp(&db, "GPU-1", T0, 90.0);
        step(&mut ev, &db, T0);
        temp(&db, "GPU-1", T0 + MIN, 80.0);
        let r = step(&mut ev, &db, T0 + MIN);
        assert!(r.alerts.is_empty() && r.changes.is_empty());

        let y = HOT.replace("for: 2m", "for: 0s\n        keep_firing_for: 2m");
        let mut ev = Evaluator::new(groups(&y), BTreeMap::new());
        temp(&db, "GPU-1", T0 + 2 * MIN, 90.0);
        let r = step(&mut ev, &db, T0 + 2 * MIN);
        assert_eq!(states(&r), vec![("GPU-1".into(), "firing")]);
        temp(&db, "GPU-1", T0 + 3 * MIN, 70.0);
        let r = step(&mut ev, &db, T0 + 3 * MIN);
        assert_eq!(states(&r), vec![("GPU-1".into(), "firing")]);
        temp(&db, "GPU-1", T0 + 5 * MIN, 70.0);
        let r = step(&mut ev, &db, T0 + 5 * MIN);
        assert_eq!(states(&r), vec![("GPU-1".into(), "resolved")]);
    }

    #[test]
    fn restored_across_processes_like_cron() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        // Each "run" is a new evaluator restored from the db.
        let run = |t: i64, v: f64| {
            temp(&db, "GPU-1", t, v);
            let mut ev = Evaluator::new(groups(HOT), BTreeMap::new());
            ev.restore(&db, t).unwrap();
            step(&mut ev, &db, t)
        };
        assert_eq!(states(&run(T0, 90.0)), vec![("GPU-1".into(), "pending")]);
        assert_eq!(
            states(&run(T0 + MIN, 90.0)),
            vec![("GPU-1".into(), "pending")]
        );
        let r = run(T0 + 2 * MIN, 95.0);
        assert_eq!(states(&r), vec![("GPU-1".into(), "firing")]);
        assert_eq!(r.alerts[0].active_at_ms, T0);
        assert_eq!(
            states(&run(T0 + 3 * MIN, 95.0)),
            vec![("GPU-1".into(), "firing")]
        );
        // Resolved in the run where it stops holding, with the annotation
        // of its last evaluation (restored by re-running the rule).
        let r = run(T0 + 4 * MIN, 50.0);
        assert_eq!(states(&r), vec![("GPU-1".into(), "resolved")]);
        assert_eq!(r.changes[0].annotations["summary"], "GPU-1 at 95");
        assert_eq!(r.changes[0].value, 95.0);
        // Ended: the next run has nothing to restore.
        assert!(run(T0 + 5 * MIN, 50.0).alerts.is_empty());
        // State older than the window is not restored: pending anew.
        run(T0 + 10 * MIN, 90.0);
        let r = run(T0 + 80 * MIN, 90.0);
        assert_eq!(r.alerts[0].active_at_ms, T0 + 80 * MIN);
    }

    #[test]
    fn record_rules_feed_later_rules_and_go_stale() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        let y = r#"groups:
  - name: g
    rules:
      - record: gpu:temp:max
        expr: max(nvidia_smi_temperature_gpu)
        labels: { rig: r1 }
      - alert: RigHot
        expr: gpu:temp:max > 85
"#;
        let mut ev = Evaluator::new(groups(y), BTreeMap::new());
        temp(&db, "GPU-1", T0, 90.0);
        let r = step(&mut ev, &db, T0);
        // Seen by the alert in the same round, fired at once (no for).
        assert_eq!(r.alerts.len(), 1);
        assert_eq!(r.alerts[0].labels["rig"], "r1");
        assert_eq!(r.alerts[0].state, AlertState::Firing);
        let v = db.query_instant("gpu:temp:max", T0).unwrap();
        assert!(matches!(v, Value::Vector(ref v) if v.len() == 1 && v[0].sample.v == 90.0));
        // The input goes stale: so does the recorded series.
        let l = Labels::new("nvidia_smi_temperature_gpu", &[("uuid", "GPU-1")]).unwrap();
        db.append_labeled(&[(l, Sample::new(T0 + MIN, f64::from_bits(STALE_NAN_BITS)))])
            .unwrap();
        let r = step(&mut ev, &db, T0 + MIN);
        assert!(r
            .samples
            .iter()
            .any(|(l, s)| l.metric_name() == "gpu:temp:max" && minetsdb::is_stale_nan(s.v)));
        assert!(
            matches!(db.query_instant("gpu:temp:max", T0 + MIN).unwrap(), Value::Vector(v) if v.is_empty())
        );
    }

    #[test]
    fn query_errors_and_duplicate_labelsets_leave_state_alone() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        let y = r#"groups:
  - name: g
    rules:
      - alert: Dup
        expr: nvidia_smi_temperature_gpu > 0
        labels: { uuid: same }
"#;
        let mut ev = Evaluator::new(groups(y), BTreeMap::new());
        temp(&db, "GPU-1", T0, 90.0);
        temp(&db, "GPU-2", T0, 90.0);
        let r = ev.eval(&db, T0);
        assert_eq!(r.errors.len(), 1);
        assert!(r.errors[0].contains("same labelset"), "{:?}", r.errors);
        assert!(r.errors[0].contains("r.yml:4"), "{:?}", r.errors);
        assert!(r.alerts.is_empty());
    }

    #[test]
    fn group_interval_is_honoured() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        let y = HOT.replace("  - name: g\n", "  - name: g\n    interval: 5m\n");
        let mut ev = Evaluator::new(groups(&y), BTreeMap::new());
        temp(&db, "GPU-1", T0, 90.0);
        assert_eq!(ev.eval(&db, T0).groups, 1);
        assert_eq!(ev.eval(&db, T0 + MIN).groups, 0);
        assert_eq!(ev.eval(&db, T0 + 5 * MIN).groups, 1);
    }
}
