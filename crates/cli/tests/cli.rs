//! The `pets` binary end to end: outputs, messages and exit codes.

mod common;

use common::{p, pets, text};

#[test]
fn generate_infer_and_check() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ae.csv");
    let schema = dir.path().join("ae.schema.json");
    let o = pets(&[
        "datasets",
        "generate",
        "--rows",
        "5000",
        "--seed",
        "3",
        "--out",
        p(&data),
        "--schema-out",
        p(&schema),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("wrote 5000 rows"));

    let o = pets(&["schema", "check", p(&data), "--schema", p(&schema)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("OK: every value fits the schema"));

    let inferred = dir.path().join("inferred.toml");
    let o = pets(&["schema", "infer", p(&data), "--out", p(&inferred)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("WARNING: domain_from_data"),
        "{}",
        text(&o)
    );
    let s = pets::data::Schema::load(&inferred).unwrap();
    assert!(s.column("nhs_number").is_ok());

    let o = pets(&["summary", p(&data), "--schema", p(&schema), "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["rows"], 5000);
}

#[test]
fn bad_data_exits_3_and_names_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    std::fs::write(&data, "sex,age\n1,30\nQ,31\n").unwrap();
    let schema = dir.path().join("s.json");
    std::fs::write(
        &schema,
        r#"{"columns": [{"name": "sex", "kind": "categorical", "values": ["1", "2"]},
                        {"name": "age", "kind": "integer", "min": 0, "max": 120}]}"#,
    )
    .unwrap();
    let o = pets(&["schema", "check", p(&data), "--schema", p(&schema)]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains(r#"column "sex", row 2: value "Q" is outside the declared domain"#),
        "{}",
        text(&o)
    );
    let o = pets(&[
        "schema",
        "check",
        p(&data),
        "--schema",
        p(&schema),
        "--count-out-of-domain",
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        text(&o).contains("sex: 1 value(s) outside the declared domain"),
        "{}",
        text(&o)
    );
}

#[test]
fn missing_files_exit_4_and_usage_errors_exit_2() {
    let o = pets(&["schema", "infer", "/nonexistent/x.csv"]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    let o = pets(&["schema", "infer", "data.xlsx"]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains(".parquet"));
    let o = pets(&[
        "datasets",
        "generate",
        "--rows",
        "ten",
        "--out",
        "x.parquet",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = pets(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn empty_file_is_a_data_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("e.csv");
    std::fs::write(&data, "a,b\n").unwrap();
    let o = pets(&["schema", "infer", p(&data)]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("empty"), "{}", text(&o));
}

#[test]
fn demo_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let o = pets(&["demo", "--rows", "20000", "--out", p(dir.path())]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    for step in [
        "== 1.",
        "== 2.",
        "== 3.",
        "== 4.",
        "domain_from_data",
        "postcode_district",
        "== 5.",
        "== 6.",
        "== 7. Synthetic data",
        "person-level: at most 3 attendances per local_patient_id",
        "utility: mean 2-way total-variation distance",
    ] {
        assert!(t.contains(step), "missing {step:?} in\n{t}");
    }
    for file in [
        "ae.schema.json",
        "risk.json",
        "dp_results.json",
        "synth_model.json",
        "synth.parquet",
    ] {
        assert!(dir.path().join(file).exists(), "{file} not written");
    }
}

#[test]
fn datasets_schema_prints_every_bundled_schema() {
    for (name, column) in [
        ("ae", "arrival_datetime"),
        ("synae", "AE_Arrive_Date"),
        ("adult", "education"),
    ] {
        let o = pets(&["datasets", "schema", "--dataset", name]);
        assert!(o.status.success(), "{name}: {}", text(&o));
        let s = pets::data::Schema::from_json(&String::from_utf8_lossy(&o.stdout)).unwrap();
        assert!(s.column(column).is_ok(), "{name} lacks {column}");
    }
    let o = pets(&["datasets", "schema", "--dataset", "nope"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}
