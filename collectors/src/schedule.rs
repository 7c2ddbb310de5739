//! When a job is due, kept in the database itself so that each job's
//! interval holds across `collect --once` runs under cron.
//!
//! Every run of a job appends one sample to
//! `minetsdb_job_last_run_timestamp_seconds{job="<name>"}` (GPUs: `job="nvml"`):
//! the run's start time, in Unix seconds, at that time. A job is due when
//! no run is recorded, or when the last one started at least
//! `interval - interval/20` ago: the 5 % allowance lets a 1-minute cron whose
//! start wanders by a second or two still run a 1-minute job every minute,
//! and keeps a 5-minute pool job (4m45s) to one request per 5 cron minutes.
//! A failed run counts as a run (a pool that is down is not hammered). A
//! recorded run in the future (the clock was set back) is ignored.
//!
//! A source told to back off (a pool's HTTP 429 with `Retry-After`) appends
//! `minetsdb_job_backoff_until_timestamp_seconds{job="<name>"}` = the end of
//! the wait, in Unix seconds, with its collection. [`held_until`] reads it
//! back, and `collect` (loop and `--once`) skips the job while it holds:
//! the wait survives the end of a `collect --once` process. A wait is
//! honoured for at most [`MAX_BACKOFF_MS`] (a day).

use minetsdb::{Db, Labels, Matcher, Metadata, MetricType, Sample, METRIC_NAME_LABEL};

/// The series that records each job's runs.
pub const LAST_RUN_METRIC: &str = "minetsdb_job_last_run_timestamp_seconds";

/// The series that records how long a job must wait (a pool's 429).
pub const BACKOFF_METRIC: &str = "minetsdb_job_backoff_until_timestamp_seconds";

/// The longest wait honoured: a day. A `Retry-After` of a week is more
/// likely a misconfigured server than a plan.
pub const MAX_BACKOFF_MS: i64 = 86_400_000;

/// The sample that holds `job` until `until_ms`, recorded at `now_ms`.
pub fn backoff_sample(job: &str, now_ms: i64, until_ms: i64) -> (Labels, Sample) {
    let labels = Labels::new(BACKOFF_METRIC, &[("job", job)])
        .or_else(|_| Labels::new(BACKOFF_METRIC, &[]))
        .unwrap_or_default();
    (labels, Sample::new(now_ms, until_ms as f64 / 1e3))
}

/// Metadata of [`BACKOFF_METRIC`].
pub fn backoff_metadata() -> (String, Metadata) {
    (
        BACKOFF_METRIC.to_string(),
        Metadata {
            metric_type: MetricType::Gauge,
            unit: "seconds".to_string(),
            help: "Until when the job is held back (a pool's HTTP 429 Retry-After), Unix time."
                .to_string(),
        },
    )
}

/// When the last back-off recorded for `job` (within [`MAX_BACKOFF_MS`]
/// before `now_ms`) ends, if it ends after `now_ms`: the job is held until
/// then. `None`: not held.
pub fn held_until(db: &Db, job: &str, now_ms: i64) -> Result<Option<i64>, minetsdb::Error> {
    let matchers = [
        Matcher::equal(METRIC_NAME_LABEL, BACKOFF_METRIC),
        Matcher::equal("job", job),
    ];
    let from = now_ms.saturating_sub(MAX_BACKOFF_MS);
    let mut last: Option<Sample> = None;
    for series in db.select(&matchers, from..=now_ms)? {
        if let Some(s) = series?.samples.last() {
            if last.is_none_or(|l| s.t >= l.t) {
                last = Some(*s);
            }
        }
    }
    Ok(last.and_then(|s| {
        let until = (s.v * 1e3).round();
        let until = if until.is_finite() {
            until as i64
        } else {
            return None;
        };
        let until = until.min(s.t.saturating_add(MAX_BACKOFF_MS));
        (until > now_ms).then_some(until)
    }))
}

/// The allowance under the interval: 5 % of it.
pub fn tolerance_ms(interval_ms: i64) -> i64 {
    interval_ms / 20
}

/// Whether a job last run at `last_ms` (if ever) is due at `now_ms`.
pub fn is_due(last_ms: Option<i64>, now_ms: i64, interval_ms: i64) -> bool {
    match last_ms {
        None => true,
        Some(last) => now_ms.saturating_sub(last) >= interval_ms - tolerance_ms(interval_ms),
    }
}

/// The start of the last recorded run of `job` not after `now_ms`, looking
/// back only as far as matters for `interval_ms` (so years of history are
/// not read): `None` when there is none in that window.
pub fn last_run(
    db: &Db,
    job: &str,
    now_ms: i64,
    interval_ms: i64,
) -> Result<Option<i64>, minetsdb::Error> {
    let matchers = [
        Matcher::equal(METRIC_NAME_LABEL, LAST_RUN_METRIC),
        Matcher::equal("job", job),
    ];
    let from = now_ms.saturating_sub(interval_ms);
    let mut last = None;
    for series in db.select(&matchers, from..=now_ms)? {
        if let Some(s) = series?.samples.last() {
            last = last.max(Some(s.t));
        }
    }
    Ok(last)
}

/// Records that `job` ran, starting at `now_ms`.
pub fn record_run(db: &Db, job: &str, now_ms: i64) -> Result<(), minetsdb::Error> {
    db.append_labeled(&[run_sample(job, now_ms)?])?;
    let (name, md) = run_metadata();
    db.set_metadata(&name, md)
}

/// The sample [`record_run`] appends, for callers that append it in a
/// batch of their own.
pub fn run_sample(job: &str, now_ms: i64) -> Result<(Labels, Sample), minetsdb::Error> {
    let labels = Labels::new(LAST_RUN_METRIC, &[("job", job)])?;
    Ok((labels, Sample::new(now_ms, now_ms as f64 / 1e3)))
}

/// The metadata of the run-state series.
pub fn run_metadata() -> (String, Metadata) {
    (
        LAST_RUN_METRIC.to_string(),
        Metadata {
            metric_type: MetricType::Gauge,
            unit: "seconds".to_string(),
            help: "Start of the last run of the job by minetsdb collect, Unix time.".to_string(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_rule() {
        let m = 60_000;
        assert!(is_due(None, 0, m));
        assert!(!is_due(Some(1_000_000), 1_000_000, m));
        assert!(!is_due(Some(1_000_000), 1_000_000 + 56_999, m));
        assert!(is_due(Some(1_000_000), 1_000_000 + 57_000, m));
        assert!(is_due(Some(1_000_000), 1_000_000 + 61_000, m));
        let five = 300_000;
        assert!(!is_due(Some(0), 240_000, five));
        assert!(is_due(Some(0), 285_000, five));
    }

    #[test]
    fn state_round_trips_through_the_db() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("db");
        let db = Db::open(&dir, minetsdb::Options::default()).unwrap();
        let t0 = 1_700_000_000_000;
        assert_eq!(last_run(&db, "node", t0, 60_000).unwrap(), None);
        record_run(&db, "node", t0).unwrap();
        record_run(&db, "pool", t0 + 10).unwrap();
        assert_eq!(last_run(&db, "node", t0 + 1_000, 60_000).unwrap(), Some(t0));
        assert_eq!(
            last_run(&db, "pool", t0 + 1_000, 60_000).unwrap(),
            Some(t0 + 10)
        );
        // Out of the window: as good as never run.
        assert_eq!(last_run(&db, "node", t0 + 120_000, 60_000).unwrap(), None);
        // In the future: ignored.
        assert_eq!(last_run(&db, "node", t0 - 1, 60_000).unwrap(), None);
        drop(db);
        let db = Db::open(&dir, minetsdb::Options::default()).unwrap();
        assert_eq!(last_run(&db, "node", t0 + 1_000, 60_000).unwrap(), Some(t0));
    }

    #[test]
    fn backoff_round_trips_through_the_db() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Db::open(tmp.path().join("db"), minetsdb::Options::default()).unwrap();
        let t0 = 1_700_000_000_000;
        assert_eq!(held_until(&db, "pool", t0).unwrap(), None);
        db.append_labeled(&[backoff_sample("pool", t0, t0 + 120_000)])
            .unwrap();
        assert_eq!(held_until(&db, "pool", t0 + 1).unwrap(), Some(t0 + 120_000));
        assert_eq!(held_until(&db, "other", t0 + 1).unwrap(), None);
        assert_eq!(held_until(&db, "pool", t0 + 120_000).unwrap(), None);
        // A later, shorter back-off replaces it.
        db.append_labeled(&[backoff_sample("pool", t0 + 10_000, t0 + 20_000)])
            .unwrap();
        assert_eq!(held_until(&db, "pool", t0 + 30_000).unwrap(), None);
        // Capped at a day from when it was recorded.
        db.append_labeled(&[backoff_sample(
            "pool",
            t0 + 40_000,
            t0 + 10 * MAX_BACKOFF_MS,
        )])
        .unwrap();
        assert_eq!(
            held_until(&db, "pool", t0 + 50_000).unwrap(),
            Some(t0 + 40_000 + MAX_BACKOFF_MS)
        );
    }
}
