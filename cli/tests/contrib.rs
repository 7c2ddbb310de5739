//! `contrib/minetsdb.service` and `contrib/minetsdb.cron` are what a miner
//! installs, so they are tested like code: both files are parsed, the
//! minetsdb command line of each is run against the real binary (its
//! /etc and /var/lib paths swapped for temporary ones) so that every flag
//! they pass is one the binary accepts, and the unit is checked for its
//! restart policy and hardening. `systemd-analyze verify` runs too, where
//! the machine has it.

mod common;
use common::{Server, TEXT_004};

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const UNIT: &str = include_str!("../../contrib/minetsdb.service");
const CRON: &str = include_str!("../../contrib/minetsdb.cron");
const BIN: &str = "/usr/local/bin/minetsdb";
const CONFIG: &str = "/etc/minetsdb/config.toml";
const DB: &str = "/var/lib/minetsdb";

/// `[Section]` -> key -> values (a key may repeat, e.g. DeviceAllow).
type Unit = BTreeMap<String, BTreeMap<String, Vec<String>>>;

fn parse_unit(text: &str) -> Unit {
    let mut unit = Unit::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
            continue;
        }
        assert!(!line.ends_with('\\'), "no continuation lines: {line}");
        let (k, v) = line.split_once('=').expect("key=value");
        unit.entry(section.clone())
            .or_default()
            .entry(k.trim().to_string())
            .or_default()
            .push(v.trim().to_string());
    }
    unit
}

/// The one value of `key` in [Service].
fn service<'a>(unit: &'a Unit, key: &str) -> &'a str {
    let v = &unit["Service"]
        .get(key)
        .unwrap_or_else(|| panic!("{key} missing"));
    assert_eq!(v.len(), 1, "{key} set more than once");
    &v[0]
}

/// The command of the cron line: (schedule, user, argv).
fn parse_cron(text: &str) -> (String, String, Vec<String>) {
    let mut jobs = text.lines().map(str::trim).filter(|l| {
        !l.is_empty() && !l.starts_with('#') && !l.split_whitespace().next().unwrap().contains('=')
    });
    let line = jobs.next().expect("a cron line");
    assert!(jobs.next().is_none(), "one cron line");
    let f: Vec<&str> = line.split_whitespace().collect();
    (
        f[..5].join(" "),
        f[5].to_string(),
        f[6..].iter().map(|s| s.to_string()).collect(),
    )
}

/// The installed paths of `argv` swapped for `config` and `db`; the binary
/// dropped.
fn local_args(argv: &[String], config: &Path, db: &Path) -> Vec<String> {
    assert_eq!(argv[0], BIN);
    argv[1..]
        .iter()
        .map(|a| match a.as_str() {
            CONFIG => config.display().to_string(),
            DB => db.display().to_string(),
            _ => a.clone(),
        })
        .collect()
}

fn write_config(dir: &Path, url: &str) -> std::path::PathBuf {
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "instance = \"rig1\"\n[nvml]\nenabled = false\n\n[[job]]\nname = \"node\"\ninterval = \"1s\"\ntargets = [\"{url}\"]\n"
        ),
    )
    .unwrap();
    config
}

#[test]
fn unit_runs_with_its_own_flags_and_stops_on_its_kill_signal() {
    let unit = parse_unit(UNIT);
    assert_eq!(service(&unit, "Type"), "simple");
    let argv: Vec<String> = service(&unit, "ExecStart")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(
        argv,
        [BIN, "collect", "--config", CONFIG, "--db", DB],
        "the service runs the loop, with the paths the README names"
    );
    assert_eq!(service(&unit, "Restart"), "on-failure");
    assert_eq!(service(&unit, "KillSignal"), "SIGTERM");
    let stop_s: u64 = service(&unit, "TimeoutStopSec")
        .trim_end_matches('s')
        .parse()
        .unwrap();
    // The default job timeout (10 s) must fit in the stop timeout.
    assert!(stop_s > 10, "{stop_s}");

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start("200 OK", TEXT_004, "# TYPE hashrate gauge\nhashrate 1\n");
    let config = write_config(dir.path(), &server.url);
    let db = dir.path().join("db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_minetsdb"))
        .args(local_args(&argv, &config, &db))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let scraped = Instant::now() + Duration::from_secs(20);
    while server.hits() == 0 && Instant::now() < scraped {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(server.hits() >= 1, "the loop never scraped");
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let end = Instant::now() + Duration::from_secs(stop_s);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("not stopped within TimeoutStopSec={stop_s}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(db.join("wal").is_dir(), "{stderr}");
}

#[test]
fn unit_is_hardened_and_can_still_reach_the_gpus() {
    let unit = parse_unit(UNIT);
    for (key, want) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectControlGroups", "yes"),
        ("RestrictNamespaces", "yes"),
        ("RestrictSUIDSGID", "yes"),
        ("LockPersonality", "yes"),
        ("CapabilityBoundingSet", ""),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("StateDirectory", "minetsdb"),
        ("ConfigurationDirectory", "minetsdb"),
        ("ReadWritePaths", DB),
        ("User", "minetsdb"),
        // NVML needs /dev/nvidiactl and /dev/nvidia<N>: /dev stays the
        // host's, and the device cgroup lets only those through.
        ("PrivateDevices", "no"),
        ("DevicePolicy", "closed"),
        ("DeviceAllow", "char-nvidia-frontend rw"),
    ] {
        assert_eq!(service(&unit, key), want, "{key}");
    }
    // The paths the service writes and reads are the ones systemd makes.
    assert_eq!(DB, format!("/var/lib/{}", service(&unit, "StateDirectory")));
    assert!(CONFIG.starts_with(&format!(
        "/etc/{}/",
        service(&unit, "ConfigurationDirectory")
    )));
    assert_eq!(unit["Install"]["WantedBy"], ["multi-user.target"]);
}

/// `systemd-analyze verify` when the machine has it: rc 0 is not enough
/// (it only warns about unknown keys or bad values), so no line of its
/// output may name the unit.
#[test]
fn systemd_analyze_verify_when_present() {
    let Ok(probe) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze not installed: skipped");
        return;
    };
    if !probe.status.success() {
        eprintln!("systemd-analyze unusable: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("minetsdb.service");
    // verify checks that ExecStart is executable: point it at the build.
    std::fs::write(&path, UNIT.replace(BIN, env!("CARGO_BIN_EXE_minetsdb"))).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    let about_us: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("minetsdb.service"))
        .collect();
    assert!(about_us.is_empty(), "{text}");
}

#[test]
fn cron_line_runs_with_its_own_flags() {
    let (schedule, user, argv) = parse_cron(CRON);
    assert_eq!(schedule, "* * * * *");
    assert_eq!(user, "minetsdb");
    assert_eq!(
        argv,
        [BIN, "collect", "--once", "--config", CONFIG, "--db", DB]
    );
    // Cron and the service share one database and one config.
    let unit = parse_unit(UNIT);
    let exec: Vec<&str> = service(&unit, "ExecStart").split_whitespace().collect();
    assert_eq!(exec[2..], argv[3..]);

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start("200 OK", TEXT_004, "# TYPE hashrate gauge\nhashrate 1\n");
    let config = write_config(dir.path(), &server.url);
    let db = dir.path().join("db");
    let out = Command::new(env!("CARGO_BIN_EXE_minetsdb"))
        .args(local_args(&argv, &config, &db))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // Cron mails any output: a run where all went well prints nothing.
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{stderr}");
    assert_eq!(server.hits(), 1);
    assert!(db.join("wal").is_dir());
}
