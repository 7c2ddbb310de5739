//! `minetsdb collect` without `--once`: the long-running loop, as a child
//! process against a server on 127.0.0.1 that counts its requests, stopped
//! by SIGTERM. The waits are liveness bounds, not performance claims.

mod common;
use common::{Server, TEXT_004};

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_minetsdb"))
}

const BODY: &str = "# TYPE hashrate gauge\nhashrate 123.5\n";

/// The loop as a child; killed if the test fails before stopping it.
struct Loop(Child);

impl Loop {
    fn start(config: &Path, db: &Path) -> Loop {
        let child = bin()
            .args(["collect", "--config"])
            .arg(config)
            .arg("--db")
            .arg(db)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Loop(child)
    }

    fn sigterm(&self) {
        let st = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// Waits up to `limit` for the child to exit.
    fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Some(st) = self.0.try_wait().unwrap() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    fn stderr(&mut self) -> String {
        let mut s = String::new();
        if let Some(mut e) = self.0.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut s);
        }
        s
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_hits(server: &Server, n: usize, limit: Duration) {
    let end = Instant::now() + limit;
    while server.hits() < n {
        assert!(
            Instant::now() < end,
            "only {} requests in {limit:?}",
            server.hits()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn write_config(dir: &Path, url: &str) -> std::path::PathBuf {
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "instance = \"rig1\"\n[nvml]\nenabled = false\n\n[[job]]\nname = \"fast\"\ninterval = \"1s\"\ntimeout = \"5s\"\ntargets = [\"{url}\"]\n"
        ),
    )
    .unwrap();
    config
}

#[test]
fn the_loop_scrapes_every_interval_and_stops_cleanly_on_sigterm() {
    let server = Server::start("200 OK", TEXT_004, BODY);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let config = write_config(dir.path(), &server.url);

    let mut child = Loop::start(&config, &db);
    wait_for_hits(&server, 3, Duration::from_secs(15));
    child.sigterm();
    let st = child.wait(Duration::from_secs(10));
    let stderr = child.stderr();
    let st = st.unwrap_or_else(|| panic!("still running 10 s after SIGTERM: {stderr}"));
    assert_eq!(st.code(), Some(0), "{stderr}");
    assert!(!stderr.contains(&server.url), "{stderr}");

    let out = bin()
        .args(["export", "--format", "csv", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let csv = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{csv}");
    let instance = server
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics");
    let up = csv
        .lines()
        .filter(|l| l.starts_with("\"up{") && l.contains(instance) && l.contains("fast"))
        .filter(|l| l.ends_with(",1"))
        .count();
    assert!(up >= 3, "{up} up samples:\n{csv}");
    let runs = csv
        .lines()
        .filter(|l| l.starts_with("\"minetsdb_job_last_run_timestamp_seconds{"))
        .count();
    assert!(runs >= 3, "{csv}");

    // Restarted at once, the loop honours the run recorded just before and
    // does not scrape again before the interval.
    let before = server.hits();
    let mut child = Loop::start(&config, &db);
    std::thread::sleep(Duration::from_millis(300));
    child.sigterm();
    let st = child.wait(Duration::from_secs(10));
    let stderr = child.stderr();
    assert_eq!(st.and_then(|s| s.code()), Some(0), "{stderr}");
    assert!(server.hits() <= before + 1, "{stderr}");
}

#[test]
fn a_second_collect_on_the_running_loops_db_fails_at_once() {
    let server = Server::start("200 OK", TEXT_004, BODY);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let config = write_config(dir.path(), &server.url);

    let mut child = Loop::start(&config, &db);
    wait_for_hits(&server, 1, Duration::from_secs(15));
    let started = Instant::now();
    let out = bin()
        .args(["collect", "--once", "--config"])
        .arg(&config)
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("locked by pid {}", child.0.id())),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    child.sigterm();
    let st = child.wait(Duration::from_secs(10));
    let stderr = child.stderr();
    assert_eq!(st.and_then(|s| s.code()), Some(0), "{stderr}");
}

/// SIGKILL at random moments of the loop: each kill may cost the scrape in
/// flight (its request answered, its append not yet synced), never a
/// stored one, and the database opens clean afterwards.
#[test]
fn a_killed_loop_loses_at_most_its_unacknowledged_batch() {
    let server = Server::start("200 OK", TEXT_004, BODY);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let config = write_config(dir.path(), &server.url);
    let instance = server
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .to_string();
    let stored_up = || {
        let out = bin()
            .args(["export", "--format", "csv", "--match", "up", "--db"])
            .arg(&db)
            .output()
            .unwrap();
        let csv = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{csv}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        csv.lines()
            .filter(|l| l.contains(&instance) && l.ends_with(",1"))
            .count()
    };
    let mut seed: u64 = 5;
    let rounds = 6;
    for round in 0..rounds {
        let mut child = Loop::start(&config, &db);
        wait_for_hits(&server, server.hits() + 1, Duration::from_secs(15));
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        // Anywhere in the next scrape interval, the scrape itself included.
        std::thread::sleep(Duration::from_millis((seed >> 33) % 1200));
        child.0.kill().unwrap();
        child.0.wait().unwrap();
        let (hits, up) = (server.hits(), stored_up());
        assert!(
            up <= hits && up + round + 1 >= hits,
            "round {round}: {hits} scrapes answered, {up} stored"
        );
    }
    // A writable open cuts a torn WAL tail; then nothing is damaged.
    let out = bin().args(["compact", "--db"]).arg(&db).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = bin().args(["check", "--db"]).arg(&db).output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
