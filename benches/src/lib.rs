//! Shared data for the benchmarks: realistic mining telemetry from the
//! simulated rig, written into a real database.

use std::path::Path;

use minetsdb::{Db, Options, Sample, SeriesRef};
use minetsdb_collectors::sim::{Rig, RigConfig};

/// Start of generated data: 2026-01-01T00:00:00Z, a day boundary.
pub const START_MS: i64 = 1_767_225_600_000;

/// Writes `days` of one-minute scrapes of a `gpus`-GPU rig into `dir`,
/// appending one simulated hour per batch, then flushes the head to blocks.
/// Returns the number of samples written.
pub fn fill(dir: &Path, days: u32, gpus: usize, seed: u64) -> minetsdb::Result<u64> {
    let db = Db::open(dir, Options::default())?;
    let mut rig = Rig::new(RigConfig {
        seed,
        gpus,
        ..RigConfig::default()
    });
    let refs: Vec<SeriesRef> = rig
        .series()
        .iter()
        .map(|l| db.series_ref(l))
        .collect::<Result<_, _>>()?;
    let end = START_MS + i64::from(days) * 86_400_000;
    let mut batch = Vec::with_capacity(60 * refs.len());
    let mut n = 0u64;
    let mut vals = Vec::new();
    let step = rig.config().scrape_interval_ms;
    let mut t = START_MS;
    while t < end {
        let sc = rig.scrape(t);
        vals.clear();
        vals.extend(sc.samples.iter().map(|(_, v)| *v));
        for (r, v) in refs.iter().zip(&vals) {
            batch.push((*r, Sample::new(sc.t, *v)));
        }
        if batch.len() >= 60 * refs.len() {
            n += db.append(&batch)?.appended as u64;
            batch.clear();
        }
        t += step;
    }
    n += db.append(&batch)?.appended as u64;
    db.flush()?;
    Ok(n)
}

/// Total bytes of every file under `dir`.
pub fn dir_bytes(dir: &Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => n += dir_bytes(&e.path()),
                Ok(m) => n += m.len(),
                Err(_) => {}
            }
        }
    }
    n
}
