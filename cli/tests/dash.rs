//! `minetsdb dash`: `--once` frames of the demo database checked against
//! what `minetsdb query` says at the same instant, and the live dashboard
//! driven under tmux (keys, selection, range, quit, terminal restored).
//!
//! The number formats the frame uses are documented in
//! `cli/src/dash/view.rs`: hashrate with an SI prefix and two decimals,
//! power `P/L W` and temperature `T °C` to the unit, fan in whole percent,
//! J/MH with two decimals, balance with six.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use minetsdb_collectors::health::{HealthFile, TargetHealth};
use serde_json::Value;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_minetsdb"));
    // No user config (its thresholds) and no colour unless a test asks.
    c.env("XDG_CONFIG_HOME", "/nonexistent-minetsdb-test")
        .env_remove("NO_COLOR");
    c
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `query EXPR --time T --format json`: each result's labels, and the
/// result itself.
fn query_json(db: &Path, expr: &str, t: &str) -> Vec<(serde_json::Map<String, Value>, Value)> {
    let text = ok(bin()
        .args(["query", expr, "--format", "json", "--time", t, "--db"])
        .arg(db)
        .output()
        .unwrap());
    let v: Value = serde_json::from_str(&text).unwrap();
    v["result"]
        .as_array()
        .unwrap_or_else(|| panic!("{expr}: no result in {text}"))
        .iter()
        .map(|s| (s["metric"].as_object().unwrap().clone(), s.clone()))
        .collect()
}

/// `query EXPR --time T --format json`: (labels, value) per series.
fn query(db: &Path, expr: &str, t: &str) -> Vec<(serde_json::Map<String, Value>, f64)> {
    query_json(db, expr, t)
        .into_iter()
        .map(|(m, s)| {
            let v: f64 = s["value"][1].as_str().unwrap().parse().unwrap();
            (m, v)
        })
        .collect()
}

fn one(db: &Path, expr: &str, t: &str, uuid: &str) -> f64 {
    let hits: Vec<f64> = query(db, expr, t)
        .into_iter()
        .filter(|(m, _)| m.get("uuid").and_then(Value::as_str) == Some(uuid))
        .map(|x| x.1)
        .collect();
    assert_eq!(hits.len(), 1, "{expr} for {uuid}: {hits:?}");
    hits[0]
}

fn hashrate(h: f64) -> String {
    let p = ["", "k", "M", "G", "T", "P"];
    let (mut v, mut i) = (h, 0);
    while v.abs() >= 1000.0 && i + 1 < p.len() {
        v /= 1000.0;
        i += 1;
    }
    format!("{v:.2} {}H/s", p[i])
}

/// A demo database (1 day, 3 GPUs) and the time of its last samples, in
/// Unix seconds.
fn demo(dir: &Path) -> String {
    ok(bin()
        .args(["demo", "--days", "1", "--gpus", "3", "--db"])
        .arg(dir)
        .output()
        .unwrap());
    let last = query(dir, "max(timestamp(nvidia_smi_temperature_gpu))", "now");
    assert_eq!(last.len(), 1, "{last:?}");
    format!("{}", last[0].1)
}

/// A firing and a pending alert at `t`, imported as exposition text with
/// timestamps, as the alert rules write them.
fn import_alerts(dir: &Path, t: &str, uuid: &str) {
    let ms = (t.parse::<f64>().unwrap() * 1000.0) as i64;
    let file = dir.parent().unwrap_or(dir).join("alerts.prom");
    std::fs::write(
        &file,
        format!(
            "ALERTS{{alertname=\"GpuTooHot\",alertstate=\"firing\",severity=\"critical\",instance=\"demo\",uuid=\"{uuid}\"}} 1 {ms}\n\
             ALERTS{{alertname=\"HashrateLow\",alertstate=\"pending\",severity=\"warning\",instance=\"demo\"}} 1 {ms}\n"
        ),
    )
    .unwrap();
    ok(bin()
        .arg("import")
        .arg(&file)
        .arg("--db")
        .arg(dir)
        .output()
        .unwrap());
}

fn targets(dir: &Path, t: &str) {
    let ms = (t.parse::<f64>().unwrap() * 1000.0) as i64;
    let h = HealthFile::new(dir);
    let target = |job: &str, port: u16, up: bool| TargetHealth {
        job: job.into(),
        url: format!("http://127.0.0.1:{port}/metrics"),
        labels: vec![("instance".into(), format!("127.0.0.1:{port}"))],
        up,
        last_scrape_ms: ms - 4000,
        duration_seconds: 0.01,
        samples: if up { 10 } else { 0 },
        error: (!up).then(|| "connection refused".to_string()),
    };
    h.update("trex", &[target("trex", 4067, false)]).unwrap();
    h.update("node", &[target("node", 9100, true)]).unwrap();
}

#[test]
fn once_shows_what_query_shows() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let t = demo(&db);
    let info = query(&db, "nvidia_smi_gpu_info", &t);
    assert_eq!(info.len(), 3);
    let first_uuid = info[0].0["uuid"].as_str().unwrap().to_string();
    import_alerts(&db, &t, &first_uuid);
    targets(&db, &t);

    let frame = ok(bin()
        .args([
            "dash", "--once", "--width", "160", "--height", "50", "--time", &t, "--db",
        ])
        .arg(&db)
        .output()
        .unwrap());
    assert!(!frame.contains('\x1b'), "colour in a pipe:\n{frame}");
    for (m, _) in &info {
        let s = |k: &str| m[k].as_str().unwrap().to_string();
        let (uuid, name, index) = (s("uuid"), s("name"), s("index"));
        let temp = one(&db, "nvidia_smi_temperature_gpu", &t, &uuid);
        let fan = one(&db, "nvidia_smi_fan_speed_ratio", &t, &uuid);
        let power = one(&db, "nvidia_smi_power_draw_watts", &t, &uuid);
        let limit = one(&db, "nvidia_smi_enforced_power_limit_watts", &t, &uuid);
        let hr = one(&db, "miner_hashrate_hashes_per_second", &t, &uuid);
        let want = [
            name.clone(),
            format!("{temp:.0} °C"),
            format!("{:.0} %", fan * 100.0),
            format!("{power:.0}/{limit:.0} W"),
            hashrate(hr),
            format!("{:.2}", power / (hr / 1e6)),
        ];
        let row = frame
            .lines()
            .find(|l| {
                let cells = l.trim_start_matches('│').trim_start_matches(['>', ' ']);
                cells.starts_with(&format!("{index} "))
                    && want.iter().all(|w| l.contains(&format!(" {w} ")))
            })
            .unwrap_or_else(|| panic!("no row for GPU {index} with {want:?} in:\n{frame}"));
        assert!(
            row.contains("OK") || row.contains("WARN") || row.contains("CRIT"),
            "{row}"
        );
    }
    for (m, v) in query(&db, "pool_unpaid_balance", &t) {
        let coin = m["coin"].as_str().unwrap();
        let want = format!("unpaid {v:.6} {coin}");
        assert!(frame.contains(&want), "{want:?} missing:\n{frame}");
    }
    for (_, v) in query(&db, "pool_hashrate_effective_hashes_per_second", &t) {
        assert!(
            frame.contains(&format!("effective {}", hashrate(v))),
            "{frame}"
        );
    }
    for want in [
        "Targets 1/2 up",
        "DOWN trex http://127.0.0.1:4067/metrics",
        "connection refused",
        "UP   node http://127.0.0.1:9100/metrics 4s ago",
        "Alerts (1 firing)",
        "FIRING GpuTooHot critical",
        "pending HashrateLow warning",
    ] {
        assert!(frame.contains(want), "{want:?} missing:\n{frame}");
    }

    // An hour later nothing is fresh: readings go missing, rows stay.
    let later = format!("{}", t.parse::<f64>().unwrap() + 3600.0);
    let stale = ok(bin()
        .args(["dash", "--once", "--time", &later, "--db"])
        .arg(&db)
        .output()
        .unwrap());
    assert!(stale.contains("GPUs (3)") && stale.contains('—'), "{stale}");
    assert!(stale.contains("no alerts"), "{stale}");
}

#[test]
fn once_errors_are_plain() {
    let tmp = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["dash", "--once", "--time", "yesterday", "--db"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--time"));
    let out = bin()
        .args(["dash", "--once", "--range", "2h", "--db"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "clap usage error");
    // The live dashboard needs a terminal; a pipe is told about --once.
    let out = bin()
        .args(["dash", "--db"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--once"));
}

/// A private tmux server (its own socket, in the test's temporary
/// directory so nothing is left behind), killed on drop.
struct Tmux {
    socket: std::path::PathBuf,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-S").arg(&self.socket).args(["-f", "/dev/null"]);
        c
    }

    fn capture(&self) -> String {
        self.capture_of("dash", false)
    }

    /// The pane of session `s`; with `escapes`, colours as SGR sequences.
    fn capture_of(&self, s: &str, escapes: bool) -> String {
        let mut c = self.cmd();
        c.args(["capture-pane", "-p", "-t", s]);
        if escapes {
            c.arg("-e");
        }
        String::from_utf8_lossy(&c.output().unwrap().stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        assert!(self
            .cmd()
            .args(["send-keys", "-t", "dash"])
            .args(keys)
            .status()
            .unwrap()
            .success());
    }

    /// Waits until the pane shows what `pred` wants, or panics with it.
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.capture();
            if pred(&screen) {
                return screen;
            }
            if Instant::now() > until {
                panic!("waited for {what}; the pane shows:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

/// Whether a captured pane sets any foreground or background colour.
fn has_colour(pane: &str) -> bool {
    pane.contains("\x1b[38;")
        || pane.contains("\x1b[48;")
        || (30..=37)
            .chain(40..=47)
            .chain(90..=97)
            .any(|c| pane.contains(&format!("\x1b[{c}m")))
}

fn has_tmux() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn screen_has_no_alerts(screen: &str) -> bool {
    screen.contains("Alerts (0 firing)")
}

/// The line of the GPU table marked as selected.
fn selected_row(screen: &str) -> Option<String> {
    screen
        .lines()
        .find(|l| l.starts_with("│> "))
        .map(str::to_string)
}

#[test]
fn live_under_tmux() {
    assert!(
        has_tmux(),
        "needs tmux (apt-get install tmux, or run scripts/test which installs it)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let t = demo(&db);
    let status = tmp.path().join("status");
    let tmux = Tmux {
        socket: tmp.path().join("tmux.sock"),
    };
    // The shell after dash proves it exited, and with what status, and
    // that the terminal was given back (`stty -a` prints in cooked mode).
    let script = format!(
        "{} dash --db {} --time {t} --interval 1s --range 1h; echo exit=$? > {st}.tmp; stty -a >> {st}.tmp; mv {st}.tmp {st}; sleep 30",
        env!("CARGO_BIN_EXE_minetsdb"),
        shell_quote(&db),
        st = shell_quote(&status),
    );
    let started = tmux
        .cmd()
        .args(["new-session", "-d", "-s", "dash", "-x", "120", "-y", "40"])
        .arg(&script)
        .env("XDG_CONFIG_HOME", "/nonexistent-minetsdb-test")
        .status()
        .unwrap();
    assert!(started.success());

    let screen = tmux.wait_for("the GPU table", |s| s.contains("GPUs (3)"));
    assert!(screen.contains("range 1h"), "{screen}");
    let first = selected_row(&screen).unwrap_or_else(|| panic!("no selection:\n{screen}"));
    assert!(
        first.starts_with("│>  0 ") || first.starts_with("│> 0 "),
        "{first}"
    );

    // Colours on a terminal (tmux writes them back as 256-colour SGR).
    let coloured = tmux.capture_of("dash", true);
    assert!(has_colour(&coloured), "no colour:\n{coloured}");
    // NO_COLOR: the same dashboard without any.
    let plain = tmux
        .cmd()
        .args(["new-session", "-d", "-s", "plain", "-x", "120", "-y", "40"])
        .arg(format!(
            "NO_COLOR=1 {} dash --db {} --time {t}; sleep 30",
            env!("CARGO_BIN_EXE_minetsdb"),
            shell_quote(&db)
        ))
        .env("XDG_CONFIG_HOME", "/nonexistent-minetsdb-test")
        .status()
        .unwrap();
    assert!(plain.success());
    let until = Instant::now() + Duration::from_secs(20);
    let screen = loop {
        let s = tmux.capture_of("plain", true);
        if s.contains("GPUs (3)") {
            break s;
        }
        assert!(Instant::now() < until, "NO_COLOR dash did not draw:\n{s}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!has_colour(&screen), "colour despite NO_COLOR:\n{screen}");

    tmux.keys(&["Down"]);
    let screen = tmux.wait_for("GPU 1 selected", |s| {
        selected_row(s).is_some_and(|r| r.trim_start_matches("│> ").trim_start().starts_with("1 "))
    });
    assert!(
        screen.contains(" GPU 1 "),
        "detail panel follows:\n{screen}"
    );

    // Resized below the full layout and back: redrawn each time.
    let resize = |x: &str, y: &str| {
        assert!(tmux
            .cmd()
            .args(["resize-window", "-t", "dash", "-x", x, "-y", y])
            .status()
            .unwrap()
            .success());
    };
    resize("50", "14");
    tmux.wait_for("the compact view", |s| s.contains("too small (50x14)"));
    resize("120", "40");
    tmux.wait_for("the full view again", |s| {
        s.contains("GPUs (3)") && !s.contains("too small")
    });

    tmux.keys(&["t"]);
    tmux.wait_for("range 6h", |s| {
        s.contains("range 6h") && s.contains("hashrate 6h")
    });

    // Written by another process while dash runs: the next refresh
    // (every second here) shows it.
    assert!(screen_has_no_alerts(&tmux.capture()));
    let info = query(&db, "nvidia_smi_gpu_info", &t);
    import_alerts(&db, &t, info[0].0["uuid"].as_str().unwrap());
    tmux.wait_for("the imported alert", |s| s.contains("FIRING GpuTooHot"));

    tmux.keys(&["q"]);
    let until = Instant::now() + Duration::from_secs(20);
    while !status.exists() {
        assert!(
            Instant::now() < until,
            "dash did not exit:\n{}",
            tmux.capture()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let st = std::fs::read_to_string(&status).unwrap();
    assert!(st.starts_with("exit=0\n"), "{st}");
    // Raw mode undone: the line discipline is back to canonical with echo.
    let flags: Vec<&str> = st.split_whitespace().collect();
    assert!(flags.contains(&"icanon") && flags.contains(&"echo"), "{st}");
    // Back on the normal screen: the dashboard is gone, and the pane is
    // not left in the alternate screen.
    let after = tmux.capture();
    assert!(!after.contains("GPUs (3)"), "{after}");
    let alt = tmux
        .cmd()
        .args(["display-message", "-p", "-t", "dash", "#{alternate_on}"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&alt.stdout).trim(), "0");
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

/// A series' labels and its (Unix seconds, value) samples.
type RangeSeries = (serde_json::Map<String, Value>, Vec<(f64, f64)>);

/// `query EXPR[RANGE] --time T --format json`: (labels, samples) per series.
fn query_range_vector(db: &Path, expr: &str, t: &str) -> Vec<RangeSeries> {
    query_json(db, expr, t)
        .into_iter()
        .map(|(m, s)| {
            let pts = s["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p[0].as_f64().unwrap(),
                        p[1].as_str().unwrap().parse().unwrap(),
                    )
                })
                .collect();
            (m, pts)
        })
        .collect()
}

/// view.rs's `fmt_pct`.
fn pct(r: f64) -> String {
    let p = r * 100.0;
    if p < 10.0 {
        format!("{p:.1} %")
    } else {
        format!("{p:.0} %")
    }
}

/// view.rs's `fmt_age`.
fn age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// The text of `row` in the column headed `column` in `header`: from
/// where the heading starts to where the next one does, trimmed.
fn cell(header: &str, row: &str, column: &str) -> String {
    let h: Vec<char> = header.chars().collect();
    let want: Vec<char> = format!(" {column} ").chars().collect();
    let start = h
        .windows(want.len())
        .position(|w| w == want.as_slice())
        .unwrap_or_else(|| panic!("no column {column:?} in {header:?}"))
        + 1;
    let end = (start + column.chars().count()..h.len())
        .find(|&i| h[i] != ' ' && h[i - 1] == ' ')
        .unwrap_or(h.len());
    let r: String = row.chars().skip(start).take(end - start).collect();
    r.trim().to_string()
}

/// Memory temperature, the bad-share ratio and the last accepted share in
/// `dash --once`, each against `minetsdb query` of the expression the
/// default alert rules use; a miner naming cards by PCI address only
/// (GMiner on NVIDIA, lolMiner on an AMD card) joined to its card.
#[test]
fn once_shows_shares_memory_temperature_and_pci_joined_cards() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let t = demo(&db);
    let info = query(&db, "nvidia_smi_gpu_info", &t);
    let first = &info.iter().find(|(m, _)| m["index"] == "0").unwrap().0;
    let (instance, pci) = (
        first["instance"].as_str().unwrap(),
        first["pci_bus_id"].as_str().unwrap(),
    );
    let ms = (t.parse::<f64>().unwrap() * 1000.0) as i64;
    let file = tmp.path().join("more.prom");
    std::fs::write(
        &file,
        format!(
            "miner_memory_temperature_celsius{{instance=\"{instance}\",miner=\"gminer\",gpu=\"0\",pci_bus_id=\"{pci}\"}} 104 {ms}\n\
             amdgpu_gpu_info{{instance=\"{instance}\",card=\"card0\",pci_bus_id=\"0000:0a:00.0\",name=\"AMD Radeon RX 6800\"}} 1 {ms}\n\
             amdgpu_power_draw_watts{{instance=\"{instance}\",card=\"card0\"}} 150 {ms}\n\
             miner_hashrate_hashes_per_second{{instance=\"{instance}\",miner=\"lolminer\",gpu=\"0\",pci_bus_id=\"00000000:0A:00.0\"}} 62500000 {ms}\n"
        ),
    )
    .unwrap();
    ok(bin()
        .arg("import")
        .arg(&file)
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap());

    let frame = ok(bin()
        .args([
            "dash", "--once", "--width", "160", "--height", "50", "--time", &t, "--db",
        ])
        .arg(&db)
        .output()
        .unwrap());
    assert!(frame.contains("GPUs (4)"), "{frame}");
    let header = frame.lines().find(|l| l.contains("J/MH")).unwrap();
    let row_of = |index: &str| {
        frame
            .lines()
            .find(|l| {
                l.trim_start_matches('│')
                    .trim_start_matches(['>', ' '])
                    .starts_with(&format!("{index} "))
            })
            .unwrap_or_else(|| panic!("no row for {index}:\n{frame}"))
    };

    use minetsdb_collectors::alerts::defaults;
    let ratio = format!(
        "{} / {}",
        defaults::bad_shares_1h(),
        defaults::all_shares_1h()
    );
    let ratios = query(&db, &ratio, &t);
    let accepted = query_range_vector(&db, "miner_shares_accepted_total[2h]", &t);
    let mem = query(&db, "miner_memory_temperature_celsius", &t);
    assert_eq!(mem.len(), 1);
    for (m, _) in &info {
        let (uuid, index) = (m["uuid"].as_str().unwrap(), m["index"].as_str().unwrap());
        let row = row_of(index);
        let of = |v: &Vec<(serde_json::Map<String, Value>, f64)>| {
            v.iter()
                .find(|(l, _)| l.get("uuid").and_then(Value::as_str) == Some(uuid))
                .map(|x| x.1)
        };
        let r = of(&ratios).unwrap_or_else(|| panic!("no ratio for {uuid}: {ratios:?}"));
        assert_eq!(cell(header, row, "bad"), pct(r), "{uuid}: {row}");
        // The last change of the accepted counter, from the raw samples.
        let (_, pts) = accepted
            .iter()
            .find(|(l, _)| l.get("uuid").and_then(Value::as_str) == Some(uuid))
            .unwrap();
        let last_change = pts
            .windows(2)
            .rev()
            .find(|w| w[0].1 != w[1].1)
            .map_or(pts[0].0, |w| w[1].0);
        let a = age(ms - (last_change * 1000.0).round() as i64);
        assert_eq!(cell(header, row, "share"), a, "{uuid}: {row}");
        let want_mem = if index == "0" {
            format!("{:.0} °C", mem[0].1)
        } else {
            "—".to_string()
        };
        assert_eq!(cell(header, row, "mem"), want_mem, "{uuid}: {row}");
    }
    // The AMD card: hashrate and J/MH through the PCI address.
    let amd = row_of("card");
    let hr = query(
        &db,
        "miner_hashrate_hashes_per_second{miner=\"lolminer\"}",
        &t,
    );
    assert!(amd.contains("AMD Radeon RX 6800"), "{amd}");
    assert!(amd.contains(&format!(" {} ", hashrate(hr[0].1))), "{amd}");
    assert!(
        amd.contains(&format!(" {:.2} ", 150.0 / (hr[0].1 / 1e6))),
        "{amd}"
    );
}
