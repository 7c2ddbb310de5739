//! `minetsdb report --tuning`: per card, hashrate, power and efficiency
//! grouped by the power limit in effect (the stored
//! `nvidia_smi_enforced_power_limit_watts`), and the limit to keep.
//!
//! Only mining time counts: an interval is grouped when the hashrate is
//! above zero at both its ends, so crashes and DAG builds (same limit, no
//! hashes) do not drag a setting down. Each interval goes to the limit in
//! effect at its start. Mean hashrate and mean power are taken over each
//! series' own intervals, and efficiency is their ratio, so a miner API
//! and nvidia-smi scraped at different moments still line up.
//!
//! A recommendation needs at least [`MIN_SETTINGS`] settings each seen for
//! at least [`MIN_HOURS`] hours of mining; settings seen for less are shown
//! but not ranked.

use std::collections::BTreeMap;

use minetsdb::{Db, Matcher, Sample};

use super::{each_series, metric, walk, Report};

/// Hours of mining a setting needs before it is ranked.
pub const MIN_HOURS: f64 = 1.0;
/// Settings a recommendation needs to compare.
pub const MIN_SETTINGS: usize = 2;

/// One power-limit setting of one card.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub limit_w: f64,
    /// Hours of mining observed at this limit.
    pub hours: f64,
    pub mean_hashrate: f64,
    pub mean_power_w: f64,
    /// Hashes per GPU joule: mean hashrate / mean power.
    pub hashes_per_joule: Option<f64>,
    /// Earnings minus wall-energy cost per hour at the card's observed
    /// earnings per hash and its average price per kWh.
    pub profit_per_hour: Option<f64>,
}

/// One card's settings and what to keep.
#[derive(Debug, Clone)]
pub struct CardTuning {
    pub instance: String,
    pub uuid: String,
    pub name: String,
    pub settings: Vec<Setting>,
    /// The limit with the best hashes per joule, or why there is none.
    pub best_efficiency: Result<f64, String>,
    /// The limit with the best profit per hour, or why there is none.
    pub best_profit: Result<f64, String>,
}

#[derive(Default)]
struct Group {
    hash_ms: i64,
    hashes: f64,
    power_ms: i64,
    joules: f64,
}

/// Limits are grouped at 0.01 W, the precision nvidia-smi prints.
fn limit_key(w: f64) -> i64 {
    (w * 100.0).round() as i64
}

/// Groups each card's mining time of `[from, to)` by power limit; money
/// figures come from `report` (same period and config).
pub fn compute(db: &Db, from: i64, to: i64, report: &Report) -> anyhow::Result<Vec<CardTuning>> {
    type Key = crate::cards::Key;
    let (join, _) = super::card_join(db, from, to)?;
    let key = |l: &minetsdb::Labels| join.key(|n| l.get(n));
    let mut limits: BTreeMap<Key, Vec<Sample>> = BTreeMap::new();
    super::each_vendor_series(
        db,
        |v| v.limit,
        from,
        to,
        |l, s| {
            if let Some(k) = key(l) {
                limits.insert(k, s.to_vec());
            }
        },
    )?;
    let mut groups: BTreeMap<Key, BTreeMap<i64, Group>> = BTreeMap::new();
    let mut hashrates: BTreeMap<Key, Vec<Sample>> = BTreeMap::new();
    each_series(
        db,
        &[Matcher::metric(metric::HASHRATE)],
        from,
        to,
        |l, s| {
            let Some(k) = key(l) else { return };
            let Some(lim) = limits.get(&k) else { return };
            let mut at = walk::StepAt::new(lim);
            let g = groups.entry(k.clone()).or_default();
            let gap = walk::max_gap_ms(s);
            for w in s.windows(2) {
                let (a, b) = (w[0], w[1]);
                if b.t - a.t > gap || !(a.v > 0.0 && b.v > 0.0) {
                    continue;
                }
                let Some(limit) = at.at(a.t) else { continue };
                let e = g.entry(limit_key(limit)).or_default();
                e.hash_ms += b.t - a.t;
                e.hashes += (a.v + b.v) / 2.0 * (b.t - a.t) as f64 / 1000.0;
            }
            hashrates.insert(k, s.to_vec());
        },
    )?;
    super::each_vendor_series(
        db,
        |v| v.power,
        from,
        to,
        |l, s| {
            let Some(k) = key(l) else { return };
            let (Some(lim), Some(hr)) = (limits.get(&k), hashrates.get(&k)) else {
                return;
            };
            let mut at = walk::StepAt::new(lim);
            let mut hr_at = walk::StepAt::new(hr);
            let g = groups.entry(k).or_default();
            let gap = walk::max_gap_ms(s);
            for w in s.windows(2) {
                let (a, b) = (w[0], w[1]);
                if b.t - a.t > gap || !(a.v.is_finite() && b.v.is_finite()) {
                    continue;
                }
                let mining = hr_at.at(a.t).is_some_and(|h| h > 0.0)
                    && hr_at.at(b.t).is_some_and(|h| h > 0.0);
                let Some(limit) = at.at(a.t) else { continue };
                if !mining {
                    continue;
                }
                let e = g.entry(limit_key(limit)).or_default();
                e.power_ms += b.t - a.t;
                e.joules += (a.v + b.v) / 2.0 * (b.t - a.t) as f64 / 1000.0;
            }
        },
    )?;

    let eff = report.psu_efficiency;
    let mut out = Vec::new();
    for card in &report.cards {
        let k = (card.instance.clone(), card.uuid.clone());
        let Some(g) = groups.get(&k) else { continue };
        // Earnings per hash and price per kWh this card saw over the period.
        let per_hash = card
            .earned_fiat
            .filter(|_| card.hashes > 0.0 && report.no_profit.is_none())
            .map(|e| e / card.hashes);
        let per_kwh = card
            .cost
            .filter(|_| card.wall_joules > 0.0)
            .map(|c| c / (card.wall_joules / 3.6e6));
        let settings: Vec<Setting> = g
            .iter()
            .filter(|(_, x)| x.hash_ms > 0 || x.power_ms > 0)
            .map(|(&lk, x)| {
                let mean_hashrate = if x.hash_ms > 0 {
                    x.hashes / (x.hash_ms as f64 / 1000.0)
                } else {
                    0.0
                };
                let mean_power_w = if x.power_ms > 0 {
                    x.joules / (x.power_ms as f64 / 1000.0)
                } else {
                    0.0
                };
                let hashes_per_joule = (mean_power_w > 0.0 && mean_hashrate > 0.0)
                    .then(|| mean_hashrate / mean_power_w);
                let profit_per_hour = per_hash
                    .zip(per_kwh)
                    .map(|(ph, pk)| mean_hashrate * 3600.0 * ph - mean_power_w / eff / 1000.0 * pk);
                Setting {
                    limit_w: lk as f64 / 100.0,
                    hours: x.hash_ms as f64 / 3_600_000.0,
                    mean_hashrate,
                    mean_power_w,
                    hashes_per_joule,
                    profit_per_hour,
                }
            })
            .collect();
        let ranked: Vec<&Setting> = settings
            .iter()
            .filter(|s| s.hours >= MIN_HOURS && s.hashes_per_joule.is_some())
            .collect();
        let refuse = if settings.len() < MIN_SETTINGS {
            Some(format!(
                "cannot recommend: only {} power-limit setting observed (need {MIN_SETTINGS})",
                settings.len()
            ))
        } else if ranked.len() < MIN_SETTINGS {
            Some(format!(
                "cannot recommend: {} of {} settings have {MIN_HOURS} h or more of mining (need {MIN_SETTINGS})",
                ranked.len(),
                settings.len()
            ))
        } else {
            None
        };
        let best = |f: &dyn Fn(&Setting) -> Option<f64>| {
            ranked
                .iter()
                .filter_map(|s| f(s).map(|v| (v, s.limit_w)))
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|x| x.1)
        };
        let best_efficiency = match &refuse {
            Some(r) => Err(r.clone()),
            None => best(&|s| s.hashes_per_joule).ok_or_else(|| "no efficiency data".into()),
        };
        let best_profit = match (&refuse, &report.no_profit) {
            (Some(r), _) => Err(r.clone()),
            (None, Some(why)) => Err(format!("no profit figure: {why}")),
            (None, None) => best(&|s| s.profit_per_hour)
                .ok_or_else(|| "no profit figure: no earnings or cost for this card".into()),
        };
        out.push(CardTuning {
            instance: card.instance.clone(),
            uuid: card.uuid.clone(),
            name: card.name.clone(),
            settings,
            best_efficiency,
            best_profit,
        });
    }
    Ok(out)
}
