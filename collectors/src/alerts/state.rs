//! Alert state across processes: what the last evaluation wrote is the
//! state. `ALERTS_FOR_STATE{...} = activeAt` says an alert was pending or
//! firing, `ALERTS{alertstate="firing"}` which; a stale marker says it
//! ended. A new `collect` loop and every `minetsdb alerts` run restore from
//! the last samples within [`RESTORE_WINDOW_MS`] (Prometheus'
//! `rules.alert.for-outage-tolerance`, 1 hour): so a cron run each minute
//! goes pending → firing across runs, and reports the alert resolved in
//! the run where it stops holding.
//!
//! Unlike Prometheus, which after a restart moves `activeAt` forward by the
//! downtime when `for` is long, the time between runs counts: for cron the
//! gap is the normal case, not an outage. Annotations and the value of a
//! restored alert come from re-running its rule at the time of its last
//! sample, so an alert resolved right after a restore still says what it
//! was about.

use std::collections::{BTreeMap, HashMap};

use minetsdb::promql::Queryable;
use minetsdb::{is_stale_nan, Matcher, METRIC_NAME_LABEL};

use super::eval::{alert_series, instance, run, Active, Evaluator, Key};
use super::rules::Rule;
use super::{Alert, AlertState};

/// How far back state is looked for.
pub const RESTORE_WINDOW_MS: i64 = 3_600_000;

/// The last sample of each series matching `m` in the window, unless it
/// is a stale marker: (labels without `__name__`, time, value).
fn last_values<Q: Queryable + ?Sized>(
    q: &Q,
    m: &[Matcher],
    lo: i64,
    hi: i64,
) -> minetsdb::Result<Vec<(Key, i64, f64)>> {
    let mut out = Vec::new();
    for s in q.select_series(m, lo, hi)? {
        let Some(last) = s.samples.last() else {
            continue;
        };
        if is_stale_nan(last.v) {
            continue;
        }
        let key: Key = s
            .labels
            .iter()
            .filter(|l| l.name != METRIC_NAME_LABEL)
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect();
        out.push((key, last.t, last.v));
    }
    Ok(out)
}

impl Evaluator {
    /// Restores pending and firing alerts, and the series written last,
    /// from `q` as of `t`. Returns how many alerts were restored.
    pub fn restore<Q: Queryable + ?Sized>(&mut self, q: &Q, t: i64) -> minetsdb::Result<usize> {
        let lo = t - RESTORE_WINDOW_MS;
        let firing: HashMap<Key, i64> = last_values(
            q,
            &[
                Matcher::metric("ALERTS"),
                Matcher::equal("alertstate", "firing"),
            ],
            lo,
            t,
        )?
        .into_iter()
        .map(|(mut k, ts, _)| {
            k.remove("alertstate");
            (k, ts)
        })
        .collect();
        let mut restored = 0;
        // Per rule, the latest time one of its alerts was written.
        let mut last_at: HashMap<(usize, usize), i64> = HashMap::new();
        for (key, ts, active_at_s) in last_values(q, &[Matcher::metric("ALERTS_FOR_STATE")], lo, t)?
        {
            let Some((gi, ri, for_ms)) = self.rule_of(&key) else {
                continue;
            };
            let active_at_ms = (active_at_s * 1000.0) as i64;
            let is_firing = firing.contains_key(&key);
            let alert = Alert {
                labels: key.clone(),
                annotations: BTreeMap::new(),
                state: if is_firing {
                    AlertState::Firing
                } else {
                    AlertState::Pending
                },
                active_at_ms,
                fired_at_ms: is_firing.then_some(active_at_ms + for_ms),
                resolved_at_ms: None,
                value: f64::NAN,
            };
            let st = &mut self.state[gi][ri];
            if let Ok(l) = alert_series(&alert, None) {
                st.written.insert(l);
            }
            if let Ok(l) = alert_series(&alert, Some(alert.state)) {
                st.written.insert(l);
            }
            st.active.insert(
                key,
                Active {
                    alert,
                    keep_firing_since: None,
                },
            );
            let e = last_at.entry((gi, ri)).or_insert(ts);
            *e = (*e).max(ts);
            restored += 1;
        }
        for ((gi, ri), ts) in last_at {
            self.refresh(q, gi, ri, ts);
        }
        self.restore_records(q, t)?;
        Ok(restored)
    }

    /// The alerting rule an alert with `labels` came from: same name, and
    /// the rule's constant labels present with the same values.
    fn rule_of(&self, labels: &Key) -> Option<(usize, usize, i64)> {
        let name = labels.get("alertname")?;
        for (gi, g) in self.groups.iter().enumerate() {
            for (ri, r) in g.rules.iter().enumerate() {
                let Rule::Alert(a) = r else { continue };
                if &a.name != name {
                    continue;
                }
                let fits = a.labels.iter().all(|(k, v)| {
                    v.source().contains("{{")
                        || labels.get(k).map(String::as_str) == Some(v.source())
                });
                if fits {
                    return Some((gi, ri, a.for_ms));
                }
            }
        }
        None
    }

    /// Gives restored alerts of rule (gi, ri) the value and annotations
    /// the rule gave them at `ts`.
    fn refresh<Q: Queryable + ?Sized>(&mut self, q: &Q, gi: usize, ri: usize, ts: i64) {
        let Some(Rule::Alert(rule)) = self.groups.get(gi).and_then(|g| g.rules.get(ri)) else {
            return;
        };
        let Ok(vector) = run(q, &rule.expr, ts, &self.opts) else {
            return;
        };
        for s in &vector {
            let (labels, annotations) =
                instance(rule, s, &self.external_labels, &self.external_url);
            if let Some(a) = self.state[gi][ri].active.get_mut(&labels) {
                a.alert.value = s.sample.v;
                a.alert.annotations = annotations;
            }
        }
    }

    /// Recording rules' series still live, so that those that vanish get
    /// their stale marker.
    fn restore_records<Q: Queryable + ?Sized>(&mut self, q: &Q, t: i64) -> minetsdb::Result<()> {
        for (gi, g) in self.groups.iter().enumerate() {
            // Past the interval and the 5-minute lookback a series is
            // gone from queries anyway.
            let lo = t - g.interval_ms - 5 * 60_000;
            for (ri, r) in g.rules.iter().enumerate() {
                let Rule::Record(rec) = r else { continue };
                for s in q.select_series(&[Matcher::metric(&rec.name)], lo, t)? {
                    if s.samples.last().is_some_and(|x| !is_stale_nan(x.v)) {
                        self.state[gi][ri].written.insert(s.labels);
                    }
                }
            }
        }
        Ok(())
    }
}
