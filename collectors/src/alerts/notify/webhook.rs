//! The webhook receiver: Alertmanager's v2 API, `POST /api/v2/alerts` with
//! a JSON array of `postableAlert`s, as Prometheus' notifier sends it
//! (`notifier/notifier.go`, `rules/alerting.go`):
//!
//! - `startsAt` is when the alert started firing;
//! - a firing alert's `endsAt` is the send time plus 4 × max(evaluation
//!   interval, resend delay), so Alertmanager resolves it by itself if we
//!   stop sending (the rig died); every firing alert is sent again each
//!   resend delay (1 minute) to keep it alive;
//! - a resolved alert's `endsAt` is when it resolved.
//!
//! Alertmanager groups, deduplicates and repeats notifications itself.

use std::time::Duration;

use super::{alert_json, Item};
use crate::scrape::Auth;

/// How one POST ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx.
    Delivered,
    /// Worth trying again later (connection, timeout, 5xx, 429, 408).
    Retry(String),
    /// Refused for good (another 4xx): retrying would change nothing.
    Rejected(String),
}

/// The request body for `items`: a JSON array of postable alerts.
/// `valid_for_ms` is how long a firing alert stays active without news.
pub fn body(items: &[Item], valid_for_ms: i64, generator_url: Option<&str>) -> Vec<u8> {
    let alerts: Vec<serde_json::Value> = items
        .iter()
        .map(|i| {
            let mut v = alert_json(i, Some(valid_for_ms));
            if let Some(o) = v.as_object_mut() {
                o.remove("status");
                o.remove("value");
                if let Some(g) = generator_url {
                    o.insert("generatorURL".into(), g.into());
                }
            }
            v
        })
        .collect();
    serde_json::Value::Array(alerts).to_string().into_bytes()
}

/// POSTs `body` to `url`.
pub fn post(url: &str, auth: Option<&Auth>, body: &[u8], timeout: Duration) -> Outcome {
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .user_agent(concat!("minetsdb/", env!("CARGO_PKG_VERSION")))
        .proxy(None)
        .build()
        .new_agent();
    let mut req = agent.post(url).header("Content-Type", "application/json");
    if let Some(a) = auth {
        match a.header() {
            Ok(h) => req = req.header("Authorization", h),
            Err(e) => return Outcome::Retry(format!("POST {url}: credentials: {e}")),
        }
    }
    let resp = match req.send(body) {
        Ok(r) => r,
        Err(e) => return Outcome::Retry(format!("POST {url}: {e}")),
    };
    let status = resp.status().as_u16();
    if (200..=299).contains(&status) {
        return Outcome::Delivered;
    }
    let text = resp
        .into_body()
        .into_with_config()
        .limit(4096)
        .read_to_string()
        .unwrap_or_default();
    let text = text.trim();
    let what = if text.is_empty() {
        format!("POST {url}: HTTP {status}")
    } else {
        format!("POST {url}: HTTP {status}: {text}")
    };
    if (400..=499).contains(&status) && status != 408 && status != 429 {
        Outcome::Rejected(what)
    } else {
        Outcome::Retry(what)
    }
}
