//! The input: the simulated 1-GPU rig and 8-GPU farm at one-minute
//! scrapes and the node_exporter-shaped host at one second, all ending at
//! the same instant, held in memory as the truth the read-back is checked
//! against and written once in each peer's import format.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use minetsdb_collectors::sim::{Rig, RigConfig};

use crate::node::{Node, Rng};

const MIN_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// How much data: `full` is the sizes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    Full,
    Small,
    Tiny,
}

impl Scale {
    pub fn parse(s: &str) -> anyhow::Result<Scale> {
        Ok(match s {
            "full" => Scale::Full,
            "small" => Scale::Small,
            "tiny" => Scale::Tiny,
            _ => anyhow::bail!("--scale: {s:?} is not one of full, small, tiny"),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Scale::Full => "full",
            Scale::Small => "small",
            Scale::Tiny => "tiny",
        }
    }

    /// (rig span, farm span, node span), ms.
    fn spans(self) -> (i64, i64, i64) {
        match self {
            // The node set at one second is the largest per hour; six hours
            // keep it the same order of samples as the others.
            Scale::Full => (90 * DAY_MS, 30 * DAY_MS, 6 * HOUR_MS),
            Scale::Small => (14 * DAY_MS, 4 * DAY_MS, HOUR_MS),
            Scale::Tiny => (2 * DAY_MS, DAY_MS, 10 * MIN_MS),
        }
    }
}

/// Every data set ends here: 2026-04-01T00:00:00Z, in the past (peers
/// refuse samples far in the future) and fixed, so runs are comparable.
pub const END_MS: i64 = minetsdb_benches::START_MS + 90 * DAY_MS;

/// One series: its canonical key (`name{a="b",...}`, labels sorted),
/// which is also a PromQL selector for exactly it, and its samples.
pub struct Series {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub samples: Vec<(i64, f64)>,
}

/// What was generated, by key.
pub struct Truth {
    pub series: BTreeMap<String, Series>,
    /// First sample time over all sets.
    pub start_ms: i64,
    /// What each data set holds: (name, series, samples, first ms).
    pub sets: Vec<(String, usize, u64, i64)>,
}

impl Truth {
    pub fn samples(&self) -> u64 {
        self.series.values().map(|s| s.samples.len() as u64).sum()
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `name{a="b",...}` with labels sorted by name.
pub fn key(name: &str, labels: &[(String, String)]) -> String {
    let mut l: Vec<&(String, String)> = labels.iter().collect();
    l.sort();
    let inner: Vec<String> = l
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{name}{{{}}}", inner.join(","))
}

fn insert(
    truth: &mut BTreeMap<String, Series>,
    name: String,
    labels: Vec<(String, String)>,
) -> String {
    let k = key(&name, &labels);
    truth.insert(
        k.clone(),
        Series {
            name,
            labels,
            samples: Vec::new(),
        },
    );
    k
}

fn rig(truth: &mut Truth, set: &str, instance: &str, gpus: usize, seed: u64, span: i64) {
    let mut rig = Rig::new(RigConfig {
        seed,
        gpus,
        rig: instance.to_string(),
        ..RigConfig::default()
    });
    let keys: Vec<String> = rig
        .series()
        .iter()
        .map(|l| {
            let labels = l
                .iter()
                .filter(|x| x.name != "__name__")
                .map(|x| (x.name.to_string(), x.value.to_string()))
                .collect();
            insert(&mut truth.series, l.metric_name().to_string(), labels)
        })
        .collect();
    let mut cols: Vec<Vec<(i64, f64)>> = vec![Vec::new(); keys.len()];
    rig.backfill_with(END_MS - span, END_MS, |t, values| {
        for (c, &v) in cols.iter_mut().zip(values) {
            c.push((t, v));
        }
    });
    finish(truth, set, keys, cols, END_MS - span);
}

fn finish(truth: &mut Truth, set: &str, keys: Vec<String>, cols: Vec<Vec<(i64, f64)>>, first: i64) {
    let n: u64 = cols.iter().map(|c| c.len() as u64).sum();
    truth.sets.push((set.to_string(), keys.len(), n, first));
    for (k, c) in keys.into_iter().zip(cols) {
        if let Some(s) = truth.series.get_mut(&k) {
            s.samples = c;
        }
    }
}

fn node(truth: &mut Truth, span: i64) {
    let mut node = Node::new("node1", 7);
    let keys: Vec<String> = node
        .series
        .iter()
        .map(|(name, labels)| insert(&mut truth.series, name.clone(), labels.clone()))
        .collect();
    let mut cols: Vec<Vec<(i64, f64)>> = vec![Vec::new(); keys.len()];
    let mut jitter = Rng::new(99);
    let mut values = Vec::new();
    let start = END_MS - span;
    let mut i = 0i64;
    loop {
        // A fixed phase in the second plus a few ms of jitter, as a
        // scraper's timestamps are; strictly increasing.
        let t = start + i * 1000 + 137 + (jitter.normal() * 2.0).round().clamp(-8.0, 8.0) as i64;
        if t >= END_MS {
            break;
        }
        node.scrape(t, &mut values);
        for (c, &v) in cols.iter_mut().zip(&values) {
            c.push((t, v));
        }
        i += 1;
    }
    finish(truth, "node_exporter 1 s", keys, cols, start);
}

/// Generates every data set of `scale`.
pub fn generate(scale: Scale) -> Truth {
    let (rig_span, farm_span, node_span) = scale.spans();
    let mut t = Truth {
        series: BTreeMap::new(),
        start_ms: END_MS - rig_span.max(farm_span).max(node_span),
        sets: Vec::new(),
    };
    rig(&mut t, "1-GPU rig, 1 min", "rig1", 1, 1, rig_span);
    rig(&mut t, "8-GPU farm, 1 min", "farm1", 8, 8, farm_span);
    node(&mut t, node_span);
    t
}

/// Writes the truth as OpenMetrics (timestamps in seconds with a
/// fraction, `# EOF`; promtool's and minetsdb's input) to `om`, and as
/// Prometheus text with millisecond timestamps (VictoriaMetrics'
/// /api/v1/import/prometheus) to `text`. Series by series, each in time
/// order, families contiguous: what both parsers require.
pub fn write(truth: &Truth, om: &Path, text: &Path) -> anyhow::Result<()> {
    let create = |p: &Path| -> anyhow::Result<std::io::BufWriter<std::fs::File>> {
        let f = std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?;
        Ok(std::io::BufWriter::with_capacity(1 << 20, f))
    };
    let (mut a, mut b) = (create(om)?, create(text)?);
    for (k, s) in &truth.series {
        for &(t, v) in &s.samples {
            // `{}` of an f64 is the shortest text that parses back to the
            // same bits, so every peer is handed the exact value.
            writeln!(
                a,
                "{k} {v} {}.{:03}",
                t.div_euclid(1000),
                t.rem_euclid(1000)
            )?;
            writeln!(b, "{k} {v} {t}")?;
        }
    }
    a.write_all(b"# EOF\n")?;
    a.flush()
        .with_context(|| format!("writing {}", om.display()))?;
    b.flush()
        .with_context(|| format!("writing {}", text.display()))?;
    Ok(())
}
