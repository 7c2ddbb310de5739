//! AMD GPUs read from the amdgpu driver's sysfs files, named in parallel
//! to the NVIDIA series.
//!
//! Every `card<N>` under `<sysfs>/class/drm` whose `device/uevent` says
//! `DRIVER=amdgpu` is a card; its files are under `card<N>/device` and its
//! hwmon directory `card<N>/device/hwmon/hwmon*`. Each series carries
//! `instance` (the rig), `card` (`card0`), `pci_bus_id` (`PCI_SLOT_NAME`
//! of the uevent, e.g. `0000:03:00.0`) and `name` (`device/product_name`,
//! where the card has one).
//!
//! | series | file | unit conversion |
//! |---|---|---|
//! | `amdgpu_gpu_info` (1, labels `vbios_version`) | `device/vbios_version` | |
//! | `amdgpu_power_draw_watts` | `hwmon/power1_average`, else `power1_input` | µW / 1e6 |
//! | `amdgpu_power_limit_watts` | `hwmon/power1_cap` | µW / 1e6 |
//! | `amdgpu_power_default_limit_watts` | `hwmon/power1_cap_default` | µW / 1e6 |
//! | `amdgpu_power_min_limit_watts` | `hwmon/power1_cap_min` | µW / 1e6 |
//! | `amdgpu_power_max_limit_watts` | `hwmon/power1_cap_max` | µW / 1e6 |
//! | `amdgpu_temperature_celsius{sensor}` | `hwmon/temp<N>_input`, `sensor` from `temp<N>_label` (`edge`, `junction`, `mem`) | m°C / 1000 |
//! | `amdgpu_fan_speed_rpm` | `hwmon/fan1_input` | |
//! | `amdgpu_fan_pwm_ratio` | `hwmon/pwm1` | / 255 |
//! | `amdgpu_clocks_current_sclk_hz` | the `*` line of `device/pp_dpm_sclk` | MHz * 1e6 |
//! | `amdgpu_clocks_current_mclk_hz` | the `*` line of `device/pp_dpm_mclk` | MHz * 1e6 |
//! | `amdgpu_memory_used_bytes` | `device/mem_info_vram_used` | |
//! | `amdgpu_memory_total_bytes` | `device/mem_info_vram_total` | |
//! | `amdgpu_utilization_gpu_ratio` | `device/gpu_busy_percent` | / 100 |
//! | `amdgpu_utilization_memory_ratio` | `device/mem_busy_percent` | / 100 |
//!
//! The NVIDIA counterparts: `nvidia_smi_power_draw_watts`,
//! `nvidia_smi_power_limit_watts`, `nvidia_smi_temperature_gpu` (edge),
//! `nvidia_smi_fan_speed_ratio` (pwm, not the same quantity: amdgpu reports
//! the duty cycle it drives, NVML the fan's target speed),
//! `nvidia_smi_clocks_current_graphics_clock_hz` (sclk),
//! `nvidia_smi_clocks_current_memory_clock_hz` (mclk),
//! `nvidia_smi_memory_used_bytes`, `nvidia_smi_utilization_gpu_ratio`.
//!
//! A file that is missing or cannot be read (older kernels, cards without a
//! fan, a card in runtime suspend) yields no sample, never a 0. A file that
//! reads but does not parse yields no sample and a warning naming it. A
//! card seen by an earlier collection that has gone is a failure; a machine
//! without any amdgpu card is [`Unavailable`](crate::source::Unavailable).
//!
//! ```
//! use minetsdb_collectors::amd::AmdJob;
//! use minetsdb_collectors::source::Source;
//! let mut job = AmdJob::new("rig1", "/nonexistent-sysfs");
//! assert!(job.collect(0).is_err()); // no amdgpu card there
//! ```

mod job;
mod sysfs;
#[cfg(test)]
mod tests;

pub use job::{AmdJob, AMD_JOB};
pub use sysfs::{cards, read_card, Card, CardReading};

use std::path::PathBuf;

/// What went wrong reading an amdgpu card.
#[derive(Debug, thiserror::Error)]
pub enum AmdError {
    /// `<sysfs>/class/drm` could not be listed.
    #[error("listing {}: {source}", path.display())]
    List {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file was read but its contents are not what the driver writes.
    #[error("{}: {what}: {text:?}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What was expected.
        what: &'static str,
        /// What it held (its first line, cut to 80 bytes).
        text: String,
    },
    /// A card seen before is gone, or went away while being read.
    #[error("amdgpu {card} ({pci_bus_id}) vanished: {reason}")]
    Vanished {
        /// `card<N>`.
        card: String,
        /// Its PCI slot, as last seen.
        pci_bus_id: String,
        /// What showed it.
        reason: String,
    },
}
