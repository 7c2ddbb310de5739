//! Notifications end to end: command receivers (a shell script written
//! here records its environment), a webhook against a loopback server that
//! captures the POSTs, and a real Alertmanager (Debian package
//! `prometheus-alertmanager`, installed by scripts/test) on 127.0.0.1.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use minetsdb_collectors::alerts::notify::{Notifier, Options};
use minetsdb_collectors::alerts::{Alert, AlertState};
use minetsdb_collectors::config::notify::{Receiver, ReceiverKind};

const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn alert(name: &str, gpu: &str, state: AlertState, fired: i64, resolved: Option<i64>) -> Alert {
    Alert {
        labels: labels(&[
            ("alertname", name),
            ("severity", "critical"),
            ("gpu", gpu),
            ("gpu_uuid", "GPU-1"),
        ]),
        annotations: labels(&[
            ("summary", &format!("GPU {gpu} is hot")),
            ("runbook", "cool it"),
        ]),
        state,
        active_at_ms: fired - MIN,
        fired_at_ms: (state != AlertState::Pending).then_some(fired),
        resolved_at_ms: resolved,
        value: 93.5,
    }
}

fn firing(gpu: &str) -> Alert {
    alert("GpuHot", gpu, AlertState::Firing, T0, None)
}

fn resolved(gpu: &str, at: i64) -> Alert {
    alert("GpuHot", gpu, AlertState::Resolved, T0, Some(at))
}

fn command(argv: Vec<String>, timeout_ms: i64, repeat_ms: i64) -> Receiver {
    Receiver {
        name: "script".into(),
        kind: ReceiverKind::Command { argv },
        timeout_ms,
        repeat_interval_ms: repeat_ms,
        send_resolved: true,
        min_severity: None,
        matchers: vec![],
    }
}

/// Options whose reports are kept for the test to read.
fn options() -> (Options, Arc<Mutex<Vec<String>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&got);
    let opts = Options {
        report: Arc::new(move |m: &str| sink.lock().unwrap().push(m.to_string())),
        ..Options::default()
    };
    (opts, got)
}

/// A script that writes its MINETSDB_ variables to a new file in `out`
/// per run, after running `before` (shell).
fn recorder(dir: &Path, before: &str) -> (Vec<String>, PathBuf) {
    let out = dir.join("runs");
    std::fs::create_dir_all(&out).unwrap();
    let script = dir.join("record.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\n{before}\nenv | grep '^MINETSDB_' > \"$1/$(date +%s%N).$$\"\n"),
    )
    .unwrap();
    (
        vec![
            "/bin/sh".into(),
            script.display().to_string(),
            out.display().to_string(),
        ],
        out,
    )
}

/// The runs recorded so far, oldest first, each as its variables.
fn runs(out: &Path) -> Vec<BTreeMap<String, String>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn flush(n: &Notifier) {
    assert_eq!(n.flush(Instant::now() + Duration::from_secs(10)), 0);
}

#[test]
fn command_runs_on_firing_and_on_resolve_with_the_alert_in_its_environment() {
    let dir = tempfile::tempdir().unwrap();
    let (argv, out) = recorder(dir.path(), "");
    let (opts, reports) = options();
    let state = dir.path().join("notify");
    let n = Notifier::new(&[command(argv, 5000, 4 * 60 * MIN)], &state, opts).unwrap();

    let pending = alert("GpuHot", "1", AlertState::Pending, T0, None);
    assert_eq!(n.update(&[pending], T0), 0, "pending alerts are never sent");
    assert_eq!(n.update(&[firing("0")], T0), 1);
    flush(&n);
    assert_eq!(n.update(&[firing("0")], T0 + MIN), 0, "sent already");
    flush(&n);
    let r = runs(&out);
    assert_eq!(r.len(), 1, "{r:?}");
    let e = &r[0];
    let get = |k: &str| e.get(k).map(String::as_str);
    assert_eq!(get("MINETSDB_RECEIVER"), Some("script"));
    assert_eq!(get("MINETSDB_ALERT_NAME"), Some("GpuHot"));
    assert_eq!(get("MINETSDB_ALERT_STATE"), Some("firing"));
    assert_eq!(get("MINETSDB_ALERT_SEVERITY"), Some("critical"));
    assert_eq!(
        get("MINETSDB_ALERT_LABELS"),
        Some(r#"{alertname="GpuHot", gpu="0", gpu_uuid="GPU-1", severity="critical"}"#)
    );
    assert_eq!(get("MINETSDB_ALERT_LABEL_GPU"), Some("0"));
    assert_eq!(get("MINETSDB_ALERT_LABEL_GPU_UUID"), Some("GPU-1"));
    assert_eq!(get("MINETSDB_ALERT_ANNOTATION_RUNBOOK"), Some("cool it"));
    assert_eq!(get("MINETSDB_ALERT_SUMMARY"), Some("GPU 0 is hot"));
    assert_eq!(get("MINETSDB_ALERT_VALUE"), Some("93.5"));
    assert_eq!(
        get("MINETSDB_ALERT_STARTS_AT"),
        Some("2023-11-14T22:13:20.000Z")
    );
    assert_eq!(get("MINETSDB_ALERT_ENDS_AT"), Some(""));
    assert_eq!(get("MINETSDB_ALERT_REPEAT"), Some("0"));
    let json: serde_json::Value =
        serde_json::from_str(get("MINETSDB_ALERT_JSON").unwrap()).unwrap();
    assert_eq!(json["status"], "firing");
    assert_eq!(json["labels"]["gpu"], "0");
    assert_eq!(json["annotations"]["summary"], "GPU 0 is hot");
    assert_eq!(json["value"], 93.5);

    assert_eq!(n.update(&[resolved("0", T0 + 2 * MIN)], T0 + 2 * MIN), 1);
    flush(&n);
    assert_eq!(n.update(&[resolved("0", T0 + 2 * MIN)], T0 + 3 * MIN), 0);
    // A resolved alert whose firing was never sent is not sent either.
    assert_eq!(n.update(&[resolved("7", T0 + 2 * MIN)], T0 + 3 * MIN), 0);
    flush(&n);
    let r = runs(&out);
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(r[1]["MINETSDB_ALERT_STATE"], "resolved");
    assert_eq!(r[1]["MINETSDB_ALERT_ENDS_AT"], "2023-11-14T22:15:20.000Z");
    assert!(reports.lock().unwrap().is_empty(), "{reports:?}");
}

#[test]
fn repeat_interval_resends_and_a_new_notifier_does_not_resend() {
    let dir = tempfile::tempdir().unwrap();
    let (argv, out) = recorder(dir.path(), "");
    let state = dir.path().join("notify");
    let recv = [command(argv, 5000, 60 * MIN)];
    let n = Notifier::new(&recv, &state, options().0).unwrap();
    assert_eq!(n.update(&[firing("0"), firing("1")], T0), 2);
    flush(&n);
    assert_eq!(n.update(&[firing("0"), firing("1")], T0 + 30 * MIN), 0);
    drop(n);

    // A cron run: a fresh process with the same state directory.
    let n = Notifier::new(&recv, &state, options().0).unwrap();
    assert_eq!(n.update(&[firing("0"), firing("1")], T0 + 31 * MIN), 0);
    assert_eq!(n.update(&[firing("0"), firing("1")], T0 + 61 * MIN), 2);
    flush(&n);
    let r = runs(&out);
    assert_eq!(r.len(), 4);
    assert_eq!(r[2]["MINETSDB_ALERT_REPEAT"], "1");
    assert_eq!(r[2]["MINETSDB_ALERT_STATE"], "firing");
    // A new firing episode of the same labels is news, not a repeat.
    let again = alert("GpuHot", "0", AlertState::Firing, T0 + 62 * MIN, None);
    assert_eq!(n.update(&[again], T0 + 62 * MIN), 1);
    flush(&n);
    assert_eq!(runs(&out)[4]["MINETSDB_ALERT_REPEAT"], "0");
}

#[test]
fn a_failing_command_is_reported_and_retried_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("failed-once");
    let (argv, out) = recorder(
        dir.path(),
        &format!(
            "if [ ! -e {m} ]; then touch {m}; echo 'no route to pager' >&2; exit 1; fi",
            m = marker.display()
        ),
    );
    let state = dir.path().join("notify");
    let recv = [command(argv, 5000, 4 * 60 * MIN)];
    let (opts, reports) = options();
    let n = Notifier::new(&recv, &state, opts).unwrap();
    assert_eq!(n.update(&[firing("0")], T0), 1);
    flush(&n);
    assert!(runs(&out).is_empty());
    {
        let r = reports.lock().unwrap();
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(
            r[0].contains("record.sh")
                && r[0].contains("exit status: 1")
                && r[0].contains("no route to pager")
                && r[0].contains("GpuHot firing")
                && r[0].contains("retrying"),
            "{r:?}"
        );
    }
    let failures = n.failures();
    assert_eq!(failures["script"].len(), 1, "{failures:?}");
    assert_eq!(n.update(&[firing("0")], T0 + 5_000), 0, "backing off");
    drop(n);

    let n = Notifier::new(&recv, &state, options().0).unwrap();
    assert_eq!(
        n.update(&[firing("0")], T0 + MIN),
        1,
        "retried by the next run"
    );
    flush(&n);
    assert!(n.failures().is_empty());
    assert_eq!(n.update(&[firing("0")], T0 + 2 * MIN), 0);
    flush(&n);
    let r = runs(&out);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["MINETSDB_ALERT_STATE"], "firing");
}

#[test]
fn a_hung_command_is_killed_at_its_timeout_and_never_delays_update() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    // A grandchild in the background and the script itself both hang.
    let (argv, out) = recorder(
        dir.path(),
        &format!("sleep 60 & echo $! >> {}; sleep 60", pids.display()),
    );
    let timeout_ms = 1000;
    let state = dir.path().join("notify");
    let (opts, reports) = options();
    let n = Notifier::new(&[command(argv, timeout_ms, 4 * 60 * MIN)], &state, opts).unwrap();
    let alerts: Vec<Alert> = (0..3).map(|g| firing(&g.to_string())).collect();
    let start = Instant::now();
    assert_eq!(n.update(&alerts, T0), 3);
    assert_eq!(n.update(&alerts, T0 + MIN), 0, "still under way");
    let took = start.elapsed();
    assert!(
        took < Duration::from_millis(timeout_ms as u64 / 2),
        "update took {took:?}"
    );
    // Three runs of one second each, one after the other.
    let start = Instant::now();
    flush(&n);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(2 * timeout_ms as u64) && took < Duration::from_secs(8),
        "{took:?}"
    );
    assert!(runs(&out).is_empty());
    let r = reports.lock().unwrap().clone();
    assert_eq!(r.len(), 3, "{r:?}");
    assert!(
        r.iter().all(|m| m.contains("timed out after 1s, killed")),
        "{r:?}"
    );
    // The background sleeps went with their process group.
    let text = std::fs::read_to_string(&pids).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    for pid in text.lines() {
        let alive = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
        };
        while alive() {
            assert!(Instant::now() < deadline, "pid {pid} still runs");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    assert_eq!(n.failures()["script"].len(), 3);
}

/// A loopback HTTP server answering each request with the next status of
/// `statuses` (then 200), handing over (request line, headers, body).
struct Capture {
    url: String,
    got: mpsc::Receiver<(String, Vec<String>, Vec<u8>)>,
}

fn capture(statuses: Vec<u16>) -> Capture {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, got) = mpsc::channel();
    std::thread::spawn(move || {
        let mut statuses = statuses.into_iter();
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let mut headers = Vec::new();
            let mut len = 0;
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                let h = h.trim_end().to_string();
                if h.is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                headers.push(h);
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let status = statuses.next().unwrap_or(200);
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope"
            );
            if tx
                .send((line.trim_end().to_string(), headers, body))
                .is_err()
            {
                return;
            }
        }
    });
    Capture { url, got }
}

fn webhook(url: &str) -> Receiver {
    Receiver {
        name: "am".into(),
        kind: ReceiverKind::Webhook {
            url: minetsdb_collectors::config::notify::alerts_url(url),
            auth: Some(minetsdb_collectors::scrape::Auth::Token {
                scheme: "Bearer".into(),
                credentials: minetsdb_collectors::scrape::Secret::Inline("t0k".into()),
            }),
        },
        timeout_ms: 5000,
        repeat_interval_ms: 4 * 60 * MIN,
        send_resolved: true,
        min_severity: None,
        matchers: vec![],
    }
}

#[test]
fn webhook_posts_alertmanager_v2_alerts_and_resends_like_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let server = capture(vec![503]);
    let (mut opts, reports) = options();
    opts.eval_interval_ms = 2 * MIN;
    let n = Notifier::new(&[webhook(&server.url)], &dir.path().join("n"), opts).unwrap();
    let recv = || server.got.recv_timeout(Duration::from_secs(10)).unwrap();

    // 503 first: reported, retried at the next round.
    assert_eq!(n.update(&[firing("0"), firing("1")], T0), 2);
    flush(&n);
    let (line, headers, _) = recv();
    assert_eq!(line, "POST /api/v2/alerts HTTP/1.1");
    assert!(
        headers.iter().any(|h| h == "authorization: Bearer t0k"),
        "{headers:?}"
    );
    assert!(headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case("content-type: application/json")));
    assert!(
        reports.lock().unwrap()[0].contains("HTTP 503"),
        "{reports:?}"
    );

    assert_eq!(n.update(&[firing("0"), firing("1")], T0 + 30_000), 2);
    flush(&n);
    let (_, _, body) = recv();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 2, "one request for both: {v}");
    assert_eq!(
        list[0],
        serde_json::json!({
            "labels": {"alertname": "GpuHot", "severity": "critical", "gpu": "0", "gpu_uuid": "GPU-1"},
            "annotations": {"summary": "GPU 0 is hot", "runbook": "cool it"},
            "startsAt": "2023-11-14T22:13:20.000Z",
            // sent at T0 + 30 s, valid 4 × max(2 m eval interval, 1 m resend delay)
            "endsAt": "2023-11-14T22:21:50.000Z",
        })
    );

    // Firing alerts are resent every resend delay (1 m).
    assert_eq!(n.update(&[firing("0"), firing("1")], T0 + 60_000), 0);
    assert_eq!(n.update(&[firing("0"), firing("1")], T0 + 90_000), 2);
    flush(&n);
    recv();

    // A resolved one goes with endsAt = when it resolved.
    let at = T0 + 100_000;
    assert_eq!(n.update(&[resolved("0", at), firing("1")], at), 1);
    flush(&n);
    let (_, _, body) = recv();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["labels"]["gpu"], "0");
    assert_eq!(v[0]["endsAt"], "2023-11-14T22:15:00.000Z");
    assert_eq!(reports.lock().unwrap().len(), 1);
}

/// The Alertmanager process, killed when dropped (also on a failed assert).
struct Alertmanager {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";

fn start_alertmanager() -> Option<Alertmanager> {
    if !Path::new(ALERTMANAGER).exists() {
        if std::env::var_os("MINETSDB_SKIP_ALERTMANAGER").is_some() {
            eprintln!("SKIPPED: prometheus-alertmanager not installed");
            return None;
        }
        panic!("needs the Debian package `prometheus-alertmanager`: apt-get install prometheus-alertmanager, or run scripts/test which installs it");
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("alertmanager.yml");
    std::fs::write(
        &cfg,
        "route:\n  receiver: \"null\"\nreceivers:\n  - name: \"null\"\n",
    )
    .unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(ALERTMANAGER)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .arg("--log.level=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let am = Alertmanager {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if ureq::get(format!("{}/-/ready", am.url)).call().is_ok() {
            return Some(am);
        }
        assert!(Instant::now() < deadline, "alertmanager did not get ready");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Alertmanager's `GET /api/v2/alerts` (active, silenced, inhibited and
/// unprocessed alerts: its defaults) with our alertname.
fn am_alerts(am: &Alertmanager) -> Vec<serde_json::Value> {
    let body = ureq::get(format!("{}/api/v2/alerts", am.url))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .filter(|a| a["labels"]["alertname"] == "RigDown")
        .cloned()
        .collect()
}

#[test]
fn a_real_alertmanager_shows_the_alert_firing_then_drops_it_when_resolved() {
    let Some(am) = start_alertmanager() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut recv = webhook(&am.url);
    recv.kind = ReceiverKind::Webhook {
        url: minetsdb_collectors::config::notify::alerts_url(&am.url),
        auth: None,
    };
    let (mut opts, reports) = options();
    // `instance` is the alert's own and wins over the external one.
    opts.external_labels = labels(&[("rig", "farm-a"), ("instance", "external")]);
    let n = Notifier::new(&[recv], &dir.path().join("n"), opts).unwrap();
    let now = now_ms();
    let mut a = alert("RigDown", "0", AlertState::Firing, now - 5_000, None);
    a.labels.insert("instance".into(), "rig1".into());
    assert_eq!(n.update(std::slice::from_ref(&a), now), 1);
    flush(&n);
    assert!(reports.lock().unwrap().is_empty(), "{reports:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let got = loop {
        let got = am_alerts(&am);
        if !got.is_empty() {
            break got;
        }
        assert!(Instant::now() < deadline, "alert never appeared");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(got.len(), 1, "{got:?}");
    let g = &got[0];
    assert_eq!(g["status"]["state"], "active", "{g}");
    assert_eq!(g["labels"]["instance"], "rig1");
    assert_eq!(g["labels"]["rig"], "farm-a", "external label: {g}");
    assert_eq!(g["labels"]["severity"], "critical");
    assert_eq!(g["annotations"]["summary"], "GPU 0 is hot");
    assert_eq!(g["receivers"][0]["name"], "null");
    // Alertmanager keeps startsAt as sent (its own time format).
    let starts = g["startsAt"].as_str().unwrap();
    assert!(
        starts.starts_with(
            &a.fired_at_ms
                .map(minetsdb_collectors::alerts::notify::rfc3339_ms)
                .unwrap()[..19]
        ),
        "{g}"
    );

    let later = now_ms();
    a.state = AlertState::Resolved;
    a.resolved_at_ms = Some(later - 1);
    assert_eq!(n.update(std::slice::from_ref(&a), later), 1);
    flush(&n);
    assert!(reports.lock().unwrap().is_empty(), "{reports:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !am_alerts(&am).is_empty() {
        assert!(
            Instant::now() < deadline,
            "resolved alert still listed: {:?}",
            am_alerts(&am)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn config_receivers_filter_by_severity_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let (argv, out) = recorder(dir.path(), "");
    let text = format!(
        "[[notify]]\ncommand = {argv:?}\nseverity = \"critical\"\nmatch = {{ gpu = \"0\" }}\n"
    );
    let cfg = minetsdb_collectors::config::Config::parse(&text, Path::new("c.toml")).unwrap();
    let n = Notifier::new(&cfg.notify, &dir.path().join("n"), options().0).unwrap();
    let mut warning = firing("0");
    warning.labels.insert("severity".into(), "warning".into());
    assert_eq!(n.update(&[warning, firing("1")], T0), 0);
    assert_eq!(n.update(&[firing("0")], T0), 1);
    flush(&n);
    let r = runs(&out);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["MINETSDB_ALERT_LABEL_GPU"], "0");
}

/// `[alerting] external_labels` reach both kinds of receivers as labels,
/// the alert's own labels winning, as Prometheus' notifier does; a
/// receiver's `match` sees them too.
#[test]
fn external_labels_are_added_to_what_receivers_get() {
    let dir = tempfile::tempdir().unwrap();
    let (argv, out) = recorder(dir.path(), "");
    let server = capture(vec![]);
    let (mut opts, reports) = options();
    opts.external_labels = labels(&[("rig", "farm-a"), ("gpu", "external")]);
    let mut cmd = command(argv, 5000, 4 * 60 * MIN);
    cmd.matchers = vec![("rig".into(), "farm-a".into())];
    let n = Notifier::new(&[cmd, webhook(&server.url)], &dir.path().join("n"), opts).unwrap();
    assert_eq!(n.update(&[firing("0")], T0), 2);
    flush(&n);
    assert!(reports.lock().unwrap().is_empty(), "{reports:?}");

    let r = runs(&out);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0]["MINETSDB_ALERT_LABEL_RIG"], "farm-a");
    assert_eq!(
        r[0]["MINETSDB_ALERT_LABEL_GPU"], "0",
        "the alert's own wins"
    );
    assert_eq!(
        r[0]["MINETSDB_ALERT_LABELS"],
        r#"{alertname="GpuHot", gpu="0", gpu_uuid="GPU-1", rig="farm-a", severity="critical"}"#
    );
    let json: serde_json::Value = serde_json::from_str(&r[0]["MINETSDB_ALERT_JSON"]).unwrap();
    assert_eq!(json["labels"]["rig"], "farm-a");

    let (_, _, body) = server.got.recv_timeout(Duration::from_secs(10)).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v[0]["labels"],
        serde_json::json!({"alertname": "GpuHot", "severity": "critical", "gpu": "0", "gpu_uuid": "GPU-1", "rig": "farm-a"})
    );

    // A receiver matching another rig's label gets nothing.
    let (argv, out2) = recorder(&dir.path().join("other"), "");
    let mut other = command(argv, 5000, 4 * 60 * MIN);
    other.matchers = vec![("rig".into(), "farm-b".into())];
    let (mut opts, _) = options();
    opts.external_labels = labels(&[("rig", "farm-a")]);
    let n2 = Notifier::new(&[other], &dir.path().join("n2"), opts).unwrap();
    assert_eq!(n2.update(&[firing("0")], T0), 0);
    flush(&n2);
    assert!(runs(&out2).is_empty());
}

/// Set by `two_notifiers_never_both_send` for the copy of this test binary
/// it starts: the state directory the child notifies from.
const CHILD_ENV: &str = "MINETSDB_TEST_NOTIFY_CHILD";

/// The other process of `two_notifiers_never_both_send` (a no-op unless
/// started by it): notifies of GPU 0 firing, says so in `ready`, and keeps
/// its notifier until `release` appears.
#[test]
fn notifier_child_process() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let (argv, _) = recorder(&dir, "");
    let n = Notifier::new(
        &[command(argv, 5000, 4 * 60 * MIN)],
        &dir.join("notify"),
        options().0,
    )
    .unwrap();
    assert_eq!(n.update(&[firing("0")], T0), 1);
    flush(&n);
    std::fs::write(dir.join("ready"), b"").unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.join("release").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(n);
}

/// Two processes with one state directory (a `collect` loop and a cron
/// `alerts`, were both to notify): while one has a notifier the other
/// cannot start one, so an alert goes out once; after the first ends, the
/// second reads what it sent and does not send it again.
#[test]
fn two_notifiers_never_both_send() {
    let dir = tempfile::tempdir().unwrap();
    let (argv, out) = recorder(dir.path(), "");
    let recv = [command(argv, 5000, 4 * 60 * MIN)];
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "notifier_child_process", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.path().join("ready").exists() {
        if let Some(st) = child.try_wait().unwrap() {
            panic!("child ended early: {st}");
        }
        assert!(Instant::now() < deadline, "child never got ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    let state = dir.path().join("notify");
    let (mut opts, _) = options();
    opts.lock_wait = Duration::from_millis(200);
    match Notifier::new(&recv, &state, opts) {
        Err(minetsdb_collectors::alerts::notify::NotifyError::Locked { pid, .. }) => {
            assert_eq!(pid, child.id());
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    std::fs::write(dir.path().join("release"), b"").unwrap();
    assert!(child.wait().unwrap().success());
    let n = Notifier::new(&recv, &state, options().0).unwrap();
    assert_eq!(n.update(&[firing("0")], T0 + MIN), 0, "the child sent it");
    flush(&n);
    assert_eq!(runs(&out).len(), 1);
}
