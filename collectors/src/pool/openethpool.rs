//! open-ethereum-pool and its forks, 2Miners the best known:
//! `GET /api/accounts/:address`, one request per run.
//!
//! Shape: sammy007/open-ethereum-pool `api/server.go` (`AccountIndex`) and
//! `storage/redis.go` (`GetMinerStats`, `CollectWorkersStats`), with
//! 2Miners' additions (`sharesValid`, `sharesStale`, `sharesInvalid`).
//! Hashrates are H/s; `stats.balance`, `stats.immature` and `stats.paid`
//! are Shannon (10^-9 coin) for ETC/ETH (`decimals = 9`).
//!
//! A new address: 2Miners answers 404; stock open-ethereum-pool answers 200
//! with an empty `stats` object and no workers. Both are "no data". The
//! fields of `stats` come from a Redis hash that a new account lacks, so
//! they are optional; the top-level figures are always written.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{coins, get_json, Account, Worker};
use crate::api::{self, ApiError};
use crate::config::PoolJob;
use crate::http::{HttpClient, HttpError};

/// The answer of `/api/accounts/:address`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountStats {
    /// The pool's estimate over its short window, H/s.
    pub current_hashrate: f64,
    /// The pool's estimate over its large window, H/s.
    pub hashrate: f64,
    /// Workers online.
    pub workers_online: f64,
    /// Payouts made.
    pub payments_total: f64,
    /// Balances.
    pub stats: Balances,
    /// Workers by name.
    pub workers: BTreeMap<String, WorkerStats>,
    /// Valid shares (2Miners).
    pub shares_valid: Option<f64>,
    /// Stale shares (2Miners).
    pub shares_stale: Option<f64>,
    /// Invalid shares (2Miners).
    pub shares_invalid: Option<f64>,
}

/// `stats`: a Redis hash, empty for a new account.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Balances {
    /// Unpaid, Shannon.
    pub balance: Option<f64>,
    /// Not yet confirmed, Shannon.
    pub immature: Option<f64>,
    /// Paid so far, Shannon.
    pub paid: Option<f64>,
    /// Last share, Unix seconds.
    pub last_share: Option<f64>,
}

/// One worker.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerStats {
    /// Short-window hashrate, H/s.
    pub hr: f64,
    /// Large-window hashrate, H/s.
    pub hr2: Option<f64>,
    /// Last share, Unix seconds.
    pub last_beat: Option<f64>,
    /// Valid shares (2Miners).
    pub shares_valid: Option<f64>,
    /// Stale shares (2Miners).
    pub shares_stale: Option<f64>,
    /// Invalid shares (2Miners).
    pub shares_invalid: Option<f64>,
}

/// Parses the body; `Ok(None)` for a new address.
pub fn parse(url: &str, body: &[u8]) -> Result<Option<AccountStats>, ApiError> {
    from_value(url, &api::parse(url, body)?)
}

/// [`parse`] on a parsed document.
pub fn from_value(url: &str, v: &serde_json::Value) -> Result<Option<AccountStats>, ApiError> {
    if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
        return Err(ApiError::Refused {
            url: url.to_string(),
            message: e.to_string(),
        });
    }
    let a: AccountStats = api::decode(url, v, "")?;
    let empty = a.stats.balance.is_none() && a.stats.last_share.is_none() && a.workers.is_empty();
    Ok((!empty).then_some(a))
}

/// The account, in coins and H/s.
pub fn to_account(a: &AccountStats, decimals: u32) -> Account {
    Account {
        effective_hs: Some(a.current_hashrate),
        average_hs: Some(a.hashrate),
        shares_valid: a.shares_valid,
        shares_stale: a.shares_stale,
        shares_invalid: a.shares_invalid,
        workers_active: Some(a.workers_online),
        unpaid: Some(coins(a.stats.balance.unwrap_or(0.0), decimals)),
        unconfirmed: Some(coins(a.stats.immature.unwrap_or(0.0), decimals)),
        payouts: Some(a.payments_total),
        paid: Some(coins(a.stats.paid.unwrap_or(0.0), decimals)),
        last_seen_s: a.stats.last_share,
        workers: a
            .workers
            .iter()
            .map(|(name, w)| Worker {
                name: name.clone(),
                effective_hs: Some(w.hr),
                average_hs: w.hr2,
                shares_valid: w.shares_valid,
                shares_stale: w.shares_stale,
                shares_invalid: w.shares_invalid,
                last_seen_s: w.last_beat,
                ..Worker::default()
            })
            .collect(),
        ..Account::default()
    }
}

/// One request.
pub fn read(client: &HttpClient, job: &PoolJob) -> Result<Account, ApiError> {
    let url = format!("{}/api/accounts/{}", job.url, job.address);
    let v = match get_json(client, &url) {
        Err(ApiError::Http(HttpError::Status { status: 404, .. })) => {
            return Err(ApiError::NoData { url })
        }
        other => other?,
    };
    match from_value(&url, &v)? {
        None => Err(ApiError::NoData { url }),
        Some(a) => Ok(to_account(&a, job.decimals)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PoolKind;
    use crate::pool::tests::{job, value};

    const ACCOUNT: &str = include_str!("../../tests/fixtures/pools/2miners_account.json");
    const U: &str = "http://pool/api/accounts/0xabc";

    #[test]
    fn fixture_to_samples() {
        let a = parse(U, ACCOUNT.as_bytes()).unwrap().unwrap();
        let s = to_account(&a, 9).samples(1, "rig1", &job(PoolKind::OpenEthPool, "etc", 9));
        let v = |m: &str| value(&s, m, None);
        assert_eq!(
            v("pool_hashrate_effective_hashes_per_second"),
            Some(251_234_567.0)
        );
        assert_eq!(
            v("pool_hashrate_average_hashes_per_second"),
            Some(246_543_210.0)
        );
        assert_eq!(v("pool_hashrate_reported_hashes_per_second"), None);
        assert_eq!(v("pool_workers_active"), Some(2.0));
        assert_eq!(v("pool_unpaid_balance"), Some(0.512345678));
        assert_eq!(v("pool_unconfirmed_balance"), Some(0.04));
        assert_eq!(v("pool_paid_total"), Some(12.5));
        assert_eq!(v("pool_payouts_total"), Some(25.0));
        assert_eq!(v("pool_shares_valid"), Some(1180.0));
        assert_eq!(
            v("pool_last_share_timestamp_seconds"),
            Some(1_700_000_000.0)
        );
        assert_eq!(
            value(
                &s,
                "pool_worker_hashrate_effective_hashes_per_second",
                Some("rig2")
            ),
            Some(120_000_000.0)
        );
    }

    #[test]
    fn error_shapes() {
        let new = r#"{"currentHashrate":0,"hashrate":0,"pageSize":30,"payments":null,"paymentsTotal":0,"stats":{},"workers":{},"workersOffline":0,"workersOnline":0,"workersTotal":0}"#;
        assert!(parse(U, new.as_bytes()).unwrap().is_none());
        let e = parse(U, br#"{"error":"Not found"}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{U}: the API reported an error: Not found")
        );
        let wrong = ACCOUNT.replace("\"workersOnline\": 2", "\"workersOnline\": true");
        let e = parse(U, wrong.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{U}: workersOnline: invalid type: boolean `true`, expected f64")
        );
        let wrong = ACCOUNT.replace("\"hr\": 120000000", "\"hr\": null");
        let e = parse(U, wrong.as_bytes()).unwrap_err();
        assert!(
            e.to_string()
                .contains("workers.rig2.hr: invalid type: null"),
            "{e}"
        );
    }
}
