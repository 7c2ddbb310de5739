//! Shared data for the benchmarks: realistic mining telemetry from the
//! simulated rig, as columns in memory, as exposition text, or written
//! into a real database.

use std::path::{Path, PathBuf};

use minetsdb::{Db, Labels, Options, Sample};
use minetsdb_collectors::exposition::{Format, Writer};
use minetsdb_collectors::sim::{backfill_into, Rig, RigConfig};

/// Start of generated data: 2026-01-01T00:00:00Z, a day boundary.
pub const START_MS: i64 = 1_767_225_600_000;

/// One day in ms.
pub const DAY_MS: i64 = 86_400_000;

/// A simulated rig named `name` (its `instance` label, the "host" of
/// queries grouping by machine) with `gpus` GPUs.
pub fn rig(name: &str, gpus: usize, seed: u64) -> RigConfig {
    RigConfig {
        seed,
        gpus,
        rig: name.to_string(),
        ..RigConfig::default()
    }
}

/// Writes `days` of one-minute scrapes of a `gpus`-GPU rig into `dir`,
/// appending one simulated hour per batch, then flushes the head to blocks.
/// Returns the number of samples written.
pub fn fill(dir: &Path, days: u32, gpus: usize, seed: u64) -> minetsdb::Result<u64> {
    fill_rigs(dir, days, &[rig("rig1", gpus, seed)])
}

/// [`fill`] for several rigs into one database, day by day (each day of
/// every rig before the next day, as live collection would write them).
pub fn fill_rigs(dir: &Path, days: u32, rigs: &[RigConfig]) -> minetsdb::Result<u64> {
    let db = Db::open(dir, Options::default())?;
    let mut sims: Vec<Rig> = rigs.iter().map(|c| Rig::new(c.clone())).collect();
    let mut n = 0;
    for d in 0..i64::from(days) {
        let (a, b) = (START_MS + d * DAY_MS, START_MS + (d + 1) * DAY_MS);
        for rig in &mut sims {
            n += backfill_into(rig, &db, a, b, 60, |_| {})?;
        }
    }
    db.flush()?;
    Ok(n)
}

/// One simulated series held in memory.
#[derive(Debug, Clone)]
pub struct SeriesData {
    /// Its labels.
    pub labels: Labels,
    /// Timestamps, ms, strictly increasing.
    pub ts: Vec<i64>,
    /// Values, one per timestamp.
    pub vs: Vec<f64>,
}

/// `days` of one-minute scrapes of `rig`, one entry per series.
pub fn simulate(cfg: &RigConfig, days: u32) -> Vec<SeriesData> {
    let mut rig = Rig::new(cfg.clone());
    let mut out: Vec<SeriesData> = rig
        .series()
        .iter()
        .map(|l| SeriesData {
            labels: l.clone(),
            ts: Vec::new(),
            vs: Vec::new(),
        })
        .collect();
    let end = START_MS + i64::from(days) * DAY_MS;
    rig.backfill_with(START_MS, end, |t, values| {
        for (s, &v) in out.iter_mut().zip(values) {
            s.ts.push(t);
            s.vs.push(v);
        }
    });
    out
}

/// Total samples of `series`.
pub fn sample_count(series: &[SeriesData]) -> u64 {
    series.iter().map(|s| s.ts.len() as u64).sum()
}

/// The chunks the block writer makes of `series` with default options
/// (one per series per day: 1440 one-minute samples fit the 4096-sample
/// limit), as (timestamps, values) slices.
pub fn day_chunks(series: &[SeriesData]) -> Vec<(&[i64], &[f64])> {
    let mut out = Vec::new();
    for s in series {
        let mut a = 0;
        while a < s.ts.len() {
            let day_end = (s.ts[a] - START_MS).div_euclid(DAY_MS) * DAY_MS + START_MS + DAY_MS;
            let z = a + s.ts[a..].partition_point(|&t| t < day_end);
            out.push((&s.ts[a..z], &s.vs[a..z]));
            a = z;
        }
    }
    out
}

/// `series` as Prometheus text exposition (0.0.4) with timestamps, one
/// series after another as `export` writes it.
pub fn exposition_text(series: &[SeriesData]) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), Format::Text004);
    for s in series {
        let samples: Vec<Sample> =
            s.ts.iter()
                .zip(&s.vs)
                .map(|(&t, &v)| Sample::new(t, v))
                .collect();
        w.write_series(None, &s.labels, &samples)
            .expect("write to memory");
    }
    w.finish().expect("write to memory")
}

/// The built `minetsdb` binary for end-to-end benches: `$MINETSDB_BIN`,
/// else `minetsdb` in the target directory the running bench was built
/// in (`cargo build --release -p minetsdb-cli` puts it there).
pub fn cli_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MINETSDB_BIN") {
        return Some(PathBuf::from(p));
    }
    // The bench runs as <target>/release/deps/<name>-<hash>.
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?;
    let bin = profile_dir.join(format!("minetsdb{}", std::env::consts::EXE_SUFFIX));
    bin.is_file().then_some(bin)
}
