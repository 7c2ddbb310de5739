//! The `minetsdb` binary end to end: exit codes and what it prints.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_minetsdb"))
}

#[test]
fn demo_then_stats_then_check() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo");
    let out = bin()
        .args(["demo", "--days", "2", "--gpus", "2", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Simulated 2 days of a 2-GPU rig"),
        "{stdout}"
    );
    assert!(stdout.contains("avg W"), "{stdout}");
    // The report, its example tariff labelled as such, and what to try next.
    assert!(stdout.contains("EXAMPLE tariff"), "{stdout}");
    assert!(stdout.contains("wall energy kWh"), "{stdout}");
    assert!(
        stdout.contains("minetsdb report --db") && stdout.contains("--tuning"),
        "{stdout}"
    );

    let out = bin().arg("stats").arg("--db").arg(&db).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(stdout.contains("bytes/sample"), "{stdout}");
    assert!(
        stdout.contains("biggest series") && stdout.contains("uuid"),
        "{stdout}"
    );

    // PromQL over the demo data: 2 GPUs, so 2 temperature series; the
    // demo ends at the minute boundary before now.
    let q = |args: &[&str]| {
        let out = bin()
            .arg("query")
            .args(args)
            .arg("--db")
            .arg(&db)
            .output()
            .unwrap();
        let s = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{s}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        s
    };
    let s = q(&["count(nvidia_smi_temperature_gpu)", "--format", "json"]);
    assert!(
        s.starts_with(r#"{"resultType":"vector","result":[{"metric":{},"value":["#),
        "{s}"
    );
    assert!(s.contains(r#","2"]}]}"#), "{s}");
    let s = q(&[
        "max(nvidia_smi_power_draw_watts) > 0",
        "--start",
        "-3h",
        "--end",
        "-1h",
        "--step",
        "30m",
        "--format",
        "csv",
    ]);
    assert_eq!(s.lines().count(), 1 + 5, "{s}");
    assert!(s.starts_with("series,timestamp,value\n{},"), "{s}");
    let out = bin()
        .args(["query", "rate(x[5m]", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("parse error"));

    let out = bin().arg("check").arg("--db").arg(&db).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // A second demo into the same directory refuses to mix data.
    let out = bin()
        .args(["demo", "--days", "1", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already holds a database"));

    // Damage one block: check names the file and exits 1.
    let blk = std::fs::read_dir(db.join("blocks"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut b = std::fs::read(&blk).unwrap();
    // Inside the first timestamp column (the section starts after the
    // 16-byte header): the chunks using it cannot be read. (A byte in the
    // middle may land in an hourly sub-summary, whose loss costs no sample.)
    b[20] ^= 0xff;
    std::fs::write(&blk, b).unwrap();
    let out = bin().arg("check").arg("--db").arg(&db).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(".blk"), "{stdout}");

    // Repair sets it aside, keeps the rest, and check is clean after.
    let samples_before = stats_samples(&db);
    let out = bin()
        .args(["check", "--repair", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("moved aside"), "{stdout}");
    assert_eq!(std::fs::read_dir(db.join("damaged")).unwrap().count(), 1);
    let after = stats_samples(&db);
    assert!(
        after > 0 && after < samples_before,
        "{after} of {samples_before} kept"
    );
    let out = bin().arg("check").arg("--db").arg(&db).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn stats_samples(db: &std::path::Path) -> u64 {
    let out = bin().arg("stats").arg("--db").arg(db).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let line = stdout.lines().find(|l| l.starts_with("samples")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn usage_errors_exit_2_and_missing_db_exits_1() {
    let out = bin().arg("no-such-command").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bin()
        .args(["stats", "--db", "/nonexistent/minetsdb"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("minetsdb: ") && err.contains("/nonexistent/minetsdb"),
        "{err}"
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "errors are one line: {err}"
    );
}

#[test]
fn compact_downsamples_old_data_and_queries_say_what_needs_raw() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo");
    let ok = |args: &[&str]| {
        let out = bin().args(args).arg("--db").arg(&db).output().unwrap();
        let s = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{args:?}: {s}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        s
    };
    ok(&["demo", "--days", "5", "--gpus", "1"]);
    let out = ok(&["compact", "--downsample", "5m:1d,1h:3d"]);
    assert!(out.contains("blocks"), "{out}");
    let stats = ok(&["stats"]);
    assert!(
        stats.contains("5m buckets") && stats.contains("1h buckets"),
        "{stats}"
    );
    // Aggregates over buckets answer; a quantile needs raw samples.
    let c = ok(&[
        "query",
        "count_over_time(nvidia_smi_temperature_gpu[1d])",
        "--time",
        "-4d",
    ]);
    assert!(c.contains("nvidia_smi") || c.contains("uuid"), "{c}");
    let out = bin()
        .args([
            "query",
            "quantile_over_time(0.5, nvidia_smi_temperature_gpu[1h])",
            "--time",
            "-4d",
            "--db",
        ])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs raw samples"), "{err}");
    // A bad tier spec is a usage error naming it.
    let out = bin()
        .args(["compact", "--downsample", "5m", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RESOLUTION:AGE"));
}

#[test]
fn config_check_lists_pools_miners_and_gpus() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "instance = \"rig1\"\n[amd]\nenabled = true\n\n[[pool]]\nname = \"eth\"\nkind = \"ethermine\"\naddress = \"0x52bc44d5378309ee2abf1539bf71de1b7d7be3b5\"\n\n[[miner]]\nname = \"trex\"\nkind = \"trex\"\n",
    )
    .unwrap();
    let out = bin()
        .args(["config", "check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{s}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(s.contains("pool \"eth\" (Ethermine"), "{s}");
    assert!(s.contains("miner \"trex\" (TRex)"), "{s}");
    assert!(s.contains("amdgpu: every 1m"), "{s}");
    assert!(s.contains("2 targets"), "{s}");
}
