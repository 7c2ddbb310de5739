//! A node_exporter-shaped host, scraped every second: per-CPU time
//! counters in USER_HZ ticks, memory gauges in whole pages, network and
//! disk counters in bytes and operations, load averages, filesystem sizes,
//! hwmon temperatures, and `node_time_seconds`, the one series that is
//! noise in every bit. Deterministic in its seed, like the rig simulator.
//!
//! The point is the shape the peers are tuned for (many counters growing
//! by irregular integers, gauges that mostly sit still), not a faithful
//! kernel model.

/// A small deterministic generator (splitmix64); the bench must produce
/// the same bytes on every run, so no OS randomness.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Roughly normal (sum of uniforms), mean 0, deviation 1.
    pub fn normal(&mut self) -> f64 {
        (0..4).map(|_| self.unit()).sum::<f64>() * 3f64.sqrt() - 2.0 * 3f64.sqrt()
    }
}

/// How one series moves.
enum Kind {
    /// An integer count (`ticks`) growing by about `rate * activity` per
    /// second; exposed as `ticks / div` (USER_HZ ticks, ms, bytes).
    Counter {
        ticks: f64,
        rate: f64,
        div: f64,
    },
    /// An integer amount random-walking around `mid` by `step` per second,
    /// within `[lo, hi]`; exposed as `units * quantum`.
    Gauge {
        units: f64,
        mid: f64,
        step: f64,
        lo: f64,
        hi: f64,
        quantum: f64,
    },
    Const(f64),
    /// The host clock in seconds, with sub-microsecond noise.
    Clock,
    /// A load average with this time constant, seconds.
    Load {
        value: f64,
        tau: f64,
    },
}

/// The host: its series (name and labels, `__name__` excluded) and state.
pub struct Node {
    pub series: Vec<(String, Vec<(String, String)>)>,
    kinds: Vec<Kind>,
    rng: Rng,
    last_ms: Option<i64>,
}

const CPUS: usize = 8;

impl Node {
    pub fn new(instance: &str, seed: u64) -> Node {
        let mut n = Node {
            series: Vec::new(),
            kinds: Vec::new(),
            rng: Rng::new(seed),
            last_ms: None,
        };
        let base = |extra: &[(&str, &str)]| {
            let mut l: Vec<(String, String)> = vec![
                ("instance".into(), instance.into()),
                ("job".into(), "node".into()),
            ];
            l.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            l
        };
        let add = |n: &mut Node, name: &str, extra: &[(&str, &str)], kind: Kind| {
            n.series.push((name.to_string(), base(extra)));
            n.kinds.push(kind);
        };
        let counter = |start: f64, rate: f64, div: f64| Kind::Counter {
            ticks: start.round(),
            rate,
            div,
        };
        let gauge = |mid: f64, step: f64, spread: f64, quantum: f64| Kind::Gauge {
            units: mid.round(),
            mid,
            step,
            lo: (mid - spread).max(0.0),
            hi: mid + spread,
            quantum,
        };
        // A mining rig's host idles: the GPUs do the work.
        let modes: [(&str, f64); 8] = [
            ("idle", 92.0),
            ("iowait", 0.4),
            ("irq", 0.2),
            ("nice", 0.0),
            ("softirq", 0.8),
            ("steal", 0.0),
            ("system", 2.5),
            ("user", 4.0),
        ];
        for cpu in 0..CPUS {
            let c = cpu.to_string();
            for (mode, rate) in modes {
                let start = 3.0e7 * rate / 100.0 + 1000.0 * cpu as f64;
                add(
                    &mut n,
                    "node_cpu_seconds_total",
                    &[("cpu", &c), ("mode", mode)],
                    counter(start, rate, 100.0),
                );
            }
        }
        let gib = 1024.0 * 1024.0 * 1024.0 / 4096.0;
        let mem: [(&str, f64, f64); 20] = [
            ("MemTotal", 16.0 * gib, 0.0),
            ("MemFree", 9.0 * gib, 40.0),
            ("MemAvailable", 12.5 * gib, 40.0),
            ("Buffers", 0.3 * gib, 2.0),
            ("Cached", 3.1 * gib, 20.0),
            ("Active", 2.2 * gib, 15.0),
            ("Inactive", 2.9 * gib, 15.0),
            ("Dirty", 300.0, 30.0),
            ("Writeback", 0.0, 0.0),
            ("SwapTotal", 2.0 * gib, 0.0),
            ("SwapFree", 2.0 * gib, 0.0),
            ("Shmem", 0.05 * gib, 1.0),
            ("Slab", 0.25 * gib, 3.0),
            ("SReclaimable", 0.15 * gib, 2.0),
            ("PageTables", 9000.0, 4.0),
            ("Committed_AS", 5.5 * gib, 30.0),
            ("Mapped", 0.4 * gib, 5.0),
            ("AnonPages", 2.0 * gib, 20.0),
            ("KernelStack", 4200.0, 1.0),
            ("VmallocUsed", 12000.0, 2.0),
        ];
        for (m, mid, step) in mem {
            let kind = if step == 0.0 {
                Kind::Const(mid * 4096.0)
            } else {
                gauge(mid, step, mid * 0.05 + 50.0 * step, 4096.0)
            };
            add(&mut n, &format!("node_memory_{m}_bytes"), &[], kind);
        }
        let nics: [(&str, f64); 4] = [("eth0", 1.0), ("lo", 0.3), ("docker0", 0.05), ("wg0", 0.1)];
        for (dev, scale) in nics {
            for dir in ["receive", "transmit"] {
                for (what, rate) in [
                    ("bytes", 40_000.0),
                    ("packets", 120.0),
                    ("errs", 0.0),
                    ("drop", 0.002),
                ] {
                    add(
                        &mut n,
                        &format!("node_network_{dir}_{what}_total"),
                        &[("device", dev)],
                        counter(rate * 3.0e5 * scale, rate * scale, 1.0),
                    );
                }
            }
        }
        for (dev, scale) in [("nvme0n1", 1.0), ("sda", 0.1)] {
            for (name, rate, div) in [
                ("node_disk_reads_completed_total", 2.0, 1.0),
                ("node_disk_writes_completed_total", 12.0, 1.0),
                ("node_disk_read_bytes_total", 40_960.0, 1.0),
                ("node_disk_written_bytes_total", 180_000.0, 1.0),
                ("node_disk_io_time_seconds_total", 8.0, 1000.0),
                ("node_disk_read_time_seconds_total", 1.5, 1000.0),
                ("node_disk_write_time_seconds_total", 9.0, 1000.0),
            ] {
                add(
                    &mut n,
                    name,
                    &[("device", dev)],
                    counter(rate * 3.0e5 * scale, rate * scale, div),
                );
            }
            add(
                &mut n,
                "node_disk_io_now",
                &[("device", dev)],
                gauge(0.0, 0.5, 3.0, 1.0),
            );
        }
        for (name, tau) in [
            ("node_load1", 60.0),
            ("node_load5", 300.0),
            ("node_load15", 900.0),
        ] {
            add(&mut n, name, &[], Kind::Load { value: 0.4, tau });
        }
        let fss: [(&str, &str, &str, f64); 4] = [
            ("/dev/nvme0n1p2", "ext4", "/", 230.0),
            ("/dev/nvme0n1p1", "vfat", "/boot/efi", 0.5),
            ("/dev/sda1", "ext4", "/home", 900.0),
            ("tmpfs", "tmpfs", "/run", 1.6),
        ];
        for (dev, fstype, mp, size_gib) in fss {
            let labels = [("device", dev), ("fstype", fstype), ("mountpoint", mp)];
            let blocks = size_gib * gib;
            add(
                &mut n,
                "node_filesystem_size_bytes",
                &labels,
                Kind::Const(blocks * 4096.0),
            );
            for name in ["node_filesystem_free_bytes", "node_filesystem_avail_bytes"] {
                add(
                    &mut n,
                    name,
                    &labels,
                    gauge(blocks * 0.6, 2.0, blocks * 0.1, 4096.0),
                );
            }
            add(
                &mut n,
                "node_filesystem_files",
                &labels,
                Kind::Const((blocks / 4.0).round()),
            );
            add(
                &mut n,
                "node_filesystem_files_free",
                &labels,
                gauge(blocks / 5.0, 0.3, 1000.0, 1.0),
            );
        }
        for (name, rate) in [
            ("node_context_switches_total", 9000.0),
            ("node_intr_total", 6000.0),
            ("node_forks_total", 8.0),
        ] {
            add(&mut n, name, &[], counter(rate * 3.0e5, rate, 1.0));
        }
        add(&mut n, "node_procs_running", &[], gauge(2.0, 0.7, 3.0, 1.0));
        add(&mut n, "node_procs_blocked", &[], gauge(0.0, 0.2, 1.0, 1.0));
        add(&mut n, "node_boot_time_seconds", &[], Kind::Const(1.7672e9));
        add(&mut n, "node_time_seconds", &[], Kind::Clock);
        for s in 1..=6 {
            let sensor = format!("temp{s}");
            add(
                &mut n,
                "node_hwmon_temp_celsius",
                &[("chip", "platform_coretemp_0"), ("sensor", &sensor)],
                gauge(45_000.0 + 1000.0 * s as f64, 300.0, 8000.0, 0.001),
            );
        }
        for cpu in 0..CPUS {
            let c = cpu.to_string();
            add(
                &mut n,
                "node_cpu_scaling_frequency_hertz",
                &[("cpu", &c)],
                gauge(2_200_000.0, 150_000.0, 1_400_000.0, 1000.0),
            );
        }
        for (name, rate) in [
            ("node_netstat_Tcp_ActiveOpens", 0.3),
            ("node_netstat_Tcp_PassiveOpens", 0.2),
            ("node_netstat_Tcp_RetransSegs", 0.05),
            ("node_netstat_Tcp_InSegs", 90.0),
            ("node_netstat_Tcp_OutSegs", 85.0),
            ("node_netstat_Tcp_InErrs", 0.0),
            ("node_vmstat_pgfault", 3000.0),
            ("node_vmstat_pgmajfault", 0.1),
            ("node_vmstat_pgpgin", 20.0),
            ("node_vmstat_pgpgout", 90.0),
            ("node_vmstat_pswpin", 0.0),
            ("node_vmstat_pswpout", 0.0),
            ("node_vmstat_oom_kill", 0.0),
        ] {
            add(&mut n, name, &[], counter(rate * 3.0e5, rate, 1.0));
        }
        add(
            &mut n,
            "node_netstat_Tcp_CurrEstab",
            &[],
            gauge(25.0, 0.6, 15.0, 1.0),
        );
        add(
            &mut n,
            "node_entropy_available_bits",
            &[],
            gauge(3700.0, 8.0, 300.0, 1.0),
        );
        add(
            &mut n,
            "node_sockstat_TCP_inuse",
            &[],
            gauge(30.0, 0.6, 15.0, 1.0),
        );
        add(
            &mut n,
            "node_sockstat_sockets_used",
            &[],
            gauge(600.0, 1.0, 60.0, 1.0),
        );
        add(
            &mut n,
            "node_nf_conntrack_entries",
            &[],
            gauge(180.0, 2.0, 80.0, 1.0),
        );
        for cpu in 0..CPUS {
            let c = cpu.to_string();
            add(
                &mut n,
                "node_softnet_processed_total",
                &[("cpu", &c)],
                counter(1.0e7, 40.0, 1.0),
            );
            add(
                &mut n,
                "node_softnet_dropped_total",
                &[("cpu", &c)],
                counter(0.0, 0.0005, 1.0),
            );
            // Nanoseconds divided into seconds: floats with noisy low bits,
            // as schedstat's are.
            add(
                &mut n,
                "node_schedstat_running_seconds_total",
                &[("cpu", &c)],
                counter(2.0e15, 6.0e7, 1.0e9),
            );
            add(
                &mut n,
                "node_schedstat_waiting_seconds_total",
                &[("cpu", &c)],
                counter(3.0e14, 9.0e6, 1.0e9),
            );
        }
        n
    }

    /// Advances to `t_ms` and writes every series' value, in `series` order.
    pub fn scrape(&mut self, t_ms: i64, out: &mut Vec<f64>) {
        let dt = self
            .last_ms
            .map_or(1.0, |l| (t_ms - l).max(0) as f64 / 1000.0);
        self.last_ms = Some(t_ms);
        // The host's business: a six-hour cycle and bursts.
        let phase = (t_ms as f64 / 3.6e6 / 6.0) * std::f64::consts::TAU;
        let burst = if self.rng.unit() < 0.02 { 4.0 } else { 1.0 };
        let activity = (1.0 + 0.4 * phase.sin()) * burst;
        out.clear();
        let rng = &mut self.rng;
        for k in &mut self.kinds {
            let v = match k {
                Kind::Counter { ticks, rate, div } => {
                    if *rate > 0.0 {
                        let mean = *rate * dt * activity;
                        let inc = if mean < 1.0 {
                            // Rare events: whole ones, now and then.
                            f64::from(u8::from(rng.unit() < mean))
                        } else {
                            (mean * (1.0 + 0.3 * rng.normal())).max(0.0).round()
                        };
                        *ticks += inc;
                    }
                    *ticks / *div
                }
                Kind::Gauge {
                    units,
                    mid,
                    step,
                    lo,
                    hi,
                    quantum,
                } => {
                    // Most seconds nothing changes; then a step, pulled home.
                    if rng.unit() < 0.3 {
                        let pull = (*mid - *units) * 0.01;
                        *units = (*units + pull + *step * rng.normal() * 2.0)
                            .round()
                            .clamp(*lo, *hi)
                            // round() of a small negative is -0.0; the
                            // kernel's counts have no sign.
                            + 0.0;
                    }
                    // Sub-unit quanta divide, as the kernel's milli-units
                    // are divided into the exporter's floats.
                    if *quantum < 1.0 {
                        *units / (1.0 / *quantum).round()
                    } else {
                        *units * *quantum
                    }
                }
                Kind::Const(v) => *v,
                Kind::Clock => t_ms as f64 / 1000.0 + rng.unit() * 1e-6,
                Kind::Load { value, tau } => {
                    let running = (0.4 * activity + rng.normal() * 0.3).max(0.0);
                    let a = (-dt / *tau).exp();
                    *value = *value * a + running * (1.0 - a);
                    (*value * 100.0).round() / 100.0
                }
            };
            out.push(v);
        }
    }
}
