//! `minetsdb demo`: a database filled with a simulated rig, needing no GPU
//! and no network, to try every other command on.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use minetsdb::{Db, Matcher, Options};
use minetsdb_collectors::sim::{backfill_into, Rig, RigConfig};

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Database directory [default: $XDG_DATA_HOME/minetsdb-demo]
    #[arg(long)]
    db: Option<PathBuf>,
    /// Days of history to simulate.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// GPUs in the simulated rig.
    #[arg(long, default_value_t = 3)]
    gpus: usize,
    /// Seed of the simulation (same seed, same data).
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let dir = a.db.unwrap_or_else(crate::paths::default_demo_db);
    if dir.join("series").exists() {
        anyhow::bail!(
            "{} already holds a database; remove it or pass --db to choose another directory",
            dir.display()
        );
    }
    if a.gpus == 0 || a.days == 0 {
        anyhow::bail!("--gpus and --days must be at least 1");
    }
    let db =
        Db::open(&dir, Options::default()).with_context(|| format!("opening {}", dir.display()))?;
    let mut rig = Rig::new(RigConfig {
        seed: a.seed,
        gpus: a.gpus,
        ..RigConfig::default()
    });
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("system clock before 1970")?
        .as_millis() as i64;
    let end = now - now % 60_000;
    let start = end - i64::from(a.days) * 86_400_000;
    let began = Instant::now();
    // One append (one fsync) per simulated hour.
    let pb = crate::progress::bytes(None, "simulating");
    if !pb.is_hidden() {
        pb.set_length((end - start) as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template("simulating {elapsed} [{bar:30}] {percent}%")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
    }
    let total = backfill_into(&mut rig, &db, start, end, 60, |t| {
        pb.set_position((t - start).max(0) as u64)
    })?;
    pb.finish_and_clear();
    db.flush()?;
    let took = began.elapsed();
    outln!(
        "Simulated {} days of a {}-GPU rig: {} samples of {} series written in {:.2?}.\n",
        a.days,
        a.gpus,
        total,
        rig.series().len(),
        took
    );
    super::stats::print_stats(&db);
    outln!();
    summary(&db, end - 86_400_000, end)?;
    outln!(
        "\nNext: minetsdb stats --db {0}   minetsdb check --db {0}",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Per-GPU averages over the last day, read back through `select`.
fn summary(db: &Db, from: i64, to: i64) -> anyhow::Result<()> {
    outln!("Last 24 hours, per GPU (read back from the database):");
    outln!(
        "{:<44} {:>10} {:>10} {:>12}",
        "GPU",
        "avg W",
        "max °C",
        "avg MH/s"
    );
    let power = avg_by_uuid(db, "nvidia_smi_power_draw_watts", from, to, Agg::Avg)?;
    let temp = avg_by_uuid(db, "nvidia_smi_temperature_gpu", from, to, Agg::Max)?;
    let hash = avg_by_uuid(db, "miner_hashrate_hashes_per_second", from, to, Agg::Avg)?;
    for (uuid, name, w) in &power {
        let c = temp.iter().find(|x| &x.0 == uuid).map_or(f64::NAN, |x| x.2);
        let h = hash.iter().find(|x| &x.0 == uuid).map_or(f64::NAN, |x| x.2);
        outln!(
            "{:<44} {:>10.1} {:>10.0} {:>12.2}",
            format!("{name} {}", short(uuid)),
            w,
            c,
            h / 1e6
        );
    }
    Ok(())
}

enum Agg {
    Avg,
    Max,
}

fn avg_by_uuid(
    db: &Db,
    metric: &str,
    from: i64,
    to: i64,
    agg: Agg,
) -> anyhow::Result<Vec<(String, String, f64)>> {
    let mut out = Vec::new();
    for s in db.select(&[Matcher::metric(metric)], from..to)? {
        let s = s?;
        let vals: Vec<f64> = s
            .samples
            .iter()
            .map(|x| x.v)
            .filter(|v| v.is_finite())
            .collect();
        let v = match agg {
            Agg::Avg => vals.iter().sum::<f64>() / vals.len().max(1) as f64,
            Agg::Max => vals.iter().copied().fold(f64::NAN, f64::max),
        };
        out.push((
            s.labels.get("uuid").unwrap_or("?").to_string(),
            s.labels.get("name").unwrap_or("").to_string(),
            v,
        ));
    }
    Ok(out)
}

fn short(uuid: &str) -> &str {
    uuid.get(..12).unwrap_or(uuid)
}
