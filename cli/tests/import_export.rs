//! `import` and `export` end to end: lossless round trips in every format
//! and compression, malformed input, re-import as a no-op.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_minetsdb"))
}

fn ok(out: Output) -> String {
    let s = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{s}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s
}

fn demo(db: &Path) {
    ok(bin()
        .args(["demo", "--days", "2", "--gpus", "1", "--db"])
        .arg(db)
        .output()
        .unwrap());
}

fn export(db: &Path, args: &[&str], to: &Path) {
    ok(bin()
        .arg("export")
        .args(args)
        .arg("--db")
        .arg(db)
        .arg("-o")
        .arg(to)
        .output()
        .unwrap());
}

fn import(db: &Path, args: &[&str]) -> Output {
    bin()
        .arg("import")
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .unwrap()
}

#[test]
fn round_trips_are_bit_exact_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    demo(&a);
    for (i, (fmt, name)) in [
        ("openmetrics", "x.om"),
        ("text", "x.prom"),
        ("openmetrics", "x.om.zst"),
        ("text", "x.prom.gz"),
    ]
    .iter()
    .enumerate()
    {
        let first = dir.path().join(format!("1-{name}"));
        export(&a, &["--format", fmt], &first);
        let b = dir.path().join(format!("b{i}"));
        let s = ok(import(&b, &[first.to_str().unwrap()]));
        assert!(s.contains("imported"), "{s}");
        let second = dir.path().join(format!("2-{name}"));
        export(&b, &["--format", fmt], &second);
        let (x, y) = (
            std::fs::read(&first).unwrap(),
            std::fs::read(&second).unwrap(),
        );
        assert!(x.len() > 1000);
        if name.ends_with(".zst") || name.ends_with(".gz") {
            let (x, y) = (decompress(&first), decompress(&second));
            assert!(x == y, "{name}: decompressed exports differ");
        } else {
            assert!(x == y, "{name}: exports differ");
        }
        // Importing the same file again stores nothing new.
        let s = ok(import(&b, &[first.to_str().unwrap()]));
        assert!(s.starts_with("imported 0 samples ("), "{s}");
    }
    // Matchers and ranges select what they say.
    let part = dir.path().join("part.csv");
    export(
        &a,
        &[
            "--match",
            "nvidia_smi_temperature_gpu",
            "--format",
            "csv",
            "--start",
            "-1h",
        ],
        &part,
    );
    let csv = std::fs::read_to_string(&part).unwrap();
    assert!(csv.starts_with("series,timestamp,value\n"));
    let rows = csv.lines().count() - 1;
    assert!(
        (55..=61).contains(&rows),
        "{rows} rows for one series over an hour"
    );
    assert!(
        csv.lines()
            .skip(1)
            .all(|l| l.starts_with("\"nvidia_smi_temperature_gpu{")),
        "{csv}"
    );
}

fn decompress(p: &Path) -> Vec<u8> {
    let f = std::fs::File::open(p).unwrap();
    if p.extension().is_some_and(|e| e == "zst") {
        zstd::decode_all(f).unwrap()
    } else {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(f), &mut v).unwrap();
        v
    }
}

#[test]
fn malformed_line_stops_with_its_number_keeping_what_came_before() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.prom");
    std::fs::write(
        &f,
        "# TYPE gpu_temp gauge\n\
         gpu_temp{gpu=\"0\"} 61 1700000000000\n\
         gpu_temp{gpu=\"0\"} 62 1700000060000\n\
         gpu_temp{gpu=\"0\" 63 1700000120000\n\
         gpu_temp{gpu=\"0\"} 64 1700000180000\n",
    )
    .unwrap();
    let db = dir.path().join("db");
    let out = import(&db, &[f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 4"), "{err}");
    assert!(err.contains("2 samples before it were stored"), "{err}");
    let csv = dir.path().join("out.csv");
    export(&db, &["--format", "csv"], &csv);
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap().lines().count(),
        1 + 2
    );

    let db2 = dir.path().join("db2");
    let s = ok(import(&db2, &["--skip-bad-lines", f.to_str().unwrap()]));
    assert!(
        s.contains("imported 3 samples") && s.contains("1 bad lines skipped"),
        "{s}"
    );
}

#[test]
fn stdin_and_missing_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let mut child = bin()
        .args(["import", "-", "--db"])
        .arg(&db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"m{a=\"1\"} 1.5 1700000000000\n")
        .unwrap();
    let s = ok(child.wait_with_output().unwrap());
    assert!(s.contains("imported 1 samples"), "{s}");

    let f = dir.path().join("nots.prom");
    std::fs::write(&f, "m{a=\"2\"} 7\n").unwrap();
    let out = import(&db, &[f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--default-time"));
    let s = ok(import(
        &db,
        &["--default-time", "1700000000", f.to_str().unwrap()],
    ));
    assert!(s.contains("imported 1 samples"), "{s}");
}
