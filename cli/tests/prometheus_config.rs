//! `minetsdb config check`, `collect --once --prometheus-config` and
//! `minetsdb targets` end to end, against servers on 127.0.0.1.

mod common;
use common::{Server, TEXT_004};

use std::path::Path;
use std::process::{Command, Output};

const FIXTURE: &str = "../collectors/tests/fixtures/prometheus.yml";

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_minetsdb"))
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)
}

#[test]
fn config_check_prints_resolved_and_dropped_targets() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["config", "check", "--prometheus-config"])
        .arg(fixture())
        .env("XDG_CONFIG_HOME", dir.path())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    for want in [
        "job \"node\" (prometheus.yml): every 15s\n  http://localhost:9100/metrics  {instance=\"localhost:9100\", job=\"node\", rig=\"rig1\"}  (timeout 10s)\n",
        "  http://localhost:9835/metrics  {instance=\"rig1\", job=\"nvidia_gpu\", rig=\"rig1\"}  (timeout 10s, 1 metric_relabel_configs)\n",
        "  http://rig2.lan:9835/metrics  {instance=\"rig2\", job=\"nvidia_gpu\", rig=\"rig1\"}",
        "job \"ethermine\" (prometheus.yml): every 5m\n",
        "(timeout 30s, basic auth as \"miner\", honor_labels, sample_limit 5000)",
        "  http://localhost:9115/probe?module=tcp_connect&target=eu1.ethermine.org%3A4444  {instance=\"eu1.ethermine.org:4444\", job=\"stratum_probe\"}  (timeout 10s)\n",
        "  dropped {__address__=\"asia1.ethermine.org:4444\", __metrics_path__=\"/probe\", __param_module=\"tcp_connect\", __scheme__=\"http\", __scrape_interval__=\"15s\", __scrape_timeout__=\"10s\", job=\"stratum_probe\"}: dropped by relabel_configs[2] (action drop)\n",
        "external_labels {monitor=\"rig1\"} (for remote write; not stored)\n",
        "warning: rule_files: ignored (not used for scraping)\n",
        "6 targets in 4 jobs, 1 dropped\n",
    ] {
        assert!(stdout.contains(want), "missing {want:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("us1") || stdout.contains("target=us1.ethermine.org%3A4444"));

    // An error names file, line, column and key; exit 1.
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "scrape_configs:\n  - job_name: a\n    static_config:\n      - targets: [x]\n",
    )
    .unwrap();
    let out = bin()
        .args(["config", "check", "--prometheus-config"])
        .arg(&bad)
        .env("XDG_CONFIG_HOME", dir.path())
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:3:5: ", bad.display())) && stderr.contains("static_config"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn collect_once_with_prometheus_config_faults_staleness_and_targets() {
    let good = Server::start(
        "200 OK",
        TEXT_004,
        "hashrate{gpu=\"0\"} 61.5\nshares_total 10\ngo_goroutines 7\n",
    );
    let bad = Server::start("500 Internal Server Error", TEXT_004, "");
    let many = Server::start("200 OK", TEXT_004, "a 1\nb 2\nc 3\n");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let addr = |s: &Server| {
        s.url
            .trim_start_matches("http://")
            .trim_end_matches("/metrics")
            .to_string()
    };
    let write = |with_bad: bool| {
        let yml = dir.path().join("prometheus.yml");
        std::fs::write(
            &yml,
            format!(
                r#"global: {{scrape_interval: 1s, scrape_timeout: 1s}}
scrape_configs:
  - job_name: miner
    static_configs:
      - targets: ['{}'{}]
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: 'go_.*'
        action: drop
  - job_name: limited
    sample_limit: 2
    static_configs:
      - targets: ['{}']
"#,
                addr(&good),
                if with_bad {
                    format!(", '{}'", addr(&bad))
                } else {
                    String::new()
                },
                addr(&many),
            ),
        )
        .unwrap();
        yml
    };
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[nvml]\nenabled = false\n").unwrap();
    let collect = |yml: &Path| {
        bin()
            .args(["collect", "--once", "--config"])
            .arg(&config)
            .arg("--prometheus-config")
            .arg(yml)
            .arg("--db")
            .arg(&db)
            .output()
            .unwrap()
    };
    let yml = write(true);
    let out = collect(&yml);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&bad.url) && l.contains("500")),
        "{stderr}"
    );
    assert!(
        lines.iter().any(|l| l.contains(&many.url)
            && l.contains("sample limit exceeded: 3 samples, sample_limit is 2")),
        "{stderr}"
    );

    let query = |q: &str| {
        let out = bin()
            .args(["query", q, "--format", "csv", "--db"])
            .arg(&db)
            .output()
            .unwrap();
        let (o, e) = text(&out);
        assert!(out.status.success(), "{o}{e}");
        o
    };
    let q = query("hashrate");
    assert!(q.contains("61.5") && q.contains("miner"), "{q}");
    let go = query("go_goroutines");
    assert_eq!(
        go.lines().filter(|l| l.contains("go_goroutines")).count(),
        0,
        "metric relabel drop: {go}"
    );
    let up = query("up");
    assert!(up.contains(&addr(&bad)), "{up}");
    assert_eq!(query("a").lines().filter(|l| l.contains("a{")).count(), 0);

    // targets: the health of each, exit 1 as some are down.
    let out = bin().args(["targets", "--db"]).arg(&db).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let row = |inst: &str, job: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(job) && l.contains(inst))
            .unwrap_or_else(|| panic!("{job} {inst}: {stdout}"))
            .to_string()
    };
    assert!(stdout.starts_with("JOB "), "{stdout}");
    let g = row(&addr(&good), "miner");
    assert!(g.contains(" up ") && g.ends_with(" 3"), "{g}");
    let b = row(&addr(&bad), "miner");
    assert!(b.contains(" down ") && b.contains("HTTP status 500"), "{b}");
    let m = row(&addr(&many), "limited");
    assert!(
        m.contains(" down ") && m.contains("sample limit exceeded"),
        "{m}"
    );
    assert!(g.contains(" ago)"), "{g}");

    // A second process, the failing target removed from the job: the
    // series of its last scrape (up 0...) get stale markers, found in the
    // db, so PromQL stops returning them at once instead of 5 minutes later.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let yml = write(false);
    let before = good.hits();
    let out = collect(&yml);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(good.hits(), before + 1, "{stderr}");
    assert_eq!(bad.hits(), 1);
    let up = query("up");
    assert!(!up.contains(&addr(&bad)), "{up}");
    assert!(up.contains(&addr(&good)), "{up}");
    let raw = query(&format!(
        "count_over_time(up{{instance=\"{}\"}}[1h])",
        addr(&bad)
    ));
    assert!(raw.contains(",1"), "the sample is kept, only ended: {raw}");
}
