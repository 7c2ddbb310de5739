//! `minetsdb config check`: read config.toml and prometheus.yml as
//! `collect` would, and print every job with its resolved targets (URL,
//! deadline, final labels after relabelling) and the targets relabelling
//! dropped, with why. Exit 0 when both files are valid, 1 when not (one
//! line naming the file, line, column and key).

use std::path::PathBuf;
use std::process::ExitCode;

use minetsdb_collectors::promconfig::format_duration;
use minetsdb_collectors::scrape::Target;

/// Arguments of `config`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, clap::Subcommand)]
enum Cmd {
    /// Validate the config and print the resolved targets.
    Check(CheckArgs),
}

/// Arguments of `config check`.
#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// The config file [default: $XDG_CONFIG_HOME/minetsdb/config.toml]
    #[arg(long)]
    config: Option<PathBuf>,
    /// A Prometheus config whose scrape_configs `collect` would scrape too.
    #[arg(long)]
    prometheus_config: Option<PathBuf>,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    match a.cmd {
        Cmd::Check(c) => check(c),
    }
}

fn labels(pairs: &[(String, String)]) -> String {
    let inner: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

fn target_line(t: &Target) -> String {
    let mut extra = vec![format!("timeout {}", format_duration(t.opts.timeout_ms))];
    if let Some(a) = &t.opts.auth {
        extra.push(a.describe());
    }
    if t.opts.honor_labels {
        extra.push("honor_labels".into());
    }
    if t.opts.sample_limit > 0 {
        extra.push(format!("sample_limit {}", t.opts.sample_limit));
    }
    if !t.opts.metric_relabel.is_empty() {
        extra.push(format!(
            "{} metric_relabel_configs",
            t.opts.metric_relabel.len()
        ));
    }
    format!(
        "  {}  {}  ({})",
        t.url,
        labels(&t.target_labels()),
        extra.join(", ")
    )
}

fn check(a: CheckArgs) -> anyhow::Result<ExitCode> {
    let loaded = super::collect::load(a.config, a.prometheus_config)?;
    let (mut jobs, mut targets, mut dropped) = (0, 0, 0);
    for j in &loaded.config.jobs {
        jobs += 1;
        outln!(
            "job {:?} (config.toml): every {}",
            j.name,
            format_duration(j.interval_ms)
        );
        for t in j.scrape_targets() {
            targets += 1;
            outln!("{}", target_line(&t));
        }
    }
    if let Some((pc, resolved)) = &loaded.prometheus {
        for j in resolved {
            jobs += 1;
            outln!(
                "job {:?} (prometheus.yml): every {}",
                j.name,
                format_duration(j.interval_ms)
            );
            for t in &j.targets {
                targets += 1;
                outln!("{}", target_line(t));
            }
            for d in &j.dropped {
                dropped += 1;
                outln!("  dropped {}: {}", labels(&d.labels), d.why);
            }
        }
        if !pc.global.external_labels.is_empty() {
            outln!(
                "external_labels {} (for remote write; not stored)",
                labels(&pc.global.external_labels)
            );
        }
        for w in &pc.warnings {
            outln!("warning: {w}");
        }
    }
    for p in &loaded.config.pools {
        targets += 1;
        outln!(
            "pool {:?} ({:?}, {} {}): every {}, {} (timeout {})",
            p.name,
            p.kind,
            p.coin,
            p.address,
            format_duration(p.interval_ms),
            p.url,
            format_duration(p.timeout_ms)
        );
    }
    for m in &loaded.config.miners {
        targets += 1;
        outln!(
            "miner {:?} ({:?}): every {}, {}{} (timeout {})",
            m.name,
            m.kind,
            format_duration(m.interval_ms),
            m.url,
            if m.token.is_some() { ", token set" } else { "" },
            format_duration(m.timeout_ms)
        );
    }
    for r in &loaded.config.notify {
        outln!("notify {:?}: {}", r.name, r.describe());
    }
    let n = &loaded.config.nvml;
    if n.enabled {
        outln!(
            "nvml: every {}, instance {:?}",
            format_duration(n.interval_ms),
            loaded.config.instance
        );
    } else {
        outln!("nvml: disabled");
    }
    let a = &loaded.config.amd;
    match a.enabled {
        Some(false) => outln!("amdgpu: disabled"),
        on => outln!(
            "amdgpu: every {}, from {}{}",
            format_duration(a.interval_ms),
            a.sysfs_root.display(),
            if on.is_none() {
                " when the machine has amdgpu cards"
            } else {
                ""
            }
        ),
    }
    outln!("{targets} targets in {jobs} jobs, {dropped} dropped");
    // The alert rules (defaults, [[alert]], rule files), as `alerts --check`.
    match minetsdb_collectors::alerts::load_rules(&loaded.config) {
        Ok(groups) => {
            let n: usize = groups.iter().map(|g| g.rules.len()).sum();
            outln!("{n} alert and recording rules in {} groups", groups.len());
        }
        Err(errors) => {
            for e in errors {
                eprintln!("minetsdb: {e}");
            }
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}
