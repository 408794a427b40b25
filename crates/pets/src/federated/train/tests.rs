//! Federated training: the clipped sum's stability (one person moves it by at most the
//! charged sensitivity, on adversarial rows and weights), the federated sum before noise is
//! the pooled clipped sum exactly, the noise has the planned spread, every round is charged
//! and ledgered, bad options fail cleanly before anything is charged.

use arrow_array::RecordBatch;
use pets_datasets::ae::{AeConfig, AeGenerator, ae_schema_for};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::dp::budget_store::BudgetStore;
use crate::error::{Classify, ErrorKind};
use crate::federated::job::run_secagg;

fn ae(rows: u64) -> (Schema, Vec<RecordBatch>) {
    let cfg = AeConfig::new(rows, 5).with_batch_rows(2_000);
    let schema = Schema::from_json(&ae_schema_for(&cfg).to_json()).unwrap();
    let batches: Vec<_> = AeGenerator::new(cfg).unwrap().collect();
    (schema, batches)
}

/// Trusts holding disjoint slices of the batches.
fn trusts(batches: &[RecordBatch], n: usize) -> Vec<TrustInput> {
    let schema = batches[0].schema();
    (0..n)
        .map(|i| {
            let mine: Vec<RecordBatch> = batches.iter().skip(i).step_by(n).cloned().collect();
            TrustInput::new(
                format!("trust_{i}"),
                TableSource::batches(format!("trust_{i}"), schema.clone(), mine),
            )
        })
        .collect()
}

const FEATURES: &[&str] = &[
    "age_band",
    "sex",
    "arrival_mode",
    "acuity",
    "diagnosis_group",
    "num_investigations",
    "imd_decile",
];

fn features() -> Vec<String> {
    FEATURES.iter().map(|s| s.to_string()).collect()
}

fn encoding(schema: &Schema) -> Encoding {
    Encoding::from_schema(schema, "admitted", None, Some(&features())).unwrap()
}

/// Random rows over one-hot widths `widths` and `scaled` scaled features (codes may be
/// null), labels at random.
fn random_rows(rng: &mut ChaCha8Rng, n: usize, widths: &[usize], scaled: usize) -> TrustRows {
    let mut offsets = Vec::new();
    let mut at = 1;
    for &w in widths {
        offsets.push(at);
        at += w;
    }
    for _ in 0..scaled {
        offsets.push(at);
        at += 1;
    }
    TrustRows {
        codes: widths
            .iter()
            .map(|&w| {
                (0..n)
                    .map(|_| {
                        let c = rng.random_range(0..=w as u32);
                        if c == w as u32 { NONE } else { c }
                    })
                    .collect()
            })
            .collect(),
        scaled: (0..scaled)
            .map(|_| {
                (0..n)
                    .map(|_| {
                        // Extremes and interior values alike.
                        match rng.random_range(0..3) {
                            0 => 0.0,
                            1 => 1.0,
                            _ => rng.random::<f64>(),
                        }
                    })
                    .collect()
            })
            .collect(),
        y: (0..n).map(|_| rng.random::<bool>()).collect(),
        offsets,
        one_hot: widths
            .iter()
            .map(|_| true)
            .chain((0..scaled).map(|_| false))
            .collect(),
        dim: at,
        unit: PrivacyUnit::Row,
        warnings: Vec::new(),
    }
}

/// `a` followed by `b`'s rows (the same layout).
fn concat(a: &TrustRows, b: &TrustRows) -> TrustRows {
    let mut out = a.clone();
    for (x, y) in out.codes.iter_mut().zip(&b.codes) {
        x.extend(y);
    }
    for (x, y) in out.scaled.iter_mut().zip(&b.scaled) {
        x.extend(y);
    }
    out.y.extend(&b.y);
    out
}

fn l2_squared_diff(a: &[i64], b: &[i64]) -> i128 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (i128::from(x) - i128::from(y)).pow(2))
        .sum()
}

#[test]
fn one_person_moves_the_clipped_sum_by_at_most_the_charged_sensitivity() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let widths = [3, 7, 2];
    let unit = unit_l2_squared();
    assert_eq!(unit, (1u64 << 32) as f64 + 2.0 * (1u64 << 28) as f64);
    let mut worst: f64 = 0.0;
    for trial in 0..300 {
        let base = random_rows(&mut rng, 50, &widths, 2);
        // One person's m rows, all alike (the tight case) or different.
        let m = 1 + trial % 4;
        let one = random_rows(&mut rng, 1, &widths, 2);
        let person = if trial % 2 == 0 {
            (1..m).fold(one.clone(), |acc, _| concat(&acc, &one))
        } else {
            random_rows(&mut rng, m, &widths, 2)
        };
        let neighbour = concat(&base, &person);
        // Adversarial weights: tiny, ordinary and saturating the logistic.
        let scale = [1e-3, 1.0, 50.0, 1e6][trial % 4];
        let w: Vec<f64> = (0..base.dim)
            .map(|_| scale * (rng.random::<f64>() * 2.0 - 1.0))
            .collect();
        for clip in [0.05, 0.7, 1.0, ((1 + widths.len() + 2) as f64).sqrt(), 40.0] {
            let d = l2_squared_diff(
                &base.clipped_sums(&w, clip),
                &neighbour.clipped_sums(&w, clip),
            );
            let bound = (m * m) as f64 * unit;
            assert!(
                (d as f64) <= bound,
                "trial {trial}: ||Delta||^2 = {d} > (m = {m})^2 * {unit}"
            );
            worst = worst.max(d as f64 / bound);
        }
    }
    // The bound is nearly reached (a saturated row clipped to C, m alike rows).
    assert!(worst > 0.9, "the worst case reached {worst} of the bound");
}

#[test]
fn every_row_has_a_gradient_of_norm_at_most_u_on_the_grid() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for _ in 0..2_000 {
        let row = random_rows(&mut rng, 1, &[5, 1, 9], 3);
        let w: Vec<f64> = (0..row.dim)
            .map(|_| 30.0 * (rng.random::<f64>() - 0.5))
            .collect();
        let clip = rng.random_range(0.01..5.0);
        let s = row.clipped_sums(&w, clip);
        let g: i128 = s[..row.dim].iter().map(|&v| i128::from(v).pow(2)).sum();
        assert!(g <= i128::from(GRID_UNITS).pow(2));
        assert_eq!(s[row.dim], COUNT_UNITS);
        assert!((0..=LOSS_UNITS).contains(&s[row.dim + 1]));
    }
}

#[test]
fn before_noise_the_federated_sum_is_the_pooled_clipped_sum_exactly() {
    let (schema, batches) = ae(12_000);
    let enc = encoding(&schema);
    let ts = trusts(&batches, 4);
    let pooled_source = TableSource::batches("pooled", batches[0].schema(), batches.clone());
    for (person, m) in [(None, 1), (Some("nhs_number"), 10_000)] {
        let pooled = enc.read(&pooled_source, &schema, person, m, 0).unwrap();
        let rows: Vec<TrustRows> = ts
            .iter()
            .map(|t| enc.read(&t.source, &schema, person, m, 0).unwrap())
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for w in [
            vec![0.0; enc.dim()],
            (0..enc.dim())
                .map(|_| rng.random::<f64>() * 4.0 - 2.0)
                .collect(),
        ] {
            for clip in [0.5, enc.max_norm()] {
                let expected = pooled.clipped_sums(&w, clip);
                let locals: Vec<LocalAggregate> = rows
                    .iter()
                    .map(|r| LocalAggregate {
                        layout: Vec::new(),
                        values: r.clipped_sums(&w, clip),
                        unit: r.unit,
                        warnings: Vec::new(),
                    })
                    .collect();
                let mut plain = vec![0i64; expected.len()];
                for l in &locals {
                    for (a, b) in plain.iter_mut().zip(&l.values) {
                        *a += b;
                    }
                }
                assert_eq!(plain, expected);
                // Through secure aggregation's masking, without noise: the same integers.
                let (sum, report) = run_secagg(&ts, &locals, None, 3).unwrap();
                assert_eq!(sum, expected);
                assert_eq!(report.counted.len(), 4);
            }
        }
    }
}

#[test]
fn the_round_noise_has_the_planned_spread() {
    let (schema, batches) = ae(6_000);
    let enc = encoding(&schema);
    let ts = trusts(&batches, 3);
    let rows: Vec<TrustRows> = ts
        .iter()
        .map(|t| enc.read(&t.source, &schema, None, 1, 0).unwrap())
        .collect();
    let w = vec![0.0; enc.dim()];
    let spec = FederatedTrainJob::vector_spec(&enc, "noise".into()).unwrap();
    let locals: Vec<LocalAggregate> = rows
        .iter()
        .map(|r| LocalAggregate {
            layout: spec.layout.clone(),
            values: r.clipped_sums(&w, 1.0),
            unit: r.unit,
            warnings: Vec::new(),
        })
        .collect();
    let exact: Vec<i64> = (0..spec.cells())
        .map(|j| locals.iter().map(|l| l.values[j]).sum())
        .collect();
    let rho = 0.5;
    let rounds = 40;
    let mut session = Session::zcdp(rho).unwrap();
    let (mut sq, mut n, mut planned) = (0.0, 0usize, 0.0);
    for _ in 0..rounds {
        let release = FederatedJob::for_vector(spec.clone())
            .share(Cost::rho(rho / rounds as f64 * (1.0 - 1e-9)))
            .max_trusts_per_person(1)
            .run_vectors(&mut session, &ts, &locals)
            .unwrap();
        planned = release.noise_variance();
        for (s, e) in release.sums.iter().zip(&exact) {
            sq += ((s - e) as f64).powi(2);
            n += 1;
        }
        // The planned noise is calibrated to the declared sensitivity.
        assert_eq!(release.noise.l2_squared, unit_l2_squared());
    }
    let ratio = sq / n as f64 / planned;
    // n ~ 2,600 draws: the sample variance is within 15% of the truth with overwhelming
    // probability; a discrete Gaussian's variance is just under its scale squared.
    assert!((0.85..1.15).contains(&ratio), "variance ratio {ratio}");
    assert_eq!(session.ledger().entries.len(), rounds);
}

#[test]
fn rho_for_is_the_largest_rho_within_epsilon() {
    for (eps, delta) in [(1.0, 1e-9), (4.0, 1e-6), (0.1, 1e-5)] {
        let rho = rho_for(eps, delta).unwrap();
        let (e, _) = Cost::rho(rho).to_approx_dp(delta).unwrap();
        assert!(e <= eps);
        let (e, _) = Cost::rho(rho * (1.0 + 1e-6)).to_approx_dp(delta).unwrap();
        assert!(e > eps);
    }
    assert!(rho_for(0.0, 1e-9).is_err());
    assert!(rho_for(1.0, 0.0).is_err());
}

fn auc(scores: &[f64], y: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut pos) = (0.0, 0usize);
    for (rank, &i) in idx.iter().enumerate() {
        if y[i] {
            rank_sum += (rank + 1) as f64;
            pos += 1;
        }
    }
    let neg = scores.len() - pos;
    (rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos as f64 * neg as f64)
}

#[test]
fn training_charges_every_round_and_learns() {
    let (schema, batches) = ae(40_000);
    let ts = trusts(&batches, 4);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ae.budget");
    BudgetStore::init(&file, Cost::epsilon(10.0).with_delta(1e-6), "ae", None).unwrap();
    let rounds = 12;
    let trained = FederatedTrainJob::new(schema.clone(), "admitted", 4.0, 1e-6)
        .features(Some(features()))
        .rounds(rounds)
        .max_trusts_per_person(Some(1))
        .budget(Some(file.clone()))
        .run(&ts)
        .unwrap();
    assert_eq!(trained.rounds.len(), rounds);
    assert_eq!(trained.ledger.entries.len(), rounds);
    let spent: f64 = trained.rounds.iter().map(|r| r.rho).sum();
    assert!(spent <= trained.rho, "{spent} > {}", trained.rho);
    assert!(spent > 0.99 * trained.rho);
    assert!(trained.budget_receipt.is_some());
    let status = BudgetStore::inspect(&file).unwrap();
    assert_eq!(status.entries.len(), 1, "the file is charged once");
    assert_eq!(trained.model.weights.len(), encoding(&schema).dim());
    assert_eq!(trained.model.names.len(), trained.model.weights.len());
    // The noisy loss falls.
    let first = trained.rounds[0].noisy_loss;
    let last = trained.rounds[rounds - 1].noisy_loss;
    assert!(last < first, "loss {first} -> {last}");
    // It ranks admissions (the generator makes acuity and age matter).
    let pooled = TableSource::batches("pooled", batches[0].schema(), batches.clone());
    let p = trained.model.predict(&pooled, &schema).unwrap();
    let rows = encoding(&schema)
        .read(&pooled, &schema, None, 1, 0)
        .unwrap();
    let y: Vec<bool> = (0..rows.n_rows()).map(|r| rows.label(r)).collect();
    let a = auc(&p, &y);
    assert!(a > 0.7, "AUC {a}");
    // The model file's JSON round-trips.
    let json = serde_json::to_string(&trained).unwrap();
    let back: TrainOutcome = serde_json::from_str(&json).unwrap();
    assert_eq!(back.model, trained.model);
}

#[test]
fn bad_options_fail_before_anything_is_charged() {
    let (schema, batches) = ae(6_000);
    let ts = trusts(&batches, 3);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ae.budget");
    BudgetStore::init(&file, Cost::epsilon(0.5).with_delta(1e-6), "ae", None).unwrap();
    let job = || FederatedTrainJob::new(schema.clone(), "admitted", 1.0, 1e-6);
    let kind = |r: Result<TrainOutcome>| r.unwrap_err().kind();
    assert_eq!(kind(job().rounds(0).run(&ts)), ErrorKind::InvalidParameter);
    assert_eq!(
        kind(job().clip(Some(-1.0)).run(&ts)),
        ErrorKind::InvalidParameter
    );
    assert_eq!(
        kind(job().protocol(Protocol::Prio3).run(&ts)),
        ErrorKind::InvalidParameter
    );
    let e = FederatedTrainJob::new(schema.clone(), "age", 1.0, 1e-6)
        .run(&ts)
        .unwrap_err();
    assert!(e.to_string().contains("categorical"), "{e}");
    let e = job()
        .features(Some(vec!["nhs_number".into()]))
        .run(&ts)
        .unwrap_err();
    assert!(e.to_string().contains("direct identifier"), "{e}");
    let e = job()
        .features(Some(vec!["arrival_datetime".into()]))
        .run(&ts)
        .unwrap_err();
    assert!(e.to_string().contains("datetime"), "{e}");
    let e = job()
        .features(Some(vec!["no_such".into()]))
        .run(&ts)
        .unwrap_err();
    assert!(e.to_string().contains("not in the schema"), "{e}");
    // One trust alone is no federation.
    assert_eq!(kind(job().run(&ts[..1])), ErrorKind::InvalidParameter);
    // Over the file's budget: refused, nothing charged, nothing released.
    let e = job().budget(Some(file.clone())).run(&ts).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Budget, "{e}");
    assert!(BudgetStore::inspect(&file).unwrap().entries.is_empty());
}

#[test]
fn the_default_encoding_comes_from_the_schema_alone() {
    let (schema, _) = ae(100);
    let enc = Encoding::from_schema(&schema, "admitted", None, None).unwrap();
    assert_eq!(enc.positive, "true");
    let cols: Vec<&str> = enc.features.iter().map(FeatureSpec::column).collect();
    assert!(!cols.contains(&"admitted"));
    assert!(!cols.contains(&"nhs_number"));
    // Wide categoricals (postcode district, LSOA, provider, chief complaint) are left out.
    assert!(!cols.contains(&"lsoa"));
    assert!(!cols.contains(&"chief_complaint"));
    assert!(cols.contains(&"age_band"));
    assert!(cols.contains(&"total_time_in_dept_min"));
    assert_eq!(enc.names().len(), enc.dim());
}
