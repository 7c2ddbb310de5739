//! The queries of the issue, timed over each server's HTTP API through the
//! same client, and their answers compared across servers.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Context;

use crate::datasets::{key, END_MS};
use crate::http::{enc, secs, Client};
use crate::procs::Server;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// One query: a short name for the tables, the PromQL, and the range (an
/// instant query when `step_ms` is 0).
pub struct Query {
    pub name: &'static str,
    pub promql: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
}

impl Query {
    pub fn path(&self) -> String {
        if self.step_ms == 0 {
            format!(
                "/api/v1/query?query={}&time={}",
                enc(&self.promql),
                secs(self.end_ms)
            )
        } else {
            format!(
                "/api/v1/query_range?query={}&start={}&end={}&step={}",
                enc(&self.promql),
                secs(self.start_ms),
                secs(self.end_ms),
                secs(self.step_ms)
            )
        }
    }
}

/// The list over `[start_ms, END_MS]` (`start_ms` on a day
/// boundary), `instance` playing the "host" label.
pub fn list(start_ms: i64, names: &[&str]) -> Vec<Query> {
    let range = |name, promql: &str, step_ms| Query {
        name,
        promql: promql.to_string(),
        start_ms,
        end_ms: END_MS,
        step_ms,
    };
    let span_s = (END_MS - start_ms + DAY_MS) / 1000;
    vec![
        range(
            "avg_over_time(power[1h]) step 1h",
            "avg_over_time(nvidia_smi_power_draw_watts[1h])",
            HOUR_MS,
        ),
        range(
            "max_over_time(temperature[1d]) step 1d",
            "max_over_time(nvidia_smi_temperature_gpu[1d])",
            DAY_MS,
        ),
        range(
            "increase(energy_total[1d]) step 1d",
            "increase(gpu_energy_joules_total[1d])",
            DAY_MS,
        ),
        range(
            "sum(avg_over_time(hashrate[1h])) step 1h",
            "sum(avg_over_time(miner_hashrate_hashes_per_second[1h]))",
            HOUR_MS,
        ),
        range(
            "max_over_time(unpaid[1d]) step 1d",
            "max_over_time(pool_unpaid_balance[1d])",
            DAY_MS,
        ),
        Query {
            name: "raw power, last 24 h at 60 s",
            promql: "nvidia_smi_power_draw_watts".into(),
            start_ms: END_MS - DAY_MS,
            end_ms: END_MS,
            step_ms: 60_000,
        },
        range(
            "sum by (host)(rate(shares_total[1h])) step 1h",
            "sum by (instance) (rate(miner_shares_accepted_total[1h]))",
            HOUR_MS,
        ),
        // Every sample: the window reaches a day before the first one
        // (Prometheus 2.42 closes the window on the left, the others not).
        // One term per metric name, as count_over_time drops the name and
        // Prometheus refuses `{__name__=~".+"}` series that then collide.
        Query {
            name: "full count of every sample",
            promql: names
                .iter()
                .map(|n| format!("sum(count_over_time({n}[{span_s}s]))"))
                .collect::<Vec<_>>()
                .join(" + "),
            start_ms: END_MS,
            end_ms: END_MS,
            step_ms: 0,
        },
    ]
}

/// An answer: series key -> (t ms, value) points.
pub type Answer = BTreeMap<String, Vec<(i64, f64)>>;

fn point(p: &serde_json::Value) -> Option<(i64, f64)> {
    let t = p.get(0)?.as_f64()?;
    let v = p.get(1)?.as_str()?.parse::<f64>().ok()?;
    Some(((t * 1000.0).round() as i64, v))
}

/// Parses a /api/v1/query or /query_range answer (matrix, vector or scalar).
pub fn parse(v: &serde_json::Value) -> anyhow::Result<Answer> {
    if v.get("status").and_then(|s| s.as_str()) != Some("success") {
        anyhow::bail!(
            "query failed: {}",
            v.to_string().chars().take(400).collect::<String>()
        );
    }
    let data = v.get("data").context("no data")?;
    let kind = data
        .get("resultType")
        .and_then(|k| k.as_str())
        .unwrap_or("");
    let result = data.get("result").context("no result")?;
    let mut out = Answer::new();
    if kind == "scalar" {
        out.insert(String::new(), point(result).into_iter().collect());
        return Ok(out);
    }
    for s in result.as_array().context("result is not a list")? {
        let labels: Vec<(String, String)> = s
            .get("metric")
            .and_then(|m| m.as_object())
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| k.as_str() != "__name__")
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let name = s
            .get("metric")
            .and_then(|m| m.get("__name__"))
            .and_then(|n| n.as_str())
            .unwrap_or("");
        let mut pts = Vec::new();
        if let Some(vals) = s.get("values").and_then(|v| v.as_array()) {
            for p in vals {
                pts.push(point(p).context("malformed point")?);
            }
        } else if let Some(p) = s.get("value") {
            pts.push(point(p).context("malformed point")?);
        }
        out.entry(key(name, &labels)).or_default().extend(pts);
    }
    Ok(out)
}

/// Timings and answer of one query on one server.
pub struct Timed {
    pub median_ms: f64,
    pub answer: Answer,
}

/// Runs `q` once to warm up, then `reps` times; the median latency.
pub fn time(client: &Client, server: &Server, q: &Query, reps: usize) -> anyhow::Result<Timed> {
    let url = server.url(&q.path());
    let answer =
        parse(&client.get_json(&url)?).with_context(|| format!("{}: {}", server.name, q.promql))?;
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps.max(1) {
        let t0 = Instant::now();
        let body = client.get(&url)?;
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
        // Checked outside the timing, but checked: an error page is fast.
        if !body.starts_with(b"{\"status\":\"success\"") {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            parse(&v).with_context(|| format!("{}: {}", server.name, q.promql))?;
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(Timed {
        median_ms: times[times.len() / 2],
        answer,
    })
}

/// How far `b` is from `a`: None when equal within a relative 1e-9
/// (and the same series and timestamps), else a one-line difference.
pub fn differ(a: &Answer, b: &Answer) -> Option<String> {
    // VictoriaMetrics keeps the metric name through *_over_time where
    // PromQL drops it; compare label sets alone.
    let strip = |x: &Answer| -> Answer {
        x.iter()
            .map(|(k, v)| (k[k.find('{').unwrap_or(0)..].to_string(), v.clone()))
            .collect()
    };
    let (a, b) = (&strip(a), &strip(b));
    if a.keys().ne(b.keys()) {
        let only_a: Vec<_> = a.keys().filter(|k| !b.contains_key(*k)).take(2).collect();
        let only_b: Vec<_> = b.keys().filter(|k| !a.contains_key(*k)).take(2).collect();
        return Some(format!(
            "{} vs {} series; only in the reference {only_a:?}, only here {only_b:?}",
            a.len(),
            b.len()
        ));
    }
    let (mut worst, mut at, mut npts) = (0.0f64, String::new(), 0usize);
    for (k, pa) in a {
        let pb = &b[k];
        if pa.len() != pb.len() || pa.iter().zip(pb).any(|(x, y)| x.0 != y.0) {
            return Some(format!(
                "{k}: {} vs {} points or other timestamps",
                pa.len(),
                pb.len()
            ));
        }
        for (x, y) in pa.iter().zip(pb) {
            npts += 1;
            let d = (x.1 - y.1).abs() / x.1.abs().max(y.1.abs()).max(1e-300);
            if d > worst || (x.1.is_nan() != y.1.is_nan()) {
                worst = if d.is_nan() { f64::INFINITY } else { d };
                at = format!("{k} at {}: {} vs {}", x.0, x.1, y.1);
            }
        }
    }
    (worst > 1e-9).then(|| format!("max relative difference {worst:.2e} over {npts} points ({at})"))
}
