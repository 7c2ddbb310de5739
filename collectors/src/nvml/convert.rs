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

/// The samples of one reading, in the simulator's `GPU_METRICS` order; a
/// field that is `None` yields no sample.
pub fn samples(r: &GpuReading, instance: &str) -> Vec<(Labels, f64)> {
    let base = [
        ("instance", instance),
        ("uuid", r.uuid.as_str()),
        ("name", r.name.as_str()),
    ];
    let series = |metric: usize| labels(GPU_METRICS[metric], &base);
    let mut out = Vec::with_capacity(13);

    let mut info = base.to_vec();
    info.extend([
        ("driver_version", r.driver_version.as_deref().unwrap_or("")),
        ("vbios_version", r.vbios_version.as_deref().unwrap_or("")),
        ("pci_bus_id", r.pci_bus_id.as_deref().unwrap_or("")),
    ]);
    out.push((labels(GPU_METRICS[INFO], &info), 1.0));

    let gauges: [(usize, Option<f64>); 12] = [
        (TEMP, r.temperature_c.map(f64::from)),
        (FAN, r.fan_speed_pct.map(percent)),
        (POWER, r.power_mw.map(|mw| milli(mw.into()))),
        (LIMIT, r.enforced_power_limit_mw.map(|mw| milli(mw.into()))),
        (GCLK, r.graphics_clock_mhz.map(mhz)),
        (MCLK, r.memory_clock_mhz.map(mhz)),
        (UTIL_GPU, r.utilization_gpu_pct.map(percent)),
        (UTIL_MEM, r.utilization_memory_pct.map(percent)),
        (MEM_USED, r.memory_used_bytes.map(exact)),
        (MEM_TOTAL, r.memory_total_bytes.map(exact)),
        (PSTATE, r.pstate.map(f64::from)),
        (ENERGY, r.energy_mj.map(milli)),
    ];
    for (metric, value) in gauges {
        if let Some(v) = value {
            out.push((series(metric), v));
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
