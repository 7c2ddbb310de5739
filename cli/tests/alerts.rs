//! `minetsdb alerts` and the alerts of `collect`: a GPU that runs hot in a
//! hand-made database goes pending → firing → resolved over successive
//! runs (`--time`), its `ALERTS` series can be queried, rule files' templates
//! give the annotations, `--check` names file:line:col, and the collect
//! loop and `collect --once` fire an alert on the fake GPUs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use minetsdb::{Db, Labels, Options, Sample};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_minetsdb"))
}

const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

/// One GPU's temperature each minute from `T0`: `temps[i]` at minute i.
fn hot_db(dir: &Path, temps: &[f64]) -> PathBuf {
    let path = dir.join("db");
    let db = Db::open(&path, Options::default()).unwrap();
    let l = Labels::new(
        "nvidia_smi_temperature_gpu",
        &[
            ("instance", "rig1"),
            ("uuid", "GPU-7"),
            ("name", "RTX 3080"),
        ],
    )
    .unwrap();
    let batch: Vec<_> = temps
        .iter()
        .enumerate()
        .map(|(i, v)| (l.clone(), Sample::new(T0 + i as i64 * MIN, *v)))
        .collect();
    db.append_labeled(&batch).unwrap();
    path
}

const RULES: &str = r#"groups:
  - name: gpu
    rules:
      - alert: GpuHot
        expr: nvidia_smi_temperature_gpu > 85
        for: 2m
        labels:
          severity: critical
          card: "{{ $labels.name }}"
        annotations:
          summary: "{{ $labels.uuid }} on {{ $labels.instance }} at {{ $value }}°C ({{ printf \"%.1f\" $value }}, {{ $value | humanize }})"
"#;

fn config(dir: &Path, extra: &str) -> PathBuf {
    std::fs::write(dir.join("rules.yml"), RULES).unwrap();
    let p = dir.join("config.toml");
    std::fs::write(
        &p,
        format!("[nvml]\nenabled = false\n[alerting]\ndefaults = false\nrule_files = [\"rules.yml\"]\n{extra}"),
    )
    .unwrap();
    p
}

fn run(args: &[&str], config: &Path, db: &Path) -> Output {
    bin()
        .args(args)
        .arg("--config")
        .arg(config)
        .arg("--db")
        .arg(db)
        .output()
        .unwrap()
}

fn alerts_at(config: &Path, db: &Path, minute: i64) -> String {
    let t = ((T0 + minute * MIN) / 1000).to_string();
    let out = run(&["alerts", "--time", &t], config, db);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn query(db: &Path, expr: &str, minute: i64) -> String {
    let t = ((T0 + minute * MIN) / 1000).to_string();
    let out = bin()
        .args(["query", expr, "--format", "csv", "--time", &t, "--db"])
        .arg(db)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn row<'a>(table: &'a str, name: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} in:\n{table}"))
}

#[test]
fn a_hot_gpu_goes_pending_firing_resolved_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let db = hot_db(dir.path(), &[90.0, 91.0, 92.5, 93.0, 70.0, 70.0]);
    let cfg = config(dir.path(), "");

    let t = alerts_at(&cfg, &db, 0);
    let r = row(&t, "GpuHot");
    assert!(r.contains("pending") && r.contains("critical"), "{t}");
    assert!(
        r.contains("card=RTX 3080") && r.contains("uuid=GPU-7"),
        "{t}"
    );
    assert!(r.contains("GPU-7 on rig1 at 90°C (90.0, 90)"), "{t}");
    assert!(query(&db, "ALERTS", 0).contains("alertstate=\"\"pending\"\""));

    assert!(row(&alerts_at(&cfg, &db, 1), "GpuHot").contains("pending"));
    // `for: 2m` has passed: firing, with the value of this evaluation.
    let t = alerts_at(&cfg, &db, 2);
    let r = row(&t, "GpuHot");
    assert!(
        r.contains("firing") && r.contains("92.5°C (92.5, 92.5)"),
        "{t}"
    );
    let q = query(&db, "ALERTS", 2);
    assert!(
        q.contains("alertstate=\"\"firing\"\"") && !q.contains("pending"),
        "{q}"
    );
    let q = query(&db, "ALERTS_FOR_STATE", 2);
    assert!(q.trim_end().ends_with(&(T0 / 1000).to_string()), "{q}");
    assert!(row(&alerts_at(&cfg, &db, 3), "GpuHot").contains("firing"));
    // Cooled: resolved in this run, gone from ALERTS; then nothing.
    let t = alerts_at(&cfg, &db, 4);
    let r = row(&t, "GpuHot");
    assert!(r.contains("resolved") && r.contains("at 93°C"), "{t}");
    assert_eq!(query(&db, "ALERTS", 4).lines().count(), 1, "header only");
    assert_eq!(alerts_at(&cfg, &db, 5), "no alerts\n");
    // The state history can be plotted: firing over minutes 2 and 3.
    let out = bin()
        .args([
            "query",
            "ALERTS{alertstate=\"firing\"}",
            "--format",
            "csv",
            "--step",
            "1m",
            "--start",
            &(T0 / 1000).to_string(),
            "--end",
            &((T0 + 5 * MIN) / 1000).to_string(),
            "--db",
        ])
        .arg(&db)
        .output()
        .unwrap();
    let csv = String::from_utf8_lossy(&out.stdout);
    assert_eq!(csv.lines().count(), 3, "{csv}");
}

#[test]
fn the_default_rules_use_the_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let db = hot_db(dir.path(), &[85.0, 85.0, 85.0]);
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "[nvml]\nenabled = false\n[thresholds]\ntemperature = { warning = 84, critical = 95 }\n[alerting]\ndisable = [\"TargetDown\"]\n",
    )
    .unwrap();
    assert!(alerts_at(&cfg, &db, 0).contains("pending"));
    let t = alerts_at(&cfg, &db, 2);
    let r = row(&t, "GpuTemperatureHigh");
    assert!(r.contains("firing") && r.contains("warning"), "{t}");
    assert!(r.contains("rig1 GPU GPU-7 is at 85 °C."), "{t}");
    assert_eq!(t.lines().count(), 2, "critical (95) does not fire: {t}");

    let out = run(&["alerts", "--list"], &cfg, &db);
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(list.contains("alert GpuTemperatureHigh [critical] for 120s: {__name__=~\"nvidia_smi_temperature_gpu|amdgpu_temperature_celsius\"} >= 95"), "{list}");
    assert!(!list.contains("TargetDown"), "{list}");
}

#[test]
fn check_names_file_line_column_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yml");
    std::fs::write(&good, RULES).unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        RULES
            .replace("> 85", "> > 85")
            .replace("humanize }}", "humanise }}"),
    )
    .unwrap();
    let nocfg = dir.path().join("none.toml");
    let out = bin()
        .args(["alerts", "--check"])
        .arg(&good)
        .env("XDG_CONFIG_HOME", dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("good.yml: 1 groups, 1 rules"));

    let out = bin()
        .args(["alerts", "--check"])
        .arg(&good)
        .arg(&bad)
        .env("XDG_CONFIG_HOME", dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let b = bad.display().to_string();
    assert!(
        err.contains(&format!(
            "{b}:5:15: group \"gpu\", rule 1, \"GpuHot\": could not parse expression"
        )),
        "{err}"
    );
    assert!(!err.contains("humanise"), "one problem per rule: {err}");

    // A broken [[alert]] in config.toml, with --check and no files.
    std::fs::write(&nocfg, "[[alert]]\nname = \"X\"\nexpr = \"rate(up)\"\n").unwrap();
    let out = bin()
        .args(["alerts", "--check", "--config"])
        .arg(&nocfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("{}:3:8: alert \"X\": expr:", nocfg.display())),
        "{err}"
    );

    // A rule file named by the config that is missing.
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[alerting]\nrule_files = [\"gone.yml\"]\n").unwrap();
    let out = bin()
        .args(["alerts", "--check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("gone.yml: reading rule file"), "{err}");
    // `config check` validates the rules too.
    let out = bin()
        .args(["config", "check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("gone.yml: reading rule file"), "{err}");
}

const WARM: &str = "instance = \"rig1\"\n[nvml]\nfake = 1\ninterval = \"1s\"\n[alerting]\ndefaults = false\ninterval = \"1s\"\n\n[[alert]]\nname = \"Warm\"\nexpr = \"nvidia_smi_temperature_gpu > 50\"\nannotations = { summary = \"{{ $labels.uuid }} at {{ $value }}\" }\n";

#[test]
fn collect_once_evaluates_after_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, WARM).unwrap();
    let db = dir.path().join("db");
    let out = run(&["collect", "--once"], &cfg, &db);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("minetsdb: alert Warm firing {instance=\"rig1\", name=\"NVIDIA GeForce RTX 3080\", severity=\"warning\", uuid=\"GPU-00000000-0000-0000-0000-000000000000\"}: GPU-00000000-0000-0000-0000-000000000000 at 61"),
        "{err}"
    );
    let q = bin()
        .args(["query", "ALERTS", "--format", "csv", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let q = String::from_utf8_lossy(&q.stdout);
    assert!(q.contains("Warm") && q.contains("firing"), "{q}");
}

#[test]
fn the_collect_loop_fires_an_alert() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, WARM).unwrap();
    let db = dir.path().join("db");
    let mut child = bin()
        .args(["collect", "--config"])
        .arg(&cfg)
        .arg("--db")
        .arg(&db)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Liveness bound, not a performance claim.
    let end = Instant::now() + Duration::from_secs(30);
    let mut fired = false;
    while Instant::now() < end && !fired {
        std::thread::sleep(Duration::from_millis(300));
        let q = bin()
            .args(["query", "ALERTS", "--format", "csv", "--db"])
            .arg(&db)
            .output()
            .unwrap();
        fired = String::from_utf8_lossy(&q.stdout).contains("firing");
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let end = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(fired, "no firing ALERTS within 30 s: {err}");
    assert!(err.contains("minetsdb: alert Warm firing"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

fn have_promtool() -> bool {
    if Command::new("promtool").arg("--version").output().is_ok() {
        return true;
    }
    if std::env::var_os("MINETSDB_SKIP_PROMETHEUS").is_some() {
        eprintln!("SKIPPED: promtool not installed and MINETSDB_SKIP_PROMETHEUS set");
        return false;
    }
    panic!("needs the Debian package `prometheus` (promtool 2.42): apt-get install prometheus, or run scripts/test which installs it");
}

const DIFF_RULES: &str = r#"groups:
  - name: diff
    rules:
      - record: gpu:temp:max
        expr: max(gpu_temp)
      - alert: Hot
        expr: gpu_temp > 85
        for: 2m
        labels:
          severity: critical
          card: "{{ $labels.uuid | toUpper }}"
        annotations:
          summary: "{{ $labels.uuid }} at {{ $value }} ({{ $value | humanize }}, {{ printf \"%.2f\" $value }})"
          dur: "{{ $value | humanizeDuration }}"
          pct: "{{ $value | humanizePercentage }}"
          kib: "{{ $value | humanize1024 }}"
          cond: "{{ if gt $value 90.0 }}very{{ else }}just{{ end }} hot{{ if eq $labels.uuid \"gpu-b\" }} (b){{ end }}"
          ts: "{{ $value | humanizeTimestamp }}"
          title: "{{ title \"rig one\" }} {{ $labels.missing }}|{{ .Labels.uuid }}"
      - alert: RigHot
        expr: gpu:temp:max >= 95
"#;

/// Prometheus 2.42 (promtool's rule unit tests) must agree with our
/// evaluator on every firing alert, its labels and templated annotations,
/// at each minute, with the same rules over the same samples: the
/// expectations below are what we computed, and promtool checks them.
#[test]
fn promtool_agrees_on_alerts_and_annotations() {
    use minetsdb_collectors::alerts::{rules::parse_rule_file, AlertState, Evaluator};
    if !have_promtool() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), DIFF_RULES).unwrap();
    let series: [(&str, [f64; 7]); 2] = [
        ("gpu-a", [90.0, 91.0, 92.5, 95.123, 1234567.5, 0.0123, 70.0]),
        ("gpu-b", [80.0, 86.0, 87.0, 88.0, 89.0, 90.0, 91.0]),
    ];
    let db = Db::open(dir.path().join("db"), Options::default()).unwrap();
    for (uuid, values) in &series {
        let l = Labels::new("gpu_temp", &[("uuid", uuid)]).unwrap();
        let batch: Vec<_> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (l.clone(), Sample::new(i as i64 * MIN, *v)))
            .collect();
        db.append_labeled(&batch).unwrap();
    }
    let groups = parse_rule_file(DIFF_RULES, Path::new("rules.yml"), MIN).unwrap();
    let mut ev = Evaluator::new(groups, Default::default());
    let json = |s: &str| serde_json::to_string(s).unwrap();
    let mut tests = String::new();
    let mut firing_seen = 0;
    for minute in 0..7i64 {
        let round = ev.eval(&db, minute * MIN);
        assert!(round.errors.is_empty(), "{:?}", round.errors);
        db.append_labeled(&round.samples).unwrap();
        for name in ["Hot", "RigHot"] {
            tests.push_str(&format!(
                "      - eval_time: {minute}m\n        alertname: {name}\n        exp_alerts:\n"
            ));
            let firing = round
                .alerts
                .iter()
                .filter(|a| a.name() == name && a.state == AlertState::Firing);
            let mut n = 0;
            for a in firing {
                n += 1;
                tests.push_str("          - exp_labels:\n");
                for (k, v) in a.labels.iter().filter(|(k, _)| k.as_str() != "alertname") {
                    tests.push_str(&format!("              {k}: {}\n", json(v)));
                }
                tests.push_str("            exp_annotations:\n");
                for (k, v) in &a.annotations {
                    tests.push_str(&format!("              {k}: {}\n", json(v)));
                }
            }
            if n == 0 {
                // An empty list: promtool then expects nothing firing.
                tests.truncate(tests.len() - "\n".len());
                tests.push_str(" []\n");
            }
            firing_seen += n;
        }
    }
    assert!(firing_seen >= 6, "the scenario must fire: {tests}");
    let input: String = series
        .iter()
        .map(|(uuid, v)| {
            let vals: Vec<String> = v.iter().map(|x| x.to_string()).collect();
            format!(
                "      - series: 'gpu_temp{{uuid=\"{uuid}\"}}'\n        values: '{}'\n",
                vals.join(" ")
            )
        })
        .collect();
    let test = format!(
        "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{input}    alert_rule_test:\n{tests}"
    );
    std::fs::write(dir.path().join("test.yml"), &test).unwrap();
    let out = Command::new("promtool")
        .args(["test", "rules", "test.yml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool disagrees:\n{}{}\n--- test.yml:\n{test}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // And promtool does check them: one changed character fails it.
    assert!(test.contains("very hot"), "{test}");
    std::fs::write(
        dir.path().join("bad.yml"),
        test.replacen("very hot", "verry hot", 1),
    )
    .unwrap();
    let out = Command::new("promtool")
        .args(["test", "rules", "bad.yml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    eprintln!("{test}");
}

/// `serve`'s `/api/v1/alerts` and `/api/v1/rules` show the stored state,
/// in Prometheus' shape.
#[test]
fn serve_answers_rules_and_alerts() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let start = now - 3 * MIN;
    let db_path = dir.path().join("db");
    {
        let db = Db::open(&db_path, Options::default()).unwrap();
        let l = Labels::new("nvidia_smi_temperature_gpu", &[("uuid", "GPU-7")]).unwrap();
        let b: Vec<_> = (0..4)
            .map(|i| (l.clone(), Sample::new(start + i * MIN, 95.0)))
            .collect();
        db.append_labeled(&b).unwrap();
    }
    for i in 0..4 {
        let t = ((start + i * MIN) / 1000).to_string();
        let out = run(&["alerts", "--time", &t], &cfg, &db_path);
        assert!(out.status.success());
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = bin()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--config",
        ])
        .arg(&cfg)
        .arg("--db")
        .arg(&db_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let get = |path: &str| -> Option<String> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut body = String::new();
        s.read_to_string(&mut body).ok()?;
        Some(body)
    };
    let end = Instant::now() + Duration::from_secs(20);
    let mut alerts = None;
    while alerts.is_none() && Instant::now() < end {
        alerts = get("/api/v1/alerts");
        std::thread::sleep(Duration::from_millis(100));
    }
    let rules = get("/api/v1/rules");
    let _ = child.kill();
    let _ = child.wait();
    let alerts = alerts.expect("serve did not answer");
    let body = alerts.split("\r\n\r\n").nth(1).unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    let a = &v["data"]["alerts"];
    assert_eq!(a.as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(a[0]["state"], "firing", "{body}");
    assert_eq!(a[0]["labels"]["alertname"], "GpuHot", "{body}");
    assert!(
        a[0]["annotations"]["summary"]
            .as_str()
            .unwrap_or("")
            .starts_with("GPU-7"),
        "{body}"
    );
    let rules = rules.unwrap_or_default();
    let body = rules.split("\r\n\r\n").nth(1).unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    let r = &v["data"]["groups"][0]["rules"][0];
    assert_eq!(r["name"], "GpuHot", "{body}");
    assert_eq!(r["state"], "firing", "{body}");
    assert_eq!(r["duration"], 120.0, "{body}");
    assert_eq!(r["type"], "alerting", "{body}");
}

/// The cron path end to end: `minetsdb alerts` runs at successive minutes
/// hand the alerts to a `[[notify]]` command, which runs once when the
/// alert fires and once when it resolves (not for pending, not again on a
/// run where nothing changed), with the alert in its environment.
#[test]
fn alerts_runs_notify_a_command_on_firing_and_on_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let db = hot_db(dir.path(), &[90.0, 91.0, 92.5, 93.0, 93.5, 70.0, 70.0]);
    let log = dir.path().join("notified.log");
    let script = dir.path().join("notify.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$MINETSDB_ALERT_NAME $MINETSDB_ALERT_STATE $MINETSDB_ALERT_LABEL_UUID $MINETSDB_ALERT_SEVERITY\" >> {}\n",
            log.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = config(
        dir.path(),
        &format!("[[notify]]\ncommand = [\"{}\"]\n", script.display()),
    );
    let lines = || -> Vec<String> {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    };
    alerts_at(&cfg, &db, 0);
    alerts_at(&cfg, &db, 1);
    assert!(lines().is_empty(), "pending was sent: {:?}", lines());
    alerts_at(&cfg, &db, 2);
    assert_eq!(lines(), ["GpuHot firing GPU-7 critical"]);
    alerts_at(&cfg, &db, 3);
    alerts_at(&cfg, &db, 4);
    assert_eq!(lines().len(), 1, "resent while firing: {:?}", lines());
    alerts_at(&cfg, &db, 5);
    assert_eq!(
        lines(),
        [
            "GpuHot firing GPU-7 critical",
            "GpuHot resolved GPU-7 critical"
        ]
    );
    alerts_at(&cfg, &db, 6);
    assert_eq!(lines().len(), 2, "{:?}", lines());
    assert!(db.join("notify").join("state.json").exists());
}

/// Who notifies: only the process that holds the database's writer lock.
/// With another process holding it (here this test, standing in for a
/// `collect` loop), `minetsdb alerts` evaluates read-only and sends
/// nothing, so the two never both send; once the db is free, the next run
/// sends, with `[alerting] external_labels` among the alert's labels.
#[test]
fn only_the_process_holding_the_db_notifies() {
    let dir = tempfile::tempdir().unwrap();
    let db = hot_db(dir.path(), &[90.0, 91.0, 92.5, 93.0]);
    let log = dir.path().join("notified.log");
    let script = dir.path().join("notify.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$MINETSDB_ALERT_NAME $MINETSDB_ALERT_STATE $MINETSDB_ALERT_LABEL_RIG $MINETSDB_ALERT_LABEL_INSTANCE\" >> {}\n",
            log.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = config(
        dir.path(),
        &format!(
            "external_labels = {{ rig = \"farm-a\", instance = \"not-this\" }}\n[[notify]]\ncommand = [\"{}\"]\n",
            script.display()
        ),
    );
    let logged = || std::fs::read_to_string(&log).unwrap_or_default();
    alerts_at(&cfg, &db, 0);
    alerts_at(&cfg, &db, 1);

    let holder = Db::open(&db, Options::default()).unwrap();
    let t = ((T0 + 2 * MIN) / 1000).to_string();
    let out = run(&["alerts", "--time", &t], &cfg, &db);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("held by pid {}", std::process::id())),
        "{stderr}"
    );
    assert!(
        row(&String::from_utf8_lossy(&out.stdout), "GpuHot").contains("firing"),
        "evaluated all the same"
    );
    assert_eq!(logged(), "", "notified without holding the db");
    drop(holder);

    alerts_at(&cfg, &db, 2);
    assert_eq!(logged(), "GpuHot firing farm-a rig1\n");
}
