//! `minetsdb scrape URL`: scrape one Prometheus exposition endpoint once,
//! as Prometheus would (target labels, `up`, one timestamp), and print what
//! it exposes, parsed, as Prometheus text; with `--store` the samples go
//! into the database instead.
//!
//! A target that cannot be scraped is an error (exit 1) naming the URL;
//! with a database its `up 0` sample is stored first, so the outage is on
//! record as it would be in Prometheus.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use minetsdb::{Db, Labels, Metadata, Options, Sample};
use minetsdb_collectors::exposition::{family_name, Format, Writer};
use minetsdb_collectors::http::{HttpClient, HttpOptions};
use minetsdb_collectors::scrape::{scrape, ScrapeResult, Target};

/// Arguments of `scrape`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The metrics page, e.g. http://127.0.0.1:9100/metrics
    url: String,
    /// The `job` label of every sample.
    #[arg(long, default_value = "scrape")]
    job: String,
    /// The `instance` label [default: host:port of the URL]
    #[arg(long)]
    instance: Option<String>,
    /// Give up on the whole request after this long, e.g. 10s.
    #[arg(long, default_value = "10s", value_parser = crate::duration::parse_ms)]
    timeout: i64,
    /// Database directory for --store [default: $XDG_DATA_HOME/minetsdb]
    #[arg(long, requires = "store")]
    db: Option<PathBuf>,
    /// Store the samples in the database instead of printing them.
    #[arg(long)]
    store: bool,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    // Open the database before touching the network, so a bad --db or a
    // held lock fails at once.
    let db = if !a.store {
        None
    } else {
        let dir = a.db.clone().unwrap_or_else(crate::paths::default_db);
        let db = Db::open(&dir, Options::default())
            .with_context(|| format!("opening {}", dir.display()))?;
        Some(db)
    };
    let client = HttpClient::new(HttpOptions {
        deadline: std::time::Duration::from_millis(a.timeout.max(1) as u64),
        ..HttpOptions::default()
    });
    let target = Target {
        url: a.url.clone(),
        job: a.job.clone(),
        instance: a.instance.clone(),
        labels: Vec::new(),
        opts: Default::default(),
    };
    let res = scrape(&client, &target, crate::time::now_ms());
    for e in res.bad_lines.iter().take(5) {
        eprintln!("minetsdb: {}: skipped {e}", a.url);
    }
    match db {
        None => {
            if let Some(e) = res.error {
                return Err(e.into());
            }
            print_text(&res)?;
        }
        Some(db) => store(&db, &a.url, res)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn store(db: &Db, url: &str, res: ScrapeResult) -> anyhow::Result<()> {
    let rep = minetsdb_collectors::scrape::store(db, &res)
        .with_context(|| format!("storing samples from {url}"))?;
    if let Some(e) = res.error {
        // `up 0` is stored; the failure is still the command's result.
        return Err(e.into());
    }
    outln!(
        "scraped {url}: {} samples ({} new, {} already stored, {} conflicting), {} bad lines, in {:.0} ms",
        res.samples.len(),
        rep.appended,
        rep.duplicates,
        rep.conflicts,
        res.bad_lines.len(),
        res.duration.as_secs_f64() * 1e3
    );
    Ok(())
}

/// Prometheus text 0.0.4, series sorted, each family's metadata once.
fn print_text(res: &ScrapeResult) -> anyhow::Result<()> {
    let metadata: HashMap<&str, &Metadata> = res
        .metadata
        .iter()
        .map(|(n, md)| (n.as_str(), md))
        .collect();
    let mut series: Vec<&(Labels, Sample)> = res.samples.iter().collect();
    series.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.t.cmp(&b.1.t)));
    let mut w = Writer::new(std::io::stdout().lock(), Format::Text004);
    for (labels, sample) in series {
        let md = metadata_of(&metadata, labels.metric_name());
        w.write_series(md, labels, std::slice::from_ref(sample))
            .context("writing to standard output")?;
    }
    drop(w.finish().context("writing to standard output")?);
    Ok(())
}

/// The metadata of the family `metric` belongs to: `# TYPE` names the
/// family (`foo` for `foo_bucket`, and in OpenMetrics for `foo_total`).
fn metadata_of<'a>(md: &HashMap<&str, &'a Metadata>, metric: &str) -> Option<&'a Metadata> {
    if let Some(m) = md.get(metric) {
        return Some(m);
    }
    let suffixes = ["_total", "_bucket", "_sum", "_count", "_created", "_info"];
    suffixes.iter().find_map(|s| {
        let family = metric.strip_suffix(s)?;
        let m = md.get(family)?;
        let fits = [Format::OpenMetrics, Format::Text004]
            .into_iter()
            .any(|f| family_name(metric, m.metric_type, f) == family);
        fits.then_some(*m)
    })
}
