//! The HTTP client's bounds (deadline, size cap after decompression, status,
//! refused connections) and scraping exposition endpoints, each test against
//! its own server on 127.0.0.1 that serves a known number of connections.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use minetsdb_collectors::exposition::Format;
use minetsdb_collectors::http::{HttpClient, HttpError, HttpOptions};
use minetsdb_collectors::scrape::{scrape, ScrapeError, Target};

const NODE: &str = include_str!("fixtures/node_exporter.prom");
const NVIDIA: &str = include_str!("fixtures/nvidia_gpu_exporter.prom");
const OPENMETRICS: &str = include_str!("fixtures/openmetrics.txt");
const T0: i64 = 1_700_000_000_000;
const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A server that answers `conns` connections with `handler` and then ends;
/// it gives up waiting for connections after 20 s so a test never hangs.
/// The request head of each connection is sent on the returned channel.
struct Server {
    url: String,
    heads: mpsc::Receiver<String>,
    thread: JoinHandle<()>,
}

fn serve(conns: usize, handler: impl Fn(&mut TcpStream) + Send + 'static) -> Server {
    serve_head(conns, move |s, _| handler(s))
}

/// [`serve`] whose handler also sees the request head.
fn serve_head(conns: usize, handler: impl Fn(&mut TcpStream, &str) + Send + 'static) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    let (tx, heads) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let give_up = Instant::now() + Duration::from_secs(20);
        let mut served = 0;
        while served < conns && Instant::now() < give_up {
            let mut s = match listener.accept() {
                Ok((s, _)) => s,
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
            };
            served += 1;
            s.set_nonblocking(false).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let head = read_head(&mut s);
            let _ = tx.send(head.clone());
            handler(&mut s, &head);
        }
    });
    Server { url, heads, thread }
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

/// Writes a whole response; write errors (the client gave up) are ignored.
fn respond(s: &mut TcpStream, status: &str, headers: &[(&str, &str)], body: &[u8]) {
    let mut out = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("Connection: close\r\n\r\n");
    let _ = s.write_all(out.as_bytes());
    let _ = s.write_all(body);
}

fn serve_body(content_type: &'static str, body: impl Into<Vec<u8>>) -> Server {
    let body = body.into();
    serve(1, move |s| {
        respond(s, "200 OK", &[("Content-Type", content_type)], &body)
    })
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn client(deadline: Duration, max_body_bytes: u64) -> HttpClient {
    HttpClient::new(HttpOptions {
        deadline,
        max_body_bytes,
        ..HttpOptions::default()
    })
}

#[test]
fn get_sends_accept_and_user_agent_and_reads_the_body() {
    let srv = serve_body(TEXT, NODE);
    let resp = HttpClient::default().get(&srv.url, Format::ACCEPT).unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.content_type, TEXT);
    assert_eq!(resp.body, NODE.as_bytes());
    let head = srv.heads.recv().unwrap().to_ascii_lowercase();
    assert!(head.starts_with("get /metrics http/1.1"), "{head}");
    assert!(
        head.contains(&format!("accept: {}", Format::ACCEPT.to_ascii_lowercase())),
        "{head}"
    );
    assert!(head.contains("user-agent: minetsdb/"), "{head}");
    srv.thread.join().unwrap();
}

#[test]
fn gzip_encoded_body_is_decoded() {
    let srv = serve(1, |s| {
        let body = gzip(NODE.as_bytes());
        respond(
            s,
            "200 OK",
            &[("Content-Type", TEXT), ("Content-Encoding", "gzip")],
            &body,
        );
    });
    let resp = HttpClient::default().get(&srv.url, Format::ACCEPT).unwrap();
    assert_eq!(resp.body, NODE.as_bytes());
    srv.thread.join().unwrap();
}

/// A server that sends its headers and then one byte every 100 ms must fail
/// at the overall deadline: no single read ever waits long, so only a
/// deadline for the whole request stops it.
#[test]
fn drip_feeding_server_fails_at_the_deadline() {
    let srv = serve(1, |s| {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000000\r\n\r\n";
        let _ = s.write_all(head.as_bytes());
        // At most 20 s of dripping; a write fails as soon as the client is gone.
        for _ in 0..200 {
            if s.write_all(b"#").and_then(|_| s.flush()).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let began = Instant::now();
    let err = client(Duration::from_secs(1), 16 << 20)
        .get(&srv.url, Format::ACCEPT)
        .unwrap_err();
    let took = began.elapsed();
    eprintln!("drip: failed after {took:?}: {err}");
    assert!(matches!(err, HttpError::Timeout { .. }), "{err:?}");
    assert_eq!(err.to_string(), format!("{}: timed out after 1 s", srv.url));
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}: no deadline");
    srv.thread.join().unwrap();
}

/// 32 MiB of zeros gzip to about 32 KiB: the cap must count the inflated
/// bytes, not the ones on the wire.
#[test]
fn gzip_bomb_fails_with_the_size_error() {
    let cap = 1 << 20;
    let bomb = gzip(&vec![0u8; 32 << 20]);
    assert!((bomb.len() as u64) < cap / 4, "{} bytes", bomb.len());
    let srv = serve(1, move |s| {
        respond(
            s,
            "200 OK",
            &[("Content-Type", TEXT), ("Content-Encoding", "gzip")],
            &bomb,
        );
    });
    let began = Instant::now();
    let err = client(Duration::from_secs(10), cap)
        .get(&srv.url, Format::ACCEPT)
        .unwrap_err();
    eprintln!("bomb: failed after {:?}: {err}", began.elapsed());
    assert!(
        matches!(err, HttpError::TooLarge { limit, .. } if limit == cap),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{}: response body larger than 1048576 bytes (after decompression)",
            srv.url
        )
    );
    srv.thread.join().unwrap();
}

#[test]
fn plain_body_over_the_cap_fails() {
    let srv = serve_body(TEXT, vec![b'#'; 2 << 20]);
    let err = client(Duration::from_secs(10), 1 << 20)
        .get(&srv.url, Format::ACCEPT)
        .unwrap_err();
    assert!(matches!(err, HttpError::TooLarge { .. }), "{err:?}");
    srv.thread.join().unwrap();
    // Exactly at the cap is fine.
    let srv = serve_body(TEXT, vec![b'#'; 1 << 20]);
    let resp = client(Duration::from_secs(10), 1 << 20)
        .get(&srv.url, Format::ACCEPT)
        .unwrap();
    assert_eq!(resp.body.len(), 1 << 20);
    srv.thread.join().unwrap();
}

#[test]
fn error_status_names_status_and_url() {
    let srv = serve(1, |s| {
        respond(s, "500 Internal Server Error", &[], b"boom\n")
    });
    let err = HttpClient::default()
        .get(&srv.url, Format::ACCEPT)
        .unwrap_err();
    assert!(
        matches!(err, HttpError::Status { status: 500, .. }),
        "{err:?}"
    );
    assert_eq!(err.to_string(), format!("{}: HTTP status 500", srv.url));
    srv.thread.join().unwrap();
}

fn refused_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/metrics", l.local_addr().unwrap());
    drop(l);
    url
}

#[test]
fn connection_refused_names_the_url() {
    let url = refused_url();
    let err = HttpClient::default().get(&url, Format::ACCEPT).unwrap_err();
    assert!(matches!(err, HttpError::Connect { .. }), "{err:?}");
    assert!(err.to_string().starts_with(&format!("{url}: ")), "{err}");
}

#[test]
fn other_schemes_are_refused() {
    let err = HttpClient::default()
        .get("file:///etc/passwd", Format::ACCEPT)
        .unwrap_err();
    assert!(matches!(err, HttpError::BadUrl { .. }), "{err:?}");
}

// ---- scrape ----

fn value(res: &minetsdb_collectors::scrape::ScrapeResult, name: &str) -> f64 {
    let found: Vec<_> = res
        .samples
        .iter()
        .filter(|(l, _)| l.metric_name() == name)
        .collect();
    assert_eq!(found.len(), 1, "{name}: {found:?}");
    found[0].1.v
}

#[test]
fn scrape_text_004_adds_target_labels_and_one_timestamp() {
    let srv = serve_body(TEXT, NVIDIA);
    let target = Target::new(&srv.url, "gpu");
    let res = scrape(&HttpClient::default(), &target, T0);
    assert!(res.up(), "{:?}", res.error);
    assert!(res.bad_lines.is_empty(), "{:?}", res.bad_lines);
    let instance = srv
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics");
    let exposed = NVIDIA
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .count();
    assert_eq!(res.scraped, exposed);
    assert_eq!(res.samples.len(), exposed + 3);
    for (l, s) in &res.samples {
        assert_eq!(l.get("job"), Some("gpu"), "{l}");
        assert_eq!(l.get("instance"), Some(instance), "{l}");
        assert_eq!(s.t, T0, "{l}: every sample shares the scrape's time");
    }
    assert!(res.samples.iter().any(|(l, s)| l.metric_name()
        == "nvidia_smi_clocks_current_graphics_clock_hz"
        && s.v == 1.515e9));
    assert_eq!(value(&res, "up"), 1.0);
    assert_eq!(value(&res, "scrape_samples_scraped"), exposed as f64);
    let d = value(&res, "scrape_duration_seconds");
    assert!(d > 0.0 && d < 10.0, "{d}");
    let (_, md) = res
        .metadata
        .iter()
        .find(|(n, _)| n == "nvidia_smi_clocks_current_graphics_clock_hz")
        .expect("metadata");
    assert_eq!(md.metric_type, minetsdb::MetricType::Gauge);
    srv.thread.join().unwrap();
}

/// OpenMetrics timestamps are seconds with decimals: read as 0.0.4 they
/// would be errors, so a clean parse proves the Content-Type chose the format.
#[test]
fn scrape_openmetrics_by_content_type_keeps_exposed_timestamps() {
    let srv = serve_body(Format::OpenMetrics.content_type(), OPENMETRICS);
    let res = scrape(&HttpClient::default(), &Target::new(&srv.url, "om"), T0 + 5);
    assert!(res.up(), "{:?}", res.error);
    assert!(res.bad_lines.is_empty(), "{:?}", res.bad_lines);
    let watts = res
        .samples
        .iter()
        .find(|(l, _)| l.metric_name() == "minerd_power_watts" && l.get("gpu") == Some("0"))
        .expect("minerd_power_watts");
    assert_eq!(watts.1.t, 1_700_000_000_123);
    assert_eq!(watts.1.v, 220.5);
    // _created samples are skipped, as Prometheus does.
    assert!(!res
        .samples
        .iter()
        .any(|(l, _)| l.metric_name().ends_with("_created")));
    // The synthetic series are at the scrape's time.
    let up = res
        .samples
        .iter()
        .find(|(l, _)| l.metric_name() == "up")
        .unwrap();
    assert_eq!(up.1.t, T0 + 5);
    let md = &res
        .metadata
        .iter()
        .find(|(n, _)| n == "minerd_power_watts")
        .unwrap()
        .1;
    assert_eq!(md.unit, "watts");
    srv.thread.join().unwrap();
}

#[test]
fn scrape_gzip_node_exporter() {
    let srv = serve(1, |s| {
        respond(
            s,
            "200 OK",
            &[("Content-Type", TEXT), ("Content-Encoding", "gzip")],
            &gzip(NODE.as_bytes()),
        )
    });
    let res = scrape(&HttpClient::default(), &Target::new(&srv.url, "node"), T0);
    assert!(res.up(), "{:?}", res.error);
    assert!(res.bad_lines.is_empty(), "{:?}", res.bad_lines);
    assert!(res.scraped > 20, "{}", res.scraped);
    srv.thread.join().unwrap();
}

#[test]
fn exposed_target_labels_become_exported() {
    let body = "m{job=\"miner\",instance=\"gpu0\",exported_job=\"x\"} 1\nn 2\n";
    let srv = serve_body(TEXT, body);
    let mut target = Target::new(&srv.url, "pool");
    target.instance = Some("rig1".into());
    let res = scrape(&HttpClient::default(), &target, T0);
    let m = &res
        .samples
        .iter()
        .find(|(l, _)| l.metric_name() == "m")
        .unwrap()
        .0;
    assert_eq!(m.get("job"), Some("pool"));
    assert_eq!(m.get("instance"), Some("rig1"));
    assert_eq!(m.get("exported_instance"), Some("gpu0"));
    assert_eq!(m.get("exported_exported_job"), Some("miner"));
    assert_eq!(m.get("exported_job"), Some("x"));
    srv.thread.join().unwrap();
}

#[test]
fn garbage_lines_are_collected_and_good_samples_kept() {
    let body = format!("{NODE}this is not a sample\n{{broken 1\nafter_garbage 7\n");
    let srv = serve_body(TEXT, body);
    let res = scrape(&HttpClient::default(), &Target::new(&srv.url, "node"), T0);
    assert!(res.up(), "{:?}", res.error);
    assert_eq!(res.bad_lines.len(), 2, "{:?}", res.bad_lines);
    assert_eq!(res.bad_lines[0].line, NODE.lines().count() as u64 + 1);
    assert_eq!(value(&res, "after_garbage"), 7.0);
    assert!(res.scraped > 20);
    srv.thread.join().unwrap();
}

#[test]
fn failed_targets_give_up_zero_and_an_error_naming_the_url() {
    // Refused.
    let url = refused_url();
    let res = scrape(&HttpClient::default(), &Target::new(&url, "node"), T0);
    assert!(!res.up());
    let err = res.error.as_ref().unwrap();
    assert!(
        matches!(err, ScrapeError::Http(HttpError::Connect { .. })),
        "{err:?}"
    );
    assert!(err.to_string().starts_with(&url), "{err}");
    assert_eq!(value(&res, "up"), 0.0);
    assert_eq!(value(&res, "scrape_samples_scraped"), 0.0);
    assert_eq!(res.samples.len(), 3);
    // 503.
    let srv = serve(1, |s| respond(s, "503 Service Unavailable", &[], b""));
    let res = scrape(&HttpClient::default(), &Target::new(&srv.url, "node"), T0);
    assert_eq!(value(&res, "up"), 0.0);
    assert_eq!(
        res.error.unwrap().to_string(),
        format!("{}: HTTP status 503", srv.url)
    );
    srv.thread.join().unwrap();
}

#[test]
fn response_is_read_through_under_the_deadline() {
    // A slow but finite body within the deadline succeeds: the deadline is
    // for the whole request, not a guess at a per-read time.
    let srv = serve(1, |s| {
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\n");
        for b in b"up 1\n\n" {
            let _ = s.write_all(&[*b]).and_then(|_| s.flush());
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let resp = client(Duration::from_secs(5), 100)
        .get(&srv.url, Format::ACCEPT)
        .unwrap();
    assert_eq!(resp.body, b"up 1\n\n");
    srv.thread.join().unwrap();
}

// ---- Prometheus-compatible scraping: headers, auth, limits, staleness ----

use minetsdb_collectors::scrape::{Auth, ScrapeJob, Secret, ACCEPT, STALE_NAN};
use minetsdb_collectors::source::Source;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[test]
fn scrape_sends_prometheus_accept_header_and_timeout() {
    let srv = serve_body(TEXT, "m 1\n");
    let mut t = Target::new(&srv.url, "j");
    t.opts.timeout_ms = 2500;
    let res = scrape(&t.opts.client(), &t, T0);
    assert!(res.up(), "{:?}", res.error);
    let head = srv.heads.recv().unwrap();
    assert!(
        head.contains(
            "accept: application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2\r\n"
        ) || head.contains(&format!("Accept: {ACCEPT}\r\n")),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("x-prometheus-scrape-timeout-seconds: 2.5\r\n"),
        "{head}"
    );
    assert!(
        !head.to_ascii_lowercase().contains("authorization"),
        "{head}"
    );
    srv.thread.join().unwrap();
}

/// A server that answers 200 only when the request carries one of the
/// `allowed` Authorization values, 401 otherwise, like an exporter behind
/// auth (header names are case-insensitive; values are not).
fn serve_auth(conns: usize, allowed: &'static [&'static str]) -> Server {
    serve_head(conns, move |s, head| {
        let ok = head.lines().any(|l| {
            l.split_once(':').is_some_and(|(n, v)| {
                n.eq_ignore_ascii_case("authorization") && allowed.contains(&v.trim())
            })
        });
        if ok {
            respond(s, "200 OK", &[("Content-Type", TEXT)], b"m 1\n")
        } else {
            respond(s, "401 Unauthorized", &[], b"")
        }
    })
}

#[test]
fn basic_auth_and_bearer_tokens_are_sent() {
    let dir = tempfile::tempdir().unwrap();
    // base64("miner:s3cret")
    const ALLOWED: &[&str] = &["Basic bWluZXI6czNjcmV0", "Bearer tok-123", "Bearer tok-456"];
    let srv = serve_auth(5, ALLOWED);
    let mut t = Target::new(&srv.url, "j");
    // Without credentials: 401.
    let res = scrape(&t.opts.client(), &t, T0);
    assert_eq!(
        res.error.unwrap().to_string(),
        format!("{}: HTTP status 401", srv.url)
    );
    let _ = srv.heads.recv().unwrap();
    t.opts.auth = Some(Auth::Basic {
        username: "miner".into(),
        password: Secret::Inline("s3cret".into()),
    });
    let res = scrape(&t.opts.client(), &t, T0);
    assert!(res.up(), "{:?}", res.error);
    let _ = srv.heads.recv().unwrap();

    let token = dir.path().join("token");
    std::fs::write(&token, "tok-123\n").unwrap();
    t.opts.auth = Some(Auth::Token {
        scheme: "Bearer".into(),
        credentials: Secret::File(token.clone()),
    });
    assert!(scrape(&t.opts.client(), &t, T0).up());
    let head = srv.heads.recv().unwrap().to_ascii_lowercase();
    assert!(head.contains("authorization: bearer tok-123\r\n"), "{head}");

    // Rotated on disk: the next scrape sends the new token.
    std::fs::write(&token, "tok-456").unwrap();
    assert!(scrape(&t.opts.client(), &t, T0).up());
    let head = srv.heads.recv().unwrap().to_ascii_lowercase();
    assert!(head.contains("authorization: bearer tok-456\r\n"), "{head}");
    // A wrong password is refused by the server.
    t.opts.auth = Some(Auth::Basic {
        username: "miner".into(),
        password: Secret::Inline("wrong".into()),
    });
    assert!(!scrape(&t.opts.client(), &t, T0).up());
    srv.thread.join().unwrap();

    // A missing token file fails the target without a request.
    t.opts.auth = Some(Auth::Token {
        scheme: "Bearer".into(),
        credentials: Secret::File(dir.path().join("nope")),
    });
    let res = scrape(&t.opts.client(), &t, T0);
    let e = res.error.unwrap().to_string();
    assert!(
        e.starts_with(&srv.url) && e.contains("credentials") && e.contains("nope"),
        "{e}"
    );
}

#[test]
fn sample_limit_fails_the_whole_scrape() {
    let body = "a 1\nb 2\nc 3\n";
    let srv = serve(2, move |s| {
        respond(s, "200 OK", &[("Content-Type", TEXT)], body.as_bytes())
    });
    let mut t = Target::new(&srv.url, "j");
    t.opts.sample_limit = 3;
    let res = scrape(&t.opts.client(), &t, T0);
    assert!(res.up(), "{:?}", res.error);
    assert_eq!(res.samples.len(), 3 + 3);
    t.opts.sample_limit = 2;
    let res = scrape(&t.opts.client(), &t, T0);
    assert!(!res.up());
    let e = res.error.as_ref().unwrap().to_string();
    assert_eq!(
        e,
        format!(
            "{}: sample limit exceeded: 3 samples, sample_limit is 2",
            srv.url
        )
    );
    // Only the synthetic series: up 0, and how many the target exposed.
    assert_eq!(res.samples.len(), 3, "{:?}", res.samples);
    assert_eq!(value(&res, "up"), 0.0);
    assert_eq!(value(&res, "scrape_samples_scraped"), 3.0);
    srv.thread.join().unwrap();
}

#[test]
fn honor_labels_true_keeps_exposed_job_and_instance() {
    let body = "m{job=\"miner\",instance=\"gpu0\"} 1\nn 2\n";
    let srv = serve(2, move |s| {
        respond(s, "200 OK", &[("Content-Type", TEXT)], body.as_bytes())
    });
    let mut t = Target::new(&srv.url, "pool");
    t.labels = vec![("rig".into(), "r1".into())];
    t.opts.honor_labels = true;
    let res = scrape(&t.opts.client(), &t, T0);
    let get = |res: &minetsdb_collectors::scrape::ScrapeResult, name: &str| {
        res.samples
            .iter()
            .find(|(l, _)| l.metric_name() == name)
            .unwrap()
            .0
            .clone()
    };
    let m = get(&res, "m");
    assert_eq!(m.get("job"), Some("miner"));
    assert_eq!(m.get("instance"), Some("gpu0"));
    assert_eq!(m.get("rig"), Some("r1"));
    assert_eq!(m.get("exported_job"), None);
    let n = get(&res, "n");
    assert_eq!(n.get("job"), Some("pool"));
    // up always carries the target's own labels.
    assert_eq!(get(&res, "up").get("job"), Some("pool"));
    // honor_labels false: renamed.
    t.opts.honor_labels = false;
    let res = scrape(&t.opts.client(), &t, T0);
    let m = get(&res, "m");
    assert_eq!(m.get("job"), Some("pool"));
    assert_eq!(m.get("exported_job"), Some("miner"));
    srv.thread.join().unwrap();
}

/// Bodies served in turn, one per connection (the last repeats); a
/// `None` closes the connection without answering.
fn serve_seq(conns: usize, bodies: Vec<Option<&'static str>>) -> Server {
    let n = Arc::new(AtomicUsize::new(0));
    serve(conns, move |s| {
        let i = n.fetch_add(1, Ordering::SeqCst).min(bodies.len() - 1);
        if let Some(b) = bodies[i] {
            respond(s, "200 OK", &[("Content-Type", TEXT)], b.as_bytes());
        }
    })
}

fn stale(samples: &[(minetsdb::Labels, minetsdb::Sample)]) -> Vec<String> {
    let mut v: Vec<String> = samples
        .iter()
        .filter(|(_, s)| s.v.to_bits() == STALE_NAN.to_bits())
        .map(|(l, _)| l.metric_name().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn stale_markers_for_vanished_series_and_downed_targets_then_promql_drops_them() {
    let srv = serve_seq(
        4,
        vec![
            Some("a 1\nb 2\nwith_ts 3 1600000000000\n"),
            Some("a 1\n"),
            None,
            Some("a 1\nb 5\n"),
        ],
    );
    let mut job = ScrapeJob::with_targets("j", vec![Target::new(&srv.url, "j")]);
    let dir = tempfile::tempdir().unwrap();
    let db = minetsdb::Db::open(dir.path().join("db"), minetsdb::Options::default()).unwrap();
    let mut at = |t: i64| {
        let c = job.collect(t).unwrap();
        c.store(&db).unwrap();
        c
    };
    let c = at(T0);
    assert!(stale(&c.samples).is_empty());
    // b vanished: one marker, for b only (not for the self-timestamped series).
    let c = at(T0 + 60_000);
    assert_eq!(stale(&c.samples), vec!["b"]);
    // Target down: markers for every series of the previous scrape.
    let c = at(T0 + 120_000);
    assert_eq!(stale(&c.samples), vec!["a"]);
    assert_eq!(c.failures.len(), 1);
    assert!(!c.targets[0].up);
    // Back up: nothing is stale (the previous scrape had no series).
    let c = at(T0 + 180_000);
    assert!(stale(&c.samples).is_empty());
    srv.thread.join().unwrap();

    // PromQL: b is gone right after its marker (not 5 minutes later),
    // and back when exposed again.
    let count = |t: i64| match db.query_instant("b", t).unwrap() {
        minetsdb::promql::Value::Vector(v) => v.len(),
        other => panic!("{other:?}"),
    };
    assert_eq!(count(T0 + 30_000), 1);
    assert_eq!(count(T0 + 60_000), 0);
    assert_eq!(count(T0 + 90_000), 0);
    assert_eq!(count(T0 + 180_000), 1);
    let a = |t: i64| match db.query_instant("a", t).unwrap() {
        minetsdb::promql::Value::Vector(v) => v.len(),
        other => panic!("{other:?}"),
    };
    assert_eq!(a(T0 + 90_000), 1);
    assert_eq!(a(T0 + 150_000), 0);
}

#[test]
fn a_new_process_restores_the_previous_series_from_the_db() {
    let srv = serve_seq(3, vec![Some("a 1\nb 2\n"), Some("a 1\n")]);
    let dir = tempfile::tempdir().unwrap();
    let db = minetsdb::Db::open(dir.path().join("db"), minetsdb::Options::default()).unwrap();
    // First run scrapes two targets; the second target is then removed from the config.
    let other = serve_seq(1, vec![Some("o 1\n")]);
    let mut first = ScrapeJob::with_targets(
        "j",
        vec![Target::new(&srv.url, "j"), Target::new(&other.url, "j")],
    );
    first.collect(T0).unwrap().store(&db).unwrap();
    drop(first);
    // A new process (collect --once a minute later) with one target left.
    let mut second = ScrapeJob::with_targets("j", vec![Target::new(&srv.url, "j")]);
    second.restore(&db, T0).unwrap();
    let c = second.collect(T0 + 60_000).unwrap();
    // b vanished from the kept target; o and the removed target's
    // synthetic series end too.
    assert_eq!(
        stale(&c.samples),
        [
            "b",
            "o",
            "scrape_duration_seconds",
            "scrape_samples_scraped",
            "up"
        ]
    );
    // Without restore (no previous run known) nothing is stale.
    let mut third = ScrapeJob::with_targets("j", vec![Target::new(&srv.url, "j")]);
    let c = third.collect(T0 + 120_000).unwrap();
    assert!(stale(&c.samples).is_empty());
    srv.thread.join().unwrap();
    other.thread.join().unwrap();
}

#[test]
fn faulty_targets_fail_alone_within_their_deadline() {
    // Each fault on its own server; one good target beside them.
    let good = serve_body(TEXT, "hashrate 1\n");
    let slow = serve(1, |s| {
        std::thread::sleep(Duration::from_millis(1500));
        respond(s, "200 OK", &[("Content-Type", TEXT)], b"late 1\n");
    });
    let err500 = serve(1, |s| respond(s, "500 Internal Server Error", &[], b"boom"));
    let huge = serve_body(TEXT, vec![b'#'; 300_000]);
    let garbage = serve_body(TEXT, vec![0xffu8; 1000]);
    let midbody = serve(1, |s| {
        let _ = s.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nm 1\n",
        );
        // Connection closes here, 996 bytes short.
    });
    let refused = refused_url();
    let mk = |url: &str| {
        let mut t = Target::new(url, "j");
        t.opts.timeout_ms = 500;
        t.opts.body_size_limit = 100_000;
        t
    };
    let urls = [
        good.url.clone(),
        slow.url.clone(),
        err500.url.clone(),
        huge.url.clone(),
        garbage.url.clone(),
        midbody.url.clone(),
        refused.clone(),
    ];
    let mut job = ScrapeJob::with_targets("j", urls.iter().map(|u| mk(u)).collect());
    let began = Instant::now();
    let c = job.collect(T0).unwrap();
    let took = began.elapsed();
    eprintln!("7 targets, 6 faulty: {took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let up: Vec<bool> = c.targets.iter().map(|t| t.up).collect();
    // Garbage is malformed lines, not a failure (the module's leniency).
    assert_eq!(up, vec![true, false, false, false, true, false, false]);
    let why = |i: usize| c.targets[i].error.clone().unwrap_or_default();
    assert!(why(1).contains("timed out"), "{}", why(1));
    assert!(why(2).contains("500"), "{}", why(2));
    assert!(why(3).contains("larger than 100000 bytes"), "{}", why(3));
    assert!(!why(5).is_empty(), "mid-body close must fail");
    assert!(why(6).contains("cannot connect"), "{}", why(6));
    for i in [1, 2, 3, 5, 6] {
        assert!(why(i).starts_with(&urls[i]), "{}", why(i));
    }
    assert_eq!(c.failures.len(), 5, "{:?}", c.failures);
    assert!(!c.warnings.is_empty());
    assert!(c
        .samples
        .iter()
        .any(|(l, s)| l.metric_name() == "hashrate" && s.v == 1.0));
    // The half-read body stored nothing but its synthetic series.
    let mid = midbody
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics");
    assert!(!c
        .samples
        .iter()
        .any(|(l, _)| l.metric_name() == "m" && l.get("instance") == Some(mid)));
    for s in [good, slow, err500, huge, garbage, midbody] {
        s.thread.join().unwrap();
    }
}
