//! `minetsdb scrape` end to end against a server on 127.0.0.1 that serves
//! a known number of connections: printed text, storing then querying,
//! and failing targets.

mod common;
use common::Server;

use std::net::TcpListener;
use std::process::{Command, Output};

const NVIDIA: &str = include_str!("../../collectors/tests/fixtures/nvidia_gpu_exporter.prom");
const OPENMETRICS: &str = include_str!("../../collectors/tests/fixtures/openmetrics.txt");

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_minetsdb"))
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn scrape_prints_the_series_with_target_labels() {
    let srv = Server::start("200 OK", "text/plain; version=0.0.4", NVIDIA);
    let url = srv.url.clone();
    let out = bin()
        .args(["scrape", &url, "--job", "gpu"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    let instance = url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("nvidia_smi_clocks_current_graphics_clock_hz{"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains(&format!("instance=\"{instance}\"")), "{line}");
    assert!(line.contains("job=\"gpu\""), "{line}");
    assert!(
        line.contains("uuid=\"4bf9ba0f-3c0c-2c2e-6b3a-d1a3b0b2d3e1\""),
        "{line}"
    );
    assert!(stdout.contains("# TYPE nvidia_smi_clocks_current_graphics_clock_hz gauge"));
    assert!(stdout.contains(&format!("up{{instance=\"{instance}\",job=\"gpu\"}} 1 ")));
    assert!(stdout.contains("scrape_duration_seconds{"));
    assert_eq!(srv.hits(), 1);
}

#[test]
fn scrape_into_a_db_then_query_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let srv = Server::start(
        "200 OK",
        "application/openmetrics-text; version=1.0.0",
        OPENMETRICS,
    );
    let url = srv.url.clone();
    let out = bin()
        .args(["scrape", &url, "--job", "miner", "--store", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.starts_with(&format!("scraped {url}: ")), "{stdout}");
    assert!(stdout.contains("0 bad lines"), "{stdout}");
    assert_eq!(srv.hits(), 1);

    let out = bin()
        .args(["export", "--format", "csv", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let (csv, stderr) = text(&out);
    assert!(out.status.success(), "{csv}{stderr}");
    let watts = csv
        .lines()
        .find(|l| l.contains("minerd_power_watts") && l.contains("220.5"))
        .unwrap_or_else(|| panic!("{csv}"));
    assert!(watts.contains("miner"), "{watts}");

    let out = bin()
        .args(["query", "up", "--format", "csv", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let (q, stderr) = text(&out);
    assert!(out.status.success(), "{q}{stderr}");
    assert!(q.contains("miner"), "{q}");
}

#[test]
fn failing_targets_are_one_line_naming_the_url_and_exit_1() {
    let srv = Server::start("500 Internal Server Error", "text/plain", "");
    let url = srv.url.clone();
    let out = bin().args(["scrape", &url]).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(stderr, format!("minetsdb: {url}: HTTP status 500\n"));
    assert_eq!(srv.hits(), 1);

    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let refused = format!("http://{}/metrics", l.local_addr().unwrap());
    drop(l);
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["scrape", &refused, "--store", "--db"])
        .arg(dir.path())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.starts_with(&format!("minetsdb: {refused}: cannot connect")),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
