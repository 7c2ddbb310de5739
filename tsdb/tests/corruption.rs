//! Damaged files, as a named table (after Prometheus' wlog_test.go): each
//! row damages one file of a database holding blocks and a WAL, reopens,
//! and states what must still be readable and what must be reported.

use std::fs;
use std::path::{Path, PathBuf};

use minetsdb::{Db, Labels, Matcher, Options, Sample};

const SERIES: usize = 4;

fn opts() -> Options {
    let mut o = Options::default();
    o.block_span_ms = 100 * 60_000;
    o.out_of_order_grace_ms = 0;
    o.max_chunk_samples = 32;
    o.compaction_spans_ms = vec![200 * 60_000];
    o
}

fn value(i: i64, s: usize) -> f64 {
    i as f64 * 0.5 + s as f64
}

/// A db with two blocks (batches 0..200) and a WAL (batches 200..250),
/// one append per batch.
fn make(dir: &Path) {
    let db = Db::open(dir, opts()).unwrap();
    for i in 0..250i64 {
        let batch: Vec<(Labels, Sample)> = (0..SERIES)
            .map(|s| {
                (
                    Labels::new("m", &[("s", &s.to_string())]).unwrap(),
                    Sample::new(i * 60_000, value(i, s)),
                )
            })
            .collect();
        db.append_labeled(&batch).unwrap();
    }
    assert_eq!(db.stats().blocks, 2, "{:?}", db.stats());
}

fn read_all(db: &Db, s: usize) -> minetsdb::Result<Vec<Sample>> {
    let mut out = Vec::new();
    for r in db.select(&[Matcher::equal("s", &s.to_string())], ..)? {
        out.extend(r?.samples);
    }
    Ok(out)
}

fn files(dir: &Path, sub: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir.join(sub))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

fn flip(p: &Path, off_from_end: Option<usize>, off: usize) {
    let mut b = fs::read(p).unwrap();
    let i = match off_from_end {
        Some(e) => b.len() - e,
        None => off,
    };
    b[i] ^= 0x20;
    fs::write(p, b).unwrap();
}

fn truncate_by(p: &Path, n: u64) {
    let len = fs::metadata(p).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(p)
        .unwrap()
        .set_len(len - n)
        .unwrap();
}

struct Row {
    name: &'static str,
    damage: fn(&Path),
    /// Batches (of 0..250) that must read back intact for every series.
    intact: std::ops::Range<i64>,
    /// Opening must report damage naming this file fragment.
    reported: Option<&'static str>,
}

#[test]
fn corruption_table() {
    let rows = [
        Row {
            name: "wal tail cut mid-record",
            damage: |d| truncate_by(files(d, "wal").last().unwrap(), 3),
            intact: 0..249,
            reported: Some("wal"),
        },
        Row {
            name: "wal last record bit flip",
            damage: |d| flip(files(d, "wal").last().unwrap(), Some(2), 0),
            intact: 0..249,
            reported: Some("wal"),
        },
        Row {
            name: "wal garbage appended",
            damage: |d| {
                let p = files(d, "wal").pop().unwrap();
                let mut b = fs::read(&p).unwrap();
                b.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 1, 2, 3]);
                fs::write(p, b).unwrap();
            },
            intact: 0..250,
            reported: Some("wal"),
        },
        Row {
            name: "registry torn tail",
            // The last series record is referenced by blocks, but a torn
            // registry tail can only hold unreferenced series; cutting a
            // few bytes here simulates bit rot of the last record.
            damage: |d| flip(&d.join("series"), Some(1), 0),
            intact: 0..0,
            reported: Some("series"),
        },
        Row {
            name: "block footer flipped",
            damage: |d| flip(&files(d, "blocks")[0], Some(20), 0),
            intact: 100..250,
            reported: Some(".blk"),
        },
        Row {
            name: "block truncated",
            damage: |d| truncate_by(&files(d, "blocks")[1], 10),
            intact: 200..250,
            reported: Some(".blk"),
        },
    ];
    for row in rows {
        let dir = tempfile::tempdir().unwrap();
        make(dir.path());
        (row.damage)(dir.path());
        let db = Db::open(dir.path(), opts())
            .unwrap_or_else(|e| panic!("{}: open failed: {e}", row.name));
        let rep = db.open_report();
        if let Some(frag) = row.reported {
            assert!(
                rep.damage
                    .iter()
                    .any(|d| d.file.to_string_lossy().contains(frag)),
                "{}: damage not reported: {:?}",
                row.name,
                rep.damage
            );
        }
        for s in 0..SERIES {
            let Ok(got) = read_all(&db, s) else {
                assert!(row.intact.is_empty(), "{}: series {s} unreadable", row.name);
                continue;
            };
            for i in row.intact.clone() {
                let t = i * 60_000;
                let hit = got.iter().find(|x| x.t == t);
                if row.name.starts_with("registry") && hit.is_none() {
                    continue; // that series' labels were lost with the record
                }
                assert_eq!(
                    hit.map(|x| x.v),
                    Some(value(i, s)),
                    "{}: series {s} batch {i}",
                    row.name
                );
            }
        }
        // A second open finds nothing new to repair and writes work again.
        drop(db);
        let db = Db::open(dir.path(), opts()).unwrap();
        if row.name.starts_with("wal") {
            assert!(
                db.open_report().damage.is_empty(),
                "{}: {:?}",
                row.name,
                db.open_report().damage
            );
        }
        db.append_labeled(&[(
            Labels::new("m", &[("s", "0")]).unwrap(),
            Sample::new(10_000 * 60_000, 1.0),
        )])
        .unwrap();
    }
}

#[test]
fn chunk_damage_costs_only_that_series() {
    let dir = tempfile::tempdir().unwrap();
    make(dir.path());
    let blk = files(dir.path(), "blocks")[0].clone();
    // Flip a byte early in the value section (after the 16-byte header and
    // the shared timestamp columns, which are small).
    let b = fs::read(&blk).unwrap();
    let mut readable_before = 0;
    {
        let db = Db::open_read_only(dir.path(), opts()).unwrap();
        for s in 0..SERIES {
            readable_before += read_all(&db, s).is_ok() as usize;
        }
    }
    assert_eq!(readable_before, SERIES);
    let mut any_detected = false;
    for off in [b.len() / 3, b.len() / 2] {
        let mut c = b.clone();
        c[off] ^= 0x01;
        fs::write(&blk, &c).unwrap();
        let db = Db::open_read_only(dir.path(), opts()).unwrap();
        let errs = db.verify();
        let unreadable = (0..SERIES).filter(|&s| read_all(&db, s).is_err()).count();
        if !errs.is_empty() || !db.open_report().damage.is_empty() {
            any_detected = true;
            for e in &errs {
                assert!(e.to_string().contains(".blk"), "{e}");
            }
            assert!(
                unreadable < SERIES,
                "one flipped byte made every series unreadable"
            );
        }
        fs::write(&blk, &b).unwrap();
    }
    assert!(any_detected);
}

#[test]
fn second_writer_is_refused_and_reader_works_beside_writer() {
    let dir = tempfile::tempdir().unwrap();
    make(dir.path());
    let w = Db::open(dir.path(), opts()).unwrap();
    let e = Db::open(dir.path(), opts()).unwrap_err().to_string();
    assert!(
        e.contains(&format!("locked by pid {}", std::process::id())),
        "{e}"
    );
    w.append_labeled(&[(
        Labels::new("m", &[("s", "1")]).unwrap(),
        Sample::new(300 * 60_000, 7.0),
    )])
    .unwrap();
    let r = Db::open_read_only(dir.path(), opts()).unwrap();
    let got = read_all(&r, 1).unwrap();
    assert_eq!(got.len(), 251);
    assert_eq!(got.last().unwrap().v, 7.0);
}
