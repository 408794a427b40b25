//! MST end to end on the generated A&E data: budget, utility against the independent
//! baseline, model files and seeded sampling.

use std::time::Instant;

use pets::data::{EncodeOptions, EncodedTable, encode_batches};
use pets_datasets::ae::{AeConfig, AeGenerator, ae_schema_for};
use pets_synth::eval::{independent_mean_tvd, mean_tvd};
use pets_synth::{MstOptions, SynthModel, cdp_delta, cdp_rho, fit_mst};

/// The 12-column A&E table of the benchmark (about 2.5e12 joint cells).
const COLUMNS: [&str; 12] = [
    "age_band",
    "sex",
    "ethnic_category",
    "postcode_district",
    "imd_decile",
    "provider_code",
    "department_type",
    "arrival_mode",
    "attendance_category",
    "acuity",
    "diagnosis_group",
    "admitted",
];

fn ae(rows: u64, seed: u64) -> EncodedTable {
    let cfg = AeConfig::new(rows, seed);
    let schema = ae_schema_for(&cfg).select(&COLUMNS).unwrap();
    let batches: Vec<_> = AeGenerator::new(cfg).unwrap().collect();
    encode_batches(&schema, &batches, EncodeOptions::default()).unwrap()
}

#[test]
fn rho_conversion_matches_the_target() {
    let rho = cdp_rho(1.0, 1e-9).unwrap();
    assert!(rho > 0.0 && rho < 0.05, "{rho}");
    assert!(cdp_delta(rho, 1.0) <= 1e-9);
    assert!(cdp_delta(rho * 1.001, 1.0) > 1e-9);
    // OpenDP's own, conservatively rounded conversion of rho certifies it: (epsilon, 1e-9)
    // with epsilon at most 1, exactly, for every target tried.
    let (eps, _) = pets::dp::Cost::rho(rho).to_approx_dp(1e-9).unwrap();
    assert!(eps <= 1.0 && eps > 0.99, "{eps}");
    for (e, d) in [
        (0.1, 1e-6),
        (0.5, 1e-9),
        (2.0, 1e-12),
        (8.0, 1e-5),
        (1e-3, 1e-3),
    ] {
        let rho = cdp_rho(e, d).unwrap();
        let (eps, _) = pets::dp::Cost::rho(rho).to_approx_dp(d).unwrap();
        assert!(
            eps <= e && eps > 0.98 * e,
            "epsilon {e}, delta {d}: rho {rho} gives {eps}"
        );
    }
    assert!(cdp_rho(0.0, 1e-9).is_err());
    assert!(cdp_rho(1.0, 0.0).is_err());
}

#[test]
fn mst_on_ae_beats_independent_and_spends_exactly_the_budget() {
    let real = ae(50_000, 11);
    let t = Instant::now();
    let model = fit_mst(&real, &COLUMNS, &MstOptions::new(1.0, 1e-9)).unwrap();
    let fit = t.elapsed();
    // Budget: the ledger's total equals the target rho (never above).
    let spent = model.ledger.spent.main();
    assert!(spent <= model.rho, "{spent} > {}", model.rho);
    assert!(spent >= model.rho * (1.0 - 1e-9), "{spent} < {}", model.rho);
    assert_eq!(model.selected.len(), COLUMNS.len() - 1);
    // 12 one-way + 11 selections + 11 two-way releases.
    assert_eq!(model.ledger.entries.len(), 12 + 11 + 11);
    // The total is noisy, not the row count, but close.
    assert!((model.total - 50_000.0).abs() < 500.0, "{}", model.total);

    let t = Instant::now();
    let synth = model.sample_table(50_000, 3).unwrap();
    let sample = t.elapsed();
    let tvd2 = mean_tvd(&real, &synth, &COLUMNS, 2).unwrap();
    let tvd1 = mean_tvd(&real, &synth, &COLUMNS, 1).unwrap();
    let indep = independent_mean_tvd(&real, &COLUMNS).unwrap();
    eprintln!(
        "MST 50k eps 1: fit {fit:?} ({} iters), sample {sample:?}; 1-way TVD {tvd1:.4}, \
         2-way TVD {tvd2:.4}, independent {indep:.4}",
        model.estimation.iterations
    );
    assert!(tvd1 < 0.05, "{tvd1}");
    // The independent baseline here uses the exact (non-private) 1-way marginals. Over all
    // pairs MST catches up with it from about 100k rows (0.089 vs 0.089 at 100k, 0.035 vs
    // 0.075 at 1M); at 50k postcode district (2,800 values, ~18 rows each) is mostly merged
    // by DP compression, so the test asserts away from it, where MST is clearly better.
    assert!(tvd2 < 1.5 * indep, "{tvd2} vs independent {indep}");
    let rest: Vec<&str> = COLUMNS
        .iter()
        .copied()
        .filter(|c| *c != "postcode_district")
        .collect();
    let tvd2_rest = mean_tvd(&real, &synth, &rest, 2).unwrap();
    let indep_rest = independent_mean_tvd(&real, &rest).unwrap();
    eprintln!("without postcode district: 2-way TVD {tvd2_rest:.4}, independent {indep_rest:.4}");
    assert!(tvd2_rest < 0.8 * indep_rest, "{tvd2_rest} vs {indep_rest}");
}

/// MST's sparse pairs (default): a pair whose dense release would be mostly noise is
/// released by the Gaussian threshold mechanism; the fit stays within (epsilon, delta), the
/// ledger shows the delta each thresholded pair spent, the model file keeps the threshold,
/// and without sparse pairs every pair is dense at a slightly larger rho.
#[test]
fn sparse_pairs_are_thresholded_within_epsilon_and_delta() {
    let real = ae(20_000, 6);
    let cols = [
        "postcode_district",
        "provider_code",
        "sex",
        "acuity",
        "admitted",
    ];
    let opts = MstOptions::new(1.0, 1e-9);
    assert!(opts.sparse_pairs);
    let model = fit_mst(&real, &cols, &opts).unwrap();
    let thresholded: Vec<_> = model
        .measurements
        .iter()
        .filter(|m| m.measurement.threshold.is_some())
        .collect();
    assert!(!thresholded.is_empty(), "no pair was thresholded");
    for m in &thresholded {
        assert!(
            m.columns.contains(&"postcode_district".to_string()),
            "{:?}",
            m.columns
        );
        let t = m.measurement.threshold.unwrap();
        // Released values are at least T, the rest 0.
        assert!(m.measurement.values.iter().all(|&v| v == 0.0 || v >= t));
    }
    let charged: Vec<_> = model
        .ledger
        .entries
        .iter()
        .filter(|e| e.mechanism.name == "gaussian_threshold")
        .collect();
    assert_eq!(charged.len(), thresholded.len());
    assert!(charged.iter().all(|e| e.charged.delta() > 0.0));
    // Within (epsilon, delta): rho at the conversion's delta, plus the pairs' delta.
    let spent = model.ledger.spent;
    assert!(spent.main() <= model.rho && spent.main() >= model.rho * (1.0 - 1e-9));
    let pairs_delta = (1e-9 * pets_synth::mst::SPARSE_DELTA_SHARE).next_down();
    assert!(
        spent.delta() > 0.0 && spent.delta() <= pairs_delta,
        "{spent}"
    );
    let (eps, delta) = spent
        .to_approx_dp((1e-9 - pairs_delta).next_down())
        .unwrap();
    assert!(eps <= 1.0 && delta <= 1e-9, "({eps}, {delta})");
    // The model file keeps the thresholds; it samples.
    let back = SynthModel::from_json(&serde_json::to_string(&model).unwrap()).unwrap();
    assert_eq!(back, model);
    assert_eq!(back.sample_table(1_000, 1).unwrap().n_rows(), 1_000);
    // Off: every pair dense, the whole delta converts rho.
    let dense = fit_mst(
        &real,
        &cols,
        &MstOptions {
            sparse_pairs: false,
            ..opts
        },
    )
    .unwrap();
    assert!(
        dense
            .measurements
            .iter()
            .all(|m| m.measurement.threshold.is_none())
    );
    assert_eq!(dense.ledger.spent.delta(), 0.0);
    assert!(dense.rho > model.rho && dense.rho < 1.02 * model.rho);
}

#[test]
fn models_round_trip_and_sampling_is_seeded() {
    let real = ae(5_000, 5);
    let cols = ["age_band", "sex", "postcode_district", "acuity", "admitted"];
    let model = fit_mst(&real, &cols, &MstOptions::new(1.0, 1e-9)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    model.save(&path).unwrap();
    let back = SynthModel::load(&path).unwrap();
    assert_eq!(back, model);
    let a = back.sample_table(300_000, 9).unwrap();
    let b = model.sample_table(300_000, 9).unwrap();
    let c = model.sample_table(300_000, 10).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    // Streaming to Parquet writes every row and reads back with the schema's types.
    let out = dir.path().join("synth.parquet");
    assert_eq!(model.write_sample(&out, 200_000, 1).unwrap(), 200_000);
    let again = pets::data::encode_file(&out, &model.schema, EncodeOptions::default()).unwrap();
    assert_eq!(again.n_rows(), 200_000);
    // A file of another version is refused with a clear message.
    let text =
        std::fs::read_to_string(&path)
            .unwrap()
            .replacen("\"version\":1", "\"version\":99", 1);
    let e = SynthModel::from_json(&text).unwrap_err().to_string();
    assert!(e.contains("version 99"), "{e}");
}

#[test]
fn one_column_and_bad_input() {
    let real = ae(2_000, 1);
    let m = fit_mst(&real, &["sex"], &MstOptions::new(1.0, 1e-9)).unwrap();
    assert!(m.ledger.spent.main() <= m.rho);
    assert_eq!(m.sample_table(10, 1).unwrap().n_rows(), 10);
    let e = fit_mst(&real, &["nope"], &MstOptions::new(1.0, 1e-9)).unwrap_err();
    assert!(e.to_string().contains("nope"), "{e}");
    assert!(fit_mst(&real, &["sex"], &MstOptions::new(-1.0, 1e-9)).is_err());
}

#[test]
fn person_level_fit_scales_the_noise_and_ledgers_the_unit() {
    use pets::dp::bounding::{Bounded, RowKeys};
    use pets::dp::ledger::PrivacyUnit;
    use pets_synth::fit_mst_bounded;
    let real = ae(20_000, 4);
    let cols = ["age_band", "sex", "acuity", "admitted"];
    // Synthetic people with 1-4 rows each.
    let ids: Vec<u32> = (0..real.n_rows() as u32).map(|r| (r + r % 4) / 4).collect();
    let n_keys = *ids.iter().max().unwrap() as usize + 1;
    let keys = RowKeys::from_ids("person", ids, n_keys).unwrap();
    let bounded = Bounded::by_person(&keys, 2, 7).unwrap();
    let kept = bounded.n_selected() as f64;
    assert!(kept < real.n_rows() as f64);
    let opts = MstOptions::new(1.0, 1e-9);
    let person = fit_mst_bounded(&real, &cols, &opts, &bounded).unwrap();
    let row = fit_mst(&real, &cols, &opts).unwrap();
    // Same budget, spent exactly; twice the noise for two rows a person. (The 1-ways: their
    // shares come from the declared sizes; a 2-way's share from its compressed size, which
    // the two fits' different noise may set differently.)
    let spent = person.ledger.spent.main();
    assert!(spent <= person.rho && spent >= person.rho * (1.0 - 1e-9));
    for (p, r) in person
        .measurements
        .iter()
        .zip(&row.measurements)
        .filter(|(p, _)| p.columns.len() == 1)
    {
        let ratio = p.measurement.sigma / r.measurement.sigma;
        assert!((ratio - 2.0).abs() < 1e-6, "{ratio}");
    }
    for e in &person.ledger.entries {
        assert_eq!(e.contribution.unit, PrivacyUnit::Person);
        assert_eq!(e.contribution.max_rows_per_person, 2);
        assert_eq!(e.contribution.id_column.as_deref(), Some("person"));
    }
    // The total estimates the kept rows, not all rows.
    assert!(
        (person.total - kept).abs() < 0.05 * kept,
        "{} vs {kept}",
        person.total
    );
    // A bounding made for another table is refused.
    let other = Bounded::row_level(10);
    assert!(fit_mst_bounded(&real, &cols, &opts, &other).is_err());
}

/// The default fit on every column of the generated table (issue 13): the hour of day
/// survives, the output is typed like the input, and the evaluator's mean 2-way TVD beats
/// shuffling the columns (loose bound at this small size; 2x is measured at 100k and 1M
/// in `benches/README.md`).
#[test]
fn default_fit_on_the_whole_table_keeps_the_hour_and_the_types() {
    use pets::data::TableSource;
    let cfg = AeConfig::new(30_000, 11);
    let schema = ae_schema_for(&cfg);
    let batches: Vec<_> = AeGenerator::new(cfg).unwrap().collect();
    let arrow = batches[0].schema();
    let fitted = pets_synth::FitJob::new(
        TableSource::batches("ae", arrow.clone(), batches.clone()),
        1.0,
        1e-9,
    )
    .schema(schema.clone())
    .run()
    .unwrap();
    let model = fitted.model;
    assert!(
        model
            .schema
            .columns
            .iter()
            .any(|c| c.name == "arrival_datetime.hour")
    );
    // LSOA is identifier-like: measured, never in a pair.
    assert!(model.selected.iter().flatten().all(|c| c != "lsoa"));
    let synth = model.sample_batches(30_000, 7).unwrap();
    let out = synth[0].schema();
    for f in out.fields() {
        let input = arrow.field_with_name(f.name()).unwrap();
        assert_eq!(f.data_type(), input.data_type(), "{}", f.name());
    }
    let e = pets_synth::eval::evaluate(&batches, &synth, &schema).unwrap();
    let hour = e
        .views
        .iter()
        .position(|v| v == "arrival_datetime:hour")
        .unwrap();
    assert!(e.one_way[hour] < 0.08, "hour 1-way TVD {}", e.one_way[hour]);
    assert!(
        e.ratio() > 1.2,
        "{} vs shuffled {}",
        e.mean_2way,
        e.shuffled_2way
    );
    // The model file holds the output plan and still loads.
    let back = SynthModel::from_json(&serde_json::to_string(&model).unwrap()).unwrap();
    assert_eq!(back.output, model.output);
}
