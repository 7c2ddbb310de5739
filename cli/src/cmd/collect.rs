//! `minetsdb collect`: read every job of `config.toml`, and the GPUs, into
//! the database.
//!
//! `--once` runs every job that is due, and NVML when due, then exits; for
//! cron, every minute. Without it, the long-running loop (a systemd
//! service): one thread per job, and one for NVML when enabled, each
//! sleeping until its job is due, running it exactly as `--once` does, and
//! sleeping again; a background compactor runs hourly beside them.
//!
//! Each job keeps its own interval across runs through state in the
//! database (see `minetsdb_collectors::schedule`): a job whose interval has
//! not elapsed is skipped, and the loop's first run of a job honours the
//! run recorded before a restart (a rate-limited pool is not scraped twice).
//! Every target of a due job is scraped; its samples, `up` included, are
//! stored even when another target fails.
//!
//! A job told to back off (a pool's HTTP 429 with `Retry-After`) is
//! skipped, in the loop and by `--once`, until the wait recorded in the
//! database has passed (`schedule::held_until`); the 429 itself was one
//! failure line naming the pool and the wait.
//!
//! The loop spreads the jobs over their intervals as Prometheus does: a job
//! runs at the instants `t` with `t mod interval == offset`, its offset a
//! stable hash (FNV-1a) of its name modulo the interval, so jobs of equal
//! interval do not all fire at once and a job keeps its phase across
//! restarts.
//!
//! SIGINT or SIGTERM stop the loop: every thread wakes at once, a scrape
//! under way finishes and is stored, the compactor stops (finishing a
//! compaction under way), and the process exits 0. Nothing is flushed: each
//! append is already durable (the WAL is synced per append) and flushing
//! would cut partial-day blocks on every restart.
//!
//! `--prometheus-config prometheus.yml` adds the `scrape_configs` of a
//! Prometheus setup as jobs beside those of config.toml (which is then
//! optional: without one, NVML is read with its defaults). Job names must
//! be unique across both files.
//!
//! Scrape jobs write stale markers for series that went away (see
//! `minetsdb_collectors::scrape`): a new process first takes back the
//! series of the job's previous run from the database (`Source::restore`),
//! looking back at most 5 minutes past the interval, Prometheus' lookback,
//! past which a series has gone from queries anyway.
//!
//! After each job run the health of its targets (up, time, duration,
//! samples, last error) is written to `<db>/targets.json`, replaced
//! atomically, for `minetsdb targets`.
//!
//! Alert rules (see `minetsdb alerts`) are evaluated after the
//! collection: `--once` evaluates them once after storing its batch (state
//! restored from and stored in the database, so cron runs carry it); the
//! loop runs one more thread that evaluates them after scrapes are stored,
//! at most once per `[alerting] interval`, and at least once per interval
//! when nothing is scraped. Alerts that start firing or resolve are one line
//! each on stderr. Invalid rule files are reported and alerts skipped;
//! collecting goes on.
//!
//! Output: nothing on stdout (cron mails what it prints); on stderr one
//! line per failed target naming it and why, per malformed line skipped
//! (up to 5 per target), and per GPU problem.
//!
//! Exit codes, `--once`: 0 every scraped target was up (or nothing was
//! due); 1 a target failed, a GPU could not be read, or the config or
//! database could not be used; 2 usage. The loop: 0 when stopped by a
//! signal (failed targets are reported and retried, not fatal); 1 when it
//! cannot start (bad config, database locked by another process). NVML
//! being unavailable (no driver, no library) is one warning line and does
//! not change the exit code: set `[nvml] enabled = false` on a rig without
//! NVIDIA cards.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use minetsdb::{Compactor, Db};
use minetsdb_collectors::alerts::Evaluator;
use minetsdb_collectors::config::Config;
use minetsdb_collectors::health::HealthFile;
use minetsdb_collectors::promconfig::{self, PromConfig, ResolvedJob};
use minetsdb_collectors::push::{PushError, Queue, Sent};
use minetsdb_collectors::remote_write;
use minetsdb_collectors::schedule;
use minetsdb_collectors::source::{sources, Scheduled, Source};

use crate::cmd::alerts;

/// Arguments of `collect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Collect what is due once, then exit (for cron); without it, run
    /// until SIGINT or SIGTERM (for a service).
    #[arg(long)]
    once: bool,
    /// The config file [default: $XDG_CONFIG_HOME/minetsdb/config.toml]
    #[arg(long)]
    config: Option<PathBuf>,
    /// A Prometheus config whose scrape_configs are scraped too.
    #[arg(long)]
    prometheus_config: Option<PathBuf>,
    /// Database directory [default: $XDG_DATA_HOME/minetsdb]
    #[arg(long)]
    db: Option<PathBuf>,
    /// Also push every collection to this remote-write URL (e.g.
    /// http://vm:8428/api/v1/write), through a durable queue in
    /// <db>/push-queue that is retried until the receiver takes it.
    #[arg(long, value_name = "URL")]
    push: Option<String>,
}

/// What `collect` and `config check` read: config.toml and, if named,
/// prometheus.yml, resolved.
pub struct Loaded {
    pub config: Config,
    pub prometheus: Option<(PromConfig, Vec<ResolvedJob>)>,
}

impl Loaded {
    /// Every source to run.
    pub fn sources(&self) -> Vec<Scheduled> {
        let mut out = sources(&self.config);
        if let Some((_, jobs)) = &self.prometheus {
            // Before NVML, after config.toml's jobs: file order.
            let at = self.config.jobs.len().min(out.len());
            let prom = promconfig::sources(jobs);
            out.splice(at..at, prom);
        }
        out
    }
}

/// Loads config.toml (required unless `prometheus` is given and `config`
/// is not) and prometheus.yml.
pub fn load(config: Option<PathBuf>, prometheus: Option<PathBuf>) -> anyhow::Result<Loaded> {
    let explicit = config.is_some();
    let path = config.unwrap_or_else(crate::paths::default_config);
    let config = if path.exists() {
        Config::load(&path)?
    } else if !explicit && prometheus.is_some() {
        Config::parse("", &path)?
    } else {
        anyhow::bail!(
            "config file {} not found: write one, or name it with --config PATH",
            path.display()
        );
    };
    let prometheus = match prometheus {
        None => None,
        Some(p) => {
            let pc = PromConfig::load(&p)?;
            for j in &pc.jobs {
                if j.job_name == "nvml" || config.jobs.iter().any(|c| c.name == j.job_name) {
                    anyhow::bail!(
                        "{}: job_name {:?} is also a job of {}",
                        p.display(),
                        j.job_name,
                        if j.job_name == "nvml" {
                            "the GPUs".to_string()
                        } else {
                            path.display().to_string()
                        }
                    );
                }
            }
            let resolved = pc.resolve();
            Some((pc, resolved))
        }
    };
    Ok(Loaded { config, prometheus })
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let loaded = load(a.config.clone(), a.prometheus_config.clone())?;
    // Ignored keys and dropped targets are shown by `config check`, not
    // on every cron run (cron mails what is printed).
    let dir = a.db.clone().unwrap_or_else(crate::paths::default_db);
    let db = Db::open(&dir, loaded.config.storage.options())
        .with_context(|| format!("opening {}", dir.display()))?;
    let health = HealthFile::new(&dir);
    let push = open_push_queue(&dir, a.push.as_deref())?;
    if a.once {
        run_once(&db, &health, &loaded, push.as_deref())
    } else {
        run_loop(Arc::new(db), Arc::new(health), &loaded, push)
    }
}

/// Loads config.toml at `path` (default: the XDG config path), which must
/// exist.
pub fn load_config(path: Option<PathBuf>) -> anyhow::Result<Config> {
    let path = path.unwrap_or_else(crate::paths::default_config);
    if !path.exists() {
        anyhow::bail!(
            "config file {} not found: write one, or name it with --config PATH",
            path.display()
        );
    }
    Ok(Config::load(&path)?)
}

/// The push queue of the database in `dir`, when `url` is given.
pub fn open_push_queue(
    dir: &std::path::Path,
    url: Option<&str>,
) -> anyhow::Result<Option<Arc<Queue>>> {
    let Some(url) = url else { return Ok(None) };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        anyhow::bail!("--push {url:?}: expected an http:// or https:// URL");
    }
    let q = Queue::open(&dir.join("push-queue"), url, Duration::from_secs(30))?;
    Ok(Some(Arc::new(q)))
}

/// Queues a stored collection for the remote-write receiver (only once
/// stored: the push never has what the db lacks).
fn queue_push(
    q: &Queue,
    samples: &[(minetsdb::Labels, minetsdb::Sample)],
    metadata: &[(String, minetsdb::Metadata)],
) -> anyhow::Result<()> {
    if samples.is_empty() {
        return Ok(());
    }
    let series: Vec<_> = samples.iter().map(|(l, s)| (l.clone(), vec![*s])).collect();
    q.push(&remote_write::encode(&series, metadata))
        .with_context(|| format!("queueing samples for {}", q.url()))
}

/// How far back a new process looks for a job's previous run to take
/// back its series: Prometheus' 5-minute lookback past the interval.
fn restore_window(interval_ms: i64) -> i64 {
    interval_ms.saturating_add(5 * 60_000)
}

/// Gives `s` its state from its previous run, if one is recent enough.
fn restore(db: &Db, s: &mut Scheduled, now: i64) -> anyhow::Result<()> {
    let name = s.source.name().to_string();
    let window = restore_window(s.interval_ms);
    let last = schedule::last_run(db, &name, now.saturating_sub(1), window)
        .with_context(|| format!("reading the last run of job {name:?}"))?;
    if let Some(last) = last {
        s.source
            .restore(db, last)
            .with_context(|| format!("reading the previous scrape of job {name:?}"))?;
    }
    Ok(())
}

/// Runs `source` at `now`, stores what it gave, prints its problems, and
/// records the run (a failed run counts as one): the same for `--once` and
/// the loop. `Ok(None)` when the source is unavailable on this machine
/// (reported once, here); otherwise whether anything failed.
fn run_source(
    db: &Db,
    health: &HealthFile,
    source: &mut dyn Source,
    now: i64,
    push: Option<&Queue>,
) -> anyhow::Result<Option<bool>> {
    let name = source.name().to_string();
    let got = match source.collect(now) {
        Ok(got) => got,
        Err(e) => {
            eprintln!("minetsdb: warning: {e}");
            return Ok(None);
        }
    };
    for w in &got.warnings {
        eprintln!("minetsdb: job {name:?}: {w}");
    }
    got.store(db)
        .with_context(|| format!("storing the samples of job {name:?}"))?;
    if let Some(q) = push {
        queue_push(q, &got.samples, &got.metadata).with_context(|| format!("job {name:?}"))?;
    }
    for f in &got.failures {
        eprintln!("minetsdb: job {name:?}: {f}");
    }
    schedule::record_run(db, &name, now)
        .with_context(|| format!("recording the run of job {name:?}"))?;
    if !got.targets.is_empty() {
        // The samples are stored; a health file that cannot be written
        // is worth a line, not a failed run.
        if let Err(e) = health.update(&name, &got.targets) {
            eprintln!("minetsdb: warning: {e}");
        }
    }
    Ok(Some(!got.failures.is_empty()))
}

fn last_run(db: &Db, s: &Scheduled, now: i64) -> anyhow::Result<Option<i64>> {
    let name = s.source.name();
    schedule::last_run(db, name, now, s.interval_ms)
        .with_context(|| format!("reading the last run of job {name:?}"))
}

/// Whether `s` is held back at `now` by a back-off it recorded (a 429).
fn held(db: &Db, s: &Scheduled, now: i64) -> anyhow::Result<bool> {
    let name = s.source.name();
    Ok(schedule::held_until(db, name, now)
        .with_context(|| format!("reading the back-off of job {name:?}"))?
        .is_some())
}

/// `--once`: every due source is read at the same time (one thread each,
/// so a slow target delays the run by its own timeout only), then
/// everything is stored as one batch with the runs' records: one WAL sync
/// and one registry sync per run, whatever the number of sources.
fn run_once(
    db: &Db,
    health: &HealthFile,
    loaded: &Loaded,
    push: Option<&Queue>,
) -> anyhow::Result<ExitCode> {
    let now = crate::time::now_ms();
    let mut due = Vec::new();
    for mut s in loaded.sources() {
        let last = last_run(db, &s, now)?;
        if schedule::is_due(last, now, s.interval_ms) && !held(db, &s, now)? {
            restore(db, &mut s, now)?;
            due.push(s);
        }
    }
    let got: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = due
            .iter_mut()
            .map(|s| {
                let src = s.source.as_mut();
                scope.spawn(move || (src.name().to_string(), src.collect(now)))
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut batch = minetsdb_collectors::source::Collection::default();
    // The runs' own state is stored with the batch but is not a
    // collection's, so it is not pushed.
    let mut records = Vec::new();
    let mut failed = false;
    let mut ran = Vec::new();
    for (name, res) in got {
        let c = match res {
            Ok(c) => c,
            Err(e) => {
                eprintln!("minetsdb: warning: {e}");
                continue;
            }
        };
        for w in &c.warnings {
            eprintln!("minetsdb: job {name:?}: {w}");
        }
        for f in &c.failures {
            eprintln!("minetsdb: job {name:?}: {f}");
        }
        failed |= !c.failures.is_empty();
        records.push(
            schedule::run_sample(&name, now)
                .with_context(|| format!("recording the run of job {name:?}"))?,
        );
        ran.push((name, c.targets.clone()));
        batch.extend(c);
    }
    if ran.is_empty() {
        // Still send what earlier runs queued.
        if let Some(q) = push {
            report_push(q.send());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let collected = batch.samples.len();
    let described = batch.metadata.len();
    batch.samples.extend(records);
    batch.metadata.push(schedule::run_metadata());
    batch.store(db).context("storing the samples of this run")?;
    failed |= !alerts_once(db, &loaded.config, now);
    if let Some(q) = push {
        queue_push(
            q,
            batch.samples.get(..collected).unwrap_or(&[]),
            batch.metadata.get(..described).unwrap_or(&[]),
        )?;
    }
    for (name, targets) in ran {
        if !targets.is_empty() {
            if let Err(e) = health.update(&name, &targets) {
                eprintln!("minetsdb: warning: {e}");
            }
        }
    }
    // A receiver that is down is not a failed collection: the queue keeps
    // the samples and the next run sends them.
    if let Some(q) = push {
        report_push(q.send());
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The rules of `config`, or none (reported) when they cannot be loaded.
pub fn alert_groups(config: &Config) -> Vec<minetsdb_collectors::alerts::Group> {
    match minetsdb_collectors::alerts::load_rules(config) {
        Ok(g) => g,
        Err(errors) => {
            for e in errors {
                eprintln!("minetsdb: {e}");
            }
            Vec::new()
        }
    }
}

/// `--once`: the alert rules at `now`, after the batch is stored; false
/// when the rules could not be loaded or one failed (reported here).
fn alerts_once(db: &Db, config: &Config, now: i64) -> bool {
    let mut ev = match alerts::evaluator(config) {
        Ok(ev) => ev,
        Err(e) => {
            eprintln!("minetsdb: {e:#}");
            return false;
        }
    };
    if ev.groups().iter().all(|g| g.rules.is_empty()) {
        return true;
    }
    if let Err(e) = ev.restore(db, now) {
        eprintln!("minetsdb: restoring the alerts' state: {e}");
        return false;
    }
    let round = ev.eval(db, now);
    if let Err(e) = alerts::store(db, &round) {
        eprintln!("minetsdb: {e:#}");
        return false;
    }
    match alerts::notifier(config, db.path(), ev.min_interval_ms().unwrap_or(60_000)) {
        Ok(n) => {
            alerts::deliver(&round, n.as_ref(), now);
            if let Some(n) = n {
                alerts::finish(n);
            }
        }
        Err(e) => {
            eprintln!("minetsdb: {e:#}");
            alerts::deliver(&round, None, now);
        }
    }
    round.errors.is_empty()
}

/// The loop's alert thread: restores the state, then evaluates after
/// each stored collection (several jobs storing within half a second make
/// one round) or when an interval passes without one; the evaluator runs
/// only the groups whose interval has passed. Ends when every sender of
/// `wake` is gone.
fn alert_loop(db: &Db, config: &Config, mut ev: Evaluator, wake: &mpsc::Receiver<()>) {
    let interval = ev.min_interval_ms().unwrap_or(60_000).max(1000) as u64;
    // Receivers that cannot start (an unwritable state directory) are
    // reported; the alerts are still evaluated and stored.
    let notifier = alerts::notifier(config, db.path(), interval as i64).unwrap_or_else(|e| {
        eprintln!("minetsdb: {e:#}");
        None
    });
    if let Err(e) = ev.restore(db, crate::time::now_ms()) {
        eprintln!("minetsdb: restoring the alerts' state: {e}");
    }
    'rounds: loop {
        match wake.recv_timeout(Duration::from_millis(interval)) {
            Ok(()) => loop {
                match wake.recv_timeout(Duration::from_millis(500)) {
                    Ok(()) => continue,
                    Err(mpsc::RecvTimeoutError::Timeout) => break,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break 'rounds,
                }
            },
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break 'rounds,
        }
        let now = crate::time::now_ms();
        let round = ev.eval(db, now);
        if round.groups == 0 {
            continue;
        }
        if let Err(e) = alerts::store(db, &round) {
            eprintln!("minetsdb: {e:#}");
        }
        alerts::deliver(&round, notifier.as_ref(), now);
    }
    if let Some(n) = notifier {
        alerts::finish(n);
    }
}

/// The job's phase within its interval: FNV-1a of its name, modulo the
/// interval (stable across runs, platforms and Rust versions).
fn offset_ms(name: &str, interval_ms: i64) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % interval_ms.max(1) as u64) as i64
}

/// When a job of `interval_ms` and `offset` last run at `last` (if ever)
/// runs next, at or after `now`: the first instant of its phase at which
/// it is due under the schedule's rule.
fn next_run(last: Option<i64>, now: i64, interval_ms: i64, offset: i64) -> i64 {
    let interval_ms = interval_ms.max(1);
    let earliest = match last {
        Some(l) if l <= now => now.max(l + interval_ms - schedule::tolerance_ms(interval_ms)),
        _ => now,
    };
    let base = earliest - (earliest - offset).rem_euclid(interval_ms);
    if base >= earliest {
        base
    } else {
        base + interval_ms
    }
}

/// The longest single sleep: waking now and then re-reads the clock, so a
/// clock set back or forward delays a run by at most this much.
const MAX_SLEEP_MS: i64 = 60_000;

fn run_loop(
    db: Arc<Db>,
    health: Arc<HealthFile>,
    loaded: &Loaded,
    push: Option<Arc<Queue>>,
) -> anyhow::Result<ExitCode> {
    // Installed before any thread starts; a config with no job and no
    // NVML still runs until stopped, as a service should.
    let stop = stop_signal()?;
    let jobs = Jobs::start(db.clone(), health, loaded, push)?;
    let compactor = Compactor::start(db, Duration::from_secs(3600));
    let _ = stop.recv();
    jobs.stop();
    for e in compactor.stop() {
        eprintln!("minetsdb: compaction: {e}");
    }
    Ok(ExitCode::SUCCESS)
}

/// A receiver that returns (with an error: its sender dropped) on the
/// first SIGINT or SIGTERM. Installed once per process, before any thread
/// starts; `collect` and `serve` wait on it.
pub fn stop_signal() -> anyhow::Result<mpsc::Receiver<()>> {
    let (tx, rx) = mpsc::channel::<()>();
    let tx = Mutex::new(Some(tx));
    ctrlc::set_handler(move || {
        if let Some(s) = tx.lock().unwrap_or_else(|p| p.into_inner()).take() {
            eprintln!("minetsdb: stopping");
            drop(s);
        }
    })
    .context("installing the SIGINT/SIGTERM handler")?;
    Ok(rx)
}

/// The collector loop's threads, one per job of the config (and one for
/// NVML when enabled), all appending to one shared `Db`; `serve --collect`
/// runs them beside its HTTP server.
pub struct Jobs {
    threads: Vec<std::thread::JoinHandle<()>>,
    // Dropping the senders wakes every thread's `recv_timeout` at once.
    stop: Vec<mpsc::Sender<()>>,
}

impl Jobs {
    /// Starts a thread per source of `config`, and one sending the push
    /// queue when there is one.
    pub fn start(
        db: Arc<Db>,
        health: Arc<HealthFile>,
        loaded: &Loaded,
        push: Option<Arc<Queue>>,
    ) -> anyhow::Result<Jobs> {
        let mut jobs = Jobs {
            threads: Vec::new(),
            stop: Vec::new(),
        };
        // Rule problems are reported and the collection runs without
        // alerts: a typo in a rule file must not stop the data.
        let evaluator = match alerts::evaluator(&loaded.config) {
            Ok(ev) if ev.groups().iter().any(|g| !g.rules.is_empty()) => Some(ev),
            Ok(_) => None,
            Err(e) => {
                eprintln!("minetsdb: {e:#}");
                None
            }
        };
        // Jobs tell the alert thread they stored a collection; `jobs.stop`
        // holds one sender too, so the thread outlives a config without jobs.
        let (wake_tx, wake_rx) = mpsc::channel::<()>();
        for task in loaded.sources() {
            let (tx, rx) = mpsc::channel::<()>();
            jobs.stop.push(tx);
            let db = db.clone();
            let health = health.clone();
            let name = task.source.name().to_string();
            let push = push.clone();
            let wake = evaluator.is_some().then(|| wake_tx.clone());
            let handle = std::thread::Builder::new()
                .name(format!("job {name}"))
                .spawn(move || job_loop(&db, &health, task, &rx, push.as_deref(), wake))
                .with_context(|| format!("starting the thread of job {name:?}"))?;
            jobs.threads.push(handle);
        }
        if let Some(q) = push {
            let (tx, rx) = mpsc::channel::<()>();
            jobs.stop.push(tx);
            let handle = std::thread::Builder::new()
                .name("push".into())
                .spawn(move || push_loop(&q, &rx))
                .context("starting the push thread")?;
            jobs.threads.push(handle);
        }
        // Last, so that `stop` joins it after the jobs: it ends once their
        // senders and the one in `jobs.stop` are gone.
        if let Some(ev) = evaluator {
            jobs.stop.push(wake_tx);
            let config = loaded.config.clone();
            let handle = std::thread::Builder::new()
                .name("alerts".into())
                .spawn(move || alert_loop(&db, &config, ev, &wake_rx))
                .context("starting the alert thread")?;
            jobs.threads.push(handle);
        }
        Ok(jobs)
    }

    /// Stops every job (a scrape under way finishes and is stored) and
    /// waits for them.
    pub fn stop(mut self) {
        self.stop.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// One job's loop, until `stop` is dropped. A source unavailable on this
/// machine (no NVIDIA driver) is reported once and its thread ends.
fn job_loop(
    db: &Db,
    health: &HealthFile,
    mut s: Scheduled,
    stop: &mpsc::Receiver<()>,
    push: Option<&Queue>,
    alerts: Option<mpsc::Sender<()>>,
) {
    let interval = s.interval_ms;
    let name = s.source.name().to_string();
    let offset = offset_ms(&name, interval);
    if let Err(e) = restore(db, &mut s, crate::time::now_ms()) {
        eprintln!("minetsdb: {e:#}");
    }
    let mut last = match last_run(db, &s, crate::time::now_ms()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("minetsdb: {e:#}");
            None
        }
    };
    loop {
        let now = crate::time::now_ms();
        let next = next_run(last, now, interval, offset);
        if next > now {
            let wait = (next - now).min(MAX_SLEEP_MS) as u64;
            match stop.recv_timeout(Duration::from_millis(wait)) {
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                _ => return,
            }
        }
        match held(db, &s, now) {
            Ok(true) => {
                last = Some(now);
                continue;
            }
            Ok(false) => {}
            Err(e) => eprintln!("minetsdb: {e:#}"),
        }
        match run_source(db, health, s.source.as_mut(), now, push) {
            Ok(None) => return,
            Ok(Some(_)) => {
                if let Some(a) = &alerts {
                    // The alert thread gone (it failed) is no job's concern.
                    let _ = a.send(());
                }
            }
            Err(e) => eprintln!("minetsdb: job {name:?}: {e:#}"),
        }
        last = Some(now);
    }
}

/// Prints what a send of the push queue did: requests the receiver
/// refused for good, or why it stopped.
fn report_push(r: Result<Sent, PushError>) {
    match r {
        Ok(sent) => {
            for r in &sent.rejected {
                eprintln!("minetsdb: push: refused for good, set aside: {r}");
            }
        }
        Err(e) => eprintln!("minetsdb: warning: {e}"),
    }
}

/// Sends the push queue every second while the receiver takes it; after
/// a failure waits 1 s, 2 s, 4 s ... up to 2 minutes between tries, so a
/// receiver down for a day is not hammered, and one back up is caught up
/// with within two minutes. Reports the first failure of a streak only.
fn push_loop(q: &Queue, stop: &mpsc::Receiver<()>) {
    const MAX_BACKOFF_MS: u64 = 120_000;
    let mut backoff_ms = 0u64;
    loop {
        let wait = if backoff_ms == 0 { 1000 } else { backoff_ms };
        match stop.recv_timeout(Duration::from_millis(wait)) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        match q.send() {
            Ok(sent) => {
                if backoff_ms > 0 {
                    eprintln!("minetsdb: push: {} reachable again", q.url());
                }
                backoff_ms = 0;
                report_push(Ok(sent));
            }
            Err(e) => {
                if backoff_ms == 0 {
                    report_push(Err(e));
                }
                backoff_ms = (backoff_ms * 2).clamp(1000, MAX_BACKOFF_MS);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minetsdb::Options;
    use minetsdb_collectors::nvml::{FakeGpus, GpuJob, NvmlError};

    #[test]
    fn offsets_are_stable_and_within_the_interval() {
        assert_eq!(offset_ms("node", 60_000), offset_ms("node", 60_000));
        assert_ne!(offset_ms("node", 60_000), offset_ms("pool", 60_000));
        for name in ["node", "pool", "nvml", ""] {
            let o = offset_ms(name, 60_000);
            assert!((0..60_000).contains(&o));
        }
        assert_eq!(offset_ms("node", 1), 0);
    }

    #[test]
    fn next_run_keeps_the_phase_and_honours_the_last_run() {
        let m = 60_000;
        let t = 1_700_000_040_000; // t mod m == 0
                                   // Never run: the next instant of the phase.
        assert_eq!(next_run(None, t, m, 7_000), t + 7_000);
        assert_eq!(next_run(None, t + 7_000, m, 7_000), t + 7_000);
        assert_eq!(next_run(None, t + 8_000, m, 7_000), t + m + 7_000);
        // Run (a little late) in this slot: the same phase next interval.
        assert_eq!(
            next_run(Some(t + 7_050), t + 7_100, m, 7_000),
            t + m + 7_000
        );
        // Run before a restart 10 s ago: not again before it is due.
        assert_eq!(next_run(Some(t), t + 10_000, m, 30_000), t + m + 30_000);
        assert_eq!(next_run(Some(t), t + 10_000, m, 20_000), t + m + 20_000);
        // Its last run long ago: due now, at the next instant of the phase.
        assert_eq!(next_run(Some(t - 10 * m), t + 1, m, 0), t + m);
        // A recorded run in the future (clock set back) is ignored.
        assert_eq!(next_run(Some(t + m), t, m, 0), t);
        // Every result is due under the schedule's rule.
        for off in [0, 1, 29_999, 59_999] {
            for last in [t - 1, t, t + 3_000, t + 59_000] {
                let n = next_run(Some(last), last, m, off);
                assert!(schedule::is_due(Some(last), n, m));
                assert_eq!(n.rem_euclid(m), off);
            }
        }
    }

    #[test]
    fn gpus_unavailable_is_not_a_failure_and_lost_gpus_are() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Db::open(tmp.path().join("db"), Options::default()).unwrap();
        let health = HealthFile::new(&tmp.path().join("db"));
        let t = 1_700_000_000_000;
        let mut none = GpuJob::new("rig1", || -> Result<FakeGpus, _> {
            Err(NvmlError::Unavailable {
                reason: "no driver".into(),
            })
        });
        assert_eq!(run_source(&db, &health, &mut none, t, None).unwrap(), None);
        // The fake rig loses its third GPU: the other two are stored (one
        // info series each), and the run failed.
        let mut rig = GpuJob::new("rig1", || Ok(FakeGpus::rig()));
        assert_eq!(
            run_source(&db, &health, &mut rig, t, None).unwrap(),
            Some(true)
        );
        let m = [minetsdb::Matcher::equal(
            minetsdb::METRIC_NAME_LABEL,
            "nvidia_smi_gpu_info",
        )];
        let n = db.select(&m, ..).unwrap().count();
        assert_eq!(n, 2);
    }
}
