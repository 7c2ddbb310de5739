//! `peers`: minetsdb side by side with Prometheus and VictoriaMetrics on
//! the same generated samples, in one run.
//!
//! ```text
//! cargo build --release -p minetsdb-cli
//! cargo run --release -p minetsdb-benches --bin peers -- [--scale full|small|tiny]
//!     [--out DIR] [--work DIR] [--minetsdb PATH] [--reps N] [--note TEXT]
//! ```
//!
//! Generates the data sets, loads them into each system by its bulk
//! route, measures disk, ingest, query latencies over the HTTP API, peak
//! RSS while answering and a full read-back, and writes `peers.md` and
//! `peers.json` to `--out` (default benches/results). The servers listen
//! on 127.0.0.1 only and are stopped by PID. Systems run one after the
//! other, so none competes with another for the CPU.

mod datasets;
mod http;
mod load;
mod node;
mod procs;
mod queries;
mod readback;
mod report;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::Context;

use datasets::Scale;
use http::Client;
use procs::Server;

struct Args {
    scale: Scale,
    out: PathBuf,
    work: Option<PathBuf>,
    minetsdb: Option<PathBuf>,
    reps: Option<usize>,
    note: String,
}

fn usage() -> &'static str {
    "usage: peers [--scale full|small|tiny] [--out DIR] [--work DIR] [--minetsdb PATH] [--reps N] [--note TEXT]"
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        scale: Scale::Full,
        out: Path::new(env!("CARGO_MANIFEST_DIR")).join("results"),
        work: None,
        minetsdb: std::env::var_os("MINETSDB_BIN").map(PathBuf::from),
        reps: None,
        note: String::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let (flag, inline) = match flag.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (flag, None),
        };
        if flag == "-h" || flag == "--help" {
            println!("{}", usage());
            std::process::exit(0);
        }
        let value = match inline {
            Some(v) => v,
            None => it
                .next()
                .with_context(|| format!("{flag} needs a value; {}", usage()))?,
        };
        match flag.as_str() {
            "--scale" => a.scale = Scale::parse(&value)?,
            "--out" => a.out = value.into(),
            "--work" => a.work = Some(value.into()),
            "--minetsdb" => a.minetsdb = Some(value.into()),
            "--reps" => {
                a.reps = Some(
                    value
                        .parse()
                        .ok()
                        .filter(|&n: &usize| n > 0)
                        .with_context(|| format!("--reps: {value:?} is not a positive count"))?,
                )
            }
            "--note" => a.note = value,
            _ => anyhow::bail!("unknown argument {flag:?}; {}", usage()),
        }
    }
    Ok(a)
}

/// The `minetsdb` binary: --minetsdb, $MINETSDB_BIN, or the one cargo
/// built next to this one (same profile).
fn find_minetsdb(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let p = match given {
        Some(p) => p,
        None => std::env::current_exe()
            .context("locating this executable")?
            .with_file_name("minetsdb"),
    };
    if !p.is_file() {
        anyhow::bail!(
            "no minetsdb binary at {}: build it first (cargo build --release -p minetsdb-cli) or pass --minetsdb PATH",
            p.display()
        );
    }
    Ok(p)
}

fn version(program: &Path, flag: &str) -> String {
    Command::new(program)
        .arg(flag)
        .output()
        .ok()
        .map(|o| {
            let s = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&s)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

/// Everything measured for one system.
pub struct Measured {
    pub name: &'static str,
    pub version: String,
    pub disk_bytes: u64,
    pub ingest: load::Ingest,
    /// Median ms per query, in `queries::list` order.
    pub medians: Vec<f64>,
    pub answers: Vec<queries::Answer>,
    pub peak_rss: u64,
    pub readback: readback::Readback,
}

/// What every system is measured against.
struct Bench<'a> {
    client: &'a Client,
    qs: &'a [queries::Query],
    reps: usize,
    truth: &'a datasets::Truth,
}

fn measure(
    b: &Bench<'_>,
    mut server: Server,
    ingest: load::Ingest,
    data: &Path,
    version: String,
) -> anyhow::Result<Measured> {
    let Bench {
        client,
        qs,
        reps,
        truth,
    } = *b;
    let name = server.name;
    let disk_bytes = procs::dir_bytes(data)?;
    eprintln!("peers: {name}: {disk_bytes} bytes on disk; querying");
    procs::reset_peak_rss(server.pid())?;
    let mut medians = Vec::new();
    let mut answers = Vec::new();
    for q in qs {
        let t = queries::time(client, &server, q, reps)?;
        eprintln!("peers: {name}: {}: {:.1} ms", q.name, t.median_ms);
        medians.push(t.median_ms);
        answers.push(t.answer);
    }
    let peak_rss = procs::peak_rss(server.pid())?;
    eprintln!("peers: {name}: reading every sample back");
    let readback = readback::read(client, &server, truth)?;
    if let Ok(Some(st)) = server.child.try_wait() {
        anyhow::bail!("{name} exited ({st}) while measured");
    }
    server.stop()?;
    Ok(Measured {
        name,
        version,
        disk_bytes,
        ingest,
        medians,
        answers,
        peak_rss,
        readback,
    })
}

fn run() -> anyhow::Result<()> {
    let a = args()?;
    let bin = find_minetsdb(a.minetsdb.clone())?;
    for p in ["prometheus", "promtool", "victoria-metrics"] {
        if Command::new(p).arg("--help").output().is_err() {
            anyhow::bail!(
                "{p} not found: apt-get install prometheus victoria-metrics (Debian packages)"
            );
        }
    }
    let tmp;
    let work = match &a.work {
        Some(w) => {
            std::fs::create_dir_all(w).with_context(|| format!("creating {}", w.display()))?;
            w.clone()
        }
        None => {
            tmp = tempfile::tempdir().context("creating a work directory")?;
            tmp.path().to_path_buf()
        }
    };
    let reps = a.reps.unwrap_or(match a.scale {
        Scale::Tiny => 3,
        _ => 9,
    });
    eprintln!("peers: generating the {} data sets", a.scale.name());
    let truth = datasets::generate(a.scale);
    let (om, text) = (work.join("input.om"), work.join("input.prom"));
    datasets::write(&truth, &om, &text)?;
    eprintln!(
        "peers: {} series, {} samples",
        truth.series.len(),
        truth.samples()
    );
    let client = Client::new();
    let mut names: Vec<&str> = truth.series.values().map(|s| s.name.as_str()).collect();
    names.dedup();
    let qs = queries::list(truth.start_ms, &names);
    let mut results = Vec::new();
    let b = Bench {
        client: &client,
        qs: &qs,
        reps,
        truth: &truth,
    };

    eprintln!("peers: prometheus: promtool create-blocks, then the server");
    let data = fresh_dir(work.join("prometheus"))?;
    let (server, ingest) = load::prometheus(&om, &data, &work, &client, a.scale != Scale::Tiny)?;
    let v = version(Path::new("prometheus"), "--version");
    results.push(measure(&b, server, ingest, &data, v)?);

    eprintln!("peers: victoriametrics: import, flush, merge");
    let data = fresh_dir(work.join("victoria"))?;
    let (server, ingest) = load::victoria(&text, &data, &work, &client)?;
    // The Debian build prints no -version; its package knows.
    let v = Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "victoria-metrics"])
        .output()
        .ok()
        .map(|o| {
            format!(
                "victoria-metrics {}",
                String::from_utf8_lossy(&o.stdout).trim()
            )
        })
        .unwrap_or_else(|| "victoria-metrics".into());
    results.push(measure(&b, server, ingest, &data, v)?);

    eprintln!("peers: minetsdb: import, compact, serve");
    let data = fresh_dir(work.join("minetsdb"))?;
    let (server, ingest) = load::minetsdb(&bin, &om, &data, &work, &client)?;
    let v = version(&bin, "--version");
    results.push(measure(&b, server, ingest, &data, v)?);

    let r = report::Report {
        scale: a.scale,
        note: a.note,
        reps,
        truth: &truth,
        queries: &qs,
        results: &results,
    };
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let md = r.markdown();
    let json = serde_json::to_string_pretty(&r.json())?;
    let (mdp, jp) = (a.out.join("peers.md"), a.out.join("peers.json"));
    std::fs::write(&mdp, &md).with_context(|| format!("writing {}", mdp.display()))?;
    std::fs::write(&jp, json + "\n").with_context(|| format!("writing {}", jp.display()))?;
    println!("{md}");
    eprintln!("peers: wrote {} and {}", mdp.display(), jp.display());
    Ok(())
}

/// `dir`, emptied: a kept `--work` directory must not hand one run's data
/// to the next (a second import into the same database would be all
/// duplicates, and VictoriaMetrics would hold every sample twice).
fn fresh_dir(dir: PathBuf) -> anyhow::Result<PathBuf> {
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("emptying {}", dir.display())),
    }
    Ok(dir)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peers: {e:#}");
            ExitCode::FAILURE
        }
    }
}
