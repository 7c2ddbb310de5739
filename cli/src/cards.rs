//! Which card a series belongs to, for `report` and `dash`.
//!
//! Cards are NVIDIA series by `(instance, uuid)` and AMD cards by
//! `(instance, card)`. A miner's per-GPU series joins its card by `uuid`
//! where it has one (T-Rex, the simulator), else by its PCI address
//! (`pci_bus_id`: GMiner, lolMiner, on either vendor) matched to the
//! `pci_bus_id` of `nvidia_smi_gpu_info` or `amdgpu_gpu_info`; a miner
//! series with neither (TeamRedMiner's cgminer API gives only its own
//! device index, which is not the DRM card number) joins no card, and the
//! card shows no hashrate rather than a guess.

use std::collections::BTreeMap;

use minetsdb_collectors::miner::normalize_pci_hex;

use crate::report::metric;

/// `(instance, card id)`: the id is NVIDIA's uuid or amdgpu's `card`.
pub type Key = (String, String);

/// Where one vendor's cards and readings are.
pub struct Vendor {
    /// The label naming a card: `uuid` or `card`.
    pub id: &'static str,
    /// The info series (name, PCI address) of each card.
    pub info: &'static str,
    /// Label of the info series that numbers the card.
    pub index: &'static str,
    pub temp: &'static str,
    pub fan: &'static str,
    pub power: &'static str,
    pub limit: &'static str,
}

pub const NVIDIA: Vendor = Vendor {
    id: "uuid",
    info: "nvidia_smi_gpu_info",
    index: "index",
    temp: metric::TEMP,
    fan: "nvidia_smi_fan_speed_ratio",
    power: metric::POWER,
    limit: metric::LIMIT,
};

/// amdgpu's edge sensor is what NVML reports as the GPU temperature.
pub const AMD: Vendor = Vendor {
    id: "card",
    info: "amdgpu_gpu_info",
    index: "card",
    temp: "amdgpu_temperature_celsius{sensor=\"edge\"}",
    fan: "amdgpu_fan_pwm_ratio",
    power: "amdgpu_power_draw_watts",
    limit: "amdgpu_power_limit_watts",
};

pub const VENDORS: [&Vendor; 2] = [&NVIDIA, &AMD];

/// How a series names its card: by a vendor's own id label (`uuid`,
/// `card`) when it has it, else by its PCI address, which miners put on
/// their per-GPU series (`pci_bus_id`, nvidia-smi's form) and both card
/// info series carry (NVIDIA in that form, amdgpu as sysfs writes it,
/// `0000:03:00.0`): both are normalised before they are compared.
pub struct Join {
    ids: Vec<&'static str>,
    /// `(instance, normalised PCI address)` -> the card's id.
    by_pci: BTreeMap<(String, String), String>,
}

impl Join {
    /// A join naming cards by the first of `ids` a series has.
    pub fn new(ids: &[&'static str]) -> Join {
        Join {
            ids: ids.to_vec(),
            by_pci: BTreeMap::new(),
        }
    }

    /// Learns a card's PCI address from its info series' `pci_bus_id`.
    pub fn add_card(&mut self, key: &Key, pci_bus_id: Option<&str>) {
        if let Some(pci) = pci_bus_id.and_then(normalize_pci_hex) {
            self.by_pci.insert((key.0.clone(), pci), key.1.clone());
        }
    }

    /// The card of a series whose labels `get` reads.
    pub fn key<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> Option<Key> {
        let instance = get("instance")?;
        if let Some(id) = self.ids.iter().find_map(|l| get(l)) {
            return Some((instance.to_string(), id.to_string()));
        }
        let pci = normalize_pci_hex(get("pci_bus_id")?)?;
        let id = self.by_pci.get(&(instance.to_string(), pci))?;
        Some((instance.to_string(), id.clone()))
    }
}
