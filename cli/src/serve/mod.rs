//! `minetsdb serve`: Prometheus' HTTP API over the database, so Grafana's
//! Prometheus data source (URL `http://127.0.0.1:9090`) and promtool work
//! unchanged; `/metrics` as an exporter of this machine's GPUs and of the
//! process itself; with `--collect`, the collector loop in the same process.
//!
//! The database is opened read-only (beside a `collect` running as its
//! own service, and reopened every `--refresh` to see its appends), or
//! read-write with `--collect` or `--remote-write`, where the HTTP API,
//! the collector threads, the remote-write receiver and the compactor
//! share one `Arc<Db>`.
//!
//! Modules: `http` (the server: threads, limits), `params` (Prometheus'
//! time and duration parameters), `api` (the endpoints), `exporter`
//! (`/metrics`), `webconfig` (`--web.config.file`: TLS and basic auth);
//! `/api/v1/write` decodes with
//! `minetsdb_collectors::remote_write`.

mod api;
mod exporter;
mod http;
mod params;
mod rules;
mod webconfig;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use minetsdb::{Compactor, Db};
use minetsdb_collectors::remote_write;
use minetsdb_collectors::source::Source;

use crate::cmd::collect;
use api::{QueryLimits, Store};
use http::{Handler, Limits, Request, Response};

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on; keep it on loopback unless a proxy adds authentication.
    #[arg(long, default_value = "127.0.0.1:9090")]
    listen: String,
    /// Database directory [default: $XDG_DATA_HOME/minetsdb]
    #[arg(long)]
    db: Option<PathBuf>,
    /// Run the collector loop (config.toml's jobs and the GPUs) in this
    /// process too, sharing the database (opened read-write).
    #[arg(long)]
    collect: bool,
    /// With --collect: also push every collection to this remote-write
    /// URL, through a durable queue in <db>/push-queue.
    #[arg(long, value_name = "URL", requires = "collect")]
    push: Option<String>,
    /// Accept Prometheus remote write 1.0 at /api/v1/write into the
    /// database (opened read-write).
    #[arg(long)]
    remote_write: bool,
    /// The config file: jobs for --collect, [nvml] for /metrics [default: $XDG_CONFIG_HOME/minetsdb/config.toml, when it exists]
    #[arg(long)]
    config: Option<PathBuf>,
    /// Worker threads answering requests (at most this many requests run at once).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    threads: u16,
    /// Most points one query may load and compute (Prometheus' --query.max-samples).
    #[arg(long, default_value_t = 20_000_000)]
    query_max_points: usize,
    /// Longest a query may run; a request's `timeout` parameter can only shorten it.
    #[arg(long, default_value = "2m", value_parser = crate::duration::parse_ms)]
    query_timeout: i64,
    /// Require `Authorization: Bearer <token>` on every route, the token
    /// read from this file (one line; Grafana: the data source's custom
    /// header, Prometheus: `authorization: {credentials_file: ...}`).
    #[arg(long, value_name = "FILE")]
    bearer_token_file: Option<PathBuf>,
    /// Prometheus' web configuration file: `tls_server_config` (cert_file,
    /// key_file, min_version) for HTTPS, `basic_auth_users` (user: bcrypt
    /// hash) for basic auth. With --bearer-token-file too, either is accepted.
    #[arg(
        long = "web.config.file",
        alias = "web-config-file",
        value_name = "FILE"
    )]
    web_config_file: Option<PathBuf>,
    /// Longest a client may take to send one request (and, over TLS, to
    /// finish its handshake), and to read its response.
    #[arg(long, default_value = "30s", value_parser = crate::duration::parse_ms)]
    request_timeout: i64,
    /// Without --collect: how old the read-only view of the database may
    /// get before a request reopens it to see another process's appends.
    #[arg(long, default_value = "15s", value_parser = crate::duration::parse_ms)]
    refresh: i64,
}

/// Everything a request may need.
struct App {
    store: Store,
    limits: QueryLimits,
    exporter: exporter::Exporter,
    /// The database remote write appends to, when enabled.
    receiver: Option<Arc<Db>>,
    /// `Bearer <token>` every request must carry, when set.
    auth: Option<String>,
    /// `basic_auth_users` of the web config; when both are set, a request
    /// with either passes.
    basic: Option<webconfig::BasicAuth>,
    /// The alert and recording rules, for `/api/v1/rules` and `/alerts`.
    rules: Vec<minetsdb_collectors::alerts::Group>,
}

/// Equal without an early exit, so response time does not tell how much of
/// a guessed token was right.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

impl App {
    fn handle(&self, req: &Request) -> Response {
        if let Some(r) = self.unauthorized(req) {
            return r;
        }
        let path = req.path.as_str();
        if path == "/api/v1/write" {
            return self.remote_write(req);
        }
        if let Some(rest) = path.strip_prefix("/api/v1/") {
            match rest {
                "rules" => return rules::rules(&self.store, &self.rules),
                "alerts" => return rules::alerts(&self.store, &self.rules),
                _ => {}
            }
            if let Some(r) = api::handle(&self.store, &self.limits, req, rest) {
                return r;
            }
        }
        let get = matches!(req.method.as_str(), "GET" | "HEAD");
        match path {
            "/-/healthy" if get => Response::text(200, "Prometheus Server is Healthy.\n"),
            "/-/ready" if get => Response::text(200, "Prometheus Server is Ready.\n"),
            "/metrics" if get => self.exporter.respond(),
            "/federate" if get => api::federate(&self.store, req),
            "/" if get => Response::text(
                200,
                "minetsdb: Prometheus HTTP API under /api/v1, metrics at /metrics\n",
            ),
            "/-/healthy" | "/-/ready" | "/metrics" | "/" => {
                Response::text(405, "method not allowed\n")
            }
            _ => Response::text(404, "404 page not found\n"),
        }
    }
}

impl App {
    /// The 401 for a request without valid credentials, when any are
    /// required: a bearer token or basic auth, either one when both are
    /// configured (Grafana sends one Authorization header).
    fn unauthorized(&self, req: &Request) -> Option<Response> {
        if self.auth.is_none() && self.basic.is_none() {
            return None;
        }
        let got = req.header("authorization").unwrap_or("").trim();
        let bearer_ok = self
            .auth
            .as_ref()
            .is_some_and(|want| same_secret(got.as_bytes(), want.as_bytes()));
        if bearer_ok || self.basic.as_ref().is_some_and(|b| b.check(got)) {
            return None;
        }
        let want = match (&self.auth, &self.basic) {
            (Some(_), Some(_)) => {
                "Authorization: Basic (a user of the web config) or Bearer <token>"
            }
            (None, Some(_)) => "Authorization: Basic (a user of the web config)",
            _ => "Authorization: Bearer <token>",
        };
        let mut r = Response::text(401, format!("unauthorized: send {want}\n"));
        if self.basic.is_some() {
            r.headers
                .push(("WWW-Authenticate".into(), "Basic realm=\"minetsdb\"".into()));
        }
        if self.auth.is_some() {
            r.headers.push((
                "WWW-Authenticate".into(),
                "Bearer realm=\"minetsdb\"".into(),
            ));
        }
        Some(r)
    }

    fn remote_write(&self, req: &Request) -> Response {
        let Some(db) = &self.receiver else {
            return Response::text(
                404,
                "remote write receiver needs to be enabled with --remote-write\n",
            );
        };
        if req.method != "POST" {
            return Response::text(405, "Method Not Allowed\n");
        }
        if let Some(enc) = req.header("content-encoding") {
            if !enc.eq_ignore_ascii_case("snappy") {
                return Response::text(415, format!("unsupported Content-Encoding {enc:?}\n"));
            }
        }
        // 400 for what retrying cannot fix (Prometheus then drops the
        // batch), 500 for what it may (a full disk): it retries those.
        let decoded = match remote_write::decode(&req.body) {
            Ok(d) => d,
            Err(e) => return Response::text(400, format!("{e}\n")),
        };
        match remote_write::store(db, &decoded) {
            Ok(_) => Response::new(204, "text/plain; charset=utf-8", Vec::new()),
            Err(e) => Response::text(500, format!("storing: {e}\n")),
        }
    }
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let dir = a.db.clone().unwrap_or_else(crate::paths::default_db);
    let config = match (&a.config, a.collect) {
        (Some(_), _) | (None, true) => Some(collect::load_config(a.config.clone())?),
        (None, false) => {
            let p = crate::paths::default_config();
            if p.exists() {
                Some(collect::load_config(Some(p))?)
            } else {
                None
            }
        }
    };
    let auth = match &a.bearer_token_file {
        None => None,
        Some(p) => {
            let t = std::fs::read_to_string(p)
                .with_context(|| format!("reading --bearer-token-file {}", p.display()))?;
            let t = t.trim();
            if t.is_empty() {
                anyhow::bail!("--bearer-token-file {}: the file is empty", p.display());
            }
            Some(format!("Bearer {t}"))
        }
    };
    let web = match &a.web_config_file {
        None => None,
        Some(p) => Some(webconfig::WebConfig::load(p).context("--web.config.file")?),
    };
    let (tls, basic) = match web {
        None => (None, None),
        Some(w) => (w.tls, w.basic_auth),
    };
    let listener =
        TcpListener::bind(&a.listen).with_context(|| format!("listening on {}", a.listen))?;
    let stop = collect::stop_signal()?;
    let mut writer: Option<Arc<Db>> = None;
    let store = if a.collect || a.remote_write {
        // The writer compacts: the config's [storage] decides what it keeps.
        let opts = config
            .as_ref()
            .map(|c| c.storage.options())
            .unwrap_or_default();
        let db = Db::open(&dir, opts).with_context(|| format!("opening {}", dir.display()))?;
        let db = Arc::new(db);
        writer = Some(db.clone());
        Store::Shared(db)
    } else {
        Store::read_only(&dir, Duration::from_millis(a.refresh as u64))
            .with_context(|| format!("opening {} read-only", dir.display()))?
    };
    // `/metrics` reads this machine's own sources at each request: the
    // GPUs (NVML, AMD) and the local miners' APIs. Not the scrape jobs
    // (whoever scrapes us can scrape them), nor the pools (remote and rate
    // limited: a scrape every 15 s would break their published limits).
    let gpus: Vec<Box<dyn Source>> = match &config {
        Some(c) => {
            let remote: Vec<&str> = c
                .jobs
                .iter()
                .map(|j| j.name.as_str())
                .chain(c.pools.iter().map(|p| p.name.as_str()))
                .collect();
            minetsdb_collectors::source::sources(c)
                .into_iter()
                .filter(|s| !remote.contains(&s.source.name()))
                .map(|s| s.source)
                .collect()
        }
        None => Vec::new(),
    };
    let app = Arc::new(App {
        store,
        limits: QueryLimits {
            max_points: a.query_max_points,
            timeout: Duration::from_millis(a.query_timeout as u64),
        },
        exporter: exporter::Exporter::new(gpus),
        receiver: writer.clone().filter(|_| a.remote_write),
        auth,
        basic,
        rules: match &config {
            // Problems are reported once here; the endpoints then list no rules.
            Some(c) => collect::alert_groups(c),
            // No config: the defaults, as `minetsdb alerts` uses them.
            None => {
                minetsdb_collectors::config::Config::parse("", std::path::Path::new("config.toml"))
                    .map(|c| collect::alert_groups(&c))
                    .unwrap_or_default()
            }
        },
    });
    let handler: Arc<Handler> = {
        let app = app.clone();
        Arc::new(move |r: &Request| app.handle(r))
    };
    let limits = Limits {
        request_timeout: Duration::from_millis(a.request_timeout.max(1) as u64),
        ..Limits::default()
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let server = http::Server::start(listener, usize::from(a.threads), limits, tls, handler)
        .context("starting the HTTP server")?;
    eprintln!(
        "minetsdb: serving {} on {scheme}://{} (Grafana: a Prometheus data source with this URL)",
        dir.display(),
        server.addr()
    );
    // The writer compacts, as `collect` does.
    let jobs = match (&writer, &config) {
        (Some(db), Some(config)) if a.collect => {
            let push = collect::open_push_queue(&dir, a.push.as_deref())?;
            let loaded = collect::Loaded {
                config: config.clone(),
                prometheus: None,
            };
            let health = Arc::new(minetsdb_collectors::health::HealthFile::new(&dir));
            Some(collect::Jobs::start(db.clone(), health, &loaded, push)?)
        }
        _ => None,
    };
    let compactor = writer
        .as_ref()
        .map(|db| Compactor::start(db.clone(), Duration::from_secs(3600)));
    let _ = stop.recv();
    server.stop();
    if let Some(jobs) = jobs {
        jobs.stop();
    }
    for e in compactor.map(Compactor::stop).unwrap_or_default() {
        eprintln!("minetsdb: compaction: {e}");
    }
    Ok(ExitCode::SUCCESS)
}
