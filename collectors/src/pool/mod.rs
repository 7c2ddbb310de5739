//! Pool accounts over the pools' HTTP JSON APIs: Ethermine (and Flypool),
//! open-ethereum-pool (2Miners), Nanopool, HeroMiners.
//!
//! Each API has a file with its serde types and a pure conversion of parsed
//! responses to an [`Account`]; [`Account::samples`] turns any account into
//! the same series, and [`PoolSource`] is the [`Source`] that fetches, under
//! the job's deadline, through [`HttpClient`].
//!
//! # Series
//! Labels: `instance` (the rig, as on the GPU series, so the simulator's
//! queries work), `pool` (the job name, default the pool's kind), `coin`,
//! and `address`, the account in full: addresses are public and short
//! forms could collide between two wallets; one address is one series per
//! metric, so cardinality is not a concern. Per-worker series add `worker`.
//! Units are SI: hashes per second, coins (not wei or Shannon), seconds.
//!
//! | metric | meaning | Ethermine | 2Miners | Nanopool | HeroMiners |
//! |---|---|---|---|---|---|
//! | `pool_hashrate_reported_hashes_per_second` | what the miners report | reportedHashrate | - | - | - |
//! | `pool_hashrate_effective_hashes_per_second` | the pool's estimate from recent shares | currentHashrate | currentHashrate | hashrate | hashrate |
//! | `pool_hashrate_average_hashes_per_second` | the pool's long-window average | averageHashrate (24 h) | hashrate (large window) | avgHashrate.h24 | - |
//! | `pool_shares_valid`, `_stale`, `_invalid` | shares in the pool's window (Ethermine: the last hour) | yes | - | - | - |
//! | `pool_workers_active` | workers seen recently | activeWorkers | workersOnline | workers (count) | workers (count) |
//! | `pool_unpaid_balance` | unpaid balance, coins | unpaid | stats.balance | balance | stats.balance |
//! | `pool_unconfirmed_balance` | unconfirmed (immature) balance, coins | unconfirmed | stats.immature | unconfirmed_balance | - |
//! | `pool_income_coins_per_second` | estimated earnings | coinsPerMin / 60 | - | - | - |
//! | `pool_payouts_total` | payouts listed by the API | /payouts count | paymentsTotal | - | payments count |
//! | `pool_paid_total` | coins paid | sum of /payouts | stats.paid | - | stats.paid |
//! | `pool_last_share_timestamp_seconds` | last share or last seen | lastSeen | stats.lastShare | - | stats.lastShare |
//! | `pool_worker_hashrate_reported_hashes_per_second`, `pool_worker_hashrate_effective_hashes_per_second`, `pool_worker_shares_valid`, ... | the same per worker | /workers | workers | workers | workers |
//!
//! The share and worker figures are gauges: pools report them over a
//! moving window, not as counters. `pool_payouts_total` and
//! `pool_paid_total` count what the API lists (Ethermine lists recent
//! payouts only), as the simulator's series do.
//!
//! # Rate limits
//! Each kind's default interval keeps well inside the pool's published
//! limit (see [`PoolKind::default_interval_ms`]); a shorter interval over
//! the limit is a config error. An HTTP 429 is one failure line naming the
//! pool and the wait, and the source records
//! `minetsdb_job_backoff_until_timestamp_seconds{job}` so that `collect`
//! (loop or `--once`) skips the job until `Retry-After` has passed (see
//! [`crate::schedule::held_until`]); without a `Retry-After`, one interval.
//!
//! A new address the pool does not know yet (`"data":"NO DATA"`, a 404, an
//! empty `stats`, `"error":"not found"`) is a warning, not a failure.

pub mod ethermine;
pub mod herominers;
pub mod nanopool;
pub mod openethpool;

use std::time::Duration;

use minetsdb::{Labels, Metadata, Sample};

use crate::api::{self, ApiError, Samples};
use crate::config::{PoolJob, PoolKind};
use crate::http::{HttpClient, HttpOptions};
use crate::source::{Collection, Source, Unavailable};

/// One worker's figures, as the pool reports them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Worker {
    /// The worker's name.
    pub name: String,
    /// Reported by the miner, hashes/s.
    pub reported_hs: Option<f64>,
    /// The pool's current estimate, hashes/s.
    pub effective_hs: Option<f64>,
    /// The pool's long average, hashes/s.
    pub average_hs: Option<f64>,
    /// Valid shares in the pool's window.
    pub shares_valid: Option<f64>,
    /// Stale shares in the pool's window.
    pub shares_stale: Option<f64>,
    /// Invalid shares in the pool's window.
    pub shares_invalid: Option<f64>,
    /// Last share or last seen, Unix seconds.
    pub last_seen_s: Option<f64>,
}

/// An account's figures in SI units and coins, from any pool.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Account {
    /// Reported by the miners, hashes/s.
    pub reported_hs: Option<f64>,
    /// The pool's current estimate, hashes/s.
    pub effective_hs: Option<f64>,
    /// The pool's long average, hashes/s.
    pub average_hs: Option<f64>,
    /// Valid shares in the pool's window.
    pub shares_valid: Option<f64>,
    /// Stale shares in the pool's window.
    pub shares_stale: Option<f64>,
    /// Invalid shares in the pool's window.
    pub shares_invalid: Option<f64>,
    /// Active workers.
    pub workers_active: Option<f64>,
    /// Unpaid balance, coins.
    pub unpaid: Option<f64>,
    /// Unconfirmed balance, coins.
    pub unconfirmed: Option<f64>,
    /// Estimated income, coins per second.
    pub income_per_s: Option<f64>,
    /// Payouts listed.
    pub payouts: Option<f64>,
    /// Coins paid.
    pub paid: Option<f64>,
    /// Last share or last seen, Unix seconds.
    pub last_seen_s: Option<f64>,
    /// Per worker.
    pub workers: Vec<Worker>,
}

/// `(metric, counter?, unit, help)` of every pool series.
const METRICS: [(&str, bool, &str, &str); 20] = [
    (
        "pool_hashrate_reported_hashes_per_second",
        false,
        "hashes_per_second",
        "Hashrate the miners report to the pool.",
    ),
    (
        "pool_hashrate_effective_hashes_per_second",
        false,
        "hashes_per_second",
        "Hashrate the pool estimates from recent shares.",
    ),
    (
        "pool_hashrate_average_hashes_per_second",
        false,
        "hashes_per_second",
        "Hashrate the pool averages over its long window.",
    ),
    (
        "pool_shares_valid",
        false,
        "",
        "Valid shares in the pool's statistics window.",
    ),
    (
        "pool_shares_stale",
        false,
        "",
        "Stale shares in the pool's statistics window.",
    ),
    (
        "pool_shares_invalid",
        false,
        "",
        "Invalid shares in the pool's statistics window.",
    ),
    (
        "pool_workers_active",
        false,
        "",
        "Workers the pool has seen recently.",
    ),
    (
        "pool_unpaid_balance",
        false,
        "",
        "Unpaid balance, in coins.",
    ),
    (
        "pool_unconfirmed_balance",
        false,
        "",
        "Unconfirmed (immature) balance, in coins.",
    ),
    (
        "pool_income_coins_per_second",
        false,
        "",
        "Estimated earnings, coins per second.",
    ),
    (
        "pool_payouts_total",
        true,
        "",
        "Payouts the pool's API lists.",
    ),
    (
        "pool_paid_total",
        true,
        "",
        "Coins the pool has paid, as its API lists.",
    ),
    (
        "pool_last_share_timestamp_seconds",
        false,
        "seconds",
        "Last share or last seen, Unix time.",
    ),
    (
        "pool_worker_hashrate_reported_hashes_per_second",
        false,
        "hashes_per_second",
        "Hashrate a worker reports.",
    ),
    (
        "pool_worker_hashrate_effective_hashes_per_second",
        false,
        "hashes_per_second",
        "Hashrate the pool estimates for a worker.",
    ),
    (
        "pool_worker_hashrate_average_hashes_per_second",
        false,
        "hashes_per_second",
        "A worker's long-window average hashrate.",
    ),
    (
        "pool_worker_shares_valid",
        false,
        "",
        "A worker's valid shares in the pool's window.",
    ),
    (
        "pool_worker_shares_stale",
        false,
        "",
        "A worker's stale shares in the pool's window.",
    ),
    (
        "pool_worker_shares_invalid",
        false,
        "",
        "A worker's invalid shares in the pool's window.",
    ),
    (
        "pool_worker_last_share_timestamp_seconds",
        false,
        "seconds",
        "A worker's last share or last seen, Unix time.",
    ),
];

impl Account {
    /// The account's samples at `t`, labelled `instance`, `pool`, `coin`,
    /// `address` (and `worker`); a figure the pool does not give yields no
    /// sample.
    pub fn samples(&self, t: i64, instance: &str, job: &PoolJob) -> Vec<(Labels, Sample)> {
        let mut s = self.builder(t, instance, job);
        self.push(&mut s);
        s.out
    }

    fn builder(&self, t: i64, instance: &str, job: &PoolJob) -> Samples {
        Samples::new(
            t,
            &[
                ("instance", instance),
                ("pool", job.name.as_str()),
                ("coin", job.coin.as_str()),
                ("address", job.address.as_str()),
            ],
        )
    }

    fn push(&self, s: &mut Samples) {
        let account = [
            self.reported_hs,
            self.effective_hs,
            self.average_hs,
            self.shares_valid,
            self.shares_stale,
            self.shares_invalid,
            self.workers_active,
            self.unpaid,
            self.unconfirmed,
            self.income_per_s,
            self.payouts,
            self.paid,
            self.last_seen_s,
        ];
        for ((metric, ..), v) in METRICS.iter().zip(account) {
            s.push_opt(metric, &[], v);
        }
        for w in &self.workers {
            let worker = [
                w.reported_hs,
                w.effective_hs,
                w.average_hs,
                w.shares_valid,
                w.shares_stale,
                w.shares_invalid,
                w.last_seen_s,
            ];
            for ((metric, ..), v) in METRICS[13..].iter().zip(worker) {
                s.push_opt(metric, &[("worker", w.name.as_str())], v);
            }
        }
    }
}

/// Metadata of every pool series.
pub fn metadata() -> Vec<(String, Metadata)> {
    let mut s = Samples::new(0, &[]);
    for (m, counter, unit, help) in METRICS {
        s.describe(m, counter, unit, help);
    }
    s.metadata
}

/// `amount` atomic units as coins, divided by 10^decimals (see
/// `nvml::convert` on why dividing, not multiplying). The divisor is parsed
/// from its decimal form, so it is the f64 nearest 10^decimals even past
/// 10^22, where repeated multiplication (`powi`) would round on the way.
pub(crate) fn coins(amount: f64, decimals: u32) -> f64 {
    let scale: f64 = format!("1e{decimals}").parse().unwrap_or(f64::NAN);
    amount / scale
}

/// A `[[pool]]` as a [`Source`].
#[derive(Debug)]
pub struct PoolSource {
    job: PoolJob,
    instance: String,
    client: HttpClient,
}

impl PoolSource {
    /// The job, reading for the rig `instance`.
    pub fn new(job: PoolJob, instance: impl Into<String>) -> PoolSource {
        let client = HttpClient::new(HttpOptions {
            deadline: Duration::from_millis(job.timeout_ms.max(1) as u64),
            // Account pages are small; a pool that sends megabytes is wrong.
            max_body_bytes: 4 << 20,
            ..HttpOptions::default()
        });
        PoolSource {
            job,
            instance: instance.into(),
            client,
        }
    }

    /// Reads the account: the kind's requests in turn.
    pub fn read(&self) -> Result<Account, ApiError> {
        match self.job.kind {
            PoolKind::Ethermine => ethermine::read(&self.client, &self.job),
            PoolKind::OpenEthPool => openethpool::read(&self.client, &self.job),
            PoolKind::Nanopool => nanopool::read(&self.client, &self.job),
            PoolKind::HeroMiners => herominers::read(&self.client, &self.job),
        }
    }
}

/// GETs `url` as JSON through `client`.
pub(crate) fn get_json(client: &HttpClient, url: &str) -> Result<serde_json::Value, ApiError> {
    let resp = client.get(url, "application/json")?;
    api::parse(url, &resp.body)
}

impl Source for PoolSource {
    fn name(&self) -> &str {
        &self.job.name
    }

    fn collect(&mut self, now_ms: i64) -> Result<Collection, Unavailable> {
        let mut out = Collection {
            metadata: metadata(),
            ..Collection::default()
        };
        let pool = &self.job.name;
        let result = self.read();
        let ok = match result {
            Ok(account) => {
                out.samples = account.samples(now_ms, &self.instance, &self.job);
                true
            }
            Err(e @ ApiError::NoData { .. }) => {
                out.warnings.push(format!("pool {pool:?}: {e}"));
                true
            }
            Err(e) => {
                if let Some(retry_after) = e.rate_limited() {
                    let wait_ms = retry_after
                        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                        .unwrap_or(self.job.interval_ms)
                        .clamp(0, crate::schedule::MAX_BACKOFF_MS);
                    let until = now_ms.saturating_add(wait_ms);
                    let said = if retry_after.is_some() {
                        "Retry-After"
                    } else {
                        "no Retry-After; one interval"
                    };
                    out.failures.push(format!(
                        "pool {pool:?}: {e}; skipping its runs for {} s ({said})",
                        wait_ms / 1000
                    ));
                    out.samples
                        .push(crate::schedule::backoff_sample(pool, now_ms, until));
                    out.metadata.push(crate::schedule::backoff_metadata());
                } else {
                    out.failures.push(format!("pool {pool:?}: {e}"));
                }
                false
            }
        };
        let (l, s, md) = api::up(pool, &self.job.url, now_ms, ok);
        out.samples.push((l, s));
        out.metadata.push(md);
        Ok(out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A job for conversion tests.
    pub(crate) fn job(kind: PoolKind, coin: &str, decimals: u32) -> PoolJob {
        PoolJob {
            name: kind.name().to_string(),
            kind,
            url: "http://127.0.0.1:1".to_string(),
            address: "0xabc".to_string(),
            coin: coin.to_string(),
            interval_ms: 300_000,
            timeout_ms: 1_000,
            decimals,
        }
    }

    /// The value of `metric` (with `worker` if given) among `samples`.
    pub(crate) fn value(
        samples: &[(Labels, Sample)],
        metric: &str,
        worker: Option<&str>,
    ) -> Option<f64> {
        let found: Vec<_> = samples
            .iter()
            .filter(|(l, _)| l.metric_name() == metric && l.get("worker") == worker)
            .collect();
        assert!(found.len() <= 1, "{metric}: {found:?}");
        found.first().map(|(_, s)| s.v)
    }

    #[test]
    fn labels_and_metadata() {
        let a = Account {
            unpaid: Some(1.5),
            workers: vec![Worker {
                name: "rig1".into(),
                effective_hs: Some(2.0),
                ..Worker::default()
            }],
            ..Account::default()
        };
        let j = job(PoolKind::Ethermine, "etc", 18);
        let got = a.samples(7, "rig1", &j);
        assert_eq!(got.len(), 2);
        let (l, s) = &got[0];
        assert_eq!(l.metric_name(), "pool_unpaid_balance");
        assert_eq!(
            (
                l.get("instance"),
                l.get("pool"),
                l.get("coin"),
                l.get("address")
            ),
            (Some("rig1"), Some("ethermine"), Some("etc"), Some("0xabc"))
        );
        assert_eq!((s.t, s.v), (7, 1.5));
        assert_eq!(
            value(
                &got,
                "pool_worker_hashrate_effective_hashes_per_second",
                Some("rig1")
            ),
            Some(2.0)
        );
        let md = metadata();
        assert_eq!(md.len(), METRICS.len());
        assert!(md
            .iter()
            .all(|(n, _)| minetsdb::check_metric_name(n).is_ok()));
        assert_eq!(coins(1_500_000_000.0, 9), 1.5);
        assert_eq!(coins(12_345.0, 0), 12_345.0);
        assert_eq!(coins(1e25, 25), 1.0);
        assert_eq!(coins(1e23, 23), 1.0);
    }
}
