//! The report as people and scripts read it: a table with cards as
//! columns (a rig of 8 fits 120 columns; figures as rows keep their units
//! in one place), CSV with one row per card, JSON with nulls and notes.
//! A figure that cannot be computed says why in the table and CSV
//! ("no tariff set"); JSON gives `null` and the reason under `notes`.

use std::fmt::Write as _;

use super::tuning::{CardTuning, MIN_HOURS};
use super::{fmt_num, joules_per_mh, Card, Report};
use crate::cmd::stats::fmt_time;
use crate::output::Format;
use crate::plot::braille::Canvas;

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.2}", v * 100.0))
}

fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.decimals$}"))
}

fn or_why(v: Option<f64>, decimals: usize, why: &Option<String>) -> String {
    match (v, why) {
        (Some(v), _) => format!("{v:.decimals$}"),
        (None, Some(w)) => w.clone(),
        (None, None) => "-".into(),
    }
}

fn kwh(j: f64) -> f64 {
    j / 3.6e6
}

fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn coin_name(r: &Report) -> String {
    let first = r.accounts.first().map_or("", |a| a.coin.as_str());
    if r.accounts.iter().all(|a| a.coin == first) && !first.is_empty() {
        first.to_string()
    } else {
        "coin".into()
    }
}

fn fiat_name(r: &Report) -> String {
    r.price_currency().unwrap_or_else(|| "fiat".into())
}

/// Header lines: period and what was assumed.
fn header(r: &Report) -> String {
    let days = (r.to - r.from) as f64 / 86_400_000.0;
    format!(
        "Report {} to {} ({} days)\n{}\n{}\n{}\n",
        fmt_time(r.from),
        fmt_time(r.to),
        fmt_num((days * 100.0).round() / 100.0),
        r.power_note,
        r.tariff_note,
        r.price_note
    )
}

/// The report in format `f`.
pub fn report(r: &Report, f: Format) -> String {
    match f {
        Format::Table => table(r),
        Format::Csv => csv(r),
        Format::Json => json(r),
    }
}

fn card_column(c: &Card, r: &Report) -> Vec<String> {
    let period = r.to - r.from;
    let hpj = c.hashes_per_joule();
    vec![
        pct(ratio(c.up_ms, period)),
        pct(ratio(c.mining_ms, period)),
        format!("{:.3}", kwh(c.gpu_joules)),
        c.energy_source.as_str().into(),
        format!("{:.3}", kwh(c.wall_joules)),
        or_why(c.cost, 2, &r.no_cost),
        num(c.earned_coin, 6),
        or_why(c.earned_fiat, 2, &r.no_fiat),
        or_why(c.profit, 2, &r.no_profit),
        num(c.mean_hashrate().map(|h| h / 1e6), 2),
        num(hpj.map(|h| h / 1e3), 1),
        num(hpj.map(joules_per_mh), 3),
        num(c.temp_mean, 1),
        num(c.temp_max, 0),
        pct(c.acceptance()),
    ]
}

fn table(r: &Report) -> String {
    let mut o = header(r);
    o.push('\n');
    if r.cards.is_empty() {
        o.push_str("(no GPU data in the period)\n");
        return o;
    }
    let cur = r
        .currency
        .as_deref()
        .map_or(String::new(), |c| format!(" {c}"));
    let rows = [
        "uptime %".to_string(),
        "mining %".into(),
        "GPU energy kWh".into(),
        "  from".into(),
        "wall energy kWh".into(),
        format!("cost{cur}"),
        format!("earned {}", coin_name(r)),
        format!("earned {}", fiat_name(r)),
        format!("profit{cur}"),
        "hashrate MH/s".into(),
        "kH/J".into(),
        "J/MH".into(),
        "temp avg °C".into(),
        "temp max °C".into(),
        "accepted %".into(),
    ];
    let mut cols: Vec<(String, Vec<String>)> = r
        .cards
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("gpu{i}"), card_column(c, r)))
        .collect();
    for o in &r.overheads {
        let mut v = vec!["-".to_string(); rows.len()];
        v[0] = pct(ratio(o.up_ms, r.to - r.from));
        v[4] = format!("{:.3}", kwh(o.wall_joules));
        v[5] = or_why(o.cost, 2, &r.no_cost);
        v[8] = or_why(o.cost.map(|c| -c), 2, &r.no_profit);
        cols.push((format!("{} overhead", o.instance), v));
    }
    let t = &r.totals;
    let hpj = t.hashes_per_joule();
    cols.push((
        "total".into(),
        vec![
            "".into(),
            "".into(),
            format!("{:.3}", kwh(t.gpu_joules)),
            "".into(),
            format!("{:.3}", kwh(t.wall_joules)),
            or_why(t.cost, 2, &r.no_cost),
            num(t.earned_coin, 6),
            or_why(t.earned_fiat, 2, &r.no_fiat),
            or_why(t.profit, 2, &r.no_profit),
            num(
                Some(t.hashes / ((r.to - r.from) as f64 / 1000.0) / 1e6).filter(|_| t.hashes > 0.0),
                2,
            ),
            num(hpj.map(|h| h / 1e3), 1),
            num(hpj.map(joules_per_mh), 3),
            "".into(),
            "".into(),
            pct(t.acceptance()),
        ],
    ));
    let lw = rows.iter().map(|s| s.chars().count()).max().unwrap_or(0);
    let widths: Vec<usize> = cols
        .iter()
        .map(|(h, v)| {
            v.iter()
                .chain(std::iter::once(h))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let _ = write!(o, "{:lw$}", "");
    for ((h, _), w) in cols.iter().zip(&widths) {
        let _ = write!(o, "  {h:>w$}");
    }
    o.push('\n');
    for (i, label) in rows.iter().enumerate() {
        let _ = write!(o, "{label:<lw$}");
        for ((_, v), w) in cols.iter().zip(&widths) {
            let _ = write!(o, "  {:>w$}", v[i]);
        }
        o.push('\n');
    }
    o.push('\n');
    for (i, c) in r.cards.iter().enumerate() {
        let _ = writeln!(o, "gpu{i}  {}  {}  {}", c.instance, c.name, c.uuid);
    }
    let _ = writeln!(
        o,
        "total hashrate is the rig's mean over the whole period; kH/J and J/MH are per GPU joule"
    );
    o
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn raw(v: Option<f64>) -> String {
    v.filter(|v| v.is_finite())
        .map_or(String::new(), |v| v.to_string())
}

fn raw_or_why(v: Option<f64>, why: &Option<String>) -> String {
    match (v, why) {
        (Some(v), _) => v.to_string(),
        (None, Some(w)) => w.clone(),
        (None, None) => String::new(),
    }
}

const CSV_HEADER: &str = "row,instance,uuid,name,uptime_ratio,mining_ratio,energy_source,gpu_kwh,wall_kwh,cost,currency,earned_coin,coin,earned_fiat,fiat,profit,hashrate_hs,hashes_per_joule,joules_per_mh,temp_mean_c,temp_max_c,acceptance_ratio";

fn csv(r: &Report) -> String {
    let mut o = String::from(CSV_HEADER);
    o.push('\n');
    let period = r.to - r.from;
    let cur = r.currency.clone().unwrap_or_default();
    let (coin, fiat) = (coin_name(r), fiat_name(r));
    for (i, c) in r.cards.iter().enumerate() {
        let hpj = c.hashes_per_joule();
        let f = [
            format!("gpu{i}"),
            c.instance.clone(),
            c.uuid.clone(),
            c.name.clone(),
            raw(ratio(c.up_ms, period)),
            raw(ratio(c.mining_ms, period)),
            c.energy_source.as_str().into(),
            raw(Some(kwh(c.gpu_joules))),
            raw(Some(kwh(c.wall_joules))),
            raw_or_why(c.cost, &r.no_cost),
            cur.clone(),
            raw(c.earned_coin),
            coin.clone(),
            raw_or_why(c.earned_fiat, &r.no_fiat),
            fiat.clone(),
            raw_or_why(c.profit, &r.no_profit),
            raw(c.mean_hashrate()),
            raw(hpj),
            raw(hpj.map(joules_per_mh)),
            raw(c.temp_mean),
            raw(c.temp_max),
            raw(c.acceptance()),
        ];
        let line: Vec<String> = f.iter().map(|s| csv_field(s)).collect();
        let _ = writeln!(o, "{}", line.join(","));
    }
    for ov in &r.overheads {
        let f = [
            "overhead".to_string(),
            ov.instance.clone(),
            String::new(),
            String::new(),
            raw(ratio(ov.up_ms, period)),
            String::new(),
            String::new(),
            "0".into(),
            raw(Some(kwh(ov.wall_joules))),
            raw_or_why(ov.cost, &r.no_cost),
            cur.clone(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            raw_or_why(ov.cost.map(|c| -c), &r.no_profit),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ];
        let line: Vec<String> = f.iter().map(|s| csv_field(s)).collect();
        let _ = writeln!(o, "{}", line.join(","));
    }
    let t = &r.totals;
    let hpj = t.hashes_per_joule();
    let f = [
        "total".to_string(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        raw(Some(kwh(t.gpu_joules))),
        raw(Some(kwh(t.wall_joules))),
        raw_or_why(t.cost, &r.no_cost),
        cur,
        raw(t.earned_coin),
        coin,
        raw_or_why(t.earned_fiat, &r.no_fiat),
        fiat,
        raw_or_why(t.profit, &r.no_profit),
        raw(Some(t.hashes / (period as f64 / 1000.0)).filter(|_| period > 0)),
        raw(hpj),
        raw(hpj.map(joules_per_mh)),
        String::new(),
        String::new(),
        raw(t.acceptance()),
    ];
    let line: Vec<String> = f.iter().map(|s| csv_field(s)).collect();
    let _ = writeln!(o, "{}", line.join(","));
    o
}

fn js(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn jn(v: Option<f64>) -> String {
    v.filter(|v| v.is_finite())
        .map_or("null".into(), |v| v.to_string())
}

fn jo(fields: &[(&str, String)]) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{v}", js(k)))
        .collect();
    format!("{{{}}}", parts.join(","))
}

fn json(r: &Report) -> String {
    let period = r.to - r.from;
    let cards: Vec<String> = r
        .cards
        .iter()
        .map(|c| {
            let hpj = c.hashes_per_joule();
            jo(&[
                ("instance", js(&c.instance)),
                ("uuid", js(&c.uuid)),
                ("name", js(&c.name)),
                ("uptime_ratio", jn(ratio(c.up_ms, period))),
                ("mining_ratio", jn(ratio(c.mining_ms, period))),
                ("energy_source", js(c.energy_source.as_str())),
                ("gpu_kwh", jn(Some(kwh(c.gpu_joules)))),
                ("wall_kwh", jn(Some(kwh(c.wall_joules)))),
                ("cost", jn(c.cost)),
                ("earned_coin", jn(c.earned_coin)),
                ("earned_fiat", jn(c.earned_fiat)),
                ("profit", jn(c.profit)),
                ("hashrate_hs", jn(c.mean_hashrate())),
                ("hashes_per_joule", jn(hpj)),
                ("joules_per_mh", jn(hpj.map(joules_per_mh))),
                ("temp_mean_c", jn(c.temp_mean)),
                ("temp_max_c", jn(c.temp_max)),
                ("shares_accepted", jn(Some(c.accepted))),
                ("shares_rejected", jn(Some(c.rejected))),
                ("shares_stale", jn(Some(c.stale))),
                ("acceptance_ratio", jn(c.acceptance())),
                ("max_gap_s", jn(Some(c.max_gap_ms as f64 / 1000.0))),
            ])
        })
        .collect();
    let overheads: Vec<String> = r
        .overheads
        .iter()
        .map(|o| {
            jo(&[
                ("instance", js(&o.instance)),
                ("uptime_ratio", jn(ratio(o.up_ms, period))),
                ("wall_kwh", jn(Some(kwh(o.wall_joules)))),
                ("cost", jn(o.cost)),
            ])
        })
        .collect();
    let accounts: Vec<String> = r
        .accounts
        .iter()
        .map(|a| {
            jo(&[
                ("instance", js(&a.instance)),
                ("pool", js(&a.pool)),
                ("coin", js(&a.coin)),
                ("earned_coin", jn(Some(a.earned_coin))),
                ("price", jn(a.price.as_ref().map(|p| p.0))),
                (
                    "price_source",
                    a.price.as_ref().map_or("null".into(), |p| js(&p.1)),
                ),
                ("earned_fiat", jn(a.earned_fiat)),
                ("method", js(a.method)),
            ])
        })
        .collect();
    let t = &r.totals;
    let hpj = t.hashes_per_joule();
    let total = jo(&[
        ("gpu_kwh", jn(Some(kwh(t.gpu_joules)))),
        ("wall_kwh", jn(Some(kwh(t.wall_joules)))),
        ("cost", jn(t.cost)),
        ("earned_coin", jn(t.earned_coin)),
        ("earned_fiat", jn(t.earned_fiat)),
        ("profit", jn(t.profit)),
        ("hashes_per_joule", jn(hpj)),
        ("joules_per_mh", jn(hpj.map(joules_per_mh))),
        ("acceptance_ratio", jn(t.acceptance())),
    ]);
    let why = |w: &Option<String>| w.as_ref().map_or("null".into(), |w| js(w));
    let notes = jo(&[
        ("power", js(&r.power_note)),
        ("tariff", js(&r.tariff_note)),
        ("price", js(&r.price_note)),
        ("cost", why(&r.no_cost)),
        ("earned_fiat", why(&r.no_fiat)),
        ("profit", why(&r.no_profit)),
    ]);
    let opt = |s: Option<String>| s.map_or("null".into(), |s| js(&s));
    let mut o = jo(&[
        ("from", (r.from as f64 / 1000.0).to_string()),
        ("to", (r.to as f64 / 1000.0).to_string()),
        ("currency", opt(r.currency.clone())),
        ("fiat", opt(r.price_currency())),
        ("psu_efficiency", jn(Some(r.psu_efficiency))),
        ("notes", notes),
        ("cards", format!("[{}]", cards.join(","))),
        ("overheads", format!("[{}]", overheads.join(","))),
        ("accounts", format!("[{}]", accounts.join(","))),
        ("total", total),
    ]);
    o.push('\n');
    o
}

/// The tuning report in format `f`.
pub fn tuning(r: &Report, cards: &[CardTuning], f: Format) -> String {
    match f {
        Format::Table => tuning_table(r, cards),
        Format::Csv => {
            let mut o = String::from("instance,uuid,name,limit_w,hours,hashrate_hs,power_w,hashes_per_joule,joules_per_mh,profit_per_hour,currency,best_efficiency,best_profit\n");
            let cur = r.currency.clone().unwrap_or_default();
            for c in cards {
                for s in &c.settings {
                    let best = |b: &Result<f64, String>| match b {
                        Ok(l) => (*l == s.limit_w).to_string(),
                        Err(_) => String::new(),
                    };
                    let f = [
                        c.instance.clone(),
                        c.uuid.clone(),
                        c.name.clone(),
                        s.limit_w.to_string(),
                        s.hours.to_string(),
                        s.mean_hashrate.to_string(),
                        s.mean_power_w.to_string(),
                        raw(s.hashes_per_joule),
                        raw(s.hashes_per_joule.map(joules_per_mh)),
                        raw(s.profit_per_hour),
                        cur.clone(),
                        best(&c.best_efficiency),
                        best(&c.best_profit),
                    ];
                    let line: Vec<String> = f.iter().map(|s| csv_field(s)).collect();
                    let _ = writeln!(o, "{}", line.join(","));
                }
            }
            o
        }
        Format::Json => {
            let items: Vec<String> = cards
                .iter()
                .map(|c| {
                    let settings: Vec<String> = c
                        .settings
                        .iter()
                        .map(|s| {
                            jo(&[
                                ("limit_w", jn(Some(s.limit_w))),
                                ("hours", jn(Some(s.hours))),
                                ("hashrate_hs", jn(Some(s.mean_hashrate))),
                                ("power_w", jn(Some(s.mean_power_w))),
                                ("hashes_per_joule", jn(s.hashes_per_joule)),
                                ("joules_per_mh", jn(s.hashes_per_joule.map(joules_per_mh))),
                                ("profit_per_hour", jn(s.profit_per_hour)),
                            ])
                        })
                        .collect();
                    let rec = |b: &Result<f64, String>| match b {
                        Ok(l) => jo(&[("limit_w", jn(Some(*l))), ("why_not", "null".into())]),
                        Err(w) => jo(&[("limit_w", "null".into()), ("why_not", js(w))]),
                    };
                    jo(&[
                        ("instance", js(&c.instance)),
                        ("uuid", js(&c.uuid)),
                        ("name", js(&c.name)),
                        ("settings", format!("[{}]", settings.join(","))),
                        ("best_efficiency", rec(&c.best_efficiency)),
                        ("best_profit", rec(&c.best_profit)),
                    ])
                })
                .collect();
            let mut o = jo(&[
                ("from", (r.from as f64 / 1000.0).to_string()),
                ("to", (r.to as f64 / 1000.0).to_string()),
                ("currency", r.currency.as_deref().map_or("null".into(), js)),
                ("min_hours", jn(Some(MIN_HOURS))),
                ("cards", format!("[{}]", items.join(","))),
            ]);
            o.push('\n');
            o
        }
    }
}

fn tuning_table(r: &Report, cards: &[CardTuning]) -> String {
    let mut o = header(r);
    let _ = writeln!(
        o,
        "Mining time only, grouped by the enforced power limit at each interval's start; a setting needs {} h of mining to be ranked.",
        fmt_num(MIN_HOURS)
    );
    if cards.is_empty() {
        o.push_str("\n(no power-limit and hashrate data in the period)\n");
    }
    let cur = r
        .currency
        .as_deref()
        .map_or(String::new(), |c| format!(" {c}"));
    for c in cards {
        let _ = writeln!(o, "\n{}  {}  {}", c.instance, c.name, c.uuid);
        let _ = writeln!(
            o,
            "  {:>8}  {:>8}  {:>9}  {:>8}  {:>7}  {:>6}  {:>12}",
            "limit W",
            "hours",
            "MH/s",
            "W",
            "kH/J",
            "J/MH",
            format!("profit{cur}/h")
        );
        for s in &c.settings {
            let mark = |b: &Result<f64, String>, m: &'static str| match b {
                Ok(l) if *l == s.limit_w => m,
                _ => "",
            };
            let _ = writeln!(
                o,
                "  {:>8}  {:>8.2}  {:>9.2}  {:>8.1}  {:>7}  {:>6}  {:>12}  {}{}",
                fmt_num(s.limit_w),
                s.hours,
                s.mean_hashrate / 1e6,
                s.mean_power_w,
                num(s.hashes_per_joule.map(|h| h / 1e3), 1),
                num(s.hashes_per_joule.map(joules_per_mh), 3),
                or_why(s.profit_per_hour, 4, &None),
                mark(&c.best_efficiency, "<- most efficient "),
                mark(&c.best_profit, "<- most profitable"),
            );
        }
        o.push_str(&chart(c));
        match &c.best_efficiency {
            Ok(l) => {
                let _ = writeln!(o, "  recommended for efficiency: {} W", fmt_num(*l));
            }
            Err(w) => {
                let _ = writeln!(o, "  efficiency: {w}");
            }
        }
        match &c.best_profit {
            Ok(l) => {
                let _ = writeln!(o, "  recommended for profit: {} W", fmt_num(*l));
            }
            Err(w) => {
                let _ = writeln!(o, "  profit: {w}");
            }
        }
    }
    o
}

/// Efficiency (kH/J) against power limit (W), braille, points joined in
/// order of limit. Empty when fewer than two settings have a figure.
fn chart(c: &CardTuning) -> String {
    const COLS: usize = 40;
    const ROWS: usize = 5;
    let pts: Vec<(f64, f64)> = c
        .settings
        .iter()
        .filter_map(|s| s.hashes_per_joule.map(|h| (s.limit_w, h / 1e3)))
        .collect();
    if pts.len() < 2 {
        return String::new();
    }
    let (x0, x1) = pts.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| {
        (a.0.min(p.0), a.1.max(p.0))
    });
    let (y0, y1) = pts.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| {
        (a.0.min(p.1), a.1.max(p.1))
    });
    let (y0, y1) = if y1 > y0 {
        (y0, y1)
    } else {
        (y0 - 1.0, y1 + 1.0)
    };
    let mut canvas = Canvas::new(COLS, ROWS);
    let (w, h) = (canvas.width() as f64 - 1.0, canvas.height() as f64 - 1.0);
    let px = |x: f64| ((x - x0) / (x1 - x0).max(f64::MIN_POSITIVE) * w).round() as i64;
    let py = |y: f64| ((y1 - y) / (y1 - y0) * h).round() as i64;
    let mut prev = None;
    for &(x, y) in &pts {
        let p = (px(x), py(y));
        match prev {
            Some(q) => canvas.line(q, p, 0),
            None => canvas.set(p.0, p.1, 0),
        }
        prev = Some(p);
    }
    let top = format!("{y1:.1}");
    let bottom = format!("{y0:.1}");
    let lw = top.len().max(bottom.len()).max(4);
    let mut o = format!("  {:>lw$}\n", "kH/J");
    for r in 0..ROWS {
        let label = match r {
            0 => top.as_str(),
            _ if r == ROWS - 1 => bottom.as_str(),
            _ => "",
        };
        let mark = if label.is_empty() { '│' } else { '┤' };
        let _ = writeln!(
            o,
            "  {label:>lw$} {mark}{}",
            canvas.row(r).map(|(c, _)| c).collect::<String>()
        );
    }
    let left = format!("{} W", fmt_num(x0));
    let right = format!("{} W limit", fmt_num(x1));
    let _ = writeln!(o, "  {:lw$} └{}", "", "─".repeat(COLS));
    let pad = (COLS + 1).saturating_sub(left.len() + right.len());
    let _ = writeln!(o, "  {:lw$}  {left}{:pad$}{right}", "", "");
    o
}
