//! Filesystem discipline: the writer lock and the atomic publish of files.
//!
//! Published files are never modified: a new file is written under a
//! temporary name, fsynced, renamed into place and the directory fsynced, so
//! a crash leaves either no file or the whole file (lsm-tree
//! `rewrite_atomic`, redb's design notes).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Suffix of files being written; such files are garbage after a crash and
/// are removed on the next writable open.
pub(crate) const TMP_SUFFIX: &str = ".tmp";

/// Fsyncs a directory so that creations, renames and removals in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    let d = File::open(dir).map_err(|e| Error::io("open directory", dir, e))?;
    d.sync_all()
        .map_err(|e| Error::io("fsync directory", dir, e))
}

/// Creates `dir` (and parents) if missing, fsyncing the parent when created.
pub(crate) fn create_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
    if let Some(parent) = dir.parent() {
        if !parent.as_os_str().is_empty() {
            sync_dir(parent)?;
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically: temp file, fsync, rename, fsync dir.
pub(crate) fn publish(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::InvalidArgument(format!("{} has no parent", path.display())))?;
    let mut tmp_name = path.as_os_str().to_os_string();
    tmp_name.push(TMP_SUFFIX);
    let tmp = PathBuf::from(tmp_name);
    {
        let mut f = File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        f.write_all(bytes)
            .map_err(|e| Error::io("write", &tmp, e))?;
        f.sync_all().map_err(|e| Error::io("fsync", &tmp, e))?;
    }
    fs::rename(&tmp, path).map_err(|e| Error::io("rename", &tmp, e))?;
    sync_dir(dir)
}

/// Removes leftover temporary files in `dir` (from a crash mid-publish).
pub(crate) fn remove_tmp_files(dir: &Path) -> Result<()> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("read directory", dir, e)),
    };
    let mut removed = false;
    for ent in rd {
        let ent = ent.map_err(|e| Error::io("read directory", dir, e))?;
        let p = ent.path();
        if p.extension().is_some_and(|x| x == "tmp") {
            fs::remove_file(&p).map_err(|e| Error::io("remove", &p, e))?;
            removed = true;
        }
    }
    if removed {
        sync_dir(dir)?;
    }
    Ok(())
}

/// The single-writer lock: an exclusive `flock` on `<db>/LOCK`, held for the
/// life of the writer. The file records the holder's pid so the error can
/// name it. Released by the kernel when the process dies, so a killed
/// writer never leaves a stale lock.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

impl DirLock {
    pub(crate) fn acquire(db_dir: &Path) -> Result<DirLock> {
        let path = db_dir.join("LOCK");
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io("open", &path, e))?;
        match f.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut s = String::new();
                let _ = f.read_to_string(&mut s);
                let pid = s.trim().parse().unwrap_or(0);
                return Err(Error::Locked {
                    path: db_dir.to_path_buf(),
                    pid,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("lock", &path, e)),
        }
        f.set_len(0).map_err(|e| Error::io("truncate", &path, e))?;
        f.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io("seek", &path, e))?;
        writeln!(f, "{}", std::process::id()).map_err(|e| Error::io("write", &path, e))?;
        f.sync_data().map_err(|e| Error::io("fsync", &path, e))?;
        Ok(DirLock { _file: f })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_writer_is_told_the_pid() {
        let d = tempfile::tempdir().unwrap();
        let _l = DirLock::acquire(d.path()).unwrap();
        match DirLock::acquire(d.path()) {
            Err(Error::Locked { pid, .. }) => assert_eq!(pid, std::process::id()),
            other => panic!("expected Locked, got {other:?}"),
        }
    }

    #[test]
    fn publish_replaces_atomically_and_cleans_tmp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.blk");
        publish(&p, b"one").unwrap();
        publish(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        fs::write(d.path().join("y.blk.tmp"), b"partial").unwrap();
        remove_tmp_files(d.path()).unwrap();
        assert!(!d.path().join("y.blk.tmp").exists());
        assert!(p.exists());
    }
}
