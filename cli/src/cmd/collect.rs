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
use minetsdb::{Compactor, Db, Options, Sample};
use minetsdb_collectors::config::{Config, Job};
use minetsdb_collectors::http::{HttpClient, HttpOptions};
use minetsdb_collectors::nvml::{self, NvmlError, NvmlSource};
use minetsdb_collectors::schedule;
use minetsdb_collectors::scrape::{scrape, store, Target};

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
    /// Database directory [default: $XDG_DATA_HOME/minetsdb]
    #[arg(long)]
    db: Option<PathBuf>,
}

/// The schedule's job name for the GPUs (config job names may not take it).
const NVML_JOB: &str = "nvml";

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let path = a
        .config
        .clone()
        .unwrap_or_else(crate::paths::default_config);
    if !path.exists() {
        anyhow::bail!(
            "config file {} not found: write one, or name it with --config PATH",
            path.display()
        );
    }
    let config = Config::load(&path)?;
    let dir = a.db.clone().unwrap_or_else(crate::paths::default_db);
    let db =
        Db::open(&dir, Options::default()).with_context(|| format!("opening {}", dir.display()))?;
    if a.once {
        run_once(&db, &config)
    } else {
        run_loop(Arc::new(db), config)
    }
}

/// What one schedule entry runs: a config job, or the GPUs.
#[derive(Debug, Clone)]
enum Task {
    Job(Job),
    Gpus { interval_ms: i64 },
}

impl Task {
    fn name(&self) -> &str {
        match self {
            Task::Job(j) => &j.name,
            Task::Gpus { .. } => NVML_JOB,
        }
    }

    fn interval_ms(&self) -> i64 {
        match self {
            Task::Job(j) => j.interval_ms,
            Task::Gpus { interval_ms } => *interval_ms,
        }
    }
}

fn tasks(config: &Config) -> Vec<Task> {
    let mut t: Vec<Task> = config.jobs.iter().cloned().map(Task::Job).collect();
    if config.nvml.enabled {
        t.push(Task::Gpus {
            interval_ms: config.nvml.interval_ms,
        });
    }
    t
}

/// Runs `task` at `now` and records the run (a failed run counts as one):
/// the same for `--once` and the loop. True if a target or GPU failed.
fn run_task<S: nvml::GpuSource>(
    db: &Db,
    task: &Task,
    gpus: impl FnOnce() -> Result<S, NvmlError>,
    instance: &str,
    now: i64,
) -> anyhow::Result<bool> {
    let failed = match task {
        Task::Job(job) => run_job(db, job, now)?,
        Task::Gpus { .. } => run_gpus(db, gpus(), instance, now)?,
    };
    schedule::record_run(db, task.name(), now)
        .with_context(|| format!("recording the run of job {:?}", task.name()))?;
    Ok(failed)
}

fn last_run(db: &Db, task: &Task, now: i64) -> anyhow::Result<Option<i64>> {
    schedule::last_run(db, task.name(), now, task.interval_ms())
        .with_context(|| format!("reading the last run of job {:?}", task.name()))
}

fn run_once(db: &Db, config: &Config) -> anyhow::Result<ExitCode> {
    let now = crate::time::now_ms();
    let mut failed = false;
    for task in tasks(config) {
        let last = last_run(db, &task, now)?;
        if schedule::is_due(last, now, task.interval_ms()) {
            failed |= run_task(db, &task, NvmlSource::new, &config.instance, now)?;
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
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

fn run_loop(db: Arc<Db>, config: Config) -> anyhow::Result<ExitCode> {
    let tasks = tasks(&config);
    // One stop channel per thread; the signal handler, installed before any
    // thread starts, drops every sender, which wakes every `recv_timeout`
    // at once.
    // One more for this thread, which waits for the signal (a config with
    // no job and no NVML still runs until stopped, as a service should).
    let (senders, mut receivers): (Vec<_>, Vec<_>) =
        (0..=tasks.len()).map(|_| mpsc::channel::<()>()).unzip();
    let main_rx = receivers.pop().expect("one per task, and one more");
    let senders = Mutex::new(Some(senders));
    ctrlc::set_handler(move || {
        if let Some(s) = senders.lock().unwrap_or_else(|p| p.into_inner()).take() {
            eprintln!("minetsdb: stopping");
            drop(s);
        }
    })
    .context("installing the SIGINT/SIGTERM handler")?;
    let mut threads = Vec::new();
    for (task, rx) in tasks.into_iter().zip(receivers) {
        let db = db.clone();
        let instance = config.instance.clone();
        let name = task.name().to_string();
        let handle = std::thread::Builder::new()
            .name(format!("job {name}"))
            .spawn(move || job_loop(&db, &task, &instance, &rx))
            .with_context(|| format!("starting the thread of job {name:?}"))?;
        threads.push(handle);
    }
    let compactor = Compactor::start(db.clone(), Duration::from_secs(3600));
    let _ = main_rx.recv();
    for t in threads {
        let _ = t.join();
    }
    for e in compactor.stop() {
        eprintln!("minetsdb: compaction: {e}");
    }
    Ok(ExitCode::SUCCESS)
}

/// One job's loop, until `stop` is dropped.
fn job_loop(db: &Db, task: &Task, instance: &str, stop: &mpsc::Receiver<()>) {
    let interval = task.interval_ms();
    let offset = offset_ms(task.name(), interval);
    let mut last = match last_run(db, task, crate::time::now_ms()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("minetsdb: {e:#}");
            None
        }
    };
    // NVML is loaded once; unavailable (no driver), it is reported once
    // and the GPU thread ends.
    let mut gpus: Option<NvmlSource> = None;
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
        let res = match (task, &gpus) {
            (Task::Gpus { .. }, None) => match NvmlSource::new() {
                Ok(s) => {
                    let r = run_task(db, task, || Ok(&s), instance, now);
                    gpus = Some(s);
                    r
                }
                Err(e) => {
                    let unavailable = matches!(e, NvmlError::Unavailable { .. });
                    let r = run_task::<NvmlSource>(db, task, || Err(e), instance, now);
                    if unavailable {
                        if let Err(e) = r {
                            eprintln!("minetsdb: job {:?}: {e:#}", task.name());
                        }
                        return;
                    }
                    r
                }
            },
            (Task::Gpus { .. }, Some(s)) => run_task(db, task, || Ok(s), instance, now),
            (Task::Job(_), _) => run_task::<NvmlSource>(db, task, NvmlSource::new, instance, now),
        };
        if let Err(e) = res {
            eprintln!("minetsdb: job {:?}: {e:#}", task.name());
        }
        last = Some(now);
    }
}

/// Scrapes and stores every target of `job`; true if one failed.
fn run_job(db: &Db, job: &Job, now: i64) -> anyhow::Result<bool> {
    let client = HttpClient::new(HttpOptions {
        deadline: Duration::from_millis(job.timeout_ms.max(1) as u64),
        ..HttpOptions::default()
    });
    let mut failed = false;
    for url in &job.targets {
        let target = Target {
            url: url.clone(),
            job: job.name.clone(),
            instance: None,
            labels: job.labels.clone(),
        };
        let res = scrape(&client, &target, now);
        for e in res.bad_lines.iter().take(5) {
            eprintln!("minetsdb: job {:?}: {url}: skipped {e}", job.name);
        }
        store(db, &res).with_context(|| format!("storing samples from {url}"))?;
        if let Some(e) = &res.error {
            eprintln!("minetsdb: job {:?}: {e}", job.name);
            failed = true;
        }
    }
    Ok(failed)
}

/// Reads every GPU of `source` into the db; true if a GPU could not be
/// read. An unavailable NVML is a warning only.
fn run_gpus<S: nvml::GpuSource>(
    db: &Db,
    source: Result<S, NvmlError>,
    instance: &str,
    now: i64,
) -> anyhow::Result<bool> {
    let got = match source.and_then(|s| nvml::collect(&s, instance)) {
        Ok(got) => got,
        Err(e @ NvmlError::Unavailable { .. }) => {
            eprintln!(
                "minetsdb: warning: GPUs not collected: {e} (set enabled = false under [nvml] in the config on a rig without NVIDIA GPUs)"
            );
            return Ok(false);
        }
        Err(e) => {
            eprintln!("minetsdb: {e}");
            return Ok(true);
        }
    };
    let batch: Vec<_> = got
        .samples
        .into_iter()
        .map(|(l, v)| (l, Sample::new(now, v)))
        .collect();
    db.append_labeled(&batch)
        .context("storing the GPU samples")?;
    for e in &got.errors {
        eprintln!("minetsdb: {e}");
    }
    Ok(!got.errors.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use minetsdb_collectors::nvml::FakeGpus;

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
        let t = 1_700_000_000_000;
        let none: Result<FakeGpus, _> = Err(NvmlError::Unavailable {
            reason: "no driver".into(),
        });
        assert!(!run_gpus(&db, none, "rig1", t).unwrap());
        // The fake rig loses its third GPU: the other two are stored (one
        // info series each), and the run failed.
        assert!(run_gpus(&db, Ok(FakeGpus::rig()), "rig1", t).unwrap());
        let m = [minetsdb::Matcher::equal(
            minetsdb::METRIC_NAME_LABEL,
            "nvidia_smi_gpu_info",
        )];
        let n = db.select(&m, ..).unwrap().count();
        assert_eq!(n, 2);
    }
}
