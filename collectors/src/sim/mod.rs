//! A deterministic simulated mining rig.
//!
//! [`Rig`] produces the series a real rig's collectors would: nvidia-smi
//! readings per GPU (names as in utkuozdemir/nvidia_gpu_exporter), the
//! miner's hashrate and share counters per GPU, and the pool account and coin
//! price per rig. The data is meant to look like a real rig's, not a sine:
//! values carry the precision the real tools print (integer °C, 2-decimal
//! watts and ratios, clocks in whole MHz, bytes in whole MiB), temperature
//! follows power with a lag and a daily room cycle, the owner changes power
//! limits every few days, the miner crashes, the network drops, the rig
//! reboots (resetting the energy counter), the pool pays out, and scrape
//! timestamps jitter by a few milliseconds.
//!
//! Everything is a function of [`RigConfig`] (its seed above all) and the
//! scrape times, so the same inputs give bit-identical output on every run.
//!
//! ```
//! use minetsdb_collectors::sim::{Rig, RigConfig};
//! let mut rig = Rig::new(RigConfig { gpus: 2, ..RigConfig::default() });
//! let day = 86_400_000;
//! let scrapes: Vec<_> = rig.backfill(1_700_000_000_000, 1_700_000_000_000 + day).collect();
//! assert_eq!(scrapes.len(), 1440);
//! assert_eq!(scrapes[0].samples.len(), rig.series().len());
//! ```

mod fill;
mod gpu;
mod model;
mod pool;
mod rng;
pub(crate) mod series;

use minetsdb::Labels;

pub use fill::backfill_into;
use gpu::{Gpu, Phase, Step};
pub use model::{GpuModel, MODELS};
use pool::Pool;
use rng::Rng;
pub use series::{GPU_METRICS, RIG_METRICS};

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// What to simulate. Start from [`RigConfig::default`] and change fields.
#[derive(Debug, Clone, PartialEq)]
pub struct RigConfig {
    /// Seed of every random choice: GPU models, UUIDs, noise, events.
    pub seed: u64,
    /// The `instance` label of every series, e.g. `rig1`.
    pub rig: String,
    /// Number of GPUs.
    pub gpus: usize,
    /// Nominal time between scrapes in [`Rig::backfill`], ms.
    pub scrape_interval_ms: i64,
    /// Standard deviation of the scrape-time jitter in [`Rig::backfill`], ms.
    pub jitter_ms: i64,
    /// How often the pool's values refresh, ms; they repeat in between.
    pub pool_interval_ms: i64,
    /// Coin mined, the `coin` label.
    pub coin: String,
    /// Pool name, the `pool` label.
    pub pool: String,
    /// Miner software, the `miner` label.
    pub miner: String,
    /// NVIDIA driver version, on `nvidia_smi_gpu_info`.
    pub driver_version: String,
    /// Pool share difficulty, hashes per share.
    pub share_difficulty: f64,
    /// Coin credited per accepted share, on average.
    pub coin_per_share: f64,
    /// Balance at which the pool pays out, coin units.
    pub payout_threshold: f64,
    /// Coin price at the first scrape, USD.
    pub price_usd: f64,
    /// Mean time between outages (miner crash, network loss, reboot), days.
    pub mean_days_between_outages: f64,
    /// Mean time between the owner's power-limit changes, days.
    pub mean_days_between_tuning: f64,
}

impl Default for RigConfig {
    fn default() -> Self {
        RigConfig {
            seed: 1,
            rig: "rig1".to_string(),
            gpus: 6,
            scrape_interval_ms: 60_000,
            jitter_ms: 5,
            pool_interval_ms: 600_000,
            coin: "ETC".to_string(),
            pool: "ethermine".to_string(),
            miner: "trex".to_string(),
            driver_version: "535.183.01".to_string(),
            // Ethermine's 4 GH shares; ETC pays about 4.3e-6 per such share.
            share_difficulty: 4.0e9,
            coin_per_share: 4.3e-6,
            payout_threshold: 0.1,
            price_usd: 24.5,
            mean_days_between_outages: 1.5,
            mean_days_between_tuning: 4.0,
        }
    }
}

/// One scrape: every series read at one timestamp, as a real collector
/// stamps a whole scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct Scrape {
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    /// One sample per series, in [`Rig::series`] order.
    pub samples: Vec<(Labels, f64)>,
}

/// Something that happened on the rig: the ground truth behind the data,
/// for tests, demo annotations and checking `report`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// When, ms since the epoch.
    pub t: i64,
    /// What.
    pub kind: EventKind,
}

/// Kinds of [`Event`].
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// The owner set GPU `gpu` (index in the rig) to a new power limit.
    PowerLimit {
        /// GPU index.
        gpu: usize,
        /// New limit, watts.
        watts: f64,
    },
    /// The miner crashed; share counters restart from zero.
    MinerCrash,
    /// The rig rebooted; share and energy counters restart from zero.
    Reboot,
    /// The miner (re)started and builds its DAG.
    MinerStart,
    /// The pool became unreachable; the miner idles with its DAG loaded.
    NetworkOutage,
    /// The pool is reachable again; hashing resumes.
    NetworkRestored,
    /// The pool paid out `amount` coins; the unpaid balance drops to zero.
    Payout {
        /// Coins paid.
        amount: f64,
    },
}

/// Room temperature: a daily cycle plus slow weather.
struct Room {
    rng: Rng,
    base_c: f64,
    amplitude_c: f64,
    phase_ms: f64,
    weather_c: f64,
}

const WEATHER_TAU_MS: f64 = 2.0 * DAY_MS as f64;
const WEATHER_SD_C: f64 = 1.2;

impl Room {
    fn new(mut rng: Rng) -> Room {
        let base_c = rng.range(25.0, 29.0);
        let amplitude_c = rng.range(1.5, 3.0);
        // Warmest around 15:00 local time, in a time zone from UTC-8 to UTC+9.
        let tz_h = rng.below(18) as f64 - 8.0;
        let phase_ms = (9.0 - tz_h) * HOUR_MS as f64;
        let weather_c = WEATHER_SD_C * rng.normal().clamp(-2.5, 2.5);
        Room {
            rng,
            base_c,
            amplitude_c,
            phase_ms,
            weather_c,
        }
    }

    fn at(&mut self, t: i64, dt_ms: i64) -> f64 {
        if dt_ms > 0 {
            let a = (-(dt_ms as f64) / WEATHER_TAU_MS).exp();
            self.weather_c =
                self.weather_c * a + WEATHER_SD_C * (1.0 - a * a).sqrt() * self.rng.normal();
            self.weather_c = self
                .weather_c
                .clamp(-2.5 * WEATHER_SD_C, 2.5 * WEATHER_SD_C);
        }
        let day_frac = (t as f64 - self.phase_ms).rem_euclid(DAY_MS as f64) / DAY_MS as f64;
        self.base_c + self.amplitude_c * (std::f64::consts::TAU * day_frac).sin() + self.weather_c
    }
}

/// Size of the DAG held in GPU memory at `t`, MiB: it grows by 8 MiB every
/// epoch (about 9 days).
fn dag_mib(t: i64) -> f64 {
    const EPOCH_MS: i64 = 777_600_000;
    const JAN_2024_MS: i64 = 1_704_067_200_000;
    2_900.0 + 8.0 * ((t - JAN_2024_MS).max(0) / EPOCH_MS) as f64
}

/// Scrape times of a backfill: a fixed offset from the interval grid plus
/// jitter, strictly increasing, within `[start, end)`.
struct ScrapeClock {
    nominal: i64,
    prev: i64,
    start: i64,
    end: i64,
    interval: i64,
    jitter: f64,
}

impl ScrapeClock {
    fn new(rig: &mut Rig, start: i64, end: i64) -> ScrapeClock {
        let interval = rig.cfg.scrape_interval_ms.max(1);
        // Scrapers run each target at a fixed phase within the interval.
        let offset = rig.jitter_rng.below((interval / 4).clamp(1, 1000) as u64) as i64;
        ScrapeClock {
            nominal: start.saturating_add(offset),
            prev: i64::MIN,
            start,
            end,
            interval,
            jitter: rig.cfg.jitter_ms.max(0) as f64,
        }
    }

    fn next(&mut self, rng: &mut Rng) -> Option<i64> {
        if self.nominal >= self.end {
            return None;
        }
        let j = (self.jitter * rng.normal().clamp(-4.0, 4.0)).round() as i64;
        let t = self
            .nominal
            .saturating_add(j)
            .max(self.start)
            .max(self.prev.saturating_add(1));
        self.nominal = self.nominal.saturating_add(self.interval);
        if t >= self.end {
            self.nominal = self.end;
            return None;
        }
        self.prev = t;
        Some(t)
    }
}

/// A simulated rig. See the [module docs](self).
pub struct Rig {
    cfg: RigConfig,
    series: Vec<Labels>,
    gpus: Vec<Gpu>,
    pool: Pool,
    room: Room,
    events_rng: Rng,
    jitter_rng: Rng,
    phase: Phase,
    /// End of the current phase unless it is `Hashing`.
    phase_until: i64,
    /// Start of the next outage, while hashing.
    next_outage: i64,
    next_tune: i64,
    last_t: Option<i64>,
    events: Vec<Event>,
    values: Vec<f64>,
}

// Streams of the seed, one per part of the model.
const STREAM_IDENTITY: u64 = 1;
const STREAM_EVENTS: u64 = 2;
const STREAM_JITTER: u64 = 3;
const STREAM_POOL: u64 = 4;
const STREAM_ROOM: u64 = 5;
const STREAM_GPU0: u64 = 1000;

impl Rig {
    /// A rig as `cfg` describes it; nothing is simulated until the first scrape.
    pub fn new(cfg: RigConfig) -> Rig {
        let mut id = Rng::stream(cfg.seed, STREAM_IDENTITY);
        // Rigs are built from one or two batches of cards plus strays.
        let primary = id.below(MODELS.len() as u64) as usize;
        let secondary = id.below(MODELS.len() as u64) as usize;
        let setting = id.below(4) as usize;
        let mut bus = 0u64;
        let mut gpus = Vec::with_capacity(cfg.gpus);
        let mut series = Vec::new();
        for i in 0..cfg.gpus {
            let u = id.uniform();
            let model = &MODELS[if u < 0.6 {
                primary
            } else if u < 0.9 {
                secondary
            } else {
                id.below(MODELS.len() as u64) as usize
            }];
            let (a, b) = (id.next_u64(), id.next_u64());
            let uuid = format!(
                "GPU-{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                a >> 32,
                (a >> 16) & 0xffff,
                a & 0xffff,
                b >> 48,
                b & 0xffff_ffff_ffff
            );
            bus += 1 + u64::from(id.chance(0.2));
            let pci_bus_id = format!("00000000:{bus:02X}:00.0");
            let limit = model.power_limit_settings()[if id.chance(0.8) {
                setting
            } else {
                id.below(4) as usize
            }];
            let gpu = Gpu::new(
                model,
                uuid,
                pci_bus_id,
                Rng::stream(cfg.seed, STREAM_GPU0 + i as u64),
                limit,
            );
            series.extend(series::gpu_series(&series::GpuIdentity {
                instance: &cfg.rig,
                index: u32::try_from(i).unwrap_or(u32::MAX),
                uuid: &gpu.uuid,
                name: model.name,
                miner: &cfg.miner,
                driver_version: &cfg.driver_version,
                vbios_version: model.vbios,
                pci_bus_id: &gpu.pci_bus_id,
            }));
            gpus.push(gpu);
        }
        series.extend(series::rig_series(&cfg.rig, &cfg.pool, &cfg.coin));
        Rig {
            series,
            gpus,
            pool: Pool::new(Rng::stream(cfg.seed, STREAM_POOL)),
            room: Room::new(Rng::stream(cfg.seed, STREAM_ROOM)),
            events_rng: Rng::stream(cfg.seed, STREAM_EVENTS),
            jitter_rng: Rng::stream(cfg.seed, STREAM_JITTER),
            phase: Phase::Hashing,
            phase_until: 0,
            next_outage: 0,
            next_tune: 0,
            last_t: None,
            events: Vec::new(),
            values: Vec::new(),
            cfg,
        }
    }

    /// The configuration this rig was built from.
    pub fn config(&self) -> &RigConfig {
        &self.cfg
    }

    /// Every series, in scrape order: [`GPU_METRICS`] for GPU 0, for GPU 1,
    /// ..., then [`RIG_METRICS`]. Built once; scrapes clone them.
    pub fn series(&self) -> &[Labels] {
        &self.series
    }

    /// The model of each GPU, in rig order.
    pub fn gpu_models(&self) -> impl Iterator<Item = &'static GpuModel> + '_ {
        self.gpus.iter().map(|g| g.model)
    }

    /// What happened so far, oldest first.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Advance the model to `t` (ms since the epoch) and read every series.
    /// A `t` earlier than the previous scrape reads the state again without
    /// moving time back.
    pub fn scrape(&mut self, t: i64) -> Scrape {
        self.advance(t);
        let samples = self
            .series
            .iter()
            .cloned()
            .zip(self.values.iter().copied())
            .collect();
        Scrape { t, samples }
    }

    /// Like [`Rig::scrape`], but only the values, in [`Rig::series`] order,
    /// into `out` (cleared first): the allocation-free path for benchmarks.
    pub fn scrape_values(&mut self, t: i64, out: &mut Vec<f64>) {
        self.advance(t);
        out.clear();
        out.extend_from_slice(&self.values);
    }

    /// Scrapes every `scrape_interval_ms` from `start_ms` (inclusive) to
    /// `end_ms` (exclusive), at a fixed sub-second offset from the grid plus
    /// a few ms of jitter, as a real scraper's timestamps are. Times are
    /// strictly increasing and within the range.
    ///
    /// Each [`Scrape`] clones every series' [`Labels`]; for bulk generation
    /// where that dominates, [`Rig::backfill_with`] yields the same data
    /// without the clones.
    pub fn backfill(&mut self, start_ms: i64, end_ms: i64) -> impl Iterator<Item = Scrape> + '_ {
        let mut clock = ScrapeClock::new(self, start_ms, end_ms);
        std::iter::from_fn(move || {
            let t = clock.next(&mut self.jitter_rng)?;
            Some(self.scrape(t))
        })
    }

    /// The scrapes of [`Rig::backfill`] (same times, same values), passed to
    /// `f` as a timestamp and the values in [`Rig::series`] order, without
    /// cloning labels.
    pub fn backfill_with(&mut self, start_ms: i64, end_ms: i64, mut f: impl FnMut(i64, &[f64])) {
        let mut clock = ScrapeClock::new(self, start_ms, end_ms);
        while let Some(t) = clock.next(&mut self.jitter_rng) {
            self.advance(t);
            f(t, &self.values);
        }
    }

    fn outage_gap(&mut self) -> i64 {
        let mean = self.cfg.mean_days_between_outages.max(0.01) * DAY_MS as f64;
        self.events_rng.exponential(mean) as i64 + 60_000
    }

    fn tune_gap(&mut self) -> i64 {
        let mean = self.cfg.mean_days_between_tuning.max(0.01) * DAY_MS as f64;
        (self.events_rng.exponential(mean) as i64).max(6 * HOUR_MS)
    }

    fn start(&mut self, t: i64) {
        let uptime = self.events_rng.range(0.5, 12.0) * DAY_MS as f64;
        let miner = uptime.min(self.events_rng.range(0.1, 3.0) * DAY_MS as f64);
        let expected: f64 = self.gpus.iter().map(Gpu::expected_hashrate).sum();
        for g in &mut self.gpus {
            g.warm_start(uptime as i64, miner as i64, self.cfg.share_difficulty);
        }
        self.pool.warm_start(t, &self.cfg, expected);
        self.next_outage = t + self.outage_gap();
        self.next_tune = t + self.tune_gap();
    }

    fn tune(&mut self, t: i64) {
        self.next_tune = t + self.tune_gap();
        // The same draws whatever the number of GPUs, so that the rig's
        // event sequence does not depend on it.
        let setting = self.events_rng.below(4) as usize;
        // Usually the owner applies one profile to the whole rig; sometimes
        // they tweak a single card.
        let one = if self.events_rng.chance(0.3) {
            Some(self.events_rng.below(self.gpus.len() as u64) as usize)
        } else {
            None
        };
        for (i, g) in self.gpus.iter_mut().enumerate() {
            if one.is_some_and(|o| o != i) {
                continue;
            }
            let watts = g.model.power_limit_settings()[setting];
            if watts != g.limit_w {
                g.limit_w = watts;
                self.events.push(Event {
                    t,
                    kind: EventKind::PowerLimit { gpu: i, watts },
                });
            }
        }
    }

    fn transition(&mut self, t: i64) {
        let r = &mut self.events_rng;
        let kind = match self.phase {
            Phase::Hashing => {
                let u = r.uniform();
                if u < 0.45 {
                    self.phase = Phase::Off;
                    self.phase_until = t + r.range(20_000.0, 150_000.0) as i64;
                    for g in &mut self.gpus {
                        g.reset_shares();
                    }
                    EventKind::MinerCrash
                } else if u < 0.75 {
                    self.phase = Phase::NoJob;
                    self.phase_until = t + 300_000 + r.exponential(2_400_000.0) as i64;
                    EventKind::NetworkOutage
                } else {
                    // Mostly a quick reboot; now and then a power cut.
                    let down = if r.chance(0.1) {
                        r.range(1_800_000.0, 14_400_000.0)
                    } else {
                        90_000.0 + r.exponential(180_000.0)
                    };
                    self.phase = Phase::Off;
                    self.phase_until = t + down as i64;
                    for g in &mut self.gpus {
                        g.reset_shares();
                        g.reboot(t);
                    }
                    EventKind::Reboot
                }
            }
            Phase::Off => {
                self.phase = Phase::Dag;
                self.phase_until = t + r.range(25_000.0, 45_000.0) as i64;
                EventKind::MinerStart
            }
            Phase::NoJob | Phase::Dag => {
                let restored = self.phase == Phase::NoJob;
                self.phase = Phase::Hashing;
                self.next_outage = t + self.outage_gap();
                if !restored {
                    return;
                }
                EventKind::NetworkRestored
            }
        };
        self.events.push(Event { t, kind });
    }

    fn advance(&mut self, t: i64) {
        let last = match self.last_t {
            Some(l) => l,
            None => {
                self.start(t);
                t
            }
        };
        let t = t.max(last);
        let dt = t - last;

        // Replay the events of (last, t] in order, counting hashing time.
        let mut cursor = last;
        let mut hashing_ms = 0;
        loop {
            let phase_end = if self.phase == Phase::Hashing {
                self.next_outage
            } else {
                self.phase_until
            };
            let te = phase_end.min(self.next_tune);
            if te > t {
                break;
            }
            if self.phase == Phase::Hashing {
                hashing_ms += te - cursor;
            }
            cursor = te;
            if te == self.next_tune {
                self.tune(te);
            } else {
                self.transition(te);
            }
        }
        if self.phase == Phase::Hashing {
            hashing_ms += t - cursor;
        }

        let step = Step {
            t,
            dt_ms: dt,
            room_c: self.room.at(t, dt),
            phase: self.phase,
            hashing_ms,
            dag_mib: dag_mib(t),
            share_difficulty: self.cfg.share_difficulty,
        };
        let per_gpu = GPU_METRICS.len();
        self.values.resize(self.series.len(), 0.0);
        let mut accepted = 0;
        let mut reported = 0.0;
        for (g, out) in self
            .gpus
            .iter_mut()
            .zip(self.values.chunks_exact_mut(per_gpu))
        {
            accepted += g.step(&step, out);
            reported += out[series::HASHRATE];
        }
        let pool = self
            .pool
            .on_scrape(t, accepted, reported, &self.cfg, &mut self.events);
        let n = self.values.len();
        self.values[n - RIG_METRICS.len()..].copy_from_slice(pool);
        self.last_t = Some(t);
    }
}
