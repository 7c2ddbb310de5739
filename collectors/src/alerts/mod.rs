//! Alerting: rules over the stored series, their pending/firing/resolved
//! state, and the notifications sent when that state changes.
//!
//! The evaluator produces [`Alert`]s; notifiers (a command, an
//! Alertmanager-compatible webhook) consume them. This type is the whole
//! contract between the two, so either side can change without the other.
//!
//! - [`rules`]: the rule model, config.toml's `[alerting]` and `[[alert]]`,
//!   Prometheus rule files;
//! - [`template`]: Go text/template as Prometheus' annotations use it;
//! - [`defaults`]: the mining rules built from `[thresholds]`;
//! - [`eval`]: evaluation, the pending/firing/resolved state machine,
//!   `ALERTS`/`ALERTS_FOR_STATE` samples;
//! - [`state`]: restoring that state from the database.
//!
//! ```toml
//! [alerting]
//! defaults = true                  # the mining rules [default: true]
//! disable = ["GpuFanHigh"]         # by alert name
//! rule_files = ["rules.yml"]       # Prometheus rule files, relative to config.toml
//! interval = "1m"                  # [default: 1m]
//!
//! [[alert]]
//! name = "GpuHot"
//! expr = "nvidia_smi_temperature_gpu > 85"
//! for = "5m"
//! severity = "critical"
//! annotations = { summary = "{{ $labels.uuid }} at {{ $value }} °C" }
//! ```
//!
//! ```
//! use minetsdb::{Db, Labels, Options, Sample};
//! use minetsdb_collectors::alerts::{load_rules, AlertState, Evaluator};
//! use minetsdb_collectors::config::Config;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let db = Db::open(dir.path(), Options::default()).unwrap();
//! let t = 1_700_000_000_000;
//! let hot = Labels::new("nvidia_smi_temperature_gpu", &[("uuid", "GPU-1")]).unwrap();
//! db.append_labeled(&[(hot, Sample::new(t, 93.0))]).unwrap();
//!
//! let config = Config::parse("", std::path::Path::new("config.toml")).unwrap();
//! let mut ev = Evaluator::new(load_rules(&config).unwrap(), Default::default());
//! ev.restore(&db, t).unwrap();
//! let round = ev.eval(&db, t);
//! db.append_labeled(&round.samples).unwrap(); // ALERTS, ALERTS_FOR_STATE
//! let hot: Vec<_> = round.alerts.iter().filter(|a| a.name() == "GpuTemperatureHigh").collect();
//! assert_eq!(hot.len(), 2); // warning (80) and critical (90)
//! assert!(hot.iter().all(|a| a.state == AlertState::Pending)); // for: 2m
//! ```

use std::collections::BTreeMap;

pub mod defaults;
pub mod eval;
pub mod notify;
pub mod rules;
pub mod state;
pub mod template;

pub use eval::{Evaluator, Round};
pub use rules::{load_rules, AlertRule, AlertingConfig, Group, RecordRule, Rule, RuleError};

/// Where an alert stands, as Prometheus names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertState {
    /// The expression holds, but not yet for the rule's `for` duration.
    Pending,
    /// The expression has held for `for`: notifications go out.
    Firing,
    /// It fired and no longer holds.
    Resolved,
}

impl AlertState {
    /// `pending`, `firing` or `resolved` (the `alertstate` label uses the
    /// first two).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        }
    }
}

/// One alert instance: one rule and one label set.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// `alertname`, the rule's labels (`severity` among them) and the
    /// labels of the series the expression returned, without `__name__`.
    /// These identify the alert.
    pub labels: BTreeMap<String, String>,
    /// Templated annotations (`summary`, `description`, ...).
    pub annotations: BTreeMap<String, String>,
    /// Where it stands now.
    pub state: AlertState,
    /// When the expression first held (Prometheus' `activeAt`), ms.
    pub active_at_ms: i64,
    /// When it started firing, ms; `None` while pending.
    pub fired_at_ms: Option<i64>,
    /// When it stopped holding, ms; `None` unless resolved.
    pub resolved_at_ms: Option<i64>,
    /// The expression's value at the last evaluation that held.
    pub value: f64,
}

impl Alert {
    /// The `alertname` label ("" if somehow absent).
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }
}
