//! `<db>/notify/state.json`: per receiver, per alert, what was delivered
//! and what failed, so a fresh process (a cron `alerts` run) neither
//! resends what the last one delivered nor forgets what it failed to.
//!
//! Written whole, atomically: a temporary file, fsync, rename, fsync of the
//! directory. A damaged file is reported and replaced; the worst that
//! costs is one repeated notification.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::NotifyError;

/// The file's name inside the state directory.
pub const FILE_NAME: &str = "state.json";
const VERSION: u32 = 1;

/// What was last delivered of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sent {
    /// The firing notification.
    Firing,
    /// The resolved notification.
    Resolved,
}

/// One alert at one receiver.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// What was delivered last, and of which firing episode (its
    /// `fired_at_ms`): a new episode of the same labels is a new alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<(Sent, i64)>,
    /// When that was (the evaluation time it was sent for), ms.
    #[serde(default)]
    pub sent_at_ms: i64,
    /// Failed deliveries since the last success.
    #[serde(default)]
    pub failures: u32,
    /// No retry before this, ms.
    #[serde(default)]
    pub retry_at_ms: i64,
    /// The last failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The last evaluation that handed this alert over, ms.
    #[serde(default)]
    pub seen_ms: i64,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateFile {
    #[serde(default)]
    version: u32,
    /// Receiver name → alert labels (`{a="b", ...}`) → entry.
    #[serde(default)]
    pub receivers: BTreeMap<String, BTreeMap<String, Entry>>,
}

impl StateFile {
    /// Reads `path`; no file is an empty state.
    pub fn load(path: &Path) -> Result<StateFile, NotifyError> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| NotifyError::State {
                path: path.to_path_buf(),
                what: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(StateFile::default()),
            Err(e) => Err(NotifyError::State {
                path: path.to_path_buf(),
                what: e.to_string(),
            }),
        }
    }

    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = self.clone();
        s.version = VERSION;
        // Maps of strings and plain numbers always serialize.
        serde_json::to_vec_pretty(&s).unwrap_or_default()
    }
}

/// The lock file's name inside the state directory.
pub const LOCK_NAME: &str = "LOCK";

/// Takes the exclusive lock of the state directory `dir`, waiting up to
/// `wait` for a holder to let go: an `flock` on `<dir>/LOCK`, released
/// when the returned file is closed or the process dies (so a killed
/// notifier never leaves a stale lock). The file records the holder's
/// pid, for the error a second one gets.
pub fn lock(dir: &Path, wait: Duration) -> Result<std::fs::File, NotifyError> {
    let path = dir.join(LOCK_NAME);
    let err = |what: String| NotifyError::State {
        path: path.clone(),
        what,
    };
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| err(e.to_string()))?;
    let deadline = Instant::now() + wait;
    loop {
        match f.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut s = String::new();
                let _ = f.read_to_string(&mut s);
                return Err(NotifyError::Locked {
                    pid: s.trim().parse().unwrap_or(0),
                    path,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(err(format!("locking: {e}"))),
        }
    }
    f.set_len(0).map_err(|e| err(e.to_string()))?;
    f.seek(SeekFrom::Start(0)).map_err(|e| err(e.to_string()))?;
    writeln!(f, "{}", std::process::id()).map_err(|e| err(e.to_string()))?;
    Ok(f)
}

/// Replaces `path` by `bytes` atomically and durably.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), NotifyError> {
    let tmp: PathBuf = path.with_extension("json.tmp");
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    };
    write().map_err(|e| NotifyError::State {
        path: path.to_path_buf(),
        what: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reports_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        assert_eq!(StateFile::load(&path).unwrap(), StateFile::default());
        let mut s = StateFile::default();
        s.receivers.entry("r".into()).or_default().insert(
            "{alertname=\"A\"}".into(),
            Entry {
                sent: Some((Sent::Firing, 5)),
                sent_at_ms: 6,
                failures: 1,
                retry_at_ms: 7,
                error: Some("boom".into()),
                seen_ms: 8,
            },
        );
        write_atomic(&path, &s.encode()).unwrap();
        let mut back = StateFile::load(&path).unwrap();
        back.version = 0;
        assert_eq!(back, s);
        assert!(!path.with_extension("json.tmp").exists());
        std::fs::write(&path, b"{\"receivers\": 3").unwrap();
        let e = StateFile::load(&path).unwrap_err().to_string();
        assert!(e.contains("state.json"), "{e}");
    }

    #[test]
    fn a_second_lock_is_refused_with_the_holders_pid() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock(dir.path(), Duration::ZERO).unwrap();
        let t = Instant::now();
        match lock(dir.path(), Duration::from_millis(100)) {
            Err(NotifyError::Locked { pid, path }) => {
                assert_eq!(pid, std::process::id());
                assert_eq!(path, dir.path().join(LOCK_NAME));
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        assert!(t.elapsed() >= Duration::from_millis(100), "waited");
        // Let go while the next one waits: it gets the lock.
        let waiter = {
            let d = dir.path().to_path_buf();
            std::thread::spawn(move || lock(&d, Duration::from_secs(10)).map(drop))
        };
        std::thread::sleep(Duration::from_millis(50));
        drop(held);
        assert!(waiter.join().unwrap().is_ok());
        assert!(lock(dir.path(), Duration::ZERO).is_ok());
    }
}
