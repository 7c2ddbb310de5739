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
