//! The `[[pool]]` and `[[miner]]` tables of `config.toml`: one pool account
//! or one miner's API each, read by [`crate::pool`] and [`crate::miner`].
//!
//! ```toml
//! [[pool]]
//! kind = "ethermine"     # ethermine | 2miners (any open-ethereum-pool) | nanopool | herominers
//! address = "0x1234..."  # the account (wallet address)
//! name = "ethermine"     # the `pool` label and job name; unique [default: kind]
//! coin = "etc"           # the `coin` label; Nanopool's and HeroMiners' URL part [default: per kind]
//! url = "https://api.ethermine.org"   # API base [default: the pool's public API]
//! interval = "5m"        # [default: per kind, within the pool's rate limit]
//! timeout = "10s"        # each request [default: 10s]
//! decimals = 18          # the API's balances are in 10^-decimals coins [default: per kind/coin]
//!
//! [[miner]]
//! kind = "t-rex"         # t-rex | lolminer | gminer | xmrig | teamredminer | cgminer
//! url = "http://127.0.0.1:4067"  # [default: T-Rex 4067, TeamRedMiner/cgminer tcp://127.0.0.1:4028]
//! name = "trex"          # the `miner` label and job name; unique [default: kind; T-Rex: "trex"]
//! token = "secret"       # XMRig's access token (Authorization: Bearer) [default: none]
//! interval = "1m"        # [default: 1m]
//! timeout = "5s"         # [default: 5s]
//! ```

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, DEFAULT_TIMEOUT_MS};
use crate::duration::parse_ms;

/// Which pool API a `[[pool]]` speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    /// Ethermine / Flypool (`/miner/:address/currentStats`, `/workers`, `/payouts`).
    Ethermine,
    /// open-ethereum-pool and its forks, 2Miners among them (`/api/accounts/:address`).
    OpenEthPool,
    /// Nanopool (`/v1/:coin/user/:address`).
    Nanopool,
    /// HeroMiners, and other cryptonote-nodejs-pool APIs (`/api/stats_address?address=`).
    HeroMiners,
}

impl PoolKind {
    /// The `kind` values accepted, for messages.
    pub const NAMES: &'static str =
        "ethermine, 2miners (or open-ethereum-pool), nanopool, herominers";

    fn parse(s: &str) -> Option<PoolKind> {
        Some(match s {
            "ethermine" | "flypool" => PoolKind::Ethermine,
            "2miners" | "open-ethereum-pool" => PoolKind::OpenEthPool,
            "nanopool" => PoolKind::Nanopool,
            "herominers" => PoolKind::HeroMiners,
            _ => return None,
        })
    }

    /// The kind's name, the default job name and `pool` label.
    pub fn name(self) -> &'static str {
        match self {
            PoolKind::Ethermine => "ethermine",
            PoolKind::OpenEthPool => "2miners",
            PoolKind::Nanopool => "nanopool",
            PoolKind::HeroMiners => "herominers",
        }
    }

    /// Requests one run of the job makes.
    pub fn requests_per_run(self) -> u32 {
        match self {
            PoolKind::Ethermine => 3,
            _ => 1,
        }
    }

    /// The default interval: well inside the pool's published limit.
    ///
    /// - Ethermine: 100 requests per 15 minutes per IP, responses cached
    ///   2 minutes. 3 requests per run every 5 minutes is 9 per 15 minutes,
    ///   leaving the rest of the budget to the pool's web site and other
    ///   tools on the same IP.
    /// - Nanopool: at most 30 calls per minute; its data changes every few
    ///   minutes, so 5 minutes.
    /// - 2Miners and HeroMiners publish no number; they refresh account
    ///   statistics every few minutes, so 5 minutes.
    pub fn default_interval_ms(self) -> i64 {
        300_000
    }

    /// The published limit as (requests, per milliseconds), when there is one.
    pub fn rate_limit(self) -> Option<(u32, i64)> {
        match self {
            PoolKind::Ethermine => Some((100, 900_000)),
            PoolKind::Nanopool => Some((30, 60_000)),
            _ => None,
        }
    }
}

/// Which miner API a `[[miner]]` speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MinerKind {
    /// T-Rex (`GET /summary`).
    TRex,
    /// lolMiner (`GET /`, the JSON API of `--apiport`).
    LolMiner,
    /// GMiner (`GET /stat`).
    GMiner,
    /// XMRig (`GET /2/summary`, optional bearer token).
    XMRig,
    /// TeamRedMiner: the cgminer API over TCP (`summary`, `devs`).
    TeamRedMiner,
    /// Any other miner speaking the cgminer/sgminer API over TCP.
    Cgminer,
}

impl MinerKind {
    /// The `kind` values accepted, for messages.
    pub const NAMES: &'static str = "t-rex, lolminer, gminer, xmrig, teamredminer, cgminer";

    fn parse(s: &str) -> Option<MinerKind> {
        Some(match s {
            "t-rex" | "trex" => MinerKind::TRex,
            "lolminer" => MinerKind::LolMiner,
            "gminer" => MinerKind::GMiner,
            "xmrig" => MinerKind::XMRig,
            "teamredminer" => MinerKind::TeamRedMiner,
            "cgminer" => MinerKind::Cgminer,
            _ => return None,
        })
    }

    /// The kind's name, the default job name and `miner` label.
    pub fn name(self) -> &'static str {
        match self {
            MinerKind::TRex => "trex",
            MinerKind::LolMiner => "lolminer",
            MinerKind::GMiner => "gminer",
            MinerKind::XMRig => "xmrig",
            MinerKind::TeamRedMiner => "teamredminer",
            MinerKind::Cgminer => "cgminer",
        }
    }

    /// Whether the API is the cgminer protocol over plain TCP.
    pub fn is_tcp(self) -> bool {
        matches!(self, MinerKind::TeamRedMiner | MinerKind::Cgminer)
    }

    /// The miner's own default API address, where it has one.
    fn default_url(self) -> Option<&'static str> {
        match self {
            MinerKind::TRex => Some("http://127.0.0.1:4067"),
            MinerKind::TeamRedMiner | MinerKind::Cgminer => Some("tcp://127.0.0.1:4028"),
            _ => None,
        }
    }
}

/// Deadline of a miner's request when the file does not say: 5 s (it is
/// on the same machine or LAN).
pub const DEFAULT_MINER_TIMEOUT_MS: i64 = 5_000;
/// Interval of a miner job when the file does not say: 1 minute.
pub const DEFAULT_MINER_INTERVAL_MS: i64 = 60_000;

/// One `[[pool]]`: an account on a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolJob {
    /// Job name and `pool` label.
    pub name: String,
    /// The API it speaks.
    pub kind: PoolKind,
    /// API base URL, without a trailing `/`.
    pub url: String,
    /// The account.
    pub address: String,
    /// The `coin` label (lower case).
    pub coin: String,
    /// How often, in milliseconds.
    pub interval_ms: i64,
    /// Deadline of each request, in milliseconds.
    pub timeout_ms: i64,
    /// Balances in the API are in units of 10^-decimals coins.
    pub decimals: u32,
}

/// One `[[miner]]`: a miner's local API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinerJob {
    /// Job name and `miner` label.
    pub name: String,
    /// The API it speaks.
    pub kind: MinerKind,
    /// `http://host:port` for HTTP APIs, `tcp://host:port` for cgminer's.
    pub url: String,
    /// XMRig's access token.
    pub token: Option<String>,
    /// How often, in milliseconds.
    pub interval_ms: i64,
    /// Deadline of each request, in milliseconds.
    pub timeout_ms: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPool {
    kind: Spanned<String>,
    address: Spanned<String>,
    name: Option<Spanned<String>>,
    coin: Option<String>,
    url: Option<Spanned<String>>,
    interval: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    decimals: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMiner {
    kind: Spanned<String>,
    url: Option<Spanned<String>>,
    name: Option<Spanned<String>>,
    token: Option<String>,
    interval: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
}

/// Builds a [`ConfigError`] at a span.
pub(super) type Invalid<'a> = &'a dyn Fn(Option<Range<usize>>, String) -> ConfigError;

fn duration(
    v: &Option<Spanned<String>>,
    key: &str,
    default: i64,
    invalid: Invalid<'_>,
) -> Result<i64, ConfigError> {
    match v {
        None => Ok(default),
        Some(s) => {
            parse_ms(s.get_ref()).map_err(|e| invalid(Some(s.span()), format!("{key}: {e}")))
        }
    }
}

fn check_name(
    name: &Spanned<String>,
    table: &str,
    taken: &mut Vec<String>,
    invalid: Invalid<'_>,
) -> Result<(), ConfigError> {
    let n = name.get_ref();
    let why = if n.is_empty() {
        Some("must not be empty")
    } else if n == "nvml" {
        Some("is the GPUs' own job name")
    } else if taken.iter().any(|t| t == n) {
        Some("is used by another job, pool or miner (set `name`)")
    } else {
        None
    };
    if let Some(why) = why {
        return Err(invalid(
            Some(name.span()),
            format!("{table}.name: {n:?} {why}"),
        ));
    }
    taken.push(n.clone());
    Ok(())
}

fn check_url(
    url: &Spanned<String>,
    key: &str,
    tcp: bool,
    invalid: Invalid<'_>,
) -> Result<String, ConfigError> {
    let u = url.get_ref().trim_end_matches('/');
    let ok = if tcp {
        u.strip_prefix("tcp://").is_some_and(|a| a.contains(':'))
    } else {
        u.starts_with("http://") || u.starts_with("https://")
    };
    if !ok {
        let want = if tcp {
            "a tcp://host:port address"
        } else {
            "an http:// or https:// URL"
        };
        return Err(invalid(
            Some(url.span()),
            format!("{key}: {u:?} is not {want}"),
        ));
    }
    Ok(u.to_string())
}

/// Checks the `[[pool]]` tables; `taken` holds the names already used.
pub(super) fn pools(
    raw: Vec<RawPool>,
    taken: &mut Vec<String>,
    invalid: Invalid<'_>,
) -> Result<Vec<PoolJob>, ConfigError> {
    let mut out = Vec::with_capacity(raw.len());
    for p in raw {
        let kind = PoolKind::parse(p.kind.get_ref()).ok_or_else(|| {
            invalid(
                Some(p.kind.span()),
                format!(
                    "pool.kind: {:?} is not one of {}",
                    p.kind.get_ref(),
                    PoolKind::NAMES
                ),
            )
        })?;
        let name = p
            .name
            .unwrap_or_else(|| Spanned::new(p.kind.span(), kind.name().to_string()));
        check_name(&name, "pool", taken, invalid)?;
        let name = name.into_inner();
        let key = |k: &str| format!("pool {name:?}: {k}");
        let address = p.address.get_ref().trim().to_string();
        if address.is_empty() || address.contains(['/', '?', '#', '&', ' ']) {
            return Err(invalid(
                Some(p.address.span()),
                format!(
                    "{}: {:?} is not an account address",
                    key("address"),
                    p.address.get_ref()
                ),
            ));
        }
        let coin = p
            .coin
            .map(|c| c.to_ascii_lowercase())
            .or_else(|| (kind == PoolKind::Ethermine).then(|| "etc".to_string()));
        let Some(coin) =
            coin.filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric()))
        else {
            return Err(invalid(
                Some(p.kind.span()),
                format!(
                    "{}: name the coin (e.g. coin = \"etc\"), a word of letters and digits",
                    key("coin")
                ),
            ));
        };
        let url = match &p.url {
            Some(u) => check_url(u, &key("url"), false, invalid)?,
            None => match kind {
                PoolKind::Ethermine if coin == "etc" => "https://api-etc.ethermine.org".to_string(),
                PoolKind::Ethermine => "https://api.ethermine.org".to_string(),
                PoolKind::OpenEthPool => format!("https://{coin}.2miners.com"),
                PoolKind::Nanopool => "https://api.nanopool.org".to_string(),
                PoolKind::HeroMiners => format!("https://{coin}.herominers.com"),
            },
        };
        let interval_ms = duration(
            &p.interval,
            &key("interval"),
            kind.default_interval_ms(),
            invalid,
        )?;
        if let (Some((limit, per_ms)), Some(span)) =
            (kind.rate_limit(), p.interval.as_ref().map(|i| i.span()))
        {
            let per_window = u64::from(kind.requests_per_run())
                * (per_ms as u64).div_ceil(interval_ms.max(1) as u64);
            if per_window > u64::from(limit) {
                return Err(invalid(
                    Some(span),
                    format!(
                        "{}: {} requests per {} min, over the pool's limit of {limit}",
                        key("interval"),
                        per_window,
                        per_ms / 60_000
                    ),
                ));
            }
        }
        let timeout_ms = duration(&p.timeout, &key("timeout"), DEFAULT_TIMEOUT_MS, invalid)?;
        let decimals = match (&p.decimals, kind) {
            (Some(d), _) if *d.get_ref() > 30 => {
                return Err(invalid(
                    Some(d.span()),
                    format!("{}: at most 30", key("decimals")),
                ));
            }
            (Some(d), _) => *d.get_ref(),
            // Ethermine: wei (10^-18) for ETH and ETC.
            (None, PoolKind::Ethermine) => 18,
            // open-ethereum-pool: Shannon (10^-9).
            (None, PoolKind::OpenEthPool) => 9,
            // Nanopool: balances are in coins already.
            (None, PoolKind::Nanopool) => 0,
            (None, PoolKind::HeroMiners) => match atomic_decimals(&coin) {
                Some(d) => d,
                None => {
                    return Err(invalid(
                        Some(p.kind.span()),
                        format!(
                            "{}: the atomic units of {coin:?} are not known here; set decimals",
                            key("decimals")
                        ),
                    ));
                }
            },
        };
        out.push(PoolJob {
            name,
            kind,
            url,
            address,
            coin,
            interval_ms,
            timeout_ms,
            decimals,
        });
    }
    Ok(out)
}

/// Decimals of a coin's smallest unit, for pools that report atomic units.
fn atomic_decimals(coin: &str) -> Option<u32> {
    Some(match coin {
        "etc" | "eth" | "ethw" | "cfx" | "octa" => 18,
        "erg" | "ergo" => 9,
        "rvn" | "kas" | "kaspa" | "neox" | "clore" | "xna" | "nexa" | "zec" | "firo" | "flux" => 8,
        "xmr" | "monero" | "zeph" | "xhv" => 12,
        _ => return None,
    })
}

/// Checks the `[[miner]]` tables; `taken` holds the names already used.
pub(super) fn miners(
    raw: Vec<RawMiner>,
    taken: &mut Vec<String>,
    invalid: Invalid<'_>,
) -> Result<Vec<MinerJob>, ConfigError> {
    let mut out = Vec::with_capacity(raw.len());
    for m in raw {
        let kind = MinerKind::parse(m.kind.get_ref()).ok_or_else(|| {
            invalid(
                Some(m.kind.span()),
                format!(
                    "miner.kind: {:?} is not one of {}",
                    m.kind.get_ref(),
                    MinerKind::NAMES
                ),
            )
        })?;
        let name = m
            .name
            .unwrap_or_else(|| Spanned::new(m.kind.span(), kind.name().to_string()));
        check_name(&name, "miner", taken, invalid)?;
        let name = name.into_inner();
        let key = |k: &str| format!("miner {name:?}: {k}");
        let url = match (&m.url, kind.default_url()) {
            (Some(u), _) => check_url(u, &key("url"), kind.is_tcp(), invalid)?,
            (None, Some(d)) => d.to_string(),
            (None, None) => {
                return Err(invalid(
                    Some(m.kind.span()),
                    format!(
                        "{}: {} has no default API port; give its url",
                        key("url"),
                        kind.name()
                    ),
                ));
            }
        };
        let interval_ms = duration(
            &m.interval,
            &key("interval"),
            DEFAULT_MINER_INTERVAL_MS,
            invalid,
        )?;
        let timeout_ms = duration(
            &m.timeout,
            &key("timeout"),
            DEFAULT_MINER_TIMEOUT_MS,
            invalid,
        )?;
        out.push(MinerJob {
            name,
            kind,
            url,
            token: m.token.filter(|t| !t.is_empty()),
            interval_ms,
            timeout_ms,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::Config;
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("c.toml"))
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn defaults_per_kind() {
        let c = parse(
            r#"
[[pool]]
kind = "ethermine"
address = "0xabc"

[[pool]]
kind = "2miners"
coin = "ETC"
address = "0xabc"

[[pool]]
kind = "herominers"
name = "hero-kas"
coin = "kas"
address = "kaspa:qq"
interval = "10m"

[[miner]]
kind = "t-rex"

[[miner]]
kind = "teamredminer"

[[miner]]
kind = "xmrig"
url = "http://127.0.0.1:8080/"
token = "s3cret"
timeout = "2s"
"#,
        )
        .unwrap();
        let p = &c.pools;
        assert_eq!(p.len(), 3);
        assert_eq!(
            (p[0].name.as_str(), p[0].kind),
            ("ethermine", PoolKind::Ethermine)
        );
        assert_eq!(p[0].url, "https://api-etc.ethermine.org");
        assert_eq!(
            (p[0].coin.as_str(), p[0].decimals, p[0].interval_ms),
            ("etc", 18, 300_000)
        );
        assert_eq!(p[1].url, "https://etc.2miners.com");
        assert_eq!((p[1].coin.as_str(), p[1].decimals), ("etc", 9));
        assert_eq!(
            (p[2].name.as_str(), p[2].decimals, p[2].interval_ms),
            ("hero-kas", 8, 600_000)
        );
        assert_eq!(p[2].url, "https://kas.herominers.com");
        let m = &c.miners;
        assert_eq!(
            (m[0].name.as_str(), m[0].url.as_str()),
            ("trex", "http://127.0.0.1:4067")
        );
        assert_eq!(m[0].interval_ms, DEFAULT_MINER_INTERVAL_MS);
        assert_eq!(m[1].url, "tcp://127.0.0.1:4028");
        assert_eq!(m[2].url, "http://127.0.0.1:8080");
        assert_eq!(
            (m[2].token.as_deref(), m[2].timeout_ms),
            (Some("s3cret"), 2_000)
        );
    }

    #[test]
    fn rate_limits_are_enforced() {
        // 3 requests a run every 20 s = 135 per 15 minutes > 100.
        let e = err("[[pool]]\nkind = \"ethermine\"\naddress = \"0xabc\"\ninterval = \"20s\"\n");
        assert!(e.starts_with("c.toml:4:12: pool \"ethermine\": interval: 135 requests per 15 min, over the pool's limit of 100"), "{e}");
        // 30 s: 90 per 15 minutes, allowed.
        assert!(
            parse("[[pool]]\nkind = \"ethermine\"\naddress = \"0xabc\"\ninterval = \"30s\"\n")
                .is_ok()
        );
        let e = err("[[pool]]\nkind = \"nanopool\"\ncoin = \"etc\"\naddress = \"0xabc\"\ninterval = \"1s\"\n");
        assert!(
            e.contains("60 requests per 1 min, over the pool's limit of 30"),
            "{e}"
        );
    }

    #[test]
    fn mistakes_name_the_key() {
        let e = err("[[pool]]\nkind = \"slushpool\"\naddress = \"x\"\n");
        assert!(
            e.starts_with("c.toml:2:8: pool.kind: \"slushpool\" is not one of ethermine"),
            "{e}"
        );
        let e = err("[[pool]]\nkind = \"nanopool\"\naddress = \"0xabc\"\n");
        assert!(e.contains("pool \"nanopool\": coin: name the coin"), "{e}");
        let e = err("[[pool]]\nkind = \"herominers\"\ncoin = \"doge\"\naddress = \"D1\"\n");
        assert!(e.contains("decimals: the atomic units of \"doge\""), "{e}");
        let e = err("[[pool]]\nkind = \"ethermine\"\naddress = \"0xabc/../x\"\n");
        assert!(
            e.contains("c.toml:3:11: pool \"ethermine\": address"),
            "{e}"
        );
        let e = err("[[pool]]\nkind = \"ethermine\"\naddress = \"a\"\nadress = \"b\"\n");
        assert!(e.contains(":4:1: ") && e.contains("adress"), "{e}");
        let e = err("[[miner]]\nkind = \"gminer\"\n");
        assert!(
            e.contains("miner \"gminer\": url: gminer has no default API port"),
            "{e}"
        );
        let e = err("[[miner]]\nkind = \"cgminer\"\nurl = \"http://127.0.0.1:4028\"\n");
        assert!(e.contains("is not a tcp://host:port address"), "{e}");
        let e = err("[[miner]]\nkind = \"lolminer\"\nurl = \"127.0.0.1:8020\"\n");
        assert!(e.contains("is not an http:// or https:// URL"), "{e}");
        let twice = "[[miner]]\nkind = \"t-rex\"\n";
        assert!(err(&format!("{twice}{twice}")).contains("miner.name: \"trex\" is used by another"));
        let e = err(
            "[[job]]\nname = \"trex\"\ntargets = [\"http://a/\"]\n[[miner]]\nkind = \"trex\"\n",
        );
        assert!(e.contains(":5:8: miner.name: \"trex\" is used"), "{e}");
        assert!(err("[[miner]]\nkind = \"trex\"\nname = \"nvml\"\n").contains("GPUs' own job name"));
    }
}
