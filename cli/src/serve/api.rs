//! Prometheus' HTTP API (the part Grafana's Prometheus data source and
//! promtool call), with Prometheus 2.42's JSON shapes, error types and
//! status codes (`web/api/v1/api.go`):
//!
//! ```text
//! {"status":"success","data":...}
//! {"status":"error","errorType":"bad_data","error":"..."}
//! ```
//! `bad_data` 400 (a parameter or the query is wrong), `execution` 422
//! (evaluation failed, or loaded too many points), `timeout` 503,
//! `internal` 500 (storage failed), `not_found` 404.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use minetsdb::promql::{self, QueryOptions};
use minetsdb::{Db, Labels, Matcher, Options};
use serde_json::{json, Value as Json};

use super::http::{Request, Response};
use super::params::{parse_duration, parse_time, MAX_ABS_MS};
use crate::output::{render_matrix, render_value, Format};

/// Prometheus refuses range queries of more steps than this; so do we
/// (a hostile `step=0.001` over a year is refused before any work).
const MAX_STEPS: i64 = 11_000;

/// The database `serve` reads: shared with the collector and the
/// remote-write receiver in the same process, or opened read-only beside
/// another process's writer and reopened when older than `refresh` (a
/// read-only `Db` sees the appends made up to its opening).
pub enum Store {
    /// The writer's own `Db`.
    Shared(Arc<Db>),
    /// A read-only view, reopened when stale.
    ReadOnly {
        /// The database directory.
        dir: std::path::PathBuf,
        /// Age after which a request reopens it.
        refresh: Duration,
        /// The current view and when it was opened.
        current: Mutex<(Arc<Db>, Instant)>,
    },
}

impl Store {
    /// A read-only store of `dir`, opened now.
    pub fn read_only(dir: &std::path::Path, refresh: Duration) -> minetsdb::Result<Store> {
        let db = Db::open_read_only(dir, Options::default())?;
        Ok(Store::ReadOnly {
            dir: dir.to_path_buf(),
            refresh,
            current: Mutex::new((Arc::new(db), Instant::now())),
        })
    }

    /// The `Db` to answer the next request with.
    pub fn db(&self) -> Arc<Db> {
        match self {
            Store::Shared(db) => db.clone(),
            Store::ReadOnly {
                dir,
                refresh,
                current,
            } => {
                let mut cur = current.lock().unwrap_or_else(|p| p.into_inner());
                if cur.1.elapsed() >= *refresh {
                    // A failed reopen keeps the older view: stale answers
                    // beat none, and the error is worth one line.
                    match Db::open_read_only(dir, Options::default()) {
                        Ok(db) => *cur = (Arc::new(db), Instant::now()),
                        Err(e) => {
                            eprintln!("minetsdb: serve: reopening {}: {e}", dir.display());
                            cur.1 = Instant::now();
                        }
                    }
                }
                cur.0.clone()
            }
        }
    }
}

/// An API error: Prometheus' `errorType` and message.
#[derive(Debug)]
pub struct ApiError {
    typ: &'static str,
    msg: String,
}

impl ApiError {
    pub fn bad_data(msg: impl Into<String>) -> ApiError {
        ApiError {
            typ: "bad_data",
            msg: msg.into(),
        }
    }

    fn param(name: &str, e: impl std::fmt::Display) -> ApiError {
        ApiError::bad_data(format!("invalid parameter {name:?}: {e}"))
    }

    /// A failed query evaluation or storage read, classified as Prometheus
    /// does: a timeout, too many points (`execution`), a storage failure
    /// (`internal`).
    fn from_db(e: minetsdb::Error) -> ApiError {
        let typ = match &e {
            minetsdb::Error::Query { msg, .. } if msg.contains("timed out") => "timeout",
            minetsdb::Error::Query { .. } => "execution",
            minetsdb::Error::InvalidArgument(_)
            | minetsdb::Error::InvalidRegex { .. }
            | minetsdb::Error::InvalidLabel { .. } => "bad_data",
            _ => "internal",
        };
        ApiError {
            typ,
            msg: e.to_string(),
        }
    }

    fn status(&self) -> u16 {
        match self.typ {
            "bad_data" => 400,
            "execution" => 422,
            "timeout" | "canceled" | "unavailable" => 503,
            "not_found" => 404,
            _ => 500,
        }
    }

    /// The JSON error response.
    pub fn response(&self) -> Response {
        let body = json!({"status": "error", "errorType": self.typ, "error": self.msg});
        Response::new(self.status(), JSON, body.to_string())
    }
}

const JSON: &str = "application/json";

/// A success response around `data`, already JSON text.
fn success_raw(data: &str) -> Response {
    let mut body = String::with_capacity(data.len() + 32);
    body.push_str(r#"{"status":"success","data":"#);
    body.push_str(data);
    body.push('}');
    Response::new(200, JSON, body)
}

pub(super) fn success(data: Json) -> Response {
    success_raw(&data.to_string())
}

/// Settings of the query endpoints.
#[derive(Debug, Clone)]
pub struct QueryLimits {
    /// Points a query may load and produce (`QueryOptions::max_points`).
    pub max_points: usize,
    /// Longest evaluation; a `timeout` parameter may only shorten it.
    pub timeout: Duration,
}

/// Request parameters, form body first (Go's `ParseForm`).
struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn time(&self, name: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(name) {
            None | Some("") => Ok(default),
            Some(s) => parse_time(s).map_err(|e| ApiError::param(name, e)),
        }
    }

    /// `match[]` selectors, each parsed; an empty list when none.
    fn matchers(&self) -> Result<Vec<Vec<Matcher>>, ApiError> {
        self.all("match[]")
            .into_iter()
            .map(|s| promql::parse_selector(s).map_err(|e| ApiError::bad_data(e.to_string())))
            .collect()
    }

    fn limit(&self) -> Result<Option<usize>, ApiError> {
        match self.get("limit") {
            None | Some("") | Some("0") => Ok(None),
            Some(s) => s
                .parse::<usize>()
                .map(Some)
                .map_err(|_| ApiError::param("limit", format!("cannot parse {s:?}"))),
        }
    }
}

/// Query options for one request: the server's limits, the `timeout`
/// parameter shortening the deadline.
fn query_options(p: &Params, limits: &QueryLimits) -> Result<QueryOptions, ApiError> {
    let mut timeout = limits.timeout;
    if let Some(t) = p.get("timeout").filter(|t| !t.is_empty()) {
        let ms = parse_duration(t).map_err(|e| ApiError::param("timeout", e))?;
        timeout = timeout.min(Duration::from_millis(ms.max(0) as u64));
    }
    Ok(QueryOptions {
        max_points: limits.max_points,
        timeout: Some(timeout),
        ..QueryOptions::default()
    })
}

/// Parses and checks `query` before evaluating it: its errors are the
/// client's (`bad_data`), as in Prometheus, not the engine's.
fn checked_query(p: &Params) -> Result<&str, ApiError> {
    let q = p.get("query").unwrap_or("");
    promql::check(q).map_err(|e| {
        let msg = match e {
            minetsdb::Error::Query { msg, .. } => msg,
            e => e.to_string(),
        };
        ApiError::param("query", msg)
    })?;
    Ok(q)
}

/// Answers one `/api/v1/...` request (`path` without the prefix), or
/// `None` when no endpoint has that path.
pub fn handle(store: &Store, limits: &QueryLimits, req: &Request, path: &str) -> Option<Response> {
    let get_post = matches!(req.method.as_str(), "GET" | "POST");
    let r = match path {
        // Prometheus' router answers other methods 405, not in JSON.
        "query" | "query_range" | "series" | "labels" | "query_exemplars" if !get_post => {
            return Some(Response::text(405, "Method Not Allowed\n"));
        }
        "query" => params(req).and_then(|p| query(store, limits, &p)),
        "query_range" => params(req).and_then(|p| query_range(store, limits, &p)),
        "series" => params(req).and_then(|p| series(store, &p)),
        "labels" => params(req).and_then(|p| labels(store, &p)),
        "metadata" => params(req).and_then(|p| metadata(store, &p)),
        "status/buildinfo" => Ok(buildinfo()),
        // Grafana asks for exemplars, rules and alerts; there are none.
        "query_exemplars" => Ok(success(json!([]))),
        "rules" => Ok(success(json!({"groups": []}))),
        "alerts" => Ok(success(json!({"alerts": []}))),
        _ => {
            let name = path.strip_prefix("label/")?.strip_suffix("/values")?;
            params(req).and_then(|p| label_values(store, name, &p))
        }
    };
    Some(r.unwrap_or_else(|e| e.response()))
}

/// `/federate?match[]=...`: the newest sample (within Prometheus' 5-minute
/// lookback, not a stale marker) of every series matching any selector, in
/// text format 0.0.4 with timestamps, as Prometheus' federation endpoint
/// serves it, so another Prometheus or minetsdb can scrape a mining PC's
/// stored series.
pub fn federate(store: &Store, req: &Request) -> Response {
    let sets = match params(req).and_then(|p| p.matchers()) {
        Ok(s) => s,
        Err(e) => return Response::text(400, format!("{}\n", e.msg)),
    };
    let now = crate::time::now_ms();
    let db = store.db();
    let mut latest: std::collections::BTreeMap<minetsdb::Labels, minetsdb::Sample> =
        Default::default();
    for m in &sets {
        let Ok(iter) = db.select(m, now.saturating_sub(5 * 60_000)..=now) else {
            continue;
        };
        for s in iter.flatten() {
            if let Some(x) = s.samples.last().filter(|x| !minetsdb::is_stale_nan(x.v)) {
                latest.insert(s.labels, *x);
            }
        }
    }
    let mut w = minetsdb_collectors::exposition::Writer::new(
        Vec::new(),
        minetsdb_collectors::exposition::Format::Text004,
    );
    for (l, x) in &latest {
        let md = db.metadata(l.metric_name());
        if let Err(e) = w.write_series(md.as_ref(), l, std::slice::from_ref(x)) {
            return Response::text(500, format!("{e}\n"));
        }
    }
    match w.finish() {
        Ok(body) => Response::new(200, "text/plain; version=0.0.4; charset=utf-8", body),
        Err(e) => Response::text(500, format!("{e}\n")),
    }
}

fn params(req: &Request) -> Result<Params, ApiError> {
    req.params().map(Params).map_err(ApiError::bad_data)
}

fn query(store: &Store, limits: &QueryLimits, p: &Params) -> Result<Response, ApiError> {
    let now = crate::time::now_ms();
    let t = p.time("time", now)?;
    let opts = query_options(p, limits)?;
    let q = checked_query(p)?;
    let v = store
        .db()
        .query_instant_with(q, t, &opts)
        .map_err(ApiError::from_db)?;
    let mut data = render_value(&v, Format::Json);
    data.truncate(data.trim_end().len());
    Ok(success_raw(&data))
}

fn query_range(store: &Store, limits: &QueryLimits, p: &Params) -> Result<Response, ApiError> {
    let required = |name: &str| -> Result<i64, ApiError> {
        let s = p.get(name).unwrap_or("");
        parse_time(s).map_err(|e| ApiError::param(name, e))
    };
    let start = required("start")?;
    let end = required("end")?;
    if end < start {
        return Err(ApiError::param(
            "end",
            "end timestamp must not be before start time",
        ));
    }
    let step =
        parse_duration(p.get("step").unwrap_or("")).map_err(|e| ApiError::param("step", e))?;
    if step <= 0 {
        return Err(ApiError::param(
            "step",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    if (end - start) / step > MAX_STEPS {
        return Err(ApiError::bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let opts = query_options(p, limits)?;
    let q = checked_query(p)?;
    let m = store
        .db()
        .query_range_with(q, start, end, step, &opts)
        .map_err(ApiError::from_db)?;
    let mut data = render_matrix(&m, Format::Json);
    data.truncate(data.trim_end().len());
    Ok(success_raw(&data))
}

/// Series matching any of `sets` with data in `[lo, hi]`, sorted, unique.
fn matching_series(db: &Db, sets: &[Vec<Matcher>], lo: i64, hi: i64) -> Vec<Labels> {
    let mut all: Vec<Labels> = sets
        .iter()
        .flat_map(|m| db.series_labels(m, lo, hi))
        .collect();
    all.sort();
    all.dedup();
    all
}

fn labels_json(l: &Labels) -> Json {
    Json::Object(
        l.iter()
            .map(|x| (x.name.clone(), Json::String(x.value.clone())))
            .collect(),
    )
}

fn series(store: &Store, p: &Params) -> Result<Response, ApiError> {
    let sets = p.matchers()?;
    if sets.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let lo = p.time("start", -MAX_ABS_MS)?;
    let hi = p.time("end", MAX_ABS_MS)?;
    let limit = p.limit()?;
    let db = store.db();
    let mut found = matching_series(&db, &sets, lo, hi);
    if let Some(n) = limit {
        found.truncate(n);
    }
    Ok(success(Json::Array(
        found.iter().map(labels_json).collect(),
    )))
}

fn labels(store: &Store, p: &Params) -> Result<Response, ApiError> {
    let sets = p.matchers()?;
    let lo = p.time("start", -MAX_ABS_MS)?;
    let hi = p.time("end", MAX_ABS_MS)?;
    let limit = p.limit()?;
    let db = store.db();
    let mut names: Vec<String> = if sets.is_empty() {
        db.label_names()
    } else {
        let mut n: Vec<String> = matching_series(&db, &sets, lo, hi)
            .iter()
            .flat_map(|l| l.iter().map(|x| x.name.clone()).collect::<Vec<_>>())
            .collect();
        n.sort();
        n.dedup();
        n
    };
    if let Some(n) = limit {
        names.truncate(n);
    }
    Ok(success(json!(names)))
}

fn label_values(store: &Store, name: &str, p: &Params) -> Result<Response, ApiError> {
    // Prometheus accepts `__name__` and any valid label name.
    if name != minetsdb::METRIC_NAME_LABEL && minetsdb::check_label_name(name).is_err() {
        return Err(ApiError::bad_data(format!("invalid label name: {name:?}")));
    }
    let sets = p.matchers()?;
    let lo = p.time("start", -MAX_ABS_MS)?;
    let hi = p.time("end", MAX_ABS_MS)?;
    let limit = p.limit()?;
    let db = store.db();
    let mut values: Vec<String> = if sets.is_empty() {
        db.label_values(name)
    } else {
        let mut v: Vec<String> = matching_series(&db, &sets, lo, hi)
            .iter()
            .filter_map(|l| l.get(name).map(str::to_string))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    if let Some(n) = limit {
        values.truncate(n);
    }
    Ok(success(json!(values)))
}

fn metadata(store: &Store, p: &Params) -> Result<Response, ApiError> {
    let limit = p.limit()?;
    let only = p.get("metric").filter(|m| !m.is_empty());
    let mut out = serde_json::Map::new();
    for (name, md) in store.db().all_metadata() {
        if only.is_some_and(|m| m != name) {
            continue;
        }
        if limit.is_some_and(|n| out.len() >= n) {
            break;
        }
        out.insert(
            name,
            json!([{"type": md.metric_type.as_str(), "help": md.help, "unit": md.unit}]),
        );
    }
    Ok(success(Json::Object(out)))
}

/// Grafana reads the version to pick features; we answer for the API we
/// implement (Prometheus 2.42's) and say who we are in `revision`.
fn buildinfo() -> Response {
    success(json!({
        "version": "2.42.0",
        "revision": concat!("minetsdb ", env!("CARGO_PKG_VERSION")),
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "",
    }))
}
