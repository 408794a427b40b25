//! The search against brute force over the whole lattice, and the job end to end.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::hierarchy::ColumnHierarchy;
use super::loss::{LossMeasure, LossModel};
use super::search::{BaseClasses, ClassRule, Lattice, SearchLimits};
use super::*;
use crate::data::{
    ColumnKind, ColumnSpec, EncodeOptions, EncodedTable, Encoder, HierarchySpec, Role, Schema,
    TableSource,
};
use crate::disclosure::{EquivalenceClasses, LVariant, RiskConfig, assess_classes};

fn schema() -> Schema {
    let mut age = ColumnSpec::integer("age", 0, 39).with_role(Role::QuasiIdentifier);
    age.hierarchy = Some(HierarchySpec::parse("2,4,8,16").unwrap());
    let sex = ColumnSpec::categorical("sex", ["F", "M", "X"]).with_role(Role::QuasiIdentifier);
    let mut region = ColumnSpec::categorical("region", ["a1", "a2", "b1", "b2", "c1"])
        .with_role(Role::QuasiIdentifier);
    let groups = [
        ("a1", "a"),
        ("a2", "a"),
        ("b1", "b"),
        ("b2", "b"),
        ("c1", "c"),
    ]
    .into_iter()
    .map(|(v, g)| (v.to_string(), vec![g.to_string()]))
    .collect();
    region.hierarchy = Some(HierarchySpec::Groups(groups));
    let diag = ColumnSpec::new(
        "diag",
        ColumnKind::Categorical {
            values: vec!["d0".into(), "d1".into(), "d2".into(), "d3".into()],
            ordered: false,
        },
    )
    .with_role(Role::Sensitive);
    Schema::new(vec![age, sex, region, diag]).unwrap()
}

fn batch(rows: usize, seed: u64) -> RecordBatch {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut cols: Vec<Vec<String>> = vec![Vec::new(); 4];
    for _ in 0..rows {
        let age: u32 = rng.random_range(0..40);
        cols[0].push(age.to_string());
        cols[1].push(
            ["F", "M", "X"][usize::from(rng.random_bool(0.5)) + usize::from(rng.random_bool(0.05))]
                .into(),
        );
        cols[2].push(["a1", "a2", "b1", "b2", "c1"][rng.random_range(0..5)].into());
        // diagnosis depends on age so l/t bite
        let d = if age < 10 {
            rng.random_range(0..2)
        } else {
            rng.random_range(0..4)
        };
        cols[3].push(format!("d{d}"));
    }
    let names = ["age", "sex", "region", "diag"];
    RecordBatch::try_from_iter(
        names
            .iter()
            .zip(cols)
            .map(|(n, c)| (*n, Arc::new(StringArray::from(c)) as ArrayRef)),
    )
    .unwrap()
}

fn encode(schema: &Schema, b: &RecordBatch) -> EncodedTable {
    let mut e = Encoder::new(schema, EncodeOptions::default()).unwrap();
    e.push(b).unwrap();
    e.finish().unwrap()
}

struct Fixture {
    table: EncodedTable,
    hierarchies: Vec<ColumnHierarchy>,
    classes: EquivalenceClasses,
}

fn fixture(rows: usize, seed: u64) -> Fixture {
    let s = schema();
    let table = encode(&s, &batch(rows, seed));
    let qis = ["age", "sex", "region"];
    let hierarchies = qis
        .iter()
        .map(|q| {
            ColumnHierarchy::resolve(
                table.column(q).unwrap(),
                s.column(q).unwrap().hierarchy.as_ref(),
                None,
            )
            .unwrap()
        })
        .collect();
    let classes = EquivalenceClasses::compute(&table, &qis, Some("diag")).unwrap();
    Fixture {
        table,
        hierarchies,
        classes,
    }
}

/// Search and brute force agree on the optimum's loss for `config`.
fn check_optimum(f: &Fixture, config: &RiskConfig, limit: f64, measure: LossMeasure) {
    let n = f.classes.n_records();
    let q: Vec<f64> = f
        .classes
        .sensitive_totals()
        .iter()
        .map(|&c| c as f64 / n as f64)
        .collect();
    let rule = ClassRule::new(config, q, false).unwrap();
    let counts: Vec<Vec<u64>> = ["age", "sex", "region"]
        .iter()
        .map(|c| f.table.column(c).unwrap().counts())
        .collect();
    let loss = LossModel::new(measure, &f.hierarchies, &counts, n);
    let base = BaseClasses::new(&f.classes).unwrap();
    let lattice = Lattice::new(&f.hierarchies, &base, &rule, &loss).unwrap();
    let limits = SearchLimits {
        suppression_limit: limit,
        max_average_risk: config.max_average_risk,
        front_slack: 0.0,
    };
    let all = lattice.evaluate_all(&limits);
    // Every node's loss is at least its bound (the bound the search relies on).
    for (o, _) in &all {
        let cells: f64 = o
            .levels
            .iter()
            .zip(&f.hierarchies)
            .map(|(&l, h)| h.levels[l].n_groups() as f64)
            .product();
        assert!(
            loss.lower_bound(&o.levels, cells) <= o.loss + 1e-12,
            "{o:?}"
        );
    }
    let brute = all
        .iter()
        .filter(|(_, ok)| *ok)
        .map(|(o, _)| o.loss)
        .fold(f64::INFINITY, f64::min);
    let found = lattice.search(&limits, &|_| Ok(true), &crate::progress::Progress::none());
    match found {
        Ok(r) => {
            assert!(
                (r.optimum.loss - brute).abs() < 1e-12,
                "{} vs {brute}",
                r.optimum.loss
            );
            assert!(r.evaluated <= lattice.size() as u64);
            // The front starts at the optimum and trades loss for risk.
            assert_eq!(r.front[0].loss, r.optimum.loss);
            for w in r.front.windows(2) {
                assert!(w[0].loss <= w[1].loss && w[0].average_risk > w[1].average_risk);
            }
        }
        Err(AnonymiseError::NoSolution { .. }) => assert!(brute.is_infinite()),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn search_finds_the_brute_force_optimum() {
    for seed in 0..6 {
        let f = fixture(300 + 50 * seed as usize, seed);
        for measure in [
            LossMeasure::Loss,
            LossMeasure::Precision,
            LossMeasure::Entropy,
            LossMeasure::Discernibility,
            LossMeasure::AverageClassSize,
        ] {
            for (k, limit) in [(2, 0.0), (5, 0.02), (10, 0.1)] {
                let config = RiskConfig {
                    k,
                    risk_threshold: 1.0,
                    ..RiskConfig::new(["age", "sex", "region"])
                };
                check_optimum(&f, &config, limit, measure);
            }
        }
        // Distributional models (not monotone with suppression).
        let mut config = RiskConfig {
            k: 3,
            risk_threshold: 1.0,
            l: Some(2),
            ..RiskConfig::new(["age", "sex", "region"])
        };
        config.sensitive = Some("diag".into());
        check_optimum(&f, &config, 0.05, LossMeasure::Loss);
        config.l_variant = LVariant::Entropy;
        check_optimum(&f, &config, 0.05, LossMeasure::Entropy);
        config.l = None;
        config.alpha = Some(0.8);
        check_optimum(&f, &config, 0.05, LossMeasure::Loss);
        config.alpha = None;
        config.t = Some(0.3);
        check_optimum(&f, &config, 0.05, LossMeasure::Loss);
    }
}

fn job(rows: usize, seed: u64, config: RiskConfig) -> AnonymiseJob {
    let b = batch(rows, seed);
    AnonymiseJob::new(TableSource::batches("data", b.schema(), vec![b]), config).schema(schema())
}

#[test]
fn the_release_passes_pets_risk_and_matches_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("release.csv");
    let config = RiskConfig {
        k: 5,
        l: Some(2),
        t: Some(0.35),
        ..Default::default()
    };
    let outcome = job(2000, 7, config.clone())
        .suppression_limit(0.05)
        .output(&out)
        .run()
        .unwrap();
    assert!(outcome.after.passed, "{:?}", outcome.after.summary);
    let r = &outcome.record;
    assert_eq!(r.records_in, 2000);
    assert_eq!(r.records_out + r.records_suppressed, 2000);
    assert!(r.records_suppressed as f64 <= 0.05 * 2000.0);
    // `pets risk` on the written release, under the release schema, passes.
    let risk = crate::disclosure::RiskJob::new(TableSource::file(&out), config)
        .schema(outcome.release_schema.clone())
        .run()
        .unwrap();
    assert!(risk.report.passed, "{:?}", risk.report.summary);
    assert_eq!(risk.report.n_records, r.records_out);
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count() as u64, r.records_out + 1);
}

#[test]
fn masking_keeps_every_row_and_stars_the_suppressed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("release.csv");
    let outcome = job(
        500,
        3,
        RiskConfig {
            k: 4,
            ..Default::default()
        },
    )
    .suppression_limit(0.2)
    .suppressed_rows(SuppressedRows::Mask)
    .output(&out)
    .run()
    .unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), 501);
    let starred = text.lines().filter(|l| l.starts_with("*,*,*")).count() as u64;
    assert_eq!(starred, outcome.record.records_suppressed);
}

#[test]
fn bad_options_are_refused_before_reading() {
    let e = job(100, 1, RiskConfig::default())
        .suppression_limit(1.5)
        .run()
        .unwrap_err();
    assert!(e.to_string().contains("between 0 and 1"), "{e}");
    let e = job(100, 1, RiskConfig::default())
        .hierarchy_entries(&["diag=none".into()])
        .unwrap()
        .run()
        .unwrap_err();
    assert!(e.to_string().contains("not a quasi-identifier"), "{e}");
    let e = job(100, 1, RiskConfig::default())
        .hierarchy_entries(&["age=3,5".into()])
        .unwrap()
        .run()
        .unwrap_err();
    assert!(e.to_string().contains("nest"), "{e}");
    let e = job(
        100,
        1,
        RiskConfig {
            k: 500,
            ..Default::default()
        },
    )
    .suppression_limit(0.0)
    .run()
    .unwrap_err();
    assert!(matches!(e, AnonymiseError::NoSolution { .. }), "{e}");
}

#[test]
fn retained_classes_are_assessed_like_the_release() {
    let f = fixture(400, 2);
    let kept = f.classes.retain(|c| c.size >= 2);
    let config = RiskConfig {
        k: 2,
        ..RiskConfig::new(["age", "sex", "region"])
    };
    let mut config = config;
    config.sensitive = Some("diag".into());
    let r = assess_classes(&kept, &config, None).unwrap();
    assert!(r.k_anonymity.k >= 2);
    assert_eq!(
        r.n_records,
        f.classes
            .sizes()
            .iter()
            .filter(|&&s| s >= 2)
            .map(|&s| u64::from(s))
            .sum::<u64>()
    );
}

/// The classes a node keeps and suppresses, taken from the search's rolled-up classes (what
/// verification, the optimum's step and the after-report use), are exactly those of the
/// bottom classes recoded to the node and filtered by the rule: before any node is cached
/// (rolled up from the bottom) and after a search has cached nodes to roll up from.
#[test]
fn node_classes_are_the_recoded_bottom_classes() {
    use super::local::{class_passes, recode, recoded_layout, step_at, step_of};
    for seed in 0..3 {
        let f = fixture(300 + 100 * seed as usize, seed);
        let n = f.classes.n_records();
        let q: Vec<f64> = f
            .classes
            .sensitive_totals()
            .iter()
            .map(|&c| c as f64 / n as f64)
            .collect();
        let mut config = RiskConfig {
            k: 3,
            risk_threshold: 1.0,
            l: Some(2),
            t: Some(0.3),
            ..RiskConfig::new(["age", "sex", "region"])
        };
        config.sensitive = Some("diag".into());
        let rule = ClassRule::new(&config, q, false).unwrap();
        let counts: Vec<Vec<u64>> = ["age", "sex", "region"]
            .iter()
            .map(|c| f.table.column(c).unwrap().counts())
            .collect();
        let loss = LossModel::new(LossMeasure::Loss, &f.hierarchies, &counts, n);
        let base = BaseClasses::new(&f.classes).unwrap();
        let lattice = Lattice::new(&f.hierarchies, &base, &rule, &loss).unwrap();
        let limits = SearchLimits {
            suppression_limit: 0.05,
            max_average_risk: None,
            front_slack: 1.0,
        };
        for searched in [false, true] {
            if searched {
                let _ = lattice.search(&limits, &|_| Ok(true), &crate::progress::Progress::none());
            }
            for i in 0..lattice.size() {
                let levels = lattice.levels(i);
                let node = lattice.node_classes(&levels);
                let layout = recoded_layout(f.classes.layout(), &f.hierarchies, &levels);
                let want = recode(&f.classes, &f.hierarchies, &levels)
                    .unwrap()
                    .retain(|c| class_passes(&rule, c));
                assert_eq!(node.kept(layout), want, "{levels:?}");
                let step = step_at(&f.classes, &f.hierarchies, &rule, &levels).unwrap();
                assert_eq!(
                    step_of(&node, &f.hierarchies, &levels).suppressed,
                    step.suppressed,
                    "{levels:?}"
                );
            }
        }
    }
}

#[test]
fn dropped_and_undeclared_columns_stay_out_of_the_release() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("release.csv");
    let b = batch(300, 4);
    let extra: ArrayRef = Arc::new(StringArray::from(vec!["secret"; 300]));
    let mut fields: Vec<_> = b.schema().fields().iter().cloned().collect();
    fields.push(Arc::new(arrow_schema::Field::new(
        "notes",
        arrow_schema::DataType::Utf8,
        false,
    )));
    let mut columns = b.columns().to_vec();
    columns.push(extra);
    let b = RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), columns).unwrap();
    let config = RiskConfig {
        k: 3,
        ..RiskConfig::new(["age", "sex"])
    };
    let outcome = AnonymiseJob::new(
        TableSource::batches("data", b.schema(), vec![b.clone()]),
        config.clone(),
    )
    .schema(schema())
    .suppression_limit(0.2)
    .drop_columns(["region"])
    .output(&out)
    .run()
    .unwrap();
    let header = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(header, "age,sex,diag");
    assert!(
        outcome
            .record
            .dropped_columns
            .contains(&"region".to_string())
    );
    assert!(outcome.warnings.iter().any(|w| w.message.contains("notes")));
    let e = AnonymiseJob::new(TableSource::batches("data", b.schema(), vec![b]), config)
        .schema(schema())
        .drop_columns(["age"])
        .run()
        .unwrap_err();
    assert!(e.to_string().contains("cannot also be dropped"), "{e}");
}

/// A table of `(age, sex)` rows with its schema: age an integer in 0..=99 banded by 10.
fn small(rows: &[(u32, &str)]) -> (TableSource, Schema) {
    let mut age = ColumnSpec::integer("age", 0, 99).with_role(Role::QuasiIdentifier);
    age.hierarchy = Some(HierarchySpec::parse("10").unwrap());
    let sex = ColumnSpec::categorical("sex", ["F", "M"]).with_role(Role::QuasiIdentifier);
    let schema = Schema::new(vec![age, sex]).unwrap();
    let ages: Vec<String> = rows.iter().map(|r| r.0.to_string()).collect();
    let sexes: Vec<&str> = rows.iter().map(|r| r.1).collect();
    let b = RecordBatch::try_from_iter([
        ("age", Arc::new(StringArray::from(ages)) as ArrayRef),
        ("sex", Arc::new(StringArray::from(sexes)) as ArrayRef),
    ])
    .unwrap();
    (TableSource::batches("data", b.schema(), vec![b]), schema)
}

/// `pets risk` on a written release under the release schema.
fn risk_of(
    out: &std::path::Path,
    schema: &Schema,
    config: RiskConfig,
) -> crate::disclosure::RiskReport {
    crate::disclosure::RiskJob::new(TableSource::file(out), config)
        .schema(schema.clone())
        .run()
        .unwrap()
        .report
}

#[test]
fn microaggregation_replaces_a_class_by_its_aggregate() {
    let rows = [
        (20, "F"),
        (22, "F"),
        (24, "F"),
        (40, "M"),
        (42, "M"),
        (47, "M"),
    ];
    // The default risk threshold (0.2) would need classes of 5: k alone decides here.
    let config = RiskConfig {
        k: 3,
        risk_threshold: 1.0,
        ..RiskConfig::new(["age", "sex"])
    };
    let dir = tempfile::tempdir().unwrap();
    for (function, expected) in [
        (microaggregate::Aggregate::Mean, ["22.0", "43.0"]),
        (microaggregate::Aggregate::Median, ["22", "42"]),
        (microaggregate::Aggregate::Mode, ["20", "40"]),
        (
            microaggregate::Aggregate::Interval,
            ["[20, 24]", "[40, 47]"],
        ),
    ] {
        let (source, schema) = small(&rows);
        let out = dir.path().join(format!("{}.csv", function.name()));
        let outcome = AnonymiseJob::new(source, config.clone())
            .schema(schema)
            .suppression_limit(0.0)
            .microaggregate("age", function)
            .output(&out)
            .run()
            .unwrap();
        // Classes are formed by sex alone, at its finest level.
        assert_eq!(outcome.record.quasi_identifiers.len(), 1);
        assert_eq!(outcome.record.quasi_identifiers[0].level_name, "value");
        assert!(!outcome.before.passed && outcome.after.passed);
        let text = std::fs::read_to_string(&out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let want = |v: &str, s: &str| {
            if v.contains(',') {
                format!("\"{v}\",{s}")
            } else {
                format!("{v},{s}")
            }
        };
        assert_eq!(lines[1], want(expected[0], "F"), "{function:?}: {text}");
        assert_eq!(lines[6], want(expected[1], "M"), "{function:?}: {text}");
        let m = &outcome.record.microaggregation[0];
        assert_eq!(
            (m.column.as_str(), m.function, m.classes, m.values),
            ("age", function, 2, 6)
        );
        if function == microaggregate::Aggregate::Mean {
            // SSE = 8 + 26 = 34; the mean of all six is 32.5, SST = 12.5^2 + 10.5^2 +
            // 8.5^2 + 7.5^2 + 9.5^2 + 14.5^2 = 695.5.
            assert!((m.loss - 34.0 / 695.5).abs() < 1e-12, "{}", m.loss);
        }
        // `pets risk` on the release, with the microaggregated column a quasi-identifier,
        // passes under the release schema.
        let report = risk_of(&out, &outcome.release_schema, config.clone());
        assert!(report.passed, "{function:?}: {:?}", report.summary);
        assert_eq!(report.k_anonymity.k, 3);
    }
}

#[test]
fn microaggregation_refuses_bad_columns() {
    let rows = [(20, "F"), (22, "F")];
    let run = |job: AnonymiseJob| job.run().unwrap_err();
    let (source, schema) = small(&rows);
    let e = run(AnonymiseJob::new(source, RiskConfig::new(["age", "sex"]))
        .schema(schema)
        .microaggregate("sex", microaggregate::Aggregate::Mean));
    assert_eq!(crate::error::Classify::column(&e), Some("sex"));
    assert!(e.to_string().contains("numeric"), "{e}");
    let (source, schema) = small(&rows);
    let e = run(AnonymiseJob::new(source, RiskConfig::new(["sex"]))
        .schema(schema)
        .microaggregate("age", microaggregate::Aggregate::Median));
    assert!(e.to_string().contains("not a quasi-identifier"), "{e}");
    let (source, schema) = small(&rows);
    let e = run(AnonymiseJob::new(source, RiskConfig::new(["age", "sex"]))
        .schema(schema)
        .hierarchy_entries(&["age=5,10".into()])
        .unwrap()
        .microaggregate_entries(&["age=mean".into()])
        .unwrap());
    assert!(e.to_string().contains("both a hierarchy"), "{e}");
    let e = AnonymiseJob::new(TableSource::file("x.csv"), RiskConfig::default())
        .microaggregate_entries(&["age=average".into()])
        .unwrap_err();
    assert!(e.to_string().contains("mean, median"), "{e}");
}

/// 400 records in classes of 20, and four singletons that bands of 10 would release.
fn pairs_and_singletons() -> Vec<(u32, &'static str)> {
    let mut rows = Vec::new();
    for i in 0..400u32 {
        rows.push((20 + i % 10, if (i / 10) % 2 == 0 { "F" } else { "M" }));
    }
    rows.extend([(31, "M"), (35, "M"), (55, "F"), (57, "F")]);
    rows
}

#[test]
fn local_recoding_releases_what_the_global_optimum_suppressed() {
    let config = RiskConfig {
        k: 2,
        risk_threshold: 1.0,
        ..RiskConfig::new(["age", "sex"])
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("release.csv");
    let (source, schema) = small(&pairs_and_singletons());
    let outcome = AnonymiseJob::new(source, config.clone())
        .schema(schema)
        .suppression_limit(0.05)
        .local_recoding(3)
        .output(&out)
        .run()
        .unwrap();
    let r = &outcome.record;
    assert_eq!(r.iterations[0].levels, vec![0, 0]);
    assert_eq!(r.records_suppressed_global, 4);
    assert_eq!(r.records_suppressed, 0);
    assert_eq!(r.records_out, 404);
    assert_eq!(r.iterations.len(), 2, "{:?}", r.iterations);
    let it = &r.iterations[1];
    assert_eq!((it.records_in, it.records_released), (4, 4));
    assert_eq!(it.level_names, vec!["bands of 10", "value"]);
    assert!(outcome.after.passed);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.lines().any(|l| l == "21,F"), "{text}");
    assert_eq!(text.lines().filter(|l| *l == "30-39,M").count(), 2);
    assert_eq!(text.lines().filter(|l| *l == "50-59,F").count(), 2);
    let report = risk_of(&out, &outcome.release_schema, config.clone());
    assert!(report.passed, "{:?}", report.summary);
    assert_eq!(report.n_records, 404);
    // Without local recoding the four are suppressed.
    let (source, schema) = small(&pairs_and_singletons());
    let global = AnonymiseJob::new(source, config)
        .schema(schema)
        .suppression_limit(0.05)
        .run()
        .unwrap();
    assert_eq!(global.record.records_suppressed, 4);
    assert_eq!(global.record.iterations.len(), 1);
}

#[test]
fn local_recoding_never_releases_fewer_and_the_release_passes_pets_risk() {
    let dir = tempfile::tempdir().unwrap();
    for (seed, config) in [
        (
            11,
            RiskConfig {
                k: 5,
                l: Some(2),
                ..Default::default()
            },
        ),
        (
            12,
            RiskConfig {
                k: 4,
                t: Some(0.3),
                ..Default::default()
            },
        ),
        (
            13,
            RiskConfig {
                k: 3,
                beta: Some(1.5),
                ..Default::default()
            },
        ),
    ] {
        let out = dir.path().join(format!("local{seed}.csv"));
        let global = job(1500, seed, config.clone())
            .suppression_limit(0.1)
            .run()
            .unwrap();
        let local = job(1500, seed, config.clone())
            .suppression_limit(0.1)
            .local_recoding(4)
            .microaggregate_entries(&[])
            .unwrap()
            .output(&out)
            .run()
            .unwrap();
        let (g, l) = (&global.record, &local.record);
        assert_eq!(g.iterations[0], l.iterations[0]);
        assert!(l.records_out >= g.records_out, "{seed}: {l:?}");
        assert_eq!(l.records_suppressed_global, g.records_suppressed);
        let released: u64 = l.iterations.iter().map(|i| i.records_released).sum();
        assert_eq!(released, l.records_out, "{seed}: {:?}", l.iterations);
        assert!(local.after.passed);
        let report = risk_of(&out, &local.release_schema, config);
        assert!(report.passed, "{seed}: {:?}", report.summary);
        assert_eq!(report.n_records, l.records_out);
    }
}

#[test]
fn microaggregation_with_local_recoding_passes_pets_risk() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("release.parquet");
    let config = RiskConfig {
        k: 6,
        l: Some(2),
        ..Default::default()
    };
    let outcome = job(1200, 5, config.clone())
        .suppression_limit(0.1)
        .microaggregate("age", microaggregate::Aggregate::Median)
        .local_recoding(3)
        .output(&out)
        .run()
        .unwrap();
    let r = &outcome.record;
    assert_eq!(
        r.quasi_identifiers
            .iter()
            .map(|q| q.column.as_str())
            .collect::<Vec<_>>(),
        ["sex", "region"]
    );
    assert_eq!(r.microaggregation[0].column, "age");
    assert!(r.microaggregation[0].loss > 0.0);
    // The schema's roles make age a quasi-identifier for `pets risk` too.
    let report = risk_of(&out, &outcome.release_schema, config);
    assert!(report.passed, "{:?}", report.summary);
    assert_eq!(report.n_records, r.records_out);
    let html = render_html(&outcome);
    assert!(html.contains("Microaggregated columns") && html.contains("Local recoding"));
}
