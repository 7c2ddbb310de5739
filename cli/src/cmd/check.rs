//! `minetsdb check`: decode everything, verify every checksum; `--repair`
//! sets damaged blocks aside (keeping their readable chunks) and cuts a
//! torn WAL tail.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use minetsdb::{Db, Options};

/// Arguments of `check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Database directory [default: $XDG_DATA_HOME/minetsdb]
    #[arg(long)]
    db: Option<PathBuf>,
    /// Move damaged blocks to <db>/damaged/ (never deleting them), keep
    /// their readable chunks in new blocks, and cut a torn WAL tail. Needs
    /// the writer lock: stop `collect` first.
    #[arg(long)]
    repair: bool,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let dir = a.db.unwrap_or_else(crate::paths::default_db);
    if a.repair {
        let db = Db::open(&dir, Options::default())
            .with_context(|| format!("opening {} for repair", dir.display()))?;
        for d in db.open_report().damage {
            outln!("{}: offset {}: {}", d.file.display(), d.offset, d.what);
        }
        let rep = db
            .repair()
            .with_context(|| format!("repairing {}", dir.display()))?;
        for p in &rep.moved {
            outln!("moved aside: {}", p.display());
        }
        outln!(
            "repair: {} block(s) moved aside, {} salvaged, {} unreadable sample(s) left in the damaged files",
            rep.moved.len(),
            rep.salvaged_blocks,
            rep.samples_lost
        );
        drop(db);
    }
    let db = Db::open_read_only(&dir, Options::default())
        .with_context(|| format!("opening {}", dir.display()))?;
    let mut problems = 0;
    for d in db.open_report().damage {
        outln!("{}: offset {}: {}", d.file.display(), d.offset, d.what);
        problems += 1;
    }
    let pb = crate::progress::spinner("verifying every checksum");
    let errors = db.verify();
    pb.finish_and_clear();
    for e in errors {
        outln!("{e}");
        problems += 1;
    }
    let st = db.stats();
    if problems == 0 {
        outln!(
            "ok: {} blocks, {} series, every checksum verified",
            st.blocks,
            st.series
        );
        Ok(ExitCode::SUCCESS)
    } else {
        outln!(
            "{problems} problem(s) found{}",
            if a.repair {
                ""
            } else {
                "; `minetsdb check --repair` sets damaged blocks aside"
            }
        );
        Ok(ExitCode::from(1))
    }
}
