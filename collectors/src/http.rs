//! The one HTTP client of every source (pools, miners, exporters): the only
//! place with timeouts and size caps.
//!
//! [`HttpClient::get`] fetches one URL whole into memory under two bounds:
//! - an **overall deadline** for the whole request, from name lookup to the
//!   last byte of the body ([`HttpOptions::deadline`]). A per-read timeout
//!   is not enough: a server that drips one byte a second never trips one
//!   and would hold the collector forever.
//! - a **cap on the body size counted after decompression**
//!   ([`HttpOptions::max_body_bytes`]), so a small gzip body that inflates
//!   to gigabytes (a gzip bomb) fails once the decoded bytes pass the cap,
//!   without ever holding more than the cap in memory.
//!
//! Every [`HttpError`] names the URL and what went wrong, in one line.
//!
//! Decisions:
//! - Only `http://` and `https://`; TLS is rustls with the bundled
//!   webpki roots (no system OpenSSL needed).
//! - `Accept-Encoding: gzip` is sent and gzip bodies are decoded.
//! - Proxies from the environment (`HTTP_PROXY`...) are ignored, as
//!   Prometheus does by default: exporters and miners sit on the local
//!   network, and a proxy variable set for a browser should not reroute them.
//! - Redirects are followed (at most 5), within the same deadline.
//! - Any status outside 200..=299 is an error; 429 Too Many Requests is
//!   its own [`HttpError::RateLimited`], carrying the `Retry-After` wait
//!   (seconds or an HTTP date) so a pool's rate limit can be honoured.

use std::io;
use std::time::Duration;

/// Bounds and identity for every request of a [`HttpClient`].
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// The whole request, body included, must finish within this.
    pub deadline: Duration,
    /// The largest body accepted, in bytes after decompression.
    pub max_body_bytes: u64,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for HttpOptions {
    /// 10 s, 16 MiB, `minetsdb/<version>`.
    fn default() -> Self {
        HttpOptions {
            deadline: Duration::from_secs(10),
            max_body_bytes: 16 << 20,
            user_agent: concat!("minetsdb/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// A successful (2xx) response, read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status, 200..=299.
    pub status: u16,
    /// The `Content-Type` header, empty when there was none.
    pub content_type: String,
    /// The body, decompressed.
    pub body: Vec<u8>,
}

/// Why a request failed. Each message names the URL first.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL is not `http://` or `https://`, or does not parse.
    #[error("{url}: not an http:// or https:// URL{}", detail(what))]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What the URL parser said, if anything.
        what: String,
    },
    /// The request did not finish within the deadline.
    #[error("{url}: timed out after {} s", fmt_secs(*deadline))]
    Timeout {
        /// The URL.
        url: String,
        /// The deadline that passed.
        deadline: Duration,
    },
    /// The body, decompressed, was larger than the cap.
    #[error("{url}: response body larger than {limit} bytes (after decompression)")]
    TooLarge {
        /// The URL.
        url: String,
        /// The cap, [`HttpOptions::max_body_bytes`].
        limit: u64,
    },
    /// The server answered with a status outside 200..=299.
    #[error("{url}: HTTP status {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// The server answered 429 Too Many Requests.
    #[error("{url}: HTTP status 429 (rate limited{})", retry_after.map(|d| format!(", Retry-After {} s", fmt_secs(d))).unwrap_or_default())]
    RateLimited {
        /// The URL.
        url: String,
        /// How long the server asked to wait (`Retry-After`), when it said
        /// so in a form understood (delta-seconds or an IMF-fixdate).
        retry_after: Option<Duration>,
    },
    /// No connection could be made (refused, unreachable, unknown host).
    #[error("{url}: cannot connect: {what}")]
    Connect {
        /// The URL.
        url: String,
        /// Why.
        what: String,
    },
    /// Anything else: a protocol error, a broken gzip stream, a reset.
    #[error("{url}: {what}")]
    Other {
        /// The URL.
        url: String,
        /// What went wrong.
        what: String,
    },
}

impl HttpError {
    /// The URL the failed request was for.
    pub fn url(&self) -> &str {
        match self {
            HttpError::BadUrl { url, .. }
            | HttpError::Timeout { url, .. }
            | HttpError::TooLarge { url, .. }
            | HttpError::Status { url, .. }
            | HttpError::RateLimited { url, .. }
            | HttpError::Connect { url, .. }
            | HttpError::Other { url, .. } => url,
        }
    }
}

fn detail(what: &str) -> String {
    if what.is_empty() {
        String::new()
    } else {
        format!(" ({what})")
    }
}

fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s}")
    }
}

/// A synchronous HTTP client with an overall deadline and a body cap per
/// request. Cheap to share by reference; connections are kept alive and
/// reused between requests to the same host.
#[derive(Debug, Clone)]
pub struct HttpClient {
    agent: ureq::Agent,
    opts: HttpOptions,
}

impl Default for HttpClient {
    fn default() -> Self {
        HttpClient::new(HttpOptions::default())
    }
}

impl HttpClient {
    /// A client whose every request is bounded by `opts`.
    pub fn new(opts: HttpOptions) -> HttpClient {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(opts.deadline))
            // Statuses are checked here, so the error can name them and the URL.
            .http_status_as_error(false)
            .user_agent(opts.user_agent.as_str())
            .proxy(None)
            .max_redirects(5)
            .build()
            .new_agent();
        HttpClient { agent, opts }
    }

    /// The bounds this client applies.
    pub fn options(&self) -> &HttpOptions {
        &self.opts
    }

    /// GETs `url` with the given `Accept` header and reads the whole body.
    pub fn get(&self, url: &str, accept: &str) -> Result<Response, HttpError> {
        self.get_with(url, accept, &[])
    }

    /// [`HttpClient::get`] with more request headers (`Authorization`...).
    pub fn get_with(
        &self,
        url: &str,
        accept: &str,
        headers: &[(&str, String)],
    ) -> Result<Response, HttpError> {
        check_scheme(url)?;
        let mut req = self.agent.get(url).header("Accept", accept);
        for (n, v) in headers {
            req = req.header(*n, v.as_str());
        }
        let resp = req.call().map_err(|e| self.error(url, e))?;
        let status = resp.status().as_u16();
        if status == 429 {
            let now = std::time::SystemTime::now();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, now));
            return Err(HttpError::RateLimited {
                url: url.to_string(),
                retry_after,
            });
        }
        if !(200..=299).contains(&status) {
            return Err(HttpError::Status {
                url: url.to_string(),
                status,
            });
        }
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        // `limit` counts the bytes handed out after gzip decoding, so it is
        // the decompressed size that is capped. Reading goes on under the
        // same global deadline as the headers.
        let body = resp
            .into_body()
            .into_with_config()
            .limit(self.opts.max_body_bytes)
            .read_to_vec()
            .map_err(|e| self.error(url, e))?;
        Ok(Response {
            status,
            content_type,
            body,
        })
    }

    fn error(&self, url: &str, e: ureq::Error) -> HttpError {
        let url = url.to_string();
        match e {
            ureq::Error::Timeout(_) => HttpError::Timeout {
                url,
                deadline: self.opts.deadline,
            },
            ureq::Error::BodyExceedsLimit(_) => HttpError::TooLarge {
                url,
                limit: self.opts.max_body_bytes,
            },
            ureq::Error::StatusCode(status) => HttpError::Status { url, status },
            ureq::Error::BadUri(what) => HttpError::BadUrl { url, what },
            ureq::Error::HostNotFound => HttpError::Connect {
                url,
                what: "host not found".into(),
            },
            ureq::Error::ConnectionFailed => HttpError::Connect {
                url,
                what: "connection failed".into(),
            },
            ureq::Error::Io(io) if is_connect(&io) => HttpError::Connect {
                url,
                what: io.to_string(),
            },
            ureq::Error::Io(io) if io.kind() == io::ErrorKind::TimedOut => HttpError::Timeout {
                url,
                deadline: self.opts.deadline,
            },
            e => HttpError::Other {
                url,
                what: e.to_string(),
            },
        }
    }
}

fn is_connect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::AddrNotAvailable
    )
}

/// A `Retry-After` value as a wait from `now`: delta-seconds (`120`) or an
/// IMF-fixdate (`Wed, 21 Oct 2015 07:28:00 GMT`, RFC 9110 section 10.2.3);
/// a date already past is a zero wait. `None` for anything else.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = parse_imf_fixdate(value)?;
    let now = now.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
    Some(Duration::from_secs(at.saturating_sub(now).max(0) as u64))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` -> Unix seconds.
fn parse_imf_fixdate(s: &str) -> Option<i64> {
    let mut parts = s.split_ascii_whitespace();
    let _weekday = parts.next()?.strip_suffix(',')?;
    let day: i64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next()??);
    if parts.next()? != "GMT" || parts.next().is_some() || hms.next().is_some() {
        return None;
    }
    if !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm), proleptic Gregorian.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + m * 60 + sec)
}

fn check_scheme(url: &str) -> Result<(), HttpError> {
    let scheme = url.split_once("://").map(|(s, _)| s);
    match scheme {
        Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => Ok(()),
        _ => Err(HttpError::BadUrl {
            url: url.to_string(),
            what: String::new(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        assert!(check_scheme("http://a/").is_ok());
        assert!(check_scheme("HTTPS://a/").is_ok());
        for bad in ["ftp://a/", "file:///etc/passwd", "a:9100/metrics", ""] {
            let e = check_scheme(bad).unwrap_err();
            assert!(e.to_string().starts_with(bad), "{e}");
        }
    }

    #[test]
    fn retry_after_forms() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_445_412_400); // 2015-10-21 07:26:40 GMT
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(80))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_imf_fixdate("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_imf_fixdate("Tue, 29 Feb 2000 12:00:00 GMT"),
            Some(951_825_600)
        );
        for bad in [
            "",
            "-5",
            "1.5",
            "soon",
            "Wed, 21 Oct 2015 07:28:00 CET",
            "21 Oct 2015",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
        let e = HttpError::RateLimited {
            url: "http://x/".into(),
            retry_after: Some(Duration::from_secs(90)),
        };
        assert_eq!(
            e.to_string(),
            "http://x/: HTTP status 429 (rate limited, Retry-After 90 s)"
        );
    }

    #[test]
    fn messages() {
        let e = HttpError::Timeout {
            url: "http://x/".into(),
            deadline: Duration::from_millis(1500),
        };
        assert_eq!(e.to_string(), "http://x/: timed out after 1.5 s");
        let e = HttpError::Timeout {
            url: "http://x/".into(),
            deadline: Duration::from_secs(10),
        };
        assert_eq!(e.to_string(), "http://x/: timed out after 10 s");
        let e = HttpError::Status {
            url: "http://x/".into(),
            status: 503,
        };
        assert_eq!(e.to_string(), "http://x/: HTTP status 503");
        assert_eq!(e.url(), "http://x/");
    }
}
