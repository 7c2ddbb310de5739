//! `serve --collect` under load, on loopback: client threads query for a
//! while (range and instant queries, as Grafana's panels do) while the
//! collector stores fake GPUs every second. No request may fail, and no
//! collection may be lost: every recorded run has its samples. Throughput
//! and p99 latency are printed (`--nocapture`); the test asserts only
//! correctness. `MINETSDB_LOAD_SECS` lengthens the run (default 4 s).
//! Then `/federate` serves the newest stored sample of each series.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_minetsdb"))
}

fn post(port: u16, path: &str, form: &str) -> std::io::Result<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "POST {path} HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    )?;
    let mut b = Vec::new();
    s.read_to_end(&mut b)?;
    let head = String::from_utf8_lossy(&b[..b.len().min(64)]).to_string();
    Ok(head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0))
}

#[test]
fn queries_while_collecting_never_fail_and_lose_nothing() {
    let secs: u64 = std::env::var("MINETSDB_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "instance = \"rig1\"\n[nvml]\nfake = 4\ninterval = \"1s\"\n[amd]\nenabled = false\n",
    )
    .unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = bin()
        .args(["serve", "--collect", "--config"])
        .arg(&cfg)
        .arg("--db")
        .arg(&db)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ready = Instant::now() + Duration::from_secs(30);
    while post(port, "/api/v1/query", "query=1").map_or(true, |c| c != 200) {
        assert!(Instant::now() < ready, "serve did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Let a few collections land first.
    std::thread::sleep(Duration::from_millis(2500));
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let until = Instant::now() + Duration::from_secs(secs);
    let workers: Vec<_> = (0..4)
        .map(|w| {
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                let mut errors = Vec::new();
                let mut i = 0u64;
                while Instant::now() < until {
                    let t = now();
                    let (path, form) = if (i + w).is_multiple_of(2) {
                        (
                            "/api/v1/query_range",
                            format!(
                                "query=avg_over_time(nvidia_smi_power_draw_watts%5B10s%5D)&start={}&end={t}&step=1",
                                t - 60
                            ),
                        )
                    } else {
                        (
                            "/api/v1/query",
                            format!("query=sum(nvidia_smi_power_draw_watts)&time={t}"),
                        )
                    };
                    let began = Instant::now();
                    match post(port, path, &form) {
                        Ok(200) => lat.push(began.elapsed()),
                        Ok(c) => errors.push(format!("{path}: HTTP {c}")),
                        Err(e) => errors.push(format!("{path}: {e}")),
                    }
                    i += 1;
                }
                (lat, errors)
            })
        })
        .collect();
    let mut lat = Vec::new();
    let mut errors = Vec::new();
    for w in workers {
        let (l, e) = w.join().unwrap();
        lat.extend(l);
        errors.extend(e);
    }
    // Federation: the newest stored sample of each matching series, with
    // its timestamp, in the text format.
    let get = |path: &str| {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(s, "GET {path} HTTP/1.0\r\n\r\n").unwrap();
        let mut b = String::new();
        s.read_to_string(&mut b).unwrap();
        b
    };
    let fed = get("/federate?match%5B%5D=nvidia_smi_power_draw_watts");
    assert!(
        fed.starts_with("HTTP/1.1 200") || fed.starts_with("HTTP/1.0 200"),
        "{fed}"
    );
    let body = fed.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    let lines: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("nvidia_smi_power_draw_watts{"))
        .collect();
    assert_eq!(lines.len(), 4, "{body}");
    for l in lines {
        let t: i64 = l.rsplit(' ').next().unwrap().parse().unwrap();
        let age = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
            - t;
        assert!((0..10_000).contains(&age), "{l}");
    }
    assert!(
        body.contains("# TYPE nvidia_smi_power_draw_watts gauge"),
        "{body}"
    );
    // No selector: nothing (as Prometheus); a bad one: 400.
    let none = get("/federate");
    assert!(
        none.contains(" 200 ") && !none.contains("nvidia_smi"),
        "{none}"
    );
    assert!(get("/federate?match%5B%5D=%7Bfoo").contains(" 400 "));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let st = child.wait().unwrap();
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(st.success(), "{stderr}");
    assert!(
        errors.is_empty(),
        "{} failed: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    lat.sort();
    let n = lat.len();
    assert!(n > 0);
    let p = |q: f64| lat[((n as f64 * q) as usize).min(n - 1)];
    eprintln!(
        "load: {n} queries in {secs} s = {:.0}/s from 4 clients while collecting 4 GPUs every 1 s; p50 {:?}, p99 {:?}, max {:?}",
        n as f64 / secs as f64,
        p(0.5),
        p(0.99),
        lat[n - 1]
    );
    // Every recorded run has its GPU samples: one info sample per GPU per run.
    let out = bin()
        .args(["export", "--format", "csv", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    let runs = csv
        .lines()
        .filter(|l| {
            l.starts_with("\"minetsdb_job_last_run_timestamp_seconds{") && l.contains("nvml")
        })
        .count();
    let infos = csv
        .lines()
        .filter(|l| l.starts_with("\"nvidia_smi_gpu_info{"))
        .count();
    // Jobs start at a per-job offset within their interval, so the first
    // second may pass before the first run: secs - 1 runs at the least.
    assert!(runs + 1 >= secs as usize, "{runs} runs in {secs} s");
    assert_eq!(infos, 4 * runs, "{runs} runs, {infos} GPU info samples");
}
