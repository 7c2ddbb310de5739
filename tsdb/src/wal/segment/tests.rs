#![allow(clippy::unwrap_used)] // a test that cannot set up its files should panic

use std::collections::BTreeMap;

use super::*;
use proptest::prelude::*;

fn payload(i: usize) -> Vec<u8> {
    let mut v = format!("record-{i}-").into_bytes();
    v.resize(12 + i % 23, b'a' + (i % 26) as u8);
    v
}

fn seg_path(dir: &Path, index: u64) -> PathBuf {
    dir.join(segment_name(index))
}

/// Writes records `0..n`, committing every 3.
fn write_records(dir: &Path, n: usize, segment_size: u64) -> Vec<Vec<u8>> {
    let mut w = WalWriter::open_writer(dir, segment_size).unwrap();
    let mut out = Vec::new();
    for i in 0..n {
        let p = payload(i);
        w.write(&p).unwrap();
        out.push(p);
        if i % 3 == 2 {
            w.commit().unwrap();
        }
    }
    w.commit().unwrap();
    out
}

fn collect(dir: &Path, mode: ReplayMode) -> Result<(Vec<Vec<u8>>, ReplayReport)> {
    let mut got = Vec::new();
    let report = replay(dir, mode, |_, p| {
        got.push(p.to_vec());
        Ok(())
    })?;
    Ok((got, report))
}

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[derive(Debug, Clone, Copy)]
struct Frame {
    seg: u64,
    off: u64,
    len: u64,
}

struct Layout {
    frames: Vec<Frame>,
    segments: Vec<u64>,
}

impl Layout {
    fn of(dir: &Path) -> Layout {
        let mut frames = Vec::new();
        let report = replay(dir, ReplayMode::ReadOnly, |at, p| {
            frames.push(Frame {
                seg: at.segment,
                off: at.offset,
                len: p.len() as u64,
            });
            Ok(())
        })
        .unwrap();
        assert!(report.is_clean());
        Layout {
            frames,
            segments: report.segments,
        }
    }
    fn last_seg(&self) -> u64 {
        *self.segments.last().unwrap()
    }
    fn in_seg(&self, seg: u64) -> Vec<(usize, Frame)> {
        self.frames
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, f)| f.seg == seg)
            .collect()
    }
    fn last_frame(&self) -> (usize, Frame) {
        *self.in_seg(self.last_seg()).last().unwrap()
    }
    fn mid_frame(&self, seg: u64) -> (usize, Frame) {
        let fs = self.in_seg(seg);
        fs[fs.len() / 2]
    }
    fn all_but(&self, lost: &[usize]) -> Vec<usize> {
        (0..self.frames.len())
            .filter(|i| !lost.contains(i))
            .collect()
    }
    fn all_but_seg(&self, seg: u64) -> Vec<usize> {
        (0..self.frames.len())
            .filter(|&i| self.frames[i].seg != seg)
            .collect()
    }
}

fn truncate_to(path: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn flip(path: &Path, off: u64, bit: u8) {
    let mut b = fs::read(path).unwrap();
    b[off as usize] ^= 1 << bit;
    fs::write(path, b).unwrap();
}

fn overwrite(path: &Path, off: u64, bytes: &[u8]) {
    let mut b = fs::read(path).unwrap();
    b[off as usize..off as usize + bytes.len()].copy_from_slice(bytes);
    fs::write(path, b).unwrap();
}

fn append(path: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(bytes).unwrap();
}

fn file_len(path: &Path) -> u64 {
    fs::metadata(path).unwrap().len()
}

/// Bytes that look like nothing in particular, reproducibly.
fn garbage(n: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[derive(Debug)]
struct Outcome {
    survivors: Vec<usize>,
    /// (segment, offset, words in `what`)
    tail: Option<(u64, u64, &'static str)>,
    /// (segment, offset, len)
    skipped: Vec<(u64, u64, u64)>,
}

#[derive(Debug)]
enum Expected {
    Replays(Outcome),
    Corrupt { seg: u64 },
    Unsupported { seg: u64 },
}

fn ok(survivors: Vec<usize>) -> Expected {
    Expected::Replays(Outcome {
        survivors,
        tail: None,
        skipped: vec![],
    })
}

fn tail(survivors: Vec<usize>, seg: u64, off: u64, what: &'static str) -> Expected {
    Expected::Replays(Outcome {
        survivors,
        tail: Some((seg, off, what)),
        skipped: vec![],
    })
}

fn skip(survivors: Vec<usize>, regions: Vec<(u64, u64, u64)>) -> Expected {
    Expected::Replays(Outcome {
        survivors,
        tail: None,
        skipped: regions,
    })
}

struct Case {
    name: &'static str,
    /// Damages the files and says what replay must make of them.
    damage: fn(&Path, &Layout) -> Expected,
}

const RECORDS: usize = 36;
const SEGMENT_SIZE: u64 = 256;

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "clean",
            damage: |_, l| ok(l.all_but(&[])),
        },
        Case {
            name: "last segment truncated to 0 bytes",
            damage: |d, l| {
                let last = l.last_seg();
                truncate_to(&seg_path(d, last), 0);
                tail(l.all_but_seg(last), last, 0, "unfinished segment")
            },
        },
        Case {
            name: "last segment truncated inside its header",
            damage: |d, l| {
                let last = l.last_seg();
                truncate_to(&seg_path(d, last), 7);
                tail(l.all_but_seg(last), last, 0, "7 of 16 header bytes")
            },
        },
        Case {
            name: "last segment all zeros (header never reached the disk)",
            damage: |d, l| {
                let last = l.last_seg();
                fs::write(seg_path(d, last), vec![0u8; 4096]).unwrap();
                tail(l.all_but_seg(last), last, 0, "all zeros")
            },
        },
        Case {
            name: "new segment created empty just before a crash",
            damage: |d, l| {
                let next = l.last_seg() + 1;
                fs::write(seg_path(d, next), b"").unwrap();
                tail(l.all_but(&[]), next, 0, "unfinished segment")
            },
        },
        Case {
            name: "truncated inside the last frame's length field",
            damage: |d, l| {
                let (i, f) = l.last_frame();
                truncate_to(&seg_path(d, f.seg), f.off + 2);
                tail(l.all_but(&[i]), f.seg, f.off, "incomplete frame header")
            },
        },
        Case {
            name: "truncated inside the last frame's crc field",
            damage: |d, l| {
                let (i, f) = l.last_frame();
                truncate_to(&seg_path(d, f.seg), f.off + 6);
                tail(l.all_but(&[i]), f.seg, f.off, "incomplete frame header")
            },
        },
        Case {
            name: "truncated inside the last frame's payload",
            damage: |d, l| {
                let (i, f) = l.last_frame();
                truncate_to(&seg_path(d, f.seg), f.off + 8 + f.len / 2);
                tail(l.all_but(&[i]), f.seg, f.off, "past the end")
            },
        },
        Case {
            name: "truncated exactly at a frame boundary",
            damage: |d, l| {
                let (i, f) = l.last_frame();
                truncate_to(&seg_path(d, f.seg), f.off);
                ok(l.all_but(&[i]))
            },
        },
        Case {
            name: "bit flipped in the last frame's payload",
            damage: |d, l| {
                let (i, f) = l.last_frame();
                flip(&seg_path(d, f.seg), f.off + 8 + f.len - 1, 3);
                tail(l.all_but(&[i]), f.seg, f.off, "checksum")
            },
        },
        Case {
            name: "bit flipped in the last frame's crc",
            damage: |d, l| {
                let (i, f) = l.last_frame();
                flip(&seg_path(d, f.seg), f.off + 5, 0);
                tail(l.all_but(&[i]), f.seg, f.off, "checksum")
            },
        },
        Case {
            name: "bit flipped in a middle frame of the last segment",
            damage: |d, l| {
                let (i, f) = l.mid_frame(l.last_seg());
                flip(&seg_path(d, f.seg), f.off + 8, 0);
                skip(l.all_but(&[i]), vec![(f.seg, f.off, 8 + f.len)])
            },
        },
        Case {
            name: "length of a middle frame of the last segment off by 2",
            damage: |d, l| {
                let (i, f) = l.mid_frame(l.last_seg());
                flip(&seg_path(d, f.seg), f.off, 1);
                skip(l.all_but(&[i]), vec![(f.seg, f.off, 8 + f.len)])
            },
        },
        Case {
            name: "middle frame damaged and tail torn in the last segment",
            damage: |d, l| {
                let (m, mf) = l.mid_frame(l.last_seg());
                let (t, tf) = l.last_frame();
                flip(&seg_path(d, mf.seg), mf.off + 9, 7);
                truncate_to(&seg_path(d, tf.seg), tf.off + 3);
                Expected::Replays(Outcome {
                    survivors: l.all_but(&[m, t]),
                    tail: Some((tf.seg, tf.off, "incomplete frame header")),
                    skipped: vec![(mf.seg, mf.off, 8 + mf.len)],
                })
            },
        },
        Case {
            name: "bit flipped in a frame of an earlier segment",
            damage: |d, l| {
                let (i, f) = l.mid_frame(1);
                flip(&seg_path(d, 1), f.off + 8 + 3, 5);
                skip(l.all_but(&[i]), vec![(1, f.off, 8 + f.len)])
            },
        },
        Case {
            name: "bit flipped in the last frame of an earlier segment",
            damage: |d, l| {
                let (i, f) = *l.in_seg(2).last().unwrap();
                flip(&seg_path(d, 2), f.off + 8, 0);
                skip(l.all_but(&[i]), vec![(2, f.off, 8 + f.len)])
            },
        },
        Case {
            name: "huge length field (high bit) in an earlier segment",
            damage: |d, l| {
                let (i, f) = l.mid_frame(1);
                flip(&seg_path(d, 1), f.off + 3, 7);
                skip(l.all_but(&[i]), vec![(1, f.off, 8 + f.len)])
            },
        },
        Case {
            name: "two adjacent frames damaged in an earlier segment",
            damage: |d, l| {
                let fs = l.in_seg(1);
                let (a, fa) = fs[0];
                let (b, fb) = fs[1];
                flip(&seg_path(d, 1), fa.off + 8, 0);
                flip(&seg_path(d, 1), fb.off + 1, 2);
                skip(l.all_but(&[a, b]), vec![(1, fa.off, 16 + fa.len + fb.len)])
            },
        },
        Case {
            name: "earlier segment truncated inside a frame",
            damage: |d, l| {
                let (_, f) = l.mid_frame(2);
                let path = seg_path(d, 2);
                truncate_to(&path, f.off + 4);
                let lost: Vec<usize> = l
                    .in_seg(2)
                    .iter()
                    .filter(|(_, g)| g.off >= f.off)
                    .map(|(i, _)| *i)
                    .collect();
                skip(l.all_but(&lost), vec![(2, f.off, 4)])
            },
        },
        Case {
            name: "zero-filled tail (preallocated blocks)",
            damage: |d, l| {
                let last = l.last_seg();
                let path = seg_path(d, last);
                let end = file_len(&path);
                append(&path, &[0u8; 4096]);
                tail(l.all_but(&[]), last, end, "zero-filled tail")
            },
        },
        Case {
            name: "garbage appended",
            damage: |d, l| {
                let last = l.last_seg();
                let path = seg_path(d, last);
                let end = file_len(&path);
                append(&path, &garbage(1000));
                tail(l.all_but(&[]), last, end, "")
            },
        },
        Case {
            name: "length field far beyond any sane frame at the tail",
            damage: |d, l| {
                let last = l.last_seg();
                let path = seg_path(d, last);
                let end = file_len(&path);
                append(&path, &[0xf0, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7]);
                tail(l.all_but(&[]), last, end, "exceeds")
            },
        },
        Case {
            name: "partial frame being written (length runs past end)",
            damage: |d, l| {
                let last = l.last_seg();
                let path = seg_path(d, last);
                let end = file_len(&path);
                let mut frame = 1000u32.to_le_bytes().to_vec();
                frame.extend_from_slice(&[9; 24]);
                append(&path, &frame);
                tail(l.all_but(&[]), last, end, "past the end")
            },
        },
        Case {
            name: "oldest segment removed after its block was published",
            damage: |d, l| {
                fs::remove_file(seg_path(d, 1)).unwrap();
                ok(l.all_but_seg(1))
            },
        },
        Case {
            name: "segment missing in the middle",
            damage: |d, _| {
                fs::remove_file(seg_path(d, 2)).unwrap();
                Expected::Corrupt { seg: 2 }
            },
        },
        Case {
            name: "wrong magic in the last segment",
            damage: |d, l| {
                overwrite(&seg_path(d, l.last_seg()), 0, b"NOTAWAL!");
                Expected::Corrupt { seg: l.last_seg() }
            },
        },
        Case {
            name: "wrong magic in the first segment",
            damage: |d, _| {
                flip(&seg_path(d, 1), 2, 0);
                Expected::Corrupt { seg: 1 }
            },
        },
        Case {
            name: "earlier segment shorter than its header",
            damage: |d, _| {
                truncate_to(&seg_path(d, 1), 5);
                Expected::Corrupt { seg: 1 }
            },
        },
        Case {
            name: "future version",
            damage: |d, l| {
                overwrite(&seg_path(d, l.last_seg()), 8, &2u32.to_le_bytes());
                Expected::Unsupported { seg: l.last_seg() }
            },
        },
        Case {
            name: "reserved header field set (ignored)",
            damage: |d, l| {
                overwrite(&seg_path(d, 1), 12, &7u32.to_le_bytes());
                ok(l.all_but(&[]))
            },
        },
        Case {
            name: "stray files next to the segments (ignored)",
            damage: |d, l| {
                fs::write(d.join("000000001"), b"x").unwrap();
                fs::write(d.join("00000001.tmp"), b"x").unwrap();
                fs::write(d.join("checkpoint"), b"x").unwrap();
                ok(l.all_but(&[]))
            },
        },
    ]
}

fn check_outcome(
    name: &str,
    mode: ReplayMode,
    records: &[Vec<u8>],
    want: &Outcome,
    got: &[Vec<u8>],
    report: &ReplayReport,
) {
    // As text, so that a failure lists record names rather than bytes.
    let text = |p: &Vec<u8>| String::from_utf8_lossy(p).into_owned();
    let want_records: Vec<String> = want.survivors.iter().map(|&i| text(&records[i])).collect();
    let got_records: Vec<String> = got.iter().map(text).collect();
    assert_eq!(
        got_records, want_records,
        "{name} ({mode:?}): surviving records"
    );
    assert_eq!(report.records, got.len() as u64, "{name}: record count");
    assert_eq!(
        report.bytes,
        got.iter().map(|p| p.len() as u64).sum::<u64>(),
        "{name}: byte count"
    );
    let skipped: Vec<_> = report
        .skipped
        .iter()
        .map(|s| (s.segment, s.offset, s.len))
        .collect();
    assert_eq!(
        skipped, want.skipped,
        "{name} ({mode:?}): skipped regions {:?}",
        report.skipped
    );
    for s in &report.skipped {
        assert!(
            s.to_string().contains(&segment_name(s.segment)),
            "{name}: {s}"
        );
    }
    match (&report.tail, want.tail) {
        (None, None) => {}
        (Some(t), Some((seg, off, what))) => {
            assert_eq!(
                (t.segment, t.offset),
                (seg, off),
                "{name} ({mode:?}): tail {t}"
            );
            assert!(
                t.what.contains(what),
                "{name}: tail says {:?}, want {what:?}",
                t.what
            );
            assert_eq!(t.repaired, mode == ReplayMode::Repair, "{name}: {t}");
            assert!(t.to_string().contains(&segment_name(seg)), "{name}: {t}");
        }
        (t, w) => panic!("{name} ({mode:?}): tail {t:?}, want {w:?}"),
    }
}

#[test]
fn corruption_table() {
    for case in cases() {
        let name = case.name;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("wal");
        let records = write_records(&dir, RECORDS, SEGMENT_SIZE);
        let layout = Layout::of(&dir);
        assert!(layout.segments.len() >= 4, "setup: {:?}", layout.segments);
        assert!(layout.in_seg(1).len() >= 3 && layout.in_seg(layout.last_seg()).len() >= 3);
        let expected = (case.damage)(&dir, &layout);
        let damaged = snapshot(&dir);

        let readonly = collect(&dir, ReplayMode::ReadOnly);
        assert_eq!(
            snapshot(&dir),
            damaged,
            "{name}: ReadOnly replay changed the files"
        );
        let want = match expected {
            Expected::Replays(want) => want,
            Expected::Corrupt { seg } | Expected::Unsupported { seg } => {
                for (mode, res) in [
                    (ReplayMode::ReadOnly, readonly),
                    (ReplayMode::Repair, collect(&dir, ReplayMode::Repair)),
                ] {
                    let err = match res {
                        Ok((_, r)) => panic!("{name} ({mode:?}): replay succeeded: {r:?}"),
                        Err(e) => e,
                    };
                    let right_kind = match expected {
                        Expected::Corrupt { .. } => matches!(err, Error::Corrupt { .. }),
                        _ => matches!(err, Error::UnsupportedVersion { .. }),
                    };
                    assert!(right_kind, "{name} ({mode:?}): {err:?}");
                    assert!(
                        err.to_string().contains(&segment_name(seg)),
                        "{name}: {err}"
                    );
                }
                assert_eq!(
                    snapshot(&dir),
                    damaged,
                    "{name}: a failed replay changed the files"
                );
                continue;
            }
        };
        let (got, report) = readonly.unwrap_or_else(|e| panic!("{name}: ReadOnly replay: {e}"));
        check_outcome(name, ReplayMode::ReadOnly, &records, &want, &got, &report);

        let (got, report) =
            collect(&dir, ReplayMode::Repair).unwrap_or_else(|e| panic!("{name}: Repair: {e}"));
        check_outcome(name, ReplayMode::Repair, &records, &want, &got, &report);
        // Repair touches only the last segment.
        let repaired = snapshot(&dir);
        let last_name = segment_name(*report.segments.last().unwrap());
        for (file, bytes) in &damaged {
            if *file != last_name {
                assert_eq!(
                    repaired.get(file),
                    Some(bytes),
                    "{name}: Repair changed {file}"
                );
            }
        }

        // A second replay finds no tail: the first one cut it.
        let again = Outcome {
            survivors: want.survivors.clone(),
            tail: None,
            skipped: want.skipped.clone(),
        };
        for mode in [ReplayMode::ReadOnly, ReplayMode::Repair] {
            let (got, report) = collect(&dir, mode).unwrap();
            check_outcome(name, mode, &records, &again, &got, &report);
        }
        assert_eq!(
            snapshot(&dir),
            repaired,
            "{name}: second replay changed the files"
        );

        // Writes continue after the repaired end and replay in order.
        let mut w = WalWriter::open_writer(&dir, SEGMENT_SIZE).unwrap();
        let mut all = records.clone();
        let mut after = again;
        for k in 0..5 {
            let p = payload(1000 + k);
            w.write(&p).unwrap();
            after.survivors.push(all.len());
            all.push(p);
        }
        w.commit().unwrap();
        drop(w);
        let (got, report) = collect(&dir, ReplayMode::ReadOnly).unwrap();
        check_outcome(name, ReplayMode::ReadOnly, &all, &after, &got, &report);
    }
}

#[test]
fn records_replay_in_order_across_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wal");
    let records = write_records(&dir, 500, 1024);
    let (got, report) = collect(&dir, ReplayMode::ReadOnly).unwrap();
    assert_eq!(got, records);
    assert!(report.is_clean());
    assert!(report.segments.len() > 5, "{:?}", report.segments);
    assert_eq!(
        report.segments,
        (1..=report.segments.len() as u64).collect::<Vec<_>>()
    );
    for &s in &report.segments {
        assert!(file_len(&seg_path(&dir, s)) <= 1024);
    }
    // Reopening continues in the last segment.
    let w = WalWriter::open_writer(&dir, 1024).unwrap();
    assert_eq!(w.current_segment(), *report.segments.last().unwrap());
}

#[test]
fn nothing_is_on_disk_before_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wal");
    let mut w = WalWriter::open_writer(&dir, 1 << 20).unwrap();
    w.write(b"one").unwrap();
    w.write(b"two").unwrap();
    assert_eq!(file_len(&seg_path(&dir, 1)), SEGMENT_HEADER_SIZE as u64);
    w.commit().unwrap();
    w.commit().unwrap();
    let (got, _) = collect(&dir, ReplayMode::ReadOnly).unwrap();
    assert_eq!(got, vec![b"one".to_vec(), b"two".to_vec()]);
    assert!(matches!(w.write(b""), Err(Error::InvalidArgument(_))));
}

#[test]
fn oversized_frame_goes_alone_in_a_fresh_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wal");
    let mut w = WalWriter::open_writer(&dir, 100).unwrap();
    let big = vec![7u8; 500];
    w.write(b"small").unwrap();
    w.write(&big).unwrap();
    w.write(b"after").unwrap();
    w.commit().unwrap();
    assert_eq!(w.current_segment(), 3);
    let l = Layout::of(&dir);
    let segs: Vec<_> = l.frames.iter().map(|f| (f.seg, f.off)).collect();
    assert_eq!(segs, vec![(1, 16), (2, 16), (3, 16)]);
    let (got, _) = collect(&dir, ReplayMode::ReadOnly).unwrap();
    assert_eq!(got, vec![b"small".to_vec(), big, b"after".to_vec()]);
}

#[test]
fn rotate_and_remove_segments_before() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wal");
    let mut w = WalWriter::open_writer(&dir, 1 << 20).unwrap();
    assert_eq!(w.current_segment(), 1);
    w.write(b"a").unwrap();
    // Rotation commits what is buffered into the old segment.
    assert_eq!(w.rotate().unwrap(), 2);
    w.write(b"b").unwrap();
    w.commit().unwrap();
    assert_eq!(w.rotate().unwrap(), 3);
    assert_eq!(w.rotate().unwrap(), 4);
    w.write(b"c").unwrap();
    w.commit().unwrap();
    assert_eq!(list_segments(&dir).unwrap(), vec![1, 2, 3, 4]);
    let (got, _) = collect(&dir, ReplayMode::ReadOnly).unwrap();
    assert_eq!(got, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);

    assert!(matches!(
        w.remove_segments_before(5),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(w.remove_segments_before(3).unwrap(), 2);
    assert_eq!(w.remove_segments_before(3).unwrap(), 0);
    assert_eq!(list_segments(&dir).unwrap(), vec![3, 4]);
    assert_eq!(w.remove_segments_before(4).unwrap(), 1);
    w.write(b"d").unwrap();
    w.commit().unwrap();
    drop(w);
    let (got, report) = collect(&dir, ReplayMode::Repair).unwrap();
    assert_eq!(got, vec![b"c".to_vec(), b"d".to_vec()]);
    assert_eq!(report.segments, vec![4]);
    assert!(report.is_clean());
}

#[test]
fn segments_removed_while_a_reader_lists_are_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wal");
    let records = write_records(&dir, RECORDS, SEGMENT_SIZE);
    let l = Layout::of(&dir);
    let listed = list_segments(&dir).unwrap();
    fs::remove_file(seg_path(&dir, 1)).unwrap();
    fs::remove_file(seg_path(&dir, 2)).unwrap();
    let mut got = Vec::new();
    let report = replay_listed(&dir, &listed, ReplayMode::ReadOnly, |_, p| {
        got.push(p.to_vec());
        Ok(())
    })
    .unwrap();
    assert_eq!(report.vanished, vec![1, 2]);
    let want: Vec<_> = l
        .frames
        .iter()
        .zip(&records)
        .filter(|(f, _)| f.seg > 2)
        .map(|(_, r)| r.clone())
        .collect();
    assert_eq!(got, want);
}

#[test]
fn callback_error_stops_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wal");
    write_records(&dir, 10, SEGMENT_SIZE);
    let mut n = 0;
    let res = replay(&dir, ReplayMode::ReadOnly, |at, _| {
        n += 1;
        if n == 4 {
            return Err(Error::corrupt(at.file, at.offset, "bad record"));
        }
        Ok(())
    });
    assert!(matches!(res, Err(Error::Corrupt { .. })));
    assert_eq!(n, 4);
}

#[test]
fn empty_or_missing_directory_replays_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let report = replay(&tmp.path().join("nope"), ReplayMode::Repair, |_, _| Ok(())).unwrap();
    assert_eq!(report, ReplayReport::default());
}

#[test]
fn segment_names() {
    assert_eq!(segment_name(1), "00000001");
    assert_eq!(parse_segment_name("00000001"), Some(1));
    assert_eq!(parse_segment_name("123456789"), Some(123_456_789));
    assert_eq!(parse_segment_name("000000001"), None);
    assert_eq!(parse_segment_name("0000001"), None);
    assert_eq!(parse_segment_name("0000000a"), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever follows a good header, replay neither panics nor, in
    /// ReadOnly mode, writes; Repair leaves a log that replays cleanly.
    #[test]
    fn arbitrary_segment_bytes(tail in proptest::collection::vec(any::<u8>(), 0..600), last in any::<bool>()) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let mut bytes = segment_header().to_vec();
        bytes.extend_from_slice(&tail);
        fs::write(seg_path(dir, 1), &bytes).unwrap();
        if !last {
            fs::write(seg_path(dir, 2), segment_header()).unwrap();
        }
        let before = snapshot(dir);
        let (got, _) = collect(dir, ReplayMode::ReadOnly).unwrap();
        prop_assert_eq!(snapshot(dir), before);
        let (got2, _) = collect(dir, ReplayMode::Repair).unwrap();
        prop_assert_eq!(&got2, &got);
        let (got3, r3) = collect(dir, ReplayMode::Repair).unwrap();
        prop_assert_eq!(&got3, &got);
        prop_assert!(r3.tail.is_none());
    }

    /// The shortcuts in `resync` find what a plain byte-by-byte search
    /// finds, on frames with damage of every kind.
    #[test]
    fn resync_agrees_with_a_plain_search(
        lens in proptest::collection::vec(1usize..80, 1..12),
        damage in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
        from in any::<prop::sample::Index>(),
    ) {
        let mut buf = Vec::new();
        for (i, &n) in lens.iter().enumerate() {
            let p = garbage(n + i);
            buf.extend_from_slice(&(p.len() as u32).to_le_bytes());
            buf.extend_from_slice(&crc32fast::hash(&p).to_le_bytes());
            buf.extend_from_slice(&p);
        }
        for (at, x) in damage {
            let i = at.index(buf.len());
            buf[i] ^= x;
        }
        buf.truncate(cut.index(buf.len() + 1));
        let pos = from.index(buf.len() + 1);
        let plain = (pos + 1..buf.len()).find(|&q| check_frame(&buf, q).is_ok());
        prop_assert_eq!(resync(&buf, pos), plain);
    }

    /// A crash can cut the last segment anywhere; what survives is exactly
    /// the frames that end before the cut.
    #[test]
    fn torn_last_segment_keeps_a_prefix(cut in any::<prop::sample::Index>()) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("wal");
        let records = write_records(&dir, 12, 1 << 20);
        let l = Layout::of(&dir);
        let path = seg_path(&dir, 1);
        let len = cut.index(file_len(&path) as usize + 1) as u64;
        truncate_to(&path, len);
        let (got, _) = collect(&dir, ReplayMode::Repair).unwrap();
        let keep = l.frames.iter().filter(|f| f.off + 8 + f.len <= len).count();
        prop_assert_eq!(&got[..], &records[..keep]);
        let mut w = WalWriter::open_writer(&dir, 1 << 20).unwrap();
        w.write(b"next").unwrap();
        w.commit().unwrap();
        let (got, r) = collect(&dir, ReplayMode::ReadOnly).unwrap();
        prop_assert!(r.is_clean());
        prop_assert_eq!(got.last().map(|p| &p[..]), Some(&b"next"[..]));
        prop_assert_eq!(got.len(), keep + 1);
    }
}

/// A damaged length field defeats the shortcut past a flipped payload bit,
/// leaving a byte scan across a large frame of incompressible bytes in a
/// large segment: the case where checksumming every plausible position
/// would cost terabytes.
#[test]
fn resync_past_a_damaged_length_in_a_big_segment_is_fast() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wal");
    let mut w = WalWriter::open_writer(&dir, 256 << 20).unwrap();
    let frames: Vec<Vec<u8>> = (0..24).map(|i| garbage(1 << 20 | i)).collect();
    for f in &frames {
        w.write(f).unwrap();
    }
    w.commit().unwrap();
    drop(w);
    let l = Layout::of(&dir);
    let f = l.frames[2];
    flip(&seg_path(&dir, 1), f.off + 1, 4);
    crate::frame::CRC_BYTES.with(|c| c.set(0));
    let (got, report) = collect(&dir, ReplayMode::ReadOnly).unwrap();
    let checksummed = crate::frame::CRC_BYTES.with(|c| c.get());
    assert_eq!(got.len(), frames.len() - 1);
    assert_eq!(
        report
            .skipped
            .iter()
            .map(|s| (s.offset, s.len))
            .collect::<Vec<_>>(),
        vec![(f.off, 8 + f.len)]
    );
    // The good frames once, plus a search that grows with the cube of the
    // damaged frame's size (~45 MB for its 1 MiB); a plain byte scan
    // checksums about 60 GB here.
    let good: u64 = l.frames.iter().map(|f| f.len).sum();
    assert!(
        checksummed < 4 * good,
        "{checksummed} bytes checksummed for {good} of frames"
    );
}
