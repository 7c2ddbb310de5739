//! The command receiver: one run of the configured program per alert
//! transition, the alert in environment variables (listed in
//! [`super`]'s documentation), in its own process group so a run that
//! outlives its timeout is killed with whatever it started.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{alert_json, labels_string, rfc3339_ms, Item};
use crate::alerts::AlertState;

/// How much of a failed command's stderr is reported.
const STDERR_TAIL: usize = 1000;

/// The environment a command gets for `item`, besides the inherited one.
pub fn env(item: &Item, receiver: &str) -> BTreeMap<String, String> {
    let a = &item.alert;
    let mut e = BTreeMap::new();
    let mut set = |k: String, v: &str| {
        // A NUL cannot be passed in the environment.
        e.insert(k, v.replace('\0', ""));
    };
    set("MINETSDB_RECEIVER".into(), receiver);
    set("MINETSDB_ALERT_NAME".into(), a.name());
    set("MINETSDB_ALERT_STATE".into(), item.state.as_str());
    set(
        "MINETSDB_ALERT_SEVERITY".into(),
        a.labels.get("severity").map_or("", String::as_str),
    );
    set("MINETSDB_ALERT_LABELS".into(), &labels_string(&a.labels));
    for (k, v) in &a.labels {
        set(format!("MINETSDB_ALERT_LABEL_{}", env_name(k)), v);
    }
    for (k, v) in &a.annotations {
        set(format!("MINETSDB_ALERT_ANNOTATION_{}", env_name(k)), v);
    }
    set(
        "MINETSDB_ALERT_SUMMARY".into(),
        a.annotations.get("summary").map_or("", String::as_str),
    );
    set(
        "MINETSDB_ALERT_DESCRIPTION".into(),
        a.annotations.get("description").map_or("", String::as_str),
    );
    set("MINETSDB_ALERT_VALUE".into(), &a.value.to_string());
    set(
        "MINETSDB_ALERT_STARTS_AT".into(),
        &rfc3339_ms(item.starts_at_ms()),
    );
    let ends = match (item.state, a.resolved_at_ms) {
        (AlertState::Resolved, Some(r)) => rfc3339_ms(r),
        _ => String::new(),
    };
    set("MINETSDB_ALERT_ENDS_AT".into(), &ends);
    set(
        "MINETSDB_ALERT_REPEAT".into(),
        if item.repeat { "1" } else { "0" },
    );
    set(
        "MINETSDB_ALERT_JSON".into(),
        &alert_json(item, None).to_string(),
    );
    e
}

/// `MINETSDB_ALERT_LABEL_` suffix for a label or annotation name: upper
/// case, anything but A-Z, 0-9 and `_` turned into `_`.
pub fn env_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Runs `argv` with `env` added, stdin and stdout on /dev/null, killing its
/// process group past `timeout`. `on_spawn`/`on_exit` bracket the run with
/// the process group's id (so the owner can kill it when closing).
/// `Err` says what went wrong, naming the command and the tail of its
/// stderr.
pub fn run(
    argv: &[String],
    env: &BTreeMap<String, String>,
    timeout: Duration,
    on_spawn: &dyn Fn(u32),
    on_exit: &dyn Fn(u32),
) -> Result<(), String> {
    let Some((prog, args)) = argv.split_first() else {
        return Err("empty command".into());
    };
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("command {argv:?}: cannot start: {e}"))?;
    let pid = child.id();
    on_spawn(pid);
    // stderr is drained by a thread so a chatty command cannot block on a
    // full pipe; only its tail is kept.
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(mut err) = child.stderr.take() {
        std::thread::spawn(move || {
            let mut tail: Vec<u8> = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match err.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        tail.extend_from_slice(&buf[..n]);
                        if tail.len() > 2 * STDERR_TAIL {
                            tail.drain(..tail.len() - STDERR_TAIL);
                        }
                    }
                }
            }
            let _ = tx.send(tail);
        });
    }
    let mut pause = Duration::from_millis(5);
    let outcome = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if started.elapsed() >= timeout => {
                kill_group(pid);
                let _ = child.wait();
                break Err(format!(
                    "timed out after {}s, killed",
                    timeout.as_secs_f64()
                ));
            }
            Ok(None) => {
                std::thread::sleep(pause.min(timeout.saturating_sub(started.elapsed())));
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => {
                kill_group(pid);
                let _ = child.wait();
                break Err(format!("waiting for it: {e}"));
            }
        }
    };
    on_exit(pid);
    // A grandchild that left the group may hold stderr open: do not wait
    // for it long.
    let tail = rx
        .recv_timeout(Duration::from_millis(500))
        .unwrap_or_default();
    let tail = String::from_utf8_lossy(&tail[tail.len().saturating_sub(STDERR_TAIL)..])
        .trim()
        .to_string();
    let stderr = if tail.is_empty() {
        String::new()
    } else {
        format!("; stderr: {tail}")
    };
    match outcome {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("command {argv:?}: {s}{stderr}")),
        Err(why) => Err(format!("command {argv:?}: {why}{stderr}")),
    }
}

/// SIGKILL to the process group `pgid` (a child started with
/// `process_group(0)`, whose group id is its pid).
pub fn kill_group(pgid: u32) {
    let Ok(pgid) = i32::try_from(pgid) else {
        return;
    };
    if pgid <= 1 {
        return;
    }
    // SAFETY: kill(2) takes plain integers and touches no memory of ours;
    // a negative pid names the process group, here the one our child leads
    // (pgid > 1, so never "every process" or our own group).
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_are_sanitized() {
        assert_eq!(env_name("gpu_uuid"), "GPU_UUID");
        assert_eq!(env_name("a.b-c"), "A_B_C");
        assert_eq!(env_name("é"), "_");
    }

    #[test]
    fn exit_status_timeout_and_stderr_are_reported() {
        let sh = |s: &str| vec!["/bin/sh".to_string(), "-c".to_string(), s.to_string()];
        let none = BTreeMap::new();
        let t = Duration::from_secs(5);
        assert_eq!(run(&sh("exit 0"), &none, t, &|_| {}, &|_| {}), Ok(()));
        let e = run(&sh("echo oops >&2; exit 3"), &none, t, &|_| {}, &|_| {}).unwrap_err();
        assert!(
            e.contains("exit status: 3") && e.contains("stderr: oops"),
            "{e}"
        );
        let start = Instant::now();
        // The background sleep keeps stderr open: killing the group ends it.
        let e = run(
            &sh("sleep 30 & sleep 30"),
            &none,
            Duration::from_millis(300),
            &|_| {},
            &|_| {},
        )
        .unwrap_err();
        assert!(e.contains("timed out"), "{e}");
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
        let e = run(
            &["/nonexistent/prog".to_string()],
            &none,
            t,
            &|_| {},
            &|_| {},
        )
        .unwrap_err();
        assert!(e.contains("cannot start"), "{e}");
    }
}
