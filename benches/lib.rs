//! Shared fixtures for the pets benchmarks (see `benches/README.md`).
//!
//! Bench sizes come from `PETS_BENCH_ROWS` (comma-separated, default `1000000`), so the
//! same benches record the 1M figures routinely and the 10M figures on demand:
//! `PETS_BENCH_ROWS=1000000,10000000 cargo bench -p pets-benches --bench data`.

use arrow_array::RecordBatch;
use pets::data::{ColumnKind, EncodeOptions, EncodedTable, Encoder, Schema, TimeGranularity};
use pets::disclosure::RiskConfig;
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

/// The quasi-identifiers of the release-panel scenario in the disclosure issue: age, sex,
/// postcode district and arrival date (`arrival_datetime` encoded at day granularity, see
/// [`with_arrival_date`]).
pub const RISK_QIS: [&str; 4] = ["age", "sex", "postcode_district", "arrival_datetime"];

/// The sensitive attribute of the release-panel scenario.
pub const RISK_SENSITIVE: &str = "diagnosis_group";

/// The 12 A&E columns the synthesis benches fit (about 6.5e11 declared joint cells,
/// postcode district's 2,800 values among them), as in the synthetic-data issue.
pub const SYNTH_COLUMNS: [&str; 12] = [
    "age_band",
    "sex",
    "ethnic_category",
    "postcode_district",
    "imd_decile",
    "provider_code",
    "department_type",
    "arrival_mode",
    "attendance_category",
    "acuity",
    "diagnosis_group",
    "admitted",
];

/// The columns the DP histogram bench reads: provider, arrival time (for the hour of day) and
/// age band.
pub const DP_COLUMNS: [&str; 3] = ["provider_code", "arrival_datetime", "age_band"];

/// `schema` with `arrival_datetime` coarsened to whole days: one code per arrival date, the
/// generalisation an intruder's "arrival date" matches.
pub fn with_arrival_date(mut schema: Schema) -> Schema {
    for c in &mut schema.columns {
        if c.name == "arrival_datetime"
            && let ColumnKind::Datetime { granularity, .. } = &mut c.kind
        {
            *granularity = TimeGranularity::Day;
        }
    }
    schema
}

/// Encode only `columns` of `rows` generated A&E rows against `schema`, streaming batch by
/// batch (the full Arrow table is never held, so 10M and 25M rows fit easily). Each batch is
/// also handed to `each` (e.g. to keep the NHS numbers for contribution bounding).
pub fn ae_encoded_with(
    rows: u64,
    schema: &Schema,
    columns: &[&str],
    mut each: impl FnMut(&RecordBatch),
) -> EncodedTable {
    let mut enc = Encoder::new(
        schema,
        EncodeOptions {
            columns: Some(columns.iter().map(|c| c.to_string()).collect()),
            ..Default::default()
        },
    )
    .expect("valid schema and columns");
    enc.reserve(rows as usize);
    for batch in AeGenerator::new(config(rows)).expect("valid config") {
        enc.push(&batch).expect("generated rows fit their schema");
        each(&batch);
    }
    enc.finish().expect("rows encoded")
}

/// The encoded quasi-identifiers and sensitive attribute of the release-panel scenario
/// ([`RISK_QIS`], [`RISK_SENSITIVE`]) over `rows` generated rows.
pub fn ae_risk_table(rows: u64) -> EncodedTable {
    let schema = with_arrival_date(ae_schema_for(&config(rows)));
    let mut cols = RISK_QIS.to_vec();
    cols.push(RISK_SENSITIVE);
    ae_encoded_with(rows, &schema, &cols, |_| {})
}

/// The release-panel report configuration: k = 5, distinct l = 2, t = 0.3 (equal-distance
/// EMD on the categorical diagnosis group), alpha/beta/delta, prosecutor/journalist/marketer
/// risk and population uniqueness at a 10% sampling fraction. `full` adds the intruder
/// scenarios over every subset of the quasi-identifiers, SUDA and the what-if fixes (the
/// CLI's default); without it this is the one-pass report the speed target is about.
pub fn risk_config(full: bool) -> RiskConfig {
    RiskConfig {
        sensitive: Some(RISK_SENSITIVE.into()),
        k: 5,
        l: Some(2),
        t: Some(0.3),
        alpha: Some(0.8),
        beta: Some(1.0),
        delta: Some(1.0),
        sampling_fraction: Some(0.1),
        scenarios: full,
        suda: full,
        what_if: full,
        ..RiskConfig::new(RISK_QIS)
    }
}

/// Resident and peak resident memory of this process in bytes (`VmRSS`, `VmHWM` from
/// `/proc/self/status`; zeros where unavailable).
pub fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Reset this process's peak resident memory (`VmHWM`) to its current size, so a later
/// [`rss`] reads the peak of what ran in between. Returns false where Linux does not allow it.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
