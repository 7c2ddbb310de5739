//! Loading the same samples into each system, each by its documented
//! bulk route, timed from the first byte read to data compacted on disk.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::http::{metric, Client};
use crate::procs::{cpu_seconds, run_measured, Server};

/// What loading cost.
#[derive(Debug, Clone, Default)]
pub struct Ingest {
    pub wall_s: f64,
    pub cpu_s: f64,
    /// How it was measured, for the report.
    pub how: String,
}

/// Prometheus: `promtool tsdb create-blocks-from openmetrics` into the data
/// directory, then the server on it until its compactions are done.
///
/// promtool 2.42 re-parses the whole file for every block it writes, so
/// with the default 2 h blocks 90 days would read the file 1080 times;
/// `--max-block-duration=744h` (31 days) (hidden in 2.42's help but accepted) gives
/// its largest (20.25-day) blocks, as Prometheus' docs advise for large
/// backfills. The server then compacts what its planner picks, on its own
/// one-minute timer; with `wait` we wait for that first pass to finish.
pub fn prometheus(
    om: &Path,
    data: &Path,
    work: &Path,
    client: &Client,
    wait: bool,
) -> anyhow::Result<(Server, Ingest)> {
    let (wall, cpu) = run_measured(
        Command::new("promtool").args([
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--quiet",
            "--max-block-duration=744h",
            &om.display().to_string(),
            &data.display().to_string(),
        ]),
        "promtool tsdb create-blocks-from openmetrics",
    )?;
    let server = Server::prometheus(data, work, client)?;
    let cpu0 = cpu_seconds(server.pid())?;
    let mut compaction_s = 0.0;
    if wait {
        let deadline = Instant::now() + Duration::from_secs(300);
        let mut last = None;
        let mut stable = 0;
        loop {
            let m = client.get_text(&server.url("/metrics"))?;
            let triggered =
                metric(&m, "prometheus_tsdb_compactions_triggered_total").unwrap_or(0.0);
            let populating =
                metric(&m, "prometheus_tsdb_compaction_populating_block").unwrap_or(0.0);
            let done = metric(&m, "prometheus_tsdb_compactions_total").unwrap_or(0.0);
            let blocks = metric(&m, "prometheus_tsdb_blocks_loaded").unwrap_or(0.0);
            compaction_s =
                metric(&m, "prometheus_tsdb_compaction_duration_seconds_sum").unwrap_or(0.0);
            let now = (done, blocks);
            if triggered >= 1.0 && populating == 0.0 && last == Some(now) {
                stable += 1;
                if stable >= 3 {
                    break;
                }
            } else {
                stable = 0;
            }
            last = Some(now);
            if Instant::now() > deadline {
                anyhow::bail!("prometheus: compactions not settled in 300 s");
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    let server_cpu = cpu_seconds(server.pid())? - cpu0;
    Ok((
        server,
        Ingest {
            wall_s: wall + compaction_s,
            cpu_s: cpu + server_cpu,
            how: format!(
                "promtool {wall:.1} s wall / {cpu:.1} s CPU + server compaction {compaction_s:.1} s (prometheus_tsdb_compaction_duration_seconds_sum) / {server_cpu:.1} s CPU{}",
                if wait { "" } else { " (compactions not waited for at this scale)" }
            ),
        },
    ))
}

/// VictoriaMetrics: the text file POSTed to /api/v1/import/prometheus,
/// then /internal/force_flush and /internal/force_merge, waiting until
/// no merge is active and no row is pending.
pub fn victoria(
    text: &Path,
    data: &Path,
    work: &Path,
    client: &Client,
) -> anyhow::Result<(Server, Ingest)> {
    let server = Server::victoria(data, work, client)?;
    let cpu0 = cpu_seconds(server.pid())?;
    let t0 = Instant::now();
    let mut f = std::fs::File::open(text).with_context(|| format!("opening {}", text.display()))?;
    client.post(&server.url("/api/v1/import/prometheus"), &mut f)?;
    let import_s = t0.elapsed().as_secs_f64();
    client.get(&server.url("/internal/force_flush"))?;
    client.get(&server.url("/internal/force_merge"))?;
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut stable = 0;
    loop {
        let m = client.get_text(&server.url("/metrics"))?;
        let busy = metric(&m, "vm_active_merges").unwrap_or(0.0)
            + metric(&m, "vm_active_force_merges").unwrap_or(0.0)
            + metric(&m, "vm_pending_rows").unwrap_or(0.0);
        stable = if busy == 0.0 { stable + 1 } else { 0 };
        if stable >= 3 {
            break;
        }
        if Instant::now() > deadline {
            anyhow::bail!("victoriametrics: merges not settled in 600 s");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    // The settling polls themselves are not work: take the time up to the
    // first of the three quiet ones.
    let wall = (t0.elapsed().as_secs_f64() - 1.0).max(import_s);
    let cpu = cpu_seconds(server.pid())? - cpu0;
    Ok((
        server,
        Ingest {
            wall_s: wall,
            cpu_s: cpu,
            how: format!(
                "import POST {import_s:.1} s, until flushed and merged {wall:.1} s wall; server CPU {cpu:.1} s"
            ),
        },
    ))
}

/// minetsdb: `minetsdb import` of the OpenMetrics file, then `minetsdb
/// compact --downsample none` (raw samples kept, so the read-back can be
/// exact), then `serve` on the result.
pub fn minetsdb(
    bin: &Path,
    om: &Path,
    db: &Path,
    work: &Path,
    client: &Client,
) -> anyhow::Result<(Server, Ingest)> {
    let cfg = work.join("no-config");
    let (iw, ic) = run_measured(
        Command::new(bin)
            .env("XDG_CONFIG_HOME", &cfg)
            .arg("import")
            .arg("--db")
            .arg(db)
            .arg("--format=openmetrics")
            .arg(om),
        "minetsdb import",
    )?;
    let (cw, cc) = run_measured(
        Command::new(bin)
            .env("XDG_CONFIG_HOME", &cfg)
            .arg("compact")
            .arg("--db")
            .arg(db)
            .arg("--downsample=none"),
        "minetsdb compact",
    )?;
    let server = Server::minetsdb(bin, db, work, client)?;
    Ok((
        server,
        Ingest {
            wall_s: iw + cw,
            cpu_s: ic + cc,
            how: format!(
                "import {iw:.1} s wall / {ic:.1} s CPU + compact {cw:.1} s / {cc:.1} s (child rusage)"
            ),
        },
    ))
}
