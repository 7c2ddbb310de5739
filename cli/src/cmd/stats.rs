//! `minetsdb stats`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

/// Arguments of `stats`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Database directory [default: $XDG_DATA_HOME/minetsdb]
    #[arg(long)]
    db: Option<PathBuf>,
    /// How many of the biggest series and labels to list.
    #[arg(long, default_value_t = 10)]
    top: usize,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let dir = a.db.unwrap_or_else(crate::paths::default_db);
    let db = minetsdb::Db::open_read_only(&dir, minetsdb::Options::default())
        .with_context(|| format!("opening {}", dir.display()))?;
    print_stats(&db);
    outln!("\nbiggest series:");
    for (l, n) in db.series_sample_counts().iter().take(a.top) {
        outln!("  {n:>12}  {l}");
    }
    outln!("\nlabel cardinality (distinct values):");
    for (name, n) in db.label_cardinality().iter().take(a.top) {
        outln!("  {n:>12}  {name}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the summary table shared by `stats` and `demo`.
pub fn print_stats(db: &minetsdb::Db) {
    let st = db.stats();
    let samples = st.block_samples + st.head_samples as u64;
    outln!("database      {}", db.path().display());
    outln!("series        {}", st.series);
    outln!(
        "samples       {samples} ({} in {} blocks, {} in the head)",
        st.block_samples,
        st.blocks,
        st.head_samples
    );
    if let Some((a, b)) = st.time_range {
        outln!("time range    {} .. {}", fmt_time(a), fmt_time(b));
    }
    if st.block_samples > 0 {
        let files = st.disk_bytes;
        outln!(
            "on disk       {} bytes: {:.3} bytes/sample in blocks, {:.3} bytes/sample all files",
            files,
            st.block_bytes as f64 / st.block_samples as f64,
            files as f64 / samples.max(1) as f64
        );
    }
    if !st.blocks_per_level.is_empty() {
        let levels: Vec<String> = st
            .blocks_per_level
            .iter()
            .map(|(l, n)| format!("level {l}: {n}"))
            .collect();
        outln!("blocks        {}", levels.join(", "));
    }
    if st.by_resolution.keys().any(|&r| r > 0) {
        for (res, (bytes, n)) in &st.by_resolution {
            let name = match res {
                0 => "raw samples".to_string(),
                r => format!("{} buckets", crate::duration::format_ms(*r)),
            };
            outln!(
                "  {name:<12}  {bytes} bytes for {n} samples ({:.3} bytes/sample)",
                *bytes as f64 / (*n).max(1) as f64
            );
        }
    }
    if st.head_samples > 0 {
        outln!(
            "head          {} samples in {} bytes of memory",
            st.head_samples,
            st.head_bytes
        );
    }
    let rep = db.open_report();
    for d in &rep.damage {
        outln!(
            "damage        {} at {}: {}",
            d.file.display(),
            d.offset,
            d.what
        );
    }
}

/// RFC 3339 UTC, to the second.
pub fn fmt_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = minetsdb::promql::civil_from_days(secs.div_euclid(86_400));
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339() {
        assert_eq!(super::fmt_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::fmt_time(1_700_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(super::fmt_time(-1000), "1969-12-31T23:59:59Z");
    }
}
