//! `minetsdb export`: series matching selectors over a time range, as
//! OpenMetrics (default), Prometheus text, or CSV; `.zst`/`.gz` output by
//! file name. OpenMetrics and text exports import back bit for bit (except
//! NaN payloads, which text cannot carry: every NaN reads back canonical).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use minetsdb::{Db, Matcher, Options};
use minetsdb_collectors::exposition::{Format, Writer};

/// Arguments of `export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Database directory [default: $XDG_DATA_HOME/minetsdb]
    #[arg(long)]
    db: Option<PathBuf>,
    /// Series selector, e.g. 'nvidia_smi_power_draw_watts{uuid="GPU-1"}'; repeat for several [default: every series]
    #[arg(long = "match")]
    matchers: Vec<String>,
    /// Start of the range (RFC 3339, Unix seconds, relative like -7d) [default: the beginning]
    #[arg(long, allow_hyphen_values = true)]
    start: Option<String>,
    /// End of the range [default: the end]
    #[arg(long, allow_hyphen_values = true)]
    end: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Openmetrics)]
    format: OutFormat,
    /// Output file (`.zst` or `.gz` compresses) [default: standard output]
    #[arg(short, long)]
    output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OutFormat {
    Openmetrics,
    Text,
    Csv,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let dir = a.db.unwrap_or_else(crate::paths::default_db);
    let db = Db::open_read_only(&dir, Options::default())
        .with_context(|| format!("opening {}", dir.display()))?;
    let now = crate::time::now_ms();
    let time = |s: &Option<String>, what: &str, d: i64| -> anyhow::Result<i64> {
        match s {
            Some(s) => {
                crate::time::parse_time(s, now).map_err(|e| anyhow::anyhow!("--{what}: {e}"))
            }
            None => Ok(d),
        }
    };
    let (start, end) = (
        time(&a.start, "start", i64::MIN)?,
        time(&a.end, "end", i64::MAX)?,
    );
    let selectors: Vec<Vec<Matcher>> = if a.matchers.is_empty() {
        vec![vec![]]
    } else {
        a.matchers
            .iter()
            .map(|m| minetsdb::promql::parse_selector(m).with_context(|| format!("--match {m}")))
            .collect::<anyhow::Result<_>>()?
    };
    let mut out = crate::files::Output::create(a.output.as_deref())?;
    let pb = crate::progress::spinner("exporting");
    let mut series = 0u64;
    let mut samples = 0u64;
    // One pass per selector; a series matched by several is written once.
    let mut seen = std::collections::HashSet::new();
    match a.format {
        OutFormat::Csv => {
            writeln!(out, "series,timestamp,value")?;
            for m in &selectors {
                for s in db.select(m, start..=end)? {
                    let s = s?;
                    if !seen.insert(s.labels.clone()) {
                        continue;
                    }
                    series += 1;
                    pb.set_message(format!("exporting: {series} series"));
                    let name = s.labels.to_string();
                    let name = if name.contains([',', '"']) {
                        format!("\"{}\"", name.replace('"', "\"\""))
                    } else {
                        name
                    };
                    for x in &s.samples {
                        writeln!(
                            out,
                            "{name},{}.{:03},{}",
                            x.t.div_euclid(1000),
                            x.t.rem_euclid(1000),
                            crate::output::fmt_float(x.v)
                        )?;
                        samples += 1;
                    }
                }
            }
            out.finish()?;
        }
        f => {
            let fmt = if f == OutFormat::Text {
                Format::Text004
            } else {
                Format::OpenMetrics
            };
            let mut w = Writer::new(out, fmt);
            for m in &selectors {
                for s in db.select(m, start..=end)? {
                    let s = s?;
                    if !seen.insert(s.labels.clone()) {
                        continue;
                    }
                    series += 1;
                    pb.set_message(format!("exporting: {series} series"));
                    samples += s.samples.len() as u64;
                    let md = family_metadata(&db, s.labels.metric_name());
                    w.write_series(md.as_ref(), &s.labels, &s.samples)?;
                }
            }
            w.finish()?.finish()?;
        }
    }
    pb.finish_and_clear();
    eprintln!("exported {series} series, {samples} samples");
    Ok(ExitCode::SUCCESS)
}

/// Metadata is stored under the family name (`foo` for `foo_total`).
fn family_metadata(db: &Db, metric: &str) -> Option<minetsdb::Metadata> {
    db.metadata(metric).or_else(|| {
        ["_total", "_bucket", "_count", "_sum", "_created", "_info"]
            .iter()
            .find_map(|suf| metric.strip_suffix(suf).and_then(|f| db.metadata(f)))
    })
}
