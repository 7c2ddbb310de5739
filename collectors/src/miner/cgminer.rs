//! The cgminer/sgminer API over TCP, spoken by TeamRedMiner (`--api_listen`,
//! default port 4028) and other miners.
//!
//! Protocol (cgminer's `API-README`): connect, send one JSON request
//! `{"command":"summary"}`, read the JSON reply until the server closes the
//! connection (some servers end it with a NUL byte), one connection per
//! command. Every reply has `STATUS: [{"STATUS": "S"|"I"|"W"|"E"|"F",
//! "Msg": ...}]`; `E` and `F` are errors. `summary` gives `SUMMARY[0]`,
//! `devs` gives `DEVS[]`, one per GPU (`GPU` index, `MHS 30s`/`MHS av`,
//! `Accepted`, `Rejected`, `Hardware Errors`, `Temperature`,
//! `Fan Percent`). TeamRedMiner reports no PCI address here, so GPU series
//! carry the index (`gpu`) only.
//!
//! The whole exchange (connect, write, read) runs under one deadline, and
//! the reply under a 1 MiB cap, as HTTP sources do.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use super::{GpuStats, MinerStats};
use crate::api::{self, ApiError};

/// The largest reply accepted.
pub const MAX_REPLY_BYTES: u64 = 1 << 20;

/// One element of `STATUS`.
#[derive(Debug, Clone, Deserialize)]
pub struct Status {
    /// `S`uccess, `I`nfo, `W`arning, `E`rror, `F`atal.
    #[serde(rename = "STATUS")]
    pub status: String,
    /// The message.
    #[serde(rename = "Msg")]
    pub msg: Option<String>,
}

/// `SUMMARY[0]`.
#[derive(Debug, Clone, Deserialize)]
pub struct Summary {
    /// Seconds since start.
    #[serde(rename = "Elapsed")]
    pub elapsed: f64,
    /// Average MH/s since start.
    #[serde(rename = "MHS av")]
    pub mhs_av: Option<f64>,
    /// MH/s over 30 s.
    #[serde(rename = "MHS 30s")]
    pub mhs_30s: Option<f64>,
    /// Accepted shares.
    #[serde(rename = "Accepted")]
    pub accepted: f64,
    /// Rejected shares.
    #[serde(rename = "Rejected")]
    pub rejected: f64,
    /// Stale shares.
    #[serde(rename = "Stale")]
    pub stale: Option<f64>,
    /// Hardware errors.
    #[serde(rename = "Hardware Errors")]
    pub hardware_errors: Option<f64>,
}

/// One of `DEVS`.
#[derive(Debug, Clone, Deserialize)]
pub struct Dev {
    /// GPU index.
    #[serde(rename = "GPU")]
    pub gpu: u32,
    /// Average MH/s since start.
    #[serde(rename = "MHS av")]
    pub mhs_av: Option<f64>,
    /// MH/s over 30 s.
    #[serde(rename = "MHS 30s")]
    pub mhs_30s: Option<f64>,
    /// Accepted shares.
    #[serde(rename = "Accepted")]
    pub accepted: f64,
    /// Rejected shares.
    #[serde(rename = "Rejected")]
    pub rejected: f64,
    /// Hardware errors.
    #[serde(rename = "Hardware Errors")]
    pub hardware_errors: Option<f64>,
    /// GPU temperature, °C.
    #[serde(rename = "Temperature")]
    pub temperature: Option<f64>,
    /// Fan speed, %.
    #[serde(rename = "Fan Percent")]
    pub fan_percent: Option<f64>,
}

/// Checks `STATUS` and decodes the member `key` (`SUMMARY`, `DEVS`).
pub fn section<T: serde::de::DeserializeOwned>(
    url: &str,
    v: &Value,
    key: &str,
) -> Result<Vec<T>, ApiError> {
    let status: Vec<Status> = api::decode(url, v.get("STATUS").unwrap_or(&Value::Null), "STATUS")?;
    if let Some(bad) = status.iter().find(|s| s.status == "E" || s.status == "F") {
        return Err(ApiError::Refused {
            url: url.to_string(),
            message: bad
                .msg
                .clone()
                .unwrap_or_else(|| format!("STATUS {}", bad.status)),
        });
    }
    api::decode(url, v.get(key).unwrap_or(&Value::Null), key)
}

/// The conversion of a `summary` and a `devs` reply.
pub fn to_stats(summary: Option<&Summary>, devs: &[Dev]) -> MinerStats {
    let mhs = |m30: Option<f64>, av: Option<f64>| m30.or(av).map(|m| m * 1e6);
    MinerStats {
        gpus: devs
            .iter()
            .map(|d| GpuStats {
                index: Some(d.gpu),
                hashrate_hs: mhs(d.mhs_30s, d.mhs_av),
                accepted: Some(d.accepted),
                rejected: Some(d.rejected),
                invalid: d.hardware_errors,
                temperature_c: d.temperature,
                fan_ratio: d.fan_percent.map(|f| f / 100.0),
                ..GpuStats::default()
            })
            .collect(),
        hashrate_hs: summary.and_then(|s| mhs(s.mhs_30s, s.mhs_av)),
        accepted: summary.map(|s| s.accepted),
        rejected: summary.map(|s| s.rejected),
        stale: summary.and_then(|s| s.stale),
        invalid: summary.and_then(|s| s.hardware_errors),
        uptime_s: summary.map(|s| s.elapsed),
    }
}

/// Sends `command` to `addr` (`host:port`) and returns the parsed reply,
/// all within `deadline`.
pub fn command(addr: &str, command: &str, deadline: Duration) -> Result<Value, ApiError> {
    let url = format!("tcp://{addr}");
    let err = |what: String| ApiError::Tcp {
        url: url.clone(),
        what,
    };
    let end = Instant::now() + deadline;
    let left = || {
        end.checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    };
    let timed_out = || err(format!("timed out after {} s", deadline.as_secs_f64()));
    let addrs: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|e| err(format!("cannot resolve: {e}")))?
        .collect();
    let mut stream = None;
    let mut last = String::from("no address");
    for a in addrs {
        let Some(d) = left() else {
            return Err(timed_out());
        };
        match TcpStream::connect_timeout(&a, d) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = e.to_string(),
        }
    }
    let mut stream = stream.ok_or_else(|| err(format!("cannot connect: {last}")))?;
    let request = serde_json::json!({ "command": command }).to_string();
    stream
        .set_write_timeout(left())
        .and_then(|_| stream.write_all(request.as_bytes()))
        .map_err(|e| err(format!("sending {command:?}: {e}")))?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let Some(d) = left() else {
            return Err(timed_out());
        };
        stream
            .set_read_timeout(Some(d))
            .map_err(|e| err(e.to_string()))?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let chunk = buf.get(..n).unwrap_or_default();
                let done = chunk.contains(&0);
                reply.extend(chunk.iter().take_while(|b| **b != 0));
                if reply.len() as u64 > MAX_REPLY_BYTES {
                    return Err(err(format!("reply larger than {MAX_REPLY_BYTES} bytes")));
                }
                if done {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(timed_out());
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(err(format!("reading the reply to {command:?}: {e}"))),
        }
    }
    api::parse(&format!("{url} {command}"), &reply)
}

/// `summary` then `devs`, one connection each, within `deadline` each.
pub fn read(url: &str, deadline: Duration) -> Result<MinerStats, ApiError> {
    let addr = url.strip_prefix("tcp://").unwrap_or(url);
    let s = command(addr, "summary", deadline)?;
    let summary: Vec<Summary> = section(&format!("{url} summary"), &s, "SUMMARY")?;
    let d = command(addr, "devs", deadline)?;
    let devs: Vec<Dev> = section(&format!("{url} devs"), &d, "DEVS")?;
    Ok(to_stats(summary.first(), &devs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::miner::tests::value;

    const SUMMARY: &str = include_str!("../../tests/fixtures/miners/teamredminer_summary.json");
    const DEVS: &str = include_str!("../../tests/fixtures/miners/teamredminer_devs.json");
    const U: &str = "tcp://127.0.0.1:4028 devs";

    #[test]
    fn fixtures_to_samples() {
        let s: Vec<Summary> =
            section(U, &api::parse(U, SUMMARY.as_bytes()).unwrap(), "SUMMARY").unwrap();
        let d: Vec<Dev> = section(U, &api::parse(U, DEVS.as_bytes()).unwrap(), "DEVS").unwrap();
        let got = to_stats(s.first(), &d).samples(1, "rig2", "teamredminer");
        assert_eq!(
            value(&got, "miner_hashrate_hashes_per_second", Some("0")),
            Some(62.154e6)
        );
        assert_eq!(
            value(&got, "miner_hashrate_hashes_per_second", Some("1")),
            Some(61.02e6)
        );
        assert_eq!(
            value(&got, "miner_shares_accepted_total", Some("1")),
            Some(398.0)
        );
        assert_eq!(
            value(&got, "miner_shares_invalid_total", Some("0")),
            Some(0.0)
        );
        assert_eq!(
            value(&got, "miner_temperature_celsius", Some("0")),
            Some(58.0)
        );
        assert_eq!(value(&got, "miner_fan_speed_ratio", Some("1")), Some(0.55));
        assert_eq!(
            value(&got, "miner_rig_hashrate_hashes_per_second", None),
            Some(123.174e6)
        );
        assert_eq!(value(&got, "miner_rig_shares_stale_total", None), Some(4.0));
        assert_eq!(value(&got, "miner_uptime_seconds", None), Some(8123.0));
    }

    #[test]
    fn error_status_and_bad_fields() {
        let v = api::parse(U, br#"{"STATUS":[{"STATUS":"E","When":1700000000,"Code":14,"Msg":"Invalid command","Description":"TeamRedMiner 0.10.21"}],"id":1}"#).unwrap();
        let e = section::<Dev>(U, &v, "DEVS").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{U}: the API reported an error: Invalid command")
        );
        let wrong = DEVS.replace("\"Accepted\": 398", "\"Accepted\": \"398\"");
        let e = section::<Dev>(U, &api::parse(U, wrong.as_bytes()).unwrap(), "DEVS").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{U}: DEVS[1].Accepted: invalid type: string \"398\", expected f64")
        );
    }
}
