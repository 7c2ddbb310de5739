use std::collections::BTreeSet;

use minetsdb::Labels;
use nvml_wrapper::enum_wrappers::device::PerformanceState;
use nvml_wrapper::error::NvmlError as Raw;

use super::convert::CLOCK_EVENT_REASONS;
use super::real::{optional, pstate, unavailable};
use super::*;
use crate::sim::{Rig, RigConfig, GPU_METRICS};

/// Samples of a fully supported reading: the simulator's 13 NVML series
/// and the 24 NVML-only ones.
const FULL: usize = 13 + NVML_METRICS.len();

/// Every series name of a full reading, in order.
fn full_names() -> Vec<String> {
    GPU_METRICS[..13]
        .iter()
        .chain(NVML_METRICS.iter())
        .map(|s| s.to_string())
        .collect()
}

fn names(r: &GpuReading) -> Vec<String> {
    samples(r, "rig1")
        .iter()
        .map(|(l, _)| l.metric_name().to_string())
        .collect()
}

fn value(r: &GpuReading, metric: &str) -> Option<f64> {
    samples(r, "rig1")
        .into_iter()
        .find(|(l, _)| l.metric_name() == metric)
        .map(|(_, v)| v)
}

fn parse(s: &str) -> f64 {
    s.parse().unwrap()
}

fn pairs(l: &Labels) -> Vec<(String, String)> {
    l.iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect()
}

fn base(metric: &str) -> Vec<(String, String)> {
    let mut v = vec![
        ("__name__", metric),
        ("instance", "rig1"),
        ("name", "NVIDIA GeForce RTX 3080"),
        ("uuid", "GPU-00000000-0000-0000-0000-000000000000"),
    ];
    v.sort();
    v.into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// Each field of a full reading: metric name, label set, and value bits
/// equal to the decimal the exporter would print.
#[test]
fn conversion_table() {
    let got = samples(&FakeGpus::full(0), "rig1");
    let want: [(&str, f64); FULL] = [
        ("nvidia_smi_gpu_info", 1.0),
        ("nvidia_smi_temperature_gpu", 61.0),
        ("nvidia_smi_fan_speed_ratio", parse("0.67")),
        ("nvidia_smi_power_draw_watts", parse("231.47")),
        ("nvidia_smi_enforced_power_limit_watts", 240.0),
        (
            "nvidia_smi_clocks_current_graphics_clock_hz",
            parse("1440000000"),
        ),
        (
            "nvidia_smi_clocks_current_memory_clock_hz",
            parse("9501000000"),
        ),
        ("nvidia_smi_utilization_gpu_ratio", 1.0),
        ("nvidia_smi_utilization_memory_ratio", parse("0.93")),
        ("nvidia_smi_memory_used_bytes", parse("5738856448")),
        ("nvidia_smi_memory_total_bytes", parse("10737418240")),
        ("nvidia_smi_pstate", 2.0),
        ("gpu_energy_joules_total", parse("123456789.012")),
        ("nvidia_smi_power_limit_watts", 240.0),
        ("nvidia_smi_power_default_limit_watts", 320.0),
        ("nvidia_smi_power_min_limit_watts", 100.0),
        ("nvidia_smi_power_max_limit_watts", 370.0),
        ("nvidia_smi_clocks_current_sm_clock_hz", parse("1440000000")),
        ("nvidia_smi_clocks_event_reasons_active", 4.0),
        ("nvidia_smi_clocks_event_reasons_supported", 511.0),
        ("nvidia_smi_clocks_event_reasons_gpu_idle", 0.0),
        (
            "nvidia_smi_clocks_event_reasons_applications_clocks_setting",
            0.0,
        ),
        ("nvidia_smi_clocks_event_reasons_sw_power_cap", 1.0),
        ("nvidia_smi_clocks_event_reasons_hw_slowdown", 0.0),
        ("nvidia_smi_clocks_event_reasons_sync_boost", 0.0),
        ("nvidia_smi_clocks_event_reasons_sw_thermal_slowdown", 0.0),
        ("nvidia_smi_clocks_event_reasons_hw_thermal_slowdown", 0.0),
        (
            "nvidia_smi_clocks_event_reasons_hw_power_brake_slowdown",
            0.0,
        ),
        ("nvidia_smi_pcie_link_gen_current", 1.0),
        ("nvidia_smi_pcie_link_gen_max", 4.0),
        ("nvidia_smi_pcie_link_width_current", 1.0),
        ("nvidia_smi_pcie_link_width_max", 16.0),
        ("nvidia_smi_ecc_mode_current", 1.0),
        ("nvidia_smi_ecc_errors_corrected_volatile_total", 3.0),
        ("nvidia_smi_ecc_errors_corrected_aggregate_total", 17.0),
        ("nvidia_smi_ecc_errors_uncorrected_volatile_total", 0.0),
        ("nvidia_smi_ecc_errors_uncorrected_aggregate_total", 1.0),
    ];
    assert_eq!(got.len(), want.len());
    for ((labels, v), (metric, w)) in got.iter().zip(want) {
        assert_eq!(labels.metric_name(), metric);
        assert_eq!(v.to_bits(), w.to_bits(), "{metric}: {v} != {w}");
        let mut expect = base(metric);
        if metric == "nvidia_smi_gpu_info" {
            expect.extend([
                ("index".into(), "0".into()),
                ("driver_version".into(), "535.129.03".into()),
                ("pci_bus_id".into(), "00000000:01:00.0".into()),
                ("vbios_version".into(), "94.02.42.00.A9".into()),
            ]);
            expect.sort();
        }
        assert_eq!(pairs(labels), expect, "{metric}");
    }
}

/// mW -> W and mJ -> J give the f64 of the 3-decimal string for every
/// value up to 1 kW, and % -> ratio that of the 2-decimal string; a
/// multiplication by 0.001 would not (9 mW: 9.0 * 0.001 is
/// 0.009000000000000001).
#[test]
fn decimal_scaling_is_exact() {
    assert_ne!(9.0 * 0.001, parse("0.009"));
    for mw in 0..=1_000_000u32 {
        let r = GpuReading {
            power_mw: Some(mw),
            ..FakeGpus::bare(0)
        };
        let s = samples(&r, "rig1");
        let want = parse(&format!("{}.{:03}", mw / 1000, mw % 1000));
        assert_eq!(s[1].1.to_bits(), want.to_bits(), "{mw} mW");
    }
    for pct in 0..=120u32 {
        let r = GpuReading {
            fan_speed_pct: Some(pct),
            utilization_gpu_pct: Some(pct),
            ..FakeGpus::bare(0)
        };
        let want = parse(&format!("{}.{:02}", pct / 100, pct % 100));
        for (_, v) in &samples(&r, "rig1")[1..] {
            assert_eq!(v.to_bits(), want.to_bits(), "{pct} %");
        }
    }
}

/// A card that supports no optional field yields its info series and
/// nothing else: no fake zeros.
#[test]
fn missing_fields_yield_no_sample() {
    let got = samples(&FakeGpus::bare(1), "rig1");
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].0.to_string(),
        r#"nvidia_smi_gpu_info{index="1", instance="rig1", name="NVIDIA GRID K520", uuid="GPU-00000000-0000-0000-0000-000000000001"}"#
    );
    assert_eq!(got[0].1, 1.0);

    // Each field alone removes exactly its own series.
    type Clear = fn(&mut GpuReading);
    let fields: [(Clear, &[&str]); 31] = [
        (|r| r.temperature_c = None, &["nvidia_smi_temperature_gpu"]),
        (|r| r.fan_speed_pct = None, &["nvidia_smi_fan_speed_ratio"]),
        (|r| r.power_mw = None, &["nvidia_smi_power_draw_watts"]),
        (
            |r| r.enforced_power_limit_mw = None,
            &["nvidia_smi_enforced_power_limit_watts"],
        ),
        (
            |r| r.graphics_clock_mhz = None,
            &["nvidia_smi_clocks_current_graphics_clock_hz"],
        ),
        (
            |r| r.memory_clock_mhz = None,
            &["nvidia_smi_clocks_current_memory_clock_hz"],
        ),
        (
            |r| r.utilization_gpu_pct = None,
            &["nvidia_smi_utilization_gpu_ratio"],
        ),
        (
            |r| r.utilization_memory_pct = None,
            &["nvidia_smi_utilization_memory_ratio"],
        ),
        (
            |r| r.memory_used_bytes = None,
            &["nvidia_smi_memory_used_bytes"],
        ),
        (
            |r| r.memory_total_bytes = None,
            &["nvidia_smi_memory_total_bytes"],
        ),
        (|r| r.pstate = None, &["nvidia_smi_pstate"]),
        (|r| r.energy_mj = None, &["gpu_energy_joules_total"]),
        (
            |r| r.power_limit_mw = None,
            &["nvidia_smi_power_limit_watts"],
        ),
        (
            |r| r.default_power_limit_mw = None,
            &["nvidia_smi_power_default_limit_watts"],
        ),
        (
            |r| r.min_power_limit_mw = None,
            &["nvidia_smi_power_min_limit_watts"],
        ),
        (
            |r| r.max_power_limit_mw = None,
            &["nvidia_smi_power_max_limit_watts"],
        ),
        (
            |r| r.sm_clock_mhz = None,
            &["nvidia_smi_clocks_current_sm_clock_hz"],
        ),
        // No active mask: no reason can be told, so no reason series.
        (
            |r| r.clock_event_reasons = None,
            &[
                "nvidia_smi_clocks_event_reasons_active",
                "nvidia_smi_clocks_event_reasons_gpu_idle",
                "nvidia_smi_clocks_event_reasons_applications_clocks_setting",
                "nvidia_smi_clocks_event_reasons_sw_power_cap",
                "nvidia_smi_clocks_event_reasons_hw_slowdown",
                "nvidia_smi_clocks_event_reasons_sync_boost",
                "nvidia_smi_clocks_event_reasons_sw_thermal_slowdown",
                "nvidia_smi_clocks_event_reasons_hw_thermal_slowdown",
                "nvidia_smi_clocks_event_reasons_hw_power_brake_slowdown",
            ],
        ),
        // Supported set unknown: every reason is still told.
        (
            |r| r.clock_event_reasons_supported = None,
            &["nvidia_smi_clocks_event_reasons_supported"],
        ),
        // Only the reasons outside the supported set go.
        (
            |r| r.clock_event_reasons_supported = Some(0x1ff & !0x01 & !0x80),
            &[
                "nvidia_smi_clocks_event_reasons_gpu_idle",
                "nvidia_smi_clocks_event_reasons_hw_power_brake_slowdown",
            ],
        ),
        (
            |r| r.pcie_link_gen_current = None,
            &["nvidia_smi_pcie_link_gen_current"],
        ),
        (
            |r| r.pcie_link_gen_max = None,
            &["nvidia_smi_pcie_link_gen_max"],
        ),
        (
            |r| r.pcie_link_width_current = None,
            &["nvidia_smi_pcie_link_width_current"],
        ),
        (
            |r| r.pcie_link_width_max = None,
            &["nvidia_smi_pcie_link_width_max"],
        ),
        (
            |r| r.ecc_mode_current = None,
            &["nvidia_smi_ecc_mode_current"],
        ),
        (
            |r| r.ecc_errors_corrected_volatile = None,
            &["nvidia_smi_ecc_errors_corrected_volatile_total"],
        ),
        (
            |r| r.ecc_errors_corrected_aggregate = None,
            &["nvidia_smi_ecc_errors_corrected_aggregate_total"],
        ),
        (
            |r| r.ecc_errors_uncorrected_volatile = None,
            &["nvidia_smi_ecc_errors_uncorrected_volatile_total"],
        ),
        (
            |r| r.ecc_errors_uncorrected_aggregate = None,
            &["nvidia_smi_ecc_errors_uncorrected_aggregate_total"],
        ),
        // A GeForce card: ECC not supported at all, no ECC series.
        (
            |r| {
                r.ecc_mode_current = None;
                r.ecc_errors_corrected_volatile = None;
                r.ecc_errors_corrected_aggregate = None;
                r.ecc_errors_uncorrected_volatile = None;
                r.ecc_errors_uncorrected_aggregate = None;
            },
            &[
                "nvidia_smi_ecc_mode_current",
                "nvidia_smi_ecc_errors_corrected_volatile_total",
                "nvidia_smi_ecc_errors_corrected_aggregate_total",
                "nvidia_smi_ecc_errors_uncorrected_volatile_total",
                "nvidia_smi_ecc_errors_uncorrected_aggregate_total",
            ],
        ),
        // ECC present but off: the mode says 0, no counts.
        (
            |r| {
                r.ecc_mode_current = Some(false);
                r.ecc_errors_corrected_volatile = None;
                r.ecc_errors_corrected_aggregate = None;
                r.ecc_errors_uncorrected_volatile = None;
                r.ecc_errors_uncorrected_aggregate = None;
            },
            &[
                "nvidia_smi_ecc_errors_corrected_volatile_total",
                "nvidia_smi_ecc_errors_corrected_aggregate_total",
                "nvidia_smi_ecc_errors_uncorrected_volatile_total",
                "nvidia_smi_ecc_errors_uncorrected_aggregate_total",
            ],
        ),
    ];
    let full = FakeGpus::full(0);
    assert_eq!(names(&full), full_names());
    for (clear, gone) in fields {
        let mut r = full.clone();
        clear(&mut r);
        let mut want = full_names();
        want.retain(|n| !gone.contains(&n.as_str()));
        assert_eq!(names(&r), want, "without {gone:?}");
    }
}

/// Each reason bit lights its own series and only it; bits of the mask
/// outside the table (display clock, reasons newer than the table) show in
/// `_active` alone.
#[test]
fn clock_event_reasons_map_bit_by_bit() {
    let reason_names: Vec<&str> = CLOCK_EVENT_REASONS.iter().map(|(_, n)| *n).collect();
    assert_eq!(reason_names, NVML_METRICS[7..15]);
    for (bit, name) in CLOCK_EVENT_REASONS {
        let r = GpuReading {
            clock_event_reasons: Some(bit),
            ..FakeGpus::full(0)
        };
        for (_, other) in CLOCK_EVENT_REASONS {
            let want = if other == name { 1.0 } else { 0.0 };
            assert_eq!(value(&r, other), Some(want), "bit {bit:#x}: {other}");
        }
    }
    let r = GpuReading {
        clock_event_reasons: Some(0x100 | 0x40),
        ..FakeGpus::full(0)
    };
    assert_eq!(
        value(&r, "nvidia_smi_clocks_event_reasons_active"),
        Some(320.0)
    );
    let lit: Vec<&str> = CLOCK_EVENT_REASONS
        .iter()
        .filter(|(_, n)| value(&r, n) == Some(1.0))
        .map(|(_, n)| *n)
        .collect();
    assert_eq!(lit, ["nvidia_smi_clocks_event_reasons_hw_thermal_slowdown"]);
}

/// Every series a reading can give has a type and help, and only those.
#[test]
fn every_series_has_metadata() {
    let md: Vec<String> = job::metadata().into_iter().map(|(n, _)| n).collect();
    assert_eq!(md, full_names());
    let md = job::metadata();
    let ecc = md
        .iter()
        .find(|(n, _)| n == "nvidia_smi_ecc_errors_corrected_volatile_total")
        .unwrap();
    assert_eq!(ecc.1.metric_type, minetsdb::MetricType::Counter);
}

/// The fake rig's third GPU fails; the first two are still read and the
/// error names the device.
#[test]
fn erroring_device_does_not_stop_the_others() {
    let got = collect(&FakeGpus::rig(), "rig1").unwrap();
    assert_eq!(got.samples.len(), FULL + 1);
    let uuids: BTreeSet<_> = got
        .samples
        .iter()
        .map(|(l, _)| l.get("uuid").unwrap().to_string())
        .collect();
    assert_eq!(uuids.len(), 2);
    assert_eq!(got.errors.len(), 1);
    assert_eq!(
        got.errors[0].to_string(),
        "GPU 2 (GPU-00000000-0000-0000-0000-000000000002): reading power usage: \
         the GPU has fallen off the bus or has otherwise become inaccessible"
    );

    // An error first does not stop the devices after it either.
    let src = FakeGpus::new(vec![
        Err(NvmlError::Device {
            index: 0,
            uuid: None,
            what: "uuid",
            reason: "Unknown".into(),
        }),
        Ok(FakeGpus::full(1)),
    ]);
    let got = collect(&src, "rig1").unwrap();
    assert_eq!(got.samples.len(), FULL);
    assert_eq!(got.errors[0].to_string(), "GPU 0: reading uuid: Unknown");
}

#[test]
fn nothing_readable_is_one_error() {
    let got = collect(&FakeGpus::unavailable("no driver"), "rig1");
    assert_eq!(
        got.unwrap_err().to_string(),
        "NVML unavailable: no driver".to_string()
    );
    let none = collect(&FakeGpus::scripted(Vec::new()), "rig1").unwrap();
    assert_eq!(none, Collected::default());
}

#[test]
fn fake_plays_its_script_then_repeats_the_last_scrape() {
    let src = FakeGpus::scripted(vec![
        Ok(vec![Ok(FakeGpus::full(0))]),
        Err(NvmlError::Query {
            what: "device count",
            reason: "Unknown".into(),
        }),
        Ok(vec![Ok(FakeGpus::bare(0))]),
    ]);
    assert_eq!(collect(&src, "r").unwrap().samples.len(), FULL);
    assert!(collect(&src, "r").is_err());
    assert_eq!(collect(&src, "r").unwrap().samples.len(), 1);
    assert_eq!(collect(&src, "r").unwrap().samples.len(), 1);
}

/// The NVML series of a GPU are exactly the simulator's for the same
/// identity: same names, same label sets, same order.
#[test]
fn names_and_labels_match_the_simulator() {
    let rig = Rig::new(RigConfig {
        gpus: 2,
        ..RigConfig::default()
    });
    let info = rig
        .series()
        .iter()
        .find(|l| l.metric_name() == "nvidia_smi_gpu_info")
        .unwrap();
    let get = |n: &str| info.get(n).unwrap().to_string();
    let reading = GpuReading {
        uuid: get("uuid"),
        name: get("name"),
        driver_version: Some(get("driver_version")),
        vbios_version: Some(get("vbios_version")),
        pci_bus_id: Some(get("pci_bus_id")),
        ..FakeGpus::full(0)
    };
    let index: u32 = get("index").parse().unwrap();
    let reading = GpuReading { index, ..reading };
    // The NVML-only series come after the simulator's; the shared ones
    // must be identical, info series and its index label included.
    let ours: Vec<Labels> = samples(&reading, &get("instance"))
        .into_iter()
        .map(|(l, _)| l)
        .filter(|l| GPU_METRICS.contains(&l.metric_name()))
        .collect();
    let sims: Vec<Labels> = rig
        .series()
        .iter()
        .filter(|l| l.get("uuid") == Some(&reading.uuid) && l.get("miner").is_none())
        .cloned()
        .collect();
    assert_eq!(ours, sims);
    // And the simulator's GPU metrics not from NVML are the miner's.
    for m in &GPU_METRICS[ours.len()..] {
        assert!(m.starts_with("miner_"), "{m}");
    }
}

#[test]
fn unsupported_fields_are_none_other_errors_fail() {
    assert_eq!(optional(Ok::<_, Raw>(5)).unwrap(), Some(5));
    assert_eq!(optional::<u32>(Err(Raw::NotSupported)).unwrap(), None);
    assert_eq!(optional::<u32>(Err(Raw::FunctionNotFound)).unwrap(), None);
    assert!(matches!(
        optional::<u32>(Err(Raw::GpuLost)),
        Err(Raw::GpuLost)
    ));
    assert_eq!(pstate(PerformanceState::Zero), Some(0));
    assert_eq!(pstate(PerformanceState::Two), Some(2));
    assert_eq!(pstate(PerformanceState::Fifteen), Some(15));
    assert_eq!(pstate(PerformanceState::Unknown), None);
}

#[test]
fn init_failures_are_unavailable_with_a_hint() {
    let hint = |e: Raw| match unavailable(e) {
        NvmlError::Unavailable { reason } => reason,
        other => panic!("{other:?}"),
    };
    assert!(hint(Raw::DriverNotLoaded).starts_with("the NVIDIA driver is not loaded"));
    assert!(hint(Raw::NoPermission).starts_with("no permission"));
    assert!(hint(Raw::Unknown).starts_with("NVML initialisation failed"));
}

/// A library that is not there: the same on every machine, GPU or not.
#[test]
fn missing_library_is_unavailable_not_a_panic() {
    let err = NvmlSource::with_library("/nonexistent/libnvidia-ml.so.1").unwrap_err();
    let NvmlError::Unavailable { reason } = &err else {
        panic!("{err:?}");
    };
    assert!(
        reason.starts_with("libnvidia-ml not found: is the NVIDIA driver installed?"),
        "{reason}"
    );
}

/// The real NVML of this machine: without a driver it must say
/// Unavailable; with one, every device reads or reports its own error.
#[test]
fn real_nvml_on_this_machine() {
    match NvmlSource::new() {
        Err(e) => {
            eprintln!("NvmlSource::new() on this machine: {e}");
            assert!(matches!(e, NvmlError::Unavailable { .. }), "{e:?}");
        }
        Ok(src) => {
            let got = collect(&src, "test").unwrap();
            eprintln!(
                "NvmlSource on this machine: {} samples, errors {:?}",
                got.samples.len(),
                got.errors
            );
        }
    }
}
