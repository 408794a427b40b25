//! Partials of any split of a table, merged in any order, give the single-pass classes and
//! the same risk report as `RiskJob::run`; bytes round-trip and bad bytes are refused.

use arrow_array::RecordBatch;
use pets_datasets::ae::{AeConfig, AeGenerator, ae_schema_for};

use super::*;
use crate::data::{Schema, TableSource};
use crate::disclosure::{RiskConfig, RiskJob, RiskJobError};

fn ae(rows: u64) -> (Schema, Vec<RecordBatch>) {
    let cfg = AeConfig::new(rows, 11).with_batch_rows(1_000);
    let schema = Schema::from_json(&ae_schema_for(&cfg).to_json()).unwrap();
    (schema, AeGenerator::new(cfg).unwrap().collect())
}

/// The rows `[lo, hi)` of the concatenated batches.
fn slice(batches: &[RecordBatch], lo: usize, hi: usize) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let mut at = 0;
    for b in batches {
        let (s, e) = (lo.max(at), hi.min(at + b.num_rows()));
        if s < e {
            out.push(b.slice(s - at, e - s));
        }
        at += b.num_rows();
    }
    out
}

fn config() -> RiskConfig {
    RiskConfig {
        quasi_identifiers: vec!["age_band".into(), "sex".into(), "provider_code".into()],
        sensitive: Some("diagnosis_group".into()),
        k: 3,
        ..Default::default()
    }
}

fn job(schema: &Schema, batches: Vec<RecordBatch>, arrow: arrow_schema::SchemaRef) -> RiskJob {
    RiskJob::new(TableSource::batches("part", arrow, batches), config())
        .schema(schema.clone())
        .generalise("arrival_datetime", "day")
}

fn without_timings(report: &crate::disclosure::RiskReport) -> serde_json::Value {
    let mut v = serde_json::to_value(report).unwrap();
    v.as_object_mut().unwrap().remove("timings_ms");
    v
}

#[test]
fn merged_partials_of_any_split_equal_the_single_pass_and_its_report() {
    let (schema, batches) = ae(5_000);
    let arrow = batches[0].schema();
    let whole = job(&schema, batches.clone(), arrow.clone());
    let single = whole.classes().unwrap();
    let expected = whole.run().unwrap();
    for cuts in [
        vec![0, 5_000],
        vec![0, 1, 2_500, 5_000],
        vec![0, 1_234, 2_000, 4_999, 5_000],
    ] {
        let bytes: Vec<Vec<u8>> = cuts
            .windows(2)
            .map(|w| {
                let part = job(&schema, slice(&batches, w[0], w[1]), arrow.clone());
                Partial::Classes(part.classes().unwrap()).to_bytes()
            })
            .collect();
        // Forward, reversed and rotated orders all give the single-pass classes.
        let mut orders = vec![bytes.clone()];
        orders.push(bytes.iter().rev().cloned().collect());
        let mut rotated = bytes.clone();
        rotated.rotate_left(1);
        orders.push(rotated);
        for order in orders {
            let Some(Partial::Classes(merged)) = Partial::merge_bytes(&order).unwrap() else {
                panic!("classes expected")
            };
            assert_eq!(merged, single, "cuts {cuts:?}");
        }
        // The driver's job needs only the columns and types: zero rows.
        let driver = job(&schema, Vec::new(), arrow.clone());
        let Some(Partial::Classes(merged)) = Partial::merge_bytes(&bytes).unwrap() else {
            panic!("classes expected")
        };
        let finished = driver.finish_classes(&merged).unwrap();
        assert_eq!(
            without_timings(&finished.report),
            without_timings(&expected.report)
        );
        assert_eq!(finished.generalised, expected.generalised);
        assert_eq!(finished.warnings, expected.warnings);
    }
}

#[test]
fn merging_is_associative_and_commutative() {
    let (schema, batches) = ae(3_000);
    let arrow = batches[0].schema();
    let part = |lo, hi| {
        Partial::Classes(
            job(&schema, slice(&batches, lo, hi), arrow.clone())
                .classes()
                .unwrap(),
        )
    };
    let (a, b, c) = (part(0, 700), part(700, 2_100), part(2_100, 3_000));
    let left = a
        .clone()
        .merge(b.clone())
        .unwrap()
        .merge(c.clone())
        .unwrap();
    let right = a
        .clone()
        .merge(b.clone().merge(c.clone()).unwrap())
        .unwrap();
    let swapped = c.merge(b).unwrap().merge(a).unwrap();
    assert_eq!(left, right);
    assert_eq!(left, swapped);
}

#[test]
fn bad_bytes_and_mismatched_partials_are_refused() {
    let (schema, batches) = ae(500);
    let arrow = batches[0].schema();
    let p = Partial::Classes(
        job(&schema, batches.clone(), arrow.clone())
            .classes()
            .unwrap(),
    );
    let bytes = p.to_bytes();
    assert_eq!(Partial::from_bytes(&bytes).unwrap(), p);
    let kind = |b: &[u8]| Partial::from_bytes(b).unwrap_err();
    assert!(kind(b"nope").to_string().contains("no pets tag"));
    let mut v2 = bytes.clone();
    v2[4] = 2;
    assert!(kind(&v2).to_string().contains("version 2"));
    assert!(matches!(
        kind(&bytes[..bytes.len() / 2]),
        PartialError::Malformed { .. }
    ));
    // A code outside its code book, or counts that do not add up, are refused.
    let Partial::Classes(c) = &p else {
        panic!("classes expected")
    };
    let mut parts = c.to_parts();
    parts.tuples[0] = parts.layout.quasi_identifiers[0].cardinality;
    assert!(EquivalenceClasses::from_parts(parts).is_err());
    let mut parts = c.to_parts();
    parts.sizes[0] += 1;
    assert!(EquivalenceClasses::from_parts(parts).is_err());
    assert_eq!(
        EquivalenceClasses::from_parts(c.to_parts()).unwrap(),
        c.clone()
    );

    // Classes over other quasi-identifiers: refused by merge and by the driver.
    let other = RiskJob::new(
        TableSource::batches("part", arrow.clone(), batches),
        RiskConfig {
            quasi_identifiers: vec!["age_band".into()],
            ..config()
        },
    )
    .schema(schema.clone())
    .classes()
    .unwrap();
    let e = p
        .clone()
        .merge(Partial::Classes(other.clone()))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Schema);
    let driver = job(&schema, Vec::new(), arrow.clone());
    let e = driver.finish_classes(&other).unwrap_err();
    assert!(e.to_string().contains("other columns"), "{e}");
    // A population table needs the whole extract.
    let e = job(&schema, Vec::new(), arrow.clone())
        .population(TableSource::batches("pop", arrow, Vec::new()))
        .classes()
        .unwrap_err();
    assert!(matches!(e, RiskJobError::Invalid { .. }), "{e}");
}

/// The job-level API the front doors call: `RiskJob::partial` on each partition and
/// `RiskJob::finish_partials` at the driver give `RiskJob::run`'s report; a driver table
/// missing a column, no partials, and another kind of partial are refused.
#[test]
fn risk_job_partials_finish_to_the_whole_table_report() {
    let (schema, batches) = ae(3_000);
    let arrow = batches[0].schema();
    let expected = job(&schema, batches.clone(), arrow.clone()).run().unwrap();
    let bytes: Vec<Vec<u8>> = [(0, 1_100), (1_100, 3_000)]
        .iter()
        .map(|&(lo, hi)| {
            job(&schema, slice(&batches, lo, hi), arrow.clone())
                .partial()
                .unwrap()
        })
        .collect();
    let driver = job(&schema, Vec::new(), arrow.clone());
    let got = driver.finish_partials(&bytes).unwrap();
    assert_eq!(
        without_timings(&got.report),
        without_timings(&expected.report)
    );
    let none: [Vec<u8>; 0] = [];
    let e = driver.finish_partials(&none).unwrap_err();
    assert_eq!(
        crate::error::Classify::kind(&e),
        crate::error::ErrorKind::Empty
    );
    let counts = Partial::Counts {
        query: "count".into(),
        counts: vec![3],
    };
    let e = driver.finish_partials(&[counts.to_bytes()]).unwrap_err();
    assert!(e.to_string().contains("not equivalence classes"), "{e}");
    // The driver's table lacks a quasi-identifier: refused before any partial is read.
    let fields: Vec<_> = arrow
        .fields()
        .iter()
        .filter(|f| f.name() != "provider_code")
        .cloned()
        .collect();
    let narrow = std::sync::Arc::new(arrow_schema::Schema::new(fields));
    let e = job(&schema, Vec::new(), narrow).check().unwrap_err();
    assert!(matches!(e, RiskJobError::Data(_)), "{e}");
    assert!(e.to_string().contains("provider_code"), "{e}");
}

mod counts {
    use super::*;
    use crate::dp::{Cost, DpError, DpTable, QueryJob, QueryKind, QueryOutput, Session};

    fn kinds() -> Vec<QueryKind> {
        vec![
            QueryKind::Count,
            QueryKind::histogram(&["age_band", "hour(arrival_datetime)"]).unwrap(),
            QueryKind::histogram(&["provider_code"]).unwrap(),
        ]
    }

    fn counts(
        schema: &Schema,
        batches: Vec<RecordBatch>,
        arrow: arrow_schema::SchemaRef,
        q: &QueryKind,
    ) -> Partial {
        let input = DpTable::load(TableSource::batches("part", arrow, batches), schema)
            .read_for([q])
            .unwrap();
        q.partial(&input.data).unwrap()
    }

    #[test]
    fn merged_counts_of_any_split_equal_the_single_pass_table() {
        let (schema, batches) = ae(4_000);
        let arrow = batches[0].schema();
        for q in kinds() {
            let whole = counts(&schema, batches.clone(), arrow.clone(), &q);
            for cuts in [
                vec![0, 4_000],
                vec![0, 999, 1_000, 4_000],
                vec![0, 3, 2_222, 4_000],
            ] {
                let bytes: Vec<Vec<u8>> = cuts
                    .windows(2)
                    .map(|w| {
                        counts(&schema, slice(&batches, w[0], w[1]), arrow.clone(), &q).to_bytes()
                    })
                    .collect();
                let merged = Partial::merge_bytes(&bytes).unwrap().unwrap();
                assert_eq!(merged, whole, "{} over {cuts:?}", q.label());
                let mut rev = bytes.clone();
                rev.reverse();
                assert_eq!(Partial::merge_bytes(&rev).unwrap().unwrap(), whole);
            }
        }
    }

    #[test]
    fn the_merged_release_is_the_whole_table_release() {
        let (schema, batches) = ae(2_000);
        let arrow = batches[0].schema();
        let q = QueryKind::histogram(&["age_band", "sex"]).unwrap();
        let share = Cost::epsilon(1e6);
        let whole = DpTable::load(
            TableSource::batches("w", arrow.clone(), batches.clone()),
            &schema,
        )
        .read_for([&q])
        .unwrap();
        let mut s1 = Session::new(Cost::epsilon(1e6)).unwrap();
        let single = QueryJob::new(q.clone())
            .share(share)
            .run(&mut s1, &whole.data)
            .unwrap();
        let merged_partial = counts(&schema, slice(&batches, 0, 700), arrow.clone(), &q)
            .merge(counts(
                &schema,
                slice(&batches, 700, 2_000),
                arrow.clone(),
                &q,
            ))
            .unwrap();
        let Partial::Counts { counts: merged, .. } = merged_partial.clone() else {
            panic!("counts expected")
        };
        let driver = DpTable::load(
            TableSource::batches("d", arrow.clone(), Vec::new()),
            &schema,
        )
        .allow_empty(true)
        .read_for([&q])
        .unwrap();
        let mut s2 = Session::new(Cost::epsilon(1e6)).unwrap();
        let got = QueryJob::new(q.clone())
            .share(share)
            .run_merged(&mut s2, &driver.data, &merged_partial)
            .unwrap();
        let (QueryOutput::Table { result: a, .. }, QueryOutput::Table { result: b, .. }) =
            (&single, &got)
        else {
            panic!("tables expected")
        };
        // At epsilon 1e6 the noise is zero: both releases are the exact table.
        assert_eq!(a.counts, b.counts);
        assert_eq!(
            (&a.labels, &a.shape, &a.accuracy),
            (&b.labels, &b.shape, &b.accuracy)
        );
        assert_eq!(
            a.counts.iter().map(|&c| c as u64).collect::<Vec<_>>(),
            merged
        );
        assert_eq!(s1.ledger().to_json(), s2.ledger().to_json());
        // Counts of another query, or a mean, are refused.
        let other = counts(&schema, batches.clone(), arrow.clone(), &QueryKind::Count);
        let e = other
            .merge(Partial::Counts {
                query: q.label(),
                counts: merged.clone(),
            })
            .unwrap_err();
        assert!(matches!(e, PartialError::Mismatch { .. }), "{e}");
        let median: QueryKind = serde_json::from_str(
            r#"{"kind": "median", "column": "acuity", "lower": 1, "upper": 5}"#,
        )
        .unwrap();
        assert!(median.partial(&whole.data).is_err());
        // Cells that do not fit the table are refused (a fresh session: s2 is spent).
        let mut s3 = Session::new(Cost::epsilon(1e6)).unwrap();
        let short = Partial::Counts {
            query: q.label(),
            counts: merged[1..].to_vec(),
        };
        let e = QueryJob::new(q)
            .share(share)
            .run_merged(&mut s3, &driver.data, &short)
            .unwrap_err();
        assert!(e.to_string().contains("merged cells"), "{e}");
    }
    /// `QueryJob::partial` / `check_partitioned` / `run_partials`: the release equals the
    /// whole-table release at epsilon 1e6; the budget is checked before partials are read;
    /// partials of another query are refused; a median does not partition.
    #[test]
    fn query_job_partials_release_once_at_the_driver() {
        let (schema, batches) = ae(2_000);
        let arrow = batches[0].schema();
        let q = QueryKind::histogram(&["age_band", "sex"]).unwrap();
        let share = Cost::epsilon(1e6);
        let table = |b: Vec<RecordBatch>| {
            DpTable::load(TableSource::batches("p", arrow.clone(), b), &schema)
        };
        let driver = table(Vec::new()).allow_empty(true);
        let job = QueryJob::new(q.clone()).share(share);
        let mut s1 = Session::new(Cost::epsilon(1e6)).unwrap();
        let whole = table(batches.clone()).read_for([&q]).unwrap();
        let single = job.run(&mut s1, &whole.data).unwrap();

        let mut s2 = Session::new(Cost::epsilon(1e6)).unwrap();
        assert_eq!(
            job.check_partitioned(&s2, &driver).unwrap(),
            vec!["age_band".to_string(), "sex".to_string()]
        );
        let bytes: Vec<Vec<u8>> = [(0, 900), (900, 2_000)]
            .iter()
            .map(|&(lo, hi)| job.partial(&table(slice(&batches, lo, hi))).unwrap())
            .collect();
        let got = job.run_partials(&mut s2, &driver, &bytes).unwrap();
        assert_eq!(
            serde_json::to_value(&single).unwrap(),
            serde_json::to_value(&got).unwrap()
        );
        assert_eq!(s1.ledger().to_json(), s2.ledger().to_json());

        // Over budget: refused by the check, nothing spent.
        let small = Session::new(Cost::epsilon(1.0)).unwrap();
        let e = job.check_partitioned(&small, &driver).unwrap_err();
        assert!(matches!(e, DpError::OverBudget { .. }), "{e}");
        // Counts of another query are refused at the driver.
        let other = QueryJob::new(QueryKind::Count).share(share);
        let mut s3 = Session::new(Cost::epsilon(1e6)).unwrap();
        let e = other.run_partials(&mut s3, &driver, &bytes).unwrap_err();
        assert!(e.to_string().contains("not this query's"), "{e}");
        // A median does not merge exactly this way: refused by the check.
        let median: QueryKind = serde_json::from_str(
            r#"{"kind": "median", "column": "acuity", "lower": 1, "upper": 5}"#,
        )
        .unwrap();
        let e = QueryJob::new(median)
            .share(share)
            .check_partitioned(&s3, &driver)
            .unwrap_err();
        assert!(e.to_string().contains("computed on partitions"), "{e}");
    }

    /// Sums, means and variances: fixed-point parts add exactly, so any split merges to the
    /// single pass, and the driver's release equals the whole table's (epsilon 1e6), ledger
    /// included; partials on other bounds, or of a count, are refused.
    #[test]
    fn merged_moments_release_the_whole_table_sum_mean_and_variance() {
        let (schema, batches) = ae(3_000);
        let arrow = batches[0].schema();
        let table = |b: Vec<RecordBatch>| {
            DpTable::load(TableSource::batches("p", arrow.clone(), b), &schema)
        };
        let driver = table(Vec::new()).allow_empty(true);
        let share = Cost::epsilon(1e6);
        for spec in [
            r#"{"kind": "sum", "column": "acuity", "lower": 1, "upper": 5}"#,
            r#"{"kind": "mean", "column": "acuity", "lower": 0.5, "upper": 4.25}"#,
            r#"{"kind": "variance", "column": "acuity", "lower": 1, "upper": 5}"#,
        ] {
            let q: QueryKind = serde_json::from_str(spec).unwrap();
            let job = QueryJob::new(q.clone()).share(share);
            let mut s1 = Session::new(Cost::epsilon(1e7)).unwrap();
            let whole = table(batches.clone()).read_for([&q]).unwrap();
            let single = job.run(&mut s1, &whole.data).unwrap();
            let one = q.partial(&whole.data).unwrap();
            assert!(matches!(one, Partial::Moments { n: 3_000, .. }), "{one:?}");

            let mut s2 = Session::new(Cost::epsilon(1e7)).unwrap();
            let columns = job.check_partitioned(&s2, &driver).unwrap();
            assert_eq!(columns, vec!["acuity".to_string()]);
            for cuts in [vec![0, 3_000], vec![0, 1, 1_700, 3_000]] {
                let bytes: Vec<Vec<u8>> = cuts
                    .windows(2)
                    .map(|w| job.partial(&table(slice(&batches, w[0], w[1]))).unwrap())
                    .collect();
                assert_eq!(Partial::merge_bytes(&bytes).unwrap().unwrap(), one);
            }
            let bytes: Vec<Vec<u8>> = [(0, 1_234), (1_234, 3_000)]
                .iter()
                .map(|&(lo, hi)| job.partial(&table(slice(&batches, lo, hi))).unwrap())
                .collect();
            let got = job.run_partials(&mut s2, &driver, &bytes).unwrap();
            // Same value (noise at epsilon 1e6 is below the grid), interval, warnings and
            // ledger: the release is the whole table's.
            let (a, b) = (
                serde_json::to_value(&single).unwrap(),
                serde_json::to_value(&got).unwrap(),
            );
            let value = |v: &serde_json::Value| v["value"].as_f64().unwrap();
            assert!((value(&a) - value(&b)).abs() < 1e-3, "{spec}: {a} vs {b}");
            for field in ["query", "warnings", "ledger_entries"] {
                assert_eq!(a[field], b[field], "{spec}: {field}");
            }
            assert_eq!(s1.ledger().to_json(), s2.ledger().to_json(), "{spec}");

            // The same column on other bounds: another grid, refused at the merge.
            let mut v: serde_json::Value = serde_json::from_str(spec).unwrap();
            v["upper"] = 6.into();
            let other: QueryKind = serde_json::from_value(v).unwrap();
            let theirs = QueryJob::new(other)
                .share(share)
                .partial(&table(batches.clone()))
                .unwrap();
            let e = Partial::from_bytes(&bytes[0])
                .unwrap()
                .merge(Partial::from_bytes(&theirs).unwrap())
                .unwrap_err();
            assert!(matches!(e, PartialError::Mismatch { .. }), "{e}");
            // A count's partials are not a sum's.
            let count = QueryJob::new(QueryKind::Count)
                .share(share)
                .partial(&table(batches.clone()))
                .unwrap();
            let mut s3 = Session::new(Cost::epsilon(1e7)).unwrap();
            let e = job.run_partials(&mut s3, &driver, &[count]).unwrap_err();
            assert!(e.to_string().contains("not this query's"), "{e}");
            assert!(s3.ledger().entries.is_empty());
        }
    }
}
