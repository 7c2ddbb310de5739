//! `minetsdb collect --once`: run every job of `config.toml` that is due,
//! and read the GPUs when NVML is due, into the database; for cron, every
//! minute.
//!
//! Each job keeps its own interval across runs through state in the
//! database (see `minetsdb_collectors::schedule`): a job whose interval has
//! not elapsed is skipped. Every target of a due job is scraped; its
//! samples, `up` included, are stored even when another target fails.
//!
//! Output: nothing on stdout (cron mails what it prints); on stderr one
//! line per failed target naming it and why, per malformed line skipped
//! (up to 5 per target), and per GPU problem.
//!
//! Exit codes: 0 every scraped target was up (or nothing was due); 1 a
//! target failed, a GPU could not be read, or the config or database could
//! not be used; 2 usage. NVML being unavailable (no driver, no library) is
//! one warning line and does not change the exit code: set
//! `[nvml] enabled = false` on a rig without NVIDIA cards.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use minetsdb::{Db, Options, Sample};
use minetsdb_collectors::config::{Config, Job};
use minetsdb_collectors::http::{HttpClient, HttpOptions};
use minetsdb_collectors::nvml::{self, NvmlError, NvmlSource};
use minetsdb_collectors::schedule;
use minetsdb_collectors::scrape::{scrape, store, Target};

/// Arguments of `collect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Collect what is due once, then exit (for cron). Required for now:
    /// the long-running loop is not implemented yet.
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
    if !a.once {
        clap::Error::raw(
            clap::error::ErrorKind::MissingRequiredArgument,
            "collect needs --once for now: the long-running loop is not implemented yet; \
             run `minetsdb collect --once` from cron every minute\n",
        )
        .exit();
    }
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
    let now = crate::time::now_ms();

    let mut failed = false;
    for job in &config.jobs {
        let last = schedule::last_run(&db, &job.name, now, job.interval_ms)
            .with_context(|| format!("reading the last run of job {:?}", job.name))?;
        if !schedule::is_due(last, now, job.interval_ms) {
            continue;
        }
        failed |= run_job(&db, job, now)?;
        schedule::record_run(&db, &job.name, now)
            .with_context(|| format!("recording the run of job {:?}", job.name))?;
    }
    if config.nvml.enabled {
        let last = schedule::last_run(&db, NVML_JOB, now, config.nvml.interval_ms)
            .context("reading the last run of NVML")?;
        if schedule::is_due(last, now, config.nvml.interval_ms) {
            failed |= run_gpus(&db, NvmlSource::new(), &config.instance, now)?;
            schedule::record_run(&db, NVML_JOB, now).context("recording the run of NVML")?;
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
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
