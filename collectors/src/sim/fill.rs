//! Writing a simulated rig's history into a database: the one loop behind
//! `minetsdb demo`, the benchmarks and tests.

use minetsdb::{Db, Sample, SeriesRef};

use super::Rig;

/// Appends every scrape of `rig` in `[start_ms, end_ms)` to `db`, one
/// append (one fsync) per `scrapes_per_batch` scrapes, calling
/// `progress(t)` after each batch. Returns the samples appended.
pub fn backfill_into(
    rig: &mut Rig,
    db: &Db,
    start_ms: i64,
    end_ms: i64,
    scrapes_per_batch: usize,
    mut progress: impl FnMut(i64),
) -> minetsdb::Result<u64> {
    let refs: Vec<SeriesRef> = rig
        .series()
        .iter()
        .map(|l| db.series_ref(l))
        .collect::<Result<_, _>>()?;
    let per_batch = scrapes_per_batch.max(1) * refs.len();
    let mut batch = Vec::with_capacity(per_batch);
    let mut appended = 0u64;
    let mut failed = None;
    rig.backfill_with(start_ms, end_ms, |t, values| {
        if failed.is_some() {
            return;
        }
        batch.extend(
            refs.iter()
                .zip(values)
                .map(|(r, &v)| (*r, Sample::new(t, v))),
        );
        if batch.len() >= per_batch {
            match db.append(&batch) {
                Ok(rep) => appended += rep.appended as u64,
                Err(e) => failed = Some(e),
            }
            batch.clear();
            progress(t);
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    appended += db.append(&batch)?.appended as u64;
    progress(end_ms);
    Ok(appended)
}
