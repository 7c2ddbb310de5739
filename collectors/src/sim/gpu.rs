//! One simulated GPU: thermal state, counters, and what nvidia-smi and the
//! miner read from it at a scrape.

use super::model::GpuModel;
use super::rng::Rng;
use super::series::*;

/// What the miner process is doing, as the GPU sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Miner not running (crashed, or the rig is rebooting): idle, P8.
    Off,
    /// Miner running but without work (pool unreachable): DAG held, no hashing.
    NoJob,
    /// Miner just started and builds its DAG: busy, no hashes yet.
    Dag,
    /// Mining.
    Hashing,
}

/// Rig-wide inputs to one GPU step.
pub(crate) struct Step {
    pub t: i64,
    pub dt_ms: i64,
    pub room_c: f64,
    pub phase: Phase,
    /// Milliseconds of the elapsed interval spent hashing.
    pub hashing_ms: i64,
    pub dag_mib: f64,
    pub share_difficulty: f64,
}

/// Temperature time constant of a card with its cooler, ms.
const THERMAL_TAU_MS: f64 = 150_000.0;
/// Temperature at which the driver starts to pull clocks and power down.
const THROTTLE_C: f64 = 83.0;
const STALE_P: f64 = 0.012;
const REJECT_P: f64 = 0.0015;
const MIB: f64 = 1024.0 * 1024.0;

pub(crate) struct Gpu {
    pub(crate) model: &'static GpuModel,
    pub(crate) uuid: String,
    pub(crate) pci_bus_id: String,
    rng: Rng,
    /// Silicon lottery: this card's hashrate relative to its model's.
    hash_factor: f64,
    /// °C above room per watt while mining.
    r_mine: f64,
    fan_offset: f64,
    mem_overhead_mib: f64,
    pub(crate) limit_w: f64,
    temp_c: f64,
    power_w: f64,
    energy_mj: u64,
    /// Set by a reboot within the current interval: the counter restarts there.
    reboot_at: Option<i64>,
    accepted: u64,
    rejected: u64,
    stale: u64,
    started: bool,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn pct_ratio(pct: f64) -> f64 {
    pct.round().clamp(0.0, 100.0) / 100.0
}

impl Gpu {
    pub(crate) fn new(
        model: &'static GpuModel,
        uuid: String,
        pci_bus_id: String,
        mut rng: Rng,
        limit_w: f64,
    ) -> Gpu {
        let hash_factor = 1.0 + 0.015 * rng.normal().clamp(-2.0, 2.0);
        // About 70 °C at the default limit in a 27 °C room, ±8 % per card.
        let r_mine = 43.0 / model.default_power_limit_w * rng.range(0.92, 1.08);
        let fan_offset = rng.range(-5.0, 5.0);
        let mem_overhead_mib = 180.0 + rng.below(160) as f64;
        Gpu {
            model,
            uuid,
            pci_bus_id,
            rng,
            hash_factor,
            r_mine,
            fan_offset,
            mem_overhead_mib,
            limit_w,
            temp_c: 0.0,
            power_w: 0.0,
            energy_mj: 0,
            reboot_at: None,
            accepted: 0,
            rejected: 0,
            stale: 0,
            started: false,
        }
    }

    /// Mean hashrate of this card while hashing at its current limit.
    pub(crate) fn expected_hashrate(&self) -> f64 {
        let m = self.model;
        m.hashrate_at(m.mining_power_at_limit(self.limit_w)) * self.hash_factor
    }

    /// Counters as they are when a rig has been up `uptime_ms` and the miner
    /// running `miner_ms` before the first scrape.
    pub(crate) fn warm_start(&mut self, uptime_ms: i64, miner_ms: i64, difficulty: f64) {
        let p = self.model.mining_power_at_limit(self.limit_w);
        self.energy_mj = (p * uptime_ms as f64 * self.rng.range(0.97, 1.0)) as u64;
        let shares = self.expected_hashrate() * miner_ms as f64 / 1000.0 / difficulty;
        self.accepted = self.rng.poisson(shares * (1.0 - STALE_P - REJECT_P));
        self.stale = self.rng.poisson(shares * STALE_P);
        self.rejected = self.rng.poisson(shares * REJECT_P);
    }

    /// The miner process restarted: its share counters start from zero.
    pub(crate) fn reset_shares(&mut self) {
        self.accepted = 0;
        self.rejected = 0;
        self.stale = 0;
    }

    /// The rig rebooted at `t`: the driver's energy counter starts over.
    pub(crate) fn reboot(&mut self, t: i64) {
        self.reboot_at = Some(t);
    }

    /// Advance to `s.t` and write this GPU's readings, in `GPU_METRICS`
    /// order, into `out`. Returns the shares accepted in the interval.
    pub(crate) fn step(&mut self, s: &Step, out: &mut [f64]) -> u64 {
        let m = self.model;
        let d = m.default_power_limit_w;
        let mining_p = m.mining_power_at_limit(self.limit_w);
        let busy = matches!(s.phase, Phase::Hashing | Phase::Dag);
        let mut p_mean = match s.phase {
            Phase::Hashing => mining_p,
            Phase::Dag => 0.6 * mining_p,
            Phase::NoJob => 1.7 * m.idle_power_w,
            Phase::Off => m.idle_power_w,
        };
        // Fans slow down or stop when idle, so each idle watt heats more.
        let r = if busy { self.r_mine } else { 4.5 * self.r_mine };
        if busy && s.room_c + r * p_mean > THROTTLE_C {
            p_mean = ((THROTTLE_C - s.room_c) / r).max(m.idle_power_w);
        }
        let t_ss = s.room_c + r * p_mean;
        if self.started {
            let a = 1.0 - (-(s.dt_ms as f64) / THERMAL_TAU_MS).exp();
            self.temp_c += (t_ss - self.temp_c) * a;
        } else {
            self.temp_c = t_ss;
        }
        let temp = (self.temp_c + 0.35 * self.rng.normal()).round();

        // Readings scatter a few watts around the mean; rare spikes are cut
        // at 3.5 sigma so a reading never strays far past the limit.
        let power_sd = if busy { 1.2 + 0.006 * p_mean } else { 0.4 };
        let noise = power_sd * self.rng.normal().clamp(-3.5, 3.5);
        let power = round2((p_mean + noise).max(0.0));
        // W * ms = mJ. Trapezoid over the interval, or from the reboot on.
        if let Some(r) = self.reboot_at.take() {
            self.energy_mj = (power * (s.t - r).max(0) as f64).round() as u64;
        } else if self.started {
            self.energy_mj += ((self.power_w + power) / 2.0 * s.dt_ms as f64).round() as u64;
        }
        self.power_w = power;

        let hashrate = if s.phase == Phase::Hashing {
            let h = m.hashrate_at(p_mean) * self.hash_factor * (1.0 + 0.004 * self.rng.normal());
            (h * 10.0).round() / 10.0
        } else {
            0.0
        };

        let mut accepted_now = 0;
        if s.hashing_ms > 0 {
            let h = m.hashrate_at(p_mean) * self.hash_factor;
            let shares = h * s.hashing_ms as f64 / 1000.0 / s.share_difficulty;
            accepted_now = self.rng.poisson(shares * (1.0 - STALE_P - REJECT_P));
            self.accepted += accepted_now;
            self.stale += self.rng.poisson(shares * STALE_P);
            self.rejected += self.rng.poisson(shares * REJECT_P);
        }

        let (gclk_mhz, mclk_mhz, pstate) = match s.phase {
            Phase::Hashing | Phase::Dag => {
                let c = m.boost_clock_mhz * (0.62 + 0.38 * p_mean / d) + 6.0 * self.rng.normal();
                ((c / 15.0).round() * 15.0, m.memory_clock_mhz, 2.0)
            }
            Phase::NoJob => (420.0, m.memory_clock_mhz, 2.0),
            Phase::Off => (210.0, 405.0, 8.0),
        };

        let util_gpu = match s.phase {
            Phase::Hashing => {
                let u = self.rng.uniform();
                if u < 0.9 {
                    1.0
                } else if u < 0.98 {
                    0.99
                } else {
                    0.98
                }
            }
            Phase::Dag => 1.0,
            _ => 0.0,
        };
        let util_mem = match s.phase {
            Phase::Hashing => {
                let sat = (m.hashrate_at(p_mean) / m.hashrate_at_default).min(1.05);
                pct_ratio(100.0 * (0.5 + 0.42 * sat) + 1.2 * self.rng.normal())
            }
            Phase::Dag => pct_ratio(35.0 + 2.0 * self.rng.normal()),
            _ => 0.0,
        };

        let fan = if !busy && m.zero_rpm && temp < 50.0 {
            0.0
        } else {
            pct_ratio((35.0 + (temp - 50.0) * 1.9 + self.fan_offset).clamp(30.0, 100.0))
        };

        let mem_used_mib = match s.phase {
            Phase::Off => 1.0,
            _ => s.dag_mib + self.mem_overhead_mib,
        };

        out[INFO] = 1.0;
        out[TEMP] = temp;
        out[FAN] = fan;
        out[POWER] = power;
        out[LIMIT] = self.limit_w;
        out[GCLK] = gclk_mhz * 1e6;
        out[MCLK] = mclk_mhz * 1e6;
        out[UTIL_GPU] = util_gpu;
        out[UTIL_MEM] = util_mem;
        out[MEM_USED] = mem_used_mib * MIB;
        out[MEM_TOTAL] = m.memory_total_mib * MIB;
        out[PSTATE] = pstate;
        out[ENERGY] = self.energy_mj as f64 / 1000.0;
        out[HASHRATE] = hashrate;
        out[ACCEPTED] = self.accepted as f64;
        out[REJECTED] = self.rejected as f64;
        out[STALE] = self.stale as f64;
        self.started = true;
        accepted_now
    }
}
