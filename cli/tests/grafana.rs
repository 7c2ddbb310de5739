//! contrib/grafana: the provisioned data source points at `serve`'s
//! default address, and every query of the dashboard (panels and the rig
//! variable) returns data when run through `minetsdb serve` on the demo
//! database, with Grafana's variables filled in as Grafana would.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_minetsdb"))
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A POST form to 127.0.0.1:`port` (as Grafana sends queries); status and body.
fn post(port: u16, path: &str, form: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    )
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let (code, _, body) = common::split_response(&buf);
    (code, body)
}

/// `application/x-www-form-urlencoded` escaping.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn start_serve(db: &Path) -> (Proc, u16) {
    start_serve_with(db, &[], "")
}

/// `serve` on a free port with `extra` flags; `auth` is the header line
/// its readiness probe sends (empty for none).
fn start_serve_with(db: &Path, extra: &[&str], auth: &str) -> (Proc, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = bin()
        .args(["serve", "--db"])
        .arg(db)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(extra)
        .env("XDG_CONFIG_HOME", db.join("no-config"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let p = Proc(child);
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = write!(s, "GET /-/ready HTTP/1.0\r\n{auth}\r\n");
            let mut b = String::new();
            if s.read_to_string(&mut b).is_ok() && b.contains(" 200 ") {
                break;
            }
        }
        assert!(Instant::now() < end, "serve did not become ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    (p, port)
}

#[test]
fn every_dashboard_query_returns_data_through_serve() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib/grafana");
    let ds = std::fs::read_to_string(root.join("datasource.yml")).unwrap();
    assert!(ds.contains("type: prometheus"), "{ds}");
    assert!(ds.contains("url: http://127.0.0.1:9090"), "{ds}");
    let dash: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("minetsdb-dashboard.json")).unwrap(),
    )
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo");
    let out = bin()
        .args(["demo", "--days", "2", "--gpus", "2", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_serve, port) = start_serve(&db);

    // The rig variable: label_values(nvidia_smi_gpu_info, instance).
    let var = &dash["templating"]["list"][0];
    assert_eq!(var["name"], "instance");
    assert_eq!(
        var["definition"],
        "label_values(nvidia_smi_gpu_info, instance)"
    );
    let (code, body) = post(
        port,
        "/api/v1/series",
        &format!("match[]={}", enc("nvidia_smi_gpu_info")),
    );
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"instance\""), "{body}");

    // Every panel target over the last 12 hours at Grafana's steps.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (start, end) = (now - 12 * 3600, now);
    let panels = dash["panels"].as_array().unwrap();
    assert!(panels.len() >= 8);
    let mut checked = 0;
    for p in panels {
        let unit = p["fieldConfig"]["defaults"]["unit"].as_str().unwrap_or("");
        assert!(!unit.is_empty(), "panel {} has a unit", p["title"]);
        if p["type"] == "gauge" {
            let steps = p["fieldConfig"]["defaults"]["thresholds"]["steps"]
                .as_array()
                .unwrap();
            assert_eq!(steps.len(), 3, "normal/warning/critical: {}", p["title"]);
        }
        for t in p["targets"].as_array().unwrap() {
            let expr = t["expr"]
                .as_str()
                .unwrap()
                .replace("$instance", ".*")
                .replace("$__rate_interval", "4m");
            let form = format!("query={}&start={start}&end={end}&step=60", enc(&expr));
            let (code, body) = post(port, "/api/v1/query_range", &form);
            assert_eq!(code, 200, "{}: {expr}: {body}", p["title"]);
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            let series = v["data"]["result"].as_array().unwrap();
            assert!(!series.is_empty(), "{}: {expr}: no data", p["title"]);
            assert!(
                series
                    .iter()
                    .all(|s| !s["values"].as_array().unwrap().is_empty()),
                "{}: {expr}",
                p["title"]
            );
            checked += 1;
        }
    }
    assert_eq!(checked, panels.len());
}

/// One GET with optional extra header lines; the status code.
fn get_status(port: u16, path: &str, headers: &str) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\n{headers}\r\n").unwrap();
    let mut b = String::new();
    s.read_to_string(&mut b).unwrap();
    b.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_bearer_token_guards_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo");
    let out = bin()
        .args(["demo", "--days", "1", "--gpus", "1", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(out.status.success());
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret-token\n").unwrap();
    let good = "Authorization: Bearer s3cret-token\r\n";
    let (_serve, port) =
        start_serve_with(&db, &["--bearer-token-file", token.to_str().unwrap()], good);
    for path in [
        "/-/healthy",
        "/metrics",
        "/api/v1/labels",
        "/api/v1/query?query=up",
        "/api/v1/status/buildinfo",
    ] {
        assert_eq!(get_status(port, path, ""), 401, "{path} without a token");
        let bad = "Authorization: Bearer s3cret-tokeN\r\n";
        assert_eq!(
            get_status(port, path, bad),
            401,
            "{path} with a wrong token"
        );
        assert_eq!(get_status(port, path, good), 200, "{path} with the token");
    }
    // An empty token file is refused at start, naming the flag.
    std::fs::write(&token, "\n").unwrap();
    let out = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--bearer-token-file"])
        .arg(&token)
        .arg("--db")
        .arg(&db)
        .env("XDG_CONFIG_HOME", db.join("no-config"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bearer-token-file"));
}
