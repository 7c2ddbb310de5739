//! `minetsdb report` against numbers worked out by hand on a small fixture.
//!
//! The fixture: rig `rig1`, two cards, 4 hours from Monday 2026-01-05
//! 00:00 UTC, one scrape every 10 minutes (k = 0..=23, t = T0 + 10k min),
//! so the scrape gap threshold is 2 × 10 = 20 minutes.
//!
//! Card A (`GPU-A`): energy counter with a reboot at k = 15; power 100 W
//! (k < 12), 150 W (k >= 12), 30 W at k = 15; limit 120 W then 180 W from
//! k = 12; hashrate 50 MH/s (k < 12), 60 MH/s (k >= 12), 0 at k = 15.
//! Card B (`GPU-B`): no energy counter (power is integrated); 200 W,
//! 100 MH/s, limit 250 W, but no samples for k = 12..=17 (a 70-minute gap).
//! Pool: balance 0.05 + 0.01k up to k = 11, a payout of 0.17 at k = 12
//! (balance 0, paid 1.00 -> 1.17), then +0.01 a scrape; price 20 USD
//! (k < 12), 30 USD after: mean 25.

use std::path::Path;
use std::process::Command;

use minetsdb::{Db, Labels, Options, Sample};

const T0: i64 = 1_767_571_200_000; // 2026-01-05T00:00:00Z, a Monday
const STEP: i64 = 600_000;
const N: i64 = 24;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_minetsdb"))
}

fn put(db: &Db, name: &str, labels: &[(&str, &str)], pts: &[(i64, f64)]) {
    let r = db.series_ref(&Labels::new(name, labels).unwrap()).unwrap();
    let batch: Vec<_> = pts
        .iter()
        .map(|&(k, v)| (r, Sample::new(T0 + k * STEP, v)))
        .collect();
    db.append(&batch).unwrap();
}

fn fixture(dir: &Path) {
    let db = Db::open(dir, Options::default()).unwrap();
    let a = [("instance", "rig1"), ("uuid", "GPU-A"), ("name", "Card A")];
    let am = [
        ("instance", "rig1"),
        ("uuid", "GPU-A"),
        ("name", "Card A"),
        ("miner", "m"),
    ];
    let b = [("instance", "rig1"), ("uuid", "GPU-B"), ("name", "Card B")];
    let bm = [
        ("instance", "rig1"),
        ("uuid", "GPU-B"),
        ("name", "Card B"),
        ("miner", "m"),
    ];
    let all = |f: &dyn Fn(i64) -> f64| (0..N).map(|k| (k, f(k))).collect::<Vec<_>>();
    put(
        &db,
        "nvidia_smi_power_draw_watts",
        &a,
        &all(&|k| match k {
            15 => 30.0,
            k if k < 12 => 100.0,
            _ => 150.0,
        }),
    );
    // Counter: +60 kJ a step (100 W × 600 s) to k = 11, +75 kJ into k = 12,
    // +90 kJ after; the reboot at k = 15 restarts it at 30 kJ.
    let mut e = Vec::new();
    let mut v = 1_000_000.0;
    for k in 0..N {
        if k > 0 {
            v += match k {
                k if k <= 11 => 60_000.0,
                12 => 75_000.0,
                15 => -v + 30_000.0,
                _ => 90_000.0,
            };
        }
        e.push((k, v));
    }
    put(&db, "gpu_energy_joules_total", &a, &e);
    put(
        &db,
        "nvidia_smi_enforced_power_limit_watts",
        &a,
        &all(&|k| if k < 12 { 120.0 } else { 180.0 }),
    );
    put(
        &db,
        "miner_hashrate_hashes_per_second",
        &am,
        &all(&|k| match k {
            15 => 0.0,
            k if k < 12 => 5e7,
            _ => 6e7,
        }),
    );
    put(
        &db,
        "nvidia_smi_temperature_gpu",
        &a,
        &all(&|k| match k {
            15 => 40.0,
            k if k < 12 => 60.0,
            _ => 70.0,
        }),
    );
    // Accepted: 100 + 10k to k = 14 (+140), reset to 0 at k = 15 (+0),
    // +10 a step after (+80): 220. Rejected: 2 at k >= 10, reset, 1 at
    // k >= 20: 3. Stale: 5, reset to 0, 5 at k = 23: 5.
    put(
        &db,
        "miner_shares_accepted_total",
        &am,
        &all(&|k| {
            if k < 15 {
                100.0 + 10.0 * k as f64
            } else {
                10.0 * (k - 15) as f64
            }
        }),
    );
    put(
        &db,
        "miner_shares_rejected_total",
        &am,
        &all(&|k| match k {
            k if k < 10 => 0.0,
            k if k < 15 => 2.0,
            k if k < 20 => 0.0,
            _ => 1.0,
        }),
    );
    put(
        &db,
        "miner_shares_stale_total",
        &am,
        &all(&|k| match k {
            k if k < 15 => 5.0,
            23 => 5.0,
            _ => 0.0,
        }),
    );

    let up_b: Vec<i64> = (0..N).filter(|k| !(12..=17).contains(k)).collect();
    let bs = |v: &dyn Fn(i64) -> f64| up_b.iter().map(|&k| (k, v(k))).collect::<Vec<_>>();
    put(&db, "nvidia_smi_power_draw_watts", &b, &bs(&|_| 200.0));
    put(
        &db,
        "nvidia_smi_enforced_power_limit_watts",
        &b,
        &bs(&|_| 250.0),
    );
    put(&db, "miner_hashrate_hashes_per_second", &bm, &bs(&|_| 1e8));
    put(&db, "nvidia_smi_temperature_gpu", &b, &bs(&|_| 65.0));
    // +30 a step, the step across the gap too: 17 × 30 = 510.
    let acc_b: Vec<(i64, f64)> = up_b
        .iter()
        .enumerate()
        .map(|(i, &k)| (k, 30.0 * i as f64))
        .collect();
    put(&db, "miner_shares_accepted_total", &bm, &acc_b);
    put(&db, "miner_shares_rejected_total", &bm, &bs(&|_| 0.0));
    put(&db, "miner_shares_stale_total", &bm, &bs(&|_| 0.0));

    let pool = [("instance", "rig1"), ("pool", "p"), ("coin", "ETC")];
    put(
        &db,
        "pool_unpaid_balance",
        &pool,
        &all(&|k| {
            if k < 12 {
                0.05 + 0.01 * k as f64
            } else {
                0.01 * (k - 12) as f64
            }
        }),
    );
    put(
        &db,
        "pool_paid_total",
        &pool,
        &all(&|k| if k < 12 { 1.0 } else { 1.17 }),
    );
    put(
        &db,
        "coin_price_usd",
        &[("instance", "rig1"), ("coin", "ETC")],
        &all(&|k| if k < 12 { 20.0 } else { 30.0 }),
    );
    db.flush().unwrap();
}

const FLAT: &str = r#"
[tariff]
currency = "USD"
price_per_kwh = 0.25
[power]
overhead_watts = 50
psu_efficiency = 0.8
"#;

// Monday 02:00-04:00 UTC at 0.40, the rest at 0.10.
const TOU: &str = r#"
[tariff]
currency = "USD"
price_per_kwh = 0.10
[[tariff.period]]
name = "peak"
days = ["mon-fri"]
hours = "02-04"
price_per_kwh = 0.40
[power]
overhead_watts = 50
psu_efficiency = 0.8
"#;

struct Env {
    _tmp: tempfile::TempDir,
    db: std::path::PathBuf,
    dir: std::path::PathBuf,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    fixture(&db);
    Env {
        dir: tmp.path().to_path_buf(),
        db,
        _tmp: tmp,
    }
}

/// Runs `report` over the 4 hours (or `from`/`to` seconds after T0) with
/// `config` (None: an empty config, so nothing from the user's home).
fn run(e: &Env, config: Option<&str>, args: &[&str], from_to: Option<(i64, i64)>) -> String {
    let cfg = e.dir.join("config.toml");
    std::fs::write(&cfg, config.unwrap_or("")).unwrap();
    let (f, t) = from_to.unwrap_or((0, 4 * 3600));
    let out = bin()
        .arg("report")
        .arg("--db")
        .arg(&e.db)
        .arg("--config")
        .arg(&cfg)
        .args(["--from", &(T0 / 1000 + f).to_string()])
        .args(["--to", &(T0 / 1000 + t).to_string()])
        .args(args)
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{s}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s
}

/// CSV rows by their first field, as header -> value maps.
fn csv(s: &str) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> {
    let mut lines = s.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut out = std::collections::BTreeMap::new();
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f.len(), head.len(), "{l}");
        let row: std::collections::BTreeMap<String, String> = head
            .iter()
            .zip(&f)
            .map(|(h, v)| (h.to_string(), v.to_string()))
            .collect();
        out.insert(f[0].to_string(), row);
    }
    out
}

fn close(got: &str, want: f64, what: &str) {
    let g: f64 = got
        .parse()
        .unwrap_or_else(|_| panic!("{what}: {got:?} is not a number"));
    assert!(
        (g - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{what}: got {g}, want {want}"
    );
}

#[test]
fn every_figure_matches_the_hand_calculation_flat_tariff() {
    let e = env();
    let rows = csv(&run(&e, Some(FLAT), &["--format", "csv"], None));
    let (a, b, o, t) = (
        &rows["gpu0"],
        &rows["gpu1"],
        &rows["overhead"],
        &rows["total"],
    );
    assert_eq!(a["uuid"], "GPU-A");
    assert_eq!(b["uuid"], "GPU-B");

    // Uptime: A has 23 steps of 600 s = 13 800 s of 14 400; B 16 steps
    // (the 70-minute gap is not up) = 9 600 s.
    close(&a["uptime_ratio"], 13_800.0 / 14_400.0, "A uptime");
    close(&b["uptime_ratio"], 9_600.0 / 14_400.0, "B uptime");
    // Mining: A's two steps into and out of k = 15 have a 0 hashrate: 21 steps.
    close(&a["mining_ratio"], 12_600.0 / 14_400.0, "A mining");
    close(&b["mining_ratio"], 9_600.0 / 14_400.0, "B mining");

    // Energy A, counter: 11 × 60 kJ + 75 kJ + 2 × 90 kJ + 30 kJ (reset)
    // + 8 × 90 kJ = 1 665 000 J = 0.4625 kWh (integrating power would give
    // 1 653 000 J, so this checks the counter was used).
    assert_eq!(a["energy_source"], "counter");
    close(&a["gpu_kwh"], 1_665_000.0 / 3.6e6, "A kWh");
    // Energy B, power integrated: 16 steps × 200 W × 600 s = 1 920 000 J.
    assert_eq!(b["energy_source"], "power");
    close(&b["gpu_kwh"], 1_920_000.0 / 3.6e6, "B kWh");
    // Wall: / 0.8 PSU efficiency.
    close(&a["wall_kwh"], 1_665_000.0 / 0.8 / 3.6e6, "A wall kWh");
    close(&b["wall_kwh"], 1_920_000.0 / 0.8 / 3.6e6, "B wall kWh");
    // Overhead: 50 W over the union of up time (A's 13 800 s) / 0.8.
    close(
        &o["wall_kwh"],
        50.0 * 13_800.0 / 0.8 / 3.6e6,
        "overhead kWh",
    );
    close(
        &t["wall_kwh"],
        (1_665_000.0 + 1_920_000.0 + 690_000.0) / 0.8 / 3.6e6,
        "total wall",
    );

    // Cost at 0.25 USD/kWh.
    let cost_a = 1_665_000.0 / 0.8 / 3.6e6 * 0.25; // 0.14453125
    let cost_b = 1_920_000.0 / 0.8 / 3.6e6 * 0.25; // 0.16666…
    let cost_o = 690_000.0 / 0.8 / 3.6e6 * 0.25; // 0.05989…
    close(&a["cost"], cost_a, "A cost");
    close(&b["cost"], cost_b, "B cost");
    close(&o["cost"], cost_o, "overhead cost");
    close(&t["cost"], cost_a + cost_b + cost_o, "total cost");

    // Earnings: balance 0.05 -> 0.11 (+0.06) plus paid 1.00 -> 1.17
    // (+0.17) = 0.23 ETC (23 credits of 0.01). Price: mean of 12 × 20 and
    // 12 × 30 = 25 USD, so 5.75 USD. Shared by accepted shares: A 220,
    // B 510 (17 steps × 30, the step across the gap included).
    close(&t["earned_coin"], 0.23, "total coin");
    close(&t["earned_fiat"], 5.75, "total fiat");
    close(&a["earned_coin"], 0.23 * 220.0 / 730.0, "A coin");
    close(&b["earned_coin"], 0.23 * 510.0 / 730.0, "B coin");
    close(&a["earned_fiat"], 5.75 * 220.0 / 730.0, "A fiat");
    assert_eq!(t["coin"], "ETC");
    assert_eq!(t["fiat"], "USD");
    assert_eq!(t["currency"], "USD");

    // Profit = fiat earned - cost.
    close(&a["profit"], 5.75 * 220.0 / 730.0 - cost_a, "A profit");
    close(&b["profit"], 5.75 * 510.0 / 730.0 - cost_b, "B profit");
    close(&o["profit"], -cost_o, "overhead profit");
    close(
        &t["profit"],
        5.75 - (cost_a + cost_b + cost_o),
        "total profit",
    );

    // Hashes A (trapezoid): 11 × 3e10 + 3.3e10 + 2 × 3.6e10 + 2 × 1.8e10
    // (to and from the 0 at k = 15) + 7 × 3.6e10 = 7.23e11; over 1 665 000 J.
    close(&a["hashes_per_joule"], 7.23e11 / 1_665_000.0, "A H/J");
    close(&a["joules_per_mh"], 1e6 * 1_665_000.0 / 7.23e11, "A J/MH");
    close(&a["hashrate_hs"], 7.23e11 / 13_800.0, "A mean hashrate");
    // B: 16 × 1e8 × 600 = 9.6e11 hashes over 1.92e6 J = 500 000 H/J, 2 J/MH.
    close(&b["hashes_per_joule"], 500_000.0, "B H/J");
    close(&b["joules_per_mh"], 2.0, "B J/MH");
    close(
        &t["hashes_per_joule"],
        (7.23e11 + 9.6e11) / (1_665_000.0 + 1_920_000.0),
        "total H/J",
    );

    // Temperatures: A (12 × 60 + 11 × 70 + 40) / 24 = 63.75, max 70; B 65.
    close(&a["temp_mean_c"], 63.75, "A temp");
    close(&a["temp_max_c"], 70.0, "A max temp");
    close(&b["temp_mean_c"], 65.0, "B temp");
    // Acceptance: A 220 / (220 + 3 + 5); B 510 / 510; total 730 / 738.
    close(&a["acceptance_ratio"], 220.0 / 228.0, "A acceptance");
    close(&b["acceptance_ratio"], 1.0, "B acceptance");
    close(&t["acceptance_ratio"], 730.0 / 738.0, "total acceptance");
}

#[test]
fn time_of_use_prices_each_hour() {
    let e = env();
    let rows = csv(&run(&e, Some(TOU), &["--format", "csv"], None));
    // Joules per hour (hours 0 and 1 at 0.10, hours 2 and 3 at 0.40):
    // A: 360 000, 375 000, 480 000 (90+90+30+90+90+90 kJ), 450 000.
    // B: 720 000, 600 000, 0 (the gap), 600 000.
    // Overhead (50 W × 600 s = 30 kJ a step): 180 000 × 3, 150 000.
    // Each / 0.8 PSU efficiency / 3.6e6 J per kWh.
    let k = 0.8 * 3.6e6;
    let a = ((360_000.0 + 375_000.0) * 0.10 + (480_000.0 + 450_000.0) * 0.40) / k;
    let b = ((720_000.0 + 600_000.0) * 0.10 + 600_000.0 * 0.40) / k;
    let o = (360_000.0 * 0.10 + 330_000.0 * 0.40) / k;
    close(&rows["gpu0"]["cost"], a, "A cost");
    close(&rows["gpu1"]["cost"], b, "B cost");
    close(&rows["overhead"]["cost"], o, "overhead cost");
    close(&rows["total"]["cost"], a + b + o, "total cost");
    close(&rows["total"]["profit"], 5.75 - (a + b + o), "total profit");
}

#[test]
fn without_a_tariff_cost_and_profit_say_so_and_the_rest_shows() {
    let e = env();
    let table = run(&e, None, &[], None);
    assert!(table.contains("no tariff set"), "{table}");
    let cost = table.lines().find(|l| l.starts_with("cost")).unwrap();
    assert_eq!(cost.matches("no tariff set").count(), 3, "{cost}");
    let profit = table.lines().find(|l| l.starts_with("profit")).unwrap();
    assert_eq!(profit.matches("no tariff set").count(), 3, "{profit}");
    // The rest still shows: energy, earnings, efficiency.
    let kwh = table.lines().find(|l| l.starts_with("GPU energy")).unwrap();
    assert!(kwh.contains("0.533") && kwh.contains("0.996"), "{kwh}");
    assert!(
        table.contains("earned USD") && table.contains("5.75"),
        "{table}"
    );
    assert!(table.contains("no [power] in the config"), "{table}");
    let rows = csv(&run(&e, None, &["--format", "csv"], None));
    assert_eq!(rows["total"]["cost"], "no tariff set");
    assert_eq!(rows["total"]["profit"], "no tariff set");
    close(&rows["total"]["earned_fiat"], 5.75, "fiat without tariff");
    close(
        &rows["gpu0"]["wall_kwh"],
        1_665_000.0 / 3.6e6,
        "wall = GPU without [power]",
    );
    assert!(!rows.contains_key("overhead"));
}

#[test]
fn table_says_what_it_assumed() {
    let e = env();
    let t = run(&e, Some(FLAT), &[], None);
    assert!(
        t.contains("(GPU energy + 50 W per rig while up) / PSU efficiency 0.8"),
        "{t}"
    );
    assert!(t.contains("tariff: flat 0.25 USD/kWh"), "{t}");
    assert!(
        t.contains("ETC 25 USD/ETC (mean of coin_price_usd{coin=\"ETC\"}"),
        "{t}"
    );
    assert!(t.contains("rig1 overhead"), "{t}");
    assert!(t.contains("gpu0  rig1  Card A  GPU-A"), "{t}");
}

#[test]
fn json_shape() {
    let e = env();
    let s = run(&e, Some(FLAT), &["--format", "json"], None);
    let v: serde_json::Value = serde_json::from_str(&s).unwrap();
    assert_eq!(v["currency"], "USD");
    assert_eq!(v["cards"].as_array().unwrap().len(), 2);
    assert_eq!(v["cards"][0]["uuid"], "GPU-A");
    assert_eq!(v["cards"][0]["energy_source"], "counter");
    assert!((v["total"]["earned_coin"].as_f64().unwrap() - 0.23).abs() < 1e-9);
    assert_eq!(v["accounts"][0]["pool"], "p");
    assert_eq!(v["notes"]["cost"], serde_json::Value::Null);
    let none = run(&e, None, &["--format", "json"], None);
    let v: serde_json::Value = serde_json::from_str(&none).unwrap();
    assert_eq!(v["cards"][0]["cost"], serde_json::Value::Null);
    assert_eq!(v["total"]["profit"], serde_json::Value::Null);
    assert_eq!(v["notes"]["cost"], "no tariff set");
    assert_eq!(v["notes"]["profit"], "no tariff set");
}

#[test]
fn tuning_recommends_per_card_or_says_why_not() {
    let e = env();
    let s = run(&e, Some(FLAT), &["--tuning", "--format", "json"], None);
    let v: serde_json::Value = serde_json::from_str(&s).unwrap();
    let a = &v["cards"][0];
    assert_eq!(a["uuid"], "GPU-A");
    let set = a["settings"].as_array().unwrap();
    assert_eq!(set.len(), 2);
    // 120 W: steps starting at k = 0..=11, 2 h; hashes 11 × 3e10 + 3.3e10
    // over 7 200 s; power 11 × 60 kJ + 75 kJ over 7 200 s.
    let f = |x: &serde_json::Value| x.as_f64().unwrap();
    assert_eq!(f(&set[0]["limit_w"]), 120.0);
    assert!((f(&set[0]["hours"]) - 2.0).abs() < 1e-12);
    let (h120, p120) = (3.63e11 / 7200.0, 735_000.0 / 7200.0);
    assert!((f(&set[0]["hashrate_hs"]) - h120).abs() < 1e-3);
    assert!((f(&set[0]["power_w"]) - p120).abs() < 1e-9);
    // 180 W: 9 mining steps (not those touching k = 15), 1.5 h, 60 MH/s, 150 W.
    assert_eq!(f(&set[1]["limit_w"]), 180.0);
    assert!((f(&set[1]["hours"]) - 1.5).abs() < 1e-12);
    assert!((f(&set[1]["hashes_per_joule"]) - 400_000.0).abs() < 1e-6);
    // Efficiency: 120 W (493 878 H/J > 400 000).
    assert_eq!(f(&a["best_efficiency"]["limit_w"]), 120.0);
    // Profit per hour at A's earnings per hash (5.75 × 220/730 USD over
    // 7.23e11 hashes) and 0.25 USD/kWh at the wall (/ 0.8):
    // 120 W: 0.4350 - 0.0319; 180 W: 0.5177 - 0.0469: 180 W wins.
    let per_hash = 5.75 * 220.0 / 730.0 / 7.23e11;
    let profit = |h: f64, p: f64| h * 3600.0 * per_hash - p / 0.8 / 1000.0 * 0.25;
    assert!((f(&set[0]["profit_per_hour"]) - profit(h120, p120)).abs() < 1e-9);
    assert!((f(&set[1]["profit_per_hour"]) - profit(6e7, 150.0)).abs() < 1e-9);
    assert_eq!(f(&a["best_profit"]["limit_w"]), 180.0);
    // B: one setting only.
    let b = &v["cards"][1];
    assert_eq!(b["best_efficiency"]["limit_w"], serde_json::Value::Null);
    assert!(b["best_efficiency"]["why_not"]
        .as_str()
        .unwrap()
        .contains("only 1 power-limit setting"));

    // The table: chart and recommendations.
    let t = run(&e, Some(FLAT), &["--tuning"], None);
    assert!(t.contains("recommended for efficiency: 120 W"), "{t}");
    assert!(t.contains("recommended for profit: 180 W"), "{t}");
    let braille = |l: &str| l.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c));
    assert!(t.lines().filter(|l| braille(l)).count() >= 2, "{t}");
    assert!(t.contains("120 W") && t.contains("180 W limit"), "{t}");
}

#[test]
fn tuning_refuses_with_too_few_hours_or_no_tariff() {
    let e = env();
    // 01:00 to 02:30: 120 W for 1 h, 180 W for 20 minutes only.
    let t = run(&e, Some(FLAT), &["--tuning"], Some((3600, 9000)));
    assert!(
        t.contains("cannot recommend: 1 of 2 settings have 1 h or more of mining (need 2)"),
        "{t}"
    );
    assert!(!t.contains("recommended for"), "{t}");
    // Whole period without a tariff: efficiency yes, profit says why not.
    let t = run(&e, None, &["--tuning"], None);
    assert!(t.contains("recommended for efficiency: 120 W"), "{t}");
    assert!(t.contains("profit: no profit figure: no tariff set"), "{t}");
}

#[test]
fn bad_config_names_file_line_and_key() {
    let e = env();
    let cfg = e.dir.join("bad.toml");
    std::fs::write(
        &cfg,
        "[tariff]\ncurrency = \"EUR\"\nprice_per_kwh = \"x\"\n",
    )
    .unwrap();
    let out = bin()
        .arg("report")
        .arg("--db")
        .arg(&e.db)
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:3:17"), "{err}");
}

/// AMD cards are reported like NVIDIA ones: the same readings on an AMD
/// card (amdgpu's power and edge temperature, hashrate from a miner that
/// names the card by PCI address, as lolMiner does), on an NVIDIA card
/// whose miner names it by uuid (the hand-checked path above), and on one
/// whose miner names it by PCI address only (GMiner), give the same row.
/// A miner series naming its card by its own device index (TeamRedMiner)
/// joins no card: that card shows no hashrate rather than a guess.
#[test]
fn amd_cards_and_pci_joined_miners_report_like_uuid_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    {
        let db = Db::open(&dir, Options::default()).unwrap();
        let all = |f: &dyn Fn(i64) -> f64| (0..N).map(|k| (k, f(k))).collect::<Vec<_>>();
        let power = all(&|k| if k < 12 { 150.0 } else { 170.0 });
        let hashrate = all(&|k| if k == 15 { 0.0 } else { 6e7 });
        let shares = all(&|k| k as f64);
        let temp = all(&|k| 55.0 + (k % 5) as f64);
        // The AMD card, its miner by PCI address in nvidia-smi's form.
        let c = [("instance", "rig2"), ("card", "card0")];
        put(
            &db,
            "amdgpu_gpu_info",
            &[
                ("instance", "rig2"),
                ("card", "card0"),
                ("name", "Radeon RX 6800"),
                ("pci_bus_id", "0000:03:00.0"),
            ],
            &all(&|_| 1.0),
        );
        put(&db, "amdgpu_power_draw_watts", &c, &power);
        put(&db, "amdgpu_power_limit_watts", &c, &all(&|_| 180.0));
        put(
            &db,
            "amdgpu_temperature_celsius",
            &[("instance", "rig2"), ("card", "card0"), ("sensor", "edge")],
            &temp,
        );
        put(
            &db,
            "amdgpu_temperature_celsius",
            &[
                ("instance", "rig2"),
                ("card", "card0"),
                ("sensor", "junction"),
            ],
            &all(&|_| 95.0),
        );
        let lol = [
            ("instance", "rig2"),
            ("miner", "lolminer"),
            ("pci_bus_id", "00000000:03:00.0"),
        ];
        put(&db, "miner_hashrate_hashes_per_second", &lol, &hashrate);
        put(&db, "miner_shares_accepted_total", &lol, &shares);
        // A second AMD card that only TeamRedMiner's device index names.
        let c1 = [("instance", "rig2"), ("card", "card1")];
        put(
            &db,
            "amdgpu_gpu_info",
            &[
                ("instance", "rig2"),
                ("card", "card1"),
                ("name", "Radeon RX 580"),
                ("pci_bus_id", "0000:04:00.0"),
            ],
            &all(&|_| 1.0),
        );
        put(&db, "amdgpu_power_draw_watts", &c1, &power);
        let trm = [
            ("instance", "rig2"),
            ("miner", "teamredminer"),
            ("gpu", "1"),
        ];
        put(&db, "miner_hashrate_hashes_per_second", &trm, &hashrate);
        // NVIDIA, miner by uuid.
        for (rig, miner_labels) in [
            (
                "rig3",
                vec![("instance", "rig3"), ("miner", "trex"), ("uuid", "GPU-D")],
            ),
            (
                "rig4",
                vec![
                    ("instance", "rig4"),
                    ("miner", "gminer"),
                    ("pci_bus_id", "00000000:05:00.0"),
                ],
            ),
        ] {
            let uuid = if rig == "rig3" { "GPU-D" } else { "GPU-E" };
            let g = [
                ("instance", rig),
                ("uuid", uuid),
                ("name", "NVIDIA GeForce RTX 3070"),
            ];
            put(
                &db,
                "nvidia_smi_gpu_info",
                &[
                    ("instance", rig),
                    ("uuid", uuid),
                    ("name", "NVIDIA GeForce RTX 3070"),
                    ("pci_bus_id", "00000000:05:00.0"),
                ],
                &all(&|_| 1.0),
            );
            put(&db, "nvidia_smi_power_draw_watts", &g, &power);
            put(
                &db,
                "nvidia_smi_enforced_power_limit_watts",
                &g,
                &all(&|_| 180.0),
            );
            put(&db, "nvidia_smi_temperature_gpu", &g, &temp);
            put(
                &db,
                "miner_hashrate_hashes_per_second",
                &miner_labels,
                &hashrate,
            );
            put(&db, "miner_shares_accepted_total", &miner_labels, &shares);
        }
    }
    let e = Env {
        dir: tmp.path().to_path_buf(),
        db: dir,
        _tmp: tmp,
    };
    let rows = csv(&run(&e, Some(FLAT), &["--format", "csv"], None));
    let by_id = |id: &str| {
        rows.values()
            .find(|r| r["uuid"] == id)
            .unwrap_or_else(|| panic!("no card {id}: {rows:?}"))
            .clone()
    };
    let (amd, trm, d, gm) = (
        by_id("card0"),
        by_id("card1"),
        by_id("GPU-D"),
        by_id("GPU-E"),
    );
    assert_eq!(amd["name"], "Radeon RX 6800");
    assert!(
        !d["hashrate_hs"].is_empty() && !d["cost"].is_empty(),
        "{d:?}"
    );
    close(&amd["temp_max_c"], 59.0, "edge sensor, not junction");
    for (what, row) in [("AMD by PCI", &amd), ("NVIDIA by PCI", &gm)] {
        for (k, v) in &d {
            if !matches!(k.as_str(), "row" | "instance" | "uuid" | "name") {
                assert_eq!(&row[k], v, "{what}: {k}");
            }
        }
    }
    assert_eq!(
        (
            trm["hashrate_hs"].as_str(),
            trm["hashes_per_joule"].as_str()
        ),
        ("0", ""),
        "{trm:?}"
    );
    assert!(!trm["gpu_kwh"].is_empty(), "{trm:?}");

    // Tuning finds the AMD card's limit the same way.
    let s = run(&e, Some(FLAT), &["--tuning", "--format", "json"], None);
    let v: serde_json::Value = serde_json::from_str(&s).unwrap();
    let cards = v["cards"].as_array().unwrap();
    let settings = |id: &str| {
        cards
            .iter()
            .find(|c| c["uuid"] == id)
            .map(|c| c["settings"].clone())
            .unwrap_or_else(|| panic!("no tuning for {id}: {s}"))
    };
    assert_eq!(settings("card0"), settings("GPU-D"));
    assert_eq!(settings("card0")[0]["limit_w"], 180.0);
}
