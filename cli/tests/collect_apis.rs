//! `minetsdb collect --once` with `[[pool]]` and `[[miner]]` tables against
//! loopback fakes of Ethermine and T-Rex (the seed's rig: one NVIDIA GPU,
//! T-Rex, Ethermine) serving the recorded-shape fixtures: the expected
//! series land in the db; and a pool's HTTP 429 holds the job back across
//! `--once` runs until its Retry-After has passed.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const ADDR: &str = "0x52bc44d5378309ee2abf1539bf71de1b7d7be3b5";
const STATS: &str =
    include_str!("../../collectors/tests/fixtures/pools/ethermine_currentStats.json");
const WORKERS: &str = include_str!("../../collectors/tests/fixtures/pools/ethermine_workers.json");
const PAYOUTS: &str = include_str!("../../collectors/tests/fixtures/pools/ethermine_payouts.json");
const TREX: &str = include_str!("../../collectors/tests/fixtures/miners/trex_summary.json");

/// Answers by request path with `(status line, extra headers, body)`;
/// unknown paths get 404. Counts requests per path. Stops when dropped
/// (or after 60 s).
struct Router {
    base: String,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    total: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

type Route = (&'static str, &'static str, String);

impl Router {
    fn start(routes: HashMap<String, Route>) -> Router {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let total = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, n, st) = (hits.clone(), total.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let give_up = Instant::now() + Duration::from_secs(60);
            while !st.load(Ordering::SeqCst) && Instant::now() < give_up {
                let Ok((mut s, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                n.fetch_add(1, Ordering::SeqCst);
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut r = BufReader::new(&mut s);
                let mut first = String::new();
                let _ = r.read_line(&mut first);
                let mut line = String::new();
                while r.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
                *h.lock().unwrap().entry(path.clone()).or_insert(0) += 1;
                let (status, headers, body) =
                    routes
                        .get(&path)
                        .cloned()
                        .unwrap_or(("404 Not Found", "", String::new()));
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes());
                let _ = s.write_all(body.as_bytes());
            }
        });
        Router {
            base,
            hits,
            total,
            stop,
            thread: Some(thread),
        }
    }

    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    fn total(&self) -> usize {
        self.total.load(Ordering::SeqCst)
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_minetsdb"))
}

fn collect(config: &Path, db: &Path) -> (Option<i32>, String) {
    let out: Output = bin()
        .args(["collect", "--once", "--config"])
        .arg(config)
        .arg("--db")
        .arg(db)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    (out.status.code(), stderr)
}

fn export_csv(db: &Path) -> String {
    let out = bin()
        .args(["export", "--format", "csv", "--db"])
        .arg(db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Whether a CSV row of `metric` contains every one of `parts` (label
/// pairs written `k="v"`; the CSV's doubled quotes are undone first).
fn has(csv: &str, metric: &str, parts: &[&str]) -> bool {
    csv.lines()
        .map(|l| l.replace("\"\"", "\""))
        .any(|l| l.starts_with(&format!("\"{metric}{{")) && parts.iter().all(|p| l.contains(p)))
}

#[test]
fn seed_rig_ethermine_and_trex_are_stored() {
    let m = format!("/miner/{ADDR}");
    let routes = HashMap::from([
        (
            format!("{m}/currentStats"),
            ("200 OK", "", STATS.to_string()),
        ),
        (format!("{m}/workers"), ("200 OK", "", WORKERS.to_string())),
        (format!("{m}/payouts"), ("200 OK", "", PAYOUTS.to_string())),
        ("/summary".to_string(), ("200 OK", "", TREX.to_string())),
    ]);
    let srv = Router::start(routes);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            r#"instance = "rig1"
[nvml]
enabled = false

# The recorded pool answers are old, so the default NoAcceptedShare rule
# rightly fires; this test is about collection, and wants silence.
[alerting]
defaults = false

[[pool]]
kind = "ethermine"
url = "{base}"
address = "{ADDR}"

[[miner]]
kind = "t-rex"
url = "{base}"
"#,
            base = srv.base
        ),
    )
    .unwrap();

    let (code, stderr) = collect(&config, &db);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr, "", "nothing to say when all went well");
    assert_eq!(srv.total(), 4, "3 Ethermine requests and 1 T-Rex");

    let csv = export_csv(&db);
    let pool = [
        "instance=\"rig1\"",
        "pool=\"ethermine\"",
        "coin=\"etc\"",
        ADDR,
    ];
    assert!(
        has(&csv, "pool_hashrate_reported_hashes_per_second", &pool),
        "{csv}"
    );
    assert!(
        has(&csv, "pool_hashrate_effective_hashes_per_second", &pool),
        "{csv}"
    );
    assert!(has(&csv, "pool_unpaid_balance", &pool), "{csv}");
    assert!(has(&csv, "pool_payouts_total", &pool), "{csv}");
    assert!(
        has(
            &csv,
            "pool_worker_shares_valid",
            &["worker=\"navlaan\"", ",69"]
        ),
        "{csv}"
    );
    let gpu = [
        "instance=\"rig1\"",
        "miner=\"trex\"",
        "uuid=\"GPU-8d2b9e3a-52c4-5e3b-9d2f-0e1c2b3a4d5e\"",
        "pci_bus_id=\"00000000:01:00.0\"",
    ];
    assert!(has(&csv, "miner_hashrate_hashes_per_second", &gpu), "{csv}");
    assert!(has(&csv, "miner_shares_accepted_total", &gpu), "{csv}");
    assert!(has(&csv, "miner_power_watts", &gpu), "{csv}");
    assert!(has(&csv, "up", &["job=\"ethermine\"", ",1"]), "{csv}");
    assert!(has(&csv, "up", &["job=\"trex\"", ",1"]), "{csv}");
    assert!(
        has(
            &csv,
            "minetsdb_job_last_run_timestamp_seconds",
            &["ethermine"]
        ),
        "{csv}"
    );

    // The stored values read back exactly, through PromQL.
    let out = bin()
        .args(["query", "pool_unpaid_balance", "--format", "csv", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let q = String::from_utf8_lossy(&out.stdout);
    assert!(q.contains("0.01063764537764997"), "{q}");

    // At once again: nothing is due (5 min pool, 1 min miner).
    let (code, stderr) = collect(&config, &db);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(srv.total(), 4);
}

#[test]
fn a_429_holds_the_pool_back_across_runs() {
    let account = format!("/api/accounts/{ADDR}");
    let routes = HashMap::from([(
        account.clone(),
        (
            "429 Too Many Requests",
            "Retry-After: 3600\r\n",
            String::new(),
        ),
    )]);
    let srv = Router::start(routes);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[nvml]\nenabled = false\n[[pool]]\nkind = \"2miners\"\ncoin = \"etc\"\nurl = \"{}\"\naddress = \"{ADDR}\"\ninterval = \"1s\"\n",
            srv.base
        ),
    )
    .unwrap();
    let (code, stderr) = collect(&config, &db);
    assert_eq!(code, Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("pool \"2miners\""), "{stderr}");
    assert!(lines[0].contains("429"), "{stderr}");
    assert!(lines[0].contains("3600 s"), "{stderr}");
    assert_eq!(srv.hits(&account), 1);

    // Its 1 s interval has passed, but the hour asked for has not.
    std::thread::sleep(Duration::from_millis(1100));
    let (code, stderr) = collect(&config, &db);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr, "");
    assert_eq!(
        srv.hits(&account),
        1,
        "the pool was asked again during its back-off"
    );
    let csv = export_csv(&db);
    assert!(
        has(
            &csv,
            "minetsdb_job_backoff_until_timestamp_seconds",
            &["job=\"2miners\""]
        ),
        "{csv}"
    );
    assert!(has(&csv, "up", &["job=\"2miners\"", ",0"]), "{csv}");
}
