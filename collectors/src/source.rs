//! The one trait every source of samples implements: NVML, an exposition
//! endpoint, a pool API, a miner API, AMD's sysfs.
//!
//! `minetsdb collect` holds a list of [`Scheduled`] sources (see
//! [`sources`]), asks each for a [`Collection`] when its interval has
//! elapsed, appends the collection's samples as one batch, records its
//! metadata, and prints its problems. A source keeps whatever state it needs
//! between collections (a loaded NVML library, an HTTP client, the series
//! of the previous scrape) in itself: the loop keeps one value per source
//! for the life of the process, `collect --once` one per run.
//!
//! Failing is part of a collection, not an error of [`Source::collect`]: a
//! target that is down still yields its `up 0` sample and one line in
//! [`Collection::failures`], and the other targets of the job are still
//! read. The only `Err` is [`Unavailable`]: the source cannot work on this
//! machine at all (no NVIDIA driver), which is a warning, not a failure,
//! and which the loop does not retry.
//!
//! ```
//! use minetsdb_collectors::nvml::{FakeGpus, GpuJob};
//! use minetsdb_collectors::source::Source;
//! let mut gpus = GpuJob::new("rig1", || Ok(FakeGpus::rig()));
//! let got = gpus.collect(1_700_000_000_000).unwrap();
//! assert_eq!(got.failures.len(), 1); // the fake rig's third GPU is lost
//! assert!(got.samples.iter().all(|(_, s)| s.t == 1_700_000_000_000));
//! ```

use minetsdb::{Db, Labels, Metadata, Sample};

use crate::config::Config;
use crate::health::TargetHealth;

/// What one collection of a source gave.
#[derive(Debug, Default)]
pub struct Collection {
    /// Samples to append, as one batch.
    pub samples: Vec<(Labels, Sample)>,
    /// Metadata by metric family name.
    pub metadata: Vec<(String, Metadata)>,
    /// Failures, one line each naming the target or device and the cause:
    /// a target down, a GPU lost. `collect --once` exits 1 when any.
    pub failures: Vec<String>,
    /// Problems that did not fail the collection (a malformed line
    /// skipped), one line each.
    pub warnings: Vec<String>,
    /// The health of each target scraped (for `minetsdb targets`).
    pub targets: Vec<TargetHealth>,
}

impl Collection {
    /// Appends the samples as one batch and records the metadata; metric
    /// names the store would refuse as such are skipped for metadata.
    pub fn store(&self, db: &Db) -> Result<minetsdb::AppendReport, minetsdb::Error> {
        store(db, &self.samples, &self.metadata)
    }

    /// Adds `other` to this collection.
    pub fn extend(&mut self, other: Collection) {
        self.samples.extend(other.samples);
        self.metadata.extend(other.metadata);
        self.failures.extend(other.failures);
        self.warnings.extend(other.warnings);
        self.targets.extend(other.targets);
    }
}

/// Appends `samples` as one batch and records `metadata`, skipping names
/// the store would refuse as metric names.
pub(crate) fn store(
    db: &Db,
    samples: &[(Labels, Sample)],
    metadata: &[(String, Metadata)],
) -> Result<minetsdb::AppendReport, minetsdb::Error> {
    let rep = db.append_labeled(samples)?;
    let valid: Vec<(String, Metadata)> = metadata
        .iter()
        .filter(|(name, _)| minetsdb::check_metric_name(name).is_ok())
        .cloned()
        .collect();
    // One registry sync for all of them: a first scrape of a
    // node_exporter page exposes hundreds of families.
    db.set_metadata_many(&valid)?;
    Ok(rep)
}

/// The source cannot work on this machine at all (a library or driver is
/// missing); a warning, not a failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {reason}")]
pub struct Unavailable {
    /// The source's name.
    pub source_name: String,
    /// What is missing, and what to do about it.
    pub reason: String,
}

/// Something `collect` reads samples from.
pub trait Source: Send {
    /// The job name: the key of its schedule state in the database, and
    /// the name in messages.
    fn name(&self) -> &str;

    /// Reads once; `now_ms` is the collection's time, the timestamp of
    /// every sample that does not carry its own.
    fn collect(&mut self, now_ms: i64) -> Result<Collection, Unavailable>;

    /// Called once before the first collection of a process when the job
    /// ran before (at `last_run_ms`), so a source can take back state it
    /// keeps in the database (a scrape job: the series of its previous
    /// scrape, for stale markers). Does nothing by default.
    fn restore(&mut self, db: &Db, last_run_ms: i64) -> Result<(), minetsdb::Error> {
        let _ = (db, last_run_ms);
        Ok(())
    }
}

/// A source with its interval.
pub struct Scheduled {
    /// How often it runs, in milliseconds.
    pub interval_ms: i64,
    /// The source.
    pub source: Box<dyn Source>,
}

impl std::fmt::Debug for Scheduled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduled")
            .field("name", &self.source.name())
            .field("interval_ms", &self.interval_ms)
            .finish()
    }
}

/// Every source `config` names: the scrape jobs, the pools and the miners,
/// each in file order, then the NVIDIA GPUs when enabled (scripted ones
/// when `[nvml] fake` is set), then the AMD GPUs when enabled, or, with
/// `[amd]` not in the file, when the machine has amdgpu cards.
pub fn sources(config: &Config) -> Vec<Scheduled> {
    let mut out: Vec<Scheduled> = config
        .jobs
        .iter()
        .map(|job| Scheduled {
            interval_ms: job.interval_ms,
            source: Box::new(crate::scrape::ScrapeJob::new(job.clone())),
        })
        .collect();
    for pool in &config.pools {
        out.push(Scheduled {
            interval_ms: pool.interval_ms,
            source: Box::new(crate::pool::PoolSource::new(
                pool.clone(),
                config.instance.clone(),
            )),
        });
    }
    for miner in &config.miners {
        out.push(Scheduled {
            interval_ms: miner.interval_ms,
            source: Box::new(crate::miner::MinerSource::new(
                miner.clone(),
                config.instance.clone(),
            )),
        });
    }
    if config.nvml.enabled && config.nvml.fake_gpus > 0 {
        let n = config.nvml.fake_gpus;
        out.push(Scheduled {
            interval_ms: config.nvml.interval_ms,
            source: Box::new(crate::nvml::GpuJob::new(
                config.instance.clone(),
                move || {
                    Ok(crate::nvml::FakeGpus::new(
                        (0..n).map(|i| Ok(crate::nvml::FakeGpus::full(i))).collect(),
                    ))
                },
            )),
        });
    } else if config.nvml.enabled {
        out.push(Scheduled {
            interval_ms: config.nvml.interval_ms,
            source: Box::new(crate::nvml::GpuJob::new(
                config.instance.clone(),
                crate::nvml::NvmlSource::new,
            )),
        });
    }
    let amd = &config.amd;
    let amd_wanted = match amd.enabled {
        Some(on) => on,
        // Not configured: only where there is something to read, so that
        // rigs without AMD cards get no warning line per run.
        None => crate::amd::cards(&amd.sysfs_root).is_ok_and(|c| !c.is_empty()),
    };
    if amd_wanted {
        out.push(Scheduled {
            interval_ms: amd.interval_ms,
            source: Box::new(crate::amd::AmdJob::new(
                config.instance.clone(),
                amd.sysfs_root.clone(),
            )),
        });
    }
    out
}
