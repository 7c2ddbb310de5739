//! Processes: the three servers on 127.0.0.1 (started, waited for,
//! stopped by PID), and what /proc says about them and about our own
//! finished children.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::http::Client;

/// Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`).
fn clk_tck() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|&t| t > 0.0)
        .unwrap_or(100.0)
}

/// Fields of /proc/PID/stat after the command name (which may hold spaces).
fn stat_fields(pid: &str) -> anyhow::Result<Vec<u64>> {
    let p = format!("/proc/{pid}/stat");
    let s = std::fs::read_to_string(&p).with_context(|| format!("reading {p}"))?;
    let rest = s
        .rfind(')')
        .map(|i| &s[i + 1..])
        .with_context(|| format!("{p}: no ')' after the command name"))?;
    // Field 3 (state) is a letter; number the rest from there.
    Ok(rest
        .split_whitespace()
        .map(|f| f.parse::<u64>().unwrap_or(0))
        .collect())
}

/// User + system CPU seconds of process `pid` so far.
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let f = stat_fields(&pid.to_string())?;
    // After ')' field index 0 is stat field 3; utime is 14, stime 15.
    let (u, s) = (f.get(11).copied(), f.get(12).copied());
    match (u, s) {
        (Some(u), Some(s)) => Ok((u + s) as f64 / clk_tck()),
        _ => anyhow::bail!("/proc/{pid}/stat: too few fields"),
    }
}

/// CPU seconds of this process' children that have been waited for
/// (cutime + cstime): the difference around one child is its CPU.
pub fn children_cpu_seconds() -> anyhow::Result<f64> {
    let f = stat_fields("self")?;
    match (f.get(13).copied(), f.get(14).copied()) {
        (Some(u), Some(s)) => Ok((u + s) as f64 / clk_tck()),
        _ => anyhow::bail!("/proc/self/stat: too few fields"),
    }
}

/// Peak resident set of `pid` (VmHWM), bytes.
pub fn peak_rss(pid: u32) -> anyhow::Result<u64> {
    let p = format!("/proc/{pid}/status");
    let s = std::fs::read_to_string(&p).with_context(|| format!("reading {p}"))?;
    let kb = s
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .with_context(|| format!("{p}: no VmHWM"))?;
    Ok(kb * 1024)
}

/// Resets `pid`'s VmHWM to its current RSS, so the next reading is the
/// peak of what it did since (loading is not "answering").
pub fn reset_peak_rss(pid: u32) -> anyhow::Result<()> {
    let p = format!("/proc/{pid}/clear_refs");
    std::fs::write(&p, "5").with_context(|| format!("writing {p}"))
}

/// Sum of the sizes of every file under `dir`.
pub fn dir_bytes(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let e = e.with_context(|| format!("listing {}", dir.display()))?;
        let md = e.metadata()?;
        total += if md.is_dir() {
            dir_bytes(&e.path())?
        } else {
            md.len()
        };
    }
    Ok(total)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")
        .context("binding a loopback port")?
        .local_addr()?
        .port())
}

/// A server we started; stopped (SIGTERM by PID, then SIGKILL) on drop.
pub struct Server {
    pub name: &'static str,
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn start(
        name: &'static str,
        program: &Path,
        args: Vec<String>,
        work: &Path,
        ready: &str,
        client: &Client,
    ) -> anyhow::Result<Server> {
        let log = work.join(format!("{name}.log"));
        let f =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let child = Command::new(program)
            .args(&args)
            // Not the user's config.toml: nothing to collect or export.
            .env("XDG_CONFIG_HOME", work.join("no-config"))
            .stdin(Stdio::null())
            .stdout(f.try_clone()?)
            .stderr(f)
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        let port = args
            .iter()
            .find_map(|a| {
                a.rsplit_once("127.0.0.1:")
                    .and_then(|(_, p)| p.parse().ok())
            })
            .context("no 127.0.0.1:PORT in the arguments")?;
        let mut s = Server {
            name,
            child,
            port,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if client.get_text(&s.url(ready)).is_ok() {
                return Ok(s);
            }
            if let Ok(Some(st)) = s.child.try_wait() {
                anyhow::bail!(
                    "{name} exited ({st}) before it was ready; see {}",
                    s.log.display()
                );
            }
            if Instant::now() > deadline {
                anyhow::bail!("{name} not ready in 120 s; see {}", s.log.display());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn prometheus(data: &Path, work: &Path, client: &Client) -> anyhow::Result<Server> {
        let cfg = work.join("prometheus.yml");
        // Nothing to scrape: the data is all backfilled.
        std::fs::write(&cfg, "global:\n  scrape_interval: 1m\n")
            .with_context(|| format!("writing {}", cfg.display()))?;
        let port = free_port()?;
        let args = vec![
            format!("--config.file={}", cfg.display()),
            format!("--storage.tsdb.path={}", data.display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--storage.tsdb.retention.time=100y".into(),
            // The full count reads every sample; the default 50M would
            // cap the comparison, not Prometheus.
            "--query.max-samples=1000000000".into(),
            "--query.timeout=10m".into(),
        ];
        Server::start(
            "prometheus",
            Path::new("prometheus"),
            args,
            work,
            "/-/ready",
            client,
        )
    }

    pub fn victoria(data: &Path, work: &Path, client: &Client) -> anyhow::Result<Server> {
        let port = free_port()?;
        let args = vec![
            format!("-httpListenAddr=127.0.0.1:{port}"),
            format!("-storageDataPath={}", data.display()),
            "-retentionPeriod=100y".into(),
            // Repeated queries must be computed, not served from VM's
            // rollup result cache (the others have none).
            "-search.disableCache".into(),
            "-search.maxQueryDuration=10m".into(),
            "-search.maxSamplesPerQuery=10000000000".into(),
            "-search.maxSamplesPerSeries=1000000000".into(),
            "-search.maxPointsPerTimeseries=1000000".into(),
        ];
        Server::start(
            "victoriametrics",
            Path::new("victoria-metrics"),
            args,
            work,
            "/health",
            client,
        )
    }

    pub fn minetsdb(bin: &Path, db: &Path, work: &Path, client: &Client) -> anyhow::Result<Server> {
        let port = free_port()?;
        let args = vec![
            "serve".into(),
            "--db".into(),
            db.display().to_string(),
            format!("--listen=127.0.0.1:{port}"),
            "--query-max-points=1000000000".into(),
            "--query-timeout=10m".into(),
        ];
        Server::start("minetsdb", bin, args, work, "/-/ready", client)
    }

    /// SIGTERM by PID, up to 30 s to exit, then SIGKILL.
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.terminate()
    }

    fn terminate(&mut self) -> anyhow::Result<()> {
        if let Ok(Some(_)) = self.child.try_wait() {
            return Ok(());
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child
            .kill()
            .with_context(|| format!("killing {}", self.name))?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.terminate();
    }
}

/// Runs `cmd` to completion; returns (wall s, CPU s) or the error with
/// the tail of its output.
pub fn run_measured(cmd: &mut Command, what: &str) -> anyhow::Result<(f64, f64)> {
    let cpu0 = children_cpu_seconds()?;
    let t0 = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {what}"))?;
    let wall = t0.elapsed().as_secs_f64();
    let cpu = children_cpu_seconds()? - cpu0;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: String = err
            .chars()
            .rev()
            .take(2000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        anyhow::bail!("{what} failed ({}): {tail}", out.status);
    }
    Ok((wall, cpu))
}
