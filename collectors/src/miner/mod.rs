//! Mining software's local APIs: T-Rex, lolMiner, GMiner, XMRig over HTTP
//! JSON, and TeamRedMiner (or any cgminer-API miner) over TCP.
//!
//! Each API has a file with its serde types and a pure conversion to a
//! [`MinerStats`]; [`MinerStats::samples`] gives the same series for all,
//! and [`MinerSource`] is the [`Source`].
//!
//! # Series
//! Per GPU, under the simulator's names so `report` and dashboards work on
//! real data:
//! `miner_hashrate_hashes_per_second`, `miner_shares_accepted_total`,
//! `miner_shares_rejected_total`, `miner_shares_stale_total` (and
//! `miner_shares_invalid_total` where the miner counts them apart), plus
//! the miner's own readings where it reports them: `miner_power_watts`,
//! `miner_temperature_celsius`, `miner_memory_temperature_celsius`,
//! `miner_fan_speed_ratio`. Rig totals: `miner_rig_hashrate_hashes_per_second`,
//! `miner_rig_shares_{accepted,rejected,stale,invalid}_total`,
//! `miner_uptime_seconds` (XMRig, mostly a CPU miner, gives only these).
//!
//! Labels: `instance` (the rig, as on the NVML series), `miner` (the job
//! name; default the kind, `trex` for T-Rex as in the simulator), `gpu`
//! (the miner's device index), and to join with the GPU series:
//! - `uuid` where the miner reports it (T-Rex): the NVML series carry the
//!   same `uuid`, so `miner_hashrate_hashes_per_second / on(instance, uuid)
//!   nvidia_smi_power_draw_watts` is hashes per joule;
//! - `pci_bus_id` where it reports a PCI address (T-Rex, GMiner, lolMiner),
//!   normalised to nvidia-smi's form `00000000:01:00.0` (8 hex digits of
//!   domain, bus, device, function; upper case), the `pci_bus_id` label of
//!   `nvidia_smi_gpu_info`. Then
//!   `miner_hashrate_hashes_per_second * on(instance, pci_bus_id)
//!   group_left(uuid, name) nvidia_smi_gpu_info` gives each miner series
//!   the GPU's `uuid` and `name`.
//!
//! The GPU's `name` is not put on miner series: miners spell it their own
//! way ("GeForce RTX 3070" against NVML's "NVIDIA GeForce RTX 3070"), and a
//! second spelling would break joins on it; take it from
//! `nvidia_smi_gpu_info` as above.

pub mod cgminer;
pub mod gminer;
pub mod lolminer;
pub mod trex;
pub mod xmrig;

use std::time::Duration;

use minetsdb::{Labels, Metadata, Sample};

use crate::api::{self, ApiError, Samples};
use crate::config::{MinerJob, MinerKind};
use crate::http::{HttpClient, HttpOptions};
use crate::source::{Collection, Source, Unavailable};

/// One GPU as the miner reports it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GpuStats {
    /// The miner's device index.
    pub index: Option<u32>,
    /// NVIDIA's GPU UUID (`GPU-...`), when reported.
    pub uuid: Option<String>,
    /// PCI address in nvidia-smi's form, when reported.
    pub pci_bus_id: Option<String>,
    /// Hashes per second.
    pub hashrate_hs: Option<f64>,
    /// Accepted shares since the miner started.
    pub accepted: Option<f64>,
    /// Rejected shares since the miner started.
    pub rejected: Option<f64>,
    /// Stale shares since the miner started.
    pub stale: Option<f64>,
    /// Invalid (hardware error) shares since the miner started.
    pub invalid: Option<f64>,
    /// Board power the miner reads, watts.
    pub power_w: Option<f64>,
    /// GPU temperature, °C.
    pub temperature_c: Option<f64>,
    /// Memory temperature, °C.
    pub memory_temperature_c: Option<f64>,
    /// Fan speed, 0..=1.
    pub fan_ratio: Option<f64>,
}

/// What a miner reports, in SI units.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MinerStats {
    /// Per GPU.
    pub gpus: Vec<GpuStats>,
    /// Rig total, hashes per second.
    pub hashrate_hs: Option<f64>,
    /// Rig total accepted shares.
    pub accepted: Option<f64>,
    /// Rig total rejected shares.
    pub rejected: Option<f64>,
    /// Rig total stale shares.
    pub stale: Option<f64>,
    /// Rig total invalid shares.
    pub invalid: Option<f64>,
    /// Seconds since the miner started.
    pub uptime_s: Option<f64>,
}

/// `(metric, counter?, unit, help)` of every miner series: per GPU first.
const METRICS: [(&str, bool, &str, &str); 15] = [
    (
        "miner_hashrate_hashes_per_second",
        false,
        "hashes_per_second",
        "Hashrate of a GPU, as the miner reports it.",
    ),
    (
        "miner_shares_accepted_total",
        true,
        "",
        "Shares of a GPU the pool accepted, since the miner started.",
    ),
    (
        "miner_shares_rejected_total",
        true,
        "",
        "Shares of a GPU the pool rejected, since the miner started.",
    ),
    (
        "miner_shares_stale_total",
        true,
        "",
        "Stale shares of a GPU, since the miner started.",
    ),
    (
        "miner_shares_invalid_total",
        true,
        "",
        "Invalid shares (hardware errors) of a GPU, since the miner started.",
    ),
    (
        "miner_power_watts",
        false,
        "watts",
        "Board power of a GPU as the miner reads it.",
    ),
    (
        "miner_temperature_celsius",
        false,
        "celsius",
        "GPU temperature as the miner reads it.",
    ),
    (
        "miner_memory_temperature_celsius",
        false,
        "celsius",
        "GPU memory temperature as the miner reads it.",
    ),
    (
        "miner_fan_speed_ratio",
        false,
        "ratio",
        "Fan speed of a GPU as the miner reads it, 0 to 1.",
    ),
    (
        "miner_rig_hashrate_hashes_per_second",
        false,
        "hashes_per_second",
        "Total hashrate of the miner.",
    ),
    (
        "miner_rig_shares_accepted_total",
        true,
        "",
        "Accepted shares of the miner, since it started.",
    ),
    (
        "miner_rig_shares_rejected_total",
        true,
        "",
        "Rejected shares of the miner, since it started.",
    ),
    (
        "miner_rig_shares_stale_total",
        true,
        "",
        "Stale shares of the miner, since it started.",
    ),
    (
        "miner_rig_shares_invalid_total",
        true,
        "",
        "Invalid shares of the miner, since it started.",
    ),
    (
        "miner_uptime_seconds",
        false,
        "seconds",
        "Seconds since the miner started.",
    ),
];

impl MinerStats {
    /// The samples at `t`, labelled `instance`, `miner` and per GPU `gpu`,
    /// `uuid`, `pci_bus_id` (each where known); a figure the miner does
    /// not give yields no sample.
    pub fn samples(&self, t: i64, instance: &str, miner: &str) -> Vec<(Labels, Sample)> {
        let mut s = Samples::new(t, &[("instance", instance), ("miner", miner)]);
        for g in &self.gpus {
            let index = g.index.map(|i| i.to_string()).unwrap_or_default();
            let extra = [
                ("gpu", index.as_str()),
                ("uuid", g.uuid.as_deref().unwrap_or("")),
                ("pci_bus_id", g.pci_bus_id.as_deref().unwrap_or("")),
            ];
            let values = [
                g.hashrate_hs,
                g.accepted,
                g.rejected,
                g.stale,
                g.invalid,
                g.power_w,
                g.temperature_c,
                g.memory_temperature_c,
                g.fan_ratio,
            ];
            for ((m, ..), v) in METRICS.iter().zip(values) {
                s.push_opt(m, &extra, v);
            }
        }
        let rig = [
            self.hashrate_hs,
            self.accepted,
            self.rejected,
            self.stale,
            self.invalid,
            self.uptime_s,
        ];
        for ((m, ..), v) in METRICS[9..].iter().zip(rig) {
            s.push_opt(m, &[], v);
        }
        s.out
    }
}

/// Metadata of every miner series.
pub fn metadata() -> Vec<(String, Metadata)> {
    let mut s = Samples::new(0, &[]);
    for (m, counter, unit, help) in METRICS {
        s.describe(m, counter, unit, help);
    }
    s.metadata
}

/// A PCI address in nvidia-smi's form: `00000000:01:00.0`.
pub fn pci_bus_id(domain: u32, bus: u32, device: u32, function: u32) -> String {
    format!("{domain:08X}:{bus:02X}:{device:02X}.{function:X}")
}

/// Normalises a PCI address written `[domain:]bus:device[.function]`, its
/// numbers in hexadecimal (`0000:0a:00.0`, `01:00.0`, `1:0`), to
/// nvidia-smi's form. `None` if it is not one.
pub fn normalize_pci_hex(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.trim().split(':').collect();
    let (domain, bus, devfn) = match parts.as_slice() {
        [d, b, df] => (*d, *b, *df),
        [b, df] => ("0", *b, *df),
        _ => return None,
    };
    let (dev, func) = devfn.split_once('.').unwrap_or((devfn, "0"));
    let hex = |x: &str| u32::from_str_radix(x, 16).ok();
    let (domain, bus, dev, func) = (hex(domain)?, hex(bus)?, hex(dev)?, hex(func)?);
    (bus <= 0xFF && dev <= 0x1F && func <= 7).then(|| pci_bus_id(domain, bus, dev, func))
}

/// Hashes per second in one unit named like `H/s`, `kH/s`, `Mh/s`,
/// `G/s`, `Sol/s`, `MSol/s`; `None` for an unknown unit.
pub fn unit_factor(unit: &str) -> Option<f64> {
    let u = unit.trim();
    let u = u.strip_suffix("/s").unwrap_or(u);
    let u = u
        .strip_suffix("Sol")
        .or_else(|| u.strip_suffix("sol"))
        .or_else(|| u.strip_suffix(['H', 'h']))
        .unwrap_or(u);
    Some(match u {
        "" => 1.0,
        "k" | "K" => 1e3,
        "M" | "m" => 1e6,
        "G" | "g" => 1e9,
        "T" | "t" => 1e12,
        "P" | "p" => 1e15,
        _ => return None,
    })
}

/// A `[[miner]]` as a [`Source`].
#[derive(Debug)]
pub struct MinerSource {
    job: MinerJob,
    instance: String,
    client: HttpClient,
}

impl MinerSource {
    /// The job, reading for the rig `instance`.
    pub fn new(job: MinerJob, instance: impl Into<String>) -> MinerSource {
        let client = HttpClient::new(HttpOptions {
            deadline: Duration::from_millis(job.timeout_ms.max(1) as u64),
            max_body_bytes: 4 << 20,
            ..HttpOptions::default()
        });
        MinerSource {
            job,
            instance: instance.into(),
            client,
        }
    }

    /// Reads the miner once.
    pub fn read(&self) -> Result<MinerStats, ApiError> {
        let url = self.job.url.as_str();
        let get = |path: &str| -> Result<serde_json::Value, ApiError> {
            let url = format!("{url}{path}");
            let headers: Vec<(&str, String)> = self
                .job
                .token
                .as_ref()
                .map(|t| ("Authorization", format!("Bearer {t}")))
                .into_iter()
                .collect();
            let resp = self.client.get_with(&url, "application/json", &headers)?;
            api::parse(&url, &resp.body)
        };
        match self.job.kind {
            MinerKind::TRex => trex::from_value(&format!("{url}/summary"), &get("/summary")?),
            MinerKind::LolMiner => lolminer::from_value(&format!("{url}/"), &get("/")?),
            MinerKind::GMiner => gminer::from_value(&format!("{url}/stat"), &get("/stat")?),
            MinerKind::XMRig => xmrig::from_value(&format!("{url}/2/summary"), &get("/2/summary")?),
            MinerKind::TeamRedMiner | MinerKind::Cgminer => {
                let deadline = Duration::from_millis(self.job.timeout_ms.max(1) as u64);
                cgminer::read(url, deadline)
            }
        }
    }
}

impl Source for MinerSource {
    fn name(&self) -> &str {
        &self.job.name
    }

    fn collect(&mut self, now_ms: i64) -> Result<Collection, Unavailable> {
        let mut out = Collection {
            metadata: metadata(),
            ..Collection::default()
        };
        let ok = match self.read() {
            Ok(stats) => {
                out.samples = stats.samples(now_ms, &self.instance, &self.job.name);
                true
            }
            Err(e) => {
                out.failures.push(format!("miner {:?}: {e}", self.job.name));
                false
            }
        };
        let (l, s, md) = api::up(&self.job.name, &self.job.url, now_ms, ok);
        out.samples.push((l, s));
        out.metadata.push(md);
        Ok(out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The value of `metric` for GPU `gpu` (or the rig, `None`).
    pub(crate) fn value(
        samples: &[(Labels, Sample)],
        metric: &str,
        gpu: Option<&str>,
    ) -> Option<f64> {
        let found: Vec<_> = samples
            .iter()
            .filter(|(l, _)| l.metric_name() == metric && l.get("gpu") == gpu)
            .collect();
        assert!(found.len() <= 1, "{metric}: {found:?}");
        found.first().map(|(_, s)| s.v)
    }

    /// The labels of `metric` for GPU `gpu`.
    pub(crate) fn labels<'a>(
        samples: &'a [(Labels, Sample)],
        metric: &str,
        gpu: &str,
    ) -> &'a Labels {
        &samples
            .iter()
            .find(|(l, _)| l.metric_name() == metric && l.get("gpu") == Some(gpu))
            .unwrap_or_else(|| panic!("{metric} gpu {gpu}"))
            .0
    }

    #[test]
    fn pci_forms() {
        assert_eq!(pci_bus_id(0, 1, 0, 0), "00000000:01:00.0");
        assert_eq!(
            normalize_pci_hex("0000:0a:00.0").as_deref(),
            Some("00000000:0A:00.0")
        );
        assert_eq!(
            normalize_pci_hex("01:00.0").as_deref(),
            Some("00000000:01:00.0")
        );
        assert_eq!(
            normalize_pci_hex("1:0").as_deref(),
            Some("00000000:01:00.0")
        );
        assert_eq!(
            normalize_pci_hex("00000000:C1:00.1").as_deref(),
            Some("00000000:C1:00.1")
        );
        for bad in ["", "1", "x:0", "1:2:3:4", "100:0", "1:0.9"] {
            assert_eq!(normalize_pci_hex(bad), None, "{bad}");
        }
    }

    #[test]
    fn units() {
        assert_eq!(unit_factor("H/s"), Some(1.0));
        assert_eq!(unit_factor("Mh/s"), Some(1e6));
        assert_eq!(unit_factor("MH/s"), Some(1e6));
        assert_eq!(unit_factor("G/s"), Some(1e9));
        assert_eq!(unit_factor("Sol/s"), Some(1.0));
        assert_eq!(unit_factor("kSol/s"), Some(1e3));
        assert_eq!(unit_factor("furlongs"), None);
    }

    #[test]
    fn labels_and_metadata() {
        let m = MinerStats {
            gpus: vec![GpuStats {
                index: Some(0),
                pci_bus_id: Some("00000000:01:00.0".into()),
                hashrate_hs: Some(1.0),
                ..GpuStats::default()
            }],
            uptime_s: Some(5.0),
            ..MinerStats::default()
        };
        let s = m.samples(3, "rig1", "trex");
        assert_eq!(s.len(), 2);
        let l = labels(&s, "miner_hashrate_hashes_per_second", "0");
        assert_eq!(l.get("pci_bus_id"), Some("00000000:01:00.0"));
        assert_eq!(l.get("uuid"), None);
        assert_eq!(
            (l.get("instance"), l.get("miner")),
            (Some("rig1"), Some("trex"))
        );
        assert_eq!(value(&s, "miner_uptime_seconds", None), Some(5.0));
        assert!(metadata()
            .iter()
            .all(|(n, _)| minetsdb::check_metric_name(n).is_ok()));
    }
}
