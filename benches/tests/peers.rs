//! The peer comparison at `--scale tiny`, so that it does not rot: every
//! figure is in the JSON, every system reads back exactly the input's
//! series and samples, minetsdb bit-exact and answering as Prometheus does.
//!
//! Needs the Debian packages `prometheus` and `victoria-metrics`
//! (scripts/test installs them) and the `minetsdb` binary of the same
//! profile, which `cargo test --workspace` builds for the cli's tests
//! (alone: `cargo build -p minetsdb-cli` first).

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn have_peers() -> bool {
    let ok = |b: &str, flag: &str| Command::new(b).arg(flag).output().is_ok();
    if ok("prometheus", "--version")
        && ok("promtool", "--version")
        && ok("victoria-metrics", "-version")
    {
        return true;
    }
    if std::env::var_os("MINETSDB_SKIP_PROMETHEUS").is_some() {
        eprintln!("SKIPPED: prometheus or victoria-metrics not installed and MINETSDB_SKIP_PROMETHEUS set");
        return false;
    }
    panic!("needs the Debian packages `prometheus` and `victoria-metrics`: apt-get install prometheus victoria-metrics, or run scripts/test which installs them");
}

fn minetsdb_bin() -> PathBuf {
    let peers = PathBuf::from(env!("CARGO_BIN_EXE_peers"));
    let bin = peers.with_file_name("minetsdb");
    assert!(
        bin.is_file(),
        "no {}: run `cargo build -p minetsdb-cli` first (cargo test --workspace builds it)",
        bin.display()
    );
    bin
}

fn num(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"))
}

#[test]
fn tiny_comparison_reports_every_figure_and_reads_back_the_input() {
    if !have_peers() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_peers"))
        .args(["--scale", "tiny", "--reps", "1", "--out"])
        .arg(out.path())
        .arg("--minetsdb")
        .arg(minetsdb_bin())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "peers failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let md = std::fs::read_to_string(out.path().join("peers.md")).unwrap();
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("peers.json")).unwrap())
            .unwrap();

    let samples = json["input"]["samples"].as_u64().unwrap();
    let series = json["input"]["series"].as_u64().unwrap();
    assert!(samples > 100_000 && series > 300, "{}", json["input"]);

    // Every figure of the issue, with a number for each system and ratios.
    let figures = json["figures"].as_array().unwrap();
    let keys: Vec<&str> = figures.iter().map(|f| f["key"].as_str().unwrap()).collect();
    for k in [
        "bytes_per_sample",
        "ingest_samples_per_s",
        "ingest_cpu_s",
        "peak_rss_mb",
    ] {
        assert!(keys.contains(&k), "no {k} in {keys:?}");
    }
    assert_eq!(
        keys.iter().filter(|k| k.starts_with("query_ms_")).count(),
        8,
        "{keys:?}"
    );
    for f in figures {
        for s in ["prometheus", "victoriametrics", "minetsdb"] {
            let v = num(&f[s], &format!("{} of {s}", f["key"]));
            assert!(v.is_finite() && v > 0.0, "{}: {s} = {v}", f["key"]);
        }
        for r in [
            "ratio_minetsdb_to_prometheus",
            "ratio_minetsdb_to_victoriametrics",
        ] {
            assert!(num(&f[r], r).is_finite(), "{f}");
        }
        if f.get("target").is_some() {
            assert!(f["met"].is_boolean(), "{f}");
        }
    }

    // Each system holds exactly the input.
    let systems = json["systems"].as_array().unwrap();
    assert_eq!(systems.len(), 3);
    for s in systems {
        let name = s["system"].as_str().unwrap();
        let rb = &s["readback"];
        assert_eq!(rb["samples"].as_u64(), Some(samples), "{name}: {rb}");
        assert_eq!(rb["series"].as_u64(), Some(series), "{name}: {rb}");
        assert_eq!(rb["series_listed"].as_u64(), Some(series), "{name}: {rb}");
        assert_eq!(rb["counts_equal_input"], true, "{name}: {rb}");
        assert_eq!(
            num(&s["full_count"], "full_count"),
            samples as f64,
            "{name}"
        );
        assert!(s["disk_bytes"].as_u64().unwrap() > 0, "{name}");
    }
    let mine = systems.iter().find(|s| s["system"] == "minetsdb").unwrap();
    assert_eq!(mine["readback"]["bit_exact"], true, "{}", mine["readback"]);

    // minetsdb answers every query as Prometheus does.
    for a in json["agreement"].as_array().unwrap() {
        assert!(a["minetsdb_vs_prometheus"].is_null(), "{a}");
    }
    assert!(md.contains("| bytes per sample on disk |"), "{md}");
}
