//! T-Rex (NVIDIA): `GET /summary` on its HTTP API (default port 4067).
//!
//! Shape: T-Rex's README, "API" (trex-miner.com), and the bundled
//! `/summary` of T-Rex 0.26: `gpus[]` with `device_id`, `hashrate` (H/s),
//! `power` (W), `temperature`, `memory_temperature` and `fan_speed` (%),
//! `uuid`, `pci_domain`/`pci_bus`/`pci_id`, and `shares` (per GPU share
//! counts, since 0.19); rig totals `hashrate`, `accepted_count`,
//! `rejected_count`, `invalid_count`, `uptime`. T-Rex counts no stale
//! shares. Per GPU series carry `uuid` and `pci_bus_id`, so they join with
//! NVML's on either.

use serde::Deserialize;
use serde_json::Value;

use super::{pci_bus_id, GpuStats, MinerStats};
use crate::api::{self, ApiError};

/// The `/summary` answer (fields used).
#[derive(Debug, Clone, Deserialize)]
pub struct Summary {
    /// Per GPU.
    pub gpus: Vec<Gpu>,
    /// Rig hashrate, H/s.
    pub hashrate: f64,
    /// Accepted shares.
    pub accepted_count: f64,
    /// Rejected shares.
    pub rejected_count: f64,
    /// Invalid shares.
    pub invalid_count: Option<f64>,
    /// Seconds since start.
    pub uptime: Option<f64>,
}

/// One GPU.
#[derive(Debug, Clone, Deserialize)]
pub struct Gpu {
    /// CUDA device index.
    pub device_id: u32,
    /// Hashrate, H/s.
    pub hashrate: f64,
    /// NVIDIA UUID (`GPU-...`; newer versions).
    pub uuid: Option<String>,
    /// PCI domain.
    pub pci_domain: Option<u32>,
    /// PCI bus.
    pub pci_bus: Option<u32>,
    /// PCI device.
    pub pci_id: Option<u32>,
    /// Power, W.
    pub power: Option<f64>,
    /// GPU temperature, °C.
    pub temperature: Option<f64>,
    /// Memory temperature, °C (GDDR6X cards).
    pub memory_temperature: Option<f64>,
    /// Fan speed, %.
    pub fan_speed: Option<f64>,
    /// Share counts (0.19 and later).
    pub shares: Option<Shares>,
}

/// `gpus[].shares`.
#[derive(Debug, Clone, Deserialize)]
pub struct Shares {
    /// Accepted.
    pub accepted_count: f64,
    /// Rejected.
    pub rejected_count: f64,
    /// Invalid.
    pub invalid_count: Option<f64>,
}

/// Decodes the answer into [`MinerStats`].
pub fn from_value(url: &str, v: &Value) -> Result<MinerStats, ApiError> {
    let s: Summary = api::decode(url, v, "")?;
    Ok(to_stats(&s))
}

/// The conversion: SI units, nvidia-smi's PCI form.
pub fn to_stats(s: &Summary) -> MinerStats {
    MinerStats {
        gpus: s
            .gpus
            .iter()
            .map(|g| GpuStats {
                index: Some(g.device_id),
                uuid: g.uuid.clone().filter(|u| !u.is_empty()),
                pci_bus_id: match (g.pci_bus, g.pci_id) {
                    (Some(bus), Some(dev)) => {
                        Some(pci_bus_id(g.pci_domain.unwrap_or(0), bus, dev, 0))
                    }
                    _ => None,
                },
                hashrate_hs: Some(g.hashrate),
                accepted: g.shares.as_ref().map(|s| s.accepted_count),
                rejected: g.shares.as_ref().map(|s| s.rejected_count),
                invalid: g.shares.as_ref().and_then(|s| s.invalid_count),
                power_w: g.power,
                temperature_c: g.temperature,
                memory_temperature_c: g.memory_temperature.filter(|t| *t > 0.0),
                fan_ratio: g.fan_speed.map(|f| f / 100.0),
                ..GpuStats::default()
            })
            .collect(),
        hashrate_hs: Some(s.hashrate),
        accepted: Some(s.accepted_count),
        rejected: Some(s.rejected_count),
        invalid: s.invalid_count,
        uptime_s: s.uptime,
        ..MinerStats::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::miner::tests::{labels, value};

    const SUMMARY: &str = include_str!("../../tests/fixtures/miners/trex_summary.json");
    const U: &str = "http://127.0.0.1:4067/summary";

    #[test]
    fn fixture_to_samples() {
        let v = api::parse(U, SUMMARY.as_bytes()).unwrap();
        let s = from_value(U, &v).unwrap().samples(1, "rig1", "trex");
        let l = labels(&s, "miner_hashrate_hashes_per_second", "0");
        assert_eq!(
            l.get("uuid"),
            Some("GPU-8d2b9e3a-52c4-5e3b-9d2f-0e1c2b3a4d5e")
        );
        assert_eq!(l.get("pci_bus_id"), Some("00000000:01:00.0"));
        assert_eq!(
            value(&s, "miner_hashrate_hashes_per_second", Some("0")),
            Some(61_234_567.0)
        );
        assert_eq!(
            value(&s, "miner_shares_accepted_total", Some("0")),
            Some(1021.0)
        );
        assert_eq!(
            value(&s, "miner_shares_rejected_total", Some("0")),
            Some(2.0)
        );
        assert_eq!(value(&s, "miner_shares_stale_total", Some("0")), None);
        assert_eq!(value(&s, "miner_power_watts", Some("0")), Some(118.0));
        assert_eq!(
            value(&s, "miner_temperature_celsius", Some("0")),
            Some(61.0)
        );
        assert_eq!(
            value(&s, "miner_memory_temperature_celsius", Some("0")),
            Some(84.0)
        );
        assert_eq!(value(&s, "miner_fan_speed_ratio", Some("0")), Some(0.66));
        assert_eq!(
            value(&s, "miner_rig_hashrate_hashes_per_second", None),
            Some(61_234_567.0)
        );
        assert_eq!(value(&s, "miner_uptime_seconds", None), Some(86_417.0));
    }

    #[test]
    fn bad_fields_are_named() {
        let wrong = SUMMARY.replace("\"device_id\": 0", "\"device_id\": \"zero\"");
        let e = from_value(U, &api::parse(U, wrong.as_bytes()).unwrap()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{U}: gpus[0].device_id: invalid type: string \"zero\", expected u32")
        );
        let e = from_value(U, &api::parse(U, br#"{"gpus":[]}"#).unwrap()).unwrap_err();
        assert_eq!(e.to_string(), format!("{U}: missing field `hashrate`"));
    }
}
