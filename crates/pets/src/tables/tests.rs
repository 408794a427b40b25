//! Protection and audit on small tables, including linked ones.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use proptest::prelude::*;

use super::audit::{Known, audit};
use super::job::round5;
use super::*;
use crate::data::{ColumnSpec, Schema, TableSource};

fn schema() -> Schema {
    Schema::new(vec![
        ColumnSpec::categorical("a", ["a0", "a1", "a2"]),
        ColumnSpec::categorical("b", ["b0", "b1", "b2", "b3"]),
        ColumnSpec::categorical("c", ["c0", "c1"]),
    ])
    .unwrap()
}

/// Records with the given count in each (a, b, c) cell.
fn source(counts: &[u64]) -> TableSource {
    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for (j, &n) in counts.iter().enumerate() {
        for _ in 0..n {
            a.push(format!("a{}", j / 8));
            b.push(format!("b{}", (j / 2) % 4));
            c.push(format!("c{}", j % 2));
        }
    }
    let batch = RecordBatch::try_from_iter([
        ("a", Arc::new(StringArray::from(a)) as ArrayRef),
        ("b", Arc::new(StringArray::from(b)) as ArrayRef),
        ("c", Arc::new(StringArray::from(c)) as ArrayRef),
    ])
    .unwrap();
    TableSource::batches("t", batch.schema(), vec![batch])
}

fn cols(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| x.to_string()).collect()
}

#[test]
fn hes_rule_suppresses_small_and_rounds_the_rest() {
    assert_eq!(
        [8, 10, 12, 13, 17, 18].map(round5),
        [10, 10, 10, 15, 15, 20]
    );
    let mut counts = vec![20u64; 24];
    counts[0] = 3; // a0 b0 c0
    counts[1] = 0;
    let out = TableJob::new(source(&counts), vec![cols(&["a", "b"])], Rule::Hes)
        .schema_opt(Some(schema()))
        .run()
        .unwrap();
    let t = &out.tables[0];
    assert_eq!(t.cells.len(), 4 * 5);
    assert_eq!(t.cells[0].labels, ["a0", "b0"]);
    assert_eq!(t.cells[0].published, "*"); // 3 + 0
    assert_eq!(t.cells[0].suppressed, Some("primary"));
    assert_eq!(t.cells[1].published, "40");
    // total of a0 = 3 + 3 * 40 = 123 -> 125 (rounded from the unrounded total)
    assert_eq!(t.cells[4].labels, ["a0", "Total"]);
    assert_eq!(t.cells[4].published, "125");
    assert!(out.source.contains("Hospital Episode Statistics"));
    // The audit bounds the suppressed cell from the rounded margins.
    let i = t.cells[0].interval.unwrap();
    assert!(i.low >= 0.0 && i.high.unwrap() <= 20.0, "{i:?}");
}

#[test]
fn threshold_suppression_protects_every_small_cell() {
    let mut counts = vec![30u64; 24];
    counts[0] = 2;
    counts[1] = 0;
    let out = TableJob::new(
        source(&counts),
        vec![cols(&["a", "b"])],
        Rule::Threshold {
            threshold: 10,
            protection: 10,
        },
    )
    .schema_opt(Some(schema()))
    .run()
    .unwrap();
    assert!(out.protected);
    assert_eq!(out.primary, 1);
    // One small cell in a 2-way table with margins needs at least 3 more suppressions.
    assert!(out.secondary >= 3, "{}", out.secondary);
    assert!(out.narrowest_interval >= 10.0);
}

#[test]
fn linked_tables_cannot_be_differenced() {
    // Table a x b and table a x c share the a margins; the audit runs over both.
    let mut counts = vec![25u64; 24];
    counts[2] = 1;
    counts[3] = 2; // a0 b1 = 3
    let out = TableJob::new(
        source(&counts),
        vec![cols(&["a", "b"]), cols(&["a", "c"]), cols(&["b"])],
        Rule::Threshold {
            threshold: 5,
            protection: 8,
        },
    )
    .schema_opt(Some(schema()))
    .run()
    .unwrap();
    assert!(out.protected);
    // b1's total (53) is published in two tables: suppressed in one means suppressed in both.
    let b1_in_ab = &out.tables[0].cells[3 * 5 + 1];
    let b1_alone = &out.tables[2].cells[1];
    assert_eq!(b1_in_ab.labels, ["Total", "b1"]);
    assert_eq!(b1_in_ab.published == "*", b1_alone.published == "*");
}

#[test]
fn bad_options_are_refused() {
    let job = |tables: Vec<Vec<String>>| {
        TableJob::new(source(&[1; 24]), tables, Rule::Hes)
            .schema_opt(Some(schema()))
            .run()
            .unwrap_err()
            .to_string()
    };
    assert!(job(vec![]).contains("at least one column"));
    assert!(job(vec![cols(&["a", "a"])]).contains("twice"));
    assert!(job(vec![cols(&["zz"])]).contains("zz"));
}

/// Records over (a, b) only, one record per entry of `cells` (`(a, b, age)`).
fn stat_source(cells: &[(usize, usize, Option<f64>)]) -> TableSource {
    let a: Vec<String> = cells.iter().map(|c| format!("a{}", c.0)).collect();
    let b: Vec<String> = cells.iter().map(|c| format!("b{}", c.1)).collect();
    let age: Vec<Option<f64>> = cells.iter().map(|c| c.2).collect();
    let batch = RecordBatch::try_from_iter([
        ("a", Arc::new(StringArray::from(a)) as ArrayRef),
        ("b", Arc::new(StringArray::from(b)) as ArrayRef),
        (
            "age",
            Arc::new(arrow_array::Float64Array::from(age)) as ArrayRef,
        ),
    ])
    .unwrap();
    TableSource::batches("t", batch.schema(), vec![batch])
}

fn stat_schema() -> Schema {
    Schema::new(vec![
        ColumnSpec::categorical("a", ["a0", "a1"]),
        ColumnSpec::categorical("b", ["b0", "b1"]),
    ])
    .unwrap()
}

#[test]
fn hes_means_and_medians_over_1_to_7_records_are_suppressed() {
    // a0 b0: 5 records (ages 1..=5); a0 b1: 8 records (ages 10..=17, one more empty);
    // a1 b0: 20 records of age 40; a1 b1: none.
    let mut cells = Vec::new();
    cells.extend((1..=5).map(|v| (0, 0, Some(v as f64))));
    cells.extend((10..=17).map(|v| (0, 1, Some(v as f64))));
    cells.push((0, 1, None));
    cells.extend((0..20).map(|_| (1, 0, Some(40.0))));
    let out = TableJob::new(stat_source(&cells), vec![cols(&["a", "b"])], Rule::Hes)
        .schema_opt(Some(stat_schema()))
        .statistics(vec![Statistic::mean("age"), Statistic::median("age")])
        .run()
        .unwrap();
    let t = &out.tables[0];
    let cell = |a: &str, b: &str| t.cells.iter().find(|c| c.labels == [a, b]).unwrap();
    // 5 records: count, mean and median suppressed.
    assert_eq!(cell("a0", "b0").published, "*");
    assert_eq!(cell("a0", "b0").statistics, ["*", "*"]);
    // 9 records, 8 with an age: published (13.5 = mean of 10..=17; median of 8 values).
    assert_eq!(cell("a0", "b1").published, "10");
    assert_eq!(cell("a0", "b1").statistics, ["13.5", "13.5"]);
    assert_eq!(cell("a1", "b0").statistics, ["40.0", "40.0"]);
    // No records: nothing to average.
    assert_eq!(cell("a1", "b1").published, "0");
    assert_eq!(cell("a1", "b1").statistics, ["", ""]);
    // a0 total: 13 ages 1..=5, 10..=17 -> mean (15 + 108) / 13 = 9.46, median the 7th = 11.
    assert_eq!(cell("a0", "Total").statistics, ["9.5", "11.0"]);
    let (header, rows) = out.long_format();
    assert_eq!(
        header,
        ["table", "a", "b", "count", "mean_age", "median_age"]
    );
    assert_eq!(rows[0], ["a x b", "a0", "b0", "*", "*", "*"]);
    // A median of an even number of values is the mean of the middle two.
    let out = TableJob::new(
        stat_source(&[1.0, 2.0, 3.0, 10.0, 20.0, 30.0, 40.0, 50.0].map(|v| (0, 0, Some(v)))),
        vec![cols(&["a"])],
        Rule::Hes,
    )
    .schema_opt(Some(stat_schema()))
    .statistics(vec![Statistic::median("age")])
    .run()
    .unwrap();
    assert_eq!(out.tables[0].cells[0].statistics, ["15.0"]);
    // A statistic over a categorical column is refused, naming it.
    let err = TableJob::new(stat_source(&cells), vec![cols(&["a"])], Rule::Hes)
        .schema_opt(Some(stat_schema()))
        .statistics(vec![Statistic::mean("b")])
        .run()
        .unwrap_err();
    assert!(
        err.to_string().contains("\"b\" is declared categorical"),
        "{err}"
    );
}

#[test]
fn threshold_statistics_follow_the_count_and_the_threshold() {
    // 30 records in each (a, b) but a0 b0 with 3: its count is suppressed, so are its
    // statistics, and those of the secondary cells; a1 b1 has 30 records, 6 with an age.
    let mut cells = Vec::new();
    cells.extend((0..3).map(|_| (0, 0, Some(1.0))));
    cells.extend((0..30).map(|_| (0, 1, Some(2.0))));
    cells.extend((0..30).map(|_| (1, 0, Some(3.0))));
    cells.extend((0..30).map(|i| (1, 1, (i < 6).then_some(4.0))));
    let out = TableJob::new(
        stat_source(&cells),
        vec![cols(&["a", "b"])],
        Rule::Threshold {
            threshold: 10,
            protection: 10,
        },
    )
    .schema_opt(Some(stat_schema()))
    .statistics(vec![Statistic::mean("age")])
    .run()
    .unwrap();
    for c in &out.tables[0].cells {
        if c.published == "*" {
            assert_eq!(c.statistics, ["*"], "{c:?}");
        }
    }
    let cell = |a: &str, b: &str| {
        out.tables[0]
            .cells
            .iter()
            .find(|c| c.labels == [a, b])
            .unwrap()
    };
    if cell("a1", "b1").published != "*" {
        assert_eq!(cell("a1", "b1").statistics, ["*"]); // 6 ages < 10
    }
    assert_eq!(out.statistics, [Statistic::mean("age")]);
}

#[test]
fn exact_suppression_is_optimal_on_a_hand_table() {
    // One small cell in a 3 x 4 table: the least protecting pattern is a rectangle of 4
    // interior cells (3 secondary), and the exact method finds one.
    let mut counts = vec![30u64; 24];
    counts[0] = 2;
    counts[1] = 0;
    let rule = Rule::Threshold {
        threshold: 10,
        protection: 10,
    };
    let run = |method| {
        TableJob::new(source(&counts), vec![cols(&["a", "b"])], rule)
            .schema_opt(Some(schema()))
            .secondary(method, Cost::Cells)
            .run()
            .unwrap()
    };
    let exact = run(Secondary::Exact);
    assert!(exact.protected);
    assert_eq!(exact.secondary, 3);
    let report = exact.secondary_suppression.as_ref().unwrap();
    assert_eq!(report.method, Secondary::Exact);
    assert!(report.fallback.is_none());
    assert!(exact.secondary <= run(Secondary::Greedy).secondary);
    // With no room to work in, it gives up and the greedy runs, saying so.
    let gave_up = TableJob::new(source(&counts), vec![cols(&["a", "b"])], rule)
        .schema_opt(Some(schema()))
        .secondary(Secondary::Exact, Cost::Value)
        .exact_limits(Limits {
            rounds: 0,
            ..Limits::default()
        })
        .run()
        .unwrap();
    let report = gave_up.secondary_suppression.as_ref().unwrap();
    assert_eq!(report.method, Secondary::Greedy);
    assert_eq!(report.requested, Secondary::Exact);
    assert!(report.fallback.as_ref().unwrap().contains("0 rounds"));
    assert!(gave_up.protected);
    assert!(
        gave_up
            .warnings
            .iter()
            .any(|w| w.message.contains("gave up"))
    );
}

#[test]
fn html_marks_suppressed_cells_and_names_the_rule() {
    let mut counts = vec![30u64; 24];
    counts[0] = 2;
    counts[1] = 0;
    let out = TableJob::new(
        source(&counts),
        vec![cols(&["a", "b"]), cols(&["c"])],
        Rule::Threshold {
            threshold: 10,
            protection: 10,
        },
    )
    .schema_opt(Some(schema()))
    .run()
    .unwrap();
    let html = render_html(&out);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("threshold suppression"));
    assert!(html.contains("class=\"p\""));
    assert!(html.contains("class=\"s\""));
    assert!(html.contains("By a × b") && html.contains("By c"));
    assert!(html.contains("the audit:"));
    assert!(!html.contains("<script"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// The exact method protects every small cell of single and linked tables (the audit's
    /// interval is at least the protection level) and never suppresses more than the greedy.
    #[test]
    fn exact_protects_and_never_suppresses_more_than_greedy(
        counts in proptest::collection::vec(prop_oneof![0u64..4, 4u64..40], 24),
        linked in any::<bool>(),
    ) {
        let tables = if linked {
            vec![cols(&["a", "b"]), cols(&["a", "c"])]
        } else {
            vec![cols(&["a", "b"])]
        };
        let rule = Rule::Threshold { threshold: 4, protection: 4 };
        let run = |method| {
            TableJob::new(source(&counts), tables.clone(), rule)
                .schema_opt(Some(schema()))
                .secondary(method, Cost::Cells)
                .run()
                .unwrap()
        };
        let exact = run(Secondary::Exact);
        let greedy = run(Secondary::Greedy);
        let report = exact.secondary_suppression.clone().unwrap();
        prop_assert!(report.fallback.is_none(), "{:?}", report.fallback);
        prop_assert_eq!(report.method, Secondary::Exact);
        for t in &exact.tables {
            for c in &t.cells {
                if c.suppressed == Some("primary") {
                    let w = c.interval.unwrap().width();
                    prop_assert!(w >= 4.0 - 1e-9, "width {}", w);
                }
            }
        }
        prop_assert!(exact.protected);
        if greedy.protected {
            prop_assert!(exact.secondary <= greedy.secondary,
                "exact {} > greedy {}", exact.secondary, greedy.secondary);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// No suppressed small cell's feasible interval is narrower than the protection level,
    /// for single and linked tables alike; and the audit's bounds contain the true count.
    #[test]
    fn no_small_cell_is_narrower_than_the_protection_level(
        counts in proptest::collection::vec(prop_oneof![0u64..4, 4u64..40], 24),
        linked in any::<bool>(),
    ) {
        let tables = if linked {
            vec![cols(&["a", "b"]), cols(&["a", "c"])]
        } else {
            vec![cols(&["a", "b"])]
        };
        let rule = Rule::Threshold { threshold: 4, protection: 4 };
        let out = TableJob::new(source(&counts), tables, rule)
            .schema_opt(Some(schema()))
            .run()
            .unwrap();
        // The first table is a x b: interior cell (i, j) holds counts[8i + 2j] + counts[8i + 2j + 1].
        for (k, c) in out.tables[0].cells.iter().enumerate() {
            let (i, j) = (k / 5, k % 5);
            if c.published == "*" && i < 3 && j < 4 {
                let truth = (counts[8 * i + 2 * j] + counts[8 * i + 2 * j + 1]) as f64;
                let iv = c.interval.unwrap();
                // The audit is sound: the true count lies in the interval it derives.
                prop_assert!(iv.low <= truth + 1e-6 && iv.high.is_none_or(|h| truth <= h + 1e-6));
            }
        }
        for t in &out.tables {
            for c in &t.cells {
                if c.suppressed == Some("primary") {
                    let w = c.interval.unwrap().width();
                    prop_assert!(!out.protected || w >= 4.0 - 1e-9, "width {w}");
                }
                if let Ok(n) = c.published.parse::<u64>() {
                    prop_assert!(n == 0 || n >= 4, "published small count {n}");
                }
            }
        }
        // A single table can always be protected (suppressing its whole row and column
        // frees the cell), so the flag must hold there.
        prop_assert!(linked || out.protected);
    }
}

#[test]
fn audit_of_a_hand_table() {
    // Two joint cells x0, x1; published: total = 10, x1 suppressed, x0 published 4.
    let members = vec![vec![0], vec![1], vec![0, 1]];
    let known = [Known::Exact(4), Known::Unknown, Known::Exact(10)];
    let i = audit(2, &members, &known, &[1]).unwrap()[0];
    assert_eq!((i.low, i.high), (6.0, Some(6.0)));
    let known = [Known::Unknown, Known::Unknown, Known::Exact(10)];
    let i = audit(2, &members, &known, &[1]).unwrap()[0];
    assert_eq!((i.low, i.high), (0.0, Some(10.0)));
    let known = [Known::Unknown, Known::Unknown, Known::Unknown];
    let i = audit(2, &members, &known, &[1]).unwrap()[0];
    assert_eq!(i.high, None);
}
