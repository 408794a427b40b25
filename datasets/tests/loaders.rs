//! The SynAE and Adult loaders read every row, and every value fits the declared schema.
//! Skipped (with a message) when the shared data folder is absent.

mod common;

use arrow_array::{Array, StringArray};
use common::text_in_domain;
use pets::data::Schema;
use pets::data::io::BatchStream;
use pets_datasets::{adult, synae};

/// Check every text value of `stream` against `schema`; returns (rows, nulls per column).
fn check(stream: BatchStream, schema: &Schema) -> (u64, Vec<usize>) {
    let names: Vec<String> = stream
        .arrow_schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, schema.names().collect::<Vec<_>>());
    let mut rows = 0;
    let mut nulls = vec![0; schema.columns.len()];
    for batch in stream {
        let batch = batch.unwrap();
        rows += batch.num_rows() as u64;
        for (c, (col, spec)) in batch.columns().iter().zip(&schema.columns).enumerate() {
            let s = col.as_any().downcast_ref::<StringArray>().unwrap();
            nulls[c] += s.null_count();
            for v in s.iter() {
                match v {
                    None => assert!(
                        spec.nullable,
                        "{}: null in a non-nullable column",
                        spec.name
                    ),
                    Some(v) => assert!(
                        text_in_domain(&spec.kind, v),
                        "{}: {v:?} outside the declared domain",
                        spec.name
                    ),
                }
            }
        }
    }
    (rows, nulls)
}

#[test]
fn synae_fits_its_schema() {
    let Some(stream) = synae::load().unwrap() else {
        eprintln!("skipped: shared data folder absent (set PETS_SHARED_DATA)");
        return;
    };
    let schema = synae::schema();
    let (rows, nulls) = check(stream, &schema);
    assert_eq!(rows, synae::ROWS);
    let sex = schema.index_of("Sex").unwrap();
    assert_eq!(nulls[sex], 31);
}

#[test]
fn adult_fits_its_schema_with_shared_labels() {
    let Some(stream) = adult::load().unwrap() else {
        eprintln!("skipped: shared data folder absent (set PETS_SHARED_DATA)");
        return;
    };
    assert_eq!(stream.rows_hint(), Some(48_842));
    let schema = adult::schema();
    let (rows, nulls) = check(stream, &schema);
    assert_eq!(rows, 48_842);
    let workclass = schema.index_of("workclass").unwrap();
    assert!(nulls[workclass] > 2_000, "'?' is read as null");
    let test = adult::load_split(adult::Split::Test).unwrap().unwrap();
    let (test_rows, _) = check(test, &schema);
    assert_eq!(test_rows, adult::Split::Test.rows());
}
