//! `Db::append_backfill`: history loaded series after series is cut to
//! blocks once, at the flush (one block per window), and reads back the
//! same as through `Db::append`.

use minetsdb::{Db, Labels, Matcher, Options, Sample};

const DAY: i64 = 86_400_000;

fn load(dir: &std::path::Path, backfill: bool) -> (usize, Vec<Vec<Sample>>) {
    let db = Db::open(dir, Options::default()).unwrap();
    let refs: Vec<_> = (0..6)
        .map(|s| {
            db.series_ref(&Labels::new("m", &[("s", &s.to_string())]).unwrap())
                .unwrap()
        })
        .collect();
    // Series after series, three days each, in batches of one series.
    for (s, &r) in refs.iter().enumerate() {
        let batch: Vec<_> = (0..3 * DAY / 60_000)
            .map(|i| (r, Sample::new(i * 60_000, (i * s as i64) as f64 * 0.5)))
            .collect();
        let rep = if backfill {
            db.append_backfill(&batch)
        } else {
            db.append(&batch)
        }
        .unwrap();
        assert_eq!(rep.appended, batch.len());
    }
    // A repeat is all duplicates either way.
    let again: Vec<_> = (0..10)
        .map(|i| (refs[0], Sample::new(i * 60_000, 0.0)))
        .collect();
    assert_eq!(db.append_backfill(&again).unwrap().duplicates, 10);
    db.flush().unwrap();
    let blocks = db.stats().blocks;
    let data = (0..6)
        .map(|s| {
            db.select(&[Matcher::equal("s", &s.to_string())], ..)
                .unwrap()
                .flat_map(|r| r.unwrap().samples)
                .collect()
        })
        .collect();
    (blocks, data)
}

#[test]
fn backfill_cuts_each_window_once() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (blocks, data) = load(a.path(), true);
    let (_, want) = load(b.path(), false);
    assert_eq!(data, want);
    assert_eq!(data[5].len(), 3 * 24 * 60);
    assert_eq!(blocks, 3, "one block per day");
    // Reopening replays nothing: the flush emptied the WAL.
    let db = Db::open(a.path(), Options::default()).unwrap();
    assert_eq!(db.open_report().wal_samples, 0);
}

/// 40 days of a small farm loaded series after series, as `import` does,
/// into one database through [`Db::bulk_load`] and into another through
/// `append_backfill`, flush and compact: the same samples read back, the
/// bulk load's blocks are those compaction would have made (compacting
/// them again writes nothing), and they take no more bytes.
#[test]
fn bulk_load_writes_what_compaction_would() {
    fn farm(db: &Db) -> Vec<Vec<(minetsdb::SeriesRef, Sample)>> {
        (0..5)
            .map(|s| {
                let r = db
                    .series_ref(&Labels::new("m", &[("s", &s.to_string())]).unwrap())
                    .unwrap();
                (0..40 * DAY / 60_000)
                    .map(|i| {
                        // Shared jittered scrape times, decimal and
                        // arbitrary values, a stale marker now and then.
                        let t = i * 60_000 + (i * 7919) % 13;
                        let v = match s {
                            0 => (i % 17) as f64 * 0.25,
                            1 if i % 500 == 0 => f64::from_bits(0x7ff0_0000_0000_0002),
                            _ => ((i * s) as f64).sqrt(),
                        };
                        (r, Sample::new(t, v))
                    })
                    .collect()
            })
            .collect()
    }
    fn read(db: &Db) -> Vec<Vec<(i64, u64)>> {
        (0..5)
            .map(|s| {
                db.select(&[Matcher::equal("s", &s.to_string())], ..)
                    .unwrap()
                    .flat_map(|r| r.unwrap().samples)
                    .map(|x| (x.t, x.v.to_bits()))
                    .collect()
            })
            .collect()
    }
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let bulk = Db::open(a.path(), Options::default()).unwrap();
    let mut load = bulk.bulk_load().unwrap();
    let mut appended = 0;
    for batch in farm(&bulk) {
        for part in batch.chunks(100_000) {
            appended += load.append(part).unwrap().appended;
        }
    }
    let rep = load.commit().unwrap();
    assert_eq!(rep.appended, appended);
    assert_eq!(rep.appended, 5 * 40 * 1440);

    let slow = Db::open(b.path(), Options::default()).unwrap();
    for batch in farm(&slow) {
        slow.append_backfill(&batch).unwrap();
    }
    slow.flush().unwrap();
    slow.compact().unwrap();

    assert_eq!(read(&bulk), read(&slow));
    let (sb, ss) = (bulk.stats(), slow.stats());
    assert_eq!(sb.blocks_per_level, ss.blocks_per_level);
    assert!(
        sb.block_bytes <= ss.block_bytes,
        "bulk {} bytes, compacted {}",
        sb.block_bytes,
        ss.block_bytes
    );
    let again = bulk.compact().unwrap();
    assert_eq!(again.blocks_written, 0, "{again:?}");
    assert!(bulk.verify().is_empty());

    // Durable: a reopen finds it all, with no WAL to replay.
    drop(bulk);
    let db = Db::open(a.path(), Options::default()).unwrap();
    assert_eq!(db.open_report().wal_samples, 0);
    assert_eq!(read(&db), read(&slow));

    // A second load of the same history is all duplicates, and one value
    // changed is a conflict that keeps the stored one.
    let mut load = db.bulk_load().unwrap();
    let mut batches = farm(&db);
    batches[2][100].1.v = -1.0;
    let mut dup = 0;
    let mut conflicts = 0;
    for batch in &batches {
        let r = load.append(batch).unwrap();
        assert_eq!(r.appended, 0);
        dup += r.duplicates;
        conflicts += r.conflicts;
    }
    load.commit().unwrap();
    assert_eq!((dup, conflicts), (5 * 40 * 1440 - 1, 1));
    assert_eq!(read(&db), read(&slow));
}
