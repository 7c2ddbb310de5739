//! Differential test: the same data in real Prometheus 2.42 (Debian's
//! `prometheus` package, installed by scripts/test) and in minetsdb; several
//! hundred generated PromQL expressions evaluated by both as range queries;
//! every result must be equal (floats within 1e-9 relative, NaN = NaN).
//!
//! The data is loaded into Prometheus with `promtool tsdb
//! create-blocks-from openmetrics`, and Prometheus is started on a free
//! 127.0.0.1 port with no scrape targets. Each mismatch prints the
//! expression and both answers.
//!
//! Without the `prometheus` and `promtool` binaries the test fails, naming
//! the package to install, unless `MINETSDB_SKIP_PROMETHEUS=1` is set.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use minetsdb::{Db, Labels, Options, Sample};

/// 2023-11-14T20:00:00Z, a 2-hour boundary.
const T0: i64 = 1_699_992_000_000;
const STEP: i64 = 30_000;
/// Five hours of data: promtool 2.42 re-reads its input once per 2 h
/// window, so the set stays small.
const SPAN: i64 = 5 * 3_600_000;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 11
    }
    fn unit(&mut self) -> f64 {
        (self.next() % 1_000_000) as f64 / 1_000_000.0
    }
}

/// Mining-shaped series with counter resets, gaps, a series that stops
/// (staleness by lookback), NaN and Inf, and histogram buckets.
fn dataset() -> Vec<(Labels, Vec<Sample>)> {
    let mut rng = Rng(42);
    let mut out = Vec::new();
    let rigs = [("a", 4), ("b", 2)];
    for (rig, gpus) in rigs {
        for g in 0..gpus {
            let gpu = g.to_string();
            let l = |name: &str| Labels::new(name, &[("rig", rig), ("gpu", &gpu)]).unwrap();
            let (mut energy, mut shares) = (1000.0 + g as f64 * 77.0, 50.0);
            let (mut e, mut sh, mut pw, mut tmp) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            let mut t = T0;
            let mut i = 0i64;
            while t < T0 + SPAN {
                let power = 200.0 + g as f64 * 15.0 + (rng.unit() * 800.0).round() / 100.0;
                // Energy: a reset (reboot) now and then.
                if rng.next().is_multiple_of(300) {
                    energy = 0.0;
                } else {
                    energy += (power * 30.0 * 1000.0).round() / 1000.0;
                }
                if rng.next().is_multiple_of(400) {
                    shares = 0.0;
                } else {
                    shares += (rng.next() % 3) as f64;
                }
                // GPU 1 of rig a has a 20-minute hole in its data.
                let gap = rig == "a" && g == 1 && (120..160).contains(&i);
                // GPU 3 of rig a stops reporting temperature after 3 hours.
                let stopped = rig == "a" && g == 3 && t >= T0 + 3 * 3_600_000;
                if !gap {
                    e.push(Sample::new(t, energy));
                    sh.push(Sample::new(t, shares));
                    pw.push(Sample::new(t, power));
                }
                if !gap && !stopped {
                    tmp.push(Sample::new(
                        t,
                        (55.0 + power / 20.0 + rng.unit() * 3.0).round(),
                    ));
                }
                t += STEP;
                i += 1;
            }
            out.push((l("gpu_energy_joules_total"), e));
            out.push((l("miner_shares_accepted_total"), sh));
            out.push((l("nvidia_smi_power_draw_watts"), pw));
            out.push((l("nvidia_smi_temperature_gpu"), tmp));
            let name = if g % 2 == 0 { "RTX 3080" } else { "RTX 3070" };
            let info =
                Labels::new("gpu_info", &[("rig", rig), ("gpu", &gpu), ("name", name)]).unwrap();
            out.push((
                info,
                (0..SPAN / STEP)
                    .map(|i| Sample::new(T0 + i * STEP, 1.0))
                    .collect(),
            ));
        }
    }
    // Odd values.
    let odd = Labels::new("odd_values", &[("kind", "nan")]).unwrap();
    out.push((
        odd,
        (0..SPAN / STEP)
            .map(|i| {
                Sample::new(
                    T0 + i * STEP,
                    if i % 17 == 0 {
                        f64::NAN
                    } else {
                        i as f64 / 3.0
                    },
                )
            })
            .collect(),
    ));
    let inf = Labels::new("odd_values", &[("kind", "inf")]).unwrap();
    out.push((
        inf,
        (0..SPAN / STEP)
            .map(|i| {
                Sample::new(
                    T0 + i * STEP,
                    if i % 29 == 0 {
                        f64::INFINITY
                    } else {
                        -(i as f64)
                    },
                )
            })
            .collect(),
    ));
    // A histogram of share submit latency, cumulative buckets.
    let les = ["0.05", "0.1", "0.25", "0.5", "1", "+Inf"];
    let mut counts = [0.0f64; 6];
    let mut series: Vec<Vec<Sample>> = vec![Vec::new(); 6];
    for i in 0..SPAN / STEP {
        let n = rng.next() % 20;
        for _ in 0..n {
            let x = rng.unit() * 1.2;
            for (k, le) in [0.05, 0.1, 0.25, 0.5, 1.0, f64::INFINITY]
                .iter()
                .enumerate()
            {
                if x <= *le {
                    counts[k] += 1.0;
                }
            }
        }
        for k in 0..6 {
            series[k].push(Sample::new(T0 + i * STEP, counts[k]));
        }
    }
    for (k, le) in les.iter().enumerate() {
        let l = Labels::new("share_latency_seconds_bucket", &[("rig", "a"), ("le", le)]).unwrap();
        out.push((l, series[k].clone()));
    }
    out
}

fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
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
                fmt_value(x.v),
                x.t.div_euclid(1000),
                x.t.rem_euclid(1000)
            ));
        }
    }
    s.push_str("# EOF\n");
    std::fs::write(path, s).unwrap();
}

struct Prometheus {
    child: Child,
    port: u16,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_prometheus(data: &Path, work: &Path) -> Prometheus {
    let cfg = work.join("prometheus.yml");
    std::fs::write(&cfg, "global:\n  scrape_interval: 1m\n").unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--storage.tsdb.retention.time=100y")
        .arg("--query.lookback-delta=5m")
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(work.join("prometheus.log")).unwrap(),
        ))
        .spawn()
        .expect("start prometheus");
    let p = Prometheus { child, port };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok((200, _)) = http_get(port, "/-/ready") {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus did not become ready; see {}",
            work.join("prometheus.log").display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A minimal HTTP/1.0 GET to 127.0.0.1 (no client crate needed for tests).
fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((code, body.to_string()))
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

type Answer = Result<BTreeMap<String, Vec<(i64, f64)>>, String>;

fn prometheus_answer(port: u16, expr: &str, start: i64, end: i64, step: i64) -> Answer {
    let path = format!(
        "/api/v1/query_range?query={}&start={}&end={}&step={}",
        urlencode(expr),
        start as f64 / 1000.0,
        end as f64 / 1000.0,
        step as f64 / 1000.0
    );
    let (_, body) = http_get(port, &path).map_err(|e| e.to_string())?;
    let j: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| format!("bad json {e}: {body}"))?;
    if j["status"] != "success" {
        return Err(j["error"].as_str().unwrap_or("error").to_string());
    }
    let mut out = BTreeMap::new();
    for r in j["data"]["result"].as_array().unwrap() {
        let mut labels: Vec<(String, String)> = r["metric"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        labels.sort();
        let key = format!("{labels:?}");
        let vals = r["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let t = (p[0].as_f64().unwrap() * 1000.0).round() as i64;
                let v = match p[1].as_str().unwrap() {
                    "NaN" => f64::NAN,
                    "+Inf" => f64::INFINITY,
                    "-Inf" => f64::NEG_INFINITY,
                    x => x.parse().unwrap(),
                };
                (t, v)
            })
            .collect();
        out.insert(key, vals);
    }
    Ok(out)
}

fn minetsdb_answer(db: &Db, expr: &str, start: i64, end: i64, step: i64) -> Answer {
    let m = db
        .query_range(expr, start, end, step)
        .map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    for s in m {
        let mut labels: Vec<(String, String)> = s
            .metric
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect();
        labels.sort();
        out.insert(
            format!("{labels:?}"),
            s.samples.iter().map(|x| (x.t, x.v)).collect(),
        );
    }
    Ok(out)
}

fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// For topk/bottomk, which of several exactly tied series is kept depends,
/// in Prometheus 2.42, on the order of a Go map iteration whenever the
/// argument is a function or aggregation (rangeEval builds its matrix from
/// a map), so it is not deterministic there. Such results are compared per
/// step as the sorted values selected: the same numbers must be chosen.
fn by_step(a: &Answer) -> Answer {
    let m = a.as_ref().map_err(|e| e.clone())?;
    let mut steps: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for v in m.values() {
        for &(t, x) in v {
            steps.entry(t).or_default().push(x);
        }
    }
    Ok(steps
        .into_iter()
        .map(|(t, mut xs)| {
            xs.sort_by(f64::total_cmp);
            (t.to_string(), xs.into_iter().map(|x| (t, x)).collect())
        })
        .collect())
}

fn same(a: &Answer, b: &Answer) -> bool {
    match (a, b) {
        (Err(_), Err(_)) => true,
        (Ok(x), Ok(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    y.get(k).is_some_and(|w| {
                        v.len() == w.len()
                            && v.iter().zip(w).all(|(p, q)| p.0 == q.0 && close(p.1, q.1))
                    })
                })
        }
        _ => false,
    }
}

/// Several hundred expressions: every function, aggregation and operator
/// the engine supports, over counters with resets, gaps, NaN and a series
/// that stops.
fn expressions() -> Vec<String> {
    let counters = [
        "gpu_energy_joules_total",
        "miner_shares_accepted_total",
        r#"miner_shares_accepted_total{rig="a"}"#,
    ];
    let gauges = [
        "nvidia_smi_power_draw_watts",
        "nvidia_smi_temperature_gpu",
        r#"nvidia_smi_temperature_gpu{gpu=~"1|3"}"#,
        "odd_values",
    ];
    let ranges = ["1m", "5m", "17m", "1h"];
    let mut e = Vec::new();
    for c in counters {
        for r in ranges {
            for f in [
                "rate", "irate", "increase", "resets", "changes", "delta", "idelta", "deriv",
            ] {
                e.push(format!("{f}({c}[{r}])"));
            }
        }
        e.push(format!("predict_linear({c}[15m], 600)"));
    }
    for g in gauges {
        for r in ["2m", "10m", "1h"] {
            for f in [
                "avg_over_time",
                "min_over_time",
                "max_over_time",
                "sum_over_time",
                "count_over_time",
                "last_over_time",
                "present_over_time",
                "stddev_over_time",
                "stdvar_over_time",
                "absent_over_time",
            ] {
                e.push(format!("{f}({g}[{r}])"));
            }
            e.push(format!("quantile_over_time(0.9, {g}[{r}])"));
            e.push(format!("delta({g}[{r}])"));
        }
        for f in [
            "abs",
            "ceil",
            "floor",
            "round",
            "sqrt",
            "ln",
            "log2",
            "log10",
            "exp",
            "timestamp",
            "-",
            "sort",
            "sort_desc",
        ] {
            if f == "-" {
                e.push(format!("-{g}"));
            } else if f == "exp" {
                e.push(format!("exp({g} / 100)"));
            } else {
                e.push(format!("{f}({g})"));
            }
        }
        e.push(format!("round({g}, 5)"));
        e.push(format!("clamp({g}, 60, 210)"));
        e.push(format!("clamp_min({g}, 62)"));
        e.push(format!("clamp_max({g}, 62)"));
        e.push(format!("{g} offset 10m"));
        e.push(format!("{g} @ end()"));
        e.push(format!("{g} @ start() offset -1h"));
        for agg in [
            "sum", "avg", "min", "max", "count", "group", "stddev", "stdvar",
        ] {
            e.push(format!("{agg}({g})"));
            e.push(format!("{agg} by (rig) ({g})"));
            e.push(format!("{agg} without (gpu) ({g})"));
        }
        e.push(format!("topk(2, {g})"));
        e.push(format!("bottomk by (rig) (1, {g})"));
        e.push(format!("quantile(0.75, {g})"));
        e.push(format!("quantile by (rig) (0.5, {g})"));
        e.push(format!("count_values(\"value\", round({g} / 10))"));
        for op in [
            "+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", ">=", "<=",
        ] {
            e.push(format!("{g} {op} 61"));
        }
        e.push(format!("{g} > bool 61"));
        e.push(format!("61 < bool {g}"));
        e.push(format!("{g} + {g}"));
        e.push(format!("{g} / ignoring(kind) {g}"));
    }
    // Joins, sets, scalars, errors.
    e.extend(
        [
            "nvidia_smi_power_draw_watts * on(rig, gpu) group_left(name) gpu_info",
            "gpu_info * on(rig, gpu) group_right(name) nvidia_smi_power_draw_watts",
            "rate(gpu_energy_joules_total[5m]) / on(rig, gpu) nvidia_smi_power_draw_watts",
            "sum by (rig) (rate(miner_shares_accepted_total[10m])) / on(rig) group_left sum by (rig) (nvidia_smi_power_draw_watts)",
            "nvidia_smi_power_draw_watts and nvidia_smi_temperature_gpu > 65",
            "nvidia_smi_temperature_gpu or nvidia_smi_power_draw_watts",
            "nvidia_smi_power_draw_watts unless on(gpu) nvidia_smi_temperature_gpu{rig=\"b\"}",
            "nvidia_smi_power_draw_watts * on(rig) gpu_info",
            "gpu_info + on(rig) group_left nvidia_smi_power_draw_watts",
            "nvidia_smi_power_draw_watts > on(rig, gpu) nvidia_smi_temperature_gpu",
            "scalar(sum(nvidia_smi_power_draw_watts)) * 2",
            "sum(nvidia_smi_power_draw_watts) / scalar(count(gpu_info))",
            "vector(1) + 1",
            "time()",
            "time() - timestamp(nvidia_smi_temperature_gpu)",
            "absent(nonexistent_metric)",
            "absent(nvidia_smi_temperature_gpu{gpu=\"3\"})",
            "absent(nvidia_smi_temperature_gpu)",
            "day_of_week()", "day_of_month()", "days_in_month()", "hour()", "minute()", "month()", "year()",
            "hour(timestamp(nvidia_smi_temperature_gpu))",
            "label_replace(nvidia_smi_temperature_gpu, \"card\", \"gpu$1\", \"gpu\", \"(.*)\")",
            "label_replace(nvidia_smi_temperature_gpu, \"gpu\", \"x\", \"gpu\", \"[0-1]\")",
            "label_join(nvidia_smi_temperature_gpu, \"id\", \"-\", \"rig\", \"gpu\")",
            "histogram_quantile(0.9, rate(share_latency_seconds_bucket[5m]))",
            "histogram_quantile(0.5, sum by (le) (rate(share_latency_seconds_bucket[10m])))",
            "histogram_quantile(0.99, share_latency_seconds_bucket)",
            "max_over_time(rate(gpu_energy_joules_total[5m])[30m:1m])",
            "avg_over_time(nvidia_smi_power_draw_watts[1h:5m])",
            "rate(miner_shares_accepted_total[5m] offset 30m)",
            "sum(rate(gpu_energy_joules_total[5m])) by (rig) / 1000",
            "increase(gpu_energy_joules_total[1h]) / 3600000",
            "sum by (rig) (increase(miner_shares_accepted_total[1h])) / sum by (rig) (increase(gpu_energy_joules_total[1h]))",
            "topk(1, sum by (rig, gpu) (rate(miner_shares_accepted_total[15m])))",
            "count(nvidia_smi_temperature_gpu > 64) by (rig)",
            "sum(odd_values)",
            "max(odd_values)",
            "min_over_time(odd_values[10m])",
            "odd_values + on(kind) odd_values",
            "-odd_values",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    e
}

#[test]
fn promql_matches_prometheus() {
    let have = Command::new("promtool").arg("--version").output().is_ok()
        && Command::new("prometheus").arg("--version").output().is_ok();
    if !have {
        if std::env::var_os("MINETSDB_SKIP_PROMETHEUS").is_some() {
            eprintln!("SKIPPED: prometheus not installed and MINETSDB_SKIP_PROMETHEUS set");
            return;
        }
        panic!("needs the Debian package `prometheus` (promtool + prometheus 2.42): apt-get install prometheus, or run scripts/test which installs it");
    }
    let work = tempfile::tempdir().unwrap();
    let data = dataset();
    let om = work.path().join("data.om");
    write_openmetrics(&data, &om);
    let prom_dir = work.path().join("prom");
    let out = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&prom_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let prom = start_prometheus(&prom_dir, work.path());

    let db_dir = work.path().join("minetsdb");
    let db = Db::open(&db_dir, Options::default()).unwrap();
    for (l, samples) in &data {
        let batch: Vec<(Labels, Sample)> = samples.iter().map(|s| (l.clone(), *s)).collect();
        db.append_labeled(&batch).unwrap();
    }
    db.flush().unwrap();

    let exprs = expressions();
    assert!(exprs.len() >= 500, "only {} expressions", exprs.len());
    let windows = [
        (T0 + 3_600_000, T0 + SPAN + 600_000, 300_000),
        (T0 + 17 * 60_000, T0 + 3 * 3_600_000, 97_000),
    ];
    let mut mismatches = 0;
    let mut both_error = 0;
    for expr in &exprs {
        for &(start, end, step) in &windows {
            let mut p = prometheus_answer(prom.port, expr, start, end, step);
            let mut m = minetsdb_answer(&db, expr, start, end, step);
            if expr.starts_with("topk") || expr.starts_with("bottomk") {
                (p, m) = (by_step(&p), by_step(&m));
            }
            if p.is_err() && m.is_err() {
                both_error += 1;
            }
            if !same(&p, &m) {
                mismatches += 1;
                let show = |a: &Answer| {
                    let s = format!("{a:?}");
                    s.chars().take(1500).collect::<String>()
                };
                eprintln!("MISMATCH {expr}  [{start}..{end} step {step}]\n  prometheus: {}\n  minetsdb:   {}", show(&p), show(&m));
            }
        }
    }
    eprintln!(
        "{} expressions x {} windows compared with Prometheus 2.42: {mismatches} mismatches ({both_error} errored in both)",
        exprs.len(),
        windows.len()
    );
    assert_eq!(mismatches, 0);
}
