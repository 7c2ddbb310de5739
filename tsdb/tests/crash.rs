//! Crash test: a child process appends batches and prints each one the
//! database acknowledged; the parent SIGKILLs it at a random moment,
//! reopens, and checks that every acknowledged sample is there, exactly,
//! and that nothing else but whole unacknowledged batches appeared.
//!
//! The child is this same test binary, run with `MINETSDB_CRASH_CHILD` set
//! (see `crash_child`), so the test needs no other executable.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use minetsdb::{Db, Labels, Matcher, Options, Sample};

const SERIES: usize = 20;
const ROUNDS: u64 = 200;

fn opts() -> Options {
    let mut o = Options::default();
    // A block every 40 batches, so kills also land inside cuts: block
    // publish, WAL rotation and segment removal.
    o.block_span_ms = 40 * 60_000;
    o.out_of_order_grace_ms = 60_000;
    o.max_chunk_samples = 16;
    o.wal_segment_bytes = 8192;
    o
}

fn value(batch: u64, s: usize) -> f64 {
    // Mixes decimal-friendly and arbitrary floats.
    if s.is_multiple_of(2) {
        (batch as f64) * 0.25 + s as f64
    } else {
        f64::from_bits((batch.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ s as u64) >> 2)
    }
}

fn labels(s: usize) -> Labels {
    Labels::new("crash_metric", &[("s", &s.to_string())]).unwrap()
}

/// The child: appends batch after batch from `MINETSDB_CRASH_START` and
/// prints "ack N" after each returns. Does nothing in a normal test run.
#[test]
#[ignore = "child process of the crash tests, run by them with --ignored"]
fn crash_child() {
    let Ok(dir) = std::env::var("MINETSDB_CRASH_CHILD") else {
        return;
    };
    let start: u64 = std::env::var("MINETSDB_CRASH_START")
        .unwrap()
        .parse()
        .unwrap();
    let db = Db::open(&dir, opts()).unwrap();
    let refs: Vec<_> = (0..SERIES)
        .map(|s| db.series_ref(&labels(s)).unwrap())
        .collect();
    let mut bulk: Option<(minetsdb::BulkLoad<'_>, u64)> = None;
    for b in start.. {
        let t = b as i64 * 60_000;
        let batch: Vec<_> = refs
            .iter()
            .enumerate()
            .map(|(s, &r)| (r, Sample::new(t, value(b, s))))
            .collect();
        // Runs of batches through the backfill path, which defers cuts,
        // and through a bulk load (`import`'s), acknowledged at its commit:
        // acknowledged there must hold just the same.
        let mode = (b / 7) % 3;
        if mode != 2 {
            // Leaving a run of bulk batches: commit what it still holds.
            if let Some((load, first)) = bulk.take() {
                load.commit().unwrap();
                for a in first..b {
                    println!("ack {a}");
                }
            }
        }
        match mode {
            0 => db.append_backfill(&batch).map(|_| ()).unwrap(),
            1 => db.append(&batch).map(|_| ()).unwrap(),
            _ => {
                let (load, first) = bulk.get_or_insert_with(|| (db.bulk_load().unwrap(), b));
                load.append(&batch).unwrap();
                if b % 2 == 1 {
                    let first = *first;
                    let (load, _) = bulk.take().unwrap();
                    load.commit().unwrap();
                    for a in first..=b {
                        println!("ack {a}");
                    }
                }
                continue;
            }
        }
        println!("ack {b}");
    }
}

#[test]
fn kill_at_random_moments_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut acked = BTreeSet::new();
    let mut seed: u64 = 0x5eed;
    let started = Instant::now();
    for round in 0..ROUNDS {
        let start = round * 10_000;
        let mut child = Command::new(&exe)
            .args([
                "crash_child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("MINETSDB_CRASH_CHILD", dir.path())
            .env("MINETSDB_CRASH_START", start.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("ack ") {
                    got.push(n.parse::<u64>().unwrap());
                }
            }
            got
        });
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(5 + (seed >> 33) % 60));
        child.kill().unwrap();
        child.wait().unwrap();
        acked.extend(reader.join().unwrap());

        // Reopen (repairing) and check everything acknowledged so far.
        let db = Db::open(dir.path(), opts()).unwrap();
        let mut seen_batches = BTreeSet::new();
        for s in 0..SERIES {
            let got: Vec<Sample> = db
                .select(&[Matcher::equal("s", &s.to_string())], ..)
                .unwrap()
                .flat_map(|r| r.unwrap().samples)
                .collect();
            for smp in &got {
                let b = (smp.t / 60_000) as u64;
                assert_eq!(
                    smp.v.to_bits(),
                    value(b, s).to_bits(),
                    "round {round} series {s} batch {b}"
                );
                if s == 0 {
                    seen_batches.insert(b);
                }
            }
            let have: BTreeSet<u64> = got.iter().map(|x| (x.t / 60_000) as u64).collect();
            let missing: Vec<_> = acked.difference(&have).take(5).collect();
            assert!(
                missing.is_empty(),
                "round {round} series {s}: acknowledged batches lost: {missing:?}"
            );
        }
        drop(db);
    }
    eprintln!(
        "{ROUNDS} kill rounds, {} batches acknowledged, {:?}",
        acked.len(),
        started.elapsed()
    );
    // About one batch per round is acknowledged on an idle machine; on a
    // loaded one the child spends more of each round starting up, so the
    // bar is half that: enough to show the kills land among appends.
    assert!(
        acked.len() as u64 > ROUNDS / 2,
        "child barely ran; test is not testing"
    );
}

/// Readers beside a live writer process: while the child appends (and cuts
/// blocks, rotating and deleting WAL segments), the parent opens read-only
/// again and again; every open must succeed and show every batch that was
/// acknowledged before it began, with the right values.
#[test]
fn readers_see_every_acknowledged_batch_while_writer_runs() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(&exe)
        .args([
            "crash_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("MINETSDB_CRASH_CHILD", dir.path())
        .env("MINETSDB_CRASH_START", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(-1));
    let acked2 = acked.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("ack ") {
                acked2.store(n.parse().unwrap(), std::sync::atomic::Ordering::SeqCst);
            }
        }
    });
    // Runs until enough opens have raced enough cuts (a few seconds here),
    // with a generous bound for a slow machine.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut opens = 0;
    let mut max_seen = 0;
    while Instant::now() < deadline && !(opens >= 200 && max_seen > 400) {
        let before = acked.load(std::sync::atomic::Ordering::SeqCst);
        if before < 0 {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        let db = Db::open_read_only(dir.path(), opts()).unwrap();
        for s in [0usize, SERIES - 1] {
            let got: Vec<Sample> = db
                .select(&[Matcher::equal("s", &s.to_string())], ..)
                .unwrap()
                .flat_map(|r| r.unwrap().samples)
                .collect();
            let have: BTreeSet<u64> = got.iter().map(|x| (x.t / 60_000) as u64).collect();
            for b in 0..=before as u64 {
                assert!(
                    have.contains(&b),
                    "open {opens}: series {s} lacks acknowledged batch {b}"
                );
            }
            for smp in &got {
                assert_eq!(smp.v.to_bits(), value((smp.t / 60_000) as u64, s).to_bits());
            }
            max_seen = max_seen.max(have.len());
        }
        opens += 1;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    eprintln!("{opens} read-only opens beside the writer, up to {max_seen} batches seen");
    assert!(
        opens >= 10 && max_seen > 80,
        "writer or reader barely ran: {opens} opens, {max_seen} batches"
    );
}
