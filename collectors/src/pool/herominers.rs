//! HeroMiners, and other pools on cryptonote-nodejs-pool's API:
//! `GET /api/stats_address?address=:address&longpoll=false`, one request
//! per run.
//!
//! Shape: dvandal/cryptonote-nodejs-pool `lib/api.js` (`handleMinerStats`):
//! `{"stats":{...},"payments":[...],"charts":{...},"workers":[...]}`, where
//! `stats` is a Redis hash (numbers as strings) plus a computed `hashrate`
//! (H/s), and `payments` alternates `"tx:amount:fee:mixin"` with its time,
//! so a payout is two elements. Balances are atomic units (`decimals`
//! per coin). An unknown address is `{"error":"not found"}`.

use serde::Deserialize;
use serde_json::Value;

use super::{coins, get_json, Account, Worker};
use crate::api::{self, flex_f64_opt, ApiError};
use crate::config::PoolJob;
use crate::http::HttpClient;

/// The answer.
#[derive(Debug, Clone, Deserialize)]
pub struct AddressStats {
    /// Account figures.
    pub stats: Stats,
    /// Payouts, two elements each.
    #[serde(default)]
    pub payments: Vec<Value>,
    /// Workers (newer versions).
    #[serde(default)]
    pub workers: Vec<WorkerStats>,
}

/// `stats`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Current hashrate, H/s.
    #[serde(default, deserialize_with = "flex_f64_opt")]
    pub hashrate: Option<f64>,
    /// Unpaid, atomic units.
    #[serde(default, deserialize_with = "flex_f64_opt")]
    pub balance: Option<f64>,
    /// Paid, atomic units.
    #[serde(default, deserialize_with = "flex_f64_opt")]
    pub paid: Option<f64>,
    /// Last share, Unix seconds.
    #[serde(default, deserialize_with = "flex_f64_opt")]
    pub last_share: Option<f64>,
}

/// One worker.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerStats {
    /// The worker's name.
    pub name: String,
    /// Current hashrate, H/s.
    #[serde(deserialize_with = "api::flex_f64")]
    pub hashrate: f64,
    /// Last share, Unix seconds.
    #[serde(default, deserialize_with = "flex_f64_opt")]
    pub last_share: Option<f64>,
}

/// Parses the body; `Ok(None)` for an unknown address.
pub fn parse(url: &str, body: &[u8]) -> Result<Option<AddressStats>, ApiError> {
    from_value(url, &api::parse(url, body)?)
}

/// [`parse`] on a parsed document.
pub fn from_value(url: &str, v: &serde_json::Value) -> Result<Option<AddressStats>, ApiError> {
    if let Some(e) = v.get("error").and_then(Value::as_str) {
        if e.eq_ignore_ascii_case("not found") {
            return Ok(None);
        }
        return Err(ApiError::Refused {
            url: url.to_string(),
            message: e.to_string(),
        });
    }
    api::decode(url, v, "").map(Some)
}

/// The account, in coins and H/s.
pub fn to_account(a: &AddressStats, decimals: u32) -> Account {
    Account {
        effective_hs: a.stats.hashrate,
        workers_active: Some(a.workers.iter().filter(|w| w.hashrate > 0.0).count() as f64),
        unpaid: Some(coins(a.stats.balance.unwrap_or(0.0), decimals)),
        paid: Some(coins(a.stats.paid.unwrap_or(0.0), decimals)),
        payouts: Some((a.payments.len() / 2) as f64),
        last_seen_s: a.stats.last_share,
        workers: a
            .workers
            .iter()
            .map(|w| Worker {
                name: w.name.clone(),
                effective_hs: Some(w.hashrate),
                last_seen_s: w.last_share,
                ..Worker::default()
            })
            .collect(),
        ..Account::default()
    }
}

/// One request.
pub fn read(client: &HttpClient, job: &PoolJob) -> Result<Account, ApiError> {
    let url = format!(
        "{}/api/stats_address?address={}&longpoll=false",
        job.url, job.address
    );
    match from_value(&url, &get_json(client, &url)?)? {
        None => Err(ApiError::NoData { url }),
        Some(a) => Ok(to_account(&a, job.decimals)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PoolKind;
    use crate::pool::tests::{job, value};

    const STATS: &str = include_str!("../../tests/fixtures/pools/herominers_stats_address.json");
    const U: &str = "http://pool/api/stats_address?address=kaspa:abc&longpoll=false";

    #[test]
    fn fixture_to_samples() {
        let a = parse(U, STATS.as_bytes()).unwrap().unwrap();
        let s = to_account(&a, 8).samples(1, "rig1", &job(PoolKind::HeroMiners, "kas", 8));
        let v = |m: &str| value(&s, m, None);
        assert_eq!(
            v("pool_hashrate_effective_hashes_per_second"),
            Some(1_523_456_789.5)
        );
        assert_eq!(v("pool_unpaid_balance"), Some(123.45678901));
        assert_eq!(v("pool_paid_total"), Some(2000.0));
        assert_eq!(v("pool_payouts_total"), Some(2.0));
        assert_eq!(v("pool_workers_active"), Some(2.0));
        assert_eq!(
            v("pool_last_share_timestamp_seconds"),
            Some(1_700_000_123.0)
        );
        assert_eq!(
            value(
                &s,
                "pool_worker_hashrate_effective_hashes_per_second",
                Some("rig2")
            ),
            Some(723_456_789.5)
        );
    }

    #[test]
    fn error_shapes() {
        assert!(parse(U, br#"{"error":"not found"}"#).unwrap().is_none());
        let e = parse(U, br#"{"error":"backend error"}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{U}: the API reported an error: backend error")
        );
        let e = parse(U, br#"{"payments":[]}"#).unwrap_err();
        assert_eq!(e.to_string(), format!("{U}: missing field `stats`"));
        let wrong = STATS.replace("\"balance\": \"12345678901\"", "\"balance\": [1]");
        let e = parse(U, wrong.as_bytes()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("{U}: stats.balance: invalid type")),
            "{e}"
        );
    }
}
