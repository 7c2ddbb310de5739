//! Alerting: rules over the stored series, their pending/firing/resolved
//! state, and the notifications sent when that state changes.
//!
//! The evaluator produces [`Alert`]s; notifiers (a command, an
//! Alertmanager-compatible webhook) consume them. This type is the whole
//! contract between the two, so either side can change without the other.

use std::collections::BTreeMap;

pub mod defaults;
pub mod eval;
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
