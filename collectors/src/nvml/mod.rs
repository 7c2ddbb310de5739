//! NVIDIA GPUs read through NVML, as nvidia_gpu_exporter would expose them.
//!
//! The collector reads through the small [`GpuSource`] trait: [`NvmlSource`]
//! is the real one over libnvidia-ml (loaded at run time, so a machine
//! without the driver builds and runs, and [`NvmlSource::new`] says
//! [`NvmlError::Unavailable`]); [`FakeGpus`] plays scripted readings for
//! tests and the demo. [`collect`] turns one reading of every device into
//! samples named, labelled and scaled exactly as the simulator's
//! (`crate::sim`) and utkuozdemir/nvidia_gpu_exporter's series, so
//! dashboards and queries work on either.
//!
//! A field a card does not support is `None` in [`GpuReading`] and yields
//! no sample, never a made-up 0. A device that fails is reported in
//! [`Collected::errors`] and the other devices are still read.
//!
//! ```
//! use minetsdb_collectors::nvml::{collect, FakeGpus};
//! let got = collect(&FakeGpus::rig(), "rig1").unwrap();
//! assert_eq!(got.errors.len(), 1); // the fake rig's third GPU is lost
//! assert!(got.samples.iter().any(|(l, v)| {
//!     l.metric_name() == "nvidia_smi_power_draw_watts" && *v == 231.47
//! }));
//! ```

mod convert;
mod fake;
mod job;
mod real;
#[cfg(test)]
mod tests;

pub use convert::{collect, samples, Collected, NVML_METRICS};
pub use fake::FakeGpus;
pub use job::{GpuJob, GPU_JOB};
pub use real::NvmlSource;

/// One device's reading, in NVML's own units.
///
/// `uuid` and `name` make the series identity, so a device without them is
/// an error rather than a reading. Every other field is `None` where the
/// card or driver does not support it (NVML's `NotSupported`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GpuReading {
    /// NVML device index, 0-based.
    pub index: u32,
    /// `GPU-xxxxxxxx-...`, the `uuid` label.
    pub uuid: String,
    /// Product name, e.g. `NVIDIA GeForce RTX 3080`, the `name` label.
    pub name: String,
    /// System driver version, e.g. `535.129.03`.
    pub driver_version: Option<String>,
    /// VBIOS version, e.g. `94.02.42.00.A9`.
    pub vbios_version: Option<String>,
    /// PCI bus id as nvidia-smi prints it, e.g. `00000000:01:00.0`.
    pub pci_bus_id: Option<String>,
    /// GPU core temperature, °C.
    pub temperature_c: Option<u32>,
    /// Power draw, mW.
    pub power_mw: Option<u32>,
    /// Enforced power limit, mW: the lowest of every limit in force.
    pub enforced_power_limit_mw: Option<u32>,
    /// Power management limit set on the card (`nvidia-smi -pl`), mW.
    pub power_limit_mw: Option<u32>,
    /// Power management limit the card boots with, mW.
    pub default_power_limit_mw: Option<u32>,
    /// Lowest power management limit the card accepts, mW.
    pub min_power_limit_mw: Option<u32>,
    /// Highest power management limit the card accepts, mW.
    pub max_power_limit_mw: Option<u32>,
    /// Fan 0 speed, percent of maximum (NVML may report over 100).
    pub fan_speed_pct: Option<u32>,
    /// Current graphics clock, MHz.
    pub graphics_clock_mhz: Option<u32>,
    /// Current memory clock, MHz.
    pub memory_clock_mhz: Option<u32>,
    /// Current SM (streaming multiprocessor) clock, MHz.
    pub sm_clock_mhz: Option<u32>,
    /// Reasons the clocks are held down now (NVML's clocks event /
    /// throttle reasons bitmask, `nvmlClocksEventReason*`).
    pub clock_event_reasons: Option<u64>,
    /// The reasons this card can report, same bitmask.
    pub clock_event_reasons_supported: Option<u64>,
    /// Current PCIe link generation.
    pub pcie_link_gen_current: Option<u32>,
    /// Highest PCIe link generation of the card and the slot it sits in.
    pub pcie_link_gen_max: Option<u32>,
    /// Current PCIe link width, lanes (mining risers: 1).
    pub pcie_link_width_current: Option<u32>,
    /// Widest PCIe link of the card and the slot, lanes.
    pub pcie_link_width_max: Option<u32>,
    /// GPU utilization over the last sample period, percent.
    pub utilization_gpu_pct: Option<u32>,
    /// Memory controller utilization over the last sample period, percent.
    pub utilization_memory_pct: Option<u32>,
    /// Framebuffer memory in use, bytes.
    pub memory_used_bytes: Option<u64>,
    /// Framebuffer memory installed, bytes.
    pub memory_total_bytes: Option<u64>,
    /// Performance state, 0 (P0, fastest) to 15; `None` when unknown.
    pub pstate: Option<u8>,
    /// Energy used since the driver was loaded, mJ (Volta and later).
    pub energy_mj: Option<u64>,
    /// Whether ECC is on now; `None` on cards without ECC (GeForce).
    pub ecc_mode_current: Option<bool>,
    /// Corrected ECC errors since the driver was loaded.
    pub ecc_errors_corrected_volatile: Option<u64>,
    /// Corrected ECC errors over the card's life.
    pub ecc_errors_corrected_aggregate: Option<u64>,
    /// Uncorrected ECC errors since the driver was loaded.
    pub ecc_errors_uncorrected_volatile: Option<u64>,
    /// Uncorrected ECC errors over the card's life.
    pub ecc_errors_uncorrected_aggregate: Option<u64>,
}

/// What went wrong reading GPUs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NvmlError {
    /// NVML cannot be used at all on this machine: the library is missing,
    /// the driver is not loaded, or access is denied.
    #[error("NVML unavailable: {reason}")]
    Unavailable {
        /// What failed, and what to check.
        reason: String,
    },
    /// A machine-wide query failed (e.g. the device count), so no device
    /// could be read.
    #[error("NVML: reading {what}: {reason}")]
    Query {
        /// What was being read.
        what: &'static str,
        /// NVML's error.
        reason: String,
    },
    /// One device could not be read; the others still were.
    #[error("GPU {index}{}: reading {what}: {reason}", uuid_suffix(.uuid))]
    Device {
        /// NVML device index.
        index: u32,
        /// The device's UUID when it was read before the failure.
        uuid: Option<String>,
        /// What was being read, e.g. `power usage`.
        what: &'static str,
        /// NVML's error.
        reason: String,
    },
}

fn uuid_suffix(uuid: &Option<String>) -> String {
    match uuid {
        Some(u) => format!(" ({u})"),
        None => String::new(),
    }
}

/// What the collector reads GPUs through.
pub trait GpuSource {
    /// One entry per device, in NVML index order.
    ///
    /// The outer error means nothing could be read (no NVML, no device
    /// count); an inner error concerns that device only.
    fn devices(&self) -> Result<Vec<Result<GpuReading, NvmlError>>, NvmlError>;
}

impl<S: GpuSource + ?Sized> GpuSource for &S {
    fn devices(&self) -> Result<Vec<Result<GpuReading, NvmlError>>, NvmlError> {
        (**self).devices()
    }
}
