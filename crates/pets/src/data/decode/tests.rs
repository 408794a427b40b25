use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMillisecondType};
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{Field, Schema as ArrowSchema};
use chrono::NaiveDate;

use super::*;
use crate::data::encode::{EncodeOptions, encode_batches};
use crate::data::schema::{Binning, Schema, TimeGranularity};

fn encode(spec: ColumnSpec, values: &[Option<&str>]) -> EncodedTable {
    let name = spec.name.clone();
    let b = RecordBatch::try_new(
        Arc::new(ArrowSchema::new(vec![Field::new(
            &name,
            arrow_schema::DataType::Utf8,
            true,
        )])),
        vec![Arc::new(values.iter().copied().collect::<StringArray>()) as ArrayRef],
    )
    .unwrap();
    encode_batches(
        &Schema::new(vec![spec]).unwrap(),
        &[b],
        EncodeOptions::default(),
    )
    .unwrap()
}

fn decode(t: &EncodedTable, placement: BinPlacement, seed: u64) -> ArrayRef {
    let d = Decoder::new(DecodeOptions {
        placement,
        seed,
        ..Default::default()
    });
    d.decode_range(t, 0, t.n_rows()).unwrap().column(0).clone()
}

#[test]
fn binned_integers_are_placed_within_their_bin() {
    let spec = ColumnSpec::new(
        "mins",
        ColumnKind::Integer {
            min: 0,
            max: 100,
            bins: Some(Binning::Edges(vec![0.0, 10.0, 100.0])),
        },
    );
    let t = encode(spec, &[Some("3"), Some("10"), Some("100")]);
    let lower = decode(&t, BinPlacement::Lower, 0);
    assert_eq!(lower.as_primitive::<Int64Type>().values(), &[0, 10, 10]);
    let mid = decode(&t, BinPlacement::Midpoint, 0);
    assert_eq!(mid.as_primitive::<Int64Type>().values(), &[4, 55, 55]);
    let uni = decode(&t, BinPlacement::Uniform, 9);
    let v = uni.as_primitive::<Int64Type>().values();
    assert!((0..=9).contains(&v[0]) && (10..=100).contains(&v[1]));
}

#[test]
fn uniform_placement_is_deterministic_and_batch_independent() {
    let spec = ColumnSpec::new(
        "x",
        ColumnKind::Float {
            min: 0.0,
            max: 1.0,
            bins: Binning::EqualWidth(1),
        },
    );
    let vals: Vec<Option<&str>> = vec![Some("0.5"); 200_000];
    let t = encode(spec, &vals);
    let a = decode(&t, BinPlacement::Uniform, 42);
    let b = decode(&t, BinPlacement::Uniform, 42);
    assert_eq!(&a, &b);
    let d = Decoder::new(DecodeOptions {
        placement: BinPlacement::Uniform,
        seed: 42,
        ..Default::default()
    });
    let pieces: Vec<f64> = d
        .batches(&t, 70_001)
        .flat_map(|b| {
            b.unwrap()
                .column(0)
                .as_primitive::<Float64Type>()
                .values()
                .to_vec()
        })
        .collect();
    assert_eq!(pieces, a.as_primitive::<Float64Type>().values().to_vec());
    let c = decode(&t, BinPlacement::Uniform, 43);
    assert_ne!(&a, &c);
    // Roughly uniform on [0, 1): mean within 5 standard errors of 0.5.
    let v = a.as_primitive::<Float64Type>().values();
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let se = (1.0f64 / 12.0 / v.len() as f64).sqrt();
    assert!((mean - 0.5).abs() < 5.0 * se, "mean {mean}");
    assert!(v.iter().all(|x| (0.0..1.0).contains(x)));
}

#[test]
fn coarse_dates_and_times_decode_inside_their_period() {
    let spec = ColumnSpec::new(
        "d",
        ColumnKind::Date {
            min: NaiveDate::from_ymd_opt(2024, 1, 10).unwrap(),
            max: NaiveDate::from_ymd_opt(2024, 12, 31).unwrap(),
            granularity: DateGranularity::Month,
            format: None,
        },
    );
    let t = encode(spec, &[Some("2024-01-20"), Some("2024-02-29")]);
    let lower = decode(&t, BinPlacement::Lower, 0);
    let days = lower.as_primitive::<Date32Type>().values();
    let day0 = crate::data::values::days_of(NaiveDate::from_ymd_opt(2024, 1, 10).unwrap());
    assert_eq!(
        i64::from(days[0]),
        day0,
        "January starts at the declared min"
    );
    assert_eq!(i64::from(days[1]), day0 + 22, "February 1st");
    let spec = ColumnSpec::new(
        "t",
        ColumnKind::Datetime {
            min: NaiveDate::from_ymd_opt(2024, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
            max: NaiveDate::from_ymd_opt(2024, 1, 2)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
            granularity: TimeGranularity::Hour,
            format: None,
        },
    );
    let t = encode(spec, &[Some("2024-01-01T13:45:10")]);
    let lower = decode(&t, BinPlacement::Lower, 0);
    let ms = lower.as_primitive::<TimestampMillisecondType>().value(0);
    let expect = NaiveDate::from_ymd_opt(2024, 1, 1)
        .unwrap()
        .and_hms_opt(13, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis();
    assert_eq!(ms, expect);
}

#[test]
fn labels_of_periods() {
    let spec = ColumnSpec::new(
        "d",
        ColumnKind::Date {
            min: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            max: NaiveDate::from_ymd_opt(2024, 12, 31).unwrap(),
            granularity: DateGranularity::Week,
            format: None,
        },
    );
    assert_eq!(period_label(&spec, 1), "2024-01-08..2024-01-14");
}

#[test]
fn out_of_range_decode_is_an_error() {
    let t = encode(ColumnSpec::categorical("c", ["a"]), &[Some("a")]);
    assert!(Decoder::default().decode_range(&t, 0, 2).is_err());
}
