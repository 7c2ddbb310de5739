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
    publish_all(&[(path.to_path_buf(), bytes)])
}

/// Publishes several files of one directory as [`publish`] does each, but
/// with their temp files written and fsynced side by side (fsync waits on
/// the device, and a device takes several at once) and one directory
/// fsync after the renames. A crash leaves each file whole or absent.
pub(crate) fn publish_all(files: &[(PathBuf, &[u8])]) -> Result<()> {
    let Some((first, _)) = files.first() else {
        return Ok(());
    };
    let dir = first
        .parent()
        .ok_or_else(|| Error::InvalidArgument(format!("{} has no parent", first.display())))?;
    let tmp_of = |path: &Path| {
        let mut tmp_name = path.as_os_str().to_os_string();
        tmp_name.push(TMP_SUFFIX);
        PathBuf::from(tmp_name)
    };
    let write = |path: &Path, bytes: &[u8]| -> Result<()> {
        let tmp = tmp_of(path);
        let mut f = File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        f.write_all(bytes)
            .map_err(|e| Error::io("write", &tmp, e))?;
        f.sync_all().map_err(|e| Error::io("fsync", &tmp, e))
    };
    if files.len() == 1 {
        write(&files[0].0, files[0].1)?;
    } else {
        const WRITERS: usize = 8;
        let per = files.len().div_ceil(WRITERS);
        std::thread::scope(|s| {
            let handles: Vec<_> = files
                .chunks(per)
                .map(|part| s.spawn(move || part.iter().try_for_each(|(p, b)| write(p, b))))
                .collect();
            handles.into_iter().try_for_each(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(Error::InvalidArgument("a file writer panicked".into()))
                })
            })
        })?;
    }
    for (path, _) in files {
        let tmp = tmp_of(path);
        fs::rename(&tmp, path).map_err(|e| Error::io("rename", &tmp, e))?;
    }
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
    fn publish_all_writes_every_file_whole_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let files: Vec<(PathBuf, Vec<u8>)> = (0..19u8)
            .map(|i| {
                (
                    d.path().join(format!("{i}.blk")),
                    vec![i; 1000 + usize::from(i)],
                )
            })
            .collect();
        let refs: Vec<(PathBuf, &[u8])> = files.iter().map(|(p, b)| (p.clone(), &b[..])).collect();
        publish_all(&refs).unwrap();
        for (p, b) in &files {
            assert_eq!(&fs::read(p).unwrap(), b);
        }
        let names: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), files.len(), "{names:?}");
        // A directory that cannot take files: an error naming the path.
        let bad = d.path().join("missing").join("x.blk");
        let e = publish_all(&[
            (bad.clone(), &[1u8][..]),
            (d.path().join("missing/y.blk"), &[2u8][..]),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
        assert!(publish_all(&[]).is_ok());
    }

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
