//! XMRig: `GET /2/summary` on its HTTP API, with `Authorization: Bearer
//! <token>` when `http.access-token` is set (the `token` of the config).
//!
//! Shape: XMRig's docs, "HTTP API" (xmrig.com/docs/miner/api): `hashrate.total`
//! is `[10 s, 60 s, 15 min]` in H/s, each `null` until measured;
//! `connection.accepted` / `rejected`; `uptime` seconds. XMRig is mostly a
//! CPU miner and its summary has no per-device figures, so it gives the rig
//! series only (`miner_rig_*`).

use serde::Deserialize;
use serde_json::Value;

use super::MinerStats;
use crate::api::{self, ApiError};

/// The `/2/summary` answer (fields used).
#[derive(Debug, Clone, Deserialize)]
pub struct Summary {
    /// Seconds since start.
    pub uptime: f64,
    /// Hashrates.
    pub hashrate: Hashrate,
    /// The pool connection.
    pub connection: Connection,
}

/// `hashrate`.
#[derive(Debug, Clone, Deserialize)]
pub struct Hashrate {
    /// 10 s, 60 s and 15 min averages, H/s; `null` until measured.
    pub total: Vec<Option<f64>>,
}

/// `connection`.
#[derive(Debug, Clone, Deserialize)]
pub struct Connection {
    /// Accepted shares.
    pub accepted: f64,
    /// Rejected shares.
    pub rejected: f64,
}

/// Decodes the answer into [`MinerStats`].
pub fn from_value(url: &str, v: &Value) -> Result<MinerStats, ApiError> {
    let s: Summary = api::decode(url, v, "")?;
    Ok(to_stats(&s))
}

/// The conversion: the shortest average measured.
pub fn to_stats(s: &Summary) -> MinerStats {
    MinerStats {
        hashrate_hs: s.hashrate.total.iter().flatten().next().copied(),
        accepted: Some(s.connection.accepted),
        rejected: Some(s.connection.rejected),
        uptime_s: Some(s.uptime),
        ..MinerStats::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::miner::tests::value;

    const SUMMARY: &str = include_str!("../../tests/fixtures/miners/xmrig_summary.json");
    const U: &str = "http://127.0.0.1:8080/2/summary";

    #[test]
    fn fixture_to_samples() {
        let v = api::parse(U, SUMMARY.as_bytes()).unwrap();
        let s = from_value(U, &v).unwrap().samples(1, "rig1", "xmrig");
        assert_eq!(
            value(&s, "miner_rig_hashrate_hashes_per_second", None),
            Some(6012.3)
        );
        assert_eq!(
            value(&s, "miner_rig_shares_accepted_total", None),
            Some(187.0)
        );
        assert_eq!(
            value(&s, "miner_rig_shares_rejected_total", None),
            Some(1.0)
        );
        assert_eq!(value(&s, "miner_uptime_seconds", None), Some(3745.0));
        assert!(s.iter().all(|(l, _)| l.get("gpu").is_none()));
        let fresh = SUMMARY.replace("[6012.3, 5998.1, null]", "[null, null, null]");
        let v = api::parse(U, fresh.as_bytes()).unwrap();
        let s = from_value(U, &v).unwrap().samples(1, "rig1", "xmrig");
        assert_eq!(
            value(&s, "miner_rig_hashrate_hashes_per_second", None),
            None
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let wrong = SUMMARY.replace("\"accepted\": 187", "\"accepted\": \"187\"");
        let e = from_value(U, &api::parse(U, wrong.as_bytes()).unwrap()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{U}: connection.accepted: invalid type: string \"187\", expected f64")
        );
    }
}
