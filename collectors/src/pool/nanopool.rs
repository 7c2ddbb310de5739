//! Nanopool: `GET /v1/:coin/user/:address`, one request per run
//! (<https://nanopool.org/api>; at most 30 calls a minute).
//!
//! Every answer is `{"status":true,"data":...}` or
//! `{"status":false,"error":"..."}`; an unknown address is the error
//! `Account not found`, reported as no data. Balances are coins, sent as
//! strings or numbers; hashrates are in the coin's display unit: Mh/s for
//! the Ethash/Autolykos/KawPow coins, H/s for XMR, Sol/s for ZEC
//! ([`hashrate_factor`]).

use serde::Deserialize;
use serde_json::Value;

use super::{get_json, Account, Worker};
use crate::api::{self, flex_f64, flex_f64_opt, ApiError};
use crate::config::PoolJob;
use crate::http::HttpClient;

/// `data` of `/user/:address`.
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    /// Confirmed unpaid balance, coins.
    #[serde(deserialize_with = "flex_f64")]
    pub balance: f64,
    /// Unconfirmed balance, coins.
    #[serde(default, deserialize_with = "flex_f64_opt")]
    pub unconfirmed_balance: Option<f64>,
    /// Current hashrate, display unit.
    #[serde(deserialize_with = "flex_f64")]
    pub hashrate: f64,
    /// Averages by window (`h1` ... `h24`).
    #[serde(rename = "avgHashrate")]
    pub avg_hashrate: Option<Averages>,
    /// Workers.
    pub workers: Vec<UserWorker>,
}

/// `avgHashrate`.
#[derive(Debug, Clone, Deserialize)]
pub struct Averages {
    /// Last 24 hours, display unit.
    #[serde(default, deserialize_with = "flex_f64_opt")]
    pub h24: Option<f64>,
}

/// One worker.
#[derive(Debug, Clone, Deserialize)]
pub struct UserWorker {
    /// The worker's name.
    pub id: String,
    /// Current hashrate, display unit.
    #[serde(deserialize_with = "flex_f64")]
    pub hashrate: f64,
    /// Last share, Unix seconds.
    #[serde(default, deserialize_with = "flex_f64_opt")]
    pub lastshare: Option<f64>,
    /// Last 24 hours, display unit.
    #[serde(default, deserialize_with = "flex_f64_opt")]
    pub h24: Option<f64>,
}

/// Hashes per second in one unit of Nanopool's hashrate for `coin`.
pub fn hashrate_factor(coin: &str) -> f64 {
    match coin {
        "xmr" | "zec" => 1.0,
        _ => 1e6,
    }
}

/// Parses the body; `Ok(None)` for an unknown address.
pub fn parse(url: &str, body: &[u8]) -> Result<Option<User>, ApiError> {
    from_value(url, &api::parse(url, body)?)
}

/// [`parse`] on a parsed document.
pub fn from_value(url: &str, v: &serde_json::Value) -> Result<Option<User>, ApiError> {
    if v.get("status").and_then(Value::as_bool) != Some(true) {
        let message = v
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("status is not true")
            .to_string();
        if message.to_ascii_lowercase().contains("not found") {
            return Ok(None);
        }
        return Err(ApiError::Refused {
            url: url.to_string(),
            message,
        });
    }
    match v.get("data") {
        None | Some(Value::Null) => Err(ApiError::Json {
            url: url.to_string(),
            path: String::new(),
            what: "missing field `data`".to_string(),
        }),
        Some(d) => api::decode(url, d, "data").map(Some),
    }
}

/// The account, in coins and H/s.
pub fn to_account(u: &User, coin: &str) -> Account {
    let f = hashrate_factor(coin);
    Account {
        effective_hs: Some(u.hashrate * f),
        average_hs: u.avg_hashrate.as_ref().and_then(|a| a.h24).map(|h| h * f),
        workers_active: Some(u.workers.iter().filter(|w| w.hashrate > 0.0).count() as f64),
        unpaid: Some(u.balance),
        unconfirmed: u.unconfirmed_balance,
        workers: u
            .workers
            .iter()
            .map(|w| Worker {
                name: w.id.clone(),
                effective_hs: Some(w.hashrate * f),
                average_hs: w.h24.map(|h| h * f),
                last_seen_s: w.lastshare,
                ..Worker::default()
            })
            .collect(),
        ..Account::default()
    }
}

/// One request.
pub fn read(client: &HttpClient, job: &PoolJob) -> Result<Account, ApiError> {
    let url = format!("{}/v1/{}/user/{}", job.url, job.coin, job.address);
    match from_value(&url, &get_json(client, &url)?)? {
        None => Err(ApiError::NoData { url }),
        Some(u) => Ok(to_account(&u, &job.coin)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PoolKind;
    use crate::pool::tests::{job, value};

    const USER: &str = include_str!("../../tests/fixtures/pools/nanopool_user.json");
    const U: &str = "http://pool/v1/etc/user/0xabc";

    #[test]
    fn fixture_to_samples() {
        let u = parse(U, USER.as_bytes()).unwrap().unwrap();
        let s = to_account(&u, "etc").samples(1, "rig1", &job(PoolKind::Nanopool, "etc", 0));
        let v = |m: &str| value(&s, m, None);
        assert_eq!(
            v("pool_hashrate_effective_hashes_per_second"),
            Some(185.4e6)
        );
        assert_eq!(v("pool_hashrate_average_hashes_per_second"), Some(181.2e6));
        assert_eq!(v("pool_unpaid_balance"), Some(0.12345678));
        assert_eq!(v("pool_unconfirmed_balance"), Some(0.00213));
        assert_eq!(v("pool_workers_active"), Some(1.0));
        assert_eq!(
            value(&s, "pool_worker_last_share_timestamp_seconds", Some("rig1")),
            Some(1_700_000_000.0)
        );
    }

    #[test]
    fn error_shapes() {
        assert!(parse(U, br#"{"status":false,"error":"Account not found"}"#)
            .unwrap()
            .is_none());
        let e = parse(U, br#"{"status":false,"error":"Too many requests"}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{U}: the API reported an error: Too many requests")
        );
        let wrong = USER.replace("\"balance\": \"0.12345678\"", "\"balance\": \"lots\"");
        let e = parse(U, wrong.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{U}: data.balance: invalid value: \"lots\", expected a number")
        );
        let missing = USER.replacen("\"hashrate\": \"185.4\",", "", 1);
        let e = parse(U, missing.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{U}: data: missing field `hashrate`")
        );
    }
}
