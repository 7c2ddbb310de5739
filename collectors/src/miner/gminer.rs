//! GMiner: `GET /stat` on its HTTP API (`--api PORT`).
//!
//! Shape: GMiner's `/stat` JSON (GMiner README, "API"): `devices[]` with
//! `gpu_id`, `bus_id` (`0000:01:00.0`), `speed` in `speed_unit` (H/s when
//! absent), `accepted_shares`, `rejected_shares`, `stale_shares`,
//! `invalid_shares`, `power_usage` (W), `temperature`,
//! `memory_temperature`, `fan` (%); rig totals `total_*_shares`, `uptime`.

use serde::Deserialize;
use serde_json::Value;

use super::{normalize_pci_hex, unit_factor, GpuStats, MinerStats};
use crate::api::{self, ApiError};

/// The `/stat` answer (fields used).
#[derive(Debug, Clone, Deserialize)]
pub struct Stat {
    /// Seconds since start.
    pub uptime: f64,
    /// Devices.
    pub devices: Vec<Device>,
    /// Unit of `speed` (`H/s`, `Sol/s`, `G/s`).
    pub speed_unit: Option<String>,
    /// Accepted shares.
    pub total_accepted_shares: Option<f64>,
    /// Rejected shares.
    pub total_rejected_shares: Option<f64>,
    /// Stale shares.
    pub total_stale_shares: Option<f64>,
    /// Invalid shares.
    pub total_invalid_shares: Option<f64>,
}

/// One device.
#[derive(Debug, Clone, Deserialize)]
pub struct Device {
    /// Device index.
    pub gpu_id: u32,
    /// PCI address, `0000:01:00.0`.
    pub bus_id: Option<String>,
    /// Hashrate in `speed_unit`.
    pub speed: f64,
    /// Accepted shares.
    pub accepted_shares: f64,
    /// Rejected shares.
    pub rejected_shares: f64,
    /// Stale shares.
    pub stale_shares: Option<f64>,
    /// Invalid shares.
    pub invalid_shares: Option<f64>,
    /// Power, W.
    pub power_usage: Option<f64>,
    /// GPU temperature, °C.
    pub temperature: Option<f64>,
    /// Memory temperature, °C.
    pub memory_temperature: Option<f64>,
    /// Fan speed, %.
    pub fan: Option<f64>,
}

/// Decodes the answer into [`MinerStats`].
pub fn from_value(url: &str, v: &Value) -> Result<MinerStats, ApiError> {
    let s: Stat = api::decode(url, v, "")?;
    let unit = s.speed_unit.as_deref().unwrap_or("H/s");
    let factor = unit_factor(unit).ok_or_else(|| ApiError::Json {
        url: url.to_string(),
        path: "speed_unit".to_string(),
        what: format!("unknown unit {unit:?}"),
    })?;
    Ok(to_stats(&s, factor))
}

/// The conversion; `factor` is H/s per unit of `speed`.
pub fn to_stats(s: &Stat, factor: f64) -> MinerStats {
    let gpus: Vec<GpuStats> = s
        .devices
        .iter()
        .map(|d| GpuStats {
            index: Some(d.gpu_id),
            pci_bus_id: d.bus_id.as_deref().and_then(normalize_pci_hex),
            hashrate_hs: Some(d.speed * factor),
            accepted: Some(d.accepted_shares),
            rejected: Some(d.rejected_shares),
            stale: d.stale_shares,
            invalid: d.invalid_shares,
            power_w: d.power_usage.filter(|p| *p > 0.0),
            temperature_c: d.temperature,
            memory_temperature_c: d.memory_temperature.filter(|t| *t > 0.0),
            fan_ratio: d.fan.map(|f| f / 100.0),
            ..GpuStats::default()
        })
        .collect();
    MinerStats {
        hashrate_hs: Some(gpus.iter().filter_map(|g| g.hashrate_hs).sum()),
        gpus,
        accepted: s.total_accepted_shares,
        rejected: s.total_rejected_shares,
        stale: s.total_stale_shares,
        invalid: s.total_invalid_shares,
        uptime_s: Some(s.uptime),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::miner::tests::{labels, value};

    const STAT: &str = include_str!("../../tests/fixtures/miners/gminer_stat.json");
    const U: &str = "http://127.0.0.1:10050/stat";

    #[test]
    fn fixture_to_samples() {
        let v = api::parse(U, STAT.as_bytes()).unwrap();
        let s = from_value(U, &v).unwrap().samples(1, "rig1", "gminer");
        assert_eq!(
            labels(&s, "miner_hashrate_hashes_per_second", "1").get("pci_bus_id"),
            Some("00000000:03:00.0")
        );
        assert_eq!(
            value(&s, "miner_hashrate_hashes_per_second", Some("0")),
            Some(30_120_000.0)
        );
        assert_eq!(value(&s, "miner_shares_stale_total", Some("1")), Some(1.0));
        assert_eq!(
            value(&s, "miner_shares_invalid_total", Some("0")),
            Some(0.0)
        );
        assert_eq!(value(&s, "miner_power_watts", Some("1")), Some(121.0));
        assert_eq!(
            value(&s, "miner_rig_shares_accepted_total", None),
            Some(1002.0)
        );
        assert_eq!(
            value(&s, "miner_rig_hashrate_hashes_per_second", None),
            Some(60_420_000.0)
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let wrong = STAT.replace("\"speed_unit\": \"H/s\"", "\"speed_unit\": \"furlongs\"");
        let e = from_value(U, &api::parse(U, wrong.as_bytes()).unwrap()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{U}: speed_unit: unknown unit \"furlongs\"")
        );
        let wrong = STAT.replace("\"speed\": 30300000", "\"speed\": null");
        let e = from_value(U, &api::parse(U, wrong.as_bytes()).unwrap()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{U}: devices[1].speed: invalid type: null, expected f64")
        );
    }
}
