//! What one frame of the dashboard shows, gathered from the database at
//! one instant into plain structs, independent of rendering (so the view
//! can be tested from a hand-built [`Model`] and the data from a real db).
//!
//! Cards and how miner series join them: see [`crate::cards`].
//!
//! The share readings are the default alert rules' (see
//! `minetsdb_collectors::alerts::defaults`), so what shows red here is
//! what fires: the bad-share ratio is `BadSharesHigh`'s expression; the
//! time since the last accepted share is how long the card's
//! `miner_shares_accepted_total` has not changed, which `NoAcceptedShare`
//! tests with `changes(...[d]) == 0`; pools show
//! `time() - pool_last_share_timestamp_seconds` as that rule does.
//!
//! Values are PromQL instant queries at
//! [`Model::at`] (so a reading older than the 5-minute lookback shows as
//! missing, like a dead miner should), sparklines range queries over the
//! chosen [`Span`].

use std::collections::BTreeMap;

use anyhow::Context;
use minetsdb::promql::{Matrix, Metric, Value, Vector};
use minetsdb::{Db, Matcher, Sample};
use minetsdb_collectors::alerts::defaults;
use minetsdb_collectors::config::thresholds::{Severity, Thresholds};
use minetsdb_collectors::health::{HealthFile, TargetHealth};

use crate::cards::{Join, Key, Vendor, AMD, NVIDIA};
use crate::report::{joules_per_mh, metric};

/// Points per sparkline: about the widest a sparkline gets on screen.
pub const SPARK_POINTS: i64 = 160;

/// How far back the sparklines look; `t` cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    H1,
    H6,
    H24,
    D7,
}

impl Span {
    pub const ALL: [Span; 4] = [Span::H1, Span::H6, Span::H24, Span::D7];

    pub fn ms(self) -> i64 {
        const H: i64 = 3_600_000;
        match self {
            Span::H1 => H,
            Span::H6 => 6 * H,
            Span::H24 => 24 * H,
            Span::D7 => 7 * 24 * H,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Span::H1 => "1h",
            Span::H6 => "6h",
            Span::H24 => "24h",
            Span::D7 => "7d",
        }
    }

    /// The next span, wrapping.
    pub fn next(self) -> Span {
        let i = Span::ALL.iter().position(|s| *s == self).unwrap_or(0);
        Span::ALL[(i + 1) % Span::ALL.len()]
    }

    /// Parses `1h`, `6h`, `24h` or `7d`.
    pub fn parse(s: &str) -> Result<Span, String> {
        Span::ALL
            .into_iter()
            .find(|x| x.label() == s)
            .ok_or_else(|| format!("{s:?}: expected one of 1h, 6h, 24h, 7d"))
    }
}

/// A reading and how bad it is by the configured thresholds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Graded {
    pub value: f64,
    pub severity: Severity,
}

/// One card at the frame's instant. `None`: no reading within the lookback.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gpu {
    pub instance: String,
    /// NVIDIA uuid, or the AMD `card` label.
    pub id: String,
    /// NVML index (from `nvidia_smi_gpu_info`) or the AMD card number.
    pub index: Option<String>,
    pub name: String,
    /// Hashes per second, graded against its own 1-hour average.
    pub hashrate: Option<Graded>,
    pub hashrate_avg_1h: Option<f64>,
    /// Watts, graded as a fraction of the limit.
    pub power: Option<Graded>,
    pub power_limit: Option<f64>,
    /// °C.
    pub temperature: Option<Graded>,
    /// Memory junction °C, as the miner reads it.
    pub memory_temperature: Option<Graded>,
    /// Ratio 0–1.
    pub fan: Option<Graded>,
    /// Joules per megahash: power over hashrate now.
    pub joules_per_mh: Option<f64>,
    /// Stale, rejected and invalid shares over all shares in the last
    /// hour (`BadSharesHigh`'s ratio), graded only from
    /// [`defaults::MIN_SHARES`] shares on, as the rule fires.
    pub bad_shares: Option<Graded>,
    /// All shares in the last hour.
    pub shares_1h: Option<f64>,
    /// Since the card's accepted-share counter last changed, ms, graded
    /// by `no_share` (`NoAcceptedShare`'s reading); `None` without a
    /// counter reporting now.
    pub last_share_ms: Option<(i64, Severity)>,
    /// Over the chosen span, oldest first; gaps are `None`.
    pub spark_hashrate: Vec<Option<f64>>,
    pub spark_temperature: Vec<Option<f64>>,
    pub spark_power: Vec<Option<f64>>,
}

impl Gpu {
    /// The worst of the card's readings.
    pub fn severity(&self) -> Severity {
        [
            self.hashrate,
            self.power,
            self.temperature,
            self.memory_temperature,
            self.fan,
            self.bad_shares,
        ]
        .iter()
        .flatten()
        .map(|g| g.severity)
        .chain(self.last_share_ms.map(|x| x.1))
        .max()
        .unwrap_or(Severity::Normal)
    }
}

/// One pool account.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pool {
    pub instance: String,
    pub pool: String,
    pub coin: String,
    pub effective: Option<f64>,
    pub reported: Option<f64>,
    pub unpaid: Option<f64>,
    /// How long the unpaid balance has not grown (ms), graded by
    /// `unpaid_flat`; `None` without enough history to tell.
    pub unpaid_flat: Option<(i64, Severity)>,
    /// Since the pool last saw a share (`pool_last_share_timestamp_seconds`),
    /// ms, graded by `no_share`.
    pub last_share_ms: Option<(i64, Severity)>,
}

/// One scrape target from `<db>/targets.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub job: String,
    pub url: String,
    pub up: bool,
    /// Since the last scrape, ms.
    pub age_ms: i64,
    pub error: Option<String>,
    /// Down for how long (from the `up` series), graded by `target_down`.
    pub severity: Severity,
    pub down_ms: Option<i64>,
}

/// One `ALERTS` series at the frame's instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub name: String,
    pub firing: bool,
    /// The `severity` label as written by the rule.
    pub severity: Option<String>,
    /// The other labels, `name=value` joined by spaces.
    pub labels: String,
}

/// Everything one frame shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The evaluation instant, ms.
    pub at: i64,
    pub span: Span,
    pub gpus: Vec<Gpu>,
    pub pools: Vec<Pool>,
    pub targets: Vec<Target>,
    /// Why targets.json could not be read, when it could not.
    pub targets_error: Option<String>,
    /// Firing first, then pending; by name.
    pub alerts: Vec<Alert>,
}

fn vector(db: &Db, expr: &str, at: i64) -> anyhow::Result<Vector> {
    match db
        .query_instant(expr, at)
        .with_context(|| format!("evaluating {expr}"))?
    {
        Value::Vector(v) => Ok(v),
        _ => anyhow::bail!("{expr}: not an instant vector"),
    }
}

fn add(a: f64, b: f64) -> f64 {
    a + b
}

/// The values of `v` per card, two series of one card (two miners on it)
/// combined by `combine`: hashrates and shares add up, temperatures take
/// the higher.
fn keyed(v: &Vector, join: &Join, combine: fn(f64, f64) -> f64) -> BTreeMap<Key, f64> {
    let mut out = BTreeMap::new();
    for s in v {
        if let Some(k) = join.key(|n| s.metric.get(n)) {
            out.entry(k)
                .and_modify(|x| *x = combine(*x, s.sample.v))
                .or_insert(s.sample.v);
        }
    }
    out
}

/// Values of `expr` at `at`, summed per card.
fn by_key(db: &Db, expr: &str, join: &Join, at: i64) -> anyhow::Result<BTreeMap<Key, f64>> {
    Ok(keyed(&vector(db, expr, at)?, join, add))
}

/// Per series of `expr` over the span ending at `at`, one slot per step.
fn spark_series(
    db: &Db,
    expr: &str,
    at: i64,
    span: Span,
) -> anyhow::Result<Vec<(Metric, Vec<Option<f64>>)>> {
    let step = (span.ms() / SPARK_POINTS).max(1000);
    let start = at - step * (SPARK_POINTS - 1);
    let m: Matrix = db
        .query_range(expr, start, at, step)
        .with_context(|| format!("evaluating {expr} over {}", span.label()))?;
    Ok(m.into_iter()
        .map(|s| {
            let mut slots = vec![None; SPARK_POINTS as usize];
            for Sample { t, v } in s.samples {
                let i = ((t - start) / step) as usize;
                if let Some(slot) = slots.get_mut(i) {
                    *slot = Some(v);
                }
            }
            (s.metric, slots)
        })
        .collect())
}

/// Sparklines per card, summed slot by slot.
fn spark_keyed(series: &[(Metric, Vec<Option<f64>>)], join: &Join) -> Sparks {
    let mut out: Sparks = BTreeMap::new();
    for (m, slots) in series {
        let Some(k) = join.key(|n| m.get(n)) else {
            continue;
        };
        let acc = out
            .entry(k)
            .or_insert_with(|| vec![None; SPARK_POINTS as usize]);
        for (a, v) in acc.iter_mut().zip(slots) {
            if let Some(v) = v {
                *a = Some(a.unwrap_or(0.0) + v);
            }
        }
    }
    out
}

/// `expr` over the span ending at `at`, one slot per step, per card.
fn spark(db: &Db, expr: &str, join: &Join, at: i64, span: Span) -> anyhow::Result<Sparks> {
    Ok(spark_keyed(&spark_series(db, expr, at, span)?, join))
}

type Sparks = BTreeMap<Key, Vec<Option<f64>>>;

/// The miners' memory junction temperature (`GpuMemoryTemperatureHigh`).
const MEMORY_TEMP: &str = "miner_memory_temperature_celsius";

/// PromQL's lookback: a counter without a sample this recent is gone.
const LOOKBACK_MS: i64 = 300_000;

/// The miners' per-GPU series, read once for both vendors and joined to
/// each vendor's cards by [`Join`].
struct MinerSeries {
    rate: Vector,
    avg: Vector,
    memory_temperature: Vector,
    /// `BadSharesHigh`'s numerator and denominator, per miner series.
    bad: Vector,
    all: Vector,
    spark_rate: Vec<(Metric, Vec<Option<f64>>)>,
    /// Per `miner_shares_accepted_total` series still reporting: its
    /// labels and the time since it last changed, ms.
    accepted_age: Vec<(minetsdb::Labels, i64)>,
}

impl MinerSeries {
    fn read(db: &Db, at: i64, span: Span, th: &Thresholds) -> anyhow::Result<MinerSeries> {
        let h = metric::HASHRATE;
        // Back over twice the critical bound: enough to grade, and as
        // `NoAcceptedShare` (`changes(x[d]) == 0 and x offset d`) wants
        // history before the window, an age counted from the first sample
        // when nothing changed says "at least this long".
        let window = (th.no_share.critical as i64).max(60_000).saturating_mul(2);
        let mut accepted_age = Vec::new();
        crate::report::each_series(
            db,
            &[Matcher::metric(metric::ACCEPTED)],
            at.saturating_sub(window),
            at + 1,
            |l, s| {
                let (Some(first), Some(last)) = (s.first(), s.last()) else {
                    return;
                };
                if at - last.t > LOOKBACK_MS {
                    return;
                }
                // Any change, a reset included, as `changes()` counts.
                let since = last_when(s, |a, b| b != a).unwrap_or(first.t);
                accepted_age.push((l.clone(), (at - since).max(0)));
            },
        )?;
        Ok(MinerSeries {
            rate: vector(db, h, at)?,
            avg: vector(db, &format!("avg_over_time({h}[1h])"), at)?,
            memory_temperature: vector(db, MEMORY_TEMP, at)?,
            bad: vector(db, &defaults::bad_shares_1h(), at)?,
            all: vector(db, &defaults::all_shares_1h(), at)?,
            spark_rate: spark_series(db, h, at, span)?,
            accepted_age,
        })
    }
}

fn gpus(
    db: &Db,
    v: &Vendor,
    miners: &MinerSeries,
    at: i64,
    span: Span,
    th: &Thresholds,
) -> anyhow::Result<Vec<Gpu>> {
    let mut cards: BTreeMap<Key, Gpu> = BTreeMap::new();
    let card = |k: &Key| -> Gpu {
        Gpu {
            instance: k.0.clone(),
            id: k.1.clone(),
            ..Gpu::default()
        }
    };
    // Names, numbers and PCI addresses: the info series, else any
    // series' `name`.
    let info = vector(db, &format!("last_over_time({}[1d])", v.info), at)?;
    let mut join = Join::new(&[v.id]);
    for s in &info {
        let m = &s.metric;
        let (Some(instance), Some(id)) = (m.get("instance"), m.get(v.id)) else {
            continue;
        };
        let k: Key = (instance.to_string(), id.to_string());
        join.add_card(&k, m.get("pci_bus_id"));
        let mut g = card(&k);
        g.name = m.get("name").unwrap_or("").to_string();
        g.index = m.get(v.index).map(str::to_string);
        cards.insert(k, g);
    }
    let temp = by_key(db, v.temp, &join, at)?;
    let fan = by_key(db, v.fan, &join, at)?;
    let power = by_key(db, v.power, &join, at)?;
    let limit = by_key(db, v.limit, &join, at)?;
    let rate = keyed(&miners.rate, &join, add);
    let avg = keyed(&miners.avg, &join, add);
    let mem = keyed(&miners.memory_temperature, &join, f64::max);
    let bad = keyed(&miners.bad, &join, add);
    let all = keyed(&miners.all, &join, add);
    let mut share_age: BTreeMap<Key, i64> = BTreeMap::new();
    for (l, age) in &miners.accepted_age {
        if let Some(k) = join.key(|n| l.get(n)) {
            // The card's latest share, whichever miner found it.
            share_age
                .entry(k)
                .and_modify(|a| *a = (*a).min(*age))
                .or_insert(*age);
        }
    }
    let sp_temp = spark(db, v.temp, &join, at, span)?;
    let sp_power = spark(db, v.power, &join, at, span)?;
    let sp_rate = spark_keyed(&miners.spark_rate, &join);
    // A card that stopped reporting is still listed while its sparklines
    // hold data: a dead card is news, not something to hide.
    for k in temp
        .keys()
        .chain(power.keys())
        .chain(sp_temp.keys())
        .chain(sp_power.keys())
        .chain(rate.keys())
    {
        if !cards.contains_key(k) {
            let g = card(k);
            cards.insert(k.clone(), g);
        }
    }
    // Names for cards without an info series.
    if cards.values().any(|g| g.name.is_empty()) {
        for s in vector(
            db,
            &format!("last_over_time({}[{}ms])", v.power, span.ms()),
            at,
        )? {
            if let (Some(k), Some(n)) = (join.key(|n| s.metric.get(n)), s.metric.get("name")) {
                if let Some(g) = cards.get_mut(&k).filter(|g| g.name.is_empty()) {
                    g.name = n.to_string();
                }
            }
        }
    }
    for (k, g) in &mut cards {
        g.temperature = temp.get(k).map(|&t| Graded {
            value: t,
            severity: th.temperature.grade(t),
        });
        g.memory_temperature = mem.get(k).map(|&t| Graded {
            value: t,
            severity: th.memory_temperature.grade(t),
        });
        g.fan = fan.get(k).map(|&f| Graded {
            value: f,
            severity: th.fan.grade(f),
        });
        g.power_limit = limit.get(k).copied().filter(|l| *l > 0.0);
        g.power = power.get(k).map(|&p| Graded {
            value: p,
            // Without a limit there is nothing to compare with.
            severity: g
                .power_limit
                .map_or(Severity::Normal, |l| th.power.grade(p / l)),
        });
        g.hashrate_avg_1h = avg.get(k).copied();
        g.hashrate = rate.get(k).map(|&h| Graded {
            value: h,
            severity: match g.hashrate_avg_1h {
                Some(a) if a > 0.0 => th.hashrate.grade(h / a),
                _ => Severity::Normal,
            },
        });
        g.joules_per_mh = match (g.power, g.hashrate) {
            (Some(p), Some(h)) if p.value > 0.0 && h.value > 0.0 => {
                Some(joules_per_mh(h.value / p.value))
            }
            _ => None,
        };
        g.shares_1h = all.get(k).copied();
        g.bad_shares = match (bad.get(k), all.get(k)) {
            (Some(&b), Some(&n)) if n > 0.0 => {
                let r = b / n;
                Some(Graded {
                    value: r,
                    // As `BadSharesHigh`: below MIN_SHARES the ratio says little.
                    severity: if n >= f64::from(defaults::MIN_SHARES) {
                        th.bad_shares.grade(r)
                    } else {
                        Severity::Normal
                    },
                })
            }
            _ => None,
        };
        g.last_share_ms = share_age.get(k).map(|&a| (a, th.no_share.grade(a as f64)));
        g.spark_temperature = sp_temp.get(k).cloned().unwrap_or_default();
        g.spark_power = sp_power.get(k).cloned().unwrap_or_default();
        g.spark_hashrate = sp_rate.get(k).cloned().unwrap_or_default();
    }
    let mut out: Vec<Gpu> = cards.into_values().collect();
    // By rig, then card number as a number (10 after 9).
    out.sort_by(|a, b| {
        let n = |g: &Gpu| {
            g.index.as_deref().map(|i| {
                let d: String = i.chars().filter(char::is_ascii_digit).collect();
                d.parse::<u64>().unwrap_or(u64::MAX)
            })
        };
        (&a.instance, n(a), &a.id).cmp(&(&b.instance, n(b), &b.id))
    });
    Ok(out)
}

/// The last time in `samples` where `pred(prev, cur)` held.
fn last_when(samples: &[Sample], pred: impl Fn(f64, f64) -> bool) -> Option<i64> {
    samples
        .windows(2)
        .rev()
        .find(|w| pred(w[0].v, w[1].v))
        .map(|w| w[1].t)
}

/// Stores one instant value into its field of a [`Pool`].
type SetField = fn(&mut Pool, f64);

fn pools(db: &Db, at: i64, th: &Thresholds) -> anyhow::Result<Vec<Pool>> {
    let mut out: BTreeMap<(String, String, String), Pool> = BTreeMap::new();
    let fields: [(&str, SetField); 4] = [
        ("pool_hashrate_effective_hashes_per_second", |p, v| {
            p.effective = Some(v)
        }),
        ("pool_hashrate_reported_hashes_per_second", |p, v| {
            p.reported = Some(v)
        }),
        (metric::BALANCE, |p, v| p.unpaid = Some(v)),
        // `NoAcceptedShare`'s expression, in ms; graded below.
        (
            "(time() - pool_last_share_timestamp_seconds) * 1000",
            |p, v| p.last_share_ms = Some((v.round() as i64, Severity::Normal)),
        ),
    ];
    for (name, set) in fields {
        for s in vector(db, name, at)? {
            let l = |n: &str| s.metric.get(n).unwrap_or("").to_string();
            let p = out
                .entry((l("instance"), l("pool"), l("coin")))
                .or_insert_with(|| Pool {
                    instance: l("instance"),
                    pool: l("pool"),
                    coin: l("coin"),
                    ..Pool::default()
                });
            set(p, s.sample.v);
        }
    }
    for p in out.values_mut() {
        if let Some((ms, sev)) = &mut p.last_share_ms {
            *sev = th.no_share.grade(*ms as f64);
        }
    }
    // How long the balance has been flat: back to the last increase, over
    // twice the critical bound (enough to grade; older is just "critical").
    let window = (th.unpaid_flat.critical as i64).max(60_000) * 2;
    crate::report::each_series(
        db,
        &[Matcher::metric(metric::BALANCE)],
        at - window,
        at + 1,
        |l, s| {
            let k = |n: &str| l.get(n).unwrap_or("").to_string();
            let Some(p) = out.get_mut(&(k("instance"), k("pool"), k("coin"))) else {
                return;
            };
            let Some(first) = s.first() else { return };
            let since = last_when(s, |a, b| b > a).unwrap_or(first.t);
            let flat = at - since;
            p.unpaid_flat = Some((flat, th.unpaid_flat.grade(flat as f64)));
        },
    )?;
    Ok(out.into_values().collect())
}

fn targets(
    db: &Db,
    health: Vec<TargetHealth>,
    at: i64,
    th: &Thresholds,
) -> anyhow::Result<Vec<Target>> {
    // The `up` series a scrape writes tell how long a target has been down;
    // read back over twice the critical bound.
    let window = (th.target_down.critical as i64).max(60_000) * 2;
    let mut last_up: BTreeMap<(String, String), Option<i64>> = BTreeMap::new();
    crate::report::each_series(db, &[Matcher::metric("up")], at - window, at + 1, |l, s| {
        let k = |n: &str| l.get(n).unwrap_or("").to_string();
        let t = s.iter().rev().find(|x| x.v == 1.0).map(|x| x.t);
        last_up.insert((k("job"), k("instance")), t);
    })?;
    Ok(health
        .into_iter()
        .map(|h| {
            let instance = h
                .labels
                .iter()
                .find(|(n, _)| n == "instance")
                .map_or("", |(_, v)| v.as_str());
            let down_ms = (!h.up).then(|| {
                let d = match last_up.get(&(h.job.clone(), instance.to_string())) {
                    Some(Some(t)) => at - t,
                    // Never up within the window: at least that long.
                    Some(None) => window,
                    // No `up` series: down since the last scrape at least.
                    None => at - h.last_scrape_ms,
                };
                d.max(0)
            });
            Target {
                severity: down_ms.map_or(Severity::Normal, |d| th.target_down.grade(d as f64)),
                down_ms,
                age_ms: at - h.last_scrape_ms,
                job: h.job,
                url: h.url,
                up: h.up,
                error: h.error,
            }
        })
        .collect())
}

fn alerts(db: &Db, at: i64) -> anyhow::Result<Vec<Alert>> {
    let mut out: Vec<Alert> = vector(db, "ALERTS", at)?
        .into_iter()
        .map(|s| {
            let m = &s.metric;
            let labels = m
                .iter()
                .filter(|l| {
                    !matches!(
                        l.name.as_str(),
                        "__name__" | "alertname" | "alertstate" | "severity"
                    )
                })
                .map(|l| format!("{}={}", l.name, l.value))
                .collect::<Vec<_>>()
                .join(" ");
            Alert {
                name: m.get("alertname").unwrap_or("?").to_string(),
                firing: m.get("alertstate") == Some("firing"),
                severity: m.get("severity").map(str::to_string),
                labels,
            }
        })
        .collect();
    out.sort_by(|a, b| (!a.firing, &a.name, &a.labels).cmp(&(!b.firing, &b.name, &b.labels)));
    Ok(out)
}

/// Gathers one frame from `db` (whose directory holds targets.json) at
/// `at` with sparklines over `span`.
pub fn gather(db: &Db, at: i64, span: Span, th: &Thresholds) -> anyhow::Result<Model> {
    let miners = MinerSeries::read(db, at, span, th)?;
    let mut gpus_all = gpus(db, &NVIDIA, &miners, at, span, th)?;
    gpus_all.extend(gpus(db, &AMD, &miners, at, span, th)?);
    let (health, targets_error) = match HealthFile::load(db.path()) {
        Ok(h) => (h, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    Ok(Model {
        at,
        span,
        gpus: gpus_all,
        pools: pools(db, at, th)?,
        targets: targets(db, health, at, th)?,
        targets_error,
        alerts: alerts(db, at)?,
    })
}
