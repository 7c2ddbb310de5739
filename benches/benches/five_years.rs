//! Disk over five years of one-minute data for an 8-GPU rig, with the
//! default downsampling tiers (raw 90 days, 5-minute buckets to one year,
//! 1-hour buckets after) and 5-year retention, compacted every simulated
//! day as `collect`'s background compactor would.
//!
//! Not a timing benchmark: it prints bytes, per tier, against the raw-only
//! projection from the same run's raw bytes per sample.
//! `cargo bench -p minetsdb-benches --bench five_years`
//! (`MINETSDB_BENCH_YEARS`, `MINETSDB_BENCH_GPUS` to change the shape).

use minetsdb::{Db, Options};
use minetsdb_collectors::sim::{backfill_into, Rig, RigConfig};

const DAY: i64 = 86_400_000;

fn env(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let years = env("MINETSDB_BENCH_YEARS", 5);
    let gpus = env("MINETSDB_BENCH_GPUS", 8) as usize;
    let days = i64::from(years) * 365 + i64::from(years / 4);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = Options::default();
    opts.retention_ms = Some(days * DAY);
    let db = Db::open(dir.path(), opts).expect("open");
    let mut rig = Rig::new(RigConfig {
        seed: 11,
        gpus,
        ..RigConfig::default()
    });
    let start = minetsdb_benches::START_MS;
    let began = std::time::Instant::now();
    let mut samples = 0u64;
    for d in 0..days {
        let (a, b) = (start + d * DAY, start + (d + 1) * DAY);
        samples += backfill_into(&mut rig, &db, a, b, 60, |_| {}).expect("fill");
        db.compact().expect("compact");
    }
    db.flush().expect("flush");
    db.compact().expect("compact");
    let st = db.stats();
    println!(
        "five_years/{gpus}gpu/{years}y: {} series, {samples} samples written in {:.0} s; {} bytes on disk ({:.1} MB), {:.4} bytes per written sample",
        st.series,
        began.elapsed().as_secs_f64(),
        st.disk_bytes,
        st.disk_bytes as f64 / 1e6,
        st.disk_bytes as f64 / samples as f64
    );
    let mut raw_per_sample = None;
    for (res, (bytes, n)) in &st.by_resolution {
        let name = match res {
            0 => "raw".to_string(),
            r => format!("{}m buckets", r / 60_000),
        };
        println!(
            "  {name:<12} {bytes:>11} bytes ({:.1} MB) for {n} samples = {:.4} bytes/sample",
            *bytes as f64 / 1e6,
            *bytes as f64 / (*n).max(1) as f64
        );
        if *res == 0 {
            raw_per_sample = Some(*bytes as f64 / (*n).max(1) as f64);
        }
    }
    if let Some(r) = raw_per_sample {
        let projected = r * samples as f64;
        println!(
            "  raw only (projected from the raw tier's bytes/sample): {:.1} MB; tiers take {:.3}x of it",
            projected / 1e6,
            st.block_bytes as f64 / projected
        );
    }
}
