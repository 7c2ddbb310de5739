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
//! - Any status outside 200..=299 is an error.

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
