//! `--web.config.file`: Prometheus' web configuration file (the
//! exporter-toolkit format, <https://prometheus.io/docs/prometheus/latest/configuration/https/>),
//! so `serve` can face a LAN with TLS and basic auth:
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: serve.crt       # PEM; relative to this file's directory
//!   key_file: serve.key
//!   min_version: TLS12         # or TLS13
//! basic_auth_users:
//!   grafana: $2y$10$...        # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\n')
//! ```
//!
//! Client certificates are verified against `client_ca_file` with
//! `client_auth_type: RequireAndVerifyClientCert` (or
//! `VerifyClientCertIfGiven`). What Prometheus accepts and `serve` does
//! not (unverified client certificates, allowed SANs, cipher and curve
//! lists, inline PEM, extra response headers) is an error naming the
//! key, never silently ignored: a config that looks stricter than what is
//! enforced is worse than one refused. Unknown keys are errors with the
//! file and line, as in Prometheus (which parses with `UnmarshalStrict`).

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

/// The file as written. Every key Prometheus documents is named, so an
/// unsupported one gets its own message rather than "unknown field".
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    tls_server_config: Option<RawTls>,
    http_server_config: Option<RawHttp>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<String>,
    key_file: Option<String>,
    cert: Option<String>,
    key: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    client_ca: Option<String>,
    client_allowed_sans: Option<Vec<String>>,
    cipher_suites: Option<Vec<String>>,
    curve_preferences: Option<Vec<String>>,
    min_version: Option<String>,
    max_version: Option<String>,
    prefer_server_cipher_suites: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    /// A preference; serve speaks HTTP/1.1 only, which every client
    /// falls back to, so it is accepted and has no effect.
    #[allow(dead_code, reason = "accepted so Prometheus' files load; no effect")]
    http2: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
}

/// A problem with the file, located as precisely as known.
#[derive(Debug)]
pub struct WebConfigError {
    path: PathBuf,
    line: Option<usize>,
    message: String,
}

impl fmt::Display for WebConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for WebConfigError {}

/// What the file resolves to.
pub struct WebConfig {
    /// The TLS server settings, when `tls_server_config` is present.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// `basic_auth_users`, when not empty.
    pub basic_auth: Option<BasicAuth>,
}

impl WebConfig {
    /// Reads and checks `path`, loading the certificate and key it names.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| WebConfigError {
            path: path.to_path_buf(),
            line: None,
            message: format!("reading: {e}"),
        })?;
        WebConfig::parse(&text, path)
    }

    /// Checks `text`; `path` names the file in errors and anchors relative
    /// `cert_file` and `key_file` paths (as exporter-toolkit does).
    pub fn parse(text: &str, path: &Path) -> Result<WebConfig, WebConfigError> {
        let err = |line: Option<usize>, message: String| WebConfigError {
            path: path.to_path_buf(),
            line,
            message,
        };
        // An empty file is an empty config (serde_norway calls it an error).
        let raw: RawFile = if text.trim().is_empty() {
            RawFile::default()
        } else {
            serde_norway::from_str(text).map_err(|e| {
                let line = e.location().map(|l| l.line());
                // serde_norway appends " at line L column C"; the prefix says it.
                let msg = e.to_string();
                let msg = match msg.rfind(" at line ") {
                    Some(i) if line.is_some() => msg.get(..i).unwrap_or(&msg).to_string(),
                    _ => msg,
                };
                err(line, msg)
            })?
        };
        let at = |key: &str| line_of(text, key);
        let unsupported = |key: &str, why: &str| err(at(key), format!("{key}: {why}"));
        if let Some(h) = &raw.http_server_config {
            if h.headers.as_ref().is_some_and(|h| !h.is_empty()) {
                return Err(unsupported("headers", "not supported by minetsdb serve"));
            }
        }
        let mut users = BTreeMap::new();
        for (user, hash) in raw.basic_auth_users {
            if user.contains(':') {
                return Err(err(
                    at(&user),
                    format!("basic_auth_users: user name {user:?} contains ':'"),
                ));
            }
            if hash.parse::<bcrypt::HashParts>().is_err() {
                return Err(err(
                    at(&user),
                    format!("basic_auth_users: {user:?}: not a bcrypt hash (want $2y$..., as `htpasswd -nB` makes)"),
                ));
            }
            users.insert(user, hash);
        }
        let tls = match raw.tls_server_config {
            None => None,
            Some(t) => Some(tls_config(t, text, path)?),
        };
        Ok(WebConfig {
            tls,
            basic_auth: (!users.is_empty()).then(|| BasicAuth::new(users)),
        })
    }
}

fn tls_config(
    t: RawTls,
    text: &str,
    path: &Path,
) -> Result<Arc<rustls::ServerConfig>, WebConfigError> {
    let err = |key: &str, message: String| WebConfigError {
        path: path.to_path_buf(),
        line: line_of(text, key),
        message,
    };
    // Client certificates: the two verifying modes. RequestClientCert and
    // RequireAnyClientCert accept certificates nobody checked, which is
    // no authentication at all: refused.
    let verify_client = match t.client_auth_type.as_deref() {
        None | Some("NoClientCert") => None,
        Some("RequireAndVerifyClientCert") => Some(true),
        Some("VerifyClientCertIfGiven") => Some(false),
        Some(other) => {
            return Err(err(
                "client_auth_type",
                format!(
                    "client_auth_type {other:?}: minetsdb serve supports NoClientCert, \
                     RequireAndVerifyClientCert and VerifyClientCertIfGiven"
                ),
            ))
        }
    };
    if verify_client.is_some() != t.client_ca_file.is_some() {
        return Err(err(
            "client_ca_file",
            "client_ca_file goes with client_auth_type RequireAndVerifyClientCert or \
             VerifyClientCertIfGiven, and they with it"
                .into(),
        ));
    }
    for (key, set) in [
        ("client_ca", t.client_ca.is_some()),
        ("client_allowed_sans", t.client_allowed_sans.is_some()),
        ("cipher_suites", t.cipher_suites.is_some()),
        ("curve_preferences", t.curve_preferences.is_some()),
        ("cert", t.cert.is_some()),
        ("key", t.key.is_some()),
    ] {
        if set {
            return Err(err(
                key,
                format!("{key}: not supported by minetsdb serve (rustls' defaults apply; give cert_file and key_file)"),
            ));
        }
    }
    // prefer_server_cipher_suites: rustls always prefers the server's order.
    let _ = t.prefer_server_cipher_suites;
    let version = |key: &str, v: &Option<String>, default: u8| match v.as_deref() {
        None => Ok(default),
        Some("TLS12") => Ok(12),
        Some("TLS13") => Ok(13),
        Some(o @ ("TLS10" | "TLS11")) => Err(err(
            key,
            format!("{key} {o}: TLS 1.0 and 1.1 are not supported (rustls); use TLS12 or TLS13"),
        )),
        Some(o) => Err(err(key, format!("{key} {o:?}: want TLS12 or TLS13"))),
    };
    let min = version("min_version", &t.min_version, 12)?;
    let max = version("max_version", &t.max_version, 13)?;
    if min > max {
        return Err(err(
            "max_version",
            "max_version is below min_version".into(),
        ));
    }
    let dir = path.parent().unwrap_or(Path::new(""));
    let file = |key: &str, v: &Option<String>| match v {
        Some(f) if !f.is_empty() => Ok(dir.join(f)),
        _ => Err(err(
            "tls_server_config",
            format!("tls_server_config: {key} is required"),
        )),
    };
    let cert_file = file("cert_file", &t.cert_file)?;
    let key_file = file("key_file", &t.key_file)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_file)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            err(
                "cert_file",
                format!("cert_file {}: {e}", cert_file.display()),
            )
        })?;
    if certs.is_empty() {
        return Err(err(
            "cert_file",
            format!(
                "cert_file {}: no PEM certificate in it",
                cert_file.display()
            ),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&key_file)
        .map_err(|e| err("key_file", format!("key_file {}: {e}", key_file.display())))?;
    let versions: &[&'static rustls::SupportedProtocolVersion] = match (min, max) {
        (13, _) => &[&rustls::version::TLS13],
        (_, 12) => &[&rustls::version::TLS12],
        _ => &[&rustls::version::TLS13, &rustls::version::TLS12],
    };
    // ring, the provider ureq's rustls already uses in this build.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| err("min_version", format!("TLS versions: {e}")))?;
    let builder = match (verify_client, &t.client_ca_file) {
        (Some(required), Some(ca)) => {
            let ca_file = dir.join(ca);
            let bad = |e: String| {
                err(
                    "client_ca_file",
                    format!("client_ca_file {}: {e}", ca_file.display()),
                )
            };
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(&ca_file).map_err(|e| bad(e.to_string()))? {
                roots
                    .add(c.map_err(|e| bad(e.to_string()))?)
                    .map_err(|e| bad(e.to_string()))?;
            }
            if roots.is_empty() {
                return Err(bad("no PEM certificate in it".into()));
            }
            let v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            );
            let v = if required {
                v
            } else {
                v.allow_unauthenticated()
            };
            builder.with_client_cert_verifier(v.build().map_err(|e| bad(e.to_string()))?)
        }
        _ => builder.with_no_client_auth(),
    };
    let mut cfg = builder.with_single_cert(certs, key).map_err(|e| {
        err(
            "key_file",
            format!(
                "cert_file {} with key_file {}: {e}",
                cert_file.display(),
                key_file.display()
            ),
        )
    })?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// The 1-based line where `key:` first appears as a key, for errors that
/// serde cannot place (it reports positions of syntax errors only).
fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start().trim_start_matches("- ");
            let l = l
                .strip_prefix('"')
                .and_then(|r| r.strip_prefix(key))
                .and_then(|r| r.strip_prefix('"'))
                .or_else(|| l.strip_prefix(key));
            l.is_some_and(|r| r.trim_start().starts_with(':'))
        })
        .map(|i| i + 1)
}

/// Most verified credentials remembered; beyond, the cache starts over.
const CACHE_MAX: usize = 1024;

/// `basic_auth_users`, and the credentials already verified.
///
/// bcrypt is slow on purpose (tens of milliseconds at cost 10), and
/// Grafana sends the same header with every request of a dashboard, so a
/// header that verified once is remembered, as Prometheus does. The cache
/// holds SHA-256 digests of whole `Authorization` values, never a
/// password; a lookup's timing can only tell about digests, which say
/// nothing of the secret. Failed checks are not remembered.
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    /// A hash of a password nobody has, at the users' cost, checked when
    /// the user is unknown so that response times do not tell which exist.
    dummy: String,
    verified: Mutex<HashSet<[u8; 32]>>,
}

impl BasicAuth {
    fn new(users: BTreeMap<String, String>) -> BasicAuth {
        let cost = users
            .values()
            .filter_map(|h| h.parse::<bcrypt::HashParts>().ok())
            .map(|p| p.get_cost())
            .max()
            .unwrap_or(bcrypt::DEFAULT_COST);
        let dummy = bcrypt::hash_with_salt(b"", cost, [0x5a; 16])
            .map(|h| h.to_string())
            .unwrap_or_default();
        BasicAuth {
            users,
            dummy,
            verified: Mutex::new(HashSet::new()),
        }
    }

    /// Whether `header` (an `Authorization` value) is `Basic` with a
    /// listed user and that user's password.
    pub fn check(&self, header: &str) -> bool {
        let header = header.trim();
        let digest: [u8; 32] = {
            let d = ring::digest::digest(&ring::digest::SHA256, header.as_bytes());
            let mut a = [0u8; 32];
            a.copy_from_slice(d.as_ref());
            a
        };
        let lock = || self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if lock().contains(&digest) {
            return true;
        }
        let Some((user, pass)) = decode_basic(header) else {
            return false;
        };
        let (hash, known) = match self.users.get(&user) {
            Some(h) => (h.as_str(), true),
            None => (self.dummy.as_str(), false),
        };
        // bcrypt's verify compares the hashes in constant time.
        let ok = bcrypt::verify(pass.as_bytes(), hash).unwrap_or(false) && known;
        if ok {
            let mut v = lock();
            if v.len() >= CACHE_MAX {
                v.clear();
            }
            v.insert(digest);
        }
        ok
    }
}

/// `Basic base64(user:pass)` to (user, pass).
fn decode_basic(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<WebConfig, String> {
        WebConfig::parse(text, Path::new("/etc/web.yml")).map_err(|e| e.to_string())
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse("basic_auth_users:\n  a: x\n")
            .err()
            .unwrap_or_default();
        assert!(e.starts_with("/etc/web.yml:2: "), "{e}");
        let e = parse("tls_server_config:\n  cert_file: a\n  bogus: 1\n")
            .err()
            .unwrap_or_default();
        assert!(
            e.starts_with("/etc/web.yml:3") && e.contains("bogus"),
            "{e}"
        );
        let e = parse("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAnyClientCert\n")
            .err()
            .unwrap_or_default();
        assert!(e.starts_with("/etc/web.yml:4: client_auth_type"), "{e}");
        let e = parse("tls_server_config:\n  cert_file: nope.crt\n  key_file: b\n")
            .err()
            .unwrap_or_default();
        assert!(e.contains("/etc/nope.crt"), "{e}");
        assert!(parse("").is_ok_and(|c| c.tls.is_none() && c.basic_auth.is_none()));
    }

    #[test]
    fn basic_auth_checks_and_caches() {
        let hash = bcrypt::hash_with_salt("s3cret", 4, [7u8; 16])
            .map(|h| h.to_string())
            .unwrap_or_default();
        let c = parse(&format!("basic_auth_users:\n  grafana: {hash}\n"));
        let Ok(WebConfig {
            basic_auth: Some(a),
            ..
        }) = c
        else {
            panic!("config did not parse");
        };
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let good = format!("Basic {}", b64("grafana:s3cret"));
        assert!(a.check(&good));
        assert!(a.check(&good), "cached");
        assert!(!a.check(&format!("Basic {}", b64("grafana:wrong"))));
        assert!(!a.check(&format!("Basic {}", b64("other:s3cret"))));
        assert!(!a.check("Bearer s3cret"));
        assert!(!a.check("Basic !!!"));
    }
}
