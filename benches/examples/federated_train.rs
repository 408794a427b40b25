//! Federated DP logistic regression (`FederatedTrainJob`) against a non-private pooled
//! logistic regression and the majority class, on generated A&E rows (see
//! `benches/README.md`).
//!
//! ```sh
//! cargo build --release --locked --workspace --examples
//! target/release/examples/federated_train [rows] [rounds] [trusts] [epsilons] [learning rate]
//! # e.g. federated_train 1000000 50 5 1,4 0.2
//! ```
//!
//! The rows are generated (seed 7, batches of 10,000); every fifth batch is held out for
//! testing (20%), the rest split into trusts by provider (`split_by_column`, round-robin into
//! `trusts` groups). Each model is scored on the held-out rows: AUC and accuracy at 0.5.
//! The pooled baseline is the maximum-likelihood logistic regression with the same encoding
//! and L2 penalty, fitted by Newton's method (no privacy; for comparison only).

use std::time::Instant;

use arrow_array::RecordBatch;
use pets::data::{Schema, TableSource};
use pets::federated::split_by_column;
use pets::federated::train::{DEFAULT_L2, Encoding, FederatedTrainJob, TrustRows};
use pets_datasets::ae::{AeConfig, AeGenerator, ae_schema_for};
use rayon::prelude::*;

const FEATURES: &[&str] = &[
    "age_band",
    "sex",
    "ethnic_category",
    "imd_decile",
    "department_type",
    "arrival_mode",
    "attendance_category",
    "chief_complaint",
    "acuity",
    "time_to_initial_assessment_min",
    "total_time_in_dept_min",
    "diagnosis_group",
    "num_investigations",
    "num_treatments",
    "hrg",
];

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The pooled maximum-likelihood fit (L2 penalty `l2` on all but the intercept) by Newton's
/// method with a Cholesky solve: `iters` full steps.
fn newton(rows: &TrustRows, l2: f64, iters: usize) -> Vec<f64> {
    let d = rows.dim();
    let n = rows.n_rows() as f64;
    let mut w = vec![0.0; d];
    for _ in 0..iters {
        let (g, h) = (0..rows.n_rows())
            .into_par_iter()
            .fold(
                || (vec![0.0; d], vec![0.0; d * d], Vec::new()),
                |(mut g, mut h, mut x), r| {
                    rows.row(r, &mut x);
                    let z: f64 = x.iter().map(|&(j, v)| w[j] * v).sum();
                    let p = sigmoid(z);
                    let e = p - if rows.label(r) { 1.0 } else { 0.0 };
                    let s = p * (1.0 - p);
                    for &(a, va) in &x {
                        g[a] += e * va;
                        for &(b, vb) in &x {
                            h[a * d + b] += s * va * vb;
                        }
                    }
                    (g, h, x)
                },
            )
            .map(|(g, h, _)| (g, h))
            .reduce(
                || (vec![0.0; d], vec![0.0; d * d]),
                |(mut g, mut h), (g2, h2)| {
                    g.iter_mut().zip(g2).for_each(|(a, b)| *a += b);
                    h.iter_mut().zip(h2).for_each(|(a, b)| *a += b);
                    (g, h)
                },
            );
        let mut g: Vec<f64> = g.iter().map(|v| v / n).collect();
        let mut h: Vec<f64> = h.iter().map(|v| v / n).collect();
        for j in 0..d {
            let pen = if j == 0 { 1e-9 } else { l2 };
            g[j] += if j == 0 { 0.0 } else { l2 * w[j] };
            h[j * d + j] += pen;
        }
        let step = cholesky_solve(&mut h, &g, d);
        for j in 0..d {
            w[j] -= step[j];
        }
    }
    w
}

/// Solve `H x = g` for symmetric positive definite `H` (overwritten by its factor).
fn cholesky_solve(h: &mut [f64], g: &[f64], d: usize) -> Vec<f64> {
    for j in 0..d {
        let mut s = h[j * d + j];
        for k in 0..j {
            s -= h[j * d + k] * h[j * d + k];
        }
        let l = s.max(1e-12).sqrt();
        h[j * d + j] = l;
        for i in j + 1..d {
            let mut s = h[i * d + j];
            for k in 0..j {
                s -= h[i * d + k] * h[j * d + k];
            }
            h[i * d + j] = s / l;
        }
    }
    let mut y = vec![0.0; d];
    for i in 0..d {
        let mut s = g[i];
        for k in 0..i {
            s -= h[i * d + k] * y[k];
        }
        y[i] = s / h[i * d + i];
    }
    let mut x = vec![0.0; d];
    for i in (0..d).rev() {
        let mut s = y[i];
        for k in i + 1..d {
            s -= h[k * d + i] * x[k];
        }
        x[i] = s / h[i * d + i];
    }
    x
}

/// Area under the ROC curve (ties counted half).
fn auc(scores: &[f64], y: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut pos, mut i) = (0.0, 0usize, 0);
    while i < idx.len() {
        let mut j = i;
        while j < idx.len() && scores[idx[j]] == scores[idx[i]] {
            j += 1;
        }
        let mean_rank = (i + 1 + j) as f64 / 2.0;
        for &k in &idx[i..j] {
            if y[k] {
                rank_sum += mean_rank;
                pos += 1;
            }
        }
        i = j;
    }
    let neg = scores.len() - pos;
    (rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos as f64 * neg as f64)
}

fn accuracy(scores: &[f64], y: &[bool]) -> f64 {
    scores
        .iter()
        .zip(y)
        .filter(|&(&p, &t)| (p >= 0.5) == t)
        .count() as f64
        / y.len() as f64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows: u64 = args
        .get(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rounds: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(50);
    let trusts: usize = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(5);
    let epsilons: Vec<f64> = args
        .get(4)
        .map(|v| v.split(',').filter_map(|e| e.parse().ok()).collect())
        .unwrap_or_else(|| vec![1.0, 4.0]);
    let lr: f64 = args.get(5).and_then(|v| v.parse().ok()).unwrap_or(0.2);

    let cfg = AeConfig::new(rows, 7).with_batch_rows(10_000);
    let schema = Schema::from_json(&ae_schema_for(&cfg).to_json()).expect("schema");
    let batches: Vec<RecordBatch> = AeGenerator::new(cfg).expect("generator").collect();
    let arrow = batches[0].schema();
    type Numbered = Vec<(usize, RecordBatch)>;
    let (test, train): (Numbered, Numbered) = batches
        .into_iter()
        .enumerate()
        .partition(|(i, _)| i % 5 == 4);
    let test = TableSource::batches(
        "test",
        arrow.clone(),
        test.into_iter().map(|b| b.1).collect(),
    );
    let train = TableSource::batches("train", arrow, train.into_iter().map(|b| b.1).collect());
    let features: Vec<String> = FEATURES.iter().map(|s| s.to_string()).collect();
    let enc = Encoding::from_schema(&schema, "admitted", None, Some(&features)).expect("encoding");
    let test_rows = enc.read(&test, &schema, None, 1, 0).expect("test rows");
    let y: Vec<bool> = (0..test_rows.n_rows())
        .map(|r| test_rows.label(r))
        .collect();
    let share = y.iter().filter(|&&v| v).count() as f64 / y.len() as f64;
    println!(
        "rows {rows} (test {}), {} coordinates, {trusts} trusts by provider_code, {rounds} rounds, lr {lr}",
        y.len(),
        enc.dim()
    );
    println!(
        "majority class: AUC 0.5000, accuracy {:.4}",
        share.max(1.0 - share)
    );

    let started = Instant::now();
    let pooled_rows = enc.read(&train, &schema, None, 1, 0).expect("train rows");
    let w = newton(&pooled_rows, DEFAULT_L2, 12);
    let p = test_rows.predict(&w);
    println!(
        "pooled logistic regression (Newton, non-private): AUC {:.4}, accuracy {:.4}, {:.1} s",
        auc(&p, &y),
        accuracy(&p, &y),
        started.elapsed().as_secs_f64()
    );
    drop(pooled_rows);

    let trust_inputs =
        split_by_column(&train, Some(&schema), "provider_code", Some(trusts)).expect("split");
    for &eps in &epsilons {
        let started = Instant::now();
        let trained = FederatedTrainJob::new(schema.clone(), "admitted", eps, 1e-9)
            .features(Some(features.clone()))
            .rounds(rounds)
            .learning_rate(lr)
            .max_trusts_per_person(Some(1))
            .run(&trust_inputs)
            .expect("train");
        let wall = started.elapsed().as_secs_f64();
        let p = test_rows.predict(&trained.model.weights);
        let protocol: f64 = trained
            .rounds
            .iter()
            .map(|r| r.report.protocol_seconds)
            .sum();
        let local: f64 = trained.rounds.iter().map(|r| r.report.local_seconds).sum();
        let bytes: usize = trained
            .rounds
            .iter()
            .map(|r| r.report.bytes_from_trusts)
            .sum();
        println!(
            "federated DP-FedAvg eps {eps} (rho {:.5}): AUC {:.4}, accuracy {:.4}, {wall:.1} s \
             ({local:.1} s trusts' reading and gradients, {protocol:.1} s protocol, {} KB from \
             trusts); noisy loss {:.4} -> {:.4}",
            trained.rho,
            auc(&p, &y),
            accuracy(&p, &y),
            bytes / 1024,
            trained.rounds[0].noisy_loss,
            trained.rounds[rounds - 1].noisy_loss,
        );
    }
}
