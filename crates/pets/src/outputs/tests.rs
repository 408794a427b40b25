//! Each rule on hand-built cells, and the job, mitigation and bundle on small tables.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};

use super::*;
use crate::Classify;
use crate::data::TableSource;

fn cell(values: &[f64]) -> CellEvidence {
    let mut e = CellEvidence::default();
    for &v in values {
        e.add(Some(v), 2);
    }
    e
}

fn fails(e: &CellEvidence, agg: Agg, rules: &OutputRules) -> Vec<Check> {
    check_cell(e, &agg.checks(rules), rules, e.negatives > 0)
        .into_iter()
        .map(|f| f.check)
        .collect()
}

#[test]
fn threshold_is_strictly_below_and_counts_zero() {
    let r = OutputRules::default();
    let e = |count| CellEvidence {
        count,
        ..Default::default()
    };
    assert_eq!(fails(&e(9), Agg::Count, &r), vec![Check::Threshold]);
    assert!(fails(&e(10), Agg::Count, &r).is_empty());
    // A zero fails the threshold and, zeros being disclosive, the zeros rule.
    assert_eq!(
        fails(&e(0), Agg::Count, &r),
        vec![Check::Threshold, Check::Zeros]
    );
    let no_zeros = OutputRules {
        zeros_disclosive: false,
        ..r
    };
    assert_eq!(fails(&e(0), Agg::Count, &no_zeros), vec![Check::Threshold]);
}

#[test]
fn hes_preset_fails_one_to_seven_and_publishes_zero() {
    let r = OutputRules::from_toml("preset = \"hes\"", "t").unwrap();
    let e = |count| CellEvidence {
        count,
        ..Default::default()
    };
    assert!(fails(&e(0), Agg::Count, &r).is_empty());
    assert_eq!(fails(&e(1), Agg::Count, &r), vec![Check::Hes]);
    assert_eq!(fails(&e(7), Agg::Count, &r), vec![Check::Hes]);
    assert!(fails(&e(8), Agg::Count, &r).is_empty());
}

#[test]
fn nk_dominance_with_one_and_with_two_large_contributors() {
    let r = OutputRules::default();
    // One large contributor: 100 of 100 + 10 x 1 = 110 -> top two 101/110 = 91.8% >= 90%.
    let mut v = vec![100.0];
    v.extend([1.0; 10]);
    assert!(fails(&cell(&v), Agg::Sum, &r).contains(&Check::NkDominance));
    // Two large contributors: 50 + 50 of 100 + 10 x 1 -> 100/110 = 90.9% >= 90%.
    let mut v = vec![50.0, 50.0];
    v.extend([1.0; 10]);
    assert!(fails(&cell(&v), Agg::Sum, &r).contains(&Check::NkDominance));
    // Spread out: 12 values of 10 -> 20/120 = 16.7%.
    assert!(!fails(&cell(&[10.0; 12]), Agg::Sum, &r).contains(&Check::NkDominance));
    // Exactly at k fails (>=): with n = 1, 9 of 10 is 90%.
    let r1 = OutputRules { nk_n: 1, ..r };
    assert!(fails(&cell(&[9.0, 0.5, 0.5]), Agg::Sum, &r1).contains(&Check::NkDominance));
}

#[test]
fn p_ratio_with_one_and_with_two_large_contributors() {
    let r = OutputRules::default();
    // One large: rest = 110 - 100 - 1 = 9; 9 / 100 = 9% < 10%: fails.
    let mut v = vec![100.0];
    v.extend([1.0; 10]);
    assert!(fails(&cell(&v), Agg::Mean, &r).contains(&Check::PRatio));
    // Two large: the second can estimate the first: rest = 10 x 0.5 = 5; 5 / 100 < 10%.
    let mut v = vec![100.0, 90.0];
    v.extend([0.5; 10]);
    assert!(fails(&cell(&v), Agg::Mean, &r).contains(&Check::PRatio));
    // Others large enough: rest = 10 x 2 = 20 of 100 = 20%: passes.
    let mut v = vec![100.0, 90.0];
    v.extend([2.0; 10]);
    assert!(!fails(&cell(&v), Agg::Mean, &r).contains(&Check::PRatio));
    // Two contributors only: nothing else, 0%: fails. All zeros: fails (ACRO).
    assert!(fails(&cell(&[5.0, 4.0]), Agg::Mean, &r).contains(&Check::PRatio));
    assert!(fails(&cell(&[0.0; 12]), Agg::Mean, &r).contains(&Check::PRatio));
    // No values at all: nothing to dominate.
    assert!(!fails(&CellEvidence::default(), Agg::Mean, &r).contains(&Check::PRatio));
}

#[test]
fn negative_values_replace_dominance_by_a_review() {
    let r = OutputRules::default();
    let e = cell(&[100.0, -3.0, 1.0]);
    let f = check_cell(&e, &Agg::Sum.checks(&r), &r, true);
    let checks: Vec<Check> = f.iter().map(|f| f.check).collect();
    assert_eq!(checks, vec![Check::Threshold, Check::Negative]);
    // A cell without negatives in a table with some: dominance not applied.
    let e = cell(&[100.0, 1.0, 1.0]);
    let f = check_cell(&e, &Agg::Sum.checks(&r), &r, true);
    assert_eq!(f.len(), 1);
}

#[test]
fn degrees_of_freedom_of_models_and_std() {
    let r = OutputRules::default();
    assert!(check_dof(20, 10, &r).unwrap().is_none());
    assert_eq!(check_dof(19, 10, &r).unwrap().unwrap().check, Check::Dof);
    let e = check_dof(3, 5, &r).unwrap_err();
    assert_eq!(e.kind(), crate::ErrorKind::InvalidParameter);
    assert!(e.to_string().contains("5 parameters but only 3 rows"));
    // std: dof = count - 1.
    let e = |count| CellEvidence {
        count,
        ..Default::default()
    };
    assert_eq!(fails(&e(10), Agg::Std, &r), vec![Check::Dof]);
    assert!(fails(&e(11), Agg::Std, &r).is_empty());
}

#[test]
fn positions_and_extremes_of_small_groups_fail() {
    let r = OutputRules::default();
    for agg in [Agg::Min, Agg::Max, Agg::Median, Agg::Quantile(0.25)] {
        assert_eq!(fails(&cell(&[1.0; 4]), agg, &r), vec![Check::Threshold]);
        assert!(fails(&cell(&[1.0; 10]), agg, &r).is_empty());
    }
}

#[test]
fn rules_file_refuses_unknown_keys_by_name_and_bad_values() {
    let e = OutputRules::from_toml("threshold = 5\nthreshhold = 3", "rules.toml").unwrap_err();
    assert!(e.to_string().contains("threshhold"), "{e}");
    assert_eq!(e.kind(), crate::ErrorKind::InvalidParameter);
    let e = OutputRules::from_toml("nk_k = 1.5", "rules.toml").unwrap_err();
    assert!(e.to_string().contains("nk_k"), "{e}");
    let r = OutputRules::from_toml("threshold = 5\np_ratio = 0.2", "rules.toml").unwrap();
    assert_eq!((r.threshold, r.p_ratio, r.nk_n), (5, 0.2, 2));
}

#[test]
fn agg_parses_quantiles() {
    assert_eq!(Agg::parse("quantile:0.25").unwrap(), Agg::Quantile(0.25));
    assert_eq!(Agg::parse("p90").unwrap(), Agg::Quantile(0.9));
    assert!(Agg::parse("quantile:2").is_err());
    assert!(Agg::parse("mode").is_err());
}

/// sex x band records: (sex, band, value).
fn source(rows: &[(&str, &str, Option<f64>)]) -> TableSource {
    let batch = RecordBatch::try_from_iter([
        (
            "sex",
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
        ),
        (
            "band",
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))) as ArrayRef,
        ),
        (
            "los",
            Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.2))) as ArrayRef,
        ),
    ])
    .unwrap();
    TableSource::batches("t", batch.schema(), vec![batch])
}

fn records(spec: &[(&str, &str, usize)]) -> Vec<(&'static str, &'static str, Option<f64>)> {
    let mut out = Vec::new();
    for &(s, b, n) in spec {
        let s: &'static str = Box::leak(s.to_string().into_boxed_str());
        let b: &'static str = Box::leak(b.to_string().into_boxed_str());
        for i in 0..n {
            out.push((s, b, Some(i as f64 + 1.0)));
        }
    }
    out
}

fn by(cols: &[&str]) -> Vec<String> {
    cols.iter().map(|c| c.to_string()).collect()
}

#[test]
fn crosstab_checks_every_cell_and_margin() {
    let rows = records(&[
        ("F", "0-17", 12),
        ("F", "18+", 30),
        ("M", "0-17", 3),
        ("M", "18+", 40),
    ]);
    let t = OutputJob::crosstab(source(&rows), by(&["sex", "band"]))
        .run()
        .unwrap();
    assert_eq!(t.kind, "crosstab");
    // 2 x 2 plus margins = 3 x 3.
    assert_eq!(t.cells.len(), 9);
    let find = |s: &str, b: &str| {
        t.cells
            .iter()
            .find(|c| c.labels == [s, b])
            .unwrap_or_else(|| panic!("{s} {b}"))
    };
    assert_eq!(find("M", "0-17").published, "3");
    assert_eq!(find("M", "0-17").failures[0].check, Check::Threshold);
    assert!(find("F", "0-17").failures.is_empty());
    assert_eq!(find("Total", "Total").published, "85");
    assert_eq!(t.records, 85);
    assert_eq!(t.status, "fail");
    assert_eq!(t.failing(), 1);
}

#[test]
fn suppression_adds_secondary_cells_so_margins_cannot_recover() {
    let rows = records(&[
        ("F", "0-17", 12),
        ("F", "18+", 30),
        ("M", "0-17", 3),
        ("M", "18+", 40),
    ]);
    let t = OutputJob::crosstab(source(&rows), by(&["sex", "band"]))
        .mitigation(Mitigation::Suppress)
        .run()
        .unwrap();
    let m = t.mitigation.as_ref().unwrap();
    assert_eq!(m.primary, 1);
    // One small interior cell of a 2 x 2 table: at least its row and column partners and
    // the opposite corner must go too (3 more), else margins give it back; the greedy may
    // take margins as well (it is not minimal), and the audit proves the result.
    assert!(m.secondary >= 3, "{m:?}");
    assert!(m.protected);
    assert_eq!(t.status, "pass");
    let published: Vec<&str> = t.cells.iter().map(|c| c.published.as_str()).collect();
    assert_eq!(
        published.iter().filter(|p| **p == "*").count(),
        1 + m.secondary
    );
}

#[test]
fn rounding_counts_and_refusing_to_round_a_mean() {
    let rows = records(&[("F", "0-17", 12), ("M", "18+", 43)]);
    let t = OutputJob::crosstab(source(&rows), by(&["sex"]))
        .mitigation(Mitigation::Round)
        .run()
        .unwrap();
    let p: Vec<&str> = t.cells.iter().map(|c| c.published.as_str()).collect();
    assert_eq!(p, vec!["10", "45", "55"]);
    let e = OutputJob::pivot(source(&rows), by(&["sex"]), "los", Agg::Mean)
        .mitigation(Mitigation::Round)
        .run()
        .unwrap_err();
    assert!(e.to_string().contains("rounding"), "{e}");
}

#[test]
fn pivot_statistics_match_pandas() {
    // F: 1..=12, M: 1..=4 (values i + 1).
    let rows = records(&[("F", "a", 12), ("M", "a", 4)]);
    let run = |agg| {
        OutputJob::pivot(source(&rows), by(&["sex"]), "los", agg)
            .run()
            .unwrap()
    };
    let val = |t: &CheckedTable, i: usize| t.cells[i].published.clone();
    assert_eq!(val(&run(Agg::Sum), 0), "78");
    assert_eq!(val(&run(Agg::Mean), 0), "6.5");
    assert_eq!(val(&run(Agg::Median), 1), "2.5");
    assert_eq!(val(&run(Agg::Min), 2), "1");
    assert_eq!(val(&run(Agg::Max), 2), "12");
    // pandas: Series(range(1, 13)).quantile(0.25) = 3.75; std = 3.6056.
    assert_eq!(val(&run(Agg::Quantile(0.25)), 0), "3.75");
    assert_eq!(val(&run(Agg::Std), 0), "3.6056");
    // M has 4 records: its median fails the threshold.
    let t = run(Agg::Median);
    assert_eq!(t.cells[1].failures[0].check, Check::Threshold);
}

#[test]
fn missing_values_are_left_out_of_statistics_but_counted() {
    let mut rows = records(&[("F", "a", 10)]);
    rows.push(("F", "a", None));
    let t = OutputJob::pivot(source(&rows), by(&["sex"]), "los", Agg::Mean)
        .run()
        .unwrap();
    assert_eq!(t.cells[0].published, "5.5");
    assert_eq!(t.records, 11);
}

#[test]
fn bad_input_names_the_column() {
    let rows = records(&[("F", "a", 10)]);
    // A sum of a text column: its first value is refused, naming the column.
    let e = OutputJob::pivot(source(&rows), by(&["band"]), "sex", Agg::Sum)
        .run()
        .unwrap_err();
    assert_eq!(e.column(), Some("sex"));
    assert_eq!(e.kind(), crate::ErrorKind::Parse);
    assert!(e.to_string().contains("a number"), "{e}");
    // Declared categorical: refused before reading, naming it.
    let schema = crate::data::Schema::new(vec![
        crate::data::ColumnSpec::categorical("sex", ["F", "M"]),
        crate::data::ColumnSpec::categorical("band", ["a"]),
    ])
    .unwrap();
    let e = OutputJob::pivot(source(&rows), by(&["band"]), "sex", Agg::Sum)
        .schema_opt(Some(schema))
        .run()
        .unwrap_err();
    assert_eq!(e.column(), Some("sex"));
    assert!(e.to_string().contains("numeric"), "{e}");
    let e = OutputJob::crosstab(source(&rows), by(&["nope"]))
        .run()
        .unwrap_err();
    assert_eq!(e.column(), Some("nope"));
    let e = OutputJob::crosstab(source(&rows), by(&["sex", ""]))
        .run()
        .unwrap_err();
    assert!(e.to_string().contains("empty name"), "{e}");
    let e = OutputJob::pivot(source(&rows), by(&["sex"]), "nope", Agg::Mean)
        .run()
        .unwrap_err();
    assert_eq!(e.column(), Some("nope"));
}

#[test]
fn bundle_records_outputs_warns_of_differencing_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let all = records(&[("F", "0-17", 20), ("F", "18+", 30), ("M", "0-17", 25)]);
    let adults = records(&[("F", "0-17", 20), ("F", "18+", 30), ("M", "0-17", 22)]);
    let mut b = Bundle::new(dir.path().join("b"));
    let t1 = OutputJob::crosstab(source(&all), by(&["sex"]))
        .run()
        .unwrap();
    let t2 = OutputJob::crosstab(source(&adults), by(&["sex"]))
        .run()
        .unwrap();
    let id1 = b.add(t1, "crosstab sex".into(), Provenance::named("all", None));
    let id2 = b.add(t2, "crosstab sex".into(), Provenance::named("adults", None));
    assert!(b.record.outputs[0].differencing.is_empty());
    let d = &b.record.outputs[1].differencing;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].other, id1);
    assert!(d[0].message.contains("differ by 3"), "{}", d[0].message);
    b.request_exception(&id2, "needed for the paper").unwrap();
    assert!(b.request_exception("output_009", "x").is_err());
    b.finalise().unwrap();
    for f in [
        "record.json",
        "summary.html",
        "output_001.csv",
        "output_002.csv",
    ] {
        assert!(dir.path().join("b").join(f).exists(), "{f}");
    }
    let back = Bundle::load(&dir.path().join("b")).unwrap();
    // Warnings are for the run, not the record.
    assert_eq!(
        serde_json::to_string(&back.record).unwrap(),
        serde_json::to_string(&b.record).unwrap()
    );
    let text = back.summary_text();
    assert!(text.contains("DIFFERENCING with output_001"), "{text}");
    assert!(text.contains("exception requested: needed for the paper"));
    // No temporary file is left behind.
    let left: Vec<_> = std::fs::read_dir(dir.path().join("b"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn provenance_hashes_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.csv");
    std::fs::write(&p, "abc").unwrap();
    let h = Provenance::of_file(&p).unwrap().sha256.unwrap();
    assert_eq!(
        h,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}
