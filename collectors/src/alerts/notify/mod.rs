//! Notifications: what is sent when an alert fires and resolves, to the
//! receivers of `config.toml`'s `[[notify]]` tables (see
//! [`crate::config::notify`]):
//!
//! ```toml
//! [[notify]]
//! command = ["/usr/local/bin/page-me", "--rig", "rig1"]   # argv, no shell
//! timeout = "10s"          # [default: 10s]
//! repeat_interval = "4h"   # again while firing [default: 4h]
//! send_resolved = true     # [default: true]
//! severity = "critical"    # at least this severe [default: all]
//!
//! [[notify]]
//! webhook = "http://127.0.0.1:9093"   # an Alertmanager
//! ```
//!
//! Each evaluation round hands [`Notifier::update`] every current alert
//! (pending, firing, recently resolved). Per receiver and per alert (its
//! labels), the notifier remembers what it delivered and sends:
//! - a firing alert once, then again every `repeat_interval` (commands) or
//!   every resend delay, 1 minute (webhooks, as Prometheus does: see
//!   [`webhook`]);
//! - a resolved alert once, if its firing was delivered and `send_resolved`
//!   (webhooks: again each resend delay while the evaluator still reports
//!   it, as Prometheus does);
//! - never a pending alert.
//!
//! `update` only decides and queues: each receiver has a worker thread and
//! a bounded queue, so a slow webhook or a hung command never holds up
//! collection. A failed delivery (a non-zero exit, a command killed at its
//! timeout, a webhook that cannot be reached or answers 5xx) is reported on
//! stderr and retried at a later `update` with backoff (15 s doubling to
//! 15 min). What was delivered and what failed is kept in
//! `<db>/notify/state.json`, written atomically after each delivery, so a
//! one-shot `minetsdb alerts` from cron resends nothing the last run
//! delivered and retries what it could not. Such a run calls
//! [`Notifier::flush`] before it exits.
//!
//! One notifier at a time keeps a state directory: [`Notifier::new`] takes
//! an exclusive lock on `<db>/notify/LOCK` before it reads the state, and
//! it is let go when the notifier and its last delivery are done (or the
//! process dies). A second one waits for it up to [`Options::lock_wait`]
//! (5 s), then fails with [`NotifyError::Locked`] instead of sending what
//! the first sends too. In the `minetsdb` binary the database's writer
//! lock already decides who notifies (only the process holding it builds
//! a notifier: `collect`, or `alerts` when no `collect` holds the db); this
//! lock covers the moment after a process closes the database while a
//! delivery of its own still runs, and other programs using this crate.
//!
//! # External labels
//!
//! `[alerting] external_labels` (say `{ rig = "rig1" }`) are added to the
//! labels of every alert a receiver gets, as Prometheus adds its external
//! labels to the alerts it sends to an Alertmanager; a label the alert
//! already has wins. They are added before anything else looks at the
//! labels, so a receiver's `match` and `severity` filters see them, a
//! command finds them in `MINETSDB_ALERT_LABELS`, `MINETSDB_ALERT_LABEL_<NAME>`
//! and `MINETSDB_ALERT_JSON`, a webhook in each alert's `labels`, and they
//! are part of an alert's identity in the delivery state (changing them
//! makes every alert new, as it does in an Alertmanager). The `ALERTS`
//! series stored in the database do not carry them, as in Prometheus.
//!
//! # What a command gets
//!
//! One run per notification, with stdin and stdout on /dev/null (stderr is
//! shown when it fails), in its own process group (killed whole at the
//! timeout), with these environment variables added:
//!
//! | variable | value |
//! |---|---|
//! | `MINETSDB_RECEIVER` | the receiver's name |
//! | `MINETSDB_ALERT_NAME` | the `alertname` label |
//! | `MINETSDB_ALERT_STATE` | `firing` or `resolved` |
//! | `MINETSDB_ALERT_SEVERITY` | the `severity` label, or empty |
//! | `MINETSDB_ALERT_LABELS` | all labels (external labels included), `{alertname="GpuHot", gpu="0"}` |
//! | `MINETSDB_ALERT_LABEL_<NAME>` | each label; the name in upper case, other than A-Z 0-9 as `_` |
//! | `MINETSDB_ALERT_ANNOTATION_<NAME>` | each annotation, named likewise |
//! | `MINETSDB_ALERT_SUMMARY` | the `summary` annotation, or empty |
//! | `MINETSDB_ALERT_DESCRIPTION` | the `description` annotation, or empty |
//! | `MINETSDB_ALERT_VALUE` | the expression's last value |
//! | `MINETSDB_ALERT_STARTS_AT` | when it started firing, RFC 3339 UTC with ms |
//! | `MINETSDB_ALERT_ENDS_AT` | when it resolved, or empty while firing |
//! | `MINETSDB_ALERT_REPEAT` | `1` for a `repeat_interval` reminder, else `0` |
//! | `MINETSDB_ALERT_JSON` | all of it: `{"status", "labels", "annotations", "startsAt", "endsAt", "value"}` |
//!
//! A script that mails the alert:
//!
//! ```sh
//! #!/bin/sh
//! printf '%s\n\n%s\n' "$MINETSDB_ALERT_SUMMARY" "$MINETSDB_ALERT_LABELS" |
//!     mail -s "[$MINETSDB_ALERT_STATE] $MINETSDB_ALERT_NAME" me@example.com
//! ```

pub mod command;
pub mod state;
pub mod webhook;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Alert, AlertState};
use crate::config::notify::{Receiver, ReceiverKind};
use state::{Entry, Sent, StateFile};

/// Prometheus' `--rules.alert.resend-delay`: a webhook gets every firing
/// alert again this often.
pub const DEFAULT_RESEND_DELAY_MS: i64 = 60_000;
/// Deliveries queued per receiver before `update` leaves the rest for the
/// next round.
pub const QUEUE_CAPACITY: usize = 64;
/// Alerts per webhook request (Prometheus' notifier batches 64).
pub const WEBHOOK_BATCH: usize = 64;
/// [`Options::lock_wait`] by default.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(5);
/// An alert that no evaluation has mentioned for this long is forgotten.
const FORGET_AFTER_MS: i64 = 24 * 3_600_000;

/// Where a notifier reports failures (stderr unless a test says otherwise).
pub type Report = Arc<dyn Fn(&str) + Send + Sync>;

/// Why a notifier could not start.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// Another notifier (another process, or one of this process not yet
    /// ended) keeps the state: only one may notify. See [`state::lock`].
    #[error("notification state {}: in use by pid {pid}; it notifies, this one does not", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// The holder, as it wrote itself into the file (0 if unknown).
        pid: u32,
    },
    /// The state directory or file could not be created, read or written.
    #[error("notification state {}: {what}", path.display())]
    State {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        what: String,
    },
}

/// What the evaluator tells the notifier beyond the alerts.
#[derive(Clone)]
pub struct Options {
    /// How often alerts are evaluated, ms: a firing alert sent to a
    /// webhook stays active there 4 × max(this, resend delay) without news.
    pub eval_interval_ms: i64,
    /// How often a webhook gets the firing alerts again, ms.
    pub resend_delay_ms: i64,
    /// `generatorURL` of webhook alerts (a link back to the rig's page);
    /// left out when `None`.
    pub generator_url: Option<String>,
    /// `[alerting] external_labels`: added to each alert's labels before
    /// anything else looks at them, a label the alert has already winning.
    pub external_labels: BTreeMap<String, String>,
    /// How long [`Notifier::new`] waits for another notifier of the same
    /// state directory to let go before it fails with
    /// [`NotifyError::Locked`]: long enough for a process that just closed
    /// the database to end its last delivery and exit.
    pub lock_wait: Duration,
    /// Where failures are reported.
    pub report: Report,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            eval_interval_ms: 60_000,
            resend_delay_ms: DEFAULT_RESEND_DELAY_MS,
            generator_url: None,
            external_labels: BTreeMap::new(),
            lock_wait: DEFAULT_LOCK_WAIT,
            report: Arc::new(|m: &str| eprintln!("minetsdb: {m}")),
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("eval_interval_ms", &self.eval_interval_ms)
            .field("resend_delay_ms", &self.resend_delay_ms)
            .field("generator_url", &self.generator_url)
            .field("external_labels", &self.external_labels)
            .field("lock_wait", &self.lock_wait)
            .finish_non_exhaustive()
    }
}

/// One alert in one delivery.
#[derive(Debug, Clone)]
pub struct Item {
    /// The alert as the evaluator handed it.
    pub alert: Alert,
    /// `Firing` or `Resolved`: what this notification says.
    pub state: AlertState,
    /// Its labels as `{a="b", ...}`: the alert's identity.
    pub key: String,
    /// The firing episode: `fired_at_ms`.
    pub episode: i64,
    /// A `repeat_interval` (or resend) of a firing already delivered.
    pub repeat: bool,
}

impl Item {
    /// `startsAt`: when it started firing.
    pub fn starts_at_ms(&self) -> i64 {
        self.alert.fired_at_ms.unwrap_or(self.alert.active_at_ms)
    }
}

struct Job {
    items: Vec<Item>,
    /// The evaluation time the job was decided at.
    now_ms: i64,
}

struct Inner {
    file: StateFile,
    /// (receiver index, alert key) queued or being delivered.
    in_flight: HashSet<(usize, String)>,
    /// Bumped on each change, so an older snapshot never overwrites a newer.
    generation: u64,
    /// Process groups of running commands.
    children: HashSet<u32>,
}

struct Shared {
    /// `<state dir>/LOCK`, held while anything of this notifier may still
    /// send or write the state: dropped with the last worker thread.
    _lock: std::fs::File,
    inner: Mutex<Inner>,
    idle: Condvar,
    /// The generation last written.
    written: Mutex<u64>,
    path: PathBuf,
    opts: Options,
    closing: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes the state if nobody wrote a newer one meanwhile.
    fn persist(&self, generation: u64, bytes: &[u8]) {
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        if *written >= generation {
            return;
        }
        match state::write_atomic(&self.path, bytes) {
            Ok(()) => *written = generation,
            Err(e) => (self.opts.report)(&e.to_string()),
        }
    }
}

/// Sends alert notifications to the configured receivers, in the
/// background. See the [module documentation](self).
pub struct Notifier {
    receivers: Vec<Receiver>,
    queues: Vec<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("receivers", &self.receivers)
            .field("state", &self.shared.path)
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// A notifier for `receivers` keeping its state in `state_dir`
    /// (`<db>/notify/`, created if missing). A damaged state file is
    /// reported and started afresh.
    pub fn new(
        receivers: &[Receiver],
        state_dir: &Path,
        opts: Options,
    ) -> Result<Notifier, NotifyError> {
        std::fs::create_dir_all(state_dir).map_err(|e| NotifyError::State {
            path: state_dir.to_path_buf(),
            what: e.to_string(),
        })?;
        // Before the state is read: a second notifier would read what the
        // first is about to change, and both would send.
        let lock = state::lock(state_dir, opts.lock_wait)?;
        let path = state_dir.join(state::FILE_NAME);
        let mut file = match StateFile::load(&path) {
            Ok(f) => f,
            Err(e) => {
                (opts.report)(&format!("{e}; starting afresh"));
                StateFile::default()
            }
        };
        file.receivers
            .retain(|name, _| receivers.iter().any(|r| &r.name == name));
        let shared = Arc::new(Shared {
            _lock: lock,
            inner: Mutex::new(Inner {
                file,
                in_flight: HashSet::new(),
                generation: 0,
                children: HashSet::new(),
            }),
            idle: Condvar::new(),
            written: Mutex::new(0),
            path,
            opts,
            closing: AtomicBool::new(false),
        });
        let mut queues = Vec::with_capacity(receivers.len());
        let mut workers = Vec::with_capacity(receivers.len());
        for (i, r) in receivers.iter().enumerate() {
            let (tx, rx) = sync_channel::<Job>(QUEUE_CAPACITY);
            let shared = Arc::clone(&shared);
            let r = r.clone();
            let handle = std::thread::Builder::new()
                .name(format!("notify-{i}"))
                .spawn(move || {
                    for job in rx {
                        deliver(&shared, i, &r, job);
                    }
                })
                .map_err(|e| NotifyError::State {
                    path: state_dir.to_path_buf(),
                    what: format!("starting a notification thread: {e}"),
                })?;
            queues.push(tx);
            workers.push(handle);
        }
        Ok(Notifier {
            receivers: receivers.to_vec(),
            queues,
            workers,
            shared,
        })
    }

    /// The receivers, as configured.
    pub fn receivers(&self) -> &[Receiver] {
        &self.receivers
    }

    /// Takes the current alerts of one evaluation at `now_ms`, queues what
    /// is due and returns at once. Returns how many notifications were
    /// queued (a webhook request of several alerts counts each).
    pub fn update(&self, alerts: &[Alert], now_ms: i64) -> usize {
        let external = &self.shared.opts.external_labels;
        let labelled: Vec<Alert>;
        let alerts = if external.is_empty() {
            alerts
        } else {
            labelled = alerts
                .iter()
                .map(|a| with_external_labels(a, external))
                .collect();
            &labelled
        };
        let mut queued = 0;
        let mut inner = self.shared.lock();
        let current: Vec<(String, &Alert)> = alerts
            .iter()
            .map(|a| (labels_string(&a.labels), a))
            .collect();
        for (ri, r) in self.receivers.iter().enumerate() {
            let mut due: Vec<Item> = Vec::new();
            {
                let Inner {
                    file, in_flight, ..
                } = &mut *inner;
                let entries = file.receivers.entry(r.name.clone()).or_default();
                for (key, a) in &current {
                    if a.state == AlertState::Pending || !r.wants(&a.labels) {
                        continue;
                    }
                    if let Some(e) = entries.get_mut(key) {
                        e.seen_ms = now_ms;
                    }
                    if in_flight.contains(&(ri, key.clone())) {
                        continue;
                    }
                    if let Some(item) = self.decide(r, entries.get(key), a, key, now_ms) {
                        due.push(item);
                    }
                }
                // Forget what was resolved (or never delivered) and is no
                // longer reported, and anything not reported for a day.
                let present: HashSet<&str> = current.iter().map(|(k, _)| k.as_str()).collect();
                entries.retain(|k, e| {
                    in_flight.contains(&(ri, k.clone()))
                        || (present.contains(k.as_str())
                            || !matches!(e.sent, None | Some((Sent::Resolved, _))))
                            && now_ms.saturating_sub(e.seen_ms) < FORGET_AFTER_MS
                });
            }
            if due.is_empty() {
                continue;
            }
            let jobs: Vec<Vec<Item>> = match r.kind {
                ReceiverKind::Command { .. } => due.into_iter().map(|i| vec![i]).collect(),
                ReceiverKind::Webhook { .. } => {
                    due.chunks(WEBHOOK_BATCH).map(<[Item]>::to_vec).collect()
                }
            };
            for items in jobs {
                let keys: Vec<String> = items.iter().map(|i| i.key.clone()).collect();
                let n = items.len();
                match self.queues[ri].try_send(Job { items, now_ms }) {
                    Ok(()) => {
                        queued += n;
                        for k in keys {
                            // Entries exist from now on, so `seen_ms` is kept.
                            let e = inner
                                .file
                                .receivers
                                .entry(r.name.clone())
                                .or_default()
                                .entry(k.clone())
                                .or_default();
                            if e.seen_ms < now_ms {
                                e.seen_ms = now_ms;
                            }
                            inner.in_flight.insert((ri, k));
                        }
                    }
                    Err(TrySendError::Full(_)) => {
                        (self.shared.opts.report)(&format!(
                            "notify {:?}: {QUEUE_CAPACITY} deliveries already queued; {n} left for the next round",
                            r.name
                        ));
                        break;
                    }
                    Err(TrySendError::Disconnected(_)) => {
                        (self.shared.opts.report)(&format!(
                            "notify {:?}: its delivery thread is gone",
                            r.name
                        ));
                        break;
                    }
                }
            }
        }
        inner.generation += 1;
        queued
    }

    /// What `r` should be sent about `a` now, if anything.
    fn decide(
        &self,
        r: &Receiver,
        e: Option<&Entry>,
        a: &Alert,
        key: &str,
        now_ms: i64,
    ) -> Option<Item> {
        let webhook = matches!(r.kind, ReceiverKind::Webhook { .. });
        let repeat_ms = if webhook {
            self.shared.opts.resend_delay_ms
        } else {
            r.repeat_interval_ms
        };
        let episode = a.fired_at_ms.unwrap_or(a.active_at_ms);
        let sent = e.and_then(|e| e.sent);
        let sent_at = e.map_or(0, |e| e.sent_at_ms);
        let again = now_ms.saturating_sub(sent_at) >= repeat_ms;
        let (due, repeat) = match a.state {
            AlertState::Pending => (false, false),
            AlertState::Firing => match sent {
                Some((Sent::Firing, ep)) if ep == episode => (again, true),
                _ => (true, false),
            },
            AlertState::Resolved => match sent {
                _ if !r.send_resolved => (false, false),
                Some((Sent::Firing, ep)) if ep == episode => (true, false),
                Some((Sent::Resolved, ep)) if ep == episode => (webhook && again, true),
                _ => (false, false),
            },
        };
        let backing_off = e.is_some_and(|e| e.failures > 0 && now_ms < e.retry_at_ms);
        (due && !backing_off).then(|| Item {
            alert: a.clone(),
            state: a.state,
            key: key.to_string(),
            episode,
            repeat,
        })
    }

    /// Waits until every queued delivery is done or `deadline` passes,
    /// then writes the state. Returns how many are still under way (0: all
    /// done, delivered or failed and kept for a retry).
    pub fn flush(&self, deadline: Instant) -> usize {
        let mut inner = self.shared.lock();
        while !inner.in_flight.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            inner = self
                .shared
                .idle
                .wait_timeout(inner, left)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        let pending = inner.in_flight.len();
        inner.generation += 1;
        let (generation, bytes) = (inner.generation, inner.file.encode());
        drop(inner);
        self.shared.persist(generation, &bytes);
        pending
    }

    /// [`Notifier::flush`], then stops: what is still queued is dropped
    /// (not recorded as delivered, so the next run sends it) and running
    /// commands are killed.
    pub fn close(self, deadline: Instant) -> usize {
        self.flush(deadline)
    }

    /// Per receiver name, the alerts (`{a="b", ...}`) whose last delivery
    /// failed, with the error.
    pub fn failures(&self) -> BTreeMap<String, Vec<(String, String)>> {
        let inner = self.shared.lock();
        inner
            .file
            .receivers
            .iter()
            .map(|(r, m)| {
                let f: Vec<(String, String)> = m
                    .iter()
                    .filter(|(_, e)| e.failures > 0)
                    .map(|(k, e)| (k.clone(), e.error.clone().unwrap_or_default()))
                    .collect();
                (r.clone(), f)
            })
            .filter(|(_, f)| !f.is_empty())
            .collect()
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        self.queues.clear();
        let children: Vec<u32> = self.shared.lock().children.drain().collect();
        for pgid in children {
            command::kill_group(pgid);
        }
        // Workers end once their current delivery does (what is queued
        // behind it ends at once: `closing`). They hold the state lock, so
        // wait for them, as long as one delivery may take; one still under
        // way then is left running and keeps the lock until it ends.
        let longest = self
            .receivers
            .iter()
            .map(|r| r.timeout_ms.max(0).unsigned_abs())
            .max()
            .unwrap_or(0);
        let deadline = Instant::now() + Duration::from_millis(longest + 1000);
        while self.workers.iter().any(|w| !w.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        for w in self.workers.drain(..) {
            if w.is_finished() {
                let _ = w.join();
            }
        }
    }
}

/// Backoff after `failures` failed deliveries: 15 s doubling, at most 15 min.
fn backoff_ms(failures: u32) -> i64 {
    let shift = failures.saturating_sub(1).min(6);
    (15_000_i64 << shift).min(15 * 60_000)
}

/// Runs one job on a receiver's worker thread and records the outcome.
fn deliver(shared: &Shared, ri: usize, r: &Receiver, job: Job) {
    let outcome: Result<(), (String, bool)> = if shared.closing.load(Ordering::SeqCst) {
        Err(("closed before it was sent".into(), true))
    } else {
        match &r.kind {
            ReceiverKind::Command { argv } => {
                let mut result = Ok(());
                for item in &job.items {
                    let env = command::env(item, &r.name);
                    let timeout = Duration::from_millis(r.timeout_ms.max(1).unsigned_abs());
                    if let Err(e) = command::run(
                        argv,
                        &env,
                        timeout,
                        &|pid| {
                            shared.lock().children.insert(pid);
                        },
                        &|pid| {
                            shared.lock().children.remove(&pid);
                        },
                    ) {
                        result = Err((e, true));
                    }
                }
                result
            }
            ReceiverKind::Webhook { url, auth } => {
                let valid_for = 4 * shared
                    .opts
                    .eval_interval_ms
                    .max(shared.opts.resend_delay_ms);
                let body = webhook::body(
                    &job.items,
                    job.now_ms.saturating_add(valid_for),
                    shared.opts.generator_url.as_deref(),
                );
                let timeout = Duration::from_millis(r.timeout_ms.max(1).unsigned_abs());
                match webhook::post(url, auth.as_ref(), &body, timeout) {
                    webhook::Outcome::Delivered => Ok(()),
                    webhook::Outcome::Retry(e) => Err((e, true)),
                    webhook::Outcome::Rejected(e) => Err((e, false)),
                }
            }
        }
    };
    let mut inner = shared.lock();
    let entries = inner.file.receivers.entry(r.name.clone()).or_default();
    for item in &job.items {
        let e = entries.entry(item.key.clone()).or_default();
        let sent = match item.state {
            AlertState::Resolved => Sent::Resolved,
            _ => Sent::Firing,
        };
        match &outcome {
            Ok(()) | Err((_, false)) => {
                e.sent = Some((sent, item.episode));
                e.sent_at_ms = job.now_ms;
                e.failures = 0;
                e.retry_at_ms = 0;
                e.error = None;
            }
            Err((why, true)) => {
                e.failures = e.failures.saturating_add(1);
                e.retry_at_ms = job.now_ms.saturating_add(backoff_ms(e.failures));
                e.error = Some(why.clone());
            }
        }
    }
    match &outcome {
        Ok(()) => {}
        Err((why, retry)) => {
            let names: Vec<String> = job
                .items
                .iter()
                .map(|i| format!("{} {}", i.alert.name(), i.state.as_str()))
                .collect();
            let next = if *retry {
                let f = entries.get(&job.items[0].key).map_or(1, |e| e.failures);
                format!("; retrying in {}s or later", backoff_ms(f) / 1000)
            } else {
                "; not retried".into()
            };
            if !shared.closing.load(Ordering::SeqCst) {
                (shared.opts.report)(&format!(
                    "notify {:?}: {}: {why}{next}",
                    r.name,
                    names.join(", ")
                ));
            }
        }
    }
    for item in &job.items {
        inner.in_flight.remove(&(ri, item.key.clone()));
    }
    inner.generation += 1;
    let (generation, bytes) = (inner.generation, inner.file.encode());
    drop(inner);
    shared.idle.notify_all();
    if !shared.closing.load(Ordering::SeqCst) {
        shared.persist(generation, &bytes);
    }
}

/// `a` with each of `external` added unless it has a label of that name
/// already (with a value: Prometheus treats an empty label as none), as
/// Prometheus' notifier does to alerts it sends to an Alertmanager.
pub fn with_external_labels(a: &Alert, external: &BTreeMap<String, String>) -> Alert {
    let mut a = a.clone();
    for (k, v) in external {
        match a.labels.get(k) {
            Some(have) if !have.is_empty() => {}
            _ => {
                a.labels.insert(k.clone(), v.clone());
            }
        }
    }
    a
}

/// Labels as Prometheus prints them: `{a="b", c="d"}`, values escaped.
pub fn labels_string(labels: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// The alert as JSON: `status`, `labels`, `annotations`, `startsAt`,
/// `endsAt`, `value`. A firing alert's `endsAt` is `firing_ends_ms` when
/// given (the webhook's validity), else left out.
pub fn alert_json(item: &Item, firing_ends_ms: Option<i64>) -> serde_json::Value {
    let a = &item.alert;
    let mut o = serde_json::Map::new();
    o.insert("status".into(), item.state.as_str().into());
    o.insert("labels".into(), serde_json::json!(a.labels));
    o.insert("annotations".into(), serde_json::json!(a.annotations));
    o.insert("startsAt".into(), rfc3339_ms(item.starts_at_ms()).into());
    let ends = match (item.state, a.resolved_at_ms) {
        (AlertState::Resolved, Some(r)) => Some(r),
        _ => firing_ends_ms,
    };
    if let Some(e) = ends {
        o.insert("endsAt".into(), rfc3339_ms(e).into());
    }
    // JSON has no NaN or infinity: those go as strings, as Prometheus'
    // API writes sample values.
    let value = if a.value.is_finite() {
        serde_json::json!(a.value)
    } else {
        a.value.to_string().into()
    };
    o.insert("value".into(), value);
    serde_json::Value::Object(o)
}

/// Milliseconds since the epoch as RFC 3339 UTC with milliseconds:
/// `2024-03-01T12:00:00.000Z`.
pub fn rfc3339_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = minetsdb::promql::civil_from_days(secs.div_euclid(86_400));
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_with_millis() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn labels_print_like_prometheus() {
        let l: BTreeMap<String, String> = [("b", "x\"y"), ("a", "1")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(labels_string(&l), r#"{a="1", b="x\"y"}"#);
        assert_eq!(labels_string(&BTreeMap::new()), "{}");
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff_ms(1), 15_000);
        assert_eq!(backoff_ms(2), 30_000);
        assert_eq!(backoff_ms(5), 240_000);
        assert_eq!(backoff_ms(100), 900_000);
    }
}
