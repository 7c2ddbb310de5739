//! `minetsdb alerts`: evaluate the alert rules once against the database,
//! store their state (`ALERTS`, `ALERTS_FOR_STATE`), print the alerts.
//!
//! The rules are the defaults built from `[thresholds]`, config.toml's
//! `[[alert]]` and the `[alerting] rule_files` (see
//! `minetsdb_collectors::alerts`). Each run first restores the state the
//! last run (or `collect`) left in the database, so a cron job each minute
//! goes pending → firing → resolved as Prometheus would.
//!
//! `--check FILE...` validates rule files and config.toml's rules without
//! touching the database: every problem on its own line with file, line
//! and column; exit 1 if any. `--list` prints the rules in effect.
//!
//! If `collect`'s loop holds the database, the rules are still evaluated
//! (read-only) and printed, but no state is stored: the loop evaluates and
//! stores them itself.
//!
//! Exit codes: 0 evaluated (whatever fires); 1 a rule failed, the config or
//! a rule file is invalid, or the database cannot be read; 2 usage.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use minetsdb::{Db, Options};
use minetsdb_collectors::alerts::notify::{self, Notifier};
use minetsdb_collectors::alerts::{load_rules, Alert, AlertState, Evaluator, Round, Rule};
use minetsdb_collectors::config::Config;

use crate::time::{now_ms, parse_time};

/// Arguments of `alerts`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Validate these Prometheus rule files (and config.toml's rules, if
    /// there is a config) and exit; nothing touches the database.
    #[arg(long, num_args = 0.., value_name = "FILE")]
    check: Option<Vec<PathBuf>>,
    /// Print the rules in effect (defaults with their thresholds) and exit.
    #[arg(long, conflicts_with = "check")]
    list: bool,
    /// The config file [default: $XDG_CONFIG_HOME/minetsdb/config.toml; the
    /// default rules if there is none]
    #[arg(long)]
    config: Option<PathBuf>,
    /// Database directory [default: $XDG_DATA_HOME/minetsdb]
    #[arg(long)]
    db: Option<PathBuf>,
    /// Evaluation time (RFC 3339, Unix seconds, or relative like -5m) [default: now]
    #[arg(long, allow_hyphen_values = true)]
    time: Option<String>,
}

/// config.toml, or the defaults when no config was named and the default
/// one does not exist.
fn config(path: Option<PathBuf>) -> anyhow::Result<Config> {
    match path {
        Some(p) => crate::cmd::collect::load_config(Some(p)),
        None => {
            let p = crate::paths::default_config();
            if p.exists() {
                Ok(Config::load(&p)?)
            } else {
                Ok(Config::parse("", &p)?)
            }
        }
    }
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    if let Some(files) = &a.check {
        return check(a.config.clone(), files);
    }
    let config = config(a.config.clone())?;
    let mut ev = evaluator(&config)?;
    if a.list {
        list(&ev);
        return Ok(ExitCode::SUCCESS);
    }
    let now = now_ms();
    let t = match &a.time {
        Some(s) => parse_time(s, now).map_err(|e| anyhow::anyhow!("--time: {e}"))?,
        None => now,
    };
    let dir = a.db.clone().unwrap_or_else(crate::paths::default_db);
    let round = match Db::open(&dir, config.storage.options()) {
        Ok(db) => {
            ev.restore(&db, t).context("restoring the alerts' state")?;
            let round = ev.eval(&db, t);
            store(&db, &round)?;
            // Only the run that stores the state notifies: with `collect`
            // holding the db (below), its own loop sends.
            let interval = ev.min_interval_ms().unwrap_or(60_000);
            match notifier(&config, &dir, interval) {
                Ok(Some(n)) => {
                    deliver_quietly(&round, &n, t);
                    finish(n);
                }
                Ok(None) => {}
                Err(e) => eprintln!("minetsdb: {e:#}"),
            }
            round
        }
        Err(minetsdb::Error::Locked { pid, .. }) => {
            eprintln!(
                "minetsdb: database {} is held by pid {pid} (collect?): alerts evaluated, state not stored",
                dir.display()
            );
            let db = Db::open_read_only(&dir, Options::default())
                .with_context(|| format!("opening {}", dir.display()))?;
            ev.restore(&db, t).context("restoring the alerts' state")?;
            ev.eval(&db, t)
        }
        Err(e) => return Err(e).with_context(|| format!("opening {}", dir.display())),
    };
    for e in &round.errors {
        eprintln!("minetsdb: {e}");
    }
    out!("{}", table(&round.alerts, t));
    Ok(if round.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The evaluator of `config`'s rules; rule-file problems, one per line.
pub fn evaluator(config: &Config) -> anyhow::Result<Evaluator> {
    match load_rules(config) {
        Ok(groups) => Ok(Evaluator::new(
            groups,
            config.alerting.external_labels.clone(),
        )),
        Err(errors) => {
            let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
            anyhow::bail!("invalid alert rules:\n  {}", lines.join("\n  "))
        }
    }
}

/// Stores what a round wrote.
pub fn store(db: &Db, round: &Round) -> anyhow::Result<()> {
    if round.samples.is_empty() {
        return Ok(());
    }
    db.append_labeled(&round.samples)
        .context("storing the alerts' state")?;
    Ok(())
}

/// The notifier of `config`'s `[[notify]]` receivers, remembering what it
/// sent in `<db>/notify/`; `None` when there are no receivers.
pub fn notifier(
    config: &Config,
    db_dir: &Path,
    eval_interval_ms: i64,
) -> anyhow::Result<Option<Notifier>> {
    if config.notify.is_empty() {
        return Ok(None);
    }
    let opts = notify::Options {
        eval_interval_ms,
        external_labels: config.alerting.external_labels.clone(),
        ..notify::Options::default()
    };
    Notifier::new(&config.notify, &db_dir.join("notify"), opts)
        .map(Some)
        .context("starting the notifier")
}

/// Where each round's alerts go: the changes, one line each on stderr
/// (firing and resolved; pending is not news), and every firing and
/// recently resolved alert to the notifier, which decides what is news
/// to each receiver and sends it in the background.
pub fn deliver(round: &Round, notifier: Option<&Notifier>, now: i64) {
    for e in &round.errors {
        eprintln!("minetsdb: alerts: {e}");
    }
    for a in &round.changes {
        if a.state == AlertState::Pending {
            continue;
        }
        eprintln!("minetsdb: alert {}", describe(a));
    }
    if let Some(n) = notifier {
        let alerts: Vec<Alert> = round.notifiable().cloned().collect();
        n.update(&alerts, now);
    }
}

/// The notifier's share of [`deliver`]: `run` prints the alerts as a table.
fn deliver_quietly(round: &Round, n: &Notifier, now: i64) {
    let alerts: Vec<Alert> = round.notifiable().cloned().collect();
    n.update(&alerts, now);
}

/// A one-shot run's end: waits for its notifications up to the longest
/// receiver timeout and a second; what is still under way or failed is
/// kept in `<db>/notify/` and retried by the next run.
pub fn finish(notifier: Notifier) {
    let wait_ms = notifier
        .receivers()
        .iter()
        .map(|r| r.timeout_ms)
        .max()
        .unwrap_or(0)
        .max(0)
        + 1000;
    let left = notifier.close(Instant::now() + Duration::from_millis(wait_ms as u64));
    if left > 0 {
        eprintln!("minetsdb: alerts: {left} notifications still under way at exit; the next run retries them");
    }
}

/// `NAME firing {labels}: summary`.
fn describe(a: &Alert) -> String {
    let labels: Vec<String> = a
        .labels
        .iter()
        .filter(|(k, _)| k.as_str() != "alertname")
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    let summary = a
        .annotations
        .get("description")
        .or_else(|| a.annotations.get("summary"))
        .map(|s| format!(": {s}"))
        .unwrap_or_default();
    format!(
        "{} {} {{{}}}{summary}",
        a.name(),
        a.state.as_str(),
        labels.join(", ")
    )
}

/// How long ago `since` was, at `now`: `42s`, `5m`, `3h12m`, `2d4h`.
fn ago(since: i64, now: i64) -> String {
    let s = (now - since).max(0) / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, (s / 60) % 60),
        _ => format!("{}d{}h", s / 86_400, (s / 3600) % 24),
    }
}

fn table(alerts: &[Alert], now: i64) -> String {
    if alerts.is_empty() {
        return "no alerts\n".to_string();
    }
    let mut rows = vec![[
        "ALERT".to_string(),
        "STATE".into(),
        "SEVERITY".into(),
        "SINCE".into(),
        "VALUE".into(),
        "LABELS".into(),
        "SUMMARY".into(),
    ]];
    for a in alerts {
        let since = match a.state {
            AlertState::Pending => a.active_at_ms,
            AlertState::Firing => a.fired_at_ms.unwrap_or(a.active_at_ms),
            AlertState::Resolved => a.resolved_at_ms.unwrap_or(now),
        };
        let labels: Vec<String> = a
            .labels
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "alertname" | "severity"))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        rows.push([
            a.name().to_string(),
            a.state.as_str().to_string(),
            a.labels.get("severity").cloned().unwrap_or_default(),
            ago(since, now),
            short(a.value),
            labels.join(","),
            a.annotations
                .get("description")
                .or_else(|| a.annotations.get("summary"))
                .cloned()
                .unwrap_or_default(),
        ]);
    }
    let mut widths = [0usize; 7];
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (i, (c, w)) in r.iter().zip(widths).enumerate() {
            if i + 1 == r.len() {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:<w$}  "));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A value in at most 4 significant digits (`0.07143`, `92.5`, `1.235e+06`).
fn short(v: f64) -> String {
    if !v.is_finite() || v == 0.0 || (1e-3..1e6).contains(&v.abs()) {
        // In f64: log10(0) is -inf, which as an integer would overflow.
        let decimals = (3.0 - v.abs().log10().floor()).clamp(0.0, 6.0) as usize;
        let s = format!("{v:.decimals$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        if v.is_finite() {
            s
        } else {
            crate::output::fmt_float(v)
        }
    } else {
        format!("{v:.3e}")
    }
}

/// `--list`: one block per group.
fn list(ev: &Evaluator) {
    for g in ev.groups() {
        outln!(
            "group {:?} ({}, every {}s)",
            g.name,
            g.source,
            g.interval_ms / 1000
        );
        for r in &g.rules {
            match r {
                Rule::Alert(a) => {
                    let sev = a.severity();
                    let sev = if sev.is_empty() { "-" } else { sev };
                    outln!(
                        "  alert {} [{sev}] for {}s: {}",
                        a.name,
                        a.for_ms / 1000,
                        a.expr
                    );
                }
                Rule::Record(rec) => outln!("  record {}: {}", rec.name, rec.expr),
            }
        }
    }
}

/// `--check`: the config's rules (when there is a config) and each file.
fn check(config_path: Option<PathBuf>, files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    let default = crate::paths::default_config();
    let config = match config_path {
        Some(p) => Some(p),
        None if default.exists() || files.is_empty() => Some(default),
        None => None,
    };
    if let Some(p) = config {
        match Config::load(&p) {
            Err(e) => {
                eprintln!("minetsdb: {e}");
                failed = true;
            }
            Ok(c) => match load_rules(&c) {
                Ok(groups) => {
                    let n: usize = groups.iter().map(|g| g.rules.len()).sum();
                    outln!("{}: {n} rules", p.display());
                }
                Err(errors) => {
                    for e in errors {
                        eprintln!("minetsdb: {e}");
                    }
                    failed = true;
                }
            },
        }
    }
    for f in files {
        match minetsdb_collectors::alerts::rules::load_rule_file(
            f,
            minetsdb_collectors::alerts::rules::DEFAULT_INTERVAL_MS,
        ) {
            Ok(groups) => {
                let n: usize = groups.iter().map(|g| g.rules.len()).sum();
                outln!("{}: {} groups, {n} rules", f.display(), groups.len());
            }
            Err(errors) => {
                for e in errors {
                    eprintln!("minetsdb: {e}");
                }
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(ago(0, 42_000), "42s");
        assert_eq!(ago(0, 300_000), "5m");
        assert_eq!(ago(0, 3_600_000 * 3 + 720_000), "3h12m");
        assert_eq!(ago(0, 86_400_000 * 2 + 3_600_000 * 4), "2d4h");
        assert_eq!(ago(10, 0), "0s");
        assert_eq!(short(0.07142713435151744), "0.07143");
        assert_eq!(short(92.5), "92.5");
        assert_eq!(short(90.0), "90");
        assert_eq!(short(1234.5678), "1235");
        assert_eq!(short(0.0), "0");
        assert_eq!(short(f64::NAN), "NaN");
    }
}
