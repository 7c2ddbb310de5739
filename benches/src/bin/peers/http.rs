//! The one HTTP client every server is asked through, so that latencies
//! differ by server alone.

use std::io::Read;
use std::time::Duration;

use anyhow::Context;

pub struct Client {
    agent: ureq::Agent,
}

/// Largest answer read: the read-back of the longest series is tens of MB.
const MAX_BODY: u64 = 4 << 30;

impl Client {
    pub fn new() -> Client {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(900)))
            .http_status_as_error(false)
            .build()
            .new_agent();
        Client { agent }
    }

    fn body(url: &str, resp: ureq::http::Response<ureq::Body>) -> anyhow::Result<Vec<u8>> {
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .into_with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .with_context(|| format!("reading the answer of {url}"))?;
        if !(200..300).contains(&status) {
            let text = String::from_utf8_lossy(&body[..body.len().min(600)]).to_string();
            anyhow::bail!("{url}: HTTP {status}: {}", text.trim());
        }
        Ok(body)
    }

    pub fn get(&self, url: &str) -> anyhow::Result<Vec<u8>> {
        let resp = self
            .agent
            .get(url)
            .call()
            .with_context(|| format!("GET {url}"))?;
        Client::body(url, resp)
    }

    pub fn get_text(&self, url: &str) -> anyhow::Result<String> {
        Ok(String::from_utf8_lossy(&self.get(url)?).into_owned())
    }

    pub fn get_json(&self, url: &str) -> anyhow::Result<serde_json::Value> {
        let body = self.get(url)?;
        serde_json::from_slice(&body).with_context(|| format!("{url}: answer is not JSON"))
    }

    pub fn post(&self, url: &str, body: &mut dyn Read) -> anyhow::Result<Vec<u8>> {
        let resp = self
            .agent
            .post(url)
            .send(ureq::SendBody::from_reader(body))
            .with_context(|| format!("POST {url}"))?;
        Client::body(url, resp)
    }
}

/// Percent-encodes a query parameter value.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Milliseconds as the API's seconds with a fraction.
pub fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// A `/metrics` value: the sum over every line of `name` (any labels).
pub fn metric(text: &str, name: &str) -> Option<f64> {
    let mut found = None;
    for l in text.lines() {
        let Some(rest) = l.strip_prefix(name) else {
            continue;
        };
        if !(rest.starts_with(' ') || rest.starts_with('{')) {
            continue;
        }
        let v = rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok());
        if let Some(v) = v {
            *found.get_or_insert(0.0) += v;
        }
    }
    found
}
