//! Names and label sets of the simulated series.

use minetsdb::Labels;

/// Metrics exposed for every GPU, in the order they appear in a scrape.
///
/// The `nvidia_smi_*` names follow utkuozdemir/nvidia_gpu_exporter, so
/// dashboards built for it work unchanged; `miner_*` series are what a
/// miner's API (T-Rex, lolMiner) reports per GPU.
pub const GPU_METRICS: [&str; 17] = [
    "nvidia_smi_gpu_info",
    "nvidia_smi_temperature_gpu",
    "nvidia_smi_fan_speed_ratio",
    "nvidia_smi_power_draw_watts",
    "nvidia_smi_enforced_power_limit_watts",
    "nvidia_smi_clocks_current_graphics_clock_hz",
    "nvidia_smi_clocks_current_memory_clock_hz",
    "nvidia_smi_utilization_gpu_ratio",
    "nvidia_smi_utilization_memory_ratio",
    "nvidia_smi_memory_used_bytes",
    "nvidia_smi_memory_total_bytes",
    "nvidia_smi_pstate",
    "gpu_energy_joules_total",
    "miner_hashrate_hashes_per_second",
    "miner_shares_accepted_total",
    "miner_shares_rejected_total",
    "miner_shares_stale_total",
];

/// Metrics exposed once per rig (pool and price), after the GPU series.
pub const RIG_METRICS: [&str; 6] = [
    "pool_hashrate_reported_hashes_per_second",
    "pool_hashrate_effective_hashes_per_second",
    "pool_unpaid_balance",
    "pool_payouts_total",
    "pool_paid_total",
    "coin_price_usd",
];

// Positions in GPU_METRICS.
pub(crate) const INFO: usize = 0;
pub(crate) const TEMP: usize = 1;
pub(crate) const FAN: usize = 2;
pub(crate) const POWER: usize = 3;
pub(crate) const LIMIT: usize = 4;
pub(crate) const GCLK: usize = 5;
pub(crate) const MCLK: usize = 6;
pub(crate) const UTIL_GPU: usize = 7;
pub(crate) const UTIL_MEM: usize = 8;
pub(crate) const MEM_USED: usize = 9;
pub(crate) const MEM_TOTAL: usize = 10;
pub(crate) const PSTATE: usize = 11;
pub(crate) const ENERGY: usize = 12;
pub(crate) const HASHRATE: usize = 13;
pub(crate) const ACCEPTED: usize = 14;
pub(crate) const REJECTED: usize = 15;
pub(crate) const STALE: usize = 16;
/// First metric that comes from the miner rather than nvidia-smi.
const FIRST_MINER: usize = HASHRATE;

// Positions in RIG_METRICS.
pub(crate) const POOL_REPORTED: usize = 0;
pub(crate) const POOL_EFFECTIVE: usize = 1;
pub(crate) const POOL_BALANCE: usize = 2;
pub(crate) const POOL_PAYOUTS: usize = 3;
pub(crate) const POOL_PAID: usize = 4;
pub(crate) const PRICE: usize = 5;

/// What the label sets of one GPU are made of.
pub(crate) struct GpuIdentity<'a> {
    pub instance: &'a str,
    /// NVML's index: position in PCI bus order, as NVML numbers devices.
    pub index: u32,
    pub uuid: &'a str,
    pub name: &'a str,
    pub miner: &'a str,
    pub driver_version: &'a str,
    pub vbios_version: &'a str,
    pub pci_bus_id: &'a str,
}

fn labels(name: &str, pairs: &[(&str, &str)]) -> Labels {
    // Names are compile-time constants and values free text, so this only
    // fails on a bug here; a config value cannot make it fail.
    Labels::new(name, pairs).expect("simulator label sets are valid")
}

/// The label sets of one GPU's series, in `GPU_METRICS` order.
pub(crate) fn gpu_series(g: &GpuIdentity<'_>) -> Vec<Labels> {
    let base = [("instance", g.instance), ("uuid", g.uuid), ("name", g.name)];
    let index = g.index.to_string();
    GPU_METRICS
        .iter()
        .enumerate()
        .map(|(i, m)| {
            if i == INFO {
                let mut l = base.to_vec();
                l.extend([
                    // On the info series only, as nvidia_gpu_exporter has it.
                    ("index", index.as_str()),
                    ("driver_version", g.driver_version),
                    ("vbios_version", g.vbios_version),
                    ("pci_bus_id", g.pci_bus_id),
                ]);
                labels(m, &l)
            } else if i >= FIRST_MINER {
                let mut l = base.to_vec();
                l.push(("miner", g.miner));
                labels(m, &l)
            } else {
                labels(m, &base)
            }
        })
        .collect()
}

/// The label sets of the rig's pool and price series, in `RIG_METRICS` order.
pub(crate) fn rig_series(instance: &str, pool: &str, coin: &str) -> Vec<Labels> {
    RIG_METRICS
        .iter()
        .enumerate()
        .map(|(i, m)| {
            if i == PRICE {
                labels(m, &[("instance", instance), ("coin", coin)])
            } else {
                labels(m, &[("instance", instance), ("pool", pool), ("coin", coin)])
            }
        })
        .collect()
}
