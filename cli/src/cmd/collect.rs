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
use minetsdb::{Compactor, Db, Options};
use minetsdb_collectors::config::Config;
use minetsdb_collectors::push::{PushError, Queue, Sent};
use minetsdb_collectors::remote_write;
use minetsdb_collectors::schedule;
use minetsdb_collectors::source::{sources, Scheduled, Source};

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
    /// Also push every collection to this remote-write URL (e.g.
    /// http://vm:8428/api/v1/write), through a durable queue in
    /// <db>/push-queue that is retried until the receiver takes it.
    #[arg(long, value_name = "URL")]
    push: Option<String>,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let config = load_config(a.config.clone())?;
    let dir = a.db.clone().unwrap_or_else(crate::paths::default_db);
    let db =
        Db::open(&dir, Options::default()).with_context(|| format!("opening {}", dir.display()))?;
    let push = open_push_queue(&dir, a.push.as_deref())?;
    if a.once {
        run_once(&db, &config, push.as_deref())
    } else {
        run_loop(Arc::new(db), config, push)
    }
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

/// Loads `path` (default: the XDG config path), which must exist.
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

/// Runs `source` at `now`, stores what it gave, prints its problems, and
/// records the run (a failed run counts as one): the same for `--once` and
/// the loop. `Ok(None)` when the source is unavailable on this machine
/// (reported once, here); otherwise whether anything failed.
fn run_source(
    db: &Db,
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
    // Queued only once stored: the push never has what the db lacks.
    if let (Some(q), false) = (push, got.samples.is_empty()) {
        let series: Vec<_> = got
            .samples
            .iter()
            .map(|(l, s)| (l.clone(), vec![*s]))
            .collect();
        q.push(&remote_write::encode(&series, &got.metadata))
            .with_context(|| format!("queueing the samples of job {name:?} for {}", q.url()))?;
    }
    for f in &got.failures {
        eprintln!("minetsdb: job {name:?}: {f}");
    }
    schedule::record_run(db, &name, now)
        .with_context(|| format!("recording the run of job {name:?}"))?;
    Ok(Some(!got.failures.is_empty()))
}

fn last_run(db: &Db, s: &Scheduled, now: i64) -> anyhow::Result<Option<i64>> {
    let name = s.source.name();
    schedule::last_run(db, name, now, s.interval_ms)
        .with_context(|| format!("reading the last run of job {name:?}"))
}

fn run_once(db: &Db, config: &Config, push: Option<&Queue>) -> anyhow::Result<ExitCode> {
    let now = crate::time::now_ms();
    let mut failed = false;
    for mut s in sources(config) {
        let last = last_run(db, &s, now)?;
        if schedule::is_due(last, now, s.interval_ms) {
            failed |= run_source(db, s.source.as_mut(), now, push)?.unwrap_or(false);
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

fn run_loop(db: Arc<Db>, config: Config, push: Option<Arc<Queue>>) -> anyhow::Result<ExitCode> {
    let stop = stop_signal()?;
    let jobs = Jobs::start(db.clone(), &config, push)?;
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
    pub fn start(db: Arc<Db>, config: &Config, push: Option<Arc<Queue>>) -> anyhow::Result<Jobs> {
        let mut jobs = Jobs {
            threads: Vec::new(),
            stop: Vec::new(),
        };
        for task in sources(config) {
            let (tx, rx) = mpsc::channel::<()>();
            jobs.stop.push(tx);
            let db = db.clone();
            let name = task.source.name().to_string();
            let push = push.clone();
            let handle = std::thread::Builder::new()
                .name(format!("job {name}"))
                .spawn(move || job_loop(&db, task, &rx, push.as_deref()))
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
fn job_loop(db: &Db, mut s: Scheduled, stop: &mpsc::Receiver<()>, push: Option<&Queue>) {
    let interval = s.interval_ms;
    let name = s.source.name().to_string();
    let offset = offset_ms(&name, interval);
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
        match run_source(db, s.source.as_mut(), now, push) {
            Ok(None) => return,
            Ok(Some(_)) => {}
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
        let t = 1_700_000_000_000;
        let mut none = GpuJob::new("rig1", || -> Result<FakeGpus, _> {
            Err(NvmlError::Unavailable {
                reason: "no driver".into(),
            })
        });
        assert_eq!(run_source(&db, &mut none, t, None).unwrap(), None);
        // The fake rig loses its third GPU: the other two are stored (one
        // info series each), and the run failed.
        let mut rig = GpuJob::new("rig1", || Ok(FakeGpus::rig()));
        assert_eq!(run_source(&db, &mut rig, t, None).unwrap(), Some(true));
        let m = [minetsdb::Matcher::equal(
            minetsdb::METRIC_NAME_LABEL,
            "nvidia_smi_gpu_info",
        )];
        let n = db.select(&m, ..).unwrap().count();
        assert_eq!(n, 2);
    }
}
