//! The health of every scrape target, for `minetsdb targets` (Prometheus'
//! /targets page in the terminal).
//!
//! `up`, `scrape_duration_seconds` and `scrape_samples_scraped` are series
//! in the database, but the last error's text is not a number, so collect
//! keeps one small file beside the database, `<db>/targets.json`: per
//! target its job, URL, labels, health, last scrape time, duration, sample
//! count and last error. It is replaced whole after every job run by
//! write-temp, fsync, rename, fsync-directory ([`HealthFile::update`]), so a
//! reader (`minetsdb targets`, which opens nothing else and takes no lock)
//! sees the previous or the next version, never half of one. A file, not
//! the database's metadata: it is a snapshot rewritten every minute, not
//! history, and the series already hold the history. Only the writer of
//! the database writes it (collect holds the database's lock), so one
//! process's threads are the only concurrent writers; they serialise on
//! [`HealthFile`]'s mutex.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// The file's name inside the database directory.
pub const FILE_NAME: &str = "targets.json";

/// One target's last scrape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetHealth {
    /// The job (schedule) that scrapes it.
    pub job: String,
    /// The URL scraped.
    pub url: String,
    /// Its target labels (`instance`, `job`, ...).
    pub labels: Vec<(String, String)>,
    /// Whether the last scrape succeeded.
    pub up: bool,
    /// When it was, in milliseconds since the Unix epoch.
    pub last_scrape_ms: i64,
    /// How long it took.
    pub duration_seconds: f64,
    /// Samples exposed.
    pub samples: usize,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// A health file that cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{}: {what}", path.display())]
pub struct HealthError {
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    pub what: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Contents {
    /// By job name, in scrape order.
    jobs: BTreeMap<String, Vec<TargetHealth>>,
}

/// `<db>/targets.json`, written by one process.
#[derive(Debug)]
pub struct HealthFile {
    path: PathBuf,
    lock: Mutex<()>,
}

impl HealthFile {
    /// The file of the database at `db_dir`.
    pub fn new(db_dir: &Path) -> HealthFile {
        HealthFile {
            path: db_dir.join(FILE_NAME),
            lock: Mutex::new(()),
        }
    }

    /// Every target, by job name then scrape order; empty when no file.
    pub fn load(db_dir: &Path) -> Result<Vec<TargetHealth>, HealthError> {
        let path = db_dir.join(FILE_NAME);
        Ok(read(&path)?.jobs.into_values().flatten().collect())
    }

    /// Replaces the entries of `job` by `targets`, atomically.
    pub fn update(&self, job: &str, targets: &[TargetHealth]) -> Result<(), HealthError> {
        let _held = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        // A damaged file is replaced rather than blocking collection.
        let mut c = read(&self.path).unwrap_or_default();
        c.jobs.insert(job.to_string(), targets.to_vec());
        let err = |what: String| HealthError {
            path: self.path.clone(),
            what,
        };
        let text = serde_json::to_vec_pretty(&c).map_err(|e| err(e.to_string()))?;
        let tmp = self.path.with_extension("json.tmp");
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            if let Some(dir) = self.path.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        };
        write().map_err(|e| err(e.to_string()))
    }
}

fn read(path: &Path) -> Result<Contents, HealthError> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| HealthError {
            path: path.to_path_buf(),
            what: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Contents::default()),
        Err(e) => Err(HealthError {
            path: path.to_path_buf(),
            what: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_replaces_one_job_and_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let h = HealthFile::new(tmp.path());
        assert!(HealthFile::load(tmp.path()).unwrap().is_empty());
        let t = |job: &str, up: bool| TargetHealth {
            job: job.into(),
            url: format!("http://{job}/metrics"),
            labels: vec![("job".into(), job.into())],
            up,
            last_scrape_ms: 1,
            duration_seconds: 0.5,
            samples: 3,
            error: (!up).then(|| "boom".to_string()),
        };
        h.update("a", &[t("a", true)]).unwrap();
        h.update("b", &[t("b", false)]).unwrap();
        h.update("a", &[t("a", false)]).unwrap();
        let got = HealthFile::load(tmp.path()).unwrap();
        assert_eq!(got, vec![t("a", false), t("b", false)]);
        assert!(!tmp.path().join("targets.json.tmp").exists());
    }
}
