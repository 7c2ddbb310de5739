//! Scripted GPUs for tests and the demo.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::{GpuReading, GpuSource, NvmlError};

type Scrape = Result<Vec<Result<GpuReading, NvmlError>>, NvmlError>;

/// A [`GpuSource`] that plays scripted scrapes: the first call to
/// [`devices`](GpuSource::devices) returns the first, and so on; the last
/// one repeats.
#[derive(Debug)]
pub struct FakeGpus {
    script: Vec<Scrape>,
    next: AtomicUsize,
}

impl FakeGpus {
    /// Every scrape returns `devices`.
    pub fn new(devices: Vec<Result<GpuReading, NvmlError>>) -> FakeGpus {
        FakeGpus::scripted(vec![Ok(devices)])
    }

    /// Successive scrapes return successive entries of `script`; an empty
    /// script means a machine with no GPU.
    pub fn scripted(script: Vec<Scrape>) -> FakeGpus {
        FakeGpus {
            script,
            next: AtomicUsize::new(0),
        }
    }

    /// A machine where NVML cannot be loaded.
    pub fn unavailable(reason: &str) -> FakeGpus {
        FakeGpus::scripted(vec![Err(NvmlError::Unavailable {
            reason: reason.to_string(),
        })])
    }

    /// A three-GPU rig: [`FakeGpus::full`] at index 0, [`FakeGpus::bare`] at
    /// index 1, and index 2 fallen off the bus (a [`NvmlError::Device`]).
    pub fn rig() -> FakeGpus {
        FakeGpus::new(vec![
            Ok(FakeGpus::full(0)),
            Ok(FakeGpus::bare(1)),
            Err(NvmlError::Device {
                index: 2,
                uuid: Some("GPU-00000000-0000-0000-0000-000000000002".to_string()),
                what: "power usage",
                reason: "the GPU has fallen off the bus or has otherwise become inaccessible"
                    .to_string(),
            }),
        ])
    }

    /// A mining RTX 3080 at `index` where every field is supported.
    pub fn full(index: u32) -> GpuReading {
        GpuReading {
            index,
            uuid: format!("GPU-00000000-0000-0000-0000-{index:012}"),
            name: "NVIDIA GeForce RTX 3080".to_string(),
            driver_version: Some("535.129.03".to_string()),
            vbios_version: Some("94.02.42.00.A9".to_string()),
            pci_bus_id: Some(format!("00000000:{:02X}:00.0", index + 1)),
            temperature_c: Some(61),
            power_mw: Some(231_470),
            enforced_power_limit_mw: Some(240_000),
            power_limit_mw: Some(240_000),
            default_power_limit_mw: Some(320_000),
            min_power_limit_mw: Some(100_000),
            max_power_limit_mw: Some(370_000),
            fan_speed_pct: Some(67),
            graphics_clock_mhz: Some(1_440),
            memory_clock_mhz: Some(9_501),
            sm_clock_mhz: Some(1_440),
            // Held by the software power cap (0x4), as a power-limited
            // mining card is; every reason of the table is supported.
            clock_event_reasons: Some(0x4),
            clock_event_reasons_supported: Some(0x1ff),
            // A riser: PCIe gen 1 x1 in a gen 4 x16 card.
            pcie_link_gen_current: Some(1),
            pcie_link_gen_max: Some(4),
            pcie_link_width_current: Some(1),
            pcie_link_width_max: Some(16),
            utilization_gpu_pct: Some(100),
            utilization_memory_pct: Some(93),
            memory_used_bytes: Some(5_473 * 1024 * 1024),
            memory_total_bytes: Some(10_240 * 1024 * 1024),
            pstate: Some(2),
            energy_mj: Some(123_456_789_012),
            // GeForce cards have no ECC; the fake plays a card that has,
            // so that every field of the reading is exercised.
            ecc_mode_current: Some(true),
            ecc_errors_corrected_volatile: Some(3),
            ecc_errors_corrected_aggregate: Some(17),
            ecc_errors_uncorrected_volatile: Some(0),
            ecc_errors_uncorrected_aggregate: Some(1),
        }
    }

    /// A device at `index` that supports none of the optional fields (an
    /// old or virtual card).
    pub fn bare(index: u32) -> GpuReading {
        GpuReading {
            index,
            uuid: format!("GPU-00000000-0000-0000-0000-{index:012}"),
            name: "NVIDIA GRID K520".to_string(),
            ..GpuReading::default()
        }
    }
}

impl GpuSource for FakeGpus {
    fn devices(&self) -> Result<Vec<Result<GpuReading, NvmlError>>, NvmlError> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        match self.script.get(i).or(self.script.last()) {
            Some(scrape) => scrape.clone(),
            None => Ok(Vec::new()),
        }
    }
}
