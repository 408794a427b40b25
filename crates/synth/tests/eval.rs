//! The evaluation report on generated A&E data (issue 13's proof): the membership-inference
//! score is high on a copy of the training rows and near chance on an MST synthesis at
//! epsilon 1; utility, workload and report on the way.

use std::time::Instant;

use arrow_array::RecordBatch;
use pets::data::{Schema, TableSource};
use pets_datasets::ae::{AeConfig, AeGenerator, ae_schema_for};
use pets_synth::FitJob;
use pets_synth::eval::{EvalJob, EvalOptions, EvalReport, evaluate_tables};

const COLUMNS: [&str; 14] = [
    "age",
    "sex",
    "ethnic_category",
    "imd_decile",
    "provider_code",
    "department_type",
    "arrival_datetime",
    "arrival_mode",
    "attendance_category",
    "acuity",
    "diagnosis_group",
    "total_time_in_dept_min",
    "num_investigations",
    "admitted",
];

/// Rows of the generator with `seed`: two seeds are two samples of one population.
fn ae(rows: u64, seed: u64) -> (Vec<RecordBatch>, Schema) {
    let cfg = AeConfig::new(rows, seed);
    let schema = ae_schema_for(&cfg).select(&COLUMNS).unwrap();
    (AeGenerator::new(cfg).unwrap().collect(), schema)
}

fn options() -> EvalOptions {
    EvalOptions {
        target: Some("admitted".into()),
        ..EvalOptions::default()
    }
}

fn check_report(r: &EvalReport) {
    assert_eq!(r.columns.len(), COLUMNS.len());
    // arrival_datetime has two views.
    assert_eq!(r.views.len(), COLUMNS.len() + 1);
    assert_eq!(r.association.views.len(), r.views.len());
    assert_eq!(r.numeric.len(), 6, "{:?}", r.numeric);
    assert!(r.workload_default);
    let u = r.utility.as_ref().unwrap();
    assert_eq!(u.test_source, "holdout");
    assert!(u.real.auc > 0.7, "{u:?}");
    let json = serde_json::to_string(r).unwrap();
    let back: EvalReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back.privacy, r.privacy);
    let html = r.to_html();
    assert!(html.contains("<svg") && html.contains("Cramér"));
    assert!(!html.contains("<script") && !html.contains("src=") && !html.contains("href="));
}

#[test]
fn membership_inference_catches_a_copy_and_not_an_mst_synthesis() {
    let (train, schema) = ae(30_000, 21);
    let (holdout, _) = ae(10_000, 22);

    // A "synthesiser" that copies its training rows.
    let t = Instant::now();
    let copy = evaluate_tables(&train, &train, Some(&holdout), &schema, &options()).unwrap();
    eprintln!("copy evaluated in {:?}", t.elapsed());
    check_report(&copy);
    let p = &copy.privacy;
    assert_eq!(p.exact_matches, 30_000);
    assert!(p.baseline_exact_match_share < 0.05, "{p:?}");
    let mia = p.mia_auc.unwrap();
    assert!(mia > 0.9, "{p:?}");
    assert_eq!(p.dcr_synth_p5, 0);
    assert!(copy.marginals.mean_1way < 1e-12 && copy.workload_mean_tvd < 1e-12);
    assert!(copy.association.mean_abs_difference < 1e-12);
    assert!(
        copy.numeric
            .iter()
            .all(|n| n.ks == 0.0 && n.wasserstein == 0.0)
    );

    // MST at epsilon 1 on the training rows.
    let source = TableSource::batches("train", train[0].schema(), train.clone());
    let fitted = FitJob::new(source, 1.0, 1e-9)
        .schema(schema.clone())
        .run()
        .unwrap();
    let synth = fitted.model.sample_batches(30_000, 5).unwrap();
    let mst = evaluate_tables(&train, &synth, Some(&holdout), &schema, &options()).unwrap();
    check_report(&mst);
    let p = &mst.privacy;
    let mia = p.mia_auc.unwrap();
    assert!((mia - 0.5).abs() < 0.05, "{p:?}");
    assert!(p.exact_match_share < 0.05, "{p:?}");
    assert!(p.dcr_synth_mean > 0.8 * p.dcr_baseline_mean, "{p:?}");
    // Useful still: better than shuffling, and a model trained on it predicts admission.
    eprintln!("mst: {:#?}", mst.summary());
    assert!(mst.marginals.ratio() > 1.2, "{:?}", mst.summary());
    let u = mst.utility.as_ref().unwrap();
    assert!(u.synthetic.auc > 0.6, "{u:?}");
    assert!(u.synthetic.auc <= u.real.auc + 0.02, "{u:?}");
    eprintln!("copy: {:#?}", copy.summary());
}

#[test]
fn the_job_reads_files_and_refuses_bad_options() {
    let dir = tempfile::tempdir().unwrap();
    let (real, schema) = ae(2_000, 31);
    let path = dir.path().join("real.parquet");
    pets::data::io::write_table(
        &path,
        pets::data::io::BatchStream::from_batches(real[0].schema(), real.clone()),
    )
    .unwrap();
    let job = |o: EvalOptions| {
        EvalJob::new(
            TableSource::file(&path),
            TableSource::file(&path),
            schema.clone(),
        )
        .options(o)
    };
    let r = job(EvalOptions::default()).run().unwrap();
    assert_eq!(r.rows.real, 2_000);
    assert!(r.utility.is_none() && r.privacy.mia_auc.is_none());
    assert!(
        r.notes.iter().any(|n| n.contains("no holdout")),
        "{:?}",
        r.notes
    );
    for bad in [
        EvalOptions {
            target: Some("age".into()),
            ..EvalOptions::default()
        },
        EvalOptions {
            target: Some("acuity".into()),
            ..EvalOptions::default()
        },
        EvalOptions {
            target: Some("admitted".into()),
            positive: Some("maybe".into()),
            ..EvalOptions::default()
        },
        EvalOptions {
            sample_rows: 0,
            ..EvalOptions::default()
        },
        EvalOptions {
            workload: vec![vec!["nope".into()]],
            ..EvalOptions::default()
        },
    ] {
        let e = job(bad.clone()).run().unwrap_err();
        assert_eq!(
            pets::Classify::kind(&e),
            pets::ErrorKind::InvalidParameter,
            "{bad:?}: {e}"
        );
    }
    // A named workload, with a datetime standing for its views.
    let r = job(EvalOptions {
        workload: vec![vec!["arrival_datetime".into(), "acuity".into()]],
        ..EvalOptions::default()
    })
    .run()
    .unwrap();
    assert_eq!(
        r.workload[0].views,
        [
            "arrival_datetime:weekday",
            "arrival_datetime:hour",
            "acuity"
        ]
    );
}
