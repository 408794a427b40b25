//! `pets outputs`: tables checked cell by cell, appended to a bundle, reviewed; bad input
//! refused naming the column, with no partial bundle.

mod common;

use common::{p, pets, text};

/// A small CSV: 2 sexes x 2 bands, one small cell (M, 0-17: 3 records), a numeric `los`.
fn data(dir: &std::path::Path) -> std::path::PathBuf {
    let mut s = String::from("sex,band,los,note\n");
    for (sex, band, n) in [
        ("F", "0-17", 12),
        ("F", "18+", 30),
        ("M", "0-17", 3),
        ("M", "18+", 40),
    ] {
        for i in 0..n {
            s.push_str(&format!("{sex},{band},{},x\n", i % 7 + 1));
        }
    }
    let path = dir.join("ae.csv");
    std::fs::write(&path, s).unwrap();
    path
}

#[test]
fn crosstab_pivot_bundle_and_review() {
    let dir = tempfile::tempdir().unwrap();
    let csv = data(dir.path());
    let bundle = dir.path().join("bundle");
    let o = pets(&[
        "outputs",
        "crosstab",
        p(&csv),
        "--rows",
        "sex",
        "--cols",
        "band",
        "--bundle",
        p(&bundle),
        "--exception",
        "a published denominator",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("1 of 9 cell(s) fail [FAIL]"), "{out}");
    assert!(out.contains("M, 0-17: threshold (3 record(s)"), "{out}");
    let o = pets(&[
        "outputs",
        "pivot",
        p(&csv),
        "--rows",
        "sex",
        "--values",
        "los",
        "--agg",
        "sum",
        "--mitigate",
        "suppress",
        "--bundle",
        p(&bundle),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for f in [
        "record.json",
        "summary.html",
        "output_001.csv",
        "output_002.csv",
    ] {
        assert!(bundle.join(f).exists(), "{f}");
    }
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("record.json")).unwrap())
            .unwrap();
    let outputs = record["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 2);
    assert_eq!(outputs[0]["exception"], "a published denominator");
    assert_eq!(
        outputs[0]["provenance"]["sha256"].as_str().unwrap().len(),
        64
    );
    assert!(outputs[0]["call"].as_str().unwrap().contains("crosstab"));
    let released = std::fs::read_to_string(bundle.join("output_001.csv")).unwrap();
    assert!(
        released.starts_with("sex,band,count,failed_checks\n"),
        "{released}"
    );
    assert!(released.contains("M,0-17,3,threshold\n"), "{released}");
    let o = pets(&["outputs", "review", p(&bundle)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("output_001  crosstab count by sex x band  [FAIL]"),
        "{out}"
    );
    assert!(
        out.contains("exception requested: a published denominator"),
        "{out}"
    );
    assert!(out.contains("output_002  pivot sum(los) by sex"), "{out}");
    let o = pets(&["outputs", "decide", p(&bundle), "output_002", "approve"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = pets(&["outputs", "review", p(&bundle)]);
    assert!(text(&o).contains("decision: approved"), "{}", text(&o));
}

#[test]
fn bad_input_names_the_column_and_writes_no_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let csv = data(dir.path());
    let bundle = dir.path().join("bundle");
    let run = |extra: &[&str]| {
        let mut args = vec!["outputs", "pivot", p(&csv), "--bundle", p(&bundle)];
        args.extend_from_slice(extra);
        pets(&args)
    };
    // A sum of a text column.
    let o = run(&["--rows", "sex", "--values", "band", "--agg", "sum"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("\"band\""), "{}", text(&o));
    // An unknown grouping column.
    let o = run(&["--rows", "nope", "--values", "los"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("nope"), "{}", text(&o));
    // An empty group name.
    let o = run(&["--rows", "sex,", "--values", "los"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("empty name"), "{}", text(&o));
    // An unknown statistic.
    let o = run(&["--rows", "sex", "--values", "los", "--agg", "mode"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!bundle.exists(), "no bundle from failed runs");
    // A rules file with an unknown key.
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, "threshold = 5\nzeroes = true\n").unwrap();
    let o = run(&["--rows", "sex", "--values", "los", "--rules", p(&rules)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("zeroes"), "{}", text(&o));
    // Reviewing a folder that is not a bundle.
    let o = pets(&["outputs", "review", p(dir.path())]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
}

#[test]
fn survival_table_checked_merged_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    // 60 patients: deaths on days 1..=30 (one a day; day 3 censored), 30 censored at day 60
    // (60 records, 31 distinct times: 29 residual degrees of freedom).
    let mut s = String::from("days,died\n");
    for d in 1..=30 {
        s.push_str(&format!("{d},{}\n", if d == 3 { "no" } else { "yes" }));
    }
    for _ in 0..30 {
        s.push_str("60,no\n");
    }
    let csv = dir.path().join("cohort.csv");
    std::fs::write(&csv, s).unwrap();
    let bundle = dir.path().join("bundle");
    let args = |m: &'static str| {
        vec![
            "outputs".to_string(),
            "survival".into(),
            p(&csv).into(),
            "--time".into(),
            "days".into(),
            "--event".into(),
            "died".into(),
            "--mitigate".into(),
            m.into(),
            "--bundle".into(),
            p(&bundle).into(),
        ]
    };
    let run = |m: &'static str| {
        let a = args(m);
        pets(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let o = run("none");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("[FAIL]"), "{}", text(&o));
    assert!(text(&o).contains("left the risk set"), "{}", text(&o));
    let o = run("suppress");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("[PASS]"), "{}", text(&o));
    let released = std::fs::read_to_string(bundle.join("output_002.csv")).unwrap();
    assert!(
        released.starts_with("time,at_risk,events,survival,failed_checks\n"),
        "{released}"
    );
    let o = pets(&["outputs", "review", p(&bundle)]);
    assert!(
        text(&o).contains("survival survival(died) by days"),
        "{}",
        text(&o)
    );
    // A flag that is not one.
    std::fs::write(&csv, "days,died\n1,maybe\n").unwrap();
    let o = run("none");
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("maybe"), "{}", text(&o));
}
