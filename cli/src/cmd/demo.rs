//! `minetsdb demo`: a database filled with a simulated rig, needing no GPU
//! and no network, to try every other command on.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use minetsdb::{Db, Matcher, Options};
use minetsdb_collectors::config::costs::{Costs, PowerOverhead, Tariff, TariffPeriod};
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
    outln!();
    plot(&db, start, end)?;
    outln!(
        "\n{}\n(set yours in config.toml: [tariff], [power], [price]; see the README)\n",
        EXAMPLE_LABEL
    );
    out!(
        "{}",
        super::report::render(
            &db,
            start,
            end,
            &example_costs(),
            false,
            crate::output::Format::Table
        )?
    );
    let d = dir.display();
    outln!("\nNext, try:");
    outln!("  minetsdb report --db {d} --since {}d", a.days);
    outln!("  minetsdb report --db {d} --since {}d --tuning", a.days);
    outln!(
        "  minetsdb query 'increase(gpu_energy_joules_total[1d]) / 3.6e6' --db {d} --start -7d --step 1d"
    );
    outln!("  minetsdb plot 'nvidia_smi_temperature_gpu' --db {d} --start -6h");
    outln!("  minetsdb stats --db {d}   minetsdb check --db {d}");
    Ok(ExitCode::SUCCESS)
}

/// Says, above the demo's report, that its money figures are made up.
const EXAMPLE_LABEL: &str = "Report with an EXAMPLE tariff (0.15 USD/kWh, 0.30 Mon-Fri 17-21 UTC), 60 W rig overhead and a 90 % PSU: not your prices";

/// The demo's example money settings (see [`EXAMPLE_LABEL`]); the coin
/// price comes from the simulated `coin_price_usd` series.
fn example_costs() -> Costs {
    Costs {
        tariff: Some(Tariff {
            currency: "USD".into(),
            default_price: Some(0.15),
            periods: vec![TariffPeriod {
                name: "EXAMPLE peak mon-fri 17-21".into(),
                days: [true, true, true, true, true, false, false],
                start_hour: 17,
                end_hour: 21,
                price_per_kwh: 0.30,
            }],
            utc_offset_minutes: 0,
        }),
        power: Some(PowerOverhead {
            overhead_watts: 60.0,
            psu_efficiency: 0.9,
        }),
        price: None,
    }
}

/// Hourly mean power per GPU over the whole simulation, as `plot` draws it.
fn plot(db: &Db, start: i64, end: i64) -> anyhow::Result<()> {
    use crate::plot::{render_terminal, short_labels, units::Unit, Chart, Series};
    let expr = "avg_over_time(nvidia_smi_power_draw_watts[1h])";
    let step = 3_600_000;
    let m = db.query_range(expr, start + step, end, step)?;
    let metrics: Vec<_> = m.iter().map(|s| s.metric.clone()).collect();
    let labels = short_labels(&metrics, expr);
    let chart = Chart {
        title: format!("{expr}, per GPU"),
        series: m
            .into_iter()
            .zip(labels)
            .map(|(s, label)| Series {
                label,
                points: s.samples.iter().map(|x| (x.t, x.v)).collect(),
            })
            .collect(),
        start: start + step,
        end,
        step,
        unit: Unit::from_metric("nvidia_smi_power_draw_watts", false),
    };
    out!("{}", render_terminal(&chart, 100, 8, false));
    Ok(())
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
