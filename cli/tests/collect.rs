//! `minetsdb collect --once` end to end: a config with two jobs against
//! servers on 127.0.0.1 that count their requests, state kept in the db
//! across runs, and NVML absent on the test machine.

mod common;
use common::{Server, TEXT_004};

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

const NODE: &str = include_str!("../../collectors/tests/fixtures/node_exporter.prom");

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_minetsdb"))
}

fn collect(config: &Path, db: &Path) -> Output {
    bin()
        .args(["collect", "--once", "--config"])
        .arg(config)
        .arg("--db")
        .arg(db)
        .output()
        .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn export_csv(db: &Path) -> String {
    let out = bin()
        .args(["export", "--format", "csv", "--db"])
        .arg(db)
        .output()
        .unwrap();
    let (csv, stderr) = text(&out);
    assert!(out.status.success(), "{csv}{stderr}");
    csv
}

#[test]
fn collect_once_scrapes_due_jobs_stores_up_and_keeps_state_in_the_db() {
    let good = Server::start("200 OK", TEXT_004, NODE);
    let bad = Server::start("500 Internal Server Error", TEXT_004, "");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            r#"instance = "rig1"
[[job]]
name = "node"
interval = "1h"
targets = ["{}", "{}"]
labels = {{ rig = "rig1" }}

[[job]]
name = "fast"
interval = "1s"
timeout = "5s"
targets = ["{}"]
"#,
            good.url, bad.url, good.url
        ),
    )
    .unwrap();

    let out = collect(&config, &db);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let failures: Vec<&str> = stderr.lines().filter(|l| l.contains(&bad.url)).collect();
    assert_eq!(failures.len(), 1, "{stderr}");
    assert!(failures[0].contains("500"), "{stderr}");
    assert!(!stderr.contains(&good.url), "{stderr}");
    // No NVIDIA driver here: one warning line, and it did not decide the exit code.
    let nvml: Vec<&str> = stderr.lines().filter(|l| l.contains("NVML")).collect();
    assert_eq!(nvml.len(), 1, "{stderr}");
    assert!(nvml[0].contains("warning"), "{stderr}");
    assert_eq!(good.hits(), 2);
    assert_eq!(bad.hits(), 1);

    let csv = export_csv(&db);
    let good_instance = good
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics");
    let bad_instance = bad
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics");
    let has = |metric: &str, parts: &[&str]| {
        csv.lines()
            .any(|l| l.starts_with(&format!("\"{metric}{{")) && parts.iter().all(|p| l.contains(p)))
    };
    assert!(
        has("go_goroutines", &[good_instance, "node", "rig1"]),
        "{csv}"
    );
    assert!(has("node_boot_time_seconds", &[good_instance]), "{csv}");
    assert!(has("up", &[good_instance, "node", ",1"]), "{csv}");
    assert!(has("up", &[bad_instance, "node", "rig1", ",0"]), "{csv}");
    assert!(
        has("minetsdb_job_last_run_timestamp_seconds", &["node"]),
        "{csv}"
    );

    // At once again: the 1 h job is not due and is skipped (the 1 s job
    // may or may not be, depending on how long the first run took).
    let out = collect(&config, &db);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(bad.hits(), 1, "the 1h job ran again: {stderr}");
    assert!(!stderr.contains(&bad.url), "{stderr}");

    // After its interval the 1 s job runs again; the 1 h job still not.
    std::thread::sleep(Duration::from_millis(1100));
    let before = good.hits();
    let out = collect(&config, &db);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(good.hits(), before + 1, "{stderr}");
    assert_eq!(bad.hits(), 1);
}

#[test]
fn collect_errors_name_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");

    let missing = dir.path().join("nope.toml");
    let out = collect(&missing, &db);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&missing.display().to_string()), "{stderr}");
    assert!(stderr.contains("--config"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    // The default path is under $XDG_CONFIG_HOME.
    let out = bin()
        .args(["collect", "--once", "--db"])
        .arg(&db)
        .env("XDG_CONFIG_HOME", dir.path().join("xdg"))
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("xdg/minetsdb/config.toml"), "{stderr}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[nvml]\nenabled = false\n\n[[job]]\nname = \"x\"\ntargets = [\"http://127.0.0.1:1/\"]\nintervall = \"1m\"\n").unwrap();
    let out = collect(&bad, &db);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:7:1: ", bad.display())),
        "{stderr}"
    );
    assert!(stderr.contains("intervall"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    // The loop fails to start on the same errors: exit 1, at once.
    let out = bin()
        .args(["collect", "--config"])
        .arg(&bad)
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("intervall"), "{stderr}");
}

/// `[storage]` is read by `collect`: a bad tier list is a config error
/// naming the file and line; retention with `downsample = "none"` is
/// accepted.
#[test]
fn storage_table_is_read_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[nvml]\nenabled = false\n[amd]\nenabled = false\n[storage]\ndownsample = \"1h:1y,5m:2y\"\n",
    )
    .unwrap();
    let out = collect(&bad, &db);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:6:", bad.display())) && stderr.contains("storage.downsample"),
        "{stderr}"
    );
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "[nvml]\nenabled = false\n[amd]\nenabled = false\n[storage]\nretention = \"5y\"\ndownsample = \"none\"\n",
    )
    .unwrap();
    let out = collect(&good, &db);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
