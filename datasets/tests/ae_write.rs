//! `write_ae` streams the generated rows to Parquet and CSV files that read back intact.

mod common;

use common::{assert_in_domain, generate, text_in_domain};
use pets::data::io::{CsvReadOptions, read_csv, read_parquet};
use pets_datasets::ae::{AeConfig, ae_arrow_schema, ae_schema, write_ae};

#[test]
fn parquet_round_trip_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ae.parquet");
    let config = AeConfig::new(25_001, 6).with_batch_rows(10_000);
    let mut calls = Vec::new();
    let summary = write_ae(&config, &path, |done| calls.push(done)).unwrap();
    assert_eq!(summary.rows, 25_001);
    assert_eq!(summary.batches, 3);
    assert_eq!(calls, [10_000, 20_000, 25_001]);
    assert!(summary.bytes > 0);

    let stream = read_parquet(&path, 10_000).unwrap();
    assert_eq!(stream.arrow_schema().fields(), ae_arrow_schema().fields());
    let read: Vec<_> = stream.map(|b| b.unwrap()).collect();
    let expected = generate(config);
    assert_eq!(read.len(), expected.len());
    for (r, e) in read.iter().zip(&expected) {
        assert_eq!(r.columns(), e.columns());
        assert_in_domain(&ae_schema(), r);
    }
}

#[test]
fn csv_output_reads_back_in_domain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ae.csv");
    let summary = write_ae(&AeConfig::new(3_000, 2), &path, |_| {}).unwrap();
    assert_eq!(summary.rows, 3_000);
    let schema = ae_schema();
    let mut rows = 0;
    for batch in read_csv(&path, &CsvReadOptions::default()).unwrap() {
        let batch = batch.unwrap();
        rows += batch.num_rows();
        for (spec, col) in schema.columns.iter().zip(batch.columns()) {
            let col = col
                .as_any()
                .downcast_ref::<arrow_array::StringArray>()
                .unwrap();
            for v in col.iter() {
                match v {
                    None => assert!(spec.nullable, "{}", spec.name),
                    Some(v) => assert!(text_in_domain(&spec.kind, v), "{}: {v:?}", spec.name),
                }
            }
        }
    }
    assert_eq!(rows, 3_000);
}

#[test]
fn unknown_extension_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(write_ae(&AeConfig::new(10, 1), dir.path().join("ae.xyz"), |_| {}).is_err());
}
