//! CSV -> encode -> decode -> CSV is lossless for categorical, integer, day-granular date and
//! aligned datetime columns; inferred schemas encode the data they came from.

use std::fmt::Write as _;

use pets::data::io::{BatchStream, open_table, write_table};
use pets::data::{
    DecodeOptions, Decoder, EncodeOptions, InferOptions, OutOfDomain, Schema, encode_file,
    infer_schema,
};
use proptest::prelude::*;

fn write_csv(dir: &std::path::Path, rows: &[(String, i64, String, String)]) -> std::path::PathBuf {
    let mut text = String::from("code,count,day,when\n");
    for (c, n, d, t) in rows {
        writeln!(text, "{c},{n},{d},{t}").unwrap();
    }
    let p = dir.join("in.csv");
    std::fs::write(&p, text).unwrap();
    p
}

fn schema() -> Schema {
    Schema::from_json(
        r#"{"columns": [
        {"name": "code", "kind": "categorical", "values": ["01", "02", "A&E", "x y", "é"]},
        {"name": "count", "kind": "integer", "min": -50, "max": 5000},
        {"name": "day", "kind": "date", "min": "2020-01-01", "max": "2030-12-31"},
        {"name": "when", "kind": "datetime", "min": "2024-01-01T00:00:00",
         "max": "2024-12-31T23:59:00", "granularity": "minute"}
    ]}"#,
    )
    .unwrap()
}

fn round_trip(rows: &[(String, i64, String, String)]) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), rows);
    let table = encode_file(&input, &schema(), EncodeOptions::default()).unwrap();
    let decoder = Decoder::new(DecodeOptions::default());
    let batches: Vec<_> = decoder
        .batches(&table, 7)
        .collect::<Result<_, _>>()
        .unwrap();
    let out = dir.path().join("out.csv");
    write_table(
        &out,
        BatchStream::from_batches(Decoder::arrow_schema(&table), batches),
    )
    .unwrap();
    (
        std::fs::read_to_string(&input).unwrap(),
        std::fs::read_to_string(&out).unwrap(),
    )
}

fn row_strategy() -> impl Strategy<Value = (String, i64, String, String)> {
    (
        prop::sample::select(vec!["01", "02", "A&E", "x y", "é"]),
        -50i64..=5000,
        0u32..4000,
        0u32..(366 * 24 * 60),
    )
        .prop_map(|(c, n, d, m)| {
            let day =
                chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Days::new(d.into());
            let t = chrono::NaiveDate::from_ymd_opt(2024, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                + chrono::TimeDelta::minutes(m.into());
            (
                c.to_string(),
                n,
                day.to_string(),
                t.format("%Y-%m-%dT%H:%M:%S").to_string(),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn csv_encode_decode_csv_is_lossless(rows in prop::collection::vec(row_strategy(), 1..60)) {
        let (input, output) = round_trip(&rows);
        prop_assert_eq!(input, output);
    }
}

#[test]
fn inferred_schema_encodes_its_own_data_and_flags_it() {
    let rows: Vec<_> = (0..100)
        .map(|i| {
            (
                ["01", "02"][i % 2].to_string(),
                i as i64,
                "2024-05-05".to_string(),
                "2024-05-05T10:00:00".to_string(),
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let p = write_csv(dir.path(), &rows);
    let s = infer_schema(open_table(&p, 16).unwrap(), InferOptions::default()).unwrap();
    assert_eq!(s.domain_from_data(), ["code", "count", "day", "when"]);
    let t = encode_file(&p, &s, EncodeOptions::default()).unwrap();
    assert_eq!(t.n_rows(), 100);
    assert_eq!(t.report().domain_from_data.len(), 4);
}

#[test]
fn mapped_rows_are_counted_never_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let rows = vec![
        (
            "01".to_string(),
            1,
            "2024-01-01".to_string(),
            "2024-01-01T00:00:00".to_string(),
        ),
        (
            "ZZ".to_string(),
            99999,
            "2019-01-01".to_string(),
            "2024-01-01T00:00:00".to_string(),
        ),
    ];
    let p = write_csv(dir.path(), &rows);
    let t = encode_file(
        &p,
        &schema(),
        EncodeOptions {
            out_of_domain: OutOfDomain::MapToOther,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(t.n_rows(), 2);
    let r = t.report();
    assert_eq!(
        (
            r.mapped_to_other["code"],
            r.mapped_to_other["count"],
            r.mapped_to_other["day"]
        ),
        (1, 1, 1)
    );
}
