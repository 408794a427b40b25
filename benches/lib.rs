//! Shared fixtures for the pets benchmarks (see `benches/README.md`).
//!
//! Bench sizes come from `PETS_BENCH_ROWS` (comma-separated, default `1000000`), so the
//! same benches record the 1M figures routinely and the 10M figures on demand:
//! `PETS_BENCH_ROWS=1000000,10000000 cargo bench -p pets-benches --bench data`.

use arrow_array::RecordBatch;
use pets::data::Schema;
use pets_datasets::ae::{AeConfig, AeGenerator, ae_schema_for};

/// Row counts to benchmark, from `PETS_BENCH_ROWS`.
pub fn bench_rows() -> Vec<u64> {
    std::env::var("PETS_BENCH_ROWS")
        .ok()
        .map(|v| {
            v.split(',')
                .filter_map(|s| s.trim().replace('_', "").parse().ok())
                .collect()
        })
        .filter(|v: &Vec<u64>| !v.is_empty())
        .unwrap_or_else(|| vec![1_000_000])
}

/// The generator configuration used by every bench at `rows` rows.
pub fn config(rows: u64) -> AeConfig {
    AeConfig::new(rows, 7)
}

/// Generated A&E batches of `rows` rows, with their declared schema.
pub fn ae_batches(rows: u64) -> (Vec<RecordBatch>, Schema) {
    let cfg = config(rows);
    let schema = ae_schema_for(&cfg);
    let batches = AeGenerator::new(cfg).expect("valid config").collect();
    (batches, schema)
}
