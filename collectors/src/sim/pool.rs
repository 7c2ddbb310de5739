//! The pool account and coin price, as a pool exporter polling the pool's
//! API every few minutes sees them: values change only at a refresh and
//! repeat in every scrape in between.

use std::collections::VecDeque;

use super::rng::Rng;
use super::series::*;
use super::{Event, EventKind, RigConfig};

/// Pools estimate effective hashrate from the shares of the last hour.
const EFFECTIVE_WINDOW_MS: i64 = 3_600_000;
/// Daily volatility of the coin price.
const PRICE_DAILY_VOL: f64 = 0.04;
/// Chance per refresh that the pool pays a balance over the threshold.
const PAYOUT_CHANCE: f64 = 1.0 / 6.0;

pub(crate) struct Pool {
    rng: Rng,
    next_refresh: Option<i64>,
    last_refresh: i64,
    /// Accepted shares per refresh, for the effective hashrate.
    window: VecDeque<(i64, u64)>,
    /// Shares accepted since the last refresh.
    pending: u64,
    balance: f64,
    payouts: u64,
    paid: f64,
    price: f64,
    values: [f64; RIG_METRICS.len()],
}

impl Pool {
    pub(crate) fn new(rng: Rng) -> Pool {
        Pool {
            rng,
            next_refresh: None,
            last_refresh: 0,
            window: VecDeque::new(),
            pending: 0,
            balance: 0.0,
            payouts: 0,
            paid: 0.0,
            price: 0.0,
            values: [0.0; RIG_METRICS.len()],
        }
    }

    /// Account history before the first scrape: a partial balance, past
    /// payouts, and an hour of shares at `expected_hs`.
    pub(crate) fn warm_start(&mut self, t: i64, cfg: &RigConfig, expected_hs: f64) {
        let interval = cfg.pool_interval_ms.max(1);
        self.balance = self.rng.range(0.0, cfg.payout_threshold);
        self.payouts = 12 + self.rng.below(40);
        self.paid = self.payouts as f64 * cfg.payout_threshold * self.rng.range(1.0, 1.08);
        self.price = cfg.price_usd;
        let per_bucket = expected_hs * interval as f64 / 1000.0 / cfg.share_difficulty;
        let buckets = (EFFECTIVE_WINDOW_MS + interval - 1) / interval;
        for k in (0..buckets).rev() {
            let n = self.rng.poisson(per_bucket);
            self.window.push_back((t - k * interval - 1, n));
        }
        self.last_refresh = t;
    }

    /// Count shares accepted in the last interval; refresh from the pool if
    /// one is due at `t`. Returns the values to expose, in `RIG_METRICS` order.
    pub(crate) fn on_scrape(
        &mut self,
        t: i64,
        accepted: u64,
        reported_hs: f64,
        cfg: &RigConfig,
        events: &mut Vec<Event>,
    ) -> &[f64; RIG_METRICS.len()] {
        self.pending += accepted;
        let interval = cfg.pool_interval_ms.max(1);
        let due = self.next_refresh.is_none_or(|n| t >= n);
        if !due {
            return &self.values;
        }
        // Refresh on the pool's own grid, whatever the scrape times.
        let next = match self.next_refresh {
            None => t + interval,
            Some(n) => n + ((t - n) / interval + 1) * interval,
        };
        self.next_refresh = Some(next);

        self.window.push_back((t, self.pending));
        // PPLNS: each share earns a lucky or unlucky fraction of its value.
        let luck = (0.35 * self.rng.normal() - 0.35 * 0.35 / 2.0).exp();
        self.balance += self.pending as f64 * cfg.coin_per_share * luck;
        self.pending = 0;
        while self
            .window
            .front()
            .is_some_and(|&(w, _)| w <= t - EFFECTIVE_WINDOW_MS)
        {
            self.window.pop_front();
        }
        let shares: u64 = self.window.iter().map(|&(_, n)| n).sum();
        let effective = shares as f64 * cfg.share_difficulty / (EFFECTIVE_WINDOW_MS / 1000) as f64;

        if self.balance >= cfg.payout_threshold && self.rng.chance(PAYOUT_CHANCE) {
            let amount = self.balance;
            self.paid += amount;
            self.payouts += 1;
            self.balance = 0.0;
            events.push(Event {
                t,
                kind: EventKind::Payout { amount },
            });
        }

        let days = (t - self.last_refresh).max(0) as f64 / 86_400_000.0;
        let vol = PRICE_DAILY_VOL * days.sqrt();
        self.price *= (vol * self.rng.normal() - vol * vol / 2.0).exp();
        self.last_refresh = t;

        self.values[POOL_REPORTED] = reported_hs.round();
        self.values[POOL_EFFECTIVE] = effective.round();
        self.values[POOL_BALANCE] = self.balance;
        self.values[POOL_PAYOUTS] = self.payouts as f64;
        self.values[POOL_PAID] = self.paid;
        self.values[PRICE] = (self.price * 100.0).round() / 100.0;
        &self.values
    }
}
