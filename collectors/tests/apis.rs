//! Pool and miner sources against real servers on 127.0.0.1 serving the
//! recorded-shape fixtures (tests/fixtures/{pools,miners}/SOURCES.md), and
//! the error shapes: API errors, no data, HTTP 429 with Retry-After, a bad
//! field, timeouts. Nothing here touches the internet.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use minetsdb::{Labels, Sample};
use minetsdb_collectors::config::{MinerJob, MinerKind, PoolJob, PoolKind};
use minetsdb_collectors::miner::MinerSource;
use minetsdb_collectors::pool::PoolSource;
use minetsdb_collectors::schedule::BACKOFF_METRIC;
use minetsdb_collectors::source::{Collection, Source};

const T0: i64 = 1_700_000_000_000;
const ADDR: &str = "0x52bc44d5378309ee2abf1539bf71de1b7d7be3b5";

fn fixture(path: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// What the server answers for one path.
#[derive(Clone)]
struct Reply {
    status: &'static str,
    headers: Vec<(&'static str, String)>,
    body: String,
    /// Wait this long before answering.
    delay: Duration,
}

fn ok(body: String) -> Reply {
    Reply {
        status: "200 OK",
        headers: vec![("Content-Type", "application/json".into())],
        body,
        delay: Duration::ZERO,
    }
}

/// An HTTP server on 127.0.0.1 answering by path (the request target,
/// query included); unknown paths get 404. Records every request head.
/// Stops when dropped, or after 30 s.
struct Server {
    base: String,
    heads: Arc<Mutex<Vec<String>>>,
    hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(routes: Vec<(&str, Reply)>) -> Server {
        let routes: HashMap<String, Reply> = routes
            .into_iter()
            .map(|(p, r)| (p.to_string(), r))
            .collect();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let hits = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, n, st) = (heads.clone(), hits.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let give_up = Instant::now() + Duration::from_secs(30);
            while !st.load(Ordering::SeqCst) && Instant::now() < give_up {
                let Ok((mut s, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                n.fetch_add(1, Ordering::SeqCst);
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let head = read_head(&mut s);
                let target = head.split_whitespace().nth(1).unwrap_or("").to_string();
                h.lock().unwrap().push(head);
                let reply = routes.get(&target).cloned().unwrap_or(Reply {
                    status: "404 Not Found",
                    headers: vec![],
                    body: String::new(),
                    delay: Duration::ZERO,
                });
                std::thread::sleep(reply.delay);
                let mut out = format!(
                    "HTTP/1.1 {}\r\nContent-Length: {}\r\nConnection: close\r\n",
                    reply.status,
                    reply.body.len()
                );
                for (k, v) in &reply.headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str("\r\n");
                let _ = s.write_all(out.as_bytes());
                let _ = s.write_all(reply.body.as_bytes());
            }
        });
        Server {
            base,
            heads,
            hits,
            stop,
            thread: Some(thread),
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_head(s: &mut TcpStream) -> String {
    let mut r = BufReader::new(s);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => head.push_str(&line),
        }
    }
    head
}

fn pool_job(kind: PoolKind, url: &str, coin: &str, decimals: u32) -> PoolJob {
    PoolJob {
        name: kind.name().to_string(),
        kind,
        url: url.to_string(),
        address: ADDR.to_string(),
        coin: coin.to_string(),
        interval_ms: 300_000,
        timeout_ms: 2_000,
        decimals,
    }
}

fn miner_job(kind: MinerKind, url: &str) -> MinerJob {
    MinerJob {
        name: kind.name().to_string(),
        kind,
        url: url.to_string(),
        token: None,
        interval_ms: 60_000,
        timeout_ms: 2_000,
    }
}

fn find<'a>(
    c: &'a Collection,
    metric: &str,
    label: Option<(&str, &str)>,
) -> Vec<&'a (Labels, Sample)> {
    c.samples
        .iter()
        .filter(|(l, _)| {
            l.metric_name() == metric && label.is_none_or(|(k, v)| l.get(k) == Some(v))
        })
        .collect()
}

fn one(c: &Collection, metric: &str, label: Option<(&str, &str)>) -> f64 {
    let f = find(c, metric, label);
    assert_eq!(f.len(), 1, "{metric} {label:?}: {:?}", c.samples);
    f[0].1.v
}

fn ethermine_routes() -> Vec<(String, Reply)> {
    let m = format!("/miner/{ADDR}");
    vec![
        (
            format!("{m}/currentStats"),
            ok(fixture("pools/ethermine_currentStats.json")),
        ),
        (
            format!("{m}/workers"),
            ok(fixture("pools/ethermine_workers.json")),
        ),
        (
            format!("{m}/payouts"),
            ok(fixture("pools/ethermine_payouts.json")),
        ),
    ]
}

fn start(routes: Vec<(String, Reply)>) -> Server {
    Server::start(
        routes
            .iter()
            .map(|(p, r)| (p.as_str(), r.clone()))
            .collect(),
    )
}

#[test]
fn ethermine_three_requests_all_series() {
    let srv = start(ethermine_routes());
    let mut src = PoolSource::new(pool_job(PoolKind::Ethermine, &srv.base, "etc", 18), "rig1");
    let c = src.collect(T0).unwrap();
    assert!(c.failures.is_empty() && c.warnings.is_empty(), "{c:?}");
    assert_eq!(srv.hits(), 3);
    for h in srv.heads() {
        assert!(
            h.to_ascii_lowercase().contains("accept: application/json"),
            "{h}"
        );
    }
    assert_eq!(
        one(&c, "pool_hashrate_reported_hashes_per_second", None),
        91_527_085.0
    );
    assert_eq!(one(&c, "pool_unpaid_balance", None), 0.010637645377649976);
    assert_eq!(one(&c, "pool_payouts_total", None), 2.0);
    assert_eq!(
        one(&c, "pool_worker_shares_valid", Some(("worker", "navlaan"))),
        69.0
    );
    assert_eq!(one(&c, "up", None), 1.0);
    let (l, s) = find(&c, "pool_unpaid_balance", None)[0];
    assert_eq!(
        (
            l.get("instance"),
            l.get("pool"),
            l.get("coin"),
            l.get("address")
        ),
        (Some("rig1"), Some("ethermine"), Some("etc"), Some(ADDR))
    );
    assert_eq!(s.t, T0);
    assert!(c.samples.iter().all(|(_, s)| s.t == T0));
    assert!(c.metadata.iter().any(|(n, _)| n == "pool_unpaid_balance"));
}

#[test]
fn other_pools_one_request_each() {
    let srv = Server::start(vec![
        (
            &format!("/api/accounts/{ADDR}"),
            ok(fixture("pools/2miners_account.json")),
        ),
        (
            &format!("/v1/etc/user/{ADDR}"),
            ok(fixture("pools/nanopool_user.json")),
        ),
        (
            &format!("/api/stats_address?address={ADDR}&longpoll=false"),
            ok(fixture("pools/herominers_stats_address.json")),
        ),
    ]);
    let cases = [
        (PoolKind::OpenEthPool, 9, "pool_unpaid_balance", 0.512345678),
        (
            PoolKind::Nanopool,
            0,
            "pool_hashrate_effective_hashes_per_second",
            185.4e6,
        ),
        (PoolKind::HeroMiners, 8, "pool_unpaid_balance", 123.45678901),
    ];
    for (i, (kind, decimals, metric, want)) in cases.into_iter().enumerate() {
        let mut src = PoolSource::new(pool_job(kind, &srv.base, "etc", decimals), "rig1");
        let c = src.collect(T0).unwrap();
        assert!(
            c.failures.is_empty() && c.warnings.is_empty(),
            "{kind:?}: {c:?}"
        );
        assert_eq!(one(&c, metric, None), want, "{kind:?}");
        assert_eq!(one(&c, "up", None), 1.0);
        assert_eq!(srv.hits(), i + 1, "{kind:?}: one request");
    }
}

#[test]
fn rate_limited_pool_backs_off_for_retry_after() {
    let mut routes = ethermine_routes();
    routes[1].1 = Reply {
        status: "429 Too Many Requests",
        headers: vec![("Retry-After", "120".into())],
        body: "{\"status\":\"ERROR\",\"error\":\"rate limit\"}".into(),
        delay: Duration::ZERO,
    };
    let srv = start(routes);
    let mut src = PoolSource::new(pool_job(PoolKind::Ethermine, &srv.base, "etc", 18), "rig1");
    let c = src.collect(T0).unwrap();
    assert_eq!(srv.hits(), 2, "stops at the 429");
    assert_eq!(c.failures.len(), 1, "{c:?}");
    let f = &c.failures[0];
    assert!(f.starts_with("pool \"ethermine\": "), "{f}");
    assert!(f.contains("/workers: HTTP status 429"), "{f}");
    assert!(f.contains("120 s"), "{f}");
    assert_eq!(
        one(&c, BACKOFF_METRIC, Some(("job", "ethermine"))),
        (T0 + 120_000) as f64 / 1e3
    );
    assert_eq!(one(&c, "up", None), 0.0);

    // No Retry-After: one interval.
    let mut routes = ethermine_routes();
    routes[0].1 = Reply {
        status: "429 Too Many Requests",
        headers: vec![],
        body: String::new(),
        delay: Duration::ZERO,
    };
    let srv = start(routes);
    let mut src = PoolSource::new(pool_job(PoolKind::Ethermine, &srv.base, "etc", 18), "rig1");
    let c = src.collect(T0).unwrap();
    assert!(c.failures[0].contains("300 s"), "{:?}", c.failures);
    assert_eq!(one(&c, BACKOFF_METRIC, None), (T0 + 300_000) as f64 / 1e3);
}

#[test]
fn pool_error_shapes() {
    let m = format!("/miner/{ADDR}/currentStats");
    let wrong = fixture("pools/ethermine_currentStats.json")
        .replace("\"staleShares\": 1", "\"staleShares\": \"one\"");
    let cases: Vec<(Reply, &str, bool)> = vec![
        (
            ok("{\"status\":\"ERROR\"}".into()),
            "the API reported an error: status ERROR",
            true,
        ),
        (
            ok("{\"status\":\"OK\",\"data\":\"NO DATA\"}".into()),
            "no data for this address yet",
            false,
        ),
        (
            ok(wrong),
            "data.staleShares: invalid type: string \"one\", expected f64",
            true,
        ),
        (ok("<html>busy</html>".into()), "not JSON", true),
        (
            Reply {
                delay: Duration::from_millis(1500),
                ..ok(fixture("pools/ethermine_currentStats.json"))
            },
            "timed out after 0.5 s",
            true,
        ),
    ];
    for (reply, want, failure) in cases {
        let srv = Server::start(vec![(&m, reply)]);
        let mut job = pool_job(PoolKind::Ethermine, &srv.base, "etc", 18);
        job.timeout_ms = 500;
        let c = PoolSource::new(job, "rig1").collect(T0).unwrap();
        let lines = if failure { &c.failures } else { &c.warnings };
        assert_eq!(lines.len(), 1, "{want}: {c:?}");
        assert!(lines[0].contains(want), "{want}: {}", lines[0]);
        assert!(
            lines[0].contains(&format!("{}{m}", srv.base)),
            "names the URL: {}",
            lines[0]
        );
        assert_eq!(one(&c, "up", None), if failure { 0.0 } else { 1.0 });
        assert!(find(&c, "pool_unpaid_balance", None).is_empty());
        if failure {
            assert!(c.warnings.is_empty());
        } else {
            assert!(c.failures.is_empty());
        }
    }
    // 2Miners: an unknown address is a 404.
    let srv = Server::start(vec![]);
    let c = PoolSource::new(pool_job(PoolKind::OpenEthPool, &srv.base, "etc", 9), "rig1")
        .collect(T0)
        .unwrap();
    assert!(c.failures.is_empty(), "{c:?}");
    assert!(c.warnings[0].contains("no data for this address"), "{c:?}");
}

#[test]
fn http_miners() {
    let srv = Server::start(vec![
        ("/summary", ok(fixture("miners/trex_summary.json"))),
        ("/", ok(fixture("miners/lolminer.json"))),
        ("/stat", ok(fixture("miners/gminer_stat.json"))),
        ("/2/summary", ok(fixture("miners/xmrig_summary.json"))),
    ]);
    let cases = [
        (MinerKind::TRex, "0", 61_234_567.0),
        (MinerKind::LolMiner, "1", 30.8e6),
        (MinerKind::GMiner, "1", 30_300_000.0),
    ];
    for (kind, gpu, hs) in cases {
        let c = MinerSource::new(miner_job(kind, &srv.base), "rig1")
            .collect(T0)
            .unwrap();
        assert!(c.failures.is_empty(), "{kind:?}: {c:?}");
        assert_eq!(
            one(&c, "miner_hashrate_hashes_per_second", Some(("gpu", gpu))),
            hs,
            "{kind:?}"
        );
        let (l, _) = find(&c, "miner_hashrate_hashes_per_second", Some(("gpu", gpu)))[0];
        assert_eq!(l.get("miner"), Some(kind.name()));
        assert_eq!(l.get("instance"), Some("rig1"));
        assert!(l.get("pci_bus_id").is_some_and(|p| p.len() == 16), "{l}");
        assert_eq!(one(&c, "up", None), 1.0);
    }
    let mut job = miner_job(MinerKind::XMRig, &srv.base);
    job.token = Some("s3cret".into());
    let c = MinerSource::new(job, "rig1").collect(T0).unwrap();
    assert!(c.failures.is_empty(), "{c:?}");
    assert_eq!(
        one(&c, "miner_rig_hashrate_hashes_per_second", None),
        6012.3
    );
    let heads = srv.heads();
    let last = heads.last().unwrap().to_ascii_lowercase();
    assert!(last.starts_with("get /2/summary "), "{last}");
    let header = |head: &str| {
        head.lines().find_map(|l| {
            l.strip_prefix("authorization:")
                .map(|v| v.trim().to_string())
        })
    };
    assert_eq!(header(&last).as_deref(), Some("bearer s3cret"), "{last}");
    assert_eq!(
        header(&heads[0].to_ascii_lowercase()),
        None,
        "no token, no header"
    );
}

#[test]
fn miner_failures_name_the_miner_and_url() {
    let srv = Server::start(vec![
        ("/summary", ok("{\"gpus\":[],\"hashrate\":\"fast\"}".into())),
        (
            "/stat",
            Reply {
                delay: Duration::from_millis(1500),
                ..ok(fixture("miners/gminer_stat.json"))
            },
        ),
    ]);
    let c = MinerSource::new(miner_job(MinerKind::TRex, &srv.base), "rig1")
        .collect(T0)
        .unwrap();
    assert_eq!(
        c.failures,
        vec![format!(
            "miner \"trex\": {}/summary: hashrate: invalid type: string \"fast\", expected f64",
            srv.base
        )]
    );
    assert_eq!(one(&c, "up", None), 0.0);
    let mut job = miner_job(MinerKind::GMiner, &srv.base);
    job.timeout_ms = 500;
    let began = Instant::now();
    let c = MinerSource::new(job, "rig1").collect(T0).unwrap();
    assert!(
        began.elapsed() < Duration::from_millis(1400),
        "{:?}",
        began.elapsed()
    );
    assert!(
        c.failures[0].contains("/stat: timed out after 0.5 s"),
        "{:?}",
        c.failures
    );
}

/// A cgminer-API server: reads one JSON command per connection and
/// answers it from `replies`, then a NUL, then closes (as TeamRedMiner
/// does). `None` for a command: accept and never answer.
fn cgminer_server(
    replies: HashMap<&'static str, Option<String>>,
    conns: usize,
) -> (String, JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://{}", listener.local_addr().unwrap());
    let thread = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for _ in 0..conns {
            let Ok((mut s, _)) = listener.accept() else {
                break;
            };
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = [0u8; 256];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            seen.push(req.clone());
            let cmd = replies
                .keys()
                .find(|k| req.contains(&format!("\"{k}\"")))
                .copied();
            match cmd.and_then(|k| replies[k].clone()) {
                Some(body) => {
                    let _ = s.write_all(body.as_bytes());
                    let _ = s.write_all(b"\0");
                }
                None => std::thread::sleep(Duration::from_millis(1500)),
            }
        }
        seen
    });
    (url, thread)
}

#[test]
fn teamredminer_over_tcp() {
    let replies = HashMap::from([
        ("summary", Some(fixture("miners/teamredminer_summary.json"))),
        ("devs", Some(fixture("miners/teamredminer_devs.json"))),
    ]);
    let (url, server) = cgminer_server(replies, 2);
    let c = MinerSource::new(miner_job(MinerKind::TeamRedMiner, &url), "rig2")
        .collect(T0)
        .unwrap();
    assert!(c.failures.is_empty(), "{c:?}");
    assert_eq!(
        one(&c, "miner_hashrate_hashes_per_second", Some(("gpu", "0"))),
        62.154e6
    );
    assert_eq!(
        one(&c, "miner_shares_accepted_total", Some(("gpu", "1"))),
        398.0
    );
    assert_eq!(one(&c, "miner_rig_shares_stale_total", None), 4.0);
    assert_eq!(one(&c, "up", None), 1.0);
    let seen = server.join().unwrap();
    let cmds: Vec<serde_json::Value> = seen
        .iter()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect();
    assert_eq!(cmds[0]["command"], "summary");
    assert_eq!(cmds[1]["command"], "devs");
}

#[test]
fn teamredminer_errors_and_timeout() {
    let replies = HashMap::from([(
        "summary",
        Some("{\"STATUS\":[{\"STATUS\":\"E\",\"Code\":45,\"Msg\":\"Access denied to 'summary' command\"}],\"id\":1}".to_string()),
    )]);
    let (url, server) = cgminer_server(replies, 1);
    let c = MinerSource::new(miner_job(MinerKind::TeamRedMiner, &url), "rig2")
        .collect(T0)
        .unwrap();
    assert_eq!(
        c.failures,
        vec![format!("miner \"teamredminer\": {url} summary: the API reported an error: Access denied to 'summary' command")]
    );
    server.join().unwrap();

    let (url, server) = cgminer_server(HashMap::from([("summary", None)]), 1);
    let mut job = miner_job(MinerKind::TeamRedMiner, &url);
    job.timeout_ms = 500;
    let began = Instant::now();
    let c = MinerSource::new(job, "rig2").collect(T0).unwrap();
    assert!(
        began.elapsed() < Duration::from_millis(1400),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(
        c.failures,
        vec![format!(
            "miner \"teamredminer\": {url}: timed out after 0.5 s"
        )]
    );
    assert_eq!(one(&c, "up", None), 0.0);
    server.join().unwrap();

    // Refused.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://{}", l.local_addr().unwrap());
    drop(l);
    let c = MinerSource::new(miner_job(MinerKind::TeamRedMiner, &url), "rig2")
        .collect(T0)
        .unwrap();
    assert!(c.failures[0].contains("cannot connect"), "{:?}", c.failures);
}
