//! `collect --push URL` against real VictoriaMetrics (Debian's
//! `victoria-metrics` 1.79; scripts/test installs it) on 127.0.0.1: with
//! the receiver down, collections are stored locally and queued; once it
//! is up, the next run delivers the whole queue, and every sample the
//! database holds is in VictoriaMetrics exactly once.
//!
//! Without the `victoria-metrics` binary the test fails naming the
//! package, unless `MINETSDB_SKIP_VICTORIA_METRICS=1` is set.

mod common;
use common::{Server, TEXT_004};

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use minetsdb::{Db, MatchOp, Matcher, Options};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(s, "GET {path} HTTP/1.0\r\n\r\n")?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    let (head, body) = buf.split_once("\r\n\r\n").unwrap_or((&buf, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((code, body.to_string()))
}

type Stored = BTreeMap<String, Vec<(i64, f64)>>;

fn key(pairs: impl Iterator<Item = (String, String)>) -> String {
    let mut v: Vec<(String, String)> = pairs.collect();
    v.sort();
    format!("{v:?}")
}

/// Every series VictoriaMetrics holds, from /api/v1/export.
fn exported(port: u16) -> Stored {
    let (_, body) = get(
        port,
        "/api/v1/export?match%5B%5D=%7B__name__%21%3D%22%22%7D",
    )
    .unwrap();
    let mut out = Stored::new();
    for line in body.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let labels = v["metric"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()));
        let ts = v["timestamps"].as_array().unwrap();
        let vs = v["values"].as_array().unwrap();
        let mut pts: Vec<(i64, f64)> = ts
            .iter()
            .zip(vs)
            .map(|(t, x)| {
                let v = x.as_f64().unwrap_or_else(|| panic!("not a number: {line}"));
                (t.as_i64().unwrap(), v)
            })
            .collect();
        pts.sort_by_key(|p| p.0);
        out.entry(key(labels)).or_default().extend(pts);
    }
    out
}

#[test]
fn collect_push_delivers_every_sample_exactly_once_after_an_outage() {
    if Command::new("victoria-metrics")
        .arg("-version")
        .output()
        .is_err()
    {
        if std::env::var_os("MINETSDB_SKIP_VICTORIA_METRICS").is_some() {
            eprintln!("SKIPPED: victoria-metrics not installed");
            return;
        }
        panic!("needs the Debian package `victoria-metrics`: apt-get install victoria-metrics, or run scripts/test which installs it");
    }
    let work = tempfile::tempdir().unwrap();
    let exporter = Server::start("200 OK", TEXT_004, "a_metric 1\nb_metric{x=\"y\"} 2.5\n");
    let cfg = work.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[nvml]\nenabled = false\n[[job]]\nname = \"exp\"\ninterval = \"1s\"\ntargets = [\"{}\"]\n",
            exporter.url
        ),
    )
    .unwrap();
    let db = work.path().join("db");
    let vm_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{vm_port}/api/v1/write");
    let collect = || {
        let out = Command::new(env!("CARGO_BIN_EXE_minetsdb"))
            .args([
                "collect",
                "--once",
                "--config",
                cfg.to_str().unwrap(),
                "--push",
                &url,
                "--db",
            ])
            .arg(&db)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{err}");
        std::thread::sleep(Duration::from_millis(1100));
        err
    };
    let queued = || {
        std::fs::read_dir(db.join("push-queue"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "rw")
            })
            .count()
    };
    // The receiver is down: stored and queued, a warning, exit 0.
    for n in 1..=2 {
        let err = collect();
        assert!(err.contains("retried later"), "{err}");
        assert_eq!(queued(), n);
    }
    // It comes up: the next run sends the queue, its own collection last.
    let log = std::fs::File::create(work.path().join("vm.log")).unwrap();
    let _vm = Proc(
        Command::new("victoria-metrics")
            .arg(format!("-httpListenAddr=127.0.0.1:{vm_port}"))
            .arg(format!(
                "-storageDataPath={}",
                work.path().join("vm").display()
            ))
            .arg("-retentionPeriod=100y")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !matches!(get(vm_port, "/health"), Ok((200, _))) {
        assert!(Instant::now() < deadline, "victoria-metrics did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let err = collect();
    assert!(!err.contains("retried later"), "{err}");
    assert_eq!(queued(), 0);
    // What the database holds, series by series.
    let mut stored = Stored::new();
    let db = Db::open_read_only(&db, Options::default()).unwrap();
    for s in db
        .select(
            &[Matcher::new(MatchOp::Regex, "__name__", ".+").unwrap()],
            ..,
        )
        .unwrap()
    {
        let s = s.unwrap();
        // The schedule's own state is not a collection's, and not pushed;
        // nor is it taken for a vanished target's series (no stale marker).
        if s.labels.metric_name() == "minetsdb_job_last_run_timestamp_seconds" {
            assert!(s.samples.iter().all(|x| !x.v.is_nan()), "{s:?}");
            assert_eq!(s.samples.len(), 3, "{s:?}");
            continue;
        }
        let k = key(s.labels.iter().map(|l| (l.name.clone(), l.value.clone())));
        stored.insert(k, s.samples.iter().map(|x| (x.t, x.v)).collect());
    }
    assert!(stored.values().all(|v| v.len() == 3), "{stored:?}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let _ = get(vm_port, "/internal/force_flush");
        let got = exported(vm_port);
        if got == stored {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "db:\n{stored:?}\nvictoria-metrics:\n{got:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}
