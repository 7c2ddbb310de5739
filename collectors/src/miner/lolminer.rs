//! lolMiner (AMD and NVIDIA): `GET /` on the JSON API of `--apiport`.
//!
//! Shape: lolMiner 1.4x's API (its `Workers` and `Algorithms` objects, see
//! the lolMiner manual, "API"): `Workers[]` hold the device readings
//! (`Index`, `Power` W, `Core_Temp`, `Mem_Temp`, `Fan_Speed` %,
//! `PCIE_Address` "bus:device"), and each of `Algorithms[]` holds per
//! worker arrays (`Worker_Performance`, `Worker_Accepted`,
//! `Worker_Rejected`, `Worker_Stales`, `Worker_Errors`) in
//! `Performance_Unit`, scaled to H/s by `Performance_Factor`. Dual mining:
//! the first algorithm only. `PCIE_Address` is read as hexadecimal, as
//! lspci writes it.

use serde::Deserialize;
use serde_json::Value;

use super::{normalize_pci_hex, GpuStats, MinerStats};
use crate::api::{self, ApiError};

/// The answer (fields used).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Summary {
    /// Session figures.
    pub session: Session,
    /// Devices.
    pub workers: Vec<Device>,
    /// Algorithms mined.
    pub algorithms: Vec<Algorithm>,
}

/// `Session`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Session {
    /// Seconds since start.
    pub uptime: f64,
}

/// One of `Workers`.
#[derive(Debug, Clone, Deserialize)]
pub struct Device {
    /// Device index.
    #[serde(rename = "Index")]
    pub index: u32,
    /// Board power, W.
    #[serde(rename = "Power")]
    pub power: Option<f64>,
    /// Core temperature, °C.
    #[serde(rename = "Core_Temp")]
    pub core_temp: Option<f64>,
    /// Memory temperature, °C.
    #[serde(rename = "Mem_Temp")]
    pub mem_temp: Option<f64>,
    /// Fan speed, %.
    #[serde(rename = "Fan_Speed")]
    pub fan_speed: Option<f64>,
    /// `bus:device`.
    #[serde(rename = "PCIE_Address")]
    pub pcie_address: Option<String>,
}

/// One of `Algorithms`.
#[derive(Debug, Clone, Deserialize)]
pub struct Algorithm {
    /// Hashes per second in one `Performance_Unit`.
    #[serde(rename = "Performance_Factor")]
    pub performance_factor: f64,
    /// Total, in `Performance_Unit`.
    #[serde(rename = "Total_Performance")]
    pub total_performance: f64,
    /// Total accepted.
    #[serde(rename = "Total_Accepted")]
    pub total_accepted: f64,
    /// Total rejected.
    #[serde(rename = "Total_Rejected")]
    pub total_rejected: f64,
    /// Total stale.
    #[serde(rename = "Total_Stales")]
    pub total_stales: Option<f64>,
    /// Per worker, in `Performance_Unit`.
    #[serde(rename = "Worker_Performance")]
    pub worker_performance: Vec<f64>,
    /// Per worker accepted.
    #[serde(rename = "Worker_Accepted")]
    pub worker_accepted: Vec<f64>,
    /// Per worker rejected.
    #[serde(rename = "Worker_Rejected")]
    pub worker_rejected: Vec<f64>,
    /// Per worker stale.
    #[serde(rename = "Worker_Stales")]
    pub worker_stales: Option<Vec<f64>>,
    /// Per worker errors (invalid).
    #[serde(rename = "Worker_Errors")]
    pub worker_errors: Option<Vec<f64>>,
}

/// Decodes the answer into [`MinerStats`].
pub fn from_value(url: &str, v: &Value) -> Result<MinerStats, ApiError> {
    let s: Summary = api::decode(url, v, "")?;
    Ok(to_stats(&s))
}

/// The conversion: H/s by `Performance_Factor`, nvidia-smi's PCI form.
pub fn to_stats(s: &Summary) -> MinerStats {
    let algo = s.algorithms.first();
    let at = |v: Option<&Vec<f64>>, i: usize| v.and_then(|v| v.get(i)).copied();
    let factor = algo.map_or(1.0, |a| a.performance_factor);
    MinerStats {
        gpus: s
            .workers
            .iter()
            .enumerate()
            .map(|(i, d)| GpuStats {
                index: Some(d.index),
                pci_bus_id: d.pcie_address.as_deref().and_then(normalize_pci_hex),
                hashrate_hs: at(algo.map(|a| &a.worker_performance), i).map(|p| p * factor),
                accepted: at(algo.map(|a| &a.worker_accepted), i),
                rejected: at(algo.map(|a| &a.worker_rejected), i),
                stale: at(algo.and_then(|a| a.worker_stales.as_ref()), i),
                invalid: at(algo.and_then(|a| a.worker_errors.as_ref()), i),
                power_w: d.power.filter(|p| *p > 0.0),
                temperature_c: d.core_temp,
                memory_temperature_c: d.mem_temp.filter(|t| *t > 0.0),
                fan_ratio: d.fan_speed.map(|f| f / 100.0),
                ..GpuStats::default()
            })
            .collect(),
        hashrate_hs: algo.map(|a| a.total_performance * factor),
        accepted: algo.map(|a| a.total_accepted),
        rejected: algo.map(|a| a.total_rejected),
        stale: algo.and_then(|a| a.total_stales),
        uptime_s: Some(s.session.uptime),
        ..MinerStats::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::miner::tests::{labels, value};

    const SUMMARY: &str = include_str!("../../tests/fixtures/miners/lolminer.json");
    const U: &str = "http://127.0.0.1:8020/";

    #[test]
    fn fixture_to_samples() {
        let v = api::parse(U, SUMMARY.as_bytes()).unwrap();
        let s = from_value(U, &v).unwrap().samples(1, "rig2", "lolminer");
        let l = labels(&s, "miner_hashrate_hashes_per_second", "1");
        assert_eq!(l.get("pci_bus_id"), Some("00000000:0A:00.0"));
        assert_eq!(l.get("uuid"), None);
        assert_eq!(
            value(&s, "miner_hashrate_hashes_per_second", Some("0")),
            Some(61.52e6)
        );
        assert_eq!(
            value(&s, "miner_hashrate_hashes_per_second", Some("1")),
            Some(30.8e6)
        );
        assert_eq!(
            value(&s, "miner_shares_accepted_total", Some("1")),
            Some(211.0)
        );
        assert_eq!(value(&s, "miner_shares_stale_total", Some("0")), Some(3.0));
        assert_eq!(value(&s, "miner_power_watts", Some("0")), Some(134.2));
        assert_eq!(
            value(&s, "miner_memory_temperature_celsius", Some("0")),
            Some(78.0)
        );
        assert_eq!(
            value(&s, "miner_rig_hashrate_hashes_per_second", None),
            Some(92.32e6)
        );
        assert_eq!(value(&s, "miner_uptime_seconds", None), Some(7265.0));
    }

    #[test]
    fn bad_fields_are_named() {
        let wrong = SUMMARY.replace(
            "\"Worker_Accepted\": [412, 211]",
            "\"Worker_Accepted\": [412, \"x\"]",
        );
        let e = from_value(U, &api::parse(U, wrong.as_bytes()).unwrap()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{U}: Algorithms[0].Worker_Accepted[1]: invalid type: string \"x\", expected f64"
            )
        );
    }
}
