//! Real files as they come: a header-less, comma-and-space file with `?` for missing, read
//! with the right options (or sniffed), gives the same risk figures as a clean copy; the
//! public UCI Adult file (when the shared data folder holds it) reads as it is shipped.

use std::path::{Path, PathBuf};

use pets::data::{CsvDialect, Schema, TableSource};
use pets::disclosure::{RiskConfig, RiskJob};
use pets::{Classify, ErrorKind, WarningKind};

const NAMES: [&str; 4] = ["age", "workclass", "sex", "income"];

/// Rows as (age, workclass or None, sex, income).
fn rows(n: usize) -> Vec<(u32, Option<&'static str>, &'static str, &'static str)> {
    let work = ["Private", "State-gov", "Self-emp"];
    (0..n)
        .map(|i| {
            let w = (i % 7 != 3).then(|| work[(i * 5 / 3) % 3]);
            let sex = if (i * 7) % 3 == 0 { "Female" } else { "Male" };
            let inc = if i % 4 == 0 { ">50K" } else { "<=50K" };
            (17 + (i * 13 % 60) as u32, w, sex, inc)
        })
        .collect()
}

fn write(dir: &Path, name: &str, text: String) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn clean_and_messy(dir: &Path) -> (PathBuf, PathBuf) {
    let rows = rows(600);
    let mut clean = format!("{}\n", NAMES.join(","));
    let mut messy = String::new();
    for (age, w, sex, inc) in &rows {
        clean.push_str(&format!("{age},{},{sex},{inc}\n", w.unwrap_or("")));
        messy.push_str(&format!("{age}, {}, {sex}, {inc}\n", w.unwrap_or("?")));
    }
    (
        write(dir, "clean.csv", clean),
        write(dir, "messy.csv", messy),
    )
}

fn config() -> RiskConfig {
    RiskConfig {
        quasi_identifiers: vec!["age".into(), "workclass".into(), "sex".into()],
        sensitive: Some("income".into()),
        k: 3,
        ..Default::default()
    }
}

fn figures(source: TableSource) -> (String, Vec<pets::Warning>) {
    let out = RiskJob::new(source, config()).run().unwrap();
    let r = &out.report;
    let figures = serde_json::json!({
        "n": r.n_records,
        "k": r.k_anonymity,
        "l": r.l_diversity,
        "t": r.t_closeness,
        "reid": r.reidentification,
    });
    (figures.to_string(), out.warnings)
}

#[test]
fn a_messy_file_read_with_its_options_matches_the_clean_copy() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, messy) = clean_and_messy(dir.path());
    let (want, _) = figures(TableSource::file(&clean));
    // Everything said: no header, these names, trim, "?" is missing.
    let said = CsvDialect {
        header: Some(false),
        column_names: Some(NAMES.map(String::from).to_vec()),
        trim: Some(true),
        null_values: Some(vec![String::new(), "?".into()]),
        ..Default::default()
    };
    let (got, warnings) = figures(TableSource::file(&messy).with_csv(said));
    assert_eq!(got, want);
    assert!(!warnings.iter().any(|w| w.kind == WarningKind::CsvDialect));
    // Only the names and the missing code said: header and padding are sniffed, and said so.
    let some = CsvDialect {
        column_names: Some(NAMES.map(String::from).to_vec()),
        null_values: Some(vec![String::new(), "?".into()]),
        ..Default::default()
    };
    let (got, warnings) = figures(TableSource::file(&messy).with_csv(some));
    assert_eq!(got, want);
    let notes: Vec<&str> = warnings
        .iter()
        .filter(|w| w.kind == WarningKind::CsvDialect)
        .map(|w| w.message.as_str())
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}"); // padding (no header is implied by the names)
    assert!(notes[0].contains("padded"), "{notes:?}");
}

#[test]
fn a_declared_schema_names_a_headerless_file_and_keeps_its_dialect() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, messy) = clean_and_messy(dir.path());
    let mut schema = TableSource::file(&clean).infer_schema().unwrap();
    assert_eq!(schema.csv, None, "a plain file records no dialect");
    // The schema says "?" is missing; the header and padding are sniffed from the file.
    schema.csv = Some(CsvDialect {
        null_values: Some(vec![String::new(), "?".into()]),
        ..Default::default()
    });
    let out = RiskJob::new(TableSource::file(&messy), config())
        .schema(schema.clone())
        .run()
        .unwrap();
    let clean_out = RiskJob::new(TableSource::file(&clean), config())
        .schema(schema)
        .run()
        .unwrap();
    assert_eq!(out.report.k_anonymity, clean_out.report.k_anonymity);
    assert_eq!(out.report.n_records, clean_out.report.n_records);
    let notes: Vec<&str> = out
        .warnings
        .iter()
        .filter(|w| w.kind == WarningKind::CsvDialect)
        .map(|w| w.message.as_str())
        .collect();
    assert!(notes.iter().any(|n| n.contains("no header")), "{notes:?}");
    assert!(notes.iter().any(|n| n.contains("padded")), "{notes:?}");
}

#[test]
fn a_missing_code_not_declared_is_an_error_that_says_how() {
    let dir = tempfile::tempdir().unwrap();
    let text: String = (0..50)
        .map(|i| {
            format!(
                "{},{}\n",
                if i == 7 { "N".into() } else { i.to_string() },
                i % 2
            )
        })
        .collect();
    let p = write(dir.path(), "n.csv", format!("age,sex\n{text}"));
    let schema = Schema::from_json(
        r#"{"columns": [{"name": "age", "kind": "integer", "min": 0, "max": 120,
                          "nullable": true, "role": "quasi_identifier"},
                        {"name": "sex", "kind": "categorical", "values": ["0", "1"],
                          "role": "quasi_identifier"}]}"#,
    )
    .unwrap();
    let cfg = RiskConfig {
        quasi_identifiers: vec!["age".into(), "sex".into()],
        ..Default::default()
    };
    let e = RiskJob::new(TableSource::file(&p), cfg.clone())
        .schema(schema.clone())
        .run()
        .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("\"N\"") && msg.contains("--null N"), "{msg}");
    assert_eq!(e.kind(), ErrorKind::Parse);
    let ok = RiskJob::new(
        TableSource::file(&p).with_csv(CsvDialect {
            null_values: Some(vec![String::new(), "N".into()]),
            ..Default::default()
        }),
        cfg,
    )
    .schema(schema)
    .run()
    .unwrap();
    assert_eq!(ok.report.n_records, 50);
}

#[test]
fn the_uci_adult_file_reads_as_shipped() {
    let Some(adult) = pets_shared_adult() else {
        eprintln!("skipped: the shared data folder has no adult/adult.data");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("adult.csv");
    std::fs::copy(&adult, &p).unwrap();
    let source = TableSource::file(&p).with_csv(CsvDialect {
        null_values: Some(vec![String::new(), "?".into()]),
        ..Default::default()
    });
    let (pinned, notes) = source.pinned(None).unwrap();
    assert_eq!(notes.len(), 2, "no header and padding: {notes:?}");
    let names = pinned.column_names().unwrap();
    assert_eq!(names.len(), 15);
    assert_eq!(names[0], "column_1");
    let schema = pinned.infer_schema().unwrap();
    let csv = schema.csv.as_ref().expect("the dialect is recorded");
    assert_eq!((csv.header, csv.trim), (Some(false), Some(true)));
    // Workclass (column 2) has "?" for missing: it is nullable, and no value is " Private".
    let work = schema.column("column_2").unwrap();
    assert!(work.nullable);
    let labels = serde_json::to_string(&work.kind).unwrap();
    assert!(labels.contains("\"Private\"") && !labels.contains("\" Private\""));
}

fn pets_shared_adult() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("PETS_SHARED_DATA").map(PathBuf::from),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")),
    ];
    candidates
        .into_iter()
        .flatten()
        .map(|d| d.join("adult/adult.data"))
        .find(|p| p.is_file())
}

/// Typed columns as a Parquet file or a data frame delivers them: floats with decimals, an
/// integer quantity over a range too wide for dense codes, and nominal integer codes.
fn typed_table(n: usize) -> TableSource {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
    let density: Float64Array = (0..n)
        .map(|i| Some(0.9 + (i * 37 % 250) as f64 * 0.0004))
        .collect();
    let income: Int64Array = (0..n)
        .map(|i| Some((i * 11 % 600) as i64 * 5_000))
        .collect();
    let race: Int64Array = (0..n).map(|i| Some(1 + (i * 7 % 5) as i64)).collect();
    let batch = RecordBatch::try_from_iter([
        ("density", Arc::new(density) as ArrayRef),
        ("income", Arc::new(income) as ArrayRef),
        ("race", Arc::new(race) as ArrayRef),
    ])
    .unwrap();
    TableSource::batches("typed", batch.schema(), vec![batch])
}

#[test]
fn an_inferred_schema_groups_typed_numbers_on_their_exact_values() {
    let n = 3000;
    let source = typed_table(n);
    // The true sample uniques on the exact (density, income) pairs.
    let mut counts = std::collections::HashMap::new();
    for i in 0..n {
        *counts.entry((i * 37 % 250, i * 11 % 600)).or_insert(0u32) += 1;
    }
    let true_uniques = counts.values().filter(|&&c| c == 1).count() as u64;
    assert!(true_uniques > 100, "{true_uniques}");

    // A quasi-identifier inferred as an identifier is refused with the reason, not as if
    // the user had declared it text.
    let ids = {
        use std::sync::Arc;

        use arrow_array::{ArrayRef, Int64Array, RecordBatch};
        let id: Int64Array = (0..n as i64)
            .map(|i| Some(4_000_000_000 + i * 7_919))
            .collect();
        let batch = RecordBatch::try_from_iter([("case_no", Arc::new(id) as ArrayRef)]).unwrap();
        TableSource::batches("ids", batch.schema(), vec![batch])
    };
    let e = RiskJob::new(ids, RiskConfig::new(["case_no"]))
        .run()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("case_no") && e.contains("likely an identifier"),
        "{e}"
    );

    let config = RiskConfig {
        quasi_identifiers: vec!["density".into(), "income".into()],
        sensitive: Some("race".into()),
        t: Some(0.3),
        ..Default::default()
    };
    let out = RiskJob::new(source.clone(), config.clone()).run().unwrap();
    assert_eq!(out.report.k_anonymity.sample_uniques, true_uniques);
    // Race codes: the equal distance (never understates), and the report says why.
    let t = out.report.t_closeness.as_ref().unwrap();
    assert_eq!(t.distance, "equal");
    let why = out
        .warnings
        .iter()
        .find(|w| w.column.as_deref() == Some("race"))
        .expect("a warning on race");
    assert!(
        why.message.contains("--ground-distance ordered"),
        "{}",
        why.message
    );

    // A declared schema says race is an ordered integer: the ordered distance, no warning.
    let mut schema = source.infer_schema().unwrap();
    for c in &mut schema.columns {
        c.domain_from_data = false;
    }
    let declared = RiskJob::new(source, config).schema(schema).run().unwrap();
    assert_eq!(declared.report.t_closeness.unwrap().distance, "ordered");
    assert!(
        !declared
            .warnings
            .iter()
            .any(|w| w.column.as_deref() == Some("race"))
    );
}
