//! Properties of the simulated rig.

use minetsdb_collectors::sim::{
    EventKind, Rig, RigConfig, Scrape, GPU_METRICS, MODELS, RIG_METRICS,
};

const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;
const DAY: i64 = 86_400_000;

fn rig(seed: u64, gpus: usize) -> Rig {
    Rig::new(RigConfig {
        seed,
        gpus,
        ..RigConfig::default()
    })
}

fn gpu_idx(metric: &str) -> usize {
    GPU_METRICS.iter().position(|m| *m == metric).unwrap()
}

fn rig_idx(gpus: usize, metric: &str) -> usize {
    gpus * GPU_METRICS.len() + RIG_METRICS.iter().position(|m| *m == metric).unwrap()
}

/// Value of `metric` for GPU `g` in scrape `s`.
fn gv(s: &Scrape, g: usize, metric: &str) -> f64 {
    let i = g * GPU_METRICS.len() + gpu_idx(metric);
    assert_eq!(s.samples[i].0.metric_name(), metric);
    s.samples[i].1
}

fn has_decimals(v: f64, places: i32) -> bool {
    let scale = 10f64.powi(places);
    let x = v * scale;
    (x - x.round()).abs() < 1e-6 * scale.max(x.abs() * 1e-9)
}

#[test]
fn same_seed_same_data_different_seed_different_data() {
    let a: Vec<Scrape> = rig(7, 3).backfill(T0, T0 + DAY).collect();
    let b: Vec<Scrape> = rig(7, 3).backfill(T0, T0 + DAY).collect();
    let c: Vec<Scrape> = rig(8, 3).backfill(T0, T0 + DAY).collect();
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.t, y.t);
        assert_eq!(x.samples.len(), y.samples.len());
        for ((lx, vx), (ly, vy)) in x.samples.iter().zip(&y.samples) {
            assert_eq!(lx, ly);
            assert_eq!(vx.to_bits(), vy.to_bits(), "{lx} at {}", x.t);
        }
    }
    // Pinned: a seed names the same cards in every version.
    let r1 = rig(1, 3);
    let g0 = &r1.series()[0];
    assert_eq!(
        g0.get("uuid"),
        Some("GPU-a683eca2-3668-14ee-6592-006731d3dff7")
    );
    assert_eq!(g0.get("name"), Some("NVIDIA GeForce RTX 3060 Ti"));
    // Another seed: other cards (UUIDs) and other values.
    assert_ne!(a[0].samples[0].0, c[0].samples[0].0);
    let temps = |v: &[Scrape]| -> Vec<u64> {
        v.iter()
            .map(|s| gv(s, 0, "miner_hashrate_hashes_per_second").to_bits())
            .collect()
    };
    assert_ne!(temps(&a), temps(&c));
}

#[test]
fn scrapes_share_one_timestamp_and_series_are_complete_and_valid() {
    let gpus = 3;
    let mut r = rig(1, gpus);
    let series = r.series().to_vec();
    assert_eq!(series.len(), gpus * GPU_METRICS.len() + RIG_METRICS.len());
    let scrapes: Vec<Scrape> = r.backfill(T0, T0 + 7 * DAY).collect();
    let events = r.events().to_vec();
    assert_eq!(scrapes.len() as i64, 7 * DAY / MIN);

    // Labels: every series distinct, named as documented, with its instance.
    let mut uniq = series.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), series.len());
    for (i, l) in series.iter().enumerate() {
        assert_eq!(l.get("instance"), Some("rig1"), "{l}");
        if i < gpus * GPU_METRICS.len() {
            assert_eq!(l.metric_name(), GPU_METRICS[i % GPU_METRICS.len()]);
            let uuid = l.get("uuid").unwrap();
            assert!(uuid.starts_with("GPU-") && uuid.len() == 40, "{uuid}");
            assert!(l.get("name").unwrap().starts_with("NVIDIA GeForce "), "{l}");
            assert_eq!(
                l.get("miner").is_some(),
                l.metric_name().starts_with("miner_")
            );
        } else {
            assert_eq!(l.get("coin"), Some("ETC"));
            if l.metric_name().starts_with("pool_") {
                assert_eq!(l.get("pool"), Some("ethermine"));
            }
        }
        assert!(
            minetsdb::Labels::from_pairs(l.iter().map(|x| (x.name.clone(), x.value.clone())))
                .is_ok()
        );
    }
    // The GPUs of one rig have distinct UUIDs.
    let mut uuids: Vec<_> = (0..gpus)
        .map(|g| series[g * GPU_METRICS.len()].get("uuid").unwrap())
        .collect();
    uuids.dedup();
    assert_eq!(uuids.len(), gpus);

    let mut prev: Option<&Scrape> = None;
    for (k, s) in scrapes.iter().enumerate() {
        // Timestamps: increasing, near the minute grid, not exactly on it.
        let nominal = T0 + k as i64 * MIN;
        assert!(
            s.t >= nominal && s.t < nominal + 1_100,
            "{} vs {nominal}",
            s.t
        );
        // Every series, in the same order, every time.
        assert_eq!(s.samples.len(), series.len());
        for ((l, v), want) in s.samples.iter().zip(&series) {
            assert_eq!(l, want);
            assert!(v.is_finite(), "{l} = {v}");
        }
        if let Some(p) = prev {
            assert!(s.t > p.t);
            let between = |f: &dyn Fn(&EventKind) -> bool| {
                events.iter().any(|e| e.t > p.t && e.t <= s.t && f(&e.kind))
            };
            let reboot = between(&|k| matches!(k, EventKind::Reboot));
            let restart = between(&|k| matches!(k, EventKind::Reboot | EventKind::MinerCrash));
            for (i, ((l, v), (_, pv))) in s.samples.iter().zip(&p.samples).enumerate() {
                let name = l.metric_name();
                if !name.ends_with("_total") {
                    continue;
                }
                let allowed = match name {
                    "gpu_energy_joules_total" => reboot,
                    n if n.starts_with("miner_shares_") => restart,
                    _ => false,
                };
                assert!(
                    v >= pv || allowed,
                    "{l} fell {pv} -> {v} at scrape {k} (series {i})"
                );
            }
            // A reboot resets the energy counter to (almost) nothing.
            if reboot {
                for g in 0..gpus {
                    assert!(
                        gv(s, g, "gpu_energy_joules_total") < gv(p, g, "gpu_energy_joules_total")
                    );
                }
            }
        }
        prev = Some(s);
    }
    // Seed 1 has these in its first week, so the resets above were exercised.
    assert!(events.iter().any(|e| e.kind == EventKind::Reboot));
    assert!(events.iter().any(|e| e.kind == EventKind::MinerCrash));
    assert!(events.iter().any(|e| e.kind == EventKind::NetworkOutage));
    assert!(events
        .iter()
        .any(|e| matches!(e.kind, EventKind::PowerLimit { .. })));
}

#[test]
fn values_are_in_realistic_ranges_and_precisions() {
    let gpus = 3;
    let mut r = rig(3, gpus);
    let models: Vec<_> = r.gpu_models().collect();
    let scrapes: Vec<Scrape> = r.backfill(T0, T0 + 7 * DAY).collect();
    let mut idle_scrapes = 0;
    for s in &scrapes {
        for (g, m) in models.iter().enumerate() {
            let temp = gv(s, g, "nvidia_smi_temperature_gpu");
            assert!(
                (30.0..=90.0).contains(&temp) && temp.fract() == 0.0,
                "temp {temp}"
            );
            let fan = gv(s, g, "nvidia_smi_fan_speed_ratio");
            assert!(
                (0.0..=1.0).contains(&fan) && has_decimals(fan, 2),
                "fan {fan}"
            );
            let limit = gv(s, g, "nvidia_smi_enforced_power_limit_watts");
            assert!(limit >= m.min_power_limit_w && limit <= m.max_power_limit_w);
            assert_eq!(limit.fract(), 0.0);
            let power = gv(s, g, "nvidia_smi_power_draw_watts");
            assert!(
                power >= 0.0 && power <= limit + 15.0,
                "power {power} limit {limit}"
            );
            assert!(has_decimals(power, 2), "{power}");
            for c in [
                "nvidia_smi_clocks_current_graphics_clock_hz",
                "nvidia_smi_clocks_current_memory_clock_hz",
            ] {
                let hz = gv(s, g, c);
                assert!((2e8..=1.2e10).contains(&hz) && hz % 1e6 == 0.0, "{c} {hz}");
            }
            for u in [
                "nvidia_smi_utilization_gpu_ratio",
                "nvidia_smi_utilization_memory_ratio",
            ] {
                let v = gv(s, g, u);
                assert!((0.0..=1.0).contains(&v) && has_decimals(v, 2), "{u} {v}");
            }
            let used = gv(s, g, "nvidia_smi_memory_used_bytes");
            let total = gv(s, g, "nvidia_smi_memory_total_bytes");
            assert!(used > 0.0 && used < total && used % 1_048_576.0 == 0.0);
            let pstate = gv(s, g, "nvidia_smi_pstate");
            assert!(pstate == 2.0 || pstate == 8.0);
            assert!(has_decimals(gv(s, g, "gpu_energy_joules_total"), 3));
            let h = gv(s, g, "miner_hashrate_hashes_per_second");
            let busy = gv(s, g, "nvidia_smi_utilization_gpu_ratio") > 0.0;
            if h == 0.0 && busy {
                // The miner builds its DAG after a start: busy, no hashes.
                assert!(power > 0.3 * limit, "DAG power {power}");
            } else if h == 0.0 {
                idle_scrapes += 1;
                assert!(power < 0.3 * m.default_power_limit_w, "idle power {power}");
            } else {
                let rel = h / m.hashrate_at_default;
                assert!((0.6..1.15).contains(&rel), "hashrate {h} of {}", m.name);
                assert!(power > 0.4 * limit, "mining power {power}");
                assert_eq!(pstate, 2.0);
            }
        }
        let price = s.samples[rig_idx(gpus, "coin_price_usd")].1;
        assert!(price > 5.0 && price < 100.0 && has_decimals(price, 2));
        let bal = s.samples[rig_idx(gpus, "pool_unpaid_balance")].1;
        assert!((0.0..0.2).contains(&bal), "{bal}");
    }
    // Outages happen, but the rig mostly mines.
    let share = idle_scrapes as f64 / (scrapes.len() * gpus) as f64;
    assert!(share > 0.0 && share < 0.1, "idle share {share}");
    // Hashrates are noisy, not round: few repeats in a row.
    let hs: Vec<f64> = scrapes
        .iter()
        .map(|s| gv(s, 0, "miner_hashrate_hashes_per_second"))
        .filter(|&h| h > 0.0)
        .collect();
    let repeats = hs.windows(2).filter(|w| w[0] == w[1]).count();
    assert!(repeats * 100 < hs.len(), "{repeats} repeats");
}

#[test]
fn efficiency_peaks_below_the_default_limit() {
    for m in MODELS {
        let mut best = (0.0, m.min_power_limit_w);
        let mut w = m.min_power_limit_w;
        while w <= m.max_power_limit_w {
            let e = m.efficiency_at_limit(w);
            if e > best.0 {
                best = (e, w);
            }
            w += 1.0;
        }
        assert!(
            best.1 < 0.9 * m.default_power_limit_w,
            "{}: best {} W, default {} W",
            m.name,
            best.1,
            m.default_power_limit_w
        );
        // Power-limited: less limit, less power and less hashrate.
        let lo = m.mining_power_at_limit(0.7 * m.default_power_limit_w);
        let hi = m.mining_power_at_limit(m.default_power_limit_w);
        assert!(lo < hi && m.hashrate_at(lo) < m.hashrate_at(hi));
        // The settings tried include the default and a lower, more efficient one.
        let settings = m.power_limit_settings();
        assert!(settings.contains(&m.default_power_limit_w));
        assert!(
            m.efficiency_at_limit(settings[0]) > m.efficiency_at_limit(m.default_power_limit_w)
        );
    }
}

#[test]
fn temperature_follows_power_with_a_lag() {
    // Right after a miner restart the card is still warm; it takes a few
    // scrapes, not one, to return to its mining temperature.
    let mut r = rig(1, 1);
    let scrapes: Vec<Scrape> = r.backfill(T0, T0 + 7 * DAY).collect();
    let restart = r
        .events()
        .iter()
        .find(|e| e.kind == EventKind::Reboot)
        .unwrap()
        .t;
    let k = scrapes.iter().position(|s| s.t > restart).unwrap();
    let before = gv(&scrapes[k - 1], 0, "nvidia_smi_temperature_gpu");
    let after: Vec<f64> = scrapes[k..k + 4]
        .iter()
        .map(|s| gv(s, 0, "nvidia_smi_temperature_gpu"))
        .collect();
    assert!(
        after[0] < before && after[0] > before - 25.0,
        "{before} {after:?}"
    );
}

#[test]
fn pool_values_repeat_between_refreshes() {
    let gpus = 2;
    let mut r = rig(5, gpus);
    let scrapes: Vec<Scrape> = r.backfill(T0, T0 + 2 * DAY).collect();
    let refreshes = (2 * DAY / r.config().pool_interval_ms) as usize;
    for m in RIG_METRICS {
        let i = rig_idx(gpus, m);
        let changes = scrapes
            .windows(2)
            .filter(|w| w[0].samples[i].1 != w[1].samples[i].1)
            .count();
        assert!(changes <= refreshes, "{m}: {changes} changes");
        if m != "pool_payouts_total" && m != "pool_paid_total" {
            assert!(changes > refreshes / 2, "{m}: only {changes} changes");
        }
    }
    // The balance drops exactly when the payout counter rises.
    let (b, p) = (
        rig_idx(gpus, "pool_unpaid_balance"),
        rig_idx(gpus, "pool_payouts_total"),
    );
    for w in scrapes.windows(2) {
        let dropped = w[1].samples[b].1 < w[0].samples[b].1;
        let paid = w[1].samples[p].1 > w[0].samples[p].1;
        assert_eq!(dropped, paid, "at {}", w[1].t);
    }
}

#[test]
fn scrape_and_scrape_values_agree() {
    let mut a = rig(9, 2);
    let mut b = rig(9, 2);
    let mut out = Vec::new();
    for k in 0..500 {
        let t = T0 + k * 15_000;
        let s = a.scrape(t);
        b.scrape_values(t, &mut out);
        assert_eq!(s.t, t);
        let vals: Vec<u64> = s.samples.iter().map(|x| x.1.to_bits()).collect();
        let outb: Vec<u64> = out.iter().map(|x| x.to_bits()).collect();
        assert_eq!(vals, outb);
    }
    // backfill_with yields what backfill does, without the labels.
    let via_iter: Vec<(i64, Vec<u64>)> = rig(4, 2)
        .backfill(T0, T0 + DAY)
        .map(|s| (s.t, s.samples.iter().map(|x| x.1.to_bits()).collect()))
        .collect();
    let mut via_fn = Vec::new();
    rig(4, 2).backfill_with(T0, T0 + DAY, |t, v| {
        via_fn.push((t, v.iter().map(|x| x.to_bits()).collect::<Vec<u64>>()))
    });
    assert_eq!(via_iter, via_fn);
    // Long gaps between scrapes are fine too.
    let s = a.scrape(T0 + 400 * DAY);
    assert!(s.samples.iter().all(|x| x.1.is_finite()));
}

#[test]
#[ignore = "timing; run with --release -- --ignored --nocapture"]
fn time_90_days_8_gpus() {
    let mut r = rig(1, 8);
    let start = std::time::Instant::now();
    let (mut n, mut samples, mut sum) = (0usize, 0usize, 0.0);
    for s in r.backfill(T0, T0 + 90 * DAY) {
        n += 1;
        samples += s.samples.len();
        sum += s.samples[1].1;
    }
    let full = start.elapsed();
    let mut r = rig(1, 8);
    let start = std::time::Instant::now();
    r.backfill_with(T0, T0 + 90 * DAY, |_, v| sum += v[1]);
    let values_only = start.elapsed();
    println!(
        "90 days x 8 GPUs: {n} scrapes, {samples} samples ({} series) in {full:?} via backfill (labels cloned); {values_only:?} via backfill_with [{sum:.0}]",
        samples / n
    );
}
