//! The GPUs as a [`Source`]: NVML loaded on first use and kept loaded.

use minetsdb::{Metadata, MetricType, Sample};

use super::{collect, GpuSource, NvmlError, NVML_METRICS};
use crate::sim::series::GPU_METRICS;
use crate::source::{Collection, Source, Unavailable};

/// The schedule's job name of the GPUs (config jobs may not take it).
pub const GPU_JOB: &str = "nvml";

/// Reads every GPU of a [`GpuSource`] opened by `open` on the first
/// collection; `instance` labels every series.
///
/// Opening fails with [`NvmlError::Unavailable`] on a machine without the
/// driver: that is [`Unavailable`], and the next collection tries again
/// (the `collect` loop does not call it again). Any other opening error is
/// a failure of that collection.
pub struct GpuJob<S, F> {
    instance: String,
    open: F,
    source: Option<S>,
}

impl<S, F> GpuJob<S, F>
where
    S: GpuSource,
    F: FnMut() -> Result<S, NvmlError>,
{
    /// A job reading the GPUs that `open` gives access to.
    pub fn new(instance: impl Into<String>, open: F) -> GpuJob<S, F> {
        GpuJob {
            instance: instance.into(),
            open,
            source: None,
        }
    }
}

impl<S, F> Source for GpuJob<S, F>
where
    S: GpuSource + Send,
    F: FnMut() -> Result<S, NvmlError> + Send,
{
    fn name(&self) -> &str {
        GPU_JOB
    }

    fn collect(&mut self, now_ms: i64) -> Result<Collection, Unavailable> {
        let mut out = Collection::default();
        if self.source.is_none() {
            match (self.open)() {
                Ok(s) => self.source = Some(s),
                Err(NvmlError::Unavailable { reason }) => {
                    return Err(Unavailable {
                        source_name: "GPUs not collected".into(),
                        reason: format!(
                            "NVML unavailable: {reason} (set enabled = false under [nvml] in the config on a rig without NVIDIA GPUs)"
                        ),
                    })
                }
                Err(e) => {
                    out.failures.push(e.to_string());
                    return Ok(out);
                }
            }
        }
        let Some(source) = &self.source else {
            return Ok(out);
        };
        match collect(source, &self.instance) {
            Ok(got) => {
                out.samples = got
                    .samples
                    .into_iter()
                    .map(|(l, v)| (l, Sample::new(now_ms, v)))
                    .collect();
                out.failures = got.errors.iter().map(ToString::to_string).collect();
                out.metadata = metadata();
            }
            Err(e) => out.failures.push(e.to_string()),
        }
        Ok(out)
    }
}

/// Type and help of the GPU series, as nvidia_gpu_exporter describes them
/// (its help is the nvidia-smi field; ours says what the field means).
pub(super) fn metadata() -> Vec<(String, Metadata)> {
    GPU_METRICS
        .iter()
        .chain(NVML_METRICS.iter())
        .filter_map(|&name| {
            let (metric_type, help) = match name {
                "nvidia_smi_gpu_info" => (MetricType::Gauge, "A metric with a constant '1' value labeled by gpu uuid, name, index, driver_version, vbios_version and pci_bus_id."),
                "nvidia_smi_temperature_gpu" => (MetricType::Gauge, "Core GPU temperature, in degrees C."),
                "nvidia_smi_fan_speed_ratio" => (MetricType::Gauge, "Fan speed as a ratio of the fan's maximum (may exceed 1)."),
                "nvidia_smi_power_draw_watts" => (MetricType::Gauge, "Last measured power draw for the entire board, in watts."),
                "nvidia_smi_enforced_power_limit_watts" => (MetricType::Gauge, "The power management algorithm's power ceiling, in watts."),
                "nvidia_smi_clocks_current_graphics_clock_hz" => (MetricType::Gauge, "Current frequency of the graphics clock, in Hz."),
                "nvidia_smi_clocks_current_memory_clock_hz" => (MetricType::Gauge, "Current frequency of the memory clock, in Hz."),
                "nvidia_smi_utilization_gpu_ratio" => (MetricType::Gauge, "Fraction of the past sample period during which a kernel was executing on the GPU."),
                "nvidia_smi_utilization_memory_ratio" => (MetricType::Gauge, "Fraction of the past sample period during which device memory was being read or written."),
                "nvidia_smi_memory_used_bytes" => (MetricType::Gauge, "Total memory allocated by active contexts, in bytes."),
                "nvidia_smi_memory_total_bytes" => (MetricType::Gauge, "Total installed GPU memory, in bytes."),
                "nvidia_smi_pstate" => (MetricType::Gauge, "The current performance state of the GPU, 0 (maximum) to 15 (minimum)."),
                "gpu_energy_joules_total" => (MetricType::Counter, "Energy used by the GPU since the driver was loaded, in joules."),
                "nvidia_smi_power_limit_watts" => (MetricType::Gauge, "power.limit: the power management limit set on the card, in watts."),
                "nvidia_smi_power_default_limit_watts" => (MetricType::Gauge, "power.default_limit: the power management limit the card boots with, in watts."),
                "nvidia_smi_power_min_limit_watts" => (MetricType::Gauge, "power.min_limit: the lowest power management limit the card accepts, in watts."),
                "nvidia_smi_power_max_limit_watts" => (MetricType::Gauge, "power.max_limit: the highest power management limit the card accepts, in watts."),
                "nvidia_smi_clocks_current_sm_clock_hz" => (MetricType::Gauge, "clocks.current.sm: current frequency of the SM (streaming multiprocessor) clock, in Hz."),
                "nvidia_smi_clocks_event_reasons_active" => (MetricType::Gauge, "clocks_event_reasons.active: bitmask of the reasons the clocks are held down now."),
                "nvidia_smi_clocks_event_reasons_supported" => (MetricType::Gauge, "clocks_event_reasons.supported: bitmask of the reasons this card can report."),
                "nvidia_smi_clocks_event_reasons_gpu_idle" => (MetricType::Gauge, "clocks_event_reasons.gpu_idle: 1 when nothing runs on the GPU and clocks are idle."),
                "nvidia_smi_clocks_event_reasons_applications_clocks_setting" => (MetricType::Gauge, "clocks_event_reasons.applications_clocks_setting: 1 when clocks are held by the applications clocks setting."),
                "nvidia_smi_clocks_event_reasons_sw_power_cap" => (MetricType::Gauge, "clocks_event_reasons.sw_power_cap: 1 when the power limit holds the clocks down."),
                "nvidia_smi_clocks_event_reasons_hw_slowdown" => (MetricType::Gauge, "clocks_event_reasons.hw_slowdown: 1 when hardware slowdown (heat, power brake) halves the clocks or more."),
                "nvidia_smi_clocks_event_reasons_sync_boost" => (MetricType::Gauge, "clocks_event_reasons.sync_boost: 1 when another GPU of the sync boost group holds the clocks down."),
                "nvidia_smi_clocks_event_reasons_sw_thermal_slowdown" => (MetricType::Gauge, "clocks_event_reasons.sw_thermal_slowdown: 1 when the GPU or memory is above its operating temperature."),
                "nvidia_smi_clocks_event_reasons_hw_thermal_slowdown" => (MetricType::Gauge, "clocks_event_reasons.hw_thermal_slowdown: 1 when the GPU is too hot and hardware halves the clocks or more."),
                "nvidia_smi_clocks_event_reasons_hw_power_brake_slowdown" => (MetricType::Gauge, "clocks_event_reasons.hw_power_brake_slowdown: 1 when an external power brake (the PSU) halves the clocks or more."),
                "nvidia_smi_pcie_link_gen_current" => (MetricType::Gauge, "pcie.link.gen.current: current PCIe link generation."),
                "nvidia_smi_pcie_link_gen_max" => (MetricType::Gauge, "pcie.link.gen.max: highest PCIe link generation of the card in this slot."),
                "nvidia_smi_pcie_link_width_current" => (MetricType::Gauge, "pcie.link.width.current: current PCIe link width, in lanes."),
                "nvidia_smi_pcie_link_width_max" => (MetricType::Gauge, "pcie.link.width.max: widest PCIe link of the card in this slot, in lanes."),
                "nvidia_smi_ecc_mode_current" => (MetricType::Gauge, "ecc.mode.current: 1 when ECC is on."),
                // Counters by nature; the exporter types these gauge, but
                // the type only informs readers, it changes no query.
                "nvidia_smi_ecc_errors_corrected_volatile_total" => (MetricType::Counter, "ecc.errors.corrected.volatile.total: corrected ECC errors since the driver was loaded."),
                "nvidia_smi_ecc_errors_corrected_aggregate_total" => (MetricType::Counter, "ecc.errors.corrected.aggregate.total: corrected ECC errors over the card's life."),
                "nvidia_smi_ecc_errors_uncorrected_volatile_total" => (MetricType::Counter, "ecc.errors.uncorrected.volatile.total: uncorrected ECC errors since the driver was loaded."),
                "nvidia_smi_ecc_errors_uncorrected_aggregate_total" => (MetricType::Counter, "ecc.errors.uncorrected.aggregate.total: uncorrected ECC errors over the card's life."),
                _ => return None,
            };
            Some((
                name.to_string(),
                Metadata {
                    metric_type,
                    unit: String::new(),
                    help: help.to_string(),
                },
            ))
        })
        .collect()
}
