//! Reading every sample back through the HTTP API (a range selector per
//! series, raw samples in a matrix) and checking it against the input.

use anyhow::Context;

use crate::datasets::{Truth, END_MS};
use crate::http::{enc, secs, Client};
use crate::procs::Server;
use crate::queries::parse;

/// What came back.
#[derive(Debug, Clone, Default)]
pub struct Readback {
    pub series: u64,
    pub samples: u64,
    /// Series listed by /api/v1/series over the whole range.
    pub series_listed: u64,
    /// Samples whose timestamp matched but whose value bits did not.
    pub values_differing: u64,
    pub max_rel_err: f64,
    /// Samples missing, extra or at another timestamp.
    pub samples_wrong: u64,
    /// A few examples of what differed, for the report.
    pub examples: Vec<String>,
}

impl Readback {
    pub fn counts_equal(&self, truth: &Truth) -> bool {
        self.series == truth.series.len() as u64
            && self.series_listed == truth.series.len() as u64
            && self.samples == truth.samples()
            && self.samples_wrong == 0
    }

    pub fn bit_exact(&self) -> bool {
        self.values_differing == 0 && self.samples_wrong == 0
    }
}

pub fn read(client: &Client, server: &Server, truth: &Truth) -> anyhow::Result<Readback> {
    let span_s = (END_MS - truth.start_ms) / 1000 + 86_400;
    let mut rb = Readback::default();
    let listed = client.get_json(&server.url(&format!(
        "/api/v1/series?match[]={}&start={}&end={}",
        enc("{__name__=~\".+\"}"),
        secs(truth.start_ms - 86_400_000),
        secs(END_MS)
    )))?;
    rb.series_listed = listed
        .get("data")
        .and_then(|d| d.as_array())
        .map_or(0, |d| d.len() as u64);
    for (k, s) in &truth.series {
        let url = server.url(&format!(
            "/api/v1/query?query={}&time={}",
            enc(&format!("{k}[{span_s}s]")),
            secs(END_MS)
        ));
        let got = parse(&client.get_json(&url)?)
            .with_context(|| format!("{}: reading back {k}", server.name))?;
        let note = |rb: &mut Readback, what: String| {
            if rb.examples.len() < 5 {
                rb.examples.push(what);
            }
        };
        if got.len() > 1 || got.keys().any(|g| g != k) {
            note(
                &mut rb,
                format!(
                    "{k}: answered as {:?}",
                    got.keys().take(2).collect::<Vec<_>>()
                ),
            );
        }
        let pts: Vec<(i64, f64)> = got.into_values().flatten().collect();
        if !pts.is_empty() {
            rb.series += 1;
        }
        rb.samples += pts.len() as u64;
        let (mut i, mut j) = (0, 0);
        let want = &s.samples;
        while i < want.len() || j < pts.len() {
            match (want.get(i), pts.get(j)) {
                (Some(w), Some(g)) if w.0 == g.0 => {
                    if w.1.to_bits() != g.1.to_bits() {
                        rb.values_differing += 1;
                        let e = (w.1 - g.1).abs() / w.1.abs().max(1e-300);
                        rb.max_rel_err = rb.max_rel_err.max(e);
                        if rb.values_differing <= 3 {
                            note(
                                &mut rb,
                                format!("{k} at {}: {} read back as {}", w.0, w.1, g.1),
                            );
                        }
                    }
                    i += 1;
                    j += 1;
                }
                (Some(w), Some(g)) if w.0 < g.0 => {
                    rb.samples_wrong += 1;
                    if rb.samples_wrong <= 3 {
                        note(
                            &mut rb,
                            format!("{k}: sample at {} missing (next read {})", w.0, g.0),
                        );
                    }
                    i += 1;
                }
                (Some(_), Some(g)) => {
                    rb.samples_wrong += 1;
                    if rb.samples_wrong <= 3 {
                        note(&mut rb, format!("{k}: extra sample at {}", g.0));
                    }
                    j += 1;
                }
                (Some(w), None) => {
                    rb.samples_wrong += 1;
                    if rb.samples_wrong <= 3 {
                        note(&mut rb, format!("{k}: sample at {} missing", w.0));
                    }
                    i += 1;
                }
                (None, _) => {
                    rb.samples_wrong += 1;
                    j += 1;
                }
            }
        }
    }
    Ok(rb)
}
