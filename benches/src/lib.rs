//! Shared data for the benchmarks: realistic mining telemetry from the
//! simulated rig, written into a real database.

use std::path::Path;

use minetsdb::{Db, Options};
use minetsdb_collectors::sim::{backfill_into, Rig, RigConfig};

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
    let end = START_MS + i64::from(days) * 86_400_000;
    let n = backfill_into(&mut rig, &db, START_MS, end, 60, |_| {})?;
    db.flush()?;
    Ok(n)
}
