//! The performance target: a `dash` redraw (the frame's data
//! gathered from the database, then drawn) over 90 days of an 8-GPU rig
//! in under 50 ms, beside a baseline of one plain instant query on the
//! same database. Ignored by default (it writes 18 million samples); run
//! it with
//! `cargo test --release -p minetsdb-cli dash_bench -- --ignored --nocapture`.

use std::time::Duration;

use minetsdb::{Db, Options};
use minetsdb_collectors::config::Thresholds;

use crate::report::bench::{best_of, rig_90d_8_gpus};

use super::model::{gather, Span};
use super::once::render;
use super::view::{Theme, View};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[test]
#[ignore = "writes 90 days of an 8-GPU rig; run with --release --ignored"]
fn dash_bench_90d_8_gpus() {
    let (dir, end) = rig_90d_8_gpus();
    let th = Thresholds::default();
    let at = end - 30_000;
    let db = Db::open_read_only(dir.path(), Options::default()).unwrap();

    let baseline = best_of(20, || {
        db.query_instant("nvidia_smi_temperature_gpu", at).unwrap();
    });
    let label = dir.path().display().to_string();
    let mut results = Vec::new();
    for span in Span::ALL {
        let m = gather(&db, at, span, &th).unwrap();
        assert_eq!(m.gpus.len(), 8);
        assert!(m
            .gpus
            .iter()
            .all(|g| g.hashrate.is_some() && g.temperature.is_some()));
        let redraw = best_of(10, || {
            let m = gather(&db, at, span, &th).unwrap();
            let v = View {
                model: &m,
                selected: 0,
                db: &label,
                theme: Theme { color: true },
                error: None,
            };
            render(&v, 160, 50).unwrap();
        });
        results.push((span, redraw));
    }
    // What a live refresh does: reopen the read-only view, then redraw.
    let reopen = best_of(5, || {
        let db = Db::open_read_only(dir.path(), Options::default()).unwrap();
        let m = gather(&db, at, Span::H6, &th).unwrap();
        let v = View {
            model: &m,
            selected: 0,
            db: &label,
            theme: Theme { color: true },
            error: None,
        };
        render(&v, 160, 50).unwrap();
    });
    eprintln!("baseline: one instant query {:.3} ms", ms(baseline));
    for (span, d) in &results {
        eprintln!(
            "redraw, sparklines over {:>3}: {:.2} ms ({:.0}x the baseline)",
            span.label(),
            ms(*d),
            d.as_secs_f64() / baseline.as_secs_f64().max(1e-9)
        );
    }
    eprintln!("reopen + redraw (6h): {:.2} ms", ms(reopen));
    // A benchmark reports; it does not pass or fail on a shared machine's
    // timing (the 50 ms target is read off this line).
    let worst = results.iter().map(|r| r.1).max().unwrap_or_default();
    eprintln!(
        "worst redraw {:.2} ms against the 50 ms target ({})",
        ms(worst),
        if worst < Duration::from_millis(50) {
            "met"
        } else {
            "MISSED"
        }
    );
}
