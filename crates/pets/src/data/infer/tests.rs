use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int32Array, StringArray};
use arrow_schema::{Field, Schema as ArrowSchema};
use chrono::NaiveDate;

use super::*;
use crate::data::schema::DateGranularity;

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

fn text(v: &[Option<&str>]) -> ArrayRef {
    Arc::new(v.iter().copied().collect::<StringArray>())
}

fn infer(batches: &[RecordBatch], opts: InferOptions) -> Schema {
    let mut inf = SchemaInferrer::new(opts);
    for b in batches {
        inf.observe(b).unwrap();
    }
    inf.finish().unwrap()
}

#[test]
fn text_columns_get_the_narrowest_kind() {
    let b = batch(vec![
        ("age", text(&[Some("4"), Some("87"), None])),
        ("dept", text(&[Some("01"), Some("03"), Some("01")])),
        ("sex", text(&[Some("2"), Some("X"), Some("10")])),
        ("miles", text(&[Some("1.5"), Some("0"), Some("12")])),
        (
            "day",
            text(&[Some("2024-03-01"), Some("2024-01-31"), Some("2024-02-02")]),
        ),
        (
            "t",
            text(&[
                Some("2024-03-01T10:00"),
                Some("2024-03-01 11:30:00"),
                Some("2024-03-02T00:00:00"),
            ]),
        ),
    ]);
    let s = infer(&[b], Default::default());
    let kind = |n: &str| s.column(n).unwrap().kind.clone();
    assert_eq!(
        kind("age"),
        ColumnKind::Integer {
            min: 4,
            max: 87,
            bins: None
        }
    );
    assert!(s.column("age").unwrap().nullable);
    assert_eq!(
        kind("dept"),
        ColumnKind::Categorical {
            values: vec!["01".into(), "03".into()],
            ordered: false
        },
        "leading zeros keep codes as labels"
    );
    assert_eq!(
        kind("sex"),
        ColumnKind::Categorical {
            values: vec!["2".into(), "10".into(), "X".into()],
            ordered: false
        },
        "numbers sort numerically, before text"
    );
    assert!(matches!(
        kind("miles"),
        ColumnKind::Float {
            min: 0.0,
            max: 12.0,
            ..
        }
    ));
    assert_eq!(
        kind("day"),
        ColumnKind::Date {
            min: NaiveDate::from_ymd_opt(2024, 1, 31).unwrap(),
            max: NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
            granularity: DateGranularity::Day,
            format: None
        }
    );
    assert!(matches!(
        kind("t"),
        ColumnKind::Datetime {
            granularity: TimeGranularity::Minute,
            ..
        }
    ));
    assert_eq!(
        s.domain_from_data().len(),
        6,
        "every inferred domain is flagged"
    );
}

#[test]
fn many_distinct_texts_become_text() {
    let ids: Vec<String> = (0..50).map(|i| format!("id-{i}")).collect();
    let b = batch(vec![(
        "id",
        text(&ids.iter().map(|s| Some(s.as_str())).collect::<Vec<_>>()),
    )]);
    let s = infer(
        &[b],
        InferOptions {
            max_categories: 10,
            ..Default::default()
        },
    );
    let c = s.column("id").unwrap();
    assert_eq!(c.kind, ColumnKind::Text);
    assert!(!c.domain_from_data, "text has no domain to leak");
    assert!(c.description.as_deref().unwrap().contains("more than 10"));
}

#[test]
fn typed_columns_and_streaming_over_batches() {
    let b1 = batch(vec![
        ("n", Arc::new(Int32Array::from(vec![5, 9])) as ArrayRef),
        ("f", Arc::new(Float64Array::from(vec![0.5, 2.0]))),
        ("b", Arc::new(BooleanArray::from(vec![true, false]))),
    ]);
    let b2 = batch(vec![
        (
            "n",
            Arc::new(Int32Array::from(vec![Some(-1), None])) as ArrayRef,
        ),
        ("f", Arc::new(Float64Array::from(vec![3.0, 1.0]))),
        ("b", Arc::new(BooleanArray::from(vec![true, true]))),
    ]);
    let s = infer(&[b1, b2], Default::default());
    assert_eq!(
        s.column("n").unwrap().kind,
        ColumnKind::Integer {
            min: -1,
            max: 9,
            bins: None
        }
    );
    assert!(s.column("n").unwrap().nullable);
    assert!(matches!(
        s.column("f").unwrap().kind,
        ColumnKind::Float {
            min: 0.5,
            max: 3.0,
            ..
        }
    ));
    assert_eq!(
        s.column("b").unwrap().kind,
        ColumnKind::Categorical {
            values: vec!["false".into(), "true".into()],
            ordered: false
        }
    );
}

#[test]
fn wide_integer_ranges_are_binned() {
    let b = batch(vec![(
        "x",
        Arc::new(Int32Array::from(vec![0, 50_000_000])) as ArrayRef,
    )]);
    let s = infer(&[b], Default::default());
    assert!(matches!(
        s.column("x").unwrap().kind,
        ColumnKind::Integer {
            bins: Some(Binning::EqualWidth(20)),
            ..
        }
    ));
}

#[test]
fn empty_and_all_null_inputs() {
    assert!(matches!(
        SchemaInferrer::new(Default::default()).finish(),
        Err(DataError::Empty { .. })
    ));
    let b = batch(vec![("x", text(&[None, None]))]);
    let s = infer(&[b], Default::default());
    assert_eq!(s.column("x").unwrap().kind, ColumnKind::Text);
    let empty = batch(vec![("x", text(&[]))]);
    let mut inf = SchemaInferrer::new(Default::default());
    inf.observe(&empty).unwrap();
    assert!(matches!(inf.finish(), Err(DataError::Empty { .. })));
}

#[test]
fn numeric_identifiers_held_as_text_are_text() {
    let ids: Vec<String> = (0..50)
        .map(|i| (9_990_000_000u64 + i * 7_919_113).to_string())
        .collect();
    let b = batch(vec![(
        "nhs_number",
        text(&ids.iter().map(|s| Some(s.as_str())).collect::<Vec<_>>()),
    )]);
    let s = infer(
        &[b],
        InferOptions {
            max_categories: 10,
            ..Default::default()
        },
    );
    assert_eq!(s.column("nhs_number").unwrap().kind, ColumnKind::Text);
}

#[test]
fn risk_inference_keeps_exact_numbers_and_mostly_unique_text_is_an_identifier() {
    let density: Vec<String> = (0..400).map(|i| format!("{}.5", i % 150)).collect();
    let ids: Vec<String> = (0..400).map(|i| format!("P{:05}", i * 7)).collect();
    let b = batch(vec![
        (
            "density",
            text(&density.iter().map(|s| Some(s.as_str())).collect::<Vec<_>>()),
        ),
        (
            "patient",
            text(&ids.iter().map(|s| Some(s.as_str())).collect::<Vec<_>>()),
        ),
    ]);
    // Default (synthesis, DP drafts): floats are binned.
    let binned = infer(std::slice::from_ref(&b), InferOptions::default());
    assert!(matches!(binned.columns[0].kind, ColumnKind::Float { .. }));
    // Risk: the 150 exact values, in numeric order, ordered.
    let exact = infer(
        &[b],
        InferOptions {
            exact_values: true,
            ..Default::default()
        },
    );
    match &exact.columns[0].kind {
        ColumnKind::Categorical { values, ordered } => {
            assert_eq!(values.len(), 150);
            assert_eq!(&values[..3], ["0.5", "1.5", "2.5"]);
            assert_eq!(values[10], "10.5"); // numeric, not text, order
            assert!(*ordered);
        }
        k => panic!("{k:?}"),
    }
    for s in [&binned, &exact] {
        assert_eq!(
            s.columns[1].kind,
            ColumnKind::Text,
            "ids are never categories"
        );
        let why = s.columns[1].description.as_deref().unwrap();
        assert!(why.contains("identifier"), "{why}");
    }
}

#[test]
fn risk_inference_keeps_typed_numbers_exact_and_identifiers_are_direct_identifiers() {
    use arrow_array::Int64Array;
    let density: ArrayRef = Arc::new(
        (0..500)
            .map(|i| {
                Some(if i == 7 {
                    -0.0
                } else {
                    (i % 120) as f64 * 0.25
                })
            })
            .collect::<Float64Array>(),
    );
    let income: ArrayRef = Arc::new(
        (0..500)
            .map(|i| Some((i % 90) as i64 * 50_000))
            .collect::<Int64Array>(),
    );
    let age: ArrayRef = Arc::new((0..500).map(|i| Some(i % 90)).collect::<Int32Array>());
    let case_no: ArrayRef = Arc::new(
        (0..500)
            .map(|i| Some(9_000_000_000 + i as i64 * 1_000_003))
            .collect::<Int64Array>(),
    );
    let ids: Vec<String> = (0..500).map(|i| format!("RX{:06}", i * 13)).collect();
    let b = batch(vec![
        ("density", density),
        ("income", income),
        ("age", age),
        ("case_no", case_no),
        (
            "mrn",
            text(&ids.iter().map(|s| Some(s.as_str())).collect::<Vec<_>>()),
        ),
    ]);
    let opts = InferOptions {
        exact_values: true,
        max_integer_codes: 1000,
        ..Default::default()
    };
    let s = infer(std::slice::from_ref(&b), opts);
    match &s.column("density").unwrap().kind {
        ColumnKind::Categorical { values, ordered } => {
            assert!(*ordered);
            assert_eq!(values.len(), 120, "-0.0 is 0.0");
            assert_eq!(&values[..3], ["0", "0.25", "0.5"]);
        }
        k => panic!("{k:?}"),
    }
    // A range too wide for dense codes: exact categories, not bins.
    match &s.column("income").unwrap().kind {
        ColumnKind::Categorical { values, ordered } => {
            assert!(*ordered);
            assert_eq!(values.len(), 90);
            assert_eq!(values[1], "50000");
        }
        k => panic!("{k:?}"),
    }
    // A narrow integer range keeps dense integer codes.
    assert!(matches!(
        s.column("age").unwrap().kind,
        ColumnKind::Integer { bins: None, .. }
    ));
    // Mostly unique whole numbers over a huge range: an identifier, even typed.
    let case_no = s.column("case_no").unwrap();
    assert_eq!(case_no.kind, ColumnKind::Text);
    assert_eq!(case_no.role, Role::DirectIdentifier);
    let mrn = s.column("mrn").unwrap();
    assert_eq!(mrn.kind, ColumnKind::Text);
    assert_eq!(mrn.role, Role::DirectIdentifier);
    // The table encodes under the inferred schema: every value is in its domain.
    let source = crate::data::TableSource::batches("t", b.schema(), vec![b.clone()]);
    let opts = crate::data::EncodeOptions {
        columns: Some(["density", "income", "age"].map(String::from).to_vec()),
        ..Default::default()
    };
    let encoded = source
        .encode(&s, opts, &[], &crate::progress::Progress::none())
        .unwrap();
    assert_eq!(encoded.table.n_rows(), 500);

    // Without exact values the same columns are binned, as synthesis wants them.
    let binned = infer(
        &[b],
        InferOptions {
            max_integer_codes: 1000,
            ..Default::default()
        },
    );
    assert!(matches!(
        binned.column("density").unwrap().kind,
        ColumnKind::Float { .. }
    ));
    assert!(matches!(
        binned.column("income").unwrap().kind,
        ColumnKind::Integer { bins: Some(_), .. }
    ));
}

#[test]
fn padded_integers_are_integers_not_floats() {
    let b = batch(vec![("age", text(&[Some(" 4"), Some("87 "), Some("5")]))]);
    let s = infer(&[b], Default::default());
    assert_eq!(
        s.columns[0].kind,
        ColumnKind::Integer {
            min: 4,
            max: 87,
            bins: None
        }
    );
}
