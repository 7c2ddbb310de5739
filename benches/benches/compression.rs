//! Bytes per sample on disk for realistic mining telemetry, everything
//! counted (blocks, index, registry, WAL, lock file), against the raw
//! 16 bytes of a (i64, f64) sample measured on the same data.
//!
//! Not a timing benchmark: it prints figures. `cargo bench -p
//! minetsdb-benches --bench compression`.

fn main() {
    let days: u32 = std::env::var("MINETSDB_BENCH_DAYS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    for gpus in [3usize, 8] {
        let dir = tempfile::tempdir().expect("tempdir");
        let n = minetsdb_benches::fill(dir.path(), days, gpus, 7).expect("fill");
        let db =
            minetsdb::Db::open_read_only(dir.path(), minetsdb::Options::default()).expect("open");
        let st = db.stats();
        let bytes = st.disk_bytes;
        println!(
            "compression/{gpus}gpu/{days}d: {} series, {n} samples, {bytes} bytes on disk = {:.3} bytes/sample \
             (blocks alone {:.3}); raw (i64,f64) = 16 bytes/sample, ratio {:.1}x",
            st.series,
            bytes as f64 / n as f64,
            st.block_bytes as f64 / n as f64,
            16.0 * n as f64 / bytes as f64,
        );
        if std::env::var_os("MINETSDB_BENCH_BREAKDOWN").is_some() {
            for (name, b, n, codecs) in minetsdb::__bench::bytes_by_metric(&db) {
                println!(
                    "  {name:<50} {:>7.2} bits/sample  xor/dec/const chunks {codecs:?}",
                    b as f64 * 8.0 / n as f64
                );
            }
        }
    }
}
