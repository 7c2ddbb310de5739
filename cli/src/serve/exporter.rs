//! `/metrics`: this machine's live readings, as an exporter serves them.
//!
//! Each request reads the GPUs (NVML, when the config enables it) at that
//! moment, under nvidia_gpu_exporter's names, plus this process's own
//! metrics from `/proc` and `minetsdb_build_info`, in the text format
//! 0.0.4 without timestamps (the scraper stamps them, and can then mark a
//! vanished GPU stale). The config's scrape jobs are not proxied: they
//! are exporters of their own that Prometheus can scrape directly, and
//! serving them here too would double every series.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use minetsdb::{Labels, Metadata, MetricType, Sample};
use minetsdb_collectors::exposition::{Format, Writer};
use minetsdb_collectors::source::{Collection, Source};

use super::http::Response;

/// The sources read per request (one at a time: NVML handles are not
/// shared between concurrent readers).
pub struct Exporter {
    sources: Mutex<Vec<Box<dyn Source>>>,
    start_time_s: f64,
    warned: AtomicBool,
}

impl Exporter {
    /// An exporter of `sources` and this process.
    pub fn new(sources: Vec<Box<dyn Source>>) -> Exporter {
        Exporter {
            sources: Mutex::new(sources),
            start_time_s: process_start_time()
                .unwrap_or_else(|| crate::time::now_ms() as f64 / 1e3),
            warned: AtomicBool::new(false),
        }
    }

    /// The `/metrics` response.
    pub fn respond(&self) -> Response {
        let now = crate::time::now_ms();
        let mut all = Collection::default();
        {
            let mut sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
            for s in sources.iter_mut() {
                match s.collect(now) {
                    Ok(c) => all.extend(c),
                    // No driver: nothing to expose, said once.
                    Err(e) => {
                        if !self.warned.swap(true, Ordering::Relaxed) {
                            eprintln!("minetsdb: warning: /metrics: {e}");
                        }
                    }
                }
            }
        }
        all.extend(self.process(now));
        match render(&all) {
            Ok(body) => Response::new(200, Format::Text004.content_type(), body),
            Err(e) => Response::text(500, format!("writing metrics: {e}\n")),
        }
    }

    fn process(&self, now: i64) -> Collection {
        let mut c = Collection::default();
        let mut put =
            |name: &str, ty: MetricType, help: &str, v: Option<f64>, labels: &[(&str, &str)]| {
                if let (Some(v), Ok(l)) = (v, Labels::new(name, labels)) {
                    c.samples.push((l, Sample::new(now, v)));
                    c.metadata.push((
                        name.to_string(),
                        Metadata {
                            metric_type: ty,
                            unit: String::new(),
                            help: help.to_string(),
                        },
                    ));
                }
            };
        let stat = proc_stat();
        put(
            "process_cpu_seconds_total",
            MetricType::Counter,
            "Total user and system CPU time spent in seconds.",
            stat.as_ref().map(|s| s.cpu_seconds),
            &[],
        );
        put(
            "process_resident_memory_bytes",
            MetricType::Gauge,
            "Resident memory size in bytes.",
            resident_bytes(),
            &[],
        );
        put(
            "process_start_time_seconds",
            MetricType::Gauge,
            "Start time of the process since unix epoch in seconds.",
            Some(self.start_time_s),
            &[],
        );
        put(
            "process_open_fds",
            MetricType::Gauge,
            "Number of open file descriptors.",
            std::fs::read_dir("/proc/self/fd")
                .ok()
                .map(|d| d.count() as f64),
            &[],
        );
        put(
            "minetsdb_build_info",
            MetricType::Gauge,
            "A metric with a constant '1' value labeled by the version of minetsdb.",
            Some(1.0),
            &[("version", env!("CARGO_PKG_VERSION"))],
        );
        c
    }
}

/// Text 0.0.4, families together with their metadata lines.
fn render(c: &Collection) -> std::io::Result<Vec<u8>> {
    let md: HashMap<&str, &Metadata> = c.metadata.iter().map(|(n, m)| (n.as_str(), m)).collect();
    let mut samples: Vec<&(Labels, Sample)> = c.samples.iter().collect();
    samples.sort_by(|a, b| (a.0.metric_name(), &a.0).cmp(&(b.0.metric_name(), &b.0)));
    let mut w = Writer::new(Vec::new(), Format::Text004).without_timestamps();
    for (l, s) in samples {
        let name = l.metric_name();
        let m = md.get(name).copied().or_else(|| {
            ["_total", "_bucket", "_sum", "_count", "_info"]
                .iter()
                .find_map(|suf| name.strip_suffix(suf).and_then(|f| md.get(f).copied()))
        });
        w.write_series(m, l, std::slice::from_ref(s))?;
    }
    w.finish()
}

/// What `/proc/self/stat` tells: CPU time, and start time in clock ticks
/// since boot.
struct Stat {
    cpu_seconds: f64,
    start_ticks: f64,
}

/// Clock ticks per second of `/proc` times. Prometheus' procfs assumes
/// 100 too (USER_HZ is 100 on every Linux architecture it supports), which
/// spares us a libc call.
const USER_HZ: f64 = 100.0;

fn proc_stat() -> Option<Stat> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields
    // are counted from after its last ')'.
    let rest = s.get(s.rfind(')')? + 1..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state): utime is field 14, stime 15, starttime 22.
    let num = |i: usize| f.get(i - 3).and_then(|x| x.parse::<f64>().ok());
    Some(Stat {
        cpu_seconds: (num(14)? + num(15)?) / USER_HZ,
        start_ticks: num(22)?,
    })
}

fn resident_bytes() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = s
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse::<f64>()
        .ok()?;
    Some(kb * 1024.0)
}

/// Boot time (`btime` of `/proc/stat`) plus the process's start in ticks.
fn process_start_time() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let btime: f64 = s
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(btime + proc_stat()?.start_ticks / USER_HZ)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_metrics_and_gpus_in_text_format() {
        use minetsdb_collectors::nvml::{FakeGpus, GpuJob};
        let gpus: Box<dyn Source> = Box::new(GpuJob::new("rig1", || Ok(FakeGpus::rig())));
        let e = Exporter::new(vec![gpus]);
        let r = e.respond();
        assert_eq!(r.status, 200);
        let text = String::from_utf8(r.body).unwrap();
        for want in [
            "# TYPE process_cpu_seconds_total counter\n",
            "\nprocess_cpu_seconds_total ",
            "# TYPE process_resident_memory_bytes gauge\n",
            "minetsdb_build_info{version=\"",
            "nvidia_smi_power_draw_watts{",
        ] {
            assert!(text.contains(want), "{want} missing from\n{text}");
        }
        let start: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("process_start_time_seconds "))
            .unwrap()
            .parse()
            .unwrap();
        let now = crate::time::now_ms() as f64 / 1e3;
        assert!(
            start <= now + 1.0 && start > now - 3600.0,
            "{start} vs {now}"
        );
        // No timestamps: every sample line is `name{labels} value`.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let after = l.rsplit_once('}').map(|x| x.1).unwrap_or(l);
            assert_eq!(
                after.split_whitespace().count(),
                if after == l { 2 } else { 1 },
                "{l}"
            );
        }
    }
}
