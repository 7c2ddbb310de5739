//! The results as a markdown table and a JSON document, every figure with
//! its minetsdb/peer ratios and, where the issue sets one, its target.

use serde_json::{json, Value};

use crate::datasets::{Scale, Truth};
use crate::queries::{differ, Query};
use crate::Measured;

pub struct Report<'a> {
    pub scale: Scale,
    pub note: String,
    pub reps: usize,
    pub truth: &'a Truth,
    pub queries: &'a [Query],
    /// Prometheus, VictoriaMetrics, minetsdb, in that order.
    pub results: &'a [Measured],
}

/// One line of the table.
struct Figure {
    key: String,
    label: String,
    /// Prometheus, VictoriaMetrics, minetsdb.
    values: [f64; 3],
    /// Whether a smaller value is better.
    lower_better: bool,
    target: Option<(String, bool)>,
}

const MB: f64 = 1024.0 * 1024.0;

impl Report<'_> {
    fn per<T>(&self, f: impl Fn(&Measured) -> T) -> [T; 3] {
        [
            f(&self.results[0]),
            f(&self.results[1]),
            f(&self.results[2]),
        ]
    }

    fn figures(&self) -> Vec<Figure> {
        let n = self.truth.samples() as f64;
        let mut out = Vec::new();
        let bps = self.per(|m| m.disk_bytes as f64 / n);
        let exact = self.results[2].readback.bit_exact();
        out.push(Figure {
            key: "bytes_per_sample".into(),
            label: "bytes per sample on disk".into(),
            values: bps,
            lower_better: true,
            target: Some((
                "≤ 0.60 × VictoriaMetrics, bit-exact".into(),
                bps[2] <= 0.60 * bps[1] && exact,
            )),
        });
        out.push(Figure {
            key: "disk_bytes".into(),
            label: "disk bytes (every file)".into(),
            values: self.per(|m| m.disk_bytes as f64),
            lower_better: true,
            target: None,
        });
        let sps = self.per(|m| n / m.ingest.wall_s.max(1e-9));
        out.push(Figure {
            key: "ingest_samples_per_s".into(),
            label: "ingest samples/s".into(),
            values: sps,
            lower_better: false,
            target: Some(("≥ 2 × VictoriaMetrics".into(), sps[2] >= 2.0 * sps[1])),
        });
        out.push(Figure {
            key: "ingest_cpu_s".into(),
            label: "ingest CPU seconds".into(),
            values: self.per(|m| m.ingest.cpu_s),
            lower_better: true,
            target: None,
        });
        out.push(Figure {
            key: "ingest_wall_s".into(),
            label: "ingest wall seconds".into(),
            values: self.per(|m| m.ingest.wall_s),
            lower_better: true,
            target: None,
        });
        for (i, q) in self.queries.iter().enumerate() {
            let v = self.per(|m| m.medians[i]);
            let full = q.step_ms == 0;
            let target = if full {
                ("≤ 1/3 × VictoriaMetrics".to_string(), v[2] <= v[1] / 3.0)
            } else {
                (
                    "≤ 0.5 × faster peer".to_string(),
                    v[2] <= 0.5 * v[0].min(v[1]),
                )
            };
            out.push(Figure {
                key: format!("query_ms_{i}"),
                label: format!("{} (median ms)", q.name),
                values: v,
                lower_better: true,
                target: Some(target),
            });
        }
        let rss = self.per(|m| m.peak_rss as f64 / MB);
        out.push(Figure {
            key: "peak_rss_mb".into(),
            label: "peak RSS answering (MiB)".into(),
            values: rss,
            lower_better: true,
            target: Some(("≤ 30 MB".into(), rss[2] * MB <= 30e6)),
        });
        out
    }

    /// Each system's answers against Prometheus' (the reference semantics)
    /// and minetsdb's against each peer: None where equal within 1e-9.
    fn agreement(&self) -> Vec<(String, Option<String>, Option<String>)> {
        self.queries
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let p = &self.results[0].answers[i];
                let v = &self.results[1].answers[i];
                let m = &self.results[2].answers[i];
                (q.name.to_string(), differ(p, m), differ(p, v))
            })
            .collect()
    }

    pub fn json(&self) -> Value {
        let names = ["prometheus", "victoriametrics", "minetsdb"];
        let figures: Vec<Value> = self
            .figures()
            .iter()
            .map(|f| {
                let mut o = json!({
                    "key": f.key,
                    "label": f.label,
                    "lower_is_better": f.lower_better,
                    "ratio_minetsdb_to_prometheus": f.values[2] / f.values[0],
                    "ratio_minetsdb_to_victoriametrics": f.values[2] / f.values[1],
                });
                for (n, v) in names.iter().zip(f.values) {
                    o[*n] = json!(v);
                }
                if let Some((t, met)) = &f.target {
                    o["target"] = json!(t);
                    o["met"] = json!(met);
                }
                o
            })
            .collect();
        let systems: Vec<Value> = self
            .results
            .iter()
            .zip(names)
            .map(|(m, n)| {
                let rb = &m.readback;
                json!({
                    "system": n,
                    "version": m.version,
                    "disk_bytes": m.disk_bytes,
                    "ingest": {"wall_s": m.ingest.wall_s, "cpu_s": m.ingest.cpu_s, "how": m.ingest.how},
                    "peak_rss_bytes": m.peak_rss,
                    "query_median_ms": self.queries.iter().zip(&m.medians)
                        .map(|(q, t)| json!({"query": q.name, "promql": q.promql, "median_ms": t}))
                        .collect::<Vec<_>>(),
                    "full_count": full_count(&m.answers[self.queries.len() - 1]),
                    "readback": {
                        "series": rb.series,
                        "series_listed": rb.series_listed,
                        "samples": rb.samples,
                        "counts_equal_input": rb.counts_equal(self.truth),
                        "bit_exact": rb.bit_exact(),
                        "values_differing": rb.values_differing,
                        "samples_wrong": rb.samples_wrong,
                        "max_relative_error": rb.max_rel_err,
                        "examples": rb.examples,
                    },
                })
            })
            .collect();
        let agreement: Vec<Value> = self
            .agreement()
            .into_iter()
            .map(|(q, m, v)| {
                json!({"query": q, "minetsdb_vs_prometheus": m, "victoriametrics_vs_prometheus": v})
            })
            .collect();
        json!({
            "scale": self.scale.name(),
            "note": self.note,
            "machine": machine(),
            "repetitions": self.reps,
            "input": {
                "series": self.truth.series.len(),
                "samples": self.truth.samples(),
                "sets": self.truth.sets.iter().map(|(n, s, k, first)| json!({
                    "name": n, "series": s, "samples": k, "first_ms": first,
                })).collect::<Vec<_>>(),
            },
            "figures": figures,
            "systems": systems,
            "agreement": agreement,
        })
    }

    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let r = self.results;
        s.push_str(&format!(
            "# minetsdb vs Prometheus vs VictoriaMetrics (scale `{}`)\n\n",
            self.scale.name()
        ));
        s.push_str(&format!(
            "Machine: {}.{}\n\nVersions: {} · {} · {}.\n\n",
            machine(),
            if self.note.is_empty() {
                String::new()
            } else {
                format!(" {}", self.note)
            },
            r[0].version,
            r[1].version,
            r[2].version
        ));
        s.push_str("| data set | series | samples |\n|---|---:|---:|\n");
        for (n, series, k, _) in &self.truth.sets {
            s.push_str(&format!("| {n} | {series} | {k} |\n"));
        }
        s.push_str(&format!(
            "| **all** | **{}** | **{}** |\n\n",
            self.truth.series.len(),
            self.truth.samples()
        ));
        s.push_str(&format!(
            "Query latencies: median of {} runs after one warm-up, same HTTP client for all.\n\n",
            self.reps
        ));
        s.push_str("| figure | Prometheus | VictoriaMetrics | minetsdb | minetsdb/Prom | minetsdb/VM | target | met |\n");
        s.push_str("|---|---:|---:|---:|---:|---:|---|---|\n");
        for f in self.figures() {
            let (t, met) = match &f.target {
                Some((t, m)) => (t.as_str(), if *m { "yes" } else { "**no**" }),
                None => ("", ""),
            };
            s.push_str(&format!(
                "| {} | {} | {} | {} | {:.2} | {:.2} | {t} | {met} |\n",
                f.label,
                num(f.values[0]),
                num(f.values[1]),
                num(f.values[2]),
                f.values[2] / f.values[0],
                f.values[2] / f.values[1],
            ));
        }
        s.push_str(
            "\n## Read-back (every series through /api/v1/query, a range selector each)\n\n",
        );
        s.push_str("| | series | series listed | samples | counts = input | bit-exact | values differing | max rel. error |\n|---|---:|---:|---:|---|---|---:|---:|\n");
        for m in r {
            let rb = &m.readback;
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {:.1e} |\n",
                m.name,
                rb.series,
                rb.series_listed,
                rb.samples,
                yes(rb.counts_equal(self.truth)),
                yes(rb.bit_exact()),
                rb.values_differing,
                rb.max_rel_err
            ));
        }
        s.push_str(&format!(
            "\nInput: {} series, {} samples. Full count answered: {}.\n",
            self.truth.series.len(),
            self.truth.samples(),
            r.iter()
                .map(|m| format!(
                    "{} {}",
                    m.name,
                    num(full_count(&m.answers[self.queries.len() - 1]))
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        for m in r {
            for e in &m.readback.examples {
                s.push_str(&format!("- {}: {e}\n", m.name));
            }
        }
        s.push_str("\n## Answers compared (relative tolerance 1e-9)\n\n| query | minetsdb vs Prometheus | VictoriaMetrics vs Prometheus |\n|---|---|---|\n");
        for (q, m, v) in self.agreement() {
            let show =
                |d: Option<String>| d.map_or("same".to_string(), |d| format!("**differs**: {d}"));
            s.push_str(&format!("| {q} | {} | {} |\n", show(m), show(v)));
        }
        s.push_str("\n## How each was loaded\n\n");
        for m in r {
            s.push_str(&format!("- {}: {}\n", m.name, m.ingest.how));
        }
        s
    }
}

fn full_count(a: &crate::queries::Answer) -> f64 {
    a.values().flatten().map(|p| p.1).next().unwrap_or(f64::NAN)
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "**no**"
    }
}

/// Three significant digits, no exponent for the sizes we print.
fn num(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// CPU model and count, from /proc.
fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} × {model}")
}
