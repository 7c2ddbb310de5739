//! `minetsdb serve` against real clients and real Prometheus 2.42 (Debian's
//! `prometheus` package; scripts/test installs it), all on 127.0.0.1:
//! - promtool's `query instant|range|series|labels` against `serve` and
//!   against Prometheus holding the same data (loaded with `promtool tsdb
//!   create-blocks-from openmetrics`) give the same answers;
//! - the API's error types and status codes, POST forms, limits;
//! - Prometheus scrapes `serve`'s `/metrics`;
//! - Prometheus remote-writes what it scrapes to `serve --remote-write`,
//!   and both then hold the same samples.
//!
//! Without `prometheus` and `promtool` the tests fail naming the package,
//! unless `MINETSDB_SKIP_PROMETHEUS=1` is set.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use minetsdb::{Db, Labels, Metadata, MetricType, Options, Sample};

/// 2023-11-14T20:00:00Z, a 2-hour boundary.
const T0: i64 = 1_699_992_000_000;
const STEP: i64 = 30_000;
const SPAN: i64 = 2 * 3_600_000;

fn have_prometheus() -> bool {
    let ok = |b: &str| Command::new(b).arg("--version").output().is_ok();
    if ok("prometheus") && ok("promtool") {
        return true;
    }
    if std::env::var_os("MINETSDB_SKIP_PROMETHEUS").is_some() {
        eprintln!("SKIPPED: prometheus not installed and MINETSDB_SKIP_PROMETHEUS set");
        return false;
    }
    panic!("needs the Debian package `prometheus` (promtool + prometheus 2.42): apt-get install prometheus, or run scripts/test which installs it");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Two rigs of two GPUs: power (gauge, 2 decimals), energy (counter with a
/// reset), temperature (stops after an hour on one card).
fn dataset() -> Vec<(Labels, Vec<Sample>)> {
    let mut out = Vec::new();
    for rig in ["a", "b"] {
        for g in 0..2 {
            let gpu = g.to_string();
            let l = |n: &str| Labels::new(n, &[("rig", rig), ("gpu", &gpu)]).unwrap();
            let (mut p, mut e, mut t) = (Vec::new(), Vec::new(), Vec::new());
            let mut energy = 1000.0 * (g + 1) as f64;
            for i in 0..SPAN / STEP {
                let ts = T0 + i * STEP;
                let power = 200.0 + g as f64 * 10.0 + ((i * 37 + g * 11) % 100) as f64 / 4.0;
                energy = if i == 100 && rig == "b" {
                    0.0
                } else {
                    energy + power * 30.0
                };
                p.push(Sample::new(ts, power));
                e.push(Sample::new(ts, energy));
                if !(rig == "a" && g == 1 && i >= 120) {
                    t.push(Sample::new(ts, (60 + (i * 7 + g) % 9) as f64));
                }
            }
            out.push((l("nvidia_smi_power_draw_watts"), p));
            out.push((l("gpu_energy_joules_total"), e));
            out.push((l("nvidia_smi_temperature_gpu"), t));
        }
    }
    out
}

fn write_openmetrics(data: &[(Labels, Vec<Sample>)], path: &Path) {
    let mut s = String::new();
    for (l, samples) in data {
        let labels: Vec<String> = l
            .iter()
            .filter(|x| x.name != "__name__")
            .map(|x| format!("{}=\"{}\"", x.name, x.value))
            .collect();
        for x in samples {
            s.push_str(&format!(
                "{}{{{}}} {} {}.{:03}\n",
                l.metric_name(),
                labels.join(","),
                x.v,
                x.t.div_euclid(1000),
                x.t.rem_euclid(1000)
            ));
        }
    }
    s.push_str("# EOF\n");
    std::fs::write(path, s).unwrap();
}

/// A child process killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_ready(port: u16, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok((200, _)) = http(port, "GET", "/-/ready", None) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not ready; see {}: {}",
            log.display(),
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts Prometheus with `config`, in which `PORT` stands for its own port.
fn start_prometheus(data: &Path, work: &Path, config: &str) -> (Proc, u16) {
    let cfg = work.join("prometheus.yml");
    let port = free_port();
    std::fs::write(&cfg, config.replace("PORT", &port.to_string())).unwrap();
    let log = work.join("prometheus.log");
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--storage.tsdb.retention.time=100y")
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .expect("start prometheus");
    let p = Proc(child);
    wait_ready(port, &log);
    (p, port)
}

fn start_serve(db: &Path, work: &Path, extra: &[&str]) -> (Proc, u16) {
    start_serve_on(free_port(), db, work, extra)
}

fn start_serve_on(port: u16, db: &Path, work: &Path, extra: &[&str]) -> (Proc, u16) {
    let log = work.join(format!("serve-{port}.log"));
    let child = Command::new(env!("CARGO_BIN_EXE_minetsdb"))
        .arg("serve")
        .arg("--db")
        .arg(db)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .args(extra)
        .env("XDG_CONFIG_HOME", work.join("no-config"))
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .expect("start minetsdb serve");
    let p = Proc(child);
    wait_ready(port, &log);
    (p, port)
}

/// One HTTP/1.0 request to 127.0.0.1; a form body when `form` is given.
fn http(port: u16, method: &str, path: &str, form: Option<&str>) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    match form {
        Some(b) => write!(
            s,
            "{method} {path} HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        )?,
        None => write!(s, "{method} {path} HTTP/1.0\r\n\r\n")?,
    }
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let (code, _, body) = common::split_response(&buf);
    Ok((code, body))
}

fn json(port: u16, method: &str, path: &str, form: Option<&str>) -> (u16, serde_json::Value) {
    let (code, body) = http(port, method, path, form).unwrap();
    let v = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
    (code, v)
}

fn promtool(args: &[&str]) -> (bool, String) {
    let out = Command::new("promtool").args(args).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// A query result as promtool -o json prints it, keyed by labels (values
/// parsed), so the order of series does not matter.
fn normalise(out: &str) -> BTreeMap<String, Vec<(f64, f64)>> {
    let v: serde_json::Value =
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    let point = |p: &serde_json::Value| {
        let t = p[0].as_f64().unwrap();
        let v: f64 = match p[1].as_str().unwrap() {
            "NaN" => f64::NAN,
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            x => x.parse().unwrap(),
        };
        (t, v)
    };
    let mut m = BTreeMap::new();
    match &v {
        serde_json::Value::Array(items) if items.first().is_some_and(|x| !x.is_object()) => {
            m.insert("scalar".into(), vec![point(&v)]);
        }
        serde_json::Value::Array(items) => {
            for it in items {
                let key = it["metric"].to_string();
                let pts = match it.get("values") {
                    Some(vs) => vs.as_array().unwrap().iter().map(point).collect(),
                    None => vec![point(&it["value"])],
                };
                m.insert(key, pts);
            }
        }
        _ => panic!("unexpected {out}"),
    }
    m
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

fn same(a: &BTreeMap<String, Vec<(f64, f64)>>, b: &BTreeMap<String, Vec<(f64, f64)>>) -> bool {
    a.len() == b.len()
        && a.iter().all(|(k, v)| {
            b.get(k).is_some_and(|w| {
                v.len() == w.len() && v.iter().zip(w).all(|(p, q)| p.0 == q.0 && close(p.1, q.1))
            })
        })
}

fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(str::to_string).collect();
    v.sort();
    v
}

/// Both stores loaded with the same data, `serve` and Prometheus started.
struct Pair {
    _work: tempfile::TempDir,
    _prom: Proc,
    _serve: Proc,
    prom: String,
    serve: String,
    serve_port: u16,
}

fn pair() -> Pair {
    let work = tempfile::tempdir().unwrap();
    let data = dataset();
    let om = work.path().join("data.om");
    write_openmetrics(&data, &om);
    let prom_dir = work.path().join("prom");
    let (ok, text) = promtool(&[
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        om.to_str().unwrap(),
        prom_dir.to_str().unwrap(),
    ]);
    assert!(ok, "promtool: {text}");
    let (prom, prom_port) =
        start_prometheus(&prom_dir, work.path(), "global:\n  scrape_interval: 1m\n");
    let db_dir = work.path().join("minetsdb");
    {
        let db = Db::open(&db_dir, Options::default()).unwrap();
        let batch: Vec<(Labels, Sample)> = data
            .iter()
            .flat_map(|(l, s)| s.iter().map(move |x| (l.clone(), *x)))
            .collect();
        db.append_labeled(&batch).unwrap();
        db.set_metadata(
            "gpu_energy_joules_total",
            Metadata {
                metric_type: MetricType::Counter,
                unit: "joules".into(),
                help: "Energy since the driver loaded.".into(),
            },
        )
        .unwrap();
    }
    let (serve, serve_port) = start_serve(&db_dir, work.path(), &[]);
    Pair {
        _work: work,
        _prom: prom,
        _serve: serve,
        prom: format!("http://127.0.0.1:{prom_port}"),
        serve: format!("http://127.0.0.1:{serve_port}"),
        serve_port,
    }
}

#[test]
fn promtool_gets_the_same_answers_from_serve_as_from_prometheus() {
    if !have_prometheus() {
        return;
    }
    let p = pair();
    let at = ((T0 + 90 * 60_000) / 1000).to_string();
    let instant = [
        "nvidia_smi_power_draw_watts",
        r#"nvidia_smi_temperature_gpu{rig="a"}"#,
        "sum by (rig) (rate(gpu_energy_joules_total[5m]))",
        "max(nvidia_smi_temperature_gpu)",
        r#"nvidia_smi_power_draw_watts{gpu="0"}[2m]"#,
        "scalar(sum(nvidia_smi_power_draw_watts))",
        "1 + 2",
        "absent(nope)",
    ];
    for q in instant {
        let a = promtool(&["query", "instant", "-o", "json", "--time", &at, &p.prom, q]);
        let b = promtool(&["query", "instant", "-o", "json", "--time", &at, &p.serve, q]);
        assert!(a.0 && b.0, "{q}: prometheus {a:?} serve {b:?}");
        assert!(
            same(&normalise(&a.1), &normalise(&b.1)),
            "{q}\nprometheus: {}\nserve:      {}",
            a.1,
            b.1
        );
    }
    let (start, end) = (
        (T0 / 1000 + 600).to_string(),
        ((T0 + SPAN) / 1000 - 60).to_string(),
    );
    let range = [
        "nvidia_smi_power_draw_watts",
        "avg_over_time(nvidia_smi_temperature_gpu[10m])",
        "sum(increase(gpu_energy_joules_total[15m]))",
        "nvidia_smi_temperature_gpu > 64",
    ];
    for q in range {
        for step in ["1m", "45s"] {
            let args = |url: &str| {
                promtool(&[
                    "query", "range", "-o", "json", "--start", &start, "--end", &end, "--step",
                    step, url, q,
                ])
            };
            let (a, b) = (args(&p.prom), args(&p.serve));
            assert!(a.0 && b.0, "{q}: prometheus {a:?} serve {b:?}");
            assert!(
                same(&normalise(&a.1), &normalise(&b.1)),
                "{q} step {step}\nprometheus: {}\nserve:      {}",
                a.1,
                b.1
            );
        }
    }
    // A bad query fails through both.
    let bad = |url: &str| promtool(&["query", "instant", url, "sum(("]).0;
    assert!(!bad(&p.prom) && !bad(&p.serve));
    // Series and label values over the data's time range (promtool's
    // default range is the last and next 9999 hours) and over part of it.
    let (from, to) = (
        (T0 / 1000 - 60).to_string(),
        ((T0 + SPAN) / 1000).to_string(),
    );
    let half = (T0 / 1000 + 4200).to_string();
    let series_args: [(&str, &[&str]); 4] = [
        (
            &from,
            &[
                "--match",
                "nvidia_smi_power_draw_watts",
                "--match",
                r#"{rig="b"}"#,
            ],
        ),
        (&from, &["--match", r#"{__name__=~"nvidia.*",gpu="1"}"#]),
        (
            &from,
            &["--match", r#"nvidia_smi_temperature_gpu{rig="a"}"#],
        ),
        (&half, &["--match", "nvidia_smi_temperature_gpu"]),
    ];
    for (start, extra) in series_args {
        let run = |url: &str| {
            let mut a = vec!["query", "series", "--start", start, "--end", &to];
            a.extend_from_slice(extra);
            a.push(url);
            promtool(&a)
        };
        let (a, b) = (run(&p.prom), run(&p.serve));
        assert!(a.0 && b.0, "{extra:?}: {a:?} {b:?}");
        assert!(
            !a.1.trim().is_empty(),
            "{extra:?}: prometheus {a:?} serve {b:?}"
        );
        assert_eq!(sorted_lines(&a.1), sorted_lines(&b.1), "series {extra:?}");
    }
    for name in ["rig", "__name__", "gpu", "nope"] {
        let run =
            |url: &str| promtool(&["query", "labels", "--start", &from, "--end", &to, url, name]);
        let (a, b) = (run(&p.prom), run(&p.serve));
        assert!(a.0 && b.0, "{name}: {a:?} {b:?}");
        assert_eq!(a.1, b.1, "labels {name}");
    }
    // Label names, through the API (promtool has no command for them).
    let names = |port_url: &str| -> serde_json::Value {
        let port: u16 = port_url.rsplit(':').next().unwrap().parse().unwrap();
        json(port, "GET", "/api/v1/labels", None).1
    };
    assert_eq!(names(&p.prom), names(&p.serve));
}

#[test]
fn api_errors_forms_and_shapes_are_prometheus_own() {
    if !have_prometheus() {
        return;
    }
    let p = pair();
    let port = p.serve_port;
    let prom_port: u16 = p.prom.rsplit(':').next().unwrap().parse().unwrap();
    // The same requests to both: status code and errorType agree.
    let cases: [(&str, &str, Option<&str>); 12] = [
        // Float-second steps and times, RFC 3339 times.
        ("GET", "/api/v1/query_range?query=nvidia_smi_temperature_gpu&start=1699992600.5&end=1699993600&step=45.5", None),
        ("GET", "/api/v1/query?query=nvidia_smi_temperature_gpu%7Brig%3D%22b%22%7D&time=2023-11-14T21:30:00Z", None),
        ("GET", "/api/v1/query?query=sum((&time=1699992000", None),
        ("GET", "/api/v1/query?query=up&time=yesterday", None),
        ("GET", "/api/v1/query_range?query=up&start=10&end=5&step=1", None),
        ("GET", "/api/v1/query_range?query=up&start=0&end=100000&step=1", None),
        ("GET", "/api/v1/query_range?query=up&start=0&end=10&step=0", None),
        ("GET", "/api/v1/query_range?query=up&end=10&step=1", None),
        ("GET", "/api/v1/series", None),
        ("GET", "/api/v1/label/0bad/values", None),
        ("GET", "/api/v1/query?query=up&timeout=soon", None),
        ("POST", "/api/v1/query", Some("query=sum%28nvidia_smi_power_draw_watts%29&time=1699997400")),
    ];
    for (method, path, form) in cases {
        let (ca, a) = json(prom_port, method, path, form);
        let (cb, b) = json(port, method, path, form);
        assert_eq!(ca, cb, "{method} {path}: {a} vs {b}");
        assert_eq!(a["status"], b["status"], "{path}");
        assert_eq!(a["errorType"], b["errorType"], "{path}: {a} vs {b}");
        if a["status"] == "success" {
            assert_eq!(a["data"], b["data"], "{path}");
        } else {
            assert!(b["error"].as_str().is_some_and(|e| !e.is_empty()));
        }
    }
    // An evaluation over the points limit is `execution`, 422.
    let work = tempfile::tempdir().unwrap();
    let db_dir = p._work.path().join("minetsdb");
    let (_small, small) = start_serve(&db_dir, work.path(), &["--query-max-points", "100"]);
    let (code, v) = json(
        small,
        "GET",
        "/api/v1/query?query=count_over_time(nvidia_smi_power_draw_watts[1h])&time=1699997400",
        None,
    );
    assert_eq!(
        (code, v["errorType"].as_str()),
        (422, Some("execution")),
        "{v}"
    );
    // Metadata, build info, health.
    let (code, v) = json(port, "GET", "/api/v1/metadata", None);
    assert_eq!(code, 200);
    assert_eq!(
        v["data"]["gpu_energy_joules_total"][0],
        serde_json::json!({"type": "counter", "help": "Energy since the driver loaded.", "unit": "joules"})
    );
    let (code, v) = json(port, "GET", "/api/v1/status/buildinfo", None);
    assert_eq!((code, v["data"]["version"].as_str()), (200, Some("2.42.0")));
    assert_eq!(http(port, "GET", "/-/healthy", None).unwrap().0, 200);
    assert_eq!(http(port, "GET", "/nope", None).unwrap().0, 404);
    assert_eq!(http(port, "DELETE", "/api/v1/query", None).unwrap().0, 405);
}

#[test]
fn prometheus_scrapes_serve_metrics() {
    if !have_prometheus() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let db_dir = work.path().join("db");
    drop(Db::open(&db_dir, Options::default()).unwrap());
    let (_serve, port) = start_serve(&db_dir, work.path(), &[]);
    let cfg = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: minetsdb\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    );
    let (_prom, prom_port) = start_prometheus(&work.path().join("prom"), work.path(), &cfg);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, v) = json(
            prom_port,
            "GET",
            "/api/v1/query?query=%7B__name__%3D~%22process_start_time_seconds%7Cminetsdb_build_info%7Cup%22%7D",
            None,
        );
        let got: BTreeMap<String, f64> = v["data"]["result"]
            .as_array()
            .map(|r| {
                r.iter()
                    .map(|s| {
                        (
                            s["metric"]["__name__"].as_str().unwrap().to_string(),
                            s["value"][1].as_str().unwrap().parse().unwrap(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        if got.len() == 3 {
            assert_eq!(got["up"], 1.0);
            assert_eq!(got["minetsdb_build_info"], 1.0);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64();
            let start = got["process_start_time_seconds"];
            assert!(start <= now && start > now - 120.0, "{start} vs {now}");
            break;
        }
        assert!(Instant::now() < deadline, "not scraped: {v}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn prometheus_remote_writes_to_serve() {
    if !have_prometheus() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let db_dir = work.path().join("db");
    drop(Db::open(&db_dir, Options::default()).unwrap());
    // Without --remote-write the endpoint is off, as in Prometheus.
    let (ro, ro_port) = start_serve(&db_dir, work.path(), &[]);
    assert_eq!(
        http(ro_port, "POST", "/api/v1/write", Some("")).unwrap().0,
        404
    );
    drop(ro);
    let (_serve, port) = start_serve(&db_dir, work.path(), &["--remote-write"]);
    // Garbage is refused with 400 and a reason.
    let (code, body) = http(port, "POST", "/api/v1/write", Some("not snappy")).unwrap();
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("snappy"), "{body}");
    // Prometheus scrapes itself every second and forwards to serve.
    let cfg = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ['127.0.0.1:PORT']\nremote_write:\n  - url: http://127.0.0.1:{port}/api/v1/write\n    queue_config:\n      batch_send_deadline: 500ms\n    metadata_config:\n      send_interval: 1s\n"
    );
    let (_prom, prom_port) = start_prometheus(&work.path().join("prom"), work.path(), &cfg);
    let q = "/api/v1/query?query=count_over_time(up%7Bjob%3D%22prometheus%22%7D%5B1m%5D)";
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, v) = json(port, "GET", q, None);
        let n: f64 = v["data"]["result"][0]["value"][1]
            .as_str()
            .map(|x| x.parse().unwrap())
            .unwrap_or(0.0);
        if n >= 5.0 {
            break;
        }
        assert!(Instant::now() < deadline, "nothing arrived: {v}");
        std::thread::sleep(Duration::from_millis(250));
    }
    // Samples older than a few seconds have arrived: the same in both.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    std::thread::sleep(Duration::from_secs(3));
    let at = format!("{}.{:03}", (now - 2000) / 1000, (now - 2000) % 1000);
    for sel in [
        "up",
        "prometheus_tsdb_head_series",
        "scrape_samples_scraped",
        "prometheus_http_requests_total",
    ] {
        let path = format!("/api/v1/query?query={sel}%5B20s%5D&time={at}");
        let (ca, a) = json(prom_port, "GET", &path, None);
        let (cb, b) = json(port, "GET", &path, None);
        assert_eq!((ca, cb), (200, 200));
        assert!(
            !a["data"]["result"].as_array().unwrap().is_empty(),
            "{sel}: {a}"
        );
        let key = |v: &serde_json::Value| {
            let mut r: Vec<String> = v["data"]["result"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.to_string())
                .collect();
            r.sort();
            r
        };
        assert_eq!(key(&a), key(&b), "{sel}");
    }
    // Metadata came along.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, v) = json(
            port,
            "GET",
            "/api/v1/metadata?metric=prometheus_http_requests_total",
            None,
        );
        if v["data"]["prometheus_http_requests_total"][0]["type"] == "counter" {
            break;
        }
        assert!(Instant::now() < deadline, "no metadata: {v}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `serve --collect`: the collector loop runs in the serving process on
/// the same database, here scraping serve's own /metrics, and what it
/// stores is at once visible through the API.
#[test]
fn serve_collect_stores_and_serves_in_one_process() {
    let work = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = work.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "instance = \"rig1\"\n[nvml]\nenabled = false\n[[job]]\nname = \"self\"\ninterval = \"1s\"\ntargets = [\"http://127.0.0.1:{port}/metrics\"]\n"
        ),
    )
    .unwrap();
    let db_dir = work.path().join("db");
    let (_serve, port) = start_serve_on(
        port,
        &db_dir,
        work.path(),
        &["--collect", "--config", cfg.to_str().unwrap()],
    );
    let q = "/api/v1/query?query=minetsdb_build_info%7Bjob%3D%22self%22%7D";
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, v) = json(port, "GET", q, None);
        assert_eq!(code, 200, "{v}");
        if v["data"]["result"][0]["value"][1] == "1" {
            break;
        }
        assert!(Instant::now() < deadline, "not collected: {v}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The writer holds the lock: a second writer is refused.
    let out = Command::new(env!("CARGO_BIN_EXE_minetsdb"))
        .args([
            "collect",
            "--once",
            "--config",
            cfg.to_str().unwrap(),
            "--db",
        ])
        .arg(&db_dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("locked"));
}

/// SIGTERM (systemd stop) ends `serve` at once with exit 0, even with a
/// client holding an idle keep-alive connection.
#[test]
fn serve_stops_on_sigterm_despite_idle_clients() {
    let work = tempfile::tempdir().unwrap();
    let db_dir = work.path().join("db");
    drop(Db::open(&db_dir, Options::default()).unwrap());
    let (mut serve, port) = start_serve(&db_dir, work.path(), &["--remote-write"]);
    let mut idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(idle, "GET /-/healthy HTTP/1.1\r\n\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    let ok = Command::new("kill")
        .args(["-TERM", &serve.0.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    loop {
        if let Some(status) = serve.0.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "serve did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The writer's lock is released: the database opens for writing.
    drop(Db::open(&db_dir, Options::default()).unwrap());
}

/// `minetsdb import --from-prometheus`: the history of a real Prometheus
/// (blocks made by promtool from generated data), pulled through remote
/// read in 30-minute windows, arrives sample for sample, bit for bit.
#[test]
fn import_from_prometheus_pulls_every_sample_bit_exact() {
    if !have_prometheus() {
        return;
    }
    let p = pair();
    let work = tempfile::tempdir().unwrap();
    let db_dir = work.path().join("imported");
    let out = Command::new(env!("CARGO_BIN_EXE_minetsdb"))
        .args([
            "import",
            "--from-prometheus",
            &p.prom,
            "--start",
            &((T0 - 3_600_000) / 1000).to_string(),
            "--end",
            &((T0 + SPAN + 3_600_000) / 1000).to_string(),
            "--window",
            "30m",
            "--db",
        ])
        .arg(&db_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = dataset();
    let n: usize = want.iter().map(|(_, s)| s.len()).sum();
    assert!(
        stdout.contains(&format!("imported {n} samples")),
        "{stdout}"
    );
    let db = Db::open_read_only(&db_dir, Options::default()).unwrap();
    let got: BTreeMap<String, Vec<(i64, u64)>> = db
        .select(
            &[minetsdb::Matcher::new(minetsdb::MatchOp::Regex, "__name__", ".+").unwrap()],
            ..,
        )
        .unwrap()
        .map(|s| {
            let s = s.unwrap();
            let pts = s.samples.iter().map(|x| (x.t, x.v.to_bits())).collect();
            (s.labels.to_string(), pts)
        })
        .collect();
    let want: BTreeMap<String, Vec<(i64, u64)>> = want
        .iter()
        .map(|(l, s)| {
            (
                l.to_string(),
                s.iter().map(|x| (x.t, x.v.to_bits())).collect(),
            )
        })
        .collect();
    assert_eq!(got, want);
}
