//! `minetsdb check`: decode everything, verify every checksum.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

/// Arguments of `check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Database directory [default: $XDG_DATA_HOME/minetsdb]
    #[arg(long)]
    db: Option<PathBuf>,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let dir = a.db.unwrap_or_else(crate::paths::default_db);
    let db = minetsdb::Db::open_read_only(&dir, minetsdb::Options::default())
        .with_context(|| format!("opening {}", dir.display()))?;
    let mut problems = 0;
    for d in db.open_report().damage {
        println!("{}: offset {}: {}", d.file.display(), d.offset, d.what);
        problems += 1;
    }
    for e in db.verify() {
        println!("{e}");
        problems += 1;
    }
    let st = db.stats();
    if problems == 0 {
        println!(
            "ok: {} blocks, {} series, every checksum verified",
            st.blocks, st.series
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{problems} problem(s) found");
        Ok(ExitCode::from(1))
    }
}
