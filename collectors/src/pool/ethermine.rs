//! Ethermine and Flypool (one API, <https://api.ethermine.org/docs/>):
//! `GET /miner/:address/currentStats`, `/workers` and `/payouts`, three
//! requests per run.
//!
//! Every answer is `{"status":"OK","data":...}`; a failure is
//! `{"status":"ERROR","error":"..."}`, and an address the pool has not
//! seen is `{"status":"OK","data":"NO DATA"}`. Hashrates are H/s; `unpaid`,
//! `unconfirmed` and payout amounts are in the coin's smallest unit (wei
//! for ETC: `decimals = 18`); `coinsPerMin` is in coins. The meaning of each
//! figure follows hon95/prometheus-ethermine-exporter's
//! `ethermine_miner_*` series (income per second = coinsPerMin / 60).
//! `unpaid` and `unconfirmed` are `null` on some accounts, so they are
//! optional; the hashrates and share counts are always there and required.

use serde::Deserialize;
use serde_json::Value;

use super::{coins, get_json, Account, Worker};
use crate::api::{self, ApiError};
use crate::config::PoolJob;
use crate::http::HttpClient;

/// `data` of `/currentStats`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CurrentStats {
    /// Time of the statistics entry, Unix seconds.
    pub time: f64,
    /// When a worker was last seen, Unix seconds; `null` when never.
    pub last_seen: Option<f64>,
    /// Hashrate the miners report, H/s.
    pub reported_hashrate: f64,
    /// The pool's current estimate, H/s.
    pub current_hashrate: f64,
    /// The pool's 24 h average, H/s.
    pub average_hashrate: f64,
    /// Valid shares in the last hour.
    pub valid_shares: f64,
    /// Invalid shares in the last hour.
    pub invalid_shares: f64,
    /// Stale shares in the last hour.
    pub stale_shares: f64,
    /// Active workers.
    pub active_workers: Option<f64>,
    /// Unpaid balance, smallest units.
    pub unpaid: Option<f64>,
    /// Unconfirmed balance, smallest units.
    pub unconfirmed: Option<f64>,
    /// Estimated earnings, coins per minute.
    pub coins_per_min: Option<f64>,
}

/// One element of `data` of `/workers`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerStats {
    /// The worker's name.
    pub worker: String,
    /// Last seen, Unix seconds.
    pub last_seen: Option<f64>,
    /// Reported hashrate, H/s.
    pub reported_hashrate: f64,
    /// Current hashrate, H/s.
    pub current_hashrate: f64,
    /// Valid shares in the last hour.
    pub valid_shares: f64,
    /// Invalid shares in the last hour.
    pub invalid_shares: f64,
    /// Stale shares in the last hour.
    pub stale_shares: f64,
    /// 24 h average, H/s (newer API versions).
    pub average_hashrate: Option<f64>,
}

/// One element of `data` of `/payouts`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payout {
    /// Amount, smallest units.
    pub amount: f64,
    /// When paid, Unix seconds.
    pub paid_on: f64,
}

/// The `data` of an Ethermine answer: `Ok(None)` for `"NO DATA"`.
pub fn data(url: &str, v: &Value) -> Result<Option<Value>, ApiError> {
    match v.get("status").and_then(Value::as_str) {
        Some("OK") => {}
        other => {
            let message = v
                .get("error")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| format!("status {}", other.unwrap_or("missing")));
            return Err(ApiError::Refused {
                url: url.to_string(),
                message,
            });
        }
    }
    match v.get("data") {
        Some(Value::String(s)) if s == "NO DATA" => Ok(None),
        Some(d) => Ok(Some(d.clone())),
        None => Err(ApiError::Json {
            url: url.to_string(),
            path: String::new(),
            what: "missing field `data`".to_string(),
        }),
    }
}

/// Parses a `/currentStats` body; `Ok(None)` for a new address.
pub fn parse_current_stats(url: &str, body: &[u8]) -> Result<Option<CurrentStats>, ApiError> {
    match data(url, &api::parse(url, body)?)? {
        None => Ok(None),
        Some(d) => api::decode(url, &d, "data").map(Some),
    }
}

/// Parses a `/workers` body (no data: no workers).
pub fn parse_workers(url: &str, body: &[u8]) -> Result<Vec<WorkerStats>, ApiError> {
    match data(url, &api::parse(url, body)?)? {
        None => Ok(Vec::new()),
        Some(d) => api::decode(url, &d, "data"),
    }
}

/// Parses a `/payouts` body (no data: no payouts).
pub fn parse_payouts(url: &str, body: &[u8]) -> Result<Vec<Payout>, ApiError> {
    match data(url, &api::parse(url, body)?)? {
        None => Ok(Vec::new()),
        Some(d) => api::decode(url, &d, "data"),
    }
}

/// The account, in coins and H/s.
pub fn to_account(
    stats: &CurrentStats,
    workers: &[WorkerStats],
    payouts: &[Payout],
    decimals: u32,
) -> Account {
    Account {
        reported_hs: Some(stats.reported_hashrate),
        effective_hs: Some(stats.current_hashrate),
        average_hs: Some(stats.average_hashrate),
        shares_valid: Some(stats.valid_shares),
        shares_stale: Some(stats.stale_shares),
        shares_invalid: Some(stats.invalid_shares),
        workers_active: stats.active_workers,
        unpaid: Some(coins(stats.unpaid.unwrap_or(0.0), decimals)),
        unconfirmed: Some(coins(stats.unconfirmed.unwrap_or(0.0), decimals)),
        income_per_s: stats.coins_per_min.map(|c| c / 60.0),
        payouts: Some(payouts.len() as f64),
        paid: Some(coins(payouts.iter().map(|p| p.amount).sum(), decimals)),
        last_seen_s: stats.last_seen,
        workers: workers
            .iter()
            .map(|w| Worker {
                name: w.worker.clone(),
                reported_hs: Some(w.reported_hashrate),
                effective_hs: Some(w.current_hashrate),
                average_hs: w.average_hashrate,
                shares_valid: Some(w.valid_shares),
                shares_stale: Some(w.stale_shares),
                shares_invalid: Some(w.invalid_shares),
                last_seen_s: w.last_seen,
            })
            .collect(),
    }
}

/// The three requests, in turn; the first failure ends the run.
pub fn read(client: &HttpClient, job: &PoolJob) -> Result<Account, ApiError> {
    let base = format!("{}/miner/{}", job.url, job.address);
    let url = format!("{base}/currentStats");
    let stats = match data(&url, &get_json(client, &url)?)? {
        None => return Err(ApiError::NoData { url }),
        Some(d) => api::decode::<CurrentStats>(&url, &d, "data")?,
    };
    let url = format!("{base}/workers");
    let workers = match data(&url, &get_json(client, &url)?)? {
        None => Vec::new(),
        Some(d) => api::decode(&url, &d, "data")?,
    };
    let url = format!("{base}/payouts");
    let payouts = match data(&url, &get_json(client, &url)?)? {
        None => Vec::new(),
        Some(d) => api::decode(&url, &d, "data")?,
    };
    Ok(to_account(&stats, &workers, &payouts, job.decimals))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PoolKind;
    use crate::pool::tests::{job, value};

    const STATS: &str = include_str!("../../tests/fixtures/pools/ethermine_currentStats.json");
    const WORKERS: &str = include_str!("../../tests/fixtures/pools/ethermine_workers.json");
    const PAYOUTS: &str = include_str!("../../tests/fixtures/pools/ethermine_payouts.json");
    const U: &str = "http://pool/miner/0xabc/currentStats";

    #[test]
    fn fixtures_to_samples() {
        let stats = parse_current_stats(U, STATS.as_bytes()).unwrap().unwrap();
        let workers = parse_workers(U, WORKERS.as_bytes()).unwrap();
        let payouts = parse_payouts(U, PAYOUTS.as_bytes()).unwrap();
        let a = to_account(&stats, &workers, &payouts, 18);
        let s = a.samples(1, "rig1", &job(PoolKind::Ethermine, "etc", 18));
        let v = |m: &str| value(&s, m, None);
        assert_eq!(
            v("pool_hashrate_reported_hashes_per_second"),
            Some(91_527_085.0)
        );
        assert_eq!(
            v("pool_hashrate_effective_hashes_per_second"),
            Some(77_777_777.77777778)
        );
        assert_eq!(
            v("pool_hashrate_average_hashes_per_second"),
            Some(87_104_938.27160494)
        );
        assert_eq!(v("pool_shares_valid"), Some(70.0));
        assert_eq!(v("pool_shares_stale"), Some(1.0));
        assert_eq!(v("pool_shares_invalid"), Some(0.0));
        assert_eq!(v("pool_workers_active"), Some(2.0));
        assert_eq!(v("pool_unpaid_balance"), Some(0.010637645377649976));
        assert_eq!(v("pool_unconfirmed_balance"), Some(0.0));
        assert_eq!(
            v("pool_income_coins_per_second"),
            Some(2.014561975133143e-6 / 60.0)
        );
        assert_eq!(v("pool_payouts_total"), Some(2.0));
        assert_eq!(v("pool_paid_total"), Some(0.2));
        assert_eq!(
            v("pool_last_share_timestamp_seconds"),
            Some(1_619_887_767.0)
        );
        assert_eq!(
            value(
                &s,
                "pool_worker_hashrate_reported_hashes_per_second",
                Some("navlaan")
            ),
            Some(91_527_085.0)
        );
        assert_eq!(
            value(&s, "pool_worker_shares_valid", Some("artorias")),
            Some(1.0)
        );
    }

    #[test]
    fn error_shapes() {
        let e =
            parse_current_stats(U, br#"{"status":"ERROR","error":"Invalid address"}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{U}: the API reported an error: Invalid address")
        );
        let e = parse_current_stats(U, br#"{"status":"ERROR"}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{U}: the API reported an error: status ERROR")
        );
        assert!(
            parse_current_stats(U, br#"{"status":"OK","data":"NO DATA"}"#)
                .unwrap()
                .is_none()
        );
        assert!(parse_workers(U, br#"{"status":"OK","data":"NO DATA"}"#)
            .unwrap()
            .is_empty());
        let wrong = STATS.replace(
            "\"reportedHashrate\": 91527085",
            "\"reportedHashrate\": \"fast\"",
        );
        let e = parse_current_stats(U, wrong.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{U}: data.reportedHashrate: invalid type: string \"fast\", expected f64")
        );
        let missing = STATS.replace("\"validShares\": 70,", "");
        let e = parse_current_stats(U, missing.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{U}: data: missing field `validShares`")
        );
        let e = parse_workers(U, br#"{"status":"OK","data":[{"worker":"a"}]}"#).unwrap_err();
        assert!(e.to_string().contains("data[0]: missing field"), "{e}");
    }
}
