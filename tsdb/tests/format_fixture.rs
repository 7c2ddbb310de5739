//! Format drift guard: `fixtures/v1_db` was written by format version 1
//! (registry 1, WAL 1, block 1) and is checked in. Every later build must
//! read it and give back exactly the samples below; a format change must
//! bump a version and keep this test passing (or fail with a clear
//! version error if old files are dropped, which needs a decision).
//!
//! Regenerate only for a new format version, into a new directory:
//! `MINETSDB_WRITE_FIXTURE=$PWD/tests/fixtures/vN_db [MINETSDB_FIXTURE_COMPACT=1] cargo test -p minetsdb --test format_fixture -- --ignored write_fixture`
//! (`v2_db` was written with `MINETSDB_FIXTURE_COMPACT=1` and 4-hour
//! compaction windows, so it holds a level-1 block with sources; `v3_db`
//! with `MINETSDB_FIXTURE_COMPACT=1 MINETSDB_FIXTURE_TIERS=1`, so it also
//! holds raw blocks with hourly sub-summaries and a 5-minute tier block.)

use std::path::{Path, PathBuf};

use minetsdb::{Db, Labels, Matcher, Metadata, MetricType, Options, Sample, Tier};

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

fn opts() -> Options {
    let mut o = Options::default();
    o.block_span_ms = 3_600_000;
    o.out_of_order_grace_ms = 60_000;
    o.max_chunk_samples = 50;
    o.compaction_spans_ms = vec![4 * 3_600_000];
    o
}

/// The fixture's contents: (labels, samples) per series.
fn expected() -> Vec<(Labels, Vec<Sample>)> {
    let gpu = |m: &str| Labels::new(m, &[("uuid", "GPU-0"), ("instance", "rig1")]).unwrap();
    // 90 one-minute scrapes with ms jitter: the first hour goes to a block,
    // the rest stays in the WAL.
    let ts: Vec<i64> = (0..90)
        .map(|i| T0 + i * 60_000 + (i * 37 % 9) - 4)
        .collect();
    let temp: Vec<Sample> = ts
        .iter()
        .enumerate()
        .map(|(i, &t)| Sample::new(t, 60.0 + (i % 5) as f64))
        .collect();
    let power: Vec<Sample> = ts
        .iter()
        .enumerate()
        .map(|(i, &t)| Sample::new(t, 220.0 + (i * 13 % 97) as f64 / 100.0))
        .collect();
    let hash: Vec<Sample> = ts
        .iter()
        .enumerate()
        .map(|(i, &t)| Sample::new(t, 61_000_000.0 * (1.0 + ((i * 7919) % 101) as f64 / 3333.0)))
        .collect();
    let odd: Vec<Sample> = [
        f64::NAN,
        -0.0,
        f64::INFINITY,
        f64::from_bits(1),
        f64::from_bits(0x7ff8_0000_0000_0bad),
    ]
    .iter()
    .enumerate()
    .map(|(i, &v)| Sample::new(T0 + i as i64 * 60_000, v))
    .collect();
    let flat: Vec<Sample> = ts.iter().map(|&t| Sample::new(t, 1905.0)).collect();
    vec![
        (gpu("nvidia_smi_temperature_gpu"), temp),
        (gpu("nvidia_smi_power_draw_watts"), power),
        (gpu("miner_hashrate_hashes_per_second"), hash),
        (gpu("odd_values"), odd),
        (gpu("nvidia_smi_clocks_current_graphics_clock_hz"), flat),
    ]
}

/// Version 2 adds a series backfilled into the window before `T0`, so that
/// window holds two blocks and compaction merges them into one with sources.
fn expected_v2() -> Vec<(Labels, Vec<Sample>)> {
    let mut e = expected();
    let l = Labels::new("pool_unpaid_balance", &[("pool", "ethermine")]).unwrap();
    e.push((
        l,
        (1..=5)
            .map(|i| Sample::new(T0 - i * 600_000, 0.01 * i as f64))
            .rev()
            .collect(),
    ));
    e
}

/// Version 3 adds a counter (with a reset) two hours older still, which
/// the writer's 5-minute tier (after 2 h) turns into buckets.
fn tiered_v3() -> (Labels, Vec<Sample>) {
    let l = Labels::new("pool_paid_total", &[("pool", "ethermine")]).unwrap();
    let values = [10.0, 20.0, 30.0, 5.0, 15.0, 25.0, 35.0, 45.0, 50.0, 60.0];
    let samples = values
        .iter()
        .enumerate()
        .map(|(k, &v)| Sample::new(T0 - 3 * 3_600_000 + (k as i64 + 1) * 300_000, v))
        .collect();
    (l, samples)
}

fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
#[ignore = "writes a fixture for a new format version; run by hand (see the module docs)"]
fn write_fixture() {
    let Ok(dir) = std::env::var("MINETSDB_WRITE_FIXTURE") else {
        return;
    };
    let tiers = std::env::var_os("MINETSDB_FIXTURE_TIERS").is_some();
    let mut o = opts();
    if tiers {
        o.downsampling = vec![Tier {
            resolution_ms: 300_000,
            after_ms: 2 * 3_600_000,
        }];
    }
    let db = Db::open(&dir, o).unwrap();
    db.set_metadata(
        "nvidia_smi_power_draw_watts",
        Metadata {
            metric_type: MetricType::Gauge,
            unit: "watts".into(),
            help: "Power draw".into(),
        },
    )
    .unwrap();
    let series = expected();
    for i in 0..90 {
        let batch: Vec<(Labels, Sample)> = series
            .iter()
            .filter_map(|(l, s)| s.get(i).map(|x| (l.clone(), *x)))
            .collect();
        db.append_labeled(&batch).unwrap();
    }
    // Version 2 fixtures hold a compacted block (with a source list).
    if std::env::var_os("MINETSDB_FIXTURE_COMPACT").is_some() {
        let (l, s) = expected_v2().pop().unwrap();
        let batch: Vec<(Labels, Sample)> = s.into_iter().map(|x| (l.clone(), x)).collect();
        db.append_labeled(&batch).unwrap();
        if tiers {
            let (l, s) = tiered_v3();
            let batch: Vec<(Labels, Sample)> = s.into_iter().map(|x| (l.clone(), x)).collect();
            db.append_labeled(&batch).unwrap();
        }
        let rep = db.compact().unwrap();
        eprintln!("{rep:?}");
        assert!(rep.blocks_written >= 1, "{rep:?}");
    }
    drop(db);
    std::fs::remove_file(Path::new(&dir).join("LOCK")).unwrap();
}

#[test]
fn version_1_fixture_reads_back_exactly() {
    reads_back_exactly("v1_db", expected());
}

/// Block format 2: a compacted block naming its sources.
#[test]
fn version_2_fixture_reads_back_exactly() {
    reads_back_exactly("v2_db", expected_v2());
}

/// Block format 3: raw blocks with hourly sub-summaries beside their
/// chunks, and a tier block of 5-minute buckets (first, last, min, max,
/// sum, resets) whose sources are the raw blocks it replaced.
#[test]
fn version_3_fixture_reads_back_exactly() {
    reads_back_exactly("v3_db", expected_v2());
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixture_dir("v3_db"), tmp.path());
    let db = Db::open_read_only(tmp.path(), opts()).unwrap();
    assert!(
        db.stats().by_resolution.contains_key(&300_000),
        "v3 fixture should hold a 5-minute tier block: {:?}",
        db.stats().by_resolution
    );
    let (_, raw) = tiered_v3();
    let vals: Vec<f64> = raw.iter().map(|s| s.v).collect();
    let t = T0 - 3_600_000;
    let one = |q: &str| -> f64 {
        let v = db
            .query_instant(q, t)
            .unwrap_or_else(|e| panic!("{q}: {e}"));
        match v {
            minetsdb::promql::Value::Vector(s) if s.len() == 1 => s[0].sample.v,
            other => panic!("{q}: {other:?}"),
        }
    };
    let sel = "pool_paid_total[2h]";
    assert_eq!(one(&format!("count_over_time({sel})")), vals.len() as f64);
    assert_eq!(
        one(&format!("sum_over_time({sel})")),
        vals.iter().sum::<f64>()
    );
    assert_eq!(one(&format!("max_over_time({sel})")), 60.0);
    assert_eq!(one(&format!("min_over_time({sel})")), 5.0);
}

fn reads_back_exactly(name: &str, expected: Vec<(Labels, Vec<Sample>)>) {
    // Copy first: nothing may write into the checked-in files.
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixture_dir(name), tmp.path());
    let before = snapshot(tmp.path());
    let db = Db::open_read_only(tmp.path(), opts()).unwrap();
    assert!(
        db.open_report().damage.is_empty(),
        "{:?}",
        db.open_report().damage
    );
    let st = db.stats();
    assert!(
        st.blocks >= 1 && st.head_samples > 0,
        "fixture should hold blocks and a WAL: {st:?}"
    );
    let first = expected[0].0.clone();
    for (labels, want) in expected {
        let got: Vec<Sample> = db
            .select(&[Matcher::metric(labels.metric_name())], ..)
            .unwrap()
            .flat_map(|s| s.unwrap().samples)
            .collect();
        assert_eq!(got, want, "{labels}");
    }
    let md = db.metadata("nvidia_smi_power_draw_watts").unwrap();
    assert_eq!(
        (md.metric_type, md.unit.as_str()),
        (MetricType::Gauge, "watts")
    );
    assert!(db.verify().is_empty());
    drop(db);
    assert_eq!(before, snapshot(tmp.path()), "read-only open changed files");
    // A writer opens it too, and appends after the old data.
    let db = Db::open(tmp.path(), opts()).unwrap();
    assert_eq!(
        db.append_labeled(&[(first, Sample::new(T0 + 100 * 60_000, 1.0))])
            .unwrap()
            .appended,
        1
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            v.extend(snapshot(&e.path()));
        } else {
            v.push((e.path(), std::fs::read(e.path()).unwrap()));
        }
    }
    v.sort();
    v
}
