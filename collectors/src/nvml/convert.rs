//! A [`GpuReading`] in NVML units -> samples in nvidia_gpu_exporter's names
//! and SI units, with the simulator's label sets.
//!
//! Scaling divides by an exact power of ten (`231470 / 1000.0`), never
//! multiplies by its inexact reciprocal (`231470 * 0.001`): IEEE division is
//! correctly rounded, so the result is the f64 nearest the decimal
//! (`231.47`), the same bits the simulator and the exposition parser
//! produce, and the decimal value codec stores it compactly.

use minetsdb::Labels;

use super::{GpuReading, GpuSource, NvmlError};
use crate::sim::series::{
    ENERGY, FAN, GCLK, GPU_METRICS, INFO, LIMIT, MCLK, MEM_TOTAL, MEM_USED, POWER, PSTATE, TEMP,
    UTIL_GPU, UTIL_MEM,
};

/// Series NVML gives beyond the simulator's [`GPU_METRICS`], after them in
/// every reading, named as nvidia_gpu_exporter names the nvidia-smi query
/// field (`power.default_limit` -> `nvidia_smi_power_default_limit_watts`,
/// `clocks_event_reasons.sw_power_cap` ->
/// `nvidia_smi_clocks_event_reasons_sw_power_cap`, `ecc.errors.corrected.
/// volatile.total` -> `nvidia_smi_ecc_errors_corrected_volatile_total`).
///
/// Clock event reasons take nvidia-smi's current name (drivers since 535
/// say `clocks_event_reasons`; older ones said `clocks_throttle_reasons`).
pub const NVML_METRICS: [&str; 24] = [
    "nvidia_smi_power_limit_watts",
    "nvidia_smi_power_default_limit_watts",
    "nvidia_smi_power_min_limit_watts",
    "nvidia_smi_power_max_limit_watts",
    "nvidia_smi_clocks_current_sm_clock_hz",
    "nvidia_smi_clocks_event_reasons_active",
    "nvidia_smi_clocks_event_reasons_supported",
    "nvidia_smi_clocks_event_reasons_gpu_idle",
    "nvidia_smi_clocks_event_reasons_applications_clocks_setting",
    "nvidia_smi_clocks_event_reasons_sw_power_cap",
    "nvidia_smi_clocks_event_reasons_hw_slowdown",
    "nvidia_smi_clocks_event_reasons_sync_boost",
    "nvidia_smi_clocks_event_reasons_sw_thermal_slowdown",
    "nvidia_smi_clocks_event_reasons_hw_thermal_slowdown",
    "nvidia_smi_clocks_event_reasons_hw_power_brake_slowdown",
    "nvidia_smi_pcie_link_gen_current",
    "nvidia_smi_pcie_link_gen_max",
    "nvidia_smi_pcie_link_width_current",
    "nvidia_smi_pcie_link_width_max",
    "nvidia_smi_ecc_mode_current",
    "nvidia_smi_ecc_errors_corrected_volatile_total",
    "nvidia_smi_ecc_errors_corrected_aggregate_total",
    "nvidia_smi_ecc_errors_uncorrected_volatile_total",
    "nvidia_smi_ecc_errors_uncorrected_aggregate_total",
];

/// The one-reason series: NVML's bit (`nvmlClocksEventReason*`, the same
/// values as the older `nvmlClocksThrottleReason*`) and the series' name.
/// nvidia-smi has no query field for the display clock reason (0x100), so
/// neither has the exporter; it still counts in `_active`.
pub(super) const CLOCK_EVENT_REASONS: [(u64, &str); 8] = [
    (0x01, "nvidia_smi_clocks_event_reasons_gpu_idle"),
    (
        0x02,
        "nvidia_smi_clocks_event_reasons_applications_clocks_setting",
    ),
    (0x04, "nvidia_smi_clocks_event_reasons_sw_power_cap"),
    (0x08, "nvidia_smi_clocks_event_reasons_hw_slowdown"),
    (0x10, "nvidia_smi_clocks_event_reasons_sync_boost"),
    (0x20, "nvidia_smi_clocks_event_reasons_sw_thermal_slowdown"),
    (0x40, "nvidia_smi_clocks_event_reasons_hw_thermal_slowdown"),
    (
        0x80,
        "nvidia_smi_clocks_event_reasons_hw_power_brake_slowdown",
    ),
];

/// One scrape of every device.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Collected {
    /// Samples of the devices that could be read, device by device.
    pub samples: Vec<(Labels, f64)>,
    /// One error per device that could not be read.
    pub errors: Vec<NvmlError>,
}

/// Reads every device of `source` once; `instance` is the rig's name, the
/// `instance` label of every series.
///
/// Fails only when nothing could be read at all; a failing device lands in
/// [`Collected::errors`] and the others are still converted.
pub fn collect<S: GpuSource + ?Sized>(source: &S, instance: &str) -> Result<Collected, NvmlError> {
    let mut out = Collected::default();
    for device in source.devices()? {
        match device {
            Ok(r) => out.samples.extend(samples(&r, instance)),
            Err(e) => out.errors.push(e),
        }
    }
    Ok(out)
}

/// The samples of one reading: the simulator's `GPU_METRICS` first, in its
/// order, then [`NVML_METRICS`] in theirs; a field that is `None` yields no
/// sample.
pub fn samples(r: &GpuReading, instance: &str) -> Vec<(Labels, f64)> {
    let base = [
        ("instance", instance),
        ("uuid", r.uuid.as_str()),
        ("name", r.name.as_str()),
    ];
    let mut out = Vec::with_capacity(GPU_METRICS.len() + NVML_METRICS.len());

    let index = r.index.to_string();
    let mut info = base.to_vec();
    info.extend([
        // nvidia_gpu_exporter puts the NVML index on the info series only:
        // other series join it on uuid (`* on(uuid) group_left(index)`).
        ("index", index.as_str()),
        ("driver_version", r.driver_version.as_deref().unwrap_or("")),
        ("vbios_version", r.vbios_version.as_deref().unwrap_or("")),
        ("pci_bus_id", r.pci_bus_id.as_deref().unwrap_or("")),
    ]);
    out.push((labels(GPU_METRICS[INFO], &info), 1.0));

    let watts = |mw: Option<u32>| mw.map(|mw| milli(mw.into()));
    let count = |n: Option<u32>| n.map(f64::from);
    let shared: [(&str, Option<f64>); 12] = [
        (GPU_METRICS[TEMP], r.temperature_c.map(f64::from)),
        (GPU_METRICS[FAN], r.fan_speed_pct.map(percent)),
        (GPU_METRICS[POWER], watts(r.power_mw)),
        (GPU_METRICS[LIMIT], watts(r.enforced_power_limit_mw)),
        (GPU_METRICS[GCLK], r.graphics_clock_mhz.map(mhz)),
        (GPU_METRICS[MCLK], r.memory_clock_mhz.map(mhz)),
        (GPU_METRICS[UTIL_GPU], r.utilization_gpu_pct.map(percent)),
        (GPU_METRICS[UTIL_MEM], r.utilization_memory_pct.map(percent)),
        (GPU_METRICS[MEM_USED], r.memory_used_bytes.map(exact)),
        (GPU_METRICS[MEM_TOTAL], r.memory_total_bytes.map(exact)),
        (GPU_METRICS[PSTATE], r.pstate.map(f64::from)),
        (GPU_METRICS[ENERGY], r.energy_mj.map(milli)),
    ];
    let nvml: [(&str, Option<f64>); 7] = [
        (NVML_METRICS[0], watts(r.power_limit_mw)),
        (NVML_METRICS[1], watts(r.default_power_limit_mw)),
        (NVML_METRICS[2], watts(r.min_power_limit_mw)),
        (NVML_METRICS[3], watts(r.max_power_limit_mw)),
        (NVML_METRICS[4], r.sm_clock_mhz.map(mhz)),
        (NVML_METRICS[5], r.clock_event_reasons.map(exact)),
        (NVML_METRICS[6], r.clock_event_reasons_supported.map(exact)),
    ];
    // A reason the card cannot report has no series (its 0 would claim
    // "not throttled for that reason"); with the supported set unknown,
    // every reason is reported, as nvidia-smi does.
    let reasons = CLOCK_EVENT_REASONS.map(|(bit, name)| {
        let supported = r.clock_event_reasons_supported.is_none_or(|s| s & bit != 0);
        let value = r.clock_event_reasons.filter(|_| supported).map(|active| {
            if active & bit != 0 {
                1.0
            } else {
                0.0
            }
        });
        (name, value)
    });
    let tail: [(&str, Option<f64>); 9] = [
        (NVML_METRICS[15], count(r.pcie_link_gen_current)),
        (NVML_METRICS[16], count(r.pcie_link_gen_max)),
        (NVML_METRICS[17], count(r.pcie_link_width_current)),
        (NVML_METRICS[18], count(r.pcie_link_width_max)),
        (
            NVML_METRICS[19],
            r.ecc_mode_current.map(|on| f64::from(u8::from(on))),
        ),
        (NVML_METRICS[20], r.ecc_errors_corrected_volatile.map(exact)),
        (
            NVML_METRICS[21],
            r.ecc_errors_corrected_aggregate.map(exact),
        ),
        (
            NVML_METRICS[22],
            r.ecc_errors_uncorrected_volatile.map(exact),
        ),
        (
            NVML_METRICS[23],
            r.ecc_errors_uncorrected_aggregate.map(exact),
        ),
    ];
    for (metric, value) in shared.into_iter().chain(nvml).chain(reasons).chain(tail) {
        if let Some(v) = value {
            out.push((labels(metric, &base), v));
        }
    }
    out
}

fn labels(metric: &str, pairs: &[(&str, &str)]) -> Labels {
    // Metric and label names are the simulator's constants and values are
    // free text (an empty one is dropped), so this fails only on a bug here.
    Labels::new(metric, pairs).expect("NVML label sets are valid")
}

/// A count as f64: exact below 2^53 (bytes: 8 PiB; mJ: 285 years at 1 kW).
fn exact(v: u64) -> f64 {
    v as f64
}

/// Thousandths (mW, mJ) -> units (W, J), correctly rounded.
fn milli(v: u64) -> f64 {
    exact(v) / 1000.0
}

/// Percent -> ratio, correctly rounded.
fn percent(pct: u32) -> f64 {
    f64::from(pct) / 100.0
}

/// MHz -> Hz; exact, since the product is an integer below 2^53.
fn mhz(v: u32) -> f64 {
    f64::from(v) * 1e6
}
