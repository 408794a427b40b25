use std::sync::Arc;

use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, StringArray,
    TimestampMillisecondArray, TimestampNanosecondArray, UInt8Array,
};
use arrow_schema::{DataType, Field, Schema as ArrowSchema};
use chrono::NaiveDate;

use super::*;
use crate::data::schema::{Binning, DateGranularity, Role, TimeGranularity};

fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = cols
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(
        Arc::new(ArrowSchema::new(fields)),
        cols.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap()
}

fn text(values: &[Option<&str>]) -> ArrayRef {
    Arc::new(values.iter().copied().collect::<StringArray>())
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn schema() -> Schema {
    Schema::new(vec![
        ColumnSpec::categorical("sex", ["1", "2", "9", "X"]).with_role(Role::QuasiIdentifier),
        ColumnSpec::integer("age", 0, 120).nullable(true),
        ColumnSpec::new(
            "arrival_date",
            ColumnKind::Date {
                min: d(2024, 1, 1),
                max: d(2024, 12, 31),
                granularity: DateGranularity::Day,
                format: None,
            },
        ),
        ColumnSpec::new("nhs_number", ColumnKind::Text),
    ])
    .unwrap()
}

fn encode_text(rows: &[[Option<&str>; 4]], opts: EncodeOptions) -> Result<EncodedTable> {
    let col = |j: usize| text(&rows.iter().map(|r| r[j]).collect::<Vec<_>>());
    let b = batch(vec![
        ("sex", col(0)),
        ("age", col(1)),
        ("arrival_date", col(2)),
        ("nhs_number", col(3)),
    ]);
    encode_batches(&schema(), &[b], opts)
}

#[test]
fn text_columns_encode_to_schema_codes() {
    let t = encode_text(
        &[
            [
                Some("2"),
                Some("34"),
                Some("2024-01-03"),
                Some("9990000018"),
            ],
            [Some("X"), None, Some("2024-12-31"), Some("9990000026")],
        ],
        Default::default(),
    )
    .unwrap();
    assert_eq!(t.n_rows(), 2);
    assert_eq!(t.column("sex").unwrap().codes, [1, 3]);
    let age = t.column("age").unwrap();
    assert_eq!(
        age.codes,
        [34, 121],
        "null gets the code after the 121 values"
    );
    assert_eq!(age.codebook.null_code, Some(121));
    assert_eq!(age.label(121), "null");
    assert_eq!(t.column("arrival_date").unwrap().codes, [2, 365]);
    assert_eq!(t.report().text_columns_not_encoded, ["nhs_number"]);
    assert!(t.column("nhs_number").is_err());
    assert_eq!(t.code_bytes(), 3 * 2 * 4);
}

#[test]
fn out_of_domain_names_column_row_and_value() {
    let rows = [
        [Some("1"), Some("30"), Some("2024-01-01"), None],
        [Some("1"), Some("31"), Some("2024-01-01"), None],
        [Some("7"), Some("32"), Some("2024-01-01"), None],
    ];
    let err = encode_text(&rows, Default::default()).unwrap_err();
    match &err {
        DataError::OutOfDomain {
            column, row, value, ..
        } => {
            assert_eq!((column.as_str(), *row, value.as_str()), ("sex", 3, "7"));
        }
        e => panic!("wrong error {e}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("one of 1, 2, 9, X"), "{msg}");
    assert!(msg.contains("other"), "the message says what to do: {msg}");
}

#[test]
fn out_of_domain_can_map_to_other_and_is_counted() {
    let rows = [
        [Some("7"), Some("200"), Some("2024-01-01"), None],
        [Some("1"), Some("30"), Some("2025-01-01"), None],
    ];
    let t = encode_text(
        &rows,
        EncodeOptions {
            out_of_domain: OutOfDomain::MapToOther,
            ..Default::default()
        },
    )
    .unwrap();
    let sex = t.column("sex").unwrap();
    assert_eq!(sex.codebook.other_code, Some(4));
    assert_eq!(sex.codes, [4, 0]);
    assert_eq!(sex.label(4), "other");
    let age = t.column("age").unwrap();
    assert_eq!(age.codebook.other_code, Some(122), "after values and null");
    assert_eq!(age.codes[0], 122);
    let counts = &t.report().mapped_to_other;
    assert_eq!(
        (counts["sex"], counts["age"], counts["arrival_date"]),
        (1, 1, 1)
    );
}

#[test]
fn unparsable_values_and_nulls_are_errors() {
    let err = encode_text(
        &[[Some("1"), Some("thirty"), Some("2024-01-01"), None]],
        Default::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, DataError::Unparsable { column, row: 1, value, .. } if column == "age" && value == "thirty"),
        "{err}"
    );
    assert!(err.to_string().contains("an integer"));
    let err = encode_text(
        &[[Some("1"), Some("3"), Some("01/02/2024"), None]],
        Default::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("a date like 2024-03-01"), "{err}");
    let err = encode_text(
        &[
            [Some("1"), Some("3"), Some("2024-01-01"), None],
            [None, Some("3"), Some("2024-01-01"), None],
        ],
        Default::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, DataError::UnexpectedNull { column, row: 2 } if column == "sex"),
        "{err}"
    );
    assert!(err.to_string().contains("nullable"));
}

#[test]
fn the_first_bad_row_is_reported_whatever_the_chunking() {
    // 100 rows, bad values at rows 37 (age) and 80 (sex); tiny chunks run in parallel.
    let mut rows = vec![[Some("1"), Some("30"), Some("2024-01-01"), None]; 100];
    rows[36][1] = Some("x");
    rows[79][0] = Some("Q");
    let err = encode_text(
        &rows,
        EncodeOptions {
            chunk_rows: 7,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(err.row(), Some(37), "{err}");
}

#[test]
fn schema_file_mismatches_are_errors() {
    let b = batch(vec![("sex", text(&[Some("1")]))]);
    let err = encode_batches(&schema(), &[b], Default::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("\"age\" is declared in the schema but missing from the data"),
        "{err}"
    );
    let s = Schema::new(vec![ColumnSpec::new(
        "when",
        ColumnKind::Date {
            min: d(2024, 1, 1),
            max: d(2024, 2, 1),
            granularity: DateGranularity::Day,
            format: None,
        },
    )])
    .unwrap();
    let b = batch(vec![(
        "when",
        Arc::new(BooleanArray::from(vec![true])) as ArrayRef,
    )]);
    let err = encode_batches(&s, &[b], Default::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("declared date but the data holds Boolean"),
        "{err}"
    );
}

#[test]
fn empty_input_is_an_error_unless_allowed() {
    let b = batch(vec![
        ("sex", text(&[])),
        ("age", text(&[])),
        ("arrival_date", text(&[])),
    ]);
    assert!(matches!(
        encode_batches(&schema(), std::slice::from_ref(&b), Default::default()),
        Err(DataError::Empty { .. })
    ));
    let t = encode_batches(
        &schema(),
        &[b],
        EncodeOptions {
            allow_empty: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(t.n_rows(), 0);
}

#[test]
fn selected_columns_and_bad_selections() {
    let opts = |cols: &[&str]| EncodeOptions {
        columns: Some(cols.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    };
    let rows = [[Some("1"), Some("30"), Some("2024-01-01"), None]];
    let t = encode_text(&rows, opts(&["age", "sex"])).unwrap();
    assert_eq!(
        t.columns().iter().map(|c| c.name()).collect::<Vec<_>>(),
        ["age", "sex"]
    );
    assert!(matches!(
        encode_text(&rows, opts(&["agee"])),
        Err(DataError::UnknownColumn { .. })
    ));
    assert!(
        encode_text(&rows, opts(&["nhs_number"]))
            .unwrap_err()
            .to_string()
            .contains("declared text")
    );
}

#[test]
fn typed_arrow_columns_encode_like_text() {
    let t0 = NaiveDate::from_ymd_opt(2024, 3, 1)
        .unwrap()
        .and_hms_opt(10, 30, 0)
        .unwrap();
    let s = Schema::new(vec![
        ColumnSpec::categorical("imd", (1..=10).map(|i| i.to_string())),
        ColumnSpec::categorical("admitted", ["false", "true"]),
        ColumnSpec::categorical("dept", ["01", "02", "03"]),
        ColumnSpec::new(
            "mins",
            ColumnKind::Integer {
                min: 0,
                max: 1000,
                bins: Some(Binning::Edges(vec![0.0, 240.0, 720.0, 1001.0])),
            },
        ),
        ColumnSpec::new(
            "miles",
            ColumnKind::Float {
                min: 0.0,
                max: 10.0,
                bins: Binning::EqualWidth(5),
            },
        ),
        ColumnSpec::new(
            "day",
            ColumnKind::Date {
                min: d(2024, 1, 1),
                max: d(2024, 12, 31),
                granularity: DateGranularity::Month,
                format: None,
            },
        ),
        ColumnSpec::new(
            "t",
            ColumnKind::Datetime {
                min: d(2024, 1, 1).and_hms_opt(0, 0, 0).unwrap(),
                max: d(2024, 12, 31).and_hms_opt(23, 59, 0).unwrap(),
                granularity: TimeGranularity::Hour,
                format: None,
            },
        ),
        ColumnSpec::new(
            "t_ns",
            ColumnKind::Datetime {
                min: d(2024, 1, 1).and_hms_opt(0, 0, 0).unwrap(),
                max: d(2024, 12, 31).and_hms_opt(23, 59, 0).unwrap(),
                granularity: TimeGranularity::Minute,
                format: None,
            },
        ),
    ])
    .unwrap();
    let mut dict = StringDictionaryBuilder::<Int32Type>::new();
    dict.append_value("03");
    dict.append_value("01");
    let ms = t0.and_utc().timestamp_millis();
    let b = batch(vec![
        ("imd", Arc::new(UInt8Array::from(vec![10, 1])) as ArrayRef),
        ("admitted", Arc::new(BooleanArray::from(vec![true, false]))),
        ("dept", Arc::new(dict.finish())),
        ("mins", Arc::new(Int64Array::from(vec![239, 240]))),
        ("miles", Arc::new(Float64Array::from(vec![1.99, 10.0]))),
        (
            "day",
            Arc::new(Date32Array::from(vec![
                crate::data::values::days_of(d(2024, 3, 31)) as i32,
                crate::data::values::days_of(d(2024, 1, 1)) as i32,
            ])),
        ),
        (
            "t",
            Arc::new(TimestampMillisecondArray::from(vec![ms, ms + 1_799_999])),
        ),
        (
            "t_ns",
            Arc::new(TimestampNanosecondArray::from(vec![
                ms * 1_000_000,
                ms * 1_000_000 + 59_999_999_999,
            ])),
        ),
    ]);
    let t = encode_batches(&s, &[b], Default::default()).unwrap();
    let codes = |n: &str| t.column(n).unwrap().codes.clone();
    assert_eq!(codes("imd"), [9, 0]);
    assert_eq!(codes("admitted"), [1, 0]);
    assert_eq!(codes("dept"), [2, 0]);
    assert_eq!(codes("mins"), [0, 1]);
    assert_eq!(codes("miles"), [0, 4]);
    assert_eq!(codes("day"), [2, 0]);
    let hour = (60 * 24 + 10) as u32; // 2024-03-01 is day 60 of 2024
    assert_eq!(codes("t"), [hour, hour]);
    let minute = (60 * 24 * 60 + 10 * 60 + 30) as u32;
    assert_eq!(codes("t_ns"), [minute, minute]);
    assert_eq!(t.column("mins").unwrap().label(1), "[240, 720)");
    assert_eq!(t.column("day").unwrap().label(2), "2024-03");
}

#[test]
fn nan_is_refused_with_advice() {
    let s = Schema::new(vec![ColumnSpec::new(
        "x",
        ColumnKind::Float {
            min: 0.0,
            max: 1.0,
            bins: Binning::EqualWidth(2),
        },
    )])
    .unwrap();
    let b = batch(vec![(
        "x",
        Arc::new(Float64Array::from(vec![0.5, f64::NAN])) as ArrayRef,
    )]);
    let err = encode_batches(&s, &[b], Default::default()).unwrap_err();
    assert!(err.to_string().contains("row 2"), "{err}");
    assert!(err.to_string().contains("use null for missing"), "{err}");
}

#[test]
fn pushing_in_batches_equals_one_batch_and_partitions_append() {
    let rows: Vec<[Option<&str>; 4]> = (0..50)
        .map(|i| {
            [
                Some(["1", "2", "9", "X"][i % 4]),
                if i % 7 == 0 {
                    None
                } else {
                    Some(["3", "40", "99"][i % 3])
                },
                Some("2024-06-01"),
                None,
            ]
        })
        .collect();
    let whole = encode_text(&rows, Default::default()).unwrap();
    let mut first = encode_text(&rows[..20], Default::default()).unwrap();
    first
        .append(encode_text(&rows[20..], Default::default()).unwrap())
        .unwrap();
    assert_eq!(first.columns(), whole.columns());
    assert_eq!(first.n_rows(), 50);
    let counts = whole.column("sex").unwrap().counts();
    assert_eq!(counts, [13, 13, 12, 12]);
}

#[test]
fn from_columns_checks_codes() {
    let spec = ColumnSpec::categorical("c", ["a", "b"]);
    let book = CodeBook {
        n_values: 2,
        null_code: None,
        other_code: None,
    };
    let ok = EncodedColumn {
        spec: spec.clone(),
        codebook: book,
        codes: vec![0, 1],
    };
    assert!(EncodedTable::from_columns(vec![ok]).is_ok());
    let bad = EncodedColumn {
        spec,
        codebook: book,
        codes: vec![0, 2],
    };
    assert!(EncodedTable::from_columns(vec![bad]).is_err());
}

#[test]
fn datetime_type_is_named_in_mismatch() {
    let s = Schema::new(vec![ColumnSpec::integer("n", 0, 3)]).unwrap();
    let b = batch(vec![(
        "n",
        Arc::new(Date32Array::from(vec![1])) as ArrayRef,
    )]);
    let err = encode_batches(&s, &[b], Default::default()).unwrap_err();
    assert!(err.to_string().contains("Date32"), "{err}");
    let _ = DataType::Utf8;
}

#[test]
fn encode_file_reads_only_what_it_encodes_and_still_reports_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.csv");
    std::fs::write(&p, "extra,sex,note\n1,M,a\n2,F,b\n").unwrap();
    let schema = Schema::new(vec![
        ColumnSpec::categorical("sex", ["M", "F"]),
        ColumnSpec::new("note", ColumnKind::Text),
    ])
    .unwrap();
    let t = encode_file(&p, &schema, EncodeOptions::default()).unwrap();
    assert_eq!(t.n_rows(), 2);
    assert_eq!(t.column("sex").unwrap().codes, [0, 1]);
    assert_eq!(t.report().undeclared_data_columns, ["extra"]);
    assert_eq!(t.report().text_columns_not_encoded, ["note"]);
    // A declared column missing from the file names every column the file has.
    let wider = Schema::new(vec![
        ColumnSpec::categorical("sex", ["M", "F"]),
        ColumnSpec::integer("age", 0, 120),
    ])
    .unwrap();
    let err = encode_file(&p, &wider, EncodeOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"age\"") && err.contains("extra, sex, note"),
        "{err}"
    );
}

#[test]
fn a_column_named_twice_is_refused_naming_it() {
    let s = Schema::new(vec![ColumnSpec::integer("age", 0, 120)]).unwrap();
    let b = batch(vec![
        ("age", Arc::new(Int64Array::from(vec![30])) as ArrayRef),
        ("age", Arc::new(Int64Array::from(vec![31])) as ArrayRef),
    ]);
    let err = encode_batches(&s, &[b], Default::default()).unwrap_err();
    assert!(err.to_string().contains("\"age\" appears twice"), "{err}");
    assert_eq!(crate::Classify::kind(&err), crate::ErrorKind::Schema);

    // A Parquet file with two `age` columns: the same refusal, before any row is read.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dup.parquet");
    let b = batch(vec![
        ("age", Arc::new(Int64Array::from(vec![30])) as ArrayRef),
        ("age", Arc::new(Int64Array::from(vec![31])) as ArrayRef),
    ]);
    crate::data::io::write_table(&path, BatchStream::from_batches(b.schema(), vec![b])).unwrap();
    let err = encode_file(&path, &s, Default::default()).unwrap_err();
    assert!(err.to_string().contains("\"age\" appears twice"), "{err}");
}

#[test]
fn an_impossible_row_count_hint_is_skipped_not_fatal() {
    // A Parquet footer can claim any number of rows; reserving for it must neither panic
    // (capacity overflow) nor abort (allocation failure), and encoding carries on.
    let mut enc = Encoder::new(&schema(), EncodeOptions::default()).unwrap();
    enc.reserve(usize::MAX / 2);
    enc.reserve(1 << 50);
    let b = batch(vec![
        ("sex", text(&[Some("2")])),
        ("age", text(&[Some("34")])),
        ("arrival_date", text(&[Some("2024-01-03")])),
        ("nhs_number", text(&[Some("9990000018")])),
    ]);
    enc.push(&b).unwrap();
    let t = enc.finish().unwrap();
    assert_eq!(t.column("sex").unwrap().codes, [1]);
}
