//! [`GpuSource`] over libnvidia-ml, through the nvml-wrapper crate.
//!
//! nvml-wrapper opens the library with dlopen when [`NvmlSource::new`] runs,
//! not at link time, so minetsdb builds and runs on machines without the
//! NVIDIA driver and says so in one clear error.

use std::ffi::OsStr;

use nvml_wrapper::enum_wrappers::device::{
    Clock, EccCounter, MemoryError, PerformanceState, TemperatureSensor,
};
use nvml_wrapper::error::NvmlError as Raw;
use nvml_wrapper::{Device, Nvml};

use super::{GpuReading, GpuSource, NvmlError};

/// Reads the GPUs of this machine through NVML.
pub struct NvmlSource {
    nvml: Nvml,
    /// Read once: the driver cannot change under a loaded library.
    driver_version: Option<String>,
}

impl std::fmt::Debug for NvmlSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NvmlSource")
            .field("driver_version", &self.driver_version)
            .finish_non_exhaustive()
    }
}

impl NvmlSource {
    /// Loads libnvidia-ml from the default search path and initialises it.
    ///
    /// Every failure here is [`NvmlError::Unavailable`]: no library, no
    /// driver loaded, no permission.
    pub fn new() -> Result<NvmlSource, NvmlError> {
        NvmlSource::from_init(Nvml::init())
    }

    /// Like [`NvmlSource::new`], with the library at `path` (for drivers
    /// installed outside the loader's search path).
    pub fn with_library(path: impl AsRef<OsStr>) -> Result<NvmlSource, NvmlError> {
        NvmlSource::from_init(Nvml::builder().lib_path(path.as_ref()).init())
    }

    fn from_init(init: Result<Nvml, Raw>) -> Result<NvmlSource, NvmlError> {
        let nvml = init.map_err(unavailable)?;
        // Only the info series carries it; a driver that will not say its
        // version still has GPUs worth reading.
        let driver_version = nvml.sys_driver_version().ok();
        Ok(NvmlSource {
            nvml,
            driver_version,
        })
    }

    fn read(&self, index: u32) -> Result<GpuReading, NvmlError> {
        let mut uuid = None;
        let err = |what: &'static str, uuid: &Option<String>| {
            let uuid = uuid.clone();
            move |e: Raw| NvmlError::Device {
                index,
                uuid,
                what,
                reason: e.to_string(),
            }
        };
        let d = self
            .nvml
            .device_by_index(index)
            .map_err(err("device handle", &uuid))?;
        uuid = Some(d.uuid().map_err(err("uuid", &uuid))?);
        let name = d.name().map_err(err("name", &uuid))?;
        // Fields a card may not support are None; any other error (GPU
        // lost, unknown) fails this device's reading for this scrape, since
        // half a reading from a GPU NVML calls broken is not to be trusted.
        let field = |what: &'static str| err(what, &uuid);
        let utilization = optional(d.utilization_rates()).map_err(field("utilization"))?;
        let memory = optional(d.memory_info()).map_err(field("memory info"))?;
        let constraints = optional(d.power_management_limit_constraints())
            .map_err(field("power limit constraints"))?;
        let ecc = optional(d.is_ecc_enabled()).map_err(field("ECC mode"))?;
        // NVML counts ECC errors only while ECC is on; asked otherwise it
        // fails, which would fail the whole reading of a card that merely
        // has ECC switched off.
        let ecc_on = ecc.as_ref().is_some_and(|e| e.currently_enabled);
        let ecc_count = |kind: MemoryError, counter: EccCounter, what: &'static str| {
            if ecc_on {
                optional(d.total_ecc_errors(kind, counter)).map_err(field(what))
            } else {
                Ok(None)
            }
        };
        Ok(GpuReading {
            index,
            name,
            driver_version: self.driver_version.clone(),
            vbios_version: optional(d.vbios_version()).map_err(field("vbios version"))?,
            pci_bus_id: optional(d.pci_info())
                .map_err(field("pci info"))?
                .map(|p| p.bus_id),
            temperature_c: optional(d.temperature(TemperatureSensor::Gpu))
                .map_err(field("temperature"))?,
            power_mw: optional(d.power_usage()).map_err(field("power usage"))?,
            enforced_power_limit_mw: optional(d.enforced_power_limit())
                .map_err(field("enforced power limit"))?,
            power_limit_mw: optional(d.power_management_limit())
                .map_err(field("power management limit"))?,
            default_power_limit_mw: optional(d.power_management_limit_default())
                .map_err(field("default power limit"))?,
            min_power_limit_mw: constraints.as_ref().map(|c| c.min_limit),
            max_power_limit_mw: constraints.map(|c| c.max_limit),
            fan_speed_pct: fan_speed(&d).map_err(field("fan speed"))?,
            graphics_clock_mhz: optional(d.clock_info(Clock::Graphics))
                .map_err(field("graphics clock"))?,
            memory_clock_mhz: optional(d.clock_info(Clock::Memory))
                .map_err(field("memory clock"))?,
            sm_clock_mhz: optional(d.clock_info(Clock::SM)).map_err(field("SM clock"))?,
            // Bits the wrapper does not know (reasons newer than it) are
            // dropped rather than failing the reading.
            clock_event_reasons: optional(d.current_throttle_reasons())
                .map_err(field("clock event reasons"))?
                .map(|r| r.bits()),
            clock_event_reasons_supported: optional(d.supported_throttle_reasons())
                .map_err(field("supported clock event reasons"))?
                .map(|r| r.bits()),
            pcie_link_gen_current: optional(d.current_pcie_link_gen())
                .map_err(field("PCIe link generation"))?,
            pcie_link_gen_max: optional(d.max_pcie_link_gen())
                .map_err(field("max PCIe link generation"))?,
            pcie_link_width_current: optional(d.current_pcie_link_width())
                .map_err(field("PCIe link width"))?,
            pcie_link_width_max: optional(d.max_pcie_link_width())
                .map_err(field("max PCIe link width"))?,
            utilization_gpu_pct: utilization.as_ref().map(|u| u.gpu),
            utilization_memory_pct: utilization.map(|u| u.memory),
            memory_used_bytes: memory.as_ref().map(|m| m.used),
            memory_total_bytes: memory.map(|m| m.total),
            pstate: optional(d.performance_state())
                .map_err(field("performance state"))?
                .and_then(pstate),
            energy_mj: optional(d.total_energy_consumption()).map_err(field("total energy"))?,
            ecc_mode_current: ecc.map(|e| e.currently_enabled),
            ecc_errors_corrected_volatile: ecc_count(
                MemoryError::Corrected,
                EccCounter::Volatile,
                "volatile corrected ECC errors",
            )?,
            ecc_errors_corrected_aggregate: ecc_count(
                MemoryError::Corrected,
                EccCounter::Aggregate,
                "aggregate corrected ECC errors",
            )?,
            ecc_errors_uncorrected_volatile: ecc_count(
                MemoryError::Uncorrected,
                EccCounter::Volatile,
                "volatile uncorrected ECC errors",
            )?,
            ecc_errors_uncorrected_aggregate: ecc_count(
                MemoryError::Uncorrected,
                EccCounter::Aggregate,
                "aggregate uncorrected ECC errors",
            )?,
            uuid: uuid.unwrap_or_default(),
        })
    }
}

impl GpuSource for NvmlSource {
    fn devices(&self) -> Result<Vec<Result<GpuReading, NvmlError>>, NvmlError> {
        let count = self.nvml.device_count().map_err(|e| NvmlError::Query {
            what: "device count",
            reason: e.to_string(),
        })?;
        Ok((0..count).map(|i| self.read(i)).collect())
    }
}

/// Why NVML cannot be used at all, in words that say what to check.
pub(crate) fn unavailable(e: Raw) -> NvmlError {
    let reason = match &e {
        Raw::LibloadingError(_) | Raw::LibraryNotFound => {
            format!("libnvidia-ml not found: is the NVIDIA driver installed? ({e})")
        }
        Raw::FailedToLoadSymbol(_) | Raw::FunctionNotFound => {
            format!("libnvidia-ml is too old for this build: update the NVIDIA driver ({e})")
        }
        Raw::DriverNotLoaded => {
            format!("the NVIDIA driver is not loaded: is the kernel module running? ({e})")
        }
        Raw::NoPermission => {
            format!("no permission to talk to the NVIDIA driver: check /dev/nvidia* ({e})")
        }
        _ => format!("NVML initialisation failed: {e}"),
    };
    NvmlError::Unavailable { reason }
}

/// `Ok(None)` where the card or driver lacks the field; `Err` otherwise.
pub(crate) fn optional<T>(r: Result<T, Raw>) -> Result<Option<T>, Raw> {
    match r {
        Ok(v) => Ok(Some(v)),
        // FunctionNotFound / FailedToLoadSymbol: the driver predates the
        // call (e.g. total energy before Volta-era drivers).
        Err(Raw::NotSupported | Raw::FunctionNotFound | Raw::FailedToLoadSymbol(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Fan 0, as nvidia-smi's `fan.speed`; fanless cards (passive datacentre
/// boards) report no fan 0 as an invalid argument, which means "no fan".
fn fan_speed(d: &Device<'_>) -> Result<Option<u32>, Raw> {
    match optional(d.fan_speed(0)) {
        Err(Raw::InvalidArg) => Ok(None),
        r => r,
    }
}

/// P0..P15 as 0..15, as the exporter's `nvidia_smi_pstate`; unknown is none.
pub(crate) fn pstate(p: PerformanceState) -> Option<u8> {
    use PerformanceState::*;
    Some(match p {
        Zero => 0,
        One => 1,
        Two => 2,
        Three => 3,
        Four => 4,
        Five => 5,
        Six => 6,
        Seven => 7,
        Eight => 8,
        Nine => 9,
        Ten => 10,
        Eleven => 11,
        Twelve => 12,
        Thirteen => 13,
        Fourteen => 14,
        Fifteen => 15,
        Unknown => return None,
    })
}
