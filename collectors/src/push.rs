//! Pushing collections to a remote-write URL (VictoriaMetrics, Mimir,
//! Thanos, Prometheus' receiver) through a durable on-disk queue.
//!
//! Each collection, once stored locally, is encoded as one remote-write
//! request ([`crate::remote_write::encode`]) and published in the queue
//! directory as `<seq>.rw` (20-digit sequence number): written to a
//! `.tmp`, fsynced, renamed, the directory fsynced, so a crash leaves
//! either the whole request or nothing. [`Queue::send`] posts the files
//! oldest first and deletes each one after a 2xx answer, so the receiver
//! sees requests in collection order and a receiver that was down gets
//! everything when it comes back.
//!
//! Outcomes, as Prometheus' own sender treats them:
//! - 2xx: delivered, the file is deleted;
//! - 5xx, 429, a connection failure or timeout: the receiver may take it
//!   later; sending stops there and the caller retries with backoff;
//! - any other 4xx: the receiver will never take it; the file is renamed
//!   `<seq>.rejected` (kept for a person to look at, never resent) and
//!   sending goes on.
//!
//! Delivery is at least once: a crash between the receiver's 2xx and the
//! deletion sends that request again (receivers keep one copy of a sample
//! sent twice with the same timestamp and value, or dedup it).
//! The queue is not bounded: a day of a rig's one-minute collections is
//! about 1,440 files of a few KiB.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// Why sending stopped.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The queue directory could not be read or changed.
    #[error("push queue {path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The receiver could not take the request now; try again later.
    #[error("pushing to {url}: {what} ({pending} request(s) queued, retried later)")]
    Retry {
        /// The receiver.
        url: String,
        /// What happened.
        what: String,
        /// Requests still queued.
        pending: usize,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PushError + '_ {
    move |source| PushError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A directory of requests waiting to be sent.
#[derive(Debug)]
pub struct Queue {
    dir: PathBuf,
    url: String,
    agent: ureq::Agent,
    /// The next sequence number; also serialises publishing.
    next: Mutex<u64>,
}

/// What [`Queue::send`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Sent {
    /// Requests delivered.
    pub delivered: usize,
    /// Requests the receiver refused for good (kept as `.rejected`), with
    /// its answer.
    pub rejected: Vec<String>,
}

impl Queue {
    /// Opens (creating) the queue in `dir` for `url`; leftover `.tmp`
    /// files of a crash are removed. Each request may take `timeout`.
    pub fn open(dir: &Path, url: &str, timeout: Duration) -> Result<Queue, PushError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut next = 0;
        for ent in fs::read_dir(dir).map_err(io_err(dir))? {
            let p = ent.map_err(io_err(dir))?.path();
            if p.extension().is_some_and(|x| x == "tmp") {
                fs::remove_file(&p).map_err(io_err(&p))?;
            } else if let Some(seq) = seq_of(&p) {
                next = next.max(seq + 1);
            }
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .user_agent(concat!("minetsdb/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(Queue {
            dir: dir.to_path_buf(),
            url: url.to_string(),
            agent,
            next: Mutex::new(next),
        })
    }

    /// The receiver's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Publishes one request body durably at the end of the queue.
    pub fn push(&self, body: &[u8]) -> Result<(), PushError> {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let seq = *next;
        let path = self.dir.join(format!("{seq:020}.rw"));
        let tmp = self.dir.join(format!("{seq:020}.tmp"));
        {
            let mut f = fs::File::create(&tmp).map_err(io_err(&tmp))?;
            f.write_all(body).map_err(io_err(&tmp))?;
            f.sync_all().map_err(io_err(&tmp))?;
        }
        fs::rename(&tmp, &path).map_err(io_err(&tmp))?;
        sync_dir(&self.dir)?;
        *next = seq + 1;
        Ok(())
    }

    /// Queued requests, oldest first.
    pub fn pending(&self) -> Result<Vec<PathBuf>, PushError> {
        let mut v: Vec<(u64, PathBuf)> = Vec::new();
        for ent in fs::read_dir(&self.dir).map_err(io_err(&self.dir))? {
            let p = ent.map_err(io_err(&self.dir))?.path();
            if p.extension().is_some_and(|x| x == "rw") {
                if let Some(seq) = seq_of(&p) {
                    v.push((seq, p));
                }
            }
        }
        v.sort();
        Ok(v.into_iter().map(|x| x.1).collect())
    }

    /// Sends the queued requests oldest first until the queue is empty
    /// (`Ok`) or the receiver cannot take one now (`Err(Retry)`).
    pub fn send(&self) -> Result<Sent, PushError> {
        let mut sent = Sent::default();
        let pending = self.pending()?;
        let n = pending.len();
        for (i, path) in pending.into_iter().enumerate() {
            let body = fs::read(&path).map_err(io_err(&path))?;
            let retry = |what: String| PushError::Retry {
                url: self.url.clone(),
                what,
                pending: n - i,
            };
            let resp = self
                .agent
                .post(&self.url)
                .header("Content-Encoding", "snappy")
                .header("Content-Type", "application/x-protobuf")
                .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                .send(&body[..])
                .map_err(|e| retry(e.to_string()))?;
            let status = resp.status().as_u16();
            match status {
                200..=299 => {
                    fs::remove_file(&path).map_err(io_err(&path))?;
                    sent.delivered += 1;
                }
                429 | 500..=599 => return Err(retry(format!("HTTP {status}"))),
                _ => {
                    let why = resp
                        .into_body()
                        .with_config()
                        .limit(4096)
                        .read_to_string()
                        .unwrap_or_default();
                    let to = path.with_extension("rejected");
                    fs::rename(&path, &to).map_err(io_err(&path))?;
                    sent.rejected
                        .push(format!("{}: HTTP {status} {}", to.display(), why.trim()));
                }
            }
        }
        if sent.delivered > 0 || !sent.rejected.is_empty() {
            sync_dir(&self.dir)?;
        }
        Ok(sent)
    }
}

fn seq_of(p: &Path) -> Option<u64> {
    p.file_stem()?.to_str()?.parse().ok()
}

fn sync_dir(dir: &Path) -> Result<(), PushError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read};
    use std::net::TcpListener;

    /// A receiver answering each request with the next status of `script`,
    /// returning the bodies it got.
    fn receiver(script: Vec<u16>) -> (String, std::thread::JoinHandle<Vec<Vec<u8>>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/api/v1/write", l.local_addr().unwrap());
        let h = std::thread::spawn(move || {
            let mut got = Vec::new();
            for status in script {
                let (s, _) = l.accept().unwrap();
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut len = 0;
                let mut line = String::new();
                while r.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                    line.clear();
                }
                let mut body = vec![0; len];
                r.read_exact(&mut body).unwrap();
                got.push(body);
                let mut s = s;
                write!(
                    s,
                    "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno"
                )
                .unwrap();
            }
            got
        });
        (url, h)
    }

    #[test]
    fn sends_in_order_keeps_what_failed_and_sets_rejected_aside() {
        let dir = tempfile::tempdir().unwrap();
        let (url, h) = receiver(vec![204, 503, 200, 400, 204, 204]);
        let q = Queue::open(dir.path(), &url, Duration::from_secs(5)).unwrap();
        for b in [b"one", b"two", b"thr", b"fou"] {
            q.push(b).unwrap();
        }
        // "one" delivered, "two" answered 503: stop, three left.
        let e = q.send().unwrap_err();
        assert!(matches!(e, PushError::Retry { pending: 3, .. }), "{e}");
        assert_eq!(q.pending().unwrap().len(), 3);
        // A reopened queue (a restart) carries on after the last number.
        let q = Queue::open(dir.path(), &url, Duration::from_secs(5)).unwrap();
        q.push(b"fiv").unwrap();
        let sent = q.send().unwrap();
        // "two" 200, "thr" 400 (set aside, never resent), "fou", "fiv" 204.
        assert_eq!(sent.delivered, 3, "{sent:?}");
        assert_eq!(sent.rejected.len(), 1);
        assert!(q.pending().unwrap().is_empty());
        let bodies = h.join().unwrap();
        let bodies: Vec<&[u8]> = bodies.iter().map(|b| &b[..]).collect();
        assert_eq!(
            bodies,
            [&b"one"[..], b"two", b"two", b"thr", b"fou", b"fiv"]
        );
        let _ = fs::metadata(dir.path().join(format!("{:020}.rejected", 2))).unwrap();
    }
}
