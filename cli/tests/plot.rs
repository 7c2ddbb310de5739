//! `minetsdb plot` end to end over a demo database: the braille chart, its
//! legend and units, colour on request only, the PNG, and the errors.

use std::path::Path;
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_minetsdb"))
}

fn plot(db: &Path, args: &[&str]) -> Output {
    bin()
        .arg("plot")
        .args(args)
        .arg("--db")
        .arg(db)
        .env_remove("NO_COLOR")
        .output()
        .unwrap()
}

fn is_braille(c: char) -> bool {
    ('\u{2801}'..='\u{28ff}').contains(&c)
}

#[test]
fn plot_demo_power() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo");
    let out = bin()
        .args(["demo", "--days", "1", "--gpus", "2", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let expr = "nvidia_smi_power_draw_watts";
    let base = [expr, "--start", "-6h", "--width", "80"];
    let out = plot(&db, &[&base[..], &["--color", "never"]].concat());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.chars().any(is_braille), "{stdout}");
    assert!(!stdout.contains('\x1b'), "{stdout}");
    // Two GPUs: two legend lines, each naming what tells them apart.
    let legend: Vec<&str> = stdout.lines().filter(|l| l.starts_with("━━")).collect();
    assert_eq!(legend.len(), 2, "{stdout}");
    assert!(legend.iter().all(|l| l.contains(" W")), "{stdout}");
    assert_ne!(legend[0], legend[1]);
    // Value ticks in watts, no line wider than asked.
    assert!(stdout.lines().any(|l| l.contains(" W ┤")), "{stdout}");
    assert!(stdout.lines().all(|l| l.chars().count() <= 80), "{stdout}");
    // Times on the x axis: HH:MM for a 6-hour span.
    assert!(stdout.contains(":00"), "{stdout}");

    let out = plot(&db, &[&base[..], &["--color", "always"]].concat());
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("\x1b["));

    // auto: stdout is a pipe here, so no colour.
    let out = plot(&db, &base);
    assert!(!String::from_utf8_lossy(&out.stdout).contains('\x1b'));

    // rate() of an energy counter drops the name; the unit is inferred.
    let out = plot(
        &db,
        &[
            "sum(rate(gpu_energy_joules_total[5m]))",
            "--start",
            "-1h",
            "--width",
            "60",
            "--color",
            "never",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains(" W ┤"), "{stdout}");
    assert!(!stdout.contains(" J"), "{stdout}");

    let png = dir.path().join("x.png");
    let out = plot(
        &db,
        &[
            &base[..],
            &["--color", "never", "--output", png.to_str().unwrap()],
        ]
        .concat(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert!(bytes.len() > 10_000, "{} bytes", bytes.len());

    // No data in range: a message and exit 1.
    let out = plot(&db, &["no_such_metric", "--start", "-1h"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no data for no_such_metric"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    // A bad expression: the PromQL error on one line, exit 1.
    let out = plot(&db, &["rate(x[5m]", "--start", "-1h"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("parse error"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
