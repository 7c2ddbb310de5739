//! The amdgpu cards as a [`Source`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use minetsdb::{Labels, Metadata, MetricType, Sample};

use super::sysfs::{cards, read_card, Card, CardReading};
use super::AmdError;
use crate::source::{Collection, Source, Unavailable};

/// The schedule's job name of the AMD cards (config jobs may not take it).
pub const AMD_JOB: &str = "amdgpu";

/// Reads every amdgpu card under a sysfs root.
///
/// Remembers the cards it has seen (name -> PCI slot), so that a card
/// that falls off the bus is a failure line rather than silence.
#[derive(Debug)]
pub struct AmdJob {
    instance: String,
    sysfs: PathBuf,
    seen: BTreeMap<String, String>,
}

impl AmdJob {
    /// A job reading the cards under `sysfs` (`/sys` on a real machine; a
    /// temporary tree in tests); `instance` labels every series.
    pub fn new(instance: impl Into<String>, sysfs: impl Into<PathBuf>) -> AmdJob {
        AmdJob {
            instance: instance.into(),
            sysfs: sysfs.into(),
            seen: BTreeMap::new(),
        }
    }
}

impl Source for AmdJob {
    fn name(&self) -> &str {
        AMD_JOB
    }

    fn collect(&mut self, now_ms: i64) -> Result<Collection, Unavailable> {
        let mut out = Collection::default();
        let found = match cards(&self.sysfs) {
            Ok(c) => c,
            Err(e) => {
                out.failures.push(e.to_string());
                return Ok(out);
            }
        };
        if found.is_empty() && self.seen.is_empty() {
            return Err(Unavailable {
                source_name: "AMD GPUs not collected".into(),
                reason: format!(
                    "no amdgpu card under {} (set enabled = false under [amd] in the config on a rig without AMD GPUs)",
                    self.sysfs.join("class/drm").display()
                ),
            });
        }
        for (card, pci_bus_id) in &self.seen {
            if !found.iter().any(|c| &c.name == card) {
                out.failures.push(
                    AmdError::Vanished {
                        card: card.clone(),
                        pci_bus_id: pci_bus_id.clone(),
                        reason: "no longer listed".into(),
                    }
                    .to_string(),
                );
            }
        }
        let mut warnings = Vec::new();
        for card in &found {
            match read_card(card, &mut warnings) {
                Ok(r) => {
                    for (labels, v) in samples(card, &r, &self.instance) {
                        out.samples.push((labels, Sample::new(now_ms, v)));
                    }
                }
                Err(e) => out.failures.push(e.to_string()),
            }
        }
        // A vanished card stays remembered, so that it keeps failing until
        // it is back (or the process restarts): a lost card is not fixed by
        // having been reported once.
        for card in found {
            self.seen.insert(card.name, card.pci_bus_id);
        }
        out.warnings = warnings.iter().map(ToString::to_string).collect();
        out.metadata = metadata();
        Ok(out)
    }
}

/// The series of the AMD cards, with type and help.
pub const AMD_METRICS: [(&str, &str); 15] = [
    (
        "amdgpu_gpu_info",
        "A metric with a constant '1' value labeled by card, pci_bus_id, name and vbios_version.",
    ),
    (
        "amdgpu_power_draw_watts",
        "Average power draw of the card (hwmon power1_average, or power1_input), in watts.",
    ),
    (
        "amdgpu_power_limit_watts",
        "Power cap in force (hwmon power1_cap), in watts.",
    ),
    (
        "amdgpu_power_default_limit_watts",
        "Power cap the card boots with (hwmon power1_cap_default), in watts.",
    ),
    (
        "amdgpu_power_min_limit_watts",
        "Lowest power cap the card accepts (hwmon power1_cap_min), in watts.",
    ),
    (
        "amdgpu_power_max_limit_watts",
        "Highest power cap the card accepts (hwmon power1_cap_max), in watts.",
    ),
    (
        "amdgpu_temperature_celsius",
        "Temperature of the sensor (edge, junction, mem), in degrees C.",
    ),
    (
        "amdgpu_fan_speed_rpm",
        "Fan speed (hwmon fan1_input), in revolutions per minute.",
    ),
    (
        "amdgpu_fan_pwm_ratio",
        "Fan duty cycle the driver sets (hwmon pwm1 / 255).",
    ),
    (
        "amdgpu_clocks_current_sclk_hz",
        "Current shader (graphics) clock: the selected level of pp_dpm_sclk, in Hz.",
    ),
    (
        "amdgpu_clocks_current_mclk_hz",
        "Current memory clock: the selected level of pp_dpm_mclk, in Hz.",
    ),
    (
        "amdgpu_memory_used_bytes",
        "VRAM in use (mem_info_vram_used), in bytes.",
    ),
    (
        "amdgpu_memory_total_bytes",
        "VRAM installed (mem_info_vram_total), in bytes.",
    ),
    (
        "amdgpu_utilization_gpu_ratio",
        "Fraction of time the GPU was busy (gpu_busy_percent / 100).",
    ),
    (
        "amdgpu_utilization_memory_ratio",
        "Fraction of time the memory controller was busy (mem_busy_percent / 100).",
    ),
];

fn metadata() -> Vec<(String, Metadata)> {
    AMD_METRICS
        .iter()
        .map(|(name, help)| {
            (
                name.to_string(),
                Metadata {
                    metric_type: MetricType::Gauge,
                    unit: String::new(),
                    help: help.to_string(),
                },
            )
        })
        .collect()
}

/// The samples of one card, in [`AMD_METRICS`] order; `None` fields give
/// none.
pub(super) fn samples(card: &Card, r: &CardReading, instance: &str) -> Vec<(Labels, f64)> {
    let base = [
        ("instance", instance),
        ("card", card.name.as_str()),
        ("pci_bus_id", card.pci_bus_id.as_str()),
        ("name", r.name.as_deref().unwrap_or("")),
    ];
    let mut out = Vec::with_capacity(AMD_METRICS.len() + 2);
    let mut info = base.to_vec();
    info.push(("vbios_version", r.vbios_version.as_deref().unwrap_or("")));
    out.extend(labels(AMD_METRICS[0].0, &info).map(|l| (l, 1.0)));

    let watts = |uw: Option<u64>| uw.map(|uw| exact(uw) / 1e6);
    let head: [(&str, Option<f64>); 5] = [
        (AMD_METRICS[1].0, watts(r.power_uw)),
        (AMD_METRICS[2].0, watts(r.power_cap_uw)),
        (AMD_METRICS[3].0, watts(r.power_cap_default_uw)),
        (AMD_METRICS[4].0, watts(r.power_cap_min_uw)),
        (AMD_METRICS[5].0, watts(r.power_cap_max_uw)),
    ];
    let tail: [(&str, Option<f64>); 8] = [
        (AMD_METRICS[7].0, r.fan_rpm.map(exact)),
        (AMD_METRICS[8].0, r.pwm.map(|p| exact(p) / 255.0)),
        (AMD_METRICS[9].0, r.sclk_mhz.map(|f| exact(f) * 1e6)),
        (AMD_METRICS[10].0, r.mclk_mhz.map(|f| exact(f) * 1e6)),
        (AMD_METRICS[11].0, r.vram_used_bytes.map(exact)),
        (AMD_METRICS[12].0, r.vram_total_bytes.map(exact)),
        (AMD_METRICS[13].0, r.gpu_busy_pct.map(|p| exact(p) / 100.0)),
        (AMD_METRICS[14].0, r.mem_busy_pct.map(|p| exact(p) / 100.0)),
    ];
    for (metric, value) in head {
        if let Some(v) = value {
            out.extend(labels(metric, &base).map(|l| (l, v)));
        }
    }
    for (sensor, mc) in &r.temperatures_mc {
        let mut l = base.to_vec();
        l.push(("sensor", sensor.as_str()));
        // Millidegrees are integers: the division gives the f64 of the
        // decimal, as the NVML conversion does.
        out.extend(labels(AMD_METRICS[6].0, &l).map(|l| (l, *mc as f64 / 1000.0)));
    }
    for (metric, value) in tail {
        if let Some(v) = value {
            out.extend(labels(metric, &base).map(|l| (l, v)));
        }
    }
    out
}

/// The label set, or none when a value from the card cannot be a label
/// (a `product_name` with a NUL, say): a sample lost, not a panic.
fn labels(metric: &str, pairs: &[(&str, &str)]) -> Option<Labels> {
    Labels::new(metric, pairs).ok()
}

/// A count from sysfs as f64: exact below 2^53.
fn exact(v: u64) -> f64 {
    v as f64
}
