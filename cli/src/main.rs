//! `minetsdb`: collect GPU and mining telemetry into one embedded
//! database and answer questions about it in the terminal.
//!
//! This file parses the command line, runs the chosen subcommand and maps
//! errors to exit codes: 0 ok, 1 error, 2 usage (clap's own).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `println!` for results on stdout: when the reader has gone (`minetsdb
/// stats | head`) the program ends quietly instead of panicking.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($t)*) {
            $crate::stdout_failed(e);
        }
    }};
}

/// `print!` counterpart of [`outln!`].
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = write!(std::io::stdout(), $($t)*) {
            $crate::stdout_failed(e);
        }
    }};
}

/// Stdout closed by the reader is a normal end (exit 0, like `yes | head`);
/// any other write error is reported.
fn stdout_failed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("minetsdb: writing to standard output: {e}");
    std::process::exit(1);
}

mod cards;
mod cmd;
mod dash;
mod duration;
mod files;
mod output;
mod paths;
mod plot;
mod progress;
mod report;
mod serve;
mod time;

/// One binary, one database: GPU telemetry, pool and miner stats, queries,
/// plots and profit reports.
#[derive(Debug, Parser)]
#[command(name = "minetsdb", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fill a demo database with a simulated 3-GPU rig and show what it holds.
    Demo(cmd::demo::Args),
    /// Series, samples, time range and bytes per sample of a database.
    Stats(cmd::stats::Args),
    /// Verify every checksum of every file of a database.
    Check(cmd::check::Args),
    /// Merge blocks into longer ones and apply retention.
    Compact(cmd::compact::Args),
    /// Evaluate a PromQL expression, instant or over a range.
    Query(cmd::query::Args),
    /// Plot a PromQL expression over time in the terminal (braille), or as a PNG.
    Plot(cmd::plot::Args),
    /// Energy, power cost, earnings, profit and hashes per joule per card over a period.
    Report(cmd::report::Args),
    /// Import Prometheus text or OpenMetrics (plain, .gz, .zst, or - for stdin).
    Import(cmd::import::Args),
    /// Export series as OpenMetrics, Prometheus text or CSV.
    Export(cmd::export::Args),
    /// Scrape one Prometheus exposition endpoint once into the database (or print it).
    Scrape(cmd::scrape::Args),
    /// Collect every job of config.toml that is due, and the GPUs, into the database.
    Collect(cmd::collect::Args),
    /// Check config.toml (and prometheus.yml) and print the resolved targets.
    Config(cmd::config::Args),
    /// Each scrape target's health: up or down, last scrape, duration, samples, last error.
    Targets(cmd::targets::Args),
    /// Evaluate the alert rules now, store their state, print the alerts; --check validates rule files.
    Alerts(cmd::alerts::Args),
    /// Serve Prometheus' HTTP API (for Grafana) and /metrics; --collect runs the collector too.
    Serve(serve::Args),
    /// Live terminal dashboard: per-GPU gauges and sparklines, pool, targets and alerts, coloured by [thresholds].
    Dash(dash::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let res = match cli.command {
        Command::Demo(a) => cmd::demo::run(a),
        Command::Stats(a) => cmd::stats::run(a),
        Command::Check(a) => cmd::check::run(a),
        Command::Compact(a) => cmd::compact::run(a),
        Command::Query(a) => cmd::query::run(a),
        Command::Plot(a) => cmd::plot::run(a),
        Command::Report(a) => cmd::report::run(a),
        Command::Import(a) => cmd::import::run(a),
        Command::Export(a) => cmd::export::run(a),
        Command::Scrape(a) => cmd::scrape::run(a),
        Command::Collect(a) => cmd::collect::run(a),
        Command::Config(a) => cmd::config::run(a),
        Command::Targets(a) => cmd::targets::run(a),
        Command::Alerts(a) => cmd::alerts::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Dash(a) => dash::run(a),
    };
    match res {
        Ok(code) => code,
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            // The reader of our output went away (`| head`): a normal end.
            ExitCode::SUCCESS
        }
        Err(e) => {
            // One line: what failed and where, outermost context first;
            // a cause already spelled out by the message before it is not
            // repeated (library errors include their I/O cause).
            let mut line = String::new();
            for cause in e.chain() {
                let c = cause.to_string();
                if line.contains(&c) {
                    continue;
                }
                if !line.is_empty() {
                    line.push_str(": ");
                }
                line.push_str(&c);
            }
            eprintln!("minetsdb: {line}");
            ExitCode::from(1)
        }
    }
}
