//! Frames rendered with ratatui's TestBackend from hand-built models:
//! colours follow the thresholds, NO_COLOR drops them, odd sizes render.

use minetsdb_collectors::config::thresholds::{Severity, Thresholds};
use ratatui::buffer::Buffer;
use ratatui::style::Color;

use super::model::{Alert, Gpu, Graded, Model, Pool, Span, Target};
use super::once::{render, to_text};
use super::view::{fmt_hashrate, fmt_temp, Theme, View};

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
        fan: g(0.5, th.fan.grade(0.5)),
        joules_per_mh: Some(120.0 / (hr / 1e6)),
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
}
