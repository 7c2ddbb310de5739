//! `minetsdb report`: what each card used, cost, earned and how efficiently
//! it hashed over a period, from the stored samples alone.
//!
//! [`compute`] reads each metric once with `Db::select` over the period
//! and walks the raw samples ([`walk`]): counters by increase with resets,
//! gauges integrated over time, gaps (a step over twice the scrape
//! interval) not counted as up. [`tuning`] groups the same samples by the
//! power limit in effect. [`render`] prints either as a table, CSV or JSON.
//!
//! Cards are NVIDIA's (`nvidia_smi_*`, by uuid) and AMD's (`amdgpu_*`, by
//! card; temperature is the edge sensor); miner series join them by uuid
//! or PCI address ([`crate::cards`]).
//!
//! What each figure is:
//! - uptime: time covered by the card's power readings, over the period;
//!   mining: the part of it with a hashrate above zero;
//! - GPU energy: the increase of `gpu_energy_joules_total` (resets counted
//!   as restarts from zero), or, for a card without that counter, its
//!   power readings integrated over the time it was up;
//! - wall energy: GPU energy, plus `[power] overhead_watts` for every rig
//!   while any of its cards was up, divided by `psu_efficiency`;
//! - cost: wall energy, hour by hour, at the tariff's price of that hour;
//! - earned: per pool account, the unpaid balance's change over the period
//!   plus the increase of `pool_paid_total` (what the pool credited: a
//!   payout moves coin from the balance to paid, so the sum is unchanged);
//!   shared out among the rig's cards by their accepted shares; in fiat at
//!   the configured price or the mean of a price series over the period;
//! - hashes per joule: the hashrate integrated over time, over GPU energy
//!   (the card's own efficiency; wall losses are the rig's);
//! - temperatures: mean and maximum of the readings; acceptance: accepted
//!   shares over accepted + rejected + stale.

#[cfg(test)]
pub(crate) mod bench;
pub mod render;
pub mod tariff;
pub mod tuning;
pub mod walk;

use std::collections::BTreeMap;

use anyhow::Context;
use minetsdb::{Db, Matcher, Sample};
use minetsdb_collectors::config::costs::{Costs, PriceSource, HOURS_PER_WEEK};

use crate::cards::{Join, Vendor, AMD, NVIDIA, VENDORS};

use tariff::Hourly;

/// Metric names the report reads (the simulator's and nvidia_gpu_exporter's).
pub mod metric {
    pub const POWER: &str = "nvidia_smi_power_draw_watts";
    pub const LIMIT: &str = "nvidia_smi_enforced_power_limit_watts";
    pub const ENERGY: &str = "gpu_energy_joules_total";
    pub const HASHRATE: &str = "miner_hashrate_hashes_per_second";
    pub const ACCEPTED: &str = "miner_shares_accepted_total";
    pub const REJECTED: &str = "miner_shares_rejected_total";
    pub const STALE: &str = "miner_shares_stale_total";
    pub const TEMP: &str = "nvidia_smi_temperature_gpu";
    pub const BALANCE: &str = "pool_unpaid_balance";
    pub const PAID: &str = "pool_paid_total";
    /// The price series used when the config names none.
    pub const DEFAULT_PRICE: &str = "coin_price_usd";
}

/// Where a card's GPU energy came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnergySource {
    /// Increase of `gpu_energy_joules_total`.
    Counter,
    /// Power readings integrated over time.
    Power,
    /// Neither series had two samples in the period.
    None,
}

impl EnergySource {
    pub fn as_str(self) -> &'static str {
        match self {
            EnergySource::Counter => "counter",
            EnergySource::Power => "power",
            EnergySource::None => "none",
        }
    }
}

/// One card's figures. Money is in the tariff's currency.
#[derive(Debug, Clone)]
pub struct Card {
    pub instance: String,
    /// NVIDIA's uuid, or amdgpu's card (`card0`).
    pub uuid: String,
    pub name: String,
    pub up_ms: i64,
    pub mining_ms: i64,
    pub energy_source: EnergySource,
    pub gpu_joules: f64,
    pub wall_joules: f64,
    pub cost: Option<f64>,
    pub earned_coin: Option<f64>,
    pub earned_fiat: Option<f64>,
    pub profit: Option<f64>,
    pub hashes: f64,
    pub temp_mean: Option<f64>,
    pub temp_max: Option<f64>,
    pub accepted: f64,
    pub rejected: f64,
    pub stale: f64,
    /// The largest step between samples still counted as up, ms.
    pub max_gap_ms: i64,
}

impl Card {
    /// Hashes per GPU joule.
    pub fn hashes_per_joule(&self) -> Option<f64> {
        (self.gpu_joules > 0.0 && self.hashes > 0.0).then(|| self.hashes / self.gpu_joules)
    }
    /// Mean hashrate while up, H/s.
    pub fn mean_hashrate(&self) -> Option<f64> {
        (self.up_ms > 0).then(|| self.hashes / (self.up_ms as f64 / 1000.0))
    }
    /// Accepted over all shares.
    pub fn acceptance(&self) -> Option<f64> {
        let all = self.accepted + self.rejected + self.stale;
        (all > 0.0).then(|| self.accepted / all)
    }
}

/// One rig's overhead: the `[power]` watts beyond its cards, while up.
#[derive(Debug, Clone)]
pub struct Overhead {
    pub instance: String,
    pub up_ms: i64,
    pub wall_joules: f64,
    pub cost: Option<f64>,
}

/// What one pool account credited over the period.
#[derive(Debug, Clone)]
pub struct Account {
    pub instance: String,
    pub pool: String,
    pub coin: String,
    pub earned_coin: f64,
    /// Fiat per coin used, and where it came from.
    pub price: Option<(f64, String)>,
    pub earned_fiat: Option<f64>,
    /// How `earned_coin` was found.
    pub method: &'static str,
}

/// The whole report.
#[derive(Debug, Clone)]
pub struct Report {
    pub from: i64,
    pub to: i64,
    pub cards: Vec<Card>,
    pub overheads: Vec<Overhead>,
    pub accounts: Vec<Account>,
    pub totals: Totals,
    /// Currency of cost and profit; `None` without a tariff.
    pub currency: Option<String>,
    /// Currency of fiat earnings; `None` without a price.
    pub fiat: Option<String>,
    /// Why cost is missing, fiat earnings are missing, profit is missing.
    pub no_cost: Option<String>,
    pub no_fiat: Option<String>,
    pub no_profit: Option<String>,
    /// The `[power]` PSU efficiency applied (1 without one).
    pub psu_efficiency: f64,
    /// One line each: what the power figures assume, the tariff, the price.
    pub power_note: String,
    pub tariff_note: String,
    pub price_note: String,
}

impl Report {
    /// Currency of fiat earnings, when there is a price.
    pub fn price_currency(&self) -> Option<String> {
        self.fiat.clone()
    }
}

/// Sums over cards and overheads.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub gpu_joules: f64,
    pub wall_joules: f64,
    pub cost: Option<f64>,
    pub earned_coin: Option<f64>,
    pub earned_fiat: Option<f64>,
    pub profit: Option<f64>,
    pub hashes: f64,
    pub accepted: f64,
    pub rejected: f64,
    pub stale: f64,
}

impl Totals {
    pub fn hashes_per_joule(&self) -> Option<f64> {
        (self.gpu_joules > 0.0 && self.hashes > 0.0).then(|| self.hashes / self.gpu_joules)
    }
    pub fn acceptance(&self) -> Option<f64> {
        let all = self.accepted + self.rejected + self.stale;
        (all > 0.0).then(|| self.accepted / all)
    }
}

/// `J/MH` from hashes per joule.
pub fn joules_per_mh(hpj: f64) -> f64 {
    1e6 / hpj
}

/// Reads `metric` over `[from, to)` and hands each series to `f`, one at
/// a time, so memory holds one series' samples, not the period's.
pub(crate) fn each_series(
    db: &Db,
    matchers: &[Matcher],
    from: i64,
    to: i64,
    mut f: impl FnMut(&minetsdb::Labels, &[Sample]),
) -> anyhow::Result<()> {
    let name = matchers
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    for s in db
        .select(matchers, from..to)
        .with_context(|| format!("reading {name}"))?
    {
        let s = s.with_context(|| format!("reading {name}"))?;
        f(&s.labels, &s.samples);
    }
    Ok(())
}

type CardKey = crate::cards::Key;

/// The series of one card-level reading of every vendor (`metric` picks
/// it from a [`Vendor`]), each to `f`.
pub(crate) fn each_vendor_series(
    db: &Db,
    metric: fn(&Vendor) -> &'static str,
    from: i64,
    to: i64,
    mut f: impl FnMut(&minetsdb::Labels, &[Sample]),
) -> anyhow::Result<()> {
    for v in VENDORS {
        let sel = metric(v);
        let matchers = minetsdb::promql::parse_selector(sel)
            .map_err(|e| anyhow::anyhow!("selector {sel}: {e}"))?;
        each_series(db, &matchers, from, to, &mut f)?;
    }
    Ok(())
}

/// Cards of both vendors over `[from, to)`, and how series name them (see
/// [`crate::cards`]): the info series give each card's PCI address, for
/// miners that name cards only by it.
pub(crate) fn card_join(
    db: &Db,
    from: i64,
    to: i64,
) -> anyhow::Result<(Join, BTreeMap<CardKey, String>)> {
    let mut join = Join::new(&[NVIDIA.id, AMD.id]);
    let mut names = BTreeMap::new();
    for v in VENDORS {
        each_series(db, &[Matcher::metric(v.info)], from, to, |l, _| {
            let (Some(instance), Some(id)) = (l.get("instance"), l.get(v.id)) else {
                return;
            };
            let k: CardKey = (instance.to_string(), id.to_string());
            join.add_card(&k, l.get("pci_bus_id"));
            if let Some(n) = l.get("name") {
                names.insert(k, n.to_string());
            }
        })?;
    }
    Ok((join, names))
}

#[derive(Default)]
struct Acc {
    name: String,
    max_gap_ms: i64,
    up_ms: i64,
    mining_ms: i64,
    power: Option<Hourly>,
    counter: Option<Hourly>,
    hashes: f64,
    temp: Option<(f64, f64)>,
    accepted: f64,
    rejected: f64,
    stale: f64,
}

/// Computes the report over `[from, to)` with the money settings of `costs`.
pub fn compute(db: &Db, from: i64, to: i64, costs: &Costs) -> anyhow::Result<Report> {
    let tariff = costs.tariff.as_ref();
    let offset = tariff::offset_ms(tariff);
    let mut cards: BTreeMap<CardKey, Acc> = BTreeMap::new();
    // Per rig, the intervals any card was up, for the overhead.
    let mut rig_up: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    let (join, names) = card_join(db, from, to)?;
    let card_key = |l: &minetsdb::Labels| join.key(|n| l.get(n));

    // Power first: it sets each card's scrape gap, uptime and fallback energy.
    each_vendor_series(
        db,
        |v| v.power,
        from,
        to,
        |l, s| {
            let Some(key) = card_key(l) else { return };
            let a = cards.entry(key.clone()).or_default();
            a.name = l
                .get("name")
                .or_else(|| names.get(&key).map(String::as_str))
                .unwrap_or("")
                .to_string();
            a.max_gap_ms = walk::max_gap_ms(s);
            let up = rig_up.entry(key.0).or_default();
            a.up_ms += walk::covered_ms(s, a.max_gap_ms, |_, _| true, |t0, t1| up.push((t0, t1)));
            let mut h = Hourly::new(from, to, offset);
            walk::integrate(s, a.max_gap_ms, |t0, t1, j| h.add(t0, t1, j));
            a.power = Some(h);
        },
    )?;
    each_series(db, &[Matcher::metric(metric::ENERGY)], from, to, |l, s| {
        let Some(a) = card_key(l).and_then(|k| cards.get_mut(&k)) else {
            return;
        };
        if s.len() < 2 {
            return;
        }
        let mut h = Hourly::new(from, to, offset);
        walk::counter_increase(s, |t0, t1, j| h.add(t0, t1, j));
        a.counter = Some(h);
    })?;
    each_series(
        db,
        &[Matcher::metric(metric::HASHRATE)],
        from,
        to,
        |l, s| {
            let Some(a) = card_key(l).and_then(|k| cards.get_mut(&k)) else {
                return;
            };
            a.hashes += walk::integrate(s, a.max_gap_ms, |_, _, _| {});
            a.mining_ms += walk::covered_ms(s, a.max_gap_ms, |x, y| x > 0.0 && y > 0.0, |_, _| {});
        },
    )?;
    each_vendor_series(
        db,
        |v| v.temp,
        from,
        to,
        |l, s| {
            if let Some(a) = card_key(l).and_then(|k| cards.get_mut(&k)) {
                a.temp = walk::mean_max(s);
            }
        },
    )?;
    for (m, which) in [
        (metric::ACCEPTED, 0),
        (metric::REJECTED, 1),
        (metric::STALE, 2),
    ] {
        each_series(db, &[Matcher::metric(m)], from, to, |l, s| {
            if let Some(a) = card_key(l).and_then(|k| cards.get_mut(&k)) {
                let n = walk::counter_increase(s, |_, _, _| {});
                match which {
                    0 => a.accepted += n,
                    1 => a.rejected += n,
                    _ => a.stale += n,
                }
            }
        })?;
    }

    // Money settings.
    let (overhead_w, eff) = costs
        .power
        .as_ref()
        .map_or((0.0, 1.0), |p| (p.overhead_watts, p.psu_efficiency));
    let power_note = match &costs.power {
        Some(p) => format!(
            "wall energy = (GPU energy + {} W per rig while up) / PSU efficiency {} (config [power])",
            fmt_num(p.overhead_watts),
            fmt_num(p.psu_efficiency)
        ),
        None => "wall energy = GPU-reported energy only: no [power] in the config, so no rig overhead and a PSU efficiency of 1".to_string(),
    };
    let prices: Option<[Option<f64>; HOURS_PER_WEEK]> = tariff.map(|t| t.hourly_prices());
    let (tariff_note, no_cost) = match tariff {
        Some(t) => (format!("tariff: {}", t.describe()), None),
        None => (
            "tariff: no tariff set (add [tariff] to config.toml): no cost, no profit".to_string(),
            Some("no tariff set".to_string()),
        ),
    };

    // Cards.
    let mut out_cards = Vec::with_capacity(cards.len());
    for ((instance, uuid), a) in cards {
        let (energy_source, hourly) = match (a.counter, a.power) {
            (Some(c), _) => (EnergySource::Counter, Some(c)),
            (None, Some(p)) => (EnergySource::Power, Some(p)),
            (None, None) => (EnergySource::None, None),
        };
        let gpu_joules = hourly.as_ref().map_or(0.0, Hourly::total);
        let cost = match (&prices, &hourly) {
            (Some(p), Some(h)) => Some(h.cost(p, 1.0 / eff)),
            (Some(_), None) => Some(0.0),
            _ => None,
        };
        out_cards.push(Card {
            instance,
            uuid,
            name: a.name,
            up_ms: a.up_ms,
            mining_ms: a.mining_ms,
            energy_source,
            gpu_joules,
            wall_joules: gpu_joules / eff,
            cost,
            earned_coin: None,
            earned_fiat: None,
            profit: None,
            hashes: a.hashes,
            temp_mean: a.temp.map(|t| t.0),
            temp_max: a.temp.map(|t| t.1),
            accepted: a.accepted,
            rejected: a.rejected,
            stale: a.stale,
            max_gap_ms: a.max_gap_ms,
        });
    }

    // Rig overheads: overhead watts over the union of its cards' up time.
    let mut overheads = Vec::new();
    if costs.power.as_ref().is_some_and(|p| p.overhead_watts > 0.0) {
        for (instance, mut iv) in rig_up {
            iv.sort_unstable();
            let mut h = Hourly::new(from, to, offset);
            let mut up_ms = 0;
            let mut cur: Option<(i64, i64)> = None;
            let mut flush = |(a, b): (i64, i64), h: &mut Hourly| {
                up_ms += b - a;
                h.add(a, b, overhead_w * (b - a) as f64 / 1000.0);
            };
            for (a, b) in iv {
                cur = match cur {
                    Some((c0, c1)) if a <= c1 => Some((c0, c1.max(b))),
                    Some(c) => {
                        flush(c, &mut h);
                        Some((a, b))
                    }
                    None => Some((a, b)),
                };
            }
            if let Some(c) = cur {
                flush(c, &mut h);
            }
            overheads.push(Overhead {
                instance,
                up_ms,
                wall_joules: h.total() / eff,
                cost: prices.as_ref().map(|p| h.cost(p, 1.0 / eff)),
            });
        }
    }

    // Pool accounts.
    let mut accounts = pool_accounts(db, from, to, costs)?;
    let price_note = price_note(&accounts, costs);

    // Currencies: profit needs the tariff's and the price's to agree.
    let fiat_currency = accounts
        .iter()
        .find_map(|a| a.price.as_ref())
        .and(fiat_currency(costs));
    let no_fiat = if accounts.is_empty() {
        Some("no pool data".to_string())
    } else if accounts.iter().any(|a| a.price.is_none()) {
        Some("no coin price".to_string())
    } else {
        None
    };
    let no_profit = match (&no_cost, &no_fiat, tariff, &fiat_currency) {
        (Some(c), _, _, _) => Some(c.clone()),
        (None, Some(f), _, _) => Some(f.clone()),
        (None, None, Some(t), Some(c)) if &t.currency != c => Some(format!(
            "tariff in {}, price in {c}: set [price] currency = \"{}\"",
            t.currency, t.currency
        )),
        _ => None,
    };
    if no_fiat.is_some() {
        for a in &mut accounts {
            a.earned_fiat = None;
        }
    }

    // Earnings shared out among each rig's cards by accepted shares.
    let accepted_by_rig: BTreeMap<String, f64> =
        out_cards.iter().fold(BTreeMap::new(), |mut m, c| {
            *m.entry(c.instance.clone()).or_insert(0.0) += c.accepted;
            m
        });
    for c in &mut out_cards {
        let rig_acc = accepted_by_rig.get(&c.instance).copied().unwrap_or(0.0);
        let mine: Vec<&Account> = accounts
            .iter()
            .filter(|a| a.instance == c.instance)
            .collect();
        if mine.is_empty() || rig_acc <= 0.0 {
            c.earned_coin = None;
            continue;
        }
        let f = c.accepted / rig_acc;
        let one_coin = mine.iter().all(|a| a.coin == mine[0].coin);
        c.earned_coin = one_coin.then(|| mine.iter().map(|a| a.earned_coin).sum::<f64>() * f);
        c.earned_fiat = mine
            .iter()
            .map(|a| a.earned_fiat)
            .sum::<Option<f64>>()
            .map(|x| x * f);
        if no_profit.is_none() {
            c.profit = c.earned_fiat.zip(c.cost).map(|(e, k)| e - k);
        }
    }

    // Totals.
    let mut t = Totals::default();
    for c in &out_cards {
        t.gpu_joules += c.gpu_joules;
        t.wall_joules += c.wall_joules;
        t.hashes += c.hashes;
        t.accepted += c.accepted;
        t.rejected += c.rejected;
        t.stale += c.stale;
    }
    t.wall_joules += overheads.iter().map(|o| o.wall_joules).sum::<f64>();
    if no_cost.is_none() {
        t.cost = Some(
            out_cards.iter().filter_map(|c| c.cost).sum::<f64>()
                + overheads.iter().filter_map(|o| o.cost).sum::<f64>(),
        );
    }
    let coins: Vec<&str> = accounts.iter().map(|a| a.coin.as_str()).collect();
    if !accounts.is_empty() && coins.iter().all(|c| *c == coins[0]) {
        t.earned_coin = Some(accounts.iter().map(|a| a.earned_coin).sum());
    }
    if no_fiat.is_none() {
        t.earned_fiat = accounts.iter().map(|a| a.earned_fiat).sum();
    }
    if no_profit.is_none() {
        t.profit = t.earned_fiat.zip(t.cost).map(|(e, k)| e - k);
    }

    Ok(Report {
        from,
        to,
        cards: out_cards,
        overheads,
        accounts,
        totals: t,
        currency: tariff.map(|t| t.currency.clone()),
        fiat: fiat_currency,
        no_cost,
        no_fiat,
        no_profit,
        psu_efficiency: eff,
        power_note,
        tariff_note,
        price_note,
    })
}

/// The currency of coin prices: the configured one, or USD for the default
/// `coin_price_usd` series.
fn fiat_currency(costs: &Costs) -> Option<String> {
    Some(
        costs
            .price
            .as_ref()
            .map_or("USD".to_string(), |p| p.currency.clone()),
    )
}

/// Per pool account (instance, pool, coin): coin credited, and its price.
fn pool_accounts(db: &Db, from: i64, to: i64, costs: &Costs) -> anyhow::Result<Vec<Account>> {
    type Key = (String, String, String);
    let key = |l: &minetsdb::Labels| -> Key {
        let g = |n| l.get(n).unwrap_or("").to_string();
        (g("instance"), g("pool"), g("coin"))
    };
    // (balance change, sum of balance rises, paid increase or None)
    let mut acc: BTreeMap<Key, (f64, f64, Option<f64>)> = BTreeMap::new();
    each_series(db, &[Matcher::metric(metric::BALANCE)], from, to, |l, s| {
        let fin: Vec<&Sample> = s.iter().filter(|x| x.v.is_finite()).collect();
        let (Some(first), Some(last)) = (fin.first(), fin.last()) else {
            return;
        };
        let rises: f64 = fin.windows(2).map(|w| (w[1].v - w[0].v).max(0.0)).sum();
        let e = acc.entry(key(l)).or_insert((0.0, 0.0, None));
        e.0 += last.v - first.v;
        e.1 += rises;
    })?;
    each_series(db, &[Matcher::metric(metric::PAID)], from, to, |l, s| {
        if s.len() < 2 {
            return;
        }
        let e = acc.entry(key(l)).or_insert((0.0, 0.0, None));
        *e.2.get_or_insert(0.0) += walk::counter_increase(s, |_, _, _| {});
    })?;
    let mut out = Vec::with_capacity(acc.len());
    for ((instance, pool, coin), (change, rises, paid)) in acc {
        let (earned_coin, method) = match paid {
            Some(p) => (change + p, "balance change + pool_paid_total increase"),
            // Without the paid counter a payout is indistinguishable from a
            // drop, so count only the balance's rises (a credit landing in
            // the same refresh as a payout is missed).
            None => (rises, "balance rises (no pool_paid_total)"),
        };
        let price = coin_price(db, from, to, costs, &coin)?;
        out.push(Account {
            instance,
            pool,
            coin,
            earned_coin,
            earned_fiat: price.as_ref().map(|p| p.0 * earned_coin),
            price,
            method,
        });
    }
    Ok(out)
}

/// Fiat per coin: the configured fixed price, or the mean of the price
/// series' samples in the period (matched on `coin` when the pool names one).
fn coin_price(
    db: &Db,
    from: i64,
    to: i64,
    costs: &Costs,
    coin: &str,
) -> anyhow::Result<Option<(f64, String)>> {
    let (series, configured) = match costs.price.as_ref().map(|p| &p.source) {
        Some(PriceSource::Fixed(p)) => {
            return Ok(Some((*p, "fixed price from config [price]".to_string())))
        }
        Some(PriceSource::Series(s)) => (s.as_str(), true),
        None => (metric::DEFAULT_PRICE, false),
    };
    let mut m = vec![Matcher::metric(series)];
    if !coin.is_empty() {
        m.push(Matcher::equal("coin", coin));
    }
    let (mut n, mut sum) = (0u64, 0.0);
    each_series(db, &m, from, to, |_, s| {
        for x in s.iter().filter(|x| x.v.is_finite()) {
            n += 1;
            sum += x.v;
        }
    })?;
    if n == 0 {
        return Ok(None);
    }
    let sel = if coin.is_empty() {
        series.to_string()
    } else {
        format!("{series}{{coin=\"{coin}\"}}")
    };
    let why = if configured {
        "config [price]"
    } else {
        "no [price] in config"
    };
    Ok(Some((
        sum / n as f64,
        format!("mean of {sel} over the period ({why})"),
    )))
}

fn price_note(accounts: &[Account], costs: &Costs) -> String {
    if accounts.is_empty() {
        return "earnings: no pool data (pool_unpaid_balance, pool_paid_total) in the period"
            .into();
    }
    let cur = fiat_currency(costs).unwrap_or_default();
    let parts: Vec<String> = accounts
        .iter()
        .map(|a| match &a.price {
            Some((p, src)) => format!("{} {} {cur}/{} ({src})", a.coin, fmt_price(*p), a.coin),
            None => match costs.price.as_ref().map(|p| &p.source) {
                Some(PriceSource::Series(s)) => {
                    format!("{}: no samples of {s} in the period", a.coin)
                }
                _ => format!(
                    "{}: no price (set [price] in config.toml or store {})",
                    a.coin,
                    metric::DEFAULT_PRICE
                ),
            },
        })
        .collect();
    format!(
        "price: {}; earned = {}, shared among a rig's cards by accepted shares",
        parts.join("; "),
        accounts[0].method
    )
}

/// A price to 4 decimals, trailing zeros dropped.
fn fmt_price(v: f64) -> String {
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A number as people write it: no trailing zeros.
pub fn fmt_num(v: f64) -> String {
    minetsdb::promql::format_float(v)
}
