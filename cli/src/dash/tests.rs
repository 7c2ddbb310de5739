//! Frames rendered with ratatui's TestBackend from hand-built models:
//! colours follow the thresholds, NO_COLOR drops them, odd sizes render.

use minetsdb_collectors::config::thresholds::{Severity, Thresholds};
use ratatui::buffer::Buffer;
use ratatui::style::Color;

use super::model::{Alert, Gpu, Graded, Model, Pool, Span, Target};
use super::once::{render, to_text};
use super::view::{fmt_age, fmt_hashrate, fmt_pct, fmt_temp, Theme, View, EXTRAS_WIDTH};

fn gpu(i: usize, temp: f64, th: &Thresholds) -> Gpu {
    let g = |value: f64, severity: Severity| Some(Graded { value, severity });
    let hr = 60e6 + i as f64 * 1e6;
    Gpu {
        instance: "rig".into(),
        id: format!("GPU-{i:04}"),
        index: Some(i.to_string()),
        name: format!("Card{i}"),
        hashrate: g(hr, th.hashrate.grade(1.0)),
        hashrate_avg_1h: Some(hr),
        power: g(120.0, th.power.grade(120.0 / 130.0)),
        power_limit: Some(130.0),
        temperature: g(temp, th.temperature.grade(temp)),
        memory_temperature: g(temp + 20.0, th.memory_temperature.grade(temp + 20.0)),
        fan: g(0.5, th.fan.grade(0.5)),
        joules_per_mh: Some(120.0 / (hr / 1e6)),
        bad_shares: g(0.004, th.bad_shares.grade(0.004)),
        shares_1h: Some(250.0),
        last_share_ms: Some((120_000, th.no_share.grade(120_000.0))),
        spark_hashrate: (0..160).map(|k| Some(hr + k as f64)).collect(),
        spark_temperature: vec![Some(temp); 160],
        spark_power: vec![None; 160],
    }
}

/// Three cards at 91, 82 and 60 °C, graded by the default thresholds.
fn model() -> Model {
    let th = Thresholds::default();
    Model {
        at: 1_767_225_600_000,
        span: Span::H6,
        gpus: [91.0, 82.0, 60.0]
            .iter()
            .enumerate()
            .map(|(i, t)| gpu(i, *t, &th))
            .collect(),
        pools: vec![Pool {
            instance: "rig".into(),
            pool: "ethermine".into(),
            coin: "ETH".into(),
            effective: Some(180e6),
            reported: Some(181e6),
            unpaid: Some(0.0123),
            unpaid_flat: Some((60_000, Severity::Normal)),
            last_share_ms: Some((300_000, Severity::Normal)),
        }],
        targets: vec![Target {
            job: "miner".into(),
            url: "http://127.0.0.1:4067/metrics".into(),
            up: false,
            age_ms: 5_000,
            error: Some("connection refused".into()),
            severity: Severity::Critical,
            down_ms: Some(3_600_000),
        }],
        targets_error: None,
        alerts: vec![Alert {
            name: "GpuHot".into(),
            firing: true,
            severity: Some("critical".into()),
            labels: "uuid=GPU-0000".into(),
        }],
    }
}

fn frame(m: &Model, color: bool, w: u16, h: u16) -> Buffer {
    let v = View {
        model: m,
        selected: 0,
        db: "/db",
        theme: Theme { color },
        error: None,
    };
    render(&v, w, h).expect("renders")
}

/// Every (x, y) where `text` starts in the buffer.
fn find(buf: &Buffer, text: &str) -> Vec<(u16, u16)> {
    let a = buf.area;
    let mut hits = Vec::new();
    for y in a.top()..a.bottom() {
        for x in a.left()..a.right() {
            let mut s = String::new();
            let mut xx = x;
            while s.len() < text.len() && xx < a.right() {
                s.push_str(buf[(xx, y)].symbol());
                xx += 1;
            }
            if s.starts_with(text) {
                hits.push((x, y));
            }
        }
    }
    hits
}

fn fg_of(buf: &Buffer, text: &str) -> Color {
    let hits = find(buf, text);
    let &(x, y) = hits
        .first()
        .unwrap_or_else(|| panic!("{text:?} not in frame:\n{}", to_text(buf, false)));
    buf[(x, y)].fg
}

#[test]
fn temperatures_coloured_by_thresholds() {
    let m = model();
    let buf = frame(&m, true, 120, 40);
    assert_eq!(fg_of(&buf, &fmt_temp(91.0)), Color::Red);
    assert_eq!(fg_of(&buf, &fmt_temp(82.0)), Color::Yellow);
    assert_eq!(fg_of(&buf, &fmt_temp(60.0)), Color::Green);
    // The state column says it in words too.
    let text = to_text(&buf, false);
    assert!(
        text.contains("CRIT") && text.contains("WARN") && text.contains("OK"),
        "{text}"
    );
}

#[test]
fn colours_follow_configured_thresholds_not_constants() {
    let mut th = Thresholds::default();
    th.temperature.warning = 50.0;
    th.temperature.critical = 55.0;
    let mut m = model();
    m.gpus = vec![gpu(0, 60.0, &th)];
    let buf = frame(&m, true, 120, 40);
    assert_eq!(fg_of(&buf, &fmt_temp(60.0)), Color::Red);
}

#[test]
fn no_color_means_no_colour() {
    let m = model();
    let buf = frame(&m, false, 120, 40);
    for c in &buf.content {
        assert_eq!(c.fg, Color::Reset, "{:?} has a colour", c.symbol());
        assert_eq!(c.bg, Color::Reset, "{:?} has a background", c.symbol());
    }
    assert!(!to_text(&buf, false).contains('\x1b'));
    // The coloured frame, printed for a terminal, has SGR colours.
    assert!(to_text(&frame(&m, true, 120, 40), true).contains("\x1b[31m"));
}

#[test]
fn shows_every_panel() {
    let m = model();
    let text = to_text(&frame(&m, true, 120, 40), false);
    for want in [
        "Card0".to_string(),
        "Card2".to_string(),
        fmt_hashrate(61e6),
        "120/130 W".to_string(),
        "50 %".to_string(),
        "2.00".to_string(), // 120 W / 60 MH/s
        "0.012300 ETH".to_string(),
        "DOWN miner".to_string(),
        "connection refused".to_string(),
        "FIRING GpuHot critical".to_string(),
        "range 6h".to_string(),
    ] {
        assert!(text.contains(&want), "{want:?} missing from:\n{text}");
    }
}

#[test]
fn selection_moves_the_marker() {
    let m = model();
    for sel in 0..3 {
        let v = View {
            model: &m,
            selected: sel,
            db: "/db",
            theme: Theme { color: false },
            error: None,
        };
        let text = to_text(&render(&v, 120, 40).expect("renders"), false);
        let marked: Vec<&str> = text.lines().filter(|l| l.contains("│> ")).collect();
        assert_eq!(marked.len(), 1, "{text}");
        assert!(marked[0].contains(&format!("Card{sel}")), "{text}");
        // The detail panel names the selected card.
        assert!(
            text.contains(&format!(" GPU {sel} Card{sel} rig ")),
            "{text}"
        );
    }
}

#[test]
fn odd_sizes_render_without_panic() {
    let m = model();
    for (w, h) in [
        (1, 1),
        (40, 12),
        (71, 40),
        (72, 16),
        (80, 24),
        (200, 60),
        (400, 10),
    ] {
        let text = to_text(&frame(&m, true, w, h), false);
        if w >= 40 && h >= 12 {
            // Small terminals still show the key numbers.
            assert!(text.contains(&fmt_temp(91.0)), "{w}x{h}:\n{text}");
        }
    }
    let small = to_text(&frame(&m, true, 40, 12), false);
    assert!(small.contains("too small"), "{small}");
    let big = to_text(&frame(&m, true, 200, 60), false);
    assert!(
        !big.contains("too small") && big.contains("GpuHot"),
        "{big}"
    );
    // Without any data, a note instead of an empty table.
    let mut empty = model();
    empty.gpus.clear();
    empty.pools.clear();
    empty.alerts.clear();
    let text = to_text(&frame(&empty, true, 100, 30), false);
    assert!(
        text.contains("no GPU series") && text.contains("no alerts"),
        "{text}"
    );
}

/// The card with memory at 105 °C, 6 % bad shares (of 300) and no
/// accepted share for 25 minutes: warning, critical, warning by default.
fn troubled() -> Model {
    let th = Thresholds::default();
    let mut m = model();
    let g = &mut m.gpus[2];
    g.memory_temperature = Some(Graded {
        value: 105.0,
        severity: th.memory_temperature.grade(105.0),
    });
    g.bad_shares = Some(Graded {
        value: 0.06,
        severity: th.bad_shares.grade(0.06),
    });
    g.shares_1h = Some(300.0);
    g.last_share_ms = Some((25 * 60_000, th.no_share.grade(25.0 * 60_000.0)));
    m
}

#[test]
fn memory_temperature_bad_shares_and_last_share_in_the_table() {
    let m = troubled();
    let buf = frame(&m, true, 120, 40);
    let text = to_text(&buf, false);
    let header = text.lines().find(|l| l.contains("J/MH")).unwrap();
    assert!(
        header.contains(" mem ") && header.contains(" bad ") && header.contains(" share "),
        "{text}"
    );
    let row = text.lines().find(|l| l.contains("Card2")).unwrap();
    for want in ["105 °C", "6.0 %", "25m"] {
        assert!(row.contains(want), "{want:?} not in {row:?}");
    }
    assert_eq!(fg_of(&buf, "105 °C"), Color::Yellow);
    assert_eq!(fg_of(&buf, &fmt_pct(0.06)), Color::Red);
    assert_eq!(fg_of(&buf, &fmt_age(25 * 60_000)), Color::Yellow);
    // The worst of them makes the row's state, though temp is fine.
    assert!(row.contains("CRIT"), "{row}");
    // Cards below the bounds stay green.
    assert_eq!(fg_of(&buf, &fmt_pct(0.004)), Color::Green);
    // Too few shares to say: the rule stays quiet and so does the colour.
    let mut few = troubled();
    few.gpus[2].bad_shares = Some(Graded {
        value: 0.3,
        severity: Severity::Normal,
    });
    assert_eq!(fg_of(&frame(&few, true, 120, 40), "30 %"), Color::Green);
}

#[test]
fn narrow_frames_keep_the_table_and_move_the_extras_to_the_detail_panel() {
    let mut m = troubled();
    m.gpus.swap(0, 2);
    for w in [80, EXTRAS_WIDTH - 1] {
        let buf = frame(&m, true, w, 24);
        let text = to_text(&buf, false);
        let header = text.lines().find(|l| l.contains("J/MH")).unwrap();
        assert!(!header.contains(" bad "), "{w}: {text}");
        // Every card's name and readings are still whole.
        for name in ["Card0", "Card1", "Card2"] {
            assert!(text.contains(name), "{w}: {text}");
        }
        assert!(text.contains(&fmt_temp(91.0)), "{w}: {text}");
        // The selected card's detail has all three.
        assert!(text.contains("mem 105 °C"), "{w}: {text}");
        assert!(
            text.contains("bad 6.0 % of 300  last share 25m ago"),
            "{w}: {text}"
        );
        assert_eq!(fg_of(&buf, "bad 6.0 %"), Color::Red);
        assert_eq!(fg_of(&buf, "last share 25m"), Color::Yellow);
        assert!(text.lines().all(|l| l.chars().count() <= w as usize));
    }
    let wide = to_text(&frame(&m, true, EXTRAS_WIDTH, 24), false);
    let header = wide.lines().find(|l| l.contains("J/MH")).unwrap();
    assert!(header.contains(" bad "), "{wide}");
}

#[test]
fn missing_share_readings_show_a_dash() {
    let mut m = model();
    for g in &mut m.gpus {
        g.memory_temperature = None;
        g.bad_shares = None;
        g.shares_1h = None;
        g.last_share_ms = None;
    }
    let text = to_text(&frame(&m, false, 120, 40), false);
    assert!(text.contains("mem —"), "{text}");
    assert!(text.contains("bad —  last share —"), "{text}");
    let row = text.lines().find(|l| l.contains("Card1")).unwrap();
    assert_eq!(row.matches('—').count(), 3, "{row}");
}

#[test]
fn pools_show_the_last_share() {
    let th = Thresholds::default();
    let mut m = model();
    m.pools[0].last_share_ms = Some((90 * 60_000, th.no_share.grade(90.0 * 60_000.0)));
    let buf = frame(&m, true, 120, 40);
    assert_eq!(fg_of(&buf, "last share 1h ago"), Color::Red);
}

/// `gather` over a small database written here: joins, the AMD edge
/// sensor, grading, flat balance and target downtime.
mod gather {
    use minetsdb::{Db, Labels, Options, Sample};
    use minetsdb_collectors::config::thresholds::{Severity, Thresholds};
    use minetsdb_collectors::health::{HealthFile, TargetHealth};

    use crate::dash::model::{gather, Span};

    const AT: i64 = 1_767_225_600_000;
    const MIN: i64 = 60_000;

    /// One sample a minute over the 4 hours before `AT`, by `f(minutes ago)`.
    fn put(db: &Db, name: &str, labels: &[(&str, &str)], f: impl Fn(i64) -> f64) {
        let r = db.series_ref(&Labels::new(name, labels).unwrap()).unwrap();
        let batch: Vec<_> = (0..=240)
            .rev()
            .map(|ago| (r, Sample::new(AT - ago * MIN, f(ago))))
            .collect();
        db.append(&batch).unwrap();
    }

    #[test]
    fn joins_and_grades() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        let nv = [("instance", "rig"), ("uuid", "GPU-A"), ("name", "Card A")];
        let mut info = nv.to_vec();
        info.push(("index", "3"));
        put(&db, "nvidia_smi_gpu_info", &info, |_| 1.0);
        put(&db, "nvidia_smi_temperature_gpu", &nv, |_| 85.0);
        put(&db, "nvidia_smi_fan_speed_ratio", &nv, |_| 0.96);
        put(&db, "nvidia_smi_power_draw_watts", &nv, |_| 100.0);
        put(&db, "nvidia_smi_enforced_power_limit_watts", &nv, |_| 100.0);
        let mut miner = nv.to_vec();
        miner.push(("miner", "trex"));
        // 100 MH/s for hours, then 40 MH/s now: far below its 1 h average.
        put(&db, "miner_hashrate_hashes_per_second", &miner, |ago| {
            if ago == 0 {
                40e6
            } else {
                100e6
            }
        });
        let amd = [("instance", "rig"), ("card", "card1"), ("name", "RX 6800")];
        put(&db, "amdgpu_gpu_info", &amd, |_| 1.0);
        let sensor = |s| {
            let mut l = amd.to_vec();
            l.push(("sensor", s));
            l
        };
        put(&db, "amdgpu_temperature_celsius", &sensor("edge"), |_| 70.0);
        put(
            &db,
            "amdgpu_temperature_celsius",
            &sensor("junction"),
            |_| 95.0,
        );
        put(&db, "amdgpu_power_draw_watts", &amd, |_| 150.0);
        put(&db, "amdgpu_power_limit_watts", &amd, |_| 200.0);
        let pool = [("instance", "rig"), ("pool", "p"), ("coin", "ETC")];
        // Grew until 200 minutes ago, flat since.
        put(&db, "pool_unpaid_balance", &pool, |ago| {
            1.0 - (ago.max(200) as f64) / 1000.0
        });
        let target = [("job", "trex"), ("instance", "127.0.0.1:4067")];
        put(&db, "up", &target, |ago| if ago > 20 { 1.0 } else { 0.0 });
        HealthFile::new(dir.path())
            .update(
                "trex",
                &[TargetHealth {
                    job: "trex".into(),
                    url: "http://127.0.0.1:4067/metrics".into(),
                    labels: vec![("instance".into(), "127.0.0.1:4067".into())],
                    up: false,
                    last_scrape_ms: AT - 5000,
                    duration_seconds: 0.0,
                    samples: 0,
                    error: Some("refused".into()),
                }],
            )
            .unwrap();

        let th = Thresholds::default();
        let m = gather(&db, AT, Span::H1, &th).unwrap();
        assert_eq!(m.gpus.len(), 2, "{:#?}", m.gpus);
        let a = &m.gpus[0];
        assert_eq!(
            (a.id.as_str(), a.index.as_deref(), a.name.as_str()),
            ("GPU-A", Some("3"), "Card A")
        );
        let sev = |g: Option<super::Graded>| g.map(|g| (g.value, g.severity));
        assert_eq!(sev(a.temperature), Some((85.0, th.temperature.grade(85.0))));
        assert_eq!(sev(a.temperature).map(|x| x.1), Some(Severity::Warning));
        assert_eq!(sev(a.fan), Some((0.96, Severity::Critical)));
        assert_eq!(sev(a.power), Some((100.0, th.power.grade(1.0))));
        assert_eq!(sev(a.hashrate).map(|x| x.1), Some(Severity::Critical));
        assert_eq!(a.joules_per_mh, Some(100.0 / 40.0));
        assert_eq!(a.severity(), Severity::Critical);
        // The last sparkline slot is now; the hour before is 100 MH/s.
        assert_eq!(a.spark_hashrate.last(), Some(&Some(40e6)));
        assert_eq!(a.spark_hashrate.first(), Some(&Some(100e6)));

        let b = &m.gpus[1];
        assert_eq!((b.id.as_str(), b.name.as_str()), ("card1", "RX 6800"));
        assert_eq!(
            sev(b.temperature),
            Some((70.0, Severity::Normal)),
            "edge, not junction"
        );
        assert_eq!(b.power_limit, Some(200.0));
        assert_eq!(b.hashrate, None);

        assert_eq!(m.pools.len(), 1);
        let p = &m.pools[0];
        assert_eq!(p.unpaid, Some(0.8));
        assert_eq!(
            p.unpaid_flat,
            Some((200 * MIN, th.unpaid_flat.grade((200 * MIN) as f64)))
        );
        assert_eq!(p.unpaid_flat.map(|x| x.1), Some(Severity::Warning));

        assert_eq!(m.targets.len(), 1);
        let t = &m.targets[0];
        // Last up 21 minutes ago.
        assert_eq!((t.up, t.down_ms), (false, Some(21 * MIN)));
        assert_eq!(t.severity, Severity::Critical);
        assert!(m.alerts.is_empty());
    }

    /// A miner that names cards by PCI address only (GMiner, lolMiner) on
    /// an NVIDIA card and an AMD card, one that names them by its own
    /// index only (TeamRedMiner) on another AMD card; share counters and
    /// memory temperature; a pool's last share.
    #[test]
    fn shares_memory_temperature_and_pci_joins() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        let nv = [("instance", "rig"), ("uuid", "GPU-A"), ("name", "Card A")];
        let mut info = nv.to_vec();
        info.extend([("index", "0"), ("pci_bus_id", "00000000:01:00.0")]);
        put(&db, "nvidia_smi_gpu_info", &info, |_| 1.0);
        put(&db, "nvidia_smi_power_draw_watts", &nv, |_| 100.0);
        let gminer = |pci: &'static str| {
            vec![
                ("instance", "rig"),
                ("miner", "gminer"),
                ("gpu", "0"),
                ("pci_bus_id", pci),
            ]
        };
        let a = gminer("00000000:01:00.0");
        put(&db, "miner_hashrate_hashes_per_second", &a, |_| 50e6);
        put(&db, "miner_memory_temperature_celsius", &a, |_| 104.0);
        // A share a minute until half an hour ago, none since; a stale one
        // every ten minutes.
        put(&db, "miner_shares_accepted_total", &a, |ago| {
            (1000 + 240 - ago.max(30)) as f64
        });
        put(&db, "miner_shares_rejected_total", &a, |_| 0.0);
        put(&db, "miner_shares_stale_total", &a, |ago| {
            ((240 - ago) / 10) as f64
        });

        for (card, pci) in [("card1", "0000:03:00.0"), ("card2", "0000:04:00.0")] {
            let l = [("instance", "rig"), ("card", card), ("pci_bus_id", pci)];
            put(&db, "amdgpu_gpu_info", &l, |_| 1.0);
            put(&db, "amdgpu_power_draw_watts", &l[..2], |_| 150.0);
        }
        // lolMiner writes the address as lspci does; the collector
        // normalises it to nvidia-smi's form.
        let lol = [
            ("instance", "rig"),
            ("miner", "lolminer"),
            ("gpu", "0"),
            ("pci_bus_id", "00000000:03:00.0"),
        ];
        put(&db, "miner_hashrate_hashes_per_second", &lol, |_| 30e6);
        let trm = [("instance", "rig"), ("miner", "teamredminer"), ("gpu", "1")];
        put(&db, "miner_hashrate_hashes_per_second", &trm, |_| 40e6);
        put(&db, "miner_shares_accepted_total", &trm, |ago| {
            (240 - ago) as f64
        });

        let pool = [("instance", "rig"), ("pool", "p"), ("coin", "ETC")];
        put(&db, "pool_unpaid_balance", &pool, |_| 1.0);
        put(&db, "pool_last_share_timestamp_seconds", &pool, |ago| {
            ((AT - ago * MIN) / 1000 - 25 * 60) as f64
        });

        let th = Thresholds::default();
        let m = gather(&db, AT, Span::H1, &th).unwrap();
        let ids: Vec<&str> = m.gpus.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(ids, ["GPU-A", "card1", "card2"], "{:#?}", m.gpus);
        let (a, c1, c2) = (&m.gpus[0], &m.gpus[1], &m.gpus[2]);

        // The PCI join: GMiner's series on the NVIDIA card.
        assert_eq!(a.hashrate.map(|h| h.value), Some(50e6));
        assert_eq!(a.joules_per_mh, Some(100.0 / 50.0));
        assert_eq!(
            a.memory_temperature,
            Some(super::Graded {
                value: 104.0,
                severity: Severity::Warning
            })
        );
        // What BadSharesHigh computes, at the same instant.
        let q = |e: &str| match db.query_instant(e, AT).unwrap() {
            minetsdb::promql::Value::Vector(v) => {
                let mine: Vec<f64> = v
                    .iter()
                    .filter(|s| s.metric.get("miner") == Some("gminer"))
                    .map(|s| s.sample.v)
                    .collect();
                assert_eq!(mine.len(), 1, "{e}: {v:?}");
                mine[0]
            }
            other => panic!("{e}: {other:?}"),
        };
        use minetsdb_collectors::alerts::defaults;
        let bad = q(&defaults::bad_shares_1h());
        let all = q(&defaults::all_shares_1h());
        let b = a.bad_shares.unwrap();
        assert_eq!(b.value, bad / all);
        assert_eq!(a.shares_1h, Some(all));
        assert!(all >= f64::from(defaults::MIN_SHARES), "{all}");
        assert_eq!(b.severity, th.bad_shares.grade(bad / all));
        assert_eq!(b.severity, Severity::Critical, "{}", b.value);
        // Last change half an hour ago: past the 20-minute warning.
        assert_eq!(a.last_share_ms, Some((30 * MIN, Severity::Warning)));
        assert_eq!(a.severity(), Severity::Critical);

        // The AMD card joined by its PCI address.
        assert_eq!(c1.hashrate.map(|h| h.value), Some(30e6));
        assert_eq!(c1.joules_per_mh, Some(150.0 / 30.0));
        assert_eq!(c1.last_share_ms, None, "lolMiner here has no counter");
        // TeamRedMiner's index is no card number: no hashrate, no guess.
        assert_eq!(c2.hashrate, None);
        assert_eq!(c2.joules_per_mh, None);
        assert_eq!(c2.last_share_ms, None);
        assert_eq!(c2.bad_shares, None);

        assert_eq!(m.pools.len(), 1);
        assert_eq!(
            m.pools[0].last_share_ms,
            Some((25 * MIN, Severity::Warning))
        );
    }
}
