//! The GPUs as a [`Source`]: NVML loaded on first use and kept loaded.

use minetsdb::{Metadata, MetricType, Sample};

use super::{collect, GpuSource, NvmlError};
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

/// Type and help of the GPU series, as nvidia_gpu_exporter describes them.
fn metadata() -> Vec<(String, Metadata)> {
    GPU_METRICS
        .iter()
        .filter_map(|&name| {
            let (metric_type, help) = match name {
                "nvidia_smi_gpu_info" => (MetricType::Gauge, "A metric with a constant '1' value labeled by gpu uuid, name, driver_version, vbios_version and pci_bus_id."),
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
