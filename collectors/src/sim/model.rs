//! GPU models the simulator knows and the curves that tie hashrate, power and
//! temperature together.
//!
//! Hashrate is memory bound (Ethash-like), so it saturates as the power limit
//! rises: `H(p) = Hmax * (1 - exp(-(p - 0.35 D) / (0.2 D)))` for a card whose
//! default power limit is `D`. Hash per watt therefore peaks near `0.64 D`,
//! well below the default limit, which is why miners lower it.

/// One GPU model: its name as `nvidia-smi` prints it and how it mines.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GpuModel {
    /// Name as in `nvidia-smi --query-gpu=name`, e.g. `NVIDIA GeForce RTX 3080`.
    pub name: &'static str,
    /// Factory power limit, watts.
    pub default_power_limit_w: f64,
    /// Lowest power limit the driver accepts, watts.
    pub min_power_limit_w: f64,
    /// Highest power limit the driver accepts, watts.
    pub max_power_limit_w: f64,
    /// Hashrate at the default power limit, hashes per second.
    pub hashrate_at_default: f64,
    /// Power drawn when idle (P8), watts.
    pub idle_power_w: f64,
    /// Graphics clock under load at the default power limit, MHz.
    pub boost_clock_mhz: f64,
    /// Memory clock under load, MHz, as `nvidia-smi` reports it.
    pub memory_clock_mhz: f64,
    /// Total memory, MiB.
    pub memory_total_mib: f64,
    /// Fans stop when the card is idle and cool.
    pub zero_rpm: bool,
    /// VBIOS version string, for the info series.
    pub vbios: &'static str,
}

/// The models a simulated rig is assembled from.
pub const MODELS: &[GpuModel] = &[
    GpuModel {
        name: "NVIDIA GeForce RTX 3060 Ti",
        default_power_limit_w: 200.0,
        min_power_limit_w: 100.0,
        max_power_limit_w: 220.0,
        hashrate_at_default: 60.8e6,
        idle_power_w: 14.0,
        boost_clock_mhz: 1905.0,
        memory_clock_mhz: 7751.0,
        memory_total_mib: 8192.0,
        zero_rpm: true,
        vbios: "94.04.3A.00.3B",
    },
    GpuModel {
        name: "NVIDIA GeForce RTX 3070",
        default_power_limit_w: 220.0,
        min_power_limit_w: 100.0,
        max_power_limit_w: 240.0,
        hashrate_at_default: 61.9e6,
        idle_power_w: 16.0,
        boost_clock_mhz: 1920.0,
        memory_clock_mhz: 7751.0,
        memory_total_mib: 8192.0,
        zero_rpm: true,
        vbios: "94.04.25.00.1D",
    },
    GpuModel {
        name: "NVIDIA GeForce RTX 3080",
        default_power_limit_w: 320.0,
        min_power_limit_w: 100.0,
        max_power_limit_w: 370.0,
        hashrate_at_default: 97.3e6,
        idle_power_w: 22.0,
        boost_clock_mhz: 1875.0,
        memory_clock_mhz: 10251.0,
        memory_total_mib: 10240.0,
        zero_rpm: true,
        vbios: "94.02.26.08.1C",
    },
    GpuModel {
        name: "NVIDIA GeForce RTX 3090",
        default_power_limit_w: 350.0,
        min_power_limit_w: 100.0,
        max_power_limit_w: 390.0,
        hashrate_at_default: 119.6e6,
        idle_power_w: 27.0,
        boost_clock_mhz: 1860.0,
        memory_clock_mhz: 10251.0,
        memory_total_mib: 24576.0,
        zero_rpm: false,
        vbios: "94.02.42.00.A9",
    },
    GpuModel {
        name: "NVIDIA GeForce RTX 2080 Ti",
        default_power_limit_w: 250.0,
        min_power_limit_w: 100.0,
        max_power_limit_w: 320.0,
        hashrate_at_default: 54.7e6,
        idle_power_w: 18.0,
        boost_clock_mhz: 1815.0,
        memory_clock_mhz: 7500.0,
        memory_total_mib: 11264.0,
        zero_rpm: false,
        vbios: "90.02.30.00.04",
    },
    GpuModel {
        name: "NVIDIA GeForce GTX 1080 Ti",
        default_power_limit_w: 250.0,
        min_power_limit_w: 125.0,
        max_power_limit_w: 300.0,
        hashrate_at_default: 45.9e6,
        idle_power_w: 11.0,
        boost_clock_mhz: 1885.0,
        memory_clock_mhz: 5705.0,
        memory_total_mib: 11264.0,
        zero_rpm: false,
        vbios: "86.02.39.00.01",
    },
];

/// Shape of the hashrate curve, in units of the default power limit.
const KNEE: f64 = 0.35;
const SCALE: f64 = 0.2;
/// Unconstrained mining demand, relative to the default limit: at the
/// default limit the card is power limited, as mining cards are.
const DEMAND: f64 = 1.05;
/// Cards hover just under their enforced limit.
const UNDER_LIMIT: f64 = 0.99;

impl GpuModel {
    fn saturation(&self, power_w: f64) -> f64 {
        let d = self.default_power_limit_w;
        let x = (power_w - KNEE * d) / (SCALE * d);
        if x <= 0.0 {
            0.0
        } else {
            1.0 - (-x).exp()
        }
    }

    /// Mean hashrate (H/s) of a typical card of this model drawing `power_w`.
    pub fn hashrate_at(&self, power_w: f64) -> f64 {
        let at_default = self.saturation(UNDER_LIMIT * self.default_power_limit_w);
        self.hashrate_at_default * self.saturation(power_w) / at_default
    }

    /// Mean power (W) drawn while mining under power limit `limit_w`.
    pub fn mining_power_at_limit(&self, limit_w: f64) -> f64 {
        limit_w.min(DEMAND * self.default_power_limit_w) * UNDER_LIMIT
    }

    /// Hashes per joule while mining under power limit `limit_w`.
    pub fn efficiency_at_limit(&self, limit_w: f64) -> f64 {
        let p = self.mining_power_at_limit(limit_w);
        self.hashrate_at(p) / p
    }

    /// The power limits an owner tries on this card (whole watts).
    pub fn power_limit_settings(&self) -> [f64; 4] {
        [0.65, 0.75, 0.85, 1.0].map(|f| {
            (f * self.default_power_limit_w)
                .round()
                .clamp(self.min_power_limit_w, self.max_power_limit_w)
        })
    }
}
