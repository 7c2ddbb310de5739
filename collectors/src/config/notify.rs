//! `[[notify]]`: where alert notifications go. Each table is one receiver,
//! either a command or an Alertmanager-compatible webhook:
//!
//! ```toml
//! [[notify]]
//! command = ["/usr/local/bin/page-me", "--rig", "rig1"]   # argv, no shell
//! timeout = "10s"            # kill it (and its process group) past this [default: 10s]
//! repeat_interval = "4h"     # run again while still firing [default: 4h]
//! send_resolved = true       # run it when the alert resolves too [default: true]
//! severity = "critical"      # only alerts at least this severe: warning or critical [default: all]
//! match = { instance = "rig1" }   # only alerts with these label values [default: all]
//!
//! [[notify]]
//! webhook = "http://127.0.0.1:9093"   # Alertmanager: POSTs to <base>/api/v2/alerts
//! timeout = "10s"            # the whole request [default: 10s]
//! send_resolved = true
//! basic_auth = { username = "u", password_file = "pw.txt" }   # or password = "..."
//! # bearer_token = "..." or bearer_token_file = "token.txt" (not with basic_auth)
//! ```
//!
//! `name` (optional) names a receiver in messages and in the delivery state
//! kept under `<db>/notify/`; it defaults to the webhook URL or the command
//! line, so renaming a receiver or editing its command starts its state
//! afresh. Names must be unique. `repeat_interval` is for commands only: an
//! Alertmanager repeats notifications itself (its route's
//! `repeat_interval`), and gets every firing alert again each minute.
//! What a command receives is described in [`crate::alerts::notify`].

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::thresholds::Invalid;
use super::{parse_auth, ConfigError, RawBasicAuth, Severity, DEFAULT_TIMEOUT_MS};
use crate::duration::parse_ms;
use crate::scrape::Auth;

/// How often a command is run again for an alert still firing: 4 hours, as
/// Alertmanager's `repeat_interval`.
pub const DEFAULT_REPEAT_INTERVAL_MS: i64 = 4 * 3_600_000;

/// One `[[notify]]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receiver {
    /// How it is named in messages and in the state file.
    pub name: String,
    /// What it does.
    pub kind: ReceiverKind,
    /// Deadline of one command run or one request, ms.
    pub timeout_ms: i64,
    /// Commands: run again this often while firing, ms.
    pub repeat_interval_ms: i64,
    /// Notify on resolve too.
    pub send_resolved: bool,
    /// Only alerts whose `severity` label is at least this.
    pub min_severity: Option<Severity>,
    /// Only alerts with these label values, sorted by name.
    pub matchers: Vec<(String, String)>,
}

/// A command or a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiverKind {
    /// Run `argv[0]` with `argv[1..]`, no shell, alert in the environment.
    Command {
        /// Program and arguments; never empty.
        argv: Vec<String>,
    },
    /// POST to an Alertmanager's `/api/v2/alerts`.
    Webhook {
        /// The full URL, ending in `/api/v2/alerts`.
        url: String,
        /// Credentials.
        auth: Option<Auth>,
    },
}

impl Receiver {
    /// Whether `labels` pass `severity` and `match`.
    pub fn wants(&self, labels: &BTreeMap<String, String>) -> bool {
        let severity_ok = match self.min_severity {
            None => true,
            Some(min) => {
                let level = match labels.get("severity").map(String::as_str) {
                    Some("critical") => Severity::Critical,
                    Some("warning") => Severity::Warning,
                    _ => Severity::Normal,
                };
                level >= min
            }
        };
        severity_ok
            && self
                .matchers
                .iter()
                .all(|(k, v)| labels.get(k).is_some_and(|l| l == v))
    }

    /// One line for `config check`.
    pub fn describe(&self) -> String {
        let mut s = match &self.kind {
            ReceiverKind::Command { argv } => format!(
                "command {argv:?}, timeout {}s, repeat every {}s",
                self.timeout_ms as f64 / 1000.0,
                self.repeat_interval_ms / 1000
            ),
            ReceiverKind::Webhook { url, auth } => format!(
                "webhook {url}, timeout {}s{}",
                self.timeout_ms as f64 / 1000.0,
                auth.as_ref()
                    .map(|a| format!(", {}", a.describe()))
                    .unwrap_or_default()
            ),
        };
        if !self.send_resolved {
            s.push_str(", not on resolve");
        }
        if let Some(m) = self.min_severity {
            s.push_str(&format!(", severity >= {}", m.as_str()));
        }
        for (k, v) in &self.matchers {
            s.push_str(&format!(", {k}={v:?}"));
        }
        s
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReceiver {
    name: Option<Spanned<String>>,
    command: Option<Spanned<Vec<String>>>,
    webhook: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    repeat_interval: Option<Spanned<String>>,
    send_resolved: Option<bool>,
    severity: Option<Spanned<String>>,
    #[serde(default, rename = "match")]
    matchers: BTreeMap<Spanned<String>, String>,
    basic_auth: Option<Spanned<RawBasicAuth>>,
    bearer_token: Option<Spanned<String>>,
    bearer_token_file: Option<Spanned<String>>,
}

/// The webhook URL to POST to: `base` unless it already ends with
/// `/api/v2/alerts`, else `<base>/api/v2/alerts`.
pub fn alerts_url(base: &str) -> String {
    let b = base.trim_end_matches('/');
    if b.ends_with("/api/v2/alerts") {
        b.to_string()
    } else {
        format!("{b}/api/v2/alerts")
    }
}

/// Checks the `[[notify]]` tables; `config_path` anchors secret files.
pub(super) fn parse(
    raw: Vec<Spanned<RawReceiver>>,
    config_path: &Path,
    invalid: Invalid<'_>,
) -> Result<Vec<Receiver>, ConfigError> {
    let mut out: Vec<Receiver> = Vec::with_capacity(raw.len());
    for (i, r) in raw.into_iter().enumerate() {
        let span = r.span();
        let r = r.into_inner();
        let at = |s: &Option<Spanned<String>>| s.as_ref().map_or(span.clone(), |s| s.span());
        let key = |k: &str| format!("notify[{i}].{k}");
        let duration = |v: &Option<Spanned<String>>, k: &str, default: i64| match v {
            None => Ok(default),
            Some(s) => parse_ms(s.get_ref())
                .map_err(|e| invalid(Some(s.span()), format!("{}: {e}", key(k)))),
        };
        let timeout_ms = duration(&r.timeout, "timeout", DEFAULT_TIMEOUT_MS)?;
        let is_webhook = r.webhook.is_some();
        let repeat_interval_ms = match (&r.repeat_interval, is_webhook) {
            (Some(s), true) => {
                return Err(invalid(
                    Some(s.span()),
                    format!(
                        "{}: applies to commands; Alertmanager repeats notifications itself (its route's repeat_interval)",
                        key("repeat_interval")
                    ),
                ))
            }
            _ => duration(&r.repeat_interval, "repeat_interval", DEFAULT_REPEAT_INTERVAL_MS)?,
        };
        let auth = parse_auth(
            &r.basic_auth,
            &r.bearer_token,
            &r.bearer_token_file,
            config_path,
            &key,
            invalid,
        )?;
        let kind = match (r.command, r.webhook) {
            (Some(c), None) => {
                if let Some((s, k)) = r
                    .basic_auth
                    .as_ref()
                    .map(|b| (b.span(), "basic_auth"))
                    .or(r.bearer_token.as_ref().map(|b| (b.span(), "bearer_token")))
                    .or(r
                        .bearer_token_file
                        .as_ref()
                        .map(|b| (b.span(), "bearer_token_file")))
                {
                    return Err(invalid(Some(s), format!("{}: only for a webhook", key(k))));
                }
                let argv = c.get_ref().clone();
                if argv.first().is_none_or(|p| p.is_empty()) {
                    return Err(invalid(
                        Some(c.span()),
                        format!(
                            "{}: list the program and its arguments, e.g. [\"/usr/local/bin/page-me\", \"--urgent\"]",
                            key("command")
                        ),
                    ));
                }
                ReceiverKind::Command { argv }
            }
            (None, Some(w)) => {
                let u = w.get_ref().trim();
                let rest = u
                    .strip_prefix("http://")
                    .or_else(|| u.strip_prefix("https://"));
                if rest.is_none_or(|h| h.is_empty() || h.starts_with('/')) {
                    return Err(invalid(
                        Some(w.span()),
                        format!(
                            "{}: {u:?} is not an http:// or https:// URL",
                            key("webhook")
                        ),
                    ));
                }
                ReceiverKind::Webhook {
                    url: alerts_url(u),
                    auth,
                }
            }
            (Some(_), Some(w)) => {
                return Err(invalid(
                    Some(w.span()),
                    format!(
                        "{}: a receiver has either command or webhook, not both",
                        key("webhook")
                    ),
                ))
            }
            (None, None) => {
                return Err(invalid(
                    Some(span),
                    format!("notify[{i}]: needs command = [...] or webhook = \"http://...\""),
                ))
            }
        };
        let min_severity = match &r.severity {
            None => None,
            Some(s) => match s.get_ref().as_str() {
                "warning" => Some(Severity::Warning),
                "critical" => Some(Severity::Critical),
                other => {
                    return Err(invalid(
                        Some(s.span()),
                        format!("{}: {other:?} is not warning or critical", key("severity")),
                    ))
                }
            },
        };
        let mut matchers = Vec::with_capacity(r.matchers.len());
        for (n, v) in r.matchers {
            if let Err(e) = minetsdb::check_label_name(n.get_ref()) {
                return Err(invalid(
                    Some(n.span()),
                    format!("{}: {:?}: {e}", key("match"), n.get_ref()),
                ));
            }
            matchers.push((n.into_inner(), v));
        }
        let name = match &r.name {
            Some(n) if n.get_ref().trim().is_empty() => {
                return Err(invalid(
                    Some(n.span()),
                    format!("{}: must not be empty", key("name")),
                ))
            }
            Some(n) => n.get_ref().clone(),
            None => match &kind {
                ReceiverKind::Command { argv } => argv.join(" "),
                ReceiverKind::Webhook { url, .. } => url.clone(),
            },
        };
        if out.iter().any(|o| o.name == name) {
            return Err(invalid(
                Some(at(&r.name)),
                format!(
                    "{}: {name:?} is used by another receiver; give one a different name = \"...\"",
                    key("name")
                ),
            ));
        }
        out.push(Receiver {
            name,
            kind,
            timeout_ms,
            repeat_interval_ms,
            send_resolved: r.send_resolved.unwrap_or(true),
            min_severity,
            matchers,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::scrape::Secret;

    fn parse(text: &str) -> Result<Vec<Receiver>, String> {
        Config::parse(text, Path::new("/etc/minetsdb/c.toml"))
            .map(|c| c.notify)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn receivers_with_defaults_and_options() {
        let r = parse(
            "[[notify]]\ncommand = [\"/bin/page\", \"-u\"]\n\n[[notify]]\nname = \"am\"\nwebhook = \"http://127.0.0.1:9093/\"\ntimeout = \"3s\"\nsend_resolved = false\nseverity = \"critical\"\nmatch = { instance = \"rig1\" }\nbearer_token_file = \"tok\"\n",
        )
        .unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(
            r[0],
            Receiver {
                name: "/bin/page -u".into(),
                kind: ReceiverKind::Command {
                    argv: vec!["/bin/page".into(), "-u".into()]
                },
                timeout_ms: 10_000,
                repeat_interval_ms: 4 * 3_600_000,
                send_resolved: true,
                min_severity: None,
                matchers: vec![],
            }
        );
        assert_eq!(r[1].name, "am");
        assert_eq!(
            r[1].kind,
            ReceiverKind::Webhook {
                url: "http://127.0.0.1:9093/api/v2/alerts".into(),
                auth: Some(Auth::Token {
                    scheme: "Bearer".into(),
                    credentials: Secret::File("/etc/minetsdb/tok".into())
                })
            }
        );
        assert_eq!(r[1].timeout_ms, 3000);
        assert!(!r[1].send_resolved);
        assert_eq!(r[1].min_severity, Some(Severity::Critical));
        assert_eq!(r[1].matchers, vec![("instance".into(), "rig1".into())]);
        assert!(parse("").unwrap().is_empty());

        let l = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(r[0].wants(&l(&[])));
        assert!(r[1].wants(&l(&[("severity", "critical"), ("instance", "rig1")])));
        assert!(!r[1].wants(&l(&[("severity", "warning"), ("instance", "rig1")])));
        assert!(!r[1].wants(&l(&[("severity", "critical"), ("instance", "rig2")])));
        assert!(!r[1].wants(&l(&[("instance", "rig1")])));
        assert!(r[1].describe().contains("Bearer token"));
    }

    #[test]
    fn alerts_url_appends_the_path_once() {
        assert_eq!(alerts_url("http://h:9093"), "http://h:9093/api/v2/alerts");
        assert_eq!(
            alerts_url("http://h:9093/am/api/v2/alerts"),
            "http://h:9093/am/api/v2/alerts"
        );
    }

    #[test]
    fn mistakes_name_line_and_key() {
        let e = parse("[[notify]]\ntimeout = \"1s\"\n").unwrap_err();
        assert!(
            e.contains("c.toml:1:") && e.contains("needs command"),
            "{e}"
        );
        let e = parse("[[notify]]\ncommand = [\"/a\"]\nwebhook = \"http://x\"\n").unwrap_err();
        assert!(e.contains(":3:") && e.contains("not both"), "{e}");
        let e = parse("[[notify]]\ncommand = []\n").unwrap_err();
        assert!(e.contains(":2:") && e.contains("notify[0].command"), "{e}");
        let e = parse("[[notify]]\nwebhook = \"ftp://x\"\n").unwrap_err();
        assert!(e.contains("notify[0].webhook"), "{e}");
        let e =
            parse("[[notify]]\nwebhook = \"http://x\"\nrepeat_interval = \"1h\"\n").unwrap_err();
        assert!(
            e.contains(":3:") && e.contains("applies to commands"),
            "{e}"
        );
        let e = parse("[[notify]]\ncommand = [\"/a\"]\nseverity = \"page\"\n").unwrap_err();
        assert!(e.contains("notify[0].severity"), "{e}");
        let e = parse("[[notify]]\ncommand = [\"/a\"]\ntimeout = \"10\"\n").unwrap_err();
        assert!(e.contains(":3:") && e.contains("notify[0].timeout"), "{e}");
        let e = parse("[[notify]]\ncommand = [\"/a\"]\nbearer_token = \"t\"\n").unwrap_err();
        assert!(e.contains("only for a webhook"), "{e}");
        let e =
            parse("[[notify]]\ncommand = [\"/a\"]\n[[notify]]\ncommand = [\"/a\"]\n").unwrap_err();
        assert!(e.contains("used by another receiver"), "{e}");
        let e = parse("[[notify]]\ncommand = [\"/a\"]\ncolour = 1\n").unwrap_err();
        assert!(e.contains("colour"), "{e}");
        let e = parse("[[notify]]\ncommand = [\"/a\"]\nmatch = { \"a-b\" = \"x\" }\n").unwrap_err();
        assert!(e.contains("notify[0].match"), "{e}");
    }
}
