//! `minetsdb targets`: each scrape target's health as `collect` last saw
//! it (Prometheus' /targets page in the terminal): up or down, when it was
//! last scraped and how long ago, how long it took, how many samples it
//! exposed, and the last error. Read from `<db>/targets.json`, which
//! collect replaces atomically after each job run; the history of `up`,
//! `scrape_duration_seconds` and `scrape_samples_scraped` is in the
//! database itself. Takes no lock, so it works beside a running collect.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use minetsdb_collectors::health::HealthFile;

/// Arguments of `targets`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Database directory [default: $XDG_DATA_HOME/minetsdb]
    #[arg(long)]
    db: Option<PathBuf>,
}

/// `3s`, `5m`, `2h`, `4d`: how long ago, coarsely.
fn age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let dir = a.db.unwrap_or_else(crate::paths::default_db);
    if !dir.exists() {
        anyhow::bail!("no database at {}", dir.display());
    }
    let targets = HealthFile::load(&dir).context("reading the targets' health")?;
    if targets.is_empty() {
        outln!("no scrape recorded yet in {}", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let now = crate::time::now_ms();
    let rows: Vec<[String; 7]> = targets
        .iter()
        .map(|t| {
            let instance = t
                .labels
                .iter()
                .find(|(n, _)| n == "instance")
                .map_or(String::new(), |(_, v)| v.clone());
            [
                t.job.clone(),
                instance,
                if t.up { "up" } else { "down" }.to_string(),
                format!(
                    "{} ({} ago)",
                    super::stats::fmt_time(t.last_scrape_ms),
                    age(now - t.last_scrape_ms)
                ),
                format!("{:.3}s", t.duration_seconds),
                t.samples.to_string(),
                t.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let header = [
        "JOB",
        "INSTANCE",
        "STATE",
        "LAST SCRAPE",
        "DURATION",
        "SAMPLES",
        "ERROR",
    ];
    let mut width = header.map(str::len);
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(width).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        s.trim_end().to_string()
    };
    outln!("{}", line(header.to_vec()));
    for r in &rows {
        outln!("{}", line(r.iter().map(String::as_str).collect()));
    }
    let down = targets.iter().filter(|t| !t.up).count();
    Ok(if down > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
