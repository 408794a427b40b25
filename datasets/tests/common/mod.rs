//! Helpers shared by the integration tests: typed column access and a manual check of
//! every value against a declared schema.

#![allow(dead_code)]

use std::collections::HashSet;

use arrow_array::{
    Array, BooleanArray, Date32Array, Int32Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use pets::data::{ColumnKind, Schema};
use pets_datasets::ae::{AeConfig, AeGenerator};

/// All batches of a generated dataset.
pub fn generate(config: AeConfig) -> Vec<RecordBatch> {
    AeGenerator::new(config).expect("valid config").collect()
}

pub fn strs<'a>(batch: &'a RecordBatch, name: &str) -> &'a StringArray {
    batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap_or_else(|| panic!("{name} is not Utf8"))
}

pub fn ints<'a>(batch: &'a RecordBatch, name: &str) -> &'a Int32Array {
    batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_any()
        .downcast_ref::<Int32Array>()
        .unwrap_or_else(|| panic!("{name} is not Int32"))
}

pub fn bools<'a>(batch: &'a RecordBatch, name: &str) -> &'a BooleanArray {
    batch
        .column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref::<BooleanArray>()
        .unwrap()
}

pub fn dates(batch: &RecordBatch, name: &str) -> Vec<NaiveDate> {
    let a = batch
        .column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref::<Date32Array>()
        .unwrap();
    (0..a.len()).map(|i| a.value_as_date(i).unwrap()).collect()
}

pub fn datetimes(batch: &RecordBatch, name: &str) -> Vec<NaiveDateTime> {
    let a = batch
        .column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref::<TimestampMillisecondArray>()
        .unwrap();
    a.values()
        .iter()
        .map(|&ms| DateTime::from_timestamp_millis(ms).unwrap().naive_utc())
        .collect()
}

/// Whether a text value lies in a declared domain (how a CSV reader would see it).
pub fn text_in_domain(kind: &ColumnKind, v: &str) -> bool {
    match kind {
        ColumnKind::Categorical { values, .. } => values.iter().any(|x| x == v),
        ColumnKind::Integer { min, max, .. } => {
            v.parse::<i64>().is_ok_and(|x| x >= *min && x <= *max)
        }
        ColumnKind::Float { min, max, .. } => {
            v.parse::<f64>().is_ok_and(|x| x >= *min && x <= *max)
        }
        ColumnKind::Date { min, max, .. } => {
            NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok_and(|d| d >= *min && d <= *max)
        }
        ColumnKind::Datetime { min, max, .. } => {
            NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S")
                .is_ok_and(|d| d >= *min && d <= *max)
        }
        ColumnKind::Text => true,
    }
}

/// Check every value of every column of `batch` against `schema`, by hand: nulls only in
/// nullable columns, categorical values among the declared labels (booleans as
/// "false"/"true", integers as decimal text), numbers within bounds, dates and datetimes in
/// range and on the declared granularity. Panics naming the first offence.
pub fn assert_in_domain(schema: &Schema, batch: &RecordBatch) {
    assert_eq!(batch.num_columns(), schema.columns.len());
    for (spec, col) in schema.columns.iter().zip(batch.columns()) {
        let name = &spec.name;
        assert!(batch.schema().field_with_name(name).is_ok(), "{name}");
        if !spec.nullable {
            assert_eq!(col.null_count(), 0, "{name} has nulls but is not nullable");
        }
        let any = col.as_any();
        let labels: HashSet<&str> = match &spec.kind {
            ColumnKind::Categorical { values, .. } => values.iter().map(String::as_str).collect(),
            _ => HashSet::new(),
        };
        for i in 0..col.len() {
            if col.is_null(i) {
                continue;
            }
            let ok = match &spec.kind {
                ColumnKind::Categorical { .. } => {
                    let text = if let Some(s) = any.downcast_ref::<StringArray>() {
                        s.value(i).to_string()
                    } else if let Some(b) = any.downcast_ref::<BooleanArray>() {
                        b.value(i).to_string()
                    } else if let Some(n) = any.downcast_ref::<Int32Array>() {
                        n.value(i).to_string()
                    } else {
                        panic!("{name}: unexpected type for a categorical column")
                    };
                    labels.contains(text.as_str())
                }
                ColumnKind::Integer { min, max, .. } => {
                    let v = i64::from(any.downcast_ref::<Int32Array>().expect(name).value(i));
                    v >= *min && v <= *max
                }
                ColumnKind::Date { min, max, .. } => {
                    let d = any
                        .downcast_ref::<Date32Array>()
                        .expect(name)
                        .value_as_date(i)
                        .unwrap();
                    d >= *min && d <= *max
                }
                ColumnKind::Datetime {
                    min,
                    max,
                    granularity,
                    ..
                } => {
                    let ms = any
                        .downcast_ref::<TimestampMillisecondArray>()
                        .expect(name)
                        .value(i);
                    let t = DateTime::from_timestamp_millis(ms).unwrap().naive_utc();
                    let step_ms = granularity.seconds() * 1000;
                    t >= *min && t <= *max && ms.rem_euclid(step_ms) == 0
                }
                ColumnKind::Text => {
                    let s = any.downcast_ref::<StringArray>().expect(name);
                    !s.value(i).is_empty()
                }
                other => panic!("{name}: unexpected kind {}", other.name()),
            };
            assert!(ok, "{name}, row {i}: value outside the declared domain");
        }
    }
}
